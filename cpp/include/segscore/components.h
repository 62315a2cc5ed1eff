// segscore/components.h - connected-component labelling: the neighbourhood rules and the
// union-find steps shared by the CPU driver (cpp/src/components_driver.cpp, run-based) and
// the GPU kernels (segscore/gpu_components_kernels.h, voxel-based).
//
// Arrays are seen as (Z, Y, X) volumes, X the line axis (a 2-D image is a volume with
// Z = 1).  Connectivity is 6, 18 or 26 in 3-D; in a single slice 26 and 18 reduce to 8
// and 6 to 4, so 2-D labelling runs as 3-D with Z = 1 (8 -> 26, 4 -> 6).
//
// Numbering: every component's representative is the smallest element (run or voxel) in
// raster (C) order; union-find links the larger root under the smaller one, so the root
// of a component does not depend on the order of the unions.  Components are then
// numbered 1..n by their representative, which is the component's first voxel in raster
// order.  F-raster numbering is C-raster numbering of the axis-reversed view.
#pragma once
#include "segscore/common.h"

namespace segscore {

// One earlier neighbour line of the line (z, y): (z + dz, y + dy) with dz, dy in {-1, 0, 1}
// and the x tolerance `tol`: voxels x and x' touch when |x - x'| <= tol.
struct CcLineNeighbour {
  int dz, dy, tol;
};

// The earlier neighbour lines of a line for `connectivity` (6, 18 or 26): writes up to 4
// entries into `out` and returns their number (0 for another connectivity).  "Earlier" is
// raster order, so every pair of touching lines is listed exactly once.
SEGSCORE_HD SEGSCORE_INLINE int cc_line_neighbours(int connectivity, CcLineNeighbour* out) {
  // (dz, dy): (0, -1) and (-1, 0) share a face with the line; (-1, -1) and (-1, +1) an edge.
  const int face_tol = connectivity == 6 ? 0 : 1;
  int k = 0;
  if (connectivity != 6 && connectivity != 18 && connectivity != 26) return 0;
  out[k++] = CcLineNeighbour{0, -1, face_tol};
  out[k++] = CcLineNeighbour{-1, 0, face_tol};
  if (connectivity != 6) {
    const int edge_tol = connectivity == 26 ? 1 : 0;
    out[k++] = CcLineNeighbour{-1, -1, edge_tol};
    out[k++] = CcLineNeighbour{-1, 1, edge_tol};
  }
  return k;
}

// Whether the voxel offset (dz, dy, dx) (each in {-1, 0, 1}, not all 0) is a neighbour
// under `connectivity` (6: one axis differs, 18: at most two, 26: any).
SEGSCORE_HD SEGSCORE_INLINE bool cc_is_neighbour(int connectivity, int dz, int dy, int dx) {
  const int k = (dz != 0) + (dy != 0) + (dx != 0);
  if (k == 0) return false;
  return connectivity == 26 ? true : connectivity == 18 ? k <= 2 : k == 1;
}

// Runs [a0, a1) and [b0, b1) on neighbour lines touch with x tolerance `tol`.
SEGSCORE_HD SEGSCORE_INLINE bool cc_runs_touch(int64_t a0, int64_t a1, int64_t b0, int64_t b1, int tol) {
  return a0 < b1 + tol && b0 < a1 + tol;
}

// Root of x with path halving; parents never exceed their child (parent[i] <= i), which
// path halving keeps.  Host-side (the GPU kernels have their own atomic variant).
template <typename I>
SEGSCORE_HD SEGSCORE_INLINE I cc_find(I* parent, I x) {
  while (parent[x] != x) {
    parent[x] = parent[parent[x]];
    x = parent[x];
  }
  return x;
}

// Join the sets of a and b: the larger root goes under the smaller one, so each set's
// root is its smallest member whatever the order of the unions.
template <typename I>
SEGSCORE_HD SEGSCORE_INLINE void cc_unite(I* parent, I a, I b) {
  a = cc_find(parent, a);
  b = cc_find(parent, b);
  if (a < b) {
    parent[b] = a;
  } else if (b < a) {
    parent[a] = b;
  }
}

}  // namespace segscore
