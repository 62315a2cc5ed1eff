"""Overlap metrics and confusion counts: against a brute-force numpy
definition on random label maps (regions, ignore_label, mixed dtypes), and
against MONAI compute_dice / compute_iou, MedPy dc / jc / precision / recall
/ specificity and DeepMind compute_dice_coefficient, empty masks included,
each under its own convention (docs/conventions_research.md §4)."""

import math

import numpy as np
import pytest

import segscore as ss
from support.helpers import assert_close, need_peer

from . import adapters as A
from .cases import KINDS, empty_variants, make_case

NAN, INF = math.nan, math.inf
OVERLAP = ("dice", "iou", "precision", "recall", "specificity", "vs")
COUNTS = ("tp", "fp", "fn", "tn", "vol_pred_ml", "vol_ref_ml")

# segscore's default (DESIGN): Dice/IoU both-empty nan, one-empty 0; precision is
# undefined without a prediction, recall without a reference.
SEGSCORE_EMPTY = {
    "dice": {"ref": 0.0, "pred": 0.0, "both": NAN},
    "iou": {"ref": 0.0, "pred": 0.0, "both": NAN},
    "precision": {"ref": 0.0, "pred": NAN, "both": NAN},
    "recall": {"ref": NAN, "pred": 0.0, "both": NAN},
    "vs": {"ref": 0.0, "pred": 0.0, "both": NAN},
}


def _case(p, r):
    if p.any() and r.any():
        return None
    return "both" if not (p.any() or r.any()) else ("ref" if not r.any() else "pred")


def brute(p, r, spacing=None, empty=SEGSCORE_EMPTY):
    out = A.brute_overlap(p, r, spacing)
    case = _case(p, r)
    if case is not None:
        for m, pol in empty.items():
            out[m] = pol[case]
    return out


def _label_maps(rng, ndim, dtype_p, dtype_r, n_labels=4):
    shape = {1: (int(rng.integers(20, 60)),), 2: tuple(rng.integers(8, 30, 2)), 3: tuple(rng.integers(5, 16, 3))}[ndim]
    pred = rng.integers(0, n_labels + 1, size=shape)
    ref = np.where(rng.random(shape) < 0.7, pred, rng.integers(0, n_labels + 1, size=shape))
    return pred.astype(dtype_p), ref.astype(dtype_r)


DTYPES = [(np.uint8, np.int64), (np.int16, np.uint16), (np.int32, np.int32), (np.uint32, np.int8),
          (np.int64, np.uint64)]


@pytest.mark.parametrize("ndim", [1, 2, 3])
@pytest.mark.parametrize("dtypes", DTYPES, ids=lambda d: f"{np.dtype(d[0]).name}-{np.dtype(d[1]).name}")
def test_label_maps_match_brute_force(ndim, dtypes):
    rng = np.random.default_rng([ndim, DTYPES.index(dtypes)])
    pred, ref = _label_maps(rng, ndim, *dtypes)
    sp = tuple(float(v) for v in rng.choice([0.5, 0.8, 1.0, 2.5], ndim))
    res = ss.evaluate(pred, ref, spacing=sp, metrics=list(OVERLAP + COUNTS)).to_dict()
    present = sorted((set(np.unique(pred)) | set(np.unique(ref))) - {0})
    assert list(res) == [int(v) for v in present]
    conf = ss.confusion(pred, ref, spacing=sp)
    for lab in present:
        want = brute(pred == lab, ref == lab, sp)
        assert_close(res[lab], want, 1e-15, f"label {lab}")
        assert conf[lab] == {k: want[k] for k in COUNTS}
        for m, fn in (("dice", ss.dice), ("iou", ss.iou), ("precision", ss.precision), ("recall", ss.recall),
                      ("specificity", ss.specificity), ("vs", ss.volume_similarity)):
            assert_close(fn(pred, ref, label=lab), want[m], 1e-15, m)


def test_regions_ignore_label_and_absent_labels_match_brute_force():
    rng = np.random.default_rng(5)
    pred, ref = _label_maps(rng, 3, np.uint8, np.int32, n_labels=5)
    ignore = 5
    labels = {"WT": (1, 2, 3), "TC": (1, 3), "ET": 3, 4: 4, "absent": (7, 9)}
    res = ss.evaluate(pred, ref, labels=labels, ignore_label=ignore, metrics=list(OVERLAP + COUNTS)).to_dict()
    assert list(res) == list(labels)
    keep = ref != ignore  # ignore_label removes the voxels where the reference has it
    for key, spec in labels.items():
        members = spec if isinstance(spec, tuple) else (spec,)
        p = np.isin(pred, members)[keep]
        r = np.isin(ref, members)[keep]
        assert_close(res[key], brute(p, r), 1e-15, f"region {key}")
    assert res["absent"]["tp"] == res["absent"]["fp"] == res["absent"]["fn"] == 0
    assert res["absent"]["tn"] == int(keep.sum())


@pytest.mark.parametrize("kind", KINDS)
def test_masks_match_brute_force(kind):
    for ndim in (2, 3):
        pred, ref, sp = make_case(kind, ndim, 11)
        want = brute(pred, ref, sp)
        row = ss.evaluate(pred, ref, spacing=sp, metrics=list(OVERLAP + COUNTS)).to_dict()[1]
        assert_close(row, want, 1e-15, kind)
        for case, p, r in empty_variants(pred, ref):
            row = ss.evaluate(p, r, spacing=sp, metrics=list(OVERLAP + COUNTS)).to_dict()[1]
            assert_close(row, brute(p, r, sp), 0.0, f"{kind}, {case} empty")


