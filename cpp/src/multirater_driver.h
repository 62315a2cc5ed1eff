// CPU driver of the one multi-rater pass (segscore/multirater.h): threads, strided walk.
#pragma once
#include <cstdint>
#include <vector>

#include "array_view.h"

namespace segscore {

struct MultiraterResult {
  std::vector<int64_t> labels;  // every value found in a rater or the prediction, and the seed labels; sorted
  std::vector<int64_t> stats;   // labels.size() x mr_width(K), the layout of segscore/multirater.h
  std::vector<double> psum;     // per probability channel: sum of p
  std::vector<double> pvsum;    // per channel: sum of p times the votes for the channel's label
  std::vector<int64_t> minmax;  // per map (raters, then the prediction): min, max value (0, -1 when empty)
};

// One pass over K rater maps, an optional prediction (null) and C probability channels
// (float32 / float64 views shaped like the raters, any strides; chan_label[c] the label
// value channel c scores).  `seed`: labels that get a row even when absent.  Exact for any
// thread count, memory layout or voxel order (integer counts, fixed-point sums).
MultiraterResult multirater_stats(const std::vector<ArrayView>& raters, const ArrayView* pred,
                                  const std::vector<ArrayView>& probs, const std::vector<int64_t>& chan_label,
                                  const std::vector<int64_t>& seed, int threads);

}  // namespace segscore
