/* The binary index of the manifest's hot fields (DATASET/index.bin): id, phash, stats, label,
 * split, group, cluster, first device, batch and time, derived_from. It lets million-item
 * operations (split, verify, list, balance) skip parsing JSON. It is rebuildable at any time
 * from manifest.jsonl and is valid only for the manifest bytes whose size and XXH3-128 it
 * records; a stale, damaged or foreign index is ignored and rebuilt, never trusted. Format in
 * docs/dataset-format.md. */
#ifndef ES_FORMATS_INDEX_H
#define ES_FORMATS_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/store.h"
#include "core/strmap.h"
#include "formats/manifest.h"

#define ES_INDEX_NONE UINT32_MAX   /* no string / no item */
#define ES_INDEX_NO_TIME INT64_MIN /* occurrence without a usable time */

typedef struct es_index_item {
  uint8_t id[16];        /* the id's 32 hex digits as bytes */
  uint64_t phash;
  double stats[6];       /* mean, std, sharpness, saturation, clip_low, clip_high */
  int64_t time;          /* seen[0].time in seconds (zone applied when given), or NO_TIME */
  uint32_t cluster;      /* item number of the cluster representative, or NONE */
  uint32_t derived_from; /* item number of the source of an augmented item, or NONE */
  /* string table numbers, or NONE for null */
  uint32_t label, split, split_note, group, device, batch, format;
} es_index_item;

typedef struct es_index {
  es_index_item *items; /* in manifest order (sorted by id) */
  size_t n;
  char **strs;          /* string table */
  size_t n_strs, cap_strs;
  es_strmap str_of;     /* string -> number, for es_index_intern() */
  uint64_t manifest_size;
  char manifest_hash[33];
} es_index;

/* Builds the index of m, whose serialized bytes had the given size and hash. ix is
 * initialised here; free with es_index_free() (NULL-safe). */
int es_index_from_manifest(const es_manifest *m, uint64_t manifest_size,
                           const char manifest_hash[33], es_index *ix, es_error *err);

/* The index's bytes (caller frees) and their reader; parse checks every number against the
 * bounds and the trailing checksum (ES_EFORMAT when anything is off). */
uint8_t *es_index_serialize(const es_index *ix, size_t *len, es_error *err);
int es_index_parse(const uint8_t *buf, size_t len, es_index *ix, es_error *err);
void es_index_free(es_index *ix);

/* The number of string s in the table, adding it when new (ES_INDEX_NONE for NULL). */
int es_index_intern(es_index *ix, const char *s, uint32_t *num, es_error *err);

/* The string of number k, NULL for ES_INDEX_NONE. */
static inline const char *es_index_str(const es_index *ix, uint32_t k)
{
  return k == ES_INDEX_NONE ? NULL : ix->strs[k];
}

/* The 32 hex digits of item i's id plus NUL. */
void es_index_id_hex(const es_index *ix, size_t i, char out[33]);

/* Loads the dataset's manifest for reading or changing it.
 * With m != NULL: reads and parses manifest.jsonl into m (zeroed first) and builds *ix from it,
 * refreshing index.bin when it was stale (best effort: an index that cannot be written is
 * simply rebuilt next time).
 * With m == NULL: hashes manifest.jsonl and uses index.bin when it matches (and the manifest
 * ends in a newline), else parses the manifest and rewrites index.bin. *parsed (when not NULL)
 * is set to 1 when JSON was parsed.
 * A missing manifest is an empty dataset; a torn or malformed line is ES_EFORMAT naming the
 * file and the line (es_manifest_parse()), never skipped. */
int es_index_load(const es_store *st, es_manifest *m, es_index *ix, int *parsed, es_error *err);

/* Reads and parses DATASET/manifest.jsonl into m (zeroed first); a missing manifest is an
 * empty dataset; an error names the file. Caller frees with es_manifest_free(). */
int es_manifest_load(const es_store *st, es_manifest *m, es_error *err);

/* The file name extension of objects of an image format: "jpg" for "jpeg", "bin" when the
 * format is empty, else the format's name. */
const char *es_object_ext(const char *format);

/* The path of an item's object relative to the dataset root: "objects/<ab>/<id>.<ext>" (an
 * extension longer than 15 bytes is cut). */
#define ES_OBJECT_REL_MAX 64 /* "objects/ab/" + 32 + "." + 15 + NUL */
void es_object_rel(const char *id, const char *format, char out[ES_OBJECT_REL_MAX]);

/* An item's bytes: its object, or in a dataset collected with --store ref its first
 * occurrence's file. Caller frees *buf. */
int es_item_read_bytes(const es_store *st, const es_item *it, uint8_t **buf, size_t *len,
                       es_error *err);

/* Commits m: serializes it, replaces manifest.jsonl (the commit point) and then index.bin.
 * Must hold the lock. On success *ix (when not NULL) is replaced by the new index. */
int es_index_commit_manifest(const es_store *st, const es_manifest *m, es_index *ix,
                             es_error *err);

/* The same with m already serialized (es_manifest_serialize(m) gave bytes, len), so that a
 * caller can serialize while it does other work; takes ownership of bytes. before(ctx), when not
 * NULL, runs once the new manifest's bytes are durable and just before the rename (the commit
 * point); its failure leaves the previous manifest in place (es_store_replace_hook()). */
int es_index_commit_serialized(const es_store *st, const es_manifest *m, char *bytes, size_t len,
                               es_index *ix, int (*before)(void *ctx, es_error *err), void *ctx,
                               es_error *err);

/* After manifest.jsonl became the serialized m (manifest_size bytes hashing to manifest_hash):
 * builds m's index and writes index.bin, best effort (an index that cannot be built or written
 * is rebuilt by the next reader); *ix (when not NULL) is replaced by the new index. */
void es_index_save_committed(const es_store *st, const es_manifest *m, uint64_t manifest_size,
                             const char manifest_hash[33], es_index *ix);

#endif
