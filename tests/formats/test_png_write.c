/* The in-memory PNG encoder (formats/encode.h): every channel count decodes back (with our
 * PngSuite-tested decoder) to exactly the pixels encoded, the same pixels and level give the same
 * bytes, the level changes the bytes but not the pixels, and bad arguments are refused. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "formats/encode.h"
#include "formats/decode.h"

static void fill(es_image *img, uint32_t w, uint32_t h, uint32_t c)
{
  cr_assert_eq(es_image_alloc(img, w, h, c, NULL), ES_OK);
  uint32_t s = 12345;
  for (size_t i = 0; i < es_image_size(img); i++) {
    s = s * 1103515245u + 12345u;
    /* smooth ramps plus some noise, so that the row filters have something to do */
    img->data[i] = (uint8_t)((i % (w * c)) * 3 + (i / (w * c)) + ((s >> 16) & 7));
  }
}

Test(png_write, round_trip_every_channel_count)
{
  for (uint32_t c = 1; c <= 4; c++) {
    es_image img = {0}, back = {0};
    fill(&img, 37, 23, c);
    uint8_t *png = NULL;
    size_t len = 0;
    es_error err = {0};
    cr_assert_eq(es_image_encode_png(&img, 6, &png, &len, &err), ES_OK, "%s", err.msg);
    cr_assert_str_eq(es_format_sniff(png, len), "png");
    cr_assert_eq(es_image_decode(png, len, NULL, &back, NULL, &err), ES_OK, "%s", err.msg);
    cr_expect_eq(back.width, 37);
    cr_expect_eq(back.height, 23);
    cr_expect_eq(back.channels, c);
    cr_expect(memcmp(back.data, img.data, es_image_size(&img)) == 0, "pixels differ, c=%u", c);
    free(png);
    es_image_free(&back);
    es_image_free(&img);
  }
}

Test(png_write, deterministic_and_level_only_changes_bytes)
{
  es_image img = {0}, b0 = {0}, b9 = {0};
  fill(&img, 64, 48, 3);
  uint8_t *p1 = NULL, *p2 = NULL, *p0 = NULL, *p9 = NULL;
  size_t n1, n2, n0, n9;
  cr_assert_eq(es_image_encode_png(&img, 6, &p1, &n1, NULL), ES_OK);
  cr_assert_eq(es_image_encode_png(&img, 6, &p2, &n2, NULL), ES_OK);
  cr_expect(n1 == n2 && memcmp(p1, p2, n1) == 0, "same input, different bytes");
  cr_assert_eq(es_image_encode_png(&img, 0, &p0, &n0, NULL), ES_OK);
  cr_assert_eq(es_image_encode_png(&img, 9, &p9, &n9, NULL), ES_OK);
  cr_expect_gt(n0, n9, "level 0 (stored) is not larger than level 9");
  cr_assert_eq(es_image_decode(p0, n0, NULL, &b0, NULL, NULL), ES_OK);
  cr_assert_eq(es_image_decode(p9, n9, NULL, &b9, NULL, NULL), ES_OK);
  cr_expect(memcmp(b0.data, img.data, es_image_size(&img)) == 0);
  cr_expect(memcmp(b9.data, img.data, es_image_size(&img)) == 0);
  free(p1);
  free(p2);
  free(p0);
  free(p9);
  es_image_free(&b0);
  es_image_free(&b9);
  es_image_free(&img);
}

Test(png_write, bad_arguments)
{
  es_image img = {0};
  fill(&img, 4, 4, 3);
  uint8_t *p = (uint8_t *)1;
  size_t n = 1;
  es_error err = {0};
  cr_expect_eq(es_image_encode_png(&img, 10, &p, &n, &err), ES_EUSAGE);
  cr_expect(strstr(err.msg, "level 10") != NULL, "%s", err.msg);
  cr_expect(p == NULL && n == 0);
  cr_expect_eq(es_image_encode_png(&img, -1, &p, &n, NULL), ES_EUSAGE);
  img.channels = 5;
  cr_expect_eq(es_image_encode_png(&img, 6, &p, &n, &err), ES_EUSAGE);
  cr_expect(strstr(err.msg, "4x4x5") != NULL, "%s", err.msg);
  img.channels = 3;
  img.width = 0;
  cr_expect_eq(es_image_encode_png(&img, 6, &p, &n, NULL), ES_EUSAGE);
  img.width = 4;
  es_image_free(&img);
}
