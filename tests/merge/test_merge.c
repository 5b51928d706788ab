/* edgeset collect --shard K/N and edgeset-merge (docs/merge.md): for the same inputs, paths,
 * batch and time zone, N shards merged in any order give the manifest, objects, signatures and
 * quarantine of one collect, byte for byte, on a new dataset and on one with earlier batches
 * (duplicates across batches and shards, pixel duplicates, near duplicates, corrupt files, bad
 * sidecars, content edgeset rm removed). Merging again changes nothing; wrong parts are refused
 * and leave the dataset as it was; a merge killed at any write point leaves it as it was and
 * its re-run completes it; 4 shards run as 4 jobs of GNU Parallel merge to one collect too. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cliutil.h"
#include "testutil.h"

static int run(const char *prog, const char *const *args, char **out)
{
  char *err = NULL;
  int rc = cu_run(prog, args, NULL, out, &err);
  if (rc && rc != 2)
    cr_log_warn("%s: %s", prog, err ? err : "");
  free(err);
  return rc;
}

static void copy_file(const char *from, const char *to)
{
  size_t len;
  uint8_t *b = tu_read(from, &len);
  cr_assert(b, "%s", from);
  cr_assert_eq(tu_write(to, b, len), 0);
  free(b);
}

static const char *const photos[] = {"camera.png", "chelsea.png", "coffee.png", "china.jpg"};

/* Batch `round` of captures under in/: smooth pictures in three camera folders, near duplicates
 * (noise), exact copies, pixel duplicates (a PPM and its PNG), real photos, a file that is no
 * image, a corrupt PNG and a broken sidecar. Round 2 repeats some of round 1's bytes and
 * pixels. */
static void make_batch(const char *in, int round)
{
  for (int c = 0; c < 3; c++) {
    char *dir = cu_fmt("%s/cam%d", in, c);
    cu_mkdirs(dir);
    free(dir);
  }
  for (int k = 0; k < 24; k++) {
    char *dir = cu_fmt("%s/cam%d", in, k % 3);
    unsigned seed = 900 + (unsigned)k * 7 + (unsigned)round * 1000;
    char *p = cu_fmt("%s/r%d_%02d.ppm", dir, round, k);
    cu_write_ppm(p, 48 + k, 40, seed, 0, 0, 1.0);
    if (k % 4 == 0) { /* a near duplicate, elsewhere */
      char *q = cu_fmt("%s/cam%d/r%d_%02d_near.ppm", in, (k + 1) % 3, round, k);
      cu_write_ppm(q, 48 + k, 40, seed, 3, (unsigned)k, 1.0);
      free(q);
    }
    if (k % 5 == 0) { /* its PNG: the same pixels in other bytes */
      char *q = cu_fmt("%s/cam%d/r%d_%02d.png", in, (k + 2) % 3, round, k);
      cu_ppm_to_png(p, q, 6);
      free(q);
    }
    if (k % 6 == 0) { /* a retried upload */
      char *q = cu_fmt("%s/r%d_%02d_copy.ppm", dir, round, k);
      copy_file(p, q);
      free(q);
    }
    free(p);
    free(dir);
  }
  for (size_t i = 0; i < sizeof photos / sizeof *photos; i++) {
    char *from = tu_data(cu_fmt("photos/%s", photos[i]));
    char *to = cu_fmt("%s/cam%zu/r%d_%s", in, i % 3, round, photos[i]);
    copy_file(from, to);
    free(from);
    free(to);
  }
  char *bad = cu_fmt("%s/cam1/r%d_notes.jpg", in, round);
  cr_assert_eq(tu_write(bad, "not a picture\n", 14), 0);
  char *side = cu_fmt("%s/cam2/r%d_00.ppm.json", in, round);
  cr_assert_eq(tu_write(side, "{\"device\":", 10), 0);
  char *trunc = cu_fmt("%s/cam0/r%d_trunc.png", in, round);
  cu_ppm_to_png(cu_fmt("%s/cam0/r%d_00.ppm", in, round), trunc, 6);
  cr_assert_eq(truncate(trunc, 200), 0);
  free(bad);
  free(side);
  free(trunc);
}

