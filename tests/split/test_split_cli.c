/* CLI tests of edgeset-split on datasets made by edgeset-collect and edgeset-label: stability
 * when a new batch arrives (old lines byte-identical, near twins of held-out items held out),
 * byte-identical results for any --jobs and input order, --verify on hand-edited manifests,
 * --list, --export (folders with hard links, csv quoting, nothing written outside DIR), and
 * --release. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dsutil.h"
#include "formats/signatures.h"
#include "testutil.h"

/* Writes n pictures in root/<dir>/<class>/ (two classes alternating) with seeds from seed0. */
static void pictures(const char *root, const char *dir, unsigned seed0, int n, int noise)
{
  for (int k = 0; k < n; k++) {
    char *d = du_fmt("%s/%s/%s", root, dir, k % 3 ? "cat" : "dog");
    du_mkdirs(d);
    char *p = du_fmt("%s/%u.ppm", d, seed0 + (unsigned)k);
    du_ppm(p, seed0 + (unsigned)k, noise);
    free(p);
    free(d);
  }
}

static void collect_label(const char *ds, const char *in, const char *batch, const char *jobs)
{
  char *err = NULL;
  int rc = du_run(NULL, &err, "edgeset-collect", "-d", ds, "--batch", batch, "--device-from",
                  "fixed:cam1", "-j", jobs, "-q", in, NULL);
  cr_assert_eq(rc, 0, "collect: %s", err);
  free(err);
  rc = du_run(NULL, &err, "edgeset-label", "-d", ds, "--from", "dir:1", "-q", NULL);
  cr_assert_eq(rc, 0, "label: %s", err);
  free(err);
}

static char *line_with_id(const char *manifest, const char *id)
{
  char key[64];
  snprintf(key, sizeof key, "{\"id\":\"%s\"", id);
  const char *p = strstr(manifest, key);
  cr_assert_not_null(p, "no line for %s", id);
  return strndup(p, strcspn(p, "\n"));
}

Test(split_cli, stable_when_a_batch_arrives)
{
  char *root = tu_tmpdir(), *ds = du_fmt("%s/ds", root), *in1 = du_fmt("%s/b1", root);
  pictures(root, "b1", 100, 40, 0);
  collect_label(ds, in1, "b1", "2");
  char *out = NULL, *err = NULL;
  int rc = du_run(&out, &err, "edgeset-split", "-d", ds, "--seed", "4", "--json", NULL);
  cr_assert_eq(rc, 0, "%s", err);
  free(out);
  free(err);
  char *mpath = du_fmt("%s/manifest.jsonl", ds);
  char *before = du_slurp(mpath);
  json_t *m1 = du_jsonl(mpath);
  /* batch 2: new pictures and near twins (noise 2) of every test item's picture */
  char *in2 = du_fmt("%s/b2", root);
  pictures(root, "b2", 500, 20, 0);
  size_t twins = 0;
  for (size_t i = 0; i < json_array_size(m1); i++) {
    json_t *it = json_array_get(m1, i);
    if (strcmp(json_string_value(json_object_get(it, "split")), "test"))
      continue;
    unsigned seed;
    const char *src = json_string_value(json_object_get(it, "src"));
    cr_assert_eq(sscanf(strrchr(src, '/') + 1, "%u.ppm", &seed), 1);
    /* labelled like its source (dir:1), as a new frame of the same scene would be */
    char *d = du_fmt("%s/b2/twin/%s", root, json_string_value(json_object_get(it, "label")));
    du_mkdirs(d);
    char *p = du_fmt("%s/%u.ppm", d, seed);
    du_ppm(p, seed, 2);
    free(p);
    free(d);
    twins++;
  }
  cr_assert_gt(twins, 0);
  collect_label(ds, in2, "b2", "2");
  rc = du_run(&out, &err, "edgeset-split", "-d", ds, "--seed", "4", "--verify", NULL);
  cr_assert_eq(rc, 0, "%s%s", out, err);
  free(out);
  free(err);
  char *after = du_slurp(mpath);
  json_t *m2 = du_jsonl(mpath);
  for (size_t i = 0; i < json_array_size(m1); i++) {
    const char *id = json_string_value(json_object_get(json_array_get(m1, i), "id"));
    char *a = line_with_id(before, id), *b = line_with_id(after, id);
    cr_assert_str_eq(a, b, "an assigned item changed");
    free(a);
    free(b);
  }
  size_t twin_in_test = 0;
  for (size_t i = 0; i < json_array_size(m2); i++) {
    json_t *it = json_array_get(m2, i);
    const char *src = json_string_value(json_object_get(it, "src"));
    if (strstr(src, "/twin/")) {
      cr_assert_str_eq(json_string_value(json_object_get(it, "split")), "test",
                       "a near twin of a test item is in %s",
                       json_string_value(json_object_get(it, "split")));
      twin_in_test++;
    }
  }
  cr_assert_eq(twin_in_test, twins);
  char *lpath = du_fmt("%s/ledger.jsonl", ds);
  json_t *led = du_jsonl(lpath);
  size_t splits = 0;
  for (size_t i = 0; i < json_array_size(led); i++)
    splits += !strcmp(json_string_value(json_object_get(json_array_get(led, i), "type")), "split");
  cr_assert_eq(splits, 2);
  /* the index beside the manifest is current */
  char *ipath = du_fmt("%s/index.bin", ds);
  cr_assert_eq(access(ipath, F_OK), 0);
  json_decref(led);
  json_decref(m1);
  json_decref(m2);
  free(ipath);
  free(lpath);
  free(before);
  free(after);
  free(mpath);
  free(in1);
  free(in2);
  free(ds);
  free(root);
}

