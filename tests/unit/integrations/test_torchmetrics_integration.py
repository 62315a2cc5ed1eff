"""segscore.torchmetrics: hand cases, every calibration convention against ss.Calibration,
state merging (merge_state, forward vs update / compute), state dtypes and reductions, bad
input, and a 2-process DDP run (gloo, CPU) equal to a single-process run."""

from __future__ import annotations

import math
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchmetrics")

import segscore as ss  # noqa: E402
import segscore.torchmetrics as sst  # noqa: E402
from segscore.calibration import CALIBRATION_CONVENTIONS  # noqa: E402

SUPPORT = Path(__file__).resolve().parents[2] / "support"
sys.path.insert(0, str(SUPPORT.parent))
from support import ddp_torchmetrics as D  # noqa: E402


def same(a, b, rel=1e-12):
    a = torch.as_tensor(a, dtype=torch.float64)
    b = torch.as_tensor(b, dtype=torch.float64)
    assert a.shape == b.shape, (a, b)
    na, nb = torch.isnan(a), torch.isnan(b)
    assert torch.equal(na, nb), (a, b)
    ok = ~na
    diff = (a[ok] - b[ok]).abs()
    inf = torch.isinf(a[ok]) | torch.isinf(b[ok])
    assert torch.equal(a[ok][inf], b[ok][inf]), (a, b)
    assert bool((diff[~inf] <= rel * torch.maximum(a[ok][~inf].abs(), b[ok][~inf].abs()) + 1e-300).all()), (a, b)


def cube(shape, lo, hi):
    m = torch.zeros(shape, dtype=torch.bool)
    m[tuple(slice(a, b) for a, b in zip(lo, hi))] = True
    return m


# ---------------------------------------------------------------------------- hand cases


def test_hausdorff_3d_hand_case():
    ref = cube((10, 10, 10), (2, 2, 2), (6, 6, 6))
    pred = cube((10, 10, 10), (2, 2, 3), (6, 6, 7))  # shifted one voxel along the last axis
    x = torch.stack([~pred, pred])[None], torch.stack([~ref, ref])[None]
    assert float(sst.HausdorffDistance(2)(*x)) == 1.0
    assert float(sst.HausdorffDistance(2, spacing=[1, 1, 2.5])(*x)) == 2.5
    assert float(sst.HausdorffDistance(2, spacing=[1, 1, 2.5], directed=True)(*x)) == 2.5
    # background included: its boundary is the cube's outer shell's neighbours, also 2.5 away
    got = sst.HausdorffDistance(2, include_background=True, spacing=[1, 1, 2.5], reduction="none")(*x)
    assert got.shape == (1, 2) and got.dtype == torch.float64


@pytest.mark.parametrize("convention", ["torchmetrics", "segscore", "monai", "metricsreloaded", "deepmind"])
@pytest.mark.parametrize("percentile", [None, 95, 50])
def test_hausdorff_equals_functional(convention, percentile):
    g = torch.Generator().manual_seed(5)
    ref = torch.zeros(2, 12, 11, 9, dtype=torch.long)
    ref[:, 2:8, 3:9, 2:7] = 1
    ref[:, 6:11, 1:5, 4:8] = 2
    pred = ref.clone()
    flip = torch.rand(ref.shape, generator=g) < 0.1
    pred[flip] = torch.randint(0, 3, (int(flip.sum()),), generator=g)
    sp = (0.8, 1.0, 2.0)
    m = sst.HausdorffDistance(3, input_format="index", percentile=percentile, spacing=list(sp),
                              convention=convention, reduction="none")
    got = m(pred, ref)
    conv = "monai" if convention == "torchmetrics" else convention
    want = [[ss.hausdorff((pred[b] == k).numpy(), (ref[b] == k).numpy(), percentile=percentile or 100,
                          spacing=sp, convention=conv) for k in (1, 2)] for b in range(2)]
    same(got, want, rel=0)
    # one-hot input goes through masks, label maps through one call per case: same numbers
    oh = sst.HausdorffDistance(3, percentile=percentile, spacing=list(sp), convention=convention, reduction="none")
    same(oh(torch.nn.functional.one_hot(pred, 3).movedim(-1, 1), torch.nn.functional.one_hot(ref, 3).movedim(-1, 1)),
         got, rel=0)


