/* The op registry: one row per (opcode, input type) with the reference kernel (prepare and
 * eval, nn/kernels/kernels.h) and an optional fast prepare (nn/kernels/fast.h) that packs the
 * operator for its fast variants or leaves it on the reference eval. A new operator is one file
 * in nn/kernels/ and one row here with fast prepare NULL; fast variants of an operator are a
 * fast prepare named in its row plus a table of eval functions per ISA, both in
 * nn/kernels/fast*.c, and must give the reference's bytes (tests/nn/test_fast.c). This is the
 * only file that names both kinds of kernel (docs/nn.md, "How kernels depend on each other"). */
#include "nn/kernels/fast.h"
#include "nn/kernels/kernels.h"

static const es__kernel registry[] = {
    {ES_OP_CONV_2D, ES_TFLITE_INT8, es__conv_prepare, es__conv_eval_ref, es__conv_fast_prepare},
    {ES_OP_DEPTHWISE_CONV_2D, ES_TFLITE_INT8, es__dwconv_prepare, es__dwconv_eval_ref,
     es__dwconv_fast_prepare},
    {ES_OP_FULLY_CONNECTED, ES_TFLITE_INT8, es__fc_prepare, es__fc_eval_ref, es__fc_fast_prepare},
    {ES_OP_AVERAGE_POOL_2D, ES_TFLITE_INT8, es__pool_prepare, es__avgpool_eval_ref, NULL},
    {ES_OP_MAX_POOL_2D, ES_TFLITE_INT8, es__pool_prepare, es__maxpool_eval_ref, NULL},
    {ES_OP_RESHAPE, ES_TFLITE_INT8, es__reshape_prepare, es__copy_eval_ref, NULL},
    {ES_OP_RESHAPE, ES_TFLITE_UINT8, es__reshape_prepare, es__copy_eval_ref, NULL},
    {ES_OP_RESHAPE, ES_TFLITE_INT16, es__reshape_prepare, es__copy_eval_ref, NULL},
    {ES_OP_RESHAPE, ES_TFLITE_INT32, es__reshape_prepare, es__copy_eval_ref, NULL},
    {ES_OP_RESHAPE, ES_TFLITE_FLOAT32, es__reshape_prepare, es__copy_eval_ref, NULL},
    {ES_OP_SQUEEZE, ES_TFLITE_INT8, es__reshape_prepare, es__copy_eval_ref, NULL},
    {ES_OP_SQUEEZE, ES_TFLITE_UINT8, es__reshape_prepare, es__copy_eval_ref, NULL},
    {ES_OP_SQUEEZE, ES_TFLITE_INT16, es__reshape_prepare, es__copy_eval_ref, NULL},
    {ES_OP_SQUEEZE, ES_TFLITE_INT32, es__reshape_prepare, es__copy_eval_ref, NULL},
    {ES_OP_SQUEEZE, ES_TFLITE_FLOAT32, es__reshape_prepare, es__copy_eval_ref, NULL},
    {ES_OP_SOFTMAX, ES_TFLITE_INT8, es__softmax_prepare, es__softmax_eval_ref, NULL},
    {ES_OP_ADD, ES_TFLITE_INT8, es__addsub_prepare, es__addsub_eval_ref,
     es__addsub_fast_prepare},
    {ES_OP_SUB, ES_TFLITE_INT8, es__addsub_prepare, es__addsub_eval_ref,
     es__addsub_fast_prepare},
    {ES_OP_MUL, ES_TFLITE_INT8, es__addsub_prepare, es__addsub_eval_ref,
     es__addsub_fast_prepare},
    {ES_OP_RELU, ES_TFLITE_INT8, es__unary_prepare, es__relu_eval_ref, NULL},
    {ES_OP_RELU6, ES_TFLITE_INT8, es__unary_prepare, es__relu6_eval_ref, NULL},
    {ES_OP_LOGISTIC, ES_TFLITE_INT8, es__unary_prepare, es__logistic_eval_ref, NULL},
    {ES_OP_TANH, ES_TFLITE_INT8, es__unary_prepare, es__tanh_eval_ref, NULL},
    {ES_OP_QUANTIZE, ES_TFLITE_FLOAT32, es__unary_prepare, es__quantize_eval_ref, NULL},
    {ES_OP_QUANTIZE, ES_TFLITE_INT8, es__unary_prepare, es__quantize_eval_ref, NULL},
    {ES_OP_DEQUANTIZE, ES_TFLITE_INT8, es__unary_prepare, es__dequantize_eval_ref, NULL},
    {ES_OP_PAD, ES_TFLITE_INT8, es__pad_prepare, es__pad_eval_ref, NULL},
    {ES_OP_PAD, ES_TFLITE_FLOAT32, es__pad_prepare, es__pad_eval_ref, NULL},
    {ES_OP_PAD, ES_TFLITE_INT32, es__pad_prepare, es__pad_eval_ref, NULL},
    {ES_OP_PADV2, ES_TFLITE_INT8, es__pad_prepare, es__pad_eval_ref, NULL},
    {ES_OP_PADV2, ES_TFLITE_FLOAT32, es__pad_prepare, es__pad_eval_ref, NULL},
    {ES_OP_TRANSPOSE, ES_TFLITE_INT8, es__transpose_prepare, es__transpose_eval_ref, NULL},
    {ES_OP_TRANSPOSE, ES_TFLITE_FLOAT32, es__transpose_prepare, es__transpose_eval_ref, NULL},
    {ES_OP_TRANSPOSE, ES_TFLITE_INT32, es__transpose_prepare, es__transpose_eval_ref, NULL},
    {ES_OP_CONCATENATION, ES_TFLITE_INT8, es__concat_prepare, es__concat_eval_ref, NULL},
    {ES_OP_CONCATENATION, ES_TFLITE_FLOAT32, es__concat_prepare, es__concat_eval_ref, NULL},
    {ES_OP_CONCATENATION, ES_TFLITE_INT32, es__concat_prepare, es__concat_eval_ref, NULL},
    {ES_OP_MEAN, ES_TFLITE_INT8, es__mean_prepare, es__mean_eval_ref, NULL},
    {ES_OP_HARD_SWISH, ES_TFLITE_INT8, es__hard_swish_prepare, es__hard_swish_eval_ref, NULL},
};

const es__kernel *es__kernel_find(int32_t opcode, int input_type)
{
  for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++)
    if (registry[i].opcode == opcode && registry[i].input_type == input_type)
      return &registry[i];
  return NULL;
}

bool es__kernel_has_opcode(int32_t opcode)
{
  for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++)
    if (registry[i].opcode == opcode)
      return true;
  return false;
}
