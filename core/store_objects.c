/* Objects in the store, one at a time or in bulk, and hashing a file to check one
 * (core/store.h). */
#include "core/store.h"
#include "core/store_internal.h"

#include "core/hash.h"
#include "core/strmap.h"

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

/* ---- objects ---------------------------------------------------------------------------- */

int es_hash_fd_hex(int fd, uint64_t *size, char out[33], es_error *err)
{
  int rc = ES_OK;
  uint8_t *chunk = malloc(1 << 16);
  XXH3_state_t *s = XXH3_createState();
  uint64_t n = 0;
  if (!chunk || !s || XXH3_128bits_reset(s) != XXH_OK) {
    rc = es_error_set(err, ES_ENOMEM, "out of memory");
    goto cleanup;
  }
  for (;;) {
    ssize_t r = read(fd, chunk, 1 << 16);
    if (r < 0) {
      if (errno == EINTR)
        continue;
      rc = es_error_errno(err, ES_EIO, errno, "cannot read a file to hash it");
      goto cleanup;
    }
    if (r == 0)
      break;
    XXH3_128bits_update(s, chunk, (size_t)r);
    n += (uint64_t)r;
  }
  XXH128_hash_t h = XXH3_128bits_digest(s);
  snprintf(out, 33, "%016" PRIx64 "%016" PRIx64, (uint64_t)h.high64, (uint64_t)h.low64);
  *size = n;
cleanup:
  XXH3_freeState(s);
  free(chunk);
  return rc;
}

/* 1 when `name` in dfd holds exactly len bytes hashing to id; 0 when it is missing, unreadable
 * or damaged (so that it is rewritten). */
static int object_intact(int dfd, const char *name, const char *id, size_t len)
{
  int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 0;
  struct stat sb;
  int ok = 0;
  if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && (uint64_t)sb.st_size == (uint64_t)len) {
    char hex[33];
    uint64_t n;
    ok = es_hash_fd_hex(fd, &n, hex, NULL) == ES_OK && n == (uint64_t)len && strcmp(hex, id) == 0;
  }
  close(fd);
  return ok;
}

static int is_lower_hex(const char *s, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
      return 0;
  return s[n] == '\0';
}

/* Hard-links src_path as the temporary and keeps it only when what was linked is the object
 * (src_path may have changed since the caller hashed it). 1 = linked, 0 = fall back to copy. */
static int try_link(int tdfd, const char *tname, const char *src_path, const char *id,
                    size_t len, int sync)
{
  if (linkat(AT_FDCWD, src_path, tdfd, tname, 0) != 0) {
    if (errno != EEXIST)
      return 0;
    unlinkat(tdfd, tname, 0);
    if (linkat(AT_FDCWD, src_path, tdfd, tname, 0) != 0)
      return 0;
  }
  int fd = -1, ok = object_intact(tdfd, tname, id, len);
  if (ok && sync) { /* the bytes may still sit in the page cache only */
    fd = openat(tdfd, tname, O_RDONLY | O_CLOEXEC);
    ok = fd >= 0 && fsync(fd) == 0;
    if (fd >= 0)
      close(fd);
  }
  if (!ok)
    unlinkat(tdfd, tname, 0);
  return ok;
}

/* Checks an object's id, extension, mode and bytes before anything is written. */
static int check_object(const char *id, const char *ext, const char *mode, const uint8_t *buf,
                        size_t len, es_error *err)
{
  if (strcmp(mode, "link") && strcmp(mode, "copy") && strcmp(mode, "ref"))
    return es_error_set(err, ES_EUSAGE, "unknown store mode '%s' (expected copy, link or ref)",
                        mode);
  if (!id || strlen(id) != 32 || !is_lower_hex(id, 32))
    return es_error_set(err, ES_EINTERNAL, "bad object id '%s'", id ? id : "(null)");
  size_t elen = ext ? strlen(ext) : 0;
  if (elen == 0 || elen > 15)
    return es_error_set(err, ES_EINTERNAL, "bad object extension '%s'", ext ? ext : "(null)");
  for (size_t i = 0; i < elen; i++)
    if (!((ext[i] >= 'a' && ext[i] <= 'z') || (ext[i] >= '0' && ext[i] <= '9')))
      return es_error_set(err, ES_EINTERNAL, "bad object extension '%s'", ext);
  if (!strcmp(mode, "ref"))
    return ES_OK;
  if (!buf && len)
    return es_error_set(err, ES_EINTERNAL, "object '%s' has no bytes", id);
  char hex[33];
  es_hash_hex(buf ? (const void *)buf : "", len, hex);
  if (strcmp(hex, id) != 0)
    return es_error_set(err, ES_EINTERNAL, "object bytes hash to '%s', not to its id '%s'", hex,
                        id);
  return ES_OK;
}

