/* Tests of the per-image features (formats/features.h): pinned phash bits, invariance of the
 * hash to resizing and brightness, statistics of images whose values are known, and the
 * integer luma / area-average helpers they are built on (core/image_ops.h). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "formats/features.h"
#include "formats/features_internal.h"
#include "core/cpu.h"
#include "core/image_ops.h"

/* Whether the CPU runs the kernels (whatever EDGESET_ISA caps): each is tested where it runs. */
#define HAVE(features) ((es_cpu_detected() & (features)) == (features))

static es_image make(uint32_t w, uint32_t h, uint32_t c)
{
  es_image img;
  es_error err;
  cr_assert_eq(es_image_alloc(&img, w, h, c, &err), ES_OK);
  return img;
}

/* The golden image: every pixel an integer function of (x, y). */
static es_image golden_image(void)
{
  es_image img = make(200, 150, 3);
  for (uint32_t y = 0; y < 150; y++)
    for (uint32_t x = 0; x < 200; x++) {
      uint8_t *p = img.data + (y * 200 + x) * 3;
      p[0] = (uint8_t)((x * 7 + y * 3) & 255);
      p[1] = (uint8_t)(((x * y) >> 5) & 255);
      p[2] = (uint8_t)((x ^ y) & 255);
    }
  return img;
}

/* A smooth "scene": a few soft blobs and a gradient, sampled at any size so that a smaller
 * version is the same picture. seed changes the scene. */
static es_image scene(uint32_t w, uint32_t h, unsigned seed)
{
  es_image img = make(w, h, 3);
  double cx[4], cy[4], rad[4], amp[4];
  unsigned s = seed * 2654435761u + 1;
  for (int i = 0; i < 4; i++) {
    s = s * 1103515245u + 12345u;
    cx[i] = (s >> 8) % 1000 / 1000.0;
    s = s * 1103515245u + 12345u;
    cy[i] = (s >> 8) % 1000 / 1000.0;
    s = s * 1103515245u + 12345u;
    rad[i] = 0.08 + (s >> 8) % 200 / 1000.0;
    s = s * 1103515245u + 12345u;
    amp[i] = ((s >> 8) % 2 ? 1 : -1) * (double)(60 + (s >> 12) % 60);
  }
  for (uint32_t y = 0; y < h; y++)
    for (uint32_t x = 0; x < w; x++) {
      double u = (x + 0.5) / w, v = (y + 0.5) / h, val = 110 + 30 * u - 20 * v;
      for (int i = 0; i < 4; i++) {
        double dx = u - cx[i], dy = v - cy[i];
        val += amp[i] * exp(-(dx * dx + dy * dy) / (rad[i] * rad[i]));
      }
      uint8_t *p = img.data + ((size_t)y * w + x) * 3;
      for (int ch = 0; ch < 3; ch++) {
        double cv = val + (ch - 1) * 15;
        p[ch] = (uint8_t)(cv < 0 ? 0 : cv > 255 ? 255 : cv + 0.5);
      }
    }
  return img;
}

static uint64_t hash_of(const es_image *img, es_stats *st)
{
  uint64_t h = 0;
  es_stats tmp;
  es_error err;
  cr_assert_eq(es_image_features(img, &h, st ? st : &tmp, NULL, &err), ES_OK, "%s", err.msg);
  return h;
}

/* The bits are pinned: the whole pipeline (integer luma, integer area sums, integer DCT with a
 * constant table, exact median comparison) has no floating point, so any machine and compiler
 * must give exactly these bits. A change here is a change of the hash definition and
 * invalidates every dataset's phash values. */
Test(features, golden_bits)
{
  es_image img = golden_image();
  es_stats st;
  uint64_t h = hash_of(&img, &st);
  cr_assert_eq(h, UINT64_C(0xa56ada32669e7c80), "phash %016llx", (unsigned long long)h);
  cr_assert_eq(h & 1, 0, "the DC bit is always 0");
  cr_assert_eq(__builtin_popcountll(h), 31, "63 AC bits, strictly above the median of 63");
  /* The statistics come from integer sums and one final division: pinned too. */
  cr_assert_float_eq(st.mean, 111.02206666666666, 1e-9);
  cr_assert_float_eq(st.std, 50.30318922688258, 1e-9);
  cr_assert_float_eq(st.sharpness, 873.08039369154153, 1e-7);
  cr_assert_float_eq(st.saturation, 0.69812760620117187, 1e-12);
  cr_assert_float_eq(st.clip_low, 25.0 / 150000, 1e-15);
  cr_assert_float_eq(st.clip_high, 20.0 / 150000, 1e-15);
  es_image_free(&img);
}

