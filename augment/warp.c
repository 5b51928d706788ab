/* The resampling operations of augment: rotation and scaling about the centre (one affine
 * warp), the resized crop, and the separable Gaussian blur.
 *
 * Affine: output pixel (x, y) samples the source at the inverse map, computed exactly in
 * integers: with u = 2x - (w-1) and v = 2y - (h-1) (twice the offset from the centre),
 * sx = (A u - B v + (w-1) 2^16) / 2^17 and sy = (B u + A v + (h-1) 2^16) / 2^17, where A and
 * B are cos and sin divided by the scale in Q16. Stepping x adds 2A and 2B, which is the same
 * sum. The sample is bilinear with Q8 weights (the position floored to 1/256 pixel), and
 * positions outside the image are reflected (101). Blur: Q14 kernel taps, a horizontal pass
 * into 16-bit Q8 rows and a vertical pass with 32-bit sums, rounded once at the end. */
#include <stdlib.h>
#include <string.h>

#include "augment/augment_internal.h"

static inline uint8_t bilerp(const uint8_t *p00, const uint8_t *p01, const uint8_t *p10,
                             const uint8_t *p11, uint32_t fx, uint32_t fy, int k)
{
  uint32_t top = p00[k] * (256 - fx) + p01[k] * fx;
  uint32_t bot = p10[k] * (256 - fx) + p11[k] * fx;
  return (uint8_t)((top * (256 - fy) + bot * fy + 32768) >> 16);
}

/* Output pixel at source position (sx, sy) (Q17) written to d: bilinear with Q8 weights, the
 * 2x2 neighbourhood reflected when it leaves the image. */
static inline __attribute__((always_inline)) void warp_px(const es_image *src, uint8_t *d,
                                                          int64_t sx, int64_t sy, uint32_t C)
{
  const uint32_t sw = src->width, sh = src->height;
  const size_t stride = (size_t)sw * C;
  const uint8_t *base = src->data;
  /* GCC and Clang shift negative values arithmetically (floor), as wanted here. */
  int64_t qx = sx >> 9, qy = sy >> 9; /* Q8 */
  int64_t x0 = qx >> 8, y0 = qy >> 8;
  uint32_t fx = (uint32_t)(qx & 255), fy = (uint32_t)(qy & 255);
  const uint8_t *p00, *p01, *p10, *p11;
  if (x0 >= 0 && y0 >= 0 && x0 + 1 < (int64_t)sw && y0 + 1 < (int64_t)sh) {
    p00 = base + (size_t)y0 * stride + (size_t)x0 * C;
    p01 = p00 + C;
    p10 = p00 + stride;
    p11 = p10 + C;
  } else {
    size_t xa = (size_t)es__aug_reflect(x0, sw) * C, xb = (size_t)es__aug_reflect(x0 + 1, sw) * C;
    size_t ya = (size_t)es__aug_reflect(y0, sh) * stride;
    size_t yb = (size_t)es__aug_reflect(y0 + 1, sh) * stride;
    p00 = base + ya + xa;
    p01 = base + ya + xb;
    p10 = base + yb + xa;
    p11 = base + yb + xb;
  }
  for (uint32_t k = 0; k < C; k++)
    d[k] = bilerp(p00, p01, p10, p11, fx, fy, (int)k);
}

/* One output row of the warp: positions in Q17 stepping by (ax, ay) per pixel. C is a
 * constant at each call site so that the channel loop unrolls. */
static inline __attribute__((always_inline)) void warp_row(const es_image *src, uint8_t *d,
                                                           uint32_t w, int64_t sx, int64_t sy,
                                                           int64_t ax, int64_t ay, uint32_t C)
{
  for (uint32_t x = 0; x < w; x++, sx += ax, sy += ay, d += C)
    warp_px(src, d, sx, sy, C);
}

#ifdef ES_AUG_X86
/* The row with 3 or 4 channels on SSE4.1, one pixel per register: an 8-byte load from each of
 * the two source rows holds the pixel and its right neighbour; pshufb pairs each channel with
 * its neighbour as 16-bit lanes, pmaddwd gives top = p00 (256 - fx) + p01 fx (and bot) exactly,
 * and pmulld the vertical step (top (256 - fy) + bot fy + 2^15) >> 16, all as bilerp() does.
 * Pixels whose neighbourhood leaves the image (or whose 8-byte load would pass the end of the
 * image) assemble the same register from the four reflected pixels. A 3-channel pixel is stored as 4 bytes, the 4th overwritten by the
 * next pixel; the row's last pixel stores 3. */
