/* Operators that move int8 (or any fixed-size) elements without arithmetic, as TFLM does:
 * PAD and PADV2 (reference_ops::Pad: the pad value is the output zero point, or PADV2's
 * constant, which must share the output's quantization), TRANSPOSE (a constant permutation) and
 * CONCATENATION. TFLM's int8 CONCATENATION copies the bytes of every input unchanged even when
 * the inputs' scales or zero points differ from the output's (it stores them but never
 * requantizes; the converter normally gives all of them the output's quantization), so edgeset
 * copies too: that is what the microcontroller computes. */
#include <stdlib.h>
#include <string.h>

#include "nn/kernels/kernels.h"

enum { MAX_DIMS = 6, MAX_CONCAT_INPUTS = 10 };

typedef struct layout_params {
  int rank;
  int32_t in_shape[MAX_DIMS], out_shape[MAX_DIMS];
  int32_t before[MAX_DIMS]; /* PAD: padding before each dimension */
  int perm[MAX_DIMS];       /* TRANSPOSE */
  int axis;                 /* CONCATENATION */
  size_t esize;
  uint8_t pad_value[8];
} layout_params;

static layout_params *params_new(es__op *op, es_error *err)
{
  layout_params *p = calloc(1, sizeof *p);
  if (!p)
    es__op_error(err, op, ES_ENOMEM, "out of memory");
  op->data = p;
  return p;
}

int es__pad_prepare(es_model *m, es__op *op, es_error *err)
{
  int rc;
  const bool v2 = op->opcode == ES_OP_PADV2;
  if ((rc = es__check_io(m, op, 2, v2 ? 3 : 2, 1, err)))
    return rc;
  const es__tensor *in = es__in(m, op, 0), *pads = es__in(m, op, 1), *out = es__out(m, op, 0);
  const es__tensor *cv = v2 ? es__in(m, op, 2) : NULL;
  if ((rc = es__check_type(op, out, in->type, "output", err)) ||
      (rc = es__check_type(op, pads, ES_TFLITE_INT32, "paddings", err)) ||
      (rc = es__check_const(op, pads, "paddings", err)))
    return rc;
  char s1[ES__SHAPE_STR], s2[ES__SHAPE_STR];
  if (in->rank > MAX_DIMS || in->rank != out->rank)
    return es__tensor_error(err, op, out, "output", ES_EUNSUPPORTED,
                            "has shape %s, the input %s (the same rank, at most %d, is needed)",
                            es__shape_str(out, s1), es__shape_str(in, s2), MAX_DIMS);
  if (pads->rank != 2 || pads->shape[0] != in->rank || pads->shape[1] != 2)
    return es__tensor_error(err, op, pads, "paddings", ES_EFORMAT,
                            "has shape %s: it must be [%d,2]", es__shape_str(pads, s1), in->rank);
  layout_params *p = params_new(op, err);
  if (!p)
    return ES_ENOMEM;
  p->rank = in->rank;
  p->esize = es_tflite_type_size(in->type);
  for (int d = 0; d < in->rank; d++) {
    const int32_t b = es__ld_i32(pads->const_data, 2 * (size_t)d);
    const int32_t a = es__ld_i32(pads->const_data, 2 * (size_t)d + 1);
    if (b < 0 || a < 0)
      return es__tensor_error(err, op, pads, "paddings", ES_EFORMAT,
                              "has a negative padding %d/%d on dimension %d", b, a, d);
    if ((int64_t)in->shape[d] + b + a != out->shape[d])
      return es__tensor_error(err, op, out, "output", ES_EFORMAT,
                              "has shape %s: dimension %d is not the input's %d padded by %d + %d",
                              es__shape_str(out, s1), d, (int)in->shape[d], b, a);
    p->in_shape[d] = in->shape[d];
    p->out_shape[d] = out->shape[d];
    p->before[d] = b;
  }
  if (in->type == ES_TFLITE_INT8) {
    if ((rc = es__check_quantized(op, out, "output", err)))
      return rc;
    int8_t v = (int8_t)out->zero_point;
    if (cv) {
      if ((rc = es__check_type(op, cv, ES_TFLITE_INT8, "constant value", err)) ||
          (rc = es__check_const(op, cv, "constant value", err)))
        return rc;
      if (cv->count != 1)
        return es__tensor_error(err, op, cv, "constant value", ES_EFORMAT,
                                "has %zu elements (1 is read)", cv->count);
      if (cv->src->q.count == 0 || cv->zero_point != out->zero_point || cv->scale != out->scale)
        return es__tensor_error(err, op, cv, "constant value", ES_EUNSUPPORTED,
                                "must have the output's scale and zero point");
      v = (int8_t)cv->const_data[0];
    }
    memcpy(p->pad_value, &v, 1);
  } else if (cv) {
    if ((rc = es__check_type(op, cv, in->type, "constant value", err)) ||
        (rc = es__check_const(op, cv, "constant value", err)))
      return rc;
    if (cv->count != 1)
      return es__tensor_error(err, op, cv, "constant value", ES_EFORMAT,
                              "has %zu elements (1 is read)", cv->count);
    memcpy(p->pad_value, cv->const_data, p->esize);
  }
  op->macs = 0;
  op->params = pads->count + (cv ? cv->count : 0);
  return ES_OK;
}

