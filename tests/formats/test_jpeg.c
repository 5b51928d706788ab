/* JPEG decoder tests against tests/data/images/jpeg-variants and exif-orientation.
 *
 * Second decoder: Debian's djpeg (libjpeg-turbo-progs), run once for the whole folder with the
 * settings under test; our output must equal its PPM/PGM exactly, sample for sample:
 *   default              = djpeg -pnm                (JDCT_ISLOW, fancy upsampling)
 *   no fancy upsampling  = djpeg -pnm -nosmooth
 *   float DCT            = djpeg -pnm -dct float
 *   scale 1/N            = djpeg -pnm -scale 1/N     (and the size must be ceil(w/N) x ceil(h/N))
 * For CMYK files djpeg -pnm writes RGB computed as R = C*K/255 (rounded) from the stored,
 * Adobe-inverted samples, the same formula we use, so they are compared exactly too.
 * The reference PNGs beside some files were decoded without fancy upsampling; we decode with
 * jpeg_no_fancy_upsampling=1 and require every sample within REF_MAX_DIFF of the PNG and the
 * mean absolute difference under REF_MEAN_DIFF. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "formats/decode.h"
#include "image_testutil.h"

#define REF_MAX_DIFF 8      /* Go's image/jpeg test tolerance for these files (8 << 8 of 16 bits) */
#define REF_MEAN_DIFF 1.0

static char *variant_path(const char *name)
{
  char rel[256];
  snprintf(rel, sizeof rel, "images/jpeg-variants/%s", name);
  return tu_data(rel);
}

static uint8_t *read_file(const char *folder, const char *name, size_t *len)
{
  char rel[256];
  snprintf(rel, sizeof rel, "images/%s/%s", folder, name);
  char *p = tu_data(rel);
  uint8_t *b = tu_read(p, len);
  cr_assert(b, "cannot read %s", p);
  free(p);
  return b;
}

static int list_jpegs(char names[][64], int max)
{
  char *dir = variant_path("");
  DIR *d = opendir(dir);
  cr_assert(d, "cannot open %s", dir);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    size_t l = strlen(e->d_name);
    if (l < 6 || l >= 64 || strcmp(e->d_name + l - 5, ".jpeg") != 0)
      continue;
    cr_assert(n < max);
    strcpy(names[n++], e->d_name);
  }
  closedir(d);
  free(dir);
  qsort(names, (size_t)n, 64, (int (*)(const void *, const void *))strcmp);
  return n;
}

static const struct setting {
  const char *suffix, *djpeg_args;
  es_decode_opts opts;
} settings[] = {
  {"default", "", {0}},
  {"nosmooth", "-nosmooth", {.jpeg_no_fancy_upsampling = 1}},
  {"float", "-dct float", {.jpeg_dct_float = 1}},
  {"s2", "-scale 1/2", {.scale_denom = 2}},
  {"s4", "-scale 1/4", {.scale_denom = 4}},
  {"s8", "-scale 1/8", {.scale_denom = 8}},
};

/* Our decode of name under opts as an image, compared with tmp/name.suffix.pnm. */
static void compare_with_djpeg(const char *tmp, const char *name, const struct setting *s)
{
  size_t len;
  uint8_t *b = read_file("jpeg-variants", name, &len);
  es_image img;
  es_image_info info;
  es_error err = {0};
  cr_assert_eq(es_image_decode(b, len, &s->opts, &img, &info, &err), ES_OK, "%s: %s", name,
               err.msg);
  cr_assert_str_eq(info.format, "jpeg");
  char path[8448];
  snprintf(path, sizeof path, "%s/%s.%s.pnm", tmp, name, s->suffix);
  tu_pnm ref;
  cr_assert_eq(tu_pnm_read(path, &ref), 0, "%s: unreadable djpeg %s output", name, s->suffix);
  cr_assert(ref.w == img.width && ref.h == img.height && ref.c == img.channels,
            "%s %s: %ux%ux%u, djpeg %ux%ux%u", name, s->suffix, img.width, img.height,
            img.channels, ref.w, ref.h, ref.c);
  unsigned n = s->opts.scale_denom ? s->opts.scale_denom : 1;
  cr_assert_eq(img.width, (info.width + n - 1) / n);
  cr_assert_eq(img.height, (info.height + n - 1) / n);
  size_t bad = 0;
  for (size_t i = 0; i < es_image_size(&img); i++)
    bad += img.data[i] != ref.v[i];
  cr_assert_eq(bad, 0, "%s %s: %zu samples differ from djpeg", name, s->suffix, bad);
  free(ref.v);
  es_image_free(&img);
  free(b);
}

