"""MONAI-compatible metric classes: change one import, keep the validation loop.

    from segscore.monai import HausdorffDistanceMetric, SurfaceDiceMetric   # was: from monai.metrics import ...

    hd95 = HausdorffDistanceMetric(include_background=False, percentile=95, reduction="mean")
    for batch in val_loader:
        hd95(y_pred=one_hot_pred, y=one_hot_ref, spacing=(0.8, 0.8, 2.5))
    value = hd95.aggregate().item()
    hd95.reset()

Each class has the name, constructor arguments, input layout (batch-first ``B x C x spatial``
tensors or lists of channel-first tensors, on the CPU or a CUDA device),
``__call__`` / ``aggregate()`` / ``reset()`` / ``get_buffer()`` behaviour, reductions
(``"none"``, ``"mean"``, ``"sum"``, ``"mean_batch"``, ``"sum_batch"``, ``"mean_channel"``,
``"sum_channel"``), ``get_not_nans`` and returned shapes, dtypes and devices of MONAI 1.6.1's
class of that name.  With the default ``convention="monai"`` the numbers are MONAI's (to
float32 rounding) and nan appears wherever MONAI gives nan; the surface classes take any
segscore convention instead (``convention="segscore"``, ``"deepmind"``, ...).

Channels are independent masks and may overlap (sigmoid outputs, BraTS regions): they are
never argmax-ed.  The boundary metrics run through segscore's compiled core: all channels of
one batch item are packed into one label map and scored in one call (threads over channels,
or one batched launch on the GPU), instead of MONAI's KD-tree per channel.

Only torch is needed (MONAI itself is not imported).  Known differences from MONAI 1.6.1:

* ``distance_metric="chessboard"`` / ``"taxicab"`` raise NotImplementedError (segscore's
  distances are exact Euclidean).
* MONAI's per-channel "is all 0" warnings are not emitted.
* CalibrationErrorMetric needs a binary ``y`` (0 / 1) and ``y_pred`` in [0, 1] without nan
  (segscore's calibration checks); MONAI bins any values.
* DiceMetric's ``per_component=True`` needs scipy (as MONAI's CPU path does).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import torch

from ._core.backends import cpu
from .metrics.surface import conventions as _conventions
from .metrics.surface.functional import surface_distances as _surface_distances

__all__ = [
    "AbsoluteVolumeDifferenceMetric", "CalibrationErrorMetric", "ConfusionMatrixMetric", "Cumulative",
    "PanopticQualityMetric",
    "CumulativeIterationMetric", "DiceMetric", "HausdorffDistanceMetric", "MeanIoU", "MetricReduction",
    "SurfaceDiceMetric", "SurfaceDistanceMetric", "do_metric_reduction",
]


class MetricReduction:
    """The reduction names of ``monai.utils.MetricReduction`` (plain strings here)."""

    NONE = "none"
    MEAN = "mean"
    SUM = "sum"
    MEAN_BATCH = "mean_batch"
    SUM_BATCH = "sum_batch"
    MEAN_CHANNEL = "mean_channel"
    SUM_CHANNEL = "sum_channel"


_REDUCTIONS = ("none", "mean", "sum", "mean_batch", "sum_batch", "mean_channel", "sum_channel")


def _reduction_name(reduction) -> str:
    r = getattr(reduction, "value", reduction)
    if r not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    return r


def do_metric_reduction(f: torch.Tensor, reduction="mean"):
    """Reduce a ``(B, C, ...)`` metric tensor over its not-nan values, as MONAI does.

    Parameters
    ----------
    f : torch.Tensor
        Per (batch item, channel) values; nan marks a value to skip.  Changed in place (nan
        set to 0) unless `reduction` is ``"none"``, as in MONAI.
    reduction : str, default "mean"
        ``"none"``, ``"mean"`` (the channel mean of each item, then the mean over items with at
        least one value), ``"sum"``, ``"mean_batch"`` / ``"sum_batch"`` (over items, per
        channel), ``"mean_channel"`` / ``"sum_channel"`` (over channels, per item).

    Returns
    -------
    (torch.Tensor, torch.Tensor)
        The reduced values (0 where nothing was counted) and the number of not-nan values
        behind each, float32.

    Examples
    --------
    >>> import torch
    >>> from segscore.monai import do_metric_reduction
    >>> f = torch.tensor([[1.0, float("nan")], [3.0, 5.0]])
    >>> do_metric_reduction(f.clone(), "mean_batch")
    (tensor([2., 5.]), tensor([2., 1.]))
    >>> do_metric_reduction(f.clone(), "mean")
    (tensor([2.5000]), tensor(2.))
    """
    reduction = _reduction_name(reduction)
    nans = torch.isnan(f)
    not_nans = ~nans
    zero = torch.zeros(1, device=f.device, dtype=torch.float)
    if reduction == "none":
        return f, not_nans.float()
    f[nans] = 0
    if reduction == "mean":
        n = not_nans.sum(dim=1).float()
        f = torch.where(n > 0, f.sum(dim=1).float() / n, zero)
        n = (n > 0).sum(dim=0).float()
        f = torch.where(n > 0, f.sum(dim=0).float() / n, zero)
        return f, n
    if reduction == "sum":
        return torch.sum(f, dim=[0, 1]), not_nans.sum(dim=[0, 1]).float()
    dim = 0 if reduction.endswith("batch") else 1
    n = not_nans.sum(dim=dim).float()
    if reduction.startswith("mean"):
        return torch.where(n > 0, f.sum(dim=dim).float() / n, zero), n
    return f.sum(dim=dim).float(), n


# ---------------------------------------------------------------------------
# the buffer / call protocol of monai.metrics.metric


def _all_gather(t: torch.Tensor) -> torch.Tensor:
    """Concatenate `t` over the ranks of an initialised torch.distributed group (items of
    different length per rank allowed), as MONAI's evenly_divisible_all_gather; `t` alone
    without one."""
    dist = torch.distributed
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() < 2:
        return t
    n = torch.as_tensor([t.shape[0]], device=t.device)
    sizes = [torch.zeros_like(n) for _ in range(dist.get_world_size())]
    dist.all_gather(sizes, n)
    lens = [int(s.item()) for s in sizes]
    top = max(lens)
    if t.shape[0] < top:
        t = torch.cat([t, t.new_zeros((top - t.shape[0], *t.shape[1:]))], dim=0)
    out = [torch.empty_like(t) for _ in lens]
    dist.all_gather(out, t)
    return torch.cat([o[:k] for o, k in zip(out, lens)], dim=0)


class Cumulative:
    """Buffers of per-item results, gathered over ranks on read (MONAI's ``Cumulative``).

    ``extend(*batches)`` adds batch-first data (one buffer per argument), ``append(*items)``
    single items; ``get_buffer()`` returns the buffers stacked (one tensor, or a list with
    several buffers; None before anything was added); ``reset()`` empties them.

    Examples
    --------
    >>> import torch
    >>> from segscore.monai import Cumulative
    >>> c = Cumulative()
    >>> c.extend(torch.tensor([[1.0], [2.0]])); c.append(torch.tensor([3.0]))
    >>> c.get_buffer().flatten(), len(c)
    (tensor([1., 2., 3.]), 3)
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self):
        """Empty the buffers."""
        self._buffers = None
        self._synced_tensors = None
        self._synced = False

    @staticmethod
    def _tensor(d):
        if isinstance(d, torch.Tensor):
            return d
        if isinstance(d, (list, tuple)) and d and all(isinstance(x, torch.Tensor) for x in d):
            return torch.stack(list(d))
        return torch.as_tensor(d)

    def extend(self, *data) -> None:
        """Add a batch (batch-first tensor or list of items) to each buffer."""
        if self._buffers is None:
            self._buffers = [[] for _ in data]
        for b, d in zip(self._buffers, data):
            t = self._tensor(d)
            if t.ndim == 0:
                raise TypeError("data should be a batch-first tensor or a list of channel-first tensors, "
                                f"got a 0-d {type(d).__name__}")
            b.extend(list(t.unbind(0)))
        self._synced = False

    def append(self, *data) -> None:
        """Add one item to each buffer."""
        if self._buffers is None:
            self._buffers = [[] for _ in data]
        for b, d in zip(self._buffers, data):
            b.append(self._tensor(d))
        self._synced = False

    def _sync(self):
        if self._synced or self._buffers is None:
            return
        try:
            self._synced_tensors = [_all_gather(torch.stack(b, dim=0)) for b in self._buffers]
        except (RuntimeError, TypeError, ValueError) as e:
            raise TypeError(f"{e}. unable to sync buffer contents: {self._buffers}.") from e
        self._synced = True

    def __len__(self):
        self._sync()
        if self._synced_tensors is None:
            return 0
        return max(len(x) for x in self._synced_tensors if x is not None)

    def get_buffer(self):
        """The buffers gathered over ranks and stacked: one tensor (one buffer) or a list."""
        self._sync()
        if self._synced_tensors is None:
            return None
        out = [x.detach().clone() for x in self._synced_tensors]
        return out[0] if len(out) == 1 else out

    def aggregate(self, *args, **kwargs):  # pragma: no cover - every metric overrides it
        raise NotImplementedError(f"{type(self).__name__} must implement aggregate()")


