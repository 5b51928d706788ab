/* edgeset-eval -d DIR end to end: a dataset collected from coloured PPMs (two cameras and a
 * folder whose name makes the path contain `</script>`), labels (with `<`, quotes and `&`) and
 * splits set in the manifest, models from the TFLite writer. Checks the JSON document against
 * its own predictions, augmented items left out, identical results for any -j, gates and exit
 * statuses, unknown labels, the ledger and the test-reuse warning, the baseline comparison with
 * McNemar, the two-class view, and the HTML report in headless Chromium. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evalds.h"
#include "testutil.h"

static const char *const LABELS[3] = {"red<script>", "green \"q\" 'x'", "blue&amp;"};

typedef struct fixture {
  char *root, *ds, *labels, *model;
} fixture;

/* 30 pictures: item i has class i % 3 and its channel dominates, except every fifth, whose
 * colour leans to the next class (a mistake). i % 4 == 3 goes to train, the rest to test; one
 * test item is marked augmented. Camera A has items 0..14, camera B the rest, and two of B's
 * files, both mistakes, have hostile names. */
static void make(fixture *fx)
{
  setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
  fx->root = tu_tmpdir();
  fx->ds = du_fmt("%s/ds", fx->root);
  for (int i = 0; i < 30; i++) {
    const char *cam = i < 15 ? "camA" : i == 20 ? "camB/x<" : "camB/cam B";
    char *dir = du_fmt("%s/in/%s", fx->root, cam);
    du_mkdirs(dir);
    char *path = i == 20   ? du_fmt("%s/script>.ppm", dir)
                 : i == 25 ? du_fmt("%s/a<b \"q\".ppm", dir)
                           : du_fmt("%s/img_%02d.ppm", dir, i);
    int c = i % 3, rgb[3] = {50, 50, 50};
    if (i % 5 == 0) {
      rgb[c] = 150;
      rgb[(c + 1) % 3] = 170;
    } else {
      rgb[c] = 200 - (i % 7) * 10;
    }
    ed_ppm(path, rgb[0], rgb[1], rgb[2], (unsigned)i + 1);
    free(path);
    free(dir);
  }
  char *a = du_fmt("%s/in/camA", fx->root), *b = du_fmt("%s/in/camB", fx->root);
  cr_assert_eq(du_run(NULL, NULL, "edgeset-collect", "-d", fx->ds, "--batch", "b1",
                      "--device-from", "dir:1", "-q", a, NULL),
               0);
  cr_assert_eq(du_run(NULL, NULL, "edgeset-collect", "-d", fx->ds, "--batch", "b2",
                      "--device-from", "dir:1", "-q", b, NULL),
               0);
  json_t *items = ed_manifest(fx->ds);
  cr_assert_eq(json_array_size(items), 30);
  for (int i = 0; i < 30; i++) {
    char *suffix = i == 20 ? strdup("x</script>.ppm")
                   : i == 25 ? strdup("a<b \"q\".ppm")
                             : du_fmt("img_%02d.ppm", i);
    json_t *it = du_item_by_src(items, suffix);
    cr_assert(it, "no item for %s", suffix);
    json_object_set_new(it, "label", json_string(LABELS[i % 3]));
    json_object_set_new(it, "split", json_string(i % 4 == 3 ? "train" : "test"));
    if (i == 1)
      json_object_set_new(it, "derived_from", json_string("0123456789abcdef0123456789abcdef"));
    free(suffix);
  }
  ed_manifest_write(fx->ds, items);
  json_decref(items);
  fx->labels = du_fmt("%s/labels.txt", fx->ds);
  char *text = du_fmt("%s\n%s\n%s\n", LABELS[0], LABELS[1], LABELS[2]);
  du_put(fx->labels, text);
  fx->model = ed_model(fx->root, "m.tflite", 3, true, 0);
  free(text);
  free(a);
  free(b);
}

static void unmake(fixture *fx)
{
  if (getenv("EDGESET_TEST_KEEP")) /* for looking at a failing run by hand */
    cr_log_warn("kept %s", fx->root);
  char *cmd = getenv("EDGESET_TEST_KEEP") ? strdup("true") : NULL;
  if (cmd) {
    free(cmd);
    free(fx->root);
    free(fx->ds);
    free(fx->labels);
    free(fx->model);
    return;
  }
  cmd = du_fmt("rm -rf '%s'", fx->root);
  cr_expect_eq(system(cmd), 0);
  free(cmd);
  free(fx->root);
  free(fx->ds);
  free(fx->labels);
  free(fx->model);
}

