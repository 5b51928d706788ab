/* es_merge_run: the parts' items and quarantine records decided again as one collect of all
 * their inputs decides them (collect/ingest.c), in the same canonical order:
 *
 * - Every input of the batch is in exactly one part, as an occurrence of one of its items or as
 *   a quarantine record. An item of a part is a set of inputs with the same pixels, named by the
 *   bytes of its first path; one collect of all inputs names the item by the bytes of the first
 *   path among all the parts. So the parts' items are grouped by id (the same bytes in several
 *   parts) and visited in the order of their first path: each group becomes an occurrence of
 *   DIR's item with its id, else of an item with its pixels (DIR's or an earlier group's), else
 *   a new item, exactly as collect's decide() visits inputs.
 * - Content DIR's tombstones list is refused (quarantine "redacted"), as collect refuses it.
 * - Quarantine records keep collect's order: by input path, a sidecar's record before its
 *   image's.
 * - Clusters: the new items are placed against DIR's clusters (formats/clusters.c), as
 *   collect places a new batch.
 * - Objects: each new item's object is read from its part, checked against its id, and hard
 *   linked (the same file system) or copied into DIR.
 *
 * One commit (formats/dataset.h), with the quarantine records after the commit point, so that a
 * merge that fails or is killed leaves DIR's manifest, quarantine and ledger as they were (but
 * for the batch record of the documented window, and objects no manifest names yet, which a
 * re-run re-uses). */
#include "merge/merge.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/hash.h"
#include "core/show.h"
#include "core/strmap.h"
#include "formats/batch_state.h"
#include "formats/clusters.h"
#include "formats/dataset.h"
#include "formats/index.h"
#include "formats/manifest.h"
#include "formats/path_escape.h"
#include "formats/signatures.h"
#include "formats/tombstones.h"

typedef struct part {
  es_store *st;
  es_manifest m;
  es_sigs sigs;
  json_t *quarantine; /* its records, all of the batch */
  char *batch;        /* the one batch it holds (NULL: none seen yet) */
  int multi;          /* a second batch name was seen */
  const char *other;  /* a ledger record type collect does not write, or NULL */
  size_t collects, sharded;
  unsigned k, n;      /* its --shard K/N (sharded > 0) */
  int shard_conflict;
  char fingerprint[ES_ID_HEX + 1];
} part;

struct es_merge_parts {
  part *v;
  size_t n;
  const char *batch;
  unsigned shards;
};

static void part_see_batch(part *p, const char *b)
{
  if (!p->batch)
    p->batch = strdup(b);
  else if (strcmp(p->batch, b))
    p->multi = 1;
}

static int part_ledger(const json_t *r, void *ctx, es_error *err)
{
  (void)err;
  part *p = ctx;
  const char *type = json_string_value(json_object_get(r, "type"));
  const char *batch = json_string_value(json_object_get(r, "batch"));
  if (!type)
    return ES_OK;
  if (!strcmp(type, "batch") && batch) {
    part_see_batch(p, batch);
  } else if (!strcmp(type, "collect")) {
    p->collects++;
    const char *shard = json_string_value(json_object_get(json_object_get(r, "summary"), "shard"));
    unsigned k, n;
    if (shard && sscanf(shard, "%u/%u", &k, &n) == 2 && k < n) {
      if (p->sharded && (k != p->k || n != p->n))
        p->shard_conflict = 1;
      p->k = k;
      p->n = n;
      p->sharded++;
    }
  } else if (!p->other) {
    static const char *const known[] = {"label", "split", "split-release", "split-set-aside",
                                        "augment", "recluster", "rm", "merge", "eval"};
    p->other = "another program";
    for (size_t i = 0; i < sizeof known / sizeof *known; i++)
      if (!strcmp(type, known[i]))
        p->other = known[i];
  }
  return ES_OK;
}

static int part_quarantine(const json_t *r, void *ctx, es_error *err)
{
  part *p = ctx;
  const char *batch = json_string_value(json_object_get(r, "batch"));
  if (batch)
    part_see_batch(p, batch);
  if (json_array_append(p->quarantine, (json_t *)r))
    return es_error_set(err, ES_ENOMEM, "out of memory");
  return ES_OK;
}

