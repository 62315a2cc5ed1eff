// segscore/gpu_kernels.h - the CUDA kernels, written once.
//
// Compiled by nvcc into segscore._cuda (cuda/driver.cu), by NVRTC at run
// time for the CuPy path (python/segscore/gpu/source.py inlines this file
// and its includes) and, in the test-suite, by g++ with a sequential CUDA
// emulation (SEGSCORE_CUDA_EMULATION, tests/gpu_emulation/) so that the
// launch sequences can be checked against the CPU driver without a GPU.
//
// Every kernel is a grid-stride loop over independent work items (lines of
// an EDT pass, rows of a crop, segments of a counting pass): any launch
// shape is correct, no kernel needs shared memory or __syncthreads, and the
// only cross-thread writes are integer atomics (counts, boxes), so results
// do not depend on scheduling.  The math lives in edt.h and surface.h;
// the calibration and CRPS kernels are in gpu_score_kernels.h.
//
// Layouts shared with the Python planner (python/segscore/gpu/plan.py):
//  * field table (FD_*): one row of FD_W int64 per EDT field (a strided box);
//    spacing table: 8 doubles per field; line prefix: per pass, nfields+1
//    int64 (prefix[f] = lines of fields before f along that pass's axis);
//  * region table (RT_*): one row of RT_W int64 per crop (padded C-order
//    box); row prefix: nreg+1 int64 (rows = lines along the last axis);
//  * counting pass output (stats_*): hist K*K, pred boxes K*2nd, ref boxes
//    K*2nd, min/max (4), overflow flag (1), all int64.
#pragma once
#include "segscore/common.h"
#include "segscore/edt.h"
#include "segscore/surface.h"
#include "segscore/surfel_tables.h"

