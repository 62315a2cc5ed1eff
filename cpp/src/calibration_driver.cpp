// CPU driver of the calibration pass: walks the spatial grid in line segments of
// logical C order (strided.h), calls the per-voxel functions of
// segscore/calibration.h and reduces the histograms deterministically.
//
// Work is cut into fixed blocks of line segments (independent of the thread
// count and of the memory layout).  Integer counts are summed per thread (exact
// in any order); the double sums of each block are stored and added in block
// order afterwards, so every result is bit-identical for any number of threads
// and for C-ordered, Fortran-ordered or strided inputs.
#include "calibration_driver.h"

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <stdexcept>
#include <type_traits>

#include "line_reader.h"
#include "strided.h"

namespace segscore {
namespace {

constexpr int kCopies = 4;                 // interleaved histogram copies (breaks add-latency chains)
constexpr int64_t kBlockVoxels = 1 << 15;  // voxels per block of the deterministic reduction
constexpr int64_t kMaxBlockDoubles = int64_t(1) << 23;

constexpr int64_t kWindowBytes = int64_t(8) << 20;  // probability values per window buffer, at most

// The spatial grid as units of the strided walker (strided.h): lines along the last
// spatial axis of extent > 1 in logical C order, cut into segments of at most kBlockVoxels voxels, over
// the probabilities (array 0, spatial strides), the target (1) and the mask (2).  The
// units, and so the blocks of the reduction, depend on the shape only: every float sum
// follows the elements' logical order whatever the memory layout.  The layout only
// decides how units are read (UnitReader): straight from the arrays, or, when the spatial
// axis with the smallest probability stride is not the last one, through windows.
struct Geometry {
  Lines<3> lines;
  int64_t cstride = 0;  // class stride (multi-class input)
  int64_t classes = 1;  // values per voxel: C of a multi-class input, else 1
  // windows: kb consecutive slabs of grid axis wm (a slab: one index of the axes up to wm, the
  // axes after it whole, slab_voxels voxels = slab_lines whole lines); wm < 0: none
  int wm = -1;
  int64_t kb = 1, slab_voxels = 1, slab_lines = 1;
  int64_t units() const { return lines.units(); }
};

int64_t itemsize(DType t) {
  switch (t) {
    case DType::Bool: case DType::I8: case DType::U8: return 1;
    case DType::I16: case DType::U16: case DType::F16: return 2;
    case DType::I32: case DType::U32: case DType::F32: return 4;
    default: return 8;
  }
}

Geometry make_geometry(const CalibInput& in) {
  Geometry g;
  const ArrayView& t = in.target;
  const int nd = t.ndim;
  int64_t pstr[kMaxDim] = {}, none[kMaxDim] = {};
  int pd = 0;
  for (int d = 0; d < in.probs.ndim; ++d) {
    if (d == in.class_axis) {
      g.cstride = in.probs.strides[d];
      g.classes = in.probs.shape[d];
      continue;
    }
    if (pd >= kMaxDim || pd >= nd || in.probs.shape[d] != t.shape[pd])
      throw std::invalid_argument("segscore: probs/target shape mismatch");
    pstr[pd++] = in.probs.strides[d];
  }
  if (pd != nd) throw std::invalid_argument("segscore: probs/target dimension mismatch");
  if (in.mask) {
    if (in.mask->ndim != nd) throw std::invalid_argument("segscore: mask shape mismatch");
    for (int d = 0; d < nd; ++d)
      if (in.mask->shape[d] != t.shape[d]) throw std::invalid_argument("segscore: mask shape mismatch");
  }
  const int64_t* strides[3] = {pstr, t.strides, in.mask ? in.mask->strides : none};
  // the grid: the spatial axes in C order without those of extent 1 (a shape-only choice)
  int axes[kMaxDim], na = 0;
  for (int d = 0; d < nd; ++d)
    if (t.shape[d] != 1) axes[na++] = d;
  g.lines = make_lines<3>(na, axes, t.shape, strides, kBlockVoxels);
  // windows when another grid axis is closer in memory than the last one
  const Lines<3>& L = g.lines;
  int m = L.nd - 1;
  for (int i = 0; i < L.nd; ++i)
    if (std::llabs(L.stride[0][i]) < std::llabs(L.stride[0][m])) m = i;
  if (L.nd >= 2 && m != L.nd - 1 && g.units() > 0) {
    g.wm = m;
    g.slab_voxels = 1;
    for (int i = m + 1; i < L.nd; ++i) g.slab_voxels *= L.shape[i];
    g.slab_lines = g.slab_voxels / L.n;
    const int64_t voxel_bytes = g.classes * itemsize(in.probs.dtype);
    g.kb = std::max<int64_t>(1, std::min<int64_t>(16, 64 / voxel_bytes));  // a cache line along wm
    while (g.kb > 1 && g.kb * g.slab_voxels * voxel_bytes > kWindowBytes) g.kb /= 2;
    g.kb = std::min(g.kb, L.shape[m]);
  }
  return g;
}

// Labels and counted-voxel flags of one segment.  Labels are kept as int32:
// a label outside int32 is out of range for any class count, becomes -1 here
// and is reported by the range check, which runs on the native values.
struct SegBuf {
  std::vector<int32_t> label;
  std::vector<int64_t> tmp;
  std::vector<uint8_t> use;
  mutable std::vector<int32_t> bin;  // scratch of the exact-floor fast path
  explicit SegBuf(int64_t n) : label(n), tmp(n), use(n, 1), bin(n) {}
};

template <typename L>
inline int32_t label32(L v) {
  if constexpr (sizeof(L) < 4 || (sizeof(L) == 4 && std::is_signed<L>::value)) {
    return int32_t(v);
  } else if constexpr (std::is_signed<L>::value) {
    return (v >= L(INT32_MIN) && v <= L(INT32_MAX)) ? int32_t(v) : -1;
  } else {
    return v <= L(INT32_MAX) ? int32_t(v) : -1;
  }
}

template <typename L>
inline int64_t label64(L v) {  // for the reported range; uint64 above int64 saturates
  if constexpr (std::is_unsigned<L>::value && sizeof(L) == 8)
    return v > uint64_t(INT64_MAX) ? INT64_MAX : int64_t(v);
  else
    return int64_t(v);
}

// Reads the labels (and mask) of one unit of `len` voxels (target / mask offsets off[1] /
// off[2], steps ts / ms); updates the label range (over counted voxels) and returns the
// number of counted voxels.
int64_t read_segment(const CalibInput& in, const int64_t* off, int64_t ts, int64_t ms, int64_t len, SegBuf& b,
                     int64_t* tmin, int64_t* tmax) {
  int32_t* lab = b.label.data();
  uint8_t* use = b.use.data();
  const bool has_use = in.mask || in.has_ignore;
  if (in.mask) {
    LineReader{in.mask}.read(off[2], ms, len, b.tmp.data());
    for (int64_t k = 0; k < len; ++k) use[k] = b.tmp[k] != 0;
  } else if (has_use) {
    for (int64_t k = 0; k < len; ++k) use[k] = 1;
  }
  int64_t cnt = 0;
  dispatch_int(in.target.dtype, [&](auto tag) {
    using L = typename decltype(tag)::type;
    const L* src = static_cast<const L*>(in.target.data) + off[1];
    if (!has_use && ts == 1) {  // the common case: native min / max, then the conversion (both vectorise)
      L lo = src[0], hi = src[0];
      for (int64_t k = 1; k < len; ++k) {
        lo = src[k] < lo ? src[k] : lo;
        hi = src[k] > hi ? src[k] : hi;
      }
      for (int64_t k = 0; k < len; ++k) lab[k] = label32(src[k]);
      *tmin = std::min(*tmin, label64(lo));
      *tmax = std::max(*tmax, label64(hi));
      cnt = len;
      return;
    }
    bool any = false;
    L lo = 0, hi = 0;
    for (int64_t k = 0; k < len; ++k) {
      const L v = src[k * ts];
      lab[k] = label32(v);
      if (has_use) {
        if (in.has_ignore && label64(v) == in.ignore_label) use[k] = 0;
        if (!use[k]) continue;
      }
      ++cnt;
      if (!any) {
        lo = hi = v;
        any = true;
      } else {
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
      }
    }
    if (any) {
      *tmin = std::min(*tmin, label64(lo));
      *tmax = std::max(*tmax, label64(hi));
    }
  });
  return cnt;
}

// Histograms of one block, kCopies interleaved copies.  Count and correct
// are packed into one int64 (count in the low 32 bits, correct in the high
// bits; a block holds fewer than 2^31 voxels).
struct BlockHist {
  int32_t width = 0;  // streams * slots
  std::vector<int64_t> packed;
  std::vector<double> sum;
  double brier[kCopies] = {0}, nll[kCopies] = {0};
  int64_t scored = 0, invalid = 0;
  void init(int32_t w) {
    width = w;
    packed.assign(size_t(kCopies) * w, 0);
    sum.assign(size_t(kCopies) * w, 0.0);
  }
  void clear() {
    std::fill(packed.begin(), packed.end(), 0);
    std::fill(sum.begin(), sum.end(), 0.0);
    for (int h = 0; h < kCopies; ++h) brier[h] = nll[h] = 0;
    scored = invalid = 0;
  }
};

constexpr int64_t kOne = 1, kCorrect = int64_t(1) << 32;
// Increment of a voxel, indexed by "correct": a table, not a branch (gcc turns
// ?: and shifted flags into a branch, which mispredicts on real labels).
constexpr int64_t kInc[2] = {kOne, kOne | kCorrect};

// One segment of voxels.  Mode / binary input / logits / scores / mask are
// compile-time so the per-voxel work is straight-line code; Fast fixes the
// common case (no clip, no rounding, exact floor binning) at compile time.
template <typename T, int Mode, bool Binary, bool Logits, bool Scores, bool HasUse, bool Fast>
void bin_segment(const CalibParams& k, const CalibOptions& opt, const T* p, int64_t ps, int64_t cs,
                 const SegBuf& b, int64_t n, int32_t slots, BlockHist& h, double* work) {
  CalibParams kk = k;  // local copy with the compile-time fields: the compiler folds them
  kk.n_classes = Binary ? 0 : k.n_classes;
  kk.logits = Logits ? 1 : 0;
  if (Fast) {
    kk.clip = 0;
    kk.round_f32 = 0;
    kk.exact_floor = 1;
  }
  const int64_t C = Binary ? 2 : kk.n_classes;
  const int32_t width = h.width;
  int64_t* __restrict packed = h.packed.data();
  double* __restrict sum = h.sum.data();
  const uint8_t* __restrict use = b.use.data();
  const int32_t* __restrict lab = b.label.data();
  int64_t invalid = 0, scored = 0;
  double brier[kCopies] = {0, 0, 0, 0}, nll[kCopies] = {0, 0, 0, 0};
  for (int64_t i = 0; i < n; ++i) {
    if (HasUse && !use[i]) continue;
    const T* q = p + i * ps;
    const int64_t t = lab[i];
    const int hc = int(i & (kCopies - 1));
    const int64_t base = int64_t(hc) * width;
    int32_t bad;
    if (Mode == kCalibClassWise) {
      bad = calib_all_probs(kk, q, cs, work);
      if (bad) {
        invalid += bad;
        continue;
      }
      for (int64_t c = 0; c < C; ++c) {
        const int32_t s = calib_bin(kk, work[c]);
        if (s < 0) continue;
        const int64_t j = base + c * slots + s;
        packed[j] += kInc[t == c];
        sum[j] += work[c];
      }
    } else {
      double conf;
      int64_t inc;  // a full-width value: a spilled bool reloaded wider stalls store forwarding
      if (Mode == kCalibTopLabel) {
        int32_t cls = 0;
        bad = calib_top_label(kk, q, cs, &conf, &cls);
        inc = kInc[cls == t];
      } else {
        bad = calib_class_prob(kk, q, cs, kk.positive, &conf);
        inc = kInc[t == kk.positive];
      }
      if (bad) {
        invalid += bad;
        continue;
      }
      const int32_t s = calib_bin(kk, conf);
      if (s >= 0) {
        const int64_t j = base + s;
        packed[j] += inc;
        sum[j] += conf;
      }
    }
    if (Scores && t >= 0 && t < C) {
      double br, nl;
      calib_scores(kk, q, cs, t, opt.brier_sum_form, &br, &nl);
      brier[hc] += br;
      nll[hc] += nl;
      ++scored;
    }
  }
  for (int c = 0; c < kCopies; ++c) {
    h.brier[c] += brier[c];
    h.nll[c] += nll[c];
  }
  h.invalid += invalid;
  h.scored += scored;
}

// Range check and floor bins of a contiguous float32 segment in one pass:
// the number of values outside [0, 1] (NaN included) is returned, and the bins
// min(floor(c * n), n - 1) are valid when it is 0.  Vectorises; an AVX2 clone
// is picked at load time where the CPU has it (the build targets baseline x86-64).
#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__)
__attribute__((target_clones("avx2", "default")))
#endif
int32_t range_and_bins_f32(const float* __restrict p, int64_t n, double dn, double top, int32_t* __restrict bin) {
  int32_t bad = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float c = p[i];
    bad += !((c >= 0.0f) & (c <= 1.0f));
    const double g = double(c) * dn;
    const double h = g < top ? g : top;  // NaN -> top
    bin[i] = int32_t(h > 0.0 ? h : 0.0);
  }
  return bad;
}

// The hottest configuration on its own: binary P(class 1), positive class,
// raw probabilities, exact floor binning (segscore's default bins).  A
// vectorisable pre-pass checks the value range of the segment; then the voxel
// loop is a load, a multiply, a clamp and two histogram adds, unrolled over
// the kCopies histogram copies.
template <typename T, bool HasUse>
void bin_segment_binary_exact(const CalibParams& k, const CalibOptions&, const T* p, int64_t ps, int64_t,
                              const SegBuf& b, int64_t n, int32_t, BlockHist& h, double*) {
  const int32_t nb = k.n_bins;
  const double dn = double(nb);
  const int64_t width = h.width;
  const int32_t pos = k.positive;
  int64_t* __restrict packed = h.packed.data();
  double* __restrict sum = h.sum.data();
  const uint8_t* __restrict use = b.use.data();
  const int32_t* __restrict lab = b.label.data();
  int64_t bad = 0;
  int32_t* __restrict bin = b.bin.data();
  const double top = double(nb - 1);
  bool have_bins = false;
  if constexpr (std::is_same<T, float>::value) {
    if (ps == 1 && !HasUse) {
      bad = range_and_bins_f32(p, n, dn, top, bin);
      have_bins = true;
    }
  }
  if (have_bins) {
  } else if (ps == 1 && !HasUse && !std::is_same<T, uint16_t>::value) {  // branch-free: vectorises
    int32_t nbad = 0;
    for (int64_t i = 0; i < n; ++i) nbad += !((p[i] >= T(0)) & (p[i] <= T(1)));
    bad = nbad;
  } else if (ps == 1) {
    for (int64_t i = 0; i < n; ++i) {
      const double c = calib_load(p + i);
      bad += !(c >= 0.0 && c <= 1.0) && (!HasUse || use[i]);
    }
  } else {
    for (int64_t i = 0; i < n; ++i) {
      const double c = calib_load(p + i * ps);
      bad += !(c >= 0.0 && c <= 1.0) && (!HasUse || use[i]);
    }
  }
  if (bad || k.above != kCalibClamp) {  // careful loop: per-voxel checks, the convention's last-edge rule
    for (int64_t i = 0; i < n; ++i) {
      if (HasUse && !use[i]) continue;
      const double c = calib_load(p + i * ps);
      if (!(c >= 0.0 && c <= 1.0)) continue;
      int32_t s = int32_t(c * dn);
      if (s >= nb) s = calib_bin(k, c);
      if (s < 0) continue;
      const int64_t j = int64_t(i & (kCopies - 1)) * width + s;
      packed[j] += kInc[lab[i] == pos];
      sum[j] += c;
    }
    h.invalid += bad;
    return;
  }
  // bin of every voxel first (vectorises): floor(min(c * n, n - 1)), so c = 1 lands in the last bin
  if (have_bins) {
  } else if (ps == 1 && !std::is_same<T, uint16_t>::value) {
    for (int64_t i = 0; i < n; ++i) {
      const double g = double(p[i]) * dn;
      const double h = g < top ? g : top;  // NaN -> top: masked-out values are never out of range
      bin[i] = int32_t(h > 0.0 ? h : 0.0);
    }
  } else {
    for (int64_t i = 0; i < n; ++i) {
      const double g = calib_load(p + i * ps) * dn;
      const double h = g < top ? g : top;
      bin[i] = int32_t(h > 0.0 ? h : 0.0);
    }
  }
  auto one = [&](int64_t i, int64_t* __restrict pk, double* __restrict sm) {
    if (HasUse && !use[i]) return;
    const int32_t s = bin[i];
    pk[s] += kInc[lab[i] == pos];
    sm[s] += calib_load(p + i * ps);
  };
  static_assert(kCopies == 4, "unrolled for four copies");
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    one(i, packed, sum);
    one(i + 1, packed + width, sum + width);
    one(i + 2, packed + 2 * width, sum + 2 * width);
    one(i + 3, packed + 3 * width, sum + 3 * width);
  }
  for (; i < n; ++i) one(i, packed + (i & 3) * width, sum + (i & 3) * width);
}

