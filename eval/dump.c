/* Raw-tensor inference for --dump-outputs, and the file helpers the eval stage shares. The
 * output format is the conformance format: per run, one line per output tensor. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/store.h"
#include "eval/eval.h"

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

/* Reads raw input file k for each model input k: bufs[k] (lens[k] bytes) holding *runs tensors
 * back to back. */
static int read_raw(const es_model *m, const char *const *paths, size_t n_paths, uint8_t **bufs,
                    size_t *lens, size_t *runs, es_error *err)
{
  size_t n_in = es_model_input_count(m);
  if (n_paths != n_in)
    return es_error_set(err, ES_EUSAGE, "the model has %zu input%s but %zu --raw-input %s given",
                        n_in, n_in == 1 ? "" : "s", n_paths, n_paths == 1 ? "was" : "were");
  int rc = ES_OK;
  *runs = 0;
  for (size_t k = 0; k < n_in && !rc; k++) {
    es_tensor t;
    es_model_input(m, k, &t);
    if ((rc = es_read_file(paths[k], &bufs[k], &lens[k], err)))
      break;
    if (t.bytes == 0) {
      rc = es_error_set(err, ES_EUSAGE, "model input %zu has no fixed size", k);
    } else if (lens[k] % t.bytes != 0 || lens[k] == 0) {
      rc = es_error_set(err, ES_EUSAGE,
                        "'%s' holds %zu bytes, not a positive multiple of input %zu's %zu bytes "
                        "(%s, %zu elements)",
                        paths[k], lens[k], k, t.bytes, es_tflite_type_name(t.type), t.count);
    } else if (k > 0 && lens[k] / t.bytes != *runs) {
      rc = es_error_set(err, ES_EUSAGE, "'%s' holds %zu tensors but '%s' holds %zu", paths[k],
                        lens[k] / t.bytes, paths[0], *runs);
    } else {
      *runs = lens[k] / t.bytes;
    }
  }
  return rc;
}

/* Copies run r of the raw inputs into ip's input tensors. */
static void set_inputs(const es_model *m, es_interp *ip, uint8_t *const *bufs, size_t r)
{
  for (size_t k = 0; k < es_model_input_count(m); k++) {
    es_tensor t;
    es_interp_input(ip, k, &t);
    memcpy(t.data, bufs[k] + r * t.bytes, t.bytes);
  }
}

static void free_raw(uint8_t **bufs, size_t n)
{
  for (size_t k = 0; bufs && k < n; k++)
    free(bufs[k]);
  free(bufs);
}

int es_eval_dump_outputs(const es_model *m, const char *const *paths, size_t n_paths,
                         int threads, FILE *out, es_error *err)
{
  size_t n_in = es_model_input_count(m), runs = 0;
  uint8_t **bufs = calloc(n_in ? n_in : 1, sizeof *bufs);
  size_t *lens = calloc(n_in ? n_in : 1, sizeof *lens);
  es_interp *ip = NULL;
  int rc = !bufs || !lens ? es_error_set(err, ES_ENOMEM, "out of memory")
                          : read_raw(m, paths, n_paths, bufs, lens, &runs, err);
  const es_interp_opts o = {.threads = threads};
  if (!rc)
    rc = es_interp_new(m, &o, &ip, err);
  for (size_t r = 0; r < runs && !rc; r++) {
    set_inputs(m, ip, bufs, r);
    if ((rc = es_interp_invoke(ip, err)))
      break;
    for (size_t k = 0; k < es_model_output_count(m); k++) {
      es_tensor t;
      es_interp_output(ip, k, &t);
      print_values(&t, out);
    }
  }
  es_interp_free(ip);
  free_raw(bufs, n_in);
  free(lens);
  return rc;
}

int es_eval_fill_raw(const es_model *m, es_interp *ip, const char *const *paths, size_t n_paths,
                     es_error *err)
{
  size_t n_in = es_model_input_count(m), runs = 0;
  uint8_t **bufs = calloc(n_in ? n_in : 1, sizeof *bufs);
  size_t *lens = calloc(n_in ? n_in : 1, sizeof *lens);
  int rc = !bufs || !lens ? es_error_set(err, ES_ENOMEM, "out of memory")
                          : read_raw(m, paths, n_paths, bufs, lens, &runs, err);
  if (!rc)
    set_inputs(m, ip, bufs, 0);
  free_raw(bufs, n_in);
  free(lens);
  return rc;
}
