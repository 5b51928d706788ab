/* The split stage's commits (split.h): what a run changed in the index copied to the manifest,
 * then the manifest, index.bin and the ledger record in one dataset transaction
 * (formats/dataset.h). */
#include "formats/dataset.h"
#include "split/split.h"

/* es_split_apply(), the manifest when `with_manifest` (or when an item changed, with
 * with_manifest < 0), and the record TYPE with fields (reference taken). */
static int commit(es_store *st, es_index *ix, es_manifest *m, int with_manifest,
                  const char *type, json_t *fields, es_error *err)
{
  long ch = es_split_apply(ix, m, err);
  if (ch < 0) {
    json_decref(fields);
    return (int)ch;
  }
  es_dataset *tx = es_dataset_begin(st, 1, err);
  if (!tx) {
    json_decref(fields);
    return ES_ENOMEM;
  }
  if (with_manifest > 0 || (with_manifest < 0 && ch > 0))
    es_dataset_set_manifest(tx, m, ix);
  int rc = es_dataset_record(tx, type, fields, err);
  if (!rc)
    rc = es_dataset_commit(tx, err);
  es_dataset_abort(tx);
  return rc;
}

int es_split_commit_release(es_store *st, es_index *ix, es_manifest *m, const char *name,
                            size_t n, es_error *err)
{
  return commit(st, ix, m, 1, "split-release",
                json_pack("{s:s, s:I}", "split", name, "items", (json_int_t)n), err);
}

int es_split_commit_assign(es_store *st, es_index *ix, es_manifest *m, const json_t *summary,
                           es_error *err)
{
  return commit(st, ix, m, -1, "split", json_pack("{s:O}", "summary", summary), err);
}

int es_split_commit_set_aside(es_store *st, es_index *ix, es_manifest *m, size_t n,
                              es_error *err)
{
  return commit(st, ix, m, -1, "split-set-aside", json_pack("{s:I}", "items", (json_int_t)n),
                err);
}
