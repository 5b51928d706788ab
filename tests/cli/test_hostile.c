/* Hostile input: datasets damaged from outside and inputs that are not what they seem.
 *
 * - A manifest whose last line is torn (cut mid-line by an interrupted copy, a full disk, a
 *   sync client) or with garbage in the middle stops every program that reads it with exit 3,
 *   naming the file and the line: nothing is dropped, rewritten or reported as fine. The
 *   programs are those the dispatcher lists (`edgeset --help`), each with the commands that
 *   reach the manifest by its two roads (parsed JSON, or index.bin).
 * - On a read-only dataset collect and augment fail with the real reason first, and
 *   collect --dry-run works.
 * - A collect that fails before its commit (a full disk, a kill) leaves no batch record.
 * - Quarantine records never copy the contents of a file (a link to /etc/passwd). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cliutil.h"
#include "core/hash.h"
#include "core/store.h"
#include "formats/index.h"
#include "formats/manifest.h"
#include "testutil.h"

/* Runs a shell command made by cu_fmt() and frees it. */
static void sh(char *cmd)
{
  int rc = system(cmd);
  cr_assert(rc == 0, "command failed (%d): %s", rc, cmd);
  free(cmd);
}

static char *src_path(const char *rel)
{
  const char *src = getenv("EDGESET_SOURCE");
  cr_assert(src, "EDGESET_SOURCE is not set (run through ctest)");
  return cu_fmt("%s/%s", src, rel);
}

/* Runs build/bin/edgeset-<stage>; returns the exit status, stderr in *err (malloc'd). */
static int run_stage(const char *stage, const char *const *args, char **out, char **err)
{
  char *prog = cu_fmt("edgeset-%s", stage);
  int rc = cu_run(prog, args, NULL, out, err);
  free(prog);
  return rc;
}

static char *slurp(const char *path, size_t *len)
{
  size_t n = 0;
  char *b = (char *)tu_read(path, &n);
  if (len)
    *len = n;
  return b;
}

static long count_objects(const char *ds)
{
  char *cmd = cu_fmt("find '%s/objects' -type f | wc -l", ds);
  FILE *p = popen(cmd, "r");
  cr_assert(p);
  long n = -1;
  cr_assert(fscanf(p, "%ld", &n) == 1);
  pclose(p);
  free(cmd);
  return n;
}

/* ---- a dataset every program can work on ---------------------------------------------- */

/* Six pictures in two batches (b1: 4, b2: 2) in class folders "bag" and "coat" (classes of
 * models/labels.txt, so that eval runs the repository's model on it), labelled and split.
 * Returns the dataset path (caller frees). */
static char *make_dataset(const char *root)
{
  char *ds = cu_fmt("%s/fixture", root);
  for (int b = 1; b <= 2; b++) {
    for (int i = 0; i < (b == 1 ? 4 : 2); i++) {
      char *dir = cu_fmt("%s/in/b%d/%s", root, b, i % 2 ? "coat" : "bag");
      cu_mkdirs(dir);
      char *p = cu_fmt("%s/p%d.ppm", dir, i);
      cu_write_ppm(p, 40, 32, 300 + (unsigned)(b * 10 + i), 0, 0, 1.0);
      free(p);
      free(dir);
    }
    char *bn = cu_fmt("b%d", b), *in = cu_fmt("%s/in/b%d", root, b);
    char *err = NULL;
    cr_assert_eq(run_stage("collect", (const char *[]){"-d", ds, "--batch", bn, "-q", in, NULL},
                           NULL, &err),
                 0, "%s", err);
    free(err);
    free(bn);
    free(in);
  }
  char *labels = src_path("models/labels.txt"), *err = NULL;
  cr_assert_eq(run_stage("label",
                         (const char *[]){"-d", ds, "--from", "dir:1", "--labels", labels, "-q",
                                          NULL},
                         NULL, &err),
               0, "%s", err);
  free(err);
  cr_assert_eq(run_stage("split", (const char *[]){"-d", ds, "--ratios", "50:0:50", "-q", NULL},
                         NULL, &err),
               0, "%s", err);
  free(err);
  free(labels);
  return ds;
}

/* One command per road to the manifest. "@DS" is the dataset, "@IMG" a new picture, "@PART" a
 * part dataset holding it (merge), "@MODEL" and "@LABELS" the repository's model and its
 * labels. */
