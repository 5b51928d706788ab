/* Image classification for edgeset-eval: reading labels.txt, the classifier (image input, resolved
 * preprocessing, class output, softmax or not), one image through decode -> preprocess ->
 * invoke -> dequantize, and --image's JSONL. Files are processed in blocks, each block's
 * images spread over threads that each own an interpreter, and the block printed in input
 * order, so the output never depends on --jobs and pixels of at most one block are alive. */
#include "eval/classify.h"

#include <jansson.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/store.h"
#include "eval/eval.h"
#include "formats/decode.h"
#include "formats/manifest.h"
#include "formats/path_escape.h"

/* ---- labels.txt --------------------------------------------------------------------------- */

int es_eval_vocab_read(const char *path, es_vocab *v, es_error *err)
{
  uint8_t *buf = NULL;
  size_t len;
  es_label_problems probs = {0};
  memset(v, 0, sizeof *v);
  int rc = es_read_file(path, &buf, &len, err);
  if (rc)
    return rc;
  rc = es_vocab_parse(path, (const char *)buf, len, v, &probs, err);
  if (rc == ES_EUSAGE && probs.n)
    es_error_set(err, ES_EUSAGE, "%s%s", probs.msg[0],
                 probs.n > 1 ? " (and more bad lines)" : "");
  else if (rc == ES_OK && v->n == 0)
    rc = es_error_set(err, ES_EUSAGE, "'%s' holds no labels", path);
  es_label_problems_free(&probs);
  free(buf);
  return rc;
}

/* ---- the classifier ----------------------------------------------------------------------- */

struct es_classifier {
  const es_model *m;
  es_preprocess pp; /* resolved */
  es_tensor in, out;
  uint32_t h, w, c;
  size_t classes;
  bool softmax;
};

/* Walks back from tensor t through shape and type changes; is the producer SOFTMAX? */
static bool produced_by_softmax(const es_model *m, int t)
{
  for (size_t hops = 0; hops < 16; hops++) {
    es_op_info op;
    bool found = false;
    for (size_t i = 0; !found && es_model_op_info(m, i, &op) == 0; i++)
      for (size_t k = 0; k < op.n_outputs; k++)
        if (op.outputs[k] == t) {
          found = true;
          break;
        }
    if (!found)
      return false;
    if (op.opcode == ES_OP_SOFTMAX)
      return true;
    if (op.opcode != ES_OP_RESHAPE && op.opcode != ES_OP_SQUEEZE &&
        op.opcode != ES_OP_QUANTIZE && op.opcode != ES_OP_DEQUANTIZE)
      return false;
    if (op.n_inputs < 1 || op.inputs[0] < 0)
      return false;
    t = op.inputs[0];
  }
  return false;
}

int es_classifier_new(const es_model *m, const es_preprocess *pp, es_classifier **out,
                      es_error *err)
{
  *out = NULL;
  es_classifier *c = calloc(1, sizeof *c);
  if (!c)
    return es_error_set(err, ES_ENOMEM, "out of memory");
  int rc = ES_OK;
  c->m = m;
  if (es_model_input(m, 0, &c->in) != 0 || es_model_output(m, 0, &c->out) != 0) {
    rc = es_error_set(err, ES_EUSAGE, "the model has no input or no output");
    goto cleanup;
  }
  if (es_model_input_count(m) != 1) {
    rc = es_error_set(err, ES_EUSAGE, "the model has %zu inputs; --image needs one image input",
                      es_model_input_count(m));
    goto cleanup;
  }
  if ((rc = es_preprocess_target(&c->in, &c->h, &c->w, &c->c, err)) ||
      (rc = es_preprocess_resolve(pp, m, 0, &c->pp, err)))
    goto cleanup;
  for (int i = 0; i + 1 < c->out.rank; i++)
    if (c->out.shape[i] != 1) {
      rc = es_error_set(err, ES_EUSAGE,
                        "output 0 ('%s') is not a class vector: dimension %d is %d, not 1",
                        c->out.name, i, (int)c->out.shape[i]);
      goto cleanup;
    }
  if (c->out.count == 0 ||
      (c->out.type != ES_TFLITE_INT8 && c->out.type != ES_TFLITE_UINT8 &&
       c->out.type != ES_TFLITE_FLOAT32)) {
    rc = es_error_set(err, ES_EUSAGE,
                      "output 0 ('%s') is %s with %zu values; classes need int8, uint8 or "
                      "float32 values",
                      c->out.name, es_tflite_type_name(c->out.type), c->out.count);
    goto cleanup;
  }
  c->classes = c->out.count;
  c->softmax = produced_by_softmax(m, c->out.index);
  *out = c;
  c = NULL;
cleanup:
  free(c);
  return rc;
}

