/* Synthetic standard architectures (nn_arch.h). */
#include "nn_arch.h"

#include <math.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "formats/tflite.h"

const char *const nn_arch_names[] = {"mobilenet_v2", "resnet8", "mobilenet_v1_025", NULL};

typedef struct net {
  es_tflite_builder *b;
  uint64_t s;
  int n;   /* tensors made, for names */
  int err; /* first failure */
} net;

typedef struct act {
  int t;           /* tensor index */
  int h, w, c;
  bool relu;       /* produced by a ReLU6: zero point -128 */
} act;

static uint32_t rnd(net *g)
{
  g->s ^= g->s << 13;
  g->s ^= g->s >> 7;
  g->s ^= g->s << 17;
  return (uint32_t)(g->s >> 11);
}

#define ACT_SCALE (1.0f / 32)

static int tensor(net *g, const int32_t *shape, int rank, bool relu)
{
  char name[32];
  snprintf(name, sizeof name, "t%d", g->n++);
  float scale = ACT_SCALE;
  int64_t zp = relu ? -128 : 0;
  if (relu)
    scale = 6.0f / 255; /* ReLU6's range over int8 */
  int t = es_tflite_builder_add_tensor(g->b, name, ES_TFLITE_INT8, shape, rank, 0, &scale, &zp,
                                       1, 0);
  if (t < 0 && !g->err)
    g->err = t;
  return t;
}

/* A constant: int8 filter [oc, kh, kw, ic] (per channel on axis qdim) or int32 bias. */
static int constant(net *g, int type, const int32_t *shape, int rank, size_t count,
                    const float *scales, size_t nq, int qdim)
{
  size_t bytes = count * (type == ES_TFLITE_INT32 ? 4 : 1);
  uint8_t *data = malloc(bytes ? bytes : 1);
  if (!data) {
    g->err = ES_ENOMEM;
    return -1;
  }
  if (type == ES_TFLITE_INT32) {
    for (size_t i = 0; i < count; i++) {
      int32_t v = (int32_t)(rnd(g) % 4001) - 2000;
      memcpy(data + 4 * i, &v, 4);
    }
  } else {
    for (size_t i = 0; i < count; i++)
      data[i] = (uint8_t)(int8_t)((int)(rnd(g) % 255) - 127);
  }
  int buf = es_tflite_builder_add_buffer(g->b, data, bytes);
  free(data);
  char name[32];
  snprintf(name, sizeof name, "c%d", g->n++);
  int t = buf < 0 ? buf
                  : es_tflite_builder_add_tensor(g->b, name, type, shape, rank, buf, scales,
                                                 NULL, nq, qdim);
  if (t < 0 && !g->err)
    g->err = t;
  return t;
}

static void op(net *g, int32_t code, const int32_t *in, size_t n_in, int out,
               const es_tflite_options *o)
{
  int32_t outs[1] = {out};
  int rc = es_tflite_builder_add_operator(g->b, code, in, n_in, outs, 1, o);
  if (rc < 0 && !g->err)
    g->err = rc;
}

static float in_scale(const act *x)
{
  return x->relu ? 6.0f / 255 : ACT_SCALE;
}

