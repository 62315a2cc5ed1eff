"""Hand-derived cases with exact answers, for every metric and convention.

Notation: voxel conventions (monai, medpy, metricsreloaded, panoptica) use the
voxel border (mask xor face erosion) with one count per border voxel; corner
conventions (deepmind, segscore) use the corner grid (boundary points at
voxel index - 1/2) weighted by surfel area / contour length.
"""

import math

import numpy as np
import pytest

import segscore as ss
from support.helpers import assert_close

VOXEL = ("monai", "medpy", "metricsreloaded", "panoptica")
CORNER = ("deepmind", "segscore")
EXACT = 1e-12
F32 = 1e-6  # MONAI rounds distances to float32


def rel_for(conv):
    return F32 if conv == "monai" else EXACT


# --------------------------------------------------------------------------- cube / square shifted by one voxel
@pytest.mark.parametrize("axis", [0, 1, 2])
@pytest.mark.parametrize("conv", VOXEL + CORNER)
def test_cube_shifted_one_voxel_hd_is_that_axis_spacing(conv, axis):
    sp = (0.7, 1.3, 2.5)
    ref = np.zeros((14, 14, 14), bool)
    ref[4:10, 4:10, 4:10] = True
    sl = [slice(4, 10)] * 3
    sl[axis] = slice(5, 11)
    pred = np.zeros_like(ref)
    pred[tuple(sl)] = True
    assert_close(ss.hausdorff(pred, ref, spacing=sp, convention=conv), sp[axis], rel_for(conv), conv)
    assert_close(ss.hausdorff(pred, ref, spacing=sp, convention=conv, directed=True), sp[axis], rel_for(conv))


@pytest.mark.parametrize("conv", VOXEL)
def test_cube_shifted_voxel_conventions_by_hand(conv):
    """6^3 cube, shifted by one voxel along axis 0 (spacing 0.5, the smallest):
    152 border voxels per mask; in each direction 36 (the moved face) + 16
    (the opposite face's interior) are 0.5 mm away, the other 100 at 0."""
    sp = (0.5, 1.0, 2.0)
    ref = np.zeros((14, 14, 14), bool)
    ref[4:10, 4:10, 4:10] = True
    pred = np.zeros_like(ref)
    pred[5:11, 4:10, 4:10] = True
    sd = ss.surface_distances(pred, ref, spacing=sp, convention=conv)
    assert len(sd.directed.pred_to_ref.distances) == len(sd.directed.ref_to_pred.distances) == 152
    r = rel_for(conv)
    assert_close(sd.hd(), 0.5, r)
    assert_close(sd.hd95(), 0.5, r)          # 52/152 = 34 % of the elements are at 0.5
    assert_close(sd.hausdorff(50), 0.0, r)
    assert_close(sd.assd(), 0.5 * 52 / 152, r)
    assert_close(sd.asd(), 0.5 * 52 / 152, r)
    if conv != "medpy":
        assert_close(sd.nsd(0.4), 100 / 152, r)
        assert_close(sd.nsd(0.5), 1.0, r)
    if conv in ("metricsreloaded", "panoptica"):
        assert_close(sd.masd(), 0.5 * 52 / 152, r)


@pytest.mark.parametrize("conv", CORNER)
def test_square_shifted_corner_conventions_by_hand(conv):
    """k x k square shifted by one row, spacing (s0, s1) with s0 < s1.
    Contour: 2(k-1) edge points of length s1 (rows), 2(k-1) of length s0
    (columns), 4 corners of length diag = |(s0, s1)| / 2.  Directed, the moved
    bottom row (k-1 edges + 2 corners) and the top row interior (k-1 edges)
    are s0 away, everything else is on the other contour."""
    k, s0, s1 = 6, 0.7, 1.3
    ref = np.zeros((12, 12), bool)
    ref[3:3 + k, 3:3 + k] = True
    pred = np.zeros_like(ref)
    pred[4:4 + k, 3:3 + k] = True
    diag = 0.5 * math.hypot(s0, s1)
    total = 2 * (k - 1) * (s0 + s1) + 4 * diag
    far = 2 * (k - 1) * s1 + 2 * diag
    sd = ss.surface_distances(pred, ref, spacing=(s0, s1), convention=conv)
    for d, w in sd.directed:
        assert_close(np.sum(w), total, EXACT, "contour length")
        assert_close(np.sum(w[np.isclose(d, s0)]), far, EXACT, "length at s0")
    assert_close(sd.hd(), s0, EXACT)
    assert_close(sd.hd95(), s0, EXACT)
    assert_close(sd.hausdorff(50), s0, EXACT)  # only 37 % of the contour is at 0
    assert_close(sd.hausdorff(30), 0.0, EXACT)
    assert_close(sd.asd(directed=False), (s0 * far / total,) * 2, EXACT)
    assert_close(sd.assd(), s0 * far / total, EXACT)
    assert_close(sd.masd(), s0 * far / total, EXACT)
    assert_close(sd.nsd(0.69), 1 - far / total, EXACT)
    assert_close(sd.nsd(0.7), 1.0, EXACT)
    assert_close(sd.surface_overlap(0.5), (1 - far / total,) * 2, EXACT)


