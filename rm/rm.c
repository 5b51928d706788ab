/* edgeset rm (rm.h). The order makes a killed run harmless and completable: the tombstones are
 * durable before anything is removed, so the re-run (or any later rm) finds the items or
 * objects still to remove by their hashes. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/isotime.h"
#include "core/strmap.h"
#include "formats/dataset.h"
#include "formats/path_escape.h"
#include "formats/signatures.h"
#include "formats/tombstones.h"
#include "rm/rm.h"

void es_rm_summary_free(es_rm_summary *sum)
{
  json_decref(sum->ids);
  json_decref(sum->unknown);
  memset(sum, 0, sizeof *sum);
}

/* The id a name gives: 32 lowercase hex digits, alone or as "<id>.<ext>" at the end of a
 * path. Returns 0 when it is neither. */
static int id_of_name(const char *name, char out[33])
{
  const char *base = strrchr(name, '/');
  base = base ? base + 1 : name;
  if (strcspn(base, ".") != 32)
    return 0;
  for (size_t i = 0; i < 32; i++) {
    char c = base[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return 0;
  }
  memcpy(out, base, 32);
  out[32] = 0;
  return 1;
}

static const char *derived_from(const es_item *it)
{
  return it->extra ? json_string_value(json_object_get(it->extra, "derived_from")) : NULL;
}

static const char *pixels_of(const es_item *it)
{
  return it->extra ? json_string_value(json_object_get(it->extra, "pixels")) : NULL;
}

/* Does an occurrence of it match the device selector (captured in [from, to] when the selector
 * has a range)? */
static int device_match(const es_item *it, const es_rm_select *sel, int64_t from, int64_t to)
{
  int64_t t;
  for (size_t k = 0; k < it->n_seen; k++) {
    const es_occurrence *o = &it->seen[k];
    if (!o->device || strcmp(o->device, sel->device))
      continue;
    if (!sel->from && !sel->to)
      return 1;
    if (o->time && es_time_seconds(o->time, &t) == 0 && t >= from && t <= to)
      return 1;
  }
  return 0;
}

/* mark[i]: 1 selected, 2 a variant of a selected item, 3 tombstoned earlier (pending). */
static int select_items(const es_manifest *m, const es_rm_select *sel, const es_tombstones *t,
                        uint8_t *mark, es_rm_summary *sum, es_error *err)
{
  es_strmap ids = {0};
  int rc = ES_OK;
  for (size_t i = 0; i < m->n && rc == ES_OK; i++)
    rc = es_strmap_put(&ids, m->items[i].id, i, err);
  for (size_t k = 0; k < sel->n_names && rc == ES_OK; k++) {
    char id[33];
    size_t i;
    if (id_of_name(sel->names[k], id) && es_strmap_get(&ids, id, &i))
      mark[i] = 1;
    else if (!(id_of_name(sel->names[k], id) && es_strmap_get(&t->ids, id, NULL)))
      json_array_append_new(sum->unknown, json_string(sel->names[k]));
  }
  int64_t from = INT64_MIN, to = INT64_MAX;
  if (sel->from)
    es_time_seconds(sel->from, &from);
  if (sel->to)
    es_time_seconds(sel->to, &to);
  for (size_t i = 0; i < m->n && rc == ES_OK; i++) {
    const es_item *it = &m->items[i];
    if (mark[i])
      continue;
    int hit = 0;
    if (sel->device && device_match(it, sel, from, to))
      hit = 1;
    for (size_t k = 0; sel->batch && !hit && k < it->n_seen; k++)
      hit = it->seen[k].batch && !strcmp(it->seen[k].batch, sel->batch);
    if (sel->label && it->label && !strcmp(it->label, sel->label))
      hit = 1;
    if (hit)
      mark[i] = 1;
    else if (es_strmap_get(&t->ids, it->id, NULL))
      mark[i] = 3;
  }
  /* augmented variants go with their sources, however deep */
  for (int changed = 1; changed && rc == ES_OK;) {
    changed = 0;
    for (size_t i = 0; i < m->n; i++) {
      size_t src;
      const char *d = derived_from(&m->items[i]);
      if (!mark[i] && d && es_strmap_get(&ids, d, &src) && mark[src]) {
        mark[i] = 2;
        changed = 1;
      }
    }
  }
  for (size_t i = 0; i < m->n; i++) {
    sum->selected += mark[i] == 1;
    sum->variants += mark[i] == 2;
    sum->pending += mark[i] == 3;
  }
  es_strmap_free(&ids);
  return rc;
}

/* quarantine.jsonl without the records of removed content (by id) or of the removed items'
 * paths; rewritten only when a record goes. */
static int drop_quarantine(const es_store *st, const es_manifest *m, const uint8_t *mark,
                           const es_tombstones *t, es_rm_summary *sum, es_error *err)
{
  uint8_t *buf = NULL;
  size_t len = 0;
  int rc = es_store_read(st, "quarantine.jsonl", 1, &buf, &len, err);
  if (rc || !buf)
    return rc;
  es_strmap paths = {0};
  for (size_t i = 0; i < m->n && rc == ES_OK; i++)
    for (size_t k = 0; mark[i] && k < m->items[i].n_seen && rc == ES_OK; k++) {
      char *esc = es_path_escape(m->items[i].seen[k].path, err);
      rc = esc ? es_strmap_put(&paths, esc, 1, err) : ES_ENOMEM;
      free(esc);
    }
  char *out = rc ? NULL : malloc(len + 1);
  size_t olen = 0, dropped = 0;
  if (!rc && !out)
    rc = es_error_set(err, ES_ENOMEM, "out of memory");
  for (size_t a = 0; rc == ES_OK && a < len;) {
    const uint8_t *nl = memchr(buf + a, '\n', len - a);
    size_t end = nl ? (size_t)(nl - buf) + 1 : len;
    json_t *j = nl ? json_loadb((const char *)buf + a, end - a - 1, 0, NULL) : NULL;
    const char *id = json_string_value(json_object_get(j, "id"));
    const char *path = json_string_value(json_object_get(j, "path"));
    int drop = (id && es_strmap_get(&t->ids, id, NULL)) ||
               (path && es_strmap_get(&paths, path, NULL));
    json_decref(j);
    if (drop)
      dropped++;
    else if (nl) { /* a torn last line is left out: it was never committed */
      memcpy(out + olen, buf + a, end - a);
      olen += end - a;
    }
    a = end;
  }
  if (rc == ES_OK && dropped) {
    rc = es_store_replace(st, "quarantine.jsonl", out, olen, err);
    sum->quarantine_dropped = dropped;
  }
  es_strmap_free(&paths);
  free(out);
  free(buf);
  return rc;
}

/* Deletes the files of reports/ that name a removed item (its id appears in them). */
static int drop_reports(const es_store *st, const es_tombstones *t, es_rm_summary *sum,
                        es_error *err)
{
  int dfd = openat(st->dirfd, "reports", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dfd < 0)
    return ES_OK;
  DIR *d = fdopendir(dfd);
  if (!d) {
    close(dfd);
    return ES_OK;
  }
  int rc = ES_OK;
  struct dirent *de;
  while (rc == ES_OK && (de = readdir(d))) {
    if (de->d_name[0] == '.')
      continue;
    char rel[512];
    snprintf(rel, sizeof rel, "reports/%.400s", de->d_name);
    uint8_t *buf = NULL;
    size_t len = 0;
    es_error e = {0};
    if (es_store_read(st, rel, 1, &buf, &len, &e) || !buf)
      continue;
    int hit = 0;
    for (size_t a = 0; !hit && a + 32 <= len; a++) {
      size_t k = 0;
      while (k < 32 && ((buf[a + k] >= '0' && buf[a + k] <= '9') ||
                        (buf[a + k] >= 'a' && buf[a + k] <= 'f')))
        k++;
      if (k == 32) {
        char id[33];
        memcpy(id, buf + a, 32);
        id[32] = 0;
        hit = es_strmap_get(&t->ids, id, NULL);
      }
      a += k; /* skip the run just scanned */
    }
    free(buf);
    if (hit) {
      if (unlinkat(dfd, de->d_name, 0) != 0 && errno != ENOENT)
        rc = es_error_errno(err, ES_EIO, errno, "cannot delete '%s/%s'", st->root, rel);
      else
        sum->reports_deleted++;
    }
  }
  if (rc == ES_OK && sum->reports_deleted)
    fsync(dfd);
  closedir(d);
  return rc;
}

/* The manifest without the marked items; a cluster whose representative went gets its
 * smallest remaining member as the new one (items are sorted by id). */
static void compact(es_manifest *m, const uint8_t *mark)
{
  es_strmap gone = {0}, new_rep = {0};
  for (size_t i = 0; i < m->n; i++)
    if (mark[i])
      es_strmap_put(&gone, m->items[i].id, i, NULL);
  size_t k = 0;
  for (size_t i = 0; i < m->n; i++) {
    if (mark[i]) {
      es_item_free(&m->items[i]);
      continue;
    }
    m->items[k++] = m->items[i];
  }
  m->n = k;
  /* clusters: kept items in id order, so the first member seen is the smallest */
  char (*reps)[33] = k ? malloc(k * sizeof *reps) : NULL;
  size_t nr = 0;
  for (size_t i = 0; i < m->n; i++) {
    es_item *it = &m->items[i];
    if (!it->cluster[0] || !es_strmap_get(&gone, it->cluster, NULL))
      continue;
    size_t r;
    if (!es_strmap_get(&new_rep, it->cluster, &r) && reps) {
      memcpy(reps[nr], it->id, 33);
      es_strmap_put(&new_rep, it->cluster, nr, NULL);
      r = nr++;
    }
    if (reps)
      memcpy(it->cluster, reps[r], 33);
  }
  free(reps);
  es_strmap_free(&gone);
  es_strmap_free(&new_rep);
}

int es_rm_run(es_store *st, const es_rm_select *sel, const char *reason, int dry_run,
              es_rm_summary *sum, es_error *err)
{
  memset(sum, 0, sizeof *sum);
  sum->ids = json_array();
  sum->unknown = json_array();
  es_manifest m = {0};
  es_tombstones t = {0};
  es_sigs sigs = {0};
  es_dataset *tx = NULL;
  uint8_t *mark = NULL;
  const char **new_ids = NULL, **new_px = NULL;
  uint64_t *new_ph = NULL;
  int rc;
  if (!sum->ids || !sum->unknown)
    return es_error_set(err, ES_ENOMEM, "out of memory");
  if ((rc = es_manifest_load(st, &m, err)) || (rc = es_tombstones_load(st, &t, err)))
    goto done;
  mark = calloc(m.n ? m.n : 1, 1);
  new_ids = malloc((m.n ? m.n : 1) * sizeof *new_ids);
  new_px = malloc((m.n ? m.n : 1) * sizeof *new_px);
  new_ph = malloc((m.n ? m.n : 1) * sizeof *new_ph);
  if (!mark || !new_ids || !new_px || !new_ph) {
    rc = es_error_set(err, ES_ENOMEM, "out of memory");
    goto done;
  }
  if ((rc = select_items(&m, sel, &t, mark, sum, err)))
    goto done;
  size_t nid = 0, npx = 0;
  for (size_t i = 0; i < m.n; i++) {
    if (!mark[i])
      continue;
    json_array_append_new(sum->ids, json_string(m.items[i].id));
    if (!es_strmap_get(&t.ids, m.items[i].id, NULL)) {
      new_ph[nid] = m.items[i].phash;
      new_ids[nid++] = m.items[i].id;
    }
    const char *px = pixels_of(&m.items[i]);
    if (px && !es_strmap_get(&t.pixels, px, NULL))
      new_px[npx++] = px;
  }
  sum->removed = json_array_size(sum->ids);
  if (dry_run || json_array_size(sum->unknown)) /* a name that matches nothing: no change */
    goto done;
  /* 1. the tombstones: from here on the content is refused and the run can be completed */
  if (nid || npx) {
    if ((rc = es_tombstones_append(st, new_ids, nid, new_px, npx, new_ph, nid, err)))
      goto done;
    for (size_t k = 0; k < nid && rc == ES_OK; k++)
      rc = es_strmap_put(&t.ids, new_ids[k], 1, err);
    if (rc)
      goto done;
  }
  /* 2. their quarantine records */
  if ((rc = drop_quarantine(st, &m, mark, &t, sum, err)))
    goto done;
  /* 3. the manifest, signatures and index without them: the commit point */
  if (sum->removed) {
    if ((rc = es_sigs_load(st, &sigs, NULL, err)))
      goto done;
    compact(&m, mark);
    if (!(tx = es_dataset_begin(st, 1, err))) {
      rc = err ? err->code : ES_ENOMEM;
      goto done;
    }
    es_dataset_set_manifest(tx, &m, NULL);
    es_dataset_set_signatures(tx, &sigs);
    json_t *rec = json_pack("{s:I, s:O, s:s?}", "items", (json_int_t)sum->removed, "ids",
                            sum->ids, "reason", reason);
    if ((rc = es_dataset_record(tx, "rm", rec, err)) || (rc = es_dataset_commit(tx, err)))
      goto done;
  }
  /* 4. the objects of everything tombstoned (a killed run's included), and reports */
  if ((rc = es_store_delete_objects(st, &t.ids, &sum->objects_deleted, &sum->bytes_deleted,
                                    err)) ||
      (rc = drop_reports(st, &t, sum, err)))
    goto done;
done:
  es_dataset_abort(tx);
  es_sigs_free(&sigs);
  es_tombstones_free(&t);
  es_manifest_free(&m);
  free(mark);
  free(new_ids);
  free(new_px);
  free(new_ph);
  return rc;
}
