// segscore/gpu_multirater_kernels.h - CUDA kernels of the one multi-rater pass.
//
// The per-voxel math is segscore/multirater.h, the code the CPU driver
// (cpp/src/multirater_driver.cpp) runs.  Like every segscore kernel these are grid-stride
// loops with integer atomics only: counts are int64 atomics, probability sums 128-bit
// fixed point added word by word with the carry (exact, so the totals do not depend on
// the launch shape or the scheduling), minima / maxima of doubles atomics on an
// order-preserving integer key.
//
// Work item: a segment of `seg` voxels of one line along the innermost axis; each thread
// walks its segment in runs of equal (raters, prediction, channels, target) values, as the
// CPU driver does, and adds each run once.
//
// Tables (mirrored in python/segscore/gpu/plan.py, MT_* / MO_*):
//   tab   int64: MT_* parameters, the shape, the output offsets, then one row of MT_ROW
//         words per array (maps: raters then the prediction, channels, target): data
//         pointer, dtype code (label: LC_*, channel: 1 float, 2 double), 8 element strides
//   labels: the L sorted label values of the stats rows (value -> row by binary search;
//         a value not in the table lands in row L, "other")
//   out   int64 words at the MO_* offsets of tab
#pragma once
#include "segscore/common.h"
#include "segscore/gpu_kernels.h"
#include "segscore/multirater.h"

