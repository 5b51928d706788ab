/* CONV_2D, int8 with per-channel (or per-tensor) int8 filters and int32 bias: TFLM's
 * reference_integer_ops::ConvPerChannel, including grouped convolution, stride, dilation and
 * SAME/VALID padding. Per-channel multipliers come from input_scale * filter_scale[c] /
 * output_scale evaluated in double from the float scales, as PopulateConvolutionQuantizationParams
 * does. Accumulation is done in 64 bits and wrapped to 32, which equals TFLM's int32 arithmetic
 * (wrapping, as on a microcontroller) for every model and stays defined C. */
#include <stdlib.h>

#include "nn/kernels/conv_common.h"
#include "nn/kernels/kernels.h"
#include "nn/quant.h"

int es__conv_prepare(es_model *m, es__op *op, es_error *err)
{
  const es_tflite_options *o = &op->src->opts;
  const es__tensor *in, *f, *b, *out;
  es__conv_params *p;
  int rc = es__conv_prepare_start(m, op, &in, &f, &b, &out, &p, err);
  if (rc)
    return rc;
  /* ConvPerChannel reads filter[oc][fy][fx][0 .. f_d) for oc < out_c and input channels
   * group * f_d + (0 .. f_d) with group = oc / (out_c / groups) */
  const int out_c = out->shape[3];
  char s1[ES__SHAPE_STR], s2[ES__SHAPE_STR], s3[ES__SHAPE_STR];
  if (f->shape[0] != out_c)
    return es__tensor_error(err, op, f, "filter", ES_EFORMAT,
                            "has shape %s: %d output channels, the output %s has %d",
                            es__shape_str(f, s1), (int)f->shape[0], es__shape_str(out, s2), out_c);
  if (f->shape[3] <= 0 || in->shape[3] % f->shape[3] != 0)
    return es__tensor_error(err, op, f, "filter", ES_EFORMAT,
                            "has shape %s: its depth does not divide the input's %s",
                            es__shape_str(f, s1), es__shape_str(in, s2));
  const int groups = in->shape[3] / f->shape[3];
  if (groups <= 0 || out_c % groups != 0)
    return es__tensor_error(err, op, out, "output", ES_EFORMAT,
                            "has shape %s: its depth is not divisible into the %d groups of "
                            "input %s and filter %s",
                            es__shape_str(out, s1), groups, es__shape_str(in, s2),
                            es__shape_str(f, s3));
  if ((rc = es__conv_geometry(m, op, o->padding, o->stride_w, o->stride_h, o->dilation_w,
                              o->dilation_h, f->shape[2], f->shape[1], &p->geo, err)) ||
      (rc = es__conv_quant(m, op, in, f, b, out, out_c, 0, o->activation, p, err)))
    return rc;
  p = op->data; /* es__conv_quant grew it */
  p->groups = groups;
  op->macs = (uint64_t)out->count * (uint64_t)f->shape[1] * (uint64_t)f->shape[2] *
             (uint64_t)f->shape[3];
  op->params = f->count + (b ? b->count : 0);
  return ES_OK;
}

void es__conv_eval_ref(const es__run *r, const es__op *op)
{
  const es_model *m = r->m;
  const es__conv_params *p = op->data;
  const es__tensor *in_t = es__in(m, op, 0), *f_t = es__in(m, op, 1), *out_t = es__out(m, op, 0);
  const int8_t *input = es__in_data(r, op, 0);
  const int8_t *filter = es__in_data(r, op, 1);
  const void *bias = op->n_in > 2 ? es__in_data(r, op, 2) : NULL;
  int8_t *output = es__out_data(r, op, 0);
  const int batches = in_t->shape[0], in_h = in_t->shape[1], in_w = in_t->shape[2],
            in_d = in_t->shape[3];
  const int f_h = f_t->shape[1], f_w = f_t->shape[2], f_d = f_t->shape[3];
  const int out_h = out_t->shape[1], out_w = out_t->shape[2], out_d = out_t->shape[3];
  const int per_group = out_d / p->groups;
  if (out_t->count == 0)
    return;
  const int32_t input_offset = p->input_offset, output_offset = p->output_offset;

  for (int batch = 0; batch < batches; ++batch) {
    for (int out_y = 0; out_y < out_h; ++out_y) {
      const int in_y_origin = out_y * p->geo.stride_h - p->geo.pad_h;
      for (int out_x = 0; out_x < out_w; ++out_x) {
        const int in_x_origin = out_x * p->geo.stride_w - p->geo.pad_w;
        for (int out_channel = 0; out_channel < out_d; ++out_channel) {
          const int group = out_channel / per_group;
          int64_t acc = 0;
          for (int filter_y = 0; filter_y < f_h; ++filter_y) {
            const int in_y = in_y_origin + p->geo.dilation_h * filter_y;
            for (int filter_x = 0; filter_x < f_w; ++filter_x) {
              const int in_x = in_x_origin + p->geo.dilation_w * filter_x;
              if (in_x < 0 || in_x >= in_w || in_y < 0 || in_y >= in_h)
                continue; /* zero padding */
              const int8_t *in_px = input + (((size_t)batch * in_h + in_y) * in_w + in_x) * in_d +
                                    (size_t)group * f_d;
              const int8_t *f_px =
                  filter + (((size_t)out_channel * f_h + filter_y) * f_w + filter_x) * f_d;
              for (int in_channel = 0; in_channel < f_d; ++in_channel) {
                const int32_t input_val = in_px[in_channel];
                const int32_t filter_val = f_px[in_channel];
                acc += filter_val * (input_val + input_offset);
              }
            }
          }
          if (bias)
            acc += es__ld_i32(bias, (size_t)out_channel);
          int32_t acc32 = (int32_t)(uint32_t)(uint64_t)acc;
          acc32 = es_q_mul_by_qm(acc32, p->multiplier[out_channel], p->shift[out_channel]);
          acc32 = es_q_add_wrap(acc32, output_offset); /* wraps as TFLM's int32 does */
          acc32 = acc32 < p->act_min ? p->act_min : acc32;
          acc32 = acc32 > p->act_max ? p->act_max : acc32;
          output[(((size_t)batch * out_h + out_y) * out_w + out_x) * out_d + out_channel] =
              (int8_t)acc32;
        }
      }
    }
  }
}
