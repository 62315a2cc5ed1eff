"""ss.curvas: the CURVAS 2024 protocol against the libraries the challenge used (torchmetrics
ECE, MONAI Dice) driven as the challenge's published code drives them, and against the
other segscore functions."""

import warnings

import numpy as np
import pytest

import segscore as ss
from support.helpers import need_peer
from segscore.probabilistic.crps import curvas2024_volume_crps


def _case(shape=(6, 9, 11), seed=0, k=3, overfull=False):
    rng = np.random.default_rng(seed)
    p4 = rng.dirichlet([0.3, 0.3, 0.3, 0.3], size=shape).astype(np.float32)  # (..., bg + 3 organs)
    prob = np.moveaxis(p4[..., 1:], -1, 0).copy()
    prob[:, 0, 0, 0] = [0.0, 0.0, 1.0]  # a confidence of exactly 1
    prob[:, 0, 0, 1] = [np.float32(0.5), 0.0, 0.0]  # ties with the background
    prob[:, 0, 0, 2] = [np.float32(0.6), 0.2, 0.2]  # a bin boundary
    if overfull:
        prob[:, 1, 1, 1] = [0.6, 0.3, 0.3]  # organs sum above 1: background < 0
    base = np.argmax(np.concatenate([1 - prob.sum(0, keepdims=True), prob]), axis=0)
    raters = []
    for _ in range(k):
        r = base.copy()
        flip = rng.random(shape) < 0.15
        r[flip] = rng.integers(0, 4, size=int(flip.sum()))
        raters.append(r.astype(np.uint8))
    return prob, raters


def _torchmetrics_ece(prob, rater):
    torch = need_peer("torch")
    tm = need_peer("torchmetrics")
    samples = torch.tensor(prob)
    bg = 1 - samples.sum(dim=0, keepdim=True)
    allp = torch.cat((bg, samples), dim=0)
    flat = allp.permute(*range(1, allp.ndim), 0).reshape(-1, 4)
    metric = tm.classification.MulticlassCalibrationError(num_classes=4, n_bins=50)
    return float(metric(flat, torch.tensor(rater.astype(np.int64)).view(-1)))


def _monai_dice(pm, gt):
    torch = need_peer("torch")
    monai = need_peer("monai")
    dm = monai.metrics.DiceMetric(include_background=False, reduction="mean", get_not_nans=False, ignore_empty=True)
    dm(torch.from_numpy(pm.astype(np.uint8)), torch.from_numpy(gt.astype(np.uint8)))
    return float(dm.aggregate().item())


@pytest.mark.peers
@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("overfull", [False, True])
def test_ece_vs_torchmetrics(seed, overfull):
    prob, raters = _case(seed=seed, overfull=overfull)
    res = ss.curvas(prob, raters)
    assert res.meta["ece_softmax"] == overfull
    for k, r in enumerate(raters):
        assert res.ece[k] == pytest.approx(_torchmetrics_ece(prob, r), rel=1e-5, abs=1e-7)
    assert res.ece_mean == pytest.approx(np.mean(res.ece))


@pytest.mark.peers
@pytest.mark.parametrize("seed", range(3))
def test_dice_and_confidence_vs_challenge_recipe(seed):
    prob, raters = _case(shape=(5, 8, 10), seed=seed)
    rng = np.random.default_rng(seed + 10)
    pred = np.where(rng.random(raters[0].shape) < 0.8, raters[0], 0).astype(np.uint8)
    pred[2] = 0  # a slice without prediction
    res = ss.curvas(prob, raters, pred=pred, labels={"panc": 1, "kidn": 2, "livr": 3})
    stack = np.stack(raters)
    for i, (name, lab) in enumerate((("panc", 1), ("kidn", 2), ("livr", 3))):
        fg = np.logical_and.reduce(stack == lab, axis=0)
        bg = np.logical_and.reduce(stack != lab, axis=0)
        dis = ~fg & ~bg
        want = _monai_dice((pred == lab) & ~dis, fg & ~dis)
        assert res.dice[name] == pytest.approx(want, rel=1e-6)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # the challenge: prob * np.where(mask == 1, 1, np.nan) (float64), then np.nanmean
            m_bg = np.nanmean(prob[i] * np.where(bg, 1, np.nan))
            m_fg = np.nanmean(prob[i] * np.where(fg, 1, np.nan))
            conf = ((1 - m_bg) + m_fg) / 2
        assert res.confidence[name] == pytest.approx(conf, rel=1e-9)
        vols = np.array([np.count_nonzero(r == lab) for r in raters], float)
        v = float(prob[i].astype(np.float64).sum())
        assert res.crps[name] == pytest.approx(curvas2024_volume_crps(v, vols.mean(), vols.std()), rel=1e-12)
        assert res.volumes[name]["raters"] == vols.tolist()


