"""segscore.torchmetrics against torchmetrics 1.9.0 on random batches.

HausdorffDistance (2-D, square images: torchmetrics' PyTorch distance transform indexes rows
by the image height, so non-square images break there; 3-D: torchmetrics raises, so its own
edge extraction plus its scipy engine stand in), DiceScore, MeanIoU, Binary- and
MulticlassCalibrationError, ContinuousRankedProbabilityScore.  torchmetrics computes in
float32: 1e-5 relative (float64 inputs where torchmetrics keeps their dtype: 1e-9); nan and
inf in the same places.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from conftest import need_peer

torch = need_peer("torch")
tm = need_peer("torchmetrics")

from torchmetrics.classification import BinaryCalibrationError, MulticlassCalibrationError  # noqa: E402
from torchmetrics.regression import ContinuousRankedProbabilityScore as TMCRPS  # noqa: E402
from torchmetrics.segmentation import DiceScore as TMDice  # noqa: E402
from torchmetrics.segmentation import GeneralizedDiceScore as TMGDice  # noqa: E402
from torchmetrics.segmentation import HausdorffDistance as TMHD  # noqa: E402
from torchmetrics.segmentation import MeanIoU as TMIoU  # noqa: E402

import segscore.torchmetrics as sst  # noqa: E402

pytestmark = pytest.mark.peers

REL = 1e-5


def close(got, want, rel=REL, what=""):
    got = torch.as_tensor(got, dtype=torch.float64).cpu()
    want = torch.as_tensor(want, dtype=torch.float64).cpu()
    assert got.shape == want.shape, f"{what}: shape {tuple(got.shape)} vs torchmetrics {tuple(want.shape)}"
    gn, wn = torch.isnan(got), torch.isnan(want)
    assert torch.equal(gn, wn), f"{what}: nan positions differ: {got} vs {want}"
    gi, wi = torch.isinf(got), torch.isinf(want)
    assert torch.equal(gi, wi) and torch.equal(got[gi], want[wi]), f"{what}: inf differ: {got} vs {want}"
    ok = ~(gn | gi)
    diff = (got[ok] - want[ok]).abs()
    bound = rel * torch.maximum(got[ok].abs(), want[ok].abs()) + 1e-12
    assert bool((diff <= bound).all()), f"{what}: segscore {got} vs torchmetrics {want} (rel {rel})"


def blobs(gen, n, c, shape, p=0.6):
    """(n, shape) label maps of c classes made of random boxes (every class present somewhere)."""
    out = torch.zeros((n, *shape), dtype=torch.long)
    for b in range(n):
        for k in range(1, c):
            for _ in range(2):
                lo = [int(torch.randint(0, s - 2, (1,), generator=gen)) for s in shape]
                hi = [lo[i] + int(torch.randint(2, max(3, shape[i] // 2), (1,), generator=gen)) for i in range(len(shape))]
                out[(b, *[slice(a, z) for a, z in zip(lo, hi)])] = k
        noise = torch.rand((*shape,), generator=gen) > 0.97
        out[b][noise] = torch.randint(0, c, (int(noise.sum()),), generator=gen)
    return out


def one_hot(x, c):
    return torch.nn.functional.one_hot(x, c).movedim(-1, 1)


# ---------------------------------------------------------------------------- Hausdorff


@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize("include_background", [False, True])
@pytest.mark.parametrize("directed", [False, True])
def test_hausdorff_2d_equals_torchmetrics(seed, include_background, directed):
    gen = torch.Generator().manual_seed(seed)
    c = 4
    spacing = [0.7, 1.3] if seed % 2 else None
    ours = sst.HausdorffDistance(c, include_background=include_background, directed=directed, spacing=spacing)
    theirs = TMHD(c, include_background=include_background, directed=directed, spacing=spacing)
    for _ in range(2):
        p, t = blobs(gen, 3, c, (18, 18)), blobs(gen, 3, c, (18, 18))
        p[0][p[0] == 2] = 0  # an empty prediction of class 2 in case 0: inf
        close(ours(one_hot(p, c), one_hot(t, c)), theirs(one_hot(p, c), one_hot(t, c)), what="forward")
    close(ours.compute(), theirs.compute(), what="compute")


@pytest.mark.parametrize("fmt", ["index", "mixed", "probs"])
def test_hausdorff_input_formats(fmt):
    gen = torch.Generator().manual_seed(7)
    c = 3
    p, t = blobs(gen, 2, c, (16, 16)), blobs(gen, 2, c, (16, 16))
    want = TMHD(c, include_background=True)(one_hot(p, c), one_hot(t, c))
    if fmt == "index":
        got = sst.HausdorffDistance(c, include_background=True, input_format="index")(p, t)
    elif fmt == "mixed":
        got = sst.HausdorffDistance(c, include_background=True, input_format="mixed")(one_hot(p, c), t)
    else:  # probabilities are argmaxed, as torchmetrics does
        probs = torch.softmax(one_hot(p, c).double() * 5 + torch.rand(2, c, 16, 16, generator=gen), 1)
        got = sst.HausdorffDistance(c, include_background=True)(probs, one_hot(t, c))
    close(got, want, what=fmt)


def test_hausdorff_per_case_values_equal_functional():
    from torchmetrics.functional.segmentation import hausdorff_distance

    gen = torch.Generator().manual_seed(3)
    c = 5
    p, t = blobs(gen, 4, c, (24, 24)), blobs(gen, 4, c, (24, 24))
    got = sst.HausdorffDistance(c, reduction="none", spacing=[2.0, 0.5])(one_hot(p, c), one_hot(t, c))
    close(got, hausdorff_distance(one_hot(p, c), one_hot(t, c), c, spacing=[2.0, 0.5]), what="per case")


def _tm_definition(p, t, spacing, directed):
    """torchmetrics' HD definition: its own mask_edges (erosion on the padded crop) and its
    scipy engine's distance transform (its PyTorch engine is 2-D only and square only)."""
    from scipy import ndimage
    from torchmetrics.functional.segmentation.utils import mask_edges

    ep, et = (e.bool().numpy() for e in mask_edges(p, t))
    if not ep.any() and not et.any():
        return math.nan
    if not ep.any() or not et.any():
        return math.inf
    d_pt = ndimage.distance_transform_edt(~et, sampling=spacing)[ep].astype(np.float32)
    if directed:
        return float(d_pt.max())
    d_tp = ndimage.distance_transform_edt(~ep, sampling=spacing)[et].astype(np.float32)
    return float(max(d_pt.max(), d_tp.max()))


