"""ss.evaluate(..., lesionwise=...): lesion_ columns per row, res.lesions, option checks;
and the LiTS and MONAI per-component rules by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

import segscore as ss
from segscore.metrics import registry as R


def _case():
    lab = np.zeros((24, 24, 12), np.uint8)
    lab[2:8, 2:8, 2:6] = 2
    lab[3:6, 3:6, 3:5] = 3
    lab[17:23, 17:23, 4:9] = 2
    pred = lab.copy()
    pred[17:23, 17:23, 4:9] = 0
    pred[20:22, 0:2, 0:2] = 1          # a false positive of label 1
    return pred, lab


def test_columns_rows_and_meta():
    pred, ref = _case()
    res = ss.evaluate(pred, ref, spacing=(1, 1, 1), labels={"WT": (1, 2, 3), "TC": (1, 3), "ET": 3},
                      metrics=["dice"], lesionwise="brats2023")
    assert res.columns[0] == "dice" and all(R.column(c).scope == R.LESIONWISE for c in res.columns[1:])
    wt = res["WT"]
    assert (wt["lesion_tp"], wt["lesion_fn"], wt["lesion_fp"]) == (1, 1, 1)
    # the same numbers as ss.lesionwise with those regions
    lr = ss.lesionwise(pred, ref, (1, 1, 1), convention="brats2023")
    for g in ("WT", "TC", "ET"):
        for key in ("lesion_dice", "lesion_hd95", "legacy_dice", "legacy_hd95", "tp", "fp", "fn"):
            col = key if key.startswith("lesion_") else "lesion_" + key
            got, want = res[g][col], lr.summary[g][key]
            assert got == want or (math.isnan(got) and math.isnan(want)), (g, key)
    assert {r["region"] for r in res.lesions} == {"WT", "TC", "ET"}
    assert res.meta["lesionwise"]["convention"] == "brats2023"
    df = res.to_pandas()
    assert "lesion_f1" in df.columns


def test_per_label_rows_and_masks():
    pred, ref = _case()
    res = ss.evaluate(pred, ref, metrics=["dice"], lesionwise={"convention": "isles"})
    assert list(res) == [1, 2, 3]
    assert res[1]["lesion_fp"] == 1 and res[1]["lesion_n_ref"] == 0
    assert res[2]["lesion_tp"] == 1 and res[2]["lesion_fn"] == 1
    m = ss.evaluate(pred > 0, ref > 0, metrics=["dice"], lesionwise="segscore")
    assert m[1]["lesion_n_ref"] == 2 and m.lesions[0]["region"] is None
    plain = ss.evaluate(pred, ref, metrics=["dice"])
    assert plain.lesions is None and plain.columns == ["dice"]


def test_lesionwise_spec_is_checked_before_anything_runs():
    pred, ref = _case()
    with pytest.raises(TypeError, match="valid options"):
        ss.evaluate(pred, ref, lesionwise={"convention": "isles", "thresh": 0.2})
    with pytest.raises(ValueError, match="unknown lesion-wise convention"):
        ss.evaluate(pred, ref, lesionwise="bratz")
    with pytest.raises(ValueError, match="labels="):
        ss.evaluate(pred, ref, lesionwise={"convention": "segscore", "regions": {"a": 1}})
    with pytest.raises(TypeError, match="convention name"):
        ss.evaluate(pred, ref, lesionwise=3)
    with pytest.raises(ValueError, match="ignore_label"):
        ss.evaluate(pred, ref, ignore_label=1, lesionwise="isles")


def test_lits_merges_by_hand():
    ref = np.zeros((20, 20), bool)
    ref[2:6, 2:6] = True          # two reference components bridged by one prediction
    ref[2:6, 8:12] = True
    pred = np.zeros_like(ref)
    pred[2:6, 2:12] = True        # IoU with the merged lesion 32 / 40 = 0.8
    res = ss.lesionwise(pred, ref, convention="lits")
    s = res.summary
    assert (s["n_ref"], s["tp"], s["fp"], s["fn"]) == (1, 1, 0, 0)
    assert res.lesions[0]["ref_voxels"] == 32 and res.lesions[0]["match_score"] == 0.8
    seg = ss.lesionwise(pred, ref)   # one-to-one IoU: 16 / 40 each, no hit
    assert (seg.summary["tp"], seg.summary["fp"], seg.summary["fn"]) == (0, 1, 2)
    # two predictions on one lesion join it
    p2 = np.zeros_like(ref)
    p2[2:6, 2:4] = True
    p2[2:6, 4:6] = False
    p2[2:6, 5:6] = True
    r2 = np.zeros_like(ref)
    r2[2:6, 2:6] = True
    out = ss.lesionwise(p2, r2, convention="lits", connectivity="face")
    assert out.summary["tp"] == 1 and out.lesions[0]["pred_ids"] == (1, 2) and out.summary["fp"] == 0


def test_monai_cc_dice_by_hand():
    ref = np.zeros((1, 12), bool)
    ref[0, 1:3] = True            # component 1
    ref[0, 8:10] = True           # component 2
    pred = np.zeros_like(ref)
    pred[0, 1:3] = True
    pred[0, 5] = True             # closer to component 1 (cell boundary between 5 and 6)
    res = ss.lesionwise(np.vstack([pred, pred * 0]), np.vstack([ref, ref * 0]), convention="monai_cc_dice")
    d = [r["dice"] for r in res.lesions]
    assert d == [pytest.approx(4 / 5), 0.0]
    assert res.summary["cc_dice"] == pytest.approx(0.4)
