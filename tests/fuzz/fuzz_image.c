/* Fuzz target for the whole decode path (sniff, PNG, JPEG, PNM, EXIF, orientation) with a small
 * pixel limit so that hostile headers cannot make it allocate much. A failure must carry a
 * reason and leave no image; a success must give a well-formed image. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "formats/decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint8_t sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  uint8_t *buf = malloc(size ? size : 1);
  if (!buf)
    return 0;
  if (size)
    memcpy(buf, data, size);
  for (unsigned scale = 1; scale <= 8; scale *= 8) {
    es_decode_opts opts = {.max_pixels = 1 << 20, .scale_denom = scale};
    es_image img;
    es_image_info info;
    es_error err;
    int rc = es_image_decode(buf, size, &opts, &img, &info, &err);
    if (rc != ES_OK) {
      if (img.data || err.msg[0] == '\0' || rc != err.code)
        abort();
      continue;
    }
    if (img.channels < 1 || img.channels > 4 || (uint64_t)img.width * img.height > (1 << 20) ||
        info.orientation < 1 || info.orientation > 8)
      abort();
    uint8_t sum = 0;
    for (size_t i = 0; i < es_image_size(&img); i++)
      sum ^= img.data[i]; /* touch every byte: MSan/ASan see uninitialised or short buffers */
    sink = sum;
    es_image_free(&img);
    es_image_info probe;
    if (es_image_probe(buf, size, &opts, &probe, &err) != ES_OK)
      abort(); /* what decodes must probe */
  }
  free(buf);
  return 0;
}
