// CPU driver for boundary distances: per region, crop to its box, extract
// both boundaries, and find for every boundary element the exact distance to
// the nearest element of the other boundary with a k-d tree.
#include "surface_driver.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "kdtree.h"
#include "line_reader.h"
#include "segscore/edt.h"
#include "segscore/surface.h"
#include "segscore/surfel_tables.h"
#include "thread_pool.h"

namespace segscore {
namespace {

struct Crop {
  int nd;
  int64_t dim[3];   // padded dims (box + 2)
  int64_t str[3];   // element strides of the padded arrays (C order)
  int64_t size;
  std::vector<uint8_t> a, b;  // pred, ref masks
};

bool in_set(int64_t v, const std::vector<int64_t>& s) {
  if (s.size() == 1) return v == s[0];
  return std::binary_search(s.begin(), s.end(), v);
}

void fill_crop(const ArrayView& pred, const ArrayView& ref, const Region& reg, int64_t ignore, Crop& c) {
  const int nd = pred.ndim;
  c.nd = nd;
  c.size = 1;
  for (int d = nd - 1; d >= 0; --d) {
    c.dim[d] = reg.hi[d] - reg.lo[d] + 3;
    c.str[d] = c.size;
    c.size *= c.dim[d];
  }
  c.a.assign(size_t(c.size), 0);
  c.b.assign(size_t(c.size), 0);
  const int inner = nd - 1;
  const int64_t n = reg.hi[inner] - reg.lo[inner] + 1;
  std::vector<int64_t> pl(n), rl(n);
  LineReader rp{&pred}, rr{&ref};
  int64_t nlines = 1;
  for (int d = 0; d < inner; ++d) nlines *= reg.hi[d] - reg.lo[d] + 1;
  for (int64_t li = 0; li < nlines; ++li) {
    int64_t r = li, po = reg.lo[inner] * pred.strides[inner], ro = reg.lo[inner] * ref.strides[inner];
    int64_t co = 1 * c.str[inner];
    for (int d = inner - 1; d >= 0; --d) {
      const int64_t ext = reg.hi[d] - reg.lo[d] + 1;
      const int64_t i = r % ext;
      r /= ext;
      po += (i + reg.lo[d]) * pred.strides[d];
      ro += (i + reg.lo[d]) * ref.strides[d];
      co += (i + 1) * c.str[d];
    }
    rp.read(po, pred.strides[inner], n, pl.data());
    rr.read(ro, ref.strides[inner], n, rl.data());
    for (int64_t k = 0; k < n; ++k) {
      if (ignore >= 0 && rl[k] == ignore) continue;
      c.a[co + k] = in_set(pl[k], reg.labels);
      c.b[co + k] = in_set(rl[k], reg.labels);
    }
  }
}

// Neighbour offsets (in padded elements) of the connectivity structure.
std::vector<int64_t> neighbour_offsets(const Crop& c, int connectivity) {
  std::vector<int64_t> off;
  const int nd = c.nd;
  int total = 1;
  for (int d = 0; d < nd; ++d) total *= 3;
  for (int t = 0; t < total; ++t) {
    int r = t, nz = 0;
    int64_t o = 0;
    for (int d = nd - 1; d >= 0; --d) {
      const int v = r % 3 - 1;
      r /= 3;
      if (v) ++nz;
      o += v * c.str[d];
    }
    if (nz > 0 && nz <= connectivity) off.push_back(o);
  }
  return off;
}

struct Points {
  std::vector<int32_t> xyz;  // nd per point
  std::vector<double> w;
  int64_t size() const { return int64_t(w.size()); }
};

void unravel(int64_t i, const Crop& c, int32_t* out) {
  for (int d = c.nd - 1; d >= 0; --d) {
    out[d] = int32_t(i % c.dim[d]);
    i /= c.dim[d];
  }
}

void voxel_border(const Crop& c, const std::vector<uint8_t>& m, const std::vector<int64_t>& off, Points& p) {
  int32_t xyz[3];
  for (int64_t i = 0; i < c.size; ++i) {
    if (!m[i]) continue;
    if (is_border_voxel(m.data(), i, off.data(), int(off.size()))) {
      unravel(i, c, xyz);
      p.xyz.insert(p.xyz.end(), xyz, xyz + c.nd);
      p.w.push_back(1.0);
    }
  }
}

// Corners: padded element i with index >= 1 on every axis is the corner
// between padded voxels index-1 and index.
void corner_grid(const Crop& c, const std::vector<uint8_t>& m, const double* table, Points& p) {
  const int full = (1 << (1 << c.nd)) - 1;
  int32_t xyz[3];
  for (int64_t i = 0; i < c.size; ++i) {
    unravel(i, c, xyz);
    bool ok = true;
    for (int d = 0; d < c.nd; ++d) ok &= xyz[d] >= 1;
    if (!ok) continue;
    const int code = corner_code(m.data(), i, c.str, c.nd);
    if (code == 0 || code == full) continue;
    p.xyz.insert(p.xyz.end(), xyz, xyz + c.nd);
    p.w.push_back(table[code]);
  }
}

void directed(const Points& from, const KdTree& to, const double* spacing, int nd, std::vector<double>& out,
              int threads) {
  const int64_t n = from.size();
  out.resize(size_t(n));
  if (to.empty()) {
    std::fill(out.begin(), out.end(), std::numeric_limits<double>::infinity());
    return;
  }
  parallel_for(n, threads, [&](int64_t b, int64_t e, int) {
    int64_t arg = -1;
    for (int64_t i = b; i < e; ++i) {
      const int32_t* q = &from.xyz[i * nd];
      double hint = std::numeric_limits<double>::infinity();
      if (arg >= 0) hint = grid_dist2(to.point(arg), q, spacing, nd);
      const double d2 = to.nearest2(q, hint, &arg);
      out[i] = std::sqrt(d2);
    }
  }, 2048);
}

// Boundary IoU band counts: voxels of the mask whose distance to its voxel
// border is < width (strict) or <= width.
void band(const Crop& c, const std::vector<uint8_t>& m, const std::vector<int64_t>& face_off, const double* spacing,
          double width, bool strict, std::vector<uint8_t>& out) {
  // not-border indicator: 0 on border voxels
  std::vector<uint8_t> nb(size_t(c.size), 1);
  bool any = false;
  for (int64_t i = 0; i < c.size; ++i)
    if (m[i] && is_border_voxel(m.data(), i, face_off.data(), int(face_off.size()))) {
      nb[i] = 0;
      any = true;
    }
  out.assign(size_t(c.size), 0);
  if (!any) return;
  // squared EDT to the border, separable passes on the padded crop
  std::vector<double> dist(size_t(c.size));
  const int nd = c.nd;
  const int64_t maxn = *std::max_element(c.dim, c.dim + nd);
  std::vector<double> f(static_cast<size_t>(maxn)), g(static_cast<size_t>(maxn));
  std::vector<int64_t> v(size_t(maxn + 2));
  std::vector<double> z(size_t(maxn + 3));
  for (int axis = nd - 1; axis >= 0; --axis) {
    const int64_t n = c.dim[axis], st = c.str[axis];
    const int64_t nlines = c.size / n;
    for (int64_t li = 0; li < nlines; ++li) {
      // base offset of line li along axis
      int64_t r = li, base = 0;
      for (int d = nd - 1; d >= 0; --d) {
        if (d == axis) continue;
        base += (r % c.dim[d]) * c.str[d];
        r /= c.dim[d];
      }
      if (axis == nd - 1) {
        edt_binary_line<uint8_t, double>(&nb[base], st, &dist[base], st, n, spacing[axis]);
      } else {
        for (int64_t i = 0; i < n; ++i) f[i] = dist[base + i * st];
        edt_parabola_line<double>(f.data(), g.data(), 1, n, spacing[axis], v.data(), z.data());
        for (int64_t i = 0; i < n; ++i) dist[base + i * st] = g[i];
      }
    }
  }
  for (int64_t i = 0; i < c.size; ++i) {
    if (!m[i]) continue;
    const double d = std::sqrt(dist[i]);
    out[i] = strict ? (d < width) : (d <= width);
  }
}

void one_region(const ArrayView& pred, const ArrayView& ref, const Region& reg, const SurfaceOptions& opt,
                const double* table, SurfaceResult& res, int inner_threads) {
  if (reg.empty) return;
  const int nd = pred.ndim;
  Crop c;
  fill_crop(pred, ref, reg, opt.ignore_label, c);
  for (int64_t i = 0; i < c.size; ++i) {
    res.n_pred_voxels += c.a[i];
    res.n_ref_voxels += c.b[i];
  }
  Points pa, pb;
  if (opt.boundary == Boundary::VoxelBorder) {
    auto off = neighbour_offsets(c, opt.connectivity);
    voxel_border(c, c.a, off, pa);
    voxel_border(c, c.b, off, pb);
  } else {
    corner_grid(c, c.a, table, pa);
    corner_grid(c, c.b, table, pb);
  }
  {
    KdTree tb(pb.xyz.data(), pb.size(), nd, opt.spacing);
    directed(pa, tb, opt.spacing, nd, res.d_pred, inner_threads);
  }
  {
    KdTree ta(pa.xyz.data(), pa.size(), nd, opt.spacing);
    directed(pb, ta, opt.spacing, nd, res.d_ref, inner_threads);
  }
  res.w_pred = std::move(pa.w);
  res.w_ref = std::move(pb.w);
  if (opt.biou_width >= 0) {
    auto face = neighbour_offsets(c, 1);
    std::vector<uint8_t> ba, bb;
    band(c, c.a, face, opt.spacing, opt.biou_width, opt.biou_strict, ba);
    band(c, c.b, face, opt.spacing, opt.biou_width, opt.biou_strict, bb);
    for (int64_t i = 0; i < c.size; ++i) {
      res.biou_inter += ba[i] & bb[i];
      res.biou_union += ba[i] | bb[i];
    }
  }
}

}  // namespace

std::vector<SurfaceResult> surface_distances(const ArrayView& pred, const ArrayView& ref,
                                             const std::vector<Region>& regions, const SurfaceOptions& opt) {
  const int nd = pred.ndim;
  if (nd < 1 || nd > 3) throw std::invalid_argument("segscore: surface distances support 1-D, 2-D and 3-D");
  double table[256] = {0};
  if (opt.boundary == Boundary::CornerGrid) {
    if (nd == 3)
      fill_surfel_area_table_3d(table, opt.spacing[0], opt.spacing[1], opt.spacing[2]);
    else if (nd == 2)
      fill_contour_length_table_2d(table, opt.spacing[0], opt.spacing[1]);
    else {
      table[1] = table[2] = 1.0;  // 1-D: a boundary point counts once
    }
  }
  std::vector<SurfaceResult> out(regions.size());
  int threads = opt.threads > 0 ? opt.threads : default_threads();
  const int64_t nreg = int64_t(regions.size());
  if (nreg >= 2 * threads || threads == 1) {
    parallel_items(nreg, threads, [&](int64_t i, int) { one_region(pred, ref, regions[i], opt, table, out[i], 1); });
  } else {
    for (int64_t i = 0; i < nreg; ++i) one_region(pred, ref, regions[i], opt, table, out[i], threads);
  }
  return out;
}

}  // namespace segscore
