/* edgeset-fsck and edgeset-gc on a dataset made by edgeset-collect (docs/lifecycle.md): a clean
 * dataset is exit 0; each injected fault is found and named (a flipped byte in an object, a
 * deleted object, a truncated index, a torn manifest line: exit 1); leftovers (an extra object,
 * a stale temporary, a torn ledger line) are reported and exit 1 only with --strict; --repair
 * fixes the leftovers and the index and says what it cannot fix; gc deletes exactly the
 * unreferenced objects. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cliutil.h"
#include "testutil.h"

/* Strings made for one call, freed at the end of the test (the sanitizer build checks leaks). */
static char *kept[64];
static size_t nkept;

static char *keep(char *s)
{
  cr_assert_lt(nkept, 64);
  return kept[nkept++] = s;
}

static int fsck(const char *ds, const char *opt, char **out)
{
  const char *const args[] = {"-d", ds, opt, NULL};
  const char *const plain[] = {"-d", ds, NULL};
  return cu_run("edgeset-fsck", opt ? args : plain, NULL, out, NULL);
}

static char *object_of(const char *ds, int k)
{
  /* the k-th object in the manifest's order */
  json_t *m = cu_jsonl(keep(cu_fmt("%s/manifest.jsonl", ds)));
  const json_t *it = json_array_get(m, (size_t)k);
  const char *id = json_string_value(json_object_get(it, "id"));
  const char *fmt = json_string_value(json_object_get(it, "format"));
  char *p = cu_fmt("%s/objects/%.2s/%s.%s", ds, id, id, strcmp(fmt, "jpeg") ? fmt : "jpg");
  json_decref(m);
  return p;
}

static void append(const char *path, const char *s)
{
  FILE *f = fopen(path, "ab");
  cr_assert(f, "%s", path);
  fputs(s, f);
  fclose(f);
}

Test(lifecycle, fsck_finds_every_fault_and_gc_reclaims)
{
  char *root = tu_tmpdir(), *in = cu_fmt("%s/in/cat", root), *ds = cu_fmt("%s/ds", root);
  cu_mkdirs(in);
  for (unsigned k = 0; k < 6; k++) {
    char *p = cu_fmt("%s/%u.ppm", in, k);
    cu_write_ppm(p, 40, 30, 100 + k * 17, 0, 0, 1.0);
    free(p);
  }
  char *inroot = cu_fmt("%s/in", root);
  const char *const collect[] = {"-d", ds, "--batch", "b1", "-q", inroot, NULL};
  cr_assert_eq(cu_run("edgeset-collect", collect, NULL, NULL, NULL), 0);
  char *out = NULL;
  cr_assert_eq(fsck(ds, NULL, &out), 0, "%s", out);
  cr_assert(strstr(out, "6 objects hashed"), "%s", out);
  free(out);

  /* leftovers: exit 0, and 1 with --strict */
  char *extra = cu_fmt("%s/objects/ff/ffffffffffffffffffffffffffffffff.png", ds);
  cu_mkdirs(keep(cu_fmt("%s/objects/ff", ds)));
  append(extra, "not referenced");
  cu_mkdirs(keep(cu_fmt("%s/.tmp", ds)));
  append(keep(cu_fmt("%s/.tmp/999999999.1.tmp", ds)), "x");
  append(keep(cu_fmt("%s/ledger.jsonl", ds)), "{\"type\":\"collect\"");
  cr_assert_eq(fsck(ds, NULL, &out), 0, "%s", out);
  cr_assert((strstr(out, "leftover orphan-object: ") && strstr(out, "/objects/ff/ffffffffffffffffffffffffffffffff.png")),
            "%s", out);
  cr_assert((strstr(out, "leftover stale-temporary: ") && strstr(out, "/.tmp/999999999.1.tmp")), "%s", out);
  cr_assert((strstr(out, "leftover torn-line: ") && strstr(out, "/ledger.jsonl")), "%s", out);
  free(out);
  cr_assert_eq(fsck(ds, "--strict", NULL), 1);

  /* gc: a dry run deletes nothing; then exactly the extra object goes */
  const char *const gc_dry[] = {"-d", ds, "--dry-run", NULL}, *const gc[] = {"-d", ds, NULL};
  cr_assert_eq(cu_run("edgeset-gc", gc_dry, NULL, &out, NULL), 0);
  cr_assert(strstr(out, "would delete objects/ff/ffffffffffffffffffffffffffffffff.png"), "%s", out);
  free(out);
  cr_assert_eq(access(extra, F_OK), 0, "the dry run deleted it");
  cr_assert_eq(cu_run("edgeset-gc", gc, NULL, &out, NULL), 0);
  cr_assert(strstr(out, "gc: 1 unreferenced objects"), "%s", out);
  free(out);
  cr_assert_neq(access(extra, F_OK), 0, "gc left it");
  cr_assert_eq(fsck(ds, "--strict", &out), 0, "gc's lock removed the temporary, its append cut "
                                              "the torn line: %s", out);
  free(out);

  /* damage: a flipped byte, a deleted object, a truncated index */
  char *o0 = object_of(ds, 0), *o1 = object_of(ds, 1);
  int fd = open(o0, O_RDWR);
  cr_assert(fd >= 0);
  unsigned char b;
  cr_assert_eq(pread(fd, &b, 1, 20), 1);
  b ^= 0xff;
  cr_assert_eq(pwrite(fd, &b, 1, 20), 1);
  close(fd);
  cr_assert_eq(unlink(o1), 0);
  cr_assert_eq(truncate(keep(cu_fmt("%s/index.bin", ds)), 50), 0);
  cr_assert_eq(fsck(ds, NULL, &out), 1);
  cr_assert(strstr(out, "damage object-damaged: ") && strstr(out, strrchr(o0, '/') + 1), "%s", out);
  cr_assert(strstr(out, "damage object-missing: ") && strstr(out, strrchr(o1, '/') + 1), "%s", out);
  cr_assert((strstr(out, "damage index: ") && strstr(out, "/index.bin")), "%s", out);
  free(out);
  /* --repair rebuilds the index and says the objects cannot be repaired */
  cr_assert_eq(fsck(ds, "--repair", &out), 1);
  cr_assert((strstr(out, "repaired index: ") && strstr(out, "/index.bin")), "%s", out);
  cr_assert(strstr(out, "cannot be repaired here: collect the original file again"), "%s", out);
  free(out);
  cr_assert_eq(fsck(ds, NULL, &out), 1);
  cr_assert_null(strstr(out, "index.bin"), "%s", out);
  free(out);

  /* a torn manifest line */
  append(keep(cu_fmt("%s/manifest.jsonl", ds)), "{\"id\":\"00");
  cr_assert_eq(fsck(ds, NULL, &out), 1);
  cr_assert((strstr(out, "damage manifest: ") && strstr(out, "/manifest.jsonl")), "%s", out);
  free(out);
  free(o0);
  free(o1);
  free(extra);
  free(inroot);
  free(in);
  free(ds);
  free(root);
  for (size_t i = 0; i < nkept; i++)
    free(kept[i]);
}

