"""The weighted nearest-rank percentile (DeepMind's rule behind HD / HD95 of
the "segscore" and "deepmind" conventions): the C++ selection
(segscore._cpu.rank_percentile, through surface._rank_percentile) must return
exactly the bits of the numpy lexsort formulation, or None (then numpy
decides)."""

import math
import warnings

import numpy as np
import pytest

import segscore as ss
from segscore._core import backends as _backend
from segscore.metrics.surface import distances as S
from support.helpers import blob

QS = (0.0, 1e-9, 0.5, 5.0, 25.0, 50.0, 90.0, 95.0, 99.0, 99.9, 100.0)


def reference(d, w, q):
    """The formulation segscore used before the C++ routine (verbatim)."""
    order = np.lexsort((w, d))
    ds, ws = d[order], w[order]
    cum = np.cumsum(ws) / np.sum(ws)
    idx = int(np.searchsorted(cum, q / 100.0))
    return float(ds[min(idx, len(ds) - 1)])


def bits(x):
    return float(x).hex()


def cpu_rank():
    f = getattr(_backend._cpu, "rank_percentile", None)
    if f is None:
        pytest.skip("the compiled core has no rank_percentile")
    return f


def check(d, w, q, answered=None):
    """S._rank_percentile equals the reference bit for bit; returns whether the
    C++ selection answered (not None)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # 0 / 0 in the reference for zero weights
        want = reference(d, w, q)
        got = S._rank_percentile(d, w, q)
        assert bits(S._rank_percentile_numpy(d, w, q)) == bits(want)
    assert bits(got) == bits(want), f"q={q} n={len(d)}: got {got!r}, numpy {want!r}"
    v = cpu_rank()(d, w, q / 100.0)
    if v is not None:
        assert bits(v) == bits(want), f"q={q} n={len(d)}: C++ {v!r}, numpy {want!r}"
    if answered is not None:
        assert (v is not None) == answered, f"q={q}: C++ answered {v!r}, expected answered={answered}"
    return v is not None


def grid_distances(rng, n, spacing=(0.8, 0.8, 2.5), reach=6):
    """Distances as the surface code produces them: sqrt of sums of squared
    integer offsets times the spacing (many exact ties)."""
    off = rng.integers(-reach, reach + 1, size=(n, 3)).astype(np.float64)
    return np.sqrt(np.sum((off * np.asarray(spacing)) ** 2, axis=1))


def surfel_weights(rng, n):
    """A few distinct area values, as the surfel table gives (ties in weight)."""
    table = np.array([0.16, 0.32, 0.64, 1.0, 1.0 / 3.0, 2.0 * 0.8, 0.8 * 2.5, math.sqrt(2) * 0.8])
    return table[rng.integers(0, len(table), size=n)]


@pytest.mark.parametrize("seed", range(40))
def test_random_against_lexsort(seed):
    rng = np.random.default_rng(seed)
    answered = total = 0
    for n in (1, 2, 3, 5, 17, 100, 1000, 4000):
        kind = seed % 4
        if kind == 0:  # grid distances, surfel weights
            d, w = grid_distances(rng, n), surfel_weights(rng, n)
        elif kind == 1:  # heavy ties: few distance values, few weight values, some zeros
            d = rng.integers(0, 5, size=n).astype(np.float64) * 0.5
            w = rng.integers(0, 4, size=n).astype(np.float64) * 0.25
            if not w.any():
                w[0] = 1.0
        elif kind == 2:  # continuous values, inf distances (empty other boundary)
            d = rng.exponential(3.0, size=n)
            d[rng.random(n) < 0.05] = np.inf
            w = rng.random(n)
        else:  # unit weights (exact boundaries at q = 50 etc. -> fallback)
            d = grid_distances(rng, n, spacing=(1.0, 1.0, 1.0), reach=3)
            w = np.ones(n)
        for q in QS + tuple(rng.uniform(0, 100, size=4)):
            answered += check(d, w, float(q))
            total += 1
    if seed % 4 in (0, 2):  # generic weights: the selection decides nearly always
        assert answered >= 0.8 * total, f"C++ answered {answered}/{total}"


def test_single_element():
    for dv in (0.0, 1.5, math.inf):
        for wv in (0.0, 1.0, 0.3):
            for q in QS:
                check(np.array([dv]), np.array([wv]), q)


def test_ties_in_distance_with_different_weights():
    d = np.array([2.0, 1.0, 2.0, 1.0, 3.0, 2.0])
    w = np.array([0.5, 0.25, 0.0, 1.0, 0.125, 2.0])
    for q in np.linspace(0, 100, 201):
        check(d, w, float(q))
    # the answer only depends on the group a rank falls in, not the order within it
    assert S._rank_percentile(d, w, 60.0) == 2.0


def test_zero_weights():
    rng = np.random.default_rng(7)
    d = grid_distances(rng, 500)
    w = surfel_weights(rng, 500)
    w[rng.random(500) < 0.3] = 0.0
    w[np.argmax(d)] = 0.0  # the largest distance weighs nothing
    for q in QS:
        check(d, w, q)
    # all weights zero: numpy divides 0 by 0 (nan cum) -> the C++ side declines
    z = np.zeros(10)
    for q in QS:
        check(np.arange(10.0), z, q, answered=False)


def test_inf_distances():
    d = np.array([1.0, np.inf, 2.0, np.inf, 0.5])
    w = np.array([1.0, 2.0, 0.5, 0.25, 1.0])
    for q in np.linspace(0, 100, 101):
        check(d, w, float(q))
    d = np.full(7, np.inf)
    for q in QS:
        check(d, np.ones(7) * 0.3, q)


def test_exact_boundaries_fall_back():
    # cum = .25 .5 .75 1: q = 50 lands exactly on a group end -> numpy decides
    d, w = np.array([4.0, 1.0, 3.0, 2.0]), np.ones(4)
    check(d, w, 50.0, answered=False)
    check(d, w, 40.0, answered=True)
    assert S._rank_percentile(d, w, 50.0) == 2.0
    assert S._rank_percentile(d, w, 50.000001) == 3.0
    # q = 100 with a positive-weight maximum: answered (no sort needed)
    check(d, w, 100.0, answered=True)


def test_outside_the_domain_falls_back():
    d = np.array([0.0, 1.0, 2.0, np.nan])
    w = np.ones(4)
    for q in QS:
        check(d, w, q, answered=False)  # NaN distance
    for q in QS:
        check(np.array([-0.0, 0.0, 1.0]), np.array([1.0, 2.0, 3.0]), q, answered=False)  # -0.0
    for q in QS:
        check(np.array([1.0, 2.0, 3.0]), np.array([1.0, -0.5, 3.0]), q, answered=False)  # negative weight
    for q in QS:
        check(np.array([1.0, 2.0, 3.0]), np.array([1.0, np.inf, 3.0]), q, answered=False)  # inf weight
    # float32 inputs are never sent to C++ (numpy sums them in float32)
    d32 = np.array([3.0, 1.0, 2.0], np.float32)
    w32 = np.array([0.1, 0.7, 0.2], np.float32)
    for q in QS:
        assert bits(S._rank_percentile(d32, w32, q)) == bits(reference(d32, w32, q))
    # empty input: numpy's IndexError, as before
    with pytest.raises(IndexError):
        S._rank_percentile(np.zeros(0), np.zeros(0), 95.0)
    assert cpu_rank()(np.zeros(0), np.zeros(0), 0.95) is None


def test_non_contiguous_views():
    rng = np.random.default_rng(3)
    d = grid_distances(rng, 2000)[::3]
    w = surfel_weights(rng, 2000)[1::3]
    for q in QS:
        check(d, w, q)


@pytest.mark.parametrize("convention", ["segscore", "deepmind"])
def test_surface_metrics_unchanged(convention):
    a = blob((40, 44, 36), (20, 21, 17), (12, 14, 9))
    b = blob((40, 44, 36), (21, 20, 18), (11, 15, 10))
    b[2:4, 2:4, 2:4] = True  # a far speck
    sd = ss.surface_distances(a, b, spacing=(0.8, 0.8, 2.5), convention=convention)
    for (d, w) in sd._dists():
        for q in QS:
            check(d, w, q)
    for q in QS:
        (dp, wp), (dr, wr) = sd._dists()
        want = max(reference(dp, wp, q), reference(dr, wr, q))
        if q == 100 and convention == "segscore":
            want = max(float(np.max(dp)), float(np.max(dr)))
        assert bits(sd.hausdorff(q)) == bits(want)
