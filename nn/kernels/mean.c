/* MEAN, int8, as TFLM computes it (reduce_common.cc, EvalIntegerMean, which since TFLM's commit
 * 79b493ae2 sends every int8 MEAN, whatever its axes, keep_dims or quantization, through
 * reference_ops::QuantizedMeanOrSum): the int32 sum of raw values along the reduced axes, then
 * 1/count folded into the requantization multiplier of in_scale / out_scale:
 *   shift = min(floor(log2 count), 32, 31 + shift), multiplier = (multiplier << shift) / count
 * in 64 bits, and MultiplyByQuantizedMultiplier(sum - input_zero_point * count) + output zero
 * point, clamped. Axes may be negative and repeated (TFLM's ResolveAxis). An empty reduction
 * (count 0) writes zeros, as TFLM's early return leaves its zero-initialised output. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/kernels/kernels.h"
#include "nn/quant.h"

enum { MAX_DIMS = 6 };

typedef struct mean_params {
  int rank;
  int32_t in_shape[MAX_DIMS];
  bool reduced[MAX_DIMS];
  int64_t count; /* elements per output */
  int32_t multiplier;
  int shift;
  int32_t input_zp, output_zp;
} mean_params;

int es__mean_prepare(es_model *m, es__op *op, es_error *err)
{
  int rc;
  if ((rc = es__check_io(m, op, 2, 2, 1, err)))
    return rc;
  const es__tensor *in = es__in(m, op, 0), *ax = es__in(m, op, 1), *out = es__out(m, op, 0);
  if ((rc = es__check_type(op, out, ES_TFLITE_INT8, "output", err)) ||
      (rc = es__check_type(op, ax, ES_TFLITE_INT32, "axis", err)) ||
      (rc = es__check_const(op, ax, "axis", err)) ||
      (rc = es__check_quantized(op, in, "input", err)) ||
      (rc = es__check_quantized(op, out, "output", err)))
    return rc;
  char s1[ES__SHAPE_STR], s2[ES__SHAPE_STR];
  if (in->rank < 1 || in->rank > MAX_DIMS)
    return es__tensor_error(err, op, in, "input", ES_EUNSUPPORTED, "has shape %s (rank 1 to %d)",
                            es__shape_str(in, s1), MAX_DIMS);
  if (ax->count < 1 || ax->count > (size_t)in->rank)
    return es__tensor_error(err, op, ax, "axis", ES_EFORMAT, "has %zu values for rank %d",
                            ax->count, in->rank);
  mean_params *p = calloc(1, sizeof *p);
  if (!p)
    return es__op_error(err, op, ES_ENOMEM, "out of memory");
  op->data = p;
  p->rank = in->rank;
  memcpy(p->in_shape, in->shape, sizeof(int32_t) * (size_t)in->rank);
  for (size_t k = 0; k < ax->count; k++) {
    int32_t a = es__ld_i32(ax->const_data, k);
    if (a < 0)
      a += in->rank;
    if (a < 0 || a >= in->rank)
      return es__tensor_error(err, op, ax, "axis", ES_EFORMAT, "value %d is outside rank %d",
                              (int)es__ld_i32(ax->const_data, k), in->rank);
    p->reduced[a] = true;
  }
  /* the output must hold the input with the reduced dimensions removed or kept as 1 */
  size_t out_count = 1;
  for (int d = 0; d < in->rank; d++)
    if (!p->reduced[d])
      out_count *= (size_t)in->shape[d];
  /* elements per output (bounded by the input's element count); an empty input reduces
   * nothing */
  p->count = in->count > 0;
  for (int d = 0; d < in->rank && p->count > 0; d++)
    if (p->reduced[d])
      p->count *= in->shape[d];
  const bool keep = op->src->opts.keep_dims;
  /* the kernel writes one value per combination of the kept dimensions' indices */
  if (out->count != out_count || (keep && out->rank != in->rank))
    return es__tensor_error(err, op, out, "output", ES_EFORMAT,
                            "has shape %s, which does not match the reduction of the input %s",
                            es__shape_str(out, s1), es__shape_str(in, s2));
  if (keep)
    for (int d = 0; d < in->rank; d++)
      if (out->shape[d] != (p->reduced[d] ? 1 : in->shape[d]))
        return es__tensor_error(err, op, out, "output", ES_EFORMAT,
                                "has shape %s: dimension %d is not that of the input %s kept",
                                es__shape_str(out, s1), d, es__shape_str(in, s2));
  p->input_zp = in->zero_point;
  p->output_zp = out->zero_point;
  char si[ES__SCALE_STR], so[ES__SCALE_STR], what[2 * ES__SCALE_STR + 8];
  snprintf(what, sizeof what, "%s / %s", es__scale_str(in, "input", si),
           es__scale_str(out, "output", so));
  if ((rc = es__quantize_scale(op, (double)in->scale / (double)out->scale, -31, 31, what,
                               &p->multiplier, &p->shift, err)))
    return rc;
  if (p->count > 0) { /* es_q_quantize_multiplier keeps shift >= -31, so 31 + shift >= 0 */
    int shift = 63 - __builtin_clzll((unsigned long long)p->count);
    shift = shift < 32 ? shift : 32;
    shift = shift < 31 + p->shift ? shift : 31 + p->shift;
    p->multiplier = (int32_t)(((int64_t)p->multiplier * ((int64_t)1 << shift)) / p->count);
    p->shift -= shift;
  }
  op->macs = in->count;
  op->scratch_bytes = out->count * sizeof(int32_t);
  return ES_OK;
}

