/* Stage 2 of the near-duplicate relation (near_sig.h): the correlation of two 32x32 luma
 * signatures after a small alignment search, in integers, and the verified self-join.
 *
 * The search. The central 24x24 window of one signature (a) is compared with the other (b)
 * resampled under a warp: b's axes scaled by kx/16 and ky/16 (k = 15, 16, 17) about the centre
 * and shifted by tx, ty whole pixels (-2..2). A crop of up to ~5% per side, a shift of a few
 * percent or a rotation of a few degrees moves the content of a 32x32 picture by at most about
 * two pixels, which one of these warps undoes to well under a pixel. The warped samples are
 * bilinear with weights in 1/32 pixel (positions are exact multiples of 1/32 for these
 * scales), rounded to 1/32 luma steps: integers. The correlation is compared exactly:
 * num / sqrt(va * vb) >= t  <=>  num > 0 and num^2 * 10^6 >= t^2 * va * vb (t in thousandths),
 * in 128-bit integers (bounds below). Rather than all 225 warps, a greedy ascent starts at the
 * identity and moves to the best of its 8 axis neighbours while that improves, stopping as
 * soon as the threshold is reached; a pair is related when either direction (a's window in b,
 * b's window in a) reaches it. Bounds: a window has 576 samples, a <= 255, warped b <= 8160,
 * so |num| <= 576^2 * 255 * 8160 < 2^40, va < 2^35, vb < 2^45, and every product formed stays
 * below 2^127. */
#include "core/near_sig.h"

#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/cpu.h"
#include "core/near_index.h"
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>
#define SIG_AVX2 1 /* the AVX2 kernels below, used where es_cpu_has(ES_CPU_AVX2) */
#endif

#define MARGIN 4
#define WIN (ES_SIG_SIDE - 2 * MARGIN) /* 24 */
#define NWIN (WIN * WIN)

typedef __int128 i128;

unsigned es_near_threshold(const es_near_rel *rel, unsigned sa, unsigned sb)
{
  unsigned s = sa < sb ? sa : sb;
  if (s <= ES_NEAR_SMALL_SIDE)
    return rel->score_small;
  if (s >= ES_NEAR_LARGE_SIDE)
    return rel->score_large;
  /* linear in between, rounded towards the small-picture threshold */
  long span = ES_NEAR_LARGE_SIDE - ES_NEAR_SMALL_SIDE, at = (long)s - ES_NEAR_SMALL_SIDE;
  long d = (long)rel->score_large - (long)rel->score_small;
  long t = (long)rel->score_small + (d * at) / span;
  return (unsigned)t;
}

/* Loops over a window's rows are written to be vectorised: GCC does so only from -O3 (hence
 * optimize("tree-vectorize")), and on x86-64 the pair_*() functions below are also built for
 * AVX2 (target_clones, picked at load time). The helpers are always inlined into them, so each
 * clone vectorises them for its target. Everything is integer, so no build changes a result. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define SIG_CLONES __attribute__((target_clones("avx2", "default"), optimize("tree-vectorize")))
#elif defined(__GNUC__) && !defined(__clang__)
#define SIG_CLONES __attribute__((optimize("tree-vectorize")))
#else
#define SIG_CLONES
#endif
#define SIG_INLINE static inline __attribute__((always_inline))

/* Rows of a window are kept ROW = 32 values wide, the 24 of the window and 8 zeros, so that
 * loops over a row run 32 times: whole vectors, no remainder. */
#define ROW 32

/* The fixed side of a comparison: a's central window and its sums. */
typedef struct window {
  int16_t v[WIN][ROW]; /* columns WIN.. are 0 */
  int64_t sum, var;    /* var = n * sum(v^2) - sum(v)^2 */
} window;

static const uint8_t in_window[ROW] = {255, 255, 255, 255, 255, 255, 255, 255,
                                       255, 255, 255, 255, 255, 255, 255, 255,
                                       255, 255, 255, 255, 255, 255, 255, 255};

/* The sums of a signature's window: of v and of v^2 (each <= 576 * 255^2). */
typedef struct wsums {
  int32_t s, ss;
} wsums;

/* A row of a signature is read 32 wide from the window's first column (at most to byte
 * 29 * 32 + 37 of it, for a shift of 2), the 8 values beyond the window masked off. */
SIG_INLINE wsums sums_of(const es_near_sig *b)
{
  int32_t cs[ROW] = {0}, css[ROW] = {0}; /* per column, added up at the end */
  for (int y = 0; y < WIN; y++) {
    const uint8_t *r = b->px + (y + MARGIN) * ES_SIG_SIDE + MARGIN;
    for (int x = 0; x < ROW; x++) {
      int32_t v = r[x] & in_window[x];
      cs[x] += v;
      css[x] += v * v;
    }
  }
  wsums w = {0, 0};
  for (int x = 0; x < ROW; x++) {
    w.s += cs[x];
    w.ss += css[x];
  }
  return w;
}

SIG_INLINE void window_of(const es_near_sig *a, window *w)
{
  for (int y = 0; y < WIN; y++) {
    const uint8_t *r = a->px + (y + MARGIN) * ES_SIG_SIDE + MARGIN;
    for (int x = 0; x < ROW; x++)
      w->v[y][x] = (int16_t)(r[x] & in_window[x]);
  }
  wsums ws = sums_of(a);
  w->sum = ws.s;
  w->var = (int64_t)NWIN * ws.ss - (int64_t)ws.s * ws.s;
}

