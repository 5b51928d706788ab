/* All pairs within the near-duplicate radius between a fixed set of items (the "build" side,
 * e.g. every train and val item) and many queries (e.g. every held-out item): the join split's
 * leak repair and verify need, for a million items at a time.
 *
 * It is multi-index hashing (as core/near_index.c; Norouzi, Punjani and Fleet, CVPR 2012) laid
 * out for a static set: the 64 bits are cut into m chunks with radii r_c, sum (r_c + 1) = r + 1,
 * so two hashes within r bits agree within r_c bits on some chunk c. Per chunk the build side
 * is counting-sorted by the chunk's value into one contiguous array with an offset table, so a
 * query's probe is a lookup in a small table (2^bits entries, 8 KB at 11 bits) followed by a
 * sequential scan: no pointer chasing, few cache misses, a loop the compiler vectorises. Each
 * pair is reported once, by the first chunk whose probe reaches it. The number of chunks is
 * chosen per build size from an estimate of probes and candidates per query. */
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/cpu.h"
#include "core/near_index.h"
#include "split/split_internal.h"

#define MIN_CHUNKS 4
#define MAX_CHUNKS 8

struct es__near_join {
  unsigned radius, m;
  const es_split_near *near;
  const es_index *ix;
  unsigned bits[MAX_CHUNKS], shift[MAX_CHUNKS];
  int rad[MAX_CHUNKS];
  uint32_t *start[MAX_CHUNKS]; /* 2^bits + 1 offsets */
  uint64_t *hash[MAX_CHUNKS];  /* build items' hashes sorted by chunk value */
  uint32_t *ref[MAX_CHUNKS];   /* their item numbers */
  size_t n;
};

static uint32_t chunk_of(const es__near_join *j, unsigned c, uint64_t h)
{
  return (uint32_t)((h >> j->shift[c]) & (((uint64_t)1 << j->bits[c]) - 1));
}

void es__near_join_free(es__near_join *j)
{
  if (!j)
    return;
  for (unsigned c = 0; c < MAX_CHUNKS; c++) {
    free(j->start[c]);
    free(j->hash[c]);
    free(j->ref[c]);
  }
  free(j);
}

es__near_join *es__near_join_build(const es_index *ix, const uint32_t *items, size_t n,
                                   const es_split_near *near, es_error *err)
{
  unsigned radius = near->rel.radius;
  if (radius > 32) {
    es_error_set(err, ES_EUSAGE, "near-duplicate radius %u is out of range (0..32)", radius);
    return NULL;
  }
  es__near_join *j = calloc(1, sizeof *j);
  if (!j) {
    es_error_set(err, ES_ENOMEM, "out of memory");
    return NULL;
  }
  j->radius = radius;
  j->near = near;
  j->ix = ix;
  j->n = n;
  /* chunks: the fewest expected operations per query; a probe (a table lookup and the start of
   * a scan) is counted as 4 candidate checks, since the scan is sequential */
  double best = -1;
  for (unsigned m = MIN_CHUNKS; m <= MAX_CHUNKS; m++) {
    unsigned bits[MAX_CHUNKS], shift[MAX_CHUNKS];
    int rad[MAX_CHUNKS];
    es_near_layout(m, radius, bits, rad, shift);
    double cost = 0;
    for (unsigned c = 0; c < m; c++)
      if (rad[c] >= 0)
        cost += es_near_ball_volume(bits[c], rad[c]) *
                (4.0 + (double)n / (double)((uint64_t)1 << bits[c]));
    if (best < 0 || cost < best) {
      best = cost;
      j->m = m;
    }
  }
  es_near_layout(j->m, radius, j->bits, j->rad, j->shift);
  for (unsigned c = 0; c < j->m; c++) {
    if (j->rad[c] < 0)
      continue;
    size_t nb = (size_t)1 << j->bits[c];
    j->start[c] = calloc(nb + 1, sizeof *j->start[c]);
    j->hash[c] = malloc((n ? n : 1) * sizeof *j->hash[c]);
    j->ref[c] = malloc((n ? n : 1) * sizeof *j->ref[c]);
    if (!j->start[c] || !j->hash[c] || !j->ref[c]) {
      es__near_join_free(j);
      es_error_set(err, ES_ENOMEM, "out of memory for a near-duplicate join of %zu items", n);
      return NULL;
    }
    for (size_t k = 0; k < n; k++)
      j->start[c][chunk_of(j, c, ix->items[items[k]].phash) + 1]++;
    for (size_t b = 0; b < nb; b++)
      j->start[c][b + 1] += j->start[c][b];
    uint32_t *fill = malloc(nb * sizeof *fill);
    if (!fill) {
      es__near_join_free(j);
      es_error_set(err, ES_ENOMEM, "out of memory");
      return NULL;
    }
    memcpy(fill, j->start[c], nb * sizeof *fill);
    for (size_t k = 0; k < n; k++) {
      uint64_t h = ix->items[items[k]].phash;
      uint32_t at = fill[chunk_of(j, c, h)]++;
      j->hash[c][at] = h;
      j->ref[c][at] = items[k];
    }
    free(fill);
  }
  return j;
}

