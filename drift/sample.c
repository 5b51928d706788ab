/* Samples: which items a selection (batch:NAME, split:NAME) takes from the manifest or from the
 * binary index, reduced to feature columns, label counts and per-device histories (sharpness,
 * brightness, clipped frames, and from the manifest's occurrences the longest run of identical
 * frames), then sorted column by column. */
#include <stdlib.h>
#include <string.h>

#include "core/cli.h"
#include "core/isotime.h"
#include "core/strmap.h"
#include "core/unionfind.h"
#include "drift/drift.h"
#include "drift/stats.h"

const char *const es_drift_numeric_names[ES_DRIFT_N_NUMERIC] = {
    "brightness", "contrast", "sharpness", "saturation", "clip_low", "clip_high", "pixels",
    "aspect", "confidence"};

typedef struct selection {
  int by_batch; /* else by split */
  const char *name;
} selection;

static int parse_spec(const char *spec, selection *sel, es_error *err)
{
  if (!strncmp(spec, "batch:", 6))
    sel->by_batch = 1;
  else if (!strncmp(spec, "split:", 6))
    sel->by_batch = 0;
  else
    return es_error_set(err, ES_EUSAGE,
                        "bad selection '%s': expected batch:NAME or split:NAME", spec);
  sel->name = spec + 6;
  if (!*sel->name)
    return es_error_set(err, ES_EUSAGE, "bad selection '%s': empty name", spec);
  return ES_OK;
}

static int grow(void **p, size_t *cap, size_t need, size_t size, es_error *err)
{
  if (need <= *cap)
    return ES_OK;
  size_t nc = *cap ? *cap : 16;
  while (nc < need) {
    if (nc > SIZE_MAX / 2 / size)
      return es_error_set(err, ES_ENOMEM, "out of memory");
    nc *= 2;
  }
  void *q = realloc(*p, nc * size);
  if (!q)
    return es_error_set(err, ES_ENOMEM, "out of memory");
  *p = q;
  *cap = nc;
  return ES_OK;
}

/* Columns grow by doubling; cap per column is kept beside the sample in a parallel array. */
typedef struct colcap {
  size_t cap[ES_DRIFT_N_NUMERIC];
} colcap;

static int push(es_drift_sample *s, colcap *cc, int c, double v, es_error *err)
{
  int rc = grow((void **)&s->col[c], &cc->cap[c], s->n[c] + 1, sizeof(double), err);
  if (rc)
    return rc;
  s->col[c][s->n[c]++] = v;
  return ES_OK;
}

int es_drift_sample_push(es_drift_sample *s, int c, double v, es_error *err)
{
  /* capacity is not remembered here: grow to the next power of two at powers of two */
  size_t n = s->n[c];
  if (n == 0 || (n & (n - 1)) == 0) {
    size_t nc = n ? 2 * n : 1;
    double *q = realloc(s->col[c], nc * sizeof *q);
    if (!q)
      return es_error_set(err, ES_ENOMEM, "out of memory");
    s->col[c] = q;
  }
  s->col[c][s->n[c]++] = v;
  return ES_OK;
}

static int find_label(es_drift_sample *s, const char *label, size_t *k, es_error *err)
{
  for (size_t i = 0; i < s->n_labels; i++)
    if (!strcmp(s->labels[i], label)) {
      *k = i;
      return ES_OK;
    }
  int rc = grow((void **)&s->labels, &s->cap_labels, s->n_labels + 1, sizeof(char *), err);
  if (rc)
    return rc;
  double *lc = realloc(s->label_counts, s->cap_labels * sizeof *lc);
  if (!lc)
    return es_error_set(err, ES_ENOMEM, "out of memory");
  s->label_counts = lc;
  if (!(s->labels[s->n_labels] = strdup(label)))
    return es_error_set(err, ES_ENOMEM, "out of memory");
  s->label_counts[s->n_labels] = 0;
  *k = s->n_labels++;
  return ES_OK;
}

int es_drift_sample_add_label(es_drift_sample *s, const char *label, double count,
                              es_error *err)
{
  if (!label) {
    s->unlabelled += count;
    return ES_OK;
  }
  size_t k;
  int rc = find_label(s, label, &k, err);
  if (rc)
    return rc;
  s->label_counts[k] += count;
  return ES_OK;
}

