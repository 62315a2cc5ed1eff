"""Functional surface-distance API: one call per metric, any convention."""

from __future__ import annotations

from typing import NamedTuple

from . import conventions as _conv
from .. import empty as _empty
from ... import gpu as _gpu
from ..._core.backends import cpu
from ..case import Case
from .distances import SurfaceDistances


class Region(NamedTuple):
    """One region of a surface-distance call: the labels whose union it is, and the inclusive
    bounding box (lo, hi) of pred | ref, or empty=True (lo = hi = ()) when it is absent from both."""

    labels: tuple
    lo: tuple = ()
    hi: tuple = ()
    empty: bool = False


def _check_dims(conv, ndim):
    if ndim not in conv.ndims:
        raise ValueError(
            f"convention {conv.name!r} ({conv.peer}) supports {', '.join(f'{d}-D' for d in conv.ndims)} "
            f"inputs, got {ndim}-D"
        )


def _connectivity(conv, connectivity, ndim):
    if connectivity is None:
        return 1
    if not conv.connectivity:
        raise ValueError(
            f"connectivity= is an option of the medpy and panoptica conventions; {conv.name!r} "
            "uses a fixed boundary definition"
        )
    if isinstance(connectivity, bool) or not isinstance(connectivity, int) or not 1 <= connectivity <= ndim:
        raise ValueError(f"connectivity must be an integer in [1, {ndim}], got {connectivity!r}")
    return connectivity


def precheck(conv, pred, connectivity=None, tolerance=None, needs_tolerance=False):
    """The checks that need only the convention and the array rank, so that
    they fail before any C++ runs: supported dimensions, connectivity and the
    NSD tolerance."""
    import numpy as np

    nd = getattr(pred, "ndim", None)
    if nd is None:
        nd = np.ndim(pred)
    if nd:  # a 0-d input is reported by Case
        _check_dims(conv, nd)
        _connectivity(conv, connectivity, nd)
    if tolerance is not None:
        from ..._core.validate import check_positive

        check_positive(tolerance, "tolerance")
    elif needs_tolerance and conv.default_tolerance is None:
        raise ValueError(f"convention {conv.name!r} has no default NSD tolerance; pass tolerance= (mm)")


def compute(case: Case, conv, keys, empty=None, biou_width=None, connectivity=None, tolerance=None):
    """SurfaceDistances for each region key of `case` (one C++ call, threads over labels)."""
    _check_dims(conv, case.ndim)
    conn = _connectivity(conv, connectivity, case.ndim)
    boxes = case.region_boxes(keys)
    regs = [Region(tuple(case.regions[k]), empty=True) if boxes[k] is None else
            Region(tuple(case.regions[k]), tuple(boxes[k][0]), tuple(boxes[k][1])) for k in keys]
    if biou_width is not None:
        _conv.require(conv, "biou", "boundary IoU")
    strict = conv.biou == "voxel_strict"
    res = (cpu() if case.device == "cpu" else _gpu).surface_distances(
        case.pred, case.ref, regions=regs, boundary=1 if conv.boundary == "corner" else 0, connectivity=conn,
        spacing=list(case.spacing), ignore_label=case.ignore,
        biou_width=-1.0 if biou_width is None else float(biou_width), biou_strict=strict,
        biou_unit_spacing=strict, threads=case.threads,
    )
    user = _empty.normalize(empty)
    out = {}
    for k, (dp, wp, dr, wr, npv, nrv, bi, bu) in zip(keys, res):
        out[k] = SurfaceDistances(dp, wp, dr, wr, npv, nrv, conv, case.spacing, case.shape, user,
                                  (bi, bu) if biou_width is not None else None, biou_width, tolerance)
    return out


def surface_distances(pred, ref, spacing=None, convention="segscore", label=None, labels=None, empty=None,
                      ignore_label=None, threads=None, biou_width=None, connectivity=None, tolerance=None,
                      device=None):
    """Directed boundary distances of (pred, ref) under `convention`.

    Bool masks (or label=k) give one `SurfaceDistances`; label maps give
    {label: SurfaceDistances}.  Spacing is in mm, in array axis order.
    GPU arrays are processed on their device; `device` ("cpu", "cuda",
    "cupy") forces a backend.
    """
    conv = _conv.get(convention)
    if biou_width is not None:
        from ..._core.validate import check_positive

        biou_width = check_positive(biou_width, "biou_width")
    precheck(conv, pred, connectivity, tolerance)
    empty = _empty.normalize(empty)
    case = Case(pred, ref, spacing, labels, ignore_label, threads, label, device=device)
    out = compute(case, conv, list(case.regions), empty, biou_width, connectivity, tolerance)
    return next(iter(out.values())) if case.single else out


