/* Unit tests of the label library and the CSV reader on in-memory manifests: sources (CSV with
 * RFC 4180 quoting, JSONL, folders), every bad line reported with nothing changed, renames and
 * merges, label noise, balance numbers and gates. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "formats/csv.h"
#include "label/label.h"
#include "mkmanifest.h"

Test(csv, rfc4180_quoting_and_bad_records)
{
  const char *in = "a,b\r\n\"x, y\",\"say \"\"hi\"\"\"\n\"multi\nline\",z\n"
                   "bad\"quote,1\n\"open,2\n";
  es_csv c;
  es_error err = {0};
  cr_assert_eq(es_csv_parse(in, strlen(in), &c, &err), ES_OK);
  cr_assert_eq(c.n, 5);
  cr_assert_str_eq(c.recs[1].fields[0], "x, y");
  cr_assert_str_eq(c.recs[1].fields[1], "say \"hi\"");
  cr_assert_eq(c.recs[1].line, 2);
  cr_assert_str_eq(c.recs[2].fields[0], "multi\nline");
  cr_assert_eq(c.recs[3].line, 5);
  cr_assert_not_null(c.recs[3].bad);
  cr_assert_not_null(c.recs[4].bad);
  cr_assert_null(c.recs[0].bad);
  es_csv_free(&c);
  /* the writer quotes exactly what needs it, and the reader reads it back */
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  es_csv_write_field(f, "plain");
  fputc(',', f);
  es_csv_write_field(f, "a,\"b\"\nc");
  fputc('\n', f);
  fclose(f);
  cr_assert_str_eq(buf, "plain,\"a,\"\"b\"\"\nc\"\n");
  cr_assert_eq(es_csv_parse(buf, len, &c, &err), ES_OK);
  cr_assert_str_eq(c.recs[0].fields[1], "a,\"b\"\nc");
  es_csv_free(&c);
  free(buf);
}

Test(label, invalid_names)
{
  cr_assert_null(es_label_invalid("snow leopard"));
  cr_assert_null(es_label_invalid("Schneeleopard-\xc3\xa4"));
  const char *bad[] = {"", "a/b", "..", ".", "tab\there", "nl\n", "\x7f", "bad\xff", " lead"};
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
    cr_assert_not_null(es_label_invalid(bad[k]), "'%s' accepted", bad[k]);
}

static void small(es_manifest *m)
{
  for (unsigned k = 0; k < 6; k++) {
    char path[64];
    snprintf(path, sizeof path, "up/%s/img%u.png", k < 4 ? "cat" : "dog", k);
    mk_add(m, &(mk_item){k, mk_hash(k), NULL, k == 1 ? 0 : -1, "cam1", -1, NULL, -1, path});
  }
  es_manifest_sort(m);
}

static char *ser(const es_manifest *m)
{
  size_t len;
  es_error err = {0};
  return es_manifest_serialize(m, &len, &err);
}

