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
  std::vector<double> pfg, pbg; // per channel: sum of p where every rater / no rater marks its label
  std::vector<int64_t> minmax;  // per map (raters, then the prediction): min, max value (0, -1 when empty)
  // calibration terms (MultiraterCalib.target given)
  std::vector<double> brier;          // per channel: sum of mr_brier_term
  std::vector<int64_t> cw_count;      // per channel x bin: voxels, correct voxels (C x nb x 2)
  std::vector<double> cw_conf;        // per channel x bin: sum of p
  std::vector<int64_t> top_count;     // per bin: voxels, correct voxels (nb x 2), top label over the channels
  std::vector<double> top_conf;       // per bin: sum of the top confidence
  std::vector<int64_t> top_rater;     // per rater x bin: voxels whose top label the rater marks
  std::vector<double> pmin, pmax;     // per channel (NaN left out; +inf, -inf when none)
  std::vector<int64_t> pnan;          // per channel: NaN values
  double rowdev = 0.0;                // largest |sum over the channels - 1| (top label only)
};

// The calibration part of the pass: a target label map (the reference), the bin edges
// (n_bins + 1) and whether the channels are a full softmax map (channel c = class
// chan_label[c]) whose top label is binned too.
struct MultiraterCalib {
  const ArrayView* target = nullptr;
  std::vector<double> edges;
  bool top = false;
  bool implicit_background = false;  // channel 0 = max(1 - sum of the given channels, 0) in float32
  bool channel_bins = true;          // false: the top label's terms only (no per-channel bins, Brier)
};

// One pass over K rater maps, an optional prediction (null) and C probability channels
// (float32 / float64 views shaped like the raters, any strides; chan_label[c] the label
// value channel c scores).  `seed`: labels that get a row even when absent.  Exact for any
// thread count, memory layout or voxel order (integer counts, fixed-point sums).
MultiraterResult multirater_stats(const std::vector<ArrayView>& raters, const ArrayView* pred,
                                  const std::vector<ArrayView>& probs, const std::vector<int64_t>& chan_label,
                                  const std::vector<int64_t>& seed, int threads,
                                  const MultiraterCalib& calib = MultiraterCalib());

// Consensus masks of K raters for the sorted labels: fg[i] (every rater marks labels[i]) and
// dis[i] (some but not all do), uint8 / bool views shaped like the raters, zeroed by the
// caller; one pass, each voxel's labels decided once.
void multirater_masks(const std::vector<ArrayView>& raters, const std::vector<int64_t>& labels,
                      const std::vector<void*>& fg, const std::vector<void*>& dis,
                      const std::vector<ArrayView>& fg_views, int threads);

}  // namespace segscore
