// segscore/multirater.h - per-voxel math of the one multi-rater pass.
//
// One read of K rater label maps, an optional prediction and optional probability
// channels gathers, for every label at once, the sufficient statistics of every
// multi-rater quantity: each rater's and the prediction's voxel count, the prediction's
// overlap with each rater, every pair of raters' overlap (GED), the histogram of the
// number of raters marking the label (consensus foreground = K votes, dissensus =
// 1..K-1) and of the votes under the prediction (consensus Dice: tp = K votes, fp = 0
// votes), plus per probability channel the sum of p and of p times the channel label's
// votes (soft Dice, probabilistic volume).  Consensus Dice, per-rater Dice and volumes,
// GED and soft Dice are all derived from these numbers afterwards.
//
// Counts are int64.  Probability sums are exact 128-bit fixed point (units of 2^-72: a
// probability p in [0, 1] contributes floor(p 2^72), exact for every float32 >= 2^-48 and
// every float64 >= 2^-19), so the totals do not depend on the order of the voxels, the
// memory layout, the thread count or a GPU launch shape; the host converts a total to
// double at the end.
//
// Layout of one label's int64 statistics (W = mr_width(K) per label slot):
//   [MR_PRED]            voxels the prediction marks with the label
//   [mr_rater(K, k)]     voxels rater k marks
//   [mr_inter(K, k)]     voxels the prediction and rater k both mark
//   [mr_pair(K, i, j)]   voxels raters i < j both mark
//   [mr_vote(K, v)]      voxels exactly v raters mark, v = 1..K
//   [mr_pvote(K, v)]     voxels the prediction marks and exactly v raters mark, v = 0..K
//
// Everything here takes raw pointers and is marked SEGSCORE_HD, so the CPU driver
// (cpp/src/multirater_driver.cpp), CUDA and NVRTC share it.  No allocation, no STL.
#pragma once
#include "segscore/common.h"

