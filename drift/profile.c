/* The reference profile (--save-profile, --reference profile:FILE): a sample summarized once
 * and reused. It keeps each numeric column in ascending order (above max_values an evenly
 * spaced subset of order statistics, so the tests then see a reference of that size), the label
 * counts and every device's sharpness and brightness history with its clipped-frame count.
 * Parsing checks every field, since the file may come from anywhere. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "drift/drift.h"

#define PROFILE_FORMAT "edgeset-drift-profile"
#define PROFILE_VERSION 1

/* values[i * n / k] style subset of order statistics: position round((i + 0.5) n / k - 0.5) */
static json_t *values_json(const double *a, size_t n, size_t max_values)
{
  json_t *arr = json_array();
  if (!arr)
    return NULL;
  size_t k = (max_values && n > max_values) ? max_values : n;
  for (size_t i = 0; i < k; i++) {
    size_t pos = k == n ? i : (size_t)(((double)i + 0.5) * (double)n / (double)k);
    if (pos >= n)
      pos = n - 1;
    if (json_array_append_new(arr, json_real(a[pos]))) {
      json_decref(arr);
      return NULL;
    }
  }
  return arr;
}

json_t *es_drift_profile_json(const es_drift_sample *s, size_t max_values, es_error *err)
{
  json_t *root = json_object(), *cols = json_object(), *labels = json_object(),
         *devs = json_array();
  if (!root || !cols || !labels || !devs)
    goto nomem;
  json_object_set_new(root, "format", json_string(PROFILE_FORMAT));
  json_object_set_new(root, "version", json_integer(PROFILE_VERSION));
  json_object_set_new(root, "source", json_string(s->spec ? s->spec : ""));
  json_object_set_new(root, "items", json_integer((json_int_t)s->n_items));
  for (int c = 0; c < ES_DRIFT_N_NUMERIC; c++) {
    if (!s->n[c])
      continue;
    json_t *v = values_json(s->col[c], s->n[c], max_values);
    if (!v || json_object_set_new(cols, es_drift_numeric_names[c], v))
      goto nomem;
  }
  /* units of evidence: the design effects (1 when frames are independent) */
  json_t *deff = json_object();
  if (!deff)
    goto nomem;
  for (int c = 0; c < ES_DRIFT_N_NUMERIC; c++)
    if (s->n[c])
      json_object_set_new(deff, es_drift_numeric_names[c], json_real(s->deff[c] > 1 ? s->deff[c] : 1));
  json_object_set_new(deff, "label", json_real(s->label_deff > 1 ? s->label_deff : 1));
  if (s->n_classes)
    json_object_set_new(deff, "predicted", json_real(s->pred_deff > 1 ? s->pred_deff : 1));
  json_object_set_new(root, "units", json_integer((json_int_t)s->n_units));
  json_object_set_new(root, "design_effects", deff);
  for (size_t i = 0; i < s->n_labels; i++)
    json_object_set_new(labels, s->labels[i], json_real(s->label_counts[i]));
  for (size_t i = 0; i < s->n_dev; i++) {
    const es_drift_device *d = &s->dev[i];
    if (!d->n_sample)
      continue;
    json_t *o = json_object();
    if (!o)
      goto nomem;
    json_object_set_new(o, "device", json_string(d->name));
    json_object_set_new(o, "items", json_integer((json_int_t)d->n));
    json_object_set_new(o, "clipped", json_real(d->clipped));
    json_object_set_new(o, "sharpness", values_json(d->sharpness, d->n_sample, max_values));
    json_object_set_new(o, "brightness", values_json(d->brightness, d->n_sample, max_values));
    json_object_set_new(o, "deff_sharpness", json_real(d->deff_sharpness > 1 ? d->deff_sharpness : 1));
    json_object_set_new(o, "deff_brightness", json_real(d->deff_brightness > 1 ? d->deff_brightness : 1));
    json_array_append_new(devs, o);
  }
  if (s->n_classes) {
    json_t *pc = json_array();
    for (size_t i = 0; pc && i < s->n_classes; i++)
      json_array_append_new(pc, json_pack("[s f]", s->classes[i], s->pred_counts[i]));
    json_object_set_new(root, "predicted", pc);
  }
  if (s->n_emb) {
    json_t *rows = json_array();
    for (size_t i = 0; rows && i < s->n_emb; i++) {
      json_t *row = json_array();
      for (size_t k = 0; row && k < s->emb_dim; k++)
        json_array_append_new(row, json_real(s->emb[i * s->emb_dim + k]));
      json_array_append_new(rows, row);
    }
    json_object_set_new(root, "embeddings", rows);
    if (s->emb_unit) {
      json_t *eu = json_array();
      for (size_t i = 0; eu && i < s->n_emb; i++)
        json_array_append_new(eu, json_integer((json_int_t)s->emb_unit[i]));
      json_object_set_new(root, "embedding_units", eu);
    }
  }
  json_object_set_new(root, "numeric", cols);
  json_object_set_new(root, "labels", labels);
  json_object_set_new(root, "unlabelled", json_real(s->unlabelled));
  json_object_set_new(root, "devices", devs);
  return root;
nomem:
  json_decref(root);
  json_decref(cols);
  json_decref(labels);
  json_decref(devs);
  es_error_set(err, ES_ENOMEM, "out of memory");
  return NULL;
}

