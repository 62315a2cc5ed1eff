"""MONAI 1.6.1 CalibrationErrorMetric at CT scale: more than 2**24 voxels in one bin of a
channel, where MONAI's float32 counts stop growing and its float32 sums drift.  The monai
convention reproduces its CPU number (<= 1e-6 relative); exact=True equals a float64 numpy
reference (1e-12)."""

import numpy as np
import pytest

import segscore as ss
from conftest import need_peer
from support import big_calibration as B

pytestmark = [pytest.mark.peers, pytest.mark.slow]


def _monai(p, t, n_bins, reduction):
    need_peer("monai")
    import torch
    from monai.metrics import CalibrationErrorMetric

    m = CalibrationErrorMetric(num_bins=n_bins, calibration_reduction=reduction)
    y = torch.nn.functional.one_hot(torch.from_numpy(t.astype(np.int64)), p.shape[0]).movedim(-1, 0)[None].float()
    m(y_pred=torch.from_numpy(p)[None], y=y)
    return float(m.aggregate())


def _reference(p, t, n_bins, reduction):
    """Class-wise ECE / ACE / MCE, mean over the classes, from exact float64 sums of the float32
    values (MONAI's bins (l, u] on float32 linspace(0, 1 + eps) edges)."""
    from segscore.calibration.edges import _edges
    from segscore.calibration.conventions import get_convention

    edges = _edges(get_convention("monai"), n_bins, np.float32).astype(np.float32)
    out = []
    for c in range(p.shape[0]):
        v = p[c].astype(np.float32)
        slot = np.minimum(np.searchsorted(edges[1:], v, side="left"), n_bins - 1)
        norm = {"expected": "l1", "maximum": "max", "average": "ace"}[reduction]
        out.append(B.float64_reference(v, t == c, slot, n_bins, norm))
    return float(np.mean(out))


@pytest.mark.parametrize("dtype,cases", [(np.float32, [(20, "expected"), (15, "maximum")]),
                                         (np.float64, [(20, "average")])])
def test_classwise_past_2_24(dtype, cases):
    p, t = B.top_label(6, 2, dtype)
    assert np.count_nonzero(p[0] > 0.95) > 1 << 24
    fn = {"expected": ss.ece, "average": ss.ace, "maximum": ss.mce}
    for n_bins, red in cases:
        want = _monai(p, t, n_bins, red)
        got = fn[red](p, t, n_bins=n_bins, convention="monai")
        assert got == pytest.approx(want, rel=1e-6), (dtype, n_bins, red)
        exact = fn[red](p, t, n_bins=n_bins, convention="monai", exact=True)
        assert exact == pytest.approx(_reference(p, t, n_bins, red), rel=1e-12, abs=1e-15), (dtype, n_bins, red)
