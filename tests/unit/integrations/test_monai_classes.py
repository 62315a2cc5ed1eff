"""segscore.monai without MONAI: hand-derived values, options, errors, the import without
MONAI installed, conventions other than MONAI's, and the module's doctests."""

from __future__ import annotations

import doctest
import math
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import segscore as ss  # noqa: E402
import segscore.monai as S  # noqa: E402


def _square(n=10, lo=2, hi=6, b=1):
    y = torch.zeros(b, 2, n, n)
    y[:, 1, lo:hi, lo:hi] = 1
    y[:, 0] = 1 - y[:, 1]
    return y


def test_module_doctests():
    with np.printoptions(precision=8, suppress=False):
        res = doctest.testmod(S, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.attempted > 30 and res.failed == 0


def test_imports_with_monai_blocked():
    code = ("import sys\n"
            "sys.modules['monai'] = None\n"
            "import segscore.monai as m, torch\n"
            "y = torch.zeros(1, 2, 6, 6); y[0, 1, 1:4, 1:4] = 1\n"
            "print(float(m.HausdorffDistanceMetric()(y, y)[0, 0]), 'monai' in sys.modules and sys.modules['monai'])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["0.0", "None"]


def test_import_segscore_does_not_load_the_integration():
    code = "import sys, segscore; print('segscore.monai' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]


@pytest.mark.parametrize("cls,kw", [(S.HausdorffDistanceMetric, {}), (S.SurfaceDistanceMetric, {}),
                                    (S.SurfaceDiceMetric, {"class_thresholds": [1.0]})])
@pytest.mark.parametrize("metric", ["chessboard", "taxicab"])
def test_chamfer_distances_are_not_implemented(cls, kw, metric):
    with pytest.raises(NotImplementedError, match="Euclidean"):
        cls(distance_metric=metric, **kw)
    with pytest.raises(ValueError, match="not implemented"):
        cls(distance_metric="cosine", **kw)


def test_hand_derived_values():
    y = _square()
    p = y.clone()
    p[0, 1, 2:6, 6] = 1  # one column more: 4 voxels at distance 1 from the reference border
    p[0, 0] = 1 - p[0, 1]
    assert S.HausdorffDistanceMetric()(p, y).item() == 1.0
    assert S.HausdorffDistanceMetric()(p, y, spacing=(1.0, 2.5)).item() == 2.5
    # pred border 14 voxels (the new column's 4 at 1, 10 at 0); ref border 12 voxels (the two
    # of its right column inside pred at 1, 10 at 0): pooled mean over 26
    assert S.SurfaceDistanceMetric(symmetric=True)(p, y).item() == pytest.approx(6 / 26)
    assert S.SurfaceDistanceMetric()(p, y).item() == pytest.approx(4 / 14)
    assert S.SurfaceDiceMetric([0.5])(p, y).item() == pytest.approx(20 / 26)
    assert S.DiceMetric(include_background=False)(p, y).item() == pytest.approx(2 * 16 / (16 + 20))
    assert S.MeanIoU(include_background=False)(p, y).item() == pytest.approx(16 / 20)
    assert S.AbsoluteVolumeDifferenceMetric(include_background=False)(p, y).item() == 4.0


def test_empty_masks_follow_monai():
    y = _square(b=1)
    e = y.clone()
    e[0, 1] = 0
    e[0, 0] = 1
    # empty prediction: every distance inf; its max is inf, its percentile nan (torch.quantile)
    assert S.HausdorffDistanceMetric()(e, y).item() == math.inf
    assert math.isnan(S.HausdorffDistanceMetric(percentile=95)(e, y).item())
    assert S.HausdorffDistanceMetric(percentile=0)(e, y).item() == math.inf  # 0 means "no percentile"
    assert S.SurfaceDistanceMetric()(e, y).item() == math.inf
    assert S.SurfaceDiceMetric([1.0])(e, y).item() == 0.0
    assert math.isnan(S.HausdorffDistanceMetric()(e, e).item())
    assert math.isnan(S.SurfaceDiceMetric([1.0])(e, e).item())
    # aggregate() skips the nan: an epoch mean stays finite
    m = S.HausdorffDistanceMetric(percentile=95, get_not_nans=True)
    m(e, y)
    m(y, y)
    val, n = m.aggregate()
    assert val.item() == 0.0 and n.item() == 1.0


def test_other_conventions():
    rng = np.random.default_rng(0)
    y = torch.from_numpy(rng.random((2, 3, 16, 15, 9)) < 0.3).float()
    p = torch.from_numpy(rng.random((2, 3, 16, 15, 9)) < 0.3).float()
    p[1, 2] = 0
    sp = (0.7, 1.2, 2.0)
    for conv in ("segscore", "deepmind", "metricsreloaded"):
        got = S.HausdorffDistanceMetric(include_background=True, percentile=95, convention=conv)(p, y, spacing=sp)
        want = [[ss.hd95(p[b, c].bool().numpy(), y[b, c].bool().numpy(), spacing=sp, convention=conv)
                 for c in range(3)] for b in range(2)]
        assert np.allclose(got.numpy(), np.array(want, np.float32), equal_nan=True)
        nsd = S.SurfaceDiceMetric([1.0] * 3, include_background=True, convention=conv)(p, y, spacing=sp)
        want = [[ss.nsd(p[b, c].bool().numpy(), y[b, c].bool().numpy(), 1.0, spacing=sp, convention=conv)
                 for c in range(3)] for b in range(2)]
        assert np.allclose(nsd.numpy(), np.array(want, np.float32), equal_nan=True)
    # segscore: a percentile of a set containing inf is inf (MONAI: nan)
    assert S.HausdorffDistanceMetric(include_background=True, percentile=95,
                                     convention="segscore")(p, y)[1, 2].item() == math.inf
    with pytest.raises(ValueError, match="convention"):
        S.HausdorffDistanceMetric(convention="monai-subvoxels")
    with pytest.raises(ValueError, match="medpy"):
        S.SurfaceDiceMetric([1.0], convention="medpy")


def test_many_overlapping_channels_are_packed_in_groups():
    """More channels than fit in one bit-packed label map (30), overlapping."""
    rng = np.random.default_rng(1)
    y = torch.from_numpy(rng.random((1, 33, 12, 12)) < 0.4)
    p = torch.from_numpy(rng.random((1, 33, 12, 12)) < 0.4)
    got = S.HausdorffDistanceMetric(include_background=True, percentile=90)(p, y)
    want = [ss.hausdorff(p[0, c].numpy(), y[0, c].numpy(), percentile=90, convention="monai") for c in range(33)]
    assert np.allclose(got[0].numpy(), np.array(want, np.float32))


def test_spacing_checks_as_monai():
    y = _square(b=2)
    m = S.HausdorffDistanceMetric()
    with pytest.raises(ValueError, match="batch size"):
        m(y, y, spacing=[(1.0, 1.0)] * 3)
    with pytest.raises(ValueError, match="image dim"):
        m(y, y, spacing=(1.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="same type"):
        m(y, y, spacing=[1.0, (1.0, 2.0)])
    assert torch.equal(m(y, y, spacing=[(1.0, 1.0), (2.0, 0.5)]), torch.zeros(2, 1))
    with pytest.raises(ValueError, match="percentile"):
        S.HausdorffDistanceMetric(percentile=101)(y, y)


def test_buffer_protocol():
    y = _square(b=2)
    m = S.DiceMetric()
    assert m.get_buffer() is None and len(m) == 0
    r = m(y, y)
    assert r.shape == (2, 2)
    m([y[0], y[1]], [y[0], y[1]])  # a list of channel-first tensors
    assert m.get_buffer().shape == (4, 2) and len(m) == 4
    assert m.aggregate("none").shape == (4, 2)
    m.reset()
    assert m.get_buffer() is None
    with pytest.raises(ValueError, match="list/tuple"):
        m(np.zeros((1, 2, 3, 3)), y)
    with pytest.raises(ValueError, match="reduction"):
        S.do_metric_reduction(torch.zeros(2, 2), "median")


def test_calibration_needs_binary_reference():
    p = torch.rand(1, 2, 5, 5)
    with pytest.raises(ValueError, match="binary"):
        S.CalibrationErrorMetric()(p, p)
    with pytest.raises(ValueError, match="calibration_reduction"):
        S.CalibrationErrorMetric(calibration_reduction="median")


def test_confusion_matrix_unknown_name():
    m = S.ConfusionMatrixMetric(metric_name="dice coefficient")
    m(_square(), _square())
    with pytest.raises(NotImplementedError, match="sensitivity"):
        m.aggregate()


def _packed_reference(x, c0, n, round_f32):
    code = np.zeros(x.shape[1:], np.int64)
    for j in range(n):
        xc = x[c0 + j]
        if round_f32 and xc.dtype == np.float64:
            xc = xc.astype(np.float32)
        code |= (xc == 1).astype(np.int64) << j
    return code


@pytest.mark.parametrize("dtype", [np.bool_, np.uint8, np.int16, np.int64, np.float16, np.float32, np.float64])
def test_compiled_channel_packing(dtype):
    from segscore._core.backends import cpu

    lib = cpu()
    if not hasattr(lib, "pack_channels"):
        pytest.skip("compiled module without pack_channels")
    rng = np.random.default_rng(3)
    x = rng.choice(np.array([0, 1, 2], dtype=np.float64), size=(12, 5, 6, 7), p=[0.6, 0.3, 0.1]).astype(dtype)
    for view in (x, x[:, ::-1, :, ::2], np.moveaxis(np.ascontiguousarray(np.moveaxis(x, 0, -1)), -1, 0)):
        for c0, n, out_dt in ((0, 12, np.uint16), (3, 5, np.uint8), (2, 10, np.uint32)):
            out = np.empty(view.shape[1:], out_dt)
            bits, overlap = lib.pack_channels(view, out, c0=c0, n=n, round_f32=False)
            want = _packed_reference(view, c0, n, False)
            assert np.array_equal(out, want)
            assert bits == int(np.bitwise_or.reduce(want, axis=None))
            assert overlap == bool(np.any(want & (want - 1)))
    # float64 next to 1: equal to 1 only after rounding to float32 (MONAI's HD / ASD)
    y = np.zeros((2, 3), np.float64)
    y[0, 0] = 1 + 1e-12
    out = np.empty(3, np.uint8)
    assert lib.pack_channels(y, out, c0=0, n=2, round_f32=True) == (1, False) and out[0] == 1
    assert lib.pack_channels(y, out, c0=0, n=2, round_f32=False) == (0, False) and out[0] == 0
    with pytest.raises(ValueError):
        lib.pack_channels(x, np.empty(x.shape[1:], np.uint8), c0=0, n=12, round_f32=False)  # 12 bits in uint8


def test_packing_fallbacks_agree(monkeypatch):
    """The numpy packing (a compiled module without the pass) and the torch packing (device
    tensors, dtypes numpy lacks) give the compiled path's values."""
    import segscore.monai as mod

    rng = np.random.default_rng(4)
    y = torch.from_numpy(rng.random((2, 5, 10, 9, 8)) < 0.3).float()
    p = torch.from_numpy(rng.random((2, 5, 10, 9, 8)) < 0.3).float()
    y[:, 3:] = 0
    y[:, 3, 2:5, 2:5, 2:5] = 1  # one-hot-like channels beside overlapping ones
    want = mod.HausdorffDistanceMetric(include_background=True, percentile=95)(p, y, spacing=(0.8, 1.0, 1.5))
    got = mod.HausdorffDistanceMetric(include_background=True, percentile=95)(p.bfloat16(), y.bfloat16(),
                                                                            spacing=(0.8, 1.0, 1.5))
    assert torch.equal(torch.isnan(got), torch.isnan(want)) and torch.allclose(got.nan_to_num(), want.nan_to_num())

    real = mod.cpu

    class NoPack:  # the compiled module, less its packing pass
        def __getattr__(self, name):
            if name == "pack_channels":
                raise AttributeError(name)
            return getattr(real(), name)

    monkeypatch.setattr(mod, "cpu", lambda: NoPack())
    got = mod.HausdorffDistanceMetric(include_background=True, percentile=95)(p, y, spacing=(0.8, 1.0, 1.5))
    assert torch.equal(torch.isnan(got), torch.isnan(want)) and torch.allclose(got.nan_to_num(), want.nan_to_num())
    one_hot = torch.nn.functional.one_hot(torch.from_numpy(rng.integers(0, 4, (2, 9, 9))), 4).movedim(-1, 1)
    a = mod.SurfaceDiceMetric([1.0] * 3)(one_hot, one_hot.roll(1, -1))
    monkeypatch.setattr(mod, "cpu", real)
    b = mod.SurfaceDiceMetric([1.0] * 3)(one_hot, one_hot.roll(1, -1))
    assert torch.equal(a, b)


def test_panoptic_quality_checks_and_values():
    y = torch.zeros(1, 2, 8, 8, dtype=torch.long)
    y[0, 0, 0:4, 0:4] = 1
    y[0, 0, 5:8, 5:8] = 2
    y[0, 1] = (y[0, 0] > 0).long()
    p = y.clone()
    p[0, 0, 0:4, 0:2] = 0  # instance 1 halved: IoU 0.5, not a match at 0.5 (IoU must exceed it)
    p[0, 1] = (p[0, 0] > 0).long()
    m = S.PanopticQualityMetric(num_classes=1, metric_name=["pq", "sq", "rq"])
    assert m(p, y).tolist() == [[[1.0, 1.0, 1.0, 1.0]]]
    pq, sq, rq = m.aggregate()
    assert pq.item() == pytest.approx(1 / 2) and sq.item() == pytest.approx(1.0) and rq.item() == pytest.approx(0.5)
    m = S.PanopticQualityMetric(num_classes=1, match_iou_threshold=0.4)  # assignment below 0.5
    assert m(p, y).tolist() == [[[2.0, 0.0, 0.0, 1.5]]]
    with pytest.raises(ValueError, match="2 channels"):
        m(p[:, :1], y[:, :1])
    with pytest.raises(ValueError, match="match_iou_threshold"):
        S.PanopticQualityMetric(num_classes=1, match_iou_threshold=0.0)(p, y)
    m = S.PanopticQualityMetric(num_classes=1, metric_name="aji")
    m(p, y)
    with pytest.raises(ValueError, match="'pq', 'sq' or 'rq'"):
        m.aggregate()


def test_ddp_buffers_gather_over_ranks(tmp_path):
    """2 gloo ranks with uneven batches: get_buffer() / aggregate() / len() on rank 0 equal a
    single process over the same batches in rank order (and MONAI's own DDP run, when
    installed)."""
    import socket
    from pathlib import Path

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    script = Path(__file__).resolve().parents[2] / "support" / "ddp_monai.py"
    out = tmp_path / "ddp.pt"
    r = subprocess.run([sys.executable, str(script), str(port), str(out)], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-4000:]
    res = torch.load(out)
    for lib in res["single"]:
        for name, want in res["single"][lib].items():
            got = res["ddp"][lib][name]
            assert got["len"] == want["len"] == 9
            for key in ("buffer", "aggregate"):
                g, w = got[key], want[key]
                for a, b in zip(g if isinstance(g, tuple) else (g,), w if isinstance(w, tuple) else (w,)):
                    assert torch.equal(torch.isnan(a), torch.isnan(b)), (lib, name, key)
                    assert torch.equal(a.nan_to_num(), b.nan_to_num()), (lib, name, key)
    if "monai" in res["ddp"]:
        for name, want in res["ddp"]["monai"].items():
            got = res["ddp"]["segscore"][name]
            for key in ("buffer", "aggregate"):
                g, w = got[key], want[key]
                for a, b in zip(g if isinstance(g, tuple) else (g,), w if isinstance(w, tuple) else (w,)):
                    assert torch.equal(torch.isnan(a), torch.isnan(b)), (name, key)
                    assert torch.allclose(a.nan_to_num(), b.nan_to_num(), rtol=1e-5), (name, key)
