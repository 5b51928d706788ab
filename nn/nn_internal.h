/* What the files of nn/ share: the loaded model, prepared operators, the kernel registry row
 * and small helpers kernels use.
 *
 * Kernels, and which way they depend on each other (as in TFLite Micro, where an optimized
 * kernel may call the reference one and never the reverse):
 *   - a reference kernel file (nn/kernels/conv.c, pool.c, ...) defines a prepare function
 *     (validates shapes and types, computes TFLM's integer parameters once into op->data,
 *     counts MACs) and one eval function, the definition of the operator's result. It never
 *     includes or calls anything of the fast kernels;
 *   - a fast kernel (nn/kernels/fast.c, fast_x86.c) defines a fast prepare that reads what the
 *     reference prepare computed (its parameter struct, from the reference kernel's header),
 *     packs op->fast and chooses op->fast_variants, or leaves both NULL when it does not apply;
 *     and one eval function per ISA, which must give the reference's bytes;
 *   - registry.c lists one row per (opcode, input type): prepare, reference eval and the
 *     optional fast prepare;
 *   - model.c runs prepare then fast prepare once per operator at load time; es_interp_new
 *     chooses each operator's eval function once (the fast variant of its ISA, along
 *     es__isa_fallback(), or the reference), and invoke calls the chosen functions.
 * Adding an operator: a kernel file in nn/kernels/, its two declarations in kernels.h, one row
 * in registry.c (fast prepare NULL). Adding a fast variant: docs/nn.md, "How kernels depend on
 * each other, and adding an operator or a fast variant". */
#ifndef ES_NN_INTERNAL_H
#define ES_NN_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/error.h"
#include "formats/tflite.h"
#include "nn/nn.h"

typedef struct es__tensor {
  const es_tflite_tensor *src;
  int index; /* in the model's tensor list */
  int type;
  int rank;
  int32_t shape[ES_TFLITE_MAX_RANK];
  size_t count, bytes;
  float scale;        /* params.scale as TFLM sets it: first scale */
  int32_t zero_point; /* first zero point */
  const uint8_t *const_data; /* non-NULL for constants (inside the model's copy) */
  int producer;              /* operator index, -1 for inputs and constants */
  int first_use, last_use;   /* operator indices, for the planner */
  bool is_input, is_output;
} es__tensor;

typedef struct es__op es__op;
typedef struct es__kernel es__kernel;

/* Runtime view handed to eval: data[t] is tensor t's storage (arena or constant). */
typedef struct es__run {
  const es_model *m;
  uint8_t *const *data;
  uint8_t *scratch; /* op->scratch_bytes of per-interpreter memory, 64-byte aligned */
  int threads;      /* threads one operator may use (es_interp_opts.threads; >= 1) */
  size_t scratch_stride; /* thread t's scratch is scratch + t * scratch_stride */
} es__run;

typedef int (*es__prepare_fn)(es_model *m, es__op *op, es_error *err);
typedef void (*es__eval_fn)(const es__run *r, const es__op *op);

/* ISA variants of a fast kernel. A fast kernel without a given variant falls back along
 * es__isa_fallback() (avx512vnni -> avx2, avxvnni -> avx2, avx2 -> portable, portable ->
 * reference, i.e. the row's reference eval). */
enum {
  ES__ISA_REF = 0,      /* plain loops, the definition */
  ES__ISA_PORTABLE = 1, /* blocked plain C written to auto-vectorize */
  ES__ISA_AVX2 = 2,
  ES__ISA_AVXVNNI = 3,
  ES__ISA_AVX512VNNI = 4,
  ES__ISA_COUNT = 5
};
int es__isa_fallback(int isa);

/* The fast variants of one operator: the eval function per ISA slot, NULL where there is none
 * (that slot falls back along es__isa_fallback()); slot ES__ISA_REF is unused (the reference
 * eval is the registry row's). Each reads the op->fast its fast prepare packed. */
typedef struct es__fast_variants {
  es__eval_fn eval[ES__ISA_COUNT];
} es__fast_variants;

/* A registry row. prepare and eval are the reference kernel. fast_prepare (NULL: the operator
 * has no fast variants) runs after prepare succeeded; it either sets op->fast_variants (and the
 * data they read, op->fast, and op->fast_scratch_bytes) or leaves the operator on its reference
 * eval by leaving op->fast_variants NULL. An error from it fails the load, as prepare's does. */
struct es__kernel {
  int32_t opcode;
  int input_type; /* ES_TFLITE_* of input 0 */
  es__prepare_fn prepare;
  es__eval_fn eval;
  es__prepare_fn fast_prepare;
};

struct es__op {
  int index;
  int32_t opcode;
  const char *name;
  const es__kernel *kernel;
  const es_tflite_operator *src;
  const int32_t *in, *out;
  size_t n_in, n_out;
  void *data; /* kernel parameters, freed with free() */
  uint64_t macs, params;
  size_t scratch_bytes; /* per-interpreter working memory the reference eval needs */
  /* Set by the row's fast prepare, or all NULL / 0: the operator runs its reference eval. */
  const es__fast_variants *fast_variants;
  void *fast;                /* what they read (packed filters ...), freed with free() */
  size_t fast_scratch_bytes; /* per-interpreter working memory they need */
};

