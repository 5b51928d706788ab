/* The command-line rules every program follows (docs/cli.md), checked on the programs the
 * dispatcher lists in `edgeset --help`, so that a program added later is covered: an unknown
 * option and a missing option value are bad usage (exit 2, "<prog>: unknown option '--x'" or
 * "<prog>: option '-j' needs a value", the usage line, "try '<prog> --help'"); --help and
 * --version print to stdout and exit 0; a file named by an option (model, labels, profile,
 * label source) that does not exist is bad usage too (exit 2, "<prog>: ... '<path>': No such
 * file or directory"). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "cliutil.h"
#include "testutil.h"

/* The stages `edgeset --help` lists: the lines after "Stages:" that start with two spaces. */
static size_t stages(char names[16][32])
{
  char *out = NULL;
  const char *const help[] = {"--help", NULL};
  cr_assert_eq(cu_run("edgeset", help, NULL, &out, NULL), 0);
  size_t n = 0;
  const char *p = strstr(out, "Stages:");
  cr_assert_not_null(p, "edgeset --help lists no stages:\n%s", out);
  for (p = strchr(p, '\n'); p && p[1] == ' ' && p[2] == ' ' && n < 16; p = strchr(p + 1, '\n')) {
    size_t len = strcspn(p + 3, " \n");
    cr_assert_lt(len, 32);
    memcpy(names[n], p + 3, len);
    names[n++][len] = 0;
  }
  free(out);
  cr_assert_geq(n, 6, "only %zu stages in edgeset --help", n);
  return n;
}

static void expect_usage_error(const char *prog, const char *const *args, const char *msg)
{
  char *err = NULL;
  int rc = cu_run(prog, args, NULL, NULL, &err);
  cr_expect_eq(rc, 2, "%s %s: exit %d", prog, args[0], rc);
  char *want = cu_fmt("%s: %s\n", prog, msg), *try_ = cu_fmt("try '%s --help'", prog);
  cr_expect_eq(strncmp(err, want, strlen(want)), 0, "%s: stderr does not start with '%s':\n%s",
               prog, want, err);
  cr_expect(strstr(err, "\nusage: ") && strstr(err, try_), "%s: no usage line or try:\n%s", prog,
            err);
  free(want);
  free(try_);
  free(err);
}

/* Option files per stage: arguments that name a file that does not exist, and the path. Every
 * stage the dispatcher lists must be here (NULL args: it has no option that names a file). */
typedef struct option_file {
  const char *stage;
  const char *args[10];
} option_file;

Test(conventions, every_listed_program)
{
  char names[16][32];
  size_t n = stages(names);
  char *root = tu_tmpdir(), *in = cu_fmt("%s/in/cat", root), *ds = cu_fmt("%s/ds", root);
  cu_mkdirs(in);
  char *pic = cu_fmt("%s/a.ppm", in);
  cu_write_ppm(pic, 32, 24, 1, 0, 0, 1.0);
  const char *const collect[] = {"-d", ds, "--batch", "b1", "-q", pic, NULL};
  cr_assert_eq(cu_run("edgeset-collect", collect, NULL, NULL, NULL), 0);
  const char *missing = "/nonexistent-edgeset/file";
  const option_file files[] = {
      {"collect", {NULL}}, /* its inputs are arguments; an unreadable one is quarantined */
      {"label", {"-d", ds, "--from", "csv:/nonexistent-edgeset/file", NULL}},
      {"label", {"-d", ds, "--balance", "--labels", missing, NULL}},
      {"split", {NULL}},
      {"rm", {NULL}},
      {"fsck", {NULL}},
      {"gc", {NULL}},
      {"merge", {NULL}}, /* its parts are arguments */
      {"augment", {NULL}},
      {"eval", {"-d", ds, "--model", missing, NULL}},
      {"drift", {"-d", ds, "--reference", "profile:/nonexistent-edgeset/file", "--current",
                 "batch:b1", NULL}},
      {"drift", {"-d", ds, "--reference", "batch:b1", "--current", "batch:b1", "--model",
                 missing, NULL}},
  };
  for (size_t k = 0; k < n; k++) {
    char *prog = cu_fmt("edgeset-%s", names[k]);
    const char *const unknown[] = {"--no-such-option", NULL};
    expect_usage_error(prog, unknown, "unknown option '--no-such-option'");
    const char *const novalue[] = {"-j", NULL};
    expect_usage_error(prog, novalue, "option '-j' needs a value");
    char *out = NULL;
    const char *const help[] = {"--help", NULL}, *const version[] = {"--version", NULL};
    cr_expect_eq(cu_run(prog, help, NULL, &out, NULL), 0, "%s --help", prog);
    char *usage = cu_fmt("usage: %s ", prog);
    cr_expect_eq(strncmp(out, usage, strlen(usage)), 0, "%s --help: %s", prog, out);
    free(usage);
    free(out);
    cr_expect_eq(cu_run(prog, version, NULL, &out, NULL), 0, "%s --version", prog);
    char *ver = cu_fmt("%s (edgeset) ", prog);
    cr_expect_eq(strncmp(out, ver, strlen(ver)), 0, "%s --version: %s", prog, out);
    free(ver);
    free(out);
    int listed = 0;
    for (size_t f = 0; f < sizeof files / sizeof *files; f++) {
      if (strcmp(files[f].stage, names[k]))
        continue;
      listed = 1;
      if (!files[f].args[0])
        continue;
      char *err = NULL;
      int rc = cu_run(prog, files[f].args, NULL, NULL, &err);
      cr_expect_eq(rc, 2, "%s with a missing option file: exit %d: %s", prog, rc, err);
      char *head = cu_fmt("%s: ", prog);
      cr_expect(!strncmp(err, head, strlen(head)) &&
                    strstr(err, "'/nonexistent-edgeset/file': No such file or directory"),
                "%s: %s", prog, err);
      free(head);
      free(err);
    }
    cr_expect(listed, "stage '%s' is not in this test's table of option files", names[k]);
    free(prog);
  }
  free(pic);
  free(in);
  free(ds);
  free(root);
}