static char *part_dir;
typedef struct cmd_case {
  const char *stage;
  const char *args[12];
} cmd_case;

static const cmd_case cases[] = {
    {"collect", {"-d", "@DS", "--batch", "b3", "-q", "@IMG"}},
    {"collect", {"-d", "@DS", "--batch", "b3", "--dry-run", "-q", "@IMG"}},
    {"label", {"-d", "@DS", "--balance", "-q"}},
    {"label", {"-d", "@DS", "--from", "dir:1", "-q"}},
    {"split", {"-d", "@DS", "--verify", "-q"}},
    {"split", {"-d", "@DS", "--list", "train"}},
    {"split", {"-d", "@DS", "-q"}},
    {"augment", {"-d", "@DS", "--per-image", "1", "--ops", "hflip", "-q"}},
    {"eval", {"-d", "@DS", "--model", "@MODEL", "--labels", "@LABELS", "--split", "test", "-q"}},
    {"drift", {"-d", "@DS", "--reference", "batch:b1", "--current", "batch:b2", "-q"}},
    {"drift",
     {"-d", "@DS", "--reference", "batch:b1", "--current", "batch:b2", "--stats-only", "-q"}},
    {"rm", {"-d", "@DS", "--batch", "b1", "-q"}},
    {"rm", {"-d", "@DS", "--batch", "b1", "--dry-run", "-q"}},
    {"gc", {"-d", "@DS", "-q"}},
    /* @PART: a part dataset of one new picture (collect --shard 0/1 --batch b9) */
    {"merge", {"-d", "@DS", "-q", "@PART"}},
    /* fsck reports the damage as what it found: exit 1, on stdout (checked apart below) */
    {"fsck", {"-d", "@DS", "-q"}},
};
#define N_CASES (sizeof cases / sizeof *cases)

static void case_argv(const cmd_case *c, const char *ds, const char *img, const char *model,
                      const char *labels, const char *argv[16])
{
  size_t n = 0;
  for (const char *const *a = c->args; *a; a++)
    argv[n++] = !strcmp(*a, "@DS")       ? ds
                : !strcmp(*a, "@IMG")    ? img
                : !strcmp(*a, "@PART")   ? part_dir
                : !strcmp(*a, "@MODEL")  ? model
                : !strcmp(*a, "@LABELS") ? labels
                                         : *a;
  argv[n] = NULL;
}

static char *case_name(const cmd_case *c)
{
  char *s = cu_fmt("edgeset-%s", c->stage);
  for (const char *const *a = c->args; *a; a++) {
    char *t = cu_fmt("%s %s", s, *a);
    free(s);
    s = t;
  }
  return s;
}

/* The stages `edgeset --help` lists ("  NAME   what it does"). */
static size_t listed_stages(char names[16][32])
{
  char *out = NULL;
  cr_assert_eq(cu_run("edgeset", (const char *[]){"--help", NULL}, NULL, &out, NULL), 0);
  size_t n = 0;
  for (char *line = strtok(out, "\n"); line && n < 16; line = strtok(NULL, "\n")) {
    char name[32];
    int used = 0;
    if (line[0] == ' ' && line[1] == ' ' && line[2] >= 'a' && line[2] <= 'z' &&
        sscanf(line, " %31[a-z]%n", name, &used) == 1 && line[used] == ' ' &&
        line[used + 1] == ' ')
      snprintf(names[n++], 32, "%s", name);
  }
  free(out);
  return n;
}

/* An index.bin that matches the torn manifest's bytes, as an edgeset that skipped the torn line
 * would have written: the readers that trust index.bin must not take it. */
static void write_index_for_torn(const char *ds, const char *torn, size_t torn_len)
{
  size_t keep = torn_len;
  while (keep > 0 && torn[keep - 1] != '\n')
    keep--;
  es_manifest m = {0};
  es_error err = {0};
  cr_assert_eq(es_manifest_parse((const uint8_t *)torn, keep, &m, &err), ES_OK, "%s", err.msg);
  char hash[33];
  es_hash_hex(torn, torn_len, hash);
  es_index ix;
  cr_assert_eq(es_index_from_manifest(&m, torn_len, hash, &ix, &err), ES_OK, "%s", err.msg);
  size_t len = 0;
  uint8_t *b = es_index_serialize(&ix, &len, &err);
  cr_assert(b, "%s", err.msg);
  char *path = cu_fmt("%s/index.bin", ds);
  cr_assert_eq(tu_write(path, b, len), 0);
  free(path);
  free(b);
  es_index_free(&ix);
  es_manifest_free(&m);
}

