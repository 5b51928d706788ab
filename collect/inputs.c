/* Gathering collect's inputs: walking directories, de-duplicating paths, finding sidecars. */
#include "collect/inputs_internal.h"

#include "core/hash.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int push(es__inputs *in, const char *path, const char *error, es_error *err)
{
  if (in->n == in->cap) {
    size_t cap = in->cap ? in->cap * 2 : 256;
    es__input *v = realloc(in->v, cap * sizeof *v);
    if (!v)
      return es_error_set(err, ES_ENOMEM, "out of memory listing inputs");
    in->v = v;
    in->cap = cap;
  }
  es__input *e = &in->v[in->n];
  memset(e, 0, sizeof *e);
  e->path = strdup(path);
  e->error = error ? strdup(error) : NULL;
  if (!e->path || (error && !e->error)) {
    free(e->path);
    free(e->error);
    return es_error_set(err, ES_ENOMEM, "out of memory listing inputs");
  }
  in->n++;
  return ES_OK;
}

static char *join_path(const char *dir, const char *name)
{
  size_t a = strlen(dir), b = strlen(name);
  char *p = malloc(a + b + 2);
  if (!p)
    return NULL;
  memcpy(p, dir, a);
  size_t k = a;
  if (a == 0 || dir[a - 1] != '/')
    p[k++] = '/';
  memcpy(p + k, name, b + 1);
  return p;
}

static int walk(const char *dir, dev_t skip_dev, ino_t skip_ino, es__inputs *out, es_error *err)
{
  DIR *d = opendir(dir);
  if (!d) {
    char why[256];
    snprintf(why, sizeof why, "cannot read directory: %s", strerror(errno));
    return push(out, dir, why, err);
  }
  int rc = ES_OK;
  struct dirent *e;
  errno = 0;
  while (rc == ES_OK && (e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
      continue;
    char *p = join_path(dir, e->d_name);
    if (!p) {
      rc = es_error_set(err, ES_ENOMEM, "out of memory listing inputs");
      break;
    }
    struct stat lst;
    if (lstat(p, &lst) == 0 && S_ISDIR(lst.st_mode)) {
      if (!(lst.st_dev == skip_dev && lst.st_ino == skip_ino))
        rc = walk(p, skip_dev, skip_ino, out, err);
    } else {
      /* Regular files, links to files, and anything else: the ingest step says what it is.
       * A link to a directory is not followed (it could loop), but it is not lost either. */
      struct stat st;
      int dir_link = S_ISLNK(lst.st_mode) && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
      rc = push(out, p, dir_link ? "symbolic link to a directory, not followed" : NULL, err);
    }
    free(p);
    errno = 0;
  }
  if (rc == ES_OK && errno) {
    char why[256];
    snprintf(why, sizeof why, "cannot read directory: %s", strerror(errno));
    rc = push(out, dir, why, err);
  }
  closedir(d);
  return rc;
}

static int cmp_input(const void *a, const void *b)
{
  return strcmp(((const es__input *)a)->path, ((const es__input *)b)->path);
}

static int has_path(const es__inputs *in, const char *path)
{
  es__input key = {.path = (char *)path};
  return bsearch(&key, in->v, in->n, sizeof *in->v, cmp_input) != NULL;
}

int es__inputs_gather(char *const *paths, size_t n_paths, dev_t skip_dev, ino_t skip_ino,
                      es__inputs *out, es_error *err)
{
  memset(out, 0, sizeof *out);
  int rc = ES_OK;
  for (size_t i = 0; rc == ES_OK && i < n_paths; i++) {
    struct stat st;
    if (stat(paths[i], &st) == 0 && S_ISDIR(st.st_mode)) {
      if (!(st.st_dev == skip_dev && st.st_ino == skip_ino))
        rc = walk(paths[i], skip_dev, skip_ino, out, err);
    } else {
      rc = push(out, paths[i], NULL, err);
    }
  }
  if (rc) {
    es__inputs_free(out);
    return rc;
  }
  if (out->n)
    qsort(out->v, out->n, sizeof *out->v, cmp_input);
  size_t w = 0;
  for (size_t r = 0; r < out->n; r++) {
    if (w && !strcmp(out->v[w - 1].path, out->v[r].path)) {
      free(out->v[r].path);
      free(out->v[r].error);
      continue;
    }
    out->v[w++] = out->v[r];
  }
  out->n = w;
  for (size_t i = 0; i < out->n; i++) {
    char *p = out->v[i].path;
    size_t len = strlen(p);
    if (len > 5 && !strcmp(p + len - 5, ".json")) {
      char *image = strndup(p, len - 5);
      if (!image) {
        es__inputs_free(out);
        return es_error_set(err, ES_ENOMEM, "out of memory listing inputs");
      }
      out->v[i].sidecar = has_path(out, image);
      free(image);
    }
  }
  return ES_OK;
}

unsigned es__input_shard(const char *path, unsigned n)
{
  char hex[33];
  es_hash_hex(path, strlen(path), hex);
  hex[16] = '\0';
  return (unsigned)(strtoull(hex, NULL, 16) % n);
}

void es__inputs_keep_shard(es__inputs *in, unsigned k, unsigned n)
{
  size_t w = 0;
  for (size_t r = 0; r < in->n; r++) {
    char *p = in->v[r].path;
    size_t len = strlen(p);
    /* a sidecar goes where its image goes */
    char save = 0;
    if (in->v[r].sidecar) {
      save = p[len - 5];
      p[len - 5] = '\0';
    }
    unsigned s = es__input_shard(p, n);
    if (in->v[r].sidecar)
      p[len - 5] = save;
    if (s == k) {
      in->v[w++] = in->v[r];
    } else {
      free(p);
      free(in->v[r].error);
    }
  }
  in->n = w;
}

void es__inputs_free(es__inputs *in)
{
  if (!in)
    return;
  for (size_t i = 0; i < in->n; i++) {
    free(in->v[i].path);
    free(in->v[i].error);
  }
  free(in->v);
  memset(in, 0, sizeof *in);
}
