"""Seeded random (pred, ref, spacing) pairs for the peer cross-checks.

Kinds: perturbed ellipsoid blobs, thin structures (1-voxel lines / planes),
single voxels, objects touching the array border, and blob pairs with far
single-voxel specks (which stretch the bounding box).  Every case is small
(at most 64 voxels per axis; most far smaller) and both masks are non-empty.
"""

from __future__ import annotations

import numpy as np

KINDS = ("blob", "thin", "voxel", "border", "specks")
SPACINGS = (0.5, 0.7, 0.8, 1.0, 1.3, 2.0, 2.5)


def _shape(rng, ndim, big=False):
    if ndim == 1:
        return (int(rng.integers(12, 64)),)
    if ndim == 2:
        hi = 64 if big else 36
        return tuple(int(v) for v in rng.integers(10, hi, size=2))
    hi = 48 if big else 22
    return tuple(int(v) for v in rng.integers(8, hi, size=3))


def _spacing(rng, ndim):
    if rng.random() < 0.25:
        return (1.0,) * ndim
    return tuple(float(rng.choice(SPACINGS)) for _ in range(ndim))


def perturbed_ellipsoid(rng, shape, center=None, radii=None, amp=0.25):
    """Ellipsoid whose radius is modulated by a few low-frequency waves."""
    nd = len(shape)
    g = np.indices(shape, dtype=float)
    if center is None:
        center = [rng.uniform(0.3, 0.7) * s for s in shape]
    if radii is None:
        radii = [max(1.0, rng.uniform(0.15, 0.4) * s) for s in shape]
    q = sum(((g[i] - center[i]) / radii[i]) ** 2 for i in range(nd))
    wave = np.zeros(shape)
    for _ in range(3):
        k = rng.normal(size=nd)
        wave += np.sin(sum(k[i] * g[i] / max(radii[i], 1.0) for i in range(nd)) + rng.uniform(0, 2 * np.pi))
    return q <= 1.0 + amp * wave / 3.0


def _blob_pair(rng, shape):
    ref = perturbed_ellipsoid(rng, shape)
    # pred: the same blob moved by up to two voxels per axis, resized, re-perturbed
    c = [rng.uniform(0.3, 0.7) * s for s in shape]
    pred = perturbed_ellipsoid(rng, shape, center=[v + rng.uniform(-2, 2) for v in c],
                               radii=[max(1.0, rng.uniform(0.15, 0.4) * s) for s in shape])
    return pred, ref


def _thin(rng, shape):
    nd = len(shape)
    ref = np.zeros(shape, bool)
    pred = np.zeros(shape, bool)
    if nd == 1:
        a = int(rng.integers(0, shape[0] - 3))
        ref[a:a + int(rng.integers(1, 4))] = True
        b = int(rng.integers(0, shape[0] - 3))
        pred[b:b + int(rng.integers(1, 4))] = True
        return pred, ref
    for m in (pred, ref):
        axis = int(rng.integers(nd))
        idx = [slice(None)] * nd
        if nd == 3 and rng.random() < 0.5:  # a plane: one index fixed
            idx[axis] = int(rng.integers(shape[axis]))
        else:  # a line: all but one index fixed
            for ax in range(nd):
                if ax != axis:
                    idx[ax] = int(rng.integers(shape[ax]))
            lo = int(rng.integers(0, shape[axis] // 2))
            idx[axis] = slice(lo, lo + int(rng.integers(2, shape[axis] - lo + 1)))
        m[tuple(idx)] = True
    if rng.random() < 0.5:  # a diagonal line as well
        n = min(shape)
        off = [int(rng.integers(0, s - n + 1)) for s in shape]
        ref[tuple(np.arange(n) + o for o in off)] = True
    return pred, ref


def _voxel(rng, shape):
    nd = len(shape)
    ref = np.zeros(shape, bool)
    pred = np.zeros(shape, bool)
    pred[tuple(int(rng.integers(s)) for s in shape)] = True
    r = rng.random()
    if r < 0.4:    # single voxel vs single voxel
        ref[tuple(int(rng.integers(s)) for s in shape)] = True
    elif r < 0.6:  # the same voxel
        ref |= pred
    else:          # single voxel vs a blob
        ref = perturbed_ellipsoid(rng, shape)
        if not ref.any():
            ref[tuple(s // 2 for s in shape)] = True
        if rng.random() < 0.5:
            pred, ref = ref, pred
    return pred, ref


def _border(rng, shape):
    nd = len(shape)
    pred, ref = _blob_pair(rng, shape)
    # cut both with a box glued to a random corner, so they touch the array faces
    for m in (pred, ref):
        idx = []
        for s in shape:
            k = int(rng.integers(max(1, s // 3), s + 1))
            idx.append(slice(0, k) if rng.random() < 0.5 else slice(s - k, s))
        box = np.zeros(shape, bool)
        box[tuple(idx)] = True
        m |= box & (rng.random(shape) < 0.97) if rng.random() < 0.3 else box
    if rng.random() < 0.2:
        ref[...] = True  # the whole array
    return pred, ref


def _specks(rng, shape):
    pred, ref = _blob_pair(rng, shape)
    for m, n in ((pred, int(rng.integers(1, 4))), (ref, int(rng.integers(0, 2)))):
        for _ in range(n):  # far specks: near the array corners
            m[tuple(int(rng.choice([rng.integers(0, 2), s - 1 - rng.integers(0, 2)])) for s in shape)] = True
    return pred, ref


_MAKERS = {"blob": _blob_pair, "thin": _thin, "voxel": _voxel, "border": _border, "specks": _specks}


def make_case(kind, ndim, seed, big=False):
    """(pred, ref, spacing): both masks non-empty, C-ordered bool arrays."""
    rng = np.random.default_rng([seed, ndim, KINDS.index(kind)])
    shape = _shape(rng, ndim, big)
    for _ in range(50):
        pred, ref = _MAKERS[kind](rng, shape)
        if pred.any() and ref.any():
            return np.ascontiguousarray(pred), np.ascontiguousarray(ref), _spacing(rng, ndim)
    raise AssertionError(f"could not make a non-empty {kind} case ({ndim}-D, seed {seed})")


def case_params(ndims=(2, 3), kinds=KINDS, seeds=range(4)):
    """pytest parameter tuples (kind, ndim, seed) with readable ids."""
    import pytest

    return [pytest.param(k, d, s, id=f"{k}-{d}d-{s}") for d in ndims for k in kinds for s in seeds]


def empty_variants(pred, ref):
    """(name, pred, ref) with one or both masks emptied."""
    z = np.zeros_like(pred)
    return [("ref", pred, z), ("pred", z, ref), ("both", z, z.copy())]
