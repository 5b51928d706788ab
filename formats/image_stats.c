/* es_image_features: one pass over the pixels that gathers everything collect stores about an
 * image (docs/near-duplicates.md):
 *   - luma sums, sums of squares and clip counts (mean, std, clip_low, clip_high),
 *   - per-pixel HSV saturation (max - min) / max in 1/65536 steps (floor), summed exactly,
 *   - exact area sums of luma on a 128x128 grid, streamed row by row into both the 128x128
 *     thumbnail the sharpness is measured on and the 32x32 input of the phash (4x4 blocks).
 * Every accumulation is integer (two divisions use IEEE arithmetic where that is provably
 * exact); the final divisions of the statistics are in double in a fixed order
 * (-ffp-contract=off), so the results are the same on every machine. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "formats/features.h"
#include "formats/features_internal.h"
#include "core/cpu.h"
#include "core/image_ops.h"

__extension__ typedef unsigned __int128 es_u128;
__extension__ typedef __int128 es_i128;


/* Sum and sum of squares of the 4-neighbour Laplacian over x = 1 .. n-2 of one row: |l| <= 1020,
 * so 32-bit sums hold a row of up to 4096 values. */
ES_VECTORIZE static void laplacian_row(const uint8_t *restrict up, const uint8_t *restrict r,
                                       const uint8_t *restrict dn, uint32_t n, int64_t *sum,
                                       uint64_t *sumsq)
{
  int32_t s = 0;
  uint32_t sq = 0;
  for (uint32_t x = 1; x + 1 < n; x++) {
    int32_t l = 4 * (int32_t)r[x] - r[x - 1] - r[x + 1] - up[x] - dn[x];
    s += l;
    sq += (uint32_t)(l * l);
  }
  *sum += s;
  *sumsq += sq;
}

double es__laplacian_variance(const uint8_t *img, uint32_t w, uint32_t h)
{
  if (w < 3 || h < 3)
    return 0.0;
  int64_t sum = 0;
  uint64_t sumsq = 0;
  for (uint32_t y = 1; y + 1 < h; y++) {
    const uint8_t *r = img + (size_t)y * w;
    for (uint32_t x0 = 0; x0 + 2 < w; x0 += 4094) {
      uint32_t n = w - x0 < 4096 ? w - x0 : 4096;
      laplacian_row(r - w + x0, r + x0, r + w + x0, n, &sum, &sumsq);
    }
  }
  uint64_t n = (uint64_t)(w - 2) * (h - 2);
  /* n * sumsq - sum^2 >= 0 exactly (Cauchy-Schwarz) and fits in 128 bits. */
  es_u128 num = (es_u128)n * sumsq - (es_u128)((es_i128)sum * sum);
  return (double)num / ((double)n * (double)n);
}

static void stats_finish(const es__pixel_sums *ps, int color, const uint8_t *thumb, es_stats *st)
{
  double dn = (double)ps->n;
  st->mean = (double)ps->sum / dn;
  es_u128 var = (es_u128)ps->n * ps->sumsq - (es_u128)ps->sum * ps->sum;
  st->std = sqrt((double)var) / dn;
  st->clip_low = (double)ps->low / dn;
  st->clip_high = (double)ps->high / dn;
  double sat = color ? (double)ps->sat / 65536.0 : 0.0;
  st->saturation = sat / dn;
  st->sharpness = es__laplacian_variance(thumb, ES__THUMB, ES__THUMB);
}

/* Splits n interleaved RGB pixels into three planes, 16 pixels at a time with byte shuffles
 * where the compiler has them (the autovectoriser does not manage stride-3 loads). */
