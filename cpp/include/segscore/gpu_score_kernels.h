// segscore/gpu_score_kernels.h - CUDA kernels of the calibration binning pass and of CRPS.
//
// Builds on gpu_kernels.h: the layouts and helpers are plain code (host
// too); the kernels, compiled under CUDA / NVRTC / the emulation only, share
// its thread_index(), atomics and load_label(); the
// per-voxel math is calibration.h and crps.h, the same code the CPU driver runs.
// Like every segscore kernel these are grid-stride loops with integer
// atomics only: no shared memory, no __syncthreads, any launch shape is
// correct and results do not depend on scheduling.
//
// Calibration: exact, order-independent sums.
//   Counts are int64.  Confidence sums are kept in 128-bit fixed point
//   (2^-88 units: a confidence c in [0, 1] contributes floor(c * 2^88), split
//   into a high word floor(c * 2^24) and a low word carrying the rest), so the
//   integer atomics give the same bits in any order and for any launch shape,
//   and the host converts the exact total to the nearest double.  Each thread
//   keeps one run (bin, count, correct, sum) in registers and flushes it with
//   atomics only when its bin changes: segmentation maps are dominated by
//   long runs of confident voxels, so most voxels cost no atomic.  Runs land
//   in `copies` private histograms (blockIdx % copies) that k_calib_reduce
//   adds up, which spreads the atomics of maps without runs.
//   Brier / NLL sums are doubles: each thread accumulates its items in order
//   and stores its partial; k_sum_chunks adds fixed chunks of partials in
//   order.  For a given input size the launch shape is fixed (plan.py), so
//   these sums are reproducible run to run.
//
// Layouts (mirrored in python/segscore/gpu/plan.py):
//   CG_*  int64 geometry: nd spatial axes (merged where the strides allow),
//         shape, element strides of probs (spatial), target, mask, and the
//         class stride of probs;
//   CI_*  int64 parameters; CD_* double parameters followed by the n_bins+1 edges;
//   hist: copies x keys x 4 uint64 (count, correct, sum low word, sum high
//         word), keys = streams x slots; counters (CC_*): 5 int64.
#pragma once
#include "segscore/calibration.h"
#include "segscore/common.h"
#include "segscore/crps.h"
#include "segscore/gpu_kernels.h"

