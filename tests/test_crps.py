"""CRPS: Gaussian and ensemble against properscoring 0.1, hand-derived cases, edge cases,
and the volume CRPS (gaussian, ensemble, curvas2024 against a scipy-quadrature
re-derivation of the challenge's published formula)."""

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import segscore as ss
from conftest import need_peer
from segscore.probabilistic.crps import curvas2024_volume_crps

RTOL = 1e-9


def _close(a, b, rtol=RTOL, atol=0.0):
    a, b = np.asarray(a, float), np.asarray(b, float)
    assert a.shape == b.shape
    assert np.array_equal(np.isnan(a), np.isnan(b)), (a, b)
    m = ~np.isnan(a)
    np.testing.assert_allclose(a[m], b[m], rtol=rtol, atol=atol)


def _ps():
    ps = need_peer("properscoring")
    return ps


def _ps_has_numba():
    import properscoring._crps as c

    return c._crps_ensemble_core is not c._crps_ensemble_vectorized


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


def test_gaussian_hand_values():
    # CRPS(N(0,1), 0) = 2 phi(0) - 1/sqrt(pi) = (sqrt 2 - 1)/sqrt(pi)
    assert ss.crps_gaussian(0.0, 0.0, 1.0) == pytest.approx((math.sqrt(2) - 1) / math.sqrt(math.pi), rel=1e-15)
    # scale equivariance
    assert ss.crps_gaussian(3.0, 1.0, 2.0) == pytest.approx(2 * ss.crps_gaussian(1.0, 0.0, 1.0), rel=1e-14)
    assert isinstance(ss.crps_gaussian(1, 2, 3), float)


def test_gaussian_sigma_zero_is_point_mass_and_limit():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ss.crps_gaussian(3.5, 1.0, 0.0) == 2.5
        assert ss.crps_gaussian(1.0, 1.0, 0.0) == 0.0
    for s in (1e-4, 1e-8, 1e-12):
        assert ss.crps_gaussian(3.5, 1.0, s) == pytest.approx(2.5, abs=2 * s)
    assert ss.crps_gaussian(1.0, 1.0, 1e-9) == pytest.approx(1e-9 * (math.sqrt(2) - 1) / math.sqrt(math.pi))


def test_gaussian_validation():
    with pytest.raises(ValueError, match="sigma must be >= 0"):
        ss.crps_gaussian([0.0, 1.0], 0.0, [1.0, -0.5])
    with pytest.raises(ValueError, match="broadcast"):
        ss.crps_gaussian(np.zeros(3), np.zeros(4), 1.0)
    with pytest.raises(TypeError, match="dtype"):
        ss.crps_gaussian(np.array(["a"]), 0.0, 1.0)
    out = ss.crps_gaussian([np.nan, 1.0], [0.0, np.nan], 1.0)
    assert np.isnan(out).all()
    assert np.isnan(ss.crps_gaussian(0.0, 0.0, np.nan))
    assert ss.crps_gaussian(np.zeros((0, 3)), 0.0, 1.0).shape == (0, 3)


def test_gaussian_torch_input():
    torch = pytest.importorskip("torch")
    x = torch.linspace(-2, 2, 7)
    _close(ss.crps_gaussian(x, 0.0, 1.0), ss.crps_gaussian(x.numpy(), 0.0, 1.0))


# ---------------------------------------------------------------------------------------
# Ensemble


def brute_ensemble(y, x, w=None):
    """mean|X - y| - 1/2 mean|X - X'| with normalised weights (members without NaN)."""
    x = np.asarray(x, float)
    w = np.ones_like(x) if w is None else np.asarray(w, float)
    keep = ~np.isnan(x)
    x, w = x[keep], w[keep]
    w = w / w.sum()
    return float(np.sum(w * np.abs(x - y)) - 0.5 * np.sum(w[:, None] * w[None, :] * np.abs(x[:, None] - x[None, :])))


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


