/* Every kernel of nn/registry.c against mutated models: for each operator, valid one-operator
 * models (several geometries) are built with the TFLite builder and then mutated 0 to 3 times:
 * a dimension set to 0, 1, a neighbour or something huge (2^31 - 1 included), a dimension added
 * or removed, a tensor's type changed, scales (0, negative, NaN, infinite, 1e-45, 1e38, 2^-28
 * ...), zero points, per-axis quantization, options (strides, dilations, filter sizes, padding,
 * activation, depth multiplier, beta, axis ...), the int32 contents of axes, paddings,
 * permutations and shapes, optional inputs dropped or added, constant buffers one byte short.
 *
 * A mutated model must either be refused with ES_EFORMAT, ES_EUNSUPPORTED or ES_ELIMIT (exit 2
 * in edgeset-eval) and a message that names the operator (or the tensor, for the checks every
 * tensor gets), or load and run, with every kernel variant giving the reference's bytes. The
 * ASan + UBSan build runs this too: a kernel that reads past what the loader validated, or a
 * signed overflow, aborts the test. EDGESET_MUTATIONS sets the models per base (default 300),
 * EDGESET_MUTATE_FAMILY=N tests only operator family N (see base()). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/tflite.h"
#include "nn/nn.h"

enum { MAX_T = 14, MAX_IN = 10, MAX_VALS = 16 };

typedef struct mt {
  int type, rank;
  int32_t shape[ES_TFLITE_MAX_RANK];
  int nq, qdim;
  float scale[8];
  int64_t zp[8];
  int is_const;
  int32_t val[MAX_VALS]; /* int32 constants (axes, paddings ...): contents, cycled */
  int n_val;
  int shrink; /* constant buffer this many bytes short */
} mt;

typedef struct spec {
  int32_t code;
  int n_t;
  mt t[MAX_T];
  int n_in;
  int in[MAX_IN];
  int out;
  es_tflite_options o;
} spec;

/* ---- random numbers (xorshift64*, fixed seeds: every run tests the same models) ------------ */

static uint64_t rng_state;

static uint32_t rnd(void)
{
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (uint32_t)((rng_state * UINT64_C(2685821657736338717)) >> 32);
}

static int pick(int n)
{
  return (int)(rnd() % (uint32_t)n);
}

/* ---- building specs ------------------------------------------------------------------------- */

static int add_t(spec *s, int type, int rank, const int32_t *shape, float scale, int64_t zp)
{
  cr_assert(s->n_t < MAX_T);
  mt *t = &s->t[s->n_t];
  memset(t, 0, sizeof *t);
  t->type = type;
  t->rank = rank;
  memcpy(t->shape, shape, sizeof(int32_t) * (size_t)rank);
  if (scale > 0) {
    t->nq = 1;
    t->scale[0] = scale;
    t->zp[0] = zp;
  }
  return s->n_t++;
}

static int act(spec *s, int rank, const int32_t *shape, float scale, int64_t zp)
{
  return add_t(s, ES_TFLITE_INT8, rank, shape, scale, zp);
}

static int cst(spec *s, int type, int rank, const int32_t *shape, float scale)
{
  int k = add_t(s, type, rank, shape, scale, 0);
  s->t[k].is_const = 1;
  return k;
}

static int cst_vals(spec *s, int rank, const int32_t *shape, const int32_t *vals, int n)
{
  int k = cst(s, ES_TFLITE_INT32, rank, shape, 0);
  memcpy(s->t[k].val, vals, sizeof(int32_t) * (size_t)n);
  s->t[k].n_val = n;
  return k;
}

static void per_channel(spec *s, int k, int n, int qdim)
{
  mt *t = &s->t[k];
  t->nq = n;
  t->qdim = qdim;
  for (int i = 0; i < n; i++) {
    t->scale[i] = 0.01f * (float)(i + 1);
    t->zp[i] = 0;
  }
}

static void op(spec *s, int32_t code, const int *ins, int n_in, int out)
{
  s->code = code;
  s->n_in = n_in;
  memcpy(s->in, ins, sizeof(int) * (size_t)n_in);
  s->out = out;
}