Test(features, resize_and_brightness_keep_the_hash_close)
{
  for (unsigned seed = 1; seed <= 6; seed++) {
    es_image big = scene(640, 480, seed), small = scene(160, 120, seed);
    es_image down;
    es_error err;
    cr_assert_eq(es_image_resize_area(&big, 200, 150, &down, &err), ES_OK);
    uint64_t hb = hash_of(&big, NULL);
    cr_assert_leq(es_phash_distance(hb, hash_of(&small, NULL)), 4, "seed %u resampled", seed);
    cr_assert_leq(es_phash_distance(hb, hash_of(&down, NULL)), 4, "seed %u downscaled", seed);
    /* +10% brightness (clipped), and -10%. */
    for (size_t i = 0; i < es_image_size(&down); i++) {
      unsigned v = down.data[i] * 11u / 10u;
      down.data[i] = (uint8_t)(v > 255 ? 255 : v);
    }
    cr_assert_leq(es_phash_distance(hb, hash_of(&down, NULL)), 6, "seed %u brighter", seed);
    for (size_t i = 0; i < es_image_size(&small); i++)
      small.data[i] = (uint8_t)(small.data[i] * 9u / 10u);
    cr_assert_leq(es_phash_distance(hb, hash_of(&small, NULL)), 6, "seed %u darker", seed);
    es_image_free(&big);
    es_image_free(&small);
    es_image_free(&down);
  }
}

Test(features, different_scenes_are_far_apart)
{
  uint64_t h[8];
  for (unsigned s = 0; s < 8; s++) {
    es_image img = scene(320, 240, 100 + s);
    h[s] = hash_of(&img, NULL);
    es_image_free(&img);
  }
  for (int i = 0; i < 8; i++)
    for (int j = i + 1; j < 8; j++)
      cr_assert_geq(es_phash_distance(h[i], h[j]), 12, "scenes %d and %d", i, j);
}

Test(features, adding_a_constant_changes_nothing)
{
  /* The AC rows of the cosine table sum to exactly 0: a uniform brightness offset that does
   * not clip gives the very same bits. */
  es_image a = scene(100, 80, 7);
  es_image b = make(100, 80, 1), c = make(100, 80, 1);
  es_luma_row(a.data, 100 * 80, 3, b.data);
  for (size_t i = 0; i < 100 * 80; i++) {
    b.data[i] = (uint8_t)(b.data[i] / 2 + 40);
    c.data[i] = (uint8_t)(b.data[i] + 37);
  }
  cr_assert_eq(hash_of(&b, NULL), hash_of(&c, NULL));
  es_image_free(&a);
  es_image_free(&b);
  es_image_free(&c);
}

Test(features, flat_image)
{
  es_image img = make(64, 48, 3);
  memset(img.data, 90, es_image_size(&img));
  es_stats st;
  cr_assert_eq(hash_of(&img, &st), 0, "a flat image hashes to 0");
  cr_assert_float_eq(st.mean, 90.0, 1e-12);
  cr_assert_eq(st.std, 0.0);
  cr_assert_eq(st.sharpness, 0.0);
  cr_assert_eq(st.saturation, 0.0);
  cr_assert_eq(st.clip_low, 0.0);
  cr_assert_eq(st.clip_high, 0.0);
  es_image_free(&img);
}

