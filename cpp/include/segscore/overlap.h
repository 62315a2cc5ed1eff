// segscore/overlap.h - per-line helpers of the single counting pass.
#pragma once
#include "segscore/common.h"

namespace segscore {

// min/max of a line of labels (for range validation after the pass).
SEGSCORE_HD SEGSCORE_INLINE void line_minmax(const int64_t* x, int64_t n, int64_t* mn, int64_t* mx) {
  int64_t a = *mn, b = *mx;
  for (int64_t i = 0; i < n; ++i) {
    a = x[i] < a ? x[i] : a;
    b = x[i] > b ? x[i] : b;
  }
  *mn = a;
  *mx = b;
}

// End of the run of identical (p, r) pairs starting at k.
SEGSCORE_HD SEGSCORE_INLINE int64_t run_end(const int64_t* p, const int64_t* r, int64_t k, int64_t n) {
  const int64_t a = p[k], b = r[k];
  int64_t j = k + 1;
  while (j < n && p[j] == a && r[j] == b) ++j;
  return j;
}

}  // namespace segscore
