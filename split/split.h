/* The split stage: assigns unassigned items to train, val and held-out sets (names starting
 * with "test"), keeping whole groups (near-duplicate clusters always, and devices or capture
 * bursts when asked) in one split, stratified by label, stable (an assigned item never moves)
 * and reproducible (the same index and seed give the same assignment whatever --jobs is).
 * It verifies that nothing leaks into a held-out set, lists and exports splits. Everything
 * works on the binary index (formats/index.h), so a million items need no JSON parsing. */
#ifndef ES_SPLIT_H
#define ES_SPLIT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/error.h"
#include "core/near_sig.h"
#include "core/store.h"
#include "formats/index.h"
#include "formats/manifest.h"

#define ES_SPLIT_MAX 16      /* splits in one --ratios */
#define ES_SPLIT_NAME_MAX 32 /* bytes of a split name, NUL included */

typedef struct es_split_ratios {
  char name[ES_SPLIT_MAX][ES_SPLIT_NAME_MAX];
  double share[ES_SPLIT_MAX]; /* normalised to sum 1 */
  size_t n;
} es_split_ratios;

/* "80:10:10" (train, val, test; "80:20" is train, val) or "train=80,val=10,test=5,test2=5".
 * Names are train, val, or start with "test" (letters, digits, '-', '_'). ES_EUSAGE on junk. */
int es_split_ratios_parse(const char *s, es_split_ratios *r, es_error *err);

/* Is name a held-out set (starts with "test")? */
int es_split_is_held_out(const char *name);

typedef enum { ES_GROUP_CLUSTER, ES_GROUP_DEVICE, ES_GROUP_BURST } es_group_kind;

typedef struct es_group_by {
  es_group_kind kind;
  int64_t burst_seconds; /* ES_GROUP_BURST: captures of one device less than this apart */
} es_group_by;

/* "cluster", "device" or "burst:SECONDS" (1 to 10^9). */
int es_group_by_parse(const char *s, es_group_by *g, es_error *err);

/* The dataset's near-duplicate relation as split applies it: the phash within rel.radius and,
 * when sigs is not NULL (one per index item; side 0 for an item without one, related to
 * nothing), the signatures' correlation (core/near_sig.h). A version 1 dataset has no sigs. */
typedef struct es_split_near {
  es_near_rel rel;
  const es_near_sig *sigs;
} es_split_near;

/* The relation of the dataset st whose index is ix: *owned (caller frees) holds the signatures
 * near->sigs points to (signatures.bin; NULL for a version 1 dataset), *missing counts the items
 * of ix without one. */
int es_split_near_load(const es_store *st, const es_index *ix, es_split_near *near,
                       es_near_sig **owned, size_t *missing, es_error *err);

/* Are items a and b of the index related under near? */
int es_split_related(const es_split_near *near, const es_index *ix, size_t a, size_t b);

typedef struct es_split_opts {
  es_split_ratios ratios;
  uint64_t seed;
  es_group_by group_by;
  es_split_near near; /* the dataset's near-duplicate relation */
  int jobs;
  double max_ratio_error; /* a class whose shares miss by more is listed in "ratio_misses" */
} es_split_opts;

/* Assigns every item whose split is null, in ix (split, split_note, group are set for those
 * items only; strings are interned into ix). No item it puts in train or val is related to a
 * held-out item, and none it puts in a held-out set to a train or val item. Returns the run's summary as JSON (new
 * reference: counts, achieved per-class ratios, and "ratio_misses": the classes with items in
 * this run whose shares miss by more than max(max_ratio_error, 1/items of the class), with
 * their largest linked sets) or NULL with err set. The caller decides whether misses block. */
json_t *es_split_assign(es_index *ix, const es_split_opts *o, es_error *err);

/* Sets split (and split_note) of every item in split `name` to null; returns how many. */
size_t es_split_release(es_index *ix, const char *name);

/* Copies split, split_note and group from ix to m (same items, same order). Returns the number
 * of items whose fields changed, or a negative code. */
long es_split_apply(const es_index *ix, es_manifest *m, es_error *err);

/* Commits a run on a dataset locked exclusively, in one dataset transaction (formats/dataset.h):
 * es_split_apply(ix, m), the manifest (replaced; *ix becomes the committed manifest's index)
 * and index.bin, then the ledger record. After es_split_release() of n items of `name`: the
 * manifest and {"type":"split-release","split":NAME,"items":N}. After es_split_assign(): the
 * manifest when an item changed, and {"type":"split","summary":SUMMARY} in any case. */
int es_split_commit_release(es_store *st, es_index *ix, es_manifest *m, const char *name,
                            size_t n, es_error *err);
int es_split_commit_assign(es_store *st, es_index *ix, es_manifest *m, const json_t *summary,
                           es_error *err);

/* Leak check. Returns a JSON array (new reference) of problems, each an object with "kind":
 * "group-spans-splits" / "cluster-spans-splits" (key, and every member with its split),
 * "near-held-out" (a train or val item related to a held-out item under near), or
 * "augmented-outside-source" (an item with derived_from whose split differs from its
 * source's). Empty when clean. NULL with err on failure. */
json_t *es_split_verify(const es_index *ix, const es_split_near *near, int jobs, es_error *err);

/* edgeset-split --set-aside-leaks: every train or val item that es_split_verify()'s problems
 * link to a held-out item (a "near-held-out" item, the train and val members of a
 * "cluster-spans-splits" cluster with a held-out member) gets split null and a split_note
 * naming the held-out item; a held-out item never moves. *n counts them. Commit with
 * es_split_commit_set_aside(). */
int es_split_set_aside(es_index *ix, const json_t *problems, size_t *n, es_error *err);
int es_split_commit_set_aside(es_store *st, es_index *ix, es_manifest *m, size_t n,
                              es_error *err);

/* The object path of item i relative to the dataset root ("objects/ab/<id>.<ext>"). */
void es_split_object_path(const es_index *ix, size_t i, char out[64]);

typedef enum { ES_LAYOUT_FOLDERS, ES_LAYOUT_CSV } es_export_layout;

typedef struct es_export_opts {
  es_export_layout layout;
  int one_per_cluster; /* keep one item (the smallest id) per cluster and split */
} es_export_opts;

typedef struct es_export_summary {
  size_t files, linked, copied, skipped_unassigned, skipped_cluster;
} es_export_summary;

/* Exports the assigned items of the dataset into the directory dir (created when missing):
 * folders: dir/<split>/<label or _unlabelled>/<id>.<ext>, hard links where possible;
 * csv: dir/split.csv with path,label,split (RFC 4180 quoting). Nothing is written outside dir:
 * labels and split names that could escape are refused (ES_EUSAGE), symlinks are never
 * followed. */
int es_split_export(const es_store *st, const es_index *ix, const char *dir,
                    const es_export_opts *o, es_export_summary *sum, es_error *err);

#endif
