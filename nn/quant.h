/* TFLite integer arithmetic, bit for bit: gemmlowp's fixed-point primitives
 * (SaturatingRoundingDoublingHighMul, RoundingDivideByPOT, the exp / reciprocal polynomials used
 * by softmax and logistic) and TFLite's quantization helpers (QuantizeMultiplier from a double
 * scale via frexp, MultiplyByQuantizedMultiplier with double rounding, activation ranges, the
 * softmax input scaling). Every function is pure; nothing here keeps state. */
#ifndef ES_NN_QUANT_H
#define ES_NN_QUANT_H

#include <stdint.h>

/* gemmlowp::SaturatingRoundingDoublingHighMul for int32. */
int32_t es_q_srdhm(int32_t a, int32_t b);
/* gemmlowp::RoundingDivideByPOT: round-half-away-from-zero division by 2^exponent (0..31).
 * Exponents 32..63 (TFLM's SOFTMAX on a row whose exponentials sum to 2^28 or more) give what
 * TFLM's code computes on Arm Cortex-M: 1 for x >= 0, -1 for x < 0. */
int32_t es_q_rdbpot(int32_t x, int exponent);
/* gemmlowp::SaturatingRoundingMultiplyByPOT: exponent > 0 saturating left shift, < 0 rounding
 * right shift. */
int32_t es_q_srmbpot(int32_t x, int exponent);

/* tflite::QuantizeMultiplier: multiplier = round(frexp fraction * 2^31) with the 2^31 carry and
 * the flush of shifts below -31 to zero. A real that is not finite and positive gives 0, 0
 * (callers refuse such scales before). */
void es_q_quantize_multiplier(double real, int32_t *multiplier, int *shift);
/* tflite::MultiplyByQuantizedMultiplier (double rounding, the TFLM default). */
int32_t es_q_mul_by_qm(int32_t x, int32_t multiplier, int shift);
/* tflite::MultiplyByQuantizedMultiplierGreaterThanOne (left shift only). */
int32_t es_q_mul_by_qm_gt1(int32_t x, int32_t multiplier, int left_shift);

/* tflite::CalculateActivationRangeQuantized for an output with the given scale and zero point,
 * type range [qmin, qmax] and fused activation (ES_ACT_*). Returns 0, or -1 when the scale makes
 * the range overflow int32 (TFLM refuses such a model). */
int es_q_activation_range(int activation, float scale, int32_t zero_point, int32_t qmin,
                          int32_t qmax, int32_t *act_min, int32_t *act_max);

/* tflite::PreprocessSoftmaxScaling and CalculateInputRadius (double rounding build). The radius
 * needs left_shift >= 0 in TFLM (callers check); a radius above INT32_MAX is INT32_MAX. */
void es_q_softmax_scaling(double beta, double input_scale, int integer_bits, int32_t *multiplier,
                          int *left_shift);
int es_q_input_radius(int integer_bits, int left_shift, int total_signed_bits);

/* gemmlowp fixed-point functions on raw int32 values. in_int_bits is the number of integer bits
 * of the input format; results have 0 integer bits. */
int32_t es_q_exp_on_negative_values(int32_t a, int in_int_bits);
int32_t es_q_one_over_one_plus_x_for_x_in_0_1(int32_t a);
int32_t es_q_logistic(int32_t a, int in_int_bits);
int32_t es_q_tanh(int32_t a, int in_int_bits);
/* tflite::GetReciprocal. */
int32_t es_q_reciprocal(int32_t x, int x_integer_digits, int *num_bits_over_unit);

/* int32 addition that wraps as two's complement (TFLM's int32 arithmetic on a microcontroller),
 * without C's undefined signed overflow. */
static inline int32_t es_q_add_wrap(int32_t a, int32_t b)
{
  return (int32_t)((uint32_t)a + (uint32_t)b);
}

static inline int32_t es_q_sub_wrap(int32_t a, int32_t b)
{
  return (int32_t)((uint32_t)a - (uint32_t)b);
}

#endif
