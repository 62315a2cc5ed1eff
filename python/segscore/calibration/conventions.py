"""Calibration conventions: how each library bins and reduces (`CalibrationConvention`, one
keyword-built entry per library in CALIBRATION_CONVENTIONS, looked up with `get_convention`)."""

from __future__ import annotations

from dataclasses import dataclass

from .._core.conventions import ConventionTable

MODES = ("positive-class", "top-label", "class-wise")
_MODE_CODE = {"positive-class": 0, "top-label": 1, "class-wise": 2}
_OUTSIDE_CODE = {"clamp": 0, "drop": 1, "extra": 2}
NORMS = ("l1", "l2", "max")
BINNINGS = ("uniform", "equal-mass")


@dataclass(frozen=True, kw_only=True)
class CalibrationConvention:
    """How one library bins and reduces; built with keywords.  See the module docstring.

    ``CALIBRATION_CONVENTIONS`` maps each name (segscore, torchmetrics, monai,
    metricsreloaded, netcal, curvas) to one; its fields (commented in the source) record the
    default bins, the edges and their dtype, the bin rule and where p = 0 / p = 1 land, the
    default target mode per input kind, the metrics and norms defined, the Brier form, and
    the arithmetic of the bin sums (``arithmetic``: float64, or the float32 running sums and
    per-bin formulas of torchmetrics / MONAI; ``exact=True`` always sums in float64).
    A variant is made with ``dataclasses.replace`` (e.g. a wider ``row_sum_tol`` for
    quantised maps) and passed as ``convention=``.

    Examples
    --------
    >>> import dataclasses
    >>> import numpy as np
    >>> import segscore as ss
    >>> from segscore.calibration import get_convention
    >>> tm = get_convention("torchmetrics")
    >>> tm.n_bins, tm.right_closed, tm.above, sorted(tm.metrics)
    (15, False, 'extra', ['ece', 'mce', 'reliability'])
    >>> loose = dataclasses.replace(get_convention("segscore"), row_sum_tol=0.05)
    >>> probs = np.array([[0.52, 0.2], [0.5, 0.8]])  # class sums 1.02 and 1.0
    >>> round(ss.ece(probs, np.array([0, 1]), convention=loose), 4)
    0.34
    """

    name: str
    peer: str
    n_bins: int
    edges: str                    # "exact" k/n, "torch" torch.linspace, "monai", "numpy" np.linspace, "arange"
    right_closed: bool            # bins (l, u] instead of [l, u)
    below: str                    # left of the first edge: "clamp" into bin 0 or "drop"
    above: str                    # right of the last edge: "clamp", "drop" or "extra" (a bin of its own)
    binary_mode: str              # default target mode of a binary input (P(class 1))
    two_class_mode: str           # ... of a (2, ...) input
    multiclass_mode: str          # ... of a (C >= 3, ...) input
    round_f32: str = "never"      # confidences cast to float32: "never", "always", "multiclass"
    edge_dtype: str = "float64"   # dtype of the edges: "float64", "float32" or "confidence"
    clip_eps: bool = False        # clip probabilities to [eps, 1 - eps] of their dtype (netcal)
    classwise_all_voxels: bool = False  # class-wise sums divided by all voxels (MetricsReloaded cwECE)
    metrics: frozenset = frozenset()
    norms: tuple = ("l1", "max")
    binnings: tuple = ("uniform",)
    brier_form: str | None = None  # "auto" (scikit-learn) or "sum" (MetricsReloaded)
    check_row_sums: bool = False  # refuse (C, ...) probabilities whose classes do not sum to 1
    #                               (top-label / positive-class; class-wise bins channels apart)
    row_sum_tol: float | None = None  # allowed |sum - 1|; None: ROW_SUM_TOL of the dtype
    # the arithmetic of the bin sums and of what follows them (segscore.calibration.reference):
    # "float64": segscore's float64 sums; "torchmetrics": torch scatter_add_ running sums in the
    # confidences' dtype (float32 for a multi-class input, the input's dtype for a binary one;
    # float16 bins are accumulated in float32 and rounded once), counts stopping at 2**24 in
    # float32, then torchmetrics' _ce_compute in the confidences' dtype;
    # "monai": float32 running sums and MONAI's per-bin and per-channel float32 arithmetic.
    # exact=True (and the GPU path) always sums in float64.
    arithmetic: str = "float64"
    notes: str = ""

    def defines(self, metric: str) -> bool:
        return metric in self.metrics


