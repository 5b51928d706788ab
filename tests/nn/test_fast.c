/* Differential tests: every kernel variant this CPU runs (portable, avx2, avxvnni, avx512vnni)
 * against the reference kernels on 10,000 random tiny models per operator (CONV_2D incl. 1x1
 * and grouped, DEPTHWISE_CONV_2D, FULLY_CONNECTED): channels 1-67, strides and dilations 1-3,
 * SAME and VALID padding, zero points across the int8 range, multipliers over the full range of
 * shifts, biases up to the full int32 range (so accumulators wrap), all fused activations; and
 * 500 convolutions and depthwise convolutions on images up to 24x24.
 * Outputs must be identical byte for byte. EDGESET_FAST_CASES overrides the case count. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>

#include "nn_testmodel.h"

typedef struct rng {
  uint64_t s;
} rng;

static uint32_t next(rng *r)
{
  r->s ^= r->s << 13;
  r->s ^= r->s >> 7;
  r->s ^= r->s << 17;
  return (uint32_t)(r->s >> 16);
}

static int uni(rng *r, int lo, int hi) /* inclusive */
{
  return lo + (int)(next(r) % (uint32_t)(hi - lo + 1));
}

static int cases(void)
{
  const char *e = getenv("EDGESET_FAST_CASES");
  return e && atoi(e) > 0 ? atoi(e) : 10000;
}

static int variants(void)
{
  int n = 0;
  for (int isa = ES_NN_ISA_REFERENCE; isa < ES_NN_ISA_COUNT; isa++)
    n += es_nn_isa_supported(isa);
  return n;
}

/* A scale 2^e * [0.5, 1): effective multipliers then span every shift. */
static float rscale(rng *r, int emin, int emax)
{
  return ldexpf(0.5f + (float)(next(r) % 1000) / 2000.0f, uni(r, emin, emax));
}

static void fill8(rng *r, int8_t *p, size_t n)
{
  for (size_t i = 0; i < n; i++)
    p[i] = (int8_t)next(r);
}

static int32_t rbias(rng *r)
{
  switch (next(r) % 4) {
  case 0:
    return 0;
  case 1:
    return (int32_t)next(r); /* full range: accumulators wrap */
  default:
    return uni(r, -20000, 20000);
  }
}

/* Runs the model on input x with every supported variant; all outputs must equal the
 * reference's. Returns the number of variants compared. */
static int compare_variants(uint8_t *bytes, size_t len, const int8_t *x, const char *what)
{
  es_model *m = NULL;
  es_error err = {0};
  int rc = es_model_load(bytes, len, NULL, &m, &err);
  free(bytes);
  if (rc == ES_EFORMAT || rc == ES_EUNSUPPORTED)
    return 0; /* e.g. an effective scale above 2^31: TFLM refuses such a model too */
  cr_assert_eq(rc, ES_OK, "%s: %s", what, err.msg);
  int8_t *ref = NULL;
  size_t n = 0;
  int compared = 0;
  for (int isa = ES_NN_ISA_REFERENCE; isa < ES_NN_ISA_COUNT; isa++) {
    if (!es_nn_isa_supported(isa))
      continue;
    es_interp *ip = NULL;
    es_interp_opts o = {.isa = isa};
    cr_assert_eq(es_interp_new(m, &o, &ip, &err), ES_OK, "%s", err.msg);
    es_tensor t;
    es_interp_input(ip, 0, &t);
    memcpy(t.data, x, t.bytes);
    cr_assert_eq(es_interp_invoke(ip, &err), ES_OK, "%s", err.msg);
    es_interp_output(ip, 0, &t);
    if (!ref) {
      n = t.bytes;
      ref = malloc(n);
      memcpy(ref, t.data, n);
    } else {
      for (size_t i = 0; i < n; i++)
        cr_assert_eq(((int8_t *)t.data)[i], ref[i], "%s: %s differs at %zu: %d, reference %d",
                     what, es_nn_isa_name(isa), i, ((int8_t *)t.data)[i], ref[i]);
      compared++;
    }
    es_interp_free(ip);
  }
  free(ref);
  es_model_free(m);
  return compared;
}