Test(split_cli, identical_for_any_jobs_and_input_order)
{
  char *root = tu_tmpdir();
  pictures(root, "in", 1, 30, 0);
  pictures(root, "in2", 1, 30, 3); /* near twins in a second folder: clusters of two */
  char *manifests[2];
  for (int r = 0; r < 2; r++) {
    char *ds = du_fmt("%s/ds%d", root, r);
    char *a = du_fmt("%s/in", root), *b = du_fmt("%s/in2", root);
    char *err = NULL;
    int rc = du_run(NULL, &err, "edgeset-collect", "-d", ds, "--batch", "b1", "--device-from",
                    "fixed:cam1", "-j", r ? "1" : "2", "-q", r ? b : a, r ? a : b, NULL);
    cr_assert_eq(rc, 0, "%s", err);
    free(err);
    cr_assert_eq(du_run(NULL, NULL, "edgeset-label", "-d", ds, "--from", "dir:1", "-q", NULL), 0);
    rc = du_run(NULL, &err, "edgeset-split", "-d", ds, "--ratios", "train=60,val=20,test=10,test2=10",
                "--seed", "9", "-j", r ? "1" : "2", "-q", NULL);
    cr_assert_eq(rc, 0, "%s", err);
    free(err);
    char *mp = du_fmt("%s/manifest.jsonl", ds);
    manifests[r] = du_slurp(mp);
    free(mp);
    free(a);
    free(b);
    free(ds);
  }
  cr_assert_str_eq(manifests[0], manifests[1], "--jobs or the input order changed the dataset");
  cr_assert(strstr(manifests[0], "\"split\":\"test2\""));
  free(manifests[0]);
  free(manifests[1]);
  free(root);
}

/* Rewrites the manifest after fn edited the parsed items. */
static void edit_manifest(const char *ds, void (*fn)(json_t *items))
{
  char *mp = du_fmt("%s/manifest.jsonl", ds);
  json_t *items = du_jsonl(mp);
  fn(items);
  FILE *f = fopen(mp, "w");
  for (size_t i = 0; i < json_array_size(items); i++) {
    char *s = json_dumps(json_array_get(items, i), JSON_COMPACT | JSON_PRESERVE_ORDER);
    fprintf(f, "%s\n", s);
    free(s);
  }
  fclose(f);
  json_decref(items);
  free(mp);
}

static json_t *first_in(json_t *items, const char *split, size_t skip)
{
  for (size_t i = 0; i < json_array_size(items); i++) {
    json_t *it = json_array_get(items, i);
    const char *s = json_string_value(json_object_get(it, "split"));
    if (s && !strcmp(s, split) && skip-- == 0)
      return it;
  }
  cr_assert_fail("no item in %s", split);
  return NULL;
}

/* The item whose signature copy_signature() gives the signature of another. */
static char sig_to[33], sig_from[33];

/* Gives item sig_to the signature of item sig_from in DS/signatures.bin, as a near duplicate
 * would have (the relation compares phashes, then signatures). */
static void copy_signature(const char *ds)
{
  es_store st;
  es_error err = {0};
  es_sigs s;
  es_manifest m;
  cr_assert_eq(es_store_open(&st, ds, 0, NULL, &err), ES_OK, "%s", err.msg);
  cr_assert_eq(es_sigs_load(&st, &s, NULL, &err), ES_OK, "%s", err.msg);
  cr_assert_eq(es_manifest_load(&st, &m, &err), ES_OK, "%s", err.msg);
  const es_near_sig *g = es_sigs_find(&s, sig_from);
  cr_assert(g, "no signature of %s", sig_from);
  es_near_sig copy = *g;
  cr_assert_eq(es_sigs_put(&s, sig_to, &copy, &err), ES_OK);
  cr_assert_eq(es_sigs_sort(&s, &err), ES_OK);
  size_t len;
  uint8_t *bytes = es_sigs_serialize(&s, &m, &len, NULL, &err);
  cr_assert(bytes);
  char *path = du_fmt("%s/" ES_SIGS_FILE, ds);
  cr_assert_eq(tu_write(path, bytes, len), 0);
  free(path);
  free(bytes);
  es_sigs_free(&s);
  es_manifest_free(&m);
  es_store_close(&st);
}

