"""Bool arrays whose bytes are not 0 / 1 (``np.frombuffer(..., bool)``, a uint8 map viewed as
bool): numpy reads every nonzero byte as True, and so must segscore.  The compiled core reads
raw bytes, so such a mask used to be read as labels 2, 128, 255 ... (Dice, surface distances,
the multi-rater pass, ss.curvas's pred) or refused as a calibration target; the boundary
(segscore._core.validate.native_byte_order) now makes a 0 / 1 copy."""

import math

import numpy as np
import pytest

import segscore as ss
from segscore._core import validate as V
from segscore.probabilistic.onepass import rater_pass


def _odd_bytes(mask, seed=0):
    """The same truth values, with the True bytes drawn from 1, 2, 128, 255."""
    u = mask.view(np.uint8).copy()
    rng = np.random.default_rng(seed)
    on = u == 1
    u[on] = rng.choice(np.array([1, 2, 128, 255], np.uint8), int(on.sum()))
    return u.view(np.bool_)


def _same(a, b):
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray):
        return np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return a == b


def _masks():
    p = np.zeros((7, 9, 19), bool)
    p[1:5, 2:7, 3:15] = True
    p[6, 8, 18] = True
    r = np.roll(p, 1, 2)
    r[0, 0, :] = True
    return p, r


def test_canonical_bool_keeps_views_of_clean_masks():
    p, _ = _masks()
    assert V.canonical_bool(p) is p
    assert V.native_byte_order(p) is p
    odd = _odd_bytes(p)
    c = V.canonical_bool(odd)
    assert c.dtype == np.bool_ and np.array_equal(c, p) and int(c.view(np.uint8).max()) == 1
    f = V.canonical_bool(np.asfortranarray(odd)[:, ::-1])
    assert np.array_equal(f, p[:, ::-1]) and int(f.view(np.uint8).max()) == 1
    assert V.canonical_bool(np.zeros((0, 3), bool)).shape == (0, 3)


@pytest.mark.parametrize("conv", ["segscore", "monai", "deepmind", "metricsreloaded", "medpy"])
def test_overlap_and_surface_metrics_read_any_nonzero_byte_as_true(conv):
    p, r = _masks()
    metrics = ["dice", "hd", "hd95", "assd", "tp", "fp", "fn"]
    if conv in ("segscore", "metricsreloaded"):
        metrics.append("biou@1")
    want = ss.evaluate(p, r, metrics=metrics, convention=conv).to_dict()
    assert want[1]["tp"] == 220
    for a, b in ((_odd_bytes(p), _odd_bytes(r, 1)), (np.asfortranarray(_odd_bytes(p)), r)):
        assert _same(ss.evaluate(a, b, metrics=metrics, convention=conv).to_dict(), want)
    for name in ("dice", "iou", "hausdorff", "hd95", "assd", "boundary_iou"):
        f = getattr(ss, name)
        assert _same(f(_odd_bytes(p), _odd_bytes(r, 2)), f(p, r)), name


def test_multi_rater_pass_reads_any_nonzero_byte_as_true():
    p, r = _masks()
    raters = [p, r, p | r]
    odd = [_odd_bytes(x, i) for i, x in enumerate(raters)]
    a, b = rater_pass(raters, r), rater_pass(odd, _odd_bytes(r, 9))
    assert a.labels.tolist() == b.labels.tolist() == [0, 1]
    np.testing.assert_array_equal(a.stats, b.stats)
    assert _same(ss.consensus_dice(_odd_bytes(r, 9), odd), ss.consensus_dice(r, raters))
    prob = np.random.default_rng(0).random(p.shape)
    assert _same(ss.soft_dice(prob, odd), ss.soft_dice(prob, raters))
    assert _same(ss.volume_crps(prob, odd), ss.volume_crps(prob, raters))
    assert _same(ss.ged(odd[:2], odd[2:]), ss.ged(raters[:2], raters[2:]))
    for g, w in zip(ss.consensus(odd), ss.consensus(raters)):
        np.testing.assert_array_equal(g, w)


def test_curvas_pred_and_calibration_targets():
    p, r = _masks()
    rng = np.random.default_rng(3)
    prob = rng.random(p.shape)
    for f in (ss.ece, ss.brier, ss.nll, ss.ace, ss.mce):
        assert f(prob, _odd_bytes(r)) == f(prob, r), f.__name__
    assert ss.ece(prob, _odd_bytes(r), convention="torchmetrics") == ss.ece(prob, r, convention="torchmetrics")
    raters = [np.where(p, 1, 0).astype(np.uint8), np.where(r, 1, 0).astype(np.uint8), np.where(p & r, 1, 0).astype(np.uint8)]
    organ = (rng.random((1,) + p.shape) * 0.9).astype(np.float32)
    want = ss.curvas(organ, raters, pred=p, integration="exact").to_dict()
    assert _same(ss.curvas(organ, raters, pred=_odd_bytes(p), integration="exact").to_dict(), want)


def test_app_label_presence_of_a_bool_map():
    from segscore.app.scorers import _present

    p, _ = _masks()
    assert _present(_odd_bytes(p)) == _present(p) == {0, 1}