/* The XXH3-128 of the part's manifest followed by its quarantine: what a DIR batch record
 * remembers of the parts it was merged from. */
static int part_fingerprint(part *p, es_error *err)
{
  uint8_t *a = NULL, *b = NULL;
  size_t alen = 0, blen = 0;
  int rc = es_store_read(p->st, "manifest.jsonl", 1, &a, &alen, err);
  if (!rc)
    rc = es_store_read(p->st, "quarantine.jsonl", 1, &b, &blen, err);
  if (!rc)
    es_xxh3_hex(a ? (const void *)a : "", alen, b, blen, p->fingerprint);
  free(a);
  free(b);
  return rc;
}

static int refuse(es_error *err, const char *root, const char *why)
{
  return es_error_set(err, ES_EUSAGE, "part '%s': %s", es_show(root), why);
}

static int load_part(part *p, int jobs, es_error *err)
{
  int rc;
  if (!(p->quarantine = json_array()))
    return es_error_set(err, ES_ENOMEM, "out of memory");
  if ((rc = es_manifest_load(p->st, &p->m, err)) ||
      (rc = es_store_read_jsonl(p->st, "ledger.jsonl", part_ledger, p, err)) ||
      (rc = es_store_read_jsonl(p->st, "quarantine.jsonl", part_quarantine, p, err)) ||
      (rc = part_fingerprint(p, err)))
    return rc;
  for (size_t i = 0; i < p->m.n; i++) {
    const es_item *it = &p->m.items[i];
    if (it->label || it->split || json_object_get(it->extra, "derived_from")) {
      char why[160];
      snprintf(why, sizeof why, "item %s has a label, a split or a source: a part holds only "
               "what collect wrote", it->id);
      return refuse(err, p->st->root, why);
    }
    for (size_t k = 0; k < it->n_seen; k++)
      part_see_batch(p, it->seen[k].batch);
  }
  if (p->other) {
    char why[160];
    snprintf(why, sizeof why, "its ledger has a '%s' record: a part is a dataset only "
             "edgeset collect wrote", p->other);
    return refuse(err, p->st->root, why);
  }
  if (p->multi)
    return refuse(err, p->st->root, "it holds more than one batch: a part is one batch");
  if (!p->batch)
    return refuse(err, p->st->root, "it holds no batch (collect never committed to it)");
  if (p->shard_conflict || (p->sharded && p->sharded != p->collects))
    return refuse(err, p->st->root, "its collect runs name different shards");
  /* the parts' own signatures (from their objects when signatures.bin lacks some) */
  es_near_rel rel;
  if ((rc = es_sigs_load(p->st, &p->sigs, NULL, err)))
    return rc;
  if (es_settings_relation(&p->st->settings, &rel))
    rc = es_sigs_complete(p->st, &p->sigs, &p->m, jobs, NULL, NULL, NULL, NULL, err);
  else
    rc = es_sigs_sort(&p->sigs, err);
  return rc;
}

static const char *settings_differ(const es_settings *a, const es_settings *b)
{
  if (a->near != b->near)
    return "near";
  if (a->near_score != b->near_score)
    return "near_score";
  if (a->near_score_small != b->near_score_small)
    return "near_score_small";
  if (a->max_pixels != b->max_pixels)
    return "max_pixels";
  if (a->max_file_bytes != b->max_file_bytes)
    return "max_file_bytes";
  if (a->jpeg_fancy_upsampling != b->jpeg_fancy_upsampling)
    return "jpeg_fancy_upsampling";
  if (a->jpeg_dct_float != b->jpeg_dct_float)
    return "jpeg_dct";
  return NULL;
}

