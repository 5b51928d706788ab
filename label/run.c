/* es_label_run and es_label_dataset_vocab: the label stage on a dataset. The run loads the
 * manifest, applies the source, the vocabulary and the renames (apply.c), and commits labels.txt,
 * the manifest, index.bin and the ledger's label record in one dataset transaction
 * (formats/dataset.h), labels.txt inside the commit: renamed right after the manifest, so that a
 * run that fails before its commit point leaves labels.txt as it was. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/dataset.h"
#include "label/label.h"

int es_label_dataset_vocab(const es_store *st, es_vocab *vocab, int *have, es_label_problems *probs,
                           es_error *err)
{
  uint8_t *vb = NULL;
  size_t vl = 0;
  *have = 0;
  int rc = es_store_read(st, "labels.txt", 1, &vb, &vl, err);
  if (rc || !vb)
    return rc;
  char name[4096];
  snprintf(name, sizeof name, "%s/labels.txt", st->root);
  rc = es_vocab_parse(name, (const char *)vb, vl, vocab, probs, err);
  free(vb);
  *have = rc == ES_OK;
  return rc;
}

/* The summary of the change: what --json prints under "label". */
static json_t *summary_json(const es_label_run_opts *o, const es_label_result *res)
{
  json_t *renamed = json_array();
  for (size_t r = 0; r < o->apply.n_renames; r++)
    json_array_append_new(renamed, json_pack("{s:s, s:s}", "from", o->apply.renames[r].from,
                                             "to", o->apply.renames[r].to));
  return json_pack("{s:o, s:o, s:I, s:I, s:I, s:O, s:b}", "from",
                   o->from_spec ? json_string(o->from_spec) : json_null(), "renames", renamed,
                   "set", (json_int_t)res->set, "changed", (json_int_t)res->changed,
                   "unmatched", (json_int_t)res->unmatched, "conflicts", res->conflicts,
                   "dry_run", o->dry_run);
}

/* The ledger record's fields: the summary without dry_run, conflicts as counts. */
static json_t *record_fields(const json_t *summary, const es_label_result *res, int labels_file)
{
  json_t *rec = json_deep_copy(summary);
  if (!rec)
    return NULL;
  json_object_del(rec, "dry_run");
  json_object_set_new(
      rec, "conflicts",
      json_pack("{s:I, s:I}", "clusters",
                (json_int_t)json_array_size(json_object_get(res->conflicts, "clusters")),
                "folders", (json_int_t)json_array_size(json_object_get(res->conflicts, "folders"))));
  json_object_set_new(rec, "labels_file", json_boolean(labels_file));
  return rec;
}

static int commit(es_store *st, const es_label_run_opts *o, es_manifest *m, es_index *ix,
                  const es_label_result *res, const json_t *summary, es_error *err)
{
  es_dataset *tx = es_dataset_begin(st, 1, err);
  if (!tx)
    return ES_ENOMEM;
  int rc = ES_OK;
  if (o->apply.vocab) {
    size_t vl;
    char *vb = es_vocab_serialize(&res->vocab_out, &vl, err);
    rc = vb ? es_dataset_set_labels(tx, vb, vl, err) : ES_ENOMEM;
    free(vb);
  }
  es_dataset_set_manifest(tx, m, ix);
  if (!rc)
    rc = es_dataset_record(tx, "label", record_fields(summary, res, o->labels_file), err);
  if (!rc)
    rc = es_dataset_commit(tx, err);
  es_dataset_abort(tx);
  return rc;
}

int es_label_run(es_store *st, const es_label_run_opts *o, es_manifest *m, es_index *ix,
                 es_label_result *res, json_t **summary, es_label_problems *probs,
                 es_error *err)
{
  *summary = NULL;
  int rc = es_index_load(st, m, ix, NULL, err);
  if (rc || (rc = es_label_apply(m, &o->apply, res, probs, err)))
    return rc;
  if (!(*summary = summary_json(o, res)))
    return es_error_set(err, ES_ENOMEM, "out of memory");
  if (!o->dry_run)
    return commit(st, o, m, ix, res, *summary, err);
  /* A dry run: the index of the changed manifest, for the balance, written nowhere. */
  es_index_free(ix);
  return es_index_from_manifest(m, 0, "00000000000000000000000000000000", ix, err);
}
