// segscore/gpu_components_kernels.h - CUDA kernels of connected-component labelling and of
// the (pred id, ref id) overlap table.
//
// Builds on gpu_kernels.h (thread_index, the int64 atomics, load_label, the exclusive
// scan).  Like every segscore kernel these are grid-stride loops with integer atomics
// only: no shared memory, no __syncthreads, any launch shape is correct.
//
// Labelling (voxel union-find, Playne & Hawick 2018 / Allegretti et al. 2020 style):
//   parent[i] is the C-raster index i of a voxel of the (Z, Y, X) view (2-D: Z = 1; F-raster
//   numbering: the axis-reversed view), -1 for background.  k_cc_merge joins every
//   foreground voxel with its earlier neighbours (segscore/components.h) by atomicMin on
//   the larger root, so parent[i] <= i always and a component's root is its smallest
//   index, whatever the order the threads run in.  k_cc_flatten points every voxel at its
//   root; k_cc_roots marks the roots kept by min_size, an exclusive scan ranks them, and
//   k_cc_write writes rank + 1: the ids 1..n by first voxel in raster order, as the CPU's.
//   The result is deterministic; the emulation checks the algorithm, not races.
//
// Overlap table: k_ovl_scan counts the voxels where both ids are nonzero and the largest
// ids (for the host to size the tables), k_ovl_count adds each run of one (p, r) pair
// along a segment of C-order voxels to the per-id counts and, with both nonzero, to an
// open-addressing hash table of (p << 32 | r) keys (atomicCAS to claim a slot).  Counts are
// integer sums, so the table's contents do not depend on scheduling; the host sorts the
// occupied slots.
//
// Layouts (mirrored in python/segscore/gpu/plan.py):
//   CCG_* int64: Z, Y, X of the view, its input strides, its output strides (elements);
//   OG_*  int64: nd, shape (8), pred strides (8), ref strides (8) in C axis order;
//   ovl info: OI_* int64 (zeroed by the caller).
#pragma once
#include "segscore/common.h"
#include "segscore/components.h"
#include "segscore/gpu_kernels.h"

namespace segscore {
namespace gpu {

enum CcGeo : int { CCG_SHAPE = 0, CCG_ISTR = 3, CCG_OSTR = 6, CCG_W = 9 };
enum OvlGeo : int { OG_ND = 0, OG_SHAPE = 1, OG_PSTR = 9, OG_RSTR = 17, OG_W = 25 };
enum OvlInfo : int { OI_BOTH = 0, OI_PMAX, OI_RMAX, OI_NEG, OI_HUGE, OI_W };
constexpr uint64_t kOvlEmpty = 0xFFFFFFFFFFFFFFFFULL;

// Whether label code `code` is a signed type (a negative value is a negative label).
SEGSCORE_HD SEGSCORE_INLINE bool label_code_signed(int code) {
  return code == LC_I8 || code == LC_I16 || code == LC_I32 || code == LC_I64;
}

SEGSCORE_HD SEGSCORE_INLINE uint64_t ovl_hash(uint64_t k) {  // murmur3 finaliser
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ULL;
  k ^= k >> 33;
  return k;
}

}  // namespace gpu
}  // namespace segscore

#if defined(__CUDACC__) || defined(__CUDACC_RTC__) || defined(SEGSCORE_CUDA_EMULATION)

