/* x86 fast kernels: the AVX-VNNI (256-bit) GEMM and the AVX512-VNNI GEMM and depthwise kernels,
 * with TFLM's requantization on 8 or 16 lanes. GCC target attributes keep the binary runnable on
 * CPUs without these instructions; nn/isa.c picks at run time. The packing and the proof that
 * the sums equal the reference's are in nn/kernels/fast.c and fast.h.
 *
 * Requantization, per lane: a = acc << lsh (wrapping, as TFLM's int32 multiply by 2^lsh);
 * SaturatingRoundingDoublingHighMul(a, m) = (a * m + 2^30) >> 31 in 64 bits (m is never
 * INT32_MIN, so it never saturates, and the floor of the nudged value equals TFLM's truncating
 * division for both signs), done on even and odd lanes with vpmuldq; then RoundingDivideByPOT
 * with its mask and threshold (+1 for negative values), the output offset and the clamp. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3")
#endif

#include <string.h>

#include "nn/kernels/fast.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define T2 __attribute__((target("avx2,fma")))
#define T256 __attribute__((target("avx2,fma,avxvnni")))
#define T512 __attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni")))
#define INLINE inline __attribute__((always_inline))

/* ---- AVX2 and AVX-VNNI ---------------------------------------------------------------------- */

T2 static INLINE __m256i rq8(__m256i acc, const es__requant *rq, int c)
{
  const __m256i m = _mm256_load_si256((const __m256i *)(rq->mult + c));
  const __m256i a = _mm256_sllv_epi32(acc, _mm256_load_si256((const __m256i *)(rq->lsh + c)));
  const __m256i r30 = _mm256_set1_epi64x(INT64_C(1) << 30);
  __m256i pe = _mm256_add_epi64(_mm256_mul_epi32(a, m), r30);
  __m256i po = _mm256_add_epi64(
      _mm256_mul_epi32(_mm256_srli_epi64(a, 32), _mm256_srli_epi64(m, 32)), r30);
  const __m256i h = _mm256_blend_epi32(_mm256_srli_epi64(pe, 31), _mm256_slli_epi64(po, 1), 0xAA);
  const __m256i rem = _mm256_and_si256(h, _mm256_load_si256((const __m256i *)(rq->rmask + c)));
  const __m256i thr = _mm256_sub_epi32(_mm256_load_si256((const __m256i *)(rq->rhalf + c)),
                                       _mm256_srai_epi32(h, 31));
  __m256i q = _mm256_srav_epi32(h, _mm256_load_si256((const __m256i *)(rq->rsh + c)));
  q = _mm256_sub_epi32(q, _mm256_cmpgt_epi32(rem, thr));
  q = _mm256_add_epi32(q, _mm256_set1_epi32(rq->output_offset));
  q = _mm256_max_epi32(q, _mm256_set1_epi32(rq->act_min));
  return _mm256_min_epi32(q, _mm256_set1_epi32(rq->act_max));
}

/* 16 requantized channels c .. c + 15 of two 8-lane sums, stored (n <= 16 of them). */
T2 static INLINE void store16_256(__m256i a0, __m256i a1, const es__requant *rq, int c, int n,
                                  int8_t *out)
{
  const __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(rq8(a0, rq, c), rq8(a1, rq, c + 8)),
                                             0xD8);
  const __m128i b = _mm_packs_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
  if (n >= 16) {
    _mm_storeu_si128((__m128i *)out, b);
  } else {
    int8_t tmp[16];
    _mm_storeu_si128((__m128i *)tmp, b);
    memcpy(out, tmp, (size_t)n);
  }
}

T256 static INLINE __m256i bcast256(const int8_t *p)
{
  uint32_t v;
  memcpy(&v, p, 4);
  return _mm256_set1_epi32((int32_t)(v ^ 0x80808080u));
}