@pytest.mark.parametrize("conv", VOXEL)
def test_square_shifted_voxel_conventions_by_hand(conv):
    """6x6 square shifted by one row, spacing (0.7, 1.3): 20 border voxels per
    mask, 10 of them (moved row + the opposite row's inner 4) 0.7 away."""
    ref = np.zeros((12, 12), bool)
    ref[3:9, 3:9] = True
    pred = np.zeros_like(ref)
    pred[4:10, 3:9] = True
    sd = ss.surface_distances(pred, ref, spacing=(0.7, 1.3), convention=conv)
    r = rel_for(conv)
    assert_close(sd.hd(), 0.7, r)
    assert_close(sd.hd95(), 0.7, r)
    assert_close(sd.assd(), 0.35, r)
    if conv != "medpy":
        assert_close(sd.nsd(0.5), 0.5, r)


# --------------------------------------------------------------------------- two single points
@pytest.mark.parametrize("conv", VOXEL)
def test_two_points_voxel_conventions(conv):
    """Two single voxels (0, 3, 4) voxels apart at spacing (1, 0.5, 0.5):
    2.5 mm.  Every distance metric is 2.5; NSD is 1 from tau = 2.5 on."""
    p = np.zeros((8, 10, 10), bool)
    r = np.zeros_like(p)
    p[3, 2, 1] = True
    r[3, 5, 5] = True
    sp = (1.0, 0.5, 0.5)
    sd = ss.surface_distances(p, r, spacing=sp, convention=conv)
    for v in (sd.hd(), sd.hd95(), sd.hausdorff(50), sd.assd(), sd.asd(), sd.hd(directed=True)):
        assert_close(v, 2.5, EXACT, conv)
    if conv in ("metricsreloaded", "panoptica"):
        assert_close(sd.masd(), 2.5, EXACT)
    if conv != "medpy":
        assert sd.nsd(2.5) == 1.0
        assert sd.nsd(2.4999) == 0.0
        assert sd.nsd(2.6) == 1.0
    if conv == "panoptica":
        assert sd.nsd() == 0.0  # its default tolerance min(spacing) = 0.5


@pytest.mark.parametrize("conv", CORNER)
def test_two_points_corner_conventions(conv):
    """Single voxels 4 rows apart, spacing (0.5, 2): each has 4 corner points;
    half of them are 4 rows (2 mm) from the other's nearest corner, half 3 rows."""
    p = np.zeros((10, 6), bool)
    r = np.zeros_like(p)
    p[2, 2] = True
    r[6, 2] = True
    sd = ss.surface_distances(p, r, spacing=(0.5, 2.0), convention=conv)
    assert_close(sd.hd(), 2.0, EXACT)
    assert_close(sd.asd(), 1.75, EXACT)
    assert_close(sd.assd(), 1.75, EXACT)
    assert_close(sd.hausdorff(50), 1.5, EXACT)
    assert sd.nsd(1.49) == 0.0
    assert_close(sd.nsd(1.5), 0.5, EXACT)
    assert sd.nsd(2.0) == 1.0


# --------------------------------------------------------------------------- 1-D intervals
S1 = 1.5  # spacing


def _intervals():
    pred = np.zeros(14, bool)
    pred[2] = True          # a single voxel
    ref = np.zeros(14, bool)
    ref[4:11] = True        # voxels 4..10
    return pred, ref


@pytest.mark.parametrize("conv,expected", [
    # voxel border: pred {2}, ref {4, 10}; pred->ref [2], ref->pred [2, 8] (voxels)
    ("medpy", {"hd": 8, "hd95": 7.4, "hd50": 2, "assd": 4}),                 # pooled [2, 2, 8]
    ("panoptica", {"hd": 8, "hd95": 7.4, "assd": 3.5, "masd": 3.5, "nsd@3": 0.75}),  # mean of means / fractions
    ("metricsreloaded", {"hd": 8, "hd95": 7.7, "hd50": 5, "assd": 4, "masd": 3.5, "nsd@3": 2 / 3}),
    ("monai", {"hd": 8, "hd95": 7.7, "hd50": 5, "assd": 4, "asd": 2, "nsd@3": 2 / 3}),
    # corner points: pred {1.5, 2.5}, ref {3.5, 10.5}; pred->ref [2, 1], ref->pred [1, 8]
    ("segscore", {"hd": 8, "hd95": 8, "hd50": 1, "assd": 3, "masd": 3, "asd": 1.5, "nsd@1.5": 0.5,
                  "nsd@3": 0.75}),
])
def test_1d_intervals(conv, expected):
    pred, ref = _intervals()
    sd = ss.surface_distances(pred, ref, spacing=(S1,), convention=conv)
    for key, v in expected.items():
        if key == "hd":
            got = sd.hd()
        elif key.startswith("hd"):
            got = sd.hausdorff(float(key[2:]))
        elif key.startswith("nsd@"):
            got = sd.nsd(float(key[4:]))
            assert_close(got, v, rel_for(conv), f"{conv} {key}")
            continue
        else:
            got = getattr(sd, key)()
        assert_close(got, v * S1, rel_for(conv), f"{conv} {key}")


