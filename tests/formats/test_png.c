/* PNG decoder tests against PngSuite (tests/data/images/pngsuite).
 *
 * Second decoder: netpbm's pngtopnm (libpng underneath, but its own transformations), run once
 * for the whole suite. Comparison rule, exact (no tolerance): our 8-bit sample equals the
 * pngtopnm sample scaled to 8 bits, where 16-bit samples keep their high byte and maxvals 1, 3,
 * 15 scale by 255/maxval; when pngtopnm writes gray (PGM/PBM) for a colour output of ours, R=G=B
 * must equal it. Our alpha channel equals `pngtopnm -alpha`, except for gray and RGB images
 * with a tRNS colour key, where it must be 0 exactly where pngtopnm's full-precision samples
 * equal the key and 255 elsewhere (the PNG definition; pngtopnm 11.1 -alpha misses the key on
 * 16-bit RGB, e.g. tbbn2c16). sBIT chunks are removed from the
 * copies given to pngtopnm because it reduces the maxval to the significant bits, which we (like
 * every viewer) ignore. Independently, each interlaced file must decode to exactly the pixels of
 * its non-interlaced twin. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "formats/decode.h"
#include "image_testutil.h"

static char *suite_path(const char *name)
{
  char rel[256];
  snprintf(rel, sizeof rel, "images/pngsuite/%s", name);
  return tu_data(rel);
}

static uint8_t *read_suite(const char *name, size_t *len)
{
  char *p = suite_path(name);
  uint8_t *b = tu_read(p, len);
  cr_assert(b, "cannot read %s", p);
  free(p);
  return b;
}

/* Sorted list of PngSuite file names whose first letter is (or is not) 'x'. */
static int list_suite(char names[][32], int max, int corrupt)
{
  char *dir = suite_path("");
  DIR *d = opendir(dir);
  cr_assert(d, "cannot open %s", dir);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    size_t l = strlen(e->d_name);
    if (l < 5 || l >= 32 || strcmp(e->d_name + l - 4, ".png") != 0)
      continue;
    if ((e->d_name[0] == 'x') != corrupt)
      continue;
    cr_assert(n < max);
    strcpy(names[n++], e->d_name);
  }
  closedir(d);
  free(dir);
  qsort(names, (size_t)n, 32, (int (*)(const void *, const void *))strcmp);
  return n;
}