Test(features, checkerboard_and_clipping)
{
  /* 256x256, 8x8 squares of 0 and 255: on the 128x128 sharpness grid they are 4x4 squares,
   * whose edges give a large Laplacian. Half the pixels are clipped at each end. */
  es_image img = make(256, 256, 1);
  for (uint32_t y = 0; y < 256; y++)
    for (uint32_t x = 0; x < 256; x++)
      img.data[y * 256 + x] = ((x / 8 + y / 8) & 1) ? 255 : 0;
  es_stats st;
  hash_of(&img, &st);
  cr_assert_float_eq(st.mean, 127.5, 1e-12);
  cr_assert_float_eq(st.std, 127.5, 1e-12);
  cr_assert_float_eq(st.clip_low, 0.5, 1e-15);
  cr_assert_float_eq(st.clip_high, 0.5, 1e-15);
  cr_assert_gt(st.sharpness, 50000.0);

  /* Thresholds are luma <= 2 and >= 253 exactly. */
  es_image g = make(6, 1, 1);
  const uint8_t v[6] = {2, 3, 252, 253, 0, 255};
  memcpy(g.data, v, 6);
  hash_of(&g, &st);
  cr_assert_float_eq(st.clip_low, 2.0 / 6, 1e-15);
  cr_assert_float_eq(st.clip_high, 2.0 / 6, 1e-15);
  /* A 1-pixel checkerboard averages out on the 128x128 grid when the image is much larger:
   * sharpness is measured at a fixed scale, so it compares across resolutions. */
  es_image fine = make(1024, 1024, 1), coarse = make(128, 128, 1);
  for (uint32_t y = 0; y < 1024; y++)
    for (uint32_t x = 0; x < 1024; x++)
      fine.data[y * 1024 + x] = ((x + y) & 1) ? 200 : 50;
  for (uint32_t y = 0; y < 128; y++)
    for (uint32_t x = 0; x < 128; x++)
      coarse.data[y * 128 + x] = ((x + y) & 1) ? 200 : 50;
  es_stats sf, sc;
  hash_of(&fine, &sf);
  hash_of(&coarse, &sc);
  cr_assert_eq(sf.sharpness, 0.0);
  cr_assert_float_eq(sc.sharpness, 600.0 * 600.0, 1e-6, "4*150 per pixel, +-600");
  es_image_free(&img);
  es_image_free(&g);
  es_image_free(&fine);
  es_image_free(&coarse);
}

Test(features, saturation)
{
  es_image img = make(4, 1, 3);
  const uint8_t px[12] = {255, 0, 0, 200, 100, 100, 0, 0, 0, 30, 30, 30};
  memcpy(img.data, px, 12);
  es_stats st;
  hash_of(&img, &st);
  /* (1 + 0.5 + 0 + 0) / 4; black counts as saturation 0. */
  cr_assert_float_eq(st.saturation, 0.375, 1e-15);
  /* Per pixel in 1/65536 steps, rounded down: 2/3 -> 43690/65536. */
  const uint8_t third[12] = {3, 1, 1, 3, 1, 1, 3, 1, 1, 3, 1, 1};
  memcpy(img.data, third, 12);
  hash_of(&img, &st);
  cr_assert_eq(st.saturation, 43690.0 / 65536.0);
  /* Every (max, min) pair against the integer definition, through 256-pixel images. */
  es_image row = make(256, 1, 3);
  for (unsigned mx = 1; mx < 256; mx++) {
    uint64_t want = 0;
    for (unsigned x = 0; x < 256; x++) {
      unsigned mn = x % (mx + 1);
      row.data[3 * x] = (uint8_t)mx;
      row.data[3 * x + 1] = (uint8_t)mn;
      row.data[3 * x + 2] = (uint8_t)(x & 1 ? mx : mn);
      want += ((uint64_t)(mx - mn) << 16) / mx;
    }
    hash_of(&row, &st);
    cr_assert_eq(st.saturation, (double)want / 65536.0 / 256.0, "max %u", mx);
  }
  es_image_free(&row);
  es_image_free(&img);
}

Test(features, channels_and_alpha)
{
  es_image rgb = scene(90, 70, 3), rgba = make(90, 70, 4), gray = make(90, 70, 1),
           graya = make(90, 70, 2), grgb = make(90, 70, 3);
  for (size_t i = 0; i < 90 * 70; i++) {
    memcpy(rgba.data + 4 * i, rgb.data + 3 * i, 3);
    rgba.data[4 * i + 3] = (uint8_t)(i * 31);
    uint8_t l = es_luma_rgb(rgb.data[3 * i], rgb.data[3 * i + 1], rgb.data[3 * i + 2]);
    gray.data[i] = l;
    graya.data[2 * i] = l;
    graya.data[2 * i + 1] = (uint8_t)(i * 17);
    memset(grgb.data + 3 * i, l, 3);
  }
  es_stats s1, s2, s3, s4, s5;
  uint64_t h1 = hash_of(&rgb, &s1), h2 = hash_of(&rgba, &s2), h3 = hash_of(&gray, &s3),
           h4 = hash_of(&graya, &s4), h5 = hash_of(&grgb, &s5);
  cr_assert_eq(h1, h2);
  cr_assert(memcmp(&s1, &s2, sizeof s1) == 0, "alpha is ignored");
  cr_assert_eq(h1, h3);
  cr_assert_eq(h3, h4);
  cr_assert(memcmp(&s3, &s4, sizeof s3) == 0);
  cr_assert_eq(h3, h5, "gray as RGB has the same luma");
  cr_assert_eq(s5.saturation, 0.0);
  cr_assert_eq(s1.mean, s3.mean);
  cr_assert_eq(s1.sharpness, s3.sharpness);
  es_image_free(&rgb);
  es_image_free(&rgba);
  es_image_free(&gray);
  es_image_free(&graya);
  es_image_free(&grgb);
}