/* Every input path in at most one part: parts of one batch hold disjoint inputs. */
static int check_disjoint(const es_merge_parts *P, es_error *err)
{
  es_strmap seen = {0};
  int rc = ES_OK;
  for (size_t i = 0; i < P->n && !rc; i++) {
    const part *p = &P->v[i];
    for (size_t j = 0; j < p->m.n && !rc; j++)
      for (size_t k = 0; k < p->m.items[j].n_seen && !rc; k++) {
        const char *path = p->m.items[j].seen[k].path;
        size_t other;
        if (es_strmap_get(&seen, path, &other)) {
          if (other != i)
            rc = es_error_set(err, ES_EUSAGE, "input '%s' is in part '%s' and in part '%s': "
                              "the parts of a batch hold disjoint inputs", es_show(path),
                              es_show(P->v[other].st->root), es_show(p->st->root));
        } else {
          rc = es_strmap_put(&seen, path, i, err);
        }
      }
  }
  es_strmap_free(&seen);
  return rc;
}

static int cmp_part(const void *a, const void *b)
{
  const part *x = a, *y = b;
  if (x->k != y->k)
    return x->k < y->k ? -1 : 1;
  return strcmp(x->st->root, y->st->root);
}

int es_merge_parts_load(es_store *parts, size_t n, int jobs, es_merge_parts **out,
                        es_error *err)
{
  es_merge_parts *P = calloc(1, sizeof *P);
  if (!P || !(P->v = calloc(n ? n : 1, sizeof *P->v))) {
    free(P);
    return es_error_set(err, ES_ENOMEM, "out of memory");
  }
  P->n = n;
  *out = P;
  int rc = ES_OK;
  for (size_t i = 0; i < n && !rc; i++) {
    P->v[i].st = &parts[i];
    rc = load_part(&P->v[i], jobs, err);
  }
  if (rc)
    return rc;
  /* in shard order, whatever the order of the arguments (the ledger lists them so) */
  qsort(P->v, n, sizeof *P->v, cmp_part);
  P->batch = P->v[0].batch;
  size_t sharded = 0;
  for (size_t i = 0; i < n; i++) {
    const part *p = &P->v[i];
    const char *key = settings_differ(&p->st->settings, &P->v[0].st->settings);
    if (key) {
      char why[200];
      snprintf(why, sizeof why, "made with other settings than part '%s' (%s differs): the "
               "parts of a batch are collected with the same options", P->v[0].st->root, key);
      return refuse(err, p->st->root, why);
    }
    if (strcmp(p->batch, P->batch))
      return es_error_set(err, ES_EUSAGE, "part '%s' is batch '%s' and part '%s' is batch "
                          "'%s': merge one batch at a time", es_show(P->v[0].st->root),
                          es_show(P->batch), es_show(p->st->root), es_show(p->batch));
    sharded += p->sharded > 0;
  }
  if (sharded && sharded != n)
    return es_error_set(err, ES_EUSAGE, "some parts were collected with --shard and some "
                        "without: merge the N parts of one --shard K/N run");
  if (sharded) {
    P->shards = P->v[0].n;
    char *have = calloc(P->shards, 1);
    if (!have)
      return es_error_set(err, ES_ENOMEM, "out of memory");
    for (size_t i = 0; i < n && !rc; i++) {
      const part *p = &P->v[i];
      if (p->n != P->shards)
        rc = es_error_set(err, ES_EUSAGE, "part '%s' is shard %u/%u and part '%s' is shard "
                          "%u/%u: the parts of a batch are shards of one N",
                          es_show(P->v[0].st->root), P->v[0].k, P->v[0].n,
                          es_show(p->st->root), p->k, p->n);
      else if (have[p->k]++)
        rc = es_error_set(err, ES_EUSAGE, "shard %u/%u is given twice (part '%s')", p->k, p->n,
                          es_show(p->st->root));
    }
    for (unsigned k = 0; k < P->shards && !rc; k++)
      if (!have[k])
        rc = es_error_set(err, ES_EUSAGE, "shard %u/%u of batch '%s' is missing: merge all "
                          "the parts of a batch in one call", k, P->shards, es_show(P->batch));
    free(have);
    if (rc)
      return rc;
  }
  return check_disjoint(P, err);
}

void es_merge_parts_free(es_merge_parts *P)
{
  if (!P)
    return;
  for (size_t i = 0; i < P->n; i++) {
    es_manifest_free(&P->v[i].m);
    es_sigs_free(&P->v[i].sigs);
    json_decref(P->v[i].quarantine);
    free(P->v[i].batch);
  }
  free(P->v);
  free(P);
}

