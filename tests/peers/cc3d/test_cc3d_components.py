"""ss.connected_components against cc3d 4.1.1 (`cc3d.connected_components`, `cc3d.dust`,
`cc3d.statistics`) and scipy.ndimage.label (with generate_binary_structure) on many random
masks: identical label arrays.

cc3d numbers components by first voxel in memory order, so a C-ordered input is compared
with order="C" and a Fortran-ordered one with order="F".  scipy numbers by first voxel in C
order.  Bool masks go to cc3d as uint8 views: cc3d 4.1.1 on *bool* 2-D arrays at
8-connectivity numbers out of raster order (124 of 200 random noise masks) and labels some
background voxels (11 of 200) -- measured here; its uint8 path is correct.  Masks: uniform noise at several densities (many small, oddly shaped components),
blobs (few large ones) and per-label maps (cc3d semantics: equal nonzero values connect).
"""

from __future__ import annotations

import numpy as np
import pytest

import segscore as ss
from conftest import need_peer

pytestmark = pytest.mark.peers

CONN = {2: (4, 8), 3: (6, 18, 26)}
STRUCT = {4: (2, 1), 8: (2, 2), 6: (3, 1), 18: (3, 2), 26: (3, 3)}


def random_mask(rng, ndim, kind):
    shape = tuple(int(s) for s in rng.integers(1, 24 if ndim == 3 else 70, size=ndim))
    if kind == "noise":
        return rng.random(shape) < rng.uniform(0.05, 0.7)
    if kind == "blobs":
        m = np.zeros(shape, bool)
        g = np.indices(shape)
        for _ in range(rng.integers(1, 6)):
            c = [rng.uniform(0, s) for s in shape]
            r = [rng.uniform(0.5, max(1.0, s / 3)) for s in shape]
            m |= sum(((g[i] - c[i]) / r[i]) ** 2 for i in range(ndim)) <= 1
        return m
    return rng.integers(0, int(rng.integers(2, 5)), size=shape).astype(np.int32)  # labels


CASES = [(ndim, kind, seed) for ndim in (2, 3) for kind in ("noise", "blobs", "labels") for seed in range(12)]


@pytest.mark.parametrize("ndim, kind, seed", CASES)
def test_equal_to_cc3d(ndim, kind, seed):
    cc3d = need_peer("cc3d")
    rng = np.random.default_rng(1000 * ndim + seed + (0 if kind == "noise" else 100 if kind == "blobs" else 200))
    m = random_mask(rng, ndim, kind)
    binary = kind != "labels"
    for conn in CONN[ndim]:
        for order in ("C", "F"):
            a = np.asfortranarray(m) if order == "F" else np.ascontiguousarray(m)
            want, n_want = cc3d.connected_components(a.view(np.uint8) if a.dtype == bool else a,
                                                     connectivity=conn, return_N=True)
            got, n = ss.connected_components(a, conn, binary=binary, order=order)
            assert n == n_want, (conn, order)
            assert np.array_equal(got, want), f"{kind} {ndim}-D seed {seed} conn {conn} order {order}"


@pytest.mark.parametrize("ndim, kind, seed", [c for c in CASES if c[1] != "labels"])
def test_equal_to_scipy_label(ndim, kind, seed):
    ndi = need_peer("scipy.ndimage")
    rng = np.random.default_rng(7000 * ndim + seed + (0 if kind == "noise" else 100))
    m = random_mask(rng, ndim, kind)
    for conn in CONN[ndim]:
        rank, c = STRUCT[conn]
        want, n_want = ndi.label(m, structure=ndi.generate_binary_structure(rank, c))
        got, n = ss.connected_components(m, conn)
        assert n == n_want and np.array_equal(got, want), f"{kind} {ndim}-D seed {seed} conn {conn}"


@pytest.mark.parametrize("seed", range(8))
def test_min_size_equal_to_cc3d_dust(seed):
    cc3d = need_peer("cc3d")
    rng = np.random.default_rng(300 + seed)
    m = random_mask(rng, 3, "noise")
    for conn in (6, 18, 26):
        for k in (2, 3, 5):
            kept = cc3d.dust(m.view(np.uint8), threshold=k, connectivity=conn)
            want = cc3d.connected_components(kept, connectivity=conn)
            got, n = ss.connected_components(m, conn, min_size=k)
            assert np.array_equal(got, want) and n == want.max(), (conn, k)


@pytest.mark.parametrize("seed", range(6))
def test_stats_equal_to_cc3d_statistics(seed):
    cc3d = need_peer("cc3d")
    rng = np.random.default_rng(400 + seed)
    lab = ss.connected_components(random_mask(rng, 3, "blobs" if seed % 2 else "noise"))[0]
    want = cc3d.statistics(lab)
    st = ss.component_stats(lab)
    assert np.array_equal(st.voxels, want["voxel_counts"][1:])
    assert np.allclose(st.centroid, want["centroids"][1:], rtol=1e-12, atol=0)
    boxes = want["bounding_boxes"][1:]
    for i, b in enumerate(boxes):
        assert [s.start for s in b] == st.bbox_lo[i].tolist()
        assert [s.stop - 1 for s in b] == st.bbox_hi[i].tolist()


def test_lesion_volume_equal_to_cc3d():
    """The benchmark's volume (256 x 256 x 96, ~30 ellipsoidal lesions)."""
    cc3d = need_peer("cc3d")
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[3] / "bench" / "bench_components.py"
    spec = importlib.util.spec_from_file_location("bench_components", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    ref, pred, _ = mod.lesion_volume()
    for m in (ref, pred):
        for conn in (6, 18, 26):
            assert np.array_equal(ss.connected_components(m, conn)[0], cc3d.connected_components(m, connectivity=conn))
