/* edgeset-drift end to end: a dataset collected from real-photo captures (tests/drift/
 * make_batches.py) in batches A (cam1), B (cam1, same distribution), C (cam1, blurred with
 * sigma 1.5) and D (a device whose name needs escaping, with a frozen run of identical frames);
 * verdicts and exit codes, camera flags naming the device, profiles giving the same numbers,
 * --jobs not changing a byte, bad arguments, and the HTML report rendered by headless Chromium
 * without console messages. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static char *dir, *ds, *drift_bin;
static const char *const dev_d = "cam<b>&\"2'";

/* Criterion runs every test in its own process: the dataset is made once per run (keyed by
 * the runner's pid) in a temporary directory renamed into place, so that concurrent tests
 * either build it or find it complete. */
static void make_dataset(void)
{
  if (ds)
    return;
  char final[4096], done[4200];
  snprintf(final, sizeof final, "%s/edgeset-drift-cli-%d",
           getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getppid());
  snprintf(done, sizeof done, "%s/done", final);
  drift_bin = tu_bin("edgeset-drift");
  char ds_buf[4200];
  snprintf(ds_buf, sizeof ds_buf, "%s/ds", final);
  ds = strdup(ds_buf);
  dir = strdup(final);
  if (access(done, F_OK) == 0)
    return;
  char *tmp = tu_tmpdir();
  const char *src = getenv("EDGESET_SOURCE");
  cr_assert(src);
  struct {
    const char *batch, *dev, *args;
  } b[] = {{"A", "cam1", "80 1"},
           {"B", "cam1", "80 2"},
           {"C", "cam1", "80 3 --blur 1.5"},
           {"D", dev_d, "12 4 --repeat 6"}};
  char *collect = tu_bin("edgeset-collect");
  char tds[4200];
  snprintf(tds, sizeof tds, "%s/ds", tmp);
  for (size_t i = 0; i < 4; i++) {
    char path[8192], cmd[16384], bdir[8192];
    snprintf(path, sizeof path, "%s/%s/%s", tmp, b[i].batch, b[i].dev);
    /* the device directory name has quotes: pass it through the environment */
    setenv("DRIFT_OUT", path, 1);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tests/drift/make_batches.py \"$DRIFT_OUT\" %s",
             src, b[i].args);
    cr_assert_eq(system(cmd), 0, "failed: %s", cmd);
    snprintf(bdir, sizeof bdir, "%s/%s", tmp, b[i].batch);
    char *argv[] = {collect, "-d", tds, "--batch", (char *)b[i].batch, "--device-from", "dir:1",
                    "-q", bdir, NULL};
    char *err = NULL;
    cr_assert_eq(tu_run(argv, NULL, NULL, &err), 0, "collect: %s", err ? err : "");
    free(err);
  }
  free(collect);
  char dtmp[4200];
  snprintf(dtmp, sizeof dtmp, "%s/done", tmp);
  tu_write(dtmp, "", 0);
  if (rename(tmp, final) != 0) {
    /* another test got there first: wait for it to be complete */
    for (int i = 0; i < 600 && access(done, F_OK) != 0; i++)
      usleep(100000);
  }
  free(tmp);
}

static int drift(char **out, char **err, const char *a1, const char *a2, const char *a3,
                 const char *a4, const char *a5, const char *a6)
{
  char *argv[12] = {drift_bin, "-d", ds};
  int k = 3;
  const char *extra[] = {a1, a2, a3, a4, a5, a6};
  for (int i = 0; i < 6 && extra[i]; i++)
    argv[k++] = (char *)extra[i];
  argv[k] = NULL;
  return tu_run(argv, NULL, out, err);
}

static json_t *parse(const char *s)
{
  json_error_t je;
  json_t *j = json_loads(s, 0, &je);
  cr_assert(j, "bad JSON: %s", je.text);
  return j;
}

static json_t *feature(json_t *j, const char *name)
{
  json_t *fa = json_object_get(j, "features");
  for (size_t i = 0; i < json_array_size(fa); i++) {
    json_t *f = json_array_get(fa, i);
    if (!strcmp(json_string_value(json_object_get(f, "name")), name))
      return f;
  }
  cr_assert_fail("no feature '%s'", name);
  return NULL;
}