namespace segscore {

enum : int { MR_PRED = 0 };
SEGSCORE_HD SEGSCORE_INLINE int64_t mr_pairs(int64_t K) { return K * (K - 1) / 2; }
SEGSCORE_HD SEGSCORE_INLINE int64_t mr_rater(int64_t K, int64_t k) {
  (void)K;
  return 1 + k;
}
SEGSCORE_HD SEGSCORE_INLINE int64_t mr_inter(int64_t K, int64_t k) { return 1 + K + k; }
// i < j
SEGSCORE_HD SEGSCORE_INLINE int64_t mr_pair(int64_t K, int64_t i, int64_t j) {
  return 1 + 2 * K + i * (2 * K - i - 1) / 2 + (j - i - 1);
}
// v = 1..K
SEGSCORE_HD SEGSCORE_INLINE int64_t mr_vote(int64_t K, int64_t v) { return 1 + 2 * K + mr_pairs(K) + (v - 1); }
// v = 0..K
SEGSCORE_HD SEGSCORE_INLINE int64_t mr_pvote(int64_t K, int64_t v) { return 1 + 3 * K + mr_pairs(K) + v; }
SEGSCORE_HD SEGSCORE_INLINE int64_t mr_width(int64_t K) { return 2 + 4 * K + mr_pairs(K); }

// Adds `n` identical voxels to the statistics: slots[k] is the label slot of rater k's
// value, ps the slot of the prediction's value (-1: no prediction).  add(slot, index, n)
// adds n to statistic `index` of label slot `slot` (a plain add on the CPU, an atomic
// or a register run on the GPU).
template <class Add>
SEGSCORE_HD SEGSCORE_INLINE void mr_count(Add& add, const int64_t* slots, int64_t K, int64_t ps, int64_t n) {
  for (int64_t k = 0; k < K; ++k) {
    const int64_t s = slots[k];
    add(s, mr_rater(K, k), n);
    bool first = true;
    for (int64_t j = 0; j < k; ++j) first = first && slots[j] != s;
    int64_t v = 1;
    for (int64_t j = k + 1; j < K; ++j)
      if (slots[j] == s) {
        add(s, mr_pair(K, k, j), n);
        ++v;
      }
    if (first) add(s, mr_vote(K, v), n);
  }
  if (ps < 0) return;
  add(ps, MR_PRED, n);
  int64_t v = 0;
  for (int64_t k = 0; k < K; ++k)
    if (slots[k] == ps) {
      add(ps, mr_inter(K, k), n);
      ++v;
    }
  add(ps, mr_pvote(K, v), n);
}

// Consensus of rater k's label at one voxel (vals: the K raters' values): true when k is the
// first rater holding that value (each label is decided once); *all = every rater marks it
// (consensus foreground), otherwise it lies in the dissensus.
SEGSCORE_HD SEGSCORE_INLINE bool mr_consensus(const int64_t* vals, int64_t K, int64_t k, bool* all) {
  for (int64_t j = 0; j < k; ++j)
    if (vals[j] == vals[k]) return false;
  int64_t v = 1;
  for (int64_t j = k + 1; j < K; ++j) v += vals[j] == vals[k] ? 1 : 0;
  *all = v == K;
  return true;
}

// ---- exact probability sums -------------------------------------------------------

// A 128-bit unsigned fixed-point sum in units of 2^-72.
struct MrFix {
  uint64_t hi, lo;
};

SEGSCORE_HD SEGSCORE_INLINE uint64_t mr_double_bits(double f) {
#if defined(__CUDA_ARCH__)
  return static_cast<uint64_t>(__double_as_longlong(f));
#else
  uint64_t b;
  __builtin_memcpy(&b, &f, sizeof(b));
  return b;
#endif
}

// floor(p 2^72) of p in [0, 1] (a float32 converts to double exactly), as (hi, lo) words.
// p = m 2^(e - 1075) with m < 2^53, so p 2^72 = m 2^(e - 1003).
SEGSCORE_HD SEGSCORE_INLINE MrFix mr_fixed(double p) {
  MrFix r = {0, 0};
  if (!(p > 0.0)) return r;
  const uint64_t b = mr_double_bits(p);
  const int e = int((b >> 52) & 0x7ff);
  const uint64_t m = (b & 0xfffffffffffffull) | (e ? (1ull << 52) : 0ull);
  const int s = (e ? e : 1) - 1003;
  if (s >= 64) {
    r.hi = m << (s - 64);
  } else if (s > 0) {
    r.hi = m >> (64 - s);
    r.lo = m << s;
  } else if (s > -64) {
    r.lo = m >> -s;
  }
  return r;
}

SEGSCORE_HD SEGSCORE_INLINE void mr_add(MrFix& a, const MrFix& b) {
  const uint64_t lo = a.lo + b.lo;
  a.hi += b.hi + (lo < a.lo ? 1u : 0u);
  a.lo = lo;
}

// hi 2^-8 + lo 2^-72, rounded once per word.
SEGSCORE_HD SEGSCORE_INLINE double mr_to_double(const MrFix& a) {
  return double(a.hi) * 0.00390625 + double(a.lo) * 2.117582368135750678e-22;  // 2^-8, 2^-72
}

// f times a count n (the sum of n equal voxels), modulo 2^128.
SEGSCORE_HD SEGSCORE_INLINE MrFix mr_times(const MrFix& f, uint64_t n) {
  if (n == 1) return f;
  // lo * n as 128 bits from 32-bit halves (no __int128 under NVRTC)
  const uint64_t a0 = f.lo & 0xffffffffull, a1 = f.lo >> 32, b0 = n & 0xffffffffull, b1 = n >> 32;
  const uint64_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
  const uint64_t mid = (p00 >> 32) + (p01 & 0xffffffffull) + (p10 & 0xffffffffull);
  MrFix r;
  r.lo = (mid << 32) | (p00 & 0xffffffffull);
  r.hi = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32) + f.hi * n;
  return r;
}

// n equal voxels' probability channels: for channel c with label value lab[c],
// acc.psum(c, n p_c), acc.pvsum(c, n p_c times the number of raters marking lab[c]) and
// acc.pfg / acc.pbg(c, n p_c) where every rater / no rater marks lab[c].
// vals[k] are the raters' raw label values; p_c is read by load(c).
template <class Acc, class Load>
SEGSCORE_HD SEGSCORE_INLINE void mr_probs(Acc& acc, const Load& load, const int64_t* lab, int64_t C,
                                          const int64_t* vals, int64_t K, int64_t n) {
  for (int64_t c = 0; c < C; ++c) {
    const double p = load(c);
    if (!(p > 0.0)) continue;
    const MrFix f = mr_fixed(p);
    acc.psum(c, mr_times(f, uint64_t(n)));
    const int64_t l = lab[c];
    int64_t v = 0;
    for (int64_t k = 0; k < K; ++k) v += vals[k] == l ? 1 : 0;
    if (v) acc.pvsum(c, mr_times(f, uint64_t(n * v)));
    if (v == K) acc.pfg(c, mr_times(f, uint64_t(n)));  // consensus foreground (the CURVAS confidence)
    if (v == 0) acc.pbg(c, mr_times(f, uint64_t(n)));  // consensus background
  }
}

// ---- calibration terms of the same pass -----------------------------------------------

