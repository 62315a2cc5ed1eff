"""ss.froc(convention="luna16") against a construction written here from LUNA16's computeFROC.

The LUNA16 evaluation script (noduleCADEvaluationLIDC.py) is not a package; its rule, as
written in it: every reference target gives one entry with ground truth 1 (the highest
probability of the detections on it, or, when missed, an entry that is *excluded* from the
ROC but still counted among the targets); every false-positive detection gives an entry with
ground truth 0; detections on excluded labels and second hits on a target are dropped.  Then

    fpr, tpr, thr = sklearn.metrics.roc_curve(gt[kept], prob[kept])      # drop_intermediate
    fps = fpr * (n_candidates - n_detected) / n_images   (zeros when there is no FP at all)
    sens = tpr * n_detected / n_targets
    CPM = mean(np.interp((1/8, 1/4, 1/2, 1, 2, 4, 8), fps, sens))
"""

from __future__ import annotations

import numpy as np
import pytest

import segscore as ss
from conftest import need_peer

REL = 1e-9
RATES = (0.125, 0.25, 0.5, 1, 2, 4, 8)
GRID = np.round(np.linspace(0.0, 1.0, 11), 1)


def luna16_lists(cases):
    gt, prob, exclude, n_images = [], [], [], 0
    for c in cases:
        ref, probs, coords = c["ref"], np.asarray(c["probs"], float), np.asarray(c["coords"], int)
        excl = set(c.get("labels_to_exclude") or [])
        under = ref[tuple(coords.T)] if len(coords) else np.zeros(0, int)
        for lab in np.unique(ref[ref > 0]):            # the targets present in the reference
            if lab in excl:
                continue
            hits = probs[under == lab]
            if hits.size:
                gt.append(1.0), prob.append(float(hits.max())), exclude.append(False)
            else:
                gt.append(1.0), prob.append(-1e9), exclude.append(True)
        for p in probs[under == 0]:
            gt.append(0.0), prob.append(float(p)), exclude.append(False)
        n_images += 1
    return np.array(gt), np.array(prob), np.array(exclude, bool), n_images


def compute_froc(gt, prob, n_images, exclude):
    from sklearn.metrics import roc_curve

    gt_l, prob_l = gt[~exclude], prob[~exclude]
    n_det = gt_l.sum()
    n_total = gt.sum()
    n_cand = len(prob_l)
    fpr, tpr, thr = roc_curve(gt_l, prob_l)
    if gt.sum() == len(gt):
        fps = np.zeros(len(fpr))
    else:
        fps = fpr * (n_cand - n_det) / n_images
    sens = (tpr * n_det) / n_total
    return fps, sens, thr


def random_case(rng):
    shape = (8, 8, 4)
    ref = np.zeros(shape, np.int32)
    for lab in range(1, int(rng.integers(1, 7))):
        lo = [int(rng.integers(0, s)) for s in shape]
        ref[tuple(slice(a, a + int(rng.integers(1, 3))) for a in lo)] = lab
    n = int(rng.integers(0, 25))
    coords = np.stack([rng.integers(0, s, n) for s in shape], axis=1) if n else np.zeros((0, 3), int)
    fg = np.argwhere(ref > 0)
    on = rng.random(n) < 0.5                     # about half the detections on a target
    if on.any() and len(fg):
        coords[on] = fg[rng.integers(0, len(fg), int(on.sum()))]
    probs = rng.choice(GRID, n) if rng.random() < 0.6 else rng.random(n)
    case = {"probs": probs, "coords": coords, "ref": ref}
    if rng.random() < 0.3:
        case["labels_to_exclude"] = [int(rng.integers(1, 4))]
    return case


@pytest.mark.parametrize("seed", range(60))
def test_random_datasets(seed, recwarn):
    need_peer("sklearn")
    rng = np.random.default_rng(seed)
    cases = [random_case(rng) for _ in range(int(rng.integers(1, 6)))]
    gt, prob, exclude, n_images = luna16_lists(cases)
    if gt.sum() == 0:
        with pytest.raises(ValueError, match="no target"):
            ss.froc(cases, convention="luna16")
        return
    r = ss.froc(cases, convention="luna16")
    assert r.num_targets == int(gt.sum()) and r.num_images == n_images
    n_det = int(gt[~exclude].sum())
    if n_det == 0 or (~exclude).sum() == 0:     # sklearn gives NaN (no positive); segscore gives 0
        np.testing.assert_array_equal(r.sensitivity, 0.0)
        assert r.score == 0.0
        return
    fps, sens, thr = compute_froc(gt, prob, n_images, exclude)
    np.testing.assert_allclose(r.fps_per_image, fps, rtol=REL, atol=0)
    np.testing.assert_allclose(r.sensitivity, sens, rtol=REL, atol=0)
    np.testing.assert_array_equal(r.thresholds, thr)
    cpm = np.mean(np.interp(RATES, fps, sens))
    assert r.score == pytest.approx(cpm, rel=REL, abs=1e-15)
    np.testing.assert_allclose(r.sensitivity_at, np.interp(RATES, fps, sens), rtol=REL, atol=1e-15)
    # precomputed input: detected targets' probabilities only
    p = ss.froc({"fp_probs": prob[gt == 0], "tp_probs": prob[(gt == 1) & ~exclude], "num_targets": int(gt.sum()),
                 "num_images": n_images}, convention="luna16")
    np.testing.assert_array_equal(p.fps_per_image, r.fps_per_image)
    np.testing.assert_array_equal(p.sensitivity, r.sensitivity)


def test_missed_targets_lower_the_ceiling():
    need_peer("sklearn")
    fp = np.array([0.9, 0.5, 0.2, 0.1])
    det = np.array([0.95, 0.6, 0.3])
    gt = np.r_[np.ones(3), np.ones(2), np.zeros(4)]
    prob = np.r_[det, [-1e9, -1e9], fp]
    exclude = np.r_[np.zeros(3, bool), np.ones(2, bool), np.zeros(4, bool)]
    fps, sens, _ = compute_froc(gt, prob, 2, exclude)
    r = ss.froc({"fp_probs": fp, "tp_probs": det, "num_targets": 5, "num_images": 2}, convention="luna16")
    np.testing.assert_allclose(r.fps_per_image, fps, rtol=REL)
    np.testing.assert_allclose(r.sensitivity, sens, rtol=REL)
    assert r.sensitivity.max() == pytest.approx(3 / 5)


def test_no_false_positive_at_all():
    need_peer("sklearn")
    det = np.array([0.8, 0.4])
    gt, prob, exclude = np.r_[1.0, 1.0, 1.0], np.r_[det, -1e9], np.array([False, False, True])
    with pytest.warns(Warning):   # sklearn: no negative samples
        fps, sens, _ = compute_froc(gt, prob, 1, exclude)
    r = ss.froc({"fp_probs": [], "tp_probs": det, "num_targets": 3}, convention="luna16")
    np.testing.assert_array_equal(r.fps_per_image, fps)
    np.testing.assert_allclose(r.sensitivity, sens, rtol=REL)
    assert r.score == pytest.approx(2 / 3)
