/* All related pairs between a fixed set of items (the "build" side, e.g. every train and val
 * item) and many queries (e.g. every held-out item): the join split's leak repair and verify
 * need, for a million items at a time. The build side goes into the near-duplicate index of
 * core/near_index.c (multi-index hashing over the phashes); each query asks it for every entry
 * within the radius, in parallel, and keeps those related to it (es_split_related(): the
 * signatures' stage 2 when the dataset has one). */
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/near_index.h"
#include "split/split_internal.h"

struct es__near_join {
  es_near_index *idx;
  const es_split_near *near;
  const es_index *ix;
};

void es__near_join_free(es__near_join *j)
{
  if (!j)
    return;
  es_near_index_free(j->idx);
  free(j);
}

es__near_join *es__near_join_build(const es_index *ix, const uint32_t *items, size_t n,
                                   const es_split_near *near, es_error *err)
{
  es__near_join *j = calloc(1, sizeof *j);
  if (!j) {
    es_error_set(err, ES_ENOMEM, "out of memory");
    return NULL;
  }
  j->near = near;
  j->ix = ix;
  if (!(j->idx = es_near_index_new(near->rel.radius, err))) {
    free(j);
    return NULL;
  }
  for (size_t k = 0; k < n; k++)
    if (es_near_index_add(j->idx, ix->items[items[k]].phash, items[k], err)) {
      es__near_join_free(j);
      return NULL;
    }
  return j;
}

typedef struct pair_buf {
  es__near_pair *v;
  size_t n, cap;
  int oom;
  const es__near_join *j;
  uint32_t q;
} pair_buf;

static void on_pair(void *ctx, uint32_t ref, unsigned d)
{
  pair_buf *b = ctx;
  if (b->oom || (b->j->near->sigs && !es_split_related(b->j->near, b->j->ix, b->q, ref)))
    return;
  if (b->n == b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 256;
    es__near_pair *v = realloc(b->v, cap * sizeof *v);
    if (!v) {
      b->oom = 1;
      return;
    }
    b->v = v;
    b->cap = cap;
  }
  b->v[b->n++] = (es__near_pair){b->q, ref, d};
}

static int cmp_pair(const void *a, const void *b)
{
  const es__near_pair *x = a, *y = b;
  if (x->q != y->q)
    return x->q < y->q ? -1 : 1;
  return (x->ref > y->ref) - (x->ref < y->ref);
}

int es__near_join_pairs(const es__near_join *j, const es_index *ix, const uint32_t *queries,
                        size_t nq, int jobs, es__near_pair **pairs, size_t *npairs,
                        es_error *err)
{
  int T = jobs > 0 ? jobs : 1;
  pair_buf *bufs = calloc((size_t)T, sizeof *bufs);
  *pairs = NULL;
  *npairs = 0;
  if (!bufs)
    return es_error_set(err, ES_ENOMEM, "out of memory");
  long long n = (long long)nq;
#pragma omp parallel num_threads(T)
  {
#ifdef _OPENMP
    pair_buf *b = &bufs[omp_get_thread_num()];
#else
    pair_buf *b = &bufs[0];
#endif
    b->j = j;
#pragma omp for schedule(dynamic, 256)
    for (long long k = 0; k < n; k++) {
      b->q = queries[k];
      es_near_index_within(j->idx, ix->items[queries[k]].phash, on_pair, b);
    }
  }
  size_t total = 0;
  int oom = 0;
  for (int t = 0; t < T; t++) {
    total += bufs[t].n;
    oom |= bufs[t].oom;
  }
  es__near_pair *all = oom ? NULL : malloc((total ? total : 1) * sizeof *all);
  if (all) {
    size_t k = 0;
    for (int t = 0; t < T; t++) {
      if (bufs[t].n)
        memcpy(all + k, bufs[t].v, bufs[t].n * sizeof *all);
      k += bufs[t].n;
    }
    qsort(all, total, sizeof *all, cmp_pair);
  }
  for (int t = 0; t < T; t++)
    free(bufs[t].v);
  free(bufs);
  if (!all)
    return es_error_set(err, ES_ENOMEM, "out of memory collecting near pairs");
  *pairs = all;
  *npairs = total;
  return ES_OK;
}
