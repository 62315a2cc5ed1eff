#include "curvas_driver.h"

#include <algorithm>
#include <atomic>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <unordered_map>

#include "label_slots.h"
#include "segscore/calibration.h"
#include "segscore/multirater.h"
#include "thread_pool.h"

namespace segscore {
namespace {

constexpr int64_t kSeg = 4096;         // voxels per unit of work along the last axis
constexpr int64_t kBlockVoxels = 1 << 16;  // voxels per block (the unit of the replay order)

// One binned run: n voxels of confidence `conf` in slot `slot`, in element order.
struct Rec {
  float conf;
  uint32_t n;
  int32_t slot;
};

// One block's records, grouped by slot after the block is done (order kept within a slot).
struct Block {
  std::vector<Rec> rec;
  std::vector<int64_t> off;  // slot s: rec[off[s], off[s + 1])
};

struct Worker : LabelSlots {
  std::vector<MrFix> sum, vsum, fgsum, bgsum, exact;
  std::vector<int64_t> mn, mx, count, correct, pnan;
  std::vector<double> pmin, pmax;
  double cmin = HUGE_VAL, cmax = -HUGE_VAL;
  int64_t invalid = 0;
  void init(int64_t w, int64_t C, int64_t M, int64_t slots, int64_t K) {
    init_slots(w);
    sum.assign(C, MrFix{0, 0});
    vsum.assign(C, MrFix{0, 0});
    fgsum.assign(C, MrFix{0, 0});
    bgsum.assign(C, MrFix{0, 0});
    exact.assign(slots, MrFix{0, 0});
    mn.assign(M, INT64_MAX);
    mx.assign(M, INT64_MIN);
    count.assign(slots, 0);
    correct.assign(K * slots, 0);
    pnan.assign(C, 0);
    pmin.assign(C, HUGE_VAL);
    pmax.assign(C, -HUGE_VAL);
  }
};

// A segment of a label map as int64 values.
template <typename B>
void load_labels(const ArrayView& a, int64_t off, int64_t step, int64_t len, B* __restrict out) {
  dispatch_int(a.dtype, [&](auto tag) {
    using L = typename decltype(tag)::type;
    const L* __restrict p = static_cast<const L*>(a.data) + off;
    if (step == 1) {
      for (int64_t i = 0; i < len; ++i) out[i] = B(p[i]);
    } else {
      for (int64_t i = 0; i < len; ++i) out[i] = B(p[i * step]);
    }
    return 0;
  });
}

// Whether every value of the dtype fits an int32 buffer.
bool fits_int32(DType t) {
  return t == DType::Bool || t == DType::I8 || t == DType::U8 || t == DType::I16 || t == DType::U16 ||
         t == DType::I32;
}

// s + v, n times, each addition rounded to float32 (a float32 running sum fed n equal
// values), without n steps: inside one binade of s every addition adds the same multiple
// of the binade's ulp (a tie, v's remainder exactly half an ulp, once s / ulp is even).
}  // namespace

float f32_add_n(float s, float v, uint64_t n) {
  while (n > 0) {
    if (n < 4 || !(s >= FLT_MIN) || !(v > 0.0f)) {
      const float t = s + v;
      --n;
      if (t == s && v >= 0.0f && s >= 0.0f) return t;  // no longer moves
      s = t;
      continue;
    }
    int e;
    std::frexp(double(s), &e);  // s in [2^(e-1), 2^e)
    const double top = std::ldexp(1.0, e);
    const double u = std::ldexp(1.0, e - 24);  // float32 ulp in that binade
    const double q = std::floor(double(v) / u);
    const double r = double(v) - q * u;
    double d;
    if (r < 0.5 * u) {
      d = q * u;
    } else if (r > 0.5 * u) {
      d = (q + 1.0) * u;
    } else {
      // a tie, rounded to the even multiple of u: with s / u even the sum moves by the even
      // one of q u, (q + 1) u every time; with s / u odd, one step first makes it even
      if (std::fmod(double(s) / u, 2.0) != 0.0) {
        s = s + v;
        --n;
        continue;
      }
      d = std::fmod(q, 2.0) == 0.0 ? q * u : (q + 1.0) * u;
    }
    if (d == 0.0) return s;  // s + v rounds to s, forever
    // step i (from 0) rounds s_i + v on the u grid while s_i + v <= top
    const double L = (top - double(s) - double(v)) / d;
    if (!(L >= 3.0)) {
      s = s + v;
      --n;
      continue;
    }
    uint64_t m = uint64_t(L) - 1;
    if (m > n) m = n;
    s = float(double(s) + double(m) * d);  // a multiple of u, <= top: exact
    n -= m;
  }
  return s;
}

// The first voxel at or after `start` where some array changes (chg[i] != 0), or null.
inline const void* end_of_run(const uint8_t* chg, int64_t start, int64_t len) {
  if (start + 1 >= len) return nullptr;
  return std::memchr(chg + start + 1, 1, size_t(len - start - 1));
}

namespace {

template <typename T>
struct TopLabel {
  int32_t arg = 0, raw = 0, slot = 0;  // top class (after the softmax), argmax of the raw classes, slot
  float conf = 0;
  bool bad = false;  // background outside [0, 1] (no softmax)
  double bg = 0;
};

// The classes (1 - sum of organs, organ 1, ..., organ C) of one voxel in T, their first
// maximum (torch / numpy argmax), optionally after numpy's float64 softmax cast back to T.
template <typename T>
TopLabel<T> top_label(const T* p, int64_t C, bool softmax, const CalibParams& k) {
  TopLabel<T> r;
  T s = p[0];
  for (int64_t c = 1; c < C; ++c) s = T(s + p[c]);
  const T bg = T(T(1) - s);
  r.bg = double(bg);
  T best = bg;
  int32_t arg = 0;
  for (int64_t c = 0; c < C; ++c)
    if (p[c] > best) {
      best = p[c];
      arg = int32_t(c + 1);
    }
  r.raw = arg;
  if (!softmax) {
    r.bad = !(bg >= T(0) && bg <= T(1));
    r.arg = arg;
    r.conf = float(best);
  } else {
    double x[64];
    double e[64];
    const int64_t n = C + 1;
    x[0] = double(bg);
    for (int64_t c = 0; c < C; ++c) x[c + 1] = double(p[c]);
    double m = x[0];
    for (int64_t c = 1; c < n; ++c) m = x[c] > m ? x[c] : m;
    double tot = 0;
    for (int64_t c = 0; c < n; ++c) {
      // exp(0) is 1 and equal classes have equal exponentials: the same values as calling exp
      int64_t j = 0;
      while (j < c && x[j] != x[c]) ++j;
      e[c] = j < c ? e[j] : (x[c] == m ? 1.0 : std::exp(x[c] - m));
      tot = c == 0 ? e[0] : tot + e[c];
    }
    T ob = T(e[0] / tot);
    int32_t a = 0;
    for (int64_t c = 1; c < n; ++c) {
      const T o = T(e[c] / tot);
      if (o > ob) {
        ob = o;
        a = int32_t(c);
      }
    }
    r.arg = a;
    r.conf = float(ob);
  }
  r.slot = calib_bin(k, double(r.conf));
  return r;
}

struct Geometry {
  int nd = 0;
  const int64_t* shape = nullptr;
  int64_t n = 1, lines = 1, seg = 1, nseg = 0, units = 0, upb = 1, nblocks = 0, per_group = 1, G = 0;
};

template <typename T, typename LB>
void run_pass(const std::vector<ArrayView>& raters, const ArrayView* pred, const std::vector<ArrayView>& probs,
              const CurvasOptions& opt, const Geometry& g, bool softmax, const CalibParams& kp,
              std::vector<Worker>& work, std::vector<Block>& blocks, std::vector<int64_t>& groups, int nthreads) {
  const int64_t K = int64_t(raters.size());
  const int64_t C = int64_t(probs.size());
  const int64_t M = K + (pred ? 1 : 0);
  const int64_t W = mr_width(K);
  const int64_t slots = int64_t(opt.edges.size());  // n_bins + 1
  const int nd = g.nd;
  const int64_t* values = opt.values.data();
  std::vector<const ArrayView*> maps;
  for (const auto& r : raters) maps.push_back(&r);
  if (pred) maps.push_back(pred);
  // class of a rater's value: the last channel holding it (+1), else 0 (background)
  auto class_of = [&](int64_t v) {
    int32_t cls = 0;
    for (int64_t c = 0; c < C; ++c)
      if (values[c] == v) cls = int32_t(c + 1);
    return cls;
  };

  parallel_items(g.nblocks, nthreads, [&](int64_t bi, int wid) {
    Worker& w = work[size_t(wid)];
    if (!w.used) w.init(W, C, M, slots, K);
    Block& B = blocks[size_t(bi)];
    B.rec.clear();
    std::vector<LB> lab(static_cast<size_t>(M * g.seg));
    std::vector<int64_t> off(static_cast<size_t>(M + C)), cur(static_cast<size_t>(K + 1)), slt(static_cast<size_t>(K));
    std::vector<uint8_t> chg(static_cast<size_t>(g.seg));
    std::vector<int32_t> cls(static_cast<size_t>(K));
    std::vector<const T*> pp(static_cast<size_t>(C));
    std::vector<T> pv(static_cast<size_t>(C)), last(static_cast<size_t>(C));
    std::vector<int64_t> gl(static_cast<size_t>(3 * C)), lcur(static_cast<size_t>(K + 1)), votes(static_cast<size_t>(C));
    std::vector<int64_t> hits;
    std::vector<uint8_t> gflag(static_cast<size_t>(3 * C));
    std::vector<MrFix> fix(static_cast<size_t>(C));
    bool have_last = false, have_lab = false;
    TopLabel<T> tl;
    MrFix tfix = {0, 0};
    auto stride = [&](int64_t a, int d) -> int64_t {
      return a < M ? maps[size_t(a)]->strides[d] : probs[size_t(a - M)].strides[d];
    };
    const int64_t u0 = bi * g.upb, u1 = std::min(g.units, u0 + g.upb);
    for (int64_t u = u0; u < u1; ++u) {
      int64_t line = u / g.nseg;
      const int64_t pos = (u % g.nseg) * g.seg;
      const int64_t len = std::min(g.seg, g.n - pos);
      const int64_t grp = g.G ? line / g.per_group : 0;
      const int last_ax = nd - 1;
      for (int64_t a = 0; a < M + C; ++a) off[size_t(a)] = pos * stride(a, last_ax);
      for (int i = nd - 2; i >= 0; --i) {
        const int64_t idx = line % g.shape[i];
        line /= g.shape[i];
        for (int64_t a = 0; a < M + C; ++a) off[size_t(a)] += idx * stride(a, i);
      }
      for (int64_t m = 0; m < M; ++m)
        load_labels<LB>(*maps[size_t(m)], off[size_t(m)], maps[size_t(m)]->strides[last_ax], len,
                       lab.data() + m * g.seg);
      for (int64_t c = 0; c < C; ++c) pp[size_t(c)] = static_cast<const T*>(probs[size_t(c)].data) + off[size_t(M + c)];
      // run boundaries: any map or channel changes
      std::fill(chg.begin(), chg.begin() + len, uint8_t(0));
      chg[0] = 1;
      for (int64_t m = 0; m < M; ++m) {
        const LB* __restrict l = lab.data() + m * g.seg;
        uint8_t* __restrict ch = chg.data();
        for (int64_t i = 1; i < len; ++i) ch[i] |= uint8_t(l[i] != l[i - 1]);
      }
      for (int64_t c = 0; c < C; ++c) {
        const T* __restrict q = pp[size_t(c)];
        uint8_t* __restrict ch = chg.data();
        const int64_t st = probs[size_t(c)].strides[last_ax];
        if (st == 1) {
          for (int64_t i = 1; i < len; ++i) ch[i] |= uint8_t(q[i] != q[i - 1]);
        } else {
          for (int64_t i = 1; i < len; ++i) ch[i] |= uint8_t(q[i * st] != q[(i - 1) * st]);
        }
      }
      std::fill(gl.begin(), gl.end(), int64_t(0));
      for (int64_t start = 0; start < len;) {
        const void* nx = end_of_run(chg.data(), start, len);
        const int64_t end = nx ? int64_t(static_cast<const uint8_t*>(nx) - chg.data()) : len;
        const int64_t cnt = end - start;
        // the probabilities: top label, fixed-point values (recomputed when they change)
        bool same = have_last;
        for (int64_t c = 0; c < C; ++c) {
          const T v = pp[size_t(c)][start * probs[size_t(c)].strides[last_ax]];
          pv[size_t(c)] = v;
          same = same && (v == last[size_t(c)]) && !(v != v);
        }
        if (!same) {
          for (int64_t c = 0; c < C; ++c) {
            const T v = pv[size_t(c)];
            last[size_t(c)] = v;
            fix[size_t(c)] = double(v) > 0.0 ? mr_fixed(double(v)) : MrFix{0, 0};
            if (v != v) continue;
            const double d = double(v);
            w.pmin[size_t(c)] = d < w.pmin[size_t(c)] ? d : w.pmin[size_t(c)];
            w.pmax[size_t(c)] = d > w.pmax[size_t(c)] ? d : w.pmax[size_t(c)];
          }
          have_last = true;
          tl = top_label<T>(pv.data(), C, softmax, kp);
          tfix = tl.conf > 0.0f ? mr_fixed(double(tl.conf)) : MrFix{0, 0};
          if (!softmax) {
            w.cmin = std::min(w.cmin, tl.bg);
            w.cmax = std::max(w.cmax, tl.bg);
          }
        }
        for (int64_t c = 0; c < C; ++c)
          if (pv[size_t(c)] != pv[size_t(c)]) w.pnan[size_t(c)] += cnt;
        if (!softmax && tl.bad) w.invalid += cnt;
        // the labels: statistics indices, votes, classes (recomputed when they change)
        for (int64_t k = 0; k < K; ++k) cur[size_t(k)] = int64_t(lab[size_t(k * g.seg + start)]);
        if (pred)
          cur[size_t(K)] = int64_t(lab[size_t(K * g.seg + start)]);
        else
          cur[size_t(K)] = tl.raw == 0 ? 0 : values[tl.raw - 1];
        bool lsame = have_lab;
        for (int64_t m = 0; m <= K; ++m) lsame = lsame && cur[size_t(m)] == lcur[size_t(m)];
        if (!lsame) {
          have_lab = true;
          for (int64_t m = 0; m <= K; ++m) lcur[size_t(m)] = cur[size_t(m)];
          for (int64_t m = 0; m < M; ++m) {
            w.mn[size_t(m)] = cur[size_t(m)] < w.mn[size_t(m)] ? cur[size_t(m)] : w.mn[size_t(m)];
            w.mx[size_t(m)] = cur[size_t(m)] > w.mx[size_t(m)] ? cur[size_t(m)] : w.mx[size_t(m)];
          }
          for (int64_t k = 0; k < K; ++k) slt[size_t(k)] = w.slot(cur[size_t(k)]);
          const int64_t ps = w.slot(cur[size_t(K)]);
          hits.clear();
          auto note = [&](int64_t sl, int64_t i, int64_t) { hits.push_back(sl * W + i); };
          mr_count(note, slt.data(), K, ps, 1);
          for (int64_t k = 0; k < K; ++k) cls[size_t(k)] = class_of(cur[size_t(k)]);
          const int64_t pl = cur[size_t(K)];
          for (int64_t c = 0; c < C; ++c) {
            const int64_t l = values[c];
            int64_t v = 0;
            for (int64_t k = 0; k < K; ++k) v += cur[size_t(k)] == l ? 1 : 0;
            votes[size_t(c)] = v;
            const bool fg = v == K, dis = v > 0 && v < K;
            const bool pm = pl == l && !dis;
            gflag[size_t(3 * c)] = pm;
            gflag[size_t(3 * c + 1)] = pm && fg;
            gflag[size_t(3 * c + 2)] = fg;
          }
        }
        for (const int64_t i : hits) w.stats[size_t(i)] += cnt;
        // probability sums (segscore/multirater.h mr_probs, from the cached fixed-point values)
        for (int64_t c = 0; c < C; ++c) {
          if (!(double(pv[size_t(c)]) > 0.0)) continue;
          const MrFix fn = mr_times(fix[size_t(c)], uint64_t(cnt));
          mr_add(w.sum[size_t(c)], fn);
          const int64_t v = votes[size_t(c)];
          if (v) mr_add(w.vsum[size_t(c)], mr_times(fix[size_t(c)], uint64_t(cnt * v)));
          if (v == K) mr_add(w.fgsum[size_t(c)], fn);
          if (v == 0) mr_add(w.bgsum[size_t(c)], fn);
        }
        if (g.G)
          for (int64_t j = 0; j < 3 * C; ++j) gl[size_t(j)] += gflag[size_t(j)] ? cnt : 0;
        // the top label's bin
        const int64_t s = tl.slot;
        w.count[size_t(s)] += cnt;
        for (int64_t k = 0; k < K; ++k)
          if (cls[size_t(k)] == tl.arg) w.correct[size_t(k * slots + s)] += cnt;
        if (opt.exact_sums)  // float64 sums asked for: no float32 replay, so no records
          mr_add(w.exact[size_t(s)], mr_times(tfix, uint64_t(cnt)));
        else if (!B.rec.empty() && B.rec.back().slot == int32_t(s) && B.rec.back().conf == tl.conf &&
                 B.rec.back().n < (1u << 30))
          B.rec.back().n += uint32_t(cnt);
        else
          B.rec.push_back(Rec{tl.conf, uint32_t(cnt), int32_t(s)});
        start = end;
      }
      if (g.G)
        for (int64_t c = 0; c < C; ++c)
          for (int j = 0; j < 3; ++j)
            if (gl[size_t(3 * c + j)])
              __atomic_fetch_add(&groups[size_t((c * g.G + grp) * 3 + j)], gl[size_t(3 * c + j)], __ATOMIC_RELAXED);
    }
    if (opt.exact_sums) return;
    // group the block's records by slot (stable)
    B.off.assign(size_t(slots + 1), 0);
    for (const Rec& r : B.rec) ++B.off[size_t(r.slot + 1)];
    for (int64_t s = 0; s < slots; ++s) B.off[size_t(s + 1)] += B.off[size_t(s)];
    std::vector<Rec> sorted(B.rec.size());
    std::vector<int64_t> at(B.off.begin(), B.off.end() - 1);
    for (const Rec& r : B.rec) sorted[size_t(at[size_t(r.slot)]++)] = r;
    B.rec.swap(sorted);
  });
}

// Whether some voxel's background (1 - the organs' sum in T) is negative.
template <typename T>
bool any_overfull(const std::vector<ArrayView>& probs, const Geometry& g, int nthreads) {
  std::atomic<bool> found(false);
  const int64_t C = int64_t(probs.size());
  const int nd = g.nd;
  parallel_for(g.lines, nthreads, [&](int64_t lb, int64_t le, int) {
    std::vector<const T*> pp(static_cast<size_t>(C));
    std::vector<T> s(static_cast<size_t>(g.n));
    for (int64_t ln = lb; ln < le && !found.load(std::memory_order_relaxed); ++ln) {
      int64_t line = ln;
      for (int64_t c = 0; c < C; ++c) pp[size_t(c)] = static_cast<const T*>(probs[size_t(c)].data);
      for (int i = nd - 2; i >= 0; --i) {
        const int64_t idx = line % g.shape[i];
        line /= g.shape[i];
        for (int64_t c = 0; c < C; ++c) pp[size_t(c)] += idx * probs[size_t(c)].strides[i];
      }
      T* __restrict acc = s.data();
      const int64_t n = g.n;
      for (int64_t c = 0; c < C; ++c) {
        const int64_t st = probs[size_t(c)].strides[nd - 1];
        const T* __restrict q = pp[size_t(c)];
        if (c == 0 && st == 1) {
          for (int64_t i = 0; i < n; ++i) acc[i] = q[i];
        } else if (c == 0) {
          for (int64_t i = 0; i < n; ++i) acc[i] = q[i * st];
        } else if (st == 1) {
          for (int64_t i = 0; i < n; ++i) acc[i] = T(acc[i] + q[i]);
        } else {
          for (int64_t i = 0; i < n; ++i) acc[i] = T(acc[i] + q[i * st]);
        }
      }
      int neg = 0;
      for (int64_t i = 0; i < n; ++i) neg |= int(T(T(1) - acc[i]) < T(0));
      if (neg) found.store(true, std::memory_order_relaxed);
    }
  }, 16);
  return found.load();
}

}  // namespace

CurvasResult curvas_stats(const std::vector<ArrayView>& raters, const ArrayView* pred,
                          const std::vector<ArrayView>& probs, const CurvasOptions& opt) {
  const int64_t K = int64_t(raters.size());
  const int64_t C = int64_t(probs.size());
  if (K < 1) throw std::invalid_argument("segscore: curvas_stats needs at least one rater");
  if (C < 1 || C > 63) throw std::invalid_argument("segscore: curvas_stats needs 1 to 63 organ channels");
  if (int64_t(opt.values.size()) != C) throw std::invalid_argument("segscore: one organ label per channel");
  if (opt.edges.size() < 2) throw std::invalid_argument("segscore: curvas_stats needs at least 2 bin edges");
  const ArrayView& a0 = raters[0];
  const int nd = a0.ndim;
  if (nd < 1) throw std::invalid_argument("segscore: curvas_stats needs arrays with at least one axis");
  std::vector<const ArrayView*> all;
  for (const auto& r : raters) all.push_back(&r);
  if (pred) all.push_back(pred);
  for (const auto& p : probs) all.push_back(&p);
  for (const ArrayView* m : all) {
    if (m->ndim != nd) throw std::invalid_argument("segscore: curvas_stats arrays differ in dimensions");
    for (int d = 0; d < nd; ++d)
      if (m->shape[d] != a0.shape[d]) throw std::invalid_argument("segscore: curvas_stats arrays differ in shape");
  }
  for (const auto& p : probs)
    if (p.dtype != probs[0].dtype || (p.dtype != DType::F32 && p.dtype != DType::F64))
      throw std::invalid_argument("segscore: curvas_stats channels must all be float32 or all float64");
  if (opt.groups && nd < 3) throw std::invalid_argument("segscore: MONAI row counts need 3 or more axes");

  Geometry g;
  g.nd = nd;
  g.shape = a0.shape;
  g.n = a0.shape[nd - 1];
  for (int i = 0; i + 1 < nd; ++i) g.lines *= a0.shape[i];
  g.seg = std::max<int64_t>(1, std::min(g.n, kSeg));
  g.nseg = g.n > 0 ? (g.n + g.seg - 1) / g.seg : 0;
  g.units = (g.n > 0 && g.lines > 0) ? g.lines * g.nseg : 0;
  g.upb = std::max<int64_t>(1, kBlockVoxels / g.seg);
  g.nblocks = (g.units + g.upb - 1) / g.upb;
  if (opt.groups) {
    g.G = a0.shape[0] * a0.shape[1];
    g.per_group = 1;
    for (int i = 2; i + 1 < nd; ++i) g.per_group *= a0.shape[i];
  }
  const int nthreads = std::max(1, opt.threads > 0 ? opt.threads : default_threads());
  const bool f32 = probs[0].dtype == DType::F32;
  const int64_t slots = int64_t(opt.edges.size());
  const int64_t M = K + (pred ? 1 : 0);
  const int64_t W = mr_width(K);

  CurvasResult res;
  bool softmax = opt.softmax == 1;
  if (opt.softmax == 2 && g.units > 0)
    softmax = f32 ? any_overfull<float>(probs, g, nthreads) : any_overfull<double>(probs, g, nthreads);
  res.softmax = softmax;

  CalibParams kp{};
  kp.edges = opt.edges.data();
  kp.n_bins = int32_t(slots - 1);
  kp.right_closed = 0;
  kp.below = kCalibClamp;
  kp.above = kCalibExtraBin;
  kp.cand_offset = opt.cand_offset;
  kp.cand_scale = opt.cand_scale;
  kp.cand_tol = opt.cand_tol;
  kp.exact_floor = 0;
  kp.n_classes = int32_t(C + 1);
  kp.mode = kCalibTopLabel;
  kp.round_f32 = 1;

  std::vector<Worker> work(static_cast<size_t>(nthreads));
  std::vector<Block> blocks(static_cast<size_t>(g.nblocks));
  res.groups.assign(size_t(opt.groups ? C * g.G * 3 : 0), 0);
  if (g.units > 0) {
    bool narrow = true;
    for (const auto& r : raters) narrow = narrow && fits_int32(r.dtype);
    if (pred) narrow = narrow && fits_int32(pred->dtype);
    if (f32 && narrow)
      run_pass<float, int32_t>(raters, pred, probs, opt, g, softmax, kp, work, blocks, res.groups, nthreads);
    else if (f32)
      run_pass<float, int64_t>(raters, pred, probs, opt, g, softmax, kp, work, blocks, res.groups, nthreads);
    else if (narrow)
      run_pass<double, int32_t>(raters, pred, probs, opt, g, softmax, kp, work, blocks, res.groups, nthreads);
    else
      run_pass<double, int64_t>(raters, pred, probs, opt, g, softmax, kp, work, blocks, res.groups, nthreads);
  }

  // the running float32 sum of every slot, in element order: slots are independent, so
  // they are replayed in parallel, each in block order (bit-identical for any thread count)
  res.seq.assign(size_t(slots), 0.0);  // zeros when the exact sums replace the replay
  if (!opt.exact_sums) parallel_items(slots, nthreads, [&](int64_t s, int) {
    float run = 0.0f;
    for (const Block& B : blocks) {
      if (B.off.empty()) continue;
      for (int64_t i = B.off[size_t(s)]; i < B.off[size_t(s + 1)]; ++i)
        run = f32_add_n(run, B.rec[size_t(i)].conf, B.rec[size_t(i)].n);
    }
    res.seq[size_t(s)] = double(run);
  });

  // merge the workers
  MultiraterResult& out = res.base;
  merge_label_slots(work, W, {}, out.labels, out.stats);
  std::vector<MrFix> sum(static_cast<size_t>(C), MrFix{0, 0}), vsum(static_cast<size_t>(C), MrFix{0, 0}), fgs(static_cast<size_t>(C), MrFix{0, 0}),
      bgs(static_cast<size_t>(C), MrFix{0, 0}), ex(static_cast<size_t>(slots), MrFix{0, 0});
  std::vector<int64_t> mn(static_cast<size_t>(M), INT64_MAX), mx(static_cast<size_t>(M), INT64_MIN);
  res.count.assign(size_t(slots), 0);
  res.correct.assign(size_t(K * slots), 0);
  res.pnan.assign(size_t(C), 0);
  res.pmin.assign(size_t(C), HUGE_VAL);
  res.pmax.assign(size_t(C), -HUGE_VAL);
  res.cmin = HUGE_VAL;
  res.cmax = -HUGE_VAL;
  for (const Worker& w : work) {
    if (!w.used) continue;
    for (int64_t c = 0; c < C; ++c) {
      mr_add(sum[size_t(c)], w.sum[size_t(c)]);
      mr_add(vsum[size_t(c)], w.vsum[size_t(c)]);
      mr_add(fgs[size_t(c)], w.fgsum[size_t(c)]);
      mr_add(bgs[size_t(c)], w.bgsum[size_t(c)]);
      res.pnan[size_t(c)] += w.pnan[size_t(c)];
      res.pmin[size_t(c)] = std::min(res.pmin[size_t(c)], w.pmin[size_t(c)]);
      res.pmax[size_t(c)] = std::max(res.pmax[size_t(c)], w.pmax[size_t(c)]);
    }
    for (int64_t m = 0; m < M; ++m) {
      mn[size_t(m)] = std::min(mn[size_t(m)], w.mn[size_t(m)]);
      mx[size_t(m)] = std::max(mx[size_t(m)], w.mx[size_t(m)]);
    }
    for (int64_t s = 0; s < slots; ++s) {
      res.count[size_t(s)] += w.count[size_t(s)];
      mr_add(ex[size_t(s)], w.exact[size_t(s)]);
    }
    for (int64_t i = 0; i < K * slots; ++i) res.correct[size_t(i)] += w.correct[size_t(i)];
    res.invalid += w.invalid;
    res.cmin = std::min(res.cmin, w.cmin);
    res.cmax = std::max(res.cmax, w.cmax);
  }
  out.minmax.assign(size_t(2 * M), 0);
  for (int64_t m = 0; m < M; ++m) {
    out.minmax[size_t(2 * m + 1)] = -1;
    if (mn[size_t(m)] <= mx[size_t(m)]) {
      out.minmax[size_t(2 * m)] = mn[size_t(m)];
      out.minmax[size_t(2 * m + 1)] = mx[size_t(m)];
    }
  }
  for (int64_t c = 0; c < C; ++c) {
    out.psum.push_back(mr_to_double(sum[size_t(c)]));
    out.pvsum.push_back(mr_to_double(vsum[size_t(c)]));
    out.pfg.push_back(mr_to_double(fgs[size_t(c)]));
    out.pbg.push_back(mr_to_double(bgs[size_t(c)]));
  }
  for (int64_t s = 0; s < slots; ++s) res.exact.push_back(mr_to_double(ex[size_t(s)]));
  return res;
}

// ---- numpy's pairwise sum ------------------------------------------------------------

namespace {

// numpy's @TYPE@_pairwise_sum (loops_utils.h): 8 accumulators up to 128 elements, halves
// (rounded down to a multiple of 8) above; accumulation in T.
template <typename T>
T pairwise(const T* a, int64_t n) {
  if (n < 8) {
    T res = T(-0.0);
    for (int64_t i = 0; i < n; ++i) res = T(res + a[i]);
    return res;
  }
  if (n <= 128) {
    T r[8];
    for (int j = 0; j < 8; ++j) r[j] = a[j];
    int64_t i = 8;
    for (; i < n - (n % 8); i += 8)
      for (int j = 0; j < 8; ++j) r[j] = T(r[j] + a[i + j]);
    T res = T(T(T(r[0] + r[1]) + T(r[2] + r[3])) + T(T(r[4] + r[5]) + T(r[6] + r[7])));
    for (; i < n; ++i) res = T(res + a[i]);
    return res;
  }
  int64_t n2 = n / 2;
  n2 -= n2 % 8;
  return T(pairwise(a, n2) + pairwise(a + n2, n - n2));
}

// The tree of pairwise() cut into independent subtrees of at most `leaf` elements.
void cut(int64_t s, int64_t n, int64_t leaf, std::vector<std::pair<int64_t, int64_t>>& out) {
  if (n <= leaf || n <= 128) {
    out.emplace_back(s, n);
    return;
  }
  int64_t n2 = n / 2;
  n2 -= n2 % 8;
  cut(s, n2, leaf, out);
  cut(s + n2, n - n2, leaf, out);
}

template <typename T>
T combine(int64_t s, int64_t n, int64_t leaf, const std::vector<T>& part, size_t& at) {
  if (n <= leaf || n <= 128) return part[at++];
  int64_t n2 = n / 2;
  n2 -= n2 % 8;
  const T x = combine<T>(s, n2, leaf, part, at);
  const T y = combine<T>(s + n2, n - n2, leaf, part, at);
  return T(x + y);
}

// numpy's pairwise sums of the chunks of every array (one shape and one layout), and, with
// `overfull`, whether some element's 1 - (sum over the arrays, in T) is negative, from the
// same read.
template <typename T>
std::vector<std::vector<double>> chunk_sums(const std::vector<ArrayView>& arrs, const std::vector<int64_t>& start,
                                            const std::vector<int64_t>& len, int threads, bool* overfull) {
  const ArrayView& a = arrs[0];
  const size_t A = arrs.size();
  const int nd = a.ndim;
  // memory offset of flat (C order) index f
  auto offset = [&](int64_t f) {
    int64_t o = 0;
    for (int i = nd - 1; i >= 0; --i) {
      const int64_t idx = f % a.shape[i];
      f /= a.shape[i];
      o += idx * a.strides[i];
    }
    return o;
  };
  const int64_t inner = nd ? a.shape[nd - 1] : 1;
  const int64_t istep = nd ? a.strides[nd - 1] : 1;
  // copies [f, f + n) (C order) of array base into out
  auto gather = [&](const T* base, int64_t f, int64_t n, T* out) {
    while (n > 0) {
      const int64_t col = f % inner;
      const int64_t take = std::min(n, inner - col);
      const T* p = base + offset(f);
      for (int64_t i = 0; i < take; ++i) out[i] = p[i * istep];
      out += take;
      f += take;
      n -= take;
    }
  };
  // trailing elements that lie C-contiguously in memory: a range inside one such block is contiguous
  int64_t block = 1;
  int64_t expect = 1;
  for (int i = nd - 1; i >= 0; --i) {
    if (a.shape[i] != 1 && a.strides[i] != expect) break;
    block *= a.shape[i];
    expect *= a.shape[i];
  }
  auto contiguous = [&](int64_t f, int64_t n) { return n <= 1 || f / block == (f + n - 1) / block; };
  const int64_t leaf = overfull ? (1 << 14) : (1 << 16);  // the tree is the same; only the work split
  struct Task {
    size_t chunk;
    int64_t s, n;  // flat range
  };
  std::vector<Task> tasks;
  std::vector<size_t> first(start.size() + 1, 0);
  std::vector<std::pair<int64_t, int64_t>> pieces;
  for (size_t c = 0; c < start.size(); ++c) {
    first[c] = tasks.size();
    pieces.clear();
    if (contiguous(start[c], len[c]))
      cut(0, len[c], leaf, pieces);
    else
      pieces.emplace_back(0, len[c]);
    for (const auto& pc : pieces) tasks.push_back(Task{c, start[c] + pc.first, pc.second});
  }
  first[start.size()] = tasks.size();
  const size_t nt = tasks.size();
  std::vector<T> part(A * nt);
  std::atomic<bool> over(false);
  const int64_t per = std::max<int64_t>(1, int64_t(nt) / (int64_t(threads) * 8));
  parallel_for(int64_t(nt), threads, [&](int64_t b, int64_t e, int) {
    std::vector<std::vector<T>> buf(A);
    std::vector<const T*> ptr(A);
    std::vector<T> acc;
    for (int64_t t = b; t < e; ++t) {
      const Task& k = tasks[size_t(t)];
      const bool cont = contiguous(k.s, k.n);
      const int64_t o = cont ? offset(k.s) : 0;
      for (size_t j = 0; j < A; ++j) {
        const T* base = static_cast<const T*>(arrs[j].data);
        if (cont) {
          ptr[j] = base + o;
        } else {
          buf[j].resize(size_t(k.n));
          gather(base, k.s, k.n, buf[j].data());
          ptr[j] = buf[j].data();
        }
        part[j * nt + size_t(t)] = pairwise<T>(ptr[j], k.n);
      }
      if (overfull && !over.load(std::memory_order_relaxed)) {
        acc.resize(size_t(k.n));
        T* __restrict s = acc.data();
        const T* __restrict q0 = ptr[0];
        for (int64_t i = 0; i < k.n; ++i) s[i] = q0[i];
        for (size_t j = 1; j < A; ++j) {
          const T* __restrict q = ptr[j];
          for (int64_t i = 0; i < k.n; ++i) s[i] = T(s[i] + q[i]);
        }
        int neg = 0;
        for (int64_t i = 0; i < k.n; ++i) neg |= int(T(T(1) - s[i]) < T(0));
        if (neg) over.store(true, std::memory_order_relaxed);
      }
    }
  }, per);
  if (overfull) *overfull = over.load();
  std::vector<std::vector<double>> out(A, std::vector<double>(start.size()));
  for (size_t j = 0; j < A; ++j) {
    const std::vector<T> pj(part.begin() + std::ptrdiff_t(j * nt), part.begin() + std::ptrdiff_t((j + 1) * nt));
    for (size_t c = 0; c < start.size(); ++c) {
      if (first[c + 1] - first[c] == 1) {
        out[j][c] = double(pj[first[c]]);
        continue;
      }
      size_t at = first[c];
      out[j][c] = double(combine<T>(0, len[c], leaf, pj, at));
    }
  }
  return out;
}

}  // namespace

std::vector<std::vector<double>> numpy_chunk_sums_many(const std::vector<ArrayView>& arrs,
                                                       const std::vector<int64_t>& start,
                                                       const std::vector<int64_t>& len, int threads, bool* overfull) {
  if (arrs.empty()) throw std::invalid_argument("segscore: numpy_chunk_sums needs an array");
  if (start.size() != len.size()) throw std::invalid_argument("segscore: one length per chunk");
  const ArrayView& a = arrs[0];
  for (const auto& b : arrs) {
    if (b.dtype != a.dtype || b.ndim != a.ndim)
      throw std::invalid_argument("segscore: numpy_chunk_sums arrays differ in dtype or dimensions");
    for (int d = 0; d < a.ndim; ++d)
      if (b.shape[d] != a.shape[d] || b.strides[d] != a.strides[d])
        throw std::invalid_argument("segscore: numpy_chunk_sums arrays differ in shape or layout");
  }
  const int64_t size = a.size();
  for (size_t i = 0; i < start.size(); ++i)
    if (start[i] < 0 || len[i] < 0 || start[i] + len[i] > size)
      throw std::invalid_argument("segscore: a chunk lies outside the array");
  const int nthreads = std::max(1, threads > 0 ? threads : default_threads());
  if (a.dtype == DType::F32) return chunk_sums<float>(arrs, start, len, nthreads, overfull);
  if (a.dtype == DType::F64) return chunk_sums<double>(arrs, start, len, nthreads, overfull);
  throw std::invalid_argument("segscore: numpy_chunk_sums takes float32 or float64");
}

std::vector<double> numpy_chunk_sums(const ArrayView& a, const std::vector<int64_t>& start,
                                     const std::vector<int64_t>& len, int threads) {
  return numpy_chunk_sums_many({a}, start, len, threads, nullptr)[0];
}

}  // namespace segscore
