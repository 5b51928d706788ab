/* The dataset transaction (formats/dataset.h): what a run writes, collected, then committed in
 * the order of docs/dataset-format.md ("Crash safety"). It lives in formats, not core, because
 * the commit serializes the manifest and rebuilds index.bin (formats/manifest.c, index.c). */
#include "formats/dataset.h"

#include "core/profile.h"

#include "core/hash.h"
#include "formats/signatures.h"

#include <stdlib.h>
#include <string.h>

#define LEDGER "ledger.jsonl"
#define QUARANTINE "quarantine.jsonl"
#define MANIFEST "manifest.jsonl"
#define LABELS "labels.txt"

struct es_dataset {
  const es_store *st;
  int jobs;
  es_object_batch *objects;
  json_t *quarantine;     /* array of records, appended first */
  const es_manifest *m;   /* NULL: the manifest stays as it is */
  es_index *ix;           /* replaced by the committed manifest's index */
  const es_sigs *sigs;    /* signatures.bin rewritten for the new manifest, or NULL */
  char *labels;           /* new labels.txt, or NULL */
  size_t labels_len;
  char *batch;            /* a new batch's name, or NULL */
  size_t batch_seq;
  json_t *batch_extra;    /* more fields of its record, or NULL */
  int quarantine_late;    /* quarantine records after the commit point (merge) */
  json_t *records;        /* array of {"type", "fields"}, appended after the commit point */
};

es_dataset *es_dataset_begin(const es_store *st, int jobs, es_error *err)
{
  es_dataset *tx = calloc(1, sizeof *tx);
  if (!tx || !(tx->objects = es_object_batch_new(err)) || !(tx->quarantine = json_array()) ||
      !(tx->records = json_array())) {
    es_error_set(err, ES_ENOMEM, "out of memory");
    es_dataset_abort(tx);
    return NULL;
  }
  tx->st = st;
  tx->jobs = jobs;
  return tx;
}

int es_dataset_stage_object(es_dataset *tx, const char *id, const char *ext, const uint8_t *buf,
                            size_t len, const char *src_path, const char *mode, size_t *slot,
                            char **relpath, es_error *err)
{
  return es_store_stage_object(tx->st, tx->objects, id, ext, buf, len, src_path, mode, slot,
                               relpath, err);
}

void es_dataset_drop_object(es_dataset *tx, size_t slot)
{
  es_object_batch_drop(tx->st, tx->objects, slot);
}

int es_dataset_quarantine(es_dataset *tx, json_t *record, es_error *err)
{
  if (!record || json_array_append_new(tx->quarantine, record))
    return es_error_set(err, ES_ENOMEM, "out of memory");
  return ES_OK;
}

void es_dataset_set_manifest(es_dataset *tx, const es_manifest *m, es_index *ix)
{
  tx->m = m;
  tx->ix = ix;
}

void es_dataset_set_signatures(es_dataset *tx, const es_sigs *sigs)
{
  tx->sigs = sigs;
}

int es_dataset_set_labels(es_dataset *tx, const char *bytes, size_t len, es_error *err)
{
  char *copy = malloc(len ? len : 1);
  if (!copy)
    return es_error_set(err, ES_ENOMEM, "out of memory");
  memcpy(copy, bytes, len);
  free(tx->labels);
  tx->labels = copy;
  tx->labels_len = len;
  return ES_OK;
}

int es_dataset_new_batch(es_dataset *tx, const char *batch, size_t seq, es_error *err)
{
  return es_dataset_new_batch_ex(tx, batch, seq, NULL, err);
}

int es_dataset_new_batch_ex(es_dataset *tx, const char *batch, size_t seq, json_t *extra,
                            es_error *err)
{
  char *copy = strdup(batch);
  if (!copy) {
    json_decref(extra);
    return es_error_set(err, ES_ENOMEM, "out of memory");
  }
  free(tx->batch);
  json_decref(tx->batch_extra);
  tx->batch = copy;
  tx->batch_seq = seq;
  tx->batch_extra = extra;
  return ES_OK;
}

void es_dataset_quarantine_after_commit(es_dataset *tx)
{
  tx->quarantine_late = 1;
}

int es_dataset_record(es_dataset *tx, const char *type, json_t *fields, es_error *err)
{
  json_t *r = fields ? json_pack("{s:s, s:o}", "type", type, "fields", fields) : NULL;
  if (!r || json_array_append_new(tx->records, r))
    return es_error_set(err, ES_ENOMEM, "out of memory");
  return ES_OK;
}

/* {"type":TYPE,"time":now, fields...} appended to the ledger. */
static int append_record(const es_store *st, const char *type, const json_t *fields,
                         es_error *err)
{
  char now[32];
  es_store_now(now);
  json_t *rec = json_pack("{s:s, s:s}", "type", type, "time", now);
  if (!rec || (fields && json_object_update(rec, (json_t *)fields))) {
    json_decref(rec);
    return es_error_set(err, ES_ENOMEM, "out of memory");
  }
  int rc = es_store_append(st, LEDGER, rec, err);
  json_decref(rec);
  return rc;
}