ES_VECTORIZE static void split_rgb(const uint8_t *restrict row, uint32_t n, uint8_t *restrict R,
                                   uint8_t *restrict G, uint8_t *restrict B)
{
  uint32_t x = 0;
#ifdef ES_HAVE_SHUFFLE
  const es_v16u8 r1 = {0, 3, 6, 9, 12, 15, 18, 21, 24, 27, 30, 0, 0, 0, 0, 0};
  const es_v16u8 r2 = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 17, 20, 23, 26, 29};
  const es_v16u8 g1 = {1, 4, 7, 10, 13, 16, 19, 22, 25, 28, 31, 0, 0, 0, 0, 0};
  const es_v16u8 g2 = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 18, 21, 24, 27, 30};
  const es_v16u8 b1 = {2, 5, 8, 11, 14, 17, 20, 23, 26, 29, 0, 0, 0, 0, 0, 0};
  const es_v16u8 b2 = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 19, 22, 25, 28, 31};
  for (; x + 16 <= n; x += 16) {
    es_v16u8 a, b, c;
    memcpy(&a, row + 3 * (size_t)x, 16);
    memcpy(&b, row + 3 * (size_t)x + 16, 16);
    memcpy(&c, row + 3 * (size_t)x + 32, 16);
    es_v16u8 vr = __builtin_shuffle(__builtin_shuffle(a, b, r1), c, r2);
    es_v16u8 vg = __builtin_shuffle(__builtin_shuffle(a, b, g1), c, g2);
    es_v16u8 vb = __builtin_shuffle(__builtin_shuffle(a, b, b1), c, b2);
    memcpy(R + x, &vr, 16);
    memcpy(G + x, &vg, 16);
    memcpy(B + x, &vb, 16);
  }
#endif
  for (; x < n; x++) {
    R[x] = row[3 * (size_t)x];
    G[x] = row[3 * (size_t)x + 1];
    B[x] = row[3 * (size_t)x + 2];
  }
}

ES_VECTORIZE static void split_rgba(const uint8_t *restrict row, uint32_t n, uint8_t *restrict R,
                                    uint8_t *restrict G, uint8_t *restrict B)
{
  for (uint32_t x = 0; x < n; x++) {
    R[x] = row[4 * (size_t)x];
    G[x] = row[4 * (size_t)x + 1];
    B[x] = row[4 * (size_t)x + 2];
  }
}

/* Luma (es_luma_rgb: 77 R + 150 G + 29 B + 128 fits in 16 bits), max and max - min. */
ES_VECTORIZE static void planes_row(const uint8_t *restrict R, const uint8_t *restrict G,
                                    const uint8_t *restrict B, uint32_t n,
                                    uint8_t *restrict luma, uint8_t *restrict mxv,
                                    uint8_t *restrict dif)
{
  for (uint32_t x = 0; x < n; x++) {
    uint16_t r = R[x], g = G[x], b = B[x];
    luma[x] = (uint8_t)((uint16_t)(77 * r + 150 * g + 29 * b + 128) >> 8);
    uint8_t mx = R[x] > G[x] ? R[x] : G[x], mn = R[x] < G[x] ? R[x] : G[x];
    mx = mx > B[x] ? mx : B[x];
    mn = mn < B[x] ? mn : B[x];
    mxv[x] = mx;
    dif[x] = (uint8_t)(mx - mn);
  }
}

/* Sum over n <= 32768 pixels of floor(65536 * dif / max) (0 when max = 0; each term <= 65536,
 * so 32-bit sums cannot overflow). The quotient is taken in single precision, which vectorises:
 * the numerator is below 2^24 and the denominator at most 255, so both are exact floats, the
 * correctly rounded quotient is within 2^-8 of the exact one while a non-integer exact quotient
 * is at least 1/255 away from the next integer: truncating it gives the exact integer floor on
 * every IEEE machine (checked for all 32,896 pairs when this was written). */
ES_VECTORIZE static uint32_t saturation_sum(const uint8_t *restrict mxv,
                                            const uint8_t *restrict dif, uint32_t n)
{
  uint32_t s = 0;
  for (uint32_t x = 0; x < n; x++) {
    int32_t num = (int32_t)dif[x] << 16, den = mxv[x] | (mxv[x] == 0);
    s += (uint32_t)(int32_t)((float)num / (float)den);
  }
  return s;
}

/* Sums, sums of squares and clip counts of n <= 65536 luma values: 32-bit sums cannot
 * overflow (65536 * 255^2 < 2^32). */
ES_VECTORIZE static void luma_sums(const uint8_t *restrict luma, uint32_t n, es__pixel_sums *ps)
{
  uint32_t sum = 0, sumsq = 0, low = 0, high = 0;
  for (uint32_t x = 0; x < n; x++) {
    uint32_t y = luma[x];
    sum += y;
    sumsq += y * y;
    low += y <= 2;
    high += y >= 253;
  }
  ps->sum += sum;
  ps->sumsq += sumsq;
  ps->low += low;
  ps->high += high;
}

/* Pixels of a row are taken PORTABLE_CHUNK at a time, so that the planes stay in L1. */
#define PORTABLE_CHUNK 256

