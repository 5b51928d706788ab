/* Shared command-line conventions: version text, error format, dataset and jobs options. */
#include "core/cli.h"

#include "core/show.h"
#include "core/store.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void es_cli_version(const char *prog)
{
  printf("%s (edgeset) %s\n", prog, EDGESET_VERSION);
}

/* The one place a diagnostic line is printed: "<prog>: <msg>\n" on stderr, the message shown
 * as core/show.h says (control characters and invalid UTF-8 escaped, cut after
 * ES_SHOW_LINE_MAX bytes), whatever reached it without es_show(). */
static void print_line(const char *prog, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
static void print_line(const char *prog, const char *fmt, va_list ap)
{
  char shown[ES_SHOW_LINE_MAX + 48];
  es_show_vline(shown, sizeof shown, fmt, ap);
  fprintf(stderr, "%s: %s\n", prog, shown);
}

void es_cli_error(const char *prog, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  print_line(prog, fmt, ap);
  va_end(ap);
}

int es_cli_fail(const char *prog, int code, const es_error *err)
{
  es_cli_error(prog, "%s", err && err->msg[0] ? err->msg : es_code_name(code));
  return es_exit_status(code);
}

int es_cli_help(const char *prog, const char *usage)
{
  fputs("usage: ", stdout);
  fputs(usage, stdout);
  return es_cli_finish(prog, ES_EXIT_OK);
}

int es_cli_fail_dataset(const char *prog, int code, const es_error *err)
{
  int status = es_cli_fail(prog, code, err);
  return code == ES_ENOTFOUND ? ES_EXIT_USAGE : status;
}

int es_cli_fail_option_file(const char *prog, int code, const es_error *err)
{
  es_cli_fail(prog, code, err);
  return code == ES_ENOMEM ? ES_EXIT_FAIL : ES_EXIT_USAGE;
}

int es_cli_usage_error(const char *prog, const char *usage, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  print_line(prog, fmt, ap);
  va_end(ap);
  const char *nl = strchr(usage, '\n');
  fprintf(stderr, "usage: %.*s\ntry '%s --help'\n", nl ? (int)(nl - usage) : (int)strlen(usage),
          usage, prog);
  return ES_EXIT_USAGE;
}

int es_cli_bad_option(const char *prog, const char *usage, int c, char *const argv[])
{
  if (c == ':')
    return es_cli_usage_error(prog, usage, "option '%s' needs a value",
                              es_show(argv[optind - 1]));
  return es_cli_usage_error(prog, usage, "unknown option '%s'", es_show(argv[optind - 1]));
}

const char *es_cli_dataset(const char *opt)
{
  if (opt && *opt)
    return opt;
  const char *env = getenv("EDGESET_DATASET");
  return env && *env ? env : NULL;
}

int es_cli_parse_uint(const char *s, unsigned long long min, unsigned long long max,
                      unsigned long long *out, es_error *err)
{
  char *end = NULL;
  errno = 0;
  if (!s || !*s || *s == '-' || *s == '+')
    return es_error_set(err, ES_EUSAGE, "'%s' is not a non-negative integer",
                        es_show(s ? s : ""));
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *end)
    return es_error_set(err, ES_EUSAGE, "'%s' is not a non-negative integer", es_show(s));
  if (v < min || v > max)
    return es_error_set(err, ES_EUSAGE, "'%s' is out of range (%llu to %llu)", es_show(s), min,
                        max);
  *out = v;
  return ES_OK;
}

int es_cli_parse_jobs(const char *s, int *jobs, es_error *err)
{
  unsigned long long v;
  int rc = es_cli_parse_uint(s, 0, 1024, &v, err);
  if (rc)
    return rc;
  if (v == 0) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    v = n > 0 ? (unsigned long long)n : 1;
  }
  *jobs = (int)v;
  return ES_OK;
}

int es_cli_finish(const char *prog, int status)
{
  if (fflush(stdout) != 0 || ferror(stdout)) {
    es_cli_error(prog, "cannot write to standard output: %s", strerror(errno));
    return ES_EXIT_FAIL;
  }
  return status;
}

int es_cli_lock(const char *prog, es_store *st, int flags, int quiet, es_error *err)
{
  int busy = 0;
  int rc = es_store_lock_ex(st, flags & ~ES_LOCK_WAIT, &busy, err);
  if (rc && busy) {
    if (!quiet)
      es_cli_error(prog, "waiting for another edgeset process to release '%s'", st->root);
    rc = es_store_lock_ex(st, flags | ES_LOCK_WAIT, NULL, err);
  }
  return rc;
}