using SegFn = void (*)(const CalibParams&, const CalibOptions&, const void*, int64_t, int64_t, const SegBuf&,
                       int64_t, int32_t, BlockHist&, double*);

template <typename T, bool HasUse>
void bin_segment_binary_exact_erased(const CalibParams& k, const CalibOptions& opt, const void* p, int64_t ps,
                                     int64_t cs, const SegBuf& b, int64_t n, int32_t slots, BlockHist& h,
                                     double* work) {
  bin_segment_binary_exact<T, HasUse>(k, opt, static_cast<const T*>(p), ps, cs, b, n, slots, h, work);
}

template <typename T, int Mode, bool Binary, bool Logits, bool Scores, bool HasUse, bool Fast>
void bin_segment_erased(const CalibParams& k, const CalibOptions& opt, const void* p, int64_t ps, int64_t cs,
                        const SegBuf& b, int64_t n, int32_t slots, BlockHist& h, double* work) {
  bin_segment<T, Mode, Binary, Logits, Scores, HasUse, Fast>(k, opt, static_cast<const T*>(p), ps, cs, b, n, slots,
                                                              h, work);
}

// Compile-time variant for the runtime flags (binary, logits, scores, has_use).
template <typename T, int Mode, bool... B>
SegFn pick(const bool* flags) {
  if constexpr (sizeof...(B) == 4) {
    return &bin_segment_erased<T, Mode, B..., false>;
  } else {
    return flags[0] ? pick<T, Mode, B..., true>(flags + 1) : pick<T, Mode, B..., false>(flags + 1);
  }
}

