// The conversions of the _cpu module, written once: numpy dtype -> DType, numpy array ->
// ArrayView (no copy, no promotion; byte order, strides and dimensions checked), and
// std::vector -> numpy array (no copy).  Each metric family binds its own functions in its
// own file (module.cpp, bind_calibration.cpp, bind_crps.cpp); a binding only converts,
// checks what the driver relies on, releases the GIL and calls the driver in cpp/src/.
// User-facing validation happens in Python, before this.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "array_view.h"

namespace segscore {

// Dtypes a view accepts (a bit set).
enum Accept : unsigned {
  kLabels = 1u,  // bool and integers
  kFloats = 2u,  // float32, float64
  kHalf = 4u,    // float16 (read by its bits; calibration only)
  kNumbers = kLabels | kFloats,
};

// "a bool or integer, float32 or float64 array" for an error message.
inline std::string accepted_dtypes(unsigned accept) {
  std::string s;
  auto add = [&](const char* w) { s += s.empty() ? w : std::string(" or ") + w; };
  if (accept & kLabels) add("bool / integer");
  if (accept & kHalf) add("float16");
  if (accept & kFloats) add("float32 / float64");
  return s;
}

// The one numpy dtype map.  Raises TypeError naming `what` and the dtype when the dtype is
// not one of `accept`.
inline DType dtype_of(const pybind11::dtype& dt, const char* what, unsigned accept = kNumbers) {
  const char kind = dt.kind();
  const auto size = dt.itemsize();
  DType t = DType::U8;
  bool known = true;
  if (kind == 'b' && size == 1) {
    t = DType::Bool;
  } else if (kind == 'i' || kind == 'u') {
    const bool s = kind == 'i';
    switch (size) {
      case 1: t = s ? DType::I8 : DType::U8; break;
      case 2: t = s ? DType::I16 : DType::U16; break;
      case 4: t = s ? DType::I32 : DType::U32; break;
      case 8: t = s ? DType::I64 : DType::U64; break;
      default: known = false;
    }
  } else if (kind == 'f' && (size == 2 || size == 4 || size == 8)) {
    t = size == 2 ? DType::F16 : size == 4 ? DType::F32 : DType::F64;
  } else {
    known = false;
  }
  const unsigned cls = !known ? 0u : t == DType::F16 ? kHalf : (t == DType::F32 || t == DType::F64) ? kFloats : kLabels;
  if (!(cls & accept))
    throw pybind11::type_error(std::string("segscore._cpu: ") + what + " has dtype " + std::string(pybind11::str(dt)) +
                               "; expected a " + accepted_dtypes(accept) + " array");
  return t;
}

// The one array view: data pointer, dtype, shape and element strides of `a`, without a copy.
inline ArrayView view_of(const pybind11::array& a, const char* what, unsigned accept = kNumbers) {
  ArrayView v;
  v.dtype = dtype_of(a.dtype(), what, accept);
  // The drivers read raw memory: bytes in another order would be read as other numbers.
  // Python converts byte order at the API boundary; this is the last guard.
  const char bo = a.dtype().byteorder();
  if (bo == '>' || bo == '<') {
    const uint16_t probe = 1;
    const bool little = *reinterpret_cast<const uint8_t*>(&probe) == 1;
    if ((bo == '>') == little)
      throw pybind11::type_error(std::string("segscore._cpu: ") + what +
                                 " must be in native byte order (convert with a.astype(a.dtype.newbyteorder('=')))");
  }
  if (a.ndim() > kMaxDim)
    throw pybind11::value_error(std::string("segscore._cpu: ") + what + " has " + std::to_string(a.ndim()) +
                                " dimensions; at most 8 are supported");
  v.data = a.data();
  v.ndim = int(a.ndim());
  for (int d = 0; d < v.ndim; ++d) {
    v.shape[d] = a.shape(d);
    if (a.strides(d) % a.itemsize() != 0)
      throw pybind11::value_error(std::string("segscore._cpu: ") + what +
                                  " has strides that are not multiples of its item size");
    v.strides[d] = a.strides(d) / a.itemsize();
  }
  return v;
}

// Shapes `a` and `b` agree on their first `ndim` axes (and b has at least that many).
inline void check_same_shape(const ArrayView& a, const ArrayView& b, int ndim, const char* fn, const char* what) {
  if (b.ndim < ndim)
    throw pybind11::value_error(std::string("segscore._cpu.") + fn + ": " + what + " has too few dimensions");
  for (int d = 0; d < ndim; ++d)
    if (a.shape[d] != b.shape[d])
      throw pybind11::value_error(std::string("segscore._cpu.") + fn + ": " + what + " shape mismatch");
}

// The one way results leave C++: a numpy array owning the vector's buffer (no copy),
// C-ordered with `shape` (default: 1-d of the vector's length).
template <typename T>
pybind11::array_t<T> to_numpy(std::vector<T>&& v, std::vector<pybind11::ssize_t> shape = {}) {
  auto* heap = new std::vector<T>(std::move(v));
  pybind11::capsule owner(heap, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  if (shape.empty()) shape.push_back(pybind11::ssize_t(heap->size()));
  std::vector<pybind11::ssize_t> strides(shape.size());
  pybind11::ssize_t s = sizeof(T);
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = s;
    s *= shape[i];
  }
  return pybind11::array_t<T>(shape, strides, heap->data(), owner);
}

void bind_calibration(pybind11::module_& m);  // cpp/python/bind_calibration.cpp
void bind_crps(pybind11::module_& m);         // cpp/python/bind_crps.cpp
void bind_multirater(pybind11::module_& m);   // cpp/python/bind_multirater.cpp
void bind_components(pybind11::module_& m);   // cpp/python/bind_components.cpp
}  // namespace segscore
