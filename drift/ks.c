/* The two-sample Kolmogorov-Smirnov test and the distributions behind its p-value, following
 * SciPy 1.10's ks_2samp(method='auto') choice: exact when max(n1, n2) <= 10,000 (equal sizes by
 * the alternating binomial series in Horner form, unequal sizes by counting the lattice paths
 * that stay strictly between the two diagonals, as probabilities so nothing overflows), else
 * kstwo.sf(D, round(n1 n2 / (n1 + n2))), whose own branches (Ruben-Gambino ends, Smirnov's
 * one-sided series, the Durbin matrix in Marsaglia-Tsang-Wang form, Pomeranz's recursion,
 * Pelz-Good's expansion) are taken at the same thresholds as SciPy's _kolmogn so that the numbers
 * agree. References: Simard and L'Ecuyer (2011), J. Stat. Software 39(11). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "drift/stats.h"

#define E128 128
static const double EP128 = 0x1p128;
static const double EM128 = 0x1p-128;

static double clip01(double p)
{
  return p < 0 ? 0 : p > 1 ? 1 : p;
}

/* ---- one-sided: Smirnov ------------------------------------------------------------------ */

/* Birnbaum-Tingey: P(D_n^+ >= x) = x sum_{j=0}^{floor(n(1-x))} C(n,j) (1-x-j/n)^(n-j)
 * (x+j/n)^(j-1). Every term is positive, so summing them in logs loses nothing to cancellation. */
double es_smirnov_sf(uint64_t n, double x)
{
  if (!(x > 0))
    return 1;
  if (x >= 1)
    return 0;
  double dn = (double)n;
  if (n == 1)
    return 1 - x;
  double lgn1 = lgamma(dn + 1);
  uint64_t jmax = (uint64_t)floor(dn * (1 - x));
  if (jmax > n)
    jmax = n;
  double sum = 0;
  for (uint64_t j = 0; j <= jmax; j++) {
    double dj = (double)j;
    double a = ((dn - dj) - dn * x) / dn; /* 1 - x - j/n without the cancellation of 1 - x */
    double b = x + dj / dn;
    if (a <= 0) {
      if (n - j == 0)
        a = 1; /* 0^0 */
      else
        continue;
    }
    double lt = lgn1 - lgamma(dj + 1) - lgamma(dn - dj + 1) + (dn - dj) * log(a) +
                (dj - 1) * log(b);
    sum += exp(lt);
  }
  return clip01(x * sum);
}

/* ---- two-sided one-sample: Kolmogorov ---------------------------------------------------- */

/* Durbin's matrix method in Marsaglia, Tsang and Wang's form: P(D_n <= d) = n!/n^n (H^n)_kk
 * with H (2k-1)x(2k-1), k = ceil(n d), scaled by 2^128 steps to stay in range. NaN when
 * memory fails. */