namespace segscore {
namespace gpu {

// ---- layouts (mirrored in python/segscore/gpu/plan.py) ----------------------
enum FieldLayout : int {
  FD_ND = 0,      // number of axes (1..8)
  FD_SHAPE = 1,   // 8 extents
  FD_ISTR = 9,    // 8 element strides of the input (first pass)
  FD_OSTR = 17,   // 8 element strides of the value buffers (all passes)
  FD_AXES = 25,   // 8: axis processed by pass k
  FD_IOFF = 33,   // element offset of the field in the input
  FD_OOFF = 34,   // element offset of the field in the value buffers
  FD_W = 35
};
enum RegionLayout : int {
  RT_DIM = 0,   // 3 padded extents (box + 2), unused axes 1
  RT_LO = 3,    // 3 box origins in the label maps
  RT_OFF = 6,   // element offset of the crop in the crop buffers
  RT_LAB0 = 7,  // labels of the region in pred: labels[RT_LAB0 .. RT_LAB1)
  RT_LAB1 = 8,
  RT_RLAB0 = 9,  // labels of the region in ref: labels[RT_RLAB0 .. RT_RLAB1) (the same range
  RT_RLAB1 = 10, // for a label region; per-lesion pairs have their own ids in each map)
  RT_W = 11
};
enum LabelCode : int { LC_U8 = 0, LC_I8, LC_U16, LC_I16, LC_U32, LC_I32, LC_U64, LC_I64 };
constexpr int kMaxFieldDims = 8;
constexpr int64_t kI64Max = 9223372036854775807LL;
constexpr int64_t kI64Min = -kI64Max - 1;

// Offsets of the counting-pass output (int64 words).
SEGSCORE_HD SEGSCORE_INLINE int64_t stats_pred_boxes(int64_t K) { return K * K; }
SEGSCORE_HD SEGSCORE_INLINE int64_t stats_ref_boxes(int64_t K, int nd) { return K * K + K * 2 * nd; }
SEGSCORE_HD SEGSCORE_INLINE int64_t stats_minmax(int64_t K, int nd) { return K * K + 2 * K * 2 * nd; }
SEGSCORE_HD SEGSCORE_INLINE int64_t stats_size(int64_t K, int nd) { return stats_minmax(K, nd) + 5; }

// ---- plain helpers (usable from host code too) ------------------------------

// Largest f in [0, n) with prefix[f] <= g, for 0 <= g < prefix[n]: the
// segment (field, region) owning global item g; empty segments are skipped.
SEGSCORE_HD SEGSCORE_INLINE int64_t find_segment(const int64_t* prefix, int64_t n, int64_t g) {
  int64_t lo = 0, hi = n;
  while (hi - lo > 1) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (prefix[mid] <= g)
      lo = mid;
    else
      hi = mid;
  }
  return lo;
}

// Element offsets (input and value buffers) of line l along `axis` of field F.
SEGSCORE_HD SEGSCORE_INLINE void field_line(const int64_t* F, int axis, int64_t l, int64_t* in_off,
                                            int64_t* out_off) {
  const int nd = int(F[FD_ND]);
  int64_t io = F[FD_IOFF], oo = F[FD_OOFF];
  for (int d = nd - 1; d >= 0; --d) {
    if (d == axis) continue;
    const int64_t n = F[FD_SHAPE + d];
    const int64_t c = l % n;
    l /= n;
    io += c * F[FD_ISTR + d];
    oo += c * F[FD_OSTR + d];
  }
  *in_off = io;
  *out_off = oo;
}

// Label value i of a map of runtime dtype `code`, as int64 (sign kept).
SEGSCORE_HD SEGSCORE_INLINE int64_t load_label(const void* p, int code, int64_t i) {
  switch (code) {
    case LC_U8: return int64_t(static_cast<const uint8_t*>(p)[i]);
    case LC_I8: return int64_t(static_cast<const int8_t*>(p)[i]);
    case LC_U16: return int64_t(static_cast<const uint16_t*>(p)[i]);
    case LC_I16: return int64_t(static_cast<const int16_t*>(p)[i]);
    case LC_U32: return int64_t(static_cast<const uint32_t*>(p)[i]);
    case LC_I32: return int64_t(static_cast<const int32_t*>(p)[i]);
    case LC_U64: return int64_t(static_cast<const uint64_t*>(p)[i]);
    default: return static_cast<const int64_t*>(p)[i];
  }
}

SEGSCORE_HD SEGSCORE_INLINE bool label_in(int64_t v, const int64_t* labels, int64_t n) {
  for (int64_t k = 0; k < n; ++k)
    if (labels[k] == v) return true;
  return false;
}

// Padded extents, C strides and the row's padded coordinates (all axes but
// the last) of row `l` of region R.  Returns the row length.
SEGSCORE_HD SEGSCORE_INLINE int64_t crop_row(const int64_t* R, int nd, int64_t l, int64_t* dim, int64_t* str,
                                             int64_t* c) {
  int64_t s = 1;
  for (int d = nd - 1; d >= 0; --d) {
    dim[d] = R[RT_DIM + d];
    str[d] = s;
    s *= dim[d];
  }
  for (int d = nd - 2; d >= 0; --d) {
    c[d] = l % dim[d];
    l /= dim[d];
  }
  return dim[nd - 1];
}

}  // namespace gpu
}  // namespace segscore

#if defined(__CUDACC__) || defined(__CUDACC_RTC__) || defined(SEGSCORE_CUDA_EMULATION)

#if defined(SEGSCORE_CUDA_EMULATION)
// The includer provides blockIdx/blockDim/gridDim/threadIdx and the atomics
// (tests/gpu_emulation/cuda_emulation.h).
#define SEGSCORE_KERNEL inline
#define SEGSCORE_DEVICE inline
#else
#define SEGSCORE_KERNEL __global__
#define SEGSCORE_DEVICE __device__ __forceinline__
#endif

