"""Directed boundary distances against a brute-force nearest-point search, bit
for bit: the offset-table scan (with its start past offsets that cannot hit)
and the cell-tree fallback (far specks, anisotropic spacing) must return the
exact minimum of the grid distance over the other boundary."""

import numpy as np
import pytest
from scipy import ndimage

import segscore as ss


def border(mask):
    """Voxel border, face connectivity, outside the array is background."""
    st = ndimage.generate_binary_structure(mask.ndim, 1)
    return mask & ~ndimage.binary_erosion(mask, structure=st, border_value=0)


def brute(src, dst, sp):
    """sqrt(min over dst of sum_d ((a_d - b_d) * sp_d)^2), summed in axis order
    as the C++ grid_dist2 does; inf when dst is empty."""
    if len(dst) == 0:
        return np.full(len(src), np.inf)
    out = np.empty(len(src))
    for s in range(0, len(src), 256):
        a = src[s:s + 256, None, :].astype(np.float64)
        acc = np.zeros((a.shape[0], len(dst)))
        for d in range(src.shape[1]):
            t = (a[:, :, d] - dst[None, :, d]) * sp[d]
            acc = acc + t * t
        out[s:s + 256] = np.sqrt(acc.min(axis=1))
    return out


def random_pair(rng, shape, n_specks):
    g = np.indices(shape, dtype=float)
    c = np.asarray(shape) / 2.0

    def ell(shift, radii):
        return sum(((g[i] - c[i] - shift[i]) / radii[i]) ** 2 for i in range(len(shape))) <= 1.0

    radii = [max(2.0, s / 4.0) for s in shape]
    a = ell(rng.uniform(-1.5, 1.5, len(shape)), [r * rng.uniform(0.8, 1.2) for r in radii])
    b = ell(rng.uniform(-1.5, 1.5, len(shape)), [r * rng.uniform(0.8, 1.2) for r in radii])
    b ^= rng.random(shape) < 0.01  # ragged surface
    for _ in range(n_specks):  # far specks: queries beyond the offset table
        p = tuple(int(rng.integers(0, s)) for s in shape)
        (a if rng.random() < 0.5 else b)[p] = True
    return a, b


SPACINGS3 = [(1.0, 1.0, 1.0), (0.8, 0.8, 2.5), (3.0, 0.5, 1.0), (0.7, 1.3, 5.0)]


@pytest.mark.parametrize("seed", range(8))
def test_voxel_border_distances_exact(seed):
    rng = np.random.default_rng(100 + seed)
    ndim = 3 if seed < 6 else 2
    shape = tuple(int(v) for v in rng.integers(18, 40, ndim))
    sp = SPACINGS3[seed % 4][:ndim]
    a, b = random_pair(rng, shape, n_specks=int(rng.integers(0, 6)))
    sd = ss.surface_distances(a, b, spacing=sp, convention="metricsreloaded", threads=int(seed % 2 + 1))
    pa, pb = np.argwhere(border(a)), np.argwhere(border(b))
    (dp, _), (dr, _) = sd.directed
    assert len(dp) == len(pa) and len(dr) == len(pb)
    for got, want in ((dp, brute(pa, pb, sp)), (dr, brute(pb, pa, sp))):
        bad = np.flatnonzero(got.view(np.uint64) != want.view(np.uint64))
        assert bad.size == 0, f"{bad.size} distances differ, e.g. {got[bad[:3]]} vs {want[bad[:3]]}"


def test_far_speck_only_side():
    # one side is a single far voxel: every query of the organ misses the table
    a = np.zeros((30, 40, 20), bool)
    a[5:20, 8:30, 4:15] = True
    b = np.zeros_like(a)
    b[28, 1, 18] = True
    for sp in ((1.0, 1.0, 1.0), (0.8, 0.8, 2.5)):
        sd = ss.surface_distances(a, b, spacing=sp, convention="metricsreloaded")
        pa, pb = np.argwhere(border(a)), np.argwhere(border(b))
        (dp, _), (dr, _) = sd.directed
        assert np.array_equal(dp.view(np.uint64), brute(pa, pb, sp).view(np.uint64))
        assert np.array_equal(dr.view(np.uint64), brute(pb, pa, sp).view(np.uint64))
