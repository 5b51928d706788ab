/* Crash safety of collect: the process is killed with SIGKILL at many moments, at each named
 * point of a write (EDGESET_CRASH_AT=<point>:<n> makes the store raise SIGKILL the n-th time it
 * reaches <point>) and at random times. After every kill the dataset must be consistent (the
 * manifest parses, every object matches its id) and a re-run must complete the work: every
 * input accounted for exactly once, and the manifest byte-identical to an uninterrupted run.
 * The same for label's commit, which carries labels.txt (at the end of this file). */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "cliutil.h"
#include "testutil.h"

#define N_PICTURES 24

static char *make_inputs(const char *root)
{
  char *dir = cu_fmt("%s/in", root);
  cu_mkdirs(dir);
  for (int i = 0; i < N_PICTURES; i++) {
    char *p = cu_fmt("%s/p%02d.ppm", dir, i);
    cu_write_ppm(p, 48, 40, 100 + (unsigned)i / 2, i % 2 ? 2 : 0, (unsigned)i, 1.0);
    free(p);
  }
  char *p = cu_fmt("%s/copy.ppm", dir);
  char *cmd = cu_fmt("cp '%s/p00.ppm' '%s'", dir, p);
  cr_assert(system(cmd) == 0);
  free(cmd);
  free(p);
  const char *junk[] = {"bad1.gif", "bad2.txt", "bad3.jpg", "p01.ppm.json"};
  const char *bytes[] = {"GIF89a....", "hello", "\xff\xd8\xff\xe0\x00\x10JFIF", "{broken"};
  for (int i = 0; i < 4; i++) {
    p = cu_fmt("%s/%s", dir, junk[i]);
    cr_assert(tu_write(p, bytes[i], strlen(bytes[i])) == 0);
    free(p);
  }
  return dir;
}

#define N_INPUTS (N_PICTURES + 4) /* and one broken sidecar, quarantined on its own line */

/* Runs program prog with args (NULL-terminated), EDGESET_CRASH_AT=crash (NULL: unset) and no
 * output, killing it after kill_after_us microseconds when that is > 0; returns the raw wait
 * status. */
