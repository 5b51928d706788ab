/* Fuzz target for the EXIF parser (formats/exif.c): any bytes as a TIFF block must parse or fail
 * with a reason, within bounds, and a success must give an orientation in 1..8. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "formats/exif_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  /* A copy of exactly size bytes, so that ASan sees any read past the end. */
  uint8_t *buf = malloc(size ? size : 1);
  if (!buf)
    return 0;
  if (size)
    memcpy(buf, data, size);
  es_exif exif;
  es_error err;
  size_t skip = es_exif_app1_prefix(buf, size);
  int rc = es_exif_parse(buf + skip, size - skip, &exif, &err);
  if (rc == ES_OK && (exif.orientation < 1 || exif.orientation > 8))
    abort();
  if (rc != ES_OK && (rc != ES_EFORMAT || err.msg[0] == '\0'))
    abort();
  free(buf);
  return 0;
}