namespace segscore {
namespace gpu {

SEGSCORE_DEVICE int64_t thread_index() { return int64_t(blockIdx.x) * int64_t(blockDim.x) + int64_t(threadIdx.x); }
SEGSCORE_DEVICE int64_t thread_count() { return int64_t(gridDim.x) * int64_t(blockDim.x); }

SEGSCORE_DEVICE void atomic_add(int64_t* p, int64_t v) {
  atomicAdd(reinterpret_cast<unsigned long long*>(p), static_cast<unsigned long long>(v));
}
// min/max: a plain read first skips the atomic in the common case (a stale
// read only costs an unnecessary atomic, never a missed update).
SEGSCORE_DEVICE void atomic_min(int64_t* p, int64_t v) {
  if (v < *reinterpret_cast<volatile int64_t*>(p)) atomicMin(reinterpret_cast<long long*>(p), static_cast<long long>(v));
}
SEGSCORE_DEVICE void atomic_max(int64_t* p, int64_t v) {
  if (v > *reinterpret_cast<volatile int64_t*>(p)) atomicMax(reinterpret_cast<long long*>(p), static_cast<long long>(v));
}

// Workspace of one thread: v (nmax+1 int64), z (nmax+2 double), g (2(nmax+2)
// T), each interleaved over the `S` threads of the launch.
SEGSCORE_DEVICE int64_t* ws_v(void* ws, int64_t S, int64_t nmax, int64_t t) {
  (void)nmax;
  return static_cast<int64_t*>(ws) + t;
}
SEGSCORE_DEVICE double* ws_z(void* ws, int64_t S, int64_t nmax, int64_t t) {
  return reinterpret_cast<double*>(static_cast<int64_t*>(ws) + S * (nmax + 1)) + t;
}
template <typename T>
SEGSCORE_DEVICE T* ws_g(void* ws, int64_t S, int64_t nmax, int64_t t) {
  return reinterpret_cast<T*>(static_cast<int64_t*>(ws) + S * (2 * nmax + 3)) + t;
}

// finish: 0 keep squared distances with the Far sentinel (more passes or a
// gather follow), 1 distances, 2 squared distances (+inf where no zero).
template <typename T>
SEGSCORE_DEVICE void finish_line(T* out, int64_t stride, int64_t n, int finish) {
  if (!finish) return;
  for (int64_t i = 0; i < n; ++i) out[i * stride] = edt_finish<T>(out[i * stride], finish == 2);
}

// ---- EDT over a batch of fields ------------------------------------------------

// First pass (binary input: zero = feature) along each field's axis FD_AXES+0.
template <typename In, typename T>
SEGSCORE_KERNEL void k_edt_first(const In* in, T* dst, const int64_t* fd, const double* sp, const int64_t* prefix,
                                 int nfields, int finish) {
  const int64_t total = prefix[nfields];
  for (int64_t g = thread_index(); g < total; g += thread_count()) {
    const int64_t f = find_segment(prefix, nfields, g);
    const int64_t* F = fd + f * FD_W;
    const int axis = int(F[FD_AXES]);
    int64_t io, oo;
    field_line(F, axis, g - prefix[f], &io, &oo);
    const int64_t n = F[FD_SHAPE + axis], os = F[FD_OSTR + axis];
    edt_binary_line<In, T>(in + io, F[FD_ISTR + axis], dst + oo, os, n, sp[f * kMaxFieldDims + axis]);
    finish_line<T>(dst + oo, os, n, finish);
  }
}

// Later pass `pass`: lower envelope of src along axis FD_AXES+pass into dst.
template <typename T>
SEGSCORE_KERNEL void k_edt_parabola(const T* src, T* dst, void* ws, int64_t nmax, const int64_t* fd, const double* sp,
                                    const int64_t* prefix, int nfields, int pass, int finish) {
  const int64_t total = prefix[nfields];
  const int64_t S = thread_count(), t = thread_index();
  int64_t* v = ws_v(ws, S, nmax, t);
  double* z = ws_z(ws, S, nmax, t);
  for (int64_t g = t; g < total; g += S) {
    const int64_t f = find_segment(prefix, nfields, g);
    const int64_t* F = fd + f * FD_W;
    const int axis = int(F[FD_AXES + pass]);
    int64_t io, oo;
    field_line(F, axis, g - prefix[f], &io, &oo);
    const int64_t n = F[FD_SHAPE + axis], os = F[FD_OSTR + axis];
    edt_parabola_line_ws<T, int64_t>(src + oo, os, dst + oo, os, n, sp[f * kMaxFieldDims + axis], v, z, S);
    finish_line<T>(dst + oo, os, n, finish);
  }
}

// Multi-label first pass (labels read with the input strides).
template <typename L, typename T>
SEGSCORE_KERNEL void k_edt_first_ml(const L* lab, T* dst, const int64_t* fd, const double* sp, const int64_t* prefix,
                                    int nfields, int finish) {
  const int64_t total = prefix[nfields];
  for (int64_t g = thread_index(); g < total; g += thread_count()) {
    const int64_t f = find_segment(prefix, nfields, g);
    const int64_t* F = fd + f * FD_W;
    const int axis = int(F[FD_AXES]);
    int64_t io, oo;
    field_line(F, axis, g - prefix[f], &io, &oo);
    const int64_t n = F[FD_SHAPE + axis], os = F[FD_OSTR + axis];
    edt_multilabel_first_line<L, T>(lab + io, F[FD_ISTR + axis], dst + oo, os, n, sp[f * kMaxFieldDims + axis]);
    finish_line<T>(dst + oo, os, n, finish);
  }
}

template <typename L, typename T>
SEGSCORE_KERNEL void k_edt_parabola_ml(const L* lab, const T* src, T* dst, void* ws, int64_t nmax, const int64_t* fd,
                                       const double* sp, const int64_t* prefix, int nfields, int pass, int finish) {
  const int64_t total = prefix[nfields];
  const int64_t S = thread_count(), t = thread_index();
  int64_t* v = ws_v(ws, S, nmax, t);
  double* z = ws_z(ws, S, nmax, t);
  T* gbuf = ws_g<T>(ws, S, nmax, t);
  for (int64_t g = t; g < total; g += S) {
    const int64_t f = find_segment(prefix, nfields, g);
    const int64_t* F = fd + f * FD_W;
    const int axis = int(F[FD_AXES + pass]);
    int64_t io, oo;
    field_line(F, axis, g - prefix[f], &io, &oo);
    const int64_t n = F[FD_SHAPE + axis], os = F[FD_OSTR + axis];
    edt_multilabel_parabola_line_ws<L, T, int64_t>(lab + io, F[FD_ISTR + axis], src + oo, os, dst + oo, os, n,
                                                   sp[f * kMaxFieldDims + axis], v, z, gbuf, S);
    finish_line<T>(dst + oo, os, n, finish);
  }
}

// ---- counting pass: joint histogram, boxes, label range ---------------------------

SEGSCORE_KERNEL void k_stats_init(int64_t* st, int64_t K, int nd) {
  const int64_t nb = stats_pred_boxes(K), mm = stats_minmax(K, nd), end = stats_size(K, nd);
  for (int64_t i = thread_index(); i < end; i += thread_count()) {
    int64_t v = 0;
    if (i >= nb && i < mm) {
      const int64_t j = (i - nb) % (2 * nd);
      v = j < nd ? kI64Max : int64_t(-1);  // lo, hi
    } else if (i >= mm && i < mm + 4) {
      v = ((i - mm) % 2 == 0) ? kI64Max : kI64Min;  // pmin, pmax, rmin, rmax
    }
    st[i] = v;
  }
}

// geo: shape[8], pred strides[8], ref strides[8], original axis[8], with the
// axes ordered so that the last one is the innermost (smallest pred stride).
// Work item = segment of `seg` voxels of one line along the last axis.
SEGSCORE_DEVICE void stats_flush(int64_t* st, int64_t K, int nd, const int64_t* geo, const int64_t* idx, int64_t p,
                                 int64_t r, int64_t k0, int64_t k1, int64_t ignore) {
  if (ignore >= 0 && r == ignore) return;
  int64_t* mm = st + stats_minmax(K, nd);
  if (p < 0 || p >= K || r < 0 || r >= K) {
    mm[4] = 1;  // overflow: the host reruns with a larger K (every writer stores 1)
    return;
  }
  atomic_add(st + p * K + r, k1 - k0 + 1);
  for (int which = 0; which < 2; ++which) {
    const int64_t l = which == 0 ? p : r;
    if (l == 0) continue;
    int64_t* box = st + (which == 0 ? stats_pred_boxes(K) : stats_ref_boxes(K, nd)) + l * 2 * nd;
    for (int d = 0; d < nd; ++d) {
      const int a = int(geo[24 + d]);
      const int64_t lo = d == nd - 1 ? k0 : idx[d];
      const int64_t hi = d == nd - 1 ? k1 : idx[d];
      atomic_min(box + a, lo);
      atomic_max(box + nd + a, hi);
    }
  }
}

SEGSCORE_KERNEL void k_stats(const void* pred, int pcode, const void* ref, int rcode, const int64_t* geo, int nd,
                             int64_t ignore, int64_t K, int64_t seg, int64_t* st) {
  const int64_t n = geo[nd - 1];
  const int64_t nseg = (n + seg - 1) / seg;
  int64_t nlines = 1;
  for (int d = 0; d < nd - 1; ++d) nlines *= geo[d];
  const int64_t items = nlines * nseg;
  const int64_t ps = geo[8 + nd - 1], rs = geo[16 + nd - 1];
  int64_t pmin = kI64Max, pmax = kI64Min, rmin = kI64Max, rmax = kI64Min;
  for (int64_t it = thread_index(); it < items; it += thread_count()) {
    int64_t line = it / nseg;
    const int64_t x0 = (it % nseg) * seg;
    const int64_t x1 = x0 + seg < n ? x0 + seg : n;
    int64_t idx[kMaxFieldDims];
    int64_t po = 0, ro = 0;
    for (int d = nd - 2; d >= 0; --d) {
      idx[d] = line % geo[d];
      line /= geo[d];
      po += idx[d] * geo[8 + d];
      ro += idx[d] * geo[16 + d];
    }
    int64_t cp = 0, cr = 0, start = x0;
    for (int64_t x = x0; x < x1; ++x) {
      const int64_t p = load_label(pred, pcode, po + x * ps);
      const int64_t r = load_label(ref, rcode, ro + x * rs);
      pmin = p < pmin ? p : pmin;
      pmax = p > pmax ? p : pmax;
      rmin = r < rmin ? r : rmin;
      rmax = r > rmax ? r : rmax;
      if (x == x0) {
        cp = p;
        cr = r;
      } else if (p != cp || r != cr) {
        stats_flush(st, K, nd, geo, idx, cp, cr, start, x - 1, ignore);
        cp = p;
        cr = r;
        start = x;
      }
    }
    if (x1 > x0) stats_flush(st, K, nd, geo, idx, cp, cr, start, x1 - 1, ignore);
  }
  int64_t* mm = st + stats_minmax(K, nd);
  if (pmin <= pmax) {
    atomic_min(mm + 0, pmin);
    atomic_max(mm + 1, pmax);
    atomic_min(mm + 2, rmin);
    atomic_max(mm + 3, rmax);
  }
}

// ---- per-label crops -------------------------------------------------------------

// masks[0:V] = pred region mask, masks[V:2V] = ref region mask of every crop
// (padded by one background voxel; ignored voxels are background in both): a pred
// voxel is in the region when its label is in the region's pred labels, a ref voxel
// when its label is in the region's ref labels.
// src_str: pred strides (nd), then ref strides (nd).
SEGSCORE_KERNEL void k_crop_fill(const void* pred, int pcode, const void* ref, int rcode, const int64_t* src_str, int nd,
                                 int64_t ignore, const int64_t* rt, const int64_t* labels, const int64_t* rows,
                                 int nreg, int64_t V, uint8_t* masks) {
  const int64_t total = rows[nreg];
  for (int64_t g = thread_index(); g < total; g += thread_count()) {
    const int64_t r = find_segment(rows, nreg, g);
    const int64_t* R = rt + r * RT_W;
    int64_t dim[3], str[3], c[3];
    const int64_t n = crop_row(R, nd, g - rows[r], dim, str, c);
    const int64_t base = R[RT_OFF] + (g - rows[r]) * n;
    uint8_t* a = masks + base;
    uint8_t* b = masks + V + base;
    bool pad = false;
    int64_t po = 0, ro = 0;
    for (int d = 0; d < nd - 1; ++d) {
      pad |= c[d] == 0 || c[d] == dim[d] - 1;
      po += (R[RT_LO + d] + c[d] - 1) * src_str[d];
      ro += (R[RT_LO + d] + c[d] - 1) * src_str[nd + d];
    }
    a[0] = b[0] = a[n - 1] = b[n - 1] = 0;
    if (pad) {
      for (int64_t x = 1; x < n - 1; ++x) a[x] = b[x] = 0;
      continue;
    }
    const int64_t* lab = labels + R[RT_LAB0];
    const int64_t nlab = R[RT_LAB1] - R[RT_LAB0];
    const int64_t* rlab = labels + R[RT_RLAB0];
    const int64_t nrlab = R[RT_RLAB1] - R[RT_RLAB0];
    const int64_t ps = src_str[nd - 1], rs = src_str[2 * nd - 1], lo = R[RT_LO + nd - 1] - 1;
    for (int64_t x = 1; x < n - 1; ++x) {
      const int64_t p = load_label(pred, pcode, po + (lo + x) * ps);
      const int64_t q = load_label(ref, rcode, ro + (lo + x) * rs);
      const bool ign = ignore >= 0 && q == ignore;
      a[x] = uint8_t(!ign && label_in(p, lab, nlab));
      b[x] = uint8_t(!ign && label_in(q, rlab, nrlab));
    }
  }
}

// Boundary flags (0 = boundary element) of both masks: nb[0:V] pred, nb[V:2V]
// ref; with biou, the face-connected voxel borders follow at nb[2V:4V].
// kind: 0 voxel border with `conn`, 1 corner grid.  cnt[g] / cnt[L+g]: the
// pred / ref boundary elements of row g (L rows in all).
SEGSCORE_KERNEL void k_crop_boundary(const uint8_t* masks, int64_t V, const int64_t* rt, const int64_t* rows, int nreg,
                                     int nd, int kind, int conn, int biou, uint8_t* nb, int64_t* cnt) {
  const int64_t L = rows[nreg];
  for (int64_t g = thread_index(); g < L; g += thread_count()) {
    const int64_t r = find_segment(rows, nreg, g);
    const int64_t* R = rt + r * RT_W;
    int64_t dim[3], str[3], c[3];
    const int64_t n = crop_row(R, nd, g - rows[r], dim, str, c);
    const int64_t off = R[RT_OFF];
    const int64_t row = (g - rows[r]) * n;  // within the crop
    int64_t nbr[26], face[26];
    const int nn = neighbour_offsets(str, nd, conn, nbr);
    const int nf = neighbour_offsets(str, nd, 1, face);
    int64_t counts[2] = {0, 0};
    for (int which = 0; which < 2; ++which) {
      const uint8_t* m = masks + which * V + off;
      uint8_t* out = nb + which * V + off;
      uint8_t* outf = nb + (2 + which) * V + off;
      for (int64_t k = 0; k < n; ++k) {
        const int64_t i = row + k;
        bool is_b;
        if (kind == 1) {
          c[nd - 1] = k;
          is_b = corner_boundary_code(m, i, c, str, nd) >= 0;
        } else {
          is_b = is_border_voxel(m, i, nbr, nn);
        }
        out[i] = uint8_t(!is_b);
        counts[which] += is_b;
        if (biou) outf[i] = uint8_t(!is_border_voxel(m, i, face, nf));
      }
    }
    cnt[g] = counts[0];
    cnt[L + g] = counts[1];
  }
}

// ---- exclusive scan of int64 (three launches, no shared memory) ----------------------
SEGSCORE_KERNEL void k_scan_partial(const int64_t* x, int64_t n, int64_t chunk, int64_t* sums) {
  const int64_t nchunks = (n + chunk - 1) / chunk;
  for (int64_t c = thread_index(); c < nchunks; c += thread_count()) {
    const int64_t e = (c + 1) * chunk < n ? (c + 1) * chunk : n;
    int64_t s = 0;
    for (int64_t i = c * chunk; i < e; ++i) s += x[i];
    sums[c] = s;
  }
}

// One thread: sums[0..nchunks) -> exclusive prefix, sums[nchunks] = total.
SEGSCORE_KERNEL void k_scan_sums(int64_t* sums, int64_t nchunks) {
  if (thread_index() != 0) return;
  int64_t acc = 0;
  for (int64_t c = 0; c < nchunks; ++c) {
    const int64_t s = sums[c];
    sums[c] = acc;
    acc += s;
  }
  sums[nchunks] = acc;
}

// out[i] = sum of x[0..i), out[n] = total.
SEGSCORE_KERNEL void k_scan_apply(const int64_t* x, int64_t n, int64_t chunk, const int64_t* sums, int64_t* out) {
  const int64_t nchunks = (n + chunk - 1) / chunk;
  for (int64_t c = thread_index(); c < nchunks; c += thread_count()) {
    const int64_t e = (c + 1) * chunk < n ? (c + 1) * chunk : n;
    int64_t acc = sums[c];
    for (int64_t i = c * chunk; i < e; ++i) {
      out[i] = acc;
      acc += x[i];
    }
    if (c == nchunks - 1) out[n] = sums[nchunks];
  }
}

// ---- distances at boundary elements ----------------------------------------------------

// F[0:V]: squared distance to the pred boundary, F[V:2V]: to the ref
// boundary, F[2V:4V] (biou): to each mask's own face border.  Pred elements
// (nb[0:V] == 0) get the distance to the ref boundary at d/w[pos[g]...],
// ref elements the distance to the pred boundary at d/w[pos[L+g]...]: the
// raster order of each crop, crops in region order, pred before ref.
// res: [2r] / [2r+1] pred / ref element counts, then [2nreg + 2r] / [+1]
// boundary-IoU intersection / union (res zeroed by the caller).
SEGSCORE_KERNEL void k_crop_gather(const uint8_t* masks, const uint8_t* nb, const double* F, const int64_t* pos,
                                   int64_t V, const int64_t* rt, const int64_t* rows, int nreg, int nd, int kind,
                                   const double* spacing, double* d, double* w, int biou, double width, int strict,
                                   int64_t* res) {
  const int64_t L = rows[nreg];
  for (int64_t g = thread_index(); g < L; g += thread_count()) {
    const int64_t r = find_segment(rows, nreg, g);
    const int64_t* R = rt + r * RT_W;
    int64_t dim[3], str[3], c[3];
    const int64_t n = crop_row(R, nd, g - rows[r], dim, str, c);
    const int64_t off = R[RT_OFF];
    const int64_t row = (g - rows[r]) * n;
    int64_t pa = pos[g], pb = pos[L + g];
    gather_boundary_row(masks + off, nb + off, F + V + off, row, n, str, nd, kind == 1, spacing, d, w, &pa);
    gather_boundary_row(masks + V + off, nb + V + off, F + off, row, n, str, nd, kind == 1, spacing, d, w, &pb);
    if (biou) {
      int64_t inter = 0, uni = 0;
      for (int64_t k = 0; k < n; ++k) {
        const int64_t i = off + row + k;
        bool ba = false, bb = false;
        if (masks[i]) {
          const double t = ss_sqrt(F[2 * V + i]);
          ba = strict ? t < width : t <= width;
        }
        if (masks[V + i]) {
          const double t = ss_sqrt(F[3 * V + i]);
          bb = strict ? t < width : t <= width;
        }
        inter += ba && bb;
        uni += ba || bb;
      }
      if (inter) atomic_add(res + 2 * nreg + 2 * r, inter);
      if (uni) atomic_add(res + 2 * nreg + 2 * r + 1, uni);
    }
  }
}

// res[2r] / res[2r+1]: pred / ref boundary elements of region r.
SEGSCORE_KERNEL void k_region_counts(const int64_t* pos, const int64_t* rows, int nreg, int64_t* res) {
  const int64_t L = rows[nreg];
  for (int64_t r = thread_index(); r < nreg; r += thread_count()) {
    res[2 * r] = pos[rows[r + 1]] - pos[rows[r]];
    res[2 * r + 1] = pos[L + rows[r + 1]] - pos[L + rows[r]];
  }
}

}  // namespace gpu
}  // namespace segscore

#endif  // CUDA, NVRTC or emulation
