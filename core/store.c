/* The dataset directory on disk (docs/dataset-format.md). This file owns opening and creating a
 * dataset (edgeset.json) and crash-safe whole-file writes, with the helpers the other files of
 * the module share (core/store_internal.h): the flock on DATASET/.lock is in core/store_lock.c,
 * objects in core/store_objects.c and the append-only JSONL files in core/store_jsonl.c.
 *
 * Every whole-file write goes through a temporary file in DATASET/.tmp/ named
 * "<pid>.<tid>.tmp": written, fsynced, renamed over its final name (the commit point) and the
 * final directory fsynced. Keeping temporaries in one directory means a reader never meets one
 * beside real data and taking the lock can clear those left by killed processes (whose pid is
 * no longer alive) by scanning a single small directory. Temporaries of live processes are
 * never touched. */
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

#define SETTINGS_FILE "edgeset.json"
#define FORMAT_NAME "edgeset-dataset"


void es_settings_default(es_settings *s)
{
  s->near = ES_DEFAULT_NEAR;
  s->near_score = ES_DEFAULT_NEAR_SCORE;
  s->near_score_small = ES_DEFAULT_NEAR_SCORE_SMALL;
  s->max_pixels = ES_DEFAULT_MAX_PIXELS;
  s->max_file_bytes = ES_DEFAULT_MAX_FILE_BYTES;
  s->jpeg_fancy_upsampling = 1;
  s->jpeg_dct_float = 0;
}

/* ---- small I/O helpers ---------------------------------------------------------------- */

/* ---- crash points (a test seam) ---------------------------------------------------------- */

/* EDGESET_CRASH_AT="<point>:<n>" makes this process SIGKILL itself the n-th time a write reaches
 * <point>, so the crash-safety tests can stop a run between any two steps of a write instead of
 * hoping a random kill lands there. Points: "<what>-data" (temporary written and synced, not yet
 * renamed), "<what>-rename" (renamed, directory not yet synced) for what = object or the file's
 * base name without extension (manifest, ...); "<what>-append" (line written, not yet synced)
 * and "<what>-torn" (half a line written) for the append-only files (ledger, quarantine). */
struct es__crash {
  char point[64];
  long nth;
  long count; /* updated atomically: objects are written from several threads */
};

static struct es__crash *crash_from_env(void)
{
  const char *spec = getenv("EDGESET_CRASH_AT");
  const char *colon = spec ? strrchr(spec, ':') : NULL;
  if (!colon || colon == spec || (size_t)(colon - spec) >= sizeof ((struct es__crash *)0)->point)
    return NULL;
  struct es__crash *c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  memcpy(c->point, spec, (size_t)(colon - spec));
  c->nth = strtol(colon + 1, NULL, 10);
  return c;
}

/* `what` is "object", or a file name whose extension is dropped ("ledger.jsonl" -> "ledger"). */
void es__store_crash_point(const es_store *st, const char *what, const char *step)
{
  struct es__crash *c = st->crash;
  if (!c)
    return;
  size_t n = strcspn(what, ".");
  if (strncmp(c->point, what, n) || c->point[n] != '-' || strcmp(c->point + n + 1, step))
    return;
  if (__atomic_add_fetch(&c->count, 1, __ATOMIC_SEQ_CST) == c->nth)
    raise(SIGKILL);
}

int es__store_write_all(int fd, const void *buf, size_t len)
{
  const uint8_t *p = buf;
  while (len > 0) {
    ssize_t w = write(fd, p, len);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    if (w == 0) {
      errno = EIO;
      return -1;
    }
    p += w;
    len -= (size_t)w;
  }
  return 0;
}

/* Names passed to the store are relative to the root, '/'-separated, without empty, "." or
 * ".." components, so nothing is ever written outside the dataset. */