_ALL = frozenset({"ece", "mce", "ace", "brier", "nll", "reliability"})

CALIBRATION_CONVENTIONS = {
    "segscore": CalibrationConvention(
        name="segscore", peer="segscore", n_bins=15, edges="exact", right_closed=False, below="clamp",
        above="clamp", binary_mode="positive-class", two_class_mode="top-label", multiclass_mode="top-label",
        metrics=_ALL, norms=NORMS, binnings=BINNINGS, brier_form="auto", check_row_sums=True,
    ),
    "torchmetrics": CalibrationConvention(
        name="torchmetrics", peer="torchmetrics 1.9", n_bins=15, edges="torch", right_closed=False, below="clamp",
        above="extra", binary_mode="positive-class", two_class_mode="top-label", multiclass_mode="top-label",
        round_f32="multiclass", edge_dtype="confidence", arithmetic="torchmetrics",
        metrics=frozenset({"ece", "mce", "reliability"}), norms=NORMS,
    ),
    "monai": CalibrationConvention(
        name="monai", peer="monai 1.6.1", n_bins=20, edges="monai", right_closed=True, below="clamp",
        above="clamp", binary_mode="positive-class", two_class_mode="class-wise", multiclass_mode="class-wise",
        round_f32="always", edge_dtype="float32", arithmetic="monai",
        metrics=frozenset({"ece", "mce", "ace", "reliability"}),
    ),
    "metricsreloaded": CalibrationConvention(
        name="metricsreloaded", peer="MetricsReloaded", n_bins=10, edges="arange", right_closed=True,
        below="drop", above="drop", binary_mode="positive-class", two_class_mode="positive-class",
        multiclass_mode="class-wise", classwise_all_voxels=True,
        metrics=frozenset({"ece", "mce", "brier", "nll", "reliability"}), brier_form="sum",
    ),
    "netcal": CalibrationConvention(
        name="netcal", peer="netcal 1.4", n_bins=10, edges="numpy", right_closed=False, below="clamp",
        above="clamp", binary_mode="positive-class", two_class_mode="positive-class", multiclass_mode="top-label",
        clip_eps=True, metrics=frozenset({"ece", "mce", "ace", "reliability"}), binnings=BINNINGS,
    ),
    "curvas": CalibrationConvention(
        name="curvas", peer="CURVAS 2024 (torchmetrics 1.9 MulticlassCalibrationError)", n_bins=50, edges="torch",
        right_closed=False, below="clamp", above="extra", binary_mode="top-label", two_class_mode="top-label",
        multiclass_mode="top-label", round_f32="always", edge_dtype="float32", arithmetic="torchmetrics",
        metrics=frozenset({"ece", "reliability"}), norms=("l1",),
    ),
}

# the lookup every convention family shares (segscore._core.conventions): same messages everywhere
TABLE = ConventionTable("calibration convention", CALIBRATION_CONVENTIONS, CalibrationConvention)


def get_convention(name) -> CalibrationConvention:
    """The calibration convention named `name` (a CalibrationConvention is returned as it is).

    Parameters
    ----------
    name : str or CalibrationConvention
        One of ``CALIBRATION_CONVENTIONS``: segscore, torchmetrics, monai, metricsreloaded,
        netcal, curvas.

    Returns
    -------
    CalibrationConvention

    Raises
    ------
    ValueError
        An unknown name (the message lists the known ones).

    Examples
    --------
    >>> from segscore.calibration import get_convention
    >>> c = get_convention("monai")
    >>> c.n_bins, c.peer, c.right_closed
    (20, 'monai 1.6.1', True)
    """
    return TABLE.get(name)