/* Damages ds's manifest: kind 0 tears its last line, 1 puts garbage on line 2. Returns the line
 * the error must name. */
static int damage(const char *ds, int kind)
{
  char *mpath = cu_fmt("%s/manifest.jsonl", ds);
  size_t len;
  char *m = slurp(mpath, &len);
  cr_assert(m && len > 40 && m[len - 1] == '\n');
  int lines = 0;
  for (size_t i = 0; i < len; i++)
    lines += m[i] == '\n';
  cr_assert_geq(lines, 3);
  int line;
  if (kind == 0) {
    size_t torn = len - 1 - 25; /* cut inside the last line: no newline, incomplete JSON */
    cr_assert_eq(tu_write(mpath, m, torn), 0);
    write_index_for_torn(ds, m, torn);
    line = lines;
  } else {
    char *nl = memchr(m, '\n', len);
    size_t first = (size_t)(nl - m) + 1;
    static const char junk[] = "<<<<<<< conflict from a sync client\n";
    char *out = malloc(len + sizeof junk);
    memcpy(out, m, first);
    memcpy(out + first, junk, sizeof junk - 1);
    memcpy(out + first + sizeof junk - 1, m + first, len - first);
    cr_assert_eq(tu_write(mpath, out, len + sizeof junk - 1), 0);
    free(out);
    line = 2;
  }
  free(m);
  free(mpath);
  return line;
}

Test(hostile, damaged_manifest_stops_every_program)
{
  char *root = tu_tmpdir();
  char *ds = make_dataset(root);
  char *img = cu_fmt("%s/new.ppm", root);
  cu_write_ppm(img, 40, 32, 999, 0, 0, 1.0);
  part_dir = cu_fmt("%s/part", root);
  cr_assert_eq(run_stage("collect", (const char *[]){"-d", part_dir, "--shard", "0/1", "--batch",
                                                     "b9", "-q", img, NULL}, NULL, NULL), 0);
  char *model = src_path("models/fashion_mnist_int8.tflite");
  char *labels = src_path("models/labels.txt");

  /* Every stage the dispatcher lists has a case. */
  char stages[16][32];
  size_t n_stages = listed_stages(stages);
  cr_assert_geq(n_stages, 6, "the stage list was not found in 'edgeset --help'");
  for (size_t s = 0; s < n_stages; s++) {
    int found = 0;
    for (size_t c = 0; c < N_CASES; c++)
      found |= !strcmp(cases[c].stage, stages[s]);
    cr_assert(found, "stage '%s' reads the manifest but has no case here", stages[s]);
  }

  for (size_t c = 0; c < N_CASES; c++) {
    char *name = case_name(&cases[c]);
    /* On the intact dataset the command does not fail (and leaves an index.bin for those that
     * read it), so that the exit 3 below is the damage's. */
    char *ok = cu_fmt("%s/ok%zu", root, c);
    sh(cu_fmt("cp -a '%s' '%s'", ds, ok));
    const char *argv[16];
    case_argv(&cases[c], ok, img, model, labels, argv);
    char *err = NULL;
    int rc = run_stage(cases[c].stage, argv, NULL, &err);
    cr_assert_neq(rc, 3, "%s on an intact dataset: exit 3: %s", name, err);
    free(err);
    free(ok);

    for (int kind = 0; kind < 2; kind++) {
      char *d = cu_fmt("%s/bad%zu_%d", root, c, kind);
      sh(cu_fmt("cp -a '%s' '%s'", ds, d));
      case_argv(&cases[c], d, img, model, labels, argv);
      int line = damage(d, kind);
      char *mpath = cu_fmt("%s/manifest.jsonl", d), *lpath = cu_fmt("%s/ledger.jsonl", d);
      char *qpath = cu_fmt("%s/quarantine.jsonl", d);
      size_t ml0, ll0, ql0;
      char *m0 = slurp(mpath, &ml0), *l0 = slurp(lpath, &ll0), *q0 = slurp(qpath, &ql0);
      long objs0 = count_objects(d);

      char *out = NULL;
      int checker = !strcmp(cases[c].stage, "fsck");
      rc = run_stage(cases[c].stage, argv, &out, &err);
      const char *what = kind ? "garbage on line 2" : "torn last line";
      cr_assert_eq(rc, checker ? 1 : 3, "%s with a %s: exit %d (want %d): %s", name, what, rc,
                   checker ? 1 : 3, err);
      if (checker) { /* the report is its output */
        free(err);
        err = out;
        out = NULL;
      }
      free(out);
      char *want = cu_fmt("%s/manifest.jsonl", d), *want_line = cu_fmt("line %d", line);
      cr_assert(strstr(err, want) && strstr(err, want_line),
                "%s with a %s: the error does not name '%s' and '%s': %s", name, what, want,
                want_line, err);
      cr_assert_null(strstr(err, "waiting"), "%s", err);

      /* Nothing was changed: no manifest rewritten without the item, no ledger record, no
       * object deleted. */
      size_t ml1, ll1, ql1;
      char *m1 = slurp(mpath, &ml1), *l1 = slurp(lpath, &ll1), *q1 = slurp(qpath, &ql1);
      cr_assert(ml0 == ml1 && !memcmp(m0, m1, ml0), "%s with a %s changed the manifest", name,
                what);
      cr_assert(ll0 == ll1 && (!ll0 || !memcmp(l0, l1, ll0)), "%s with a %s wrote the ledger",
                name, what);
      cr_assert(ql0 == ql1 && (!ql0 || !memcmp(q0, q1, ql0)),
                "%s with a %s wrote the quarantine", name, what);
      cr_assert_eq(count_objects(d), objs0, "%s with a %s changed objects/", name, what);
      free(m0);
      free(m1);
      free(l0);
      free(l1);
      free(q0);
      free(q1);
      free(want);
      free(want_line);
      free(err);
      free(mpath);
      free(lpath);
      free(qpath);
      free(d);
    }
    free(name);
  }
  free(model);
  free(labels);
  free(img);
  free(ds);
  sh(cu_fmt("rm -rf '%s'", root));
  free(root);
}