typedef struct pair_buf {
  es__near_pair *v;
  size_t n, cap;
  int oom;
} pair_buf;

static void push(pair_buf *b, uint32_t q, uint32_t ref, unsigned d)
{
  if (b->oom)
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
  b->v[b->n++] = (es__near_pair){q, ref, d};
}

/* Was x already reachable from an earlier chunk's probe of h? Then that chunk reported it. */
static int found_earlier(const es__near_join *j, unsigned chunk, uint64_t h, uint64_t x)
{
  for (unsigned c = 0; c < chunk; c++)
    if (j->rad[c] >= 0 &&
        (int)__builtin_popcount(chunk_of(j, c, x) ^ chunk_of(j, c, h)) <= j->rad[c])
      return 1;
  return 0;
}

static inline __attribute__((always_inline)) void scan_body(const es__near_join *j,
                                                            unsigned c, uint32_t key,
                                                            uint64_t h, uint32_t q, pair_buf *b)
{
  const uint32_t lo = j->start[c][key], hi = j->start[c][key + 1];
  const uint64_t *hs = j->hash[c];
  unsigned least = 64;
  for (uint32_t k = lo; k < hi; k++) {
    unsigned d = (unsigned)__builtin_popcountll(hs[k] ^ h);
    least = d < least ? d : least;
  }
  if (least > j->radius)
    return;
  for (uint32_t k = lo; k < hi; k++) {
    unsigned d = (unsigned)__builtin_popcountll(hs[k] ^ h);
    if (d <= j->radius && !found_earlier(j, c, h, hs[k]) &&
        (!j->near->sigs || es_split_related(j->near, j->ix, q, j->ref[c][k])))
      push(b, q, j->ref[c][k], d);
  }
}

typedef void (*scan_fn)(const es__near_join *j, unsigned c, uint32_t key, uint64_t h,
                        uint32_t q, pair_buf *b);

static void scan_plain(const es__near_join *j, unsigned c, uint32_t key, uint64_t h, uint32_t q,
                       pair_buf *b)
{
  scan_body(j, c, key, h, q, b);
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define ES_JOIN_VARIANTS 1
__attribute__((target("popcnt"))) static void scan_popcnt(const es__near_join *j, unsigned c,
                                                          uint32_t key, uint64_t h, uint32_t q,
                                                          pair_buf *b)
{
  scan_body(j, c, key, h, q, b);
}

__attribute__((target("avx512vpopcntdq,avx512f,popcnt"), optimize("tree-vectorize"))) static void
scan_vpopcnt(const es__near_join *j, unsigned c, uint32_t key, uint64_t h, uint32_t q,
             pair_buf *b)
{
  scan_body(j, c, key, h, q, b);
}
#endif

static scan_fn pick_scan(void)
{
#ifdef ES_JOIN_VARIANTS
  if (es_cpu_has(ES_CPU_AVX512VPOPCNTDQ | ES_CPU_AVX512F))
    return scan_vpopcnt;
  if (es_cpu_has(ES_CPU_POPCNT))
    return scan_popcnt;
#endif
  return scan_plain;
}

/* Every key within `left` more flipped bits of key, flipping bits at positions >= from. */
static void probe(const es__near_join *j, scan_fn scan, unsigned c, uint32_t key, unsigned from,
                  int left, uint64_t h, uint32_t q, pair_buf *b)
{
  if (j->start[c][key] != j->start[c][key + 1])
    scan(j, c, key, h, q, b);
  if (left == 0)
    return;
  for (unsigned bit = from; bit < j->bits[c]; bit++)
    probe(j, scan, c, key ^ ((uint32_t)1 << bit), bit + 1, left - 1, h, q, b);
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
  scan_fn scan = pick_scan();
  long long n = j->n ? (long long)nq : 0;
#pragma omp parallel num_threads(T)
  {
#ifdef _OPENMP
    pair_buf *b = &bufs[omp_get_thread_num()];
#else
    pair_buf *b = &bufs[0];
#endif
#pragma omp for schedule(dynamic, 256)
    for (long long k = 0; k < n; k++) {
      uint64_t h = ix->items[queries[k]].phash;
      for (unsigned c = 0; c < j->m; c++)
        if (j->rad[c] >= 0)
          probe(j, scan, c, chunk_of(j, c, h), 0, j->rad[c], h, queries[k], b);
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
