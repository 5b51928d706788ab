/* Hostile models: a model file is untrusted input. Every tensor a kernel reads is checked at load
 * against what the kernel's loops index (all dimensions, not only the element count), every
 * quantization parameter against the shifts the integer arithmetic supports, and values that
 * overflow int32 at run time wrap as TFLM's int32 arithmetic does on a microcontroller (docs/nn.md,
 * "Overflow policy"). The ASan + UBSan build (-fno-sanitize-recover) runs these tests too, so an
 * out-of-bounds read or a signed overflow aborts them.
 *
 * With EDGESET_WRITE_CORPUS=DIR set, the crafted models are also written to DIR (that is how
 * tests/fuzz/corpus/tflite/hostile_*.tflite were made). */
#include <criterion/criterion.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nn/quant.h"
#include "nn_testmodel.h"
#include "testutil.h"

/* ---- helpers ------------------------------------------------------------------------------ */

static void corpus_save(const char *name, const uint8_t *bytes, size_t len)
{
  const char *dir = getenv("EDGESET_WRITE_CORPUS");
  if (!dir || !*dir)
    return;
  char path[1024];
  snprintf(path, sizeof path, "%s/hostile_%s.tflite", dir, name);
  cr_assert_eq(tu_write(path, bytes, len), 0, "cannot write %s", path);
}

/* Finishes b, saves the model as a corpus seed, and checks that loading it fails with code and a
 * message containing every needle (NULL-terminated). */
static void expect_refused(es_tflite_builder *b, const char *seed, int code,
                           const char *const *needles)
{
  size_t len;
  uint8_t *bytes = tm_finish(b, &len);
  corpus_save(seed, bytes, len);
  es_error err = {0};
  const int rc = tm_load_status(bytes, len, &err);
  cr_assert_eq(rc, code, "%s: load gave %d, expected %d: %s", seed, rc, code, err.msg);
  for (size_t i = 0; needles[i]; i++)
    cr_assert(strstr(err.msg, needles[i]), "%s: '%s' is not in: %s", seed, needles[i], err.msg);
}

/* Loads the model and runs it once with every kernel variant this CPU has; each output 0 must be
 * want (out_bytes). ins[k] feeds input k. Frees bytes. */
static void run_every_variant(uint8_t *bytes, size_t len, const void *const *ins, size_t n_in,
                              const void *want, size_t out_bytes)
{
  es_model *m = NULL;
  es_error err = {0};
  cr_assert_eq(es_model_load(bytes, len, NULL, &m, &err), ES_OK, "%s", err.msg);
  free(bytes);
  for (int isa = ES_NN_ISA_REFERENCE; isa < ES_NN_ISA_COUNT; isa++) {
    if (!es_nn_isa_supported(isa))
      continue;
    es_interp_opts o = {.isa = isa};
    es_interp *ip = NULL;
    cr_assert_eq(es_interp_new(m, &o, &ip, &err), ES_OK, "%s", err.msg);
    for (size_t k = 0; k < n_in; k++) {
      es_tensor t;
      cr_assert_eq(es_interp_input(ip, k, &t), 0);
      if (t.bytes)
        memcpy(t.data, ins[k], t.bytes);
    }
    cr_assert_eq(es_interp_invoke(ip, &err), ES_OK, "%s", err.msg);
    es_tensor t;
    cr_assert_eq(es_interp_output(ip, 0, &t), 0);
    cr_assert_eq(t.bytes, out_bytes);
    if (out_bytes)
      cr_assert(memcmp(t.data, want, out_bytes) == 0, "variant %s differs from the expected output",
                es_nn_isa_name(isa));
    es_interp_free(ip);
  }
  es_model_free(m);
}

static es_tflite_options opts_default(void)
{
  es_tflite_options o;
  es_tflite_options_default(&o);
  return o;
}

/* ---- FULLY_CONNECTED: the filter must hold what the loops read ----------------------------- */

/* The reported crash: filter [0, 64, 4096] with a 1-byte buffer has 0 elements, so the
 * buffer check passed, and the kernel (and the fast path's packing) read 64 x 4096 bytes. */
static es_tflite_builder *fc_empty_filter(int64_t filter_zp)
{
  es_tflite_builder *b = es_tflite_builder_new();
  const int32_t ishape[] = {1, 4096}, fshape[] = {0, 64, 4096}, oshape[] = {1, 64};
  const int8_t one_byte[1] = {0};
  const float s = 1.0f;
  int in = tm_act(b, "input", ishape, 2, 1.0f, 0);
  int buf = es_tflite_builder_add_buffer(b, one_byte, 1);
  int f = es_tflite_builder_add_tensor(b, "filter", ES_TFLITE_INT8, fshape, 3, buf, &s,
                                       &filter_zp, 1, 0);
  int out = tm_act(b, "output", oshape, 2, 1.0f, 0);
  const int32_t ins[] = {in, f};
  cr_assert(es_tflite_builder_add_operator(b, ES_OP_FULLY_CONNECTED, ins, 2, &out, 1, NULL) >= 0);
  es_tflite_builder_set_io(b, &in, 1, &out, 1);
  return b;
}

