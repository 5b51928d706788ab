/* Fast kernels, ISA-independent part: the fast prepares registry.c names (they read what the
 * reference prepare computed, decide whether the fast kernels apply, pack the filter - GEMM
 * blocks for CONV_2D and FULLY_CONNECTED, filter pairs for DEPTHWISE_CONV_2D - and choose the
 * variant table), the drivers that turn an operator into GEMM calls or depthwise row calls, and
 * the portable C kernels (written so that compilers vectorize them; the AVX2, AVX-VNNI and
 * AVX512-VNNI kernels are in fast_x86.c). Nothing here calls a reference eval: an operator the
 * fast kernels do not handle is left on it by its fast prepare.
 *
 * Why the results are the reference's bit for bit: TFLM sums filter * (input + input_offset)
 * and the bias in int32, which wraps modulo 2^32, and requantizes that int32. The GEMM feeds
 * vpdpbusd unsigned bytes u = input XOR 0x80 = input + 128 and signed filter bytes, and patch
 * taps in the padding get the input zero point (so input + input_offset = 0 there, as the
 * reference's skipped taps contribute 0). Then
 *   sum w * (x + off) + bias = sum w * u + (off - 128) * sum w + bias   (mod 2^32),
 * the last two terms folded per channel at prepare time. The depthwise kernels multiply
 * int16 values x + off (|x + off| <= 255) by the filter, exact products summed in int32, with
 * 0 for padding taps. Every sum is taken modulo 2^32, so any order gives the same int32, and
 * requantization is the same MultiplyByQuantizedMultiplier per output element. */
/* The build's -O2 does not vectorize loops in GCC 12; these are the loops that must be. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3")
#endif

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "nn/kernels/conv_common.h"
#include "nn/kernels/fast.h"
#include "nn/kernels/fully_connected.h"
#include "nn/kernels/kernels.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define X86(f) f
#else
#define X86(f) NULL
#endif

/* The variants per ISA slot (nn_internal.h); a NULL slot falls back along es__isa_fallback(). */
static const es__fast_variants conv_variants = {{
    [ES__ISA_PORTABLE] = es__conv_eval_portable,
    [ES__ISA_AVX2] = X86(es__conv_eval_avx2),
    [ES__ISA_AVXVNNI] = X86(es__conv_eval_avxvnni),
    [ES__ISA_AVX512VNNI] = X86(es__conv_eval_avx512vnni),
}};
static const es__fast_variants dwconv_variants = {{
    [ES__ISA_PORTABLE] = es__dwconv_eval_portable,
    [ES__ISA_AVX2] = X86(es__dwconv_eval_avx2),
    [ES__ISA_AVXVNNI] = X86(es__dwconv_eval_avxvnni),
    [ES__ISA_AVX512VNNI] = X86(es__dwconv_eval_avx512),
}};
static const es__fast_variants fc_variants = {{
    [ES__ISA_PORTABLE] = es__fc_eval_portable,
    [ES__ISA_AVX2] = X86(es__fc_eval_avx2),
    [ES__ISA_AVXVNNI] = X86(es__fc_eval_avxvnni),
    [ES__ISA_AVX512VNNI] = X86(es__fc_eval_avx512vnni),
}};

static size_t up64(size_t n)
{
  return (n + 63) / 64 * 64;
}

/* Hands out 64-byte aligned pieces of one allocation (sizes are added up first with the same
 * calls on a NULL base). */
typedef struct carver {
  uint8_t *base;
  size_t used;
} carver;

static void *carve(carver *c, size_t bytes)
{
  void *p = c->base ? c->base + c->used : NULL;
  c->used += up64(bytes);
  return p;
}

static void requant_carve(carver *c, es__requant *rq, size_t n)
{
  rq->mult = carve(c, n * 4);
  rq->lsh = carve(c, n * 4);
  rq->rsh = carve(c, n * 4);
  rq->rmask = carve(c, n * 4);
  rq->rhalf = carve(c, n * 4);
}

/* Channel c's constants; channels past the real ones get multiplier 0 (their outputs are never
 * stored). */
static void requant_set(es__requant *rq, int c, int32_t mult, int shift)
{
  const int right = shift > 0 ? 0 : -shift;
  rq->mult[c] = mult;
  rq->lsh[c] = shift > 0 ? shift : 0;
  rq->rsh[c] = right;
  rq->rmask[c] = (int32_t)((INT64_C(1) << right) - 1);
  rq->rhalf[c] = rq->rmask[c] >> 1;
}

