/* Dataset evaluation: selects the split's items from the manifest (augmented ones left out,
 * every label checked against the vocabulary), runs one inference per item on o->jobs threads
 * (each with its own interpreter; results are stored per item, so nothing depends on the
 * thread count), then assembles the document: dataset and model facts, metrics, baseline
 * comparison, gates, the held-out set's use count from the ledger, and the predictions. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/hash.h"
#include "core/json.h"
#include "core/show.h"
#include "eval/dataset_internal.h"
#include "eval/eval.h"
#include "formats/index.h"
#include "formats/path_escape.h"

void es_eval_gates_none(es_eval_gates *g)
{
  g->min_accuracy = g->min_balanced_accuracy = g->min_class_recall = NAN;
  g->max_ece = g->max_drop = NAN;
  g->no_significant_regression = false;
}

void es_eval_outcome_free(es_eval_outcome *o)
{
  if (!o)
    return;
  json_decref(o->doc);
  for (size_t i = 0; i < o->n_thumbs; i++)
    free(o->thumbs[i].png);
  free(o->thumbs);
  es_label_problems_free(&o->problems);
  memset(o, 0, sizeof *o);
}

static int is_augmented(const es_item *it)
{
  json_t *d = it->extra ? json_object_get(it->extra, "derived_from") : NULL;
  return d && !json_is_null(d);
}

/* Items of the split in manifest order; unusable labels are listed in probs. */
static int select_items(const es_manifest *m, const es_eval_run_opts *o, es__eval_run *r,
                        es_label_problems *probs, es_error *err)
{
  r->preds = calloc(m->n ? m->n : 1, sizeof *r->preds);
  if (!r->preds)
    return es_error_set(err, ES_ENOMEM, "out of memory");
  size_t bad = 0;
  for (size_t i = 0; i < m->n; i++) {
    const es_item *it = &m->items[i];
    if (!it->split || strcmp(it->split, o->split))
      continue;
    if (is_augmented(it)) {
      r->augmented++;
      continue;
    }
    long k = it->label ? es_vocab_find(o->labels, it->label) : -1;
    if (k >= 0) {
      r->preds[r->n].it = it;
      r->preds[r->n].truth = (size_t)k;
      r->n++;
      continue;
    }
    bad++;
    es_error e = {0};
    char *path = it->n_seen ? es_path_escape(it->seen[0].path, &e) : NULL;
    int rc = it->label ? es_label_problems_add(probs, err, "item %s ('%s'): label '%s' is not in '%s'",
                                 it->id, es_show(path ? path : ""), es_show(it->label),
                                 es_show(o->labels_path))
                       : es_label_problems_add(probs, err, "item %s ('%s'): no label", it->id,
                                 es_show(path ? path : ""));
    free(path);
    if (rc)
      return rc;
  }
  if (bad)
    return es_error_set(err, ES_EUSAGE,
                        "%zu item%s of split '%s' %s no label from the vocabulary '%s'", bad,
                        bad == 1 ? "" : "s", o->split, bad == 1 ? "has" : "have",
                        o->labels_path);
  return ES_OK;
}

/* The dataset version: XXH3-128 of the evaluated ids, one per line, in id order. */
static int split_version(es__eval_run *r, es_error *err)
{
  char *ids = malloc(r->n * (ES_ID_HEX + 1) + 1);
  if (!ids)
    return es_error_set(err, ES_ENOMEM, "out of memory");
  for (size_t i = 0; i < r->n; i++) {
    memcpy(ids + i * (ES_ID_HEX + 1), r->preds[i].it->id, ES_ID_HEX);
    ids[i * (ES_ID_HEX + 1) + ES_ID_HEX] = '\n';
  }
  es_hash_hex(ids, r->n * (ES_ID_HEX + 1), r->version);
  free(ids);
  return ES_OK;
}

/* Output values to probabilities: a softmax output is used as it is, scores go through a
 * softmax (in double, largest subtracted first). */
