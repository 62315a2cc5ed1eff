// CPU driver of the CRPS kernels.  The math lives in segscore/crps.h; this file only walks
// strided (possibly broadcast) arrays and splits the flat index range over the thread pool.
// Every output element depends on its own inputs only, so results are bit-identical for any
// number of threads.
#include "crps_driver.h"

#include <algorithm>
#include <vector>

#include "segscore/crps.h"
#include "thread_pool.h"

namespace segscore {
namespace {

// Walk the flat C-order index range [b, e) of `shape` (nd dims) and keep K element offsets
// in step; calls run(flat, offsets, length, inner_strides) once per stretch along the last
// dimension.
template <int K, typename F>
void walk(int nd, const int64_t* shape, const int64_t* const* strides, int64_t b, int64_t e, F&& run) {
  if (b >= e) return;
  int64_t idx[kMaxDim] = {0};
  int64_t off[K] = {0};
  int64_t r = b;
  for (int d = nd - 1; d >= 0; --d) {
    idx[d] = r % shape[d];
    r /= shape[d];
    for (int k = 0; k < K; ++k) off[k] += idx[d] * strides[k][d];
  }
  const int last = nd - 1;
  int64_t inner[K];
  for (int k = 0; k < K; ++k) inner[k] = strides[k][last];
  int64_t i = b;
  while (i < e) {
    const int64_t len = std::min(e - i, shape[last] - idx[last]);
    run(i, off, len, inner);
    i += len;
    if (i >= e) break;
    // the stretch reached the end of its row: back to index 0 of the last dim, carry up
    for (int k = 0; k < K; ++k) off[k] -= idx[last] * strides[k][last];
    idx[last] = 0;
    int d = last - 1;
    for (; d >= 0; --d) {
      ++idx[d];
      for (int k = 0; k < K; ++k) off[k] += strides[k][d];
      if (idx[d] < shape[d]) break;
      for (int k = 0; k < K; ++k) off[k] -= idx[d] * strides[k][d];
      idx[d] = 0;
    }
  }
}

// A view reduced to at least one dimension (a 0-d array is shape (1,), stride 0).
struct Shape {
  int nd;
  int64_t shape[kMaxDim];
  int64_t n;
};

Shape shape_of(const ArrayView& v, int ndim) {
  Shape s;
  s.nd = ndim > 0 ? ndim : 1;
  s.n = 1;
  for (int d = 0; d < s.nd; ++d) {
    s.shape[d] = ndim > 0 ? v.shape[d] : 1;
    s.n *= s.shape[d];
  }
  return s;
}

void strides_of(const ArrayView& v, int ndim, int64_t* st) {
  for (int d = 0; d < kMaxDim; ++d) st[d] = 0;
  for (int d = 0; d < ndim; ++d) st[d] = v.strides[d];
}

template <typename F>
decltype(auto) dispatch_float(DType dt, F&& f) {
  if (dt == DType::F32) return f(Tag<float>{});
  if (dt == DType::F64) return f(Tag<double>{});
  throw std::invalid_argument("segscore: CRPS inputs must be float32 or float64");
}

}  // namespace

void crps_gaussian(const ArrayView& obs, const ArrayView& mu, const ArrayView& sigma, double* out, int threads) {
  const Shape s = shape_of(obs, obs.ndim);
  if (s.n == 0) return;
  int64_t st[4][kMaxDim];
  strides_of(obs, obs.ndim, st[0]);
  strides_of(mu, obs.ndim, st[1]);
  strides_of(sigma, obs.ndim, st[2]);
  // out is C-contiguous
  int64_t acc = 1;
  for (int d = s.nd - 1; d >= 0; --d) {
    st[3][d] = acc;
    acc *= s.shape[d];
  }
  const int64_t* sp[4] = {st[0], st[1], st[2], st[3]};
  if (threads <= 0) threads = default_threads();
  dispatch_float(obs.dtype, [&](auto to) {
    using TO = typename decltype(to)::type;
    dispatch_float(mu.dtype, [&](auto tm) {
      using TM = typename decltype(tm)::type;
      dispatch_float(sigma.dtype, [&](auto ts) {
        using TS = typename decltype(ts)::type;
        const TO* po = static_cast<const TO*>(obs.data);
        const TM* pm = static_cast<const TM*>(mu.data);
        const TS* ps = static_cast<const TS*>(sigma.data);
        parallel_for(
            s.n, threads,
            [&](int64_t b, int64_t e, int) {
              walk<4>(s.nd, s.shape, sp, b, e, [&](int64_t, const int64_t* off, int64_t len, const int64_t* in) {
                const TO* a = po + off[0];
                const TM* m = pm + off[1];
                const TS* g = ps + off[2];
                double* o = out + off[3];
                for (int64_t i = 0; i < len; ++i)
                  o[i] = crps_gaussian(double(a[i * in[0]]), double(m[i * in[1]]), double(g[i * in[2]]));
              });
            },
            1 << 14);
      });
    });
  });
}

void crps_ensemble(const ArrayView& obs, const ArrayView& members, const ArrayView* weights, double* out,
                   int threads) {
  const int nd = obs.ndim;  // batch dims
  const Shape s = shape_of(obs, nd);
  const int64_t m = members.shape[members.ndim - 1];
  const int64_t ms = members.strides[members.ndim - 1];
  const int64_t ws = weights ? weights->strides[weights->ndim - 1] : 0;
  if (s.n == 0) return;
  int64_t st[4][kMaxDim];
  strides_of(obs, nd, st[0]);
  strides_of(members, nd, st[1]);
  if (weights)
    strides_of(*weights, nd, st[2]);
  else
    strides_of(obs, 0, st[2]);
  int64_t acc = 1;
  for (int d = s.nd - 1; d >= 0; --d) {
    st[3][d] = acc;
    acc *= s.shape[d];
  }
  const int64_t* sp[4] = {st[0], st[1], st[2], st[3]};
  if (threads <= 0) threads = default_threads();
  const DType wdt = weights ? weights->dtype : DType::F64;
  dispatch_float(obs.dtype, [&](auto to) {
    using TO = typename decltype(to)::type;
    dispatch_float(members.dtype, [&](auto tm) {
      using TM = typename decltype(tm)::type;
      dispatch_float(wdt, [&](auto tw) {
        using TW = typename decltype(tw)::type;
        const TO* po = static_cast<const TO*>(obs.data);
        const TM* pm = static_cast<const TM*>(members.data);
        const TW* pw = weights ? static_cast<const TW*>(weights->data) : nullptr;
        parallel_for(
            s.n, threads,
            [&](int64_t b, int64_t e, int) {
              std::vector<double> scratch(size_t(std::max<int64_t>(m, 1)) * (pw ? 4 : 2));
              walk<4>(s.nd, s.shape, sp, b, e, [&](int64_t, const int64_t* off, int64_t len, const int64_t* in) {
                for (int64_t i = 0; i < len; ++i) {
                  const TW* wrow = pw ? pw + off[2] + i * in[2] : nullptr;
                  out[off[3] + i] = crps_ensemble(double(po[off[0] + i * in[0]]), pm + off[1] + i * in[1], ms,
                                                  wrow, ws, m, scratch.data());
                }
              });
            },
            std::max<int64_t>(1, (int64_t(1) << 16) / std::max<int64_t>(m, 1)));
      });
    });
  });
}

}  // namespace segscore
