/* CPU feature detection, once per process, and the EDGESET_ISA cap (core/cpu.h). The features
 * are asked with __builtin_cpu_supports (which also checks that the OS saves the AVX and
 * AVX-512 state), so one binary runs everywhere and picks at run time. */
#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#endif
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"

/* What each cap lets through (ES_CPU_CAP_* order). */
#define ES_CPU_UP_TO_AVX2 (ES_CPU_SSE2 | ES_CPU_SSE41 | ES_CPU_POPCNT | ES_CPU_AVX2 | ES_CPU_FMA)
static const unsigned cap_mask[] = {
    0,
    ES_CPU_UP_TO_AVX2,
    ES_CPU_UP_TO_AVX2 | ES_CPU_AVXVNNI,
    ~0u,
};
static const char *const cap_names[] = {"portable", "avx2", "avxvnni", "avx512vnni"};
#define ES_CPU_NCAPS ((int)(sizeof cap_names / sizeof *cap_names))

static pthread_once_t once = PTHREAD_ONCE_INIT;
static unsigned detected;  /* set once by init() */
static int cap;            /* set by init(), changed only by es__cpu_set_cap() */
static unsigned allowed;   /* detected & cap_mask[cap] */

static unsigned detect(void)
{
  unsigned f = 0;
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  f |= ES_CPU_SSE2; /* baseline of x86-64 */
  if (__builtin_cpu_supports("sse4.1"))
    f |= ES_CPU_SSE41;
  if (__builtin_cpu_supports("popcnt"))
    f |= ES_CPU_POPCNT;
  if (__builtin_cpu_supports("avx2"))
    f |= ES_CPU_AVX2;
  if (__builtin_cpu_supports("fma"))
    f |= ES_CPU_FMA;
  /* AVX-VNNI is CPUID leaf 7 subleaf 1, EAX bit 4, asked directly: clang 14 does not know the
   * "avxvnni" name of __builtin_cpu_supports. Its state is the AVX one, checked with "avx2". */
  unsigned a, b, c, d;
  if ((f & ES_CPU_AVX2) && __get_cpuid_count(7, 1, &a, &b, &c, &d) && (a >> 4 & 1))
    f |= ES_CPU_AVXVNNI;
  if (__builtin_cpu_supports("avx512f"))
    f |= ES_CPU_AVX512F;
  if (__builtin_cpu_supports("avx512bw"))
    f |= ES_CPU_AVX512BW;
  if (__builtin_cpu_supports("avx512vl"))
    f |= ES_CPU_AVX512VL;
  if (__builtin_cpu_supports("avx512vnni"))
    f |= ES_CPU_AVX512VNNI;
  if (__builtin_cpu_supports("avx512vbmi"))
    f |= ES_CPU_AVX512VBMI;
  if (__builtin_cpu_supports("avx512vpopcntdq"))
    f |= ES_CPU_AVX512VPOPCNTDQ;
#endif
  return f;
}

int es_cpu_cap_parse(const char *isa)
{
  if (!isa || !*isa || strcmp(isa, "auto") == 0)
    return ES_CPU_CAP_AVX512VNNI;
  if (strcmp(isa, "reference") == 0)
    return ES_CPU_CAP_PORTABLE;
  for (int i = 0; i < ES_CPU_NCAPS; i++)
    if (strcmp(isa, cap_names[i]) == 0)
      return i;
  return -1;
}

static void init(void)
{
  detected = detect();
  int c = es_cpu_cap_parse(getenv("EDGESET_ISA"));
  cap = c < 0 ? ES_CPU_CAP_AVX512VNNI : c; /* a bad value caps nothing (nn reports it) */
  allowed = detected & cap_mask[cap];
}

unsigned es_cpu_detected(void)
{
  pthread_once(&once, init);
  return detected;
}

unsigned es_cpu_features(void)
{
  pthread_once(&once, init);
  return allowed;
}

bool es_cpu_has(unsigned features)
{
  return (es_cpu_features() & features) == features;
}

int es_cpu_cap(void)
{
  pthread_once(&once, init);
  return cap;
}

const char *es_cpu_cap_name(int c)
{
  return c >= 0 && c < ES_CPU_NCAPS ? cap_names[c] : NULL;
}

int es__cpu_set_cap(int c)
{
  pthread_once(&once, init);
  int prev = cap;
  if (c >= 0 && c < ES_CPU_NCAPS) {
    cap = c;
    allowed = detected & cap_mask[cap];
  }
  return prev;
}
