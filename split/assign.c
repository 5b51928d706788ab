/* Assigning splits (split.h).
 *
 * 1. Groups: a union-find over items joins each item with its cluster representative and its
 *    augmentation source, and, with --group-by device or burst:S, with the items of the same
 *    device (or the same burst: consecutive captures of one device less than S seconds apart).
 * 2. Contacts: for every unassigned item, which splits hold an assigned item related to it
 *    (one near index per split).
 * 3. Each component with unassigned items gets the splits it may go to: the split of its
 *    assigned members, the held-out set an item is near, no held-out set when an item is near
 *    train or val; none left (or two pinned splits) excludes it.
 * 4. Components are dealt out greedily, pinned ones first, then the largest first with ties in
 *    an order drawn from the seed: each goes to the allowed ratio split that brings every
 *    class's counts closest to its targets (share x class total); for single items this is
 *    exact rounding.
 * 5. Near pairs between this run's train/val and held-out items join their components, which
 *    are placed again whole, until none is left (resolve_near); when that leaves a class off
 *    its shares, everything is dealt again knowing the joined components.
 * 6. A class still further from its shares than allowed is reported (ratio_misses); the
 *    command line then commits nothing.
 * Only sequential code decides; the parallel loops fill per-item arrays, so the result does not
 * depend on --jobs. Items are visited by index, i.e. by id, so neither does the input order. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#include "core/json.h"
#include "core/near_index.h"
#include "core/unionfind.h"
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
  uint32_t *split_num;        /* string number -> split number + 1 (0 = not a split) */
  uint64_t held;              /* bits of the held-out splits */
  uint64_t dealable;          /* bits of the ratio splits with a positive share */
  uint64_t *touch;            /* item -> bitmask of splits with an assigned item related to it */
  const uint8_t *is_new;      /* item -> unassigned when the run started */
  uint32_t *cls;              /* item -> class number (label; unlabelled = last class) */
  size_t ncls;
  uint32_t *comp_name;        /* component -> group string */
  /* components with unassigned items are linked into roots (a union-find over components):
   * the near links found between this run's components join them, and a root goes to one
   * split. Per component: */
  int32_t *place;             /* split of its unassigned items: -1 none, -2 excluded */
  uint32_t *cpar, *cnext;     /* root union-find; next component of the same root or NONE */
  /* per root (valid at roots only): */
  uint32_t *ctail, *usize;    /* last component of the list; unassigned items */
  uint64_t *allow;            /* splits it may go to (0: excluded) */
  int32_t *forced;            /* the split its assigned members or held-out neighbours pin */
  uint64_t *note;             /* splits an exclusion note names */
  /* per class and ratio split: items counted so far, and the targets */
  double *cur, *target;
  size_t S, C;
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
      es_uf_union(R->parent, (uint32_t)i, x->cluster);
    if (x->derived_from != NONE)
      es_uf_union(R->parent, (uint32_t)i, x->derived_from);
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
        es_uf_union(R->parent, first[d], (uint32_t)i);
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
        es_uf_union(R->parent, v[j - 1].item, v[j].item);
    free(v);
  }
  /* components numbered in the order of their smallest item */
  R->ncomp = 0;
  for (size_t i = 0; i < n; i++) {
    uint32_t r = es_uf_find(R->parent, (uint32_t)i);
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
  free(R->comp_name);
  free(R->place);
  free(R->cpar);
  free(R->cnext);
  free(R->ctail);
  free(R->usize);
  free(R->allow);
  free(R->forced);
  free(R->note);
  free(R->cur);
  free(R->target);
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

/* ---- roots: components linked by near pairs found between them ---- */

static uint32_t root_of(run *R, uint32_t c)
{
  return es_uf_find(R->cpar, c);
}

static int is_unassigned(const run *R, uint32_t i)
{
  return R->ix->items[i].split == NONE;
}

/* Adds (sign 1) or removes (-1) the unassigned items of root r's components to the counts of
 * the splits they are placed in. */
static void count_root(run *R, uint32_t r, double sign)
{
  for (uint32_t c = r; c != NONE; c = R->cnext[c]) {
    int s = R->place[c];
    if (s < 0 || (size_t)s >= R->S)
      continue;
    for (uint32_t j = R->start[c]; j < R->start[c + 1]; j++)
      if (is_unassigned(R, R->members[j]))
        R->cur[(size_t)s * R->C + R->cls[R->members[j]]] += sign;
  }
}

/* The ratio split root r may go to that brings every class's counts closest to its targets
 * (the smallest increase of the squared distance), or -1 when it may go to none. */
static int best_split(run *R, uint32_t r)
{
  int best = -1;
  double best_cost = 0;
  size_t C = R->C;
  for (size_t s = 0; s < R->S; s++) {
    if (!(R->allow[r] & R->dealable & bit((int)s)))
      continue;
    double cost = 0, *cur = R->cur + s * C, *target = R->target + s * C;
    for (uint32_t c = r; c != NONE; c = R->cnext[c])
      for (uint32_t j = R->start[c]; j < R->start[c + 1]; j++)
        if (is_unassigned(R, R->members[j])) {
          size_t k = R->cls[R->members[j]];
          cost += 2.0 * (cur[k] - target[k]) + 1.0;
          cur[k] += 1; /* members of one class add up */
        }
    for (uint32_t c = r; c != NONE; c = R->cnext[c])
      for (uint32_t j = R->start[c]; j < R->start[c + 1]; j++)
        if (is_unassigned(R, R->members[j]))
          cur[R->cls[R->members[j]]] -= 1;
    if (best < 0 || cost < best_cost) {
      best = (int)s;
      best_cost = cost;
    }
  }
  return best;
}

/* Places root r (whose items are not counted): its forced split, else the best one, else
 * excluded. The unassigned items of components that change to a split are appended to
 * moved (when not NULL). */
static void place_root(run *R, uint32_t r, uint32_t *moved, size_t *nmoved)
{
  int s = -2;
  if (R->allow[r])
    s = R->forced[r] >= 0 ? R->forced[r] : best_split(R, r);
  if (s == -1)
    s = -2;
  for (uint32_t c = r; c != NONE; c = R->cnext[c]) {
    if (R->place[c] >= 0)
      R->note[r] |= bit(R->place[c]);
    if (R->place[c] != s && s >= 0 && moved)
      for (uint32_t j = R->start[c]; j < R->start[c + 1]; j++)
        if (is_unassigned(R, R->members[j]))
          moved[(*nmoved)++] = R->members[j];
    R->place[c] = s;
  }
  count_root(R, r, 1);
}

/* Joins the roots of components a and b; returns the new root. The joined root may go only
 * where both may; two different pinned splits exclude it. */
static uint32_t join_roots(run *R, uint32_t a, uint32_t b)
{
  a = root_of(R, a);
  b = root_of(R, b);
  if (a == b)
    return a;
  uint32_t r = a < b ? a : b, o = a < b ? b : a;
  R->cpar[o] = r;
  R->cnext[R->ctail[r]] = o;
  R->ctail[r] = R->ctail[o];
  R->usize[r] += R->usize[o];
  R->note[r] |= R->note[o];
  R->allow[r] &= R->allow[o];
  if (R->forced[r] < 0)
    R->forced[r] = R->forced[o];
  else if (R->forced[o] >= 0 && R->forced[o] != R->forced[r])
    R->allow[r] = 0;
  if (R->forced[r] >= 0 && !(R->allow[r] & bit(R->forced[r])))
    R->allow[r] = 0;
  return r;
}

static uint64_t root_key(const run *R, uint32_t r)
{
  return XXH3_64bits_withSeed(R->ix->items[R->members[R->start[r]]].id, 16, R->o->seed);
}

/* Places the roots ord[0..n) in turn: the largest first, ties in the seed's order. */
static void deal(run *R, comp_order *ord, size_t n, uint32_t *moved, size_t *nmoved)
{
  for (size_t k = 0; k < n; k++)
    ord[k] = (comp_order){ord[k].comp, R->usize[ord[k].comp], root_key(R, ord[k].comp)};
  qsort(ord, n, sizeof *ord, cmp_comp_order);
  for (size_t k = 0; k < n; k++)
    place_root(R, ord[k].comp, moved, nmoved);
}

/* Deals out every root of the run afresh: the pinned ones (and the excluded) first, then the
 * others, the largest first. */
static void deal_all(run *R, comp_order *ord)
{
  size_t nfree = 0;
  for (size_t c = 0; c < R->ncomp; c++)
    if (R->usize[c] && root_of(R, (uint32_t)c) == c)
      count_root(R, (uint32_t)c, -1);
  for (size_t c = 0; c < R->ncomp; c++) {
    if (!R->usize[c] || root_of(R, (uint32_t)c) != c)
      continue;
    if (R->forced[c] >= 0 || !R->allow[c])
      place_root(R, (uint32_t)c, NULL, NULL);
    else
      ord[nfree++].comp = (uint32_t)c;
  }
  deal(R, ord, nfree, NULL, NULL);
}

/* How far a class of tot assigned items may miss its shares: --max-ratio-error, or one item
 * of rounding when that is more. */
static double class_tolerance(const run *R, double tot)
{
  double tol = R->o->max_ratio_error;
  return tot > 0 && 1.0 / tot > tol ? 1.0 / tot : tol;
}

/* The largest distance of class k's shares (over the ratio splits) from the targets, by the
 * run's counts; *tot gets the class's items. */
static double class_error(const run *R, size_t k, double *tot)
{
  double t = 0, e = 0;
  for (size_t s = 0; s < R->S; s++)
    t += R->cur[s * R->C + k];
  for (size_t s = 0; s < R->S && t > 0; s++) {
    double d = R->cur[s * R->C + k] / t - R->o->ratios.share[s];
    e = d < 0 ? (-d > e ? -d : e) : (d > e ? d : e);
  }
  *tot = t;
  return e;
}

/* Does a class with items placed in this run (in_run) miss its shares? */
static int shares_off(const run *R, const uint8_t *in_run)
{
  for (size_t k = 0; k < R->C; k++) {
    double tot;
    if (in_run[k] && class_error(R, k, &tot) > class_tolerance(R, tot) + 1e-12)
      return 1;
  }
  return 0;
}

#define DEAL_PASSES 4

/* Step 5: no near pair between a train/val item and a held-out item of this run. A join over
 * every item placed in this run is asked for the neighbours of the held-out ones; the roots of
 * each crossing pair are joined, and every joined root is placed again as a whole (its items
 * are uncounted first, then the joined roots are dealt). Only items whose split changed can
 * make new crossing pairs, so they are the next round's queries. Each round with a crossing
 * pair leaves fewer roots, so the rounds end; no item moves along a chain of near pairs on its
 * own, it moves with everything it is linked to. Joined roots can make the first deal's
 * shares worse (a root placed for its first part's sake, then grown), so when a class with
 * items in this run (in_run) misses its shares, everything is dealt again knowing the joined
 * roots, and checked again (at most DEAL_PASSES passes; the last is always checked to the end). */
static int resolve_near(run *R, comp_order *ord, const uint8_t *in_run, size_t *moved_total,
                        size_t *rounds, es_error *err)
{
  es_index *ix = R->ix;
  size_t n = R->n, nq = 0, nplaced = 0;
  int rc = ES_OK;
  uint32_t *placed = malloc((n ? n : 1) * sizeof *placed);
  uint32_t *q = malloc((n ? n : 1) * sizeof *q);
  uint32_t *dirty = malloc((R->ncomp ? R->ncomp : 1) * sizeof *dirty);
  uint8_t *mark = calloc(R->ncomp ? R->ncomp : 1, 1);
  es__near_join *join = NULL;
  if (!placed || !q || !dirty || !mark) {
    rc = es_error_set(err, ES_ENOMEM, "out of memory");
    goto done;
  }
  for (size_t i = 0; i < n; i++) {
    int s = is_unassigned(R, (uint32_t)i) ? R->place[R->comp_of[i]] : -1;
    if (s < 0)
      continue;
    placed[nplaced++] = (uint32_t)i;
    nq += (R->held & bit(s)) != 0;
  }
  if (!nq || nq == nplaced)
    goto done;
  if (!(join = es__near_join_build(ix, placed, nplaced, &R->o->near, err))) {
    rc = err ? err->code : ES_ENOMEM;
    goto done;
  }
  for (int pass = 0; rc == ES_OK; pass++) {
    size_t joined = 0;
    nq = 0;
    for (size_t k = 0; k < nplaced; k++) {
      int s = R->place[R->comp_of[placed[k]]];
      if (s >= 0 && (R->held & bit(s)))
        q[nq++] = placed[k];
    }
    while (nq) {
      es__near_pair *pairs = NULL;
      size_t np = 0, ndirty = 0;
      if ((rc = es__near_join_pairs(join, ix, q, nq, R->o->jobs, &pairs, &np, err)))
        break;
      for (size_t k = 0; k < np; k++) {
        int a = R->place[R->comp_of[pairs[k].q]], b = R->place[R->comp_of[pairs[k].ref]];
        if (a < 0 || b < 0 || !(R->held & bit(a)) == !(R->held & bit(b)))
          continue;
        uint32_t r = join_roots(R, R->comp_of[pairs[k].q], R->comp_of[pairs[k].ref]);
        if (!mark[r]) { /* each root at most once, so dirty never outgrows the components */
          mark[r] = 1;
          dirty[ndirty++] = r;
        }
        joined++;
      }
      free(pairs);
      for (size_t k = 0; k < ndirty; k++)
        mark[dirty[k]] = 0;
      /* the joined roots (what they are now), once each */
      size_t nord = 0;
      for (size_t k = 0; k < ndirty; k++) {
        uint32_t r = root_of(R, dirty[k]);
        if (!mark[r]) {
          mark[r] = 1;
          ord[nord++].comp = r;
        }
      }
      for (size_t k = 0; k < nord; k++) {
        mark[ord[k].comp] = 0;
        count_root(R, ord[k].comp, -1);
      }
      nq = 0;
      deal(R, ord, nord, q, &nq);
      *moved_total += nq;
      *rounds += nord > 0;
    }
    if (rc || !joined || pass + 1 == DEAL_PASSES || !shares_off(R, in_run))
      break;
    deal_all(R, ord);
  }
done:
  es__near_join_free(join);
  free(placed);
  free(q);
  free(dirty);
  free(mark);
  return rc;
}

/* The initial state of component c's root: where its assigned members and its items'
 * related assigned items allow it to go. */
static void init_root(run *R, uint32_t c)
{
  const es_index *ix = R->ix;
  uint64_t grp = 0, near = 0;
  for (uint32_t j = R->start[c]; j < R->start[c + 1]; j++) {
    uint32_t i = R->members[j];
    if (is_unassigned(R, i)) {
      near |= R->touch[i];
      R->usize[c]++;
    } else {
      grp |= bit((int)R->split_num[ix->items[i].split] - 1);
    }
  }
  uint64_t held_near = near & R->held;
  uint64_t allow = grp ? grp : R->dealable;
  if (held_near) /* a neighbour in a held-out set: that set or nothing */
    allow &= held_near;
  if (near & ~R->held) /* a neighbour in train or val: no held-out set */
    allow &= ~R->held;
  if (__builtin_popcountll(grp) > 1 || __builtin_popcountll(held_near) > 1)
    allow = 0;
  R->allow[c] = allow;
  R->forced[c] = (grp || held_near) && allow ? __builtin_ctzll(allow) : -1;
  R->note[c] = grp | near;
}

/* The group names, and the decisions written into the index. */
static int write_decisions(run *R, size_t *assigned, size_t *joined, size_t *excluded,
                           es_error *err)
{
  es_index *ix = R->ix;
  int rc = ES_OK;
  for (size_t c = 0; c < R->ncomp && rc == ES_OK; c++) {
    int s = R->place[c];
    if (s == -1)
      continue;
    uint32_t r = root_of(R, (uint32_t)c), note = NONE;
    if (s == -2 && (rc = excluded_note(R, R->note[r], &note, err)))
      break;
    for (uint32_t j = R->start[c]; j < R->start[c + 1]; j++) {
      es_index_item *x = &ix->items[R->members[j]];
      if (x->split != NONE)
        continue;
      x->group = R->comp_name[c];
      if (s == -2) {
        x->split_note = note;
        ++*excluded;
      } else {
        x->split = R->split_str[s];
        x->split_note = NONE;
        ++*assigned;
        if (R->forced[r] >= 0)
          ++*joined;
      }
    }
  }
  return rc;
}

/* The classes whose achieved shares (over all their assigned items) miss the targets by more
 * than the run allows, with what would help: the largest roots holding the class's items. */
static json_t *ratio_misses(run *R, const uint8_t *in_run, const uint32_t *label_of_cls)
{
  json_t *misses = json_array();
  const es_index *ix = R->ix;
  for (size_t k = 0; k < R->C && misses; k++) {
    double tot, err_k = class_error(R, k, &tot), tol = class_tolerance(R, tot);
    if (!in_run[k] || !(err_k > tol + 1e-12))
      continue;
    /* the three largest roots with items of the class */
    uint32_t top[3] = {NONE, NONE, NONE}, topn[3] = {0, 0, 0};
    for (size_t c = 0; c < R->ncomp; c++) {
      if (R->place[c] == -1 || root_of(R, (uint32_t)c) != c)
        continue;
      uint32_t in_cls = 0;
      for (uint32_t d = (uint32_t)c; d != NONE; d = R->cnext[d])
        for (uint32_t j = R->start[d]; j < R->start[d + 1]; j++)
          in_cls += R->is_new[R->members[j]] && R->cls[R->members[j]] == k;
      for (int t = 0; t < 3; t++)
        if (in_cls > topn[t]) {
          for (int u = 2; u > t; u--) {
            top[u] = top[u - 1];
            topn[u] = topn[u - 1];
          }
          top[t] = (uint32_t)c;
          topn[t] = in_cls;
          break;
        }
    }
    json_t *largest = json_array();
    for (int t = 0; t < 3 && top[t] != NONE; t++) {
      int s = R->place[top[t]];
      json_array_append_new(
          largest, json_pack("{s:s?, s:I, s:I, s:s?}", "group",
                             es_index_str(ix, R->comp_name[top[t]]), "items",
                             (json_int_t)R->usize[top[t]], "of_class", (json_int_t)topn[t],
                             "split", s >= 0 ? ix->strs[R->split_str[s]] : NULL));
    }
    const char *lab = es_index_str(ix, label_of_cls[k]);
    json_array_append_new(misses, json_pack("{s:s?, s:I, s:o, s:o, s:o}", "label", lab, "total",
                                            (json_int_t)tot, "max_error",
                                            es_json_real(err_k), "allowed",
                                            es_json_real(tol), "largest_components", largest));
  }
  return misses;
}

json_t *es_split_assign(es_index *ix, const es_split_opts *o, es_error *err)
{
  run R = {.ix = ix, .o = o, .n = ix->n};
  json_t *out = NULL;
  size_t n = ix->n;
  int rc = ES_OK;
  size_t already = 0, joined = 0, excluded = 0, assigned = 0, moved = 0, rounds = 0;
  uint8_t *want = NULL, *in_index = NULL, *in_run = NULL;
  uint32_t *bf = NULL;
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
      goto fail;
    if (o->ratios.share[k] > 0)
      R.dealable |= bit((int)k);
  }
  for (size_t i = 0; i < n; i++) {
    /* an item without a split is (re)decided; an old exclusion note is decided again */
    if (ix->items[i].split != NONE) {
      if (split_number(&R, ix->items[i].split, err) < 0)
        goto fail;
      already++;
    }
  }
  for (size_t s = 0; s < R.nsplit; s++)
    if (es_split_is_held_out(ix->strs[R.split_str[s]]))
      R.held |= bit((int)s);
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
  R.is_new = want;
  if (already && (rc = near_contacts(&R, in_index, want, R.touch, err)))
    goto fail;

  /* 3. components: where their contacts allow them to go */
  size_t nc = R.ncomp ? R.ncomp : 1;
  R.comp_name = malloc(nc * sizeof *R.comp_name);
  R.place = malloc(nc * sizeof *R.place);
  R.cpar = malloc(nc * sizeof *R.cpar);
  R.cnext = malloc(nc * sizeof *R.cnext);
  R.ctail = malloc(nc * sizeof *R.ctail);
  R.usize = calloc(nc, sizeof *R.usize);
  R.allow = calloc(nc, sizeof *R.allow);
  R.forced = malloc(nc * sizeof *R.forced);
  R.note = calloc(nc, sizeof *R.note);
  ord = malloc(nc * sizeof *ord);
  if (!R.comp_name || !R.place || !R.cpar || !R.cnext || !R.ctail || !R.usize || !R.allow ||
      !R.forced || !R.note || !ord)
    goto nomem;
  for (size_t c = 0; c < R.ncomp; c++) {
    R.place[c] = -1;
    R.cpar[c] = R.ctail[c] = (uint32_t)c;
    R.cnext[c] = NONE;
    R.forced[c] = -1;
    R.comp_name[c] = NONE;
    init_root(&R, (uint32_t)c);
    if (!R.usize[c])
      continue;
    uint32_t pinned_group = NONE;
    for (uint32_t j = R.start[c]; j < R.start[c + 1] && pinned_group == NONE; j++)
      if (!is_unassigned(&R, R.members[j]))
        pinned_group = ix->items[R.members[j]].group;
    if ((rc = item_key(&R, R.members[R.start[c]], bf, &R.comp_name[c], err)))
      goto fail;
    if (pinned_group != NONE)
      R.comp_name[c] = pinned_group;
    R.place[c] = -2; /* until dealt */
  }

  /* 4. targets per class and ratio split, over the assigned items and this run's */
  R.S = o->ratios.n;
  R.C = R.ncls;
  if (R.C && R.S > SIZE_MAX / R.C / sizeof(double))
    goto nomem;
  R.target = calloc(R.S * R.C + 1, sizeof *R.target);
  R.cur = calloc(R.S * R.C + 1, sizeof *R.cur);
  double *cls_total = calloc(R.C ? R.C : 1, sizeof *cls_total);
  if (!R.target || !R.cur || !cls_total) {
    free(cls_total);
    goto nomem;
  }
  for (size_t i = 0; i < n; i++) {
    if (ix->items[i].split != NONE) {
      size_t s = R.split_num[ix->items[i].split] - 1;
      if (s < R.S) {
        R.cur[s * R.C + R.cls[i]] += 1;
        cls_total[R.cls[i]] += 1;
      }
    } else if (R.allow[R.comp_of[i]] & R.dealable) {
      cls_total[R.cls[i]] += 1;
    }
  }
  for (size_t s = 0; s < R.S; s++)
    for (size_t c = 0; c < R.C; c++)
      R.target[s * R.C + c] = o->ratios.share[s] * cls_total[c];
  free(cls_total);
  deal_all(&R, ord);

  /* 5. near pairs between this run's train/val and held-out items (the classes this run
   * can add items to noted first) */
  in_run = calloc(R.C ? R.C : 1, 1);
  if (!in_run)
    goto nomem;
  for (size_t i = 0; i < n; i++)
    if (is_unassigned(&R, (uint32_t)i) && R.place[R.comp_of[i]] >= 0)
      in_run[R.cls[i]] = 1;
  if ((rc = resolve_near(&R, ord, in_run, &moved, &rounds, err)))
    goto fail;

  /* 6. write the decisions into the index */
  if ((rc = write_decisions(&R, &assigned, &joined, &excluded, err)))
    goto fail;

  /* the achieved ratios, per class over the ratio splits and all its assigned items */
  size_t S = R.S, C = R.C;
  double *cur = R.cur;
  json_t *achieved = json_array(), *misses = NULL;
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
      double tot, err_c = class_error(&R, c, &tot);
      json_t *counts = json_object(), *ratios = json_object();
      for (size_t s = 0; s < S; s++) {
        json_object_set_new(counts, o->ratios.name[s], json_integer((json_int_t)cur[s * C + c]));
        json_object_set_new(ratios, o->ratios.name[s],
                            es_json_real(tot > 0 ? cur[s * C + c] / tot : 0));
      }
      worst = err_c > worst ? err_c : worst;
      const char *lab = es_index_str(ix, label_of_cls[c]);
      json_array_append_new(achieved, json_pack("{s:o, s:I, s:o, s:o, s:o}", "label",
                                                lab ? json_string(lab) : json_null(), "total",
                                                (json_int_t)tot, "counts", counts, "ratios",
                                                ratios, "max_error", es_json_real(err_c)));
    }
    misses = ratio_misses(&R, in_run, label_of_cls);
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
  out = json_pack("{s:I, s:o, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:o}",
                  "seed", (json_int_t)o->seed, "ratios", rat, "group_by", gb, "items",
                  (json_int_t)n, "already_assigned", (json_int_t)already, "assigned",
                  (json_int_t)assigned, "joined_groups", (json_int_t)joined, "excluded",
                  (json_int_t)excluded, "groups", (json_int_t)R.ncomp, "moved_for_leaks",
                  (json_int_t)moved, "leak_rounds", (json_int_t)rounds, "achieved", achieved,
                  "max_ratio_error", es_json_real(worst), "max_ratio_error_allowed",
                  es_json_real(o->max_ratio_error), "ratio_misses", misses);
  if (!out)
    goto nomem;
  goto cleanup;

nomem:
  es_error_set(err, ES_ENOMEM, "out of memory assigning splits");
  goto cleanup;
fail:
cleanup:
  free(want);
  free(in_index);
  free(bf);
  free(ord);
  free(in_run);
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
