/* FULLY_CONNECTED, int8: TFLM's reference_integer_ops::FullyConnected (per tensor) and
 * FullyConnectedPerChannel. Per-tensor multiplier as GetQuantizedConvolutionMultipler computes
 * it: the input*filter scale product is taken in float, then divided by the output scale in
 * double; per-channel scales are computed entirely in double. */
#include <stdio.h>
#include <stdlib.h>

#include "nn/kernels/fully_connected.h"
#include "nn/kernels/kernels.h"
#include "nn/quant.h"

int es__fc_prepare(es_model *m, es__op *op, es_error *err)
{
  const es_tflite_options *o = &op->src->opts;
  int rc;
  if ((rc = es__check_io(m, op, 2, 3, 1, err)))
    return rc;
  const es__tensor *in = es__in(m, op, 0), *f = es__in(m, op, 1), *b = es__in(m, op, 2);
  const es__tensor *out = es__out(m, op, 0);
  if ((rc = es__check_type(op, in, ES_TFLITE_INT8, "input", err)) ||
      (rc = es__check_type(op, f, ES_TFLITE_INT8, "filter", err)) ||
      (rc = es__check_type(op, out, ES_TFLITE_INT8, "output", err)) ||
      (rc = es__check_const(op, f, "filter", err)) ||
      (rc = es__check_quantized(op, in, "input", err)) ||
      (rc = es__check_quantized(op, f, "filter", err)) ||
      (rc = es__check_quantized(op, out, "output", err)))
    return rc;
  if (o->weights_format != 0)
    return es__op_error(err, op, ES_EUNSUPPORTED, "shuffled weights format is not supported");
  char s1[ES__SHAPE_STR], s2[ES__SHAPE_STR], s3[ES__SHAPE_STR];
  if (f->rank < 2)
    return es__tensor_error(err, op, f, "filter", ES_EFORMAT, "has shape %s: it must be at least 2-D",
                            es__shape_str(f, s1));
  if (out->rank < 1)
    return es__tensor_error(err, op, out, "output", ES_EFORMAT, "is a scalar");
  /* TFLM's loops: accum_depth = the filter's last dimension, output_depth = the output's last
   * dimension (<= the filter's second last), batches = the output's other elements; they read
   * filter[c * accum_depth + d] for c < output_depth, input[b * accum_depth + d], bias[c] */
  const int accum_depth = f->shape[f->rank - 1];
  const int out_depth = out->shape[out->rank - 1];
  if (accum_depth <= 0)
    return es__tensor_error(err, op, f, "filter", ES_EFORMAT,
                            "has shape %s: its last dimension (the input depth) must be positive",
                            es__shape_str(f, s1));
  if (out_depth <= 0)
    return es__tensor_error(err, op, out, "output", ES_EFORMAT,
                            "has shape %s: its last dimension (the units) must be positive",
                            es__shape_str(out, s1));
  if (out_depth > f->shape[f->rank - 2])
    return es__tensor_error(err, op, f, "filter", ES_EFORMAT,
                            "has shape %s: %d units, fewer than the output's %d (output %s)",
                            es__shape_str(f, s1), (int)f->shape[f->rank - 2], out_depth,
                            es__shape_str(out, s2));
  if (f->count / (size_t)accum_depth < (size_t)out_depth)
    return es__tensor_error(err, op, f, "filter", ES_EFORMAT,
                            "has shape %s (%zu values): the kernel reads %d units of %d",
                            es__shape_str(f, s1), f->count, out_depth, accum_depth);
  const size_t batches = out->count / (size_t)out_depth;
  if (in->count != batches * (size_t)accum_depth)
    return es__tensor_error(err, op, in, "input", ES_EFORMAT,
                            "has shape %s (%zu values): the kernel reads %zu batch(es) of %d "
                            "values (filter %s, output %s)",
                            es__shape_str(in, s1), in->count, batches, accum_depth,
                            es__shape_str(f, s2), es__shape_str(out, s3));
  const es_tflite_quant *fq = &f->src->q;
  int per_channel = fq->count > 1;
  if (per_channel) {
    if (fq->quantized_dimension < 0 || fq->quantized_dimension >= f->rank ||
        (size_t)f->shape[fq->quantized_dimension] != fq->count || fq->count < (size_t)out_depth)
      return es__tensor_error(err, op, f, "filter", ES_EFORMAT,
                              "has shape %s and %zu scales on dimension %d: there must be one "
                              "per unit",
                              es__shape_str(f, s1), fq->count, (int)fq->quantized_dimension);
  }
  if (b) {
    if ((rc = es__check_type(op, b, ES_TFLITE_INT32, "bias", err)) ||
        (rc = es__check_const(op, b, "bias", err)))
      return rc;
    if (b->count < (size_t)out_depth)
      return es__tensor_error(err, op, b, "bias", ES_EFORMAT,
                              "has %zu values: the kernel reads %d (one per unit)", b->count,
                              out_depth);
  }
  size_t extra = per_channel ? (size_t)out_depth * (sizeof(int32_t) + sizeof(int)) : 0;
  es__fc_params *p = calloc(1, sizeof *p + extra);
  if (!p)
    return es__op_error(err, op, ES_ENOMEM, "out of memory");
  op->data = p;
  p->per_channel = per_channel;
  p->batches = (int)batches;
  p->out_depth = out_depth;
  p->accum_depth = accum_depth;
  p->input_offset = -in->zero_point;
  p->filter_offset = -f->zero_point;
  p->output_offset = out->zero_point;
  char si[ES__SCALE_STR], sf[ES__SCALE_STR], so[ES__SCALE_STR], what[3 * ES__SCALE_STR + 40];
  es__scale_str(in, "input", si);
  es__scale_str(out, "output", so);
  if (per_channel) {
    p->multiplier = (int32_t *)(p + 1);
    p->shift = (int *)(p->multiplier + out_depth);
    for (int c = 0; c < out_depth; c++) {
      const double effective = (double)in->scale * (double)fq->scale[c] / (double)out->scale;
      snprintf(what, sizeof what, "unit %d: %s, filter (tensor %d) scale %g, %s", c, si,
               f->index, (double)fq->scale[c], so);
      if ((rc = es__quantize_scale(op, effective, -31, 31, what, &p->multiplier[c],
                                   &p->shift[c], err)))
        return rc;
    }
  } else {
    const double input_product_scale = (double)(in->scale * f->scale);
    const double real = input_product_scale / (double)out->scale;
    snprintf(what, sizeof what, "%s, %s, %s", si, es__scale_str(f, "filter", sf), so);
    if ((rc = es__quantize_scale(op, real, -31, 31, what, &p->multiplier0, &p->shift0, err)))
      return rc;
  }
  if ((rc = es__act_range(op, out, o->activation, &p->act_min, &p->act_max, err)))
    return rc;
  op->macs = (uint64_t)batches * (uint64_t)out_depth * (uint64_t)accum_depth;
  op->params = f->count + (b ? b->count : 0);
  return ES_OK;
}