namespace segscore {
namespace gpu {

enum CalibGeo : int { CG_ND = 0, CG_SHAPE = 1, CG_PSTR = 9, CG_TSTR = 17, CG_MSTR = 25, CG_CSTR = 33, CG_W = 34 };
enum CalibInts : int {
  CI_NBINS = 0,
  CI_RIGHT,
  CI_BELOW,
  CI_ABOVE,
  CI_EXACT,
  CI_NCLASS,
  CI_LOGITS,
  CI_MODE,
  CI_POS,
  CI_ROUND,
  CI_CLIP,
  CI_SCORES,     // 1: Brier and NLL partial sums
  CI_BRIER_SUM,  // brier_sum_form of calib_scores
  CI_IGNORE_ON,  // 1: skip voxels whose label is CI_IGNORE
  CI_IGNORE,
  CI_TCODE,      // label code (LC_*) of the target
  CI_MCODE,      // label code of the mask, -1: no mask
  CI_COPIES,     // private histograms
  CI_FAST,       // the float path (calib_conf_f32): 0 off, 1 exact k/n bins (integer floor), 2 bins by the
                 // float32 bit patterns of the edges, stored after the parameters (ci[CI_W + i], n_bins + 1)
  CI_W
};
enum CalibDoubles : int { CD_OFF = 0, CD_SCALE, CD_TOL, CD_CLIP_LO, CD_CLIP_HI, CD_EDGES };
enum CalibCounters : int { CC_VOXELS = 0, CC_SCORED, CC_INVALID, CC_TMIN, CC_TMAX, CC_W };

SEGSCORE_HD SEGSCORE_INLINE CalibParams calib_params(const int64_t* ci, const double* cd) {
  CalibParams k{};
  k.edges = cd + CD_EDGES;
  k.n_bins = int32_t(ci[CI_NBINS]);
  k.right_closed = int32_t(ci[CI_RIGHT]);
  k.below = int32_t(ci[CI_BELOW]);
  k.above = int32_t(ci[CI_ABOVE]);
  k.cand_offset = cd[CD_OFF];
  k.cand_scale = cd[CD_SCALE];
  k.cand_tol = cd[CD_TOL];
  k.exact_floor = int32_t(ci[CI_EXACT]);
  k.n_classes = int32_t(ci[CI_NCLASS]);
  k.logits = int32_t(ci[CI_LOGITS]);
  k.mode = int32_t(ci[CI_MODE]);
  k.positive = int32_t(ci[CI_POS]);
  k.round_f32 = int32_t(ci[CI_ROUND]);
  k.clip = int32_t(ci[CI_CLIP]);
  k.clip_lo = cd[CD_CLIP_LO];
  k.clip_hi = cd[CD_CLIP_HI];
  return k;
}

// Element offsets of spatial item v in probs (class 0), target and mask.
SEGSCORE_HD SEGSCORE_INLINE void calib_offsets(const int64_t* g, int64_t v, int64_t* po, int64_t* to, int64_t* mo) {
  const int nd = int(g[CG_ND]);
  int64_t p = 0, t = 0, m = 0;
  for (int d = nd - 1; d >= 0; --d) {
    const int64_t n = g[CG_SHAPE + d];
    const int64_t c = d == 0 ? v : v % n;
    v = d == 0 ? 0 : v / n;
    p += c * g[CG_PSTR + d];
    t += c * g[CG_TSTR + d];
    m += c * g[CG_MSTR + d];
  }
  *po = p;
  *to = t;
  *mo = m;
}

SEGSCORE_HD SEGSCORE_INLINE int64_t calib_voxels(const int64_t* g) {
  int64_t n = 1;
  for (int d = 0; d < int(g[CG_ND]); ++d) n *= g[CG_SHAPE + d];
  return n;
}

// ---- exact integer forms of the per-voxel arithmetic ----------------------------------
// GPUs convert between 64-bit and other types at a small fraction of their arithmetic rate
// (16 per clock per SM on sm_80 / sm_90), so the binning pass takes its floors and fixed-point
// values from the bits: integer shifts and one multiply, exact by construction.

SEGSCORE_HD SEGSCORE_INLINE uint32_t float_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t b;
  __builtin_memcpy(&b, &f, sizeof(b));
  return b;
#endif
}

SEGSCORE_HD SEGSCORE_INLINE uint64_t double_bits(double f) {
#if defined(__CUDA_ARCH__)
  return static_cast<uint64_t>(__double_as_longlong(f));
#else
  uint64_t b;
  __builtin_memcpy(&b, &f, sizeof(b));
  return b;
#endif
}

// m 2^s truncated to an integer, as (hi, lo) 64-bit words; m < 2^53, s <= 64 + 11.
SEGSCORE_HD SEGSCORE_INLINE void shift128(uint64_t m, int s, uint64_t* hi, uint64_t* lo) {
  if (s >= 64) {
    *hi = m << (s - 64);
    *lo = 0;
  } else if (s > 0) {
    *hi = m >> (64 - s);
    *lo = m << s;
  } else {
    *hi = 0;
    *lo = -s < 64 ? m >> -s : 0;
  }
}

// c in [0, 1] as a 2^-88 fixed-point value floor(c 2^88), split into 64-bit words: exact for
// c >= 2^-88 with 53 significant bits; smaller bits are truncated.  c = m 2^(e - 1075).
SEGSCORE_HD SEGSCORE_INLINE void calib_fixed(double c, uint64_t* hi, uint64_t* lo) {
  const uint64_t b = double_bits(c);
  const int e = int((b >> 52) & 0x7ff);
  const uint64_t m = (b & 0xfffffffffffffull) | (e ? (1ull << 52) : 0ull);
  shift128(m, (e ? e : 1) - 987, hi, lo);
}

// The same for a float32 value c = m 2^(e - 150): equal to calib_fixed(double(c)).
SEGSCORE_HD SEGSCORE_INLINE void calib_fixed_f32(float c, uint64_t* hi, uint64_t* lo) {
  const uint32_t b = float_bits(c);
  const int e = int((b >> 23) & 0xff);
  const uint64_t m = uint64_t(b & 0x7fffffu) | (e ? 0x800000ull : 0ull);
  shift128(m, (e ? e : 1) - 62, hi, lo);
}

// floor(c n) for a float32 c in [0, 1] and 0 < n < 2^26: exact (m n < 2^50), so it equals
// the CPU's int(double(c) * n) (that product is exact in double too).
SEGSCORE_HD SEGSCORE_INLINE int64_t calib_floor_times(float c, int64_t n) {
  const uint32_t b = float_bits(c);
  const int e = int((b >> 23) & 0xff);
  const uint64_t m = uint64_t(b & 0x7fffffu) | (e ? 0x800000ull : 0ull);
  const int sh = 150 - (e ? e : 1);  // c = m 2^-sh, sh >= 23 for c <= 1
  return sh >= 64 ? 0 : int64_t((m * uint64_t(n)) >> sh);
}

// Slot of a float confidence c in [0, 1] (the sign bit of -0 is dropped) against edges given
// as float32 bit patterns eb[0..n]: calib_bin's rules, with unsigned integer compares (the order
// of non-negative IEEE values is the order of their bits) instead of conversions to double.
SEGSCORE_HD SEGSCORE_INLINE int32_t calib_bin_bits(const CalibParams& k, float c, const int64_t* eb) {
  const int64_t cb = int64_t(float_bits(c) & 0x7fffffffu);
  const int32_t n = k.n_bins;
  int32_t i;
  if (k.right_closed ? cb <= eb[0] : cb < eb[0]) {
    i = -1;
  } else if (k.right_closed ? cb > eb[n] : cb >= eb[n]) {
    i = n;
  } else {
    int32_t lo = 0, hi = n + 1;
    while (lo < hi) {
      const int32_t mid = (lo + hi) >> 1;
      if (k.right_closed ? eb[mid] < cb : eb[mid] <= cb)
        lo = mid + 1;
      else
        hi = mid;
    }
    i = lo - 1;
  }
  if (i < 0) return k.below == kCalibDrop ? -1 : 0;
  if (i >= n) return k.above == kCalibDrop ? -1 : (k.above == kCalibExtraBin ? n : n - 1);
  return i;
}

template <typename T>
SEGSCORE_HD SEGSCORE_INLINE float calib_loadf(const T* p) {
  return float(*p);
}
template <>
SEGSCORE_HD SEGSCORE_INLINE float calib_loadf<uint16_t>(const uint16_t* p) {
  return half_bits_to_float(*p);
}

// Confidence of item (stream s) on the float path: float16 / float32 probabilities whose
// confidence is a stored value (no logits, clipping or 1 - p; the host sets CI_FAST only
// then).  Same validation and first-maximum rule as calibration.h, in float (exact: every
// value is a float).  Returns the number of invalid values.
template <typename T>
SEGSCORE_HD SEGSCORE_INLINE int32_t calib_conf_f32(const CalibParams& k, const T* p, int64_t cs, int64_t s, float* conf,
                                                  int32_t* cls) {
  if (k.n_classes == 0) {  // binary input, positive class 1
    const float v = calib_loadf(p);
    *conf = v;
    *cls = 1;
    return (v >= 0.0f && v <= 1.0f) ? 0 : 1;
  }
  if (k.mode == kCalibClassWise && s > 0) {  // stream 0 validated the voxel
    const float v = calib_loadf(p + s * cs);
    *conf = v;
    *cls = int32_t(s);
    return (v >= 0.0f && v <= 1.0f) ? 0 : 1;
  }
  int32_t bad = 0, arg = 0;
  float best = 0.0f;
  for (int32_t c = 0; c < k.n_classes; ++c) {
    const float v = calib_loadf(p + c * cs);
    if (!(v >= 0.0f && v <= 1.0f)) {
      ++bad;
      continue;
    }
    if (c == 0 || v > best) {
      best = v;
      arg = c;
    }
  }
  if (k.mode == kCalibTopLabel) {
    *conf = best;
    *cls = arg;
  } else {
    const int32_t c = k.mode == kCalibClassWise ? 0 : k.positive;
    *conf = calib_loadf(p + c * cs);
    *cls = c;
  }
  return bad;
}

// ---- CRPS ----------------------------------------------------------------------------

// Geometry (int64, XG_*): nd batch axes, shape, element strides of up to three
// operands over the batch (0 on broadcast axes); the ensemble kernels add the
// member count and the member strides of members and weights.  Output: C order.
enum CrpsGeo : int { XG_ND = 0, XG_SHAPE = 1, XG_STR0 = 9, XG_STR1 = 17, XG_STR2 = 25, XG_M = 33, XG_MSTR1 = 34,
                     XG_MSTR2 = 35, XG_W = 36 };

SEGSCORE_HD SEGSCORE_INLINE double load_real(const void* p, int f64, int64_t i) {
  return f64 ? static_cast<const double*>(p)[i] : double(static_cast<const float*>(p)[i]);
}

SEGSCORE_HD SEGSCORE_INLINE void crps_offsets(const int64_t* g, int64_t i, int64_t* o0, int64_t* o1, int64_t* o2) {
  int64_t a = 0, b = 0, c = 0;
  for (int d = int(g[XG_ND]) - 1; d >= 0; --d) {
    const int64_t n = g[XG_SHAPE + d];
    const int64_t x = d == 0 ? i : i % n;
    i = d == 0 ? 0 : i / n;
    a += x * g[XG_STR0 + d];
    b += x * g[XG_STR1 + d];
    c += x * g[XG_STR2 + d];
  }
  *o0 = a;
  *o1 = b;
  *o2 = c;
}

}  // namespace gpu
}  // namespace segscore

