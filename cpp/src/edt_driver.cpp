// CPU driver for the separable EDT: axis ordering, line blocking, threads.
// The math lives in segscore/edt.h.
#include "edt_driver.h"

#include <algorithm>
#include <cstdlib>
#include <vector>

#include "segscore/edt.h"
#include "strided.h"

namespace segscore {
namespace {

constexpr int64_t kBlock = 16;  // lines processed together on strided axes

struct Geometry {
  int ndim;
  int64_t shape[kMaxDim];
  int64_t in_str[kMaxDim];
  int64_t out_str[kMaxDim];
  double spacing[kMaxDim];
};

// The lines of a pass along `axis`, blocked along `block` (kBlock adjacent lines form one
// unit; block = axis: single lines), the other axes in C order: units of the strided walker
// over the input (array 0) and the output (array 1).
Lines<2> pass_lines(const Geometry& g, int axis, int block) {
  const int64_t* strides[2] = {g.in_str, g.out_str};
  int axes[kMaxDim];
  const int na = block == axis ? c_order_axes(g.ndim, axis, -1, axes) : c_order_axes(g.ndim, block, axis, axes);
  return make_lines<2>(na, axes, g.shape, strides, block == axis ? 0 : kBlock);
}

// One tile of a parabola pass: nb (<= kBlock) lines of n voxels along the pass axis
// (strides sa_*), adjacent along the blocking axis (strides si_*); base / lbase point at
// the tile's first output / input voxel.  Arguments by value, so that the compiler keeps
// them in registers across the stores to the output.
template <typename L, typename T>
void parabola_tile(T* base, const L* lbase, int64_t nb, int64_t n, int64_t sa_out, int64_t sa_in, int64_t si_out,
                   int64_t si_in, double sp, bool multilabel, bool last, bool squared, T* tile, T* res, L* ltile,
                   T* gbuf, int64_t* v, double* z) {
  nb = std::min(nb, kBlock);  // (a bound the compiler can use: 15 % faster gathers and scatters)
  {
    // A tile whose input is all zero (binary: background; multi-label:
    // label 0) holds zeros after the first pass and keeps them (every
    // voxel is its own root with value 0): skip it.  Reading the input
    // (1 byte per voxel for masks and uint8 label maps) is much cheaper
    // than gathering and scattering the float tile; sparse masks (an
    // organ in a CT volume) skip almost every tile of the later passes.
    bool any = false;
    for (int64_t i = 0; i < n && !any; ++i) {
      const L* row = lbase + i * sa_in;
      for (int64_t b = 0; b < nb; ++b) any |= row[b * si_in] != L(0);
    }
    if (!any) return;  // edt_finish(0) == 0, so the last pass has nothing to do either
  }
  // gather: tile[b*n + i]
  for (int64_t i = 0; i < n; ++i) {
    const T* row = base + i * sa_out;
    for (int64_t b = 0; b < nb; ++b) tile[b * n + i] = row[b * si_out];
  }
  if (multilabel) {
    for (int64_t i = 0; i < n; ++i)
      for (int64_t b = 0; b < nb; ++b) ltile[b * n + i] = lbase[i * sa_in + b * si_in];
  }
  for (int64_t b = 0; b < nb; ++b) {
    if (multilabel)
      edt_multilabel_parabola_line<L, T>(&ltile[b * n], 1, &tile[b * n], &res[b * n], 1, n, sp, v, z, gbuf);
    else
      edt_parabola_line<T>(&tile[b * n], &res[b * n], 1, n, sp, v, z);
  }
  // scatter
  for (int64_t i = 0; i < n; ++i) {
    T* row = base + i * sa_out;
    if (last) {
      for (int64_t b = 0; b < nb; ++b) row[b * si_out] = edt_finish(res[b * n + i], squared);
    } else {
      for (int64_t b = 0; b < nb; ++b) row[b * si_out] = res[b * n + i];
    }
  }
}

// One parabola pass along `axis` for all lines, with lines blocked along the
// innermost output axis `inner` (stride 1 in out) for cache-friendly access.
template <typename L, typename T>
void parabola_pass(const Geometry& g, int axis, int inner, T* out, const L* labels, bool multilabel,
                   bool last, bool squared, int threads) {
  const int64_t n = g.shape[axis];
  const double sp = g.spacing[axis];
  const int64_t sa_out = g.out_str[axis], sa_in = g.in_str[axis];
  const int64_t si_out = g.out_str[inner], si_in = g.in_str[inner];
  const Lines<2> lines = pass_lines(g, axis, inner);  // one unit: kBlock lines adjacent along inner

  parallel_lines(lines, threads, 1, [&](int64_t gb, int64_t ge, int) {
    std::vector<T> tile(size_t(n * kBlock)), res(size_t(n * kBlock)), gbuf(size_t(2 * (n + 2)));
    std::vector<L> ltile(multilabel ? size_t(n * kBlock) : 0);
    std::vector<int64_t> v(size_t(n + 2));
    std::vector<double> z(size_t(n + 3));
    lines.walk(gb, ge, [&](int64_t, int64_t, int64_t nb, const int64_t* off) {
      parabola_tile<L, T>(out + off[1], labels + off[0], nb, n, sa_out, sa_in, si_out, si_in, sp, multilabel, last,
                          squared, tile.data(), res.data(), ltile.data(), gbuf.data(), v.data(), z.data());
    });
  });
}

// The first pass along `axis` when that axis is strided in memory (e.g. the last axis
// of an F-ordered array): kBlock lines, adjacent along `block`, are gathered into a
// contiguous tile, scanned with the same line routine as the contiguous path (same
// arithmetic, so the same bits), and scattered back.
template <typename In, typename T>
void first_pass_blocked(const Geometry& g, int axis, int block, const In* in, T* out, bool multilabel,
                        int threads) {
  const int64_t n = g.shape[axis];
  const int64_t sa_out = g.out_str[axis], sa_in = g.in_str[axis];
  const int64_t sb_out = g.out_str[block], sb_in = g.in_str[block];
  const Lines<2> lines = pass_lines(g, axis, block);  // one unit: kBlock lines adjacent along block
  parallel_lines(lines, threads, 1, [&](int64_t gb, int64_t ge, int) {
    std::vector<In> tile(size_t(n * kBlock));
    std::vector<T> res(size_t(n * kBlock));
    lines.walk(gb, ge, [&](int64_t, int64_t, int64_t len, const int64_t* off) {
      const int64_t nb = std::min(len, kBlock);  // (a bound the compiler can use)
      const In* ib = in + off[0];
      for (int64_t i = 0; i < n; ++i)
        for (int64_t b = 0; b < nb; ++b) tile[b * n + i] = ib[i * sa_in + b * sb_in];
      for (int64_t b = 0; b < nb; ++b) {
        if (multilabel)
          edt_multilabel_first_line<In, T>(&tile[b * n], 1, &res[b * n], 1, n, g.spacing[axis]);
        else
          edt_binary_line<In, T>(&tile[b * n], 1, &res[b * n], 1, n, g.spacing[axis]);
      }
      T* ob = out + off[1];
      for (int64_t i = 0; i < n; ++i)
        for (int64_t b = 0; b < nb; ++b) ob[i * sa_out + b * sb_out] = res[b * n + i];
    });
  });
}

template <typename In, typename T>
void edt_typed(const Geometry& g, const In* in, T* out, const EdtOptions& opt) {
  // Passes run in the logical axis order (last axis first, axis 0 last) whatever the
  // memory layout: each pass rounds, so a layout-dependent order would give C- and
  // F-ordered inputs different bits.  Memory order only chooses how lines are blocked.
  const int inner = g.ndim - 1;
  const int64_t n = g.shape[inner];
  const bool only = g.ndim == 1;
  int block = 0;  // for a strided last axis: the other axis with the smallest |out stride|
  for (int d = 1; d < inner; ++d)
    if (std::llabs(g.out_str[d]) < std::llabs(g.out_str[block])) block = d;
  if (!only && std::llabs(g.out_str[block]) < std::llabs(g.out_str[inner]))
    first_pass_blocked<In, T>(g, inner, block, in, out, opt.multilabel, opt.threads);
  else {  // contiguous last axis: scan the lines where they are
    const Lines<2> lines = pass_lines(g, inner, inner);
    parallel_lines(lines, opt.threads, 64, [&](int64_t b, int64_t e, int) {
      lines.walk(b, e, [&](int64_t, int64_t, int64_t, const int64_t* off) {
        const int64_t in_off = off[0], out_off = off[1];
        if (opt.multilabel)
          edt_multilabel_first_line<In, T>(in + in_off, g.in_str[inner], out + out_off, g.out_str[inner], n,
                                           g.spacing[inner]);
        else
          edt_binary_line<In, T>(in + in_off, g.in_str[inner], out + out_off, g.out_str[inner], n,
                                 g.spacing[inner]);
        if (only)
          for (int64_t i = 0; i < n; ++i) {
            T& o = out[out_off + i * g.out_str[inner]];
            o = edt_finish(o, opt.squared);
          }
      });
    });
  }
  if (only) return;
  // remaining axes in descending logical order; each pass blocks its lines along the
  // other axis with the smallest |out stride| (stride 1 for C- and F-ordered output)
  for (int axis = g.ndim - 2; axis >= 0; --axis) {
    int block = axis == 0 ? 1 : 0;
    for (int d = 0; d < g.ndim; ++d)
      if (d != axis && std::llabs(g.out_str[d]) < std::llabs(g.out_str[block])) block = d;
    parabola_pass<In, T>(g, axis, block, out, in, opt.multilabel, axis == 0, opt.squared, opt.threads);
  }
}

}  // namespace

void edt(const ArrayView& in, void* out, const int64_t* out_strides, bool out_f64, const EdtOptions& opt) {
  Geometry g;
  g.ndim = in.ndim;
  if (g.ndim < 1 || g.ndim > kMaxDim) throw std::invalid_argument("segscore.edt: ndim must be 1..8");
  for (int d = 0; d < g.ndim; ++d) {
    g.shape[d] = in.shape[d];
    g.in_str[d] = in.strides[d];
    g.out_str[d] = out_strides[d];
    g.spacing[d] = opt.spacing ? opt.spacing[d] : 1.0;
    if (g.shape[d] == 0) return;
  }
  auto run = [&](auto tag) {
    using In = typename decltype(tag)::type;
    if (out_f64)
      edt_typed<In, double>(g, static_cast<const In*>(in.data), static_cast<double*>(out), opt);
    else
      edt_typed<In, float>(g, static_cast<const In*>(in.data), static_cast<float*>(out), opt);
  };
  if (opt.multilabel)
    dispatch_int(in.dtype, run);
  else
    dispatch_any(in.dtype, run);
}

}  // namespace segscore
