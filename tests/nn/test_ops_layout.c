/* Tests of PAD, PADV2, TRANSPOSE, CONCATENATION, MEAN (all three of TFLM's int8 paths, which
 * round differently: the same input gives 3 through the spatial keep_dims path and 2 through the
 * truncating same-quantization path) and HARD_SWISH (against the float definition within TFLM's
 * tolerance, and exact at its fixed points). Models are built with the TFLite writer. */
#include <criterion/criterion.h>
#include <math.h>

#include "nn_testmodel.h"

static uint8_t *one_op(es_tflite_builder *b, int32_t code, const int32_t *ins, size_t n_in,
                       int out, const es_tflite_options *o, size_t n_model_in, size_t *len)
{
  const int32_t outs[] = {out};
  cr_assert(es_tflite_builder_add_operator(b, code, ins, n_in, outs, 1, o) >= 0);
  es_tflite_builder_set_io(b, ins, n_model_in, outs, 1);
  return tm_finish(b, len);
}

Test(layout, pad_uses_output_zero_point)
{
  es_tflite_builder *b = es_tflite_builder_new();
  const int32_t ishape[] = {1, 2, 2, 1}, pshape[] = {4, 2}, oshape[] = {1, 3, 3, 1};
  const int32_t pads[] = {0, 0, 1, 0, 0, 1, 0, 0};
  int in = tm_act(b, "in", ishape, 4, 0.5f, -5);
  int p = tm_const(b, "pads", ES_TFLITE_INT32, pshape, 2, pads, sizeof pads, NULL, 0, 0);
  int out = tm_act(b, "out", oshape, 4, 0.5f, -5);
  const int32_t ins[] = {in, p};
  size_t len;
  uint8_t *bytes = one_op(b, ES_OP_PAD, ins, 2, out, NULL, 1, &len);
  const int8_t x[] = {1, 2, 3, 4};
  const void *xs[] = {x};
  int8_t y[9];
  tm_run(bytes, len, xs, 1, y, sizeof y);
  const int8_t want[] = {-5, -5, -5, 1, 2, -5, 3, 4, -5};
  cr_assert_arr_eq(y, want, sizeof want);
}

Test(layout, padv2_constant_and_checks)
{
  es_tflite_builder *b = es_tflite_builder_new();
  const int32_t ishape[] = {2, 1}, pshape[] = {2, 2}, oshape[] = {3, 3}, cshape[] = {1};
  const int32_t pads[] = {1, 0, 1, 1};
  const int8_t c = 7;
  const float s = 0.25f;
  int in = tm_act(b, "in", ishape, 2, s, 3);
  int p = tm_const(b, "pads", ES_TFLITE_INT32, pshape, 2, pads, sizeof pads, NULL, 0, 0);
  int buf = es_tflite_builder_add_buffer(b, &c, 1);
  int64_t zp = 3;
  int cv = es_tflite_builder_add_tensor(b, "c", ES_TFLITE_INT8, cshape, 1, buf, &s, &zp, 1, 0);
  int out = tm_act(b, "out", oshape, 2, s, 3);
  const int32_t ins[] = {in, p, cv};
  size_t len;
  uint8_t *bytes = one_op(b, ES_OP_PADV2, ins, 3, out, NULL, 1, &len);
  const int8_t x[] = {-1, 9};
  const void *xs[] = {x};
  int8_t y[9];
  tm_run(bytes, len, xs, 1, y, sizeof y);
  const int8_t want[] = {7, 7, 7, 7, -1, 7, 7, 9, 7};
  cr_assert_arr_eq(y, want, sizeof want);

  /* a constant with another quantization is refused, as TFLM refuses it */
  b = es_tflite_builder_new();
  in = tm_act(b, "in", ishape, 2, s, 3);
  p = tm_const(b, "pads", ES_TFLITE_INT32, pshape, 2, pads, sizeof pads, NULL, 0, 0);
  buf = es_tflite_builder_add_buffer(b, &c, 1);
  zp = 4;
  cv = es_tflite_builder_add_tensor(b, "c", ES_TFLITE_INT8, cshape, 1, buf, &s, &zp, 1, 0);
  out = tm_act(b, "out", oshape, 2, s, 3);
  const int32_t ins2[] = {in, p, cv};
  bytes = one_op(b, ES_OP_PADV2, ins2, 3, out, NULL, 1, &len);
  es_error err = {0};
  cr_assert_eq(tm_load_status(bytes, len, &err), ES_EUNSUPPORTED);
  cr_assert(strstr(err.msg, "constant value") != NULL, "%s", err.msg);
}