def test_torchmetrics_hausdorff_refuses_3d():
    p = torch.zeros(1, 2, 6, 6, 6, dtype=torch.long)
    p[0, 1, 1:3, 1:3, 1:3] = 1
    with pytest.raises(ValueError, match="rank 2"):
        TMHD(2)(p, p)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("directed", [False, True])
def test_hausdorff_3d_equals_torchmetrics_definition(seed, directed):
    gen = torch.Generator().manual_seed(100 + seed)
    c = 3
    shape = (14, 11, 9)  # not square: segscore has no such restriction
    spacing = [0.8, 1.1, 2.5]
    p, t = blobs(gen, 2, c, shape), blobs(gen, 2, c, shape)
    got = sst.HausdorffDistance(c, directed=directed, spacing=spacing, reduction="none", input_format="index")(p, t)
    want = torch.tensor([[_tm_definition(p[b] == k, t[b] == k, spacing, directed) for k in range(1, c)]
                         for b in range(2)])
    close(got, want, what="3-D")


def test_hausdorff_non_square_2d():
    """torchmetrics' PyTorch distance transform writes z[i * h + j] (h the height): a non-square
    image gives an IndexError or misplaced distances there; segscore follows the definition."""
    gen = torch.Generator().manual_seed(8)
    c = 3
    p, t = blobs(gen, 2, c, (21, 13)), blobs(gen, 2, c, (21, 13))
    try:
        TMHD(c)(one_hot(p, c), one_hot(t, c))
    except IndexError:
        pass
    got = sst.HausdorffDistance(c, input_format="index", reduction="none", spacing=[1.0, 0.6])(p, t)
    want = torch.tensor([[_tm_definition(p[b] == k, t[b] == k, [1.0, 0.6], False) for k in range(1, c)]
                         for b in range(2)])
    close(got, want, what="non-square 2-D")


