// The one description of a strided n-d array handed over by the binding layer
// (cpp/python/bindings.h fills it from a numpy array).
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>

namespace segscore {

constexpr int kMaxDim = 8;

// F16 is read by its bits, by the calibration pass only (segscore/calibration.h calib_load).
enum class DType : int { Bool = 0, I8, U8, I16, U16, I32, U32, I64, U64, F32, F64, F16 };

struct ArrayView {
  const void* data = nullptr;
  DType dtype = DType::U8;
  int ndim = 0;
  int64_t shape[kMaxDim] = {0};
  int64_t strides[kMaxDim] = {0};  // in elements, may be negative
  int64_t size() const {
    int64_t n = 1;
    for (int i = 0; i < ndim; ++i) n *= shape[i];
    return n;
  }
};

template <typename T>
struct Tag {
  using type = T;
};

// Call f(Tag<T>{}) with T the C++ type of `dt`.
template <typename F>
decltype(auto) dispatch_any(DType dt, F&& f) {
  switch (dt) {
    case DType::Bool: return f(Tag<uint8_t>{});
    case DType::I8: return f(Tag<int8_t>{});
    case DType::U8: return f(Tag<uint8_t>{});
    case DType::I16: return f(Tag<int16_t>{});
    case DType::U16: return f(Tag<uint16_t>{});
    case DType::I32: return f(Tag<int32_t>{});
    case DType::U32: return f(Tag<uint32_t>{});
    case DType::I64: return f(Tag<int64_t>{});
    case DType::U64: return f(Tag<uint64_t>{});
    case DType::F32: return f(Tag<float>{});
    case DType::F64: return f(Tag<double>{});
    case DType::F16: break;  // bits, not a C++ arithmetic type: the calibration pass dispatches it itself
  }
  throw std::invalid_argument("segscore: unsupported dtype code " + std::to_string(int(dt)));
}

// Integer (and bool) dtypes only: f is never instantiated for a floating type.
template <typename F>
decltype(auto) dispatch_int(DType dt, F&& f) {
  switch (dt) {
    case DType::Bool: return f(Tag<uint8_t>{});
    case DType::I8: return f(Tag<int8_t>{});
    case DType::U8: return f(Tag<uint8_t>{});
    case DType::I16: return f(Tag<int16_t>{});
    case DType::U16: return f(Tag<uint16_t>{});
    case DType::I32: return f(Tag<int32_t>{});
    case DType::U32: return f(Tag<uint32_t>{});
    case DType::I64: return f(Tag<int64_t>{});
    case DType::U64: return f(Tag<uint64_t>{});
    default: break;
  }
  throw std::invalid_argument("segscore: a label map must have an integer or bool dtype");
}

}  // namespace segscore
