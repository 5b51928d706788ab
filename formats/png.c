/* PNG decoding with libpng: every colour type and bit depth to 8-bit gray, gray+alpha, RGB or
 * RGBA (16-bit samples keep their high byte, palettes are expanded, tRNS becomes an alpha
 * channel, Adam7 is de-interlaced). libpng reports errors by longjmp; the setjmp lives in
 * run_png() and everything it must clean up lives in a png_ctx owned by its caller, so no local
 * of the function holding setjmp is modified after it. CRC errors in any chunk, truncation and
 * missing image data are errors; the image size is checked against the pixel limit right after
 * the header, before anything is allocated for pixels. */
#include <ctype.h>
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "core/image_ops.h"
#include "formats/decoders_internal.h"
#include "formats/exif_internal.h"

typedef struct png_ctx {
  const uint8_t *buf;
  size_t len, pos;
  png_structp png;
  png_infop info;
  png_bytep *rows;
  char error[256];   /* the message passed to our error function */
  char warning[256]; /* the last warning, which often says why an error follows */
  int rc;            /* ES_EFORMAT unless the error function was told otherwise */
  const es_decode_opts *opts;
  es_image *out;      /* NULL when probing */
  es_image_info *iinfo;
  es_error *err;
} png_ctx;

static void lower_first(char *s)
{
  if (s[0] && isupper((unsigned char)s[0]) && !isupper((unsigned char)s[1]))
    s[0] = (char)tolower((unsigned char)s[0]);
}

static void on_error(png_structp png, png_const_charp msg)
{
  png_ctx *c = png_get_error_ptr(png);
  snprintf(c->error, sizeof c->error, "%s", msg);
  png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
  png_ctx *c = png_get_error_ptr(png);
  snprintf(c->warning, sizeof c->warning, "%s", msg);
}

static void read_bytes(png_structp png, png_bytep data, size_t n)
{
  png_ctx *c = png_get_io_ptr(png);
  if (c->len - c->pos < n) {
    snprintf(c->error, sizeof c->error, "truncated PNG (%zu bytes, ends inside a chunk)", c->len);
    c->rc = ES_EFORMAT;
    png_longjmp(png, 2); /* 2: c->error is already final */
  }
  memcpy(data, c->buf + c->pos, n);
  c->pos += n;
}

/* Turns libpng's wording into ours: "IDAT: CRC error" -> "bad CRC in IDAT chunk", "Invalid IHDR
 * data" -> "bad IHDR: <the warning that explained it>". */
static void explain(png_ctx *c)
{
  char why[256];
  const char *m = c->error;
  size_t n = strlen(m);
  lower_first(c->warning);
  if (n > 11 && strcmp(m + n - 11, ": CRC error") == 0) {
    es_error_set(c->err, ES_EFORMAT, "bad CRC in %.*s chunk", (int)(n - 11), m);
  } else if (strcmp(m, "Invalid IHDR data") == 0 || strncmp(m, "IHDR: ", 6) == 0) {
    es_error_set(c->err, ES_EFORMAT, "bad IHDR: %s",
                 c->warning[0] ? c->warning : (m[0] == 'I' && m[1] == 'H' ? m + 6 : m));
  } else if (strcmp(m, "IEND: out of place") == 0) {
    es_error_set(c->err, ES_EFORMAT, "missing image data (IEND before any IDAT chunk)");
  } else if (strcmp(m, "Not a PNG file") == 0) {
    es_error_set(c->err, ES_EFORMAT, "bad PNG signature");
  } else if (strstr(m, "ASCII conversion")) {
    es_error_set(c->err, ES_EFORMAT, "bad PNG signature (file corrupted by ASCII conversion)");
  } else {
    snprintf(why, sizeof why, "%s", m);
    lower_first(why);
    es_error_set(c->err, ES_EFORMAT, "corrupt PNG: %s", why);
  }
}

/* Sets up libpng's transformations to 8-bit samples and returns the output channel count. */
static int set_transforms(png_ctx *c)
{
  png_structp png = c->png;
  int depth = png_get_bit_depth(png, c->info);
  int type = png_get_color_type(png, c->info);
  if (depth == 16)
    png_set_strip_16(png);
  if (type == PNG_COLOR_TYPE_PALETTE)
    png_set_palette_to_rgb(png);
  if (type == PNG_COLOR_TYPE_GRAY && depth < 8)
    png_set_expand_gray_1_2_4_to_8(png);
  if (png_get_valid(png, c->info, PNG_INFO_tRNS))
    png_set_tRNS_to_alpha(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, c->info);
  return png_get_channels(png, c->info);
}

static void take_exif(png_ctx *c)
{
#ifdef PNG_eXIf_SUPPORTED
  png_uint_32 n = 0;
  png_bytep exif = NULL;
  if (png_get_eXIf_1(c->png, c->info, &n, &exif) && exif && n > 0)
    es__exif_to_info(exif, n, c->iinfo);
#else
  (void)c;
#endif
}

