/* core/cpu.c: the EDGESET_ISA cap (names, what each level lets through, the environment read
 * once and the same answer on every thread), and the two SIMD users in core, XXH3
 * (core/hash.c) and the near-duplicate index scans (core/near_index.c), giving the same bytes
 * under every cap as under `portable`. Criterion runs each test in its own process, so a test
 * that sets the environment or the cap sees a fresh core/cpu.c. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "core/hash.h"
#include "core/near_index.h"
#include "capcheck.h"

#define UP_TO_AVX2 (ES_CPU_SSE2 | ES_CPU_SSE41 | ES_CPU_POPCNT | ES_CPU_AVX2 | ES_CPU_FMA)

Test(cpu, cap_names)
{
  cr_expect_eq(es_cpu_cap_parse(NULL), ES_CPU_CAP_AVX512VNNI);
  cr_expect_eq(es_cpu_cap_parse(""), ES_CPU_CAP_AVX512VNNI);
  cr_expect_eq(es_cpu_cap_parse("auto"), ES_CPU_CAP_AVX512VNNI);
  cr_expect_eq(es_cpu_cap_parse("reference"), ES_CPU_CAP_PORTABLE);
  cr_expect_eq(es_cpu_cap_parse("portable"), ES_CPU_CAP_PORTABLE);
  cr_expect_eq(es_cpu_cap_parse("avx2"), ES_CPU_CAP_AVX2);
  cr_expect_eq(es_cpu_cap_parse("avxvnni"), ES_CPU_CAP_AVXVNNI);
  cr_expect_eq(es_cpu_cap_parse("avx512vnni"), ES_CPU_CAP_AVX512VNNI);
  cr_expect_eq(es_cpu_cap_parse("sse9"), -1);
  cr_expect_eq(es_cpu_cap_parse("AVX2"), -1);
  for (int c = ES_CPU_CAP_PORTABLE; c <= ES_CPU_CAP_AVX512VNNI; c++)
    cr_expect_eq(es_cpu_cap_parse(es_cpu_cap_name(c)), c);
  cr_expect_null(es_cpu_cap_name(-1));
  cr_expect_null(es_cpu_cap_name(ES_CPU_CAP_AVX512VNNI + 1));
}

/* Each cap lets through what docs/nn.md says, never more than the CPU has. */
Test(cpu, caps_mask_features)
{
  unsetenv("EDGESET_ISA"); /* before the first use, which reads it */
  const unsigned all = es_cpu_detected();
  cr_expect_eq(es_cpu_features(), all, "no EDGESET_ISA: no cap");
  es__cpu_set_cap(ES_CPU_CAP_PORTABLE);
  cr_expect_eq(es_cpu_features(), 0u);
  cr_expect(es_cpu_has(0));
  cr_expect(!es_cpu_has(ES_CPU_SSE2));
  es__cpu_set_cap(ES_CPU_CAP_AVX2);
  cr_expect_eq(es_cpu_features(), all & UP_TO_AVX2);
  es__cpu_set_cap(ES_CPU_CAP_AVXVNNI);
  cr_expect_eq(es_cpu_features(), all & (UP_TO_AVX2 | ES_CPU_AVXVNNI));
  int prev = es__cpu_set_cap(ES_CPU_CAP_AVX512VNNI);
  cr_expect_eq(prev, ES_CPU_CAP_AVXVNNI);
  cr_expect_eq(es_cpu_features(), all);
  cr_expect_eq(es_cpu_cap(), ES_CPU_CAP_AVX512VNNI);
#if defined(__x86_64__)
  cr_expect(all & ES_CPU_SSE2, "SSE2 is the x86-64 baseline");
#endif
}

static void env_cap(const char *value, int want_cap)
{
  setenv("EDGESET_ISA", value, 1);
  cr_expect_eq(es_cpu_cap(), want_cap, "EDGESET_ISA=%s", value);
  /* read once: a later change of the environment changes nothing */
  setenv("EDGESET_ISA", "avx512vnni", 1);
  cr_expect_eq(es_cpu_cap(), want_cap, "EDGESET_ISA=%s, read again", value);
}

Test(cpu, env_portable)
{
  env_cap("portable", ES_CPU_CAP_PORTABLE);
  cr_expect_eq(es_cpu_features(), 0u);
}
Test(cpu, env_reference)
{
  env_cap("reference", ES_CPU_CAP_PORTABLE);
}
Test(cpu, env_avx2)
{
  env_cap("avx2", ES_CPU_CAP_AVX2);
  cr_expect_eq(es_cpu_features(), es_cpu_detected() & UP_TO_AVX2);
}
Test(cpu, env_unknown_caps_nothing)
{
  env_cap("sse9", ES_CPU_CAP_AVX512VNNI);
  cr_expect_eq(es_cpu_features(), es_cpu_detected());
}

static void *ask(void *arg)
{
  *(unsigned *)arg = es_cpu_features();
  return NULL;
}