class CumulativeIterationMetric(Cumulative):
    """Call on a batch (a ``B x C x spatial`` tensor or a list of ``C x spatial`` tensors),
    buffer the per-item values, ``aggregate()`` at the end of the epoch (MONAI's
    ``CumulativeIterationMetric``)."""

    def __call__(self, y_pred, y=None, **kwargs):
        """Compute the batch's values, add them to the buffer and return them."""
        if isinstance(y_pred, (list, tuple)) or isinstance(y, (list, tuple)):
            ret = self._compute_list(y_pred, y, **kwargs)
        elif isinstance(y_pred, torch.Tensor):
            ret = self._compute_tensor(y_pred.detach(), y.detach() if isinstance(y, torch.Tensor) else None,
                                       **kwargs)
        else:
            raise ValueError("y_pred or y must be a list/tuple of `channel-first` Tensors or a `batch-first` Tensor.")
        if isinstance(ret, (tuple, list)):
            self.extend(*ret)
        else:
            self.extend(ret)
        return ret

    def _compute_list(self, y_pred, y=None, **kwargs):
        if y is not None:
            ret = [self._compute_tensor(p.detach().unsqueeze(0), t.detach().unsqueeze(0), **kwargs)
                   for p, t in zip(y_pred, y)]
        else:
            ret = [self._compute_tensor(p.detach().unsqueeze(0), None, **kwargs) for p in y_pred]
        if isinstance(ret[0], torch.Tensor):
            return torch.cat(ret, dim=0)
        if isinstance(ret[0], (list, tuple)) and all(isinstance(i, torch.Tensor) for i in ret[0]):
            return [torch.cat(batch_i, dim=0) for batch_i in zip(*ret)]
        return ret

    def _compute_tensor(self, y_pred, y=None, **kwargs):  # pragma: no cover
        raise NotImplementedError

    def _aggregate(self, reduction):
        data = self.get_buffer()
        if not isinstance(data, torch.Tensor):
            raise ValueError(f"the data to aggregate must be PyTorch Tensor, got {type(data)}.")
        f, not_nans = do_metric_reduction(data, reduction or self.reduction)
        return (f, not_nans) if self.get_not_nans else f

    def aggregate(self, reduction=None):
        """Reduce the buffered ``(items, channels)`` values (``reduction`` overrides the
        constructor's); ``(values, not_nans)`` with ``get_not_nans=True``."""
        return self._aggregate(reduction)


# ---------------------------------------------------------------------------
# shared input handling


def _without_background(y_pred, y):
    if y is not None and y.shape[1] > 1:
        y = y[:, 1:]
    return (y_pred[:, 1:] if y_pred.shape[1] > 1 else y_pred), y


def _ignore_mask(y: torch.Tensor, ignore_index):
    """MONAI's create_ignore_mask: (B, 1, *spatial) float, 1 = counted; None without ignore_index."""
    if ignore_index is None:
        return None
    if y.shape[1] == 1:
        return (y != ignore_index).float()
    if 0 <= ignore_index < y.shape[1]:
        return 1.0 - y[:, ignore_index:ignore_index + 1]
    return (y.sum(dim=1, keepdim=True) > 0).float()


def _check_distance_metric(name):
    if name in ("chessboard", "taxicab"):
        raise NotImplementedError(
            f"distance_metric={name!r} is not available in segscore.monai: segscore computes exact Euclidean "
            "distances only. Use distance_metric='euclidean', or monai.metrics for chamfer distances."
        )
    if name != "euclidean":
        raise ValueError(f"distance_metric {name!r} is not implemented; use 'euclidean'")


def _prepare_spacing(spacing, batch_size: int, img_dim: int) -> list:
    """MONAI's prepare_spacing: one spacing entry (None, a number or a sequence) per item."""
    if spacing is None or isinstance(spacing, (int, float)):
        return [spacing] * batch_size
    if isinstance(spacing, (Sequence, np.ndarray)):
        if any(not isinstance(s, type(spacing[0])) for s in list(spacing)):
            raise ValueError(f"if `spacing` is a sequence, its elements should be of same type, got {spacing}.")
        if isinstance(spacing[0], (Sequence, np.ndarray)):
            if len(spacing) != batch_size:
                raise ValueError("if `spacing` is a sequence of sequences, the outer sequence should have same "
                                 f"length as batch size ({batch_size}), got {spacing}.")
            if any(len(s) != img_dim for s in list(spacing)):
                raise ValueError("each element of `spacing` list should either have same length as"
                                 f"image dim ({img_dim}), got {spacing}.")
            if not all(isinstance(i, (int, float)) for s in list(spacing) for i in list(s)):
                raise ValueError("if `spacing` is a sequence of sequences or 2D np.ndarray, the elements should be "
                                 f"integers or floats, got {spacing}.")
            return list(spacing)
        if isinstance(spacing[0], (int, float)):
            if len(spacing) != img_dim:
                raise ValueError(f"if `spacing` is a sequence of numbers, it should have same length as image dim "
                                 f"({img_dim}), got {spacing}.")
            return [spacing] * batch_size
        raise ValueError(f"`spacing` is a sequence of elements with unsupported type: {type(spacing[0])}")
    raise ValueError(
        f"`spacing` should either be a number, a sequence of numbers or a sequence of sequences, got {spacing}.")


def _spacing_tuple(s, ndim):
    if s is None:
        return None
    if isinstance(s, (int, float)):
        return (float(s),) * ndim
    return tuple(float(v) for v in s)


# ---------------------------------------------------------------------------
# boundary metrics: all channels of an item in one segscore call

_MAX_BITS = 30  # channels per packed label map (label values < 2**31)


def _channel_mask(x: torch.Tensor, as_float: bool) -> torch.Tensor:
    """MONAI's mask of one channel: the voxels equal to 1 (True for bool); HD and ASD compare
    after the conversion to float32 (which only matters for float64 values next to 1)."""
    if x.dtype == torch.bool:
        return x
    if as_float and x.dtype == torch.float64:
        x = x.float()
    return x == 1


def _numpy_view(t: torch.Tensor):
    """A numpy view of a CPU tensor (None for a device tensor or a dtype numpy lacks)."""
    if t.device.type != "cpu":
        return None
    try:
        return t.numpy()
    except (TypeError, RuntimeError):
        return None


def _codes_host(x: np.ndarray, chans, as_float: bool):
    """Bit-packed channel masks of one item on the host: (uint8 / uint16 / uint32 codes,
    bitwise or of the codes, whether channels overlap), one compiled pass over x."""
    n = len(chans)
    dt = np.uint8 if n <= 8 else np.uint16 if n <= 16 else np.uint32
    code = np.empty(x.shape[1:], dt)
    lib = cpu()
    if hasattr(lib, "pack_channels"):
        bits, overlap = lib.pack_channels(x, code, c0=chans[0], n=n, round_f32=as_float)
        return code, int(bits), bool(overlap)
    code[...] = 0  # a compiled module without the packing pass: numpy, one channel at a time
    tmp = np.empty(x.shape[1:], dt)
    eq = np.empty(x.shape[1:], bool)
    for j, c in enumerate(chans):
        xc = x[c]
        if xc.dtype != np.bool_:
            if as_float and xc.dtype == np.float64:
                xc = xc.astype(np.float32)
            xc = np.equal(xc, 1, out=eq)
        np.left_shift(xc, j, out=tmp, dtype=dt)
        np.bitwise_or(code, tmp, out=code)
    bits = int(np.bitwise_or.reduce(code, axis=None))
    return code, bits, bool(np.any(np.bitwise_and(code, code - dt(1))))