Test(layout, transpose_3d)
{
  es_tflite_builder *b = es_tflite_builder_new();
  const int32_t ishape[] = {2, 3, 2}, pshape[] = {3}, oshape[] = {2, 2, 3};
  const int32_t perm[] = {2, 0, 1};
  int in = tm_act(b, "in", ishape, 3, 1.0f, 0);
  int p = tm_const(b, "perm", ES_TFLITE_INT32, pshape, 1, perm, sizeof perm, NULL, 0, 0);
  int out = tm_act(b, "out", oshape, 3, 1.0f, 0);
  const int32_t ins[] = {in, p};
  size_t len;
  uint8_t *bytes = one_op(b, ES_OP_TRANSPOSE, ins, 2, out, NULL, 1, &len);
  int8_t x[12];
  for (int i = 0; i < 12; i++)
    x[i] = (int8_t)i; /* x[a][b][c] = 6a + 2b + c */
  const void *xs[] = {x};
  int8_t y[12];
  tm_run(bytes, len, xs, 1, y, sizeof y);
  /* y[c][a][b] = x[a][b][c] */
  const int8_t want[] = {0, 2, 4, 6, 8, 10, 1, 3, 5, 7, 9, 11};
  cr_assert_arr_eq(y, want, sizeof want);
}

Test(layout, concatenation_copies_bytes_like_tflm)
{
  es_tflite_builder *b = es_tflite_builder_new();
  const int32_t ashape[] = {2, 1}, bshape[] = {2, 2}, oshape[] = {2, 3};
  /* different scales: TFLM copies the int8 values unchanged */
  int x0 = tm_act(b, "a", ashape, 2, 0.5f, 0);
  int x1 = tm_act(b, "b", bshape, 2, 0.25f, 10);
  int out = tm_act(b, "out", oshape, 2, 1.0f, 0);
  es_tflite_options o;
  es_tflite_options_default(&o);
  o.axis = -1;
  const int32_t ins[] = {x0, x1};
  size_t len;
  uint8_t *bytes = one_op(b, ES_OP_CONCATENATION, ins, 2, out, &o, 2, &len);
  const int8_t a[] = {1, 2}, c[] = {3, 4, 5, 6};
  const void *xs[] = {a, c};
  int8_t y[6];
  tm_run(bytes, len, xs, 2, y, sizeof y);
  const int8_t want[] = {1, 3, 4, 2, 5, 6};
  cr_assert_arr_eq(y, want, sizeof want);
}

Test(layout, concatenation_rejects_fused_activation)
{
  es_tflite_builder *b = es_tflite_builder_new();
  const int32_t shape[] = {1, 1}, oshape[] = {1, 2};
  int x0 = tm_act(b, "a", shape, 2, 1.0f, 0), x1 = tm_act(b, "b", shape, 2, 1.0f, 0);
  int out = tm_act(b, "out", oshape, 2, 1.0f, 0);
  es_tflite_options o;
  es_tflite_options_default(&o);
  o.axis = 1;
  o.activation = ES_ACT_RELU;
  const int32_t ins[] = {x0, x1};
  size_t len;
  uint8_t *bytes = one_op(b, ES_OP_CONCATENATION, ins, 2, out, &o, 2, &len);
  es_error err = {0};
  cr_assert_eq(tm_load_status(bytes, len, &err), ES_EUNSUPPORTED);
}

/* MEAN of a [1,2,2,1] input over axes {1,2}. */
static int8_t mean4(const int8_t x[4], bool keep, const int32_t *axes, float in_s, int64_t in_zp,
                    float out_s, int64_t out_zp)
{
  es_tflite_builder *b = es_tflite_builder_new();
  const int32_t ishape[] = {1, 2, 2, 1}, ashape[] = {2}, kshape[] = {1, 1, 1, 1},
                dshape[] = {1, 1};
  int in = tm_act(b, "in", ishape, 4, in_s, in_zp);
  int ax = tm_const(b, "axis", ES_TFLITE_INT32, ashape, 1, axes, 8, NULL, 0, 0);
  int out = keep ? tm_act(b, "out", kshape, 4, out_s, out_zp)
                 : tm_act(b, "out", dshape, 2, out_s, out_zp);
  es_tflite_options o;
  es_tflite_options_default(&o);
  o.keep_dims = keep;
  const int32_t ins[] = {in, ax};
  size_t len;
  uint8_t *bytes = one_op(b, ES_OP_MEAN, ins, 2, out, &o, 1, &len);
  const void *xs[] = {x};
  int8_t y;
  tm_run(bytes, len, xs, 1, &y, 1);
  return y;
}

