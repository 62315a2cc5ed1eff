"""Extreme values give the right number or a clear error, never inf / 0 / nan where a
finite answer exists; thread counts are capped; label messages name the real value."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import segscore as ss
from segscore._core.validate import SPACING_RANGE, SPACING_RATIO_MAX


def _cube(shape=(10, 10, 10)):
    m = np.zeros(shape, bool)
    m[3:7, 3:7, 3:7] = True
    return m


@pytest.mark.parametrize("sp", [1e155, 1e-160, (1.0, 1.0, 1e-13), (1e31, 1e31, 1e31), (1e-31, 1.0, 1.0)])
@pytest.mark.parametrize("fn", [ss.hausdorff, ss.hd95, ss.assd, ss.edt, ss.surface_distances])
def test_spacing_outside_the_supported_range_is_refused(sp, fn):
    m = _cube()
    args = (m,) if fn is ss.edt else (m, np.roll(m, 1, 0))
    with pytest.raises(ValueError, match=r"outside the supported range.*1e-30, 1e\+30"):
        fn(*args, spacing=sp)


@pytest.mark.parametrize("conv", ["segscore", "medpy", "monai", "deepmind"])
@pytest.mark.parametrize("scale", [SPACING_RANGE[0] * 2, 1e-20, 1e20, SPACING_RANGE[1] / 2])
def test_surface_metrics_scale_with_extreme_spacing(conv, scale):
    """Distances are linear in the spacing: at the ends of the range they are the
    unit-spacing values times the scale (to rounding), finite and nonzero."""
    p, r = _cube(), np.roll(_cube(), 2, 0)
    base = (0.5, 1.0, 2.0)
    sp = tuple(s * scale for s in base)
    for fn in (ss.hausdorff, ss.hd95, ss.assd):
        want = fn(p, r, spacing=base, convention=conv) * scale
        got = fn(p, r, spacing=sp, convention=conv)
        assert np.isfinite(got) and got > 0
        assert got == pytest.approx(want, rel=1e-6 if conv == "monai" else 1e-10)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("scale", [2e-30, 1e-25, 1e25, 5e29])
def test_edt_extreme_spacing_float32_and_float64(dtype, scale):
    m = _cube()
    base = (0.5, 1.0, 2.0)
    want = ss.edt(m, spacing=base, dtype="float64") * scale
    got = ss.edt(m, spacing=tuple(s * scale for s in base), dtype=dtype)
    assert np.all(np.isfinite(got))
    assert np.count_nonzero(got) == np.count_nonzero(want)
    np.testing.assert_allclose(got, want.astype(dtype), rtol=1e-6 if dtype == "float32" else 1e-14)


def test_edt_power_of_two_rescaling_is_exact():
    """Spacing outside [2**-20, 2**20] is divided by a power of two and the result multiplied
    back: identical bits to the plain computation where that one cannot over/underflow."""
    m = _cube((9, 11, 7))
    for k in (-24, 24):
        sp = tuple(np.ldexp(s, k) for s in (0.5, 1.25, 3.0))
        got = ss.edt(m, spacing=sp)
        want = np.ldexp(ss.edt(m, spacing=(0.5, 1.25, 3.0)), k)
        np.testing.assert_array_equal(got, want)


def test_edt_squared_float32_that_cannot_fit_is_refused():
    m = _cube()
    with pytest.raises(ValueError, match="do not fit in float32.*dtype='float64'"):
        ss.edt(m, spacing=1e30, dtype="float32", squared=True)
    with pytest.raises(ValueError, match="do not fit in float32"):
        ss.edt(m, spacing=1e-30, dtype="float32", squared=True)
    out = ss.edt(m, spacing=1e30, dtype="float64", squared=True)
    assert np.isfinite(out).all() and out.max() == pytest.approx(4e60)


def test_edt_no_zero_voxel_stays_inf_after_rescaling():
    assert np.isinf(ss.edt(np.ones((4, 4), bool), spacing=1e25, dtype="float32")).all()


@pytest.mark.parametrize("sigma", [5e-324, 1e-310, 1e-300, 1e-200])
def test_crps_gaussian_tiny_sigma(sigma):
    assert ss.crps_gaussian(1.0, 0.0, sigma) == pytest.approx(1.0, rel=1e-15)
    got = ss.crps_gaussian(np.array([1.0, -3.0, 0.0]), np.zeros(3), np.full(3, sigma))
    np.testing.assert_allclose(got, [1.0, 3.0, sigma * (np.sqrt(2) - 1) / np.sqrt(np.pi)], rtol=1e-12, atol=0)


def test_crps_gaussian_large_z_continuous():
    """The z > 40 form joins the closed form without a jump."""
    s = 1.0
    below = ss.crps_gaussian(40.0 * (1 - 1e-12), 0.0, s)
    above = ss.crps_gaussian(40.0 * (1 + 1e-12), 0.0, s)
    assert abs(above - below) < 1e-9
    assert above == pytest.approx(40.0 * (1 + 1e-12) - 1 / np.sqrt(np.pi), rel=1e-14)


def test_uint64_label_above_2_63_message():
    a = np.zeros((4, 4), np.uint64)
    a[0, 0] = 2**63 + 5
    with pytest.raises(ValueError, match=r"pred contains label 9223372036854775813 >= 2\*\*31 \(dtype uint64\)"):
        ss.dice(a, np.zeros((4, 4), np.uint64))
    with pytest.raises(ValueError, match=r"ref contains label 18446744073709551615 >= 2\*\*31"):
        ss.dice(np.zeros((4, 4), np.uint64), np.full((4, 4), 2**64 - 1, np.uint64))
    with pytest.raises(ValueError, match="negative label -3"):
        ss.dice(np.full((2, 2), -3, np.int64), np.zeros((2, 2), np.int64))


def test_spacing_constants_documented_in_message():
    with pytest.raises(ValueError, match=re.escape(f"largest / smallest <= {SPACING_RATIO_MAX:g}")):
        ss.hausdorff(_cube(), _cube(), spacing=(1, 1, 1e-13))


def test_threads_capped_with_warning():
    from segscore._core.backends import max_threads

    m = _cube()
    with pytest.warns(RuntimeWarning, match="threads=100000 is more than 4 threads per core"):
        assert ss.dice(m, m, threads=100000) == 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ss.dice(m, m, threads=max_threads()) == 1.0


def test_threads_2000_leaves_no_2000_os_threads():
    """The pool lives as long as the process: an absurd thread count must not create it."""
    code = textwrap.dedent("""
        import os, warnings
        import numpy as np, segscore as ss
        warnings.simplefilter("ignore")
        m = np.zeros((64, 64, 64), bool); m[10:50, 10:50, 10:50] = True
        ss.dice(m, m, threads=2000); ss.hd95(m, np.roll(m, 1, 0), threads=2000)
        ss.edt(m, threads=2000)
        print(len(os.listdir("/proc/self/task")))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    from segscore._core.backends import max_threads

    assert int(out.stdout.split()[-1]) <= max_threads() + 8