// The fast variants: no logits, no scores, no clip / rounding, exact floor binning.
template <typename T, int Mode>
SegFn pick_fast(bool binary, bool has_use) {
  if (binary)
    return has_use ? &bin_segment_erased<T, Mode, true, false, false, true, true>
                   : &bin_segment_erased<T, Mode, true, false, false, false, true>;
  return has_use ? &bin_segment_erased<T, Mode, false, false, false, true, true>
                 : &bin_segment_erased<T, Mode, false, false, false, false, true>;
}

template <typename T>
SegFn pick_segment_fn(const CalibParams& k, bool scores, bool has_use) {
  const bool flags[4] = {k.n_classes == 0, k.logits != 0, scores, has_use};
  const bool fast = k.exact_floor && !k.logits && !scores && !k.clip && !k.round_f32;
  if (fast && k.mode == kCalibPositiveClass && k.n_classes == 0 && k.positive == 1)  // bins P(class 1) itself
    return has_use ? &bin_segment_binary_exact_erased<T, true> : &bin_segment_binary_exact_erased<T, false>;
  switch (k.mode) {
    case kCalibPositiveClass:
      return fast ? pick_fast<T, kCalibPositiveClass>(flags[0], has_use) : pick<T, kCalibPositiveClass>(flags);
    case kCalibTopLabel:
      return fast ? pick_fast<T, kCalibTopLabel>(flags[0], has_use) : pick<T, kCalibTopLabel>(flags);
    default:
      return fast ? pick_fast<T, kCalibClassWise>(flags[0], has_use) : pick<T, kCalibClassWise>(flags);
  }
}

