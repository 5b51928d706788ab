/* Assigning splits (split.h).
 *
 * 1. Groups: a union-find over items joins each item with its cluster representative and its
 *    augmentation source, and, with --group-by device or burst:S, with the items of the same
 *    device (or the same burst: consecutive captures of one device less than S seconds apart).
 * 2. Contacts: for every unassigned item, which splits hold an assigned item within the
 *    near-duplicate radius (one near index per split). A component's contacts are those plus
 *    the splits of its assigned members.
 * 3. A component with contacts in two splits has its unassigned items excluded (split null, a
 *    note says why); with one, they join that split; with none it is fresh.
 * 4. Fresh components are dealt out greedily, largest first, ties in an order drawn from the
 *    seed: each goes to the ratio split whose per-class counts are furthest below their targets
 *    (share x class total), which for single items is exact rounding.
 * 5. Near pairs between fresh components (two items within the radius in different clusters)
 *    that ended up in train/val and a held-out set are resolved by moving the fresh component
 *    into the held-out set (a few rounds; what still conflicts is excluded).
 * Only sequential code decides; the parallel loops fill per-item arrays, so the result does not
 * depend on --jobs. Items are visited by index, i.e. by id, so neither does the input order. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#include "core/json.h"
#include "core/near_index.h"
#include "split/split.h"
#include "split/split_internal.h"

#define NONE ES_INDEX_NONE

int es_split_is_held_out(const char *name)
{
  return es_held_out(name);
}

static int valid_split_name(const char *s, size_t n)
{
  if (n == 0 || n >= ES_SPLIT_NAME_MAX)
    return 0;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
          (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
      return 0;
  return (n == 5 && !memcmp(s, "train", 5)) || (n == 3 && !memcmp(s, "val", 3)) ||
         (n >= 4 && !memcmp(s, "test", 4));
}

int es_split_ratios_parse(const char *s, es_split_ratios *r, es_error *err)
{
  memset(r, 0, sizeof *r);
  static const char *const defaults[] = {"train", "val", "test"};
  int named = strchr(s, '=') != NULL;
  const char *p = s;
  double sum = 0;
  while (*p) {
    if (r->n == ES_SPLIT_MAX)
      return es_error_set(err, ES_EUSAGE, "--ratios '%s': at most %d splits", s, ES_SPLIT_MAX);
    const char *end = p + strcspn(p, named ? "," : ":");
    const char *num = p;
    if (named) {
      const char *eq = memchr(p, '=', (size_t)(end - p));
      if (!eq || !valid_split_name(p, (size_t)(eq - p)))
        return es_error_set(err, ES_EUSAGE,
                            "--ratios '%s': '%.*s' is not NAME=SHARE with NAME train, val or "
                            "test...",
                            s, (int)(end - p), p);
      memcpy(r->name[r->n], p, (size_t)(eq - p));
      num = eq + 1;
    } else {
      if (r->n >= 3)
        return es_error_set(err, ES_EUSAGE,
                            "--ratios '%s': more than three shares need names "
                            "(train=80,val=10,test=5,test2=5)",
                            s);
      strcpy(r->name[r->n], defaults[r->n]);
    }
    char *e = NULL;
    double v = strtod(num, &e);
    if (num == end || e != end || !(v >= 0) || v > 1e9 || *num == '-' || *num == '+')
      return es_error_set(err, ES_EUSAGE, "--ratios '%s': '%.*s' is not a share", s,
                          (int)(end - num), num);
    for (size_t k = 0; k < r->n; k++)
      if (!strcmp(r->name[k], r->name[r->n]))
        return es_error_set(err, ES_EUSAGE, "--ratios '%s': '%s' given twice", s, r->name[k]);
    r->share[r->n++] = v;
    sum += v;
    p = *end ? end + 1 : end;
    if (*end && !*p)
      return es_error_set(err, ES_EUSAGE, "--ratios '%s': trailing separator", s);
  }
  if (r->n < 1 || !(sum > 0))
    return es_error_set(err, ES_EUSAGE, "--ratios '%s': give at least one positive share", s);
  for (size_t k = 0; k < r->n; k++)
    r->share[k] /= sum;
  return ES_OK;
}

int es_group_by_parse(const char *s, es_group_by *g, es_error *err)
{
  memset(g, 0, sizeof *g);
  if (!strcmp(s, "cluster")) {
    g->kind = ES_GROUP_CLUSTER;
    return ES_OK;
  }
  if (!strcmp(s, "device")) {
    g->kind = ES_GROUP_DEVICE;
    return ES_OK;
  }
  if (!strncmp(s, "burst:", 6)) {
    char *e = NULL;
    long long v = strtoll(s + 6, &e, 10);
    if (s[6] >= '0' && s[6] <= '9' && !*e && v >= 1 && v <= 1000000000) {
      g->kind = ES_GROUP_BURST;
      g->burst_seconds = v;
      return ES_OK;
    }
  }
  return es_error_set(err, ES_EUSAGE,
                      "--group-by '%s': expected cluster, device or burst:SECONDS (1 to 10^9)", s);
}

/* ---- union-find ---- */