void es__fc_eval_ref(const es__run *r, const es__op *op)
{
  const es__fc_params *p = op->data;
  const int8_t *input = es__in_data(r, op, 0);
  const int8_t *filter = es__in_data(r, op, 1);
  const void *bias = op->n_in > 2 ? es__in_data(r, op, 2) : NULL;
  int8_t *output = es__out_data(r, op, 0);
  const int accum_depth = p->accum_depth, out_depth = p->out_depth;

  for (int b = 0; b < p->batches; ++b) {
    for (int out_c = 0; out_c < out_depth; ++out_c) {
      int64_t acc = 0;
      for (int d = 0; d < accum_depth; ++d) {
        const int32_t input_val = input[(size_t)b * accum_depth + d];
        const int32_t filter_val = filter[(size_t)out_c * accum_depth + d];
        acc += (filter_val + p->filter_offset) * (input_val + p->input_offset);
      }
      if (bias)
        acc += es__ld_i32(bias, (size_t)out_c);
      int32_t acc32 = (int32_t)(uint32_t)(uint64_t)acc;
      if (p->per_channel)
        acc32 = es_q_mul_by_qm(acc32, p->multiplier[out_c], p->shift[out_c]);
      else
        acc32 = es_q_mul_by_qm(acc32, p->multiplier0, p->shift0);
      acc32 = es_q_add_wrap(acc32, p->output_offset); /* wraps as TFLM's int32 does */
      acc32 = acc32 < p->act_min ? p->act_min : acc32;
      acc32 = acc32 > p->act_max ? p->act_max : acc32;
      output[(size_t)b * out_depth + out_c] = (int8_t)acc32;
    }
  }
}
