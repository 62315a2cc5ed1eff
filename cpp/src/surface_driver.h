#pragma once
#include <cstdint>
#include <vector>

#include "array_view.h"

namespace segscore {

enum class Boundary : int { VoxelBorder = 0, CornerGrid = 1 };

struct SurfaceOptions {
  Boundary boundary = Boundary::CornerGrid;
  int connectivity = 1;             // voxel border: neighbours with up to this many nonzero offsets
  const double* spacing = nullptr;  // ndim entries
  int64_t ignore_label = -1;        // voxels whose reference equals it are background in both maps
  double biou_width = -1;           // < 0: no boundary IoU
  bool biou_strict = true;          // band: distance < width (MetricsReloaded) or <= width
  bool biou_unit_spacing = false;   // band distances in voxels (MetricsReloaded ignores spacing there)
  int threads = 0;
};

// One region: the voxels whose label is in `labels` (sorted), bounding box
// [lo, hi] (inclusive) of the region in pred or ref.
struct Region {
  std::vector<int64_t> labels;
  int64_t lo[kMaxDim], hi[kMaxDim];
  bool empty = false;  // neither map contains the region
};

struct SurfaceResult {
  std::vector<double> d_pred, w_pred;  // pred boundary -> nearest ref boundary
  std::vector<double> d_ref, w_ref;    // ref boundary -> nearest pred boundary
  int64_t n_pred_voxels = 0, n_ref_voxels = 0;
  int64_t biou_inter = 0, biou_union = 0;
};

std::vector<SurfaceResult> surface_distances(const ArrayView& pred, const ArrayView& ref,
                                             const std::vector<Region>& regions, const SurfaceOptions& opt);

}  // namespace segscore