static json_t *run_json(int want, const char *ds, const char *model, const char *const *extra)
{
  char *bin = tu_bin("edgeset-eval");
  const char *argv[40] = {bin, "-d", ds, "--model", model, "--json"};
  size_t n = 6;
  for (; extra && *extra; extra++)
    argv[n++] = *extra;
  argv[n] = NULL;
  char *out = NULL, *err = NULL;
  int st = tu_run((char *const *)argv, NULL, &out, &err);
  cr_assert_eq(st, want, "exit %d, stderr: %s", st, err);
  json_error_t je;
  json_t *doc = json_loads(out, 0, &je);
  cr_assert(doc, "bad JSON (%s): %s", je.text, out);
  free(out);
  free(err);
  free(bin);
  return doc;
}

static const json_t *jget(const json_t *o, const char *path)
{
  char key[64];
  while (o && *path) {
    const char *dot = strchr(path, '.');
    size_t n = dot ? (size_t)(dot - path) : strlen(path);
    memcpy(key, path, n);
    key[n] = '\0';
    o = json_object_get(o, key);
    path += n + (dot ? 1 : 0);
  }
  return o;
}

static double jnum(const json_t *o, const char *path)
{
  const json_t *v = jget(o, path);
  cr_assert(json_is_number(v), "no number at %s", path);
  return json_number_value(v);
}

Test(eval_dataset, document_agrees_with_its_predictions)
{
  fixture fx;
  make(&fx);
  const char *extra[] = {"--dry-run", NULL};
  json_t *doc = run_json(0, fx.ds, fx.model, extra);
  cr_expect_str_eq(json_string_value(jget(doc, "schema")), "edgeset-eval-metrics/1");
  cr_expect_str_eq(json_string_value(jget(doc, "time")), "2023-11-14T22:13:20Z");
  /* 30 items: 7 in train (3, 7, 11, 15, 19, 23, 27), item 1 augmented: 22 evaluated */
  cr_expect_eq(jnum(doc, "dataset.items"), 22);
  cr_expect_eq(jnum(doc, "dataset.augmented_left_out"), 1);
  cr_expect_str_eq(json_string_value(jget(doc, "dataset.split")), "test");
  const json_t *preds = jget(doc, "predictions");
  cr_assert_eq(json_array_size(preds), 22);
  size_t right = 0, conf[3][3] = {{0}};
  for (size_t i = 0; i < 22; i++) {
    const json_t *p = json_array_get(preds, i);
    const char *t = json_string_value(json_object_get(p, "label"));
    const char *q = json_string_value(json_object_get(p, "predicted"));
    size_t ti = 3, qi = 3;
    for (size_t k = 0; k < 3; k++) {
      if (!strcmp(t, LABELS[k]))
        ti = k;
      if (!strcmp(q, LABELS[k]))
        qi = k;
    }
    cr_assert(ti < 3 && qi < 3);
    conf[ti][qi]++;
    right += ti == qi;
    cr_expect_eq(json_is_true(json_object_get(p, "correct")), ti == qi);
    /* confidence is the largest probability */
    const json_t *pr = json_object_get(p, "probabilities");
    double mx = 0;
    for (size_t k = 0; k < 3; k++)
      mx = fmax(mx, json_number_value(json_array_get(pr, k)));
    cr_expect_float_eq(jnum(p, "confidence"), mx, 1e-12);
  }
  /* the every-fifth pictures in test (0, 5, 10, 20, 25) lean to the next class */
  cr_expect_eq(right, 17, "right %zu", right);
  cr_expect_eq(jnum(doc, "metrics.correct"), (double)right);
  cr_expect_float_eq(jnum(doc, "metrics.accuracy"), 17.0 / 22, 1e-6);
  const json_t *cm = jget(doc, "metrics.confusion");
  for (size_t r = 0; r < 3; r++)
    for (size_t c = 0; c < 3; c++)
      cr_expect_eq(json_integer_value(json_array_get(json_array_get(cm, r), c)),
                   (json_int_t)conf[r][c], "confusion %zu %zu", r, c);
  const json_t *pc = jget(doc, "metrics.per_class");
  double bal = 0;
  for (size_t k = 0; k < 3; k++) {
    const json_t *c = json_array_get(pc, k);
    size_t sup = conf[k][0] + conf[k][1] + conf[k][2], pred = conf[0][k] + conf[1][k] + conf[2][k];
    cr_expect_str_eq(json_string_value(json_object_get(c, "label")), LABELS[k]);
    cr_expect_eq(jnum(c, "support"), (double)sup);
    cr_expect_float_eq(jnum(c, "recall"), (double)conf[k][k] / (double)sup, 1e-6);
    cr_expect_float_eq(jnum(c, "precision"), pred ? (double)conf[k][k] / (double)pred : 0, 1e-6);
    bal += (double)conf[k][k] / (double)sup / 3;
  }
  cr_expect_float_eq(jnum(doc, "metrics.balanced_accuracy"), bal, 1e-6);
  /* per device: camA, "cam B", "x<" (sorted bytewise) */
  const json_t *dev = jget(doc, "metrics.per_device");
  cr_assert_eq(json_array_size(dev), 3);
  cr_expect_str_eq(json_string_value(jget(json_array_get(dev, 0), "device")), "cam B");
  cr_expect_str_eq(json_string_value(jget(json_array_get(dev, 2), "device")), "x<");
  double items = 0;
  for (size_t k = 0; k < 3; k++)
    items += jnum(json_array_get(dev, k), "items");
  cr_expect_eq(items, 22);
  cr_expect_eq(json_array_size(jget(doc, "metrics.per_batch")), 2);
  cr_expect_eq(json_array_size(jget(doc, "metrics.calibration.reliability")), 15);
  cr_expect(json_is_null(jget(doc, "metrics.binary")));
  cr_expect_str_eq(json_string_value(jget(doc, "gates.verdict")), "pass");
  json_decref(doc);
  unmake(&fx);
}