/* CONV_2D (k x k, stride s, SAME) or, with dw, DEPTHWISE_CONV_2D; ReLU6 when relu. */
static act conv(net *g, act x, int oc, int k, int s, bool dw, bool relu)
{
  const int fan_in = dw ? k * k : k * k * x.c;
  const int n_oc = dw ? x.c : oc;
  float scales[2048], bscales[2048]; /* channels: at most 1280 here */
  if (n_oc > 2048) {
    g->err = ES_EUSAGE;
    return x;
  }
  /* real weights ~ uniform(-1, 1) / sqrt(fan_in) * 2, so outputs keep the inputs' spread */
  for (int c = 0; c < n_oc; c++)
    scales[c] = (2.0f / sqrtf((float)fan_in)) / 127.0f * (0.75f + (float)(rnd(g) % 100) / 200);
  int32_t fshape[4] = {dw ? 1 : oc, k, k, dw ? x.c : x.c};
  int f = constant(g, ES_TFLITE_INT8, fshape, 4, (size_t)k * k * x.c * (dw ? 1 : oc), scales,
                   (size_t)n_oc, dw ? 3 : 0);
  for (int c = 0; c < n_oc; c++)
    bscales[c] = scales[c] * in_scale(&x);
  int32_t bshape[1] = {n_oc};
  int bias = constant(g, ES_TFLITE_INT32, bshape, 1, (size_t)n_oc, bscales, (size_t)n_oc, 0);
  act y = {0, (x.h + s - 1) / s, (x.w + s - 1) / s, n_oc, relu};
  int32_t oshape[4] = {1, y.h, y.w, y.c};
  y.t = tensor(g, oshape, 4, relu);
  es_tflite_options o;
  es_tflite_options_default(&o);
  o.padding = ES_PAD_SAME;
  o.stride_w = o.stride_h = s;
  o.activation = relu ? ES_ACT_RELU6 : ES_ACT_NONE;
  o.depth_multiplier = 1;
  const int32_t in[3] = {x.t, f, bias};
  op(g, dw ? ES_OP_DEPTHWISE_CONV_2D : ES_OP_CONV_2D, in, 3, y.t, &o);
  return y;
}

static act add(net *g, act a, act b, bool relu)
{
  int32_t shape[4] = {1, a.h, a.w, a.c};
  act y = {tensor(g, shape, 4, relu), a.h, a.w, a.c, relu};
  es_tflite_options o;
  es_tflite_options_default(&o);
  o.activation = relu ? ES_ACT_RELU6 : ES_ACT_NONE;
  const int32_t in[2] = {a.t, b.t};
  op(g, ES_OP_ADD, in, 2, y.t, &o);
  return y;
}

/* global average over height and width: MEAN (keep_dims) as TF exports it */
static act global_mean(net *g, act x)
{
  int32_t ashape[1] = {2};
  int32_t axes[2] = {1, 2};
  int buf = es_tflite_builder_add_buffer(g->b, axes, sizeof axes);
  int at = es_tflite_builder_add_tensor(g->b, "axes", ES_TFLITE_INT32, ashape, 1, buf, NULL,
                                        NULL, 0, 0);
  int32_t shape[4] = {1, 1, 1, x.c};
  act y = {tensor(g, shape, 4, false), 1, 1, x.c, false};
  es_tflite_options o;
  es_tflite_options_default(&o);
  o.keep_dims = true;
  const int32_t in[2] = {x.t, at};
  op(g, ES_OP_MEAN, in, 2, y.t, &o);
  return y;
}

/* FULLY_CONNECTED to n classes (per-tensor filter scale), then SOFTMAX */
static int classifier(net *g, act x, int n)
{
  int32_t rshape[2] = {1, x.c};
  int32_t new_shape[2] = {1, x.c};
  int flat = tensor(g, rshape, 2, false);
  es_tflite_options ro;
  es_tflite_options_default(&ro);
  ro.new_shape = new_shape;
  ro.n_new_shape = 2;
  ro.has_new_shape = true;
  const int32_t rin[1] = {x.t};
  op(g, ES_OP_RESHAPE, rin, 1, flat, &ro);
  float fs = (2.0f / sqrtf((float)x.c)) / 127.0f;
  int32_t fshape[2] = {n, x.c};
  int f = constant(g, ES_TFLITE_INT8, fshape, 2, (size_t)n * x.c, &fs, 1, 0);
  float bs = fs * ACT_SCALE;
  int32_t bshape[1] = {n};
  int bias = constant(g, ES_TFLITE_INT32, bshape, 1, (size_t)n, &bs, 1, 0);
  int32_t oshape[2] = {1, n};
  int logits = tensor(g, oshape, 2, false);
  const int32_t fin[3] = {flat, f, bias};
  op(g, ES_OP_FULLY_CONNECTED, fin, 3, logits, NULL);
  float ps = 1.0f / 256;
  int64_t pz = -128;
  int prob = es_tflite_builder_add_tensor(g->b, "prob", ES_TFLITE_INT8, oshape, 2, 0, &ps, &pz,
                                          1, 0);
  const int32_t sin[1] = {logits};
  op(g, ES_OP_SOFTMAX, sin, 1, prob, NULL);
  return prob;
}

