"""torchmetrics-compatible metric classes computed by segscore's core (needs torch and torchmetrics).

Each class is a ``torchmetrics.Metric``: ``update`` / ``compute`` / ``forward`` / ``reset``
/ ``merge_state`` and DDP synchronisation work as for any torchmetrics metric, inside
PyTorch Lightning or a plain loop.  The states are sufficient statistics with their
``dist_reduce_fx``: per-case values (``"cat"``), confusion counts and calibration bin sums
(``"sum"``); counts are int64 (exact), float states float64, so that a DDP run equals a
single-process run over the same data to rounding (~1e-15).  The values come from
segscore's C++ (or GPU) passes: one call per case for label maps, one per (case, channel)
for one-hot masks, never a per-voxel Python loop.

Segmentation (2-D and 3-D; same ``num_classes``, ``include_background``, ``spacing`` and
``input_format`` as ``torchmetrics.segmentation``):

HausdorffDistance        any percentile; the default equals torchmetrics' HausdorffDistance
SurfaceDice              normalised surface distance (NSD) at a tolerance in mm
AverageSurfaceDistance   symmetric (ASSD) or directed (pred -> ref)
DiceScore, MeanIoU, GeneralizedDiceScore
                         torchmetrics' classes' arguments and numbers (label maps counted in one pass)

Calibration and probabilistic:

CalibrationError         binary, top-label, class-wise; every segscore calibration convention
ContinuousRankedProbabilityScore   ensemble (exact) or Gaussian (closed form)

The one-line change in a training loop: ``from segscore.torchmetrics import HausdorffDistance``
instead of ``from torchmetrics.segmentation import HausdorffDistance``; 3-D volumes then work
(torchmetrics 1.9's distance transform is 2-D only and needs square images, see
:class:`HausdorffDistance`).
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities.data import dim_zero_cat

from .calibration.conventions import MODES, NORMS, get_convention as _calibration_convention
from .calibration.reliability import Reliability, _brier_from
from .calibration.streaming import Calibration
from .metrics import empty as _empty
from .metrics.overlap import confusion
from .metrics.surface import conventions as _surface
from .metrics.surface.functional import surface_distances
from .probabilistic.crps import crps_ensemble, crps_gaussian

__all__ = [
    "AverageSurfaceDistance", "CalibrationError", "ContinuousRankedProbabilityScore", "DiceScore",
    "GeneralizedDiceScore", "HausdorffDistance", "MeanIoU", "SurfaceDice",
]

_FORMATS = ("one-hot", "index", "mixed")

# ---------------------------------------------------------------------------
# inputs: torchmetrics.segmentation's formats, without materialising one-hot tensors


class _Side:
    """One input as segscore reads it: a label map (N, *spatial) or bool masks (N, C, *spatial)."""

    def __init__(self, x: Tensor, index: bool):
        self.x = x
        self.index = index

    def mask(self, b: int, c: int):
        m = (self.x[b] == c) if self.index else self.x[b, c]
        return _array(m if m.dtype == torch.bool else m.bool())

    def labels(self, b: int):
        return _array(self.x[b])


def _array(t: Tensor):
    """A host tensor as a numpy view (no copy); a CUDA tensor as it is (segscore runs on its device)."""
    t = t.detach()
    return t.numpy() if t.device.type == "cpu" else t


def _check_num_classes(num_classes, required=True):
    if num_classes is None and not required:
        return None
    if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) or num_classes <= 0:
        raise ValueError(f"Expected argument `num_classes` to be a positive integer, but got {num_classes!r}.")
    return int(num_classes)


def _check_common(include_background, input_format):
    if not isinstance(include_background, bool):
        raise ValueError(f"Expected argument `include_background` to be a boolean, but got {include_background!r}.")
    if input_format not in _FORMATS:
        raise ValueError(f"Expected argument `input_format` to be one of {_FORMATS}, but got {input_format!r}.")


_WIDE_UNSIGNED = tuple(getattr(torch, n) for n in ("uint16", "uint32", "uint64") if hasattr(torch, n))


def _value_range(x: Tensor) -> tuple:
    """(min, max) of an integer tensor as Python ints (torch has no aminmax kernel for
    uint16 / uint32 / uint64: those are read through float64, exact below 2**53 and
    only compared with small class counts above it)."""
    if x.dtype in _WIDE_UNSIGNED:
        lo, hi = torch.aminmax(x.to(torch.float64))
        return int(lo), int(hi)
    lo, hi = torch.aminmax(x)
    return int(lo), int(hi)


def _one_hot_side(x: Tensor, num_classes, what: str) -> tuple:
    """(side, C) of a one-hot or probability tensor (N, C, ...): probabilities are argmaxed
    over the class axis (as torchmetrics does) and become a label map."""
    if x.ndim < 2:
        raise ValueError(f"`{what}` in one-hot format must be shaped (N, C, ...), got shape {tuple(x.shape)}")
    c = x.shape[1] if num_classes is None else num_classes
    if num_classes is not None and x.shape[1] != num_classes:
        raise ValueError(f"`{what}` has {x.shape[1]} channels but num_classes={num_classes}; one-hot input needs "
                         "one channel per class (or pass input_format='index' with a label map)")
    if x.is_complex():
        raise ValueError(f"`{what}` has dtype {x.dtype}; pass one-hot masks (bool / 0-1 integers) or real "
                         "probabilities")
    if torch.is_floating_point(x):
        return _Side(x.argmax(dim=1), True), c
    if x.dtype != torch.bool and x.numel():
        lo, hi = _value_range(x)
        if lo < 0 or hi > 1:
            raise ValueError(f"`{what}` in one-hot format must hold 0 and 1 (or bool); found values in "
                             f"[{lo}, {hi}]. Pass input_format='index' for a label map")
    return _Side(x, False), c  # 0/1 integers are read as they are (a bool copy would cost a pass)


def _index_side(x: Tensor, num_classes, what: str) -> _Side:
    if torch.is_floating_point(x) or x.dtype == torch.bool or x.is_complex():
        raise ValueError(f"`{what}` in index format must be an integer label map, got dtype {x.dtype}")
    if num_classes is None:
        raise ValueError("Argument `num_classes` must be provided when `input_format` is 'index' or 'mixed'.")
    if x.numel():
        lo, hi = _value_range(x)
        if lo < 0 or hi >= num_classes:
            raise ValueError(f"`{what}` holds class indices in [{lo}, {hi}] but num_classes={num_classes} (values "
                             f"must lie in [0, {num_classes}))")
    return _Side(x, True)


def _format(preds: Tensor, target: Tensor, num_classes, input_format: str) -> tuple:
    """(pred side, target side, C, spatial shape) in torchmetrics.segmentation's formats."""
    if not isinstance(preds, Tensor) or not isinstance(target, Tensor):
        raise TypeError(f"preds and target must be torch tensors, got {type(preds).__name__} and "
                        f"{type(target).__name__}")
    if preds.device != target.device:
        raise ValueError(f"preds is on {preds.device} and target on {target.device}; put both on one device")
    if input_format == "one-hot":
        if preds.shape != target.shape:
            raise RuntimeError(f"Predictions and targets are expected to have the same shape, got "
                               f"{tuple(preds.shape)} and {tuple(target.shape)}.")
        p, c = _one_hot_side(preds, num_classes, "preds")
        t, _ = _one_hot_side(target, c, "target")
        spatial = tuple(preds.shape[2:])
    elif input_format == "index":
        if preds.shape != target.shape:
            raise RuntimeError(f"Predictions and targets are expected to have the same shape, got "
                               f"{tuple(preds.shape)} and {tuple(target.shape)}.")
        c = num_classes
        p, t = _index_side(preds, c, "preds"), _index_side(target, c, "target")
        spatial = tuple(preds.shape[1:])
    else:
        if preds.ndim == target.ndim + 1 and preds.shape[:1] + preds.shape[2:] == target.shape:
            p, c = _one_hot_side(preds, num_classes, "preds")
            t = _index_side(target, c, "target")
            spatial = tuple(target.shape[1:])
        elif target.ndim == preds.ndim + 1 and target.shape[:1] + target.shape[2:] == preds.shape:
            t, c = _one_hot_side(target, num_classes, "target")
            p = _index_side(preds, c, "preds")
            spatial = tuple(preds.shape[1:])
        else:
            raise RuntimeError(f"input_format='mixed' expects one one-hot tensor (N, C, ...) and one index tensor "
                               f"(N, ...) of the same N and spatial shape, got {tuple(preds.shape)} and "
                               f"{tuple(target.shape)}.")
    if not spatial:
        raise ValueError(f"Expected both `preds` and `target` to have at least one spatial axis after (N, C), "
                         f"got shapes {tuple(preds.shape)} and {tuple(target.shape)}.")
    return p, t, c, spatial


