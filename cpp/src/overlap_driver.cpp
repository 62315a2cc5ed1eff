#include "overlap_driver.h"

#include <algorithm>
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

  parallel_for(nlines, nthr, [&](int64_t b, int64_t e, int w) {
    Partial& P = parts[w];
    std::vector<int64_t> pl(n), rl(n);
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
