// CPU driver of the CRPS kernels.  The math lives in segscore/crps.h; this file only walks
// strided (possibly broadcast) arrays and splits the flat index range over the thread pool.
// Every output element depends on its own inputs only, so results are bit-identical for any
// number of threads.
#include "crps_driver.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <utility>
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

// CPU kernels over gathered float64 blocks, compiled for AVX-512, AVX2+FMA and baseline
// x86-64 (chosen at load time): the math from segscore/crps.h is branch-free, so these
// loops vectorise across elements (Gaussian) or across ensembles (lanes).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define SEGSCORE_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define SEGSCORE_CLONES
#endif

constexpr int kBlock = 512;  // Gaussian: elements per gathered block
constexpr int kLanes = 8;    // ensembles sorted and integrated side by side
constexpr int64_t kMaxLaneMembers = 128;  // larger ensembles use the per-ensemble merge sort

SEGSCORE_CLONES void gaussian_block(const double* y, const double* mu, const double* sigma, double* out, int n) {
  for (int i = 0; i < n; ++i) out[i] = crps_gaussian(y[i], mu[i], sigma[i]);
}

// Comparators (a < b) of Batcher's odd-even merge sort for the next power of two >= m,
// without those whose upper index is >= m: with +inf in the padding they never act.
std::vector<std::pair<int, int>> sorting_network(int64_t m) {
  int64_t p2 = 1;
  while (p2 < m) p2 *= 2;
  std::vector<std::pair<int, int>> net;
  for (int64_t p = 1; p < p2; p *= 2)
    for (int64_t k = p; k >= 1; k /= 2)
      for (int64_t j = k % p; j + k < p2; j += 2 * k)
        for (int64_t i = 0; i < k && i + j + k < p2; ++i)
          if ((i + j) / (2 * p) == (i + j + k) / (2 * p) && i + j + k < m) net.emplace_back(int(i + j), int(i + j + k));
  return net;
}

// Eight doubles as one value (GCC/Clang vector extension): lowered to AVX-512, AVX2 or
// SSE2 by the clone being compiled.
typedef double v8d __attribute__((vector_size(64)));
static_assert(kLanes == 8, "v8d holds kLanes doubles");

// memcpy in place rather than helper functions: a v8d passed to or returned from a
// function compiled for the baseline target goes through memory.