#define SH(...) ((const int32_t[]){__VA_ARGS__})

/* Base model `variant` of operator family `fam`; false past the last variant. */
static bool base(spec *s, int fam, int variant)
{
  memset(s, 0, sizeof *s);
  es_tflite_options_default(&s->o);
  es_tflite_options *o = &s->o;
  int in, f, b, out, x, y;
  switch (fam) {
  case 0: /* CONV_2D */
    if (variant == 0) {
      in = act(s, 4, SH(1, 5, 5, 3), 0.05f, -3);
      f = cst(s, ES_TFLITE_INT8, 4, SH(4, 3, 3, 3), 0);
      per_channel(s, f, 4, 0);
      b = cst(s, ES_TFLITE_INT32, 1, SH(4), 0.0005f);
      out = act(s, 4, SH(1, 3, 3, 4), 0.1f, 5);
      o->padding = ES_PAD_VALID;
    } else if (variant == 1) {
      in = act(s, 4, SH(1, 6, 6, 4), 0.05f, 0);
      f = cst(s, ES_TFLITE_INT8, 4, SH(6, 3, 3, 2), 0.02f);
      b = cst(s, ES_TFLITE_INT32, 1, SH(6), 0.001f);
      out = act(s, 4, SH(1, 3, 3, 6), 0.1f, -7); /* 2 groups, SAME, stride 2 */
      o->padding = ES_PAD_SAME;
      o->stride_w = o->stride_h = 2;
      o->activation = ES_ACT_RELU6;
    } else if (variant == 2) {
      in = act(s, 4, SH(2, 7, 7, 1), 0.02f, 10);
      f = cst(s, ES_TFLITE_INT8, 4, SH(3, 3, 3, 1), 0.03f);
      b = -1;
      out = act(s, 4, SH(2, 3, 3, 3), 0.05f, 0); /* dilation 2, VALID */
      o->padding = ES_PAD_VALID;
      o->dilation_w = o->dilation_h = 2;
    } else if (variant == 3) {
      in = act(s, 4, SH(1, 4, 4, 8), 0.05f, -128);
      f = cst(s, ES_TFLITE_INT8, 4, SH(5, 1, 1, 8), 0);
      per_channel(s, f, 5, 0);
      b = cst(s, ES_TFLITE_INT32, 1, SH(5), 0.0005f);
      out = act(s, 4, SH(1, 4, 4, 5), 0.08f, 3); /* 1x1: the fast path reads pixels in place */
      o->padding = ES_PAD_SAME;
    } else {
      return false;
    }
    op(s, ES_OP_CONV_2D, (int[]){in, f, b}, 3, out);
    return true;
  case 1: /* DEPTHWISE_CONV_2D */
    if (variant == 0) {
      in = act(s, 4, SH(1, 5, 5, 2), 0.05f, 1);
      f = cst(s, ES_TFLITE_INT8, 4, SH(1, 3, 3, 4), 0);
      per_channel(s, f, 4, 3);
      b = cst(s, ES_TFLITE_INT32, 1, SH(4), 0.0005f);
      out = act(s, 4, SH(1, 5, 5, 4), 0.1f, 0);
      o->padding = ES_PAD_SAME;
      o->depth_multiplier = 2;
    } else if (variant == 1) {
      in = act(s, 4, SH(1, 6, 6, 1), 0.05f, -5);
      f = cst(s, ES_TFLITE_INT8, 4, SH(1, 3, 3, 3), 0.02f);
      b = cst(s, ES_TFLITE_INT32, 1, SH(3), 0.001f);
      out = act(s, 4, SH(1, 2, 2, 3), 0.1f, 0); /* one input channel: the GEMM path */
      o->padding = ES_PAD_VALID;
      o->stride_w = o->stride_h = 2;
      o->depth_multiplier = 3;
    } else if (variant == 2) {
      in = act(s, 4, SH(1, 7, 7, 20), 0.04f, 2);
      f = cst(s, ES_TFLITE_INT8, 4, SH(1, 3, 3, 20), 0.02f);
      b = -1;
      out = act(s, 4, SH(1, 7, 7, 20), 0.1f, -1);
      o->padding = ES_PAD_SAME;
      o->dilation_w = o->dilation_h = 2;
      o->activation = ES_ACT_RELU;
    } else {
      return false;
    }
    op(s, ES_OP_DEPTHWISE_CONV_2D, (int[]){in, f, b}, 3, out);
    return true;
  case 2: /* FULLY_CONNECTED */
    if (variant == 0) {
      in = act(s, 2, SH(2, 6), 0.05f, 3);
      f = cst(s, ES_TFLITE_INT8, 2, SH(3, 6), 0.02f);
      b = cst(s, ES_TFLITE_INT32, 1, SH(3), 0.001f);
      out = act(s, 2, SH(2, 3), 0.1f, -2);
    } else if (variant == 1) {
      in = act(s, 3, SH(1, 2, 8), 0.05f, 0);
      f = cst(s, ES_TFLITE_INT8, 2, SH(5, 8), 0);
      per_channel(s, f, 5, 0);
      b = -1;
      out = act(s, 3, SH(1, 2, 5), 0.1f, 0);
    } else if (variant == 2) {
      in = act(s, 2, SH(1, 5), 0.05f, 0);
      f = cst(s, ES_TFLITE_INT8, 2, SH(2, 5), 0.02f);
      s->t[f].zp[0] = 3; /* a filter zero point: the reference loops */
      b = cst(s, ES_TFLITE_INT32, 1, SH(2), 0.001f);
      out = act(s, 2, SH(1, 2), 0.1f, 0);
      o->activation = ES_ACT_RELU;
    } else if (variant == 3) {
      /* a large filter: emptied by a mutation ([0, 64, 1024] in a 1-byte buffer), a kernel that
       * trusted the element count would read 64 KiB past a model of 1 KiB, where ASan sees it */
      in = act(s, 2, SH(1, 1024), 0.05f, 0);
      f = cst(s, ES_TFLITE_INT8, 2, SH(64, 1024), 0.02f);
      b = -1;
      out = act(s, 2, SH(1, 64), 0.1f, 0);
    } else {
      return false;
    }
    op(s, ES_OP_FULLY_CONNECTED, (int[]){in, f, b}, 3, out);
    return true;
  case 3: /* AVERAGE_POOL_2D, MAX_POOL_2D */
    if (variant > 3)
      return false;
    in = act(s, 4, SH(1, 5, 5, 3), 0.05f, 0);
    if (variant % 2 == 0) {
      out = act(s, 4, SH(1, 3, 3, 3), 0.05f, 0);
      o->padding = ES_PAD_SAME;
      o->stride_w = o->stride_h = 2;
      o->filter_w = o->filter_h = 2;
    } else {
      out = act(s, 4, SH(1, 3, 3, 3), 0.05f, 0);
      o->padding = ES_PAD_VALID;
      o->filter_w = o->filter_h = 3;
    }
    op(s, variant < 2 ? ES_OP_AVERAGE_POOL_2D : ES_OP_MAX_POOL_2D, (int[]){in}, 1, out);
    return true;
  case 4: /* RESHAPE, SQUEEZE */
    if (variant == 0) {
      in = act(s, 2, SH(2, 3), 0.05f, 0);
      x = cst_vals(s, 1, SH(2), (int32_t[]){3, 2}, 2);
      out = act(s, 2, SH(3, 2), 0.05f, 0);
      op(s, ES_OP_RESHAPE, (int[]){in, x}, 2, out);
    } else if (variant == 1) {
      in = act(s, 4, SH(1, 3, 1, 2), 0.05f, 0);
      out = act(s, 2, SH(3, 2), 0.05f, 0);
      op(s, ES_OP_SQUEEZE, (int[]){in}, 1, out);
    } else {
      return false;
    }
    return true;
  case 5: /* SOFTMAX */
    if (variant > 0)
      return false;
    in = act(s, 2, SH(3, 7), 0.1f, 0);
    out = act(s, 2, SH(3, 7), 1.0f / 256, -128);
    op(s, ES_OP_SOFTMAX, (int[]){in}, 1, out);
    return true;
  case 6: /* ADD, SUB, MUL */
    if (variant > 5)
      return false;
    if (variant < 3) {
      x = act(s, 3, SH(2, 1, 3), 0.05f, 1);
      y = act(s, 3, SH(1, 4, 1), 0.07f, -2);
      out = act(s, 3, SH(2, 4, 3), 0.1f, 0);
    } else {
      x = act(s, 2, SH(2, 3), 0.05f, 1);
      y = act(s, 2, SH(2, 3), 0.05f, 1);
      out = act(s, 2, SH(2, 3), 0.02f, 3);
    }
    op(s, (int32_t[]){ES_OP_ADD, ES_OP_SUB, ES_OP_MUL}[variant % 3], (int[]){x, y}, 2, out);
    return true;
  case 7: { /* elementwise one-input operators */
    static const int32_t codes[] = {ES_OP_RELU,     ES_OP_RELU6,    ES_OP_LOGISTIC,
                                    ES_OP_TANH,     ES_OP_HARD_SWISH, ES_OP_QUANTIZE,
                                    ES_OP_QUANTIZE, ES_OP_DEQUANTIZE};
    if (variant >= (int)(sizeof codes / sizeof codes[0]))
      return false;
    const int32_t code = codes[variant];
    if (variant == 5) /* float32 -> int8 */
      in = add_t(s, ES_TFLITE_FLOAT32, 2, SH(2, 5), 0, 0);
    else
      in = act(s, 2, SH(2, 5), 0.05f, 3);
    if (code == ES_OP_DEQUANTIZE)
      out = add_t(s, ES_TFLITE_FLOAT32, 2, SH(2, 5), 0, 0);
    else if (code == ES_OP_LOGISTIC)
      out = act(s, 2, SH(2, 5), 1.0f / 256, -128);
    else if (code == ES_OP_TANH)
      out = act(s, 2, SH(2, 5), 1.0f / 128, 0);
    else
      out = act(s, 2, SH(2, 5), 0.04f, -4);
    op(s, code, (int[]){in}, 1, out);
    return true;
  }
  case 8: /* PAD, PADV2 */
    if (variant > 2)
      return false;
    if (variant < 2) {
      in = act(s, 3, SH(1, 2, 3), 0.05f, 4);
      x = cst_vals(s, 2, SH(3, 2), (int32_t[]){0, 1, 1, 0, 2, 2}, 6);
      out = act(s, 3, SH(2, 3, 7), 0.05f, 4);
      if (variant == 0) {
        op(s, ES_OP_PAD, (int[]){in, x}, 2, out);
      } else {
        y = cst(s, ES_TFLITE_INT8, 0, SH(0), 0.05f);
        s->t[y].zp[0] = 4;
        op(s, ES_OP_PADV2, (int[]){in, x, y}, 3, out);
      }
    } else {
      in = add_t(s, ES_TFLITE_INT32, 2, SH(2, 2), 0, 0);
      x = cst_vals(s, 2, SH(2, 2), (int32_t[]){1, 0, 0, 3}, 4);
      out = add_t(s, ES_TFLITE_INT32, 2, SH(3, 5), 0, 0);
      op(s, ES_OP_PAD, (int[]){in, x}, 2, out);
    }
    return true;
  case 9: /* TRANSPOSE */
    if (variant > 0)
      return false;
    in = act(s, 3, SH(2, 3, 4), 0.05f, 0);
    x = cst_vals(s, 1, SH(3), (int32_t[]){2, 0, 1}, 3);
    out = act(s, 3, SH(4, 2, 3), 0.05f, 0);
    op(s, ES_OP_TRANSPOSE, (int[]){in, x}, 2, out);
    return true;
  case 10: /* CONCATENATION */
    if (variant > 1)
      return false;
    if (variant == 0) {
      x = act(s, 2, SH(2, 3), 0.05f, 0);
      y = act(s, 2, SH(2, 2), 0.05f, 0);
      out = act(s, 2, SH(2, 5), 0.05f, 0);
      o->axis = 1;
      op(s, ES_OP_CONCATENATION, (int[]){x, y}, 2, out);
    } else {
      x = act(s, 3, SH(1, 2, 2), 0.05f, 0);
      y = act(s, 3, SH(2, 2, 2), 0.05f, 0);
      b = cst(s, ES_TFLITE_INT8, 3, SH(1, 2, 2), 0.05f);
      out = act(s, 3, SH(4, 2, 2), 0.05f, 0);
      o->axis = 0;
      op(s, ES_OP_CONCATENATION, (int[]){x, y, b}, 3, out);
    }
    return true;
  case 11: /* MEAN */
    if (variant > 1)
      return false;
    in = act(s, 4, SH(1, 3, 4, 2), 0.05f, -3);
    if (variant == 0) {
      x = cst_vals(s, 1, SH(2), (int32_t[]){1, 2}, 2);
      out = act(s, 4, SH(1, 1, 1, 2), 0.03f, 2);
      o->keep_dims = true;
    } else {
      x = cst_vals(s, 1, SH(1), (int32_t[]){-1}, 1);
      out = act(s, 3, SH(1, 3, 4), 0.05f, 0);
    }
    op(s, ES_OP_MEAN, (int[]){in, x}, 2, out);
    return true;
  default:
    return false;
  }
}

