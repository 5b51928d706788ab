/* Internal interface between the image registry (image_registry.c) and the decoders (png.c,
 * jpeg.c, pnm.c). The registry checks the arguments and fills in defaults, so a decoder always
 * gets non-NULL opts with max_pixels > 0 and scale_denom in {1, 2, 4, 8}, a non-NULL zeroed
 * info, and an empty out. */
#ifndef ES_FORMATS_DECODERS_INTERNAL_H
#define ES_FORMATS_DECODERS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/image.h"
#include "formats/decode.h"

typedef int (*es__sniff_fn)(const uint8_t *buf, size_t len);
typedef int (*es__probe_fn)(const uint8_t *buf, size_t len, const es_decode_opts *opts,
                            es_image_info *info, es_error *err);
typedef int (*es__decode_fn)(const uint8_t *buf, size_t len, const es_decode_opts *opts,
                             es_image *out, es_image_info *info, es_error *err);

int es__png_probe(const uint8_t *buf, size_t len, const es_decode_opts *opts,
                  es_image_info *info, es_error *err);
int es__png_decode(const uint8_t *buf, size_t len, const es_decode_opts *opts, es_image *out,
                   es_image_info *info, es_error *err);
int es__jpeg_probe(const uint8_t *buf, size_t len, const es_decode_opts *opts,
                   es_image_info *info, es_error *err);
int es__jpeg_decode(const uint8_t *buf, size_t len, const es_decode_opts *opts, es_image *out,
                    es_image_info *info, es_error *err);
int es__pnm_probe(const uint8_t *buf, size_t len, const es_decode_opts *opts,
                  es_image_info *info, es_error *err);
int es__pnm_decode(const uint8_t *buf, size_t len, const es_decode_opts *opts, es_image *out,
                   es_image_info *info, es_error *err);

/* ES_ELIMIT "image is WxH (N megapixels), above the limit of M megapixels" when w*h is above
 * max_pixels, else ES_OK. Zero dimensions are ES_EFORMAT. */
int es__check_pixels(uint32_t w, uint32_t h, uint64_t max_pixels, es_error *err);

/* Fills info->orientation and info->capture_time from an EXIF block (TIFF header first); a
 * corrupt block sets info->exif_problem and leaves orientation 1 and no time. */
void es__exif_to_info(const uint8_t *tiff, size_t len, es_image_info *info);

#endif
