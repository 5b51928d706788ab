/* The per-row work of es_image_features() for RGB pixels with AVX2 (this file is compiled with
 * -mavx2 on x86-64; formats/image_stats.c calls it only on CPUs that have AVX2). One pass over
 * 32 pixels at a time does what the portable path does in five: split the channels, luma, its
 * sums and clip counts, and the saturation term. Same integer results, bit for bit
 * (tests/collect/test_features.c compares the two on random rows). */
#include "formats/features_internal.h"

#if defined(__x86_64__) && defined(__AVX2__)
#include <immintrin.h>
#include <string.h>

/* Byte shuffles that gather one channel of 16 interleaved RGB pixels from the three 16-byte
 * loads a, b, c (-1 zeroes a lane). */
#define Z -1
static const int8_t SHUF[3][3][16] = {
    {{0, 3, 6, 9, 12, 15, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z},
     {Z, Z, Z, Z, Z, Z, 2, 5, 8, 11, 14, Z, Z, Z, Z, Z},
     {Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, 1, 4, 7, 10, 13}},
    {{1, 4, 7, 10, 13, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z},
     {Z, Z, Z, Z, Z, 0, 3, 6, 9, 12, 15, Z, Z, Z, Z, Z},
     {Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, 2, 5, 8, 11, 14}},
    {{2, 5, 8, 11, 14, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z},
     {Z, Z, Z, Z, Z, 1, 4, 7, 10, 13, Z, Z, Z, Z, Z, Z},
     {Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, 0, 3, 6, 9, 12, 15}},
};
#undef Z

/* 16 bytes at p into the low lane, 16 bytes at p + 48 into the high lane: each lane then holds
 * its own 16 pixels' worth of one of the three 16-byte thirds. */
static inline __m256i load_lanes(const uint8_t *p)
{
  return _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)p)),
                                 _mm_loadu_si128((const __m128i *)(p + 48)), 1);
}

static inline __m256i mask(const int8_t m[16])
{
  return _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)m));
}

/* floor(num / den) for 8 pixels in single precision; num = dif * 65536 < 2^24 and
 * 1 <= den <= 255 are exact, and so is the truncated quotient (see saturation_sum() in
 * formats/image_stats.c). */
static inline __m256i quot(__m256i num, __m256i den)
{
  return _mm256_cvttps_epi32(_mm256_div_ps(_mm256_cvtepi32_ps(num), _mm256_cvtepi32_ps(den)));
}

