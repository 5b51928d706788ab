/* Fuzz target for the label sources of edgeset-label (label/apply.c): the input is the file of
 * `--from csv:FILE` and of `--from jsonl:FILE` (docs/label.md), applied with es_label_apply() to
 * a small fixed manifest (items with shared paths, escaped non-UTF-8 paths, clusters, labels and
 * null labels), each kind without a vocabulary and with one plus a rename. Checked:
 *  - the outcome is ES_OK or ES_EUSAGE (the input's fault) with at least one problem line, and
 *    a refusal leaves the manifest byte-for-byte unchanged;
 *  - an accepted source sets at most every item, `changed` counts exactly the items whose label
 *    differs, every label is a valid class name (in the vocabulary when one was given), the
 *    conflicts are {"clusters": [...], "folders": [...]}, and the manifest still serializes to
 *    bytes that parse back to it;
 *  - applying the same source again changes nothing.
 * Any violation aborts. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/labels.h"
#include "formats/manifest.h"
#include "label/label.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define STATS "\"stats\":{\"mean\":0.5,\"std\":0.1,\"sharpness\":10.0,\"saturation\":0.0," \
              "\"clip_low\":0.0,\"clip_high\":0.0}"
#define ITEM(id, label, cluster, seen)                                                         \
  "{\"id\":\"" id "\",\"format\":\"jpeg\",\"width\":4,\"height\":4,\"channels\":3,"            \
  "\"bytes\":100,\"phash\":\"0000000000000000\"," STATS ",\"seen\":[" seen "],"                \
  "\"cluster\":" cluster ",\"label\":" label ",\"split\":null,\"split_note\":null,"            \
  "\"group\":null}\n"
#define SEEN(path, batch) "{\"path\":\"" path "\",\"batch\":\"" batch "\",\"device\":null,\"time\":null}"

/* Ids a..., paths shared between items, a path that is not UTF-8 (\xff) and one with a
 * backslash, items of one cluster with different labels. */
static const char base_manifest[] =
  ITEM("0123456789abcdef0123456789abcdef", "\"cat\"", "\"0123456789abcdef0123456789abcdef\"",
       SEEN("cats/img_0001.jpg", "b1") "," SEEN("cam07/img_0012.jpg", "b2"))
  ITEM("1123456789abcdef0123456789abcdef", "null", "\"0123456789abcdef0123456789abcdef\"",
       SEEN("dogs/img_0002.jpg", "b1"))
  ITEM("2123456789abcdef0123456789abcdef", "\"dog\"", "null",
       SEEN("b\\\\\\\\x\\\\xff.jpg", "b2") "," SEEN("cats/img_0001.jpg", "b3"))
  ITEM("3123456789abcdef0123456789abcdef", "\"leopard\"", "\"3123456789abcdef0123456789abcdef\"",
       SEEN("wild/leopard 1.jpg", "b1"))
  ITEM("f123456789abcdef0123456789abcdef", "null", "null", "");

static void load_base(es_manifest *m)
{
  es_error err = {0};
  memset(m, 0, sizeof *m);
  if (es_manifest_parse((const uint8_t *)base_manifest, sizeof base_manifest - 1, m, &err) !=
      ES_OK) {
    fprintf(stderr, "fuzz_label_from: base manifest: %s\n", err.msg);
    abort();
  }
}

static char *serialize(const es_manifest *m, size_t *len)
{
  es_error err = {0};
  char *t = es_manifest_serialize(m, len, &err);
  if (!t)
    abort();
  return t;
}

static int same_label(const char *a, const char *b)
{
  return (!a && !b) || (a && b && !strcmp(a, b));
}

