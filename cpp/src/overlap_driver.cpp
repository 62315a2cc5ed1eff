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

// Open-addressing hash index from 64-bit keys to dense slots 0, 1, 2, ... (linear
// probing, power-of-two capacity, load <= 1/2).  Beyond the dense tables the labels
// are sparse and possibly very many (instance maps: 10^5 labels and more); one flat
// table keeps a lookup at a probe or two, with no allocation per key.
class FlatIndex {
 public:
  // Slot of key k; `fresh` tells whether k was just added (as slot size() - 1).
  uint32_t get(uint64_t k, bool* fresh) {
    if ((n_ + 1) * 2 > cap_) grow();
    size_t i = hash(k) & (cap_ - 1);
    for (;;) {
      Entry& e = tab_[i];
      if (e.slot == kEmpty) {
        e.key = k;
        e.slot = uint32_t(n_);
        *fresh = true;
        return uint32_t(n_++);
      }
      if (e.key == k) {
        *fresh = false;
        return e.slot;
      }
      i = (i + 1) & (cap_ - 1);
    }
  }
  size_t size() const { return n_; }

 private:
  struct Entry {
    uint64_t key;
    uint32_t slot;
  };
  static constexpr uint32_t kEmpty = 0xFFFFFFFFu;
  static uint64_t hash(uint64_t k) {  // murmur3 finaliser: label bits spread over the index
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return k;
  }
  void grow() {
    const size_t cap = cap_ ? cap_ * 2 : 64;
    std::vector<Entry> old(cap, Entry{0, kEmpty});
    old.swap(tab_);
    cap_ = cap;
    for (const Entry& e : old) {
      if (e.slot == kEmpty) continue;
      size_t i = hash(e.key) & (cap_ - 1);
      while (tab_[i].slot != kEmpty) i = (i + 1) & (cap_ - 1);
      tab_[i] = e;
    }
  }
  std::vector<Entry> tab_;
  size_t cap_ = 0, n_ = 0;
};

// (pred, ref) pair -> voxel count, for pairs outside the dense histogram.
struct SparsePairs {
  FlatIndex ix;
  std::vector<uint64_t> key;
  std::vector<int64_t> cnt;
  void add(uint64_t k, int64_t c) {
    bool fresh;
    const uint32_t i = ix.get(k, &fresh);
    if (fresh) {
      key.push_back(k);
      cnt.push_back(c);
    } else {
      cnt[i] += c;
    }
  }
};

// label -> bounding box (nd lo then nd hi per label), for labels outside the dense table.
struct SparseBoxes {
  int nd = 0;
  FlatIndex ix;
  std::vector<int64_t> label;
  std::vector<int64_t> lohi;
  int64_t last = 0;              // the label looked up last and its slot: runs of one
  uint32_t last_slot = 0xFFFFFFFFu;  // label follow each other along lines and rows
  int64_t* get(int64_t l) {
    if (l == last && last_slot != 0xFFFFFFFFu) return &lohi[size_t(last_slot) * 2 * nd];
    bool fresh;
    const uint32_t i = ix.get(uint64_t(l), &fresh);
    if (fresh) {
      label.push_back(l);
      lohi.insert(lohi.end(), size_t(nd), std::numeric_limits<int64_t>::max());
      lohi.insert(lohi.end(), size_t(nd), std::numeric_limits<int64_t>::min());
    }
    last = l;
    last_slot = i;
    return &lohi[size_t(i) * 2 * nd];
  }
};

struct Partial {
  int nd;
  std::vector<int64_t> dense_pairs;
  SparsePairs sparse_pairs;
  std::vector<int64_t> dense_pred, dense_ref;  // kDenseBox boxes: nd lo then nd hi each
  SparseBoxes sparse_pred, sparse_ref;
  int64_t pmin = std::numeric_limits<int64_t>::max(), pmax = std::numeric_limits<int64_t>::min();
  int64_t rmin = pmin, rmax = pmax;
  int64_t counted = 0;