static int run_status(char **err, const char *ds, const char *model, const char *const *extra)
{
  char *bin = tu_bin("edgeset-eval");
  const char *argv[40] = {bin, "-d", ds, "--model", model, "-q"};
  size_t n = 6;
  for (; extra && *extra; extra++)
    argv[n++] = *extra;
  argv[n] = NULL;
  int st = tu_run((char *const *)argv, NULL, NULL, err);
  free(bin);
  return st;
}

Test(eval_dataset, identical_for_any_jobs)
{
  fixture fx;
  make(&fx);
  char *first = NULL;
  static const char *const jobs[] = {"1", "2", "3", "8"};
  for (size_t k = 0; k < 4; k++) {
    const char *extra[] = {"--dry-run", "-j", jobs[k], NULL};
    json_t *doc = run_json(0, fx.ds, fx.model, extra);
    json_object_del(json_object_get(doc, "model"), "host_latency_ms"); /* a timing */
    char *s = json_dumps(doc, JSON_SORT_KEYS | JSON_REAL_PRECISION(6));
    if (!first)
      first = s;
    else {
      cr_expect_str_eq(s, first, "-j %s differs", jobs[k]);
      free(s);
    }
    json_decref(doc);
  }
  free(first);
  unmake(&fx);
}

Test(eval_dataset, gates_and_exit_statuses)
{
  fixture fx;
  make(&fx);
  char *err = NULL;
  const char *pass[] = {"--dry-run", "--min-accuracy", "0.75", "--max-ece", "0.5", NULL};
  cr_expect_eq(run_status(&err, fx.ds, fx.model, pass), 0, "%s", err);
  free(err);
  const char *fail[] = {"--dry-run", "--min-accuracy", "0.8", NULL};
  cr_expect_eq(run_status(&err, fx.ds, fx.model, fail), 1, "%s", err);
  cr_expect(strstr(err, "a gate failed"), "%s", err);
  free(err);
  const char *rec[] = {"--dry-run", "--min-class-recall", "0.75", NULL}; /* green: 5/7 */
  cr_expect_eq(run_status(&err, fx.ds, fx.model, rec), 1, "%s", err);
  free(err);
  const char *bal[] = {"--dry-run", "--min-balanced-accuracy", "0.77", NULL};
  cr_expect_eq(run_status(&err, fx.ds, fx.model, bal), 0, "%s", err);
  free(err);
  const char *fail_json[] = {"--dry-run", "--min-accuracy", "0.9", NULL};
  json_t *doc = run_json(1, fx.ds, fx.model, fail_json);
  const json_t *chk = json_array_get(jget(doc, "gates.checks"), 0);
  cr_expect_str_eq(json_string_value(json_object_get(chk, "gate")), "min-accuracy");
  cr_expect(json_is_false(json_object_get(chk, "passed")));
  cr_expect_str_eq(json_string_value(jget(doc, "gates.verdict")), "fail");
  json_decref(doc);
  /* bad usage: 2 */
  const char *bad1[] = {"--min-accuracy", "1.5", NULL};
  cr_expect_eq(run_status(&err, fx.ds, fx.model, bad1), 2);
  cr_expect(strstr(err, "--min-accuracy '1.5'"), "%s", err);
  free(err);
  const char *bad2[] = {"--max-drop", "0.1", NULL};
  cr_expect_eq(run_status(&err, fx.ds, fx.model, bad2), 2);
  cr_expect(strstr(err, "--max-drop needs --baseline"), "%s", err);
  free(err);
  const char *bad3[] = {"--split", "nosuch", NULL};
  cr_expect_eq(run_status(&err, fx.ds, fx.model, bad3), 2);
  cr_expect(strstr(err, "split 'nosuch'"), "%s", err);
  free(err);
  const char *bad4[] = {"--positive", "red<script>", NULL}; /* three classes */
  cr_expect_eq(run_status(&err, fx.ds, fx.model, bad4), 2);
  cr_expect(strstr(err, "two-class"), "%s", err);
  free(err);
  char *two = du_fmt("%s/two.txt", fx.root);
  du_put(two, "a\nb\n");
  const char *bad5[] = {"--labels", two, NULL};
  cr_expect_eq(run_status(&err, fx.ds, fx.model, bad5), 2);
  cr_expect(strstr(err, "has 2 labels but the model's output has 3 classes"), "%s", err);
  free(err);
  const char *bad6[] = {"--baseline", two, NULL};
  cr_expect_eq(run_status(&err, fx.ds, fx.model, bad6), 2);
  cr_expect(strstr(err, "cannot read baseline"), "%s", err);
  free(err);
  char *garbage = du_fmt("%s/garbage.tflite", fx.root);
  du_put(garbage, "not a model");
  cr_expect_eq(run_status(&err, fx.ds, garbage, NULL), 2);
  free(err);
  free(garbage);
  free(two);
  /* nothing of that was recorded */
  char *ledger = du_fmt("%s/ledger.jsonl", fx.ds);
  char *text = du_slurp(ledger);
  cr_expect(!text || !strstr(text, "\"eval\""), "%s", text);
  free(text);
  free(ledger);
  unmake(&fx);
}