/* Per-device accumulation while building. */
typedef struct devacc {
  size_t cap_s, cap_b;
} devacc;

static int device_slot(es_drift_sample *s, es_strmap *map, devacc **acc, const char *name,
                       size_t *k, es_error *err)
{
  size_t v;
  if (es_strmap_get(map, name, &v)) {
    *k = v;
    return ES_OK;
  }
  size_t old = s->cap_dev;
  int rc = grow((void **)&s->dev, &s->cap_dev, s->n_dev + 1, sizeof *s->dev, err);
  if (rc)
    return rc;
  if (s->cap_dev != old) {
    devacc *a = realloc(*acc, s->cap_dev * sizeof *a);
    if (!a)
      return es_error_set(err, ES_ENOMEM, "out of memory");
    *acc = a;
  }
  es_drift_device *d = &s->dev[s->n_dev];
  memset(d, 0, sizeof *d);
  memset(&(*acc)[s->n_dev], 0, sizeof **acc);
  if (!(d->name = strdup(name)))
    return es_error_set(err, ES_ENOMEM, "out of memory");
  if ((rc = es_strmap_put(map, name, s->n_dev, err)))
    return rc;
  *k = s->n_dev++;
  return ES_OK;
}

static int device_add(es_drift_sample *s, devacc *acc, size_t k, const double *stats,
                      es_error *err)
{
  es_drift_device *d = &s->dev[k];
  int rc;
  if ((rc = grow((void **)&d->sharpness, &acc[k].cap_s, d->n + 1, sizeof(double), err)) ||
      (rc = grow((void **)&d->brightness, &acc[k].cap_b, d->n + 1, sizeof(double), err)))
    return rc;
  d->sharpness[d->n] = stats[2];
  d->brightness[d->n] = stats[0];
  if (stats[4] > ES_DRIFT_CLIPPED_FRAME || stats[5] > ES_DRIFT_CLIPPED_FRAME)
    d->clipped += 1;
  d->n++;
  d->n_sample = d->n;
  return ES_OK;
}

static int cmp_str(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_dev(const void *a, const void *b)
{
  return strcmp(((const es_drift_device *)a)->name, ((const es_drift_device *)b)->name);
}

int es_drift_sample_prepare(es_drift_sample *s, int jobs, es_error *err)
{
  int failed = 0;
  size_t nd = s->n_dev;
  long ntasks = ES_DRIFT_N_NUMERIC + 2 * (long)nd;
#pragma omp parallel for num_threads(jobs > 0 ? jobs : 1) schedule(dynamic, 1) \
    reduction(| : failed)
  for (long t = 0; t < ntasks; t++) {
    if (t < ES_DRIFT_N_NUMERIC)
      failed |= es_sort_doubles(s->col[t], s->n[t]) != 0;
    else {
      es_drift_device *d = &s->dev[(t - ES_DRIFT_N_NUMERIC) / 2];
      if ((t - ES_DRIFT_N_NUMERIC) % 2)
        failed |= es_sort_doubles(d->brightness, d->n_sample) != 0;
      else
        failed |= es_sort_doubles(d->sharpness, d->n_sample) != 0;
    }
  }
  if (failed)
    return es_error_set(err, ES_ENOMEM, "out of memory sorting %zu items", s->n_items);
  /* labels in byte order, their counts with them */
  if (s->n_labels > 1) {
    size_t n = s->n_labels;
    char **names = malloc(n * sizeof *names);
    double *counts = malloc(n * sizeof *counts);
    if (!names || !counts) {
      free(names);
      free(counts);
      return es_error_set(err, ES_ENOMEM, "out of memory");
    }
    memcpy(names, s->labels, n * sizeof *names);
    qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++)
      for (size_t j = 0; j < n; j++)
        if (s->labels[j] == names[i]) {
          counts[i] = s->label_counts[j];
          break;
        }
    memcpy(s->labels, names, n * sizeof *names);
    memcpy(s->label_counts, counts, n * sizeof *counts);
    free(names);
    free(counts);
  }
  if (s->n_dev > 1)
    qsort(s->dev, s->n_dev, sizeof *s->dev, cmp_dev);
  return ES_OK;
}