/* Stores the packed GEMM in op->fast. filter is [oc][k] int8, bias NULL or oc int32 values
 * (unaligned bytes), multiplier/shift n_mult (1 = per tensor, or oc) values. rows_per_call is
 * the most rows the conv/fc driver gathers at once (sizes op->fast_scratch_bytes). */
static int gemm_pack(es__op *op, const int8_t *filter, const void *bias, int oc, int k,
                     int32_t input_offset, int32_t output_offset, int32_t act_min,
                     int32_t act_max, const int32_t *multiplier, const int *shift, int n_mult,
                     size_t rows_per_call, es_error *err)
{
  if (oc <= 0 || k <= 0 || k > INT_MAX - 64)
    return es__op_error(err, op, ES_ELIMIT, "filter too large");
  const int k4 = (k + 3) / 4 * 4, ocb = (oc + 15) / 16;
  if ((size_t)k4 > SIZE_MAX / 64 / (size_t)ocb || rows_per_call > SIZE_MAX / 2 / (size_t)k4)
    return es__op_error(err, op, ES_ELIMIT, "filter too large");
  const size_t n = (size_t)ocb * 16, wbytes = n * (size_t)k4;
  carver c = {NULL, 0};
  for (int pass = 0; pass < 2; pass++) {
    c.used = 0;
    es__gemm_fast *g = carve(&c, sizeof *g);
    int8_t *w = carve(&c, wbytes);
    uint32_t *cterm = carve(&c, n * 4);
    int32_t *sh = carve(&c, n * 4);
    es__requant rq;
    requant_carve(&c, &rq, n);
    if (pass == 0) {
      if (!(c.base = aligned_alloc(64, c.used)))
        return es__op_error(err, op, ES_ENOMEM, "out of memory packing the filter");
      continue;
    }
    memset(c.base, 0, c.used);
    g->oc = oc;
    g->k = k;
    g->k4 = k4;
    g->ocb = ocb;
    g->input_offset = input_offset;
    g->w = w;
    g->cterm = cterm;
    g->shift = sh;
    g->rq = rq;
    g->rq.output_offset = output_offset;
    g->rq.act_min = act_min;
    g->rq.act_max = act_max;
    for (int ch = 0; ch < ocb * 16; ch++) {
      uint32_t wsum = 0;
      if (ch < oc) {
        for (int d = 0; d < k; d++) {
          const int8_t v = filter[(size_t)ch * (size_t)k + (size_t)d];
          w[((size_t)(ch / 16) * (size_t)(k4 / 4) + (size_t)(d / 4)) * 64 + (size_t)(ch % 16) * 4 +
            (size_t)(d % 4)] = v;
          wsum += (uint32_t)(int32_t)v;
        }
      }
      const uint32_t b = bias && ch < oc ? (uint32_t)es__ld_i32(bias, (size_t)ch) : 0;
      cterm[ch] = b + (uint32_t)(input_offset - 128) * wsum;
      sh[ch] = ch < oc ? shift[n_mult > 1 ? ch : 0] : 0;
      requant_set(&g->rq, ch, ch < oc ? multiplier[n_mult > 1 ? ch : 0] : 0, sh[ch]);
    }
    free(op->fast);
    op->fast = g;
  }
  const size_t need = up64(rows_per_call * (size_t)k4) + 64;
  op->fast_scratch_bytes = need > op->fast_scratch_bytes ? need : op->fast_scratch_bytes;
  return ES_OK;
}

static void addsub_eval_table(const es__run *r, const es__op *op)
{
  const uint8_t *a = es__in_data(r, op, 0), *b = es__in_data(r, op, 1);
  const int8_t *table = op->fast;
  int8_t *out = es__out_data(r, op, 0);
  const size_t n = es__out(r->m, op, 0)->count;
  for (size_t i = 0; i < n; i++)
    out[i] = table[(size_t)a[i] << 8 | b[i]];
}

static const es__fast_variants addsub_variants = {{
    [ES__ISA_PORTABLE] = addsub_eval_table, /* every wider ISA falls back to it */
}};

int es__addsub_fast_prepare(es_model *m, es__op *op, es_error *err)
{
  if (!es__addsub_elementwise(op) || es__out(m, op, 0)->count < 1024)
    return ES_OK; /* the reference eval */
  int8_t *table = malloc(65536);
  if (!table)
    return es__op_error(err, op, ES_ENOMEM, "out of memory");
  for (int x = 0; x < 256; x++)
    for (int y = 0; y < 256; y++)
      table[x << 8 | y] = es__addsub_value(op, (int8_t)x, (int8_t)y);
  op->fast = table;
  op->fast_variants = &addsub_variants;
  return ES_OK;
}