static json_t *device(json_t *j, const char *name)
{
  json_t *ha = json_object_get(j, "camera_health");
  for (size_t i = 0; i < json_array_size(ha); i++) {
    json_t *h = json_array_get(ha, i);
    if (!strcmp(json_string_value(json_object_get(h, "device")), name))
      return h;
  }
  return NULL;
}

static int has_flag(json_t *h, const char *flag)
{
  json_t *fl = json_object_get(h, "flags");
  for (size_t i = 0; i < json_array_size(fl); i++)
    if (!strcmp(json_string_value(json_array_get(fl, i)), flag))
      return 1;
  return 0;
}

Test(cli, same_distribution_is_quiet_and_jobs_do_not_matter, .timeout = 300)
{
  make_dataset();
  char *o1 = NULL, *o2 = NULL;
  int st = drift(&o1, NULL, "--reference", "batch:A", "--current", "batch:B", "--json", "-j1");
  cr_assert_eq(st, 0, "%s", o1);
  cr_assert_eq(drift(&o2, NULL, "--reference", "batch:A", "--current", "batch:B", "--json",
                     "-j2"), 0);
  cr_expect_str_eq(o1, o2);
  json_t *j = parse(o1);
  cr_expect_str_eq(json_string_value(json_object_get(j, "verdict")), "no drift");
  json_t *f = feature(j, "brightness");
  cr_expect_str_eq(json_string_value(json_object_get(json_object_get(f, "ks"), "method")),
                   "exact");
  cr_expect_eq(json_integer_value(json_object_get(f, "n_reference")), 80);
  json_decref(j);
  free(o1);
  free(o2);
}

Test(cli, blur_drifts_and_flags_the_camera, .timeout = 300)
{
  make_dataset();
  char *out = NULL;
  int st = drift(&out, NULL, "--reference", "batch:A", "--current", "batch:C", "--json", NULL);
  cr_assert_eq(st, 1, "%s", out);
  json_t *j = parse(out);
  cr_expect_str_eq(json_string_value(json_object_get(j, "verdict")), "drift");
  json_t *f = feature(j, "sharpness");
  cr_expect(json_is_true(json_object_get(f, "drifted")));
  /* the features come sorted by effect: sharpness first */
  cr_expect_str_eq(json_string_value(json_object_get(
                       json_array_get(json_object_get(j, "features"), 0), "name")),
                   "sharpness");
  json_t *h = device(j, "cam1");
  cr_assert(h);
  cr_expect(has_flag(h, "sharpness_falling"));
  json_decref(j);
  free(out);
}

Test(cli, frozen_camera_is_named, .timeout = 300)
{
  make_dataset();
  char *out = NULL;
  int st = drift(&out, NULL, "--reference", "batch:A", "--current", "batch:D", "--json", NULL);
  cr_assert_eq(st, 1, "%s", out);
  json_t *j = parse(out);
  json_t *h = device(j, dev_d);
  cr_assert(h, "%s", out);
  cr_expect(has_flag(h, "frozen_output"));
  cr_expect_eq(json_integer_value(json_object_get(h, "longest_identical_run")), 7);
  cr_expect(json_is_false(json_object_get(h, "history")));
  json_decref(j);
  free(out);
  /* a higher threshold: no flag from the run */
  char *o2 = NULL;
  drift(&o2, NULL, "--reference", "batch:A", "--current", "batch:D", "--json",
        "--frozen-run=8");
  j = parse(o2);
  cr_expect(!has_flag(device(j, dev_d), "frozen_output"));
  json_decref(j);
  free(o2);
}

