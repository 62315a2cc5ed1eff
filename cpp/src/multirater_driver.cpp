#include "multirater_driver.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <stdexcept>
#include <unordered_map>

#include "label_slots.h"
#include "segscore/multirater.h"
#include "thread_pool.h"

namespace segscore {
namespace {

constexpr int64_t kSeg = 4096;       // voxels per unit of work along the innermost axis
constexpr int64_t kMemoMax = 32;     // value tuples up to this many arrays are memoised (RunMemo)
constexpr int64_t kMemoSlots = 1 << 14;

// The distinct value tuples of a worker's runs (each map's label, each channel's value as
// its bits, the target's label) with their voxel counts.  Every term of a run is linear in
// its voxel count (int64 counts, fixed-point sums modulo 2^128) or a min / max, so adding
// a tuple's runs first and its terms once, with the summed count, gives the same numbers,
// bit for bit; a soft probability map has some 25 times fewer distinct tuples than runs.
// Open addressing, flushed (every tuple's terms added, the table emptied) when half full.
struct RunMemo {
  int64_t A = 0, S = 0;         // values per tuple, slots (a power of two)
  std::vector<uint64_t> keys;  // S x A
  std::vector<int64_t> cnt;    // per slot: voxels (0: free)
  std::vector<int32_t> used;   // occupied slots, in order of first sight

  // a: values per tuple; voxels: at most this many runs will be added (small inputs get a small table)
  void init(int64_t a, int64_t voxels) {
    A = a;
    S = 16;
    while (S < kMemoSlots && S < 2 * voxels) S *= 2;
    keys.assign(size_t(S * A), 0);
    cnt.assign(size_t(S), 0);
    used.clear();
    used.reserve(size_t(S / 2));
  }
  // adds n voxels of tuple k; returns true when the table should be flushed
  bool add(const uint64_t* k, int64_t n) {
    uint64_t h = 0x9E3779B97F4A7C15ull;
    for (int64_t a = 0; a < A; ++a) {
      h = (h ^ k[a]) * 0xBF58476D1CE4E5B9ull;
      h ^= h >> 31;
    }
    size_t i = size_t(h) & size_t(S - 1);
    for (;;) {
      uint64_t* slot = &keys[i * size_t(A)];
      if (!cnt[i]) {
        std::copy(k, k + A, slot);
        cnt[i] = n;
        used.push_back(int32_t(i));
        return int64_t(used.size()) * 2 >= S;
      }
      if (std::equal(k, k + A, slot)) {
        cnt[i] += n;
        return false;
      }
      i = (i + 1) & size_t(S - 1);
    }
  }
  template <class F>
  void flush(const F& fn) {
    for (const int32_t i : used) {
      fn(&keys[size_t(i) * size_t(A)], cnt[size_t(i)]);
      cnt[size_t(i)] = 0;
    }
    used.clear();
  }
};

uint64_t bits_of(double v) {
  uint64_t b;
  std::memcpy(&b, &v, sizeof(b));
  return b;
}

double double_of(uint64_t b) {
  double v;
  std::memcpy(&v, &b, sizeof(v));
  return v;
}

// One worker's statistics: label slots assigned on first sight, their int64 rows, the
// probability sums and each map's value range.
struct Worker : LabelSlots {
  std::vector<MrFix> sum, vsum, fgsum, bgsum;   // per channel
  std::vector<int64_t> mn, mx;                  // per map
  // calibration terms
  std::vector<MrFix> brier, cw_conf, top_conf;
  std::vector<int64_t> cw_count, top_count, pnan, top_rater;
  std::vector<double> pmin, pmax;
  double rowdev = 0.0;

