// Weighted nearest-rank percentile (DeepMind's rule) without a full sort.
#pragma once
#include <cstdint>

namespace segscore {

// The value python/segscore/metrics/surface/distances.py::_rank_percentile_numpy returns for
// float64 (d, w) and p = q / 100:
//     order = np.lexsort((w, d)); cum = np.cumsum(w[order]) / np.sum(w[order])
//     d[order][min(np.searchsorted(cum, p), n - 1)]
// found in expected O(n) by weighted selection over the distinct distances.
// The answer is one distance value D; numpy's rounded cumulative sums differ
// from the exact ones by at most a bound that is computed here, so D is
// returned only when the weight strictly below D and the weight up to D put p
// on the right sides of D with that bound to spare.  Otherwise (p within the
// rounding bound of a group boundary), or when an input is outside the
// domain handled here (n == 0, a NaN distance, a negative / non-finite
// weight, a zero or huge total), *ok is set to false and the caller must use
// the numpy formulation.
double rank_percentile(const double* d, const double* w, int64_t n, double p, bool* ok);

}  // namespace segscore
