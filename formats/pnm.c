/* Binary PNM decoding: P5 (gray) and P6 (RGB), any maxval from 1 to 65535. Samples are scaled
 * to 0..255 by round(v * 255 / maxval); two-byte samples (maxval > 255) are big-endian. Plain
 * (ASCII) PNM, PBM and PAM are recognised and reported as unsupported variants. */
#include <stdio.h>
#include <string.h>

#include "formats/decoders_internal.h"

typedef struct pnm_header {
  int kind; /* 5 or 6 */
  uint32_t width, height, maxval;
  size_t data; /* offset of the first sample */
} pnm_header;

static int is_space(uint8_t c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Reads one decimal header field after white space and comments. */
static int read_field(const uint8_t *buf, size_t len, size_t *pos, const char *what, uint32_t *v,
                      es_error *err)
{
  size_t i = *pos;
  for (;;) {
    while (i < len && is_space(buf[i]))
      i++;
    if (i < len && buf[i] == '#') {
      while (i < len && buf[i] != '\n' && buf[i] != '\r')
        i++;
      continue;
    }
    break;
  }
  if (i >= len)
    return es_error_set(err, ES_EFORMAT, "truncated PNM header (no %s)", what);
  if (buf[i] < '0' || buf[i] > '9')
    return es_error_set(err, ES_EFORMAT, "bad PNM header: %s is not a number", what);
  uint64_t n = 0;
  while (i < len && buf[i] >= '0' && buf[i] <= '9') {
    n = n * 10 + (uint64_t)(buf[i] - '0');
    if (n > 0xffffffffULL)
      return es_error_set(err, ES_EFORMAT, "bad PNM header: %s is too large", what);
    i++;
  }
  *v = (uint32_t)n;
  *pos = i;
  return ES_OK;
}

static int read_header(const uint8_t *buf, size_t len, const es_decode_opts *opts,
                       pnm_header *h, es_image_info *info, es_error *err)
{
  if (len < 3 || buf[0] != 'P')
    return es_error_set(err, ES_EFORMAT, "bad PNM header: no magic number");
  if (buf[1] != '5' && buf[1] != '6')
    return es_error_set(err, ES_EUNSUPPORTED,
                        "unsupported PNM variant P%c (only binary P5 and P6 are decoded)", buf[1]);
  h->kind = buf[1] - '0';
  size_t pos = 2;
  int rc;
  if ((rc = read_field(buf, len, &pos, "width", &h->width, err)) != ES_OK ||
      (rc = read_field(buf, len, &pos, "height", &h->height, err)) != ES_OK ||
      (rc = read_field(buf, len, &pos, "maxval", &h->maxval, err)) != ES_OK)
    return rc;
  if (h->maxval < 1 || h->maxval > 65535)
    return es_error_set(err, ES_EFORMAT, "bad PNM header: maxval %u (expected 1 to 65535)",
                        h->maxval);
  if (pos >= len || !is_space(buf[pos]))
    return es_error_set(err, ES_EFORMAT, "bad PNM header: no white space after maxval");
  h->data = pos + 1;
  info->width = h->width;
  info->height = h->height;
  info->channels = h->kind == 5 ? 1 : 3;
  return es__check_pixels(h->width, h->height, opts->max_pixels, err);
}

int es__pnm_probe(const uint8_t *buf, size_t len, const es_decode_opts *opts,
                  es_image_info *info, es_error *err)
{
  pnm_header h;
  return read_header(buf, len, opts, &h, info, err);
}

int es__pnm_decode(const uint8_t *buf, size_t len, const es_decode_opts *opts, es_image *out,
                   es_image_info *info, es_error *err)
{
  pnm_header h;
  int rc = read_header(buf, len, opts, &h, info, err);
  if (rc != ES_OK)
    return rc;
  rc = es_image_alloc(out, h.width, h.height, info->channels, err);
  if (rc != ES_OK)
    return rc;
  size_t samples = es_image_size(out);
  size_t bytes_per = h.maxval > 255 ? 2 : 1;
  if (samples > SIZE_MAX / bytes_per)
    return es_error_set(err, ES_ELIMIT, "PNM image too large for this machine");
  size_t need = samples * bytes_per;
  if (len - h.data < need)
    return es_error_set(err, ES_EFORMAT, "truncated PNM (%zu of %zu pixel bytes)", len - h.data,
                        need);
  const uint8_t *p = buf + h.data;
  for (size_t i = 0; i < samples; i++) {
    uint32_t v = bytes_per == 2 ? (uint32_t)(p[2 * i] << 8 | p[2 * i + 1]) : p[i];
    if (v > h.maxval)
      return es_error_set(err, ES_EFORMAT, "corrupt PNM: sample %u above maxval %u", v,
                          h.maxval);
    out->data[i] = (uint8_t)((v * 255 + h.maxval / 2) / h.maxval);
  }
  return ES_OK;
}
