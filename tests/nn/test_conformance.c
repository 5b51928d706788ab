/* The int8 models in tests/data/tflite (TFLM's person_detect, micro_speech, hello_world,
 * simple_add and an ImageNet MobileNetV2; see tests/data/PROVENANCE) through the API, with every
 * kernel variant this CPU runs: every run of every model must give exactly the integers TFLM's
 * reference kernels gave. NAME.inK.raw holds the runs' tensors for model input K back to back;
 * NAME.expected one line per run and output tensor. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn.h"
#include "testutil.h"

static uint8_t *data_file(const char *name, const char *suffix, size_t *len)
{
  char rel[256];
  snprintf(rel, sizeof rel, "tflite/%s%s", name, suffix);
  char *p = tu_data(rel);
  uint8_t *buf = tu_read(p, len);
  cr_assert_not_null(buf, "cannot read %s", p);
  free(p);
  return buf;
}

/* Runs every run of model `name` with variant isa; returns the number of runs. */
static int check_model(const char *name, int isa)
{
  size_t len, exp_len;
  uint8_t *model = data_file(name, ".tflite", &len);
  char *expected = (char *)data_file(name, ".expected", &exp_len);
  expected = realloc(expected, exp_len + 1);
  cr_assert_not_null(expected);
  expected[exp_len] = '\0';
  es_model *m = NULL;
  es_interp *ip = NULL;
  es_error err = {0};
  cr_assert_eq(es_model_load(model, len, NULL, &m, &err), ES_OK, "%s: %s", name, err.msg);
  const es_interp_opts opts = {.isa = isa};
  cr_assert_eq(es_interp_new(m, &opts, &ip, &err), ES_OK, "%s: %s", name, err.msg);
  enum { MAX_IN = 4 };
  uint8_t *in[MAX_IN] = {0};
  size_t in_len[MAX_IN] = {0}, n_in = 0;
  es_tensor t;
  while (es_interp_input(ip, n_in, &t) == 0) {
    cr_assert(n_in < MAX_IN);
    char suffix[16];
    snprintf(suffix, sizeof suffix, ".in%zu.raw", n_in);
    in[n_in] = data_file(name, suffix, &in_len[n_in]);
    cr_assert(t.bytes > 0 && in_len[n_in] % t.bytes == 0, "%s input %zu: %zu bytes", name, n_in,
              in_len[n_in]);
    n_in++;
  }
  es_interp_input(ip, 0, &t);
  const size_t runs = in_len[0] / t.bytes;
  cr_assert(runs > 0);
  const char *line = expected;
  for (size_t r = 0; r < runs; r++) {
    for (size_t k = 0; k < n_in; k++) {
      es_interp_input(ip, k, &t);
      cr_assert_eq(in_len[k] / t.bytes, runs, "%s: inputs hold different run counts", name);
      memcpy(t.data, in[k] + r * t.bytes, t.bytes);
    }
    cr_assert_eq(es_interp_invoke(ip, &err), ES_OK, "%s: %s", name, err.msg);
    for (size_t o = 0; es_interp_output(ip, o, &t) == 0; o++) {
      cr_assert(t.type == ES_TFLITE_INT8, "%s output %zu is not int8", name, o);
      for (size_t i = 0; i < t.count; i++) {
        char *end;
        const long v = strtol(line, &end, 10);
        cr_assert(end != line, "%s: expected file ends early (run %zu)", name, r);
        cr_assert_eq(v, ((const int8_t *)t.data)[i], "%s, %s: run %zu output %zu value %zu",
                     name, es_nn_isa_name(isa), r, o, i);
        line = end;
      }
      cr_assert(*line == '\n', "%s: run %zu output %zu has more expected values", name, r, o);
      line++;
    }
  }
  cr_assert(*line == '\0', "%s: more expected lines than runs", name);
  for (size_t k = 0; k < n_in; k++)
    free(in[k]);
  es_interp_free(ip);
  es_model_free(m);
  free(model);
  free(expected);
  return (int)runs;
}

static void check_all_variants(const char *name)
{
  int variants = 0, runs = 0;
  for (int isa = ES_NN_ISA_REFERENCE; isa < ES_NN_ISA_COUNT; isa++)
    if (es_nn_isa_supported(isa)) {
      runs = check_model(name, isa);
      variants++;
    }
  cr_log_info("%s: %d runs exact with %d variants", name, runs, variants);
}

Test(conformance, hello_world_int8)
{
  check_all_variants("hello_world_int8");
}

Test(conformance, micro_speech)
{
  check_all_variants("micro_speech");
}

Test(conformance, person_detect)
{
  check_all_variants("person_detect");
}

Test(conformance, simple_add)
{
  check_all_variants("simple_add");
}

Test(conformance, mobilenet_v2, .timeout = 1200)
{
  check_all_variants("mobilenet_v2");
}
