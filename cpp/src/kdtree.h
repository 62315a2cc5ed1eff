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

class KdTree {
 public:
  static constexpr int kLeaf = 12;

  KdTree(const int32_t* pts, int64_t n, int nd, const double* spacing) : nd_(nd), n_(n) {
    for (int d = 0; d < nd; ++d) sp_[d] = spacing[d];
    if (n == 0) return;
    // Build on a contiguous copy of the points (3 coordinates each, padded
    // with 0): nth_element and the box scans move and read the points
    // themselves, not indices into them, so the build streams through memory.
    std::vector<P3> work(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i)
      for (int d = 0; d < 3; ++d) work[i].v[d] = d < nd ? pts[i * nd + d] : 0;
    nodes_.reserve(size_t(2 * n / kLeaf + 2));
    build(work, 0, n);
    // store points in leaf order for locality
    pts_.resize(size_t(n * nd));
    for (int64_t i = 0; i < n; ++i)
      for (int d = 0; d < nd; ++d) pts_[i * nd + d] = work[i].v[d];
  }

  bool empty() const { return n_ == 0; }
  const int32_t* point(int64_t i) const { return &pts_[i * nd_]; }

  // Squared distance from q to the nearest point; `hint` is an upper bound
  // (e.g. from the previous query); pass +inf when none.
  // *arg receives the index (in point order of pts()) of the nearest point,
  // or is left unchanged when none beats the hint.
  double nearest2(const int32_t* q, double hint, int64_t* arg) const {
    double best = hint;
    int64_t stack[128];
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
      // visit the nearer child first
      const int64_t a = nd.left, b = nd.right;
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
  struct Node {
    int64_t begin, end;
    int64_t left = -1, right = -1;
    int32_t lo[3], hi[3];
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

  struct P3 {
    int32_t v[3];
  };

  int64_t build(std::vector<P3>& w, int64_t b, int64_t e) {
    const int64_t id = int64_t(nodes_.size());
    nodes_.push_back(Node{b, e, -1, -1, {0, 0, 0}, {0, 0, 0}});
    int32_t lo[3], hi[3];
    for (int d = 0; d < 3; ++d) {
      lo[d] = std::numeric_limits<int32_t>::max();
      hi[d] = std::numeric_limits<int32_t>::min();
    }
    for (int64_t i = b; i < e; ++i)
      for (int d = 0; d < 3; ++d) {
        const int32_t v = w[i].v[d];
        lo[d] = std::min(lo[d], v);
        hi[d] = std::max(hi[d], v);
      }
    for (int d = 0; d < 3; ++d) {
      nodes_[id].lo[d] = d < nd_ ? lo[d] : 0;
      nodes_[id].hi[d] = d < nd_ ? hi[d] : 0;
    }
    if (e - b <= kLeaf) return id;
    int axis = 0;
    double ext = -1;
    for (int d = 0; d < nd_; ++d) {
      const double x = double(hi[d] - lo[d]) * sp_[d];
      if (x > ext) {
        ext = x;
        axis = d;
      }
    }
    const int64_t m = b + (e - b) / 2;
    std::nth_element(w.begin() + b, w.begin() + m, w.begin() + e,
                     [axis](const P3& x, const P3& y) { return x.v[axis] < y.v[axis]; });
    const int64_t l = build(w, b, m);
    const int64_t r = build(w, m, e);
    nodes_[id].left = l;
    nodes_[id].right = r;
    return id;
  }

  int nd_;
  int64_t n_;
  double sp_[3] = {1, 1, 1};
  std::vector<int32_t> pts_;
  std::vector<Node> nodes_;
};

}  // namespace segscore
