/* ADD, SUB and MUL, int8, with TFLite broadcasting (up to 6 dimensions). ADD and SUB follow
 * TFLM's general quantized path: both inputs shifted left by 20 bits, rescaled to twice the
 * larger input scale with QuantizeMultiplierSmallerThanOneExp multipliers, added (or
 * subtracted), rescaled to the output and clamped. TFLM computes ADD's rescale factors in double
 * but SUB's in float (then widened), and so does this file. MUL multiplies the offset inputs and
 * requantizes with input1_scale * input2_scale / output_scale computed in double. */
#include <stdio.h>
#include <stdlib.h>

#include "nn/kernels/kernels.h"
#include "nn/quant.h"

#define MAXD 6

typedef struct addsub_params {
  int32_t input1_offset, input2_offset, output_offset;
  int left_shift;
  int32_t input1_multiplier, input2_multiplier, output_multiplier;
  int input1_shift, input2_shift, output_shift;
  int32_t act_min, act_max;
  int32_t opcode;
  int broadcast;
  /* broadcast: output shape and input strides (0 on broadcast dimensions), padded to MAXD */
  int32_t out_shape[MAXD];
  size_t stride1[MAXD], stride2[MAXD];
} addsub_params;

static int smaller_than_one(double real, int32_t *mult, int *shift)
{
  if (!(real < 1.0) || !(real > 0.0))
    return -1;
  es_q_quantize_multiplier(real, mult, shift);
  return *shift <= 0 ? 0 : -1;
}

static void strides(const es__tensor *t, const int32_t *out_shape, size_t *stride)
{
  size_t s = 1;
  for (int d = MAXD - 1; d >= 0; d--) {
    int k = d - (MAXD - t->rank);
    int32_t dim = k >= 0 ? t->shape[k] : 1;
    stride[d] = (dim == 1 && out_shape[d] != 1) ? 0 : s;
    s *= (size_t)dim;
  }
}

int es__addsub_prepare(es_model *m, es__op *op, es_error *err)
{
  int rc;
  if ((rc = es__check_io(m, op, 2, 2, 1, err)))
    return rc;
  const es__tensor *a = es__in(m, op, 0), *b = es__in(m, op, 1), *out = es__out(m, op, 0);
  if ((rc = es__check_type(op, b, ES_TFLITE_INT8, "input 2", err)) ||
      (rc = es__check_type(op, out, ES_TFLITE_INT8, "output", err)) ||
      (rc = es__check_quantized(op, a, "input 1", err)) ||
      (rc = es__check_quantized(op, b, "input 2", err)) ||
      (rc = es__check_quantized(op, out, "output", err)))
    return rc;
  char s1[ES__SHAPE_STR], s2[ES__SHAPE_STR], s3[ES__SHAPE_STR];
  const es__tensor *const ts[3] = {a, b, out};
  static const char *const roles[3] = {"input 1", "input 2", "output"};
  for (int k = 0; k < 3; k++)
    if (ts[k]->rank > MAXD)
      return es__tensor_error(err, op, ts[k], roles[k], ES_EUNSUPPORTED,
                              "has shape %s: more than %d dimensions",
                              es__shape_str(ts[k], s1), MAXD);
  addsub_params *p = calloc(1, sizeof *p);
  if (!p)
    return es__op_error(err, op, ES_ENOMEM, "out of memory");
  op->data = p;
  p->opcode = op->opcode;
  /* broadcast shape */
  int same = a->rank == b->rank;
  for (int d = 0; same && d < a->rank; d++)
    same = a->shape[d] == b->shape[d];
  p->broadcast = !same;
  for (int d = 0; d < MAXD; d++) {
    int ka = d - (MAXD - a->rank), kb = d - (MAXD - b->rank), ko = d - (MAXD - out->rank);
    int32_t da = ka >= 0 ? a->shape[ka] : 1, db = kb >= 0 ? b->shape[kb] : 1;
    int32_t dout = ko >= 0 ? out->shape[ko] : 1;
    if (!(da == db || da == 1 || db == 1))
      return es__tensor_error(err, op, b, "input 2", ES_EFORMAT,
                              "has shape %s, which does not broadcast with input 1's %s",
                              es__shape_str(b, s1), es__shape_str(a, s2));
    int32_t want = (da == 0 || db == 0) ? 0 : (da > db ? da : db);
    if (dout != want)
      return es__tensor_error(err, op, out, "output", ES_EFORMAT,
                              "has shape %s, not the broadcast shape of %s and %s",
                              es__shape_str(out, s1), es__shape_str(a, s2), es__shape_str(b, s3));
    p->out_shape[d] = want;
  }
  strides(a, p->out_shape, p->stride1);
  strides(b, p->out_shape, p->stride2);

  p->input1_offset = -a->zero_point;
  p->input2_offset = -b->zero_point;
  p->output_offset = out->zero_point;
  p->left_shift = 20;
  double real1, real2, real_out;
  const float max_scale = a->scale > b->scale ? a->scale : b->scale;
  char sa[ES__SCALE_STR], sb[ES__SCALE_STR], so[ES__SCALE_STR], what[3 * ES__SCALE_STR + 8];
  snprintf(what, sizeof what, "%s, %s, %s", es__scale_str(a, "input 1", sa),
           es__scale_str(b, "input 2", sb), es__scale_str(out, "output", so));
  if (op->opcode == ES_OP_MUL) {
    const double real = (double)a->scale * (double)b->scale / (double)out->scale;
    if ((rc = es__quantize_scale(op, real, -31, 31, what, &p->output_multiplier,
                                 &p->output_shift, err)))
      return rc;
  } else {
    if (op->opcode == ES_OP_ADD) {
      const double twice_max_input_scale = 2 * (double)max_scale;
      real1 = (double)a->scale / twice_max_input_scale;
      real2 = (double)b->scale / twice_max_input_scale;
      real_out = twice_max_input_scale / ((double)(1 << p->left_shift) * (double)out->scale);
    } else {
      const float twice_max_input_scale = 2 * max_scale;
      real1 = (double)(a->scale / twice_max_input_scale);
      real2 = (double)(b->scale / twice_max_input_scale);
      real_out = (double)(twice_max_input_scale / ((float)(1 << p->left_shift) * out->scale));
    }
    /* QuantizeMultiplierSmallerThanOneExp: each factor in (0, 1), a right shift of 0 .. 31 */
    if (smaller_than_one(real1, &p->input1_multiplier, &p->input1_shift) ||
        smaller_than_one(real2, &p->input2_multiplier, &p->input2_shift) ||
        smaller_than_one(real_out, &p->output_multiplier, &p->output_shift))
      return es__op_error(err, op, ES_EUNSUPPORTED, "%s give a rescale factor outside (0, 1)",
                          what);
  }
  if ((rc = es__act_range(op, out, op->src->opts.activation, &p->act_min, &p->act_max, err)))
    return rc;
  op->macs = out->count;
  return ES_OK;
}