void es__row_sums_portable(const uint8_t *row, uint32_t n, uint32_t c, uint8_t *luma,
                           es__pixel_sums *ps)
{
  uint8_t R[PORTABLE_CHUNK], G[PORTABLE_CHUNK], B[PORTABLE_CHUNK], mxv[PORTABLE_CHUNK],
      dif[PORTABLE_CHUNK];
  for (uint32_t x = 0; x < n; x += PORTABLE_CHUNK) {
    uint32_t m = n - x < PORTABLE_CHUNK ? n - x : PORTABLE_CHUNK;
    const uint8_t *src = row + (size_t)x * c;
    if (c >= 3) {
      if (c == 3)
        split_rgb(src, m, R, G, B);
      else
        split_rgba(src, m, R, G, B);
      planes_row(R, G, B, m, luma + x, mxv, dif);
      ps->sat += saturation_sum(mxv, dif, m);
    } else {
      es_luma_row(src, m, c, luma + x);
    }
    luma_sums(luma + x, m, ps);
  }
}

typedef void rgb_row_fn(const uint8_t *rgb, uint32_t n, uint8_t *luma, es__pixel_sums *ps);

/* The SIMD RGB row kernel this CPU runs within the EDGESET_ISA cap (core/cpu.h), or NULL for
 * the portable path (all give the same results). The AVX-512 kernel needs VBMI for its byte
 * permutes; it is about 15% faster than the AVX2 one, the divider (no wider per lane) setting
 * its limit. */
static rgb_row_fn *rgb_row_kernel(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
  if (es_cpu_has(ES_CPU_AVX512F | ES_CPU_AVX512BW | ES_CPU_AVX512VBMI))
    return es__rgb_row_sums_avx512;
  if (es_cpu_has(ES_CPU_AVX2))
    return es__rgb_row_sums_avx2;
#endif
  return NULL;
}

/* Per-row work: luma into `luma`, its sums and clip counts, and the saturation sums. */
static void scan_row(const uint8_t *row, uint32_t w, uint32_t c, rgb_row_fn *rgb_kernel,
                     uint8_t *luma, es__pixel_sums *ps)
{
  if (c == 3 && rgb_kernel) {
    for (uint32_t x = 0; x < w; x += 65536)
      rgb_kernel(row + (size_t)x * 3, w - x < 65536 ? w - x : 65536, luma + x, ps);
    return;
  }
  es__row_sums_portable(row, w, c, luma, ps);
}

/* round(num / t) = floor((num + t/2) / t) for the many cells of one image without a hardware
 * division each: an estimate from inv = floor((2^64 - 1) / t), then exact correction. */
static inline uint32_t div_round(uint64_t num, uint64_t t, uint64_t inv)
{
  /* inv >= (2^64 - t) / t, so num * inv / 2^64 falls short of num / t by less than
   * num / 2^64 < 1: the estimate is the quotient or one less. */
  num += t / 2;
  uint64_t q = (uint64_t)(((es_u128)num * inv) >> 64);
  q += num - q * t >= t;
  return (uint32_t)q;
}

/* thumb[i] = round(acc[i] / t) = floor(num / t), num = acc[i] + t/2, for t < 2^23, in double
 * without a division so that it vectorises cheaply: num < 2^31 and t are exact, and num * inv
 * (inv = 1/t rounded) is within q * 2^-51 <= 2^-43 of the exact quotient q <= 256. Adding
 * 2^-30 lifts an exact integer quotient that came out just below it, and cannot carry a
 * non-integer one, at least 1/t > 2^-23 below the next integer, across it; truncation then
 * gives the exact integer floor on every IEEE machine (-ffp-contract=off keeps the two roundings
 * apart). */
ES_VECTORIZE static void thumb_small(const uint64_t *restrict acc, size_t n, uint32_t t,
                                     uint8_t *restrict out)
{
  const double inv = 1.0 / (double)(int32_t)t, lift = 0x1p-30;
  const int32_t half = (int32_t)(t / 2);
  for (size_t i = 0; i < n; i++)
    out[i] = (uint8_t)(int32_t)((double)((int32_t)acc[i] + half) * inv + lift);
}

ES_VECTORIZE static void add_row(uint64_t *restrict band, const uint64_t *restrict row)
{
  for (uint32_t x = 0; x < ES__THUMB; x++)
    band[x] += row[x];
}

