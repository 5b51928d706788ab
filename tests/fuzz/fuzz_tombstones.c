/* Fuzz target for DATASET/tombstones.jsonl (formats/tombstones.h; docs/dataset-format.md): the
 * input becomes the file of a scratch dataset (in /dev/shm when it exists) and is read with
 * es_tombstones_load(). On success every id and pixels hash held is 32 lowercase hex digits,
 * as the lines give them (checked here, independently, from the bytes), and
 * es_tombstones_nearest() of each phash held is 0; on failure the code is ES_EFORMAT (a line
 * that is not of the documented form) or ES_ENOMEM, and nothing is held. Any violation
 * aborts. */
#include <fcntl.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/tombstones.h"
#include "scratch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int hex32(const char *s)
{
  return s && strlen(s) == 32 && strspn(s, "0123456789abcdef") == 32;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  scratch_write("tombstones", "tombstones.jsonl", data, size);
  es_tombstones t;
  es_error err = {0};
  int rc = es_tombstones_load(&scratch, &t, &err);
  if (rc != ES_OK) {
    if ((rc != ES_EFORMAT && rc != ES_ENOMEM) || !err.msg[0] || t.ids.n || t.pixels.n ||
        t.n_phash)
      abort();
    return 0;
  }
  for (size_t i = 0; i < t.ids.cap; i++)
    if (t.ids.keys && t.ids.keys[i] && !hex32(t.ids.keys[i]))
      abort();
  for (size_t i = 0; i < t.pixels.cap; i++)
    if (t.pixels.keys && t.pixels.keys[i] && !hex32(t.pixels.keys[i]))
      abort();
  for (size_t i = 0; i < t.n_phash; i++)
    if (es_tombstones_nearest(&t, t.phash[i]) != 0)
      abort();
  es_tombstones_free(&t);
  return 0;
}
