/* es_nn_peak_gmacs: the int8 multiply-accumulate rate one core reaches on the instruction a
 * kernel variant's inner loops are made of, measured, so that a kernel's speed can be given as
 * a share of what the machine does rather than of a datasheet figure. Each loop runs 12
 * independent accumulator chains (more than latency x throughput needs on current cores), with
 * operands in registers, so only the instruction's throughput bounds it. */
#include <time.h>

#include "nn/nn.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define T2 __attribute__((target("avx2")))
#define T256 __attribute__((target("avx2,avxvnni")))
#define T512 __attribute__((target("avx512f,avx512bw,avx512vnni")))
#endif

static double now(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

#define ROUNDS 4096 /* instructions per chain per call */

#if defined(__x86_64__) && defined(__GNUC__)
/* Keeps the compiler from folding a chain or keeping it anywhere but in a register. */
#define KEEP(v) __asm__ volatile("" : "+v"(v))
/* 12 chains written out, each started from its own value (chains started alike would be merged
 * into one by the compiler) */
#define CHAINS(T, SET, OP)                                                                     \
  T a0 = SET(0), a1 = SET(1), a2 = SET(2), a3 = SET(3), a4 = SET(4), a5 = SET(5), a6 = SET(6), \
    a7 = SET(7), a8 = SET(8), a9 = SET(9), a10 = SET(10), a11 = SET(11);                       \
  for (int r = 0; r < ROUNDS; r++) {                                                           \
    OP(a0); OP(a1); OP(a2); OP(a3); OP(a4); OP(a5);                                            \
    OP(a6); OP(a7); OP(a8); OP(a9); OP(a10); OP(a11);                                          \
  }                                                                                            \
  KEEP(a0); KEEP(a1); KEEP(a2); KEEP(a3); KEEP(a4); KEEP(a5);                                  \
  KEEP(a6); KEEP(a7); KEEP(a8); KEEP(a9); KEEP(a10); KEEP(a11)

T512 static uint64_t loop_avx512vnni(void)
{
  const __m512i x = _mm512_set1_epi8(3), w = _mm512_set1_epi8(-5);
#define OP512(a) a = _mm512_dpbusd_epi32(a, x, w)
  CHAINS(__m512i, _mm512_set1_epi32, OP512);
  return 12ull * ROUNDS * 64; /* 64 int8 products per vpdpbusd zmm */
}

T256 static uint64_t loop_avxvnni(void)
{
  const __m256i x = _mm256_set1_epi8(3), w = _mm256_set1_epi8(-5);
#define OP256(a) a = _mm256_dpbusd_avx_epi32(a, x, w)
  CHAINS(__m256i, _mm256_set1_epi32, OP256);
  return 12ull * ROUNDS * 32;
}

T2 static uint64_t loop_avx2(void)
{
  const __m256i x = _mm256_set1_epi16(3), w = _mm256_set1_epi16(-5);
#define OPAVX2(a) a = _mm256_add_epi32(a, _mm256_madd_epi16(x, w))
  CHAINS(__m256i, _mm256_set1_epi32, OPAVX2);
  return 12ull * ROUNDS * 16; /* 16 int16 products per vpmaddwd ymm */
}
#endif

double es_nn_peak_gmacs(int isa, double seconds, const char **instr)
{
  uint64_t (*loop)(void) = NULL;
  const char *name = NULL;
#if defined(__x86_64__) && defined(__GNUC__)
  if (es_nn_isa_supported(isa))
    switch (isa) {
    case ES_NN_ISA_AVX512VNNI: loop = loop_avx512vnni; name = "vpdpbusd zmm"; break;
    case ES_NN_ISA_AVXVNNI: loop = loop_avxvnni; name = "vpdpbusd ymm"; break;
    case ES_NN_ISA_AVX2: loop = loop_avx2; name = "vpmaddwd + vpaddd ymm"; break;
    default: break;
    }
#endif
  if (instr)
    *instr = name;
  if (!loop)
    return 0;
  /* the best of short slices: another job taking the core lowers a slice, never raises it */
  double best = 0, t_end = now() + (seconds > 0 ? seconds : 0.05);
  do {
    double t0 = now();
    uint64_t macs = 0;
    for (int k = 0; k < 16; k++)
      macs += loop();
    double dt = now() - t0;
    if (dt > 0 && (double)macs / dt > best)
      best = (double)macs / dt;
  } while (now() < t_end);
  return best / 1e9;
}
