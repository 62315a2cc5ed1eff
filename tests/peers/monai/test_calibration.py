"""Calibration against MONAI 1.6.1's CalibrationErrorMetric (float32 accumulation: ~2e-6)."""

import numpy as np
import pytest
import segscore as ss
from support.calibration_cases import F32, SEEDS, _rand_multi
from support.helpers import need_peer


# ---------------------------------------------------------------------------
# MONAI 1.6.1


def _monai(p, t, c, n_bins, reduction, include_background=True):
    need_peer("monai")
    import torch
    from monai.metrics import CalibrationErrorMetric

    m = CalibrationErrorMetric(num_bins=n_bins, calibration_reduction=reduction,
                               include_background=include_background)
    y = torch.nn.functional.one_hot(torch.from_numpy(t), c).movedim(-1, 0)[None].float()
    m(y_pred=torch.from_numpy(p)[None], y=y)
    return float(m.aggregate())


@pytest.mark.peers
@pytest.mark.parametrize("seed", SEEDS)
def test_monai(seed):
    rng = np.random.default_rng(200 + seed)
    c = int(rng.integers(2, 6))
    shape = (int(rng.integers(1, 20)), int(rng.integers(1, 20)), int(rng.integers(1, 6)))
    n_bins = int(rng.integers(1, 40))
    for dtype in (np.float32, np.float64):
        p, t = _rand_multi(rng, c, shape, rounded=seed % 3 == 0, dtype=dtype)
        for red, fn in (("expected", ss.ece), ("average", ss.ace), ("maximum", ss.mce)):
            want = _monai(p, t, c, n_bins, red)
            assert fn(p, t, n_bins=n_bins, convention="monai") == pytest.approx(want, **F32), (dtype, red)
        want = _monai(p, t, c, n_bins, "expected", include_background=False)
        got = ss.ece(p, t, n_bins=n_bins, convention="monai", include_background=False)
        assert got == pytest.approx(want, **F32)


@pytest.mark.peers
def test_monai_bins_exact_and_default_20():
    need_peer("monai")
    import torch
    from monai.metrics.calibration import calibration_binning

    rng = np.random.default_rng(9)
    p, t = _rand_multi(rng, 3, (300,), rounded=True, dtype=np.float32)
    p[:, :3] = [[0, 1, 0.5], [1, 0, 0.5], [0, 0, 0]]
    y = torch.nn.functional.one_hot(torch.from_numpy(t), 3).T[None].float()
    _, _, counts = calibration_binning(torch.from_numpy(p)[None], y, num_bins=20)
    rel = ss.reliability(p, t, convention="monai")
    assert rel.count.shape == (3, 20)
    assert np.array_equal(rel.count, counts[0].numpy().astype(np.int64))
    assert ss.ece(p, t, convention="monai") == pytest.approx(_monai(p, t, 3, 20, "expected"), **F32)


@pytest.mark.peers
def test_monai_binary_single_channel_and_edge_values():
    rng = np.random.default_rng(12)
    p = np.round(rng.random((25, 25)) * 20) / 20  # every value on a bin edge, 0 and 1 included
    t = (rng.random((25, 25)) < p).astype(np.int64)
    need_peer("monai")
    import torch
    from monai.metrics import CalibrationErrorMetric

    for red, fn in (("expected", ss.ece), ("average", ss.ace), ("maximum", ss.mce)):
        m = CalibrationErrorMetric(calibration_reduction=red)
        m(y_pred=torch.from_numpy(p)[None, None], y=torch.from_numpy(t)[None, None].float())
        assert fn(p, t, convention="monai") == pytest.approx(float(m.aggregate()), **F32)


@pytest.mark.peers
def test_monai_float16_is_cast_to_float32_bits():
    """MONAI's CalibrationErrorMetric casts y_pred to float32 (``.float()``) before binning, so
    a float16 input gives its float32 arithmetic on the (exact) float32 values: the same bits."""
    rng = np.random.default_rng(260)
    for c, n_bins in ((2, 20), (4, 7), (3, 33)):
        p, t = _rand_multi(rng, c, (40, 30, 3), dtype=np.float16)
        for red, fn in (("expected", ss.ece), ("average", ss.ace), ("maximum", ss.mce)):
            assert fn(p, t, n_bins=n_bins, convention="monai") == _monai(p, t, c, n_bins, red), (c, red)