static void to_probabilities(double *v, size_t C, bool softmax)
{
  if (softmax)
    return;
  double mx = v[0], sum = 0;
  for (size_t k = 1; k < C; k++)
    mx = v[k] > mx ? v[k] : mx;
  for (size_t k = 0; k < C; k++) {
    v[k] = exp(v[k] - mx);
    sum += v[k];
  }
  for (size_t k = 0; k < C; k++)
    v[k] /= sum;
}

typedef struct item_result {
  int code;
  char *msg;
} item_result;

static void run_one(const es_store *st, const es_classifier *c, es_interp *ip, es__eval_run *r,
                    size_t i, item_result *res)
{
  es_error e = {0};
  uint8_t *buf = NULL;
  size_t len = 0;
  es__eval_pred *p = &r->preds[i];
  double *v = r->probs + i * r->C;
  int rc = es_item_read_bytes(st, p->it, &buf, &len, &e);
  if (rc == ES_OK && (rc = es_classifier_run(c, ip, buf, len, v, &e)))
    es_error_prefix(&e, "cannot classify item %s", p->it->id);
  free(buf);
  if (rc) {
    res->code = rc;
    res->msg = strdup(e.msg);
    return;
  }
  to_probabilities(v, r->C, r->softmax);
  size_t best = 0, rank = 0;
  for (size_t k = 1; k < r->C; k++)
    if (v[k] > v[best])
      best = k;
  for (size_t k = 0; k < r->C; k++)
    if (v[k] > v[p->truth] || (v[k] == v[p->truth] && k < p->truth))
      rank++;
  p->pred = best;
  p->truth_rank = rank;
  p->confidence = v[best];
}

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Median host latency of one inference in milliseconds (input as the last item left it). */
static double measure_latency(es_interp *ip)
{
  double t[9];
  es_error e = {0};
  for (int k = 0; k < 9; k++) {
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    if (es_interp_invoke(ip, &e))
      return NAN;
    clock_gettime(CLOCK_MONOTONIC, &b);
    t[k] = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
  }
  qsort(t, 9, sizeof t[0], cmp_double);
  return t[4];
}

static int run_items(const es_store *st, const es_model *m, const es_classifier *c,
                     es__eval_run *r, es_error *err)
{
  int jobs = r->o->jobs > 0 ? r->o->jobs : 1;
  if ((size_t)jobs > r->n)
    jobs = r->n ? (int)r->n : 1;
  es_interp **ips = calloc((size_t)jobs, sizeof *ips);
  item_result *res = calloc(r->n ? r->n : 1, sizeof *res);
  int rc = ES_OK;
  if (!ips || !res) {
    rc = es_error_set(err, ES_ENOMEM, "out of memory");
    goto cleanup;
  }
  if ((rc = es_interp_new(m, NULL, &ips[0], err)))
    goto cleanup;
  for (int t = 1; t < jobs; t++)
    if ((rc = es_interp_clone(ips[0], &ips[t], err)))
      goto cleanup;
#pragma omp parallel for schedule(dynamic, 4) num_threads(jobs)
  for (size_t i = 0; i < r->n; i++)
    run_one(st, c, ips[omp_get_thread_num()], r, i, &res[i]);
  for (size_t i = 0; i < r->n; i++)
    if (res[i].code) { /* the first failure in item order, whatever the thread count */
      rc = es_error_set(err, res[i].code, "%s", res[i].msg ? res[i].msg : "out of memory");
      goto cleanup;
    }
  r->latency_ms = r->o->measure_latency && r->n ? measure_latency(ips[0]) : NAN;
cleanup:
  for (size_t i = 0; res && i < r->n; i++)
    free(res[i].msg);
  free(res);
  for (int t = 0; ips && t < jobs; t++)
    es_interp_free(ips[t]);
  free(ips);
  return rc;
}

/* ---- the ledger: how many models has this held-out split compared? ------------------------- */

typedef struct ledger_scan {
  const char *split;
  char (*models)[33];
  size_t n, cap;
  int oom;
} ledger_scan;

