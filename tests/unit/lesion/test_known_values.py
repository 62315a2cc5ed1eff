"""Values published in the peers' own unit tests, reproduced by ss.lesionwise.

* MONAI tests/metrics/test_compute_panoptic_quality.py (@0eb610a): compute_panoptic_quality on
  a 4 x 4 instance map at IoU thresholds 0.5 / 0.3 (PQ 0.25, SQ 0.6, RQ 0.75 with a
  prediction needing id remapping), and PanopticQualityMetric on a B2HW batch (per-class PQ
  / SQ / RQ, mean over the batch and per case).  MONAI compares at atol 1e-4.
* panoptica unit_tests/test_golden_values.py (GOLDEN_INSTANCE): two matched instances, one FP,
  one FN, naive IoU >= 0.5 matching, every instance metric.  Compared at 1e-9 as panoptica does.
"""

from __future__ import annotations

import numpy as np
import pytest

import segscore as ss

P2 = np.array([[0, 1, 1, 1], [0, 0, 0, 0], [2, 0, 3, 3], [4, 2, 2, 0]])
P2_REMAP = np.array([[0, 7, 7, 7], [0, 0, 0, 0], [1, 0, 8, 8], [9, 1, 1, 0]])
G2 = np.array([[1, 1, 2, 1], [0, 0, 0, 0], [1, 3, 0, 0], [4, 3, 3, 3]])

P3 = np.array([
    [[[2, 0, 1], [2, 1, 1], [0, 1, 1]], [[0, 1, 3], [0, 0, 0], [1, 2, 1]]],
    [[[1, 1, 1], [3, 2, 0], [3, 2, 1]], [[1, 1, 3], [3, 1, 1], [0, 3, 0]]],
])
G3 = np.array([
    [[[2, 0, 0], [2, 0, 0], [2, 2, 3]], [[3, 3, 3], [3, 2, 1], [2, 2, 3]]],
    [[[1, 1, 1], [0, 0, 3], [0, 0, 3]], [[0, 1, 3], [2, 1, 0], [3, 0, 3]]],
])


def test_monai_compute_panoptic_quality_published():
    assert ss.lesionwise(P2, G2, convention="monai", threshold=0.5).summary["pq"] == pytest.approx(0.25, abs=1e-4)
    assert ss.lesionwise(P2, G2, convention="monai", threshold=0.3).summary["sq"] == pytest.approx(0.6, abs=1e-4)
    assert ss.lesionwise(P2_REMAP, G2, convention="monai", threshold=0.3).summary["rq"] == pytest.approx(0.75,
                                                                                                      abs=1e-4)
    rng = np.random.default_rng(0)
    s1 = rng.integers(0, 5, (64, 64))
    assert ss.lesionwise(s1, s1, convention="monai", threshold=0.99).summary["pq"] == pytest.approx(1.0, abs=1e-4)


def _per_class(threshold, num_classes, key):
    out = []
    for c in range(num_classes):
        res = [ss.lesionwise(p[0] * (p[1] == c + 1), g[0] * (g[1] == c + 1), convention="monai", threshold=threshold)
               for p, g in zip(P3, G3)]
        out.append((res, ss.lesion_aggregate(res)[key]))
    return out


@pytest.mark.parametrize("threshold,num_classes,key,want", [
    (0.5, 3, "pq", (0.0, 0.0, 0.25)),
    (0.3, 3, "pq", (0.25, 0.5, 0.25)),
    (0.3, 4, "sq", (0.5, 0.5, 1.0, 0.0)),
])
def test_monai_panoptic_quality_metric_published(threshold, num_classes, key, want):
    got = [v for _, v in _per_class(threshold, num_classes, key)]
    np.testing.assert_allclose(got, want, atol=1e-4)


def test_monai_panoptic_quality_metric_per_case_published():
    # reduction "none", threshold 0.4: RQ and PQ per case and class
    rq = [[0.0, 1.0, 0.0], [0.6667, 0.0, 0.4]]
    pq = [[0.0, 0.5, 0.0], [0.3333, 0.0, 0.4]]
    for c, (res, _) in enumerate(_per_class(0.4, 3, "pq")):
        for b in range(2):
            assert res[b].summary["rq"] == pytest.approx(rq[b][c], abs=1e-4)
            assert res[b].summary["pq"] == pytest.approx(pq[b][c], abs=1e-4)


def test_panoptica_golden_instance_values():
    ref = np.zeros((50, 50), np.uint16)
    pred = np.zeros((50, 50), np.uint16)
    ref[5:15, 5:15] = 1
    pred[5:15, 5:15] = 1
    ref[20:30, 20:30] = 2
    pred[21:30, 20:30] = 2
    ref[40:48, 5:13] = 3
    pred[40:48, 40:48] = 4
    s = ss.lesionwise(pred > 0, ref > 0, spacing=(1.0, 1.0), convention="panoptica",
                      metrics=("dice", "iou", "assd", "rvd", "rvae", "hd", "hd95", "nsd")).summary
    golden = {
        "n_ref": 3, "n_pred": 3, "tp": 2, "fp": 1, "fn": 1, "precision": 0.6666666666666666,
        "recall": 0.6666666666666666, "rq": 0.6666666666666666, "sq": 0.95, "sq_iou_std": 0.04999999999999999,
        "pq": 0.6333333333333333, "sq_dice": 0.9736842105263157, "sq_dice_std": 0.026315789473684237,
        "pq_dice": 0.6491228070175438, "sq_assd": 0.12826797385620914, "sq_assd_std": 0.12826797385620914,
        "sq_rvd": -0.05, "sq_rvd_std": 0.05, "sq_rvae": 0.05, "sq_rvae_std": 0.05, "sq_hd": 0.5, "sq_hd_std": 0.5,
        "sq_hd95": 0.5, "sq_hd95_std": 0.5, "sq_nsd": 1.0, "sq_nsd_std": 0.0,
        "global_dice": 0.7335907335907336, "global_iou": 0.5792682926829268,
    }
    for k, v in golden.items():
        assert s[k] == pytest.approx(v, rel=1e-9, abs=1e-12), k
