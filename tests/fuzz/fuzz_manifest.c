/* Fuzz target for the manifest parser (formats/manifest.c). Whatever es_manifest_parse() accepts
 * must serialize, parse again and serialize to the same bytes (the canonical form is a fixed
 * point); its binary index (formats/index.c) must build, serialize, parse back and serialize to
 * the same bytes again, with one record per item; and the path escape must invert exactly on
 * the input read as a path. Any violation aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/store.h"
#include "formats/index.h"
#include "formats/manifest.h"
#include "formats/path_escape.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_index(const es_manifest *m, const char *bytes, size_t len)
{
  char hash[33];
  es_hash_hex(bytes, len, hash);
  es_index ix, back;
  es_error err = {0};
  if (es_index_from_manifest(m, len, hash, &ix, &err) != ES_OK || ix.n != m->n)
    abort(); /* every manifest that parses has an index */
  size_t l1 = 0, l2 = 0;
  uint8_t *b1 = es_index_serialize(&ix, &l1, &err);
  if (!b1 || es_index_parse(b1, l1, &back, &err) != ES_OK || back.n != ix.n ||
      back.manifest_size != len || memcmp(back.manifest_hash, hash, 33))
    abort();
  uint8_t *b2 = es_index_serialize(&back, &l2, &err);
  if (!b2 || l1 != l2 || memcmp(b1, b2, l1))
    abort();
  for (size_t i = 0; i < ix.n; i++) {
    char id[33];
    es_index_id_hex(&back, i, id);
    if (strcmp(id, m->items[i].id))
      abort(); /* items in manifest order */
  }
  free(b1);
  free(b2);
  es_index_free(&ix);
  es_index_free(&back);
}

static void check_manifest(const uint8_t *data, size_t size)
{
  es_manifest m = {0}, again = {0};
  es_error err = {0};
  char *t1 = NULL, *t2 = NULL;
  size_t l1 = 0, l2 = 0;
  if (es_manifest_parse(data, size, &m, &err) != ES_OK) {
    if (m.n != 0 || m.items != NULL || err.msg[0] == '\0')
      abort(); /* a failed parse leaves nothing behind and says why */
    return;
  }
  t1 = es_manifest_serialize(&m, &l1, &err);
  if (!t1)
    abort(); /* everything parsed can be written back */
  if (es_manifest_parse((const uint8_t *)t1, l1, &again, &err) != ES_OK || again.n != m.n)
    abort();
  t2 = es_manifest_serialize(&again, &l2, &err);
  if (!t2 || l1 != l2 || memcmp(t1, t2, l1) != 0)
    abort();
  check_index(&again, t1, l1);
  free(t1);
  free(t2);
  es_manifest_free(&m);
  es_manifest_free(&again);
}

static void check_path(const uint8_t *data, size_t size)
{
  char *raw = malloc(size + 1);
  if (!raw)
    return;
  memcpy(raw, data, size);
  raw[size] = '\0'; /* paths end at the first NUL, as the file system's do */
  es_error err = {0};
  char *esc = es_path_escape(raw, &err);
  char *back = esc ? es_path_unescape(esc, &err) : NULL;
  if (!esc || !back || strcmp(back, raw) != 0)
    abort();
  free(back);
  free(esc);
  /* The input read as an escaped path: accepted only in canonical form. */
  char *un = es_path_unescape(raw, &err);
  if (un) {
    char *re = es_path_escape(un, &err);
    if (!re || strcmp(re, raw) != 0)
      abort();
    free(re);
    free(un);
  }
  free(raw);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  check_manifest(data, size);
  check_path(data, size);
  return 0;
}