static void collect(const char *ds, const char *in, const char *batch, const char *shard)
{
  const char *args[16] = {"-d", ds, "--batch", batch, "--device-from", "dir:1", "-q"};
  int n = 7;
  if (shard) {
    args[n++] = "--shard";
    args[n++] = shard;
  }
  args[n++] = in;
  cr_assert_eq(run("edgeset-collect", args, NULL), 0, "collect %s", ds);
}

/* The sorted names of the files under dir/objects, with their bytes checked equal. */
static void same_objects(const char *a, const char *b)
{
  char *la = NULL, *lb = NULL;
  char *da = cu_fmt("%s/objects", a), *db = cu_fmt("%s/objects", b);
  cr_assert_eq(tu_run((char *[]){"/bin/sh", "-c", "cd \"$0\" && find . -type f | sort", da,
                                 NULL}, NULL, &la, NULL), 0);
  cr_assert_eq(tu_run((char *[]){"/bin/sh", "-c", "cd \"$0\" && find . -type f | sort", db,
                                 NULL}, NULL, &lb, NULL), 0);
  cr_assert_str_eq(la, lb, "object sets differ");
  cr_assert_eq(tu_run((char *[]){"/bin/sh", "-c",
                                 "cd \"$0\" && find . -type f | while read f; do cmp -s \"$f\" "
                                 "\"$1/$f\" || exit 1; done", da, db, NULL}, NULL, NULL, NULL),
               0, "object bytes differ");
  free(la);
  free(lb);
  free(da);
  free(db);
}

static void same_file(const char *a, const char *b, const char *name)
{
  char *pa = cu_fmt("%s/%s", a, name), *pb = cu_fmt("%s/%s", b, name);
  size_t na = 0, nb = 0;
  uint8_t *ba = tu_read(pa, &na), *bb = tu_read(pb, &nb);
  cr_assert(ba && bb, "%s or %s missing", pa, pb);
  cr_assert(na == nb && !memcmp(ba, bb, na), "%s differs from %s", pb, pa);
  free(ba);
  free(bb);
  free(pa);
  free(pb);
}

static void same_dataset(const char *a, const char *b)
{
  same_file(a, b, "manifest.jsonl");
  same_file(a, b, "quarantine.jsonl");
  same_file(a, b, "signatures.bin");
  same_objects(a, b);
}

/* N shards of batch into parts/<tag>K, merged into ds with the parts in the order given. */
static void shard_and_merge(const char *tmp, const char *ds, const char *in, const char *batch,
                            int n, const int *order, const char *tag)
{
  const char *args[40] = {"-d", ds, "-q"};
  int na = 3;
  char *paths[32];
  for (int k = 0; k < n; k++) {
    paths[k] = cu_fmt("%s/parts/%s%d", tmp, tag, k);
    char *shard = cu_fmt("%d/%d", k, n);
    collect(paths[k], in, batch, shard);
    free(shard);
  }
  for (int k = 0; k < n; k++)
    args[na++] = paths[order[k]];
  cr_assert_eq(run("edgeset-merge", args, NULL), 0, "merge into %s", ds);
  for (int k = 0; k < n; k++)
    free(paths[k]);
}

static char *setup_tmp(void)
{
  char *tmp = tu_tmpdir();
  cr_assert(tmp);
  setenv("TZ", "UTC", 1);
  setenv("SOURCE_DATE_EPOCH", "1790000000", 1);
  cu_mkdirs(cu_fmt("%s/parts", tmp));
  return tmp;
}