/* An ascending array of finite numbers into a malloc'd buffer. */
static int read_values(const json_t *arr, const char *what, double **out, size_t *n,
                       es_error *err)
{
  if (!json_is_array(arr))
    return es_error_set(err, ES_EFORMAT, "'%s' is not an array of numbers", what);
  size_t k = json_array_size(arr);
  double *v = malloc((k ? k : 1) * sizeof *v);
  if (!v)
    return es_error_set(err, ES_ENOMEM, "out of memory");
  for (size_t i = 0; i < k; i++) {
    const json_t *e = json_array_get(arr, i);
    if (!json_is_number(e)) {
      free(v);
      return es_error_set(err, ES_EFORMAT, "'%s' value %zu is not a number", what, i);
    }
    v[i] = json_number_value(e);
    if (!isfinite(v[i]) || (i && v[i] < v[i - 1])) {
      free(v);
      return es_error_set(err, ES_EFORMAT, "'%s' is not in ascending order at value %zu", what,
                          i);
    }
  }
  *out = v;
  *n = k;
  return ES_OK;
}

static int count_of(const json_t *v, const char *what, double *out, es_error *err)
{
  if (!json_is_number(v) || !(json_number_value(v) >= 0) || !isfinite(json_number_value(v)))
    return es_error_set(err, ES_EFORMAT, "'%s' is not a count", what);
  *out = json_number_value(v);
  return ES_OK;
}

/* A count of items: a whole number that a double and a size_t hold exactly (at most 2^53). */
static int items_of(const json_t *v, const char *what, size_t *out, es_error *err)
{
  double d;
  int rc = count_of(v, what, &d, err);
  if (rc)
    return rc;
  if (d != floor(d) || d > 9007199254740992.0)
    return es_error_set(err, ES_EFORMAT, "'%s' is not a whole number up to 2^53", what);
  *out = (size_t)d;
  return ES_OK;
}

/* An optional design effect: a finite number from 1 to 10^12 (absent: 1). */
static int deff_of(const json_t *v, const char *what, double *out, es_error *err)
{
  *out = 1;
  if (!v)
    return ES_OK;
  double d = json_is_number(v) ? json_number_value(v) : 0;
  if (!(d >= 1 && d <= 1e12))
    return es_error_set(err, ES_EFORMAT, "design effect of '%s' is not a number from 1 to 1e12",
                        what);
  *out = d;
  return ES_OK;
}