Test(label, csv_sets_labels_and_bad_lines_change_nothing)
{
  es_manifest m = {0};
  small(&m);
  es_error err = {0};
  char id5[33];
  mk_id(5, id5);
  char *good = NULL;
  cr_assert_geq(asprintf(&good, "path,label\nup/cat/img0.png,cat\n\"up/cat/img2.png\",\"big, cat\"\n"
                                "%s,dog\nobjects/aa/%s.png,dog\n",
                         id5, id5), 0);
  es_label_opts o = {.from = {.kind = ES_LABEL_FROM_CSV, .file = "l.csv", .buf = good,
                              .len = strlen(good)}};
  es_label_result r;
  es_label_problems p = {0};
  cr_assert_eq(es_label_apply(&m, &o, &r, &p, &err), ES_OK, "%s", err.msg);
  cr_assert_eq(r.set, 3);
  cr_assert_str_eq(es_manifest_find(&m, id5)->label, "dog");
  char id2[33];
  mk_id(2, id2);
  cr_assert_str_eq(es_manifest_find(&m, id2)->label, "big, cat");
  es_label_result_free(&r);

  char *before = ser(&m);
  const char *bad = "up/cat/img0.png,cat\n"   /* fine */
                    "nowhere.png,cat\n"       /* unknown path */
                    "up/cat/img1.png,a/b\n"   /* label with '/' */
                    "up/cat/img3.png\n"       /* one field */
                    "up/cat/img3.png,x\"y\n"  /* quote in an unquoted field */
                    "up/cat/img0.png,dog\n"   /* contradicts line 1 */
                    "up/cat/img1.png,\"tab\there\"\n";
  o.from.buf = bad;
  o.from.len = strlen(bad);
  cr_assert_eq(es_label_apply(&m, &o, &r, &p, &err), ES_EUSAGE);
  cr_assert_eq(p.n, 6, "problems: %zu", p.n);
  const char *want[] = {"line 2: unknown path", "line 3: label", "line 4: 1 fields",
                        "line 5: malformed", "line 6:", "line 7: label"};
  for (size_t k = 0; k < 6; k++)
    cr_assert(strstr(p.msg[k], want[k]), "problem %zu: %s", k, p.msg[k]);
  char *after = ser(&m);
  cr_assert_str_eq(before, after, "a bad input changed the manifest");
  free(before);
  free(after);
  free(good);
  es_label_problems_free(&p);
  es_manifest_free(&m);
}

Test(label, jsonl_dir_and_conflicts)
{
  es_manifest m = {0};
  small(&m);
  es_error err = {0};
  es_label_result r;
  es_label_problems p = {0};
  /* item 0 also arrived under dog/: a folder conflict */
  es_item *it0 = &m.items[0];
  for (size_t i = 0; i < m.n; i++)
    if (!strcmp(m.items[i].seen[0].path, "up/cat/img0.png"))
      it0 = &m.items[i];
  cr_assert_eq(es_item_add_seen(it0, "up/dog/copy.png", "b2", NULL, NULL, &err), ES_OK);
  es_label_opts o = {.from = {.kind = ES_LABEL_FROM_DIR, .levels = 1}};
  cr_assert_eq(es_label_apply(&m, &o, &r, &p, &err), ES_OK, "%s", err.msg);
  cr_assert_eq(r.set, 6);
  cr_assert_str_eq(it0->label, "cat");
  cr_assert_eq(json_array_size(json_object_get(r.conflicts, "folders")), 1);
  es_label_result_free(&r);

  /* JSONL: item 1 (in item 0's cluster) becomes dog: a cluster with two labels */
  char id1[33];
  mk_id(1, id1);
  char *j = NULL;
  cr_assert_geq(asprintf(&j, "{\"id\":\"%s\",\"label\":\"dog\"}\n\n{\"path\":\"up/dog/img4.png\","
                             "\"label\":\"dog\"}\n",
                         id1), 0);
  o.from = (es_label_from){.kind = ES_LABEL_FROM_JSONL, .file = "l.jsonl", .buf = j,
                           .len = strlen(j)};
  cr_assert_eq(es_label_apply(&m, &o, &r, &p, &err), ES_OK, "%s", err.msg);
  json_t *cl = json_object_get(r.conflicts, "clusters");
  cr_assert_eq(json_array_size(cl), 1, "%s", json_dumps(r.conflicts, 0));
  cr_assert_eq(json_integer_value(json_object_get(json_object_get(json_array_get(cl, 0), "labels"),
                                                  "dog")),
               1);
  es_label_result_free(&r);
  free(j);
  const char *badj = "{\"path\":\"up/dog/img4.png\"}\n[1]\n{\"id\":\"XYZ\",\"label\":\"a\"}\n"
                     "{\"path\":\"up/dog/img4.png\",\"id\":\"00\",\"label\":\"a\"}\nnot json\n";
  o.from.buf = badj;
  o.from.len = strlen(badj);
  cr_assert_eq(es_label_apply(&m, &o, &r, &p, &err), ES_EUSAGE);
  cr_assert_eq(p.n, 5);
  for (size_t k = 0; k < 5; k++) {
    char want[16];
    snprintf(want, sizeof want, "line %zu:", k + 1);
    cr_assert(strstr(p.msg[k], want), "%s", p.msg[k]);
  }
  es_label_problems_free(&p);
  es_manifest_free(&m);
}