/* TFLM (since its commit 79b493ae2) computes every int8 MEAN with QuantizedMeanOrSum, whatever
 * the axes, keep_dims or quantization: with scale 1 in and out, QuantizeMultiplier gives
 * (2^30, shift 1); folding 1/4 in gives (2^30, shift -1), so a sum s becomes
 * RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(s, 2^30), 1): s/4, rounded to nearest
 * (half away from zero) in two steps. */
Test(mean, one_tflm_path_for_every_axis_set)
{
  const int32_t ax12[] = {1, 2}, ax21[] = {2, 1}, axneg[] = {-3, -2}, axmix[] = {-2, 1};
  const int8_t up[] = {1, 2, 3, 4}, down[] = {-1, -2, -3, -4}, odd[] = {1, 2, 3, 5};
  const int32_t *axes[] = {ax12, ax21, axneg, axmix};
  for (int k = 0; k < 4; k++)
    for (int keep = 0; keep < 2; keep++) {
      /* 10 -> 5 -> 2.5 rounds to 3; -10 -> -5 -> -2.5 rounds to -3 (not C's truncation) */
      cr_assert_eq(mean4(up, keep, axes[k], 1.0f, 0, 1.0f, 0), 3, "axes %d keep %d", k, keep);
      cr_assert_eq(mean4(down, keep, axes[k], 1.0f, 0, 1.0f, 0), -3, "axes %d keep %d", k,
                   keep);
      /* 11 -> 6 (5.5 rounds up) -> 3 */
      cr_assert_eq(mean4(odd, keep, axes[k], 1.0f, 0, 1.0f, 0), 3, "axes %d keep %d", k, keep);
    }
  /* output zero point added after the rounding: 3 + 1 */
  cr_assert_eq(mean4(up, false, ax12, 1.0f, 0, 1.0f, 1), 4);
  /* a rescale: ratio 2 gives (2^30, shift 2), with 1/4 folded in (2^30, 0): 11 -> 6 */
  cr_assert_eq(mean4(odd, true, ax12, 1.0f, 0, 0.5f, 0), 6);
  /* the input zero point times the count is subtracted from the raw sum: 10 - 4*2 = 2 -> 1 */
  cr_assert_eq(mean4(up, true, ax12, 1.0f, 2, 1.0f, 0), 1);
  cr_assert_eq(mean4(up, false, axneg, 1.0f, 2, 1.0f, 0), 1);
}

Test(hard_swish, close_to_float_definition_and_exact_at_zero)
{
  const float in_s = 0.05f, out_s = 0.03f;
  const int64_t in_zp = 3, out_zp = -20;
  es_tflite_builder *b = es_tflite_builder_new();
  const int32_t shape[] = {256};
  int in = tm_act(b, "in", shape, 1, in_s, in_zp);
  int out = tm_act(b, "out", shape, 1, out_s, out_zp);
  const int32_t ins[] = {in};
  size_t len;
  uint8_t *bytes = one_op(b, ES_OP_HARD_SWISH, ins, 1, out, NULL, 1, &len);
  int8_t x[256], y[256];
  for (int i = 0; i < 256; i++)
    x[i] = (int8_t)(i - 128);
  const void *xs[] = {x};
  tm_run(bytes, len, xs, 1, y, sizeof y);
  for (int i = 0; i < 256; i++) {
    const double v = in_s * (x[i] - in_zp);
    const double r = v * fmin(6.0, fmax(0.0, v + 3.0)) / 6.0;
    double q = round(r / out_s) + out_zp;
    q = q < -128 ? -128 : q > 127 ? 127 : q;
    cr_assert(fabs(q - y[i]) <= 2.0, "x=%d: got %d, float gives %g", x[i], y[i], q);
    if (x[i] == in_zp)
      cr_assert_eq(y[i], out_zp); /* hard_swish(0) = 0 */
  }
}
