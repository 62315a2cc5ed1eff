"""Calibration against MetricsReloaded (not on PyPI): its published test values, carried over
(test/test_metrics/test_calibration_metrics.py), plus exact hand derivations."""

import math
import numpy as np
import pytest
import segscore as ss
from support.calibration_cases import _rand_multi


# ---------------------------------------------------------------------------
# MetricsReloaded (not on PyPI): its published test values, carried over
# (test/test_metrics/test_calibration_metrics.py), plus exact hand derivations

MR_PRED = np.array([0.22, 0.48, 0.49, 0.96, 0.55, 0.64, 0.78, 0.82, 0.34, 0.87])  # P(class 1), "SN 2.24 p67"
MR_REF = np.array([0, 1, 0, 0, 1, 1, 1, 1, 1, 0])


@pytest.mark.parametrize("bins,ece,mce,ece_exact,mce_exact", [
    (2, 0.11, 0.12, (4 * 0.1175 + 6 * abs(4 / 6 - 4.62 / 6)) / 10, 0.1175),
    (5, 0.32, 0.55, 3.15 / 10, 0.55),
    (10, 0.36, 0.96, 3.59 / 10, 0.96),
])
def test_metricsreloaded_published_ece_mce(bins, ece, mce, ece_exact, mce_exact):
    for probs in (MR_PRED, np.stack([1 - MR_PRED, MR_PRED])):  # MR takes (N, 2); pred[:, 1] is used
        got = ss.ece(probs, MR_REF, n_bins=bins, convention="metricsreloaded")
        assert got == pytest.approx(ece, abs=0.01)
        assert got == pytest.approx(ece_exact, rel=1e-12)
        got = ss.mce(probs, MR_REF, n_bins=bins, convention="metricsreloaded")
        assert got == pytest.approx(mce, abs=0.01)
        assert got == pytest.approx(mce_exact, rel=1e-12)
    assert ss.reliability(MR_PRED, MR_REF, convention="metricsreloaded").count.sum() == 10
    assert ss.reliability(MR_PRED, MR_REF, n_bins=10).count.sum() == 10


def test_metricsreloaded_default_bins_is_ten():
    assert ss.ece(MR_PRED, MR_REF, convention="metricsreloaded") == pytest.approx(0.359, rel=1e-12)


def test_metricsreloaded_brier_nll_cwece():
    pred_bs = np.array([[0.2, 0.8], [0.4, 0.6]]).T  # MR's (N, C) transposed to (C, N)
    assert ss.brier(pred_bs, np.array([1, 0]), convention="metricsreloaded") == pytest.approx(0.4, abs=1e-12)
    pred = np.array([[0.1, 0.8, 0.05, 0.1], [0.6, 0.1, 0, 0.7], [0.3, 0.1, 0.95, 0.2]])
    ref = np.array([1, 0, 2, 1])
    expected_nll = -1 / 4 * (np.log(0.8) + np.log(0.6) + np.log(0.7) + np.log(0.95))
    assert ss.nll(pred, ref, convention="metricsreloaded") == pytest.approx(expected_nll, rel=1e-14)
    pred_cw = np.array([[0.1, 0.8, 0, 0.1], [0.6, 0.1, 0, 0.7], [0.3, 0.1, 1, 0.2]])
    # cwECE, 2 bins (l, u], p = 0 dropped but counted in N = 4:
    # class 0: (0,.5]: .1 .1 (labels 1 1): .1 x2 = .2; (.5,1]: .8 (0): .2  -> .4 / 4 = .1
    # class 1: (0,.5]: .1 (0): .1; (.5,1]: .6 .7 (1 1): .35 x2 = .7      -> .8 / 4 = .2
    # class 2: (0,.5]: .3 .1 .2 (1 0 1): .2 x3 = .6; (.5,1]: 1 (2): 0    -> .6 / 4 = .15
    out = ss.ece(pred_cw, ref, n_bins=2, convention="metricsreloaded", reduction="none")
    assert out == {0: pytest.approx(0.1, rel=1e-12), 1: pytest.approx(0.2, rel=1e-12),
                   2: pytest.approx(0.15, rel=1e-12)}
    assert ss.ece(pred_cw, ref, n_bins=2, convention="metricsreloaded") == pytest.approx(0.150, abs=1e-12)


def test_metricsreloaded_nll_has_no_clipping():
    pred = np.array([[1.0, 0.5], [0.0, 0.5]])
    assert ss.nll(pred, np.array([1, 1]), convention="metricsreloaded") == math.inf


def test_metricsreloaded_mce_binary_only():
    p, t = _rand_multi(np.random.default_rng(0), 3, (20,))
    with pytest.raises(ValueError, match="binary"):
        ss.mce(p, t, convention="metricsreloaded")
