"""volume_crps(method=...): the name of the forecast family; convention= is its deprecated
former name (same values, a DeprecationWarning), and giving both is an error."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import segscore as ss
from segscore.probabilistic import crps as CR
from segscore.protocols import curvas2024 as CV


def _case():
    rng = np.random.default_rng(3)
    shape = (10, 9, 8)
    raters = []
    for _ in range(3):
        r = np.zeros(shape, np.int16)
        r[rng.random(shape) < 0.3] = 1
        r[rng.random(shape) < 0.2] = 2
        raters.append(r)
    prob = (rng.random((2,) + shape) * 0.5).astype(np.float32)
    return prob, raters


@pytest.mark.parametrize("method", CR.VOLUME_METHODS)
def test_method_equals_deprecated_convention(method):
    prob, raters = _case()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        new = ss.volume_crps(prob, raters, spacing=(1.0, 0.5, 2.0), method=method, labels=[1, 2])
    with pytest.warns(DeprecationWarning, match=r"convention=.*deprecated.*method="):
        old = ss.volume_crps(prob, raters, spacing=(1.0, 0.5, 2.0), convention=method, labels=[1, 2])
    assert new == old
    # positional (the fourth argument, where convention was) is the method
    assert ss.volume_crps(prob, raters, (1.0, 0.5, 2.0), method, labels=[1, 2]) == new


def test_default_is_gaussian_without_warning():
    prob, raters = _case()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ss.volume_crps(prob, raters, labels=[1, 2]) == ss.volume_crps(prob, raters, labels=[1, 2],
                                                                              method="gaussian")
    assert CR.VOLUME_METHODS == ("gaussian", "ensemble", "curvas2024")


def test_both_or_bad_values():
    prob, raters = _case()
    with pytest.raises(TypeError, match="both method= and convention="):
        ss.volume_crps(prob, raters, labels=[1, 2], method="gaussian", convention="gaussian")
    with pytest.raises(ValueError, match=r"^method must be one of \('gaussian', 'ensemble', 'curvas2024'\), got 'x'"):
        ss.volume_crps(prob, raters, labels=[1, 2], method="x")
    with pytest.warns(DeprecationWarning), pytest.raises(ValueError, match=r"^convention must be one of"):
        ss.volume_crps(prob, raters, labels=[1, 2], convention="x")


def test_former_names_warn():
    with pytest.warns(DeprecationWarning, match="VOLUME_METHODS"):
        assert CR.VOLUME_CONVENTIONS == CR.VOLUME_METHODS
    with pytest.warns(DeprecationWarning, match="CURVAS_CONVENTIONS"):
        assert CV.CONVENTIONS == CV.CURVAS_CONVENTIONS == ("curvas2024", "segscore")
    with pytest.raises(AttributeError):
        CV.NO_SUCH_NAME  # noqa: B018
    # the protocol's tuple no longer shadows the top-level surface conventions' name
    assert "CONVENTIONS" not in vars(CV) and isinstance(ss.CONVENTIONS, dict)


def test_curvas_uses_the_volume_method_of_its_convention():
    prob, raters = _case()
    sp = (1.0, 0.5, 2.0)
    for conv, method in CV.VOLUME_METHOD.items():
        res = ss.curvas(prob, raters, spacing=sp, labels=[1, 2], convention=conv, integration="exact")
        want = ss.volume_crps(prob, raters, spacing=sp, labels=[1, 2], method=method, integration="exact")
        assert res.crps == pytest.approx(want, rel=1e-12)
    assert set(CV.VOLUME_METHOD) == set(CV.CURVAS_CONVENTIONS)
    assert set(CV.VOLUME_METHOD.values()) <= set(CR.VOLUME_METHODS)
