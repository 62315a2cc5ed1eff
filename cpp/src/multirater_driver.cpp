#include "multirater_driver.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <unordered_map>

#include "segscore/multirater.h"
#include "thread_pool.h"

namespace segscore {
namespace {

constexpr int64_t kDense = 1 << 16;  // labels below this get a slot by direct lookup
constexpr int64_t kSeg = 4096;       // voxels per unit of work along the innermost axis

// One worker's statistics: label slots assigned on first sight, their int64 rows, the
// probability sums and each map's value range.
struct Worker {
  int64_t W = 0;
  std::vector<int32_t> dense;                   // value -> slot (-1: none), values < kDense
  std::unordered_map<int64_t, int32_t> sparse;  // the other values
  std::vector<int64_t> values;                  // slot -> value
  std::vector<int64_t> stats;                   // slot x W
  std::vector<MrFix> sum, vsum;                 // per channel
  std::vector<int64_t> mn, mx;                  // per map
  bool used = false;

  void init(int64_t w, int64_t C, int64_t M) {
    W = w;
    dense.assign(kDense, -1);
    sum.assign(C, MrFix{0, 0});
    vsum.assign(C, MrFix{0, 0});
    mn.assign(M, INT64_MAX);
    mx.assign(M, INT64_MIN);
    used = true;
  }
  int64_t slot(int64_t v) {
    if (v >= 0 && v < kDense) {
      int32_t& s = dense[size_t(v)];
      if (s < 0) s = fresh(v);
      return s;
    }
    auto it = sparse.find(v);
    if (it != sparse.end()) return it->second;
    const int32_t s = fresh(v);
    sparse.emplace(v, s);
    return s;
  }
  int32_t fresh(int64_t v) {
    values.push_back(v);
    stats.resize(stats.size() + size_t(W), 0);
    return int32_t(values.size() - 1);
  }
};

template <typename T>
void read_line(const void* data, int64_t off, int64_t stride, int64_t n, int64_t* out) {
  const T* p = static_cast<const T*>(data) + off;
  if (stride == 1) {
    for (int64_t i = 0; i < n; ++i) out[i] = int64_t(p[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) out[i] = int64_t(p[i * stride]);
  }
}

void read_labels(const ArrayView& a, int64_t off, int64_t stride, int64_t n, int64_t* out) {
  dispatch_int(a.dtype, [&](auto tag) { read_line<typename decltype(tag)::type>(a.data, off, stride, n, out); });
}

template <typename T>
void read_probs_typed(const void* data, int64_t off, int64_t stride, int64_t n, double* out) {
  const T* p = static_cast<const T*>(data) + off;
  for (int64_t i = 0; i < n; ++i) out[i] = double(p[i * stride]);
}

void read_probs(const ArrayView& a, int64_t off, int64_t stride, int64_t n, double* out) {
  if (a.dtype == DType::F32) return read_probs_typed<float>(a.data, off, stride, n, out);
  if (a.dtype == DType::F64) return read_probs_typed<double>(a.data, off, stride, n, out);
  throw std::invalid_argument("segscore: probability channels must be float32 or float64");
}

}  // namespace

MultiraterResult multirater_stats(const std::vector<ArrayView>& raters, const ArrayView* pred,
                                  const std::vector<ArrayView>& probs, const std::vector<int64_t>& chan_label,
                                  const std::vector<int64_t>& seed, int threads) {
  const int64_t K = int64_t(raters.size());
  if (K < 1) throw std::invalid_argument("segscore: multirater_stats needs at least one rater");
  const int64_t C = int64_t(probs.size());
  if (int64_t(chan_label.size()) != C) throw std::invalid_argument("segscore: one label per probability channel");
  std::vector<const ArrayView*> maps;
  for (const auto& r : raters) maps.push_back(&r);
  if (pred) maps.push_back(pred);
  const int64_t M = int64_t(maps.size());
  const ArrayView& a0 = raters[0];
  const int nd = a0.ndim;
  for (const ArrayView* m : maps) {
    if (m->ndim != nd) throw std::invalid_argument("segscore: multirater_stats maps differ in dimensions");
    for (int d = 0; d < nd; ++d)
      if (m->shape[d] != a0.shape[d]) throw std::invalid_argument("segscore: multirater_stats maps differ in shape");
  }
  for (const auto& p : probs) {
    if (p.ndim != nd) throw std::invalid_argument("segscore: a probability channel differs in dimensions");
    for (int d = 0; d < nd; ++d)
      if (p.shape[d] != a0.shape[d]) throw std::invalid_argument("segscore: a probability channel differs in shape");
  }
  const int64_t W = mr_width(K);

  // walk in the first rater's memory order: axes by decreasing |stride|, the line axis last
  std::vector<int> ax(nd);
  std::iota(ax.begin(), ax.end(), 0);
  auto mag = [](int64_t v) { return v < 0 ? -v : v; };
  std::stable_sort(ax.begin(), ax.end(), [&](int a, int b) { return mag(a0.strides[a]) > mag(a0.strides[b]); });
  const int64_t n = nd ? a0.shape[ax[nd - 1]] : 1;
  int64_t lines = 1;
  for (int i = 0; i + 1 < nd; ++i) lines *= a0.shape[ax[i]];
  const int64_t seg = std::max<int64_t>(1, std::min(n, kSeg));
  const int64_t nseg = n > 0 ? (n + seg - 1) / seg : 0;
  const int64_t units = (n > 0 && lines > 0) ? lines * nseg : 0;
  const int64_t A = M + C;  // arrays walked in step
  auto stride_of = [&](int64_t a, int d) -> int64_t {
    return a < M ? maps[size_t(a)]->strides[d] : probs[size_t(a - M)].strides[d];
  };

  const int nthreads = std::max(1, threads > 0 ? threads : default_threads());
  std::vector<Worker> work(static_cast<size_t>(nthreads));
  auto body = [&](int64_t ub, int64_t ue, int wid) {
    Worker& w = work[size_t(wid)];
    if (!w.used) w.init(W, C, M);
    std::vector<int64_t> vals(static_cast<size_t>(M * seg)), off(static_cast<size_t>(A));
    std::vector<double> pv(static_cast<size_t>(C * seg));
    std::vector<int64_t> cur(static_cast<size_t>(M)), slots(static_cast<size_t>(K));
    auto add = [&](int64_t s, int64_t i, int64_t cnt) { w.stats[size_t(s * W + i)] += cnt; };
    auto flush = [&](int64_t cnt) {
      for (int64_t k = 0; k < K; ++k) slots[size_t(k)] = w.slot(cur[size_t(k)]);
      const int64_t ps = pred ? w.slot(cur[size_t(K)]) : -1;
      mr_count(add, slots.data(), K, ps, cnt);
    };
    for (int64_t u = ub; u < ue; ++u) {
      int64_t line = u / nseg;
      const int64_t pos = (u % nseg) * seg;
      const int64_t len = std::min(seg, n - pos);
      for (int64_t a = 0; a < A; ++a) off[size_t(a)] = pos * (nd ? stride_of(a, ax[nd - 1]) : 0);
      for (int i = nd - 2; i >= 0; --i) {
        const int64_t sh = a0.shape[ax[i]];
        const int64_t idx = line % sh;
        line /= sh;
        for (int64_t a = 0; a < A; ++a) off[size_t(a)] += idx * stride_of(a, ax[i]);
      }
      const int in = nd ? ax[nd - 1] : 0;
      for (int64_t m = 0; m < M; ++m) {
        int64_t* v = vals.data() + m * seg;
        read_labels(*maps[size_t(m)], off[size_t(m)], nd ? maps[size_t(m)]->strides[in] : 0, len, v);
        int64_t lo = w.mn[size_t(m)], hi = w.mx[size_t(m)];
        for (int64_t i = 0; i < len; ++i) {
          lo = v[i] < lo ? v[i] : lo;
          hi = v[i] > hi ? v[i] : hi;
        }
        w.mn[size_t(m)] = lo;
        w.mx[size_t(m)] = hi;
      }
      for (int64_t c = 0; c < C; ++c)
        read_probs(probs[size_t(c)], off[size_t(M + c)], nd ? probs[size_t(c)].strides[in] : 0, len,
                   pv.data() + c * seg);
      // counts: runs of identical (raters, prediction) values
      int64_t run = 0;
      for (int64_t i = 0; i < len; ++i) {
        bool same = run > 0;
        for (int64_t m = 0; m < M && same; ++m) same = vals[size_t(m * seg + i)] == cur[size_t(m)];
        if (same) {
          ++run;
          continue;
        }
        if (run) flush(run);
        for (int64_t m = 0; m < M; ++m) cur[size_t(m)] = vals[size_t(m * seg + i)];
        run = 1;
      }
      if (run) flush(run);
      if (C) {
        int64_t rv[64];
        std::vector<int64_t> big;
        int64_t* r = rv;
        if (K > 64) {
          big.resize(size_t(K));
          r = big.data();
        }
        for (int64_t i = 0; i < len; ++i) {
          for (int64_t k = 0; k < K; ++k) r[k] = vals[size_t(k * seg + i)];
          auto load = [&](int64_t c) { return pv[size_t(c * seg + i)]; };
          mr_probs(load, chan_label.data(), C, r, K, w.sum.data(), w.vsum.data());
        }
      }
    }
  };
  if (units > 0) parallel_for(units, nthreads, body, 1);

  // merge the workers' slots by label value
  MultiraterResult out;
  std::vector<int64_t> all(seed.begin(), seed.end());
  for (const Worker& w : work)
    if (w.used) all.insert(all.end(), w.values.begin(), w.values.end());
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  out.labels = all;
  out.stats.assign(all.size() * size_t(W), 0);
  std::vector<MrFix> sum(static_cast<size_t>(C), MrFix{0, 0}), vsum(static_cast<size_t>(C), MrFix{0, 0});
  out.minmax.assign(size_t(2 * M), 0);
  for (int64_t m = 0; m < M; ++m) out.minmax[size_t(2 * m + 1)] = -1;
  std::vector<int64_t> mn(static_cast<size_t>(M), INT64_MAX), mx(static_cast<size_t>(M), INT64_MIN);
  for (const Worker& w : work) {
    if (!w.used) continue;
    for (size_t s = 0; s < w.values.size(); ++s) {
      const size_t row = size_t(std::lower_bound(all.begin(), all.end(), w.values[s]) - all.begin());
      for (int64_t i = 0; i < W; ++i) out.stats[row * size_t(W) + size_t(i)] += w.stats[s * size_t(W) + size_t(i)];
    }
    for (int64_t c = 0; c < C; ++c) {
      mr_add(sum[size_t(c)], w.sum[size_t(c)]);
      mr_add(vsum[size_t(c)], w.vsum[size_t(c)]);
    }
    for (int64_t m = 0; m < M; ++m) {
      mn[size_t(m)] = std::min(mn[size_t(m)], w.mn[size_t(m)]);
      mx[size_t(m)] = std::max(mx[size_t(m)], w.mx[size_t(m)]);
    }
  }
  for (int64_t m = 0; m < M; ++m)
    if (mn[size_t(m)] <= mx[size_t(m)]) {
      out.minmax[size_t(2 * m)] = mn[size_t(m)];
      out.minmax[size_t(2 * m + 1)] = mx[size_t(m)];
    }
  for (int64_t c = 0; c < C; ++c) {
    out.psum.push_back(mr_to_double(sum[size_t(c)]));
    out.pvsum.push_back(mr_to_double(vsum[size_t(c)]));
  }
  return out;
}

}  // namespace segscore