/* ---- read-only datasets -------------------------------------------------------------- */

/* A private mount namespace for this test process (Criterion runs each test in its own
 * process), so that mounts vanish with it. 0 when mounting is not permitted. */
static int private_mounts(void)
{
  if (unshare(CLONE_NEWNS) != 0)
    return 0;
  return mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0;
}

static int drop_write(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
  (void)ftw;
  if (flag != FTW_SL)
    chmod(path, sb->st_mode & 07555);
  return 0;
}

/* Makes dir read-only for this process and its children: a read-only bind mount over it (as
 * root, whom file modes do not stop), else (as another user) its modes. Returns 0 and the way
 * it did it in *how, or -1 when neither is possible. */
static int make_read_only(const char *dir, const char **how)
{
  if (geteuid() == 0) {
    if (!private_mounts() || mount(dir, dir, NULL, MS_BIND | MS_REC, NULL) != 0 ||
        mount(NULL, dir, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) != 0)
      return -1;
    *how = "Read-only file system";
  } else {
    nftw(dir, drop_write, 16, FTW_PHYS);
    *how = "Permission denied";
  }
  char *probe = cu_fmt("%s/probe", dir);
  int fd = open(probe, O_WRONLY | O_CREAT, 0666);
  free(probe);
  if (fd >= 0) {
    close(fd);
    return -1;
  }
  return 0;
}