void es_classifier_free(es_classifier *c)
{
  free(c);
}

size_t es_classifier_classes(const es_classifier *c)
{
  return c->classes;
}

bool es_classifier_is_softmax(const es_classifier *c)
{
  return c->softmax;
}

const es_preprocess *es_classifier_preprocess(const es_classifier *c)
{
  return &c->pp;
}

int es_classifier_run(const es_classifier *c, es_interp *ip, const uint8_t *buf, size_t len,
                      double *values, es_error *err)
{
  es_image_info info;
  es_image img = {0};
  int rc = es_image_probe(buf, len, NULL, &info, err);
  if (rc)
    return rc;
  uint32_t w = info.width, h = info.height;
  if (info.orientation >= 5) { /* decoded upright, so the sides swap */
    w = info.height;
    h = info.width;
  }
  es_decode_opts opts = {0};
  opts.scale_denom = es_preprocess_scale_denom(&c->pp, w, h, c->w, c->h);
  if ((rc = es_image_decode(buf, len, &opts, &img, NULL, err)))
    return rc;
  es_tensor in, out;
  es_interp_input(ip, 0, &in);
  if ((rc = es_preprocess_image(&img, &c->pp, &in, err)) || (rc = es_interp_invoke(ip, err)))
    goto cleanup;
  es_interp_output(ip, 0, &out);
  for (size_t i = 0; i < c->classes; i++) {
    double v;
    if (out.type == ES_TFLITE_FLOAT32) {
      float f;
      memcpy(&f, (const uint8_t *)out.data + 4 * i, 4);
      v = f;
    } else {
      int32_t q = out.type == ES_TFLITE_INT8 ? ((const int8_t *)out.data)[i]
                                             : ((const uint8_t *)out.data)[i];
      v = out.scale > 0 ? (double)(q - out.zero_point) * (double)out.scale : (double)q;
    }
    values[i] = v;
  }
cleanup:
  es_image_free(&img);
  return rc;
}

void es_eval_top_k(const double *values, size_t n, size_t k, size_t *idx)
{
  /* selection by insertion: k is small */
  size_t have = 0;
  for (size_t i = 0; i < n; i++) {
    size_t pos = have;
    while (pos > 0 && values[i] > values[idx[pos - 1]])
      pos--;
    if (pos >= k)
      continue;
    size_t last = have < k ? have : k - 1;
    for (size_t j = last; j > pos; j--)
      idx[j] = idx[j - 1];
    idx[pos] = i;
    if (have < k)
      have++;
  }
}

/* ---- many files --------------------------------------------------------------------------- */

typedef struct slot {
  int code;
  char *msg;    /* malloc'd error message, or NULL */
  size_t *top;  /* top_k indices */
  double *vals; /* their values */
} slot;

static void put_json_string(FILE *out, const char *s)
{
  json_t *j = json_string(s);
  char *txt = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
  fputs(txt ? txt : "\"\"", out);
  free(txt);
  json_decref(j);
}

static void classify_one(const es_classifier *c, es_interp *ip, const char *path, size_t k,
                         double *values, slot *s)
{
  es_error err = {0};
  uint8_t *buf = NULL;
  size_t len;
  int rc = es_read_file(path, &buf, &len, &err);
  if (rc == ES_OK) {
    rc = es_classifier_run(c, ip, buf, len, values, &err);
    if (rc)
      es_error_prefix(&err, "cannot decode '%s'", path);
  }
  free(buf);
  s->code = rc;
  if (rc) {
    s->msg = strdup(err.msg);
    return;
  }
  es_eval_top_k(values, c->classes, k, s->top);
  for (size_t i = 0; i < k; i++)
    s->vals[i] = values[s->top[i]];
}

