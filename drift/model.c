/* The model features of edgeset-drift (--model): an int8 classifier run on every selected item
 * gives its predicted class, its top probability (confidence) and its penultimate-layer
 * embedding; and the maximum mean discrepancy test that compares two sets of embeddings. Items
 * are processed on several threads, each with its own interpreter, and every result is stored
 * by item position, so nothing depends on the thread count. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/store.h"
#include "drift/drift.h"
#include "drift/stats.h"
#include "formats/decode.h"
#include "formats/index.h"
#include "nn/nn.h"
#include "nn/preprocess.h"

/* The op whose output is tensor t, or -1. */
static int producer(const es_model *m, int t, es_op_info *op)
{
  es_model_info info;
  es_model_info_get(m, &info);
  for (size_t i = info.n_ops; i-- > 0;) {
    if (es_model_op_info(m, i, op) != 0)
      continue;
    for (size_t k = 0; k < op->n_outputs; k++)
      if (op->outputs[k] == t)
        return (int)i;
  }
  return -1;
}

/* Walks back from the output over ops that only reshape, activate or requantize the class
 * scores, to the op that computes them; its first input is the embedding. */
static int find_embedding(const es_model *m, int out_tensor)
{
  int t = out_tensor;
  es_op_info op;
  for (int guard = 0; guard < 64; guard++) {
    if (producer(m, t, &op) < 0 || op.n_inputs < 1 || op.inputs[0] < 0)
      return t;
    int pass = op.opcode == ES_OP_SOFTMAX || op.opcode == ES_OP_RESHAPE ||
               op.opcode == ES_OP_SQUEEZE || op.opcode == ES_OP_QUANTIZE ||
               op.opcode == ES_OP_DEQUANTIZE || op.opcode == ES_OP_LOGISTIC;
    if (!pass)
      return op.inputs[0];
    t = op.inputs[0];
  }
  return t;
}

int es_drift_model_open(const uint8_t *buf, size_t len, const char *pp_spec,
                        es_drift_model *dm, es_error *err)
{
  memset(dm, 0, sizeof *dm);
  es_preprocess pp, *rpp = calloc(1, sizeof *rpp);
  es_tensor in, out, emb;
  int rc;
  if (!rpp)
    return es_error_set(err, ES_ENOMEM, "out of memory");
  dm->pp = rpp;
  if ((rc = es_preprocess_parse(pp_spec, &pp, err)) ||
      (rc = es_model_load(buf, len, NULL, &dm->model, err)))
    goto fail;
  if (es_model_input_count(dm->model) != 1 || es_model_input(dm->model, 0, &in) != 0 ||
      es_model_output(dm->model, 0, &out) != 0) {
    rc = es_error_set(err, ES_EUSAGE, "the model is not a classifier of one image input");
    goto fail;
  }
  if ((rc = es_preprocess_target(&in, &dm->in_h, &dm->in_w, &dm->in_c, err)) ||
      (rc = es_preprocess_resolve(&pp, dm->model, 0, rpp, err)))
    goto fail;
  if (out.count < 2 || (out.type != ES_TFLITE_INT8 && out.type != ES_TFLITE_UINT8 &&
                        out.type != ES_TFLITE_FLOAT32)) {
    rc = es_error_set(err, ES_EUSAGE,
                      "output 0 ('%s') is %s with %zu values; class scores need at least 2 "
                      "int8, uint8 or float32 values",
                      out.name, es_tflite_type_name(out.type), out.count);
    goto fail;
  }
  dm->n_classes = out.count;
  dm->emb_tensor = find_embedding(dm->model, out.index);
  if (es_model_tensor(dm->model, dm->emb_tensor, &emb) != 0) {
    rc = es_error_set(err, ES_EINTERNAL, "embedding tensor %d not found", dm->emb_tensor);
    goto fail;
  }
  dm->emb_name = emb.name;
  dm->emb_dim = emb.count;
  if (emb.type != ES_TFLITE_INT8 && emb.type != ES_TFLITE_UINT8 &&
      emb.type != ES_TFLITE_FLOAT32) {
    rc = es_error_set(err, ES_EUSAGE, "embedding tensor '%s' is %s", emb.name,
                      es_tflite_type_name(emb.type));
    goto fail;
  }
  es_interp_opts io = {0};
  int keep = dm->emb_tensor;
  io.keep = &keep;
  io.n_keep = 1;
  if ((rc = es_interp_new(dm->model, &io, &dm->ip, err)))
    goto fail;
  es_preprocess_format(rpp, dm->pp_spec, sizeof dm->pp_spec);
  return ES_OK;
fail:
  es_drift_model_close(dm);
  return rc;
}

