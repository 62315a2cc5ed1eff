"""`evaluate`: every label, every requested metric, one call."""

from __future__ import annotations

from . import empty as _empty
from . import registry as _registry
from .surface import conventions as _conv
from .case import Case
from .surface.functional import compute
from .overlap import overlap_value

# the columns by kind, in the registry's order (kept for importers; the registry is the source)
OVERLAP = _registry.names(scope=_registry.EVALUATE, kind=_registry.OVERLAP)
COUNTS = _registry.names(scope=_registry.EVALUATE, kind=(_registry.COUNT, _registry.VOLUME))
SURFACE_DEFAULT = _registry.names(scope=_registry.EVALUATE, kind=_registry.SURFACE, default=True)
_NAMES = frozenset(_registry.names(scope=_registry.EVALUATE))


class Result:
    """Per-label metrics of one case, as returned by :func:`segscore.evaluate`.

    A mapping-like table: ``res[label]`` is ``{metric: value}``, iteration gives the label
    keys in order, ``len(res)`` the number of labels.

    Attributes
    ----------
    columns : list of str
        The metric columns, in the order requested (or the registry's default order).
    meta : dict
        ``version`` (segscore), ``convention`` and ``mirrors`` (the peer library and version
        it reproduces), ``spacing`` (mm), ``threads``, ``device`` (``"cpu"``, ``"cuda"`` or
        ``"cupy"``) and ``shape``.
    lesions : list of dict or None
        With ``ss.evaluate(..., lesionwise=...)``: one row per lesion (see
        :class:`segscore.LesionResult`), else None.

    Methods
    -------
    to_dict()
        ``{label: {metric: value}}`` (a copy).
    to_pandas()
        A ``pandas.DataFrame``, one row per label (index ``"label"``), one column per metric
        (needs pandas).

    Examples
    --------
    >>> import numpy as np
    >>> import segscore as ss
    >>> ref = np.zeros((8, 8), np.uint8); ref[2:6, 2:6] = 1; ref[0:2, 6:8] = 2
    >>> pred = ref.copy(); pred[2:6, 6] = 1; pred[0, 0] = 1; pred[0:2, 5] = 2
    >>> res = ss.evaluate(pred, ref, metrics=["dice", "hd95", "nsd@1"])
    >>> res
    Result(2 labels, metrics=['dice', 'hd95', 'nsd@1'], convention='segscore')
    >>> list(res), res.columns
    ([1, 2], ['dice', 'hd95', 'nsd@1'])
    >>> {k: round(v, 4) for k, v in res[1].items()}
    {'dice': 0.8649, 'hd95': 2.2361, 'nsd@1': 0.918}
    >>> res.meta["convention"], res.meta["mirrors"], res.meta["spacing"]
    ('segscore', 'segscore', (1.0, 1.0))
    >>> print(res.to_pandas().round(4))  # doctest: +NORMALIZE_WHITESPACE
             dice    hd95  nsd@1
    label
    1      0.8649  2.2361  0.918
    2      0.8000  1.0000  1.000
    """

    def __init__(self, rows: dict, columns: list, meta: dict, lesions=None):
        self._rows = rows
        self.columns = columns
        self.meta = meta
        self.lesions = lesions  # ss.evaluate(..., lesionwise=...): the lesion rows (LesionResult.lesions)

    def to_dict(self) -> dict:
        """``{label: {metric: value}}``, a copy of the table.

        Returns
        -------
        dict

        Examples
        --------
        >>> import numpy as np
        >>> import segscore as ss
        >>> ref = np.array([[0, 1, 1], [0, 1, 1]]); pred = np.array([[0, 0, 1], [0, 1, 1]])
        >>> ss.evaluate(pred, ref, metrics=["dice", "tp", "fn"]).to_dict()
        {1: {'dice': 0.8571428571428571, 'tp': 3, 'fn': 1}}
        """
        return {k: dict(v) for k, v in self._rows.items()}

    def to_pandas(self):
        """One row per label, one column per metric (needs pandas).

        Returns
        -------
        pandas.DataFrame
            Index ``"label"`` (the label keys), columns :attr:`columns` in order.

        Examples
        --------
        >>> import numpy as np
        >>> import segscore as ss
        >>> ref = np.array([[0, 1, 1], [0, 1, 1]]); pred = np.array([[0, 0, 1], [0, 1, 1]])
        >>> df = ss.evaluate(pred, ref, metrics=["dice", "fn"]).to_pandas()
        >>> df.index.name, list(df.columns), int(df.loc[1, "fn"])
        ('label', ['dice', 'fn'], 1)
        """
        import pandas as pd

        df = pd.DataFrame.from_dict(self._rows, orient="index", columns=self.columns)
        df.index.name = "label"
        return df

    def __getitem__(self, label):
        return self._rows[label]

    def __iter__(self):
        return iter(self._rows)

    def __len__(self):
        return len(self._rows)

    def __repr__(self):
        return f"Result({len(self._rows)} labels, metrics={self.columns}, convention={self.meta['convention']!r})"


