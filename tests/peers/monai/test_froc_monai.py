"""ss.froc(convention="monai") against MONAI 1.6.1's monai.metrics.froc on random datasets.

Per case MONAI's compute_fp_tp_probs_nd (or compute_fp_tp_probs with a resolution level)
gives fp_probs, tp_probs (float32) and num_targets; the dataset concatenates them and
compute_froc_curve_data / compute_froc_score give the curve and the score.  segscore must
give the same arrays exactly and the same curve and score to 1e-9, ties between float64 false
positives and float32 true positives included (probabilities drawn from a coarse grid).
Probability maps with hit="point" are checked against MONAI fed the points an independent
construction (scipy labelling, first argmax voxel per component) finds.
"""

from __future__ import annotations

import numpy as np
import pytest

import segscore as ss
from conftest import need_peer

REL = 1e-9
GRID = np.round(np.linspace(0.0, 1.0, 11), 1)   # 0.0, 0.1, ..., 1.0: many ties, 0.7 != float32(0.7)


def _mf():
    need_peer("monai")
    import monai.metrics.froc as mf

    return mf


def random_point_case(rng, ndim, float32=False, grid=True):
    shape = tuple(int(s) for s in rng.integers(3, 10, size=ndim))
    ref = np.zeros(shape, np.int32)
    n_lab = int(rng.integers(0, 6))
    for lab in range(1, n_lab + 1):
        lo = [int(rng.integers(0, s)) for s in shape]
        hi = [min(s, a + int(rng.integers(1, 4))) for a, s in zip(lo, shape)]
        ref[tuple(slice(a, b) for a, b in zip(lo, hi))] = lab     # later boxes may cover earlier ones
    n_det = int(rng.integers(0, 30))
    coords = np.stack([rng.integers(0, s, n_det) for s in shape], axis=1) if n_det else np.zeros((0, ndim), int)
    fg = np.argwhere(ref > 0)
    on = rng.random(n_det) < 0.5                 # about half the detections on a target
    if on.any() and len(fg):
        coords[on] = fg[rng.integers(0, len(fg), int(on.sum()))]
    probs = rng.choice(GRID, n_det) if grid else rng.random(n_det)
    if float32:
        probs = probs.astype(np.float32)
    case = {"probs": probs, "coords": coords, "ref": ref}
    if rng.random() < 0.5:
        case["labels_to_exclude"] = sorted({int(x) for x in rng.integers(1, n_lab + 3, size=int(rng.integers(1, 3)))})
    return case


def monai_dataset(mf, cases):
    fps, tps, nt = [], [], 0
    for c in cases:
        mask = c["ref"]
        if "resolution_level" in c:
            fp, tp, n = mf.compute_fp_tp_probs(c["probs"], c["coords"][:, 0], c["coords"][:, 1], mask,
                                               c.get("labels_to_exclude"), c["resolution_level"])
        else:
            fp, tp, n = mf.compute_fp_tp_probs_nd(c["probs"], c["coords"], mask, c.get("labels_to_exclude"))
        fps.append(fp)
        tps.append(tp)
        nt += n
    return np.concatenate(fps), np.concatenate(tps), nt


def check_against_monai(mf, cases, rates=None):
    fp, tp, nt = monai_dataset(mf, cases)
    if nt == 0:
        with pytest.raises(ValueError, match="no target"):
            ss.froc(cases)
        return None
    r = ss.froc(cases, fp_rates=rates)
    np.testing.assert_array_equal(r.fp_probs, fp)
    assert r.tp_probs.dtype == np.float32 and tp.dtype == np.float32
    np.testing.assert_array_equal(r.tp_probs, tp)
    assert r.num_targets == nt and r.num_images == len(cases)
    fps, sens = mf.compute_froc_curve_data(fp, tp, nt, len(cases))
    np.testing.assert_allclose(r.fps_per_image, fps, rtol=REL, atol=0)
    np.testing.assert_allclose(r.sensitivity, sens, rtol=REL, atol=0)
    want = mf.compute_froc_score(fps, sens) if rates is None else mf.compute_froc_score(fps, sens, rates)
    assert r.score == pytest.approx(float(want), rel=REL, abs=0)
    # the same arrays given as one precomputed case reproduce the curve
    p = ss.froc({"fp_probs": fp, "tp_probs": tp, "num_targets": nt, "num_images": len(cases)}, fp_rates=rates)
    np.testing.assert_array_equal(p.fps_per_image, r.fps_per_image)
    np.testing.assert_array_equal(p.sensitivity, r.sensitivity)
    return r


@pytest.mark.parametrize("seed", range(60))
def test_random_point_datasets(seed):
    mf = _mf()
    rng = np.random.default_rng(seed)
    ndim = int(rng.choice([2, 3]))
    cases = [random_point_case(rng, ndim, float32=bool(seed % 3 == 0), grid=bool(seed % 4 != 1))
             for _ in range(int(rng.integers(1, 7)))]
    rates = None if seed % 2 else tuple(np.sort(rng.uniform(0.0, 10.0, size=int(rng.integers(1, 8)))))
    check_against_monai(mf, cases, rates)


