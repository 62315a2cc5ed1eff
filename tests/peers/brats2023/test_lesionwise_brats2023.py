"""ss.lesionwise(convention="brats2023") against the BraTS 2023 script's own numbers.

The script (rachitsaluja/BraTS-2023-Metrics 43c9052) is not on PyPI; it was run on the
stored cases (tests/data/lesion/cases.npz) and its values kept in
tests/data/lesion/brats2023.json (how: tests/support/lesion_peers/README.md).  Per case,
challenge and region: the counts, legacy metrics and lesion-wise scores; per lesion (ids
are not portable: cc3d numbers components on the F-ordered NIfTI array) the multiset of
(volume, number of touching components, Dice, HD95).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import segscore as ss
from support import lesion_cases as L
from support.helpers import assert_close

DATA = Path(__file__).resolve().parents[2] / "data" / "lesion"
EXPECTED = json.loads((DATA / "brats2023.json").read_text())["cases"]
CASES = L.load(DATA / "cases.npz")["sem"]
RUNS = [(case, ch) for case in sorted(EXPECTED) for ch in ("BraTS-GLI", "BraTS-MET", "BraTS-MEN")
        if ch in EXPECTED[case]]

KEYS = {"Num_TP": "tp", "Num_FP": "fp", "Num_FN": "fn", "Sensitivity": "sensitivity",
        "Specificity": "specificity", "Legacy_Dice": "legacy_dice", "Legacy_HD95": "legacy_hd95",
        "GT_Complete_Volume": "gt_volume", "LesionWise_Score_Dice": "lesion_dice",
        "LesionWise_Score_HD95": "lesion_hd95"}


@pytest.mark.parametrize("case,challenge", RUNS)
def test_regions_and_lesions_equal_the_script(case, challenge):
    c = CASES[case]
    want = EXPECTED[case][challenge]
    res = ss.lesionwise(c["pred"], c["ref"], c["spacing"], convention="brats2023",
                        challenge=challenge.split("-")[1])
    assert res.meta["spacing"] == tuple(EXPECTED[case]["zooms_float32"])
    for region, row in want["regions"].items():
        got = res.summary[region]
        assert_close({v: got[v] for v in KEYS.values()}, {KEYS[k]: v for k, v in row.items()}, 1e-9,
                     f"{case} {challenge} {region}")
    for region in ("WT", "TC", "ET"):
        exp = sorted((round(x["gt_lesion_vol"], 6), len(x["predicted_lesion_numbers"]),
                      round(x["dice_lesionwise"], 12), round(x["hd95_lesionwise"], 9))
                     for x in want["lesions"].get(region, []))
        got = sorted((round(r["ref_volume"], 6), len(r["pred_ids"]), round(r["dice"], 12), round(r["hd95"], 9))
                     for r in res.lesions if r["region"] == region and r["kind"] != "fp")
        assert got == exp, f"{case} {challenge} {region}"


@pytest.mark.parametrize("case,challenge", RUNS)
def test_each_lesion_is_hit_by_the_same_components(case, challenge):
    """Lesions by voxel count, prediction components by their first voxel (C raster), as the
    data file identifies them; false positives are the components in no lesion's list."""
    import numpy as np

    c = CASES[case]
    want = EXPECTED[case][challenge]
    if "pred_components" not in want:
        pytest.skip("this data file does not identify the components")
    res = ss.lesionwise(c["pred"], c["ref"], c["spacing"], convention="brats2023",
                        challenge=challenge.split("-")[1])
    for region, labs in (("WT", (1, 2, 3)), ("TC", (1, 3)), ("ET", (3,))):
        comps = want["pred_components"].get(region, {})
        first = {int(k): tuple(v["first_voxel_c_order"]) for k, v in comps.items()}
        lab, n = ss.connected_components(np.isin(c["pred"], labs), 26)
        mine = {}
        for i in range(1, n + 1):
            mine[i] = tuple(int(x) for x in np.unravel_index(int(np.argmax(lab.ravel() == i)), lab.shape))
        exp = sorted((x["gt_voxels"], tuple(sorted(first[p] for p in x["predicted_lesion_numbers"])))
                     for x in want["lesions"].get(region, []))
        got = sorted((r["ref_voxels"], tuple(sorted(mine[p] for p in r["pred_ids"])))
                     for r in res.lesions if r["region"] == region and r["kind"] != "fp")
        assert got == exp, f"{case} {challenge} {region}"
        hit = {p for x in want["lesions"].get(region, []) for p in x["predicted_lesion_numbers"]}
        exp_fp = sorted(first[p] for p in first if p not in hit)
        got_fp = sorted(mine[r["pred_ids"][0]] for r in res.lesions if r["region"] == region and r["kind"] == "fp")
        assert got_fp == exp_fp, f"{case} {challenge} {region} false positives"
