"""ss.lesionwise(convention="isles") against the ATLAS v2 copy of the ISLES'22 lesion F1
(npnl/atlas2_grand_challenge isles/scoring.py), whose values on the stored cases are in
tests/data/lesion/isles_atlas2.json (how: tests/support/lesion_peers/README.md): the F1 at
the research commit (cc3d 26-connectivity) and at HEAD (scipy's 6-connectivity), and the
absolute lesion-count differences.  Integer counts: exact.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import segscore as ss
from support import lesion_cases as L

DATA = Path(__file__).resolve().parents[2] / "data" / "lesion"
EXPECTED = json.loads((DATA / "isles_atlas2.json").read_text())["cases"]
CASES = L.load(DATA / "cases.npz")["sem"]


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_lesion_f1_and_count_difference(case):
    c = CASES[case]
    want = EXPECTED[case]
    pred, ref = c["pred"] > 0, c["ref"] > 0
    s26 = ss.lesionwise(pred, ref, convention="isles").summary
    assert s26["f1"] == pytest.approx(want["1c46738"]["compute_lesion_f1_score"], rel=1e-12)
    assert abs(s26["n_ref"] - s26["n_pred"]) == want["1c46738"]["compute_absolute_lesion_count_difference"]
    s6 = ss.lesionwise(pred, ref, convention="isles", connectivity="face").summary
    assert s6["f1"] == pytest.approx(want["55b9524"]["lesion_f1_score"], rel=1e-12)
    assert abs(s6["n_ref"] - s6["n_pred"]) == want["55b9524"]["simple_lesion_count_difference"]