// Lane-parallel exact ensemble CRPS: K[i * kLanes + l] is member i of lane l (NaN members
// already replaced by +inf and counted out in n[l]), W likewise (null: equal weights).
// Sorts every lane with the same network, then integrates with crps_ensemble_step.
// bad[l] != 0 marks lanes whose result is NaN (missing observation, no member, bad weight).
template <bool kPay, bool kFull>
SEGSCORE_CLONES void ensemble_lanes(const double* y, double* K, double* W, const double* n,
                                    const std::pair<int, int>* net, int64_t n_net, int64_t m, const char* bad,
                                    double* out) {
  for (int64_t c = 0; c < n_net; ++c) {
    double* pa = K + net[c].first * kLanes;
    double* pb = K + net[c].second * kLanes;
    v8d a, b;
    std::memcpy(&a, pa, sizeof a);
    std::memcpy(&b, pb, sizeof b);
    const auto swap = b < a;
    const v8d lo = swap ? b : a, hi = swap ? a : b;
    std::memcpy(pa, &lo, sizeof lo);
    std::memcpy(pb, &hi, sizeof hi);
    if (kPay) {
      double* qa = W + net[c].first * kLanes;
      double* qb = W + net[c].second * kLanes;
      v8d wa, wb;
      std::memcpy(&wa, qa, sizeof wa);
      std::memcpy(&wb, qb, sizeof wb);
      const v8d wlo = swap ? wb : wa, whi = swap ? wa : wb;
      std::memcpy(qa, &wlo, sizeof wlo);
      std::memcpy(qb, &whi, sizeof whi);
    }
  }
  // The integral: plain per-lane loops over the scalar step of segscore/crps.h, which the
  // compiler vectorises across the lanes (the step is branch-free).
  double total[kLanes], step[kLanes], obs_cdf[kLanes], fc_cdf[kLanes], prev[kLanes], integral[kLanes];
  for (int l = 0; l < kLanes; ++l) {
    total[l] = kPay ? 0.0 : n[l];
    obs_cdf[l] = fc_cdf[l] = prev[l] = integral[l] = 0.0;
  }
  if (kPay)  // summed in sorted order, as properscoring (missing members carry weight 0)
    for (int64_t i = 0; i < m; ++i)
      for (int l = 0; l < kLanes; ++l) total[l] += W[i * kLanes + l];
  for (int l = 0; l < kLanes; ++l) step[l] = 1.0 / total[l];
  for (int64_t i = 0; i < m; ++i) {
    const double* k = K + i * kLanes;
    const double* w = kPay ? W + i * kLanes : nullptr;
    for (int l = 0; l < kLanes; ++l) {
      double oc = obs_cdf[l], fc = fc_cdf[l], pv = prev[l], in = integral[l];
      crps_ensemble_step<double>(y[l], k[l], kPay ? w[l] / total[l] : step[l], oc, fc, pv, in);
      if (kFull) {  // every lane has m members: no masking
        obs_cdf[l] = oc;
        fc_cdf[l] = fc;
        prev[l] = pv;
        integral[l] = in;
      } else {
        const bool live = double(i) < n[l];
        obs_cdf[l] = live ? oc : obs_cdf[l];
        fc_cdf[l] = live ? fc : fc_cdf[l];
        prev[l] = live ? pv : prev[l];
        integral[l] = live ? in : integral[l];
      }
    }
  }
  double rr[kLanes], tt[kLanes];
  for (int l = 0; l < kLanes; ++l) {
    rr[l] = crps_ensemble_finish<double>(y[l], obs_cdf[l], prev[l], integral[l]);
    tt[l] = total[l];
  }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (int l = 0; l < kLanes; ++l) out[l] = (bad[l] || !(tt[l] > 0.0)) ? nan : rr[l];
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
              double by[kBlock], bm[kBlock], bs[kBlock];
              walk<4>(s.nd, s.shape, sp, b, e, [&](int64_t, const int64_t* off, int64_t len, const int64_t* in) {
                for (int64_t i0 = 0; i0 < len; i0 += kBlock) {
                  const int cnt = int(std::min<int64_t>(kBlock, len - i0));
                  const TO* a = po + off[0] + i0 * in[0];
                  const TM* m = pm + off[1] + i0 * in[1];
                  const TS* g = ps + off[2] + i0 * in[2];
                  for (int i = 0; i < cnt; ++i) {
                    by[i] = double(a[i * in[0]]);
                    bm[i] = double(m[i * in[1]]);
                    bs[i] = double(g[i * in[2]]);
                  }
                  gaussian_block(by, bm, bs, out + off[3] + i0, cnt);
                }
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
        if (m > kMaxLaneMembers) {
          parallel_for(
              s.n, threads,
              [&](int64_t b, int64_t e, int) {
                std::vector<double> scratch(size_t(m) * (pw ? 4 : 2));
                walk<4>(s.nd, s.shape, sp, b, e, [&](int64_t, const int64_t* off, int64_t len, const int64_t* in) {
                  for (int64_t i = 0; i < len; ++i) {
                    const TW* wrow = pw ? pw + off[2] + i * in[2] : nullptr;
                    out[off[3] + i] = crps_ensemble(double(po[off[0] + i * in[0]]), pm + off[1] + i * in[1], ms,
                                                    wrow, ws, m, scratch.data());
                  }
                });
              },
              std::max<int64_t>(1, (int64_t(1) << 16) / m));
          return;
        }
        const auto net = sorting_network(m);
        parallel_for(
            s.n, threads,
            [&](int64_t b, int64_t e, int) {
              std::vector<double> K(size_t(m) * kLanes), W(pw ? size_t(m) * kLanes : 0);
              double y[kLanes], res[kLanes];
              double n[kLanes];
              char bad[kLanes];
              int fill = 0;
              int64_t dest[kLanes];
              const double inf = std::numeric_limits<double>::infinity();
              auto flush = [&]() {
                for (int l = fill; l < kLanes; ++l) {  // idle lanes: a harmless dummy ensemble
                  y[l] = 0.0;
                  n[l] = 1;
                  bad[l] = 1;
                  for (int64_t i = 0; i < m; ++i) {
                    K[i * kLanes + l] = inf;
                    if (pw) W[i * kLanes + l] = 1.0;
                  }
                  K[l] = 0.0;
                }
                bool full = true;
                for (int l = 0; l < kLanes; ++l) full &= n[l] == double(m);
                const int64_t nn = int64_t(net.size());
                if (pw && full)
                  ensemble_lanes<true, true>(y, K.data(), W.data(), n, net.data(), nn, m, bad, res);
                else if (pw)
                  ensemble_lanes<true, false>(y, K.data(), W.data(), n, net.data(), nn, m, bad, res);
                else if (full)
                  ensemble_lanes<false, true>(y, K.data(), nullptr, n, net.data(), nn, m, bad, res);
                else
                  ensemble_lanes<false, false>(y, K.data(), nullptr, n, net.data(), nn, m, bad, res);
                for (int l = 0; l < fill; ++l) out[dest[l]] = res[l];
                fill = 0;
              };
              walk<4>(s.nd, s.shape, sp, b, e, [&](int64_t, const int64_t* off, int64_t len, const int64_t* in) {
                for (int64_t i = 0; i < len; ++i) {
                  const int l = fill;
                  const TM* row = pm + off[1] + i * in[1];
                  const TW* wrow = pw ? pw + off[2] + i * in[2] : nullptr;
                  y[l] = double(po[off[0] + i * in[0]]);
                  int64_t cnt = 0;
                  bool bw = false;
                  for (int64_t j = 0; j < m; ++j) {
                    const double v = double(row[j * ms]);
                    const bool ok = v == v;
                    K[j * kLanes + l] = ok ? v : inf;
                    cnt += ok;
                    if (pw) {
                      const double wj = double(wrow[j * ws]);
                      W[j * kLanes + l] = ok ? wj : 0.0;
                      bw |= ok && !(wj >= 0.0);
                    }
                  }
                  n[l] = double(cnt);
                  bad[l] = char(bw || cnt == 0 || !(y[l] == y[l]));
                  if (cnt == 0) n[l] = 1;  // keep the lane finite; its result is NaN anyway
                  dest[l] = off[3] + i;
                  if (++fill == kLanes) flush();
                }
              });
              if (fill) flush();
            },
            std::max<int64_t>(1, (int64_t(1) << 16) / std::max<int64_t>(m, 1)));
      });
    });
  });
}

}  // namespace segscore