void es_drift_sample_free(es_drift_sample *s)
{
  if (!s)
    return;
  free(s->spec);
  for (int c = 0; c < ES_DRIFT_N_NUMERIC; c++)
    free(s->col[c]);
  for (size_t i = 0; i < s->n_labels; i++)
    free(s->labels[i]);
  free(s->labels);
  free(s->label_counts);
  for (size_t i = 0; i < s->n_dev; i++) {
    free(s->dev[i].name);
    free(s->dev[i].sharpness);
    free(s->dev[i].brightness);
  }
  free(s->dev);
  for (size_t i = 0; i < s->n_classes; i++)
    free(s->classes[i]);
  free(s->classes);
  free(s->pred_counts);
  free(s->emb);
  free(s->unit);
  free(s->emb_unit);
  memset(s, 0, sizeof *s);
}

/* ---- units of evidence ------------------------------------------------------------------ */

int es_drift_unit_parse(const char *s, es_drift_unit_rule *u, es_error *err)
{
  memset(u, 0, sizeof *u);
  if (!strcmp(s, "cluster"))
    return ES_OK;
  if (!strcmp(s, "frame")) {
    u->kind = ES_DRIFT_UNIT_FRAME;
    return ES_OK;
  }
  unsigned long long v;
  if (!strncmp(s, "burst:", 6) && s[6] >= '0' && s[6] <= '9' &&
      es_cli_parse_uint(s + 6, 1, 1000000000, &v, NULL) == ES_OK) {
    u->kind = ES_DRIFT_UNIT_BURST;
    u->burst_seconds = (int64_t)v;
    return ES_OK;
  }
  return es_error_set(err, ES_EUSAGE,
                      "--unit '%s': expected cluster, burst:SECONDS (1 to 10^9) or frame", s);
}

/* What each selected item brings to its unit: its cluster (the representative's key), its
 * first occurrence's device and capture time. */
typedef struct unit_in {
  uint64_t cluster;
  uint64_t device; /* 0: none */
  int64_t time;    /* ES_INDEX_NO_TIME: none */
  uint32_t item;
} unit_in;

static int cmp_unit_burst(const void *a, const void *b)
{
  const unit_in *x = a, *y = b;
  if (x->device != y->device)
    return x->device < y->device ? -1 : 1;
  if (x->time != y->time)
    return x->time < y->time ? -1 : 1;
  return (x->item > y->item) - (x->item < y->item);
}

/* s->unit and s->n_units for the n selected items described by in (in selection order; the
 * array is reordered). Units are numbered in the order of their first item. */
static int assign_units(es_drift_sample *s, unit_in *in, size_t n, const es_drift_unit_rule *u,
                        es_error *err)
{
  uint32_t *p = malloc((n ? n : 1) * sizeof *p);
  s->unit = malloc((n ? n : 1) * sizeof *s->unit);
  if (!p || !s->unit) {
    free(p);
    return es_error_set(err, ES_ENOMEM, "out of memory");
  }
  for (size_t i = 0; i < n; i++)
    p[i] = (uint32_t)i;
  if (u->kind != ES_DRIFT_UNIT_FRAME) {
    /* items of one cluster: an open-addressing table from the cluster key to its first item */
    size_t cap = 16;
    while (cap < 2 * n)
      cap *= 2;
    uint64_t *keys = malloc(cap * sizeof *keys);
    uint32_t *first = malloc(cap * sizeof *first);
    if (!keys || !first) {
      free(keys);
      free(first);
      free(p);
      return es_error_set(err, ES_ENOMEM, "out of memory");
    }
    for (size_t k = 0; k < cap; k++)
      first[k] = UINT32_MAX;
    for (size_t j = 0; j < n; j++) {
      uint64_t h = in[j].cluster * 0x9E3779B97F4A7C15ull;
      size_t k = (size_t)(h >> 20) & (cap - 1);
      while (first[k] != UINT32_MAX && keys[k] != in[j].cluster)
        k = (k + 1) & (cap - 1);
      if (first[k] == UINT32_MAX) {
        keys[k] = in[j].cluster;
        first[k] = in[j].item;
      } else {
        es_uf_union(p, first[k], in[j].item);
      }
    }
    free(keys);
    free(first);
  }
  if (u->kind == ES_DRIFT_UNIT_BURST) {
    /* a run of one device's captures, each less than burst_seconds after the previous, is a
     * burst when it has at most ES_DRIFT_BURST_MAX captures; a longer run is not taken as one
     * (file times that are the moment of a copy, a camera that never pauses) */
    size_t m = 0; /* only items with a device and a time can be in a burst */
    for (size_t j = 0; j < n; j++)
      if (in[j].device && in[j].time != ES_INDEX_NO_TIME)
        in[m++] = in[j];
    qsort(in, m, sizeof *in, cmp_unit_burst);
    for (size_t a = 0, b; a < m; a = b) {
      for (b = a + 1; b < m && in[b].device == in[b - 1].device &&
                      (uint64_t)in[b].time - (uint64_t)in[b - 1].time <
                          (uint64_t)u->burst_seconds; /* ascending: no overflow */
           b++)
        ;
      if (b - a <= ES_DRIFT_BURST_MAX)
        for (size_t j = a + 1; j < b; j++)
          es_uf_union(p, in[j - 1].item, in[j].item);
    }
  }
  s->n_units = 0;
  for (size_t i = 0; i < n; i++) {
    uint32_t r = es_uf_find(p, (uint32_t)i);
    s->unit[i] = r == i ? (uint32_t)s->n_units++ : s->unit[r]; /* r <= i: numbered */
  }
  free(p);
  return ES_OK;
}