static inline __attribute__((always_inline, target("sse4.1"))) void
warp_row_sse(const es_image *src, uint8_t *d, uint32_t w, int64_t sx, int64_t sy, int64_t ax,
             int64_t ay, uint32_t C, int row_end)
{
  const uint32_t sw = src->width, sh = src->height;
  const size_t stride = (size_t)sw * C;
  const uint8_t *base = src->data;
  const __m128i mtop = C == 3 ? _mm_setr_epi8(0, -1, 3, -1, 1, -1, 4, -1, 2, -1, 5, -1, -1, -1, -1, -1)
                              : _mm_setr_epi8(0, -1, 4, -1, 1, -1, 5, -1, 2, -1, 6, -1, 3, -1, 7, -1);
  const __m128i mbot = _mm_add_epi8(mtop, _mm_and_si128(_mm_set1_epi8(8),
                                                        _mm_cmpgt_epi8(mtop, _mm_set1_epi8(-1))));
  const __m128i half = _mm_set1_epi32(32768);
  /* the 8-byte loads stay inside the image when x0 + 2 < sw or y0 + 1 < sh - 1 (C = 3) */
  const int64_t xlim = C == 3 ? (int64_t)sw - 2 : (int64_t)sw - 1;
  for (uint32_t x = 0; x < w; x++, sx += ax, sy += ay, d += C) {
    int64_t qx = sx >> 9, qy = sy >> 9;
    int64_t x0 = qx >> 8, y0 = qy >> 8;
    int32_t fx = (int32_t)(qx & 255), fy = (int32_t)(qy & 255);
    __m128i v;
    if (x0 < 0 || y0 < 0 || x0 + 1 >= (int64_t)sw || y0 + 1 >= (int64_t)sh ||
        (x0 >= xlim && y0 + 2 >= (int64_t)sh)) {
      /* the four reflected pixels put where the two 8-byte loads would have put them */
      size_t xa = (size_t)es__aug_reflect(x0, sw) * C;
      size_t xb = (size_t)es__aug_reflect(x0 + 1, sw) * C;
      const uint8_t *ra = base + (size_t)es__aug_reflect(y0, sh) * stride;
      const uint8_t *rb = base + (size_t)es__aug_reflect(y0 + 1, sh) * stride;
      uint64_t t = 0, b = 0;
      for (uint32_t k = 0; k < C; k++) {
        t |= (uint64_t)ra[xa + k] << (8 * k) | (uint64_t)ra[xb + k] << (8 * (C + k));
        b |= (uint64_t)rb[xa + k] << (8 * k) | (uint64_t)rb[xb + k] << (8 * (C + k));
      }
      v = _mm_set_epi64x((int64_t)b, (int64_t)t);
    } else {
      const uint8_t *p = base + (size_t)y0 * stride + (size_t)x0 * C;
      v = _mm_unpacklo_epi64(_mm_loadl_epi64((const __m128i *)(const void *)p),
                             _mm_loadl_epi64((const __m128i *)(const void *)(p + stride)));
    }
    __m128i wx = _mm_set1_epi32(fx << 16 | (256 - fx));
    __m128i top = _mm_madd_epi16(_mm_shuffle_epi8(v, mtop), wx);
    __m128i bot = _mm_madd_epi16(_mm_shuffle_epi8(v, mbot), wx);
    __m128i r = _mm_add_epi32(_mm_add_epi32(_mm_mullo_epi32(top, _mm_set1_epi32(256 - fy)),
                                            _mm_mullo_epi32(bot, _mm_set1_epi32(fy))),
                              half);
    r = _mm_srli_epi32(r, 16);
    r = _mm_packus_epi16(_mm_packs_epi32(r, r), r);
    uint32_t px = (uint32_t)_mm_cvtsi128_si32(r);
    if (C == 4 || x + 1 < w || !row_end)
      memcpy(d, &px, 4);
    else
      memcpy(d, &px, 3);
  }
}

/* The whole warp on SSE4.1 (3 or 4 channels); see es_aug_affine(). The output is walked in
 * tiles of 32 rows by 128 columns so that the source pixels a tile reads (a slanted band when
 * rotating) stay in the L1 cache; a position is the same integer whichever order computes it
 * (the start of a tile row is the row's start plus x0 steps). */
__attribute__((target("sse4.1"))) static void warp_sse(const es_image *src, uint8_t *dst,
                                                       int64_t A, int64_t B)
{
  uint32_t w = src->width, h = src->height, c = src->channels;
  size_t stride = (size_t)w * c;
  for (uint32_t ty = 0; ty < h; ty += 32)
    for (uint32_t tx = 0; tx < w; tx += 128) {
      uint32_t tw = w - tx < 128 ? w - tx : 128, th = h - ty < 32 ? h - ty : 32;
      for (uint32_t y = ty; y < ty + th; y++) {
        int64_t u = 2 * (int64_t)tx + 1 - (int64_t)w;
        int64_t v = 2 * (int64_t)y - (h - 1);
        int64_t sx = A * u - B * v + ((int64_t)(w - 1) << 16);
        int64_t sy = B * u + A * v + ((int64_t)(h - 1) << 16);
        uint8_t *d = dst + y * stride + (size_t)tx * c;
        /* the tile's last pixel stores 4 bytes unless it ends the row */
        if (c == 3)
          warp_row_sse(src, d, tw, sx, sy, 2 * A, 2 * B, 3, tx + tw == w);
        else
          warp_row_sse(src, d, tw, sx, sy, 2 * A, 2 * B, 4, 1);
      }
    }
}
#endif