Test(features, odd_shapes_and_bad_input)
{
  es_error err;
  es_stats st;
  uint64_t h;
  const uint32_t shapes[][2] = {{1, 1}, {1, 500}, {3000, 2}, {33, 31}, {127, 129}};
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
    es_image img = make(shapes[i][0], shapes[i][1], 3);
    for (size_t k = 0; k < es_image_size(&img); k++)
      img.data[k] = (uint8_t)(k * 13 + (k >> 7));
    cr_assert_eq(es_image_features(&img, &h, &st, NULL, &err), ES_OK, "%ux%u", shapes[i][0],
                 shapes[i][1]);
    cr_assert(st.mean >= 0 && st.mean <= 255 && st.saturation >= 0 && st.saturation <= 1);
    es_image_free(&img);
  }
  es_image empty = {0};
  cr_assert_neq(es_image_features(&empty, &h, &st, NULL, &err), ES_OK);
  cr_assert(strlen(err.msg) > 0);
  es_image five = {2, 2, 5, (uint8_t[20]){0}};
  cr_assert_neq(es_image_features(&five, &h, &st, NULL, &err), ES_OK);
}

Test(image_ops, luma)
{
  cr_assert_eq(es_luma_rgb(255, 255, 255), 255);
  cr_assert_eq(es_luma_rgb(0, 0, 0), 0);
  cr_assert_eq(es_luma_rgb(255, 0, 0), 77);
  cr_assert_eq(es_luma_rgb(0, 255, 0), 149);
  cr_assert_eq(es_luma_rgb(0, 0, 255), 29);
  for (unsigned v = 0; v < 256; v++)
    cr_assert_eq(es_luma_rgb(v, v, v), v, "gray %u stays gray", v);
  es_image rgba = make(2, 1, 4), out;
  const uint8_t px[8] = {255, 0, 0, 0, 10, 20, 30, 255};
  memcpy(rgba.data, px, 8);
  es_error err;
  cr_assert_eq(es_image_luma(&rgba, &out, &err), ES_OK);
  cr_assert_eq(out.channels, 1);
  cr_assert_eq(out.data[0], 77);
  cr_assert_eq(out.data[1], (77 * 10 + 150 * 20 + 29 * 30 + 128) >> 8);
  es_image_free(&rgba);
  es_image_free(&out);
}

