/* Image decoding behind one registry. The format is found from the magic bytes, never from a
 * file name. Supported: PNG (libpng), JPEG (libjpeg-turbo), PNM P5/P6. Formats that are
 * recognised but not supported (GIF, BMP, TIFF, WebP, HEIC/AVIF, ...) are ES_EUNSUPPORTED with
 * a message naming the format, so collect can quarantine them with that reason.
 * All functions take the bytes in memory and do no path I/O. */
#ifndef ES_FORMATS_DECODE_H
#define ES_FORMATS_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/image.h"


typedef struct es_decode_opts {
  uint64_t max_pixels;   /* width*height above this is ES_ELIMIT before any allocation; 0 = default */
  unsigned scale_denom;  /* 1 (default, 0 means 1), 2, 4 or 8: decode at 1/N where the format
                            can (JPEG DCT scaling); other formats decode at full size */
  int keep_orientation;  /* 0 (default): EXIF orientation 2-8 is applied (upright pixels) */
  int jpeg_no_fancy_upsampling; /* 0 (default): libjpeg's fancy upsampling on */
  int jpeg_dct_float;    /* 0 (default): JDCT_ISLOW, the exact integer IDCT; 1: JDCT_FLOAT */
} es_decode_opts;

typedef struct es_image_info {
  const char *format;      /* static string: "png", "jpeg", "pnm" */
  uint32_t width, height;  /* stored size at full resolution, before orientation */
  uint32_t channels;       /* channels es_image_decode() produces: 1, 2, 3 or 4 */
  int orientation;         /* EXIF orientation 1..8 (1 when absent) */
  char capture_time[40];   /* ISO 8601 from EXIF DateTimeOriginal (+OffsetTimeOriginal), or "" */
  uint64_t exif_problem;   /* nonzero when an EXIF block was present but corrupt (ignored) */
} es_image_info;

/* The format's name when the magic bytes say what the data is: "png", "jpeg", "pnm" for
 * supported formats and e.g. "gif", "bmp", "tiff", "webp", "heic", "avif", "jpeg2000", "pdf",
 * "zip", "gzip", "json" for recognised ones we do not decode. NULL when unknown. */
const char *es_format_sniff(const uint8_t *buf, size_t len);

/* Non-zero when es_format_sniff() names a format es_image_decode() supports. */
int es_format_supported(const char *format);

/* Reads the header and metadata without decoding pixels. */
int es_image_probe(const uint8_t *buf, size_t len, const es_decode_opts *opts,
                   es_image_info *info, es_error *err);

/* Decodes to 8-bit pixels (16-bit samples reduced to 8, palette expanded with tRNS as alpha,
 * Adam7 de-interlaced, CMYK/YCCK converted to RGB, orientation applied unless asked not to).
 * Corrupt or truncated data is an error with the reason, never a padded image. On success the
 * caller frees out with es_image_free(); on failure out is empty. info may be NULL. */
int es_image_decode(const uint8_t *buf, size_t len, const es_decode_opts *opts, es_image *out,
                    es_image_info *info, es_error *err);

#endif