/* The first calls come from many threads at once: one detection, one answer. */
Test(cpu, first_use_from_threads)
{
  setenv("EDGESET_ISA", "avx2", 1);
  enum { N = 16 };
  pthread_t t[N];
  unsigned got[N];
  for (int i = 0; i < N; i++)
    cr_assert_eq(pthread_create(&t[i], NULL, ask, &got[i]), 0);
  for (int i = 0; i < N; i++)
    pthread_join(t[i], NULL);
  for (int i = 0; i < N; i++)
    cr_expect_eq(got[i], es_cpu_detected() & UP_TO_AVX2, "thread %d", i);
}

enum { HASH_MAX = 640 * 480 * 3 + 12 };
static const size_t hash_lens[] = {0,   1,   3,    4,    8,    9,    16,   17,    128,     129,
                                   240, 241, 1023, 1024, 1025, 4096, 4097, 65537, HASH_MAX};
#define NLENS (sizeof hash_lens / sizeof hash_lens[0])

static void hash_all(void *out, void *ctx)
{
  const uint8_t *buf = ctx;
  char *o = out;
  for (size_t i = 0; i < NLENS; i++) {
    size_t n = hash_lens[i], cut = n / 3;
    es_xxh3_hex(buf, n, NULL, 0, o + 66 * i);
    es_xxh3_hex(buf, cut, buf + cut, n - cut, o + 66 * i + 33);
  }
}

/* es_xxh3_hex (generic, AVX2 or AVX-512 build by cap) gives the same digests. */
Test(cpu, xxh3_same_under_every_cap)
{
  uint8_t *buf = malloc(HASH_MAX);
  cr_assert(buf);
  for (size_t i = 0; i < HASH_MAX; i++)
    buf[i] = (uint8_t)((i * 2654435761u) >> 11);
  cap_same_bytes(hash_all, buf, 66 * NLENS, "es_xxh3_hex");
  free(buf);
}

enum { NEAR_N = 20000, NEAR_Q = 3000 };

static uint64_t mix(uint64_t x)
{
  x += 0x9e3779b97f4a7c15u;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
  return x ^ (x >> 31);
}

/* Hashes in bursts (a base and copies a few bits away), so that queries find neighbours. */
static void near_hashes(uint64_t *h, size_t n)
{
  for (size_t k = 0; k < n; k++) {
    uint64_t base = mix(k - k % 4);
    uint64_t flip = 0;
    for (unsigned b = 0; b < (k * 5) % 11; b++)
      flip |= (uint64_t)1 << (mix(k * 64 + b) % 64);
    h[k] = base ^ (k % 4 ? flip : 0);
  }
}

typedef struct near_out {
  uint32_t ref[NEAR_Q], nearest_ref[NEAR_Q], within[NEAR_Q], assign[NEAR_N];
  unsigned dist[NEAR_Q], nearest_r_dist[NEAR_Q];
  uint64_t within_sum[NEAR_Q];
  int found[NEAR_Q];
  size_t reps;
} near_out;

static void count_within(void *ctx, uint32_t ref, unsigned dist)
{
  uint64_t *acc = ctx;
  acc[0]++;
  acc[1] += (uint64_t)ref * 131 + dist;
}

/* Built under the cap, so the index picks the cap's scan. */
static void near_all(void *out, void *ctx)
{
  const uint64_t *h = ctx;
  near_out *o = out;
  es_error err = {0};
  es_near_index *idx = es_near_index_new(10, &err);
  cr_assert_not_null(idx, "%s", err.msg);
  for (uint32_t k = 0; k < NEAR_N; k += 2)
    cr_assert_eq(es_near_index_add(idx, h[k], k, &err), ES_OK, "%s", err.msg);
  for (uint32_t q = 0; q < NEAR_Q; q++) {
    uint64_t x = h[(q * 7 + 1) % NEAR_N];
    o->found[q] = es_near_index_nearest(idx, x, &o->ref[q], &o->dist[q], NULL);
    o->found[q] |= es_near_index_nearest_r(idx, x, 4, &o->nearest_ref[q], &o->nearest_r_dist[q],
                                           NULL)
                   << 1;
    uint64_t acc[2] = {0, 0};
    es_near_index_within(idx, x, count_within, acc);
    o->within[q] = (uint32_t)acc[0];
    o->within_sum[q] = acc[1];
  }
  es_near_index_free(idx);
  cr_assert_eq(es_near_selfjoin(h, NEAR_N, 8, 2, o->assign, &o->reps, NULL, &err), ES_OK, "%s",
               err.msg);
}

/* The near-duplicate index (plain, POPCNT or AVX-512 VPOPCNTDQ scan by cap): the same nearest
 * answers, the same sets within the radius and the same self-join. */
Test(cpu, near_index_same_under_every_cap)
{
  uint64_t *h = malloc(NEAR_N * sizeof *h);
  cr_assert(h);
  near_hashes(h, NEAR_N);
  cap_same_bytes(near_all, h, sizeof(near_out), "near index");
  free(h);
}
