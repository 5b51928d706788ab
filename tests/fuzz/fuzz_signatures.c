/* Fuzz target for the signatures file reader (formats/signatures.c, DATASET/signatures.bin,
 * layout in docs/dataset-format.md). The input is parsed as it is (magic, size and checksum
 * checks) and again with its magic and trailing XXH3-128 checksum made right, so that mutations
 * reach the count and the records. Whatever es_sigs_parse() accepts must have its records in
 * strictly increasing id order, each found again by es_sigs_find_bin(); a refusal must say why.
 * Any violation aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "formats/signatures.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void parse_one(const uint8_t *buf, size_t size)
{
  es_sigs s;
  es_error err = {0};
  int rc = es_sigs_parse(buf, size, &s, &err);
  if (rc != ES_OK) {
    if (!err.msg[0] || err.code != rc || (rc != ES_EFORMAT && rc != ES_ENOMEM))
      abort();
    return;
  }
  for (size_t i = 0; i < s.n; i++) {
    if (i && memcmp(s.id[i - 1], s.id[i], 16) >= 0)
      abort();
    if (es_sigs_find_bin(&s, s.id[i]) != &s.sig[i])
      abort();
  }
  es_sigs_free(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  uint8_t *buf = calloc(size ? size : 1, 1); /* exactly size bytes: ASan sees reads past them */
  if (!buf)
    return 0;
  if (size)
    memcpy(buf, data, size);
  parse_one(buf, size);
  if (size >= 16 + 32) {
    memcpy(buf, "ESSIGS\0\1", 8);
    char h[33];
    es_hash_hex(buf, size - 32, h);
    memcpy(buf + size - 32, h, 32);
    parse_one(buf, size);
  }
  free(buf);
  return 0;
}
