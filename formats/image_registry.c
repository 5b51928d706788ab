/* The image format registry: one table row per format that the magic bytes can identify, with
 * its sniffer and, for the formats edgeset decodes, its probe and decode functions. Dispatch
 * never looks at a file name. Rows without a decoder make es_image_decode() say which
 * unsupported format the bytes are, so quarantine reasons are precise. */
#include <stdio.h>
#include <string.h>

#include "formats/decoders_internal.h"
#include "formats/exif_internal.h"
#include "formats/decode.h"

static int has(const uint8_t *buf, size_t len, size_t at, const char *magic, size_t n)
{
  return len >= at + n && memcmp(buf + at, magic, n) == 0;
}

static int sniff_png(const uint8_t *buf, size_t len)
{
  /* Also a signature damaged by a text-mode transfer or a bit flip ("\x89PNG" with one byte
   * off), so that libpng explains what is wrong instead of "unknown format". */
  if (has(buf, len, 0, "\x89PNG\r\n\x1a\n", 8))
    return 1;
  if (len < 8)
    return 0;
  int same = 0;
  for (size_t i = 0; i < 8; i++)
    same += buf[i] == (uint8_t)"\x89PNG\r\n\x1a\n"[i];
  return same >= 6 && (has(buf, len, 12, "IHDR", 4) || has(buf, len, 1, "PNG", 3));
}

static int sniff_jpeg(const uint8_t *buf, size_t len)
{
  return has(buf, len, 0, "\xff\xd8\xff", 3);
}

