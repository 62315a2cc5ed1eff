"""ss.lesionwise(convention="panoptica") against panoptica 2.1.7 itself: semantic input,
connected components (cc3d 26 in 3-D, scipy 4 in 2-D), each of its matchers, per-instance
DSC / IoU / ASSD / RVD / HD95 in its surface convention, on random anisotropic cases.
float64 on both sides: 1e-9 relative.  Where panoptica raises (HD95 with no TP), segscore
returns inf; those keys are compared only where panoptica has a value.
"""

from __future__ import annotations

import numpy as np
import pytest

import segscore as ss
from support.helpers import assert_close, need_peer

pytestmark = pytest.mark.peers

REL = 1e-9
KEYS = {"n_ref_instances": "n_ref", "n_pred_instances": "n_pred", "tp": "tp", "fp": "fp", "fn": "fn",
        "prec": "precision", "rec": "recall", "rq": "rq", "sq": "sq", "sq_std": "sq_iou_std", "pq": "pq",
        "sq_dsc": "sq_dice", "sq_dsc_std": "sq_dice_std", "pq_dsc": "pq_dice", "sq_assd": "sq_assd",
        "sq_assd_std": "sq_assd_std", "sq_rvd": "sq_rvd", "sq_rvd_std": "sq_rvd_std", "sq_hd95": "sq_hd95",
        "sq_hd95_std": "sq_hd95_std", "global_bin_dsc": "global_dice"}
MATCHERS = ["greedy", "greedy_many", "hungarian_full", "merge"]


def blobs(rng, shape, n, rmin=1.0, rmax=4.0):
    g = np.indices(shape, dtype=float)
    out = np.zeros(shape, bool)
    for _ in range(n):
        c = rng.uniform(0, shape)
        r = rng.uniform(rmin, rmax, len(shape))
        out |= sum(((g[i] - c[i]) / r[i]) ** 2 for i in range(len(shape))) <= 1.0
    return out


def random_case(seed, ndim):
    rng = np.random.default_rng(seed)
    shape = (28, 26, 14) if ndim == 3 else (48, 44)
    ref = blobs(rng, shape, rng.integers(0, 7))
    pred = ref.copy()
    # move / grow / shrink the reference a little, drop some, add false positives
    pred = np.roll(pred, rng.integers(-1, 2, ndim), axis=tuple(range(ndim)))
    pred ^= blobs(rng, shape, rng.integers(0, 4), 0.8, 2.5)
    pred |= blobs(rng, shape, rng.integers(0, 3), 0.8, 2.0)
    sp = tuple(float(x) for x in rng.choice([0.6, 0.8, 1.0, 1.5, 2.5], ndim))
    return pred.astype(np.uint8), ref.astype(np.uint8), sp


def run_panoptica(pred, ref, sp, matcher, threshold):
    from panoptica import (ConnectedComponentsInstanceApproximator, InputType, MaxBipartiteMatching, Metric,
                           NaiveThresholdMatching, Panoptica_Evaluator)
    from panoptica.instance_matcher import MaximizeMergeMatching

    m = {"greedy": NaiveThresholdMatching(matching_threshold=threshold),
         "greedy_many": NaiveThresholdMatching(matching_threshold=threshold, allow_many_to_one=True),
         "hungarian_full": MaxBipartiteMatching(matching_threshold=threshold),
         "merge": MaximizeMergeMatching(matching_threshold=threshold)}[matcher]
    out = {}
    for metrics in ([Metric.DSC, Metric.IOU, Metric.ASSD, Metric.RVD, Metric.HD95],
                    [Metric.DSC, Metric.IOU, Metric.ASSD, Metric.RVD]):
        ev = Panoptica_Evaluator(expected_input=InputType.SEMANTIC,
                                 instance_approximator=ConnectedComponentsInstanceApproximator(), instance_matcher=m,
                                 instance_metrics=metrics, global_metrics=[Metric.DSC], verbose=False,
                                 log_times=False)
        try:
            res = ev.evaluate(pred, ref, voxelspacing=sp, verbose=False)["ungrouped"]
            out = res.to_dict()
            break
        except NotImplementedError:  # panoptica: HD95 with no TP
            continue
    return {k: float(v) for k, v in out.items() if k in KEYS}


LOW = {"greedy": 0.3, "greedy_many": 0.2, "hungarian_full": 0.3, "merge": 0.1}
CASES = [(seed, nd, m, 0.5 if seed % 2 == 0 else LOW[m]) for nd in (2, 3) for seed in range(8) for m in MATCHERS]


@pytest.mark.parametrize("seed,ndim,matcher,threshold", CASES)
def test_random_cases_equal_panoptica(seed, ndim, matcher, threshold):
    need_peer("panoptica")
    need_peer("cc3d")
    pred, ref, sp = random_case(seed, ndim)
    want = run_panoptica(pred, ref, sp, matcher, threshold)
    got = ss.lesionwise(pred, ref, sp, convention="panoptica", matcher=matcher, threshold=threshold,
                        metrics=("dice", "iou", "assd", "rvd", "hd95")).summary
    assert_close({KEYS[k]: got[KEYS[k]] for k in want}, {KEYS[k]: v for k, v in want.items()}, REL,
                 f"{ndim}-D seed {seed} {matcher} t={threshold} sp={sp}")
    if "sq_hd95" not in want:  # panoptica raised: segscore gives inf for the distances
        assert got["tp"] == 0 and got["sq_hd95"] == float("inf") or got["n_ref"] + got["n_pred"] == 0


def test_no_instances_gives_nan_like_panoptica():
    need_peer("panoptica")
    z = np.zeros((10, 10, 6), np.uint8)
    want = run_panoptica(z, z, (1.0, 1.0, 1.0), "greedy", 0.5)
    got = ss.lesionwise(z, z, convention="panoptica").summary
    for k in ("rq", "sq", "pq", "sq_dsc", "pq_dsc", "sq_assd"):
        if k in want:
            assert_close(got[KEYS[k]], want[k], REL, k)