def _classes(num_classes: int, include_background: bool) -> list:
    """Scored classes: torchmetrics drops channel 0 only when there is more than one."""
    return list(range(num_classes)) if include_background or num_classes == 1 else list(range(1, num_classes))


def _expand(side: _Side, classes: list) -> _Side:
    """A label map as bool masks (N, C', ...) of the scored classes (1 byte per voxel and class)."""
    dt = side.x.dtype if side.x.dtype in _WIDE_UNSIGNED else None  # torch cannot promote them with int64
    cls = torch.as_tensor(classes, device=side.x.device, dtype=dt).reshape((1, -1) + (1,) * (side.x.ndim - 1))
    return _Side(side.x.unsqueeze(1) == cls, False)


def _counts(p: _Side, t: _Side, classes: list, n: int, threads=None) -> np.ndarray:
    """(N, len(classes), 3) int64 array of tp, fp, fn per case and class."""
    out = np.zeros((n, len(classes), 3), dtype=np.int64)
    if p.index != t.index:  # mixed: the label map as masks, then the one-hot sums
        p, t = (_expand(p, classes), t) if p.index else (p, _expand(t, classes))
        p = p if p.x.shape[1] == len(classes) else _Side(p.x[:, classes[0]:classes[-1] + 1], False)
        t = t if t.x.shape[1] == len(classes) else _Side(t.x[:, classes[0]:classes[-1] + 1], False)
        classes = list(range(len(classes)))
    for b in range(n):
        if p.index and t.index:
            fg = [c for c in classes if c != 0]
            labels = {c: c for c in fg}
            if 0 in classes:  # class 0 from the union of the others: tp0 = all - |fg_p u fg_r|
                labels["fg"] = tuple(range(1, max(classes) + 1)) or None
            labels = {k: v for k, v in labels.items() if v is not None}
            res = confusion(p.labels(b), t.labels(b), labels=labels, threads=threads) if labels else {}
            for j, c in enumerate(classes):
                if c != 0:
                    r = res[c]
                    out[b, j] = (r["tp"], r["fp"], r["fn"])
                elif "fg" in res:
                    r = res["fg"]
                    total = r["tp"] + r["fp"] + r["fn"] + r["tn"]
                    out[b, j] = (total - r["tp"] - r["fp"] - r["fn"], r["fn"], r["fp"])
                else:  # one class only: every voxel is class 0
                    v = int(np.prod(p.x.shape[1:]))
                    out[b, j] = (v, 0, 0)
        elif b == 0:  # one-hot: all cases at once, as torchmetrics sums one-hot tensors
            sl = slice(classes[0], classes[-1] + 1)  # classes: all channels, or all but channel 0
            pp, tt = p.x[:, sl], t.x[:, sl]
            axes = tuple(range(2, pp.ndim))
            both = (pp & tt) if (pp.dtype == torch.bool and tt.dtype == torch.bool) else (pp.long() * tt.long())
            tp = both.sum(dim=axes, dtype=torch.int64)
            ps, ts = pp.sum(dim=axes, dtype=torch.int64), tt.sum(dim=axes, dtype=torch.int64)
            out[..., 0] = tp.cpu().numpy()
            out[..., 1] = (ps - tp).cpu().numpy()
            out[..., 2] = (ts - tp).cpu().numpy()
    return out


def _spacings(spacing, n: int, nd: int) -> list:
    """Per-case spacing tuples from None, one sequence, or an (N, nd) table."""
    if spacing is None:
        return [None] * n
    s = spacing.detach().cpu().double().numpy() if isinstance(spacing, Tensor) else np.asarray(spacing, float)
    if s.ndim == 1:
        if s.shape[0] != nd:
            raise ValueError(f"spacing has {s.shape[0]} values but the input has {nd} spatial axes")
        return [tuple(float(v) for v in s)] * n
    if s.ndim == 2 and s.shape == (n, nd):
        return [tuple(float(v) for v in row) for row in s]
    raise ValueError(f"spacing must be a sequence of {nd} values or a per-case table shaped ({n}, {nd}), "
                     f"got shape {s.shape}")


def _cat(state, device) -> Tensor:
    """A ``"cat"`` state as one tensor: a list before synchronisation, a tensor after it."""
    if isinstance(state, Tensor):
        return state
    return dim_zero_cat(state) if state else torch.zeros(0, dtype=torch.float64, device=device)


def _reduce(values: Tensor, width: int, reduction: str) -> Tensor:
    v = values.reshape(-1, width)
    if reduction == "mean":
        return v.mean() if v.numel() else torch.tensor(math.nan, dtype=torch.float64, device=v.device)
    if reduction == "nanmean":
        return v.nanmean() if v.numel() else torch.tensor(math.nan, dtype=torch.float64, device=v.device)
    if reduction == "class":
        return v.nanmean(dim=0)
    return v


_REDUCTIONS = ("mean", "nanmean", "class", "none")
_REDUCTIONS = ("mean", "nanmean", "class", "none")


class _CatStates(Metric):
    """A Metric whose ``"cat"`` list states have a fixed dtype (``_cat_dtype``) even on a DDP
    rank that saw no batch: torchmetrics would gather an empty placeholder of the metric's
    default float dtype there, which the other ranks' float64 / int64 states do not match."""

    _cat_dtype = torch.float64

    def _sync_dist(self, dist_sync_fn=None, process_group=None) -> None:
        for attr, fx in self._reductions.items():
            state = getattr(self, attr)
            if isinstance(state, list) and not state:
                setattr(self, attr, [torch.zeros(0, dtype=self._cat_dtype, device=self.device)])
        if dist_sync_fn is None:
            super()._sync_dist(process_group=process_group)
        else:
            super()._sync_dist(dist_sync_fn, process_group=process_group)

# ---------------------------------------------------------------------------
# surface-distance metrics