/* Sample taps along one axis for scale k/16 and shift t: position in 1/32 pixel of output
 * pixel MARGIN + i, as a source index (pixel centres at integers), clamped to the picture;
 * nx[i] is the next source index, clamped too. */
SIG_INLINE void taps(int k, int t, int at[WIN], int nx[WIN], int frac[WIN])
{
  for (int i = 0; i < WIN; i++) {
    int u = MARGIN + i;
    int p = 16 * 32 + k * (2 * u + 1 - ES_SIG_SIDE) + 32 * t - 16;
    if (p < 0)
      p = 0;
    if (p > (ES_SIG_SIDE - 1) * 32)
      p = (ES_SIG_SIDE - 1) * 32;
    at[i] = p >> 5;
    nx[i] = at[i] + 1 < ES_SIG_SIDE ? at[i] + 1 : at[i];
    frac[i] = p & 31;
  }
}

/* One warp's correlation terms against window w: num and vb (see the top of the file). */
typedef struct corr {
  i128 num;
  int64_t var;
} corr;

SIG_INLINE corr corr_of(const window *w, int64_t sb, int64_t sbb, int64_t sab)
{
  corr c;
  c.num = (i128)NWIN * sab - (i128)w->sum * sb;
  c.var = (int64_t)NWIN * sbb - sb * sb;
  return c;
}

/* The identity warp, b's window sums given: a dot product over one run of WIN * ROW bytes of
 * b (window row y, column x is b's byte (y + MARGIN) * 32 + MARGIN + x, rows 32 apart as in
 * the window), whose zero columns cancel the bytes beyond the window. */
SIG_INLINE corr correlate_identity(const window *w, const es_near_sig *b, wsums bs)
{
  const uint8_t *r = b->px + MARGIN * ES_SIG_SIDE + MARGIN;
  const int16_t *av = &w->v[0][0];
  int32_t sab = 0; /* <= 576 * 255^2 */
  for (int i = 0; i < WIN * ROW; i++)
    sab += (int32_t)av[i] * (int16_t)r[i];
  return corr_of(w, (int64_t)bs.s * 32, (int64_t)bs.ss * 1024, (int64_t)sab * 32);
}

/* A warp without scaling samples b at whole pixels, shifted by (tx, ty) (|t| <= 2 < MARGIN: no
 * clamping): each sample is 32 b exactly, as the interpolation below gives it. */
#ifdef SIG_AVX2
/* The sum of a vector's eight 32-bit lanes. */
__attribute__((target("avx2"))) static inline int64_t hsum8(__m256i v)
{
  int32_t l[8];
  _mm256_storeu_si256((__m256i *)l, v);
  int64_t t = 0;
  for (int k = 0; k < 8; k++)
    t += l[k];
  return t;
}

/* The sums of correlate_shift() with AVX2: a row's 32 bytes widened to two vectors of 16-bit
 * lanes (the 8 beyond the window zeroed), vpmaddwd pairing the products into 32-bit lanes
 * (each far below 2^31 over the 24 rows). */
__attribute__((target("avx2"))) static corr correlate_shift_avx2(const window *w,
                                                                const es_near_sig *b, int tx,
                                                                int ty)
{
  const __m256i one = _mm256_set1_epi16(1);
  const __m256i keep = _mm256_setr_epi16(-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0);
  __m256i s = _mm256_setzero_si256(), ss = s, sa = s;
  for (int y = 0; y < WIN; y++) {
    const uint8_t *r = b->px + (y + MARGIN + ty) * ES_SIG_SIDE + MARGIN + tx;
    const __m256i row = _mm256_loadu_si256((const __m256i *)r);
    const __m256i va = _mm256_cvtepu8_epi16(_mm256_castsi256_si128(row));
    const __m256i vb = _mm256_and_si256(_mm256_cvtepu8_epi16(_mm256_extracti128_si256(row, 1)),
                                        keep);
    const __m256i wa = _mm256_loadu_si256((const __m256i *)w->v[y]);
    const __m256i wb = _mm256_loadu_si256((const __m256i *)(w->v[y] + 16));
    s = _mm256_add_epi32(s, _mm256_add_epi32(_mm256_madd_epi16(va, one), _mm256_madd_epi16(vb, one)));
    ss = _mm256_add_epi32(ss, _mm256_add_epi32(_mm256_madd_epi16(va, va), _mm256_madd_epi16(vb, vb)));
    sa = _mm256_add_epi32(sa, _mm256_add_epi32(_mm256_madd_epi16(wa, va), _mm256_madd_epi16(wb, vb)));
  }
  return corr_of(w, hsum8(s) * 32, hsum8(ss) * 1024, hsum8(sa) * 32);
}
#endif

