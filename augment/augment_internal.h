/* Seams shared by the files of augment/ (not for other modules): the vectorisation marker,
 * allocation of a result like its source, and the reflected border. */
#ifndef ES_AUGMENT_INTERNAL_H
#define ES_AUGMENT_INTERNAL_H

#include <stdint.h>

#include "augment/augment.h"

/* Loops meant to be vectorised: GCC does so only from -O3 (hence optimize("tree-vectorize")),
 * and on x86-64 an AVX2 clone is picked at load time. Integer arithmetic only, so no variant
 * changes a result. */
#if defined(__GNUC__) && !defined(__clang__)
#if defined(__x86_64__)
#define ES_AUG_VECTORIZE \
  __attribute__((target_clones("avx2", "default"), optimize("O3", "tree-vectorize")))
#else
#define ES_AUG_VECTORIZE __attribute__((optimize("O3", "tree-vectorize")))
#endif
#else
#define ES_AUG_VECTORIZE
#endif

/* Hand-written SIMD paths on x86-64: SSE2 is the baseline there; the paths that need byte
 * shuffles or 32-bit products (SSSE3/SSE4.1) are built with a target attribute and taken only
 * when the CPU has SSE4.1 (es__aug_sse41()), the AVX2 ones only when it has AVX2
 * (es__aug_avx2()), else the portable loop runs. The public operations take any SIMD path only
 * when es__aug_simd() (SSE2 allowed): all three follow core/cpu.h, so EDGESET_ISA=portable keeps
 * augment to its portable loops. Every path computes the same integers as the portable loop, so
 * the machine never changes a result. */
#include "core/cpu.h"

static inline int es__aug_simd(void)
{
  return es_cpu_has(ES_CPU_SSE2);
}
#if defined(__x86_64__) && defined(__GNUC__)
#define ES_AUG_X86 1
#include <immintrin.h>
#define ES_AUG_TARGET_SSE41 __attribute__((target("sse4.1")))
static inline int es__aug_sse41(void)
{
  return es_cpu_has(ES_CPU_SSE41);
}
static inline int es__aug_avx2(void)
{
  return es_cpu_has(ES_CPU_AVX2);
}
#endif

/* A new w x h image with src's channel count (uninitialised); caller frees. */
int es__aug_alloc_like(const es_image *src, uint32_t w, uint32_t h, es_image *dst,
                       es_error *err);

/* The portable loops of the operations that have SIMD paths, for tests that check the two
 * give the same bytes (same contract as es_aug_blur() etc.). The channel sums of contrast's
 * mean are plain C in both. */
int es__aug_hflip_portable(const es_image *src, es_image *dst, es_error *err);
int es__aug_brightness_portable(const es_image *src, int32_t delta, es_image *dst, es_error *err);
int es__aug_contrast_portable(const es_image *src, int32_t factor_e4, es_image *dst,
                              es_error *err);
int es__aug_affine_portable(const es_image *src, int32_t angle_cdeg, int32_t scale_e4,
                            es_image *dst, es_error *err);
int es__aug_blur_portable(const es_image *src, int32_t sigma_e2, int32_t radius, es_image *dst,
                          es_error *err);

/* The reflected ("101": ...2 1 | 0 1 2 ... n-1 | n-2 ...) index of i for n samples. */
static inline int64_t es__aug_reflect(int64_t i, uint32_t n)
{
  if (i >= 0 && i < (int64_t)n)
    return i;
  if (n == 1)
    return 0;
  /* within one reflection of the edges (no division): the same index as the general case */
  int64_t last = (int64_t)n - 1;
  if (i < 0 && i >= -last)
    return -i;
  if (i > last && i <= 2 * last)
    return 2 * last - i;
  int64_t period = 2 * (int64_t)(n - 1);
  int64_t m = i % period;
  if (m < 0)
    m += period;
  return m < (int64_t)n ? m : period - m;
}

#endif
