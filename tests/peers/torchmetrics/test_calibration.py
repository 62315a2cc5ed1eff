"""Calibration against torchmetrics 1.9 (binary and multiclass calibration error), and the
torch.linspace replica behind torchmetrics' and MONAI's bin edges.  Tolerances: 1e-9 relative
against float64 paths, ~2e-6 against float32 accumulation."""

import math
import numpy as np
import pytest
import segscore as ss
from segscore.calibration.edges import _torch_linspace
from support.calibration_cases import F32, F64, SEEDS, _rand_binary, _rand_multi
from support.helpers import need_peer


# ---------------------------------------------------------------------------
# hand-derived exact cases


def test_torchmetrics_doc_example_exact():
    # bins [0, .5): .25 .25 (targets 0 0): acc 0, conf .25;  [.5, 1]: .55 .75 .75 (1 1 1): acc 1, conf 2.05/3
    p = np.array([0.25, 0.25, 0.55, 0.75, 0.75])
    t = np.array([0, 0, 1, 1, 1])
    gap1 = 1 - 2.05 / 3
    assert ss.ece(p, t, n_bins=2) == pytest.approx((2 * 0.25 + 3 * gap1) / 5, rel=1e-15)  # 0.29
    assert ss.ece(p, t, n_bins=2, norm="l2") == pytest.approx(math.sqrt((2 * 0.25**2 + 3 * gap1**2) / 5), rel=1e-15)
    assert ss.mce(p, t, n_bins=2) == pytest.approx(gap1, rel=1e-15)  # 0.3167
    assert ss.ace(p, t, n_bins=2) == pytest.approx((0.25 + gap1) / 2, rel=1e-15)
    for conv in ("segscore", "torchmetrics"):
        assert ss.ece(p, t, n_bins=2, convention=conv) == pytest.approx(0.29, abs=5e-16)


# ---------------------------------------------------------------------------
# torch.linspace replica (edges of torchmetrics and MONAI)


def test_torch_linspace_replica_bit_exact():
    torch = need_peer("torch")
    for dt, tdt in (("float32", torch.float32), ("float64", torch.float64), ("float16", torch.float16)):
        for steps in range(2, 302):
            ref = torch.linspace(0, 1, steps, dtype=tdt).double().numpy()
            assert np.array_equal(np.array(_torch_linspace(1.0, steps, dt)), ref), (dt, steps)
    eps = float(torch.finfo(torch.float32).eps)
    for steps in range(2, 302):
        ref = torch.linspace(0.0, 1.0 + eps, steps).double().numpy()  # MONAI's boundaries
        assert np.array_equal(np.array(_torch_linspace(1.0 + eps, steps, "float32")), ref), steps


# ---------------------------------------------------------------------------
# torchmetrics 1.9


def _tm():
    need_peer("torchmetrics")
    import torch
    from torchmetrics.functional.classification import binary_calibration_error, multiclass_calibration_error

    return torch, binary_calibration_error, multiclass_calibration_error


@pytest.mark.peers
@pytest.mark.parametrize("seed", SEEDS)
def test_torchmetrics_binary(seed):
    torch, bce, _ = _tm()
    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(1, 40)), int(rng.integers(1, 50)))
    n_bins = int(rng.integers(1, 40))
    for dtype, tol in ((np.float64, F64), (np.float32, F32)):
        p, t = _rand_binary(rng, shape, rounded=seed % 3 == 0, dtype=dtype)
        for norm in ("l1", "l2", "max"):
            want = float(bce(torch.from_numpy(p), torch.from_numpy(t), n_bins=n_bins, norm=norm))
            got = ss.ece(p, t, n_bins=n_bins, convention="torchmetrics", norm=norm)
            assert got == pytest.approx(want, **tol), (dtype, norm)
        assert ss.mce(p, t, n_bins=n_bins, convention="torchmetrics") == pytest.approx(
            float(bce(torch.from_numpy(p), torch.from_numpy(t), n_bins=n_bins, norm="max")), **tol)


