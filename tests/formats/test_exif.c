/* EXIF parser tests on hand-built TIFF blocks: both byte orders, Orientation, DateTimeOriginal
 * with and without OffsetTimeOriginal, and hostile blocks (offsets out of range, IFD loops,
 * huge entry counts, bad values) which must fail with a reason and never read out of range. */
#include <criterion/criterion.h>
#include <string.h>

#include "formats/exif_internal.h"
#include "formats/decode.h"
#include "testutil.h"

typedef struct tiff {
  uint8_t b[1024];
  size_t n;
  int big;
} tiff;

static void put16(tiff *t, size_t at, uint32_t v)
{
  t->b[at + (t->big ? 0 : 1)] = (uint8_t)(v >> 8);
  t->b[at + (t->big ? 1 : 0)] = (uint8_t)v;
}

static void put32(tiff *t, size_t at, uint32_t v)
{
  for (int i = 0; i < 4; i++)
    t->b[at + (size_t)(t->big ? i : 3 - i)] = (uint8_t)(v >> (24 - 8 * i));
}

static void header(tiff *t, int big, uint32_t ifd0)
{
  memset(t, 0, sizeof *t);
  t->big = big;
  memcpy(t->b, big ? "MM" : "II", 2);
  put16(t, 2, 42);
  put32(t, 4, ifd0);
  t->n = 8;
}

/* Writes an IFD with count entries at `at`; entries are filled by entry(). */
static void ifd(tiff *t, size_t at, uint32_t count, uint32_t next)
{
  put16(t, at, count);
  put32(t, at + 2 + 12 * count, next);
  if (at + 6 + 12 * count > t->n)
    t->n = at + 6 + 12 * count;
}

static void entry(tiff *t, size_t ifd_at, uint32_t i, uint32_t tag, uint32_t type, uint32_t count,
                  uint32_t value)
{
  size_t e = ifd_at + 2 + 12 * i;
  put16(t, e, tag);
  put16(t, e + 2, type);
  put32(t, e + 4, count);
  if (type == 3 && count == 1)
    put16(t, e + 8, value);
  else
    put32(t, e + 8, value);
}

static void text(tiff *t, size_t at, const char *s)
{
  memcpy(t->b + at, s, strlen(s) + 1);
  if (at + strlen(s) + 1 > t->n)
    t->n = at + strlen(s) + 1;
}

/* IFD0 at 8 {Orientation, ExifIFD -> 100}; Exif IFD at 100 {DateTimeOriginal -> 200,
 * OffsetTimeOriginal -> 240}. */
static void full(tiff *t, int big, uint32_t orientation, const char *dt, const char *off)
{
  header(t, big, 8);
  ifd(t, 8, 2, 0);
  entry(t, 8, 0, 0x0112, 3, 1, orientation);
  entry(t, 8, 1, 0x8769, 4, 1, 100);
  ifd(t, 100, off ? 2 : 1, 0);
  entry(t, 100, 0, 0x9003, 2, 20, 200);
  if (off)
    entry(t, 100, 1, 0x9011, 2, 7, 240);
  text(t, 200, dt);
  if (off)
    text(t, 240, off);
}

Test(exif, both_byte_orders)
{
  for (int big = 0; big <= 1; big++) {
    tiff t;
    full(&t, big, 6, "2024:03:05 17:04:09", "+05:30");
    es_exif x;
    es_error err = {0};
    cr_assert_eq(es_exif_parse(t.b, t.n, &x, &err), ES_OK, "%s", err.msg);
    cr_assert_eq(x.orientation, 6);
    cr_assert_str_eq(x.capture_time, "2024-03-05T17:04:09+05:30");
  }
}

Test(exif, time_without_offset_and_blank_time)
{
  tiff t;
  full(&t, 1, 1, "2021:12:31 23:59:59", NULL);
  es_exif x;
  es_error err;
  cr_assert_eq(es_exif_parse(t.b, t.n, &x, &err), ES_OK, "%s", err.msg);
  cr_assert_str_eq(x.capture_time, "2021-12-31T23:59:59");
  full(&t, 1, 1, "    :  :     :  :  ", NULL);
  cr_assert_eq(es_exif_parse(t.b, t.n, &x, &err), ES_OK, "%s", err.msg);
  cr_assert_str_eq(x.capture_time, "");
}

Test(exif, absent_tags_are_defaults)
{
  tiff t;
  header(&t, 0, 8);
  ifd(&t, 8, 1, 0);
  entry(&t, 8, 0, 0x010f, 2, 4, 0x00414141); /* Make "AAA" */
  es_exif x;
  es_error err;
  cr_assert_eq(es_exif_parse(t.b, t.n, &x, &err), ES_OK, "%s", err.msg);
  cr_assert_eq(x.orientation, 1);
  cr_assert_str_eq(x.capture_time, "");
}

