/* The near-duplicate index must give exactly the brute-force answer (nearest representative
 * within the radius, ties to the smallest ref) for every radius, through its growth and
 * re-chunking, and answer concurrent queries. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/near_index.h"

static uint64_t rng_next(uint64_t *s)
{
  /* splitmix64 */
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* Hashes in clusters around a few centres (so that every radius has hits, misses and ties),
 * with exact repeats and refs in shuffled order. */
static void make_data(uint64_t seed, size_t n, uint64_t *h, uint32_t *ref)
{
  uint64_t s = seed, centres[40];
  for (int i = 0; i < 40; i++)
    centres[i] = rng_next(&s);
  for (size_t i = 0; i < n; i++) {
    uint64_t r = rng_next(&s);
    if (i > 0 && r % 10 == 0) {
      h[i] = h[r % i]; /* an exact repeat */
    } else {
      uint64_t x = centres[r % 40];
      unsigned flips = (unsigned)((r >> 8) % 14);
      for (unsigned k = 0; k < flips; k++)
        x ^= (uint64_t)1 << (rng_next(&s) % 64);
      h[i] = x;
    }
    ref[i] = (uint32_t)i;
  }
  for (size_t i = n - 1; i > 0; i--) {
    size_t j = rng_next(&s) % (i + 1);
    uint32_t t = ref[i];
    ref[i] = ref[j];
    ref[j] = t;
  }
}

static int brute(const uint64_t *h, const uint32_t *ref, size_t n, uint64_t q, unsigned r,
                 uint32_t *best_ref, unsigned *best_d)
{
  int found = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned d = es_phash_distance(h[i], q);
    if (d > r)
      continue;
    if (!found || d < *best_d || (d == *best_d && ref[i] < *best_ref)) {
      *best_d = d;
      *best_ref = ref[i];
      found = 1;
    }
  }
  return found;
}

static void check_radius(unsigned r, size_t n, size_t nq, uint64_t seed)
{
  uint64_t *h = malloc(n * sizeof *h), *q = malloc(nq * sizeof *q);
  uint32_t *ref = malloc(n * sizeof *ref), *qref = malloc(nq * sizeof *qref);
  make_data(seed, n, h, ref);
  make_data(seed + 1, nq, q, qref);
  es_error err;
  es_near_index *idx = es_near_index_new(r, &err);
  cr_assert_not_null(idx, "%s", err.msg);
  /* Query while growing: after each block of adds, all queries against the prefix. */
  size_t added = 0;
  for (size_t stop = n / 8; added < n; stop = stop * 2 > n ? n : stop * 2) {
    for (; added < stop; added++)
      cr_assert_eq(es_near_index_add(idx, h[added], ref[added], &err), ES_OK, "%s", err.msg);
    cr_assert_eq(es_near_index_count(idx), added);
    for (size_t k = 0; k < nq; k++) {
      uint64_t query = k % 3 == 0 ? h[k % added] : q[k];
      uint32_t br = 0, ir = 0;
      unsigned bd = 0, id = 0;
      uint64_t examined = 0;
      int bf = brute(h, ref, added, query, r, &br, &bd);
      int f = es_near_index_nearest(idx, query, &ir, &id, &examined);
      cr_assert_eq(f, bf, "r=%u n=%zu query %zu: found %d, brute force %d", r, added, k, f, bf);
      if (bf) {
        cr_assert_eq(id, bd, "r=%u query %zu: distance %u, brute force %u", r, k, id, bd);
        cr_assert_eq(ir, br, "r=%u query %zu: ref %u, brute force %u", r, k, ir, br);
        cr_assert_geq(examined, 1);
      }
    }
  }
  cr_assert_gt(es_near_index_memory(idx), n * 12);
  es_near_index_free(idx);
  free(h);
  free(q);
  free(ref);
  free(qref);
}

Test(near_index, agrees_with_brute_force_for_every_radius)
{
  for (unsigned r = 0; r <= 20; r++)
    check_radius(r, 1500, 300, 1000 + r);
  check_radius(24, 600, 100, 7);
  check_radius(32, 600, 100, 8);
}

Test(near_index, agrees_through_rechunking)
{
  /* 20,000 items cross the re-planning points at 1,024, 4,096 and 16,384. */
  check_radius(6, 20000, 200, 42);
  check_radius(12, 20000, 100, 43);
}

Test(near_index, ties_go_to_the_smallest_ref)
{
  es_error err;
  es_near_index *idx = es_near_index_new(3, &err);
  cr_assert_not_null(idx);
  cr_assert_eq(es_near_index_add(idx, 0x0Full, 9, &err), ES_OK);
  cr_assert_eq(es_near_index_add(idx, 0x0Full, 4, &err), ES_OK);
  cr_assert_eq(es_near_index_add(idx, 0x1Full, 1, &err), ES_OK);
  cr_assert_eq(es_near_index_add(idx, 0x0Eull, 2, &err), ES_OK);
  uint32_t ref = 0;
  unsigned d = 99;
  cr_assert_eq(es_near_index_nearest(idx, 0x0Full, &ref, &d, NULL), 1);
  cr_assert_eq(d, 0);
  cr_assert_eq(ref, 4);
  /* 0x07: distance 1 from 0x0F (refs 9, 4) and 0x0E is distance 2 ... */
  cr_assert_eq(es_near_index_nearest(idx, 0x07ull, &ref, &d, NULL), 1);
  cr_assert_eq(d, 1);
  cr_assert_eq(ref, 4);
  /* 0x1E: distance 1 from 0x1F (ref 1), 0x0E (ref 2) and ... 0x0F is 2 away. */
  cr_assert_eq(es_near_index_nearest(idx, 0x1Eull, &ref, &d, NULL), 1);
  cr_assert_eq(d, 1);
  cr_assert_eq(ref, 1);
  cr_assert_eq(es_near_index_nearest(idx, ~0ull, &ref, &d, NULL), 0);
  es_near_index_free(idx);
}

