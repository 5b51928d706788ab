/* TFLite / gemmlowp integer arithmetic, transcribed operation by operation so that results are
 * bit-identical to TensorFlow Lite Micro's reference kernels (double-rounding build, the default).
 * Overflow policy (docs/nn.md): int32 arithmetic wraps as two's complement, as TFLM's does on a
 * microcontroller, computed in unsigned or 64-bit types so that it is defined C; signed left
 * shifts are done in 64 bits. Shift amounts are checked at load, never here, except the one
 * run-time case TFLM's SOFTMAX has (es_q_rdbpot). */
#include "nn/quant.h"

#include <limits.h>
#include <math.h>

#include "formats/tflite.h"

int32_t es_q_srdhm(int32_t a, int32_t b)
{
  if (a == b && a == INT32_MIN)
    return INT32_MAX;
  int64_t ab = (int64_t)a * (int64_t)b;
  int64_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
  return (int32_t)((ab + nudge) / (INT64_C(1) << 31));
}

int32_t es_q_rdbpot(int32_t x, int exponent)
{
  if (exponent <= 0) /* never asked for below 0 (shifts are checked at load) */
    return x;
  if (exponent >= 32) {
    /* gemmlowp requires exponent <= 31, but TFLM's SOFTMAX asks for up to 35 when a row's
     * sum of exponentials reaches 2^28 (512 values at the row maximum). On Arm Cortex-M, where
     * TFLM runs, the mask (1ll << exponent) - 1 truncates to all ones and ASR by 32 or more
     * fills with the sign bit, so the result is 0 or -1 plus (remainder > threshold):
     * 1 for x >= 0 and -1 for x < 0. */
    return x >= 0 ? 1 : -1;
  }
  const int32_t mask = (int32_t)((INT64_C(1) << exponent) - 1);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

int32_t es_q_srmbpot(int32_t x, int exponent)
{
  if (exponent == 0)
    return x;
  if (exponent < 0)
    return es_q_rdbpot(x, -exponent);
  const int32_t threshold = (int32_t)((INT64_C(1) << (31 - exponent)) - 1);
  if (x > threshold)
    return INT32_MAX;
  if (x < -threshold)
    return INT32_MIN;
  return (int32_t)((int64_t)x * (INT64_C(1) << exponent));
}

void es_q_quantize_multiplier(double real, int32_t *multiplier, int *shift)
{
  if (!(real > 0.0) || !isfinite(real)) { /* 0; callers refuse negative and non-finite scales */
    *multiplier = 0;
    *shift = 0;
    return;
  }
  int e;
  const double q = frexp(real, &e);
  int64_t q_fixed = (int64_t)round(q * (double)(INT64_C(1) << 31));
  if (q_fixed == (INT64_C(1) << 31)) {
    q_fixed /= 2;
    ++e;
  }
  if (e < -31) {
    e = 0;
    q_fixed = 0;
  }
  *multiplier = (int32_t)q_fixed;
  *shift = e;
}

int32_t es_q_mul_by_qm(int32_t x, int32_t multiplier, int shift)
{
  const int left_shift = shift > 0 ? shift : 0;
  const int right_shift = shift > 0 ? 0 : -shift;
  /* x * (1 << left_shift) wraps in TFLM's C++; do the same without undefined behaviour */
  const int32_t shifted = (int32_t)(uint32_t)((uint64_t)(int64_t)x << left_shift);
  return es_q_rdbpot(es_q_srdhm(shifted, multiplier), right_shift);
}

int32_t es_q_mul_by_qm_gt1(int32_t x, int32_t multiplier, int left_shift)
{
  const int32_t shifted = (int32_t)(uint32_t)((uint64_t)(int64_t)x << left_shift);
  return es_q_srdhm(shifted, multiplier);
}

/* tflite's Quantize() helper of the activation range: the division and rounding are float.
 * TFLM refuses a value outside int32; so does this, including the float 2^31 that TFLM's check
 * lets through into an undefined conversion, and a sum with the zero point that leaves int32. */
static int quantize_f(float scale, int32_t zero_point, float f, int32_t *q)
{
  const float tmp = roundf(f / scale);
  if (!(tmp >= -2147483648.0f && tmp < 2147483648.0f))
    return -1;
  const int64_t v = (int64_t)zero_point + (int64_t)tmp;
  if (v < INT32_MIN || v > INT32_MAX)
    return -1;
  *q = (int32_t)v;
  return 0;
}

int es_q_activation_range(int activation, float scale, int32_t zero_point, int32_t qmin,
                          int32_t qmax, int32_t *act_min, int32_t *act_max)
{
  int32_t q;
  *act_min = qmin;
  *act_max = qmax;
  if (activation == ES_ACT_RELU) {
    if (quantize_f(scale, zero_point, 0.0f, &q))
      return -1;
    *act_min = q > qmin ? q : qmin;
  } else if (activation == ES_ACT_RELU6) {
    if (quantize_f(scale, zero_point, 0.0f, &q))
      return -1;
    *act_min = q > qmin ? q : qmin;
    if (quantize_f(scale, zero_point, 6.0f, &q))
      return -1;
    *act_max = q < qmax ? q : qmax;
  } else if (activation == ES_ACT_RELU_N1_TO_1) {
    if (quantize_f(scale, zero_point, -1.0f, &q))
      return -1;
    *act_min = q > qmin ? q : qmin;
    if (quantize_f(scale, zero_point, 1.0f, &q))
      return -1;
    *act_max = q < qmax ? q : qmax;
  }
  return 0;
}

void es_q_softmax_scaling(double beta, double input_scale, int integer_bits, int32_t *multiplier,
                          int *left_shift)
{
  const double max_real_multiplier = (double)(INT64_C(1) << 31) - 1.0;
  double real = beta * input_scale * (double)(1 << (31 - integer_bits));
  if (real > max_real_multiplier)
    real = max_real_multiplier;
  es_q_quantize_multiplier(real, multiplier, left_shift);
}

int es_q_input_radius(int integer_bits, int left_shift, int total_signed_bits)
{
  /* TFLM divides by (1LL << left_shift); callers refuse a negative left_shift at load (TFLM's
   * shift would be undefined). ldexp is the same exact power of two and stays defined. */
  const double max_input_rescaled = ldexp(1.0 * ((1 << integer_bits) - 1),
                                          total_signed_bits - integer_bits - left_shift);
  const double r = floor(max_input_rescaled);
  return r >= (double)INT32_MAX ? INT32_MAX : (int)r;
}

/* exp(x) for x in [-1/4, 0), 0 integer bits in and out. */
static int32_t exp_quarter(int32_t a)
{
  const int32_t constant_term = 1895147668;   /* exp(-1/8) */
  const int32_t constant_1_over_3 = 715827883;
  const int32_t x = es_q_add_wrap(a, 1 << 28); /* Taylor expansion around -1/8 */
  const int32_t x2 = es_q_srdhm(x, x);
  const int32_t x3 = es_q_srdhm(x2, x);
  const int32_t x4 = es_q_srdhm(x2, x2);
  const int32_t x4_over_4 = es_q_rdbpot(x4, 2);
  const int32_t poly = es_q_rdbpot(
      es_q_add_wrap(es_q_srdhm(es_q_add_wrap(x4_over_4, x3), constant_1_over_3), x2), 1);
  return es_q_add_wrap(constant_term, es_q_srdhm(constant_term, es_q_add_wrap(x, poly)));
}

int32_t es_q_exp_on_negative_values(int32_t a, int in_int_bits)
{
  const int frac_bits = 31 - in_int_bits;
  const int32_t one_quarter = (int32_t)1 << (frac_bits - 2);
  const int32_t mask = one_quarter - 1;
  const int32_t a_mod_quarter_minus_one_quarter = es_q_sub_wrap(a & mask, one_quarter);
  int32_t result = exp_quarter(es_q_srmbpot(a_mod_quarter_minus_one_quarter, in_int_bits));
  const int32_t remainder = (int32_t)((uint32_t)a_mod_quarter_minus_one_quarter - (uint32_t)a);
  static const int32_t multipliers[7] = {1672461947, 1302514674, 790015084, 290630308,
                                         39332535,   720401,     242};
  for (int k = 0; k < 7; k++) {
    const int exponent = k - 2;
    if (in_int_bits > exponent) {
      const int shift = frac_bits + exponent;
      if (remainder & (int32_t)((uint32_t)1 << shift))
        result = es_q_srdhm(result, multipliers[k]);
    }
  }
  if (in_int_bits > 5) {
    const int32_t clamp = -((int32_t)1 << (36 - in_int_bits));
    if (a < clamp)
      result = 0;
  }
  if (a == 0)
    result = INT32_MAX;
  return result;
}

static int32_t rounding_half_sum(int32_t a, int32_t b)
{
  const int64_t sum = (int64_t)a + (int64_t)b;
  const int64_t sign = sum >= 0 ? 1 : -1;
  return (int32_t)((sum + sign) / 2);
}

/* Newton-Raphson iterations shared by 1/(1+x) and (1-x)/(1+x); result has 2 integer bits. */
static int32_t newton_reciprocal_f2(int32_t half_denominator)
{
  const int32_t constant_48_over_17 = 1515870810;
  const int32_t constant_neg_32_over_17 = -1010580540;
  const int32_t f2_one = 1 << 29;
  int32_t x =
      es_q_add_wrap(constant_48_over_17, es_q_srdhm(half_denominator, constant_neg_32_over_17));
  for (int i = 0; i < 3; i++) {
    const int32_t half_denominator_times_x = es_q_srdhm(half_denominator, x);
    const int32_t one_minus = es_q_sub_wrap(f2_one, half_denominator_times_x);
    x = es_q_add_wrap(x, es_q_srmbpot(es_q_srdhm(x, one_minus), 2));
  }
  return x;
}

int32_t es_q_one_over_one_plus_x_for_x_in_0_1(int32_t a)
{
  const int32_t x = newton_reciprocal_f2(rounding_half_sum(a, INT32_MAX));
  return es_q_srmbpot(x, 1); /* ExactMulByPot<-1> then Rescale<0> from 1 integer bit */
}

static int32_t one_minus_x_over_one_plus_x_for_x_in_0_1(int32_t a)
{
  const int32_t x = newton_reciprocal_f2(rounding_half_sum(a, INT32_MAX));
  return es_q_srmbpot(es_q_sub_wrap(x, 1 << 29), 2);
}

int32_t es_q_logistic(int32_t a, int in_int_bits)
{
  if (a == 0)
    return 1 << 30;
  const int32_t abs_input = a > 0 ? a : (int32_t)(0u - (uint32_t)a);
  const int32_t neg = (int32_t)(0u - (uint32_t)abs_input);
  const int32_t if_positive =
      es_q_one_over_one_plus_x_for_x_in_0_1(es_q_exp_on_negative_values(neg, in_int_bits));
  return a > 0 ? if_positive : es_q_sub_wrap(INT32_MAX, if_positive);
}

int32_t es_q_tanh(int32_t a, int in_int_bits)
{
  if (a == 0)
    return 0;
  const int32_t n = a < 0 ? a : (int32_t)(0u - (uint32_t)a);
  /* ExactMulByPot<1>: same raw value read with one more integer bit */
  const int32_t t = one_minus_x_over_one_plus_x_for_x_in_0_1(
      es_q_exp_on_negative_values(n, in_int_bits + 1));
  return a < 0 ? (int32_t)(0u - (uint32_t)t) : t;
}

int32_t es_q_reciprocal(int32_t x, int x_integer_digits, int *num_bits_over_unit)
{
  int headroom_plus_one = x == 0 ? 32 : __builtin_clz((uint32_t)x);
  *num_bits_over_unit = x_integer_digits - headroom_plus_one;
  const uint32_t shifted = headroom_plus_one >= 32 ? 0u : ((uint32_t)x << headroom_plus_one);
  const int32_t shifted_sum_minus_one = (int32_t)(shifted - ((uint32_t)1 << 31));
  return es_q_one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one);
}
