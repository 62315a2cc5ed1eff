"""ss.lesion_aggregate by hand; lesion-wise results do not depend on memory layout or threads."""

from __future__ import annotations

import math

import numpy as np
import pytest

import segscore as ss
from support import lesion_cases as L


def _masks():
    a = np.zeros((12, 12), bool)
    a[1:4, 1:4] = True
    b = a.copy()
    b[7:10, 7:10] = True
    return a, b


def test_pooled_counts_rates_and_patient_wise():
    a, b = _masks()
    z = np.zeros_like(a)
    res = [ss.lesionwise(a, a), ss.lesionwise(a, b), ss.lesionwise(b, a), ss.lesionwise(z, a), ss.lesionwise(z, z)]
    agg = ss.lesion_aggregate(res)
    assert (agg["n_cases"], agg["tp"], agg["fp"], agg["fn"]) == (5, 3, 1, 2)
    assert agg["precision"] == 3 / 4 and agg["recall"] == 3 / 5 and agg["f1"] == 3 / (3 + 1.5)
    assert agg["fp_per_case"] == 1 / 5
    # cases with a reference lesion: 4, of which 3 have a TP; cases with a prediction: 3, all with a TP
    assert agg["patient_recall"] == 3 / 4 and agg["patient_precision"] == 1.0
    assert agg["dsc_tp"] == 1.0 and agg["sq"] == 1.0 and agg["pq"] == pytest.approx(3 / 4.5)
    assert agg["mean_f1"] == pytest.approx(np.mean([1.0, 2 / 3, 2 / 3, 0.0]))   # the both-empty case is nan


def test_regions_and_brats_case_means():
    c = L.semantic_cases()
    res = [ss.lesionwise(c[k]["pred"], c[k]["ref"], c[k]["spacing"], convention="brats2023")
           for k in ("random_0", "random_1", "both_empty")]
    agg = ss.lesion_aggregate(res)
    assert sorted(agg) == ["ET", "TC", "WT"]
    for g in agg:
        want = np.mean([r.summary[g]["lesion_dice"] for r in res])
        assert agg[g]["mean_lesion_dice"] == pytest.approx(want, rel=1e-12)
        assert agg[g]["tp"] == sum(r.summary[g]["tp"] for r in res)


def test_aggregate_refuses_mixed_conventions_and_other_objects():
    a, b = _masks()
    with pytest.raises(ValueError, match="different conventions"):
        ss.lesion_aggregate([ss.lesionwise(a, b), ss.lesionwise(a, b, convention="isles")])
    with pytest.raises(TypeError, match="LesionResult"):
        ss.lesion_aggregate([{"tp": 1}])
    empty = ss.lesion_aggregate([])
    assert empty["n_cases"] == 0 and math.isnan(empty["f1"])


@pytest.mark.parametrize("conv", ["segscore", "panoptica", "brats2023"])
def test_layout_and_threads_do_not_change_anything(conv):
    c = L.semantic_cases()["random_3"]
    p, r = c["pred"], c["ref"]
    if conv != "brats2023":
        p, r = p > 0, r > 0
    base = ss.lesionwise(p, r, c["spacing"], convention=conv)
    for pp, rr, th in ((np.asfortranarray(p), np.asfortranarray(r), 1),
                       (p[:, ::-1].copy()[:, ::-1], r[:, ::-1].copy()[:, ::-1], 2),
                       (np.ascontiguousarray(p), np.ascontiguousarray(r), 3)):
        other = ss.lesionwise(pp, rr, c["spacing"], convention=conv, threads=th)
        assert other.matches == base.matches
        assert str(other.summary) == str(base.summary)
        assert str(other.lesions) == str(base.lesions)


def test_aggregate_with_undefined_counts_gives_nan_not_an_error():
    """monai_cc_dice scores reference components only: its n_pred and iou_sum are nan, and
    the pooled figures that need them are nan while the defined ones are pooled."""
    a = np.zeros((10, 10), np.int32)
    a[1:4, 1:4] = 1
    a[6:9, 6:9] = 2
    res = [ss.lesionwise(a > 0, a > 0, convention="monai_cc_dice"),
           ss.lesionwise(a > 0, a == 1, convention="monai_cc_dice")]
    agg = ss.lesion_aggregate(res)
    assert agg["n_ref"] == 3 and agg["tp"] == sum(r.summary["tp"] for r in res)
    assert math.isnan(agg["n_pred"]) and math.isnan(agg["iou_sum"]) and math.isnan(agg["sq"])
    assert math.isnan(agg["patient_precision"])