namespace segscore {
namespace gpu {

enum MrTab : int {
  MT_ND = 0,
  MT_K,        // raters
  MT_PRED,     // 1: a prediction follows the raters
  MT_C,        // probability channels
  MT_L,        // label rows (row L: other values)
  MT_NB,       // bins (0: no calibration terms)
  MT_TOP,      // 1: the channels are a softmax map, bin its top label
  MT_TARGET,   // 1: a target map follows the channels
  MT_SEG,      // voxels per work item
  MT_SHAPE,    // 8 words
  MT_OUT = MT_SHAPE + 8,  // 14 output offsets (MrOut)
  MT_ARRAYS = MT_OUT + 14,
  MT_ROW = 10,  // per array: pointer, code, 8 strides
};
enum MrOut : int {
  MO_STATS = 0,  // (L + 1) x mr_width(K)
  MO_PSUM,       // C x 2 (lo, hi)
  MO_PVSUM,      // C x 2
  MO_MINMAX,     // maps x 2
  MO_BRIER,      // C x 2
  MO_CWC,        // C x nb x 2 counts
  MO_CWF,        // C x nb x 2 fixed point
  MO_TC,         // nb x 2
  MO_TF,         // nb x 2
  MO_PNAN,       // C
  MO_PMIN,       // C keys
  MO_PMAX,       // C keys
  MO_ROWDEV,     // 1 key
  MO_TOTAL,
};

// An int64 key of a double that orders as the doubles do (NaN never stored).
SEGSCORE_HD SEGSCORE_INLINE int64_t mr_key(double v) {
  const int64_t b = int64_t(mr_double_bits(v));
  return b >= 0 ? b : b ^ int64_t(0x7fffffffffffffffLL);
}

SEGSCORE_HD SEGSCORE_INLINE int64_t mr_row(const int64_t* labels, int64_t L, int64_t v) {
  int64_t lo = 0, hi = L;
  while (lo < hi) {
    const int64_t mid = (lo + hi) / 2;
    if (labels[mid] < v)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < L && labels[lo] == v ? lo : L;
}

}  // namespace gpu
}  // namespace segscore

#if defined(__CUDACC__) || defined(__CUDACC_RTC__) || defined(SEGSCORE_CUDA_EMULATION)

namespace segscore {
namespace gpu {

constexpr int kMrMaxArrays = 64;  // maps + channels + target (the plan refuses more)
constexpr int kMrMaxMaps = 17;    // 16 raters and the prediction

SEGSCORE_DEVICE void mr_atomic_fix(int64_t* p, const MrFix& f) {
  if (f.lo == 0 && f.hi == 0) return;
  unsigned long long* lo = reinterpret_cast<unsigned long long*>(p);
  const unsigned long long old = atomicAdd(lo, static_cast<unsigned long long>(f.lo));
  const unsigned long long carry = old + f.lo < old ? 1ull : 0ull;
  if (f.hi || carry) atomicAdd(lo + 1, static_cast<unsigned long long>(f.hi) + carry);
}

struct MrAtomics {
  int64_t* out;
  const int64_t* o;  // offsets (tab + MT_OUT)
  int64_t W, nb;
  SEGSCORE_DEVICE void operator()(int64_t row, int64_t i, int64_t n) { atomic_add(out + o[MO_STATS] + row * W + i, n); }
  SEGSCORE_DEVICE void psum(int64_t c, const MrFix& f) { mr_atomic_fix(out + o[MO_PSUM] + 2 * c, f); }
  SEGSCORE_DEVICE void pvsum(int64_t c, const MrFix& f) { mr_atomic_fix(out + o[MO_PVSUM] + 2 * c, f); }
  SEGSCORE_DEVICE void nan(int64_t c, int64_t n) { atomic_add(out + o[MO_PNAN] + c, n); }
  SEGSCORE_DEVICE void range(int64_t c, double v) {
    atomic_min(out + o[MO_PMIN] + c, mr_key(v));
    atomic_max(out + o[MO_PMAX] + c, mr_key(v));
  }
  SEGSCORE_DEVICE void bin(int64_t c, int64_t b, int64_t n, int64_t correct, const MrFix& f) {
    atomic_add(out + o[MO_CWC] + (c * nb + b) * 2, n);
    if (correct) atomic_add(out + o[MO_CWC] + (c * nb + b) * 2 + 1, correct);
    mr_atomic_fix(out + o[MO_CWF] + (c * nb + b) * 2, f);
  }
  SEGSCORE_DEVICE void brier(int64_t c, const MrFix& f) { mr_atomic_fix(out + o[MO_BRIER] + 2 * c, f); }
  SEGSCORE_DEVICE void rowdev(double d) { atomic_max(out + o[MO_ROWDEV], mr_key(d)); }
  SEGSCORE_DEVICE void top(int64_t b, int64_t n, int64_t correct, const MrFix& f) {
    atomic_add(out + o[MO_TC] + 2 * b, n);
    if (correct) atomic_add(out + o[MO_TC] + 2 * b + 1, correct);
    mr_atomic_fix(out + o[MO_TF] + 2 * b, f);
  }
};

SEGSCORE_DEVICE const void* mr_data(const int64_t* tab, int64_t a) {
  return reinterpret_cast<const void*>(static_cast<uint64_t>(tab[MT_ARRAYS + a * MT_ROW]));
}
SEGSCORE_DEVICE int mr_code(const int64_t* tab, int64_t a) { return int(tab[MT_ARRAYS + a * MT_ROW + 1]); }
SEGSCORE_DEVICE int64_t mr_stride(const int64_t* tab, int64_t a, int d) { return tab[MT_ARRAYS + a * MT_ROW + 2 + d]; }

SEGSCORE_DEVICE double mr_load_prob(const void* p, int code, int64_t i) {
  return code == 2 ? static_cast<const double*>(p)[i] : double(static_cast<const float*>(p)[i]);
}

// End of the run of values equal to element i of array a (at most `end`).
SEGSCORE_DEVICE int64_t mr_run_end(const int64_t* tab, int64_t a, bool prob, int64_t off, int64_t step, int64_t i,
                                   int64_t end) {
  const void* p = mr_data(tab, a);
  const int code = mr_code(tab, a);
  int64_t j = i + 1;
  if (prob) {
    const double v = mr_load_prob(p, code, off + i * step);
    while (j < end && mr_load_prob(p, code, off + j * step) == v) ++j;
  } else {
    const int64_t v = load_label(p, code, off + i * step);
    while (j < end && load_label(p, code, off + j * step) == v) ++j;
  }
  return j;
}

// out: the MO_* blocks zeroed, minima / maxima set to their identities.
SEGSCORE_KERNEL void k_mr_init(const int64_t* tab, int64_t* out) {
  const int64_t* o = tab + MT_OUT;
  const int64_t nmaps = tab[MT_K] + tab[MT_PRED];
  for (int64_t i = thread_index(); i < o[MO_TOTAL]; i += thread_count()) {
    int64_t v = 0;
    if (i >= o[MO_MINMAX] && i < o[MO_MINMAX] + 2 * nmaps) v = (i - o[MO_MINMAX]) % 2 == 0 ? kI64Max : kI64Min;
    if (i >= o[MO_PMIN] && i < o[MO_PMIN] + tab[MT_C]) v = kI64Max;
    if (i >= o[MO_PMAX] && i < o[MO_PMAX] + tab[MT_C]) v = kI64Min;
    out[i] = v;
  }
}

// Work item offsets: element offset of each array at the start of item `it`.
SEGSCORE_DEVICE int64_t mr_item(const int64_t* tab, int64_t it, int64_t A, int64_t* off) {
  const int nd = int(tab[MT_ND]);
  const int64_t n = tab[MT_SHAPE + nd - 1], seg = tab[MT_SEG];
  const int64_t nseg = (n + seg - 1) / seg;
  int64_t line = it / nseg;
  const int64_t x0 = (it % nseg) * seg;
  for (int64_t a = 0; a < A; ++a) off[a] = x0 * mr_stride(tab, a, nd - 1);
  for (int d = nd - 2; d >= 0; --d) {
    const int64_t idx = line % tab[MT_SHAPE + d];
    line /= tab[MT_SHAPE + d];
    for (int64_t a = 0; a < A; ++a) off[a] += idx * mr_stride(tab, a, d);
  }
  return (x0 + seg < n ? x0 + seg : n) - x0;
}

SEGSCORE_DEVICE int64_t mr_items(const int64_t* tab) {
  const int nd = int(tab[MT_ND]);
  const int64_t n = tab[MT_SHAPE + nd - 1], seg = tab[MT_SEG];
  int64_t lines = 1;
  for (int d = 0; d < nd - 1; ++d) lines *= tab[MT_SHAPE + d];
  return n > 0 ? lines * ((n + seg - 1) / seg) : 0;
}

// Each map's label range (the host builds the label table from it).
SEGSCORE_KERNEL void k_mr_range(const int64_t* tab, int64_t* out) {
  const int nd = int(tab[MT_ND]);
  const int64_t M = tab[MT_K] + tab[MT_PRED], items = mr_items(tab);
  int64_t* mm = out + tab[MT_OUT + MO_MINMAX];
  int64_t off[kMrMaxMaps];
  for (int64_t it = thread_index(); it < items; it += thread_count()) {
    const int64_t len = mr_item(tab, it, M, off);
    for (int64_t m = 0; m < M; ++m) {
      const void* p = mr_data(tab, m);
      const int code = mr_code(tab, m);
      const int64_t st = mr_stride(tab, m, nd - 1);
      int64_t lo = kI64Max, hi = kI64Min;
      for (int64_t i = 0; i < len; ++i) {
        const int64_t v = load_label(p, code, off[m] + i * st);
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
      }
      atomic_min(mm + 2 * m, lo);
      atomic_max(mm + 2 * m + 1, hi);
    }
  }
}

// The one pass: every label row's counts, the channels' sums and the calibration terms.
SEGSCORE_KERNEL void k_mr_stats(const int64_t* tab, const int64_t* labels, const int64_t* chan_label,
                                const double* edges, int64_t* out) {
  const int nd = int(tab[MT_ND]);
  const int64_t K = tab[MT_K], M = K + tab[MT_PRED], C = tab[MT_C], L = tab[MT_L], nb = tab[MT_NB];
  const bool tgt = tab[MT_TARGET] != 0, top = tab[MT_TOP] != 0;
  const int64_t A = M + C + (tgt ? 1 : 0), items = mr_items(tab);
  MrAtomics acc{out, tab + MT_OUT, mr_width(K), nb};
  int64_t off[kMrMaxArrays], aend[kMrMaxArrays], step[kMrMaxArrays], cur[kMrMaxMaps], slots[kMrMaxMaps];
  double pv[kMrMaxArrays];
  for (int64_t a = 0; a < A; ++a) step[a] = mr_stride(tab, a, nd - 1);
  for (int64_t it = thread_index(); it < items; it += thread_count()) {
    const int64_t len = mr_item(tab, it, A, off);
    for (int64_t a = 0; a < A; ++a) aend[a] = 0;
    for (int64_t start = 0; start < len;) {
      int64_t end = len;
      for (int64_t a = 0; a < A; ++a) {
        if (aend[a] <= start) aend[a] = mr_run_end(tab, a, a >= M && a < M + C, off[a], step[a], start, len);
        end = aend[a] < end ? aend[a] : end;
      }
      const int64_t cnt = end - start;
      for (int64_t m = 0; m < M; ++m) cur[m] = load_label(mr_data(tab, m), mr_code(tab, m), off[m] + start * step[m]);
      for (int64_t k = 0; k < K; ++k) slots[k] = mr_row(labels, L, cur[k]);
      mr_count(acc, slots, K, M > K ? mr_row(labels, L, cur[K]) : int64_t(-1), cnt);
      if (C) {
        for (int64_t c = 0; c < C; ++c)
          pv[c] = mr_load_prob(mr_data(tab, M + c), mr_code(tab, M + c), off[M + c] + start * step[M + c]);
        auto load = [&](int64_t c) { return pv[c]; };
        mr_probs(acc, load, chan_label, C, cur, K, cnt);
        if (tgt && nb > 0) {
          const int64_t t = load_label(mr_data(tab, M + C), mr_code(tab, M + C), off[M + C] + start * step[M + C]);
          mr_calib_run(acc, load, t, cnt, chan_label, C, edges, nb, top);
        }
      }
      start = end;
    }
  }
}

}  // namespace gpu
}  // namespace segscore

#endif