namespace segscore {
namespace gpu {

// Root of x: follows parents (reads only; values only ever decrease, so a stale read is
// still an ancestor).
SEGSCORE_DEVICE int64_t cc_root(const int64_t* parent, int64_t x) {
  const volatile int64_t* p = parent;
  int64_t q = p[x];
  while (q != x) {
    x = q;
    q = p[x];
  }
  return x;
}

// Join the sets of a and b: the larger root is linked under the smaller with atomicMin;
// when that root was linked by another thread meanwhile, retry from its new parent.
SEGSCORE_DEVICE void cc_union(int64_t* parent, int64_t a, int64_t b) {
  for (;;) {
    a = cc_root(parent, a);
    b = cc_root(parent, b);
    if (a == b) return;
    if (a < b) {
      const int64_t t = a;
      a = b;
      b = t;
    }
    const int64_t old = int64_t(atomicMin(reinterpret_cast<long long*>(parent + a), static_cast<long long>(b)));
    if (old == a) return;
    a = old;
  }
}

SEGSCORE_DEVICE int64_t cc_offset(const int64_t* geo, int base, int64_t z, int64_t y, int64_t x) {
  return z * geo[base] + y * geo[base + 1] + x * geo[base + 2];
}

// parent[i] = i for foreground voxels, -1 for background; flags[0] = 1 on a negative value.
SEGSCORE_KERNEL void k_cc_init(const void* in, int code, const int64_t* geo, int64_t* parent, int64_t* flags) {
  const int64_t Y = geo[CCG_SHAPE + 1], X = geo[CCG_SHAPE + 2];
  const int64_t N = geo[CCG_SHAPE] * Y * X;
  const bool sgn = label_code_signed(code);
  for (int64_t i = thread_index(); i < N; i += thread_count()) {
    const int64_t x = i % X, y = (i / X) % Y, z = i / (X * Y);
    const int64_t v = load_label(in, code, cc_offset(geo, CCG_ISTR, z, y, x));
    if (sgn && v < 0) atomic_max(flags, 1);
    parent[i] = v != 0 ? i : -1;
  }
}

// Every foreground voxel joins its earlier neighbours under `conn` (6, 18, 26); with
// binary == 0 only neighbours of the same value.
SEGSCORE_KERNEL void k_cc_merge(const void* in, int code, const int64_t* geo, int binary, int conn, int64_t* parent) {
  const int64_t Z = geo[CCG_SHAPE], Y = geo[CCG_SHAPE + 1], X = geo[CCG_SHAPE + 2];
  const int64_t N = Z * Y * X;
  for (int64_t i = thread_index(); i < N; i += thread_count()) {
    if (parent[i] < 0) continue;  // background (never changes)
    const int64_t x = i % X, y = (i / X) % Y, z = i / (X * Y);
    const int64_t v = binary ? 0 : load_label(in, code, cc_offset(geo, CCG_ISTR, z, y, x));
    for (int dz = -1; dz <= 0; ++dz) {
      for (int dy = -1; dy <= 1; ++dy) {
        if (dz == 0 && dy > 0) break;
        for (int dx = -1; dx <= 1; ++dx) {
          if (dz == 0 && dy == 0 && dx >= 0) break;  // only earlier voxels
          if (!cc_is_neighbour(conn, dz, dy, dx)) continue;
          const int64_t zz = z + dz, yy = y + dy, xx = x + dx;
          if (zz < 0 || yy < 0 || yy >= Y || xx < 0 || xx >= X) continue;
          const int64_t j = (zz * Y + yy) * X + xx;
          if (parent[j] < 0) continue;
          if (!binary && load_label(in, code, cc_offset(geo, CCG_ISTR, zz, yy, xx)) != v) continue;
          cc_union(parent, i, j);
        }
      }
    }
  }
}

// Every voxel points at its root.
SEGSCORE_KERNEL void k_cc_flatten(int64_t* parent, int64_t N) {
  for (int64_t i = thread_index(); i < N; i += thread_count())
    if (parent[i] >= 0) parent[i] = cc_root(parent, i);
}

// size[root] += voxels of its component (segments of `seg` voxels; one atomic per run of
// one root).  `size` zeroed by the caller.
SEGSCORE_KERNEL void k_cc_sizes(const int64_t* parent, int64_t N, int64_t seg, int64_t* size) {
  const int64_t nseg = (N + seg - 1) / seg;
  for (int64_t s = thread_index(); s < nseg; s += thread_count()) {
    const int64_t e = (s + 1) * seg < N ? (s + 1) * seg : N;
    int64_t cur = -1, run = 0;
    for (int64_t i = s * seg; i < e; ++i) {
      const int64_t r = parent[i];
      if (r != cur) {
        if (cur >= 0) atomic_add(size + cur, run);
        cur = r;
        run = 0;
      }
      ++run;
    }
    if (cur >= 0) atomic_add(size + cur, run);
  }
}

// flag[i] = 1 for a root kept by min_size (size may be null when min_size <= 1).
SEGSCORE_KERNEL void k_cc_roots(const int64_t* parent, const int64_t* size, int64_t min_size, int64_t N,
                                int64_t* flag) {
  for (int64_t i = thread_index(); i < N; i += thread_count())
    flag[i] = (parent[i] == i && (min_size <= 1 || size[i] >= min_size)) ? 1 : 0;
}

// out = rank of the voxel's root among the kept roots + 1 (0: background or dropped);
// int32 or (out64) int64, at the view's output strides.
SEGSCORE_KERNEL void k_cc_write(const int64_t* parent, const int64_t* flag, const int64_t* pos, const int64_t* geo,
                                void* out, int out64) {
  const int64_t Y = geo[CCG_SHAPE + 1], X = geo[CCG_SHAPE + 2];
  const int64_t N = geo[CCG_SHAPE] * Y * X;
  for (int64_t i = thread_index(); i < N; i += thread_count()) {
    const int64_t r = parent[i];
    const int64_t id = (r >= 0 && flag[r]) ? pos[r] + 1 : 0;
    const int64_t x = i % X, y = (i / X) % Y, z = i / (X * Y);
    const int64_t o = cc_offset(geo, CCG_OSTR, z, y, x);
    if (out64)
      static_cast<int64_t*>(out)[o] = id;
    else
      static_cast<int32_t*>(out)[o] = int32_t(id);
  }
}

// ---- overlap table -------------------------------------------------------------------

// Element offsets of C-order voxel i in pred and ref.
SEGSCORE_DEVICE void ovl_offsets(const int64_t* geo, int64_t i, int64_t* po, int64_t* ro) {
  const int nd = int(geo[OG_ND]);
  int64_t a = 0, b = 0;
  for (int d = nd - 1; d >= 0; --d) {
    const int64_t n = geo[OG_SHAPE + d];
    const int64_t c = i % n;
    i /= n;
    a += c * geo[OG_PSTR + d];
    b += c * geo[OG_RSTR + d];
  }
  *po = a;
  *ro = b;
}

// One id: a negative value of a signed map, a value >= 2^63 of a uint64 map (read negative).
SEGSCORE_DEVICE bool ovl_check(int64_t v, int code, int64_t* info) {
  if (v >= 0) return true;
  atomic_max(info + (label_code_signed(code) ? OI_NEG : OI_HUGE), 1);
  return false;
}

// info (OI_W int64, zeroed): voxels with both ids nonzero, the largest ids, flags.
SEGSCORE_KERNEL void k_ovl_scan(const void* pred, int pcode, const void* ref, int rcode, const int64_t* geo, int64_t N,
                                int64_t seg, int64_t* info) {
  const int64_t nseg = (N + seg - 1) / seg;
  for (int64_t s = thread_index(); s < nseg; s += thread_count()) {
    const int64_t e = (s + 1) * seg < N ? (s + 1) * seg : N;
    int64_t both = 0, pm = 0, rm = 0;
    for (int64_t i = s * seg; i < e; ++i) {
      int64_t po, ro;
      ovl_offsets(geo, i, &po, &ro);
      const int64_t p = load_label(pred, pcode, po), r = load_label(ref, rcode, ro);
      const bool pok = ovl_check(p, pcode, info), rok = ovl_check(r, rcode, info);
      if (pok && p > pm) pm = p;
      if (rok && r > rm) rm = r;
      if (pok && rok && p > 0 && r > 0) ++both;
    }
    if (both) atomic_add(info + OI_BOTH, both);
    atomic_max(info + OI_PMAX, pm);
    atomic_max(info + OI_RMAX, rm);
  }
}

SEGSCORE_KERNEL void k_ovl_init(uint64_t* keys, int64_t cap) {
  for (int64_t i = thread_index(); i < cap; i += thread_count()) keys[i] = kOvlEmpty;
}

SEGSCORE_DEVICE void ovl_flush(int64_t p, int64_t r, int64_t len, int64_t* pc, int64_t* rc, uint64_t* keys,
                               int64_t* vals, int64_t cap) {
  if (len == 0) return;
  if (p > 0) atomic_add(pc + p, len);
  if (r > 0) atomic_add(rc + r, len);
  if (p > 0 && r > 0) {
    const uint64_t key = (uint64_t(p) << 32) | uint64_t(r);
    uint64_t slot = ovl_hash(key) & uint64_t(cap - 1);
    for (;;) {
      const unsigned long long prev = atomicCAS(reinterpret_cast<unsigned long long*>(keys + slot),
                                                static_cast<unsigned long long>(kOvlEmpty),
                                                static_cast<unsigned long long>(key));
      if (prev == kOvlEmpty || prev == key) {
        atomic_add(vals + slot, len);
        return;
      }
      slot = (slot + 1) & uint64_t(cap - 1);
    }
  }
}

// Per-id counts pc (pmax + 1), rc (rmax + 1) and the pair table keys / vals (cap, a power
// of two above the number of pairs; keys set to kOvlEmpty, pc / rc / vals zeroed).  Ids
// were checked by k_ovl_scan (the caller refuses negative or too large ones first).
SEGSCORE_KERNEL void k_ovl_count(const void* pred, int pcode, const void* ref, int rcode, const int64_t* geo,
                                 int64_t N, int64_t seg, int64_t* pc, int64_t* rc, uint64_t* keys, int64_t* vals,
                                 int64_t cap) {
  const int64_t nseg = (N + seg - 1) / seg;
  for (int64_t s = thread_index(); s < nseg; s += thread_count()) {
    const int64_t e = (s + 1) * seg < N ? (s + 1) * seg : N;
    int64_t cp = 0, cr = 0, len = 0;
    for (int64_t i = s * seg; i < e; ++i) {
      int64_t po, ro;
      ovl_offsets(geo, i, &po, &ro);
      const int64_t p = load_label(pred, pcode, po), r = load_label(ref, rcode, ro);
      if (p != cp || r != cr) {
        ovl_flush(cp, cr, len, pc, rc, keys, vals, cap);
        cp = p;
        cr = r;
        len = 0;
      }
      ++len;
    }
    ovl_flush(cp, cr, len, pc, rc, keys, vals, cap);
  }
}

}  // namespace gpu
}  // namespace segscore

#endif