static uint32_t be32(const uint8_t *p)
{
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Copy of a PNG without its sBIT chunk; *has_trns says whether it has tRNS, whose first three
 * 16-bit values go to trns_key (the transparent gray or RGB for colour types 0 and 2). */
static uint8_t *without_sbit(const uint8_t *b, size_t len, size_t *out_len, int *has_trns,
                             uint32_t trns_key[3])
{
  uint8_t *o = malloc(len);
  memcpy(o, b, 8);
  size_t n = 8;
  *has_trns = 0;
  for (size_t i = 8; i + 12 <= len;) {
    size_t chunk = 12 + be32(b + i);
    if (chunk > len - i)
      break;
    if (memcmp(b + i + 4, "tRNS", 4) == 0) {
      *has_trns = 1;
      for (size_t k = 0; k < 3 && 2 * k + 2 <= chunk - 12; k++)
        trns_key[k] = (uint32_t)(b[i + 8 + 2 * k] << 8 | b[i + 9 + 2 * k]);
    }
    if (memcmp(b + i + 4, "sBIT", 4) != 0) {
      memcpy(o + n, b + i, chunk);
      n += chunk;
    }
    i += chunk;
  }
  *out_len = n;
  return o;
}

Test(png, pngsuite_matches_pngtopnm)
{
  static char names[256][32];
  int n = list_suite(names, 256, 0);
  cr_assert_gt(n, 140, "PngSuite has %d valid files", n);
  char *tmp = tu_tmpdir();
  int trns[256];
  static uint32_t key[256][3];
  for (int i = 0; i < n; i++) {
    size_t len, slen;
    uint8_t *b = read_suite(names[i], &len);
    uint8_t *s = without_sbit(b, len, &slen, &trns[i], key[i]);
    char path[8448];
    snprintf(path, sizeof path, "%s/%s", tmp, names[i]);
    cr_assert_eq(tu_write(path, s, slen), 0);
    free(s);
    free(b);
  }
  char cmd[9216];
  snprintf(cmd, sizeof cmd,
           "cd '%s' && for f in *.png; do pngtopnm \"$f\" > \"$f.pnm\" 2>/dev/null && "
           "pngtopnm -alpha \"$f\" > \"$f.alpha\" 2>/dev/null || exit 1; done",
           tmp);
  cr_assert_eq(tu_sh(cmd), 0, "pngtopnm failed (netpbm installed?)");

  for (int i = 0; i < n; i++) {
    size_t len;
    uint8_t *b = read_suite(names[i], &len);
    es_decode_opts opts = {.keep_orientation = 1};
    es_image img;
    es_image_info info;
    es_error err = {0};
    int rc = es_image_decode(b, len, &opts, &img, &info, &err);
    cr_assert_eq(rc, ES_OK, "%s: %s", names[i], err.msg);
    cr_assert_str_eq(info.format, "png");

    /* Channels follow the colour type (byte 25) and tRNS. */
    static const uint32_t by_type[7] = {1, 0, 3, 3, 2, 0, 4};
    uint32_t want_c = by_type[b[25]] + (trns[i] && (b[25] == 0 || b[25] == 2 || b[25] == 3));
    cr_assert_eq(img.channels, want_c, "%s: %u channels, expected %u", names[i], img.channels,
                 want_c);
    cr_assert_eq(info.channels, want_c);

    char path[8448];
    tu_pnm col, alpha;
    snprintf(path, sizeof path, "%s/%s.pnm", tmp, names[i]);
    cr_assert_eq(tu_pnm_read(path, &col), 0, "%s: unreadable pngtopnm output", names[i]);
    snprintf(path, sizeof path, "%s/%s.alpha", tmp, names[i]);
    cr_assert_eq(tu_pnm_read(path, &alpha), 0, "%s: unreadable pngtopnm -alpha output", names[i]);
    cr_assert(img.width == col.w && img.height == col.h, "%s: %ux%u, pngtopnm %ux%u", names[i],
              img.width, img.height, col.w, col.h);
    cr_assert_eq(info.width, col.w);
    cr_assert_eq(info.height, col.h);

    uint32_t color_c = img.channels >= 3 ? 3 : 1;
    int has_alpha = img.channels == 2 || img.channels == 4;
    cr_assert(col.c == color_c || (col.c == 1 && color_c == 3), "%s: pngtopnm channels %u",
              names[i], col.c);
    size_t bad = 0;
    for (size_t p = 0; p < (size_t)img.width * img.height; p++) {
      const uint8_t *px = img.data + p * img.channels;
      for (uint32_t k = 0; k < color_c; k++) {
        uint32_t ref = col.v[p * col.c + (col.c == 1 ? 0 : k)];
        bad += px[k] != tu_pnm_to8(ref, col.maxval);
      }
      if (has_alpha && trns[i] && (b[25] == 0 || b[25] == 2)) {
        int keyed = 1;
        for (uint32_t k = 0; k < col.c; k++)
          keyed &= col.v[p * col.c + k] == key[i][k];
        bad += px[img.channels - 1] != (keyed ? 0 : 255);
      } else if (has_alpha) {
        bad += px[img.channels - 1] != tu_pnm_to8(alpha.v[p], alpha.maxval);
      }
    }
    cr_assert_eq(bad, 0, "%s: %zu samples differ from pngtopnm", names[i], bad);
    free(col.v);
    free(alpha.v);
    es_image_free(&img);
    free(b);
  }
  free(tmp);
}

Test(png, interlaced_equals_progressive_twin)
{
  static char names[256][32];
  int n = list_suite(names, 256, 0);
  int pairs = 0;
  for (int i = 0; i < n; i++) {
    /* basi0g01 <-> basn0g01, s01i3p01 <-> s01n3p01, bgai4a08 <-> bgan4a08 (absent), ... */
    if (names[i][3] != 'i')
      continue;
    char twin[32];
    strcpy(twin, names[i]);
    twin[3] = 'n';
    char *tp = suite_path(twin);
    size_t l1, l2;
    uint8_t *b2 = tu_read(tp, &l2);
    free(tp);
    if (!b2)
      continue;
    uint8_t *b1 = read_suite(names[i], &l1);
    es_image a, b;
    es_error err;
    cr_assert_eq(es_image_decode(b1, l1, NULL, &a, NULL, &err), ES_OK, "%s: %s", names[i],
                 err.msg);
    cr_assert_eq(es_image_decode(b2, l2, NULL, &b, NULL, &err), ES_OK, "%s: %s", twin, err.msg);
    cr_assert_eq(tu_image_diff(&a, &b, NULL), 0, "%s and %s differ", names[i], twin);
    pairs++;
    es_image_free(&a);
    es_image_free(&b);
    free(b1);
    free(b2);
  }
  cr_assert_geq(pairs, 30, "only %d interlaced/non-interlaced pairs", pairs);
}

Test(png, every_corrupt_file_rejected_with_reason)
{
  static char names[64][32];
  int n = list_suite(names, 64, 1);
  cr_assert_geq(n, 14);
  for (int i = 0; i < n; i++) {
    size_t len;
    uint8_t *b = read_suite(names[i], &len);
    es_image img = {.data = (uint8_t *)1};
    es_error err = {0};
    int rc = es_image_decode(b, len, NULL, &img, NULL, &err);
    cr_assert_neq(rc, ES_OK, "%s was accepted", names[i]);
    cr_assert_eq(rc, err.code);
    cr_assert_gt(strlen(err.msg), 5, "%s: empty reason", names[i]);
    cr_assert_null(img.data);
    cr_log_info("%s: %s", names[i], err.msg);
    free(b);
  }
}

static void expect_reason(const char *name, int code, const char *reason)
{
  size_t len;
  uint8_t *b = read_suite(name, &len);
  es_image img;
  es_error err = {0};
  cr_assert_eq(es_image_decode(b, len, NULL, &img, NULL, &err), code, "%s: %s", name, err.msg);
  cr_assert(strstr(err.msg, reason), "%s: '%s' does not say '%s'", name, err.msg, reason);
  free(b);
}

Test(png, corrupt_reasons)
{
  expect_reason("xcsn0g01.png", ES_EFORMAT, "bad CRC in IDAT chunk");
  expect_reason("xhdn0g08.png", ES_EFORMAT, "bad CRC in IHDR chunk");
  expect_reason("xs1n0g01.png", ES_EFORMAT, "bad PNG signature");
  expect_reason("xlfn0g04.png", ES_EFORMAT, "bad PNG signature");
  expect_reason("xc1n0g08.png", ES_EFORMAT, "bad IHDR");
  expect_reason("xd0n2c08.png", ES_EFORMAT, "bad IHDR");
  expect_reason("xdtn0g01.png", ES_EFORMAT, "IDAT");
}

static uint32_t crc32_of(const uint8_t *p, size_t n)
{
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++)
      c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
  }
  return ~c;
}

