#pragma once
#include <cstdint>
#include <vector>

#include "array_view.h"

namespace segscore {

// One read of pred and ref: the joint histogram of (pred label, ref label)
// pairs and, per label, the bounding box of its voxels in each map.
struct OverlapStats {
  int ndim = 0;
  std::vector<int64_t> pairs;       // (p, r, count) triples, sorted by (p, r)
  std::vector<int64_t> pred_boxes;  // (label, lo_0..lo_{d-1}, hi_0..hi_{d-1}) rows, sorted by label
  std::vector<int64_t> ref_boxes;
  int64_t pred_min = 0, pred_max = 0, ref_min = 0, ref_max = 0;  // over all voxels (ignored ones too)
  int64_t counted = 0;  // voxels not ignored
};

// ignore_label < 0: none.  Voxels whose *reference* equals ignore_label are
// dropped from every count and box.
OverlapStats overlap_stats(const ArrayView& pred, const ArrayView& ref, int64_t ignore_label, int threads);

}  // namespace segscore
