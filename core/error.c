/* es_error: recording an error's detail once, where it is detected. */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int es_error_set(es_error *err, int code, const char *fmt, ...)
{
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    err->code = code;
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
  }
  return code;
}

int es_error_errno(es_error *err, int code, int errno_value, const char *fmt, ...)
{
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    err->code = code;
    int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof err->msg)
      snprintf(err->msg + n, sizeof err->msg - (size_t)n, ": %s", strerror(errno_value));
  }
  return code;
}

void es_error_prefix(es_error *err, const char *fmt, ...)
{
  if (!err)
    return;
  char prefix[512], old[sizeof err->msg];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  memcpy(old, err->msg, sizeof old);
  /* Truncation keeps the start of the message, which says what failed. */
  size_t n = strlen(prefix);
  if (n > sizeof err->msg - 3)
    n = sizeof err->msg - 3;
  memcpy(err->msg, prefix, n);
  memcpy(err->msg + n, ": ", 2);
  size_t rest = sizeof err->msg - n - 3;
  size_t m = strnlen(old, rest);
  memcpy(err->msg + n + 2, old, m);
  err->msg[n + 2 + m] = '\0';
}

void es_error_clear(es_error *err)
{
  if (err) {
    err->code = ES_OK;
    err->msg[0] = '\0';
  }
}

void es_error_keep_first(volatile int *failed, int *rc, es_error *out, int code,
                         const es_error *e)
{
#pragma omp critical(es_error_keep_first)
  {
    if (!*failed) {
      *failed = 1;
      *rc = code;
      if (out)
        *out = *e;
    }
  }
}

int es_exit_status(int code)
{
  if (code == ES_OK)
    return ES_EXIT_OK;
  return code == ES_EUSAGE ? ES_EXIT_USAGE : ES_EXIT_FAIL;
}

const char *es_code_name(int code)
{
  switch (code) {
  case ES_OK: return "ok";
  case ES_EUSAGE: return "bad usage";
  case ES_EIO: return "i/o error";
  case ES_ENOMEM: return "out of memory";
  case ES_EFORMAT: return "corrupt data";
  case ES_ELIMIT: return "limit exceeded";
  case ES_EUNSUPPORTED: return "unsupported";
  case ES_ENOTFOUND: return "not found";
  case ES_EVERSION: return "newer version";
  default: return "internal error";
  }
}