T256 static void gemm_avxvnni(const es__gemm_fast *g, const int8_t *x, size_t xs, int n,
                              int8_t *out, size_t os)
{
  for (int b = 0; b < g->ocb; b++) {
    const int8_t *wb = g->w + (size_t)b * (size_t)g->k4 * 16;
    const int nc = g->oc - b * 16 < 16 ? g->oc - b * 16 : 16;
    const __m256i ct0 = _mm256_load_si256((const __m256i *)(g->cterm + b * 16));
    const __m256i ct1 = _mm256_load_si256((const __m256i *)(g->cterm + b * 16 + 8));
    int p = 0;
    for (; p + 4 <= n; p += 4) {
      __m256i a[4][2];
      for (int i = 0; i < 4; i++)
        a[i][0] = a[i][1] = _mm256_setzero_si256();
      const int8_t *xp = x + (size_t)p * xs;
      for (int k = 0; k < g->k4; k += 4) {
        const __m256i w0 = _mm256_load_si256((const __m256i *)(wb + (size_t)k * 16));
        const __m256i w1 = _mm256_load_si256((const __m256i *)(wb + (size_t)k * 16 + 32));
        for (int i = 0; i < 4; i++) {
          const __m256i xb = bcast256(xp + (size_t)i * xs + k);
          a[i][0] = _mm256_dpbusd_avx_epi32(a[i][0], xb, w0);
          a[i][1] = _mm256_dpbusd_avx_epi32(a[i][1], xb, w1);
        }
      }
      for (int i = 0; i < 4; i++)
        store16_256(_mm256_add_epi32(a[i][0], ct0), _mm256_add_epi32(a[i][1], ct1), &g->rq,
                    b * 16, nc, out + (size_t)(p + i) * os + (size_t)b * 16);
    }
    for (; p < n; p++) {
      __m256i a0 = _mm256_setzero_si256(), a1 = _mm256_setzero_si256();
      const int8_t *xp = x + (size_t)p * xs;
      for (int k = 0; k < g->k4; k += 4) {
        const __m256i xb = bcast256(xp + k);
        a0 = _mm256_dpbusd_avx_epi32(a0, xb,
                                     _mm256_load_si256((const __m256i *)(wb + (size_t)k * 16)));
        a1 = _mm256_dpbusd_avx_epi32(
            a1, xb, _mm256_load_si256((const __m256i *)(wb + (size_t)k * 16 + 32)));
      }
      store16_256(_mm256_add_epi32(a0, ct0), _mm256_add_epi32(a1, ct1), &g->rq, b * 16, nc,
                  out + (size_t)p * os + (size_t)b * 16);
    }
  }
}

void es__conv_eval_avxvnni(const es__run *r, const es__op *op)
{
  es__conv_fast(r, op, gemm_avxvnni);
}

void es__fc_eval_avxvnni(const es__run *r, const es__op *op)
{
  es__fc_fast(r, op, gemm_avxvnni);
}

/* AVX2 without VNNI: vpdpbusd emulated exactly with vpmaddwd on the even and odd bytes of each
 * dword (u8 values and sign-extended s8 weights as int16; every product and pair sum fits). */
