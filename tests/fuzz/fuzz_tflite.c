/* Fuzz target for the TFLite reader (formats/tflite.c) and the int8 interpreter behind it (nn/):
 * whatever bytes come in, loading must succeed or fail with a reason. A model that loads is
 * described (every tensor and operator) and run once with every kernel variant this CPU
 * supports (es_nn_isa_supported), on the same input: bytes drawn from a generator seeded with a
 * hash of the fuzz data. Every variant must succeed or fail alike and give bit-identical outputs
 * (nn/nn.h promises this); any difference aborts, naming the variants and the output.
 * Tight limits (MACs, arena, tensor sizes) and a size bound keep a mutated shape or a large model
 * from making one input take seconds: a model above them fails to load with ES_ELIMIT. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_MODEL_BYTES (1u << 20) /* larger inputs are skipped: no seed is anywhere near */

static uint64_t splitmix(uint64_t *s)
{
  uint64_t z = (*s += 0x9e3779b97f4a7c15u);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}

static void describe(const es_model *m)
{
  es_model_info info;
  es_model_info_get(m, &info);
  size_t nt = es_model_tensor_count(m);
  for (size_t i = 0; i < nt; i++) {
    es_tensor t;
    if (es_model_tensor(m, (int)i, &t) != 0 || t.data != NULL || t.rank < 0 ||
        t.rank > ES_TFLITE_MAX_RANK)
      abort();
  }
  for (size_t i = 0; i < info.n_ops; i++) {
    es_op_info op;
    if (es_model_op_info(m, i, &op) != 0 || !op.name)
      abort();
    for (size_t k = 0; k < op.n_inputs; k++)
      if (op.inputs[k] < -1 || op.inputs[k] >= (int32_t)nt)
        abort();
    for (size_t k = 0; k < op.n_outputs; k++)
      if (op.outputs[k] < 0 || op.outputs[k] >= (int32_t)nt)
        abort();
  }
  if (es_model_op_info(m, info.n_ops, &(es_op_info){0}) != -1)
    abort();
}

typedef struct run {
  int isa;
  int rc;
  size_t n_out;
  uint8_t **out; /* copies of the outputs */
  size_t *out_bytes;
} run;

static void run_free(run *r)
{
  for (size_t i = 0; i < r->n_out; i++)
    free(r->out[i]);
  free(r->out);
  free(r->out_bytes);
}

/* Runs m with variant isa on the input drawn from seed; r gets the outcome and the outputs. */
static void run_isa(const es_model *m, int isa, uint64_t seed, run *r)
{
  memset(r, 0, sizeof *r);
  r->isa = isa;
  es_interp_opts opts = {.isa = isa};
  es_interp *ip = NULL;
  es_error err = {0};
  r->rc = es_interp_new(m, &opts, &ip, &err);
  if (r->rc != ES_OK) {
    if (!err.msg[0])
      abort();
    return;
  }
  if (es_interp_isa(ip) != isa)
    abort();
  for (size_t i = 0; i < es_model_input_count(m); i++) {
    es_tensor t;
    if (es_interp_input(ip, i, &t) != 0)
      abort();
    uint8_t *p = t.data;
    if (!p && t.bytes)
      abort();
    for (size_t b = 0; b < t.bytes; b += 8) {
      uint64_t v = splitmix(&seed);
      memcpy(p + b, &v, t.bytes - b < 8 ? t.bytes - b : 8);
    }
  }
  r->rc = es_interp_invoke(ip, &err);
  if (r->rc != ES_OK) {
    if (!err.msg[0])
      abort();
  } else {
    r->n_out = es_model_output_count(m);
    r->out = calloc(r->n_out ? r->n_out : 1, sizeof *r->out);
    r->out_bytes = calloc(r->n_out ? r->n_out : 1, sizeof *r->out_bytes);
    if (!r->out || !r->out_bytes)
      abort();
    for (size_t i = 0; i < r->n_out; i++) {
      es_tensor t;
      if (es_interp_output(ip, i, &t) != 0)
        abort();
      r->out_bytes[i] = t.bytes;
      r->out[i] = malloc(t.bytes ? t.bytes : 1);
      if (!r->out[i])
        abort();
      if (t.bytes)
        memcpy(r->out[i], t.data, t.bytes);
    }
  }
  es_interp_free(ip);
}

static void check_same(const run *a, const run *b)
{
  const char *na = es_nn_isa_name(a->isa), *nb = es_nn_isa_name(b->isa);
  if ((a->rc == ES_OK) != (b->rc == ES_OK)) {
    fprintf(stderr, "fuzz_tflite: invoke gives %d with %s but %d with %s\n", a->rc, na, b->rc, nb);
    abort();
  }
  if (a->rc != ES_OK)
    return;
  for (size_t i = 0; i < a->n_out; i++) {
    if (a->out_bytes[i] != b->out_bytes[i])
      abort();
    for (size_t k = 0; k < a->out_bytes[i]; k++)
      if (a->out[i][k] != b->out[i][k]) {
        fprintf(stderr, "fuzz_tflite: output %zu byte %zu is %d with %s but %d with %s\n", i, k,
                (int8_t)a->out[i][k], na, (int8_t)b->out[i][k], nb);
        abort();
      }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size > MAX_MODEL_BYTES)
    return 0;
  es_nn_limits lim = {0};
  lim.max_macs = 2000000;
  lim.max_arena_bytes = 4u << 20;
  lim.max_tensor_bytes = 1u << 20;
  lim.max_tensors = 1000;
  lim.max_operators = 1000;
  es_model *m = NULL;
  es_error err = {0};
  int rc = es_model_load(data, size, &lim, &m, &err);
  if (getenv("EDGESET_FUZZ_VERBOSE"))
    fprintf(stderr, "fuzz_tflite: load: %d %s\n", rc, rc ? err.msg : "");
  if (rc != ES_OK) {
    if (m || !err.msg[0] || rc != err.code)
      abort();
    return 0;
  }
  describe(m);
  uint64_t seed = 1469598103934665603u;
  for (size_t i = 0; i < size; i++)
    seed = (seed ^ data[i]) * 1099511628211u;
  run ref;
  run_isa(m, ES_NN_ISA_REFERENCE, seed, &ref);
  for (int isa = ES_NN_ISA_REFERENCE + 1; isa < ES_NN_ISA_COUNT; isa++) {
    if (!es_nn_isa_supported(isa))
      continue;
    run r;
    run_isa(m, isa, seed, &r);
    check_same(&ref, &r);
    run_free(&r);
  }
  if (getenv("EDGESET_FUZZ_VERBOSE"))
    fprintf(stderr, "fuzz_tflite: invoke: %d, %zu outputs\n", ref.rc, ref.n_out);
  run_free(&ref);
  es_model_free(m);
  return 0;
}