Test(near_index, empty_bad_radius_and_null)
{
  es_error err;
  es_near_index *idx = es_near_index_new(5, &err);
  uint32_t ref = 7;
  unsigned d = 7;
  uint64_t ex = 0;
  cr_assert_eq(es_near_index_nearest(idx, 123, &ref, &d, &ex), 0);
  cr_assert_eq(ref, 7);
  cr_assert_eq(ex, 0);
  cr_assert_eq(es_near_index_count(idx), 0);
  es_near_index_free(idx);
  es_near_index_free(NULL);
  cr_assert_null(es_near_index_new(33, &err));
  cr_assert_eq(err.code, ES_EUSAGE);
}

typedef struct job {
  const es_near_index *idx;
  const uint64_t *q;
  size_t n;
  uint32_t *ref;
  unsigned *dist;
  int *found;
} job;

static void *run_job(void *arg)
{
  job *j = arg;
  for (size_t i = 0; i < j->n; i++)
    j->found[i] = es_near_index_nearest(j->idx, j->q[i], &j->ref[i], &j->dist[i], NULL);
  return NULL;
}

Test(near_index, concurrent_queries)
{
  enum { N = 5000, Q = 2000 };
  static uint64_t h[N], q[Q];
  static uint32_t ref[N], qref[Q], r1[Q], r2[Q];
  static unsigned d1[Q], d2[Q];
  static int f1[Q], f2[Q];
  make_data(5, N, h, ref);
  make_data(6, Q, q, qref);
  es_error err;
  es_near_index *idx = es_near_index_new(10, &err);
  for (size_t i = 0; i < N; i++)
    cr_assert_eq(es_near_index_add(idx, h[i], ref[i], &err), ES_OK);
  job a = {idx, q, Q, r1, d1, f1}, b = {idx, q, Q, r2, d2, f2};
  pthread_t ta, tb;
  cr_assert_eq(pthread_create(&ta, NULL, run_job, &a), 0);
  cr_assert_eq(pthread_create(&tb, NULL, run_job, &b), 0);
  pthread_join(ta, NULL);
  pthread_join(tb, NULL);
  for (size_t i = 0; i < Q; i++) {
    uint32_t br = 0;
    unsigned bd = 0;
    int bf = brute(h, ref, N, q[i], 10, &br, &bd);
    cr_assert_eq(f1[i], bf);
    cr_assert_eq(f2[i], bf);
    if (bf)
      cr_assert(r1[i] == br && r2[i] == br && d1[i] == bd && d2[i] == bd);
  }
  es_near_index_free(idx);
}

/* The sequential definition of the self-join, by brute force. */
static size_t brute_join(const uint64_t *h, size_t n, unsigned r, uint32_t *assign)
{
  uint32_t *reps = malloc(n * sizeof *reps);
  size_t nr = 0;
  cr_assert(reps);
  for (size_t i = 0; i < n; i++) {
    unsigned best = r + 1;
    for (size_t k = 0; k < nr; k++) {
      unsigned d = es_phash_distance(h[reps[k]], h[i]);
      if (d < best) {
        best = d;
        assign[i] = reps[k];
      }
    }
    if (best > r) {
      assign[i] = (uint32_t)i;
      reps[nr++] = (uint32_t)i;
    }
  }
  free(reps);
  return nr;
}

/* es_near_selfjoin gives the sequential answer for every thread count, across several of its
 * blocks, on clustered hashes, on bursts (consecutive near copies, its fast path) and on
 * bursts whose base joins an older cluster a few bits further away (its slow path). */
Test(near_index, selfjoin_matches_the_sequential_definition)
{
  enum { N = 14000 };
  uint64_t *h = malloc(N * sizeof *h), s = 77;
  uint32_t *ref = malloc(N * sizeof *ref), *want = malloc(N * sizeof *want),
           *got = malloc(N * sizeof *got);
  cr_assert(h && ref && want && got);
  for (int data = 0; data < 3; data++) {
    if (data == 0) {
      make_data(5, N, h, ref);
    } else {
      for (size_t i = 0; i < N;) {
        uint64_t base = rng_next(&s);
        if (data == 2 && i > 0 && rng_next(&s) % 2) { /* 8 to 10 bits from an older hash */
          base = h[rng_next(&s) % i];
          for (unsigned k = 0, f = 8 + (unsigned)(rng_next(&s) % 3); k < f; k++)
            base ^= (uint64_t)1 << (rng_next(&s) % 64);
        }
        for (size_t m = 1 + rng_next(&s) % 9; m-- > 0 && i < N; i++) {
          uint64_t x = base;
          for (unsigned k = (unsigned)(rng_next(&s) % 7); k-- > 0;)
            x ^= (uint64_t)1 << (rng_next(&s) % 64);
          h[i] = x;
        }
      }
    }
    for (unsigned r = 0; r <= 12; r += 3) {
      size_t want_reps = brute_join(h, N, r, want);
      for (int threads = 1; threads <= 3; threads++) {
        size_t reps = 0;
        es_error err;
        cr_assert_eq(es_near_selfjoin(h, N, r, threads, got, &reps, NULL, &err), ES_OK);
        cr_assert_eq(reps, want_reps, "data %d, r %u, %d threads", data, r, threads);
        for (size_t i = 0; i < N; i++)
          cr_assert_eq(got[i], want[i], "data %d, r %u, %d threads, hash %zu", data, r,
                       threads, i);
      }
    }
  }
  free(h);
  free(ref);
  free(want);
  free(got);
}
