/* TFLite's quantization helpers at their edges: QuantizeMultiplier's carry into the exponent and
 * flush to zero, gemmlowp's rounding (half away from zero, the INT32_MIN saturation), the
 * fixed-point exp against libm. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "formats/tflite.h"
#include "nn/quant.h"

Test(quant, quantize_multiplier_edges)
{
  int32_t q;
  int s;
  es_q_quantize_multiplier(0.0, &q, &s);
  cr_assert(q == 0 && s == 0);
  es_q_quantize_multiplier(1.0, &q, &s);
  cr_assert(q == (1 << 30) && s == 1, "%d %d", q, s);
  es_q_quantize_multiplier(0.75, &q, &s);
  cr_assert(q == 1610612736 && s == 0, "%d %d", q, s);
  /* the fraction rounds up to 2^31: halve it and carry into the shift */
  es_q_quantize_multiplier(1.0 - ldexp(1.0, -40), &q, &s);
  cr_assert(q == (1 << 30) && s == 1, "%d %d", q, s);
  /* below 2^-32 everything would be shifted out: flushed to zero */
  es_q_quantize_multiplier(ldexp(1.0, -40), &q, &s);
  cr_assert(q == 0 && s == 0, "%d %d", q, s);
  es_q_quantize_multiplier(ldexp(1.0, -31), &q, &s);
  cr_assert(q == (1 << 30) && s == -30, "%d %d", q, s);
}

Test(quant, rounding_primitives)
{
  cr_assert_eq(es_q_srdhm(INT32_MIN, INT32_MIN), INT32_MAX);
  cr_assert_eq(es_q_srdhm(37, 1 << 30), 19);  /* 18.5 -> 19 */
  cr_assert_eq(es_q_srdhm(-37, 1 << 30), -18); /* -18.5 -> -18: the nudge is asymmetric */
  cr_assert_eq(es_q_rdbpot(3, 1), 2);
  cr_assert_eq(es_q_rdbpot(-3, 1), -2);
  cr_assert_eq(es_q_rdbpot(5, 2), 1);
  cr_assert_eq(es_q_rdbpot(-6, 2), -2);
  cr_assert_eq(es_q_rdbpot(-5, 2), -1);
  cr_assert_eq(es_q_srmbpot(1 << 29, 2), INT32_MAX);
  cr_assert_eq(es_q_srmbpot(-(1 << 29) - 1, 2), INT32_MIN);
  cr_assert_eq(es_q_srmbpot(5, 2), 20);
  /* double rounding: 37 * 0.25 is 10 in TFLM, not 9 */
  cr_assert_eq(es_q_mul_by_qm(37, 1 << 30, -1), 10);
  cr_assert_eq(es_q_mul_by_qm(100, 1 << 30, 1), 100);
}

Test(quant, activation_range)
{
  int32_t lo, hi;
  cr_assert_eq(es_q_activation_range(ES_ACT_RELU6, 0.05f, -128, -128, 127, &lo, &hi), 0);
  cr_assert(lo == -128 && hi == -8, "%d %d", lo, hi);
  cr_assert_eq(es_q_activation_range(ES_ACT_RELU, 0.05f, 10, -128, 127, &lo, &hi), 0);
  cr_assert(lo == 10 && hi == 127);
  cr_assert_eq(es_q_activation_range(ES_ACT_RELU6, 1e-30f, 0, -128, 127, &lo, &hi), -1);
}

Test(quant, exp_on_negative_values_tracks_libm)
{
  for (int32_t raw = 0; raw > -(31 << 26); raw -= 977 * 1024) {
    double x = raw / (double)(1 << 26);
    double got = es_q_exp_on_negative_values(raw, 5) / 2147483648.0;
    cr_assert(fabs(got - exp(x)) < 2e-6, "exp(%g) = %g, fixed point %g", x, exp(x), got);
  }
  cr_assert_eq(es_q_exp_on_negative_values(0, 5), INT32_MAX);
}

Test(quant, logistic_and_tanh_track_libm)
{
  for (int32_t raw = -(7 << 27); raw < (7 << 27); raw += 3331 * 1024) {
    double x = raw / (double)(1 << 27);
    double l = es_q_logistic(raw, 4) / 2147483648.0;
    double t = es_q_tanh(raw, 4) / 2147483648.0;
    cr_assert(fabs(l - 1 / (1 + exp(-x))) < 1e-5, "logistic(%g) = %g", x, l);
    cr_assert(fabs(t - tanh(x)) < 1e-5, "tanh(%g) = %g", x, t);
  }
}

Test(quant, softmax_scaling_and_radius)
{
  int32_t q;
  int s;
  es_q_softmax_scaling(1.0, 0.1, 5, &q, &s);
  cr_assert_eq(s, 23);
  cr_assert_eq(es_q_input_radius(5, s, 31), 248);
}
