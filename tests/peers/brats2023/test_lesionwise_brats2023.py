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
