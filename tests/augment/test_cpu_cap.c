/* augment's operations with SIMD paths (augment/pixel_ops.c, augment/warp.c: SSE2, SSE4.1 and
 * AVX2 paths, each taken within the EDGESET_ISA cap) give the same bytes under every cap as
 * under `portable`, and under `portable` the public operations are the portable loops. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "augment/augment.h"
#include "augment/augment_internal.h"
#include "capcheck.h"
#include "core/cpu.h"

static const uint32_t sizes[][2] = {{1, 1},  {2, 3},  {15, 4},  {16, 2},   {17, 5},
                                    {33, 7}, {47, 3}, {64, 9},  {95, 31}, {130, 40}};
#define NSIZES (sizeof sizes / sizeof sizes[0])
#define NOPS 9

static es_image picture(size_t s, uint32_t c)
{
  es_image img = {0};
  cr_assert_eq(es_image_alloc(&img, sizes[s][0], sizes[s][1], c, NULL), ES_OK);
  for (size_t i = 0; i < es_image_size(&img); i++)
    img.data[i] = (uint8_t)(es_aug_mix64(s * 1000 + c + i) >> 56);
  return img;
}

/* Operation k of the fixed list on src. */
static int run_op(int k, const es_image *src, es_image *dst, es_error *err)
{
  switch (k) {
  case 0: return es_aug_hflip(src, dst, err);
  case 1: return es_aug_brightness(src, 37, dst, err);
  case 2: return es_aug_brightness(src, -200, dst, err);
  case 3: return es_aug_contrast(src, 13000, dst, err);
  case 4: return es_aug_contrast(src, 6000, dst, err);
  case 5: return es_aug_affine(src, 1500, 11000, dst, err);
  case 6: return es_aug_affine(src, -33000, 9000, dst, err);
  case 7: return es_aug_blur(src, 120, 4, dst, err);
  default: return es_aug_blur(src, 300, 9, dst, err);
  }
}

static size_t total_bytes(void)
{
  size_t n = 0;
  for (size_t s = 0; s < NSIZES; s++)
    for (uint32_t c = 1; c <= 4; c++)
      n += (size_t)sizes[s][0] * sizes[s][1] * c * NOPS;
  return n;
}

static void ops_all(void *out, void *ctx)
{
  (void)ctx;
  uint8_t *o = out;
  for (size_t s = 0; s < NSIZES; s++)
    for (uint32_t c = 1; c <= 4; c++) {
      es_image src = picture(s, c);
      for (int k = 0; k < NOPS; k++) {
        es_image dst = {0};
        es_error err = {0};
        cr_assert_eq(run_op(k, &src, &dst, &err), ES_OK, "op %d: %s", k, err.msg);
        cr_assert_eq(es_image_size(&dst), es_image_size(&src));
        memcpy(o, dst.data, es_image_size(&dst));
        o += es_image_size(&dst);
        es_image_free(&dst);
      }
      es_image_free(&src);
    }
}

Test(cpu_cap, ops_same_under_every_cap)
{
  cap_same_bytes(ops_all, NULL, total_bytes(), "augment operations");
}

/* EDGESET_ISA=portable takes no SIMD path: the public operations are the portable loops. */
Test(cpu_cap, portable_cap_is_portable_loop)
{
  es__cpu_set_cap(ES_CPU_CAP_PORTABLE);
  cr_expect(!es__aug_simd());
  es_image src = picture(8, 3), a = {0}, b = {0};
  es_error err = {0};
  cr_assert_eq(es_aug_blur(&src, 150, 5, &a, &err), ES_OK);
  cr_assert_eq(es__aug_blur_portable(&src, 150, 5, &b, &err), ES_OK);
  cr_expect_eq(memcmp(a.data, b.data, es_image_size(&a)), 0);
  es_image_free(&a);
  es_image_free(&b);
  es_image_free(&src);
}
