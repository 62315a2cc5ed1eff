"""Calibration against netcal 1.4 (ECE, ACE, MCE; equal-mass bins)."""

import numpy as np
import pytest
import segscore as ss
from support.calibration_cases import F64, SEEDS, _rand_binary, _rand_multi
from support.helpers import need_peer


# ---------------------------------------------------------------------------
# netcal 1.4


def _netcal():
    need_peer("netcal")
    from netcal.metrics import ACE, ECE, MCE

    return (("ece", ECE), ("ace", ACE), ("mce", MCE))


@pytest.mark.peers
@pytest.mark.parametrize("seed", SEEDS)
def test_netcal(seed):
    metrics = _netcal()
    rng = np.random.default_rng(300 + seed)
    n_bins = int(rng.integers(1, 30))
    shape = (int(rng.integers(2, 30)), int(rng.integers(2, 30)))
    fns = {"ece": ss.ece, "ace": ss.ace, "mce": ss.mce}
    for dtype in (np.float64, np.float32):
        p, t = _rand_binary(rng, shape, rounded=seed % 3 == 0, dtype=dtype)
        c = 4
        pm, tm = _rand_multi(rng, c, shape, rounded=seed % 3 == 0, dtype=dtype)
        tm.flat[:3] = [0, 1, 2]  # netcal needs >= 3 labels to treat the input as multi-class
        for name, cls in metrics:
            want = cls(bins=n_bins).measure(p.ravel(), t.ravel())
            assert fns[name](p, t, n_bins=n_bins, convention="netcal") == pytest.approx(want, **F64)
            # a (2, ...) input is the positive class in netcal
            want2 = cls(bins=n_bins).measure(np.stack([1 - p.ravel(), p.ravel()], 1), t.ravel())
            assert fns[name](np.stack([1 - p, p]), t, n_bins=n_bins, convention="netcal") == pytest.approx(
                want2, **F64)
            want = cls(bins=n_bins).measure(np.moveaxis(pm, 0, -1).reshape(-1, c), tm.ravel())
            assert fns[name](pm, tm, n_bins=n_bins, convention="netcal") == pytest.approx(want, **F64)


@pytest.mark.peers
@pytest.mark.parametrize("seed", SEEDS)
def test_netcal_equal_mass(seed):
    metrics = _netcal()
    rng = np.random.default_rng(400 + seed)
    n_bins = int(rng.integers(2, 20))
    p, t = _rand_binary(rng, (int(rng.integers(3 * n_bins, 500)),))  # continuous: no duplicate quantiles
    fns = {"ece": ss.ece, "ace": ss.ace, "mce": ss.mce}
    for name, cls in metrics:
        want = cls(bins=n_bins, equal_intervals=False).measure(p, t)
        got = fns[name](p, t, n_bins=n_bins, convention="netcal", binning="equal-mass")
        assert got == pytest.approx(want, **F64)
    pm, tm = _rand_multi(rng, 3, (400,))
    tm[:3] = [0, 1, 2]
    want = metrics[0][1](bins=n_bins, equal_intervals=False).measure(pm.T.copy(), tm)
    assert ss.ece(pm, tm, n_bins=n_bins, convention="netcal", binning="equal-mass") == pytest.approx(want, **F64)


@pytest.mark.peers
def test_netcal_float16_and_extremes():
    metrics = _netcal()
    rng = np.random.default_rng(21)
    p, t = _rand_binary(rng, (400,), rounded=True, dtype=np.float16)  # 0 and 1 clip to float16's eps
    # netcal's own float16 path overflows inside scipy; give it the float16-clipped values in float64
    eps = np.finfo(np.float16).eps
    clipped = np.clip(p, eps, np.float16(1) - eps).astype(np.float64)
    for name, cls in metrics:
        want = cls(bins=10).measure(clipped, t)
        got = {"ece": ss.ece, "ace": ss.ace, "mce": ss.mce}[name](p, t, convention="netcal")
        assert got == pytest.approx(want, rel=1e-6, abs=1e-9)
