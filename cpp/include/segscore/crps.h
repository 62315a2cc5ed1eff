// segscore/crps.h - continuous ranked probability score (CRPS) kernels.
//
//   CRPS(F, y) = integral over t of (F(t) - H(t - y))^2 dt
//
// for a forecast distribution F and an observation y.  Two forecast kinds:
//
//   * a Normal N(mu, sigma^2): closed form (Gneiting et al. 2005, eq. 5)
//       CRPS = sigma * (z * erf(z / sqrt 2) + 2 phi(z) - 1 / sqrt(pi)),  z = (y - mu) / sigma
//     (erf(z / sqrt 2) = 2 Phi(z) - 1).  sigma = 0 gives |y - mu|, the CRPS of a point mass
//     and the limit sigma -> 0 (properscoring 0.1 returns NaN there).
//
//   * an ensemble (the weighted empirical distribution of m members): exact, by sorting the
//     members (O(m log m)) and integrating the step CDF piece by piece, with properscoring
//     0.1's definition (its numba gufunc) of missing values and weights:
//       - a NaN observation gives NaN;
//       - NaN members are ignored (and so are their weights);
//       - no non-NaN member left gives NaN;
//       - a negative or NaN weight of a non-NaN member gives NaN;
//       - weights are normalised by their sum over the non-NaN members (a zero sum gives NaN).
//     Each step of the integral is a non-negative term, so no cancellation occurs.
//
// Everything here is usable from g++, nvcc and NVRTC: raw pointers, no allocation (the
// caller provides the scratch space), no STL.
#pragma once
#include "segscore/common.h"

