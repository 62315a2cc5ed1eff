// Exact nearest-neighbour search over boundary points (integer grid
// coordinates, anisotropic spacing).  Cost follows the surface, not the
// volume of the crop.  Distances are computed with grid_dist2, i.e. exactly
// as scipy's EDT with `sampling` would report them.
#pragma once
#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "segscore/surface.h"

namespace segscore {

// A k-d tree over grid cells: the points are bucketed into cells by one
// counting sort (O(n)), and the tree is built over the non-empty cells (a few
// per cent of the points), each leaf one cell with the tight box of its
// points.  Queries prune with a box bound that is never above the distance of
// a point inside, so nearest2 returns the minimum of grid_dist2 over all
// points, exactly.
class CellTree {
 public:
  // pts: n points of nd non-negative coordinates, each below dims[d].
  CellTree(const int32_t* pts, int64_t n, int nd, const double* spacing, const int64_t* dims) : nd_(nd), n_(n) {
    for (int d = 0; d < nd; ++d) sp_[d] = spacing[d];
    if (n == 0) return;
    // cell edges: about the same length in mm on every axis, 4 voxels along the finest
    double smin = spacing[0];
    for (int d = 1; d < nd; ++d) smin = std::min(smin, spacing[d]);
    int64_t cs[3] = {1, 1, 1}, gd[3] = {1, 1, 1};
    double edge = 4.0 * smin;
    for (;;) {
      int64_t cells = 1;
      for (int d = 0; d < nd; ++d) {
        cs[d] = std::max<int64_t>(1, int64_t(edge / spacing[d] + 0.5));
        gd[d] = (dims[d] + cs[d] - 1) / cs[d];
        cells *= gd[d];
      }
      if (cells <= std::max<int64_t>(4 * n, 4096)) break;  // bound the count array
      edge *= 2.0;
    }
    int64_t gs[3] = {0, 0, 0}, ncell = 1;
    for (int d = nd - 1; d >= 0; --d) {
      gs[d] = ncell;
      ncell *= gd[d];
    }
    // counting sort of the points by cell
    std::vector<uint32_t> cell_of(static_cast<size_t>(n));
    std::vector<int64_t> start(static_cast<size_t>(ncell + 1), 0);
    for (int64_t i = 0; i < n; ++i) {
      int64_t id = 0;
      for (int d = 0; d < nd; ++d) id += (pts[i * nd + d] / cs[d]) * gs[d];
      cell_of[i] = uint32_t(id);
      ++start[id + 1];
    }
    std::vector<Cell> cells;
    for (int64_t c = 0; c < ncell; ++c) {
      if (start[c + 1]) cells.push_back(Cell{start[c], start[c] + start[c + 1], {0, 0, 0}, {0, 0, 0}});
      start[c + 1] += start[c];
    }
    pts_.resize(size_t(n * nd));
    for (int64_t i = 0; i < n; ++i) {
      const int64_t at = start[cell_of[i]]++;
      for (int d = 0; d < nd; ++d) pts_[at * nd + d] = pts[i * nd + d];
    }
    for (Cell& c : cells) {
      for (int d = 0; d < 3; ++d) {
        c.lo[d] = d < nd ? std::numeric_limits<int32_t>::max() : 0;
        c.hi[d] = d < nd ? std::numeric_limits<int32_t>::min() : 0;
      }
      for (int64_t i = c.begin; i < c.end; ++i)
        for (int d = 0; d < nd; ++d) {
          c.lo[d] = std::min(c.lo[d], pts_[i * nd + d]);
          c.hi[d] = std::max(c.hi[d], pts_[i * nd + d]);
        }
    }
    nodes_.reserve(2 * cells.size());
    build(cells, 0, int64_t(cells.size()));
  }

  bool empty() const { return n_ == 0; }
  const int32_t* point(int64_t i) const { return &pts_[i * nd_]; }

  // Squared distance to the nearest point; *arg indexes point().
  double nearest2(const int32_t* q, double hint, int64_t* arg) const {
    double best = hint;
    if (n_ == 0) return best;
    int32_t stack[128];
    int sp = 0;
    stack[sp++] = 0;
    while (sp) {
      const Node& nd = nodes_[stack[--sp]];
      if (box_dist2(nd, q) > best) continue;
      if (nd.left < 0) {
        for (int64_t i = nd.begin; i < nd.end; ++i) {
          const double d2 = grid_dist2(&pts_[i * nd_], q, sp_, nd_);
          if (d2 < best) {
            best = d2;
            *arg = i;
          }
        }
        continue;
      }
      const int32_t a = nd.left, b = nd.right;
      const double da = box_dist2(nodes_[a], q), db = box_dist2(nodes_[b], q);
      if (da <= db) {
        if (db <= best) stack[sp++] = b;
        if (da <= best) stack[sp++] = a;
      } else {
        if (da <= best) stack[sp++] = a;
        if (db <= best) stack[sp++] = b;
      }
    }
    return best;
  }

 private:
  struct Cell {
    int64_t begin, end;  // point range in pts_
    int32_t lo[3], hi[3];
  };
  struct Node {
    int32_t lo[3], hi[3];
    int32_t left = -1, right = -1;
    int64_t begin = 0, end = 0;  // leaf: point range
  };

  double box_dist2(const Node& n, const int32_t* q) const {
    double s = 0.0;
    for (int d = 0; d < nd_; ++d) {
      int32_t t = 0;
      if (q[d] < n.lo[d]) t = n.lo[d] - q[d];
      else if (q[d] > n.hi[d]) t = q[d] - n.hi[d];
      const double u = double(t) * sp_[d];
      s += u * u;
    }
    return s;
  }

  int32_t build(std::vector<Cell>& c, int64_t b, int64_t e) {
    const int32_t id = int32_t(nodes_.size());
    nodes_.push_back(Node{});
    Node nd;
    for (int d = 0; d < 3; ++d) {
      nd.lo[d] = c[b].lo[d];
      nd.hi[d] = c[b].hi[d];
    }
    for (int64_t i = b + 1; i < e; ++i)
      for (int d = 0; d < 3; ++d) {
        nd.lo[d] = std::min(nd.lo[d], c[i].lo[d]);
        nd.hi[d] = std::max(nd.hi[d], c[i].hi[d]);
      }
    if (e - b == 1) {
      nd.begin = c[b].begin;
      nd.end = c[b].end;
      nodes_[id] = nd;
      return id;
    }
    int axis = 0;
    double ext = -1;
    for (int d = 0; d < nd_; ++d) {
      const double x = double(nd.hi[d] - nd.lo[d]) * sp_[d];
      if (x > ext) {
        ext = x;
        axis = d;
      }
    }
    const int64_t m = b + (e - b) / 2;
    std::nth_element(c.begin() + b, c.begin() + m, c.begin() + e, [axis](const Cell& x, const Cell& y) {
      return int64_t(x.lo[axis]) + x.hi[axis] < int64_t(y.lo[axis]) + y.hi[axis];
    });
    nd.left = build(c, b, m);
    nd.right = build(c, m, e);
    nodes_[id] = nd;
    return id;
  }

  int nd_;
  int64_t n_;
  double sp_[3] = {1, 1, 1};
  std::vector<int32_t> pts_;
  std::vector<Node> nodes_;
};

}  // namespace segscore
