/* What the programs echo of hostile values (docs/cli.md): in every program, a path, name or
 * option value with terminal escape sequences is shown escaped on stderr and in the human
 * summaries on stdout, and cut when long; machine-readable output (JSON, -0 lists) keeps the
 * exact bytes. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cliutil.h"
#include "testutil.h"

#define HOSTILE "\x1b]0;pwned\x07\x1b[2J\xc2\x9b" "31m"
#define SHOWN "\\x1b]0;pwned\\x07\\x1b[2J\\xc2\\x9b31m"

static void assert_clean(const char *what, const char *s)
{
  cr_assert_null(strchr(s, '\x1b'), "%s: a raw ESC: %s", what, s);
  cr_assert_null(strchr(s, '\x07'), "%s: a raw BEL: %s", what, s);
  cr_assert_null(strstr(s, "\xc2\x9b"), "%s: a raw C1 control: %s", what, s);
}

/* Runs prog with args; asserts the status, that stderr holds want (when not NULL) and that
 * neither stream carries a control character of the hostile value. Returns stdout. */
static char *run(const char *prog, const char *const *args, int status, const char *want)
{
  char *out = NULL, *err = NULL;
  int rc = cu_run(prog, args, NULL, &out, &err);
  cr_assert_eq(rc, status, "%s: exit %d (want %d): %s", prog, rc, status, err);
  assert_clean(prog, err);
  assert_clean(prog, out);
  if (want)
    cr_assert(strstr(err, want), "%s: '%s' not in: %s", prog, want, err);
  free(err);
  return out;
}

Test(terminal, every_program_escapes_option_values)
{
  static const char *const progs[] = {"edgeset-collect", "edgeset-label", "edgeset-split",
                                      "edgeset-augment", "edgeset-eval",  "edgeset-drift"};
  for (size_t k = 0; k < sizeof progs / sizeof *progs; k++) {
    const char *const unknown[] = {"--" HOSTILE, NULL};
    free(run(progs[k], unknown, 2, "unknown option '--" SHOWN "'"));
    if (strcmp(progs[k], "edgeset-collect")) { /* collect's arguments are its inputs */
      const char *const extra[] = {"-d", "/nonexistent", HOSTILE, NULL};
      free(run(progs[k], extra, 2, NULL));
    }
  }
  const char *const stage[] = {HOSTILE, NULL};
  free(run("edgeset", stage, 2, "'" SHOWN "' is not a stage"));
  const char *const jobs[] = {"-d", "/nonexistent", "--jobs", HOSTILE, NULL};
  free(run("edgeset-split", jobs, 2, "'" SHOWN "' is not a non-negative integer"));
}

Test(terminal, dataset_paths_in_errors_and_summaries)
{
  char *root = tu_tmpdir();
  char *cap = cu_fmt("%s/cap/cat", root), *img = cu_fmt("%s/a.ppm", cap);
  cu_mkdirs(cap);
  cu_write_ppm(img, 64, 64, 1, 0, 0, 1.0);
  char *capdir = cu_fmt("%s/cap", root), *ds = cu_fmt("%s/ds" HOSTILE, root);
  /* collect's summary names the dataset */
  const char *const collect[] = {"-d", ds, "--batch", "b1", "--device-from", "fixed:cam",
                                 capdir, NULL};
  char *out = run("edgeset-collect", collect, 0, NULL);
  cr_assert(strstr(out, "/ds" SHOWN ": 1 inputs"), "%s", out);
  free(out);
  /* JSON keeps the exact bytes */
  const char *const label_json[] = {"-d", ds, "--from", "dir:1", "--json", NULL};
  out = run("edgeset-label", label_json, 0, NULL);
  json_t *j = json_loads(out, 0, NULL);
  cr_assert_not_null(j, "%s", out);
  json_decref(j);
  free(out);
  const char *const split[] = {"-d", ds, "--ratios", "1:0:0", NULL};
  free(run("edgeset-split", split, 0, NULL));
  /* a -0 list keeps the exact bytes of the dataset path */
  const char *const list[] = {"-d", ds, "--list", "train", "-0", NULL};
  char *lo = NULL;
  cr_assert_eq(cu_run("edgeset-split", list, NULL, &lo, NULL), 0);
  cr_assert(strstr(lo, "/ds" HOSTILE "/"), "the list lost the exact path");
  free(lo);
  /* a name given on the command line, in an error and in a summary */
  const char *const release[] = {"-d", ds, "--release", "test" HOSTILE, NULL};
  free(run("edgeset-split", release, 2, "--release 'test" SHOWN "': no item is in that split"));
  char *exp = cu_fmt("%s/exp" HOSTILE, root);
  const char *const export[] = {"-d", ds, "--export", exp, "--layout", "csv", NULL};
  out = run("edgeset-split", export, 0, NULL);
  cr_assert(strstr(out, "/exp" SHOWN " ("), "%s", out);
  free(out);
  const char *const drift[] = {"-d", ds, "--reference", "batch:" HOSTILE, "--current",
                               "batch:b1", NULL};
  free(run("edgeset-drift", drift, 2, "'batch:" SHOWN "'"));
  /* a file that is not there */
  char *missing = cu_fmt("csv:%s/no" HOSTILE ".csv", root);
  const char *const from[] = {"-d", ds, "--from", missing, NULL};
  free(run("edgeset-label", from, 2, "/no" SHOWN ".csv'"));
  /* a very long option value is cut */
  size_t n = 100 * 1000; /* an argument may hold 128 KiB */
  char *longname = malloc(n + 8);
  memcpy(longname, "test", 4);
  memset(longname + 4, 'x', n);
  longname[n + 4] = '\0';
  const char *const rel_long[] = {"-d", ds, "--release", longname, NULL};
  char *err = NULL;
  cr_assert_eq(cu_run("edgeset-split", rel_long, NULL, NULL, &err), 2);
  cr_assert_lt(strlen(err), 1000, "stderr is %zu bytes", strlen(err));
  cr_assert(strstr(err, "more bytes)': no item is in that split"), "%s", err);
  free(err);
  free(longname);
  free(missing);
  free(exp);
  free(ds);
  free(capdir);
  free(img);
  free(cap);
  free(root);
}
