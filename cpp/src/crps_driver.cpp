// CPU driver of the CRPS kernels.  The math lives in segscore/crps.h; this file only walks
// strided (possibly broadcast) arrays and splits the flat index range over the thread pool.
// Every output element depends on its own inputs only, so results are bit-identical for any
// number of threads.
#include "crps_driver.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <cstdint>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

#include "segscore/crps.h"
#include "strided.h"

namespace segscore {
namespace {

// The batch grid (obs's shape, logical C order) over obs (array 0), mu / members (1),
// sigma / weights (2) and the C-contiguous output (3; none = zero strides).  Lines are cut
// into segments of a quarter of `grain` elements (the work of one parallel range at least),
// so that the ranges of the threads stay balanced on long lines (1-d inputs).
Lines<4> batch_lines(const ArrayView& obs, const ArrayView& a1, const ArrayView* a2, int64_t grain) {
  const int nd = obs.ndim;
  int64_t out[kMaxDim] = {}, none[kMaxDim] = {};
  int64_t acc = 1;
  for (int d = nd - 1; d >= 0; --d) {
    out[d] = acc;
    acc *= obs.shape[d];
  }
  const int64_t* strides[4] = {obs.strides, a1.strides, a2 ? a2->strides : none, out};
  int axes[kMaxDim];
  const int na = c_order_axes(nd, nd - 1, -1, axes);
  return make_lines<4>(na, axes, obs.shape, strides, std::max<int64_t>(1, grain / 4));
}

// Units of `g` per parallel range for at least `grain` elements.
int64_t grain_units(const Lines<4>& g, int64_t grain) { return std::max<int64_t>(1, grain / g.seg); }

template <typename F>
decltype(auto) dispatch_float(DType dt, F&& f) {
  if (dt == DType::F32) return f(Tag<float>{});
  if (dt == DType::F64) return f(Tag<double>{});
  throw std::invalid_argument("segscore: CRPS inputs must be float32 or float64");
}

// CPU kernels over gathered float64 blocks, compiled for AVX-512, AVX2+FMA and baseline
// x86-64 (chosen at load time): the math from segscore/crps.h is branch-free, so these
// loops vectorise across elements (Gaussian) or across ensembles (lanes).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define SEGSCORE_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#define SEGSCORE_V4 __attribute__((target("arch=x86-64-v4")))
#define SEGSCORE_HAVE_V4 1
#else
#define SEGSCORE_CLONES
#endif

constexpr int kBlock = 512;  // Gaussian: elements per gathered block
constexpr int kLanes = 8;    // ensembles sorted and integrated side by side
constexpr int64_t kMaxLaneMembers = 128;  // larger ensembles use the per-ensemble merge sort

SEGSCORE_CLONES void gaussian_block(const double* y, const double* mu, const double* sigma, double* out, int n) {
  for (int i = 0; i < n; ++i) out[i] = crps_gaussian(y[i], mu[i], sigma[i]);
}

// Comparators (a < b) of Batcher's odd-even merge sort for the next power of two >= m,
// without those whose upper index is >= m: with +inf in the padding they never act.
std::vector<std::pair<int, int>> sorting_network(int64_t m) {
  int64_t p2 = 1;
  while (p2 < m) p2 *= 2;
  std::vector<std::pair<int, int>> net;
  for (int64_t p = 1; p < p2; p *= 2)
    for (int64_t k = p; k >= 1; k /= 2)
      for (int64_t j = k % p; j + k < p2; j += 2 * k)
        for (int64_t i = 0; i < k && i + j + k < p2; ++i)
          if ((i + j) / (2 * p) == (i + j + k) / (2 * p) && i + j + k < m) net.emplace_back(int(i + j), int(i + j + k));
  return net;
}

// Eight doubles as one value (GCC/Clang vector extension): lowered to AVX-512, AVX2 or
// SSE2 by the clone being compiled.
typedef double v8d __attribute__((vector_size(64)));
static_assert(kLanes == 8, "v8d holds kLanes doubles");

// memcpy in place rather than helper functions: a v8d passed to or returned from a
// function compiled for the baseline target goes through memory.

// Lane-parallel exact ensemble CRPS: K[i * kLanes + l] is member i of lane l (NaN members
// already replaced by +inf and counted out in n[l]), W likewise (null: equal weights).
// Sorts every lane with the same network, then integrates with crps_ensemble_step.
// bad[l] != 0 marks lanes whose result is NaN (missing observation, no member, bad weight).
template <bool kPay, bool kFull>
SEGSCORE_CLONES void ensemble_lanes(const double* y, double* K, double* W, const double* n,
                                    const std::pair<int, int>* net, int64_t n_net, int64_t m, const char* bad,
                                    double* out) {
  for (int64_t c = 0; c < n_net; ++c) {
    double* pa = K + net[c].first * kLanes;
    double* pb = K + net[c].second * kLanes;
    v8d a, b;
    std::memcpy(&a, pa, sizeof a);
    std::memcpy(&b, pb, sizeof b);
    const auto swap = b < a;
    const v8d lo = swap ? b : a, hi = swap ? a : b;
    std::memcpy(pa, &lo, sizeof lo);
    std::memcpy(pb, &hi, sizeof hi);
    if (kPay) {
      double* qa = W + net[c].first * kLanes;
      double* qb = W + net[c].second * kLanes;
      v8d wa, wb;
      std::memcpy(&wa, qa, sizeof wa);
      std::memcpy(&wb, qb, sizeof wb);
      const v8d wlo = swap ? wb : wa, whi = swap ? wa : wb;
      std::memcpy(qa, &wlo, sizeof wlo);
      std::memcpy(qb, &whi, sizeof whi);
    }
  }
  // The integral: plain per-lane loops over the scalar step of segscore/crps.h, which the
  // compiler vectorises across the lanes (the step is branch-free).
  double total[kLanes], step[kLanes], obs_cdf[kLanes], fc_cdf[kLanes], prev[kLanes], integral[kLanes];
  for (int l = 0; l < kLanes; ++l) {
    total[l] = kPay ? 0.0 : n[l];
    obs_cdf[l] = fc_cdf[l] = prev[l] = integral[l] = 0.0;
  }
  if (kPay)  // summed in sorted order, as properscoring (missing members carry weight 0)
    for (int64_t i = 0; i < m; ++i)
      for (int l = 0; l < kLanes; ++l) total[l] += W[i * kLanes + l];
  for (int l = 0; l < kLanes; ++l) step[l] = 1.0 / total[l];
  for (int64_t i = 0; i < m; ++i) {
    const double* k = K + i * kLanes;
    const double* w = kPay ? W + i * kLanes : nullptr;
    for (int l = 0; l < kLanes; ++l) {
      double oc = obs_cdf[l], fc = fc_cdf[l], pv = prev[l], in = integral[l];
      crps_ensemble_step<double>(y[l], k[l], kPay ? w[l] / total[l] : step[l], oc, fc, pv, in);
      if (kFull) {  // every lane has m members: no masking
        obs_cdf[l] = oc;
        fc_cdf[l] = fc;
        prev[l] = pv;
        integral[l] = in;
      } else {
        const bool live = double(i) < n[l];
        obs_cdf[l] = live ? oc : obs_cdf[l];
        fc_cdf[l] = live ? fc : fc_cdf[l];
        prev[l] = live ? pv : prev[l];
        integral[l] = live ? in : integral[l];
      }
    }
  }
  double rr[kLanes], tt[kLanes];
  for (int l = 0; l < kLanes; ++l) {
    rr[l] = crps_ensemble_finish<double>(y[l], obs_cdf[l], prev[l], integral[l]);
    tt[l] = total[l];
  }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (int l = 0; l < kLanes; ++l) out[l] = (bad[l] || !(tt[l] > 0.0)) ? nan : rr[l];
}

#ifdef SEGSCORE_HAVE_V4
// GCC 12's AVX-512 intrinsics initialise their unused merge operand from itself
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// ---------------------------------------------------------------------------------------
// Ensembles of m <= kMaxFixedMembers members on AVX-512 CPUs (others, and larger ensembles,
// take ensemble_lanes above): the same lane-parallel scheme with the sorting network and
// the integral unrolled at compile time for P2 = the next power of two >= m (8, 16, 32 or
// 64).  Every member slot is then a __m512d with a constant index, so the compiler keeps
// the ensemble in registers (spilling what does not fit) instead of loading and storing
// both operands of every comparator through an index table.  The comparators and integral
// steps that depend on m (indices >= P2 / 2 + 1) sit behind a test on m, the same for every
// block and so perfectly predicted.  Contiguous float64 rows are transposed 8 x 8 in
// registers.  Written with intrinsics: GCC 12 expands some vector-extension selects (`&`
// of two comparisons) lane by lane.  1 M x 50 members, one thread: 3x faster than
// ensemble_lanes on an AVX-512 Zen 4 core.

constexpr int kMaxFixedMembers = 64;

// The CPU runs AVX-512 (x86-64-v4) and SEGSCORE_CRPS_GENERIC is not set; the variable lets
// the test-suite run the generic lane kernel on an AVX-512 machine too.
bool fixed_kernels_enabled() {
  static const bool on = __builtin_cpu_supports("x86-64-v4") && std::getenv("SEGSCORE_CRPS_GENERIC") == nullptr;
  return on;
}
constexpr int64_t kAheadBlocks = 2;  // gather_rows_f64 prefetch distance (1 or 2 measure alike)

// Batcher's odd-even merge sort for p2 inputs, all comparators (pruning happens at run
// time), listed depth first (each half sorted completely, then the merges recursively:
// evens, odds, final pass): the set of values in use at any point stays small, so the
// compiler keeps most of them in registers between comparators.
struct FixedNet {
  int n = 0;
  unsigned char a[543] = {}, b[543] = {};  // 543 = comparators for 64 inputs
  constexpr void add(int i, int j) {
    a[n] = static_cast<unsigned char>(i);
    b[n] = static_cast<unsigned char>(j);
    ++n;
  }
  constexpr void merge(int lo, int len, int r) {  // sorted halves [lo, lo + len/2), ...; stride r
    const int step = r * 2;
    if (step < len) {
      merge(lo, len, step);      // even subsequence
      merge(lo + r, len, step);  // odd subsequence
      for (int i = lo + r; i + r < lo + len; i += step) add(i, i + r);
    } else {
      add(lo, lo + r);
    }
  }
  constexpr void sort(int lo, int len) {
    if (len > 1) {
      sort(lo, len / 2);
      sort(lo + len / 2, len / 2);
      merge(lo, len, 1);
    }
  }
};

constexpr FixedNet batcher_net(int p2) {
  FixedNet net;
  net.sort(0, p2);
  return net;
}

template <int P2>
struct NetFor {
  static constexpr FixedNet net = batcher_net(P2);
};

// f(integral_constant<int, I>) for I = 0 .. N-1, unrolled.
template <typename F, int... I>
SEGSCORE_V4 SEGSCORE_CRPS_INLINE void unroll_seq(F& f, std::integer_sequence<int, I...>) {
  (f(std::integral_constant<int, I>{}), ...);
}
template <int N, typename F>
SEGSCORE_V4 SEGSCORE_CRPS_INLINE void unroll(F&& f) {
  unroll_seq(f, std::make_integer_sequence<int, N>{});
}

typedef long long v8l __attribute__((vector_size(64)));

#define SEGSCORE_V4_LAMBDA __attribute__((always_inline, target("arch=x86-64-v4")))

// Transposes the members of 8 contiguous float64 rows into buf[j * kLanes + l] (raw values,
// NaN kept): 8 x 8 tiles transposed in registers, the last m % 8 members one by one.
// Prefetches the same rows moved by `ahead` bytes (the rows of a later block when the
// batch is laid out evenly; a prefetch never faults): reading 8 rows tile by tile hides the
// stream from the hardware prefetchers.
SEGSCORE_V4 void gather_rows_f64(const double* const* rows, int64_t m, double* buf, int64_t ahead) {
  if (ahead != 0)
    for (int l = 0; l < 8; ++l) {
      const char* p = reinterpret_cast<const char*>(rows[l]) + ahead;
      for (int64_t o = 0; o < m * int64_t(sizeof(double)); o += 64) __builtin_prefetch(p + o);
      __builtin_prefetch(p + m * int64_t(sizeof(double)) - 1);
    }
  int64_t j0 = 0;
  for (; j0 + 8 <= m; j0 += 8) {
    v8d r[8];
    for (int l = 0; l < 8; ++l) std::memcpy(&r[l], rows[l] + j0, sizeof(v8d));
    v8d t[8], u[8];
    for (int l = 0; l < 8; l += 2) {  // t[l]: rows l, l+1 interleaved (even / odd members)
      t[l] = __builtin_shuffle(r[l], r[l + 1], v8l{0, 8, 2, 10, 4, 12, 6, 14});
      t[l + 1] = __builtin_shuffle(r[l], r[l + 1], v8l{1, 9, 3, 11, 5, 13, 7, 15});
    }
    for (int h = 0; h < 8; h += 4)
      for (int q = 0; q < 2; ++q) {  // u[h + q]: members q, q + 4; u[h + 2 + q]: members q + 2, q + 6
        u[h + q] = __builtin_shuffle(t[h + q], t[h + 2 + q], v8l{0, 1, 8, 9, 4, 5, 12, 13});
        u[h + 2 + q] = __builtin_shuffle(t[h + q], t[h + 2 + q], v8l{2, 3, 10, 11, 6, 7, 14, 15});
      }
    for (int c = 0; c < 4; ++c) {  // u[c] (rows 0-3) and u[4 + c] (rows 4-7): members c', c' + 4
      const int j = (c & 1) + (c >> 1) * 2;  // u[0]: 0/4, u[1]: 1/5, u[2]: 2/6, u[3]: 3/7
      const v8d lo = __builtin_shuffle(u[c], u[4 + c], v8l{0, 1, 2, 3, 8, 9, 10, 11});
      const v8d hi = __builtin_shuffle(u[c], u[4 + c], v8l{4, 5, 6, 7, 12, 13, 14, 15});
      std::memcpy(buf + (j0 + j) * kLanes, &lo, sizeof lo);
      std::memcpy(buf + (j0 + j + 4) * kLanes, &hi, sizeof hi);
    }
  }
  for (; j0 < m; ++j0)
    for (int l = 0; l < 8; ++l) buf[j0 * kLanes + l] = rows[l][j0];
}

// Scores 8 ensembles: Kb[j * kLanes + l] = member j of lane l (raw, NaN = missing), Wb
// likewise (kPay), y = the observations; m members, P2 / 2 < m <= P2 (or m <= 8 = P2).
// AVX-512 intrinsics, one __m512d per member slot.
//
// The integral is crps_ensemble_step's, term for term, rearranged for sorted members: with
// c_i = (y < x_i), obs_cdf before member i is c_{i-1} (0 before the first member) and
// member i is the crossing one when c_i and not c_{i-1}.  Each member adds
// (s - prev) (fc_cdf - obs_cdf)^2, s = y at the crossing and x_i otherwise; the crossing's
// second term (x_i - y) (fc_cdf - 1)^2 is formed once after the loop from the member and
// fc_cdf saved at the crossing (the terms are >= 0, +inf or NaN, so adding it last changes
// only the rounding).
template <int P2, bool kPay>
SEGSCORE_V4 void ensemble_fixed(const double* y, const double* Kb, const double* Wb, int64_t m, double* out) {
  constexpr int kMinM = P2 == 8 ? 1 : P2 / 2 + 1;  // m >= kMinM
  const __m512d vinf = _mm512_set1_pd(std::numeric_limits<double>::infinity());
  const __m512d zero = _mm512_setzero_pd();
  const __m512d one = _mm512_set1_pd(1.0);
  __m512d K[P2], W[P2];
  const __m512d yv = _mm512_loadu_pd(y);
  __m512d cnt = zero;
  __mmask8 bad = _mm512_cmp_pd_mask(yv, yv, _CMP_UNORD_Q);  // the result is NaN
  // Load; NaN members become +inf with weight 0 and are counted out.
  unroll<P2>([&](auto J) SEGSCORE_V4_LAMBDA {
    constexpr int j = decltype(J)::value;
    if (j < kMinM || j < m) {
      const __m512d k = _mm512_loadu_pd(Kb + j * kLanes);
      const __mmask8 ok = _mm512_cmp_pd_mask(k, k, _CMP_ORD_Q);
      K[j] = _mm512_mask_blend_pd(ok, vinf, k);
      cnt = _mm512_mask_add_pd(cnt, ok, cnt, one);
      if (kPay) {
        const __m512d w = _mm512_loadu_pd(Wb + j * kLanes);
        W[j] = _mm512_maskz_mov_pd(ok, w);
        bad |= ok & _mm512_cmp_pd_mask(w, zero, _CMP_NGE_UQ);  // negative or NaN weight
      }
    } else {
      K[j] = vinf;
      if (kPay) W[j] = zero;
    }
  });
  // Sort: comparators whose upper index is >= m would only meet the +inf padding.
  unroll<NetFor<P2>::net.n>([&](auto C) SEGSCORE_V4_LAMBDA {
    constexpr int a = NetFor<P2>::net.a[decltype(C)::value], b = NetFor<P2>::net.b[decltype(C)::value];
    if (b < kMinM || b < m) {
      const __m512d ka = K[a], kb = K[b];
      if (kPay) {
        const __mmask8 swap = _mm512_cmp_pd_mask(kb, ka, _CMP_LT_OQ);
        const __m512d wa = W[a], wb = W[b];
        W[a] = _mm512_mask_blend_pd(swap, wa, wb);
        W[b] = _mm512_mask_blend_pd(swap, wb, wa);
      }
      K[a] = _mm512_min_pd(kb, ka);  // kb < ka ? kb : ka
      K[b] = _mm512_max_pd(kb, ka);  // kb > ka ? kb : ka (no NaN here: equal when not <)
    }
  });
  __m512d total = cnt;
  if (kPay) {  // summed in sorted order, as properscoring (missing members carry weight 0)
    total = zero;
    unroll<P2>([&](auto J) SEGSCORE_V4_LAMBDA {
      if (J < kMinM || J < m) total = _mm512_add_pd(total, W[J]);
    });
  }
  const __m512d step = _mm512_div_pd(one, total);
  __m512d fc = zero, prev = zero, integral = zero, x_cross = zero, fc_cross = zero;
  __mmask8 passed = 0;  // c_{i-1} = obs_cdf
  // live lanes: those with more than i members (all of them when no member is missing)
  const bool full = _mm512_cmp_pd_mask(cnt, _mm512_set1_pd(double(m)), _CMP_EQ_OQ) == 0xFF;
  auto member = [&](auto J, __mmask8 live) SEGSCORE_V4_LAMBDA {
    const __m512d f = K[J];
    const __m512d dcdf = kPay ? _mm512_div_pd(W[J], total) : step;
    const __mmask8 c = _mm512_cmp_pd_mask(yv, f, _CMP_LT_OQ) & live;
    const __mmask8 cross = c & ~passed;
    const __m512d d = _mm512_mask_sub_pd(fc, passed, fc, one);  // fc_cdf - obs_cdf
    const __m512d s = _mm512_mask_blend_pd(cross, f, yv);
    const __m512d t = _mm512_mul_pd(_mm512_sub_pd(s, prev), d);
    integral = _mm512_mask3_fmadd_pd(t, d, integral, live);  // live ? t * d + integral : integral
    x_cross = _mm512_mask_mov_pd(x_cross, cross, f);
    fc_cross = _mm512_mask_mov_pd(fc_cross, cross, fc);
    fc = _mm512_mask_add_pd(fc, live, fc, dcdf);
    prev = _mm512_mask_mov_pd(prev, live, f);
    passed |= c;
  };
  if (full) {
    unroll<P2>([&](auto J) SEGSCORE_V4_LAMBDA {
      if (J < kMinM || J < m) member(J, 0xFF);
    });
  } else {
    unroll<P2>([&](auto J) SEGSCORE_V4_LAMBDA {
      if (J < kMinM || J < m)
        member(J, _mm512_cmp_pd_mask(_mm512_set1_pd(double(decltype(J)::value)), cnt, _CMP_LT_OQ));
    });
  }
  // the crossing's second term; then crps_ensemble_finish: y beyond every member
  const __m512d e = _mm512_sub_pd(fc_cross, one);
  integral = _mm512_mask_add_pd(integral, passed, integral,
                                _mm512_mul_pd(_mm512_mul_pd(_mm512_sub_pd(x_cross, yv), e), e));
  __m512d r = _mm512_mask_add_pd(integral, ~passed, integral, _mm512_sub_pd(yv, prev));
  // NaN for bad lanes and for a total weight that is not > 0 (this includes lanes without
  // any member)
  bad |= _mm512_cmp_pd_mask(total, zero, _CMP_NGT_UQ);
  r = _mm512_mask_mov_pd(r, bad, _mm512_set1_pd(std::numeric_limits<double>::quiet_NaN()));
  _mm512_storeu_pd(out, r);
}
#pragma GCC diagnostic pop
#endif  // SEGSCORE_HAVE_V4

}  // namespace

void crps_gaussian(const ArrayView& obs, const ArrayView& mu, const ArrayView& sigma, double* out, int threads) {
  const int64_t grain = 1 << 14;
  const Lines<4> L = batch_lines(obs, mu, &sigma, grain);
  const int64_t in[4] = {L.step(0), L.step(1), L.step(2), L.step(3)};
  if (threads <= 0) threads = default_threads();
  dispatch_float(obs.dtype, [&](auto to) {
    using TO = typename decltype(to)::type;
    dispatch_float(mu.dtype, [&](auto tm) {
      using TM = typename decltype(tm)::type;
      dispatch_float(sigma.dtype, [&](auto ts) {
        using TS = typename decltype(ts)::type;
        const TO* po = static_cast<const TO*>(obs.data);
        const TM* pm = static_cast<const TM*>(mu.data);
        const TS* ps = static_cast<const TS*>(sigma.data);
        parallel_lines(
            L, threads, grain_units(L, grain),
            [&](int64_t b, int64_t e, int) {
              double by[kBlock], bm[kBlock], bs[kBlock];
              L.walk(b, e, [&](int64_t, int64_t, int64_t len, const int64_t* off) {
                for (int64_t i0 = 0; i0 < len; i0 += kBlock) {
                  const int cnt = int(std::min<int64_t>(kBlock, len - i0));
                  const TO* a = po + off[0] + i0 * in[0];
                  const TM* m = pm + off[1] + i0 * in[1];
                  const TS* g = ps + off[2] + i0 * in[2];
                  for (int i = 0; i < cnt; ++i) {
                    by[i] = double(a[i * in[0]]);
                    bm[i] = double(m[i * in[1]]);
                    bs[i] = double(g[i * in[2]]);
                  }
                  gaussian_block(by, bm, bs, out + off[3] + i0, cnt);
                }
              });
            });
      });
    });
  });
}

void crps_ensemble(const ArrayView& obs, const ArrayView& members, const ArrayView* weights, double* out,
                   int threads) {
  const int64_t m = members.shape[members.ndim - 1];
  const int64_t ms = members.strides[members.ndim - 1];
  const int64_t ws = weights ? weights->strides[weights->ndim - 1] : 0;
  const int64_t grain_elements = std::max<int64_t>(1, (int64_t(1) << 16) / std::max<int64_t>(m, 1));
  const Lines<4> L = batch_lines(obs, members, weights, grain_elements);
  const int64_t in[4] = {L.step(0), L.step(1), L.step(2), L.step(3)};
  const int64_t grain = grain_units(L, grain_elements);
  if (threads <= 0) threads = default_threads();
  const DType wdt = weights ? weights->dtype : DType::F64;
  dispatch_float(obs.dtype, [&](auto to) {
    using TO = typename decltype(to)::type;
    dispatch_float(members.dtype, [&](auto tm) {
      using TM = typename decltype(tm)::type;
      dispatch_float(wdt, [&](auto tw) {
        using TW = typename decltype(tw)::type;
        const TO* po = static_cast<const TO*>(obs.data);
        const TM* pm = static_cast<const TM*>(members.data);
        const TW* pw = weights ? static_cast<const TW*>(weights->data) : nullptr;
        if (m > kMaxLaneMembers) {
          parallel_lines(
              L, threads, grain,
              [&](int64_t b, int64_t e, int) {
                std::vector<double> scratch(size_t(m) * (pw ? 4 : 2));
                L.walk(b, e, [&](int64_t, int64_t, int64_t len, const int64_t* off) {
                  for (int64_t i = 0; i < len; ++i) {
                    const TW* wrow = pw ? pw + off[2] + i * in[2] : nullptr;
                    out[off[3] + i] = crps_ensemble(double(po[off[0] + i * in[0]]), pm + off[1] + i * in[1], ms,
                                                    wrow, ws, m, scratch.data());
                  }
                });
              });
          return;
        }
#ifdef SEGSCORE_HAVE_V4
        if (m <= kMaxFixedMembers && fixed_kernels_enabled()) {
          const bool direct_m = std::is_same<TM, double>::value && ms == 1;
          const bool direct_w = std::is_same<TW, double>::value && ws == 1;
          // prefetch distance: kAheadBlocks blocks of kLanes rows along the last batch dim
          const int64_t ahead_m = kAheadBlocks * kLanes * in[1] * int64_t(sizeof(double));
          const int64_t ahead_w = kAheadBlocks * kLanes * in[2] * int64_t(sizeof(double));
          parallel_lines(
              L, threads, grain,
              [&](int64_t b, int64_t e, int) {
                std::vector<double> K(size_t(m) * kLanes), W(pw ? size_t(m) * kLanes : 0);
                const double* rows[kLanes];
                const double* wrows[kLanes];
                double y[kLanes], res[kLanes];
                int64_t dest[kLanes];
                int fill = 0;
                auto flush = [&]() {
                  for (int l = fill; l < kLanes; ++l) {  // idle lanes: any ensemble, result dropped
                    y[l] = 0.0;
                    rows[l] = rows[0];
                    wrows[l] = wrows[0];
                  }
                  if (direct_m) gather_rows_f64(rows, m, K.data(), ahead_m);
                  if (pw && direct_w) gather_rows_f64(wrows, m, W.data(), ahead_w);
                  const double* Wd = pw ? W.data() : nullptr;
                  if (m <= 8)
                    pw ? ensemble_fixed<8, true>(y, K.data(), Wd, m, res) : ensemble_fixed<8, false>(y, K.data(), Wd, m, res);
                  else if (m <= 16)
                    pw ? ensemble_fixed<16, true>(y, K.data(), Wd, m, res) : ensemble_fixed<16, false>(y, K.data(), Wd, m, res);
                  else if (m <= 32)
                    pw ? ensemble_fixed<32, true>(y, K.data(), Wd, m, res) : ensemble_fixed<32, false>(y, K.data(), Wd, m, res);
                  else
                    pw ? ensemble_fixed<64, true>(y, K.data(), Wd, m, res) : ensemble_fixed<64, false>(y, K.data(), Wd, m, res);
                  for (int l = 0; l < fill; ++l) out[dest[l]] = res[l];
                  fill = 0;
                };
                L.walk(b, e, [&](int64_t, int64_t, int64_t len, const int64_t* off) {
                  for (int64_t i = 0; i < len; ++i) {
                    const int l = fill;
                    const TM* row = pm + off[1] + i * in[1];
                    y[l] = double(po[off[0] + i * in[0]]);
                    if (direct_m)
                      rows[l] = reinterpret_cast<const double*>(row);
                    else
                      for (int64_t j = 0; j < m; ++j) K[j * kLanes + l] = double(row[j * ms]);
                    if (pw) {
                      const TW* wrow = pw + off[2] + i * in[2];
                      if (direct_w)
                        wrows[l] = reinterpret_cast<const double*>(wrow);
                      else
                        for (int64_t j = 0; j < m; ++j) W[j * kLanes + l] = double(wrow[j * ws]);
                    }
                    dest[l] = off[3] + i;
                    if (++fill == kLanes) flush();
                  }
                });
                if (fill) flush();
              });
          return;
        }
#endif
        const auto net = sorting_network(m);
        parallel_lines(
            L, threads, grain,
            [&](int64_t b, int64_t e, int) {
              std::vector<double> K(size_t(m) * kLanes), W(pw ? size_t(m) * kLanes : 0);
              double y[kLanes], res[kLanes];
              double n[kLanes];
              char bad[kLanes];
              int fill = 0;
              int64_t dest[kLanes];
              const double inf = std::numeric_limits<double>::infinity();
              auto flush = [&]() {
                for (int l = fill; l < kLanes; ++l) {  // idle lanes: a harmless dummy ensemble
                  y[l] = 0.0;
                  n[l] = 1;
                  bad[l] = 1;
                  for (int64_t i = 0; i < m; ++i) {
                    K[i * kLanes + l] = inf;
                    if (pw) W[i * kLanes + l] = 1.0;
                  }
                  K[l] = 0.0;
                }
                bool full = true;
                for (int l = 0; l < kLanes; ++l) full &= n[l] == double(m);
                const int64_t nn = int64_t(net.size());
                if (pw && full)
                  ensemble_lanes<true, true>(y, K.data(), W.data(), n, net.data(), nn, m, bad, res);
                else if (pw)
                  ensemble_lanes<true, false>(y, K.data(), W.data(), n, net.data(), nn, m, bad, res);
                else if (full)
                  ensemble_lanes<false, true>(y, K.data(), nullptr, n, net.data(), nn, m, bad, res);
                else
                  ensemble_lanes<false, false>(y, K.data(), nullptr, n, net.data(), nn, m, bad, res);
                for (int l = 0; l < fill; ++l) out[dest[l]] = res[l];
                fill = 0;
              };
              L.walk(b, e, [&](int64_t, int64_t, int64_t len, const int64_t* off) {
                for (int64_t i = 0; i < len; ++i) {
                  const int l = fill;
                  const TM* row = pm + off[1] + i * in[1];
                  const TW* wrow = pw ? pw + off[2] + i * in[2] : nullptr;
                  y[l] = double(po[off[0] + i * in[0]]);
                  int64_t cnt = 0;
                  bool bw = false;
                  for (int64_t j = 0; j < m; ++j) {
                    const double v = double(row[j * ms]);
                    const bool ok = v == v;
                    K[j * kLanes + l] = ok ? v : inf;
                    cnt += ok;
                    if (pw) {
                      const double wj = double(wrow[j * ws]);
                      W[j * kLanes + l] = ok ? wj : 0.0;
                      bw |= ok && !(wj >= 0.0);
                    }
                  }
                  n[l] = double(cnt);
                  bad[l] = char(bw || cnt == 0 || !(y[l] == y[l]));
                  if (cnt == 0) n[l] = 1;  // keep the lane finite; its result is NaN anyway
                  dest[l] = off[3] + i;
                  if (++fill == kLanes) flush();
                }
              });
              if (fill) flush();
            });
      });
    });
  });
}

}  // namespace segscore
