/* What a dataset already says, as a program that adds a batch to it needs it (collect, merge):
 * the manifest with its items by id and by pixels hash, the batches' sequence numbers, the
 * paths the batch already recorded (in the manifest or in quarantine.jsonl: a re-run after a
 * crash only completes the work), the batch's own ledger record, and the tombstones. */
#ifndef ES_FORMATS_BATCH_STATE_H
#define ES_FORMATS_BATCH_STATE_H

#include <jansson.h>
#include <stddef.h>

#include "core/error.h"
#include "core/store.h"
#include "core/strmap.h"
#include "formats/manifest.h"
#include "formats/tombstones.h"

typedef struct es_batch_state {
  es_manifest m;
  es_strmap ids;       /* item id -> index in m */
  es_strmap pixels;    /* pixel hash -> index in m (the first item with it) */
  es_strmap batch_seq; /* batch name -> sequence number (the batch itself included, below) */
  size_t next_seq;     /* one more than the highest sequence number */
  int batch_known;     /* the ledger has the batch's record: it keeps its number */
  es_strmap done;      /* raw paths the batch recorded: occurrences and quarantine records */
  json_t *batch_record; /* the ledger's batch record of the batch, or NULL */
  es_tombstones tomb;
} es_batch_state;

/* Loads st for adding `batch`; a batch the ledger does not know gets the next sequence number
 * in batch_seq. Free with es_batch_state_free() (also after a failure). */
int es_batch_state_load(const es_store *st, const char *batch, es_batch_state *b,
                        es_error *err);
void es_batch_state_free(es_batch_state *b);

/* A quarantine.jsonl record {"path", "batch", "code", "reason"[, "id"]} for the raw input path
 * (escaped here): the one place its keys and their order are written, so that collect and
 * merge give the same bytes. id NULL or empty: none. NULL on no memory (err set). */
json_t *es_quarantine_record(const char *raw_path, const char *batch, const char *code,
                             const char *reason, const char *id, es_error *err);

#endif
