"""Calibration of probability maps: ECE, MCE, ACE, RMSCE, Brier score, NLL and
reliability diagrams, one case at a time or streamed over a whole test set.

    import segscore as ss
    ss.ece(probs, target)                          # probs (C, *spatial) or P(class 1) shaped like target
    ss.ece(probs, target, convention="torchmetrics", norm="l2")
    ss.reliability(probs, target).accuracy         # per-bin counts, mean confidence, accuracy
    acc = ss.Calibration(convention="monai")       # streaming: O(bins) memory
    for p, t in cases: acc.update(p, t)
    acc.compute()                                  # {"ece": ..., "mce": ..., ...}

One pass of C++ (segscore/calibration.h) gathers, for every bin at once, the
voxel count, the number of correct voxels and the sum of confidences; every
binned metric is derived from those sums, so a streamed result equals the one
big call (counts exactly, sums to rounding).

Inputs
------
``probs`` is either shaped like ``target`` and holds P(class 1) (a binary
task), or has one extra axis, ``class_axis`` (default 0, as MONAI and nnU-Net:
``(C, *spatial)``), holding one probability per class.  Logits are accepted
only with ``logits=True`` (sigmoid / softmax); values are never guessed: NaN or
probabilities outside [0, 1] raise ``ValueError``.  Under the segscore
convention a ``(C, *spatial)`` input scored top-label or positive-class must
hold one probability per class: a counted voxel whose classes do not sum to 1
(within 1e-3, 1e-2 for float16) raises (sigmoid channels belong to
``target_mode="class-wise"``); conventions named after a library accept what
that library accepts.  Maps stored quantised (uint8 with a 1/255 slope) round
each class on its own: pass a convention with a wider tolerance,
``dataclasses.replace(get_convention("segscore"), row_sum_tol=0.05)``.  ``target`` holds integer
labels in [0, C) (0/1 or bool for a binary task).  float16, float32 and
float64 are read as they are (no copy, no promotion).  ``mask`` restricts the
voxels (e.g. a region of interest); ``ignore_label`` skips voxels whose label
equals it.

Target modes (``target_mode``)
------------------------------
``"positive-class"``: confidence p_k of ``positive_class`` k (default 1),
correct = (label == k).  ``"top-label"``: confidence max_c p_c, correct =
(argmax == label), the first maximum winning as in numpy/torch.
``"class-wise"``: each class binned on its own (confidence p_c, correct =
(label == c)); the metric is the mean over classes (``reduction="none"``:
``{class: value}``; ``include_background=False`` drops class 0).

Conventions (``convention``)
----------------------------
=================  ======  ===================================================================
convention         bins    what is reproduced
=================  ======  ===================================================================
segscore           15      edges k/n in float64, bins [l, u) with p = 1 in the last bin;
                           binary input: positive class, (C, ...) input: top label;
                           every metric (ECE l1/l2/max, MCE, ACE, Brier, NLL); equal-mass bins
torchmetrics       15      torchmetrics 1.9 binary_/multiclass_calibration_error: edges
                           torch.linspace(0, 1) in the confidences' dtype (float32 for
                           multi-class, whose confidences are cast with .float()), bins
                           [l, u) and p = 1.0 in an extra bin of its own; norms l1/l2/max
monai              20      MONAI 1.6.1 CalibrationErrorMetric: class-wise (one-hot channels)
                           mean over classes, edges float32 linspace(0, 1 + eps32), bins
                           (l, u] with p = 0 in the first, values cast to float32; ECE,
                           ACE ("average"), MCE ("maximum")
metricsreloaded    10      MetricsReloaded CalibrationMeasures: edges np.arange(0, 1.00001,
                           1/n), bins (l, u], p = 0 (and anything above the last edge)
                           dropped; binary (positive class) ECE / MCE, class-wise cwECE for
                           C >= 3 (sum over bins divided by *all* voxels); Brier summed over
                           the classes; NLL without clipping
netcal             10      netcal 1.4 ECE / ACE / MCE: probabilities clipped to [eps, 1 - eps]
                           of their dtype, edges np.linspace(0, 1), bins [l, u) with the last
                           closed; binary and C = 2: positive class, C >= 3: top label;
                           equal-mass bins from np.quantile
curvas             50      the CURVAS 2024 challenge's ECE (torchmetrics
                           MulticlassCalibrationError, 50 bins, top label)
=================  ======  ===================================================================

Reference numerics: torchmetrics, monai and curvas reproduce their library's
CPU arithmetic (running float32 bin sums in element order, float32 counts
stopping at 2**24, the per-bin formulas in float32, or float16 for torchmetrics'
float16 binary input; see
segscore.calibration.reference); ``exact=True`` and the segscore convention
sum in float64 (on a 256^3 map the two differ by ~20 % on a small ECE).
Documented deviations from the peers: netcal bins its per-bin means with float32 edges but its counts
with float64 edges (they can disagree for a float32 value equal to a
rounded-down edge); segscore uses the float64 edges for both.  netcal raises
for a multi-class input whose target holds at most two labels and
MetricsReloaded's ECE has no multi-class top-label form; segscore computes the
defined mode instead.  A metric a convention does not define (ACE for
torchmetrics, Brier for MONAI, ...) raises ``ValueError`` naming those that do.

``closed`` ("left" / "right") and ``ends`` ("clamp" / "drop" / "extra")
override a convention's bin edge rule: where p = 0 and p = 1 land.

Empty input (no voxel counted) gives nan.  ACE and MCE skip empty bins.
See docs/calibration.md.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from .._core.validate import check_threads
from .conventions import TABLE, get_convention
from .binning import _check_ignore, _make_setup, _prepare, _resolve_mode
from .reliability import Reliability, _brier_from, _reliability, _run

__all__ = ["ace", "brier", "ece", "mce", "nll", "reliability"]


# ---------------------------------------------------------------------------
# public one-call API


def reliability(probs, target, n_bins=None, class_axis=0, logits=False, convention="segscore", *,
                binning="uniform", target_mode=None, positive_class=1, mask=None, ignore_label=None,
                closed=None, ends=None, threads=None, device=None, exact=False) -> Reliability:
    """Per-bin counts, mean confidence and accuracy: the data of a reliability diagram.

    One pass gathers, per bin, the voxel count, the number of correct voxels and the sum of
    confidences (a :class:`Reliability`); every binned metric (:func:`ece`, :func:`mce`,
    :func:`ace`) derives from them, and :func:`segscore.plot_reliability` draws them.

    Parameters
    ----------
    probs : array_like
        Probabilities in [0, 1]: shaped like `target` (a binary task, P(class 1)), or with one
        extra class axis at `class_axis` (``(C, *spatial)`` by default, C >= 2).  float16,
        float32 and float64 are read in place (numpy, torch CPU, ``__array__``; CuPy and torch
        CUDA on their device); other dtypes raise.  NaN or a value outside [0, 1] raises
        (pass logits with ``logits=True``).  Under the segscore convention a (C, ...) input
        scored top-label / positive-class must have class sums of 1 (within 1e-3, 1e-2 for
        float16).
    target : array_like
        Integer labels in [0, C) (0 / 1 or bool for a binary task), the spatial shape.
    n_bins : int, optional
        Number of bins; None: the convention's default (segscore 15, torchmetrics 15,
        monai 20, metricsreloaded 10, netcal 10, curvas 50).
    class_axis : int, default 0
        The class axis of a multi-class `probs` (``-1`` for channels-last).  No batch axis is
        ever guessed.
    logits : bool, default False
        `probs` holds logits: sigmoid (binary) or softmax over `class_axis` is applied
        (computed stably, in the single pass); they must be finite.
    convention : str or CalibrationConvention, default "segscore"
        ``"segscore"``, ``"torchmetrics"``, ``"monai"``, ``"metricsreloaded"``, ``"netcal"`` or
        ``"curvas"``: bins, edges, edge rule, default target mode and accumulation of that
        library (see Notes).  A metric the convention does not define raises ``ValueError``.
    binning : {"uniform", "equal-mass"}, default "uniform"
        Equal-width bins, or equal-mass bins from ``np.quantile`` of the confidences (first
        and last edge 0 and 1, as netcal); equal-mass: segscore and netcal only.
    target_mode : {None, "positive-class", "top-label", "class-wise"}, optional
        What is binned: the probability of `positive_class` (correct = label is it), the top
        class probability (correct = argmax is the label, the first maximum winning), or each
        class on its own (correct = label is the class; the result is the mean over
        classes).  None: the convention's default for the input (see Notes).
    positive_class : int, default 1
        The class of ``target_mode="positive-class"``.
    mask : array_like, optional
        Region of interest, the spatial shape; nonzero voxels are counted.
    ignore_label : int, optional
        Voxels whose label equals it are skipped (and not checked).
    closed : {None, "left", "right"}, optional
        Override the convention's bins: ``"left"`` [l, u) or ``"right"`` (l, u].
    ends : {None, "clamp", "drop", "extra"}, optional
        Override where values on the outer side of the end edges land (p = 1 under [l, u),
        p = 0 under (l, u]): clamped into the end bin, dropped, or (``"extra"``) a bin of
        their own, as torchmetrics does with p = 1.0.
    threads : int, optional
        CPU threads; results are bit-identical for any count.
    device : {None, "cpu", "cuda", "cupy"}, optional
        Force a backend; GPU inputs are binned on their device (same numbers as the CPU): one
        pass, and a copy back of the histogram only.  A reference arithmetic (below) has only
        a CPU order to reproduce, a serial replay: GPU inputs are then copied to the host once
        and binned there, with no device pass (``exact=True`` stays on the device).
    exact : bool, default False
        Sum in float64 whatever the convention.  By default a convention named after a
        library that sums in float32 (torchmetrics, monai, curvas) reproduces that library's
        CPU arithmetic: running float32 bin sums in element order, counts stopping at 2**24,
        the per-bin formulas in float32 (float16 bins and formulas, and torch's float16
        sigmoid, for torchmetrics' float16 binary input; see docs/calibration.md, "Reference
        numerics").

    Returns
    -------
    Reliability
        ``count``, ``correct``, ``sum_confidence`` per bin (``(n_classes, n_bins)``
        class-wise), ``edges``, ``confidence`` and ``accuracy`` (nan in empty bins).

    Raises
    ------
    ValueError
        The convention does not define the metric (or the option: norm, binning), `probs`
        holds NaN or values outside [0, 1] (without `logits`), labels are outside [0, C),
        shapes do not match, or a (C, ...) input's classes do not sum to 1 (segscore).
    TypeError
        `probs` is not float16/32/64, or `target` is not integer / bool.

    Notes
    -----
    Rules per convention (default bins; edges; bin rule; default target mode):

    * ``segscore`` (15): edges k/n in float64, bins [l, u), p = 1 in the last bin; binary
      input: positive class, (C, ...) input: top label.  Every metric, float64 sums.
    * ``torchmetrics`` (15): torchmetrics 1.9 -- edges ``torch.linspace(0, 1)`` in the
      confidences' dtype (multi-class confidences cast to float32), bins [l, u), p = 1.0 in
      an extra bin of its own; binary: positive class, (C, ...): top label; norms l1 / l2 / max.
    * ``monai`` (20): MONAI 1.6.1 -- float32 edges ``linspace(0, 1 + eps32)``, bins (l, u]
      with p = 0 in the first, values cast to float32; class-wise mean over classes (binary:
      the single channel); ECE, ACE, MCE.
    * ``metricsreloaded`` (10): edges ``np.arange(0, 1.00001, 1/n)``, bins (l, u], p = 0
      (and anything above the last edge) dropped; binary and C = 2: positive class, C >= 3:
      class-wise cwECE divided by *all* voxels; MCE binary only.
    * ``netcal`` (10): netcal 1.4 -- probabilities clipped to [eps, 1 - eps] of their dtype,
      edges ``np.linspace(0, 1)``, bins [l, u) with the last closed; binary and C = 2:
      positive class, C >= 3: top label; equal-mass bins available.
    * ``curvas`` (50): the CURVAS 2024 challenge's ECE (torchmetrics
      ``MulticlassCalibrationError(n_bins=50)``): torchmetrics' float32 edges, top label.

    An explicit `target_mode` overrides the default and keeps the convention's edges.

    References
    ----------
    .. [1] Guo, C., Pleiss, G., Sun, Y. & Weinberger, K. Q. (2017). On calibration of modern neural
        networks. ICML 2017, 1321-1330.
    .. [2] Naeini, M. P., Cooper, G. F. & Hauskrecht, M. (2015). Obtaining well calibrated
        probabilities using Bayesian binning. AAAI 2015, 2901-2907.
    .. [3] Peers mirrored by name: torchmetrics 1.9 (``binary_/multiclass_calibration_error``),
        MONAI 1.6.1 (``CalibrationErrorMetric``), MetricsReloaded (``CalibrationMeasures``), netcal
        1.4 (Kueppers et al. 2020), the CURVAS 2024 evaluation; see docs/calibration.md.

    Examples
    --------
    >>> import numpy as np
    >>> import segscore as ss
    >>> p = np.array([0.1, 0.3, 0.6, 0.8, 0.9, 0.95, 0.2, 0.7])  # P(class 1)
    >>> y = np.array([0, 0, 1, 1, 1, 0, 0, 1])
    >>> r = ss.reliability(p, y, n_bins=5)
    >>> r.edges
    array([0. , 0.2, 0.4, 0.6, 0.8, 1. ])
    >>> r.count, r.correct
    (array([1, 2, 0, 2, 3]), array([0, 0, 0, 2, 2]))
    >>> r.accuracy
    array([0.        , 0.        ,        nan, 1.        , 0.66666667])
    >>> round(r.ece(), 3), round(r.mce(), 3)
    (0.244, 0.35)
    >>> ss.reliability(p, y, n_bins=5, convention="torchmetrics").count  # p = 1.0 bin last
    array([1, 2, 0, 2, 3, 0])
    """
    conv = get_convention(convention)
    TABLE.require(conv, "reliability", "a reliability diagram")
    return _run(probs, target, n_bins=n_bins, class_axis=class_axis, logits=logits, convention=conv,
                binning=binning, target_mode=target_mode, positive_class=positive_class, mask=mask,
                ignore_label=ignore_label, threads=threads, closed=closed, ends=ends, device=device,
               exact=exact)


def ece(probs, target, n_bins=None, class_axis=0, logits=False, convention="segscore", *, norm="l1",
        binning="uniform", target_mode=None, positive_class=1, mask=None, ignore_label=None,
        include_background=True, reduction="mean", closed=None, ends=None, threads=None, device=None, exact=False):
    """Expected calibration error of a probability map against its labels.

    With per-bin voxel count n_b, correct count a_b and confidence sum s_b (N = sum n_b):
    ``ECE = sum_b |a_b - s_b| / N``, the bin-size-weighted mean gap between accuracy and
    mean confidence.  ``norm="l2"`` gives the RMS calibration error
    ``sqrt(sum_b (a_b - s_b)^2 / n_b / N)`` and ``norm="max"`` the maximum calibration error
    (as torchmetrics' ``norm``; see :func:`mce`).  One C++ pass over the voxels gathers every
    bin at once.

    Parameters
    ----------
    probs : array_like
        Probabilities in [0, 1]: shaped like `target` (a binary task, P(class 1)), or with one
        extra class axis at `class_axis` (``(C, *spatial)`` by default, C >= 2).  float16,
        float32 and float64 are read in place (numpy, torch CPU, ``__array__``; CuPy and torch
        CUDA on their device); other dtypes raise.  NaN or a value outside [0, 1] raises
        (pass logits with ``logits=True``).  Under the segscore convention a (C, ...) input
        scored top-label / positive-class must have class sums of 1 (within 1e-3, 1e-2 for
        float16).
    target : array_like
        Integer labels in [0, C) (0 / 1 or bool for a binary task), the spatial shape.
    n_bins : int, optional
        Number of bins; None: the convention's default (segscore 15, torchmetrics 15,
        monai 20, metricsreloaded 10, netcal 10, curvas 50).
    class_axis : int, default 0
        The class axis of a multi-class `probs` (``-1`` for channels-last).  No batch axis is
        ever guessed.
    logits : bool, default False
        `probs` holds logits: sigmoid (binary) or softmax over `class_axis` is applied
        (computed stably, in the single pass); they must be finite.
    convention : str or CalibrationConvention, default "segscore"
        ``"segscore"``, ``"torchmetrics"``, ``"monai"``, ``"metricsreloaded"``, ``"netcal"`` or
        ``"curvas"``: bins, edges, edge rule, default target mode and accumulation of that
        library (see Notes).  A metric the convention does not define raises ``ValueError``.
    norm : {"l1", "l2", "max"}, default "l1"
        l2: segscore and torchmetrics; max: every convention defining MCE.
    binning : {"uniform", "equal-mass"}, default "uniform"
        Equal-width bins, or equal-mass bins from ``np.quantile`` of the confidences (first
        and last edge 0 and 1, as netcal); equal-mass: segscore and netcal only.
    target_mode : {None, "positive-class", "top-label", "class-wise"}, optional
        What is binned: the probability of `positive_class` (correct = label is it), the top
        class probability (correct = argmax is the label, the first maximum winning), or each
        class on its own (correct = label is the class; the result is the mean over
        classes).  None: the convention's default for the input (see Notes).
    positive_class : int, default 1
        The class of ``target_mode="positive-class"``.
    mask : array_like, optional
        Region of interest, the spatial shape; nonzero voxels are counted.
    ignore_label : int, optional
        Voxels whose label equals it are skipped (and not checked).
    include_background : bool, default True
        Class-wise mode only: False drops class 0 from the mean (or from the dict).
    reduction : {"mean", "none"}, default "mean"
        Class-wise mode only: the mean over classes with voxels (classes without any are
        skipped, as MONAI), or ``{class: value}``.
    closed : {None, "left", "right"}, optional
        Override the convention's bins: ``"left"`` [l, u) or ``"right"`` (l, u].
    ends : {None, "clamp", "drop", "extra"}, optional
        Override where values on the outer side of the end edges land (p = 1 under [l, u),
        p = 0 under (l, u]): clamped into the end bin, dropped, or (``"extra"``) a bin of
        their own, as torchmetrics does with p = 1.0.
    threads : int, optional
        CPU threads; results are bit-identical for any count.
    device : {None, "cpu", "cuda", "cupy"}, optional
        Force a backend; GPU inputs are binned on their device (same numbers as the CPU): one
        pass, and a copy back of the histogram only.  A reference arithmetic (below) has only
        a CPU order to reproduce, a serial replay: GPU inputs are then copied to the host once
        and binned there, with no device pass (``exact=True`` stays on the device).
    exact : bool, default False
        Sum in float64 whatever the convention.  By default a convention named after a
        library that sums in float32 (torchmetrics, monai, curvas) reproduces that library's
        CPU arithmetic: running float32 bin sums in element order, counts stopping at 2**24,
        the per-bin formulas in float32 (float16 bins and formulas, and torch's float16
        sigmoid, for torchmetrics' float16 binary input; see docs/calibration.md, "Reference
        numerics").

    Returns
    -------
    float or dict
        The value; nan when no voxel is counted.  Class-wise with ``reduction="none"``:
        ``{class: float}``.

    Raises
    ------
    ValueError
        The convention does not define the metric (or the option: norm, binning), `probs`
        holds NaN or values outside [0, 1] (without `logits`), labels are outside [0, C),
        shapes do not match, or a (C, ...) input's classes do not sum to 1 (segscore).
    TypeError
        `probs` is not float16/32/64, or `target` is not integer / bool.

    See Also
    --------
    Calibration : the same numbers streamed over a test set.
    reliability : the per-bin statistics behind the value.

    Notes
    -----
    Rules per convention (default bins; edges; bin rule; default target mode):

    * ``segscore`` (15): edges k/n in float64, bins [l, u), p = 1 in the last bin; binary
      input: positive class, (C, ...) input: top label.  Every metric, float64 sums.
    * ``torchmetrics`` (15): torchmetrics 1.9 -- edges ``torch.linspace(0, 1)`` in the
      confidences' dtype (multi-class confidences cast to float32), bins [l, u), p = 1.0 in
      an extra bin of its own; binary: positive class, (C, ...): top label; norms l1 / l2 / max.
    * ``monai`` (20): MONAI 1.6.1 -- float32 edges ``linspace(0, 1 + eps32)``, bins (l, u]
      with p = 0 in the first, values cast to float32; class-wise mean over classes (binary:
      the single channel); ECE, ACE, MCE.
    * ``metricsreloaded`` (10): edges ``np.arange(0, 1.00001, 1/n)``, bins (l, u], p = 0
      (and anything above the last edge) dropped; binary and C = 2: positive class, C >= 3:
      class-wise cwECE divided by *all* voxels; MCE binary only.
    * ``netcal`` (10): netcal 1.4 -- probabilities clipped to [eps, 1 - eps] of their dtype,
      edges ``np.linspace(0, 1)``, bins [l, u) with the last closed; binary and C = 2:
      positive class, C >= 3: top label; equal-mass bins available.
    * ``curvas`` (50): the CURVAS 2024 challenge's ECE (torchmetrics
      ``MulticlassCalibrationError(n_bins=50)``): torchmetrics' float32 edges, top label.

    An explicit `target_mode` overrides the default and keeps the convention's edges.

    Deviations from the peers are documented in the module docstring and
    docs/calibration.md (torchmetrics, monai and curvas do their library's float32
    arithmetic unless ``exact=True``).

    References
    ----------
    .. [1] Naeini, M. P., Cooper, G. F. & Hauskrecht, M. (2015). Obtaining well calibrated
        probabilities using Bayesian binning. AAAI 2015, 2901-2907.
    .. [2] Guo, C., Pleiss, G., Sun, Y. & Weinberger, K. Q. (2017). On calibration of modern neural
        networks. ICML 2017, 1321-1330.
    .. [3] Nixon, J., Dusenberry, M. W., Zhang, L., Jerfel, G. & Tran, D. (2019). Measuring
        calibration in deep learning. CVPR Workshops 2019 (adaptive / equal-mass bins, class-wise
        errors).
    .. [4] Peers mirrored by name: torchmetrics 1.9 (``binary_/multiclass_calibration_error``),
        MONAI 1.6.1 (``CalibrationErrorMetric``), MetricsReloaded (``CalibrationMeasures``), netcal
        1.4 (Kueppers et al. 2020), the CURVAS 2024 evaluation; see docs/calibration.md.

    Examples
    --------
    >>> import numpy as np
    >>> import segscore as ss
    >>> p = np.array([0.1, 0.3, 0.6, 0.8, 0.9, 0.95, 0.2, 0.7])  # P(class 1)
    >>> y = np.array([0, 0, 1, 1, 1, 0, 0, 1])
    >>> round(ss.ece(p, y), 3)
    0.319
    >>> round(ss.ece(p, y, n_bins=5), 3), round(ss.ece(p, y, n_bins=5, norm="l2"), 3)
    (0.244, 0.255)
    >>> round(ss.ece(p, y, convention="netcal"), 3)
    0.294

    Multi-class maps ``(C, *spatial)``: top label by default, class-wise on request.

    >>> probs = np.array([[0.7, 0.2, 0.1, 0.6, 0.3, 0.1],   # (C, *spatial)
    ...                   [0.2, 0.7, 0.3, 0.3, 0.3, 0.2],
    ...                   [0.1, 0.1, 0.6, 0.1, 0.4, 0.7]])
    >>> labels = np.array([0, 1, 2, 1, 2, 2])
    >>> round(ss.ece(probs, labels), 4), round(ss.ece(probs, labels, convention="monai"), 4)
    (0.2833, 0.2222)
    >>> res = ss.ece(probs, labels, target_mode="class-wise", reduction="none")
    >>> {c: round(v, 4) for c, v in res.items()}
    {0: 0.2667, 1: 0.1333, 2: 0.2667}
    >>> round(ss.ece(np.log(probs), labels, logits=True), 4)
    0.2833
    """
    conv = get_convention(convention)
    TABLE.require(conv, "ece" if norm != "max" else "mce", "ECE" if norm != "max" else "MCE (norm='max')")
    if conv.name == "metricsreloaded" and norm == "max":
        _check_mr_mce(conv, probs, target, class_axis, target_mode)
    rel = _run(probs, target, n_bins=n_bins, class_axis=class_axis, logits=logits, convention=conv,
               binning=binning, target_mode=target_mode, positive_class=positive_class, mask=mask,
               ignore_label=ignore_label, threads=threads, closed=closed, ends=ends, device=device,
               exact=exact)
    return rel.ece(norm, reduction, include_background)


def _check_mr_mce(conv, probs, target, class_axis, target_mode) -> None:
    inp = _prepare(probs, target, None, class_axis, False) if target_mode is None else None
    mode = target_mode if target_mode is not None else _resolve_mode(conv, inp, None)
    if mode != "positive-class":
        raise ValueError("MetricsReloaded defines MCE for binary tasks (the positive class) only; pass a binary "
                         "input, two classes, or target_mode='positive-class'")


def mce(probs, target, n_bins=None, class_axis=0, logits=False, convention="segscore", *, binning="uniform",
        target_mode=None, positive_class=1, mask=None, ignore_label=None, include_background=True,
        reduction="mean", closed=None, ends=None, threads=None, device=None, exact=False):
    """Maximum calibration error: the largest accuracy / confidence gap over the non-empty bins.

    With per-bin voxel count n_b, correct count a_b and confidence sum s_b (N = sum n_b):
    ``MCE = max over n_b > 0 of |a_b - s_b| / n_b`` (``ece(..., norm="max")``).

    Parameters
    ----------
    probs : array_like
        Probabilities in [0, 1]: shaped like `target` (a binary task, P(class 1)), or with one
        extra class axis at `class_axis` (``(C, *spatial)`` by default, C >= 2).  float16,
        float32 and float64 are read in place (numpy, torch CPU, ``__array__``; CuPy and torch
        CUDA on their device); other dtypes raise.  NaN or a value outside [0, 1] raises
        (pass logits with ``logits=True``).  Under the segscore convention a (C, ...) input
        scored top-label / positive-class must have class sums of 1 (within 1e-3, 1e-2 for
        float16).
    target : array_like
        Integer labels in [0, C) (0 / 1 or bool for a binary task), the spatial shape.
    n_bins : int, optional
        Number of bins; None: the convention's default (segscore 15, torchmetrics 15,
        monai 20, metricsreloaded 10, netcal 10, curvas 50).
    class_axis : int, default 0
        The class axis of a multi-class `probs` (``-1`` for channels-last).  No batch axis is
        ever guessed.
    logits : bool, default False
        `probs` holds logits: sigmoid (binary) or softmax over `class_axis` is applied
        (computed stably, in the single pass); they must be finite.
    convention : str or CalibrationConvention, default "segscore"
        ``"segscore"``, ``"torchmetrics"``, ``"monai"``, ``"metricsreloaded"``, ``"netcal"`` or
        ``"curvas"``: bins, edges, edge rule, default target mode and accumulation of that
        library (see Notes).  A metric the convention does not define raises ``ValueError``.
    binning : {"uniform", "equal-mass"}, default "uniform"
        Equal-width bins, or equal-mass bins from ``np.quantile`` of the confidences (first
        and last edge 0 and 1, as netcal); equal-mass: segscore and netcal only.
    target_mode : {None, "positive-class", "top-label", "class-wise"}, optional
        What is binned: the probability of `positive_class` (correct = label is it), the top
        class probability (correct = argmax is the label, the first maximum winning), or each
        class on its own (correct = label is the class; the result is the mean over
        classes).  None: the convention's default for the input (see Notes).
    positive_class : int, default 1
        The class of ``target_mode="positive-class"``.
    mask : array_like, optional
        Region of interest, the spatial shape; nonzero voxels are counted.
    ignore_label : int, optional
        Voxels whose label equals it are skipped (and not checked).
    include_background : bool, default True
        Class-wise mode only: False drops class 0 from the mean (or from the dict).
    reduction : {"mean", "none"}, default "mean"
        Class-wise mode only: the mean over classes with voxels (classes without any are
        skipped, as MONAI), or ``{class: value}``.
    closed : {None, "left", "right"}, optional
        Override the convention's bins: ``"left"`` [l, u) or ``"right"`` (l, u].
    ends : {None, "clamp", "drop", "extra"}, optional
        Override where values on the outer side of the end edges land (p = 1 under [l, u),
        p = 0 under (l, u]): clamped into the end bin, dropped, or (``"extra"``) a bin of
        their own, as torchmetrics does with p = 1.0.
    threads : int, optional
        CPU threads; results are bit-identical for any count.
    device : {None, "cpu", "cuda", "cupy"}, optional
        Force a backend; GPU inputs are binned on their device (same numbers as the CPU): one
        pass, and a copy back of the histogram only.  A reference arithmetic (below) has only
        a CPU order to reproduce, a serial replay: GPU inputs are then copied to the host once
        and binned there, with no device pass (``exact=True`` stays on the device).
    exact : bool, default False
        Sum in float64 whatever the convention.  By default a convention named after a
        library that sums in float32 (torchmetrics, monai, curvas) reproduces that library's
        CPU arithmetic: running float32 bin sums in element order, counts stopping at 2**24,
        the per-bin formulas in float32 (float16 bins and formulas, and torch's float16
        sigmoid, for torchmetrics' float16 binary input; see docs/calibration.md, "Reference
        numerics").

    Returns
    -------
    float or dict
        The value; nan when no voxel is counted.  Class-wise with ``reduction="none"``:
        ``{class: float}``.

    Raises
    ------
    ValueError
        The convention does not define the metric (or the option: norm, binning), `probs`
        holds NaN or values outside [0, 1] (without `logits`), labels are outside [0, C),
        shapes do not match, or a (C, ...) input's classes do not sum to 1 (segscore).
    TypeError
        `probs` is not float16/32/64, or `target` is not integer / bool.

    Notes
    -----
    Defined by segscore, torchmetrics, monai, netcal and metricsreloaded (binary tasks only:
    a binary input, C = 2 or ``target_mode="positive-class"``); not by curvas.

    Rules per convention (default bins; edges; bin rule; default target mode):

    * ``segscore`` (15): edges k/n in float64, bins [l, u), p = 1 in the last bin; binary
      input: positive class, (C, ...) input: top label.  Every metric, float64 sums.
    * ``torchmetrics`` (15): torchmetrics 1.9 -- edges ``torch.linspace(0, 1)`` in the
      confidences' dtype (multi-class confidences cast to float32), bins [l, u), p = 1.0 in
      an extra bin of its own; binary: positive class, (C, ...): top label; norms l1 / l2 / max.
    * ``monai`` (20): MONAI 1.6.1 -- float32 edges ``linspace(0, 1 + eps32)``, bins (l, u]
      with p = 0 in the first, values cast to float32; class-wise mean over classes (binary:
      the single channel); ECE, ACE, MCE.
    * ``metricsreloaded`` (10): edges ``np.arange(0, 1.00001, 1/n)``, bins (l, u], p = 0
      (and anything above the last edge) dropped; binary and C = 2: positive class, C >= 3:
      class-wise cwECE divided by *all* voxels; MCE binary only.
    * ``netcal`` (10): netcal 1.4 -- probabilities clipped to [eps, 1 - eps] of their dtype,
      edges ``np.linspace(0, 1)``, bins [l, u) with the last closed; binary and C = 2:
      positive class, C >= 3: top label; equal-mass bins available.
    * ``curvas`` (50): the CURVAS 2024 challenge's ECE (torchmetrics
      ``MulticlassCalibrationError(n_bins=50)``): torchmetrics' float32 edges, top label.

    An explicit `target_mode` overrides the default and keeps the convention's edges.

    References
    ----------
    .. [1] Naeini, M. P., Cooper, G. F. & Hauskrecht, M. (2015). Obtaining well calibrated
        probabilities using Bayesian binning. AAAI 2015, 2901-2907.
    .. [2] Guo, C., Pleiss, G., Sun, Y. & Weinberger, K. Q. (2017). On calibration of modern neural
        networks. ICML 2017, 1321-1330.
    .. [3] Peers mirrored by name: torchmetrics 1.9 (``binary_/multiclass_calibration_error``),
        MONAI 1.6.1 (``CalibrationErrorMetric``), MetricsReloaded (``CalibrationMeasures``), netcal
        1.4 (Kueppers et al. 2020), the CURVAS 2024 evaluation; see docs/calibration.md.

    Examples
    --------
    >>> import numpy as np
    >>> import segscore as ss
    >>> p = np.array([0.1, 0.3, 0.6, 0.8, 0.9, 0.95, 0.2, 0.7])  # P(class 1)
    >>> y = np.array([0, 0, 1, 1, 1, 0, 0, 1])
    >>> ss.mce(p, y)
    0.95
    >>> round(ss.mce(p, y, n_bins=5), 4)
    0.35
    >>> round(ss.mce(p, y, convention="netcal"), 4)
    0.425
    """
    conv = get_convention(convention)
    TABLE.require(conv, "mce", "MCE")
    if conv.name == "metricsreloaded":
        _check_mr_mce(conv, probs, target, class_axis, target_mode)
    rel = _run(probs, target, n_bins=n_bins, class_axis=class_axis, logits=logits, convention=conv,
               binning=binning, target_mode=target_mode, positive_class=positive_class, mask=mask,
               ignore_label=ignore_label, threads=threads, closed=closed, ends=ends, device=device,
               exact=exact)
    return rel.mce(reduction, include_background)


def ace(probs, target, n_bins=None, class_axis=0, logits=False, convention="segscore", *, binning="uniform",
        target_mode=None, positive_class=1, mask=None, ignore_label=None, include_background=True,
        reduction="mean", closed=None, ends=None, threads=None, device=None, exact=False):
    """Average calibration error: the unweighted mean gap over the non-empty bins.

    With per-bin voxel count n_b, correct count a_b and confidence sum s_b (N = sum n_b):
    ``ACE = mean over n_b > 0 of |a_b - s_b| / n_b``: every non-empty bin counts the
    same, whatever its size.  With ``binning="equal-mass"`` this is the adaptive calibration
    error of Nixon et al. (2019).

    Parameters
    ----------
    probs : array_like
        Probabilities in [0, 1]: shaped like `target` (a binary task, P(class 1)), or with one
        extra class axis at `class_axis` (``(C, *spatial)`` by default, C >= 2).  float16,
        float32 and float64 are read in place (numpy, torch CPU, ``__array__``; CuPy and torch
        CUDA on their device); other dtypes raise.  NaN or a value outside [0, 1] raises
        (pass logits with ``logits=True``).  Under the segscore convention a (C, ...) input
        scored top-label / positive-class must have class sums of 1 (within 1e-3, 1e-2 for
        float16).
    target : array_like
        Integer labels in [0, C) (0 / 1 or bool for a binary task), the spatial shape.
    n_bins : int, optional
        Number of bins; None: the convention's default (segscore 15, torchmetrics 15,
        monai 20, metricsreloaded 10, netcal 10, curvas 50).
    class_axis : int, default 0
        The class axis of a multi-class `probs` (``-1`` for channels-last).  No batch axis is
        ever guessed.
    logits : bool, default False
        `probs` holds logits: sigmoid (binary) or softmax over `class_axis` is applied
        (computed stably, in the single pass); they must be finite.
    convention : str or CalibrationConvention, default "segscore"
        ``"segscore"``, ``"torchmetrics"``, ``"monai"``, ``"metricsreloaded"``, ``"netcal"`` or
        ``"curvas"``: bins, edges, edge rule, default target mode and accumulation of that
        library (see Notes).  A metric the convention does not define raises ``ValueError``.
    binning : {"uniform", "equal-mass"}, default "uniform"
        Equal-width bins, or equal-mass bins from ``np.quantile`` of the confidences (first
        and last edge 0 and 1, as netcal); equal-mass: segscore and netcal only.
    target_mode : {None, "positive-class", "top-label", "class-wise"}, optional
        What is binned: the probability of `positive_class` (correct = label is it), the top
        class probability (correct = argmax is the label, the first maximum winning), or each
        class on its own (correct = label is the class; the result is the mean over
        classes).  None: the convention's default for the input (see Notes).
    positive_class : int, default 1
        The class of ``target_mode="positive-class"``.
    mask : array_like, optional
        Region of interest, the spatial shape; nonzero voxels are counted.
    ignore_label : int, optional
        Voxels whose label equals it are skipped (and not checked).
    include_background : bool, default True
        Class-wise mode only: False drops class 0 from the mean (or from the dict).
    reduction : {"mean", "none"}, default "mean"
        Class-wise mode only: the mean over classes with voxels (classes without any are
        skipped, as MONAI), or ``{class: value}``.
    closed : {None, "left", "right"}, optional
        Override the convention's bins: ``"left"`` [l, u) or ``"right"`` (l, u].
    ends : {None, "clamp", "drop", "extra"}, optional
        Override where values on the outer side of the end edges land (p = 1 under [l, u),
        p = 0 under (l, u]): clamped into the end bin, dropped, or (``"extra"``) a bin of
        their own, as torchmetrics does with p = 1.0.
    threads : int, optional
        CPU threads; results are bit-identical for any count.
    device : {None, "cpu", "cuda", "cupy"}, optional
        Force a backend; GPU inputs are binned on their device (same numbers as the CPU): one
        pass, and a copy back of the histogram only.  A reference arithmetic (below) has only
        a CPU order to reproduce, a serial replay: GPU inputs are then copied to the host once
        and binned there, with no device pass (``exact=True`` stays on the device).
    exact : bool, default False
        Sum in float64 whatever the convention.  By default a convention named after a
        library that sums in float32 (torchmetrics, monai, curvas) reproduces that library's
        CPU arithmetic: running float32 bin sums in element order, counts stopping at 2**24,
        the per-bin formulas in float32 (float16 bins and formulas, and torch's float16
        sigmoid, for torchmetrics' float16 binary input; see docs/calibration.md, "Reference
        numerics").

    Returns
    -------
    float or dict
        The value; nan when no voxel is counted.  Class-wise with ``reduction="none"``:
        ``{class: float}``.

    Raises
    ------
    ValueError
        The convention does not define the metric (or the option: norm, binning), `probs`
        holds NaN or values outside [0, 1] (without `logits`), labels are outside [0, C),
        shapes do not match, or a (C, ...) input's classes do not sum to 1 (segscore).
    TypeError
        `probs` is not float16/32/64, or `target` is not integer / bool.

    Notes
    -----
    Defined by segscore, monai (its ``"average"`` reduction) and netcal; the others raise.

    Rules per convention (default bins; edges; bin rule; default target mode):

    * ``segscore`` (15): edges k/n in float64, bins [l, u), p = 1 in the last bin; binary
      input: positive class, (C, ...) input: top label.  Every metric, float64 sums.
    * ``torchmetrics`` (15): torchmetrics 1.9 -- edges ``torch.linspace(0, 1)`` in the
      confidences' dtype (multi-class confidences cast to float32), bins [l, u), p = 1.0 in
      an extra bin of its own; binary: positive class, (C, ...): top label; norms l1 / l2 / max.
    * ``monai`` (20): MONAI 1.6.1 -- float32 edges ``linspace(0, 1 + eps32)``, bins (l, u]
      with p = 0 in the first, values cast to float32; class-wise mean over classes (binary:
      the single channel); ECE, ACE, MCE.
    * ``metricsreloaded`` (10): edges ``np.arange(0, 1.00001, 1/n)``, bins (l, u], p = 0
      (and anything above the last edge) dropped; binary and C = 2: positive class, C >= 3:
      class-wise cwECE divided by *all* voxels; MCE binary only.
    * ``netcal`` (10): netcal 1.4 -- probabilities clipped to [eps, 1 - eps] of their dtype,
      edges ``np.linspace(0, 1)``, bins [l, u) with the last closed; binary and C = 2:
      positive class, C >= 3: top label; equal-mass bins available.
    * ``curvas`` (50): the CURVAS 2024 challenge's ECE (torchmetrics
      ``MulticlassCalibrationError(n_bins=50)``): torchmetrics' float32 edges, top label.

    An explicit `target_mode` overrides the default and keeps the convention's edges.

    References
    ----------
    .. [1] Nixon, J., Dusenberry, M. W., Zhang, L., Jerfel, G. & Tran, D. (2019). Measuring
        calibration in deep learning. CVPR Workshops 2019 (adaptive / equal-mass bins, class-wise
        errors).
    .. [2] Naeini, M. P., Cooper, G. F. & Hauskrecht, M. (2015). Obtaining well calibrated
        probabilities using Bayesian binning. AAAI 2015, 2901-2907.
    .. [3] Peers mirrored by name: torchmetrics 1.9 (``binary_/multiclass_calibration_error``),
        MONAI 1.6.1 (``CalibrationErrorMetric``), MetricsReloaded (``CalibrationMeasures``), netcal
        1.4 (Kueppers et al. 2020), the CURVAS 2024 evaluation; see docs/calibration.md.

    Examples
    --------
    >>> import numpy as np
    >>> import segscore as ss
    >>> p = np.array([0.1, 0.3, 0.6, 0.8, 0.9, 0.95, 0.2, 0.7])  # P(class 1)
    >>> y = np.array([0, 0, 1, 1, 1, 0, 0, 1])
    >>> round(ss.ace(p, y, n_bins=5), 4)
    0.2292
    >>> round(ss.ace(p, y, n_bins=4, binning="equal-mass"), 3)
    0.219
    """
    conv = get_convention(convention)
    TABLE.require(conv, "ace", "ACE")
    rel = _run(probs, target, n_bins=n_bins, class_axis=class_axis, logits=logits, convention=conv,
               binning=binning, target_mode=target_mode, positive_class=positive_class, mask=mask,
               ignore_label=ignore_label, threads=threads, closed=closed, ends=ends, device=device,
               exact=exact)
    return rel.ace(reduction, include_background)


def _scores_rel(probs, target, class_axis, logits, convention, mask, ignore_label, threads, form, device=None):
    conv = get_convention(convention)
    inp = _prepare(probs, target, mask, class_axis, logits, device)
    # the binning is irrelevant here; any valid setup runs the pass
    setup = _make_setup(conv, inp, 1, "uniform", "positive-class" if inp.n_classes == 0 else "top-label", 1,
                        logits)
    setup = replace(setup, edges=np.array([0.0, 1.0]))
    sum_form = 1 if (form == "sum" and inp.n_classes == 0) else 0
    return _reliability(inp, setup, _check_ignore(ignore_label), check_threads(threads), True, sum_form)


def brier(probs, target, n_bins=None, class_axis=0, logits=False, convention="segscore", *, form=None, mask=None,
          ignore_label=None, threads=None, device=None) -> float:
    """Brier score: mean squared error of the probabilities, over the counted voxels.

    ``form="auto"`` (segscore's default, scikit-learn's ``brier_score_loss``): ``(p - y)^2``
    for a binary input, half the sum over the two columns for C = 2 (the same number), the
    sum over classes ``sum_c (p_c - [y = c])^2`` for C >= 3.  ``form="sum"``
    (MetricsReloaded): the sum over classes, always (``2 (p - y)^2`` for a binary input).
    Nothing is binned.

    Parameters
    ----------
    probs : array_like
        Probabilities in [0, 1]: shaped like `target` (a binary task, P(class 1)), or with one
        extra class axis at `class_axis` (``(C, *spatial)`` by default, C >= 2).  float16,
        float32 and float64 are read in place (numpy, torch CPU, ``__array__``; CuPy and torch
        CUDA on their device); other dtypes raise.  NaN or a value outside [0, 1] raises
        (pass logits with ``logits=True``).  Under the segscore convention a (C, ...) input
        scored top-label / positive-class must have class sums of 1 (within 1e-3, 1e-2 for
        float16).
    target : array_like
        Integer labels in [0, C) (0 / 1 or bool for a binary task), the spatial shape.
    n_bins : int, optional
        Accepted for a signature uniform with the binned metrics; ignored.
    class_axis : int, default 0
        The class axis of a multi-class `probs` (``-1`` for channels-last).  No batch axis is
        ever guessed.
    logits : bool, default False
        `probs` holds logits: sigmoid (binary) or softmax over `class_axis` is applied
        (computed stably, in the single pass); they must be finite.
    convention : {"segscore", "metricsreloaded"}, default "segscore"
        Only these define the Brier score; it picks the default `form`.
    form : {None, "auto", "sum"}, optional
        None: the convention's (segscore ``"auto"``, metricsreloaded ``"sum"``).
    mask : array_like, optional
        Region of interest, the spatial shape; nonzero voxels are counted.
    ignore_label : int, optional
        Voxels whose label equals it are skipped (and not checked).
    threads : int, optional
        CPU threads; results are bit-identical for any count.
    device : {None, "cpu", "cuda", "cupy"}, optional
        Force a backend; GPU inputs are binned on their device (same numbers as the CPU).

    Returns
    -------
    float
        nan when no voxel is counted.

    Raises
    ------
    ValueError
        The convention does not define the metric (or the option: norm, binning), `probs`
        holds NaN or values outside [0, 1] (without `logits`), labels are outside [0, C),
        shapes do not match, or a (C, ...) input's classes do not sum to 1 (segscore).
    TypeError
        `probs` is not float16/32/64, or `target` is not integer / bool.

    References
    ----------
    .. [1] Brier, G. W. (1950). Verification of forecasts expressed in terms of probability. Monthly
        Weather Review 78(1), 1-3.
    .. [2] Gneiting, T. & Raftery, A. E. (2007). Strictly proper scoring rules, prediction, and
        estimation. Journal of the American Statistical Association 102(477), 359-378.
    .. [3] scikit-learn ``brier_score_loss``; MetricsReloaded ``CalibrationMeasures``.

    Examples
    --------
    >>> import numpy as np
    >>> import segscore as ss
    >>> p = np.array([0.1, 0.3, 0.6, 0.8, 0.9, 0.95, 0.2, 0.7])  # P(class 1)
    >>> y = np.array([0, 0, 1, 1, 1, 0, 0, 1])
    >>> round(ss.brier(p, y), 4), round(ss.brier(p, y, convention="metricsreloaded"), 4)
    (0.1678, 0.3356)
    >>> round(ss.brier(np.stack([1 - p, p]), y), 4)  # two columns: the same number
    0.1678
    """
    conv = get_convention(convention)
    TABLE.require(conv, "brier", "the Brier score")
    form = conv.brier_form if form is None else form
    if form not in ("auto", "sum"):
        raise ValueError(f"form must be 'auto' or 'sum' (or None for the convention's), got {form!r}")
    rel = _scores_rel(probs, target, class_axis, logits, conv, mask, ignore_label, threads, form, device)
    return _brier_from(rel, form)


def nll(probs, target, n_bins=None, class_axis=0, logits=False, convention="segscore", *, mask=None,
        ignore_label=None, threads=None, device=None) -> float:
    """Negative log-likelihood of the labels: ``-mean log p_label``, natural log.

    No clipping: a zero probability on the true label gives inf.  With ``logits=True`` the
    log-softmax (log-sigmoid for a binary input) is computed stably.  Nothing is binned.

    Parameters
    ----------
    probs : array_like
        Probabilities in [0, 1]: shaped like `target` (a binary task, P(class 1)), or with one
        extra class axis at `class_axis` (``(C, *spatial)`` by default, C >= 2).  float16,
        float32 and float64 are read in place (numpy, torch CPU, ``__array__``; CuPy and torch
        CUDA on their device); other dtypes raise.  NaN or a value outside [0, 1] raises
        (pass logits with ``logits=True``).  Under the segscore convention a (C, ...) input
        scored top-label / positive-class must have class sums of 1 (within 1e-3, 1e-2 for
        float16).
    target : array_like
        Integer labels in [0, C) (0 / 1 or bool for a binary task), the spatial shape.
    n_bins : int, optional
        Accepted for a uniform signature; ignored.
    class_axis : int, default 0
        The class axis of a multi-class `probs` (``-1`` for channels-last).  No batch axis is
        ever guessed.
    logits : bool, default False
        `probs` holds logits: sigmoid (binary) or softmax over `class_axis` is applied
        (computed stably, in the single pass); they must be finite.
    convention : {"segscore", "metricsreloaded"}, default "segscore"
        Only these define the NLL (the same number).
    mask : array_like, optional
        Region of interest, the spatial shape; nonzero voxels are counted.
    ignore_label : int, optional
        Voxels whose label equals it are skipped (and not checked).
    threads : int, optional
        CPU threads; results are bit-identical for any count.
    device : {None, "cpu", "cuda", "cupy"}, optional
        Force a backend; GPU inputs are binned on their device (same numbers as the CPU).

    Returns
    -------
    float
        nan when no voxel is counted.

    Raises
    ------
    ValueError
        The convention does not define the metric (or the option: norm, binning), `probs`
        holds NaN or values outside [0, 1] (without `logits`), labels are outside [0, C),
        shapes do not match, or a (C, ...) input's classes do not sum to 1 (segscore).
    TypeError
        `probs` is not float16/32/64, or `target` is not integer / bool.

    References
    ----------
    .. [1] Gneiting, T. & Raftery, A. E. (2007). Strictly proper scoring rules, prediction, and
        estimation. Journal of the American Statistical Association 102(477), 359-378.
    .. [2] MetricsReloaded ``CalibrationMeasures`` (negative log-likelihood).

    Examples
    --------
    >>> import numpy as np
    >>> import segscore as ss
    >>> p = np.array([0.1, 0.3, 0.6, 0.8, 0.9, 0.95, 0.2, 0.7])  # P(class 1)
    >>> y = np.array([0, 0, 1, 1, 1, 0, 0, 1])
    >>> round(ss.nll(p, y), 4)
    0.6096
    >>> ss.nll(np.array([0.0, 1.0]), np.array([1, 1]))  # p = 0 on the true label
    inf
    """
    conv = get_convention(convention)
    TABLE.require(conv, "nll", "the NLL")
    rel = _scores_rel(probs, target, class_axis, logits, conv, mask, ignore_label, threads, "auto", device)
    return float(rel.nll_sum / rel.scored) if rel.scored else math.nan