/* Runs prog -d ds [extra] with EDGESET_CRASH_AT=crash, output discarded; returns the raw wait
 * status. */
static int run_crashing(const char *prog, const char *ds, const char *extra, const char *crash)
{
  char *bin = tu_bin(prog);
  pid_t pid = fork();
  if (pid == 0) {
    setenv("EDGESET_CRASH_AT", crash, 1);
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    execl(bin, bin, "-d", ds, extra, (char *)NULL);
    _exit(127);
  }
  free(bin);
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

static size_t count_files(const char *dir)
{
  DIR *d = opendir(dir);
  size_t n = 0;
  struct dirent *de;
  while (d && (de = readdir(d)))
    n += de->d_name[0] != '.';
  if (d)
    closedir(d);
  return n;
}

/* gc and fsck --repair killed before each of their deletions or moves: the referenced objects
 * are intact after every kill (fsck exit 0), and a re-run finishes the job. */
Test(lifecycle, gc_and_repair_killed_at_every_point)
{
  char *root = tu_tmpdir(), *in = cu_fmt("%s/in/cat", root), *base = cu_fmt("%s/base", root);
  cu_mkdirs(in);
  for (unsigned k = 0; k < 4; k++) {
    char *p = keep(cu_fmt("%s/%u.ppm", in, k));
    cu_write_ppm(p, 40, 30, 300 + k * 7, 0, 0, 1.0);
  }
  const char *const collect[] = {"-d", base, "--batch", "b1", "-q", in, NULL};
  cr_assert_eq(cu_run("edgeset-collect", collect, NULL, NULL, NULL), 0);
  cu_mkdirs(keep(cu_fmt("%s/objects/ee", base)));
  for (int k = 0; k < 4; k++)
    append(keep(cu_fmt("%s/objects/ee/ee%030d.png", base, k)), "orphan");
  static const char *const gc_points[] = {"object-delete:1", "object-delete:2", "object-delete:4"};
  static const char *const fsck_points[] = {"object-move:1", "object-move:3",
                                            "records-append:1",
                                            "records-append:2"};
  for (int prog = 0; prog < 2; prog++) {
    size_t np = prog ? 4 : 3;
    for (size_t k = 0; k < np; k++) {
      const char *point = prog ? fsck_points[k] : gc_points[k];
      char *ds = keep(cu_fmt("%s/%s%zu", root, prog ? "fsck" : "gc", k));
      char *cmd = keep(cu_fmt("cp -a '%s' '%s'", base, ds));
      cr_assert_eq(system(cmd), 0);
      int st = run_crashing(prog ? "edgeset-fsck" : "edgeset-gc", ds, prog ? "--repair" : "-q",
                            point);
      cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "%s was not reached", point);
      char *out = NULL;
      cr_assert_eq(fsck(ds, NULL, &out), 0, "after a kill at %s: %s", point, out);
      free(out);
      const char *const again[] = {"-d", ds, prog ? "--repair" : "-q", NULL};
      cr_assert_eq(cu_run(prog ? "edgeset-fsck" : "edgeset-gc", again, NULL, NULL, NULL), 0);
      cr_assert_eq(fsck(ds, "--strict", &out), 0, "after %s and a re-run: %s", point, out);
      free(out);
      cr_assert_eq(count_files(keep(cu_fmt("%s/objects/ee", ds))), 0, "%s", point);
      if (prog) /* every orphan kept in lost+found, with its record */
        cr_assert_eq(count_files(keep(cu_fmt("%s/lost+found", ds))), 5, "%s", point);
    }
  }
  free(in);
  free(base);
  free(root);
  for (size_t i = 0; i < nkept; i++)
    free(kept[i]);
  nkept = 0;
}