int es__conv_fast_prepare(es_model *m, es__op *op, es_error *err)
{
  const es__conv_params *p = op->data;
  const es__tensor *f = es__in(m, op, 1), *b = es__in(m, op, 2), *out = es__out(m, op, 0);
  if (p->groups != 1 || out->count == 0)
    return ES_OK; /* the reference eval */
  const int out_c = out->shape[3];
  const int64_t k = (int64_t)f->shape[1] * f->shape[2] * f->shape[3]; /* < 2^31: f->count */
  int rc = gemm_pack(op, (const int8_t *)f->const_data, b ? b->const_data : NULL, out_c, (int)k,
                     p->input_offset, p->output_offset, p->act_min, p->act_max, p->multiplier,
                     p->shift, out_c, (size_t)out->shape[2], err);
  if (rc)
    return rc;
  /* 1x1, stride 1 (so no padding), whole 4-byte groups: the GEMM reads the input pixels */
  es__gemm_fast *g = op->fast;
  g->direct = f->shape[1] == 1 && f->shape[2] == 1 && p->geo.stride_w == 1 &&
              p->geo.stride_h == 1 && k % 4 == 0;
  op->fast_variants = &conv_variants;
  return ES_OK;
}

int es__fc_fast_prepare(es_model *m, es__op *op, es_error *err)
{
  const es__fc_params *p = op->data;
  const es__tensor *f = es__in(m, op, 1), *b = es__in(m, op, 2);
  if (p->filter_offset != 0)
    return ES_OK; /* the reference eval */
  int rc = gemm_pack(op, (const int8_t *)f->const_data, b ? b->const_data : NULL, p->out_depth,
                     p->accum_depth, p->input_offset, p->output_offset, p->act_min, p->act_max,
                     p->per_channel ? p->multiplier : &p->multiplier0,
                     p->per_channel ? p->shift : &p->shift0, p->per_channel ? p->out_depth : 1,
                     16, err);
  if (rc)
    return rc;
  op->fast_variants = &fc_variants;
  return ES_OK;
}

/* Depthwise rows larger than this leave the operator on the reference eval (absurd
 * dilations). */
#define DW_MAX_SCRATCH ((size_t)64 << 20)