void es__pad_eval_ref(const es__run *r, const es__op *op)
{
  const layout_params *p = op->data;
  const uint8_t *in = es__in_data(r, op, 0);
  uint8_t *out = es__out_data(r, op, 0);
  const es__tensor *in_t = es__in(r->m, op, 0), *out_t = es__out(r->m, op, 0);
  const size_t es = p->esize;
  if (es == 1)
    memset(out, p->pad_value[0], out_t->count);
  else
    for (size_t i = 0; i < out_t->count; i++)
      memcpy(out + i * es, p->pad_value, es);
  if (in_t->count == 0)
    return;
  /* The input is copied in runs: the innermost dimensions that are not padded are contiguous in
   * both tensors, so a run is one row of the innermost padded dimension (or the whole tensor). */
  int inner = p->rank; /* dimensions inner..rank-1 are not padded */
  while (inner > 0 && p->in_shape[inner - 1] == p->out_shape[inner - 1])
    inner--;
  int last = inner > 0 ? inner - 1 : 0; /* the run spans dimension `last` and everything inside */
  size_t run = es, stride_in = 1;
  for (int d = last; d < p->rank; d++)
    stride_in *= (size_t)p->in_shape[d];
  run = stride_in * es;
  size_t inner_out = 1; /* output elements of one step of dimension `last` - 1 */
  for (int d = last + 1; d < p->rank; d++)
    inner_out *= (size_t)p->out_shape[d];
  int32_t idx[MAX_DIMS] = {0};
  const size_t runs = in_t->count / stride_in;
  for (size_t i = 0; i < runs; i++) {
    size_t o = 0;
    for (int d = 0; d < last; d++)
      o = o * (size_t)p->out_shape[d] + (size_t)(idx[d] + p->before[d]);
    o = o * (size_t)p->out_shape[last] + (size_t)p->before[last];
    o *= inner_out;
    memcpy(out + o * es, in + i * run, run);
    for (int d = last - 1; d >= 0; d--) {
      if (++idx[d] < p->in_shape[d])
        break;
      idx[d] = 0;
    }
  }
}

int es__transpose_prepare(es_model *m, es__op *op, es_error *err)
{
  int rc;
  if ((rc = es__check_io(m, op, 2, 2, 1, err)))
    return rc;
  const es__tensor *in = es__in(m, op, 0), *perm = es__in(m, op, 1), *out = es__out(m, op, 0);
  if ((rc = es__check_type(op, out, in->type, "output", err)) ||
      (rc = es__check_type(op, perm, ES_TFLITE_INT32, "permutation", err)) ||
      (rc = es__check_const(op, perm, "permutation", err)))
    return rc;
  char s1[ES__SHAPE_STR], s2[ES__SHAPE_STR];
  if (in->rank > MAX_DIMS || in->rank != out->rank)
    return es__tensor_error(err, op, out, "output", ES_EFORMAT,
                            "has shape %s, the input %s (the same rank, at most %d, is needed)",
                            es__shape_str(out, s1), es__shape_str(in, s2), MAX_DIMS);
  if (perm->count != (size_t)in->rank)
    return es__tensor_error(err, op, perm, "permutation", ES_EFORMAT,
                            "has %zu values for rank %d", perm->count, in->rank);
  if (in->type == ES_TFLITE_INT8 &&
      (in->zero_point != out->zero_point || in->scale != out->scale))
    return es__tensor_error(err, op, out, "output", ES_EUNSUPPORTED,
                            "has scale %g and zero point %d, the input %g and %d (they must agree)",
                            (double)out->scale, (int)out->zero_point, (double)in->scale,
                            (int)in->zero_point);
  layout_params *p = params_new(op, err);
  if (!p)
    return ES_ENOMEM;
  p->rank = in->rank;
  p->esize = es_tflite_type_size(in->type);
  bool seen[MAX_DIMS] = {false};
  for (int d = 0; d < in->rank; d++) {
    int32_t a = es__ld_i32(perm->const_data, (size_t)d);
    if (a < 0)
      a += in->rank; /* TFLM accepts negative entries */
    if (a < 0 || a >= in->rank || seen[a])
      return es__tensor_error(err, op, perm, "permutation", ES_EFORMAT,
                              "is not a permutation of 0..%d", in->rank - 1);
    seen[a] = true;
    p->perm[d] = a;
    p->in_shape[d] = in->shape[d];
    if (out->shape[d] != in->shape[a])
      return es__tensor_error(err, op, out, "output", ES_EFORMAT,
                              "has shape %s: dimension %d is not the input %s's dimension %d",
                              es__shape_str(out, s1), d, es__shape_str(in, s2), (int)a);
    p->out_shape[d] = out->shape[d];
  }
  op->params = perm->count;
  return ES_OK;
}