Test(hostile, fully_connected_filter_without_elements)
{
  const char *const needles[] = {"operator 0 (FULLY_CONNECTED): filter (tensor 1 'filter') has "
                                 "shape [0,64,4096] (0 values): the kernel reads 64 units of 4096",
                                 NULL};
  /* zero point 0: the fast variants' packing read it at load; 1: the reference loops at run time */
  expect_refused(fc_empty_filter(0), "fc_empty_filter_zp0", ES_EFORMAT, needles);
  expect_refused(fc_empty_filter(1), "fc_empty_filter_zp1", ES_EFORMAT, needles);
}

Test(hostile, fully_connected_filter_and_bias_shapes)
{
  /* fewer units than outputs; a bias shorter than the units; an input that is not batches of the
   * filter's depth */
  const int8_t w[24] = {0};
  const int32_t bias[2] = {0};
  const float s = 1.0f;
  struct {
    int32_t fshape[3];
    int frank;
    int32_t ishape[2], oshape[2];
    int bias_n;
    const char *needle;
  } cases[] = {
      {{2, 4}, 2, {1, 4}, {1, 3}, 0, "filter (tensor 1 'f') has shape [2,4]: 2 units, fewer than"},
      {{3, 4}, 2, {1, 4}, {1, 3}, 2, "bias (tensor 3 'b') has 2 values: the kernel reads 3"},
      {{3, 4}, 2, {1, 5}, {1, 3}, 0, "input (tensor 0 'in') has shape [1,5] (5 values): the "
                                     "kernel reads 1 batch(es) of 4 values"},
      {{0, 3, 4}, 3, {1, 4}, {1, 3}, 0, "filter (tensor 1 'f') has shape [0,3,4] (0 values)"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    es_tflite_builder *b = es_tflite_builder_new();
    int in = tm_act(b, "in", cases[i].ishape, 2, 1.0f, 0);
    int f = tm_const(b, "f", ES_TFLITE_INT8, cases[i].fshape, cases[i].frank, w, sizeof w, &s, 1,
                     0);
    int out = tm_act(b, "out", cases[i].oshape, 2, 1.0f, 0);
    int32_t ins[] = {in, f, -1};
    if (cases[i].bias_n) {
      const int32_t bshape[] = {cases[i].bias_n};
      ins[2] = tm_const(b, "b", ES_TFLITE_INT32, bshape, 1, bias, 4 * (size_t)cases[i].bias_n, &s,
                        1, 0);
    }
    cr_assert(es_tflite_builder_add_operator(b, ES_OP_FULLY_CONNECTED, ins, 3, &out, 1, NULL) >= 0);
    es_tflite_builder_set_io(b, &in, 1, &out, 1);
    const char *const needles[] = {"operator 0 (FULLY_CONNECTED): ", cases[i].needle, NULL};
    char seed[32];
    snprintf(seed, sizeof seed, "fc_shape_%zu", i);
    expect_refused(b, seed, ES_EFORMAT, needles);
  }
}

Test(hostile, fully_connected_filter_holding_more_units_runs)
{
  /* TFLM reads the first output_depth units of a filter that has more (output_depth <= units);
   * a 3-D filter [2, 3, 4] holds 24 values, the kernel reads 3 x 4 of them */
  es_tflite_builder *b = es_tflite_builder_new();
  const int32_t ishape[] = {1, 4}, fshape[] = {2, 3, 4}, oshape[] = {1, 3};
  int8_t w[24];
  for (int i = 0; i < 24; i++)
    w[i] = (int8_t)(i % 5 - 2);
  const float s = 1.0f;
  int in = tm_act(b, "in", ishape, 2, 1.0f, 0);
  int f = tm_const(b, "f", ES_TFLITE_INT8, fshape, 3, w, sizeof w, &s, 1, 0);
  int out = tm_act(b, "out", oshape, 2, 1.0f, 0);
  const int32_t ins[] = {in, f};
  cr_assert(es_tflite_builder_add_operator(b, ES_OP_FULLY_CONNECTED, ins, 2, &out, 1, NULL) >= 0);
  es_tflite_builder_set_io(b, &in, 1, &out, 1);
  size_t len;
  uint8_t *bytes = tm_finish(b, &len);
  const int8_t x[] = {1, 2, 3, 4};
  int8_t want[3];
  for (int c = 0; c < 3; c++) {
    int acc = 0;
    for (int d = 0; d < 4; d++)
      acc += w[c * 4 + d] * x[d];
    want[c] = (int8_t)acc;
  }
  const void *xs[] = {x};
  run_every_variant(bytes, len, xs, 1, want, sizeof want);
}

/* edgeset-eval's exit status and message for the reported model (docs/eval.md: 2 = a model that
 * cannot be used). */
Test(hostile, edgeset_eval_refuses_the_reported_model_with_exit_2)
{
  char *bin = NULL;
  const char *env = getenv("EDGESET_BIN");
  if (env && *env) {
    bin = tu_bin("edgeset-eval");
  } else { /* the test binary lives next to edgeset-eval */
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    cr_assert(n > 0);
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    cr_assert(slash);
    strcpy(slash + 1, "edgeset-eval");
    bin = strdup(self);
  }
  cr_assert(bin);
  if (access(bin, X_OK) != 0) {
    free(bin);
    cr_skip_test("edgeset-eval is not built next to the tests");
  }
  char *dir = tu_tmpdir();
  cr_assert(dir);
  char model[1024];
  snprintf(model, sizeof model, "%s/m.tflite", dir);
  size_t len;
  uint8_t *bytes = tm_finish(fc_empty_filter(0), &len);
  cr_assert_eq(tu_write(model, bytes, len), 0);
  free(bytes);
  char *argv[] = {bin, "--model", model, "--info", NULL};
  char *out = NULL, *errout = NULL;
  const int status = tu_run(argv, NULL, &out, &errout);
  cr_assert_eq(status, 2, "exit %d, stderr: %s", status, errout ? errout : "");
  cr_assert(errout && strstr(errout, "cannot load model") &&
                strstr(errout, "operator 0 (FULLY_CONNECTED): filter (tensor 1 'filter')"),
            "%s", errout ? errout : "");
  free(out);
  free(errout);
  free(bin);
  free(dir);
}

/* ---- LOGISTIC / TANH: the input left shift must be 0 .. 31 --------------------------------- */

static es_tflite_builder *unary_model(int32_t code, float in_scale, float out_scale, int64_t out_zp)
{
  es_tflite_builder *b = es_tflite_builder_new();
  const int32_t shape[] = {1, 3};
  int in = tm_act(b, "in", shape, 2, in_scale, 0);
  int out = tm_act(b, "out", shape, 2, out_scale, out_zp);
  cr_assert(es_tflite_builder_add_operator(b, code, &in, 1, &out, 1, NULL) >= 0);
  es_tflite_builder_set_io(b, &in, 1, &out, 1);
  return b;
}

Test(hostile, logistic_and_tanh_refuse_input_scales_outside_the_shift_range)
{
  /* 1e-9 * 2^27 = 0.134 = 0.54 * 2^-2: TFLM's CalculateInputRadius would shift by -2 (undefined;
   * the release build returned -128 for input 0); 2^5 * 2^27 needs a left shift of 33 */
  const char *const lo[] = {"operator 0 (LOGISTIC): input (tensor 0 'in') has scale 1e-09: the "
                            "fixed-point input left shift would be -2",
                            NULL};
  expect_refused(unary_model(ES_OP_LOGISTIC, 1e-9f, 1.0f / 256, -128), "logistic_scale_1e-9",
                 ES_EUNSUPPORTED, lo);
  const char *const th[] = {"operator 0 (TANH): input (tensor 0 'in') has scale 1e-09", NULL};
  expect_refused(unary_model(ES_OP_TANH, 1e-9f, 1.0f / 128, 0), "tanh_scale_1e-9",
                 ES_EUNSUPPORTED, th);
  const char *const hi[] = {"operator 0 (LOGISTIC): input (tensor 0 'in') has scale 32: the "
                            "fixed-point input left shift would be 33",
                            NULL};
  expect_refused(unary_model(ES_OP_LOGISTIC, 32.0f, 1.0f / 256, -128), "logistic_scale_32",
                 ES_EUNSUPPORTED, hi);
}

Test(hostile, logistic_and_tanh_smallest_input_scale_runs)
{
  /* 2^-28 * 2^27 = 0.5: left shift 0, the smallest TFLM's arithmetic supports; every int8 input
   * is then within 2^-21 of 0, so logistic gives 1/2 (0 with zero point -128) and tanh 0 */
  const int8_t x[3] = {-128, 0, 127};
  const void *xs[] = {x};
  const int8_t zeros[3] = {0, 0, 0};
  size_t len;
  uint8_t *bytes = tm_finish(unary_model(ES_OP_LOGISTIC, ldexpf(1, -28), 1.0f / 256, -128), &len);
  run_every_variant(bytes, len, xs, 1, zeros, 3);
  bytes = tm_finish(unary_model(ES_OP_TANH, ldexpf(1, -28), 1.0f / 128, 0), &len);
  run_every_variant(bytes, len, xs, 1, zeros, 3);
}

/* ---- zero-element tensors with huge dimensions ---------------------------------------------- */

Test(hostile, dimension_product_must_fit_int32_even_without_elements)
{
  es_tflite_builder *b = es_tflite_builder_new();
  const int32_t s[] = {0, 65536, 65536};
  int in = tm_act(b, "in", s, 3, 1.0f, 0);
  int out = tm_act(b, "out", s, 3, 1.0f, 0);
  cr_assert(es_tflite_builder_add_operator(b, ES_OP_RELU, &in, 1, &out, 1, NULL) >= 0);
  es_tflite_builder_set_io(b, &in, 1, &out, 1);
  const char *const needles[] = {"tensor 0 ('in') has too many elements: its dimensions multiply "
                                 "to more than 2^31 - 1",
                                 NULL};
  expect_refused(b, "empty_extent_2p32", ES_ELIMIT, needles);

  /* CONV_2D with no output channels and a [0, 50000, 50000, 1] filter: the old loader computed
   * the filter's 50000 * 50000 depth in int */
  b = es_tflite_builder_new();
  const int32_t ishape[] = {1, 50000, 0, 1}, fshape[] = {0, 50000, 50000, 1},
                oshape[] = {1, 50000, 0, 0};
  const int8_t one[1] = {0};
  const float fs = 1.0f;
  in = tm_act(b, "in", ishape, 4, 1.0f, 0);
  int f = tm_const(b, "f", ES_TFLITE_INT8, fshape, 4, one, 1, &fs, 1, 0);
  out = tm_act(b, "out", oshape, 4, 1.0f, 0);
  es_tflite_options o = opts_default();
  o.padding = ES_PAD_SAME;
  const int32_t ins[] = {in, f};
  cr_assert(es_tflite_builder_add_operator(b, ES_OP_CONV_2D, ins, 2, &out, 1, &o) >= 0);
  es_tflite_builder_set_io(b, &in, 1, &out, 1);
  const char *const cn[] = {"tensor 1 ('f') has too many elements", NULL};
  expect_refused(b, "conv_empty_filter_2p31", ES_ELIMIT, cn);
}

/* A spatial operator on an input [1, 2147483647, 0, 1]: no elements, but TFLM's
 * ComputeOutSize (in + stride - 1) / stride overflowed int in the old loader. */
static es_tflite_builder *spatial_huge_height(int32_t code)
{
  es_tflite_builder *b = es_tflite_builder_new();
  const int32_t ishape[] = {1, INT32_MAX, 0, 1}, oshape[] = {1, 1073741824, 0, 1},
                fshape[] = {1, 1, 1, 1}, bshape[] = {1};
  const int8_t w[1] = {1};
  const int32_t bias[1] = {0};
  const float s = 1.0f;
  int in = tm_act(b, "in", ishape, 4, 1.0f, 0);
  int out = tm_act(b, "out", oshape, 4, 1.0f, 0);
  es_tflite_options o = opts_default();
  o.padding = ES_PAD_SAME;
  o.stride_h = o.stride_w = 2;
  o.filter_h = o.filter_w = 2;
  int32_t ins[3] = {in, -1, -1};
  size_t n_in = 1;
  if (code == ES_OP_CONV_2D || code == ES_OP_DEPTHWISE_CONV_2D) {
    ins[1] = tm_const(b, "f", ES_TFLITE_INT8, fshape, 4, w, 1, &s, 1, 0);
    ins[2] = tm_const(b, "b", ES_TFLITE_INT32, bshape, 1, bias, 4, &s, 1, 0);
    n_in = 3;
  }
  cr_assert(es_tflite_builder_add_operator(b, code, ins, n_in, &out, 1, &o) >= 0);
  es_tflite_builder_set_io(b, &in, 1, &out, 1);
  return b;
}

Test(hostile, spatial_operators_refuse_indices_beyond_int32)
{
  const struct {
    int32_t code;
    const char *name, *seed;
  } ops[] = {{ES_OP_CONV_2D, "CONV_2D", "conv_height_2p31"},
             {ES_OP_DEPTHWISE_CONV_2D, "DEPTHWISE_CONV_2D", "dwconv_height_2p31"},
             {ES_OP_AVERAGE_POOL_2D, "AVERAGE_POOL_2D", "avgpool_height_2p31"},
             {ES_OP_MAX_POOL_2D, "MAX_POOL_2D", "maxpool_height_2p31"}};
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
    char op[64];
    snprintf(op, sizeof op, "operator 0 (%s): input (tensor 0 'in') has height 2147483647",
             ops[i].name);
    const char *const needles[] = {op, "its indices overflow int32", NULL};
    expect_refused(spatial_huge_height(ops[i].code), ops[i].seed, ES_EFORMAT, needles);
  }
}