Test(eval_dataset, labels_outside_the_vocabulary_are_listed)
{
  fixture fx;
  make(&fx);
  json_t *items = ed_manifest(fx.ds);
  json_t *a = du_item_by_src(items, "img_02.ppm"), *b = du_item_by_src(items, "img_04.ppm");
  json_object_set_new(a, "label", json_string("purple"));
  json_object_set_new(b, "label", json_null());
  char *ida = strdup(json_string_value(json_object_get(a, "id")));
  char *idb = strdup(json_string_value(json_object_get(b, "id")));
  ed_manifest_write(fx.ds, items);
  json_decref(items);
  char *err = NULL;
  cr_expect_eq(run_status(&err, fx.ds, fx.model, NULL), 2);
  char *l1 = du_fmt("item %s ('%s/in/camA/img_02.ppm'): label 'purple' is not in", ida, fx.root);
  char *l2 = du_fmt("item %s ('%s/in/camA/img_04.ppm'): no label", idb, fx.root);
  cr_expect(strstr(err, l1), "%s", err);
  cr_expect(strstr(err, l2), "%s", err);
  cr_expect(strstr(err, "2 items of split 'test' have no label from the vocabulary"), "%s", err);
  free(err);
  /* a train item with a bad label does not matter for --split test */
  free(l1);
  free(l2);
  free(ida);
  free(idb);
  unmake(&fx);
}

Test(eval_dataset, ledger_and_test_reuse_warning)
{
  fixture fx;
  make(&fx);
  char *ledger = du_fmt("%s/ledger.jsonl", fx.ds);
  for (int k = 0; k < 5; k++) {
    char *name = du_fmt("m%d.tflite", k);
    char *model = ed_model(fx.root, name, 3, true, k);
    char *err = NULL;
    const char *none[] = {NULL};
    json_t *doc = run_json(0, fx.ds, model, none);
    /* models 0..3 make 1..4 distinct models: the fourth is more than 3 */
    cr_expect_eq(jnum(doc, "test_set.models_compared"), k + 1);
    cr_expect_eq(json_is_string(jget(doc, "test_set.warning")), k >= 3, "run %d", k);
    json_decref(doc);
    /* the same model again does not count twice; stderr carries the warning */
    const char *dry[] = {"--dry-run", NULL};
    cr_expect_eq(run_status(&err, fx.ds, model, dry), 0);
    cr_expect_eq(strstr(err, "overfits the test set") != NULL, k >= 3, "run %d: %s", k, err);
    free(err);
    free(model);
    free(name);
  }
  json_t *recs = json_array();
  char *text = du_slurp(ledger);
  for (char *line = text; line && *line;) {
    char *nl = strchr(line, '\n');
    json_t *o = json_loadb(line, (size_t)(nl - line), 0, NULL);
    if (!strcmp(json_string_value(json_object_get(o, "type")), "eval"))
      json_array_append(recs, o);
    json_decref(o);
    line = nl + 1;
  }
  cr_assert_eq(json_array_size(recs), 5, "five recorded runs (the dry ones are not): %s", text);
  json_t *r0 = json_array_get(recs, 0);
  cr_expect_str_eq(json_string_value(json_object_get(r0, "split")), "test");
  cr_expect_str_eq(json_string_value(json_object_get(r0, "time")), "2023-11-14T22:13:20Z");
  cr_expect_eq(strlen(json_string_value(json_object_get(r0, "model"))), 32);
  cr_expect_eq(strlen(json_string_value(json_object_get(r0, "dataset_version"))), 32);
  cr_expect(json_is_number(jget(r0, "metrics.accuracy")));
  cr_expect_str_neq(json_string_value(json_object_get(r0, "model")),
                    json_string_value(json_object_get(json_array_get(recs, 1), "model")));
  json_decref(recs);
  free(text);
  /* a higher limit silences it; train is not held out and is not recorded */
  const char *lim[] = {"--dry-run", "--reuse-limit", "5", NULL};
  json_t *doc = run_json(0, fx.ds, fx.model, lim);
  cr_expect(json_is_null(jget(doc, "test_set.warning")));
  json_decref(doc);
  const char *train[] = {"--split", "train", NULL};
  doc = run_json(0, fx.ds, fx.model, train);
  cr_expect(json_is_false(jget(doc, "dataset.held_out")));
  cr_expect(json_is_null(jget(doc, "test_set.models_compared")));
  json_decref(doc);
  char *text2 = du_slurp(ledger);
  size_t evals = 0;
  for (char *p = text2; (p = strstr(p, "\"type\":\"eval\"")); p++)
    evals++;
  cr_expect_eq(evals, 5);
  free(text2);
  free(ledger);
  unmake(&fx);
}

