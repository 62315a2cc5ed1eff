import numpy as np
import pytest

import segscore as ss
from support.helpers import blob


def test_backends_reports_cpu():
    b = ss.backends()
    assert b["cpu"]["usable"]
    assert set(b) >= {"cpu", "cuda", "cupy"}


def test_dice_mask_and_labels():
    p = np.zeros((5, 5), bool)
    r = np.zeros((5, 5), bool)
    p[1:3, 1:3] = True
    r[1:3, 1:4] = True
    assert ss.dice(p, r) == pytest.approx(2 * 4 / (4 + 6))
    lp = p.astype(np.int32) * 7
    lr = r.astype(np.uint8) * 7
    assert ss.dice(lp, lr) == {7: pytest.approx(0.8)}
    assert ss.dice(lp, lr, label=7) == pytest.approx(0.8)


def test_evaluate_columns():
    p = blob((20, 20, 20), (10, 10, 10), (5, 6, 4)).astype(np.int16) * 2
    r = blob((20, 20, 20), (10, 11, 10), (5, 5, 4)).astype(np.int16) * 2
    res = ss.evaluate(p, r, spacing=(1, 1, 2), tolerance=1.0)
    d = res.to_dict()
    assert set(d) == {2}
    for c in ["dice", "iou", "tp", "vol_pred_ml", "hd", "hd95", "assd", "masd", "nsd@1"]:
        assert c in d[2]
    assert res.meta["convention"] == "segscore"