/* Puts the object's bytes into the temporary tname (a hard link to src_path in link mode when
 * that works, else a copy of buf); `sync` makes them durable before returning. */
static int object_to_tmp(const es_store *st, int tdfd, const char *tname, const char *id,
                         const uint8_t *buf, size_t len, const char *src_path, const char *mode,
                         int sync, int *linked, es_error *err)
{
  *linked = !strcmp(mode, "link") && src_path && try_link(tdfd, tname, src_path, id, len, sync);
  if (*linked)
    return ES_OK;
  return es__store_tmp_write(st, tdfd, tname, buf ? (const void *)buf : "", len, sync, err);
}

int es_store_put_object(const es_store *st, const char *id, const char *ext, const uint8_t *buf,
                        size_t len, const char *src_path, const char *mode, char **relpath,
                        es_error *err)
{
  int rc = ES_OK, dfd = -1, tdfd = -1;
  if (relpath)
    *relpath = NULL;
  if (!mode)
    mode = "copy";
  if ((rc = check_object(id, ext, mode, buf, len, err)) || !strcmp(mode, "ref"))
    return rc; /* ref: nothing stored, the caller records the original path */

  char rel[64];
  snprintf(rel, sizeof rel, "objects/%.2s/%s.%s", id, id, ext);
  const char *base;
  dfd = es__store_open_parent(st, rel, 1, &base, err);
  if (dfd < 0)
    return dfd;
  if (!object_intact(dfd, base, id, len)) {
    char tname[64];
    es__store_tmp_name(tname);
    tdfd = es__store_open_tmpdir(st, err);
    if (tdfd < 0) {
      rc = tdfd;
      goto cleanup;
    }
    int linked;
    rc = object_to_tmp(st, tdfd, tname, id, buf, len, src_path, mode, 1, &linked, err);
    if (!rc)
      rc = es__store_tmp_publish(st, tdfd, tname, dfd, base, rel, "object", NULL, NULL, err);
    if (rc)
      goto cleanup;
  }
  if (relpath && !(*relpath = strdup(rel)))
    rc = es_error_set(err, ES_ENOMEM, "out of memory");
cleanup:
  if (tdfd >= 0)
    close(tdfd);
  close(dfd);
  return rc;
}

/* ---- objects in bulk -------------------------------------------------------------------- */

typedef struct staged {
  char tmp[64];  /* name in TMP_DIR */
  char rel[64];  /* final name relative to the root */
  int state;     /* 0 staged, 1 published, 2 dropped */
  int linked;    /* the temporary is a hard link to the input */
} staged;

/* Everything a batch opens once rather than per object: the temporary directory and which
 * "objects/xx" directories this batch has already made. */
struct es_object_batch {
  pthread_mutex_t lock;
  staged *v;
  size_t n, cap;
  unsigned long seq;
  long pid;
  int tdfd; /* TMP_DIR, opened by the first object staged */
  uint8_t made[257]; /* made[i]: objects/<hex i> exists; made[256]: objects exists */
};

static int hex_value(char c)
{
  return c <= '9' ? c - '0' : c - 'a' + 10;
}

/* mkdir of `dir` (relative to the root) unless the batch made it already; made without a sync
 * of its own, es_store_publish_objects()'s syncfs covers it. */
static int make_dir_once(const es_store *st, uint8_t *made, const char *dir, es_error *err)
{
  if (*made)
    return ES_OK;
  if (mkdirat(st->dirfd, dir, 0777) != 0 && errno != EEXIST)
    return es_error_errno(err, ES_EIO, errno, "cannot create '%s/%s'", st->root, dir);
  *made = 1;
  return ES_OK;
}

es_object_batch *es_object_batch_new(es_error *err)
{
  es_object_batch *b = calloc(1, sizeof *b);
  if (!b) {
    es_error_set(err, ES_ENOMEM, "out of memory");
    return NULL;
  }
  pthread_mutex_init(&b->lock, NULL);
  b->pid = (long)getpid();
  b->tdfd = -1;
  return b;
}