Test(label, vocabulary_and_rename)
{
  es_manifest m = {0};
  small(&m);
  es_error err = {0};
  es_label_result r;
  es_label_problems p = {0};
  es_vocab v;
  const char *txt = "cat\ndog\nbird\n";
  cr_assert_eq(es_vocab_parse("labels.txt", txt, strlen(txt), &v, &p, &err), ES_OK);
  cr_assert_eq(v.n, 3);
  es_vocab bad;
  cr_assert_eq(es_vocab_parse("labels.txt", "a\na\n\nb/c\n", 9, &bad, &p, &err), ES_EUSAGE);
  cr_assert_eq(p.n, 3, "duplicate, empty line, slash");
  es_label_problems_free(&p);

  es_label_opts o = {.from = {.kind = ES_LABEL_FROM_DIR, .levels = 1}, .vocab = &v};
  cr_assert_eq(es_label_apply(&m, &o, &r, &p, &err), ES_OK);
  es_label_result_free(&r);
  /* an unknown label is refused */
  const char *csv = "up/cat/img0.png,fox\n";
  o = (es_label_opts){.from = {.kind = ES_LABEL_FROM_CSV, .file = "f", .buf = csv,
                               .len = strlen(csv)},
                      .vocab = &v};
  cr_assert_eq(es_label_apply(&m, &o, &r, &p, &err), ES_EUSAGE);
  cr_assert(strstr(p.msg[0], "unknown label 'fox'"), "%s", p.msg[0]);
  es_label_problems_free(&p);
  /* merge cat into dog: the vocabulary loses cat, keeps the order */
  es_label_rename rn[] = {{"cat", "dog"}};
  o = (es_label_opts){.vocab = &v, .renames = rn, .n_renames = 1};
  cr_assert_eq(es_label_apply(&m, &o, &r, &p, &err), ES_OK, "%s", err.msg);
  cr_assert_eq(r.changed, 4);
  cr_assert_eq(r.vocab_out.n, 2);
  cr_assert_str_eq(r.vocab_out.names[0], "dog");
  cr_assert_str_eq(r.vocab_out.names[1], "bird");
  for (size_t i = 0; i < m.n; i++)
    cr_assert_str_eq(m.items[i].label, "dog");
  es_label_result_free(&r);
  /* a rename of a class nobody has */
  es_label_rename rn2[] = {{"zebra", "horse"}};
  o = (es_label_opts){.renames = rn2, .n_renames = 1};
  cr_assert_eq(es_label_apply(&m, &o, &r, &p, &err), ES_EUSAGE);
  es_label_problems_free(&p);
  es_vocab_free(&v);
  es_manifest_free(&m);
}