def test_surface_dice_and_assd_equal_functional():
    ref = torch.zeros(2, 16, 16, dtype=torch.long)
    ref[:, 3:10, 3:10] = 1
    ref[:, 9:14, 10:15] = 2
    pred = ref.clone()
    pred[0, 3:10, 10] = 1
    pred[1, 9:14, 9] = 0
    sp = (0.7, 1.2)
    nsd = sst.SurfaceDice(3, tolerance=1.0, input_format="index", spacing=sp, reduction="none")(pred, ref)
    assd = sst.AverageSurfaceDistance(3, input_format="index", spacing=sp, reduction="none")(pred, ref)
    asd = sst.AverageSurfaceDistance(3, input_format="index", spacing=sp, symmetric=False, reduction="none",
                                     convention="deepmind")(pred, ref)
    for b in range(2):
        for j, k in enumerate((1, 2)):
            p, r = (pred[b] == k).numpy(), (ref[b] == k).numpy()
            assert nsd[b, j] == ss.nsd(p, r, 1.0, spacing=sp)
            assert assd[b, j] == ss.assd(p, r, spacing=sp)
            assert asd[b, j] == ss.surface_distances(p, r, spacing=sp, convention="deepmind").asd()
    assert nsd[0, 1] == 1.0 and nsd[0, 0] < 1.0


def test_surface_reductions_and_empty_masks():
    pred = torch.zeros(2, 8, 8, dtype=torch.long)
    ref = torch.zeros(2, 8, 8, dtype=torch.long)
    ref[0, 2:5, 2:5] = 1
    pred[0, 2:5, 3:6] = 1
    ref[1, 1:3, 1:3] = 2  # case 0: class 2 absent from both (nan); case 1: class 1 too, class 2 pred-empty (inf)
    m = sst.HausdorffDistance(3, input_format="index", reduction="none")
    same(m(pred, ref), [[1.0, math.nan], [math.nan, math.inf]], rel=0)
    for red, want in (("mean", math.nan), ("nanmean", math.inf), ("class", [1.0, math.inf])):
        m2 = sst.HausdorffDistance(3, input_format="index", reduction=red)
        m2.update(pred, ref)
        same(m2.compute(), want)
    m4 = sst.HausdorffDistance(3, input_format="index", reduction="nanmean", empty={"hd": {"pred": 0.0}})
    m4.update(pred, ref)
    same(m4.compute(), 0.5)  # the empty prediction now scores 0


def test_spacing_per_case_in_update():
    ref = torch.zeros(2, 10, 10, dtype=torch.long)
    ref[:, 2:6, 2:6] = 1
    pred = torch.zeros_like(ref)
    pred[:, 3:7, 2:6] = 1  # shifted one voxel along axis 0
    m = sst.HausdorffDistance(2, input_format="index", spacing=[1.0, 1.0], reduction="none")
    same(m(pred, ref), [[1.0], [1.0]])
    m.update(pred, ref, spacing=torch.tensor([[0.5, 1.0], [3.0, 1.0]]))
    same(m.compute(), [[1.0], [1.0], [0.5], [3.0]])
    with pytest.raises(ValueError, match=r"per-case table shaped \(2, 2\)"):
        m.update(pred, ref, spacing=[[1.0, 1.0]] * 3)


def test_dice_and_iou_hand_case():
    ref = torch.tensor([[[0, 1, 1], [0, 2, 2]]])
    pred = torch.tensor([[[0, 1, 1], [2, 2, 0]]])
    same(sst.DiceScore(3, input_format="index", average="none")(pred, ref), [0.5, 1.0, 0.5])
    same(sst.DiceScore(3, input_format="index", average="micro")(pred, ref), 4 / 6)
    same(sst.DiceScore(3, input_format="index", include_background=False)(pred, ref), 0.75)
    same(sst.MeanIoU(3, input_format="index")(pred, ref), (1 / 3 + 1 + 1 / 3) / 3)
    same(sst.MeanIoU(4, input_format="index", per_class=True)(pred, ref), [1 / 3, 1, 1 / 3, -1])


def test_crps_hand_cases():
    members = torch.tensor([[0.0, 1.0, 2.0], [1.0, 1.0, 3.0]], dtype=torch.float64)
    obs = torch.tensor([0.1, 0.5], dtype=torch.float64)
    # mean |x - y| - sum |x_i - x_j| / (2 M^2): 1.0333 - 0.4444 and 1.1667 - 0.4444
    same(sst.ContinuousRankedProbabilityScore()(members, obs), (0.52222222222222222 + 0.72222222222222222) / 2)
    got = sst.ContinuousRankedProbabilityScore("gaussian")(torch.tensor([[0.0, 1.0], [2.0, 3.0]]), torch.tensor([0.0, 2.0]))
    same(got, 2 * (math.sqrt(2) - 1) / math.sqrt(math.pi), rel=1e-14)  # sigma (sqrt 2 - 1)/sqrt(pi), mean of 1 and 3