def test_ensemble_hand_cases():
    # a point ensemble is |x - y|
    assert ss.crps_ensemble(3.0, [1.0]) == 2.0
    assert ss.crps_ensemble(-1.0, [2.5, 2.5, 2.5]) == 3.5
    # two members {0, 1}, y = 0.5: integral of F^2 on [0, .5] + (1-F)^2 on [.5, 1] = 2 * .5 * .25
    assert ss.crps_ensemble(0.5, [0.0, 1.0]) == pytest.approx(0.25)
    assert ss.crps_ensemble(0.5, [1.0, 0.0]) == pytest.approx(0.25)
    # integer weights == replicated members
    x = np.array([0.3, -1.2, 2.0, 0.3])
    w = np.array([3, 1, 2, 1])
    assert ss.crps_ensemble(0.1, x, weights=w) == pytest.approx(ss.crps_ensemble(0.1, np.repeat(x, w)), rel=1e-13)
    # weights are normalised
    assert ss.crps_ensemble(0.1, x, weights=w * 7.5) == pytest.approx(ss.crps_ensemble(0.1, x, weights=w), rel=1e-14)
    # zero weight == member absent
    assert ss.crps_ensemble(0.1, x, weights=[1, 1, 0, 1]) == pytest.approx(ss.crps_ensemble(0.1, x[[0, 1, 3]]))


def test_ensemble_edge_cases():
    assert np.isnan(ss.crps_ensemble(np.nan, [1.0, 2.0]))
    assert np.isnan(ss.crps_ensemble(1.0, [np.nan, np.nan]))
    assert ss.crps_ensemble(1.0, [np.nan, 3.0]) == 2.0
    assert np.isnan(ss.crps_ensemble(1.0, [1.0, 2.0], weights=[1.0, -1.0]))
    assert np.isnan(ss.crps_ensemble(1.0, [1.0, 2.0], weights=[0.0, 0.0]))  # zero total weight
    with pytest.raises(ValueError, match="empty"):
        ss.crps_ensemble(1.0, np.zeros((3, 0)))
    with pytest.raises(ValueError, match="ensemble axis"):
        ss.crps_ensemble(1.0, 2.0)
    with pytest.raises(ValueError, match="out of range"):
        ss.crps_ensemble(1.0, np.zeros((3, 2)), axis=2)
    with pytest.raises(ValueError, match="broadcast"):
        ss.crps_ensemble(np.zeros(4), np.zeros((3, 5)))
    with pytest.raises(ValueError, match="weights"):
        ss.crps_ensemble(np.zeros(3), np.zeros((3, 5)), weights=np.ones(4))


def test_ensemble_broadcasting():
    rng = np.random.default_rng(2)
    fc = rng.normal(size=(6, 9))
    obs = rng.normal(size=(4, 1))
    got = ss.crps_ensemble(obs, fc, weights=np.linspace(1, 2, 9))
    assert got.shape == (4, 6)
    for i in range(4):
        for j in range(6):
            assert got[i, j] == pytest.approx(brute_ensemble(obs[i, 0], fc[j], np.linspace(1, 2, 9)), rel=1e-12)
    # obs shaped like the members is an ensemble along axis -1 (not a point forecast)
    assert ss.crps_ensemble(np.array([0.0, 1.0]), np.array([0.0, 1.0])).shape == (2,)


def test_threads_bit_identical():
    rng = np.random.default_rng(0)
    fc = rng.normal(size=(5000, 23))
    obs = rng.normal(size=5000)
    a = ss.crps_ensemble(obs, fc, threads=1)
    b = ss.crps_ensemble(obs, fc, threads=4)
    assert np.array_equal(a, b)
    x = rng.normal(size=(300, 200))
    assert np.array_equal(ss.crps_gaussian(x, 0.2, 1.3, threads=1), ss.crps_gaussian(x, 0.2, 1.3, threads=3))


def test_noncontiguous_views():
    rng = np.random.default_rng(4)
    fc = rng.normal(size=(40, 30))[::2, ::3]
    obs = rng.normal(size=40)[::2]
    assert np.allclose(ss.crps_ensemble(obs, fc), ss.crps_ensemble(obs.copy(), fc.copy()), rtol=0, atol=0)
    x = rng.normal(size=(10, 12)).T
    assert np.array_equal(ss.crps_gaussian(x, 0.0, 1.0), ss.crps_gaussian(x.copy(), 0.0, 1.0))


