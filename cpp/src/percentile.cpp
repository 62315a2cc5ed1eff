// Weighted nearest-rank percentile: selection plus an exact decision, see
// percentile.h.
//
// Why the result is the numpy one.  Let the distinct distances be
// D_1 < ... < D_K, C_k the exact weight of the elements with d <= D_k and T
// the exact total.  With non-negative weights numpy's cumulative array is
// non-decreasing, so searchsorted(cum, p, "left") lands in the group
// k* = min{k : cum_end(k) >= p} (K when there is none; the clamp to n - 1
// lands in group K as well), where cum_end(k) is numpy's value at the last
// element of group k.  Whatever the order inside the groups and whatever
// summation numpy uses (sequential cumsum, pairwise sum), every partial sum
// of m non-negative terms is within gamma_m = m u / (1 - m u) (relative) of
// the exact one, u = 2^-53, so |cum_end(k) - C_k / T| <= (2 gamma_n + u) C_k / T
// plus a little.  The candidate D = D_k found by the selection is therefore
// numpy's answer when
//     k == 1 or  C_{k-1} / T + delta <  p   (numpy's cum_end(k-1) < p), and
//     k == K or  C_k / T     - delta >= p   (numpy's cum_end(k) >= p),
// with delta bounding numpy's error plus the error of the sums here.
#include "percentile.h"

#include <cmath>
#include <limits>
#include <utility>
#include <vector>

namespace segscore {

namespace {

struct Pair {
  double d, w;
};

// Weighted selection: a distance D with (weight below D) < t <= (weight up to
// D), up to rounding; `a` is permuted.  Expected O(n) (random pivots).
double select_weighted(std::vector<Pair>& a, double t) {
  int64_t b = 0, e = int64_t(a.size());
  uint64_t rng = 0x9E3779B97F4A7C15ull;
  for (;;) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    const double piv = a[b + int64_t(rng % uint64_t(e - b))].d;
    // 3-way partition of [b, e): [b, lt) < piv, [lt, gt) == piv, [gt, e) > piv
    int64_t lt = b, i = b, gt = e;
    double wl = 0, we = 0;
    while (i < gt) {
      const double x = a[i].d;
      if (x < piv) {
        wl += a[i].w;
        std::swap(a[lt++], a[i++]);
      } else if (x > piv) {
        std::swap(a[i], a[--gt]);
      } else {
        we += a[i].w;
        ++i;
      }
    }
    if (wl > 0 && t <= wl) {
      e = lt;
    } else if (t <= wl + we || gt == e) {
      return piv;
    } else {
      t -= wl + we;
      b = gt;
    }
  }
}

}  // namespace

double rank_percentile(const double* d, const double* w, int64_t n, double p, bool* ok) {
  *ok = false;
  if (n <= 0 || !(p >= 0) || !(p <= 1)) return 0.0;
  double total = 0, dmin = std::numeric_limits<double>::infinity();
  bool has_nan = false, bad_w = false;
  for (int64_t i = 0; i < n; ++i) {
    // NaN: numpy sorts it last; -0.0: equal to +0.0 there, but a different
    // result bit pattern depending on which one numpy's order lands on
    has_nan |= std::isnan(d[i]) || (d[i] == 0 && std::signbit(d[i]));
    bad_w |= !(w[i] >= 0 && w[i] < std::numeric_limits<double>::infinity());
    total += w[i];
    dmin = d[i] < dmin ? d[i] : dmin;
  }
  if (has_nan || bad_w || !(total > 0) || !(total < 1e300)) return 0.0;
  if (p == 0) {  // cum[0] >= 0 always: numpy returns the smallest distance
    *ok = true;
    return dmin;
  }
  std::vector<Pair> a(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) a[i] = Pair{d[i], w[i]};
  const double cand = select_weighted(a, p * total);
  // exact decision on the original arrays: weight strictly below / up to cand
  double below = 0, upto = 0;
  bool any_below = false, any_above = false;
  for (int64_t i = 0; i < n; ++i) {
    const double x = d[i];
    if (x < cand) {
      below += w[i];
      any_below = true;
    } else if (x == cand) {
      upto += w[i];
    } else {
      any_above = true;
    }
  }
  upto += below;
  // numpy's cum and the ratios here each within (2 gamma_n + u) of C/T (C <= T):
  // delta = 8 (n + 4) u covers both with a factor of two to spare.
  const double delta = 8.0 * (double(n) + 4.0) * std::ldexp(1.0, -53);
  const bool lower_ok = !any_below || below / total + delta < p;
  const bool upper_ok = !any_above || upto / total - delta >= p;
  if (!(lower_ok && upper_ok)) return 0.0;
  *ok = true;
  return cand;
}

}  // namespace segscore
