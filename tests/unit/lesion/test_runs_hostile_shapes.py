"""Lesion components kept as runs (segscore.lesion._cc.Instances from label_runs) against the
painted-map path (the same components as an id map: component_stats / overlap_table) on
hostile shapes and layouts, every convention, in a subprocess with a timeout: one-voxel and
one-row volumes, (1, 1, N) and (N, 1, 1), empty / full / alternating masks, a shell touching
every face, runs ending at 64-byte boundaries, a thousand one-voxel lesions, broadcast
(zero-stride) and misaligned inputs.  Every row, match and summary must be equal."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

PRELUDE = """
import math
import numpy as np
import segscore as ss
from segscore.lesion import _cc

runs = _cc.components

def painted(mask, connectivity, order="C", threads=0):
    lab, n = _cc.label(mask, connectivity, order)
    return _cc.given(lab, n, threads)

def norm(x):
    if isinstance(x, dict):
        return {k: norm(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [norm(v) for v in x]
    if isinstance(x, float) and math.isnan(x):
        return "nan"
    if isinstance(x, np.generic):
        return norm(x.item())
    return x

def result(pred, ref, **kw):
    try:
        r = ss.lesionwise(pred, ref, **kw)
        return norm([r.lesions, r.matches, r.summary])
    except (ValueError, TypeError) as e:
        return (type(e).__name__, str(e))

def same(pred, ref, **kw):
    _cc.components = runs
    a = result(pred, ref, **kw)
    _cc.components = painted
    b = result(pred, ref, **kw)
    _cc.components = runs
    assert a == b, (kw, str(a)[:400], str(b)[:400])

def misaligned(a, off=1):
    buf = np.zeros(a.nbytes + 16, np.uint8)
    m = np.frombuffer(buf.data, dtype=a.dtype, count=a.size, offset=off).reshape(a.shape)
    m[...] = a
    return m

CONVS = ["segscore", "panoptica", "isles", "metricsreloaded", "monai_cc_dice", "lits"]
"""

CODE = {
    "thin_and_tiny_volumes": """
        for shape in [(1, 1, 1), (1, 1, 70), (70, 1, 1), (1, 70, 1), (3, 1, 64), (2, 2, 32), (1, 1), (1, 65)]:
            z, o = np.zeros(shape, bool), np.ones(shape, bool)
            alt = np.indices(shape).sum(0) % 2 == 0
            for conv in CONVS:
                for p, r in ((z, z), (o, o), (o, z), (z, o), (alt, o), (alt, ~alt), (np.asfortranarray(alt), alt)):
                    same(p, r, convention=conv)
    """,
    "borders_boundaries_and_many_lesions": """
        s = (9, 10, 11)
        shell = np.ones(s, bool)
        shell[1:-1, 1:-1, 1:-1] = False
        dots = np.zeros((20, 20, 20), bool)
        dots[::2, ::2, ::2] = True                        # 1000 one-voxel lesions
        m = np.zeros((3, 4, 128), bool)
        m[:, :, 0:64] = True                              # runs ending at a 64-byte boundary
        m[1, 2, 63:65] = False
        for conv in CONVS + ["brats2023"]:
            lab = (lambda a: a.astype(np.uint8) * 2) if conv == "brats2023" else (lambda a: a)
            same(lab(shell), lab(np.ones(s, bool)), convention=conv)
            same(lab(dots), lab(np.roll(dots, 1, 0) | dots), convention=conv, threads=1)
            same(lab(dots), lab(dots), convention=conv, threads=3)
            same(lab(m), lab(np.roll(m, 1, 2)), convention=conv)
            same(lab(m), lab(np.roll(m, 1, 2)), convention=conv, order="F")
    """,
    "zero_strides_and_misaligned_memory": """
        rng = np.random.default_rng(0)
        p = np.broadcast_to(rng.random(40) < 0.4, (6, 7, 40))
        q = np.broadcast_to(rng.random((6, 7, 1)) < 0.5, (6, 7, 40))
        lab = rng.integers(0, 3, (6, 9, 37))
        for conv in CONVS:
            same(p, q, convention=conv)
            want = result(np.ascontiguousarray(p), np.ascontiguousarray(q), convention=conv)
            assert result(p, q, convention=conv) == want
            a, b = misaligned(lab.astype(np.int32)), misaligned(np.roll(lab, 1, 2).astype(np.int64), 3)
            assert result(a, b, convention=conv) == result(np.array(a), np.array(b), convention=conv)
    """,
    "random_masks_every_layout": """
        rng = np.random.default_rng(4)
        for it in range(24):
            nd = 2 + it % 2
            shape = tuple(int(x) for x in rng.integers(1, 14, nd))
            a = rng.random(shape) < rng.uniform(0.05, 0.5)
            b = rng.random(shape) < rng.uniform(0.05, 0.5)
            a, b = [(a, b), (np.asfortranarray(a), np.asfortranarray(b)), (a[::-1], b), (a, np.asfortranarray(b))][it % 4]
            for conv in CONVS:
                if conv == "lits":
                    a2 = a.astype(np.uint8) * (1 + rng.integers(0, 2, shape)).astype(np.uint8)
                    same(a2, b.astype(np.uint8), convention=conv, order=("C", "F")[it % 2])
                else:
                    same(a, b, convention=conv, order=("C", "F")[it % 2])
    """,
}


@pytest.mark.parametrize("name", sorted(CODE))
def test_runs_equal_the_painted_maps_on_hostile_input(name):
    code = textwrap.dedent(PRELUDE) + textwrap.dedent(CODE[name])
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