/* simd = 0 keeps to the portable loop (the reference the SIMD one is tested against). */
static int affine(const es_image *src, int32_t angle_cdeg, int32_t scale_e4, es_image *dst,
                  es_error *err, int simd);

static int affine(const es_image *src, int32_t angle_cdeg, int32_t scale_e4, es_image *dst,
                  es_error *err, int simd)
{
  if (scale_e4 <= 0)
    return es_error_set(err, ES_EUSAGE, "scale %d/10000 is not positive", scale_e4);
  uint32_t w = src->width, h = src->height, c = src->channels;
  int rc = es__aug_alloc_like(src, w, h, dst, err);
  if (rc)
    return rc;
  int64_t s30, c30;
  es_aug_sincos(angle_cdeg, &s30, &c30);
  /* Q30 -> Q16 divided by the scale, rounded to nearest */
  int64_t A = (c30 * 10000 / scale_e4 + (c30 >= 0 ? 8192 : -8192)) / 16384;
  int64_t B = (s30 * 10000 / scale_e4 + (s30 >= 0 ? 8192 : -8192)) / 16384;
#ifdef ES_AUG_X86
  if (simd && (c == 3 || c == 4) && es__aug_sse41()) {
    warp_sse(src, dst->data, A, B);
    return ES_OK;
  }
#else
  (void)simd;
#endif
  size_t stride = es_image_stride(dst);
  for (uint32_t y = 0; y < h; y++) {
    int64_t u = 1 - (int64_t)w; /* 2*0 - (w-1) */
    int64_t v = 2 * (int64_t)y - (h - 1);
    /* Counter-clockwise on screen (y down, OpenCV's convention): the source is the output
     * turned back, sx = cos u' - sin v', sy = sin u' + cos v' (u', v': offsets from the
     * centre, divided by the scale). */
    int64_t sx = A * u - B * v + ((int64_t)(w - 1) << 16);
    int64_t sy = B * u + A * v + ((int64_t)(h - 1) << 16);
    uint8_t *d = dst->data + y * stride;
    switch (c) {
    case 1: warp_row(src, d, w, sx, sy, 2 * A, 2 * B, 1); break;
    case 2: warp_row(src, d, w, sx, sy, 2 * A, 2 * B, 2); break;
    case 3: warp_row(src, d, w, sx, sy, 2 * A, 2 * B, 3); break;
    default: warp_row(src, d, w, sx, sy, 2 * A, 2 * B, 4); break;
    }
  }
  return ES_OK;
}

int es_aug_affine(const es_image *src, int32_t angle_cdeg, int32_t scale_e4, es_image *dst,
                  es_error *err)
{
  return affine(src, angle_cdeg, scale_e4, dst, err, es__aug_simd());
}

int es__aug_affine_portable(const es_image *src, int32_t angle_cdeg, int32_t scale_e4,
                            es_image *dst, es_error *err)
{
  return affine(src, angle_cdeg, scale_e4, dst, err, 0);
}

/* Source position (Q8, floored) of output sample i of n mapped onto m source samples starting
 * at off, centres aligned: ((2i + 1) m / (2n) - 1/2), clamped to [0, m-1]. */
static void resize_taps(uint32_t n, uint32_t m, uint32_t off, uint32_t *idx, uint32_t *frac)
{
  for (uint32_t i = 0; i < n; i++) {
    int64_t q = ((int64_t)(2 * i + 1) * m * 256) / (2 * (int64_t)n) - 128;
    if (q < 0)
      q = 0;
    if (q > (int64_t)(m - 1) * 256)
      q = (int64_t)(m - 1) * 256;
    idx[i] = off + (uint32_t)(q >> 8);
    frac[i] = (uint32_t)(q & 255);
    if (idx[i] - off + 1 >= m) /* the last sample: no right neighbour needed */
      frac[i] = 0;
  }
}

