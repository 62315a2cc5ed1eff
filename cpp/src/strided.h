// The one strided n-d walker of the CPU drivers: the lines of an index grid in logical
// C order, with the element offsets of K arrays over that grid kept in step.
//
// A grid is a list of array axes, slowest first; its last axis is the line axis.  Lines
// are cut into segments of at most `seg` elements, and a unit is one segment, numbered
//     unit = line * nseg + segment,   line = C-order index over the grid's other axes,
// so that visiting units in increasing order visits the elements in the grid's C order,
// whatever the arrays' strides.  Work is split over threads by unit ranges (whole lines,
// or segments of long lines); a driver whose float sums must not depend on the layout
// reduces per fixed unit range and adds the ranges in order.
#pragma once
#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <utility>

#include "array_view.h"
#include "thread_pool.h"

namespace segscore {

template <int K>
struct Lines {
  int nd = 0;                          // grid axes (0: one element)
  int64_t shape[kMaxDim] = {};         // grid shape, slowest first; shape[nd - 1] = n
  int64_t stride[K][kMaxDim] = {};     // element strides of each array along the grid axes
  int64_t n = 1;                       // line length
  int64_t lines = 1;                   // number of lines
  int64_t seg = 1, nseg = 1;           // segment length, segments per line

  int64_t units() const { return lines * nseg; }
  // Element stride of array k along the lines.
  int64_t step(int k) const { return nd > 0 ? stride[k][nd - 1] : 0; }

  // Calls f(unit, pos, len, off) for the units [ub, ue) in increasing order: the unit holds
  // elements pos .. pos + len - 1 of its line, and off[k] is the element offset of element
  // `pos` in array k (the next ones follow at step(k)).  Offsets are carried from line to
  // line (one division per call, not per line).
  template <typename F>
  void walk(int64_t ub, int64_t ue, F&& f) const {
    if (ub >= ue) return;
    const int last = nd - 1;
    int64_t idx[kMaxDim] = {};
    int64_t base[K] = {};  // offsets of element 0 of the current line
    int64_t s = ub % nseg;
    int64_t r = ub / nseg;
    for (int d = last - 1; d >= 0; --d) {
      idx[d] = r % shape[d];
      r /= shape[d];
      for (int k = 0; k < K; ++k) base[k] += idx[d] * stride[k][d];
    }
    int64_t off[K];
    for (int64_t u = ub;;) {
      const int64_t pos = s * seg;
      for (int k = 0; k < K; ++k) off[k] = base[k] + pos * step(k);
      f(u, pos, std::min(seg, n - pos), static_cast<const int64_t*>(off));
      if (++u >= ue) return;
      if (++s < nseg) continue;
      s = 0;  // next line: increment the index over the other axes, carrying up
      for (int d = last - 1; d >= 0; --d) {
        for (int k = 0; k < K; ++k) base[k] += stride[k][d];
        if (++idx[d] < shape[d]) break;
        for (int k = 0; k < K; ++k) base[k] -= idx[d] * stride[k][d];
        idx[d] = 0;
      }
    }
  }
};

// The grid `axes` (na axes of arrays of shape `shape`, slowest first, the line axis last)
// with the element strides strides[k][axis] of K arrays; lines cut into segments of at most
// max_seg elements (0: whole lines).  A grid with an empty axis has no unit.
template <int K>
Lines<K> make_lines(int na, const int* axes, const int64_t* shape, const int64_t* const* strides,
                    int64_t max_seg = 0) {
  if (na < 0 || na > kMaxDim) throw std::invalid_argument("segscore: at most 8 dimensions are supported");
  Lines<K> g;
  g.nd = na;
  g.lines = 1;
  for (int i = 0; i < na; ++i) {
    g.shape[i] = shape[axes[i]];
    for (int k = 0; k < K; ++k) g.stride[k][i] = strides[k][axes[i]];
    if (i < na - 1) g.lines *= g.shape[i];
  }
  g.n = na > 0 ? g.shape[na - 1] : 1;
  g.seg = std::max<int64_t>(1, max_seg > 0 ? std::min(g.n, max_seg) : g.n);
  g.nseg = (g.n + g.seg - 1) / g.seg;
  if (g.n == 0 || g.lines == 0) g.lines = g.nseg = 0;
  return g;
}

// Axes 0 .. nd-1 in C order, without `skip` (-1: none) and `last`, then `last` (-1: none):
// the grid of lines along `last`.  Returns the number of axes written to `axes`.
inline int c_order_axes(int nd, int last, int skip, int* axes) {
  int na = 0;
  for (int d = 0; d < nd; ++d)
    if (d != last && d != skip) axes[na++] = d;
  if (last >= 0) axes[na++] = last;
  return na;
}

// Copies the n-d box extent[0..nd) from src (element strides sstr) to dst (element strides
// dstr), reading src in its memory order (axes by decreasing |stride|; the two innermost
// as a tile of plain loops, the others walked as lines): the transposition of a
// Fortran-ordered tile into a C-ordered buffer touches each cache line of src once.
// Within the tile the innermost loop runs along the axis with the smaller |dst stride|:
// writes in order, and reads of many cache lines in flight at once.
template <typename T>
void copy_strided(int nd, const int64_t* extent, const T* src, const int64_t* sstr, T* dst, const int64_t* dstr) {
  if (nd < 1) {
    *dst = *src;
    return;
  }
  for (int d = 0; d < nd; ++d)
    if (extent[d] == 0) return;
  auto mag = [](int64_t v) { return v < 0 ? -v : v; };
  int ax[kMaxDim];
  for (int d = 0; d < nd; ++d) ax[d] = d;
  std::sort(ax, ax + nd, [&](int a, int b) { return mag(sstr[a]) > mag(sstr[b]) || (mag(sstr[a]) == mag(sstr[b]) && a < b); });
  if (nd == 1) {
    for (int64_t i = 0; i < extent[0]; ++i) dst[i * dstr[0]] = src[i * sstr[0]];
    return;
  }
  int in = ax[nd - 1], out = ax[nd - 2];  // the tile: `out` loop around the `in` loop
  if (mag(dstr[out]) < mag(dstr[in])) std::swap(in, out);
  const int64_t ni = extent[in], si = sstr[in], di = dstr[in];
  const int64_t no = extent[out], so = sstr[out], dout = dstr[out];
  const int64_t* strides[2] = {sstr, dstr};
  const Lines<2> g = make_lines<2>(nd - 2, ax, extent, strides);  // the other axes (none: one unit)
  g.walk(0, g.units(), [&](int64_t, int64_t, int64_t len, const int64_t* off) {
    for (int64_t j = 0; j < len; ++j)
      for (int64_t o = 0; o < no; ++o) {
        const T* s = src + off[0] + j * g.step(0) + o * so;
        T* t = dst + off[1] + j * g.step(1) + o * dout;
        for (int64_t i = 0; i < ni; ++i) t[i * di] = s[i * si];
      }
  });
}

// Splits the units of `g` over the thread pool by contiguous ranges of at least `grain`
// units (deterministic in the unit count, never in the scheduling); body(ub, ue, worker)
// typically sets up its workspace and calls g.walk(ub, ue, ...).
template <int K, typename Body>
void parallel_lines(const Lines<K>& g, int threads, int64_t grain, Body&& body) {
  if (g.units() == 0) return;
  parallel_for(g.units(), threads, std::forward<Body>(body), std::max<int64_t>(1, grain));
}

}  // namespace segscore
