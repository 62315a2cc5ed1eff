"""CRPS against properscoring 0.1: Gaussian and ensemble (weighted, NaN, infinities, float32,
the lane kernels), on random inputs and hypothesis-drawn cases."""

import numpy as np
import pytest
from hypothesis import given, settings
from support.crps_cases import RTOL, _close, _ps, _ps_has_numba, brute_ensemble
from hypothesis import strategies as st
import segscore as ss


# ---------------------------------------------------------------------------------------
# Gaussian


@pytest.mark.peers
@pytest.mark.parametrize("seed", range(8))
def test_gaussian_vs_properscoring(seed):
    ps = _ps()
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 5000))
    scale = 10.0 ** rng.uniform(-3, 4)
    x = rng.normal(size=n) * scale
    mu = rng.normal(size=n) * scale
    sig = rng.uniform(1e-3, 3, size=n) * scale
    x[: n // 10] = mu[: n // 10] + sig[: n // 10] * rng.normal(size=n // 10) * 40  # far tails
    _close(ss.crps_gaussian(x, mu, sig), ps.crps_gaussian(x, mu, sig))


@pytest.mark.peers
def test_gaussian_broadcast_and_dtypes_vs_properscoring():
    ps = _ps()
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4, 1, 6)).astype(np.float32)
    mu = rng.normal(size=(5, 1))
    sig = np.float32(0.7)
    got = ss.crps_gaussian(x, mu, sig)
    assert got.shape == (4, 5, 6) and got.dtype == np.float64
    _close(got, ps.crps_gaussian(x.astype(float), mu, float(sig)))
    # integer inputs are converted explicitly
    _close(ss.crps_gaussian(np.arange(5), 2, 3), ps.crps_gaussian(np.arange(5.0), 2.0, 3.0))


@pytest.mark.peers
@settings(max_examples=200, deadline=None)
@given(x=st.floats(-1e6, 1e6), mu=st.floats(-1e6, 1e6), sig=st.floats(1e-6, 1e6))
def test_gaussian_hypothesis(x, mu, sig):
    ps = _ps()
    assert ss.crps_gaussian(x, mu, sig) == pytest.approx(float(ps.crps_gaussian(x, mu, sig)), rel=RTOL, abs=1e-300)


@pytest.mark.peers
@pytest.mark.parametrize("m", [1, 2, 3, 7, 16, 17, 33, 50, 100, 257])
@pytest.mark.parametrize("weighted", [False, True])
def test_ensemble_vs_properscoring(m, weighted):
    ps = _ps()
    rng = np.random.default_rng(m * 7 + weighted)
    n = 400
    obs = rng.normal(size=n) * 3
    fc = rng.normal(size=(n, m)) * rng.uniform(0.1, 5, size=(n, 1))
    fc[::7] = np.round(fc[::7])  # ties
    obs[::11] = fc[::11, 0]  # observation equal to a member
    w = rng.uniform(0.0, 2.0, size=(n, m)) if weighted else None
    got = ss.crps_ensemble(obs, fc, weights=w)
    ref = ps.crps_ensemble(obs, fc, weights=w)
    _close(got, ref, atol=1e-300)
    # the brute-force O(m^2) identity
    for i in range(0, n, 37):
        assert got[i] == pytest.approx(brute_ensemble(obs[i], fc[i], None if w is None else w[i]), rel=1e-9, abs=1e-12)


@pytest.mark.peers
@pytest.mark.parametrize("m", [8, 9, 31, 32, 63, 64, 65, 128])
@pytest.mark.parametrize("layout", ["c", "f", "reversed"])
def test_ensemble_lane_kernels_vs_properscoring(m, layout):
    """The CPU lane kernels at their size boundaries (networks unrolled for 8/16/32/64
    members, the generic network above 64), contiguous rows (transposed 8 x 8 tiles) and
    strided ones, a batch that is not a multiple of 8, missing members in some lanes only,
    ties, infinities and weights."""
    ps = _ps()
    if not _ps_has_numba():
        pytest.skip("properscoring without numba uses a different fallback")
    rng = np.random.default_rng(m)
    n = 203
    obs = rng.normal(size=n) * 2
    fc = rng.normal(size=(n, m))
    fc[::5] = np.round(fc[::5])  # ties
    obs[::13] = fc[::13, -1]
    fc[rng.random((n, m)) < 0.03] = np.nan  # some lanes miss members
    fc[7, :] = np.nan
    fc[9, 0] = np.inf
    fc[10, -1] = -np.inf
    obs[11] = np.inf
    w = rng.uniform(0.0, 2.0, size=(n, m))
    w[20, 3] = -1.0
    if layout == "f":
        fc, w = np.asfortranarray(fc), np.asfortranarray(w)
    elif layout == "reversed":
        fc, w = fc[:, ::-1], w[:, ::-1]
    for weights in (None, w):
        with np.errstate(invalid="ignore"):
            ref = ps.crps_ensemble(obs, fc, weights=weights)
        _close(ss.crps_ensemble(obs, fc, weights=weights), ref)
        _close(ss.crps_ensemble(obs, fc, weights=weights, threads=1), ref)