/* The design effects of a sample whose columns (and device histories) are still in selection
 * order: rows of columns 0-5 are the items; those of pixels and aspect the items with a size
 * (sized[k]); lab[k] the item's label slot or UINT32_MAX; devk[k] its device slot or
 * UINT32_MAX. */
static int sample_deffs(es_drift_sample *s, const uint8_t *sized, const uint32_t *lab,
                        const uint32_t *devk, es_error *err)
{
  size_t n = s->n_items, U = s->n_units;
  double *sum = calloc(U ? U : 1, sizeof *sum), *cnt = calloc(U ? U : 1, sizeof *cnt);
  double *ccnt = calloc(s->n_labels ? s->n_labels : 1, sizeof *ccnt);
  uint32_t *rows = malloc((n ? n : 1) * sizeof *rows), *cats = malloc((n ? n : 1) * sizeof *cats);
  uint32_t *order = malloc((U + 1 + n) * sizeof *order);
  int rc = ES_OK;
  if (!sum || !cnt || !ccnt || !rows || !cats || !order) {
    rc = es_error_set(err, ES_ENOMEM, "out of memory");
    goto done;
  }
  for (int c = 0; c < 6; c++)
    s->deff[c] = es_deff_numeric(s->col[c], s->unit, s->n[c], sum, cnt);
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (sized[i])
      rows[k++] = s->unit[i];
  s->deff[ES_DRIFT_PIXELS] = es_deff_numeric(s->col[ES_DRIFT_PIXELS], rows, k, sum, cnt);
  s->deff[ES_DRIFT_ASPECT] = es_deff_numeric(s->col[ES_DRIFT_ASPECT], rows, k, sum, cnt);
  k = 0;
  for (size_t i = 0; i < n; i++)
    if (lab[i] != UINT32_MAX) {
      rows[k] = s->unit[i];
      cats[k++] = lab[i];
    }
  s->label_deff = es_deff_categorical(cats, rows, k, U, s->n_labels, order, ccnt);
  /* devices: the items of each, in order, by a counting sort on the slot */
  size_t nd = s->n_dev;
  uint32_t *start = calloc(nd + 1, sizeof *start);
  if (!start) {
    rc = es_error_set(err, ES_ENOMEM, "out of memory");
    goto done;
  }
  for (size_t i = 0; i < n; i++)
    if (devk[i] != UINT32_MAX)
      start[devk[i] + 1]++;
  for (size_t d = 0; d < nd; d++)
    start[d + 1] += start[d];
  for (size_t i = 0; i < n; i++)
    if (devk[i] != UINT32_MAX)
      rows[start[devk[i]]++] = s->unit[i];
  for (size_t d = nd; d > 0; d--)
    start[d] = start[d - 1];
  start[0] = 0;
  for (size_t d = 0; d < nd; d++) {
    es_drift_device *dv = &s->dev[d];
    dv->deff_sharpness = es_deff_numeric(dv->sharpness, rows + start[d], dv->n, sum, cnt);
    dv->deff_brightness = es_deff_numeric(dv->brightness, rows + start[d], dv->n, sum, cnt);
  }
  free(start);
done:
  free(sum);
  free(cnt);
  free(ccnt);
  free(rows);
  free(cats);
  free(order);
  return rc;
}