int es_store_stage_object(const es_store *st, es_object_batch *b, const char *id,
                          const char *ext, const uint8_t *buf, size_t len, const char *src_path,
                          const char *mode, size_t *slot, char **relpath, es_error *err)
{
  int rc;
  *slot = SIZE_MAX;
  if (relpath)
    *relpath = NULL;
  if (!mode)
    mode = "copy";
  if ((rc = check_object(id, ext, mode, buf, len, err)) || !strcmp(mode, "ref"))
    return rc;
  staged sg = {.state = 0};
  snprintf(sg.rel, sizeof sg.rel, "objects/%.2s/%s.%s", id, id, ext);
  if (relpath && !(*relpath = strdup(sg.rel)))
    return es_error_set(err, ES_ENOMEM, "out of memory");

  /* An intact object from an earlier run is kept as it is. */
  if (object_intact(st->dirfd, sg.rel, id, len))
    return ES_OK;
  pthread_mutex_lock(&b->lock);
  unsigned long seq = b->seq++;
  if (b->tdfd < 0)
    b->tdfd = es__store_open_tmpdir(st, err);
  int tdfd = b->tdfd;
  pthread_mutex_unlock(&b->lock);
  if (tdfd < 0)
    return tdfd;
  snprintf(sg.tmp, sizeof sg.tmp, "%ld.%lu.tmp", b->pid, seq);
  rc = object_to_tmp(st, tdfd, sg.tmp, id, buf, len, src_path, mode, 0, &sg.linked, err);
  if (rc)
    return rc;
  pthread_mutex_lock(&b->lock);
  /* The object's directory is made now, while the other threads still decode, rather than in
   * the serial publish at the end; an empty directory left by a crash is harmless. */
  rc = make_dir_once(st, &b->made[256], "objects", err);
  if (!rc) {
    char dir[16];
    memcpy(dir, sg.rel, 10); /* "objects/ab" */
    dir[10] = '\0';
    rc = make_dir_once(st, &b->made[hex_value(dir[8]) * 16 + hex_value(dir[9])], dir, err);
  }
  if (!rc && b->n == b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 256;
    staged *v = realloc(b->v, cap * sizeof *v);
    if (!v)
      rc = es_error_set(err, ES_ENOMEM, "out of memory");
    else {
      b->v = v;
      b->cap = cap;
    }
  }
  if (!rc) {
    *slot = b->n;
    b->v[b->n++] = sg;
  }
  pthread_mutex_unlock(&b->lock);
  if (rc)
    unlinkat(tdfd, sg.tmp, 0);
  return rc;
}

void es_object_batch_drop(const es_store *st, es_object_batch *b, size_t slot)
{
  (void)st;
  if (!b || slot >= b->n || b->v[slot].state != 0)
    return;
  b->v[slot].state = 2;
  unlinkat(b->tdfd, b->v[slot].tmp, 0);
}

/* Makes everything written to the dataset's file system durable: one syncfs(2), or, where that
 * fails, an fsync of each staged file (its temporary, or with use_rel its final name, relative
 * to dirfd `at`). */
static int sync_all(const es_store *st, int at, const staged *v, size_t n, int use_rel,
                    es_error *err)
{
  if (syncfs(st->dirfd) == 0)
    return ES_OK;
  for (size_t i = 0; i < n; i++) {
    if (v[i].state == 2)
      continue;
    int fd = openat(at, use_rel ? v[i].rel : v[i].tmp, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
      int e = errno;
      if (fd >= 0)
        close(fd);
      return es_error_errno(err, ES_EIO, e, "cannot sync '%s/%s'", st->root,
                            use_rel ? v[i].rel : v[i].tmp);
    }
    close(fd);
  }
  return ES_OK;
}

int es_store_publish_objects(const es_store *st, es_object_batch *b, es_error *err)
{
  int rc = ES_OK;
  if (!b || b->n == 0)
    return ES_OK;
  /* Every object's bytes are durable before any of their names appear. */
  if ((rc = sync_all(st, b->tdfd, b->v, b->n, 0, err)))
    return rc;
  for (size_t i = 0; i < b->n; i++) {
    staged *sg = &b->v[i];
    if (sg->state != 0)
      continue;
    es__store_crash_point(st, "object", "data");
    if (renameat(b->tdfd, sg->tmp, st->dirfd, sg->rel) != 0)
      return es_error_errno(err, ES_EIO, errno, "cannot rename into '%s/%s'", st->root, sg->rel);
    if (sg->linked) /* rename() of two links to one inode leaves the temporary behind */
      unlinkat(b->tdfd, sg->tmp, 0);
    sg->state = 1;
    es__store_crash_point(st, "object", "rename");
  }
  /* ... and the renames are durable before the caller commits a manifest naming them. */
  return sync_all(st, st->dirfd, b->v, b->n, 1, err);
}