void es_drift_model_close(es_drift_model *dm)
{
  if (!dm)
    return;
  es_interp_free(dm->ip);
  es_model_free(dm->model);
  free(dm->pp);
  memset(dm, 0, sizeof *dm);
}

static double tensor_value(const es_tensor *t, size_t i)
{
  if (t->type == ES_TFLITE_FLOAT32) {
    float f;
    memcpy(&f, (const uint8_t *)t->data + 4 * i, 4);
    return f;
  }
  int32_t q = t->type == ES_TFLITE_INT8 ? ((const int8_t *)t->data)[i]
                                        : ((const uint8_t *)t->data)[i];
  return t->scale > 0 ? (double)(q - t->zero_point) * (double)t->scale : (double)q;
}

typedef struct item_out {
  int rc;
  es_error err;
  size_t pred;
  double conf;
  float *emb; /* NULL unless chosen */
} item_out;

static int run_one(const es_drift_model *dm, es_interp *ip, const es_store *st,
                   const es_item *it, item_out *o, es_error *err)
{
  uint8_t *buf = NULL;
  size_t len = 0;
  es_image img = {0};
  int rc = es_item_read_bytes(st, it, &buf, &len, err);
  if (rc)
    return rc;
  es_decode_opts dopt = {0};
  if ((rc = es_image_decode(buf, len, &dopt, &img, NULL, err))) {
    es_error_prefix(err, "item %s", it->id);
    goto cleanup;
  }
  es_tensor in, out, emb;
  es_interp_input(ip, 0, &in);
  if ((rc = es_preprocess_image(&img, (const es_preprocess *)dm->pp, &in, err)) ||
      (rc = es_interp_invoke(ip, err))) {
    es_error_prefix(err, "item %s", it->id);
    goto cleanup;
  }
  es_interp_output(ip, 0, &out);
  size_t best = 0;
  double bv = -INFINITY;
  for (size_t c = 0; c < dm->n_classes; c++) {
    double v = tensor_value(&out, c);
    if (v > bv) {
      bv = v;
      best = c;
    }
  }
  o->pred = best;
  o->conf = bv;
  if (o->emb) {
    if ((rc = es_interp_tensor(ip, dm->emb_tensor, &emb, err)))
      goto cleanup;
    for (size_t k = 0; k < dm->emb_dim; k++)
      o->emb[k] = (float)tensor_value(&emb, k);
  }
cleanup:
  es_image_free(&img);
  free(buf);
  return rc;
}