namespace segscore {

constexpr double kCrpsInvSqrtPi = 0.564189583547756286948;     // 1 / sqrt(pi)
constexpr double kCrpsInvSqrt2Pi = 0.398942280401432677940;    // 1 / sqrt(2 pi)
constexpr double kCrpsInvSqrt2 = 0.707106781186547524401;      // 1 / sqrt(2)

// CRPS of N(mu, sigma^2) against y.  sigma must be >= 0 (checked by the caller); NaN
// inputs give NaN.
SEGSCORE_HD SEGSCORE_INLINE double crps_gaussian(double y, double mu, double sigma) {
  if (sigma == 0.0) return fabs(y - mu);
  const double z = (y - mu) / sigma;
  const double pdf = kCrpsInvSqrt2Pi * exp(-0.5 * z * z);
  return sigma * (z * erf(z * kCrpsInvSqrt2) + 2.0 * pdf - kCrpsInvSqrtPi);
}

// ---------------------------------------------------------------------------------------
// Sorting without allocation: insertion sort on runs of kSortRun keys, then bottom-up
// merges that alternate between (key, pay) and the scratch (tkey, tpay).  O(n log n).
// `pay` (a payload moved with its key, e.g. the weights) may be null, and then so may tpay.
// Returns true when the sorted result ended in the scratch arrays, false when in key/pay.
// Keys must not be NaN.

constexpr int64_t kSortRun = 16;

SEGSCORE_HD SEGSCORE_INLINE void insertion_sort(double* key, double* pay, int64_t n) {
  for (int64_t i = 1; i < n; ++i) {
    const double k = key[i];
    const double p = pay ? pay[i] : 0.0;
    int64_t j = i;
    while (j > 0 && k < key[j - 1]) {
      key[j] = key[j - 1];
      if (pay) pay[j] = pay[j - 1];
      --j;
    }
    key[j] = k;
    if (pay) pay[j] = p;
  }
}

SEGSCORE_HD SEGSCORE_INLINE void merge_runs(const double* ka, const double* pa, int64_t lo, int64_t mid, int64_t hi,
                                            double* kb, double* pb) {
  int64_t i = lo, j = mid, o = lo;
  while (i < mid && j < hi) {
    if (ka[j] < ka[i]) {  // stable: equal keys keep their order
      kb[o] = ka[j];
      if (pa) pb[o] = pa[j];
      ++j;
    } else {
      kb[o] = ka[i];
      if (pa) pb[o] = pa[i];
      ++i;
    }
    ++o;
  }
  for (; i < mid; ++i, ++o) {
    kb[o] = ka[i];
    if (pa) pb[o] = pa[i];
  }
  for (; j < hi; ++j, ++o) {
    kb[o] = ka[j];
    if (pa) pb[o] = pa[j];
  }
}

SEGSCORE_HD SEGSCORE_INLINE bool sort_with_payload(double* key, double* pay, int64_t n, double* tkey, double* tpay) {
  for (int64_t lo = 0; lo < n; lo += kSortRun) insertion_sort(key + lo, pay ? pay + lo : nullptr,
                                                              (n - lo < kSortRun) ? n - lo : kSortRun);
  double* ka = key;
  double* pa = pay;
  double* kb = tkey;
  double* pb = pay ? tpay : nullptr;
  bool in_scratch = false;
  for (int64_t width = kSortRun; width < n; width *= 2) {
    for (int64_t lo = 0; lo < n; lo += 2 * width) {
      const int64_t mid = (lo + width < n) ? lo + width : n;
      const int64_t hi = (lo + 2 * width < n) ? lo + 2 * width : n;
      merge_runs(ka, pa, lo, mid, hi, kb, pb);
    }
    double* t = ka;
    ka = kb;
    kb = t;
    t = pa;
    pa = pb;
    pb = t;
    in_scratch = !in_scratch;
  }
  return in_scratch;
}

// ---------------------------------------------------------------------------------------
// The integral of (F(t) - H(t - y))^2 for the step CDF F of sorted, non-NaN members
// x[0..n) (n >= 1) with weights w (null: equal weights) summing to total_weight.  This is
// properscoring 0.1's loop, term for term, so that every edge case (ties, +-inf) agrees.
SEGSCORE_HD SEGSCORE_INLINE double crps_sorted_members(double y, const double* x, const double* w, int64_t n,
                                                       double total_weight) {
  double obs_cdf = 0.0, fc_cdf = 0.0, prev = 0.0, integral = 0.0;
  const double step = 1.0 / total_weight;  // equal weights: 1 / n
  for (int64_t i = 0; i < n; ++i) {
    const double f = x[i];
    if (obs_cdf == 0.0 && y < f) {
      integral += (y - prev) * fc_cdf * fc_cdf;
      integral += (f - y) * (fc_cdf - 1.0) * (fc_cdf - 1.0);
      obs_cdf = 1.0;
    } else {
      integral += (f - prev) * (fc_cdf - obs_cdf) * (fc_cdf - obs_cdf);
    }
    fc_cdf += w ? w[i] / total_weight : step;
    prev = f;
  }
  if (obs_cdf == 0.0) integral += y - prev;
  return integral;
}

// CRPS of the ensemble members[i * mstride], i < m, with optional weights[i * wstride],
// against y (see the top of this file for missing values and weights).  `scratch` holds
// 2 m doubles without weights, 4 m with.
template <typename TM, typename TW>
SEGSCORE_HD double crps_ensemble(double y, const TM* members, int64_t mstride, const TW* weights, int64_t wstride,
                                 int64_t m, double* scratch) {
  const double nan = 0.0 / 0.0;
  if (y != y) return nan;
  double* x = scratch;
  double* tx = scratch + m;
  double* w = weights ? scratch + 2 * m : nullptr;
  double* tw = weights ? scratch + 3 * m : nullptr;
  int64_t n = 0;
  bool bad_weight = false;
  for (int64_t i = 0; i < m; ++i) {
    const double v = double(members[i * mstride]);
    if (v != v) continue;  // missing member: ignored with its weight
    x[n] = v;
    if (weights) {
      const double wi = double(weights[i * wstride]);
      if (!(wi >= 0.0)) bad_weight = true;  // negative or NaN
      w[n] = wi;
    }
    ++n;
  }
  if (n == 0 || bad_weight) return nan;
  if (sort_with_payload(x, w, n, tx, tw)) {
    x = tx;
    w = tw;
  }
  double total = double(n);
  if (weights) {
    total = 0.0;
    for (int64_t i = 0; i < n; ++i) total += w[i];  // in sorted order, as properscoring
    if (!(total > 0.0)) return nan;
  }
  return crps_sorted_members(y, x, w, n, total);
}

}  // namespace segscore