int es__dwconv_fast_prepare(es_model *m, es__op *op, es_error *err)
{
  const es__conv_params *p = op->data;
  const es__tensor *in = es__in(m, op, 0), *f = es__in(m, op, 1), *b = es__in(m, op, 2);
  const es__tensor *out = es__out(m, op, 0);
  if (out->count == 0)
    return ES_OK; /* the reference eval */
  const int in_d = in->shape[3], out_d = out->shape[3], f_h = f->shape[1], f_w = f->shape[2];
  const int out_w = out->shape[2], dm = p->depth_multiplier;
  if (in_d == 1) {
    /* a convolution with dm filters of depth 1 (filter [1][kh][kw][dm]): CONV_2D's GEMM
     * variants, whose driver reads the same es__conv_params, run it */
    const size_t taps = (size_t)f_h * (size_t)f_w;
    int8_t *t = malloc(taps * (size_t)out_d);
    if (!t)
      return es__op_error(err, op, ES_ENOMEM, "out of memory packing the filter");
    for (size_t k = 0; k < taps; k++)
      for (int oc = 0; oc < out_d; oc++)
        t[(size_t)oc * taps + k] = ((const int8_t *)f->const_data)[k * (size_t)out_d + (size_t)oc];
    const int rc = gemm_pack(op, t, b ? b->const_data : NULL, out_d, (int)taps, p->input_offset,
                             p->output_offset, p->act_min, p->act_max, p->multiplier, p->shift,
                             out_d, (size_t)out_w, err);
    free(t);
    if (rc)
      return rc;
    op->fast_variants = &conv_variants; /* direct = 0: patches gathered */
    return ES_OK;
  }
  const int cb = (out_d + 15) / 16, pairs = (f_w + 1) / 2;
  /* the widest column a window reads, plus the pair partner */
  const int64_t wp =
      (int64_t)(out_w - 1) * p->geo.stride_w + (int64_t)(f_w - 1) * p->geo.dilation_w + 1;
  const uint64_t row_bytes = (uint64_t)wp * (uint64_t)cb * 64;
  const uint64_t scratch = row_bytes * (uint64_t)(f_h + 1) + (uint64_t)f_h * 16 + 64;
  if (wp <= 0 || wp > INT32_MAX / 2 || scratch > DW_MAX_SCRATCH)
    return ES_OK; /* the reference eval */
  const size_t n = (size_t)cb * 16;
  carver c = {NULL, 0};
  for (int pass = 0; pass < 2; pass++) {
    c.used = 0;
    es__dw_fast *d = carve(&c, sizeof *d);
    int16_t *w2 = carve(&c, (size_t)f_h * (size_t)pairs * n * 2 * 2);
    int32_t *bias = carve(&c, n * 4);
    int32_t *gbase = carve(&c, (size_t)cb * 4);
    uint8_t *gidx = carve(&c, n);
    uint16_t *gmask = carve(&c, (size_t)cb * 2);
    es__requant rq;
    requant_carve(&c, &rq, n);
    if (pass == 0) {
      if (!(c.base = aligned_alloc(64, c.used)))
        return es__op_error(err, op, ES_ENOMEM, "out of memory packing the filter");
      continue;
    }
    memset(c.base, 0, c.used);
    d->in_d = in_d;
    d->out_d = out_d;
    d->dm = dm;
    d->cb = cb;
    d->f_h = f_h;
    d->f_w = f_w;
    d->pairs = pairs;
    d->wp = (int)wp;
    /* pairs start at ox * stride_w + 2 * pr * dilation_w: multiples of their gcd */
    int g = p->geo.stride_w, h = 2 * p->geo.dilation_w;
    while (h) {
      const int t = g % h;
      g = h;
      h = t;
    }
    d->px_step = g;
    d->eff_h = f_h;
    d->input_offset = p->input_offset;
    d->w2 = w2;
    d->bias = bias;
    d->gbase = gbase;
    d->gidx = gidx;
    d->gmask = gmask;
    d->rq = rq;
    d->rq.output_offset = p->output_offset;
    d->rq.act_min = p->act_min;
    d->rq.act_max = p->act_max;
    d->row_bytes = (size_t)row_bytes;
    const int8_t *filter = (const int8_t *)f->const_data;
    for (int fy = 0; fy < f_h; fy++)
      for (int fx = 0; fx < f_w; fx++)
        for (int oc = 0; oc < out_d; oc++)
          w2[(((size_t)fy * (size_t)pairs + (size_t)(fx / 2)) * n + (size_t)oc) * 2 +
             (size_t)(fx % 2)] = filter[((size_t)fy * (size_t)f_w + (size_t)fx) * (size_t)out_d +
                                        (size_t)oc];
    for (int oc = 0; oc < (int)n; oc++) {
      bias[oc] = b && oc < out_d ? es__ld_i32(b->const_data, (size_t)oc) : 0;
      requant_set(&d->rq, oc, oc < out_d ? p->multiplier[oc] : 0, oc < out_d ? p->shift[oc] : 0);
    }
    for (int blk = 0; blk < cb; blk++) {
      const int first = blk * 16, last = (blk * 16 + 15 < out_d ? blk * 16 + 15 : out_d - 1);
      gbase[blk] = first / dm;
      const int span = last / dm - first / dm + 1; /* <= 16 input channels */
      gmask[blk] = (uint16_t)((1u << span) - 1);
      for (int j = 0; j < 16; j++)
        gidx[blk * 16 + j] = (uint8_t)(first + j <= last ? (first + j) / dm - first / dm : 0);
    }
    free(op->fast);
    op->fast = d;
  }
  op->fast_scratch_bytes =
      (size_t)scratch > op->fast_scratch_bytes ? (size_t)scratch : op->fast_scratch_bytes;
  op->fast_variants = &dwconv_variants;
  return ES_OK;
}

/* ---- drivers ----------------------------------------------------------------------------- */

/* The 0 .. 3 bytes that round a patch up to whole dwords (a loop here becomes a memset call). */
static inline void zero_tail(int8_t *p, int n)
{
  if (n > 0)
    p[0] = 0;
  if (n > 1)
    p[1] = 0;
  if (n > 2)
    p[2] = 0;
}

/* n (1 .. 16) bytes with fixed-size moves: two overlapping words of 8 or 4 bytes, or bytes (a
 * memcpy of a variable size would be a call per patch row). */
static inline void copy_short(int8_t *dst, const int8_t *src, int n)
{
  if (n >= 8) {
    memcpy(dst, src, 8);
    memcpy(dst + n - 8, src + n - 8, 8);
  } else if (n >= 4) {
    memcpy(dst, src, 4);
    memcpy(dst + n - 4, src + n - 4, 4);
  } else {
    for (int i = 0; i < n; i++)
      dst[i] = src[i];
  }
}

