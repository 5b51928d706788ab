/* edgeset-merge: folds part datasets (collect --shard K/N, one batch each) into one dataset in
 * one commit, deciding what one collect of all their inputs would have decided: the same
 * manifest bytes and the same objects, for any number of parts in any order (docs/merge.md). */
#ifndef ES_MERGE_H
#define ES_MERGE_H

#include <jansson.h>
#include <stddef.h>

#include "core/error.h"
#include "core/store.h"

typedef struct es_merge_opts {
  int ref;                  /* the parts were collected with --store ref: no objects */
  int refuse_near_redacted; /* as collect's option, against DIR's tombstones */
  int jobs;
} es_merge_opts;

typedef struct es_merge_summary {
  char batch[128];
  size_t parts, shards;     /* shards: N of K/N, 0 for parts not made with --shard */
  size_t inputs;            /* new_items + duplicates + already_merged + quarantined */
  size_t new_items;
  size_t duplicates;        /* occurrences of items DIR or another part already had */
  size_t already_merged;    /* occurrences and quarantined inputs DIR already records */
  size_t quarantined;       /* inputs with a quarantine record added (sidecars apart) */
  json_t *quarantine;       /* {code: records added}, sidecars included */
  size_t near_duplicates, near_redacted;
  size_t objects;           /* objects linked or copied into DIR */
  size_t items_total, clusters_total;
  size_t signatures_computed;
  int changed;              /* 0: DIR already had all of it; nothing was written */
  json_t *part_list;        /* [{"path", "shard", "fingerprint"}] */
} es_merge_summary;

/* The parts, opened read-only with a reader's lock, and validated (one batch, the same one in
 * every part; equal settings; shards complete). ES_EUSAGE naming the part and the reason. */
typedef struct es_merge_parts es_merge_parts;
int es_merge_parts_load(es_store *parts, size_t n, int jobs, es_merge_parts **out,
                        es_error *err);
void es_merge_parts_free(es_merge_parts *p);
/* The settings every part was made with (a new DIR is created with them). */
const es_settings *es_merge_parts_settings(const es_merge_parts *p);

/* Merges into the open, exclusively locked dataset dst. ES_EUSAGE (nothing changed) when dst
 * was made with other settings or already has the batch from elsewhere. */
int es_merge_run(es_store *dst, const es_merge_parts *p, const es_merge_opts *o,
                 es_merge_summary *sum, es_error *err);
json_t *es_merge_summary_json(const es_merge_summary *s);
void es_merge_summary_free(es_merge_summary *s);

#endif
