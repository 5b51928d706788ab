/* Shared by the per-decoder fuzz targets (fuzz_png.c, fuzz_jpeg.c, fuzz_pnm.c): runs one decoder
 * of the registry (formats/decoders_internal.h) directly, with the arguments the registry would pass it,
 * under several decode options, and checks the contract of formats/decode.h:
 *  - a failure carries a reason and its code and leaves no image;
 *  - a success gives 1 to 4 channels, at most max_pixels, the size the probe announced (divided
 *    by the JPEG scale, turned by an EXIF orientation 5 to 8 unless asked to keep it), the
 *    channel count the decode's info names, an orientation in 1..8 that the probe announced too
 *    (except a PNG eXIf chunk after IDAT, which only the decoder reads), and every byte
 *    readable;
 *  - what decodes must probe, with the same size.
 * The data is copied to a buffer of exactly its size, so that ASan sees any read past the end.
 * Any violation aborts. */
#ifndef ES_FUZZ_DECODER_CHECK_H
#define ES_FUZZ_DECODER_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/decoders_internal.h"
#include "formats/decode.h"

#define FUZZ_MAX_PIXELS (1u << 18) /* 512 x 512: hostile headers cannot make it allocate much */

typedef struct fuzz_decoder {
  const char *format; /* es_format_sniff()'s name: the registry sends only these bytes to it */
  es__probe_fn probe;
  es__decode_fn decode;
  int scales; /* does the format honour scale_denom (JPEG DCT scaling)? */
  int probe_misses_late_exif; /* PNG: EXIF after the pixels is seen by decode, not probe */
} fuzz_decoder;

static volatile uint8_t fuzz_sink;

static void fuzz_fail(const char *format, const char *what, const es_decode_opts *o)
{
  fprintf(stderr, "fuzz_%s: %s (scale 1/%u, keep_orientation %d, no_fancy %d, dct_float %d)\n",
          format, what, o->scale_denom, o->keep_orientation, o->jpeg_no_fancy_upsampling,
          o->jpeg_dct_float);
  abort();
}

static uint32_t fuzz_scaled(uint32_t v, unsigned denom)
{
  return (uint32_t)(((uint64_t)v + denom - 1) / denom);
}

static void fuzz_decode_once(const fuzz_decoder *d, const uint8_t *buf, size_t len,
                             const es_decode_opts *o)
{
  es_image_info probe, info;
  es_image img;
  es_error perr = {0}, err = {0};
  memset(&probe, 0, sizeof probe);
  probe.orientation = 1;
  int prc = d->probe(buf, len, o, &probe, &perr);
  if (prc != ES_OK && (!perr.msg[0] || perr.code != prc))
    fuzz_fail(d->format, "probe failed without a reason", o);
  memset(&info, 0, sizeof info);
  info.orientation = 1;
  memset(&img, 0, sizeof img);
  int rc = d->decode(buf, len, o, &img, &info, &err);
  if (rc != ES_OK) {
    if (!err.msg[0] || err.code != rc)
      fuzz_fail(d->format, "decode failed without a reason", o);
    es_image_free(&img); /* the registry frees what a failed decoder left */
    return;
  }
  if (prc != ES_OK)
    fuzz_fail(d->format, "decodes but does not probe", o);
  if (!img.data || img.channels < 1 || img.channels > 4 || img.width < 1 || img.height < 1 ||
      (uint64_t)img.width * img.height > o->max_pixels)
    fuzz_fail(d->format, "decoded image is malformed", o);
  /* The probe stops before the pixels, so it cannot see a PNG eXIf chunk placed after IDAT,
   * which the decoder reads (formats/png.c): there the probe may say 1. */
  if (info.orientation < 1 || info.orientation > 8 ||
      (probe.orientation != info.orientation &&
       !(d->probe_misses_late_exif && probe.orientation == 1)))
    fuzz_fail(d->format, "orientation out of range or unlike the probe's", o);
  if (info.width != probe.width || info.height != probe.height)
    fuzz_fail(d->format, "decode and probe disagree on the size", o);
  if (info.channels && info.channels != img.channels)
    fuzz_fail(d->format, "info names another channel count than the image has", o);
  unsigned denom = d->scales ? o->scale_denom : 1;
  uint32_t w = fuzz_scaled(info.width, denom), h = fuzz_scaled(info.height, denom);
  if (!o->keep_orientation && info.orientation >= 5) {
    uint32_t t = w;
    w = h;
    h = t;
  }
  if (img.width != w || img.height != h) {
    char what[160];
    snprintf(what, sizeof what, "decoded %ux%u, expected %ux%u from %ux%u orientation %d",
             img.width, img.height, w, h, info.width, info.height, info.orientation);
    fuzz_fail(d->format, what, o);
  }
  uint8_t sum = 0;
  for (size_t i = 0; i < es_image_size(&img); i++)
    sum ^= img.data[i]; /* every byte read: ASan sees a short buffer */
  fuzz_sink = sum;
  es_image_free(&img);
}

/* Runs d on data under each of the n option sets. Inputs that the registry would not send to d
 * (es_format_sniff() names another format) are skipped. */
static int fuzz_decoder_run(const fuzz_decoder *d, const uint8_t *data, size_t size,
                            const es_decode_opts *opts, size_t n)
{
  if (size == 0)
    return 0;
  uint8_t *buf = malloc(size);
  if (!buf)
    return 0;
  memcpy(buf, data, size);
  const char *f = es_format_sniff(buf, size);
  if (f && !strcmp(f, d->format))
    for (size_t i = 0; i < n; i++) {
      es_decode_opts o = opts[i];
      o.max_pixels = FUZZ_MAX_PIXELS;
      if (!o.scale_denom)
        o.scale_denom = 1;
      fuzz_decode_once(d, buf, size, &o);
    }
  free(buf);
  return 0;
}

#endif
