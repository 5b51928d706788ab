/* The two steps of the thumbnail's exact area sums in es_image_features() with AVX-512 (F, BW
 * and VNNI; this file is compiled with those flags on x86-64 and called only on CPUs that have
 * them): the vertical weighted sums of source rows and the horizontal reduction of a thumbnail
 * row. Same integer results as the portable paths in formats/image_stats.c, bit for bit
 * (tests/collect/test_features.c compares them). */
#include "formats/features_internal.h"

#if defined(__x86_64__) && defined(__AVX512F__) && defined(__AVX512BW__) && \
    defined(__AVX512VNNI__)
#include <immintrin.h>

/* vacc += weight * luma, 16 columns a step, in one VNNI instruction: each 32-bit lane holds the
 * 16-bit pair (luma, 0), the weight vector (weight, 0), and vpdpwssd adds their dot product
 * (below 2^15, as weight <= ES__THUMB) with the same wrap-around as the portable sum. */
void es__add_weighted_row_avx512(uint32_t *vacc, const uint8_t *luma, uint32_t n,
                                 uint16_t weight)
{
  const __m512i wv = _mm512_set1_epi32(weight);
  uint32_t x = 0;
  for (; x + 32 <= n; x += 32) {
    __m512i l0 = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(luma + x)));
    __m512i l1 = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(luma + x + 16)));
    _mm512_storeu_si512(vacc + x, _mm512_dpwssd_epi32(_mm512_loadu_si512(vacc + x), l0, wv));
    _mm512_storeu_si512(vacc + x + 16,
                        _mm512_dpwssd_epi32(_mm512_loadu_si512(vacc + x + 16), l1, wv));
  }
  for (; x < n; x++)
    vacc[x] += (uint16_t)(luma[x] * weight);
}

/* pre[0] = 0, pre[x + 1] = v[0] + ... + v[x] modulo 2^32: 16 at a time, each block's running
 * sums in four shift-and-add steps plus the carry from the block before. */
static void prefix_u32(const uint32_t *v, uint32_t n, uint32_t *pre)
{
  const __m512i z = _mm512_setzero_si512(), last = _mm512_set1_epi32(15);
  __m512i carry = z;
  uint32_t x = 0;
  pre[0] = 0;
  for (; x + 16 <= n; x += 16) {
    __m512i s = _mm512_loadu_si512(v + x);
    s = _mm512_add_epi32(s, _mm512_alignr_epi32(s, z, 15));
    s = _mm512_add_epi32(s, _mm512_alignr_epi32(s, z, 14));
    s = _mm512_add_epi32(s, _mm512_alignr_epi32(s, z, 12));
    s = _mm512_add_epi32(s, _mm512_alignr_epi32(s, z, 8));
    s = _mm512_add_epi32(s, carry);
    _mm512_storeu_si512(pre + x + 1, s);
    carry = _mm512_permutexvar_epi32(last, s);
  }
  uint32_t run = pre[x];
  for (; x < n; x++) {
    run += v[x];
    pre[x + 1] = run;
  }
}

/* The horizontal step: the prefix sums, then the value at each of the ES__THUMB + 1 column
 * edges, T * pre[at] + rem * vacc[at], split in its wrapping part pre[at] and its exact part
 * rem * vacc[at] (gathered 16 edges at a time), and each column the difference of its edges. */
void es__reduce_row_avx512(const uint32_t *vacc, uint32_t w, const uint32_t *at,
                           const uint32_t *rem, uint32_t *pre, uint64_t *out)
{
  enum { E = ES__THUMB + 1, EPAD = (E + 15) / 16 * 16 };
  uint32_t p[EPAD];
  uint64_t rv[EPAD];
  if (w > INT32_MAX) { /* beyond the gathers' signed 32-bit indices */
    es__reduce_row_portable(vacc, w, at, rem, pre, out);
    return;
  }
  prefix_u32(vacc, w, pre);
  for (uint32_t j = 0; j < E; j += 16) {
    __mmask16 m = E - j >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (E - j)) - 1);
    __m512i idx = _mm512_maskz_loadu_epi32(m, at + j);
    __m512i r = _mm512_maskz_loadu_epi32(m, rem + j);
    __m512i pv = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), m, idx, pre, 4);
    __m512i vv = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), m, idx, vacc, 4);
    _mm512_storeu_si512(p + j, pv);
    __m512i lo = _mm512_mul_epu32(_mm512_cvtepu32_epi64(_mm512_castsi512_si256(vv)),
                                  _mm512_cvtepu32_epi64(_mm512_castsi512_si256(r)));
    __m512i hi = _mm512_mul_epu32(_mm512_cvtepu32_epi64(_mm512_extracti64x4_epi64(vv, 1)),
                                  _mm512_cvtepu32_epi64(_mm512_extracti64x4_epi64(r, 1)));
    _mm512_storeu_si512(rv + j, lo);
    _mm512_storeu_si512(rv + j + 8, hi);
  }
  const __m512i t = _mm512_set1_epi64(ES__THUMB);
  for (uint32_t j = 0; j < ES__THUMB; j += 8) {
    __m256i d = _mm256_sub_epi32(_mm256_loadu_si256((const __m256i *)(p + j + 1)),
                                 _mm256_loadu_si256((const __m256i *)(p + j)));
    __m512i col = _mm512_add_epi64(_mm512_mul_epu32(_mm512_cvtepu32_epi64(d), t),
                                   _mm512_sub_epi64(_mm512_loadu_si512(rv + j + 1),
                                                    _mm512_loadu_si512(rv + j)));
    _mm512_storeu_si512(out + j, _mm512_add_epi64(_mm512_loadu_si512(out + j), col));
  }
}
#endif