Test(hostile, empty_convolution_with_large_filter_loads_and_runs)
{
  /* no output channels, a 40000 x 40000 filter without elements: consistent, nothing to compute */
  es_tflite_builder *b = es_tflite_builder_new();
  const int32_t ishape[] = {1, 40000, 0, 1}, fshape[] = {0, 40000, 40000, 1},
                oshape[] = {1, 40000, 0, 0};
  const int8_t one[1] = {0};
  const float fs = 1.0f;
  int in = tm_act(b, "in", ishape, 4, 1.0f, 0);
  int f = tm_const(b, "f", ES_TFLITE_INT8, fshape, 4, one, 1, &fs, 1, 0);
  int out = tm_act(b, "out", oshape, 4, 1.0f, 0);
  es_tflite_options o = opts_default();
  o.padding = ES_PAD_SAME;
  const int32_t ins[] = {in, f};
  cr_assert(es_tflite_builder_add_operator(b, ES_OP_CONV_2D, ins, 2, &out, 1, &o) >= 0);
  es_tflite_builder_set_io(b, &in, 1, &out, 1);
  size_t len;
  uint8_t *bytes = tm_finish(b, &len);
  corpus_save("conv_empty_40000", bytes, len);
  const void *xs[] = {""};
  run_every_variant(bytes, len, xs, 1, "", 0);
}

