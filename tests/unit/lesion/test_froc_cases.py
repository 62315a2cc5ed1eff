"""ss.froc on hand-derived cases (both conventions, points and probability maps), empty
cases, the bootstrap, and bad input."""

from __future__ import annotations

import numpy as np
import pytest

import segscore as ss

F32 = np.float32


def two_cases():
    a = np.zeros((6, 6), np.int32)
    a[0:2, 0:2] = 1
    a[4:6, 4:6] = 2
    b = np.zeros((6, 6), np.int32)
    b[2:4, 2:4] = 1
    case_a = {"probs": np.array([0.9, 0.6, 0.8, 0.3]), "coords": np.array([[0, 0], [1, 1], [3, 0], [5, 5]]), "ref": a}
    case_b = {"probs": np.array([0.5]), "coords": np.array([[0, 5]]), "ref": b}
    return [case_a, case_b]


def test_monai_by_hand():
    # fp 0.8 (A), 0.5 (B); tp: label A1 max(0.9, 0.6), A2 0.3, B1 missed; 3 targets, 2 images
    r = ss.froc(two_cases())
    np.testing.assert_array_equal(r.fp_probs, [0.8, 0.5])
    np.testing.assert_array_equal(r.tp_probs, np.array([0.9, 0.3, 0.0], F32))
    assert (r.num_targets, r.num_images) == (3, 2)
    # thresholds: the distinct values 0, f32(0.3), 0.5, 0.8, f32(0.9) but the lowest, then (0, 0)
    np.testing.assert_array_equal(r.thresholds, [F32(0.3), 0.5, 0.8, F32(0.9), np.inf])
    np.testing.assert_array_equal(r.fps_per_image, [1.0, 1.0, 0.5, 0.0, 0.0])
    np.testing.assert_allclose(r.sensitivity, [2 / 3, 1 / 3, 1 / 3, 1 / 3, 0.0], rtol=1e-15)
    np.testing.assert_allclose(r.sensitivity_at, [1 / 3, 1 / 3, 2 / 3, 2 / 3, 2 / 3, 2 / 3], rtol=1e-15)
    assert r.score == pytest.approx(5 / 9, rel=1e-15)
    assert r.fp_rates == (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


def test_luna16_by_hand():
    # candidates 0.9 (P), 0.8 (N), 0.5 (N), 0.3 (P); roc_curve drops the collinear point at 0.8
    r = ss.froc(two_cases(), convention="luna16")
    np.testing.assert_array_equal(r.tp_probs, [0.9, 0.3])          # detected targets, float64
    np.testing.assert_array_equal(r.thresholds, [np.inf, 0.9, 0.5, 0.3])
    np.testing.assert_array_equal(r.fps_per_image, [0.0, 0.0, 1.0, 1.0])
    np.testing.assert_allclose(r.sensitivity, [0.0, 1 / 3, 1 / 3, 2 / 3], rtol=1e-15)
    assert r.fp_rates == (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
    assert r.score == pytest.approx(11 / 21, rel=1e-15)                 # CPM


def maps_case():
    ref = np.zeros((8, 8), np.int32)
    ref[1:3, 1:3] = 1
    ref[5:7, 5:7] = 2
    prob = np.zeros((8, 8))
    prob[2, 2], prob[3, 3] = 0.9, 0.95     # one 8-connected component: on target 1, maximum on background
    prob[5, 5] = 0.4                        # on target 2
    prob[0, 7] = 0.7                        # background
    return {"prob": prob, "ref": ref}


def test_probability_map_point_and_overlap_hits():
    point = ss.froc(maps_case(), threshold=0.3, hit="point")
    np.testing.assert_array_equal(np.sort(point.fp_probs), [0.7, 0.95])
    np.testing.assert_array_equal(point.tp_probs, np.array([0.0, 0.4], F32))
    overlap = ss.froc(maps_case(), threshold=0.3, hit="overlap")
    np.testing.assert_array_equal(overlap.fp_probs, [0.7])
    np.testing.assert_array_equal(overlap.tp_probs, np.array([0.95, 0.4], F32))
    # 4-connectivity splits the first component: 0.9 hits target 1, 0.95 is a false positive
    split = ss.froc(maps_case(), threshold=0.3, connectivity=4)
    np.testing.assert_array_equal(np.sort(split.fp_probs), [0.7, 0.95])
    np.testing.assert_array_equal(split.tp_probs, np.array([0.9, 0.4], F32))
    # strictly above the threshold: at 0.4 the component on target 2 is gone
    np.testing.assert_array_equal(ss.froc(maps_case(), threshold=0.4).tp_probs, np.array([0.0, 0.0], F32))
    assert point.meta["hit"] == "point" and point.meta["threshold"] == 0.3


def test_probability_map_with_a_bool_reference_labels_its_components():
    c = maps_case()
    r = ss.froc({"prob": c["prob"], "ref": c["ref"] > 0}, threshold=0.3, hit="overlap")
    assert r.num_targets == 2
    np.testing.assert_array_equal(np.sort(r.tp_probs), np.array([0.4, 0.95], F32))


def test_probability_map_first_argmax_in_c_order():
    ref = np.zeros((4, 4), np.int32)
    ref[0, 3] = 1
    prob = np.zeros((4, 4))
    prob[0, 1:4] = 0.8                      # three tied maxima: the first, (0, 1), is on background
    r = ss.froc({"prob": prob, "ref": ref})
    np.testing.assert_array_equal(r.fp_probs, [0.8])
    np.testing.assert_array_equal(r.tp_probs, np.array([0.0], F32))
    prob3 = np.zeros((3, 4, 4))
    prob3[1, 0, 3], prob3[1, 1, 3] = 0.6, 0.6
    ref3 = np.zeros((3, 4, 4), np.int32)
    ref3[1, 0, 3] = 1
    assert ss.froc({"prob": prob3, "ref": ref3}).tp_probs[0] == F32(0.6)


def test_excluded_labels_are_neither_targets_nor_false_positives():
    ref = np.zeros((4, 4), np.int32)
    ref[0, 0], ref[3, 3], ref[0, 3] = 1, 2, 3
    case = {"probs": [0.9, 0.8, 0.7], "coords": [[0, 0], [3, 3], [2, 2]], "ref": ref, "labels_to_exclude": [2, 7]}
    r = ss.froc(case)
    assert r.num_targets == 2                       # labels 1 and 3 (3 is absent from the hits)
    np.testing.assert_array_equal(r.fp_probs, [0.7])
    np.testing.assert_array_equal(r.tp_probs, np.array([0.9, 0.0, 0.0], F32))
    # labels 1..max count as targets, also one that is absent from the mask (MONAI 1.6.1)
    ref[0, 3] = 0
    ref[1, 1] = 4
    assert ss.froc({**case, "ref": ref}).num_targets == 3   # 1, 3 (absent), 4


def test_empty_cases():
    ref = np.zeros((5, 5), np.int32)
    ref[1, 1] = 1
    no_detection = {"probs": np.zeros(0), "coords": np.zeros((0, 2), int), "ref": ref}
    no_target = {"probs": [0.4], "coords": [[2, 2]], "ref": np.zeros((5, 5), np.int32)}
    hit = {"probs": [0.6], "coords": [[1, 1]], "ref": ref}
    r = ss.froc([hit, no_detection, no_target])
    assert (r.num_targets, r.num_images) == (2, 3)
    np.testing.assert_array_equal(r.fp_probs, [0.4])
    np.testing.assert_array_equal(r.tp_probs, np.array([0.6, 0.0], F32))
    np.testing.assert_allclose(r.fps_per_image, [1 / 3, 0.0, 0.0])
    np.testing.assert_allclose(r.sensitivity, [0.5, 0.5, 0.0])
    r = ss.froc(no_detection)
    np.testing.assert_array_equal(r.sensitivity, [0.0])
    assert r.score == 0.0
    l16 = ss.froc([no_detection, no_target], convention="luna16")
    np.testing.assert_array_equal(l16.sensitivity, [0.0, 0.0])       # nothing detected: 0 (the script: NaN)
    assert l16.score == 0.0
    # empty probability maps
    e = ss.froc({"prob": np.zeros((4, 4)), "ref": ref[:4, :4]})
    assert e.fp_probs.size == 0 and e.score == 0.0


def test_precomputed_and_scalar_rates():
    r = ss.froc({"fp_probs": [0.8, 0.6], "tp_probs": [1, 1, 0, 0, 0.8, 0.8, 0], "num_targets": 4, "num_images": 2},
                fp_rates=0.25)
    assert r.fp_rates == (0.25,) and r.score == pytest.approx(0.75)
    assert r.to_dict()["score"] == r.score
    assert "FrocResult(convention='monai'" in repr(r)


def test_bootstrap_is_deterministic_with_a_seed():
    cases = two_cases() * 3
    a = ss.froc(cases, n_bootstrap=300, seed=7)
    b = ss.froc(cases, n_bootstrap=300, seed=7)
    c = ss.froc(cases, n_bootstrap=300, seed=8)
    np.testing.assert_array_equal(a.bootstrap_scores, b.bootstrap_scores)
    assert a.score_ci == b.score_ci
    assert not np.array_equal(a.bootstrap_scores, c.bootstrap_scores)
    lo, hi = a.score_ci
    assert 0.0 <= lo <= hi <= 1.0
    assert a.sensitivity_at_ci.shape == (6, 2)
    assert np.all(a.sensitivity_at_ci[:, 0] <= a.sensitivity_at_ci[:, 1])
    assert a.bootstrap_scores.shape == (300,)
    none = ss.froc(cases)
    assert none.score_ci is None and none.bootstrap_scores is None and none.score == a.score
    l16 = ss.froc(cases, convention="luna16", n_bootstrap=50, seed=1, ci=0.9)
    assert l16.ci == 0.9 and l16.sensitivity_at_ci.shape == (7, 2)
    d = a.to_dict()
    assert d["seed"] == 7 and d["n_bootstrap"] == 300 and len(d["score_ci"]) == 2


def test_bootstrap_resamples_without_targets_are_nan():
    ref = np.zeros((3, 3), np.int32)
    ref[0, 0] = 1
    cases = [{"probs": [0.9], "coords": [[0, 0]], "ref": ref}] + \
            [{"probs": [0.5], "coords": [[2, 2]], "ref": np.zeros((3, 3), np.int32)}] * 3
    r = ss.froc(cases, n_bootstrap=200, seed=0)
    assert np.isnan(r.bootstrap_scores).any() and np.isfinite(r.bootstrap_scores).any()
    assert np.isfinite(r.score_ci).all()


# --------------------------------------------------------------------------------- bad input
REF = np.zeros((4, 4), np.int32)
REF[1, 1] = 1


@pytest.mark.parametrize("case, err, match", [
    ({"probs": [0.5], "coords": [[4, 0]], "ref": REF}, ValueError, "outside the reference"),
    ({"probs": [0.5], "coords": [[-1, 0]], "ref": REF}, ValueError, "outside the reference"),
    ({"probs": [0.5], "coords": [[1, 1, 1]], "ref": REF}, ValueError, r"shape \(n, 2\)"),
    ({"probs": [0.5, 0.4], "coords": [[1, 1]], "ref": REF}, ValueError, "2 probabilities but 1 coordinates"),
    ({"probs": [[0.5]], "coords": [[1, 1]], "ref": REF}, ValueError, "must be 1-D"),
    ({"probs": [1.5], "coords": [[1, 1]], "ref": REF}, ValueError, r"must lie in \[0, 1\]"),
    ({"probs": [-0.1], "coords": [[1, 1]], "ref": REF}, ValueError, r"must lie in \[0, 1\]"),
    ({"probs": [np.nan], "coords": [[1, 1]], "ref": REF}, ValueError, "NaN or inf"),
    ({"probs": [0.5], "coords": [[1.5, 1]], "ref": REF}, ValueError, "non-integer"),
    ({"probs": [0.5], "coords": [[1, 1]], "ref": REF.astype(float)}, TypeError, "labelled integer mask"),
    ({"probs": [0.5], "coords": [[1, 1]], "ref": REF - 1}, ValueError, "negative labels"),
    ({"probs": [0.5], "coords": [[1, 1]]}, ValueError, "no 'ref'"),
    ({"probs": [0.5], "coords": [[1, 1]], "ref": REF, "labels": [1]}, ValueError, "unknown keys"),
    ({"probs": [0.5], "coords": [[1, 1]], "ref": REF, "resolution_level": -1}, ValueError, "resolution_level"),
    ({"probs": [0.5], "coords": [[1, 1]], "ref": REF, "labels_to_exclude": [0.5]}, TypeError, "integer labels"),
    ({"prob": np.zeros((3, 3)), "ref": REF}, ValueError, "must match"),
    ({"prob": np.full((4, 4), 2.0), "ref": REF}, ValueError, r"must lie in \[0, 1\]"),
    ({"prob": np.zeros((4, 4), bool), "ref": REF}, TypeError, "float array"),
    ({"fp_probs": [0.5], "tp_probs": [0.2]}, ValueError, "missing"),
    ({"fp_probs": [0.5], "tp_probs": [0.2], "num_targets": -1}, ValueError, "num_targets"),
    ({"fp_probs": [0.5], "tp_probs": [0.2], "num_targets": 1, "num_images": 0}, ValueError, "num_images"),
    ({"fp_probs": [1.2], "tp_probs": [0.2], "num_targets": 1}, ValueError, r"\[0, 1\]"),
    ({"fp_probs": [[0.5]], "tp_probs": [0.2], "num_targets": 1}, ValueError, "1-D"),
    ({"foo": 1}, ValueError, "give detection points"),
])
def test_bad_case(case, err, match):
    with pytest.raises(err, match=match):
        ss.froc(case)


@pytest.mark.parametrize("kwargs, err, match", [
    (dict(convention="camelyon"), ValueError, "not a FROC convention"),
    (dict(hit="centre"), ValueError, "hit="),
    (dict(threshold=1.0), ValueError, "threshold"),
    (dict(threshold=-0.1), ValueError, "threshold"),
    (dict(fp_rates=[]), ValueError, "fp_rates"),
    (dict(fp_rates=[-1.0]), ValueError, "fp_rates"),
    (dict(fp_rates=[np.inf]), ValueError, "fp_rates"),
    (dict(fp_rates="a"), TypeError, "fp_rates"),
    (dict(n_bootstrap=-1), ValueError, "n_bootstrap"),
    (dict(n_bootstrap=2.5), ValueError, "n_bootstrap"),
    (dict(ci=1.0), ValueError, "ci="),
])
def test_bad_options(kwargs, err, match):
    with pytest.raises(err, match=match):
        ss.froc({"probs": [0.5], "coords": [[1, 1]], "ref": REF}, **kwargs)


def test_bad_datasets():
    with pytest.raises(ValueError, match="at least one case"):
        ss.froc([])
    with pytest.raises(TypeError, match="each case must be a dict"):
        ss.froc([np.zeros(3)])
    with pytest.raises(TypeError, match="dict or a sequence"):
        ss.froc(np.zeros(3))
    with pytest.raises(TypeError, match="dict or a sequence"):
        ss.froc(3)
    with pytest.raises(ValueError, match="no target"):
        ss.froc({"probs": [0.5], "coords": [[1, 1]], "ref": np.zeros((4, 4), np.int32)})
    with pytest.raises(ValueError, match="no target"):
        ss.froc({"probs": [0.5], "coords": [[1, 1]], "ref": REF, "labels_to_exclude": [1]})
    with pytest.raises(ValueError, match="hit='overlap' needs probability maps"):
        ss.froc({"probs": [0.5], "coords": [[1, 1]], "ref": REF}, hit="overlap")
    with pytest.raises(ValueError, match="luna16"):
        ss.froc({"fp_probs": [], "tp_probs": [0.5, 0.4], "num_targets": 1}, convention="luna16")
    with pytest.raises(ValueError, match="does not fit a 2-D image"):
        ss.froc({"prob": np.zeros((4, 4)), "ref": REF}, connectivity=6)
    with pytest.raises(ValueError, match="1-D, 2-D or 3-D"):
        ss.froc({"prob": np.zeros((2, 2, 2, 2)), "ref": np.zeros((2, 2, 2, 2), np.int32)})


def test_one_dimensional_maps_and_named_connectivity():
    prob = np.array([0.0, 0.6, 0.7, 0.0, 0.8, 0.0])
    ref = np.array([0, 1, 1, 0, 0, 0], np.int32)
    r = ss.froc({"prob": prob, "ref": ref}, threshold=0.5)
    np.testing.assert_array_equal(r.fp_probs, [0.8])
    np.testing.assert_array_equal(r.tp_probs, np.array([0.7], F32))
    face = ss.froc(maps_case(), threshold=0.3, connectivity="face")
    four = ss.froc(maps_case(), threshold=0.3, connectivity=4)
    np.testing.assert_array_equal(face.fp_probs, four.fp_probs)
    np.testing.assert_array_equal(face.tp_probs, four.tp_probs)
    with pytest.raises(ValueError, match="does not fit a 2-D image"):
        ss.froc(maps_case(), connectivity="edge")


def test_absent_labels_are_targets_for_monai_only():
    ref = np.zeros((4, 4), np.int32)
    ref[0, 0], ref[3, 3] = 1, 3                      # label 2 absent
    case = {"probs": [0.9], "coords": [[0, 0]], "ref": ref}
    m = ss.froc(case)
    assert m.num_targets == 3                        # MONAI 1.6.1: labels 1..max
    np.testing.assert_array_equal(m.tp_probs, np.array([0.9, 0.0, 0.0], F32))
    lu = ss.froc(case, convention="luna16")
    assert lu.num_targets == 2                       # the targets present
    np.testing.assert_array_equal(lu.tp_probs, [0.9])
    assert lu.sensitivity.max() == 0.5


@pytest.mark.parametrize("convention", ["monai", "luna16"])
def test_bootstrap_scores_equal_froc_of_each_resample(convention):
    """The bootstrap reweights counts ranked once; each score must equal ss.froc run on the
    resampled list of cases itself (draws: default_rng(seed).integers(0, n, size=n))."""
    rng = np.random.default_rng(5)
    cases = two_cases() + [maps_case()]
    for _ in range(6):
        ref = np.zeros((6, 6), np.int32)
        ref[rng.integers(0, 6), rng.integers(0, 6)] = 1
        ref[rng.integers(0, 6), rng.integers(0, 6)] = 2
        k = int(rng.integers(0, 6))
        cases.append({"probs": np.round(rng.random(k), 1), "coords": rng.integers(0, 6, size=(k, 2)), "ref": ref})
    r = ss.froc(cases, convention=convention, threshold=0.3, n_bootstrap=40, seed=11)
    draw = np.random.default_rng(11)
    for b in range(40):
        sample = [cases[j] for j in draw.integers(0, len(cases), size=len(cases))]
        try:
            want = ss.froc(sample, convention=convention, threshold=0.3)
        except ValueError:
            assert np.isnan(r.bootstrap_scores[b])
            continue
        assert r.bootstrap_scores[b] == want.score
        np.testing.assert_array_equal(r.sensitivity_at_ci.shape, (len(r.fp_rates), 2))