struct es_model {
  uint8_t *bytes; /* own copy of the model file */
  size_t len;
  es_tflite_model *fb;
  es_nn_limits limits;
  es__tensor *tensors;
  size_t n_tensors;
  es__op *ops;
  size_t n_ops;
  size_t arena_bytes;
  uint64_t macs, params;
};

/* registry.c: the kernel for (opcode, input type), or NULL. */
const es__kernel *es__kernel_find(int32_t opcode, int input_type);
/* Does any row carry this opcode (to tell "unknown op" from "unsupported type")? */
bool es__kernel_has_opcode(int32_t opcode);

/* planner.c: greedy first-fit by size of the non-constant tensors' lifetimes; keep[t] extends
 * a tensor's life to the end. offsets[t] = SIZE_MAX for tensors without arena storage. */
int es__plan(const es_model *m, const bool *keep, size_t *offsets, size_t *arena_bytes,
             es_error *err);

/* Helpers for prepare functions: an error naming the operator. */
int es__op_error(es_error *err, const es__op *op, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* An error naming the operator and one of its tensors: "operator 2 (CONV_2D): filter (tensor 5
 * 'w') <reason>". */
int es__tensor_error(es_error *err, const es__op *op, const es__tensor *t, const char *role,
                     int code, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* "[1,224,224,3]" into buf (at least ES__SHAPE_STR bytes). */
#define ES__SHAPE_STR 96
const char *es__shape_str(const es__tensor *t, char buf[ES__SHAPE_STR]);

static inline const es__tensor *es__in(const es_model *m, const es__op *op, size_t k)
{
  return k < op->n_in && op->in[k] >= 0 ? &m->tensors[op->in[k]] : NULL;
}

static inline const es__tensor *es__out(const es_model *m, const es__op *op, size_t k)
{
  return k < op->n_out ? &m->tensors[op->out[k]] : NULL;
}

static inline const void *es__in_data(const es__run *r, const es__op *op, size_t k)
{
  return op->in[k] >= 0 ? r->data[op->in[k]] : NULL;
}

static inline void *es__out_data(const es__run *r, const es__op *op, size_t k)
{
  return r->data[op->out[k]];
}

static inline int32_t es__ld_i32(const void *p, size_t i)
{
  int32_t v;
  memcpy(&v, (const uint8_t *)p + 4 * i, 4);
  return v;
}

/* Common checks. Each returns ES_OK or an error naming the operator. */
int es__check_io(const es_model *m, const es__op *op, size_t min_in, size_t max_in,
                 size_t n_out, es_error *err);
int es__check_type(const es__op *op, const es__tensor *t, int type, const char *what,
                   es_error *err);
int es__check_quantized(const es__op *op, const es__tensor *t, const char *what,
                        es_error *err);
int es__check_const(const es__op *op, const es__tensor *t, const char *what, es_error *err);
/* Activation range for an int8/int16 output (TFLM's CalculateActivationRangeQuantized). */
int es__act_range(const es__op *op, const es__tensor *out, int activation, int32_t *lo,
                  int32_t *hi, es_error *err);
/* Output size and padding as TFLM's ComputePaddingHeightWidth does, in 64 bits (a tensor with no
 * elements may still have a dimension of 2^31 - 1). */
int64_t es__out_size(int padding, int64_t in, int64_t filter, int64_t stride, int64_t dilation);
int64_t es__padding(int64_t stride, int64_t dilation, int64_t in, int64_t filter, int64_t out);
/* The window geometry of CONV_2D, DEPTHWISE_CONV_2D and the pools along one spatial axis
 * ("height" or "width"): stride and dilation 1 to 65536, filter positive (dilated, at most
 * 2^30), the output size the model declares equal to TFLM's ComputeOutSize, and every
 * index the kernels form (in - pad + (out - 1) * stride + (filter - 1) * dilation, and the
 * window clipped to the image) inside int32. Sets *pad. */
int es__window(const es__op *op, const es__tensor *in, const es__tensor *out, const char *axis,
               int padding, int64_t in_size, int64_t out_size, int64_t filter, int64_t stride,
               int64_t dilation, int *pad, es_error *err);
/* tflite::QuantizeMultiplier of a real scale that must be finite and >= 0, with the resulting
 * shift inside [min_shift, max_shift] (what the integer arithmetic after it supports: a left
 * shift of at most 31 for MultiplyByQuantizedMultiplier's int32 shift, a right shift of at most
 * 31 for RoundingDivideByPOT). what describes the scale for the message ("input 'x' scale 0.5 /
 * output 'y' scale 1e-12"). */
int es__quantize_scale(const es__op *op, double real, int min_shift, int max_shift,
                       const char *what, int32_t *multiplier, int *shift, es_error *err);
/* "input (tensor 3 'x') scale 0.5" into buf. */
#define ES__SCALE_STR 160
const char *es__scale_str(const es__tensor *t, const char *role, char buf[ES__SCALE_STR]);

#endif