template <typename F>
decltype(auto) dispatch_prob(DType t, F&& f) {
  switch (t) {
    case DType::F16: return f(Tag<uint16_t>{});  // read by its bits (calib_load)
    case DType::F32: return f(Tag<float>{});
    case DType::F64: return f(Tag<double>{});
    default: break;
  }
  throw std::invalid_argument("segscore: probabilities must be float16, float32 or float64");
}

void check_params(const CalibParams& k) {
  if (k.n_bins < 1) throw std::invalid_argument("segscore: n_bins must be >= 1");
  if (!k.edges) throw std::invalid_argument("segscore: missing bin edges");
  for (int32_t i = 0; i < k.n_bins; ++i)
    if (!(k.edges[i] <= k.edges[i + 1])) throw std::invalid_argument("segscore: bin edges must be non-decreasing");
  if (k.mode < 0 || k.mode > 2) throw std::invalid_argument("segscore: unknown calibration mode");
  if (k.mode == kCalibPositiveClass && (k.positive < 0 || k.positive >= (k.n_classes == 0 ? 2 : k.n_classes)))
    throw std::invalid_argument("segscore: positive class out of range");
  if (k.cand_scale > 0 && !(k.cand_tol >= 0 && k.cand_tol < 0.5))
    throw std::invalid_argument("segscore: bad candidate tolerance");
}

struct ThreadAcc {
  std::vector<int64_t> cnt, cor;
  int64_t voxels = 0, invalid = 0, scored = 0;
  int64_t tmin = std::numeric_limits<int64_t>::max(), tmax = std::numeric_limits<int64_t>::min();
};