static uint32_t uf_find(uint32_t *p, uint32_t x)
{
  while (p[x] != x) {
    p[x] = p[p[x]];
    x = p[x];
  }
  return x;
}

static void uf_union(uint32_t *p, uint32_t a, uint32_t b)
{
  a = uf_find(p, a);
  b = uf_find(p, b);
  if (a == b)
    return;
  if (a < b) /* the smaller item number is the root: roots are deterministic */
    p[b] = a;
  else
    p[a] = b;
}

typedef struct by_time {
  uint32_t device;
  int64_t time;
  uint32_t item;
} by_time;

static int cmp_by_time(const void *a, const void *b)
{
  const by_time *x = a, *y = b;
  if (x->device != y->device)
    return x->device < y->device ? -1 : 1;
  if (x->time != y->time)
    return x->time < y->time ? -1 : 1;
  return (x->item > y->item) - (x->item < y->item);
}

/* ---- the run ---- */

typedef struct comp_order {
  uint32_t comp, size;
  uint64_t key; /* seeded hash */
} comp_order;

static int cmp_comp_order(const void *a, const void *b)
{
  const comp_order *x = a, *y = b;
  if (x->size != y->size)
    return x->size > y->size ? -1 : 1;
  if (x->key != y->key)
    return x->key < y->key ? -1 : 1;
  return (x->comp > y->comp) - (x->comp < y->comp);
}

typedef struct run {
  es_index *ix;
  const es_split_opts *o;
  size_t n;
  uint32_t *parent;
  uint32_t *comp_of;          /* item -> component */
  uint32_t *start, *members;  /* CSR: members of component c are members[start[c]..start[c+1]) */
  size_t ncomp;
  /* splits known to the run: ratio splits first, then others seen in the index */
  uint32_t split_str[64];     /* split number -> string number */
  size_t nsplit;
  int split_of_str_cap;
  uint32_t *split_num;        /* string number -> split number + 1 (0 = not a split) */
  uint64_t *touch;            /* item -> bitmask of splits within the radius */
  uint32_t *cls;              /* item -> class number (label; unlabelled = last class) */
  size_t ncls;
  uint8_t *fresh_comp;        /* component dealt out in this run */
  int32_t *comp_split;        /* component -> split number, -1 none, -2 excluded */
  uint32_t *comp_name;        /* component -> group string */
} run;

static int split_number(run *R, uint32_t str, es_error *err)
{
  if (R->split_num[str])
    return (int)R->split_num[str] - 1;
  if (R->nsplit == 64) {
    es_error_set(err, ES_ELIMIT, "more than 64 different splits in the dataset");
    return -1;
  }
  R->split_str[R->nsplit] = str;
  R->split_num[str] = (uint32_t)++R->nsplit;
  return (int)R->nsplit - 1;
}

static uint64_t bit(int s)
{
  return (uint64_t)1 << s;
}

typedef struct related_any {
  const es_split_near *near;
  const es_index *ix;
  size_t item;
  int found;
} related_any;

static void on_candidate(void *ctx, uint32_t ref, unsigned dist)
{
  (void)dist;
  related_any *r = ctx;
  if (!r->found && es_split_related(r->near, r->ix, r->item, ref))
    r->found = 1;
}