static void print_slot(const es_classifier *c, const es_classify_opts *o, size_t k,
                       const char *path, const slot *s, FILE *out)
{
  es_error err = {0};
  char *esc = es_path_escape(path, &err);
  fputs("{\"file\":", out);
  put_json_string(out, esc ? esc : "");
  free(esc);
  if (s->code) {
    fputs(",\"error\":", out);
    put_json_string(out, s->msg ? s->msg : es_code_name(s->code));
    fputs("}\n", out);
    return;
  }
  fputs(",\"top\":[", out);
  for (size_t i = 0; i < k; i++) {
    fprintf(out, "%s{\"index\":%zu", i ? "," : "", s->top[i]);
    if (o->labels) {
      fputs(",\"label\":", out);
      put_json_string(out, o->labels->names[s->top[i]]);
    }
    /* %.6g of the exact dequantized double: the same text on every machine */
    fprintf(out, ",\"%s\":%.6g}", c->softmax ? "probability" : "score", s->vals[i] + 0.0);
  }
  fputs("]}\n", out);
}

int es_eval_classify_files(const es_classifier *c, const char *const *paths, size_t n,
                           const es_classify_opts *o, FILE *out, es_classify_stats *stats,
                           es_error *err)
{
  memset(stats, 0, sizeof *stats);
  if (o->labels && o->labels->n != c->classes)
    return es_error_set(err, ES_EUSAGE,
                        "the labels file has %zu labels but the model's output has %zu classes",
                        o->labels->n, c->classes);
  int jobs = o->jobs > 0 ? o->jobs : 1;
  /* one image: its inference alone gets the threads (across output rows inside it) */
  const es_interp_opts one = {.threads = n == 1 ? jobs : 1};
  if (n == 1)
    jobs = 1;
  size_t k = o->top_k < c->classes ? o->top_k : c->classes;
  if (k == 0)
    k = 1;
  size_t block = (size_t)jobs * 8;
  es_interp **ips = calloc((size_t)jobs, sizeof *ips);
  double *values = calloc((size_t)jobs * c->classes, sizeof *values);
  slot *slots = calloc(block, sizeof *slots);
  int rc = ES_OK;
  if (!ips || !values || !slots) {
    rc = es_error_set(err, ES_ENOMEM, "out of memory");
    goto cleanup;
  }
  for (size_t i = 0; i < block; i++) {
    slots[i].top = calloc(k, sizeof *slots[i].top);
    slots[i].vals = calloc(k, sizeof *slots[i].vals);
    if (!slots[i].top || !slots[i].vals) {
      rc = es_error_set(err, ES_ENOMEM, "out of memory");
      goto cleanup;
    }
  }
  if ((rc = es_interp_new(c->m, &one, &ips[0], err)))
    goto cleanup;
  for (int t = 1; t < jobs; t++)
    if ((rc = es_interp_clone(ips[0], &ips[t], err)))
      goto cleanup;

  for (size_t b = 0; b < n; b += block) {
    size_t m = n - b < block ? n - b : block;
#pragma omp parallel for schedule(dynamic, 1) num_threads(jobs)
    for (size_t i = 0; i < m; i++) {
      int t = omp_get_thread_num();
      classify_one(c, ips[t], paths[b + i], k, values + (size_t)t * c->classes, &slots[i]);
    }
    for (size_t i = 0; i < m; i++) {
      slot *s = &slots[i];
      print_slot(c, o, k, paths[b + i], s, out);
      if (s->code == ES_OK)
        stats->done++;
      else if (s->code == ES_EIO || s->code == ES_ENOMEM || s->code == ES_EINTERNAL)
        stats->failed++;
      else
        stats->unusable++;
      if (s->code && o->on_error)
        o->on_error(o->ctx, paths[b + i], s->code, s->msg ? s->msg : es_code_name(s->code));
      free(s->msg);
      s->msg = NULL;
    }
  }
cleanup:
  for (int t = 0; ips && t < jobs; t++)
    es_interp_free(ips[t]);
  free(ips);
  free(values);
  for (size_t i = 0; slots && i < block; i++) {
    free(slots[i].top);
    free(slots[i].vals);
    free(slots[i].msg);
  }
  free(slots);
  return rc;
}