static size_t put_chunk(uint8_t *o, const char *type, const uint8_t *data, uint32_t n)
{
  o[0] = (uint8_t)(n >> 24); o[1] = (uint8_t)(n >> 16); o[2] = (uint8_t)(n >> 8); o[3] = (uint8_t)n;
  memcpy(o + 4, type, 4);
  if (n)
    memcpy(o + 8, data, n);
  uint32_t c = crc32_of(o + 4, n + 4);
  o[8 + n] = (uint8_t)(c >> 24); o[9 + n] = (uint8_t)(c >> 16);
  o[10 + n] = (uint8_t)(c >> 8); o[11 + n] = (uint8_t)c;
  return 12 + n;
}

/* A PNG whose IHDR says w x h RGB, followed by a small (wrong-sized) IDAT and IEND. */
static size_t huge_png(uint8_t *o, uint32_t w, uint32_t h)
{
  size_t n = 0;
  memcpy(o, "\x89PNG\r\n\x1a\n", 8);
  n = 8;
  uint8_t ihdr[13] = {(uint8_t)(w >> 24), (uint8_t)(w >> 16), (uint8_t)(w >> 8), (uint8_t)w,
                      (uint8_t)(h >> 24), (uint8_t)(h >> 16), (uint8_t)(h >> 8), (uint8_t)h,
                      8, 2, 0, 0, 0};
  n += put_chunk(o + n, "IHDR", ihdr, 13);
  static const uint8_t idat[] = {0x78, 0x9c, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01};
  n += put_chunk(o + n, "IDAT", idat, sizeof idat);
  n += put_chunk(o + n, "IEND", NULL, 0);
  return n;
}