# --------------------------------------------------------------------------- boundary IoU
def _squares():
    ref = np.zeros((10, 11), bool)
    ref[2:8, 2:8] = True
    pred = np.zeros_like(ref)
    pred[2:8, 3:9] = True
    return pred, ref


def test_boundary_iou_metricsreloaded_by_hand():
    """w = 1: the band is the 20-voxel border ring; the rings of two 6x6 squares
    one column apart share 10 voxels: 10 / 30.  Spacing is ignored."""
    pred, ref = _squares()
    for sp in (None, (0.4, 3.0)):
        assert_close(ss.boundary_iou(pred, ref, spacing=sp, convention="metricsreloaded"), 1 / 3, EXACT)


def test_boundary_iou_segscore_by_hand():
    """segscore: band = voxels within w mm (<=) of the voxel border.
    Spacing 1, w = 1: 32 voxels per square (all but the 2x2 core), 24 shared: 24/40.
    Spacing (1, 2), w = 1: ring + the rows next to it (28), 20 shared: 20/36."""
    pred, ref = _squares()
    assert_close(ss.boundary_iou(pred, ref, 1.0), 0.6, EXACT)
    assert_close(ss.boundary_iou(pred, ref, 1.0, spacing=(1.0, 2.0)), 5 / 9, EXACT)
    assert_close(ss.boundary_iou(pred, ref, 0.5, spacing=(1.0, 2.0)), 1 / 3, EXACT)   # ring only
    assert_close(ss.boundary_iou(pred, pred, 1.0), 1.0, EXACT)
    row = ss.evaluate(pred, ref, metrics=["biou@1", "biou@0.5"], spacing=(1.0, 2.0)).to_dict()[1]
    assert_close(row, {"biou@1": 5 / 9, "biou@0.5": 1 / 3}, EXACT)


# --------------------------------------------------------------------------- overlap, volumes
def test_overlap_and_volumes_by_hand():
    """10^3 cube vs the same cube moved by 2 voxels along axis 0 in a 14^3 box:
    tp 800, fp 200, fn 200; voxel 0.5 x 2 x 1.5 = 1.5 mm^3 -> 1.5 mL each."""
    ref = np.zeros((14, 14, 14), bool)
    ref[2:12, 2:12, 2:12] = True
    pred = np.zeros_like(ref)
    pred[4:14, 2:12, 2:12] = True
    sp = (0.5, 2.0, 1.5)
    c = ss.confusion(pred, ref, spacing=sp)
    assert c == {"tp": 800, "fp": 200, "fn": 200, "tn": 14 ** 3 - 1200, "vol_pred_ml": 1.5, "vol_ref_ml": 1.5}
    assert ss.dice(pred, ref) == 0.8
    assert ss.iou(pred, ref) == 800 / 1200
    assert ss.precision(pred, ref) == 0.8
    assert ss.recall(pred, ref) == 0.8
    assert ss.specificity(pred, ref) == (14 ** 3 - 1200) / (14 ** 3 - 1000)
    assert ss.volume_similarity(pred, ref) == 1.0
    small = np.zeros_like(ref)
    small[2:7, 2:12, 2:12] = True  # 500 voxels inside ref
    assert ss.volume_similarity(small, ref) == 1 - 500 / 1500
    assert ss.precision(small, ref) == 1.0
    assert ss.recall(small, ref) == 0.5
    row = ss.evaluate(small.astype(np.uint8) * 3, ref.astype(np.uint8) * 3, spacing=sp).to_dict()[3]
    assert row["vol_pred_ml"] == 0.75 and row["vol_ref_ml"] == 1.5
    assert (row["tp"], row["fp"], row["fn"]) == (500, 0, 500)


# --------------------------------------------------------------------------- percentile rules on small sets
D_PRED = np.array([0.0, 1.0, 2.0, 3.0, 10.0])
D_REF = np.array([0.0, 0.0, 5.0])


