"""Deterministic, organ-like test cases for the benchmarks (numpy only).

An organ is a perturbed ellipsoid: a voxel belongs to it when its normalised
radius  rho = |(x - c) * spacing / radii|  is below 1 + a smooth noise field
(a few random low-frequency cosines of the normalised coordinates).  The
prediction uses the same ellipsoid, slightly shifted and scaled, with its own
noise, so prediction and reference differ by a few millimetres along the
boundary, as a good network's output does.  Predictions also carry a few
small false-positive specks far from the organ, which stretch the union
bounding box (as real predictions do).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

SPACING = (0.8, 0.8, 2.5)


@dataclass
class Case:
    name: str
    pred: np.ndarray
    ref: np.ndarray
    spacing: tuple
    labels: list = field(default_factory=list)  # [] for bool masks

    @property
    def is_mask(self) -> bool:
        return self.pred.dtype == np.bool_


def _noise(u, rng, terms=8, amp=0.08, fmin=1.5, fmax=4.0):
    """Smooth random field of the normalised coordinates u (list of 3 arrays)."""
    out = np.zeros(np.broadcast_shapes(*(x.shape for x in u)), dtype=np.float32)
    for _ in range(terms):
        direction = rng.normal(size=3)
        direction /= np.linalg.norm(direction)
        freq = rng.uniform(fmin, fmax)
        phase = rng.uniform(0, 2 * math.pi)
        a = amp * rng.uniform(0.5, 1.0) / math.sqrt(terms / 4)
        arg = (freq * direction[0]) * u[0] + (freq * direction[1]) * u[1] + (freq * direction[2]) * u[2] + phase
        out += np.float32(a) * np.cos(arg).astype(np.float32)
    return out


def _paint(vol, value, center, radii_mm, spacing, noise):
    """Paint one perturbed ellipsoid (center in voxels, radii in mm) into vol.

    noise: list of (seed, amplitude); the fields are summed, so a prediction
    can share its reference's shape noise and add a smaller one of its own.
    """
    half = [int(math.ceil(1.35 * r / s)) + 1 for r, s in zip(radii_mm, spacing)]
    lo = [max(0, int(round(c)) - h) for c, h in zip(center, half)]
    hi = [min(n, int(round(c)) + h + 1) for c, h, n in zip(center, half, vol.shape)]
    if any(h <= l for l, h in zip(lo, hi)):
        return
    u = [((np.arange(l, h, dtype=np.float32) - c) * s / r)
         for l, h, c, s, r in zip(lo, hi, center, spacing, radii_mm)]
    u = [u[0][:, None, None], u[1][None, :, None], u[2][None, None, :]]
    rho = np.sqrt(u[0] ** 2 + u[1] ** 2 + u[2] ** 2)
    field = sum(_noise(u, np.random.default_rng(sd), amp=a) for sd, a in noise)
    inside = rho < 1.0 + field
    box = vol[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
    box[inside] = value


def _speck(vol, value, center, radius_vox=2):
    r = radius_vox
    c = [int(x) for x in center]
    z, y, x = np.ogrid[-r:r + 1, -r:r + 1, -r:r + 1]
    ball = z * z + y * y + x * x <= r * r
    sl = tuple(slice(ci - r, ci + r + 1) for ci in c)
    vol[sl][ball] = value


def _perturbed(center, radii, spacing, rng, shift_mm=2.0, scale=0.04):
    """Centre/radii of the prediction: shifted by ~shift_mm, scaled by ~scale."""
    d = rng.normal(size=3)
    d *= shift_mm / np.linalg.norm(d)
    c = [ci + di / s for ci, di, s in zip(center, d, spacing)]
    r = [ri * (1.0 + rng.uniform(-scale, scale)) for ri in radii]
    return c, r


def binary_case(shape=(256, 256, 256), radii_mm=(60.0, 50.0, 51.0), spacing=SPACING, seed=0,
                n_specks=3, name=None) -> Case:
    """One organ-sized smooth blob pair (bool masks) plus false-positive specks in pred."""
    rng = np.random.default_rng(seed)
    center = [n / 2 - 0.3 for n in shape]
    ref = np.zeros(shape, dtype=np.uint8)
    pred = np.zeros(shape, dtype=np.uint8)
    shape_seed, own_seed = (int(x) for x in rng.integers(0, 2**31, size=2))
    _paint(ref, 1, center, radii_mm, spacing, [(shape_seed, 0.08)])
    pc, pr = _perturbed(center, radii_mm, spacing, rng)
    _paint(pred, 1, pc, pr, spacing, [(shape_seed, 0.08), (own_seed, 0.03)])
    # specks: outside the organ's box, towards a few corners
    ext = [1.2 * r / s for r, s in zip(radii_mm, spacing)]
    for k in range(n_specks):
        sign = [1 if (k >> b) & 1 else -1 for b in range(3)]
        pos = []
        for c, e, n, sg in zip(center, ext, shape, sign):
            far = c + sg * (e + rng.uniform(0.3, 0.6) * (n / 2 - e))
            pos.append(min(max(far, 4), n - 5))
        _speck(pred, 1, pos)
    return Case(name or f"binary {'x'.join(map(str, shape))}", pred.view(bool), ref.view(bool), tuple(spacing))


def multilabel_case(n_labels=14, shape=(256, 256, 256), spacing=SPACING, seed=1, rmin=8.0, rmax=40.0,
                    n_specks=None, name=None) -> Case:
    """n_labels non-overlapping perturbed ellipsoids (uint8/uint16 label maps), pred with specks."""
    rng = np.random.default_rng(seed)
    dtype = np.uint8 if n_labels < 256 else np.uint16
    ref = np.zeros(shape, dtype=dtype)
    pred = np.zeros(shape, dtype=dtype)
    phys = [n * s for n, s in zip(shape, spacing)]
    placed = []  # (center_mm, bounding radius_mm)
    # larger organs first, radii log-uniform
    radii_list = sorted((float(np.exp(rng.uniform(np.log(rmin), np.log(rmax)))) for _ in range(n_labels)),
                        reverse=True)
    for lab, rmean in enumerate(radii_list, start=1):
        radii = [rmean * rng.uniform(0.7, 1.3) for _ in range(3)]
        rb = 1.35 * max(radii) + 3.0
        for _attempt in range(2000):
            cm = [rng.uniform(rb + 2 * s, p - rb - 2 * s) for p, s in zip(phys, spacing)]
            if all(np.linalg.norm(np.subtract(cm, c2)) > rb + r2 for c2, r2 in placed):
                break
        else:
            raise RuntimeError(f"could not place label {lab}; use a larger shape or smaller radii")
        placed.append((cm, rb))
        center = [c / s for c, s in zip(cm, spacing)]
        shape_seed, own_seed = (int(x) for x in rng.integers(0, 2**31, size=2))
        _paint(ref, lab, center, radii, spacing, [(shape_seed, 0.08)])
        pc, pr = _perturbed(center, radii, spacing, rng, shift_mm=min(2.0, 0.15 * rmean))
        _paint(pred, lab, pc, pr, spacing, [(shape_seed, 0.08), (own_seed, 0.03)])
    if n_specks is None:
        n_specks = max(3, n_labels // 4)
    for _ in range(n_specks):
        lab = int(rng.integers(1, n_labels + 1))
        pos = [rng.uniform(4, n - 5) for n in shape]
        _speck(pred, lab, pos)
    return Case(name or f"{n_labels}-label {'x'.join(map(str, shape))}", pred, ref, tuple(spacing),
                list(range(1, n_labels + 1)))


def bbox_voxels(mask: np.ndarray) -> int:
    idx = [np.flatnonzero(mask.any(axis=tuple(a for a in range(mask.ndim) if a != d))) for d in range(mask.ndim)]
    if any(len(i) == 0 for i in idx):
        return 0
    return int(np.prod([i[-1] - i[0] + 1 for i in idx]))
