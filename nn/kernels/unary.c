/* Elementwise one-input operators, int8 unless noted, as TFLM computes them:
 * RELU (requantize input->output with a QuantizeMultiplier of input_scale / output_scale, clamp
 * at the quantized zero), RELU6 (clamp between the input's quantized 0 and 6), LOGISTIC and TANH
 * (input rescaled to Q4.27 by a frexp multiplier, gemmlowp's fixed-point logistic / tanh,
 * saturation outside the input radius), QUANTIZE (float32 -> int8 with float division and
 * round(), or int8 -> int8 requantization) and DEQUANTIZE (int8 -> float32 via a double
 * product). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/kernels/kernels.h"
#include "nn/quant.h"

typedef struct unary_params {
  int32_t multiplier;
  int shift;
  int32_t input_zp, output_zp;
  int32_t lo, hi;
  int32_t radius;
  double scale;   /* DEQUANTIZE */
  float fscale;   /* QUANTIZE from float */
} unary_params;

enum { INPUT_INTEGER_BITS = 4 };

int es__unary_prepare(es_model *m, es__op *op, es_error *err)
{
  int rc;
  if ((rc = es__check_io(m, op, 1, 1, 1, err)))
    return rc;
  const es__tensor *in = es__in(m, op, 0), *out = es__out(m, op, 0);
  char s1[ES__SHAPE_STR], s2[ES__SHAPE_STR];
  if (in->count != out->count) /* the kernels read and write out->count values */
    return es__tensor_error(err, op, out, "output", ES_EFORMAT,
                            "has shape %s (%zu values), the input %s has %zu", es__shape_str(out, s1),
                            out->count, es__shape_str(in, s2), in->count);
  unary_params *p = calloc(1, sizeof *p);
  if (!p)
    return es__op_error(err, op, ES_ENOMEM, "out of memory");
  op->data = p;
  op->macs = out->count;
  const int out_type = op->opcode == ES_OP_DEQUANTIZE ? ES_TFLITE_FLOAT32 : ES_TFLITE_INT8;
  if ((rc = es__check_type(op, out, out_type, "output", err)))
    return rc;
  if (in->type == ES_TFLITE_INT8 && (rc = es__check_quantized(op, in, "input", err)))
    return rc;
  if (out_type == ES_TFLITE_INT8 && (rc = es__check_quantized(op, out, "output", err)))
    return rc;
  p->input_zp = in->zero_point;
  p->output_zp = out->zero_point;
  char si[ES__SCALE_STR], so[ES__SCALE_STR], what[2 * ES__SCALE_STR + 8];
  snprintf(what, sizeof what, "%s / %s", es__scale_str(in, "input", si),
           es__scale_str(out, "output", so));
  switch (op->opcode) {
  case ES_OP_RELU: {
    if ((rc = es__quantize_scale(op, (double)in->scale / (double)out->scale, -31, 31, what,
                                 &p->multiplier, &p->shift, err)))
      return rc;
    const int32_t zero = out->zero_point + (int32_t)roundf(0.0f / out->scale);
    p->lo = zero > -128 ? zero : -128;
    p->hi = 127;
    break;
  }
  case ES_OP_RELU6: {
    const float six = roundf(6.0f / in->scale) + (float)in->zero_point;
    if (!(six > -1e9f && six < 1e9f))
      return es__tensor_error(err, op, in, "input", ES_EFORMAT,
                              "has scale %g: 6.0 is not representable", (double)in->scale);
    int32_t s = (int32_t)six;
    p->lo = in->zero_point;
    p->hi = s < -128 ? -128 : s > 127 ? 127 : s;
    break;
  }
  case ES_OP_LOGISTIC:
  case ES_OP_TANH: {
    if (op->opcode == ES_OP_LOGISTIC && out->zero_point != -128)
      return es__tensor_error(err, op, out, "output", ES_EUNSUPPORTED,
                              "has zero point %d: int8 LOGISTIC needs -128", (int)out->zero_point);
    const double real = (double)in->scale * (double)(1 << (31 - INPUT_INTEGER_BITS));
    int e;
    const double q = frexp(real, &e);
    /* q * 2^31 never rounds up to 2^31: a float scale times 2^27 has at most 24 significant
     * bits */
    p->multiplier = (int32_t)(int64_t)round(q * (double)(INT64_C(1) << 31));
    p->shift = e;
    /* TFLM's CalculateInputRadius divides by 1LL << input_left_shift (undefined for a negative
     * shift: an input scale below 2^-28), and MultiplyByQuantizedMultiplier shifts left by at
     * most 31 */
    if (e < 0 || e > 31)
      return es__tensor_error(err, op, in, "input", ES_EUNSUPPORTED,
                              "has scale %g: the fixed-point input left shift would be %d, "
                              "outside the 0 to 31 TFLM's arithmetic supports (scales 2^-28 to "
                              "below 16)",
                              (double)in->scale, e);
    p->radius = es_q_input_radius(INPUT_INTEGER_BITS, e, 31);
    break;
  }
  case ES_OP_QUANTIZE:
    if (in->type == ES_TFLITE_FLOAT32) {
      p->fscale = (float)(double)out->scale;
    } else if ((rc = es__quantize_scale(op, (double)in->scale / (double)out->scale, -31, 31,
                                          what, &p->multiplier, &p->shift, err))) {
      return rc;
    }
    break;
  case ES_OP_DEQUANTIZE:
    p->scale = (double)in->scale;
    break;
  default:
    return es__op_error(err, op, ES_EINTERNAL, "not a unary operator");
  }
  return ES_OK;
}

