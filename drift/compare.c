/* The comparison: each numeric feature by the two-sample KS test (significance), Wasserstein-1
 * over the reference's standard deviation (effect) and PSI on 10 reference-quantile bins
 * (reported); the label distribution by the chi-squared test of homogeneity and the
 * Jensen-Shannon distance; Benjamini-Hochberg across all tested features; a feature drifts
 * only when its adjusted p-value is below alpha AND its effect reaches the threshold. Then
 * camera health, device by device against the device's own history in the reference; and the
 * JSON form of all of it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "drift/drift.h"
#include "drift/stats.h"

void es_drift_opts_default(es_drift_opts *o)
{
  o->alpha = 0.05;
  o->min_effect_numeric = 0.1;
  o->min_effect_categorical = 0.1;
  o->drift_share = -1;
  o->sharpness_drop = 0.35;
  o->brightness_shift = 0.5;
  o->clipped_rise = 0.2;
  o->frozen_run = 5;
  o->min_device_items = 10;
  o->psi_bins = 10;
  o->min_effect_mmd = 0.1;
  o->mmd_perms = 200;
  o->seed = 0;
  o->jobs = 1;
}

static void mean_std(const double *a, size_t n, double *mean, double *std)
{
  double s = 0;
  for (size_t i = 0; i < n; i++)
    s += a[i];
  double mu = n ? s / (double)n : 0, v = 0;
  for (size_t i = 0; i < n; i++)
    v += (a[i] - mu) * (a[i] - mu);
  *mean = mu;
  *std = n > 1 ? sqrt(v / (double)(n - 1)) : 0; /* sample std (ddof 1) */
}

/* How many independent values n values with design effect deff are worth. */
static double neff_of(double n, double deff)
{
  return deff > 1 ? n / deff : n;
}

/* The effective size as a count for the KS distribution (at least 1). */
static uint64_t neff_count(double neff)
{
  double r = nearbyint(neff);
  return r < 1 ? 1 : (uint64_t)r;
}

/* The KS p-value of samples of na and nb values worth neff_a and neff_b independent ones:
 * es_ks_2samp()'s own when nothing is lost. */
static int ks_test(const double *a, size_t na, double neff_a, const double *b, size_t nb,
                   double neff_b, es_ks_result *ks)
{
  uint64_t ea = neff_count(neff_a), eb = neff_count(neff_b);
  if (ea == na && eb == nb)
    return es_ks_2samp(a, na, b, nb, ks);
  if (!na || !nb)
    return -1;
  ks->statistic = es_ks_statistic(a, na, b, nb);
  ks->p = es_ks_p(ks->statistic, ea, eb, &ks->exact);
  return 0;
}