static int32_t clamp8(int32_t v)
{
  return v < -128 ? -128 : v > 127 ? 127 : v;
}

void es__mean_eval_ref(const es__run *r, const es__op *op)
{
  const mean_params *p = op->data;
  const int8_t *in = es__in_data(r, op, 0);
  int8_t *out = es__out_data(r, op, 0);
  const size_t n_in = es__in(r->m, op, 0)->count, n_out = es__out(r->m, op, 0)->count;
  if (p->count == 0) {
    memset(out, 0, n_out);
    return;
  }
  uint32_t *sum = (uint32_t *)r->scratch; /* int32 arithmetic that wraps as TFLM's does */
  for (size_t i = 0; i < n_out; i++)
    sum[i] = 0;
  /* input rows of the innermost dimension, in order: a reduced one sums into one output, a
   * kept one adds along a row of outputs */
  int32_t idx[MAX_DIMS] = {0};
  const int last = p->rank - 1;
  const size_t row = p->rank ? (size_t)p->in_shape[last] : 1;
  const bool row_reduced = p->rank && p->reduced[last];
  for (size_t i = 0; i < n_in; i += row) {
    size_t o = 0;
    for (int d = 0; d < last; d++)
      if (!p->reduced[d])
        o = o * (size_t)p->in_shape[d] + (size_t)idx[d];
    if (row_reduced) {
      uint32_t acc = 0;
      for (size_t j = 0; j < row; j++)
        acc += (uint32_t)(int32_t)in[i + j];
      sum[o] += acc;
    } else {
      o *= row;
      for (size_t j = 0; j < row; j++)
        sum[o + j] += (uint32_t)(int32_t)in[i + j];
    }
    for (int d = last - 1; d >= 0; d--) {
      if (++idx[d] < p->in_shape[d])
        break;
      idx[d] = 0;
    }
  }
  /* (sum - input_zp * count) in int64, truncated to int32 as TFLM's static_cast does */
  const uint64_t zp_count = (uint64_t)((int64_t)p->input_zp * p->count);
  for (size_t i = 0; i < n_out; i++) {
    const int32_t shifted = (int32_t)(uint32_t)((uint64_t)(int64_t)(int32_t)sum[i] - zp_count);
    out[i] = (int8_t)clamp8(
        es_q_add_wrap(es_q_mul_by_qm(shifted, p->multiplier, p->shift), p->output_zp));
  }
}