def test_env_threads_capped(monkeypatch):
    from segscore._core.backends import default_threads, max_threads

    monkeypatch.setenv("SEGSCORE_NUM_THREADS", "50000")
    with pytest.warns(RuntimeWarning, match="SEGSCORE_NUM_THREADS=50000"):
        assert default_threads() == max_threads()


def test_segscore_calibration_refuses_rows_not_summing_to_one():
    rng = np.random.default_rng(3)
    p = rng.dirichlet(np.ones(3), size=(6, 7)).astype(np.float32)
    probs = np.ascontiguousarray(np.moveaxis(p, -1, 0))
    t = rng.integers(0, 3, size=(6, 7))
    ss.ece(probs, t)  # a softmax: accepted
    bad = probs.copy()
    bad[:, 2, 3] = [0.9, 0.9, 0.9]  # sigmoid channels
    for fn in (ss.ece, ss.brier, ss.nll, ss.reliability):
        with pytest.raises(ValueError, match=r"1 voxel\(s\) whose 3 class probabilities do not sum to 1"):
            fn(bad, t)
    with pytest.raises(ValueError, match="do not sum to 1"):
        ss.Calibration().update(bad, t)
    # masked-out and ignored voxels are not looked at
    mask = np.ones((6, 7), bool)
    mask[2, 3] = False
    ss.ece(bad, t, mask=mask)
    t2 = t.copy()
    t2[2, 3] = 255
    ss.ece(bad, t2, ignore_label=255)
    ss.ece(bad, t, target_mode="class-wise")  # channels binned apart: sigmoid outputs are fine
    # logits are normalised by segscore itself; conventions named after a peer accept what it accepts
    ss.ece(bad, t, logits=True)
    for conv in ("torchmetrics", "monai", "netcal", "metricsreloaded", "curvas"):
        ss.ece(bad, t, convention=conv)