enum { N_FAMILIES = 12 };

/* ---- mutations ------------------------------------------------------------------------------ */

static int32_t pick_dim(int32_t cur)
{
  static const int32_t dims[] = {0, 1, 2, 3, 4, 5, 8, 17, 40000, 65536, 1 << 20, INT32_MAX};
  const int k = pick(18);
  if (k >= 16)
    return 0; /* empty tensors are where a shape check on the element count alone fails */
  if (k == 12)
    return cur < INT32_MAX ? cur + 1 : cur;
  if (k == 13)
    return cur > 0 ? cur - 1 : 0;
  if (k >= 14)
    return (int32_t)pick(10);
  return dims[k];
}

static float pick_scale(void)
{
  static const float scales[] = {1e-9f, 0x1p-28f, 0x1p-29f, 1e-30f, 1e-45f, 1e30f, 3e38f, 0.0f,
                                 -1.0f, NAN,      INFINITY, 1.0f,   0.5f,   32.0f, 1.0f / 256,
                                 1.0f / 128, 1e-5f, 1e5f};
  return scales[pick((int)(sizeof scales / sizeof scales[0]))];
}

static int pick_int(void)
{
  static const int v[] = {0, 1, 2, 3, -1, 4, 5, 65536, 65537, 1 << 30, INT32_MAX, INT32_MIN, 7};
  return v[pick((int)(sizeof v / sizeof v[0]))];
}