int es_aug_crop_resize(const es_image *src, uint32_t x, uint32_t y, uint32_t cw, uint32_t ch,
                       es_image *dst, es_error *err)
{
  uint32_t w = src->width, h = src->height, c = src->channels;
  if (!cw || !ch || x > w || cw > w - x || y > h || ch > h - y)
    return es_error_set(err, ES_EUSAGE, "crop: rectangle outside the %ux%u image", w, h);
  uint32_t *xi = malloc((size_t)w * 2 * sizeof *xi), *yi = malloc((size_t)h * 2 * sizeof *yi);
  int rc = (!xi || !yi) ? es_error_set(err, ES_ENOMEM, "out of memory") : ES_OK;
  if (!rc)
    rc = es__aug_alloc_like(src, w, h, dst, err);
  if (rc) {
    free(xi);
    free(yi);
    return rc;
  }
  uint32_t *xf = xi + w, *yf = yi + h;
  resize_taps(w, cw, x, xi, xf);
  resize_taps(h, ch, y, yi, yf);
  size_t stride = es_image_stride(src);
  for (uint32_t r = 0; r < h; r++) {
    const uint8_t *r0 = src->data + (size_t)yi[r] * stride;
    const uint8_t *r1 = yf[r] ? r0 + stride : r0;
    uint8_t *d = dst->data + r * stride;
    for (uint32_t k = 0; k < w; k++) {
      const uint8_t *p00 = r0 + (size_t)xi[k] * c, *p10 = r1 + (size_t)xi[k] * c;
      const uint8_t *p01 = xf[k] ? p00 + c : p00, *p11 = xf[k] ? p10 + c : p10;
      for (uint32_t j = 0; j < c; j++)
        d[(size_t)k * c + j] = bilerp(p00, p01, p10, p11, xf[k], yf[r], (int)j);
    }
  }
  free(xi);
  free(yi);
  return ES_OK;
}

/* ---- blur ---- */

/* acc[i] = sum_k taps[k] * pad[i + k * step], then out[i] = (acc[i] + 32) >> 6 (Q8). The
 * kernel is symmetric, so mirrored taps share one multiply (the sum is the same integer). */
ES_AUG_VECTORIZE static void hpass(const uint8_t *restrict pad, size_t n, size_t step,
                                   const int32_t *restrict taps, int radius,
                                   uint32_t *restrict acc, uint16_t *restrict out)
{
  const uint8_t *mid = pad + (size_t)radius * step;
  uint32_t tc = (uint32_t)taps[radius];
  for (size_t i = 0; i < n; i++)
    acc[i] = tc * mid[i];
  for (int k = 0; k < radius; k++) {
    uint32_t t = (uint32_t)taps[k];
    const uint8_t *a = pad + (size_t)k * step, *b = pad + (size_t)(2 * radius - k) * step;
    for (size_t i = 0; i < n; i++)
      acc[i] += t * (uint32_t)(uint16_t)(a[i] + b[i]);
  }
  for (size_t i = 0; i < n; i++)
    out[i] = (uint16_t)((acc[i] + 32) >> 6);
}

/* out[i] = (sum_k taps[k] * rows[k][i] + 2^21) >> 22: the sum is at most 65280 * 16384 < 2^32;
 * mirrored rows share one multiply. */
ES_AUG_VECTORIZE static void vpass(const uint16_t *const *rows, size_t n,
                                   const int32_t *restrict taps, int radius,
                                   uint32_t *restrict acc, uint8_t *restrict out)
{
  const uint16_t *rc = rows[radius];
  uint32_t tc = (uint32_t)taps[radius];
  for (size_t i = 0; i < n; i++)
    acc[i] = tc * rc[i];
  for (int k = 0; k < radius; k++) {
    uint32_t t = (uint32_t)taps[k];
    const uint16_t *a = rows[k], *b = rows[2 * radius - k];
    for (size_t i = 0; i < n; i++)
      acc[i] += t * ((uint32_t)a[i] + b[i]);
  }
  for (size_t i = 0; i < n; i++)
    out[i] = (uint8_t)((acc[i] + (1u << 21)) >> 22);
}

#ifdef ES_AUG_X86
/* The same two passes in SSE2 with pmaddwd (two 16-bit products summed into 32 bits per
 * lane). Rows of the intermediate are kept biased, b = m - 32768 as int16, so that the Q8
 * values (up to 65280) fit a signed lane; since the taps sum to exactly 16384,
 * sum t m = sum t b + 2^29, and every sum is the same integer as in the portable passes.
 *
 * Horizontal: the centre sample and the mirrored sums a + b (at most 510) are paired two by two
 * with their taps (a zero tap completes an odd count). */