static void scan_add(ledger_scan *s, const char *hash)
{
  for (size_t i = 0; i < s->n; i++)
    if (!strcmp(s->models[i], hash))
      return;
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 8;
    char(*q)[33] = realloc(s->models, cap * sizeof *q);
    if (!q) {
      s->oom = 1;
      return;
    }
    s->models = q;
    s->cap = cap;
  }
  snprintf(s->models[s->n++], 33, "%s", hash);
}

static int scan_record(const json_t *rec, void *ctx, es_error *err)
{
  (void)err;
  ledger_scan *s = ctx;
  const char *type = json_string_value(json_object_get(rec, "type"));
  const char *split = json_string_value(json_object_get(rec, "split"));
  const char *model = json_string_value(json_object_get(rec, "model"));
  if (type && split && model && !strcmp(type, "eval") && !strcmp(split, s->split) &&
      strlen(model) == 32)
    scan_add(s, model);
  return ES_OK;
}

static json_t *ledger_record(const es__eval_run *r, const char *when, const json_t *metrics)
{
  json_t *m = json_object();
  json_object_set(m, "items", json_object_get(metrics, "items"));
  json_object_set(m, "accuracy", json_object_get(metrics, "accuracy"));
  json_object_set(m, "balanced_accuracy", json_object_get(metrics, "balanced_accuracy"));
  json_object_set(m, "macro_f1", json_object_get(json_object_get(metrics, "macro"), "f1"));
  json_object_set(m, "ece", json_object_get(json_object_get(metrics, "calibration"), "ece"));
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s?, s:o}", "type", "eval", "time", when,
                   "split", r->o->split, "dataset_version", r->version, "model", r->model_hash,
                   "model_path", r->o->model_path, "metrics", m);
}

/* Reads (and, when recording, appends to) the ledger under the lock; fills test_set. */
static int test_set_use(es_store *st, const es__eval_run *r, const char *when,
                        const json_t *metrics, json_t *test_set, bool *warn, es_error *err)
{
  ledger_scan s = {.split = r->o->split};
  int rc = ES_OK, locked = 0;
  json_t *rec = NULL;
  if (r->o->record) {
    if ((rc = es_store_lock(st, 1, err)))
      goto cleanup;
    locked = 1;
  }
  if ((rc = es_store_read_jsonl(st, "ledger.jsonl", scan_record, &s, err)))
    goto cleanup;
  scan_add(&s, r->model_hash);
  if (s.oom) {
    rc = es_error_set(err, ES_ENOMEM, "out of memory");
    goto cleanup;
  }
  if (r->o->record) {
    rec = ledger_record(r, when, metrics);
    if (!rec) {
      rc = es_error_set(err, ES_ENOMEM, "out of memory");
      goto cleanup;
    }
    if ((rc = es_store_append(st, "ledger.jsonl", rec, err)))
      goto cleanup;
  }
  *warn = s.n > r->o->reuse_limit;
  json_object_set_new(test_set, "models_compared", json_integer((json_int_t)s.n));
  json_object_set_new(test_set, "limit", json_integer((json_int_t)r->o->reuse_limit));
  json_object_set_new(test_set, "recorded", json_boolean(r->o->record));
  json_object_set_new(
      test_set, "warning",
      *warn ? json_sprintf("the held-out split '%s' has been used to compare %zu models (more "
                           "than %zu): choosing a model by it overfits the test set; confirm "
                           "on a fresh held-out split",
                           r->o->split, s.n, r->o->reuse_limit)
            : json_null());
cleanup:
  if (locked)
    es_store_unlock(st);
  json_decref(rec);
  free(s.models);
  return rc;
}

/* ---- gates ---------------------------------------------------------------------------------- */

static void gate(json_t *checks, const char *name, double limit, double value, bool at_least,
                 bool *failed)
{
  bool ok = at_least ? value >= limit : value <= limit;
  if (isnan(value))
    ok = false;
  *failed |= !ok;
  json_array_append_new(checks, json_pack("{s:s, s:o, s:o, s:b}", "gate", name, "limit",
                                          es_json_real(limit), "value",
                                          isnan(value) ? json_null() : es_json_real(value),
                                          "passed", ok));
}