@pytest.mark.peers
def test_dice_empty_consensus_is_zero_like_monai():
    prob, raters = _case(shape=(4, 6, 7), seed=1)
    raters = [np.where(r == 1, 0, r).astype(np.uint8) for r in raters]  # label 1 absent everywhere
    res = ss.curvas(prob, raters)
    fg = np.zeros(raters[0].shape, bool)
    assert res.dice[1] == 0.0 == _monai_dice(fg, fg)


def test_segscore_convention_matches_building_blocks():
    prob, raters = _case(seed=4)
    sp = (2.0, 0.7, 0.7)
    res = ss.curvas(prob, raters, spacing=sp, convention="segscore")
    pred = np.argmax(np.concatenate([1 - prob.sum(0, keepdims=True), prob]), axis=0)
    cd = ss.consensus_dice(pred.astype(np.int32), raters, labels=[1, 2, 3])
    vc = ss.volume_crps(prob, raters, spacing=sp, convention="gaussian")
    for lab in (1, 2, 3):
        assert res.dice[lab] == pytest.approx(cd[lab], rel=1e-12)
        assert res.crps[lab] == pytest.approx(vc[lab], rel=1e-12)
    assert not res.meta["ece_softmax"]
    assert list(res.to_pandas().index) == [1, 2, 3]


def test_ct_crop():
    prob, raters = _case(shape=(4, 10, 12), seed=2)
    ct = np.full(raters[0].shape, -1000.0)
    ct[:, 2:8, 3:11] = 40.0
    ct[1, 1, 5] = 10.0  # any slice widens the box
    res = ss.curvas(prob, raters, ct=ct)
    box = (slice(1, 8), slice(3, 11))
    ref = ss.curvas(prob[:, :, box[0], box[1]], [r[:, box[0], box[1]] for r in raters])
    assert res.meta["crop"] == ((1, 8), (3, 11))
    assert res.ece == ref.ece and res.dice == ref.dice and res.crps == ref.crps


def test_curvas_validation():
    prob, raters = _case()
    with pytest.raises(TypeError, match="label maps"):
        ss.curvas(prob[0], [r == 1 for r in raters])
    with pytest.raises(ValueError, match="no background channel"):
        ss.curvas(prob[0], raters)
    with pytest.raises(ValueError, match="union"):
        ss.curvas(prob, raters, labels=[1, 2, (3, 4)])
    with pytest.raises(ValueError, match="convention"):
        ss.curvas(prob, raters, convention="x")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ss.curvas(prob * 2, raters)
    p2, r2 = prob[:, 0], [r[0] for r in raters]
    with pytest.raises(ValueError, match="batch, channel"):
        ss.curvas(p2, r2)
    assert isinstance(ss.curvas(p2, r2, convention="segscore").ece_mean, float)


@pytest.mark.parametrize("seed", range(2))
def test_ece_matches_segscore_calibration(seed):
    """ss.curvas computes its ECE itself (slab-wise numpy, with the softmax quirk); where the
    calibration module is present its 'curvas' convention must give the same numbers."""
    cal = pytest.importorskip("segscore.calibration")
    if "curvas" not in getattr(cal, "CALIBRATION_CONVENTIONS", {}):
        pytest.skip("segscore.calibration has no 'curvas' convention")
    prob, raters = _case(seed=seed)
    res = ss.curvas(prob, raters)
    allp = np.concatenate([1 - prob.sum(0, keepdims=True), prob])
    for got, r in zip(res.ece, raters):
        assert got == pytest.approx(cal.ece(allp, r, convention="curvas"), rel=1e-12, abs=1e-15)
