/* What every program shares on the command line: --version text, the dataset directory from
 * -d or EDGESET_DATASET, --jobs, and error printing in git's style
 * ("edgeset-collect: cannot decode 'x.jpg': truncated JPEG"). Every diagnostic line goes out
 * through es_cli_error() and its siblings here, which show it as core/show.h says: control
 * characters and invalid UTF-8 escaped as \xHH, cut after ES_SHOW_LINE_MAX bytes. A value from
 * outside enters a message through es_show() (escaped, cut after ES_SHOW_MAX bytes). */
#ifndef ES_CLI_H
#define ES_CLI_H

#include <stdio.h>

#include "core/error.h"
#include "core/show.h"

/* --help: prints "usage: <usage>" to stdout and returns es_cli_finish(prog, 0). */
int es_cli_help(const char *prog, const char *usage);

/* Prints "<prog> (edgeset) VERSION" to stdout. */
void es_cli_version(const char *prog);

/* Prints "<prog>: <msg>\n" to stderr, msg shown (escaped and cut) as core/show.h says. */
void es_cli_error(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints "<prog>: <err->msg>" and returns es_exit_status(code). */
int es_cli_fail(const char *prog, int code, const es_error *err);

/* A dataset named by -d that cannot be opened: "<prog>: <err->msg>", and ES_EXIT_USAGE when it
 * is not there (an unusable argument, not an I/O failure), else es_exit_status(code). */
int es_cli_fail_dataset(const char *prog, int code, const es_error *err);

/* A file named by an option (a model, a labels file, a profile, a label source) that cannot be
 * opened, read or parsed: the argument is unusable, so this prints "<prog>: <err->msg>" and
 * returns ES_EXIT_USAGE (2) whatever code, except ES_ENOMEM (3). I/O failures on the dataset or
 * on outputs go through es_cli_fail() (3). docs/cli.md. */
int es_cli_fail_option_file(const char *prog, int code, const es_error *err);

/* Bad usage: prints "<prog>: <msg>" and "usage: <usage>" (first line) and "try '<prog> --help'"
 * to stderr; returns ES_EXIT_USAGE. */
int es_cli_usage_error(const char *prog, const char *usage, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The usage error for what getopt_long() returned on a bad option, for an optstring that
 * starts with ':': c == ':' is a missing value, anything else an unknown option; both name
 * argv[optind - 1]. */
int es_cli_bad_option(const char *prog, const char *usage, int c, char *const argv[]);

/* The dataset directory: opt when given, else $EDGESET_DATASET, else NULL. */
const char *es_cli_dataset(const char *opt);

/* Parses a --jobs value (1..1024); 0 means the number of online CPUs. ES_EUSAGE on junk. */
int es_cli_parse_jobs(const char *s, int *jobs, es_error *err);

/* Parses an unsigned decimal integer in [min, max]; ES_EUSAGE on junk or out of range. */
int es_cli_parse_uint(const char *s, unsigned long long min, unsigned long long max,
                      unsigned long long *out, es_error *err);

/* Flushes stdout and returns ES_EXIT_FAIL (after printing why) when writing it failed, so that
 * a full disk or closed pipe is not reported as success; otherwise returns status. */
int es_cli_finish(const char *prog, int status);

typedef struct es_store es_store;
/* Locks the dataset for a program (es_store_lock_ex flags, ES_LOCK_WAIT implied): when another
 * process holds the lock, says so on stderr (unless quiet) and waits; any other failure (a
 * read-only file system, no permission) is returned at once, so the real error comes first. */
int es_cli_lock(const char *prog, es_store *st, int flags, int quiet, es_error *err);

#endif
