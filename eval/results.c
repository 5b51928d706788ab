/* The metrics object of an evaluation document and its comparison with a baseline document
 * (schema in docs/eval.md). Counts come from the run; every ratio goes through es_json_real,
 * so the JSON, the text summary and the HTML report show the same digits. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "eval/dataset_internal.h"
#include "eval/metrics.h"

#define Z95 1.959963984540054

static json_t *real_or_null(double v)
{
  return isnan(v) ? json_null() : es_json_real(v);
}

typedef struct group_row {
  const char *name; /* NULL = no device / batch */
  uint8_t correct;
} group_row;

static int cmp_group(const void *a, const void *b)
{
  const char *x = ((const group_row *)a)->name, *y = ((const group_row *)b)->name;
  if (!x || !y)
    return (x != NULL) - (y != NULL);
  return strcmp(x, y);
}

/* Accuracy per device or batch of the first occurrence, sorted by name (null first). */
static json_t *by_group(const es__eval_run *r, int batch, const char *key)
{
  group_row *rows = calloc(r->n, sizeof *rows);
  json_t *a = json_array();
  if (!rows || !a) {
    free(rows);
    json_decref(a);
    return NULL;
  }
  for (size_t i = 0; i < r->n; i++) {
    const es_item *it = r->preds[i].it;
    rows[i].name = !it->n_seen ? NULL : batch ? it->seen[0].batch : it->seen[0].device;
    rows[i].correct = r->preds[i].pred == r->preds[i].truth;
  }
  qsort(rows, r->n, sizeof *rows, cmp_group);
  for (size_t i = 0; i < r->n;) {
    size_t j = i, right = 0;
    while (j < r->n && !cmp_group(&rows[i], &rows[j]))
      right += rows[j++].correct;
    json_array_append_new(a, json_pack("{s:o, s:I, s:I, s:o}", key,
                                       rows[i].name ? json_string(rows[i].name) : json_null(),
                                       "items", (json_int_t)(j - i), "correct",
                                       (json_int_t)right,
                                       "accuracy", es_json_real((double)right / (double)(j - i))));
    i = j;
  }
  free(rows);
  return a;
}

static json_t *binary_json(const es__eval_run *r, size_t pos_class)
{
  size_t n = r->n;
  double *score = malloc(n * sizeof *score);
  uint8_t *pos = malloc(n);
  size_t *order = malloc(n * sizeof *order);
  es_curve_point *pts = malloc(n * sizeof *pts);
  json_t *out = NULL;
  if (!score || !pos || !order || !pts)
    goto cleanup;
  uint64_t P = 0;
  for (size_t i = 0; i < n; i++) {
    score[i] = r->probs[i * r->C + pos_class];
    pos[i] = r->preds[i].truth == pos_class;
    P += pos[i];
  }
  uint64_t N = n - P;
  double auc = es_roc_auc(score, pos, n, order);
  size_t m = es_curve_points(score, pos, order, n, pts);
  json_t *roc = json_array(), *pr = json_array(), *table = json_array();
  for (size_t k = 0; k < m; k++) {
    json_array_append_new(
        roc, json_pack("{s:o, s:o, s:o}", "threshold", es_json_real(pts[k].threshold), "fpr",
                       N ? es_json_real((double)pts[k].fp / (double)N) : json_null(), "tpr",
                       P ? es_json_real((double)pts[k].tp / (double)P) : json_null()));
    json_array_append_new(
        pr, json_pack("{s:o, s:o, s:o}", "threshold", es_json_real(pts[k].threshold),
                      "precision",
                      es_json_real((double)pts[k].tp / (double)(pts[k].tp + pts[k].fp)),
                      "recall", P ? es_json_real((double)pts[k].tp / (double)P) : json_null()));
  }
  for (int t = 1; t < 20; t++) {
    double th = (double)t / 20;
    uint64_t sent = 0, tp = 0;
    for (size_t i = 0; i < n; i++)
      if (score[i] >= th) {
        sent++;
        tp += pos[i];
      }
    json_array_append_new(
        table, json_pack("{s:o, s:o, s:o, s:o, s:I}", "threshold", es_json_real(th),
                         "precision", sent ? es_json_real((double)tp / (double)sent) : json_null(),
                         "recall", P ? es_json_real((double)tp / (double)P) : json_null(), "sent",
                         es_json_real((double)sent / (double)n), "sent_items", (json_int_t)sent));
  }
  out = json_pack("{s:s, s:I, s:I, s:o, s:o, s:o, s:o}", "positive",
                  r->o->labels->names[pos_class], "positives", (json_int_t)P, "negatives",
                  (json_int_t)N, "roc_auc", real_or_null(auc), "roc", roc, "pr", pr,
                  "thresholds", table);
cleanup:
  free(score);
  free(pos);
  free(order);
  free(pts);
  return out;
}