int es__store_check_name(const es_store *st, const char *name, es_error *err)
{
  if (!name || !*name || name[0] == '/')
    return es_error_set(err, ES_EINTERNAL, "bad file name '%s' in dataset '%s'",
                        name ? name : "(null)", st->root);
  const char *p = name;
  while (*p) {
    const char *q = strchr(p, '/');
    size_t n = q ? (size_t)(q - p) : strlen(p);
    if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
      return es_error_set(err, ES_EINTERNAL, "bad file name '%s' in dataset '%s'", name,
                          st->root);
    p += n;
    if (*p == '/')
      p++;
  }
  return ES_OK;
}

/* Opens the directory that holds `name` (relative to the root). With create != 0, missing
 * directories are made, each new one made durable by fsyncing its parent. *base points into
 * name at the last component. Returns the fd or a negative code. */
int es__store_open_parent(const es_store *st, const char *name, int create, const char **base,
                          es_error *err)
{
  const char *slash = strrchr(name, '/');
  *base = slash ? slash + 1 : name;
  int fd = fcntl(st->dirfd, F_DUPFD_CLOEXEC, 0);
  if (fd < 0)
    return es_error_errno(err, ES_EIO, errno, "cannot open dataset '%s'", st->root);
  const char *p = name;
  char comp[NAME_MAX + 1];
  while (slash && p < slash) {
    const char *q = strchr(p, '/');
    size_t n = (size_t)(q - p);
    if (n > NAME_MAX) {
      close(fd);
      return es_error_set(err, ES_EINTERNAL, "bad file name '%s' in dataset '%s'", name,
                          st->root);
    }
    memcpy(comp, p, n);
    comp[n] = '\0';
    if (create) {
      if (mkdirat(fd, comp, 0777) == 0) {
        if (fsync(fd) != 0) {
          int e = errno;
          close(fd);
          return es_error_errno(err, ES_EIO, e, "cannot sync dataset '%s'", st->root);
        }
      } else if (errno != EEXIST) {
        int e = errno;
        close(fd);
        return es_error_errno(err, ES_EIO, e, "cannot create directory '%s/%.*s'", st->root,
                              (int)(q - name), name);
      }
    }
    int nfd = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int e = errno;
    close(fd);
    if (nfd < 0)
      return es_error_errno(err, e == ENOENT ? ES_ENOTFOUND : ES_EIO, e,
                            "cannot open directory '%s/%.*s'", st->root, (int)(q - name), name);
    fd = nfd;
    p = q + 1;
  }
  return fd;
}