SIG_INLINE corr correlate_shift(const window *w, const es_near_sig *b, int tx, int ty)
{
#ifdef SIG_AVX2
  if (es_cpu_has(ES_CPU_AVX2))
    return correlate_shift_avx2(w, b, tx, ty);
#endif
  /* sums per column over the rows, added up at the end (each <= 24 * 255^2) */
  int32_t cs[ROW] = {0}, css[ROW] = {0}, cas[ROW] = {0};
  for (int y = 0; y < WIN; y++) {
    const uint8_t *r = b->px + (y + MARGIN + ty) * ES_SIG_SIDE + MARGIN + tx;
    for (int x = 0; x < ROW; x++) {
      int32_t v = r[x] & in_window[x];
      cs[x] += v;
      css[x] += v * v;
      cas[x] += w->v[y][x] * v;
    }
  }
  int32_t sb = 0, sbb = 0, sab = 0; /* each <= 576 * 255^2 */
  for (int x = 0; x < ROW; x++) {
    sb += cs[x];
    sbb += css[x];
    sab += cas[x];
  }
  return corr_of(w, (int64_t)sb * 32, (int64_t)sbb * 1024, (int64_t)sab * 32);
}

/* The bilinear sample is separable, and exact before its one rounding: each row of b is first
 * interpolated along x at the window's columns (in 1/32 steps, for one (kx, tx), kept for every
 * warp sharing them), then pairs of those rows along y (1/1024 steps), then rounded to 1/32
 * luma. */
typedef struct hrows {
  int16_t v[ES_SIG_SIDE][ROW]; /* <= 32 * 255; columns WIN.. are 0 */
} hrows;

/* Row y of b for reads up to 8 bytes beyond its end: in place (they fall in the next row), but
 * the last row, copied into `last` with zeros after it. */
SIG_INLINE const uint8_t *wide_row(const es_near_sig *b, int y, uint8_t last[ES_SIG_SIDE + 8])
{
  const uint8_t *r = b->px + y * ES_SIG_SIDE;
  if (y < ES_SIG_SIDE - 1)
    return r;
  memcpy(last, r, ES_SIG_SIDE);
  memset(last + ES_SIG_SIDE, 0, 8);
  return last;
}

#ifdef SIG_AVX2
/* hpass() with AVX2, for the regular case it describes: the three reads of a row as 32-byte
 * loads, the select as a byte blend, the weights in 16-bit lanes (products <= 32 * 255). */
__attribute__((target("avx2"))) static void hpass_avx2(const es_near_sig *b, int d,
                                                      const uint8_t up[ROW],
                                                      const int16_t w0[ROW],
                                                      const int16_t w1[ROW], hrows *h)
{
  const __m256i upm = _mm256_sub_epi8(_mm256_setzero_si256(),
                                      _mm256_loadu_si256((const __m256i *)up));
  const __m256i w0a = _mm256_loadu_si256((const __m256i *)w0);
  const __m256i w0b = _mm256_loadu_si256((const __m256i *)(w0 + 16));
  const __m256i w1a = _mm256_loadu_si256((const __m256i *)w1);
  const __m256i w1b = _mm256_loadu_si256((const __m256i *)(w1 + 16));
  for (int y = 0; y < ES_SIG_SIDE; y++) {
    uint8_t last[ES_SIG_SIDE + 8];
    const uint8_t *r = wide_row(b, y, last);
    const __m256i l0 = _mm256_loadu_si256((const __m256i *)(r + d));
    const __m256i l1 = _mm256_loadu_si256((const __m256i *)(r + d + 1));
    const __m256i l2 = _mm256_loadu_si256((const __m256i *)(r + d + 2));
    const __m256i a = _mm256_blendv_epi8(l0, l1, upm), n = _mm256_blendv_epi8(l1, l2, upm);
    const __m256i aa = _mm256_cvtepu8_epi16(_mm256_castsi256_si128(a));
    const __m256i ab = _mm256_cvtepu8_epi16(_mm256_extracti128_si256(a, 1));
    const __m256i na = _mm256_cvtepu8_epi16(_mm256_castsi256_si128(n));
    const __m256i nb = _mm256_cvtepu8_epi16(_mm256_extracti128_si256(n, 1));
    _mm256_storeu_si256((__m256i *)h->v[y], _mm256_add_epi16(_mm256_mullo_epi16(w0a, aa),
                                                             _mm256_mullo_epi16(w1a, na)));
    _mm256_storeu_si256((__m256i *)(h->v[y] + 16),
                        _mm256_add_epi16(_mm256_mullo_epi16(w0b, ab), _mm256_mullo_epi16(w1b, nb)));
  }
}
#endif