json_t *es__eval_metrics_json(const es__eval_run *r, es_error *err)
{
  size_t C = r->C, n = r->n;
  uint64_t *conf = calloc(C * C, sizeof *conf);
  es_class_metrics *per = calloc(C, sizeof *per);
  double *confidence = malloc(n * sizeof *confidence);
  uint8_t *correct = malloc(n);
  es_calib_bin bins[ES_EVAL_ECE_BINS];
  json_t *out = NULL;
  if (!conf || !per || !confidence || !correct) {
    es_error_set(err, ES_ENOMEM, "out of memory");
    goto cleanup;
  }
  uint64_t right = 0;
  for (size_t i = 0; i < n; i++) {
    const es__eval_pred *p = &r->preds[i];
    conf[p->truth * C + p->pred]++;
    correct[i] = p->pred == p->truth;
    confidence[i] = p->confidence;
    right += correct[i];
  }
  es_avg_metrics macro, weighted;
  double bal, lo, hi;
  es_class_metrics_compute(conf, C, per, &macro, &weighted, &bal);
  es_wilson_interval(right, n, Z95, &lo, &hi);
  double ece = es_ece(confidence, correct, n, ES_EVAL_ECE_BINS, bins);

  json_t *topk = json_array();
  static const size_t ks[] = {1, 2, 3, 5};
  for (size_t j = 0; j < sizeof ks / sizeof ks[0] && ks[j] <= C; j++) {
    uint64_t hit = 0;
    for (size_t i = 0; i < n; i++)
      hit += r->preds[i].truth_rank < ks[j];
    json_array_append_new(topk, json_pack("{s:I, s:o}", "k", (json_int_t)ks[j], "accuracy",
                                          es_json_real((double)hit / (double)n)));
  }
  json_t *pc = json_array(), *cm = json_array();
  for (size_t c = 0; c < C; c++) {
    json_array_append_new(
        pc, json_pack("{s:s, s:I, s:I, s:I, s:I, s:o, s:o, s:o}", "label",
                      r->o->labels->names[c], "index", (json_int_t)c, "support",
                      (json_int_t)per[c].support, "predicted", (json_int_t)per[c].predicted, "tp",
                      (json_int_t)per[c].tp, "precision", es_json_real(per[c].precision),
                      "recall", es_json_real(per[c].recall), "f1", es_json_real(per[c].f1)));
    json_t *row = json_array();
    for (size_t k = 0; k < C; k++)
      json_array_append_new(row, json_integer((json_int_t)conf[c * C + k]));
    json_array_append_new(cm, row);
  }
  json_t *rel = json_array();
  for (size_t b = 0; b < ES_EVAL_ECE_BINS; b++)
    json_array_append_new(
        rel, json_pack("{s:o, s:o, s:I, s:o, s:o}", "lo", es_json_real(bins[b].lo), "hi",
                       es_json_real(bins[b].hi), "count", (json_int_t)bins[b].count,
                       "confidence", bins[b].count ? es_json_real(bins[b].confidence) : json_null(),
                       "accuracy", bins[b].count ? es_json_real(bins[b].accuracy) : json_null()));
  json_t *binary = json_null();
  if (r->o->positive) {
    long pcls = es_vocab_find(r->o->labels, r->o->positive);
    json_decref(binary);
    binary = pcls >= 0 ? binary_json(r, (size_t)pcls) : NULL;
  }
  out = json_pack(
      "{s:I, s:I, s:o, s:{s:o, s:o}, s:o, s:o, s:o, s:{s:o, s:o, s:o}, s:{s:o, s:o, s:o}, "
      "s:o, s:{s:I, s:o, s:o}, s:o, s:o, s:o}",
      "items", (json_int_t)n, "correct", (json_int_t)right, "accuracy",
      es_json_real((double)right / (double)n), "accuracy_ci95", "lo", es_json_real(lo), "hi",
      es_json_real(hi), "balanced_accuracy", es_json_real(bal), "top_k", topk, "per_class", pc,
      "macro", "precision", es_json_real(macro.precision), "recall", es_json_real(macro.recall),
      "f1", es_json_real(macro.f1), "weighted", "precision", es_json_real(weighted.precision),
      "recall", es_json_real(weighted.recall), "f1", es_json_real(weighted.f1), "confusion", cm,
      "calibration", "bins", (json_int_t)ES_EVAL_ECE_BINS, "ece", real_or_null(ece),
      "reliability", rel, "per_device", by_group(r, 0, "device"), "per_batch",
      by_group(r, 1, "batch"), "binary", binary);
  if (!out)
    es_error_set(err, ES_ENOMEM, "out of memory building the metrics");
cleanup:
  free(conf);
  free(per);
  free(confidence);
  free(correct);
  return out;
}