Test(eval_dataset, baseline_and_mcnemar)
{
  fixture fx;
  make(&fx);
  const char *dry[] = {"--dry-run", NULL};
  json_t *a = run_json(0, fx.ds, fx.model, dry);
  char *apath = du_fmt("%s/a.json", fx.root);
  cr_assert_eq(json_dump_file(a, apath, JSON_REAL_PRECISION(6)), 0);
  /* model b doubles the red weight: red wins more often */
  char *mb = ed_model(fx.root, "b.tflite", 3, true, 1);
  const char *cmp[] = {"--dry-run", "--baseline", apath, NULL};
  json_t *b = run_json(0, fx.ds, mb, cmp);
  const json_t *mc = jget(b, "baseline.mcnemar");
  cr_assert(json_is_object(mc));
  /* recount from the two prediction lists */
  const json_t *pa = jget(a, "predictions"), *pb = jget(b, "predictions");
  cr_assert_eq(json_array_size(pa), json_array_size(pb));
  size_t both = 0, only_b = 0, only_a = 0, none = 0;
  for (size_t i = 0; i < json_array_size(pa); i++) {
    int ra = json_is_true(json_object_get(json_array_get(pa, i), "correct"));
    int rb = json_is_true(json_object_get(json_array_get(pb, i), "correct"));
    both += ra && rb;
    only_b += rb && !ra;
    only_a += ra && !rb;
    none += !ra && !rb;
  }
  cr_expect_eq(jnum(mc, "common"), 22);
  cr_expect_eq(jnum(mc, "both_right"), (double)both);
  cr_expect_eq(jnum(mc, "model_only"), (double)only_b);
  cr_expect_eq(jnum(mc, "baseline_only"), (double)only_a);
  cr_expect_eq(jnum(mc, "both_wrong"), (double)none);
  cr_expect(only_a + only_b > 0, "the two models should disagree somewhere");
  cr_expect_float_eq(jnum(b, "baseline.accuracy_delta"),
                     jnum(b, "metrics.accuracy") - jnum(a, "metrics.accuracy"), 2e-6);
  const json_t *pc = jget(b, "baseline.per_class");
  cr_assert_eq(json_array_size(pc), 3);
  cr_expect_float_eq(
      jnum(json_array_get(pc, 0), "recall_delta"),
      jnum(json_array_get(jget(b, "metrics.per_class"), 0), "recall") -
          jnum(json_array_get(jget(a, "metrics.per_class"), 0), "recall"),
      2e-6);
  /* comparing a model with itself: no discordant pairs, p = 1, and --max-drop 0 passes */
  const char *self[] = {"--dry-run", "--baseline", apath, "--max-drop", "0", "--no-regression",
                        NULL};
  json_t *s = run_json(0, fx.ds, fx.model, self);
  cr_expect_eq(jnum(s, "baseline.mcnemar.p_value"), 1);
  cr_expect_eq(jnum(s, "baseline.mcnemar.model_only"), 0);
  json_decref(s);
  /* a document that is not ours */
  char *junk = du_fmt("%s/junk.json", fx.root);
  du_put(junk, "{\"schema\":\"other/1\"}");
  char *err = NULL;
  const char *bad[] = {"--baseline", junk, NULL};
  cr_expect_eq(run_status(&err, fx.ds, fx.model, bad), 2);
  cr_expect(strstr(err, "schema 'other/1'"), "%s", err);
  free(err);
  free(junk);
  json_decref(a);
  json_decref(b);
  free(mb);
  free(apath);
  unmake(&fx);
}

