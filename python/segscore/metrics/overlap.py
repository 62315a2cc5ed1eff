"""Overlap metrics from the confusion counts of the single counting pass."""

from __future__ import annotations

import math

from . import empty as _empty
from .case import Case

NAN = math.nan

# segscore's default empty-mask behaviour of the overlap metrics
OVERLAP_EMPTY = {
    "dice": {"ref": 0.0, "pred": 0.0, "both": NAN},
    "iou": {"ref": 0.0, "pred": 0.0, "both": NAN},
    "precision": {"ref": 0.0, "pred": NAN, "both": NAN},
    "recall": {"ref": NAN, "pred": 0.0, "both": NAN},
    "vs": {"ref": 0.0, "pred": 0.0, "both": NAN},
}


def _div(a, b):
    return a / b if b else NAN


def overlap_value(metric, tp, fp, fn, tn, user_empty=None, defaults=None):
    """Value of an overlap metric from counts, with the empty-mask policy
    (`defaults`: a convention's empty table; segscore's when None)."""
    if metric in OVERLAP_EMPTY:
        case = _empty.case_of(tp + fp, tp + fn)
        if case is not None:
            table = dict(OVERLAP_EMPTY)
            if defaults:
                table.update({k: v for k, v in defaults.items() if k in OVERLAP_EMPTY})
            return _empty.resolve(metric, case, user_empty or {}, table, 0.0)
    if metric == "dice":
        return _div(2.0 * tp, 2.0 * tp + fp + fn)
    if metric == "iou":
        return _div(float(tp), float(tp + fp + fn))
    if metric == "precision":
        return _div(float(tp), float(tp + fp))
    if metric == "recall":
        return _div(float(tp), float(tp + fn))
    if metric == "specificity":
        return _div(float(tn), float(tn + fp))
    if metric == "vs":
        return 1.0 - _div(float(abs(fp - fn)), float(2 * tp + fp + fn))
    raise ValueError(f"unknown overlap metric {metric!r}")


def _apply(metric, pred, ref, labels, empty, ignore_label, threads, label, convention, device=None):
    from .surface import conventions as _conv

    conv = _conv.get(convention)
    user = _empty.normalize(empty)
    case = Case(pred, ref, None, labels, ignore_label, threads, label, device=device)
    out = {k: overlap_value(metric, *c, user, conv.empty) for k, c in case.region_counts().items()}
    return next(iter(out.values())) if case.single else out


def dice(pred, ref, labels=None, empty=None, ignore_label=None, threads=None, label=None, convention="segscore",
        device=None):
    """Dice coefficient 2|P∩R| / (|P| + |R|).  Bool masks give a float; label
    maps give {label: float} (label=k: a float)."""
    return _apply("dice", pred, ref, labels, empty, ignore_label, threads, label, convention, device)


def iou(pred, ref, labels=None, empty=None, ignore_label=None, threads=None, label=None, convention="segscore",
        device=None):
    """Intersection over union (Jaccard index)."""
    return _apply("iou", pred, ref, labels, empty, ignore_label, threads, label, convention, device)


def precision(pred, ref, labels=None, empty=None, ignore_label=None, threads=None, label=None, convention="segscore",
        device=None):
    """TP / (TP + FP)."""
    return _apply("precision", pred, ref, labels, empty, ignore_label, threads, label, convention, device)


def recall(pred, ref, labels=None, empty=None, ignore_label=None, threads=None, label=None, convention="segscore",
        device=None):
    """TP / (TP + FN) (sensitivity)."""
    return _apply("recall", pred, ref, labels, empty, ignore_label, threads, label, convention, device)


def specificity(pred, ref, labels=None, empty=None, ignore_label=None, threads=None, label=None, convention="segscore",
        device=None):
    """TN / (TN + FP)."""
    return _apply("specificity", pred, ref, labels, empty, ignore_label, threads, label, convention, device)


def volume_similarity(pred, ref, labels=None, empty=None, ignore_label=None, threads=None, label=None, convention="segscore",
        device=None):
    """1 - |FP - FN| / (2 TP + FP + FN)."""
    return _apply("vs", pred, ref, labels, empty, ignore_label, threads, label, convention, device)


def confusion(pred, ref, labels=None, spacing=None, ignore_label=None, threads=None, label=None,
              device=None):
    """Raw counts {tp, fp, fn, tn} and volumes (mL, from spacing in mm)."""
    case = Case(pred, ref, spacing, labels, ignore_label, threads, label, device=device)
    out = {}
    for k, (tp, fp, fn, tn) in case.region_counts().items():
        out[k] = {"tp": tp, "fp": fp, "fn": fn, "tn": tn,
                  "vol_pred_ml": (tp + fp) * case.voxel_mm3 / 1000.0,
                  "vol_ref_ml": (tp + fn) * case.voxel_mm3 / 1000.0}
    return next(iter(out.values())) if case.single else out