Test(image_ops, area_taps_and_resize)
{
  es_area_tap taps[20];
  /* 5 -> 2: each output covers 2.5 inputs; weights on the 10-unit grid sum to 5. */
  size_t n = es_area_taps(5, 2, taps);
  cr_assert_eq(n, 6);
  unsigned sum[2] = {0, 0};
  for (size_t i = 0; i < n; i++)
    sum[taps[i].dst] += taps[i].weight;
  cr_assert_eq(sum[0], 5);
  cr_assert_eq(sum[1], 5);
  cr_assert_eq(taps[2].src, 2);
  cr_assert_eq(taps[2].weight, 1);

  es_image src = make(5, 1, 1), dst;
  const uint8_t row[5] = {10, 20, 30, 40, 51};
  memcpy(src.data, row, 5);
  es_error err;
  cr_assert_eq(es_image_resize_area(&src, 2, 1, &dst, &err), ES_OK);
  /* (2*10 + 2*20 + 1*30) / 5 = 18; (1*30 + 2*40 + 2*51) / 5 = 42.4 -> 42. */
  cr_assert_eq(dst.data[0], 18);
  cr_assert_eq(dst.data[1], 42);
  es_image_free(&dst);
  /* Enlarging replicates (box). */
  cr_assert_eq(es_image_resize_area(&src, 10, 2, &dst, &err), ES_OK);
  for (int y = 0; y < 2; y++)
    for (int x = 0; x < 10; x++)
      cr_assert_eq(dst.data[y * 10 + x], row[x / 2]);
  es_image_free(&dst);
  /* Halving averages 2x2 blocks per channel, rounding halves up. */
  es_image rgb = make(2, 2, 3);
  const uint8_t q[12] = {0, 1, 255, 1, 2, 255, 1, 2, 0, 1, 2, 0};
  memcpy(rgb.data, q, 12);
  cr_assert_eq(es_image_resize_area(&rgb, 1, 1, &dst, &err), ES_OK);
  cr_assert_eq(dst.data[0], 1);  /* 3/4 = 0.75 */
  cr_assert_eq(dst.data[1], 2);  /* 7/4 = 1.75 */
  cr_assert_eq(dst.data[2], 128); /* 510/4 = 127.5, halves up */
  es_image_free(&dst);
  cr_assert_eq(es_image_resize_area(&rgb, 0, 3, &dst, &err), ES_EUSAGE);
  es_image_free(&rgb);
  es_image_free(&src);
}

/* The sharpness thumbnail built inside the one-pass walk (vertical sums first, rows reused
 * when enlarging) is exactly the area-average resize of the luma to 128x128. */
Test(features, thumbnail_matches_area_resize)
{
  const uint32_t shapes[][3] = {{20, 13, 1}, {28, 28, 1}, {300, 7, 3}, {129, 127, 4},
                                {640, 480, 3}, {1000, 90, 2}, {128, 128, 3}, {5000, 3, 1},
                                {255, 257, 3}};
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
    es_image img = make(shapes[i][0], shapes[i][1], shapes[i][2]), luma, thumb;
    for (size_t k = 0; k < es_image_size(&img); k++)
      img.data[k] = (uint8_t)((k * 2654435761u) >> 13);
    es_error err;
    es_stats st;
    hash_of(&img, &st);
    cr_assert_eq(es_image_luma(&img, &luma, &err), ES_OK);
    cr_assert_eq(es_image_resize_area(&luma, 128, 128, &thumb, &err), ES_OK);
    cr_assert_eq(st.sharpness, es__laplacian_variance(thumb.data, 128, 128), "%ux%ux%u",
                 shapes[i][0], shapes[i][1], shapes[i][2]);
    es_image_free(&img);
    es_image_free(&luma);
    es_image_free(&thumb);
  }
}

/* Each SIMD row kernel the CPU has gives exactly the portable path's luma bytes and sums, on
 * rows of every length around their steps and on values near every threshold (0, the clip
 * counts at 2 and 253, 255). */