const es_settings *es_merge_parts_settings(const es_merge_parts *P)
{
  return &P->v[0].st->settings;
}

/* ---- the merge ---- */

typedef struct entry {
  const es_item *it;
  size_t part;
} entry;

typedef struct group {
  size_t start, count; /* entries with one id */
  const char *first;   /* the earliest path among them */
} group;

typedef struct qrec {
  json_t *rec;
  char *image; /* the input path it is ordered by (raw); a sidecar's image */
  int rank;    /* 0: a sidecar's record, before its image's (1) */
} qrec;

typedef struct run {
  es_store *st;
  const es_merge_parts *P;
  const es_merge_opts *o;
  es_batch_state k; /* what DIR says */
  es_strmap created;
  es_sigs sigs;
  qrec *q;
  size_t nq, capq;
  entry *E;        /* every part item, grouped by id */
  size_t *objects; /* the new items' entries in E */
  size_t nobj;
  es_dataset *tx;
  es_merge_summary *sum;
} run;

static int load_dir(run *R, es_error *err)
{
  int rc = es_batch_state_load(R->st, R->P->batch, &R->k, err);
  return rc ? rc : es_sigs_load(R->st, &R->sigs, NULL, err);
}

/* DIR may already have the batch only from a merge of these very parts (this is a re-run). */
static int check_batch(run *R, es_error *err)
{
  const char *b = R->P->batch, *root = R->st->root;
  if (!R->k.batch_record && R->k.done.n)
    return es_error_set(err, ES_EUSAGE, "dataset '%s' already has inputs of batch '%s': give "
                        "the parts' batch another name", es_show(root), es_show(b));
  if (!R->k.batch_record)
    return ES_OK;
  json_t *from = json_object_get(R->k.batch_record, "merged_from");
  if (!json_is_array(from))
    return es_error_set(err, ES_EUSAGE, "dataset '%s' already has batch '%s', collected there: "
                        "give the parts' batch another name", es_show(root), es_show(b));
  for (size_t i = 0; i < R->P->n; i++) {
    int found = 0;
    size_t k;
    json_t *e;
    json_array_foreach(from, k, e)
    {
      const char *fp = json_string_value(json_object_get(e, "fingerprint"));
      found |= fp && !strcmp(fp, R->P->v[i].fingerprint);
    }
    if (!found)
      return es_error_set(err, ES_EUSAGE, "dataset '%s' already has batch '%s', merged from "
                          "other parts than '%s' (or from this part before it changed)",
                          es_show(root), es_show(b), es_show(R->P->v[i].st->root));
  }
  return ES_OK;
}

static int cmp_entry(const void *a, const void *b)
{
  const entry *x = a, *y = b;
  int c = strcmp(x->it->id, y->it->id);
  return c ? c : (x->part > y->part) - (x->part < y->part);
}

static int cmp_group(const void *a, const void *b)
{
  return strcmp(((const group *)a)->first, ((const group *)b)->first);
}

static int cmp_qrec(const void *a, const void *b)
{
  const qrec *x = a, *y = b;
  int c = strcmp(x->image, y->image);
  return c ? c : x->rank - y->rank;
}

static int queue_quarantine(run *R, json_t *rec, const char *raw_path, int sidecar, es_error *err)
{
  if (R->nq == R->capq) {
    size_t cap = R->capq ? 2 * R->capq : 64;
    qrec *q = realloc(R->q, cap * sizeof *q);
    if (!q) {
      json_decref(rec);
      return es_error_set(err, ES_ENOMEM, "out of memory");
    }
    R->q = q;
    R->capq = cap;
  }
  size_t len = strlen(raw_path);
  char *image = sidecar && len > 5 ? strndup(raw_path, len - 5) : strdup(raw_path);
  if (!image) {
    json_decref(rec);
    return es_error_set(err, ES_ENOMEM, "out of memory");
  }
  R->q[R->nq++] = (qrec){rec, image, !sidecar};
  const char *code = json_string_value(json_object_get(rec, "code"));
  json_t *n = json_object_get(R->sum->quarantine, code ? code : "?");
  json_object_set_new(R->sum->quarantine, code ? code : "?",
                      json_integer(n ? json_integer_value(n) + 1 : 1));
  if (!sidecar)
    R->sum->quarantined++;
  return ES_OK;
}