Test(hostile, mean_over_empty_and_huge_dimensions)
{
  /* [2147483647, 0] reduced over axis 0: nothing to sum, one empty output row */
  es_tflite_builder *b = es_tflite_builder_new();
  const int32_t ishape[] = {INT32_MAX, 0}, oshape[] = {1, 0}, ashape[] = {1};
  const int32_t axis[] = {0};
  int in = tm_act(b, "in", ishape, 2, 1.0f, 0);
  int ax = tm_const(b, "axis", ES_TFLITE_INT32, ashape, 1, axis, sizeof axis, NULL, 0, 0);
  int out = tm_act(b, "out", oshape, 2, 1.0f, 0);
  es_tflite_options o = opts_default();
  o.keep_dims = true;
  const int32_t ins[] = {in, ax};
  cr_assert(es_tflite_builder_add_operator(b, ES_OP_MEAN, ins, 2, &out, 1, &o) >= 0);
  es_tflite_builder_set_io(b, &in, 1, &out, 1);
  size_t len;
  uint8_t *bytes = tm_finish(b, &len);
  corpus_save("mean_empty_2p31", bytes, len);
  const void *xs[] = {""};
  run_every_variant(bytes, len, xs, 1, "", 0);

  /* the same reduced over axis 1 (the empty one) would need 2^31 - 1 outputs */
  b = es_tflite_builder_new();
  const int32_t oshape2[] = {INT32_MAX, 1}, axis1[] = {1};
  in = tm_act(b, "in", ishape, 2, 1.0f, 0);
  ax = tm_const(b, "axis", ES_TFLITE_INT32, ashape, 1, axis1, sizeof axis1, NULL, 0, 0);
  out = tm_act(b, "out", oshape2, 2, 1.0f, 0);
  const int32_t ins2[] = {in, ax};
  cr_assert(es_tflite_builder_add_operator(b, ES_OP_MEAN, ins2, 2, &out, 1, &o) >= 0);
  es_tflite_builder_set_io(b, &in, 1, &out, 1);
  const char *const needles[] = {"tensor 2 ('out') exceeds", NULL};
  expect_refused(b, "mean_empty_axis_2p31_outputs", ES_ELIMIT, needles);
}