static void hpass_sse(const uint8_t *restrict pad, size_t n, size_t step,
                      const int32_t *restrict taps, int radius, int16_t *restrict out)
{
  const __m128i zero = _mm_setzero_si128(), r32 = _mm_set1_epi32(32);
  const __m128i bias = _mm_set1_epi32(32768);
  int nv = radius + 1; /* values: index 0 the centre, k+1 the pair of tap k */
  __m128i tp[33];
  for (int g = 0; 2 * g < nv; g++) {
    int32_t t0 = g ? taps[2 * g - 1] : taps[radius];
    int32_t t1 = 2 * g + 1 < nv ? taps[2 * g] : 0;
    tp[g] = _mm_set1_epi32((int32_t)((uint32_t)t1 << 16 | (uint16_t)t0));
  }
  const uint8_t *mid = pad + (size_t)radius * step;
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m128i a0 = _mm_setzero_si128(), a1 = a0, a2 = a0, a3 = a0;
    for (int g = 0; 2 * g < nv; g++) {
      __m128i ul = zero, uh = zero, vl = zero, vh = zero;
      for (int half = 0; half < 2; half++) {
        int v = 2 * g + half;
        __m128i lo = zero, hi = zero;
        if (v == 0) {
          __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(mid + i));
          lo = _mm_unpacklo_epi8(x, zero);
          hi = _mm_unpackhi_epi8(x, zero);
        } else if (v < nv) {
          int k = v - 1;
          __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(pad + i + (size_t)k * step));
          __m128i y = _mm_loadu_si128(
              (const __m128i *)(const void *)(pad + i + (size_t)(2 * radius - k) * step));
          lo = _mm_add_epi16(_mm_unpacklo_epi8(x, zero), _mm_unpacklo_epi8(y, zero));
          hi = _mm_add_epi16(_mm_unpackhi_epi8(x, zero), _mm_unpackhi_epi8(y, zero));
        }
        if (half) {
          vl = lo;
          vh = hi;
        } else {
          ul = lo;
          uh = hi;
        }
      }
      a0 = _mm_add_epi32(a0, _mm_madd_epi16(_mm_unpacklo_epi16(ul, vl), tp[g]));
      a1 = _mm_add_epi32(a1, _mm_madd_epi16(_mm_unpackhi_epi16(ul, vl), tp[g]));
      a2 = _mm_add_epi32(a2, _mm_madd_epi16(_mm_unpacklo_epi16(uh, vh), tp[g]));
      a3 = _mm_add_epi32(a3, _mm_madd_epi16(_mm_unpackhi_epi16(uh, vh), tp[g]));
    }
    a0 = _mm_sub_epi32(_mm_srli_epi32(_mm_add_epi32(a0, r32), 6), bias);
    a1 = _mm_sub_epi32(_mm_srli_epi32(_mm_add_epi32(a1, r32), 6), bias);
    a2 = _mm_sub_epi32(_mm_srli_epi32(_mm_add_epi32(a2, r32), 6), bias);
    a3 = _mm_sub_epi32(_mm_srli_epi32(_mm_add_epi32(a3, r32), 6), bias);
    _mm_storeu_si128((__m128i *)(void *)(out + i), _mm_packs_epi32(a0, a1));
    _mm_storeu_si128((__m128i *)(void *)(out + i + 8), _mm_packs_epi32(a2, a3));
  }
  for (; i < n; i++) {
    uint32_t acc = (uint32_t)taps[radius] * mid[i];
    for (int k = 0; k < radius; k++)
      acc += (uint32_t)taps[k] * (uint32_t)(pad[i + (size_t)k * step] +
                                            pad[i + (size_t)(2 * radius - k) * step]);
    out[i] = (int16_t)((int32_t)((acc + 32) >> 6) - 32768);
  }
}

/* Vertical: the centre row (paired with a zero tap) and the mirrored row pairs, each pair with
 * its tap twice; out = (sum t b + 2^29 + 2^21) >> 22. */