int es_drift_profile_parse(const uint8_t *buf, size_t len, const char *spec,
                           es_drift_sample *s, es_error *err)
{
  memset(s, 0, sizeof *s);
  json_error_t je;
  json_t *root = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &je);
  int rc = ES_OK;
  if (!root)
    return es_error_set(err, ES_EFORMAT, "not JSON: %s (line %d)", je.text, je.line);
  if (!json_is_object(root) ||
      !json_is_string(json_object_get(root, "format")) ||
      strcmp(json_string_value(json_object_get(root, "format")), PROFILE_FORMAT)) {
    rc = es_error_set(err, ES_EFORMAT, "not an edgeset-drift profile (no \"format\": \"%s\")",
                      PROFILE_FORMAT);
    goto cleanup;
  }
  const json_t *ver = json_object_get(root, "version");
  if (!json_is_integer(ver) || json_integer_value(ver) < 1) {
    rc = es_error_set(err, ES_EFORMAT, "bad \"version\"");
    goto cleanup;
  }
  if (json_integer_value(ver) > PROFILE_VERSION) {
    rc = es_error_set(err, ES_EVERSION, "profile version %lld is newer than this program's %d",
                      (long long)json_integer_value(ver), PROFILE_VERSION);
    goto cleanup;
  }
  if (!(s->spec = strdup(spec))) {
    rc = es_error_set(err, ES_ENOMEM, "out of memory");
    goto cleanup;
  }
  if ((rc = items_of(json_object_get(root, "items"), "items", &s->n_items, err)))
    goto cleanup;
  const json_t *cols = json_object_get(root, "numeric");
  if (!json_is_object(cols)) {
    rc = es_error_set(err, ES_EFORMAT, "\"numeric\" is not an object");
    goto cleanup;
  }
  for (int c = 0; c < ES_DRIFT_N_NUMERIC; c++) {
    const json_t *a = json_object_get(cols, es_drift_numeric_names[c]);
    if (a && (rc = read_values(a, es_drift_numeric_names[c], &s->col[c], &s->n[c], err)))
      goto cleanup;
  }
  /* units of evidence (absent in profiles written before 2026-12-07: frames independent) */
  const json_t *units = json_object_get(root, "units");
  if (units && (rc = items_of(units, "units", &s->n_units, err)))
    goto cleanup;
  if (s->n_units > s->n_items) {
    rc = es_error_set(err, ES_EFORMAT, "\"units\" is more than \"items\"");
    goto cleanup;
  }
  const json_t *deffs = json_object_get(root, "design_effects");
  if (deffs && !json_is_object(deffs)) {
    rc = es_error_set(err, ES_EFORMAT, "\"design_effects\" is not an object");
    goto cleanup;
  }
  for (int c = 0; deffs && c < ES_DRIFT_N_NUMERIC + 2; c++) {
    const char *nm = c < ES_DRIFT_N_NUMERIC ? es_drift_numeric_names[c]
                     : c == ES_DRIFT_N_NUMERIC ? "label" : "predicted";
    double *dst = c < ES_DRIFT_N_NUMERIC ? &s->deff[c]
                  : c == ES_DRIFT_N_NUMERIC ? &s->label_deff : &s->pred_deff;
    if ((rc = deff_of(json_object_get(deffs, nm), nm, dst, err)))
      goto cleanup;
  }
  const json_t *labels = json_object_get(root, "labels");
  if (!json_is_object(labels)) {
    rc = es_error_set(err, ES_EFORMAT, "\"labels\" is not an object");
    goto cleanup;
  }
  const char *key;
  const json_t *val;
  json_object_foreach((json_t *)labels, key, val) {
    double cnt;
    if ((rc = count_of(val, key, &cnt, err)) ||
        (rc = es_drift_sample_add_label(s, key, cnt, err)))
      goto cleanup;
  }
  if ((rc = count_of(json_object_get(root, "unlabelled"), "unlabelled", &s->unlabelled, err)))
    goto cleanup;
  const json_t *devs = json_object_get(root, "devices");
  if (!json_is_array(devs)) {
    rc = es_error_set(err, ES_EFORMAT, "\"devices\" is not an array");
    goto cleanup;
  }
  size_t nd = json_array_size(devs);
  if (nd && !(s->dev = calloc(nd, sizeof *s->dev))) {
    rc = es_error_set(err, ES_ENOMEM, "out of memory");
    goto cleanup;
  }
  s->cap_dev = nd;
  for (size_t i = 0; i < nd; i++) {
    const json_t *o = json_array_get(devs, i);
    const json_t *name = json_object_get(o, "device");
    if (!json_is_object(o) || !json_is_string(name)) {
      rc = es_error_set(err, ES_EFORMAT, "device %zu has no \"device\" name", i);
      goto cleanup;
    }
    es_drift_device *d = &s->dev[s->n_dev++];
    if (!(d->name = strdup(json_string_value(name)))) {
      rc = es_error_set(err, ES_ENOMEM, "out of memory");
      goto cleanup;
    }
    size_t n, ns, nb;
    if ((rc = items_of(json_object_get(o, "items"), "items", &n, err)) ||
        (rc = count_of(json_object_get(o, "clipped"), "clipped", &d->clipped, err)) ||
        (rc = read_values(json_object_get(o, "sharpness"), "sharpness", &d->sharpness, &ns,
                          err)) ||
        (rc = read_values(json_object_get(o, "brightness"), "brightness", &d->brightness, &nb,
                          err))) {
      es_error_prefix(err, "device '%s'", d->name);
      goto cleanup;
    }
    if ((rc = deff_of(json_object_get(o, "deff_sharpness"), "deff_sharpness",
                      &d->deff_sharpness, err)) ||
        (rc = deff_of(json_object_get(o, "deff_brightness"), "deff_brightness",
                      &d->deff_brightness, err))) {
      es_error_prefix(err, "device '%s'", d->name);
      goto cleanup;
    }
    if (ns != nb || d->clipped > (double)n) {
      rc = es_error_set(err, ES_EFORMAT, "device '%s': inconsistent counts", d->name);
      goto cleanup;
    }
    d->n = n;
    d->n_sample = ns;
  }
  const json_t *pc = json_object_get(root, "predicted");
  if (pc) {
    size_t k = json_array_size(pc);
    if (!json_is_array(pc) || !k) {
      rc = es_error_set(err, ES_EFORMAT, "\"predicted\" is not a list of [class, count]");
      goto cleanup;
    }
    s->classes = calloc(k, sizeof *s->classes);
    s->pred_counts = calloc(k, sizeof *s->pred_counts);
    if (!s->classes || !s->pred_counts) {
      rc = es_error_set(err, ES_ENOMEM, "out of memory");
      goto cleanup;
    }
    for (size_t i = 0; i < k; i++) {
      const json_t *e = json_array_get(pc, i);
      const json_t *nm = json_array_get(e, 0);
      if (!json_is_array(e) || json_array_size(e) != 2 || !json_is_string(nm) ||
          (rc = count_of(json_array_get(e, 1), "predicted", &s->pred_counts[i], err))) {
        rc = rc ? rc : es_error_set(err, ES_EFORMAT, "\"predicted\" entry %zu is not [class, count]", i);
        goto cleanup;
      }
      if (!(s->classes[i] = strdup(json_string_value(nm)))) {
        rc = es_error_set(err, ES_ENOMEM, "out of memory");
        goto cleanup;
      }
      s->n_classes = i + 1;
    }
  }
  const json_t *rows = json_object_get(root, "embeddings");
  if (rows) {
    size_t k = json_array_size(rows);
    size_t dim = json_array_size(json_array_get(rows, 0));
    if (!json_is_array(rows) || !k || !dim || k > SIZE_MAX / dim / sizeof(float)) {
      rc = es_error_set(err, ES_EFORMAT, "\"embeddings\" is not a list of rows of numbers");
      goto cleanup;
    }
    if (!(s->emb = malloc(k * dim * sizeof *s->emb))) {
      rc = es_error_set(err, ES_ENOMEM, "out of memory");
      goto cleanup;
    }
    for (size_t i = 0; i < k; i++) {
      const json_t *row = json_array_get(rows, i);
      if (!json_is_array(row) || json_array_size(row) != dim) {
        rc = es_error_set(err, ES_EFORMAT, "embedding row %zu does not have %zu numbers", i, dim);
        goto cleanup;
      }
      for (size_t t = 0; t < dim; t++) {
        const json_t *v = json_array_get(row, t);
        /* within float range: a larger value would become infinity */
        if (!json_is_number(v) || !(fabs(json_number_value(v)) <= FLT_MAX)) {
          rc = es_error_set(err, ES_EFORMAT, "embedding row %zu value %zu is not a float", i, t);
          goto cleanup;
        }
        s->emb[i * dim + t] = (float)json_number_value(v);
      }
    }
    s->n_emb = k;
    const json_t *eu = json_object_get(root, "embedding_units");
    if (eu) {
      if (!json_is_array(eu) || json_array_size(eu) != k ||
          !(s->emb_unit = malloc(k * sizeof *s->emb_unit))) {
        rc = es_error_set(err, eu && json_is_array(eu) && json_array_size(eu) == k ? ES_ENOMEM
                                                                                 : ES_EFORMAT,
                          "\"embedding_units\" is not one unit number per embedding row");
        goto cleanup;
      }
      for (size_t i = 0; i < k; i++) {
        const json_t *v = json_array_get(eu, i);
        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            json_integer_value(v) > (json_int_t)UINT32_MAX - 1) {
          rc = es_error_set(err, ES_EFORMAT, "embedding unit %zu is not a unit number", i);
          goto cleanup;
        }
        s->emb_unit[i] = (uint32_t)json_integer_value(v);
      }
    }
    s->emb_dim = dim;
  }
  /* columns are ascending already; prepare sorts labels and devices by name */
  rc = es_drift_sample_prepare(s, 1, err);
cleanup:
  json_decref(root);
  if (rc)
    es_drift_sample_free(s);
  return rc;
}