def _codes_torch(x: torch.Tensor, chans, as_float: bool) -> torch.Tensor:
    """As _codes_numpy with torch operations (device tensors): int32 codes."""
    code = torch.zeros(x.shape[1:], dtype=torch.int32, device=x.device)
    for j, c in enumerate(chans):
        code.add_(_channel_mask(x[c], as_float), alpha=1 << j)
    return code


def _present(pm, rm, nbits: int) -> list:
    """The codes present in either map, ascending."""
    if isinstance(pm, np.ndarray):
        if nbits <= 16:
            hist = np.bincount(pm.ravel(), minlength=1 << nbits) + np.bincount(rm.ravel(), minlength=1 << nbits)
            return np.flatnonzero(hist).tolist()
        return np.union1d(np.unique(pm), np.unique(rm)).tolist()
    if nbits <= 16:
        hist = torch.bincount(pm.flatten(), minlength=1 << nbits) + torch.bincount(rm.flatten(), minlength=1 << nbits)
        return torch.nonzero(hist).flatten().tolist()
    return torch.unique(torch.cat([pm.flatten(), rm.flatten()])).tolist()


def _pack(pred: torch.Tensor, ref: torch.Tensor, as_float: bool):
    """Pack the channel masks of one item, (C, *spatial) tensors, into label maps.

    Each voxel holds the bit set of its channels (bit j = channel g0 + j of a group of up to 30
    channels), so overlapping channels stay independent masks; channel c is the union of the
    codes present with its bit set (a single code for one-hot input).  One pass per channel,
    no (C, *spatial) temporary; host tensors are packed by segscore's compiled pass (no torch thread pool),
    device tensors with torch.  Returns a list of (pred_map, ref_map, {channel: codes})."""
    n = pred.shape[0]
    xp, xr = _numpy_view(pred), _numpy_view(ref)
    host = xp is not None and xr is not None
    groups = []
    for g0 in range(0, n, _MAX_BITS):
        chans = range(g0, min(n, g0 + _MAX_BITS))
        if host:
            (pm, bp, op), (rm, br, orr) = _codes_host(xp, chans, as_float), _codes_host(xr, chans, as_float)
            # one-hot (no voxel in two channels): the codes present are 0 and the single bits seen
            codes = _present(pm, rm, len(chans)) if op or orr else \
                [0] + [1 << j for j in range(len(chans)) if (bp | br) >> j & 1]
        else:
            pm, rm = _codes_torch(pred, chans, as_float), _codes_torch(ref, chans, as_float)
            codes = _present(pm, rm, len(chans))
        regions = {}
        for j, c in enumerate(chans):
            have = tuple(k for k in codes if (k >> j) & 1)
            regions[c] = (have[0] if len(have) == 1 else have) if have else 1 << j
        groups.append((pm, rm, regions))
    return groups


def _surface_batch(pred: torch.Tensor, ref: torch.Tensor, spacing, convention: str, as_float: bool):
    """{(b, c): SurfaceDistances} for (B, C, *spatial) tensors, one segscore call per item (and
    per 30 channels)."""
    out = {}
    for b in range(pred.shape[0]):
        for pm, rm, regions in _pack(pred[b], ref[b], as_float):
            sds = _surface_distances(pm, rm, spacing=spacing[b], convention=convention, labels=regions)
            for c, sd in sds.items():
                out[(b, c)] = sd
    return out


def _n_boundary(sd) -> tuple:
    return len(sd.directed.pred_to_ref[0]), len(sd.directed.ref_to_pred[0])


class _SurfaceMetric(CumulativeIterationMetric):
    def _surface_setup(self, y_pred, y, spacing):
        if y_pred.dim() < 3:
            raise ValueError("y_pred should have at least three dimensions.")
        mask = _ignore_mask(y, self.ignore_index)
        if mask is not None:
            y_pred = y_pred * mask
            y = y * mask
        offset = 0
        if not self.include_background:
            y_pred, y = _without_background(y_pred, y)
            offset = 1
        if y.shape != y_pred.shape:
            raise ValueError(f"y_pred and y should have same shapes, got {y_pred.shape} and {y.shape}.")
        ndim = y_pred.ndim - 2
        sp = [_spacing_tuple(s, ndim) for s in _prepare_spacing(spacing, y_pred.shape[0], ndim)]
        return y_pred, y, sp, offset


class HausdorffDistanceMetric(_SurfaceMetric):
    """Hausdorff distance (or a percentile of it) per batch item and channel, MONAI's class.

    Parameters
    ----------
    include_background : bool, default False
        Score channel 0 too.
    distance_metric : str, default "euclidean"
        Only ``"euclidean"``; ``"chessboard"`` / ``"taxicab"`` raise NotImplementedError.
    percentile : float, optional
        In [0, 100]: the percentile of each direction's distances (MONAI: ``torch.quantile``
        in float32), then the larger; None or 0: the maximum (as MONAI treats 0).
    directed : bool, default False
        Only the prediction -> reference distances.
    reduction : str, default "mean"
        How :meth:`aggregate` reduces the ``(items, channels)`` values, over not-nan values.
    get_not_nans : bool, default False
        :meth:`aggregate` returns ``(value, not_nans)``.
    ignore_index : int, optional
        Voxels of this class (one-hot channel, label value, or with an out-of-range value the
        voxels without any class) are removed from both inputs; the channel of that index is nan.
    convention : str, default "monai"
        ``"monai"``: MONAI 1.6.1's numbers and nan cases (voxel border, float32 distances; one
        empty mask: inf for the maximum, nan for a percentile; both empty: nan).  Any other
        segscore convention computes that library's definition with its empty-mask rules.

    Notes
    -----
    Inputs: ``y_pred`` and ``y`` batch-first ``(B, C, *spatial)`` tensors (1-D to 3-D spatial),
    or lists of ``(C, *spatial)`` tensors; a voxel belongs to channel c when its value is 1.
    ``spacing=`` (a number, one sequence, or one per item) goes to the call.  The values are a
    float32 ``(B, C')`` tensor on ``y_pred``'s device.

    References
    ----------
    .. [1] MONAI 1.6.1, ``monai.metrics.HausdorffDistanceMetric``.

    Examples
    --------
    >>> import torch
    >>> from segscore.monai import HausdorffDistanceMetric
    >>> y = torch.zeros(1, 2, 8, 8); y[0, 1, 2:6, 2:6] = 1; y[0, 0] = 1 - y[0, 1]
    >>> p = y.clone(); p[0, 1, 2:6, 6] = 1
    >>> hd = HausdorffDistanceMetric(percentile=95)
    >>> hd(p, y, spacing=(1.0, 2.0))
    tensor([[2.]])
    >>> hd.aggregate()
    tensor([2.])
    """

    def __init__(self, include_background: bool = False, distance_metric: str = "euclidean",
                 percentile: float | None = None, directed: bool = False, reduction="mean",
                 get_not_nans: bool = False, ignore_index: int | None = None, convention: str = "monai") -> None:
        super().__init__()
        _check_distance_metric(distance_metric)
        _conventions.require(_conventions.get(convention), "hd", "Hausdorff distance")
        self.include_background = include_background
        self.distance_metric = distance_metric
        self.percentile = percentile
        self.directed = directed
        self.reduction = reduction
        self.get_not_nans = get_not_nans
        self.ignore_index = ignore_index
        self.convention = convention

    def _compute_tensor(self, y_pred, y, **kwargs):
        p = self.percentile
        if p and not 0 <= p <= 100:
            raise ValueError(f"percentile should be a value between 0 and 100, get {p}.")
        pred, ref, sp, offset = self._surface_setup(y_pred, y, kwargs.get("spacing"))
        sds = _surface_batch(pred, ref, sp, self.convention, as_float=True)
        monai = self.convention == "monai"
        q = 100.0 if p is None else float(p)
        out = np.empty(pred.shape[:2], dtype=np.float64)
        for (b, c), sd in sds.items():
            if self.ignore_index is not None and c + offset == self.ignore_index:
                out[b, c] = math.nan
            elif monai and (sd.n_pred_voxels == 0 or sd.n_ref_voxels == 0):
                # MONAI: both empty nan; one empty: every distance inf, whose max is inf and whose
                # torch.quantile is nan
                out[b, c] = math.nan if (sd.n_pred_voxels == sd.n_ref_voxels or p) else math.inf
            else:
                out[b, c] = sd.hausdorff(q, directed=self.directed)
        return torch.as_tensor(out, dtype=torch.float32).to(y_pred.device)