SIG_INLINE void hpass(const es_near_sig *b, int kx, int tx, hrows *h)
{
  int xa[WIN], xn[WIN], xf[WIN];
  taps(kx, tx, xa, xn, xf);
  /* Within the search's bounds no tap is clamped (xn = xa + 1) and xa[x] - x takes at most
   * two values, d and d + 1: each sample blends the row read at offsets d, d + 1 and d + 2,
   * which vectorises without gathers. (The one-step fallback keeps any other case exact.) */
  int d = xa[0];
  for (int x = 0; x < WIN; x++)
    d = xa[x] - x < d ? xa[x] - x : d;
  int16_t w0[ROW] = {0}, w1[ROW] = {0};
  uint8_t up[ROW] = {0};
  int regular = d >= 0 && d + 2 + ROW <= ES_SIG_SIDE + 8;
  for (int x = 0; x < WIN; x++) {
    w0[x] = (int16_t)(32 - xf[x]);
    w1[x] = (int16_t)xf[x];
    up[x] = (uint8_t)(xa[x] - x - d);
    regular &= up[x] <= 1 && xn[x] == xa[x] + 1;
  }
#ifdef SIG_AVX2
  if (regular && es_cpu_has(ES_CPU_AVX2)) {
    hpass_avx2(b, d, up, w0, w1, h);
    return;
  }
#endif
  for (int y = 0; y < ES_SIG_SIDE; y++) {
    const uint8_t *src = b->px + y * ES_SIG_SIDE;
    if (!regular) {
      for (int x = 0; x < WIN; x++)
        h->v[y][x] = (int16_t)((32 - xf[x]) * src[xa[x]] + xf[x] * src[xn[x]]);
      memset(h->v[y] + WIN, 0, (ROW - WIN) * sizeof h->v[y][0]);
      continue;
    }
    uint8_t last[ES_SIG_SIDE + 8];
    const uint8_t *r = wide_row(b, y, last);
    const uint8_t *r0 = r + d, *r1 = r + d + 1, *r2 = r + d + 2;
    for (int x = 0; x < ROW; x++) { /* up[x] is 0 or 1: a select without a branch */
      int16_t s0 = r0[x], s1 = r1[x], s2 = r2[x];
      int16_t a = (int16_t)(s0 + up[x] * (s1 - s0)), n = (int16_t)(s1 + up[x] * (s2 - s1));
      h->v[y][x] = (int16_t)(w0[x] * a + w1[x] * n);
    }
  }
}

typedef int16_t v8hi __attribute__((vector_size(16)));
typedef int32_t v8si __attribute__((vector_size(32)));

SIG_INLINE corr vpass_c(const window *w, const hrows *h, const int ya[WIN], const int yn[WIN],
                        const int yf[WIN])
{
  /* eight columns at a time into lanes: v <= 8160, so over the 24 rows a lane's sum of v
   * stays below 2^20 and of a * v below 2^28; its v^2 are added up 8 rows at a time (below
   * 2^31), then into 64 bits */
  v8si s = {0}, ss = {0}, sa = {0};
  int64_t sbb = 0;
  for (int y = 0; y < WIN; y++) {
    const int16_t *r0 = h->v[ya[y]], *r1 = h->v[yn[y]];
    const v8si f0 = (v8si){0} + (32 - yf[y]), f1 = (v8si){0} + yf[y];
    for (int g = 0; g < WIN; g += 8) {
      v8hi a0, a1, av;
      memcpy(&a0, r0 + g, sizeof a0);
      memcpy(&a1, r1 + g, sizeof a1);
      memcpy(&av, w->v[y] + g, sizeof av);
      v8si v = (f0 * __builtin_convertvector(a0, v8si) + f1 * __builtin_convertvector(a1, v8si) +
                16) >> 5;
      s += v;
      ss += v * v;
      sa += __builtin_convertvector(av, v8si) * v;
    }
    if (y % 8 == 7) {
      for (int l = 0; l < 8; l++)
        sbb += ss[l];
      ss = (v8si){0};
    }
  }
  int64_t sb = 0, sab = 0;
  for (int l = 0; l < 8; l++) {
    sb += s[l];
    sab += sa[l];
  }
  return corr_of(w, sb, sbb, sab);
}

#ifdef SIG_AVX2
/* The same sums with AVX2, in 16-bit lanes: v = h0 + ((fy (h1 - h0) + 16) >> 5) exactly (32 h0
 * is a multiple of 32), and vpmulhrsw gives ((d * fy * 1024) + 2^14) >> 15 = (d fy + 16) >> 5
 * for |d| <= 8160 and fy * 1024 <= 31744, all within 16 bits. vpmaddwd pairs the products into
 * 32-bit lanes: a pair of v^2 is below 2^28, so 8 rows of two pairs stay below 2^31. */
__attribute__((target("avx2"))) static corr vpass_avx2(const window *w, const hrows *h,
                                                      const int ya[WIN], const int yn[WIN],
                                                      const int yf[WIN])
{
  const __m256i one = _mm256_set1_epi16(1);
  __m256i s = _mm256_setzero_si256(), ss = _mm256_setzero_si256(), sa = s;
  int64_t sbb = 0;
  for (int y = 0; y < WIN; y++) {
    const __m256i f = _mm256_set1_epi16((int16_t)(yf[y] * 1024));
    const __m256i h0a = _mm256_loadu_si256((const __m256i *)h->v[ya[y]]);
    const __m256i h0b = _mm256_loadu_si256((const __m256i *)(h->v[ya[y]] + 16));
    const __m256i h1a = _mm256_loadu_si256((const __m256i *)h->v[yn[y]]);
    const __m256i h1b = _mm256_loadu_si256((const __m256i *)(h->v[yn[y]] + 16));
    const __m256i va = _mm256_add_epi16(h0a, _mm256_mulhrs_epi16(_mm256_sub_epi16(h1a, h0a), f));
    const __m256i vb = _mm256_add_epi16(h0b, _mm256_mulhrs_epi16(_mm256_sub_epi16(h1b, h0b), f));
    const __m256i wa = _mm256_loadu_si256((const __m256i *)w->v[y]);
    const __m256i wb = _mm256_loadu_si256((const __m256i *)(w->v[y] + 16));
    s = _mm256_add_epi32(s, _mm256_add_epi32(_mm256_madd_epi16(va, one), _mm256_madd_epi16(vb, one)));
    ss = _mm256_add_epi32(ss, _mm256_add_epi32(_mm256_madd_epi16(va, va), _mm256_madd_epi16(vb, vb)));
    sa = _mm256_add_epi32(sa, _mm256_add_epi32(_mm256_madd_epi16(wa, va), _mm256_madd_epi16(wb, vb)));
    if (y % 8 == 7) {
      sbb += hsum8(ss);
      ss = _mm256_setzero_si256();
    }
  }
  return corr_of(w, hsum8(s), sbb, hsum8(sa));
}
#endif