static void vpass_sse(const int16_t *const *rows, size_t n, const int32_t *restrict taps,
                      int radius, uint8_t *restrict out)
{
  const __m128i zero = _mm_setzero_si128();
  const __m128i round = _mm_set1_epi32((1 << 29) + (1 << 21));
  __m128i tc = _mm_set1_epi32(taps[radius] & 0xffff);
  __m128i tp[64];
  for (int k = 0; k < radius; k++)
    tp[k] = _mm_set1_epi32((int32_t)((uint32_t)taps[k] << 16 | (uint32_t)taps[k]));
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const int16_t *c = rows[radius] + i;
    __m128i x0 = _mm_loadu_si128((const __m128i *)(const void *)c);
    __m128i x1 = _mm_loadu_si128((const __m128i *)(const void *)(c + 8));
    __m128i a0 = _mm_madd_epi16(_mm_unpacklo_epi16(x0, zero), tc);
    __m128i a1 = _mm_madd_epi16(_mm_unpackhi_epi16(x0, zero), tc);
    __m128i a2 = _mm_madd_epi16(_mm_unpacklo_epi16(x1, zero), tc);
    __m128i a3 = _mm_madd_epi16(_mm_unpackhi_epi16(x1, zero), tc);
    for (int k = 0; k < radius; k++) {
      const int16_t *p = rows[k] + i, *q = rows[2 * radius - k] + i;
      __m128i p0 = _mm_loadu_si128((const __m128i *)(const void *)p);
      __m128i p1 = _mm_loadu_si128((const __m128i *)(const void *)(p + 8));
      __m128i q0 = _mm_loadu_si128((const __m128i *)(const void *)q);
      __m128i q1 = _mm_loadu_si128((const __m128i *)(const void *)(q + 8));
      a0 = _mm_add_epi32(a0, _mm_madd_epi16(_mm_unpacklo_epi16(p0, q0), tp[k]));
      a1 = _mm_add_epi32(a1, _mm_madd_epi16(_mm_unpackhi_epi16(p0, q0), tp[k]));
      a2 = _mm_add_epi32(a2, _mm_madd_epi16(_mm_unpacklo_epi16(p1, q1), tp[k]));
      a3 = _mm_add_epi32(a3, _mm_madd_epi16(_mm_unpackhi_epi16(p1, q1), tp[k]));
    }
    a0 = _mm_srai_epi32(_mm_add_epi32(a0, round), 22);
    a1 = _mm_srai_epi32(_mm_add_epi32(a1, round), 22);
    a2 = _mm_srai_epi32(_mm_add_epi32(a2, round), 22);
    a3 = _mm_srai_epi32(_mm_add_epi32(a3, round), 22);
    _mm_storeu_si128((__m128i *)(void *)(out + i),
                     _mm_packus_epi16(_mm_packs_epi32(a0, a1), _mm_packs_epi32(a2, a3)));
  }
  for (; i < n; i++) {
    int32_t acc = taps[radius] * rows[radius][i];
    for (int k = 0; k < radius; k++)
      acc += taps[k] * (rows[k][i] + rows[2 * radius - k][i]);
    out[i] = (uint8_t)((acc + (1 << 29) + (1 << 21)) >> 22);
  }
}

/* The same two passes on 16 samples per 256-bit register (AVX2). unpacklo/hi and packs work
 * within each 128-bit half, and packs undoes the interleave of unpack, so the samples come
 * back in order; only the final bytes need a cross-half permute. */
#define ES_AVX2_INLINE __attribute__((target("avx2"), always_inline)) static inline
ES_AVX2_INLINE void hpass_avx2_k(const uint8_t *restrict pad, size_t n, size_t step,
                                 const int32_t *restrict taps, int radius, int16_t *restrict out)
{
  const __m256i r32 = _mm256_set1_epi32(32), bias = _mm256_set1_epi32(32768);
  int nv = radius + 1;
  __m256i tp[33];
  for (int g = 0; 2 * g < nv; g++) {
    int32_t t0 = g ? taps[2 * g - 1] : taps[radius];
    int32_t t1 = 2 * g + 1 < nv ? taps[2 * g] : 0;
    tp[g] = _mm256_set1_epi32((int32_t)((uint32_t)t1 << 16 | (uint16_t)t0));
  }
  const uint8_t *mid = pad + (size_t)radius * step;
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256i a0 = _mm256_setzero_si256(), a1 = a0;
#pragma GCC unroll 8
    for (int g = 0; 2 * g < nv; g++) {
      __m256i u, v = _mm256_setzero_si256();
      if (g == 0) {
        u = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(mid + i)));
      } else {
        int k = 2 * g - 1;
        u = _mm256_add_epi16(
            _mm256_cvtepu8_epi16(
                _mm_loadu_si128((const __m128i *)(const void *)(pad + i + (size_t)k * step))),
            _mm256_cvtepu8_epi16(_mm_loadu_si128(
                (const __m128i *)(const void *)(pad + i + (size_t)(2 * radius - k) * step))));
      }
      if (2 * g + 1 < nv) {
        int k = 2 * g;
        v = _mm256_add_epi16(
            _mm256_cvtepu8_epi16(
                _mm_loadu_si128((const __m128i *)(const void *)(pad + i + (size_t)k * step))),
            _mm256_cvtepu8_epi16(_mm_loadu_si128(
                (const __m128i *)(const void *)(pad + i + (size_t)(2 * radius - k) * step))));
      }
      a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(_mm256_unpacklo_epi16(u, v), tp[g]));
      a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(_mm256_unpackhi_epi16(u, v), tp[g]));
    }
    a0 = _mm256_sub_epi32(_mm256_srli_epi32(_mm256_add_epi32(a0, r32), 6), bias);
    a1 = _mm256_sub_epi32(_mm256_srli_epi32(_mm256_add_epi32(a1, r32), 6), bias);
    _mm256_storeu_si256((__m256i *)(void *)(out + i), _mm256_packs_epi32(a0, a1));
  }
  for (; i < n; i++) {
    uint32_t acc = (uint32_t)taps[radius] * mid[i];
    for (int k = 0; k < radius; k++)
      acc += (uint32_t)taps[k] * (uint32_t)(pad[i + (size_t)k * step] +
                                            pad[i + (size_t)(2 * radius - k) * step]);
    out[i] = (int16_t)((int32_t)((acc + 32) >> 6) - 32768);
  }
}