def _fmt(x: float) -> str:
    return f"{x:g}"


def _default_names(conv, tolerance) -> list:
    """ss.evaluate's columns when metrics=None, in the registry's order: every metric whose
    ``default`` is True (a boundary metric only where the convention defines it), and those
    whose default names an argument (NSD: tolerance=) when that argument is given."""
    out = []
    for m in _registry.select(scope=_registry.EVALUATE):
        if m.default is True:
            if m.kind != _registry.SURFACE or conv.defines(m.family):
                out.append(m.name)
        elif m.default == "tolerance" and tolerance is not None:
            out.append(m.name)
    return out


def parse_metrics(metrics, conv, tolerance, spacing):
    """Normalise metric names (the metric registry's names, aliases and parameterised forms)
    to columns, unique, in the order given."""
    return [c for c, _, _ in _parse(metrics, conv, tolerance, spacing)]


def _parse(metrics, conv, tolerance, spacing) -> list:
    """[(column, registry entry, argument as a float or None)], unique by column, in order."""
    if metrics is None:
        names = _default_names(conv, tolerance)
    else:
        if isinstance(metrics, str):
            metrics = [metrics]
        names = list(metrics)
    cols = []
    for m in names:
        if not isinstance(m, str):
            raise TypeError(f"metric names must be strings, got {m!r}")
        key = m.strip().lower()
        hit = _registry.match(key)
        if hit is not None and hit[0].scope == _registry.EVALUATE and not (
                hit[0].param is not None and hit[1] is None and hit[0].param_default is None):
            col = _column(m, key, *hit, conv, tolerance, spacing)
            entry = _registry.get(col) if col in _NAMES else hit[0]
            cols.append((col, entry, None if entry.param is None else float(col[len(entry.prefix):])))
            continue
        raise ValueError(f"unknown metric {m!r}; known metrics: {_registry.known(_registry.EVALUATE)}")
    # unique, order kept
    seen = set()
    return [t for t in cols if not (t[0] in seen or seen.add(t[0]))]


def _column(m: str, key: str, metric, arg, conv, tolerance, spacing) -> str:
    """The column of metric name `m` (`key`: lowercased), whose registry entry is `metric`
    and parameterised argument `arg` (None: the bare name); refuses a metric the convention
    does not define."""
    if metric.kind != _registry.SURFACE:
        return metric.name
    label = metric.label or key
    if metric.param is None:
        _conv.require(conv, metric.family, label)
        return metric.name
    if metric.arg == "p":  # a percentile: hd<p>
        q = float(arg)
        if not 0 <= q <= 100:
            raise ValueError(f"metric {m!r}: percentile must lie in [0, 100]")
        _conv.require(conv, metric.family, label)
        return "hd" if q == 100 else f"{metric.prefix}{_fmt(q)}"  # hd100 is hd
    # a distance in mm: nsd@<mm>, biou@<mm>
    _conv.require(conv, metric.family, label)
    if arg is None:
        if metric.param_default == "tolerance":
            val = tolerance if tolerance is not None else _conv.default_tolerance(conv, spacing)
            if val is None:
                raise ValueError(
                    f"metric {metric.name!r} needs a tolerance: pass tolerance= (mm) or name it as "
                    f"{metric.param!r}; convention {conv.name!r} has no default"
                )
        else:  # "width"
            val = conv.default_biou_width
    else:
        try:
            val = float(arg)
        except ValueError:
            raise ValueError(f"metric {m!r}: {arg!r} is not a number (e.g. 'nsd@2' or 'biou@1.5')") from None
    if not val >= 0 or val == float("inf"):
        raise ValueError(f"metric {m!r}: the tolerance/width must be finite and >= 0")
    return f"{metric.prefix}{_fmt(float(val))}"