/* Threads to split an operator's n rows among: at most r->threads, at least min_rows rows each,
 * and only when each thread gets work worth a fork and a join (about 10 us: op->macs / T of at
 * least min_macs, set per kernel from its speed). */
static int split_threads(const es__run *r, const es__op *op, long n, long min_rows,
                         uint64_t min_macs)
{
  long t = r->threads;
  if (t > n / min_rows)
    t = n / min_rows;
  if ((uint64_t)t > op->macs / min_macs)
    t = (long)(op->macs / min_macs);
  return t > 1 ? (int)t : 1;
}

/* One output row of a gathered CONV_2D: its patches into `patch`, then the GEMM. */
static void conv_patch_row(const es__gemm_fast *g, const es__conv_params *p, const int8_t *in_b,
                           int in_h, int in_w, int in_d, int f_h, int f_w, int out_w, int oy,
                           int8_t *patch, int8_t *out_row, size_t out_d, es__gemm_fn fn)
{
  /* locals: the byte stores below could alias anything read through a pointer */
  const int8_t pad = (int8_t)(-g->input_offset); /* the input zero point */
  const int sh = p->geo.stride_h, sw = p->geo.stride_w, dh = p->geo.dilation_h,
            dw = p->geo.dilation_w, ph = p->geo.pad_h, pw = p->geo.pad_w, k = g->k, k4 = g->k4;
  const bool narrow = in_d == 1 && f_w <= 4 && dw == 1 && (f_h - 1) * f_w + 4 <= k4;
  const int row_bytes = f_w * in_d;
  const int iy0 = oy * sh - ph;
  for (int ox = 0; ox < out_w; ++ox) {
    const int ix0 = ox * sw - pw;
    int8_t *dst = patch + (size_t)ox * (size_t)k4;
    if (narrow && ix0 >= 0 && ix0 + 4 <= in_w) {
      /* one input channel, up to 4 taps a row: one 4-byte word per filter row; the byte past
       * the row lands where the next row (or the zeroed tail) overwrites it */
      for (int fy = 0; fy < f_h; ++fy) {
        const int iy = iy0 + dh * fy;
        uint32_t v = 0x01010101u * (uint8_t)pad;
        if (iy >= 0 && iy < in_h)
          memcpy(&v, in_b + (size_t)iy * in_w + ix0, 4);
        memcpy(dst + fy * f_w, &v, 4);
      }
      zero_tail(dst + k, k4 - k);
      continue;
    }
    if (dw == 1 && ix0 >= 0 && ix0 + f_w <= in_w && row_bytes <= 16) {
      /* a patch row is f_w whole pixels of the input row: one short copy */
      for (int fy = 0; fy < f_h; ++fy, dst += row_bytes) {
        const int iy = iy0 + dh * fy;
        if (iy >= 0 && iy < in_h)
          copy_short(dst, in_b + ((size_t)iy * in_w + (size_t)ix0) * in_d, row_bytes);
        else
          memset(dst, pad, (size_t)row_bytes);
      }
      zero_tail(dst, k4 - k);
      continue;
    }
    for (int fy = 0; fy < f_h; ++fy) {
      const int iy = iy0 + dh * fy;
      const bool row_in = iy >= 0 && iy < in_h;
      const int8_t *src = in_b + (size_t)(row_in ? iy : 0) * in_w * in_d;
      for (int fx = 0; fx < f_w; ++fx, dst += in_d) {
        const int ix = ix0 + dw * fx;
        const bool in = row_in && ix >= 0 && ix < in_w;
        if (in_d == 1)
          *dst = in ? src[ix] : pad;
        else if (in)
          memcpy(dst, src + (size_t)ix * in_d, (size_t)in_d);
        else
          memset(dst, pad, (size_t)in_d);
      }
    }
    zero_tail(dst, k4 - k);
  }
  fn(g, patch, (size_t)k4, out_w, out_row, out_d);
}

/* CONV_2D: 1x1 stride-1 convolutions whose depth is a multiple of 4 read the input pixels as
 * GEMM rows; others gather one output row of patches at a time. With r->threads > 1 the rows
 * (GEMM rows, or output rows with a patch buffer of their own) are split among threads; each
 * output byte is computed the same way whoever computes it. */