static void mutate(spec *s, char *log, size_t logsz)
{
  const int t = pick(s->n_t);
  mt *x = &s->t[t];
  char what[96] = "";
  int kind = pick(15);
  kind = kind == 13 ? 2 : kind == 14 ? 11 : kind; /* rank changes and empty-but-huge: twice */
  switch (kind) {
  case 11: /* no elements, but a huge dimension: [.., 0, .., 2^31 - 1, ..] */
    if (x->rank >= 2) {
      const int d0 = pick(x->rank), d1 = (d0 + 1 + pick(x->rank - 1)) % x->rank;
      static const int32_t huge[] = {INT32_MAX, INT32_MAX - 1, 1 << 30, 65536, 40000};
      x->shape[d0] = 0;
      x->shape[d1] = huge[pick(5)];
      snprintf(what, sizeof what, "t%d.shape[%d]=0 [%d]=%d", t, d0, d1, (int)x->shape[d1]);
    }
    break;
  case 0:
  case 1: /* a dimension */
    if (x->rank > 0) {
      const int d = pick(x->rank);
      x->shape[d] = pick_dim(x->shape[d]);
      snprintf(what, sizeof what, "t%d.shape[%d]=%d", t, d, (int)x->shape[d]);
    }
    break;
  case 2: /* rank */
    if (x->rank > 0 && pick(3) == 0) {
      x->rank--;
      snprintf(what, sizeof what, "t%d.rank=%d", t, x->rank);
    } else if (x->rank < 7) {
      const int d = pick(2) ? 0 : pick(x->rank + 1); /* mostly in front */
      memmove(x->shape + d + 1, x->shape + d, sizeof(int32_t) * (size_t)(x->rank - d));
      x->shape[d] = pick(3) ? (int32_t)pick(2) : pick_dim(1); /* mostly 0 or 1 */
      x->rank++;
      snprintf(what, sizeof what, "t%d.insert[%d]=%d", t, d, (int)x->shape[d]);
    }
    break;
  case 3: /* scale */
    if (x->nq) {
      const int k = pick(x->nq);
      x->scale[k] = pick_scale();
      snprintf(what, sizeof what, "t%d.scale[%d]=%g", t, k, (double)x->scale[k]);
    }
    break;
  case 4: { /* zero point */
    static const int64_t zps[] = {-128, 127, 0, -1, 1, 128, -129, 100000, -2147483649LL};
    if (x->nq) {
      const int k = pick(x->nq);
      x->zp[k] = zps[pick(9)];
      snprintf(what, sizeof what, "t%d.zp[%d]=%lld", t, k, (long long)x->zp[k]);
    }
    break;
  }
  case 5: /* quantization count / axis, or none */
    x->nq = pick(6);
    x->qdim = pick(6) - 1;
    for (int k = 0; k < x->nq; k++) {
      x->scale[k] = pick(4) ? 0.01f * (float)(k + 1) : pick_scale();
      x->zp[k] = 0;
    }
    snprintf(what, sizeof what, "t%d.nq=%d qdim=%d", t, x->nq, x->qdim);
    break;
  case 6: { /* an option */
    es_tflite_options *o = &s->o;
    const int v = pick_int(), f = pick(12);
    switch (f) {
    case 0: o->stride_w = v; break;
    case 1: o->stride_h = v; break;
    case 2: o->dilation_w = v; break;
    case 3: o->dilation_h = v; break;
    case 4: o->padding = pick(3); break;
    case 5: o->activation = pick(6); break;
    case 6: o->depth_multiplier = v; break;
    case 7: o->filter_w = v; break;
    case 8: o->filter_h = v; break;
    case 9: o->beta = pick_scale(); break;
    case 10: o->axis = pick(9) - 4; break;
    default: o->keep_dims = !o->keep_dims; break;
    }
    snprintf(what, sizeof what, "option %d=%d", f, v);
    break;
  }
  case 7: /* int32 contents */
    if (x->n_val) {
      const int k = pick(x->n_val);
      x->val[k] = pick(2) ? pick(11) - 5 : pick_int();
      snprintf(what, sizeof what, "t%d.val[%d]=%d", t, k, (int)x->val[k]);
    }
    break;
  case 8: { /* type */
    static const int types[] = {ES_TFLITE_INT8,  ES_TFLITE_UINT8,   ES_TFLITE_INT16,
                                ES_TFLITE_INT32, ES_TFLITE_FLOAT32, ES_TFLITE_INT64,
                                ES_TFLITE_BOOL};
    x->type = types[pick(7)];
    snprintf(what, sizeof what, "t%d.type=%d", t, x->type);
    break;
  }
  case 9: /* inputs: drop an optional one, drop the last, or repeat one */
    if (pick(2) && s->n_in > 1) {
      s->in[pick(s->n_in)] = -1;
      snprintf(what, sizeof what, "input dropped");
    } else if (pick(2) && s->n_in > 0) {
      s->n_in--;
      snprintf(what, sizeof what, "n_in=%d", s->n_in);
    } else if (s->n_in < MAX_IN && s->n_in > 0) {
      s->in[s->n_in] = s->in[pick(s->n_in)];
      s->n_in++;
      snprintf(what, sizeof what, "input repeated");
    }
    break;
  default: /* a constant buffer one byte short */
    if (x->is_const) {
      x->shrink = 1;
      snprintf(what, sizeof what, "t%d short", t);
    }
    break;
  }
  if (*what) {
    size_t n = strlen(log);
    snprintf(log + n, logsz - n, "%s%s", n ? ", " : "", what);
  }
}

