/* DATASET/tombstones.jsonl: the content hashes of items removed by edgeset rm, so that the same
 * bytes or the same pixels are never collected again (quarantined as "redacted"). Append-only,
 * one line per rm run, {"time":T,"ids":[ID...],"pixels":[PIXELS...],"phash":[HEX16...]}:
 * hashes only (the 64-bit perceptual hash included, for reporting near duplicates), never
 * content, paths, thumbnails or signatures (docs/dataset-format.md). */
#ifndef ES_FORMATS_TOMBSTONES_H
#define ES_FORMATS_TOMBSTONES_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/store.h"
#include "core/strmap.h"

typedef struct es_tombstones {
  es_strmap ids;    /* removed items' ids (XXH3-128 of the bytes) */
  es_strmap pixels; /* removed items' pixel hashes */
  uint64_t *phash;  /* removed items' perceptual hashes */
  size_t n_phash;
} es_tombstones;

/* A new item whose phash is this close to the phash of content edgeset rm removed is a near
 * duplicate of it: reported, or refused with refuse_near_redacted. 10 bits: on the held half
 * of the near-duplicate truth set the phash alone had precision 1.000 there
 * (docs/near-duplicates.md). */
#define ES_REDACTED_NEAR 10
/* The quarantine reasons of inputs refused because of removed content (collect, merge). */
#define ES_REDACTED_REASON "removed from this dataset by edgeset rm (redacted)"
#define ES_REDACTED_NEAR_REASON "a near duplicate (%u bits) of content removed by edgeset rm"

/* Reads every line (a missing file: none). A line that is not of the form above is ES_EFORMAT
 * naming it. */
int es_tombstones_load(const es_store *st, es_tombstones *t, es_error *err);
void es_tombstones_free(es_tombstones *t);

/* Appends one line with these hashes (and the time) and makes it durable. */
int es_tombstones_append(const es_store *st, const char *const *ids, size_t n_ids,
                         const char *const *pixels, size_t n_pixels, const uint64_t *phash,
                         size_t n_phash, es_error *err);

/* The smallest Hamming distance from h to a removed item's phash (65 when there is none). */
unsigned es_tombstones_nearest(const es_tombstones *t, uint64_t h);

#endif