static int mobilenet_v2(net *g, act x)
{
  static const int cfg[7][4] = {{1, 16, 1, 1},  {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 2},
                                {6, 96, 3, 1},  {6, 160, 3, 2}, {6, 320, 1, 1}};
  x = conv(g, x, 32, 3, 2, false, true);
  for (int b = 0; b < 7; b++)
    for (int i = 0; i < cfg[b][2]; i++) {
      const int s = i == 0 ? cfg[b][3] : 1;
      act y = x;
      if (cfg[b][0] != 1)
        y = conv(g, y, x.c * cfg[b][0], 1, 1, false, true);
      y = conv(g, y, 0, 3, s, true, true);
      y = conv(g, y, cfg[b][1], 1, 1, false, false);
      x = s == 1 && x.c == y.c ? add(g, x, y, false) : y;
    }
  x = conv(g, x, 1280, 1, 1, false, true);
  return classifier(g, global_mean(g, x), 1000);
}

static int resnet8(net *g, act x)
{
  x = conv(g, x, 16, 3, 1, false, true);
  static const int widths[3] = {16, 32, 64};
  for (int st = 0; st < 3; st++) {
    const int s = st ? 2 : 1;
    act y = conv(g, x, widths[st], 3, s, false, true);
    y = conv(g, y, widths[st], 3, 1, false, false);
    act shortcut = st ? conv(g, x, widths[st], 1, s, false, false) : x;
    x = add(g, shortcut, y, true);
  }
  return classifier(g, global_mean(g, x), 10);
}

static int mobilenet_v1_025(net *g, act x)
{
  static const int cfg[13][2] = {{16, 1},  {32, 2},  {32, 1},  {64, 2},  {64, 1},
                                 {128, 2}, {128, 1}, {128, 1}, {128, 1}, {128, 1},
                                 {128, 1}, {256, 2}, {256, 1}};
  x = conv(g, x, 8, 3, 2, false, true);
  for (int i = 0; i < 13; i++) {
    x = conv(g, x, 0, 3, cfg[i][1], true, true);
    x = conv(g, x, cfg[i][0], 1, 1, false, true);
  }
  return classifier(g, global_mean(g, x), 2);
}

uint8_t *nn_arch_build(const char *name, uint64_t seed, size_t *len, es_error *err)
{
  int side = !strcmp(name, "mobilenet_v2")       ? 224
             : !strcmp(name, "resnet8")          ? 32
             : !strcmp(name, "mobilenet_v1_025") ? 96
                                                 : 0;
  if (!side) {
    es_error_set(err, ES_EUSAGE, "no architecture '%s'", name);
    return NULL;
  }
  net g = {es_tflite_builder_new(), seed | 1, 0, 0};
  if (!g.b) {
    es_error_set(err, ES_ENOMEM, "out of memory");
    return NULL;
  }
  int32_t ishape[4] = {1, side, side, 3};
  act x = {tensor(&g, ishape, 4, false), side, side, 3, false};
  int out = !strcmp(name, "mobilenet_v2") ? mobilenet_v2(&g, x)
            : !strcmp(name, "resnet8")    ? resnet8(&g, x)
                                          : mobilenet_v1_025(&g, x);
  uint8_t *bytes = NULL;
  int32_t ins[1] = {x.t}, outs[1] = {out};
  if (!g.err)
    g.err = es_tflite_builder_set_io(g.b, ins, 1, outs, 1);
  if (g.err < 0 || (g.err = es_tflite_builder_finish(g.b, &bytes, len, err)))
    es_error_set(err, g.err < 0 ? g.err : ES_EINTERNAL, "building '%s' failed", name);
  es_tflite_builder_free(g.b);
  return g.err ? NULL : bytes;
}