static uint64_t splitmix(uint64_t *s)
{
  uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

int es_drift_sample_run_model(es_drift_sample *s, const es_drift_model *dm,
                              const struct es_store *st, const es_manifest *m,
                              const char *spec, char **labels, size_t n_labels,
                              size_t max_emb, uint64_t seed, int jobs, es_error *err)
{
  int by_batch = !strncmp(spec, "batch:", 6);
  const char *name = spec + 6;
  size_t *items = NULL, n = 0;
  item_out *outs = NULL;
  float *emb = NULL;
  int rc = ES_OK;
  items = malloc((m->n ? m->n : 1) * sizeof *items);
  if (!items)
    return es_error_set(err, ES_ENOMEM, "out of memory");
  for (size_t i = 0; i < m->n; i++) {
    const es_item *it = &m->items[i];
    json_t *d = it->extra ? json_object_get(it->extra, "derived_from") : NULL;
    if (d && !json_is_null(d))
      continue;
    int in = by_batch ? (it->n_seen && it->seen[0].batch && !strcmp(it->seen[0].batch, name))
                      : (it->split && !strcmp(it->split, name));
    if (in)
      items[n++] = i;
  }
  outs = calloc(n ? n : 1, sizeof *outs);
  size_t ne = n < max_emb ? n : max_emb;
  if (!outs || (ne && dm->emb_dim > SIZE_MAX / sizeof(float) / ne)) {
    rc = es_error_set(err, ES_ENOMEM, "out of memory");
    goto cleanup;
  }
  emb = malloc((ne ? ne : 1) * dm->emb_dim * sizeof *emb);
  if (!emb) {
    rc = es_error_set(err, ES_ENOMEM, "out of memory");
    goto cleanup;
  }
  /* the embedding subset: a seeded partial Fisher-Yates over positions, then in item order */
  {
    size_t *perm = malloc((n ? n : 1) * sizeof *perm);
    char *chosen = calloc(n ? n : 1, 1);
    if (!perm || !chosen) {
      free(perm);
      free(chosen);
      rc = es_error_set(err, ES_ENOMEM, "out of memory");
      goto cleanup;
    }
    for (size_t i = 0; i < n; i++)
      perm[i] = i;
    uint64_t r = seed ^ 0x6472696674ULL;
    for (size_t i = 0; i < ne; i++) {
      size_t j = i + (size_t)(splitmix(&r) % (n - i));
      size_t t = perm[i];
      perm[i] = perm[j];
      perm[j] = t;
      chosen[perm[i]] = 1;
    }
    int units = s->unit && n == s->n_items;
    free(s->emb_unit);
    s->emb_unit = units ? malloc((ne ? ne : 1) * sizeof *s->emb_unit) : NULL;
    if (units && !s->emb_unit) {
      free(perm);
      free(chosen);
      rc = es_error_set(err, ES_ENOMEM, "out of memory");
      goto cleanup;
    }
    size_t row = 0;
    for (size_t i = 0; i < n; i++)
      if (chosen[i]) {
        if (units)
          s->emb_unit[row] = s->unit[i];
        outs[i].emb = emb + row++ * dm->emb_dim;
      }
    free(perm);
    free(chosen);
  }
  int nthreads = jobs > 0 ? jobs : 1;
  int failed = 0;
#pragma omp parallel num_threads(nthreads) reduction(| : failed)
  {
    es_interp *ip = NULL;
    es_error terr = {0};
    if (es_interp_clone(dm->ip, &ip, &terr) != 0)
      failed = 1;
#pragma omp for schedule(dynamic, 4)
    for (size_t k = 0; k < n; k++) {
      if (!ip)
        continue;
      outs[k].rc = run_one(dm, ip, (const es_store *)st, &m->items[items[k]], &outs[k],
                           &outs[k].err);
    }
    es_interp_free(ip);
  }
  if (failed) {
    rc = es_error_set(err, ES_ENOMEM, "cannot make an interpreter per thread");
    goto cleanup;
  }
  for (size_t k = 0; k < n; k++)
    if (outs[k].rc) { /* the first failure in item order, whatever thread met it */
      *err = outs[k].err;
      rc = outs[k].rc;
      goto cleanup;
    }
  s->classes = calloc(dm->n_classes, sizeof *s->classes);
  s->pred_counts = calloc(dm->n_classes, sizeof *s->pred_counts);
  if (!s->classes || !s->pred_counts) {
    rc = es_error_set(err, ES_ENOMEM, "out of memory");
    goto cleanup;
  }
  s->n_classes = dm->n_classes;
  for (size_t c = 0; c < dm->n_classes; c++) {
    char nb[32];
    snprintf(nb, sizeof nb, "class%zu", c);
    s->classes[c] = strdup(labels && n_labels == dm->n_classes ? labels[c] : nb);
    if (!s->classes[c]) {
      rc = es_error_set(err, ES_ENOMEM, "out of memory");
      goto cleanup;
    }
  }
  free(s->col[ES_DRIFT_CONFIDENCE]);
  s->col[ES_DRIFT_CONFIDENCE] = malloc((n ? n : 1) * sizeof(double));
  if (!s->col[ES_DRIFT_CONFIDENCE]) {
    rc = es_error_set(err, ES_ENOMEM, "out of memory");
    goto cleanup;
  }
  for (size_t k = 0; k < n; k++) {
    s->col[ES_DRIFT_CONFIDENCE][k] = outs[k].conf;
    s->pred_counts[outs[k].pred] += 1;
  }
  s->n[ES_DRIFT_CONFIDENCE] = n;
  if (s->unit && n == s->n_items) { /* design effects, while the column is in item order */
    size_t U = s->n_units;
    double *sum = calloc(U ? U : 1, sizeof *sum), *cnt = calloc(U ? U : 1, sizeof *cnt);
    double *ccnt = calloc(dm->n_classes ? dm->n_classes : 1, sizeof *ccnt);
    uint32_t *cats = malloc((n ? n : 1) * sizeof *cats), *order = malloc((U + 1 + n) * sizeof *cats);
    if (!sum || !cnt || !ccnt || !cats || !order) {
      free(sum);
      free(cnt);
      free(ccnt);
      free(cats);
      free(order);
      rc = es_error_set(err, ES_ENOMEM, "out of memory");
      goto cleanup;
    }
    for (size_t k = 0; k < n; k++)
      cats[k] = (uint32_t)outs[k].pred;
    s->deff[ES_DRIFT_CONFIDENCE] =
        es_deff_numeric(s->col[ES_DRIFT_CONFIDENCE], s->unit, n, sum, cnt);
    s->pred_deff = es_deff_categorical(cats, s->unit, n, U, dm->n_classes, order, ccnt);
    free(sum);
    free(cnt);
    free(ccnt);
    free(cats);
    free(order);
  }
  if (es_sort_doubles(s->col[ES_DRIFT_CONFIDENCE], n)) {
    rc = es_error_set(err, ES_ENOMEM, "out of memory");
    goto cleanup;
  }
  free(s->emb);
  s->emb = emb;
  emb = NULL;
  s->n_emb = ne;
  s->emb_dim = dm->emb_dim;
cleanup:
  free(items);
  free(outs);
  free(emb);
  return rc;
}

/* ---- MMD -------------------------------------------------------------------------------- */

static int cmp_d(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static int cmp_u64(const void *a, const void *b)
{
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

int es_drift_mmd(const float *x, size_t nx, const float *y, size_t ny, size_t dim,
                 const uint32_t *block, unsigned perms, uint64_t seed, int jobs, double *mmd2,
                 double *p, es_error *err)
{
  size_t N = nx + ny;
  if (nx < 2 || ny < 2)
    return es_error_set(err, ES_EUSAGE, "MMD needs at least 2 embeddings per side");
  if (N > SIZE_MAX / N / sizeof(float))
    return es_error_set(err, ES_ENOMEM, "out of memory");
  float *K = malloc(N * N * sizeof *K);
  double *d2 = NULL;
  unsigned char *lab = malloc(N), *blab = malloc(N);
  /* blocks renumbered 0..nblocks-1 (each row its own without block) */
  size_t nblocks = 0;
  uint32_t *bl = malloc(N * sizeof *bl);
  uint64_t *key = malloc(N * sizeof *key);
  if (bl && key) {
    for (size_t i = 0; i < N; i++)
      key[i] = (uint64_t)(block ? block[i] : i) << 32 | i;
    qsort(key, N, sizeof *key, cmp_u64);
    for (size_t k = 0; k < N; k++) {
      if (k == 0 || key[k] >> 32 != key[k - 1] >> 32)
        nblocks++;
      bl[(uint32_t)key[k]] = (uint32_t)(nblocks - 1);
    }
  }
  free(key);
  double *rs0 = malloc(N * sizeof *rs0), *rs1 = malloc(N * sizeof *rs1);
  int rc = ES_OK;
  /* bandwidth: the median squared distance over pairs of the first (up to) 1000 pooled rows */
  size_t nb = N < 1000 ? N : 1000, np = nb * (nb - 1) / 2, k = 0;
  d2 = malloc((np ? np : 1) * sizeof *d2);
  if (!K || !lab || !blab || !bl || !d2 || !rs0 || !rs1) {
    rc = es_error_set(err, ES_ENOMEM, "out of memory for the MMD kernel matrix");
    goto cleanup;
  }
#define ROW(i) ((i) < nx ? x + (i) * dim : y + ((i) - nx) * dim)
  for (size_t i = 0; i < nb; i++)
    for (size_t j = i + 1; j < nb; j++) {
      const float *a = ROW(i), *b = ROW(j);
      double s = 0;
      for (size_t t = 0; t < dim; t++)
        s += ((double)a[t] - b[t]) * ((double)a[t] - b[t]);
      d2[k++] = s;
    }
  qsort(d2, np, sizeof *d2, cmp_d);
  double med = np ? (np % 2 ? d2[np / 2] : (d2[np / 2 - 1] + d2[np / 2]) / 2) : 1;
  if (!(med > 0))
    med = 1;
  double gamma = 1.0 / med; /* k = exp(-d^2 / median d^2) */
#pragma omp parallel for num_threads(jobs > 0 ? jobs : 1) schedule(dynamic, 16)
  for (size_t i = 0; i < N; i++) {
    const float *a = ROW(i);
    for (size_t j = 0; j < N; j++) {
      const float *b = ROW(j);
      double s = 0;
      for (size_t t = 0; t < dim; t++)
        s += ((double)a[t] - b[t]) * ((double)a[t] - b[t]);
      K[i * N + j] = i == j ? 0.0f : (float)exp(-s * gamma);
    }
  }
#undef ROW
  /* MMD^2 (unbiased) for a labelling: within-sums over off-diagonal pairs, cross-sum */
  double obs = 0;
  unsigned ge = 0;
  uint64_t r = seed ^ 0x6d6d64ULL;
  for (size_t i = 0; i < N; i++) /* a block's side: that of its first row */
    blab[bl[i]] = 2;
  for (size_t i = 0; i < N; i++)
    if (blab[bl[i]] == 2)
      blab[bl[i]] = i >= nx;
  for (unsigned t = 0; t <= perms; t++) {
    if (t == 0) {
      for (size_t i = 0; i < N; i++)
        lab[i] = i >= nx;
    } else {
      for (size_t i = nblocks - 1; i > 0; i--) { /* Fisher-Yates on the blocks' sides */
        size_t j = (size_t)(splitmix(&r) % (i + 1));
        unsigned char tmp = blab[i];
        blab[i] = blab[j];
        blab[j] = tmp;
      }
      for (size_t i = 0; i < N; i++)
        lab[i] = blab[bl[i]];
    }
    size_t cx = 0;
    for (size_t i = 0; i < N; i++)
      cx += !lab[i];
    if (cx < 2 || N - cx < 2)
      continue; /* a side too small to estimate: this shuffle cannot count as extreme */
    /* row sums in parallel, each row summed in order, then added up in order: the same
     * numbers whatever the thread count */
#pragma omp parallel for num_threads(jobs > 0 ? jobs : 1) schedule(static)
    for (size_t i = 0; i < N; i++) {
      double a0 = 0, a1 = 0;
      const float *row = K + i * N;
      for (size_t j = 0; j < N; j++) {
        if (lab[j])
          a1 += row[j];
        else
          a0 += row[j];
      }
      rs0[i] = a0;
      rs1[i] = a1;
    }
    double sxx = 0, syy = 0, sxy = 0;
    for (size_t i = 0; i < N; i++) {
      if (lab[i]) {
        syy += rs1[i];
        sxy += rs0[i];
      } else {
        sxx += rs0[i];
      }
    }
    double fx = (double)cx, fy = (double)(N - cx);
    double m2 = sxx / (fx * (fx - 1)) + syy / (fy * (fy - 1)) - 2 * sxy / (fx * fy);
    if (t == 0)
      obs = m2;
    else if (m2 >= obs)
      ge++;
  }
  *mmd2 = obs;
  *p = (1.0 + ge) / (1.0 + perms);
cleanup:
  free(K);
  free(d2);
  free(lab);
  free(blab);
  free(bl);
  free(rs0);
  free(rs1);
  return rc;
}