Test(merge, shards_in_any_order_equal_one_collect)
{
  char *tmp = setup_tmp();
  char *in1 = cu_fmt("%s/in1", tmp), *in2 = cu_fmt("%s/in2", tmp);
  make_batch(in1, 1);
  make_batch(in2, 2);
  /* round 2 repeats bytes and pixels of round 1 */
  copy_file(cu_fmt("%s/cam0/r1_00.ppm", in1), cu_fmt("%s/cam1/again_00.ppm", in2));
  cu_ppm_to_png(cu_fmt("%s/cam0/r1_03.ppm", in1), cu_fmt("%s/cam2/again_03.png", in2), 9);

  char *one = cu_fmt("%s/one", tmp);
  collect(one, in1, "b1", NULL);
  static const int orders[][5] = {{0}, {1, 0}, {2, 0, 1}, {4, 2, 0, 3, 1}};
  static const int ns[] = {1, 2, 3, 5};
  for (int t = 0; t < 4; t++) {
    char *ds = cu_fmt("%s/m%d", tmp, ns[t]), *tag = cu_fmt("n%d_", ns[t]);
    shard_and_merge(tmp, ds, in1, "b1", ns[t], orders[t], tag);
    same_dataset(one, ds);
    free(ds);
    free(tag);
  }
  /* a second batch onto datasets with a first one */
  collect(one, in2, "b2", NULL);
  char *m3 = cu_fmt("%s/m3", tmp);
  shard_and_merge(tmp, m3, in2, "b2", 3, (const int[]){1, 2, 0}, "b2_");
  same_dataset(one, m3);
  /* objects of the same file system are hard links to the parts' */
  struct stat sb;
  char *obj = NULL;
  json_t *m = cu_jsonl(cu_fmt("%s/manifest.jsonl", m3));
  const char *id = json_string_value(json_object_get(json_array_get(m, 0), "id"));
  const char *fmt = json_string_value(json_object_get(json_array_get(m, 0), "format"));
  obj = cu_fmt("%s/objects/%.2s/%s.%s", m3, id, id, !strcmp(fmt, "jpeg") ? "jpg" : fmt);
  cr_assert_eq(stat(obj, &sb), 0, "%s", obj);
  cr_assert_gt(sb.st_nlink, 1, "the object is a copy, not a link");
  json_decref(m);
  free(obj);

  /* merging the same parts again changes nothing */
  char *out = NULL;
  char *p0 = cu_fmt("%s/parts/b2_0", tmp), *p1 = cu_fmt("%s/parts/b2_1", tmp),
       *p2 = cu_fmt("%s/parts/b2_2", tmp);
  char *ledger = cu_fmt("%s/ledger.jsonl", m3);
  json_t *before = cu_jsonl(ledger);
  cr_assert_eq(run("edgeset-merge", (const char *const[]){"-d", m3, "--json", p2, p0, p1, NULL},
                   &out), 0);
  json_t *j = json_loads(out, 0, NULL);
  cr_assert(j && json_is_false(json_object_get(j, "changed")), "%s", out);
  json_t *after = cu_jsonl(ledger);
  cr_assert_eq(json_array_size(after), json_array_size(before), "a no-op merge wrote the ledger");
  same_dataset(one, m3);
  json_decref(j);
  json_decref(before);
  json_decref(after);
  free(out);
}

static char *tree_listing(const char *dir)
{
  char *out = NULL;
  cr_assert_eq(tu_run((char *[]){"/bin/sh", "-c",
                                 "cd \"$0\" && find . -path ./.tmp -prune -o -path ./.lock "
                                 "-prune -o -type f -print | sort | while read f; do "
                                 "cksum \"$f\"; done", (char *)dir, NULL}, NULL, &out, NULL), 0);
  return out;
}

