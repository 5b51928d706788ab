/* The point and copy operations of augment: flips, quarter turns, translation, brightness,
 * contrast, gamma, saturation, noise and cutout. All arithmetic is on integers (contrast and
 * saturation factors in Q12, the gamma curve from an integer-only table), so a variant's
 * pixels are the same on every machine. Alpha (channel 2 of 2, 4 of 4) is never changed by a
 * colour operation. Loops meant to be vectorised are built with an AVX2 clone on x86-64. */
#include <stdlib.h>
#include <string.h>

#include "augment/augment_internal.h"
#include "core/image_ops.h"

int es__aug_alloc_like(const es_image *src, uint32_t w, uint32_t h, es_image *dst,
                       es_error *err)
{
  memset(dst, 0, sizeof *dst);
  return es_image_alloc(dst, w, h, src->channels, err);
}

static inline uint8_t clamp255(int32_t v)
{
  return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* ---- geometry ---- */

ES_AUG_VECTORIZE static void hflip_row(const uint8_t *restrict s, uint8_t *restrict d, uint32_t w,
                                       uint32_t c)
{
  switch (c) {
  case 1:
    for (uint32_t x = 0; x < w; x++)
      d[x] = s[w - 1 - x];
    break;
  case 3:
    for (uint32_t x = 0; x < w; x++) {
      const uint8_t *p = s + (size_t)(w - 1 - x) * 3;
      d[3 * x] = p[0];
      d[3 * x + 1] = p[1];
      d[3 * x + 2] = p[2];
    }
    break;
  case 4: {
    const uint32_t *s4 = (const uint32_t *)(const void *)s;
    uint32_t *d4 = (uint32_t *)(void *)d;
    for (uint32_t x = 0; x < w; x++)
      memcpy(&d4[x], &s4[w - 1 - x], 4);
    break;
  }
  default:
    for (uint32_t x = 0; x < w; x++)
      memcpy(d + (size_t)x * c, s + (size_t)(w - 1 - x) * c, c);
  }
}

#ifdef ES_AUG_X86
/* A 3-channel row reversed 16 pixels (48 bytes, three vectors A B C) at a time: output vector
 * v takes its lanes from the source vectors with pshufb (mask lane -128 = zero) and ORs them.
 * Output pixel i of a block is source pixel 15 - i of the mirrored block. Returns the pixels
 * done (a multiple of 16); the portable loop finishes the middle. */
ES_AUG_TARGET_SSE41 static uint32_t hflip_row3_sse(const uint8_t *restrict s,
                                                   uint8_t *restrict d, uint32_t w)
{
#define M(...) _mm_setr_epi8(__VA_ARGS__)
  const __m128i m01 = M(-128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128,
                        -128, -128, -128, 14);
  const __m128i m02 = M(13, 14, 15, 10, 11, 12, 7, 8, 9, 4, 5, 6, 1, 2, 3, -128);
  const __m128i m10 = M(-128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128,
                        -128, -128, 15, -128);
  const __m128i m11 = M(15, -128, 11, 12, 13, 8, 9, 10, 5, 6, 7, 2, 3, 4, -128, 0);
  const __m128i m12 = M(-128, 0, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128,
                        -128, -128, -128, -128);
  const __m128i m20 = M(-128, 12, 13, 14, 9, 10, 11, 6, 7, 8, 3, 4, 5, 0, 1, 2);
  const __m128i m21 = M(1, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128,
                        -128, -128, -128, -128);
#undef M
  uint32_t x = 0;
  for (; x + 16 <= w; x += 16) {
    const uint8_t *p = s + (size_t)(w - 16 - x) * 3;
    __m128i a = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(p + 16));
    __m128i c = _mm_loadu_si128((const __m128i *)(const void *)(p + 32));
    __m128i d0 = _mm_or_si128(_mm_shuffle_epi8(b, m01), _mm_shuffle_epi8(c, m02));
    __m128i d1 = _mm_or_si128(_mm_or_si128(_mm_shuffle_epi8(a, m10), _mm_shuffle_epi8(b, m11)),
                              _mm_shuffle_epi8(c, m12));
    __m128i d2 = _mm_or_si128(_mm_shuffle_epi8(a, m20), _mm_shuffle_epi8(b, m21));
    uint8_t *o = d + (size_t)x * 3;
    _mm_storeu_si128((__m128i *)(void *)o, d0);
    _mm_storeu_si128((__m128i *)(void *)(o + 16), d1);
    _mm_storeu_si128((__m128i *)(void *)(o + 32), d2);
  }
  return x;
}
#endif