// Label range over the threads' counted voxels: (0, -1) when there are none.
template <typename Acc>
void label_range(const std::vector<Acc>& acc, int64_t voxels, int64_t* lo, int64_t* hi) {
  *lo = std::numeric_limits<int64_t>::max();
  *hi = std::numeric_limits<int64_t>::min();
  for (const auto& a : acc) {
    *lo = std::min(*lo, a.tmin);
    *hi = std::max(*hi, a.tmax);
  }
  if (voxels == 0) {
    *lo = 0;
    *hi = -1;
  }
}

// ---- reading units -----------------------------------------------------------------

// One unit's data, as read_segment and the segment functions take it.
template <typename T>
struct UnitData {
  const CalibInput* in;  // the target and mask to read labels from
  const int64_t* off;    // element offsets of the unit's first voxel in probs, target, mask
  int64_t ts, ms;        // target and mask steps along the unit
  const T* p;            // the unit's first voxel's probabilities
  int64_t ps, cs;        // voxel and class steps of p
};

template <typename U>
void copy_items(int nd, const int64_t* ext, const void* src, const int64_t* sstr, void* dst, const int64_t* dstr) {
  copy_strided<U>(nd, ext, static_cast<const U*>(src), sstr, static_cast<U*>(dst), dstr);
}

// Copies a box of a label or mask array (any integer dtype) by its item size.
void copy_box(const ArrayView& a, int64_t origin, int nd, const int64_t* ext, const int64_t* sstr, void* dst,
              const int64_t* dstr) {
  const int64_t isz = itemsize(a.dtype);
  const char* src = static_cast<const char*>(a.data) + origin * isz;
  switch (isz) {
    case 1: return copy_items<uint8_t>(nd, ext, src, sstr, dst, dstr);
    case 2: return copy_items<uint16_t>(nd, ext, src, sstr, dst, dstr);
    case 4: return copy_items<uint32_t>(nd, ext, src, sstr, dst, dstr);
    default: return copy_items<uint64_t>(nd, ext, src, sstr, dst, dstr);
  }
}

// Reads the units of one thread's range, in increasing order.  Straight from the arrays
// when the last spatial axis is the closest in memory (C order); otherwise (Fortran order,
// transposed views) reading logical lines would use one value of each cache line, so
// windows of kb consecutive slabs (a contiguous range of units) are copied, in memory order,
// into buffers in logical order, and units are read from there.  The values and their
// order are the same either way, so are the bits of every sum.
template <typename T>
class UnitReader {
 public:
  UnitReader(const Geometry& g, const CalibInput& in, const T* probs, int64_t u_end)
      : g_(g), in_(in), win_(in), P_(probs) {
    if (g.wm < 0 || u_end <= 0) return;
    last_slab_ = (u_end - 1) / g.lines.nseg / g.slab_lines;
    const int64_t n = g.kb * g.slab_voxels;
    pbuf_.resize(size_t(n * g.classes));
    tbuf_.resize(size_t(n * itemsize(in.target.dtype)));
    win_.target.data = tbuf_.data();
    if (in.mask) {
      mbuf_.resize(size_t(n * itemsize(in.mask->dtype)));
      wmask_ = *in.mask;
      wmask_.data = mbuf_.data();
      win_.mask = &wmask_;
    }
  }

  // f(len, const UnitData<T>&) for the units [u0, u1).
  template <typename F>
  void walk(int64_t u0, int64_t u1, F&& f) {
    const Lines<3>& L = g_.lines;
    if (g_.wm < 0) {
      const int64_t ps = L.step(0), ts = L.step(1), ms = L.step(2);
      L.walk(u0, u1, [&](int64_t, int64_t, int64_t len, const int64_t* off) {
        f(len, UnitData<T>{&in_, off, ts, ms, P_ + off[0], ps, g_.cstride});
      });
      return;
    }
    const int64_t cv = g_.classes;
    for (int64_t u = u0; u < u1; ++u) {
      const int64_t line = u / L.nseg, pos = (u % L.nseg) * L.seg;
      const int64_t slab = line / g_.slab_lines;
      if (slab < w0_ || slab >= w1_) load(slab);
      const int64_t o = (line - w0_ * g_.slab_lines) * L.n + pos;
      const int64_t off[3] = {o * cv, o, o};
      f(std::min(L.seg, L.n - pos), UnitData<T>{&win_, off, 1, 1, pbuf_.data() + o * cv, cv, 1});
    }
  }

 private:
  // Copies the window of slabs [slab, slab + kb) (within one run of the axes before wm, and
  // no further than this range needs) into the buffers, in logical order (classes last).
  void load(int64_t slab) {
    const Lines<3>& L = g_.lines;
    const int m = g_.wm, nd = L.nd;
    const int64_t nm = L.shape[m], run = slab / nm;
    const int64_t end = std::min({slab + g_.kb, (run + 1) * nm, last_slab_ + 1});
    int64_t org[3] = {0, 0, 0};
    int64_t r = run;
    for (int d = m - 1; d >= 0; --d) {
      const int64_t i = r % L.shape[d];
      r /= L.shape[d];
      for (int k = 0; k < 3; ++k) org[k] += i * L.stride[k][d];
    }
    for (int k = 0; k < 3; ++k) org[k] += (slab % nm) * L.stride[k][m];
    // the box: axes wm .. nd-1 (wm: end - slab slabs), then the classes for the probabilities
    const int nb = nd - m;
    int64_t ext[kMaxDim], str[3][kMaxDim], dst[kMaxDim], pdst[kMaxDim];
    for (int i = 0; i < nb; ++i) {
      ext[i] = i == 0 ? end - slab : L.shape[m + i];
      for (int k = 0; k < 3; ++k) str[k][i] = L.stride[k][m + i];
    }
    int64_t acc = 1;
    for (int i = nb - 1; i >= 0; --i) {
      dst[i] = acc;
      pdst[i] = acc * g_.classes;
      acc *= ext[i];
    }
    int npb = nb;
    if (in_.class_axis >= 0) {
      ext[nb] = g_.classes;
      str[0][nb] = g_.cstride;
      pdst[nb] = 1;
      ++npb;
    }
    copy_strided<T>(npb, ext, P_ + org[0], str[0], pbuf_.data(), pdst);
    copy_box(in_.target, org[1], nb, ext, str[1], tbuf_.data(), dst);
    if (in_.mask) copy_box(*in_.mask, org[2], nb, ext, str[2], mbuf_.data(), dst);
    w0_ = slab;
    w1_ = end;
  }

