"""Named metric conventions: what each reference library computes.

Every boundary metric in segscore derives from one set of directed boundary
distances; a `Convention` records which boundary the library extracts, how it
weights boundary elements, its rule for HD at a percentile, its ASSD / MASD /
NSD / boundary-IoU formulas and its empty-mask behaviour.  docs/conventions.md
explains each choice with the peer's source (file and function).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..._core.conventions import ConventionTable
from .. import registry as _registry

NAN = float("nan")
INF = float("inf")


def _pol(ref, pred, both):
    """Empty-mask values: ref empty (pred not), pred empty (ref not), both empty."""
    return {"ref": ref, "pred": pred, "both": both}


@dataclass(frozen=True, kw_only=True)
class Convention:
    """One library's boundary-metric definitions; built with keywords (see CONVENTIONS).

    ``segscore.CONVENTIONS`` maps each name (segscore, deepmind, monai, monai-subvoxels,
    medpy, metricsreloaded, panoptica) to its frozen `Convention`; every ``convention=``
    argument takes one of those names.  Its fields (commented in the source) record the
    boundary (``"corner"`` surfels or ``"voxel"`` border), the weights, the
    percentile rule, the ASSD / MASD / NSD / boundary-IoU formulas, the dimensions, the
    default NSD tolerance and the empty-mask table ``empty[family][case]``.

    Examples
    --------
    >>> import segscore as ss
    >>> sorted(ss.CONVENTIONS)
    ['deepmind', 'medpy', 'metricsreloaded', 'monai', 'monai-subvoxels', 'panoptica', 'segscore']
    >>> c = ss.CONVENTIONS["monai"]
    >>> c.peer, c.boundary, c.weighted, c.percentile
    ('monai 1.6.1', 'voxel', False, 'torch32')
    >>> c.defines("hdp"), c.defines("masd")
    (True, False)
    >>> ss.CONVENTIONS["segscore"].empty["hdp"]  # ref empty, pred empty, both empty
    {'ref': inf, 'pred': inf, 'both': nan}
    """

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
        """Whether this convention defines the metric of empty-mask policy family `metric`
        ("hd", "hdp", "asd", "assd", "masd", "nsd", "overlap", "biou", ...): every attribute
        the metric registry names for it (``defined_by``) is set; True for a family the
        registry does not tie to any attribute (overlap metrics, counts, unknown names)."""
        m = _registry.of_family(metric)
        return m is None or all(getattr(self, a) not in (None, False) for a in m.defined_by)


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
        name="segscore", peer="segscore", boundary="corner", weighted=True, percentile="rank", assd="pooled",
        masd=True, nsd="pooled", biou="mm",
        empty=SEGSCORE_EMPTY,
    ),
    # surface-distance 0.1 crashes on empty masks under numpy 2 (np.Inf); its
    # intended behaviour (numpy < 2) is reproduced: HD inf even when both are empty.
    "deepmind": Convention(
        name="deepmind", peer="surface-distance 0.1", boundary="corner", weighted=True, percentile="rank",
        assd="pooled", masd=True, nsd="pooled", biou=None,
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
        name="monai", peer="monai 1.6.1", boundary="voxel", weighted=False, percentile="torch32", assd="pooled",
        masd=False, nsd="pooled32", biou=None,
        float32=True, percentile0_is_max=True,
        empty=_empty(hd=_DIST_INF, hdp=_DIST_INF, assd=_DIST_INF, asd=_DIST_INF, nsd=_pol(0.0, 0.0, NAN),
                     overlap=_pol(0.0, 0.0, NAN), dice=_pol(NAN, 0.0, NAN), iou=_pol(NAN, 0.0, NAN)),
    ),
    "monai-subvoxels": Convention(
        name="monai-subvoxels", peer="monai 1.6.1 (use_subvoxels=True)", boundary="corner", weighted=True,
        percentile="rank", assd=None, masd=False, nsd="pooled32", biou=None,
        ndims=(2, 3), defines_hd=False, float32=True,
        empty=_empty(nsd=_pol(0.0, 0.0, NAN), overlap=_pol(0.0, 0.0, NAN),
                     dice=_pol(NAN, 0.0, NAN), iou=_pol(NAN, 0.0, NAN)),
    ),
    # MedPy raises RuntimeError for any empty mask in its distance metrics.
    "medpy": Convention(
        name="medpy", peer="medpy 0.5.2", boundary="voxel", weighted=False, percentile="pooled", assd="pooled",
        masd=False, nsd=None, biou=None,
        connectivity=True,
        empty=_empty(hd=_pol("error", "error", "error"), hdp=_pol("error", "error", "error"),
                     assd=_pol("error", "error", "error"), asd=_pol("error", "error", "error"),
                     dice=_pol(0.0, 0.0, NAN), iou=_pol(0.0, 0.0, 1.0)),
    ),
    # MetricsReloaded: distances nan when one mask is empty, 0 when both are;
    # NSD and boundary IoU 1 when both are empty (0 when one is; its NSD can be
    # a small nonzero artefact there, which segscore does not reproduce).
    "metricsreloaded": Convention(
        name="metricsreloaded", peer="MetricsReloaded", boundary="voxel", weighted=False, percentile="linear",
        assd="pooled", masd=True, nsd="pooled", biou="voxel_strict",
        default_tolerance="1",
        empty=_empty(hd=_pol(NAN, NAN, 0.0), hdp=_pol(NAN, NAN, 0.0), assd=_pol(NAN, NAN, 0.0),
                     masd=_pol(NAN, NAN, 0.0), asd=_pol(NAN, NAN, 0.0), nsd=_pol(0.0, 0.0, 1.0),
                     overlap=_pol(0.0, 0.0, 1.0), biou=_pol(0.0, 0.0, 1.0), dice=_pol(0.0, 0.0, 1.0),
                     iou=_pol(0.0, 0.0, NAN)),
    ),
    # panoptica 2.1.7's evaluator: ASSD inf for one empty mask, nan for both;
    # HD / HD95 / NSD have no edge-case handler there (NotImplementedError).
    "panoptica": Convention(
        name="panoptica", peer="panoptica 2.1.7", boundary="voxel", weighted=False, percentile="pooled",
        assd="mean", masd=True, nsd="panoptica", biou=None,
        connectivity=True, default_tolerance="min_spacing",
        empty=_empty(hd=_pol("error", "error", "error"), hdp=_pol("error", "error", "error"),
                     nsd=_pol("error", "error", "error"), overlap=_pol("error", "error", "error"),
                     assd=_DIST_INF, masd=_DIST_INF, asd=_DIST_INF,
                     dice=_pol(0.0, 0.0, NAN), iou=_pol(0.0, 0.0, NAN)),
    ),
}

# get(name) / require(conv, metric, label) / conventions_defining(metric): the lookup every
# convention family shares (segscore._core.conventions), same messages everywhere
TABLE = ConventionTable("convention", CONVENTIONS, Convention)
get = TABLE.get
require = TABLE.require
conventions_defining = TABLE.defining


def default_tolerance(conv: Convention, spacing) -> float | None:
    if conv.default_tolerance == "1":
        return 1.0
    if conv.default_tolerance == "min_spacing":
        return float(min(spacing))
    return None
