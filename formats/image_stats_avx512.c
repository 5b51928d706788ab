/* The per-row work of es_image_features() with AVX-512 (F, BW, VBMI and VNNI; this file is
 * compiled with those flags on x86-64, and each kernel is called only on CPUs that have what
 * it uses): the RGB row kernel and the two steps of the thumbnail's area sums. The RGB kernel
 * does the same steps as formats/image_stats_avx2.c on 64 pixels at a time, with the channels split by
 * two byte permutes each instead of nine shuffles: half the instructions per pixel, which
 * leaves the divider (the saturation quotients) as the limit. Same integer results, bit for
 * bit (tests/collect/test_features.c compares every kernel with the portable path). */
#include "formats/features_internal.h"

#if defined(__x86_64__) && defined(__AVX512F__) && defined(__AVX512BW__) && \
    defined(__AVX512VBMI__)
#include <immintrin.h>

/* Index vectors that gather channel ch of 64 interleaved RGB pixels (192 bytes in a, b, c)
 * in two permutes: first takes pixel i's byte at = 3i + ch from a:b (only the low 7 bits
 * count), second keeps those below 128 and takes the others (at - 128) from c. */
typedef struct split_idx {
  __m512i first[3], second[3];
} split_idx;

static inline void make_split_idx(split_idx *s)
{
  const __m512i iota = _mm512_set_epi8(
      63, 62, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43, 42,
      41, 40, 39, 38, 37, 36, 35, 34, 33, 32, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20,
      19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  const __m512i i3 = _mm512_add_epi8(_mm512_add_epi8(iota, iota), iota);
  for (int ch = 0; ch < 3; ch++) {
    __m512i at = _mm512_add_epi8(i3, _mm512_set1_epi8((char)ch));
    s->first[ch] = at;
    s->second[ch] = _mm512_mask_sub_epi8(iota, _mm512_cmpge_epu8_mask(at, _mm512_set1_epi8((char)128)),
                                         at, _mm512_set1_epi8(64));
  }
}

static inline __m512i channel(const split_idx *s, __m512i a, __m512i b, __m512i c, int ch)
{
  return _mm512_permutex2var_epi8(_mm512_permutex2var_epi8(a, s->first[ch], b), s->second[ch],
                                  c);
}

/* floor(dif * 65536 / max) for the 16 pixels 16k .. 16k + 15 (see quot() in
 * formats/image_stats_avx2.c: exact in single precision). One masked byte permute spreads
 * them into 32-bit lanes: spread holds 16k + i in every byte of lane i, the masks keep byte 2
 * (dif * 65536) or byte 0 (max). */
static inline __m512i quot16(__m512i dif, __m512i max, __m512i spread)
{
  __m512i num = _mm512_maskz_permutexvar_epi8(0x4444444444444444ULL, spread, dif);
  __m512i den = _mm512_maskz_permutexvar_epi8(0x1111111111111111ULL, spread, max);
  return _mm512_cvttps_epi32(_mm512_div_ps(_mm512_cvtepi32_ps(num), _mm512_cvtepi32_ps(den)));
}

void es__rgb_row_sums_avx512(const uint8_t *rgb, uint32_t n, uint8_t *luma, es__pixel_sums *ps)
{
  split_idx idx;
  make_split_idx(&idx);
  __m512i spread[4];
  for (int k = 0; k < 4; k++)
    spread[k] = _mm512_mullo_epi32(
        _mm512_add_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                         _mm512_set1_epi32(16 * k)),
        _mm512_set1_epi32(0x01010101));
  const __m512i z = _mm512_setzero_si512();
  const __m512i krg = _mm512_set1_epi16(77 | 51 << 8), kgb = _mm512_set1_epi16(99 | 29 << 8);
  const __m512i k128 = _mm512_set1_epi16(128), one = _mm512_set1_epi8(1);
  const __m512i two = _mm512_set1_epi8(2), k253 = _mm512_set1_epi8((char)253);
  __m512i sum = z, sumsq = z, sat = z, cl = z, ch = z, clip_low = z, clip_high = z;
  unsigned steps = 0;
  uint32_t x = 0;
  /* 64 pixels a step. 32-bit sums: n <= 65536 pixels put at most 4 * 65025 * 1024 < 2^31 into
   * each sumsq lane and 4 * 65536 * 1024 = 2^28 into each sat lane. */
  for (; x + 64 <= n; x += 64) {
    const uint8_t *p = rgb + 3 * (size_t)x;
    __m512i a = _mm512_loadu_si512(p), b = _mm512_loadu_si512(p + 64),
            c = _mm512_loadu_si512(p + 128);
    __m512i r = channel(&idx, a, b, c, 0), g = channel(&idx, a, b, c, 1),
            bl = channel(&idx, a, b, c, 2);

    __m512i mx = _mm512_max_epu8(_mm512_max_epu8(r, g), bl);
    __m512i dif = _mm512_sub_epi8(mx, _mm512_min_epu8(_mm512_min_epu8(r, g), bl));
    /* max = 0 only where dif = 0: dividing by 1 there gives the defined 0 */
    __m512i mx1 = _mm512_max_epu8(mx, one);
    for (int k = 0; k < 4; k++)
      sat = _mm512_add_epi32(sat, quot16(dif, mx1, spread[k]));

    /* 77 R + 150 G + 29 B as two pairs whose weights add up to 128 (see the AVX2 kernel) */
    __m512i yl = _mm512_add_epi16(_mm512_maddubs_epi16(_mm512_unpacklo_epi8(r, g), krg),
                                  _mm512_maddubs_epi16(_mm512_unpacklo_epi8(g, bl), kgb));
    __m512i yh = _mm512_add_epi16(_mm512_maddubs_epi16(_mm512_unpackhi_epi8(r, g), krg),
                                  _mm512_maddubs_epi16(_mm512_unpackhi_epi8(g, bl), kgb));
    yl = _mm512_srli_epi16(_mm512_add_epi16(yl, k128), 8);
    yh = _mm512_srli_epi16(_mm512_add_epi16(yh, k128), 8);
    sumsq = _mm512_add_epi32(sumsq, _mm512_add_epi32(_mm512_madd_epi16(yl, yl),
                                                     _mm512_madd_epi16(yh, yh)));
    __m512i y8 = _mm512_packus_epi16(yl, yh);
    _mm512_storeu_si512(luma + x, y8);
    sum = _mm512_add_epi64(sum, _mm512_sad_epu8(y8, z));
    /* byte counters of the clipped pixels, widened every 255 steps */
    cl = _mm512_mask_add_epi8(cl, _mm512_cmple_epu8_mask(y8, two), cl, one);
    ch = _mm512_mask_add_epi8(ch, _mm512_cmpge_epu8_mask(y8, k253), ch, one);
    if (++steps == 255) {
      clip_low = _mm512_add_epi64(clip_low, _mm512_sad_epu8(cl, z));
      clip_high = _mm512_add_epi64(clip_high, _mm512_sad_epu8(ch, z));
      cl = ch = z;
      steps = 0;
    }
  }
  clip_low = _mm512_add_epi64(clip_low, _mm512_sad_epu8(cl, z));
  clip_high = _mm512_add_epi64(clip_high, _mm512_sad_epu8(ch, z));
  ps->sum += (uint64_t)_mm512_reduce_add_epi64(sum);
  ps->sumsq += (uint64_t)_mm512_reduce_add_epi64(
      _mm512_add_epi64(_mm512_cvtepu32_epi64(_mm512_castsi512_si256(sumsq)),
                       _mm512_cvtepu32_epi64(_mm512_extracti64x4_epi64(sumsq, 1))));
  ps->sat += (uint64_t)_mm512_reduce_add_epi64(
      _mm512_add_epi64(_mm512_cvtepu32_epi64(_mm512_castsi512_si256(sat)),
                       _mm512_cvtepu32_epi64(_mm512_extracti64x4_epi64(sat, 1))));
  ps->low += (uint64_t)_mm512_reduce_add_epi64(clip_low);
  ps->high += (uint64_t)_mm512_reduce_add_epi64(clip_high);
  if (x < n)
    es__row_sums_portable(rgb + 3 * (size_t)x, n - x, 3, luma + x, ps);
}

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