static int numeric_feature(const es_drift_sample *ref, const es_drift_sample *cur, int c,
                           const es_drift_opts *o, es_drift_feature *f, es_error *err)
{
  f->name = es_drift_numeric_names[c];
  f->n_ref = ref->n[c];
  f->n_cur = cur->n[c];
  if (!f->n_ref || !f->n_cur) {
    f->note = !f->n_ref ? "no reference values" : "no current values";
    if (c == ES_DRIFT_CONFIDENCE)
      f->note = "no model outputs on a side (run with --model)";
    if (c >= ES_DRIFT_PIXELS)
      f->note = "sizes are not in the index or profile (use the manifest)";
    return ES_OK;
  }
  const double *a = ref->col[c], *b = cur->col[c];
  f->neff_ref = neff_of((double)f->n_ref, ref->deff[c]);
  f->neff_cur = neff_of((double)f->n_cur, cur->deff[c]);
  es_ks_result ks;
  if (ks_test(a, f->n_ref, f->neff_ref, b, f->n_cur, f->neff_cur, &ks))
    return es_error_set(err, ES_ENOMEM, "out of memory in the KS test of '%s'", f->name);
  f->tested = 1;
  f->statistic = ks.statistic;
  f->p = ks.p;
  f->exact = ks.exact;
  f->wasserstein = es_wasserstein1(a, f->n_ref, b, f->n_cur);
  double cs;
  mean_std(a, f->n_ref, &f->ref_mean, &f->ref_std);
  mean_std(b, f->n_cur, &f->cur_mean, &cs);
  if (f->ref_std > 0)
    f->effect = f->wasserstein / f->ref_std;
  else {
    f->effect = f->wasserstein > 0 ? INFINITY : 0;
    if (f->wasserstein > 0)
      f->note = "the reference is constant: any difference is a full effect";
  }
  /* PSI on reference-quantile bins */
  unsigned bins = o->psi_bins ? o->psi_bins : 10;
  double edges[64], rc[65], cc[65];
  if (bins > 64)
    bins = 64;
  size_t ne = es_quantile_edges(a, f->n_ref, bins, edges);
  es_bin_counts(a, f->n_ref, edges, ne, rc);
  es_bin_counts(b, f->n_cur, edges, ne, cc);
  f->psi = es_psi(rc, cc, ne + 1);
  /* histogram for the report: over the 0.5%..99.5% range of both sides */
  double lo = fmin(es_quantile(a, f->n_ref, 0.005), es_quantile(b, f->n_cur, 0.005));
  double hi = fmax(es_quantile(a, f->n_ref, 0.995), es_quantile(b, f->n_cur, 0.995));
  if (!(hi > lo)) {
    lo -= 0.5;
    hi += 0.5;
  }
  f->lo = lo;
  f->hi = hi;
  f->n_bins = ES_DRIFT_HIST_BINS;
  f->ref_hist = calloc(f->n_bins, sizeof(double));
  f->cur_hist = calloc(f->n_bins, sizeof(double));
  if (!f->ref_hist || !f->cur_hist)
    return es_error_set(err, ES_ENOMEM, "out of memory");
  for (int side = 0; side < 2; side++) {
    const double *v = side ? b : a;
    size_t n = side ? f->n_cur : f->n_ref;
    double *h = side ? f->cur_hist : f->ref_hist;
    for (size_t i = 0; i < n; i++) {
      double t = (v[i] - lo) / (hi - lo) * (double)f->n_bins;
      long k = (long)floor(t);
      if (k < 0)
        k = 0;
      if (k >= (long)f->n_bins)
        k = (long)f->n_bins - 1;
      h[k] += 1;
    }
    for (size_t k = 0; k < f->n_bins; k++)
      h[k] /= (double)n;
  }
  return ES_OK;
}

/* A categorical feature from two (names, counts) lists; categories are the union, in the
 * reference's order then the current's new ones. */
static int categorical_feature(const char *name, char **rn, const double *rcnt, size_t nr_,
                               double rdeff, char **cn, const double *ccnt, size_t nc_,
                               double cdeff, const char *why_none, es_drift_feature *f,
                               es_error *err)
{
  f->name = name;
  f->categorical = 1;
  size_t cap = nr_ + nc_, k = 0;
  f->cats = calloc(cap ? cap : 1, sizeof *f->cats);
  f->ref_hist = calloc(cap ? cap : 1, sizeof(double));
  f->cur_hist = calloc(cap ? cap : 1, sizeof(double));
  if (!f->cats || !f->ref_hist || !f->cur_hist)
    return es_error_set(err, ES_ENOMEM, "out of memory");
  double nr = 0, nc = 0;
  for (size_t i = 0; i < nr_; i++) {
    f->cats[k] = rn[i];
    f->ref_hist[k++] = rcnt[i];
    nr += rcnt[i];
  }
  for (size_t j = 0; j < nc_; j++) {
    size_t t = 0;
    while (t < k && strcmp(f->cats[t], cn[j]))
      t++;
    if (t == k)
      f->cats[k++] = cn[j];
    f->cur_hist[t] += ccnt[j];
    nc += ccnt[j];
  }
  f->n_bins = k;
  f->n_ref = (size_t)nr;
  f->n_cur = (size_t)nc;
  if (!nr || !nc) {
    f->note = why_none;
    return ES_OK;
  }
  /* the test sees each side's counts scaled to its effective size (a first-order Rao-Scott
   * correction); the effect and PSI see the shares, which the scaling does not change */
  f->neff_ref = neff_of(nr, rdeff);
  f->neff_cur = neff_of(nc, cdeff);
  double *er = malloc(k * sizeof *er), *ec = malloc(k * sizeof *ec);
  if (!er || !ec) {
    free(er);
    free(ec);
    return es_error_set(err, ES_ENOMEM, "out of memory");
  }
  for (size_t t = 0; t < k; t++) {
    er[t] = f->ref_hist[t] * f->neff_ref / nr;
    ec[t] = f->cur_hist[t] * f->neff_cur / nc;
  }
  es_chi2_result chi;
  es_chi2_homogeneity(er, ec, k, &chi);
  free(er);
  free(ec);
  f->tested = 1;
  f->statistic = chi.statistic;
  f->p = chi.p;
  f->dof = chi.dof;
  f->effect = es_js_distance(f->ref_hist, f->cur_hist, k);
  f->psi = es_psi(f->ref_hist, f->cur_hist, k);
  for (size_t t = 0; t < k; t++) {
    f->ref_hist[t] /= nr;
    f->cur_hist[t] /= nc;
  }
  return ES_OK;
}

