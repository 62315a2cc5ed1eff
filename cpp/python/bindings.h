// Registration hooks of the _cpu module: each metric family binds its own
// functions from its own source file, so module.cpp stays small.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "array_view.h"

namespace segscore {

// Data pointer, shape and element strides of `a` into any view struct with
// data / ndim / shape[] / strides[] members (ArrayView, ProbView).
template <typename V>
void fill_layout(V& v, const pybind11::array& a) {
  // The drivers read raw memory: bytes in another order would be read as other numbers.
  // Python converts byte order at the API boundary; this is the last guard.
  const char bo = a.dtype().byteorder();
  if (bo == '>' || bo == '<') {
    const uint16_t probe = 1;
    const bool little = *reinterpret_cast<const uint8_t*>(&probe) == 1;
    if ((bo == '>') == little)
      throw pybind11::type_error("segscore._cpu: arrays must be in native byte order (convert with "
                                 "a.astype(a.dtype.newbyteorder('=')))");
  }
  v.data = a.data();
  v.ndim = int(a.ndim());
  if (v.ndim > kMaxDim) throw pybind11::value_error("segscore._cpu: at most 8 dimensions are supported");
  for (int d = 0; d < v.ndim; ++d) {
    v.shape[d] = a.shape(d);
    if (a.strides(d) % a.itemsize() != 0)
      throw pybind11::value_error("segscore._cpu: array strides must be multiples of the item size");
    v.strides[d] = a.strides(d) / a.itemsize();
  }
}

void bind_calibration(pybind11::module_& m);  // cpp/src/bind_calibration.cpp
void bind_crps(pybind11::module_& m);         // cpp/src/bind_crps.cpp
}  // namespace segscore
