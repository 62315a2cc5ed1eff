"""Directed boundary distances and every metric derived from them.

`surface_distances` runs the C++ core once per (case, label); the returned
`SurfaceDistances` holds, for each direction, the distance of every boundary
element to the other boundary and its weight (surfel area or 1), and derives
HD, HD at any percentile, ASSD, MASD, NSD, surface overlap and boundary IoU
without recomputing anything, following the chosen convention.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from . import conventions as _conv
from . import empty as _empty


class DirectedPair(NamedTuple):
    distances: np.ndarray
    weights: np.ndarray


class Directed(NamedTuple):
    pred_to_ref: DirectedPair
    ref_to_pred: DirectedPair


def _rank_percentile(d: np.ndarray, w: np.ndarray, q: float) -> float:
    """DeepMind's weighted nearest rank: sort by (distance, weight), sequential
    cumulative sum in that order, search left on cum / total."""
    order = np.lexsort((w, d))
    ds, ws = d[order], w[order]
    cum = np.cumsum(ws) / np.sum(ws)
    idx = int(np.searchsorted(cum, q / 100.0))
    return float(ds[min(idx, len(ds) - 1)])


def _linear_percentile(d: np.ndarray, q: float) -> float:
    if np.isinf(d).any():  # a percentile of a set containing inf is inf
        return math.inf if q > 0 or np.isinf(d).all() else float(np.min(d))
    return float(np.percentile(d, q))


class SurfaceDistances:
    """Boundary distances of one (case, label) under one convention.

    Directed quantities are ordered (pred -> ref, ref -> pred).
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
        return _empty.resolve(metric, case, self._user_empty, self.convention.empty, self._worst())

    def _weights(self, w):
        return w if self.convention.weighted else np.ones_like(w)

    # ------------------------------------------------------------------ metrics
    def hausdorff(self, percentile=100, directed=False) -> float:
        """Hausdorff distance at `percentile` (100 = the maximum)."""
        q = _check_percentile(percentile)
        name = "hd" if q == 100 else f"hd{q:g}"
        _conv.require(self.convention, "hd" if q == 100 else "hdp", name)
        v = self._empty_value(name)
        if v is not None:
            return v
        c = self.convention
        (dp, wp), (dr, wr) = self.directed
        dirs = [(dp, wp)] if directed else [(dp, wp), (dr, wr)]
        if q == 100 and c.name != "deepmind":
            return float(max(np.max(d) for d, _ in dirs))
        if c.percentile == "rank":
            return max(_rank_percentile(d, self._weights(w), q) for d, w in dirs)
        if c.percentile == "linear" or directed:
            return max(_linear_percentile(d, q) for d, _ in dirs)
        return _linear_percentile(np.concatenate([dp, dr]), q)  # pooled

    def hd(self, directed=False) -> float:
        return self.hausdorff(100, directed=directed)

    def hd95(self, directed=False) -> float:
        return self.hausdorff(95, directed=directed)

    def asd(self, directed=True):
        """Average surface distance pred -> ref (directed=True), or the pair
        (pred -> ref, ref -> pred) with directed=False."""
        _conv.require(self.convention, "asd", "asd")
        (dp, wp), (dr, wr) = self.directed
        if directed:
            v = self._empty_value("asd")
            return v if v is not None else _wmean(dp, self._weights(wp))
        v = self._empty_value("asd")
        if v is not None:
            return (v, v)
        return (_wmean(dp, self._weights(wp)), _wmean(dr, self._weights(wr)))

    def assd(self, directed=False) -> float:
        """Average symmetric surface distance as the convention defines it
        (pooled over both directions, or the mean of the directed means)."""
        if directed:
            return self.asd(directed=True)
        _conv.require(self.convention, "assd")
        v = self._empty_value("assd")
        if v is not None:
            return v
        (dp, wp), (dr, wr) = self.directed
        wp, wr = self._weights(wp), self._weights(wr)
        if self.convention.assd == "mean":
            return 0.5 * (_wmean(dp, wp) + _wmean(dr, wr))
        return float((np.sum(dp * wp) + np.sum(dr * wr)) / (np.sum(wp) + np.sum(wr)))

    def masd(self) -> float:
        """Mean of the two directed average surface distances."""
        _conv.require(self.convention, "masd")
        v = self._empty_value("masd")
        if v is not None:
            return v
        (dp, wp), (dr, wr) = self.directed
        return 0.5 * (_wmean(dp, self._weights(wp)) + _wmean(dr, self._weights(wr)))

    def _tolerance(self, tolerance):
        if tolerance is None:
            tolerance = self.default_tolerance
        if tolerance is None:
            tolerance = _conv.default_tolerance(self.convention, self.spacing)
        if tolerance is None:
            raise ValueError(
                f"convention {self.convention.name!r} has no default NSD tolerance; pass tolerance= (mm)"
            )
        t = float(tolerance)
        if not math.isfinite(t) or t < 0:
            raise ValueError(f"tolerance must be finite and >= 0 (mm), got {tolerance!r}")
        return t

    def surface_overlap(self, tolerance=None):
        """Fraction of each boundary within `tolerance` mm of the other:
        (pred -> ref, ref -> pred)."""
        _conv.require(self.convention, "overlap", "surface overlap")
        t = self._tolerance(tolerance)
        v = self._empty_value(f"overlap@{t:g}")
        (dp, wp), (dr, wr) = self.directed
        wp, wr = self._weights(wp), self._weights(wr)
        if v is not None:
            return (v, v)
        return (float(np.sum(wp[dp <= t]) / np.sum(wp)), float(np.sum(wr[dr <= t]) / np.sum(wr)))

    def nsd(self, tolerance=None) -> float:
        """Normalised surface distance (surface Dice) at `tolerance` mm."""
        _conv.require(self.convention, "nsd", "NSD")
        t = self._tolerance(tolerance)
        v = self._empty_value(f"nsd@{t:g}")
        if v is not None:
            return v
        (dp, wp), (dr, wr) = self.directed
        wp, wr = self._weights(wp), self._weights(wr)
        if self.convention.nsd == "mean":
            return 0.5 * (float(np.sum(wp[dp <= t]) / np.sum(wp)) + float(np.sum(wr[dr <= t]) / np.sum(wr)))
        return float((np.sum(wp[dp <= t]) + np.sum(wr[dr <= t])) / (np.sum(wp) + np.sum(wr)))

    def boundary_iou(self) -> float:
        """Boundary IoU with the width given to surface_distances (biou_width=)."""
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
