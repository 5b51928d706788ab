/* JPEG decoding with libjpeg-turbo: baseline and progressive, every chroma subsampling, gray
 * (1 channel), YCbCr and RGB (3 channels), CMYK and YCCK (converted to RGB here), DCT scaling
 * 1/2, 1/4, 1/8, EXIF orientation and capture time from APP1.
 *
 * libjpeg reports errors by calling error_exit, and corrupt or truncated data only by warnings
 * (after which it pads the image with grey). Both end the decode here: a warning is an error,
 * except the few that say nothing about the pixels. A progressive file that stops after fewer
 * scans but ends with a real EOI marker raises no warning and is decoded; a file cut short
 * raises JWRN_JPEG_EOF (libjpeg inserts a fake EOI) and is rejected. The setjmp lives in
 * run_jpeg(); its resources live in a jpeg_ctx owned by the caller. */
#include <ctype.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

#include "core/image_ops.h"
#include "formats/decoders_internal.h"
#include "formats/exif_internal.h"

/* A hostile progressive file can hold thousands of scans, each a pass over the image. */
#define MAX_SCANS 1000

typedef struct jpeg_ctx {
  struct jpeg_decompress_struct cinfo;
  struct jpeg_error_mgr jerr;
  struct jpeg_progress_mgr progress;
  int created;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX + 64];
  int code;       /* the ES_E* code for message */
  uint8_t *stage; /* one output row as libjpeg writes it (see run_jpeg) */
  const es_decode_opts *opts;
  es_image *out;  /* NULL when probing */
  es_image_info *info;
  es_error *err;
} jpeg_ctx;

static void fail_with(jpeg_ctx *c, int code, const char *libjpeg_text)
{
  int msg = c->jerr.msg_code;
  c->code = code;
  if (msg == JWRN_JPEG_EOF || msg == JERR_INPUT_EOF || msg == JERR_INPUT_EMPTY) {
    snprintf(c->message, sizeof c->message, "truncated JPEG (premature end of data)");
  } else {
    char text[JMSG_LENGTH_MAX];
    snprintf(text, sizeof text, "%s", libjpeg_text);
    if (text[0] && isupper((unsigned char)text[0]) && !isupper((unsigned char)text[1]))
      text[0] = (char)tolower((unsigned char)text[0]);
    if (strncmp(text, "corrupt JPEG data", 17) == 0)
      snprintf(c->message, sizeof c->message, "%s", text);
    else
      snprintf(c->message, sizeof c->message, "corrupt JPEG: %s", text);
  }
  longjmp(c->jump, 1);
}

static void on_error_exit(j_common_ptr cinfo)
{
  jpeg_ctx *c = cinfo->client_data;
  char text[JMSG_LENGTH_MAX];
  (*cinfo->err->format_message)(cinfo, text);
  int code = ES_EFORMAT;
  int msg = cinfo->err->msg_code;
  if (msg == JERR_OUT_OF_MEMORY)
    code = ES_ENOMEM;
  else if (msg == JERR_CONVERSION_NOTIMPL || msg == JERR_NOT_COMPILED)
    code = ES_EUNSUPPORTED;
  fail_with(c, code, text);
}

static void on_emit_message(j_common_ptr cinfo, int level)
{
  if (level >= 0)
    return; /* trace messages */
  int msg = cinfo->err->msg_code;
  /* Warnings about metadata, not pixels. */
  if (msg == JWRN_ADOBE_XFORM || msg == JWRN_JFIF_MAJOR || msg == JWRN_BOGUS_ICC)
    return;
  jpeg_ctx *c = cinfo->client_data;
  char text[JMSG_LENGTH_MAX];
  (*cinfo->err->format_message)(cinfo, text);
  fail_with(c, ES_EFORMAT, text);
}

static void on_progress(j_common_ptr cinfo)
{
  struct jpeg_decompress_struct *d = (struct jpeg_decompress_struct *)cinfo;
  if (!cinfo->is_decompressor || d->input_scan_number <= MAX_SCANS)
    return;
  jpeg_ctx *c = cinfo->client_data;
  snprintf(c->message, sizeof c->message, "corrupt JPEG: more than %d scans", MAX_SCANS);
  c->code = ES_EFORMAT;
  longjmp(c->jump, 1);
}

static void take_exif(jpeg_ctx *c)
{
  for (jpeg_saved_marker_ptr m = c->cinfo.marker_list; m; m = m->next) {
    size_t skip = m->marker == JPEG_APP0 + 1 ? es_exif_app1_prefix(m->data, m->data_length) : 0;
    if (skip) {
      es__exif_to_info(m->data + skip, m->data_length - skip, c->info);
      return; /* the first EXIF block counts; later ones are usually XMP or copies */
    }
  }
}

/* Stored CMYK to RGB. libjpeg returns the samples as stored: Adobe applications (the only
 * common writers, and they write the Adobe APP14 marker) store them inverted, 255 = no ink, so
 * the stored values are already "1 - ink" and R = C'*K'/255, as libjpeg-turbo's djpeg and
 * ImageMagick compute it. Without the marker the samples are ink amounts and are inverted
 * first. */
static void cmyk_to_rgb(const uint8_t *in, uint8_t *out, uint32_t width, int inverted)
{
  for (uint32_t x = 0; x < width; x++, in += 4, out += 3) {
    unsigned cc = in[0], m = in[1], y = in[2], k = in[3];
    if (!inverted) {
      cc = 255 - cc;
      m = 255 - m;
      y = 255 - y;
      k = 255 - k;
    }
    out[0] = (uint8_t)((cc * k + 127) / 255);
    out[1] = (uint8_t)((m * k + 127) / 255);
    out[2] = (uint8_t)((y * k + 127) / 255);
  }
}