static int embedding_feature(const es_drift_sample *ref, const es_drift_sample *cur,
                             const es_drift_opts *o, es_drift_feature *f, es_error *err)
{
  f->name = "embedding";
  f->mmd = 1;
  f->n_ref = ref->n_emb;
  f->n_cur = cur->n_emb;
  if (ref->n_emb < 2 || cur->n_emb < 2) {
    f->note = "fewer than 2 embeddings on a side";
    return ES_OK;
  }
  if (ref->emb_dim != cur->emb_dim) {
    f->note = "the embeddings have different sizes (another model?)";
    return ES_OK;
  }
  /* whole units are shuffled between the sides: rows of one scene stay together */
  size_t N = ref->n_emb + cur->n_emb;
  uint32_t *block = malloc(N * sizeof *block);
  if (!block)
    return es_error_set(err, ES_ENOMEM, "out of memory");
  uint32_t top = 0;
  for (size_t i = 0; i < N; i++) {
    int side = i >= ref->n_emb;
    const es_drift_sample *sm = side ? cur : ref;
    size_t k = side ? i - ref->n_emb : i;
    uint32_t b = sm->emb_unit ? sm->emb_unit[k] : (uint32_t)k;
    block[i] = side ? top + b : b;
    if (!side && block[i] + 1 > top)
      top = block[i] + 1;
  }
  f->neff_ref = (double)ref->n_emb;
  f->neff_cur = (double)cur->n_emb;
  double m2, p;
  int rc = es_drift_mmd(ref->emb, ref->n_emb, cur->emb, cur->n_emb, ref->emb_dim, block,
                        o->mmd_perms, o->seed, o->jobs, &m2, &p, err);
  free(block);
  if (rc)
    return rc;
  f->tested = 1;
  f->statistic = m2;
  f->p = p;
  f->effect = m2 > 0 ? sqrt(m2) : 0;
  return ES_OK;
}

static double median(const double *a, size_t n)
{
  return es_quantile(a, n, 0.5);
}