Test(cli, profile_gives_the_same_numbers, .timeout = 300)
{
  make_dataset();
  char prof[8192];
  snprintf(prof, sizeof prof, "%s/a.profile", dir);
  char *out = NULL, *o2 = NULL;
  cr_assert_eq(drift(NULL, NULL, "--reference", "batch:A", "--save-profile", prof, "-q", NULL),
               0);
  cr_assert_eq(drift(&out, NULL, "--reference", "batch:A", "--current", "batch:C", "--json",
                     NULL), 1);
  char spec[8300];
  snprintf(spec, sizeof spec, "profile:%s", prof);
  cr_assert_eq(drift(&o2, NULL, "--reference", spec, "--current", "batch:C", "--json", NULL),
               1);
  json_t *a = parse(out), *b = parse(o2);
  cr_expect(json_equal(json_object_get(a, "features"), json_object_get(b, "features")));
  cr_expect(json_equal(json_object_get(a, "camera_health"), json_object_get(b, "camera_health")));
  json_decref(a);
  json_decref(b);
  free(out);
  free(o2);
  /* a damaged profile is a usage error naming the file */
  char bad[8192];
  snprintf(bad, sizeof bad, "%s/bad.profile", dir);
  const char *bad_text = "{\"format\":\"edgeset-drift-profile\",\"version\":1,\"items\":3,"
                         "\"numeric\":{\"brightness\":[3,2,1]},\"labels\":{},"
                         "\"unlabelled\":0,\"devices\":[]}";
  tu_write(bad, bad_text, strlen(bad_text));
  snprintf(spec, sizeof spec, "profile:%s", bad);
  char *err = NULL;
  cr_expect_eq(drift(NULL, &err, "--reference", spec, "--current", "batch:C", NULL, NULL), 2);
  cr_expect(strstr(err, "ascending"), "%s", err);
  free(err);
}

Test(cli, bad_usage, .timeout = 300)
{
  make_dataset();
  char *err = NULL;
  cr_expect_eq(drift(NULL, &err, "--reference", "nonsense", "--current", "batch:B", NULL, NULL),
               2);
  cr_expect(strstr(err, "edgeset-drift: ") == err, "%s", err);
  free(err);
  err = NULL;
  cr_expect_eq(drift(NULL, &err, "--reference", "batch:nosuch", "--current", "batch:B", NULL,
                     NULL), 2);
  cr_expect(strstr(err, "selects no items"), "%s", err);
  free(err);
  cr_expect_eq(drift(NULL, NULL, "--reference", "batch:A", NULL, NULL, NULL, NULL), 2);
  cr_expect_eq(drift(NULL, NULL, "--reference", "batch:A", "--current", "batch:B", "--alpha",
                     "2"), 2);
  /* a file named by an option that cannot be opened is bad usage (docs/cli.md) */
  cr_expect_eq(drift(NULL, NULL, "--reference", "profile:/nonexistent/x", "--current",
                     "batch:B", NULL, NULL), 2);
}

Test(cli, report_escapes_and_renders_in_chromium, .timeout = 300)
{
  make_dataset();
  char rep[4400];
  snprintf(rep, sizeof rep, "%s/r.html", dir);
  cr_assert_eq(drift(NULL, NULL, "--reference", "batch:A", "--current", "batch:D", "--report",
                     rep), 1);
  size_t len;
  char *html = (char *)tu_read(rep, &len);
  cr_assert(html);
  html = realloc(html, len + 1);
  html[len] = 0;
  cr_expect(!strstr(html, "<b>&"), "device name not escaped");
  cr_expect(strstr(html, "cam&lt;b&gt;&amp;&quot;2&#39;"));
  cr_expect(strstr(html, "<svg"));
  cr_expect(!strstr(html, "<script"));
  free(html);
  cr_assert(access("/usr/bin/chromium", X_OK) == 0,
            "chromium is not installed (scripts/setup.sh installs it)");
  char cmd[30000];
  snprintf(cmd, sizeof cmd,
           "prof=$(mktemp -d) && timeout 120 /usr/bin/chromium --headless --no-sandbox "
           "--disable-gpu --disable-background-networking --disable-component-update "
           "--disable-sync --no-first-run --user-data-dir=$prof --enable-logging=stderr --v=0 "
           "--dump-dom 'file://%s' > '%s.dom' 2> '%s.log'; rc=$?; rm -rf $prof; exit $rc",
           rep, rep, rep);
  cr_assert_eq(system(cmd), 0, "chromium failed");
  char p[8300];
  snprintf(p, sizeof p, "%s.dom", rep);
  char *dom = (char *)tu_read(p, &len);
  cr_assert(dom && len > 0);
  dom = realloc(dom, len + 1);
  dom[len] = 0;
  cr_expect(strstr(dom, "Verdict: <b>drift</b>"), "rendered DOM lacks the verdict");
  cr_expect(strstr(dom, "frozen output"));
  free(dom);
  snprintf(p, sizeof p, "%s.log", rep);
  char *log = (char *)tu_read(p, &len);
  if (log) {
    log = realloc(log, len + 1);
    log[len] = 0;
    cr_expect(!strstr(log, "CONSOLE"), "console messages: %s", log);
    free(log);
  }
}