/* The batch record of a new batch: appended once everything else the commit needs is durable,
 * just before the manifest's rename, so that a run that fails leaves none while every batch a
 * manifest names has its record before that manifest appears. */
static int append_batch_record(void *ctx, es_error *err)
{
  es_dataset *tx = ctx;
  json_t *f = json_pack("{s:s, s:I}", "batch", tx->batch, "seq", (json_int_t)tx->batch_seq);
  if (!f || (tx->batch_extra && json_object_update(f, tx->batch_extra))) {
    json_decref(f);
    return es_error_set(err, ES_ENOMEM, "out of memory");
  }
  int rc = append_record(tx->st, "batch", f, err);
  json_decref(f);
  return rc;
}

/* Step 2: objects published while the manifest is serialized (on a second thread with jobs >
 * 1: the publish is mostly kernel time and waits). */
static int publish_and_serialize(es_dataset *tx, char **bytes, size_t *len, es_error *err)
{
  int rc = ES_OK;
  es_error serr = {0};
  const int serialize = tx->m != NULL;
  *bytes = NULL;
#pragma omp parallel sections num_threads(tx->jobs > 1 ? 2 : 1)
  {
#pragma omp section
    rc = es_store_publish_objects(tx->st, tx->objects, err);
#pragma omp section
    if (serialize)
      *bytes = es_manifest_serialize(tx->m, len, &serr);
  }
  if (!rc && serialize && !*bytes) {
    if (err)
      *err = serr;
    rc = serr.code ? serr.code : ES_ENOMEM;
  }
  if (rc) {
    free(*bytes);
    *bytes = NULL;
  }
  return rc;
}

static int append_quarantine(es_dataset *tx, es_error *err)
{
  size_t i;
  json_t *rec;
  json_array_foreach(tx->quarantine, i, rec)
  {
    int rc = es_store_append(tx->st, QUARANTINE, rec, err);
    if (rc)
      return rc;
  }
  json_array_clear(tx->quarantine);
  return ES_OK;
}

int es_dataset_commit(es_dataset *tx, es_error *err)
{
  const es_store *st = tx->st;
  if (st->lockfd < 0 || st->lock_shared)
    return es_error_set(err, ES_EINTERNAL, "committing to '%s' without holding the dataset lock",
                        st->root);
  int rc = ES_OK;
  /* 1. quarantine records */
  size_t i;
  json_t *rec;
  if (!tx->quarantine_late && (rc = append_quarantine(tx, err)))
    return rc;
  /* 2. objects, the manifest's bytes */
  char *bytes = NULL;
  size_t len = 0;
  if ((rc = publish_and_serialize(tx, &bytes, &len, err)))
    return rc;
  es_profile("commit: objects published, manifest serialized");
  if (tx->m) {
    /* 3. labels.txt and signatures.bin durable in their temporaries */
    es_staged_file *labels = NULL, *sigs = NULL;
    if (tx->labels && (rc = es_store_stage_file(st, LABELS, tx->labels, tx->labels_len, &labels,
                                                err))) {
      free(bytes);
      return rc;
    }
    if (tx->sigs) {
      size_t slen = 0;
      uint8_t *sbytes = es_sigs_serialize(tx->sigs, tx->m, &slen, NULL, err);
      rc = sbytes ? es_store_stage_file(st, ES_SIGS_FILE, sbytes, slen, &sigs, err)
                  : (err ? err->code : ES_ENOMEM);
      free(sbytes);
      if (rc) {
        es_store_discard_file(st, labels);
        free(bytes);
        return rc;
      }
    }
    es_profile("commit: signatures.bin written");
    /* 4.-6. the manifest durable, the batch record, the rename (the commit point) */
    char hash[33];
    es_hash_hex(bytes, len, hash);
    rc = es_store_replace_hook(st, MANIFEST, bytes, len, tx->batch ? append_batch_record : NULL,
                               tx, err);
    free(bytes);
    if (rc) {
      es_store_discard_file(st, labels);
      es_store_discard_file(st, sigs);
      return rc;
    }
    /* 7. labels.txt, signatures.bin; 8. index.bin */
    if (labels && (rc = es_store_publish_file(st, labels, err))) {
      es_store_discard_file(st, sigs);
      return rc;
    }
    if (sigs && (rc = es_store_publish_file(st, sigs, err)))
      return rc;
    es_profile("commit: manifest.jsonl written and renamed");
    es_index_save_committed(st, tx->m, len, hash, tx->ix);
    es_profile("commit: index.bin written");
  }
  if (tx->quarantine_late && (rc = append_quarantine(tx, err)))
    return rc;
  /* 9. the run's ledger records */
  json_array_foreach(tx->records, i, rec)
  {
    if ((rc = append_record(st, json_string_value(json_object_get(rec, "type")),
                            json_object_get(rec, "fields"), err)))
      return rc;
  }
  json_array_clear(tx->records);
  return ES_OK;
}

void es_dataset_abort(es_dataset *tx)
{
  if (!tx)
    return;
  es_object_batch_free(tx->st, tx->objects);
  json_decref(tx->quarantine);
  json_decref(tx->records);
  free(tx->labels);
  free(tx->batch);
  json_decref(tx->batch_extra);
  free(tx);
}
