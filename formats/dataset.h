/* A dataset transaction: the one place the commit protocol of docs/dataset-format.md ("Crash
 * safety") is written down in code. A program that changes a dataset collects what it wants to
 * write in an es_dataset and commits it; es_dataset_commit() writes it in the documented order:
 *
 *   1. quarantine records (quarantine.jsonl), in the order given;
 *   2. staged objects published (made durable, renamed into place, the renames made durable),
 *      while the new manifest is serialized;
 *   3. labels.txt's and signatures.bin's new bytes written to temporaries and made durable;
 *   4. manifest.jsonl's new bytes written to a temporary and made durable;
 *   5. the ledger's batch record of a new batch appended;
 *   6. manifest.jsonl renamed into place: the commit point;
 *   7. labels.txt and signatures.bin renamed into place (signatures.bin holds what the objects
 *      do: a crash before its rename leaves the previous one, completed from the objects on
 *      the next run);
 *   8. index.bin rewritten (best effort);
 *   9. the run's ledger records appended.
 *
 * Every step is optional (a split run that assigns nothing writes only its ledger record), and
 * a run that fails or is killed before step 6 leaves the previous manifest, labels.txt and
 * ledger (but for a batch record, see the format page). A run that never commits (a dry run, an
 * error) calls es_dataset_abort(), which deletes the objects staged but not published. The
 * dataset must be locked exclusively (es_store_lock()) from es_dataset_begin() to the end. */
#ifndef ES_FORMATS_DATASET_H
#define ES_FORMATS_DATASET_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/store.h"
#include "formats/index.h"
#include "formats/manifest.h"

typedef struct es_dataset es_dataset;

/* Starts a transaction on st (NULL on ES_ENOMEM). jobs > 1 lets the commit serialize the
 * manifest on a second thread while it publishes the objects. */
es_dataset *es_dataset_begin(const es_store *st, int jobs, es_error *err);

/* Stages an object (es_store_stage_object(); safe to call from several threads). *slot is for
 * es_dataset_drop_object(); *relpath (when not NULL) gets the object's name (caller frees). */
int es_dataset_stage_object(es_dataset *tx, const char *id, const char *ext, const uint8_t *buf,
                            size_t len, const char *src_path, const char *mode, size_t *slot,
                            char **relpath, es_error *err);

/* Drops a staged object the run decided not to keep: it is deleted unpublished. */
void es_dataset_drop_object(es_dataset *tx, size_t slot);

/* Queues a quarantine.jsonl record (takes the reference, also on failure). */
int es_dataset_quarantine(es_dataset *tx, json_t *record, es_error *err);

/* The new manifest: m is serialized and written at commit (m must live until then). ix, when
 * not NULL, is replaced by the index of the committed manifest. Without a manifest the commit
 * leaves manifest.jsonl and index.bin as they are. */
void es_dataset_set_manifest(es_dataset *tx, const es_manifest *m, es_index *ix);

/* signatures.bin rewritten with the signatures in sigs of the new manifest's items (sigs must
 * live until the commit); written only together with a manifest. */
struct es_sigs;
void es_dataset_set_signatures(es_dataset *tx, const struct es_sigs *sigs);

/* The new labels.txt (bytes copied); written only together with a manifest. */
int es_dataset_set_labels(es_dataset *tx, const char *bytes, size_t len, es_error *err);

/* The batch record of a batch committed for the first time: {"type":"batch","time":T,
 * "batch":NAME,"seq":SEQ}, T taken when it is appended (just before the manifest's rename). */
int es_dataset_new_batch(es_dataset *tx, const char *batch, size_t seq, es_error *err);

/* The same with more fields for the record (a JSON object; takes the reference, also on
 * failure): edgeset-merge records the parts a batch was merged from. */
int es_dataset_new_batch_ex(es_dataset *tx, const char *batch, size_t seq, json_t *extra,
                            es_error *err);
/* The quarantine records are appended after the commit point (after step 8) instead of first:
 * a merge that fails or is killed before its commit leaves quarantine.jsonl as it was. */
void es_dataset_quarantine_after_commit(es_dataset *tx);
/* Queues a ledger record appended after the commit point: {"type":TYPE,"time":T, then the
 * fields of `fields` in their order}; T is taken when it is appended. Takes the reference of
 * fields (a JSON object), also on failure. */
int es_dataset_record(es_dataset *tx, const char *type, json_t *fields, es_error *err);

/* Writes everything in the order above. On failure the transaction is over too: call
 * es_dataset_abort() either way. */
int es_dataset_commit(es_dataset *tx, es_error *err);

/* Ends the transaction (NULL-safe): frees it, deleting staged objects that were not published
 * and dropping queued records that were not written. */
void es_dataset_abort(es_dataset *tx);

#endif