static int hflip(const es_image *src, es_image *dst, es_error *err, int simd)
{
  int rc = es__aug_alloc_like(src, src->width, src->height, dst, err);
  if (rc)
    return rc;
  size_t stride = es_image_stride(src);
  uint32_t w = src->width, c = src->channels;
#ifdef ES_AUG_X86
  if (simd && c == 3 && w >= 16 && es__aug_sse41()) {
    for (uint32_t y = 0; y < src->height; y++) {
      const uint8_t *s = src->data + y * stride;
      uint8_t *d = dst->data + y * stride;
      uint32_t done = hflip_row3_sse(s, d, w);
      /* output pixels done..w-1 come from source pixels w-1-done..0 */
      hflip_row(s, d + (size_t)done * 3, w - done, 3);
    }
    return ES_OK;
  }
#else
  (void)simd;
#endif
  for (uint32_t y = 0; y < src->height; y++)
    hflip_row(src->data + y * stride, dst->data + y * stride, w, c);
  return ES_OK;
}

int es_aug_hflip(const es_image *src, es_image *dst, es_error *err)
{
  return hflip(src, dst, err, es__aug_simd());
}

int es_aug_vflip(const es_image *src, es_image *dst, es_error *err)
{
  int rc = es__aug_alloc_like(src, src->width, src->height, dst, err);
  if (rc)
    return rc;
  size_t stride = es_image_stride(src);
  for (uint32_t y = 0; y < src->height; y++)
    memcpy(dst->data + y * stride, src->data + (size_t)(src->height - 1 - y) * stride, stride);
  return ES_OK;
}

int es_aug_rot90(const es_image *src, int quarters, es_image *dst, es_error *err)
{
  if (quarters < 1 || quarters > 3)
    return es_error_set(err, ES_EUSAGE, "rot90: %d quarter turns (1 to 3)", quarters);
  uint32_t w = src->width, h = src->height, c = src->channels;
  int rc = es__aug_alloc_like(src, quarters == 2 ? w : h, quarters == 2 ? h : w, dst, err);
  if (rc)
    return rc;
  size_t dstride = es_image_stride(dst);
  for (uint32_t y = 0; y < h; y++)
    for (uint32_t x = 0; x < w; x++) {
      uint32_t dx, dy;
      if (quarters == 1) { /* counter-clockwise: the right column becomes the top row */
        dx = y;
        dy = w - 1 - x;
      } else if (quarters == 2) {
        dx = w - 1 - x;
        dy = h - 1 - y;
      } else {
        dx = h - 1 - y;
        dy = x;
      }
      memcpy(dst->data + dy * dstride + (size_t)dx * c,
             src->data + ((size_t)y * w + x) * c, c);
    }
  return ES_OK;
}

int es_aug_translate(const es_image *src, int32_t dx, int32_t dy, es_image *dst, es_error *err)
{
  uint32_t w = src->width, h = src->height, c = src->channels;
  uint32_t *xmap = malloc((size_t)w * sizeof *xmap);
  if (!xmap)
    return es_error_set(err, ES_ENOMEM, "out of memory");
  int rc = es__aug_alloc_like(src, w, h, dst, err);
  if (rc) {
    free(xmap);
    return rc;
  }
  for (uint32_t x = 0; x < w; x++)
    xmap[x] = (uint32_t)es__aug_reflect((int64_t)x - dx, w);
  size_t stride = es_image_stride(src);
  for (uint32_t y = 0; y < h; y++) {
    const uint8_t *s = src->data + (size_t)es__aug_reflect((int64_t)y - dy, h) * stride;
    uint8_t *d = dst->data + y * stride;
    for (uint32_t x = 0; x < w; x++)
      memcpy(d + (size_t)x * c, s + (size_t)xmap[x] * c, c);
  }
  free(xmap);
  return ES_OK;
}

