// segscore/surface.h - boundary elements of a binary mask.
//
// Two boundary definitions cover every convention:
//  * voxel border: a foreground voxel with at least one background neighbour
//    among the offsets of a connectivity structure (MONAI, MedPy,
//    MetricsReloaded, panoptica: mask xor erosion, outside the array counts
//    as background);
//  * corner grid: the grid of voxel corners; a corner is a boundary element
//    when the 2^d voxels around it are neither all background nor all
//    foreground (DeepMind, segscore).  Its neighbour code has bit
//    1 << (2^d - 1 - sum_k a_k 2^(d-1-k)) set when the voxel at offset
//    a in {0 (index-1), 1 (index)}^d is foreground.
//
// Masks are uint8, padded by one background voxel on every side, so no
// bounds checks are needed.  Offsets are in elements of the padded array.
#pragma once
#include "segscore/common.h"

namespace segscore {

SEGSCORE_HD SEGSCORE_INLINE bool is_border_voxel(const uint8_t* m, int64_t i, const int64_t* offsets, int n_offsets) {
  if (!m[i]) return false;
  for (int k = 0; k < n_offsets; ++k)
    if (!m[i + offsets[k]]) return true;
  return false;
}

// Neighbour code of the corner whose "upper" voxel is at padded element i
// (the corner sits between voxel index-1 and index along every axis).
// strides: element strides of the padded mask, nd in 1..3.
SEGSCORE_HD SEGSCORE_INLINE int corner_code(const uint8_t* m, int64_t i, const int64_t* strides, int nd) {
  const int nv = 1 << nd;
  int code = 0;
  for (int a = 0; a < nv; ++a) {
    // a's bits, most significant first, select index-1 (0) or index (1) per axis
    int64_t off = 0;
    for (int d = 0; d < nd; ++d) {
      const int bit = (a >> (nd - 1 - d)) & 1;
      if (!bit) off -= strides[d];
    }
    if (m[i + off]) code |= 1 << (nv - 1 - a);
  }
  return code;
}

// Squared distance between two integer grid points, summed in axis order
// exactly as scipy.ndimage.distance_transform_edt does with `sampling`.
SEGSCORE_HD SEGSCORE_INLINE double grid_dist2(const int32_t* a, const int32_t* b, const double* spacing, int nd) {
  double s = 0.0;
  for (int d = 0; d < nd; ++d) {
    const double t = double(a[d] - b[d]) * spacing[d];
    s += t * t;
  }
  return s;
}

}  // namespace segscore
