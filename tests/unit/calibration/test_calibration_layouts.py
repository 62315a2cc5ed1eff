"""The calibration pass walks and sums in logical C order whatever the memory layout.

The C++ driver reads a layout whose last axis is not the closest in memory (Fortran order,
transposed views, channels-first maps stored channels-last) through windows of slabs
copied in memory order; Python makes no C-ordered copy.  Every count and every float sum
must equal, bit for bit, the C-ordered call's, for any thread count, mask, ignore_label,
segmented long lines and window boundaries that fall inside the threads' ranges.
"""

from __future__ import annotations

import itertools
import tracemalloc

import numpy as np
import pytest

import segscore as ss


def _bits(r):
    return (r.count.tobytes(), r.correct.tobytes(), np.asarray(r.sum_confidence).tobytes(),
            np.asarray(r.edges).tobytes(), r.voxels, np.float64(r.brier_sum).tobytes(),
            np.float64(r.nll_sum).tobytes(), r.scored)


def _relayout(a, perm):
    """The same logical array stored with its axes in memory order `perm` (slowest first)."""
    inv = np.argsort(perm)
    return np.ascontiguousarray(a.transpose(perm)).transpose(inv)


def _layouts(nd):
    out = {"F": tuple(range(nd))[::-1]}
    for perm in itertools.permutations(range(nd)):
        if perm[-1] != nd - 1:
            out.setdefault(f"perm{''.join(map(str, perm))}", perm)
    return out


@pytest.mark.parametrize("shape", [(37, 41, 29), (3, 2, 40000), (120, 61, 53), (300, 7, 3, 5), (65, 3), (50, 1, 40, 1),
                                   (1, 70, 1)])
@pytest.mark.parametrize("threads", [1, 3])
def test_binary_layouts_bit_identical(shape, threads):
    rng = np.random.default_rng(sum(shape))
    p = rng.random(shape, dtype=np.float32)
    t = (rng.random(shape) < p).astype(np.uint8)
    m = rng.random(shape) < 0.8
    layouts = list(_layouts(len(shape)).items())[:4]
    for kw in (dict(), dict(mask=m), dict(ignore_label=0)):
        want = _bits(ss.reliability(p, t, threads=threads, **kw))
        want_b = np.float64(ss.brier(p, t, threads=threads, **kw)).tobytes()
        for name, perm in layouts:
            pp, tt = _relayout(p, perm), _relayout(t, perm)
            k2 = dict(kw, mask=np.asfortranarray(m)) if "mask" in kw else kw
            assert _bits(ss.reliability(pp, tt, threads=threads, **k2)) == want, (name, kw)
            assert _bits(ss.reliability(pp, t, threads=threads, **k2)) == want, (name, kw)
            assert np.float64(ss.brier(pp, tt, threads=threads, **k2)).tobytes() == want_b, (name, kw)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("convention", ["segscore", "monai", "netcal", "torchmetrics"])
def test_multiclass_layouts_bit_identical(dtype, convention):
    rng = np.random.default_rng(7)
    q = rng.random((4, 23, 31, 19)).astype(dtype)
    q = (q / q.sum(0, keepdims=True)).astype(dtype)
    t = q.astype(np.float64).argmax(0).astype(np.int32)
    for threads in (1, 2):
        want = _bits(ss.reliability(q, t, convention=convention, threads=threads))
        for name, qq in [("F", np.asfortranarray(q)),
                         ("channels-last memory", np.moveaxis(np.ascontiguousarray(np.moveaxis(q, 0, -1)), -1, 0)),
                         ("F spatial, classes outermost", np.ascontiguousarray(q.transpose(0, 3, 2, 1)).transpose(0, 3, 2, 1)),
                         ("reversed", q[:, ::-1, ::-1, ::-1].copy()[:, ::-1, ::-1, ::-1])]:
            got = ss.reliability(qq, np.asfortranarray(t), convention=convention, threads=threads)
            assert _bits(got) == want, (name, threads)


def test_class_axis_last_and_equal_mass():
    rng = np.random.default_rng(3)
    q = rng.random((17, 13, 11, 3))
    q /= q.sum(-1, keepdims=True)
    t = q.argmax(-1).astype(np.uint8)
    for kw in (dict(), dict(binning="equal-mass"), dict(target_mode="class-wise", binning="equal-mass")):
        want = _bits(ss.reliability(q, t, class_axis=-1, threads=2, **kw))
        got = ss.reliability(np.asfortranarray(q), np.asfortranarray(t), class_axis=-1, threads=2, **kw)
        assert _bits(got) == want, kw


def test_fortran_input_is_not_copied():
    """No full-size copy of a Fortran-ordered map: the traced peak stays far below its size."""
    rng = np.random.default_rng(0)
    p = np.asfortranarray(rng.random((64, 64, 256), dtype=np.float32))
    t = np.asfortranarray((rng.random(p.shape) < p).astype(np.uint8))
    ss.ece(p, t)  # warm-up (imports, caches)
    tracemalloc.start()
    try:
        got = ss.ece(p, t)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < p.nbytes // 4, peak
    assert np.float64(got).tobytes() == np.float64(ss.ece(np.ascontiguousarray(p), np.ascontiguousarray(t))).tobytes()