void es__transpose_eval_ref(const es__run *r, const es__op *op)
{
  const layout_params *p = op->data;
  const uint8_t *in = es__in_data(r, op, 0);
  uint8_t *out = es__out_data(r, op, 0);
  const size_t n = es__out(r->m, op, 0)->count, es = p->esize;
  if (n == 0)
    return;
  size_t in_stride[MAX_DIMS], st[MAX_DIMS];
  size_t s = 1;
  for (int d = p->rank - 1; d >= 0; d--) {
    in_stride[d] = s;
    s *= (size_t)p->in_shape[d];
  }
  for (int d = 0; d < p->rank; d++)
    st[d] = in_stride[p->perm[d]]; /* input elements per step of output dimension d */
  /* output rows of the innermost dimension, in order; the odometer runs over the others */
  const int last = p->rank - 1;
  const size_t row = last >= 0 ? (size_t)p->out_shape[last] : 1, step = last >= 0 ? st[last] : 0;
  int32_t idx[MAX_DIMS] = {0};
  size_t src = 0;
  for (size_t i = 0; i < n; i += row) {
    if (es == 1)
      for (size_t j = 0; j < row; j++)
        out[i + j] = in[src + j * step];
    else
      for (size_t j = 0; j < row; j++)
        memcpy(out + (i + j) * es, in + (src + j * step) * es, es);
    for (int d = last - 1; d >= 0; d--) {
      src += st[d];
      if (++idx[d] < p->out_shape[d])
        break;
      src -= st[d] * (size_t)idx[d];
      idx[d] = 0;
    }
  }
}

int es__concat_prepare(es_model *m, es__op *op, es_error *err)
{
  int rc;
  if ((rc = es__check_io(m, op, 1, MAX_CONCAT_INPUTS, 1, err)))
    return rc;
  const es__tensor *out = es__out(m, op, 0);
  const es_tflite_options *o = &op->src->opts;
  if (o->activation != ES_ACT_NONE)
    return es__op_error(err, op, ES_EUNSUPPORTED, "fused activation %d (TFLM requires none)",
                        o->activation);
  char s1[ES__SHAPE_STR], s2[ES__SHAPE_STR];
  if (out->rank < 1 || out->rank > MAX_DIMS)
    return es__tensor_error(err, op, out, "output", ES_EUNSUPPORTED, "has shape %s (rank 1 to %d)",
                            es__shape_str(out, s1), MAX_DIMS);
  const int axis = o->axis < 0 ? o->axis + out->rank : o->axis;
  if (axis < 0 || axis >= out->rank)
    return es__op_error(err, op, ES_EFORMAT, "axis %d outside rank %d", o->axis, out->rank);
  int64_t total = 0;
  for (size_t k = 0; k < op->n_in; k++) {
    const es__tensor *in = es__in(m, op, k);
    if (!in)
      return es__op_error(err, op, ES_EFORMAT, "input %zu is missing", k);
    if ((rc = es__check_type(op, in, out->type, "input", err)))
      return rc;
    if (in->const_data && in->type == ES_TFLITE_INT8 &&
        (rc = es__check_quantized(op, in, "input", err)))
      return rc;
    if (in->rank != out->rank)
      return es__tensor_error(err, op, in, "input", ES_EFORMAT,
                              "%zu has shape %s, the output %s: the ranks differ", k,
                              es__shape_str(in, s1), es__shape_str(out, s2));
    for (int d = 0; d < out->rank; d++)
      if (d != axis && in->shape[d] != out->shape[d])
        return es__tensor_error(err, op, in, "input", ES_EFORMAT,
                                "%zu has shape %s, the output %s: dimension %d differs", k,
                                es__shape_str(in, s1), es__shape_str(out, s2), d);
    total += in->shape[axis];
  }
  if (total != out->shape[axis])
    return es__tensor_error(err, op, out, "output", ES_EFORMAT,
                            "has shape %s: the inputs add up to %lld along axis %d",
                            es__shape_str(out, s1), (long long)total, axis);
  layout_params *p = params_new(op, err);
  if (!p)
    return ES_ENOMEM;
  p->rank = out->rank;
  p->axis = axis;
  p->esize = es_tflite_type_size(out->type);
  for (int d = 0; d < out->rank; d++)
    p->out_shape[d] = out->shape[d];
  return ES_OK;
}

void es__concat_eval_ref(const es__run *r, const es__op *op)
{
  const layout_params *p = op->data;
  uint8_t *out = es__out_data(r, op, 0);
  size_t outer = 1, inner = 1;
  for (int d = 0; d < p->axis; d++)
    outer *= (size_t)p->out_shape[d];
  for (int d = p->axis + 1; d < p->rank; d++)
    inner *= (size_t)p->out_shape[d];
  for (size_t o = 0; o < outer; o++) {
    for (size_t k = 0; k < op->n_in; k++) {
      const size_t chunk = (size_t)es__in(r->m, op, k)->shape[p->axis] * inner * p->esize;
      const uint8_t *in = es__in_data(r, op, k);
      memcpy(out, in + o * chunk, chunk);
      out += chunk;
    }
  }
}
