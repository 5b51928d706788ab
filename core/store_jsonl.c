/* The append-only JSONL files (ledger.jsonl, quarantine.jsonl) and the time stamp their
 * records carry (core/store.h). */
#include "core/store.h"
#include "core/store_internal.h"

#include "core/hash.h"

#include <dirent.h>
#include <pthread.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

/* ---- append-only JSONL ------------------------------------------------------------------ */

/* Cuts a torn last line (no final '\n') off fd, whose size is *size; updates *size. */
static int cut_torn_tail(int fd, off_t *size)
{
  off_t end = *size;
  uint8_t chunk[4096];
  while (end > 0) {
    size_t n = end > (off_t)sizeof chunk ? sizeof chunk : (size_t)end;
    off_t at = end - (off_t)n;
    ssize_t r = pread(fd, chunk, n, at);
    if (r < 0 && errno == EINTR)
      continue;
    if (r != (ssize_t)n)
      return -1;
    if (end == *size && chunk[n - 1] == '\n')
      return 0; /* intact */
    for (size_t i = n; i > 0; i--)
      if (chunk[i - 1] == '\n') {
        end = at + (off_t)i;
        goto found;
      }
    end = at;
  }
found:
  if (ftruncate(fd, end) != 0)
    return -1;
  *size = end;
  return 0;
}

int es_store_append(const es_store *st, const char *name, const json_t *record, es_error *err)
{
  int rc = es__store_check_name(st, name, err);
  if (rc)
    return rc;
  if (st->lockfd < 0 || st->lock_shared)
    return es_error_set(err, ES_EINTERNAL,
                        "appending to '%s/%s' without holding the dataset lock", st->root, name);
  int fd = -1, dfd = -1, created = 0;
  char *line = json_dumps(record, RECORD_DUMP_FLAGS);
  if (!line)
    return es_error_set(err, ES_EINTERNAL, "record for '%s/%s' cannot be written as JSON",
                        st->root, name);
  size_t n = strlen(line);
  if (memchr(line, '\n', n)) { /* cannot happen with JSON_COMPACT; the format depends on it */
    rc = es_error_set(err, ES_EINTERNAL, "record for '%s/%s' spans lines", st->root, name);
    goto cleanup;
  }
  char *l2 = realloc(line, n + 2);
  if (!l2) {
    rc = es_error_set(err, ES_ENOMEM, "out of memory");
    goto cleanup;
  }
  line = l2;
  memcpy(line + n, "\n", 2);
  n++;
  const char *base;
  dfd = es__store_open_parent(st, name, 1, &base, err);
  if (dfd < 0) {
    rc = dfd;
    goto cleanup;
  }
  fd = openat(dfd, base, O_RDWR | O_APPEND | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    fd = openat(dfd, base, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
    created = 1;
  }
  if (fd < 0) {
    rc = es_error_errno(err, ES_EIO, errno, "cannot open '%s/%s'", st->root, name);
    goto cleanup;
  }
  struct stat sb;
  off_t size;
  if (fstat(fd, &sb) != 0 || (size = sb.st_size, cut_torn_tail(fd, &size) != 0)) {
    rc = es_error_errno(err, ES_EIO, errno, "cannot repair '%s/%s'", st->root, name);
    goto cleanup;
  }
  if (st->crash) {
    /* A test's kill half-way through the line leaves a torn tail for the next append. */
    if (es__store_write_all(fd, line, n / 2) == 0)
      es__store_crash_point(st, base, "torn");
    if (ftruncate(fd, size) != 0) {
      rc = es_error_errno(err, ES_EIO, errno, "cannot append to '%s/%s'", st->root, name);
      goto cleanup;
    }
  }
  int wrote = es__store_write_all(fd, line, n) == 0;
  if (wrote)
    es__store_crash_point(st, base, "append");
  if (!wrote || fsync(fd) != 0) {
    rc = es_error_errno(err, ES_EIO, errno, "cannot append to '%s/%s'", st->root, name);
    /* Do not leave a torn line behind when we can help it (disk full). */
    if (ftruncate(fd, size) == 0)
      fsync(fd);
    goto cleanup;
  }
  if (created && fsync(dfd) != 0)
    rc = es_error_errno(err, ES_EIO, errno, "cannot sync the directory of '%s/%s'", st->root,
                        name);
cleanup:
  if (fd >= 0)
    close(fd);
  if (dfd >= 0)
    close(dfd);
  free(line);
  return rc;
}

int es_store_read_jsonl(const es_store *st, const char *name,
                        int (*fn)(const json_t *rec, void *ctx, es_error *err), void *ctx,
                        es_error *err)
{
  uint8_t *buf = NULL;
  size_t len = 0;
  int rc = es_store_read(st, name, 1, &buf, &len, err);
  if (rc || !buf)
    return rc;
  size_t pos = 0, lineno = 0;
  while (pos < len && !rc) {
    const uint8_t *nl = memchr(buf + pos, '\n', len - pos);
    if (!nl)
      break; /* a torn last line: its writer was killed; the next append cuts it off */
    size_t end = (size_t)(nl - buf);
    lineno++;
    size_t start = pos;
    pos = end + 1;
    size_t i = start;
    while (i < end && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r'))
      i++;
    if (i == end)
      continue;
    json_error_t je;
    json_t *rec = json_loadb((const char *)buf + start, end - start, JSON_REJECT_DUPLICATES, &je);
    if (!rec) {
      rc = es_error_set(err, ES_EFORMAT, "'%s/%s' line %zu: %s", st->root, name, lineno,
                        je.text);
      break;
    }
    if (!json_is_object(rec))
      rc = es_error_set(err, ES_EFORMAT, "'%s/%s' line %zu: not a JSON object", st->root, name,
                        lineno);
    else
      rc = fn(rec, ctx, err);
    json_decref(rec);
  }
  free(buf);
  return rc;
}

void es_store_now(char out[32])
{
  time_t t = time(NULL);
  const char *sde = getenv("SOURCE_DATE_EPOCH");
  if (sde && *sde) {
    char *end;
    errno = 0;
    long long v = strtoll(sde, &end, 10);
    if (!errno && *end == '\0')
      t = (time_t)v;
  }
  struct tm tm;
  if (!gmtime_r(&t, &tm) || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    snprintf(out, 32, "1970-01-01T00:00:00Z");
}

int es_store_cut_torn(const es_store *st, const char *name, es_error *err)
{
  int fd = openat(st->dirfd, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOENT ? ES_OK
                           : es_error_errno(err, ES_EIO, errno, "cannot open '%s/%s'", st->root,
                                            name);
  struct stat sb;
  off_t size;
  int rc = ES_OK;
  if (fstat(fd, &sb) != 0 || (size = sb.st_size, cut_torn_tail(fd, &size) != 0) || fsync(fd))
    rc = es_error_errno(err, ES_EIO, errno, "cannot repair '%s/%s'", st->root, name);
  close(fd);
  return rc;
}