def test_hausdorff_both_empty_is_nan_where_torchmetrics_raises():
    p = torch.zeros(1, 2, 8, 8, dtype=torch.long)
    p[0, 0] = 1
    with pytest.raises(RuntimeError):
        TMHD(2)(p, p)
    assert math.isnan(float(sst.HausdorffDistance(2)(p, p)))


# ---------------------------------------------------------------------------- Dice / IoU


@pytest.mark.parametrize("average", ["micro", "macro", "weighted", "none"])
@pytest.mark.parametrize("aggregation_level", ["samplewise", "global"])
@pytest.mark.parametrize("include_background", [True, False])
@pytest.mark.parametrize("fmt", ["one-hot", "index", "mixed"])
def test_dice_score_equals_torchmetrics(average, aggregation_level, include_background, fmt):
    gen = torch.Generator().manual_seed(11)
    c = 4
    kw = dict(num_classes=c, include_background=include_background, average=average,
              aggregation_level=aggregation_level, input_format=fmt)
    ours = sst.DiceScore(**kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = TMDice(**kw)
    for shape in ((12, 12), (12, 12), (6, 7, 5)[:2]):
        p, t = blobs(gen, 3, c, shape), blobs(gen, 3, c, shape)
        p[1][p[1] == 3] = 0
        t[1][t[1] == 3] = 0  # class 3 absent from both in case 1: nan there
        if fmt == "one-hot":
            args = (one_hot(p, c), one_hot(t, c))
        elif fmt == "index":
            args = (p, t)
        else:
            args = (one_hot(p, c), t)
        close(ours(*args), theirs(*args), rel=1e-6, what="forward")
    close(ours.compute(), theirs.compute(), rel=1e-6, what="compute")


def test_dice_score_3d_probabilities():
    gen = torch.Generator().manual_seed(12)
    c = 3
    p, t = blobs(gen, 2, c, (10, 9, 8)), blobs(gen, 2, c, (10, 9, 8))
    probs = torch.softmax(one_hot(p, c).float() * 3 + torch.rand(2, c, 10, 9, 8, generator=gen), 1)
    close(sst.DiceScore(c)(probs, one_hot(t, c)), TMDice(c)(probs, one_hot(t, c)), rel=1e-6)


@pytest.mark.parametrize("per_class", [False, True])
@pytest.mark.parametrize("include_background", [True, False])
@pytest.mark.parametrize("fmt", ["one-hot", "index", "one-hot-no-c"])
def test_mean_iou_equals_torchmetrics(per_class, include_background, fmt):
    gen = torch.Generator().manual_seed(13)
    c = 4
    nc = None if fmt == "one-hot-no-c" else c
    f = "index" if fmt == "index" else "one-hot"
    ours = sst.MeanIoU(nc, include_background=include_background, per_class=per_class, input_format=f)
    theirs = TMIoU(nc, include_background=include_background, per_class=per_class, input_format=f)
    for _ in range(3):
        p, t = blobs(gen, 2, c, (10, 10)), blobs(gen, 2, c, (10, 10))
        p[p == 3] = 0
        t[t == 3] = 0  # class 3 never present: -1 per class
        args = (p, t) if f == "index" else (one_hot(p, c), one_hot(t, c))
        close(ours(*args), theirs(*args), rel=1e-6, what="forward")
    close(ours.compute(), theirs.compute(), rel=1e-6, what="compute")


@pytest.mark.parametrize("weight_type", ["square", "simple", "linear"])
@pytest.mark.parametrize("per_class", [False, True])
@pytest.mark.parametrize("include_background", [True, False])
@pytest.mark.parametrize("fmt", ["one-hot", "index"])
def test_generalized_dice_equals_torchmetrics(weight_type, per_class, include_background, fmt):
    gen = torch.Generator().manual_seed(14)
    c = 4
    kw = dict(num_classes=c, include_background=include_background, per_class=per_class, weight_type=weight_type,
              input_format=fmt)
    ours, theirs = sst.GeneralizedDiceScore(**kw), TMGDice(**kw)
    for n in (3, 2, 5):  # batch sizes other than C: torchmetrics' weight of an absent class depends on them
        p, t = blobs(gen, n, c, (10, 10)), blobs(gen, n, c, (10, 10))
        t[0][t[0] == 2] = 0  # class 2 absent from case 0's target: torchmetrics' replaced infinite weight
        p[1][p[1] == 3] = 0
        t[1][t[1] == 3] = 0
        args = (p, t) if fmt == "index" else (one_hot(p, c), one_hot(t, c))
        close(ours(*args), theirs(*args), what="forward")
    close(ours.compute(), theirs.compute(), what="compute")


# ---------------------------------------------------------------------------- calibration


@pytest.mark.parametrize("norm", ["l1", "l2", "max"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("n_bins", [15, 7])
def test_binary_calibration_error_equals_torchmetrics(norm, dtype, n_bins):
    gen = torch.Generator().manual_seed(21)
    ours = sst.CalibrationError("binary", n_bins=n_bins, norm=norm)
    theirs = BinaryCalibrationError(n_bins=n_bins, norm=norm)
    for i in range(3):
        p = torch.rand(2, 12, 10, generator=gen, dtype=torch.float64).to(dtype)
        p[0, 0, :3] = torch.tensor([0.0, 1.0, 0.5], dtype=dtype)  # the end values and an edge
        y = (torch.rand(2, 12, 10, generator=gen) < p.double()).long()
        ours.update(p, y)
        theirs.update(p, y)
    close(ours.compute(), theirs.compute(), rel=REL if dtype == torch.float32 else 1e-9)


@pytest.mark.parametrize("norm", ["l1", "l2", "max"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_multiclass_calibration_error_equals_torchmetrics(norm, dtype):
    gen = torch.Generator().manual_seed(22)
    c = 4
    ours = sst.CalibrationError("multiclass", num_classes=c, norm=norm, ignore_index=255)
    theirs = MulticlassCalibrationError(num_classes=c, norm=norm, ignore_index=255)
    for i in range(3):
        logits = torch.randn(2, c, 9, 8, generator=gen, dtype=torch.float64) * 2
        p = torch.softmax(logits, 1).to(dtype)
        y = torch.randint(0, c, (2, 9, 8), generator=gen)
        y[0, 0, :4] = 255
        if i == 2:
            p = logits.to(dtype)  # logits: both apply softmax (values outside [0, 1])
        ours.update(p, y)
        theirs.update(p, y)
    close(ours.compute(), theirs.compute())


def test_binary_calibration_logits_rule_equals_torchmetrics():
    gen = torch.Generator().manual_seed(23)
    x = torch.randn(3, 40, generator=gen) * 3
    y = torch.randint(0, 2, (3, 40), generator=gen)
    close(sst.CalibrationError("binary")(x, y), BinaryCalibrationError()(x, y))


# ---------------------------------------------------------------------------- CRPS


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_crps_equals_torchmetrics(dtype):
    rel = REL  # torchmetrics' score state is float32 whatever the input's dtype
    gen = torch.Generator().manual_seed(31)
    ours, theirs = sst.ContinuousRankedProbabilityScore(), TMCRPS()
    for m in (2, 5, 9):
        members = torch.randn(17, m, generator=gen, dtype=torch.float64).to(dtype)
        obs = torch.randn(17, generator=gen, dtype=torch.float64).to(dtype)
        close(ours(members, obs), theirs(members, obs), rel=rel, what=f"forward m={m}")
    close(ours.compute(), theirs.compute(), rel=rel, what="compute")


def test_calibration_error_classification_shapes():
    """(N, C) scores and (N,) labels, as in image classification: the same numbers."""
    gen = torch.Generator().manual_seed(24)
    logits = torch.randn(300, 5, generator=gen)
    y = torch.randint(0, 5, (300,), generator=gen)
    p = torch.softmax(logits, 1)
    close(sst.CalibrationError("multiclass", num_classes=5)(p, y), MulticlassCalibrationError(5)(p, y))
    close(sst.CalibrationError("multiclass", num_classes=5)(logits, y), MulticlassCalibrationError(5)(logits, y))
    pb = torch.rand(300, generator=gen)
    yb = torch.randint(0, 2, (300,), generator=gen)
    close(sst.CalibrationError(n_bins=10, norm="max")(pb, yb), BinaryCalibrationError(n_bins=10, norm="max")(pb, yb))
