/* Manifest v1 (docs/dataset-format.md): one JSON object per unique image, one per line, sorted
 * by id. This module owns the in-memory item, its JSON form and the canonical
 * serialization (fixed key order, floats with ES_FLOAT_DIGITS significant digits) that makes
 * manifests byte-identical across machines. It does no path I/O: parse takes bytes, serialize
 * returns bytes. Fields it does not know are kept in `extra` and written back unchanged. */
#ifndef ES_FORMATS_MANIFEST_H
#define ES_FORMATS_MANIFEST_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/json.h" /* ES_FLOAT_DIGITS */

#define ES_ID_HEX 32 /* XXH3-128 as 32 lowercase hex digits */

typedef struct es_occurrence {
  char *path;   /* raw bytes as the file system gave them (any byte but NUL) */
  char *batch;
  char *device; /* may be NULL: JSON null */
  char *time;   /* ISO 8601, may be NULL */
} es_occurrence;

typedef struct es_stats {
  double mean, std, sharpness, saturation, clip_low, clip_high;
} es_stats;

typedef struct es_item {
  char id[ES_ID_HEX + 1];
  char format[16];
  uint32_t width, height, channels;
  uint64_t bytes;
  uint64_t phash;
  es_stats stats;
  es_occurrence *seen; /* kept by collect in canonical order (batch sequence, then bytewise
                          path), so `src`, written from seen[0].path, is the earliest one */
  size_t n_seen;
  char cluster[ES_ID_HEX + 1]; /* "" when not yet derived */
  char *label, *split, *split_note, *group; /* NULL = JSON null; es_held_out() */
  json_t *extra; /* object of other fields (e.g. "pixels", "derived_from", "aug"), or NULL */
} es_item;

typedef struct es_manifest {
  es_item *items;
  size_t n, cap;
} es_manifest;

/* Parses JSONL bytes into m (which must be zeroed or freshly freed). Any malformed line, a torn
 * last line (no final newline and not valid JSON) included, is ES_EFORMAT naming its line number
 * and why: no line is ever dropped. Empty lines are ignored, and so is a missing newline after a
 * complete last line. Items may arrive in any order; m is sorted by id on return. */
int es_manifest_parse(const uint8_t *buf, size_t len, es_manifest *m, es_error *err);

/* The canonical bytes of m (sorted by id, one line per item, '\n' after each). Caller frees the
 * returned buffer with free(). */
char *es_manifest_serialize(const es_manifest *m, size_t *len, es_error *err);

/* One item to and from its JSON object (caller owns the returned reference / fills *it, which
 * it then frees with es_item_free()). */
json_t *es_item_to_json(const es_item *it, es_error *err);
int es_item_from_json(const json_t *obj, es_item *it, es_error *err);

/* Sorts m by id (and each item's `seen` is left as is). */
void es_manifest_sort(es_manifest *m);

/* The item with this id, or NULL; m must be sorted. */
es_item *es_manifest_find(const es_manifest *m, const char *id);

/* Appends a copy of *it (taking ownership of its pointers: *it is zeroed on success). m is no
 * longer sorted until es_manifest_sort(). */
int es_manifest_add(es_manifest *m, es_item *it, es_error *err);

/* Adds an occurrence (strings are copied); NULL strings stay NULL. */
int es_item_add_seen(es_item *it, const char *path, const char *batch, const char *device,
                     const char *time, es_error *err);

/* The same, then moved to its place in canonical order (batch sequence in batch_seq, a batch it
 * does not know last; then the path bytewise). */
struct es_strmap;
int es_item_add_seen_ordered(es_item *it, const char *path, const char *batch,
                             const char *device, const char *time,
                             const struct es_strmap *batch_seq, es_error *err);

void es_item_free(es_item *it);
void es_manifest_free(es_manifest *m);

/* Is a split of this name a held-out set (its name starts with "test": docs/split.md)? */
static inline int es_held_out(const char *split)
{
  return split && split[0] == 't' && split[1] == 'e' && split[2] == 's' && split[3] == 't';
}

#endif