/* Everything that can longjmp happens here. Returns ES_OK or an error already recorded. */
static int run_png(png_ctx *c)
{
  int jumped = setjmp(png_jmpbuf(c->png));
  if (jumped) {
    if (jumped == 1)
      explain(c);
    else
      es_error_set(c->err, c->rc, "%s", c->error);
    return c->err ? c->err->code : ES_EFORMAT;
  }
  png_structp png = c->png;
  png_set_read_fn(png, c, read_bytes);
  /* CRC errors in ancillary chunks are errors too: the bytes are damaged. */
  png_set_crc_action(png, PNG_CRC_DEFAULT, PNG_CRC_ERROR_QUIT);
  /* The pixel limit is ours (below); libpng's only guards against nonsense. */
  png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
  png_read_info(png, c->info);

  es_image_info *info = c->iinfo;
  info->width = png_get_image_width(png, c->info);
  info->height = png_get_image_height(png, c->info);
  int rc = es__check_pixels(info->width, info->height, c->opts->max_pixels, c->err);
  if (rc != ES_OK)
    return rc;
  take_exif(c);
  int channels = set_transforms(c);
  if (channels < 1 || channels > 4 || png_get_rowbytes(png, c->info) != (size_t)info->width * channels)
    return es_error_set(c->err, ES_EINTERNAL, "libpng produced %d channels, %zu bytes a row",
                        channels, (size_t)png_get_rowbytes(png, c->info));
  info->channels = (uint32_t)channels;
  if (!c->out)
    return ES_OK;

  rc = es_image_alloc(c->out, info->width, info->height, (uint32_t)channels, c->err);
  if (rc != ES_OK)
    return rc;
  c->rows = malloc(sizeof *c->rows * info->height);
  if (!c->rows)
    return es_error_set(c->err, ES_ENOMEM, "out of memory for %u PNG row pointers", info->height);
  for (uint32_t y = 0; y < info->height; y++)
    c->rows[y] = c->out->data + (size_t)y * es_image_stride(c->out);
  png_read_image(png, c->rows);
  /* Reads up to IEND, so truncation, bad CRCs after the image data and an eXIf chunk placed
   * after IDAT are all seen. */
  png_read_end(png, c->info);
  if (info->orientation == 1 && !info->exif_problem)
    take_exif(c);
  return ES_OK;
}

/* libpng allocates an ancillary chunk's declared length before reading it (eXIf has no limit
 * of its own), so a 42-byte file could ask for gigabytes. The file is in memory: walk the chunk
 * headers first and refuse a chunk other than IDAT that declares more bytes than the file has
 * left. IDAT is streamed, so a cut one stays libpng's "truncated" error. */
static int check_chunk_lengths(const uint8_t *buf, size_t len, es_error *err)
{
  static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a};
  if (len < 8 || memcmp(buf, sig, 8) != 0)
    return ES_OK; /* libpng reports a bad signature */
  size_t at = 8;
  while (at + 8 <= len) {
    const uint32_t n = (uint32_t)buf[at] << 24 | (uint32_t)buf[at + 1] << 16 |
                       (uint32_t)buf[at + 2] << 8 | buf[at + 3];
    const uint8_t *type = buf + at + 4;
    const size_t left = len - at - 8;
    if (memcmp(type, "IDAT", 4) != 0 && (uint64_t)n + 4 > left) {
      char name[5];
      for (int k = 0; k < 4; k++)
        name[k] = type[k] >= 0x20 && type[k] < 0x7f ? (char)type[k] : '?';
      name[4] = '\0';
      return es_error_set(err, ES_EFORMAT,
                          "malformed PNG: chunk '%s' declares %u bytes, but only %zu remain", name,
                          n, left < 4 ? 0 : left - 4);
    }
    if (memcmp(type, "IEND", 4) == 0 || (uint64_t)n + 12 > len - at)
      break;
    at += (size_t)n + 12;
  }
  return ES_OK;
}

static int png_run(const uint8_t *buf, size_t len, const es_decode_opts *opts, es_image *out,
                   es_image_info *info, es_error *err)
{
  png_ctx c = {.buf = buf, .len = len, .rc = ES_EFORMAT, .opts = opts, .out = out,
               .iinfo = info, .err = err};
  es_error local;
  if (!err)
    c.err = &local;
  int rc = check_chunk_lengths(buf, len, c.err);
  if (rc != ES_OK)
    goto cleanup;
  c.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &c, on_error, on_warning);
  if (!c.png) {
    rc = es_error_set(err, ES_ENOMEM, "out of memory for the PNG decoder");
    goto cleanup;
  }
  c.info = png_create_info_struct(c.png);
  if (!c.info) {
    rc = es_error_set(err, ES_ENOMEM, "out of memory for the PNG decoder");
    goto cleanup;
  }
  rc = run_png(&c);
  if (rc == ES_OK && out && !opts->keep_orientation && info->orientation != 1)
    rc = es_image_orient(out, info->orientation, err);

cleanup:
  if (c.png)
    png_destroy_read_struct(&c.png, c.info ? &c.info : NULL, NULL);
  free(c.rows);
  if (rc != ES_OK && out)
    es_image_free(out);
  return rc;
}

int es__png_probe(const uint8_t *buf, size_t len, const es_decode_opts *opts,
                  es_image_info *info, es_error *err)
{
  return png_run(buf, len, opts, NULL, info, err);
}

int es__png_decode(const uint8_t *buf, size_t len, const es_decode_opts *opts, es_image *out,
                   es_image_info *info, es_error *err)
{
  return png_run(buf, len, opts, out, info, err);
}