static double num(const json_t *o, const char *k)
{
  const json_t *v = json_object_get(o, k);
  return json_is_number(v) ? json_number_value(v) : NAN;
}

static json_t *gates_json(const es_eval_gates *g, const json_t *metrics, const json_t *base,
                          bool *failed)
{
  json_t *checks = json_array();
  *failed = false;
  if (!isnan(g->min_accuracy))
    gate(checks, "min-accuracy", g->min_accuracy, num(metrics, "accuracy"), true, failed);
  if (!isnan(g->min_balanced_accuracy))
    gate(checks, "min-balanced-accuracy", g->min_balanced_accuracy,
         num(metrics, "balanced_accuracy"), true, failed);
  if (!isnan(g->min_class_recall)) {
    double worst = INFINITY;
    const json_t *pc = json_object_get(metrics, "per_class");
    for (size_t k = 0; k < json_array_size(pc); k++) {
      const json_t *c = json_array_get(pc, k);
      if (num(c, "support") > 0 && num(c, "recall") < worst)
        worst = num(c, "recall");
    }
    gate(checks, "min-class-recall", g->min_class_recall, isinf(worst) ? NAN : worst, true,
         failed);
  }
  if (!isnan(g->max_ece))
    gate(checks, "max-ece", g->max_ece, num(json_object_get(metrics, "calibration"), "ece"),
         false, failed);
  if (!isnan(g->max_drop))
    gate(checks, "max-drop", g->max_drop, base ? -num(base, "accuracy_delta") : NAN, false,
         failed);
  if (g->no_significant_regression) {
    const json_t *mc = json_object_get(base, "mcnemar");
    double p = num(mc, "p_value");
    bool worse = num(mc, "baseline_only") > num(mc, "model_only");
    double v = !base ? NAN : worse ? p : 1.0;
    gate(checks, "no-significant-regression", 0.05, v, true, failed);
  }
  return json_pack("{s:b, s:s, s:o}", "passed", !*failed, "verdict", *failed ? "fail" : "pass",
                   "checks", checks);
}

/* ---- the document --------------------------------------------------------------------------- */

static json_t *model_json(const es__eval_run *r, const es_model *m, const es_classifier *c)
{
  es_model_info info;
  es_model_info_get(m, &info);
  json_t *ops = json_object();
  for (size_t i = 0; i < info.n_ops; i++) {
    es_op_info oi;
    es_model_op_info(m, i, &oi);
    json_t *cnt = json_object_get(ops, oi.name);
    json_object_set_new(ops, oi.name, json_integer(cnt ? json_integer_value(cnt) + 1 : 1));
  }
  char pp[256];
  es_preprocess_format(es_classifier_preprocess(c), pp, sizeof pp);
  return json_pack("{s:s?, s:s, s:I, s:o, s:I, s:I, s:I, s:I, s:o, s:s, s:s}", "path",
                   r->o->model_path, "hash", r->model_hash, "operators", (json_int_t)info.n_ops,
                   "ops", ops, "params", (json_int_t)info.params, "macs",
                   (json_int_t)info.macs, "flash_bytes", (json_int_t)info.flash_bytes,
                   "arena_bytes", (json_int_t)info.arena_bytes, "host_latency_ms",
                   isnan(r->latency_ms) ? json_null() : es_json_real(r->latency_ms), "output",
                   r->softmax ? "probabilities" : "scores", "preprocess_resolved", pp);
}

static json_t *predictions_json(const es__eval_run *r)
{
  json_t *a = json_array();
  for (size_t i = 0; i < r->n; i++) {
    const es__eval_pred *p = &r->preds[i];
    const es_occurrence *o = p->it->n_seen ? &p->it->seen[0] : NULL;
    es_error e = {0};
    char *path = o ? es_path_escape(o->path, &e) : NULL;
    json_t *probs = json_array();
    for (size_t k = 0; k < r->C; k++)
      json_array_append_new(probs, es_json_real(r->probs[i * r->C + k]));
    json_array_append_new(
        a, json_pack("{s:s, s:o, s:s, s:s, s:b, s:o, s:I, s:o, s:o, s:o}", "id", p->it->id,
                     "path", path ? json_string(path) : json_null(), "label",
                     r->o->labels->names[p->truth], "predicted", r->o->labels->names[p->pred],
                     "correct", p->pred == p->truth, "confidence", es_json_real(p->confidence),
                     "truth_rank", (json_int_t)p->truth_rank, "device",
                     o && o->device ? json_string(o->device) : json_null(), "batch",
                     o && o->batch ? json_string(o->batch) : json_null(), "probabilities",
                     probs));
    free(path);
  }
  return a;
}

