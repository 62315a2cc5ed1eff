"""ss.lesionwise(convention="monai") against MONAI 1.6.1's compute_panoptic_quality and
PanopticQualityMetric (through ss.lesion_aggregate), on random 2-D and 3-D instance maps,
thresholds above and below 0.5.  MONAI computes IoU and the ratios in float32: 1e-5
relative; the counts exactly.
"""

from __future__ import annotations

import numpy as np
import pytest

import segscore as ss
from support.helpers import assert_close, need_peer

pytestmark = pytest.mark.peers

REL = 1e-5


def instance_map(rng, shape, n, rmin=1.5, rmax=5.0):
    g = np.indices(shape, dtype=float)
    out = np.zeros(shape, np.int32)
    ids = rng.permutation(np.arange(1, 3 * n + 2))[:n]  # sparse, unordered ids (remapped by sorted value)
    for k in ids:
        c = rng.uniform(0, shape)
        r = rng.uniform(rmin, rmax, len(shape))
        out[sum(((g[i] - c[i]) / r[i]) ** 2 for i in range(len(shape))) <= 1.0] = k
    return out


def random_pair(seed, ndim):
    rng = np.random.default_rng(seed)
    shape = (40, 36) if ndim == 2 else (24, 22, 12)
    ref = instance_map(rng, shape, int(rng.integers(0, 8)))
    pred = np.roll(ref, tuple(int(x) for x in rng.integers(-2, 3, ndim)), axis=tuple(range(ndim)))
    pred = np.where(pred > 0, pred * 7 + 3, 0).astype(np.int32)   # other ids than ref's
    extra = instance_map(rng, shape, int(rng.integers(0, 4)), 1.0, 3.0)
    pred = np.where(extra > 0, extra + 1000, pred)
    return pred, ref


def monai_pq(pred, ref, t):
    import torch
    from monai.metrics import compute_panoptic_quality

    p, r = torch.as_tensor(pred), torch.as_tensor(ref)
    cm = compute_panoptic_quality(p, r, match_iou_threshold=t, output_confusion_matrix=True)
    vals = {k: float(compute_panoptic_quality(p, r, metric_name=k, match_iou_threshold=t)) for k in ("pq", "sq", "rq")}
    return dict(tp=float(cm[0]), fp=float(cm[1]), fn=float(cm[2]), iou_sum=float(cm[3]), **vals)


@pytest.mark.parametrize("ndim", [2, 3])
@pytest.mark.parametrize("threshold", [0.5, 0.7, 0.3, 0.15])
@pytest.mark.parametrize("seed", range(6))
def test_compute_panoptic_quality(seed, threshold, ndim):
    need_peer("monai")
    pred, ref = random_pair(seed, ndim)
    want = monai_pq(pred, ref, threshold)
    s = ss.lesionwise(pred, ref, convention="monai", threshold=threshold).summary
    got = {k: s[k] for k in ("tp", "fp", "fn")}
    assert got == {k: want[k] for k in got}, (seed, threshold, ndim)
    assert_close({k: s[k] for k in ("iou_sum", "pq", "sq", "rq")},
                 {k: want[k] for k in ("iou_sum", "pq", "sq", "rq")}, REL, f"seed {seed} t {threshold} {ndim}-D")


def test_panoptic_quality_metric_mean_batch_equals_lesion_aggregate():
    need_peer("monai")
    import torch
    from monai.metrics import PanopticQualityMetric

    rng = np.random.default_rng(5)
    preds, refs = [], []
    for b in range(4):
        pi, ri = random_pair(100 + b, 2)
        pc = rng.integers(1, 3, pi.shape) * (pi > 0)
        rc = rng.integers(1, 3, ri.shape) * (ri > 0)
        # one class per instance (MONAI takes (class == c) * instance)
        for inst, cls in ((pi, pc), (ri, rc)):
            for k in np.unique(inst[inst > 0]):
                cls[inst == k] = 1 + (k % 2)
        preds.append(np.stack([pi, pc]))
        refs.append(np.stack([ri, rc]))
    yp, yr = torch.as_tensor(np.stack(preds)), torch.as_tensor(np.stack(refs))
    for name in ("pq", "sq", "rq"):
        m = PanopticQualityMetric(num_classes=2, metric_name=name, reduction="mean_batch")
        m(yp, yr)
        want = m.aggregate().numpy()
        for c in range(2):
            res = [ss.lesionwise(p[0] * (p[1] == c + 1), r[0] * (r[1] == c + 1), convention="monai")
                   for p, r in zip(preds, refs)]
            assert_close(ss.lesion_aggregate(res)[name], float(want[c]), REL, f"{name} class {c + 1}")


def test_empty_cases_are_zero_like_monai():
    need_peer("monai")
    z = np.zeros((8, 8), np.int32)
    q = z.copy()
    q[2:4, 2:4] = 5
    for pred, ref in ((z, z), (q, z), (z, q)):
        want = monai_pq(pred, ref, 0.5)
        s = ss.lesionwise(pred, ref, convention="monai").summary
        assert_close({k: s[k] for k in ("pq", "sq", "rq")}, {k: want[k] for k in ("pq", "sq", "rq")}, REL, "empty")


def monai_cc_dice(pred, ref):
    import torch
    from monai.metrics import DiceMetric

    def onehot(m):
        t = torch.as_tensor(m.astype(np.int64))
        return torch.stack([1 - t, t])[None].float()

    m = DiceMetric(per_component=True, reduction="none", include_background=False)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = m(onehot(pred), onehot(ref))
    out = out[0] if isinstance(out, tuple) else out
    return float(out.reshape(-1)[0])


@pytest.mark.parametrize("ndim", [2, 3])
@pytest.mark.parametrize("seed", range(8))
def test_dice_metric_per_component(seed, ndim):
    need_peer("monai")
    need_peer("scipy")
    pred, ref = random_pair(seed, ndim)
    pred, ref = pred > 0, ref > 0
    want = monai_cc_dice(pred, ref)
    got = ss.lesionwise(pred, ref, convention="monai_cc_dice").summary["cc_dice"]
    assert_close(got, want, REL, f"seed {seed} {ndim}-D")


def test_dice_metric_per_component_empty_reference_is_nan():
    need_peer("monai")
    z = np.zeros((12, 12, 6), bool)
    q = z.copy()
    q[2:5, 2:5, 1:3] = True
    for pred in (z, q):
        want = monai_cc_dice(pred, z)
        got = ss.lesionwise(pred, z, convention="monai_cc_dice").summary["cc_dice"]
        assert np.isnan(want) and np.isnan(got)
    assert ss.lesionwise(z, q, convention="monai_cc_dice").summary["cc_dice"] == monai_cc_dice(z, q) == 0.0
