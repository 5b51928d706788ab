/* The label stage: sets item labels from folder names, a CSV or a JSONL file, fixes the class
 * vocabulary (labels.txt, whose order is the model's output index), renames and merges
 * classes, reports label noise (a near-duplicate cluster with several labels, an item whose
 * occurrences arrived under two class folders) and measures class balance with gates.
 * apply.c and balance.c work on memory; run.c runs the stage on a dataset and commits. */
#ifndef ES_LABEL_H
#define ES_LABEL_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include "core/error.h"
#include "core/store.h"
#include "formats/index.h"
#include "formats/labels.h" /* es_vocab, es_label_problems, es_label_invalid */
#include "formats/manifest.h"

typedef enum { ES_LABEL_FROM_NONE, ES_LABEL_FROM_DIR, ES_LABEL_FROM_CSV,
               ES_LABEL_FROM_JSONL } es_label_from_kind;

/* A JSONL line longer than this is refused without parsing it (docs/label.md); CSV records have
 * the limits of formats/csv.h. */
#define ES_LABEL_JSONL_MAX_LINE 65536

typedef struct es_label_from {
  es_label_from_kind kind;
  unsigned levels;     /* DIR: 1 = the file's parent folder */
  const char *file;    /* CSV, JSONL: the file's name, for messages */
  const char *buf;     /* CSV, JSONL: its bytes */
  size_t len;
} es_label_from;

/* Parses "dir:N", "csv:FILE" or "jsonl:FILE" (kind, levels and file; buf is left for the
 * caller to fill). ES_EUSAGE naming what is wrong. */
int es_label_from_parse(const char *spec, es_label_from *f, es_error *err);

typedef struct es_label_rename {
  const char *from, *to;
} es_label_rename;

typedef struct es_label_opts {
  es_label_from from;
  const es_vocab *vocab;  /* NULL: any valid name is accepted */
  const es_label_rename *renames;
  size_t n_renames;
} es_label_opts;

typedef struct es_label_result {
  size_t set;        /* items whose label the source gave */
  size_t changed;    /* items whose label is now different (rename included) */
  size_t unmatched;  /* DIR: items none of whose paths has a folder N levels up */
  json_t *conflicts; /* {"clusters":[...], "folders":[...]} (owned; decref) */
  es_vocab vocab_out; /* the vocabulary after renames (empty when none was given) */
} es_label_result;

void es_label_result_free(es_label_result *r);

/* Applies the options to m. When anything in the input is wrong (a malformed line, an unknown
 * path or id, an invalid or unknown label, a rename of a class nobody has) every problem is
 * added to *probs, m is left unchanged and ES_EUSAGE is returned. On success the result holds
 * the counts and the label-noise conflicts of the whole manifest. */
int es_label_apply(es_manifest *m, const es_label_opts *o, es_label_result *res,
                   es_label_problems *probs, es_error *err);

/* Finds label noise in m: clusters whose members carry different labels. Returns a JSON array
 * (new reference) of {"cluster", "labels": {name: count}, "items": [ids]}. */
json_t *es_label_cluster_conflicts(const es_manifest *m, es_error *err);

/* ---- on a dataset (run.c) ---- */

/* Reads the dataset's labels.txt into *vocab (*have = 1); no labels.txt leaves *have = 0. A
 * malformed file is ES_EUSAGE with every problem in *probs. */
int es_label_dataset_vocab(const es_store *st, es_vocab *vocab, int *have,
                           es_label_problems *probs, es_error *err);

typedef struct es_label_run_opts {
  es_label_opts apply;   /* source, vocabulary (NULL: none), renames */
  const char *from_spec; /* the source as given ("csv:FILE" ...), NULL: none; for the record */
  int labels_file;       /* the vocabulary came from --labels FILE (the record's labels_file) */
  int dry_run;
} es_label_run_opts;

/* One label run on a dataset locked exclusively (not locked for a dry run): loads the manifest
 * into *m and *ix, applies o->apply (es_label_apply(): ES_EUSAGE with *probs when the input is
 * wrong, nothing changed), and unless o->dry_run commits in one dataset transaction
 * (formats/dataset.h): labels.txt (when a vocabulary was given: res->vocab_out), the manifest,
 * index.bin and the ledger's label record. *summary gets the run's summary (what --json prints
 * under "label"; caller decrefs). Afterwards *ix is the index of the changed manifest (for the
 * balance), also after a dry run. */
int es_label_run(es_store *st, const es_label_run_opts *o, es_manifest *m, es_index *ix,
                 es_label_result *res, json_t **summary, es_label_problems *probs,
                 es_error *err);

/* ---- balance ---- */

typedef struct es_balance_opts {
  const es_vocab *vocab;   /* class order; NULL: classes sorted by name */
  int include_augmented;
  unsigned long long min_count; /* 0: no gate */
  double max_ratio;             /* 0: no gate */
} es_balance_opts;

/* Counts per class overall, per split, per device and per batch; imbalance ratio, normalized
 * entropy, classes under min_count, suggested class weights and the gates. Returns the JSON
 * summary (new reference; documented in docs/label.md) and sets *failed when a gate failed. */
json_t *es_balance_compute(const es_index *ix, const es_balance_opts *o, int *failed,
                           es_error *err);

/* Writes the balance summary as one self-contained HTML page (inline SVG, no script, every
 * string from data escaped). */
int es_balance_report(FILE *f, const json_t *balance, const char *dataset, const char *when,
                      es_error *err);

#endif
