/* tombstones.jsonl (tombstones.h). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/tombstones.h"

static int is_hash(const char *s)
{
  if (!s || strlen(s) != 32)
    return 0;
  for (int i = 0; i < 32; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
      return 0;
  return 1;
}

static int add_all(const json_t *arr, es_strmap *m, const char *what, es_error *err)
{
  if (!arr)
    return ES_OK;
  if (!json_is_array(arr))
    return es_error_set(err, ES_EFORMAT, "'tombstones.jsonl': \"%s\" is not a list", what);
  for (size_t i = 0; i < json_array_size(arr); i++) {
    const char *h = json_string_value(json_array_get(arr, i));
    if (!is_hash(h))
      return es_error_set(err, ES_EFORMAT, "'tombstones.jsonl': \"%s\" entry %zu is not a hash",
                          what, i);
    int rc = es_strmap_put(m, h, 1, err);
    if (rc)
      return rc;
  }
  return ES_OK;
}

static int add_phash(const json_t *arr, es_tombstones *t, es_error *err)
{
  if (!arr)
    return ES_OK;
  if (!json_is_array(arr))
    return es_error_set(err, ES_EFORMAT, "'tombstones.jsonl': \"phash\" is not a list");
  size_t n = json_array_size(arr);
  uint64_t *p = realloc(t->phash, (t->n_phash + n + 1) * sizeof *p);
  if (!p)
    return es_error_set(err, ES_ENOMEM, "out of memory");
  t->phash = p;
  for (size_t i = 0; i < n; i++) {
    const char *h = json_string_value(json_array_get(arr, i));
    char *end = NULL;
    if (!h || strlen(h) != 16 || strspn(h, "0123456789abcdef") != 16)
      return es_error_set(err, ES_EFORMAT, "'tombstones.jsonl': \"phash\" entry %zu is not 16 "
                          "hex digits", i);
    t->phash[t->n_phash++] = strtoull(h, &end, 16);
  }
  return ES_OK;
}

static int on_line(const json_t *rec, void *ctx, es_error *err)
{
  es_tombstones *t = ctx;
  int rc = add_all(json_object_get(rec, "ids"), &t->ids, "ids", err);
  if (!rc)
    rc = add_all(json_object_get(rec, "pixels"), &t->pixels, "pixels", err);
  return rc ? rc : add_phash(json_object_get(rec, "phash"), t, err);
}

unsigned es_tombstones_nearest(const es_tombstones *t, uint64_t h)
{
  unsigned best = 65;
  for (size_t i = 0; i < t->n_phash; i++) {
    unsigned d = (unsigned)__builtin_popcountll(t->phash[i] ^ h);
    best = d < best ? d : best;
  }
  return best;
}

int es_tombstones_load(const es_store *st, es_tombstones *t, es_error *err)
{
  memset(t, 0, sizeof *t);
  int rc = es_store_read_jsonl(st, "tombstones.jsonl", on_line, t, err);
  if (rc)
    es_tombstones_free(t);
  return rc;
}

void es_tombstones_free(es_tombstones *t)
{
  es_strmap_free(&t->ids);
  es_strmap_free(&t->pixels);
  free(t->phash);
  t->phash = NULL;
  t->n_phash = 0;
}

int es_tombstones_append(const es_store *st, const char *const *ids, size_t n_ids,
                         const char *const *pixels, size_t n_pixels, const uint64_t *phash,
                         size_t n_phash, es_error *err)
{
  char now[32];
  es_store_now(now);
  json_t *rec = json_pack("{s:s, s:[], s:[], s:[]}", "time", now, "ids", "pixels", "phash");
  if (!rec)
    return es_error_set(err, ES_ENOMEM, "out of memory");
  json_t *a = json_object_get(rec, "ids"), *p = json_object_get(rec, "pixels");
  for (size_t i = 0; i < n_ids; i++)
    json_array_append_new(a, json_string(ids[i]));
  for (size_t i = 0; i < n_pixels; i++)
    json_array_append_new(p, json_string(pixels[i]));
  json_t *ph = json_object_get(rec, "phash");
  for (size_t i = 0; i < n_phash; i++) {
    char hex[17];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)phash[i]);
    json_array_append_new(ph, json_string(hex));
  }
  int rc = es_store_append(st, "tombstones.jsonl", rec, err);
  json_decref(rec);
  return rc;
}