/* ---- run-time int32 overflow wraps as in TFLM ----------------------------------------------- */

static uint8_t *softmax_row(int depth, size_t *len)
{
  es_tflite_builder *b = es_tflite_builder_new();
  const int32_t shape[] = {1, depth};
  int in = tm_act(b, "in", shape, 2, 0.1f, 0);
  int out = tm_act(b, "out", shape, 2, 1.0f / 256, -128);
  cr_assert(es_tflite_builder_add_operator(b, ES_OP_SOFTMAX, &in, 1, &out, 1, NULL) >= 0);
  es_tflite_builder_set_io(b, &in, 1, &out, 1);
  return tm_finish(b, len);
}

Test(hostile, softmax_wide_rows_of_equal_values)
{
  /* Each value at the row maximum adds exp(0) = 2^19 to TFLM's int32 Q12.19 sum. 400 values sum
   * to 2^27.6: 1/400 of 256 rounds to 1, output -127. From 512 values the sum reaches 2^28 and
   * TFLM's final RoundingDivideByPOT is asked for a shift of 32 or more (35 at most), which on
   * Cortex-M gives 1: output -127 (nn/quant.h). From 4096 values the sum wraps at 2^31 (5000:
   * 2621440000 wraps to -1673527296), as it does in TFLM on a microcontroller; GetReciprocal then
   * sees no headroom and the shift is 35: output -127. 8192 values wrap the sum to exactly 0:
   * GetReciprocal(0) (headroom 32) runs its Newton iterations on -1/2, where the int32 sums wrap
   * too, and the shift is 3: output -128. */
  const int depths[] = {400, 600, 4096, 4097, 5000, 8192};
  for (size_t i = 0; i < sizeof depths / sizeof depths[0]; i++) {
    const int depth = depths[i];
    const int8_t expect = depth == 8192 ? -128 : -127;
    size_t len;
    uint8_t *bytes = softmax_row(depth, &len);
    if (depth == 5000)
      corpus_save("softmax_5000_wide", bytes, len);
    int8_t *x = malloc((size_t)depth), *want = malloc((size_t)depth);
    cr_assert(x && want);
    memset(x, 7, (size_t)depth);
    memset(want, expect, (size_t)depth);
    const void *xs[] = {x};
    run_every_variant(bytes, len, xs, 1, want, (size_t)depth);
    free(x);
    free(want);
  }
}