def _sd(conv, dp=D_PRED, wp=None, dr=D_REF, wr=None):
    wp = np.ones_like(dp) if wp is None else np.asarray(wp, float)
    wr = np.ones_like(dr) if wr is None else np.asarray(wr, float)
    return ss.SurfaceDistances(dp, wp, dr, wr, 10, 10, conv, (1.0, 1.0), (8, 8))


@pytest.mark.parametrize("conv,expected", [
    # nearest rank per direction, max: pred cum .2 .4 .6 .8 1, ref 1/3 2/3 1
    ("deepmind", {50: 2.0, 90: 10.0, 95: 10.0, 100: 10.0, 10: 0.0}),
    # linear per direction, max: pred q90 = 3 + .6 * 7, ref q90 = 0 + .8 * 5
    ("metricsreloaded", {50: 2.0, 90: 7.2, 95: 8.6, 100: 10.0, 10: 0.4}),
    ("monai", {50: 2.0, 90: 7.2, 95: 8.6, 100: 10.0, 0: 10.0}),   # MONAI: percentile 0 = max
    # pooled [0 0 0 1 2 3 5 10], linear
    ("medpy", {50: 1.5, 90: 6.5, 95: 8.25, 100: 10.0, 10: 0.0}),
    ("panoptica", {50: 1.5, 90: 6.5, 95: 8.25, 100: 10.0}),
])
def test_percentile_rules_by_hand(conv, expected):
    sd = _sd(conv)
    for q, v in expected.items():
        assert_close(sd.hausdorff(q), v, rel_for(conv), f"{conv} hd{q}")
    assert_close(sd.hausdorff(95, directed=True), {"deepmind": 10.0, "medpy": 8.6, "panoptica": 8.6}.get(conv, 8.6),
                 rel_for(conv), "directed")


def test_weighted_nearest_rank_by_hand():
    """DeepMind: sort by (distance, weight), cumulative weight / total, first
    index with cum >= q (searchsorted left)."""
    sd = _sd("deepmind", np.array([3.0, 1.0, 2.0]), [1.0, 2.0, 1.0], np.array([0.5]), [1.0])
    # sorted: (1, 2) (2, 1) (3, 1) -> cum .5 .75 1
    assert sd.hausdorff(50) == 1.0
    assert sd.hausdorff(50.01) == 2.0
    assert sd.hausdorff(75) == 2.0
    assert sd.hausdorff(76) == 3.0
    assert_close(sd.asd(), (2 * 1 + 2 + 3) / 4, EXACT)
    assert_close(sd.assd(), (2 * 1 + 2 + 3 + 0.5) / 5, EXACT)
    assert_close(sd.masd(), 0.5 * ((2 * 1 + 2 + 3) / 4 + 0.5), EXACT)
    assert_close(sd.nsd(2.0), (3 + 1) / 5, EXACT)
    assert_close(sd.surface_overlap(1.0), (0.5, 1.0), EXACT)


def test_means_and_nsd_formulas_by_hand():
    """Pooled mean 21/8; mean of the directed means (16/5 + 5/3)/2; NSD at 2:
    pooled 5/8, panoptica's mean of directed fractions (3/5 + 2/3)/2."""
    assert_close(_sd("medpy").assd(), 21 / 8, EXACT)
    assert_close(_sd("metricsreloaded").assd(), 21 / 8, EXACT)
    assert_close(_sd("metricsreloaded").masd(), (16 / 5 + 5 / 3) / 2, EXACT)
    assert_close(_sd("panoptica").assd(), (16 / 5 + 5 / 3) / 2, EXACT)
    assert_close(_sd("monai").assd(), 21 / 8, F32)
    assert_close(_sd("monai").asd(), 16 / 5, F32)
    assert_close(_sd("metricsreloaded").nsd(2.0), 5 / 8, EXACT)
    assert_close(_sd("monai").nsd(2.0), 5 / 8, EXACT)
    assert_close(_sd("panoptica").nsd(2.0), (3 / 5 + 2 / 3) / 2, EXACT)
    assert_close(_sd("segscore").nsd(2.0), 5 / 8, EXACT)
    assert_close(_sd("segscore").surface_overlap(2.0), (3 / 5, 2 / 3), EXACT)


def test_percentile_of_a_set_with_inf_is_inf():
    """A percentile of a set containing inf is inf, never nan (DESIGN; MONAI
    itself gives nan: its issue #9095), except where DeepMind's nearest rank
    picks a finite element of the set."""
    dp = np.array([1.0, np.inf])
    for conv in ("deepmind", "segscore", "monai", "medpy", "metricsreloaded", "panoptica"):
        sd = _sd(conv, dp=dp)
        for q in (95, 100):
            assert sd.hausdorff(q) == math.inf, (conv, q)
        assert sd.hausdorff(50) == (1.0 if conv in CORNER else math.inf), conv
    assert _sd("monai", dp=np.array([np.inf, np.inf])).hausdorff(95) == math.inf
