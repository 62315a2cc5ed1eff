"""`Reliability`: a case's (or a stream's) per-bin sufficient statistics and every binned
metric derived from them, and the one-case run from inputs to a `Reliability`."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from .._core.validate import check_threads
from . import reference as REF
from .conventions import CalibrationConvention, NORMS, _OUTSIDE_CODE, get_convention
from .binning import (
    _Input,
    _Setup,
    _call,
    _check_ignore,
    _check_labels,
    _check_option,
    _equal_mass_edges,
    _make_setup,
    _prepare,
    _raise_invalid,
    _stats,
)

# ---------------------------------------------------------------------------
# reliability: the sufficient statistics and everything derived from them


@dataclass(frozen=True)
class Reliability:
    """Per-bin sufficient statistics of one calibration pass (a frozen dataclass).

    Made by :func:`segscore.reliability` and :meth:`Calibration.reliability`; its methods
    compute the binned metrics from the sums, so a diagram and its ECE always agree.

    Attributes
    ----------
    edges : ndarray
        Bin edges, one more than the bins (per class for equal-mass class-wise bins); under
        torchmetrics / curvas a last zero-width bin [1, 1] holds p = 1.0.
    count, correct : ndarray
        Voxels per bin, and those whose label is the bin's class (positive class / top label
        / the class), shaped ``(n_bins,)`` or ``(n_classes, n_bins)`` class-wise.
    sum_confidence : ndarray
        Sum of the binned confidences per bin, held as float64: segscore's float64 sum, or,
        under a convention's reference arithmetic, the running sum in `sum_dtype` that the
        library takes (a float32 value for float32 sums).
    voxels : int
        Voxels counted (after `mask` and `ignore_label`, before any dropped by the edge rule).
    mode : str
        ``"positive-class"``, ``"top-label"`` or ``"class-wise"``.
    convention : str
        The calibration convention's name.
    classes : tuple or None
        Class-wise: the class of each row.
    brier_sum, nll_sum : float
        Sums of the Brier terms and of -log p_label when they were computed.
    scored : int
        Voxels in `brier_sum` / `nll_sum`.
    n_classes : int
        C of a (C, ...) input; 0 for a binary input.
    arithmetic : str
        ``"float64"`` (segscore's sums and formulas, ``exact=True``, the GPU path), or
        ``"torchmetrics"`` / ``"monai"``: the library's arithmetic in `sum_dtype`, whose
        float32 counts stop at 2**24 (`count` keeps the exact integers).
    sum_dtype : str
        dtype of the running bin sums.
    bin_dtype : str or None
        dtype of the library's bin tensors and of the formulas after them; None: `sum_dtype`.
        float16 for torchmetrics' float16 binary input, whose bins torch accumulates in
        float32 (`sum_dtype`) and rounds once to float16 (counts of 65,520 or more become inf).
    confidence, accuracy : ndarray
        Per-bin means ``sum_confidence / count`` and ``correct / count`` (nan in empty bins;
        properties), in `bin_dtype` with its saturated counts under a reference arithmetic.

    Methods
    -------
    ece(norm="l1", reduction="mean", include_background=True)
        ECE (l1), RMSCE (l2) or MCE (max) by the convention's rule.
    mce(reduction="mean", include_background=True)
        Maximum calibration error over the non-empty bins.
    ace(reduction="mean", include_background=True)
        Unweighted mean gap over the non-empty bins.
    to_dict()
        JSON-ready lists.

    Examples
    --------
    >>> import numpy as np
    >>> import segscore as ss
    >>> p = np.array([0.1, 0.3, 0.6, 0.8, 0.9, 0.95, 0.2, 0.7])  # P(class 1)
    >>> y = np.array([0, 0, 1, 1, 1, 0, 0, 1])
    >>> r = ss.reliability(p, y, n_bins=5)
    >>> r.sum_confidence
    array([0.1 , 0.5 , 0.  , 1.3 , 2.65])
    >>> r.confidence
    array([0.1       , 0.25      ,        nan, 0.65      , 0.88333333])
    >>> r.voxels, r.mode, r.convention
    (8, 'positive-class', 'segscore')
    >>> round(r.ece(), 3), round(r.ace(), 3)
    (0.244, 0.229)
    """

    edges: np.ndarray
    count: np.ndarray
    correct: np.ndarray
    sum_confidence: np.ndarray
    voxels: int
    mode: str
    convention: str
    classes: tuple | None = None
    brier_sum: float = math.nan
    nll_sum: float = math.nan
    scored: int = 0
    n_classes: int = 0  # 0: binary input
    arithmetic: str = "float64"
    sum_dtype: str = "float64"
    bin_dtype: str | None = None

    @property
    def _bdt(self) -> str:
        return self.bin_dtype or self.sum_dtype

    def _mean(self, num) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            if self.arithmetic == "float64":
                return np.where(self.count > 0, num / np.maximum(self.count, 1), np.nan)
            dt = np.dtype(self._bdt)
            with np.errstate(over="ignore"):
                m = (np.asarray(num, dt) / REF.saturated(self.count, dt)).astype(dt)
            return np.where(self.count > 0, m.astype(np.float64), np.nan)

    @property
    def confidence(self) -> np.ndarray:
        return self._mean(self.sum_confidence)

    @property
    def accuracy(self) -> np.ndarray:
        num = self.correct if self.arithmetic == "float64" else REF.saturated(self.correct, self._bdt)
        return self._mean(num)

    def _conv(self) -> CalibrationConvention:
        return get_convention(self.convention)

    def _per_stream(self, fn) -> np.ndarray:
        cnt = np.atleast_2d(self.count)
        cor = np.atleast_2d(self.correct)
        sc = np.atleast_2d(self.sum_confidence)
        return np.array([fn(cnt[i], cor[i], sc[i]) for i in range(cnt.shape[0])])

    def _reduce(self, values, reduction, include_background):
        if self.mode != "class-wise":
            if not include_background:
                raise ValueError("include_background=False only applies to target_mode='class-wise'")
            return float(values[0])
        classes = self.classes or tuple(range(len(values)))
        pairs = [(c, float(v)) for c, v in zip(classes, values) if include_background or c != 0]
        if reduction == "none":
            return dict(pairs)
        if reduction != "mean":
            raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
        vals = np.array([v for _, v in pairs])
        if vals.size == 0 or np.all(np.isnan(vals)):
            return math.nan
        if self.arithmetic == "monai":  # MONAI's float32 mean over the channels
            return REF.monai_mean(vals)
        return float(np.nanmean(vals))  # as MONAI: classes without voxels are skipped

    def ece(self, norm: str = "l1", reduction: str = "mean", include_background: bool = True):
        """Expected calibration error from the bin sums: l1 (ECE), l2 (RMSCE) or max (MCE).

        Parameters
        ----------
        norm : {"l1", "l2", "max"}, default "l1"
            ``sum_b |a_b - s_b| / N``, ``sqrt(sum_b (a_b - s_b)^2 / n_b / N)`` or
            ``max_b |a_b - s_b| / n_b``; N is the binned voxels (all voxels for
            metricsreloaded's class-wise cwECE).  Only the norms the convention defines.
        reduction : {"mean", "none"}, default "mean"
            Class-wise: the mean over classes with voxels, or ``{class: value}``.
        include_background : bool, default True
            Class-wise: False drops class 0.

        Returns
        -------
        float or dict
            nan when no voxel was binned.

        Examples
        --------
        >>> import numpy as np
        >>> import segscore as ss
        >>> p = np.array([0.1, 0.3, 0.6, 0.8, 0.9, 0.95, 0.2, 0.7])  # P(class 1)
        >>> y = np.array([0, 0, 1, 1, 1, 0, 0, 1])
        >>> r = ss.reliability(p, y, n_bins=5)
        >>> round(r.ece(), 3), round(r.ece("l2"), 3), round(r.ece("max"), 3)
        (0.244, 0.255, 0.35)
        """
        conv = self._conv()
        _check_option(conv, "norm", norm, NORMS, "norms")
        all_voxels = conv.classwise_all_voxels and self.mode == "class-wise"
        if self.arithmetic == "torchmetrics":
            return self._reduce(self._per_stream(lambda cnt, cor, sc: REF.torchmetrics_ce(
                cnt, cor, sc, norm, self._bdt)), reduction, include_background)
        if self.arithmetic == "monai" and norm in ("l1", "max"):
            red = "expected" if norm == "l1" else "maximum"
            return self._reduce(self._per_stream(lambda cnt, cor, sc: REF.monai_ce(cnt, cor, sc, red)), reduction,
                                include_background)

        def one(cnt, cor, sc):
            nz = cnt > 0
            if not nz.any():
                return math.nan
            gap = np.abs(cor[nz] - sc[nz])  # n_b * |acc_b - conf_b|
            if norm == "max":
                return float(np.max(gap / cnt[nz]))
            denom = float(self.voxels) if all_voxels else float(cnt.sum())
            if norm == "l1":
                return float(np.sum(gap) / denom)
            ce = float(np.sum(gap * gap / cnt[nz]) / denom)
            return math.sqrt(ce) if ce > 0 else 0.0

        return self._reduce(self._per_stream(one), reduction, include_background)

    def mce(self, reduction: str = "mean", include_background: bool = True):
        """Maximum calibration error over the non-empty bins (``ece("max", ...)``).

        Parameters
        ----------
        reduction : {"mean", "none"}, default "mean"
        include_background : bool, default True

        Returns
        -------
        float or dict

        Examples
        --------
        >>> import numpy as np
        >>> import segscore as ss
        >>> p = np.array([0.1, 0.3, 0.6, 0.8, 0.9, 0.95, 0.2, 0.7])  # P(class 1)
        >>> y = np.array([0, 0, 1, 1, 1, 0, 0, 1])
        >>> round(ss.reliability(p, y, n_bins=5).mce(), 4)
        0.35
        """
        return self.ece("max", reduction, include_background)

    def ace(self, reduction: str = "mean", include_background: bool = True):
        """Average calibration error: unweighted mean of |acc - conf| over the non-empty bins.

        Parameters
        ----------
        reduction : {"mean", "none"}, default "mean"
        include_background : bool, default True

        Returns
        -------
        float or dict

        Examples
        --------
        >>> import numpy as np
        >>> import segscore as ss
        >>> p = np.array([0.1, 0.3, 0.6, 0.8, 0.9, 0.95, 0.2, 0.7])  # P(class 1)
        >>> y = np.array([0, 0, 1, 1, 1, 0, 0, 1])
        >>> round(ss.reliability(p, y, n_bins=5).ace(), 4)
        0.2292
        """

        def one(cnt, cor, sc):
            if self.arithmetic == "monai":
                return REF.monai_ce(cnt, cor, sc, "average")
            nz = cnt > 0
            if not nz.any():
                return math.nan
            return float(np.mean(np.abs(cor[nz] - sc[nz]) / cnt[nz]))

        return self._reduce(self._per_stream(one), reduction, include_background)

    def to_dict(self) -> dict:
        """The statistics as JSON-ready lists: edges, count, correct, sum_confidence, voxels,
        mode, convention, classes.

        Returns
        -------
        dict

        Examples
        --------
        >>> import numpy as np
        >>> import segscore as ss
        >>> p = np.array([0.1, 0.3, 0.6, 0.8, 0.9, 0.95, 0.2, 0.7])  # P(class 1)
        >>> y = np.array([0, 0, 1, 1, 1, 0, 0, 1])
        >>> d = ss.reliability(p, y, n_bins=2).to_dict()
        >>> d["edges"], d["count"], d["correct"]
        ([0.0, 0.5, 1.0], [3, 5], [0, 4])
        """
        return {"edges": self.edges.tolist(), "count": self.count.tolist(), "correct": self.correct.tolist(),
                "sum_confidence": self.sum_confidence.tolist(), "voxels": self.voxels, "mode": self.mode,
                "convention": self.convention, "classes": None if self.classes is None else list(self.classes)}


def _display_edges(edges: np.ndarray, slots: int) -> np.ndarray:
    e = np.asarray(edges, dtype=np.float64)
    if slots == len(e):  # an extra bin [e_n, e_n] (torchmetrics' p = 1.0)
        e = np.append(e, e[-1])
    return e


def _arith(conv: CalibrationConvention, sdt, setup: _Setup | None = None) -> dict:
    """Reliability's arithmetic fields for the pass's sum dtype (None: float64) and the
    setup's bin dtype."""
    if sdt is None:
        return {}
    out = {"arithmetic": conv.arithmetic, "sum_dtype": np.dtype(sdt).name}
    bdt = None if setup is None else setup.bin_dtype()
    if bdt is not None and bdt != np.dtype(sdt):
        out["bin_dtype"] = bdt.name
    return out


def _reliability(inp: _Input, setup: _Setup, ignore_label, threads, scores=False, brier_sum_form=0) -> Reliability:
    conv = setup.conv
    classes = tuple(range(setup.classes)) if setup.mode == "class-wise" else None
    if setup.binning == "uniform":
        r = _stats(inp, setup, setup.edges, ignore_label, threads, scores, brier_sum_form)
        count, correct, sc = r["count"], r["correct"], r["sum_conf"]
        if setup.mode != "class-wise":
            count, correct, sc = count[0], correct[0], sc[0]
        return Reliability(_display_edges(setup.edges, r["count"].shape[1]), count, correct, sc, int(r["voxels"]),
                           setup.mode, conv.name, classes, r["brier_sum"], r["nll_sum"], int(r["scored"]),
                           setup.n_classes, **_arith(conv, r["seq"], setup))
    # equal-mass: edges from the quantiles of each stream's confidences, then one binning pass per stream
    cr = _call(inp, "calibration_confidences", dict(
        probs=inp.probs, target=inp.target, mask=inp.mask, class_axis=inp.class_axis, ignore_label=ignore_label,
        **setup.kernel_kwargs(), threads=threads))
    if cr["invalid"]:
        _raise_invalid(inp, setup.logits, cr["invalid"])
    _check_labels(setup, cr["target_min"], cr["target_max"], ignore_label)
    values = cr["values"]
    if setup.mode != "class-wise":
        edges = _equal_mass_edges(values[0], setup.n_bins, conv, setup.dtype)
        r = _stats(inp, setup, edges, ignore_label, threads, scores, brier_sum_form)
        return Reliability(edges, r["count"][0], r["correct"][0], r["sum_conf"][0], int(r["voxels"]), setup.mode,
                           conv.name, None, r["brier_sum"], r["nll_sum"], int(r["scored"]), setup.n_classes)
    rows, all_edges = [], []
    for c in range(setup.classes):
        edges = _equal_mass_edges(values[c], setup.n_bins, conv, setup.dtype)
        sub = replace(setup, mode="positive-class", positive=c)
        rows.append(_stats(inp, sub, edges, ignore_label, threads, scores and c == 0, brier_sum_form))
        all_edges.append(edges)
    first = rows[0]
    return Reliability(np.array(all_edges), np.stack([r["count"][0] for r in rows]),
                       np.stack([r["correct"][0] for r in rows]), np.stack([r["sum_conf"][0] for r in rows]),
                       int(first["voxels"]), "class-wise", conv.name, classes, first["brier_sum"],
                       first["nll_sum"], int(first["scored"]), setup.n_classes)


def _edge_rule(conv: CalibrationConvention, closed, ends) -> CalibrationConvention:
    """The convention with its bin edge rule overridden: ``closed`` "left" ([l, u)) or "right"
    ((l, u]); ``ends`` what happens to a value on the outer side of the end edges (p = 0 under
    (l, u], p = 1 under [l, u)): "clamp" into the end bin, "drop", or "extra" (a bin of its own
    above the last edge, as torchmetrics does with p = 1.0)."""
    if closed is None and ends is None:
        return conv
    right = conv.right_closed
    if closed is not None:
        if closed not in ("left", "right"):
            raise ValueError(f"closed must be 'left' ([l, u)) or 'right' ((l, u]), got {closed!r}")
        right = closed == "right"
    below, above = conv.below, conv.above
    if ends is not None:
        if ends not in _OUTSIDE_CODE:
            raise ValueError(f"ends must be one of {tuple(_OUTSIDE_CODE)}, got {ends!r}")
        if ends == "extra" and right:
            raise ValueError("ends='extra' gives the values above the last edge a bin of their own; with "
                             "closed='right' p = 0 is the end value: use ends='clamp' or 'drop'")
        below, above = ("clamp" if ends == "extra" else ends), ends
    return replace(conv, right_closed=right, below=below, above=above)


def _run(probs, target, *, n_bins, class_axis, logits, convention, binning, target_mode, positive_class, mask,
         ignore_label, threads, scores=False, brier_sum_form=0, closed=None, ends=None, device=None,
         exact=False) -> Reliability:
    conv = _edge_rule(get_convention(convention), closed, ends)
    inp = _prepare(probs, target, mask, class_axis, logits, device)
    setup = _make_setup(conv, inp, n_bins, binning, target_mode, positive_class, logits, exact)
    return _reliability(inp, setup, _check_ignore(ignore_label), check_threads(threads), scores, brier_sum_form)


def _brier_from(rel: Reliability, form: str) -> float:
    if rel.scored == 0:
        return math.nan
    b = rel.brier_sum / rel.scored
    if form == "auto" and rel.n_classes == 2:
        b *= 0.5  # scikit-learn halves the two-column sum (= the binary form)
    return float(b)