int es__store_open_tmpdir(const es_store *st, es_error *err)
{
  if (mkdirat(st->dirfd, TMP_DIR, 0777) == 0) {
    if (fsync(st->dirfd) != 0)
      return es_error_errno(err, ES_EIO, errno, "cannot sync dataset '%s'", st->root);
  } else if (errno != EEXIST) {
    return es_error_errno(err, ES_EIO, errno, "cannot create '%s/" TMP_DIR "'", st->root);
  }
  int fd = openat(st->dirfd, TMP_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return es_error_errno(err, ES_EIO, errno, "cannot open '%s/" TMP_DIR "'", st->root);
  return fd;
}

/* One in-flight temporary per thread: pid and thread id make the name unique among live
 * processes, and the pid lets es_store_lock() recognise those of dead ones. */
void es__store_tmp_name(char out[64])
{
  snprintf(out, 64, "%ld.%ld.tmp", (long)getpid(), (long)gettid());
}

/* Creates the temporary `tname` in tdfd holding buf, closed, and fsynced when `sync`. */
int es__store_tmp_write(const es_store *st, int tdfd, const char *tname, const void *buf,
                        size_t len, int sync, es_error *err)
{
  int fd = openat(tdfd, tname, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0 && errno == EEXIST) {
    /* Left by an earlier failed write of this very thread (no one else has our pid). */
    unlinkat(tdfd, tname, 0);
    fd = openat(tdfd, tname, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  }
  if (fd < 0)
    return es_error_errno(err, ES_EIO, errno, "cannot create '%s/" TMP_DIR "/%s'", st->root,
                          tname);
  int bad = es__store_write_all(fd, buf, len) != 0;
  /* Without a sync now, writeback still starts at once, so that the caller's later syncfs
   * finds the data on its way to disk instead of all of it dirty. */
  if (!bad && !sync)
    sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
  if (bad || (sync && fsync(fd) != 0)) {
    int e = errno;
    close(fd);
    unlinkat(tdfd, tname, 0);
    return es_error_errno(err, ES_EIO, e, "cannot write '%s/" TMP_DIR "/%s'", st->root, tname);
  }
  if (close(fd) != 0) {
    int e = errno;
    unlinkat(tdfd, tname, 0);
    return es_error_errno(err, ES_EIO, e, "cannot write '%s/" TMP_DIR "/%s'", st->root, tname);
  }
  return ES_OK;
}

/* Renames the temporary over its final name and makes the rename durable; before(ctx), when
 * given, runs just before the rename, and its failure leaves the old file in place. */
int es__store_tmp_publish(const es_store *st, int tdfd, const char *tname, int dfd,
                          const char *base, const char *name, const char *what,
                          int (*before)(void *ctx, es_error *err), void *ctx, es_error *err)
{
  es__store_crash_point(st, what, "data");
  int rc = before ? before(ctx, err) : ES_OK;
  if (rc) {
    unlinkat(tdfd, tname, 0);
    return rc;
  }
  if (renameat(tdfd, tname, dfd, base) != 0) {
    int e = errno;
    unlinkat(tdfd, tname, 0);
    return es_error_errno(err, ES_EIO, e, "cannot rename into '%s/%s'", st->root, name);
  }
  /* rename() of two links to one inode does nothing and leaves the temporary behind. */
  unlinkat(tdfd, tname, 0);
  es__store_crash_point(st, what, "rename");
  if (fsync(dfd) != 0)
    return es_error_errno(err, ES_EIO, errno, "cannot sync the directory of '%s/%s'", st->root,
                          name);
  return ES_OK;
}

/* ---- settings (edgeset.json) ------------------------------------------------------------ */

int es_settings_relation(const es_settings *s, es_near_rel *rel)
{
  rel->radius = s->near;
  rel->score_large = s->near_score;
  rel->score_small = s->near_score_small;
  return s->near_score > 0;
}

static json_t *settings_to_json(const es_settings *s)
{
  json_t *set = json_pack("{s:I, s:I, s:I, s:I, s:I, s:b, s:s}", "near", (json_int_t)s->near,
                          "near_score", (json_int_t)s->near_score, "near_score_small",
                          (json_int_t)s->near_score_small, "max_pixels",
                          (json_int_t)s->max_pixels, "max_file_bytes",
                          (json_int_t)s->max_file_bytes, "jpeg_fancy_upsampling",
                          s->jpeg_fancy_upsampling ? 1 : 0, "jpeg_dct",
                          s->jpeg_dct_float ? "float" : "islow");
  if (!set)
    return NULL;
  return json_pack("{s:s, s:i, s:o}", "format", FORMAT_NAME, "version", ES_DATASET_VERSION,
                   "settings", set);
}

static int settings_check(const es_settings *s, es_error *err)
{
  if (s->near > 32)
    return es_error_set(err, ES_EUSAGE, "near-duplicate radius %u is more than 32 bits",
                        s->near);
  if (s->near_score < 1 || s->near_score > 1000 || s->near_score_small < 1 ||
      s->near_score_small > 1000)
    return es_error_set(err, ES_EUSAGE, "near-duplicate scores %u and %u are out of range "
                        "(1 to 1000 thousandths)", s->near_score, s->near_score_small);
  if (s->max_pixels == 0 || s->max_pixels > INT64_MAX)
    return es_error_set(err, ES_EUSAGE, "pixel limit %" PRIu64 " is out of range",
                        s->max_pixels);
  if (s->max_file_bytes == 0 || s->max_file_bytes > INT64_MAX)
    return es_error_set(err, ES_EUSAGE, "file size limit %" PRIu64 " is out of range",
                        s->max_file_bytes);
  return ES_OK;
}

static int settings_from_json(const es_store *st, const uint8_t *buf, size_t len,
                              es_settings *s, es_error *err)
{
  int rc = ES_EFORMAT;
  json_error_t je;
  json_t *root = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &je);
  if (!root) {
    es_error_set(err, ES_EFORMAT, "'%s/" SETTINGS_FILE "' line %d: %s", st->root, je.line,
                 je.text);
    goto cleanup;
  }
  json_t *fmt = json_object_get(root, "format");
  if (!json_is_object(root) || !json_is_string(fmt) ||
      strcmp(json_string_value(fmt), FORMAT_NAME) != 0) {
    es_error_set(err, ES_EFORMAT, "'%s/" SETTINGS_FILE "': not an edgeset dataset description",
                 st->root);
    goto cleanup;
  }
  json_t *ver = json_object_get(root, "version");
  if (!json_is_integer(ver) || json_integer_value(ver) < 1) {
    es_error_set(err, ES_EFORMAT, "'%s/" SETTINGS_FILE "': 'version' is not a positive integer",
                 st->root);
    goto cleanup;
  }
  if (json_integer_value(ver) > ES_DATASET_VERSION) {
    rc = es_error_set(err, ES_EVERSION,
                      "dataset '%s' has format version %" JSON_INTEGER_FORMAT
                      "; this edgeset reads version %d: upgrade edgeset",
                      st->root, json_integer_value(ver), ES_DATASET_VERSION);
    goto cleanup;
  }
  const json_int_t version = json_integer_value(ver);
  /* a version 1 dataset has no second stage (es_settings_relation()) */
  s->near_score = s->near_score_small = 0;
  json_t *set = json_object_get(root, "settings");
  if (!json_is_object(set)) {
    es_error_set(err, ES_EFORMAT, "'%s/" SETTINGS_FILE "': 'settings' is not an object",
                 st->root);
    goto cleanup;
  }
  const char *key;
  json_t *v;
  json_object_foreach(set, key, v)
  {
    const char *why = NULL;
    if (strcmp(key, "near") == 0) {
      if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 64)
        why = "an integer from 0 to 64";
      else
        s->near = (unsigned)json_integer_value(v);
    } else if (version >= 2 &&
               (strcmp(key, "near_score") == 0 || strcmp(key, "near_score_small") == 0)) {
      if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 1000)
        why = "an integer from 1 to 1000 (thousandths)";
      else if (strcmp(key, "near_score") == 0)
        s->near_score = (unsigned)json_integer_value(v);
      else
        s->near_score_small = (unsigned)json_integer_value(v);
    } else if (strcmp(key, "max_pixels") == 0 || strcmp(key, "max_file_bytes") == 0) {
      if (!json_is_integer(v) || json_integer_value(v) <= 0)
        why = "a positive integer";
      else if (strcmp(key, "max_pixels") == 0)
        s->max_pixels = (uint64_t)json_integer_value(v);
      else
        s->max_file_bytes = (uint64_t)json_integer_value(v);
    } else if (strcmp(key, "jpeg_fancy_upsampling") == 0) {
      if (!json_is_boolean(v))
        why = "true or false";
      else
        s->jpeg_fancy_upsampling = json_is_true(v);
    } else if (strcmp(key, "jpeg_dct") == 0) {
      const char *d = json_string_value(v);
      if (!d || (strcmp(d, "islow") != 0 && strcmp(d, "float") != 0))
        why = "\"islow\" or \"float\"";
      else
        s->jpeg_dct_float = d[0] == 'f';
    } else {
      /* A setting changes facts; one we do not understand must not be silently ignored. */
      es_error_set(err, ES_EFORMAT, "'%s/" SETTINGS_FILE "': unknown setting '%s'", st->root,
                   key);
      goto cleanup;
    }
    if (why) {
      es_error_set(err, ES_EFORMAT, "'%s/" SETTINGS_FILE "': setting '%s' must be %s", st->root,
                   key, why);
      goto cleanup;
    }
  }
  static const char *const required[] = {"near", "max_pixels", "max_file_bytes",
                                         "jpeg_fancy_upsampling", "jpeg_dct"};
  for (size_t i = 0; i < sizeof required / sizeof *required; i++)
    if (!json_object_get(set, required[i])) {
      es_error_set(err, ES_EFORMAT, "'%s/" SETTINGS_FILE "': setting '%s' is missing", st->root,
                   required[i]);
      goto cleanup;
    }
  if (version >= 2 && (!json_object_get(set, "near_score") ||
                       !json_object_get(set, "near_score_small"))) {
    es_error_set(err, ES_EFORMAT, "'%s/" SETTINGS_FILE "': version %" JSON_INTEGER_FORMAT
                 " needs settings 'near_score' and 'near_score_small'", st->root, version);
    goto cleanup;
  }
  if (s->near > 32 && s->near_score) {
    es_error_set(err, ES_EFORMAT, "'%s/" SETTINGS_FILE "': setting 'near' must be at most 32 "
                 "with a second stage", st->root);
    goto cleanup;
  }
  rc = ES_OK;
