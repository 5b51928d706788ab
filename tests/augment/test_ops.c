/* Tests of augment's operations on small synthetic images with exact expected pixels, its
 * integer transcendental functions, the spec parser, the draws and the JSON record. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "augment/augment.h"
#include "formats/decode.h"

static es_image make(uint32_t w, uint32_t h, uint32_t c, const uint8_t *px)
{
  es_image img = {0};
  cr_assert_eq(es_image_alloc(&img, w, h, c, NULL), ES_OK);
  memcpy(img.data, px, (size_t)w * h * c);
  return img;
}

static es_image random_image(uint32_t w, uint32_t h, uint32_t c, uint64_t seed)
{
  es_image img = {0};
  cr_assert_eq(es_image_alloc(&img, w, h, c, NULL), ES_OK);
  for (size_t i = 0; i < es_image_size(&img); i++)
    img.data[i] = (uint8_t)(es_aug_mix64(seed + i) >> 56);
  return img;
}

static void expect(const es_image *img, uint32_t w, uint32_t h, const uint8_t *px)
{
  cr_assert_eq(img->width, w);
  cr_assert_eq(img->height, h);
  for (size_t i = 0; i < es_image_size(img); i++)
    cr_expect_eq(img->data[i], px[i], "sample %zu: %u, expected %u", i, img->data[i], px[i]);
}

Test(augment_ops, flips_and_quarter_turns)
{
  /* 3x2 RGB */
  const uint8_t px[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18};
  es_image src = make(3, 2, 3, px), out = {0};
  cr_assert_eq(es_aug_hflip(&src, &out, NULL), ES_OK);
  expect(&out, 3, 2, (const uint8_t[]){7, 8, 9, 4, 5, 6, 1, 2, 3, 16, 17, 18, 13, 14, 15, 10, 11, 12});
  es_image_free(&out);
  cr_assert_eq(es_aug_vflip(&src, &out, NULL), ES_OK);
  expect(&out, 3, 2, (const uint8_t[]){10, 11, 12, 13, 14, 15, 16, 17, 18, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  es_image_free(&out);
  es_image_free(&src);

  /* gray 3x2:  a b c / d e f */
  const uint8_t g[] = {1, 2, 3, 4, 5, 6};
  src = make(3, 2, 1, g);
  cr_assert_eq(es_aug_rot90(&src, 1, &out, NULL), ES_OK); /* counter-clockwise */
  expect(&out, 2, 3, (const uint8_t[]){3, 6, 2, 5, 1, 4});
  es_image_free(&out);
  cr_assert_eq(es_aug_rot90(&src, 2, &out, NULL), ES_OK);
  expect(&out, 3, 2, (const uint8_t[]){6, 5, 4, 3, 2, 1});
  es_image_free(&out);
  cr_assert_eq(es_aug_rot90(&src, 3, &out, NULL), ES_OK);
  expect(&out, 2, 3, (const uint8_t[]){4, 1, 5, 2, 6, 3});
  es_image_free(&out);
  cr_assert_eq(es_aug_rot90(&src, 4, &out, NULL), ES_EUSAGE);
  es_image_free(&src);
}

Test(augment_ops, translate_reflects)
{
  const uint8_t g[] = {10, 20, 30, 40};
  es_image src = make(4, 1, 1, g), out = {0};
  cr_assert_eq(es_aug_translate(&src, 1, 0, &out, NULL), ES_OK);
  expect(&out, 4, 1, (const uint8_t[]){20, 10, 20, 30});
  es_image_free(&out);
  cr_assert_eq(es_aug_translate(&src, -2, 0, &out, NULL), ES_OK);
  expect(&out, 4, 1, (const uint8_t[]){30, 40, 30, 20});
  es_image_free(&out);
  es_image_free(&src);
}

Test(augment_ops, brightness_contrast_saturate_and_keep_alpha)
{
  const uint8_t ga[] = {250, 7, 5, 8, 100, 9};
  es_image src = make(3, 1, 2, ga), out = {0};
  cr_assert_eq(es_aug_brightness(&src, 10, &out, NULL), ES_OK);
  expect(&out, 3, 1, (const uint8_t[]){255, 7, 15, 8, 110, 9});
  es_image_free(&out);
  cr_assert_eq(es_aug_brightness(&src, -10, &out, NULL), ES_OK);
  expect(&out, 3, 1, (const uint8_t[]){240, 7, 0, 8, 90, 9});
  es_image_free(&out);
  es_image_free(&src);

  /* mean luma 150; factor 2: 150 + floor((v - 150) * 8192 + 2048) / 4096) */
  const uint8_t g[] = {100, 200};
  src = make(2, 1, 1, g);
  cr_assert_eq(es_aug_contrast(&src, 20000, &out, NULL), ES_OK);
  expect(&out, 2, 1, (const uint8_t[]){50, 250});
  es_image_free(&out);
  cr_assert_eq(es_aug_contrast(&src, 5000, &out, NULL), ES_OK);
  expect(&out, 2, 1, (const uint8_t[]){125, 175});
  es_image_free(&out);
  es_image_free(&src);

  /* saturation 0: every colour sample becomes the luma (77 R + 150 G + 29 B + 128) >> 8 */
  const uint8_t rgb[] = {200, 100, 50, 0, 0, 255};
  src = make(2, 1, 3, rgb);
  cr_assert_eq(es_aug_saturation(&src, 0, &out, NULL), ES_OK);
  expect(&out, 2, 1, (const uint8_t[]){124, 124, 124, 29, 29, 29});
  es_image_free(&out);
  cr_assert_eq(es_aug_saturation(&src, 10000, &out, NULL), ES_OK);
  expect(&out, 2, 1, rgb);
  es_image_free(&out);
  es_image_free(&src);
}

Test(augment_ops, gamma_lut_integer_method)
{
  uint8_t lut[256];
  es_aug_gamma_lut(10000, lut);
  for (int v = 0; v < 256; v++)
    cr_expect_eq(lut[v], v, "gamma 1 at %d: %u", v, lut[v]);
  es_aug_gamma_lut(20000, lut);
  cr_expect_eq(lut[128], 64); /* 255 (128/255)^2 = 64.25 */
  cr_expect_eq(lut[255], 255);
  cr_expect_eq(lut[0], 0);
  cr_expect_eq(lut[51], 10); /* 255 * 0.2^2 = 10.2 */
  /* Against double pow: never more than the rounding of a value within 1e-6 of a half. */
  const int32_t gs[] = {1000, 4545, 8000, 12000, 22000, 19000};
  for (size_t k = 0; k < sizeof gs / sizeof gs[0]; k++) {
    es_aug_gamma_lut(gs[k], lut);
    for (int v = 0; v < 256; v++) {
      double ref = 255.0 * pow(v / 255.0, gs[k] / 10000.0);
      if (fabs(ref - floor(ref) - 0.5) > 1e-6)
        cr_expect_eq(lut[v], (int)floor(ref + 0.5), "gamma %d at %d: %u vs %f", gs[k], v, lut[v],
                     ref);
    }
  }
}

Test(augment_ops, sincos_and_kernel)
{
  int64_t s, c;
  es_aug_sincos(9000, &s, &c);
  cr_expect_eq(s, INT64_C(1) << 30);
  cr_expect_eq(c, 0);
  es_aug_sincos(3000, &s, &c);
  cr_expect_eq(s, INT64_C(1) << 29);
  es_aug_sincos(-18000, &s, &c);
  cr_expect_eq(s, 0);
  cr_expect_eq(c, -(INT64_C(1) << 30));
  for (int32_t a = -18000; a <= 18000; a += 777) {
    es_aug_sincos(a, &s, &c);
    double r = a / 100.0 * M_PI / 180.0;
    cr_expect(llabs(s - llround(sin(r) * 1073741824.0)) <= 1, "sin %d", a);
    cr_expect(llabs(c - llround(cos(r) * 1073741824.0)) <= 1, "cos %d", a);
  }
  int32_t taps[2 * 64 + 1];
  es_aug_gauss_kernel(150, 5, taps);
  int32_t sum = 0;
  for (int i = 0; i < 11; i++) {
    sum += taps[i];
    cr_expect_eq(taps[i], taps[10 - i]);
    if (i < 5)
      cr_expect_lt(taps[i], taps[i + 1]);
  }
  cr_expect_eq(sum, 16384);
  /* exp(-1/(2 * 1.5^2)) relative to the centre */
  cr_expect(fabs((double)taps[6] / taps[5] - exp(-1.0 / 4.5)) < 2e-4);
}

Test(augment_ops, resampling_identities_and_exact_rotation)
{
  es_image src = random_image(17, 17, 3, 5), out = {0}, ref = {0};
  cr_assert_eq(es_aug_affine(&src, 0, 10000, &out, NULL), ES_OK);
  cr_expect_eq(memcmp(out.data, src.data, es_image_size(&src)), 0, "rotation by 0");
  es_image_free(&out);
  cr_assert_eq(es_aug_crop_resize(&src, 0, 0, 17, 17, &out, NULL), ES_OK);
  cr_expect_eq(memcmp(out.data, src.data, es_image_size(&src)), 0, "crop of the whole image");
  es_image_free(&out);
  /* 90 degrees on a square image: exactly the quarter turn */
  cr_assert_eq(es_aug_affine(&src, 9000, 10000, &out, NULL), ES_OK);
  cr_assert_eq(es_aug_rot90(&src, 1, &ref, NULL), ES_OK);
  cr_expect_eq(memcmp(out.data, ref.data, es_image_size(&src)), 0, "rotate 90 = rot90");
  es_image_free(&out);
  es_image_free(&ref);
  es_image_free(&src);

  /* a half-pixel bilinear step: scale 2 about the centre of a 1-row ramp */
  const uint8_t g[] = {0, 100, 200, 100, 0};
  src = make(5, 1, 1, g);
  cr_assert_eq(es_aug_affine(&src, 0, 20000, &out, NULL), ES_OK);
  /* source x = 2 + (x - 2) / 2: 1, 1.5, 2, 2.5, 3 */
  expect(&out, 5, 1, (const uint8_t[]){100, 150, 200, 150, 100});
  es_image_free(&out);
  /* crop [1, 4) of 5 back to 5 samples: positions 1 + ((2i+1) 3/10 - 1/2) */
  cr_assert_eq(es_aug_crop_resize(&src, 1, 0, 3, 1, &out, NULL), ES_OK);
  /* q (Q8) = (2i+1)*3*256/10 - 128: -52->0, 102, 256, 409, 563->512 */
  expect(&out, 5, 1, (const uint8_t[]){100, 140, 200, 140, 100});
  es_image_free(&out);
  es_image_free(&src);
}

Test(augment_ops, blur_noise_cutout)
{
  es_image src = {0}, out = {0};
  cr_assert_eq(es_image_alloc(&src, 9, 7, 3, NULL), ES_OK);
  memset(src.data, 77, es_image_size(&src));
  cr_assert_eq(es_aug_blur(&src, 200, 6, &out, NULL), ES_OK);
  expect(&out, 9, 7, src.data);
  es_image_free(&out);
  /* an impulse in gray: the 2D kernel is the outer product, rounded as documented */
  es_image_free(&src);
  cr_assert_eq(es_image_alloc(&src, 7, 7, 1, NULL), ES_OK);
  memset(src.data, 0, 49);
  src.data[3 * 7 + 3] = 255;
  cr_assert_eq(es_aug_blur(&src, 100, 2, &out, NULL), ES_OK);
  int32_t t[5];
  es_aug_gauss_kernel(100, 2, t);
  for (int y = 0; y < 7; y++)
    for (int x = 0; x < 7; x++) {
      int dx = x - 3, dy = y - 3;
      uint32_t h = (abs(dx) <= 2) ? (uint32_t)((t[dx + 2] * 255 + 32) >> 6) : 0;
      uint32_t v = (abs(dy) <= 2) ? (uint32_t)((t[dy + 2] * h + (1u << 21)) >> 22) : 0;
      cr_expect_eq(out.data[y * 7 + x], v, "(%d,%d) %u vs %u", x, y, out.data[y * 7 + x], v);
    }
  es_image_free(&out);
  es_image_free(&src);

  /* noise: mean about 0 and standard deviation about sigma; sigma 0 is the identity */
  cr_assert_eq(es_image_alloc(&src, 200, 200, 1, NULL), ES_OK);
  memset(src.data, 128, 40000);
  cr_assert_eq(es_aug_noise(&src, 1000, 42, &out, NULL), ES_OK);
  double m = 0, v = 0;
  for (int i = 0; i < 40000; i++)
    m += out.data[i] - 128;
  m /= 40000;
  for (int i = 0; i < 40000; i++)
    v += (out.data[i] - 128 - m) * (out.data[i] - 128 - m);
  v = sqrt(v / 40000);
  cr_expect(fabs(m) < 0.2, "mean %f", m);
  cr_expect(fabs(v - 10) < 0.3, "std %f", v);
  es_image second = {0};
  cr_assert_eq(es_aug_noise(&src, 1000, 42, &second, NULL), ES_OK);
  cr_expect_eq(memcmp(out.data, second.data, 40000), 0);
  es_image_free(&second);
  es_image_free(&out);
  cr_assert_eq(es_aug_noise(&src, 0, 42, &out, NULL), ES_OK);
  cr_expect_eq(memcmp(out.data, src.data, 40000), 0);
  es_image_free(&out);
  es_image_free(&src);

  const uint8_t ga[] = {1, 2, 3, 4, 5, 6, 7, 8};
  src = make(2, 2, 2, ga);
  cr_assert_eq(es_aug_cutout(&src, 1, 0, 1, 2, &out, NULL), ES_OK);
  expect(&out, 2, 2, (const uint8_t[]){1, 2, 128, 4, 5, 6, 128, 8});
  es_image_free(&out);
  cr_assert_eq(es_aug_cutout(&src, 1, 0, 2, 2, &out, NULL), ES_EUSAGE);
  es_image_free(&src);
}

Test(augment_spec, parse_canonical_and_errors)
{
  es_aug_spec s;
  es_error e = {0};
  cr_assert_eq(es_aug_spec_parse("hflip@0.5,rotate:15,bright:0.2,jpeg:60-95", &s, &e), ES_OK);
  cr_expect_eq(s.n, 4);
  cr_expect_str_eq(s.canon, "hflip@0.5,rotate:15,bright:0.2,jpeg:60-95");
  cr_expect_eq(s.ops[1].lo, -1500);
  cr_expect_eq(s.ops[2].hi, 51);
  cr_expect_eq(s.ops[0].p_e6, 500000);
  es_aug_spec again;
  cr_assert_eq(es_aug_spec_parse(s.canon, &again, &e), ES_OK);
  cr_expect_str_eq(again.canon, s.canon);
  const char *bad[][2] = {
      {"hflip,wobble:3", "unknown operation 'wobble'"},
      {"rotate:190", "'rotate:190' is out of range"},
      {"jpeg:0-90", "'jpeg:0-90' is out of range"},
      {"bright:1.5", "'bright:1.5' is out of range"},
      {"rotate:0.001", "below the parameter's resolution"},
      {"cutout:0.00001", "below the parameter's resolution"},
      {"contrast:0.00001", "below the parameter's resolution"},
      {"noise:-1", "not a number"},
      {"vflip@1.2", "probability"},
      {"jpeg:80,hflip", "jpeg must be the last"},
      {"hflip,,vflip", "empty item"},
      {"", "empty"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    es_error_clear(&e);
    cr_expect_eq(es_aug_spec_parse(bad[i][0], &s, &e), ES_EUSAGE, "%s", bad[i][0]);
    cr_expect(strstr(e.msg, bad[i][1]) != NULL, "%s: %s", bad[i][0], e.msg);
  }
}

Test(augment_spec, draws_depend_on_seed_id_variant_only)
{
  es_aug_spec s;
  cr_assert_eq(es_aug_spec_parse("hflip@0.5,rotate:30,crop:0.4,noise:5,cutout:0.5,jpeg:50-90", &s,
                                 NULL), ES_OK);
  const char *id = "00112233445566778899aabbccddeeff";
  es_aug_ops a, b, c;
  es_aug_draw(&s, es_aug_variant_key(9, id, 2), 640, 480, &a);
  es_aug_draw(&s, es_aug_variant_key(9, id, 2), 640, 480, &b);
  cr_assert_eq(a.n, b.n);
  cr_expect_eq(memcmp(a.v, b.v, a.n * sizeof a.v[0]), 0);
  cr_expect_neq(es_aug_variant_key(9, id, 2), es_aug_variant_key(9, id, 3));
  cr_expect_neq(es_aug_variant_key(9, id, 2), es_aug_variant_key(10, id, 2));
  cr_expect_neq(es_aug_variant_key(9, id, 2),
                es_aug_variant_key(9, "00112233445566778899aabbccddeefe", 2));
  /* ranges hold over many draws */
  for (uint32_t k = 0; k < 500; k++) {
    es_aug_draw(&s, es_aug_variant_key(1, id, k), 640, 480, &c);
    for (size_t i = 0; i < c.n; i++) {
      const es_aug_op *op = &c.v[i];
      if (op->kind == ES_AUG_ROTATE)
        cr_expect(op->a >= -3000 && op->a <= 3000);
      if (op->kind == ES_AUG_JPEG)
        cr_expect(op->a >= 50 && op->a <= 90 && i == c.n - 1);
      if (op->kind == ES_AUG_CROP || op->kind == ES_AUG_CUTOUT)
        cr_expect(op->c >= 1 && op->d >= 1 && op->a + op->c <= 640 && op->b + op->d <= 480);
    }
  }
  /* the record round-trips */
  json_t *j = es_aug_ops_to_json(&a);
  es_aug_ops back;
  cr_assert_eq(es_aug_ops_from_json(j, &back, NULL), ES_OK);
  cr_assert_eq(back.n, a.n);
  cr_expect_eq(memcmp(back.v, a.v, a.n * sizeof a.v[0]), 0);
  json_decref(j);
  j = json_loads("[{\"op\":\"rotate\"}]", 0, NULL);
  es_error e = {0};
  cr_expect_eq(es_aug_ops_from_json(j, &back, &e), ES_EFORMAT);
  cr_expect(strstr(e.msg, "angle_cdeg") != NULL, "%s", e.msg);
  json_decref(j);
}

Test(augment_make, png_round_trip_and_jpeg_determinism)
{
  es_image src = random_image(40, 30, 3, 11), px = {0}, dec = {0};
  es_aug_ops ops = {.n = 2, .v = {{.kind = ES_AUG_HFLIP}, {.kind = ES_AUG_BRIGHT, .a = 20}}};
  uint8_t *b1 = NULL, *b2 = NULL;
  size_t n1, n2;
  const char *fmt;
  cr_assert_eq(es_aug_make(&src, &ops, &b1, &n1, &fmt, &px, NULL), ES_OK);
  cr_expect_str_eq(fmt, "png");
  cr_assert_eq(es_image_decode(b1, n1, NULL, &dec, NULL, NULL), ES_OK);
  cr_expect_eq(memcmp(dec.data, px.data, es_image_size(&px)), 0);
  es_image_free(&dec);
  es_image_free(&px);
  free(b1);
  ops.v[2] = (es_aug_op){.kind = ES_AUG_JPEG, .a = 70};
  ops.n = 3;
  cr_assert_eq(es_aug_make(&src, &ops, &b1, &n1, &fmt, NULL, NULL), ES_OK);
  cr_assert_eq(es_aug_make(&src, &ops, &b2, &n2, &fmt, NULL, NULL), ES_OK);
  cr_expect_str_eq(fmt, "jpeg");
  cr_assert_eq(n1, n2);
  cr_expect_eq(memcmp(b1, b2, n1), 0);
  cr_expect_eq(es_format_sniff(b1, n1) ? strcmp(es_format_sniff(b1, n1), "jpeg") : 1, 0);
  free(b1);
  free(b2);
  ops.n = 0;
  cr_expect_eq(es_aug_make(&src, &ops, &b1, &n1, &fmt, NULL, NULL), ES_EUSAGE);
  es_image_free(&src);
}
