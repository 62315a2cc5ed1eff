// CPU driver for boundary distances: per region, crop to its box, extract
// both boundaries, and find for every boundary element the exact distance to
// the nearest element of the other boundary: an offset-table scan of the
// marked grid, and a cell tree (kdtree.h) for what the table does not cover.
#include "surface_driver.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <memory>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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

// Compare a contiguous line of raw labels against one label value (no
// widening to int64 first), writing the crop every `os` elements; returns the
// number of matches.
template <typename T>
int64_t match_line(const T* x, int64_t n, int64_t lab, uint8_t* out, int64_t os) {
  const bool fits = lab >= int64_t(std::numeric_limits<T>::min()) &&
                    (lab <= 0 || uint64_t(lab) <= uint64_t(std::numeric_limits<T>::max()));
  if (!fits) return 0;  // the crop is zero-initialised
  const T v = T(lab);
  int64_t cnt = 0;
  if (os == 1) {
    for (int64_t k = 0; k < n; ++k) {
      const uint8_t m = x[k] == v;
      out[k] = m;
      cnt += m;
    }
  } else {
    for (int64_t k = 0; k < n; ++k) {
      const uint8_t m = x[k] == v;
      out[k * os] = m;
      cnt += m;
    }
  }
  return cnt;
}

// Fills the padded crop masks and returns the voxel counts of both regions
// (the crop holds every voxel of the region, so these are the region's counts).
// Lines run along the last axis, or along an axis both maps store contiguously
// (the first, for Fortran-ordered maps: the crop is then written every
// c.str[axis] elements, the maps read in their memory order).
void fill_crop(const ArrayView& pred, const ArrayView& ref, const Region& reg, int64_t ignore, Crop& c,
               int threads, int64_t* n_pred, int64_t* n_ref) {
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
  int inner = nd - 1;
  if (!(pred.strides[inner] == 1 && ref.strides[inner] == 1))
    for (int d = 0; d < nd; ++d)
      if (pred.strides[d] == 1 && ref.strides[d] == 1) {
        inner = d;
        break;
      }
  // the other axes, the one with the smallest prediction stride varying fastest
  int outer[3];
  int no = 0;
  for (int d = nd - 1; d >= 0; --d)
    if (d != inner) outer[no++] = d;
  std::stable_sort(outer, outer + no, [&](int x, int y) {
    return std::abs(pred.strides[x]) < std::abs(pred.strides[y]);
  });
  const int64_t n = reg.hi[inner] - reg.lo[inner] + 1;
  const int64_t cs = c.str[inner];
  LineReader rp{&pred}, rr{&ref};
  int64_t nlines = 1;
  for (int j = 0; j < no; ++j) nlines *= reg.hi[outer[j]] - reg.lo[outer[j]] + 1;
  const bool single = reg.labels.size() == 1;
  const int64_t lab = reg.labels[0];
  // raw path: one label, no ignore label, contiguous line axis of both maps
  const bool raw = single && ignore < 0 && pred.strides[inner] == 1 && ref.strides[inner] == 1;
  std::atomic<int64_t> cnt_a{0}, cnt_b{0};
  parallel_for(nlines, threads, [&](int64_t b, int64_t e, int) {
    std::vector<int64_t> pl(raw ? 0 : n), rl(raw ? 0 : n);
    int64_t ca = 0, cb = 0;
    for (int64_t li = b; li < e; ++li) {
      int64_t r = li, po = reg.lo[inner] * pred.strides[inner], ro = reg.lo[inner] * ref.strides[inner];
      int64_t co = 1 * c.str[inner];
      for (int j = 0; j < no; ++j) {
        const int d = outer[j];
        const int64_t ext = reg.hi[d] - reg.lo[d] + 1;
        const int64_t i = r % ext;
        r /= ext;
        po += (i + reg.lo[d]) * pred.strides[d];
        ro += (i + reg.lo[d]) * ref.strides[d];
        co += (i + 1) * c.str[d];
      }
      uint8_t* A = &c.a[co];
      uint8_t* B = &c.b[co];
      if (raw) {
        dispatch_int(pred.dtype, [&](auto tag) {
          using T = typename decltype(tag)::type;
          ca += match_line(static_cast<const T*>(pred.data) + po, n, lab, A, cs);
        });
        dispatch_int(ref.dtype, [&](auto tag) {
          using T = typename decltype(tag)::type;
          cb += match_line(static_cast<const T*>(ref.data) + ro, n, lab, B, cs);
        });
        continue;
      }
      rp.read(po, pred.strides[inner], n, pl.data());
      rr.read(ro, ref.strides[inner], n, rl.data());
      if (single && ignore < 0) {
        for (int64_t k = 0; k < n; ++k) {
          const uint8_t x = pl[k] == lab, y = rl[k] == lab;
          A[k * cs] = x;
          B[k * cs] = y;
          ca += x;
          cb += y;
        }
        continue;
      }
      for (int64_t k = 0; k < n; ++k) {
        if (ignore >= 0 && rl[k] == ignore) continue;
        const uint8_t x = in_set(pl[k], reg.labels), y = in_set(rl[k], reg.labels);
        A[k * cs] = x;
        B[k * cs] = y;
        ca += x;
        cb += y;
      }
    }
    cnt_a += ca;
    cnt_b += cb;
  }, 256);
  *n_pred = cnt_a.load();
  *n_ref = cnt_b.load();
}