cleanup:
  json_decref(root);
  return rc;
}

/* A directory may become a dataset when it holds nothing but what an interrupted creation
 * leaves (the lock file, the temporaries directory). */
static int dir_is_empty(const es_store *st, es_error *err)
{
  int fd = openat(st->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
  if (!d) {
    int e = errno;
    if (fd >= 0)
      close(fd);
    return es_error_errno(err, ES_EIO, e, "cannot list '%s'", st->root);
  }
  int empty = 1;
  struct dirent *de;
  while ((de = readdir(d))) {
    const char *n = de->d_name;
    if (strcmp(n, ".") && strcmp(n, "..") && strcmp(n, LOCK_FILE) && strcmp(n, TMP_DIR)) {
      empty = 0;
      break;
    }
  }
  closedir(d);
  return empty;
}

/* Writes edgeset.json once. linkat() refuses to replace an existing name, so when two
 * processes create the same dataset at once the first description wins and both read it. */
static int settings_create(const es_store *st, const es_settings *s, es_error *err)
{
  int rc = ES_OK, tdfd = -1;
  char tname[64], *text = NULL;
  json_t *j = settings_to_json(s);
  text = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
  if (!text) {
    rc = es_error_set(err, ES_ENOMEM, "out of memory");
    goto cleanup;
  }
  size_t n = strlen(text);
  char *t2 = realloc(text, n + 2);
  if (!t2) {
    rc = es_error_set(err, ES_ENOMEM, "out of memory");
    goto cleanup;
  }
  text = t2;
  memcpy(text + n, "\n", 2);
  tdfd = es__store_open_tmpdir(st, err);
  if (tdfd < 0) {
    rc = tdfd;
    goto cleanup;
  }
  es__store_tmp_name(tname);
  rc = es__store_tmp_write(st, tdfd, tname, text, n + 1, 1, err);
  if (rc)
    goto cleanup;
  if (linkat(tdfd, tname, st->dirfd, SETTINGS_FILE, 0) != 0 && errno != EEXIST) {
    /* File systems without hard links: a plain rename (last creator wins). */
    if (renameat(tdfd, tname, st->dirfd, SETTINGS_FILE) != 0) {
      rc = es_error_errno(err, ES_EIO, errno, "cannot create '%s/" SETTINGS_FILE "'", st->root);
      goto cleanup;
    }
  }
  unlinkat(tdfd, tname, 0);
  if (fsync(st->dirfd) != 0)
    rc = es_error_errno(err, ES_EIO, errno, "cannot sync dataset '%s'", st->root);
cleanup:
  if (tdfd >= 0)
    close(tdfd);
  free(text);
  json_decref(j);
  return rc;
}

int es_store_rewrite_settings(es_store *st, const es_settings *s, es_error *err)
{
  int rc = settings_check(s, err);
  if (rc)
    return rc;
  json_t *j = settings_to_json(s);
  char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
  json_decref(j);
  if (!text)
    return es_error_set(err, ES_ENOMEM, "out of memory");
  size_t n = strlen(text);
  char *t2 = realloc(text, n + 2);
  if (!t2) {
    free(text);
    return es_error_set(err, ES_ENOMEM, "out of memory");
  }
  memcpy(t2 + n, "\n", 2);
  rc = es_store_replace(st, SETTINGS_FILE, t2, n + 1, err);
  free(t2);
  if (!rc)
    st->settings = *s;
  return rc;
}

static int fsync_parent_of(const char *root, es_error *err)
{
  char *copy = strdup(root);
  if (!copy)
    return es_error_set(err, ES_ENOMEM, "out of memory");
  size_t n = strlen(copy);
  while (n > 1 && copy[n - 1] == '/')
    copy[--n] = '\0';
  char *slash = strrchr(copy, '/');
  const char *parent = ".";
  if (slash == copy)
    parent = "/";
  else if (slash) {
    *slash = '\0';
    parent = copy;
  }
  int rc = ES_OK;
  int fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || fsync(fd) != 0)
    rc = es_error_errno(err, ES_EIO, errno, "cannot sync the parent of '%s'", root);
  if (fd >= 0)
    close(fd);
  free(copy);
  return rc;
}