/* kind 0 = CONV_2D, 1 = DEPTHWISE_CONV_2D; input height and width 1 .. max_hw */
static int conv_case(rng *r, int kind, int n, int max_hw)
{
  const int in_c = uni(r, 1, kind == 1 ? 67 : (n % 3 == 0 ? 67 : 16));
  const int dm = kind == 1 ? (next(r) % 3 == 0 ? uni(r, 2, 4) : 1) : 1;
  int groups = 1;
  if (kind == 0 && next(r) % 10 == 0 && in_c % 2 == 0)
    groups = 2;
  const int out_c = kind == 1 ? in_c * dm : uni(r, 1, n % 3 == 1 ? 67 : 20) * groups;
  const bool pointwise = kind == 0 && next(r) % 4 == 0;
  const int fh = pointwise ? 1 : uni(r, 1, 3), fw = pointwise ? 1 : uni(r, 1, 3);
  const int sh = uni(r, 1, 3), sw = uni(r, 1, 3);
  const int dh = next(r) % 3 == 0 ? uni(r, 1, 3) : 1, dw = next(r) % 3 == 0 ? uni(r, 1, 3) : 1;
  const int ih = uni(r, 1, max_hw), iw = uni(r, 1, max_hw);
  int padding = next(r) % 2 ? ES_PAD_SAME : ES_PAD_VALID;
  if ((fh - 1) * dh + 1 > ih || (fw - 1) * dw + 1 > iw)
    padding = ES_PAD_SAME;
  const int oh = padding == ES_PAD_SAME ? (ih + sh - 1) / sh : (ih - (fh - 1) * dh - 1) / sh + 1;
  const int ow = padding == ES_PAD_SAME ? (iw + sw - 1) / sw : (iw - (fw - 1) * dw - 1) / sw + 1;
  const int fd = kind == 1 ? 1 : in_c / groups;
  const int32_t ishape[] = {1, ih, iw, in_c}, oshape[] = {1, oh, ow, out_c}, bshape[] = {out_c};
  const int32_t fshape[] = {kind == 1 ? 1 : out_c, fh, fw, kind == 1 ? out_c : fd};
  const size_t fcount = (size_t)out_c * fh * fw * fd;
  int8_t *filter = malloc(fcount);
  int32_t *bias = malloc(sizeof(int32_t) * (size_t)out_c);
  float *fs = malloc(sizeof(float) * (size_t)out_c);
  fill8(r, filter, fcount);
  for (int c = 0; c < out_c; c++) {
    bias[c] = rbias(r);
    fs[c] = rscale(r, -24, 0);
  }
  const float in_s = rscale(r, -8, 0), out_s = rscale(r, -12, 4);
  es_tflite_builder *b = es_tflite_builder_new();
  int in = tm_act(b, "in", ishape, 4, in_s, uni(r, -128, 127));
  const bool per_channel = next(r) % 4 != 0;
  int f = tm_const(b, "f", ES_TFLITE_INT8, fshape, 4, filter, fcount, fs,
                   per_channel ? (size_t)out_c : 1, kind == 1 ? 3 : 0);
  int bi = -1;
  if (next(r) % 5)
    bi = tm_const(b, "b", ES_TFLITE_INT32, bshape, 1, bias, sizeof(int32_t) * (size_t)out_c,
                  NULL, 0, 0);
  int out = tm_act(b, "out", oshape, 4, out_s, uni(r, -128, 127));
  es_tflite_options o;
  es_tflite_options_default(&o);
  o.padding = padding;
  o.stride_h = sh, o.stride_w = sw, o.dilation_h = dh, o.dilation_w = dw;
  o.depth_multiplier = dm;
  const int acts[] = {ES_ACT_NONE, ES_ACT_RELU, ES_ACT_RELU6, ES_ACT_RELU_N1_TO_1};
  o.activation = acts[next(r) % 4];
  const int32_t ins[] = {in, f, bi}, outs[] = {out};
  cr_assert(es_tflite_builder_add_operator(b, kind == 1 ? ES_OP_DEPTHWISE_CONV_2D : ES_OP_CONV_2D,
                                           ins, 3, outs, 1, &o) >= 0);
  es_tflite_builder_set_io(b, ins, 1, outs, 1);
  size_t len;
  uint8_t *bytes = tm_finish(b, &len);
  const size_t icount = (size_t)ih * iw * in_c;
  int8_t *x = malloc(icount);
  fill8(r, x, icount);
  char what[256];
  snprintf(what, sizeof what,
           "case %d: %s in %dx%dx%d out %dx%dx%d filter %dx%d stride %dx%d dilation %dx%d %s "
           "groups %d",
           n, kind ? "depthwise" : "conv", ih, iw, in_c, oh, ow, out_c, fh, fw, sh, sw, dh, dw,
           padding == ES_PAD_SAME ? "SAME" : "VALID", groups);
  int c = compare_variants(bytes, len, x, what);
  free(x);
  free(filter);
  free(bias);
  free(fs);
  return c;
}