static void device_health(const es_drift_sample *ref, const es_drift_device *d,
                          const es_drift_opts *o, es_drift_health *h)
{
  memset(h, 0, sizeof *h);
  h->device = d->name;
  h->n_cur = d->n;
  h->frozen_checked = d->frozen_checked;
  h->frozen_run = d->frozen_run;
  h->frozen_item = d->frozen_run ? d->frozen_item : NULL;
  if (d->frozen_checked && d->frozen_run >= o->frozen_run)
    h->flags |= ES_DRIFT_FLAG_FROZEN;
  const es_drift_device *r = NULL;
  size_t lo = 0, hi = ref->n_dev;
  while (lo < hi) { /* ref->dev is sorted by name */
    size_t mid = (lo + hi) / 2;
    int c = strcmp(ref->dev[mid].name, d->name);
    if (!c) {
      r = &ref->dev[mid];
      break;
    }
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  h->clipped_cur = d->n ? d->clipped / (double)d->n : 0;
  if (d->n_sample) {
    h->sharp_cur = median(d->sharpness, d->n_sample);
    h->bright_cur = median(d->brightness, d->n_sample);
  }
  if (!r || !r->n_sample)
    return;
  h->has_history = 1;
  h->n_ref = r->n;
  h->sharp_ref = median(r->sharpness, r->n_sample);
  h->bright_ref = median(r->brightness, r->n_sample);
  h->clipped_ref = r->n ? r->clipped / (double)r->n : 0;
  if (d->n && h->clipped_cur - h->clipped_ref >= o->clipped_rise && d->clipped >= 3)
    h->flags |= ES_DRIFT_FLAG_CLIPPED;
  if (!d->n_sample)
    return;
  /* The KS p-values are computed only where the effect already reaches a flag's threshold
   * (elsewhere they could not change the outcome, and an exact test per device costs
   * O(n_ref n_cur D)); NaN, written as null, otherwise. */
  es_ks_result ks;
  h->sharp_ratio = h->sharp_ref > 0 ? h->sharp_cur / h->sharp_ref : (h->sharp_cur > 0 ? 2 : 1);
  double bm, bs;
  mean_std(r->brightness, r->n_sample, &bm, &bs);
  h->bright_shift = bs > 0 ? (h->bright_cur - h->bright_ref) / bs : 0;
  h->sharp_p = h->bright_p = NAN;
  int enough = d->n >= o->min_device_items && r->n >= o->min_device_items;
  h->neff_ref = neff_of((double)r->n_sample, r->deff_sharpness);
  h->neff_cur = neff_of((double)d->n_sample, d->deff_sharpness);
  if (enough && h->sharp_ratio <= 1 - o->sharpness_drop) {
    h->sharp_p = ks_test(r->sharpness, r->n_sample, h->neff_ref, d->sharpness, d->n_sample,
                         h->neff_cur, &ks)
                     ? 1
                     : ks.p;
    if (h->sharp_p < o->alpha)
      h->flags |= ES_DRIFT_FLAG_SHARPNESS;
  }
  if (enough && fabs(h->bright_shift) >= o->brightness_shift) {
    h->bright_p = ks_test(r->brightness, r->n_sample,
                          neff_of((double)r->n_sample, r->deff_brightness), d->brightness,
                          d->n_sample, neff_of((double)d->n_sample, d->deff_brightness), &ks)
                      ? 1
                      : ks.p;
    if (h->bright_p < o->alpha)
      h->flags |= ES_DRIFT_FLAG_BRIGHTNESS;
  }
}

static int cmp_feature(const void *x, const void *y)
{
  const es_drift_feature *a = x, *b = y;
  if (a->tested != b->tested)
    return a->tested ? -1 : 1;
  if (a->effect != b->effect)
    return a->effect > b->effect ? -1 : 1;
  return strcmp(a->name, b->name);
}

int es_drift_compare(const es_drift_sample *ref, const es_drift_sample *cur,
                     const es_drift_opts *o, es_drift_result *r, es_error *err)
{
  memset(r, 0, sizeof *r);
  int rc;
  size_t nf = ES_DRIFT_N_NUMERIC + 3;
  r->f = calloc(nf, sizeof *r->f);
  r->h = calloc(cur->n_dev ? cur->n_dev : 1, sizeof *r->h);
  double *p = calloc(nf, sizeof *p), *q = calloc(nf, sizeof *q);
  size_t *idx = calloc(nf, sizeof *idx), *map = calloc(nf, sizeof *map);
  if (!r->f || !r->h || !p || !q || !idx || !map) {
    rc = es_error_set(err, ES_ENOMEM, "out of memory");
    goto cleanup;
  }
  int model = ref->n_classes || cur->n_classes || ref->n_emb || cur->n_emb ||
              ref->n[ES_DRIFT_CONFIDENCE] || cur->n[ES_DRIFT_CONFIDENCE];
  nf = 0;
  /* numeric features are independent: one per thread, each written to its own slot */
  int n_num = model ? ES_DRIFT_N_NUMERIC : ES_DRIFT_N_NUMERIC - 1; /* confidence is last */
  int frc[ES_DRIFT_N_NUMERIC] = {0};
  es_error ferr[ES_DRIFT_N_NUMERIC];
#pragma omp parallel for num_threads(o->jobs > 0 ? o->jobs : 1) schedule(dynamic, 1)
  for (int c = 0; c < n_num; c++)
    frc[c] = numeric_feature(ref, cur, c, o, &r->f[c], &ferr[c]);
  for (int c = 0; c < n_num; c++)
    if (frc[c]) {
      if (err)
        *err = ferr[c];
      rc = frc[c];
      goto cleanup;
    }
  nf = (size_t)n_num;
  if ((rc = categorical_feature("label", ref->labels, ref->label_counts, ref->n_labels,
                                ref->label_deff, cur->labels, cur->label_counts, cur->n_labels,
                                cur->label_deff, "no labelled items on a side", &r->f[nf++],
                                err)))
    goto cleanup;
  if (model) {
    if ((rc = categorical_feature("predicted", ref->classes, ref->pred_counts, ref->n_classes,
                                  ref->pred_deff, cur->classes, cur->pred_counts,
                                  cur->n_classes, cur->pred_deff,
                                  "no predictions on a side (run with --model)", &r->f[nf++],
                                  err)) ||
        (rc = embedding_feature(ref, cur, o, &r->f[nf++], err)))
      goto cleanup;
  }
  r->nf = nf;
  size_t nt = 0;
  for (size_t i = 0; i < nf; i++)
    if (r->f[i].tested) {
      map[nt] = i;
      p[nt++] = r->f[i].p;
    }
  es_bh_adjust(p, nt, q, idx);
  for (size_t t = 0; t < nt; t++) {
    es_drift_feature *f = &r->f[map[t]];
    f->p_adj = q[t];
    f->significant = q[t] < o->alpha;
    double thr = f->mmd           ? o->min_effect_mmd
                 : f->categorical ? o->min_effect_categorical
                                  : o->min_effect_numeric;
    f->drifted = f->significant && f->effect >= thr;
    r->n_drifted += (size_t)f->drifted;
  }
  r->n_tested = nt;
  r->share = nt ? (double)r->n_drifted / (double)nt : 0;
  r->drift = o->drift_share < 0 ? r->n_drifted > 0 : (nt > 0 && r->share >= o->drift_share);
  qsort(r->f, r->nf, sizeof *r->f, cmp_feature);
  for (size_t d = 0; d < cur->n_dev; d++) {
    device_health(ref, &cur->dev[d], o, &r->h[r->nh]);
    if (r->h[r->nh].flags)
      r->n_flags++;
    r->nh++;
  }
  r->found = r->drift || r->n_flags > 0;
  rc = ES_OK;
cleanup:
  free(p);
  free(q);
  free(idx);
  free(map);
  if (rc) {
    if (r->f)
      r->nf = ES_DRIFT_N_NUMERIC + 3; /* every slot: unused ones hold NULL pointers */
    es_drift_result_free(r);
  }
  return rc;
}

void es_drift_result_free(es_drift_result *r)
{
  if (!r)
    return;
  for (size_t i = 0; r->f && i < r->nf; i++) {
    free(r->f[i].ref_hist);
    free(r->f[i].cur_hist);
    free(r->f[i].cats);
  }
  free(r->f);
  free(r->h);
  memset(r, 0, sizeof *r);
}

/* ---- JSON ------------------------------------------------------------------------------- */

static json_t *num(double v)
{
  return es_json_real(v); /* null for inf/NaN */
}

static void set(json_t *o, const char *k, json_t *v)
{
  json_object_set_new(o, k, v);
}

static json_t *flags_json(unsigned fl)
{
  json_t *a = json_array();
  if (fl & ES_DRIFT_FLAG_SHARPNESS)
    json_array_append_new(a, json_string("sharpness_falling"));
  if (fl & ES_DRIFT_FLAG_BRIGHTNESS)
    json_array_append_new(a, json_string("brightness_shift"));
  if (fl & ES_DRIFT_FLAG_CLIPPED)
    json_array_append_new(a, json_string("clipped_frames"));
  if (fl & ES_DRIFT_FLAG_FROZEN)
    json_array_append_new(a, json_string("frozen_output"));
  return a;
}

static json_t *side_json(const es_drift_sample *s)
{
  json_t *o = json_object();
  set(o, "spec", json_string(s->spec ? s->spec : ""));
  set(o, "items", json_integer((json_int_t)s->n_items));
  set(o, "units", json_integer((json_int_t)s->n_units));
  set(o, "augmented_skipped", json_integer((json_int_t)s->n_augmented_skipped));
  set(o, "devices", json_integer((json_int_t)s->n_dev));
  return o;
}

json_t *es_drift_result_json(const es_drift_result *r, const es_drift_sample *ref,
                             const es_drift_sample *cur, const es_drift_opts *o)
{
  json_t *root = json_object();
  if (!root)
    return NULL;
  set(root, "verdict", json_string(r->found ? "drift" : "no drift"));
  set(root, "features_drifted", json_integer((json_int_t)r->n_drifted));
  set(root, "features_tested", json_integer((json_int_t)r->n_tested));
  set(root, "drift_share", num(r->share));
  set(root, "feature_drift", json_boolean(r->drift));
  set(root, "camera_flags", json_integer((json_int_t)r->n_flags));
  set(root, "reference", side_json(ref));
  set(root, "current", side_json(cur));
  json_t *opt = json_object();
  set(opt, "alpha", num(o->alpha));
  set(opt, "min_effect_numeric", num(o->min_effect_numeric));
  set(opt, "min_effect_categorical", num(o->min_effect_categorical));
  set(opt, "drift_share", o->drift_share < 0 ? json_null() : num(o->drift_share));
  set(opt, "psi_bins", json_integer(o->psi_bins));
  set(opt, "sharpness_drop", num(o->sharpness_drop));
  set(opt, "brightness_shift", num(o->brightness_shift));
  set(opt, "clipped_rise", num(o->clipped_rise));
  set(opt, "frozen_run", json_integer((json_int_t)o->frozen_run));
  set(opt, "min_device_items", json_integer((json_int_t)o->min_device_items));
  set(root, "settings", opt);
  json_t *fa = json_array();
  for (size_t i = 0; i < r->nf; i++) {
    const es_drift_feature *f = &r->f[i];
    json_t *j = json_object();
    set(j, "name", json_string(f->name));
    set(j, "kind", json_string(f->mmd ? "embedding" : f->categorical ? "categorical" : "numeric"));
    set(j, "tested", json_boolean(f->tested));
    set(j, "n_reference", json_integer((json_int_t)f->n_ref));
    set(j, "n_current", json_integer((json_int_t)f->n_cur));
    set(j, "n_effective_reference", num(f->neff_ref));
    set(j, "n_effective_current", num(f->neff_cur));
    if (f->note)
      set(j, "note", json_string(f->note));
    if (f->tested && f->mmd) {
      json_t *t = json_object();
      set(t, "mmd2", num(f->statistic));
      set(t, "p", num(f->p));
      set(t, "permutations", json_integer(o->mmd_perms));
      set(t, "seed", json_integer((json_int_t)o->seed));
      set(j, "mmd", t);
      set(j, "p_adjusted", num(f->p_adj));
      set(j, "effect", num(f->effect));
      set(j, "significant", json_boolean(f->significant));
    } else if (f->tested) {
      if (f->categorical) {
        json_t *t = json_object();
        set(t, "statistic", num(f->statistic));
        set(t, "dof", json_integer(f->dof));
        set(t, "p", num(f->p));
        set(j, "chi2", t);
        set(j, "js_distance", num(f->effect));
        json_t *cats = json_array();
        for (size_t k = 0; k < f->n_bins; k++) {
          json_t *c = json_object();
          set(c, "category", json_string(f->cats[k]));
          set(c, "reference_share", num(f->ref_hist[k]));
          set(c, "current_share", num(f->cur_hist[k]));
          json_array_append_new(cats, c);
        }
        set(j, "categories", cats);
      } else {
        json_t *t = json_object();
        set(t, "statistic", num(f->statistic));
        set(t, "p", num(f->p));
        set(t, "method", json_string(f->exact ? "exact" : "asymptotic"));
        set(j, "ks", t);
        set(j, "wasserstein", num(f->wasserstein));
        set(j, "reference_mean", num(f->ref_mean));
        set(j, "reference_std", num(f->ref_std));
        set(j, "current_mean", num(f->cur_mean));
      }
      set(j, "psi", num(f->psi));
      set(j, "p_adjusted", num(f->p_adj));
      set(j, "effect", num(f->effect));
      set(j, "significant", json_boolean(f->significant));
    }
    set(j, "drifted", json_boolean(f->drifted));
    json_array_append_new(fa, j);
  }
  set(root, "features", fa);
  json_t *ha = json_array();
  for (size_t i = 0; i < r->nh; i++) {
    const es_drift_health *h = &r->h[i];
    json_t *j = json_object();
    set(j, "device", json_string(h->device));
    set(j, "n_reference", json_integer((json_int_t)h->n_ref));
    set(j, "n_current", json_integer((json_int_t)h->n_cur));
    set(j, "n_effective_reference", num(h->neff_ref));
    set(j, "n_effective_current", num(h->neff_cur));
    set(j, "history", json_boolean(h->has_history));
    if (h->has_history && h->n_cur) {
      set(j, "sharpness_median_reference", num(h->sharp_ref));
      set(j, "sharpness_median_current", num(h->sharp_cur));
      set(j, "sharpness_ratio", num(h->sharp_ratio));
      set(j, "sharpness_p", num(h->sharp_p));
      set(j, "brightness_median_reference", num(h->bright_ref));
      set(j, "brightness_median_current", num(h->bright_cur));
      set(j, "brightness_shift_std", num(h->bright_shift));
      set(j, "brightness_p", num(h->bright_p));
      set(j, "clipped_share_reference", num(h->clipped_ref));
    }
    set(j, "clipped_share_current", num(h->clipped_cur));
    if (h->frozen_checked) {
      set(j, "longest_identical_run", json_integer((json_int_t)h->frozen_run));
      if (h->frozen_item && h->frozen_run > 1)
        set(j, "identical_item", json_string(h->frozen_item));
    } else {
      set(j, "longest_identical_run", json_null());
    }
    set(j, "flags", flags_json(h->flags));
    json_array_append_new(ha, j);
  }
  set(root, "camera_health", ha);
  return root;
}