/* For each item i with want[i], the mask of splits whose index (over items with the split
 * and in_index[i]) has an item related to i. */
static int near_contacts(run *R, const uint8_t *in_index, const uint8_t *want, uint64_t *mask,
                         es_error *err)
{
  const es_index *ix = R->ix;
  int rc = ES_OK;
  for (size_t s = 0; s < R->nsplit && rc == ES_OK; s++) {
    es_near_index *idx = es_near_index_new(R->o->near.rel.radius, err);
    if (!idx)
      return err ? err->code : ES_ENOMEM;
    size_t count = 0;
    for (size_t i = 0; i < R->n && rc == ES_OK; i++)
      if (in_index[i] && ix->items[i].split == R->split_str[s]) {
        rc = es_near_index_add(idx, ix->items[i].phash, (uint32_t)i, err);
        count++;
      }
    if (rc == ES_OK && count) {
      long long n = (long long)R->n;
#pragma omp parallel for schedule(dynamic, 1024) num_threads(R->o->jobs > 0 ? R->o->jobs : 1)
      for (long long i = 0; i < n; i++) {
        if (!want[i])
          continue;
        related_any r = {&R->o->near, ix, (size_t)i, 0};
        if (R->o->near.sigs)
          es_near_index_within(idx, ix->items[i].phash, on_candidate, &r);
        else
          r.found = es_near_index_nearest(idx, ix->items[i].phash, NULL, NULL, NULL);
        if (r.found)
          mask[i] |= bit((int)s);
      }
    }
    es_near_index_free(idx);
  }
  return rc;
}

