// Connected components on the CPU: run-based union-find labelling, per-component
// statistics and the (pred id, ref id) overlap table of two component maps.
#pragma once
#include <cstdint>
#include <vector>

#include "array_view.h"

namespace segscore {

struct CcOptions {
  int connectivity = 26;  // 6, 18 or 26 (2-D runs as one slice: 8 -> 26, 4 -> 6)
  bool binary = true;     // true: nonzero voxels; false: voxels connect only if equal and nonzero
  bool order_f = false;   // number by first voxel in F raster (the axis-reversed C raster)
  int64_t min_size = 0;   // components with fewer voxels are dropped (0 in the output)
  int threads = 0;
};

// The labelling as runs: the foreground of each line (z, y) of the (Z, Y, X) view walked
// (the input's memory order: C raster, or F raster as the axis-reversed view) as maximal
// runs [x0, x1) (of one value in per-label mode), in raster order, with the id of each
// run's component (0: dropped by min_size), numbered in the raster `order_f` asks for.
struct CcLabels {
  bool walk_f = false;  // the lines of the walk: F raster (the axis-reversed view) or C
  int ndim = 3;         // of the input (2-D runs as Z = 1)
  int64_t Z = 0, Y = 0, X = 0;
  std::vector<int64_t> line_start;  // Z*Y + 1 offsets into the runs
  std::vector<int64_t> x0, x1, id;
  int64_t n = 0;              // components kept, numbered 1..n
  bool negative = false;      // the input holds a negative value (the caller refuses it)
};

// Label 2-D or 3-D `in` (any integer / bool dtype, any strides).
CcLabels label_components(const ArrayView& in, const CcOptions& opt);

// Write the labels into `out` (int32 or int64, the input's shape, any strides);
// `contiguous`: out is one contiguous buffer (C or F), zeroed in memory order when its lines
// run across memory.
void paint_components(const CcLabels& cc, const ArrayView& out, bool contiguous, int threads);

// Voxels and inclusive bounding boxes per id of a labelling, from its runs alone (no voxel
// pass): arrays indexed by id (row 0 unused, n + 1 rows), boxes in the input's axes
// (lo 0 / hi -1 for an id without voxels).
struct CcRunStats {
  int ndim = 0;
  int64_t n = 0;
  std::vector<int64_t> voxels;  // n + 1
  std::vector<int64_t> lo, hi;  // (n + 1) * ndim
};
CcRunStats run_stats(const CcLabels& cc);

// The overlap table of two labellings of one shape walked in the same raster, by merging
// their runs line by line (no voxel pass): (pred id, ref id, count) triples with count > 0
// and both ids nonzero, sorted.  Throws std::invalid_argument when the shapes or walks differ.
std::vector<int64_t> run_overlap(const CcLabels& pred, const CcLabels& ref, int threads);

// Paint the box lo..hi (inclusive, the input's axes) of a labelling into `out` (an integer
// array of the box's shape, any strides): every voxel of a kept component gets its id
// (`ids` empty) or `value` (voxels whose id is in `ids`), True in a bool `out`; other voxels
// are left untouched.
void paint_box(const CcLabels& cc, const int64_t* lo, const int64_t* hi, const std::vector<int64_t>& ids,
               int64_t value, const ArrayView& out);

// Per-id statistics of a label map (ids 1..n, n = the largest label; ids without voxels
// get voxels 0).  The labels are walked in their memory order (C order for C-ordered
// arrays).  Integer sums are exact and the maximum's position is the first in C order on
// ties, whatever the walk; the value sums are added in a fixed order of fixed line blocks
// of the walk, so every number is bit-identical for any thread count (a C- and an
// F-ordered copy may differ in the last bits of the sums).
struct CcStats {
  int ndim = 0;
  int64_t n = 0;
  std::vector<int64_t> voxels;           // n
  std::vector<int64_t> lo, hi;           // n * ndim (inclusive; -1 for an empty id)
  std::vector<double> mean_index;        // n * ndim: mean voxel index per axis (NaN if empty)
  std::vector<double> vmax, vsum;        // n (values only)
  std::vector<int64_t> argmax;           // n: C-order flat index of the first maximum
  bool negative = false;                 // a negative label (caller refuses)
  bool too_large = false;                // a label above id_limit (caller refuses)
  bool nan = false;                      // a NaN value (caller refuses)
};
CcStats component_stats(const ArrayView& labels, const ArrayView* values, int64_t id_limit, int threads);

// The sparse (pred id, ref id, count) table of voxels with both ids nonzero, sorted, and
// each map's voxel count per id (index id - 1; lengths = the largest id of each map).
struct CcOverlap {
  std::vector<int64_t> pairs;  // (p, r, count) triples
  std::vector<int64_t> pred_voxels, ref_voxels;
  bool negative = false, too_large = false;
};
CcOverlap overlap_table(const ArrayView& pred, const ArrayView& ref, int64_t id_limit, int threads);

}  // namespace segscore
