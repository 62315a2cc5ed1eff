"""The stored lesion-wise inputs and peer values are consistent with their generator and with themselves.

tests/data/lesion/cases.npz holds the arrays the peers were run on; the generator
(tests/support/lesion_cases.py) must still produce them bit for bit, and each peer file's
summary values must follow from its own per-lesion rows by the formulas its header states.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from support import lesion_cases as L

DATA = Path(__file__).resolve().parents[2] / "data" / "lesion"


def test_generator_reproduces_the_stored_inputs():
    stored = L.load(DATA / "cases.npz")
    sem, inst = L.semantic_cases(), L.instance_cases()
    assert sorted(stored["sem"]) == sorted(sem)
    assert sorted(stored["inst"]) == sorted(inst)
    for name, c in sem.items():
        np.testing.assert_array_equal(stored["sem"][name]["pred"], c["pred"], err_msg=name)
        np.testing.assert_array_equal(stored["sem"][name]["ref"], c["ref"], err_msg=name)
        assert stored["sem"][name]["spacing"] == tuple(c["spacing"])
    for name, c in inst.items():
        for k in ("pred", "ref", "prob"):
            np.testing.assert_array_equal(stored["inst"][name][k], c[k], err_msg=f"{name}.{k}")


def test_brats_scores_follow_from_its_lesion_rows():
    doc = json.loads((DATA / "brats2023.json").read_text())
    thresholds = {"BraTS-GLI": 50, "BraTS-MET": 2, "BraTS-MEN": 50}
    n = 0
    for case, per in doc["cases"].items():
        for ch, thr in thresholds.items():
            for region, row in per[ch]["regions"].items():
                rows = per[ch]["lesions"].get(region, [])
                kept = [r for r in rows if r["gt_lesion_vol"] > thr]
                tp = sum(1 for r in kept if r["predicted_lesion_numbers"])
                assert row["Num_TP"] == tp, (case, ch, region)
                assert row["Num_FN"] == len(kept) - tp, (case, ch, region)
                fp = row["Num_FP"]
                den = len(kept) + fp
                dice = sum(r["dice_lesionwise"] for r in kept) / den if den else 1.0
                hd = (sum(r["hd95_lesionwise"] for r in kept) + 374 * fp) / den if den else 0.0
                assert math.isclose(row["LesionWise_Score_Dice"], dice, rel_tol=1e-12), (case, ch, region)
                assert math.isclose(row["LesionWise_Score_HD95"], hd, rel_tol=1e-12), (case, ch, region)
                n += 1
    assert n == 3 * 3 * len(doc["cases"])


@pytest.mark.parametrize("case", ["pred_near_not_overlapping", "pred_bridges_two_lesions", "ref_merged_by_dilation"])
def test_brats_edge_cases_show_the_documented_behaviour(case):
    gli = json.loads((DATA / "brats2023.json").read_text())["cases"][case]["BraTS-GLI"]
    region = "ET" if case == "pred_near_not_overlapping" else "WT"
    rows = gli["lesions"][region]
    if case == "pred_near_not_overlapping":      # a true positive with Dice 0 and a finite HD95
        assert rows[0]["predicted_lesion_numbers"] and rows[0]["dice_lesionwise"] == 0.0
        assert rows[0]["hd95_lesionwise"] < 374 and gli["regions"][region]["Num_FP"] == 0
    elif case == "pred_bridges_two_lesions":     # both lesions get the bridge; no false positive
        assert len(rows) == 2 and all(r["predicted_lesion_numbers"] == [1] for r in rows)
        assert gli["regions"][region]["Num_FP"] == 0
    else:                                        # two components two voxels apart are one lesion
        assert len(rows) == 1 and gli["regions"][region]["Num_TP"] == 1


def test_metricsreloaded_values_follow_from_its_matching():
    doc = json.loads((DATA / "metricsreloaded.json").read_text())
    assert math.isclose(doc["per_case"]["mr_pq_fixture"]["mask_iou|0.5|greedy_matching|flag_fp_in=True"]["PQ"],
                        0.350, abs_tol=1e-3)     # the value its own test expects
    n = 0
    results = [r for per in doc["per_case"].values() for r in per.values()]
    results += [r["pooled"] for r in doc["pooled"].values() if "pooled" in r]
    for r in results:
        if "raises" in r:
            continue
        tp, fp, fn = r["numb_tp"], r["numb_fp"], r["numb_fn"]
        dq = 2 * tp / (2 * tp + fp + fn) if (2 * tp + fp + fn) else 0.0
        assert math.isclose(r["fbeta"], dq, rel_tol=1e-6, abs_tol=1e-12)
        ious = r.get("tp_pair_iou", [])
        assert len(ious) == tp
        sq = sum(ious) / len(ious) if ious else (0.0 if dq == 0 else 1.0)
        assert math.isclose(r["PQ"], dq * sq, rel_tol=1e-6, abs_tol=1e-12)
        assert r["DQ"] == r["fbeta"]
        assert (r["SQ"] == "nan") if not ious else math.isclose(r["SQ"], sq, rel_tol=1e-6)
        n += 1
    assert n > 100


def test_atlas_f1_is_one_for_both_empty_and_zero_without_overlap():
    doc = json.loads((DATA / "isles_atlas2.json").read_text())["cases"]
    assert doc["both_empty"]["1c46738"]["compute_lesion_f1_score"] == 1.0
    assert doc["pred_near_not_overlapping"]["1c46738"]["compute_lesion_f1_score"] == 0.0
    # 26- vs 6-connectivity: the corner-touching reference boxes are one lesion, or two
    assert doc["corner_touching"]["1c46738"]["compute_lesion_f1_score"] == 2 / 3
    assert doc["corner_touching"]["55b9524"]["lesion_f1_score"] == 0.5


def test_brats_positions_match_counts_and_volumes():
    doc = json.loads((DATA / "brats2023.json").read_text())
    for case, per in doc["cases"].items():
        vox = float(np.prod(np.asarray(per["zooms_float32"], np.float32)))
        for ch in ("BraTS-GLI", "BraTS-MET", "BraTS-MEN"):
            for region, row in per[ch]["regions"].items():
                rows = per[ch]["lesions"].get(region, [])
                comps = per[ch]["pred_components"][region]
                used = {i for r in rows for i in r["predicted_lesion_numbers"]}
                assert row["Num_FP"] == len(set(map(int, comps)) - used), (case, ch, region)
                for r in rows:
                    assert math.isclose(r["gt_lesion_vol"], r["gt_voxels"] * vox, rel_tol=1e-6), (case, ch, region)