class SurfaceDistanceMetric(_SurfaceMetric):
    """Average surface distance per batch item and channel, MONAI's class.

    Parameters
    ----------
    include_background : bool, default False
        Score channel 0 too.
    symmetric : bool, default False
        False: the mean prediction -> reference distance; True: the mean over both
        boundaries' elements (MONAI's symmetric ASD, pooled).
    distance_metric : str, default "euclidean"
        Only ``"euclidean"``; ``"chessboard"`` / ``"taxicab"`` raise NotImplementedError.
    reduction, get_not_nans, ignore_index
        As :class:`HausdorffDistanceMetric` (here the ignored channel is not set to nan, as in
        MONAI).
    convention : str, default "monai"
        ``"monai"``: MONAI's numbers (one empty mask inf, both empty nan); another segscore
        convention: its ASSD (symmetric) or directed ASD with its empty-mask rules.

    Notes
    -----
    Inputs, ``spacing=`` and the output are as in :class:`HausdorffDistanceMetric`.

    References
    ----------
    .. [1] MONAI 1.6.1, ``monai.metrics.SurfaceDistanceMetric``.

    Examples
    --------
    >>> import torch
    >>> from segscore.monai import SurfaceDistanceMetric
    >>> y = torch.zeros(2, 1, 8, 8); y[:, 0, 2:6, 2:6] = 1
    >>> p = y.clone(); p[0, 0, 2:6, 6] = 1; p[1] = 0
    >>> m = SurfaceDistanceMetric(include_background=True, symmetric=True)
    >>> m(p, y)
    tensor([[0.2308],
            [   inf]])
    """

    def __init__(self, include_background: bool = False, symmetric: bool = False,
                 distance_metric: str = "euclidean", reduction="mean", get_not_nans: bool = False,
                 ignore_index: int | None = None, convention: str = "monai") -> None:
        super().__init__()
        _check_distance_metric(distance_metric)
        _conventions.require(_conventions.get(convention), "assd" if symmetric else "asd", "ASSD")
        self.include_background = include_background
        self.distance_metric = distance_metric
        self.symmetric = symmetric
        self.reduction = reduction
        self.get_not_nans = get_not_nans
        self.ignore_index = ignore_index
        self.convention = convention

    def _compute_tensor(self, y_pred, y, **kwargs):
        pred, ref, sp, _ = self._surface_setup(y_pred, y, kwargs.get("spacing"))
        sds = _surface_batch(pred, ref, sp, self.convention, as_float=True)
        out = np.empty(pred.shape[:2], dtype=np.float64)
        for (b, c), sd in sds.items():
            out[b, c] = sd.assd() if self.symmetric else sd.asd(directed=True)
        return torch.as_tensor(out, dtype=torch.float32).to(y_pred.device)


class SurfaceDiceMetric(_SurfaceMetric):
    """Normalised surface Dice (NSD) per batch item and channel, MONAI's class.

    Parameters
    ----------
    class_thresholds : list of float
        Tolerance (mm) per scored channel (without channel 0 when ``include_background`` is
        False); finite and >= 0.
    include_background : bool, default False
        Score channel 0 too.
    distance_metric : str, default "euclidean"
        Only ``"euclidean"``; ``"chessboard"`` / ``"taxicab"`` raise NotImplementedError.
    reduction, get_not_nans
        As :class:`HausdorffDistanceMetric`.
    use_subvoxels : bool, default False
        With ``convention="monai"``: weight boundary elements by their surfel areas (MONAI's
        subvoxel mode, segscore's ``"monai-subvoxels"`` convention).
    ignore_index : int, optional
        Voxels of this class are removed from both inputs (the channel itself is scored).
    convention : str, default "monai"
        ``"monai"``: MONAI's numbers (one empty mask 0, both empty nan); another segscore
        convention: its NSD.

    Notes
    -----
    Inputs are ``(B, C, H, W)`` or ``(B, C, H, W, D)``; ``spacing=`` and the output are as in
    :class:`HausdorffDistanceMetric`.

    References
    ----------
    .. [1] Nikolov, S. et al. (2021). Clinically applicable segmentation of head and neck anatomy
        for radiotherapy. JMIR 23(7), e26151.
    .. [2] MONAI 1.6.1, ``monai.metrics.SurfaceDiceMetric``.

    Examples
    --------
    >>> import torch
    >>> from segscore.monai import SurfaceDiceMetric
    >>> y = torch.zeros(1, 2, 8, 8); y[0, 1, 2:6, 2:6] = 1; y[0, 0] = 1 - y[0, 1]
    >>> p = y.clone(); p[0, 1, 2:6, 6] = 1
    >>> SurfaceDiceMetric(class_thresholds=[0.5])(p, y)
    tensor([[0.7692]])
    """

    def __init__(self, class_thresholds: list, include_background: bool = False,
                 distance_metric: str = "euclidean", reduction="mean", get_not_nans: bool = False,
                 use_subvoxels: bool = False, ignore_index: int | None = None, convention: str = "monai") -> None:
        super().__init__()
        _check_distance_metric(distance_metric)
        _conventions.require(_conventions.get(convention), "nsd", "NSD")
        self.class_thresholds = class_thresholds
        self.include_background = include_background
        self.distance_metric = distance_metric
        self.reduction = reduction
        self.get_not_nans = get_not_nans
        self.use_subvoxels = use_subvoxels
        self.ignore_index = ignore_index
        self.convention = convention

    def _compute_tensor(self, y_pred, y, **kwargs):
        if not isinstance(y_pred, torch.Tensor) or not isinstance(y, torch.Tensor):
            raise ValueError("y_pred and y must be PyTorch Tensor.")
        if y_pred.ndimension() not in (4, 5) or y.ndimension() not in (4, 5):
            raise ValueError("y_pred and y should be one-hot encoded: [B,C,H,W] or [B,C,H,W,D].")
        pred, ref, sp, _ = self._surface_setup(y_pred, y, kwargs.get("spacing"))
        n_class = pred.shape[1]
        th = self.class_thresholds
        if n_class != len(th):
            raise ValueError(f"number of classes ({n_class}) does not match number of class thresholds ({len(th)}).")
        if any(~np.isfinite(th)):
            raise ValueError("All class thresholds need to be finite.")
        if any(np.array(th) < 0):
            raise ValueError("All class thresholds need to be >= 0.")
        conv = self.convention
        if conv == "monai" and self.use_subvoxels:
            conv = "monai-subvoxels"
        sds = _surface_batch(pred, ref, sp, conv, as_float=False)
        out = np.empty(pred.shape[:2], dtype=np.float64)
        for (b, c), sd in sds.items():
            out[b, c] = sd.nsd(float(th[c]))
        return torch.as_tensor(out, dtype=torch.float32).to(y_pred.device)


# ---------------------------------------------------------------------------
# overlap metrics: whole-batch tensor reductions (no per-channel Python loop)


def _spatial_sum(t: torch.Tensor) -> torch.Tensor:
    dims = list(range(2, t.ndim))
    if t.dtype == torch.bool:
        return t.sum(dim=dims, dtype=torch.int64)
    return t.sum(dim=dims)