Test(eval_dataset, two_class_view)
{
  fixture fx;
  make(&fx);
  /* keep red and green items only; the model looks at channels 0 and 1 */
  json_t *items = ed_manifest(fx.ds);
  for (size_t i = 0; i < json_array_size(items); i++) {
    json_t *it = json_array_get(items, i);
    if (!strcmp(json_string_value(json_object_get(it, "label")), LABELS[2]))
      json_object_set_new(it, "split", json_null());
  }
  ed_manifest_write(fx.ds, items);
  json_decref(items);
  char *labels = du_fmt("%s/two.txt", fx.root);
  char *text = du_fmt("%s\n%s\n", LABELS[0], LABELS[1]);
  du_put(labels, text);
  char *model = ed_model(fx.root, "two.tflite", 2, true, 0);
  const char *extra[] = {"--dry-run", "--labels", labels, "--positive", LABELS[1], NULL};
  json_t *doc = run_json(0, fx.ds, model, extra);
  const json_t *b = jget(doc, "metrics.binary");
  cr_assert(json_is_object(b));
  cr_expect_str_eq(json_string_value(json_object_get(b, "positive")), LABELS[1]);
  /* recompute the AUC from the predictions: pairs (positive, negative) */
  const json_t *preds = jget(doc, "predictions");
  double wins = 0, P = 0, N = 0;
  for (size_t i = 0; i < json_array_size(preds); i++) {
    const json_t *p = json_array_get(preds, i);
    if (strcmp(json_string_value(json_object_get(p, "label")), LABELS[1]))
      continue;
    P++;
    double sp = json_number_value(json_array_get(json_object_get(p, "probabilities"), 1));
    for (size_t j = 0; j < json_array_size(preds); j++) {
      const json_t *q = json_array_get(preds, j);
      if (!strcmp(json_string_value(json_object_get(q, "label")), LABELS[1]))
        continue;
      double sq = json_number_value(json_array_get(json_object_get(q, "probabilities"), 1));
      wins += sp > sq ? 1 : sp == sq ? 0.5 : 0;
    }
  }
  for (size_t i = 0; i < json_array_size(preds); i++)
    N += !!strcmp(json_string_value(json_object_get(json_array_get(preds, i), "label")), LABELS[1]);
  cr_expect_eq(jnum(b, "positives"), P);
  cr_expect_eq(jnum(b, "negatives"), N);
  /* the document's probabilities are rounded to 6 digits, the AUC used the exact ones */
  cr_expect_float_eq(jnum(b, "roc_auc"), wins / (P * N), 0.02);
  const json_t *t = json_object_get(b, "thresholds");
  cr_assert_eq(json_array_size(t), 19);
  cr_expect_float_eq(jnum(json_array_get(t, 9), "threshold"), 0.5, 1e-12);
  double prev = 2;
  for (size_t k = 0; k < 19; k++) { /* the share sent on falls as the threshold rises */
    double s = jnum(json_array_get(t, k), "sent");
    cr_expect(s <= prev);
    prev = s;
  }
  const json_t *roc = json_object_get(b, "roc");
  cr_expect_eq(jnum(json_array_get(roc, json_array_size(roc) - 1), "tpr"), 1);
  cr_expect_eq(jnum(json_array_get(roc, json_array_size(roc) - 1), "fpr"), 1);
  char *err = NULL;
  const char *bad[] = {"--labels", labels, "--positive", "nope", NULL};
  cr_expect_eq(run_status(&err, fx.ds, model, bad), 2);
  cr_expect(strstr(err, "--positive 'nope' is not a class"), "%s", err);
  free(err);
  json_decref(doc);
  free(model);
  free(text);
  free(labels);
  unmake(&fx);
}

/* The text of a DOM node as Chromium serializes it, entities decoded. */
static char *dom_text(const char *s, const char *end)
{
  char *out = malloc((size_t)(end - s) + 1), *o = out;
  while (s < end) {
    static const char *const ent[][2] = {
        {"&lt;", "<"}, {"&gt;", ">"}, {"&amp;", "&"}, {"&quot;", "\""}, {"&nbsp;", " "}};
    size_t k = 0;
    for (; k < 5; k++)
      if (!strncmp(s, ent[k][0], strlen(ent[k][0])))
        break;
    if (k < 5) {
      *o++ = ent[k][1][0];
      s += strlen(ent[k][0]);
    } else {
      *o++ = *s++;
    }
  }
  *o = '\0';
  return out;
}