/* MEAN of n values at the maximum of int8 with zero point -128: TFLM's int32 sum minus
 * zero_point * n is truncated to int32 (static_cast), and from 2^24 values the sum itself wraps
 * (in TFLM too, as int32 arithmetic on a microcontroller). The expected value follows TFLM's
 * QuantizedMeanOrSum step by step with wrapping done explicitly here. */
static void mean_of(size_t n, int8_t value, int64_t zp)
{
  es_tflite_builder *b = es_tflite_builder_new();
  const int32_t ishape[] = {1, (int32_t)n}, oshape[] = {1, 1}, ashape[] = {1};
  const int32_t axis[] = {1};
  int in = tm_act(b, "in", ishape, 2, 1.0f, zp);
  int ax = tm_const(b, "axis", ES_TFLITE_INT32, ashape, 1, axis, sizeof axis, NULL, 0, 0);
  int out = tm_act(b, "out", oshape, 2, 1.0f, 0);
  es_tflite_options o = opts_default();
  o.keep_dims = true;
  const int32_t ins[] = {in, ax};
  cr_assert(es_tflite_builder_add_operator(b, ES_OP_MEAN, ins, 2, &out, 1, &o) >= 0);
  es_tflite_builder_set_io(b, &in, 1, &out, 1);
  size_t len;
  uint8_t *bytes = tm_finish(b, &len);

  int32_t mult;
  int shift;
  es_q_quantize_multiplier(1.0, &mult, &shift);
  int sh = 63 - __builtin_clzll((unsigned long long)n);
  sh = sh < 32 ? sh : 32;
  sh = sh < 31 + shift ? sh : 31 + shift;
  mult = (int32_t)(((int64_t)mult << sh) / (int64_t)n);
  shift -= sh;
  const uint32_t sum = (uint32_t)(int32_t)value * (uint32_t)n; /* int32 that wraps */
  const int32_t shifted = (int32_t)(uint32_t)((uint64_t)(int64_t)(int32_t)sum -
                                              (uint64_t)(zp * (int64_t)n));
  int32_t q = es_q_add_wrap(es_q_mul_by_qm(shifted, mult, shift), 0);
  const int8_t want = (int8_t)(q < -128 ? -128 : q > 127 ? 127 : q);

  int8_t *x = malloc(n);
  cr_assert(x);
  memset(x, value, n);
  const void *xs[] = {x};
  run_every_variant(bytes, len, xs, 1, &want, 1);
  free(x);
}

Test(hostile, mean_of_millions_of_values_wraps_like_tflm, .timeout = 120)
{
  /* 8421505 * 255 = 2147483775 > 2^31 - 1: sum - zp * n wraps to -2147483521, giving -128 where
   * the real mean (255) would clamp to 127 */
  mean_of(8421505, 127, -128);
  mean_of(8421505, -128, 127);
  mean_of(17000000, 127, 0); /* 127 * 17e6 wraps the int32 sum itself */
}

/* Scales whose effective multiplier is 2^31 - 1 with shift 0: input 1 + 2^-15, filter 1 - 2^-16,
 * output 1 + 2^-16. An accumulator of INT32_MIN then requantizes to -2147483647, and adding the
 * output zero point -128 wraps to 2147483521 in TFLM's int32 (clamped: 127); INT32_MAX gives
 * 2147483646, + 127 wraps negative (clamped: -128). Every kernel variant must agree. */
#define WRAP_IN_SCALE (1.0f + 0x1p-15f)
#define WRAP_F_SCALE (1.0f - 0x1p-16f)
#define WRAP_OUT_SCALE (1.0f + 0x1p-16f)