T2 static void gemm_avx2(const es__gemm_fast *g, const int8_t *x, size_t xs, int n, int8_t *out,
                         size_t os)
{
  for (int b = 0; b < g->ocb; b++) {
    const int8_t *wb = g->w + (size_t)b * (size_t)g->k4 * 16;
    const int nc = g->oc - b * 16 < 16 ? g->oc - b * 16 : 16;
    const __m256i ct0 = _mm256_load_si256((const __m256i *)(g->cterm + b * 16));
    const __m256i ct1 = _mm256_load_si256((const __m256i *)(g->cterm + b * 16 + 8));
    for (int p = 0; p < n; p += 4) {
      const int rows = n - p < 4 ? n - p : 4;
      __m256i a[4][2];
      for (int i = 0; i < 4; i++)
        a[i][0] = a[i][1] = _mm256_setzero_si256();
      const int8_t *xp = x + (size_t)p * xs;
      for (int k = 0; k < g->k4; k += 4) {
        const __m256i w0 = _mm256_load_si256((const __m256i *)(wb + (size_t)k * 16));
        const __m256i w1 = _mm256_load_si256((const __m256i *)(wb + (size_t)k * 16 + 32));
        const __m256i we0 = _mm256_srai_epi16(_mm256_slli_epi16(w0, 8), 8);
        const __m256i wo0 = _mm256_srai_epi16(w0, 8);
        const __m256i we1 = _mm256_srai_epi16(_mm256_slli_epi16(w1, 8), 8);
        const __m256i wo1 = _mm256_srai_epi16(w1, 8);
        for (int i = 0; i < 4; i++) {
          if (i >= rows)
            break;
          uint32_t v;
          memcpy(&v, xp + (size_t)i * xs + k, 4);
          v ^= 0x80808080u;
          const __m256i ue = _mm256_set1_epi32((int32_t)(v & 0x00FF00FFu));
          const __m256i uo = _mm256_set1_epi32((int32_t)((v >> 8) & 0x00FF00FFu));
          a[i][0] = _mm256_add_epi32(a[i][0], _mm256_add_epi32(_mm256_madd_epi16(ue, we0),
                                                               _mm256_madd_epi16(uo, wo0)));
          a[i][1] = _mm256_add_epi32(a[i][1], _mm256_add_epi32(_mm256_madd_epi16(ue, we1),
                                                               _mm256_madd_epi16(uo, wo1)));
        }
      }
      for (int i = 0; i < rows; i++)
        store16_256(_mm256_add_epi32(a[i][0], ct0), _mm256_add_epi32(a[i][1], ct1), &g->rq,
                    b * 16, nc, out + (size_t)(p + i) * os + (size_t)b * 16);
    }
  }
}

void es__conv_eval_avx2(const es__run *r, const es__op *op)
{
  es__conv_fast(r, op, gemm_avx2);
}

void es__fc_eval_avx2(const es__run *r, const es__op *op)
{
  es__fc_fast(r, op, gemm_avx2);
}

/* Depthwise, 256-bit: the 16 input bytes feeding block blk's output channels at pixel ix (the
 * input zero point outside the row, so x + off = 0 there). */
T2 static INLINE __m128i dw_gather256(const es__dw_fast *d, const int8_t *in_row, int in_w,
                                      int ix, int blk)
{
  if (ix < 0 || ix >= in_w)
    return _mm_set1_epi8((char)(-d->input_offset));
  const int8_t *src = in_row + (size_t)ix * d->in_d + d->gbase[blk];
  __m128i v;
  if (d->gmask[blk] == 0xFFFF) {
    v = _mm_loadu_si128((const __m128i *)src);
  } else { /* the last block: never read past the row */
    int8_t tmp[16] = {0};
    memcpy(tmp, src, (size_t)__builtin_popcount(d->gmask[blk]));
    v = _mm_loadu_si128((const __m128i *)tmp);
  }
  if (d->dm == 1)
    return v;
  return _mm_shuffle_epi8(v, _mm_load_si128((const __m128i *)(d->gidx + blk * 16)));
}

T2 static void dw_build_avx2(const es__dw_fast *d, const int8_t *in_row, int in_w, int pad_w,
                             int dil_w, int16_t *dst)
{
  const __m256i off = _mm256_set1_epi16((short)d->input_offset);
  for (int px = 0; px < d->wp; px += d->px_step) {
    const int ix = px - pad_w;
    for (int blk = 0; blk < d->cb; blk++) {
      const __m128i a = dw_gather256(d, in_row, in_w, ix, blk);
      const __m128i b = dw_gather256(d, in_row, in_w, ix + dil_w, blk);
      int16_t *o = dst + ((size_t)px * d->cb + blk) * 32;
      _mm256_store_si256((__m256i *)o,
                         _mm256_add_epi16(_mm256_cvtepi8_epi16(_mm_unpacklo_epi8(a, b)), off));
      _mm256_store_si256((__m256i *)(o + 16),
                         _mm256_add_epi16(_mm256_cvtepi8_epi16(_mm_unpackhi_epi8(a, b)), off));
    }
  }
}

