#include "overlap_driver.h"

#include <algorithm>
#include <cstring>
#include <array>
#include <limits>
#include <numeric>
#include <unordered_map>

#include "line_reader.h"
#include "segscore/overlap.h"
#include "thread_pool.h"

namespace segscore {
namespace {

constexpr int64_t kDensePair = 256;    // dense joint histogram for labels < 256
constexpr int64_t kDenseBox = 4096;    // dense box table for labels < 4096

struct Box {
  int64_t lo[kMaxDim], hi[kMaxDim];
  void init(int nd) {
    for (int d = 0; d < nd; ++d) {
      lo[d] = std::numeric_limits<int64_t>::max();
      hi[d] = std::numeric_limits<int64_t>::min();
    }
  }
  bool empty() const { return lo[0] > hi[0]; }
};

struct Partial {
  int nd;
  std::vector<int64_t> dense_pairs;
  std::unordered_map<uint64_t, int64_t> sparse_pairs;
  std::vector<Box> dense_pred, dense_ref;
  std::unordered_map<int64_t, Box> sparse_pred, sparse_ref;
  int64_t pmin = std::numeric_limits<int64_t>::max(), pmax = std::numeric_limits<int64_t>::min();
  int64_t rmin = pmin, rmax = pmax;
  int64_t counted = 0;