static uint8_t *wrap_model(int32_t code, int64_t out_zp, int32_t bias0, size_t *len)
{
  es_tflite_builder *b = es_tflite_builder_new();
  const int8_t w[8] = {0};
  const int32_t bias[2] = {bias0, 0};
  const float fs[2] = {WRAP_F_SCALE, WRAP_F_SCALE}, bs[2] = {1, 1};
  const int32_t bshape[] = {2};
  int in, f, out;
  es_tflite_options o = opts_default();
  o.padding = ES_PAD_VALID;
  if (code == ES_OP_FULLY_CONNECTED) {
    const int32_t ishape[] = {1, 4}, fshape[] = {2, 4}, oshape[] = {1, 2};
    in = tm_act(b, "in", ishape, 2, WRAP_IN_SCALE, 0);
    f = tm_const(b, "f", ES_TFLITE_INT8, fshape, 2, w, 8, fs, 2, 0);
    out = tm_act(b, "out", oshape, 2, WRAP_OUT_SCALE, out_zp);
  } else if (code == ES_OP_CONV_2D) {
    const int32_t ishape[] = {1, 1, 1, 4}, fshape[] = {2, 1, 1, 4}, oshape[] = {1, 1, 1, 2};
    in = tm_act(b, "in", ishape, 4, WRAP_IN_SCALE, 0);
    f = tm_const(b, "f", ES_TFLITE_INT8, fshape, 4, w, 8, fs, 2, 0);
    out = tm_act(b, "out", oshape, 4, WRAP_OUT_SCALE, out_zp);
  } else {
    const int32_t ishape[] = {1, 1, 1, 2}, fshape[] = {1, 1, 1, 2}, oshape[] = {1, 1, 1, 2};
    in = tm_act(b, "in", ishape, 4, WRAP_IN_SCALE, 0);
    f = tm_const(b, "f", ES_TFLITE_INT8, fshape, 4, w, 2, fs, 2, 3);
    out = tm_act(b, "out", oshape, 4, WRAP_OUT_SCALE, out_zp);
  }
  int bi = tm_const(b, "b", ES_TFLITE_INT32, bshape, 1, bias, sizeof bias, bs, 2, 0);
  const int32_t ins[] = {in, f, bi};
  cr_assert(es_tflite_builder_add_operator(b, code, ins, 3, &out, 1, &o) >= 0);
  es_tflite_builder_set_io(b, &in, 1, &out, 1);
  return tm_finish(b, len);
}

Test(hostile, requantized_accumulator_plus_zero_point_wraps_like_tflm)
{
  int32_t m;
  int s;
  es_q_quantize_multiplier((double)WRAP_IN_SCALE * (double)WRAP_F_SCALE / (double)WRAP_OUT_SCALE,
                           &m, &s);
  cr_assert(m == INT32_MAX && s == 0, "%d %d", m, s);
  const int32_t codes[] = {ES_OP_CONV_2D, ES_OP_DEPTHWISE_CONV_2D, ES_OP_FULLY_CONNECTED};
  const char *seeds[] = {"conv_wrap", "dwconv_wrap", "fc_wrap"};
  const int8_t x[4] = {5, -3, 100, -128};
  const void *xs[] = {x};
  for (size_t i = 0; i < 3; i++) {
    size_t len;
    uint8_t *bytes = wrap_model(codes[i], -128, INT32_MIN, &len);
    corpus_save(seeds[i], bytes, len);
    const int8_t want_lo[2] = {127, -128}; /* INT32_MIN -> 127 (wrapped); 0 -> zero point */
    run_every_variant(bytes, len, xs, 1, want_lo, 2);
    bytes = wrap_model(codes[i], 127, INT32_MAX, &len);
    const int8_t want_hi[2] = {-128, 127};
    run_every_variant(bytes, len, xs, 1, want_hi, 2);
  }
}

Test(hostile, mul_product_shifted_to_int32_min_wraps_like_tflm)
{
  /* scales 2^9 (1 + 2^-15) * 2^8 (1 - 2^-16) / (1 + 2^-16): multiplier 2^31 - 1, left shift 17;
   * 128 * 128 << 17 = 2^31 wraps to INT32_MIN, requantizes to -2147483647, and the output zero
   * point -128 wraps it to 2147483521: clamped, 127 */
  const float s1 = 0x1p9f * WRAP_IN_SCALE, s2 = 0x1p8f * WRAP_F_SCALE;
  int32_t m;
  int s;
  es_q_quantize_multiplier((double)s1 * (double)s2 / (double)WRAP_OUT_SCALE, &m, &s);
  cr_assert(m == INT32_MAX && s == 17, "%d %d", m, s);
  es_tflite_builder *b = es_tflite_builder_new();
  const int32_t shape[] = {2};
  int a = tm_act(b, "a", shape, 1, s1, -1);
  int c = tm_act(b, "b", shape, 1, s2, -1);
  int out = tm_act(b, "out", shape, 1, WRAP_OUT_SCALE, -128);
  const int32_t ins[] = {a, c};
  cr_assert(es_tflite_builder_add_operator(b, ES_OP_MUL, ins, 2, &out, 1, NULL) >= 0);
  es_tflite_builder_set_io(b, ins, 2, &out, 1);
  size_t len;
  uint8_t *bytes = tm_finish(b, &len);
  corpus_save("mul_wrap", bytes, len);
  const int8_t xa[2] = {127, -128}, xb[2] = {127, 127}, want[2] = {127, -128};
  const void *xs[] = {xa, xb};
  run_every_variant(bytes, len, xs, 2, want, 2);
}

