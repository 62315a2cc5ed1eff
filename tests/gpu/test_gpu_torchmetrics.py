"""segscore.torchmetrics on CUDA tensors: the metric moved to the device (``.to("cuda")``),
inputs on the device, values equal to the CPU run (surface values and counts exactly,
calibration bin sums to 1e-9).  GPU only (skips without one)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchmetrics")

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device for torch")]


def _batch(seed):
    g = torch.Generator().manual_seed(seed)
    ref = torch.zeros(2, 24, 20, 16, dtype=torch.long)
    ref[:, 4:16, 3:12, 2:10] = 1
    ref[:, 12:22, 10:18, 5:14] = 2
    pred = ref.clone()
    flip = torch.rand(ref.shape, generator=g) < 0.05
    pred[flip] = torch.randint(0, 3, (int(flip.sum()),), generator=g)
    probs = torch.softmax(torch.randn(2, 3, 24, 20, 16, generator=g) + 2 * torch.nn.functional.one_hot(
        ref, 3).movedim(-1, 1), 1)
    return pred, ref, probs


def _metrics():
    import segscore.torchmetrics as sst

    return {
        "hd95": (sst.HausdorffDistance(3, percentile=95, input_format="index", spacing=[0.8, 1, 2]), "labels"),
        "hd_onehot": (sst.HausdorffDistance(3), "onehot"),
        "nsd": (sst.SurfaceDice(3, tolerance=1.0, input_format="index"), "labels"),
        "dice": (sst.DiceScore(3, input_format="index", average="none"), "labels"),
        "iou": (sst.MeanIoU(3, per_class=True), "onehot"),
        "ece": (sst.CalibrationError("multiclass", num_classes=3), "probs"),
        "ece_monai": (sst.CalibrationError("multiclass", num_classes=3, convention="monai"), "probs"),
    }


def _args(kind, pred, ref, probs):
    if kind == "labels":
        return pred, ref
    if kind == "onehot":
        oh = lambda x: torch.nn.functional.one_hot(x, 3).movedim(-1, 1)  # noqa: E731
        return oh(pred), oh(ref)
    return probs, ref


def test_cuda_tensors_equal_cpu():
    cpu, gpu = _metrics(), _metrics()
    for seed in range(2):
        pred, ref, probs = _batch(seed)
        for name, (m, kind) in cpu.items():
            m.update(*_args(kind, pred, ref, probs))
            g = gpu[name][0].to("cuda")
            g.update(*(x.cuda() for x in _args(kind, pred, ref, probs)))
    for name in cpu:
        want = cpu[name][0].compute()
        got = gpu[name][0].compute()
        assert got.device.type == "cuda", name
        # surface values and counts are the same numbers; GPU bin sums may add in another order
        torch.testing.assert_close(got.cpu(), want, rtol=1e-9, atol=0, equal_nan=True, msg=name)