int es_store_open(es_store *st, const char *root, int create, const es_settings *init,
                  es_error *err)
{
  int rc = ES_OK;
  uint8_t *buf = NULL;
  size_t len = 0;
  memset(st, 0, sizeof *st);
  st->dirfd = -1;
  st->lockfd = -1;
  es_settings_default(&st->settings);
  st->crash = crash_from_env();
  st->root = strdup(root);
  if (!st->root) {
    rc = es_error_set(err, ES_ENOMEM, "out of memory");
    goto cleanup;
  }
  st->dirfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (st->dirfd < 0 && errno == ENOENT && create) {
    if (mkdir(root, 0777) != 0 && errno != EEXIST) {
      rc = es_error_errno(err, ES_EIO, errno, "cannot create dataset '%s'", root);
      goto cleanup;
    }
    rc = fsync_parent_of(root, err);
    if (rc)
      goto cleanup;
    st->dirfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  }
  if (st->dirfd < 0) {
    int e = errno;
    if (e == ENOENT)
      rc = es_error_set(err, ES_ENOTFOUND, "dataset '%s' does not exist", root);
    else if (e == ENOTDIR)
      rc = es_error_set(err, ES_EUSAGE, "dataset '%s' is not a directory", root);
    else
      rc = es_error_errno(err, ES_EIO, e, "cannot open dataset '%s'", root);
    goto cleanup;
  }
  rc = es_store_read(st, SETTINGS_FILE, 1, &buf, &len, err);
  if (rc)
    goto cleanup;
  if (!buf) {
    int empty = dir_is_empty(st, err);
    if (empty < 0) {
      rc = empty;
      goto cleanup;
    }
    if (!create || !empty) {
      rc = es_error_set(err, ES_EUSAGE, "'%s' is not an edgeset dataset (no " SETTINGS_FILE
                        ")%s", root, create ? " and is not empty" : "");
      goto cleanup;
    }
    es_settings s;
    if (init)
      s = *init;
    else
      es_settings_default(&s);
    rc = settings_check(&s, err);
    if (rc)
      goto cleanup;
    rc = settings_create(st, &s, err);
    if (rc)
      goto cleanup;
    rc = es_store_read(st, SETTINGS_FILE, 0, &buf, &len, err);
    if (rc)
      goto cleanup;
  }
  rc = settings_from_json(st, buf, len, &st->settings, err);
  if (rc)
    goto cleanup;
  if (create) {
    static const char *const dirs[] = {"objects", "reports"};
    for (size_t i = 0; i < 2; i++) {
      if (mkdirat(st->dirfd, dirs[i], 0777) == 0) {
        if (fsync(st->dirfd) != 0) {
          rc = es_error_errno(err, ES_EIO, errno, "cannot sync dataset '%s'", root);
          goto cleanup;
        }
      } else if (errno != EEXIST) {
        rc = es_error_errno(err, ES_EIO, errno, "cannot create '%s/%s'", root, dirs[i]);
        goto cleanup;
      }
    }
  }
cleanup:
  free(buf);
  if (rc) {
    es_store_close(st);
  }
  return rc;
}

