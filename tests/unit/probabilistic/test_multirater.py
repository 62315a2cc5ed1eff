"""Multi-rater: consensus masks, consensus Dice, per-rater metrics, GED, soft Dice."""

import importlib
import math

import numpy as np
import pytest

import segscore as ss
from support.helpers import blob

mr = importlib.import_module("segscore.probabilistic.multirater")  # the module (ss.multirater is the function)


def _raters(shape=(10, 11, 9), k=3, seed=0, labels=(1, 2)):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(k):
        r = np.zeros(shape, np.int32)
        for lab in labels:
            r[rng.random(shape) < 0.3] = lab
        out.append(r)
    return out


def test_consensus_partition_and_hand_case():
    a = np.array([0, 1, 1, 2, 0, 1])
    b = np.array([0, 1, 2, 2, 1, 0])
    c = np.array([0, 1, 1, 2, 0, 0])
    cons = ss.consensus([a, b, c])
    assert set(cons) == {1, 2}
    assert cons[1].foreground.tolist() == [False, True, False, False, False, False]
    assert cons[1].background.tolist() == [True, False, False, True, False, False]
    assert cons[1].dissensus.tolist() == [False, False, True, False, True, True]
    assert cons[2].foreground.tolist() == [False, False, False, True, False, False]
    for m in cons.values():
        total = m.foreground.astype(int) + m.background + m.dissensus
        assert (total == 1).all()
    # bool masks: one ConsensusMasks; stacked array input; union region
    cm = ss.consensus(np.stack([a == 1, b == 1, c == 1]))
    assert isinstance(cm, ss.ConsensusMasks)
    assert np.array_equal(cm.foreground, cons[1].foreground)
    u = ss.consensus([a, b, c], labels={"fg": (1, 2)})["fg"]
    assert u.foreground.tolist() == [False, True, True, True, False, False]


def test_consensus_validation():
    with pytest.raises(ValueError, match="same grid"):
        ss.consensus([np.zeros(3, int), np.zeros(4, int)])
    with pytest.raises(TypeError, match="mixes"):
        ss.consensus([np.zeros(3, bool), np.zeros(3, int)])
    with pytest.raises(TypeError, match="integer label map"):
        ss.consensus([np.zeros(3), np.zeros(3)])
    with pytest.raises(ValueError, match="empty"):
        ss.consensus([])
    with pytest.raises(ValueError, match="negative"):
        ss.consensus([np.array([0, -1]), np.array([0, 1])])


def test_consensus_dice_brute_force():
    raters = _raters()
    rng = np.random.default_rng(7)
    pred = np.where(rng.random(raters[0].shape) < 0.5, raters[0], 0).astype(np.int16)
    got = ss.consensus_dice(pred, raters)
    for lab in (1, 2):
        votes = sum((r == lab).astype(int) for r in raters)
        fg = votes == 3
        dis = (votes > 0) & (votes < 3)
        p = (pred == lab) & ~dis
        want = 2 * np.count_nonzero(p & fg) / (np.count_nonzero(p) + np.count_nonzero(fg))
        assert got[lab] == pytest.approx(want, rel=1e-12)
    # empty consensus and prediction: segscore's default nan, or a policy
    z = [np.zeros((4, 4), bool)] * 2
    assert math.isnan(ss.consensus_dice(np.zeros((4, 4), bool), z))
    assert ss.consensus_dice(np.zeros((4, 4), bool), z, empty=1.0) == 1.0


def test_multirater_mean_and_spread():
    raters = _raters(seed=1)
    pred = _raters(seed=2, k=1)[0]
    res = ss.multirater(pred, raters, metrics=["dice", "hd95", "assd"], spacing=(1, 1, 2))
    assert len(res.per_rater) == 3
    for lab in (1, 2):
        for metric in ("dice", "hd95", "assd"):
            vals = [ss.evaluate(pred, r, spacing=(1, 1, 2), labels=[1, 2], metrics=[metric]).to_dict()[lab][metric]
                    for r in raters]
            assert res.mean[lab][metric] == pytest.approx(np.mean(vals), rel=1e-12)
            assert res.std[lab][metric] == pytest.approx(np.std(vals), rel=1e-9, abs=1e-12)
            assert res.min[lab][metric] == min(vals) and res.max[lab][metric] == max(vals)
    df = res.to_pandas()
    assert df.loc[(1, "mean"), "dice"] == pytest.approx(res.mean[1]["dice"])
    # same labels for every rater, even when one rater lacks a label
    r2 = [r.copy() for r in raters]
    r2[0][r2[0] == 2] = 0
    res2 = ss.multirater(pred, r2, metrics=["dice"])
    assert all(set(r.to_dict()) == {1, 2} for r in res2.per_rater)