@pytest.mark.peers
def test_ensemble_nan_handling_vs_properscoring():
    ps = _ps()
    if not _ps_has_numba():
        pytest.skip("properscoring without numba uses a different (vectorised) fallback for NaN weights")
    rng = np.random.default_rng(5)
    n, m = 300, 12
    obs = rng.normal(size=n)
    fc = rng.normal(size=(n, m))
    w = rng.uniform(0, 1, size=(n, m))
    fc[rng.random((n, m)) < 0.2] = np.nan  # missing members
    fc[3] = np.nan  # all missing
    obs[4] = np.nan  # missing observation
    fc[10, 2], w[10, 2] = 0.5, -1.0  # negative weight
    fc[11, 5], w[11, 5] = 0.5, np.nan  # NaN weight
    fc[12, 6] = np.nan
    w[12, 6] = np.nan  # NaN weight on a missing member: ignored
    fc[13, 7] = np.nan
    w[13, 7] = -5.0  # negative weight on a missing member: ignored
    for weights in (None, w):
        _close(ss.crps_ensemble(obs, fc, weights=weights), ps.crps_ensemble(obs, fc, weights=weights))
    got = ss.crps_ensemble(obs, fc, weights=w)
    assert np.isnan(got[[3, 4, 10, 11]]).all()
    assert not np.isnan(got[[12, 13]]).any()


@pytest.mark.peers
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_ensemble_hypothesis(data):
    ps = _ps()
    m = data.draw(st.integers(1, 40))
    fl = st.floats(-1e4, 1e4, allow_nan=False)
    x = np.array(data.draw(st.lists(fl, min_size=m, max_size=m)))
    w = np.array(data.draw(st.lists(st.floats(0.01, 10), min_size=m, max_size=m)))
    y = data.draw(fl)
    for weights in (None, w):
        got = ss.crps_ensemble(y, x, weights=weights)
        ref = float(ps.crps_ensemble(np.array(y), x, weights=weights))
        assert got == pytest.approx(ref, rel=RTOL, abs=1e-9)


@pytest.mark.peers
def test_ensemble_axis_and_float32_vs_properscoring():
    ps = _ps()
    rng = np.random.default_rng(9)
    fc = rng.normal(size=(20, 3, 8)).astype(np.float32)
    obs = rng.normal(size=(3, 8)).astype(np.float32)
    w = rng.uniform(0.1, 1, size=(20, 3, 8)).astype(np.float32)
    got = ss.crps_ensemble(obs, fc, weights=w, axis=0)
    ref = ps.crps_ensemble(obs.astype(float), fc.astype(float), weights=w.astype(float), axis=0)
    _close(got, ref)


@pytest.mark.peers
@pytest.mark.parametrize("m", [5, 300])  # the lane-parallel path and the per-ensemble path
def test_ensemble_infinities_vs_properscoring(m):
    ps = _ps()
    if not _ps_has_numba():
        pytest.skip("properscoring without numba uses a different fallback")
    rng = np.random.default_rng(11)
    n = 40
    obs = rng.normal(size=n)
    fc = rng.normal(size=(n, m))
    fc[0, 1] = np.inf
    fc[1, 2] = -np.inf
    fc[2, :] = np.inf
    obs[3] = np.inf
    obs[4] = -np.inf
    fc[5, 0], fc[5, 1] = np.inf, -np.inf
    with np.errstate(invalid="ignore"):
        ref = ps.crps_ensemble(obs, fc)
    _close(ss.crps_ensemble(obs, fc), ref)
