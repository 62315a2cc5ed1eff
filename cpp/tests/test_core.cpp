// Stand-alone test driver for the C++ core (no Python): EDT, counting pass
// and boundary distances checked against brute force on small random inputs.
// Exit status 0 when every check passes.
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <vector>

#include "components_driver.h"
#include "edt_driver.h"
#include "overlap_driver.h"
#include "surface_driver.h"
#include "segscore/components.h"
#include "segscore/surfel_tables.h"

using namespace segscore;

static int failures = 0;
#define CHECK(cond, ...)                      \
  do {                                        \
    if (!(cond)) {                            \
      ++failures;                             \
      std::printf("FAIL %s:%d: ", __FILE__, __LINE__); \
      std::printf(__VA_ARGS__);               \
      std::printf("\n");                      \
    }                                         \
  } while (0)

static ArrayView view3(const void* data, DType dt, int64_t a, int64_t b, int64_t c) {
  ArrayView v;
  v.data = data;
  v.dtype = dt;
  v.ndim = 3;
  v.shape[0] = a; v.shape[1] = b; v.shape[2] = c;
  v.strides[0] = b * c; v.strides[1] = c; v.strides[2] = 1;
  return v;
}

static void test_edt(std::mt19937& rng) {
  for (int trial = 0; trial < 20; ++trial) {
    const int64_t A = 1 + rng() % 9, B = 1 + rng() % 9, C = 1 + rng() % 9;
    const double sp[3] = {0.5 + (rng() % 100) / 50.0, 0.5 + (rng() % 100) / 50.0, 0.5 + (rng() % 100) / 50.0};
    std::vector<uint8_t> m(A * B * C);
    for (auto& x : m) x = (rng() % 100) < 80;
    m[rng() % m.size()] = 0;
    std::vector<double> out(m.size());
    int64_t ostr[3] = {B * C, C, 1};
    EdtOptions opt;
    opt.spacing = sp;
    opt.threads = 1 + trial % 3;
    edt(view3(m.data(), DType::U8, A, B, C), out.data(), ostr, true, opt);
    for (int64_t i = 0; i < A; ++i)
      for (int64_t j = 0; j < B; ++j)
        for (int64_t k = 0; k < C; ++k) {
          double best = std::numeric_limits<double>::infinity();
          for (int64_t x = 0; x < A; ++x)
            for (int64_t y = 0; y < B; ++y)
              for (int64_t z = 0; z < C; ++z)
                if (!m[(x * B + y) * C + z]) {
                  double d = std::sqrt(std::pow((x - i) * sp[0], 2) + std::pow((y - j) * sp[1], 2) +
                                       std::pow((z - k) * sp[2], 2));
                  best = std::min(best, d);
                }
          const double got = out[(i * B + j) * C + k];
          CHECK(std::fabs(got - best) <= 1e-12 * std::max(1.0, best), "edt (%ld,%ld,%ld) got %g want %g",
                (long)i, (long)j, (long)k, got, best);
        }
  }
}

static void test_overlap(std::mt19937& rng) {
  const int64_t A = 7, B = 8, C = 9;
  std::vector<int32_t> p(A * B * C), r(A * B * C);
  for (auto& x : p) x = rng() % 4;
  for (auto& x : r) x = rng() % 4;
  OverlapStats s = overlap_stats(view3(p.data(), DType::I32, A, B, C), view3(r.data(), DType::I32, A, B, C), 3, 2);
  int64_t want[4][4] = {};
  int64_t counted = 0;
  for (size_t i = 0; i < p.size(); ++i)
    if (r[i] != 3) {
      want[p[i]][r[i]]++;
      counted++;
    }
  CHECK(s.counted == counted, "counted %ld vs %ld", (long)s.counted, (long)counted);
  for (size_t t = 0; t + 2 < s.pairs.size(); t += 3)
    CHECK(want[s.pairs[t]][s.pairs[t + 1]] == s.pairs[t + 2], "pair (%ld,%ld)", (long)s.pairs[t], (long)s.pairs[t + 1]);
}

static void test_surface_cube_shift() {
  // a 4x4x4 cube and the same cube shifted by one voxel along axis 0
  const int64_t N = 10;
  std::vector<uint8_t> a(N * N * N, 0), b(N * N * N, 0);
  for (int i = 2; i < 6; ++i)
    for (int j = 2; j < 6; ++j)
      for (int k = 2; k < 6; ++k) {
        a[(i * N + j) * N + k] = 1;
        b[((i + 1) * N + j) * N + k] = 1;
      }
  Region reg;
  reg.labels = {1};
  for (int d = 0; d < 3; ++d) { reg.lo[d] = 2; reg.hi[d] = 6; }
  const double sp[3] = {2.0, 1.0, 1.0};
  SurfaceOptions opt;
  opt.spacing = sp;
  opt.boundary = Boundary::VoxelBorder;
  auto res = surface_distances(view3(a.data(), DType::U8, N, N, N), view3(b.data(), DType::U8, N, N, N), {reg}, opt);
  double mx = 0;
  for (double d : res[0].d_pred) mx = std::max(mx, d);
  CHECK(std::fabs(mx - 2.0) < 1e-12, "voxel-border HD of a shifted cube: %g (want 2)", mx);
  opt.boundary = Boundary::CornerGrid;
  res = surface_distances(view3(a.data(), DType::U8, N, N, N), view3(b.data(), DType::U8, N, N, N), {reg}, opt);
  mx = 0;
  double area = 0;
  for (double d : res[0].d_pred) mx = std::max(mx, d);
  for (double w : res[0].w_pred) area += w;
  CHECK(std::fabs(mx - 2.0) < 1e-12, "corner-grid HD of a shifted cube: %g (want 2)", mx);
  // voxel-face area of the cube is 160 mm^2; marching-cubes surfels cut edges and corners
  CHECK(area > 100.0 && area <= 160.0, "cube surface area %g (want in (100, 160])", area);
}

