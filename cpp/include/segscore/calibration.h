// segscore/calibration.h - per-voxel math of the calibration binning pass.
//
// One pass over a probability (or logit) map and a label map gathers, for
// every bin at once, the sufficient statistics of every binned calibration
// metric: count, number of correct voxels and the sum of confidences (plus,
// on request, the Brier and log-loss sums).  ECE, MCE, ACE, RMSCE and the
// reliability diagram are all derived from these few numbers afterwards.
//
// What a "confidence" and a "correct voxel" are depends on the target mode:
//   positive-class  confidence p_k of one class k, correct = (label == k)
//   top-label       confidence max_c p_c, correct = (argmax_c p_c == label)
//                   (the first maximum wins, as numpy/torch argmax)
//   class-wise      one stream per class c: confidence p_c, correct = (label == c)
// A binary input holds P(class 1) shaped like the label map; its classes are
// (1 - p, p).  Logits are turned into probabilities with a sigmoid (binary)
// or a softmax over the class axis, never guessed from the values.
//
// Bin edges are explicit (n_bins + 1 increasing doubles), so every library's
// edge quirk is data, not code: edges computed in float32 like torch.linspace,
// half-open to the left or to the right, what happens to values below the
// first or above the last edge (clamp into the end bin, drop, or an extra
// bin of their own as torchmetrics does with p = 1.0).
//
// Everything here takes raw pointers and is marked SEGSCORE_HD, so the CPU
// driver, CUDA and NVRTC share it.  No allocation, no STL.
#pragma once
#include "segscore/common.h"

namespace segscore {

// ---- IEEE binary16 storage ------------------------------------------------

// float16 bits -> float (exact: every half is a float).  No __half needed.
SEGSCORE_HD SEGSCORE_INLINE float half_bits_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t mant = h & 0x3ffu;
  if (exp == 0) {  // zero or subnormal: mant * 2^-24, exact in float
    const float v = float(mant) * 5.9604644775390625e-08f;
    return sign ? -v : v;
  }
  uint32_t bits;
  if (exp == 31)
    bits = sign | 0x7f800000u | (mant << 13);  // inf / NaN (payload kept)
  else
    bits = sign | ((exp + 112u) << 23) | (mant << 13);
#if defined(__CUDA_ARCH__)
  return __uint_as_float(bits);
#else
  float f;
  __builtin_memcpy(&f, &bits, sizeof(f));
  return f;
#endif
}

// float -> float16 bits, rounded to nearest, ties to even (inf from 65520 on, NaN kept a NaN).
SEGSCORE_HD SEGSCORE_INLINE uint16_t float_to_half_bits(float f) {
#if defined(__CUDA_ARCH__)
  const uint32_t x = __float_as_uint(f);
#else
  uint32_t x;
  __builtin_memcpy(&x, &f, sizeof(x));
#endif
  const uint16_t sign = uint16_t((x >> 16) & 0x8000u);
  const uint32_t a = x & 0x7fffffffu;
  if (a >= 0x7f800000u) return uint16_t(sign | 0x7c00u | (a > 0x7f800000u ? 0x200u : 0u));  // inf, NaN
  if (a >= 0x477ff000u) return uint16_t(sign | 0x7c00u);  // >= 65520 (the tie above 65504): inf
  if (a >= 0x38800000u) {  // a normal half: rebias the exponent, round the 13 dropped bits
    const uint32_t m = a - 0x38000000u;
    return uint16_t(sign | ((m + 0x0fffu + ((m >> 13) & 1u)) >> 13));  // a carry moves the exponent
  }
  const int32_t e = int32_t(a >> 23);  // below 2^-14: a subnormal half, k units of 2^-24
  if (e < 102) return sign;            // below 2^-25: zero
  const uint32_t mant = (a & 0x7fffffu) | 0x800000u;
  const int32_t shift = 126 - e;  // 14 .. 24
  uint32_t k = mant >> shift;
  const uint32_t rem = mant & ((1u << shift) - 1u), half = 1u << (shift - 1);
  if (rem > half || (rem == half && (k & 1u))) ++k;
  return uint16_t(sign | k);  // k = 1024 is the smallest normal's encoding
}

