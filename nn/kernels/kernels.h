/* Prepare and eval entry points of every kernel file in nn/kernels/, for registry.c. */
#ifndef ES_NN_KERNELS_H
#define ES_NN_KERNELS_H

#include "nn/nn_internal.h"

int es__conv_prepare(es_model *m, es__op *op, es_error *err);
void es__conv_eval_ref(const es__run *r, const es__op *op);

int es__dwconv_prepare(es_model *m, es__op *op, es_error *err);
void es__dwconv_eval_ref(const es__run *r, const es__op *op);

int es__fc_prepare(es_model *m, es__op *op, es_error *err);
void es__fc_eval_ref(const es__run *r, const es__op *op);

int es__pool_prepare(es_model *m, es__op *op, es_error *err);
void es__avgpool_eval_ref(const es__run *r, const es__op *op);
void es__maxpool_eval_ref(const es__run *r, const es__op *op);

int es__reshape_prepare(es_model *m, es__op *op, es_error *err);
void es__copy_eval_ref(const es__run *r, const es__op *op);

int es__softmax_prepare(es_model *m, es__op *op, es_error *err);
void es__softmax_eval_ref(const es__run *r, const es__op *op);

int es__addsub_prepare(es_model *m, es__op *op, es_error *err);
void es__addsub_eval_ref(const es__run *r, const es__op *op);
/* The output for inputs x and y of a prepared ADD, SUB or MUL (what the reference eval writes),
 * and whether the operator is elementwise (no broadcasting): its fast variant is a table of
 * every (x, y). */
int8_t es__addsub_value(const es__op *op, int8_t x, int8_t y);
bool es__addsub_elementwise(const es__op *op);

int es__unary_prepare(es_model *m, es__op *op, es_error *err);
void es__relu_eval_ref(const es__run *r, const es__op *op);
void es__relu6_eval_ref(const es__run *r, const es__op *op);
void es__logistic_eval_ref(const es__run *r, const es__op *op);
void es__tanh_eval_ref(const es__run *r, const es__op *op);
void es__quantize_eval_ref(const es__run *r, const es__op *op);
void es__dequantize_eval_ref(const es__run *r, const es__op *op);

int es__pad_prepare(es_model *m, es__op *op, es_error *err);
void es__pad_eval_ref(const es__run *r, const es__op *op);
int es__transpose_prepare(es_model *m, es__op *op, es_error *err);
void es__transpose_eval_ref(const es__run *r, const es__op *op);
int es__concat_prepare(es_model *m, es__op *op, es_error *err);
void es__concat_eval_ref(const es__run *r, const es__op *op);

int es__mean_prepare(es_model *m, es__op *op, es_error *err);
void es__mean_eval_ref(const es__run *r, const es__op *op);

int es__hard_swish_prepare(es_model *m, es__op *op, es_error *err);
void es__hard_swish_eval_ref(const es__run *r, const es__op *op);

#endif