static void expect_bad(const tiff *t, size_t len, const char *reason)
{
  es_exif x;
  es_error err = {0};
  cr_assert_eq(es_exif_parse(t->b, len, &x, &err), ES_EFORMAT, "accepted, expected '%s'", reason);
  cr_assert(strstr(err.msg, reason), "'%s' does not say '%s'", err.msg, reason);
}

Test(exif, hostile_blocks)
{
  tiff t;
  header(&t, 0, 8);
  memcpy(t.b, "IM", 2);
  expect_bad(&t, 16, "byte order");
  header(&t, 0, 8);
  put16(&t, 2, 43);
  expect_bad(&t, 16, "magic");
  header(&t, 0, 5000);
  expect_bad(&t, 16, "beyond");
  header(&t, 0, 0xfffffffe);
  expect_bad(&t, 16, "beyond");
  header(&t, 0, 8);
  put16(&t, 8, 60000); /* far above the cap; no table follows */
  expect_bad(&t, sizeof t.b, "entries");
  header(&t, 0, 8);
  ifd(&t, 8, 40, 0);
  expect_bad(&t, 100, "truncated IFD");
  expect_bad(&t, 4, "too short");

  /* The Exif IFD pointer points back at IFD0. */
  header(&t, 1, 8);
  ifd(&t, 8, 1, 0);
  entry(&t, 8, 0, 0x8769, 4, 1, 8);
  expect_bad(&t, t.n, "loop");
  /* IFD0 -> 40 -> 80 -> 40: a longer cycle. */
  header(&t, 1, 8);
  ifd(&t, 8, 1, 0);
  entry(&t, 8, 0, 0x8769, 4, 1, 40);
  ifd(&t, 40, 1, 0);
  entry(&t, 40, 0, 0x8769, 4, 1, 80);
  ifd(&t, 80, 1, 0);
  entry(&t, 80, 0, 0x8769, 4, 1, 40);
  expect_bad(&t, t.n, "loop");

  full(&t, 0, 9, "2024:03:05 17:04:09", NULL);
  expect_bad(&t, t.n, "invalid Orientation 9");
  full(&t, 0, 1, "2024:13:05 17:04:09", NULL);
  expect_bad(&t, t.n, "invalid DateTimeOriginal");
  full(&t, 0, 1, "2024:03:05 17:04:09", "+05-30");
  expect_bad(&t, t.n, "invalid OffsetTimeOriginal");
  full(&t, 0, 1, "2024:03:05 17:04:09", NULL);
  entry(&t, 100, 0, 0x9003, 2, 20, 0xfffffff0); /* value offset out of range */
  expect_bad(&t, t.n, "out of range");
  entry(&t, 100, 0, 0x9003, 2, 0xffffffff, 200); /* count out of range */
  expect_bad(&t, t.n, "out of range");
  full(&t, 0, 1, "2024:03:05 17:04:09", NULL);
  expect_bad(&t, 215, "out of range"); /* block ends inside the date */
}

/* Every prefix of a valid block parses or fails cleanly (run under ASan in CI). */
Test(exif, every_prefix)
{
  tiff t;
  full(&t, 1, 3, "2024:03:05 17:04:09", "-07:00");
  for (size_t n = 0; n <= t.n; n++) {
    es_exif x;
    es_error err = {0};
    int rc = es_exif_parse(t.b, n, &x, &err);
    cr_assert(rc == ES_OK || (rc == ES_EFORMAT && err.msg[0]));
  }
}

/* In a JPEG, a corrupt EXIF block is reported in exif_problem and ignored. */
Test(exif, corrupt_block_in_jpeg_is_ignored)
{
  char *p = tu_data("images/exif-orientation/f6-exif.jpg");
  size_t len;
  uint8_t *b = tu_read(p, &len);
  cr_assert(b);
  free(p);
  /* Find "Exif\0\0" and damage the TIFF magic after it. */
  uint8_t *e = memmem(b, len, "Exif\0\0", 6);
  cr_assert(e);
  e[6 + 2] ^= 0xff;
  es_image img;
  es_image_info info;
  es_error err;
  cr_assert_eq(es_image_decode(b, len, NULL, &img, &info, &err), ES_OK, "%s", err.msg);
  cr_assert_neq(info.exif_problem, 0);
  cr_assert_eq(info.orientation, 1);
  cr_assert(img.width == 80 && img.height == 40); /* stored orientation kept */
  es_image_free(&img);
  free(b);
}
