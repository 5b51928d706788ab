/* Errors and exit codes shared by every module. Library functions return ES_OK or a negative
 * ES_E* code and record the detail once, in git's style ("what: why", lowercase, objects in
 * quotes), in an es_error the caller passed. Callers above add context with es_error_prefix()
 * only where they know something the detector did not (the file name), and otherwise pass the
 * code on. Programs turn codes into exit statuses with es_exit_status(). */
#ifndef ES_ERROR_H
#define ES_ERROR_H

#include <stddef.h>

enum {
  ES_OK = 0,
  ES_EUSAGE = -1,       /* bad argument or option: exit 2, nothing changed */
  ES_EIO = -2,          /* read, write, lock or rename failed */
  ES_ENOMEM = -3,
  ES_EFORMAT = -4,      /* corrupt or malformed data */
  ES_ELIMIT = -5,       /* a configured limit (pixels, MACs, arena bytes ...) was exceeded */
  ES_EUNSUPPORTED = -6, /* recognised but not supported (a GIF, an op we do not run) */
  ES_ENOTFOUND = -7,
  ES_EVERSION = -8,     /* a file written by a newer edgeset */
  ES_EINTERNAL = -9,
};

/* Exit statuses, the same in every program (ARCHITECTURE.md). */
enum {
  ES_EXIT_OK = 0,    /* done, nothing found that the program guards against */
  ES_EXIT_FOUND = 1, /* done, and it found what it guards against */
  ES_EXIT_USAGE = 2, /* bad usage; nothing was changed */
  ES_EXIT_FAIL = 3,  /* I/O or internal failure; the dataset is in its last consistent state */
};

typedef struct es_error {
  int code;
  char msg[1024];
} es_error;

/* Records code and a printf-style message in err (which may be NULL) and returns code, so that
 * `return es_error_set(err, ES_EFORMAT, "bad IHDR");` reads as one statement. */
int es_error_set(es_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like es_error_set() with ": strerror(errno_value)" appended. */
int es_error_errno(es_error *err, int code, int errno_value, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Prepends "<prefix>: " to the message already recorded in err (no-op when err is NULL). */
void es_error_prefix(es_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void es_error_clear(es_error *err);

/* For a loop run by several threads that stops at its first failure: unless a failure was
 * recorded already, records code as the loop's outcome (*rc) and *e in *out (when not NULL);
 * either way *failed becomes 1. Safe to call from several threads at once. */
void es_error_keep_first(volatile int *failed, int *rc, es_error *out, int code,
                         const es_error *e);

/* ES_EUSAGE -> 2, every other negative code -> 3, ES_OK -> 0. */
int es_exit_status(int code);

/* A short name for a code ("corrupt data", "limit exceeded" ...). */
const char *es_code_name(int code);

#endif
