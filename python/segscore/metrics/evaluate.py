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
    """Per-label metrics of one case.

    ``to_pandas()``: one row per label; ``to_dict()``: {label: {metric: value}};
    ``meta``: version, convention (and the peer it mirrors), spacing, threads, device.
    """

    def __init__(self, rows: dict, columns: list, meta: dict):
        self._rows = rows
        self.columns = columns
        self.meta = meta

    def to_dict(self) -> dict:
        return {k: dict(v) for k, v in self._rows.items()}

    def to_pandas(self):
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
    """Score one case: all labels, all requested metrics, one call.

    One pass over pred and ref gathers every label's confusion counts and
    bounding box; boundary distances are computed once per label on its crop
    (threads over labels) and every distance metric derives from them.
    GPU arrays (CuPy, torch CUDA) are scored on their device, all labels in
    one batch; `device` ("cpu", "cuda", "cupy") forces a backend.
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