void es__conv_fast(const es__run *r, const es__op *op, es__gemm_fn fn)
{
  const es__gemm_fast *g = op->fast;
  const es_model *m = r->m;
  const es__conv_params *p = op->data;
  const es__tensor *in_t = es__in(m, op, 0), *f_t = es__in(m, op, 1), *out_t = es__out(m, op, 0);
  const int8_t *input = es__in_data(r, op, 0);
  int8_t *output = es__out_data(r, op, 0);
  const int batches = in_t->shape[0], in_h = in_t->shape[1], in_w = in_t->shape[2],
            in_d = in_t->shape[3];
  const int f_h = f_t->shape[1], f_w = f_t->shape[2];
  const int out_h = out_t->shape[1], out_w = out_t->shape[2], out_d = out_t->shape[3];
  if (g->direct) {
    const long rows = (long)batches * out_h * out_w;
    const int T = split_threads(r, op, rows, 96, 1000000);
    if (T == 1) { /* no parallel construct at all: one costs even with one thread */
      fn(g, input, (size_t)g->k, (int)rows, output, (size_t)out_d);
      return;
    }
#pragma omp parallel for num_threads(T) schedule(static, 1)
    for (int t = 0; t < T; t++) {
      /* whole 12-row tiles to each thread but the last */
      const long r0 = rows * t / T / 12 * 12, r1 = t + 1 == T ? rows : rows * (t + 1) / T / 12 * 12;
      if (r1 > r0)
        fn(g, input + (size_t)r0 * (size_t)g->k, (size_t)g->k, (int)(r1 - r0),
           output + (size_t)r0 * (size_t)out_d, (size_t)out_d);
    }
    return;
  }
  const long n_rows = (long)batches * out_h;
  const int T = split_threads(r, op, n_rows, 2, 1000000);
  if (T == 1) {
    for (long row = 0; row < n_rows; row++)
      conv_patch_row(g, p, input + (size_t)(row / out_h) * in_h * in_w * in_d, in_h, in_w, in_d,
                     f_h, f_w, out_w, (int)(row % out_h), (int8_t *)r->scratch,
                     output + (size_t)row * out_w * out_d, (size_t)out_d, fn);
    return;
  }
#pragma omp parallel for num_threads(T) schedule(static, 1)
  for (int t = 0; t < T; t++) {
    int8_t *patch = (int8_t *)r->scratch + (size_t)t * r->scratch_stride;
    for (long row = n_rows * t / T; row < n_rows * (t + 1) / T; row++)
      conv_patch_row(g, p, input + (size_t)(row / out_h) * in_h * in_w * in_d, in_h, in_w, in_d,
                     f_h, f_w, out_w, (int)(row % out_h), patch,
                     output + (size_t)row * out_w * out_d, (size_t)out_d, fn);
  }
}

enum { FC_ROWS = 16 };

void es__fc_fast(const es__run *r, const es__op *op, es__gemm_fn fn)
{
  const es__gemm_fast *g = op->fast;
  const int8_t *input = es__in_data(r, op, 0);
  int8_t *output = es__out_data(r, op, 0);
  const size_t rows = es__out(r->m, op, 0)->count / (size_t)g->oc;
  if (g->k == g->k4) {
    fn(g, input, (size_t)g->k, (int)rows, output, (size_t)g->oc);
    return;
  }
  int8_t *patch = (int8_t *)r->scratch;
  for (size_t r0 = 0; r0 < rows; r0 += FC_ROWS) {
    const int n = rows - r0 < FC_ROWS ? (int)(rows - r0) : FC_ROWS;
    for (int i = 0; i < n; i++) {
      int8_t *dst = patch + (size_t)i * (size_t)g->k4;
      memcpy(dst, input + (r0 + (size_t)i) * (size_t)g->k, (size_t)g->k);
      memset(dst + g->k, 0, (size_t)(g->k4 - g->k));
    }
    fn(g, patch, (size_t)g->k4, n, output + r0 * (size_t)g->oc, (size_t)g->oc);
  }
}

/* Output rows r0 .. r1 - 1 (over batches) of a depthwise convolution, with the scratch `mine`:
 * a zero row, f_h ring rows of expanded input, f_h row pointers, f_h ring tags. */