static int refuse_occurrence(run *R, const es_occurrence *oc, const char *reason, es_error *err)
{
  json_t *rec = es_quarantine_record(oc->path, R->P->batch, "redacted", reason, NULL, err);
  return rec ? queue_quarantine(R, rec, oc->path, 0, err) : (err ? err->code : ES_ENOMEM);
}

/* A group's pending occurrences (those DIR does not record yet) go to item k. */
static int add_to(run *R, size_t k, const es_occurrence *const *occ, size_t n, es_error *err)
{
  int rc = ES_OK;
  for (size_t i = 0; i < n && !rc; i++)
    rc = es_item_add_seen_ordered(&R->k.m.items[k], occ[i]->path, occ[i]->batch, occ[i]->device,
                                  occ[i]->time, &R->k.batch_seq, err);
  return rc;
}

static int new_item(run *R, const entry *e, const es_occurrence *const *occ, size_t n,
                    es_error *err)
{
  const es_item *x = e->it;
  es_item it;
  memset(&it, 0, sizeof it);
  memcpy(it.id, x->id, sizeof it.id);
  memcpy(it.format, x->format, sizeof it.format);
  it.width = x->width;
  it.height = x->height;
  it.channels = x->channels;
  it.bytes = x->bytes;
  it.phash = x->phash;
  it.stats = x->stats;
  it.extra = x->extra ? json_deep_copy(x->extra) : NULL;
  int rc = x->extra && !it.extra ? es_error_set(err, ES_ENOMEM, "out of memory") : ES_OK;
  for (size_t i = 0; i < n && !rc; i++)
    rc = es_item_add_seen_ordered(&it, occ[i]->path, occ[i]->batch, occ[i]->device,
                                  occ[i]->time, &R->k.batch_seq, err);
  size_t k = R->k.m.n;
  if (!rc)
    rc = es_manifest_add(&R->k.m, &it, err);
  if (rc) {
    es_item_free(&it);
    return rc;
  }
  const char *px = json_string_value(json_object_get(R->k.m.items[k].extra, "pixels"));
  const es_near_sig *sig = es_sigs_find(&R->P->v[e->part].sigs, x->id);
  if ((rc = es_strmap_put(&R->k.ids, x->id, k, err)) ||
      (px && (rc = es_strmap_put(&R->k.pixels, px, k, err))) ||
      (rc = es_strmap_put(&R->created, x->id, 0, err)) ||
      (sig && (rc = es_sigs_put(&R->sigs, x->id, sig, err))))
    return rc;
  R->objects[R->nobj++] = (size_t)(e - R->E);
  R->sum->new_items++;
  return ES_OK;
}

