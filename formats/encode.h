/* Image encoders into memory, the counterpart of formats/decode.h's decoders: each writes the
 * same bytes for the same pixels and settings with the same library version (no time stamps,
 * no text chunks, nothing taken from the environment), so callers that hash the output (augment's
 * variant ids) stay deterministic. */
#ifndef ES_FORMATS_ENCODE_H
#define ES_FORMATS_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/image.h"

/* PNG through libpng: 8-bit gray, gray+alpha, RGB or RGBA after img's channel count, not
 * interlaced, libpng's default (adaptive) row filters and zlib strategy, zlib level compression
 * (0..9). *out is malloc'd (caller frees); ES_EUSAGE for an empty image, a channel count
 * outside 1..4 or a level outside 0..9. */
int es_image_encode_png(const es_image *img, int compression, uint8_t **out, size_t *len,
                        es_error *err);

#endif