  void init(int64_t w, int64_t C, int64_t M, int64_t nb, int64_t K) {
    init_slots(w);
    fgsum.assign(C, MrFix{0, 0});
    bgsum.assign(C, MrFix{0, 0});
    top_rater.assign(K * nb, 0);
    brier.assign(C, MrFix{0, 0});
    cw_conf.assign(C * nb, MrFix{0, 0});
    top_conf.assign(nb, MrFix{0, 0});
    cw_count.assign(C * nb * 2, 0);
    top_count.assign(nb * 2, 0);
    pnan.assign(C, 0);
    pmin.assign(C, HUGE_VAL);
    pmax.assign(C, -HUGE_VAL);
    sum.assign(C, MrFix{0, 0});
    vsum.assign(C, MrFix{0, 0});
    mn.assign(M, INT64_MAX);
    mx.assign(M, INT64_MIN);
  }
};

// End of the run of values equal to element `i` (at most `end`), elements at off + j * step.
template <typename T>
int64_t run_end_typed(const T* p, int64_t step, int64_t i, int64_t end) {
  const T v = p[i * step];
  int64_t j = i + 1;
  if (step == 1) {
    // element by element while the run is short (most runs in a soft probability border are),
    // then 32 bytes at a time while their bits are v's (equal bits are equal values: v is not
    // NaN past the first loop), then element by element again
    const int64_t first = std::min(end, j + 8);
    while (j < first && p[j] == v) ++j;
    if (j < first) return j;
    constexpr int64_t E = 8 / int64_t(sizeof(T));  // elements per 64-bit word
    uint64_t pat = 0;
    for (int64_t e = 0; e < E; ++e) std::memcpy(reinterpret_cast<char*>(&pat) + e * int64_t(sizeof(T)), &v, sizeof(T));
    while (j + 4 * E <= end) {
      uint64_t w[4];
      std::memcpy(w, p + j, sizeof(w));
      if (((w[0] ^ pat) | (w[1] ^ pat) | (w[2] ^ pat) | (w[3] ^ pat)) != 0) break;
      j += 4 * E;
    }
    while (j < end && p[j] == v) ++j;
  } else {
    while (j < end && p[j * step] == v) ++j;
  }
  return j;
}

int64_t run_end(const ArrayView& a, int64_t off, int64_t step, int64_t i, int64_t end) {
  return dispatch_any(a.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    return run_end_typed(static_cast<const T*>(a.data) + off, step, i, end);
  });
}

int64_t load_label(const ArrayView& a, int64_t at) {
  return dispatch_int(a.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    return int64_t(static_cast<const T*>(a.data)[at]);
  });
}

double load_prob(const ArrayView& a, int64_t at) {
  if (a.dtype == DType::F32) return double(static_cast<const float*>(a.data)[at]);
  if (a.dtype == DType::F64) return static_cast<const double*>(a.data)[at];
  throw std::invalid_argument("segscore: probability channels must be float32 or float64");
}

// The per-run terms of segscore/multirater.h added to one worker's sums.
struct WorkerAcc {
  Worker& w;
  int64_t nb;
  void psum(int64_t c, const MrFix& f) { mr_add(w.sum[size_t(c)], f); }
  void pvsum(int64_t c, const MrFix& f) { mr_add(w.vsum[size_t(c)], f); }
  void pfg(int64_t c, const MrFix& f) { mr_add(w.fgsum[size_t(c)], f); }
  void pbg(int64_t c, const MrFix& f) { mr_add(w.bgsum[size_t(c)], f); }
  void top_rater(int64_t k, int64_t b, int64_t n) { w.top_rater[size_t(k * nb + b)] += n; }
  void nan(int64_t c, int64_t n) { w.pnan[size_t(c)] += n; }
  void range(int64_t c, double v) {
    w.pmin[size_t(c)] = v < w.pmin[size_t(c)] ? v : w.pmin[size_t(c)];
    w.pmax[size_t(c)] = v > w.pmax[size_t(c)] ? v : w.pmax[size_t(c)];
  }
  void bin(int64_t c, int64_t b, int64_t n, int64_t correct, const MrFix& f) {
    int64_t* cnt = w.cw_count.data() + (c * nb + b) * 2;
    cnt[0] += n;
    cnt[1] += correct;
    mr_add(w.cw_conf[size_t(c * nb + b)], f);
  }
  void brier(int64_t c, const MrFix& f) { mr_add(w.brier[size_t(c)], f); }
  void rowdev(double d) { w.rowdev = d > w.rowdev ? d : w.rowdev; }
  void top(int64_t b, int64_t n, int64_t correct, const MrFix& f) {
    w.top_count[size_t(2 * b)] += n;
    w.top_count[size_t(2 * b + 1)] += correct;
    mr_add(w.top_conf[size_t(b)], f);
  }
};

}  // namespace