Test(merge, refusals_change_nothing)
{
  char *tmp = setup_tmp();
  char *in = cu_fmt("%s/in", tmp), *ds = cu_fmt("%s/ds", tmp);
  make_batch(in, 1);
  collect(ds, in, "b0", NULL);
  char *p[3];
  for (int k = 0; k < 3; k++) {
    p[k] = cu_fmt("%s/parts/p%d", tmp, k);
    collect(p[k], in, "b1", cu_fmt("%d/3", k));
  }
  char *other = cu_fmt("%s/parts/other", tmp);
  cr_assert_eq(run("edgeset-collect", (const char *const[]){"-d", other, "--near", "12",
                                                            "--batch", "b1", "--shard", "0/1",
                                                            "-q", in, NULL}, NULL), 0);
  char *listing = tree_listing(ds);
  char *err = NULL;
  /* a shard missing */
  cr_assert_eq(cu_run("edgeset-merge", (const char *const[]){"-d", ds, p[0], p[2], NULL}, NULL,
                      NULL, &err), 2);
  cr_assert(strstr(err, "shard 1/3 of batch 'b1' is missing"), "%s", err);
  free(err);
  /* other settings */
  cr_assert_eq(cu_run("edgeset-merge", (const char *const[]){"-d", ds, other, NULL}, NULL, NULL,
                      &err), 2);
  cr_assert(strstr(err, "other settings") && strstr(err, "near"), "%s", err);
  free(err);
  /* a batch the dataset has from a collect */
  char *again = cu_fmt("%s/parts/again", tmp);
  collect(again, in, "b0", "0/1");
  cr_assert_eq(cu_run("edgeset-merge", (const char *const[]){"-d", ds, again, NULL}, NULL, NULL,
                      &err), 2);
  cr_assert(strstr(err, "already has batch 'b0'"), "%s", err);
  free(err);
  /* a shard twice, and parts of two batches */
  cr_assert_eq(cu_run("edgeset-merge", (const char *const[]){"-d", ds, p[0], p[1], p[1], p[2],
                                                             NULL}, NULL, NULL, &err), 2);
  free(err);
  cr_assert_eq(cu_run("edgeset-merge", (const char *const[]){"-d", ds, p[0], again, NULL},
                      NULL, NULL, &err), 2);
  free(err);
  char *now = tree_listing(ds);
  cr_assert_str_eq(now, listing, "a refused merge changed the dataset");
  /* a refused merge into a new directory does not create it */
  char *fresh = cu_fmt("%s/fresh", tmp);
  cr_assert_eq(cu_run("edgeset-merge", (const char *const[]){"-d", fresh, p[0], NULL}, NULL,
                      NULL, &err), 2);
  free(err);
  struct stat sb;
  cr_assert_neq(stat(fresh, &sb), 0);
  /* damaged objects in a part: refused, nothing changed (every object of the part, since an
   * item whose bytes are in two shards may be taken from the other) */
  cr_assert_eq(tu_run((char *[]){"/bin/sh", "-c",
                                 "find \"$0/objects\" -type f | while read f; do printf X | dd "
                                 "of=\"$f\" bs=1 seek=60 conv=notrunc 2>/dev/null; done",
                                 p[1], NULL}, NULL, NULL, NULL), 0);
  char *in2 = cu_fmt("%s/in2", tmp), *ds2 = cu_fmt("%s/ds2", tmp);
  make_batch(in2, 2);
  collect(ds2, in2, "b0", NULL);
  free(listing);
  listing = tree_listing(ds2);
  cr_assert_eq(cu_run("edgeset-merge", (const char *const[]){"-d", ds2, p[0], p[1], p[2], NULL},
                      NULL, NULL, &err), 3, "%s", err);
  cr_assert(strstr(err, "damaged"), "%s", err);
  free(err);
  free(now);
  now = tree_listing(ds2);
  cr_assert_str_eq(now, listing, "a failed merge changed the dataset");
  /* ... and into a new directory, leaves none */
  char *fresh2 = cu_fmt("%s/fresh2", tmp);
  cr_assert_eq(cu_run("edgeset-merge", (const char *const[]){"-d", fresh2, p[0], p[1], p[2],
                                                             NULL}, NULL, NULL, &err), 3);
  free(err);
  cr_assert_neq(stat(fresh2, &sb), 0, "a failed merge left '%s'", fresh2);
}

