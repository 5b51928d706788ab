/* Exporting splits (split.h, es_split_export). Everything under the export directory is opened
 * relative to directory descriptors with O_NOFOLLOW, and every name that becomes a path
 * component (split, label, file name) is checked first, so a hostile label ("..", "a/b") or a
 * symlink planted inside the directory cannot make us write outside it. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/csv.h"
#include "split/split.h"

#define NONE ES_INDEX_NONE

void es_split_object_path(const es_index *ix, size_t i, char out[64])
{
  char id[33];
  es_index_id_hex(ix, i, id);
  const char *fmt = es_index_str(ix, ix->items[i].format);
  es_object_rel(id, fmt ? fmt : "", out);
}

/* A name usable as one path component: no '/', not "." or "..", no control characters. */
static const char *bad_component(const char *s)
{
  if (!*s)
    return "is empty";
  if (!strcmp(s, ".") || !strcmp(s, ".."))
    return "is '.' or '..'";
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '/')
      return "contains '/'";
    if (*p < 0x20 || *p == 0x7f)
      return "contains a control character";
  }
  if (strlen(s) > 255)
    return "is longer than 255 bytes";
  return NULL;
}

/* Opens (creating when missing) the directory `name` inside dirfd without following a symlink. */
static int open_subdir(int dirfd, const char *name, const char *shown, int *out, es_error *err)
{
  if (mkdirat(dirfd, name, 0777) != 0 && errno != EEXIST)
    return es_error_errno(err, ES_EIO, errno, "cannot create '%s'", shown);
  int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return es_error_errno(err, ES_EIO, errno, "cannot open '%s' (a symlink is never followed)",
                          shown);
  *out = fd;
  return ES_OK;
}