void es_store_close(es_store *st)
{
  if (!st)
    return;
  es_store_unlock(st);
  if (st->dirfd >= 0)
    close(st->dirfd);
  st->dirfd = -1;
  free(st->root);
  st->root = NULL;
  free(st->crash);
  st->crash = NULL;
}

/* ---- whole files ------------------------------------------------------------------------ */

int es_store_read(const es_store *st, const char *name, int missing_ok, uint8_t **buf,
                  size_t *len, es_error *err)
{
  *buf = NULL;
  *len = 0;
  int rc = es__store_check_name(st, name, err);
  if (rc)
    return rc;
  uint8_t *b = NULL;
  int fd = openat(st->dirfd, name, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT)
      return missing_ok ? ES_OK
                        : es_error_set(err, ES_ENOTFOUND, "'%s/%s' does not exist", st->root,
                                       name);
    return es_error_errno(err, ES_EIO, errno, "cannot open '%s/%s'", st->root, name);
  }
  struct stat sb;
  if (fstat(fd, &sb) != 0) {
    rc = es_error_errno(err, ES_EIO, errno, "cannot read '%s/%s'", st->root, name);
    goto cleanup;
  }
  if (!S_ISREG(sb.st_mode)) {
    rc = es_error_set(err, ES_EIO, "'%s/%s' is not a regular file", st->root, name);
    goto cleanup;
  }
  if ((uint64_t)sb.st_size >= SIZE_MAX / 2) {
    rc = es_error_set(err, ES_ENOMEM, "'%s/%s' is too large to read", st->root, name);
    goto cleanup;
  }
  size_t cap = (size_t)sb.st_size + 1, n = 0;
  b = malloc(cap);
  for (;;) {
    if (!b) {
      rc = es_error_set(err, ES_ENOMEM, "out of memory reading '%s/%s'", st->root, name);
      goto cleanup;
    }
    if (n + 1 >= cap) { /* the file grew while we read it */
      if (cap >= SIZE_MAX / 4) {
        rc = es_error_set(err, ES_ENOMEM, "'%s/%s' is too large to read", st->root, name);
        goto cleanup;
      }
      uint8_t *nb = realloc(b, cap * 2);
      if (!nb) {
        rc = es_error_set(err, ES_ENOMEM, "out of memory reading '%s/%s'", st->root, name);
        goto cleanup;
      }
      b = nb;
      cap *= 2;
    }
    ssize_t r = read(fd, b + n, cap - 1 - n);
    if (r < 0) {
      if (errno == EINTR)
        continue;
      rc = es_error_errno(err, ES_EIO, errno, "cannot read '%s/%s'", st->root, name);
      goto cleanup;
    }
    if (r == 0)
      break;
    n += (size_t)r;
  }
  b[n] = '\0';
  *buf = b;
  *len = n;
  b = NULL;