static void make_leaks(json_t *items)
{
  json_t *t0 = first_in(items, "test", 0), *t1 = first_in(items, "test", 1);
  json_t *r0 = first_in(items, "train", 0), *r1 = first_in(items, "train", 1);
  json_t *r2 = first_in(items, "train", 2), *r3 = first_in(items, "train", 3);
  /* a cluster across splits */
  json_object_set(r0, "cluster", json_object_get(t0, "cluster"));
  /* a group across splits */
  json_object_set(r1, "group", json_object_get(t1, "group"));
  /* a train item with a held-out item's phash and signature (its own cluster) */
  json_object_set(r2, "phash", json_object_get(t1, "phash"));
  snprintf(sig_to, sizeof sig_to, "%s", json_string_value(json_object_get(r2, "id")));
  snprintf(sig_from, sizeof sig_from, "%s", json_string_value(json_object_get(t1, "id")));
  /* an augmented item in train whose source is in test */
  json_object_set(r3, "derived_from", json_object_get(t0, "id"));
  json_object_set_new(r3, "aug", json_string("flip"));
}

Test(split_cli, verify_lists_every_leak)
{
  char *root = tu_tmpdir(), *ds = du_fmt("%s/ds", root), *in = du_fmt("%s/in", root);
  pictures(root, "in", 1, 40, 0);
  collect_label(ds, in, "b1", "2");
  cr_assert_eq(du_run(NULL, NULL, "edgeset-split", "-d", ds, "--ratios", "50:20:30", "-q", NULL), 0);
  char *out = NULL, *err = NULL;
  cr_assert_eq(du_run(&out, &err, "edgeset-split", "-d", ds, "--verify", NULL), 0, "%s", out);
  free(out);
  free(err);
  edit_manifest(ds, make_leaks);
  int rc = du_run(&out, &err, "edgeset-split", "-d", ds, "--verify", NULL);
  cr_assert_eq(rc, 1, "%s %s", out, err);
  cr_assert(!strstr(out, "leak: train item "), "the phash alone is no longer a near duplicate: %s",
            out);
  free(out);
  free(err);
  copy_signature(ds);
  rc = du_run(&out, &err, "edgeset-split", "-d", ds, "--verify", NULL);
  cr_assert_eq(rc, 1, "%s %s", out, err);
  cr_assert(strstr(out, "leak: cluster "), "%s", out);
  cr_assert(strstr(out, "leak: group "), "%s", out);
  cr_assert(strstr(out, "leak: train item "), "%s", out);
  cr_assert(strstr(out, "leak: augmented item "), "%s", out);
  free(out);
  free(err);
  rc = du_run(&out, &err, "edgeset-split", "-d", ds, "--verify", "--json", NULL);
  cr_assert_eq(rc, 1);
  json_t *j = json_loads(out, 0, NULL);
  cr_assert_eq(json_array_size(json_object_get(j, "verify")), 4, "%s", out);
  json_decref(j);
  free(out);
  free(err);
  free(in);
  free(ds);
  free(root);
}

static void hostile_label(json_t *items)
{
  json_object_set_new(first_in(items, "train", 0), "label", json_string(".."));
}

static void tame_label(json_t *items)
{
  json_object_set_new(first_in(items, "train", 0), "label", json_string("cat"));
}