#define DOT_AVX2(acc, x, w) _mm256_add_epi32(acc, _mm256_madd_epi16(x, w))
#define DOT_AVXVNNI(acc, x, w) _mm256_dpwssd_avx_epi32(acc, x, w)

/* One output row; channels in blocks of 16 as two 8-lane halves. */
#define DW_ROW256(NAME, ATTR, DOT)                                                                \
  ATTR static void NAME(const es__dw_fast *d, const int16_t *const *rows, int out_w,             \
                        int stride_w, int dil_w, int8_t *out)                                    \
  {                                                                                               \
    const size_t n = (size_t)d->cb * 16;                                                          \
    for (int blk = 0; blk < d->cb; blk++) {                                                       \
      const __m256i b0 = _mm256_load_si256((const __m256i *)(d->bias + blk * 16));                \
      const __m256i b1 = _mm256_load_si256((const __m256i *)(d->bias + blk * 16 + 8));            \
      const int nc = d->out_d - blk * 16 < 16 ? d->out_d - blk * 16 : 16;                         \
      for (int ox = 0; ox < out_w; ox++) {                                                        \
        __m256i a0 = b0, a1 = b1;                                                                 \
        for (int fy = 0; fy < d->f_h; fy++)                                                       \
          for (int pr = 0; pr < d->pairs; pr++) {                                                 \
            const int16_t *x =                                                                    \
                rows[fy] + ((size_t)(ox * stride_w + 2 * pr * dil_w) * d->cb + blk) * 32;         \
            const int16_t *w = d->w2 + (((size_t)fy * d->pairs + pr) * n + (size_t)blk * 16) * 2; \
            a0 = DOT(a0, _mm256_load_si256((const __m256i *)x),                                   \
                     _mm256_load_si256((const __m256i *)w));                                      \
            a1 = DOT(a1, _mm256_load_si256((const __m256i *)(x + 16)),                            \
                     _mm256_load_si256((const __m256i *)(w + 16)));                               \
          }                                                                                       \
        store16_256(a0, a1, &d->rq, blk * 16, nc, out + (size_t)ox * d->out_d + (size_t)blk * 16); \
      }                                                                                           \
    }                                                                                             \
  }

DW_ROW256(dw_row_avx2, T2, DOT_AVX2)
DW_ROW256(dw_row_avxvnni, T256, DOT_AVXVNNI)

void es__dwconv_eval_avx2(const es__run *r, const es__op *op)
{
  es__dw_fast_run(r, op, dw_build_avx2, dw_row_avx2);
}

void es__dwconv_eval_avxvnni(const es__run *r, const es__op *op)
{
  es__dw_fast_run(r, op, dw_build_avx2, dw_row_avxvnni);
}

/* ---- AVX512-VNNI --------------------------------------------------------------------------- */

/* Requantization constants of 16 channels, in registers (loaded once per block: the int8 stores
 * in between could alias anything read through a pointer). */
typedef struct rqv {
  __m512i m, m_odd, lsh, rsh, rmask, rhalf, ooff, lo, hi;
} rqv;

T512 static INLINE rqv rqv_load(const es__requant *rq, int c)
{
  rqv v;
  v.m = _mm512_load_si512(rq->mult + c);
  v.m_odd = _mm512_srli_epi64(v.m, 32);
  v.lsh = _mm512_load_si512(rq->lsh + c);
  v.rsh = _mm512_load_si512(rq->rsh + c);
  v.rmask = _mm512_load_si512(rq->rmask + c);
  v.rhalf = _mm512_load_si512(rq->rhalf + c);
  v.ooff = _mm512_set1_epi32(rq->output_offset);
  v.lo = _mm512_set1_epi32(rq->act_min);
  v.hi = _mm512_set1_epi32(rq->act_max);
  return v;
}