static int build_components(run *R, es_error *err)
{
  es_index *ix = R->ix;
  size_t n = R->n;
  int rc = ES_OK;
  for (size_t i = 0; i < n; i++)
    R->parent[i] = (uint32_t)i;
  for (size_t i = 0; i < n; i++) {
    const es_index_item *x = &ix->items[i];
    if (x->cluster != NONE)
      uf_union(R->parent, (uint32_t)i, x->cluster);
    if (x->derived_from != NONE)
      uf_union(R->parent, (uint32_t)i, x->derived_from);
  }
  if (R->o->group_by.kind == ES_GROUP_DEVICE) {
    uint32_t *first = malloc((ix->n_strs ? ix->n_strs : 1) * sizeof *first);
    if (!first)
      return es_error_set(err, ES_ENOMEM, "out of memory");
    for (size_t s = 0; s < ix->n_strs; s++)
      first[s] = NONE;
    for (size_t i = 0; i < n; i++) {
      uint32_t d = ix->items[i].device;
      if (d == NONE)
        continue;
      if (first[d] == NONE)
        first[d] = (uint32_t)i;
      else
        uf_union(R->parent, first[d], (uint32_t)i);
    }
    free(first);
  } else if (R->o->group_by.kind == ES_GROUP_BURST) {
    by_time *v = malloc((n ? n : 1) * sizeof *v);
    if (!v)
      return es_error_set(err, ES_ENOMEM, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
      if (ix->items[i].device != NONE && ix->items[i].time != ES_INDEX_NO_TIME)
        v[k++] = (by_time){ix->items[i].device, ix->items[i].time, (uint32_t)i};
    qsort(v, k, sizeof *v, cmp_by_time);
    for (size_t j = 1; j < k; j++)
      if (v[j].device == v[j - 1].device &&
          v[j].time - v[j - 1].time < R->o->group_by.burst_seconds)
        uf_union(R->parent, v[j - 1].item, v[j].item);
    free(v);
  }
  /* components numbered in the order of their smallest item */
  R->ncomp = 0;
  for (size_t i = 0; i < n; i++) {
    uint32_t r = uf_find(R->parent, (uint32_t)i);
    if (r == i)
      R->comp_of[i] = (uint32_t)R->ncomp++;
    else
      R->comp_of[i] = R->comp_of[r]; /* r < i: already numbered */
  }
  R->start = calloc(R->ncomp + 1, sizeof *R->start);
  R->members = malloc((n ? n : 1) * sizeof *R->members);
  if (!R->start || !R->members)
    return es_error_set(err, ES_ENOMEM, "out of memory");
  for (size_t i = 0; i < n; i++)
    R->start[R->comp_of[i] + 1]++;
  for (size_t c = 0; c < R->ncomp; c++)
    R->start[c + 1] += R->start[c];
  uint32_t *fill = malloc((R->ncomp ? R->ncomp : 1) * sizeof *fill);
  if (!fill)
    return es_error_set(err, ES_ENOMEM, "out of memory");
  memcpy(fill, R->start, R->ncomp * sizeof *fill);
  for (size_t i = 0; i < n; i++)
    R->members[fill[R->comp_of[i]]++] = (uint32_t)i;
  free(fill);
  return rc;
}

/* The group name of an item under the --group-by rule, before components are merged. */
static int item_key(run *R, size_t i, const uint32_t *burst_first, uint32_t *out, es_error *err)
{
  es_index *ix = R->ix;
  const es_index_item *x = &ix->items[i];
  char buf[512];
  if (R->o->group_by.kind != ES_GROUP_CLUSTER && x->device != NONE &&
      (R->o->group_by.kind == ES_GROUP_DEVICE || x->time != ES_INDEX_NO_TIME)) {
    const char *dev = ix->strs[x->device];
    if (R->o->group_by.kind == ES_GROUP_DEVICE) {
      snprintf(buf, sizeof buf, "device:%s", dev);
    } else {
      time_t t = (time_t)ix->items[burst_first[i]].time;
      struct tm tm;
      gmtime_r(&t, &tm);
      snprintf(buf, sizeof buf, "burst:%s@%04d-%02d-%02dT%02d:%02d:%02dZ", dev,
               tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    }
  } else {
    char id[33];
    es_index_id_hex(ix, x->cluster != NONE ? x->cluster : i, id);
    snprintf(buf, sizeof buf, "cluster:%s", id);
  }
  return es_index_intern(ix, buf, out, err);
}

/* burst_first[i]: the first item of i's burst (by time) when grouping by burst. */
static int burst_firsts(run *R, uint32_t *bf, es_error *err)
{
  es_index *ix = R->ix;
  size_t n = R->n, k = 0;
  for (size_t i = 0; i < n; i++)
    bf[i] = (uint32_t)i;
  if (R->o->group_by.kind != ES_GROUP_BURST)
    return ES_OK;
  by_time *v = malloc((n ? n : 1) * sizeof *v);
  if (!v)
    return es_error_set(err, ES_ENOMEM, "out of memory");
  for (size_t i = 0; i < n; i++)
    if (ix->items[i].device != NONE && ix->items[i].time != ES_INDEX_NO_TIME)
      v[k++] = (by_time){ix->items[i].device, ix->items[i].time, (uint32_t)i};
  qsort(v, k, sizeof *v, cmp_by_time);
  for (size_t j = 0; j < k; j++)
    bf[v[j].item] = j > 0 && v[j].device == v[j - 1].device &&
                            v[j].time - v[j - 1].time < R->o->group_by.burst_seconds
                        ? bf[v[j - 1].item]
                        : v[j].item;
  free(v);
  return ES_OK;
}

static void free_run(run *R)
{
  free(R->parent);
  free(R->comp_of);
  free(R->start);
  free(R->members);
  free(R->split_num);
  free(R->touch);
  free(R->cls);
  free(R->fresh_comp);
  free(R->comp_split);
  free(R->comp_name);
}

static int excluded_note(run *R, uint64_t mask, uint32_t *out, es_error *err)
{
  char buf[1024];
  size_t k = (size_t)snprintf(buf, sizeof buf, "near-duplicate or group of items in splits ");
  int first = 1;
  for (size_t s = 0; s < R->nsplit && k < sizeof buf - 64; s++)
    if (mask & bit((int)s)) {
      k += (size_t)snprintf(buf + k, sizeof buf - k, "%s%s", first ? "" : " and ",
                            R->ix->strs[R->split_str[s]]);
      first = 0;
    }
  return es_index_intern(R->ix, buf, out, err);
}

json_t *es_split_assign(es_index *ix, const es_split_opts *o, es_error *err)
{
  run R = {.ix = ix, .o = o, .n = ix->n};
  json_t *out = NULL;
  size_t n = ix->n;
  int rc = ES_OK;
  size_t already = 0, joined = 0, excluded = 0, assigned = 0, moved = 0;
  uint8_t *want = NULL, *in_index = NULL;
  uint32_t *bf = NULL;
  double *target = NULL, *cur = NULL;
  comp_order *ord = NULL;

  R.parent = malloc((n ? n : 1) * sizeof *R.parent);
  R.comp_of = malloc((n ? n : 1) * sizeof *R.comp_of);
  R.touch = calloc(n ? n : 1, sizeof *R.touch);
  R.cls = malloc((n ? n : 1) * sizeof *R.cls);
  want = calloc(n ? n : 1, 1);
  in_index = calloc(n ? n : 1, 1);
  bf = malloc((n ? n : 1) * sizeof *bf);
  if (!R.parent || !R.comp_of || !R.touch || !R.cls || !want || !in_index || !bf)
    goto nomem;
  /* split numbers: ratio splits first, then the others the index holds */
  for (size_t k = 0; k < o->ratios.n; k++) {
    uint32_t s;
    if ((rc = es_index_intern(ix, o->ratios.name[k], &s, err)))
      goto fail;
  }
  R.split_num = calloc(ix->n_strs + 1, sizeof *R.split_num);
  if (!R.split_num)
    goto nomem;
  for (size_t k = 0; k < o->ratios.n; k++) {
    size_t s;
    es_strmap_get(&ix->str_of, o->ratios.name[k], &s);
    if (split_number(&R, (uint32_t)s, err) < 0)
      goto fail_code;
  }
  for (size_t i = 0; i < n; i++) {
    /* an item without a split is (re)decided; an old exclusion note is decided again */
    if (ix->items[i].split != NONE) {
      if (split_number(&R, ix->items[i].split, err) < 0)
        goto fail_code;
      already++;
    }
  }
  /* classes: label string numbers in first-seen order, unlabelled last */
  {
    uint32_t *cls_of = malloc((ix->n_strs + 1) * sizeof *cls_of);
    if (!cls_of)
      goto nomem;
    for (size_t s = 0; s <= ix->n_strs; s++)
      cls_of[s] = NONE;
    R.ncls = 0;
    for (size_t i = 0; i < n; i++) {
      uint32_t l = ix->items[i].label == NONE ? (uint32_t)ix->n_strs : ix->items[i].label;
      if (cls_of[l] == NONE)
        cls_of[l] = (uint32_t)R.ncls++;
      R.cls[i] = cls_of[l];
    }
    free(cls_of);
  }

  if ((rc = build_components(&R, err)))
    goto fail;
  if ((rc = burst_firsts(&R, bf, err)))
    goto fail;

  /* 2. contacts of unassigned items with assigned ones */
  for (size_t i = 0; i < n; i++) {
    in_index[i] = ix->items[i].split != NONE;
    want[i] = !in_index[i];
  }
  if (already && (rc = near_contacts(&R, in_index, want, R.touch, err)))
    goto fail;

  /* 3. components: contacts decide, or fresh */
  R.comp_split = malloc((R.ncomp ? R.ncomp : 1) * sizeof *R.comp_split);
  R.comp_name = malloc((R.ncomp ? R.ncomp : 1) * sizeof *R.comp_name);
  R.fresh_comp = calloc(R.ncomp ? R.ncomp : 1, 1);
  uint64_t *comp_mask = calloc(R.ncomp ? R.ncomp : 1, sizeof *comp_mask);
  if (!R.comp_split || !R.comp_name || !R.fresh_comp || !comp_mask) {
    free(comp_mask);
    goto nomem;
  }
  for (size_t c = 0; c < R.ncomp; c++) {
    uint64_t mask = 0;
    size_t unassigned = 0;
    uint32_t pinned_group = NONE;
    for (uint32_t j = R.start[c]; j < R.start[c + 1]; j++) {
      uint32_t i = R.members[j];
      if (ix->items[i].split != NONE) {
        mask |= bit((int)R.split_num[ix->items[i].split] - 1);
        if (pinned_group == NONE)
          pinned_group = ix->items[i].group;
      } else {
        mask |= R.touch[i];
        unassigned++;
      }
    }
    comp_mask[c] = mask;
    R.comp_split[c] = -1;
    R.comp_name[c] = NONE;
    if (!unassigned)
      continue;
    if ((rc = item_key(&R, R.members[R.start[c]], bf, &R.comp_name[c], err))) {
      free(comp_mask);
      goto fail;
    }
    if (pinned_group != NONE)
      R.comp_name[c] = pinned_group;
    int nbits = __builtin_popcountll(mask);
    if (nbits >= 2) {
      R.comp_split[c] = -2;
    } else if (nbits == 1) {
      R.comp_split[c] = __builtin_ctzll(mask);
    } else {
      R.fresh_comp[c] = 1;
    }
  }

  /* 4. deal out fresh components: per class targets over the ratio splits */
  size_t S = o->ratios.n, C = R.ncls;
  if (C && S > SIZE_MAX / C / sizeof(double))
    goto nomem;
  target = calloc(S * C + 1, sizeof *target);
  cur = calloc(S * C + 1, sizeof *cur);
  double *cls_total = calloc(C ? C : 1, sizeof *cls_total);
  if (!target || !cur || !cls_total) {
    free(comp_mask);
    free(cls_total);
    goto nomem;
  }
  for (size_t i = 0; i < n; i++) {
    int s = -1;
    if (ix->items[i].split != NONE)
      s = (int)R.split_num[ix->items[i].split] - 1;
    else if (R.comp_split[R.comp_of[i]] >= 0)
      s = R.comp_split[R.comp_of[i]];
    else if (R.fresh_comp[R.comp_of[i]])
      s = (int)S; /* counts towards the total only */
    if (s < 0 || (size_t)s > S)
      continue;
    cls_total[R.cls[i]] += 1;
    if ((size_t)s < S)
      cur[(size_t)s * C + R.cls[i]] += 1;
  }
  for (size_t s = 0; s < S; s++)
    for (size_t c = 0; c < C; c++)
      target[s * C + c] = o->ratios.share[s] * cls_total[c];
  free(cls_total);
  size_t nfresh = 0;
  ord = malloc((R.ncomp ? R.ncomp : 1) * sizeof *ord);
  if (!ord) {
    free(comp_mask);
    goto nomem;
  }
  for (size_t c = 0; c < R.ncomp; c++)
    if (R.fresh_comp[c]) {
      uint32_t first = R.members[R.start[c]];
      ord[nfresh++] = (comp_order){(uint32_t)c, R.start[c + 1] - R.start[c],
                                   XXH3_64bits_withSeed(ix->items[first].id, 16, o->seed)};
    }
  qsort(ord, nfresh, sizeof *ord, cmp_comp_order);
  for (size_t k = 0; k < nfresh; k++) {
    uint32_t c = ord[k].comp;
    int best = -1;
    double best_cost = 0;
    for (size_t s = 0; s < S; s++) {
      if (o->ratios.share[s] <= 0)
        continue;
      /* increase of the squared distance to the targets if c went to s */
      double cost = 0;
      for (uint32_t j = R.start[c]; j < R.start[c + 1]; j++) {
        size_t cc = R.cls[R.members[j]];
        cost += 2.0 * (cur[s * C + cc] - target[s * C + cc]) + 1.0;
        cur[s * C + cc] += 1; /* members of one class add up */
      }
      for (uint32_t j = R.start[c]; j < R.start[c + 1]; j++)
        cur[s * C + R.cls[R.members[j]]] -= 1;
      if (best < 0 || cost < best_cost) {
        best = (int)s;
        best_cost = cost;
      }
    }
    R.comp_split[c] = best;
    for (uint32_t j = R.start[c]; j < R.start[c + 1]; j++)
      cur[(size_t)best * C + R.cls[R.members[j]]] += 1;
  }

  /* 5. near pairs between components decided in this run: train/val next to held-out. A
   * join over this run's train/val items is asked for the held-out items' neighbours (the
   * smaller set queries the larger), then the items of each component moved into a held-out
   * set ask it in the next round. */
  {
    uint32_t *q = malloc((n ? n : 1) * sizeof *q), *qnext = malloc((n ? n : 1) * sizeof *qnext);
    uint32_t *tv = malloc((n ? n : 1) * sizeof *tv);
    uint64_t *hit = calloc(R.ncomp ? R.ncomp : 1, sizeof *hit);
    uint32_t *touched = malloc((R.ncomp ? R.ncomp : 1) * sizeof *touched);
    es__near_join *join = NULL;
    size_t nq = 0, ntv = 0;
    if (!q || !qnext || !tv || !hit || !touched) {
      free(q);
      free(qnext);
      free(tv);
      free(hit);
      free(touched);
      free(comp_mask);
      goto nomem;
    }
    for (size_t i = 0; i < n; i++) {
      if (ix->items[i].split != NONE)
        continue;
      int s = R.comp_split[R.comp_of[i]];
      if (s < 0)
        continue;
      if (es_split_is_held_out(ix->strs[R.split_str[s]]))
        q[nq++] = (uint32_t)i;
      else
        tv[ntv++] = (uint32_t)i;
    }
    if (nq && ntv && !(join = es__near_join_build(ix, tv, ntv, &o->near, err)))
      rc = err ? err->code : ES_ENOMEM;
    for (int round = 0; rc == ES_OK && nq && ntv; round++) {
      es__near_pair *pairs = NULL;
      size_t np = 0, ntouched = 0, nnext = 0;
      if ((rc = es__near_join_pairs(join, ix, q, nq, o->jobs, &pairs, &np, err)))
        break;
      for (size_t k = 0; k < np; k++) {
        uint32_t c = R.comp_of[pairs[k].ref];
        int hs = R.comp_split[R.comp_of[pairs[k].q]];
        int ts = R.comp_split[c];
        if (hs < 0 || ts < 0 || es_split_is_held_out(ix->strs[R.split_str[ts]]))
          continue;
        if (!hit[c])
          touched[ntouched++] = c;
        hit[c] |= bit(hs);
      }
      free(pairs);
      for (size_t k = 0; k < ntouched; k++) {
        uint32_t c = touched[k];
        if (R.fresh_comp[c] && __builtin_popcountll(hit[c]) == 1 && round < 15) {
          R.comp_split[c] = __builtin_ctzll(hit[c]);
          moved++;
          for (uint32_t j = R.start[c]; j < R.start[c + 1]; j++)
            if (ix->items[R.members[j]].split == NONE)
              qnext[nnext++] = R.members[j];
        } else {
          comp_mask[c] |= hit[c] | bit(R.comp_split[c]);
          R.comp_split[c] = -2;
        }
        hit[c] = 0;
      }
      uint32_t *tmp = q;
      q = qnext;
      qnext = tmp;
      nq = nnext;
    }
    free(q);
    free(qnext);
    free(tv);
    free(hit);
    free(touched);
    es__near_join_free(join);
    if (rc) {
      free(comp_mask);
      goto fail;
    }
  }

  /* 6. write the decisions into the index */
  for (size_t c = 0; c < R.ncomp; c++) {
    int s = R.comp_split[c];
    if (s == -1)
      continue;
    uint32_t note = NONE;
    if (s == -2 && (rc = excluded_note(&R, comp_mask[c], &note, err))) {
      free(comp_mask);
      goto fail;
    }
    for (uint32_t j = R.start[c]; j < R.start[c + 1]; j++) {
      es_index_item *x = &ix->items[R.members[j]];
      if (x->split != NONE)
        continue;
      if (s == -2) {
        x->split_note = note;
        x->group = R.comp_name[c];
        excluded++;
      } else {
        x->split = R.split_str[s];
        x->split_note = NONE;
        x->group = R.comp_name[c];
        assigned++;
        if (!R.fresh_comp[c])
          joined++;
      }
    }
  }
  free(comp_mask);

  /* the achieved ratios, per class over the ratio splits */
  json_t *achieved = json_array();
  double worst = 0;
  {
    memset(cur, 0, S * C * sizeof *cur);
    uint32_t *label_of_cls = malloc((C ? C : 1) * sizeof *label_of_cls);
    if (!label_of_cls) {
      json_decref(achieved);
      goto nomem;
    }
    for (size_t i = 0; i < n; i++)
      label_of_cls[R.cls[i]] = ix->items[i].label;
    for (size_t i = 0; i < n; i++) {
      uint32_t sp = ix->items[i].split;
      if (sp == NONE)
        continue;
      int s = (int)R.split_num[sp] - 1;
      if ((size_t)s < S)
        cur[(size_t)s * C + R.cls[i]] += 1;
    }
    for (size_t c = 0; c < C; c++) {
      double tot = 0;
      for (size_t s = 0; s < S; s++)
        tot += cur[s * C + c];
      json_t *counts = json_object(), *ratios = json_object();
      double err_c = 0;
      for (size_t s = 0; s < S; s++) {
        double r = tot > 0 ? cur[s * C + c] / tot : 0;
        double d = r - o->ratios.share[s];
        d = d < 0 ? -d : d;
        err_c = d > err_c ? d : err_c;
        json_object_set_new(counts, o->ratios.name[s], json_integer((json_int_t)cur[s * C + c]));
        json_object_set_new(ratios, o->ratios.name[s], es_json_real(r));
      }
      if (tot > 0 && err_c > worst)
        worst = err_c;
      const char *lab = es_index_str(ix, label_of_cls[c]);
      json_array_append_new(achieved, json_pack("{s:o, s:I, s:o, s:o, s:o}", "label",
                                                lab ? json_string(lab) : json_null(), "total",
                                                (json_int_t)tot, "counts", counts, "ratios",
                                                ratios, "max_error", es_json_real(err_c)));
    }
    free(label_of_cls);
  }
  json_t *rat = json_object();
  for (size_t s = 0; s < S; s++)
    json_object_set_new(rat, o->ratios.name[s], es_json_real(o->ratios.share[s]));
  char gb[64];
  if (o->group_by.kind == ES_GROUP_BURST)
    snprintf(gb, sizeof gb, "burst:%lld", (long long)o->group_by.burst_seconds);
  else
    snprintf(gb, sizeof gb, "%s", o->group_by.kind == ES_GROUP_DEVICE ? "device" : "cluster");
  out = json_pack("{s:I, s:o, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o}", "seed",
                  (json_int_t)o->seed, "ratios", rat, "group_by", gb, "items", (json_int_t)n,
                  "already_assigned", (json_int_t)already, "assigned",
                  (json_int_t)assigned, "joined_groups",
                  (json_int_t)joined, "excluded", (json_int_t)excluded, "groups",
                  (json_int_t)R.ncomp, "moved_for_leaks", (json_int_t)moved, "achieved",
                  achieved, "max_ratio_error", es_json_real(worst));
  if (!out)
    goto nomem;
  goto cleanup;

nomem:
  es_error_set(err, ES_ENOMEM, "out of memory assigning splits");
  goto cleanup;
fail_code:
fail:
cleanup:
  free(want);
  free(in_index);
  free(bf);
  free(target);
  free(cur);
  free(ord);
  free_run(&R);
  return out;
}

size_t es_split_release(es_index *ix, const char *name)
{
  size_t v, n = 0;
  if (!es_strmap_get(&ix->str_of, name, &v))
    return 0;
  for (size_t i = 0; i < ix->n; i++)
    if (ix->items[i].split == v) {
      ix->items[i].split = NONE;
      ix->items[i].split_note = NONE;
      n++;
    }
  return n;
}

static int set_str(char **dst, const char *src, es_error *err)
{
  if ((!*dst && !src) || (*dst && src && !strcmp(*dst, src)))
    return 0;
  char *c = NULL;
  if (src && !(c = strdup(src)))
    return es_error_set(err, ES_ENOMEM, "out of memory");
  free(*dst);
  *dst = c;
  return 1;
}

long es_split_apply(const es_index *ix, es_manifest *m, es_error *err)
{
  if (m->n != ix->n)
    return es_error_set(err, ES_EINTERNAL, "index and manifest differ in size");
  long changed = 0;
  for (size_t i = 0; i < m->n; i++) {
    es_item *it = &m->items[i];
    const es_index_item *x = &ix->items[i];
    int a = set_str(&it->split, es_index_str(ix, x->split), err);
    int b = set_str(&it->split_note, es_index_str(ix, x->split_note), err);
    int c = set_str(&it->group, es_index_str(ix, x->group), err);
    if (a < 0 || b < 0 || c < 0)
      return ES_ENOMEM;
    changed += a || b || c;
  }
  return changed;
}