static corr vpass(const window *w, const hrows *h, int ky, int ty)
{
  int ya[WIN], yn[WIN], yf[WIN];
  taps(ky, ty, ya, yn, yf);
#ifdef SIG_AVX2
  if (es_cpu_has(ES_CPU_AVX2))
    return vpass_avx2(w, h, ya, yn, yf);
#endif
  return vpass_c(w, h, ya, yn, yf);
}

/* Is correlation c (against window of variance va) at least milli thousandths? */
static int reaches(const corr *c, int64_t va, unsigned milli)
{
  if (c->num <= 0 || c->var <= 0 || va <= 0)
    return 0;
  return c->num * c->num * 1000000 >= (i128)milli * milli * va * c->var;
}

/* Is x's correlation greater than y's? num/sqrt(var) compared exactly (va is common). */
static int better(const corr *x, const corr *y)
{
  if (x->var <= 0)
    return 0;
  if (y->var <= 0)
    return 1;
  /* num * |num| keeps the sign; |num| < 2^40 and var < 2^45, so the products fit */
  i128 ax = x->num < 0 ? -x->num : x->num, ay = y->num < 0 ? -y->num : y->num;
  i128 sx = x->num * ax, sy = y->num * ay;
  return sx * y->var > sy * x->var;
}

static double corr_value(const corr *c, int64_t va)
{
  if (c->var <= 0 || va <= 0)
    return 0;
  return (double)c->num / __builtin_sqrt((double)va * (double)c->var);
}

/* The greedy ascent of one direction from the identity warp, whose correlation is cur:
 * returns 1 as soon as a warp reaches milli (milli > 1000: never, so the whole ascent runs);
 * *best (when not NULL) is the best correlation seen. */
SIG_INLINE int ascend(const window *w, const es_near_sig *b, corr cur, unsigned milli,
                      double *best)
{
  hrows h[3 * 5]; /* per (kx, tx), made when first needed */
  unsigned have = 0;
  int p[4] = {16, 16, 0, 0};
  static const int lo[4] = {15, 15, -2, -2}, hi[4] = {17, 17, 2, 2};
  /* warps already evaluated: none of them beats the current one (each step moves to the best
   * neighbour), so they are skipped without changing the path */
  uint8_t seen[3][3][5][5];
  memset(seen, 0, sizeof seen);
  seen[1][1][2][2] = 1;
  for (;;) {
    int bi = -1, bd = 0;
    corr bc = cur;
    for (int i = 0; i < 4; i++)
      for (int d = -1; d <= 1; d += 2) {
        if (p[i] + d < lo[i] || p[i] + d > hi[i])
          continue;
        int q[4] = {p[0], p[1], p[2], p[3]};
        q[i] += d;
        uint8_t *mark = &seen[q[0] - 15][q[1] - 15][q[2] + 2][q[3] + 2];
        if (*mark)
          continue;
        *mark = 1;
        corr c;
        if (q[0] == 16 && q[1] == 16) {
          c = correlate_shift(w, b, q[2], q[3]);
        } else {
          unsigned slot = (unsigned)((q[0] - 15) * 5 + q[2] + 2);
          if (!(have >> slot & 1)) {
            hpass(b, q[0], q[2], &h[slot]);
            have |= 1u << slot;
          }
          c = vpass(w, &h[slot], q[1], q[3]);
        }
        if (milli <= 1000 && reaches(&c, w->var, milli))
          return 1;
        if (better(&c, &bc)) {
          bc = c;
          bi = i;
          bd = d;
        }
      }
    if (bi < 0)
      break;
    p[bi] += bd;
    cur = bc;
  }
  if (best)
    *best = corr_value(&cur, w->var);
  return 0;
}

static int flat(const es_near_sig *s)
{
  for (size_t i = 1; i < ES_SIG_PIXELS; i++)
    if (s->px[i] != s->px[0])
      return 0;
  return 1;
}

/* The alignment search is only tried where the pictures already correlate, unaligned, within
 * SLACK times the threshold's distance from 1 (for a threshold of 0.85: from 0.40; of 0.99:
 * from 0.96): an alignment of a couple of pixels recovers that much and no more on the truth
 * set (docs/near-duplicates.md), and most candidate pairs of distinct pictures stop here. */
#define SLACK 4

/* The relation for a pair, in two steps, so that the join can run the first step on many pairs
 * with one prepared window (wa, of a) and the second only where it is needed:
 * pair_start() decides from the unaligned correlation: 0 apart, 1 related, 2 only the
 * alignment search can tell (pair_search()). */
static SIG_CLONES void pair_prepare(const es_near_sig *a, window *wa)
{
  window_of(a, wa);
}

static SIG_CLONES wsums pair_sums(const es_near_sig *b)
{
  return sums_of(b);
}