/* The requantized int8 of 16 int32 sums. */
T512 static INLINE __m128i rq16v(__m512i acc, const rqv *v)
{
  const __m512i a = _mm512_sllv_epi32(acc, v->lsh);
  const __m512i r30 = _mm512_set1_epi64(INT64_C(1) << 30);
  const __m512i pe = _mm512_add_epi64(_mm512_mul_epi32(a, v->m), r30);
  const __m512i po = _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(a, 32), v->m_odd), r30);
  const __m512i h =
      _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(pe, 31), _mm512_slli_epi64(po, 1));
  const __m512i rem = _mm512_and_si512(h, v->rmask);
  const __m512i thr = _mm512_sub_epi32(v->rhalf, _mm512_srai_epi32(h, 31));
  __m512i q = _mm512_srav_epi32(h, v->rsh);
  q = _mm512_mask_add_epi32(q, _mm512_cmpgt_epi32_mask(rem, thr), q, _mm512_set1_epi32(1));
  q = _mm512_add_epi32(q, v->ooff);
  q = _mm512_min_epi32(_mm512_max_epi32(q, v->lo), v->hi);
  return _mm512_cvtepi32_epi8(q);
}

T512 static INLINE __m128i rq16(__m512i acc, const es__requant *rq, int c)
{
  const rqv v = rqv_load(rq, c);
  return rq16v(acc, &v);
}

T512 static INLINE void put16(int8_t *out, __m128i v, __mmask16 keep)
{
  if (keep == 0xFFFF)
    _mm_storeu_si128((__m128i *)out, v);
  else
    _mm_mask_storeu_epi8(out, keep, v);
}

T512 static INLINE __mmask16 tail_mask(int n)
{
  return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1);
}

/* An R-row by C-block (16 channels each) register tile over the whole depth. */
#define MK512(R, C)                                                                               \
  T512 static void mk512_##R##_##C(const es__gemm_fast *g, const int8_t *x, size_t xs, int b0,  \
                                   int8_t *out, size_t os)                                       \
  {                                                                                               \
    __m512i acc[R][C];                                                                            \
    _Pragma("GCC unroll 16") for (int i = 0; i < R; i++)                                          \
        _Pragma("GCC unroll 4") for (int j = 0; j < C; j++) acc[i][j] = _mm512_setzero_si512();   \
    const size_t bs = (size_t)g->k4 * 16;                                                         \
    const int8_t *wb = g->w + (size_t)b0 * bs;                                                    \
    for (int k = 0; k < g->k4; k += 4) {                                                          \
      __m512i w[C];                                                                               \
      _Pragma("GCC unroll 4") for (int j = 0; j < C; j++) w[j] =                                  \
          _mm512_load_si512(wb + (size_t)j * bs + (size_t)k * 16);                                \
      _Pragma("GCC unroll 16") for (int i = 0; i < R; i++)                                        \
      {                                                                                           \
        uint32_t v;                                                                               \
        memcpy(&v, x + (size_t)i * xs + k, 4);                                                    \
        const __m512i xb = _mm512_set1_epi32((int32_t)(v ^ 0x80808080u));                         \
        _Pragma("GCC unroll 4") for (int j = 0; j < C; j++) acc[i][j] =                           \
            _mm512_dpbusd_epi32(acc[i][j], xb, w[j]);                                             \
      }                                                                                           \
    }                                                                                             \
    _Pragma("GCC unroll 4") for (int j = 0; j < C; j++)                                           \
    {                                                                                             \
      const int c = (b0 + j) * 16;                                                                \
      const __m512i ct = _mm512_load_si512(g->cterm + c);                                         \
      const __mmask16 keep = tail_mask(g->oc - c);                                                \
      const rqv rv = rqv_load(&g->rq, c);                                                         \
      _Pragma("GCC unroll 16") for (int i = 0; i < R; i++)                                        \
          put16(out + (size_t)i * os + (size_t)c, rq16v(_mm512_add_epi32(acc[i][j], ct), &rv),    \
                keep);                                                                            \
    }                                                                                             \
  }