/* Killed at each write point of its commit, a merge leaves the manifest, quarantine and ledger
 * as they were (only the batch record of the documented window may come ahead), and the re-run
 * ends where one uninterrupted collect does. */
Test(merge, killed_merge_leaves_dataset_and_rerun_completes)
{
  char *tmp = setup_tmp();
  char *in = cu_fmt("%s/in", tmp), *one = cu_fmt("%s/one", tmp);
  make_batch(in, 1);
  collect(one, in, "b1", NULL);
  char *p[2];
  for (int k = 0; k < 2; k++) {
    p[k] = cu_fmt("%s/parts/p%d", tmp, k);
    collect(p[k], in, "b1", cu_fmt("%d/2", k));
  }
  static const char *const points[] = {"object-data:3", "object-rename:2", "manifest-data:1",
                                       "manifest-rename:1", "signatures-rename:1",
                                       "quarantine-append:1", "ledger-append:2"};
  for (size_t i = 0; i < sizeof points / sizeof *points; i++) {
    char *ds = cu_fmt("%s/k%zu", tmp, i);
    char *bin = tu_bin("edgeset-merge");
    pid_t pid = fork();
    if (pid == 0) {
      setenv("EDGESET_CRASH_AT", points[i], 1);
      int null = open("/dev/null", O_WRONLY);
      dup2(null, 1);
      dup2(null, 2);
      execv(bin, (char *[]){bin, "-d", ds, "-q", p[1], p[0], NULL});
      _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    free(bin);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
              "%s: the merge was not killed", points[i]);
    size_t len = 0;
    uint8_t *mf = tu_read(cu_fmt("%s/manifest.jsonl", ds), &len);
    if (i < 3) { /* before the commit point: nothing of the batch */
      cr_assert(!mf || len == 0, "%s: a manifest before the commit point", points[i]);
      uint8_t *q = tu_read(cu_fmt("%s/quarantine.jsonl", ds), &len);
      cr_assert(!q || len == 0, "%s: quarantine records before the commit point", points[i]);
      free(q);
    }
    free(mf);
    cr_assert_eq(run("edgeset-merge", (const char *const[]){"-d", ds, "-q", p[0], p[1], NULL},
                     NULL), 0, "%s: the re-run failed", points[i]);
    same_dataset(one, ds);
    free(ds);
  }
}

Test(merge, removed_content_is_refused_as_collect_refuses_it)
{
  char *tmp = setup_tmp();
  char *in1 = cu_fmt("%s/in1", tmp), *in2 = cu_fmt("%s/in2", tmp);
  make_batch(in1, 1);
  make_batch(in2, 2);
  copy_file(cu_fmt("%s/cam0/r1_03.ppm", in1), cu_fmt("%s/cam0/back.ppm", in2));
  cu_ppm_to_png(cu_fmt("%s/cam0/r1_03.ppm", in1), cu_fmt("%s/cam1/back.png", in2), 9);
  char *one = cu_fmt("%s/one", tmp), *m = cu_fmt("%s/m", tmp);
  collect(one, in1, "b1", NULL);
  shard_and_merge(tmp, m, in1, "b1", 2, (const int[]){0, 1}, "a");
  /* remove the same item from both */
  json_t *man = cu_jsonl(cu_fmt("%s/manifest.jsonl", one));
  const char *victim = NULL;
  size_t i;
  json_t *it;
  json_array_foreach(man, i, it)
  {
    const char *src = json_string_value(json_object_get(it, "src"));
    if (src && strstr(src, "r1_03.ppm"))
      victim = json_string_value(json_object_get(it, "id"));
  }
  cr_assert(victim);
  for (int k = 0; k < 2; k++)
    cr_assert_eq(run("edgeset-rm", (const char *const[]){"-d", k ? m : one, "-q", victim, NULL},
                     NULL), 0);
  collect(one, in2, "b2", NULL);
  shard_and_merge(tmp, m, in2, "b2", 2, (const int[]){1, 0}, "b");
  same_dataset(one, m);
  json_t *q = cu_jsonl(cu_fmt("%s/quarantine.jsonl", m));
  size_t redacted = 0;
  json_array_foreach(q, i, it) redacted +=
      !strcmp(json_string_value(json_object_get(it, "code")), "redacted");
  cr_assert_eq(redacted, 2, "the copy and the PNG of removed content are refused");
  json_decref(q);
  json_decref(man);
}