Test(eval_dataset, report_in_headless_chromium)
{
  fixture fx;
  make(&fx);
  if (access("/usr/bin/chromium", X_OK) != 0)
    cr_assert_fail("chromium is not installed (apt-get install chromium)");
  char *report = du_fmt("%s/report.html", fx.root);
  const char *extra[] = {"--dry-run", "--report", report, "--min-accuracy", "0.5", NULL};
  json_t *doc = run_json(0, fx.ds, fx.model, extra);
  char *html = du_slurp(report);
  cr_assert(html);
  cr_expect(!strstr(html, "<script"), "no script, and no label became one");
  cr_expect(!strstr(html, "src=\"http") && !strstr(html, "href="), "nothing fetched");
  cr_expect(strstr(html, "Content-Security-Policy"));

  char *profile = tu_tmpdir(), *udd = du_fmt("--user-data-dir=%s", profile);
  char *url = du_fmt("file://%s", report);
  char *argv[] = {"/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", udd, "--enable-logging=stderr", "--v=0",
                  "--dump-dom", url, NULL};
  char *dom = NULL, *log = NULL;
  int rc = tu_run(argv, NULL, &dom, &log);
  cr_assert_eq(rc, 0, "chromium: %s", log);
  cr_expect(!strstr(log, "CONSOLE"), "console messages: %s", log);
  cr_expect(!strstr(log, "Uncaught"), "%s", log);
  cr_expect(!strstr(log, "Content Security Policy"), "%s", log);
  static const char *const sections[] = {"summary", "model",       "dataset", "metrics",
                                         "per-class", "confusion", "calibration", "groups",
                                         "gates",   "gallery"};
  for (size_t k = 0; k < sizeof sections / sizeof sections[0]; k++) {
    char *id = du_fmt("<section id=\"%s\">", sections[k]);
    cr_expect(strstr(dom, id), "section %s missing", sections[k]);
    free(id);
  }
  /* hostile strings are text: labels, the device "x<", paths with </script> and quotes */
  cr_expect(!strstr(dom, "<script"), "a string from data became markup");
  cr_expect(strstr(dom, ">red&lt;script&gt;<"), "label not in the DOM as text");
  cr_expect(strstr(dom, ">green \"q\" 'x'<"), "label with quotes");
  cr_expect(strstr(dom, ">blue&amp;amp;<"), "label with an entity");
  cr_expect(strstr(dom, ">x&lt;<"), "device");
  char *p1 = du_fmt(">%s/in/camB/x&lt;/script&gt;.ppm<", fx.root);
  char *p2 = du_fmt(">%s/in/camB/cam B/a&lt;b \"q\".ppm<", fx.root);
  cr_expect(strstr(dom, p1), "path with </script> not shown as text");
  cr_expect(strstr(dom, p2), "path with quotes not shown as text");
  free(p1);
  free(p2);
  /* every mistake has a thumbnail, most confident first */
  size_t thumbs = 0;
  for (const char *q = dom; (q = strstr(q, "src=\"data:image/png;base64,")); q++)
    thumbs++;
  cr_expect_eq(thumbs, 22 - (size_t)jnum(doc, "metrics.correct"));
  double last = 2;
  for (const char *q = dom; (q = strstr(q, "</strong> (")); q++) {
    double c = strtod(q + 11, NULL);
    cr_expect(c <= last, "gallery order");
    last = c;
  }
  /* every number and string tagged with its JSON path equals the document's */
  size_t checked = 0;
  for (const char *q = dom; (q = strstr(q, "data-key=\"")); q++) {
    const char *k = q + 10, *ke = strchr(k, '"');
    char key[128];
    snprintf(key, sizeof key, "%.*s", (int)(ke - k), k);
    const char *t = strchr(ke, '>') + 1, *te = strchr(t, '<');
    char *text = dom_text(t, te);
    const json_t *v = jget(doc, key);
    char want[128];
    if (json_is_string(v))
      snprintf(want, sizeof want, "%s", json_string_value(v));
    else if (json_is_integer(v))
      snprintf(want, sizeof want, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
      snprintf(want, sizeof want, "%.6g", json_real_value(v));
    else
      snprintf(want, sizeof want, "\u2013");
    cr_expect_str_eq(text, want, "%s", key);
    free(text);
    checked++;
  }
  cr_expect_geq(checked, 25, "only %zu values tagged", checked);
  /* and the per-class table shows the JSON's recall of every class */
  const json_t *pc = jget(doc, "metrics.per_class");
  for (size_t k = 0; k < json_array_size(pc); k++) {
    char *cell = du_fmt("<td>%.6g</td>", jnum(json_array_get(pc, k), "recall"));
    cr_expect(strstr(dom, cell), "recall %s", cell);
    free(cell);
  }
  free(dom);
  free(log);
  free(url);
  free(udd);
  free(profile);
  free(html);
  free(report);
  json_decref(doc);
  unmake(&fx);
}

/* The documented keys, in the documented order (docs/eval.md, JSON): a change here is a schema
 * change and must be a documented addition. */
static void expect_keys(const json_t *o, const char *what, const char *const *keys)
{
  size_t n = 0;
  const char *key;
  json_t *v;
  const char *const *k = keys;
  json_object_foreach((json_t *)o, key, v)
  {
    (void)v;
    cr_expect(*k && !strcmp(key, *k), "%s: key %zu is '%s', expected '%s'", what, n, key,
              *k ? *k : "(end)");
    if (*k)
      k++;
    n++;
  }
  cr_expect(!*k, "%s: missing '%s'", what, *k);
}

Test(eval_dataset, json_schema_keys)
{
  fixture fx;
  make(&fx);
  char *labels = du_fmt("%s/two.txt", fx.root);
  char *text = du_fmt("%s\n%s\n", LABELS[0], LABELS[1]);
  du_put(labels, text);
  char *model = ed_model(fx.root, "two.tflite", 2, false, 0);
  json_t *items = ed_manifest(fx.ds);
  for (size_t i = 0; i < json_array_size(items); i++) {
    json_t *it = json_array_get(items, i);
    if (!strcmp(json_string_value(json_object_get(it, "label")), LABELS[2]))
      json_object_set_new(it, "label", json_string(LABELS[0]));
  }
  ed_manifest_write(fx.ds, items);
  json_decref(items);
  const char *first[] = {"--labels", labels, "--dry-run", NULL};
  json_t *base = run_json(0, fx.ds, model, first);
  char *bpath = du_fmt("%s/base.json", fx.root);
  cr_assert_eq(json_dump_file(base, bpath, 0), 0);
  const char *extra[] = {"--labels", labels, "--positive", LABELS[0], "--baseline", bpath,
                         "--min-accuracy", "0.1", NULL};
  json_t *doc = run_json(0, fx.ds, model, extra);
  static const char *const top[] = {"schema", "time", "dataset", "model", "preprocess",
                                    "labels_file", "labels", "metrics", "baseline", "gates",
                                    "test_set", "predictions", NULL};
  expect_keys(doc, "document", top);
  static const char *const ds[] = {"path", "split", "version", "items", "augmented_left_out",
                                   "held_out", NULL};
  expect_keys(jget(doc, "dataset"), "dataset", ds);
  static const char *const model_k[] = {"path", "hash", "operators", "ops", "params", "macs",
                                        "flash_bytes", "arena_bytes", "host_latency_ms",
                                        "output", "preprocess_resolved", NULL};
  expect_keys(jget(doc, "model"), "model", model_k);
  cr_expect_str_eq(json_string_value(jget(doc, "model.output")), "scores");
  static const char *const metrics[] = {
      "items", "correct", "accuracy", "accuracy_ci95", "balanced_accuracy", "top_k",
      "per_class", "macro", "weighted", "confusion", "calibration", "per_device", "per_batch",
      "binary", NULL};
  expect_keys(jget(doc, "metrics"), "metrics", metrics);
  static const char *const pc[] = {"label", "index", "support", "predicted", "tp", "precision",
                                   "recall", "f1", NULL};
  expect_keys(json_array_get(jget(doc, "metrics.per_class"), 0), "per_class", pc);
  static const char *const bin[] = {"positive", "positives", "negatives", "roc_auc", "roc", "pr",
                                    "thresholds", NULL};
  expect_keys(jget(doc, "metrics.binary"), "binary", bin);
  static const char *const th[] = {"threshold", "precision", "recall", "sent", "sent_items",
                                   NULL};
  expect_keys(json_array_get(jget(doc, "metrics.binary.thresholds"), 0), "thresholds", th);
  static const char *const bl[] = {"model", "dataset_version", "accuracy", "accuracy_delta",
                                   "balanced_accuracy_delta", "per_class", "macro_f1_delta",
                                   "mcnemar", "path", NULL};
  expect_keys(jget(doc, "baseline"), "baseline", bl);
  static const char *const mc[] = {"common", "both_right", "both_wrong", "model_only",
                                   "baseline_only", "p_value", NULL};
  expect_keys(jget(doc, "baseline.mcnemar"), "mcnemar", mc);
  static const char *const gates[] = {"passed", "verdict", "checks", NULL};
  expect_keys(jget(doc, "gates"), "gates", gates);
  static const char *const ts[] = {"models_compared", "limit", "recorded", "warning", NULL};
  expect_keys(jget(doc, "test_set"), "test_set", ts);
  static const char *const pred[] = {"id", "path", "label", "predicted", "correct",
                                     "confidence", "truth_rank", "device", "batch",
                                     "probabilities", NULL};
  const json_t *preds = jget(doc, "predictions");
  expect_keys(json_array_get(preds, 0), "prediction", pred);
  /* sorted by id; scores went through a softmax, so probabilities sum to 1 */
  for (size_t i = 0; i < json_array_size(preds); i++) {
    const json_t *p = json_array_get(preds, i);
    if (i)
      cr_expect_lt(strcmp(json_string_value(json_object_get(json_array_get(preds, i - 1), "id")),
                          json_string_value(json_object_get(p, "id"))),
                   0);
    const json_t *pr = json_object_get(p, "probabilities");
    cr_expect_float_eq(json_number_value(json_array_get(pr, 0)) +
                           json_number_value(json_array_get(pr, 1)),
                       1.0, 2e-6);
  }
  json_decref(doc);
  json_decref(base);
  free(bpath);
  free(model);
  free(text);
  free(labels);
  unmake(&fx);
}