  const Geometry& g_;
  const CalibInput& in_;
  CalibInput win_;   // in_ with the target and mask read from the window buffers
  ArrayView wmask_;
  const T* P_;
  std::vector<T> pbuf_;
  std::vector<unsigned char> tbuf_, mbuf_;  // operator new alignment (16) suits every label type
  int64_t w0_ = 0, w1_ = 0, last_slab_ = 0;  // slabs [w0_, w1_) are loaded
};


// ---- sequential bin sums (the reference arithmetic of torch's CPU scatter_add_) -------------

// One block's binned values in voxel order: the slot (stream * slots + bin) and the value added
// to it, plus the block's Brier / NLL sums.  The serial phase replays them in block order.
struct SeqBlock {
  std::vector<int32_t> slot;
  std::vector<double> val;
  double brier = 0, nll = 0;
  int64_t scored = 0, invalid = 0;
  void clear() {
    slot.clear();
    val.clear();
    brier = nll = 0;
    scored = invalid = 0;
  }
};

// Bins every counted voxel of one unit: integer counts into cnt / cor (exact), the (slot,
// value) pairs into out in voxel order (runtime flags: this path is not the hot one).
template <typename T>
void seq_segment(const CalibParams& k, const CalibOptions& opt, const T* p, int64_t ps, int64_t cs, const SegBuf& b,
                 int64_t n, int32_t slots, int64_t* cnt, int64_t* cor, SeqBlock& out, double* work) {
  const int64_t C = k.n_classes == 0 ? 2 : k.n_classes;
  for (int64_t i = 0; i < n; ++i) {
    if (!b.use[i]) continue;  // all 1 without a mask or ignore_label (SegBuf's initial value)
    const T* q = p + i * ps;
    const int64_t t = b.label[i];
    int32_t bad;
    if (k.mode == kCalibClassWise) {
      bad = calib_all_probs(k, q, cs, work);
      if (bad) {
        out.invalid += bad;
        continue;
      }
      for (int64_t c = 0; c < C; ++c) {
        const int32_t s = calib_bin(k, work[c]);
        if (s < 0) continue;
        const int32_t j = int32_t(c * slots + s);
        ++cnt[j];
        cor[j] += t == c;
        out.slot.push_back(j);
        out.val.push_back(work[c]);
      }
    } else {
      double conf;
      bool ok;
      if (k.mode == kCalibTopLabel) {
        int32_t cls = 0;
        bad = calib_top_label(k, q, cs, &conf, &cls);
        ok = cls == t;
      } else {
        bad = calib_class_prob(k, q, cs, k.positive, &conf);
        ok = t == k.positive;
      }
      if (bad) {
        out.invalid += bad;
        continue;
      }
      const int32_t s = calib_bin(k, conf);
      if (s >= 0) {
        ++cnt[s];
        cor[s] += ok;
        out.slot.push_back(s);
        out.val.push_back(conf);
      }
    }
    if (opt.want_scores && t >= 0 && t < C) {
      double br, nl;
      calib_scores(k, q, cs, t, opt.brier_sum_form, &br, &nl);
      out.brier += br;
      out.nll += nl;
      ++out.scored;
    }
  }
}

}  // namespace

// exact_floor only where calibration.h allows it (the GPU kernels apply the same rule).
CalibParams effective_params(const CalibInput& in, const CalibParams& k0) {
  CalibParams k = k0;
  k.exact_floor = calib_exact_floor_ok(k, in.probs.dtype != DType::F64);
  return k;
}


