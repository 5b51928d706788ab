/* edgeset fsck's checks and repairs, and the orphan scan gc shares (fsck.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/hash.h"
#include "core/strmap.h"
#include "fsck/fsck.h"
#include "formats/index.h"
#include "formats/objects_list.h"
#include "formats/tombstones.h"

static int add(es_fsck_report *r, int damage, const char *kind, const char *path,
               const char *detail, es_error *err)
{
  if (r->n == r->cap) {
    size_t cap = r->cap ? 2 * r->cap : 16;
    es_fsck_problem *p = realloc(r->p, cap * sizeof *p);
    if (!p)
      return es_error_set(err, ES_ENOMEM, "out of memory");
    r->p = p;
    r->cap = cap;
  }
  es_fsck_problem *q = &r->p[r->n];
  memset(q, 0, sizeof *q);
  q->damage = damage;
  q->kind = strdup(kind);
  q->path = strdup(path);
  q->detail = strdup(detail ? detail : "");
  if (!q->kind || !q->path || !q->detail) {
    free(q->kind);
    free(q->path);
    free(q->detail);
    return es_error_set(err, ES_ENOMEM, "out of memory");
  }
  r->n++;
  return ES_OK;
}

void es_fsck_report_free(es_fsck_report *r)
{
  for (size_t i = 0; r && i < r->n; i++) {
    free(r->p[i].kind);
    free(r->p[i].path);
    free(r->p[i].detail);
  }
  if (r) {
    free(r->p);
    memset(r, 0, sizeof *r);
  }
}

/* ---- objects ---------------------------------------------------------------------------- */

/* The result of checking one item's object. */
typedef struct obj_check {
  int state; /* 0 fine, 1 missing, 2 damaged, 3 unreadable */
  uint64_t size;
  char got[33];
  int errnum;
} obj_check;

/* Reads item it's object and compares its hash and size with the item's. */
static void check_object(const es_store *st, const es_item *it, obj_check *c)
{
  char rel[ES_OBJECT_REL_MAX];
  es_object_rel(it->id, it->format, rel);
  memset(c, 0, sizeof *c);
  int fd = openat(st->dirfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    c->state = errno == ENOENT ? 1 : 3;
    c->errnum = errno;
    return;
  }
  es_error e = {0};
  if (es_hash_fd_hex(fd, &c->size, c->got, &e)) {
    c->state = 3;
    c->errnum = EIO;
  } else if (strcmp(c->got, it->id) || (it->bytes && c->size != it->bytes)) {
    c->state = 2;
  }
  close(fd);
}

/* ---- append-only files and temporaries -------------------------------------------------- */

static int check_jsonl(const es_store *st, const char *name, const char *kind,
                       es_fsck_report *r, es_error *err)
{
  uint8_t *buf = NULL;
  size_t len = 0;
  int rc = es_store_read(st, name, 1, &buf, &len, err);
  if (rc)
    return add(r, 1, kind, name, err->msg, err);
  size_t line = 0;
  for (size_t a = 0; a < len && rc == ES_OK;) {
    const uint8_t *nl = memchr(buf + a, '\n', len - a);
    line++;
    if (!nl) {
      char d[128];
      snprintf(d, sizeof d, "line %zu has no end (a writer was killed mid-line; the next append "
               "cuts it off)", line);
      rc = add(r, 0, "torn-line", name, d, err);
      break;
    }
    json_error_t je;
    json_t *j = json_loadb((const char *)buf + a, (size_t)(nl - (buf + a)), 0, &je);
    if (!json_is_object(j)) {
      char d[256];
      snprintf(d, sizeof d, "line %zu is not a JSON object: %s", line, j ? "not an object"
                                                                      : je.text);
      rc = add(r, 1, kind, name, d, err);
    }
    json_decref(j);
    a = (size_t)(nl - buf) + 1;
  }
  free(buf);
  return rc;
}

