#pragma once
#include "array_view.h"

namespace segscore {

struct EdtOptions {
  const double* spacing = nullptr;  // ndim entries, nullptr = all 1
  bool squared = false;
  bool multilabel = false;
  int threads = 0;
};

// Exact EDT of `in` (binary: nonzero voxels get the distance to the nearest
// zero voxel; multilabel: to the nearest voxel of another label, 0 -> 0).
// `out` has the same shape, element strides `out_strides`, dtype float or
// double (out_f64).  Far voxels (no zero anywhere) get +inf.
void edt(const ArrayView& in, void* out, const int64_t* out_strides, bool out_f64, const EdtOptions& opt);

}  // namespace segscore
