/* The one label rule (formats/labels.h, es_label_invalid) where labels enter from disk: the
 * manifest reader refuses a line whose label breaks it (canonical lines, read by the direct
 * reader, and others, read through jansson, alike) and names the line; an index.bin that
 * carries such a label counts as damaged, so that the manifest is read instead. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/index.h"
#include "formats/labels.h"
#include "formats/manifest.h"

#define STATS "\"stats\":{\"mean\":0.5,\"std\":0.1,\"sharpness\":10.0,\"saturation\":0.0," \
              "\"clip_low\":0.0,\"clip_high\":0.0}"

/* A canonical manifest line (what es_manifest_serialize writes) with the given JSON label. */
static char *line_with(const char *id, const char *label_json)
{
  char *s = NULL;
  cr_assert_geq(asprintf(&s,
                         "{\"id\":\"%s\",\"format\":\"png\",\"width\":4,\"height\":4,"
                         "\"channels\":3,\"bytes\":10,\"phash\":\"0000000000000000\"," STATS
                         ",\"src\":\"in/a.png\",\"seen\":[{\"path\":\"in/a.png\",\"batch\":\"b\","
                         "\"device\":null,\"time\":null}],\"cluster\":null,\"label\":%s,"
                         "\"split\":null,\"split_note\":null,\"group\":null}\n",
                         id, label_json),
                0);
  return s;
}

static const char id0[] = "00000000000000000000000000000000";
static const char id1[] = "11111111111111111111111111111111";

Test(label_rule, valid_labels_still_read_and_round_trip)
{
  const char *ok[] = {"\"cat\"", "\"snow leopard \\u2744\"", "\"a,\\\"b\"", "null",
                      "\"\\u00e9t\\u00e9\""};
  for (size_t k = 0; k < sizeof ok / sizeof *ok; k++) {
    char *l = line_with(id0, ok[k]);
    es_manifest m = {0};
    es_error err = {0};
    cr_assert_eq(es_manifest_parse((const uint8_t *)l, strlen(l), &m, &err), ES_OK, "%s: %s",
                 ok[k], err.msg);
    size_t len;
    char *back = es_manifest_serialize(&m, &len, &err);
    cr_assert_not_null(back);
    es_manifest m2 = {0};
    cr_assert_eq(es_manifest_parse((const uint8_t *)back, len, &m2, &err), ES_OK);
    free(back);
    es_manifest_free(&m);
    es_manifest_free(&m2);
    free(l);
  }
}

Test(label_rule, manifest_reader_refuses_invalid_labels)
{
  static const struct {
    const char *json, *why;
  } bad[] = {
      {"\"../x\"", "field 'label' is '../x': label contains '/'"},
      {"\"..\"", "field 'label' is '..': '.' and '..' are not labels"},
      {"\"a/b\"", "label contains '/'"},
      {"\"\"", "empty label"},
      {"\" cat\"", "starts or ends with a space"},
      {"\"x\\u001b]0;t\\u0007\"", "field 'label' is 'x\\x1b]0;t\\x07': label contains a control"},
      {"\"\\u009b\"", "label contains a control character"},
      {"\"\\u007f\"", "label contains a control character"},
  };
  for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
    /* the second line is the bad one: a canonical line (the direct reader) and the same line
     * with its keys in another order (jansson) give the same error */
    char *good = line_with(id0, "\"cat\""), *l = line_with(id1, bad[k].json);
    for (int variant = 0; variant < 2; variant++) {
      char *text = NULL;
      if (variant == 0) {
        cr_assert_geq(asprintf(&text, "%s%s", good, l), 0);
      } else {
        /* move "id" to the end of the object: not canonical */
        char *rest = strdup(l + strlen("{\"id\":\"") + 32 + 2);
        rest[strlen(rest) - 2] = '\0'; /* drop "}\n" */
        cr_assert_geq(asprintf(&text, "%s{%s,\"id\":\"%s\"}\n", good, rest, id1), 0);
        free(rest);
      }
      es_manifest m = {0};
      es_error err = {0};
      int rc = es_manifest_parse((const uint8_t *)text, strlen(text), &m, &err);
      cr_assert_eq(rc, ES_EFORMAT, "%s (variant %d) accepted", bad[k].json, variant);
      cr_assert(!strncmp(err.msg, "line 2: ", 8), "%s", err.msg);
      cr_assert(strstr(err.msg, bad[k].why), "%s: %s", bad[k].json, err.msg);
      cr_assert_eq(m.n, 0);
      free(text);
    }
    free(good);
    free(l);
  }
}

Test(label_rule, same_rule_as_label_and_export)
{
  /* everything export refuses as a folder name is refused as a label, and more */
  const char *bad[] = {"..", ".", "a/b", "../x", "", "tab\there", "\x7f", "\xc2\x85", " x",
                       "x ", "bad\xff"};
  for (size_t k = 0; k < sizeof bad / sizeof *bad; k++)
    cr_assert_not_null(es_label_invalid(bad[k]), "'%s' accepted", bad[k]);
  char long_label[257];
  memset(long_label, 'a', 256);
  long_label[256] = '\0';
  cr_assert_not_null(es_label_invalid(long_label));
  long_label[255] = '\0';
  cr_assert_null(es_label_invalid(long_label));
}

/* index.bin is a cache of the manifest; one whose labels break the rule (planted, or written
 * for a hand-edited manifest by an edgeset that did not check) counts as damaged. */
Test(label_rule, index_with_an_invalid_label_is_damaged)
{
  char *l = line_with(id0, "\"cat\"");
  es_manifest m = {0};
  es_error err = {0};
  cr_assert_eq(es_manifest_parse((const uint8_t *)l, strlen(l), &m, &err), ES_OK);
  es_index ix;
  cr_assert_eq(es_index_from_manifest(&m, 1, "00000000000000000000000000000000", &ix, &err),
               ES_OK);
  size_t len;
  uint8_t *b = es_index_serialize(&ix, &len, &err);
  es_index back;
  cr_assert_eq(es_index_parse(b, len, &back, &err), ES_OK, "%s", err.msg);
  es_index_free(&back);
  free(b);
  es_index_free(&ix);
  /* the same with the label made "../x" in memory, as a hand-edit would have it */
  free(m.items[0].label);
  m.items[0].label = strdup("../x");
  cr_assert_eq(es_index_from_manifest(&m, 1, "00000000000000000000000000000000", &ix, &err),
               ES_OK);
  b = es_index_serialize(&ix, &len, &err);
  cr_assert_eq(es_index_parse(b, len, &back, &err), ES_EFORMAT);
  free(b);
  es_index_free(&ix);
  es_manifest_free(&m);
  free(l);
}
