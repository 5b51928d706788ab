/* TFLite's quantization helpers at their edges: QuantizeMultiplier's carry into the exponent and
 * flush to zero, gemmlowp's rounding (half away from zero, the INT32_MIN saturation), the
 * fixed-point exp against libm, and every function over the whole int32 range (the ASan + UBSan
 * build aborts on a signed overflow or a bad shift: int32 arithmetic must wrap as TFLM's does on
 * a microcontroller, docs/nn.md). */
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

Test(quant, rounding_divide_by_pot_beyond_31_is_what_cortex_m_computes)
{
  /* TFLM's SOFTMAX asks for shifts up to 35; gemmlowp's mask (1ll << e) - 1 truncates to -1 and
   * ASR by 32 or more fills with the sign bit: 0 or -1, plus (remainder > threshold) */
  for (int e = 32; e < 64; e++) {
    cr_assert_eq(es_q_rdbpot(0, e), 1);
    cr_assert_eq(es_q_rdbpot(5, e), 1);
    cr_assert_eq(es_q_rdbpot(INT32_MAX, e), 1);
    cr_assert_eq(es_q_rdbpot(-5, e), -1);
    cr_assert_eq(es_q_rdbpot(INT32_MIN, e), -1);
  }
  cr_assert_eq(es_q_rdbpot(INT32_MAX, 31), 1);
  cr_assert_eq(es_q_rdbpot(INT32_MIN, 31), -1);
  cr_assert_eq(es_q_rdbpot(1 << 30, 31), 1);       /* 0.5 rounds away from zero */
  cr_assert_eq(es_q_rdbpot((1 << 30) - 1, 31), 0); /* just below */
}

Test(quant, quantize_multiplier_of_non_finite_or_negative_scales_is_zero)
{
  int32_t q = 1;
  int s = 1;
  const double bad[] = {INFINITY, -INFINITY, NAN, -1.0, -1e-300};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    es_q_quantize_multiplier(bad[i], &q, &s);
    cr_assert(q == 0 && s == 0, "%g: %d %d", bad[i], q, s);
  }
}

Test(quant, input_radius_matches_tflm_and_stays_defined)
{
  /* CalculateInputRadius(4, s, 31) = floor(15 * 2^27 / 2^s) */
  for (int s = 0; s <= 31; s++)
    cr_assert_eq(es_q_input_radius(4, s, 31), (int)floor(15.0 * 134217728.0 / ldexp(1.0, s)),
                 "shift %d", s);
  /* a negative shift (refused at load) no longer shifts by a negative amount */
  cr_assert_eq(es_q_input_radius(4, -2, 31), INT32_MAX);
}

Test(quant, activation_range_refuses_values_outside_int32)
{
  int32_t lo, hi;
  /* 6 / (6 / 2^31) rounds to the float 2^31: not an int32 */
  cr_assert_eq(es_q_activation_range(ES_ACT_RELU6, 6.0f / 2147483648.0f, 0, -128, 127, &lo, &hi),
               -1);
  /* 1 / 2^-30 = 2^30 is one; with zero point 127 still inside int32 */
  cr_assert_eq(es_q_activation_range(ES_ACT_RELU_N1_TO_1, 0x1p-30f, 127, -128, 127, &lo, &hi), 0);
  cr_assert(lo == -128 && hi == 127, "%d %d", lo, hi);
}

/* Every function on raw values across the int32 range: the stride visits about 2^20 values of
 * each sign and every edge. No result may depend on undefined behaviour (UBSan aborts). */
Test(quant, fixed_point_functions_over_the_whole_int32_range)
{
  int64_t checksum = 0;
  const int32_t edges[] = {INT32_MIN, INT32_MIN + 1, -(1 << 30), -1, 0, 1, 1 << 30, INT32_MAX - 1,
                           INT32_MAX};
  for (int pass = 0; pass < 2; pass++) {
    const size_t n = pass ? (size_t)1 << 21 : sizeof edges / sizeof edges[0];
    for (size_t i = 0; i < n; i++) {
      const int32_t a =
          pass ? (int32_t)(uint32_t)((uint64_t)i * 2048u + (uint64_t)(i * 7919u % 2048u))
               : edges[i];
      checksum += (int64_t)es_q_logistic(a, 4) + es_q_tanh(a, 4);
      checksum += (int64_t)es_q_exp_on_negative_values(a, 5) + es_q_exp_on_negative_values(a, 4);
      checksum += es_q_one_over_one_plus_x_for_x_in_0_1(a);
      int nbou;
      checksum += (int64_t)es_q_reciprocal(a, 12, &nbou) + nbou;
      checksum += (int64_t)es_q_srmbpot(a, 2) + es_q_srmbpot(a, -3);
      for (int s = -31; s <= 31; s += 7) {
        checksum += (int64_t)es_q_mul_by_qm(a, INT32_MAX, s) + es_q_mul_by_qm(a, 1 << 30, s);
        checksum += es_q_mul_by_qm(a, 0, s);
      }
      checksum += es_q_mul_by_qm_gt1(a, INT32_MAX, 31);
      checksum += (int64_t)es_q_add_wrap(a, INT32_MAX) + es_q_sub_wrap(a, INT32_MIN);
    }
  }
  /* the values are TFLM's (wrapped where its int32 arithmetic overflows); this run only has to
   * finish without undefined behaviour */
  cr_assert(checksum != 0);
  /* the wrap itself */
  cr_assert_eq(es_q_add_wrap(INT32_MAX, 1), INT32_MIN);
  cr_assert_eq(es_q_add_wrap(-2147483647, -128), 2147483521);
  cr_assert_eq(es_q_sub_wrap(INT32_MIN, 1), INT32_MAX);
  /* 1/(1+x) for x = -1 (a GetReciprocal of a sum that wrapped to 0): the Newton iterations wrap */
  int nbou;
  (void)es_q_reciprocal(0, 12, &nbou);
  cr_assert_eq(nbou, -20);
}
