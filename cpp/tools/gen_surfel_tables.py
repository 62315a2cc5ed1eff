#!/usr/bin/env python3
"""Generate cpp/include/segscore/surfel_tables.h (corner-grid surface elements).

The tables are built here from first principles (no external table is read):

3-D (256 neighbour codes of the 2x2x2 voxels around a grid corner)
  * Cube corner a = (a0, a1, a2) in {0, 1}^3 is the voxel at offset
    (index - 1 + a); its code bit is 1 << (7 - (4 a0 + 2 a1 + a2)), i.e. the
    correlation kernel [[[128, 64], [32, 16]], [[8, 4], [2, 1]]].
  * Surface vertices sit at the midpoints of the cube edges whose two corners
    differ (marching cubes without interpolation).
  * On each of the 6 faces the crossed edges are joined by segments.  A face
    with 4 crossed edges (diagonal "saddle" face) is ambiguous; we cut off the
    corners of the minority class: the foreground corners when the code has
    at most 4 foreground voxels, the background corners otherwise (with
    exactly 4, both choices give identical areas for every spacing, checked
    below).  This is DeepMind's choice (cutting off foreground corners for
    codes with 5..7 foreground voxels fails 44 codes).  It makes code c and
    its complement 255 - c produce the same surface, as in Lorensen & Cline's
    original marching cubes (15 cases under rotation + complement).
  * The segments close into 1..4 polygons (3 to 6 vertices).  Triangles,
    quads and the planar hexagon of "corner + 3 neighbours" are planar; the
    pentagon (3 corners on one face) and the hexagons of "3 corners on a face
    + 1 off-face corner" are not, so their area depends on the triangulation.
    Each polygon is triangulated by the triangulation of MAXIMUM total area
    (in unit-cube coordinates) among all Catalan-many triangulations.  This is
    the choice DeepMind's surface-distance table makes for every code (e.g.
    for the pentagon: the triangle through the three midpoints on parallel
    edges plus a planar quad); the minimum-area or other triangulations do
    not match.  Ties between maximal triangulations are checked to give the
    same area for every spacing.
  * Each triangle contributes its area vector 0.5 * (b - a) x (c - a).  Only
    norms of the spacing-scaled vectors (n0 s1 s2, n1 s0 s2, n2 s0 s1) are
    used, so the sign is normalised (first non-zero component > 0) and
    parallel vectors of one code are summed (|u| + |v| = |u + v| for parallel
    u, v with the same sense, also after the diagonal scaling).  Components are
    multiples of 1/8 and are stored as int8 in units of 1/8.

2-D (16 codes of the 2x2 pixels around a grid corner, kernel [[8, 4], [2, 1]])
  * Segments join midpoints of crossed square edges; the two saddle codes
    (6, 9) give two segments whichever way they are resolved (same length).
  * Stored as segment vectors in units of 1/2 pixel; length
    sqrt((d0 s0)^2 + (d1 s1)^2).

Usage:
  python3 cpp/tools/gen_surfel_tables.py            # rewrite the header
  python3 cpp/tools/gen_surfel_tables.py --check    # also compare with the
                                                    # surface_distance package
  python3 cpp/tools/gen_surfel_tables.py --stdout   # print instead of writing
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import sys
from fractions import Fraction

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.normpath(os.path.join(HERE, "..", "include", "segscore", "surfel_tables.h"))

# ---------------------------------------------------------------------------
# geometry helpers (exact rational arithmetic for vertices and area vectors)


def sub(a, b):
    return tuple(x - y for x, y in zip(a, b))


def cross(u, v):
    return (u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0])


def norm(v):
    return math.sqrt(float(sum(x * x for x in v)))


def canonical_sign(v):
    for x in v:
        if x != 0:
            return v if x > 0 else tuple(-y for y in v)
    return v


def direction_key(v):
    """Primitive integer direction of an integer vector (sign normalised)."""
    g = 0
    for x in v:
        g = math.gcd(g, abs(int(x)))
    return canonical_sign(tuple(int(x) // g for x in v))


def cycles_from_segments(segments):
    """Chain undirected segments (every vertex has degree 2) into vertex cycles."""
    adj = {}
    for a, b in segments:
        adj.setdefault(a, []).append(b)
        adj.setdefault(b, []).append(a)
    for v, nb in adj.items():
        assert len(nb) == 2, (v, nb)
    seen = set()
    out = []
    for start in sorted(adj):
        if start in seen:
            continue
        cyc = [start]
        seen.add(start)
        prev, cur = None, start
        while True:
            a, b = adj[cur]
            nxt = b if a == prev else a
            if nxt == start and prev is not None:
                break
            if nxt in seen:  # 2-cycle cannot happen (distinct faces); guard anyway
                break
            cyc.append(nxt)
            seen.add(nxt)
            prev, cur = cur, nxt
        out.append(cyc)
    return out


def triangulations(poly):
    """All triangulations of a polygon given as a vertex list (Catalan many)."""
    n = len(poly)
    if n < 3:
        return [[]]
    if n == 3:
        return [[tuple(poly)]]
    res = []
    for k in range(1, n - 1):
        apex = (poly[0], poly[k], poly[n - 1])
        for left in triangulations(poly[: k + 1]):
            for right in triangulations(poly[k:]):
                res.append(left + right + [apex])
    return res


def tri_area_vector(a, b, c):
    return tuple(Fraction(1, 2) * x for x in cross(sub(b, a), sub(c, a)))


def scaled_norm(n, s):
    """Area of an area vector n (unit-cube units) under voxel spacing s."""
    return norm((float(n[0]) * s[1] * s[2], float(n[1]) * s[0] * s[2], float(n[2]) * s[0] * s[1]))


# ---------------------------------------------------------------------------
# 3-D


def bit3(a):
    return 1 << (7 - (4 * a[0] + 2 * a[1] + a[2]))


CORNERS3 = [tuple(a) for a in itertools.product((0, 1), repeat=3)]


def faces3():
    """The 6 cube faces, each as 4 corners in cyclic order."""
    out = []
    for d in range(3):
        o0, o1 = [x for x in range(3) if x != d]
        for v in (0, 1):
            cyc = []
            for p, q in ((0, 0), (1, 0), (1, 1), (0, 1)):
                c = [0, 0, 0]
                c[d], c[o0], c[o1] = v, p, q
                cyc.append(tuple(c))
            out.append(cyc)
    return out


FACES3 = faces3()


def midpoint(p, q):
    return tuple(Fraction(x + y, 2) for x, y in zip(p, q))


def polygons3(code, cut_foreground_on_saddles):
    inside = {a: bool(code & bit3(a)) for a in CORNERS3}
    segs = []
    for cyc in FACES3:
        crossed = [i for i in range(4) if inside[cyc[i]] != inside[cyc[(i + 1) % 4]]]
        if len(crossed) == 2:
            i, j = crossed
            segs.append((midpoint(cyc[i], cyc[(i + 1) % 4]), midpoint(cyc[j], cyc[(j + 1) % 4])))
        elif len(crossed) == 4:
            for k in range(4):
                if inside[cyc[k]] == cut_foreground_on_saddles:
                    segs.append((midpoint(cyc[k - 1], cyc[k]), midpoint(cyc[k], cyc[(k + 1) % 4])))
    return cycles_from_segments(segs)


def max_area_triangulation(poly):
    best, best_area, best_set = None, -1.0, []
    for tris in triangulations(poly):
        vecs = [tri_area_vector(*t) for t in tris]
        a = sum(norm(v) for v in vecs)
        if a > best_area + 1e-12:
            best, best_area, best_set = vecs, a, [vecs]
        elif abs(a - best_area) <= 1e-12:
            best_set.append(vecs)
    # ties must be indistinguishable for every spacing
    for s in ((0.8, 0.8, 2.5), (3.0, 0.5, 1.7), (0.31, 1.9, 0.77)):
        vals = [sum(scaled_norm(v, s) for v in vs) for vs in best_set]
        assert max(vals) - min(vals) <= 1e-12 * max(vals), (poly, vals)
    return best


def merge_parallel(vecs):
    """Sum sign-normalised parallel area vectors; return int vectors in 1/8 units."""
    acc = {}
    order = []
    for v in vecs:
        iv = tuple(x * 8 for x in v)
        assert all(x.denominator == 1 for x in iv), v
        iv = canonical_sign(tuple(int(x) for x in iv))
        if iv == (0, 0, 0):
            continue
        k = direction_key(iv)
        if k not in acc:
            acc[k] = (0, 0, 0)
            order.append(k)
        acc[k] = tuple(x + y for x, y in zip(acc[k], iv))
    return sorted((acc[k] for k in order), key=lambda v: (-sum(abs(x) for x in v), v))


def surfel_vectors_3d(code):
    n_in = bin(code).count("1")
    cut_fg = n_in <= 4
    vecs = []
    for poly in polygons3(code, cut_fg):
        vecs.extend(max_area_triangulation(poly))
    merged = merge_parallel(vecs)
    if n_in == 4:  # the other saddle resolution must give the same areas
        alt = []
        for poly in polygons3(code, False):
            alt.extend(max_area_triangulation(poly))
        for s in ((1.0, 1.0, 1.0), (0.8, 0.8, 2.5), (3.0, 0.5, 1.7)):
            x = sum(scaled_norm(v, s) for v in vecs)
            y = sum(scaled_norm(v, s) for v in alt)
            assert abs(x - y) <= 1e-12 * max(x, 1.0), (code, x, y)
    return merged


# ---------------------------------------------------------------------------
# 2-D


def bit2(a):
    return 1 << (3 - (2 * a[0] + a[1]))


SQUARE = [(0, 0), (1, 0), (1, 1), (0, 1)]  # cyclic order


def contour_vectors_2d(code):
    """Segment vectors in units of 1/2 pixel, sign normalised."""
    inside = [bool(code & bit2(a)) for a in SQUARE]
    crossed = [i for i in range(4) if inside[i] != inside[(i + 1) % 4]]

    def mid2(i):  # doubled midpoint of square edge i -> integers
        p, q = SQUARE[i], SQUARE[(i + 1) % 4]
        return (p[0] + q[0], p[1] + q[1])

    segs = []
    if len(crossed) == 2:
        segs.append((crossed[0], crossed[1]))
    elif len(crossed) == 4:  # saddle: cut off the foreground corners
        for k in range(4):
            if inside[k]:
                segs.append(((k - 1) % 4, k))
    out = []
    for i, j in segs:
        out.append(canonical_sign(sub(mid2(j), mid2(i))))
    return out


# ---------------------------------------------------------------------------
# emit


def build():
    t3 = [surfel_vectors_3d(c) for c in range(256)]
    t2 = [contour_vectors_2d(c) for c in range(16)]
    return t3, t2


def area3(vecs8, s):
    return sum(scaled_norm(tuple(Fraction(x, 8) for x in v), s) for v in vecs8)


def length2(vecs2, s):
    return sum(math.sqrt((d0 * 0.5 * s[0]) ** 2 + (d1 * 0.5 * s[1]) ** 2) for d0, d1 in vecs2)


def check_against_deepmind(t3, t2):
    try:
        from surface_distance import lookup_tables as lt
    except ImportError:
        print("surface_distance not importable; --check skipped", file=sys.stderr)
        return True
    ok = True
    for s in ((1.0, 1.0, 1.0), (0.8, 0.8, 2.5), (3.0, 0.5, 1.7), (0.37, 2.9, 1.13)):
        ref = lt.create_table_neighbour_code_to_surface_area(s)
        for c in range(256):
            a = area3(t3[c], s)
            if abs(a - ref[c]) > 1e-12 * max(abs(ref[c]), 1e-300) and not (a == 0 and ref[c] == 0):
                print(f"3-D mismatch code {c} spacing {s}: {a} vs {ref[c]}", file=sys.stderr)
                ok = False
    for s in ((1.0, 1.0), (0.8, 2.5), (3.0, 0.5)):
        ref = lt.create_table_neighbour_code_to_contour_length(s)
        for c in range(16):
            a = length2(t2[c], s)
            if abs(a - ref[c]) > 1e-12 * max(abs(ref[c]), 1e-300) and not (a == 0 and ref[c] == 0):
                print(f"2-D mismatch code {c} spacing {s}: {a} vs {ref[c]}", file=sys.stderr)
                ok = False
    print("surface_distance check:", "OK (256 3-D + 16 2-D codes)" if ok else "FAILED", file=sys.stderr)
    return ok


HEADER_TOP = """\
// segscore/surfel_tables.h - surface-element sizes of the corner grid.
//
// GENERATED by cpp/tools/gen_surfel_tables.py - do not edit by hand.
//
// A corner of the voxel grid is a boundary element when the 2^d voxels
// around it are mixed (see segscore/surface.h for the neighbour code:
// 3-D bit 128 = voxel (i-1, j-1, k-1), bit 1 = voxel (i, j, k); 2-D bit 8 =
// pixel (i-1, j-1), bit 1 = pixel (i, j)).  Each code owns a piece of the
// marching-cubes surface (vertices at cube-edge midpoints) / marching-squares
// contour.  These tables give its area / length for an anisotropic spacing,
// reproducing DeepMind surface-distance's
// create_table_neighbour_code_to_surface_area / _contour_length to rounding.
//
// 3-D: per code, up to SEGSCORE_SURFEL_MAX_VECS area vectors n (components in
// units of 1/8 of the unit cube; sign irrelevant, parallel triangles merged);
// area(spacing) = sum |(n0 s1 s2, n1 s0 s2, n2 s0 s1)| / 8.
// 2-D: per code, up to 2 segment vectors d in units of 1/2 pixel;
// length(spacing) = sum |(d0 s0, d1 s1)| / 2.
//
// Works under g++, nvcc (host and device) and NVRTC: the data is one
// initializer macro instantiated as a __device__ array (CUDA) and a host
// array (not under NVRTC); accessors pick the copy with __CUDA_ARCH__.
#pragma once
#include "segscore/common.h"
"""


def emit(t3, t2):
    maxv = max(len(v) for v in t3)
    lines = [HEADER_TOP]
    lines.append(f"#define SEGSCORE_SURFEL_MAX_VECS {maxv}")
    lines.append("")
    lines.append("// [code] = {count, n0x, n0y, n0z, n1x, ...} (int8, 1/8 units, zero padded)")
    lines.append("#define SEGSCORE_SURFEL_3D_INIT \\")
    lines.append("  { \\")
    for c in range(256):
        vals = [len(t3[c])]
        for v in t3[c]:
            vals.extend(v)
        vals.extend([0] * (1 + 3 * maxv - len(vals)))
        body = ", ".join(f"{x:2d}" for x in vals)
        lines.append(f"    {{{body}}}, /* {c:3d} */ \\")
    lines.append("  }")
    lines.append("")
    lines.append("// [code] = {count, d0_0, d0_1, d1_0, d1_1} (int8, 1/2-pixel units)")
    lines.append("#define SEGSCORE_CONTOUR_2D_INIT \\")
    lines.append("  { \\")
    for c in range(16):
        vals = [len(t2[c])]
        for v in t2[c]:
            vals.extend(v)
        vals.extend([0] * (5 - len(vals)))
        body = ", ".join(f"{x:2d}" for x in vals)
        lines.append(f"    {{{body}}}, /* {c:2d} */ \\")
    lines.append("  }")
    lines.append(HEADER_BODY)
    return "\n".join(lines)


HEADER_BODY = """
namespace segscore {
namespace surfel_detail {

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
__device__ const int8_t kSurfel3dDev[256][1 + 3 * SEGSCORE_SURFEL_MAX_VECS] = SEGSCORE_SURFEL_3D_INIT;
__device__ const int8_t kContour2dDev[16][5] = SEGSCORE_CONTOUR_2D_INIT;
#endif
#if !defined(__CUDACC_RTC__)
static const int8_t kSurfel3dHost[256][1 + 3 * SEGSCORE_SURFEL_MAX_VECS] = SEGSCORE_SURFEL_3D_INIT;
static const int8_t kContour2dHost[16][5] = SEGSCORE_CONTOUR_2D_INIT;
#endif

SEGSCORE_HD SEGSCORE_INLINE const int8_t* surfel_row_3d(int code) {
#if defined(__CUDA_ARCH__)
  return kSurfel3dDev[code & 255];
#else
  return kSurfel3dHost[code & 255];
#endif
}

SEGSCORE_HD SEGSCORE_INLINE const int8_t* contour_row_2d(int code) {
#if defined(__CUDA_ARCH__)
  return kContour2dDev[code & 15];
#else
  return kContour2dHost[code & 15];
#endif
}

}  // namespace surfel_detail

// Area of the surface element of 3-D neighbour code `code` (0..255) for voxel
// spacing (s0, s1, s2); 0 for codes 0 and 255.
SEGSCORE_HD SEGSCORE_INLINE double surfel_area_3d(int code, double s0, double s1, double s2) {
  const int8_t* r = surfel_detail::surfel_row_3d(code);
  const double w0 = s1 * s2, w1 = s0 * s2, w2 = s0 * s1;
  double a = 0.0;
  for (int k = 0; k < r[0]; ++k) {
    const double x = double(r[1 + 3 * k]) * 0.125 * w0;
    const double y = double(r[2 + 3 * k]) * 0.125 * w1;
    const double z = double(r[3 + 3 * k]) * 0.125 * w2;
    a += ss_sqrt(x * x + y * y + z * z);
  }
  return a;
}

// Length of the contour element of 2-D neighbour code `code` (0..15) for pixel
// spacing (s0, s1); 0 for codes 0 and 15.
SEGSCORE_HD SEGSCORE_INLINE double contour_length_2d(int code, double s0, double s1) {
  const int8_t* r = surfel_detail::contour_row_2d(code);
  double a = 0.0;
  for (int k = 0; k < r[0]; ++k) {
    const double x = double(r[1 + 2 * k]) * 0.5 * s0;
    const double y = double(r[2 + 2 * k]) * 0.5 * s1;
    a += ss_sqrt(x * x + y * y);
  }
  return a;
}

// out[code] = surfel_area_3d(code, s0, s1, s2) for code = 0..255.
SEGSCORE_HD SEGSCORE_INLINE void fill_surfel_area_table_3d(double* out, double s0, double s1, double s2) {
  for (int c = 0; c < 256; ++c) out[c] = surfel_area_3d(c, s0, s1, s2);
}

// out[code] = contour_length_2d(code, s0, s1) for code = 0..15.
SEGSCORE_HD SEGSCORE_INLINE void fill_contour_length_table_2d(double* out, double s0, double s1) {
  for (int c = 0; c < 16; ++c) out[c] = contour_length_2d(c, s0, s1);
}

}  // namespace segscore
"""


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--output", default=DEFAULT_OUT)
    ap.add_argument("--stdout", action="store_true")
    ap.add_argument("--check", action="store_true", help="compare with the surface_distance package")
    args = ap.parse_args(argv)
    t3, t2 = build()
    if args.check and not check_against_deepmind(t3, t2):
        return 1
    text = emit(t3, t2)
    if args.stdout:
        sys.stdout.write(text)
    else:
        with open(args.output, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