def _each(pred, ref, spacing, convention, label, labels, empty, ignore_label, threads, fn, metric,
          biou_width=None, connectivity=None, name=None, tolerance=None, needs_tolerance=False, device=None):
    conv = _conv.get(convention)
    _conv.require(conv, metric, name)
    precheck(conv, pred, connectivity, tolerance, needs_tolerance)
    empty = _empty.normalize(empty)
    case = Case(pred, ref, spacing, labels, ignore_label, threads, label, device=device)
    sds = compute(case, conv, list(case.regions), empty, biou_width, connectivity)
    out = {k: fn(sd) for k, sd in sds.items()}
    return next(iter(out.values())) if case.single else out


def hausdorff(pred, ref, percentile=100, spacing=None, convention="segscore", directed=False, label=None,
              labels=None, empty=None, ignore_label=None, threads=None, connectivity=None, device=None):
    """Hausdorff distance (mm) at `percentile` (100: the maximum)."""
    from .distances import _check_percentile

    q = _check_percentile(percentile)
    return _each(pred, ref, spacing, convention, label, labels, empty, ignore_label, threads,
                 lambda sd: sd.hausdorff(q, directed=directed), "hd" if q == 100 else "hdp",
                 connectivity=connectivity, name="hd" if q == 100 else f"hd{q:g}", device=device)


def hd95(pred, ref, spacing=None, convention="segscore", directed=False, label=None, labels=None, empty=None,
         ignore_label=None, threads=None, connectivity=None, device=None):
    """95th-percentile Hausdorff distance (mm), per the convention's percentile rule."""
    return hausdorff(pred, ref, 95, spacing, convention, directed, label, labels, empty, ignore_label, threads,
                     connectivity, device=device)


def assd(pred, ref, spacing=None, convention="segscore", label=None, labels=None, empty=None, ignore_label=None,
         threads=None, connectivity=None, device=None):
    """Average symmetric surface distance (mm) as the convention defines it."""
    return _each(pred, ref, spacing, convention, label, labels, empty, ignore_label, threads,
                 lambda sd: sd.assd(), "assd", connectivity=connectivity, device=device)


def masd(pred, ref, spacing=None, convention="segscore", label=None, labels=None, empty=None, ignore_label=None,
         threads=None, connectivity=None, device=None):
    """Mean of the two directed average surface distances (mm)."""
    return _each(pred, ref, spacing, convention, label, labels, empty, ignore_label, threads,
                 lambda sd: sd.masd(), "masd", connectivity=connectivity, device=device)


def nsd(pred, ref, tolerance=None, spacing=None, convention="segscore", label=None, labels=None, empty=None,
        ignore_label=None, threads=None, connectivity=None, device=None):
    """Normalised surface distance (surface Dice) at `tolerance` mm."""
    return _each(pred, ref, spacing, convention, label, labels, empty, ignore_label, threads,
                 lambda sd: sd.nsd(tolerance), "nsd", connectivity=connectivity, name="NSD",
                 tolerance=tolerance, needs_tolerance=True, device=device)


def surface_overlap(pred, ref, tolerance=None, spacing=None, convention="segscore", label=None, labels=None,
                    empty=None, ignore_label=None, threads=None, device=None):
    """(pred -> ref, ref -> pred) fractions of boundary within `tolerance` mm."""
    return _each(pred, ref, spacing, convention, label, labels, empty, ignore_label, threads,
                 lambda sd: sd.surface_overlap(tolerance), "overlap", name="surface overlap",
                 tolerance=tolerance, needs_tolerance=True, device=device)


def boundary_iou(pred, ref, width=None, spacing=None, convention="segscore", label=None, labels=None, empty=None,
                 ignore_label=None, threads=None, device=None):
    """Boundary IoU: IoU of the inner bands of width `width` mm (default 1 mm)
    along each mask's voxel border (MetricsReloaded: distance < width;
    segscore: distance <= width)."""
    from ..._core.validate import check_positive

    conv = _conv.get(convention)
    _conv.require(conv, "biou", "boundary IoU")
    w = conv.default_biou_width if width is None else check_positive(width, "width")
    return _each(pred, ref, spacing, convention, label, labels, empty, ignore_label, threads,
                 lambda sd: sd.boundary_iou(), "biou", biou_width=w, name="boundary IoU", device=device)
