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
    """Dice similarity coefficient (F1 score) of each region.

    ``Dice = 2 |P & R| / (|P| + |R|) = 2 TP / (2 TP + FP + FN)``, from the counts of the single
    counting pass (no per-label masks are built).

    Parameters
    ----------
    pred, ref : array_like
        Prediction and reference, one shape: both bool masks, or both integer label maps
        (values in [0, 2**31), dtypes may differ).  numpy arrays, torch CPU tensors and
        ``__array__`` objects are read without a copy; CuPy arrays and torch CUDA tensors are
        counted on their device.  A batch or one-hot channel axis is never guessed.
    labels : int, sequence or dict, optional
        Label maps only: the regions to score.  An int, a sequence of ints (a tuple inside
        it is a union region), or ``{name: int | tuple}`` (e.g. ``{"kidneys": (2, 3)}``).
        None: every non-zero label present in either map.  A requested label absent from
        both maps is a both-empty case (see `empty`), never dropped; 0 is refused.
    empty : float, str or dict, optional
        Empty-mask policy overriding the convention's table: one value for every case, or
        ``{metric: value | {"ref" | "pred" | "both": value}}``.  Values: nan, inf, any
        number, ``"worst"`` (0 here) or ``"error"`` (raise :class:`segscore.EmptyMaskError`).
    ignore_label : int, optional
        Label maps only: voxels whose *reference* label equals it are left out of every
        count (pred and ref alike).
    threads : int, optional
        CPU threads (default: ``SEGSCORE_NUM_THREADS`` or the usable cores); results are
        bit-identical for any count.
    label : int or tuple, optional
        Label maps only: score this one label (or union) and return a float.  Exclusive
        with `labels`.
    convention : str, default "segscore"
        Name in :data:`segscore.CONVENTIONS`; for overlap metrics it only selects the
        empty-mask defaults (see Notes).
    device : {None, "cpu", "cuda", "cupy"}, optional
        Force a backend; None: GPU inputs stay on their device, host inputs on the CPU.

    Returns
    -------
    float or dict
        A float for bool masks (or `label`); ``{label: float}`` for label maps (keys as in
        `labels`), even when one label is present.

    Raises
    ------
    ValueError
        Shapes differ, a label is negative, a label region contains 0 or `ignore_label`,
        or `convention` is unknown.
    TypeError
        One input is a bool mask and the other a label map.
    segscore.EmptyMaskError
        Under an ``"error"`` empty policy when a mask is empty.

    Notes
    -----
    Empty masks (ref empty, pred empty, both empty): segscore, deepmind, medpy, panoptica
    0, 0, nan; ``monai`` nan, 0, nan (MONAI's ``DiceMetric(ignore_empty=True)``);
    ``metricsreloaded`` 0, 0, 1.  See docs/conventions.md and :mod:`segscore.metrics.empty`.

    References
    ----------
    .. [1] Dice, L. R. (1945). Measures of the amount of ecologic association between species.
        Ecology 26(3), 297-302.
    .. [2] Taha, A. A. & Hanbury, A. (2015). Metrics for evaluating 3D medical image segmentation:
        analysis, selection, and tool. BMC Medical Imaging 15:29.
    .. [3] Maier-Hein, L., Reinke, A. et al. (2024). Metrics reloaded: recommendations for image
        analysis validation. Nature Methods 21, 195-212.

    Examples
    --------
    >>> import numpy as np
    >>> import segscore as ss
    >>> ref = np.zeros((6, 6), bool); ref[1:5, 1:5] = True
    >>> pred = np.zeros((6, 6), bool); pred[1:5, 2:6] = True
    >>> ss.dice(pred, ref)
    0.75
    >>> empty = np.zeros_like(ref)
    >>> ss.dice(empty, empty), ss.dice(pred, empty)
    (nan, 0.0)
    >>> ss.dice(empty, empty, convention="metricsreloaded"), ss.dice(empty, empty, empty=1.0)
    (1.0, 1.0)

    Label maps give one value per label; tuples are union regions:

    >>> ref_lab = np.array([[0, 1, 1, 2], [0, 1, 1, 2], [0, 0, 2, 2]])
    >>> pred_lab = np.array([[0, 1, 1, 1], [0, 1, 2, 2], [0, 0, 2, 2]])
    >>> ss.dice(pred_lab, ref_lab)
    {1: 0.75, 2: 0.75}
    >>> ss.dice(pred_lab, ref_lab, label=2)
    0.75
    >>> ss.dice(pred_lab, ref_lab, labels={"one": 1, "fg": (1, 2)})
    {'one': 0.75, 'fg': 1.0}
    >>> ss.dice(pred_lab, ref_lab, labels=[1, 3])  # 3 is in neither map: both empty
    {1: 0.75, 3: nan}
    """
    return _apply("dice", pred, ref, labels, empty, ignore_label, threads, label, convention, device)