// Bin of a confidence c by the edges e[0..nb]: bins [e_b, e_b+1), values left of e[1]
// in bin 0 and right of e[nb - 1] in bin nb - 1 (segscore's calibration convention:
// exact k/n edges, half-open to the right, clamped at both ends).
SEGSCORE_HD SEGSCORE_INLINE int64_t mr_bin(const double* e, int64_t nb, double c) {
  if (nb <= 1 || c < e[1]) return 0;
  if (c >= e[nb - 1]) return nb - 1;
  int64_t lo = 1, hi = nb - 1;  // e[lo] <= c < e[hi]
  while (hi - lo > 1) {
    const int64_t mid = (lo + hi) / 2;
    if (c >= e[mid])
      lo = mid;
    else
      hi = mid;
  }
  return lo;
}

// (p - y)^2 as numpy computes it from a float32 difference (np.subtract(p, y,
// dtype=float32) squared in float32), y = 1 when the voxel's target is the channel's label.
SEGSCORE_HD SEGSCORE_INLINE float mr_brier_term(double p, bool y) {
  const float d = float(p) - (y ? 1.0f : 0.0f);
  return d * d;
}

// A background channel computed from the n organ channels p[0..n): max(1 - sum, 0) with the
// sum and the difference in float32, the organs added in channel order (numpy's
// prob.sum(axis=0, dtype=float32) of a (n, ...) array, then 1 - s, clipped at 0).
SEGSCORE_HD SEGSCORE_INLINE double mr_background(const double* p, int64_t n) {
  float s = float(p[0]);
  for (int64_t c = 1; c < n; ++c) s = s + float(p[c]);
  const float b = 1.0f - s;
  return b > 0.0f ? double(b) : 0.0;
}

// Top label of a voxel's C channels: the first maximum (numpy / torch argmax).
// (defined before its use in mr_calib_run below)
template <class Load>
SEGSCORE_HD SEGSCORE_INLINE int64_t mr_argmax(const Load& load, int64_t C, double* conf) {
  int64_t best = 0;
  double m = load(0);
  for (int64_t c = 1; c < C; ++c) {
    const double v = load(c);
    if (v > m) {
      m = v;
      best = c;
    }
  }
  *conf = m;
  return best;
}

// The calibration terms of n equal voxels (channels load(c), target label t):
//   acc.nan(c, n)                     NaN values of channel c
//   acc.range(c, v)                   a non-NaN value of channel c (its min / max)
//   acc.bin(c, b, n, correct, fix)    channel c's bin b: voxels, voxels whose target is lab[c], sum of p
//   acc.brier(c, fix)                 sum of mr_brier_term
//   acc.rowdev(d)                     |sum over the channels - 1| (top only)
//   acc.top(b, n, correct, fix)       the top label's bin (top only; not for NaN / out-of-range voxels)
//   acc.top_rater(k, b, n)            ... its voxels whose top label rater k marks (vals[k])
// (channel_bins false: only nan / range of the channels, then the top label's terms)
template <class Acc, class Load>
SEGSCORE_HD SEGSCORE_INLINE void mr_calib_run(Acc& acc, const Load& load, int64_t t, int64_t n, const int64_t* lab,
                                              int64_t C, const double* edges, int64_t nb, bool top,
                                              const int64_t* vals, int64_t K, bool channel_bins = true) {
  bool bad = false;
  double sum = 0.0;
  const MrFix zero = {0, 0};
  for (int64_t c = 0; c < C; ++c) {
    const double v = load(c);
    if (v != v) {
      acc.nan(c, n);
      bad = true;
      continue;
    }
    acc.range(c, v);
    bad = bad || !(v >= 0.0 && v <= 1.0);
    sum += v;
    if (!channel_bins) continue;
    const bool y = t == lab[c];
    const int64_t b = v == 0.0 ? 0 : mr_bin(edges, nb, v);
    acc.bin(c, b, n, y ? n : 0, v > 0.0 ? mr_times(mr_fixed(v), uint64_t(n)) : zero);
    const float e = mr_brier_term(v, y);
    if (e != 0.0f) acc.brier(c, mr_times(mr_fixed(double(e)), uint64_t(n)));
  }
  if (!top || bad) return;  // NaN / out of range: counted above, the caller refuses the map
  acc.rowdev(sum > 1.0 ? sum - 1.0 : 1.0 - sum);
  double conf = 0.0;
  const int64_t a = mr_argmax(load, C, &conf);
  const int64_t b = mr_bin(edges, nb, conf);
  acc.top(b, n, t == lab[a] ? n : 0, conf > 0.0 ? mr_times(mr_fixed(conf), uint64_t(n)) : zero);
  for (int64_t k = 0; k < K; ++k)
    if (vals[k] == lab[a]) acc.top_rater(k, b, n);
}

}  // namespace segscore
