// Bit-packing of channel masks (see pack_driver.h).
#include "pack_driver.h"

#include <atomic>
#include <stdexcept>

#include "thread_pool.h"

namespace segscore {
namespace {

template <typename In>
struct IsOne {
  bool operator()(In v) const { return v == In(1); }
};
struct IsOneF64 {
  bool round;
  bool operator()(double v) const { return round ? float(v) == 1.0f : v == 1.0; }
};
struct IsOneHalf {  // float16 by its bits: 1.0 is 0x3C00
  bool operator()(uint16_t v) const { return v == 0x3C00u; }
};

template <typename In, typename Out, typename Pred>
PackInfo pack(const ArrayView& x, int64_t c0, int n, Pred is_one, Out* out, int threads) {
  const int nd = x.ndim;
  const int64_t len = x.shape[nd - 1], step = x.strides[nd - 1];
  int64_t lines = 1;
  for (int d = 1; d < nd - 1; ++d) lines *= x.shape[d];
  const In* base = static_cast<const In*>(x.data);
  std::atomic<uint64_t> any{0};
  std::atomic<bool> overlap{false};
  parallel_for(
      lines, threads,
      [&](int64_t lo, int64_t hi, int) {
        uint64_t bits = 0;
        bool both = false;
        for (int64_t line = lo; line < hi; ++line) {
          int64_t off = 0, rest = line;  // element offset of this line (axes 1 .. nd - 2)
          for (int d = nd - 2; d >= 1; --d) {
            off += (rest % x.shape[d]) * x.strides[d];
            rest /= x.shape[d];
          }
          Out* o = out + line * len;
          for (int64_t k = 0; k < len; ++k) o[k] = 0;
          for (int j = 0; j < n; ++j) {
            const In* p = base + (c0 + j) * x.strides[0] + off;
            if (step == 1) {  // contiguous lines: a branch-free loop the compiler vectorises
              for (int64_t k = 0; k < len; ++k) o[k] = Out(o[k] | (Out(is_one(p[k])) << j));
            } else {
              for (int64_t k = 0; k < len; ++k) o[k] = Out(o[k] | (Out(is_one(p[k * step])) << j));
            }
          }
          for (int64_t k = 0; k < len; ++k) {
            bits |= o[k];
            both |= (o[k] & Out(o[k] - 1)) != 0;
          }
        }
        any.fetch_or(bits);
        if (both) overlap.store(true);
      },
      64);
  return PackInfo{any.load(), overlap.load()};
}

template <typename Out>
PackInfo pack_out(const ArrayView& x, int64_t c0, int n, bool round_f32, Out* out, int threads) {
  switch (x.dtype) {
    case DType::F64: return pack<double>(x, c0, n, IsOneF64{round_f32}, out, threads);
    case DType::F16: return pack<uint16_t>(x, c0, n, IsOneHalf{}, out, threads);
    default:
      return dispatch_any(x.dtype, [&](auto tag) {
        using In = typename decltype(tag)::type;
        return pack<In>(x, c0, n, IsOne<In>{}, out, threads);
      });
  }
}

}  // namespace

PackInfo pack_channels(const ArrayView& x, int64_t c0, int n, bool round_f32, void* out, DType out_dtype,
                       int threads) {
  if (x.ndim < 2) throw std::invalid_argument("segscore: pack_channels needs a (C, *spatial) array");
  if (n < 0 || n > 31 || c0 < 0 || c0 + n > x.shape[0])
    throw std::invalid_argument("segscore: pack_channels channel range out of bounds");
  switch (out_dtype) {
    case DType::U8:
      if (n > 8) break;
      return pack_out(x, c0, n, round_f32, static_cast<uint8_t*>(out), threads);
    case DType::U16:
      if (n > 16) break;
      return pack_out(x, c0, n, round_f32, static_cast<uint16_t*>(out), threads);
    case DType::U32: return pack_out(x, c0, n, round_f32, static_cast<uint32_t*>(out), threads);
    default: break;
  }
  throw std::invalid_argument("segscore: pack_channels output must be uint8 / uint16 / uint32 wide enough for n bits");
}

}  // namespace segscore