@pytest.mark.parametrize("seed", range(15))
def test_random_2d_datasets_with_resolution_level(seed):
    mf = _mf()
    rng = np.random.default_rng(1000 + seed)
    cases = []
    for _ in range(int(rng.integers(1, 5))):
        c = random_point_case(rng, 2)
        level = int(rng.integers(0, 3))
        shape = np.asarray(c["ref"].shape)
        n = len(c["probs"])
        # coordinates at level 0 of a pyramid whose level `level` is the mask (floats are truncated)
        c["coords"] = rng.uniform(0, 1, size=(n, 2)) * (shape * 2**level - 1e-9)
        c["resolution_level"] = level
        cases.append(c)
    check_against_monai(mf, cases)


def test_ties_between_float64_false_positives_and_float32_true_positives():
    mf = _mf()
    ref = np.zeros((4, 4), np.int32)
    ref[0, 0], ref[3, 3] = 1, 2
    case = {"probs": np.array([0.7, 0.7, 0.7, 0.3, 0.5]),
            "coords": np.array([[0, 0], [1, 1], [2, 2], [3, 3], [1, 2]]), "ref": ref}
    r = check_against_monai(mf, [case])
    # 0.7 (float64 FP) and float32(0.7) (the TP) are two thresholds, as in MONAI's set
    assert np.sum(np.isclose(r.thresholds, 0.7)) == 2


def test_the_same_maximum_hit_twice_and_all_detections_on_one_value():
    mf = _mf()
    ref = np.zeros((5, 5), np.int32)
    ref[0:2, 0:2] = 1
    ref[3:5, 3:5] = 2
    case = {"probs": np.full(6, 0.5), "coords": np.array([[0, 0], [1, 1], [4, 4], [2, 2], [2, 3], [0, 4]]),
            "ref": ref}
    check_against_monai(mf, [case])
    check_against_monai(mf, [case, {**case, "probs": np.full(6, 1.0)}])


def _points_of_map(prob, threshold):
    """Independent construction: scipy labelling (full connectivity), per component the first
    C-order voxel holding its maximum."""
    from scipy import ndimage

    lab, n = ndimage.label(prob > threshold, structure=np.ones((3,) * prob.ndim, bool))
    probs, coords = [], []
    for k in range(1, n + 1):
        idx = np.flatnonzero(lab.ravel() == k)
        j = idx[int(np.argmax(prob.ravel()[idx]))]
        probs.append(prob.ravel()[j])
        coords.append(np.unravel_index(j, prob.shape))
    return np.asarray(probs, float), np.asarray(coords, int).reshape(-1, prob.ndim)


@pytest.mark.parametrize("seed", range(20))
def test_probability_maps_with_point_hits(seed):
    mf = _mf()
    pytest.importorskip("scipy")
    rng = np.random.default_rng(2000 + seed)
    ndim = 2 if seed % 2 else 3
    maps, pts = [], []
    for _ in range(int(rng.integers(1, 4))):
        shape = (12, 12) if ndim == 2 else (10, 10, 6)
        ref = np.zeros(shape, np.int32)
        for lab in range(1, int(rng.integers(1, 5))):
            lo = [int(rng.integers(0, s - 2)) for s in shape]
            ref[tuple(slice(a, a + int(rng.integers(1, 4))) for a in lo)] = lab
        prob = rng.choice(GRID, size=shape) * (rng.random(shape) < 0.35)
        t = 0.25
        maps.append({"prob": prob, "ref": ref})
        p, c = _points_of_map(prob, t)
        pts.append({"probs": p, "coords": c, "ref": ref})
    fp, tp, nt = monai_dataset(mf, pts)
    if nt == 0:
        return
    r = ss.froc(maps, threshold=0.25, hit="point")
    np.testing.assert_array_equal(np.sort(r.fp_probs), np.sort(fp))
    np.testing.assert_array_equal(r.tp_probs, tp)
    fps, sens = mf.compute_froc_curve_data(fp, tp, nt, len(maps))
    np.testing.assert_allclose(r.fps_per_image, fps, rtol=REL, atol=0)
    np.testing.assert_allclose(r.sensitivity, sens, rtol=REL, atol=0)
    assert r.score == pytest.approx(float(mf.compute_froc_score(fps, sens)), rel=REL, abs=0)


@pytest.mark.parametrize("seed", range(5))
def test_bootstrap_equals_resampling_by_hand(seed):
    """The CI is the percentile interval of MONAI scores over case resamples drawn by
    numpy.random.default_rng(seed).integers(0, n, size=n), one draw per resample."""
    mf = _mf()
    rng = np.random.default_rng(3000 + seed)
    cases = [random_point_case(rng, 2) for _ in range(8)]
    per_case = [monai_dataset(mf, [c]) for c in cases]
    if sum(n for _, _, n in per_case) == 0:
        return
    r = ss.froc(cases, n_bootstrap=50, seed=seed)
    draw = np.random.default_rng(seed)
    scores = []
    for _ in range(50):
        idx = draw.integers(0, len(cases), size=len(cases))
        fp = np.concatenate([per_case[j][0] for j in idx])
        tp = np.concatenate([per_case[j][1] for j in idx])
        nt = sum(per_case[j][2] for j in idx)
        if nt == 0:
            scores.append(np.nan)
            continue
        fps, sens = mf.compute_froc_curve_data(fp, tp, nt, len(idx))
        scores.append(float(mf.compute_froc_score(fps, sens)))
    scores = np.asarray(scores)
    np.testing.assert_allclose(r.bootstrap_scores, scores, rtol=REL, atol=0, equal_nan=True)
    ok = np.isfinite(scores)
    assert r.score_ci == pytest.approx(tuple(np.percentile(scores[ok], [2.5, 97.5])), rel=REL, abs=0)