ES_AVX2_INLINE void vpass_avx2_k(const int16_t *const *rows, size_t n,
                                 const int32_t *restrict taps, int radius, uint8_t *restrict out)
{
  const __m256i zero = _mm256_setzero_si256();
  const __m256i round = _mm256_set1_epi32((1 << 29) + (1 << 21));
  __m256i tc = _mm256_set1_epi32(taps[radius] & 0xffff);
  __m256i tp[64];
  for (int k = 0; k < radius; k++)
    tp[k] = _mm256_set1_epi32((int32_t)((uint32_t)taps[k] << 16 | (uint32_t)taps[k]));
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256i x = _mm256_loadu_si256((const __m256i *)(const void *)(rows[radius] + i));
    __m256i a0 = _mm256_madd_epi16(_mm256_unpacklo_epi16(x, zero), tc);
    __m256i a1 = _mm256_madd_epi16(_mm256_unpackhi_epi16(x, zero), tc);
#pragma GCC unroll 8
    for (int k = 0; k < radius; k++) {
      __m256i p = _mm256_loadu_si256((const __m256i *)(const void *)(rows[k] + i));
      __m256i q = _mm256_loadu_si256((const __m256i *)(const void *)(rows[2 * radius - k] + i));
      a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(_mm256_unpacklo_epi16(p, q), tp[k]));
      a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(_mm256_unpackhi_epi16(p, q), tp[k]));
    }
    a0 = _mm256_srai_epi32(_mm256_add_epi32(a0, round), 22);
    a1 = _mm256_srai_epi32(_mm256_add_epi32(a1, round), 22);
    __m256i w16 = _mm256_packs_epi32(a0, a1);
    __m256i b8 = _mm256_permute4x64_epi64(_mm256_packus_epi16(w16, w16), 0x08);
    _mm_storeu_si128((__m128i *)(void *)(out + i), _mm256_castsi256_si128(b8));
  }
  for (; i < n; i++) {
    int32_t acc = taps[radius] * rows[radius][i];
    for (int k = 0; k < radius; k++)
      acc += taps[k] * (rows[k][i] + rows[2 * radius - k][i]);
    out[i] = (uint8_t)((acc + (1 << 29) + (1 << 21)) >> 22);
  }
}

/* The usual radii get a copy of the kernel with the tap loops unrolled. */
#define RADII(CALL) \
  switch (radius) { \
  case 1: CALL(1); break; \
  case 2: CALL(2); break; \
  case 3: CALL(3); break; \
  case 4: CALL(4); break; \
  case 5: CALL(5); break; \
  case 6: CALL(6); break; \
  case 7: CALL(7); break; \
  case 8: CALL(8); break; \
  default: CALL(radius); \
  }

__attribute__((target("avx2"))) static void hpass_avx2(const uint8_t *restrict pad, size_t n,
                                                       size_t step, const int32_t *restrict taps,
                                                       int radius, int16_t *restrict out)
{
#define H(R) hpass_avx2_k(pad, n, step, taps, R, out)
  RADII(H)
#undef H
}

__attribute__((target("avx2"))) static void vpass_avx2(const int16_t *const *rows, size_t n,
                                                       const int32_t *restrict taps, int radius,
                                                       uint8_t *restrict out)
{
#define V(R) vpass_avx2_k(rows, n, taps, R, out)
  RADII(V)
#undef V
}
#undef RADII

/* Both passes over the image, the vertical one following the horizontal one a few rows behind
 * so that the rows it reads are still in cache. */