Test(jpeg, variants_match_djpeg)
{
  static char names[64][64];
  int n = list_jpegs(names, 64);
  cr_assert_geq(n, 25);
  char *tmp = tu_tmpdir();
  char *dir = variant_path("");
  char cmd[16384];
  int at = snprintf(cmd, sizeof cmd, "cd '%s' && for f in *.jpeg; do ", dir);
  for (size_t s = 0; s < sizeof settings / sizeof *settings; s++)
    at += snprintf(cmd + at, sizeof cmd - (size_t)at,
                   "djpeg -pnm %s \"$f\" > '%s'/\"$f.%s.pnm\" || exit 1; ",
                   settings[s].djpeg_args, tmp, settings[s].suffix);
  snprintf(cmd + at, sizeof cmd - (size_t)at, "done");
  cr_assert_eq(tu_sh(cmd), 0, "djpeg failed (libjpeg-turbo-progs installed?)");
  for (int i = 0; i < n; i++)
    for (size_t s = 0; s < sizeof settings / sizeof *settings; s++)
      compare_with_djpeg(tmp, names[i], &settings[s]);
  free(dir);
  free(tmp);
}

Test(jpeg, variants_match_reference_png)
{
  static char names[64][64];
  int n = list_jpegs(names, 64);
  int compared = 0;
  for (int i = 0; i < n; i++) {
    /* video-001.cmyk.jpeg -> video-001.cmyk.png; video-001.q50.420.jpeg has none. */
    char png[64];
    snprintf(png, sizeof png, "%.*s.png", (int)(strlen(names[i]) - 5), names[i]);
    char *pp = variant_path(png);
    size_t plen, jlen;
    uint8_t *pb = tu_read(pp, &plen);
    free(pp);
    if (!pb)
      continue;
    uint8_t *jb = read_file("jpeg-variants", names[i], &jlen);
    es_decode_opts opts = {.jpeg_no_fancy_upsampling = 1};
    es_image j, p;
    es_error err;
    cr_assert_eq(es_image_decode(jb, jlen, &opts, &j, NULL, &err), ES_OK, "%s: %s", names[i],
                 err.msg);
    cr_assert_eq(es_image_decode(pb, plen, NULL, &p, NULL, &err), ES_OK, "%s: %s", png, err.msg);
    if (p.channels == 4 && j.channels == 3) {
      /* An opaque RGBA reference: drop its alpha. */
      for (size_t k = 0; k < (size_t)p.width * p.height; k++) {
        cr_assert_eq(p.data[4 * k + 3], 255);
        memmove(p.data + 3 * k, p.data + 4 * k, 3);
      }
      p.channels = 3;
    }
    double mean;
    int max = tu_image_diff(&j, &p, &mean);
    cr_log_info("%s vs %s: max %d, mean %.3f", names[i], png, max, mean);
    cr_assert(max >= 0, "%s: %ux%ux%u, reference %ux%ux%u", names[i], j.width, j.height,
              j.channels, p.width, p.height, p.channels);
    cr_assert_leq(max, REF_MAX_DIFF, "%s: max difference %d from %s", names[i], max, png);
    cr_assert_lt(mean, REF_MEAN_DIFF, "%s: mean difference %.3f from %s", names[i], mean, png);
    compared++;
    es_image_free(&j);
    es_image_free(&p);
    free(jb);
    free(pb);
  }
  cr_assert_geq(compared, 6);
}

Test(jpeg, gray_is_one_channel_cmyk_is_rgb)
{
  struct { const char *name; uint32_t channels; } cases[] = {
    {"video-005.gray.jpeg", 1}, {"video-001.cmyk.jpeg", 3}, {"video-001.rgb.jpeg", 3},
    {"video-001.jpeg", 3},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    size_t len;
    uint8_t *b = read_file("jpeg-variants", cases[i].name, &len);
    es_image_info info;
    es_error err;
    cr_assert_eq(es_image_probe(b, len, NULL, &info, &err), ES_OK, "%s", err.msg);
    cr_assert_eq(info.channels, cases[i].channels, "%s", cases[i].name);
    cr_assert_eq(info.width, 150);
    cr_assert_eq(info.height, 103);
    free(b);
  }
}

