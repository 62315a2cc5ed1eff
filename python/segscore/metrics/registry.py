"""The metric registry: every metric segscore computes or writes, declared once.

A metric's identity is one `Metric` entry in `METRICS` (a frozen dataclass, built with
keywords): its name and aliases, its kind, its empty-mask policy family, whether higher is
better, its unit, its parameterised form (``hd<p>``, ``nsd@<mm>``, ``biou@<mm>``), the
surface-convention attributes that define it, whether ``ss.evaluate`` computes it by
default, and how the dataset report presents it.  The order of `METRICS` is the order of
``ss.evaluate``'s default columns and of its "known metrics" message.

To add a metric: its function + one registry entry.

* an overlap metric (from the confusion counts): its formula in ``overlap_value``
  (metrics/overlap.py; its empty-mask default in ``OVERLAP_EMPTY`` there) + an entry with
  ``kind=OVERLAP``: ``ss.evaluate`` accepts it and computes it;
* a boundary metric: a `SurfaceDistances` method (metrics/surface/distances.py) + an entry
  with ``kind=SURFACE``, ``method=`` that method's name (called with the argument of a
  parameterised form), ``family=`` and ``defined_by=`` (the `Convention` attributes that
  must be set for a convention to define it); a new family also needs its empty-mask
  values in the conventions' ``empty`` tables (metrics/surface/conventions.py);
* a column of ``segscore score`` beyond ``ss.evaluate``'s (calibration, multi-rater,
  probabilistic): the scorer that writes it (app/scorers.py) + an entry with
  ``scope="dataset"``;
* a function with no table column: an entry with ``scope="api"`` (its empty-mask family
  and convention support are then known to the registry too).

Plots, report, summary and CLI help follow from the entry; tests/unit/metrics/
test_registry.py checks that the modules below agree with it.

Files that read the registry:

* metrics/evaluate.py -- accepted names, aliases and parameterised forms, the default
  columns and their order, the "unknown metric" message, each column's kind and method;
* metrics/empty.py -- ``family()``: a metric's empty-mask policy family;
* metrics/surface/conventions.py -- ``Convention.defines()`` (``defined_by``);
* metrics/surface/distances.py -- the "worst" value of an empty mask (0 for a metric where
  higher is better, the image diagonal for a distance);
* app/plots.py -- ``HIGHER_IS_BETTER`` (worst-case order), units on the axes, the
  worst-case tables (``worst_rank``), the count columns left out of the box plots;
* app/report.py -- ``HEADLINE``: the metrics of the report's summary table;
* app/summary.py -- the count columns (integers, no statistics) and the metrics whose mean
  per label is printed at the end of a run (``printed``);
* app/scorers.py -- the count columns added to a ``--metrics`` subset;
* app/cli.py -- the metric names in ``segscore score --help``.

Imports nothing else of segscore.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# kinds
OVERLAP = "overlap"              # from the confusion counts, unitless
COUNT = "count"                  # the confusion counts themselves (voxels)
VOLUME = "volume"                # volumes from the counts (mL)
SURFACE = "surface"              # from the directed boundary distances
CALIBRATION = "calibration"      # of a probability map against the reference
MULTIRATER = "multirater"        # against several raters
PROBABILISTIC = "probabilistic"  # of a probability map's volume
LESION = "lesion"                # lesion-wise (instance) scores of a region
KINDS = (OVERLAP, COUNT, VOLUME, SURFACE, CALIBRATION, MULTIRATER, PROBABILISTIC, LESION)

# scopes
EVALUATE = "evaluate"            # a column of ss.evaluate (and so of the dataset table)
DATASET = "dataset"              # a column only segscore score's scorers write
API = "api"                      # a function or method, no table column
LESIONWISE = "lesionwise"        # a column that ss.evaluate(..., lesionwise=...) adds (segscore.lesion)
SCOPES = (EVALUATE, DATASET, API, LESIONWISE)


@dataclass(frozen=True, kw_only=True)
class Metric:
    """One metric.  See the module docstring."""

    name: str                           # canonical name: the table column (the prefix of a parameterised one)
    kind: str                           # one of KINDS
    doc: str                            # one line: what it is
    scope: str = EVALUATE               # one of SCOPES
    aliases: tuple = ()                 # other accepted names (input only, never a column)
    family: str = ""                    # empty-mask policy family ("" -> name): hd95, hd99 -> "hdp"
    higher_is_better: bool | None = None  # None: not a score (counts, volumes)
    unit: str = ""                      # "", "mm", "mL", "voxels"
    param: str | None = None            # parameterised form: "hd<p>" (a percentile), "nsd@<mm>" (a distance)
    param_default: str | None = None    # the bare name's argument: "tolerance" (tolerance=, else the convention's
    #                                     default), "width" (the convention's default_biou_width); None: the bare
    #                                     name is not a metric
    method: str | None = None           # SURFACE: the SurfaceDistances method computing it (with the argument)
    defined_by: tuple = ()              # SURFACE: Convention attributes that must all be set (not None / False)
    default: bool | str = False         # in ss.evaluate's default set: True (surface: where the convention
    #                                     defines it), or the argument that must be given ("tolerance")
    label: str | None = None            # its name in "does not define ..." messages (None: as typed)
    headline: bool = False              # in the report's summary table
    worst_rank: int | None = None       # position among the worst-case tables (plots, report); None: none
    printed: bool = False               # its mean per label is printed at the end of `segscore score`

    def __post_init__(self):
        if not self.family:
            object.__setattr__(self, "family", self.name)
        if self.kind not in KINDS:
            raise ValueError(f"metric {self.name!r}: kind must be one of {KINDS}, got {self.kind!r}")
        if self.scope not in SCOPES:
            raise ValueError(f"metric {self.name!r}: scope must be one of {SCOPES}, got {self.scope!r}")
        if self.param is not None and "<" not in self.param:
            raise ValueError(f"metric {self.name!r}: param {self.param!r} must name its argument as <...>")

    @property
    def prefix(self) -> str | None:
        """The column name before the argument of a parameterised form ("hd", "nsd@")."""
        return None if self.param is None else self.param[:self.param.index("<")]

    @property
    def arg(self) -> str | None:
        """The argument of a parameterised form: "p" (a percentile) or "mm" (a distance)."""
        return None if self.param is None else self.param[self.param.index("<") + 1:-1]


METRICS = (
    # ------------------------------------------------------------------ overlap (ss.evaluate)
    Metric(name="dice", kind=OVERLAP, higher_is_better=True, default=True, headline=True, worst_rank=0, printed=True,
           doc="Dice coefficient 2 TP / (2 TP + FP + FN)"),
    Metric(name="iou", kind=OVERLAP, higher_is_better=True, default=True,
           doc="intersection over union (Jaccard) TP / (TP + FP + FN)"),
    Metric(name="precision", kind=OVERLAP, higher_is_better=True, default=True, doc="TP / (TP + FP)"),
    Metric(name="recall", kind=OVERLAP, higher_is_better=True, default=True, doc="TP / (TP + FN), sensitivity"),
    Metric(name="specificity", kind=OVERLAP, higher_is_better=True, default=True, doc="TN / (TN + FP)"),
    Metric(name="vs", aliases=("volume_similarity",), kind=OVERLAP, higher_is_better=True, default=True,
           doc="volume similarity 1 - |FP - FN| / (2 TP + FP + FN)"),
    # ------------------------------------------------------------------ counts and volumes (ss.evaluate)
    Metric(name="tp", kind=COUNT, unit="voxels", default=True, doc="true positive voxels"),
    Metric(name="fp", kind=COUNT, unit="voxels", default=True, doc="false positive voxels"),
    Metric(name="fn", kind=COUNT, unit="voxels", default=True, doc="false negative voxels"),
    Metric(name="tn", kind=COUNT, unit="voxels", default=True, doc="true negative voxels"),
    Metric(name="vol_pred_ml", kind=VOLUME, unit="mL", default=True, doc="predicted volume (TP + FP) x voxel volume"),
    Metric(name="vol_ref_ml", kind=VOLUME, unit="mL", default=True, doc="reference volume (TP + FN) x voxel volume"),
    # ------------------------------------------------------------------ boundary distances (ss.evaluate)
    Metric(name="hd", aliases=("hausdorff",), kind=SURFACE, unit="mm", higher_is_better=False, method="hd",
           defined_by=("defines_hd",), default=True, label="hd", worst_rank=3,
           doc="Hausdorff distance (the maximum over both directions)"),
    Metric(name="hd95", family="hdp", kind=SURFACE, unit="mm", higher_is_better=False, method="hd95",
           defined_by=("defines_hd",), default=True, headline=True, worst_rank=2, printed=True,
           doc="95th-percentile Hausdorff distance"),
    Metric(name="hdp", param="hd<p>", family="hdp", kind=SURFACE, unit="mm", higher_is_better=False,
           method="hausdorff", defined_by=("defines_hd",),
           doc="Hausdorff distance at percentile p in [0, 100] (hd100 is hd)"),
    Metric(name="assd", kind=SURFACE, unit="mm", higher_is_better=False, method="assd",
           defined_by=("defines_hd", "assd"), default=True, headline=True, worst_rank=4,
           doc="average symmetric surface distance"),
    Metric(name="masd", kind=SURFACE, unit="mm", higher_is_better=False, method="masd",
           defined_by=("defines_hd", "masd"), default=True,
           doc="mean average surface distance: the mean of the two directed means"),
    Metric(name="nsd", param="nsd@<mm>", param_default="tolerance", kind=SURFACE, higher_is_better=True,
           method="nsd", defined_by=("nsd",), default="tolerance", label="NSD", headline=True, worst_rank=1,
           doc="normalised surface distance (surface Dice) at tolerance tau mm"),
    Metric(name="biou", param="biou@<mm>", param_default="width", kind=SURFACE, higher_is_better=True,
           method="boundary_iou", defined_by=("biou",), label="boundary IoU",
           doc="boundary IoU with a boundary band of width w mm"),
    # ------------------------------------------------------------------ boundary metrics outside ss.evaluate
    Metric(name="asd", scope=API, kind=SURFACE, unit="mm", higher_is_better=False, method="asd",
           defined_by=("defines_hd",), doc="directed average surface distance pred -> ref (SurfaceDistances.asd)"),
    Metric(name="surface_overlap", param="overlap@<mm>", family="overlap", scope=API, kind=SURFACE,
           higher_is_better=True, method="surface_overlap", defined_by=("nsd",), label="surface overlap",
           doc="directed fractions of boundary within tau mm (SurfaceDistances.surface_overlap)"),
    # ------------------------------------------------------------------ columns of segscore score's scorers
    Metric(name="consensus_dice", scope=DATASET, kind=MULTIRATER, family="dice", higher_is_better=True,
           headline=True, doc="Dice against the voxels every rater marks, dissensus ignored (CURVAS 2024)"),
    Metric(name="vol_crps_ml", scope=DATASET, kind=PROBABILISTIC, unit="mL", higher_is_better=False,
           doc="CRPS of the predicted volume against the raters' volumes (Gaussian)"),
    Metric(name="soft_dice", scope=DATASET, kind=MULTIRATER, higher_is_better=True,
           doc="soft Dice of the probabilities against the rater-mean map"),
    Metric(name="ece", scope=DATASET, kind=CALIBRATION, higher_is_better=False, headline=True,
           doc="expected calibration error (one-vs-rest per label)"),
    Metric(name="brier", scope=DATASET, kind=CALIBRATION, higher_is_better=False,
           doc="Brier score (one-vs-rest per label)"),
    Metric(name="vol_prob_ml", scope=DATASET, kind=PROBABILISTIC, unit="mL",
           doc="probabilistic volume: sum of the probabilities x voxel volume"),
    # ------------------------------------------------------------------ calibration functions
    Metric(name="mce", scope=API, kind=CALIBRATION, higher_is_better=False, doc="maximum calibration error"),
    Metric(name="ace", scope=API, kind=CALIBRATION, higher_is_better=False,
           doc="adaptive calibration error (equal-mass bins)"),
    Metric(name="nll", scope=API, kind=CALIBRATION, higher_is_better=False, doc="negative log-likelihood"),
    # ------------------------------------------------------------------ lesion-wise (ss.evaluate(lesionwise=...))
    # each is "lesion_" + a key of LesionResult.summary (BraTS's own lesion_dice / lesion_hd95 keep their name)
    Metric(name="lesion_n_ref", scope=LESIONWISE, kind=LESION, doc="reference lesions (after merges and filters)"),
    Metric(name="lesion_n_pred", scope=LESIONWISE, kind=LESION, doc="prediction components (effective count)"),
    Metric(name="lesion_tp", scope=LESIONWISE, kind=LESION, doc="detected reference lesions"),
    Metric(name="lesion_fp", scope=LESIONWISE, kind=LESION, doc="prediction components matched to no lesion"),
    Metric(name="lesion_fn", scope=LESIONWISE, kind=LESION, doc="missed reference lesions"),
    Metric(name="lesion_precision", scope=LESIONWISE, kind=LESION, higher_is_better=True,
           doc="lesion-wise precision tp / (tp + fp)"),
    Metric(name="lesion_recall", scope=LESIONWISE, kind=LESION, higher_is_better=True,
           doc="lesion-wise recall (sensitivity) tp / (tp + fn)"),
    Metric(name="lesion_f1", scope=LESIONWISE, kind=LESION, higher_is_better=True,
           doc="lesion-wise F1 = recognition quality tp / (tp + fp/2 + fn/2)"),
    Metric(name="lesion_sq", scope=LESIONWISE, kind=LESION, higher_is_better=True,
           doc="segmentation quality: mean IoU over true-positive lesions"),
    Metric(name="lesion_pq", scope=LESIONWISE, kind=LESION, higher_is_better=True, doc="panoptic quality sq x rq"),
    Metric(name="lesion_sq_dice", scope=LESIONWISE, kind=LESION, higher_is_better=True,
           doc="mean Dice over true-positive lesions"),
    Metric(name="lesion_iou_sum", scope=LESIONWISE, kind=LESION, doc="sum of the true positives' IoU"),
    Metric(name="lesion_dice", scope=LESIONWISE, kind=LESION, higher_is_better=True,
           doc="BraTS 2023 lesion-wise Dice: sum of the lesions' Dice / (lesions + FP)"),
    Metric(name="lesion_hd95", scope=LESIONWISE, kind=LESION, higher_is_better=False, unit="mm",
           doc="BraTS 2023 lesion-wise HD95: (sum of HD95 + 374 FP) / (lesions + FP)"),
    Metric(name="lesion_legacy_dice", scope=LESIONWISE, kind=LESION, higher_is_better=True,
           doc="BraTS 2023 region Dice (1 if both empty)"),
    Metric(name="lesion_legacy_hd95", scope=LESIONWISE, kind=LESION, higher_is_better=False, unit="mm",
           doc="BraTS 2023 region HD95 (DeepMind; 0 if both empty, 374 if one is)"),
    Metric(name="lesion_sensitivity", scope=LESIONWISE, kind=LESION, higher_is_better=True,
           doc="BraTS 2023 voxel sensitivity (GaNDLF formula)"),
    Metric(name="lesion_specificity", scope=LESIONWISE, kind=LESION, higher_is_better=True,
           doc="BraTS 2023 voxel specificity (GaNDLF formula)"),
    Metric(name="lesion_gt_volume", scope=LESIONWISE, kind=LESION,
           doc="BraTS 2023 reference region volume (mm^3)"),
)

_BY_NAME = {m.name: m for m in METRICS}
_BY_ALIAS = {a: m for m in METRICS for a in m.aliases}
_NUMBER = r"(\d+(?:\.\d+)?)"
# a parameterised form: "<prefix><number>" for a percentile (hd95), "<name>[@<anything>]" for a
# distance (nsd, nsd@2; a bad number is the caller's error message, not an unknown metric)
_PATTERNS = tuple(
    (m, re.compile(re.escape(m.prefix) + _NUMBER + "$") if m.arg == "p"
     else re.compile(re.escape(m.prefix[:-1]) + r"(?:@(.+))?$"))
    for m in METRICS if m.param is not None
)


def get(name: str) -> Metric:
    """The entry of canonical name `name` (KeyError otherwise)."""
    return _BY_NAME[name]


def match(name: str, aliases: bool = True):
    """(Metric, argument string or None) for a metric name as typed (``"dice"``,
    ``"hausdorff"``, ``"hd99.5"`` -> (hdp, "99.5"), ``"nsd@2"`` -> (nsd, "2"), ``"nsd"`` ->
    (nsd, None)), or None.  Exact names first, then aliases, then parameterised forms."""
    m = _BY_NAME.get(name)
    if m is None and aliases:
        m = _BY_ALIAS.get(name)
    if m is not None:
        return m, None
    for m, pat in _PATTERNS:
        mm = pat.match(name)
        if mm:
            return m, mm.group(1)
    return None


def lookup(name: str) -> Metric | None:
    """The entry of a metric name as typed (canonical, alias or parameterised), or None."""
    hit = match(name)
    return None if hit is None else hit[0]


def column(col: str) -> Metric | None:
    """The entry of a table column (canonical or parameterised name; aliases are never
    columns), or None for a column the registry does not know."""
    hit = match(col, aliases=False)
    return None if hit is None else hit[0]


def of_family(family: str) -> Metric | None:
    """The first entry of an empty-mask policy family (every entry of a family has the same
    `defined_by`), or None."""
    for m in METRICS:
        if m.family == family:
            return m
    return None


def select(**where) -> tuple:
    """The entries, in order, whose fields equal the given values; a tuple value means any
    of them (``select(scope="evaluate", kind=("count", "volume"))``)."""
    def ok(m):
        return all(getattr(m, k) in v if isinstance(v, tuple) else getattr(m, k) == v for k, v in where.items())

    return tuple(m for m in METRICS if ok(m))


def names(**where) -> tuple:
    """Canonical names of `select(**where)`."""
    return tuple(m.name for m in select(**where))


def known(scope: str = EVALUATE) -> list:
    """What a user may type, in order (e.g. ss.evaluate's "known metrics"): each name
    that is a metric on its own, then its parameterised form."""
    out = []
    for m in select(scope=scope):
        if m.param is None or m.param_default is not None:
            out.append(m.name)
        if m.param is not None:
            out.append(m.param)
    return out


def higher_is_better(col: str) -> bool | None:
    """True / False for a score column, None for a count, a volume or an unknown column."""
    m = column(col)
    return None if m is None else m.higher_is_better


def unit(col: str) -> str:
    m = column(col)
    return "" if m is None else m.unit


# the confusion-count columns (integers; no summary statistics)
COUNT_COLUMNS = names(kind=COUNT)
