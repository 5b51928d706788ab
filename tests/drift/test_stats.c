/* drift's statistics against SciPy, run live: tests/drift/scipy_cases.py (Debian's
 * /usr/bin/python3 with python3-scipy) writes seeded cases with SciPy's answers and every one is
 * recomputed here. Tolerance: relative 1e-6, and for values under 1e-6 an absolute 1e-12.
 * Also hand-checked cases that need no SciPy (BH, PSI, quantiles, the sort). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drift/stats.h"
#include "testutil.h"

static int close_enough(double got, double want)
{
  if (isnan(want))
    return isnan(got);
  double tol = 1e-6 * (fabs(want) > 1e-6 ? fabs(want) : 1e-6);
  return fabs(got - want) <= tol;
}

static double *read_vals(char **cur, size_t n)
{
  double *v = malloc((n ? n : 1) * sizeof *v);
  cr_assert(v);
  for (size_t i = 0; i < n; i++)
    v[i] = strtod(*cur, cur);
  return v;
}

static int cmp_d(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

Test(stats, agrees_with_scipy, .timeout = 300)
{
  const char *src = getenv("EDGESET_SOURCE");
  cr_assert(src, "EDGESET_SOURCE not set");
  char script[4096], check[128];
  snprintf(script, sizeof script, "%s/tests/drift/scipy_cases.py", src);
  char *probe_argv[] = {"/usr/bin/python3", "-c", "import scipy", NULL};
  cr_assert_eq(tu_run(probe_argv, NULL, NULL, NULL), 0,
               "python3-scipy is not installed (scripts/setup.sh installs it)");
  char *dir = tu_tmpdir();
  char out[4096];
  snprintf(out, sizeof out, "%s/cases.txt", dir);
  char *argv[] = {"/usr/bin/python3", script, out, NULL};
  char *err = NULL;
  int st = tu_run(argv, NULL, NULL, &err);
  cr_assert_eq(st, 0, "scipy_cases.py failed: %s", err ? err : "");
  free(err);
  size_t len;
  char *buf = (char *)tu_read(out, &len);
  cr_assert(buf);
  buf = realloc(buf, len + 1);
  buf[len] = 0;
  unsigned counts[8] = {0};
  unsigned exact_seen = 0, asymp_seen = 0;
  for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
    char *cur = line;
    char kind[16];
    int used = 0;
    cr_assert_eq(sscanf(cur, "%15s%n", kind, &used), 1);
    cur += used;
    snprintf(check, sizeof check, "%.40s", line);
    if (!strcmp(kind, "ks") || !strcmp(kind, "wass")) {
      size_t na = strtoull(cur, &cur, 10), nb = strtoull(cur, &cur, 10);
      double *a = read_vals(&cur, na), *b = read_vals(&cur, nb);
      cr_assert_eq(es_sort_doubles(a, na), 0);
      cr_assert_eq(es_sort_doubles(b, nb), 0);
      if (!strcmp(kind, "ks")) {
        double ws = strtod(cur, &cur), wp = strtod(cur, &cur);
        int wexact = (int)strtol(cur, &cur, 10);
        es_ks_result r;
        cr_assert_eq(es_ks_2samp(a, na, b, nb, &r), 0);
        cr_expect(close_enough(r.statistic, ws), "ks %zu %zu: D %.17g, SciPy %.17g", na, nb,
                  r.statistic, ws);
        cr_expect(close_enough(r.p, wp), "ks %zu %zu D %.6g: p %.17g, SciPy %.17g", na, nb,
                  ws, r.p, wp);
        cr_expect_eq(r.exact, wexact);
        if (r.exact)
          exact_seen++;
        else
          asymp_seen++;
        counts[0]++;
      } else {
        double ww = strtod(cur, &cur);
        double w = es_wasserstein1(a, na, b, nb);
        cr_expect(close_enough(w, ww), "wasserstein %zu %zu: %.17g, SciPy %.17g", na, nb, w,
                  ww);
        counts[1]++;
      }
      free(a);
      free(b);
    } else if (!strcmp(kind, "kstwo") || !strcmp(kind, "smirnov")) {
      unsigned long long n = strtoull(cur, &cur, 10);
      double x = strtod(cur, &cur), want = strtod(cur, &cur);
      double got = kind[0] == 'k' ? es_kolmogorov_sf(n, x) : es_smirnov_sf(n, x);
      cr_expect(close_enough(got, want), "%s n=%llu x=%g: %.17g, SciPy %.17g", kind, n, x, got,
                want);
      counts[kind[0] == 'k' ? 2 : 3]++;
    } else if (!strcmp(kind, "chi2") || !strcmp(kind, "js")) {
      size_t k = strtoull(cur, &cur, 10);
      double *p = read_vals(&cur, k), *q = read_vals(&cur, k);
      if (kind[0] == 'c') {
        double ws = strtod(cur, &cur), wp = strtod(cur, &cur);
        unsigned wd = (unsigned)strtoul(cur, &cur, 10);
        es_chi2_result r;
        es_chi2_homogeneity(p, q, k, &r);
        cr_expect(close_enough(r.statistic, ws), "chi2 k=%zu: %.17g, SciPy %.17g", k,
                  r.statistic, ws);
        cr_expect(close_enough(r.p, wp), "chi2 k=%zu p: %.17g, SciPy %.17g", k, r.p, wp);
        cr_expect_eq(r.dof, wd);
        counts[4]++;
      } else {
        double wd = strtod(cur, &cur);
        double d = es_js_distance(p, q, k);
        cr_expect(close_enough(d, wd), "js k=%zu: %.17g, SciPy %.17g", k, d, wd);
        counts[5]++;
      }
      free(p);
      free(q);
    } else if (!strcmp(kind, "gammaq")) {
      double s = strtod(cur, &cur), x = strtod(cur, &cur), want = strtod(cur, &cur);
      double got = es_gamma_q(s, x);
      cr_expect(close_enough(got, want), "Q(%g, %g): %.17g, SciPy %.17g", s, x, got, want);
      counts[6]++;
    } else {
      cr_assert_fail("unknown case '%s'", check);
    }
  }
  cr_assert_gt(counts[0], 50);
  cr_assert_gt(counts[2], 100);
  cr_assert_gt(counts[4], 5);
  cr_assert_gt(counts[6], 20);
  cr_assert_gt(exact_seen, 20);
  cr_assert_gt(asymp_seen, 5);
  free(buf);
  unlink(out);
  rmdir(dir);
  free(dir);
}

Test(stats, bh_matches_hand_computation)
{
  /* p sorted: 0.001 0.008 0.039 0.041 0.042 0.06 0.074 0.205; m = 8
   * raw p*m/rank: 0.008 0.032 0.104 0.082 0.0672 0.08 0.0846 0.205 -> running min from top */
  double p[8] = {0.041, 0.001, 0.205, 0.039, 0.008, 0.06, 0.074, 0.042}, q[8];
  size_t idx[8];
  es_bh_adjust(p, 8, q, idx);
  double want[8] = {0.0672, 0.008, 0.205, 0.0672, 0.032, 0.08, 0.0845714285714, 0.0672};
  for (int i = 0; i < 8; i++)
    cr_expect(fabs(q[i] - want[i]) < 1e-9, "q[%d] = %.10g, want %.10g", i, q[i], want[i]);
}