void es__rgb_row_sums_avx2(const uint8_t *rgb, uint32_t n, uint8_t *luma, es__pixel_sums *ps)
{
  const __m256i z = _mm256_setzero_si256();
  const __m256i krg = _mm256_set1_epi16(77 | 51 << 8), kgb = _mm256_set1_epi16(99 | 29 << 8);
  const __m256i k128 = _mm256_set1_epi16(128);
  const __m256i one = _mm256_set1_epi8(1), two = _mm256_set1_epi8(2), k253 = _mm256_set1_epi8((char)253);
  const __m256i ra = mask(SHUF[0][0]), rb = mask(SHUF[0][1]), rc = mask(SHUF[0][2]);
  const __m256i ga = mask(SHUF[1][0]), gb = mask(SHUF[1][1]), gc = mask(SHUF[1][2]);
  const __m256i ba = mask(SHUF[2][0]), bb = mask(SHUF[2][1]), bc = mask(SHUF[2][2]);
  __m256i sum = z, sumsq = z, sat = z;
  __m256i cl = z, ch = z, clip_low = z, clip_high = z;
  unsigned steps = 0;
  uint32_t x = 0;
  /* 32 pixels a step, pixels 0-15 in the low lanes and 16-31 in the high ones; every operation
   * below stays within its lane, so the luma comes out in pixel order. 32-bit sums: n <= 65536
   * pixels put at most 4 * 65025 * 2048 < 2^31 into each sumsq lane and 4 * 65536 * 2048 =
   * 2^29 into each sat lane. The saturation terms are summed in whatever lane order the
   * unpacking leaves them. */
  for (; x + 32 <= n; x += 32) {
    const uint8_t *p = rgb + 3 * (size_t)x;
    __m256i a = load_lanes(p), b = load_lanes(p + 16), c = load_lanes(p + 32);
    __m256i r = _mm256_or_si256(_mm256_or_si256(_mm256_shuffle_epi8(a, ra),
                                                _mm256_shuffle_epi8(b, rb)),
                                _mm256_shuffle_epi8(c, rc));
    __m256i g = _mm256_or_si256(_mm256_or_si256(_mm256_shuffle_epi8(a, ga),
                                                _mm256_shuffle_epi8(b, gb)),
                                _mm256_shuffle_epi8(c, gc));
    __m256i bl = _mm256_or_si256(_mm256_or_si256(_mm256_shuffle_epi8(a, ba),
                                                 _mm256_shuffle_epi8(b, bb)),
                                 _mm256_shuffle_epi8(c, bc));

    __m256i mx = _mm256_max_epu8(_mm256_max_epu8(r, g), bl);
    __m256i dif = _mm256_sub_epi8(mx, _mm256_min_epu8(_mm256_min_epu8(r, g), bl));
    __m256i dl = _mm256_unpacklo_epi8(dif, z), dh = _mm256_unpackhi_epi8(dif, z);
    /* max = 0 only where dif = 0: dividing by 1 there gives the defined 0 */
    __m256i mx1 = _mm256_max_epu8(mx, one);
    __m256i ml = _mm256_unpacklo_epi8(mx1, z), mh = _mm256_unpackhi_epi8(mx1, z);
    /* unpack(z, d) puts d in the high half of each 32-bit lane: d * 65536. */
    sat = _mm256_add_epi32(sat, quot(_mm256_unpacklo_epi16(z, dl), _mm256_unpacklo_epi16(ml, z)));
    sat = _mm256_add_epi32(sat, quot(_mm256_unpackhi_epi16(z, dl), _mm256_unpackhi_epi16(ml, z)));
    sat = _mm256_add_epi32(sat, quot(_mm256_unpacklo_epi16(z, dh), _mm256_unpacklo_epi16(mh, z)));
    sat = _mm256_add_epi32(sat, quot(_mm256_unpackhi_epi16(z, dh), _mm256_unpackhi_epi16(mh, z)));

    /* 77 R + 150 G + 29 B as (77 R + 51 G) + (99 G + 29 B): each pair's weights add up to
     * 128, so neither signed 16-bit pair sum saturates; their sum + 128 < 65536 is taken
     * unsigned. */
    __m256i yl = _mm256_add_epi16(_mm256_maddubs_epi16(_mm256_unpacklo_epi8(r, g), krg),
                                  _mm256_maddubs_epi16(_mm256_unpacklo_epi8(g, bl), kgb));
    __m256i yh = _mm256_add_epi16(_mm256_maddubs_epi16(_mm256_unpackhi_epi8(r, g), krg),
                                  _mm256_maddubs_epi16(_mm256_unpackhi_epi8(g, bl), kgb));
    yl = _mm256_srli_epi16(_mm256_add_epi16(yl, k128), 8);
    yh = _mm256_srli_epi16(_mm256_add_epi16(yh, k128), 8);
    sumsq = _mm256_add_epi32(sumsq, _mm256_add_epi32(_mm256_madd_epi16(yl, yl),
                                                     _mm256_madd_epi16(yh, yh)));
    __m256i y8 = _mm256_packus_epi16(yl, yh);
    _mm256_storeu_si256((__m256i *)(luma + x), y8);
    sum = _mm256_add_epi64(sum, _mm256_sad_epu8(y8, z));
    /* cmpeq is -1 where the pixel clips: byte counters, widened every 255 steps */
    cl = _mm256_sub_epi8(cl, _mm256_cmpeq_epi8(_mm256_min_epu8(y8, two), y8));
    ch = _mm256_sub_epi8(ch, _mm256_cmpeq_epi8(_mm256_max_epu8(y8, k253), y8));
    if (++steps == 255) {
      clip_low = _mm256_add_epi64(clip_low, _mm256_sad_epu8(cl, z));
      clip_high = _mm256_add_epi64(clip_high, _mm256_sad_epu8(ch, z));
      cl = ch = z;
      steps = 0;
    }
  }
  clip_low = _mm256_add_epi64(clip_low, _mm256_sad_epu8(cl, z));
  clip_high = _mm256_add_epi64(clip_high, _mm256_sad_epu8(ch, z));
  uint32_t lanes[8];
  uint64_t s64[4], lo64[4], hi64[4], sq = 0, st = 0;
  _mm256_storeu_si256((__m256i *)lo64, clip_low);
  _mm256_storeu_si256((__m256i *)hi64, clip_high);
  _mm256_storeu_si256((__m256i *)s64, sum);
  _mm256_storeu_si256((__m256i *)lanes, sumsq);
  for (int i = 0; i < 8; i++)
    sq += lanes[i];
  _mm256_storeu_si256((__m256i *)lanes, sat);
  for (int i = 0; i < 8; i++)
    st += lanes[i];
  ps->sum += s64[0] + s64[1] + s64[2] + s64[3];
  ps->sumsq += sq;
  ps->sat += st;
  ps->low += lo64[0] + lo64[1] + lo64[2] + lo64[3];
  ps->high += hi64[0] + hi64[1] + hi64[2] + hi64[3];
  if (x < n)
    es__row_sums_portable(rgb + 3 * (size_t)x, n - x, 3, luma + x, ps);
}

/* Prefix sums 8 at a time: within each 128-bit lane in two shifted adds, then the low lane's
 * total onto the high lane, then the running total of the elements before. */
void es__prefix_u32_avx2(const uint32_t *v, uint32_t n, uint32_t *pre)
{
  const __m256i last = _mm256_set1_epi32(7);
  __m256i carry = _mm256_setzero_si256();
  uint32_t x = 0;
  pre[0] = 0;
  for (; x + 8 <= n; x += 8) {
    __m256i s = _mm256_loadu_si256((const __m256i *)(v + x));
    s = _mm256_add_epi32(s, _mm256_slli_si256(s, 4));
    s = _mm256_add_epi32(s, _mm256_slli_si256(s, 8));
    /* the low lane's total (its element 3) into every element of the high lane, 0 in the low */
    __m256i low = _mm256_permute2x128_si256(_mm256_shuffle_epi32(s, 0xff), s, 0x08);
    s = _mm256_add_epi32(_mm256_add_epi32(s, low), carry);
    _mm256_storeu_si256((__m256i *)(pre + x + 1), s);
    carry = _mm256_permutevar8x32_epi32(s, last);
  }
  uint32_t run = pre[x];
  for (; x < n; x++) {
    run += v[x];
    pre[x + 1] = run;
  }
}
#endif