def iou(pred, ref, labels=None, empty=None, ignore_label=None, threads=None, label=None, convention="segscore",
        device=None):
    """Intersection over union (Jaccard index) of each region.

    ``IoU = |P & R| / |P | R| = TP / (TP + FP + FN)`` (= Dice / (2 - Dice)).

    Parameters
    ----------
    pred, ref : array_like
        Prediction and reference, one shape: both bool masks, or both integer label maps
        (values in [0, 2**31), dtypes may differ).  numpy arrays, torch CPU tensors and
        ``__array__`` objects are read without a copy; CuPy arrays and torch CUDA tensors are
        counted on their device.  A batch or one-hot channel axis is never guessed.
    labels : int, sequence or dict, optional
        Label maps only: the regions to score.  An int, a sequence of ints (a tuple inside
        it is a union region), or ``{name: int | tuple}`` (e.g. ``{"kidneys": (2, 3)}``).
        None: every non-zero label present in either map.  A requested label absent from
        both maps is a both-empty case (see `empty`), never dropped; 0 is refused.
    empty : float, str or dict, optional
        Empty-mask policy overriding the convention's table: one value for every case, or
        ``{metric: value | {"ref" | "pred" | "both": value}}``.  Values: nan, inf, any
        number, ``"worst"`` (0 here) or ``"error"`` (raise :class:`segscore.EmptyMaskError`).
    ignore_label : int, optional
        Label maps only: voxels whose *reference* label equals it are left out of every
        count (pred and ref alike).
    threads : int, optional
        CPU threads (default: ``SEGSCORE_NUM_THREADS`` or the usable cores); results are
        bit-identical for any count.
    label : int or tuple, optional
        Label maps only: score this one label (or union) and return a float.  Exclusive
        with `labels`.
    convention : str, default "segscore"
        Name in :data:`segscore.CONVENTIONS`; for overlap metrics it only selects the
        empty-mask defaults (see Notes).
    device : {None, "cpu", "cuda", "cupy"}, optional
        Force a backend; None: GPU inputs stay on their device, host inputs on the CPU.

    Returns
    -------
    float or dict
        A float for bool masks (or `label`); ``{label: float}`` for label maps (keys as in
        `labels`), even when one label is present.

    Raises
    ------
    ValueError
        Shapes differ, a label is negative, a label region contains 0 or `ignore_label`,
        or `convention` is unknown.
    TypeError
        One input is a bool mask and the other a label map.
    segscore.EmptyMaskError
        Under an ``"error"`` empty policy when a mask is empty.

    Notes
    -----
    Empty masks (ref empty, pred empty, both empty): segscore, deepmind, metricsreloaded,
    panoptica 0, 0, nan; ``monai`` nan, 0, nan; ``medpy`` 0, 0, 1 (MedPy's ``jc``).

    References
    ----------
    .. [1] Jaccard, P. (1912). The distribution of the flora in the alpine zone. New Phytologist
        11(2), 37-50.
    .. [2] Taha, A. A. & Hanbury, A. (2015). Metrics for evaluating 3D medical image segmentation:
        analysis, selection, and tool. BMC Medical Imaging 15:29.

    Examples
    --------
    >>> import numpy as np
    >>> import segscore as ss
    >>> ref = np.zeros((6, 6), bool); ref[1:5, 1:5] = True
    >>> pred = np.zeros((6, 6), bool); pred[1:5, 2:6] = True
    >>> ss.iou(pred, ref)
    0.6
    >>> empty = np.zeros_like(ref)
    >>> ss.iou(empty, empty), ss.iou(empty, empty, convention="medpy")
    (nan, 1.0)
    >>> ref_lab = np.array([[0, 1, 1, 2], [0, 1, 1, 2], [0, 0, 2, 2]])
    >>> pred_lab = np.array([[0, 1, 1, 1], [0, 1, 2, 2], [0, 0, 2, 2]])
    >>> ss.iou(pred_lab, ref_lab)
    {1: 0.6, 2: 0.6}
    """
    return _apply("iou", pred, ref, labels, empty, ignore_label, threads, label, convention, device)


