"""CRPS: hand-derived and edge cases of the Gaussian and ensemble CRPS, threads and layouts,
and the volume CRPS (gaussian, ensemble, curvas2024 against a scipy-quadrature re-derivation of
the challenge's published formula).  The cross-checks against properscoring 0.1 are in
tests/peers/properscoring/test_crps.py."""

import math
import warnings
import numpy as np
import pytest
import segscore as ss
from support.crps_cases import _close, _three_raters, brute_ensemble, curvas_quad
from support.helpers import need_peer
from segscore.probabilistic.crps import curvas2024_volume_crps


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