static int run_jpeg(jpeg_ctx *c, const uint8_t *buf, size_t len)
{
  if (setjmp(c->jump))
    return es_error_set(c->err, c->code, "%s", c->message);
  struct jpeg_decompress_struct *d = &c->cinfo;
  d->err = jpeg_std_error(&c->jerr);
  c->jerr.error_exit = on_error_exit;
  c->jerr.emit_message = on_emit_message;
  d->client_data = c; /* kept by jpeg_create_decompress(), which may already fail */
  c->created = 1;      /* jpeg_destroy_decompress() is safe on a partly created struct */
  jpeg_create_decompress(d);
  c->progress.progress_monitor = on_progress;
  d->progress = &c->progress;
  jpeg_mem_src(d, buf, (unsigned long)len);
  jpeg_save_markers(d, JPEG_APP0 + 1, 0xffff);
  jpeg_read_header(d, TRUE);

  es_image_info *info = c->info;
  info->width = d->image_width;
  info->height = d->image_height;
  int rc = es__check_pixels(info->width, info->height, c->opts->max_pixels, c->err);
  if (rc != ES_OK)
    return rc;
  take_exif(c);

  int convert_cmyk = 0;
  switch (d->jpeg_color_space) {
  case JCS_GRAYSCALE:
    d->out_color_space = JCS_GRAYSCALE;
    break;
  case JCS_YCbCr:
  case JCS_RGB:
    d->out_color_space = JCS_RGB;
    break;
  case JCS_CMYK:
  case JCS_YCCK:
    d->out_color_space = JCS_CMYK;
    convert_cmyk = 1;
    break;
  default:
    return es_error_set(c->err, ES_EUNSUPPORTED,
                        "unsupported JPEG colour space (%d components)", d->num_components);
  }
  info->channels = convert_cmyk ? 3 : (uint32_t)(d->out_color_space == JCS_GRAYSCALE ? 1 : 3);
  if (!c->out)
    return ES_OK;

  d->scale_num = 1;
  d->scale_denom = c->opts->scale_denom;
  d->do_fancy_upsampling = c->opts->jpeg_no_fancy_upsampling ? FALSE : TRUE;
  d->dct_method = c->opts->jpeg_dct_float ? JDCT_FLOAT : JDCT_ISLOW;
  jpeg_start_decompress(d);
  if ((uint32_t)d->output_components != (convert_cmyk ? 4 : info->channels))
    return es_error_set(c->err, ES_EINTERNAL, "libjpeg produced %d components",
                        d->output_components);
  rc = es_image_alloc(c->out, d->output_width, d->output_height, info->channels, c->err);
  if (rc != ES_OK)
    return rc;
  /* libjpeg-turbo's SIMD colour converters write a 16-byte-aligned output row with
   * non-temporal stores, which send the pixels past the cache: the pixel hash and the features
   * that read the image next would then wait on memory for all of it. So libjpeg writes each
   * row to a staging row that is never aligned, from which it is copied (or converted from
   * CMYK) while still in the cache. */
  size_t stage_len = (size_t)d->output_width * (size_t)d->output_components;
  c->stage = malloc(stage_len + 32);
  if (!c->stage)
    return es_error_set(c->err, ES_ENOMEM, "out of memory for a JPEG row");
  JSAMPROW target = c->stage + (16 - (uintptr_t)c->stage % 16) + 1;
  size_t stride = es_image_stride(c->out);
  while (d->output_scanline < d->output_height) {
    uint8_t *row = c->out->data + (size_t)d->output_scanline * stride;
    if (jpeg_read_scanlines(d, &target, 1) != 1)
      return es_error_set(c->err, ES_EFORMAT, "truncated JPEG (premature end of data)");
    if (convert_cmyk)
      cmyk_to_rgb(target, row, d->output_width, d->saw_Adobe_marker);
    else
      memcpy(row, target, stride);
  }
  /* Reads to EOI, so damage after the last row (or a missing EOI) is seen. */
  jpeg_finish_decompress(d);
  return ES_OK;
}

static int jpeg_run(const uint8_t *buf, size_t len, const es_decode_opts *opts, es_image *out,
                    es_image_info *info, es_error *err)
{
  jpeg_ctx *c = calloc(1, sizeof *c);
  es_error local;
  if (!c)
    return es_error_set(err, ES_ENOMEM, "out of memory for the JPEG decoder");
  c->opts = opts;
  c->out = out;
  c->info = info;
  c->err = err ? err : &local;
  c->code = ES_EFORMAT;
  if (len > 0xffffffffUL) {
    free(c);
    return es_error_set(err, ES_ELIMIT, "JPEG data too large (%zu bytes)", len);
  }
  int rc = run_jpeg(c, buf, len);
  if (rc == ES_OK && out && !opts->keep_orientation && info->orientation != 1)
    rc = es_image_orient(out, info->orientation, err);
  if (c->created)
    jpeg_destroy_decompress(&c->cinfo);
  free(c->stage);
  free(c);
  if (rc != ES_OK && out)
    es_image_free(out);
  return rc;
}

int es__jpeg_probe(const uint8_t *buf, size_t len, const es_decode_opts *opts,
                   es_image_info *info, es_error *err)
{
  return jpeg_run(buf, len, opts, NULL, info, err);
}

int es__jpeg_decode(const uint8_t *buf, size_t len, const es_decode_opts *opts, es_image *out,
                    es_image_info *info, es_error *err)
{
  return jpeg_run(buf, len, opts, out, info, err);
}
