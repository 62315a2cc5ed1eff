"""Named metric conventions: what each reference library computes.

Every boundary metric in segscore is derived from one set of directed
boundary distances; a `Convention` says which boundary is extracted, how
elements are weighted, and which formula each library uses for HD at a
percentile, ASSD, MASD and NSD, plus its empty-mask behaviour.  See
docs/conventions.md for the sources of each choice.
"""

from __future__ import annotations

from dataclasses import dataclass, field

NAN = float("nan")
INF = float("inf")

# metric families whose empty-mask behaviour a policy controls
SURFACE_METRICS = ("hd", "hdp", "assd", "masd", "asd", "nsd", "overlap", "biou")
OVERLAP_METRICS = ("dice", "iou", "precision", "recall", "specificity", "vs")


def _pol(ref, pred, both):
    return {"ref": ref, "pred": pred, "both": both}


@dataclass(frozen=True)
class Convention:
    name: str
    peer: str                # the library (and version) it mirrors
    boundary: str            # "corner" (corner-grid surfels) or "voxel" (mask xor erosion)
    weighted: bool           # weights are surfel areas (True) or counts
    percentile: str          # "rank" (weighted nearest rank, max of directions),
                             # "linear" (np.percentile per direction, max), "pooled" (linear over both)
    assd: str                # "pooled" or "mean"  (mean of directed means)
    masd: str                # "mean" or None
    nsd: str | None          # "pooled", "mean" (mean of directed fractions) or None
    biou: str | None         # "strict" (<), "inclusive" (<=) or None
    default_tolerance: str | None = None  # None (must be given), "1", "min_spacing"
    default_biou_width: float | None = 1.0
    ndims: tuple = (1, 2, 3)
    defines_hd: bool = True
    empty: dict = field(default_factory=dict)

    def defines(self, metric: str) -> bool:
        if metric in ("hd", "hdp", "assd", "asd"):
            return self.defines_hd
        if metric == "masd":
            return self.defines_hd and self.masd is not None
        if metric in ("nsd", "overlap"):
            return self.nsd is not None
        if metric == "biou":
            return self.biou is not None
        return True


_SEGSCORE_EMPTY = {
    "hd": _pol(INF, INF, NAN),
    "hdp": _pol(INF, INF, NAN),
    "assd": _pol(INF, INF, NAN),
    "masd": _pol(INF, INF, NAN),
    "asd": _pol(INF, INF, NAN),
    "nsd": _pol(0.0, 0.0, NAN),
    "overlap": _pol(0.0, 0.0, NAN),
    "biou": _pol(0.0, 0.0, NAN),
}

CONVENTIONS = {
    "segscore": Convention(
        "segscore", "segscore", "corner", True, "rank", "pooled", "mean", "pooled", "inclusive",
        empty=_SEGSCORE_EMPTY,
    ),
    "deepmind": Convention(
        "deepmind", "surface-distance 0.1", "corner", True, "rank", "pooled", "mean", "pooled", None,
        ndims=(2, 3), empty=_SEGSCORE_EMPTY,
    ),
    "monai": Convention(
        "monai", "monai 1.6.1", "voxel", False, "linear", "pooled", None, "pooled", None,
        empty=_SEGSCORE_EMPTY,
    ),
    "monai-subvoxels": Convention(
        "monai-subvoxels", "monai 1.6.1 (use_subvoxels=True)", "corner", True, "rank", "pooled", None,
        "pooled", None, ndims=(2, 3), defines_hd=False, empty=_SEGSCORE_EMPTY,
    ),
    "medpy": Convention(
        "medpy", "medpy 0.5.2", "voxel", False, "pooled", "pooled", None, None, None,
        empty=_SEGSCORE_EMPTY,
    ),
    "metricsreloaded": Convention(
        "metricsreloaded", "MetricsReloaded", "voxel", False, "linear", "pooled", "mean", "pooled", "strict",
        default_tolerance="1", empty=_SEGSCORE_EMPTY,
    ),
    "panoptica": Convention(
        "panoptica", "panoptica 2.1.7", "voxel", False, "pooled", "mean", "mean", "mean", None,
        default_tolerance="min_spacing", empty=_SEGSCORE_EMPTY,
    ),
}


def get(name) -> Convention:
    if isinstance(name, Convention):
        return name
    try:
        return CONVENTIONS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown convention {name!r}; choose one of {sorted(CONVENTIONS)}"
        ) from None


def conventions_defining(metric: str) -> list:
    return sorted(n for n, c in CONVENTIONS.items() if c.defines(metric))


def require(conv: Convention, metric: str, label: str | None = None) -> None:
    if not conv.defines(metric):
        raise ValueError(
            f"convention {conv.name!r} ({conv.peer}) does not define {label or metric}; "
            f"conventions that do: {conventions_defining(metric)}"
        )


def default_tolerance(conv: Convention, spacing) -> float | None:
    if conv.default_tolerance == "1":
        return 1.0
    if conv.default_tolerance == "min_spacing":
        return float(min(spacing))
    return None