class DiceMetric(CumulativeIterationMetric):
    """Dice score per batch item and channel, MONAI's class.

    Parameters
    ----------
    include_background : bool, default True
        Score channel 0 too.
    reduction : str, default "mean"
        How :meth:`aggregate` reduces the ``(items, channels)`` values, over not-nan values.
    get_not_nans : bool, default False
        :meth:`aggregate` returns ``(value, not_nans)``.
    ignore_empty : bool, default True
        An empty reference gives nan (skipped by :meth:`aggregate`); False: 1 when the
        prediction is empty too, else 0.
    num_classes : int, optional
        Number of classes with the background; needed when both inputs are label maps
        ``(B, 1, *spatial)``.
    return_with_label : bool or list of str, default False
        With ``reduction="mean_batch"``: :meth:`aggregate` returns ``{"label_<i>": value}``
        (or the given names), values rounded to 4 decimals.
    per_component : bool, default False
        Dice per connected component of the reference (each voxel assigned to its nearest
        component), averaged: inputs ``(B, 2, *spatial)``; one value per item.
    ignore_index : int, optional
        Voxels of this class (one-hot channel, label value, or with an out-of-range value the
        voxels without any class) are removed from every channel.

    Notes
    -----
    ``y_pred`` channels count where nonzero; ``y`` enters with its values (soft references
    allowed), as in MONAI: ``2 * sum(y[pred]) / (sum(y) + sum(pred))``.  The values are a
    ``(B, C')`` tensor on ``y``'s device (float32; float64 for a float64 ``y``).

    References
    ----------
    .. [1] MONAI 1.6.1, ``monai.metrics.DiceMetric``.

    Examples
    --------
    >>> import torch
    >>> from segscore.monai import DiceMetric
    >>> y = torch.tensor([[[1, 1, 0, 0]], [[0, 0, 0, 0]]])
    >>> p = torch.tensor([[[1, 0, 0, 0]], [[1, 0, 0, 0]]])
    >>> dice = DiceMetric(get_not_nans=True)
    >>> dice(p, y)
    tensor([[0.6667],
            [   nan]])
    >>> dice.aggregate()  # MONAI's "mean" has shape (1,)
    (tensor([0.6667]), tensor(1.))
    """

    def __init__(self, include_background: bool = True, reduction="mean", get_not_nans: bool = False,
                 ignore_empty: bool = True, num_classes: int | None = None, return_with_label=False,
                 per_component: bool = False, ignore_index: int | None = None) -> None:
        super().__init__()
        self.include_background = include_background
        self.reduction = reduction
        self.get_not_nans = get_not_nans
        self.ignore_empty = ignore_empty
        self.num_classes = num_classes
        self.return_with_label = return_with_label
        self.per_component = per_component
        self.ignore_index = ignore_index

    def _compute_tensor(self, y_pred, y):
        dims = y_pred.ndimension()
        if dims < 3:
            raise ValueError(f"y_pred should have at least 3 dimensions (batch, channel, spatial), got {dims}.")
        if self.per_component:
            return self._per_component(y_pred, y)
        n_ch = y_pred.shape[1] if self.num_classes is None else self.num_classes
        mask = _ignore_mask(y, self.ignore_index)
        first = 0 if self.include_background else 1
        chans = list(range(first, n_ch)) if n_ch > 1 else [1]
        if y_pred.shape[1] == 1:
            pred = torch.stack([y_pred[:, 0] == c for c in chans], dim=1)
        else:
            pred = y_pred[:, chans].bool()
        if y.shape[1] == 1:
            ref = torch.stack([y[:, 0] == c for c in chans], dim=1)
        else:
            ref = y[:, chans]
        if mask is not None:
            pred = pred & mask.bool()
            ref = ref * mask
        if ref.dtype == torch.bool:
            inter = _spatial_sum(pred & ref)
        else:
            inter = _spatial_sum(torch.where(pred, ref, torch.zeros((), dtype=ref.dtype, device=ref.device)))
        y_o = _spatial_sum(ref)
        p_o = _spatial_sum(pred)
        with np.errstate(all="ignore"):
            dice = (2.0 * inter) / (y_o + p_o)
        special = torch.full_like(dice, math.nan) if self.ignore_empty else \
            torch.where(y_o + p_o <= 0, torch.ones_like(dice), torch.zeros_like(dice))
        out = torch.where(y_o > 0, dice, special.to(dice.dtype))
        if not bool((y_o > 0).all()):  # MONAI stacks float32 nan / 1 / 0 among its values
            out = out.to(torch.promote_types(out.dtype, torch.float32))
        return out

    def _per_component(self, y_pred, y):
        if (y_pred.ndim not in (4, 5) or y.ndim not in (4, 5) or y_pred.shape[1] != 2 or y.shape[1] != 2
                or y_pred.shape != y.shape):
            raise ValueError("per_component requires matching 4D/5D binary tensors (B, 2, H, W) or (B, 2, D, H, W). "
                             f"Got y_pred={tuple(y_pred.shape)}, y={tuple(y.shape)}.")
        from scipy import ndimage

        vals = []
        for b in range(y_pred.shape[0]):
            p = torch.argmax(y_pred[b], dim=0)
            t = torch.argmax(y[b], dim=0)
            if t.sum() == 0:
                v = math.nan if self.ignore_empty else (1.0 if p.sum() == 0 else 0.0)
                vals.append(torch.tensor(v, device=y.device))
                continue
            tn = t.cpu().numpy()
            cc, _ = ndimage.label(tn > 0, structure=ndimage.generate_binary_structure(tn.ndim, tn.ndim))
            idx = ndimage.distance_transform_edt(cc == 0, return_distances=False, return_indices=True)
            comp = torch.as_tensor(cc[tuple(idx)].astype(np.int64), device=y.device).flatten()
            _, inv = torch.unique(comp, return_inverse=True)
            n = int(inv.max()) + 1
            code = (inv << 2) | (t.flatten().long() << 1) | p.flatten().long()
            hist = torch.bincount(code, minlength=4 * n).reshape(-1, 4)
            fp, fn, tp = hist[:, 1], hist[:, 2], hist[:, 3]
            den = 2 * tp + fp + fn
            d = torch.where(den > 0, (2 * tp).float() / den.float(), torch.tensor(1.0, device=den.device))
            vals.append(torch.nan_to_num(d).mean())
        return torch.stack(vals).reshape(-1, 1)

    def aggregate(self, reduction=None):
        """Reduce the buffered values; a ``{label: value}`` dict with ``return_with_label``
        and ``reduction="mean_batch"``; ``(values, not_nans)`` with ``get_not_nans``."""
        data = self.get_buffer()
        if not isinstance(data, torch.Tensor):
            raise ValueError(f"the data to aggregate must be PyTorch Tensor, got {type(data)}.")
        f, not_nans = do_metric_reduction(data, reduction or self.reduction)
        if _reduction_name(self.reduction) == "mean_batch" and self.return_with_label:
            if isinstance(self.return_with_label, bool):
                start = 0 if self.include_background else 1
                f = {f"label_{i + start}": round(v.item(), 4) for i, v in enumerate(f)}
            else:
                f = {k: round(v.item(), 4) for k, v in zip(self.return_with_label, f)}
        return (f, not_nans) if self.get_not_nans else f


def _zero_channel_or_mask(y_pred, y, include_background, ignore_index, original_y):
    """MeanIoU / ConfusionMatrixMetric: an in-range ignore_index zeroes its channel; another
    value masks voxels as create_ignore_mask does."""
    if ignore_index is not None and 0 <= ignore_index < y_pred.shape[1] + (0 if include_background else 1):
        ch = ignore_index if include_background else ignore_index - 1
        if 0 <= ch < y_pred.shape[1]:
            y_pred = y_pred.clone()
            y = y.clone()
            y_pred[:, ch] = 0
            y[:, ch] = 0
        return y_pred, y, None
    return y_pred, y, _ignore_mask(original_y if ignore_index is not None else y, ignore_index)