/* ---- building and running ------------------------------------------------------------------ */

static uint8_t *build(const spec *s, size_t *len)
{
  es_tflite_builder *b = es_tflite_builder_new();
  cr_assert(b);
  for (int i = 0; i < s->n_t; i++) {
    const mt *x = &s->t[i];
    int buf = 0;
    if (x->is_const) {
      size_t count = 1;
      for (int d = 0; d < x->rank; d++)
        count *= (size_t)x->shape[d];
      const size_t esize = es_tflite_type_size(x->type) ? es_tflite_type_size(x->type) : 1;
      size_t bytes = count <= (1u << 20) ? count * esize : 1; /* huge: the loader refuses it */
      if (x->shrink && bytes > 1)
        bytes--;
      uint8_t *data = calloc(bytes ? bytes : 1, 1);
      cr_assert(data);
      for (size_t k = 0; k < bytes; k++)
        data[k] = (uint8_t)rnd();
      if (x->type == ES_TFLITE_INT32)
        for (size_t k = 0; k + 4 <= bytes; k += 4) {
          int32_t v = x->n_val ? x->val[(k / 4) % (size_t)x->n_val]
                               : (int32_t)(rnd() % 4001) - 2000;
          if (!x->n_val && pick(50) == 0)
            v = pick(2) ? INT32_MAX : INT32_MIN;
          memcpy(data + k, &v, 4);
        }
      buf = es_tflite_builder_add_buffer(b, data, bytes ? bytes : 1);
      free(data);
      cr_assert(buf > 0);
    }
    cr_assert(es_tflite_builder_add_tensor(b, "t", x->type, x->shape, x->rank, buf, x->scale,
                                           x->zp, (size_t)x->nq, x->qdim) == i);
  }
  int32_t ins[MAX_IN], model_in[MAX_IN];
  size_t n_model_in = 0;
  for (int k = 0; k < s->n_in; k++) {
    ins[k] = s->in[k];
    if (s->in[k] < 0 || s->t[s->in[k]].is_const || s->in[k] == s->out)
      continue;
    bool seen = false;
    for (size_t j = 0; j < n_model_in; j++)
      seen |= model_in[j] == s->in[k];
    if (!seen)
      model_in[n_model_in++] = s->in[k];
  }
  const int32_t out = s->out;
  cr_assert(es_tflite_builder_add_operator(b, s->code, ins, (size_t)s->n_in, &out, 1, &s->o) >= 0);
  cr_assert(es_tflite_builder_set_io(b, model_in, n_model_in, &out, 1) == ES_OK);
  uint8_t *bytes = NULL;
  es_error err = {0};
  cr_assert_eq(es_tflite_builder_finish(b, &bytes, len, &err), ES_OK, "%s", err.msg);
  es_tflite_builder_free(b);
  return bytes;
}