// Load one stored probability as double.  float16 arrives as uint16_t bits.
template <typename T>
SEGSCORE_HD SEGSCORE_INLINE double calib_load(const T* p) {
  return double(*p);
}
template <>
SEGSCORE_HD SEGSCORE_INLINE double calib_load<uint16_t>(const uint16_t* p) {
  return double(half_bits_to_float(*p));
}

// ---- parameters -------------------------------------------------------------

enum CalibMode : int32_t { kCalibPositiveClass = 0, kCalibTopLabel = 1, kCalibClassWise = 2 };
enum CalibOutside : int32_t { kCalibClamp = 0, kCalibDrop = 1, kCalibExtraBin = 2 };

struct CalibParams {
  // binning
  const double* edges;  // n_bins + 1 increasing values
  int32_t n_bins;
  int32_t right_closed;  // 0: bins [e_i, e_i+1); 1: bins (e_i, e_i+1]
  int32_t below;         // values left of bin 0: kCalibClamp (into bin 0) or kCalibDrop
  int32_t above;         // values right of the last bin: clamp, drop, or kCalibExtraBin (slot n_bins)
  double cand_offset;    // near-uniform edges: g = (c - offset) * scale is c in units of bins, and
  double cand_scale;     // every edge e_k lies within cand_tol of k in those units; then a g whose
  double cand_tol;       // fraction is farther than cand_tol from an integer is inside bin floor(g)
                         // without reading an edge.  scale <= 0: always search the edges.
  int32_t exact_floor;   // 1: edges are fl(k / n_bins), bins [l,u), n_bins < 2^26, and every confidence
                         // is a float32 value: then c * n_bins is exact and its floor is the bin
                         // (no float32 equals a rounded edge fl(k/n) != k/n), so no edge is read
  // input
  int32_t n_classes;  // C of a (C, *spatial) input; 0 = binary input holding P(class 1)
  int32_t logits;     // 1: values are logits (sigmoid / softmax applied here)
  int32_t mode;       // CalibMode
  int32_t positive;   // the class of positive-class mode
  int32_t round_f32;  // 1: round each confidence to float32 (torch .float()); 2: torch's float16
                      // sigmoid of a binary float16 logit (float32 arithmetic, rounded to float16)
  int32_t clip;       // 1: clip each probability to [clip_lo, clip_hi] first (netcal)
  double clip_lo, clip_hi;
};

// Whether k.exact_floor may be honoured: floor(c n) is the bin only when every
// confidence is a float32 value (float16/32 input, or rounded to float32) and a raw
// probability (no logits; 1 - p of a binary input is on a 2^-24 grid, far from any
// k/n), clip bounds are float32 values, bins are [l, u) and n_bins < 2^26 (c n exact
// in double).  The CPU driver and the GPU kernels both clear the flag otherwise.
SEGSCORE_HD SEGSCORE_INLINE int32_t calib_exact_floor_ok(const CalibParams& k, bool float_input) {
  const bool f32_values = float_input || k.round_f32;
  const bool raw = !k.logits && !(k.n_classes == 0 && k.mode != kCalibPositiveClass);
  const bool clip_ok = !k.clip || (double(float(k.clip_lo)) == k.clip_lo && double(float(k.clip_hi)) == k.clip_hi);
  return (k.exact_floor && f32_values && raw && clip_ok && !k.right_closed && k.n_bins < (1 << 26)) ? 1 : 0;
}

// Number of histogram slots per stream: n_bins, plus one for an extra bin.
SEGSCORE_HD SEGSCORE_INLINE int32_t calib_slots(const CalibParams& k) {
  return k.n_bins + (k.above == kCalibExtraBin ? 1 : 0);
}