/* ---- from the manifest ------------------------------------------------------------------ */

typedef struct occ {
  const char *time, *path;
  size_t item;
  size_t dev;
} occ;

static int cmp_occ(const void *a, const void *b)
{
  const occ *x = a, *y = b;
  if (x->dev != y->dev)
    return x->dev < y->dev ? -1 : 1;
  /* capture order: time when both have one, then path */
  const char *tx = x->time ? x->time : "", *ty = y->time ? y->time : "";
  int c = strcmp(tx, ty);
  if (c)
    return c;
  c = strcmp(x->path ? x->path : "", y->path ? y->path : "");
  if (c)
    return c;
  return x->item < y->item ? -1 : x->item > y->item;
}

static int selected_item(const es_item *it, const selection *sel)
{
  if (sel->by_batch)
    return it->n_seen > 0 && it->seen[0].batch && !strcmp(it->seen[0].batch, sel->name);
  return it->split && !strcmp(it->split, sel->name);
}

/* The first 16 hex digits of an id as a number (ids are content hashes). */
static uint64_t id_key(const char *id)
{
  uint64_t v = 0;
  for (int k = 0; k < 16 && id[k]; k++) {
    char c = id[k];
    v = v << 4 | (uint64_t)(c >= 'a' ? c - 'a' + 10 : c >= 'A' ? c - 'A' + 10 : c - '0') % 16;
  }
  return v;
}