// Neighbour offsets (in padded elements) of the connectivity structure.
std::vector<int64_t> neighbour_offsets(const Crop& c, int connectivity) {
  int64_t buf[26];
  const int n = segscore::neighbour_offsets(c.str, c.nd, connectivity, buf);
  return std::vector<int64_t>(buf, buf + n);
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

// Rows are lines along the last (contiguous) axis of the padded crop.
// row_any[r] says whether row r holds any foreground voxel, so empty space
// (large in crops stretched by far-away specks) is skipped a row at a time.
std::vector<uint8_t> row_flags(const Crop& c, const std::vector<uint8_t>& m) {
  const int64_t n = c.dim[c.nd - 1];
  const int64_t rows = c.size / n;
  std::vector<uint8_t> f(size_t(rows), 0);
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* p = &m[r * n];
    uint8_t any = 0;
    for (int64_t k = 0; k < n; ++k) any |= p[k];
    f[r] = any;
  }
  return f;
}

void emit(const Crop& c, int64_t i, double w, Points& p) {
  int32_t xyz[3];
  unravel(i, c, xyz);
  p.xyz.insert(p.xyz.end(), xyz, xyz + c.nd);
  p.w.push_back(w);
}

void voxel_border(const Crop& c, const std::vector<uint8_t>& m, const std::vector<int64_t>& off, Points& p) {
  const int64_t n = c.dim[c.nd - 1];
  const int64_t rows = c.size / n;
  const auto flags = row_flags(c, m);
  for (int64_t r = 0; r < rows; ++r) {
    if (!flags[r]) continue;
    const int64_t base = r * n;
    for (int64_t k = 0; k < n; ++k) {
      const int64_t i = base + k;
      if (m[i] && is_border_voxel(m.data(), i, off.data(), int(off.size()))) emit(c, i, 1.0, p);
    }
  }
}