static int fc_case(rng *r, int n)
{
  const int batches = uni(r, 1, 5), depth = uni(r, 1, 67 * 2), units = uni(r, 1, 67);
  const int32_t ishape[] = {batches, depth}, fshape[] = {units, depth},
                oshape[] = {batches, units}, bshape[] = {units};
  const size_t fcount = (size_t)units * depth;
  int8_t *filter = malloc(fcount);
  int32_t *bias = malloc(sizeof(int32_t) * (size_t)units);
  float *fs = malloc(sizeof(float) * (size_t)units);
  fill8(r, filter, fcount);
  for (int c = 0; c < units; c++) {
    bias[c] = rbias(r);
    fs[c] = rscale(r, -24, 0);
  }
  es_tflite_builder *b = es_tflite_builder_new();
  int in = tm_act(b, "in", ishape, 2, rscale(r, -8, 0), uni(r, -128, 127));
  const bool per_channel = next(r) % 3 == 0;
  int f = tm_const(b, "f", ES_TFLITE_INT8, fshape, 2, filter, fcount, fs,
                   per_channel ? (size_t)units : 1, 0);
  int bi = -1;
  if (next(r) % 5)
    bi = tm_const(b, "b", ES_TFLITE_INT32, bshape, 1, bias, sizeof(int32_t) * (size_t)units,
                  NULL, 0, 0);
  int out = tm_act(b, "out", oshape, 2, rscale(r, -12, 4), uni(r, -128, 127));
  es_tflite_options o;
  es_tflite_options_default(&o);
  const int acts[] = {ES_ACT_NONE, ES_ACT_RELU, ES_ACT_RELU6, ES_ACT_RELU_N1_TO_1};
  o.activation = acts[next(r) % 4];
  const int32_t ins[] = {in, f, bi}, outs[] = {out};
  cr_assert(es_tflite_builder_add_operator(b, ES_OP_FULLY_CONNECTED, ins, 3, outs, 1, &o) >= 0);
  es_tflite_builder_set_io(b, ins, 1, outs, 1);
  size_t len;
  uint8_t *bytes = tm_finish(b, &len);
  int8_t *x = malloc((size_t)batches * depth);
  fill8(r, x, (size_t)batches * depth);
  char what[128];
  snprintf(what, sizeof what, "case %d: fully connected %d x %d -> %d, %s", n, batches, depth,
           units, per_channel ? "per channel" : "per tensor");
  int c = compare_variants(bytes, len, x, what);
  free(x);
  free(filter);
  free(bias);
  free(fs);
  return c;
}

/* ADD, SUB or MUL of the input and a constant of the same shape, large enough (1,024 outputs or
 * more) for the table variant: random scales and zero points, every fused activation. */
