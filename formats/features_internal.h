/* Internal seams between the one-pass pixel walk (formats/image_stats.c) and the hash
 * (formats/phash.c). Not for use outside these two files and their tests. */
#ifndef ES_FORMATS_FEATURES_INTERNAL_H
#define ES_FORMATS_FEATURES_INTERNAL_H

#include <stdint.h>

#include "formats/manifest.h"

/* Loops meant to be vectorised (planar byte rows, no stores through computed indices) are
 * marked ES_VECTORIZE. GCC does so only from -O3 (hence optimize("tree-vectorize")), and
 * on x86-64 a clone is built for AVX2 (target_clones, picked at load time). Everything is
 * integer, so no variant changes a result. */
#if defined(__GNUC__) && !defined(__clang__)
#if defined(__x86_64__)
#define ES_VECTORIZE __attribute__((target_clones("avx2", "default"), optimize("tree-vectorize")))
#else
#define ES_VECTORIZE __attribute__((optimize("tree-vectorize")))
#endif
#define ES_HAVE_SHUFFLE 1
typedef uint8_t es_v16u8 __attribute__((vector_size(16)));
#else
#define ES_VECTORIZE
#endif

/* Side of the fixed-size luma thumbnail the sharpness is measured on; the 32x32 DCT input is
 * its exact 4x4 block mean, so both come from one set of area sums. */
#define ES__THUMB 128
#define ES__HASH_SIDE 32

/* Integer sums over the pixels of an image (es_image_features): luma sum, sum of squares and
 * clip counts (<= 2, >= 253), and the saturation term, the sum over pixels of
 * floor(65536 * (max - min) / max) (0 where max = 0). */
typedef struct es__pixel_sums {
  uint64_t n, sum, sumsq, low, high, sat;
} es__pixel_sums;

/* One row of n pixels of c (1-4) interleaved channels: its luma into luma[n], its sums added to
 * *ps. The portable path; es__rgb_row_sums_avx2() gives the same results for c = 3 and
 * n <= 65536 (on x86-64 CPUs with AVX2 only). */
void es__row_sums_portable(const uint8_t *row, uint32_t n, uint32_t c, uint8_t *luma,
                           es__pixel_sums *ps);
void es__rgb_row_sums_avx2(const uint8_t *rgb, uint32_t n, uint8_t *luma, es__pixel_sums *ps);
void es__rgb_row_sums_avx512(const uint8_t *rgb, uint32_t n, uint8_t *luma, es__pixel_sums *ps);

/* pre[0] = 0 and pre[x + 1] = v[0] + ... + v[x] modulo 2^32, for x < n. The portable path;
 * es__prefix_u32_avx2() gives the same results (on x86-64 CPUs with AVX2 only). */
typedef void es__prefix_fn(const uint32_t *v, uint32_t n, uint32_t *pre);
es__prefix_fn es__prefix_u32_portable, es__prefix_u32_avx2;

/* The two steps of the thumbnail's exact area sums (formats/image_stats.c).
 * Vertical: vacc[x] += weight * luma[x] for x < n, modulo 2^32, with weight <= ES__THUMB.
 * Horizontal: thumbnail column j covers source units [at[j] * T + rem[j], at[j + 1] * T +
 * rem[j + 1]) (T = ES__THUMB, j < T, rem[j] < T, at[T] = w and rem[T] = 0), and its sum
 * weighted by those units is added to out[j]; vacc holds w + 1 values (vacc[w] = 0) whose sum
 * over any such column stays below 2^32, and pre has room for w + 1. The portable paths; the
 * AVX-512 kernels give the same results (x86-64 CPUs with AVX-512 F, BW and VNNI only). */
typedef void es__weighted_fn(uint32_t *vacc, const uint8_t *luma, uint32_t n, uint16_t weight);
typedef void es__reduce_fn(const uint32_t *vacc, uint32_t w, const uint32_t *at,
                           const uint32_t *rem, uint32_t *pre, uint64_t *out);
es__weighted_fn es__add_weighted_row_portable, es__add_weighted_row_avx512;
es__reduce_fn es__reduce_row_portable, es__reduce_row_avx512;

/* The phash of a 32x32 luma image given in 1/16 luma steps (0..4080), row-major. */
uint64_t es__phash_from_luma32(const int32_t f[ES__HASH_SIDE * ES__HASH_SIDE]);

/* Variance of the 4-neighbour Laplacian over the interior of a w x h 8-bit image (0 when it
 * has no interior). */
double es__laplacian_variance(const uint8_t *img, uint32_t w, uint32_t h);

#endif