/* The temporaries in .tmp/ whose writer ("<pid>.<n>.tmp") is no longer alive. */
static int check_temporaries(const es_store *st, es_fsck_report *r, es_error *err)
{
  int td = openat(st->dirfd, ".tmp", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (td < 0)
    return ES_OK;
  DIR *d = fdopendir(td);
  if (!d) {
    close(td);
    return ES_OK;
  }
  int rc = ES_OK;
  struct dirent *de;
  while (rc == ES_OK && (de = readdir(d))) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
      continue;
    if (!es_store_tmp_stale(de->d_name))
      continue;
    char rel[512];
    snprintf(rel, sizeof rel, ".tmp/%.400s", de->d_name);
    rc = add(r, 0, "stale-temporary", rel,
             "left by a writer that is no longer running (deleted when a writer takes the lock)",
             err);
  }
  closedir(d);
  return rc;
}

/* ---- the check ---------------------------------------------------------------------------- */

int es_fsck_check(const es_store *st, const es_fsck_opts *o, es_fsck_report *r, es_error *err)
{
  memset(r, 0, sizeof *r);
  es_manifest m = {0};
  int rc = ES_OK, have_m = 0;
  es_error e = {0};
  uint8_t *mbytes = NULL, *ibytes = NULL;
  size_t mlen = 0, ilen = 0;
  obj_check *oc = NULL;
  es_objects_list L;
  int have_l = 0;
  char **orph = NULL;
  uint64_t *osz = NULL;
  size_t no = 0;
  /* the manifest */
  if (es_store_read(st, "manifest.jsonl", 1, &mbytes, &mlen, &e)) {
    if ((rc = add(r, 1, "manifest", "manifest.jsonl", e.msg, err)))
      goto done;
  } else if (es_manifest_parse(mbytes, mlen, &m, &e)) {
    es_manifest_free(&m);
    if ((rc = add(r, 1, "manifest", "manifest.jsonl", e.msg, err)))
      goto done;
  } else {
    have_m = 1;
    r->items = m.n;
  }
  /* the index: readable, and built from this manifest */
  e.msg[0] = 0;
  if (es_store_read(st, "index.bin", 1, &ibytes, &ilen, &e) == ES_OK && ibytes) {
    es_index ix = {0};
    if (es_index_parse(ibytes, ilen, &ix, &e)) {
      if ((rc = add(r, 1, "index", "index.bin", e.msg, err)))
        goto done;
    } else if (have_m) {
      char h[33];
      es_hash_hex(mbytes, mlen, h);
      if ((ix.manifest_size != mlen || strcmp(ix.manifest_hash, h) || ix.n != m.n) &&
          (rc = add(r, 0, "index-stale", "index.bin",
                    "built from another manifest (every program rebuilds it when it reads the "
                    "dataset)",
                    err)))
        goto done;
    }
    es_index_free(&ix);
  } else if (e.msg[0] && (rc = add(r, 1, "index", "index.bin", e.msg, err))) {
    goto done;
  }
  /* what is under objects/, every item's object among it */
  int threads = (o->jobs > 0 ? o->jobs : 1) * ES_IO_THREADS_PER_JOB;
  have_l = 1;
  if ((rc = es_objects_list_build(st, &m, threads, &L, err)))
    goto done;
  for (size_t i = 0; i < L.n && rc == ES_OK; i++)
    if (!L.regular[i])
      rc = add(r, 1, "not-a-file", L.paths[i], "not a regular file", err);
  if (rc)
    goto done;
  if (have_m && m.n && !L.exists) {
    r->no_objects = 1;
  } else if (have_m) {
    oc = calloc(m.n ? m.n : 1, sizeof *oc);
    if (!oc) {
      rc = es_error_set(err, ES_ENOMEM, "out of memory");
      goto done;
    }
    /* sizes from the listing; with hashes every object is read, on threads that mostly wait
     * for the disk (more of them than cores keep its queue full) */
    long long n = (long long)m.n;
#pragma omp parallel for schedule(dynamic, 64) num_threads(threads)
    for (long long i = 0; i < n; i++) {
      size_t k = L.item[i];
      obj_check *c = &oc[i];
      if (k == SIZE_MAX) {
        c->state = 1;
      } else if (o->hashes && L.regular[k]) {
        check_object(st, &m.items[i], c);
      } else {
        c->state = L.regular[k] ? 0 : 2; /* --quick: there, and a file */
      }
    }
    for (size_t i = 0; i < m.n && rc == ES_OK; i++) {
      char rel[ES_OBJECT_REL_MAX], d[256];
      es_object_rel(m.items[i].id, m.items[i].format, rel);
      r->objects_checked += oc[i].state == 0 || oc[i].state == 2;
      r->bytes_checked += oc[i].size;
      if (oc[i].state == 1) {
        rc = add(r, 1, "object-missing", rel, "the manifest's item has no object", err);
      } else if (oc[i].state == 2) {
        if (oc[i].got[0])
          snprintf(d, sizeof d, "its bytes hash to %s (%llu bytes), not to its id", oc[i].got,
                   (unsigned long long)oc[i].size);
        else
          snprintf(d, sizeof d, "not a regular file");
        rc = add(r, 1, "object-damaged", rel, d, err);
      } else if (oc[i].state == 3) {
        snprintf(d, sizeof d, "cannot be read: %s", strerror(oc[i].errnum));
        rc = add(r, 1, "object-damaged", rel, d, err);
      }
    }
    if (rc)
      goto done;
    /* items and objects whose content edgeset rm removed: an rm that did not finish */
    es_tombstones t;
    if (es_tombstones_load(st, &t, &e)) {
      if ((rc = add(r, 1, "tombstones", "tombstones.jsonl", e.msg, err)))
        goto done;
      memset(&t, 0, sizeof t);
    }
    for (size_t i = 0; i < m.n && rc == ES_OK; i++)
      if (es_strmap_get(&t.ids, m.items[i].id, NULL)) {
        char rel[ES_OBJECT_REL_MAX];
        es_object_rel(m.items[i].id, m.items[i].format, rel);
        rc = add(r, 1, "rm-incomplete", rel,
                 "an item edgeset rm removed is still in the manifest: run edgeset rm -d DIR "
                 "again to complete it",
                 err);
      }
    /* objects no item refers to */
    if (rc == ES_OK)
      rc = es_objects_list_orphans(st, &L, &orph, &osz, &no, err);
    for (size_t i = 0; i < no && rc == ES_OK; i++) {
      const char *base = strrchr(orph[i], '/') + 1;
      char id[33] = "";
      if (strcspn(base, ".") == 32)
        memcpy(id, base, 32);
      if (id[0] && es_strmap_get(&t.ids, id, NULL))
        rc = add(r, 1, "removed-object", orph[i],
                 "content edgeset rm removed is still here: run edgeset rm -d DIR again, or "
                 "fsck --repair (which deletes it)",
                 err);
      else
        rc = add(r, 0, "orphan-object", orph[i],
                 "no item refers to it (a run killed before its commit): --repair moves it to "
                 "lost+found/, edgeset gc deletes it",
                 err);
    }
    es_tombstones_free(&t);
    if (rc)
      goto done;
  }
  if ((rc = check_jsonl(st, "ledger.jsonl", "ledger-line", r, err)) ||
      (rc = check_jsonl(st, "quarantine.jsonl", "quarantine-line", r, err)) ||
      (rc = check_temporaries(st, r, err)))
    goto done;
done:
  for (size_t i = 0; i < no; i++)
    free(orph[i]);
  free(orph);
  free(osz);
  free(oc);
  free(mbytes);
  free(ibytes);
  if (have_l)
    es_objects_list_free(&L);
  es_manifest_free(&m);
  return rc;
}