cleanup:
  free(b);
  close(fd);
  return rc;
}

int es_store_replace(const es_store *st, const char *name, const void *buf, size_t len,
                     es_error *err)
{
  return es_store_replace_hook(st, name, buf, len, NULL, NULL, err);
}

int es_store_replace_hook(const es_store *st, const char *name, const void *buf, size_t len,
                          int (*before)(void *ctx, es_error *err), void *ctx, es_error *err)
{
  int rc = es__store_check_name(st, name, err);
  if (rc)
    return rc;
  const char *base;
  int tdfd = -1, dfd = es__store_open_parent(st, name, 1, &base, err);
  if (dfd < 0)
    return dfd;
  char tname[64];
  es__store_tmp_name(tname);
  tdfd = es__store_open_tmpdir(st, err);
  if (tdfd < 0) {
    rc = tdfd;
    goto cleanup;
  }
  rc = es__store_tmp_write(st, tdfd, tname, buf, len, 1, err);
  if (!rc)
    rc = es__store_tmp_publish(st, tdfd, tname, dfd, base, name, base, before, ctx, err);
cleanup:
  if (tdfd >= 0)
    close(tdfd);
  close(dfd);
  return rc;
}

struct es_staged_file {
  char name[256]; /* final name relative to the root */
  char tmp[64];   /* name in TMP_DIR */
};