static int is_space(uint8_t c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static int sniff_pnm(const uint8_t *buf, size_t len)
{
  return len >= 3 && buf[0] == 'P' && buf[1] >= '1' && buf[1] <= '7' && is_space(buf[2]);
}

static int sniff_gif(const uint8_t *buf, size_t len)
{
  return has(buf, len, 0, "GIF87a", 6) || has(buf, len, 0, "GIF89a", 6);
}

static int sniff_bmp(const uint8_t *buf, size_t len)
{
  if (!has(buf, len, 0, "BM", 2) || len < 18)
    return 0;
  uint32_t dib = buf[14] | buf[15] << 8 | (uint32_t)buf[16] << 16 | (uint32_t)buf[17] << 24;
  return dib == 12 || dib == 16 || dib == 40 || dib == 52 || dib == 56 || dib == 64 ||
         dib == 108 || dib == 124;
}

static int sniff_tiff(const uint8_t *buf, size_t len)
{
  return has(buf, len, 0, "II*\0", 4) || has(buf, len, 0, "MM\0*", 4) ||
         has(buf, len, 0, "II+\0", 4) || has(buf, len, 0, "MM\0+", 4);
}

static int sniff_webp(const uint8_t *buf, size_t len)
{
  return has(buf, len, 0, "RIFF", 4) && has(buf, len, 8, "WEBP", 4);
}

/* ISO base media files name their brands in the ftyp box: the major brand at 8, compatible
 * brands from 16 to the end of the box. */
static int ftyp_has_brand(const uint8_t *buf, size_t len, const char *const *brands)
{
  if (!has(buf, len, 4, "ftyp", 4))
    return 0;
  size_t box = (size_t)buf[0] << 24 | (size_t)buf[1] << 16 | (size_t)buf[2] << 8 | buf[3];
  if (box > len)
    box = len;
  for (const char *const *b = brands; *b; b++) {
    if (has(buf, len, 8, *b, 4))
      return 1;
    for (size_t at = 16; at + 4 <= box && at < 16 + 4 * 64; at += 4)
      if (memcmp(buf + at, *b, 4) == 0)
        return 1;
  }
  return 0;
}

static int sniff_avif(const uint8_t *buf, size_t len)
{
  static const char *const brands[] = {"avif", "avis", NULL};
  return ftyp_has_brand(buf, len, brands);
}

static int sniff_heic(const uint8_t *buf, size_t len)
{
  static const char *const brands[] = {"heic", "heix", "hevc", "hevx", "heim", "heis",
                                       "hevm", "hevs", NULL};
  return ftyp_has_brand(buf, len, brands);
}

static int sniff_heif(const uint8_t *buf, size_t len)
{
  static const char *const brands[] = {"mif1", "msf1", NULL};
  return ftyp_has_brand(buf, len, brands);
}

static int sniff_mp4(const uint8_t *buf, size_t len)
{
  return has(buf, len, 4, "ftyp", 4);
}

static int sniff_jpeg2000(const uint8_t *buf, size_t len)
{
  return has(buf, len, 0, "\0\0\0\x0cjP  \r\n\x87\n", 12) || has(buf, len, 0, "\xff\x4f\xff\x51", 4);
}

static int sniff_jpegxl(const uint8_t *buf, size_t len)
{
  return has(buf, len, 0, "\xff\x0a", 2) || has(buf, len, 0, "\0\0\0\x0cJXL \r\n\x87\n", 12);
}

static int sniff_ico(const uint8_t *buf, size_t len)
{
  return (has(buf, len, 0, "\0\0\1\0", 4) || has(buf, len, 0, "\0\0\2\0", 4)) && len >= 6 &&
         (buf[4] | buf[5]) != 0;
}

static int sniff_psd(const uint8_t *buf, size_t len) { return has(buf, len, 0, "8BPS", 4); }
static int sniff_pdf(const uint8_t *buf, size_t len) { return has(buf, len, 0, "%PDF-", 5); }
static int sniff_gzip(const uint8_t *buf, size_t len) { return has(buf, len, 0, "\x1f\x8b", 2); }
static int sniff_qoi(const uint8_t *buf, size_t len) { return has(buf, len, 0, "qoif", 4); }
static int sniff_exr(const uint8_t *buf, size_t len) { return has(buf, len, 0, "\x76\x2f\x31\x01", 4); }

static int sniff_zip(const uint8_t *buf, size_t len)
{
  return has(buf, len, 0, "PK\3\4", 4) || has(buf, len, 0, "PK\5\6", 4);
}

/* Text formats start after optional UTF-8 BOM and white space. */
static size_t text_start(const uint8_t *buf, size_t len)
{
  size_t i = has(buf, len, 0, "\xef\xbb\xbf", 3) ? 3 : 0;
  while (i < len && i < 4096 && is_space(buf[i]))
    i++;
  return i;
}

static int sniff_json(const uint8_t *buf, size_t len)
{
  size_t i = text_start(buf, len);
  return i < len && (buf[i] == '{' || buf[i] == '[');
}

static int sniff_svg(const uint8_t *buf, size_t len)
{
  size_t i = text_start(buf, len);
  return has(buf, len, i, "<svg", 4) ||
         (has(buf, len, i, "<?xml", 5) && memmem(buf, len < 1024 ? len : 1024, "<svg", 4));
}

static int sniff_xml(const uint8_t *buf, size_t len)
{
  return has(buf, len, text_start(buf, len), "<?xml", 5);
}

static int sniff_html(const uint8_t *buf, size_t len)
{
  size_t i = text_start(buf, len);
  return has(buf, len, i, "<!DOCTYPE html", 14) || has(buf, len, i, "<!doctype html", 14) ||
         has(buf, len, i, "<html", 5);
}

typedef struct format_row {
  const char *name;    /* es_format_sniff()'s answer */
  const char *display; /* in messages */
  es__sniff_fn sniff;
  es__probe_fn probe;   /* NULL: recognised, not supported */
  es__decode_fn decode;
} format_row;

/* Order matters only where magics overlap: specific ftyp brands before the generic MP4 row, SVG
 * before XML. */
static const format_row formats[] = {
  {"png", "PNG", sniff_png, es__png_probe, es__png_decode},
  {"jpeg", "JPEG", sniff_jpeg, es__jpeg_probe, es__jpeg_decode},
  {"pnm", "PNM", sniff_pnm, es__pnm_probe, es__pnm_decode},
  {"gif", "GIF", sniff_gif, NULL, NULL},
  {"bmp", "BMP", sniff_bmp, NULL, NULL},
  {"tiff", "TIFF", sniff_tiff, NULL, NULL},
  {"webp", "WebP", sniff_webp, NULL, NULL},
  {"avif", "AVIF", sniff_avif, NULL, NULL},
  {"heic", "HEIC", sniff_heic, NULL, NULL},
  {"heif", "HEIF", sniff_heif, NULL, NULL},
  {"mp4", "MP4/QuickTime video", sniff_mp4, NULL, NULL},
  {"jpeg2000", "JPEG 2000", sniff_jpeg2000, NULL, NULL},
  {"jpegxl", "JPEG XL", sniff_jpegxl, NULL, NULL},
  {"ico", "ICO", sniff_ico, NULL, NULL},
  {"psd", "PSD", sniff_psd, NULL, NULL},
  {"openexr", "OpenEXR", sniff_exr, NULL, NULL},
  {"qoi", "QOI", sniff_qoi, NULL, NULL},
  {"pdf", "PDF", sniff_pdf, NULL, NULL},
  {"zip", "ZIP", sniff_zip, NULL, NULL},
  {"gzip", "gzip", sniff_gzip, NULL, NULL},
  {"json", "JSON", sniff_json, NULL, NULL},
  {"svg", "SVG", sniff_svg, NULL, NULL},
  {"html", "HTML", sniff_html, NULL, NULL},
  {"xml", "XML", sniff_xml, NULL, NULL},
};

static const format_row *find_row(const uint8_t *buf, size_t len)
{
  if (!buf)
    return NULL;
  for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
    if (formats[i].sniff(buf, len))
      return &formats[i];
  return NULL;
}

const char *es_format_sniff(const uint8_t *buf, size_t len)
{
  const format_row *row = find_row(buf, len);
  return row ? row->name : NULL;
}

int es_format_supported(const char *format)
{
  if (!format)
    return 0;
  for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
    if (strcmp(formats[i].name, format) == 0)
      return formats[i].decode != NULL;
  return 0;
}

int es__check_pixels(uint32_t w, uint32_t h, uint64_t max_pixels, es_error *err)
{
  if (w == 0 || h == 0)
    return es_error_set(err, ES_EFORMAT, "image has zero size (%ux%u)", w, h);
  uint64_t n = (uint64_t)w * h;
  if (n <= max_pixels)
    return ES_OK;
  char have[32], limit[32];
  if (max_pixels >= 1000000) {
    snprintf(have, sizeof have, "%.4g megapixels", (double)n / 1e6);
    snprintf(limit, sizeof limit, "%.4g megapixels", (double)max_pixels / 1e6);
  } else {
    snprintf(have, sizeof have, "%llu pixels", (unsigned long long)n);
    snprintf(limit, sizeof limit, "%llu pixels", (unsigned long long)max_pixels);
  }
  return es_error_set(err, ES_ELIMIT, "image is %ux%u (%s), above the limit of %s", w, h, have,
                      limit);
}

void es__exif_to_info(const uint8_t *tiff, size_t len, es_image_info *info)
{
  es_exif exif;
  if (es_exif_parse(tiff, len, &exif, NULL) != ES_OK) {
    info->exif_problem = 1;
    info->orientation = 1;
    info->capture_time[0] = '\0';
    return;
  }
  info->orientation = exif.orientation;
  snprintf(info->capture_time, sizeof info->capture_time, "%s", exif.capture_time);
}

/* Checks the arguments shared by probe and decode and finds the decoder. */
static int dispatch(const uint8_t *buf, size_t len, const es_decode_opts *opts,
                    es_decode_opts *o, es_image_info *info, const format_row **row,
                    es_error *err)
{
  memset(o, 0, sizeof *o);
  if (opts)
    *o = *opts;
  if (o->max_pixels == 0)
    o->max_pixels = ES_DEFAULT_MAX_PIXELS;
  if (o->scale_denom == 0)
    o->scale_denom = 1;
  if (o->scale_denom != 1 && o->scale_denom != 2 && o->scale_denom != 4 && o->scale_denom != 8)
    return es_error_set(err, ES_EUSAGE, "invalid scale 1/%u (expected 1, 2, 4 or 8)",
                        o->scale_denom);
  memset(info, 0, sizeof *info);
  info->orientation = 1;
  if (!buf || len == 0)
    return es_error_set(err, ES_EUNSUPPORTED, "unknown format (not an image): empty");
  *row = find_row(buf, len);
  if (!*row) {
    char hex[3 * 8 + 1] = "";
    size_t n = len < 8 ? len : 8, at = 0;
    for (size_t i = 0; i < n; i++)
      at += (size_t)snprintf(hex + at, sizeof hex - at, "%s%02x", i ? " " : "", buf[i]);
    return es_error_set(err, ES_EUNSUPPORTED, "unknown format (not an image): starts with %s",
                        hex);
  }
  if (!(*row)->decode)
    return es_error_set(err, ES_EUNSUPPORTED, "unsupported format: %s", (*row)->display);
  info->format = (*row)->name;
  return ES_OK;
}

int es_image_probe(const uint8_t *buf, size_t len, const es_decode_opts *opts,
                   es_image_info *info, es_error *err)
{
  es_decode_opts o;
  es_image_info local;
  const format_row *row = NULL;
  if (!info)
    info = &local;
  int rc = dispatch(buf, len, opts, &o, info, &row, err);
  if (rc != ES_OK)
    return rc;
  return row->probe(buf, len, &o, info, err);
}

int es_image_decode(const uint8_t *buf, size_t len, const es_decode_opts *opts, es_image *out,
                    es_image_info *info, es_error *err)
{
  es_decode_opts o;
  es_image_info local;
  const format_row *row = NULL;
  memset(out, 0, sizeof *out);
  if (!info)
    info = &local;
  int rc = dispatch(buf, len, opts, &o, info, &row, err);
  if (rc != ES_OK)
    return rc;
  rc = row->decode(buf, len, &o, out, info, err);
  if (rc != ES_OK)
    es_image_free(out);
  else
    info->channels = out->channels;
  return rc;
}