  explicit Partial(int nd_) : nd(nd_), dense_pairs(kDensePair * kDensePair, 0) {
    dense_pred.resize(kDenseBox);
    dense_ref.resize(kDenseBox);
    for (auto& b : dense_pred) b.init(nd);
    for (auto& b : dense_ref) b.init(nd);
  }
  void add_pair(int64_t p, int64_t r, int64_t c) {
    if (uint64_t(p) < uint64_t(kDensePair) && uint64_t(r) < uint64_t(kDensePair))
      dense_pairs[p * kDensePair + r] += c;
    else
      sparse_pairs[(uint64_t(uint32_t(p)) << 32) | uint64_t(uint32_t(r))] += c;
  }
  Box& box(std::vector<Box>& dense, std::unordered_map<int64_t, Box>& sparse, int64_t l) {
    if (uint64_t(l) < uint64_t(kDenseBox)) return dense[l];
    auto it = sparse.find(l);
    if (it == sparse.end()) {
      Box b;
      b.init(nd);
      it = sparse.emplace(l, b).first;
    }
    return it->second;
  }
};

// End of the run of identical (p, r) pairs starting at k, on the raw dtype:
// whole 8-byte words are compared against the run's value splatted, so long
// runs (background in both maps, the inside of an organ) cost ~1/8 of a
// per-element loop and nothing is widened to int64 first.
template <typename T>
inline int64_t run_end_raw(const T* p, const T* r, int64_t k, int64_t n) {
  const T a = p[k], b = r[k];
  int64_t j = k + 1;
  if constexpr (sizeof(T) <= 8 && (8 % sizeof(T)) == 0) {
    constexpr int64_t W = 8 / int64_t(sizeof(T));
    T sa[W], sb[W];
    for (int64_t i = 0; i < W; ++i) {
      sa[i] = a;
      sb[i] = b;
    }
    uint64_t wa, wb;
    std::memcpy(&wa, sa, 8);
    std::memcpy(&wb, sb, 8);
    while (j + W <= n) {
      uint64_t x, y;
      std::memcpy(&x, p + j, 8);
      std::memcpy(&y, r + j, 8);
      if (x != wa || y != wb) break;
      j += W;
    }
  }
  while (j < n && p[j] == a && r[j] == b) ++j;
  return j;
}

inline void grow(Box& b, const int64_t* idx, int nd, int inner, int64_t k0, int64_t k1) {
  for (int d = 0; d < nd; ++d) {
    int64_t lo = d == inner ? k0 : idx[d];
    int64_t hi = d == inner ? k1 : idx[d];
    if (lo < b.lo[d]) b.lo[d] = lo;
    if (hi > b.hi[d]) b.hi[d] = hi;
  }
}

}  // namespace

OverlapStats overlap_stats(const ArrayView& pred, const ArrayView& ref, int64_t ignore_label, int threads) {
  const int nd = pred.ndim;
  // innermost axis: smallest stride of pred (memory order), outer lines over the rest
  int inner = nd - 1;
  for (int d = 0; d < nd; ++d)
    if (std::llabs(pred.strides[d]) < std::llabs(pred.strides[inner])) inner = d;
  std::vector<int> outer_axes;
  for (int d = 0; d < nd; ++d)
    if (d != inner) outer_axes.push_back(d);
  std::sort(outer_axes.begin(), outer_axes.end(),
            [&](int a, int b) { return std::llabs(pred.strides[a]) > std::llabs(pred.strides[b]); });
  const int64_t n = pred.shape[inner];
  int64_t nlines = 1;
  for (int d : outer_axes) nlines *= pred.shape[d];
  if (threads <= 0) threads = default_threads();
  const int64_t work = nlines * n;
  const int nthr = int(std::max<int64_t>(1, std::min<int64_t>(threads, work / (1 << 16))));
  std::vector<Partial> parts;
  parts.reserve(nthr);
  for (int t = 0; t < nthr; ++t) parts.emplace_back(nd);
  LineReader rp{&pred}, rr{&ref};
  // Fast path: same dtype, contiguous inner axis: runs are found on the raw
  // data and min/max are tracked per run instead of per voxel.
  const bool raw = pred.dtype == ref.dtype && pred.strides[inner] == 1 && ref.strides[inner] == 1;

  parallel_for(nlines, nthr, [&](int64_t b, int64_t e, int w) {
    Partial& P = parts[w];
    std::vector<int64_t> pl(raw ? 0 : n), rl(raw ? 0 : n);
    int64_t idx[kMaxDim] = {0};
    for (int64_t li = b; li < e; ++li) {
      int64_t r = li, po = 0, ro = 0;
      for (int k = int(outer_axes.size()) - 1; k >= 0; --k) {
        int d = outer_axes[k];
        idx[d] = r % pred.shape[d];
        r /= pred.shape[d];
        po += idx[d] * pred.strides[d];
        ro += idx[d] * ref.strides[d];
      }
      if (raw) {
        dispatch_int(pred.dtype, [&](auto tag) {
          using T = typename decltype(tag)::type;
          const T* pp = static_cast<const T*>(pred.data) + po;
          const T* rp_ = static_cast<const T*>(ref.data) + ro;
          int64_t k = 0;
          while (k < n) {
            const int64_t p = int64_t(pp[k]), q = int64_t(rp_[k]);
            const int64_t j = run_end_raw(pp, rp_, k, n);
            if (p < P.pmin) P.pmin = p;
            if (p > P.pmax) P.pmax = p;
            if (q < P.rmin) P.rmin = q;
            if (q > P.rmax) P.rmax = q;
            if (!(ignore_label >= 0 && q == ignore_label)) {
              P.add_pair(p, q, j - k);
              P.counted += j - k;
              if (p != 0) grow(P.box(P.dense_pred, P.sparse_pred, p), idx, nd, inner, k, j - 1);
              if (q != 0) grow(P.box(P.dense_ref, P.sparse_ref, q), idx, nd, inner, k, j - 1);
            }
            k = j;
          }
        });
        continue;
      }
      rp.read(po, pred.strides[inner], n, pl.data());
      rr.read(ro, ref.strides[inner], n, rl.data());
      line_minmax(pl.data(), n, &P.pmin, &P.pmax);
      line_minmax(rl.data(), n, &P.rmin, &P.rmax);
      int64_t k = 0;
      while (k < n) {
        const int64_t p = pl[k], q = rl[k];
        int64_t j = run_end(pl.data(), rl.data(), k, n);
        if (!(ignore_label >= 0 && q == ignore_label)) {
          P.add_pair(p, q, j - k);
          P.counted += j - k;
          if (p != 0) grow(P.box(P.dense_pred, P.sparse_pred, p), idx, nd, inner, k, j - 1);
          if (q != 0) grow(P.box(P.dense_ref, P.sparse_ref, q), idx, nd, inner, k, j - 1);
        }
        k = j;
      }
    }
  });

  // merge (integer sums and min/max: order-independent)
  OverlapStats out;
  out.ndim = nd;
  std::vector<int64_t> dense(kDensePair * kDensePair, 0);
  std::unordered_map<uint64_t, int64_t> sparse;
  std::unordered_map<int64_t, Box> bp, br;
  auto merge_box = [&](std::unordered_map<int64_t, Box>& m, int64_t l, const Box& b) {
    if (b.empty()) return;
    auto it = m.find(l);
    if (it == m.end()) {
      m.emplace(l, b);
      return;
    }
    for (int d = 0; d < nd; ++d) {
      it->second.lo[d] = std::min(it->second.lo[d], b.lo[d]);
      it->second.hi[d] = std::max(it->second.hi[d], b.hi[d]);
    }
  };
  out.pred_min = out.ref_min = std::numeric_limits<int64_t>::max();
  out.pred_max = out.ref_max = std::numeric_limits<int64_t>::min();
  for (auto& P : parts) {
    for (size_t i = 0; i < dense.size(); ++i) dense[i] += P.dense_pairs[i];
    for (auto& kv : P.sparse_pairs) sparse[kv.first] += kv.second;
    for (int64_t l = 0; l < kDenseBox; ++l) {
      merge_box(bp, l, P.dense_pred[l]);
      merge_box(br, l, P.dense_ref[l]);
    }
    for (auto& kv : P.sparse_pred) merge_box(bp, kv.first, kv.second);
    for (auto& kv : P.sparse_ref) merge_box(br, kv.first, kv.second);
    out.pred_min = std::min(out.pred_min, P.pmin);
    out.pred_max = std::max(out.pred_max, P.pmax);
    out.ref_min = std::min(out.ref_min, P.rmin);
    out.ref_max = std::max(out.ref_max, P.rmax);
    out.counted += P.counted;
  }
  std::vector<std::array<int64_t, 3>> triples;
  for (int64_t p = 0; p < kDensePair; ++p)
    for (int64_t r = 0; r < kDensePair; ++r)
      if (dense[p * kDensePair + r]) triples.push_back({p, r, dense[p * kDensePair + r]});
  for (auto& kv : sparse)
    triples.push_back({int64_t(int32_t(uint32_t(kv.first >> 32))), int64_t(int32_t(uint32_t(kv.first))), kv.second});
  std::sort(triples.begin(), triples.end());
  for (auto& t : triples) out.pairs.insert(out.pairs.end(), t.begin(), t.end());
  auto emit = [&](std::unordered_map<int64_t, Box>& m, std::vector<int64_t>& dst) {
    std::vector<int64_t> labels;
    for (auto& kv : m) labels.push_back(kv.first);
    std::sort(labels.begin(), labels.end());
    for (int64_t l : labels) {
      const Box& b = m[l];
      dst.push_back(l);
      for (int d = 0; d < nd; ++d) dst.push_back(b.lo[d]);
      for (int d = 0; d < nd; ++d) dst.push_back(b.hi[d]);
    }
  };
  emit(bp, out.pred_boxes);
  emit(br, out.ref_boxes);
  return out;
}

}  // namespace segscore