Test(balance, numbers_gates_and_augmented)
{
  es_manifest m = {0};
  unsigned num = 0;
  for (unsigned k = 0; k < 60; k++, num++)
    mk_add(&m, &(mk_item){num, mk_hash(num), "a", -1, k % 2 ? "cam1" : "cam2", -1,
                          k < 48 ? "train" : "test", -1, NULL});
  for (unsigned k = 0; k < 20; k++, num++)
    mk_add(&m, &(mk_item){num, mk_hash(num), "b", -1, "cam1", -1, "train", -1, NULL});
  for (unsigned k = 0; k < 5; k++, num++) /* augmented: left out */
    mk_add(&m, &(mk_item){num, mk_hash(num), "b", -1, "cam1", -1, "train", 0, NULL});
  mk_add(&m, &(mk_item){num++, mk_hash(999), NULL, -1, NULL, -1, NULL, -1, NULL});
  es_index ix;
  mk_index(&m, &ix);
  es_error err = {0};
  int failed = -1;
  es_balance_opts o = {.max_ratio = 2.5, .min_count = 10};
  json_t *b = es_balance_compute(&ix, &o, &failed, &err);
  cr_assert_not_null(b, "%s", err.msg);
  cr_assert_eq(failed, 1, "ratio 3 > 2.5");
  cr_assert_eq(json_integer_value(json_object_get(b, "labelled")), 80);
  cr_assert_eq(json_integer_value(json_object_get(b, "unlabelled")), 1);
  cr_assert_eq(json_integer_value(json_object_get(b, "augmented_excluded")), 5);
  cr_assert_float_eq(json_real_value(json_object_get(b, "imbalance_ratio")), 3.0, 1e-9);
  double pa = 0.75, pb = 0.25, H = -(pa * log(pa) + pb * log(pb)) / log(2.0);
  cr_assert_float_eq(json_real_value(json_object_get(b, "normalized_entropy")), H, 1e-5);
  json_t *cl = json_object_get(b, "classes");
  cr_assert_str_eq(json_string_value(json_object_get(json_array_get(cl, 0), "label")), "a");
  cr_assert_float_eq(json_real_value(json_object_get(json_array_get(cl, 1), "weight")), 2.0, 1e-9);
  json_t *bs = json_object_get(b, "by_split");
  cr_assert_eq(json_array_size(bs), 2);
  cr_assert_str_eq(json_string_value(json_object_get(json_array_get(bs, 0), "split")), "test");
  cr_assert_eq(json_integer_value(json_object_get(json_object_get(json_array_get(bs, 0), "counts"),
                                                  "a")),
               12);
  json_decref(b);
  o = (es_balance_opts){.max_ratio = 3, .min_count = 21};
  b = es_balance_compute(&ix, &o, &failed, &err);
  cr_assert_eq(failed, 1, "b has 20 < 21");
  cr_assert_eq(json_array_size(json_object_get(b, "under_min_count")), 1);
  json_decref(b);
  o = (es_balance_opts){.max_ratio = 3, .min_count = 20, .include_augmented = 1};
  b = es_balance_compute(&ix, &o, &failed, &err);
  cr_assert_eq(failed, 0);
  cr_assert_eq(json_integer_value(json_object_get(json_array_get(json_object_get(b, "classes"), 1),
                                                  "count")),
               25);
  json_decref(b);
  /* a vocabulary class with no items: ratio infinite, the gate fails */
  es_vocab v = {0};
  es_label_problems p = {0};
  cr_assert_eq(es_vocab_parse("l", "b\na\nc\n", 6, &v, &p, &err), ES_OK);
  o = (es_balance_opts){.vocab = &v, .max_ratio = 100};
  b = es_balance_compute(&ix, &o, &failed, &err);
  cr_assert_eq(failed, 1);
  cr_assert(json_is_null(json_object_get(b, "imbalance_ratio")));
  cr_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(b, "classes"), 0),
                                                     "label")),
                   "b");
  json_decref(b);
  es_vocab_free(&v);
  es_index_free(&ix);
  es_manifest_free(&m);
}

/* A labels.txt of 300 000 lines is read in linear time (the duplicate check was a scan of the
 * classes so far: 45 * 10^9 comparisons here, minutes), and a duplicate at its end is found. */
Test(label, large_vocabulary_is_read_in_linear_time, .timeout = 60)
{
  size_t n = 300 * 1000, cap = n * 12 + 16, len = 0;
  char *buf = malloc(cap);
  for (size_t i = 0; i < n; i++)
    len += (size_t)snprintf(buf + len, cap - len, "c%zu\n", i);
  len += (size_t)snprintf(buf + len, cap - len, "c17\n");
  es_vocab v;
  es_label_problems p = {0};
  es_error err = {0};
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  cr_assert_eq(es_vocab_parse("labels.txt", buf, len, &v, &p, &err), ES_EUSAGE);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  cr_assert_eq(p.n, 1);
  cr_assert(strstr(p.msg[0], "line 300001: duplicate class"), "%s", p.msg[0]);
  cr_assert_lt(s, 20.0, "%.1f s", s);
  es_label_problems_free(&p);
  len -= 4; /* without the duplicate */
  cr_assert_eq(es_vocab_parse("labels.txt", buf, len, &v, &p, &err), ES_OK);
  cr_assert_eq(v.n, n);
  cr_assert_str_eq(v.names[n - 1], "c299999");
  es_vocab_free(&v);
  free(buf);
}