int es_aug_cutout(const es_image *src, uint32_t x, uint32_t y, uint32_t cw, uint32_t ch,
                  es_image *dst, es_error *err)
{
  if (x > src->width || cw > src->width - x || y > src->height || ch > src->height - y)
    return es_error_set(err, ES_EUSAGE, "cutout: rectangle outside the %ux%u image",
                        src->width, src->height);
  int rc = es__aug_alloc_like(src, src->width, src->height, dst, err);
  if (rc)
    return rc;
  memcpy(dst->data, src->data, es_image_size(src));
  uint32_t c = src->channels, colour = (c == 2 || c == 4) ? c - 1 : c;
  for (uint32_t r = y; r < y + ch; r++) {
    uint8_t *d = dst->data + (size_t)r * es_image_stride(dst) + (size_t)x * c;
    for (uint32_t k = 0; k < cw; k++)
      memset(d + (size_t)k * c, 128, colour);
  }
  return ES_OK;
}

/* ---- colour ---- */

/* Whether sample i of an interleaved row is colour (not alpha). */
static inline int is_colour(uint32_t c, size_t i)
{
  return !((c == 2 || c == 4) && i % c == c - 1);
}

ES_AUG_VECTORIZE static void add_sat(const uint8_t *restrict s, uint8_t *restrict d, size_t n,
                                     int32_t delta, int simd)
{
  size_t i = 0;
#ifndef ES_AUG_X86
  (void)simd;
#else
  /* delta in [-255, 255]: a byte-saturating add or subtract of |delta| is v + delta clamped */
  if (simd && delta >= -255 && delta <= 255) {
    __m128i k = _mm_set1_epi8((char)(uint8_t)(delta < 0 ? -delta : delta));
    for (; i + 16 <= n; i += 16) {
      __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
      v = delta < 0 ? _mm_subs_epu8(v, k) : _mm_adds_epu8(v, k);
      _mm_storeu_si128((__m128i *)(void *)(d + i), v);
    }
  }
#endif
  for (; i < n; i++) {
    int32_t v = s[i] + delta;
    d[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
  }
}

/* Puts alpha samples of src back into dst after a whole-buffer colour pass. */
static void restore_alpha(const es_image *src, es_image *dst)
{
  uint32_t c = src->channels;
  if (c != 2 && c != 4)
    return;
  size_t n = es_image_size(src);
  for (size_t i = c - 1; i < n; i += c)
    dst->data[i] = src->data[i];
}

static int brightness(const es_image *src, int32_t delta, es_image *dst, es_error *err, int simd)
{
  int rc = es__aug_alloc_like(src, src->width, src->height, dst, err);
  if (rc)
    return rc;
  add_sat(src->data, dst->data, es_image_size(src), delta, simd);
  restore_alpha(src, dst);
  return ES_OK;
}

int es_aug_brightness(const es_image *src, int32_t delta, es_image *dst, es_error *err)
{
  return brightness(src, delta, dst, err, es__aug_simd());
}

/* 16-bit lane sums of whole 48-byte blocks (48 is a multiple of 3 and 4, so lane j always
 * holds channel j % c); at most 257 blocks per flush keep a lane below 65536. */
ES_AUG_VECTORIZE static void lane_sums48(const uint8_t *restrict p, size_t blocks,
                                         uint64_t *restrict out)
{
  while (blocks) {
    size_t nb = blocks < 257 ? blocks : 257;
    uint16_t acc[48] = {0};
    for (size_t b = 0; b < nb; b++, p += 48)
      for (int j = 0; j < 48; j++)
        acc[j] = (uint16_t)(acc[j] + p[j]);
    for (int j = 0; j < 48; j++)
      out[j] += acc[j];
    blocks -= nb;
  }
}

/* sum[k] = the sum of channel k's samples of an interleaved buffer of n bytes, c channels
 * (1 to 4). */
static void channel_sums(const uint8_t *p, size_t n, uint32_t c, uint64_t sum[4])
{
  uint64_t lanes[48] = {0};
  size_t blocks = n / 48;
  lane_sums48(p, blocks, lanes);
  memset(sum, 0, 4 * sizeof *sum);
  for (int j = 0; j < 48; j++)
    sum[j % c] += lanes[j];
  for (size_t i = blocks * 48; i < n; i++)
    sum[i % c] += p[i];
}

/* Mean luma of the image, round((77 sum R + 150 sum G + 29 sum B) / (256 n)) for colour
 * (the mean of the exact BT.601 luma, es_luma_rgb() without its per-pixel rounding), the
 * rounded mean sample for gray; integers only. */
static int32_t mean_luma(const es_image *img)
{
  uint64_t n = (uint64_t)img->width * img->height;
  if (!n)
    return 0;
  uint32_t c = img->channels;
  uint64_t sum[4];
  channel_sums(img->data, es_image_size(img), c, sum);
  if (c < 3)
    return (int32_t)((sum[0] + n / 2) / n);
  uint64_t num = 77 * sum[0] + 150 * sum[1] + 29 * sum[2], den = 256 * n;
  return (int32_t)((num + den / 2) / den);
}

/* d = centre + ((s - centre) * f_q12 + 2048) >> 12, saturated */
#ifdef ES_AUG_X86
/* scale_about()'s 16-bit path below on 32 samples per AVX2 register; unpack and packus work
 * within each 128-bit half and undo each other, so the samples stay in order. Returns the
 * samples done. */
__attribute__((target("avx2"))) static size_t scale_about_avx2(const uint8_t *restrict s,
                                                               uint8_t *restrict d, size_t n,
                                                               int32_t centre, int32_t f_q12)
{
  const __m256i zero = _mm256_setzero_si256(), vc = _mm256_set1_epi16((short)centre);
  const __m256i vf = _mm256_set1_epi16((short)f_q12);
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)(s + i));
    __m256i lo = _mm256_slli_epi16(_mm256_sub_epi16(_mm256_unpacklo_epi8(v, zero), vc), 4);
    __m256i hi = _mm256_slli_epi16(_mm256_sub_epi16(_mm256_unpackhi_epi8(v, zero), vc), 4);
    lo = _mm256_add_epi16(_mm256_mulhi_epi16(lo, vf),
                          _mm256_srli_epi16(_mm256_mullo_epi16(lo, vf), 15));
    hi = _mm256_add_epi16(_mm256_mulhi_epi16(hi, vf),
                          _mm256_srli_epi16(_mm256_mullo_epi16(hi, vf), 15));
    _mm256_storeu_si256((__m256i *)(void *)(d + i),
                        _mm256_packus_epi16(_mm256_add_epi16(lo, vc), _mm256_add_epi16(hi, vc)));
  }
  return i;
}
#endif

