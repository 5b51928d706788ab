/* Raw-tensor inference for --dump-outputs, and the file helpers the eval stage shares. The
 * output format is the conformance format: per run, one line per output tensor. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/store.h"
#include "eval/eval.h"

int es_eval_load_model(const char *path, const es_nn_limits *limits, es_model **model,
                       es_error *err)
{
  uint8_t *buf;
  size_t len;
  int rc = es_read_file(path, &buf, &len, err);
  if (rc == ES_OK) {
    rc = es_model_load(buf, len, limits, model, err);
    free(buf);
  }
  if (rc)
    es_error_prefix(err, "cannot load model '%s'", path);
  return rc;
}

static void print_values(const es_tensor *t, FILE *out)
{
  const uint8_t *d = t->data;
  for (size_t i = 0; i < t->count; i++) {
    if (i)
      fputc(' ', out);
    switch (t->type) {
    case ES_TFLITE_INT8:
      fprintf(out, "%d", (int)((const int8_t *)d)[i]);
      break;
    case ES_TFLITE_UINT8:
    case ES_TFLITE_BOOL:
      fprintf(out, "%u", (unsigned)d[i]);
      break;
    case ES_TFLITE_INT16: {
      int16_t v;
      memcpy(&v, d + 2 * i, 2);
      fprintf(out, "%d", (int)v);
      break;
    }
    case ES_TFLITE_INT32: {
      int32_t v;
      memcpy(&v, d + 4 * i, 4);
      fprintf(out, "%" PRId32, v);
      break;
    }
    case ES_TFLITE_INT64: {
      int64_t v;
      memcpy(&v, d + 8 * i, 8);
      fprintf(out, "%" PRId64, v);
      break;
    }
    case ES_TFLITE_FLOAT32: {
      float v;
      memcpy(&v, d + 4 * i, 4);
      fprintf(out, "%.9g", (double)v);
      break;
    }
    default:
      fputc('?', out);
      break;
    }
  }
  fputc('\n', out);
}

int es_eval_dump_outputs(const es_model *m, const char *const *paths, size_t n_paths, FILE *out,
                         es_error *err)
{
  size_t n_in = es_model_input_count(m);
  if (n_paths != n_in)
    return es_error_set(err, ES_EUSAGE, "the model has %zu input%s but %zu --raw-input %s given",
                        n_in, n_in == 1 ? "" : "s", n_paths, n_paths == 1 ? "was" : "were");
  int rc = ES_OK;
  uint8_t **bufs = calloc(n_in ? n_in : 1, sizeof *bufs);
  size_t *lens = calloc(n_in ? n_in : 1, sizeof *lens);
  es_interp *ip = NULL;
  size_t runs = 0;
  if (!bufs || !lens) {
    rc = es_error_set(err, ES_ENOMEM, "out of memory");
    goto cleanup;
  }
  for (size_t k = 0; k < n_in; k++) {
    es_tensor t;
    es_model_input(m, k, &t);
    if ((rc = es_read_file(paths[k], &bufs[k], &lens[k], err)))
      goto cleanup;
    if (t.bytes == 0) {
      rc = es_error_set(err, ES_EUSAGE, "model input %zu has no fixed size", k);
      goto cleanup;
    }
    if (lens[k] % t.bytes != 0) {
      rc = es_error_set(err, ES_EUSAGE,
                        "'%s' holds %zu bytes, not a multiple of input %zu's %zu bytes (%s, %zu "
                        "elements)",
                        paths[k], lens[k], k, t.bytes, es_tflite_type_name(t.type), t.count);
      goto cleanup;
    }
    size_t n = lens[k] / t.bytes;
    if (k > 0 && n != runs) {
      rc = es_error_set(err, ES_EUSAGE, "'%s' holds %zu tensors but '%s' holds %zu", paths[k], n,
                        paths[0], runs);
      goto cleanup;
    }
    runs = n;
  }
  if ((rc = es_interp_new(m, NULL, &ip, err)))
    goto cleanup;
  for (size_t r = 0; r < runs; r++) {
    for (size_t k = 0; k < n_in; k++) {
      es_tensor t;
      es_interp_input(ip, k, &t);
      memcpy(t.data, bufs[k] + r * t.bytes, t.bytes);
    }
    if ((rc = es_interp_invoke(ip, err)))
      goto cleanup;
    for (size_t k = 0; k < es_model_output_count(m); k++) {
      es_tensor t;
      es_interp_output(ip, k, &t);
      print_values(&t, out);
    }
  }
cleanup:
  es_interp_free(ip);
  for (size_t k = 0; bufs && k < n_in; k++)
    free(bufs[k]);
  free(bufs);
  free(lens);
  return rc;
}