@pytest.mark.peers
@pytest.mark.parametrize("seed", SEEDS)
def test_torchmetrics_binary_bins_exact(seed):
    torch, _, _ = _tm()
    from torchmetrics.functional.classification.calibration_error import _binning_bucketize

    rng = np.random.default_rng(seed)
    n_bins = int(rng.integers(1, 40))
    for dtype in (np.float16, np.float32, np.float64):  # float16: torch's Half linspace edges
        p, t = _rand_binary(rng, (500,), rounded=seed % 2 == 0, dtype=dtype)
        p[:3] = [0.0, 1.0, 1.0]
        bounds = torch.linspace(0, 1, n_bins + 1, dtype=torch.from_numpy(p).dtype)
        _, _, prop = _binning_bucketize(torch.from_numpy(p), torch.from_numpy(t), bounds)
        cnt = ss.reliability(p, t, n_bins=n_bins, convention="torchmetrics").count
        assert np.array_equal(cnt, np.round(prop.double().numpy() * p.size).astype(np.int64))


@pytest.mark.peers
@pytest.mark.parametrize("seed", SEEDS)
def test_torchmetrics_multiclass(seed):
    torch, _, mce_ = _tm()
    rng = np.random.default_rng(100 + seed)
    c = int(rng.integers(2, 7))
    shape = (int(rng.integers(1, 30)), int(rng.integers(1, 30)))
    n_bins = int(rng.integers(1, 40))
    for dtype in (np.float32, np.float64, np.float16):
        p, t = _rand_multi(rng, c, shape, rounded=seed % 3 == 0, dtype=dtype)
        flat = torch.from_numpy(np.moveaxis(p, 0, -1).reshape(-1, c))
        if dtype == np.float16:
            flat = flat.float()  # torchmetrics' softmax check needs float; values unchanged
        for norm in ("l1", "l2", "max"):
            want = float(mce_(flat, torch.from_numpy(t.reshape(-1)), num_classes=c, n_bins=n_bins, norm=norm))
            got = ss.ece(p, t, n_bins=n_bins, convention="torchmetrics", norm=norm)
            assert got == pytest.approx(want, **F32), (dtype, norm)


@pytest.mark.peers
def test_torchmetrics_multiclass_class_axis_last_and_ties():
    torch, _, mce_ = _tm()
    rng = np.random.default_rng(7)
    p = np.round(rng.dirichlet(np.ones(4), size=(30, 20)) * 4) / 4  # many exact ties: argmax takes the first
    t = rng.integers(0, 4, size=(30, 20))
    want = float(mce_(torch.from_numpy(p.reshape(-1, 4)), torch.from_numpy(t.reshape(-1)), num_classes=4))
    assert ss.ece(p, t, class_axis=-1, convention="torchmetrics") == pytest.approx(want, **F32)
    assert ss.ece(p, t, class_axis=2, convention="torchmetrics") == pytest.approx(want, **F32)


@pytest.mark.peers
def test_torchmetrics_single_class_present_and_empty_bins():
    torch, bce, mce_ = _tm()
    rng = np.random.default_rng(3)
    p, _ = _rand_multi(rng, 3, (200,))
    t = np.zeros(200, dtype=np.int64)  # only class 0 present
    flat = torch.from_numpy(p.T.copy())
    for n_bins in (1, 15, 100, 1000):  # 1000 bins: most are empty
        want = float(mce_(flat, torch.from_numpy(t), num_classes=3, n_bins=n_bins))
        assert ss.ece(p, t, n_bins=n_bins, convention="torchmetrics") == pytest.approx(want, **F32)
    q = rng.random(50) * 0.1  # all in the first of 10 bins
    y = np.ones(50, dtype=np.int64)
    for norm in ("l1", "l2", "max"):
        want = float(bce(torch.from_numpy(q), torch.from_numpy(y), n_bins=10, norm=norm))
        assert ss.ece(q, y, n_bins=10, convention="torchmetrics", norm=norm) == pytest.approx(want, **F64)


