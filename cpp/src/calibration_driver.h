// CPU driver of the calibration binning pass (kernel math: segscore/calibration.h).
#pragma once
#include <cstdint>
#include <vector>

#include "array_view.h"
#include "segscore/calibration.h"

namespace segscore {

struct CalibInput {
  ArrayView probs;             // float16 / 32 / 64 (float16 read by its bits): (C, *spatial) with
                               // the class axis at class_axis, or shaped like target
  int class_axis = -1;         // -1: binary input
  ArrayView target;            // integer / bool labels, spatial shape
  const ArrayView* mask = nullptr;  // optional, spatial shape; nonzero = counted
  bool has_ignore = false;
  int64_t ignore_label = 0;    // voxels whose label equals it are skipped (before validation)
};

struct CalibOptions {
  CalibParams params{};           // edges pointer must stay valid during the call
  bool want_scores = false;       // Brier and NLL sums
  int32_t brier_sum_form = 0;
  int threads = 0;
  // Reference arithmetic of a library that sums bins one element after another (torch's CPU
  // scatter_add_): 0 = segscore's float64 sums (blocked, deterministic); 32 / 64 = every
  // bin's confidence sum is a running float32 / float64 sum updated in logical C order,
  // each addition rounded to that type, starting from seq_init (streams * slots values,
  // nullptr = zeros: a stream carries its running sums from one update to the next).
  // Counts stay exact integers (a float32 count is min(count, 2^24): the caller derives it).
  int32_t seq_bits = 0;
  const double* seq_init = nullptr;
};

// Sufficient statistics of one pass.  Integer counts are exact; the double
// sums are accumulated per fixed block of voxels in logical C order and the
// blocks are added in index order, so every number is bit-identical for any
// thread count and any memory layout.
struct CalibStats {
  int32_t streams = 0, slots = 0;
  std::vector<int64_t> count;    // streams * slots
  std::vector<int64_t> correct;  // streams * slots
  std::vector<double> sum_conf;  // streams * slots
  double brier_sum = 0, nll_sum = 0;
  int64_t scored = 0;     // voxels with valid values and an in-range label (Brier / NLL denominator)
  int64_t voxels = 0;     // voxels counted (in the mask, label != ignore)
  int64_t invalid = 0;    // values that are NaN / outside [0, 1] (logits: NaN / inf)
  int64_t target_min = 0, target_max = 0;  // over the counted voxels (0, -1 when none)
};

CalibStats calibration_stats(const CalibInput& in, const CalibOptions& opt);

// Confidences of every counted voxel with valid values, stream-major
// (streams x n), in voxel order (for equal-mass bin edges).
struct CalibConfidences {
  int32_t streams = 0;
  int64_t n = 0;
  std::vector<double> values;
  int64_t voxels = 0, invalid = 0, target_min = 0, target_max = 0;
};

CalibConfidences calibration_confidences(const CalibInput& in, const CalibOptions& opt);

}  // namespace segscore
