"""ss.curvas against the numbers of the CURVAS 2024 challenge's own evaluation code
(tests/data/curvas/official.json: its metrics.py run unmodified on the seeded synthetic cases
of tests/support/curvas_cases.py, three organs and three raters, two of them CT-sized with
more than 2**24 voxels).  The ECE (torchmetrics' float32 bins on the CPU) and the predicted
volume (numpy's float32 sum of the cropped view) are reproduced to the bit; exact=True
(float64 sums) moves the ECE by up to a third on the case whose background confidences all
fall in one bin."""

import json

import numpy as np
import pytest

import segscore as ss
from support.curvas_cases import make_case
from support.paths import REPO_ROOT

DATA = json.load(open(REPO_ROOT / "tests" / "data" / "curvas" / "official.json"))
NAMES = {1: "panc", 2: "kidn", 3: "livr"}


def _params():
    out = []
    for o in DATA["cases"]:
        c = o["case"]
        big = int(np.prod(c["shape"])) >= 1 << 24
        out.append(pytest.param(o, id=f"seed{c['seed']}-{'x'.join(map(str, c['shape']))}",
                                marks=[pytest.mark.slow] if big else []))
    return out


@pytest.mark.parametrize("official", _params())
def test_curvas_matches_the_official_code(official):
    c = official["case"]
    ct, raters, prob, pred = make_case(c["seed"], tuple(c["shape"]), c.get("soft", 1.0), c.get("floor", 0.0))
    res = ss.curvas(prob, raters, pred=pred, ct=ct)
    assert res.meta["crop"] is not None
    assert res.ece == pytest.approx(official["ece"], rel=1e-6, abs=0)
    for k, n in NAMES.items():
        v = res.volumes[k]
        assert v["pred"] == pytest.approx(official["vol_pred"][n], rel=1e-12)
        assert v["mean"] == pytest.approx(official["vol_mean"][n], rel=1e-12)
        assert v["std"] == pytest.approx(official["vol_std"][n], rel=1e-12)
        assert res.crps[k] == pytest.approx(official["crps"][n], rel=1e-9)
        assert res.confidence[k] == pytest.approx(official["confidence"][n], rel=1e-12)
        assert res.dice[k] == pytest.approx(official["dice"][n], rel=1e-6)  # MONAI's Dice is float32
    if int(np.prod(c["shape"])) >= 1 << 24:
        exact = ss.curvas(prob, raters, pred=pred, ct=ct, exact=True)
        assert exact.meta["sums"] == "float64"
        assert max(abs(a - b) / b for a, b in zip(exact.ece, official["ece"])) > 1e-4