MK512(6, 4)
MK512(1, 4)
MK512(12, 2)
MK512(1, 2)
MK512(12, 1)
MK512(4, 1)
MK512(1, 1)

T512 static void gemm_avx512vnni(const es__gemm_fast *g, const int8_t *x, size_t xs, int n,
                                 int8_t *out, size_t os)
{
  int b = 0;
  for (; b + 4 <= g->ocb; b += 4) {
    int p = 0;
    for (; p + 6 <= n; p += 6)
      mk512_6_4(g, x + (size_t)p * xs, xs, b, out + (size_t)p * os, os);
    for (; p < n; p++)
      mk512_1_4(g, x + (size_t)p * xs, xs, b, out + (size_t)p * os, os);
  }
  for (; b + 2 <= g->ocb; b += 2) {
    int p = 0;
    for (; p + 12 <= n; p += 12)
      mk512_12_2(g, x + (size_t)p * xs, xs, b, out + (size_t)p * os, os);
    for (; p < n; p++)
      mk512_1_2(g, x + (size_t)p * xs, xs, b, out + (size_t)p * os, os);
  }
  for (; b < g->ocb; b++) {
    int p = 0;
    for (; p + 12 <= n; p += 12)
      mk512_12_1(g, x + (size_t)p * xs, xs, b, out + (size_t)p * os, os);
    for (; p + 4 <= n; p += 4)
      mk512_4_1(g, x + (size_t)p * xs, xs, b, out + (size_t)p * os, os);
    for (; p < n; p++)
      mk512_1_1(g, x + (size_t)p * xs, xs, b, out + (size_t)p * os, os);
  }
}

void es__conv_eval_avx512vnni(const es__run *r, const es__op *op)
{
  es__conv_fast(r, op, gemm_avx512vnni);
}

void es__fc_eval_avx512vnni(const es__run *r, const es__op *op)
{
  es__fc_fast(r, op, gemm_avx512vnni);
}

/* Depthwise: the 16 input bytes feeding output channels of block blk at pixel px (the input
 * zero point outside the row, so x + off = 0 there). */
T512 static INLINE __m128i dw_gather(const es__dw_fast *d, const int8_t *in_row, int in_w, int ix,
                                     int blk)
{
  if (ix < 0 || ix >= in_w)
    return _mm_set1_epi8((char)(-d->input_offset));
  const int8_t *src = in_row + (size_t)ix * d->in_d + d->gbase[blk];
  const __m128i v = _mm_maskz_loadu_epi8(d->gmask[blk], src);
  if (d->dm == 1)
    return v;
  return _mm_shuffle_epi8(v, _mm_load_si128((const __m128i *)(d->gidx + blk * 16)));
}

T512 static void dw_build_avx512(const es__dw_fast *d, const int8_t *in_row, int in_w, int pad_w,
                                 int dil_w, int16_t *dst)
{
  const __m512i off = _mm512_set1_epi16((short)d->input_offset);
  if (dil_w == 1 && d->px_step == 1) { /* px + 1's first value is px's second: one gather */
    for (int blk = 0; blk < d->cb; blk++) {
      __m128i a = dw_gather(d, in_row, in_w, -pad_w, blk);
      for (int px = 0; px < d->wp; px++) {
        const __m128i b = dw_gather(d, in_row, in_w, px - pad_w + 1, blk);
        const __m256i ab =
            _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_unpacklo_epi8(a, b)),
                                    _mm_unpackhi_epi8(a, b), 1);
        _mm512_store_si512(dst + ((size_t)px * d->cb + blk) * 32,
                           _mm512_add_epi16(_mm512_cvtepi8_epi16(ab), off));
        a = b;
      }
    }
    return;
  }
  for (int px = 0; px < d->wp; px += d->px_step) {
    const int ix = px - pad_w;
    for (int blk = 0; blk < d->cb; blk++) {
      const __m128i a = dw_gather(d, in_row, in_w, ix, blk);
      const __m128i b = dw_gather(d, in_row, in_w, ix + dil_w, blk);
      const __m256i ab =
          _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_unpacklo_epi8(a, b)),
                                  _mm_unpackhi_epi8(a, b), 1);
      _mm512_store_si512(dst + ((size_t)px * d->cb + blk) * 32,
                         _mm512_add_epi16(_mm512_cvtepi8_epi16(ab), off));
    }
  }
}