static int apply(es_manifest *m, const es_label_opts *o, es_label_result *res,
                 es_label_problems *probs)
{
  es_error err = {0};
  memset(probs, 0, sizeof *probs);
  int rc = es_label_apply(m, o, res, probs, &err);
  if (rc == ES_EUSAGE) {
    if (probs->n == 0 || !err.msg[0])
      abort();
  } else if (rc != ES_OK || probs->n != 0) {
    fprintf(stderr, "fuzz_label_from: apply gave %d with %zu problems: %s\n", rc, probs->n,
            err.msg);
    abort();
  }
  return rc;
}

/* The base manifest as parsed and as serialized, made once. */
static es_manifest before;
static char *t0;
static size_t l0;

static void run_one(const es_label_opts *o)
{
  if (!t0) {
    load_base(&before);
    t0 = serialize(&before, &l0);
  }
  es_manifest m;
  load_base(&m);
  es_label_result res;
  es_label_problems probs;
  int rc = apply(&m, o, &res, &probs);
  size_t l1 = 0;
  char *t1 = serialize(&m, &l1);
  if (rc != ES_OK) {
    if (l0 != l1 || memcmp(t0, t1, l0)) {
      fprintf(stderr, "fuzz_label_from: a refused source changed the manifest\n");
      abort();
    }
    goto done;
  }
  if (res.set > m.n || m.n != before.n)
    abort();
  size_t changed = 0;
  for (size_t i = 0; i < m.n; i++) {
    const char *l = m.items[i].label;
    changed += !same_label(l, before.items[i].label);
    if (l && es_label_invalid(l)) {
      fprintf(stderr, "fuzz_label_from: invalid label '%s' accepted\n", l);
      abort();
    }
    if (l && o->vocab && es_vocab_find(&res.vocab_out, l) < 0) {
      fprintf(stderr, "fuzz_label_from: label '%s' is not in the vocabulary\n", l);
      abort();
    }
  }
  if (changed != res.changed) {
    fprintf(stderr, "fuzz_label_from: %zu labels changed, the result says %zu\n", changed,
            res.changed);
    abort();
  }
  if (!json_is_array(json_object_get(res.conflicts, "clusters")) ||
      !json_is_array(json_object_get(res.conflicts, "folders")))
    abort();
  es_manifest back = {0};
  es_error err = {0};
  if (es_manifest_parse((const uint8_t *)t1, l1, &back, &err) != ES_OK || back.n != m.n)
    abort();
  for (size_t i = 0; i < m.n; i++)
    if (!same_label(back.items[i].label, m.items[i].label))
      abort();
  es_manifest_free(&back);
  /* the same source again: nothing to change */
  es_label_result res2;
  es_label_problems probs2;
  if (apply(&m, o, &res2, &probs2) != ES_OK || res2.changed != 0) {
    fprintf(stderr, "fuzz_label_from: applying the same source twice is not idempotent\n");
    abort();
  }
  es_label_result_free(&res2);
  es_label_problems_free(&probs2);
done:
  if (rc == ES_OK)
    es_label_result_free(&res);
  es_label_problems_free(&probs);
  free(t1);
  es_manifest_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *buf = malloc(size ? size : 1); /* exactly size bytes: ASan sees reads past the end */
  if (!buf)
    return 0;
  if (size)
    memcpy(buf, data, size);
  static char *vocab_names[] = {"cat", "dog", "leopard", "bird"};
  es_vocab vocab = {vocab_names, 4};
  es_label_rename rename = {"bird", "parrot"};
  for (int kind = 0; kind < 2; kind++)
    for (int with_vocab = 0; with_vocab < 2; with_vocab++) {
      es_label_opts o = {0};
      o.from.kind = kind ? ES_LABEL_FROM_JSONL : ES_LABEL_FROM_CSV;
      o.from.file = kind ? "labels.jsonl" : "labels.csv";
      o.from.buf = buf;
      o.from.len = size;
      if (with_vocab) {
        o.vocab = &vocab;
        o.renames = &rename;
        o.n_renames = 1;
      }
      run_one(&o);
    }
  free(buf);
  return 0;
}