static int copy_file(int srcdir, const char *src, int dstdir, const char *dst, const char *shown,
                     es_error *err)
{
  int in = openat(srcdir, src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (in < 0)
    return es_error_errno(err, ES_EIO, errno, "cannot open object '%s'", src);
  int out = openat(dstdir, dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
  if (out < 0) {
    int e = errno;
    close(in);
    return es_error_errno(err, ES_EIO, e, "cannot create '%s'", shown);
  }
  char buf[65536];
  ssize_t r;
  int rc = ES_OK;
  while ((r = read(in, buf, sizeof buf)) > 0) {
    for (ssize_t off = 0; off < r;) {
      ssize_t w = write(out, buf + off, (size_t)(r - off));
      if (w < 0) {
        if (errno == EINTR)
          continue;
        rc = es_error_errno(err, ES_EIO, errno, "cannot write '%s'", shown);
        break;
      }
      off += w;
    }
    if (rc)
      break;
  }
  if (r < 0 && !rc)
    rc = es_error_errno(err, ES_EIO, errno, "cannot read object '%s'", src);
  close(in);
  if (close(out) != 0 && !rc)
    rc = es_error_errno(err, ES_EIO, errno, "cannot write '%s'", shown);
  return rc;
}

/* Puts the object into dstdir/name: a hard link, else a copy. An existing regular file of that
 * name (an earlier export) is replaced; anything else there is an error. */
static int place(const es_store *st, const char *obj, int dstdir, const char *name,
                 const char *shown, es_export_summary *sum, es_error *err)
{
  struct stat sb;
  if (fstatat(dstdir, name, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
    if (!S_ISREG(sb.st_mode))
      return es_error_set(err, ES_EIO, "cannot export to '%s': something other than a file is "
                                       "there", shown);
    if (unlinkat(dstdir, name, 0) != 0)
      return es_error_errno(err, ES_EIO, errno, "cannot replace '%s'", shown);
  }
  if (linkat(st->dirfd, obj, dstdir, name, 0) == 0) {
    sum->linked++;
    return ES_OK;
  }
  if (errno == ENOENT)
    return es_error_errno(err, ES_ENOTFOUND, errno,
                          "object '%s' is missing (a dataset collected with --store ref cannot "
                          "be exported)", obj);
  int rc = copy_file(st->dirfd, obj, dstdir, name, shown, err);
  if (rc == ES_OK)
    sum->copied++;
  return rc;
}

int es_split_export(const es_store *st, const es_index *ix, const char *dir,
                    const es_export_opts *o, es_export_summary *sum, es_error *err)
{
  memset(sum, 0, sizeof *sum);
  int rc = ES_OK, dfd = -1;
  uint8_t *keep = NULL, *seen_cluster = NULL;
  FILE *csv = NULL;
  char *root_abs = NULL;
  /* check every name first: nothing is written when one is unusable */
  for (size_t i = 0; i < ix->n; i++) {
    const es_index_item *x = &ix->items[i];
    if (x->split == NONE)
      continue;
    const char *why;
    if ((why = bad_component(ix->strs[x->split])))
      return es_error_set(err, ES_EUSAGE, "split name '%s' %s: it cannot be a folder name",
                          ix->strs[x->split], why);
    if (o->layout == ES_LAYOUT_FOLDERS && x->label != NONE &&
        (why = bad_component(ix->strs[x->label])))
      return es_error_set(err, ES_EUSAGE,
                          "label '%s' %s: it cannot be a folder name (rename it with "
                          "edgeset label --rename)",
                          ix->strs[x->label], why);
    const char *fmt = es_index_str(ix, x->format);
    for (const char *p = fmt; p && *p; p++)
      if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
        return es_error_set(err, ES_EUSAGE, "format '%s' cannot be a file extension", fmt);
  }
  keep = calloc(ix->n ? ix->n : 1, 1);
  seen_cluster = calloc(ix->n ? ix->n : 1, 1);
  if (!keep || !seen_cluster) {
    rc = es_error_set(err, ES_ENOMEM, "out of memory");
    goto cleanup;
  }
  for (size_t i = 0; i < ix->n; i++) {
    const es_index_item *x = &ix->items[i];
    if (x->split == NONE) {
      sum->skipped_unassigned++;
      continue;
    }
    if (o->one_per_cluster) {
      size_t c = x->cluster != NONE ? x->cluster : i;
      if (seen_cluster[c]) {
        sum->skipped_cluster++;
        continue;
      }
      seen_cluster[c] = 1;
    }
    keep[i] = 1;
  }
  if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
    rc = es_error_errno(err, ES_EIO, errno, "cannot create '%s'", dir);
    goto cleanup;
  }
  dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) {
    rc = es_error_errno(err, ES_EIO, errno, "cannot open '%s'", dir);
    goto cleanup;
  }
  if (o->layout == ES_LAYOUT_CSV) {
    root_abs = realpath(st->root, NULL);
    if (!root_abs) {
      rc = es_error_errno(err, ES_EIO, errno, "cannot resolve '%s'", st->root);
      goto cleanup;
    }
    struct stat sb;
    if (fstatat(dfd, "split.csv", &sb, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISREG(sb.st_mode)) {
      rc = es_error_set(err, ES_EIO, "'%s/split.csv' exists and is not a regular file", dir);
      goto cleanup;
    }
    unlinkat(dfd, "split.csv", 0);
    int fd = openat(dfd, "split.csv", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd < 0 || !(csv = fdopen(fd, "w"))) {
      if (fd >= 0)
        close(fd);
      rc = es_error_errno(err, ES_EIO, errno, "cannot create '%s/split.csv'", dir);
      goto cleanup;
    }
    fputs("path,label,split\r\n", csv);
    for (size_t i = 0; i < ix->n; i++) {
      if (!keep[i])
        continue;
      char obj[64], path[PATH_MAX + 64];
      es_split_object_path(ix, i, obj);
      snprintf(path, sizeof path, "%s/%s", root_abs, obj);
      es_csv_write_field(csv, path);
      fputc(',', csv);
      const char *l = es_index_str(ix, ix->items[i].label);
      es_csv_write_field(csv, l ? l : "");
      fputc(',', csv);
      es_csv_write_field(csv, ix->strs[ix->items[i].split]);
      fputs("\r\n", csv);
      sum->files++;
    }
    if (fflush(csv) != 0 || ferror(csv) || fsync(fileno(csv)) != 0) {
      rc = es_error_errno(err, ES_EIO, errno, "cannot write '%s/split.csv'", dir);
      goto cleanup;
    }
    goto cleanup;
  }
  for (size_t i = 0; i < ix->n && rc == ES_OK; i++) {
    if (!keep[i])
      continue;
    const es_index_item *x = &ix->items[i];
    if (x->label == NONE) {
      sum->skipped_unassigned++; /* ImageFolder needs a class folder */
      continue;
    }
    const char *sp = ix->strs[x->split], *lab = ix->strs[x->label];
    char shown[PATH_MAX];
    int sfd = -1, lfd = -1;
    snprintf(shown, sizeof shown, "%s/%s", dir, sp);
    if ((rc = open_subdir(dfd, sp, shown, &sfd, err)))
      break;
    snprintf(shown, sizeof shown, "%s/%s/%s", dir, sp, lab);
    rc = open_subdir(sfd, lab, shown, &lfd, err);
    close(sfd);
    if (rc)
      break;
    char obj[64];
    es_split_object_path(ix, i, obj);
    const char *name = strrchr(obj, '/') + 1;
    snprintf(shown, sizeof shown, "%s/%s/%s/%s", dir, sp, lab, name);
    rc = place(st, obj, lfd, name, shown, sum, err);
    close(lfd);
    if (rc == ES_OK)
      sum->files++;
  }

cleanup:
  if (csv && fclose(csv) != 0 && rc == ES_OK)
    rc = es_error_errno(err, ES_EIO, errno, "cannot write '%s/split.csv'", dir);
  if (dfd >= 0)
    close(dfd);
  free(keep);
  free(seen_cluster);
  free(root_abs);
  return rc;
}