static SIG_CLONES int pair_start(const es_near_sig *a, const window *wa, const es_near_sig *b,
                                 wsums bs, unsigned milli)
{
  if (milli > 1000 || !a->side || !b->side) /* side 0: no signature (near_sig.h) */
    return 0;
  /* Unaligned, both directions compare the same two windows: one correlation (the other
   * direction's is the same with the sides' roles swapped, and reaches() gives it the same
   * answer). Its var is 1024 times the variance term of b's window. */
  corr ca = correlate_identity(wa, b, bs);
  /* A window without contrast correlates with nothing: two such pictures (a lens cap, a blank
   * wall) are the same empty scene when the whole pictures are flat, and apart otherwise. */
  if (wa->var == 0 || ca.var == 0)
    return wa->var == 0 && ca.var == 0 && flat(a) && flat(b);
  if (reaches(&ca, wa->var, milli))
    return 1;
  unsigned slack = milli < 1000 ? SLACK * (1000 - milli) : 0;
  if (slack < 1000 && !reaches(&ca, wa->var, 1000 - slack))
    return 0;
  return 2;
}

static SIG_CLONES int pair_search(const es_near_sig *a, const window *wa, const es_near_sig *b,
                                  unsigned milli)
{
  window wb;
  window_of(b, &wb);
  corr ca = correlate_shift(wa, b, 0, 0), cb = {ca.num, 1024 * wa->var};
  return ascend(wa, b, ca, milli, NULL) || ascend(&wb, a, cb, milli, NULL);
}

int es_near_sig_match(const es_near_sig *a, const es_near_sig *b, unsigned milli)
{
  window wa;
  pair_prepare(a, &wa);
  int r = pair_start(a, &wa, b, pair_sums(b), milli);
  return r == 2 ? pair_search(a, &wa, b, milli) : r;
}

SIG_CLONES double es_near_sig_score(const es_near_sig *a, const es_near_sig *b)
{
  window wa, wb;
  window_of(a, &wa);
  window_of(b, &wb);
  if (wa.var == 0 || wb.var == 0)
    return wa.var == 0 && wb.var == 0 && flat(a) && flat(b) ? 1.0 : 0.0;
  double x = 0, y = 0;
  ascend(&wa, b, correlate_shift(&wa, b, 0, 0), 1001, &x);
  ascend(&wb, a, correlate_shift(&wb, a, 0, 0), 1001, &y);
  return x > y ? x : y;
}

int es_near_related(const es_near_rel *rel, uint64_t ha, const es_near_sig *a, uint64_t hb,
                    const es_near_sig *b)
{
  if (es_phash_distance(ha, hb) > rel->radius)
    return 0;
  return es_near_sig_match(a, b, es_near_threshold(rel, a->side, b->side));
}

/* ---- the verified self-join ---- */

#define BLOCK 1024

typedef struct cand {
  uint32_t ref;
  uint16_t dist; /* phash distance */
  int16_t start; /* pair_start()'s answer, -1 while not known */
} cand;

typedef struct cand_buf {
  cand *v;
  size_t n, cap;
  int oom;
} cand_buf;

static int cand_reserve(cand_buf *b, size_t need)
{
  if (b->oom)
    return -1;
  if (need > b->cap) {
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
      cap *= 2;
    cand *v = realloc(b->v, cap * sizeof *v);
    if (!v) {
      b->oom = 1;
      return -1;
    }
    b->v = v;
    b->cap = cap;
  }
  return 0;
}

static void cand_push(void *ctx, uint32_t ref, unsigned dist)
{
  cand_buf *b = ctx;
  if (cand_reserve(b, b->n + 1) == 0)
    b->v[b->n++] = (cand){ref, (uint16_t)dist, -1};
}

static int cmp_ref(const void *x, const void *y)
{
  const cand *a = x, *b = y;
  return (a->ref > b->ref) - (a->ref < b->ref);
}

/* One thread's working lists for first_related(). */
typedef struct scratch {
  cand_buf level; /* the candidates ordered by distance */
  cand_buf alive; /* one distance's candidates that pair_start() did not rule out */
} scratch;

/* The representative item i (window wa) joins among its candidates `found` (distances at
 * most rel->radius): the first related one in order of distance, then ref; UINT32_MAX when
 * none (*dist_out: its distance). That order defines the relation's join; the work follows it
 * by distance levels: pair_start() on every candidate of a level (unless already known; the
 * next one's signature prefetched), then the few it did not decide, in ref order, through the
 * alignment search. Returns -1 when out of memory. */
