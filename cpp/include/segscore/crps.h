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
//     members and integrating the step CDF piece by piece (properscoring 0.1's loop, term
//     for term), with properscoring 0.1's definition (its numba gufunc) of missing values
//     and weights:
//       - a NaN observation gives NaN;
//       - NaN members are ignored (and so are their weights);
//       - no non-NaN member left gives NaN;
//       - a negative or NaN weight of a non-NaN member gives NaN;
//       - weights are normalised by their sum over the non-NaN members (a zero sum gives NaN).
//     Each step of the integral is a non-negative term, so no cancellation occurs.
//     crps_ensemble() below sorts one ensemble with a branch-free merge sort (O(m log m));
//     the CPU driver sorts 8 ensembles side by side with a sorting network for m <= 128
//     (vectorised across ensembles) and integrates them with the same crps_ensemble_step.
//
// Everything here is usable from g++, nvcc and NVRTC: raw pointers, no allocation (the
// caller provides the scratch space), no STL.
#pragma once
#include "segscore/common.h"

// Forced inlining on the host too: the CPU driver calls these from loops compiled for
// several instruction sets (target clones), where a call would pass vectors through memory.
#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#define SEGSCORE_CRPS_INLINE __forceinline__
#elif defined(__GNUC__)
#define SEGSCORE_CRPS_INLINE inline __attribute__((always_inline))
#else
#define SEGSCORE_CRPS_INLINE inline
#endif

