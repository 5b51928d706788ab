/* formats/objects_list.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/strmap.h"
#include "formats/index.h"
#include "formats/objects_list.h"

typedef es_objects_list entries;

static int push_entry(entries *e, char *rel, int regular, es_error *err)
{
  if (e->n == e->cap) {
    size_t cap = e->cap ? 2 * e->cap : 1024;
    char **p = realloc(e->paths, cap * sizeof *p);
    if (p)
      e->paths = p;
    uint8_t *g = p ? realloc(e->regular, cap) : NULL;
    if (g)
      e->regular = g;
    if (!g) {
      free(rel);
      return es_error_set(err, ES_ENOMEM, "out of memory");
    }
    e->cap = cap;
  }
  e->paths[e->n] = rel;
  e->regular[e->n++] = (uint8_t)regular;
  return ES_OK;
}

static char *join3(const char *a, const char *b, const char *c)
{
  size_t len = strlen(a) + strlen(b) + strlen(c) + 1;
  char *s = malloc(len);
  if (s)
    snprintf(s, len, "%s%s%s", a, b, c);
  return s;
}

typedef struct ordered {
  char *path;
  uint64_t size;
  uint8_t regular;
} ordered;

static int cmp_ordered(const void *a, const void *b)
{
  return strcmp(((const ordered *)a)->path, ((const ordered *)b)->path);
}

/* The entries of objects/<sub>/ into e. */
static int list_sub(const es_store *st, int od, const char *sub, entries *e, es_error *err)
{
  int sd = openat(od, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  DIR *d = sd >= 0 ? fdopendir(sd) : NULL;
  if (!d) {
    if (sd >= 0)
      close(sd);
    return es_error_errno(err, ES_EIO, errno, "cannot read '%s/objects/%s'", st->root, sub);
  }
  char *dir = join3("objects/", sub, "/");
  int rc = dir ? ES_OK : es_error_set(err, ES_ENOMEM, "out of memory");
  struct dirent *fe;
  while (rc == ES_OK && (fe = readdir(d))) {
    if (!strcmp(fe->d_name, ".") || !strcmp(fe->d_name, ".."))
      continue;
    /* the kind from the folder itself where the file system gives it (no inode read: a cold
     * listing of a million objects would wait on the disk for each); sizes are read later,
     * only where they are needed */
    int regular;
    if (fe->d_type != DT_UNKNOWN) {
      regular = fe->d_type == DT_REG;
    } else {
      struct stat sb;
      regular = fstatat(sd, fe->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(sb.st_mode);
    }
    char *rel = join3(dir, fe->d_name, "");
    rc = rel ? push_entry(e, rel, regular, err)
             : es_error_set(err, ES_ENOMEM, "out of memory");
  }
  free(dir);
  closedir(d);
  return rc;
}

static void entries_free(entries *e);

/* Every entry under objects/ as "objects/ab/NAME" (in directory order), with its size and
 * whether it is a regular file (a stray entry directly in objects/ is "objects/NAME", never
 * regular). The folders are listed on `threads` threads: a cold listing waits on the disk for
 * every file's inode. A dataset without objects/ has none (*exists = 0). */
static int list_objects(const es_store *st, int threads, entries *e, int *exists, es_error *err)
{
  *exists = 0;
  int od = openat(st->dirfd, "objects", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (od < 0)
    return errno == ENOENT ? ES_OK
                           : es_error_errno(err, ES_EIO, errno, "cannot open '%s/objects'",
                                            st->root);
  *exists = 1;
  int dd = dup(od);
  DIR *top = dd >= 0 ? fdopendir(dd) : NULL;
  if (!top) {
    if (dd >= 0)
      close(dd);
    close(od);
    return es_error_errno(err, ES_EIO, errno, "cannot read '%s/objects'", st->root);
  }
  /* the folders; a stray non-folder entry goes to e at once */
  char **subs = NULL;
  size_t nsub = 0, cap = 0;
  int rc = ES_OK;
  struct dirent *de;
  while (rc == ES_OK && (de = readdir(top))) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
      continue;
    struct stat sb;
    int ok = fstatat(od, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0;
    if (ok && S_ISDIR(sb.st_mode)) {
      if (nsub == cap) {
        cap = cap ? 2 * cap : 256;
        char **v = realloc(subs, cap * sizeof *v);
        if (!v) {
          rc = es_error_set(err, ES_ENOMEM, "out of memory");
          break;
        }
        subs = v;
      }
      if (!(subs[nsub] = strdup(de->d_name)))
        rc = es_error_set(err, ES_ENOMEM, "out of memory");
      else
        nsub++;
    } else {
      char *rel = join3("objects/", de->d_name, "");
      rc = rel ? push_entry(e, rel, 0, err)
               : es_error_set(err, ES_ENOMEM, "out of memory");
    }
  }
  closedir(top);
  entries *part = rc ? NULL : calloc(nsub ? nsub : 1, sizeof *part);
  es_error *perr = rc ? NULL : calloc(nsub ? nsub : 1, sizeof *perr);
  int *prc = rc ? NULL : calloc(nsub ? nsub : 1, sizeof *prc);
  if (!rc && (!part || !perr || !prc))
    rc = es_error_set(err, ES_ENOMEM, "out of memory");
  if (rc == ES_OK) {
    long long ns = (long long)nsub;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads > 0 ? threads : 1)
    for (long long k = 0; k < ns; k++)
      prc[k] = list_sub(st, od, subs[k], &part[k], &perr[k]);
    /* in folder order, whatever the threads did */
    for (size_t k = 0; k < nsub; k++) {
      if (rc == ES_OK && prc[k]) {
        rc = prc[k];
        if (err)
          *err = perr[k];
      }
      for (size_t i = 0; i < part[k].n; i++) {
        if (rc == ES_OK)
          rc = push_entry(e, part[k].paths[i], part[k].regular[i], err);
        else
          free(part[k].paths[i]);
        part[k].paths[i] = NULL;
      }
      free(part[k].paths);
      free(part[k].regular);
    }
  }
  for (size_t k = 0; k < nsub; k++)
    free(subs[k]);
  free(subs);
  free(part);
  free(perr);
  free(prc);
  close(od);
  return rc;
}

static void entries_free(entries *e)
{
  for (size_t i = 0; i < e->n; i++)
    free(e->paths[i]);
  free(e->paths);
  free(e->regular);
  memset(e, 0, sizeof *e);
}

void es_objects_list_free(es_objects_list *L)
{
  free(L->item);
  free(L->referenced);
  entries_free(L);
}

int es_objects_list_build(const es_store *st, const es_manifest *m, int threads,
                          es_objects_list *L, es_error *err)
{
  memset(L, 0, sizeof *L);
  int rc = list_objects(st, threads, L, &L->exists, err);
  es_strmap at = {0};
  L->item = malloc((m->n ? m->n : 1) * sizeof *L->item);
  L->referenced = calloc(L->n ? L->n : 1, 1);
  if (!rc && (!L->item || !L->referenced))
    rc = es_error_set(err, ES_ENOMEM, "out of memory");
  for (size_t i = 0; rc == ES_OK && i < L->n; i++)
    rc = es_strmap_put(&at, L->paths[i], i, err);
  for (size_t i = 0; rc == ES_OK && i < m->n; i++) {
    char rel[ES_OBJECT_REL_MAX];
    es_object_rel(m->items[i].id, m->items[i].format, rel);
    size_t k;
    L->item[i] = es_strmap_get(&at, rel, &k) ? k : SIZE_MAX;
    if (L->item[i] != SIZE_MAX)
      L->referenced[k] = 1;
  }
  es_strmap_free(&at);
  return rc;
}

/* The regular files no item refers to, in name order. */
int es_objects_list_orphans(const es_store *st, const es_objects_list *L, char ***paths,
                            uint64_t **sizes, size_t *n, es_error *err)
{
  size_t k = 0;
  for (size_t i = 0; i < L->n; i++)
    k += L->regular[i] && !L->referenced[i];
  ordered *o = malloc((k ? k : 1) * sizeof *o);
  *paths = malloc((k ? k : 1) * sizeof **paths);
  *sizes = malloc((k ? k : 1) * sizeof **sizes);
  *n = 0;
  if (!o || !*paths || !*sizes) {
    free(o);
    free(*paths);
    free(*sizes);
    *paths = NULL;
    *sizes = NULL;
    return es_error_set(err, ES_ENOMEM, "out of memory");
  }
  k = 0;
  for (size_t i = 0; i < L->n; i++)
    if (L->regular[i] && !L->referenced[i]) {
      struct stat sb;
      uint64_t size = fstatat(st->dirfd, L->paths[i], &sb, AT_SYMLINK_NOFOLLOW) == 0
                          ? (uint64_t)sb.st_size
                          : 0;
      o[k++] = (ordered){L->paths[i], size, 1};
    }
  qsort(o, k, sizeof *o, cmp_ordered);
  int rc = ES_OK;
  for (size_t i = 0; i < k && rc == ES_OK; i++) {
    if (!((*paths)[i] = strdup(o[i].path)))
      rc = es_error_set(err, ES_ENOMEM, "out of memory");
    else
      (*sizes)[(*n)++] = o[i].size;
  }
  free(o);
  return rc;
}

int es_objects_orphans(const es_store *st, const es_manifest *m, char ***paths,
                       uint64_t **sizes, size_t *n, es_error *err)
{
  es_objects_list L;
  *paths = NULL;
  *sizes = NULL;
  *n = 0;
  int rc = es_objects_list_build(st, m, ES_IO_THREADS_PER_JOB, &L, err);
  if (rc == ES_OK)
    rc = es_objects_list_orphans(st, &L, paths, sizes, n, err);
  es_objects_list_free(&L);
  return rc;
}

