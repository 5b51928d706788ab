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

#include "core/near_index.h"

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

/* The fixed side of a comparison: a's central window and its sums. */
typedef struct window {
  int32_t v[NWIN];
  int64_t sum, var; /* var = n * sum(v^2) - sum(v)^2 */
} window;

static void window_of(const es_near_sig *a, window *w)
{
  int64_t s = 0, ss = 0;
  for (int y = 0; y < WIN; y++)
    for (int x = 0; x < WIN; x++) {
      int32_t v = a->px[(y + MARGIN) * ES_SIG_SIDE + x + MARGIN];
      w->v[y * WIN + x] = v;
      s += v;
      ss += (int64_t)v * v;
    }
  w->sum = s;
  w->var = (int64_t)NWIN * ss - s * s;
}

/* Sample taps along one axis for scale k/16 and shift t: position in 1/32 pixel of output
 * pixel MARGIN + i, as a source index (pixel centres at integers), clamped to the picture. */
static void taps(int k, int t, int at[WIN], int frac[WIN])
{
  for (int i = 0; i < WIN; i++) {
    int u = MARGIN + i;
    int p = 16 * 32 + k * (2 * u + 1 - ES_SIG_SIDE) + 32 * t - 16;
    if (p < 0)
      p = 0;
    if (p > (ES_SIG_SIDE - 1) * 32)
      p = (ES_SIG_SIDE - 1) * 32;
    at[i] = p >> 5;
    frac[i] = p & 31;
  }
}

/* One warp's correlation terms against window w: num and vb (see the top of the file). */
typedef struct corr {
  i128 num;
  int64_t var;
} corr;

/* The bilinear sample is separable: rows are interpolated first (vert, in 1/32 steps), then
 * columns (1/1024 steps), then rounded to 1/32 luma: the same integer as interpolating columns
 * first, with loops over contiguous rows that the compiler vectorises. */
/* A warp without scaling samples b at whole pixels, shifted by (tx, ty) (|t| <= 2 < MARGIN: no
 * clamping): each value is 32 b exactly, as correlate() computes it, without the
 * interpolation. */
static corr correlate_shift(const window *w, const es_near_sig *b, int tx, int ty)
{
  int64_t sb = 0, sbb = 0, sab = 0;
  for (int y = 0; y < WIN; y++) {
    const uint8_t *r = b->px + (y + MARGIN + ty) * ES_SIG_SIDE + MARGIN + tx;
    const int32_t *av = w->v + y * WIN;
    int32_t rs = 0, rss = 0, ras = 0; /* a row: 24 * 255^2 fits */
    for (int x = 0; x < WIN; x++) {
      int32_t v = r[x];
      rs += v;
      rss += v * v;
      ras += av[x] * v;
    }
    sb += rs;
    sbb += rss;
    sab += ras;
  }
  sb *= 32;
  sbb *= 1024;
  sab *= 32;
  corr c;
  c.num = (i128)NWIN * sab - (i128)w->sum * sb;
  c.var = (int64_t)NWIN * sbb - sb * sb;
  return c;
}