# ---------------------------------------------------------------------------------------
# Volume CRPS


def curvas_quad(v, mu, sigma, breakpoints=True):
    """The challenge's published formula, evaluated independently with scipy quadrature:
    with every kink of the tabulated CDF as a breakpoint (accurate), or as the challenge
    called quad (no breakpoints, default tolerances)."""
    from scipy.integrate import quad
    from scipy.interpolate import interp1d
    from scipy.stats import norm

    dist = norm(loc=mu, scale=sigma)
    nodes = np.linspace(dist.ppf(0.01), dist.ppf(0.99), 100)
    cdf = interp1d(nodes, dist.cdf(nodes), bounds_error=False, fill_value=(0, 1))

    def integrand(t):
        return (cdf(t) - 0.5 * (np.sign(t - v) + 1.0)) ** 2

    lo, hi = mu - 3 * sigma, mu + 3 * sigma
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if not breakpoints:
            return quad(integrand, lo, hi)[0]
        pts = [p for p in list(nodes) + [v] if lo < p < hi]
        return quad(integrand, lo, hi, points=pts, limit=1000)[0]


@pytest.mark.parametrize("seed", range(12))
def test_curvas2024_crps_vs_quadrature(seed):
    need_peer("scipy")
    rng = np.random.default_rng(seed)
    mu = rng.uniform(1e3, 1e6)
    sigma = mu * rng.uniform(0.001, 0.3)
    for v in (mu, mu + sigma * rng.normal(), mu + 2.5 * sigma, mu - 2.9 * sigma, mu + 5 * sigma, mu - 10 * sigma,
              mu + sigma * 2.3263478740408408):
        exact = curvas2024_volume_crps(v, mu, sigma, integration="exact")
        assert exact == pytest.approx(curvas_quad(v, mu, sigma), rel=1e-9)
        # the challenge's own quadrature is the default; it misses the exact value by up to ~2 %
        challenge = curvas_quad(v, mu, sigma, breakpoints=False)
        assert curvas2024_volume_crps(v, mu, sigma) == pytest.approx(challenge, rel=1e-9)
        assert exact == pytest.approx(challenge, rel=5e-2)


def test_curvas2024_crps_properties():
    # saturates outside mu +- 3 sigma: the integral covers only that range
    far1 = curvas2024_volume_crps(1e9, 100.0, 10.0)
    far2 = curvas2024_volume_crps(1e6, 100.0, 10.0)
    assert far1 == pytest.approx(far2, rel=1e-14)
    # symmetric around mu
    assert curvas2024_volume_crps(112.0, 100.0, 10.0) == pytest.approx(curvas2024_volume_crps(88.0, 100.0, 10.0),
                                                                       rel=1e-9)
    # sigma = 0: the range is empty, the challenge's score is 0; no warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert curvas2024_volume_crps(150.0, 100.0, 0.0) == 0.0
    with pytest.raises(ValueError):
        curvas2024_volume_crps(1.0, 0.0, -1.0)


def _three_raters(shape=(8, 12, 10), seed=0):
    rng = np.random.default_rng(seed)
    raters = []
    for _ in range(3):
        r = np.zeros(shape, np.int16)
        r[rng.random(shape) < 0.25] = 1
        r[rng.random(shape) < 0.15] = 3
        raters.append(r)
    prob = rng.random((2,) + shape).astype(np.float32) * 0.5
    return prob, raters