/* ---- baseline ------------------------------------------------------------------------------ */

int es_eval_baseline_check(const json_t *doc, es_error *err)
{
  const char *schema = json_string_value(json_object_get(doc, "schema"));
  if (!json_is_object(doc) || !schema)
    return es_error_set(err, ES_EUSAGE, "not an edgeset-eval --json document (no \"schema\")");
  if (strcmp(schema, ES_EVAL_SCHEMA))
    return es_error_set(err, ES_EUSAGE, "schema '%s' is not '%s'", schema, ES_EVAL_SCHEMA);
  const json_t *m = json_object_get(doc, "metrics"), *preds = json_object_get(doc, "predictions");
  if (!json_is_object(m) || !json_is_number(json_object_get(m, "accuracy")) ||
      !json_is_array(json_object_get(m, "per_class")) || !json_is_array(preds))
    return es_error_set(err, ES_EUSAGE, "\"metrics\" or \"predictions\" is missing or malformed");
  for (size_t i = 0; i < json_array_size(preds); i++) {
    const json_t *p = json_array_get(preds, i);
    if (!json_is_string(json_object_get(p, "id")) ||
        !json_is_string(json_object_get(p, "predicted")))
      return es_error_set(err, ES_EUSAGE, "prediction %zu has no \"id\" or \"predicted\"", i);
  }
  return ES_OK;
}

typedef struct base_pred {
  const char *id, *predicted;
} base_pred;

static int cmp_base(const void *a, const void *b)
{
  return strcmp(((const base_pred *)a)->id, ((const base_pred *)b)->id);
}

static json_t *class_entry(const json_t *per_class, const char *label)
{
  for (size_t k = 0; k < json_array_size(per_class); k++) {
    const json_t *c = json_array_get(per_class, k);
    const char *l = json_string_value(json_object_get(c, "label"));
    if (l && !strcmp(l, label))
      return (json_t *)c;
  }
  return NULL;
}

static json_t *delta(const json_t *a, const json_t *b, const char *key)
{
  const json_t *x = json_object_get(a, key), *y = json_object_get(b, key);
  if (!json_is_number(x) || !json_is_number(y))
    return json_null();
  return es_json_real(json_number_value(x) - json_number_value(y));
}