def _brute_ged(a, b, d, include_diagonal=True):
    def mean_pairs(x, y, same):
        vals = [d(p, q) for i, p in enumerate(x) for j, q in enumerate(y)
                if not (same and not include_diagonal and i == j)]
        return np.mean(vals)

    return 2 * mean_pairs(a, b, False) - mean_pairs(a, a, True) - mean_pairs(b, b, True)


def _one_minus_iou(p, q):
    u = np.count_nonzero(p | q)
    return 0.0 if u == 0 else 1.0 - np.count_nonzero(p & q) / u


def _one_minus_dice(p, q):
    s = np.count_nonzero(p) + np.count_nonzero(q)
    return 0.0 if s == 0 else 1.0 - 2 * np.count_nonzero(p & q) / s


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("diag", [True, False])
def test_ged_vs_brute_force(seed, diag):
    rng = np.random.default_rng(seed)
    shape = (12, 13)
    a = [rng.random(shape) < rng.uniform(0.05, 0.5) for _ in range(int(rng.integers(2, 6)))]
    b = [rng.random(shape) < rng.uniform(0.05, 0.5) for _ in range(int(rng.integers(2, 6)))]
    a[0][:] = False  # an empty sample
    b[1][:] = False
    assert ss.ged(a, b, include_diagonal=diag) == pytest.approx(_brute_ged(a, b, _one_minus_iou, diag), rel=1e-12)
    assert ss.ged(a, b, distance="1-dice", include_diagonal=diag) == pytest.approx(
        _brute_ged(a, b, _one_minus_dice, diag), rel=1e-12)
    assert ss.ged(a, b, distance=_one_minus_iou, include_diagonal=diag) == pytest.approx(
        _brute_ged(a, b, _one_minus_iou, diag), rel=1e-12)
    t = ss.ged(a, b, return_terms=True, include_diagonal=diag)
    assert t["ged"] == pytest.approx(2 * t["cross"] - t["within_a"] - t["within_b"])


def test_ged_blocks_labels_and_empty(monkeypatch):
    rng = np.random.default_rng(3)
    a = [rng.integers(0, 3, size=(7, 9)) for _ in range(3)]
    b = [rng.integers(0, 3, size=(7, 9)) for _ in range(2)]

    def d_labels(p, q):
        return np.mean([_one_minus_iou(p == k, q == k) for k in (1, 2)])

    want = _brute_ged(a, b, d_labels)
    assert ss.ged(a, b) == pytest.approx(want, rel=1e-12)
    monkeypatch.setattr(mr, "_BLOCK", 5)  # many voxel blocks
    assert ss.ged(a, b) == pytest.approx(want, rel=1e-12)
    # identical sets: 0; all masks empty: d = 0 everywhere
    assert ss.ged(a, a) == pytest.approx(0.0, abs=1e-15)
    z = [np.zeros((3, 3), bool)] * 2
    assert ss.ged(z, z) == 0.0
    with pytest.raises(ValueError, match="at least 2"):
        ss.ged(a[:1], b, include_diagonal=False)
    with pytest.raises(ValueError, match="distance"):
        ss.ged(a, b, distance="hd")


def test_soft_dice_brute_force():
    raters = _raters(shape=(6, 7, 8), seed=4)
    rng = np.random.default_rng(5)
    prob = rng.random((2, 6, 7, 8))
    got = ss.soft_dice(prob, raters)
    for i, lab in enumerate((1, 2)):
        m = np.mean([(r == lab) for r in raters], axis=0)
        want = 2 * np.sum(prob[i] * m) / (np.sum(prob[i]) + np.sum(m))
        assert got[lab] == pytest.approx(want, rel=1e-12)
    # a perfect, certain prediction of unanimous raters scores 1
    r = blob((9, 9), (4, 4), (3, 2))
    assert ss.soft_dice(r.astype(np.float32), [r, r]) == pytest.approx(1.0)
    assert math.isnan(ss.soft_dice(np.zeros((3, 3)), [np.zeros((3, 3), bool)]))