T512 static void dw_row_avx512(const es__dw_fast *d, const int16_t *const *rows, int out_w,
                               int stride_w, int dil_w, int8_t *out)
{
  const size_t n = (size_t)d->cb * 16, px_stride = (size_t)stride_w * d->cb * 32;
  for (int blk = 0; blk < d->cb; blk++) {
    const __m512i bias = _mm512_load_si512(d->bias + blk * 16);
    const __mmask16 keep = tail_mask(d->out_d - blk * 16);
    const rqv rv = rqv_load(&d->rq, blk * 16);
    int8_t *o = out + (size_t)blk * 16;
    if (d->f_h == 3 && d->pairs == 2) { /* 3x3: the filter stays in registers */
      __m512i w[3][2];
      const int16_t *x[3][2];
      for (int fy = 0; fy < 3; fy++)
        for (int pr = 0; pr < 2; pr++) {
          w[fy][pr] = _mm512_load_si512(d->w2 + (((size_t)fy * 2 + pr) * n + (size_t)blk * 16) * 2);
          x[fy][pr] = rows[fy] + ((size_t)(2 * pr * dil_w) * d->cb + blk) * 32;
        }
      for (int ox = 0; ox < out_w; ox++) {
        /* two chains of three: vpdpwssd's latency, not its throughput, would bound one chain */
        const size_t at = (size_t)ox * px_stride;
        __m512i a0 = _mm512_dpwssd_epi32(bias, _mm512_load_si512(x[0][0] + at), w[0][0]);
        __m512i a1 = _mm512_madd_epi16(_mm512_load_si512(x[0][1] + at), w[0][1]);
        a0 = _mm512_dpwssd_epi32(a0, _mm512_load_si512(x[1][0] + at), w[1][0]);
        a1 = _mm512_dpwssd_epi32(a1, _mm512_load_si512(x[1][1] + at), w[1][1]);
        a0 = _mm512_dpwssd_epi32(a0, _mm512_load_si512(x[2][0] + at), w[2][0]);
        a1 = _mm512_dpwssd_epi32(a1, _mm512_load_si512(x[2][1] + at), w[2][1]);
        put16(o + (size_t)ox * d->out_d, rq16v(_mm512_add_epi32(a0, a1), &rv), keep);
      }
      continue;
    }
    for (int ox = 0; ox < out_w; ox++) {
      __m512i acc = bias;
      for (int fy = 0; fy < d->f_h; fy++)
        for (int pr = 0; pr < d->pairs; pr++)
        {
          const int16_t *x =
              rows[fy] + ((size_t)(ox * stride_w + 2 * pr * dil_w) * d->cb + blk) * 32;
          const int16_t *w = d->w2 + (((size_t)fy * d->pairs + pr) * n + (size_t)blk * 16) * 2;
          acc = _mm512_dpwssd_epi32(acc, _mm512_load_si512(x), _mm512_load_si512(w));
        }
      put16(o + (size_t)ox * d->out_d, rq16v(acc, &rv), keep);
    }
  }
}

void es__dwconv_eval_avx512(const es__run *r, const es__op *op)
{
  es__dw_fast_run(r, op, dw_build_avx512, dw_row_avx512);
}

#endif
