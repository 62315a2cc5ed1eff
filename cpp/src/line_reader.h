// Read a strided line of any integer dtype into int64 (no full-size temporaries).
#pragma once
#include <cstdint>

#include "array_view.h"

namespace segscore {

struct LineReader {
  const ArrayView* a;
  template <typename T>
  static void read_typed(const T* p, int64_t stride, int64_t n, int64_t* out) {
    if (stride == 1) {
      for (int64_t i = 0; i < n; ++i) out[i] = int64_t(p[i]);
    } else {
      for (int64_t i = 0; i < n; ++i) out[i] = int64_t(p[i * stride]);
    }
  }
  // Reads n elements starting at element offset `off`, stride `stride`.
  void read(int64_t off, int64_t stride, int64_t n, int64_t* out) const {
    dispatch_int(a->dtype, [&](auto tag) {
      using T = typename decltype(tag)::type;
      read_typed(static_cast<const T*>(a->data) + off, stride, n, out);
    });
  }
};

}  // namespace segscore