  explicit Partial(int nd_) : nd(nd_), dense_pairs(kDensePair * kDensePair, 0) {
    for (auto* d : {&dense_pred, &dense_ref}) {
      d->resize(size_t(kDenseBox * 2 * nd));
      for (int64_t l = 0; l < kDenseBox; ++l)
        for (int k = 0; k < nd; ++k) {
          (*d)[size_t(l * 2 * nd + k)] = std::numeric_limits<int64_t>::max();
          (*d)[size_t(l * 2 * nd + nd + k)] = std::numeric_limits<int64_t>::min();
        }
    }
    sparse_pred.nd = sparse_ref.nd = nd;
  }
  void add_pair(int64_t p, int64_t r, int64_t c) {
    if (uint64_t(p) < uint64_t(kDensePair) && uint64_t(r) < uint64_t(kDensePair))
      dense_pairs[p * kDensePair + r] += c;
    else
      sparse_pairs.add((uint64_t(uint32_t(p)) << 32) | uint64_t(uint32_t(r)), c);
  }
  int64_t* box(std::vector<int64_t>& dense, SparseBoxes& sparse, int64_t l) {
    if (uint64_t(l) < uint64_t(kDenseBox)) return &dense[size_t(l * 2 * nd)];
    return sparse.get(l);
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

inline void grow(int64_t* b, const int64_t* idx, int nd, int inner, int64_t k0, int64_t k1) {
  for (int d = 0; d < nd; ++d) {
    int64_t lo = d == inner ? k0 : idx[d];
    int64_t hi = d == inner ? k1 : idx[d];
    if (lo < b[d]) b[d] = lo;
    if (hi > b[nd + d]) b[nd + d] = hi;
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
  SparsePairs sparse;
  std::vector<int64_t> dp = std::move(parts[0].dense_pred), dr = std::move(parts[0].dense_ref);
  SparseBoxes bp, br;
  bp.nd = br.nd = nd;
  auto merge_box = [&](int64_t* dst, const int64_t* b) {
    for (int d = 0; d < nd; ++d) {
      dst[d] = std::min(dst[d], b[d]);
      dst[nd + d] = std::max(dst[nd + d], b[nd + d]);
    }
  };
  out.pred_min = out.ref_min = std::numeric_limits<int64_t>::max();
  out.pred_max = out.ref_max = std::numeric_limits<int64_t>::min();
  for (size_t w = 0; w < parts.size(); ++w) {
    Partial& P = parts[w];
    for (size_t i = 0; i < dense.size(); ++i) dense[i] += P.dense_pairs[i];
    for (size_t i = 0; i < P.sparse_pairs.key.size(); ++i) sparse.add(P.sparse_pairs.key[i], P.sparse_pairs.cnt[i]);
    if (w > 0) {
      for (int64_t l = 0; l < kDenseBox; ++l) {
        merge_box(&dp[size_t(l * 2 * nd)], &P.dense_pred[size_t(l * 2 * nd)]);
        merge_box(&dr[size_t(l * 2 * nd)], &P.dense_ref[size_t(l * 2 * nd)]);
      }
    }
    for (size_t i = 0; i < P.sparse_pred.label.size(); ++i)
      merge_box(bp.get(P.sparse_pred.label[i]), &P.sparse_pred.lohi[i * 2 * nd]);
    for (size_t i = 0; i < P.sparse_ref.label.size(); ++i)
      merge_box(br.get(P.sparse_ref.label[i]), &P.sparse_ref.lohi[i * 2 * nd]);
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
  for (size_t i = 0; i < sparse.key.size(); ++i) {
    const uint64_t k = sparse.key[i];
    triples.push_back({int64_t(int32_t(uint32_t(k >> 32))), int64_t(int32_t(uint32_t(k))), sparse.cnt[i]});
  }
  std::sort(triples.begin(), triples.end());
  out.pairs.reserve(triples.size() * 3);
  for (auto& t : triples) out.pairs.insert(out.pairs.end(), t.begin(), t.end());
  // boxes by label (signed order), the non-empty dense ones and every sparse one
  auto emit = [&](const std::vector<int64_t>& dn, const SparseBoxes& sp, std::vector<int64_t>& dst) {
    std::vector<std::pair<int64_t, const int64_t*>> rows;
    for (int64_t l = 0; l < kDenseBox; ++l) {
      const int64_t* b = &dn[size_t(l * 2 * nd)];
      if (b[0] <= b[nd]) rows.push_back({l, b});
    }
    for (size_t i = 0; i < sp.label.size(); ++i) rows.push_back({sp.label[i], &sp.lohi[i * 2 * nd]});
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    dst.reserve(rows.size() * size_t(1 + 2 * nd));
    for (auto& row : rows) {
      dst.push_back(row.first);
      dst.insert(dst.end(), row.second, row.second + 2 * nd);
    }
  };
  emit(dp, bp, out.pred_boxes);
  emit(dr, br, out.ref_boxes);
  return out;
}

}  // namespace segscore