#if defined(__CUDACC__) || defined(__CUDACC_RTC__) || defined(SEGSCORE_CUDA_EMULATION)

namespace segscore {
namespace gpu {

struct CalibRun {
  int64_t key = -1;
  uint64_t count = 0, correct = 0, lo = 0, hi = 0;
};

SEGSCORE_DEVICE void calib_flush(uint64_t* H, CalibRun& r) {
  if (r.key < 0 || r.count == 0) return;
  unsigned long long* h = reinterpret_cast<unsigned long long*>(H + 4 * r.key);
  atomicAdd(h + 0, static_cast<unsigned long long>(r.count));
  if (r.correct) atomicAdd(h + 1, static_cast<unsigned long long>(r.correct));
  const unsigned long long old = atomicAdd(h + 2, static_cast<unsigned long long>(r.lo));
  const uint64_t carry = uint64_t(old) + r.lo < r.lo ? 1u : 0u;
  if (r.hi + carry) atomicAdd(h + 3, static_cast<unsigned long long>(r.hi + carry));
  r.count = r.correct = r.lo = r.hi = 0;
}

// Adds one voxel (its confidence as 2^-88 fixed point, hi / lo words) to the run.
SEGSCORE_DEVICE void calib_add(uint64_t* H, CalibRun& r, int64_t key, bool correct, uint64_t hi, uint64_t lo) {
  if (key != r.key) {
    calib_flush(H, r);
    r.key = key;
  }
  r.count += 1;
  r.correct += correct ? 1u : 0u;
  r.lo += lo;
  r.hi += hi + (r.lo < lo ? 1u : 0u);
}

SEGSCORE_KERNEL void k_calib_init(uint64_t* hist, int64_t words, int64_t* counters) {
  for (int64_t i = thread_index(); i < words + CC_W; i += thread_count()) {
    if (i < words)
      hist[i] = 0;
    else
      counters[i - words] = i - words == CC_TMIN ? kI64Max : (i - words == CC_TMAX ? kI64Min : 0);
  }
}

// One pass over the voxels (single-stream modes) or over (stream, voxel) items,
// stream-major (class-wise mode; per-voxel totals are taken in stream 0).
// Class-wise probabilities read only their own class (plus all classes with
// logits, for the softmax); the invalid count is taken in stream 0 over all
// classes, as the CPU driver does, and any invalid value makes the caller raise.
// partial: 2 doubles per thread (Brier, NLL), [thread] and [S + thread].
template <typename T>
SEGSCORE_KERNEL void k_calib(const T* probs, const void* target, const void* mask, const int64_t* geo,
                             const int64_t* ci, const double* cd, uint64_t* hist, int64_t* counters, double* partial) {
  CalibParams k = calib_params(ci, cd);
  k.exact_floor = calib_exact_floor_ok(k, sizeof(T) != 8);
  const int64_t nvox = calib_voxels(geo);
  const int64_t cs = geo[CG_CSTR];
  const bool classwise = k.mode == kCalibClassWise;
  const int64_t streams = calib_streams(k), slots = calib_slots(k);
  const int64_t items = classwise ? streams * nvox : nvox;
  const int tcode = int(ci[CI_TCODE]), mcode = int(ci[CI_MCODE]);
  const bool ignore_on = ci[CI_IGNORE_ON] != 0, scores = ci[CI_SCORES] != 0;
  const int64_t ignore = ci[CI_IGNORE];
  const int64_t ncls = k.n_classes == 0 ? 2 : k.n_classes;
  uint64_t* H = hist + (int64_t(blockIdx.x) % ci[CI_COPIES]) * streams * slots * 4;
  CalibRun run;
  int64_t voxels = 0, scored = 0, invalid = 0, tmin = kI64Max, tmax = kI64Min;
  double bsum = 0.0, nsum = 0.0;
  const int64_t fast = ci[CI_FAST];
  for (int64_t it = thread_index(); it < items; it += thread_count()) {
    const int64_t s = classwise ? it / nvox : 0;
    const int64_t v = classwise ? it - s * nvox : it;
    int64_t po, to, mo;
    calib_offsets(geo, v, &po, &to, &mo);
    if (mcode >= 0 && load_label(mask, mcode, mo) == 0) continue;
    const int64_t t = load_label(target, tcode, to);
    if (ignore_on && t == ignore) continue;
    const T* p = probs + po;
    if (fast) {  // no scores on this path
      float c;
      int32_t cls;
      const int32_t bad = calib_conf_f32(k, p, cs, s, &c, &cls);
      if (s == 0) {
        ++voxels;
        tmin = t < tmin ? t : tmin;
        tmax = t > tmax ? t : tmax;
        invalid += bad;
      }
      if (bad) continue;
      int64_t slot;
      if (fast == 1) {  // exact k/n edges: the floor where calibration.h allows it, else the edges
        slot = k.exact_floor ? calib_floor_times(c, k.n_bins) : k.n_bins;
        if (slot >= k.n_bins) slot = calib_bin(k, double(c));  // c = 1: the convention's last-edge rule
      } else {
        slot = calib_bin_bits(k, c, ci + CI_W);
      }
      uint64_t hi, lo;
      calib_fixed_f32(c, &hi, &lo);
      if (slot >= 0) calib_add(H, run, s * slots + slot, int64_t(cls) == t, hi, lo);
      continue;
    }
    double conf = 0.0;
    bool correct = false;
    int32_t bad = 0;
    if (k.mode == kCalibTopLabel) {
      int32_t cls = 0;
      bad = calib_top_label(k, p, cs, &conf, &cls);
      correct = int64_t(cls) == t;
    } else if (!classwise) {
      bad = calib_class_prob(k, p, cs, k.positive, &conf);
      correct = t == int64_t(k.positive);
    } else if (s == 0 || k.logits || k.n_classes == 0) {
      bad = calib_class_prob(k, p, cs, int32_t(s), &conf);
      correct = t == s;
    } else {  // class s of a probability input: its own value only (stream 0 validated the voxel)
      const double q = calib_load(p + s * cs);
      bad = calib_is_prob(q) ? 0 : 1;
      conf = bad ? 0.0 : calib_finish(k, calib_clip(k, q));
      correct = t == s;
    }
    if (s == 0) {
      ++voxels;
      tmin = t < tmin ? t : tmin;
      tmax = t > tmax ? t : tmax;
      invalid += bad;
      if (scores && !bad && t >= 0 && t < ncls) {
        double b, l;
        calib_scores(k, p, cs, t, int32_t(ci[CI_BRIER_SUM]), &b, &l);
        bsum += b;
        nsum += l;
        ++scored;
      }
    }
    if (bad) continue;
    const int32_t slot = calib_bin(k, conf);
    uint64_t hi, lo;
    calib_fixed(conf, &hi, &lo);
    if (slot >= 0) calib_add(H, run, s * slots + slot, correct, hi, lo);
  }
  calib_flush(H, run);
  if (voxels) atomic_add(counters + CC_VOXELS, voxels);
  if (scored) atomic_add(counters + CC_SCORED, scored);
  if (invalid) atomic_add(counters + CC_INVALID, invalid);
  if (tmin <= tmax) {
    atomic_min(counters + CC_TMIN, tmin);
    atomic_max(counters + CC_TMAX, tmax);
  }
  if (scores) {
    const int64_t S = thread_count(), i = thread_index();
    partial[i] = bsum;
    partial[S + i] = nsum;
  }
}

// out[key * 4 ..] = sum over the copies of hist, with the 128-bit carry.
SEGSCORE_KERNEL void k_calib_reduce(const uint64_t* hist, int64_t copies, int64_t keys, uint64_t* out) {
  for (int64_t key = thread_index(); key < keys; key += thread_count()) {
    uint64_t c = 0, r = 0, lo = 0, hi = 0;
    for (int64_t j = 0; j < copies; ++j) {
      const uint64_t* h = hist + (j * keys + key) * 4;
      c += h[0];
      r += h[1];
      lo += h[2];
      hi += h[3] + (lo < h[2] ? 1u : 0u);
    }
    out[key * 4 + 0] = c;
    out[key * 4 + 1] = r;
    out[key * 4 + 2] = lo;
    out[key * 4 + 3] = hi;
  }
}

// out[i] = x[i chunk] + ... + x[min((i + 1) chunk, n) - 1], added in order.
SEGSCORE_KERNEL void k_sum_chunks(const double* x, int64_t n, int64_t chunk, double* out) {
  const int64_t nchunks = (n + chunk - 1) / chunk;
  for (int64_t i = thread_index(); i < nchunks; i += thread_count()) {
    const int64_t end = (i + 1) * chunk < n ? (i + 1) * chunk : n;
    double s = 0.0;
    for (int64_t j = i * chunk; j < end; ++j) s += x[j];
    out[i] = s;
  }
}

// Confidences of one stream (equal-mass edges): out[v] = the confidence of
// voxel v, NaN where the voxel is masked, ignored or invalid.
template <typename T>
SEGSCORE_KERNEL void k_calib_conf(const T* probs, const void* target, const void* mask, const int64_t* geo,
                                  const int64_t* ci, const double* cd, int64_t stream, double* out) {
  const CalibParams k = calib_params(ci, cd);
  const int64_t nvox = calib_voxels(geo), cs = geo[CG_CSTR];
  const int tcode = int(ci[CI_TCODE]), mcode = int(ci[CI_MCODE]);
  const double nan = 0.0 / 0.0;
  for (int64_t v = thread_index(); v < nvox; v += thread_count()) {
    int64_t po, to, mo;
    calib_offsets(geo, v, &po, &to, &mo);
    double conf = nan;
    const bool skip = (mcode >= 0 && load_label(mask, mcode, mo) == 0) ||
                      (ci[CI_IGNORE_ON] && load_label(target, tcode, to) == ci[CI_IGNORE]);
    if (!skip) {
      int32_t bad = 0, cls = 0;
      if (k.mode == kCalibTopLabel)
        bad = calib_top_label(k, probs + po, cs, &conf, &cls);
      else
        bad = calib_class_prob(k, probs + po, cs, k.mode == kCalibClassWise ? int32_t(stream) : k.positive, &conf);
      if (bad) conf = nan;
    }
    out[v] = conf;
  }
}

// ---- CRPS kernels --------------------------------------------------------------------

// types: bit 0 obs, bit 1 mu, bit 2 sigma float64 (else float32).
// bad[0] counts sigma < 0 (the caller raises).
SEGSCORE_KERNEL void k_crps_gaussian(const void* obs, const void* mu, const void* sigma, int types, const int64_t* geo,
                                     int64_t n, double* out, int64_t* bad) {
  int64_t neg = 0;
  for (int64_t i = thread_index(); i < n; i += thread_count()) {
    int64_t a, b, c;
    crps_offsets(geo, i, &a, &b, &c);
    const double s = load_real(sigma, types & 4, c);
    neg += s < 0.0;
    out[i] = crps_gaussian(load_real(obs, types & 1, a), load_real(mu, types & 2, b), s);
  }
  if (neg) atomic_add(bad, neg);
}

// One thread per observation; `ws` holds 4 m doubles per thread of the launch
// (2 m without weights) for the sort.  Members / weights of type TM / TW.
template <typename TM, typename TW>
SEGSCORE_KERNEL void k_crps_ensemble(const void* obs, int obs_f64, const TM* members, const TW* weights,
                                     const int64_t* geo, int64_t n, double* ws, double* out) {
  const int64_t m = geo[XG_M];
  double* scratch = ws + thread_index() * (weights ? 4 : 2) * m;
  for (int64_t i = thread_index(); i < n; i += thread_count()) {
    int64_t a, b, c;
    crps_offsets(geo, i, &a, &b, &c);
    out[i] = crps_ensemble(load_real(obs, obs_f64, a), members + b, geo[XG_MSTR1], weights ? weights + c : weights,
                           geo[XG_MSTR2], m, scratch);
  }
}

}  // namespace gpu
}  // namespace segscore

#endif  // CUDA, NVRTC or emulation