int es_drift_sample_from_manifest(const es_manifest *m, const char *spec,
                                  const es_drift_unit_rule *u, int jobs, es_drift_sample *s,
                                  es_error *err)
{
  selection sel;
  es_strmap devmap = {0};
  devacc *acc = NULL;
  colcap cc = {{0}};
  occ *occs = NULL;
  size_t n_occ = 0, cap_occ = 0;
  unit_in *uin = NULL;
  uint8_t *sized = NULL;
  uint32_t *lab = NULL, *devk = NULL;
  memset(s, 0, sizeof *s);
  int rc = parse_spec(spec, &sel, err);
  if (rc)
    return rc;
  size_t nm = m->n ? m->n : 1;
  uin = malloc(nm * sizeof *uin);
  sized = malloc(nm);
  lab = malloc(nm * sizeof *lab);
  devk = malloc(nm * sizeof *devk);
  if (!uin || !sized || !lab || !devk) {
    rc = es_error_set(err, ES_ENOMEM, "out of memory");
    goto cleanup;
  }
  if (!(s->spec = strdup(spec)))
    return es_error_set(err, ES_ENOMEM, "out of memory");
  for (size_t i = 0; i < m->n; i++) {
    const es_item *it = &m->items[i];
    int aug = it->extra && json_object_get(it->extra, "derived_from") &&
              !json_is_null(json_object_get(it->extra, "derived_from"));
    int in = selected_item(it, &sel);
    if (in && aug) {
      s->n_augmented_skipped++;
      continue;
    }
    if (in) {
      const es_stats *st = &it->stats;
      double v[6] = {st->mean, st->std, st->sharpness, st->saturation, st->clip_low,
                     st->clip_high};
      for (int c = 0; c < 6; c++)
        if ((rc = push(s, &cc, c, v[c], err)))
          goto cleanup;
      size_t row = s->n_items;
      sized[row] = it->width > 0 && it->height > 0;
      if (sized[row]) {
        if ((rc = push(s, &cc, ES_DRIFT_PIXELS, (double)it->width * it->height, err)) ||
            (rc = push(s, &cc, ES_DRIFT_ASPECT, (double)it->width / it->height, err)))
          goto cleanup;
      }
      lab[row] = UINT32_MAX;
      if (!it->label)
        s->unlabelled += 1;
      else {
        size_t k;
        if ((rc = find_label(s, it->label, &k, err)))
          goto cleanup;
        s->label_counts[k] += 1;
        lab[row] = (uint32_t)k;
      }
      s->n_items++;
      const char *devname = it->n_seen ? it->seen[0].device : NULL;
      int64_t t = ES_INDEX_NO_TIME;
      if (it->n_seen && it->seen[0].time && es_time_seconds(it->seen[0].time, &t))
        t = ES_INDEX_NO_TIME;
      devk[row] = UINT32_MAX;
      if (devname) {
        size_t k;
        if ((rc = device_slot(s, &devmap, &acc, devname, &k, err)) ||
            (rc = device_add(s, acc, k, v, err)))
          goto cleanup;
        devk[row] = (uint32_t)k;
      }
      uin[row] = (unit_in){id_key(it->cluster[0] ? it->cluster : it->id),
                           devname ? devk[row] + 1 : 0, t, (uint32_t)row};
    }
    if (aug)
      continue;
    /* occurrences for the frozen check: every occurrence in the batch (or of a selected item
     * for a split), whichever item it belongs to */
    for (size_t o = 0; o < it->n_seen; o++) {
      const es_occurrence *oc = &it->seen[o];
      int take = sel.by_batch ? (oc->batch && !strcmp(oc->batch, sel.name)) : in;
      if (!take || !oc->device)
        continue;
      size_t k;
      if ((rc = device_slot(s, &devmap, &acc, oc->device, &k, err)))
        goto cleanup;
      if ((rc = grow((void **)&occs, &cap_occ, n_occ + 1, sizeof *occs, err)))
        goto cleanup;
      occs[n_occ++] = (occ){oc->time, oc->path, i, k};
    }
  }
  for (size_t d = 0; d < s->n_dev; d++)
    s->dev[d].frozen_checked = 1;
  if (n_occ)
    qsort(occs, n_occ, sizeof *occs, cmp_occ);
  for (size_t a = 0; a < n_occ;) {
    size_t b = a + 1;
    while (b < n_occ && occs[b].dev == occs[a].dev && occs[b].item == occs[a].item)
      b++;
    es_drift_device *d = &s->dev[occs[a].dev];
    d->occurrences += b - a;
    if (b - a > d->frozen_run) {
      d->frozen_run = b - a;
      memcpy(d->frozen_item, m->items[occs[a].item].id, ES_ID_HEX + 1);
    }
    a = b;
  }
  if ((rc = assign_units(s, uin, s->n_items, u, err)) ||
      (rc = sample_deffs(s, sized, lab, devk, err)))
    goto cleanup;
  rc = es_drift_sample_prepare(s, jobs, err);
cleanup:
  free(occs);
  free(acc);
  free(uin);
  free(sized);
  free(lab);
  free(devk);
  es_strmap_free(&devmap);
  if (rc)
    es_drift_sample_free(s);
  return rc;
}

/* ---- from the binary index -------------------------------------------------------------- */