static int first_related(const es_near_sig *const *sig, size_t i, const window *wa,
                         const es_near_rel *rel, const cand_buf *found, scratch *s,
                         uint32_t *ref_out, unsigned *dist_out, uint64_t *ncand,
                         uint64_t *nsearch)
{
  *ref_out = UINT32_MAX;
  size_t n = found->n;
  if (!n)
    return 0;
  unsigned start[34] = {0}; /* counting sort by distance (radius <= 32) */
  for (size_t c = 0; c < n; c++)
    start[found->v[c].dist + 1]++;
  for (unsigned d = 1; d < 34; d++)
    start[d] += start[d - 1];
  if (cand_reserve(&s->level, n) || cand_reserve(&s->alive, n))
    return -1;
  unsigned at[34];
  memcpy(at, start, sizeof at);
  for (size_t c = 0; c < n; c++)
    s->level.v[at[found->v[c].dist]++] = found->v[c];

  const es_near_sig *a = sig[i];
  for (unsigned d = 0; d <= rel->radius && d < 33; d++) {
    size_t alive = 0;
    for (unsigned c = start[d]; c < start[d + 1]; c++) {
      cand x = s->level.v[c];
      if (x.start < 0) {
        if (c + 1 < n) { /* rows 2 to 29 and the side are read */
          const char *next = (const char *)sig[s->level.v[c + 1].ref];
          for (int line = 2; line < 16; line++)
            __builtin_prefetch(next + 64 * line);
          __builtin_prefetch(next + ES_SIG_PIXELS);
        }
        const es_near_sig *r = sig[x.ref];
        x.start = (int16_t)pair_start(a, wa, r, pair_sums(r),
                                      es_near_threshold(rel, a->side, r->side));
        (*ncand)++;
      }
      if (x.start)
        s->alive.v[alive++] = x;
    }
    if (alive > 1)
      qsort(s->alive.v, alive, sizeof *s->alive.v, cmp_ref);
    for (size_t c = 0; c < alive; c++) {
      const es_near_sig *r = sig[s->alive.v[c].ref];
      *nsearch += s->alive.v[c].start == 2;
      if (s->alive.v[c].start == 1 ||
          pair_search(a, wa, r, es_near_threshold(rel, a->side, r->side))) {
        *ref_out = s->alive.v[c].ref;
        *dist_out = d;
        return 0;
      }
    }
  }
  return 0;
}

/* Phase 1 of a block works on all its (query, candidate) pairs at once, in the order of the
 * candidates' refs: a representative's signature is then read once for all the queries that
 * meet it, from cache, where query by query it would be fetched again for each. */
typedef struct pair_at {
  uint32_t ref;
  uint32_t k;   /* the query, in the block */
  uint32_t c;   /* the candidate, in the query's list */
} pair_at;

/* Sorts p[0..n) by ref (LSD radix, 11 bits a pass) using tmp of n entries. */
static void sort_by_ref(pair_at *p, pair_at *tmp, size_t n, uint32_t max_ref)
{
  for (unsigned shift = 0; shift < 32 && (max_ref >> shift) != 0; shift += 11) {
    size_t count[2049] = {0};
    for (size_t j = 0; j < n; j++)
      count[(p[j].ref >> shift & 2047) + 1]++;
    for (unsigned b = 1; b < 2049; b++)
      count[b] += count[b - 1];
    for (size_t j = 0; j < n; j++)
      tmp[count[p[j].ref >> shift & 2047]++] = p[j];
    memcpy(p, tmp, n * sizeof *p);
  }
}

int es_near_selfjoin_verified(const uint64_t *h, const es_near_sig *sig, size_t n,
                              const es_near_rel *rel, int threads, uint32_t *assign,
                              size_t *n_reps, es_near_counts *counts, es_error *err)
{
  const es_near_sig **p = malloc((n ? n : 1) * sizeof *p);
  if (!p)
    return es_error_set(err, ES_ENOMEM, "out of memory for the near-duplicate join");
  for (size_t i = 0; i < n; i++)
    p[i] = &sig[i];
  int rc = es_near_extend_verified(h, p, n, 0, rel, threads, assign, n_reps, counts, err);
  free(p);
  return rc;
}