/* A y tap weighs at most ES__THUMB, so each product fits 16 bits. */
ES_VECTORIZE void es__add_weighted_row_portable(uint32_t *restrict vacc,
                                               const uint8_t *restrict luma, uint32_t n,
                                               uint16_t weight)
{
  for (uint32_t x = 0; x < n; x++)
    vacc[x] += (uint16_t)(luma[x] * weight);
}

void es__prefix_u32_portable(const uint32_t *v, uint32_t n, uint32_t *pre)
{
  uint32_t run = 0;
  pre[0] = 0;
  for (uint32_t x = 0; x < n; x++) {
    run += v[x];
    pre[x + 1] = run;
  }
}

/* The prefix-sum kernel this CPU runs within the EDGESET_ISA cap (both give the same results). */
static es__prefix_fn *prefix_kernel(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
  if (es_cpu_has(ES_CPU_AVX2))
    return es__prefix_u32_avx2;
#endif
  return es__prefix_u32_portable;
}

/* With pre the prefix sums of vacc, the sum up to unit u is T * pre[at] + rem * vacc[at], and
 * a column is the difference at its two edges. The prefix sums wrap modulo 2^32, but their
 * differences are the exact sums of the whole source columns inside a thumbnail column, which
 * the caller keeps below 2^32. */
void es__reduce_row_portable(const uint32_t *vacc, uint32_t w, const uint32_t *at,
                             const uint32_t *rem, uint32_t *pre, uint64_t *out)
{
  prefix_kernel()(vacc, w, pre);
  for (uint32_t j = 0; j < ES__THUMB; j++)
    out[j] += (uint64_t)(uint32_t)(pre[at[j + 1]] - pre[at[j]]) * ES__THUMB +
              (uint64_t)rem[j + 1] * vacc[at[j + 1]] - (uint64_t)rem[j] * vacc[at[j]];
}

/* Whether this CPU runs formats/image_thumb_avx512.c, the AVX-512 thumbnail kernels, within the
 * EDGESET_ISA cap (else the portable ones; all give the same results). */
static int thumb_avx512(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
  return es_cpu_has(ES_CPU_AVX512F | ES_CPU_AVX512BW | ES_CPU_AVX512VNNI);
#else
  return 0;
#endif
}

