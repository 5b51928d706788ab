/* The exclusive (or shared) flock on DATASET/.lock and clearing dead writers' temporaries
 * (core/store.h). */
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

/* ---- lock ------------------------------------------------------------------------------- */

int es_store_tmp_stale(const char *name)
{
  char *end;
  errno = 0;
  long pid = strtol(name, &end, 10);
  if (errno || pid <= 0 || *end != '.' || pid == (long)getpid() || pid > INT_MAX)
    return 0;
  return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* Removes temporaries whose writer is dead. Called with the lock held, so a dead holder's
 * half-written files cannot be confused with anything; a live process's are left alone. */
static void clean_stale_tmp(const es_store *st)
{
  int fd = openat(st->dirfd, TMP_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return;
  int lfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  DIR *d = lfd >= 0 ? fdopendir(lfd) : NULL;
  if (!d) {
    if (lfd >= 0)
      close(lfd);
    close(fd);
    return;
  }
  struct dirent *de;
  while ((de = readdir(d)))
    if (es_store_tmp_stale(de->d_name))
      unlinkat(fd, de->d_name, 0);
  closedir(d);
  close(fd);
}

/* Opens DATASET/.lock for a lock of the given kind. A writer's lock needs a .lock it may create
 * and write to; a reader's opens it read-only, so that it works on a read-only dataset (flock
 * needs no write access). *none is set when a reader finds no .lock and cannot create one:
 * nothing writes the dataset through this file system then, so it proceeds without a lock. */
static int open_lock_file(const es_store *st, int shared, int *none, es_error *err)
{
  *none = 0;
  int fd = openat(st->dirfd, LOCK_FILE,
                  (shared ? O_RDONLY : O_RDWR | O_CREAT) | O_CLOEXEC, 0666);
  if (fd < 0 && shared && errno == ENOENT) {
    fd = openat(st->dirfd, LOCK_FILE, O_RDONLY | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0 && (errno == EROFS || errno == EACCES || errno == EPERM)) {
      *none = 1;
      return -1;
    }
  }
  if (fd < 0)
    return es_error_errno(err, ES_EIO, errno, "cannot lock '%s/" LOCK_FILE "'", st->root);
  return fd;
}

int es_store_lock_ex(es_store *st, int flags, int *busy, es_error *err)
{
  int shared = (flags & ES_LOCK_SHARED) != 0, wait = (flags & ES_LOCK_WAIT) != 0;
  if (busy)
    *busy = 0;
  if (st->lockfd >= 0 && (shared || !st->lock_shared))
    return ES_OK; /* held already, at least as strong as asked */
  if (st->lockfd >= 0) /* flock's conversion is not atomic: a reader never becomes a writer */
    return es_error_set(err, ES_EINTERNAL, "dataset '%s': a reader's lock cannot become a "
                        "writer's", st->root);
  int none = 0, fd = open_lock_file(st, shared, &none, err);
  if (fd < 0)
    return none ? ES_OK : fd;
  while (flock(fd, (shared ? LOCK_SH : LOCK_EX) | (wait ? 0 : LOCK_NB)) != 0) {
    int e = errno;
    if (e == EINTR)
      continue;
    close(fd);
    if (e == EWOULDBLOCK) {
      if (busy)
        *busy = 1;
      return es_error_set(err, ES_EIO, "dataset '%s' is locked by another process", st->root);
    }
    return es_error_errno(err, ES_EIO, e, "cannot lock '%s/" LOCK_FILE "'", st->root);
  }
  st->lockfd = fd;
  st->lock_shared = shared;
  if (!shared)
    clean_stale_tmp(st); /* a reader changes nothing, not even a dead writer's temporaries */
  return ES_OK;
}

int es_store_lock(es_store *st, int wait, es_error *err)
{
  return es_store_lock_ex(st, wait ? ES_LOCK_WAIT : 0, NULL, err);
}

void es_store_unlock(es_store *st)
{
  if (st && st->lockfd >= 0) {
    close(st->lockfd); /* closing the only descriptor releases the flock */
    st->lockfd = -1;
    st->lock_shared = 0;
  }
}