void es_object_batch_free(const es_store *st, es_object_batch *b)
{
  if (!b)
    return;
  for (size_t i = 0; st && i < b->n; i++)
    es_object_batch_drop(st, b, i);
  if (b->tdfd >= 0)
    close(b->tdfd);
  pthread_mutex_destroy(&b->lock);
  free(b->v);
  free(b);
}

/* Deletes the files of directory `dir` (relative to the root) whose name before the first '.'
 * is in ids. */
static int delete_named(const es_store *st, const char *dir, const es_strmap *ids,
                        size_t *deleted, uint64_t *bytes, es_error *err)
{
  int dfd = openat(st->dirfd, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dfd < 0)
    return errno == ENOENT ? ES_OK
                           : es_error_errno(err, ES_EIO, errno, "cannot open '%s/%s'", st->root,
                                            dir);
  DIR *d = fdopendir(dfd);
  if (!d) {
    close(dfd);
    return es_error_errno(err, ES_EIO, errno, "cannot read '%s/%s'", st->root, dir);
  }
  int rc = ES_OK;
  struct dirent *de;
  while (rc == ES_OK && (de = readdir(d))) {
    char key[64];
    size_t k = strcspn(de->d_name, ".");
    if (k == 0 || k >= sizeof key || de->d_name[k] != '.')
      continue;
    memcpy(key, de->d_name, k);
    key[k] = 0;
    if (!es_strmap_get(ids, key, NULL))
      continue;
    struct stat sb;
    uint64_t size = fstatat(dfd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 ? (uint64_t)sb.st_size
                                                                             : 0;
    es__store_crash_point(st, "object", "delete");
    if (unlinkat(dfd, de->d_name, 0) != 0 && errno != ENOENT) {
      rc = es_error_errno(err, ES_EIO, errno, "cannot delete '%s/%s/%s'", st->root, dir,
                          de->d_name);
      break;
    }
    ++*deleted;
    *bytes += size;
  }
  if (rc == ES_OK && fsync(dfd) != 0)
    rc = es_error_errno(err, ES_EIO, errno, "cannot sync '%s/%s'", st->root, dir);
  closedir(d);
  return rc;
}

int es_store_delete_objects(const es_store *st, const es_strmap *ids, size_t *deleted,
                            uint64_t *bytes, es_error *err)
{
  *deleted = 0;
  *bytes = 0;
  if (!ids->n)
    return ES_OK;
  /* the two-digit folders the ids fall in */
  uint8_t want[256] = {0};
  for (size_t i = 0; i < ids->cap; i++) {
    const char *key = ids->keys[i];
    unsigned v;
    if (key && sscanf(key, "%2x", &v) == 1)
      want[v] = 1;
  }
  int rc = ES_OK;
  for (unsigned v = 0; v < 256 && rc == ES_OK; v++)
    if (want[v]) {
      char dir[16];
      snprintf(dir, sizeof dir, "objects/%02x", v);
      rc = delete_named(st, dir, ids, deleted, bytes, err);
    }
  return rc ? rc : delete_named(st, "lost+found", ids, deleted, bytes, err);
}

int es_store_unlink(const es_store *st, const char *rel, es_error *err)
{
  es__store_crash_point(st, "object", "delete");
  if (unlinkat(st->dirfd, rel, 0) != 0 && errno != ENOENT)
    return es_error_errno(err, ES_EIO, errno, "cannot delete '%s/%s'", st->root, rel);
  return ES_OK;
}

int es_store_move(const es_store *st, const char *from, const char *to, es_error *err)
{
  es__store_crash_point(st, "object", "move");
  if (renameat(st->dirfd, from, st->dirfd, to) != 0)
    return es_error_errno(err, ES_EIO, errno, "cannot move '%s/%s' to '%s'", st->root, from, to);
  return ES_OK;
}