Test(stats, psi_quantiles_and_bins)
{
  double a[11];
  for (int i = 0; i <= 10; i++)
    a[i] = i;
  cr_expect_float_eq(es_quantile(a, 11, 0.25), 2.5, 1e-12);
  cr_expect_float_eq(es_quantile(a, 11, 1.0), 10, 1e-12);
  double e[9];
  size_t ne = es_quantile_edges(a, 11, 10, e);
  cr_assert_eq(ne, 9);
  cr_expect_float_eq(e[0], 1.0, 1e-12);
  double c[10];
  es_bin_counts(a, 11, e, ne, c);
  cr_expect_float_eq(c[0], 2, 0); /* 0 and 1 */
  cr_expect_float_eq(c[9], 1, 0); /* 10 */
  double ties[6] = {1, 1, 1, 1, 1, 2};
  cr_expect_eq(es_quantile_edges(ties, 6, 10, e), 2); /* 1 then 1.5 and more, dupes dropped */
  double r[2] = {50, 50}, k[2] = {100, 0};
  /* (1 - 0.5) ln(1/0.5) + (1e-4 - 0.5) ln(1e-4/0.5) */
  double want = 0.5 * log(2.0) + (1e-4 - 0.5) * log(1e-4 / 0.5);
  cr_expect_float_eq(es_psi(r, k, 2), want, 1e-12);
  cr_expect_float_eq(es_psi(r, r, 2), 0, 0);
}