Test(png, huge_ihdr_is_limit_before_allocation)
{
  uint8_t buf[128];
  size_t n = huge_png(buf, 20000, 20000);
  es_image img;
  es_image_info info;
  es_error err = {0};
  cr_assert_eq(es_image_decode(buf, n, NULL, &img, &info, &err), ES_ELIMIT, "%s", err.msg);
  cr_assert_str_eq(err.msg,
                   "image is 20000x20000 (400 megapixels), above the limit of 100 megapixels");
  cr_assert_eq(es_image_probe(buf, n, NULL, &info, &err), ES_ELIMIT);
  /* Near PNG's own maximum: still our limit, not an allocation failure. */
  n = huge_png(buf, 0x7fffffff, 0x7fffffff);
  cr_assert_eq(es_image_decode(buf, n, NULL, &img, &info, &err), ES_ELIMIT, "%s", err.msg);
  /* Under a raised limit, the missing image data is what fails. */
  n = huge_png(buf, 300, 300);
  es_decode_opts opts = {.max_pixels = 1000};
  cr_assert_eq(es_image_decode(buf, n, &opts, &img, &info, &err), ES_ELIMIT);
  cr_assert_eq(es_image_decode(buf, n, NULL, &img, &info, &err), ES_EFORMAT);
  cr_assert(strstr(err.msg, "image data"), "%s", err.msg);
}

Test(png, truncated_at_every_cut_is_an_error)
{
  const char *files[] = {"basn2c08.png", "basi6a16.png", "tbbn3p08.png", "exif2c08.png"};
  for (size_t f = 0; f < sizeof files / sizeof *files; f++) {
    size_t len;
    uint8_t *b = read_suite(files[f], &len);
    for (size_t cut = 0; cut < len; cut++) {
      es_image img;
      es_error err = {0};
      int rc = es_image_decode(b, cut, NULL, &img, NULL, &err);
      cr_assert_neq(rc, ES_OK, "%s cut at %zu of %zu bytes was accepted", files[f], cut, len);
      cr_assert(err.msg[0], "%s cut at %zu: no reason", files[f], cut);
      cr_assert_null(img.data);
    }
    free(b);
  }
}

Test(png, probe_reads_header_only)
{
  size_t len;
  uint8_t *b = read_suite("tbrn2c08.png", &len);
  es_image_info info;
  es_error err;
  cr_assert_eq(es_image_probe(b, len, NULL, &info, &err), ES_OK, "%s", err.msg);
  cr_assert_str_eq(info.format, "png");
  cr_assert_eq(info.width, 32);
  cr_assert_eq(info.height, 32);
  cr_assert_eq(info.channels, 4); /* RGB + tRNS */
  cr_assert_eq(info.orientation, 1);
  free(b);
}

Test(png, exif_chunk_read)
{
  size_t len;
  uint8_t *b = read_suite("exif2c08.png", &len);
  es_image img;
  es_image_info info;
  es_error err;
  cr_assert_eq(es_image_decode(b, len, NULL, &img, &info, &err), ES_OK, "%s", err.msg);
  cr_assert_eq(info.exif_problem, 0);
  cr_assert_eq(info.orientation, 1);
  es_image_free(&img);
  free(b);
}

/* A 42-byte PNG whose eXIf chunk declares 654,311,450 bytes (found by fuzz_png): libpng would
 * allocate the declared length before reading it. The decoder and the probe refuse it first,
 * naming the chunk, and so does an ancillary chunk after the image data; a cut IDAT keeps
 * libpng's own error. */
Test(png, chunk_longer_than_the_file_is_refused_before_libpng)
{
  const uint8_t head[] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 'I', 'H',
                          'D', 'R', 0, 0, 0, 3, 0, 0, 0, 2, 8, 2, 0, 0, 0, 0x12, 0x16, 0xf1,
                          0x4d, 0x27, 0, 0, 0x1a, 'e', 'X', 'I', 'f', 0xf2};
  es_image img = {0};
  es_image_info info;
  es_error err = {0};
  cr_assert_eq(es_image_decode(head, sizeof head, NULL, &img, &info, &err), ES_EFORMAT);
  cr_assert(strstr(err.msg, "chunk 'eXIf' declares 654311450 bytes"), "%s", err.msg);
  cr_assert_null(img.data);
  err = (es_error){0};
  cr_assert_eq(es_image_probe(head, sizeof head, NULL, &info, &err), ES_EFORMAT);
  cr_assert(strstr(err.msg, "chunk 'eXIf'"), "%s", err.msg);
  /* a valid file with its IEND cut to a huge length: refused the same way */
  size_t len;
  uint8_t *b = read_suite("basn0g08.png", &len);
  cr_assert(len > 12);
  b[len - 12] = 0x7f; /* IEND's length, 0 in a valid file */
  err = (es_error){0};
  cr_assert_eq(es_image_decode(b, len, NULL, &img, &info, &err), ES_EFORMAT);
  cr_assert(strstr(err.msg, "chunk 'IEND' declares"), "%s", err.msg);
  free(b);
}