/* ---- repair ------------------------------------------------------------------------------- */

static int mkdir_at(int dirfd, const char *name)
{
  return mkdirat(dirfd, name, 0777) == 0 || errno == EEXIST ? 0 : -1;
}

int es_fsck_repair(es_store *st, es_fsck_report *r, es_error *err)
{
  int need_index = 0, moved = 0;
  for (size_t i = 0; i < r->n; i++)
    need_index |= !strcmp(r->p[i].kind, "index") || !strcmp(r->p[i].kind, "index-stale");
  int manifest_ok = 1;
  for (size_t i = 0; i < r->n; i++)
    manifest_ok &= strcmp(r->p[i].kind, "manifest") != 0;
  if (need_index && manifest_ok) {
    es_manifest m = {0};
    es_index ix = {0};
    /* loading the manifest rebuilds index.bin when it does not match */
    if (unlinkat(st->dirfd, "index.bin", 0) != 0 && errno != ENOENT)
      return es_error_errno(err, ES_EIO, errno, "cannot remove '%s/index.bin'", st->root);
    int rc = es_index_load(st, &m, &ix, NULL, err);
    es_index_free(&ix);
    es_manifest_free(&m);
    if (rc)
      return rc;
    for (size_t i = 0; i < r->n; i++)
      if (!strcmp(r->p[i].kind, "index") || !strcmp(r->p[i].kind, "index-stale"))
        r->p[i].repaired = faccessat(st->dirfd, "index.bin", F_OK, 0) == 0;
  }
  for (size_t i = 0; i < r->n; i++) {
    es_fsck_problem *q = &r->p[i];
    if (!strcmp(q->kind, "orphan-object")) {
      if (mkdir_at(st->dirfd, "lost+found"))
        return es_error_errno(err, ES_EIO, errno, "cannot create '%s/lost+found'", st->root);
      const char *base = strrchr(q->path, '/') + 1;
      char dst[512];
      snprintf(dst, sizeof dst, "lost+found/%.400s", base);
      /* the record first: a kill between the two leaves a record of a move a re-run repeats
       * (and records again), never a moved file without one */
      char now[32];
      es_store_now(now);
      json_t *rec = json_pack("{s:s, s:s, s:s}", "time", now, "from", q->path, "to", dst);
      int rc = rec ? es_store_append(st, "lost+found/records.jsonl", rec, err)
                   : es_error_set(err, ES_ENOMEM, "out of memory");
      json_decref(rec);
      if (rc || (rc = es_store_move(st, q->path, dst, err)))
        return rc;
      q->repaired = 1;
      moved = 1;
    } else if (!strcmp(q->kind, "removed-object")) {
      /* removed content is deleted, never kept in lost+found (an item still in the manifest,
       * "rm-incomplete", is left to edgeset rm, which completes the run) */
      q->repaired = es_store_unlink(st, q->path, NULL) == ES_OK;
    } else if (!strcmp(q->kind, "stale-temporary")) {
      q->repaired = unlinkat(st->dirfd, q->path, 0) == 0 || errno == ENOENT;
    } else if (!strcmp(q->kind, "torn-line")) {
      q->repaired = es_store_cut_torn(st, q->path, NULL) == ES_OK;
    }
  }
  if (moved) {
    int od = openat(st->dirfd, "objects", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (od >= 0) {
      syncfs(od);
      close(od);
    }
  }
  return ES_OK;
}

json_t *es_fsck_json(const es_fsck_report *r)
{
  json_t *probs = json_array();
  size_t damage = 0, leftovers = 0, repaired = 0;
  for (size_t i = 0; probs && i < r->n; i++) {
    const es_fsck_problem *q = &r->p[i];
    damage += q->damage && !q->repaired;
    leftovers += !q->damage && !q->repaired;
    repaired += q->repaired;
    json_array_append_new(probs, json_pack("{s:s, s:s, s:s, s:s, s:b}", "kind", q->kind,
                                           "severity", q->damage ? "damage" : "leftover",
                                           "path", q->path, "detail", q->detail, "repaired",
                                           q->repaired));
  }
  return json_pack("{s:I, s:I, s:I, s:b, s:I, s:I, s:I, s:o}", "items", (json_int_t)r->items,
                   "objects_checked", (json_int_t)r->objects_checked, "bytes_checked",
                   (json_int_t)r->bytes_checked, "store_ref_no_objects", r->no_objects,
                   "damage", (json_int_t)damage, "leftovers", (json_int_t)leftovers,
                   "repaired", (json_int_t)repaired, "problems", probs);
}