Test(stats, radix_sort_orders_like_qsort)
{
  size_t n = 100000;
  double *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
  uint64_t s = 12345;
  for (size_t i = 0; i < n; i++) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    double v = (double)(int64_t)(s >> 11) / 9e15;
    if (i % 7 == 0)
      v = floor(v * 3); /* ties, zeros, negatives */
    if (i % 1000 == 0)
      v = -1e300;
    a[i] = b[i] = v;
  }
  cr_assert_eq(es_sort_doubles(a, n), 0);
  qsort(b, n, sizeof *b, cmp_d);
  for (size_t i = 0; i < n; i++)
    cr_assert(a[i] == b[i], "position %zu: %g vs %g", i, a[i], b[i]);
  free(a);
  free(b);
}

Test(stats, ks_edge_cases)
{
  double a[3] = {1, 2, 3}, b[3] = {1, 2, 3}, c[2] = {10, 11};
  es_ks_result r;
  cr_assert_eq(es_ks_2samp(a, 3, b, 3, &r), 0);
  cr_expect_float_eq(r.statistic, 0, 0);
  cr_expect_float_eq(r.p, 1, 0);
  cr_assert_eq(es_ks_2samp(a, 3, c, 2, &r), 0);
  cr_expect_float_eq(r.statistic, 1, 0);
  /* all 10 orderings of 3 + 2: 2 separate completely -> p = 2/10 */
  cr_expect_float_eq(r.p, 0.2, 1e-12);
  cr_expect_eq(es_ks_2samp(a, 0, c, 2, &r), -1);
  cr_expect_float_eq(es_wasserstein1(a, 3, c, 2), 8.5, 1e-12);
}

#include "drift/drift.h"

/* rows of dim values: N(shift, 1) from a fixed LCG */
static float *gauss_rows(size_t n, size_t dim, double shift, uint64_t seed)
{
  float *x = malloc(n * dim * sizeof *x);
  for (size_t i = 0; i < n * dim; i++) {
    double u = 0;
    for (int k = 0; k < 12; k++) { /* Irwin-Hall: close enough to a normal for this */
      seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
      u += (double)(seed >> 11) * 0x1p-53;
    }
    x[i] = (float)(u - 6 + shift);
  }
  return x;
}

Test(stats, mmd_separates_and_does_not_depend_on_threads)
{
  size_t n = 150, dim = 8;
  float *a = gauss_rows(n, dim, 0, 1), *b = gauss_rows(n, dim, 0, 2),
        *c = gauss_rows(n, dim, 0.6, 3);
  double m_same, p_same, m_shift, p_shift, m2, p2;
  cr_assert_eq(es_drift_mmd(a, n, b, n, dim, NULL, 200, 7, 1, &m_same, &p_same, NULL), 0);
  cr_assert_eq(es_drift_mmd(a, n, c, n, dim, NULL, 200, 7, 1, &m_shift, &p_shift, NULL), 0);
  cr_assert_eq(es_drift_mmd(a, n, c, n, dim, NULL, 200, 7, 2, &m2, &p2, NULL), 0);
  cr_expect(p_same > 0.05, "same distribution: p %g", p_same);
  cr_expect(p_shift < 0.01, "shifted by 0.6 sd: p %g", p_shift);
  cr_expect(m_shift > m_same);
  cr_expect(m2 == m_shift && p2 == p_shift, "jobs changed the result");
  cr_expect_neq(es_drift_mmd(a, 1, c, n, dim, NULL, 10, 7, 1, &m2, &p2, NULL), 0);
  free(a);
  free(b);
  free(c);
}

/* Bursts: 40 scenes per side from one distribution, each seen as 5 identical rows. Shuffling
 * rows treats 200 values a side as independent and finds a difference that is not there;
 * shuffling whole scenes (blocks) does not. */