/* Runs the loaded model with every variant on the same random inputs; every output must be the
 * reference's. Returns false (and says why) on a mismatch. */
static bool run_all(const es_model *m, char *why, size_t whysz)
{
  uint8_t *ref = NULL;
  size_t ref_bytes = 0;
  const uint64_t input_seed = rng_state;
  bool ok = true;
  for (int isa = ES_NN_ISA_REFERENCE; isa < ES_NN_ISA_COUNT && ok; isa++) {
    if (!es_nn_isa_supported(isa))
      continue;
    es_interp_opts o = {.isa = isa};
    es_interp *ip = NULL;
    es_error err = {0};
    cr_assert_eq(es_interp_new(m, &o, &ip, &err), ES_OK, "%s", err.msg);
    rng_state = input_seed;
    for (size_t k = 0; k < es_model_input_count(m); k++) {
      es_tensor t;
      cr_assert_eq(es_interp_input(ip, k, &t), 0);
      for (size_t i = 0; i < t.bytes; i++)
        ((uint8_t *)t.data)[i] = (uint8_t)rnd();
    }
    cr_assert_eq(es_interp_invoke(ip, &err), ES_OK, "%s", err.msg);
    es_tensor t;
    cr_assert_eq(es_interp_output(ip, 0, &t), 0);
    if (!ref) {
      ref_bytes = t.bytes;
      ref = malloc(ref_bytes ? ref_bytes : 1);
      cr_assert(ref);
      if (ref_bytes)
        memcpy(ref, t.data, ref_bytes);
    } else if (t.bytes != ref_bytes || (ref_bytes && memcmp(t.data, ref, ref_bytes) != 0)) {
      snprintf(why, whysz, "variant %s differs from the reference", es_nn_isa_name(isa));
      ok = false;
    }
    es_interp_free(ip);
  }
  free(ref);
  return ok;
}

