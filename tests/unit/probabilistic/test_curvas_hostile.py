"""ss.curvas on its one C++ pass against the numpy reference (curvas2024._curvas_numpy) on
hostile input, in a subprocess with a timeout: one voxel, (1, 1, N) / (N, 1, 1) volumes,
broadcast (zero-stride) and misaligned arrays, big-endian and read-only arrays, rater maps
of mixed dtypes, 1 / 29-33 / 70 raters, 40 organs, probabilities on and one ulp off the bin
edges, one-ulp overfull voxels, denormals, all background, every voxel foreground.  Every
Dice, CRPS, volume and ECE must be the reference's bits (the confidence within a few ulp, as
in test_curvas_onepass.py); the refusals must be the same errors."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

TESTS = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PRELUDE = f"""
import sys
sys.path.insert(0, {TESTS!r})
import math
import numpy as np
import segscore as ss
from segscore.protocols.curvas2024 import _curvas_numpy
from unit.probabilistic.test_curvas_onepass import _case, _same

def check(*a, **kw):
    try:
        new = ss.curvas(*a, **kw).to_dict()
    except (ValueError, TypeError) as e:
        new = type(e).__name__
    try:
        ref = _curvas_numpy(*a, **kw).to_dict()
    except (ValueError, TypeError) as e:
        ref = type(e).__name__
    if isinstance(new, str) or isinstance(ref, str):
        assert new == ref, (new if isinstance(new, str) else "result", ref if isinstance(ref, str) else "result")
        return
    _same(new, ref)

def misaligned(a, off=1):
    buf = np.zeros(a.nbytes + 16, np.uint8)
    m = np.frombuffer(buf.data, dtype=a.dtype, count=a.size, offset=off).reshape(a.shape)
    m[...] = a
    return m
"""

CODE = {
    "shapes": """
        rng = np.random.default_rng(0)
        for shape in [(1, 1, 1), (1, 1, 200), (200, 1, 1), (1, 200, 1), (3, 1, 64), (2, 2, 33), (2, 7, 63)]:
            p4 = rng.dirichlet([0.3] * 4, size=shape).astype(np.float32)
            p = np.moveaxis(p4[..., 1:], -1, 0).copy()
            rs = [rng.integers(0, 4, shape).astype(np.uint8) for _ in range(3)]
            check(p, rs, integration="exact")
            check(p, [np.asfortranarray(r) for r in rs], threads=3, integration="exact")
            check(p, rs, convention="segscore")
            check(p[:1], rs, integration="exact")
        check(np.zeros((3, 0, 4, 4), np.float32), [np.zeros((0, 4, 4), np.uint8)] * 3)
    """,
    "memory_layouts": """
        prob, raters = _case(seed=1)
        check(prob.astype(">f4"), [r.astype(">i4") for r in raters], integration="exact")
        ro = prob.copy()
        ro.flags.writeable = False
        check(ro, raters, integration="exact")
        check(prob, [raters[0], raters[1].astype(np.int64), raters[2].astype(np.uint16)], integration="exact")
        check(misaligned(prob, 2), [misaligned(raters[0].astype(np.int32), 1), raters[1], raters[2]],
              pred=misaligned(raters[0].astype(np.int64), 3), integration="exact")
        rng = np.random.default_rng(2)
        cp = np.broadcast_to((rng.random((3, 1, 7, 40)) / 3).astype(np.float32), (3, 6, 7, 40))
        rs = [np.broadcast_to(rng.integers(0, 4, (1, 7, 40)).astype(np.uint8), (6, 7, 40)) for _ in range(3)]
        check(cp, rs, integration="exact")
        check(cp, rs, pred=rs[0], ct=np.broadcast_to(np.ones(40), (6, 7, 40)), integration="exact")
    """,
    "raters_and_organs": """
        for k in (1, 29, 32, 33, 70):
            prob, raters = _case(seed=k, k=k, shape=(4, 7, 9))
            check(prob, raters, integration="exact")
            check(prob, raters, integration="exact", exact=True, threads=3)
        rng = np.random.default_rng(9)
        prob = np.moveaxis(rng.dirichlet([0.2] * 41, size=(3, 5, 40)).astype(np.float32)[..., 1:], -1, 0).copy()
        rs = [rng.integers(0, 42, (3, 5, 40)).astype(np.uint8) for _ in range(3)]
        check(prob, rs, integration="exact")
        check(prob, rs, integration="exact", exact=True)
    """,
    "probability_values": """
        from segscore.calibration.edges import _torch_linspace
        rng = np.random.default_rng(5)
        prob, raters = _case(seed=2)
        shape = prob.shape[1:]
        edges = np.array(_torch_linspace(1.0, 51, "float32"), np.float64)  # torch.linspace(0, 1, 51)
        for dt in (np.float32, np.float64):
            vals = np.concatenate([edges, np.nextafter(edges, 2), np.nextafter(edges, -1)]).clip(0, 1).astype(dt)
            p = np.stack([rng.choice(vals, shape) / 3 for _ in range(3)]).astype(dt)
            check(p, raters, integration="exact")
            check(p, raters, exact=True)
            check(p, raters, convention="segscore")
            q = np.zeros_like(p)
            q[0] = rng.choice(vals, shape)
            check(q, raters, integration="exact")
            q = np.zeros_like(p)
            q[:, 1, 2, 3] = 1.0                            # three organs at 1: background -2
            check(q, raters, integration="exact")
            check(q, raters, integration="exact", exact=True)
        p = prob.copy()
        p[0, 0] = np.float32(1e-45)
        check(p, raters)
        check(np.zeros_like(prob), [np.zeros_like(r) for r in raters])
        check(np.zeros_like(prob), [np.zeros_like(r) for r in raters], convention="segscore")
        check(np.ones_like(prob) / 3, [np.ones_like(r) for r in raters])
        for bad in (np.nan, np.inf, -0.1, 1.5):
            p = prob.copy()
            p[0, 2, 3, 4] = bad
            check(p, raters)
    """,
}


@pytest.mark.parametrize("name", sorted(CODE))
def test_curvas_matches_the_numpy_reference_on_hostile_input(name):
    code = textwrap.dedent(PRELUDE) + textwrap.dedent(CODE[name])
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