# --------------------------------------------------------------------------- empty-mask defaults per convention
# (ref empty, pred empty, both empty), docs/conventions_research.md §4 and DESIGN
EMPTY_TABLE = {
    "segscore": {"dice": (0.0, 0.0, NAN), "iou": (0.0, 0.0, NAN)},
    "deepmind": {"dice": (0.0, 0.0, NAN)},
    "monai": {"dice": (NAN, 0.0, NAN), "iou": (NAN, 0.0, NAN)},          # ignore_empty=True
    "monai-subvoxels": {"dice": (NAN, 0.0, NAN), "iou": (NAN, 0.0, NAN)},
    "medpy": {"dice": (0.0, 0.0, NAN), "iou": (0.0, 0.0, 1.0)},          # dc 0/0 -> nan, jc -> 1
    "metricsreloaded": {"dice": (0.0, 0.0, 1.0), "iou": (0.0, 0.0, NAN)},
    "panoptica": {"dice": (0.0, 0.0, NAN), "iou": (0.0, 0.0, NAN)},     # its evaluator's handler
}


@pytest.mark.parametrize("conv", list(EMPTY_TABLE))
def test_empty_overlap_defaults_per_convention(conv):
    m = np.zeros((6, 7), bool)
    m[1:4, 2:5] = True
    z = np.zeros_like(m)
    for i, (p, r) in enumerate(((m, z), (z, m), (z, z))):
        for metric, values in EMPTY_TABLE[conv].items():
            fn = {"dice": ss.dice, "iou": ss.iou}[metric]
            assert_close(fn(p, r, convention=conv), values[i], 0.0, f"{conv} {metric} {('ref', 'pred', 'both')[i]}")
            row = ss.evaluate(p, r, convention=conv, metrics=[metric]).to_dict()[1]
            assert_close(row[metric], values[i], 0.0, f"evaluate {conv} {metric}")


# --------------------------------------------------------------------------- real libraries
def _pairs():
    for kind in KINDS:
        for ndim in (2, 3):
            pred, ref, _ = make_case(kind, ndim, 12)
            yield f"{kind}-{ndim}d", pred, ref
            if kind == "blob":
                for case, p, r in empty_variants(pred, ref):
                    yield f"{kind}-{ndim}d-{case}-empty", p, r


@pytest.mark.peers
def test_dice_iou_match_monai():
    need_peer("monai")
    for name, p, r in _pairs():
        want = A.monai_overlap(p, r)
        assert_close(ss.dice(p, r, convention="monai"), want["dice"], 1e-6, f"dice {name}")
        assert_close(ss.iou(p, r, convention="monai"), want["iou"], 1e-6, f"iou {name}")
        # ignore_empty=False: 1 when both are empty, else 0 for an empty reference
        pol = {"dice": {"ref": 0, "both": 1}, "iou": {"ref": 0, "both": 1}}
        assert_close(ss.dice(p, r, convention="monai", empty=pol), want["dice_noignore"], 1e-6, f"dice {name}")
        assert_close(ss.iou(p, r, convention="monai", empty=pol), want["iou_noignore"], 1e-6, f"iou {name}")


@pytest.mark.peers
def test_overlap_matches_medpy():
    need_peer("medpy")
    from medpy.metric import binary as mb

    for name, p, r in _pairs():
        want = A.medpy_overlap(p, r)
        assert_close(ss.dice(p, r, convention="medpy"), want["dc"], 1e-15, f"dc {name}")
        assert_close(ss.iou(p, r, convention="medpy"), want["jc"], 1e-15, f"jc {name}")
        if p.any() and r.any():
            assert_close(ss.precision(p, r, convention="medpy"), want["precision"], 1e-15, f"precision {name}")
            assert_close(ss.recall(p, r, convention="medpy"), want["recall"], 1e-15, f"recall {name}")
            assert_close(ss.specificity(p, r, convention="medpy"), float(mb.specificity(p, r)), 1e-15, name)


@pytest.mark.peers
def test_dice_matches_deepmind():
    need_peer("surface_distance")
    for name, p, r in _pairs():
        want = A.deepmind_metrics(p, r, percentiles=(), tolerances=())["dice"]
        assert_close(ss.dice(p, r, convention="deepmind"), want, 1e-15, f"dice {name}")


def test_overlap_on_random_label_maps_hypothesis():
    """Property check on small random label maps (bounded examples)."""
    hypothesis = pytest.importorskip("hypothesis")
    from hypothesis import given, settings
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp

    shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=7)

    @settings(max_examples=60, deadline=None, derandomize=True, database=None)
    @given(st.data())
    def check(data):
        shape = data.draw(shapes)
        pred = data.draw(hnp.arrays(np.uint8, shape, elements=st.integers(0, 3)))
        ref = data.draw(hnp.arrays(np.int32, shape, elements=st.integers(0, 3)))
        res = ss.evaluate(pred, ref, labels=[1, 2, 3, (1, 2)], metrics=list(OVERLAP + COUNTS)).to_dict()
        for key, row in res.items():
            members = key if isinstance(key, tuple) else (key,)
            assert_close(row, brute(np.isin(pred, members), np.isin(ref, members)), 1e-15, f"{key} {shape}")

    check()
    assert hypothesis.__version__