static double kolmogn_dmtw(uint64_t n, double d)
{
  if (d >= 1.0)
    return 1.0;
  double nd = (double)n * d;
  if (nd <= 0.5)
    return 0.0;
  size_t k = (size_t)ceil(nd);
  double h = (double)k - nd;
  size_t m = 2 * k - 1;
  double *H = calloc(m * m, sizeof *H), *P = calloc(m * m, sizeof *P);
  double *T = malloc(m * m * sizeof *T), *v = malloc(m * sizeof *v), *w = malloc(m * sizeof *w);
  double p = NAN;
  if (!H || !P || !T || !v || !w)
    goto cleanup;
  double fac = 1.0;
  for (size_t j = 1; j <= m; j++) {
    w[j - 1] = fac;
    fac /= (double)j;
    v[j - 1] = (1.0 - pow(h, (double)j)) * fac;
  }
  double base = 2 * h - 1.0;
  double tt = pow(base > 0 ? base : 0, (double)m) - 2 * pow(h, (double)m);
  v[m - 1] = (1.0 + tt) * fac;
  for (size_t i = 1; i < m; i++)
    for (size_t r = i - 1; r < m; r++)
      H[r * m + i] = w[r - (i - 1)];
  for (size_t r = 0; r < m; r++)
    H[r * m] = v[r];
  for (size_t c = 0; c < m; c++)
    H[(m - 1) * m + c] = v[m - 1 - c];
  for (size_t i = 0; i < m; i++)
    P[i * m + i] = 1.0;
  long expnt = 0, hexpnt = 0;
  for (uint64_t nn = n; nn > 0; nn /= 2) {
    if (nn % 2) {
      for (size_t r = 0; r < m; r++)
        for (size_t c = 0; c < m; c++) {
          double s = 0;
          for (size_t t = 0; t < m; t++)
            s += P[r * m + t] * H[t * m + c];
          T[r * m + c] = s;
        }
      memcpy(P, T, m * m * sizeof *T);
      expnt += hexpnt;
    }
    for (size_t r = 0; r < m; r++)
      for (size_t c = 0; c < m; c++) {
        double s = 0;
        for (size_t t = 0; t < m; t++)
          s += H[r * m + t] * H[t * m + c];
        T[r * m + c] = s;
      }
    memcpy(H, T, m * m * sizeof *T);
    hexpnt *= 2;
    if (fabs(H[(k - 1) * m + (k - 1)]) > EP128) {
      for (size_t i = 0; i < m * m; i++)
        H[i] /= EP128;
      hexpnt += E128;
    }
  }
  p = P[(k - 1) * m + (k - 1)];
  for (uint64_t i = 1; i <= n; i++) {
    p = (double)i * p / (double)n;
    if (fabs(p) < EM128) {
      p *= EP128;
      expnt -= E128;
    }
  }
  if (expnt != 0)
    p = ldexp(p, (int)expnt);
cleanup:
  free(H);
  free(P);
  free(T);
  free(v);
  free(w);
  return p;
}

static void pomeranz_j1j2(long i, long n, long ll, long ceilf, long roundf, long *j1o, long *j2o)
{
  long j1, j2;
  if (i == 0) {
    j1 = -ll - ceilf - 1;
    j2 = ll + ceilf - 1;
  } else {
    long ip1div2 = (i + 1) / 2, ip1mod2 = (i + 1) % 2;
    if (ip1mod2 == 0) {
      if (ip1div2 == n + 1) {
        j1 = n - ll - ceilf - 1;
        j2 = n + ll + ceilf - 1;
      } else {
        j1 = ip1div2 - 1 - ll - roundf - 1;
        j2 = ip1div2 + ll - 1 + ceilf - 1;
      }
    } else {
      j1 = ip1div2 - 1 - ll - 1;
      j2 = ip1div2 + ll + roundf - 1;
    }
  }
  *j1o = j1 + 2 > 0 ? j1 + 2 : 0;
  *j2o = j2 < n ? j2 : n;
}

