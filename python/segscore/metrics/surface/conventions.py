"""Named metric conventions: what each reference library computes.

Every boundary metric in segscore derives from one set of directed boundary
distances; a `Convention` records which boundary the library extracts, how it
weights boundary elements, its rule for HD at a percentile, its ASSD / MASD /
NSD / boundary-IoU formulas and its empty-mask behaviour.  docs/conventions.md
explains each choice with the peer's source (file and function).
"""

from __future__ import annotations

from dataclasses import dataclass, field

NAN = float("nan")
INF = float("inf")


def _pol(ref, pred, both):
    """Empty-mask values: ref empty (pred not), pred empty (ref not), both empty."""
    return {"ref": ref, "pred": pred, "both": both}


@dataclass(frozen=True)
class Convention:
    name: str
    peer: str               # the library (and version) it mirrors
    boundary: str           # "corner": corner-grid surfels; "voxel": mask xor erosion (face connectivity)
    weighted: bool          # weights are surfel areas (True) or 1 per boundary voxel
    percentile: str         # "rank": area-weighted nearest rank per direction, max (DeepMind)
                            # "torch32": torch.quantile in float32 per direction, max (MONAI)
                            # "linear": np.percentile per direction, max (MetricsReloaded)
                            # "pooled": np.percentile over both directions pooled (MedPy, panoptica)
    assd: str | None        # "pooled" (mean over both directions' elements) or "mean" (mean of directed means)
    masd: bool              # defines MASD = mean of the directed means
    nsd: str | None         # "pooled" (weights <= tau over both), "pooled32" (MONAI: float32 compare),
                            # "panoptica" (mean of directed fractions, its exact expression) or None
    biou: str | None        # "mm" (distance <= w mm, segscore) / "voxel_strict" (< w voxels, MetricsReloaded)
    ndims: tuple = (1, 2, 3)
    defines_hd: bool = True
    connectivity: bool = False      # accepts connectivity= (MedPy, panoptica)
    float32: bool = False           # distances rounded to float32 before reduction (MONAI)
    hd_by_rank: bool = False        # HD (percentile 100) through the rank rule too (DeepMind)
    percentile0_is_max: bool = False  # MONAI: percentile=0 is treated as "no percentile" (max)
    default_tolerance: str | None = None   # None (must be given), "1" or "min_spacing"
    default_biou_width: float = 1.0
    empty: dict = field(default_factory=dict)

    def defines(self, metric: str) -> bool:
        if metric in ("hd", "hdp", "asd"):
            return self.defines_hd
        if metric == "assd":
            return self.defines_hd and self.assd is not None
        if metric == "masd":
            return self.defines_hd and self.masd
        if metric in ("nsd", "overlap"):
            return self.nsd is not None
        if metric == "biou":
            return self.biou is not None
        return True


# ---------------------------------------------------------------- empty masks
_DIST_INF = _pol(INF, INF, NAN)
_OVERLAP_SEGSCORE = {
    "dice": _pol(0.0, 0.0, NAN),
    "iou": _pol(0.0, 0.0, NAN),
    "precision": _pol(0.0, NAN, NAN),
    "recall": _pol(NAN, 0.0, NAN),
    "vs": _pol(0.0, 0.0, NAN),
}


def _empty(**kw):
    base = dict(_OVERLAP_SEGSCORE)
    base.update(kw)
    return base


SEGSCORE_EMPTY = _empty(hd=_DIST_INF, hdp=_DIST_INF, assd=_DIST_INF, masd=_DIST_INF, asd=_DIST_INF,
                        nsd=_pol(0.0, 0.0, NAN), overlap=_pol(0.0, 0.0, NAN), biou=_pol(0.0, 0.0, NAN))

