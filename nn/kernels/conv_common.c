/* Convolution preparation shared by CONV_2D and DEPTHWISE_CONV_2D: geometry as TFLM's
 * ComputePaddingHeightWidth, and PopulateConvolutionQuantizationParams' per-channel
 * multipliers (effective scale computed in double from float scales). */
#include <stdio.h>
#include <stdlib.h>

#include "nn/kernels/conv_common.h"
#include "nn/quant.h"

int es__conv_geometry(const es_model *m, const es__op *op, int padding, int stride_w,
                      int stride_h, int dilation_w, int dilation_h, int filter_w, int filter_h,
                      es__conv_geo *geo, es_error *err)
{
  const es__tensor *in = es__in(m, op, 0), *out = es__out(m, op, 0);
  int rc;
  if (in->shape[0] != out->shape[0]) {
    char s1[ES__SHAPE_STR], s2[ES__SHAPE_STR];
    return es__tensor_error(err, op, out, "output", ES_EFORMAT,
                            "has shape %s: its batch differs from the input's %s",
                            es__shape_str(out, s1), es__shape_str(in, s2));
  }
  if ((rc = es__window(op, in, out, "height", padding, in->shape[1], out->shape[1], filter_h,
                       stride_h, dilation_h, &geo->pad_h, err)) ||
      (rc = es__window(op, in, out, "width", padding, in->shape[2], out->shape[2], filter_w,
                       stride_w, dilation_w, &geo->pad_w, err)))
    return rc;
  geo->stride_w = stride_w;
  geo->stride_h = stride_h;
  geo->dilation_w = dilation_w;
  geo->dilation_h = dilation_h;
  return ES_OK;
}

int es__conv_quant(const es_model *m, es__op *op, const es__tensor *in, const es__tensor *f,
                   const es__tensor *b, const es__tensor *out, int channels, int chan_axis,
                   int activation, es__conv_params *p, es_error *err)
{
  (void)m;
  int rc;
  if ((rc = es__check_type(op, in, ES_TFLITE_INT8, "input", err)) ||
      (rc = es__check_quantized(op, in, "input", err)) ||
      (rc = es__check_quantized(op, f, "filter", err)) ||
      (rc = es__check_quantized(op, out, "output", err)))
    return rc;
  const es_tflite_quant *fq = &f->src->q;
  char s1[ES__SHAPE_STR];
  if (fq->count > 1) {
    if ((size_t)channels != fq->count)
      return es__tensor_error(err, op, f, "filter", ES_EFORMAT,
                              "has %zu scales for %d output channels", fq->count, channels);
    if (fq->quantized_dimension < 0 || fq->quantized_dimension >= f->rank ||
        f->shape[fq->quantized_dimension] != channels)
      return es__tensor_error(err, op, f, "filter", ES_EFORMAT,
                              "has shape %s: quantized dimension %d is not its channel axis %d",
                              es__shape_str(f, s1), (int)fq->quantized_dimension, chan_axis);
  }
  if (b) {
    if ((rc = es__check_type(op, b, ES_TFLITE_INT32, "bias", err)) ||
        (rc = es__check_const(op, b, "bias", err)))
      return rc;
    if (b->count != (size_t)channels)
      return es__tensor_error(err, op, b, "bias", ES_EFORMAT,
                              "has %zu values for %d output channels", b->count, channels);
  }
  es__conv_params *np =
      realloc(p, sizeof *p + (size_t)channels * (sizeof *p->multiplier + sizeof *p->shift));
  if (!np)
    return es__op_error(err, op, ES_ENOMEM, "out of memory");
  p = np;
  op->data = p;
  p->multiplier = (int32_t *)(p + 1);
  p->shift = (int *)(p->multiplier + channels);
  const float input_scale = in->scale, output_scale = out->scale;
  char si[ES__SCALE_STR], so[ES__SCALE_STR], what[2 * ES__SCALE_STR + 80];
  es__scale_str(in, "input", si);
  es__scale_str(out, "output", so);
  for (int c = 0; c < channels; c++) {
    const float scale = fq->count > 1 ? fq->scale[c] : fq->scale[0];
    const double effective = (double)input_scale * (double)scale / (double)output_scale;
    snprintf(what, sizeof what, "channel %d: %s, filter (tensor %d) scale %g, %s", c, si,
             f->index, (double)scale, so);
    if ((rc = es__quantize_scale(op, effective, -31, 31, what, &p->multiplier[c], &p->shift[c],
                                 err)))
      return rc;
  }
  p->input_offset = -in->zero_point;
  p->output_offset = out->zero_point;
  return es__act_range(op, out, activation, &p->act_min, &p->act_max, err);
}

int es__conv_prepare_start(es_model *m, es__op *op, const es__tensor **in, const es__tensor **f,
                           const es__tensor **b, const es__tensor **out, es__conv_params **p,
                           es_error *err)
{
  int rc;
  if ((rc = es__check_io(m, op, 2, 3, 1, err)))
    return rc;
  *in = es__in(m, op, 0);
  *f = es__in(m, op, 1);
  *b = es__in(m, op, 2);
  *out = es__out(m, op, 0);
  if ((rc = es__check_type(op, *f, ES_TFLITE_INT8, "filter", err)) ||
      (rc = es__check_type(op, *out, ES_TFLITE_INT8, "output", err)) ||
      (rc = es__check_const(op, *f, "filter", err)))
    return rc;
  const es__tensor *const ts[3] = {*in, *f, *out};
  static const char *const roles[3] = {"input", "filter", "output"};
  for (int k = 0; k < 3; k++)
    if (ts[k]->rank != 4) {
      char s1[ES__SHAPE_STR];
      return es__tensor_error(err, op, ts[k], roles[k], ES_EFORMAT, "has shape %s: it must be 4-D",
                              es__shape_str(ts[k], s1));
    }
  *p = calloc(1, sizeof **p);
  if (!*p)
    return es__op_error(err, op, ES_ENOMEM, "out of memory");
  op->data = *p;
  return ES_OK;
}