class MeanIoU(CumulativeIterationMetric):
    """Intersection over union per batch item and channel, MONAI's class.

    Parameters
    ----------
    include_background : bool, default True
        Score channel 0 too.
    reduction, get_not_nans
        As :class:`DiceMetric`.
    ignore_empty : bool, default True
        An empty reference gives nan; False: 1 when the union is empty, else the IoU.
    ignore_index : int, optional
        An index of a scored channel zeroes that channel (so it is empty); another value
        masks voxels as in :class:`DiceMetric`.

    Notes
    -----
    Both inputs enter with their values: ``sum(y * p) / (sum(y) + sum(p) - sum(y * p))``.

    References
    ----------
    .. [1] MONAI 1.6.1, ``monai.metrics.MeanIoU``.

    Examples
    --------
    >>> import torch
    >>> from segscore.monai import MeanIoU
    >>> y = torch.tensor([[[1, 1, 0, 0]]]); p = torch.tensor([[[1, 0, 1, 0]]])
    >>> MeanIoU()(p, y)
    tensor([[0.3333]])
    """

    def __init__(self, include_background: bool = True, reduction="mean", get_not_nans: bool = False,
                 ignore_empty: bool = True, ignore_index: int | None = None) -> None:
        super().__init__()
        self.include_background = include_background
        self.reduction = reduction
        self.get_not_nans = get_not_nans
        self.ignore_empty = ignore_empty
        self.ignore_index = ignore_index

    def _compute_tensor(self, y_pred, y):
        dims = y_pred.ndimension()
        if dims < 3:
            raise ValueError(f"y_pred should have at least 3 dimensions (batch, channel, spatial), got {dims}.")
        original_y = y
        if not self.include_background:
            y_pred, y = _without_background(y_pred, y)
        if y.shape != y_pred.shape:
            raise ValueError(f"y_pred and y should have same shapes, got {y_pred.shape} and {y.shape}.")
        y_pred, y, mask = _zero_channel_or_mask(y_pred, y, self.include_background, self.ignore_index, original_y)
        if mask is not None:
            mask = mask.expand_as(y_pred) if mask.shape != y_pred.shape else mask
            y_pred = y_pred * mask
            y = y * mask
        inter = _spatial_sum(y * y_pred)
        y_o = _spatial_sum(y)
        union = y_o + _spatial_sum(y_pred) - inter
        if self.ignore_empty:
            return torch.where(y_o > 0, inter / union, torch.tensor(math.nan, device=y_o.device))
        return torch.where(union > 0, inter / union, torch.tensor(1.0, device=y_o.device))


_CM_NAMES = {
    "tpr": ("sensitivity", "recall", "hit_rate", "true_positive_rate", "tpr"),
    "tnr": ("specificity", "selectivity", "true_negative_rate", "tnr"),
    "ppv": ("precision", "positive_predictive_value", "ppv"),
    "npv": ("negative_predictive_value", "npv"),
    "fnr": ("miss_rate", "false_negative_rate", "fnr"),
    "fpr": ("fall_out", "false_positive_rate", "fpr"),
    "fdr": ("false_discovery_rate", "fdr"),
    "for": ("false_omission_rate", "for"),
    "pt": ("prevalence_threshold", "pt"),
    "ts": ("threat_score", "critical_success_index", "ts", "csi"),
    "acc": ("accuracy", "acc"),
    "ba": ("balanced_accuracy", "ba"),
    "f1": ("f1_score", "f1"),
    "mcc": ("matthews_correlation_coefficient", "mcc"),
    "fm": ("fowlkes_mallows_index", "fm"),
    "bm": ("informedness", "bookmaker_informedness", "bm", "youden_index", "youden"),
    "mk": ("markedness", "deltap", "mk"),
}


def _cm_metric_key(name: str) -> str:
    n = name.replace(" ", "_").lower()
    for key, names in _CM_NAMES.items():
        if n in names:
            return key
    raise NotImplementedError(f"the metric {name!r} is not implemented; one of "
                              f"{sorted(n for v in _CM_NAMES.values() for n in v)}")


def _confusion_metric(name: str, cm: torch.Tensor) -> torch.Tensor:
    """One metric from ``(..., 4)`` confusion counts (tp, fp, tn, fn), MONAI's formulas (nan
    where a denominator is 0)."""
    key = _cm_metric_key(name)
    if cm.ndimension() == 1:
        cm = cm.unsqueeze(0)
    if cm.shape[-1] != 4:
        raise ValueError("the size of the last dimension of confusion_matrix should be 4.")
    tp, fp, tn, fn = cm[..., 0], cm[..., 1], cm[..., 2], cm[..., 3]
    p, n = tp + fn, fp + tn
    nan = torch.tensor(math.nan, device=cm.device)

    def rate(a, b):
        return torch.where(b > 0, a / b, nan)

    simple = {"tpr": (tp, p), "tnr": (tn, n), "ppv": (tp, tp + fp), "npv": (tn, tn + fn), "fnr": (fn, p),
              "fpr": (fp, n), "fdr": (fp, fp + tp), "for": (fn, fn + tn), "ts": (tp, tp + fn + fp),
              "acc": (tp + tn, p + n), "f1": (tp * 2.0, tp * 2.0 + fn + fp)}
    if key in simple:
        num, den = simple[key]
    elif key == "mcc":
        num, den = tp * tn - fp * fn, torch.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    elif key == "pt":
        tpr, tnr = rate(tp, p), rate(tn, n)
        num, den = torch.sqrt(tpr * (1.0 - tnr)) + tnr - 1.0, tpr + tnr - 1.0
    elif key == "ba":
        return (rate(tp, p) + rate(tn, n)) / 2.0
    elif key == "fm":
        return torch.sqrt(rate(tp, tp + fp) * rate(tp, p)) / 1.0
    elif key == "bm":
        return (rate(tp, p) + rate(tn, n) - 1.0) / 1.0
    else:  # mk
        return (rate(tp, tp + fp) + rate(tn, tn + fn) - 1.0) / 1.0
    return torch.where(den != 0, num / den, nan)


class ConfusionMatrixMetric(CumulativeIterationMetric):
    """Confusion-matrix metrics (sensitivity, precision, F1, MCC, ...), MONAI's class.

    Parameters
    ----------
    include_background : bool, default True
        Score channel 0 too.
    metric_name : str or sequence of str, default "hit_rate"
        Any of MONAI's names: sensitivity / recall / hit_rate / tpr, specificity / tnr,
        precision / ppv, npv, miss_rate / fnr, fall_out / fpr, fdr, for, pt, ts / csi,
        accuracy, balanced_accuracy, f1_score, mcc, fm, informedness / youden, markedness.
    compute_sample : bool, default False
        Compute each metric per item before reducing (else from the reduced counts).
    reduction, get_not_nans
        As :class:`DiceMetric`.
    ignore_index : int, optional
        As :class:`MeanIoU`.

    Notes
    -----
    A call returns the ``(B, C', 4)`` counts (tp, fp, tn, fn) as float32; :meth:`aggregate`
    returns a list with one entry per metric name.

    References
    ----------
    .. [1] MONAI 1.6.1, ``monai.metrics.ConfusionMatrixMetric``.

    Examples
    --------
    >>> import torch
    >>> from segscore.monai import ConfusionMatrixMetric
    >>> y = torch.tensor([[[1, 1, 0, 0]]]); p = torch.tensor([[[1, 0, 1, 0]]])
    >>> m = ConfusionMatrixMetric(metric_name=["sensitivity", "f1"])
    >>> m(p, y)
    tensor([[[1., 1., 1., 1.]]])
    >>> m.aggregate()
    [tensor([0.5000]), tensor([0.5000])]
    """

    def __init__(self, include_background: bool = True, metric_name="hit_rate", compute_sample: bool = False,
                 reduction="mean", get_not_nans: bool = False, ignore_index: int | None = None) -> None:
        super().__init__()
        self.include_background = include_background
        self.metric_name = (metric_name,) if isinstance(metric_name, str) else tuple(metric_name)
        self.compute_sample = compute_sample
        self.reduction = reduction
        self.get_not_nans = get_not_nans
        self.ignore_index = ignore_index

    def _compute_tensor(self, y_pred, y):
        dims = y_pred.ndimension()
        if dims < 2:
            raise ValueError("y_pred should have at least two dimensions.")
        if dims == 2 or (dims == 3 and y_pred.shape[-1] == 1):
            if self.compute_sample:
                warnings.warn("As for classification task, compute_sample should be False.", stacklevel=2)
                self.compute_sample = False
        original_y = y
        if not self.include_background:
            y_pred, y = _without_background(y_pred, y)
        if y.shape != y_pred.shape:
            raise ValueError(f"y_pred and y should have same shapes, got {y_pred.shape} and {y.shape}.")
        b, c = y_pred.shape[:2]
        y_pred, y, mask = _zero_channel_or_mask(y_pred, y, self.include_background, self.ignore_index, original_y)
        y_pred = y_pred.reshape(b, c, -1)
        y = y.reshape(b, c, -1)
        if mask is not None:
            mask = mask.reshape(b, 1, -1)
            y_pred = y_pred * mask
            y = y * mask
        s = y_pred + y
        tp = (s == 2).sum(dim=[2]).float()
        tn = ((s == 0) & mask.bool()) if mask is not None else (s == 0)
        tn = tn.sum(dim=[2]).float()
        p = y.sum(dim=[2]).float()
        n = (mask.reshape(b, -1).sum(dim=1, keepdim=True) - p) if mask is not None else y.shape[-1] - p
        return torch.stack([tp, n - tn, tn, p - tp], dim=-1)

    def aggregate(self, compute_sample: bool = False, reduction=None):
        """One entry per metric name: the reduced value (``(value, not_nans)`` with
        ``get_not_nans``)."""
        data = self.get_buffer()
        if not isinstance(data, torch.Tensor):
            raise ValueError("the data to aggregate must be PyTorch Tensor.")
        out = []
        for name in self.metric_name:
            if compute_sample or self.compute_sample:
                f, not_nans = do_metric_reduction(_confusion_metric(name, data), reduction or self.reduction)
            else:
                f, not_nans = do_metric_reduction(data, reduction or self.reduction)
                f = _confusion_metric(name, f)
            out.append((f, not_nans) if self.get_not_nans else f)
        return out