# ---------------------------------------------------------------------------- calibration, every convention


def _cal_batches():
    g = torch.Generator().manual_seed(9)
    out = []
    for _ in range(3):
        logits = torch.randn(2, 3, 6, 5, 4, generator=g, dtype=torch.float64) * 2
        y = torch.randint(0, 3, (2, 6, 5, 4), generator=g)
        out.append((torch.softmax(logits, 1), y))
    return out


@pytest.mark.parametrize("convention", sorted(CALIBRATION_CONVENTIONS))
@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_calibration_error_equals_streaming_calibration(convention, task):
    conv = CALIBRATION_CONVENTIONS[convention]
    for mode in (None,) + (("top-label", "class-wise") if task == "multiclass" else ("positive-class",)):
        for metric in ("ece", "ace", "brier", "nll"):
            if not conv.defines(metric):
                continue
            m = sst.CalibrationError(task, num_classes=3 if task == "multiclass" else None, convention=convention,
                                     metric=metric, target_mode=mode)
            ref = ss.Calibration(convention=convention, class_axis=1 if task == "multiclass" else 0,
                                 target_mode=mode, scores=metric in ("brier", "nll"))
            for p, y in _cal_batches():
                if task == "binary":
                    p, y = p[:, 1], (y == 1).long()
                m.update(p, y)
                ref.update(p.numpy(), y.numpy())
            want = ref.compute()
            if metric not in want:
                continue
            same(m.compute(), want[metric])
            assert int(m.voxels) == want["voxels"]


def test_calibration_norms_and_class_wise_background():
    batches = _cal_batches()
    for norm, key in (("l1", "ece"), ("l2", "rmsce"), ("max", "mce")):
        m = sst.CalibrationError("multiclass", num_classes=3, norm=norm, convention="segscore")
        ref = ss.Calibration(convention="segscore", class_axis=1)
        for p, y in batches:
            m.update(p, y)
            ref.update(p.numpy(), y.numpy())
        same(m.compute(), ref.compute()[key])
    m = sst.CalibrationError("multiclass", num_classes=3, convention="monai", include_background=False)
    ref = ss.Calibration(convention="monai", class_axis=1, include_background=False)
    for p, y in batches:
        m.update(p, y)
        ref.update(p.numpy(), y.numpy())
    same(m.compute(), ref.compute()["ece"])
    rel = m.reliability()
    assert rel.count.shape == (3, 20) and rel.mode == "class-wise"


# ---------------------------------------------------------------------------- states, merging, forward


def test_state_dtypes_and_reductions():
    from torchmetrics.utilities.data import dim_zero_cat, dim_zero_sum

    for name, m in D.make_metrics().items():
        assert m.full_state_update is False and m.is_differentiable is False, name
        assert m.plot_lower_bound == 0.0
        for attr, default in m._defaults.items():
            fx = m._reductions[attr]
            if isinstance(default, list):
                assert fx is dim_zero_cat, (name, attr)
            else:
                assert fx is dim_zero_sum, (name, attr)
                assert default.dtype in (torch.int64, torch.float64), (name, attr, default.dtype)
    ms = D.make_metrics()
    assert all(ms[k].higher_is_better for k in ("nsd", "dice", "iou", "gdice"))
    assert not ms["hd"].higher_is_better and not ms["ece_top"].higher_is_better and not ms["crps"].higher_is_better
    assert ms["ece_top"].count.dtype == torch.int64 and ms["ece_top"].sum_confidence.dtype == torch.float64


def test_merge_state_equals_one_metric():
    batches = [D.batch(i) for i in range(3)]
    one, a, b = D.make_metrics(), D.make_metrics(), D.make_metrics()
    for i, bt in enumerate(batches):
        D.feed(one, bt)
        D.feed(a if i < 2 else b, bt)
    for name in one:
        a[name].merge_state(b[name])
        same(a[name].compute(), one[name].compute())


def test_forward_equals_update_compute():
    batches = [D.batch(i) for i in range(2)]
    fwd, upd = D.make_metrics(), D.make_metrics()
    for bt in batches:
        for name, m in fwd.items():
            fresh = D.make_metrics()[name]
            D.feed({name: fresh}, bt)
            # forward's batch value (through feed's update path) equals a fresh metric's compute
            args = _args(name, bt)
            same(m(*args), fresh.compute())
        D.feed(upd, bt)
    for name in fwd:
        same(fwd[name].compute(), upd[name].compute())
        fwd[name].reset()
        assert all((len(v) == 0) if isinstance(v, list) else not bool(v.any())
                   for v in (getattr(fwd[name], s) for s in fwd[name]._defaults)), name