static int decide_items(run *R, es_error *err)
{
  const es_merge_parts *P = R->P;
  size_t n = 0, ng = 0;
  for (size_t i = 0; i < P->n; i++)
    n += P->v[i].m.n;
  entry *E = R->E = malloc((n ? n : 1) * sizeof *E);
  group *G = malloc((n ? n : 1) * sizeof *G);
  R->objects = malloc((n ? n : 1) * sizeof *R->objects);
  const es_occurrence **occ = NULL;
  size_t cap_occ = 0;
  int rc = ES_OK;
  if (!E || !G || !R->objects) {
    rc = es_error_set(err, ES_ENOMEM, "out of memory for %zu items", n);
    goto done;
  }
  n = 0;
  for (size_t i = 0; i < P->n; i++)
    for (size_t j = 0; j < P->v[i].m.n; j++)
      if (P->v[i].m.items[j].n_seen)
        E[n++] = (entry){&P->v[i].m.items[j], i};
  qsort(E, n, sizeof *E, cmp_entry);
  for (size_t i = 0; i < n;) {
    size_t j = i;
    const char *first = E[i].it->seen[0].path;
    while (j < n && !strcmp(E[j].it->id, E[i].it->id)) {
      if (strcmp(E[j].it->seen[0].path, first) < 0)
        first = E[j].it->seen[0].path;
      j++;
    }
    G[ng++] = (group){i, j - i, first};
    i = j;
  }
  qsort(G, ng, sizeof *G, cmp_group);

  for (size_t g = 0; g < ng && !rc; g++) {
    /* the group's occurrences DIR does not record yet */
    size_t no = 0;
    for (size_t e = G[g].start; e < G[g].start + G[g].count; e++) {
      const es_item *it = E[e].it;
      if (no + it->n_seen > cap_occ) {
        size_t cap = 2 * (no + it->n_seen);
        const es_occurrence **v = realloc(occ, cap * sizeof *v);
        if (!v) {
          rc = es_error_set(err, ES_ENOMEM, "out of memory");
          goto done;
        }
        occ = v;
        cap_occ = cap;
      }
      for (size_t k = 0; k < it->n_seen; k++) {
        if (es_strmap_get(&R->k.done, it->seen[k].path, NULL))
          R->sum->already_merged++;
        else
          occ[no++] = &it->seen[k];
      }
    }
    if (!no)
      continue;
    const entry *e = &E[G[g].start];
    const char *px = json_string_value(json_object_get(e->it->extra, "pixels"));
    size_t k;
    if (es_strmap_get(&R->k.tomb.ids, e->it->id, NULL) ||
        (px && es_strmap_get(&R->k.tomb.pixels, px, NULL))) {
      for (size_t i = 0; i < no && !rc; i++)
        rc = refuse_occurrence(R, occ[i], ES_REDACTED_REASON, err);
    } else if (es_strmap_get(&R->k.ids, e->it->id, &k) ||
               (px && es_strmap_get(&R->k.pixels, px, &k))) {
      R->sum->duplicates += no;
      rc = add_to(R, k, occ, no, err);
    } else if (R->o->refuse_near_redacted &&
               es_tombstones_nearest(&R->k.tomb, e->it->phash) <= ES_REDACTED_NEAR) {
      char why[96];
      snprintf(why, sizeof why, ES_REDACTED_NEAR_REASON,
               es_tombstones_nearest(&R->k.tomb, e->it->phash));
      for (size_t i = 0; i < no && !rc; i++)
        rc = refuse_occurrence(R, occ[i], why, err);
    } else {
      R->sum->near_redacted += es_tombstones_nearest(&R->k.tomb, e->it->phash) <= ES_REDACTED_NEAR;
      R->sum->duplicates += no - 1;
      rc = new_item(R, e, occ, no, err);
    }
  }
done:
  free(occ);
  free(G);
  return rc;
}

/* The parts' quarantine records DIR does not have yet. */
static int decide_quarantine(run *R, es_error *err)
{
  int rc = ES_OK;
  for (size_t i = 0; i < R->P->n && !rc; i++) {
    size_t k;
    json_t *rec;
    json_array_foreach(R->P->v[i].quarantine, k, rec)
    {
      const char *path = json_string_value(json_object_get(rec, "path"));
      const char *code = json_string_value(json_object_get(rec, "code"));
      if (!path || !code) {
        rc = es_error_set(err, ES_EFORMAT, "'%s/quarantine.jsonl': a record without a path or "
                          "a code", es_show(R->P->v[i].st->root));
        break;
      }
      char *raw = es_path_unescape(path, err);
      if (!raw) {
        rc = err ? err->code : ES_EFORMAT;
        break;
      }
      int sidecar = !strcmp(code, "bad-sidecar");
      if (es_strmap_get(&R->k.done, raw, NULL))
        R->sum->already_merged += !sidecar;
      else
        rc = queue_quarantine(R, json_incref(rec), raw, sidecar, err);
      free(raw);
      if (rc)
        break;
    }
  }
  if (!rc && R->nq > 1)
    qsort(R->q, R->nq, sizeof *R->q, cmp_qrec);
  for (size_t i = 0; i < R->nq && !rc; i++) {
    rc = es_dataset_quarantine(R->tx, R->q[i].rec, err);
    R->q[i].rec = NULL;
  }
  return rc;
}

