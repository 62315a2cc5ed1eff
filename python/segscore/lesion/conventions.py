"""Lesion-wise conventions: named presets of one option set.

Every convention (``brats2023``, ``panoptica``, ``monai``, ``metricsreloaded``, ``isles``,
``lits``, ``segscore``) is a dict of the options below; ``ss.lesionwise(...,
convention=name, **options)`` starts from the preset and lets any option be overridden.
`resolve` checks every option (unknown names list the valid ones) and returns the frozen
`LesionOptions` that ``LesionResult.meta`` records.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

NAN = float("nan")

# what each option may take (checked in resolve)
CONNECTIVITY_NAMES = {"full": {2: 8, 3: 26}, "edge": {3: 18}, "face": {2: 4, 3: 6}}
VALID_CONNECTIVITY = {2: (4, 8), 3: (6, 18, 26)}
MATCHES = ("iou", "dice", "overlap", "touch")
MATCHERS = ("all", "greedy", "greedy_many", "hungarian", "hungarian_full", "monai", "merge", "lits", "voronoi")
LESION_METRICS = ("dice", "iou", "hd", "hd95", "assd", "masd", "nsd", "rvd", "rvae")
SURFACE_METRICS = ("hd", "hd95", "assd", "masd", "nsd")
EMPTY_POLICIES = ("segscore", "panoptica", "monai", "brats", "isles", "metricsreloaded")
BRATS_CHALLENGES = {  # challenge -> (dilation iterations, lesion volume threshold mm^3, dropped if <=)
    "GLI": (3, 50.0), "SSA": (3, 50.0), "PED": (3, 50.0), "MEN": (1, 50.0), "MET": (1, 2.0),
}
BRATS_REGIONS = {"WT": (1, 2, 3), "TC": (1, 3), "ET": (3,)}


@dataclass(frozen=True, kw_only=True)
class LesionOptions:
    """Every resolved option of one lesion-wise call (``LesionResult.meta["options"]``)."""

    convention: str
    peer: str                       # the tool (and version) the preset mirrors
    regions: dict | None = None     # None: label > 0 is one region; else {name: tuple of labels}
    instances: str = "cc"           # "cc": connected components of each region; "given": the maps are instances
    connectivity: object = "full"   # "full" / "edge" / "face" / 4, 8, 6, 18, 26, or {ndim: int}
    order: str = "C"                # component numbering by first voxel in C or F raster
    ref_dilation: int = 0           # iterations of the (ndim, 2) structure around each reference lesion
    merge_ref: bool = False         # reference components whose dilations touch form one lesion
    min_size: float = 0.0           # size filter (0: none)
    size_unit: str = "voxels"       # "voxels" or "mm3"
    size_side: str = "ref"          # "ref": lesions excluded (kept in matching), "pred": components removed, "both"
    size_inclusive: bool = True     # True: size <= min_size is filtered; False: size < min_size
    match: str = "iou"              # pair score: "iou", "dice", "overlap" (voxels), "touch" (dilated reference)
    threshold: float = 0.5
    strict: bool = True             # True: score > threshold; False: score >= threshold
    matcher: str = "hungarian"      # see MATCHERS and docs in lesionwise()
    metrics: tuple = ("dice", "iou", "hd95")
    surface: str = "segscore"       # the surface-distance convention of the per-lesion distances
    tolerance: float | None = None  # NSD tolerance (mm) for "nsd"
    fn_penalty: dict = field(default_factory=dict)  # metric -> value of a missed lesion (absent: nan)
    fp_penalty: dict = field(default_factory=dict)  # metric -> value of a false-positive row (absent: nan)
    empty: str = "segscore"         # summary values where counts are zero (EMPTY_POLICIES)
    float32: bool = False           # MONAI: float32 IoU, 1e-6 in the denominators
    eps: float = 0.0                # the term added to PQ / SQ / RQ denominators (MONAI 1e-6)
    challenge: str | None = None    # brats2023: GLI / SSA / PED / MEN / MET
    penalty_distance: float | None = None  # brats2023: 374 (HD95 of a miss, an FP, an empty region)

    def as_dict(self) -> dict:
        # the values are numbers, strings, tuples and flat dicts: a copy of each dict is a deep
        # copy, at a fraction of dataclasses.asdict's cost (this runs once per lesionwise call)
        return {f.name: (dict(v) if isinstance(v, dict) else v) for f in fields(self)
                for v in (getattr(self, f.name),)}


_SEGSCORE = dict(peer="segscore")

PRESETS = {
    "segscore": _SEGSCORE,
    "brats2023": dict(
        peer="BraTS 2023 lesion-wise metrics (rachitsaluja/BraTS-2023-Metrics 43c9052)",
        regions=BRATS_REGIONS, instances="cc", connectivity="full", order="C", merge_ref=True,
        size_unit="mm3", size_side="ref", size_inclusive=True, match="touch", threshold=0.0, strict=True,
        matcher="all", metrics=("dice", "hd95"), surface="deepmind",
        fn_penalty={"dice": 0.0, "hd95": 374.0}, fp_penalty={"dice": 0.0, "hd95": 374.0},
        empty="brats", challenge="GLI", penalty_distance=374.0,
    ),
    "panoptica": dict(
        peer="panoptica 2.1.7", instances="cc", connectivity={2: 4, 3: 26}, match="iou", threshold=0.5,
        strict=False, matcher="greedy", metrics=("dice", "iou", "assd", "rvd"), surface="panoptica",
        empty="panoptica",
    ),
    "monai": dict(
        peer="MONAI 1.6.1 compute_panoptic_quality", instances="given", match="iou", threshold=0.5, strict=True,
        matcher="monai", metrics=("iou",), empty="monai", float32=True, eps=1e-6,
    ),
    "monai_cc_dice": dict(
        peer="MONAI 1.6.1 DiceMetric(per_component=True)", instances="cc", connectivity="full", match="overlap",
        threshold=0.0, strict=True, matcher="voronoi", metrics=("dice",), empty="monai",
    ),
    "metricsreloaded": dict(
        peer="MetricsReloaded cb38dfc (instance measures)", instances="given", match="iou", threshold=0.5,
        strict=True, matcher="hungarian", metrics=("iou",), empty="metricsreloaded",
    ),
    "isles": dict(
        peer="ISLES'22 / ATLAS v2 compute_lesion_f1_score", instances="cc", connectivity="full", match="overlap",
        threshold=0.0, strict=True, matcher="all", metrics=("dice",), empty="isles",
    ),
    "lits": dict(
        peer="LiTS detection rule (lits-challenge-scoring)", instances="cc", connectivity="face", match="iou",
        threshold=0.5, strict=True, matcher="lits", metrics=("dice", "assd"), surface="segscore",
    ),
}

OPTION_NAMES = tuple(f for f in LesionOptions.__dataclass_fields__ if f not in ("convention", "peer"))


def names() -> list:
    return sorted(PRESETS)


def _choice(name, value, allowed):
    if value not in allowed:
        raise ValueError(f"lesion option {name}={value!r} is not one of {', '.join(map(repr, allowed))}")
    return value


def _regions(value):
    if value is None:
        return None
    if not isinstance(value, dict) or not value:
        raise ValueError("lesion option regions= must be None or a non-empty {name: label or tuple of labels}")
    out = {}
    for k, v in value.items():
        labs = (v,) if isinstance(v, (int,)) and not isinstance(v, bool) else tuple(v)
        if not labs or any(isinstance(x, bool) or int(x) != x or int(x) <= 0 for x in labs):
            raise ValueError(f"lesion option regions: region {k!r} must be a positive label or a tuple of them, "
                             f"got {v!r}")
        out[k] = tuple(int(x) for x in labs)
    return out


def _penalties(name, value):
    if not isinstance(value, dict):
        raise ValueError(f"lesion option {name}= must be a dict {{metric: value}}, got {value!r}")
    for k in value:
        _choice(f"{name} key", k, LESION_METRICS)
    return {k: float(v) for k, v in value.items()}


def resolve(convention: str, options: dict) -> LesionOptions:
    """The preset of `convention` with `options` applied, every value checked."""
    if not isinstance(convention, str) or convention not in PRESETS:
        raise ValueError(f"unknown lesion-wise convention {convention!r}; known: {', '.join(names())}")
    unknown = sorted(set(options) - set(OPTION_NAMES))
    if unknown:
        raise TypeError(f"unknown lesion option(s) {', '.join(map(repr, unknown))}; valid options: "
                        f"{', '.join(OPTION_NAMES)}")
    preset = dict(PRESETS[convention])
    if "challenge" in options and convention != "brats2023":
        raise ValueError("lesion option challenge= belongs to convention 'brats2023'")
    import dataclasses

    defaults = {f.name: (f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default)
                for f in dataclasses.fields(LesionOptions) if f.name != "convention"}
    merged = {**defaults, **preset, **options}
    if convention == "brats2023":
        ch = merged.get("challenge")
        ch = str(ch).upper().removeprefix("BRATS-") if ch is not None else "GLI"
        _choice("challenge", ch, tuple(BRATS_CHALLENGES))
        merged["challenge"] = ch
        dil, thr = BRATS_CHALLENGES[ch]
        if "ref_dilation" not in options:
            merged["ref_dilation"] = dil
        if "min_size" not in options:
            merged["min_size"] = thr
    o = merged
    o["regions"] = _regions(o.get("regions"))
    _choice("instances", o.get("instances", "cc"), ("cc", "given"))
    c = o.get("connectivity", "full")
    if not (isinstance(c, dict) or c in CONNECTIVITY_NAMES or (isinstance(c, int) and not isinstance(c, bool)
                                                               and c in (4, 6, 8, 18, 26))):
        raise ValueError(f"lesion option connectivity={c!r}: use 'full', 'edge', 'face', or 4 / 8 (2-D), "
                         "6 / 18 / 26 (3-D)")
    _choice("order", o.get("order", "C"), ("C", "F"))
    rd = o.get("ref_dilation", 0)
    if isinstance(rd, bool) or not isinstance(rd, int) or rd < 0:
        raise ValueError(f"lesion option ref_dilation must be an integer >= 0, got {rd!r}")
    ms = o.get("min_size", 0.0)
    if isinstance(ms, bool) or not isinstance(ms, (int, float)) or not ms >= 0 or math.isinf(ms):
        raise ValueError(f"lesion option min_size must be a finite number >= 0, got {ms!r}")
    o["min_size"] = float(ms)
    _choice("size_unit", o.get("size_unit", "voxels"), ("voxels", "mm3"))
    _choice("size_side", o.get("size_side", "ref"), ("ref", "pred", "both"))
    match = _choice("match", o.get("match", "iou"), MATCHES)
    matcher = _choice("matcher", o.get("matcher", "hungarian"), MATCHERS)
    t = o.get("threshold", 0.5)
    if isinstance(t, bool) or not isinstance(t, (int, float)) or math.isnan(t):
        raise ValueError(f"lesion option threshold must be a number, got {t!r}")
    t = float(t)
    if match in ("iou", "dice") and not 0.0 <= t <= 1.0:
        raise ValueError(f"lesion option threshold={t!r} is outside [0, 1] for match={match!r}")
    if match == "overlap" and not t >= 0:
        raise ValueError(f"lesion option threshold={t!r}: match='overlap' counts voxels, use a value >= 0")
    if matcher == "monai" and not 0.0 < t <= 1.0:
        raise ValueError(f"lesion option threshold={t!r}: MONAI's compute_panoptic_quality needs (0, 1]")
    if matcher == "voronoi" and (o.get("merge_ref") or o.get("min_size") or o.get("instances") != "cc"):
        raise ValueError("matcher='voronoi' (MONAI's per-component Dice) takes components of the masks, without "
                         "merges or size filters")
    if match == "touch" and matcher != "all":
        raise ValueError("match='touch' (a prediction touching the dilated lesion) goes with matcher='all'")
    if matcher in ("hungarian_full", "monai", "merge", "lits") and match not in ("iou", "dice"):
        raise ValueError(f"matcher={matcher!r} needs match='iou' or 'dice'")
    o["threshold"] = t
    mets = o.get("metrics", ())
    mets = (mets,) if isinstance(mets, str) else tuple(mets)
    for m in mets:
        _choice("metrics entry", m, LESION_METRICS)
    o["metrics"] = mets
    from ..metrics.surface import conventions as _sc

    s = o.get("surface", "segscore")
    if s not in _sc.CONVENTIONS:
        raise ValueError(f"lesion option surface={s!r}: one of {', '.join(sorted(_sc.CONVENTIONS))}")
    if "nsd" in mets and o.get("tolerance") is None and _sc.CONVENTIONS[s].default_tolerance is None:
        raise ValueError("per-lesion 'nsd' needs tolerance= (mm) under this surface convention")
    o["fn_penalty"] = _penalties("fn_penalty", o.get("fn_penalty", {}))
    o["fp_penalty"] = _penalties("fp_penalty", o.get("fp_penalty", {}))
    _choice("empty", o.get("empty", "segscore"), EMPTY_POLICIES)
    eps = o.get("eps", 0.0)
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not eps >= 0:
        raise ValueError(f"lesion option eps must be >= 0, got {eps!r}")
    o["eps"] = float(eps)
    return LesionOptions(convention=convention, **o)


def connectivity_for(opts: LesionOptions, ndim: int) -> int:
    """The neighbourhood size (4 / 8 / 6 / 18 / 26) of `opts` for an `ndim`-D input."""
    c = opts.connectivity
    if isinstance(c, dict):
        c = c.get(ndim, "full")
    if isinstance(c, str):
        val = CONNECTIVITY_NAMES[c].get(ndim)
        if val is None:
            raise ValueError(f"connectivity {c!r} does not fit {ndim}-D inputs (2-D: 'full' 8, 'face' 4; 3-D: "
                             "'full' 26, 'edge' 18, 'face' 6)")
        return val
    if c not in VALID_CONNECTIVITY.get(ndim, ()):
        raise ValueError(f"connectivity {c} does not fit {ndim}-D inputs: use one of "
                         f"{VALID_CONNECTIVITY.get(ndim, ())}")
    return c