// Corners: padded element i with index >= 1 on every axis is the corner
// between padded voxels index-1 and index.  The 2^(nd-1) voxel rows around
// a corner row are read once per column: a column's bits combine with the
// previous column's into the neighbour code through a small table.
void corner_grid(const Crop& c, const std::vector<uint8_t>& m, const double* table, Points& p) {
  const int nd = c.nd;
  const int nv = 1 << nd, nh = 1 << (nd - 1);
  const int full = (1 << nv) - 1;
  const int64_t n = c.dim[nd - 1];
  const int64_t rows = c.size / n;
  const auto flags = row_flags(c, m);
  // row offsets of the voxel rows h (bits MSB-first over the non-last axes; 0 = index-1)
  int64_t roff[4] = {0, 0, 0, 0};
  for (int h = 0; h < nh; ++h)
    for (int d = 0; d < nd - 1; ++d)
      if (!((h >> (nd - 2 - d)) & 1)) roff[h] -= c.str[d] / n;
  // code of (previous column bits, current column bits); a = 2h + last-axis bit
  int combine[16][16];
  for (int prev = 0; prev < (1 << nh); ++prev)
    for (int cur = 0; cur < (1 << nh); ++cur) {
      int code = 0;
      for (int h = 0; h < nh; ++h) {
        if ((prev >> h) & 1) code |= 1 << (nv - 1 - 2 * h);
        if ((cur >> h) & 1) code |= 1 << (nv - 1 - (2 * h + 1));
      }
      combine[prev][cur] = code;
    }
  for (int64_t r = 0; r < rows; ++r) {
    int64_t t = r;
    bool ok = true;
    for (int d = nd - 2; d >= 0; --d) {
      ok &= (t % c.dim[d]) >= 1;
      t /= c.dim[d];
    }
    if (!ok) continue;
    bool any = false;
    for (int h = 0; h < nh; ++h) any |= flags[r + roff[h]] != 0;
    if (!any) continue;
    const uint8_t* R[4];
    for (int h = 0; h < nh; ++h) R[h] = &m[(r + roff[h]) * n];
    auto column = [&](int64_t k) {
      int bits = 0;
      for (int h = 0; h < nh; ++h) bits |= int(R[h][k] != 0) << h;
      return bits;
    };
    // 8 columns at a time: a block whose voxels all equal the previous column's (all
    // background or all foreground: the masks hold 0 / 1) has no boundary corner; other
    // blocks go column by column, in the same order
    const int all = (1 << nh) - 1;
    int prev = column(0);
    for (int64_t k = 1; k < n;) {
      if ((prev == 0 || prev == all) && k + 8 <= n) {
        const uint64_t want = prev ? 0x0101010101010101ull : 0ull;
        bool same = true;
        for (int h = 0; h < nh; ++h) {
          uint64_t w;
          std::memcpy(&w, R[h] + k, sizeof(w));
          same &= w == want;
        }
        if (same) {
          k += 8;
          continue;
        }
      }
      const int64_t stop = std::min(n, k + 8);
      for (; k < stop; ++k) {
        const int cur = column(k);
        if ((prev | cur) != 0) {
          const int code = combine[prev][cur];
          if (code != full) emit(c, r * n + k, table[code], p);
        }
        prev = cur;
      }
    }
  }
}

