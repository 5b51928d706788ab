/* An index of near-duplicate cluster representatives by 64-bit phash, answering "the nearest
 * representative within radius r" without comparing all pairs (see near_index.c for the
 * scheme). Memory is about 60 to 110 bytes per entry; it never holds pixels. It lives in core
 * because two stages use it: collect (clustering) and split (leak checks). */
#ifndef ES_CORE_NEAR_INDEX_H
#define ES_CORE_NEAR_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* Hamming distance between two phashes: the near-duplicate metric. */
static inline unsigned es_phash_distance(uint64_t a, uint64_t b)
{
  return (unsigned)__builtin_popcountll(a ^ b);
}

typedef struct es_near_index es_near_index;

/* A new empty index for radius r (0..32). Caller frees with es_near_index_free() (NULL-safe). */
es_near_index *es_near_index_new(unsigned radius, es_error *err);
void es_near_index_free(es_near_index *idx);

/* Adds a representative with phash h and caller's reference ref (e.g. its item number). On
 * failure (ES_ENOMEM, ES_ELIMIT) nothing was added and the index is still usable. */
int es_near_index_add(es_near_index *idx, uint64_t h, uint32_t ref, es_error *err);

/* The representative nearest to h within the radius: returns 1 and sets *ref and *dist when
 * one exists (ties go to the smallest ref), 0 when none. *examined, when not NULL, is increased
 * by the number of candidates whose distance was computed. Safe to call from several threads
 * at once while nobody adds. */
int es_near_index_nearest(const es_near_index *idx, uint64_t h, uint32_t *ref, unsigned *dist,
                          uint64_t *examined);

/* The same within a smaller radius (at most the index's): searching less of the index, it
 * answers faster when that is all the caller needs. */
int es_near_index_nearest_r(const es_near_index *idx, uint64_t h, unsigned radius,
                            uint32_t *ref, unsigned *dist, uint64_t *examined);

/* The near-duplicate self-join: each of h[0..n) in order joins the nearest earlier
 * representative within the radius (ties to the earliest) or becomes a representative itself.
 * assign[i] is the position of i's representative (i for a representative); *n_reps (when not
 * NULL) their count; *examined (when not NULL) grows by the candidates compared. Uses up to
 * `threads` OpenMP threads; the result is the same for any number. */
int es_near_selfjoin(const uint64_t *h, size_t n, unsigned radius, int threads,
                     uint32_t *assign, size_t *n_reps, uint64_t *examined, es_error *err);

/* Calls fn(ctx, ref, dist) once for every entry within the radius of h, in no particular
 * order (each entry is reported by the first chunk that finds it). Safe to call from several
 * threads at once while nobody adds. */
void es_near_index_within(const es_near_index *idx, uint64_t h,
                          void (*fn)(void *ctx, uint32_t ref, unsigned dist), void *ctx);

size_t es_near_index_count(const es_near_index *idx);

/* Bytes the index holds on the heap (its arrays and tables), for reports and benchmarks. */
size_t es_near_index_memory(const es_near_index *idx);

#endif