static void dw_rows(const es__dw_fast *d, const es__conv_params *p, const int8_t *input,
                    int8_t *output, int in_h, int in_w, int in_d, int out_h, int out_w, int out_d,
                    long r0, long r1, uint8_t *mine, es__dw_build_fn build_fn,
                    es__dw_row_fn row_fn)
{
  const int f_h = d->f_h, dh = p->geo.dilation_h;
  int16_t *zero = (int16_t *)mine;
  uint8_t *ring = mine + d->row_bytes;
  const int16_t **rows = (const int16_t **)(void *)(ring + d->row_bytes * (size_t)f_h);
  int *tag = (int *)(void *)(rows + f_h);
  memset(zero, 0, d->row_bytes);
  for (long row = r0; row < r1; row++) {
    const int batch = (int)(row / out_h), oy = (int)(row % out_h);
    if (row == r0 || oy == 0)
      for (int i = 0; i < f_h; i++)
        tag[i] = INT_MIN;
    const int8_t *in_b = input + (size_t)batch * in_h * in_w * in_d;
    const int iy0 = oy * p->geo.stride_h - p->geo.pad_h;
    for (int fy = 0; fy < f_h; ++fy) {
      const int iy = iy0 + dh * fy;
      if (iy < 0 || iy >= in_h) {
        rows[fy] = zero;
        continue;
      }
      /* with dilation 1 a window's rows are consecutive, so iy % f_h never collides */
      const int slot = dh == 1 ? iy % f_h : fy;
      int16_t *rp = (int16_t *)(void *)(ring + d->row_bytes * (size_t)slot);
      if (dh != 1 || tag[slot] != iy) {
        build_fn(d, in_b + (size_t)iy * in_w * in_d, in_w, p->geo.pad_w, p->geo.dilation_w, rp);
        tag[slot] = iy;
      }
      rows[fy] = rp;
    }
    row_fn(d, rows, out_w, p->geo.stride_w, p->geo.dilation_w,
           output + ((size_t)batch * out_h + oy) * out_w * out_d);
  }
}

void es__dw_fast_run(const es__run *r, const es__op *op, es__dw_build_fn build_fn,
                     es__dw_row_fn row_fn)
{
  const es__dw_fast *d = op->fast;
  const es_model *m = r->m;
  const es__conv_params *p = op->data;
  const es__tensor *in_t = es__in(m, op, 0), *out_t = es__out(m, op, 0);
  const int8_t *input = es__in_data(r, op, 0);
  int8_t *output = es__out_data(r, op, 0);
  const int batches = in_t->shape[0], in_h = in_t->shape[1], in_w = in_t->shape[2],
            in_d = in_t->shape[3];
  const int out_h = out_t->shape[1], out_w = out_t->shape[2], out_d = out_t->shape[3];
  /* with several threads, each takes a run of output rows and rebuilds its own ring */
  const long n_rows = (long)batches * out_h;
  const int T = split_threads(r, op, n_rows, 4, 250000);
  if (T == 1) {
    dw_rows(d, p, input, output, in_h, in_w, in_d, out_h, out_w, out_d, 0, n_rows, r->scratch,
            build_fn, row_fn);
    return;
  }
#pragma omp parallel for num_threads(T) schedule(static, 1)
  for (int t = 0; t < T; t++)
    dw_rows(d, p, input, output, in_h, in_w, in_d, out_h, out_w, out_d, n_rows * t / T,
            n_rows * (t + 1) / T, r->scratch + (size_t)t * r->scratch_stride, build_fn, row_fn);
}

/* ---- portable kernels -------------------------------------------------------------------- */


/* MultiplyByQuantizedMultiplier, as nn/quant.c, in a form compilers vectorize. The multiplier
 * is never INT32_MIN (QuantizeMultiplier gives 0 .. 2^31 - 1), so the doubling high multiply
 * cannot saturate, and its round-to-nearest with TFLM's nudge and truncating division equals
 * (a * m + 2^30) >> 31 (floor) for both signs of a * m. */
static inline int32_t mbqm(int32_t x, int32_t m, int32_t lsh, int32_t rsh, int32_t rmask,
                           int32_t rhalf)
{
  const int32_t a = (int32_t)((uint32_t)x << lsh);
  const int32_t hi = (int32_t)(((int64_t)a * (int64_t)m + (INT64_C(1) << 30)) >> 31);
  const int32_t remainder = hi & rmask, threshold = rhalf + (hi < 0 ? 1 : 0);
  return (hi >> rsh) + (remainder > threshold ? 1 : 0);
}

static inline int8_t requant1(const es__requant *rq, int c, uint32_t acc)
{
  /* + output_offset wraps as TFLM's int32 does (and vpaddd in fast_x86.c) */
  int32_t v = (int32_t)((uint32_t)mbqm((int32_t)acc, rq->mult[c], rq->lsh[c], rq->rsh[c],
                                       rq->rmask[c], rq->rhalf[c]) +
                        (uint32_t)rq->output_offset);
  v = v < rq->act_min ? rq->act_min : v;
  v = v > rq->act_max ? rq->act_max : v;
  return (int8_t)v;
}