static int blur_sse(const es_image *src, const int32_t *taps, int32_t radius, es_image *dst,
                    es_error *err)
{
  uint32_t w = src->width, h = src->height, c = src->channels;
  int ntaps = 2 * radius + 1;
  size_t n = es_image_stride(src);
  uint8_t *pad = malloc(n + 2 * (size_t)radius * c);
  int16_t *mid = NULL;
  const int16_t **rows = malloc((size_t)ntaps * sizeof *rows);
  int rc = ES_OK;
  if (!pad || !rows || h > SIZE_MAX / sizeof *mid / n || !(mid = malloc(n * h * sizeof *mid))) {
    rc = es_error_set(err, ES_ENOMEM, "out of memory blurring a %ux%u image", w, h);
    goto cleanup;
  }
  int avx2 = es__aug_avx2();
  uint32_t done = 0;
  for (uint32_t y = 0; y < h; y++) {
    uint32_t need = y + (uint32_t)radius < h - 1 ? y + (uint32_t)radius : h - 1;
    for (; done <= need; done++) {
      const uint8_t *s = src->data + done * n;
      memcpy(pad + (size_t)radius * c, s, n);
      for (int32_t k = 1; k <= radius; k++) {
        memcpy(pad + (size_t)(radius - k) * c, s + (size_t)es__aug_reflect(-k, w) * c, c);
        memcpy(pad + (size_t)(radius + (int64_t)w - 1 + k) * c,
               s + (size_t)es__aug_reflect((int64_t)w - 1 + k, w) * c, c);
      }
      if (avx2)
        hpass_avx2(pad, n, c, taps, radius, mid + done * n);
      else
        hpass_sse(pad, n, c, taps, radius, mid + done * n);
    }
    for (int k = 0; k < ntaps; k++)
      rows[k] = mid + (size_t)es__aug_reflect((int64_t)y + k - radius, h) * n;
    if (avx2)
      vpass_avx2(rows, n, taps, radius, dst->data + y * n);
    else
      vpass_sse(rows, n, taps, radius, dst->data + y * n);
  }

cleanup:
  free(pad);
  free(mid);
  free(rows);
  return rc;
}
#endif

/* simd = 0 keeps to the portable passes (the reference the SIMD ones are tested against). */
static int blur(const es_image *src, int32_t sigma_e2, int32_t radius, es_image *dst,
                es_error *err, int simd)
{
  if (sigma_e2 < 1 || radius < 1 || radius > 64)
    return es_error_set(err, ES_EUSAGE, "blur: sigma %d/100 or radius %d out of range",
                        sigma_e2, radius);
  uint32_t w = src->width, h = src->height, c = src->channels;
  int ntaps = 2 * radius + 1;
  int32_t taps[2 * 64 + 1];
  es_aug_gauss_kernel(sigma_e2, radius, taps);
#ifndef ES_AUG_X86
  (void)simd;
#else
  if (simd) {
    int rc = es__aug_alloc_like(src, w, h, dst, err);
    if (rc == ES_OK && (rc = blur_sse(src, taps, radius, dst, err)))
      es_image_free(dst);
    if (rc == ES_OK && (c == 2 || c == 4))
      for (size_t i = c - 1; i < es_image_size(src); i += c)
        dst->data[i] = src->data[i];
    return rc;
  }
#endif
  size_t n = es_image_stride(src);
  size_t padn = n + 2 * (size_t)radius * c;
  uint8_t *pad = malloc(padn);
  uint32_t *acc = malloc(n * sizeof *acc);
  uint16_t *mid = NULL;
  const uint16_t **rows = malloc((size_t)ntaps * sizeof *rows);
  int rc = ES_OK;
  if (!pad || !acc || !rows || h > SIZE_MAX / sizeof *mid / n ||
      !(mid = malloc(n * h * sizeof *mid))) {
    rc = es_error_set(err, ES_ENOMEM, "out of memory blurring a %ux%u image", w, h);
    goto cleanup;
  }
  if ((rc = es__aug_alloc_like(src, w, h, dst, err)))
    goto cleanup;
  for (uint32_t y = 0; y < h; y++) {
    const uint8_t *s = src->data + y * n;
    memcpy(pad + (size_t)radius * c, s, n);
    for (int32_t k = 1; k <= radius; k++) {
      memcpy(pad + (size_t)(radius - k) * c, s + (size_t)es__aug_reflect(-k, w) * c, c);
      memcpy(pad + (size_t)(radius + (int64_t)w - 1 + k) * c,
             s + (size_t)es__aug_reflect((int64_t)w - 1 + k, w) * c, c);
    }
    hpass(pad, n, c, taps, radius, acc, mid + y * n);
  }
  for (uint32_t y = 0; y < h; y++) {
    for (int k = 0; k < ntaps; k++)
      rows[k] = mid + (size_t)es__aug_reflect((int64_t)y + k - radius, h) * n;
    vpass(rows, n, taps, radius, acc, dst->data + y * n);
  }
  if (c == 2 || c == 4)
    for (size_t i = c - 1; i < n * h; i += c)
      dst->data[i] = src->data[i];

cleanup:
  free(pad);
  free(acc);
  free(mid);
  free(rows);
  return rc;
}

int es_aug_blur(const es_image *src, int32_t sigma_e2, int32_t radius, es_image *dst,
                es_error *err)
{
  return blur(src, sigma_e2, radius, dst, err, es__aug_simd());
}

int es__aug_blur_portable(const es_image *src, int32_t sigma_e2, int32_t radius, es_image *dst,
                          es_error *err)
{
  return blur(src, sigma_e2, radius, dst, err, 0);
}
