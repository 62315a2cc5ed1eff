"""The dataset path's scorers read the case's one pass (app/scorers.py: case_pass): their
rows and the reliability extras equal the public functions called one by one (the scorers'
`_separate` path: segscore.consensus_dice, volume_crps, soft_dice, ece, reliability) on
many random cases, to 1e-12 (counts exactly)."""

from __future__ import annotations

import numpy as np
import pytest

from segscore.app.io import CaseError, Image
from segscore.app.scorers import Config, LoadedCase, ProbabilityScorer, RaterScorer, case_pass


def _img(a, path="x.nii.gz", **info):
    return Image(a, (0.8, 0.9, 2.5), np.eye(4), path, info=info)


def _softmax(rng, shape, c, quantised):
    s = rng.random(shape + (c,)) ** 4
    s[rng.random(shape) < 0.5] = np.eye(c)[0]  # confident background runs
    p = s / s.sum(axis=-1, keepdims=True)
    if quantised:
        q = np.floor(p * 255)
        q[..., 0] += 255 - q.sum(axis=-1)
        return np.asfortranarray(q.astype(np.float32) * np.float32(1 / 255)), {"slope": 1 / 255,
                                                                                "stored_dtype": "uint8"}
    return np.asfortranarray(p.astype(rng.choice([np.float32, np.float64]))), {}


def _case(rng, n_raters=3, n_labels=3, probs="4d", shape=None):
    shape = shape or tuple(int(v) for v in rng.integers(3, 14, 3))
    base = rng.integers(0, n_labels + 1, size=shape)
    base[rng.random(shape) < 0.4] = 0

    def noisy():
        m = base.copy()
        f = rng.random(shape) < 0.15
        m[f] = rng.integers(0, n_labels + 1, size=int(f.sum()))
        return np.asfortranarray(m.astype(np.uint8))

    raters = {f"rater{i + 1}": _img(noisy()) for i in range(n_raters)}
    p = None
    if probs == "4d":
        arr, info = _softmax(rng, shape, n_labels + 1, bool(rng.integers(0, 2)))
        p = _img(arr, "p.nii.gz", **info)
    elif probs == "3d":
        p = _img(np.asfortranarray(rng.random(shape).astype(np.float32)), "p.nii.gz")
    return LoadedCase("c", _img(noisy()), _img(noisy()), raters, p)


def _fresh(case):
    return LoadedCase(case.case, case.pred, case.ref, case.raters, case.probs)


def _same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        x, y = a[k], b[k]
        if isinstance(x, dict):
            _same(x, y)
        elif isinstance(x, list):
            np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-15)
        elif isinstance(x, float) and np.isnan(x):
            assert np.isnan(y), (k, x, y)
        else:
            assert x == pytest.approx(y, rel=1e-12, abs=1e-15), (k, x, y)


@pytest.mark.parametrize("labels", [None, {"a": 1, "b": 2, "absent": 3}])
def test_scorers_match_the_public_functions(labels):
    rng = np.random.default_rng(7 if labels is None else 8)
    for i in range(40):
        case = _case(rng, n_raters=int(rng.integers(0, 5)), probs=["4d", "3d", None][i % 3])
        cfg = Config(labels=labels, has_raters=True, has_probs=case.probs is not None, n_bins=int(rng.integers(2, 20)))
        assert case_pass(_fresh(case), cfg) is not None or not (case.raters or case.probs)
        for scorer in (RaterScorer(), ProbabilityScorer()):
            fast = scorer(_fresh(case), cfg)
            used = case.raters if scorer.name == "raters" else case.probs is not None
            slow = scorer._separate(_fresh(case), cfg) if used else fast
            _same(fast.rows, slow.rows)
            _same(fast.extras, slow.extras)
            if "reliability" in fast.extras:  # counts exactly
                assert fast.extras["reliability"]["count"] == slow.extras["reliability"]["count"]
                assert fast.extras["reliability"]["acc"] == slow.extras["reliability"]["acc"]


def test_union_regions_and_bad_maps_take_the_separate_path():
    rng = np.random.default_rng(9)
    case = _case(rng)
    assert case_pass(_fresh(case), Config(labels={"ab": (1, 2)}, has_raters=True, has_probs=True)) is None
    cfg = Config(labels=None, has_raters=True, has_probs=True)
    bad = _fresh(case)
    bad.probs = _img(case.probs.array.copy(), "p.nii.gz")
    bad.probs.array[1, 1, 1, 1] = np.nan
    for scorer in (RaterScorer(), ProbabilityScorer()):
        with pytest.raises(CaseError, match="NaN"):
            scorer(_fresh(bad), cfg)
        with pytest.raises(CaseError, match="NaN"):  # the separate path says the same
            ProbabilityScorer()._separate(_fresh(bad), cfg)
    bad.probs.array[1, 1, 1, 1] = 1.5
    with pytest.raises(CaseError, match=r"\[0, 1\], found 0..1.5"):
        RaterScorer()(_fresh(bad), cfg)
    with pytest.raises(CaseError, match=r"\[0, 1\], found 0..1.5"):
        ProbabilityScorer()._separate(_fresh(bad), cfg)
    bad.probs.array[1, 1, 1, :] = 0.5  # classes summing to 2
    assert case_pass(_fresh(bad), cfg) is None
    with pytest.raises(ValueError, match="do not sum to 1"):
        ProbabilityScorer()(_fresh(bad), cfg)


def test_label_beyond_the_channels():
    rng = np.random.default_rng(10)
    case = _case(rng, n_labels=3)
    case.probs = _img(case.probs.array[..., :3].copy(), "p.nii.gz")
    case.probs.array[..., 0] += 1 - case.probs.array.sum(axis=-1)
    cfg = Config(labels=None, has_raters=True, has_probs=True)
    with pytest.raises(CaseError, match="needs channel 3"):
        RaterScorer()(_fresh(case), cfg)