Test(hostile, read_only_dataset)
{
  char *root = tu_tmpdir();
  char *ds = cu_fmt("%s/ds", root), *a = cu_fmt("%s/a.ppm", root), *b = cu_fmt("%s/b.ppm", root);
  cu_write_ppm(a, 40, 32, 51, 0, 0, 1.0);
  cu_write_ppm(b, 40, 32, 52, 0, 0, 1.0);
  char *err = NULL, *out = NULL;
  cr_assert_eq(run_stage("collect", (const char *[]){"-d", ds, "--batch", "b1", "-q", a, NULL},
                         NULL, &err),
               0, "%s", err);
  free(err);
  /* A second dataset without a .lock (made by another tool, or copied without hidden files). */
  char *ds2 = cu_fmt("%s/ds2", root);
  sh(cu_fmt("cp -a '%s' '%s' && rm '%s/.lock'", ds, ds2, ds2));
  const char *why = NULL;
  if (make_read_only(root, &why) != 0)
    cr_skip_test("cannot make a read-only dataset here: mounting is not permitted (a read-only "
                 "bind mount needs CAP_SYS_ADMIN) and file modes do not stop this user");

  /* The real error comes first, and alone: not "waiting for another edgeset process". */
  int rc = run_stage("collect", (const char *[]){"-d", ds, "--batch", "b2", b, NULL}, NULL, &err);
  cr_assert_eq(rc, 3, "%s", err);
  char *want = cu_fmt("edgeset-collect: cannot lock '%s/.lock': %s", ds, why);
  cr_assert(strncmp(err, want, strlen(want)) == 0, "got: %swant: %s", err, want);
  cr_assert_null(strstr(err, "waiting"), "%s", err);
  free(want);
  free(err);
  /* augment too: it takes the same lock before anything else */
  rc = run_stage("augment",
                 (const char *[]){"-d", ds, "--per-image", "1", "--ops", "hflip", NULL}, NULL,
                 &err);
  cr_assert_eq(rc, 3, "%s", err);
  want = cu_fmt("edgeset-augment: cannot lock '%s/.lock': %s", ds, why);
  cr_assert(strncmp(err, want, strlen(want)) == 0, "got: %swant: %s", err, want);
  free(want);
  free(err);

  /* --dry-run writes nothing, so it runs on a read-only dataset, with or without a .lock. */
  const char *dss[] = {ds, ds2};
  for (int i = 0; i < 2; i++) {
    rc = run_stage("collect",
                   (const char *[]){"-d", dss[i], "--batch", "b2", "--dry-run", "--json", a, b,
                                    NULL},
                   &out, &err);
    cr_assert_eq(rc, 0, "%s: %s", dss[i], err);
    cr_assert_str_empty(err);
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    cr_assert(j, "%s", out);
    cr_assert_eq(json_integer_value(json_object_get(j, "new_items")), 1);
    cr_assert_eq(json_integer_value(json_object_get(j, "exact_duplicates")), 1);
    cr_assert(json_is_true(json_object_get(j, "dry_run")));
    json_decref(j);
    free(out);
    free(err);
  }
  free(ds2);
  free(ds);
  free(a);
  free(b);
  free(root);
}

/* ---- failed runs and the ledger ------------------------------------------------------- */

/* The batch records of ds's ledger as "name:seq,..." (caller frees). */
static char *batch_records(const char *ds)
{
  char *lpath = cu_fmt("%s/ledger.jsonl", ds);
  json_t *l = cu_jsonl(lpath);
  char *s = strdup("");
  size_t i;
  json_t *r;
  json_array_foreach(l, i, r)
  {
    if (strcmp(json_string_value(json_object_get(r, "type")), "batch"))
      continue;
    char *t = cu_fmt("%s%s%s:%lld", s, *s ? "," : "",
                     json_string_value(json_object_get(r, "batch")),
                     (long long)json_integer_value(json_object_get(r, "seq")));
    free(s);
    s = t;
  }
  json_decref(l);
  free(lpath);
  return s;
}

static int collect_status(const char *ds, const char *batch, const char *in, const char *crash,
                          char **err)
{
  if (crash)
    setenv("EDGESET_CRASH_AT", crash, 1);
  char *e = NULL;
  int rc = run_stage("collect", (const char *[]){"-d", ds, "--batch", batch, "-q", in, NULL},
                     NULL, &e);
  unsetenv("EDGESET_CRASH_AT");
  if (err)
    *err = e;
  else
    free(e);
  return rc;
}

/* A run killed before its commit point (its new manifest written and synced, not renamed)
 * leaves no batch record; the next run of the batch commits it with the next sequence
 * number. */