static void gemm_portable(const es__gemm_fast *g, const int8_t *x, size_t xs, int n, int8_t *out,
                          size_t os)
{
  for (int b = 0; b < g->ocb; b++) {
    const int8_t *wb = g->w + (size_t)b * (size_t)g->k4 * 16;
    const int nc = g->oc - b * 16 < 16 ? g->oc - b * 16 : 16;
    for (int p = 0; p < n; p++) {
      uint32_t acc[16] = {0};
      const int8_t *xp = x + (size_t)p * xs;
      for (int k = 0; k < g->k4; k += 4) {
        const int8_t *wk = wb + (size_t)k * 16;
        const int32_t x0 = (uint8_t)xp[k] ^ 0x80, x1 = (uint8_t)xp[k + 1] ^ 0x80,
                      x2 = (uint8_t)xp[k + 2] ^ 0x80, x3 = (uint8_t)xp[k + 3] ^ 0x80;
        for (int j = 0; j < 16; j++)
          acc[j] += (uint32_t)(wk[4 * j] * x0 + wk[4 * j + 1] * x1 + wk[4 * j + 2] * x2 +
                               wk[4 * j + 3] * x3);
      }
      int8_t tmp[16];
      for (int j = 0; j < 16; j++)
        tmp[j] = requant1(&g->rq, b * 16 + j, acc[j] + g->cterm[b * 16 + j]);
      memcpy(out + (size_t)p * os + (size_t)b * 16, tmp, (size_t)nc);
    }
  }
}

static void dw_build_portable(const es__dw_fast *d, const int8_t *in_row, int in_w, int pad_w,
                              int dil_w, int16_t *dst)
{
  const int in_d = d->in_d;
  for (int px = 0; px < d->wp; px += d->px_step) {
    const int ix = px - pad_w, ix2 = ix + dil_w;
    const int8_t *a = ix >= 0 && ix < in_w ? in_row + (size_t)ix * in_d : NULL;
    const int8_t *b = ix2 >= 0 && ix2 < in_w ? in_row + (size_t)ix2 * in_d : NULL;
    for (int blk = 0; blk < d->cb; blk++) {
      int16_t *o = dst + ((size_t)px * d->cb + blk) * 32;
      const int base = d->gbase[blk];
      for (int j = 0; j < 16; j++) {
        const int ic = base + d->gidx[blk * 16 + j];
        const int ok = ic < in_d;
        o[2 * j] = (int16_t)(a && ok ? a[ic] + d->input_offset : 0);
        o[2 * j + 1] = (int16_t)(b && ok ? b[ic] + d->input_offset : 0);
      }
    }
  }
}

static void dw_row_portable(const es__dw_fast *d, const int16_t *const *rows, int out_w,
                            int stride_w, int dil_w, int8_t *out)
{
  const size_t n = (size_t)d->cb * 16;
  for (int ox = 0; ox < out_w; ox++) {
    for (int blk = 0; blk < d->cb; blk++) {
      uint32_t acc[16];
      for (int j = 0; j < 16; j++)
        acc[j] = (uint32_t)d->bias[blk * 16 + j];
      for (int fy = 0; fy < d->f_h; fy++)
        for (int pr = 0; pr < d->pairs; pr++) {
          const int16_t *x =
              rows[fy] + ((size_t)(ox * stride_w + 2 * pr * dil_w) * d->cb + blk) * 32;
          const int16_t *w = d->w2 + (((size_t)fy * d->pairs + pr) * n + (size_t)blk * 16) * 2;
          for (int j = 0; j < 16; j++)
            acc[j] += (uint32_t)(x[2 * j] * w[2 * j] + x[2 * j + 1] * w[2 * j + 1]);
        }
      const int nc = d->out_d - blk * 16 < 16 ? d->out_d - blk * 16 : 16;
      for (int j = 0; j < nc; j++)
        out[(size_t)ox * d->out_d + blk * 16 + j] = requant1(&d->rq, blk * 16 + j, acc[j]);
    }
  }
}

void es__conv_eval_portable(const es__run *r, const es__op *op)
{
  es__conv_fast(r, op, gemm_portable);
}

void es__fc_eval_portable(const es__run *r, const es__op *op)
{
  es__fc_fast(r, op, gemm_portable);
}

void es__dwconv_eval_portable(const es__run *r, const es__op *op)
{
  es__dw_fast_run(r, op, dw_build_portable, dw_row_portable);
}
