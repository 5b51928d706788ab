/* SOFTMAX, int8 -> int8: TFLM's reference_ops::Softmax fixed-point path. Differences to the
 * row maximum are scaled to Q5.26 by input_beta_multiplier / left_shift, exponentiated with
 * gemmlowp's exp_on_negative_values, summed in Q12.19, inverted with GetReciprocal, and
 * differences below diff_min give the minimum output. The output must be scale 1/256, zero point
 * -128, as TFLM requires. */
#include <stdlib.h>

#include "nn/kernels/kernels.h"
#include "nn/quant.h"

enum { SCALED_DIFF_INTEGER_BITS = 5, ACCUMULATION_INTEGER_BITS = 12 };

typedef struct softmax_params {
  int32_t input_multiplier;
  int input_left_shift;
  int32_t diff_min;
  size_t outer, depth;
} softmax_params;

int es__softmax_prepare(es_model *m, es__op *op, es_error *err)
{
  int rc;
  if ((rc = es__check_io(m, op, 1, 1, 1, err)))
    return rc;
  const es__tensor *in = es__in(m, op, 0), *out = es__out(m, op, 0);
  if ((rc = es__check_type(op, out, ES_TFLITE_INT8, "output", err)) ||
      (rc = es__check_quantized(op, in, "input", err)) ||
      (rc = es__check_quantized(op, out, "output", err)))
    return rc;
  char s1[ES__SHAPE_STR], s2[ES__SHAPE_STR];
  /* the kernel reads rows of the input's last dimension and writes as many values */
  if (in->rank < 1 || in->count != out->count)
    return es__tensor_error(err, op, out, "output", ES_EFORMAT,
                            "has shape %s, which does not hold the input's %s",
                            es__shape_str(out, s1), es__shape_str(in, s2));
  if (out->zero_point != -128 || out->scale != 1.0f / 256)
    return es__tensor_error(err, op, out, "output", ES_EUNSUPPORTED,
                            "must have scale 1/256 and zero point -128 (has %g, %d)",
                            (double)out->scale, (int)out->zero_point);
  softmax_params *p = calloc(1, sizeof *p);
  if (!p)
    return es__op_error(err, op, ES_ENOMEM, "out of memory");
  op->data = p;
  const double beta = (double)op->src->opts.beta;
  const double real = beta * (double)in->scale * (double)(1 << (31 - SCALED_DIFF_INTEGER_BITS));
  /* the left shift of MultiplyByQuantizedMultiplierGreaterThanOne must be 1 .. 31 */
  if (!(real > 1.0))
    return es__tensor_error(err, op, in, "input", ES_EUNSUPPORTED,
                            "has scale %g: times beta %g it is too small for the fixed-point path",
                            (double)in->scale, beta);
  es_q_softmax_scaling(beta, (double)in->scale, SCALED_DIFF_INTEGER_BITS, &p->input_multiplier,
                       &p->input_left_shift);
  if (p->input_left_shift < 1 || p->input_left_shift > 31)
    return es__tensor_error(err, op, in, "input", ES_EUNSUPPORTED,
                            "has scale %g: with beta %g the input left shift is %d (1 to 31)",
                            (double)in->scale, beta, p->input_left_shift);
  p->diff_min = (int32_t)(-1.0 * es_q_input_radius(SCALED_DIFF_INTEGER_BITS,
                                                   p->input_left_shift, 31));
  p->depth = (size_t)in->shape[in->rank - 1];
  p->outer = p->depth ? in->count / p->depth : 0;
  op->macs = in->count;
  return ES_OK;
}

void es__softmax_eval_ref(const es__run *r, const es__op *op)
{
  const softmax_params *p = op->data;
  const int8_t *input = es__in_data(r, op, 0);
  int8_t *output = es__out_data(r, op, 0);
  const size_t depth = p->depth;
  for (size_t i = 0; i < p->outer; ++i) {
    const int8_t *in_row = input + i * depth;
    int8_t *out_row = output + i * depth;
    int32_t max_in_row = -128;
    for (size_t c = 0; c < depth; ++c)
      max_in_row = in_row[c] > max_in_row ? in_row[c] : max_in_row;

    /* Q12.19, int32 in TFLM: 4096 values at the row maximum (4096 * 2^19 = 2^31) overflow it, and
     * TFLM's sum wraps (on a microcontroller); so does this one, in unsigned arithmetic */
    uint32_t sum_of_exps = 0;
    for (size_t c = 0; c < depth; ++c) {
      const int32_t input_diff = (int32_t)in_row[c] - max_in_row;
      if (input_diff >= p->diff_min) {
        const int32_t scaled_diff =
            es_q_mul_by_qm_gt1(input_diff, p->input_multiplier, p->input_left_shift);
        const int32_t e = es_q_exp_on_negative_values(scaled_diff, SCALED_DIFF_INTEGER_BITS);
        sum_of_exps += (uint32_t)es_q_rdbpot(e, ACCUMULATION_INTEGER_BITS); /* Rescale<12> */
      }
    }

    int num_bits_over_unit;
    const int32_t shifted_scale =
        es_q_reciprocal((int32_t)sum_of_exps, ACCUMULATION_INTEGER_BITS, &num_bits_over_unit);
    /* num_bits_over_unit + 23 exceeds gemmlowp's 31 once the sum reaches 2^28: es_q_rdbpot then
     * gives what TFLM's code computes on Cortex-M (see nn/quant.h) */

    for (size_t c = 0; c < depth; ++c) {
      const int32_t input_diff = (int32_t)in_row[c] - max_in_row;
      if (input_diff >= p->diff_min) {
        const int32_t scaled_diff =
            es_q_mul_by_qm_gt1(input_diff, p->input_multiplier, p->input_left_shift);
        const int32_t exp_in_0 = es_q_exp_on_negative_values(scaled_diff, SCALED_DIFF_INTEGER_BITS);
        const int32_t unsat_output =
            es_q_rdbpot(es_q_srdhm(shifted_scale, exp_in_0), num_bits_over_unit + 31 - 8);
        int32_t shifted_output = unsat_output - 128;
        shifted_output = shifted_output > 127 ? 127 : shifted_output;
        shifted_output = shifted_output < -128 ? -128 : shifted_output;
        out_row[c] = (int8_t)shifted_output;
      } else {
        out_row[c] = -128;
      }
    }
  }
}