/* The gallery: mistakes by confidence descending (ties by id), thumbnails of the first few. */
static int make_thumbs(const es_store *st, const es__eval_run *r, es_eval_outcome *out,
                       es_error *err)
{
  size_t cap = r->o->gallery, n = 0;
  if (!cap)
    return ES_OK;
  size_t *pick = calloc(cap, sizeof *pick);
  if (!pick)
    return es_error_set(err, ES_ENOMEM, "out of memory");
  for (size_t i = 0; i < r->n; i++) {
    const es__eval_pred *p = &r->preds[i];
    if (p->pred == p->truth)
      continue;
    /* insertion into the top `cap` by confidence; items arrive in id order, so equal
     * confidences keep id order */
    size_t pos = n;
    while (pos > 0 && p->confidence > r->preds[pick[pos - 1]].confidence)
      pos--;
    if (pos >= cap)
      continue;
    size_t last = n < cap ? n : cap - 1;
    for (size_t j = last; j > pos; j--)
      pick[j] = pick[j - 1];
    pick[pos] = i;
    if (n < cap)
      n++;
  }
  int rc = ES_OK;
  out->thumbs = calloc(n ? n : 1, sizeof *out->thumbs);
  if (!out->thumbs) {
    free(pick);
    return es_error_set(err, ES_ENOMEM, "out of memory");
  }
  for (size_t k = 0; k < n && rc == ES_OK; k++) {
    const es_item *it = r->preds[pick[k]].it;
    uint8_t *buf = NULL;
    size_t len = 0;
    es_eval_thumb *t = &out->thumbs[out->n_thumbs];
    rc = es_item_read_bytes(st, it, &buf, &len, err);
    if (rc == ES_OK)
      rc = es__eval_thumbnail(buf, len, 96, &t->png, &t->len, err);
    free(buf);
    if (rc == ES_OK) {
      snprintf(t->id, sizeof t->id, "%s", it->id);
      out->n_thumbs++;
    }
  }
  free(pick);
  return rc;
}

