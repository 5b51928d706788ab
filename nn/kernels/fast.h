/* Fast variants of CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED (nn/kernels/fast.c: the fast
 * prepares, packing and the portable C kernels; nn/kernels/fast_x86.c: AVX2, AVX-VNNI and
 * AVX512-VNNI kernels). They depend on the reference kernels one way: a fast prepare runs after
 * the reference prepare (registry.c's row names both) and reads its parameters
 * (conv_common.h, fully_connected.h); no reference kernel knows the fast ones. A fast prepare
 * packs the filter once into op->fast, which is read-only afterwards (interpreters on several
 * threads share it), and sets op->fast_variants, or leaves the operator on its reference eval
 * where the fast kernels do not apply; the eval functions below therefore always have their
 * packed data. They reorganize only the int32 accumulation, which TFLM does modulo 2^32 (and
 * the reference kernels wrap to 32 bits), so the sums are the same numbers; requantization is
 * TFLM's MultiplyByQuantizedMultiplier (double rounding) evaluated for 8 or 16 outputs at once. */
#ifndef ES_NN_KERNELS_FAST_H
#define ES_NN_KERNELS_FAST_H

#include "nn/nn_internal.h"

/* Per-output-channel requantization constants, padded to a multiple of 16 channels:
 * out = clamp(rdbpot(srdhm(acc << lsh, mult), rsh) + output_offset). rmask = 2^rsh - 1 and
 * rhalf = rmask >> 1 are RoundingDivideByPOT's mask and threshold base. */
typedef struct es__requant {
  int32_t *mult, *lsh, *rsh, *rmask, *rhalf;
  int32_t output_offset, act_min, act_max;
} es__requant;

/* CONV_2D (groups 1) and FULLY_CONNECTED (filter zero point 0) as a GEMM:
 * out[p][oc] = requant(sum_k w[oc][k] * (x[p][k] + input_offset) + bias[oc]).
 * The kernels feed vpdpbusd u = x XOR 0x80 = x + 128 (unsigned) against the signed filter, so
 *   sum w * (x + off) + bias = sum w * u + (off - 128) * sum w + bias   (mod 2^32)
 * and cterm holds the last two terms per channel. */
typedef struct es__gemm_fast {
  int oc, k, k4, ocb; /* output channels, depth, depth rounded up to 4, blocks of 16 channels */
  int32_t input_offset;
  int direct;         /* CONV_2D: 1x1, stride 1, depth % 4 == 0: rows are the input pixels */
  int8_t *w;          /* [ocb][k4 / 4][16][4]: 16 channels x 4 depth values per 64 bytes */
  uint32_t *cterm;    /* [ocb * 16] */
  int32_t *shift;     /* [ocb * 16] TFLM's shift (portable kernels) */
  es__requant rq;
} es__gemm_fast;

/* DEPTHWISE_CONV_2D: the input rows a window needs are expanded once per inference into rows
 * of int16 pairs (x[ix] + off, x[ix + dilation_w] + off) per output channel (0 outside the
 * image, which is exactly what the reference's skipped taps contribute), so two horizontal
 * taps are one vpdpwssd / vpmaddwd against the packed filter pairs. */
typedef struct es__dw_fast {
  int in_d, out_d, dm, cb; /* cb = blocks of 16 output channels */
  int f_h, f_w, pairs;     /* pairs = (f_w + 1) / 2 */
  int wp;                  /* expanded row width in pixels (left padding included) */
  int px_step;             /* windows read only pixels that are multiples of this (stride 2) */
  int eff_h;               /* rows one window spans: (f_h - 1) * dilation_h + 1 */
  int32_t input_offset;
  int16_t *w2;     /* [f_h][pairs][cb][16][2] filter pairs, 0 past f_w and out_d */
  int32_t *bias;   /* [cb * 16] */
  int32_t *gbase;  /* [cb] first input channel block b reads */
  uint8_t *gidx;   /* [cb][16] which of the 16 bytes from gbase feeds each output channel */
  uint16_t *gmask; /* [cb] bytes to load from gbase */
  es__requant rq;
  size_t row_bytes; /* one expanded row: wp * cb * 64 */
} es__dw_fast;

/* The fast prepares of registry.c's rows, run after the reference prepare:
 * - CONV_2D with groups 1: the GEMM (op->fast is an es__gemm_fast);
 * - DEPTHWISE_CONV_2D: one input channel is a convolution with depth_multiplier filters and
 *   takes CONV_2D's GEMM variants; others the depthwise kernels (op->fast is an es__dw_fast),
 *   unless their expanded rows would exceed 64 MiB of scratch (absurd dilations);
 * - FULLY_CONNECTED with filter zero point 0: the GEMM.
 * An operator with no output elements stays on the reference eval, which does nothing. */
int es__conv_fast_prepare(es_model *m, es__op *op, es_error *err);
int es__dwconv_fast_prepare(es_model *m, es__op *op, es_error *err);
int es__fc_fast_prepare(es_model *m, es__op *op, es_error *err);
/* ADD, SUB and MUL (int8, elementwise, 1,024 outputs or more): the output of every pair of
 * inputs in a 64 KiB table (op->fast), built with the reference's own arithmetic at load, so
 * one inference is a lookup per element. */
int es__addsub_fast_prepare(es_model *m, es__op *op, es_error *err);

/* The eval functions of op->fast_variants (fast.c: portable; fast_x86.c: the rest). */
void es__conv_eval_portable(const es__run *r, const es__op *op);
void es__conv_eval_avx2(const es__run *r, const es__op *op);
void es__conv_eval_avxvnni(const es__run *r, const es__op *op);
void es__conv_eval_avx512vnni(const es__run *r, const es__op *op);
void es__fc_eval_portable(const es__run *r, const es__op *op);
void es__fc_eval_avx2(const es__run *r, const es__op *op);
void es__fc_eval_avxvnni(const es__run *r, const es__op *op);
void es__fc_eval_avx512vnni(const es__run *r, const es__op *op);
void es__dwconv_eval_portable(const es__run *r, const es__op *op);
void es__dwconv_eval_avx2(const es__run *r, const es__op *op);
void es__dwconv_eval_avxvnni(const es__run *r, const es__op *op);
void es__dwconv_eval_avx512(const es__run *r, const es__op *op);

/* Shared by fast.c and fast_x86.c. */
typedef void (*es__gemm_fn)(const es__gemm_fast *g, const int8_t *x, size_t xstride, int n,
                            int8_t *out, size_t ostride);
void es__conv_fast(const es__run *r, const es__op *op, es__gemm_fn fn);
void es__fc_fast(const es__run *r, const es__op *op, es__gemm_fn fn);
/* DEPTHWISE_CONV_2D driver: builds the expanded rows each output row needs (cached in a ring of
 * f_h rows when dilation_h is 1) and hands them to row_fn. build_fn expands input row in_row
 * (NULL: a padding row) into d->wp pixels; row_fn computes one output row. */
typedef void (*es__dw_build_fn)(const es__dw_fast *d, const int8_t *in_row, int in_w, int pad_w,
                                int dil_w, int16_t *dst);
typedef void (*es__dw_row_fn)(const es__dw_fast *d, const int16_t *const *rows, int out_w,
                              int stride_w, int dil_w, int8_t *out);
void es__dw_fast_run(const es__run *r, const es__op *op, es__dw_build_fn build_fn,
                     es__dw_row_fn row_fn);

#endif