namespace segscore {

constexpr double kCrpsInvSqrtPi = 0.564189583547756286948;     // 1 / sqrt(pi)
constexpr double kCrpsInvSqrt2Pi = 0.398942280401432677940;    // 1 / sqrt(2 pi)
constexpr double kCrpsInvSqrt2 = 0.707106781186547524401;      // 1 / sqrt(2)

// exp(x) for x <= 0 without branches, so that CPU loops over it vectorise: Cody-Waite
// reduction x = k ln2 + r (|r| <= ln2 / 2; ln2 split as in fdlibm), a degree-13 Taylor
// polynomial of e^r (truncation < 5e-18 relative) and 2^k built from its bit pattern.
// x < -708 gives 0 (the Gaussian CRPS terms that use it are then below 1e-307 next to
// terms of order 1).  NaN gives NaN.  On the GPU the device exp is used.
SEGSCORE_HD SEGSCORE_CRPS_INLINE double exp_nonpos(double x) {
#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
  return x < -708.0 ? 0.0 : exp(x);
#else
  const double xc = x < -708.0 ? -708.0 : x;
  const double shifter = 6755399441055744.0;  // 1.5 * 2^52: adding it rounds to an integer
  const double t = xc * 1.4426950408889634074 + shifter;
  const double k = t - shifter;
  const double r = (xc - k * 6.93147180369123816490e-01) - k * 1.90821492927058770002e-10;
  double p = 1.0 / 6227020800.0;  // 1/13!
  p = p * r + 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  // t = 1.5 * 2^52 + k: its low mantissa bits hold k (two's complement); k + 1023 in
  // [1, 1023] becomes the exponent field of 2^k.
  union {
    double d;
    uint64_t u;
  } bits, scale;
  bits.d = t;
  scale.u = (bits.u + 1023u) << 52;
  return x < -708.0 ? 0.0 : p * scale.d;
#endif
}

// erf(x) for x >= 0, given e = exp(-x^2): W. J. Cody's rational Chebyshev approximations
// (Math. Comp. 23, 631-638, 1969; the coefficients of his CALERF), accurate to ~1e-16.
// All three ranges are evaluated and one is selected (no branches: vectorises on the CPU).
// Taking exp(-x^2) from the caller lets the Gaussian CRPS share one exp with the pdf.
SEGSCORE_HD SEGSCORE_CRPS_INLINE double erf_nonneg_with_exp(double x, double e) {
  // [0, 0.46875]: erf = x R1(x^2)
  const double t1 = x * x;
  const double n1 = (((1.85777706184603153e-1 * t1 + 3.16112374387056560e0) * t1 + 1.13864154151050156e2) * t1 +
                     3.77485237685302021e2) * t1 + 3.20937758913846947e3;
  const double d1 = (((t1 + 2.36012909523441209e1) * t1 + 2.44024637934444173e2) * t1 + 1.28261652607737228e3) * t1 +
                    2.84423683343917062e3;
  // (0.46875, 4]: erfc = e R2(x)
  const double n2 = (((((((2.15311535474403846e-8 * x + 5.64188496988670089e-1) * x + 8.88314979438837594e0) * x +
                         6.61191906371416295e1) * x + 2.98635138197400131e2) * x + 8.81952221241769090e2) * x +
                      1.71204761263407058e3) * x + 2.05107837782607147e3) * x + 1.23033935479799725e3;
  const double d2 = (((((((x + 1.57449261107098347e1) * x + 1.17693950891312499e2) * x + 5.37181101862009858e2) * x +
                        1.62138957456669019e3) * x + 3.29079923573345963e3) * x + 4.36261909014324716e3) * x +
                     3.43936767414372164e3) * x + 1.23033935480374942e3;
  // (4, inf): erfc = e (1/sqrt(pi) - t R3(t)) / x, t = 1/x^2
  const double xs = x > 4.0 ? x : 4.0;  // keeps the unused range finite
  const double t3 = 1.0 / (xs * xs);
  const double n3 = ((((1.63153871373020978e-2 * t3 + 3.05326634961232344e-1) * t3 + 3.60344899949804439e-1) * t3 +
                      1.25781726111229246e-1) * t3 + 1.60837851487422766e-2) * t3 + 6.58749161529837803e-4;
  const double d3 = ((((t3 + 2.56852019228982242e0) * t3 + 1.87295284992346047e0) * t3 + 5.27905102951428412e-1) * t3 +
                     6.05183413124413191e-2) * t3 + 2.33520497626869185e-3;
  const double r1 = x * n1 / d1;
  const double r2 = 1.0 - e * (n2 / d2);
  const double r3 = 1.0 - e * ((kCrpsInvSqrtPi * d3 - t3 * n3) / (d3 * xs));
  return x <= 0.46875 ? r1 : (x <= 4.0 ? r2 : r3);
}

// CRPS of N(mu, sigma^2) against y.  sigma must be >= 0 (checked by the caller); NaN
// inputs give NaN.  z erf(z / sqrt 2) = |z| erf(|z| / sqrt 2); exp(-z^2 / 2) serves both
// the pdf and erf.  Branch-free (selects), so CPU loops over it vectorise.
SEGSCORE_HD SEGSCORE_CRPS_INLINE double crps_gaussian(double y, double mu, double sigma) {
  const double d = y - mu;
  const double z = fabs(d / sigma);
  const double e = exp_nonpos(-0.5 * z * z);
  const double c = sigma * (z * erf_nonneg_with_exp(z * kCrpsInvSqrt2, e) + (2.0 * kCrpsInvSqrt2Pi) * e -
                            kCrpsInvSqrtPi);
  // z > 40: exp(-z^2 / 2) underflows to 0 and erf(z / sqrt 2) rounds to 1, so c is
  // sigma * z - sigma / sqrt(pi) = |d| - sigma / sqrt(pi) to rounding; written that way
  // because z itself overflows when sigma is subnormal (sigma * inf would give inf).
  return sigma == 0.0 ? fabs(d) : (z > 40.0 ? fabs(d) - sigma * kCrpsInvSqrtPi : c);
}

// ---------------------------------------------------------------------------------------
// Sorting without allocation: runs of kSortRun keys sorted by a 19-comparator network
// (the last, shorter run by insertion), then bottom-up merges alternating between
// (key, pay) and the scratch (tkey, tpay).  Compare-exchanges and merge steps are written
// as selects so that compilers emit branch-free code (min/max, conditional moves): the
// data-dependent branches of a textbook sort mispredict half the time.  O(n log n).
// `pay` (a payload moved with its key, e.g. the weights) may be null, and then so may
// tpay.  Returns true when the sorted result ended in the scratch arrays, false when in
// key/pay.  Keys must not be NaN.

constexpr int64_t kSortRun = 8;

template <bool kPay>
SEGSCORE_HD SEGSCORE_INLINE void compare_exchange(double* k, double* p, int a, int b) {
  const double ka = k[a], kb = k[b];
  const bool swap = kb < ka;
  k[a] = swap ? kb : ka;
  k[b] = swap ? ka : kb;
  if (kPay) {
    const double pa = p[a], pb = p[b];
    p[a] = swap ? pb : pa;
    p[b] = swap ? pa : pb;
  }
}

template <bool kPay>
SEGSCORE_HD SEGSCORE_INLINE void sort8(double* k, double* p) {
  // Batcher's odd-even merge network for 8 inputs (19 comparators, optimal)
  compare_exchange<kPay>(k, p, 0, 2); compare_exchange<kPay>(k, p, 1, 3);
  compare_exchange<kPay>(k, p, 4, 6); compare_exchange<kPay>(k, p, 5, 7);
  compare_exchange<kPay>(k, p, 0, 4); compare_exchange<kPay>(k, p, 1, 5);
  compare_exchange<kPay>(k, p, 2, 6); compare_exchange<kPay>(k, p, 3, 7);
  compare_exchange<kPay>(k, p, 0, 1); compare_exchange<kPay>(k, p, 2, 3);
  compare_exchange<kPay>(k, p, 4, 5); compare_exchange<kPay>(k, p, 6, 7);
  compare_exchange<kPay>(k, p, 2, 4); compare_exchange<kPay>(k, p, 3, 5);
  compare_exchange<kPay>(k, p, 1, 4); compare_exchange<kPay>(k, p, 3, 6);
  compare_exchange<kPay>(k, p, 1, 2); compare_exchange<kPay>(k, p, 3, 4);
  compare_exchange<kPay>(k, p, 5, 6);
}

template <bool kPay>
SEGSCORE_HD SEGSCORE_INLINE void insertion_sort(double* key, double* pay, int64_t n) {
  for (int64_t i = 1; i < n; ++i) {
    const double k = key[i];
    const double p = kPay ? pay[i] : 0.0;
    int64_t j = i;
    while (j > 0 && k < key[j - 1]) {
      key[j] = key[j - 1];
      if (kPay) pay[j] = pay[j - 1];
      --j;
    }
    key[j] = k;
    if (kPay) pay[j] = p;
  }
}

template <bool kPay>
SEGSCORE_HD SEGSCORE_INLINE void merge_runs(const double* ka, const double* pa, int64_t lo, int64_t mid, int64_t hi,
                                            double* kb, double* pb) {
  int64_t i = lo, j = mid, o = lo;
  while (i < mid && j < hi) {
    const double a = ka[i], b = ka[j];
    const bool take_b = b < a;  // stable: equal keys keep their order
    kb[o] = take_b ? b : a;
    if (kPay) pb[o] = take_b ? pa[j] : pa[i];
    j += take_b;
    i += !take_b;
    ++o;
  }
  for (; i < mid; ++i, ++o) {
    kb[o] = ka[i];
    if (kPay) pb[o] = pa[i];
  }
  for (; j < hi; ++j, ++o) {
    kb[o] = ka[j];
    if (kPay) pb[o] = pa[j];
  }
}

template <bool kPay>
SEGSCORE_HD bool sort_with_payload(double* key, double* pay, int64_t n, double* tkey, double* tpay) {
  int64_t lo = 0;
  for (; lo + kSortRun <= n; lo += kSortRun) sort8<kPay>(key + lo, kPay ? pay + lo : nullptr);
  insertion_sort<kPay>(key + lo, kPay ? pay + lo : nullptr, n - lo);
  double* ka = key;
  double* pa = pay;
  double* kb = tkey;
  double* pb = tpay;
  bool in_scratch = false;
  for (int64_t width = kSortRun; width < n; width *= 2) {
    for (int64_t l = 0; l < n; l += 2 * width) {
      const int64_t mid = (l + width < n) ? l + width : n;
      const int64_t hi = (l + 2 * width < n) ? l + 2 * width : n;
      merge_runs<kPay>(ka, pa, l, mid, hi, kb, pb);
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
// The integral of (F(t) - H(t - y))^2 for the step CDF F of sorted, non-NaN members, one
// member at a time: properscoring 0.1's loop, term for term, so that every edge case (ties,
// +-inf) agrees.  State: obs_cdf (0 until the members pass y, then 1), fc_cdf (F before
// this member), prev (the previous member, 0 at the start), integral.  `dcdf` is this
// member's normalised weight.  Written with selects so that lane-parallel CPU loops vectorise.
// Generic in T (double here; a vector type works too): conditions combine with & and every
// choice is a select, so the CPU driver's loop over 8 ensembles vectorises.
template <typename T>
SEGSCORE_HD SEGSCORE_CRPS_INLINE void crps_ensemble_step(T y, T f, T dcdf, T& obs_cdf, T& fc_cdf, T& prev,
                                                         T& integral) {
  const auto crossing = (obs_cdf == 0.0) & (y < f);
  const T before = (y - prev) * fc_cdf * fc_cdf + (f - y) * (fc_cdf - 1.0) * (fc_cdf - 1.0);
  const T plain = (f - prev) * (fc_cdf - obs_cdf) * (fc_cdf - obs_cdf);
  integral = integral + (crossing ? before : plain);
  obs_cdf = crossing ? obs_cdf + 1.0 : obs_cdf;  // 0 -> 1 when the members pass y
  fc_cdf = fc_cdf + dcdf;
  prev = f;
}

// The tail after the last member: y beyond every member adds (y - last member).
template <typename T>
SEGSCORE_HD SEGSCORE_CRPS_INLINE T crps_ensemble_finish(T y, T obs_cdf, T prev, T integral) {
  return obs_cdf == 0.0 ? integral + (y - prev) : integral;
}

// The whole integral for sorted, non-NaN members x[0..n) (n >= 1) with weights w (null:
// equal weights) summing to total_weight.
SEGSCORE_HD SEGSCORE_INLINE double crps_sorted_members(double y, const double* x, const double* w, int64_t n,
                                                       double total_weight) {
  double obs_cdf = 0.0, fc_cdf = 0.0, prev = 0.0, integral = 0.0;
  const double step = 1.0 / total_weight;  // equal weights: 1 / n
  for (int64_t i = 0; i < n; ++i)
    crps_ensemble_step<double>(y, x[i], w ? w[i] / total_weight : step, obs_cdf, fc_cdf, prev, integral);
  return crps_ensemble_finish<double>(y, obs_cdf, prev, integral);
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
  const bool in_scratch =
      weights ? sort_with_payload<true>(x, w, n, tx, tw) : sort_with_payload<false>(x, w, n, tx, tw);
  if (in_scratch) {
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