json_t *es__eval_baseline_json(const es__eval_run *r, const json_t *metrics, es_error *err)
{
  const json_t *bdoc = r->o->baseline, *bm = json_object_get(bdoc, "metrics");
  const json_t *bp = json_object_get(bdoc, "predictions");
  size_t nb = json_array_size(bp);
  base_pred *v = calloc(nb ? nb : 1, sizeof *v);
  if (!v) {
    es_error_set(err, ES_ENOMEM, "out of memory");
    return NULL;
  }
  for (size_t i = 0; i < nb; i++) {
    const json_t *p = json_array_get(bp, i);
    v[i].id = json_string_value(json_object_get(p, "id"));
    v[i].predicted = json_string_value(json_object_get(p, "predicted"));
  }
  qsort(v, nb, sizeof *v, cmp_base);
  /* McNemar on the items both evaluated, judged against the current labels */
  uint64_t common = 0, both_right = 0, both_wrong = 0, model_only = 0, base_only = 0;
  for (size_t i = 0; i < r->n; i++) {
    base_pred key = {r->preds[i].it->id, NULL};
    const base_pred *hit = bsearch(&key, v, nb, sizeof *v, cmp_base);
    if (!hit)
      continue;
    common++;
    const char *truth = r->o->labels->names[r->preds[i].truth];
    int a = r->preds[i].pred == r->preds[i].truth, b = !strcmp(hit->predicted, truth);
    both_right += a && b;
    both_wrong += !a && !b;
    model_only += a && !b;
    base_only += !a && b;
  }
  free(v);
  const json_t *pc = json_object_get(metrics, "per_class"), *bpc = json_object_get(bm, "per_class");
  json_t *classes = json_array();
  for (size_t k = 0; k < json_array_size(pc); k++) {
    const json_t *c = json_array_get(pc, k);
    const char *label = json_string_value(json_object_get(c, "label"));
    const json_t *b = class_entry(bpc, label);
    json_array_append_new(
        classes, json_pack("{s:s, s:b, s:o, s:o, s:o, s:o}", "label", label, "in_baseline",
                           b != NULL, "precision_delta", b ? delta(c, b, "precision") : json_null(),
                           "recall_delta", b ? delta(c, b, "recall") : json_null(), "f1_delta",
                           b ? delta(c, b, "f1") : json_null(), "support_delta",
                           b ? json_integer(json_integer_value(json_object_get(c, "support")) -
                                            json_integer_value(json_object_get(b, "support")))
                             : json_null()));
  }
  const json_t *bmodel = json_object_get(bdoc, "model"), *bds = json_object_get(bdoc, "dataset");
  json_t *out = json_pack(
      "{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:{s:I, s:I, s:I, s:I, s:I, s:o}}", "model",
      json_is_string(json_object_get(bmodel, "hash")) ? json_copy(json_object_get(bmodel, "hash"))
                                                      : json_null(),
      "dataset_version",
      json_is_string(json_object_get(bds, "version")) ? json_copy(json_object_get(bds, "version"))
                                                      : json_null(),
      "accuracy", json_copy(json_object_get(bm, "accuracy")), "accuracy_delta",
      delta(metrics, bm, "accuracy"), "balanced_accuracy_delta",
      delta(metrics, bm, "balanced_accuracy"), "per_class", classes, "macro_f1_delta",
      delta(json_object_get(metrics, "macro"), json_object_get(bm, "macro"), "f1"), "mcnemar",
      "common", (json_int_t)common, "both_right", (json_int_t)both_right, "both_wrong",
      (json_int_t)both_wrong, "model_only", (json_int_t)model_only, "baseline_only",
      (json_int_t)base_only, "p_value", es_json_real(es_mcnemar_exact(model_only, base_only)));
  if (!out)
    es_error_set(err, ES_ENOMEM, "out of memory building the comparison");
  return out;
}
