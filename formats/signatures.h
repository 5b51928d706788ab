/* DATASET/signatures.bin: every item's near-duplicate signature (core/near_sig.h), the second
 * stage of the near-duplicate relation. Like index.bin it holds nothing the objects do not: it
 * is rebuilt from them when missing or damaged, and rewritten from the manifest's items at each
 * commit that changes them, so an item removed from the manifest loses its signature (a
 * thumbnail of whoever was in front of the camera) with it. Format in docs/dataset-format.md. */
#ifndef ES_FORMATS_SIGNATURES_H
#define ES_FORMATS_SIGNATURES_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/near_sig.h"
#include "core/store.h"
#include "formats/index.h"
#include "formats/manifest.h"

#define ES_SIGS_FILE "signatures.bin"

/* Signatures by item id. es_sigs_find() needs es_sigs_sort() after the last es_sigs_put(). */
typedef struct es_sigs {
  uint8_t (*id)[16];
  es_near_sig *sig;
  size_t n, cap;
} es_sigs;

/* Reads DATASET/signatures.bin into s (zeroed first). A missing file is an empty set; a damaged
 * one (bad magic, size or checksum) is also taken as empty, with *damaged (when not NULL) set:
 * it is rebuilt, never trusted. Caller frees with es_sigs_free(). */
int es_sigs_load(const es_store *st, es_sigs *s, int *damaged, es_error *err);

/* Adds (or, after sorting, replaces) the signature of the item whose id is id_hex. */
int es_sigs_put(es_sigs *s, const char *id_hex, const es_near_sig *sig, es_error *err);

/* Sorts by id; of two entries with one id the one put last stays. */
int es_sigs_sort(es_sigs *s, es_error *err);

/* The signature of an item by its id (hex digits or the index's 16 bytes), or NULL. */
const es_near_sig *es_sigs_find(const es_sigs *s, const char *id_hex);
const es_near_sig *es_sigs_find_bin(const es_sigs *s, const uint8_t id[16]);

void es_sigs_free(es_sigs *s);

/* The signature of every item of ix, in ix's order (caller frees), side 0 for an item s lacks;
 * *missing (when not NULL) counts those. */
es_near_sig *es_sigs_for_index(const es_sigs *s, const es_index *ix, size_t *missing,
                               es_error *err);

/* The file's bytes for the items of m that have a signature, in m's order (caller frees);
 * *written (when not NULL) is how many records it holds. */
uint8_t *es_sigs_serialize(const es_sigs *s, const es_manifest *m, size_t *len, size_t *written,
                           es_error *err);

/* Parses a file's bytes into s (zeroed first): ES_EFORMAT naming what is wrong. */
int es_sigs_parse(const uint8_t *buf, size_t len, es_sigs *s, es_error *err);

/* Makes sure every item of m has a signature in s (sorted on return): those missing are
 * computed from the item's bytes (its object, or with --store ref its first path), decoded
 * with the dataset's settings, on up to `threads` threads. Items whose bytes cannot be read or
 * decoded stay without one (the relation then links them to nothing); each is reported through
 * warn(ctx, item id, reason) when warn is not NULL. *computed and *missing (when not NULL) count
 * them. */
int es_sigs_complete(const es_store *st, es_sigs *s, const es_manifest *m, int threads,
                     void (*warn)(void *ctx, const char *id, const char *why), void *ctx,
                     size_t *computed, size_t *missing, es_error *err);

#endif