int es_store_stage_file(const es_store *st, const char *name, const void *buf, size_t len,
                        es_staged_file **out, es_error *err)
{
  static unsigned long seq; /* a staged file's temporary is not the thread's replace temporary */
  *out = NULL;
  int rc = es__store_check_name(st, name, err);
  if (rc)
    return rc;
  if (strlen(name) >= sizeof ((es_staged_file *)0)->name)
    return es_error_set(err, ES_EINTERNAL, "bad file name '%s' in dataset '%s'", name, st->root);
  es_staged_file *f = calloc(1, sizeof *f);
  if (!f)
    return es_error_set(err, ES_ENOMEM, "out of memory");
  snprintf(f->name, sizeof f->name, "%s", name);
  snprintf(f->tmp, sizeof f->tmp, "%ld.%ld.s%lu.tmp", (long)getpid(), (long)gettid(),
           __atomic_add_fetch(&seq, 1, __ATOMIC_SEQ_CST));
  int tdfd = es__store_open_tmpdir(st, err);
  if (tdfd < 0) {
    free(f);
    return tdfd;
  }
  rc = es__store_tmp_write(st, tdfd, f->tmp, buf, len, 1, err);
  close(tdfd);
  if (rc) {
    free(f);
    return rc;
  }
  *out = f;
  return ES_OK;
}

int es_store_publish_file(const es_store *st, es_staged_file *f, es_error *err)
{
  const char *base;
  int rc, tdfd = -1, dfd = es__store_open_parent(st, f->name, 1, &base, err);
  if (dfd < 0) {
    es_store_discard_file(st, f);
    return dfd;
  }
  tdfd = es__store_open_tmpdir(st, err);
  if (tdfd < 0)
    rc = tdfd;
  else
    rc = es__store_tmp_publish(st, tdfd, f->tmp, dfd, base, f->name, base, NULL, NULL, err);
  if (tdfd >= 0)
    close(tdfd);
  close(dfd);
  if (rc)
    es_store_discard_file(st, f); /* es__store_tmp_publish has removed the temporary already */
  else
    free(f);
  return rc;
}

void es_store_discard_file(const es_store *st, es_staged_file *f)
{
  if (!f)
    return;
  int tdfd = st ? openat(st->dirfd, TMP_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
  if (tdfd >= 0) {
    unlinkat(tdfd, f->tmp, 0);
    close(tdfd);
  }
  free(f);
}

int es_read_file(const char *path, uint8_t **buf, size_t *len, es_error *err)
{
  *buf = NULL;
  *len = 0;
  FILE *f = fopen(path, "rb");
  if (!f)
    return es_error_errno(err, ES_EIO, errno, "cannot open '%s'", path);
  size_t cap = 1 << 16, n = 0;
  uint8_t *p = malloc(cap);
  int rc = ES_OK;
  if (!p) {
    rc = es_error_set(err, ES_ENOMEM, "out of memory reading '%s'", path);
    goto cleanup;
  }
  for (;;) {
    if (n == cap) {
      if (cap > SIZE_MAX / 2) {
        rc = es_error_set(err, ES_ELIMIT, "'%s' is too large", path);
        goto cleanup;
      }
      uint8_t *q = realloc(p, cap * 2);
      if (!q) {
        rc = es_error_set(err, ES_ENOMEM, "out of memory reading '%s'", path);
        goto cleanup;
      }
      p = q;
      cap *= 2;
    }
    size_t got = fread(p + n, 1, cap - n, f);
    n += got;
    if (got == 0)
      break;
  }
  if (ferror(f)) {
    rc = es_error_errno(err, ES_EIO, errno, "cannot read '%s'", path);
    goto cleanup;
  }
  *buf = p;
  *len = n;
  p = NULL;
cleanup:
  free(p);
  fclose(f);
  return rc;
}