static int addsub_case(rng *r, int n)
{
  static const int32_t ops[] = {ES_OP_ADD, ES_OP_SUB, ES_OP_MUL};
  const int32_t opcode = ops[n % 3];
  const int32_t shape[] = {1, uni(r, 8, 40), uni(r, 8, 40), uni(r, 4, 16)};
  const size_t count = (size_t)shape[1] * shape[2] * shape[3];
  int8_t *y = malloc(count), *x = malloc(count);
  fill8(r, y, count);
  fill8(r, x, count);
  es_tflite_builder *b = es_tflite_builder_new();
  int in = tm_act(b, "x", shape, 4, rscale(r, -8, 0), uni(r, -128, 127));
  const float ys = rscale(r, -8, 0);
  const int64_t yzp = uni(r, -128, 127);
  int buf = es_tflite_builder_add_buffer(b, y, count);
  int yt = es_tflite_builder_add_tensor(b, "y", ES_TFLITE_INT8, shape, 4, buf, &ys, &yzp, 1, 0);
  int out = tm_act(b, "out", shape, 4, rscale(r, -8, 2), uni(r, -128, 127));
  es_tflite_options o;
  es_tflite_options_default(&o);
  const int acts[] = {ES_ACT_NONE, ES_ACT_RELU, ES_ACT_RELU6, ES_ACT_RELU_N1_TO_1};
  o.activation = acts[next(r) % 4];
  const int32_t ins[] = {in, yt}, outs[] = {out};
  cr_assert(es_tflite_builder_add_operator(b, opcode, ins, 2, outs, 1, &o) >= 0);
  es_tflite_builder_set_io(b, ins, 1, outs, 1);
  size_t len;
  uint8_t *bytes = tm_finish(b, &len);
  char what[96];
  snprintf(what, sizeof what, "case %d: %s of %zu values", n,
           opcode == ES_OP_ADD ? "ADD" : opcode == ES_OP_SUB ? "SUB" : "MUL", count);
  int c = compare_variants(bytes, len, x, what);
  free(x);
  free(y);
  return c;
}

Test(fast, add_sub_mul_tables_match_reference, .timeout = 120)
{
  rng r = {0x5eed5eed5eed5eedu};
  const int n = cases() / 20 > 0 ? cases() / 20 : 3;
  int compared = 0;
  for (int i = 0; i < n; i++)
    compared += addsub_case(&r, i);
  /* some scale combinations are refused at load, as TFLM refuses them */
  cr_assert_gt(compared, n / 2 * (variants() - 1), "compared %d", compared);
}

Test(fast, conv2d_matches_reference, .timeout = 120)
{
  rng r = {0x9e3779b97f4a7c15u};
  int compared = 0;
  for (int n = 0; n < cases(); n++)
    compared += conv_case(&r, 0, n, 6);
  /* every supported variant but the reference, on at least 90% of the cases */
  cr_assert_gt(compared, cases() * 9 / 10 * (variants() - 1), "compared %d", compared);
}

Test(fast, depthwise_matches_reference, .timeout = 120)
{
  rng r = {0x1234567887654321u};
  int compared = 0;
  for (int n = 0; n < cases(); n++)
    compared += conv_case(&r, 1, n, 6);
  cr_assert_gt(compared, cases() * 9 / 10 * (variants() - 1), "compared %d", compared);
}

/* Larger images: interior pixels, long rows of 1x1 GEMM tiles, ring reuse of depthwise rows. */
Test(fast, larger_images_match_reference, .timeout = 120)
{
  rng r = {0x0badc0ffee0ddf00u};
  const int n = cases() / 20 > 0 ? cases() / 20 : 1;
  int compared = 0;
  for (int i = 0; i < n; i++) {
    compared += conv_case(&r, 0, i, 24);
    compared += conv_case(&r, 1, i, 24);
  }
  cr_assert_gt(compared, 2 * n * 9 / 10 * (variants() - 1), "compared %d", compared);
}

Test(fast, fully_connected_matches_reference, .timeout = 120)
{
  rng r = {0xdeadbeefcafef00du};
  int compared = 0;
  for (int n = 0; n < cases(); n++)
    compared += fc_case(&r, n);
  cr_assert_gt(compared, cases() * 9 / 10 * (variants() - 1), "compared %d", compared);
}

Test(fast, isa_names_and_errors)
{
  int isa = -1;
  es_error err = {0};
  cr_assert_eq(es_nn_isa_parse("portable", &isa, &err), ES_OK);
  cr_assert_eq(isa, ES_NN_ISA_PORTABLE);
  cr_assert_eq(es_nn_isa_parse("sse9", &isa, &err), ES_EUSAGE);
  cr_assert(strstr(err.msg, "'sse9'") != NULL, "%s", err.msg);
  for (int i = 0; i < ES_NN_ISA_COUNT; i++) {
    const char *name = es_nn_isa_name(i);
    cr_assert(name != NULL);
    if (!es_nn_isa_supported(i)) {
      cr_assert_eq(es_nn_isa_parse(name, &isa, &err), ES_EUSAGE);
      cr_assert(strstr(err.msg, "not supported") != NULL, "%s", err.msg);
    }
  }
  cr_assert(es_nn_isa_supported(es_nn_isa_best()));
}