Test(stats, mmd_shuffles_whole_units)
{
  size_t scenes = 40, copies = 5, dim = 8, n = scenes * copies;
  float *a0 = gauss_rows(scenes, dim, 0, 11), *b0 = gauss_rows(scenes, dim, 0, 12);
  float *a = malloc(n * dim * sizeof *a), *b = malloc(n * dim * sizeof *b);
  uint32_t *block = malloc(2 * n * sizeof *block);
  for (size_t i = 0; i < n; i++) {
    memcpy(a + i * dim, a0 + (i / copies) * dim, dim * sizeof *a);
    memcpy(b + i * dim, b0 + (i / copies) * dim, dim * sizeof *b);
    block[i] = (uint32_t)(i / copies);
    block[n + i] = (uint32_t)(scenes + i / copies);
  }
  double m_rows, p_rows, m_blocks, p_blocks;
  cr_assert_eq(es_drift_mmd(a, n, b, n, dim, NULL, 200, 7, 1, &m_rows, &p_rows, NULL), 0);
  cr_assert_eq(es_drift_mmd(a, n, b, n, dim, block, 200, 7, 1, &m_blocks, &p_blocks, NULL), 0);
  cr_expect(m_rows == m_blocks, "the statistic does not depend on the blocks");
  cr_expect(p_rows < 0.05, "rows shuffled: p %g (expected a false alarm)", p_rows);
  cr_expect(p_blocks > 0.05, "scenes shuffled: p %g", p_blocks);
  free(a0);
  free(b0);
  free(a);
  free(b);
  free(block);
}

static uint64_t splitmix_test(uint64_t *s)
{
  uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/* Kish's design effect: 1 for singletons, the unit size for identical values in equal units
 * (and n^2 / sum m^2 for unequal ones), about 1 when the values do not depend on the unit, n
 * when one unit holds all; the categorical form agrees on the same cases. */
Test(stats, design_effect)
{
  enum { N = 600 };
  static double y[N], sum[N], cnt[N], ccnt[8];
  static uint32_t unit[N], cat[N], order[2 * N + 1];
  uint64_t r = 99;
  for (size_t i = 0; i < N; i++) {
    y[i] = (double)(i % 7);
    unit[i] = (uint32_t)i;
  }
  cr_expect_float_eq(es_deff_numeric(y, unit, N, sum, cnt), 1.0, 1e-12);
  /* units of 6 identical values */
  for (size_t i = 0; i < N; i++) {
    unit[i] = (uint32_t)(i / 6);
    y[i] = (double)((i / 6) * 37 % 101);
    cat[i] = (uint32_t)((i / 6) % 5);
  }
  cr_expect_float_eq(es_deff_numeric(y, unit, N, sum, cnt), 6.0, 1e-9);
  cr_expect_float_eq(es_deff_categorical(cat, unit, N, N / 6, 5, order, ccnt), 6.0, 1e-9);
  /* unequal units (1 and 3 alternating), identical values within each: sum m^2 / n */
  size_t u = 0, sm2 = 0;
  for (size_t i = 0; i < N;) {
    size_t m = u % 2 ? 3 : 1;
    for (size_t k = 0; k < m && i < N; k++, i++) {
      unit[i] = (uint32_t)u;
      y[i] = (double)(u * 13 % 17);
      cat[i] = (uint32_t)(u % 3);
    }
    sm2 += m * m;
    u++;
  }
  cr_expect_float_eq(es_deff_numeric(y, unit, N, sum, cnt), (double)sm2 / N, 1e-9);
  cr_expect_float_eq(es_deff_categorical(cat, unit, N, u, 3, order, ccnt), (double)sm2 / N,
                     1e-9);
  /* values that do not depend on the unit: rho clipped near 0 */
  for (size_t i = 0; i < N; i++) {
    unit[i] = (uint32_t)(i / 6);
    y[i] = (double)(splitmix_test(&r) % 1000);
    cat[i] = (uint32_t)(splitmix_test(&r) % 4);
  }
  cr_expect_lt(es_deff_numeric(y, unit, N, sum, cnt), 1.6);
  cr_expect_lt(es_deff_categorical(cat, unit, N, N / 6, 4, order, ccnt), 1.6);
  /* one unit holds everything */
  for (size_t i = 0; i < N; i++)
    unit[i] = 0;
  cr_expect_float_eq(es_deff_numeric(y, unit, N, sum, cnt), (double)N, 1e-9);
  /* the scratch arrays are left zero */
  for (size_t i = 0; i < N; i++)
    cr_assert(sum[i] == 0 && cnt[i] == 0);
}