ES_AUG_VECTORIZE static void scale_about(const uint8_t *restrict s, uint8_t *restrict d, size_t n,
                                         int32_t centre, int32_t f_q12, int simd)
{
  size_t i = 0;
#ifndef ES_AUG_X86
  (void)simd;
#else
  if (simd && f_q12 >= 0 && f_q12 < 32768 && centre >= 0 && centre <= 255 && es__aug_avx2())
    i = scale_about_avx2(s, d, n, centre, f_q12);
  /* In 16-bit lanes, for 0 <= f < 2^15 and t = 16 (s - centre) in [-4080, 4080]:
   * (t f + 2^15) >> 16 = (((s - centre) f + 2048) >> 12), and it is the high half of the
   * 32-bit product plus bit 15 of its low half (the carry of adding 2^15). centre plus that
   * fits 16 bits, and packus clamps to 0..255 as the portable loop does. */
  if (simd && f_q12 >= 0 && f_q12 < 32768 && centre >= 0 && centre <= 255) {
    const __m128i zero = _mm_setzero_si128(), vc = _mm_set1_epi16((short)centre);
    const __m128i vf = _mm_set1_epi16((short)f_q12);
    for (; i + 16 <= n; i += 16) {
      __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
      __m128i lo = _mm_slli_epi16(_mm_sub_epi16(_mm_unpacklo_epi8(v, zero), vc), 4);
      __m128i hi = _mm_slli_epi16(_mm_sub_epi16(_mm_unpackhi_epi8(v, zero), vc), 4);
      lo = _mm_add_epi16(_mm_mulhi_epi16(lo, vf), _mm_srli_epi16(_mm_mullo_epi16(lo, vf), 15));
      hi = _mm_add_epi16(_mm_mulhi_epi16(hi, vf), _mm_srli_epi16(_mm_mullo_epi16(hi, vf), 15));
      _mm_storeu_si128((__m128i *)(void *)(d + i),
                       _mm_packus_epi16(_mm_add_epi16(lo, vc), _mm_add_epi16(hi, vc)));
    }
  }
#endif
  for (; i < n; i++) {
    int32_t v = centre + (((s[i] - centre) * f_q12 + 2048) >> 12);
    d[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
  }
}

static int32_t factor_q12(int32_t factor_e4)
{
  return (int32_t)(((int64_t)factor_e4 * 4096 + 5000) / 10000);
}

static int contrast(const es_image *src, int32_t factor_e4, es_image *dst, es_error *err,
                    int simd)
{
  int rc = es__aug_alloc_like(src, src->width, src->height, dst, err);
  if (rc)
    return rc;
  scale_about(src->data, dst->data, es_image_size(src), mean_luma(src), factor_q12(factor_e4),
              simd);
  restore_alpha(src, dst);
  return ES_OK;
}

int es_aug_contrast(const es_image *src, int32_t factor_e4, es_image *dst, es_error *err)
{
  return contrast(src, factor_e4, dst, err, es__aug_simd());
}

int es__aug_hflip_portable(const es_image *src, es_image *dst, es_error *err)
{
  return hflip(src, dst, err, 0);
}

int es__aug_brightness_portable(const es_image *src, int32_t delta, es_image *dst, es_error *err)
{
  return brightness(src, delta, dst, err, 0);
}

int es__aug_contrast_portable(const es_image *src, int32_t factor_e4, es_image *dst,
                              es_error *err)
{
  return contrast(src, factor_e4, dst, err, 0);
}

int es_aug_gamma(const es_image *src, int32_t gamma_e4, es_image *dst, es_error *err)
{
  uint8_t lut[256];
  es_aug_gamma_lut(gamma_e4, lut);
  int rc = es__aug_alloc_like(src, src->width, src->height, dst, err);
  if (rc)
    return rc;
  size_t n = es_image_size(src);
  for (size_t i = 0; i < n; i++)
    dst->data[i] = lut[src->data[i]];
  restore_alpha(src, dst);
  return ES_OK;
}

int es_aug_saturation(const es_image *src, int32_t factor_e4, es_image *dst, es_error *err)
{
  int rc = es__aug_alloc_like(src, src->width, src->height, dst, err);
  if (rc)
    return rc;
  uint32_t c = src->channels;
  size_t npx = (size_t)src->width * src->height;
  if (c < 3) {
    memcpy(dst->data, src->data, es_image_size(src));
    return ES_OK;
  }
  int32_t f = factor_q12(factor_e4);
  for (size_t i = 0; i < npx; i++) {
    const uint8_t *s = src->data + i * c;
    uint8_t *d = dst->data + i * c;
    int32_t l = es_luma_rgb(s[0], s[1], s[2]);
    for (int k = 0; k < 3; k++)
      d[k] = clamp255(l + (((s[k] - l) * f + 2048) >> 12));
    if (c == 4)
      d[3] = s[3];
  }
  return ES_OK;
}

/* The noise of sample i: (sigma_e2 * S) / 3783768 rounded half away from zero, where S is the
 * sum of the four 16-bit quarters of draw i minus 131070 (Irwin-Hall: mean 0, standard
 * deviation 65536 / sqrt(3) = 37837.68, so the noise has standard deviation sigma). */
int es_aug_noise(const es_image *src, int32_t sigma_e2, uint64_t seed, es_image *dst,
                 es_error *err)
{
  int rc = es__aug_alloc_like(src, src->width, src->height, dst, err);
  if (rc)
    return rc;
  size_t n = es_image_size(src);
  uint32_t c = src->channels;
  for (size_t i = 0; i < n; i++) {
    if (!is_colour(c, i)) {
      dst->data[i] = src->data[i];
      continue;
    }
    uint64_t r = es_aug_mix64(seed + (uint64_t)(i + 1) * UINT64_C(0x9e3779b97f4a7c15));
    int64_t s = (int64_t)(r & 0xffff) + (int64_t)((r >> 16) & 0xffff) +
                (int64_t)((r >> 32) & 0xffff) + (int64_t)(r >> 48) - 131070;
    int64_t num = s * sigma_e2;
    int64_t q = (num >= 0 ? num + 1891884 : num - 1891884) / 3783768;
    dst->data[i] = clamp255((int32_t)(src->data[i] + q));
  }
  return ES_OK;
}