/* Pomeranz (1974): P(D_n <= x) by a recursion over 2n+1 rows of convolutions (n <= 140 here). */
static double kolmogn_pomeranz(long n, double x)
{
  double t = (double)n * x;
  long ll = (long)floor(t);
  double f = t - (double)ll;
  double g = f < 1.0 - f ? f : 1.0 - f;
  long ceilf = f > 0 ? 1 : 0, roundf = f > 0.5 ? 1 : 0;
  long npwrs = 2 * (ll + 1);
  size_t len = (size_t)npwrs + 2 * (size_t)n + 8;
  double *buf = calloc(6 * len, sizeof *buf);
  if (!buf)
    return NAN;
  double *gp = buf, *tgp = buf + len, *ogp = buf + 2 * len, *V0 = buf + 3 * len,
         *V1 = buf + 4 * len, *conv = buf + 5 * len;
  gp[0] = tgp[0] = ogp[0] = 1.0;
  double gn = g / (double)n, tgn = 2 * g / (double)n, ogn = (1 - 2 * g) / (double)n;
  for (long m = 1; m < npwrs; m++) {
    gp[m] = gp[m - 1] * gn / (double)m;
    tgp[m] = tgp[m - 1] * tgn / (double)m;
    ogp[m] = ogp[m - 1] * ogn / (double)m;
  }
  long expnt = 0;
  V1[0] = 1;
  long V0s = 0, V1s = 0, j1, j2;
  pomeranz_j1j2(0, n, ll, ceilf, roundf, &j1, &j2);
  for (long i = 1; i < 2 * n + 2; i++) {
    long k1 = j1;
    double *sw = V0;
    V0 = V1;
    V1 = sw;
    long s = V0s;
    V0s = V1s;
    V1s = s;
    memset(V1, 0, (size_t)npwrs * sizeof *V1);
    pomeranz_j1j2(i, n, ll, ceilf, roundf, &j1, &j2);
    const double *pw = (i == 1 || i == 2 * n + 1) ? gp : (i % 2 ? tgp : ogp);
    long ln2 = j2 - k1 + 1;
    if (ln2 > 0) {
      /* conv = full convolution of V0[k1-V0s .. +ln2) with pw[0 .. ln2) (numpy slices stop at
       * the array's end, so do ours) */
      long off = k1 - V0s;
      long la = ln2, lb = ln2 < npwrs ? ln2 : npwrs;
      if (off + la > npwrs)
        la = npwrs - off;
      if (la < 0)
        la = 0;
      long lc = la + lb - 1;
      for (long c = 0; c < lc; c++) {
        double acc = 0;
        for (long a = 0; a < la; a++) {
          long b = c - a;
          if (b >= 0 && b < lb)
            acc += V0[off + a] * pw[b];
        }
        conv[c] = acc;
      }
      long cstart = j1 - k1, clen = j2 - j1 + 1;
      double mx = 0;
      for (long c = 0; c < clen; c++) {
        long src = cstart + c;
        V1[c] = (src >= 0 && src < lc) ? conv[src] : 0;
        if (V1[c] > mx)
          mx = V1[c];
      }
      if (0 < mx && mx < EM128) {
        for (long c = 0; c < npwrs; c++)
          V1[c] *= EP128;
        expnt -= E128;
      }
      V1s = V0s + j1 - k1;
    }
  }
  double ans = V1[n - V1s];
  for (long m = 1; m <= n; m++) {
    if (fabs(ans) > EP128) {
      ans *= EM128;
      expnt += E128;
    }
    ans *= (double)m;
  }
  if (expnt != 0)
    ans = ldexp(ans, (int)expnt);
  free(buf);
  return ans;
}

/* Pelz and Good (1976): P(D_n <= x) ~ K0 + K1/sqrt(n) + K2/n + K3/n^1.5 in theta form. */
static double kolmogn_pelzgood(uint64_t n, double x)
{
  if (x <= 0.0)
    return 0.0;
  if (x >= 1.0)
    return 1.0;
  const double pi2 = M_PI * M_PI, pi4 = pi2 * pi2, pi6 = pi4 * pi2;
  const double sqrt2pi = sqrt(2 * M_PI);
  double z = sqrt((double)n) * x;
  double z2 = z * z, z3 = z2 * z, z4 = z2 * z2, z6 = z4 * z2;
  double qlog = -pi2 / 8 / z2;
  if (qlog < -708)
    return 0.0;
  double q = exp(qlog);
  double k1a = -z2, k1b = pi2 / 4;
  double k2a = 6 * z6 + 2 * z4, k2b = (2 * z4 - 5 * z2) * pi2 / 4, k2c = pi4 * (1 - 2 * z2) / 16;
  double k3d = pi6 * (5 - 30 * z2) / 64, k3c = pi4 * (-60 * z2 + 212 * z4) / 16;
  double k3b = pi2 * (135 * z4 - 96 * z6) / 4, k3a = -30 * z6 - 90 * pow(z, 8);
  double K[4] = {0, 0, 0, 0};
  long maxk = (long)ceil(16 * z / M_PI);
  for (long k = maxk; k > 0; k--) {
    double m = (double)(2 * k - 1);
    double m2 = m * m, m4 = m2 * m2, m6 = m4 * m2;
    double qp = pow(q, (double)(8 * k));
    double c[4] = {1.0, k1a + k1b * m2, k2a + k2b * m2 + k2c * m4,
                   k3a + k3b * m2 + k3c * m4 + k3d * m6};
    for (int i = 0; i < 4; i++)
      K[i] = K[i] * qp + c[i];
  }
  double den[4] = {z, 6 * z4, 72 * pow(z, 7), 6480 * pow(z, 10)};
  for (int i = 0; i < 4; i++)
    K[i] = K[i] * q * sqrt2pi / den[i];
  q = exp(-pi2 / 2 / z2);
  double sqrt3z = sqrt(3.0) * z, k2extra = 0, k3extra = 0;
  for (long k = maxk; k > 0; k--) {
    double kk = (double)k, ks2 = kk * kk, qp = pow(q, ks2), kspi = M_PI * kk;
    k2extra += ks2 * qp;
    k3extra += (sqrt3z + kspi) * (sqrt3z - kspi) * ks2 * qp;
  }
  K[2] += k2extra * pi2 * sqrt2pi / (-36 * z3);
  K[3] += k3extra * pi2 * sqrt2pi / (216 * z6);
  double sum = 0;
  for (int i = 0; i < 4; i++)
    sum += K[i] / pow((double)n, i / 2.0);
  return sum;
}