def precision(pred, ref, labels=None, empty=None, ignore_label=None, threads=None, label=None, convention="segscore",
        device=None):
    """Precision (positive predictive value) of each region.

    ``precision = TP / (TP + FP)``: the fraction of the predicted voxels that lie in the
    reference.

    Parameters
    ----------
    pred, ref : array_like
        Prediction and reference, one shape: both bool masks, or both integer label maps
        (values in [0, 2**31), dtypes may differ).  numpy arrays, torch CPU tensors and
        ``__array__`` objects are read without a copy; CuPy arrays and torch CUDA tensors are
        counted on their device.  A batch or one-hot channel axis is never guessed.
    labels : int, sequence or dict, optional
        Label maps only: the regions to score.  An int, a sequence of ints (a tuple inside
        it is a union region), or ``{name: int | tuple}`` (e.g. ``{"kidneys": (2, 3)}``).
        None: every non-zero label present in either map.  A requested label absent from
        both maps is a both-empty case (see `empty`), never dropped; 0 is refused.
    empty : float, str or dict, optional
        Empty-mask policy overriding the convention's table: one value for every case, or
        ``{metric: value | {"ref" | "pred" | "both": value}}``.  Values: nan, inf, any
        number, ``"worst"`` (0 here) or ``"error"`` (raise :class:`segscore.EmptyMaskError`).
    ignore_label : int, optional
        Label maps only: voxels whose *reference* label equals it are left out of every
        count (pred and ref alike).
    threads : int, optional
        CPU threads (default: ``SEGSCORE_NUM_THREADS`` or the usable cores); results are
        bit-identical for any count.
    label : int or tuple, optional
        Label maps only: score this one label (or union) and return a float.  Exclusive
        with `labels`.
    convention : str, default "segscore"
        Name in :data:`segscore.CONVENTIONS`; for overlap metrics it only selects the
        empty-mask defaults (see Notes).
    device : {None, "cpu", "cuda", "cupy"}, optional
        Force a backend; None: GPU inputs stay on their device, host inputs on the CPU.

    Returns
    -------
    float or dict
        A float for bool masks (or `label`); ``{label: float}`` for label maps (keys as in
        `labels`), even when one label is present.

    Raises
    ------
    ValueError
        Shapes differ, a label is negative, a label region contains 0 or `ignore_label`,
        or `convention` is unknown.
    TypeError
        One input is a bool mask and the other a label map.
    segscore.EmptyMaskError
        Under an ``"error"`` empty policy when a mask is empty.

    Notes
    -----
    Empty masks (ref empty, pred empty, both empty): 0, nan, nan under every convention
    (with an empty reference every predicted voxel is a false positive; with an empty
    prediction the ratio is 0 / 0).

    References
    ----------
    .. [1] Taha, A. A. & Hanbury, A. (2015). Metrics for evaluating 3D medical image segmentation:
        analysis, selection, and tool. BMC Medical Imaging 15:29.

    Examples
    --------
    >>> import numpy as np
    >>> import segscore as ss
    >>> ref = np.zeros((6, 6), bool); ref[1:5, 1:5] = True
    >>> pred = np.zeros((6, 6), bool); pred[1:5, 2:6] = True
    >>> ss.precision(pred, ref)
    0.75
    >>> empty = np.zeros_like(ref)
    >>> ss.precision(pred, empty), ss.precision(empty, ref)
    (0.0, nan)
    >>> ref_lab = np.array([[0, 1, 1, 2], [0, 1, 1, 2], [0, 0, 2, 2]])
    >>> pred_lab = np.array([[0, 1, 1, 1], [0, 1, 2, 2], [0, 0, 2, 2]])
    >>> ss.precision(pred_lab, ref_lab, label=1)
    0.75
    """
    return _apply("precision", pred, ref, labels, empty, ignore_label, threads, label, convention, device)