// Connected components against a brute-force flood fill (first voxel in C raster numbers
// the components), binary and per label, every connectivity, several thread counts.
static void test_components(std::mt19937& rng) {
  for (int it = 0; it < 40; ++it) {
    const int64_t Z = 1 + rng() % 7, Y = 1 + rng() % 9, X = 1 + rng() % 11;
    const int64_t N = Z * Y * X;
    std::vector<int32_t> m(static_cast<size_t>(N));
    const unsigned dens = 1 + rng() % 9, nv = 1 + rng() % 3;
    for (auto& v : m) v = (rng() % 10 < dens) ? int32_t(1 + rng() % nv) : 0;
    const ArrayView in = view3(m.data(), DType::I32, Z, Y, X);
    for (int conn : {6, 18, 26}) {
      for (bool binary : {true, false}) {
        std::vector<int64_t> want(size_t(N), 0), stack;
        int64_t n = 0;
        for (int64_t s0 = 0; s0 < N; ++s0) {
          if (!m[size_t(s0)] || want[size_t(s0)]) continue;
          want[size_t(s0)] = ++n;
          stack.assign(1, s0);
          while (!stack.empty()) {
            const int64_t i = stack.back();
            stack.pop_back();
            const int64_t z = i / (Y * X), y = i / X % Y, x = i % X;
            for (int dz = -1; dz <= 1; ++dz)
              for (int dy = -1; dy <= 1; ++dy)
                for (int dx = -1; dx <= 1; ++dx) {
                  if (!cc_is_neighbour(conn, dz, dy, dx)) continue;
                  const int64_t zz = z + dz, yy = y + dy, xx = x + dx;
                  if (zz < 0 || zz >= Z || yy < 0 || yy >= Y || xx < 0 || xx >= X) continue;
                  const int64_t j = (zz * Y + yy) * X + xx;
                  if (!m[size_t(j)] || want[size_t(j)]) continue;
                  if (!binary && m[size_t(j)] != m[size_t(i)]) continue;
                  want[size_t(j)] = n;
                  stack.push_back(j);
                }
          }
        }
        for (int threads : {1, 2, 5}) {
          CcOptions opt;
          opt.connectivity = conn;
          opt.binary = binary;
          opt.threads = threads;
          const CcLabels cc = label_components(in, opt);
          std::vector<int32_t> got(size_t(N), -1);
          ArrayView out = view3(got.data(), DType::I32, Z, Y, X);
          paint_components(cc, out, false, threads);
          CHECK(cc.n == n, "components (%ld,%ld,%ld) conn %d binary %d threads %d: n %ld want %ld", (long)Z, (long)Y,
                (long)X, conn, int(binary), threads, (long)cc.n, (long)n);
          bool same = true;
          for (int64_t i = 0; i < N; ++i) same &= got[size_t(i)] == want[size_t(i)];
          CHECK(same, "components (%ld,%ld,%ld) conn %d binary %d threads %d: labels differ", (long)Z, (long)Y,
                (long)X, conn, int(binary), threads);
          std::vector<int64_t> wide(size_t(N), -1);  // the int64 output (2**31 - 1 components or more)
          paint_components(cc, view3(wide.data(), DType::I64, Z, Y, X), false, threads);
          bool same64 = true;
          for (int64_t i = 0; i < N; ++i) same64 &= wide[size_t(i)] == want[size_t(i)];
          CHECK(same64, "components painted as int64 differ");
          if (conn == 26 && binary) {  // the overlap table of the labels with the mask's values
            const CcOverlap t = overlap_table(out, in, N + 8, threads);
            int64_t tot = 0;
            for (size_t k = 0; k + 2 < t.pairs.size(); k += 3) tot += t.pairs[k + 2];
            int64_t fg = 0;
            for (auto v : m) fg += v != 0;
            CHECK(tot == fg && int64_t(t.pred_voxels.size()) == n, "overlap table of the components");
            const CcStats st = component_stats(out, nullptr, N + 8, threads);
            int64_t sv = 0;
            for (auto v : st.voxels) sv += v;
            CHECK(st.n == n && sv == fg, "component stats voxels");
          }
        }
      }
    }
  }
}

int main() {
  std::mt19937 rng(1234);
  test_edt(rng);
  test_overlap(rng);
  test_surface_cube_shift();
  test_components(rng);
  if (failures) {
    std::printf("%d check(s) failed\n", failures);
    return 1;
  }
  std::printf("segscore core tests: all passed\n");
  return 0;
}