Test(split_cli, list_export_and_release)
{
  char *root = tu_tmpdir(), *ds = du_fmt("%s/ds", root), *in = du_fmt("%s/in", root);
  pictures(root, "in", 1, 30, 0);
  collect_label(ds, in, "b1", "2");
  /* a label with a comma and a quote for the CSV */
  char *csv = du_fmt("%s/l.csv", root), *body = du_fmt("%s/in/cat/2.ppm,\"a,\"\"b\"\n", root);
  du_put(csv, body);
  char *from = du_fmt("csv:%s", csv);
  cr_assert_eq(du_run(NULL, NULL, "edgeset-label", "-d", ds, "--from", from, "-q", NULL), 0);
  cr_assert_eq(du_run(NULL, NULL, "edgeset-split", "-d", ds, "--seed", "2", "-q", NULL), 0);

  char *out = NULL;
  cr_assert_eq(du_run(&out, NULL, "edgeset-split", "-d", ds, "--list", "test", NULL), 0);
  size_t lines = 0;
  for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n"), lines++)
    cr_assert_eq(access(l, R_OK), 0, "listed path %s does not exist", l);
  cr_assert_eq(lines, 3, "10%% of 30");
  free(out);
  cr_assert_eq(du_run(&out, NULL, "edgeset-split", "-d", ds, "--list", "train", "-0", NULL), 0);
  cr_assert_null(strchr(out, '\n'));
  free(out);

  char *exp = du_fmt("%s/export", root);
  cr_assert_eq(du_run(&out, NULL, "edgeset-split", "-d", ds, "--export", exp, "--layout",
                      "folders", "--json", NULL),
               0);
  json_t *j = json_loads(out, 0, NULL);
  cr_assert_eq(json_integer_value(json_object_get(json_object_get(j, "export"), "files")), 30);
  json_decref(j);
  free(out);
  char *listing = NULL;
  char *ls = du_fmt("cd %s && find . -type f | sort > %s/files.txt", exp, root);
  cr_assert_eq(system(ls), 0);
  char *fl = du_fmt("%s/files.txt", root);
  listing = du_slurp(fl);
  cr_assert(strstr(listing, "./train/cat/"), "%s", listing);
  cr_assert(strstr(listing, "./test/"), "%s", listing);
  cr_assert(strstr(listing, "./train/a,\"b/") || strstr(listing, "./val/a,\"b/") ||
                strstr(listing, "./test/a,\"b/"),
            "%s", listing);
  char *first = strndup(listing + 2, strcspn(listing + 2, "\n"));
  char *fpath = du_fmt("%s/%s", exp, first);
  struct stat sb;
  cr_assert_eq(stat(fpath, &sb), 0);
  cr_assert_geq(sb.st_nlink, 2, "not a hard link to the object");
  free(first);
  free(fpath);

  char *exp2 = du_fmt("%s/export2", root);
  cr_assert_eq(du_run(NULL, NULL, "edgeset-split", "-d", ds, "--export", exp2, "--layout", "csv",
                      "-q", NULL),
               0);
  char *sp = du_fmt("%s/split.csv", exp2), *csvout = du_slurp(sp);
  cr_assert(!strncmp(csvout, "path,label,split\r\n", 18));
  cr_assert(strstr(csvout, ",\"a,\"\"b\",") != NULL, "%s", csvout);
  free(csvout);
  free(sp);

  /* a symlink planted inside DIR pointing outside is never followed */
  char *outside = du_fmt("%s/outside", root), *exp3 = du_fmt("%s/export3", root);
  du_mkdirs(outside);
  du_mkdirs(exp3);
  char *link = du_fmt("%s/train", exp3);
  cr_assert_eq(symlink(outside, link), 0);
  char *err = NULL;
  int rc = du_run(NULL, &err, "edgeset-split", "-d", ds, "--export", exp3, "--layout", "folders",
                  NULL);
  cr_assert_eq(rc, 3, "%s", err);
  cr_assert(strstr(err, "symlink"), "%s", err);
  free(err);
  char *cnt = du_fmt("test -z \"$(ls -A %s)\"", outside);
  cr_assert_eq(system(cnt), 0, "something was written outside the export directory");
  free(cnt);

  /* a label that could escape is refused before anything is written: by the manifest reader,
   * which names the line (formats/labels.h, the one label rule) */
  edit_manifest(ds, hostile_label);
  char *exp4 = du_fmt("%s/export4", root);
  rc = du_run(NULL, &err, "edgeset-split", "-d", ds, "--export", exp4, "--layout", "folders",
              NULL);
  cr_assert_eq(rc, 3, "%s", err);
  cr_assert(strstr(err, "field 'label' is '..'"), "%s", err);
  cr_assert_neq(access(exp4, F_OK), 0, "the export directory was created");
  free(err);
  edit_manifest(ds, tame_label);

  /* release: an explicit command that says what it does */
  rc = du_run(&out, &err, "edgeset-split", "-d", ds, "--release", "test", NULL);
  cr_assert_eq(rc, 0, "%s", err);
  cr_assert(strstr(out, "released 3 items of held-out set 'test'"), "%s", out);
  free(out);
  free(err);
  cr_assert_eq(du_run(&out, NULL, "edgeset-split", "-d", ds, "--list", "test", NULL), 0);
  cr_assert_str_eq(out, "");
  free(out);
  cr_assert_eq(du_run(NULL, NULL, "edgeset-split", "-d", ds, "--release", "test", NULL), 2);
  cr_assert_eq(du_run(NULL, NULL, "edgeset-split", "-d", ds, "--ratios", "1:2:3:4", NULL), 2);
  cr_assert_eq(du_run(NULL, NULL, "edgeset-split", "-d", ds, "--export", exp, NULL), 2);

  free(exp4);
  free(link);
  free(exp3);
  free(outside);
  free(exp2);
  free(listing);
  free(fl);
  free(ls);
  free(exp);
  free(from);
  free(body);
  free(csv);
  free(in);
  free(ds);
  free(root);
}