def recall(pred, ref, labels=None, empty=None, ignore_label=None, threads=None, label=None, convention="segscore",
        device=None):
    """Recall (sensitivity, true positive rate) of each region.

    ``recall = TP / (TP + FN)``: the fraction of the reference voxels that are predicted.

    Parameters
    ----------
    pred, ref : array_like
        Prediction and reference, one shape: both bool masks, or both integer label maps
        (values in [0, 2**31), dtypes may differ).  numpy arrays, torch CPU tensors and
        ``__array__`` objects are read without a copy; CuPy arrays and torch CUDA tensors are
        counted on their device.  A batch or one-hot channel axis is never guessed.
    labels : int, sequence or dict, optional
        Label maps only: the regions to score.  An int, a sequence of ints (a tuple inside
        it is a union region), or ``{name: int | tuple}`` (e.g. ``{"kidneys": (2, 3)}``).
        None: every non-zero label present in either map.  A requested label absent from
        both maps is a both-empty case (see `empty`), never dropped; 0 is refused.
    empty : float, str or dict, optional
        Empty-mask policy overriding the convention's table: one value for every case, or
        ``{metric: value | {"ref" | "pred" | "both": value}}``.  Values: nan, inf, any
        number, ``"worst"`` (0 here) or ``"error"`` (raise :class:`segscore.EmptyMaskError`).
    ignore_label : int, optional
        Label maps only: voxels whose *reference* label equals it are left out of every
        count (pred and ref alike).
    threads : int, optional
        CPU threads (default: ``SEGSCORE_NUM_THREADS`` or the usable cores); results are
        bit-identical for any count.
    label : int or tuple, optional
        Label maps only: score this one label (or union) and return a float.  Exclusive
        with `labels`.
    convention : str, default "segscore"
        Name in :data:`segscore.CONVENTIONS`; for overlap metrics it only selects the
        empty-mask defaults (see Notes).
    device : {None, "cpu", "cuda", "cupy"}, optional
        Force a backend; None: GPU inputs stay on their device, host inputs on the CPU.

    Returns
    -------
    float or dict
        A float for bool masks (or `label`); ``{label: float}`` for label maps (keys as in
        `labels`), even when one label is present.

    Raises
    ------
    ValueError
        Shapes differ, a label is negative, a label region contains 0 or `ignore_label`,
        or `convention` is unknown.
    TypeError
        One input is a bool mask and the other a label map.
    segscore.EmptyMaskError
        Under an ``"error"`` empty policy when a mask is empty.

    Notes
    -----
    Empty masks (ref empty, pred empty, both empty): nan, 0, nan under every convention.

    References
    ----------
    .. [1] Taha, A. A. & Hanbury, A. (2015). Metrics for evaluating 3D medical image segmentation:
        analysis, selection, and tool. BMC Medical Imaging 15:29.

    Examples
    --------
    >>> import numpy as np
    >>> import segscore as ss
    >>> ref = np.zeros((6, 6), bool); ref[1:5, 1:5] = True
    >>> pred = np.zeros((6, 6), bool); pred[1:5, 2:6] = True
    >>> ss.recall(pred, ref)
    0.75
    >>> empty = np.zeros_like(ref)
    >>> ss.recall(pred, empty), ss.recall(empty, ref)
    (nan, 0.0)
    >>> ref_lab = np.array([[0, 1, 1, 2], [0, 1, 1, 2], [0, 0, 2, 2]])
    >>> pred_lab = np.array([[0, 1, 1, 1], [0, 1, 2, 2], [0, 0, 2, 2]])
    >>> ss.recall(pred_lab, ref_lab)
    {1: 0.75, 2: 0.75}
    """
    return _apply("recall", pred, ref, labels, empty, ignore_label, threads, label, convention, device)


