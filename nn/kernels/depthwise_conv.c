/* DEPTHWISE_CONV_2D, int8: TFLM's reference_integer_ops::DepthwiseConvPerChannel. Output
 * channel oc = in_channel * depth_multiplier + m reads input channel in_channel and filter
 * channel oc of the [1, KH, KW, OC] filter; per-channel multipliers as for CONV_2D. */
#include <stdlib.h>

#include "nn/kernels/conv_common.h"
#include "nn/kernels/kernels.h"
#include "nn/quant.h"

int es__dwconv_prepare(es_model *m, es__op *op, es_error *err)
{
  const es_tflite_options *o = &op->src->opts;
  const es__tensor *in, *f, *b, *out;
  es__conv_params *p;
  int rc = es__conv_prepare_start(m, op, &in, &f, &b, &out, &p, err);
  if (rc)
    return rc;
  /* DepthwiseConvPerChannel reads filter[0][fy][fx][oc] for oc < out_c, input channel
   * oc / depth_multiplier */
  const int in_c = in->shape[3], out_c = out->shape[3];
  char s1[ES__SHAPE_STR], s2[ES__SHAPE_STR];
  if (f->shape[0] != 1 || f->shape[3] != out_c)
    return es__tensor_error(err, op, f, "filter", ES_EFORMAT,
                            "has shape %s: it must be [1, height, width, %d] for the output %s",
                            es__shape_str(f, s1), out_c, es__shape_str(out, s2));
  if (in_c <= 0 || out_c % in_c != 0)
    return es__tensor_error(err, op, out, "output", ES_EFORMAT,
                            "has shape %s: its depth is not a multiple of the input's %s",
                            es__shape_str(out, s1), es__shape_str(in, s2));
  const int dm = out_c / in_c;
  if (o->depth_multiplier != 0 && o->depth_multiplier != dm)
    return es__op_error(err, op, ES_EFORMAT,
                        "depth multiplier %d does not match output depth %d / input depth %d",
                        o->depth_multiplier, out_c, in_c);
  if ((rc = es__conv_geometry(m, op, o->padding, o->stride_w, o->stride_h, o->dilation_w,
                              o->dilation_h, f->shape[2], f->shape[1], &p->geo, err)) ||
      (rc = es__conv_quant(m, op, in, f, b, out, out_c, 3, o->activation, p, err)))
    return rc;
  p = op->data; /* es__conv_quant grew it */
  p->depth_multiplier = dm;
  op->macs = (uint64_t)out->count * (uint64_t)f->shape[1] * (uint64_t)f->shape[2];
  op->params = f->count + (b ? b->count : 0);
  return ES_OK;
}

void es__dwconv_eval_ref(const es__run *r, const es__op *op)
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
  const int f_h = f_t->shape[1], f_w = f_t->shape[2];
  const int out_h = out_t->shape[1], out_w = out_t->shape[2], out_d = out_t->shape[3];
  const int depth_multiplier = p->depth_multiplier;
  const int32_t input_offset = p->input_offset, output_offset = p->output_offset;
  if (out_t->count == 0)
    return;

  for (int batch = 0; batch < batches; ++batch) {
    for (int out_y = 0; out_y < out_h; ++out_y) {
      for (int out_x = 0; out_x < out_w; ++out_x) {
        for (int in_channel = 0; in_channel < in_d; ++in_channel) {
          for (int mult = 0; mult < depth_multiplier; ++mult) {
            const int output_channel = mult + in_channel * depth_multiplier;
            const int in_x_origin = out_x * p->geo.stride_w - p->geo.pad_w;
            const int in_y_origin = out_y * p->geo.stride_h - p->geo.pad_h;
            int64_t acc = 0;
            for (int filter_y = 0; filter_y < f_h; ++filter_y) {
              for (int filter_x = 0; filter_x < f_w; ++filter_x) {
                const int in_x = in_x_origin + p->geo.dilation_w * filter_x;
                const int in_y = in_y_origin + p->geo.dilation_h * filter_y;
                if (in_x < 0 || in_x >= in_w || in_y < 0 || in_y >= in_h)
                  continue; /* zero padding */
                const int32_t input_val =
                    input[(((size_t)batch * in_h + in_y) * in_w + in_x) * in_d + in_channel];
                const int32_t filter_val =
                    filter[((size_t)filter_y * f_w + filter_x) * out_d + output_channel];
                acc += filter_val * (input_val + input_offset);
              }
            }
            if (bias)
              acc += es__ld_i32(bias, (size_t)output_channel);
            int32_t acc32 = (int32_t)(uint32_t)(uint64_t)acc;
            acc32 = es_q_mul_by_qm(acc32, p->multiplier[output_channel],
                                   p->shift[output_channel]);
            acc32 = es_q_add_wrap(acc32, output_offset); /* wraps as TFLM's int32 does */
            acc32 = acc32 < p->act_min ? p->act_min : acc32;
            acc32 = acc32 > p->act_max ? p->act_max : acc32;
            output[(((size_t)batch * out_h + out_y) * out_w + out_x) * out_d + output_channel] =
                (int8_t)acc32;
          }
        }
      }
    }
  }
}
