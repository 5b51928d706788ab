/* FULLY_CONNECTED's parameters, computed by its prepare (nn/kernels/fully_connected.c) and read
 * by its eval and by the fast variants' prepare (nn/kernels/fast.c). */
#ifndef ES_NN_FULLY_CONNECTED_H
#define ES_NN_FULLY_CONNECTED_H

#include "nn/nn_internal.h"

typedef struct es__fc_params {
  int32_t input_offset, filter_offset, output_offset;
  int32_t act_min, act_max;
  int per_channel;
  int batches, out_depth, accum_depth;
  int32_t multiplier0;
  int shift0;
  int32_t *multiplier; /* per_channel: out_depth values after the struct */
  int *shift;
} es__fc_params;

#endif