/* The truncated progressive file stops after 4 of 10 scans but ends with a real EOI marker: a
 * valid JPEG, decoded (djpeg agrees without a warning, see variants_match_djpeg). Cutting any
 * file short is an error. */
Test(jpeg, truncated_data_is_an_error)
{
  const char *files[] = {"video-001.jpeg", "video-001.progressive.jpeg",
                         "video-001.q50.420.progressive.jpeg", "video-005.gray.q50.jpeg",
                         "video-001.cmyk.jpeg"};
  for (size_t f = 0; f < sizeof files / sizeof *files; f++) {
    size_t len;
    uint8_t *b = read_file("jpeg-variants", files[f], &len);
    for (size_t cut = 0; cut < len; cut += cut < 700 ? 7 : 97) {
      es_image img;
      es_error err = {0};
      int rc = es_image_decode(b, cut, NULL, &img, NULL, &err);
      cr_assert_neq(rc, ES_OK, "%s cut at %zu of %zu was accepted", files[f], cut, len);
      cr_assert(err.msg[0]);
      cr_assert_null(img.data);
    }
    es_image img;
    es_error err = {0};
    cr_assert_eq(es_image_decode(b, len - 2, NULL, &img, NULL, &err), ES_EFORMAT);
    cr_assert(strstr(err.msg, "truncated JPEG (premature end of data)"), "%s", err.msg);
    free(b);
  }
}

Test(jpeg, pixel_limit_checked_after_header)
{
  size_t len;
  uint8_t *b = read_file("jpeg-variants", "video-001.jpeg", &len);
  es_decode_opts opts = {.max_pixels = 150 * 103 - 1};
  es_image img;
  es_error err;
  cr_assert_eq(es_image_decode(b, len, &opts, &img, NULL, &err), ES_ELIMIT);
  cr_assert_str_eq(err.msg, "image is 150x103 (15450 pixels), above the limit of 15449 pixels");
  opts.max_pixels = 150 * 103;
  cr_assert_eq(es_image_decode(b, len, &opts, &img, NULL, &err), ES_OK, "%s", err.msg);
  es_image_free(&img);
  opts.scale_denom = 3;
  cr_assert_eq(es_image_decode(b, len, &opts, &img, NULL, &err), ES_EUSAGE);
  free(b);
}

/* f1..f8 show the same upright picture. The files are lossless (DCT-domain) transforms of one
 * another, so once oriented they must equal f1 exactly: tolerance 0. */

Test(jpeg, exif_orientation_all_upright)
{
  es_image upright[9];
  for (int o = 1; o <= 8; o++) {
    char name[32];
    snprintf(name, sizeof name, "f%d-exif.jpg", o);
    size_t len;
    uint8_t *b = read_file("exif-orientation", name, &len);
    es_image_info info;
    es_error err;
    cr_assert_eq(es_image_decode(b, len, NULL, &upright[o], &info, &err), ES_OK, "%s: %s", name,
                 err.msg);
    cr_assert_eq(info.orientation, o, "%s: orientation %d", name, info.orientation);
    cr_assert_eq(info.exif_problem, 0);
    cr_assert_eq(upright[o].width, upright[1].width, "%s: width %u", name, upright[o].width);
    cr_assert_eq(upright[o].height, upright[1].height);
    if (o >= 5) {
      cr_assert(info.width == 80 && info.height == 40, "%s stored %ux%u", name, info.width,
                info.height);
      cr_assert(upright[o].width == 40 && upright[o].height == 80);
    }
    double mean;
    int max = tu_image_diff(&upright[o], &upright[1], &mean);
    cr_log_info("%s vs f1: max %d, mean %.2f", name, max, mean);
    cr_assert_eq(max, 0, "%s: differs from f1 by up to %d (mean %.2f)", name, max, mean);

    es_image stored;
    es_decode_opts keep = {.keep_orientation = 1};
    cr_assert_eq(es_image_decode(b, len, &keep, &stored, &info, &err), ES_OK);
    cr_assert(stored.width == info.width && stored.height == info.height);
    if (o > 1 && o < 5) /* as stored, the picture is not the upright one */
      cr_assert_gt(tu_image_diff(&stored, &upright[1], NULL), 100, "%s", name);
    es_image_free(&stored);
    free(b);
  }
  for (int o = 1; o <= 8; o++)
    es_image_free(&upright[o]);
}