Test(features, simd_rows_equal_portable)
{
#if defined(__x86_64__) && defined(__GNUC__)
  typedef void kernel_fn(const uint8_t *, uint32_t, uint8_t *, es__pixel_sums *);
  struct {
    const char *name;
    int have;
    kernel_fn *fn;
  } kernels[] = {
      {"avx2", HAVE(ES_CPU_AVX2), es__rgb_row_sums_avx2},
      {"avx512", HAVE(ES_CPU_AVX512F | ES_CPU_AVX512BW | ES_CPU_AVX512VBMI),
       es__rgb_row_sums_avx512},
  };
  if (!kernels[0].have)
    cr_skip_test("no AVX2 on this CPU");
  static const uint8_t edges[] = {0, 1, 2, 3, 4, 251, 252, 253, 254, 255};
  enum { MAXN = 65536 };
  uint8_t *row = malloc(3 * MAXN), *l1 = malloc(MAXN), *l2 = malloc(MAXN);
  cr_assert(row && l1 && l2);
  uint32_t s = 12345;
  const uint32_t lengths[] = {0,  1,  15, 16,  17,  31,  32,   33,  47,
                              63, 64, 65, 100, 127, 128, 129, 640, 4097, MAXN};
  for (size_t li = 0; li < sizeof lengths / sizeof lengths[0]; li++)
    for (int mode = 0; mode < 3; mode++) {
      uint32_t n = lengths[li];
      for (uint32_t k = 0; k < 3 * n; k++) {
        s = s * 1103515245u + 12345u;
        uint8_t v = (uint8_t)(s >> 16);
        row[k] = mode == 0 ? v : mode == 1 ? edges[v % sizeof edges] : (uint8_t)(v | 0xf8);
      }
      es__pixel_sums want = {0};
      memset(l1, 0xaa, MAXN);
      es__row_sums_portable(row, n, 3, l1, &want);
      for (size_t ki = 0; ki < sizeof kernels / sizeof kernels[0]; ki++) {
        if (!kernels[ki].have)
          continue;
        es__pixel_sums got = {0};
        memset(l2, 0x55, MAXN);
        kernels[ki].fn(row, n, l2, &got);
        cr_assert(memcmp(l1, l2, n) == 0, "%s luma, n = %u, mode %d", kernels[ki].name, n, mode);
        cr_assert(memcmp(&want, &got, sizeof want) == 0, "%s sums, n = %u, mode %d",
                  kernels[ki].name, n, mode);
      }
    }
  /* Every saturation quotient: max m with each min 0..m, in full 64-pixel steps. */
  for (size_t ki = 0; ki < sizeof kernels / sizeof kernels[0]; ki++) {
    if (!kernels[ki].have)
      continue;
    for (unsigned m = 0; m < 256; m++) {
      uint32_t n = 0;
      for (unsigned mn = 0; mn <= m; mn++, n++) {
        row[3 * n] = (uint8_t)m;
        row[3 * n + 1] = (uint8_t)mn;
        row[3 * n + 2] = (uint8_t)(mn + (m - mn) / 2);
      }
      n = (n + 63) / 64 * 64;
      for (uint32_t k = m + 1; k < n; k++)
        memcpy(row + 3 * k, row, 3);
      es__pixel_sums want = {0}, got = {0};
      es__row_sums_portable(row, n, 3, l1, &want);
      kernels[ki].fn(row, n, l2, &got);
      cr_assert_eq(got.sat, want.sat, "%s, max %u", kernels[ki].name, m);
    }
  }
  free(row);
  free(l1);
  free(l2);
#else
  cr_skip_test("not an x86-64 build");
#endif
}

/* The AVX2 prefix sums (the thumbnail's horizontal reduction) equal the portable ones on
 * every length around their 8-element steps, with values large enough to wrap modulo 2^32. */
Test(features, simd_prefix_equals_portable)
{
#if defined(__x86_64__) && defined(__GNUC__)
  if (!HAVE(ES_CPU_AVX2))
    cr_skip_test("no AVX2 on this CPU");
  enum { MAXN = 4200 };
  uint32_t *v = malloc(MAXN * sizeof *v), *p1 = malloc((MAXN + 1) * sizeof *p1),
           *p2 = malloc((MAXN + 1) * sizeof *p2);
  cr_assert(v && p1 && p2);
  uint32_t s = 99;
  for (uint32_t n = 0; n < MAXN; n += n < 40 ? 1 : 997) {
    for (uint32_t k = 0; k < n; k++) {
      s = s * 1103515245u + 12345u;
      v[k] = s ^ (s << 7);
    }
    memset(p1, 0xaa, (MAXN + 1) * sizeof *p1);
    memset(p2, 0x55, (MAXN + 1) * sizeof *p2);
    es__prefix_u32_portable(v, n, p1);
    es__prefix_u32_avx2(v, n, p2);
    cr_assert(memcmp(p1, p2, (n + 1) * sizeof *p1) == 0, "n = %u", n);
    uint32_t total = 0;
    for (uint32_t k = 0; k < n; k++)
      total += v[k];
    cr_assert_eq(p1[0], 0);
    cr_assert_eq(p1[n], total, "n = %u", n);
  }
  free(v);
  free(p1);
  free(p2);
#else
  cr_skip_test("not an x86-64 build");
#endif
}

/* The AVX-512 thumbnail kernels equal the portable ones: the vertical step on every length
 * around its 32-column steps with every weight up to ES__THUMB and sums that wrap modulo 2^32;
 * the horizontal step on widths that make every kind of column edge (ES__THUMB dividing the
 * width or not, narrower and wider than the thumbnail), with column sums near 2^32. */
