/* Class balance from the binary index: counts per class overall and per split, device (of the
 * first occurrence) and batch (of the first occurrence), the imbalance ratio, normalized
 * entropy, suggested class weights and the --max-ratio / --min-count gates. The JSON built
 * here is both the --json output and what the HTML report draws, so their numbers agree. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "label/label.h"

typedef struct table {
  uint32_t *row_of;   /* string number (n_strs = null) -> row + 1, 0 = none yet */
  uint32_t *key;      /* row -> string number */
  uint64_t *counts;   /* rows x K */
  size_t rows;
} table;

static int cmp_str_null_first(const char *a, const char *b)
{
  if (!a || !b)
    return !a && !b ? 0 : !a ? -1 : 1;
  return strcmp(a, b);
}

static json_t *table_json(const es_index *ix, const table *t, const char *keyname,
                          char *const *cls, size_t K)
{
  uint32_t *order = malloc((t->rows ? t->rows : 1) * sizeof *order);
  json_t *arr = json_array();
  if (!order || !arr) {
    free(order);
    json_decref(arr);
    return NULL;
  }
  for (size_t r = 0; r < t->rows; r++)
    order[r] = (uint32_t)r;
  /* rows sorted by their name, null first; a small insertion sort keeps this reentrant */
  for (size_t a = 1; a < t->rows; a++) {
    uint32_t v = order[a];
    size_t b = a;
    while (b > 0 && cmp_str_null_first(es_index_str(ix, t->key[order[b - 1]]),
                                       es_index_str(ix, t->key[v])) > 0) {
      order[b] = order[b - 1];
      b--;
    }
    order[b] = v;
  }
  for (size_t a = 0; a < t->rows; a++) {
    size_t r = order[a];
    json_t *counts = json_object();
    uint64_t total = 0;
    for (size_t k = 0; k < K; k++) {
      total += t->counts[r * K + k];
      json_object_set_new(counts, cls[k], json_integer((json_int_t)t->counts[r * K + k]));
    }
    const char *name = es_index_str(ix, t->key[r]);
    json_array_append_new(arr, json_pack("{s:o, s:I, s:o}", keyname,
                                         name ? json_string(name) : json_null(), "total",
                                         (json_int_t)total, "counts", counts));
  }
  free(order);
  return arr;
}

static int table_init(table *t, size_t n_strs, size_t K, size_t max_rows)
{
  memset(t, 0, sizeof *t);
  t->row_of = calloc(n_strs + 1, sizeof *t->row_of);
  t->key = calloc(max_rows ? max_rows : 1, sizeof *t->key);
  size_t cells = (max_rows ? max_rows : 1) * (K ? K : 1);
  t->counts = calloc(cells, sizeof *t->counts);
  return t->row_of && t->key && t->counts ? 0 : -1;
}

static void table_add(table *t, size_t n_strs, uint32_t s, size_t K, size_t k)
{
  size_t slot = s == ES_INDEX_NONE ? n_strs : s;
  if (!t->row_of[slot]) {
    t->key[t->rows] = s;
    t->row_of[slot] = (uint32_t)++t->rows;
  }
  t->counts[(t->row_of[slot] - 1) * K + k]++;
}

static void table_free(table *t)
{
  free(t->row_of);
  free(t->key);
  free(t->counts);
}