def evaluate(pred, ref, spacing=None, labels=None, metrics=None, tolerance=None, convention="segscore", empty=None,
             ignore_label=None, threads=None, connectivity=None, device=None):
    """Score one case: every label, every requested metric, one call.

    One pass over `pred` and `ref` gathers every label's confusion counts and bounding box;
    boundary distances are then computed once per label on its crop (threads over labels; on
    a GPU all labels in one batch), and every distance metric is derived from them (see
    :class:`segscore.SurfaceDistances`).  The numbers equal those of the one-metric
    functions (:func:`segscore.dice`, :func:`segscore.hd95`, ...) with the same options.

    Parameters
    ----------
    pred, ref : array_like
        Prediction and reference, one shape: both integer label maps (values in [0, 2**31),
        dtypes may differ) or both bool masks (one region, key 1).  numpy, torch CPU and
        ``__array__`` inputs are read without a copy; CuPy arrays and torch CUDA tensors are
        scored on their device.
    spacing : sequence of float, optional
        Voxel size in mm per array axis (None: 1 per axis).
    labels : int, sequence or dict, optional
        The regions (rows): ints, a sequence (a tuple in it is a union region, e.g. BraTS
        whole tumour ``(1, 2, 3)``), or ``{name: int | tuple}``.  None: every non-zero label
        present in either map.  A requested label absent from both maps is a both-empty row.
    metrics : str or list of str, optional
        Column names, in order: ``dice``, ``iou``, ``precision``, ``recall``,
        ``specificity``, ``vs`` (volume similarity), ``tp``, ``fp``, ``fn``, ``tn``,
        ``vol_pred_ml``, ``vol_ref_ml``, ``hd``, ``hd95``, ``hd<p>`` (any percentile, e.g.
        ``hd99.5``), ``assd``, ``masd``, ``nsd@<mm>`` (``nsd`` alone: at `tolerance` or the
        convention's default), ``biou@<mm>`` (``biou``: the convention's default width 1);
        aliases ``volume_similarity``, ``hausdorff``.  Case-insensitive.  None: every
        overlap metric, the counts and volumes, and ``hd``, ``hd95``, ``assd``, ``masd``
        where the convention defines them, plus ``nsd@<tolerance>`` when `tolerance` is
        given.
    tolerance : float, optional
        NSD tolerance tau in mm for ``nsd`` (None: the convention's default --
        metricsreloaded 1, panoptica min(spacing) -- where it has one).
    convention : str, default "segscore"
        A name in :data:`segscore.CONVENTIONS`: the boundary definition, weights,
        percentile rule, ASSD / NSD pooling and empty-mask defaults of every column (see
        :func:`segscore.hd95`, :func:`segscore.assd`, :func:`segscore.nsd` and
        docs/conventions.md).  A requested metric the convention does not define raises.
    empty : float, str or dict, optional
        Empty-mask policy, per metric or family: ``{"hd95": {"ref": "inf", "pred": "worst",
        "both": "nan"}}``, or one value for everything; see :func:`segscore.hd95`.
    ignore_label : int, optional
        Voxels whose reference label equals it are left out of every count and boundary.
    threads : int, optional
        CPU threads; results are bit-identical for any count.
    connectivity : int, optional
        ``medpy`` / ``panoptica`` only: the erosion connectivity of the voxel border.
    device : {None, "cpu", "cuda", "cupy"}, optional
        Force a backend.

    Returns
    -------
    Result
        One row per region; ``res.to_pandas()``, ``res.to_dict()``, ``res.meta``.

    Raises
    ------
    ValueError
        Unknown metric names (the message lists the known ones), a metric the convention
        does not define, ``nsd`` without a tolerance where the convention has no default,
        a dimension the convention does not support, different shapes, invalid spacing or
        labels.
    TypeError
        One input is a bool mask and the other a label map, or a metric name is not a
        string.
    segscore.EmptyMaskError
        A mask is empty where the policy is ``"error"`` (e.g. HD under ``medpy``).

    Notes
    -----
    Empty masks follow the convention's table per metric (segscore: Dice / IoU 0 for one
    empty mask and nan for both; HD, HDp, ASSD, MASD inf and nan; NSD and boundary IoU 0
    and nan); the full table per convention is in docs/conventions.md.

    References
    ----------
    .. [1] Taha, A. A. & Hanbury, A. (2015). Metrics for evaluating 3D medical image segmentation:
        analysis, selection, and tool. BMC Medical Imaging 15:29.
    .. [2] Maier-Hein, L., Reinke, A. et al. (2024). Metrics reloaded: recommendations for image
        analysis validation. Nature Methods 21, 195-212.
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
    >>> ref = np.zeros((8, 8), np.uint8); ref[2:6, 2:6] = 1; ref[0:2, 6:8] = 2
    >>> pred = ref.copy(); pred[2:6, 6] = 1; pred[0, 0] = 1; pred[0:2, 5] = 2
    >>> res = ss.evaluate(pred, ref, metrics=["dice", "hd95", "assd", "nsd@1"])
    >>> {k: round(v, 4) for k, v in res[1].items()}
    {'dice': 0.8649, 'hd95': 2.2361, 'assd': 0.3937, 'nsd@1': 0.918}
    >>> res = ss.evaluate(pred, ref, labels={"organ": 1, "all": (1, 2)}, metrics=["dice", "hd99"])
    >>> {k: round(v["dice"], 4) for k, v in res.to_dict().items()}
    {'organ': 0.8649, 'all': 0.8511}
    >>> res = ss.evaluate(pred, ref, metrics=["hd95", "nsd"], convention="metricsreloaded")
    >>> res.columns, round(res[1]["hd95"], 4), res.meta["mirrors"]
    (['hd95', 'nsd@1'], 1.5485, 'MetricsReloaded')
    >>> ss.evaluate(pred, ref, labels=[1, 3], metrics=["dice", "hd95"])[3]  # 3 is in neither map
    {'dice': nan, 'hd95': nan}
    >>> ss.evaluate(pred, ref).columns  # the default set  # doctest: +NORMALIZE_WHITESPACE
    ['dice', 'iou', 'precision', 'recall', 'specificity', 'vs', 'tp', 'fp', 'fn', 'tn',
     'vol_pred_ml', 'vol_ref_ml', 'hd', 'hd95', 'assd', 'masd']
    """
    from .. import __version__

    conv = _conv.get(convention)
    if tolerance is not None:
        from .._core.validate import check_positive

        tolerance = check_positive(tolerance, "tolerance")
    user = _empty.normalize(empty)
    # metric names, the convention's dimensions and connectivity fail before any C++ runs
    # (the real spacing only matters for a default tolerance, parsed again below)
    early = _parse(metrics, conv, tolerance, (1.0,))
    if any(metric.kind == _registry.SURFACE for _, metric, _ in early):
        from .surface.functional import precheck

        precheck(conv, pred, connectivity)
    case = Case(pred, ref, spacing, labels, ignore_label, threads, device=device)
    parsed = _parse(metrics, conv, tolerance, case.spacing)
    cols = [c for c, _, _ in parsed]
    kinds = {c: (metric, arg) for c, metric, arg in parsed}  # column -> (registry entry, argument)
    surface_cols = [c for c in cols if kinds[c][0].kind == _registry.SURFACE]
    widths = sorted({kinds[c][1] for c in surface_cols if kinds[c][0].name == "biou"})
    keys = list(case.regions)
    sds = {}
    if surface_cols:
        sds = compute(case, conv, keys, user, widths[0] if widths else None, connectivity, tolerance)
    # each further boundary-IoU width: one more C++ call for all labels
    by_width = {w: compute(case, conv, keys, user, w, connectivity) for w in widths[1:]}
    rows = {}
    counts = case.region_counts(keys)
    for k in keys:
        tp, fp, fn, tn = counts[k]
        row = {}
        for c in cols:
            metric, arg = kinds[c]
            if metric.kind == _registry.OVERLAP:
                row[c] = overlap_value(c, tp, fp, fn, tn, user, conv.empty)
            elif metric.kind == _registry.COUNT:
                row[c] = {"tp": tp, "fp": fp, "fn": fn, "tn": tn}[c]
            elif c == "vol_pred_ml":
                row[c] = (tp + fp) * case.voxel_mm3 / 1000.0
            elif c == "vol_ref_ml":
                row[c] = (tp + fn) * case.voxel_mm3 / 1000.0
            elif metric.name == "biou":  # one SurfaceDistances set per band width
                row[c] = getattr(by_width.get(arg, sds)[k], metric.method)()
            else:  # a SurfaceDistances method, with the parameterised form's argument
                fn_ = getattr(sds[k], metric.method)
                row[c] = fn_() if arg is None else fn_(arg)
        rows[k] = row
    meta = {
        "version": __version__,
        "convention": conv.name,
        "mirrors": conv.peer,
        "spacing": case.spacing,
        "threads": case.threads,
        "device": case.device,
        "shape": case.shape,
    }
    return Result(rows, cols, meta)