def _args(name, bt):
    if name in D.SEGMENTATION:
        return bt["pred"], bt["ref"]
    if name == "ece_binary":
        return bt["probs"][:, 1], (bt["ref"] == 1).long()
    if name == "crps":
        return bt["members"], bt["obs"]
    return bt["probs"], bt["ref"]


# ---------------------------------------------------------------------------- DDP


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed is not available")
def test_two_process_ddp_equals_single_process(tmp_path):
    out = tmp_path / "ddp.pt"
    r = subprocess.run([sys.executable, str(SUPPORT / "ddp_torchmetrics.py"), str(_free_port()), str(out)],
                       capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr[-4000:]
    res = torch.load(out)
    ddp, single = res["ddp"], res["single"]
    for name, want in single["values"].items():
        same(ddp["values"][name], want, rel=1e-12)
    for name, want in single["uneven"].items():  # rank 1 without data: its empty states gather
        same(ddp["uneven"][name], want, rel=1e-12)
    # a "cat" state holds rank 0's batches (0, 2, ...) then rank 1's (1, 3, ...): the single
    # process's chunks in that order
    order = [i for r in range(2) for i in range(r, D.N_BATCHES, 2)]
    for name, st in single["states"].items():
        metric = D.make_metrics()[name]
        for attr, want in st.items():
            got = ddp["states"][name][attr]
            assert got.dtype == want.dtype and got.dtype in (torch.int64, torch.float64), (name, attr, got.dtype)
            if isinstance(metric._defaults[attr], list):
                want = torch.cat([want.reshape(D.N_BATCHES, -1)[i] for i in order])
                same(got, want, rel=0)  # per-case values and counts: identical
            elif got.dtype == torch.int64:
                assert torch.equal(got, want), (name, attr)  # counts exact
            else:
                same(got, want, rel=1e-12)  # float sums: another order of addition


# ---------------------------------------------------------------------------- bad input


def test_bad_input_messages():
    x = torch.zeros(1, 2, 4, 4, dtype=torch.long)
    with pytest.raises(NotImplementedError, match="Euclidean"):
        sst.HausdorffDistance(2, distance_metric="chessboard")
    with pytest.raises(ValueError, match="num_classes"):
        sst.HausdorffDistance(0)
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        sst.HausdorffDistance(2, input_format="index")(torch.full((1, 4, 4), 2), torch.zeros(1, 4, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="0 and 1"):
        sst.DiceScore(2)(x + 2, x)
    with pytest.raises(RuntimeError, match="same shape"):
        sst.DiceScore(2)(x, x[..., :3])
    with pytest.raises(ValueError, match="channels"):
        sst.DiceScore(3)(x, x)
    with pytest.raises(ValueError, match="spacing"):
        sst.HausdorffDistance(2, spacing=[1, 1, 1])(x, x)
    with pytest.raises(ValueError, match="medpy"):
        sst.SurfaceDice(2, tolerance=1.0, convention="medpy")
    with pytest.raises(ValueError, match="tolerance"):
        sst.SurfaceDice(2, tolerance=0)
    with pytest.raises(ValueError, match="'l2'"):
        sst.CalibrationError("multiclass", num_classes=3, norm="l2", convention="monai")
    with pytest.raises(ValueError, match="brier"):
        sst.CalibrationError("binary", metric="brier")  # torchmetrics defines no Brier score
    with pytest.raises(ValueError, match="num_classes"):
        sst.CalibrationError("multiclass")
    with pytest.raises(ValueError, match="logits=True"):
        sst.CalibrationError("binary", convention="segscore")(torch.tensor([1.5, 0.2]), torch.tensor([1, 0]))
    with pytest.raises(ValueError, match="floating"):
        sst.CalibrationError("binary")(torch.tensor([1, 0]), torch.tensor([1, 0]))
    with pytest.raises(ValueError, match="last axis"):
        sst.ContinuousRankedProbabilityScore()(torch.zeros(3, 4), torch.zeros(4))


def test_import_segscore_does_not_import_torch():
    code = "import sys, segscore; print('torch' in sys.modules, 'segscore.torchmetrics' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["False", "False"]


def test_docstring_examples_run():
    """segscore.torchmetrics is not in segscore.__all__ (it imports torch), so test_doctests.py
    does not see it: its examples run here, and every public class has one."""
    import doctest

    for name in sst.__all__:
        assert ">>>" in (getattr(sst, name).__doc__ or ""), f"{name} has no Examples"
    res = doctest.testmod(sst, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert res.failed == 0 and res.attempted > 20, res