MultiraterResult multirater_stats(const std::vector<ArrayView>& raters, const ArrayView* pred,
                                  const std::vector<ArrayView>& probs, const std::vector<int64_t>& chan_label,
                                  const std::vector<int64_t>& seed, int threads, const MultiraterCalib& calib) {
  const int64_t K = int64_t(raters.size());
  if (K < 1) throw std::invalid_argument("segscore: multirater_stats needs at least one rater");
  const int64_t P = int64_t(probs.size());                // channel arrays
  const int64_t c0 = calib.implicit_background ? 1 : 0;  // channel 0 computed from the others
  const int64_t C = P + c0;                              // channels
  if (int64_t(chan_label.size()) != C) throw std::invalid_argument("segscore: one label per probability channel");
  if (c0 && P < 1) throw std::invalid_argument("segscore: an implicit background needs probability channels");
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
  const ArrayView* tgt = calib.target;
  const int64_t nb = tgt ? int64_t(calib.edges.size()) - 1 : 0;
  if (tgt) {
    if (nb < 1) throw std::invalid_argument("segscore: multirater_stats needs at least 2 bin edges");
    if (tgt->ndim != nd) throw std::invalid_argument("segscore: the target differs in dimensions");
    for (int d = 0; d < nd; ++d)
      if (tgt->shape[d] != a0.shape[d]) throw std::invalid_argument("segscore: the target differs in shape");
    if (calib.top && C < 1) throw std::invalid_argument("segscore: the top label needs probability channels");
  }
  const double* edges = calib.edges.data();

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
  const int64_t A = M + P + (tgt ? 1 : 0);  // arrays walked in step: maps, channel arrays, target
  auto stride_of = [&](int64_t a, int d) -> int64_t {
    return a < M ? maps[size_t(a)]->strides[d] : a < M + P ? probs[size_t(a - M)].strides[d] : tgt->strides[d];
  };

  const int nthreads = std::max(1, threads > 0 ? threads : default_threads());
  std::vector<Worker> work(static_cast<size_t>(nthreads));
  auto body = [&](int64_t ub, int64_t ue, int wid) {
    Worker& w = work[size_t(wid)];
    if (!w.used) w.init(W, C, M, nb, K);
    std::vector<int64_t> off(static_cast<size_t>(A)), step(static_cast<size_t>(A)), aend(static_cast<size_t>(A));
    std::vector<double> pv(static_cast<size_t>(C));
    std::vector<int64_t> cur(static_cast<size_t>(M)), slots(static_cast<size_t>(K));
    auto add = [&](int64_t s, int64_t i, int64_t cnt) { w.stats[size_t(s * W + i)] += cnt; };
    auto view = [&](int64_t a) -> const ArrayView& {
      return a < M ? *maps[size_t(a)] : a < M + P ? probs[size_t(a - M)] : *tgt;
    };
    const int in = nd ? ax[nd - 1] : 0;
    for (int64_t a = 0; a < A; ++a) step[size_t(a)] = nd ? stride_of(a, in) : 0;
    // one run's values: the maps' labels, the channels' values (bits), the target's label
    std::vector<uint64_t> key(static_cast<size_t>(A));
    auto process = [&](const uint64_t* k, int64_t cnt) {
      for (int64_t m = 0; m < M; ++m) {
        const int64_t v = int64_t(k[m]);
        cur[size_t(m)] = v;
        w.mn[size_t(m)] = v < w.mn[size_t(m)] ? v : w.mn[size_t(m)];
        w.mx[size_t(m)] = v > w.mx[size_t(m)] ? v : w.mx[size_t(m)];
      }
      for (int64_t r = 0; r < K; ++r) slots[size_t(r)] = w.slot(cur[size_t(r)]);
      mr_count(add, slots.data(), K, pred ? w.slot(cur[size_t(K)]) : -1, cnt);
      if (C) {
        for (int64_t c = 0; c < P; ++c) pv[size_t(c0 + c)] = double_of(k[M + c]);
        if (c0) pv[0] = mr_background(pv.data() + 1, P);
        auto load = [&](int64_t c) { return pv[size_t(c)]; };
        WorkerAcc acc{w, nb};
        mr_probs(acc, load, chan_label.data(), C, cur.data(), K, cnt);
        if (tgt) {
          const int64_t t = int64_t(k[M + P]);
          mr_calib_run(acc, load, t, cnt, chan_label.data(), C, edges, nb, calib.top, cur.data(), K,
                       calib.channel_bins);
        }
      }
    };
    const bool memo = A <= kMemoMax;
    RunMemo table;
    if (memo) table.init(A, (ue - ub) * seg);
    for (int64_t u = ub; u < ue; ++u) {
      int64_t line = u / nseg;
      const int64_t pos = (u % nseg) * seg;
      const int64_t len = std::min(seg, n - pos);
      for (int64_t a = 0; a < A; ++a) off[size_t(a)] = pos * step[size_t(a)];
      for (int i = nd - 2; i >= 0; --i) {
        const int64_t sh = a0.shape[ax[i]];
        const int64_t idx = line % sh;
        line /= sh;
        for (int64_t a = 0; a < A; ++a) off[size_t(a)] += idx * stride_of(a, ax[i]);
      }
      // runs of identical (raters, prediction, probabilities, target) values, each added once
      // (aend[a]: end of array a's own current run, so that each array is scanned once)
      std::fill(aend.begin(), aend.end(), int64_t(0));
      for (int64_t start = 0; start < len;) {
        int64_t end = len;
        for (int64_t a = 0; a < A; ++a) {
          if (aend[size_t(a)] <= start) aend[size_t(a)] = run_end(view(a), off[size_t(a)], step[size_t(a)], start, len);
          end = std::min(end, aend[size_t(a)]);
        }
        const int64_t cnt = end - start;
        for (int64_t m = 0; m < M; ++m)
          key[size_t(m)] = uint64_t(load_label(*maps[size_t(m)], off[size_t(m)] + start * step[size_t(m)]));
        for (int64_t c = 0; c < P; ++c)
          key[size_t(M + c)] = bits_of(load_prob(probs[size_t(c)], off[size_t(M + c)] + start * step[size_t(M + c)]));
        if (tgt) key[size_t(M + P)] = uint64_t(load_label(*tgt, off[size_t(M + P)] + start * step[size_t(M + P)]));
        if (!memo)
          process(key.data(), cnt);
        else if (table.add(key.data(), cnt))
          table.flush(process);
        start = end;
      }
    }
    if (memo) table.flush(process);
  };
  if (units > 0) parallel_for(units, nthreads, body, 1);

  // merge the workers' slots by label value
  MultiraterResult out;
  merge_label_slots(work, W, seed, out.labels, out.stats);
  std::vector<MrFix> sum(static_cast<size_t>(C), MrFix{0, 0}), vsum(static_cast<size_t>(C), MrFix{0, 0}),
      fgs(static_cast<size_t>(C), MrFix{0, 0}), bgs(static_cast<size_t>(C), MrFix{0, 0});
  out.minmax.assign(size_t(2 * M), 0);
  for (int64_t m = 0; m < M; ++m) out.minmax[size_t(2 * m + 1)] = -1;
  std::vector<int64_t> mn(static_cast<size_t>(M), INT64_MAX), mx(static_cast<size_t>(M), INT64_MIN);
  for (const Worker& w : work) {
    if (!w.used) continue;
    for (int64_t c = 0; c < C; ++c) {
      mr_add(sum[size_t(c)], w.sum[size_t(c)]);
      mr_add(vsum[size_t(c)], w.vsum[size_t(c)]);
      mr_add(fgs[size_t(c)], w.fgsum[size_t(c)]);
      mr_add(bgs[size_t(c)], w.bgsum[size_t(c)]);
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
    out.pfg.push_back(mr_to_double(fgs[size_t(c)]));
    out.pbg.push_back(mr_to_double(bgs[size_t(c)]));
  }
  if (tgt) {
    std::vector<MrFix> br(static_cast<size_t>(C), MrFix{0, 0}), cwc(static_cast<size_t>(C * nb), MrFix{0, 0}),
        tc(static_cast<size_t>(nb), MrFix{0, 0});
    out.cw_count.assign(size_t(C * nb * 2), 0);
    out.top_count.assign(size_t(nb * 2), 0);
    out.top_rater.assign(size_t(K * nb), 0);
    out.pnan.assign(size_t(C), 0);
    out.pmin.assign(size_t(C), HUGE_VAL);
    out.pmax.assign(size_t(C), -HUGE_VAL);
    for (const Worker& w : work) {
      if (!w.used) continue;
      for (int64_t c = 0; c < C; ++c) {
        mr_add(br[size_t(c)], w.brier[size_t(c)]);
        out.pnan[size_t(c)] += w.pnan[size_t(c)];
        out.pmin[size_t(c)] = std::min(out.pmin[size_t(c)], w.pmin[size_t(c)]);
        out.pmax[size_t(c)] = std::max(out.pmax[size_t(c)], w.pmax[size_t(c)]);
      }
      for (int64_t i = 0; i < C * nb; ++i) mr_add(cwc[size_t(i)], w.cw_conf[size_t(i)]);
      for (int64_t i = 0; i < C * nb * 2; ++i) out.cw_count[size_t(i)] += w.cw_count[size_t(i)];
      for (int64_t i = 0; i < nb; ++i) mr_add(tc[size_t(i)], w.top_conf[size_t(i)]);
      for (int64_t i = 0; i < nb * 2; ++i) out.top_count[size_t(i)] += w.top_count[size_t(i)];
      for (int64_t i = 0; i < K * nb; ++i) out.top_rater[size_t(i)] += w.top_rater[size_t(i)];
      out.rowdev = std::max(out.rowdev, w.rowdev);
    }
    for (const MrFix& f : br) out.brier.push_back(mr_to_double(f));
    for (const MrFix& f : cwc) out.cw_conf.push_back(mr_to_double(f));
    for (const MrFix& f : tc) out.top_conf.push_back(mr_to_double(f));
  }
  return out;
}

void multirater_masks(const std::vector<ArrayView>& raters, const std::vector<int64_t>& labels,
                      const std::vector<void*>& fg, const std::vector<void*>& dis,
                      const std::vector<ArrayView>& fg_views, int threads) {
  const int64_t K = int64_t(raters.size());
  const int64_t L = int64_t(labels.size());
  if (K < 1 || int64_t(fg.size()) != L || int64_t(dis.size()) != L || int64_t(fg_views.size()) != L)
    throw std::invalid_argument("segscore: multirater_masks needs raters and one fg / dis output per label");
  const ArrayView& a0 = raters[0];
  const int nd = a0.ndim;
  const int64_t total = a0.size();
  if (total == 0 || L == 0) return;
  // walk in the first rater's memory order; outputs share one layout (fg_views[0]'s strides)
  std::vector<int> ax(nd);
  std::iota(ax.begin(), ax.end(), 0);
  auto mag = [](int64_t v) { return v < 0 ? -v : v; };
  std::stable_sort(ax.begin(), ax.end(), [&](int a, int b) { return mag(a0.strides[a]) > mag(a0.strides[b]); });
  const int64_t n = nd ? a0.shape[ax[nd - 1]] : 1;
  const int64_t lines = total / n;
  const ArrayView& o0 = fg_views[0];
  const int nthreads = std::max(1, threads > 0 ? threads : default_threads());
  parallel_for(lines, nthreads, [&](int64_t lb, int64_t le, int) {
    std::vector<int64_t> off(static_cast<size_t>(K + 1)), vals(static_cast<size_t>(K));
    for (int64_t line = lb; line < le; ++line) {
      int64_t r = line;
      for (int64_t k = 0; k <= K; ++k) off[size_t(k)] = 0;
      for (int i = nd - 2; i >= 0; --i) {
        const int64_t idx = r % a0.shape[ax[i]];
        r /= a0.shape[ax[i]];
        for (int64_t k = 0; k < K; ++k) off[size_t(k)] += idx * raters[size_t(k)].strides[ax[i]];
        off[size_t(K)] += idx * o0.strides[ax[i]];
      }
      const int in = nd ? ax[nd - 1] : 0;
      for (int64_t x = 0; x < n; ++x) {
        for (int64_t k = 0; k < K; ++k)
          vals[size_t(k)] = load_label(raters[size_t(k)], off[size_t(k)] + x * (nd ? raters[size_t(k)].strides[in] : 0));
        const int64_t o = off[size_t(K)] + x * (nd ? o0.strides[in] : 0);
        for (int64_t k = 0; k < K; ++k) {
          bool all = false;
          if (!mr_consensus(vals.data(), K, k, &all)) continue;
          const int64_t i = int64_t(std::lower_bound(labels.begin(), labels.end(), vals[size_t(k)]) - labels.begin());
          if (i >= L || labels[size_t(i)] != vals[size_t(k)]) continue;
          static_cast<uint8_t*>(all ? fg[size_t(i)] : dis[size_t(i)])[o] = 1;
        }
      }
    }
  }, 1);
}

}  // namespace segscore
