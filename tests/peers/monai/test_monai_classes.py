"""segscore.monai's classes against MONAI 1.6.1's on random batches: every value (1e-5, MONAI
being float32), shape, dtype, device and nan position of each call, of aggregate() under every
reduction with and without get_not_nans, and of get_buffer()."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

from support.helpers import need_peer

torch = pytest.importorskip("torch")
import segscore.monai as S  # noqa: E402

pytestmark = pytest.mark.peers

REDUCTIONS = ("none", "mean", "sum", "mean_batch", "sum_batch", "mean_channel", "sum_channel")


def _monai():
    need_peer("monai")
    import monai.metrics as M

    return M


def _batch(rng, b=2, c=4, shape=(12, 13, 9), empty=0.25, overlap=False, dtype=torch.float32):
    """(pred, ref) one-hot-like (B, C, *spatial) batches: a noisy box per channel, some channels
    empty in pred, ref or both; overlap=False keeps the channels disjoint (one-hot)."""
    y = np.zeros((b, c) + shape, bool)
    p = np.zeros_like(y)
    for bi, ci in itertools.product(range(b), range(c)):
        for arr in (y, p):
            if rng.random() < empty:
                continue
            lo = [int(rng.integers(0, max(1, s - 3))) for s in shape]
            hi = [min(s, lo_ + int(rng.integers(1, 8))) for s, lo_ in zip(shape, lo)]
            box = tuple([bi, ci] + [slice(a, z) for a, z in zip(lo, hi)])
            arr[box] = True
            arr[bi, ci] &= rng.random(shape) < 0.9
    if not overlap:  # keep the first channel claiming each voxel
        for arr in (y, p):
            taken = np.zeros((b,) + shape, bool)
            for ci in range(c):
                arr[:, ci] &= ~taken
                taken |= arr[:, ci]
    return torch.from_numpy(p).to(dtype), torch.from_numpy(y).to(dtype)


def _same(got, want, what=""):
    if isinstance(want, dict):
        assert isinstance(got, dict) and got.keys() == want.keys(), (what, got, want)
        for k in want:
            assert got[k] == pytest.approx(want[k], rel=1e-4, abs=1e-4), (what, k, got, want)
        return
    if isinstance(want, (list, tuple)):
        assert type(got) is type(want) and len(got) == len(want), (what, got, want)
        for i, (g, w) in enumerate(zip(got, want)):
            _same(g, w, f"{what}[{i}]")
        return
    assert isinstance(got, torch.Tensor), (what, type(got))
    assert got.shape == want.shape, (what, got.shape, want.shape)
    assert got.dtype == want.dtype, (what, got.dtype, want.dtype)
    assert got.device == want.device, (what, got.device, want.device)
    if not got.is_floating_point():
        assert torch.equal(got, want), (what, got, want)
        return
    gn, wn = torch.isnan(got), torch.isnan(want)
    assert torch.equal(gn, wn), (what, "nan positions differ", got, want)
    assert torch.equal(torch.isinf(got), torch.isinf(want)), (what, "inf positions differ", got, want)
    fin = torch.isfinite(want)
    assert torch.allclose(got[fin].double(), want[fin].double(), rtol=1e-5, atol=1e-6), (what, got, want)


def _run_both(name, kwargs, batches, call_kw=None, aggregate=True):
    """Feed the same batches to MONAI's class and segscore's; compare calls, buffers and every
    reduction of aggregate()."""
    M = _monai()
    call_kw = call_kw or {}
    for get_not_nans in (False, True):
        kw = dict(kwargs, get_not_nans=get_not_nans)
        want_m, got_m = getattr(M, name)(**kw), getattr(S, name)(**kw)
        for i, (p, y) in enumerate(batches):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                want = want_m(p, y, **call_kw[i]) if isinstance(call_kw, list) else want_m(p, y, **call_kw)
            got = got_m(p, y, **call_kw[i]) if isinstance(call_kw, list) else got_m(p, y, **call_kw)
            _same(got, want, f"{name}{kw} call {i}")
        _same(got_m.get_buffer(), want_m.get_buffer(), f"{name} buffer")
        assert len(got_m) == len(want_m)
        if not aggregate:
            continue
        for red in REDUCTIONS:
            if name == "ConfusionMatrixMetric":
                for cs in (False, True):
                    _same(got_m.aggregate(compute_sample=cs, reduction=red),
                          want_m.aggregate(compute_sample=cs, reduction=red), f"{name} {red} cs={cs}")
            else:
                _same(got_m.aggregate(red), want_m.aggregate(red), f"{name} {kw} aggregate({red})")
        got_m.reset()
        want_m.reset()
        assert got_m.get_buffer() is None and len(got_m) == 0


SEEDS = range(3)


def _spacings(rng, b, nd=3):
    return [tuple(float(x) for x in rng.uniform(0.4, 2.5, nd)) for _ in range(b)]


# ---------------------------------------------------------------------------- boundary metrics


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("include_background", [True, False])
@pytest.mark.parametrize("kw", [{}, {"percentile": 95}, {"percentile": 0}, {"percentile": 50, "directed": True},
                                {"directed": True}])
def test_hausdorff(seed, include_background, kw):
    rng = np.random.default_rng(seed)
    batches = [_batch(rng) for _ in range(2)]
    call = [{"spacing": _spacings(rng, 2)}, {"spacing": 0.7}]
    _run_both("HausdorffDistanceMetric", dict(kw, include_background=include_background), batches, call)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("include_background", [True, False])
@pytest.mark.parametrize("symmetric", [False, True])
def test_surface_distance(seed, include_background, symmetric):
    rng = np.random.default_rng(10 + seed)
    batches = [_batch(rng, b=3) for _ in range(2)]
    call = [{"spacing": (0.8, 1.1, 2.5)}, {}]
    _run_both("SurfaceDistanceMetric", dict(include_background=include_background, symmetric=symmetric),
              batches, call)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("include_background", [True, False])
@pytest.mark.parametrize("use_subvoxels", [False, True])
def test_surface_dice(seed, include_background, use_subvoxels):
    rng = np.random.default_rng(20 + seed)
    batches = [_batch(rng) for _ in range(2)]
    n = 4 if include_background else 3
    th = [float(x) for x in rng.uniform(0.0, 2.5, n)]
    call = [{"spacing": _spacings(rng, 2)}, {"spacing": [1.0, 0.5, 2.0]}]
    _run_both("SurfaceDiceMetric", dict(class_thresholds=th, include_background=include_background,
                                        use_subvoxels=use_subvoxels), batches, call)


@pytest.mark.parametrize("name,kw", [("HausdorffDistanceMetric", {"percentile": 95}),
                                     ("SurfaceDistanceMetric", {"symmetric": True}),
                                     ("SurfaceDiceMetric", {"class_thresholds": [1.0, 1.5, 0.5, 2.0]})])
def test_overlapping_channels_are_independent_masks(name, kw):
    """Sigmoid-style channels that overlap (BraTS regions): each channel is its own mask."""
    rng = np.random.default_rng(5)
    batches = [_batch(rng, overlap=True) for _ in range(2)]
    _run_both(name, dict(kw, include_background=True), batches, {"spacing": (1.0, 0.6, 1.7)})


@pytest.mark.parametrize("name,kw", [("HausdorffDistanceMetric", {"percentile": 95}),
                                     ("HausdorffDistanceMetric", {}),
                                     ("SurfaceDistanceMetric", {"symmetric": True}),
                                     ("SurfaceDiceMetric", {"class_thresholds": [1.0, 1.5, 0.5, 2.0]})])
@pytest.mark.parametrize("ignore_index", [0, 2, 9])
def test_surface_ignore_index(name, kw, ignore_index):
    rng = np.random.default_rng(6)
    batches = [_batch(rng) for _ in range(2)]
    _run_both(name, dict(kw, include_background=True, ignore_index=ignore_index), batches, {"spacing": 1.3})


def test_surface_2d_and_list_inputs():
    rng = np.random.default_rng(7)
    p, y = _batch(rng, b=3, c=3, shape=(20, 17))
    _run_both("HausdorffDistanceMetric", {"percentile": 90}, [(p, y)], {"spacing": (0.5, 1.5)})
    _run_both("SurfaceDiceMetric", {"class_thresholds": [1.0, 2.0]}, [(list(p), list(y))], {"spacing": (0.5, 1.5)})
    _run_both("SurfaceDistanceMetric", {}, [(list(p), list(y))], {})


def test_surface_bool_and_int_inputs():
    rng = np.random.default_rng(8)
    p, y = _batch(rng)
    for dt in (torch.bool, torch.int64, torch.uint8):
        _run_both("HausdorffDistanceMetric", {"percentile": 95}, [(p.to(dt), y.to(dt))], {"spacing": 0.9})
        _run_both("SurfaceDiceMetric", {"class_thresholds": [1.0] * 3}, [(p.to(dt), y.to(dt))], {"spacing": 0.9})


def test_all_empty_batch():
    p = torch.zeros(2, 3, 6, 6, 6)
    _run_both("HausdorffDistanceMetric", {"percentile": 95}, [(p, p)])
    _run_both("SurfaceDiceMetric", {"class_thresholds": [1.0, 1.0]}, [(p, p)])


# ---------------------------------------------------------------------------- overlap metrics


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("include_background", [True, False])
@pytest.mark.parametrize("ignore_empty", [True, False])
@pytest.mark.parametrize("name", ["DiceMetric", "MeanIoU", "AbsoluteVolumeDifferenceMetric"])
def test_overlap_metrics(seed, include_background, ignore_empty, name):
    rng = np.random.default_rng(30 + seed)
    batches = [_batch(rng, b=2, c=5, empty=0.35) for _ in range(2)]
    _run_both(name, dict(include_background=include_background, ignore_empty=ignore_empty), batches)


@pytest.mark.parametrize("dtype", [torch.bool, torch.int64, torch.uint8, torch.float64])
@pytest.mark.parametrize("name", ["DiceMetric", "MeanIoU", "AbsoluteVolumeDifferenceMetric"])
def test_overlap_dtypes(dtype, name):
    rng = np.random.default_rng(40)
    p, y = _batch(rng, empty=0.3)
    for ie in (True, False):
        _run_both(name, {"ignore_empty": ie}, [(p.to(dtype), y.to(dtype))])


def test_dice_soft_reference_and_overlap():
    rng = np.random.default_rng(41)
    p, y = _batch(rng, overlap=True, empty=0.3)
    soft = y * torch.from_numpy(rng.uniform(0.2, 1.0, y.shape)).float()
    _run_both("DiceMetric", {}, [(p, soft)])
    _run_both("MeanIoU", {}, [(p, soft)])


@pytest.mark.parametrize("ignore_index", [0, 1, 3, 7, -1])
@pytest.mark.parametrize("include_background", [True, False])
@pytest.mark.parametrize("name", ["DiceMetric", "MeanIoU"])
def test_overlap_ignore_index(ignore_index, include_background, name):
    rng = np.random.default_rng(42)
    batches = [_batch(rng, c=4) for _ in range(2)]
    _run_both(name, dict(include_background=include_background, ignore_index=ignore_index), batches)


def test_dice_label_maps_num_classes_and_return_with_label():
    rng = np.random.default_rng(43)
    p = torch.from_numpy(rng.integers(0, 4, (3, 1, 10, 11))).long()
    y = torch.from_numpy(rng.integers(0, 4, (3, 1, 10, 11))).long()
    y[1] = 0  # an item with only background
    for ib in (True, False):
        _run_both("DiceMetric", {"num_classes": 4, "include_background": ib}, [(p, y)])
        _run_both("DiceMetric", {"num_classes": 4, "include_background": ib, "ignore_index": 2}, [(p, y)])
    M = _monai()
    for rwl in (True, ["a", "b", "c"]):
        want_m = M.DiceMetric(num_classes=4, include_background=False, reduction="mean_batch", return_with_label=rwl)
        got_m = S.DiceMetric(num_classes=4, include_background=False, reduction="mean_batch", return_with_label=rwl)
        want_m(p, y)
        got_m(p, y)
        _same(got_m.aggregate(), want_m.aggregate(), "return_with_label")
    # one-hot prediction against a label-map reference
    p1 = torch.nn.functional.one_hot(p[:, 0], 4).movedim(-1, 1)
    _run_both("DiceMetric", {"num_classes": 4}, [(p1, y)])


def test_dice_per_component():
    need_peer("scipy")
    rng = np.random.default_rng(44)
    y = np.zeros((2, 2, 24, 24), np.float32)
    p = np.zeros_like(y)
    for b in range(2):
        for _ in range(4):
            cx, cy = rng.integers(3, 21, 2)
            y[b, 1, cx - 2:cx + 2, cy - 2:cy + 2] = 1
            p[b, 1, cx - 2 + rng.integers(-1, 2):cx + 2, cy - 1:cy + 2] = 1
    y[:, 0] = 1 - y[:, 1]
    p[:, 0] = 1 - p[:, 1]
    _run_both("DiceMetric", {"per_component": True}, [(torch.from_numpy(p), torch.from_numpy(y))])
    e = torch.zeros(1, 2, 8, 8)
    e[:, 0] = 1
    for ie in (True, False):
        _run_both("DiceMetric", {"per_component": True, "ignore_empty": ie}, [(e, e)])


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("include_background", [True, False])
@pytest.mark.parametrize("ignore_index", [None, 1, 9])
def test_confusion_matrix(seed, include_background, ignore_index):
    rng = np.random.default_rng(50 + seed)
    batches = [_batch(rng, c=4, empty=0.35) for _ in range(2)]
    names = ["sensitivity", "specificity", "precision", "negative_predictive_value", "miss_rate", "fall_out",
             "fdr", "for", "prevalence_threshold", "threat_score", "accuracy", "balanced_accuracy", "f1 score",
             "mcc", "fowlkes_mallows_index", "youden", "markedness"]
    _run_both("ConfusionMatrixMetric", dict(include_background=include_background, metric_name=names,
                                            ignore_index=ignore_index), batches)


# ---------------------------------------------------------------------------- calibration


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("reduction", ["expected", "average", "maximum"])
@pytest.mark.parametrize("right", [False, True])
def test_calibration(seed, reduction, right):
    rng = np.random.default_rng(60 + seed)
    b, c, shape = 2, 3, (9, 10, 7)
    batches = []
    for _ in range(2):
        logits = torch.from_numpy(rng.normal(size=(b, c) + shape)).float()
        probs = torch.softmax(logits * 2, dim=1)
        if seed % 2:
            probs = torch.round(probs * 20) / 20  # values on the bin edges
        lab = torch.from_numpy(rng.integers(0, c, (b,) + shape))
        y = torch.nn.functional.one_hot(lab, c).movedim(-1, 1).float()
        batches.append((probs, y))
    for ib in (True, False):
        _run_both("CalibrationErrorMetric", dict(num_bins=int(rng.integers(3, 25)), calibration_reduction=reduction,
                                                 include_background=ib, right=right), batches)


# ---------------------------------------------------------------------------- panoptic quality


def _instances(rng, b=2, shape=(24, 22), n_classes=3, n_inst=6):
    """(B, 2, *spatial) maps: channel 0 instance ids (boxes, later ones painted over earlier
    ones), channel 1 their class; the prediction shifts and resizes some boxes, drops some,
    adds some."""
    def one(seed_shift):
        out = np.zeros((2,) + shape, np.int64)
        for i in range(1, n_inst + 1):
            lo = [int(rng.integers(0, s - 3)) for s in shape]
            hi = [min(s, lo_ + int(rng.integers(2, 9))) for s, lo_ in zip(shape, lo)]
            sl = tuple(slice(a, z) for a, z in zip(lo, hi))
            out[0][sl] = i * 3 + seed_shift
            out[1][sl] = int(rng.integers(1, n_classes + 1))
        return out
    y = np.stack([one(0) for _ in range(b)])
    p = y.copy()
    for bi in range(b):
        p[bi] = np.roll(p[bi], int(rng.integers(-1, 2)), axis=-1)
        extra = one(1)
        keep = rng.random(shape) < 0.15
        p[bi][:, keep] = extra[:, keep]
    return torch.from_numpy(p), torch.from_numpy(y)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("threshold", [0.5, 0.3, 0.75])
@pytest.mark.parametrize("three_d", [False, True])
def test_panoptic_quality(seed, threshold, three_d):
    M = _monai()
    rng = np.random.default_rng(70 + seed)
    shape = (14, 12, 9) if three_d else (24, 22)
    batches = [_instances(rng, shape=shape) for _ in range(2)]
    if seed == 1:
        batches = [(p.float(), y.float()) for p, y in batches]
    for names in ("pq", ["sq", "rq", "panoptic_quality"]):
        kw = dict(num_classes=3, metric_name=names, match_iou_threshold=threshold)
        want_m, got_m = M.PanopticQualityMetric(**kw), S.PanopticQualityMetric(**kw)
        for p, y in batches:
            _same(got_m(p, y), want_m(p, y), "PQ call")
        _same(got_m.get_buffer(), want_m.get_buffer(), "PQ buffer")
        for red in REDUCTIONS:
            _same(got_m.aggregate(red), want_m.aggregate(red), f"PQ aggregate({red})")
    kw = dict(num_classes=3, return_confusion_matrix=True, reduction="sum_batch")
    want_m, got_m = M.PanopticQualityMetric(**kw), S.PanopticQualityMetric(**kw)
    for p, y in batches:
        want_m(p, y)
        got_m(p, y)
    _same(got_m.aggregate(), want_m.aggregate(), "PQ confusion")