void es__relu_eval_ref(const es__run *r, const es__op *op)
{
  const unary_params *p = op->data;
  const int8_t *in = es__in_data(r, op, 0);
  int8_t *out = es__out_data(r, op, 0);
  const size_t n = es__out(r->m, op, 0)->count;
  for (size_t i = 0; i < n; i++) {
    const int32_t val = in[i];
    int32_t clamped =
        es_q_add_wrap(p->output_zp, es_q_mul_by_qm(val - p->input_zp, p->multiplier, p->shift));
    clamped = clamped < p->lo ? p->lo : clamped;
    clamped = clamped > p->hi ? p->hi : clamped;
    out[i] = (int8_t)clamped;
  }
}

void es__relu6_eval_ref(const es__run *r, const es__op *op)
{
  const unary_params *p = op->data;
  const int8_t *in = es__in_data(r, op, 0);
  int8_t *out = es__out_data(r, op, 0);
  const size_t n = es__out(r->m, op, 0)->count;
  for (size_t i = 0; i < n; i++) {
    const int32_t val = in[i];
    out[i] = (int8_t)(val > p->hi ? p->hi : val < p->lo ? p->lo : val);
  }
}

/* LOGISTIC and TANH (TFLM's reference_integer_ops::Logistic and Tanh for int8): inputs beyond the
 * radius saturate; the rest are rescaled to Q4.27, go through gemmlowp's fixed-point function
 * (a Q0.31 result) and are rounded down to 8 bits: logistic's [0, 1) by 2^-23 then shifted by
 * -128, tanh's [-1, 1) by 2^-24. */
static void sigmoid_eval(const es__run *r, const es__op *op, int32_t (*f)(int32_t, int),
                         int out_shift, int32_t out_offset)
{
  const unary_params *p = op->data;
  const int8_t *in = es__in_data(r, op, 0);
  int8_t *out = es__out_data(r, op, 0);
  const size_t n = es__out(r->m, op, 0)->count;
  for (size_t i = 0; i < n; i++) {
    const int32_t input = (int32_t)in[i] - p->input_zp;
    if (input <= -p->radius) {
      out[i] = -128;
    } else if (input >= p->radius) {
      out[i] = 127;
    } else {
      const int32_t input_in_q4 = es_q_mul_by_qm(input, p->multiplier, p->shift);
      int32_t v = es_q_rdbpot(f(input_in_q4, INPUT_INTEGER_BITS), out_shift) + out_offset;
      out[i] = (int8_t)(v < -128 ? -128 : v > 127 ? 127 : v);
    }
  }
}

void es__logistic_eval_ref(const es__run *r, const es__op *op)
{
  sigmoid_eval(r, op, es_q_logistic, 31 - 8, -128);
}

void es__tanh_eval_ref(const es__run *r, const es__op *op)
{
  sigmoid_eval(r, op, es_q_tanh, 31 - 7, 0);
}

void es__quantize_eval_ref(const es__run *r, const es__op *op)
{
  const unary_params *p = op->data;
  const es__tensor *in_t = es__in(r->m, op, 0);
  int8_t *out = es__out_data(r, op, 0);
  const size_t n = es__out(r->m, op, 0)->count;
  if (in_t->type == ES_TFLITE_FLOAT32) {
    const uint8_t *in = es__in_data(r, op, 0);
    for (size_t i = 0; i < n; i++) {
      float val;
      memcpy(&val, in + 4 * i, 4);
      const float q = roundf(val / p->fscale);
      /* out-of-range floats (and NaN) saturate instead of TFLM's undefined conversion */
      int32_t unclamped = q >= 2e9f ? INT32_MAX / 2 : q <= -2e9f ? INT32_MIN / 2 : q == q ? (int32_t)q : 0;
      unclamped += p->output_zp;
      out[i] = (int8_t)(unclamped < -128 ? -128 : unclamped > 127 ? 127 : unclamped);
    }
    return;
  }
  const int8_t *in = es__in_data(r, op, 0);
  for (size_t i = 0; i < n; i++) {
    int32_t v = es_q_add_wrap(es_q_mul_by_qm((int32_t)in[i] - p->input_zp, p->multiplier, p->shift),
                              p->output_zp);
    out[i] = (int8_t)(v < -128 ? -128 : v > 127 ? 127 : v);
  }
}

void es__dequantize_eval_ref(const es__run *r, const es__op *op)
{
  const unary_params *p = op->data;
  const int8_t *in = es__in_data(r, op, 0);
  uint8_t *out = es__out_data(r, op, 0);
  const size_t n = es__out(r->m, op, 0)->count;
  for (size_t i = 0; i < n; i++) {
    const int32_t val = in[i];
    const float result = (float)(p->scale * (val - p->input_zp));
    memcpy(out + 4 * i, &result, 4);
  }
}
