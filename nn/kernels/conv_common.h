/* Parameters shared by CONV_2D and DEPTHWISE_CONV_2D: window geometry (stride, dilation and
 * TFLM's padding) and per-channel requantization. Computed by their prepare; read by their eval
 * and by the fast variants' prepare (nn/kernels/fast.c). */
#ifndef ES_NN_CONV_COMMON_H
#define ES_NN_CONV_COMMON_H

#include "nn/nn_internal.h"

typedef struct es__conv_geo {
  int stride_w, stride_h, dilation_w, dilation_h, pad_w, pad_h;
} es__conv_geo;

typedef struct es__conv_params {
  es__conv_geo geo;
  int groups;           /* CONV_2D */
  int depth_multiplier; /* DEPTHWISE_CONV_2D */
  int32_t input_offset, output_offset;
  int32_t act_min, act_max;
  int32_t *multiplier; /* per output channel; points into the same allocation */
  int *shift;
} es__conv_params;

/* The start of both ops' prepare: 2 or 3 inputs and one output, an int8 constant filter and
 * int8 output, all 4-D; allocates the op's es__conv_params into op->data. */
int es__conv_prepare_start(es_model *m, es__op *op, const es__tensor **in, const es__tensor **f,
                           const es__tensor **b, const es__tensor **out, es__conv_params **p,
                           es_error *err);

/* Checks stride/dilation/padding, computes the padding from the input, filter and output
 * spatial sizes, and checks the output size against TFLM's ComputeOutSize. */
int es__conv_geometry(const es_model *m, const es__op *op, int padding, int stride_w,
                      int stride_h, int dilation_w, int dilation_h, int filter_w, int filter_h,
                      es__conv_geo *geo, es_error *err);

/* Per-channel multipliers (channels = output depth; the filter's channel axis is chan_axis),
 * offsets and activation range; checks quantization and bias. Reallocates op->data to hold the
 * arrays, so p is updated through op->data. */
int es__conv_quant(const es_model *m, es__op *op, const es__tensor *in, const es__tensor *f,
                   const es__tensor *b, const es__tensor *out, int channels, int chan_axis,
                   int activation, es__conv_params *p, es_error *err);

#endif