static int run_stage(const char *prog, const char *const *args, const char *crash,
                     int kill_after_us)
{
  char *bin = tu_bin(prog);
  pid_t pid = fork();
  if (pid == 0) {
    if (crash)
      setenv("EDGESET_CRASH_AT", crash, 1);
    else
      unsetenv("EDGESET_CRASH_AT");
    int null = open("/dev/null", 1);
    dup2(null, 1);
    dup2(null, 2);
    char *argv[16];
    int n = 0;
    argv[n++] = bin;
    for (; *args && n < 15; args++)
      argv[n++] = (char *)*args;
    argv[n] = NULL;
    execv(bin, argv);
    _exit(127);
  }
  free(bin);
  if (kill_after_us > 0) {
    usleep((useconds_t)kill_after_us);
    kill(pid, SIGKILL);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

static int run_collect(const char *ds, const char *in, const char *crash, int kill_after_us)
{
  return run_stage("edgeset-collect",
                   (const char *const[]){"-d", ds, "--batch", "b1", "-j", "2", in, NULL}, crash,
                   kill_after_us);
}

static void hex_of(const uint8_t *buf, size_t len, char out[33])
{
  XXH128_hash_t h = XXH3_128bits(buf, len);
  snprintf(out, 33, "%016llx%016llx", (unsigned long long)h.high64, (unsigned long long)h.low64);
}

/* The state after a kill: a manifest that parses (or none), objects that match their ids. */
static void check_consistent(const char *ds)
{
  char *mpath = cu_fmt("%s/manifest.jsonl", ds);
  json_t *m = cu_jsonl(mpath);
  size_t i;
  json_t *it;
  json_array_foreach(m, i, it)
  {
    const char *id = json_string_value(json_object_get(it, "id"));
    char *obj = cu_fmt("%s/objects/%.2s/%s.pnm", ds, id, id);
    size_t len;
    uint8_t *b = tu_read(obj, &len);
    cr_assert(b, "manifest names %s but its object is missing", id);
    char got[33];
    hex_of(b, len, got);
    cr_assert_str_eq(got, id, "object %s does not match its id", obj);
    free(b);
    free(obj);
  }
  json_decref(m);
  free(mpath);
}

/* After the re-run: each input is in exactly one place. */
static void check_complete(const char *ds, const char *in)
{
  char *mpath = cu_fmt("%s/manifest.jsonl", ds), *qpath = cu_fmt("%s/quarantine.jsonl", ds);
  json_t *m = cu_jsonl(mpath), *q = cu_jsonl(qpath);
  int count[N_INPUTS + 8] = {0};
  char *names[N_INPUTS + 1];
  int n = 0;
  for (int i = 0; i < N_PICTURES; i++)
    names[n++] = cu_fmt("%s/p%02d.ppm", in, i);
  names[n++] = cu_fmt("%s/copy.ppm", in);
  names[n++] = cu_fmt("%s/bad1.gif", in);
  names[n++] = cu_fmt("%s/bad2.txt", in);
  names[n++] = cu_fmt("%s/bad3.jpg", in);
  names[n++] = cu_fmt("%s/p01.ppm.json", in);
  size_t i, k;
  json_t *it, *o;
  json_array_foreach(m, i, it) json_array_foreach(json_object_get(it, "seen"), k, o)
  {
    for (int j = 0; j < n; j++)
      if (!strcmp(json_string_value(json_object_get(o, "path")), names[j]))
        count[j]++;
  }
  json_array_foreach(q, i, it)
  {
    for (int j = 0; j < n; j++)
      if (!strcmp(json_string_value(json_object_get(it, "path")), names[j]))
        count[j]++;
  }
  for (int j = 0; j < n; j++) {
    cr_assert_eq(count[j], 1, "input %s is accounted for %d times", names[j], count[j]);
    free(names[j]);
  }
  json_decref(m);
  json_decref(q);
  free(mpath);
  free(qpath);
}

static uint8_t *manifest_bytes(const char *ds, size_t *len)
{
  char *mpath = cu_fmt("%s/manifest.jsonl", ds);
  uint8_t *b = tu_read(mpath, len);
  free(mpath);
  return b;
}

Test(crash, killed_at_every_write_point_and_random_moments, .timeout = 900)
{
  char *root = tu_tmpdir();
  char *in = make_inputs(root);
  char *clean = cu_fmt("%s/clean", root);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  int st = run_collect(clean, in, NULL, 0);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  long run_us = (t1.tv_sec - t0.tv_sec) * 1000000L + (t1.tv_nsec - t0.tv_nsec) / 1000;
  size_t clean_len;
  uint8_t *clean_m = manifest_bytes(clean, &clean_len);
  cr_assert(clean_m);

  /* Named points: where each write can be interrupted. */
  const char *points[] = {"object-data", "object-rename", "quarantine-append", "quarantine-torn",
                          "manifest-data", "manifest-rename", "ledger-append", "ledger-torn"};
  const int nth[] = {1, 2, 5, 9, 17, 25};
  int kills = 0, trial = 0;
  for (size_t p = 0; p < sizeof points / sizeof *points; p++) {
    for (size_t k = 0; k < sizeof nth / sizeof *nth; k++) {
      char *ds = cu_fmt("%s/ds%d", root, trial++);
      char *crash = cu_fmt("%s:%d", points[p], nth[k]);
      int s = run_collect(ds, in, crash, 0);
      if (WIFSIGNALED(s)) {
        cr_assert_eq(WTERMSIG(s), SIGKILL);
        kills++;
      } else {
        cr_assert(WIFEXITED(s) && WEXITSTATUS(s) == 0, "%s: exit %d", crash, WEXITSTATUS(s));
      }
      check_consistent(ds);
      /* A second kill at the same point of the re-run, then the clean finish. */
      s = run_collect(ds, in, crash, 0);
      kills += WIFSIGNALED(s);
      check_consistent(ds);
      s = run_collect(ds, in, NULL, 0);
      cr_assert(WIFEXITED(s) && WEXITSTATUS(s) == 0, "re-run after %s failed", crash);
      check_complete(ds, in);
      size_t len;
      uint8_t *mb = manifest_bytes(ds, &len);
      cr_assert(mb && len == clean_len && !memcmp(mb, clean_m, len),
                "after a kill at %s the finished manifest differs from an uninterrupted run",
                crash);
      free(mb);
      free(crash);
      free(ds);
    }
  }
  /* Random moments across the whole run, until at least 20 of them have killed it (a kill
   * that comes after the run has ended kills nothing). */
  srand(12345);
  int random_kills = 0;
  for (int r = 0; r < 200 && (random_kills < 20 || kills < 60); r++) {
    char *ds = cu_fmt("%s/r%d", root, r);
    int s = run_collect(ds, in, NULL, 1 + rand() % (int)(run_us > 1 ? run_us : 2));
    random_kills += WIFSIGNALED(s);
    kills += WIFSIGNALED(s);
    check_consistent(ds);
    s = run_collect(ds, in, NULL, 0);
    cr_assert(WIFEXITED(s) && WEXITSTATUS(s) == 0);
    check_complete(ds, in);
    size_t len;
    uint8_t *mb = manifest_bytes(ds, &len);
    cr_assert(mb && len == clean_len && !memcmp(mb, clean_m, len));
    free(mb);
    free(ds);
  }
  cr_assert_geq(kills, 50, "only %d runs were killed", kills);
  cr_assert_geq(random_kills, 20, "only %d random kills landed", random_kills);
  free(clean_m);
  free(clean);
  free(in);
  char *cmd = cu_fmt("rm -rf '%s'", root);
  (void)system(cmd);
  free(cmd);
  free(root);
}

static int run_label(const char *crash, const char *const *args)
{
  return run_stage("edgeset-label", args, crash, 0);
}

static char *file_text(const char *ds, const char *name)
{
  char *p = cu_fmt("%s/%s", ds, name);
  size_t len;
  uint8_t *b = tu_read(p, &len);
  free(p);
  cr_assert(b, "%s/%s is missing", ds, name);
  char *s = realloc(b, len + 1);
  s[len] = '\0';
  return s;
}

/* label commits labels.txt inside its transaction: killed at any point of a --rename, the
 * dataset holds the previous or the new manifest and labels.txt, never a manifest older than
 * labels.txt, and re-running the same command gives the files of an uninterrupted run. */
Test(crash, label_killed_at_every_point_of_its_commit, .timeout = 300)
{
  char *root = tu_tmpdir();
  char *in = make_inputs(root);
  char *base = cu_fmt("%s/base", root), *clean = cu_fmt("%s/clean", root);
  char *vocab = cu_fmt("%s/labels.txt", root);
  cr_assert(tu_write(vocab, "in\nother\n", 9) == 0);
  int st = run_collect(base, in, NULL, 0);
  cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  const char *first[] = {"-d", base, "--from", "dir:1", "--labels", vocab, NULL};
  st = run_label(NULL, first);
  cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  char *cmd = cu_fmt("cp -a '%s' '%s'", base, clean);
  cr_assert(system(cmd) == 0);
  free(cmd);
  const char *rename_clean[] = {"-d", clean, "--rename", "in=inside", NULL};
  st = run_label(NULL, rename_clean);
  cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  char *old_m = file_text(base, "manifest.jsonl"), *old_l = file_text(base, "labels.txt");
  char *new_m = file_text(clean, "manifest.jsonl"), *new_l = file_text(clean, "labels.txt");
  cr_assert_str_eq(new_l, "inside\nother\n");

  const char *points[] = {"manifest-data", "ledger-torn",  "manifest-rename", "labels-data",
                          "labels-rename", "index-data",   "ledger-append"};
  for (size_t p = 0; p < sizeof points / sizeof *points; p++) {
    char *ds = cu_fmt("%s/l%zu", root, p), *crash = cu_fmt("%s:1", points[p]);
    cmd = cu_fmt("cp -a '%s' '%s'", base, ds);
    cr_assert(system(cmd) == 0);
    free(cmd);
    const char *args[] = {"-d", ds, "--rename", "in=inside", NULL};
    st = run_label(crash, args);
    cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "%s did not kill", crash);
    char *m = file_text(ds, "manifest.jsonl"), *l = file_text(ds, "labels.txt");
    int committed = !strcmp(m, new_m);
    cr_assert(committed || !strcmp(m, old_m), "%s: a manifest neither old nor new", crash);
    cr_assert(!strcmp(l, old_l) || !strcmp(l, new_l), "%s: labels.txt neither old nor new",
              crash);
    /* labels.txt is never newer than the manifest */
    cr_assert(committed || !strcmp(l, old_l), "%s: new labels.txt with the old manifest", crash);
    /* Once both files are new the rename is done (only its ledger record may be missing) and
     * a re-run has nothing to rename (exit 2, nothing changed); before that it completes it. */
    int done = committed && !strcmp(l, new_l);
    free(m);
    free(l);
    st = run_label(NULL, args);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == (done ? 2 : 0), "re-run after %s: status %d",
              crash, WEXITSTATUS(st));
    m = file_text(ds, "manifest.jsonl");
    l = file_text(ds, "labels.txt");
    cr_assert_str_eq(m, new_m, "after %s the manifest differs from an uninterrupted run", crash);
    cr_assert_str_eq(l, new_l, "after %s labels.txt differs from an uninterrupted run", crash);
    free(m);
    free(l);
    free(crash);
    free(ds);
  }
  free(old_m);
  free(old_l);
  free(new_m);
  free(new_l);
  free(vocab);
  free(base);
  free(clean);
  free(in);
  cmd = cu_fmt("rm -rf '%s'", root);
  (void)system(cmd);
  free(cmd);
  free(root);
}
