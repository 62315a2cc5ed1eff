// Connected components on the CPU.
//
// Labelling is run-based: each line (z, y) of the (Z, Y, X) view is cut into maximal runs
// of foreground (of one value in per-label mode); runs on touching lines are joined in a
// union-find over run indices (segscore/components.h: the larger root goes under the
// smaller, so a component's root is its first run in raster order).  Threads: the lines
// are cut into contiguous blocks, each joined by one thread (unions inside its block
// only), then the lines at the block starts are joined with the lines before them,
// serially.  The roots, and so the ids 1..n in raster order, do not depend on the number
// of threads or on the order of the unions.
#include "components_driver.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "segscore/components.h"
#include "strided.h"
#include "thread_pool.h"

namespace segscore {
namespace {

int resolve(int threads) { return threads > 0 ? threads : default_threads(); }

// A 2-D or 3-D view as (Z, Y, X), axes reversed for F-raster numbering, 2-D as Z = 1.
struct Zyx {
  const void* data = nullptr;
  DType dtype = DType::U8;
  int64_t shape[3] = {1, 1, 1};
  int64_t strides[3] = {0, 0, 0};
};

Zyx to_zyx(const ArrayView& v, bool order_f) {
  if (v.ndim != 2 && v.ndim != 3)
    throw std::invalid_argument("segscore: connected components need a 2-D or 3-D array");
  Zyx z;
  z.data = v.data;
  z.dtype = v.dtype;
  const int off = 3 - v.ndim;
  for (int d = 0; d < v.ndim; ++d) {
    const int s = order_f ? v.ndim - 1 - d : d;
    z.shape[off + d] = v.shape[s];
    z.strides[off + d] = v.strides[s];
  }
  return z;
}

// Whether `v` is negative (signed types only).
template <typename T>
inline bool is_negative(T v) {
  if constexpr (std::is_signed_v<T>) {
    return v < 0;
  } else {
    return false;
  }
}

// Skip a block of zeros of a contiguous line quickly: the index of the first block of 16
// holding a nonzero (or the tail start).
template <typename T>
inline int64_t skip_zero_blocks(const T* p, int64_t i, int64_t n) {
  while (i + 16 <= n) {
    T acc = 0;
    for (int k = 0; k < 16; ++k) acc |= p[i + k];
    if (acc) break;
    i += 16;
  }
  return i;
}

// The index of the first nonzero element of the contiguous p[0, n) (n when none), reading
// 64 bytes at a time: the labelling skips the empty lines of a contiguous array at the speed
// of memory instead of line by line.
template <typename T>
inline int64_t first_nonzero(const T* p, int64_t n) {
  const auto* b = reinterpret_cast<const unsigned char*>(p);
  const int64_t bytes = n * int64_t(sizeof(T));
  int64_t i = 0;
  for (; i + 64 <= bytes; i += 64) {
    uint64_t w[8];
    std::memcpy(w, b + i, 64);
    if ((w[0] | w[1] | w[2] | w[3] | w[4] | w[5] | w[6] | w[7]) != 0) break;
  }
  for (int64_t e = i / int64_t(sizeof(T)); e < n; ++e)
    if (p[e] != 0) return e;
  return n;
}

// The runs of one line: binary (nonzero stretches) or per label (stretches of one value).
template <typename T>
void scan_line(const T* p, int64_t s, int64_t n, bool binary, std::vector<int64_t>& x0, std::vector<int64_t>& x1,
               std::vector<uint64_t>& val, bool& neg) {
  int64_t i = 0;
  while (i < n) {
    if (s == 1) i = skip_zero_blocks(p, i, n);
    while (i < n && p[i * s] == 0) ++i;
    if (i >= n) break;
    const int64_t b = i;
    const T v = p[i * s];
    if (binary) {
      while (i < n && p[i * s] != 0) {
        neg |= is_negative(p[i * s]);
        ++i;
      }
    } else {
      neg |= is_negative(v);
      while (i < n && p[i * s] == v) ++i;
      val.push_back(uint64_t(int64_t(v)));
    }
    x0.push_back(b);
    x1.push_back(i);
  }
}

}  // namespace

// Whether to walk `v` in F raster (its axis 0 is the one contiguous in memory).
bool walk_f_of(const ArrayView& v) {
  const int last = v.ndim - 1;
  auto mag = [](int64_t s) { return s < 0 ? -s : s; };
  if (v.ndim < 2 || v.shape[0] <= 1) return false;
  return v.shape[last] <= 1 || mag(v.strides[0]) < mag(v.strides[last]);
}

CcLabels label_components(const ArrayView& in, const CcOptions& opt) {
  // The lines run along the axis contiguous in memory; when that raster is not the
  // numbering one, the ids are renumbered below (by first voxel in the numbering raster).
  const bool walk_f = (in.ndim == 2 || in.ndim == 3) && walk_f_of(in);
  const Zyx a = to_zyx(in, walk_f);
  if (opt.connectivity != 6 && opt.connectivity != 18 && opt.connectivity != 26)
    throw std::invalid_argument("segscore: connectivity must be 6, 18 or 26 here");
  CcLabels cc;
  cc.walk_f = walk_f;
  cc.ndim = in.ndim;
  cc.Z = a.shape[0];
  cc.Y = a.shape[1];
  cc.X = a.shape[2];
  const int64_t Y = cc.Y, X = cc.X;
  const int64_t L = cc.Z * cc.Y;
  cc.line_start.assign(size_t(L + 1), 0);
  if (L == 0 || X == 0) return cc;
  const int T = resolve(opt.threads);
  const int64_t k = std::max<int64_t>(1, std::min<int64_t>(T, L));
  auto block_begin = [&](int64_t c) { return L * c / k; };

  // 1. runs, per block of lines
  std::vector<std::vector<int64_t>> bx0(static_cast<size_t>(k)), bx1(static_cast<size_t>(k));
  std::vector<std::vector<uint64_t>> bval(static_cast<size_t>(k));
  std::vector<char> bneg(size_t(k), 0);
  dispatch_int(a.dtype, [&](auto tag) {
    using V = typename decltype(tag)::type;
    const V* base = static_cast<const V*>(a.data);
    // lines one after the other in memory: empty stretches are skipped a plane at a time
    const bool packed = a.strides[2] == 1 && a.strides[1] == X && (a.shape[0] == 1 || a.strides[0] == Y * X);
    parallel_items(k, T, [&](int64_t c, int) {
      bool neg = false;
      auto& x0 = bx0[size_t(c)];
      auto& x1 = bx1[size_t(c)];
      const int64_t e = block_begin(c + 1);
      for (int64_t l = block_begin(c); l < e; ++l) {
        if (packed) {  // jump to the line of the next nonzero element (e when none)
          l += first_nonzero(base + l * X, (e - l) * X) / X;
          if (l >= e) break;
        }
        const int64_t z = l / Y, y = l - z * Y;
        const size_t before = x0.size();
        scan_line(base + z * a.strides[0] + y * a.strides[1], a.strides[2], X, opt.binary, x0, x1, bval[size_t(c)], neg);
        cc.line_start[size_t(l + 1)] = int64_t(x0.size() - before);
      }
      bneg[size_t(c)] = neg;
    });
  });
  for (int64_t l = 0; l < L; ++l) cc.line_start[size_t(l + 1)] += cc.line_start[size_t(l)];
  const int64_t R = cc.line_start[size_t(L)];
  cc.x0.resize(size_t(R));
  cc.x1.resize(size_t(R));
  std::vector<uint64_t> val(opt.binary ? 0 : size_t(R));
  for (int64_t c = 0; c < k; ++c) {
    const int64_t at = cc.line_start[size_t(block_begin(c))];
    std::copy(bx0[size_t(c)].begin(), bx0[size_t(c)].end(), cc.x0.begin() + at);
    std::copy(bx1[size_t(c)].begin(), bx1[size_t(c)].end(), cc.x1.begin() + at);
    if (!opt.binary) std::copy(bval[size_t(c)].begin(), bval[size_t(c)].end(), val.begin() + at);
    cc.negative |= bneg[size_t(c)] != 0;
    std::vector<int64_t>().swap(bx0[size_t(c)]);
    std::vector<int64_t>().swap(bx1[size_t(c)]);
  }

  // 2. union-find over runs
  std::vector<int64_t> parent(static_cast<size_t>(R));
  std::iota(parent.begin(), parent.end(), int64_t(0));
  CcLineNeighbour nb[4];
  const int nn = cc_line_neighbours(opt.connectivity, nb);
  const int64_t* ls = cc.line_start.data();
  const int64_t* rx0 = cc.x0.data();
  const int64_t* rx1 = cc.x1.data();
  int64_t* par = parent.data();
  const bool binary = opt.binary;
  // join the runs of line l with those of the earlier line q that touch them
  auto join_lines = [&](int64_t l, int64_t q, int tol) {
    int64_t j = ls[q];
    const int64_t je = ls[q + 1], ie = ls[l + 1];
    if (j == je) return;
    for (int64_t i = ls[l]; i < ie; ++i) {
      while (j < je && rx1[j] + tol <= rx0[i]) ++j;
      for (int64_t m = j; m < je && rx0[m] < rx1[i] + tol; ++m)
        if (binary || val[size_t(m)] == val[size_t(i)]) cc_unite(par, i, m);
    }
  };
  // the earlier neighbour line of l (or -1)
  // the earlier neighbour line of line l = (z, y) (or -1); one division per line, not per neighbour
  auto neighbour = [&](int64_t l, int64_t z, int64_t y, const CcLineNeighbour& d) -> int64_t {
    if (z + d.dz < 0 || y + d.dy < 0 || y + d.dy >= Y) return -1;
    return l + d.dz * Y + d.dy;
  };
  parallel_items(k, T, [&](int64_t c, int) {
    const int64_t b = block_begin(c), e = block_begin(c + 1);
    for (int64_t l = b; l < e; ++l) {
      if (ls[l] == ls[l + 1]) continue;
      const int64_t z = l / Y, y = l - z * Y;
      for (int t = 0; t < nn; ++t) {
        const int64_t q = neighbour(l, z, y, nb[t]);
        if (q >= b) join_lines(l, q, nb[t].tol);
      }
    }
  });
  for (int64_t c = 1; c < k; ++c) {  // the block seams
    const int64_t b = block_begin(c), e = std::min(block_begin(c + 1), b + Y + 1);
    for (int64_t l = b; l < e; ++l) {
      if (ls[l] == ls[l + 1]) continue;
      const int64_t z = l / Y, y = l - z * Y;
      for (int t = 0; t < nn; ++t) {
        const int64_t q = neighbour(l, z, y, nb[t]);
        if (q >= 0 && q < b) join_lines(l, q, nb[t].tol);
      }
    }
  }

  // 3. ids: roots in raster order; parent[i] <= i, so one forward pass flattens
  cc.id.assign(size_t(R), 0);
  for (int64_t i = 0; i < R; ++i) par[i] = par[par[i]];
  std::vector<int64_t> size;
  if (opt.min_size > 1) {
    size.assign(size_t(R), 0);
    for (int64_t i = 0; i < R; ++i) size[size_t(par[i])] += rx1[i] - rx0[i];
  }
  int64_t n = 0;
  for (int64_t i = 0; i < R; ++i) {
    if (par[i] == i)
      cc.id[size_t(i)] = (size.empty() || size[size_t(i)] >= opt.min_size) ? ++n : 0;
    else
      cc.id[size_t(i)] = cc.id[size_t(par[i])];
  }
  cc.n = n;
  if (walk_f != opt.order_f && n > 1) {
    // The numbering raster is the walk's reversed: voxel (z, y, x) of the walk view has
    // index (x * Y + y) * Z + z there, and a run's first voxel in it is at x0.
    const int64_t Z = cc.Z;
    std::vector<int64_t> first(size_t(n), std::numeric_limits<int64_t>::max());
    for (int64_t l = 0; l < L; ++l) {
      const int64_t z = l / Y, y = l - z * Y;
      for (int64_t r = ls[l]; r < ls[l + 1]; ++r) {
        const int64_t id = cc.id[size_t(r)];
        if (id == 0) continue;
        const int64_t k = (rx0[r] * Y + y) * Z + z;
        if (k < first[size_t(id - 1)]) first[size_t(id - 1)] = k;
      }
    }
    std::vector<int64_t> by(static_cast<size_t>(n));
    std::iota(by.begin(), by.end(), int64_t(0));
    std::sort(by.begin(), by.end(), [&](int64_t u, int64_t v) { return first[size_t(u)] < first[size_t(v)]; });
    std::vector<int64_t> renum(size_t(n) + 1, 0);
    for (int64_t k = 0; k < n; ++k) renum[size_t(by[size_t(k)] + 1)] = k + 1;
    for (auto& id : cc.id) id = renum[size_t(id)];
  }
  return cc;
}

void paint_components(const CcLabels& cc, const ArrayView& out, bool contiguous, int threads) {
  const Zyx o = to_zyx(out, cc.walk_f);
  if (o.shape[0] != cc.Z || o.shape[1] != cc.Y || o.shape[2] != cc.X)
    throw std::invalid_argument("segscore: the output of connected components has the wrong shape");
  if (o.dtype != DType::I32 && o.dtype != DType::I64)
    throw std::invalid_argument("segscore: the output of connected components must be int32 or int64");
  const int64_t L = cc.Z * cc.Y, Y = cc.Y, X = cc.X;
  if (L == 0 || X == 0) return;
  auto run = [&](auto* base) {
    using I = std::remove_pointer_t<decltype(base)>;
    const int64_t s = o.strides[2];
    if (contiguous && s != 1) {
      // lines across memory (the numbering raster is not the walk's): zero the buffer in
      // memory order, then write the runs only
      const int64_t total = cc.Z * Y * X;
      parallel_for(
          total, resolve(threads),
          [&](int64_t b, int64_t e, int) { std::fill(base + b, base + e, I(0)); }, 1 << 16);
      parallel_for(
          L, resolve(threads),
          [&](int64_t b, int64_t e, int) {
            for (int64_t l = b; l < e; ++l) {
              const int64_t z = l / Y, y = l - z * Y;
              I* p = base + z * o.strides[0] + y * o.strides[1];
              for (int64_t r = cc.line_start[size_t(l)], re = cc.line_start[size_t(l + 1)]; r < re; ++r) {
                const I v = I(cc.id[size_t(r)]);
                for (int64_t x = cc.x0[size_t(r)]; x < cc.x1[size_t(r)]; ++x) p[x * s] = v;
              }
            }
          },
          64);
      return;
    }
    parallel_for(
        L, resolve(threads),
        [&](int64_t b, int64_t e, int) {
          for (int64_t l = b; l < e; ++l) {
            const int64_t z = l / Y, y = l - z * Y;
            I* p = base + z * o.strides[0] + y * o.strides[1];
            auto fill = [&](int64_t from, int64_t to, I v) {
              if (s == 1) {
                std::fill(p + from, p + to, v);
              } else {
                for (int64_t x = from; x < to; ++x) p[x * s] = v;
              }
            };
            int64_t x = 0;
            for (int64_t r = cc.line_start[size_t(l)], re = cc.line_start[size_t(l + 1)]; r < re; ++r) {
              fill(x, cc.x0[size_t(r)], I(0));
              fill(cc.x0[size_t(r)], cc.x1[size_t(r)], I(cc.id[size_t(r)]));
              x = cc.x1[size_t(r)];
            }
            fill(x, X, I(0));
          }
        },
        64);
  };
  if (o.dtype == DType::I32)
    run(static_cast<int32_t*>(const_cast<void*>(o.data)));
  else
    run(static_cast<int64_t*>(const_cast<void*>(o.data)));
}

// ---------------------------------------------------------------------------------------
// Run-based statistics, overlap and box painting: O(lines + runs), never a voxel pass.
namespace {

// The input axis of walk axis w (0 = Z, 1 = Y, 2 = X); -1 for the Z of a 2-D input.
int input_axis(const CcLabels& cc, int w) {
  const int off = 3 - cc.ndim;
  if (w < off) return -1;
  const int d = w - off;
  return cc.walk_f ? cc.ndim - 1 - d : d;
}

}  // namespace

CcRunStats run_stats(const CcLabels& cc) {
  CcRunStats st;
  const int nd = cc.ndim;
  const int64_t n = cc.n;
  st.ndim = nd;
  st.n = n;
  st.voxels.assign(size_t(n + 1), 0);
  // walk-view boxes, (n + 1) * 3
  std::vector<int64_t> wlo(size_t(n + 1) * 3, std::numeric_limits<int64_t>::max()), whi(size_t(n + 1) * 3, -1);
  const int64_t L = cc.Z * cc.Y, Y = cc.Y;
  for (int64_t l = 0; l < L; ++l) {
    const int64_t rb = cc.line_start[size_t(l)], re = cc.line_start[size_t(l + 1)];
    if (rb == re) continue;
    const int64_t z = l / Y, y = l - z * Y;
    for (int64_t r = rb; r < re; ++r) {
      const int64_t id = cc.id[size_t(r)];
      if (id == 0) continue;
      const int64_t x0 = cc.x0[size_t(r)], x1 = cc.x1[size_t(r)];
      st.voxels[size_t(id)] += x1 - x0;
      int64_t* lo = &wlo[size_t(id) * 3];
      int64_t* hi = &whi[size_t(id) * 3];
      // lines come in raster order: the first run of an id has its smallest z
      if (z < lo[0]) lo[0] = z;
      hi[0] = z;
      if (y < lo[1]) lo[1] = y;
      if (y > hi[1]) hi[1] = y;
      if (x0 < lo[2]) lo[2] = x0;
      if (x1 - 1 > hi[2]) hi[2] = x1 - 1;
    }
  }
  st.lo.assign(size_t(n + 1) * size_t(nd), 0);
  st.hi.assign(size_t(n + 1) * size_t(nd), -1);
  for (int64_t id = 1; id <= n; ++id) {
    if (st.voxels[size_t(id)] == 0) continue;
    for (int w = 0; w < 3; ++w) {
      const int d = input_axis(cc, w);
      if (d < 0) continue;
      st.lo[size_t(id) * size_t(nd) + size_t(d)] = wlo[size_t(id) * 3 + size_t(w)];
      st.hi[size_t(id) * size_t(nd) + size_t(d)] = whi[size_t(id) * 3 + size_t(w)];
    }
  }
  return st;
}

std::vector<int64_t> run_overlap(const CcLabels& a, const CcLabels& b, int threads) {
  if (a.Z != b.Z || a.Y != b.Y || a.X != b.X || a.ndim != b.ndim || a.walk_f != b.walk_f)
    throw std::invalid_argument("segscore: run_overlap needs two labellings of one shape walked in the same raster");
  const int64_t L = a.Z * a.Y;
  const int T = resolve(threads);
  const int64_t k = std::max<int64_t>(1, std::min<int64_t>(T, L / 4096 + 1));
  std::vector<std::vector<std::pair<uint64_t, int64_t>>> part(static_cast<size_t>(k));
  parallel_items(L > 0 ? k : 0, T, [&](int64_t c, int) {
    auto& out = part[size_t(c)];
    for (int64_t l = L * c / k, e = L * (c + 1) / k; l < e; ++l) {
      int64_t i = a.line_start[size_t(l)], j = b.line_start[size_t(l)];
      const int64_t ie = a.line_start[size_t(l + 1)], je = b.line_start[size_t(l + 1)];
      while (i < ie && j < je) {
        const int64_t ax1 = a.x1[size_t(i)], bx1 = b.x1[size_t(j)];
        const int64_t lo = std::max(a.x0[size_t(i)], b.x0[size_t(j)]), hi = std::min(ax1, bx1);
        if (lo < hi) {
          const int64_t p = a.id[size_t(i)], r = b.id[size_t(j)];
          if (p != 0 && r != 0) {
            const uint64_t key = (uint64_t(p) << 32) | uint64_t(r);
            if (!out.empty() && out.back().first == key)
              out.back().second += hi - lo;
            else
              out.emplace_back(key, hi - lo);
          }
        }
        if (ax1 <= bx1) ++i;
        if (bx1 <= ax1) ++j;
      }
    }
  });
  std::vector<std::pair<uint64_t, int64_t>> all;
  for (auto& v : part) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  std::vector<int64_t> pairs;
  for (size_t i = 0; i < all.size();) {
    size_t j = i;
    int64_t c = 0;
    while (j < all.size() && all[j].first == all[i].first) c += all[j++].second;
    pairs.push_back(int64_t(all[i].first >> 32));
    pairs.push_back(int64_t(all[i].first & 0xFFFFFFFFu));
    pairs.push_back(c);
    i = j;
  }
  return pairs;
}

void paint_box(const CcLabels& cc, const int64_t* lo, const int64_t* hi, const std::vector<int64_t>& ids,
               int64_t value, const ArrayView& out) {
  const int nd = cc.ndim;
  if (out.ndim != nd) throw std::invalid_argument("segscore: paint_box: the output has the wrong dimensions");
  int64_t wlo[3] = {0, 0, 0}, whi[3] = {0, 0, 0};
  const int64_t wn[3] = {cc.Z, cc.Y, cc.X};
  for (int w = 0; w < 3; ++w) {
    const int d = input_axis(cc, w);
    if (d < 0) continue;
    wlo[w] = lo[d];
    whi[w] = hi[d];
    if (wlo[w] < 0 || whi[w] >= wn[w]) throw std::invalid_argument("segscore: paint_box: the box leaves the image");
    if (out.shape[d] != (whi[w] >= wlo[w] ? whi[w] - wlo[w] + 1 : 0))
      throw std::invalid_argument("segscore: paint_box: the output does not have the box's shape");
  }
  for (int w = 0; w < 3; ++w)
    if (whi[w] < wlo[w]) return;
  const Zyx o = to_zyx(out, cc.walk_f);
  std::vector<int64_t> sorted_ids(ids);
  std::sort(sorted_ids.begin(), sorted_ids.end());
  const bool all = sorted_ids.empty();
  auto wanted = [&](int64_t id) {
    if (id == 0) return false;
    if (all) return true;
    if (sorted_ids.size() <= 8) {
      for (int64_t v : sorted_ids)
        if (v == id) return true;
      return false;
    }
    return std::binary_search(sorted_ids.begin(), sorted_ids.end(), id);
  };
  const bool as_bool = out.dtype == DType::Bool;  // a bool output holds 0 / 1 bytes only
  dispatch_int(out.dtype, [&](auto tag) {
    using I = typename decltype(tag)::type;
    I* base = static_cast<I*>(const_cast<void*>(o.data));
    const int64_t sx = o.strides[2];
    for (int64_t z = wlo[0]; z <= whi[0]; ++z)
      for (int64_t y = wlo[1]; y <= whi[1]; ++y) {
        const int64_t l = z * cc.Y + y;
        const int64_t rb = cc.line_start[size_t(l)], re = cc.line_start[size_t(l + 1)];
        if (rb == re) continue;
        // the first run ending after the box's start
        const int64_t* x1 = cc.x1.data();
        int64_t r = std::upper_bound(x1 + rb, x1 + re, wlo[2]) - x1;
        I* p = base + (z - wlo[0]) * o.strides[0] + (y - wlo[1]) * o.strides[1];
        for (; r < re && cc.x0[size_t(r)] <= whi[2]; ++r) {
          const int64_t id = cc.id[size_t(r)];
          if (!wanted(id)) continue;
          const I v = as_bool ? I(1) : I(all ? id : value);
          const int64_t b = std::max(cc.x0[size_t(r)], wlo[2]) - wlo[2], e = std::min(cc.x1[size_t(r)] - 1, whi[2]) - wlo[2];
          for (int64_t x = b; x <= e; ++x) p[x * sx] = v;
        }
      }
  });
}

// ---------------------------------------------------------------------------------------
namespace {

// Checks one id: negative, above the limit; true when it may be used.
template <typename T>
inline bool usable_id(T v, int64_t limit, bool& neg, bool& big) {
  if constexpr (std::is_signed_v<T>) {
    if (v < 0) {
      neg = true;
      return false;
    }
  }
  if (uint64_t(v) > uint64_t(limit)) {
    big = true;
    return false;
  }
  return true;
}

// `v` as int64, uint64 values above INT64_MAX saturating to INT64_MAX.
template <typename T>
inline int64_t saturate_int64(T v) {
  if constexpr (std::is_same_v<T, uint64_t>) {
    return v > uint64_t(std::numeric_limits<int64_t>::max()) ? std::numeric_limits<int64_t>::max() : int64_t(v);
  } else {
    return int64_t(v);
  }
}

// C-order strides (in elements) of `shape`, for flat indices.
void c_strides(const ArrayView& a, int64_t* cs) {
  int64_t s = 1;
  for (int d = a.ndim - 1; d >= 0; --d) {
    cs[d] = s;
    s *= a.shape[d];
  }
}

// The axes of `a` in walking order: the line axis (smallest |stride|) last, the others by
// decreasing |stride|; axes of length 1 first (their stride is meaningless).  Stable, so a
// C-ordered array walks in C order and an F-ordered one in memory order.
void memory_axes(const ArrayView& a, int* axes) {
  const int nd = a.ndim;
  for (int d = 0; d < nd; ++d) axes[d] = d;
  auto key = [&](int d) {
    return a.shape[d] == 1 ? std::numeric_limits<int64_t>::max() : (a.strides[d] < 0 ? -a.strides[d] : a.strides[d]);
  };
  std::stable_sort(axes, axes + nd, [&](int x, int y) { return key(x) > key(y); });
}

// A map id (>= 0) -> int64 by open addressing (linear probing), sized by the number of ids
// it holds, not by the largest id: the per-block and per-thread tables of component_stats
// and overlap_table stay small whatever the ids (a map may hold ids up to 2**31 - 1).
class IdTable {
 public:
  IdTable() { reset(16); }
  // The value of `id`, inserted as `fresh` when absent (`inserted` says which).
  int64_t& get(int64_t id, int64_t fresh, bool& inserted) {
    if (id == last_id_) {
      inserted = false;
      return val_[last_at_];
    }
    size_t h = slot_of(id);
    while (key_[h] != id) {
      if (key_[h] < 0) {
        if (2 * (used_ + 1) > key_.size()) {
          grow();
          return get(id, fresh, inserted);
        }
        key_[h] = id;
        val_[h] = fresh;
        ++used_;
        inserted = true;
        last_id_ = id;
        last_at_ = h;
        return val_[h];
      }
      h = (h + 1) & (key_.size() - 1);
    }
    inserted = false;
    last_id_ = id;
    last_at_ = h;
    return val_[h];
  }
  // f(id, value) for every id held (in no particular order).
  template <typename F>
  void for_each(F&& f) const {
    for (size_t i = 0; i < key_.size(); ++i)
      if (key_[i] >= 0) f(key_[i], val_[i]);
  }
  size_t size() const { return used_; }