def specificity(pred, ref, labels=None, empty=None, ignore_label=None, threads=None, label=None, convention="segscore",
        device=None):
    """Specificity (true negative rate) of each region.

    ``specificity = TN / (TN + FP)``, TN counting every voxel (outside `ignore_label`) that
    neither map assigns to the region; it depends on the image size.

    Parameters
    ----------
    pred, ref : array_like
        Prediction and reference, one shape: both bool masks, or both integer label maps
        (values in [0, 2**31), dtypes may differ).  numpy arrays, torch CPU tensors and
        ``__array__`` objects are read without a copy; CuPy arrays and torch CUDA tensors are
        counted on their device.  A batch or one-hot channel axis is never guessed.
    labels : int, sequence or dict, optional
        Label maps only: the regions to score.  An int, a sequence of ints (a tuple inside
        it is a union region), or ``{name: int | tuple}`` (e.g. ``{"kidneys": (2, 3)}``).
        None: every non-zero label present in either map.  A requested label absent from
        both maps is a both-empty case (see `empty`), never dropped; 0 is refused.
    empty : float, str or dict, optional
        Empty-mask policy overriding the convention's table: one value for every case, or
        ``{metric: value | {"ref" | "pred" | "both": value}}``.  Values: nan, inf, any
        number, ``"worst"`` (0 here) or ``"error"`` (raise :class:`segscore.EmptyMaskError`).
    ignore_label : int, optional
        Label maps only: voxels whose *reference* label equals it are left out of every
        count (pred and ref alike).
    threads : int, optional
        CPU threads (default: ``SEGSCORE_NUM_THREADS`` or the usable cores); results are
        bit-identical for any count.
    label : int or tuple, optional
        Label maps only: score this one label (or union) and return a float.  Exclusive
        with `labels`.
    convention : str, default "segscore"
        Name in :data:`segscore.CONVENTIONS`; for overlap metrics it only selects the
        empty-mask defaults (see Notes).
    device : {None, "cpu", "cuda", "cupy"}, optional
        Force a backend; None: GPU inputs stay on their device, host inputs on the CPU.

    Returns
    -------
    float or dict
        A float for bool masks (or `label`); ``{label: float}`` for label maps (keys as in
        `labels`), even when one label is present.

    Raises
    ------
    ValueError
        Shapes differ, a label is negative, a label region contains 0 or `ignore_label`,
        or `convention` is unknown.
    TypeError
        One input is a bool mask and the other a label map.
    segscore.EmptyMaskError
        Under an ``"error"`` empty policy when a mask is empty.

    Notes
    -----
    Empty masks need no policy here: TN + FP is 0 only when every counted voxel is in the
    reference region, which gives nan (`empty` does not apply).

    References
    ----------
    .. [1] Taha, A. A. & Hanbury, A. (2015). Metrics for evaluating 3D medical image segmentation:
        analysis, selection, and tool. BMC Medical Imaging 15:29.

    Examples
    --------
    >>> import numpy as np
    >>> import segscore as ss
    >>> ref = np.zeros((6, 6), bool); ref[1:5, 1:5] = True
    >>> pred = np.zeros((6, 6), bool); pred[1:5, 2:6] = True
    >>> round(ss.specificity(pred, ref), 4)
    0.8
    >>> empty = np.zeros_like(ref)
    >>> ss.specificity(empty, empty)
    1.0
    >>> ref_lab = np.array([[0, 1, 1, 2], [0, 1, 1, 2], [0, 0, 2, 2]])
    >>> pred_lab = np.array([[0, 1, 1, 1], [0, 1, 2, 2], [0, 0, 2, 2]])
    >>> ss.specificity(pred_lab, ref_lab)
    {1: 0.875, 2: 0.875}
    """
    return _apply("specificity", pred, ref, labels, empty, ignore_label, threads, label, convention, device)