/* SciPy's _kolmogn(n, x, cdf=False), branch for branch. */
double es_kolmogorov_sf(uint64_t n, double x)
{
  if (n == 0)
    return NAN;
  if (x >= 1.0)
    return 0.0;
  if (x <= 0.0)
    return 1.0;
  double dn = (double)n, t = dn * x;
  if (t <= 1.0) {
    if (t <= 0.5)
      return 1.0;
    double cdf;
    if (n <= 140) {
      cdf = 1.0;
      for (uint64_t i = 1; i <= n; i++)
        cdf *= (double)i * (1.0 / dn) * (2 * t - 1);
    } else {
      cdf = exp(lgamma(dn + 1) - dn * log(dn) + dn * log(2 * t - 1));
    }
    return clip01(1.0 - cdf);
  }
  if (t >= dn - 1)
    return clip01(2 * pow(1.0 - x, dn));
  if (x >= 0.5)
    return clip01(2 * es_smirnov_sf(n, x));
  double nx2 = t * x;
  if (n <= 140) {
    if (nx2 <= 0.754693)
      return clip01(1.0 - kolmogn_dmtw(n, x));
    if (nx2 <= 4)
      return clip01(1.0 - kolmogn_pomeranz((long)n, x));
    return clip01(2 * es_smirnov_sf(n, x));
  }
  if (nx2 >= 370.0)
    return 0.0;
  if (nx2 >= 2.2)
    return clip01(2 * es_smirnov_sf(n, x));
  double cdf;
  if (nx2 >= 18.0)
    cdf = 1.0;
  else if (n <= 100000 && dn * pow(x, 1.5) <= 1.4)
    cdf = kolmogn_dmtw(n, x);
  else
    cdf = kolmogn_pelzgood(n, x);
  return clip01(1.0 - cdf);
}

/* ---- two-sample exact ------------------------------------------------------------------- */

static uint64_t gcd64(uint64_t a, uint64_t b)
{
  while (b) {
    uint64_t t = a % b;
    a = b;
    b = t;
  }
  return a;
}

/* P(D >= h/lcm). Equal sizes: 2 sum_k (-1)^k C(2n, n-kh)/C(2n, n) in Horner form. Unequal:
 * 1 - (share of lattice paths from (0,0) to (m,n) with |x ng - y mg| < h throughout), each
 * column of path shares A(i,j) = paths / C(i+j, j) = (i A(i-1,j) + j A(i,j-1)) / (i+j). */