Test(hostile, run_killed_before_commit_records_no_batch)
{
  char *root = tu_tmpdir();
  char *ds = cu_fmt("%s/ds", root), *in1 = cu_fmt("%s/in1", root), *in2 = cu_fmt("%s/in2", root);
  cu_mkdirs(in1);
  cu_mkdirs(in2);
  for (int i = 0; i < 3; i++) {
    char *p = cu_fmt("%s/p%d.ppm", i < 2 ? in1 : in2, i);
    cu_write_ppm(p, 40, 32, 60 + (unsigned)i, 0, 0, 1.0);
    free(p);
  }
  cr_assert_eq(collect_status(ds, "b1", in1, NULL, NULL), 0);
  char *mpath = cu_fmt("%s/manifest.jsonl", ds);
  size_t l0;
  char *m0 = slurp(mpath, &l0);
  /* tu_run reports a killed child as -1. */
  cr_assert_eq(collect_status(ds, "b2", in2, "manifest-data:1", NULL), -1);
  char *recs = batch_records(ds);
  cr_assert_str_eq(recs, "b1:0", "a run that never committed left a batch record");
  free(recs);
  size_t l1;
  char *m1 = slurp(mpath, &l1);
  cr_assert(l0 == l1 && !memcmp(m0, m1, l0));
  cr_assert_eq(collect_status(ds, "b2", in2, NULL, NULL), 0);
  recs = batch_records(ds);
  cr_assert_str_eq(recs, "b1:0,b2:1");
  free(recs);
  free(m0);
  free(m1);
  free(mpath);
  free(in1);
  free(in2);
  free(ds);
  free(root);
}

/* A full disk: the objects of batch b2 do not fit on a small tmpfs. The run fails with exit 3,
 * and the ledger tells nothing of b2 (no batch record, no collect record); the next batch takes
 * the next sequence number, so the order of batches stays that of their commits. */
Test(hostile, full_disk_records_no_batch)
{
  char *root = tu_tmpdir();
  char *small = cu_fmt("%s/small", root);
  cu_mkdirs(small);
  if (geteuid() != 0)
    cr_skip_test("a full disk is a small tmpfs, which only root can mount");
  if (!private_mounts() || mount("tmpfs", small, "tmpfs", 0, "size=1m,mode=0755") != 0)
    cr_skip_test("cannot mount a small tmpfs here (mounting is not permitted): %s",
                 strerror(errno));
  char *ds = cu_fmt("%s/ds", small), *in1 = cu_fmt("%s/in1", root), *in2 = cu_fmt("%s/in2", root);
  char *in3 = cu_fmt("%s/in3", root);
  cu_mkdirs(in1);
  cu_mkdirs(in2);
  cu_mkdirs(in3);
  char *p = cu_fmt("%s/a.ppm", in1);
  cu_write_ppm(p, 40, 32, 71, 0, 0, 1.0);
  free(p);
  for (int i = 0; i < 4; i++) { /* 4 x 480 KB: more than the 1 MB file system */
    p = cu_fmt("%s/big%d.ppm", in2, i);
    cu_write_ppm(p, 400, 400, 80 + (unsigned)i, 0, 0, 1.0);
    free(p);
  }
  p = cu_fmt("%s/c.ppm", in3);
  cu_write_ppm(p, 40, 32, 72, 0, 0, 1.0);
  free(p);

  cr_assert_eq(collect_status(ds, "b1", in1, NULL, NULL), 0);
  char *lpath = cu_fmt("%s/ledger.jsonl", ds), *mpath = cu_fmt("%s/manifest.jsonl", ds);
  size_t ll0, ml0;
  char *l0 = slurp(lpath, &ll0), *m0 = slurp(mpath, &ml0);
  char *err = NULL;
  int rc = collect_status(ds, "b2", in2, NULL, &err);
  cr_assert_eq(rc, 3, "%s", err);
  cr_assert(strstr(err, "No space left on device"), "%s", err);
  free(err);
  size_t ll1, ml1;
  char *l1 = slurp(lpath, &ll1), *m1 = slurp(mpath, &ml1);
  cr_assert(ll0 == ll1 && !memcmp(l0, l1, ll0), "the failed run wrote the ledger:\n%s", l1);
  cr_assert(ml0 == ml1 && !memcmp(m0, m1, ml0), "the failed run changed the manifest");
  /* Its staged objects were removed: the next batch fits, and is the second batch. */
  cr_assert_eq(collect_status(ds, "b3", in3, NULL, &err), 0, "%s", err);
  free(err);
  char *recs = batch_records(ds);
  cr_assert_str_eq(recs, "b1:0,b3:1");
  free(recs);
  free(l0);
  free(l1);
  free(m0);
  free(m1);
  free(lpath);
  free(mpath);
  free(ds);
  free(in1);
  free(in2);
  free(in3);
  free(small);
  free(root);
}