def test_volume_crps_conventions():
    prob, raters = _three_raters()
    sp = (1.5, 0.8, 2.0)
    voxel = 1.5 * 0.8 * 2.0
    res = {c: ss.volume_crps(prob, raters, spacing=sp, convention=c, labels=[1, 3])
           for c in ("gaussian", "ensemble", "curvas2024")}
    for i, lab in enumerate((1, 3)):
        v = float(prob[i].astype(np.float64).sum()) * voxel
        vols = np.array([np.count_nonzero(r == lab) for r in raters]) * voxel
        assert res["gaussian"][lab] == pytest.approx(ss.crps_gaussian(v, vols.mean(), vols.std()), rel=1e-12)
        assert res["ensemble"][lab] == pytest.approx(brute_ensemble(v, vols), rel=1e-12)
        assert res["curvas2024"][lab] == pytest.approx(curvas2024_volume_crps(v, vols.mean(), vols.std()), rel=1e-12)
    # unit="ml" divides volumes (and the CRPS) by 1000
    ml = ss.volume_crps(prob, raters, spacing=sp, labels=[1, 3], unit="ml")
    assert ml[1] == pytest.approx(res["gaussian"][1] / 1000, rel=1e-12)


def test_volume_crps_single_maps_and_sigma_zero():
    r = np.zeros((6, 6), bool)
    r[1:4, 1:4] = True
    p = r.astype(np.float64) * 0.5  # predicted volume 4.5, raters 9 each: sigma = 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ss.volume_crps(p, [r, r, r]) == pytest.approx(4.5)  # gaussian: |v - mu|
        assert ss.volume_crps(p, [r, r, r], method="ensemble") == pytest.approx(4.5)
        assert ss.volume_crps(p, [r, r, r], method="curvas2024") == 0.0
    lab = r.astype(np.uint8) * 4
    assert ss.volume_crps(p, [lab, lab], labels=4) == pytest.approx(4.5)
    assert ss.volume_crps(p, np.stack([lab, lab]), labels=(4, 5)) == pytest.approx(4.5)


def test_volume_crps_validation():
    prob, raters = _three_raters()
    with pytest.raises(ValueError, match="convention"):
        ss.volume_crps(prob, raters, convention="nope")
    with pytest.raises(ValueError, match="unit"):
        ss.volume_crps(prob, raters, unit="cm3")
    bad = prob.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ss.volume_crps(bad, raters)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ss.volume_crps(prob * 3, raters)
    with pytest.raises(ValueError, match="shape"):
        ss.volume_crps(prob[:, :4], raters)
    with pytest.raises(ValueError, match="same grid"):
        ss.volume_crps(prob, [raters[0], raters[1][:4]])
    with pytest.raises(ValueError, match="labels="):
        ss.volume_crps(prob[0], raters)
    with pytest.raises(ValueError, match="channel"):
        ss.volume_crps(prob, raters, labels=[1, 2, 3])
    with pytest.raises(TypeError, match="mixes"):
        ss.volume_crps(prob[0], [raters[0] > 0, raters[1]])
    with pytest.raises(TypeError, match="floating"):
        ss.volume_crps(raters[0], raters)


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


@pytest.mark.peers
def test_generic_lane_kernel_matches_the_fixed_networks():
    """SEGSCORE_CRPS_GENERIC=1 forces the generic lane kernel (what CPUs without AVX-512
    run) on any machine: same numbers as the fixed networks, to rounding."""
    import subprocess
    import sys

    code = (
        "import numpy as np, segscore as ss\n"
        "rng = np.random.default_rng(5)\n"
        "out = []\n"
        "for m in (8, 9, 31, 50, 64):\n"
        "    obs = rng.normal(size=101); fc = rng.normal(size=(101, m)); fc[::7, 0] = np.nan\n"
        "    w = rng.uniform(0, 2, size=(101, m))\n"
        "    out.append(ss.crps_ensemble(obs, fc)); out.append(ss.crps_ensemble(obs, fc, weights=w))\n"
        "np.save(__import__('sys').argv[1], np.concatenate(out))\n"
    )
    import os
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        res = {}
        for name, env in (("fixed", {}), ("generic", {"SEGSCORE_CRPS_GENERIC": "1"})):
            path = os.path.join(d, name + ".npy")
            subprocess.run([sys.executable, "-c", code, path], check=True, env={**os.environ, **env})
            res[name] = np.load(path)
    np.testing.assert_allclose(res["generic"], res["fixed"], rtol=1e-13)
