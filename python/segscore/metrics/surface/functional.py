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
    """Directed boundary distances of (pred, ref) under a convention, for every metric at once.

    Runs the C++ core once per (case, label): both boundaries are extracted on the
    label's bounding-box crop and every boundary element gets its exact distance (mm) to
    the other boundary.  The returned :class:`SurfaceDistances` derives HD at any
    percentile, ASSD, MASD, NSD at any tolerance, surface overlap and boundary IoU
    without recomputing anything.

    Parameters
    ----------
    pred, ref : array_like
        Prediction and reference, one shape, 1-D to 3-D (deepmind: 2-D and 3-D): both bool
        masks, or both integer label maps (values in [0, 2**31)).  numpy, torch CPU and
        ``__array__`` inputs are read without a copy; CuPy arrays and torch CUDA tensors are
        processed on their device.
    spacing : sequence of float, optional
        Voxel size in mm per array axis (None: 1 per axis); distances are in mm.
    convention : str, default "segscore"
        Whose definition to compute: ``"segscore"``, ``"deepmind"``, ``"monai"``,
        ``"monai-subvoxels"``, ``"medpy"``, ``"metricsreloaded"`` or ``"panoptica"`` (see
        :data:`segscore.CONVENTIONS` and the rules below).  A convention that does not define
        the metric raises ``ValueError`` naming those that do.
    label : int or tuple, optional
        Label maps only: score this one label (a tuple: their union) and return a float.
    labels : int, sequence or dict, optional
        Label maps only: ints, a sequence (tuples in it are union regions) or
        ``{name: int | tuple}``; None: every non-zero label present in either map.  A
        requested label absent from both maps is a both-empty case, never dropped.
    empty : float, str or dict, optional
        Empty-mask policy used by the metric methods (see :func:`hd95`).
    ignore_label : int, optional
        Label maps only: voxels whose reference label equals it are removed from both maps
        before the boundaries are extracted.
    threads : int, optional
        CPU threads (default ``SEGSCORE_NUM_THREADS`` or the usable cores), over labels and
        within large crops; results are bit-identical for any count.
    biou_width : float, optional
        Also compute the boundary-IoU bands at this width (for
        :meth:`SurfaceDistances.boundary_iou`); segscore and metricsreloaded only.
    connectivity : int, optional
        ``medpy`` and ``panoptica`` only: the structuring element of the erosion that
        defines the voxel border (1 = faces, ..., ndim = full neighbourhood), as their
        ``connectivity`` argument; default 1.  Other conventions refuse it.
    tolerance : float, optional
        Default tau (mm) of the ``nsd`` / ``surface_overlap`` methods.
    device : {None, "cpu", "cuda", "cupy"}, optional
        Force a backend; None: GPU inputs stay on their device, host inputs on the CPU.

    Returns
    -------
    SurfaceDistances or dict
        One :class:`SurfaceDistances` for bool masks (or `label`), else
        ``{label: SurfaceDistances}``.

    Raises
    ------
    ValueError
        The convention does not support the input's dimension, shapes differ, `spacing`,
        `tolerance`, `biou_width` or `connectivity` is invalid, or a label is invalid.
    TypeError
        One input is a bool mask and the other a label map.

    Notes
    -----
    Boundaries and weights: ``segscore``, ``deepmind`` and ``monai-subvoxels`` use the
    corner-grid surfels of DeepMind's surface-distance (2x2x2 neighbour codes; each element
    weighted by its surfel area in mm^2, its length in 2-D, 1 in 1-D); ``monai``, ``medpy``,
    ``metricsreloaded`` and ``panoptica`` use the voxel border ``mask & ~erosion(mask)``
    (face connectivity; ``connectivity=`` for medpy / panoptica), each voxel weighted 1.
    Every element's distance to the other boundary is exact (Euclidean, in mm, computed as
    scipy's EDT reports it); ``monai`` rounds distances to float32 as it does.

    The convention is kept with the result: each method applies its percentile, weighting,
    pooling and empty-mask rules (see :func:`hausdorff`, :func:`assd`, :func:`nsd`).

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
    >>> pred = ref.copy(); pred[2:6, 6] = True; pred[0, 0] = True  # one column more, one speck
    >>> sd = ss.surface_distances(pred, ref)
    >>> sd
    SurfaceDistances(convention='segscore', n_pred=22, n_ref=16, spacing=(1.0, 1.0))
    >>> round(sd.hausdorff(), 4), round(sd.hd95(), 4), round(sd.assd(), 4), round(sd.nsd(1.0), 4)
    (2.8284, 2.2361, 0.3937, 0.918)
    >>> d, w = sd.directed.pred_to_ref
    >>> d.shape, round(float(w.sum()), 4)  # 22 surfels, total boundary length in mm
    ((22,), 19.6569)
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
    """Hausdorff distance (mm) at a percentile: the maximum, or a robust HDp.

    ``percentile=100`` is the classical Hausdorff distance, the largest distance from a
    boundary element of one mask to the other mask's boundary (both directions);
    ``percentile=p`` takes the convention's p-th percentile instead (HD95 at 95).

    Parameters
    ----------
    pred, ref : array_like
        Prediction and reference, one shape, 1-D to 3-D (deepmind: 2-D and 3-D): both bool
        masks, or both integer label maps (values in [0, 2**31)).  numpy, torch CPU and
        ``__array__`` inputs are read without a copy; CuPy arrays and torch CUDA tensors are
        processed on their device.
    percentile : float, default 100
        In [0, 100]; 100 is the maximum.
    spacing : sequence of float, optional
        Voxel size in mm per array axis (None: 1 per axis); distances are in mm.
    convention : str, default "segscore"
        Whose definition to compute: ``"segscore"``, ``"deepmind"``, ``"monai"``,
        ``"monai-subvoxels"``, ``"medpy"``, ``"metricsreloaded"`` or ``"panoptica"`` (see
        :data:`segscore.CONVENTIONS` and the rules below).  A convention that does not define
        the metric raises ``ValueError`` naming those that do.
    directed : bool, default False
        Only the pred -> ref direction (the distances of the prediction's boundary to the
        reference's) instead of the symmetric value.
    label : int or tuple, optional
        Label maps only: score this one label (a tuple: their union) and return a float.
    labels : int, sequence or dict, optional
        Label maps only: ints, a sequence (tuples in it are union regions) or
        ``{name: int | tuple}``; None: every non-zero label present in either map.  A
        requested label absent from both maps is a both-empty case, never dropped.
    empty : float, str or dict, optional
        Empty-mask policy overriding the convention's defaults (see Notes): one value
        for every case, or ``{metric: value | {"ref" | "pred" | "both": value}}`` (keys such
        as ``"hd95"``, or the family ``"hdp"``, ``"assd"``, ``"nsd"``, ...).  Values: nan,
        inf, a number, ``"worst"`` (the image diagonal in mm for a distance, 0 for a
        similarity) or ``"error"`` (raise :class:`segscore.EmptyMaskError`).
    ignore_label : int, optional
        Label maps only: voxels whose reference label equals it are removed from both maps
        before the boundaries are extracted.
    threads : int, optional
        CPU threads (default ``SEGSCORE_NUM_THREADS`` or the usable cores), over labels and
        within large crops; results are bit-identical for any count.
    connectivity : int, optional
        ``medpy`` and ``panoptica`` only: the structuring element of the erosion that
        defines the voxel border (1 = faces, ..., ndim = full neighbourhood), as their
        ``connectivity`` argument; default 1.  Other conventions refuse it.
    device : {None, "cpu", "cuda", "cupy"}, optional
        Force a backend; None: GPU inputs stay on their device, host inputs on the CPU.

    Returns
    -------
    float or dict
        A float for bool masks (or `label`), else ``{label: float}``.

    Raises
    ------
    ValueError
        The convention does not define the metric or the input's dimension, shapes differ,
        `spacing` is invalid, `connectivity` is given to a convention without it, or a label
        is invalid.
    TypeError
        One input is a bool mask and the other a label map.
    segscore.EmptyMaskError
        A mask is empty and the policy is ``"error"`` (``medpy``: HD, HDp, ASSD;
        ``panoptica``: HD, HDp, NSD).

    Notes
    -----
    Boundaries and weights: ``segscore``, ``deepmind`` and ``monai-subvoxels`` use the
    corner-grid surfels of DeepMind's surface-distance (2x2x2 neighbour codes; each element
    weighted by its surfel area in mm^2, its length in 2-D, 1 in 1-D); ``monai``, ``medpy``,
    ``metricsreloaded`` and ``panoptica`` use the voxel border ``mask & ~erosion(mask)``
    (face connectivity; ``connectivity=`` for medpy / panoptica), each voxel weighted 1.
    Every element's distance to the other boundary is exact (Euclidean, in mm, computed as
    scipy's EDT reports it); ``monai`` rounds distances to float32 as it does.

    Percentile rule per convention (p < 100; p = 100 is the maximum everywhere):

    * ``segscore``, ``deepmind``: per direction, area-weighted nearest rank -- sort the
      elements by (distance, area), sequential float64 cumulative sum of the areas, the
      first element whose cumulative fraction reaches p / 100 (numpy ``searchsorted``,
      side left); the larger of the two directions.  deepmind takes p = 100 by the same rule.
    * ``monai``: per direction, ``torch.quantile`` (linear) of the float32 distances, in
      float32; the larger direction; ``percentile=0`` means "no percentile" (the maximum),
      as in MONAI.
    * ``metricsreloaded``: per direction, ``np.percentile`` (linear); the larger.
    * ``medpy``, ``panoptica``: ``np.percentile`` (linear) of both directions pooled.
    * ``monai-subvoxels``: not defined (raises).

    With ``directed=True`` only the pred -> ref distances enter, by the same rule.

    Empty masks (ref empty, pred empty, both empty): ``segscore`` and ``monai`` inf, inf,
    nan; ``deepmind`` inf, inf, inf; ``metricsreloaded`` nan, nan, 0; ``medpy`` and
    ``panoptica`` raise :class:`segscore.EmptyMaskError`.  A percentile of distances that
    contain inf is inf under every convention (MONAI 1.6.1 returns nan for one empty mask:
    a documented deviation, see docs/conventions.md).

    References
    ----------
    .. [1] Huttenlocher, D. P., Klanderman, G. A. & Rucklidge, W. J. (1993). Comparing images using
        the Hausdorff distance. IEEE TPAMI 15(9), 850-863.
    .. [2] Taha, A. A. & Hanbury, A. (2015). Metrics for evaluating 3D medical image segmentation:
        analysis, selection, and tool. BMC Medical Imaging 15:29.
    .. [3] Peers mirrored by name: DeepMind surface-distance 0.1, MONAI 1.6.1, MedPy 0.5.2,
        MetricsReloaded, panoptica 2.1.7 (docs/conventions.md, docs/conventions_research.md).

    Examples
    --------
    >>> import numpy as np
    >>> import segscore as ss
    >>> ref = np.zeros((8, 8), bool); ref[2:6, 2:6] = True
    >>> pred = ref.copy(); pred[2:6, 6] = True; pred[0, 0] = True  # one column more, one speck
    >>> ss.hausdorff(pred, ref)  # the speck at (0, 0) is 2 sqrt(2) from ref's corner
    2.8284271247461903
    >>> round(ss.hausdorff(pred, ref, 99), 4), round(ss.hausdorff(pred, ref, 99, convention="medpy"), 4)
    (2.8284, 2.353)
    >>> round(ss.hausdorff(pred, ref, spacing=(1.0, 2.5)), 4)
    5.3852
    >>> ss.hausdorff(pred, np.zeros_like(ref))  # empty reference, segscore policy
    inf
    """
    from .distances import _check_percentile

    q = _check_percentile(percentile)
    return _each(pred, ref, spacing, convention, label, labels, empty, ignore_label, threads,
                 lambda sd: sd.hausdorff(q, directed=directed), "hd" if q == 100 else "hdp",
                 connectivity=connectivity, name="hd" if q == 100 else f"hd{q:g}", device=device)


def hd95(pred, ref, spacing=None, convention="segscore", directed=False, label=None, labels=None, empty=None,
         ignore_label=None, threads=None, connectivity=None, device=None):
    """95th-percentile Hausdorff distance (mm), per the convention's percentile rule.

    Same as ``hausdorff(pred, ref, 95, ...)``: the 95th percentile of the boundary distances
    under the convention's rule, robust to a few outlying boundary elements.  The
    conventions differ most here (see Notes): the same pair can score 2.26, 6.79 or 11.31.

    Parameters
    ----------
    pred, ref : array_like
        Prediction and reference, one shape, 1-D to 3-D (deepmind: 2-D and 3-D): both bool
        masks, or both integer label maps (values in [0, 2**31)).  numpy, torch CPU and
        ``__array__`` inputs are read without a copy; CuPy arrays and torch CUDA tensors are
        processed on their device.
    spacing : sequence of float, optional
        Voxel size in mm per array axis (None: 1 per axis); distances are in mm.
    convention : str, default "segscore"
        Whose definition to compute: ``"segscore"``, ``"deepmind"``, ``"monai"``,
        ``"monai-subvoxels"``, ``"medpy"``, ``"metricsreloaded"`` or ``"panoptica"`` (see
        :data:`segscore.CONVENTIONS` and the rules below).  A convention that does not define
        the metric raises ``ValueError`` naming those that do.
    directed : bool, default False
        Only the pred -> ref direction (the distances of the prediction's boundary to the
        reference's) instead of the symmetric value.
    label : int or tuple, optional
        Label maps only: score this one label (a tuple: their union) and return a float.
    labels : int, sequence or dict, optional
        Label maps only: ints, a sequence (tuples in it are union regions) or
        ``{name: int | tuple}``; None: every non-zero label present in either map.  A
        requested label absent from both maps is a both-empty case, never dropped.
    empty : float, str or dict, optional
        Empty-mask policy overriding the convention's defaults (see Notes): one value
        for every case, or ``{metric: value | {"ref" | "pred" | "both": value}}`` (keys such
        as ``"hd95"``, or the family ``"hdp"``, ``"assd"``, ``"nsd"``, ...).  Values: nan,
        inf, a number, ``"worst"`` (the image diagonal in mm for a distance, 0 for a
        similarity) or ``"error"`` (raise :class:`segscore.EmptyMaskError`).
    ignore_label : int, optional
        Label maps only: voxels whose reference label equals it are removed from both maps
        before the boundaries are extracted.
    threads : int, optional
        CPU threads (default ``SEGSCORE_NUM_THREADS`` or the usable cores), over labels and
        within large crops; results are bit-identical for any count.
    connectivity : int, optional
        ``medpy`` and ``panoptica`` only: the structuring element of the erosion that
        defines the voxel border (1 = faces, ..., ndim = full neighbourhood), as their
        ``connectivity`` argument; default 1.  Other conventions refuse it.
    device : {None, "cpu", "cuda", "cupy"}, optional
        Force a backend; None: GPU inputs stay on their device, host inputs on the CPU.

    Returns
    -------
    float or dict
        A float for bool masks (or `label`), else ``{label: float}``.

    Raises
    ------
    ValueError
        The convention does not define the metric or the input's dimension, shapes differ,
        `spacing` is invalid, `connectivity` is given to a convention without it, or a label
        is invalid.
    TypeError
        One input is a bool mask and the other a label map.
    segscore.EmptyMaskError
        A mask is empty and the policy is ``"error"`` (``medpy``: HD, HDp, ASSD;
        ``panoptica``: HD, HDp, NSD).

    Notes
    -----
    Boundaries and weights: ``segscore``, ``deepmind`` and ``monai-subvoxels`` use the
    corner-grid surfels of DeepMind's surface-distance (2x2x2 neighbour codes; each element
    weighted by its surfel area in mm^2, its length in 2-D, 1 in 1-D); ``monai``, ``medpy``,
    ``metricsreloaded`` and ``panoptica`` use the voxel border ``mask & ~erosion(mask)``
    (face connectivity; ``connectivity=`` for medpy / panoptica), each voxel weighted 1.
    Every element's distance to the other boundary is exact (Euclidean, in mm, computed as
    scipy's EDT reports it); ``monai`` rounds distances to float32 as it does.

    Percentile rule per convention:

    * ``segscore``, ``deepmind``: per direction, area-weighted nearest rank (sort by
      (distance, area), sequential float64 cumulative sum of the areas, first element whose
      cumulative fraction reaches 0.95, numpy ``searchsorted`` side left); the larger of the
      two directions (DeepMind's ``compute_robust_hausdorff``).
    * ``monai``: per direction, ``torch.quantile`` (linear) in float32; the larger.
    * ``metricsreloaded``: per direction, ``np.percentile`` (linear); the larger.
    * ``medpy``, ``panoptica``: ``np.percentile`` (linear) of both directions pooled.
    * ``monai-subvoxels``: not defined (raises).

    Empty masks (ref empty, pred empty, both empty): ``segscore`` and ``monai`` inf, inf,
    nan; ``deepmind`` inf, inf, inf; ``metricsreloaded`` nan, nan, 0; ``medpy`` and
    ``panoptica`` raise :class:`segscore.EmptyMaskError`.  A percentile of distances that
    contain inf is inf under every convention (MONAI 1.6.1 returns nan for one empty mask:
    a documented deviation, see docs/conventions.md).

    References
    ----------
    .. [1] Huttenlocher, D. P., Klanderman, G. A. & Rucklidge, W. J. (1993). Comparing images using
        the Hausdorff distance. IEEE TPAMI 15(9), 850-863.
    .. [2] Taha, A. A. & Hanbury, A. (2015). Metrics for evaluating 3D medical image segmentation:
        analysis, selection, and tool. BMC Medical Imaging 15:29.
    .. [3] Nikolov, S. et al. (2021). Clinically applicable segmentation of head and neck anatomy
        for radiotherapy: deep learning algorithm development and validation study. Journal of
        Medical Internet Research 23(7), e26151 (normalised surface distance; DeepMind surface-
        distance 0.1).
    .. [4] Peers mirrored by name: DeepMind surface-distance 0.1, MONAI 1.6.1, MedPy 0.5.2,
        MetricsReloaded, panoptica 2.1.7 (docs/conventions.md, docs/conventions_research.md).

    Examples
    --------
    >>> import numpy as np
    >>> import segscore as ss
    >>> ref = np.zeros((8, 8), bool); ref[2:6, 2:6] = True
    >>> pred = ref.copy(); pred[2:6, 6] = True; pred[0, 0] = True  # one column more, one speck
    >>> round(ss.hd95(pred, ref), 4)
    2.2361
    >>> {c: round(ss.hd95(pred, ref, convention=c), 4) for c in ("deepmind", "monai", "medpy")}
    {'deepmind': 2.2361, 'monai': 1.5485, 'medpy': 1.0}
    >>> round(ss.hd95(pred, ref, directed=True), 4)  # pred -> ref only
    2.2361
    >>> empty = np.zeros_like(ref)
    >>> ss.hd95(pred, empty), ss.hd95(empty, empty), ss.hd95(empty, empty, convention="deepmind")
    (inf, nan, inf)
    >>> round(ss.hd95(pred, empty, empty="worst"), 4)  # the image diagonal
    11.3137

    Label maps give one value per label:

    >>> lab_ref = np.where(ref, 1, 0); lab_ref[0:2, 6:8] = 2
    >>> lab_pred = np.where(pred, 1, 0); lab_pred[0:2, 5:8] = 2
    >>> {k: round(v, 4) for k, v in ss.hd95(lab_pred, lab_ref).items()}
    {1: 2.2361, 2: 1.0}
    >>> ss.hd95(lab_pred, lab_ref, label=2)
    1.0
    """
    return hausdorff(pred, ref, 95, spacing, convention, directed, label, labels, empty, ignore_label, threads,
                     connectivity, device=device)


def assd(pred, ref, spacing=None, convention="segscore", label=None, labels=None, empty=None, ignore_label=None,
         threads=None, connectivity=None, device=None):
    """Average symmetric surface distance (mm), as the convention defines it.

    The mean distance of the boundary elements of both masks to the other boundary.  Most
    libraries pool both directions' elements (a larger boundary counts more); panoptica
    averages the two directed means (its "ASSD" is MASD, see :func:`masd`).

    Parameters
    ----------
    pred, ref : array_like
        Prediction and reference, one shape, 1-D to 3-D (deepmind: 2-D and 3-D): both bool
        masks, or both integer label maps (values in [0, 2**31)).  numpy, torch CPU and
        ``__array__`` inputs are read without a copy; CuPy arrays and torch CUDA tensors are
        processed on their device.
    spacing : sequence of float, optional
        Voxel size in mm per array axis (None: 1 per axis); distances are in mm.
    convention : str, default "segscore"
        Whose definition to compute: ``"segscore"``, ``"deepmind"``, ``"monai"``,
        ``"monai-subvoxels"``, ``"medpy"``, ``"metricsreloaded"`` or ``"panoptica"`` (see
        :data:`segscore.CONVENTIONS` and the rules below).  A convention that does not define
        the metric raises ``ValueError`` naming those that do.
    label : int or tuple, optional
        Label maps only: score this one label (a tuple: their union) and return a float.
    labels : int, sequence or dict, optional
        Label maps only: ints, a sequence (tuples in it are union regions) or
        ``{name: int | tuple}``; None: every non-zero label present in either map.  A
        requested label absent from both maps is a both-empty case, never dropped.
    empty : float, str or dict, optional
        Empty-mask policy overriding the convention's defaults (see Notes): one value
        for every case, or ``{metric: value | {"ref" | "pred" | "both": value}}`` (keys such
        as ``"hd95"``, or the family ``"hdp"``, ``"assd"``, ``"nsd"``, ...).  Values: nan,
        inf, a number, ``"worst"`` (the image diagonal in mm for a distance, 0 for a
        similarity) or ``"error"`` (raise :class:`segscore.EmptyMaskError`).
    ignore_label : int, optional
        Label maps only: voxels whose reference label equals it are removed from both maps
        before the boundaries are extracted.
    threads : int, optional
        CPU threads (default ``SEGSCORE_NUM_THREADS`` or the usable cores), over labels and
        within large crops; results are bit-identical for any count.
    connectivity : int, optional
        ``medpy`` and ``panoptica`` only: the structuring element of the erosion that
        defines the voxel border (1 = faces, ..., ndim = full neighbourhood), as their
        ``connectivity`` argument; default 1.  Other conventions refuse it.
    device : {None, "cpu", "cuda", "cupy"}, optional
        Force a backend; None: GPU inputs stay on their device, host inputs on the CPU.

    Returns
    -------
    float or dict
        A float for bool masks (or `label`), else ``{label: float}``.

    Raises
    ------
    ValueError
        The convention does not define the metric or the input's dimension, shapes differ,
        `spacing` is invalid, `connectivity` is given to a convention without it, or a label
        is invalid.
    TypeError
        One input is a bool mask and the other a label map.
    segscore.EmptyMaskError
        A mask is empty and the policy is ``"error"`` (``medpy``: HD, HDp, ASSD;
        ``panoptica``: HD, HDp, NSD).

    Notes
    -----
    Boundaries and weights: ``segscore``, ``deepmind`` and ``monai-subvoxels`` use the
    corner-grid surfels of DeepMind's surface-distance (2x2x2 neighbour codes; each element
    weighted by its surfel area in mm^2, its length in 2-D, 1 in 1-D); ``monai``, ``medpy``,
    ``metricsreloaded`` and ``panoptica`` use the voxel border ``mask & ~erosion(mask)``
    (face connectivity; ``connectivity=`` for medpy / panoptica), each voxel weighted 1.
    Every element's distance to the other boundary is exact (Euclidean, in mm, computed as
    scipy's EDT reports it); ``monai`` rounds distances to float32 as it does.

    Rule per convention, with d, w the distances and weights of each direction:

    * ``segscore``, ``deepmind``: pooled, area-weighted
      ``(sum d_p w_p + sum d_r w_r) / (sum w_p + sum w_r)``.  (DeepMind itself returns
      the directed pair: ``surface_distances(...).asd(directed=False)``.)
    * ``monai``: pooled mean of the float32 distances, in float32.
    * ``medpy``, ``metricsreloaded``: pooled mean (each boundary voxel counts 1).
    * ``panoptica``: mean of the two directed means.
    * ``monai-subvoxels``: not defined (raises).

    Empty masks (ref empty, pred empty, both empty): ``segscore``, ``deepmind``, ``monai``
    and ``panoptica`` inf, inf, nan; ``metricsreloaded`` nan, nan, 0; ``medpy`` raises
    :class:`segscore.EmptyMaskError`.

    References
    ----------
    .. [1] Taha, A. A. & Hanbury, A. (2015). Metrics for evaluating 3D medical image segmentation:
        analysis, selection, and tool. BMC Medical Imaging 15:29.
    .. [2] Nikolov, S. et al. (2021). Clinically applicable segmentation of head and neck anatomy
        for radiotherapy: deep learning algorithm development and validation study. Journal of
        Medical Internet Research 23(7), e26151 (normalised surface distance; DeepMind surface-
        distance 0.1).
    .. [3] Peers mirrored by name: DeepMind surface-distance 0.1, MONAI 1.6.1, MedPy 0.5.2,
        MetricsReloaded, panoptica 2.1.7 (docs/conventions.md, docs/conventions_research.md).

    Examples
    --------
    >>> import numpy as np
    >>> import segscore as ss
    >>> ref = np.zeros((8, 8), bool); ref[2:6, 2:6] = True
    >>> pred = ref.copy(); pred[2:6, 6] = True; pred[0, 0] = True  # one column more, one speck
    >>> round(ss.assd(pred, ref), 4)
    0.3937
    >>> {c: round(ss.assd(pred, ref, convention=c), 4) for c in ("monai", "panoptica")}
    {'monai': 0.327, 'panoptica': 0.3109}
    >>> ss.assd(np.zeros_like(ref), ref), ss.assd(np.zeros_like(ref), ref, convention="metricsreloaded")
    (inf, nan)
    """
    return _each(pred, ref, spacing, convention, label, labels, empty, ignore_label, threads,
                 lambda sd: sd.assd(), "assd", connectivity=connectivity, device=device)


def masd(pred, ref, spacing=None, convention="segscore", label=None, labels=None, empty=None, ignore_label=None,
         threads=None, connectivity=None, device=None):
    """Mean average surface distance (mm): the mean of the two directed average distances.

    ``MASD = (ASD(pred -> ref) + ASD(ref -> pred)) / 2``, each directed mean weighted as the
    convention weights boundary elements (surfel area for segscore / deepmind, 1 per
    boundary voxel otherwise).  Unlike the pooled ASSD, both boundaries count equally
    whatever their size.

    Parameters
    ----------
    pred, ref : array_like
        Prediction and reference, one shape, 1-D to 3-D (deepmind: 2-D and 3-D): both bool
        masks, or both integer label maps (values in [0, 2**31)).  numpy, torch CPU and
        ``__array__`` inputs are read without a copy; CuPy arrays and torch CUDA tensors are
        processed on their device.
    spacing : sequence of float, optional
        Voxel size in mm per array axis (None: 1 per axis); distances are in mm.
    convention : str, default "segscore"
        Whose definition to compute: ``"segscore"``, ``"deepmind"``, ``"monai"``,
        ``"monai-subvoxels"``, ``"medpy"``, ``"metricsreloaded"`` or ``"panoptica"`` (see
        :data:`segscore.CONVENTIONS` and the rules below).  A convention that does not define
        the metric raises ``ValueError`` naming those that do.
    label : int or tuple, optional
        Label maps only: score this one label (a tuple: their union) and return a float.
    labels : int, sequence or dict, optional
        Label maps only: ints, a sequence (tuples in it are union regions) or
        ``{name: int | tuple}``; None: every non-zero label present in either map.  A
        requested label absent from both maps is a both-empty case, never dropped.
    empty : float, str or dict, optional
        Empty-mask policy overriding the convention's defaults (see Notes): one value
        for every case, or ``{metric: value | {"ref" | "pred" | "both": value}}`` (keys such
        as ``"hd95"``, or the family ``"hdp"``, ``"assd"``, ``"nsd"``, ...).  Values: nan,
        inf, a number, ``"worst"`` (the image diagonal in mm for a distance, 0 for a
        similarity) or ``"error"`` (raise :class:`segscore.EmptyMaskError`).
    ignore_label : int, optional
        Label maps only: voxels whose reference label equals it are removed from both maps
        before the boundaries are extracted.
    threads : int, optional
        CPU threads (default ``SEGSCORE_NUM_THREADS`` or the usable cores), over labels and
        within large crops; results are bit-identical for any count.
    connectivity : int, optional
        ``medpy`` and ``panoptica`` only: the structuring element of the erosion that
        defines the voxel border (1 = faces, ..., ndim = full neighbourhood), as their
        ``connectivity`` argument; default 1.  Other conventions refuse it.
    device : {None, "cpu", "cuda", "cupy"}, optional
        Force a backend; None: GPU inputs stay on their device, host inputs on the CPU.

    Returns
    -------
    float or dict
        A float for bool masks (or `label`), else ``{label: float}``.

    Raises
    ------
    ValueError
        The convention does not define the metric or the input's dimension, shapes differ,
        `spacing` is invalid, `connectivity` is given to a convention without it, or a label
        is invalid.
    TypeError
        One input is a bool mask and the other a label map.
    segscore.EmptyMaskError
        A mask is empty and the policy is ``"error"`` (set through `empty`).

    Notes
    -----
    Boundaries and weights: ``segscore``, ``deepmind`` and ``monai-subvoxels`` use the
    corner-grid surfels of DeepMind's surface-distance (2x2x2 neighbour codes; each element
    weighted by its surfel area in mm^2, its length in 2-D, 1 in 1-D); ``monai``, ``medpy``,
    ``metricsreloaded`` and ``panoptica`` use the voxel border ``mask & ~erosion(mask)``
    (face connectivity; ``connectivity=`` for medpy / panoptica), each voxel weighted 1.
    Every element's distance to the other boundary is exact (Euclidean, in mm, computed as
    scipy's EDT reports it); ``monai`` rounds distances to float32 as it does.

    Defined by ``segscore``, ``deepmind``, ``metricsreloaded`` (its MASD) and ``panoptica``
    (there named ASSD); ``monai``, ``monai-subvoxels`` and ``medpy`` raise ``ValueError``.

    Empty masks (ref empty, pred empty, both empty): ``segscore``, ``deepmind`` and
    ``panoptica`` inf, inf, nan; ``metricsreloaded`` nan, nan, 0.

    References
    ----------
    .. [1] Maier-Hein, L., Reinke, A. et al. (2024). Metrics reloaded: recommendations for image
        analysis validation. Nature Methods 21, 195-212.
    .. [2] Peers mirrored by name: DeepMind surface-distance 0.1, MONAI 1.6.1, MedPy 0.5.2,
        MetricsReloaded, panoptica 2.1.7 (docs/conventions.md, docs/conventions_research.md).

    Examples
    --------
    >>> import numpy as np
    >>> import segscore as ss
    >>> ref = np.zeros((8, 8), bool); ref[2:6, 2:6] = True
    >>> pred = ref.copy(); pred[2:6, 6] = True; pred[0, 0] = True  # one column more, one speck
    >>> round(ss.masd(pred, ref), 4)
    0.3702
    >>> round(ss.masd(pred, ref, convention="metricsreloaded"), 4)
    0.3109
    """
    return _each(pred, ref, spacing, convention, label, labels, empty, ignore_label, threads,
                 lambda sd: sd.masd(), "masd", connectivity=connectivity, device=device)


def nsd(pred, ref, tolerance=None, spacing=None, convention="segscore", label=None, labels=None, empty=None,
        ignore_label=None, threads=None, connectivity=None, device=None):
    """Normalised surface distance (surface Dice) at a tolerance in mm.

    The fraction of both boundaries that lies within `tolerance` mm of the other boundary:
    ``NSD = (|S_p within tau| + |S_r within tau|) / (|S_p| + |S_r|)``, boundary sizes
    measured as the convention weights elements (surfel areas or counts).  1 is perfect.

    Parameters
    ----------
    pred, ref : array_like
        Prediction and reference, one shape, 1-D to 3-D (deepmind: 2-D and 3-D): both bool
        masks, or both integer label maps (values in [0, 2**31)).  numpy, torch CPU and
        ``__array__`` inputs are read without a copy; CuPy arrays and torch CUDA tensors are
        processed on their device.
    tolerance : float, optional
        tau in mm (>= 0); a distance d counts when ``d <= tau``.  None: the convention's
        default (``metricsreloaded`` 1, ``panoptica`` min(spacing)); the others need it.
    spacing : sequence of float, optional
        Voxel size in mm per array axis (None: 1 per axis); distances are in mm.
    convention : str, default "segscore"
        Whose definition to compute: ``"segscore"``, ``"deepmind"``, ``"monai"``,
        ``"monai-subvoxels"``, ``"medpy"``, ``"metricsreloaded"`` or ``"panoptica"`` (see
        :data:`segscore.CONVENTIONS` and the rules below).  A convention that does not define
        the metric raises ``ValueError`` naming those that do.
    label : int or tuple, optional
        Label maps only: score this one label (a tuple: their union) and return a float.
    labels : int, sequence or dict, optional
        Label maps only: ints, a sequence (tuples in it are union regions) or
        ``{name: int | tuple}``; None: every non-zero label present in either map.  A
        requested label absent from both maps is a both-empty case, never dropped.
    empty : float, str or dict, optional
        Empty-mask policy overriding the convention's defaults (see Notes): one value
        for every case, or ``{metric: value | {"ref" | "pred" | "both": value}}`` (keys such
        as ``"hd95"``, or the family ``"hdp"``, ``"assd"``, ``"nsd"``, ...).  Values: nan,
        inf, a number, ``"worst"`` (the image diagonal in mm for a distance, 0 for a
        similarity) or ``"error"`` (raise :class:`segscore.EmptyMaskError`).
    ignore_label : int, optional
        Label maps only: voxels whose reference label equals it are removed from both maps
        before the boundaries are extracted.
    threads : int, optional
        CPU threads (default ``SEGSCORE_NUM_THREADS`` or the usable cores), over labels and
        within large crops; results are bit-identical for any count.
    connectivity : int, optional
        ``medpy`` and ``panoptica`` only: the structuring element of the erosion that
        defines the voxel border (1 = faces, ..., ndim = full neighbourhood), as their
        ``connectivity`` argument; default 1.  Other conventions refuse it.
    device : {None, "cpu", "cuda", "cupy"}, optional
        Force a backend; None: GPU inputs stay on their device, host inputs on the CPU.

    Returns
    -------
    float or dict
        A float for bool masks (or `label`), else ``{label: float}``.

    Raises
    ------
    ValueError
        The convention does not define the metric or the input's dimension, shapes differ,
        `spacing` is invalid, `connectivity` is given to a convention without it, or a label
        is invalid.
    TypeError
        One input is a bool mask and the other a label map.
    segscore.EmptyMaskError
        A mask is empty and the policy is ``"error"`` (``medpy``: HD, HDp, ASSD;
        ``panoptica``: HD, HDp, NSD).

    Notes
    -----
    Boundaries and weights: ``segscore``, ``deepmind`` and ``monai-subvoxels`` use the
    corner-grid surfels of DeepMind's surface-distance (2x2x2 neighbour codes; each element
    weighted by its surfel area in mm^2, its length in 2-D, 1 in 1-D); ``monai``, ``medpy``,
    ``metricsreloaded`` and ``panoptica`` use the voxel border ``mask & ~erosion(mask)``
    (face connectivity; ``connectivity=`` for medpy / panoptica), each voxel weighted 1.
    Every element's distance to the other boundary is exact (Euclidean, in mm, computed as
    scipy's EDT reports it); ``monai`` rounds distances to float32 as it does.

    Rule per convention:

    * ``segscore``, ``deepmind``: pooled, area-weighted (DeepMind's
      ``compute_surface_dice_at_tolerance``).
    * ``monai-subvoxels``: the same, distances compared in float32 (MONAI's
      ``use_subvoxels=True``).
    * ``monai``: pooled counts, float32 distances compared with float32(tau).
    * ``metricsreloaded``: pooled counts; default tau = 1.
    * ``panoptica``: its expression from the directed fractions,
      ``(f_a + f_b) / (f_a + f_b + (1 - f_a) + (1 - f_b))``, i.e. their mean; default tau =
      min(spacing).
    * ``medpy``: not defined (raises).

    Empty masks (ref empty, pred empty, both empty): ``segscore``, ``deepmind``, ``monai``
    and ``monai-subvoxels`` 0, 0, nan; ``metricsreloaded`` 0, 0, 1 (its NSD with one empty
    mask can be a small nonzero artefact there; segscore returns 0); ``panoptica`` raises
    :class:`segscore.EmptyMaskError` (its evaluator has no handler).

    References
    ----------
    .. [1] Nikolov, S. et al. (2021). Clinically applicable segmentation of head and neck anatomy
        for radiotherapy: deep learning algorithm development and validation study. Journal of
        Medical Internet Research 23(7), e26151 (normalised surface distance; DeepMind surface-
        distance 0.1).
    .. [2] Maier-Hein, L., Reinke, A. et al. (2024). Metrics reloaded: recommendations for image
        analysis validation. Nature Methods 21, 195-212.
    .. [3] Peers mirrored by name: DeepMind surface-distance 0.1, MONAI 1.6.1, MedPy 0.5.2,
        MetricsReloaded, panoptica 2.1.7 (docs/conventions.md, docs/conventions_research.md).

    Examples
    --------
    >>> import numpy as np
    >>> import segscore as ss
    >>> ref = np.zeros((8, 8), bool); ref[2:6, 2:6] = True
    >>> pred = ref.copy(); pred[2:6, 6] = True; pred[0, 0] = True  # one column more, one speck
    >>> round(ss.nsd(pred, ref, 1.0), 4)
    0.918
    >>> {c: round(ss.nsd(pred, ref, 1.0, convention=c), 4) for c in ("monai", "panoptica")}
    {'monai': 0.963, 'panoptica': 0.9667}
    >>> round(ss.nsd(pred, ref, convention="metricsreloaded"), 4)  # default tau = 1
    0.963
    >>> ss.nsd(pred, ref, 3.0)
    1.0
    >>> ss.nsd(np.zeros_like(ref), ref, 1.0)
    0.0
    """
    return _each(pred, ref, spacing, convention, label, labels, empty, ignore_label, threads,
                 lambda sd: sd.nsd(tolerance), "nsd", connectivity=connectivity, name="NSD",
                 tolerance=tolerance, needs_tolerance=True, device=device)


def surface_overlap(pred, ref, tolerance=None, spacing=None, convention="segscore", label=None, labels=None,
                    empty=None, ignore_label=None, threads=None, device=None):
    """Directed surface overlap: the fraction of each boundary within `tolerance` mm of the other.

    Returns ``(pred -> ref, ref -> pred)``: the (area- or count-) weighted fraction of the
    prediction's boundary within tau of the reference's boundary, and the reverse
    (DeepMind's ``compute_surface_overlap_at_tolerance``).  :func:`nsd` pools the two.

    Parameters
    ----------
    pred, ref : array_like
        Prediction and reference, one shape, 1-D to 3-D (deepmind: 2-D and 3-D): both bool
        masks, or both integer label maps (values in [0, 2**31)).  numpy, torch CPU and
        ``__array__`` inputs are read without a copy; CuPy arrays and torch CUDA tensors are
        processed on their device.
    tolerance : float, optional
        tau in mm (>= 0), ``d <= tau`` counts; None: the convention's default NSD tolerance
        (``metricsreloaded`` 1, ``panoptica`` min(spacing)), else required.
    spacing : sequence of float, optional
        Voxel size in mm per array axis (None: 1 per axis); distances are in mm.
    convention : str, default "segscore"
        Whose definition to compute: ``"segscore"``, ``"deepmind"``, ``"monai"``,
        ``"monai-subvoxels"``, ``"medpy"``, ``"metricsreloaded"`` or ``"panoptica"`` (see
        :data:`segscore.CONVENTIONS` and the rules below).  A convention that does not define
        the metric raises ``ValueError`` naming those that do.
    label : int or tuple, optional
        Label maps only: score this one label (a tuple: their union) and return a float.
    labels : int, sequence or dict, optional
        Label maps only: ints, a sequence (tuples in it are union regions) or
        ``{name: int | tuple}``; None: every non-zero label present in either map.  A
        requested label absent from both maps is a both-empty case, never dropped.
    empty : float, str or dict, optional
        Empty-mask policy overriding the convention's defaults (see Notes): one value
        for every case, or ``{metric: value | {"ref" | "pred" | "both": value}}`` (keys such
        as ``"hd95"``, or the family ``"hdp"``, ``"assd"``, ``"nsd"``, ...).  Values: nan,
        inf, a number, ``"worst"`` (the image diagonal in mm for a distance, 0 for a
        similarity) or ``"error"`` (raise :class:`segscore.EmptyMaskError`).
    ignore_label : int, optional
        Label maps only: voxels whose reference label equals it are removed from both maps
        before the boundaries are extracted.
    threads : int, optional
        CPU threads (default ``SEGSCORE_NUM_THREADS`` or the usable cores), over labels and
        within large crops; results are bit-identical for any count.
    device : {None, "cpu", "cuda", "cupy"}, optional
        Force a backend; None: GPU inputs stay on their device, host inputs on the CPU.

    Returns
    -------
    tuple of float or dict
        ``(pred -> ref, ref -> pred)`` for bool masks (or `label`), else ``{label: tuple}``.

    Raises
    ------
    ValueError
        The convention does not define the metric or the input's dimension, shapes differ,
        `spacing` is invalid, `connectivity` is given to a convention without it, or a label
        is invalid.
    TypeError
        One input is a bool mask and the other a label map.
    segscore.EmptyMaskError
        A mask is empty and the policy is ``"error"`` (``panoptica``).

    Notes
    -----
    Boundaries and weights: ``segscore``, ``deepmind`` and ``monai-subvoxels`` use the
    corner-grid surfels of DeepMind's surface-distance (2x2x2 neighbour codes; each element
    weighted by its surfel area in mm^2, its length in 2-D, 1 in 1-D); ``monai``, ``medpy``,
    ``metricsreloaded`` and ``panoptica`` use the voxel border ``mask & ~erosion(mask)``
    (face connectivity; ``connectivity=`` for medpy / panoptica), each voxel weighted 1.
    Every element's distance to the other boundary is exact (Euclidean, in mm, computed as
    scipy's EDT reports it); ``monai`` rounds distances to float32 as it does.

    Weights per convention as for :func:`nsd` (areas for segscore / deepmind /
    monai-subvoxels, counts otherwise; float32 comparison for monai and monai-subvoxels).
    Defined wherever NSD is (not ``medpy``).

    Empty masks: the direction without boundary elements is nan; the other takes the
    policy value of the ``overlap`` family (as NSD: 0 for one empty mask, nan for both
    under segscore; 1 for both under metricsreloaded; panoptica raises).  So an empty
    reference gives ``(0.0, nan)``, as DeepMind.

    References
    ----------
    .. [1] Nikolov, S. et al. (2021). Clinically applicable segmentation of head and neck anatomy
        for radiotherapy: deep learning algorithm development and validation study. Journal of
        Medical Internet Research 23(7), e26151 (normalised surface distance; DeepMind surface-
        distance 0.1).
    .. [2] Peers mirrored by name: DeepMind surface-distance 0.1, MONAI 1.6.1, MedPy 0.5.2,
        MetricsReloaded, panoptica 2.1.7 (docs/conventions.md, docs/conventions_research.md).

    Examples
    --------
    >>> import numpy as np
    >>> import segscore as ss
    >>> ref = np.zeros((8, 8), bool); ref[2:6, 2:6] = True
    >>> pred = ref.copy(); pred[2:6, 6] = True; pred[0, 0] = True  # one column more, one speck
    >>> so = ss.surface_overlap(pred, ref, 1.0)
    >>> round(so[0], 4), so[1]
    (0.8561, 1.0)
    >>> ss.surface_overlap(pred, np.zeros_like(ref), 1.0)
    (0.0, nan)
    """
    return _each(pred, ref, spacing, convention, label, labels, empty, ignore_label, threads,
                 lambda sd: sd.surface_overlap(tolerance), "overlap", name="surface overlap",
                 tolerance=tolerance, needs_tolerance=True, device=device)


def boundary_iou(pred, ref, width=None, spacing=None, convention="segscore", label=None, labels=None, empty=None,
                 ignore_label=None, threads=None, device=None):
    """Boundary IoU: the IoU of the inner boundary bands of the two masks.

    Each mask's band is the set of its voxels within `width` of its voxel border (mask xor
    face erosion); ``boundary IoU = |band(P) & band(R)| / |band(P) | band(R)|``.  More
    sensitive to boundary quality than Dice on large objects (Cheng et al. 2021).

    Parameters
    ----------
    pred, ref : array_like
        Prediction and reference, one shape, 1-D to 3-D (deepmind: 2-D and 3-D): both bool
        masks, or both integer label maps (values in [0, 2**31)).  numpy, torch CPU and
        ``__array__`` inputs are read without a copy; CuPy arrays and torch CUDA tensors are
        processed on their device.
    width : float, optional
        Band width (> 0): mm for ``segscore``, voxels for ``metricsreloaded``; default 1
        (under metricsreloaded only the border voxels themselves).
    spacing : sequence of float, optional
        Voxel size in mm per array axis (None: 1 per axis); distances are in mm.
    convention : {"segscore", "metricsreloaded"}, default "segscore"
        The other conventions do not define boundary IoU and raise ``ValueError``.
    label : int or tuple, optional
        Label maps only: score this one label (a tuple: their union) and return a float.
    labels : int, sequence or dict, optional
        Label maps only: ints, a sequence (tuples in it are union regions) or
        ``{name: int | tuple}``; None: every non-zero label present in either map.  A
        requested label absent from both maps is a both-empty case, never dropped.
    empty : float, str or dict, optional
        Empty-mask policy overriding the convention's defaults (see Notes): one value
        for every case, or ``{metric: value | {"ref" | "pred" | "both": value}}`` (keys such
        as ``"hd95"``, or the family ``"hdp"``, ``"assd"``, ``"nsd"``, ...).  Values: nan,
        inf, a number, ``"worst"`` (the image diagonal in mm for a distance, 0 for a
        similarity) or ``"error"`` (raise :class:`segscore.EmptyMaskError`).
    ignore_label : int, optional
        Label maps only: voxels whose reference label equals it are removed from both maps
        before the boundaries are extracted.
    threads : int, optional
        CPU threads (default ``SEGSCORE_NUM_THREADS`` or the usable cores), over labels and
        within large crops; results are bit-identical for any count.
    device : {None, "cpu", "cuda", "cupy"}, optional
        Force a backend; None: GPU inputs stay on their device, host inputs on the CPU.

    Returns
    -------
    float or dict
        A float for bool masks (or `label`), else ``{label: float}``.

    Raises
    ------
    ValueError
        The convention does not define boundary IoU, `width` is not positive, shapes differ
        or a label is invalid.
    TypeError
        One input is a bool mask and the other a label map.

    Notes
    -----
    Band rule per convention:

    * ``segscore``: voxels whose distance (mm, with spacing) to the mask's voxel border is
      ``<= width``.
    * ``metricsreloaded``: distance ``< width`` in voxels (its implementation ignores the
      spacing), default width 1.

    Empty masks (ref empty, pred empty, both empty): ``segscore`` 0, 0, nan;
    ``metricsreloaded`` 0, 0, 1.

    References
    ----------
    .. [1] Cheng, B., Girshick, R., Dollar, P., Berg, A. C. & Kirillov, A. (2021). Boundary IoU:
        improving object-centric image segmentation evaluation. CVPR 2021, 15334-15342.
    .. [2] Maier-Hein, L., Reinke, A. et al. (2024). Metrics reloaded: recommendations for image
        analysis validation. Nature Methods 21, 195-212.

    Examples
    --------
    >>> import numpy as np
    >>> import segscore as ss
    >>> ref = np.zeros((8, 8), bool); ref[2:6, 2:6] = True
    >>> pred = ref.copy(); pred[2:6, 6] = True; pred[0, 0] = True  # one column more, one speck
    >>> round(ss.boundary_iou(pred, ref), 4)
    0.7619
    >>> round(ss.boundary_iou(pred, ref, convention="metricsreloaded"), 4)
    0.5882
    >>> round(ss.boundary_iou(pred, ref, width=2, convention="metricsreloaded"), 4)
    0.7619
    """
    from ..._core.validate import check_positive

    conv = _conv.get(convention)
    _conv.require(conv, "biou", "boundary IoU")
    w = conv.default_biou_width if width is None else check_positive(width, "width")
    return _each(pred, ref, spacing, convention, label, labels, empty, ignore_label, threads,
                 lambda sd: sd.boundary_iou(), "biou", biou_width=w, name="boundary IoU", device=device)