// Number of streams (separately binned confidence sequences).
SEGSCORE_HD SEGSCORE_INLINE int32_t calib_streams(const CalibParams& k) {
  if (k.mode != kCalibClassWise) return 1;
  return k.n_classes == 0 ? 2 : k.n_classes;
}

// ---- binning ----------------------------------------------------------------

// Bin of c by the edges alone (any increasing edges): raw index in [-1, n],
// -1 left of bin 0, n right of the last bin.
SEGSCORE_HD SEGSCORE_INLINE int32_t calib_search(const CalibParams& k, double c) {
  const int32_t n = k.n_bins;
  const double* e = k.edges;
  // count the edges left of c (<= for [l,u), < for (l,u]), minus one
  int32_t lo = 0, hi = n + 1;
  while (lo < hi) {
    const int32_t mid = (lo + hi) >> 1;
    const bool left = k.right_closed ? (e[mid] < c) : (e[mid] <= c);
    if (left)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo - 1;
}

// Slot of confidence c (finite), or -1 when the convention drops it.
SEGSCORE_HD SEGSCORE_INLINE int32_t calib_bin(const CalibParams& k, double c) {
  const int32_t n = k.n_bins;
  const double* e = k.edges;
  if (k.exact_floor) {
    const double g = c * double(n);
    if (g >= 0 && g < double(n)) return int32_t(g);
  } else if (k.cand_scale > 0) {
    const double g = (c - k.cand_offset) * k.cand_scale;
    if (g >= 0 && g < double(n)) {
      const int32_t j = int32_t(g);
      const double f = g - double(j);
      if (f > k.cand_tol && f < 1.0 - k.cand_tol) return j;  // clearly inside bin j
    }
  }
  int32_t i;
  if (k.right_closed ? c <= e[0] : c < e[0])
    i = -1;
  else if (k.right_closed ? c > e[n] : c >= e[n])
    i = n;
  else
    i = calib_search(k, c);
  if (i < 0) return k.below == kCalibDrop ? -1 : 0;
  if (i >= n) return k.above == kCalibDrop ? -1 : (k.above == kCalibExtraBin ? n : n - 1);
  return i;
}

// ---- per-voxel values -------------------------------------------------------

SEGSCORE_HD SEGSCORE_INLINE bool calib_is_prob(double v) { return v >= 0.0 && v <= 1.0; }  // NaN fails
SEGSCORE_HD SEGSCORE_INLINE bool calib_is_finite(double v) { return v - v == 0.0; }       // NaN, inf fail

SEGSCORE_HD SEGSCORE_INLINE double calib_sigmoid(double x) {
  if (x >= 0) return 1.0 / (1.0 + exp(-x));
  const double z = exp(x);
  return z / (1.0 + z);
}

// log(1 + exp(x)) without overflow
SEGSCORE_HD SEGSCORE_INLINE double calib_softplus(double x) {
  return (x > 0 ? x : 0.0) + log1p(exp(-(x > 0 ? x : -x)));
}

SEGSCORE_HD SEGSCORE_INLINE double calib_finish(const CalibParams& k, double c) {
  if (k.round_f32 == 2) return double(half_bits_to_float(float_to_half_bits(float(c))));
  return k.round_f32 ? double(float(c)) : c;
}

// Sigmoid of a binary logit as a confidence.  round_f32 == 2: torch's CPU sigmoid of a Half
// tensor, 1 / (1 + exp(-x)) in float32 (exp rounded to float32), which calib_finish rounds
// to float16 (the same float16 value as torch 2.13 for every finite float16 input).
SEGSCORE_HD SEGSCORE_INLINE double calib_sigmoid_conf(const CalibParams& k, double x) {
  if (k.round_f32 == 2) {
    const float e = float(exp(-x));
    const float s = 1.0f + e;
    return double(1.0f / s);
  }
  return calib_sigmoid(x);
}

SEGSCORE_HD SEGSCORE_INLINE double calib_clip(const CalibParams& k, double v) {
  if (!k.clip) return v;
  return v < k.clip_lo ? k.clip_lo : (v > k.clip_hi ? k.clip_hi : v);
}

// Probabilities of a voxel's classes.  p points at class 0, cs is the class
// stride (elements).  For a binary input C = 0 and p points at P(class 1).
// Returns the number of invalid values (NaN / outside [0, 1]; with logits:
// NaN / inf); on 0 the requested outputs are set.

// Largest-probability class (first maximum) and its probability.
template <typename T>
SEGSCORE_HD SEGSCORE_INLINE int32_t calib_top_label(const CalibParams& k, const T* p, int64_t cs, double* conf,
                                                    int32_t* cls) {
  if (k.n_classes == 0) {
    const double v = calib_load(p);
    if (k.logits) {
      if (!calib_is_finite(v)) return 1;
      *cls = v > 0 ? 1 : 0;  // p1 > p0  <=>  x > 0; a tie goes to class 0
      *conf = calib_finish(k, calib_sigmoid_conf(k, v > 0 ? v : -v));
      return 0;
    }
    if (!calib_is_prob(v)) return 1;
    const double p1 = calib_clip(k, v), p0 = calib_clip(k, 1.0 - v);
    *cls = p1 > p0 ? 1 : 0;
    *conf = calib_finish(k, p1 > p0 ? p1 : p0);
    return 0;
  }
  int32_t bad = 0, arg = 0;
  double best = 0;
  for (int32_t c = 0; c < k.n_classes; ++c) {
    double v = calib_load(p + c * cs);
    if (k.logits ? !calib_is_finite(v) : !calib_is_prob(v)) {
      ++bad;
      continue;
    }
    v = k.logits ? v : calib_clip(k, v);
    if (c == 0 || v > best) {
      best = v;
      arg = c;
    }
  }
  if (bad) return bad;
  if (k.logits) {  // softmax of the largest logit: 1 / sum_c exp(l_c - l_max)
    double s = 0;
    for (int32_t c = 0; c < k.n_classes; ++c) s += exp(calib_load(p + c * cs) - best);
    best = 1.0 / s;
  }
  *cls = arg;
  *conf = calib_finish(k, best);
  return 0;
}

// Validates the C class values of a voxel (finite logits, or probabilities in
// [0, 1]): returns how many are invalid; when none, *mx is their maximum and
// `copy` (may be null) holds the values.
template <typename T>
SEGSCORE_HD SEGSCORE_INLINE int32_t calib_scan_classes(const CalibParams& k, const T* p, int64_t cs, double* mx,
                                                       double* copy) {
  int32_t bad = 0;
  for (int32_t c = 0; c < k.n_classes; ++c) {
    const double v = calib_load(p + c * cs);
    if (k.logits ? !calib_is_finite(v) : !calib_is_prob(v)) {
      ++bad;
      continue;
    }
    if (c == 0 || v > *mx) *mx = v;
    if (copy) copy[c] = v;
  }
  return bad;
}

// Probability of class `cls` (0 <= cls < max(C, 2)).  Every class value of
// the voxel is validated.
template <typename T>
SEGSCORE_HD SEGSCORE_INLINE int32_t calib_class_prob(const CalibParams& k, const T* p, int64_t cs, int32_t cls,
                                                     double* out) {
  if (k.n_classes == 0) {
    const double v = calib_load(p);
    if (k.logits) {
      if (!calib_is_finite(v)) return 1;
      *out = calib_finish(k, calib_sigmoid_conf(k, cls == 1 ? v : -v));
      return 0;
    }
    if (!calib_is_prob(v)) return 1;
    *out = calib_finish(k, calib_clip(k, cls == 1 ? v : 1.0 - v));
    return 0;
  }
  double mx = 0;
  if (const int32_t bad = calib_scan_classes(k, p, cs, &mx, nullptr)) return bad;
  if (k.logits) {
    double s = 0;
    for (int32_t c = 0; c < k.n_classes; ++c) s += exp(calib_load(p + c * cs) - mx);
    *out = calib_finish(k, exp(calib_load(p + cls * cs) - mx) / s);
    return 0;
  }
  *out = calib_finish(k, calib_clip(k, calib_load(p + cls * cs)));
  return 0;
}

// All class probabilities of a voxel (class-wise mode): out[0 .. max(C,2)-1],
// each clipped / rounded like a confidence.
template <typename T>
SEGSCORE_HD SEGSCORE_INLINE int32_t calib_all_probs(const CalibParams& k, const T* p, int64_t cs, double* out) {
  if (k.n_classes == 0) {
    const double v = calib_load(p);
    if (k.logits) {
      if (!calib_is_finite(v)) return 1;
      out[0] = calib_finish(k, calib_sigmoid_conf(k, -v));
      out[1] = calib_finish(k, calib_sigmoid_conf(k, v));
      return 0;
    }
    if (!calib_is_prob(v)) return 1;
    out[0] = calib_finish(k, calib_clip(k, 1.0 - v));
    out[1] = calib_finish(k, calib_clip(k, v));
    return 0;
  }
  double mx = 0;
  if (const int32_t bad = calib_scan_classes(k, p, cs, &mx, out)) return bad;
  if (k.logits) {
    double s = 0;
    for (int32_t c = 0; c < k.n_classes; ++c) {
      out[c] = exp(out[c] - mx);
      s += out[c];
    }
    for (int32_t c = 0; c < k.n_classes; ++c) out[c] = calib_finish(k, out[c] / s);
    return 0;
  }
  for (int32_t c = 0; c < k.n_classes; ++c) out[c] = calib_finish(k, calib_clip(k, out[c]));
  return 0;
}

// Brier score and negative log-likelihood of one voxel with label t
// (0 <= t < max(C, 2)).  brier_sum_form: 1 = sum over the classes
// (Brier 1950, MetricsReloaded), 0 = binary form (p1 - y)^2 for a binary
// input and the sum form for a (C, ...) input.  The caller scales.  Values
// were validated by the binning functions; probabilities are used unclipped.
template <typename T>
SEGSCORE_HD SEGSCORE_INLINE void calib_scores(const CalibParams& k, const T* p, int64_t cs, int64_t t,
                                              int32_t brier_sum_form, double* brier, double* nll) {
  if (k.n_classes == 0) {
    const double v = calib_load(p);
    const double y = t == 1 ? 1.0 : 0.0;
    double p1, lp;  // P(class 1), log P(label)
    if (k.logits) {
      p1 = calib_sigmoid(v);
      lp = -calib_softplus(t == 1 ? -v : v);
    } else {
      p1 = v;
      lp = log(t == 1 ? v : 1.0 - v);
    }
    const double d = p1 - y;
    *brier = brier_sum_form ? 2.0 * d * d : d * d;
    *nll = -lp;
    return;
  }
  double b = 0;
  if (k.logits) {
    double mx = calib_load(p);
    for (int32_t c = 1; c < k.n_classes; ++c) {
      const double v = calib_load(p + c * cs);
      mx = v > mx ? v : mx;
    }
    double s = 0;
    for (int32_t c = 0; c < k.n_classes; ++c) s += exp(calib_load(p + c * cs) - mx);
    for (int32_t c = 0; c < k.n_classes; ++c) {
      const double q = exp(calib_load(p + c * cs) - mx) / s;
      const double d = q - (c == t ? 1.0 : 0.0);
      b += d * d;
    }
    *nll = log(s) + mx - calib_load(p + t * cs);
  } else {
    for (int32_t c = 0; c < k.n_classes; ++c) {
      const double d = calib_load(p + c * cs) - (c == t ? 1.0 : 0.0);
      b += d * d;
    }
    *nll = -log(calib_load(p + t * cs));
  }
  *brier = b;
}

}  // namespace segscore