// Exact nearest distance by scanning grid offsets in increasing distance:
// the first offset that lands on a marked element is the nearest one, as
// long as its distance is within the radius the offset table fully covers;
// otherwise the query falls back to the cell tree (kdtree.h).
struct OffsetTable {
  std::vector<int32_t> delta;  // nd per offset, sorted by distance
  std::vector<double> d2;
  double covered2 = 0;         // every point within this squared distance is in the table
  int nd = 0;
  OffsetTable(int nd_, const double* spacing) : nd(nd_) {
    double smax = 0, rho = 1e300;
    for (int d = 0; d < nd; ++d) smax = std::max(smax, spacing[d]);
    int K[3] = {0, 0, 0};
    for (int d = 0; d < nd; ++d) {
      K[d] = std::max(1, int(std::ceil(2.0 * smax / spacing[d])));
      K[d] = std::min(K[d], 12);
      rho = std::min(rho, (K[d] + 1) * spacing[d]);
    }
    covered2 = rho * rho;
    std::vector<std::pair<double, std::array<int32_t, 3>>> all;
    int32_t z[3] = {0, 0, 0};
    int lo0 = -K[0], hi0 = K[0];
    int lo1 = nd > 1 ? -K[1] : 0, hi1 = nd > 1 ? K[1] : 0;
    int lo2 = nd > 2 ? -K[2] : 0, hi2 = nd > 2 ? K[2] : 0;
    for (int a = lo0; a <= hi0; ++a)
      for (int b = lo1; b <= hi1; ++b)
        for (int c = lo2; c <= hi2; ++c) {
          int32_t v[3] = {a, b, c};
          const double dd = grid_dist2(v, z, spacing, nd);
          if (dd < covered2) all.push_back({dd, {a, b, c}});
        }
    std::stable_sort(all.begin(), all.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
    for (auto& e : all) {
      d2.push_back(e.first);
      radius.push_back(std::sqrt(e.first));
      for (int d = 0; d < nd; ++d) {
        delta.push_back(e.second[d]);
        reach[d] = std::max<int64_t>(reach[d], std::abs(e.second[d]));
      }
    }
  }
  std::vector<double> radius;     // sqrt(d2): offset radii (mm), non-decreasing
  int64_t reach[3] = {0, 0, 0};   // largest |offset| per axis
};

// Offset-table pass of one direction; returns how many queries missed (their
// `miss` flag is set and they need the cell-tree fallback).  `c` is the grid of
// the marks (zeroed on entry and on return): the crop, or the crop grown by
// shift[d] elements on each side of axis d (a point x of the crop is element
// x + shift there).
int64_t directed_scan(const Points& from, const Points& to_pts, const Crop& c, const int64_t* shift,
                      std::vector<uint8_t>& mark, const OffsetTable& table, const double* spacing,
                      std::vector<double>& out, std::vector<uint8_t>& miss, int threads) {
  const int nd = c.nd;
  const int64_t n = from.size(), nt = to_pts.size();
  out.resize(size_t(n));
  miss.assign(size_t(n), 0);
  if (nt == 0) {
    std::fill(out.begin(), out.end(), std::numeric_limits<double>::infinity());
    return 0;
  }
  auto lin = [&](const int32_t* x) {  // an offset
    int64_t i = 0;
    for (int d = 0; d < nd; ++d) i += int64_t(x[d]) * c.str[d];
    return i;
  };
  auto lin_pt = [&](const int32_t* x) {  // a point of the crop
    int64_t i = 0;
    for (int d = 0; d < nd; ++d) i += (int64_t(x[d]) + shift[d]) * c.str[d];
    return i;
  };
  for (int64_t j = 0; j < nt; ++j) mark[lin_pt(&to_pts.xyz[j * nd])] = 1;
  const int64_t noff = int64_t(table.d2.size());
  // Linear element offsets of the table and its reach per axis: a query at
  // least `reach` away from every crop face needs no bounds checks, so its
  // scan is one add and one byte load per offset.  (A crop too small for any
  // such query, as a small label's is, skips the linear offsets.)
  const int64_t* reach = table.reach;
  bool any_interior = true;
  for (int d = 0; d < nd; ++d) any_interior &= c.dim[d] > 2 * reach[d];
  std::vector<int64_t> lin_off(any_interior ? static_cast<size_t>(noff) : 0);
  if (any_interior)
    for (int64_t o = 0; o < noff; ++o) lin_off[o] = lin(&table.delta[o * nd]);
  // Offset radii (mm), non-decreasing.  A query's distance is at least the
  // previous query's distance (its lower bound: the covered radius after a
  // miss) minus the distance between the two queries, so the offsets closer
  // than that cannot hit and the scan starts past them.  The first hit is the
  // same offset as from 0, so the result is unchanged; the margin absorbs
  // rounding of the bound.
  const std::vector<double>& radius = table.radius;
  const double covered = std::sqrt(table.covered2);
  std::atomic<int64_t> nmiss{0};
  parallel_for(n, threads, [&](int64_t b, int64_t e, int) {
    int64_t local_miss = 0;
    const uint8_t* mk = mark.data();
    double prev_lb = 0;              // lower bound of the previous query's distance
    const int32_t* prev = nullptr;   // the previous query
    for (int64_t i = b; i < e; ++i) {
      const int32_t* q = &from.xyz[i * nd];
      int64_t start = 0;
      if (prev && prev_lb > 0) {
        const double lb = prev_lb - std::sqrt(grid_dist2(prev, q, spacing, nd));
        const double safe = lb - 1e-9 * (1.0 + prev_lb);
        if (safe > 0) start = std::lower_bound(radius.begin(), radius.end(), safe) - radius.begin();
      }
      bool found = false;
      bool interior = true;
      for (int d = 0; d < nd; ++d) interior &= q[d] + shift[d] >= reach[d] && q[d] + shift[d] + reach[d] < c.dim[d];
      if (interior) {
        const uint8_t* base = mk + lin_pt(q);
        for (int64_t o = start; o < noff; ++o) {
          if (base[lin_off[o]]) {
            out[i] = radius[o];
            prev_lb = radius[o];
            found = true;
            break;
          }
        }
      } else {
        for (int64_t o = start; o < noff; ++o) {
          const int32_t* dl = &table.delta[o * nd];
          bool inside = true;
          int64_t li = 0;
          for (int d = 0; d < nd; ++d) {
            const int64_t x = int64_t(q[d]) + shift[d] + dl[d];
            inside &= x >= 0 && x < c.dim[d];
            li += x * c.str[d];
          }
          if (inside && mk[li]) {
            out[i] = radius[o];
            prev_lb = radius[o];
            found = true;
            break;
          }
        }
      }
      if (!found) {
        miss[i] = 1;
        ++local_miss;
        prev_lb = covered;  // nothing within the covered radius
      }
      prev = q;
    }
    nmiss += local_miss;
  }, 1024);
  for (int64_t j = 0; j < nt; ++j) mark[lin_pt(&to_pts.xyz[j * nd])] = 0;
  return nmiss.load();
}

// Cell-tree queries for the misses of directed_scan.
void directed_fallback(const Points& from, const CellTree& tree, const std::vector<uint8_t>& miss, int nd,
                       const double* spacing, std::vector<double>& out, int threads) {
  const int64_t n = from.size();
  parallel_for(n, threads, [&](int64_t b, int64_t e, int) {
    int64_t arg = -1;
    for (int64_t i = b; i < e; ++i) {
      if (!miss[i]) continue;
      const int32_t* q = &from.xyz[i * nd];
      double hint = std::numeric_limits<double>::infinity();
      if (arg >= 0) hint = grid_dist2(tree.point(arg), q, spacing, nd);
      out[i] = std::sqrt(tree.nearest2(q, hint, &arg));
    }
  }, 1024);
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

// SEGSCORE_PROFILE=1 prints per-phase times of every region to stderr.
struct PhaseTimer {
  bool on = std::getenv("SEGSCORE_PROFILE") != nullptr;
  std::chrono::steady_clock::time_point t = std::chrono::steady_clock::now();
  void lap(const char* what) {
    if (!on) return;
    auto now = std::chrono::steady_clock::now();
    std::fprintf(stderr, "segscore[profile] %-10s %8.2f ms\n", what,
                 std::chrono::duration<double, std::milli>(now - t).count());
    t = now;
  }
};

void one_region(const ArrayView& pred, const ArrayView& ref, const Region& reg, const SurfaceOptions& opt,
                const double* surfel_table, const OffsetTable& table, SurfaceResult& res, int inner_threads) {
  if (reg.empty) return;
  const int nd = pred.ndim;
  PhaseTimer timer;
  Crop c;
  fill_crop(pred, ref, reg, opt.ignore_label, c, inner_threads, &res.n_pred_voxels, &res.n_ref_voxels);
  timer.lap("crop");
  if (!res.n_pred_voxels && !res.n_ref_voxels) return;
  Points pa, pb;
  const auto off = neighbour_offsets(c, opt.connectivity);
  parallel_items(2, inner_threads, [&](int64_t which, int) {
    const std::vector<uint8_t>& m = which == 0 ? c.a : c.b;
    Points& pts = which == 0 ? pa : pb;
    if (opt.boundary == Boundary::VoxelBorder)
      voxel_border(c, m, off, pts);
    else
      corner_grid(c, m, surfel_table, pts);
  });
  timer.lap("boundary");
  {
    // the marks live on the crop grown by the offset table's reach on every side, so that
    // every query scans without bounds checks (the same first hit: the margin is unmarked)
    Crop g;
    g.nd = nd;
    g.size = 1;
    int64_t shift[3] = {0, 0, 0};
    for (int d = nd - 1; d >= 0; --d) {
      shift[d] = table.reach[d];
      g.dim[d] = c.dim[d] + 2 * shift[d];
      g.str[d] = g.size;
      g.size *= g.dim[d];
    }
    if (opt.biou_width < 0) {  // the masks are not needed any more
      std::vector<uint8_t>().swap(c.a);
      std::vector<uint8_t>().swap(c.b);
    }
    std::vector<uint8_t> mark(size_t(g.size), 0);
    std::vector<uint8_t> miss_a, miss_b;
    const int64_t na = directed_scan(pa, pb, g, shift, mark, table, opt.spacing, res.d_pred, miss_a, inner_threads);
    const int64_t nb = directed_scan(pb, pa, g, shift, mark, table, opt.spacing, res.d_ref, miss_b, inner_threads);
    timer.lap("scan");  // offset-table pass of both directions
    // the fallback trees of both directions are built concurrently
    std::unique_ptr<CellTree> tree_b, tree_a;
    parallel_items(2, inner_threads, [&](int64_t which, int) {
      if (which == 0 && na) tree_b.reset(new CellTree(pb.xyz.data(), pb.size(), nd, opt.spacing, c.dim));
      if (which == 1 && nb) tree_a.reset(new CellTree(pa.xyz.data(), pa.size(), nd, opt.spacing, c.dim));
    });
    if (na) directed_fallback(pa, *tree_b, miss_a, nd, opt.spacing, res.d_pred, inner_threads);
    if (nb) directed_fallback(pb, *tree_a, miss_b, nd, opt.spacing, res.d_ref, inner_threads);
  }
  timer.lap("fallback");  // cell trees and their queries
  res.w_pred = std::move(pa.w);
  res.w_ref = std::move(pb.w);
  if (opt.biou_width >= 0) {
    auto face = neighbour_offsets(c, 1);
    std::vector<uint8_t> ba, bb;
    const double ones[3] = {1.0, 1.0, 1.0};
    const double* bsp = opt.biou_unit_spacing ? ones : opt.spacing;
    band(c, c.a, face, bsp, opt.biou_width, opt.biou_strict, ba);
    band(c, c.b, face, bsp, opt.biou_width, opt.biou_strict, bb);
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
  // one offset table for every region: it depends on the spacing only, and building it
  // per region would cost thousands of sorted entries per label on anisotropic grids
  const OffsetTable offsets(nd, opt.spacing);
  // Schedule (the results do not depend on it): regions by decreasing box volume; one larger
  // than an even share of what is left (a liver beside four small organs) runs alone on every
  // thread, the others one region per thread, the largest first.
  std::vector<int64_t> vol(static_cast<size_t>(nreg), 0), order(static_cast<size_t>(nreg));
  int64_t left = 0;
  for (int64_t i = 0; i < nreg; ++i) {
    order[size_t(i)] = i;
    if (regions[size_t(i)].empty) continue;
    int64_t v = 1;
    for (int d = 0; d < nd; ++d) v *= regions[size_t(i)].hi[d] - regions[size_t(i)].lo[d] + 1;
    vol[size_t(i)] = v;
    left += v;
  }
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return vol[size_t(a)] > vol[size_t(b)]; });
  int64_t first = 0;
  if (threads > 1)
    for (; first < nreg && vol[size_t(order[size_t(first)])] * threads > left; ++first) {
      const int64_t i = order[size_t(first)];
      one_region(pred, ref, regions[size_t(i)], opt, table, offsets, out[size_t(i)], threads);
      left -= vol[size_t(i)];
    }
  parallel_items(nreg - first, threads, [&](int64_t j, int) {
    const int64_t i = order[size_t(first + j)];
    one_region(pred, ref, regions[size_t(i)], opt, table, offsets, out[size_t(i)], 1);
  });
  return out;
}

}  // namespace segscore