def volume_similarity(pred, ref, labels=None, empty=None, ignore_label=None, threads=None, label=None, convention="segscore",
        device=None):
    """Volume similarity of each region.

    ``VS = 1 - |FP - FN| / (2 TP + FP + FN) = 1 - | |P| - |R| | / (|P| + |R|)``: 1 when the
    volumes agree, whatever the overlap; negative values cannot occur.

    Parameters
    ----------
    pred, ref : array_like
        Prediction and reference, one shape: both bool masks, or both integer label maps
        (values in [0, 2**31), dtypes may differ).  numpy arrays, torch CPU tensors and
        ``__array__`` objects are read without a copy; CuPy arrays and torch CUDA tensors are
        counted on their device.  A batch or one-hot channel axis is never guessed.
    labels : int, sequence or dict, optional
        Label maps only: the regions to score.  An int, a sequence of ints (a tuple inside
        it is a union region), or ``{name: int | tuple}`` (e.g. ``{"kidneys": (2, 3)}``).
        None: every non-zero label present in either map.  A requested label absent from
        both maps is a both-empty case (see `empty`), never dropped; 0 is refused.
    empty : float, str or dict, optional
        Empty-mask policy overriding the convention's table: one value for every case, or
        ``{metric: value | {"ref" | "pred" | "both": value}}``.  Values: nan, inf, any
        number, ``"worst"`` (0 here) or ``"error"`` (raise :class:`segscore.EmptyMaskError`).
    ignore_label : int, optional
        Label maps only: voxels whose *reference* label equals it are left out of every
        count (pred and ref alike).
    threads : int, optional
        CPU threads (default: ``SEGSCORE_NUM_THREADS`` or the usable cores); results are
        bit-identical for any count.
    label : int or tuple, optional
        Label maps only: score this one label (or union) and return a float.  Exclusive
        with `labels`.
    convention : str, default "segscore"
        Name in :data:`segscore.CONVENTIONS`; for overlap metrics it only selects the
        empty-mask defaults (see Notes).
    device : {None, "cpu", "cuda", "cupy"}, optional
        Force a backend; None: GPU inputs stay on their device, host inputs on the CPU.

    Returns
    -------
    float or dict
        A float for bool masks (or `label`); ``{label: float}`` for label maps (keys as in
        `labels`), even when one label is present.

    Raises
    ------
    ValueError
        Shapes differ, a label is negative, a label region contains 0 or `ignore_label`,
        or `convention` is unknown.
    TypeError
        One input is a bool mask and the other a label map.
    segscore.EmptyMaskError
        Under an ``"error"`` empty policy when a mask is empty.

    Notes
    -----
    Empty masks (ref empty, pred empty, both empty): 0, 0, nan under every convention.

    References
    ----------
    .. [1] Taha, A. A. & Hanbury, A. (2015). Metrics for evaluating 3D medical image segmentation:
        analysis, selection, and tool. BMC Medical Imaging 15:29.

    Examples
    --------
    >>> import numpy as np
    >>> import segscore as ss
    >>> ref = np.zeros((6, 6), bool); ref[1:5, 1:5] = True
    >>> pred = np.zeros((6, 6), bool); pred[1:5, 2:6] = True
    >>> ss.volume_similarity(pred, ref)  # same volume, shifted
    1.0
    >>> small = np.zeros_like(ref); small[1:3, 1:5] = True
    >>> round(ss.volume_similarity(small, ref), 4)
    0.6667
    """
    return _apply("vs", pred, ref, labels, empty, ignore_label, threads, label, convention, device)