class AbsoluteVolumeDifferenceMetric(CumulativeIterationMetric):
    """Absolute volume difference ``|sum(y_pred) - sum(y)|`` (voxels) per item and channel,
    MONAI's class.

    Parameters
    ----------
    include_background : bool, default True
        Score channel 0 too.
    reduction, get_not_nans
        As :class:`DiceMetric`.
    ignore_empty : bool, default True
        An empty reference gives nan.

    Notes
    -----
    Volumes are voxel sums of the values (MONAI takes no spacing); the dtype follows the
    inputs' sums (int64 for integer / bool inputs without ``ignore_empty``, float32 with it).

    References
    ----------
    .. [1] MONAI 1.6.1, ``monai.metrics.AbsoluteVolumeDifferenceMetric``.

    Examples
    --------
    >>> import torch
    >>> from segscore.monai import AbsoluteVolumeDifferenceMetric
    >>> y = torch.tensor([[[1, 1, 0, 0]]]); p = torch.tensor([[[1, 0, 1, 1]]])
    >>> AbsoluteVolumeDifferenceMetric()(p, y)
    tensor([[1.]])
    """

    def __init__(self, include_background: bool = True, reduction="mean", get_not_nans: bool = False,
                 ignore_empty: bool = True) -> None:
        super().__init__()
        self.include_background = include_background
        self.reduction = reduction
        self.get_not_nans = get_not_nans
        self.ignore_empty = ignore_empty

    def _compute_tensor(self, y_pred, y):
        if y_pred.ndimension() < 3:
            raise ValueError(
                f"y_pred should have at least 3 dimensions (batch, channel, spatial), got {y_pred.ndimension()}.")
        if not self.include_background:
            y_pred, y = _without_background(y_pred, y)
        if y_pred.shape != y.shape:
            raise ValueError(f"y_pred and y should have the same shape, got {y_pred.shape} and {y.shape}.")
        dims = list(range(2, y_pred.ndim))
        vol_pred, vol_true = torch.sum(y_pred, dim=dims), torch.sum(y, dim=dims)
        avd = torch.abs(vol_pred - vol_true)
        if self.ignore_empty:
            avd = torch.where(vol_true > 0, avd, torch.tensor(math.nan, device=avd.device))
        return avd


# ---------------------------------------------------------------------------
# calibration: segscore's binning pass per (item, channel), MONAI's convention

_CAL_REDUCTIONS = ("expected", "average", "maximum")


class CalibrationErrorMetric(CumulativeIterationMetric):
    """Calibration error per batch item and channel, MONAI's class.

    Each channel is binned on its own (its probabilities against its binary reference) with
    MONAI's edges (``linspace(0, 1 + eps32, num_bins + 1)`` in float32) and float32 sums,
    through segscore's calibration pass (``convention="monai"``).

    Parameters
    ----------
    num_bins : int, default 20
        Equal-width bins.
    include_background : bool, default True
        Score channel 0 too.
    calibration_reduction : {"expected", "average", "maximum"}, default "expected"
        ECE (count-weighted), ACE (mean over non-empty bins) or MCE (the largest bin gap).
    metric_reduction : str, default "mean"
        How :meth:`aggregate` reduces the ``(items, channels)`` values.
    get_not_nans : bool, default False
        :meth:`aggregate` returns ``(value, not_nans)``.
    right : bool, default False
        False: bins (l, u]; True: [l, u) (``torch.bucketize``'s ``right``).

    Notes
    -----
    ``y_pred`` holds probabilities in [0, 1] (no nan) and ``y`` a binary (0 / 1) one-hot
    reference of the same shape; other values raise (MONAI bins them anyway).  The values are
    a float32 ``(B, C')`` tensor on ``y_pred``'s device.

    References
    ----------
    .. [1] Guo, C. et al. (2017). On calibration of modern neural networks. ICML.
    .. [2] MONAI 1.6.1, ``monai.metrics.CalibrationErrorMetric``.

    Examples
    --------
    >>> import torch
    >>> from segscore.monai import CalibrationErrorMetric
    >>> p = torch.tensor([[[0.1, 0.3, 0.8, 0.9]]]); y = torch.tensor([[[0.0, 1.0, 1.0, 1.0]]])
    >>> CalibrationErrorMetric(num_bins=5)(p, y)
    tensor([[0.2750]])
    """

    def __init__(self, num_bins: int = 20, include_background: bool = True, calibration_reduction="expected",
                 metric_reduction="mean", get_not_nans: bool = False, right: bool = False) -> None:
        super().__init__()
        red = getattr(calibration_reduction, "value", calibration_reduction)
        if red not in _CAL_REDUCTIONS:
            raise ValueError(f"calibration_reduction must be one of {_CAL_REDUCTIONS}, got {calibration_reduction!r}")
        self.num_bins = num_bins
        self.include_background = include_background
        self.calibration_reduction = red
        self.metric_reduction = metric_reduction
        self.reduction = metric_reduction
        self.get_not_nans = get_not_nans
        self.right = right

    def _compute_tensor(self, y_pred, y, **kwargs):
        from .calibration.functional import reliability

        if not self.include_background:
            y_pred, y = _without_background(y_pred, y)
        if y_pred.shape != y.shape:
            raise ValueError(f"y_pred and y must have the same shape, got {y_pred.shape} and {y.shape}.")
        if y_pred.ndim < 3:
            raise ValueError(f"y_pred must have shape (B, C, spatial...), got ndim={y_pred.ndim}.")
        if self.num_bins < 1:
            raise ValueError(f"num_bins must be >= 1, got {self.num_bins}.")
        if not bool(((y == 0) | (y == 1)).all()):
            raise ValueError("CalibrationErrorMetric in segscore.monai needs a binary (0 / 1) reference y; "
                             "threshold or one-hot encode it (MONAI also bins soft references)")
        probs = y_pred if y_pred.is_floating_point() else y_pred.float()
        target = y.to(torch.uint8)
        out = np.empty(y_pred.shape[:2], dtype=np.float64)
        for b in range(y_pred.shape[0]):
            for c in range(y_pred.shape[1]):
                rel = reliability(probs[b, c], target[b, c], n_bins=self.num_bins, convention="monai",
                                  closed="left" if self.right else "right", ends="clamp")
                cnt = rel.count[0]
                if cnt.sum() == 0:
                    out[b, c] = math.nan
                elif self.calibration_reduction == "expected":
                    out[b, c] = rel.ece()
                elif self.calibration_reduction == "average":
                    out[b, c] = rel.ace()
                else:
                    out[b, c] = rel.mce()
        return torch.as_tensor(out, dtype=torch.float32).to(y_pred.device)

    def aggregate(self, reduction=None):
        """Reduce the buffered values with ``metric_reduction`` (or `reduction`)."""
        return self._aggregate(reduction or self.metric_reduction)