Test(features, simd_thumbnail_steps_equal_portable)
{
#if defined(__x86_64__) && defined(__GNUC__)
  if (!HAVE(ES_CPU_AVX512F | ES_CPU_AVX512BW | ES_CPU_AVX512VNNI))
    cr_skip_test("no AVX-512 F, BW and VNNI on this CPU");
  enum { MAXW = 5000, T = ES__THUMB };
  uint8_t *luma = malloc(MAXW);
  uint32_t *a = malloc((MAXW + 1) * sizeof *a), *b = malloc((MAXW + 1) * sizeof *b);
  uint32_t *pre = malloc((MAXW + 1) * sizeof *pre);
  cr_assert(luma && a && b && pre);
  uint32_t s = 777;
  for (uint32_t n = 0; n < 300; n++) {
    for (uint32_t k = 0; k < n; k++) {
      s = s * 1103515245u + 12345u;
      luma[k] = (uint8_t)(s >> 16);
      a[k] = b[k] = s ^ (s << 9);
    }
    uint16_t weight = (uint16_t)(n % (T + 1));
    es__add_weighted_row_portable(a, luma, n, weight);
    es__add_weighted_row_avx512(b, luma, n, weight);
    cr_assert(memcmp(a, b, n * sizeof *a) == 0, "vertical, n = %u, weight %u", n, weight);
  }
  const uint32_t widths[] = {1, 2, 7, 100, 127, 128, 129, 255, 256, 300, 640, 641, 1000, 1920,
                             4097, MAXW};
  for (size_t wi = 0; wi < sizeof widths / sizeof widths[0]; wi++) {
    uint32_t w = widths[wi], at[T + 1], rem[T + 1], span = 1;
    for (uint32_t j = 0; j <= T; j++) {
      uint64_t u = (uint64_t)j * w;
      at[j] = (uint32_t)(u / T);
      rem[j] = (uint32_t)(u % T);
      if (j && at[j] - at[j - 1] > span)
        span = at[j] - at[j - 1];
    }
    for (int mode = 0; mode < 2; mode++) {
      /* mode 1: every column as large as the walk allows, so a thumbnail column's sum of
       * whole source columns comes near 2^32 and the prefix sums wrap */
      uint32_t cap = mode ? UINT32_MAX / (span + 1) : 255u * 480u;
      for (uint32_t k = 0; k < w; k++) {
        s = s * 1103515245u + 12345u;
        a[k] = mode ? cap - (s >> 20) : s % cap;
      }
      a[w] = 0;
      uint64_t want[T], got[T];
      for (uint32_t j = 0; j < T; j++)
        want[j] = got[j] = (uint64_t)j << 33;
      es__reduce_row_portable(a, w, at, rem, pre, want);
      es__reduce_row_avx512(a, w, at, rem, pre, got);
      cr_assert(memcmp(want, got, sizeof want) == 0, "horizontal, w = %u, mode %d", w, mode);
    }
  }
  free(luma);
  free(a);
  free(b);
  free(pre);
#else
  cr_skip_test("not an x86-64 build");
#endif
}

/* A column of more than 2^32 / 255 rows overflows 32-bit column sums of full-white rows: the
 * walk must reduce them early. The thumbnail of a one-pixel-wide image is its column's area
 * average (64-bit sums here) repeated across; its sharpness must match. */
Test(features, very_tall_image_column_sums)
{
  const uint32_t h = 17000000;
  es_image img = make(1, h, 1);
  for (uint32_t y = 0; y < h; y++)
    img.data[y] = y < h / 2 ? 255 : (uint8_t)(y % 7 * 30);
  es_area_tap *taps = malloc(((size_t)h + 128) * sizeof *taps);
  uint64_t sums[128] = {0};
  cr_assert(taps);
  size_t nt = es_area_taps(h, 128, taps);
  for (size_t t = 0; t < nt; t++)
    sums[taps[t].dst] += (uint64_t)img.data[taps[t].src] * taps[t].weight;
  uint8_t thumb[128 * 128];
  for (uint32_t d = 0; d < 128; d++)
    memset(thumb + 128 * d, (int)((sums[d] + h / 2) / h), 128);
  double want = es__laplacian_variance(thumb, 128, 128);
  cr_assert(want > 100, "the thumbnail has an edge");
  es_stats st;
  hash_of(&img, &st);
  cr_assert_eq(st.sharpness, want);
  free(taps);
  es_image_free(&img);
}