@pytest.mark.peers
def test_torchmetrics_logits():
    torch, bce, mce_ = _tm()
    rng = np.random.default_rng(11)
    x = rng.normal(0, 3, size=(40, 30))
    t = (rng.random((40, 30)) < 0.5).astype(np.int64)
    want = float(bce(torch.from_numpy(x), torch.from_numpy(t)))  # torchmetrics applies the sigmoid itself
    assert ss.ece(x, t, logits=True, convention="torchmetrics") == pytest.approx(want, rel=1e-9, abs=1e-12)
    x32 = x.astype(np.float32)
    want = float(bce(torch.from_numpy(x32), torch.from_numpy(t)))
    assert ss.ece(x32, t, logits=True, convention="torchmetrics") == pytest.approx(want, **F32)
    z = rng.normal(0, 2, size=(3, 40, 30))
    tt = rng.integers(0, 3, size=(40, 30))
    flat = torch.from_numpy(np.moveaxis(z, 0, -1).reshape(-1, 3))
    want = float(mce_(flat, torch.from_numpy(tt.reshape(-1)), num_classes=3))
    assert ss.ece(z, tt, logits=True, convention="torchmetrics") == pytest.approx(want, **F32)


@pytest.mark.peers
def test_curvas_is_torchmetrics_multiclass_50_bins():
    need_peer("torchmetrics")
    import torch
    from torchmetrics.classification import MulticlassCalibrationError

    rng = np.random.default_rng(5)
    organs = rng.dirichlet(np.ones(4), size=(6, 16, 16))[..., 1:].astype(np.float32)  # 3 organ maps
    prob = np.moveaxis(organs, -1, 0)
    background = 1 - prob.sum(axis=0, keepdims=True)
    full = np.concatenate([background, prob]).astype(np.float32)
    full = np.clip(full, 0, 1)
    gt = rng.integers(0, 4, size=(6, 16, 16))
    metric = MulticlassCalibrationError(num_classes=4, n_bins=50)
    want = float(metric(torch.from_numpy(np.moveaxis(full, 0, -1).reshape(-1, 4)), torch.from_numpy(gt.reshape(-1))))
    assert ss.ece(full, gt, convention="curvas") == pytest.approx(want, **F32)


# ---------------------------------------------------------------------------
# float16 binary input: torch accumulates a Half scatter_add_ in float32 and rounds once to
# float16; torchmetrics' per-bin formula then runs in float16


def _same(got, want):
    return got == want or (math.isnan(got) and math.isnan(want))


@pytest.mark.peers
@pytest.mark.parametrize("n_bins", [1, 2, 5, 15, 40])
def test_torchmetrics_binary_float16_bits(n_bins):
    torch, bce, _ = _tm()
    rng = np.random.default_rng(600 + n_bins)
    biggest = 0
    for n, shape in ((3000, "uniform"), (30000, "beta"), (50000, "rounded")):
        if shape == "uniform":
            p = rng.random(n)
        elif shape == "beta":
            p = rng.beta(0.3, 0.3, n)  # crowded end bins: thousands of voxels per bin, past 2048
        else:
            p = np.round(rng.random(n) * 8) / 8  # values on edges, 0 and 1 (the extra bin)
        p = p.astype(np.float16)
        t = (rng.random(n) < p.astype(np.float64)).astype(np.int64)
        rel = ss.reliability(p, t, n_bins=n_bins, convention="torchmetrics")
        assert (rel.sum_dtype, rel.bin_dtype) == ("float32", "float16")
        biggest = max(biggest, int(rel.count.max()))
        for norm in ("l1", "l2", "max"):
            want = float(bce(torch.from_numpy(p), torch.from_numpy(t), n_bins=n_bins, norm=norm))
            got = ss.ece(p, t, n_bins=n_bins, convention="torchmetrics", norm=norm)
            assert _same(got, want), (n, shape, norm, got, want)
            assert got == pytest.approx(want, rel=1e-6, abs=0) or _same(got, want)
    assert biggest > 2048  # past float16's 2048 + 1 == 2048