# ---------------------------------------------------------------------------
# panoptic quality: instance overlaps from segscore's counting pass


def _instance_overlaps(pred: np.ndarray, ref: np.ndarray):
    """(ref ids, pred ids, (n_ref, n_pred) intersections, ref sizes, pred sizes) of two
    instance maps, from one counting pass (the joint histogram of label pairs)."""
    pairs = cpu().overlap_stats(pred, ref, ignore_label=-1, threads=0)["pairs"]
    p_lab, r_lab, cnt = pairs[:, 0], pairs[:, 1], pairs[:, 2]
    p_ids = np.unique(p_lab[p_lab != 0])
    r_ids = np.unique(r_lab[r_lab != 0])
    p_size = np.zeros(len(p_ids), np.int64)
    r_size = np.zeros(len(r_ids), np.int64)
    np.add.at(p_size, np.searchsorted(p_ids, p_lab[p_lab != 0]), cnt[p_lab != 0])
    np.add.at(r_size, np.searchsorted(r_ids, r_lab[r_lab != 0]), cnt[r_lab != 0])
    inter = np.zeros((len(r_ids), len(p_ids)), np.int64)
    both = (p_lab != 0) & (r_lab != 0)
    inter[np.searchsorted(r_ids, r_lab[both]), np.searchsorted(p_ids, p_lab[both])] = cnt[both]
    return r_ids, p_ids, inter, r_size, p_size


def _panoptic_counts(pred: np.ndarray, ref: np.ndarray, threshold: float) -> list:
    """[tp, fp, fn, iou_sum] of one class, as MONAI's compute_panoptic_quality: IoU > threshold
    matches (unique for threshold >= 0.5, else a maximum-IoU assignment), float32 IoUs."""
    r_ids, p_ids, inter, r_size, p_size = _instance_overlaps(pred, ref)
    union = r_size[:, None] + p_size[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(inter > 0, inter / np.maximum(union, 1), 0.0).astype(np.float32)
    if threshold >= 0.5:
        iou[iou <= np.float32(threshold)] = 0
        rows, cols = np.nonzero(iou)
    else:
        from scipy.optimize import linear_sum_assignment

        rows, cols = linear_sum_assignment(-iou)
        keep = iou[rows, cols] > threshold
        rows, cols = rows[keep], cols[keep]
    paired = iou[rows, cols]
    iou_sum = float(torch.as_tensor(paired).sum()) if len(paired) else 0.0
    tp = len(rows)
    return [tp, len(p_ids) - len(np.unique(cols)), len(r_ids) - len(np.unique(rows)), iou_sum]


class PanopticQualityMetric(CumulativeIterationMetric):
    """Panoptic, segmentation and recognition quality (PQ, SQ, RQ) per item and class,
    MONAI's class.

    Parameters
    ----------
    num_classes : int
        Classes 1 .. num_classes are scored (0 is background).
    metric_name : str or sequence of str, default "pq"
        ``"pq"`` / ``"panoptic_quality"``, ``"sq"`` / ``"segmentation_quality"``, ``"rq"`` /
        ``"recognition_quality"``; several give a list from :meth:`aggregate`.
    reduction : str, default "mean_batch"
        How :meth:`aggregate` reduces the ``(items, classes, 4)`` counts before the quality.
    match_iou_threshold : float, default 0.5
        In (0, 1]: a pair matches when its IoU is above it (>= 0.5: the unique matches; below:
        a maximum-IoU assignment, scipy).
    smooth_numerator : float, default 1e-6
        Added to the denominators.
    return_confusion_matrix : bool, default False
        :meth:`aggregate` returns the reduced ``(tp, fp, fn, iou_sum)`` instead.

    Notes
    -----
    Inputs are ``(B, 2, H, W[, D])``: channel 0 instance ids, channel 1 class labels.  Each
    class's instance overlaps come from segscore's single counting pass (the joint histogram of
    (prediction id, reference id)); a call returns float32 ``(B, num_classes, 4)`` counts on
    ``y_pred``'s device.  Instance ids must be >= 0 (after MONAI's ``int()`` conversion).

    References
    ----------
    .. [1] Kirillov, A. et al. (2019). Panoptic segmentation. CVPR.
    .. [2] MONAI 1.6.1, ``monai.metrics.PanopticQualityMetric``.

    Examples
    --------
    >>> import torch
    >>> from segscore.monai import PanopticQualityMetric
    >>> y = torch.zeros(1, 2, 6, 6, dtype=torch.long)
    >>> y[0, 0, 0:2, 0:2] = 1; y[0, 0, 3:6, 3:6] = 2; y[0, 1] = (y[0, 0] > 0).long()
    >>> p = y.clone(); p[0, 0, 3:6, 3] = 0; p[0, 1] = (p[0, 0] > 0).long()
    >>> m = PanopticQualityMetric(num_classes=1)
    >>> m(p, y)
    tensor([[[2.0000, 0.0000, 0.0000, 1.6667]]])
    >>> m.aggregate()
    tensor([0.8333])
    """

    def __init__(self, num_classes: int, metric_name="pq", reduction="mean_batch", match_iou_threshold: float = 0.5,
                 smooth_numerator: float = 1e-6, return_confusion_matrix: bool = False) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.reduction = reduction
        self.match_iou_threshold = match_iou_threshold
        self.smooth_numerator = smooth_numerator
        self.metric_name = (metric_name,) if isinstance(metric_name, str) else tuple(metric_name)
        self.return_confusion_matrix = return_confusion_matrix
        self.get_not_nans = False

    def _compute_tensor(self, y_pred, y):
        if y_pred.shape != y.shape:
            raise ValueError(f"y_pred and y should have same shapes, got {y_pred.shape} and {y.shape}.")
        if y_pred.shape[1] != 2:
            raise ValueError(
                f"for panoptic quality calculation, only 2 channels input is supported, got {y_pred.shape[1]}.")
        if y_pred.ndimension() not in (4, 5):
            raise ValueError("y_pred should have 4 dimensions (batch, 2, h, w) or 5 dimensions (batch, 2, h, w, d), "
                             f"got {y_pred.ndimension()}.")
        t = self.match_iou_threshold
        if t <= 0.0 or t > 1.0:
            raise ValueError(f"'match_iou_threshold' should be within (0, 1], got: {t}.")
        out = np.zeros((y_pred.shape[0], self.num_classes, 4), np.float64)
        for b in range(y_pred.shape[0]):
            for c in range(self.num_classes):
                p = ((y_pred[b, 1] == c + 1) * y_pred[b, 0]).int().cpu().numpy()
                r = ((y[b, 1] == c + 1) * y[b, 0]).int().cpu().numpy()
                if p.min(initial=0) < 0 or r.min(initial=0) < 0:
                    raise ValueError("instance ids must be >= 0")
                out[b, c] = _panoptic_counts(p, r, t)
        return torch.as_tensor(out, dtype=torch.float32).to(y_pred.device)

    def aggregate(self, reduction=None):
        """PQ / SQ / RQ from the reduced counts (a list with several metric names), or the
        counts with ``return_confusion_matrix``."""
        data = self.get_buffer()
        if not isinstance(data, torch.Tensor):
            raise ValueError("the data to aggregate must be PyTorch Tensor.")
        f, _ = do_metric_reduction(data, reduction or self.reduction)
        if self.return_confusion_matrix:
            return f
        tp, fp, fn, iou_sum = f[..., 0], f[..., 1], f[..., 2], f[..., 3]
        s = self.smooth_numerator
        out = []
        for name in self.metric_name:
            key = name.replace(" ", "_").lower()
            if key in ("recognition_quality", "rq"):
                out.append(tp / (tp + 0.5 * fp + 0.5 * fn + s))
            elif key in ("segmentation_quality", "sq"):
                out.append(iou_sum / (tp + s))
            elif key in ("panoptic_quality", "pq"):
                out.append(iou_sum / (tp + 0.5 * fp + 0.5 * fn + s))
            else:
                raise ValueError(f"metric name: {key} is wrong, please use 'pq', 'sq' or 'rq'.")
        return out[0] if len(out) == 1 else out
