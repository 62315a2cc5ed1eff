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
#include "segscore/surfel_tables.h"

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

// ---- helpers of the batched (GPU) drivers: one padded crop in C order ----

// Element offsets (C-order strides `str` of a padded crop) of the neighbours
// with 1..connectivity nonzero coordinate offsets, in the order the CPU
// driver lists them.  out: up to 3^nd - 1 = 26 entries; returns the count.
SEGSCORE_HD SEGSCORE_INLINE int neighbour_offsets(const int64_t* str, int nd, int connectivity, int64_t* out) {
  int total = 1;
  for (int d = 0; d < nd; ++d) total *= 3;
  int n = 0;
  for (int t = 0; t < total; ++t) {
    int r = t, nz = 0;
    int64_t o = 0;
    for (int d = nd - 1; d >= 0; --d) {
      const int v = r % 3 - 1;
      r /= 3;
      if (v) ++nz;
      o += v * str[d];
    }
    if (nz > 0 && nz <= connectivity) out[n++] = o;
  }
  return n;
}

// Corner-grid boundary element at padded element i with padded coordinates
// `c` (nd entries): its neighbour code when the corner is a boundary element
// (mixed neighbourhood), else -1.  Corners need every coordinate >= 1.
SEGSCORE_HD SEGSCORE_INLINE int corner_boundary_code(const uint8_t* m, int64_t i, const int64_t* c, const int64_t* str,
                                                     int nd) {
  for (int d = 0; d < nd; ++d)
    if (c[d] < 1) return -1;
  const int code = corner_code(m, i, str, nd);
  const int full = (1 << (1 << nd)) - 1;
  return (code == 0 || code == full) ? -1 : code;
}

// Weight of a corner-grid boundary element: surfel area (3-D), contour
// length (2-D) or 1 (1-D), exactly as the CPU driver's tables.
SEGSCORE_HD SEGSCORE_INLINE double corner_weight(int code, const double* spacing, int nd) {
  if (nd == 3) return surfel_area_3d(code, spacing[0], spacing[1], spacing[2]);
  if (nd == 2) return contour_length_2d(code, spacing[0], spacing[1]);
  return 1.0;
}

// Distance from a squared-distance value of an EDT pass (Far = no element).
SEGSCORE_HD SEGSCORE_INLINE double distance_of(double d2) {
  return d2 < Far<double>::value() ? ss_sqrt(d2) : ss_inf(0.0);
}

// Gather along one row (last axis) of a padded crop: for every boundary
// element of the row (nb[k] == 0), in raster order, write the distance read
// from the squared-distance field of the other boundary and the element's
// weight (area for corner boundaries, 1 for voxel borders) at *pos, then
// advance *pos.  `m`, `nb` and `field` are the crop's mask (for the corner
// code), boundary flags and field, `row` the element index of the row start
// within the crop, `str` the crop strides.
SEGSCORE_HD SEGSCORE_INLINE void gather_boundary_row(const uint8_t* m, const uint8_t* nb, const double* field,
                                                     int64_t row, int64_t n, const int64_t* str, int nd,
                                                     bool corner, const double* spacing, double* d_out,
                                                     double* w_out, int64_t* pos) {
  int64_t p = *pos;
  for (int64_t k = 0; k < n; ++k) {
    const int64_t i = row + k;
    if (nb[i]) continue;
    double w = 1.0;
    if (corner) w = corner_weight(corner_code(m, i, str, nd), spacing, nd);
    d_out[p] = distance_of(field[i]);
    w_out[p] = w;
    ++p;
  }
  *pos = p;
}

}  // namespace segscore
