/* Gallery thumbnails for the eval report: an item's image decoded (at a JPEG scale near the
 * thumbnail), reduced with the integer area resize to fit a square, and encoded as PNG
 * (formats/encode.h) into memory for an inline data: URI. */
#include <stdlib.h>

#include "core/image_ops.h"
#include "eval/dataset_internal.h"
#include "formats/encode.h"
#include "formats/decode.h"

/* Level 9: thumbnails are small and written once per report; size matters more than time. */
static int encode_png(const es_image *img, uint8_t **out, size_t *len, es_error *err)
{
  int rc = es_image_encode_png(img, 9, out, len, err);
  if (rc)
    es_error_prefix(err, "cannot encode a thumbnail");
  return rc;
}

int es__eval_thumbnail(const uint8_t *buf, size_t len, uint32_t max, uint8_t **png,
                       size_t *png_len, es_error *err)
{
  es_image_info info;
  es_image img = {0}, small = {0};
  *png = NULL;
  *png_len = 0;
  int rc = es_image_probe(buf, len, NULL, &info, err);
  if (rc)
    return rc;
  es_decode_opts opts = {0};
  uint32_t big = info.width > info.height ? info.width : info.height;
  opts.scale_denom = 1;
  while (opts.scale_denom < 8 && big / (opts.scale_denom * 2) >= max)
    opts.scale_denom *= 2;
  if ((rc = es_image_decode(buf, len, &opts, &img, NULL, err)))
    return rc;
  uint32_t w = img.width, h = img.height;
  if (w > max || h > max) {
    if (w >= h) {
      h = (uint32_t)(((uint64_t)h * max + w / 2) / w);
      w = max;
    } else {
      w = (uint32_t)(((uint64_t)w * max + h / 2) / h);
      h = max;
    }
    w = w ? w : 1;
    h = h ? h : 1;
    if ((rc = es_image_resize_area(&img, w, h, &small, err)))
      goto cleanup;
    rc = encode_png(&small, png, png_len, err);
  } else {
    rc = encode_png(&img, png, png_len, err);
  }
cleanup:
  es_image_free(&img);
  es_image_free(&small);
  return rc;
}