int es_eval_dataset(es_store *st, const es_model *m, const es_classifier *c,
                    const es_eval_run_opts *o, es_eval_outcome *out, es_error *err)
{
  memset(out, 0, sizeof *out);
  es__eval_run r = {.o = o, .C = es_classifier_classes(c), .softmax = es_classifier_is_softmax(c),
                    .latency_ms = NAN};
  es_manifest man = {0};
  es_index ix = {0};
  json_t *doc = NULL, *metrics = NULL;
  int rc;
  char when[32];
  es_store_now(when);
  es_hash_hex(o->model_bytes, o->model_len, r.model_hash);
  if (o->labels->n != r.C)
    return es_error_set(err, ES_EUSAGE, "'%s' has %zu label%s but the model's output has %zu "
                        "classes", o->labels_path, o->labels->n, o->labels->n == 1 ? "" : "s",
                        r.C);
  if (o->positive) {
    if (r.C != 2)
      return es_error_set(err, ES_EUSAGE, "--positive needs a two-class model; this one has "
                          "%zu classes", r.C);
    if (es_vocab_find(o->labels, o->positive) < 0)
      return es_error_set(err, ES_EUSAGE, "--positive '%s' is not a class of '%s'",
                          o->positive, o->labels_path);
  }
  if (o->baseline && (rc = es_eval_baseline_check(o->baseline, err))) {
    es_error_prefix(err, "baseline '%s'", o->baseline_path);
    return rc;
  }
  if ((rc = es_index_load(st, &man, &ix, NULL, err))) {
    if (rc == ES_EFORMAT) /* a damaged manifest is a failure (3), not an unusable argument (2) */
      rc = ES_EIO;
    goto cleanup;
  }
  if ((rc = select_items(&man, o, &r, &out->problems, err)))
    goto cleanup;
  if (r.n == 0) {
    rc = es_error_set(err, ES_EUSAGE, "split '%s' of '%s' has no items to evaluate%s", o->split,
                      o->dataset, r.augmented ? " (only augmented ones)" : "");
    goto cleanup;
  }
  if ((rc = split_version(&r, err)))
    goto cleanup;
  if (r.n > SIZE_MAX / sizeof(double) / r.C) {
    rc = es_error_set(err, ES_ENOMEM, "out of memory");
    goto cleanup;
  }
  r.probs = calloc(r.n * r.C, sizeof *r.probs);
  if (!r.probs) {
    rc = es_error_set(err, ES_ENOMEM, "out of memory");
    goto cleanup;
  }
  if ((rc = run_items(st, m, c, &r, err)))
    goto cleanup;
  if (!(metrics = es__eval_metrics_json(&r, err))) {
    rc = err && err->code ? err->code : ES_ENOMEM;
    goto cleanup;
  }
  json_t *labels = json_array();
  for (size_t k = 0; k < r.C; k++)
    json_array_append_new(labels, json_string(o->labels->names[k]));
  char pp_given[256];
  es_preprocess given;
  if (es_preprocess_parse(o->preprocess, &given, NULL))
    es_preprocess_default(&given);
  es_preprocess_format(&given, pp_given, sizeof pp_given);
  bool held_out = !strncmp(o->split, "test", 4);
  json_t *dataset = json_pack("{s:s?, s:s, s:s, s:I, s:I, s:b}", "path", o->dataset, "split",
                              o->split, "version", r.version, "items", (json_int_t)r.n,
                              "augmented_left_out", (json_int_t)r.augmented, "held_out",
                              held_out);
  doc = json_pack("{s:s, s:s, s:o, s:o, s:s, s:s?, s:o, s:o}", "schema", ES_EVAL_SCHEMA, "time",
                  when, "dataset", dataset, "model", model_json(&r, m, c), "preprocess",
                  pp_given, "labels_file", o->labels_path, "labels", labels, "metrics",
                  metrics);
  metrics = NULL; /* owned by doc */
  if (!doc) {
    rc = es_error_set(err, ES_ENOMEM, "out of memory");
    goto cleanup;
  }
  json_t *mj = json_object_get(doc, "metrics");
  json_t *base = NULL;
  if (o->baseline) {
    if (!(base = es__eval_baseline_json(&r, mj, err))) {
      rc = err && err->code ? err->code : ES_ENOMEM;
      goto cleanup;
    }
    json_object_set_new(base, "path", json_string(o->baseline_path));
    json_object_set_new(doc, "baseline", base);
  }
  json_object_set_new(doc, "gates", gates_json(&o->gates, mj, base, &out->gates_failed));
  json_t *test_set = json_object();
  json_object_set_new(doc, "test_set", test_set);
  if (held_out) {
    if ((rc = test_set_use(st, &r, when, mj, test_set, &out->overfit_warning, err)))
      goto cleanup;
  } else {
    json_object_set_new(test_set, "models_compared", json_null());
    json_object_set_new(test_set, "limit", json_integer((json_int_t)o->reuse_limit));
    json_object_set_new(test_set, "recorded", json_false());
    json_object_set_new(test_set, "warning", json_null());
  }
  json_object_set_new(doc, "predictions", predictions_json(&r));
  if ((rc = make_thumbs(st, &r, out, err)))
    goto cleanup;
  out->doc = doc;
  doc = NULL;
cleanup:
  json_decref(doc);
  json_decref(metrics);
  free(r.preds);
  free(r.probs);
  es_index_free(&ix);
  es_manifest_free(&man);
  return rc;
}