// The sequential path (opt.seq_bits = 32 or 64): the voxels are binned in parallel, a round of
// blocks at a time, into (slot, value) lists; then one thread adds the lists to the running
// sums in block order, i.e. in the elements' logical C order, rounding every addition to
// float32 (seq_bits 32) -- what torch's CPU scatter_add_ does to a float32 tensor (each bin's
// elements one after another, whatever the thread count).  Counts are exact integers.
static CalibStats calibration_stats_seq(const CalibInput& in, const CalibOptions& opt, const CalibParams& k,
                                        const Geometry& g) {
  const int32_t streams = calib_streams(k), slots = calib_slots(k);
  const int32_t width = streams * slots;
  const int64_t C = k.n_classes == 0 ? 2 : k.n_classes;
  const int64_t units = g.units();
  const int64_t upb = std::max<int64_t>(1, kBlockVoxels / g.lines.seg);
  const int64_t nblocks = (units + upb - 1) / upb;
  int threads = opt.threads > 0 ? opt.threads : default_threads();
  threads = int(std::max<int64_t>(1, std::min<int64_t>(threads, nblocks)));
  // blocks per round: about 4 M binned values in flight (12 bytes each)
  const int64_t per_voxel = k.mode == kCalibClassWise ? C : 1;
  const int64_t round = std::max<int64_t>(threads, (int64_t(4) << 20) / (upb * g.lines.seg * per_voxel));
  std::vector<SeqBlock> blocks(size_t(std::min<int64_t>(round, std::max<int64_t>(nblocks, 1))));
  std::vector<ThreadAcc> acc(threads);
  for (auto& a : acc) {
    a.cnt.assign(width, 0);
    a.cor.assign(width, 0);
  }
  std::vector<double> run(width, 0.0);
  if (opt.seq_init)
    for (int32_t j = 0; j < width; ++j) run[j] = opt.seq_init[j];
  double brier = 0, nll = 0;
  int64_t scored = 0, invalid = 0;
  const bool f32 = opt.seq_bits == 32;

  dispatch_prob(in.probs.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* P = static_cast<const T*>(in.probs.data);
    for (int64_t r0 = 0; r0 < nblocks; r0 += int64_t(blocks.size())) {
      const int64_t nr = std::min<int64_t>(int64_t(blocks.size()), nblocks - r0);
      parallel_for(nr, std::min<int64_t>(threads, nr), [&](int64_t b0, int64_t b1, int w) {
        ThreadAcc& A = acc[w];
        UnitReader<T> reader(g, in, P, std::min(units, (r0 + b1) * upb));
        SegBuf buf(g.lines.seg);
        std::vector<double> work(static_cast<size_t>(C));
        for (int64_t i = b0; i < b1; ++i) {
          SeqBlock& B = blocks[size_t(i)];
          B.clear();
          const int64_t blk = r0 + i;
          const int64_t u0 = blk * upb, u1 = std::min(units, u0 + upb);
          reader.walk(u0, u1, [&](int64_t len, const UnitData<T>& x) {
            A.voxels += read_segment(*x.in, x.off, x.ts, x.ms, len, buf, &A.tmin, &A.tmax);
            seq_segment<T>(k, opt, x.p, x.ps, x.cs, buf, len, slots, A.cnt.data(), A.cor.data(), B, work.data());
          });
        }
      });
      for (int64_t i = 0; i < nr; ++i) {  // the serial phase: element order
        const SeqBlock& B = blocks[size_t(i)];
        const int32_t* sl = B.slot.data();
        const double* v = B.val.data();
        const size_t m = B.slot.size();
        double* __restrict s = run.data();
        if (f32) {
          for (size_t e = 0; e < m; ++e) s[sl[e]] = double(float(s[sl[e]] + v[e]));
        } else {
          for (size_t e = 0; e < m; ++e) s[sl[e]] += v[e];
        }
        brier += B.brier;
        nll += B.nll;
        scored += B.scored;
        invalid += B.invalid;
      }
    }
  });

  CalibStats st;
  st.streams = streams;
  st.slots = slots;
  st.count.assign(width, 0);
  st.correct.assign(width, 0);
  for (auto& a : acc) {
    for (int32_t j = 0; j < width; ++j) {
      st.count[j] += a.cnt[j];
      st.correct[j] += a.cor[j];
    }
    st.voxels += a.voxels;
  }
  st.sum_conf = std::move(run);
  st.brier_sum = brier;
  st.nll_sum = nll;
  st.scored = scored;
  st.invalid = invalid;
  label_range(acc, st.voxels, &st.target_min, &st.target_max);
  return st;
}

CalibStats calibration_stats(const CalibInput& in, const CalibOptions& opt) {
  const CalibParams k = effective_params(in, opt.params);
  check_params(k);
  const Geometry g = make_geometry(in);
  if (opt.seq_bits != 0) {
    if (opt.seq_bits != 32 && opt.seq_bits != 64)
      throw std::invalid_argument("segscore: sequential bin sums are float32 (32) or float64 (64)");
    return calibration_stats_seq(in, opt, k, g);
  }
  const int32_t streams = calib_streams(k), slots = calib_slots(k);
  const int32_t width = streams * slots;
  const int64_t C = k.n_classes == 0 ? 2 : k.n_classes;
  const bool has_use = in.mask != nullptr || in.has_ignore;

  // fixed blocks of whole segments (independent of the thread count)
  const int64_t per_block = int64_t(width) + 2;
  const int64_t units = g.units();
  // at least 16 voxels per histogram entry, so clearing the block histograms stays cheap for many bins
  const int64_t block_voxels = std::max<int64_t>(kBlockVoxels, int64_t(width) * 16);
  int64_t upb = std::max<int64_t>(1, block_voxels / g.lines.seg);
  int64_t nblocks = (units + upb - 1) / upb;
  const int64_t max_blocks = std::max<int64_t>(1, kMaxBlockDoubles / per_block);
  if (nblocks > max_blocks) {  // many streams x bins: fewer, larger blocks (each < 2^31 voxels)
    upb = (units + max_blocks - 1) / max_blocks;
    upb = std::max<int64_t>(1, std::min<int64_t>(upb, ((int64_t(1) << 31) - 1) / g.lines.seg));
    nblocks = (units + upb - 1) / upb;
  }
  std::vector<double> block_sums(size_t(nblocks * per_block), 0.0);

  int threads = opt.threads > 0 ? opt.threads : default_threads();
  threads = int(std::max<int64_t>(1, std::min<int64_t>(threads, nblocks)));
  std::vector<ThreadAcc> acc(threads);
  for (auto& a : acc) {
    a.cnt.assign(width, 0);
    a.cor.assign(width, 0);
  }

  dispatch_prob(in.probs.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* P = static_cast<const T*>(in.probs.data);
    const SegFn seg_fn = pick_segment_fn<T>(k, opt.want_scores, has_use);
    parallel_for(nblocks, threads, [&](int64_t b0, int64_t b1, int w) {
      ThreadAcc& A = acc[w];
      UnitReader<T> reader(g, in, P, std::min(units, b1 * upb));
      SegBuf buf(g.lines.seg);
      BlockHist h;
      h.init(width);
      std::vector<double> work(static_cast<size_t>(C));
      for (int64_t blk = b0; blk < b1; ++blk) {
        h.clear();
        const int64_t u0 = blk * upb, u1 = std::min(units, u0 + upb);
        reader.walk(u0, u1, [&](int64_t len, const UnitData<T>& x) {
          A.voxels += read_segment(*x.in, x.off, x.ts, x.ms, len, buf, &A.tmin, &A.tmax);
          seg_fn(k, opt, x.p, x.ps, x.cs, buf, len, slots, h, work.data());
        });
        double* out = block_sums.data() + blk * per_block;
        const size_t W = size_t(width);
        for (size_t j = 0; j < W; ++j) {
          int64_t c = 0, r = 0;
          for (int hc = 0; hc < kCopies; ++hc) {
            const int64_t v = h.packed[hc * W + j];
            c += v & 0xffffffff;
            r += v >> 32;
          }
          A.cnt[j] += c;
          A.cor[j] += r;
          out[j] = (h.sum[j] + h.sum[W + j]) + (h.sum[2 * W + j] + h.sum[3 * W + j]);
        }
        out[width] = (h.brier[0] + h.brier[1]) + (h.brier[2] + h.brier[3]);
        out[width + 1] = (h.nll[0] + h.nll[1]) + (h.nll[2] + h.nll[3]);
        A.invalid += h.invalid;
        A.scored += h.scored;
      }
    });
  });

  CalibStats s;
  s.streams = streams;
  s.slots = slots;
  s.count.assign(width, 0);
  s.correct.assign(width, 0);
  s.sum_conf.assign(width, 0.0);
  for (auto& a : acc) {
    for (int32_t j = 0; j < width; ++j) {
      s.count[j] += a.cnt[j];
      s.correct[j] += a.cor[j];
    }
    s.voxels += a.voxels;
    s.invalid += a.invalid;
    s.scored += a.scored;
  }
  for (int64_t blk = 0; blk < nblocks; ++blk) {
    const double* src = block_sums.data() + blk * per_block;
    for (int32_t j = 0; j < width; ++j) s.sum_conf[j] += src[j];
    s.brier_sum += src[width];
    s.nll_sum += src[width + 1];
  }
  label_range(acc, s.voxels, &s.target_min, &s.target_max);
  return s;
}