int es_near_extend_verified(const uint64_t *h, const es_near_sig *const *sig, size_t n,
                            size_t n_fixed,
                            const es_near_rel *rel, int threads, uint32_t *assign,
                            size_t *n_reps, es_near_counts *counts, es_error *err)
{
  if (n > UINT32_MAX - 1)
    return es_error_set(err, ES_ELIMIT, "%zu items: more than the near-duplicate join supports",
                        n);
  int T = threads > 0 ? threads : 1;
  es_near_index *idx = es_near_index_new(rel->radius, err);
  if (!idx)
    return err->code;
  uint32_t *best = malloc(BLOCK * sizeof *best);
  unsigned *bestd = malloc(BLOCK * sizeof *bestd);
  uint32_t *block_reps = malloc(BLOCK * sizeof *block_reps);
  window *wins = malloc(BLOCK * sizeof *wins);
  cand_buf *found = calloc(BLOCK, sizeof *found);
  scratch *scr = calloc((size_t)T, sizeof *scr);
  pair_at *pairs = NULL, *tmp = NULL;
  size_t pairs_cap = 0;
  size_t reps = 0;
  uint64_t ncand = 0, nver = 0, nsearch = 0;
  int rc = ES_OK;
  if (!best || !bestd || !block_reps || !wins || !found || !scr) {
    rc = es_error_set(err, ES_ENOMEM, "out of memory for the near-duplicate join");
    goto done;
  }
  /* the representatives decided before: indexed, never queried */
  for (size_t i = 0; i < n_fixed && rc == ES_OK; i++)
    if (assign[i] == i) {
      rc = es_near_index_add(idx, h[i], (uint32_t)i, err);
      reps++;
    }
  for (size_t b0 = n_fixed; b0 < n && rc == ES_OK; b0 += BLOCK) {
    size_t b1 = n - b0 < BLOCK ? n : b0 + BLOCK;
    long long nb = (long long)(b1 - b0);
    int oom = 0;
    /* 1. every item of the block against the representatives of earlier blocks, in parallel:
     * the nearest one it is related to. 1a: the candidates and the query's window. */
#pragma omp parallel for num_threads(T) schedule(dynamic, 16) reduction(| : oom)
    for (long long k = 0; k < nb; k++) {
      size_t i = b0 + (size_t)k;
      found[k].n = 0;
      es_near_index_within(idx, h[i], cand_push, &found[k]);
      oom |= found[k].oom;
      pair_prepare(sig[i], &wins[k]);
    }
    size_t np = 0;
    for (long long k = 0; k < nb; k++)
      np += found[k].n;
    if (!oom && np > pairs_cap) {
      free(pairs);
      free(tmp);
      pairs_cap = np + np / 2;
      pairs = malloc(pairs_cap * sizeof *pairs);
      tmp = malloc(pairs_cap * sizeof *tmp);
      if (!pairs || !tmp) {
        pairs_cap = 0;
        oom = 1;
      }
    }
    if (oom) {
      rc = es_error_set(err, ES_ENOMEM, "out of memory for near-duplicate candidates");
      break;
    }
    /* 1b: pair_start() on every pair, in ref order (a candidate beyond the nearest related
     * one is computed in vain; few are, as most queries find none) */
    np = 0;
    for (long long k = 0; k < nb; k++)
      for (size_t c = 0; c < found[k].n; c++)
        pairs[np++] = (pair_at){found[k].v[c].ref, (uint32_t)k, (uint32_t)c};
    if (np > 1)
      sort_by_ref(pairs, tmp, np, (uint32_t)(n - 1));
#pragma omp parallel num_threads(T) reduction(+ : ncand)
    {
      uint32_t last = UINT32_MAX;
      wsums rs = {0, 0};
#pragma omp for schedule(static)
      for (long long j = 0; j < (long long)np; j++) {
        const pair_at *q = &pairs[j];
        const es_near_sig *a = sig[b0 + q->k], *r = sig[q->ref];
        if (q->ref != last) { /* a representative's sums once for its run of pairs */
          rs = pair_sums(r);
          last = q->ref;
        }
        found[q->k].v[q->c].start = (int16_t)pair_start(a, &wins[q->k], r, rs,
                                                        es_near_threshold(rel, a->side, r->side));
        ncand++;
      }
    }
    /* 1c: each query's nearest related candidate */
#pragma omp parallel for num_threads(T) schedule(dynamic, 16) reduction(+ : nver, nsearch) \
    reduction(| : oom)
    for (long long k = 0; k < nb; k++) {
#ifdef _OPENMP
      scratch *sc = &scr[omp_get_thread_num()];
#else
      scratch *sc = &scr[0];
#endif
      uint64_t none = 0;
      if (first_related(sig, b0 + (size_t)k, &wins[k], rel, &found[k], sc, &best[k], &bestd[k],
                        &none, &nsearch)) {
        oom = 1;
        continue;
      }
      if (best[k] == UINT32_MAX)
        bestd[k] = rel->radius + 1;
      else
        nver++;
    }
    if (oom) {
      rc = es_error_set(err, ES_ENOMEM, "out of memory for near-duplicate candidates");
      break;
    }
    /* 2. in order, against the block's own new representatives: one of them wins only when
     * strictly nearer (it comes later than any earlier block's) */
    size_t nr = 0;
    cand_buf *local = &found[0]; /* item b0's list is no longer needed */
    for (size_t i = b0; i < b1; i++) {
      size_t k = i - b0;
      local->n = 0;
      for (size_t r = 0; r < nr; r++) {
        unsigned d = es_phash_distance(h[i], h[block_reps[r]]);
        if (d < bestd[k])
          cand_push(local, block_reps[r], d);
      }
      uint32_t ref;
      unsigned d;
      if (local->oom ||
          first_related(sig, i, &wins[k], rel, local, &scr[0], &ref, &d, &ncand, &nsearch)) {
        rc = es_error_set(err, ES_ENOMEM, "out of memory for near-duplicate candidates");
        break;
      }
      if (ref != UINT32_MAX) {
        nver++;
        best[k] = ref;
      }
      if (best[k] != UINT32_MAX) {
        assign[i] = best[k];
      } else {
        assign[i] = (uint32_t)i;
        block_reps[nr++] = (uint32_t)i;
      }
    }
    for (size_t r = 0; r < nr && rc == ES_OK; r++)
      rc = es_near_index_add(idx, h[block_reps[r]], block_reps[r], err);
    reps += nr;
  }
done:
  if (scr)
    for (int t = 0; t < T; t++) {
      free(scr[t].level.v);
      free(scr[t].alive.v);
    }
  if (found)
    for (size_t k = 0; k < BLOCK; k++)
      free(found[k].v);
  free(scr);
  free(found);
  free(wins);
  free(pairs);
  free(tmp);
  free(best);
  free(bestd);
  free(block_reps);
  es_near_index_free(idx);
  if (rc == ES_OK) {
    if (n_reps)
      *n_reps = reps;
    if (counts) {
      counts->candidates += ncand;
      counts->verified += nver;
      counts->searched += nsearch;
    }
  }
  return rc;
}
