/* Helpers shared by the files of the split stage only. */
#ifndef ES_SPLIT_INTERNAL_H
#define ES_SPLIT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "formats/index.h"
#include "split/split.h"

/* A query item and a build item within the radius of it. */
typedef struct es__near_pair {
  uint32_t q, ref;
  unsigned dist;
} es__near_pair;

/* A static multi-index over the phashes of some items of ix (near_join.c), for finding every
 * pair within the radius between them and a set of queries. Free with es__near_join_free()
 * (NULL-safe). */
typedef struct es__near_join es__near_join;

es__near_join *es__near_join_build(const es_index *ix, const uint32_t *items, size_t n,
                                   const es_split_near *near, es_error *err);
void es__near_join_free(es__near_join *j);

/* Every build item related (es_split_related()) to each query item, on `jobs` threads; *pairs
 * sorted by (q, ref) so the result does not depend on the threads. Caller frees *pairs. */
int es__near_join_pairs(const es__near_join *j, const es_index *ix, const uint32_t *queries,
                        size_t nq, int jobs, es__near_pair **pairs, size_t *npairs,
                        es_error *err);

#endif