Test(cli, model_features_with_a_real_classifier, .timeout = 300)
{
  make_dataset();
  char *model = tu_data("tflite/person_detect.tflite");
  char *o1 = NULL, *o2 = NULL;
  char *argv1[] = {drift_bin, "-d", ds, "--reference", "batch:A", "--current", "batch:B",
                   "--model", model, "--json", "-j1", NULL};
  char *argv2[] = {drift_bin, "-d", ds, "--reference", "batch:A", "--current", "batch:B",
                   "--model", model, "--json", "-j2", NULL};
  char *err = NULL;
  int st = tu_run(argv1, NULL, &o1, &err);
  cr_assert(st == 0 || st == 1, "%s", err);
  cr_assert_eq(tu_run(argv2, NULL, &o2, NULL), st);
  cr_expect_str_eq(o1, o2, "--jobs changed the model features");
  json_t *j = parse(o1);
  json_t *conf = feature(j, "confidence"), *pred = feature(j, "predicted"),
         *emb = feature(j, "embedding");
  cr_expect(json_is_true(json_object_get(conf, "tested")));
  cr_expect_eq(json_integer_value(json_object_get(conf, "n_current")), 80);
  cr_expect(json_is_true(json_object_get(pred, "tested")));
  cr_expect_str_eq(json_string_value(json_object_get(emb, "kind")), "embedding");
  cr_expect(json_is_true(json_object_get(emb, "tested")));
  double p = json_real_value(json_object_get(json_object_get(emb, "mmd"), "p"));
  cr_expect(p > 0 && p <= 1);
  json_decref(j);
  free(o1);
  free(o2);
  free(err);
  /* --model with a file that is not a model: usage error */
  char *bad[] = {drift_bin, "-d", ds, "--reference", "batch:A", "--current", "batch:B",
                 "--model", "/etc/hostname", NULL};
  err = NULL;
  cr_expect_eq(tu_run(bad, NULL, NULL, &err), 2);
  cr_expect(strstr(err, "--model"), "%s", err);
  free(err);
  free(model);
}

Test(cli, stats_only_reads_the_index, .timeout = 300)
{
  make_dataset();
  char *o1 = NULL, *o2 = NULL;
  int st = drift(&o1, NULL, "--reference", "batch:A", "--current", "batch:C", "--json",
                 "--stats-only");
  cr_assert_eq(st, 1, "%s", o1);
  cr_assert_eq(drift(&o2, NULL, "--reference", "batch:A", "--current", "batch:C", "--json",
                     NULL), 1);
  json_t *a = parse(o1), *b = parse(o2);
  /* the stats agree with the manifest's (the adjusted p-values do not: without sizes the
   * BH family is smaller); sizes are not in the index */
  json_t *fa = feature(a, "sharpness"), *fb = feature(b, "sharpness");
  cr_expect(json_equal(json_object_get(fa, "ks"), json_object_get(fb, "ks")));
  cr_expect(json_equal(json_object_get(fa, "effect"), json_object_get(fb, "effect")));
  cr_expect(json_equal(json_object_get(fa, "psi"), json_object_get(fb, "psi")));
  cr_expect(json_is_false(json_object_get(feature(a, "pixels"), "tested")));
  cr_expect(json_is_null(json_object_get(device(a, "cam1"), "longest_identical_run")));
  cr_expect(has_flag(device(a, "cam1"), "sharpness_falling"));
  json_decref(a);
  json_decref(b);
  free(o1);
  free(o2);
}
