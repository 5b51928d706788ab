/* Kish's design effect of clustered samples (stats.h): how many independent values a sample
 * of frames is worth when frames of one scene (a near-duplicate cluster, a burst) are alike.
 * The intraclass correlation is the one-way ANOVA estimator
 *   rho = (MSB - MSW) / (MSB + (m0 - 1) MSW),
 *   MSB = SSB / (U - 1), MSW = SSW / (n - U), m0 = (n - sum m_u^2 / n) / (U - 1),
 * over the U units of sizes m_u, and deff = 1 + (sum m_u^2 / n - 1) rho. For one-hot vectors
 * (categories) the sums of squares add over the categories. */
#include <math.h>

#include "drift/stats.h"

/* deff from the sums of squares of n values in U units whose squared sizes add to sum_m2. */
static double deff_from(double ssb, double ssw, size_t n, size_t U, double sum_m2)
{
  if (U >= n)
    return 1; /* every value its own unit */
  if (U <= 1)
    return (double)n; /* one unit: one value's worth */
  double msb = ssb / (double)(U - 1), msw = ssw / (double)(n - U);
  double m0 = ((double)n - sum_m2 / (double)n) / (double)(U - 1);
  double den = msb + (m0 - 1) * msw, rho = den > 0 ? (msb - msw) / den : 1;
  rho = rho < 0 ? 0 : rho > 1 ? 1 : rho;
  return 1 + (sum_m2 / (double)n - 1) * rho;
}

double es_deff_numeric(const double *y, const uint32_t *unit, size_t n, double *sum,
                       double *cnt)
{
  double total = 0;
  size_t U = 0;
  for (size_t i = 0; i < n; i++) {
    U += cnt[unit[i]] == 0;
    sum[unit[i]] += y[i];
    cnt[unit[i]] += 1;
    total += y[i];
  }
  double g = n ? total / (double)n : 0, ssb = 0, ssw = 0, sum_m2 = 0;
  for (size_t i = 0; i < n; i++) {
    double mu = sum[unit[i]] / cnt[unit[i]];
    ssw += (y[i] - mu) * (y[i] - mu);
    ssb += (mu - g) * (mu - g); /* m_u (mu - g)^2 in m_u steps */
    sum_m2 += cnt[unit[i]];     /* m_u added m_u times: m_u^2 */
  }
  for (size_t i = 0; i < n; i++)
    sum[unit[i]] = cnt[unit[i]] = 0;
  return deff_from(ssb, ssw, n, U, sum_m2);
}

double es_deff_categorical(const uint32_t *cat, const uint32_t *unit, size_t n, size_t n_units,
                           size_t n_cats, uint32_t *order, double *cnt)
{
  /* the values grouped by unit (a counting sort): start[u] .. start[u + 1] in order[] */
  uint32_t *start = order, *by_unit = order + n_units + 1;
  for (size_t u = 0; u <= n_units; u++)
    start[u] = 0;
  for (size_t i = 0; i < n; i++)
    start[unit[i] + 1]++;
  for (size_t u = 0; u < n_units; u++)
    start[u + 1] += start[u];
  for (size_t i = 0; i < n; i++)
    by_unit[start[unit[i]]++] = (uint32_t)i;
  for (size_t u = n_units; u > 0; u--) /* shift back: start[u] is the unit's first again */
    start[u] = start[u - 1];
  start[0] = 0;
  /* SST = n - sum_k C_k^2 / n; SSW = sum_u (m_u - sum_k c_uk^2 / m_u); SSB = SST - SSW */
  for (size_t i = 0; i < n; i++)
    cnt[cat[i]] += 1;
  double sst = (double)n;
  for (size_t k = 0; k < n_cats; k++) {
    sst -= cnt[k] * cnt[k] / (double)(n ? n : 1);
    cnt[k] = 0;
  }
  double ssw = 0, sum_m2 = 0;
  size_t U = 0;
  for (size_t u = 0; u < n_units; u++) {
    size_t a = start[u], b = start[u + 1];
    if (a == b)
      continue;
    double m = (double)(b - a), sq = 0;
    U++;
    sum_m2 += m * m;
    for (size_t j = a; j < b; j++) {
      double c = cnt[cat[by_unit[j]]]++;
      sq += 2 * c + 1; /* (c + 1)^2 - c^2 */
    }
    for (size_t j = a; j < b; j++)
      cnt[cat[by_unit[j]]] = 0;
    ssw += m - sq / m;
  }
  double ssb = sst - ssw;
  return deff_from(ssb < 0 ? 0 : ssb, ssw, n, U, sum_m2);
}
