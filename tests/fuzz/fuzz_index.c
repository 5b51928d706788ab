/* Fuzz target for the binary manifest index reader (formats/index.c, DATASET/index.bin, layout in
 * docs/dataset-format.md). The input is parsed twice: as it is (so the magic, the length and the
 * checksum checks are fuzzed), and with its magic and trailing XXH3-128 checksum made right, so
 * that mutations reach the string table, the counts and the item records behind the checksum
 * instead of all failing on it. Whatever es_index_parse() accepts must be within its bounds
 * (string and item numbers in range, strings without NUL and unique) and serialize back to the
 * very same bytes; a refusal must say why. Any violation aborts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/store.h"
#include "formats/index.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_parsed(const es_index *ix, const uint8_t *buf, size_t size)
{
  for (size_t i = 0; i < ix->n_strs; i++) {
    if (!ix->strs[i])
      abort();
    for (size_t k = 0; k < i && k < 64; k++) /* uniqueness, spot-checked */
      if (!strcmp(ix->strs[k], ix->strs[i]))
        abort();
  }
  for (size_t i = 0; i < ix->n; i++) {
    const es_index_item *x = &ix->items[i];
    if ((x->cluster != ES_INDEX_NONE && x->cluster >= ix->n) ||
        (x->derived_from != ES_INDEX_NONE && x->derived_from >= ix->n))
      abort();
    const uint32_t s[] = {x->label, x->split,  x->split_note, x->group,
                          x->device, x->batch, x->format};
    for (size_t k = 0; k < sizeof s / sizeof s[0]; k++)
      if (s[k] != ES_INDEX_NONE && s[k] >= ix->n_strs)
        abort();
    char hex[33];
    es_index_id_hex(ix, i, hex);
    if (strlen(hex) != 32)
      abort();
  }
  size_t len = 0;
  es_error err = {0};
  uint8_t *b = es_index_serialize(ix, &len, &err);
  if (!b || len != size || memcmp(b, buf, size)) {
    fprintf(stderr, "fuzz_index: an accepted index serializes to other bytes\n");
    abort();
  }
  free(b);
}

static void parse_one(const uint8_t *buf, size_t size)
{
  es_index ix;
  es_error err = {0};
  int rc = es_index_parse(buf, size, &ix, &err);
  if (rc != ES_OK) {
    if (!err.msg[0] || err.code != rc || (rc != ES_EFORMAT && rc != ES_ENOMEM))
      abort();
    return;
  }
  check_parsed(&ix, buf, size);
  es_index_free(&ix);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  uint8_t *buf = calloc(size ? size : 1, 1); /* exactly size bytes: ASan sees reads past them */
  if (!buf)
    return 0;
  if (size)
    memcpy(buf, data, size);
  parse_one(buf, size); /* exactly the input */
  if (size >= 8 + 32) {
    memcpy(buf, "ESIDX\0\0\1", 8);
    char h[33];
    es_hash_hex(buf, size - 32, h);
    memcpy(buf + size - 32, h, 32);
    parse_one(buf, size); /* the input with its magic and checksum made right */
  }
  free(buf);
  return 0;
}