class _SurfaceMetric(_CatStates):
    """Per-(case, class) surface values in one ``"cat"`` list state (float64, flattened)."""

    is_differentiable = False
    higher_is_better = False
    full_state_update = False
    plot_lower_bound = 0.0

    _metric = ""  # registry family, for the convention check
    _default_convention = "segscore"

    values: list

    def __init__(self, num_classes, include_background=False, spacing=None, input_format="one-hot",
                 convention=None, empty=None, reduction="mean", threads=None, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = _check_num_classes(num_classes)
        _check_common(include_background, input_format)
        if spacing is not None and not isinstance(spacing, (list, tuple, Tensor, np.ndarray)):
            raise ValueError(f"Arg `spacing` must be a list or tensor, but got {type(spacing)}.")
        if reduction not in _REDUCTIONS:
            raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
        self.include_background = include_background
        self.spacing = spacing
        self.input_format = input_format
        self.reduction = reduction
        self.empty = _empty.normalize(empty)  # an invalid policy fails here, not at the first update
        self.threads = threads
        self.convention = self._default_convention if convention is None else convention
        self._conv = self._resolve(self.convention)
        self._classes = _classes(self.num_classes, include_background)
        self.add_state("values", default=[], dist_reduce_fx="cat")

    def _resolve(self, name):
        conv = _surface.get(name)
        _surface.require(conv, self._metric, self._metric)
        return conv

    def _value(self, sd) -> float:
        raise NotImplementedError

    def update(self, preds: Tensor, target: Tensor, spacing=None) -> None:
        """Add a batch: one value per (case, scored class).

        Parameters
        ----------
        preds, target : torch.Tensor
            As torchmetrics.segmentation: one-hot (N, C, *spatial) masks or probabilities
            (argmaxed), or (N, *spatial) class indices, per ``input_format``; 2-D or 3-D
            (1-D where the convention allows it).  CPU or CUDA.
        spacing : sequence or tensor, optional
            Voxel size in mm for this batch: one sequence, or one row per case (N, ndim);
            None: the constructor's.
        """
        p, t, _, spatial = _format(preds, target, self.num_classes, self.input_format)
        n = preds.shape[0]
        spacings = _spacings(self.spacing if spacing is None else spacing, n, len(spatial))
        vals = np.empty((n, len(self._classes)), dtype=np.float64)
        for b in range(n):
            sp = spacings[b]
            if p.index and t.index:
                fg = [c for c in self._classes if c != 0]
                sds = surface_distances(p.labels(b), t.labels(b), spacing=sp, convention=self._conv, labels=fg,
                                        empty=self.empty, threads=self.threads) if fg else {}
            else:
                sds = {}
            for j, c in enumerate(self._classes):
                sd = sds.get(c)
                if sd is None:
                    sd = surface_distances(p.mask(b, c), t.mask(b, c), spacing=sp, convention=self._conv,
                                           empty=self.empty, threads=self.threads)
                vals[b, j] = self._value(sd)
        self.values.append(torch.from_numpy(vals.reshape(-1)).to(self.device))

    def compute(self) -> Tensor:
        """The per-(case, class) values reduced as ``reduction`` says (float64)."""
        values = _cat(self.values, self.device)
        return _reduce(values.to(torch.float64), len(self._classes), self.reduction)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(num_classes={self.num_classes}, convention={self.convention!r})"


_SURFACE_PARAMS = """num_classes : int
        Number of classes (channels of one-hot input; index values lie in [0, num_classes)).
    include_background : bool, default False
        Score class 0 too (torchmetrics drops channel 0 only when there are several).
    spacing : sequence of float or tensor, optional
        Voxel size in mm per spatial axis (None: 1); ``update(..., spacing=)`` overrides it
        per batch, also with one row per case.
    input_format : {"one-hot", "index", "mixed"}, default "one-hot"
        As torchmetrics: one-hot (N, C, ...) masks (probabilities are argmaxed over C), index
        (N, ...) label maps, or one of each.  One-hot channels are independent masks (they
        may overlap) and are never argmaxed unless they are floating point."""

_SURFACE_COMMON = """empty : float, str or dict, optional
        Empty-mask policy (see :func:`segscore.hd95`); None: the convention's.
    reduction : {"mean", "nanmean", "class", "none"}, default "mean"
        ``compute()``: the mean of every (case, class) value (nan and inf propagate, as
        torchmetrics' mean does), the mean skipping nan (both masks empty), the per-class
        nan-mean (C',), or the (cases, C') table.
    threads : int, optional
        segscore's CPU threads.
    **kwargs
        torchmetrics ``Metric`` keyword arguments (``dist_sync_on_step``, ``sync_on_compute``,
        ``compute_on_cpu``, ...)."""


class HausdorffDistance(_SurfaceMetric):
    __doc__ = f"""Hausdorff distance (any percentile) for 2-D and 3-D segmentation, as a torchmetrics Metric.

    A drop-in for ``torchmetrics.segmentation.HausdorffDistance`` (same arguments, input
    formats and ``compute()`` = mean over cases and classes) that also works on 3-D volumes
    and takes a ``percentile`` (95 for HD95).  States: one float64 value per (case, class),
    ``dist_reduce_fx="cat"``.

    With the default ``convention="torchmetrics"`` the numbers are torchmetrics 1.9's: the
    boundary is the voxel border ``mask xor erosion`` (face connectivity, the array border
    counting as background), distances exact Euclidean rounded to float32 (segscore's
    ``"monai"`` geometry); one empty mask gives inf.  torchmetrics 1.9 itself
    raises on 3-D input (its distance transform is 2-D only), raises ``RuntimeError`` when
    both masks of a class are empty (here: nan), and its PyTorch distance transform indexes
    rows by the image height (``z[i * h + j]``), so non-square 2-D images give an
    ``IndexError`` or wrong distances there.  A percentile under "torchmetrics" follows
    MONAI's rule (``torch.quantile`` in float32 per direction, then the max).  Any segscore
    surface convention may be named instead (``"segscore"``, ``"deepmind"``, ``"monai"``,
    ``"metricsreloaded"``, ``"medpy"``, ``"panoptica"``).

    Parameters
    ----------
    {_SURFACE_PARAMS}
    distance_metric : {{"euclidean"}}, default "euclidean"
        "chessboard" and "taxicab" raise NotImplementedError (segscore is Euclidean).
    directed : bool, default False
        Only the pred -> ref distances.
    percentile : float, optional
        In [0, 100]; None or 100: the maximum (the Hausdorff distance).
    convention : str, default "torchmetrics"
    {_SURFACE_COMMON}

    Examples
    --------
    >>> import torch
    >>> from segscore.torchmetrics import HausdorffDistance
    >>> ref = torch.zeros(1, 2, 8, 8, 8, dtype=torch.bool); ref[0, 1, 2:6, 2:6, 2:6] = True
    >>> ref[0, 0] = ~ref[0, 1]
    >>> pred = ref.clone(); pred[0, 1, 2:6, 2:6, 6] = True; pred[0, 0] = ~pred[0, 1]
    >>> hd = HausdorffDistance(num_classes=2)          # a 3-D batch, background left out
    >>> hd(pred, ref)
    tensor(1., dtype=torch.float64)
    >>> HausdorffDistance(num_classes=2, percentile=95, spacing=[1, 1, 2.5])(pred, ref)
    tensor(2.5000, dtype=torch.float64)
    """

    _metric = "hd"
    _default_convention = "torchmetrics"

    def __init__(self, num_classes, include_background=False, distance_metric="euclidean", spacing=None,
                 directed=False, input_format="one-hot", percentile=None, convention=None, empty=None,
                 reduction="mean", threads=None, **kwargs):
        if distance_metric in ("chessboard", "taxicab"):
            raise NotImplementedError(f"distance_metric={distance_metric!r}: segscore computes exact Euclidean "
                                      "distances only; use distance_metric='euclidean'")
        if distance_metric != "euclidean":
            raise ValueError(f"Arg `distance_metric` must be 'euclidean', but got {distance_metric!r}.")
        if not isinstance(directed, bool):
            raise ValueError(f"Expected argument `directed` to be a boolean, but got {directed!r}.")
        if percentile is not None:
            if isinstance(percentile, bool) or not isinstance(percentile, numbers.Real) or \
                    not 0 <= percentile <= 100:
                raise ValueError(f"percentile must be a number in [0, 100] or None, got {percentile!r}")
        self.distance_metric = distance_metric
        self.directed = directed
        self.percentile = 100.0 if percentile is None else float(percentile)
        self._metric = "hd" if self.percentile == 100 else "hdp"
        super().__init__(num_classes, include_background, spacing, input_format, convention, empty, reduction,
                         threads, **kwargs)

    def _resolve(self, name):
        return super()._resolve("monai" if name == "torchmetrics" else name)

    def _value(self, sd) -> float:
        return sd.hausdorff(self.percentile, directed=self.directed)


class SurfaceDice(_SurfaceMetric):
    __doc__ = f"""Surface Dice (normalised surface distance, NSD) at a tolerance, as a torchmetrics Metric.

    The fraction of both boundaries lying within ``tolerance`` mm of the other, per (case,
    class), under a segscore convention (default ``"segscore"``: DeepMind's surfels weighted
    by area; ``"monai"``: MONAI's SurfaceDiceMetric; ``"deepmind"``, ``"metricsreloaded"``,
    ``"panoptica"``, ``"monai-subvoxels"``).  torchmetrics has no surface Dice.  Empty masks:
    the convention's policy (segscore: one empty 0, both empty nan).  States: one float64
    value per (case, class), ``dist_reduce_fx="cat"``.

    Parameters
    ----------
    {_SURFACE_PARAMS}
    tolerance : float
        In mm (> 0).
    convention : str, default "segscore"
    {_SURFACE_COMMON}

    Examples
    --------
    >>> import torch
    >>> from segscore.torchmetrics import SurfaceDice
    >>> ref = torch.zeros(2, 8, 8, dtype=torch.long); ref[:, 2:6, 2:6] = 1
    >>> pred = ref.clone(); pred[1, 2:6, 6] = 1
    >>> nsd = SurfaceDice(num_classes=2, tolerance=0.5, input_format="index", reduction="none")
    >>> nsd(pred, ref)
    tensor([[1.0000],
            [0.7658]], dtype=torch.float64)
    """

    higher_is_better = True
    plot_upper_bound = 1.0
    _metric = "nsd"

    def __init__(self, num_classes, tolerance, include_background=False, spacing=None, input_format="one-hot",
                 convention=None, empty=None, reduction="mean", threads=None, **kwargs):
        if isinstance(tolerance, bool) or not isinstance(tolerance, numbers.Real) or not tolerance > 0 \
                or not math.isfinite(tolerance):
            raise ValueError(f"tolerance must be a positive number of mm, got {tolerance!r}")
        self.tolerance = float(tolerance)
        super().__init__(num_classes, include_background, spacing, input_format, convention, empty, reduction,
                         threads, **kwargs)

    def _value(self, sd) -> float:
        return sd.nsd(self.tolerance)


class AverageSurfaceDistance(_SurfaceMetric):
    __doc__ = f"""Average surface distance (symmetric ASSD, or directed pred -> ref), as a torchmetrics Metric.

    ``symmetric=True``: the convention's ASSD (segscore / deepmind / monai / medpy /
    metricsreloaded: the mean over both boundaries' elements pooled; panoptica: the mean of
    the two directed means).  ``symmetric=False``: the pred -> ref mean.  Empty masks: the
    convention's policy (segscore: inf with one empty mask, nan with both).  States: one
    float64 value per (case, class), ``dist_reduce_fx="cat"``.

    Parameters
    ----------
    {_SURFACE_PARAMS}
    symmetric : bool, default True
    convention : str, default "segscore"
    {_SURFACE_COMMON}

    Examples
    --------
    >>> import torch
    >>> from segscore.torchmetrics import AverageSurfaceDistance
    >>> ref = torch.zeros(1, 10, 10, dtype=torch.long); ref[0, 2:6, 2:6] = 1
    >>> pred = torch.zeros_like(ref); pred[0, 3:7, 2:6] = 1    # shifted by one voxel
    >>> asd = AverageSurfaceDistance(num_classes=2, input_format="index", convention="metricsreloaded")
    >>> asd(pred, ref)
    tensor(0.5000, dtype=torch.float64)
    """

    def __init__(self, num_classes, include_background=False, spacing=None, input_format="one-hot",
                 symmetric=True, convention=None, empty=None, reduction="mean", threads=None, **kwargs):
        if not isinstance(symmetric, bool):
            raise ValueError(f"symmetric must be True or False, got {symmetric!r}")
        self.symmetric = symmetric
        self._metric = "assd" if symmetric else "asd"
        super().__init__(num_classes, include_background, spacing, input_format, convention, empty, reduction,
                         threads, **kwargs)

    def _value(self, sd) -> float:
        return sd.assd() if self.symmetric else sd.asd(directed=True)


# ---------------------------------------------------------------------------
# overlap: torchmetrics' DiceScore and MeanIoU, counted by segscore


def _safe_divide(num: Tensor, den: Tensor) -> Tensor:
    return torch.where(den != 0, num / torch.where(den != 0, den, torch.ones_like(den)),
                       torch.full_like(num, math.nan))


class DiceScore(_CatStates):
    """Dice score with torchmetrics 1.9's ``DiceScore`` arguments, input formats and numbers.

    Same ``num_classes``, ``include_background``, ``average`` ("micro", "macro", "weighted",
    "none"), ``aggregation_level`` ("samplewise", "global") and ``input_format``; ``compute()``
    returns what torchmetrics' does (the mean over samples of the averaged Dice, nan where a
    class is absent from both).  Label maps (``input_format="index"``, or probabilities on
    both sides, which are argmaxed) are counted by segscore in one pass per case instead of
    being expanded to int64 one-hot tensors (5-30x faster than torchmetrics on 14-label
    volumes, bench/bench_torchmetrics.py); one-hot tensors are summed as torchmetrics sums
    them (about its speed), a label map facing one-hot masks becomes bool masks.  States: per-(case, class) numerator 2 tp, denominator
    2 tp + fp + fn and support tp + fn, int64, ``dist_reduce_fx="cat"``; the division
    is in float64 (torchmetrics: float32, so the two agree to ~1e-7).

    Parameters
    ----------
    num_classes : int
    include_background : bool, default True
    average : {"micro", "macro", "weighted", "none"} or None, default "macro"
    aggregation_level : {"samplewise", "global"}, default "samplewise"
    input_format : {"one-hot", "index", "mixed"}, default "one-hot"
    threads : int, optional
        segscore's CPU threads.
    **kwargs
        torchmetrics ``Metric`` keyword arguments.

    Examples
    --------
    >>> import torch
    >>> from segscore.torchmetrics import DiceScore
    >>> ref = torch.tensor([[[0, 1, 1], [0, 2, 2]]])
    >>> pred = torch.tensor([[[0, 1, 1], [2, 2, 0]]])
    >>> DiceScore(num_classes=3, input_format="index", average="none")(pred, ref)
    tensor([0.5000, 1.0000, 0.5000], dtype=torch.float64)
    """

    full_state_update = False
    is_differentiable = False
    higher_is_better = True
    plot_lower_bound = 0.0
    plot_upper_bound = 1.0

    numerator: list
    denominator: list
    support: list
    _cat_dtype = torch.int64

    def __init__(self, num_classes, include_background=True, average="macro", aggregation_level="samplewise",
                 input_format="one-hot", threads=None, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = _check_num_classes(num_classes)
        _check_common(include_background, input_format)
        if average is not None and average not in ("micro", "macro", "weighted", "none"):
            raise ValueError(f"Expected argument `average` to be one of ['micro', 'macro', 'weighted', 'none'] or "
                             f"None, but got {average!r}.")
        if aggregation_level not in ("samplewise", "global"):
            raise ValueError(f"Expected argument `aggregation_level` to be one of `samplewise`, `global`, but got "
                             f"{aggregation_level!r}")
        self.include_background = include_background
        self.average = average
        self.aggregation_level = aggregation_level
        self.input_format = input_format
        self.threads = threads
        self._classes = _classes(self.num_classes, include_background)
        for name in ("numerator", "denominator", "support"):
            self.add_state(name, default=[], dist_reduce_fx="cat")

    def update(self, preds: Tensor, target: Tensor) -> None:
        """Add a batch (torchmetrics.segmentation's formats)."""
        p, t, _, _ = _format(preds, target, self.num_classes, self.input_format)
        cnt = torch.from_numpy(_counts(p, t, self._classes, preds.shape[0], self.threads)).to(self.device)
        tp, fp, fn = cnt[..., 0], cnt[..., 1], cnt[..., 2]
        self.numerator.append((2 * tp).reshape(-1))
        self.denominator.append((2 * tp + fp + fn).reshape(-1))
        self.support.append((tp + fn).reshape(-1))

    def compute(self) -> Tensor:
        """torchmetrics' reduction of the accumulated counts (float64)."""
        w = len(self._classes)

        def cat(state):
            return _cat(state, self.device).to(torch.float64).reshape(-1, w)

        num, den, sup = cat(self.numerator), cat(self.denominator), cat(self.support)
        if self.aggregation_level == "global":
            num, den, sup = num.sum(0, keepdim=True), den.sum(0, keepdim=True), sup.sum(0)
        if self.average == "micro":
            out = _safe_divide(num.sum(-1), den.sum(-1))
        else:
            dice = _safe_divide(num, den)
            if self.average == "macro":
                out = dice.nanmean(dim=-1)
            elif self.average == "weighted":
                weights = _safe_divide(sup, sup.sum(dim=-1, keepdim=True))
                nan_rows = dice.isnan().all(dim=-1)
                out = torch.nansum(dice * weights, dim=-1)
                out[nan_rows] = math.nan
            else:
                out = dice
        return out.nanmean(dim=0)


class MeanIoU(Metric):
    """Mean IoU with torchmetrics 1.9's ``MeanIoU`` arguments, input formats and numbers.

    Same ``num_classes`` (optional for one-hot input), ``include_background``, ``per_class``
    and ``input_format``; per (case, class) IoU = tp / (tp + fp + fn), cases where the class
    is absent from both left out; ``compute()`` is the mean IoU (``per_class``: one per
    class, -1 for a class never present).  Label maps are counted by segscore in one pass
    per case.  States: the IoU sum (float64) and the number of (case, class) pairs (int64),
    ``dist_reduce_fx="sum"``, as torchmetrics keeps them (there float32).

    Parameters
    ----------
    num_classes : int, optional
        Required for ``input_format="index"``.
    include_background : bool, default True
    per_class : bool, default False
    input_format : {"one-hot", "index", "mixed"}, default "one-hot"
    threads : int, optional
    **kwargs
        torchmetrics ``Metric`` keyword arguments.

    Examples
    --------
    >>> import torch
    >>> from segscore.torchmetrics import MeanIoU
    >>> ref = torch.tensor([[[0, 1, 1], [0, 2, 2]]])
    >>> pred = torch.tensor([[[0, 1, 1], [2, 2, 0]]])
    >>> MeanIoU(num_classes=4, input_format="index", per_class=True)(pred, ref)
    tensor([ 0.3333,  1.0000,  0.3333, -1.0000], dtype=torch.float64)
    """

    full_state_update = False
    is_differentiable = False
    higher_is_better = True
    plot_lower_bound = 0.0
    plot_upper_bound = 1.0

    score: Tensor
    num_batches: Tensor

    def __init__(self, num_classes=None, include_background=True, per_class=False, input_format="one-hot",
                 threads=None, **kwargs):
        super().__init__(**kwargs)
        _check_common(include_background, input_format)
        if input_format == "index" and num_classes is None:
            raise ValueError("Argument `num_classes` must be provided when `input_format` is 'index'.")
        self.num_classes = _check_num_classes(num_classes, required=False)
        if not isinstance(per_class, bool):
            raise ValueError(f"Expected argument `per_class` to be a boolean, but got {per_class!r}.")
        self.include_background = include_background
        self.per_class = per_class
        self.input_format = input_format
        self.threads = threads
        self._classes = None
        if self.num_classes is not None:
            self._init_states(self.num_classes)
        else:  # as torchmetrics: placeholders until the first one-hot batch fixes C
            self._init_states(None)

    def _init_states(self, num_classes) -> None:
        self._classes = None if num_classes is None else _classes(num_classes, self.include_background)
        w = len(self._classes) if (self.per_class and self._classes) else 1
        self.add_state("score", default=torch.zeros(w, dtype=torch.float64, device=self.device),
                       dist_reduce_fx="sum")
        self.add_state("num_batches", default=torch.zeros(w, dtype=torch.int64, device=self.device),
                       dist_reduce_fx="sum")

    def update(self, preds: Tensor, target: Tensor) -> None:
        """Add a batch (torchmetrics.segmentation's formats)."""
        if self.input_format != "one-hot":  # torchmetrics lifts 1-D / 2-D index input to a batch
            if preds.ndim <= 2:
                preds = preds.reshape((1,) * (3 - preds.ndim) + tuple(preds.shape))
            if target.ndim <= 2:
                target = target.reshape((1,) * (3 - target.ndim) + tuple(target.shape))
        p, t, c, _ = _format(preds, target, self.num_classes, self.input_format)
        if self._classes is None:  # one-hot input without num_classes: fixed by the first batch
            self.num_classes = c
            self._init_states(c)
        cnt = torch.from_numpy(_counts(p, t, self._classes, preds.shape[0], self.threads)).to(self.device)
        tp = cnt[..., 0].double()
        union = cnt.sum(-1).double()
        valid = union > 0
        iou = torch.where(valid, tp / torch.where(valid, union, torch.ones_like(union)), torch.zeros_like(tp))
        if self.per_class:
            self.score += iou.sum(0)
            self.num_batches += valid.sum(0)
        else:
            self.score += iou.sum()
            self.num_batches += valid.sum()

    def compute(self) -> Tensor:
        """The mean IoU (``per_class``: per class, -1 where a class was never present)."""
        if self._classes is None:
            return torch.tensor(math.nan, dtype=torch.float64, device=self.device)
        out = self.score / self.num_batches
        return out.nan_to_num(-1.0) if self.per_class else out.nanmean()


def _generalized_weights(target_sum: Tensor, weight_type: str) -> Tensor:
    """torchmetrics 1.9's class weights of (N, C) target volumes, its replacement of the
    infinite ones (a class absent from a case's target) included: the per-class maximum of
    the finite weights, read back in the order of its transposed repeat (flat index k of
    the (N, C) table takes the maximum of class k // N)."""
    t = target_sum.to(torch.float64)
    if weight_type == "simple":
        w = 1.0 / t
    elif weight_type == "linear":
        w = torch.ones_like(t)
    else:
        w = 1.0 / (t * t)
    n, c = w.shape
    flat = w.reshape(-1).clone()
    infs = torch.isinf(flat)
    flat[infs] = 0
    w_max = flat.reshape(n, c).max(0).values.repeat(n, 1).T.reshape(-1)
    flat[infs] = w_max[infs]
    return flat.reshape(n, c)


class GeneralizedDiceScore(Metric):
    """Generalized Dice score with torchmetrics 1.9's ``GeneralizedDiceScore`` arguments and numbers.

    Same ``num_classes``, ``include_background``, ``per_class``, ``weight_type`` ("square",
    "simple", "linear") and ``input_format``: per case, ``sum_c 2 w_c tp_c / sum_c w_c
    (|P_c| + |T_c|)`` with w_c = 1 / |T_c|^2 (square), 1 / |T_c| (simple) or 1 (linear),
    0 / 0 = 0; ``compute()`` is the mean over cases (``per_class``: per class).  A class
    absent from a case's target gets the weight torchmetrics 1.9 gives it (see
    ``_generalized_weights``), so the numbers match there too.  Label maps are counted by
    segscore in one pass per case.  States: the score sum (float64) and the number of
    cases (int64), ``dist_reduce_fx="sum"``.

    Parameters
    ----------
    num_classes : int
    include_background : bool, default True
    per_class : bool, default False
    weight_type : {"square", "simple", "linear"}, default "square"
    input_format : {"one-hot", "index", "mixed"}, default "one-hot"
    threads : int, optional
    **kwargs
        torchmetrics ``Metric`` keyword arguments.

    Examples
    --------
    >>> import torch
    >>> from segscore.torchmetrics import GeneralizedDiceScore
    >>> ref = torch.tensor([[[0, 1, 1], [0, 2, 2]]])
    >>> pred = torch.tensor([[[0, 1, 1], [2, 2, 0]]])
    >>> GeneralizedDiceScore(3, input_format="index", weight_type="linear")(pred, ref)   # (2 + 4 + 2) / 12
    tensor(0.6667, dtype=torch.float64)
    """

    full_state_update = False
    is_differentiable = False
    higher_is_better = True
    plot_lower_bound = 0.0
    plot_upper_bound = 1.0

    score: Tensor
    samples: Tensor

    def __init__(self, num_classes, include_background=True, per_class=False, weight_type="square",
                 input_format="one-hot", threads=None, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = _check_num_classes(num_classes)
        _check_common(include_background, input_format)
        if not isinstance(per_class, bool):
            raise ValueError(f"Expected argument `per_class` to be a boolean, but got {per_class!r}.")
        if weight_type not in ("square", "simple", "linear"):
            raise ValueError(f"Expected argument `weight_type` to be one of 'square', 'simple', 'linear', but got "
                             f"{weight_type!r}.")
        self.include_background = include_background
        self.per_class = per_class
        self.weight_type = weight_type
        self.input_format = input_format
        self.threads = threads
        self._classes = _classes(self.num_classes, include_background)
        w = len(self._classes) if per_class else 1
        self.add_state("score", default=torch.zeros(w, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("samples", default=torch.zeros((), dtype=torch.int64), dist_reduce_fx="sum")

    def update(self, preds: Tensor, target: Tensor) -> None:
        """Add a batch (torchmetrics.segmentation's formats)."""
        p, t, _, _ = _format(preds, target, self.num_classes, self.input_format)
        if preds.shape[0] == 0:  # an empty batch adds no case (the weights need at least one)
            return
        cnt = torch.from_numpy(_counts(p, t, self._classes, preds.shape[0], self.threads)).to(self.device)
        tp, fp, fn = (cnt[..., i].double() for i in range(3))
        w = _generalized_weights(tp + fn, self.weight_type)
        num, den = 2.0 * tp * w, (2 * tp + fp + fn) * w
        if not self.per_class:
            num, den = num.sum(1), den.sum(1)
        val = torch.where(den != 0, num / torch.where(den != 0, den, torch.ones_like(den)), torch.zeros_like(num))
        self.score += val.sum(0)
        self.samples += preds.shape[0]

    def compute(self) -> Tensor:
        """The mean over cases (``per_class``: one value per class)."""
        out = self.score / self.samples
        return out[0] if not self.per_class else out


# ---------------------------------------------------------------------------
# calibration: per-bin sums under any segscore calibration convention


class CalibrationError(Metric):
    """Calibration error (ECE, RMSCE, MCE, ACE, Brier, NLL) from streamed per-bin sums.

    torchmetrics' ``CalibrationError`` arguments (``task``, ``n_bins``, ``norm``,
    ``num_classes``, ``ignore_index``) with any segscore calibration convention: binary
    (positive class), top-label and class-wise targets.  Inputs as torchmetrics: binary
    ``preds`` P(class 1) shaped like ``target`` (any shape, e.g. (N, *spatial));
    multiclass ``preds`` (N, C, ...) with ``target`` (N, ...).  Every voxel is one sample;
    nothing but the bin sums is kept, so whole 3-D probability maps can be streamed.

    With ``convention="torchmetrics"`` (the default) the value equals
    ``torchmetrics.classification.BinaryCalibrationError`` / ``MulticlassCalibrationError``
    (their float32 edges, p = 1 in a bin of its own, float32 top-label confidences; values
    outside [0, 1] in a batch make it logits: sigmoid / softmax, as torchmetrics does); the
    other conventions (``"segscore"``, ``"monai"``, ``"metricsreloaded"``, ``"netcal"``,
    ``"curvas"``) follow :func:`segscore.ece` and never take logits unless ``logits=True``.

    States (``dist_reduce_fx="sum"``): ``count`` and ``correct`` per (stream, bin), int64;
    ``sum_confidence`` per (stream, bin), float64; ``voxels`` and ``scored`` int64;
    ``brier_sum`` and ``nll_sum`` float64.  A stream is the one target (positive class /
    top label) or each class (class-wise).

    The bin sums are float64 (``exact=True`` arithmetic): sums of per-batch, per-rank states
    cannot replay the running float32 sum that torchmetrics or MONAI take over one
    concatenated input, so under their conventions the value equals
    ``ss.Calibration(convention, exact=True)`` and differs from the library's float32 number
    by that library's rounding (about 1e-6 relative on small inputs, more past 2**24 voxels per
    bin: see the reference-numerics section of docs/calibration.md).

    Parameters
    ----------
    task : {"binary", "multiclass"}, default "binary"
    n_bins : int, optional
        None: the convention's default (torchmetrics 15, segscore 15, monai 20, ...).
    norm : {"l1", "l2", "max"}, default "l1"
        ECE, RMSCE or MCE (those the convention defines).
    num_classes : int, optional
        Required for ``task="multiclass"``.
    ignore_index : int, optional
        Voxels whose target equals it are left out.
    validate_args : bool, default True
        Accepted for compatibility; segscore always validates.
    convention : str or CalibrationConvention, default "torchmetrics"
    metric : {"ece", "ace", "brier", "nll"}, default "ece"
        What ``compute()`` returns ("ece" with ``norm``).
    target_mode : {"positive-class", "top-label", "class-wise"}, optional
        None: the convention's default for the input.
    include_background : bool, default True
        Class-wise: False leaves class 0 out of the mean over classes.
    logits : bool, optional
        True: ``preds`` are logits; None: torchmetrics' per-batch rule under the
        torchmetrics convention, False otherwise.
    threads : int, optional
    **kwargs
        torchmetrics ``Metric`` keyword arguments.

    Examples
    --------
    >>> import torch
    >>> from segscore.torchmetrics import CalibrationError
    >>> probs = torch.tensor([0.1, 0.3, 0.6, 0.8, 0.9, 0.95, 0.2, 0.7])
    >>> target = torch.tensor([0, 0, 1, 1, 1, 0, 0, 1])
    >>> ece = CalibrationError(task="binary", n_bins=5)
    >>> ece.update(probs[:4], target[:4]); ece.update(probs[4:], target[4:])
    >>> ece.compute()
    tensor(0.2437, dtype=torch.float64)
    >>> p = torch.softmax(torch.randn(2, 3, 4, 4, generator=torch.Generator().manual_seed(0)), 1)
    >>> y = torch.randint(0, 3, (2, 4, 4), generator=torch.Generator().manual_seed(1))
    >>> cw = CalibrationError(task="multiclass", num_classes=3, convention="monai")  # class-wise, 20 bins
    >>> round(float(cw(p, y)), 4)
    0.2984
    """

    full_state_update = False
    is_differentiable = False
    higher_is_better = False
    plot_lower_bound = 0.0
    plot_upper_bound = 1.0

    count: Tensor
    correct: Tensor
    sum_confidence: Tensor
    voxels: Tensor
    scored: Tensor
    brier_sum: Tensor
    nll_sum: Tensor

    def __init__(self, task="binary", n_bins=None, norm="l1", num_classes=None, ignore_index=None,
                 validate_args=True, *, convention="torchmetrics", metric="ece", target_mode=None,
                 include_background=True, logits=None, threads=None, **kwargs):
        super().__init__(**kwargs)
        if task not in ("binary", "multiclass"):
            raise ValueError(f"task must be 'binary' or 'multiclass' (multilabel: one binary metric per label), "
                             f"got {task!r}")
        if norm not in NORMS:
            raise ValueError(f"Expected argument `norm` to be one of {NORMS}, but got {norm!r}.")
        if metric not in ("ece", "ace", "brier", "nll"):
            raise ValueError(f"metric must be one of ('ece', 'ace', 'brier', 'nll'), got {metric!r}")
        if target_mode is not None and target_mode not in MODES:
            raise ValueError(f"target_mode must be one of {MODES} or None, got {target_mode!r}")
        if ignore_index is not None and (isinstance(ignore_index, bool) or not isinstance(ignore_index, int)):
            raise ValueError(f"Expected argument `ignore_index` to either be `None` or an integer, but got "
                             f"{ignore_index!r}")
        if logits is not None and not isinstance(logits, bool):
            raise TypeError(f"logits must be True, False or None, got {logits!r}")
        self.task = task
        self.conv = _calibration_convention(convention)
        self.convention = self.conv.name
        self.n_bins = Calibration(n_bins, self.conv).n_bins  # the convention's default for None (checked)
        self.norm = norm
        self.metric = metric
        need = "mce" if (metric == "ece" and norm == "max") else metric
        if not self.conv.defines(need) or (metric == "ece" and norm not in self.conv.norms):
            what = f"the {norm!r} norm of the ECE" if metric == "ece" else repr(metric)
            raise ValueError(f"calibration convention {self.conv.name!r} ({self.conv.peer}) does not define {what}")
        if task == "multiclass":
            self.num_classes = _check_num_classes(num_classes)
            if self.num_classes < 2:
                raise ValueError(f"task='multiclass' needs num_classes >= 2, got {num_classes}")
            default = self.conv.two_class_mode if self.num_classes == 2 else self.conv.multiclass_mode
        else:
            self.num_classes = None
            default = self.conv.binary_mode
        self.target_mode = default if target_mode is None else target_mode
        self.ignore_index = ignore_index
        self.include_background = include_background
        self.logits = logits
        self.threads = threads
        self.validate_args = validate_args
        streams = (self.num_classes or 2) if self.target_mode == "class-wise" else 1
        slots = self.n_bins + (1 if self.conv.above == "extra" else 0)
        self._scores = metric in ("brier", "nll")
        self.add_state("count", torch.zeros(streams, slots, dtype=torch.int64), dist_reduce_fx="sum")
        self.add_state("correct", torch.zeros(streams, slots, dtype=torch.int64), dist_reduce_fx="sum")
        self.add_state("sum_confidence", torch.zeros(streams, slots, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("voxels", torch.zeros((), dtype=torch.int64), dist_reduce_fx="sum")
        self.add_state("scored", torch.zeros((), dtype=torch.int64), dist_reduce_fx="sum")
        self.add_state("brier_sum", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("nll_sum", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")

    def _calibration(self, class_axis: int, logits: bool) -> Calibration:
        """segscore's streaming accumulator with this metric's settings (one per update: its
        per-bin sums become this metric's states)."""
        return Calibration(self.n_bins, self.conv, class_axis=class_axis, logits=logits, target_mode=self.target_mode,
                           positive_class=1, ignore_label=self.ignore_index, include_background=self.include_background,
                           scores=self._scores, threads=self.threads,
                           exact=True)  # float64 bin sums: the states must add up across batches and ranks

    def _is_logits(self, preds: Tensor, target: Tensor) -> bool:
        if self.logits is not None:
            return self.logits
        if self.conv.name != "torchmetrics":
            return False
        p = preds
        if self.ignore_index is not None:  # torchmetrics looks at the kept voxels only
            keep = target != self.ignore_index
            p = preds.movedim(1, -1)[keep] if self.task == "multiclass" else preds[keep]
        return bool(p.numel()) and not bool(((p >= 0) & (p <= 1)).all())

    def update(self, preds: Tensor, target: Tensor) -> None:
        """Add a batch: binary ``preds`` shaped like ``target``; multiclass (N, C, ...) and (N, ...)."""
        if not isinstance(preds, Tensor) or not isinstance(target, Tensor):
            raise TypeError("preds and target must be torch tensors")
        if not torch.is_floating_point(preds):
            raise ValueError(f"Expected argument `preds` to be floating tensor with probabilities/logits but got "
                             f"tensor with dtype {preds.dtype}")
        if self.task == "multiclass":
            if preds.ndim < 2 or preds.shape[1] != self.num_classes:
                raise ValueError(f"multiclass preds must be shaped (N, C={self.num_classes}, ...), got "
                                 f"{tuple(preds.shape)}")
            class_axis = 1
        else:
            class_axis = 0
        if preds.numel() == 0:
            return
        if preds.dtype == torch.bfloat16:  # numpy has no bfloat16; float32 holds every value exactly
            preds = preds.float()
        logits = self._is_logits(preds, target)
        acc = self._calibration(class_axis, logits)
        rel = acc.update(_array(preds), _array(target)).reliability()
        shape = self.count.shape
        dev = self.count.device
        self.count += torch.as_tensor(np.asarray(rel.count, np.int64).reshape(shape), device=dev)
        self.correct += torch.as_tensor(np.asarray(rel.correct, np.int64).reshape(shape), device=dev)
        self.sum_confidence += torch.as_tensor(np.asarray(rel.sum_confidence, np.float64).reshape(shape),
                                               device=dev)
        self.voxels += int(rel.voxels)
        if self._scores:
            self.scored += int(rel.scored)
            self.brier_sum += float(rel.brier_sum)
            self.nll_sum += float(rel.nll_sum)

    def reliability(self) -> Reliability:
        """The accumulated per-bin statistics as a :class:`segscore.Reliability` (for a diagram)."""
        one = self.target_mode != "class-wise"
        cnt = self.count.cpu().numpy()
        cor = self.correct.cpu().numpy()
        sc = self.sum_confidence.cpu().numpy()
        k = cnt.shape[1]
        edges = np.linspace(0.0, 1.0, self.n_bins + 1)
        if k > self.n_bins:
            edges = np.append(edges, 1.0)
        classes = None if one else tuple(range(cnt.shape[0]))
        return Reliability(edges, cnt[0] if one else cnt, cor[0] if one else cor, sc[0] if one else sc,
                           int(self.voxels), self.target_mode, self.conv.name, classes, float(self.brier_sum),
                           float(self.nll_sum), int(self.scored), self.num_classes or 0)

    def compute(self) -> Tensor:
        """The chosen metric from the accumulated bin sums (float64; nan before any voxel)."""
        rel = self.reliability()
        ib = self.include_background
        if self.metric == "ece":
            v = rel.ece(self.norm, include_background=ib) if int(self.voxels) else math.nan
        elif self.metric == "ace":
            v = rel.ace(include_background=ib) if int(self.voxels) else math.nan
        elif self.metric == "brier":
            v = _brier_from(rel, self.conv.brier_form or "auto")
        else:
            v = float(rel.nll_sum / rel.scored) if rel.scored else math.nan
        return torch.tensor(float(v), dtype=torch.float64, device=self.device)


# ---------------------------------------------------------------------------
# CRPS


class ContinuousRankedProbabilityScore(Metric):
    """Mean CRPS of ensemble (exact) or Gaussian (closed form) forecasts, from streamed sums.

    ``distribution="ensemble"`` takes torchmetrics' input: ``preds`` (N, M) ensemble members
    (more generally (..., M)) and ``target`` (N,) (...), and equals
    ``torchmetrics.regression.ContinuousRankedProbabilityScore`` (the empirical-CDF CRPS
    ``mean|x_i - y| - sum|x_i - x_j| / (2 M^2)``; torchmetrics computes it in the input's
    dtype with O(M^2) memory, segscore exactly in float64 in O(M log M)).
    A NaN member gives NaN for its observation, as in torchmetrics (:func:`segscore.crps_ensemble`
    follows properscoring and skips NaN members).
    ``distribution="gaussian"``: ``preds`` (..., 2) holding (mu, sigma) per observation.
    States: the CRPS sum (float64) and the number of observations (int64),
    ``dist_reduce_fx="sum"``.

    Parameters
    ----------
    distribution : {"ensemble", "gaussian"}, default "ensemble"
    threads : int, optional
    **kwargs
        torchmetrics ``Metric`` keyword arguments.

    Examples
    --------
    >>> import torch
    >>> from segscore.torchmetrics import ContinuousRankedProbabilityScore
    >>> members = torch.tensor([[0.0, 1.0, 2.0], [1.0, 1.0, 3.0]])
    >>> obs = torch.tensor([0.1, 0.5])
    >>> crps = ContinuousRankedProbabilityScore()
    >>> crps(members, obs)
    tensor(0.6222, dtype=torch.float64)
    >>> g = ContinuousRankedProbabilityScore(distribution="gaussian")
    >>> g(torch.tensor([[0.0, 1.0]]), torch.tensor([0.0]))   # N(0, 1) at its mean: (sqrt(2) - 1) / sqrt(pi)
    tensor(0.2337, dtype=torch.float64)
    """

    full_state_update = False
    is_differentiable = False
    higher_is_better = False
    plot_lower_bound = 0.0

    score: Tensor
    total: Tensor

    def __init__(self, distribution="ensemble", threads=None, **kwargs):
        super().__init__(**kwargs)
        if distribution not in ("ensemble", "gaussian"):
            raise ValueError(f"distribution must be 'ensemble' or 'gaussian', got {distribution!r}")
        self.distribution = distribution
        self.threads = threads
        self.add_state("score", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("total", torch.zeros((), dtype=torch.int64), dist_reduce_fx="sum")

    def update(self, preds: Tensor, target: Tensor) -> None:
        """Add a batch: members (..., M) or (mu, sigma) pairs (..., 2), and observations (...)."""
        if not isinstance(preds, Tensor) or not isinstance(target, Tensor):
            raise TypeError("preds and target must be torch tensors")
        if preds.ndim < 1 or tuple(preds.shape[:-1]) != tuple(target.shape):
            last = "M members" if self.distribution == "ensemble" else "2 values (mu, sigma)"
            raise ValueError(f"preds must be shaped like target plus a last axis of {last}: got preds "
                             f"{tuple(preds.shape)} and target {tuple(target.shape)}")
        if preds.is_complex() or target.is_complex():
            raise ValueError(f"preds and target must be real numbers, got dtypes {preds.dtype} and {target.dtype}")
        p = preds.detach().to("cpu", torch.float64).numpy()
        y = target.detach().to("cpu", torch.float64).numpy()
        if self.distribution == "ensemble":
            v = crps_ensemble(y, p, axis=-1, threads=self.threads)
        else:
            if p.shape[-1] != 2:
                raise ValueError(f"gaussian preds need a last axis of 2 (mu, sigma), got {p.shape[-1]}")
            v = crps_gaussian(y, p[..., 0], p[..., 1], threads=self.threads)
        v = np.asarray(v, dtype=np.float64)
        if self.distribution == "ensemble":  # torchmetrics: a NaN member makes that CRPS NaN
            v = np.where(np.isnan(p).any(axis=-1), np.nan, v)
        self.score += float(v.sum())
        self.total += int(v.size)

    def compute(self) -> Tensor:
        """The mean CRPS (float64; nan before any observation)."""
        if int(self.total) == 0:
            return torch.tensor(math.nan, dtype=torch.float64, device=self.device)
        return (self.score / self.total).to(torch.float64)