int es_image_features(const es_image *img, uint64_t *phash, es_stats *stats, es_near_sig *sig,
                      es_error *err)
{
  if (!img || !img->data || img->width == 0 || img->height == 0 || img->channels < 1 ||
      img->channels > 4)
    return es_error_set(err, ES_EINTERNAL, "features: invalid image");
  const uint32_t w = img->width, h = img->height, c = img->channels;
  const uint32_t T = ES__THUMB;
  es_area_tap *yt = NULL;
  uint8_t *luma = NULL, *thumb = NULL;
  uint32_t edge_at[ES__THUMB + 1], edge_rem[ES__THUMB + 1];
  uint32_t *vacc = NULL, *pre = NULL;
  es__pixel_sums *ps = NULL;
  int rc = ES_OK;

  ps = calloc(1, sizeof *ps);
  yt = malloc(((size_t)h + T) * sizeof *yt);
  luma = malloc(w);
  thumb = malloc((size_t)T * T);
  vacc = malloc(((size_t)w + 1) * sizeof *vacc);
  pre = malloc(((size_t)w + 1) * sizeof *pre);
  if (!ps || !yt || !luma || !thumb || !vacc || !pre) {
    rc = es_error_set(err, ES_ENOMEM, "features: out of memory for a %ux%u image", w, h);
    goto cleanup;
  }
  size_t ny = es_area_taps(h, T, yt);
  /* A column sum is at most 255 times the y weight vacc holds; a thumbnail column covers
   * whole source columns [edge_at[j], edge_at[j + 1]), at most `span` of them, whose sum must
   * stay below 2^32 too (es__reduce_fn): vacc is reduced early in the rare image tall enough to
   * pass held_max. */
  uint32_t span = 1;
  for (uint32_t j = 0; j <= T; j++) {
    uint64_t u = (uint64_t)j * w;
    edge_at[j] = (uint32_t)(u / T);
    edge_rem[j] = (uint32_t)(u % T);
    if (j && edge_at[j] - edge_at[j - 1] > span)
      span = edge_at[j] - edge_at[j - 1];
  }
  const uint64_t held_max = UINT32_MAX / (255 * (uint64_t)span);
  vacc[w] = 0;

  ps->n = (uint64_t)w * h;
  /* Vertical first: the y taps come in source order with non-decreasing destination, so the
   * taps of thumbnail row d are a contiguous run; their weighted source rows are summed per
   * column, then reduced horizontally. Sums stay below 255 * w * h (fits 64 bits). Each source
   * row is scanned (stats) exactly once, when its first tap comes. */
  size_t stride = es_image_stride(img), k = 0;
  rgb_row_fn *kernel = rgb_row_kernel();
  es__weighted_fn *add_weighted =
      thumb_avx512() ? es__add_weighted_row_avx512 : es__add_weighted_row_portable;
  es__reduce_fn *reduce = thumb_avx512() ? es__reduce_row_avx512 : es__reduce_row_portable;
  uint32_t y_done = UINT32_MAX;
  int prev_single = 0;
  /* Each of the 128x128 cells carries a total weight of w*h (es_area_taps), so a cell's mean
   * luma is its sum / (w*h) and a 4x4 block's mean, in 1/16 steps, is its sum / (w*h). Rows
   * are turned into thumbnail rows and 4-row bands into hash rows as soon as they are done. */
  const uint64_t total = (uint64_t)w * h, inv = UINT64_MAX / total;
  uint64_t rowsum[ES__THUMB], band[ES__THUMB];
  int32_t f[ES__HASH_SIDE * ES__HASH_SIDE];
  memset(band, 0, sizeof band);
  for (uint32_t d = 0; d < T; d++) {
    size_t k0 = k;
    while (k < ny && yt[k].dst == d)
      k++;
    int single = k - k0 == 1;
    /* When enlarging, consecutive rows often come from one source row with the same weight:
     * then rowsum already holds their sums. */
    int same = single && prev_single && yt[k0].src == yt[k0 - 1].src &&
               yt[k0].weight == yt[k0 - 1].weight;
    if (!same) {
      memset(vacc, 0, (size_t)w * sizeof *vacc);
      memset(rowsum, 0, sizeof rowsum);
      uint64_t held = 0;
      for (size_t t = k0; t < k; t++) {
        if (yt[t].src != y_done) {
          y_done = yt[t].src;
          scan_row(img->data + y_done * stride, w, c, kernel, luma, ps);
        }
        if (held + yt[t].weight > held_max) {
          reduce(vacc, w, edge_at, edge_rem, pre, rowsum);
          memset(vacc, 0, (size_t)w * sizeof *vacc);
          held = 0;
        }
        add_weighted(vacc, luma, w, (uint16_t)yt[t].weight);
        held += yt[t].weight;
      }
      reduce(vacc, w, edge_at, edge_rem, pre, rowsum);
    }
    prev_single = single;

    if (same)
      memcpy(thumb + (size_t)d * T, thumb + (size_t)(d - 1) * T, T);
    else if (total < ((uint64_t)1 << 23))
      thumb_small(rowsum, T, (uint32_t)total, thumb + (size_t)d * T);
    else
      for (uint32_t x = 0; x < T; x++)
        thumb[(size_t)d * T + x] = (uint8_t)div_round(rowsum[x], total, inv);
    add_row(band, rowsum);
    if (d % 4 == 3) {
      int32_t *frow = f + (d / 4) * ES__HASH_SIDE;
      for (uint32_t bx = 0; bx < ES__HASH_SIDE; bx++) {
        uint64_t sum = band[4 * bx] + band[4 * bx + 1] + band[4 * bx + 2] + band[4 * bx + 3];
        frow[bx] = (int32_t)div_round(sum, total, inv);
      }
      memset(band, 0, sizeof band);
    }
  }

  if (phash)
    *phash = es__phash_from_luma32(f);
  if (sig) {
    /* the hash input in whole luma steps (halves up): 0..4080 -> 0..255 */
    for (size_t i = 0; i < ES_SIG_PIXELS; i++)
      sig->px[i] = (uint8_t)((f[i] + 8) >> 4);
    uint32_t side = w < h ? w : h;
    sig->side = (uint16_t)(side > UINT16_MAX ? UINT16_MAX : side);
  }
  if (stats)
    stats_finish(ps, c >= 3, thumb, stats);

cleanup:
  free(yt);
  free(luma);
  free(thumb);
  free(vacc);
  free(pre);
  free(ps);
  return rc;
}