/* ---- quarantine records keep no contents ---------------------------------------------- */

static char *hex_prefix(const char *bytes, size_t n)
{
  char *s = calloc(1, 3 * n + 1);
  for (size_t i = 0; i < n; i++)
    sprintf(s + strlen(s), "%s%02x", i ? " " : "", (unsigned char)bytes[i]);
  return s;
}

Test(hostile, quarantine_keeps_no_file_contents)
{
  char *root = tu_tmpdir();
  char *in = cu_fmt("%s/in", root);
  cu_mkdirs(in);
  static const char secret[] = "SECRETtoken:7f3a9c:/root:/bin/bash\n";
  char *sp = cu_fmt("%s/secret.txt", root);
  cr_assert_eq(tu_write(sp, secret, sizeof secret - 1), 0);
  /* Links that look like pictures, to the secret and to /etc/passwd; a picture whose sidecar
   * is a link to the secret. */
  char *l1 = cu_fmt("%s/leak.jpg", in), *l2 = cu_fmt("%s/passwd.png", in);
  cr_assert_eq(symlink(sp, l1), 0);
  int have_passwd = access("/etc/passwd", R_OK) == 0;
  if (have_passwd)
    cr_assert_eq(symlink("/etc/passwd", l2), 0);
  char *img = cu_fmt("%s/ok.ppm", in), *side = cu_fmt("%s/ok.ppm.json", in);
  cu_write_ppm(img, 40, 32, 91, 0, 0, 1.0);
  cr_assert_eq(symlink(sp, side), 0);

  char *ds = cu_fmt("%s/ds", root), *err = NULL;
  cr_assert_eq(run_stage("collect", (const char *[]){"-d", ds, "--batch", "b", "-q", in, NULL},
                         NULL, &err),
               0, "%s", err);
  free(err);
  char *qpath = cu_fmt("%s/quarantine.jsonl", ds);
  json_t *q = cu_jsonl(qpath);
  cr_assert_eq(json_array_size(q), have_passwd ? 3 : 2);
  char *hex = hex_prefix(secret, 8);
  size_t pl = 0;
  char *passwd = have_passwd ? slurp("/etc/passwd", &pl) : NULL;
  char *phex = passwd && pl >= 8 ? hex_prefix(passwd, 8) : NULL;
  size_t i;
  json_t *r;
  json_array_foreach(q, i, r)
  {
    const char *path = json_string_value(json_object_get(r, "path"));
    const char *code = json_string_value(json_object_get(r, "code"));
    const char *reason = json_string_value(json_object_get(r, "reason"));
    /* No field but the path (which names the link) may hold anything of the contents. */
    const char *key;
    json_t *v;
    json_object_foreach(r, key, v)
    {
      if (!strcmp(key, "path"))
        continue;
      char *text = json_dumps(v, JSON_ENCODE_ANY);
      cr_assert_null(strstr(text, "SECRET"), "%s: '%s' copies the file: %s", path, key, text);
      cr_assert_null(strstr(text, "7f3a9c"), "%s: '%s' copies the file: %s", path, key, text);
      cr_assert_null(strstr(text, hex), "%s: '%s' copies the file: %s", path, key, text);
      if (passwd && pl >= 8) {
        cr_assert_null(memmem(text, strlen(text), passwd, 8), "%s: %s", path, text);
        cr_assert_null(strstr(text, phex), "%s: '%s' copies /etc/passwd: %s", path, key, text);
      }
      free(text);
    }
    if (strstr(path, ".json")) {
      cr_assert_str_eq(code, "bad-sidecar");
      cr_assert(!strncmp(reason, "bad sidecar: line 1, column ", 28) &&
                    strstr(reason, ": not valid JSON"),
                "%s", reason);
    } else {
      cr_assert_str_eq(code, "unsupported", "%s", path);
      cr_assert_str_eq(reason, "unknown format (not an image)", "%s", path);
      cr_assert_eq(json_string_length(json_object_get(r, "id")), 32, "the hash names the bytes");
    }
  }
  json_decref(q);
  free(passwd);
  free(phex);
  free(hex);
  free(qpath);
  free(ds);
  free(img);
  free(side);
  free(l1);
  free(l2);
  free(sp);
  free(in);
  free(root);
}
