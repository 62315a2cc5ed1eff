"""Directed boundary distances and every metric derived from them.

`surface_distances` runs the C++ core once per (case, label); the returned
`SurfaceDistances` holds, for each direction, the distance of every boundary
element to the other boundary and its weight (surfel area or 1), and derives
HD, HD at any percentile, ASSD, MASD, NSD, surface overlap and boundary IoU
without recomputing anything, following the chosen convention.
"""

from __future__ import annotations

import math
import sys
from typing import NamedTuple

import numpy as np

from . import conventions as _conv
from .. import empty as _empty
from .. import registry as _registry
from ..._core.backends import _cpu
from ..._core.validate import check_positive

_rank_cpu = getattr(_cpu, "rank_percentile", None)  # None: numpy only (no/older compiled core)


class DirectedPair(NamedTuple):
    """One direction's boundary elements: ``distances`` (mm, float64) to the other boundary and
    their ``weights`` (surfel areas, or 1 per boundary voxel), two 1-D arrays of one length."""

    distances: np.ndarray
    weights: np.ndarray


class Directed(NamedTuple):
    """The two directions of a :class:`SurfaceDistances`: ``pred_to_ref`` and ``ref_to_pred``,
    each a :class:`DirectedPair`."""

    pred_to_ref: DirectedPair
    ref_to_pred: DirectedPair


def _rank_percentile(d: np.ndarray, w: np.ndarray, q: float) -> float:
    """DeepMind's weighted nearest rank: sort by (distance, weight), sequential
    cumulative sum in that order, search left on cum / total.

    The C++ core finds the same value by weighted selection in O(n) (no sort);
    where rounding could make the two disagree (the percentile within a few ulps
    of a group boundary) or an input is outside its domain, it answers None and
    the numpy formulation below decides, so the result is always numpy's."""
    if (_rank_cpu is not None and isinstance(d, np.ndarray) and isinstance(w, np.ndarray)
            and d.dtype == np.float64 and w.dtype == np.float64 and d.ndim == 1 and d.shape == w.shape):
        v = _rank_cpu(d, w, q / 100.0)
        if v is not None:
            return v
    return _rank_percentile_numpy(d, w, q)


def _rank_percentile_numpy(d: np.ndarray, w: np.ndarray, q: float) -> float:
    """The reference formulation of `_rank_percentile` (and its fallback)."""
    order = np.lexsort((w, d))
    ds, ws = d[order], w[order]
    cum = np.cumsum(ws) / np.sum(ws)
    idx = int(np.searchsorted(cum, q / 100.0))
    return float(ds[min(idx, len(ds) - 1)])


def _torch32_percentile(d: np.ndarray, q: float) -> float:
    """torch.quantile(linear) in float32, as MONAI computes it (bit-exact on CPU),
    except that a set containing inf gives inf (MONAI: nan, its issue #9095)."""
    if np.isinf(d).any():
        return math.inf
    v = np.sort(d.astype(np.float32))
    n = len(v)
    rank = np.float32(np.float32(q / 100.0) * np.float32(n - 1))
    lo = int(np.floor(rank))
    hi = min(lo + 1, n - 1)
    w = np.float32(rank - np.float32(lo))
    diff = np.float32(v[hi] - v[lo])
    if w < 0.5:  # torch's lerp, fused multiply-add
        return float(np.float32(np.float64(w) * np.float64(diff) + np.float64(v[lo])))
    return float(np.float32(np.float64(v[hi]) - np.float64(np.float32(1) - w) * np.float64(diff)))


def _linear_percentile(d: np.ndarray, q: float) -> float:
    if np.isinf(d).any():  # a percentile of a set containing inf is inf
        return math.inf if q > 0 or np.isinf(d).all() else float(np.min(d))
    return float(np.percentile(d, q))