static corr correlate(const window *w, const es_near_sig *b, int kx, int ky, int tx, int ty)
{
  if (kx == 16 && ky == 16)
    return correlate_shift(w, b, tx, ty);
  int xa[WIN], xf[WIN], ya[WIN], yf[WIN];
  taps(kx, tx, xa, xf);
  taps(ky, ty, ya, yf);
  int64_t sb = 0, sbb = 0, sab = 0;
  for (int y = 0; y < WIN; y++) {
    const uint8_t *r0 = b->px + ya[y] * ES_SIG_SIDE;
    const uint8_t *r1 = ya[y] + 1 < ES_SIG_SIDE ? r0 + ES_SIG_SIDE : r0;
    const int32_t fy = yf[y];
    int32_t vert[ES_SIG_SIDE + 1];
    for (int c = 0; c < ES_SIG_SIDE; c++)
      vert[c] = (32 - fy) * r0[c] + fy * r1[c];
    vert[ES_SIG_SIDE] = vert[ES_SIG_SIDE - 1]; /* the clamped right neighbour of the last column */
    const int32_t *av = w->v + y * WIN;
    int32_t rs = 0;
    int64_t rss = 0, ras = 0;
    for (int x = 0; x < WIN; x++) {
      int32_t v = ((32 - xf[x]) * vert[xa[x]] + xf[x] * vert[xa[x] + 1] + 16) >> 5;
      rs += v;
      rss += (int64_t)v * v;
      ras += (int64_t)av[x] * v;
    }
    sb += rs;
    sbb += rss;
    sab += ras;
  }
  corr c;
  c.num = (i128)NWIN * sab - (i128)w->sum * sb;
  c.var = (int64_t)NWIN * sbb - sb * sb;
  return c;
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
static int ascend(const window *w, const es_near_sig *b, corr cur, unsigned milli, double *best)
{
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
        corr c = correlate(w, b, q[0], q[1], q[2], q[3]);
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

int es_near_sig_match(const es_near_sig *a, const es_near_sig *b, unsigned milli)
{
  if (milli > 1000 || !a->side || !b->side) /* side 0: no signature (near_sig.h) */
    return 0;
  window wa, wb;
  window_of(a, &wa);
  window_of(b, &wb);
  /* A window without contrast correlates with nothing: two such pictures (a lens cap, a blank
   * wall) are the same empty scene when the whole pictures are flat, and apart otherwise. */
  if (wa.var == 0 || wb.var == 0)
    return wa.var == 0 && wb.var == 0 && flat(a) && flat(b);
  corr ca = correlate_shift(&wa, b, 0, 0), cb = correlate_shift(&wb, a, 0, 0);
  if (reaches(&ca, wa.var, milli) || reaches(&cb, wb.var, milli))
    return 1;
  unsigned slack = milli < 1000 ? SLACK * (1000 - milli) : 0;
  if (slack < 1000 && !reaches(&ca, wa.var, 1000 - slack) && !reaches(&cb, wb.var, 1000 - slack))
    return 0;
  return ascend(&wa, b, ca, milli, NULL) || ascend(&wb, a, cb, milli, NULL);
}

double es_near_sig_score(const es_near_sig *a, const es_near_sig *b)
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
  unsigned dist;
} cand;

typedef struct cand_buf {
  cand *v;
  size_t n, cap;
  int oom;
} cand_buf;

static void cand_push(void *ctx, uint32_t ref, unsigned dist)
{
  cand_buf *b = ctx;
  if (b->oom)
    return;
  if (b->n == b->cap) {
    size_t cap = b->cap ? 2 * b->cap : 64;
    cand *v = realloc(b->v, cap * sizeof *v);
    if (!v) {
      b->oom = 1;
      return;
    }
    b->v = v;
    b->cap = cap;
  }
  b->v[b->n++] = (cand){ref, dist};
}

static int cmp_cand(const void *x, const void *y)
{
  const cand *a = x, *b = y;
  if (a->dist != b->dist)
    return a->dist < b->dist ? -1 : 1;
  return (a->ref > b->ref) - (a->ref < b->ref);
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
  cand_buf *bufs = calloc((size_t)T, sizeof *bufs);
  cand_buf local = {0};
  size_t reps = 0;
  uint64_t ncand = 0, nver = 0;
  int rc = ES_OK;
  if (!best || !bestd || !block_reps || !bufs) {
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
     * the nearest one it is related to */
#pragma omp parallel for num_threads(T) schedule(dynamic, 16) reduction(+ : ncand, nver) \
    reduction(| : oom)
    for (long long k = 0; k < nb; k++) {
#ifdef _OPENMP
      cand_buf *cb = &bufs[omp_get_thread_num()];
#else
      cand_buf *cb = &bufs[0];
#endif
      size_t i = b0 + (size_t)k;
      cb->n = 0;
      es_near_index_within(idx, h[i], cand_push, cb);
      oom |= cb->oom;
      best[k] = UINT32_MAX;
      bestd[k] = rel->radius + 1;
      if (cb->n > 1)
        qsort(cb->v, cb->n, sizeof *cb->v, cmp_cand);
      for (size_t c = 0; c < cb->n; c++) {
        const es_near_sig *r = sig[cb->v[c].ref];
        ncand++;
        if (es_near_sig_match(sig[i], r, es_near_threshold(rel, sig[i]->side, r->side))) {
          nver++;
          best[k] = cb->v[c].ref;
          bestd[k] = cb->v[c].dist;
          break;
        }
      }
    }
    if (oom) {
      rc = es_error_set(err, ES_ENOMEM, "out of memory for near-duplicate candidates");
      break;
    }
    /* 2. in order, against the block's own new representatives: one of them wins only when
     * strictly nearer (it comes later than any earlier block's) */
    size_t nr = 0;
    for (size_t i = b0; i < b1; i++) {
      size_t k = i - b0;
      local.n = 0;
      for (size_t r = 0; r < nr; r++) {
        unsigned d = es_phash_distance(h[i], h[block_reps[r]]);
        if (d < bestd[k])
          cand_push(&local, block_reps[r], d);
      }
      if (local.oom) {
        rc = es_error_set(err, ES_ENOMEM, "out of memory for near-duplicate candidates");
        break;
      }
      if (local.n > 1)
        qsort(local.v, local.n, sizeof *local.v, cmp_cand);
      for (size_t c = 0; c < local.n; c++) {
        const es_near_sig *r = sig[local.v[c].ref];
        ncand++;
        if (es_near_sig_match(sig[i], r, es_near_threshold(rel, sig[i]->side, r->side))) {
          nver++;
          best[k] = local.v[c].ref;
          break;
        }
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
  if (bufs)
    for (int t = 0; t < T; t++)
      free(bufs[t].v);
  free(bufs);
  free(local.v);
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
    }
  }
  return rc;
}
