"""torchmetrics 1.9 calibration error at CT scale: more than 2**24 elements in one bin, where
torchmetrics' float32 bin counts stop growing and its float32 confidence sums drift.  The
torchmetrics convention reproduces its CPU number (<= 1e-6 relative; in practice the same
float32 value); exact=True equals a float64 numpy reference (1e-12)."""

import numpy as np
import pytest

import segscore as ss
from conftest import need_peer
from support import big_calibration as B

pytestmark = [pytest.mark.peers, pytest.mark.slow]

REL = 1e-6


@pytest.fixture(scope="module")
def tm():
    need_peer("torchmetrics")
    import torch
    from torchmetrics.functional.classification import binary_calibration_error, multiclass_calibration_error

    return torch, binary_calibration_error, multiclass_calibration_error


def _slots(torch, conf, n_bins):
    edges = torch.linspace(0, 1, n_bins + 1, dtype=torch.from_numpy(conf[:1]).dtype).numpy()
    return np.searchsorted(edges, conf, side="right") - 1


@pytest.mark.parametrize("dtype,cases", [(np.float32, [(15, "l1"), (50, "max")]), (np.float64, [(15, "l2")])])
def test_binary_past_2_24(tm, dtype, cases):
    torch, bce, _ = tm
    p, t = B.binary(3, dtype)
    assert np.count_nonzero(p == 0) > 1 << 24
    tp, tt = torch.from_numpy(p), torch.from_numpy(t.astype(np.int64))
    for n_bins, norm in cases:
        want = bce(tp, tt, n_bins=n_bins, norm=norm).item()
        got = ss.ece(p, t, n_bins=n_bins, convention="torchmetrics", norm=norm)
        assert got == pytest.approx(want, rel=REL), (dtype, n_bins, norm)
        exact = ss.ece(p, t, n_bins=n_bins, convention="torchmetrics", norm=norm, exact=True)
        ref = B.float64_reference(p, t, _slots(torch, p, n_bins), n_bins + 1, norm)
        assert exact == pytest.approx(ref, rel=1e-12, abs=1e-15), (dtype, n_bins, norm)
        if dtype == np.float32 and norm == "l1":  # the 2**24 count and the float32 sums move the ECE
            assert abs(got - exact) > 1e-2 * exact


@pytest.mark.parametrize("dtype,cases", [(np.float32, [(15, "l1"), (50, "l2")]), (np.float64, [(10, "max")])])
def test_top_label_past_2_24(tm, dtype, cases):
    torch, _, mce = tm
    p, t = B.top_label(4, 3, dtype)
    tp = torch.from_numpy(np.ascontiguousarray(p.T))  # torchmetrics: (N, C)
    tt = torch.from_numpy(t.astype(np.int64))
    conf = p.max(axis=0).astype(np.float32)  # torchmetrics casts the confidences to float32
    correct = p.argmax(axis=0) == t
    for n_bins, norm in cases:
        want = mce(tp, tt, num_classes=3, n_bins=n_bins, norm=norm).item()
        got = ss.ece(p, t, n_bins=n_bins, convention="torchmetrics", norm=norm)
        assert got == pytest.approx(want, rel=REL), (dtype, n_bins, norm)
        exact = ss.ece(p, t, n_bins=n_bins, convention="torchmetrics", norm=norm, exact=True)
        ref = B.float64_reference(conf, correct, _slots(torch, conf, n_bins), n_bins + 1, norm)
        assert exact == pytest.approx(ref, rel=1e-12, abs=1e-15), (dtype, n_bins, norm)


def test_streaming_is_the_call_on_the_concatenation():
    """Calibration's running float32 sums continue across updates: the same bits as one call
    on the concatenation (which the tests above compare with torchmetrics)."""
    p, t = B.binary(5, np.float32)
    acc = ss.Calibration(convention="torchmetrics", norm="l2")
    cuts = [0, 1 << 22, 9_000_001, 1 << 24, p.size]
    for a, b in zip(cuts[:-1], cuts[1:]):
        acc.update(p[a:b], t[a:b])
    out = acc.compute()
    rel = ss.reliability(p, t, convention="torchmetrics")
    assert np.array_equal(acc.reliability().sum_confidence, rel.sum_confidence)
    assert out["ece"] == ss.ece(p, t, convention="torchmetrics")
    assert out["rmsce"] == ss.ece(p, t, convention="torchmetrics", norm="l2")
    assert out["ece"] != ss.ece(p, t, convention="torchmetrics", exact=True)