class SurfaceDistances:
    """Boundary distances of one (case, label) under one convention, and every metric from them.

    Made by :func:`segscore.surface_distances` (not meant to be built by hand).  For each
    direction it holds the distance (mm) of every boundary element to the other boundary and
    the element's weight; its methods derive HD at any percentile, ASSD, MASD, NSD and
    surface overlap at any tolerance, and boundary IoU, each by the convention's rule and
    empty-mask policy (see :func:`segscore.hausdorff`, :func:`segscore.assd`,
    :func:`segscore.nsd`), without recomputing distances.  Directed quantities are ordered
    (pred -> ref, ref -> pred).

    Attributes
    ----------
    directed : Directed
        ``directed.pred_to_ref`` and ``directed.ref_to_pred``, each a
        ``(distances, weights)`` pair of 1-D float64 arrays: distances in mm, weights the
        surfel areas (mm^2 in 3-D, mm in 2-D, 1 in 1-D) for the corner-grid conventions
        (segscore, deepmind, monai-subvoxels) or 1 per boundary voxel for the voxel-border
        ones.  A boundary whose target boundary is missing (one empty mask) has distances
        inf.
    convention : Convention
        The convention's definitions (``convention.name``, ``convention.peer``, ...).
    n_pred_voxels, n_ref_voxels : int
        Foreground voxels of the prediction and the reference (not boundary elements).
    spacing, shape : tuple
        Voxel size (mm) and array shape; ``"worst"`` empty values use the image diagonal.
    empty_case : {None, "ref", "pred", "both"}
        Which mask is empty, if any (a property).
    biou_width : float or None
        The band width given as ``biou_width=``, if any.
    default_tolerance : float or None
        The ``tolerance=`` given to :func:`segscore.surface_distances`, if any.

    References
    ----------
    .. [1] Nikolov, S. et al. (2021). Clinically applicable segmentation of head and neck anatomy
        for radiotherapy: deep learning algorithm development and validation study. Journal of
        Medical Internet Research 23(7), e26151 (normalised surface distance; DeepMind surface-
        distance 0.1).
    .. [2] Taha, A. A. & Hanbury, A. (2015). Metrics for evaluating 3D medical image segmentation:
        analysis, selection, and tool. BMC Medical Imaging 15:29.
    .. [3] Peers mirrored by name: DeepMind surface-distance 0.1, MONAI 1.6.1, MedPy 0.5.2,
        MetricsReloaded, panoptica 2.1.7 (docs/conventions.md, docs/conventions_research.md).

    Examples
    --------
    >>> import numpy as np
    >>> import segscore as ss
    >>> ref = np.zeros((8, 8), bool); ref[2:6, 2:6] = True
    >>> pred = ref.copy(); pred[2:6, 6] = True; pred[0, 0] = True
    >>> sd = ss.surface_distances(pred, ref)
    >>> sd
    SurfaceDistances(convention='segscore', n_pred=22, n_ref=16, spacing=(1.0, 1.0))
    >>> round(sd.hd95(), 4), round(sd.assd(), 4), round(sd.masd(), 4), round(sd.nsd(1.0), 4)
    (2.2361, 0.3937, 0.3702, 0.918)
    >>> d, w = sd.directed.ref_to_pred
    >>> float(d.max()), len(w)
    (1.0, 16)
    >>> sd.n_pred_voxels, sd.n_ref_voxels, sd.empty_case
    (21, 16, None)
    >>> mo = ss.surface_distances(pred, ref, convention="monai")
    >>> mo, round(mo.hd95(), 4)
    (SurfaceDistances(convention='monai', n_pred=15, n_ref=12, spacing=(1.0, 1.0)), 1.5485)
    """

    def __init__(self, d_pred, w_pred, d_ref, w_ref, n_pred, n_ref, convention, spacing, shape,
                 empty=None, biou=None, biou_width=None, tolerance=None):
        self.convention = _conv.get(convention)
        self.directed = Directed(DirectedPair(d_pred, w_pred), DirectedPair(d_ref, w_ref))
        self.n_pred_voxels = int(n_pred)
        self.n_ref_voxels = int(n_ref)
        self.spacing = tuple(spacing)
        self.shape = tuple(shape)
        self._user_empty = _empty.normalize(empty)
        self._biou = biou
        self.biou_width = biou_width
        self.default_tolerance = tolerance

    # ------------------------------------------------------------------ helpers
    @property
    def empty_case(self):
        return _empty.case_of(self.n_pred_voxels, self.n_ref_voxels)

    def _worst(self) -> float:
        return float(math.sqrt(sum((n * s) ** 2 for n, s in zip(self.shape, self.spacing))))

    def _empty_value(self, metric: str):
        case = self.empty_case
        if case is None:
            return None
        # "worst": the image diagonal (mm) for a distance, 0 for a similarity (NSD, overlap, boundary IoU:
        # higher is better in the metric registry)
        entry = _registry.of_family(_empty.family(metric))
        worst = 0.0 if entry is not None and entry.higher_is_better else self._worst()
        return _empty.resolve(metric, case, self._user_empty, self.convention.empty, worst)

    def _dists(self):
        """((d, w) pred->ref, (d, w) ref->pred) as the convention reduces them:
        unit weights for voxel borders, float32 distances for MONAI."""
        c = self.convention
        out = []
        for d, w in self.directed:
            if c.float32:
                d = d.astype(np.float32).astype(np.float64)
            out.append((d, w if c.weighted else np.ones_like(w)))
        return tuple(out)

    # ------------------------------------------------------------------ metrics
    def hausdorff(self, percentile=100, directed=False) -> float:
        """Hausdorff distance (mm) at a percentile (100 = the maximum).

        Parameters
        ----------
        percentile : float, default 100
            In [0, 100].  The convention's percentile rule applies (segscore / deepmind:
            area-weighted nearest rank per direction, max; monai: ``torch.quantile`` in float32
            per direction, max; metricsreloaded: ``np.percentile`` per direction, max; medpy /
            panoptica: ``np.percentile`` of both directions pooled); see
            :func:`segscore.hausdorff`.
        directed : bool, default False
            Only the pred -> ref distances.

        Returns
        -------
        float
            The distance, or the convention's empty-mask value (segscore: inf with one empty
            mask, nan with both).

        Raises
        ------
        ValueError
            The convention does not define HD (monai-subvoxels) or `percentile` is outside
            [0, 100].
        segscore.EmptyMaskError
            A mask is empty under an ``"error"`` policy (medpy, panoptica).

        Examples
        --------
        >>> import numpy as np
        >>> import segscore as ss
        >>> ref = np.zeros((8, 8), bool); ref[2:6, 2:6] = True
        >>> pred = ref.copy(); pred[2:6, 6] = True; pred[0, 0] = True
        >>> sd = ss.surface_distances(pred, ref)
        >>> round(sd.hausdorff(), 4), round(sd.hausdorff(95), 4), round(sd.hausdorff(50), 4)
        (2.8284, 2.2361, 0.0)
        """
        q = _check_percentile(percentile)
        name = "hd" if q == 100 else f"hd{q:g}"
        _conv.require(self.convention, "hd" if q == 100 else "hdp", name)
        v = self._empty_value(name)
        if v is not None:
            return v
        c = self.convention
        (dp, wp), (dr, wr) = self._dists()
        dirs = [(dp, wp)] if directed else [(dp, wp), (dr, wr)]
        if (q == 100 and not c.hd_by_rank) or (q == 0 and c.percentile0_is_max):
            return float(max(np.max(d) for d, _ in dirs))
        if c.percentile == "rank":
            return max(_rank_percentile(d, w, q) for d, w in dirs)
        if c.percentile == "torch32":
            return max(_torch32_percentile(d, q) for d, _ in dirs)
        if c.percentile == "linear" or directed:
            return max(_linear_percentile(d, q) for d, _ in dirs)
        return _linear_percentile(np.concatenate([dp, dr]), q)  # pooled

    def hd(self, directed=False) -> float:
        """Hausdorff distance (mm): ``hausdorff(100, directed)``.

        Parameters
        ----------
        directed : bool, default False
            Only the pred -> ref distances.

        Returns
        -------
        float

        Examples
        --------
        >>> import numpy as np
        >>> import segscore as ss
        >>> ref = np.zeros((8, 8), bool); ref[2:6, 2:6] = True
        >>> pred = ref.copy(); pred[2:6, 6] = True; pred[0, 0] = True
        >>> sd = ss.surface_distances(pred, ref)
        >>> round(sd.hd(), 4)
        2.8284
        """
        return self.hausdorff(100, directed=directed)

    def hd95(self, directed=False) -> float:
        """95th-percentile Hausdorff distance (mm): ``hausdorff(95, directed)``.

        Parameters
        ----------
        directed : bool, default False
            Only the pred -> ref distances.

        Returns
        -------
        float

        Examples
        --------
        >>> import numpy as np
        >>> import segscore as ss
        >>> ref = np.zeros((8, 8), bool); ref[2:6, 2:6] = True
        >>> pred = ref.copy(); pred[2:6, 6] = True; pred[0, 0] = True
        >>> sd = ss.surface_distances(pred, ref)
        >>> round(sd.hd95(), 4)
        2.2361
        """
        return self.hausdorff(95, directed=directed)

    def asd(self, directed=True):
        """Average surface distance (mm): pred -> ref, or both directed means.

        Each directed mean is weighted as the convention weights elements (surfel areas or 1).
        This is DeepMind's ``compute_average_surface_distance``, which returns the pair
        ``(pred -> ref, ref -> pred)`` (note that DeepMind's own function takes the reference
        first).

        Parameters
        ----------
        directed : bool, default True
            True: the pred -> ref mean, a float.  False: the pair of directed means.

        Returns
        -------
        float or tuple of float
            With one empty mask: the pred -> ref value follows the ``asd`` empty policy
            (segscore inf, deepmind inf for an empty reference and nan for an empty
            prediction); in the pair, a direction without boundary elements is nan and one
            whose target boundary is missing is inf.

        Raises
        ------
        ValueError
            The convention does not define it (monai-subvoxels).

        Examples
        --------
        >>> import numpy as np
        >>> import segscore as ss
        >>> ref = np.zeros((8, 8), bool); ref[2:6, 2:6] = True
        >>> pred = ref.copy(); pred[2:6, 6] = True; pred[0, 0] = True
        >>> sd = ss.surface_distances(pred, ref)
        >>> round(sd.asd(), 4)
        0.5381
        >>> [round(v, 4) for v in sd.asd(directed=False)]
        [0.5381, 0.2023]
        """
        _conv.require(self.convention, "asd", "asd")
        (dp, wp), (dr, wr) = self._dists()
        if directed:
            v = self._empty_value("asd")
            return v if v is not None else _wmean(dp, wp)
        return (self._directed_mean(dp, wp, "pred"), self._directed_mean(dr, wr, "ref"))

    def _directed_mean(self, d, w, side):
        """Directed mean; with an empty mask: nan for a direction without
        elements, inf for one whose target boundary is missing."""
        if len(d) == 0:
            return math.nan
        return _wmean(d, w)

    def assd(self, directed=False) -> float:
        """Average symmetric surface distance (mm), as the convention defines it.

        Pooled over both directions' elements (segscore / deepmind: area-weighted; monai: float32
        mean; medpy / metricsreloaded: counts) or, for panoptica, the mean of the two directed
        means; see :func:`segscore.assd`.

        Parameters
        ----------
        directed : bool, default False
            True returns :meth:`asd` (pred -> ref) instead.

        Returns
        -------
        float
            Or the convention's empty-mask value (segscore: inf with one empty mask, nan with
            both).

        Raises
        ------
        ValueError
            The convention does not define ASSD (monai-subvoxels).
        segscore.EmptyMaskError
            A mask is empty under an ``"error"`` policy (medpy).

        Examples
        --------
        >>> import numpy as np
        >>> import segscore as ss
        >>> ref = np.zeros((8, 8), bool); ref[2:6, 2:6] = True
        >>> pred = ref.copy(); pred[2:6, 6] = True; pred[0, 0] = True
        >>> sd = ss.surface_distances(pred, ref)
        >>> round(sd.assd(), 4)
        0.3937
        """
        if directed:
            return self.asd(directed=True)
        _conv.require(self.convention, "assd")
        v = self._empty_value("assd")
        if v is not None:
            return v
        (dp, wp), (dr, wr) = self._dists()
        if self.convention.assd == "mean":
            return 0.5 * (_wmean(dp, wp) + _wmean(dr, wr))
        if self.convention.float32:  # torch.cat(float32 distances).mean()
            return float(np.concatenate([dp, dr]).astype(np.float32).mean(dtype=np.float32))
        return float((np.sum(dp * wp) + np.sum(dr * wr)) / (np.sum(wp) + np.sum(wr)))

    def masd(self) -> float:
        """Mean of the two directed average surface distances (mm).

        ``(ASD(pred -> ref) + ASD(ref -> pred)) / 2``; defined by segscore, deepmind,
        metricsreloaded and panoptica.

        Returns
        -------
        float
            Or the empty-mask value (segscore: inf with one empty mask, nan with both).

        Raises
        ------
        ValueError
            The convention does not define MASD (monai, monai-subvoxels, medpy).

        Examples
        --------
        >>> import numpy as np
        >>> import segscore as ss
        >>> ref = np.zeros((8, 8), bool); ref[2:6, 2:6] = True
        >>> pred = ref.copy(); pred[2:6, 6] = True; pred[0, 0] = True
        >>> sd = ss.surface_distances(pred, ref)
        >>> round(sd.masd(), 4)
        0.3702
        """
        _conv.require(self.convention, "masd")
        v = self._empty_value("masd")
        if v is not None:
            return v
        (dp, wp), (dr, wr) = self._dists()
        return 0.5 * (_wmean(dp, wp) + _wmean(dr, wr))

    def _tolerance(self, tolerance):
        if tolerance is None:
            tolerance = self.default_tolerance
        if tolerance is None:
            tolerance = _conv.default_tolerance(self.convention, self.spacing)
        if tolerance is None:
            raise ValueError(
                f"convention {self.convention.name!r} has no default NSD tolerance; pass tolerance= (mm)"
            )
        return check_positive(tolerance, "tolerance", unit="mm")

    def surface_overlap(self, tolerance=None):
        """Fraction of each boundary within `tolerance` mm of the other: (pred -> ref, ref -> pred).

        Weighted as the convention weights elements; a distance d counts when ``d <= tau``
        (float32 comparison for monai and monai-subvoxels).

        Parameters
        ----------
        tolerance : float, optional
            tau in mm, >= 0.  None: the ``tolerance=`` given to
            :func:`segscore.surface_distances`, else the convention's default
            (metricsreloaded 1, panoptica min(spacing)).

        Returns
        -------
        tuple of float
            With one empty mask the side without elements is nan and the other takes the
            ``overlap`` policy value (segscore 0): ``(0.0, nan)`` for an empty reference.

        Raises
        ------
        ValueError
            The convention does not define it (medpy), or no tolerance is given and the
            convention has no default.
        TypeError
            `tolerance` is not a number.

        Examples
        --------
        >>> import numpy as np
        >>> import segscore as ss
        >>> ref = np.zeros((8, 8), bool); ref[2:6, 2:6] = True
        >>> pred = ref.copy(); pred[2:6, 6] = True; pred[0, 0] = True
        >>> sd = ss.surface_distances(pred, ref)
        >>> [round(v, 4) for v in sd.surface_overlap(1.0)]
        [0.8561, 1.0]
        """
        _conv.require(self.convention, "overlap", "surface overlap")
        t = self._tolerance(tolerance)
        v = self._empty_value(f"overlap@{t:g}")
        if v is not None:
            # directed: a side without boundary elements has no fraction (nan);
            # the other side, whose target boundary is missing, takes the policy
            # value (DeepMind: (0.0, nan) when the reference is empty)
            case = self.empty_case
            if case == "ref":
                return (v, math.nan)
            if case == "pred":
                return (math.nan, v)
            return (v, v)
        (dp, wp), (dr, wr) = self._dists()
        return (float(np.sum(wp[self._within(dp, t)]) / np.sum(wp)),
                float(np.sum(wr[self._within(dr, t)]) / np.sum(wr)))

    def _within(self, d, t):
        if self.convention.nsd == "pooled32":  # float32 distances compared with float32(tau)
            return d.astype(np.float32) <= np.float32(t)
        return d <= t

    def nsd(self, tolerance=None) -> float:
        """Normalised surface distance (surface Dice) at `tolerance` mm.

        The weighted fraction of both boundaries within tau of the other, pooled (segscore /
        deepmind / monai-subvoxels: areas; monai / metricsreloaded: counts; panoptica: the mean of
        the directed fractions); see :func:`segscore.nsd`.

        Parameters
        ----------
        tolerance : float, optional
            tau in mm, >= 0 (``d <= tau`` counts).  None: the ``tolerance=`` given to
            :func:`segscore.surface_distances`, else the convention's default
            (metricsreloaded 1, panoptica min(spacing)).

        Returns
        -------
        float
            In [0, 1], or the empty-mask value (segscore: 0 with one empty mask, nan with both;
            metricsreloaded 1 with both).

        Raises
        ------
        ValueError
            The convention does not define NSD (medpy), or no tolerance is available.
        segscore.EmptyMaskError
            A mask is empty under an ``"error"`` policy (panoptica).

        Examples
        --------
        >>> import numpy as np
        >>> import segscore as ss
        >>> ref = np.zeros((8, 8), bool); ref[2:6, 2:6] = True
        >>> pred = ref.copy(); pred[2:6, 6] = True; pred[0, 0] = True
        >>> sd = ss.surface_distances(pred, ref)
        >>> round(sd.nsd(1.0), 4), round(sd.nsd(0.0), 4), sd.nsd(3.0)
        (0.918, 0.703, 1.0)
        """
        _conv.require(self.convention, "nsd", "NSD")
        t = self._tolerance(tolerance)
        v = self._empty_value(f"nsd@{t:g}")
        if v is not None:
            return v
        (dp, wp), (dr, wr) = self._dists()
        if self.convention.nsd == "panoptica":
            # panoptica's expression, a = ref -> pred, b = pred -> ref (voxel counts)
            a, b = dr, dp
            tp_a = np.sum(a <= t) / len(a)
            tp_b = np.sum(b <= t) / len(b)
            fp = np.sum(a > t) / len(a)
            fn = np.sum(b > t) / len(b)
            return float((tp_a + tp_b) / (tp_a + tp_b + fp + fn + sys.float_info.min))
        inp, inr = self._within(dp, t), self._within(dr, t)
        if self.convention.nsd == "pooled32" and not self.convention.weighted:
            return float(np.float32(np.sum(inp) + np.sum(inr)) / np.float32(len(dp) + len(dr)))
        return float((np.sum(wp[inp]) + np.sum(wr[inr])) / (np.sum(wp) + np.sum(wr)))

    def boundary_iou(self) -> float:
        """Boundary IoU with the band width given to :func:`segscore.surface_distances`.

        Needs ``biou_width=`` there (segscore: band ``<= width`` mm; metricsreloaded: ``< width``
        voxels); see :func:`segscore.boundary_iou`.

        Returns
        -------
        float
            ``|band(P) & band(R)| / |band(P) | band(R)|``, or the empty-mask value (segscore 0
            with one empty mask, nan with both).

        Raises
        ------
        ValueError
            The convention does not define boundary IoU, or ``biou_width=`` was not given.

        Examples
        --------
        >>> import numpy as np
        >>> import segscore as ss
        >>> ref = np.zeros((8, 8), bool); ref[2:6, 2:6] = True
        >>> pred = ref.copy(); pred[2:6, 6] = True; pred[0, 0] = True
        >>> round(ss.surface_distances(pred, ref, biou_width=1.0).boundary_iou(), 4)
        0.7619
        """
        _conv.require(self.convention, "biou", "boundary IoU")
        if self._biou is None:
            raise ValueError("boundary IoU was not computed; pass biou_width= to surface_distances")
        v = self._empty_value(f"biou@{self.biou_width:g}")
        if v is not None:
            return v
        inter, union = self._biou
        return float(inter / union) if union else math.nan

    def __repr__(self):
        (dp, _), (dr, _) = self.directed
        return (f"SurfaceDistances(convention={self.convention.name!r}, n_pred={len(dp)}, n_ref={len(dr)}, "
                f"spacing={self.spacing})")


def _wmean(d, w) -> float:
    return float(np.sum(d * w) / np.sum(w))


def _check_percentile(p) -> float:
    try:
        q = float(p)
    except (TypeError, ValueError):
        raise TypeError(f"percentile must be a number in [0, 100], got {p!r}") from None
    if not (0 <= q <= 100):
        raise ValueError(f"percentile must lie in [0, 100], got {p!r}")
    return q
