/* The collect stage: ingest device captures into a dataset. Every input ends as a new item, an
 * occurrence of an existing item (same bytes, or the same decoded pixels in other bytes), or a
 * quarantine line with the reason. Work that depends on one file runs in parallel; everything
 * that decides what the dataset says runs afterwards in a canonical order (paths sorted
 * bytewise, new items by id), so the result does not depend on --jobs or the input order. */
#ifndef ES_COLLECT_H
#define ES_COLLECT_H

#include <jansson.h>
#include <regex.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/store.h"

/* Where an occurrence's device name comes from (--device-from). */
typedef struct es_device_rule {
  enum { ES_DEVICE_NONE, ES_DEVICE_DIR, ES_DEVICE_REGEX, ES_DEVICE_FIXED } kind;
  unsigned levels;  /* ES_DEVICE_DIR: 1 = the file's parent directory */
  char *text;       /* ES_DEVICE_FIXED: the name; ES_DEVICE_REGEX: the expression */
  regex_t re;       /* ES_DEVICE_REGEX, compiled */
} es_device_rule;

/* Parses "dir:N", "regex:RE" or "fixed:NAME" (ES_EUSAGE naming what is wrong). Free with
 * es_device_rule_free(). */
int es_device_rule_parse(const char *spec, es_device_rule *rule, es_error *err);
void es_device_rule_free(es_device_rule *rule);

/* The device for a path under the rule, malloc'd, or NULL when the rule gives none. */
char *es_device_from_path(const es_device_rule *rule, const char *path);

typedef struct es_collect_opts {
  const char *batch;          /* NULL: a name from the run's UTC time, "YYYYMMDDTHHMMSSZ" */
  const es_device_rule *device;
  const char *store_mode;     /* "copy" (default), "link" or "ref" */
  int jobs;                   /* worker threads, >= 1 */
  int dry_run;                /* decide everything, write nothing */
  int refuse_near_redacted;   /* quarantine near duplicates of removed content too */
  unsigned shard_k, shard_n;  /* shard_n > 0: only the inputs of shard shard_k of shard_n */
  /* Called after each input, from one thread at a time; NULL for none. */
  void (*progress_fn)(void *ctx, size_t done, size_t total);
  void *progress_ctx;
} es_collect_opts;

/* Quarantine reason codes, counted in the summary. */
enum { ES_Q_MISSING, ES_Q_UNREADABLE, ES_Q_EMPTY, ES_Q_TOO_LARGE, ES_Q_UNSUPPORTED, ES_Q_CORRUPT,
       ES_Q_CHANGED, ES_Q_SIDECAR, ES_Q_REDACTED, ES_Q_COUNT };
extern const char *const es_quarantine_codes[ES_Q_COUNT];

typedef struct es_collect_summary {
  char batch[128];
  unsigned shard_k, shard_n; /* --shard K/N; shard_n 0 without */
  size_t inputs;            /* distinct input paths (sidecars excluded) */
  size_t sidecars;          /* sidecar files beside inputs (not inputs themselves) */
  size_t sidecars_rejected; /* sidecars that could not be used: each has a quarantine line */
  size_t new_items;         /* new unique images */
  size_t exact_duplicates;  /* occurrences of bytes already in the dataset or earlier in the run */
  size_t pixel_duplicates;  /* other bytes whose decoded pixels equal an existing item's */
  size_t already_collected; /* (batch, path) already recorded by an earlier run: nothing to do */
  size_t near_duplicates;   /* new items that joined an existing cluster */
  size_t near_redacted;     /* new items within ES_REDACTED_NEAR bits of removed content */
  size_t quarantined;       /* inputs with a quarantine line */
  size_t quarantine_by_code[ES_Q_COUNT]; /* quarantine lines by code, sidecars included */
  size_t items_total, clusters_total;
  size_t signatures_computed; /* items of earlier runs whose signature came from their bytes */
  json_t *signatures_missing; /* [{"id", "reason"}]: items left without one; NULL when the
                                 dataset has no second stage. es_collect_summary_free() */
} es_collect_summary;

void es_collect_summary_free(es_collect_summary *s);

/* Ingests the given paths (files or directories, walked recursively; raw bytes, any but NUL)
 * into the open, locked store. ES_OK when every input was accounted for (quarantined inputs
 * included); a negative code on an I/O or internal failure, leaving the dataset in its last
 * consistent state. */
int es_collect_run(es_store *st, const es_collect_opts *o, char *const *paths, size_t n_paths,
                   es_collect_summary *sum, es_error *err);

/* The summary as a JSON object (the --json output and the ledger record); NULL on no memory. */
json_t *es_collect_summary_json(const es_collect_summary *s);

/* edgeset-collect --recluster: recomputes every item's signature from its bytes (its object;
 * with --store ref its first path) and every cluster under the dataset's relation, in one
 * commit (manifest, signatures.bin, ledger record "recluster"). A version 1 dataset is first
 * upgraded (edgeset.json: the current version with the default relation, radius `near` when
 * near_given). Items keep their split and group. The lock must be held. */
typedef struct es_recluster_summary {
  unsigned version_before, near_before, near; /* format version and radius, before and after */
  size_t items, clusters_before, clusters, moved; /* moved: items whose cluster changed */
  size_t signatures; /* computed */
  json_t *signatures_missing; /* [{"id", "reason"}] */
} es_recluster_summary;

int es_collect_recluster(es_store *st, unsigned near, int near_given, int jobs,
                         es_recluster_summary *sum, es_error *err);
json_t *es_recluster_summary_json(const es_recluster_summary *s);
void es_recluster_summary_free(es_recluster_summary *s);

#endif
