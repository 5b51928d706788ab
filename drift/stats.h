/* The statistics edgeset-drift is built on, as pure functions of arrays (no I/O, no allocation
 * visible to the caller), so that each can be checked against SciPy: the two-sample
 * Kolmogorov-Smirnov test with SciPy's method choice (exact lattice-path count when both samples
 * have at most 10,000 values, else the one-sample Kolmogorov distribution at the effective size
 * round(n1 n2 / (n1 + n2)), computed the way scipy.stats.kstwo does), Wasserstein-1 between
 * empirical distributions, the chi-squared test of homogeneity with the regularized incomplete
 * gamma function, the Jensen-Shannon distance (base 2), the population stability index and
 * Benjamini-Hochberg adjusted p-values. Definitions and tolerances: docs/drift.md. */
#ifndef ES_DRIFT_STATS_H
#define ES_DRIFT_STATS_H

#include <stddef.h>
#include <stdint.h>

/* Above this sample size (either side) the KS p-value is asymptotic (SciPy's MAX_AUTO_N). */
#define ES_KS_EXACT_MAX_N 10000

typedef struct es_ks_result {
  double statistic; /* sup |F_ref - F_cur| */
  double p;         /* two-sided p-value */
  int exact;        /* 1 = exact lattice-path p-value, 0 = asymptotic (kstwo at en) */
} es_ks_result;

/* Two-sided two-sample KS on ascending, NaN-free arrays (na, nb >= 1). Returns 0, or -1 when a
 * size is 0 or the exact computation needs memory that cannot be had (then nothing is set). */
int es_ks_2samp(const double *a, size_t na, const double *b, size_t nb, es_ks_result *r);

/* The statistic alone (0 when a side is empty): what es_ks_2samp() gives, without its p. */
double es_ks_statistic(const double *a, size_t na, const double *b, size_t nb);

/* The two-sided p-value of a two-sample KS statistic d as if the samples had n1 and n2
 * independent values (the effective sizes of clustered samples): the same method choice as
 * es_ks_2samp(); the exact branch takes P(D >= ceil(d lcm - 1e-9) / lcm). *exact tells which.
 * With the real sizes and d from es_ks_2samp() it gives es_ks_2samp()'s p. */
double es_ks_p(double d, uint64_t n1, uint64_t n2, int *exact);

/* P(D_n >= x) for the one-sided one-sample statistic D_n^+ (scipy.special.smirnov). */
double es_smirnov_sf(uint64_t n, double x);
/* P(D_n >= x) for the two-sided one-sample statistic (scipy.stats.kstwo.sf(x, n)). */
double es_kolmogorov_sf(uint64_t n, double x);
/* P(D_{n1,n2} >= h / lcm(n1, n2)): the exact two-sample two-sided tail; -1 when memory fails. */
double es_ks2_exact_sf(uint64_t n1, uint64_t n2, uint64_t h);

/* Wasserstein-1 distance between the empirical distributions of ascending arrays a and b. */
double es_wasserstein1(const double *a, size_t na, const double *b, size_t nb);

/* Regularized upper incomplete gamma Q(s, x) = Gamma(s, x) / Gamma(s), s > 0, x >= 0. */
double es_gamma_q(double s, double x);

typedef struct es_chi2_result {
  double statistic, p;
  unsigned dof; /* non-empty categories - 1; 0 means the test does not apply (p = 1) */
} es_chi2_result;

/* Chi-squared test of homogeneity of two count vectors over the same k categories (a 2 x k
 * contingency table, no continuity correction: scipy.stats.chi2_contingency(correction=False)).
 * Categories empty on both sides are left out. */
void es_chi2_homogeneity(const double *ref, const double *cur, size_t k, es_chi2_result *r);

/* Jensen-Shannon distance base 2 (0..1) between two count vectors, each normalized to sum 1
 * (scipy.spatial.distance.jensenshannon(p, q, base=2)); 0 when either sums to 0. */
double es_js_distance(const double *p, const double *q, size_t k);

/* Population stability index sum (c_i - r_i) ln(c_i / r_i) over shares that are each floored
 * at ES_PSI_EPSILON (so that an empty bin costs a finite amount). */
#define ES_PSI_EPSILON 1e-4
double es_psi(const double *ref, const double *cur, size_t k);

/* Bin edges from reference quantiles: the 1/bins ... (bins-1)/bins quantiles of the ascending
 * array a (linear interpolation, numpy's default), duplicates removed. Writes at most bins-1
 * edges into edges and returns how many. */
size_t es_quantile_edges(const double *a, size_t n, unsigned bins, double *edges);
/* The quantile q (0..1) of ascending a (linear interpolation between order statistics). */
double es_quantile(const double *a, size_t n, double q);
/* Counts of ascending a in the bins (-inf, e0], (e0, e1], ..., (e_last, inf): ne + 1 counts. */
void es_bin_counts(const double *a, size_t n, const double *edges, size_t ne, double *counts);

/* Kish's design effect of a clustered sample, deff = 1 + (m - 1) rho: rho is the one-way ANOVA
 * estimator of the intraclass correlation of the values over their units (clipped to [0, 1];
 * 1 when it is undefined because nothing varies), m = sum of squared unit sizes / n. The
 * sample then carries as much evidence as n / deff independent values. Values y[i] (numeric)
 * or categories cat[i] < n_cats (categorical: the one-hot vectors), unit[i] < n_units; 1 when
 * no unit holds two values, n when one unit holds all. The _cat form needs n_units + 1 + n
 * entries of scratch in order (and n_cats doubles in cnt); both use and zero sum/cnt arrays of
 * n_units (all zero on entry). */
double es_deff_numeric(const double *y, const uint32_t *unit, size_t n, double *sum,
                       double *cnt);
double es_deff_categorical(const uint32_t *cat, const uint32_t *unit, size_t n, size_t n_units,
                           size_t n_cats, uint32_t *order, double *cnt);

/* Benjamini-Hochberg adjusted p-values (monotone, capped at 1) of p[0..n) into q. idx is a
 * scratch array of n entries. */
void es_bh_adjust(const double *p, size_t n, double *q, size_t *idx);

/* Ascending sort of doubles (NaN-free; -0 before +0): an LSD radix sort on the order-preserving
 * integer image of the bits, so 1,000,000 values take four linear passes. Returns 0, or -1 when
 * its scratch (16 bytes a value) cannot be allocated (a is then unchanged). */
int es_sort_doubles(double *a, size_t n);

#endif