/* The new items' objects: read from their parts, checked against their ids, hard linked or
 * copied (es_store_stage_object()'s "link" mode). */
static int stage_objects(run *R, es_error *err)
{
  if (R->o->ref)
    return ES_OK;
  int rc = ES_OK;
  volatile int failed = 0;
#pragma omp parallel for schedule(dynamic, 4) num_threads(R->o->jobs > 0 ? R->o->jobs : 1)
  for (size_t i = 0; i < R->nobj; i++) {
    if (failed)
      continue;
    const entry *e = &R->E[R->objects[i]];
    const es_store *pst = R->P->v[e->part].st;
    const char *ext = es_object_ext(e->it->format);
    es_error my = {0};
    int r1 = ES_OK;
    size_t plen = strlen(pst->root) + strlen(e->it->id) + strlen(ext) + 16;
    char *path = malloc(plen);
    uint8_t *buf = NULL;
    size_t len = 0, slot;
    if (!path) {
      r1 = es_error_set(&my, ES_ENOMEM, "out of memory");
    } else {
      snprintf(path, plen, "%s/objects/%.2s/%s.%s", pst->root, e->it->id, e->it->id, ext);
      struct stat sb;
      if (stat(path, &sb) == 0 || errno != ENOENT)
        r1 = es_read_file(path, &buf, &len, &my);
      else
        r1 = es_error_set(&my, ES_EUSAGE, "part '%s' has no object for item %s ('%s'): a part "
                          "collected with --store ref is merged with --store ref",
                          es_show(pst->root), e->it->id, es_show(path));
    }
    if (!r1) {
      char hex[ES_ID_HEX + 1];
      es_hash_hex(buf, len, hex);
      if (strcmp(hex, e->it->id))
        r1 = es_error_set(&my, ES_EFORMAT, "part '%s': object '%s' is damaged (its bytes hash "
                          "to %s): check the part with edgeset fsck", es_show(pst->root),
                          es_show(path), hex);
    }
    if (!r1)
      r1 = es_dataset_stage_object(R->tx, e->it->id, ext, buf, len, path, "link", &slot, NULL,
                                   &my);
    free(buf);
    free(path);
    if (r1)
      es_error_keep_first(&failed, &rc, err, r1, &my);
  }
  if (!rc)
    R->sum->objects = R->nobj;
  return rc;
}

static json_t *part_list(const es_merge_parts *P)
{
  json_t *a = json_array();
  for (size_t i = 0; a && i < P->n; i++) {
    const part *p = &P->v[i];
    char shard[32] = "";
    if (p->sharded)
      snprintf(shard, sizeof shard, "%u/%u", p->k, p->n);
    json_array_append_new(a, json_pack("{s:s, s:s?, s:s}", "path", p->st->root, "shard",
                                       p->sharded ? shard : NULL, "fingerprint", p->fingerprint));
  }
  return a;
}

json_t *es_merge_summary_json(const es_merge_summary *s)
{
  return json_pack("{s:s, s:O, s:I, s:I, s:I, s:I, s:I, s:I, s:O, s:I, s:I, s:I, s:I, s:I, "
                   "s:b}",
                   "batch", s->batch, "parts", s->part_list, "inputs", (json_int_t)s->inputs,
                   "new_items", (json_int_t)s->new_items, "duplicates",
                   (json_int_t)s->duplicates, "already_merged", (json_int_t)s->already_merged,
                   "quarantined", (json_int_t)s->quarantined, "near_duplicates",
                   (json_int_t)s->near_duplicates, "quarantine", s->quarantine,
                   "near_redacted", (json_int_t)s->near_redacted, "objects",
                   (json_int_t)s->objects, "items", (json_int_t)s->items_total, "clusters",
                   (json_int_t)s->clusters_total, "signatures_computed",
                   (json_int_t)s->signatures_computed, "changed", s->changed);
}

void es_merge_summary_free(es_merge_summary *s)
{
  json_decref(s->quarantine);
  json_decref(s->part_list);
  s->quarantine = s->part_list = NULL;
}

