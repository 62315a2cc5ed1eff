"""Hostile inputs to the segscore.torchmetrics classes: wide unsigned label tensors, complex
and bfloat16 tensors, empty batches, NaN ensemble members; a number or a clear error,
never an error from inside torch."""

from __future__ import annotations

import math
import pickle

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchmetrics")

from segscore import torchmetrics as T  # noqa: E402


def _pair():
    ref = torch.zeros(2, 8, 8, dtype=torch.long)
    ref[:, 2:6, 2:6] = 1
    pred = ref.clone()
    pred[1, 2:6, 6] = 1
    return pred, ref


def _index_metrics():
    return [T.HausdorffDistance(2, input_format="index"), T.SurfaceDice(2, 1.0, input_format="index"),
            T.AverageSurfaceDistance(2, input_format="index"), T.DiceScore(2, input_format="index"),
            T.MeanIoU(2, input_format="index"), T.GeneralizedDiceScore(2, input_format="index")]


@pytest.mark.parametrize("dtype", [getattr(torch, n) for n in ("uint16", "uint32", "uint64") if hasattr(torch, n)])
def test_wide_unsigned_label_tensors_give_the_int64_numbers(dtype):
    pred, ref = _pair()
    for m in _index_metrics():
        want = float(m(pred, ref))
        m.reset()
        assert float(m(pred.to(dtype), ref.to(dtype))) == want, type(m).__name__
    bad = ref.to(dtype)
    bad[0, 0, 0] = 7
    with pytest.raises(ValueError, match=r"class indices in \[0, 7\] but num_classes=2"):
        T.DiceScore(2, input_format="index")(pred.to(dtype), bad)
    # one-hot 0/1 masks of a wide unsigned type, and a label map of one facing one-hot masks
    oh_p = torch.nn.functional.one_hot(pred, 2).movedim(-1, 1)
    oh_r = torch.nn.functional.one_hot(ref, 2).movedim(-1, 1)
    want = float(T.DiceScore(2)(oh_p, oh_r))
    assert float(T.DiceScore(2)(oh_p.to(dtype), oh_r.to(dtype))) == want
    assert float(T.DiceScore(2, input_format="mixed")(oh_p, ref.to(dtype))) == want


def test_complex_one_hot_is_refused_by_name():
    pred, ref = _pair()
    oh = torch.nn.functional.one_hot(pred, 2).movedim(-1, 1)
    for m in (T.DiceScore(2), T.MeanIoU(), T.HausdorffDistance(2)):
        with pytest.raises(ValueError, match=r"`preds` has dtype torch.complex64"):
            m(oh.to(torch.complex64), oh)


def test_mixed_format_with_two_same_shaped_tensors_says_what_mixed_needs():
    pred, ref = _pair()
    with pytest.raises(RuntimeError, match=r"input_format='mixed' expects one one-hot tensor"):
        T.DiceScore(2, input_format="mixed")(pred, ref)


def test_generalized_dice_empty_batch_adds_nothing():
    pred, ref = _pair()
    m = T.GeneralizedDiceScore(2, input_format="index")
    m.update(pred[:0], ref[:0])
    assert math.isnan(float(m.compute()))
    m.update(pred, ref)
    m.update(pred[:0], ref[:0])
    want = T.GeneralizedDiceScore(2, input_format="index")(pred, ref)
    assert float(m.compute()) == float(want)


def test_calibration_error_takes_bfloat16():
    p = torch.tensor([0.125, 0.25, 0.5, 0.75, 0.875, 0.9375, 0.1875, 0.6875])
    y = torch.tensor([0, 0, 1, 1, 1, 0, 0, 1])
    for conv in ("torchmetrics", "segscore", "monai"):
        want = T.CalibrationError(convention=conv)(p, y)
        assert float(T.CalibrationError(convention=conv)(p.bfloat16(), y)) == float(want)  # exact in bfloat16


def test_crps_nan_member_is_nan_as_torchmetrics_and_complex_is_refused():
    from torchmetrics.regression import ContinuousRankedProbabilityScore as TM

    members = torch.tensor([[0.0, float("nan"), 2.0], [1.0, 1.0, 3.0]])
    obs = torch.tensor([0.5, 0.5])
    assert math.isnan(float(TM()(members, obs)))
    c = T.ContinuousRankedProbabilityScore()
    assert math.isnan(float(c(members, obs)))
    assert float(T.ContinuousRankedProbabilityScore()(members[1:], obs[1:])) == pytest.approx(
        float(TM()(members[1:], obs[1:])), rel=1e-6)
    with pytest.raises(ValueError, match="real numbers"):
        c(members.to(torch.complex64), obs)


def test_states_survive_pickle_after_the_fixes():
    pred, ref = _pair()
    for m in _index_metrics():
        m.update(pred.to(torch.uint16) if hasattr(torch, "uint16") else pred, ref)
        assert float(pickle.loads(pickle.dumps(m)).compute()) == pytest.approx(float(m.compute()), nan_ok=True)
