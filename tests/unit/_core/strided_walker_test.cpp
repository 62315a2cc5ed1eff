// The strided n-d walker (cpp/src/strided.h) against brute force: units visit the
// elements of any grid in logical C order with the right offsets in every array, unit
// ranges split anywhere resume exactly, and copy_strided transposes any box.  Built and
// run by test_strided_walker.py; exit status 0 when every check passes.
#include <algorithm>
#include <cstdio>
#include <random>
#include <vector>

#include "strided.h"

using namespace segscore;

static int failures = 0;
#define CHECK(cond, ...)                                 \
  do {                                                   \
    if (!(cond)) {                                       \
      if (++failures < 20) {                             \
        std::printf("FAIL %s:%d: ", __FILE__, __LINE__); \
        std::printf(__VA_ARGS__);                        \
        std::printf("\n");                               \
      }                                                  \
    }                                                    \
  } while (0)

// Element offset of the C-order flat index `flat` of `shape` under `strides`.
static int64_t offset_of(int nd, const int64_t* shape, const int64_t* strides, int64_t flat) {
  int64_t off = 0;
  for (int d = nd - 1; d >= 0; --d) {
    off += (flat % shape[d]) * strides[d];
    flat /= shape[d];
  }
  return off;
}

static void test_walk(std::mt19937& rng) {
  for (int trial = 0; trial < 400; ++trial) {
    const int nd = int(rng() % 6);  // 0..5 axes
    int64_t shape[kMaxDim], s0[kMaxDim], s1[kMaxDim];
    int64_t total = 1;
    for (int d = 0; d < nd; ++d) {
      shape[d] = trial % 37 == 0 && d == 0 ? 0 : 1 + int64_t(rng() % 5);
      total *= shape[d];
    }
    // array 0: a random permutation of C order with gaps and a reversed axis; array 1: zero strides
    int64_t acc = 1;
    for (int d = nd - 1; d >= 0; --d) {
      s0[d] = acc * (1 + int64_t(rng() % 2));
      if (rng() % 4 == 0) s0[d] = -s0[d];
      acc *= shape[d] * 2;
      s1[d] = rng() % 3 == 0 ? 0 : int64_t(rng() % 7);
    }
    const int64_t* strides[2] = {s0, s1};
    int axes[kMaxDim];
    const int na = c_order_axes(nd, nd - 1, -1, axes);
    const int64_t seg = int64_t(rng() % 4);  // 0: whole lines
    const Lines<2> g = make_lines<2>(na, axes, shape, strides, seg);
    // one pass over all units
    int64_t flat = 0;
    bool order_ok = true;
    g.walk(0, g.units(), [&](int64_t, int64_t, int64_t len, const int64_t* off) {
      for (int64_t i = 0; i < len; ++i, ++flat) {
        order_ok &= off[0] + i * g.step(0) == offset_of(nd, shape, s0, flat);
        order_ok &= off[1] + i * g.step(1) == offset_of(nd, shape, s1, flat);
      }
    });
    CHECK(order_ok, "trial %d: offsets out of logical C order", trial);
    CHECK(flat == (nd == 0 ? 1 : total), "trial %d: visited %lld of %lld elements", trial, (long long)flat,
          (long long)total);
    // split at every unit boundary: the second half resumes where the first stopped
    for (int64_t cut = 0; cut <= g.units(); ++cut) {
      int64_t f = 0, expect_unit = 0;
      bool ok = true;
      auto check = [&](int64_t u, int64_t pos, int64_t len, const int64_t* off) {
        ok &= u == expect_unit++;
        ok &= pos == (u % g.nseg) * g.seg && len >= 1 && len <= g.seg;
        for (int64_t i = 0; i < len; ++i, ++f) ok &= off[0] + i * g.step(0) == offset_of(nd, shape, s0, f);
      };
      g.walk(0, cut, check);
      g.walk(cut, g.units(), check);
      CHECK(ok, "trial %d: split at unit %lld differs", trial, (long long)cut);
    }
  }
}

static void test_lines_along(std::mt19937& rng) {
  // lines along a middle axis, blocked along another: unit = (other axes in C order, blocks)
  const int64_t shape[4] = {3, 4, 5, 6};
  const int64_t st[4] = {120, 30, 6, 1};
  const int64_t* strides[1] = {st};
  int axes[kMaxDim];
  const int na = c_order_axes(4, 3, 1, axes);  // lines along 3 over the grid without axis 1
  CHECK(na == 3 && axes[0] == 0 && axes[1] == 2 && axes[2] == 3, "c_order_axes");
  const Lines<1> g = make_lines<1>(na, axes, shape, strides, 4);
  CHECK(g.units() == 3 * 5 * 2 && g.n == 6 && g.seg == 4 && g.nseg == 2, "blocked geometry");
  int64_t u_expect = 0;
  bool ok = true;
  g.walk(0, g.units(), [&](int64_t u, int64_t pos, int64_t len, const int64_t* off) {
    const int64_t line = u / 2, i0 = line / 5, i2 = line % 5;
    ok &= u == u_expect++ && pos == (u % 2) * 4 && len == (pos == 0 ? 4 : 2);
    ok &= off[0] == i0 * 120 + i2 * 6 + pos;
  });
  CHECK(ok, "blocked walk");
  (void)rng;
}

static void test_copy(std::mt19937& rng) {
  for (int trial = 0; trial < 200; ++trial) {
    const int nd = 1 + int(rng() % 5);
    int64_t ext[kMaxDim], sst[kMaxDim], dst[kMaxDim];
    int perm[kMaxDim];
    for (int d = 0; d < nd; ++d) {
      ext[d] = 1 + int64_t(rng() % 5);
      perm[d] = d;
    }
    std::shuffle(perm, perm + nd, rng);
    int64_t acc = 1;
    for (int i = nd - 1; i >= 0; --i) {  // source: axes in a random memory order, with gaps
      sst[perm[i]] = acc;
      acc *= ext[perm[i]] + int64_t(rng() % 2);
    }
    std::vector<int> src(static_cast<size_t>(acc));
    for (size_t i = 0; i < src.size(); ++i) src[i] = int(i * 7 + 3);
    int64_t n = 1;
    for (int d = nd - 1; d >= 0; --d) {
      dst[d] = n;
      n *= ext[d];
    }
    std::vector<int> out(static_cast<size_t>(n), -1);
    copy_strided<int>(nd, ext, src.data(), sst, out.data(), dst);
    bool ok = true;
    for (int64_t f = 0; f < n; ++f) ok &= out[size_t(f)] == src[size_t(offset_of(nd, ext, sst, f))];
    CHECK(ok, "copy_strided trial %d", trial);
  }
}

int main() {
  std::mt19937 rng(2024);
  test_walk(rng);
  test_lines_along(rng);
  test_copy(rng);
  if (failures) {
    std::printf("%d check(s) failed\n", failures);
    return 1;
  }
  std::printf("strided walker tests: all passed\n");
  return 0;
}