CalibConfidences calibration_confidences(const CalibInput& in, const CalibOptions& opt) {
  const CalibParams k = effective_params(in, opt.params);
  check_params(k);
  const Geometry g = make_geometry(in);
  const int32_t streams = calib_streams(k);
  const int64_t C = k.n_classes == 0 ? 2 : k.n_classes;
  const int64_t units = g.units();
  const int64_t upb = std::max<int64_t>(1, kBlockVoxels / g.lines.seg);
  const int64_t nblocks = (units + upb - 1) / upb;
  int threads = opt.threads > 0 ? opt.threads : default_threads();
  threads = int(std::max<int64_t>(1, std::min<int64_t>(threads, nblocks)));
  // per block and stream: the confidences in voxel order
  std::vector<std::vector<double>> parts(size_t(nblocks * streams));
  std::vector<ThreadAcc> acc(threads);

  dispatch_prob(in.probs.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* P = static_cast<const T*>(in.probs.data);
    parallel_for(nblocks, threads, [&](int64_t b0, int64_t b1, int w) {
      ThreadAcc& A = acc[w];
      UnitReader<T> reader(g, in, P, std::min(units, b1 * upb));
      SegBuf buf(g.lines.seg);
      std::vector<double> work(static_cast<size_t>(C));
      for (int64_t blk = b0; blk < b1; ++blk) {
        const int64_t u0 = blk * upb, u1 = std::min(units, u0 + upb);
        reader.walk(u0, u1, [&](int64_t len, const UnitData<T>& x) {
          A.voxels += read_segment(*x.in, x.off, x.ts, x.ms, len, buf, &A.tmin, &A.tmax);
          const bool has_use = in.mask != nullptr || in.has_ignore;
          for (int64_t i = 0; i < len; ++i) {
            if (has_use && !buf.use[i]) continue;
            const T* q = x.p + i * x.ps;
            int32_t bad;
            if (k.mode == kCalibClassWise) {
              bad = calib_all_probs(k, q, x.cs, work.data());
              if (!bad)
                for (int32_t c = 0; c < streams; ++c) parts[size_t(blk * streams + c)].push_back(work[c]);
            } else {
              double conf;
              int32_t cls;
              bad = k.mode == kCalibTopLabel ? calib_top_label(k, q, x.cs, &conf, &cls)
                                             : calib_class_prob(k, q, x.cs, k.positive, &conf);
              if (!bad) parts[size_t(blk * streams)].push_back(conf);
            }
            A.invalid += bad;
          }
        });
      }
    });
  });

  CalibConfidences out;
  out.streams = streams;
  int64_t n = 0;
  for (int64_t blk = 0; blk < nblocks; ++blk) n += int64_t(parts[size_t(blk * streams)].size());
  out.n = n;
  out.values.resize(size_t(n * streams));
  for (int32_t c = 0; c < streams; ++c) {
    double* dst = out.values.data() + size_t(c) * n;
    for (int64_t blk = 0; blk < nblocks; ++blk) {
      const auto& v = parts[size_t(blk * streams + c)];
      dst = std::copy(v.begin(), v.end(), dst);
    }
  }
  for (auto& a : acc) {
    out.voxels += a.voxels;
    out.invalid += a.invalid;
  }
  label_range(acc, out.voxels, &out.target_min, &out.target_max);
  return out;
}

}  // namespace segscore
