/* es_batch_state_load: see batch_state.h. */
#include "formats/batch_state.h"

#include <stdlib.h>
#include <string.h>

#include "formats/index.h"
#include "formats/path_escape.h"

typedef struct ctx {
  es_batch_state *b;
  const char *batch;
} ctx;

static int on_ledger(const json_t *r, void *p, es_error *err)
{
  ctx *c = p;
  const char *type = json_string_value(json_object_get(r, "type"));
  const char *batch = json_string_value(json_object_get(r, "batch"));
  json_t *seq = json_object_get(r, "seq");
  if (!type || strcmp(type, "batch") || !batch || !json_is_integer(seq))
    return ES_OK;
  size_t s = (size_t)json_integer_value(seq);
  int rc = ES_OK;
  if (!es_strmap_get(&c->b->batch_seq, batch, NULL))
    rc = es_strmap_put(&c->b->batch_seq, batch, s, err);
  if (s + 1 > c->b->next_seq)
    c->b->next_seq = s + 1;
  if (!rc && !strcmp(batch, c->batch) && !c->b->batch_record &&
      !(c->b->batch_record = json_deep_copy(r)))
    rc = es_error_set(err, ES_ENOMEM, "out of memory");
  return rc;
}

static int on_quarantine(const json_t *r, void *p, es_error *err)
{
  ctx *c = p;
  const char *batch = json_string_value(json_object_get(r, "batch"));
  const char *path = json_string_value(json_object_get(r, "path"));
  if (!batch || !path || strcmp(batch, c->batch))
    return ES_OK;
  char *raw = es_path_unescape(path, err);
  if (!raw)
    return err ? err->code : ES_EFORMAT;
  int rc = es_strmap_put(&c->b->done, raw, 0, err);
  free(raw);
  return rc;
}

int es_batch_state_load(const es_store *st, const char *batch, es_batch_state *b,
                        es_error *err)
{
  memset(b, 0, sizeof *b);
  ctx c = {b, batch};
  int rc = es_manifest_load(st, &b->m, err);
  for (size_t i = 0; i < b->m.n && !rc; i++) {
    const es_item *it = &b->m.items[i];
    rc = es_strmap_put(&b->ids, it->id, i, err);
    const char *px = json_string_value(json_object_get(it->extra, "pixels"));
    if (!rc && px && !es_strmap_get(&b->pixels, px, NULL))
      rc = es_strmap_put(&b->pixels, px, i, err);
    for (size_t k = 0; k < it->n_seen && !rc; k++)
      if (!strcmp(it->seen[k].batch, batch))
        rc = es_strmap_put(&b->done, it->seen[k].path, 0, err);
  }
  if (!rc)
    rc = es_store_read_jsonl(st, "ledger.jsonl", on_ledger, &c, err);
  if (!rc)
    rc = es_store_read_jsonl(st, "quarantine.jsonl", on_quarantine, &c, err);
  if (!rc)
    rc = es_tombstones_load(st, &b->tomb, err);
  if (!rc && !(b->batch_known = es_strmap_get(&b->batch_seq, batch, NULL)))
    rc = es_strmap_put(&b->batch_seq, batch, b->next_seq, err);
  return rc;
}

void es_batch_state_free(es_batch_state *b)
{
  es_manifest_free(&b->m);
  es_strmap_free(&b->ids);
  es_strmap_free(&b->pixels);
  es_strmap_free(&b->batch_seq);
  es_strmap_free(&b->done);
  json_decref(b->batch_record);
  es_tombstones_free(&b->tomb);
  memset(b, 0, sizeof *b);
}

json_t *es_quarantine_record(const char *raw_path, const char *batch, const char *code,
                             const char *reason, const char *id, es_error *err)
{
  char *esc = es_path_escape(raw_path, err);
  if (!esc)
    return NULL;
  json_t *q = json_pack("{s:s, s:s, s:s, s:s}", "path", esc, "batch", batch, "code", code,
                        "reason", reason ? reason : "");
  free(esc);
  if (q && id && id[0] && json_object_set_new(q, "id", json_string(id))) {
    json_decref(q);
    q = NULL;
  }
  if (!q)
    es_error_set(err, ES_ENOMEM, "out of memory");
  return q;
}
