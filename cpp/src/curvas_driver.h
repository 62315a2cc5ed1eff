// CPU driver of the CURVAS 2024 protocol's one pass (segscore.protocols.curvas2024): the
// multi-rater statistics of segscore/multirater.h plus what the challenge's evaluation adds
// -- the top-label calibration bins of torchmetrics' MulticlassCalibrationError over
// (background = 1 - sum of organs, organ 1, ..., organ C) with its float32 running bin sums
// in element order, one count of correct voxels per rater, the MONAI row counts of its
// consensus Dice, and the argmax prediction when none is given -- from one read of the
// raters, the prediction and the organ probabilities.
#pragma once
#include <cstdint>
#include <vector>

#include "array_view.h"
#include "multirater_driver.h"

namespace segscore {

struct CurvasOptions {
  std::vector<int64_t> values;  // the organ label of each probability channel
  std::vector<double> edges;    // n_bins + 1 bin edges (torchmetrics' float32 linspace); slot n_bins holds c >= last
  double cand_offset = 0, cand_scale = 0, cand_tol = 0;  // calibration.h's near-uniform bin lookup
  int softmax = 0;              // 0 never, 1 always, 2 when some voxel's background is < 0 (torchmetrics' rule)
  bool groups = false;          // MONAI's (batch, channel) row counts (3 or more axes)
  bool exact_sums = true;       // the exact (fixed-point) confidence sum of every slot
  int threads = 0;
};

struct CurvasResult {
  MultiraterResult base;          // labels, stats, psum, pvsum, pfg, pbg, minmax (raters, then pred)
  bool softmax = false;           // whether the softmax was applied
  std::vector<int64_t> count;     // per slot (n_bins + 1): voxels
  std::vector<int64_t> correct;   // per rater x slot: voxels whose top class is the rater's class
  std::vector<double> seq;        // per slot: float32 running sum of the confidences in element order (zeros if exact_sums)
  std::vector<double> exact;      // per slot: exact sum (fixed point), rounded once (zeros unless exact_sums)
  std::vector<int64_t> groups;    // C x G x 3: per (batch, channel) row: |pm|, |pm & fg|, |fg|
  std::vector<double> pmin, pmax; // per organ channel, NaN left out (+inf / -inf when none)
  std::vector<int64_t> pnan;      // per organ channel
  int64_t invalid = 0;            // voxels whose background lies outside [0, 1] (no softmax)
  double cmin = 0, cmax = 0;      // smallest / largest class value (background included), no softmax
};

// rater maps (int, any strides, one shape), pred (null: argmax over the classes, ties to
// the lower index, as the organ label), C organ channels (float32 or float64, one dtype).
// Elements are visited in logical C order (the running sums' order).  Results do not
// depend on the thread count.
CurvasResult curvas_stats(const std::vector<ArrayView>& raters, const ArrayView* pred,
                          const std::vector<ArrayView>& probs, const CurvasOptions& opt);

// s + v added n times, each addition rounded to float32 (a float32 running sum), in
// O(binades) steps rather than n.
float f32_add_n(float s, float v, uint64_t n);

// numpy's pairwise sum (float32 or float64, in the array's dtype) of chunks of the view's
// elements in logical C order: chunk i covers flat indices [start[i], start[i] + len[i]).
std::vector<double> numpy_chunk_sums(const ArrayView& a, const std::vector<int64_t>& start,
                                     const std::vector<int64_t>& len, int threads);

// The same for several arrays of one shape and layout (the organ channels) from one read, and
// with `overfull` non-null whether some element's 1 - (the arrays' sum in their dtype) is
// negative (torchmetrics' softmax rule of curvas_stats).
std::vector<std::vector<double>> numpy_chunk_sums_many(const std::vector<ArrayView>& arrs,
                                                       const std::vector<int64_t>& start,
                                                       const std::vector<int64_t>& len, int threads, bool* overfull);

}  // namespace segscore
