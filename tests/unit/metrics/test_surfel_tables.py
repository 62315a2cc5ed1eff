"""Corner-grid surface-element tables (cpp/include/segscore/surfel_tables.h).

Builds a tiny C++ program with g++ that prints surfel_area_3d /
contour_length_2d (and the fill_* helpers) for a few spacings, and compares
every code with DeepMind surface-distance's lookup tables to 1e-12 relative.
Also checks that the checked-in header is what cpp/tools/gen_surfel_tables.py
generates.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from support.paths import REPO_ROOT

ROOT = str(REPO_ROOT)
INCLUDE = os.path.join(ROOT, "cpp", "include")
HEADER = os.path.join(INCLUDE, "segscore", "surfel_tables.h")
GENERATOR = os.path.join(ROOT, "cpp", "tools", "gen_surfel_tables.py")

SPACINGS_3D = [(1.0, 1.0, 1.0), (0.8, 0.8, 2.5), (3.0, 0.5, 1.7), (0.37, 2.9, 1.13), (1e-3, 7.0, 0.25)]
SPACINGS_2D = [(1.0, 1.0), (0.8, 2.5), (3.0, 0.5), (0.37, 2.9), (1e-3, 7.0)]

PROGRAM = r"""
#include <cstdio>
#include <cstdlib>
#include "segscore/surfel_tables.h"

// usage: prog 3 s0 s1 s2 | prog 2 s0 s1
// prints the table twice: per-code accessor, then the fill_* helper.
int main(int argc, char** argv) {
  if (argc < 4) return 2;
  const int nd = std::atoi(argv[1]);
  if (nd == 3 && argc < 5) return 2;
  if (nd == 3) {
    const double s0 = std::atof(argv[2]), s1 = std::atof(argv[3]), s2 = std::atof(argv[4]);
    double t[256];
    segscore::fill_surfel_area_table_3d(t, s0, s1, s2);
    for (int c = 0; c < 256; ++c)
      std::printf("%.17g %.17g\n", segscore::surfel_area_3d(c, s0, s1, s2), t[c]);
  } else {
    const double s0 = std::atof(argv[2]), s1 = std::atof(argv[3]);
    double t[16];
    segscore::fill_contour_length_table_2d(t, s0, s1);
    for (int c = 0; c < 16; ++c)
      std::printf("%.17g %.17g\n", segscore::contour_length_2d(c, s0, s1), t[c]);
  }
  return 0;
}
"""


@pytest.fixture(scope="module")
def table_prog(tmp_path_factory):
    cxx = shutil.which("g++") or shutil.which("c++")
    if cxx is None:
        pytest.skip("no C++ compiler")
    d = tmp_path_factory.mktemp("surfel")
    src = d / "surfel_prog.cpp"
    exe = d / "surfel_prog"
    src.write_text(PROGRAM)
    subprocess.run(
        [cxx, "-std=c++17", "-O2", "-Wall", "-Wextra", "-Werror", "-I", INCLUDE, str(src), "-o", str(exe)],
        check=True,
    )
    return str(exe)


def run_table(exe, nd, spacing):
    out = subprocess.run([exe, str(nd)] + [repr(float(s)) for s in spacing], check=True, capture_output=True, text=True)
    vals = np.array([[float(x) for x in line.split()] for line in out.stdout.split("\n") if line.strip()])
    assert vals.shape == ((256 if nd == 3 else 16), 2)
    np.testing.assert_array_equal(vals[:, 0], vals[:, 1])  # accessor == fill helper
    return vals[:, 0]


def assert_close(ours, ref):
    ours = np.asarray(ours, dtype=float)
    ref = np.asarray(ref, dtype=float)
    err = np.abs(ours - ref)
    tol = 1e-12 * np.abs(ref)
    bad = np.nonzero(err > tol)[0]
    assert bad.size == 0, f"codes {bad.tolist()}: ours {ours[bad]} ref {ref[bad]}"


@pytest.mark.parametrize("spacing", SPACINGS_3D)
def test_surface_area_matches_deepmind(table_prog, spacing):
    lt = pytest.importorskip("surface_distance.lookup_tables")
    ours = run_table(table_prog, 3, spacing)
    assert ours[0] == 0.0 and ours[255] == 0.0
    assert np.all(ours[1:255] > 0)
    assert_close(ours, lt.create_table_neighbour_code_to_surface_area(spacing))


@pytest.mark.parametrize("spacing", SPACINGS_2D)
def test_contour_length_matches_deepmind(table_prog, spacing):
    lt = pytest.importorskip("surface_distance.lookup_tables")
    ours = run_table(table_prog, 2, spacing)
    assert ours[0] == 0.0 and ours[15] == 0.0
    assert np.all(ours[1:15] > 0)
    assert_close(ours, lt.create_table_neighbour_code_to_contour_length(spacing))


def test_tables_without_reference(table_prog):
    """Sanity checks that need no reference library."""
    s = (0.8, 1.3, 2.1)
    a = run_table(table_prog, 3, s)
    comp = a[255 - np.arange(256)]
    assert_close(a, comp)  # complement symmetry
    # single voxel corner: triangle through 3 edge midpoints
    n = 0.125 * np.array([s[1] * s[2], s[0] * s[2], s[0] * s[1]])
    assert_close([a[1], a[128]], [np.linalg.norm(n)] * 2)
    # half-space codes: planes perpendicular to each axis (area = product of the other spacings)
    assert_close([a[0x0F], a[0x33], a[0x55]], [s[1] * s[2], s[0] * s[2], s[0] * s[1]])
    l2 = run_table(table_prog, 2, (0.8, 1.3))
    assert_close([l2[3], l2[5], l2[1], l2[6]], [1.3, 0.8, 0.5 * np.hypot(0.8, 1.3), np.hypot(0.8, 1.3)])


def test_header_is_generated():
    out = subprocess.run([sys.executable, GENERATOR, "--stdout"], check=True, capture_output=True, text=True).stdout
    with open(HEADER) as f:
        assert f.read() == out, "surfel_tables.h is stale: rerun cpp/tools/gen_surfel_tables.py"
