"""`evaluate`: every label, every requested metric, one call."""

from __future__ import annotations

import re

from .surface import conventions as _conv
from . import empty as _empty
from .case import Case
from .surface.functional import compute
from .overlap import overlap_value

OVERLAP = ("dice", "iou", "precision", "recall", "specificity", "vs")
COUNTS = ("tp", "fp", "fn", "tn", "vol_pred_ml", "vol_ref_ml")
SURFACE_DEFAULT = ("hd", "hd95", "assd", "masd")

_HDP = re.compile(r"hd(\d+(?:\.\d+)?)$")
_PARAM = re.compile(r"(nsd|biou)(?:@(.+))?$")


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


def parse_metrics(metrics, conv, tolerance, spacing):
    """Normalise metric names to columns; returns (columns, percentiles, nsd taus, biou widths)."""
    if metrics is None:
        names = list(OVERLAP) + list(COUNTS) + [m for m in SURFACE_DEFAULT if conv.defines(_empty.family(m))]
        if tolerance is not None:
            names.append("nsd")
    else:
        if isinstance(metrics, str):
            metrics = [metrics]
        names = list(metrics)
    cols = []
    for m in names:
        if not isinstance(m, str):
            raise TypeError(f"metric names must be strings, got {m!r}")
        key = m.strip().lower()
        if key in OVERLAP or key in COUNTS:
            cols.append(key)
            continue
        if key == "volume_similarity":
            cols.append("vs")
            continue
        if key in ("hd", "hausdorff"):
            _conv.require(conv, "hd", "hd")
            cols.append("hd")
            continue
        if key in ("assd", "masd"):
            _conv.require(conv, key)
            cols.append(key)
            continue
        mm = _HDP.match(key)
        if mm:
            q = float(mm.group(1))
            if not 0 <= q <= 100:
                raise ValueError(f"metric {m!r}: percentile must lie in [0, 100]")
            _conv.require(conv, "hdp", key)
            cols.append("hd" if q == 100 else f"hd{_fmt(q)}")
            continue
        mm = _PARAM.match(key)
        if mm:
            kind, arg = mm.group(1), mm.group(2)
            _conv.require(conv, kind, "NSD" if kind == "nsd" else "boundary IoU")
            if arg is None:
                if kind == "nsd":
                    val = tolerance if tolerance is not None else _conv.default_tolerance(conv, spacing)
                    if val is None:
                        raise ValueError(
                            f"metric 'nsd' needs a tolerance: pass tolerance= (mm) or name it as 'nsd@<mm>'; "
                            f"convention {conv.name!r} has no default"
                        )
                else:
                    val = conv.default_biou_width
            else:
                try:
                    val = float(arg)
                except ValueError:
                    raise ValueError(f"metric {m!r}: {arg!r} is not a number (e.g. 'nsd@2' or 'biou@1.5')") from None
            if not val >= 0 or val == float("inf"):
                raise ValueError(f"metric {m!r}: the tolerance/width must be finite and >= 0")
            cols.append(f"{kind}@{_fmt(float(val))}")
            continue
        known = list(OVERLAP) + list(COUNTS) + ["hd", "hd95", "hd<p>", "assd", "masd", "nsd", "nsd@<mm>", "biou",
                                                 "biou@<mm>"]
        raise ValueError(f"unknown metric {m!r}; known metrics: {known}")
    # unique, order kept
    seen = set()
    return [c for c in cols if not (c in seen or seen.add(c))]


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
    early = parse_metrics(metrics, conv, tolerance, (1.0,))
    if any(c not in OVERLAP and c not in COUNTS for c in early):
        from .surface.functional import precheck

        precheck(conv, pred, connectivity)
    case = Case(pred, ref, spacing, labels, ignore_label, threads, device=device)
    cols = parse_metrics(metrics, conv, tolerance, case.spacing)
    surface_cols = [c for c in cols if c not in OVERLAP and c not in COUNTS]
    widths = sorted({float(c.split("@")[1]) for c in cols if c.startswith("biou@")})
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
            if c in OVERLAP:
                row[c] = overlap_value(c, tp, fp, fn, tn, user, conv.empty)
            elif c in ("tp", "fp", "fn", "tn"):
                row[c] = {"tp": tp, "fp": fp, "fn": fn, "tn": tn}[c]
            elif c == "vol_pred_ml":
                row[c] = (tp + fp) * case.voxel_mm3 / 1000.0
            elif c == "vol_ref_ml":
                row[c] = (tp + fn) * case.voxel_mm3 / 1000.0
            else:
                sd = sds[k]
                if c == "hd":
                    row[c] = sd.hausdorff(100)
                elif c.startswith("hd"):
                    row[c] = sd.hausdorff(float(c[2:]))
                elif c == "assd":
                    row[c] = sd.assd()
                elif c == "masd":
                    row[c] = sd.masd()
                elif c.startswith("nsd@"):
                    row[c] = sd.nsd(float(c[4:]))
                elif c.startswith("biou@"):
                    row[c] = by_width.get(float(c[5:]), sds)[k].boundary_iou()
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