/* A refusal must be exit 2 in edgeset-eval and say what is wrong: the operator, or the tensor
 * for the checks every tensor gets before any operator is looked at. */
static bool refusal_ok(int rc, const char *msg)
{
  if (rc != ES_EFORMAT && rc != ES_EUNSUPPORTED && rc != ES_ELIMIT)
    return false;
  return strncmp(msg, "operator 0 (", 12) == 0 || strncmp(msg, "tensor ", 7) == 0 ||
         strncmp(msg, "model ", 6) == 0 || strncmp(msg, "malformed", 9) == 0 ||
         strncmp(msg, "the model needs more than", 25) == 0; /* MAC and arena limits */
}

Test(mutate, every_kernel_against_mutated_models, .timeout = 1200)
{
  const char *env = getenv("EDGESET_MUTATIONS");
  const int per_base = env && atoi(env) > 0 ? atoi(env) : 300;
  const char *only = getenv("EDGESET_MUTATE_FAMILY"); /* one family, for debugging */
  es_nn_limits lim = {0};
  lim.max_macs = 2000000;
  lim.max_arena_bytes = 8u << 20;
  lim.max_tensor_bytes = 1u << 20;
  lim.max_tensors = 100;
  lim.max_operators = 10;
  size_t loaded = 0, refused = 0, failures = 0, models = 0;
  size_t fam_loaded[N_FAMILIES] = {0};
  for (int fam = 0; fam < N_FAMILIES; fam++) {
    if (only && *only && atoi(only) != fam)
      continue;
    spec s;
    for (int variant = 0; base(&s, fam, variant); variant++) {
      for (int it = 0; it < per_base; it++) {
        rng_state = UINT64_C(0x9E3779B97F4A7C15) ^ ((uint64_t)fam << 48) ^
                    ((uint64_t)variant << 32) ^ (uint64_t)(it + 1);
        base(&s, fam, variant);
        char log[1024] = "";
        const int n_mut = it == 0 ? 0 : 1 + pick(3);
        for (int k = 0; k < n_mut; k++)
          mutate(&s, log, sizeof log);
        size_t len;
        uint8_t *bytes = build(&s, &len);
        es_model *m = NULL;
        es_error err = {0};
        const int rc = es_model_load(bytes, len, &lim, &m, &err);
        models++;
        char why[1200] = "";
        if (rc == ES_OK) {
          loaded++;
          fam_loaded[fam] += it > 0;
          if (!run_all(m, why, sizeof why))
            failures++;
        } else {
          refused++;
          if (!refusal_ok(rc, err.msg)) {
            snprintf(why, sizeof why, "refused with code %d and message '%s'", rc, err.msg);
            failures++;
          }
        }
        if (*why)
          fprintf(stderr, "FAIL family %d variant %d model %d (%s): %s\n", fam, variant, it, log,
                  why);
        cr_assert(it != 0 || rc == ES_OK, "family %d base %d does not load: %s", fam, variant,
                  err.msg);
        es_model_free(m);
        free(bytes);
      }
    }
  }
  printf("mutated models: %zu, %zu loaded and ran with every variant, %zu refused; %zu failures\n"
         "mutants that loaded, per family:",
         models, loaded, refused, failures);
  for (int fam = 0; fam < N_FAMILIES; fam++)
    printf(" %zu", fam_loaded[fam]);
  printf("\n");
  fflush(stdout);
  cr_assert_eq(failures, 0, "%zu of %zu mutated models failed (listed above)", failures, models);
}