json_t *es_balance_compute(const es_index *ix, const es_balance_opts *o, int *failed,
                           es_error *err)
{
  json_t *out = NULL;
  size_t K = 0;
  char **cls = NULL;
  long *class_of = NULL; /* string number -> class, -1 */
  uint64_t *count = NULL;
  table ts = {0}, td = {0}, tb = {0};
  size_t items = 0, labelled = 0, unlabelled = 0, augmented = 0;
  *failed = 0;

  class_of = malloc((ix->n_strs ? ix->n_strs : 1) * sizeof *class_of);
  cls = calloc(ix->n_strs + (o->vocab ? o->vocab->n : 0) + 1, sizeof *cls);
  if (!class_of || !cls)
    goto nomem;
  for (size_t s = 0; s < ix->n_strs; s++)
    class_of[s] = -1;
  if (o->vocab)
    for (size_t v = 0; v < o->vocab->n; v++) {
      cls[K] = o->vocab->names[v];
      uint32_t num = ES_INDEX_NONE;
      size_t val;
      if (es_strmap_get(&ix->str_of, cls[K], &val))
        num = (uint32_t)val;
      if (num != ES_INDEX_NONE)
        class_of[num] = (long)K;
      K++;
    }
  /* labels not in the vocabulary (or all, without one), sorted by name */
  size_t first_extra = K;
  for (size_t i = 0; i < ix->n; i++) {
    uint32_t l = ix->items[i].label;
    if (l != ES_INDEX_NONE && class_of[l] < 0) {
      class_of[l] = (long)K;
      cls[K++] = ix->strs[l];
    }
  }
  for (size_t a = first_extra + 1; a < K; a++) { /* insertion sort of the extras */
    char *v = cls[a];
    size_t b = a;
    while (b > first_extra && strcmp(cls[b - 1], v) > 0) {
      cls[b] = cls[b - 1];
      b--;
    }
    cls[b] = v;
  }
  for (size_t k = first_extra; k < K; k++) {
    size_t val;
    es_strmap_get(&ix->str_of, cls[k], &val);
    class_of[val] = (long)k;
  }
  /* rows: the distinct splits, devices and batches (not every string of the index) */
  size_t rows[3] = {0, 0, 0};
  {
    uint8_t *seen = calloc(ix->n_strs + 1, 1);
    if (!seen)
      goto nomem;
    for (int d = 0; d < 3; d++) {
      memset(seen, 0, ix->n_strs + 1);
      for (size_t i = 0; i < ix->n; i++) {
        const es_index_item *x = &ix->items[i];
        uint32_t s = d == 0 ? x->split : d == 1 ? x->device : x->batch;
        size_t slot = s == ES_INDEX_NONE ? ix->n_strs : s;
        rows[d] += !seen[slot];
        seen[slot] = 1;
      }
    }
    free(seen);
  }
  count = calloc(K ? K : 1, sizeof *count);
  if (!count || table_init(&ts, ix->n_strs, K, rows[0]) ||
      table_init(&td, ix->n_strs, K, rows[1]) || table_init(&tb, ix->n_strs, K, rows[2]))
    goto nomem;
  for (size_t i = 0; i < ix->n; i++) {
    const es_index_item *x = &ix->items[i];
    if (x->derived_from != ES_INDEX_NONE && !o->include_augmented) {
      augmented++;
      continue;
    }
    items++;
    if (x->label == ES_INDEX_NONE) {
      unlabelled++;
      continue;
    }
    labelled++;
    size_t k = (size_t)class_of[x->label];
    count[k]++;
    table_add(&ts, ix->n_strs, x->split, K, k);
    table_add(&td, ix->n_strs, x->device, K, k);
    table_add(&tb, ix->n_strs, x->batch, K, k);
  }

  json_t *classes = json_array(), *under = json_array(), *failures = json_array();
  uint64_t mx = 0, mn = UINT64_MAX;
  double H = 0;
  for (size_t k = 0; k < K; k++) {
    mx = count[k] > mx ? count[k] : mx;
    mn = count[k] < mn ? count[k] : mn;
    double share = labelled ? (double)count[k] / (double)labelled : 0;
    if (share > 0)
      H -= share * log(share);
    json_t *w = count[k] ? es_json_real((double)labelled / ((double)K * (double)count[k]))
                         : json_null();
    json_array_append_new(classes, json_pack("{s:s, s:I, s:o, s:o}", "label", cls[k], "count",
                                             (json_int_t)count[k], "share", es_json_real(share),
                                             "weight", w));
    if (o->min_count && count[k] < o->min_count)
      json_array_append_new(under, json_string(cls[k]));
  }
  json_t *ratio = K && mn > 0 ? es_json_real((double)mx / (double)mn) : json_null();
  json_t *entropy = K >= 2 && labelled ? es_json_real(H / log((double)K)) : json_null();
  if (o->max_ratio > 0) {
    if (!K) {
      json_array_append_new(failures, json_string("no labelled items"));
    } else if (mn == 0) {
      json_array_append_new(failures,
                            json_string("a class has no items: the imbalance ratio is infinite"));
    } else if ((double)mx / (double)mn > o->max_ratio) {
      char b[160];
      snprintf(b, sizeof b, "imbalance ratio %.6g is above --max-ratio %.6g",
               (double)mx / (double)mn, o->max_ratio);
      json_array_append_new(failures, json_string(b));
    }
  }
  if (o->min_count) {
    for (size_t k = 0; k < K; k++)
      if (count[k] < o->min_count) {
        char b[400];
        snprintf(b, sizeof b, "class '%s' has %llu items, under --min-count %llu", cls[k],
                 (unsigned long long)count[k], o->min_count);
        json_array_append_new(failures, json_string(b));
      }
    if (!K)
      json_array_append_new(failures, json_string("no labelled items"));
  }
  *failed = json_array_size(failures) > 0;
  json_t *by_split = table_json(ix, &ts, "split", cls, K);
  json_t *by_device = table_json(ix, &td, "device", cls, K);
  json_t *by_batch = table_json(ix, &tb, "batch", cls, K);
  if (!by_split || !by_device || !by_batch) {
    json_decref(by_split);
    json_decref(by_device);
    json_decref(by_batch);
    json_decref(classes);
    json_decref(under);
    json_decref(failures);
    goto nomem;
  }
  out = json_pack("{s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:{s:b, s:o}}",
                  "items", (json_int_t)items, "labelled", (json_int_t)labelled, "unlabelled",
                  (json_int_t)unlabelled, "augmented_excluded", (json_int_t)augmented,
                  "classes", classes, "imbalance_ratio", ratio, "normalized_entropy", entropy,
                  "min_count",
                  o->min_count ? json_integer((json_int_t)o->min_count) : json_null(),
                  "max_ratio", o->max_ratio > 0 ? es_json_real(o->max_ratio) : json_null(),
                  "under_min_count", under, "by_split", by_split, "by_device", by_device,
                  "by_batch", by_batch, "gates", "passed", !*failed, "failures", failures);
  if (!out)
    goto nomem;
  goto cleanup;
nomem:
  es_error_set(err, ES_ENOMEM, "out of memory computing the balance");
cleanup:
  free(class_of);
  free(cls);
  free(count);
  table_free(&ts);
  table_free(&td);
  table_free(&tb);
  return out;
}