/* The way users run it: GNU Parallel runs the 4 shards as 4 local jobs; --consume deletes the
 * parts once merged. */
Test(merge, gnu_parallel_shards_then_merge)
{
  char *tmp = setup_tmp();
  char *in = cu_fmt("%s/in", tmp), *one = cu_fmt("%s/one", tmp), *m = cu_fmt("%s/m", tmp);
  make_batch(in, 1);
  collect(one, in, "b1", NULL);
  char *collect_bin = tu_bin("edgeset-collect");
  char *job = cu_fmt("%s -d %s/parts/p{} --shard {}/4 --batch b1 --device-from dir:1 -q %s",
                     collect_bin, tmp, in);
  char *err = NULL;
  int rc = tu_run((char *[]){"/usr/bin/parallel", "--halt", "now,fail=1", "-j", "4", job,
                             ":::", "0", "1", "2", "3", NULL}, NULL, NULL, &err);
  cr_assert_eq(rc, 0, "parallel: %s", err ? err : "");
  free(err);
  char *parts[4];
  for (int k = 0; k < 4; k++)
    parts[k] = cu_fmt("%s/parts/p%d", tmp, 3 - k);
  cr_assert_eq(run("edgeset-merge", (const char *const[]){"-d", m, "--consume", "-q", parts[0],
                                                          parts[1], parts[2], parts[3], NULL},
                   NULL), 0);
  same_dataset(one, m);
  struct stat sb;
  for (int k = 0; k < 4; k++)
    cr_assert_neq(stat(parts[k], &sb), 0, "--consume left %s", parts[k]);
  free(collect_bin);
  free(job);
}

/* Parts collected with --store ref hold no objects: merged with --store ref they give one
 * collect --store ref's manifest; without it they are refused and leave no dataset behind. */
Test(merge, reference_parts)
{
  char *tmp = setup_tmp();
  char *in = cu_fmt("%s/in", tmp), *one = cu_fmt("%s/one", tmp), *m = cu_fmt("%s/m", tmp);
  make_batch(in, 1);
  const char *args[] = {"-d", one, "--store", "ref", "--batch", "b1", "-q", in, NULL};
  cr_assert_eq(run("edgeset-collect", args, NULL), 0);
  char *p[2];
  for (int k = 0; k < 2; k++) {
    p[k] = cu_fmt("%s/parts/p%d", tmp, k);
    char *shard = cu_fmt("%d/2", k);
    const char *a[] = {"-d", p[k], "--store", "ref", "--shard", shard, "--batch", "b1", "-q",
                       in, NULL};
    cr_assert_eq(run("edgeset-collect", a, NULL), 0);
    free(shard);
  }
  char *err = NULL;
  cr_assert_eq(cu_run("edgeset-merge", (const char *const[]){"-d", m, p[1], p[0], NULL}, NULL,
                      NULL, &err), 2);
  cr_assert(strstr(err, "--store ref"), "%s", err);
  free(err);
  struct stat sb;
  cr_assert_neq(stat(m, &sb), 0, "a refused merge left '%s'", m);
  cr_assert_eq(run("edgeset-merge", (const char *const[]){"-d", m, "--store", "ref", "-q", p[1],
                                                          p[0], NULL}, NULL), 0);
  same_file(one, m, "manifest.jsonl");
  same_file(one, m, "quarantine.jsonl");
  same_file(one, m, "signatures.bin");
}