def confusion(pred, ref, labels=None, spacing=None, ignore_label=None, threads=None, label=None,
              device=None):
    """Confusion counts and volumes of each region.

    For each region: ``tp`` (voxels in both), ``fp`` (pred only), ``fn`` (ref only), ``tn``
    (neither; voxels at `ignore_label` excluded), and the volumes ``vol_pred_ml`` = (tp + fp) x
    voxel volume and ``vol_ref_ml`` = (tp + fn) x voxel volume in millilitres (spacing in mm).
    All come from one counting pass over both maps.

    Parameters
    ----------
    pred, ref : array_like
        Prediction and reference, one shape: both bool masks, or both integer label maps
        (values in [0, 2**31), dtypes may differ).  numpy arrays, torch CPU tensors and
        ``__array__`` objects are read without a copy; CuPy arrays and torch CUDA tensors are
        counted on their device.  A batch or one-hot channel axis is never guessed.
    labels : int, sequence or dict, optional
        Label maps only: the regions (see :func:`segscore.dice`); None: every non-zero
        label present in either map.
    spacing : sequence of float, optional
        Voxel size in mm per array axis (None: 1 mm); only the volumes use it.
    ignore_label : int, optional
        Label maps only: voxels whose reference label equals it are not counted.
    threads : int, optional
        CPU threads; results do not depend on it.
    label : int or tuple, optional
        Label maps only: one region, returned without the outer dict.
    device : {None, "cpu", "cuda", "cupy"}, optional
        Force a backend.

    Returns
    -------
    dict
        ``{"tp", "fp", "fn", "tn": int, "vol_pred_ml", "vol_ref_ml": float}`` for bool masks
        (or `label`), else ``{label: that dict}``.  Empty masks need no policy: the counts
        are simply 0.

    Raises
    ------
    ValueError
        Shapes differ, a spacing value is out of range or has the wrong length, or a label
        is invalid.
    TypeError
        One input is a bool mask and the other a label map.

    References
    ----------
    .. [1] Taha, A. A. & Hanbury, A. (2015). Metrics for evaluating 3D medical image segmentation:
        analysis, selection, and tool. BMC Medical Imaging 15:29.

    Examples
    --------
    >>> import numpy as np
    >>> import segscore as ss
    >>> ref = np.zeros((6, 6), bool); ref[1:5, 1:5] = True
    >>> pred = np.zeros((6, 6), bool); pred[1:5, 2:6] = True
    >>> ss.confusion(pred, ref, spacing=(2.0, 2.0))
    {'tp': 12, 'fp': 4, 'fn': 4, 'tn': 16, 'vol_pred_ml': 0.064, 'vol_ref_ml': 0.064}
    >>> ref_lab = np.array([[0, 1, 1, 2], [0, 1, 1, 2], [0, 0, 2, 2]])
    >>> pred_lab = np.array([[0, 1, 1, 1], [0, 1, 2, 2], [0, 0, 2, 2]])
    >>> ss.confusion(pred_lab, ref_lab, label=1)
    {'tp': 3, 'fp': 1, 'fn': 1, 'tn': 7, 'vol_pred_ml': 0.004, 'vol_ref_ml': 0.004}
    >>> ss.confusion(pred_lab, ref_lab, ignore_label=2)[1]["tn"]
    4
    """
    case = Case(pred, ref, spacing, labels, ignore_label, threads, label, device=device)
    out = {}
    for k, (tp, fp, fn, tn) in case.region_counts().items():
        out[k] = {"tp": tp, "fp": fp, "fn": fn, "tn": tn,
                  "vol_pred_ml": (tp + fp) * case.voxel_mm3 / 1000.0,
                  "vol_ref_ml": (tp + fn) * case.voxel_mm3 / 1000.0}
    return next(iter(out.values())) if case.single else out