@pytest.mark.peers
def test_torchmetrics_binary_float16_overflowing_bins_and_streaming():
    """A bin of 65,520 voxels or more has an infinite float16 count: torchmetrics' l1 is nan
    and its l2 0 then (its max stays finite); the streaming accumulator over chunks gives the
    module's number on the concatenated updates."""
    torch, bce, _ = _tm()
    from torchmetrics.classification import BinaryCalibrationError

    rng = np.random.default_rng(640)
    p = (rng.random(70000) * 0.5).astype(np.float16)  # all in the lower half: one bin of 70000 with n_bins=2
    t = (rng.random(70000) < 0.3).astype(np.int64)
    for norm in ("l1", "l2", "max"):
        want = float(bce(torch.from_numpy(p), torch.from_numpy(t), n_bins=2, norm=norm))
        got = ss.ece(p, t, n_bins=2, convention="torchmetrics", norm=norm)
        assert _same(got, want), (norm, got, want)
    assert math.isnan(ss.ece(p, t, n_bins=2, convention="torchmetrics"))
    q = rng.beta(0.5, 0.5, 40000).astype(np.float16)
    y = (rng.random(40000) < q.astype(np.float64)).astype(np.int64)
    for norm in ("l1", "l2", "max"):
        m = BinaryCalibrationError(n_bins=15, norm=norm)
        acc = ss.Calibration(convention="torchmetrics", norm=norm)
        for part in np.array_split(np.arange(40000), 3):
            m.update(torch.from_numpy(q[part]), torch.from_numpy(y[part]))
            acc.update(q[part], y[part])
        want = float(m.compute())
        key = "ece" if norm == "l1" else ("rmsce" if norm == "l2" else "mce")
        assert _same(acc.compute()[key], want), (norm, acc.compute(), want)


@pytest.mark.peers
def test_torch_sum_half_replica_bits():
    """torch.sum of float16 vectors (float32 accumulation in ATen's lane order, one rounding):
    sums whose float32 order shows through the final rounding (a tie of 1024.5 decided by
    small terms that survive only when added to each other first)."""
    torch = need_peer("torch")
    from segscore.calibration.reference import torch_sum

    rng = np.random.default_rng(650)
    for _ in range(3000):
        n = int(rng.integers(1, 90))
        x = np.zeros(n, np.float16)
        x[rng.integers(0, n)] = 1024
        x[rng.integers(0, n)] = 0.5
        x[rng.integers(0, n, rng.integers(0, 30))] = np.float16(2.0 ** -14)
        x[rng.integers(0, n)] = -np.float16(2.0 ** -24)
        assert float(torch_sum(x)) == torch.from_numpy(x).sum().item(), x.tolist()


@pytest.mark.peers
def test_torchmetrics_binary_float16_logits_bits():
    """float16 logits: torchmetrics' sigmoid gives a float16 tensor (torch computes it in
    float32 and rounds); segscore's confidence is the same float16 value for every finite
    float16 logit, and the calibration error the same bits."""
    torch, bce, _ = _tm()
    from segscore._core.backends import cpu

    x = np.arange(1 << 16, dtype=np.uint16).view(np.float16)
    x = x[np.isfinite(x)]
    conf = cpu().calibration_confidences(x, np.zeros(x.shape, np.int64), class_axis=-1, n_classes=0, logits=True,
                                         mode=0, positive=1, round_f32=2, clip=False, clip_lo=0.0,
                                         clip_hi=1.0)["values"][0]
    np.testing.assert_array_equal(conf, torch.from_numpy(x).sigmoid().double().numpy())
    rng = np.random.default_rng(660)
    for n, n_bins in ((5000, 15), (40000, 3), (20000, 40)):
        z = rng.normal(0, 3, n).astype(np.float16)
        t = (rng.random(n) < 0.5).astype(np.int64)
        for norm in ("l1", "l2", "max"):
            want = float(bce(torch.from_numpy(z), torch.from_numpy(t), n_bins=n_bins, norm=norm))
            got = ss.ece(z, t, logits=True, n_bins=n_bins, convention="torchmetrics", norm=norm)
            assert _same(got, want), (n, n_bins, norm, got, want)
