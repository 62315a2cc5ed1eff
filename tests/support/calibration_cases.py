"""Random calibration inputs and tolerances shared by the calibration tests (unit and peers)."""

import numpy as np

F64 = dict(rel=1e-9, abs=1e-12)
F32 = dict(rel=2e-6, abs=2e-6)  # peers summing <= 2000 values in float32
SEEDS = range(12)


def _rand_binary(rng, shape, rounded=False, dtype=np.float64):
    p = rng.random(shape)
    if rounded:  # values on bin edges, exact 0 and 1, ties
        p = np.round(p * 10) / 10
    t = (rng.random(shape) < p).astype(np.int64)
    return p.astype(dtype), t


def _rand_multi(rng, c, shape, rounded=False, dtype=np.float64):
    p = rng.dirichlet(np.ones(c), size=shape)  # (*shape, C)
    if rounded:  # multiples of 1/8 that still sum to 1 per voxel
        p[..., :-1] = np.floor(p[..., :-1] * 8) / 8
        p[..., -1] = 1.0 - p[..., :-1].sum(axis=-1)
    t = rng.integers(0, c, size=shape)
    return np.ascontiguousarray(np.moveaxis(p, -1, 0)).astype(dtype), t