static void free_run(run *R)
{
  for (size_t i = 0; i < R->nq; i++) {
    json_decref(R->q[i].rec);
    free(R->q[i].image);
  }
  free(R->q);
  free(R->E);
  free(R->objects);
  es_dataset_abort(R->tx);
  es_batch_state_free(&R->k);
  es_strmap_free(&R->created);
  es_sigs_free(&R->sigs);
}

int es_merge_run(es_store *dst, const es_merge_parts *P, const es_merge_opts *o,
                 es_merge_summary *sum, es_error *err)
{
  run R;
  memset(&R, 0, sizeof R);
  memset(sum, 0, sizeof *sum);
  R.st = dst;
  R.P = P;
  R.o = o;
  R.sum = sum;
  snprintf(sum->batch, sizeof sum->batch, "%s", P->batch);
  sum->parts = P->n;
  sum->shards = P->shards;
  int rc = ES_OK;
  const char *key = settings_differ(&dst->settings, es_merge_parts_settings(P));
  if (!(sum->quarantine = json_object()) || !(sum->part_list = part_list(P)))
    rc = es_error_set(err, ES_ENOMEM, "out of memory");
  else if (key)
    rc = es_error_set(err, ES_EUSAGE, "dataset '%s' was made with other settings than the "
                      "parts (%s differs): collect the parts with the dataset's options",
                      es_show(dst->root), key);
  if (!rc)
    rc = load_dir(&R, err);
  if (!rc)
    rc = check_batch(&R, err);
  if (rc)
    goto done;
  int known = R.k.batch_known;
  size_t seq = 0;
  es_strmap_get(&R.k.batch_seq, P->batch, &seq);
  if (!(R.tx = es_dataset_begin(dst, o->jobs, err))) {
    rc = ES_ENOMEM;
    goto done;
  }
  es_dataset_quarantine_after_commit(R.tx);
  size_t n_before = R.k.m.n, dup_before;
  if ((rc = decide_items(&R, err)))
    goto done;
  dup_before = sum->duplicates;
  int items_changed = R.k.m.n != n_before || dup_before > 0;
  if ((rc = decide_quarantine(&R, err)) || (rc = stage_objects(&R, err)))
    goto done;
  sum->inputs = sum->new_items + sum->duplicates + sum->already_merged + sum->quarantined;
  sum->changed = items_changed || R.nq > 0;
  /* signatures.bin lacking items (a merge killed before its rename) is completed too */
  es_manifest_sort(&R.k.m);
  if ((rc = es_clusters_update(dst, &R.k.m, &R.sigs, &R.k.batch_seq, 1, o->jobs, NULL, NULL,
                               &sum->clusters_total, &sum->signatures_computed, err)))
    goto done;
  for (size_t i = 0; i < R.k.m.n; i++)
    sum->near_duplicates += strcmp(R.k.m.items[i].cluster, R.k.m.items[i].id) != 0 &&
                            es_strmap_get(&R.created, R.k.m.items[i].id, NULL);
  sum->items_total = R.k.m.n;
  items_changed |= sum->signatures_computed > 0;
  if (!items_changed && !sum->changed)
    goto done;
  if (items_changed) {
    es_dataset_set_manifest(R.tx, &R.k.m, NULL);
    es_dataset_set_signatures(R.tx, &R.sigs);
  }
  if (!known) {
    /* the parts as the summary lists them, without their paths (which move) */
    json_t *from = json_deep_copy(sum->part_list);
    size_t i;
    json_t *e;
    json_array_foreach(from, i, e) json_object_del(e, "path");
    if ((rc = es_dataset_new_batch_ex(R.tx, P->batch, seq,
                                      json_pack("{s:o}", "merged_from", from), err)))
      goto done;
  }
  if ((rc = es_dataset_record(R.tx, "merge", json_pack("{s:s, s:o}", "batch", P->batch,
                                                       "summary", es_merge_summary_json(sum)),
                              err)) ||
      (rc = es_dataset_commit(R.tx, err)))
    goto done;
done:
  free_run(&R);
  return rc;
}
