/* The per-row work of es_image_features() for RGB pixels with AVX-512 (F, BW and VBMI; this
 * file is compiled with those flags on x86-64 and called only on CPUs that have them). The
 * same steps as formats/image_stats_avx2.c on 64 pixels at a time, with the channels split by
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
#endif
