/* photos.h */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "formats/decode.h"
#include "photos.h"
#include "testutil.h"

es_image tc_photo(const char *name)
{
  char rel[64];
  snprintf(rel, sizeof rel, "photos/%s", name);
  char *path = tu_data(rel);
  size_t len = 0;
  uint8_t *buf = tu_read(path, &len);
  cr_assert(buf, "cannot read %s", path);
  es_image img;
  es_error err = {0};
  cr_assert_eq(es_image_decode(buf, len, NULL, &img, NULL, &err), ES_OK, "%s: %s", path, err.msg);
  free(buf);
  free(path);
  return img;
}