double es_ks2_exact_sf(uint64_t n1, uint64_t n2, uint64_t h)
{
  if (h == 0)
    return 1.0;
  if (n1 == n2) {
    uint64_t n = n1;
    double P = 0.0;
    for (int64_t k = (int64_t)(n / h); k >= 0; k--) {
      double p1 = 1.0;
      uint64_t kh = (uint64_t)k * h;
      for (uint64_t j = 0; j < h; j++) {
        double num = (double)n - (double)kh - (double)j;
        p1 = num * p1 / ((double)n + (double)kh + (double)j + 1);
      }
      P = p1 * (1.0 - P);
    }
    return clip01(2 * P);
  }
  uint64_t m = n1 > n2 ? n1 : n2, n = n1 > n2 ? n2 : n1;
  uint64_t g = gcd64(m, n), mg = m / g, ng = n / g;
  double *A = calloc(n + 1, sizeof *A);
  if (!A)
    return -1;
  /* column i = 0: |mg j| < h */
  uint64_t hi = (h + mg - 1) / mg; /* j < h/mg */
  if (hi > n + 1)
    hi = n + 1;
  for (uint64_t j = 0; j < hi; j++)
    A[j] = 1.0;
  double inside = 0;
  int dead = 0;
  for (uint64_t i = 1; i <= m; i++) {
    /* |ng i - mg j| < h  <=>  (ng i - h)/mg < j < (ng i + h)/mg */
    int64_t lo_num = (int64_t)(ng * i) - (int64_t)h;
    uint64_t lo = lo_num < 0 ? 0 : (uint64_t)lo_num / mg + 1;
    uint64_t up = (ng * i + h + mg - 1) / mg; /* exclusive */
    if (up > n + 1)
      up = n + 1;
    if (lo > n || up <= lo) {
      dead = 1;
      break;
    }
    double val = 0.0; /* A(i, lo-1) is outside the band */
    for (uint64_t j = lo; j < up; j++) {
      val = ((double)i * A[j] + (double)j * val) / (double)(i + j);
      A[j] = val;
    }
  }
  if (!dead)
    inside = A[n];
  free(A);
  return clip01(1.0 - inside);
}

/* D = max |i/na - j/nb| over the points of the pooled sample, as the integer |i nb - j na| (so
 * that the exact branch gets h without rounding). */
static uint64_t ks_best(const double *a, size_t na, const double *b, size_t nb)
{
  size_t i = 0, j = 0;
  uint64_t best = 0;
  while (i < na && j < nb) {
    double v = a[i] < b[j] ? a[i] : b[j];
    while (i < na && a[i] <= v)
      i++;
    while (j < nb && b[j] <= v)
      j++;
    int64_t diff = (int64_t)((uint64_t)i * nb) - (int64_t)((uint64_t)j * na);
    uint64_t ad = (uint64_t)(diff < 0 ? -diff : diff);
    if (ad > best)
      best = ad;
  }
  /* once one side is exhausted the difference only shrinks toward 0 */
  return best;
}

double es_ks_statistic(const double *a, size_t na, const double *b, size_t nb)
{
  return na && nb ? (double)ks_best(a, na, b, nb) / ((double)na * (double)nb) : 0;
}

int es_ks_2samp(const double *a, size_t na, const double *b, size_t nb, es_ks_result *r)
{
  if (na == 0 || nb == 0)
    return -1;
  uint64_t best = ks_best(a, na, b, nb);
  uint64_t g = gcd64(na, nb);
  double d = (double)best / ((double)na * (double)nb);
  if (na <= ES_KS_EXACT_MAX_N && nb <= ES_KS_EXACT_MAX_N) {
    uint64_t h = best / g; /* D * lcm, exact */
    double p = es_ks2_exact_sf(na, nb, h);
    if (p < 0)
      return -1;
    r->statistic = (double)h / ((double)(na / g) * (double)nb);
    r->p = p;
    r->exact = 1;
    return 0;
  }
  double m = (double)(na > nb ? na : nb), n = (double)(na > nb ? nb : na);
  double en = m * n / (m + n);
  uint64_t ne = (uint64_t)nearbyint(en);
  if (ne == 0)
    ne = 1;
  r->statistic = d;
  r->p = es_kolmogorov_sf(ne, d);
  r->exact = 0;
  return 0;
}

double es_ks_p(double d, uint64_t n1, uint64_t n2, int *exact)
{
  if (n1 == 0 || n2 == 0)
    return 1;
  if (n1 <= ES_KS_EXACT_MAX_N && n2 <= ES_KS_EXACT_MAX_N) {
    uint64_t g = gcd64(n1, n2);
    double lcm = (double)(n1 / g) * (double)n2;
    double h = ceil(d * lcm - 1e-9);
    double p = es_ks2_exact_sf(n1, n2, h < 0 ? 0 : (uint64_t)h);
    if (p >= 0) {
      *exact = 1;
      return p;
    }
  }
  double m = (double)(n1 > n2 ? n1 : n2), n = (double)(n1 > n2 ? n2 : n1);
  uint64_t ne = (uint64_t)nearbyint(m * n / (m + n));
  *exact = 0;
  return es_kolmogorov_sf(ne ? ne : 1, d);
}