static int8_t add_one(const addsub_params *p, int8_t x, int8_t y)
{
  if (p->opcode == ES_OP_MUL) {
    const int32_t input1_val = p->input1_offset + x;
    const int32_t input2_val = p->input2_offset + y;
    /* wraps as TFLM's int32 does: a left shift of up to 31 can reach INT32_MIN */
    int32_t result = es_q_add_wrap(
        p->output_offset,
        es_q_mul_by_qm(input1_val * input2_val, p->output_multiplier, p->output_shift));
    result = result < p->act_min ? p->act_min : result;
    result = result > p->act_max ? p->act_max : result;
    return (int8_t)result;
  }
  const int32_t input1_val = p->input1_offset + x;
  const int32_t input2_val = p->input2_offset + y;
  const int32_t shifted_input1_val = input1_val * (1 << p->left_shift);
  const int32_t shifted_input2_val = input2_val * (1 << p->left_shift);
  const int32_t scaled_input1_val =
      es_q_mul_by_qm(shifted_input1_val, p->input1_multiplier, p->input1_shift);
  const int32_t scaled_input2_val =
      es_q_mul_by_qm(shifted_input2_val, p->input2_multiplier, p->input2_shift);
  const int32_t raw = p->opcode == ES_OP_SUB ? scaled_input1_val - scaled_input2_val
                                : scaled_input1_val + scaled_input2_val;
  int32_t raw_output = es_q_mul_by_qm(raw, p->output_multiplier, p->output_shift) +
                       p->output_offset;
  raw_output = raw_output < p->act_min ? p->act_min : raw_output;
  raw_output = raw_output > p->act_max ? p->act_max : raw_output;
  return (int8_t)raw_output;
}

int8_t es__addsub_value(const es__op *op, int8_t x, int8_t y)
{
  return add_one(op->data, x, y);
}

bool es__addsub_elementwise(const es__op *op)
{
  return !((const addsub_params *)op->data)->broadcast;
}

void es__addsub_eval_ref(const es__run *r, const es__op *op)
{
  const addsub_params *p = op->data;
  const int8_t *a = es__in_data(r, op, 0), *b = es__in_data(r, op, 1);
  int8_t *out = es__out_data(r, op, 0);
  const es__tensor *out_t = es__out(r->m, op, 0);
  if (!p->broadcast) {
    for (size_t i = 0; i < out_t->count; i++)
      out[i] = add_one(p, a[i], b[i]);
    return;
  }
  size_t idx[MAXD] = {0}, o = 0;
  if (out_t->count == 0)
    return;
  for (;;) {
    size_t ia = 0, ib = 0;
    for (int d = 0; d < MAXD; d++) {
      ia += idx[d] * p->stride1[d];
      ib += idx[d] * p->stride2[d];
    }
    out[o++] = add_one(p, a[ia], b[ib]);
    int d = MAXD - 1;
    while (d >= 0 && ++idx[d] == (size_t)p->out_shape[d])
      idx[d--] = 0;
    if (d < 0)
      break;
  }
}