int es_drift_sample_from_index(const es_index *ix, const char *spec,
                               const es_drift_unit_rule *u, int jobs, es_drift_sample *s,
                               es_error *err)
{
  selection sel;
  memset(s, 0, sizeof *s);
  int rc = parse_spec(spec, &sel, err);
  if (rc)
    return rc;
  size_t *lab = NULL, *devk = NULL, *dcount = NULL, *lcount = NULL;
  unit_in *uin = NULL;
  uint8_t *sized = NULL;
  uint32_t *rlab = NULL, *rdev = NULL;
  if (!(s->spec = strdup(spec))) {
    rc = es_error_set(err, ES_ENOMEM, "out of memory");
    goto cleanup;
  }
  uint32_t want = ES_INDEX_NONE;
  for (size_t k = 0; k < ix->n_strs; k++)
    if (!strcmp(ix->strs[k], sel.name)) {
      want = (uint32_t)k;
      break;
    }
  size_t ns = ix->n_strs ? ix->n_strs : 1;
  lcount = calloc(ns, sizeof *lcount);
  dcount = calloc(ns, sizeof *dcount);
  lab = malloc(ns * sizeof *lab);
  devk = malloc(ns * sizeof *devk);
  if (!lcount || !dcount || !lab || !devk) {
    rc = es_error_set(err, ES_ENOMEM, "out of memory");
    goto cleanup;
  }
  /* pass 1: sizes, so that every array is allocated once */
  size_t n = 0, unl = 0;
  for (size_t i = 0; i < ix->n && want != ES_INDEX_NONE; i++) {
    const es_index_item *it = &ix->items[i];
    if ((sel.by_batch ? it->batch : it->split) != want)
      continue;
    if (it->derived_from != ES_INDEX_NONE) {
      s->n_augmented_skipped++;
      continue;
    }
    n++;
    if (it->label == ES_INDEX_NONE)
      unl++;
    else
      lcount[it->label]++;
    if (it->device != ES_INDEX_NONE)
      dcount[it->device]++;
  }
  for (int c = 0; c < 6; c++)
    if (n && !(s->col[c] = malloc(n * sizeof(double)))) {
      rc = es_error_set(err, ES_ENOMEM, "out of memory");
      goto cleanup;
    }
  for (size_t k = 0; k < ix->n_strs; k++) {
    if (lcount[k]) {
      if ((rc = find_label(s, ix->strs[k], &lab[k], err)))
        goto cleanup;
      s->label_counts[lab[k]] = (double)lcount[k];
    }
    if (dcount[k]) {
      if ((rc = grow((void **)&s->dev, &s->cap_dev, s->n_dev + 1, sizeof *s->dev, err)))
        goto cleanup;
      es_drift_device *d = &s->dev[s->n_dev];
      memset(d, 0, sizeof *d);
      d->name = strdup(ix->strs[k]);
      d->sharpness = malloc(dcount[k] * sizeof(double));
      d->brightness = malloc(dcount[k] * sizeof(double));
      devk[k] = s->n_dev++;
      if (!d->name || !d->sharpness || !d->brightness) {
        rc = es_error_set(err, ES_ENOMEM, "out of memory");
        goto cleanup;
      }
    }
  }
  s->unlabelled = (double)unl;
  s->n_items = n;
  uin = malloc((n ? n : 1) * sizeof *uin);
  sized = calloc(n ? n : 1, 1); /* the index has no sizes */
  rlab = malloc((n ? n : 1) * sizeof *rlab);
  rdev = malloc((n ? n : 1) * sizeof *rdev);
  if (!uin || !sized || !rlab || !rdev) {
    rc = es_error_set(err, ES_ENOMEM, "out of memory");
    goto cleanup;
  }
  size_t row = 0;
  for (size_t i = 0; i < ix->n && want != ES_INDEX_NONE; i++) {
    const es_index_item *it = &ix->items[i];
    if ((sel.by_batch ? it->batch : it->split) != want || it->derived_from != ES_INDEX_NONE)
      continue;
    for (int c = 0; c < 6; c++)
      s->col[c][s->n[c]++] = it->stats[c];
    rlab[row] = it->label == ES_INDEX_NONE ? UINT32_MAX : (uint32_t)lab[it->label];
    rdev[row] = it->device == ES_INDEX_NONE ? UINT32_MAX : (uint32_t)devk[it->device];
    uin[row] = (unit_in){it->cluster != ES_INDEX_NONE ? it->cluster : i,
                         it->device == ES_INDEX_NONE ? 0 : (uint64_t)it->device + 1, it->time,
                         (uint32_t)row};
    row++;
    if (it->device != ES_INDEX_NONE) {
      es_drift_device *d = &s->dev[devk[it->device]];
      d->sharpness[d->n] = it->stats[2];
      d->brightness[d->n] = it->stats[0];
      if (it->stats[4] > ES_DRIFT_CLIPPED_FRAME || it->stats[5] > ES_DRIFT_CLIPPED_FRAME)
        d->clipped += 1;
      d->n++;
      d->n_sample = d->n;
    }
  }
  if ((rc = assign_units(s, uin, n, u, err)) || (rc = sample_deffs(s, sized, rlab, rdev, err)))
    goto cleanup;
  rc = es_drift_sample_prepare(s, jobs, err);
cleanup:
  free(uin);
  free(sized);
  free(rlab);
  free(rdev);
  free(lab);
  free(devk);
  free(dcount);
  free(lcount);
  if (rc)
    es_drift_sample_free(s);
  return rc;
}