 private:
  std::vector<int64_t> key_, val_;  // key -1: empty
  size_t used_ = 0;
  int shift_ = 60;
  int64_t last_id_ = -1;
  size_t last_at_ = 0;
  size_t slot_of(int64_t id) const { return size_t((uint64_t(id) * 0x9E3779B97F4A7C15ull) >> shift_); }
  void reset(size_t cap) {
    key_.assign(cap, -1);
    val_.assign(cap, 0);
    used_ = 0;
    shift_ = 64;
    for (size_t c = cap; c > 1; c >>= 1) --shift_;
    last_id_ = -1;
  }
  void grow() {
    std::vector<int64_t> k = std::move(key_), v = std::move(val_);
    reset(k.size() * 2);
    bool ins = false;
    for (size_t i = 0; i < k.size(); ++i)
      if (k[i] >= 0) get(k[i], v[i], ins);
    last_id_ = -1;
  }
};

// One block of lines' statistics, ids in order of first appearance.
struct StatBlock {
  std::vector<int64_t> ids, cnt, lo, hi;
  std::vector<__int128> csum;
  std::vector<double> vmax, vsum;
  std::vector<int64_t> amax;
  bool neg = false, big = false, nan = false;
};

}  // namespace

CcStats component_stats(const ArrayView& lab, const ArrayView* values, int64_t id_limit, int threads) {
  const int nd = lab.ndim;
  if (nd < 1 || nd > kMaxDim) throw std::invalid_argument("segscore: component_stats needs 1 to 8 axes");
  if (values) {
    if (values->ndim != nd) throw std::invalid_argument("segscore: values must have the labels' shape");
    for (int d = 0; d < nd; ++d)
      if (values->shape[d] != lab.shape[d]) throw std::invalid_argument("segscore: values must have the labels' shape");
    if (values->dtype != DType::F32 && values->dtype != DType::F64)
      throw std::invalid_argument("segscore: values must be float32 or float64");
  }
  int axes[kMaxDim];
  memory_axes(lab, axes);
  const int la = axes[nd - 1];  // the line axis
  const int64_t* strides[2] = {lab.strides, values ? values->strides : lab.strides};
  const Lines<2> g = make_lines<2>(nd, axes, lab.shape, strides, 0);
  int64_t cs[kMaxDim];
  c_strides(lab, cs);
  CcStats st;
  st.ndim = nd;
  const int64_t lines = g.lines;
  // fixed blocks of lines (a function of the shape and the walking order only): the float
  // sums are added per block in walking order, then block after block
  const int64_t per = std::max<int64_t>(1, (lines + 255) / 256);
  const int64_t nblocks = lines > 0 ? (lines + per - 1) / per : 0;
  std::vector<StatBlock> blocks(static_cast<size_t>(nblocks));
  const int T = resolve(threads);

  dispatch_int(lab.dtype, [&](auto ltag) {
    using L = typename decltype(ltag)::type;
    auto go = [&](auto vtag) {
      using V = typename decltype(vtag)::type;  // void: no values
      constexpr bool has_v = !std::is_same_v<V, void>;
      parallel_items(nblocks, T, [&](int64_t bi, int w) {
        StatBlock& B = blocks[size_t(bi)];
        IdTable slot;  // id -> its index in the block
        int64_t idx[kMaxDim] = {};
        g.walk(bi * per, std::min(lines, (bi + 1) * per), [&](int64_t line, int64_t, int64_t n, const int64_t* off) {
          // coordinates of the line's other axes, and the C-order flat index of its element 0
          int64_t r = line, flat0 = 0;
          for (int k = nd - 2; k >= 0; --k) {
            const int d = axes[k];
            idx[d] = r % lab.shape[d];
            r /= lab.shape[d];
            flat0 += idx[d] * cs[d];
          }
          const int64_t cl = cs[la];
          const L* p = static_cast<const L*>(lab.data) + off[0];
          const int64_t s = g.step(0);
          int64_t i = 0;
          while (i < n) {
            if (s == 1) i = skip_zero_blocks(p, i, n);
            while (i < n && p[i * s] == 0) ++i;
            if (i >= n) break;
            const L v = p[i * s];
            int64_t j = i + 1;
            while (j < n && p[j * s] == v) ++j;
            if (usable_id(v, id_limit, B.neg, B.big)) {
              const int64_t id = int64_t(v);
              bool fresh = false;
              const int64_t k = slot.get(id, int64_t(B.ids.size()), fresh);
              if (fresh) {
                B.ids.push_back(id);
                B.cnt.push_back(0);
                for (int d = 0; d < nd; ++d) {
                  B.lo.push_back(std::numeric_limits<int64_t>::max());
                  B.hi.push_back(-1);
                  B.csum.push_back(0);
                }
                if (has_v) {
                  B.vmax.push_back(0.0);
                  B.vsum.push_back(0.0);
                  B.amax.push_back(-1);
                }
              }
              const int64_t len = j - i;
              B.cnt[size_t(k)] += len;
              for (int d = 0; d < nd; ++d) {
                const size_t q = size_t(k) * size_t(nd) + size_t(d);
                const int64_t a = d == la ? i : idx[d], b = d == la ? j - 1 : idx[d];
                B.lo[q] = std::min(B.lo[q], a);
                B.hi[q] = std::max(B.hi[q], b);
                B.csum[q] += d == la ? __int128(i + j - 1) * len / 2 : __int128(idx[d]) * len;
              }
              if constexpr (has_v) {
                const V* pv = static_cast<const V*>(values->data) + off[1];
                const int64_t sv = g.step(1);
                double mx = B.vmax[size_t(k)], sm = B.vsum[size_t(k)];
                int64_t am = B.amax[size_t(k)];
                for (int64_t t = i; t < j; ++t) {
                  const double x = double(pv[t * sv]);
                  if (x != x) B.nan = true;
                  const int64_t flat = flat0 + t * cl;
                  if (am < 0 || x > mx || (x == mx && flat < am)) {  // ties: the first voxel in C order
                    mx = x;
                    am = flat;
                  }
                  sm += x;
                }
                B.vmax[size_t(k)] = mx;
                B.vsum[size_t(k)] = sm;
                B.amax[size_t(k)] = am;
              }
            }
            i = j;
          }
        });
      });
    };
    if (!values)
      go(Tag<void>{});
    else if (values->dtype == DType::F32)
      go(Tag<float>{});
    else
      go(Tag<double>{});
  });

  int64_t n = 0;
  for (const auto& B : blocks) {
    st.negative |= B.neg;
    st.too_large |= B.big;
    st.nan |= B.nan;
    for (int64_t id : B.ids) n = std::max(n, id);
  }
  st.n = n;
  st.voxels.assign(size_t(n), 0);
  st.lo.assign(size_t(n * nd), -1);
  st.hi.assign(size_t(n * nd), -1);
  std::vector<__int128> csum(size_t(n * nd), 0);
  if (values) {
    st.vmax.assign(size_t(n), std::numeric_limits<double>::quiet_NaN());
    st.vsum.assign(size_t(n), 0.0);
    st.argmax.assign(size_t(n), -1);
  }
  for (const auto& B : blocks) {
    for (size_t k = 0; k < B.ids.size(); ++k) {
      const size_t id = size_t(B.ids[k] - 1);  // ids >= 1 (0 is background)
      const bool first = st.voxels[id] == 0;
      st.voxels[id] += B.cnt[k];
      for (int d = 0; d < nd; ++d) {
        const size_t q = id * size_t(nd) + size_t(d), qb = k * size_t(nd) + size_t(d);
        st.lo[q] = first ? B.lo[qb] : std::min(st.lo[q], B.lo[qb]);
        st.hi[q] = first ? B.hi[qb] : std::max(st.hi[q], B.hi[qb]);
        csum[q] += B.csum[qb];
      }
      if (values) {
        if (first || B.vmax[k] > st.vmax[id] || (B.vmax[k] == st.vmax[id] && B.amax[k] < st.argmax[id])) {
          st.vmax[id] = B.vmax[k];
          st.argmax[id] = B.amax[k];
        }
        st.vsum[id] = first ? B.vsum[k] : st.vsum[id] + B.vsum[k];
      }
    }
  }
  st.mean_index.assign(size_t(n * nd), std::numeric_limits<double>::quiet_NaN());
  for (int64_t id = 0; id < n; ++id)
    if (st.voxels[size_t(id)] > 0)
      for (int d = 0; d < nd; ++d) {
        const size_t q = size_t(id) * size_t(nd) + size_t(d);
        st.mean_index[q] = double(static_cast<long double>(csum[q]) / static_cast<long double>(st.voxels[size_t(id)]));
      }
  return st;
}

// ---------------------------------------------------------------------------------------

CcOverlap overlap_table(const ArrayView& pred, const ArrayView& ref, int64_t id_limit, int threads) {
  const int nd = pred.ndim;
  if (nd < 1 || nd > kMaxDim || ref.ndim != nd) throw std::invalid_argument("segscore: overlap_table: bad dimensions");
  for (int d = 0; d < nd; ++d)
    if (pred.shape[d] != ref.shape[d]) throw std::invalid_argument("segscore: overlap_table: shape mismatch");
  int axes[kMaxDim];
  memory_axes(pred, axes);  // counts are exact: any walking order gives the same table
  const int64_t* strides[2] = {pred.strides, ref.strides};
  const Lines<2> g = make_lines<2>(nd, axes, pred.shape, strides, 0);
  const int T = resolve(threads);
  struct Acc {
    IdTable pc, rc;  // id -> voxels
    std::vector<std::pair<uint64_t, int64_t>> pairs;
    bool neg = false, big = false;
  };
  const int64_t lines = g.lines;
  const int64_t k = std::max<int64_t>(1, std::min<int64_t>(T, lines));
  std::vector<Acc> acc(static_cast<size_t>(k));

  auto count = [&](auto ptag, auto rtag, bool convert_ref) {
    using P = typename decltype(ptag)::type;
    using R = typename decltype(rtag)::type;
    parallel_items(lines > 0 ? k : 0, T, [&](int64_t c, int) {
      Acc& A = acc[size_t(c)];
      std::vector<int64_t> buf(convert_ref ? size_t(g.n) : 0);
      g.walk(lines * c / k, lines * (c + 1) / k, [&](int64_t, int64_t, int64_t n, const int64_t* off) {
        const P* pp = static_cast<const P*>(pred.data) + off[0];
        const R* rp;
        int64_t sr;
        if (convert_ref) {
          dispatch_int(ref.dtype, [&](auto t) {
            using U = typename decltype(t)::type;
            const U* q = static_cast<const U*>(ref.data) + off[1];
            // uint64 ids >= 2**63 saturate (read as "above the limit", never as negative)
            for (int64_t x = 0; x < n; ++x) buf[size_t(x)] = saturate_int64(q[x * g.step(1)]);
          });
          rp = reinterpret_cast<const R*>(buf.data());
          sr = 1;
        } else {
          rp = static_cast<const R*>(ref.data) + off[1];
          sr = g.step(1);
        }
        const int64_t sp = g.step(0);
        int64_t i = 0;
        while (i < n) {
          if (sp == 1 && sr == 1) {
            while (i + 16 <= n) {
              P a = 0;
              R b = 0;
              for (int t = 0; t < 16; ++t) {
                a |= pp[i + t];
                b |= rp[i + t];
              }
              if (a || b) break;
              i += 16;
            }
          }
          while (i < n && pp[i * sp] == 0 && rp[i * sr] == 0) ++i;
          if (i >= n) break;
          const P pv = pp[i * sp];
          const R rv = rp[i * sr];
          int64_t j = i + 1;
          while (j < n && pp[j * sp] == pv && rp[j * sr] == rv) ++j;
          const int64_t len = j - i;
          const bool pok = pv != 0 && usable_id(pv, id_limit, A.neg, A.big);
          const bool rok = rv != 0 && usable_id(rv, id_limit, A.neg, A.big);
          bool fresh = false;
          if (pok) A.pc.get(int64_t(pv), 0, fresh) += len;
          if (rok) A.rc.get(int64_t(rv), 0, fresh) += len;
          if (pok && rok) {
            const uint64_t key = (uint64_t(pv) << 32) | uint64_t(rv);
            if (!A.pairs.empty() && A.pairs.back().first == key)
              A.pairs.back().second += len;
            else
              A.pairs.emplace_back(key, len);
          }
          i = j;
        }
      });
    });
  };
  dispatch_int(pred.dtype, [&](auto ptag) {
    if (pred.dtype == ref.dtype)
      count(ptag, ptag, false);
    else
      count(ptag, Tag<int64_t>{}, true);
  });

  CcOverlap out;
  int64_t np = 0, nr = 0;
  size_t npairs = 0;
  for (const auto& A : acc) {
    out.negative |= A.neg;
    out.too_large |= A.big;
    A.pc.for_each([&](int64_t id, int64_t) { np = std::max(np, id); });
    A.rc.for_each([&](int64_t id, int64_t) { nr = std::max(nr, id); });
    npairs += A.pairs.size();
  }
  // the outputs are indexed by id - 1 (their length is the largest id, as the API says)
  out.pred_voxels.assign(size_t(np), 0);
  out.ref_voxels.assign(size_t(nr), 0);
  std::vector<std::pair<uint64_t, int64_t>> all;
  all.reserve(npairs);
  for (auto& A : acc) {
    A.pc.for_each([&](int64_t id, int64_t c) { out.pred_voxels[size_t(id - 1)] += c; });
    A.rc.for_each([&](int64_t id, int64_t c) { out.ref_voxels[size_t(id - 1)] += c; });
    all.insert(all.end(), A.pairs.begin(), A.pairs.end());
  }
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (size_t i = 0; i < all.size();) {
    size_t j = i;
    int64_t c = 0;
    while (j < all.size() && all[j].first == all[i].first) c += all[j++].second;
    out.pairs.push_back(int64_t(all[i].first >> 32));
    out.pairs.push_back(int64_t(all[i].first & 0xFFFFFFFFu));
    out.pairs.push_back(c);
    i = j;
  }
  return out;
}

}  // namespace segscore