CONVENTIONS = {
    # segscore's own default: DeepMind's geometry, documented empty behaviour,
    # MASD and boundary IoU (with spacing, <= w mm).
    "segscore": Convention(
        "segscore", "segscore", "corner", True, "rank", "pooled", True, "pooled", "mm",
        empty=SEGSCORE_EMPTY,
    ),
    # surface-distance 0.1 crashes on empty masks under numpy 2 (np.Inf); its
    # intended behaviour (numpy < 2) is reproduced: HD inf even when both are empty.
    "deepmind": Convention(
        "deepmind", "surface-distance 0.1", "corner", True, "rank", "pooled", True, "pooled", None,
        ndims=(2, 3), hd_by_rank=True,
        empty=_empty(hd=_pol(INF, INF, INF), hdp=_pol(INF, INF, INF), assd=_DIST_INF, masd=_DIST_INF,
                     # asd is directed pred -> ref (DeepMind's asd_pred_to_gt): inf when the
                     # reference is empty, nan when the prediction has no surfels
                     asd=_pol(INF, NAN, NAN), nsd=_pol(0.0, 0.0, NAN), overlap=_pol(0.0, 0.0, NAN),
                     dice=_pol(0.0, 0.0, NAN)),
    ),
    # MONAI 1.6.1: HD95 with one empty mask is nan there (issue #9095); segscore
    # returns inf (a percentile of a set containing inf is inf).  Dice/IoU with
    # the default ignore_empty=True: an empty reference gives nan.
    "monai": Convention(
        "monai", "monai 1.6.1", "voxel", False, "torch32", "pooled", False, "pooled32", None,
        float32=True, percentile0_is_max=True,
        empty=_empty(hd=_DIST_INF, hdp=_DIST_INF, assd=_DIST_INF, asd=_DIST_INF, nsd=_pol(0.0, 0.0, NAN),
                     overlap=_pol(0.0, 0.0, NAN), dice=_pol(NAN, 0.0, NAN), iou=_pol(NAN, 0.0, NAN)),
    ),
    "monai-subvoxels": Convention(
        "monai-subvoxels", "monai 1.6.1 (use_subvoxels=True)", "corner", True, "rank", None, False, "pooled32",
        None, ndims=(2, 3), defines_hd=False, float32=True,
        empty=_empty(nsd=_pol(0.0, 0.0, NAN), overlap=_pol(0.0, 0.0, NAN),
                     dice=_pol(NAN, 0.0, NAN), iou=_pol(NAN, 0.0, NAN)),
    ),
    # MedPy raises RuntimeError for any empty mask in its distance metrics.
    "medpy": Convention(
        "medpy", "medpy 0.5.2", "voxel", False, "pooled", "pooled", False, None, None, connectivity=True,
        empty=_empty(hd=_pol("error", "error", "error"), hdp=_pol("error", "error", "error"),
                     assd=_pol("error", "error", "error"), asd=_pol("error", "error", "error"),
                     dice=_pol(0.0, 0.0, NAN), iou=_pol(0.0, 0.0, 1.0)),
    ),
    # MetricsReloaded: distances nan when one mask is empty, 0 when both are;
    # NSD and boundary IoU 1 when both are empty (0 when one is; its NSD can be
    # a small nonzero artefact there, which segscore does not reproduce).
    "metricsreloaded": Convention(
        "metricsreloaded", "MetricsReloaded", "voxel", False, "linear", "pooled", True, "pooled", "voxel_strict",
        default_tolerance="1",
        empty=_empty(hd=_pol(NAN, NAN, 0.0), hdp=_pol(NAN, NAN, 0.0), assd=_pol(NAN, NAN, 0.0),
                     masd=_pol(NAN, NAN, 0.0), asd=_pol(NAN, NAN, 0.0), nsd=_pol(0.0, 0.0, 1.0),
                     overlap=_pol(0.0, 0.0, 1.0), biou=_pol(0.0, 0.0, 1.0), dice=_pol(0.0, 0.0, 1.0),
                     iou=_pol(0.0, 0.0, NAN)),
    ),
    # panoptica 2.1.7's evaluator: ASSD inf for one empty mask, nan for both;
    # HD / HD95 / NSD have no edge-case handler there (NotImplementedError).
    "panoptica": Convention(
        "panoptica", "panoptica 2.1.7", "voxel", False, "pooled", "mean", True, "panoptica", None,
        connectivity=True, default_tolerance="min_spacing",
        empty=_empty(hd=_pol("error", "error", "error"), hdp=_pol("error", "error", "error"),
                     nsd=_pol("error", "error", "error"), overlap=_pol("error", "error", "error"),
                     assd=_DIST_INF, masd=_DIST_INF, asd=_DIST_INF,
                     dice=_pol(0.0, 0.0, NAN), iou=_pol(0.0, 0.0, NAN)),
    ),
}


def get(name) -> Convention:
    if isinstance(name, Convention):
        return name
    try:
        return CONVENTIONS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown convention {name!r}; choose one of {sorted(CONVENTIONS)}") from None


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