/* ---- quantization parameters the integer arithmetic cannot take ----------------------------- */

Test(hostile, effective_scales_that_are_not_finite_or_need_too_large_shifts)
{
  /* per-tensor FULLY_CONNECTED multiplies input and filter scales in float (as TFLM does):
   * 1e30 * 1e30 is infinite, which QuantizeMultiplier cannot take (frexp of infinity) */
  es_tflite_builder *b = es_tflite_builder_new();
  const int32_t ishape[] = {1, 2}, fshape[] = {1, 2}, oshape[] = {1, 1};
  const int8_t w[2] = {1, 1};
  const float big = 1e30f;
  int in = tm_act(b, "in", ishape, 2, 1e30f, 0);
  int f = tm_const(b, "f", ES_TFLITE_INT8, fshape, 2, w, 2, &big, 1, 0);
  int out = tm_act(b, "out", oshape, 2, 1.0f, 0);
  const int32_t ins[] = {in, f};
  cr_assert(es_tflite_builder_add_operator(b, ES_OP_FULLY_CONNECTED, ins, 2, &out, 1, NULL) >= 0);
  es_tflite_builder_set_io(b, &in, 1, &out, 1);
  const char *const fc[] = {"operator 0 (FULLY_CONNECTED): input (tensor 0 'in') scale 1e+30, "
                            "filter (tensor 1 'f') scale 1e+30, output (tensor 2 'out') scale 1: "
                            "the effective scale inf is not a finite non-negative number",
                            NULL};
  expect_refused(b, "fc_scale_inf", ES_EFORMAT, fc);

  /* HARD_SWISH: input_scale / 128 / (3 / 32768) in float overflows for an input scale of 3e38 */
  b = es_tflite_builder_new();
  const int32_t shape[] = {4};
  in = tm_act(b, "in", shape, 1, 3e38f, 0);
  out = tm_act(b, "out", shape, 1, 3e38f, 0);
  cr_assert(es_tflite_builder_add_operator(b, ES_OP_HARD_SWISH, &in, 1, &out, 1, NULL) >= 0);
  es_tflite_builder_set_io(b, &in, 1, &out, 1);
  const char *const hs[] = {"operator 0 (HARD_SWISH): input (tensor 0 'in') scale 3e+38 / 128 / "
                            "(3 / 32768): the effective scale inf is not a finite",
                            NULL};
  expect_refused(b, "hard_swish_scale_inf", ES_EFORMAT, hs);

  /* CONV_2D: 1 * 1 / 2^-40 needs a left shift of 41; MultiplyByQuantizedMultiplier takes 31 */
  b = es_tflite_builder_new();
  const int32_t cshape[] = {1, 1, 1, 1};
  const float fs = 1.0f;
  in = tm_act(b, "in", cshape, 4, 1.0f, 0);
  f = tm_const(b, "f", ES_TFLITE_INT8, cshape, 4, w, 1, &fs, 1, 0);
  out = tm_act(b, "out", cshape, 4, 0x1p-40f, 0);
  const int32_t cins[] = {in, f};
  cr_assert(es_tflite_builder_add_operator(b, ES_OP_CONV_2D, cins, 2, &out, 1, NULL) >= 0);
  es_tflite_builder_set_io(b, &in, 1, &out, 1);
  const char *const cv[] = {"operator 0 (CONV_2D): channel 0: input (tensor 0 'in') scale 1, "
                            "filter (tensor 1) scale 1, output (tensor 2 'out') scale 9.09495e-13: "
                            "the effective scale 1.09951e+12 needs a left shift of 41, more than "
                            "the 31",
                            NULL};
  expect_refused(b, "conv_shift_41", ES_EUNSUPPORTED, cv);

  /* RELU6 fused into CONV_2D with an output scale that puts 6.0 at 2^31: TFLM's range check lets
   * the float 2^31 through into an undefined conversion; edgeset refuses it */
  b = es_tflite_builder_new();
  in = tm_act(b, "in", cshape, 4, 1.0f, 0);
  f = tm_const(b, "f", ES_TFLITE_INT8, cshape, 4, w, 1, &fs, 1, 0);
  out = tm_act(b, "out", cshape, 4, 6.0f / 2147483648.0f, 0);
  es_tflite_options o = opts_default();
  o.activation = ES_ACT_RELU6;
  cr_assert(es_tflite_builder_add_operator(b, ES_OP_CONV_2D, cins, 2, &out, 1, &o) >= 0);
  es_tflite_builder_set_io(b, &in, 1, &out, 1);
  const char *const act[] = {"operator 0 (CONV_2D): ", "the fused activation's range overflows "
                             "int32", NULL};
  expect_refused(b, "conv_relu6_range_2p31", ES_EFORMAT, act);
}
