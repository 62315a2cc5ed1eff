"""Calibration of probability maps: ECE, MCE, ACE, RMSCE, Brier score, NLL and
reliability diagrams, one case at a time or streamed over a whole test set.

    import segscore as ss
    ss.ece(probs, target)                          # probs (C, *spatial) or P(class 1) shaped like target
    ss.ece(probs, target, convention="torchmetrics", norm="l2")
    ss.reliability(probs, target).accuracy         # per-bin counts, mean confidence, accuracy
    acc = ss.Calibration(convention="monai")       # streaming: O(bins) memory
    for p, t in cases: acc.update(p, t)
    acc.compute()                                  # {"ece": ..., "mce": ..., ...}

One pass of C++ (segscore/calibration.h) gathers, for every bin at once, the
voxel count, the number of correct voxels and the sum of confidences; every
binned metric is derived from those sums, so a streamed result equals the one
big call (counts exactly, sums to rounding).

Inputs
------
``probs`` is either shaped like ``target`` and holds P(class 1) (a binary
task), or has one extra axis, ``class_axis`` (default 0, as MONAI and nnU-Net:
``(C, *spatial)``), holding one probability per class.  Logits are accepted
only with ``logits=True`` (sigmoid / softmax); values are never guessed: NaN or
probabilities outside [0, 1] raise ``ValueError``.  Under the segscore
convention a ``(C, *spatial)`` input scored top-label or positive-class must
hold one probability per class: a counted voxel whose classes do not sum to 1
(within 1e-3, 1e-2 for float16) raises (sigmoid channels belong to
``target_mode="class-wise"``); conventions named after a library accept what
that library accepts.  Maps stored quantised (uint8 with a 1/255 slope) round
each class on its own: pass a convention with a wider tolerance,
``dataclasses.replace(get_convention("segscore"), row_sum_tol=0.05)``.  ``target`` holds integer
labels in [0, C) (0/1 or bool for a binary task).  float16, float32 and
float64 are read as they are (no copy, no promotion).  ``mask`` restricts the
voxels (e.g. a region of interest); ``ignore_label`` skips voxels whose label
equals it.

Target modes (``target_mode``)
------------------------------
``"positive-class"``: confidence p_k of ``positive_class`` k (default 1),
correct = (label == k).  ``"top-label"``: confidence max_c p_c, correct =
(argmax == label), the first maximum winning as in numpy/torch.
``"class-wise"``: each class binned on its own (confidence p_c, correct =
(label == c)); the metric is the mean over classes (``reduction="none"``:
``{class: value}``; ``include_background=False`` drops class 0).

Conventions (``convention``)
----------------------------
=================  ======  ===================================================================
convention         bins    what is reproduced
=================  ======  ===================================================================
segscore           15      edges k/n in float64, bins [l, u) with p = 1 in the last bin;
                           binary input: positive class, (C, ...) input: top label;
                           every metric (ECE l1/l2/max, MCE, ACE, Brier, NLL); equal-mass bins
torchmetrics       15      torchmetrics 1.9 binary_/multiclass_calibration_error: edges
                           torch.linspace(0, 1) in the confidences' dtype (float32 for
                           multi-class, whose confidences are cast with .float()), bins
                           [l, u) and p = 1.0 in an extra bin of its own; norms l1/l2/max
monai              20      MONAI 1.6.1 CalibrationErrorMetric: class-wise (one-hot channels)
                           mean over classes, edges float32 linspace(0, 1 + eps32), bins
                           (l, u] with p = 0 in the first, values cast to float32; ECE,
                           ACE ("average"), MCE ("maximum")
metricsreloaded    10      MetricsReloaded CalibrationMeasures: edges np.arange(0, 1.00001,
                           1/n), bins (l, u], p = 0 (and anything above the last edge)
                           dropped; binary (positive class) ECE / MCE, class-wise cwECE for
                           C >= 3 (sum over bins divided by *all* voxels); Brier summed over
                           the classes; NLL without clipping
netcal             10      netcal 1.4 ECE / ACE / MCE: probabilities clipped to [eps, 1 - eps]
                           of their dtype, edges np.linspace(0, 1), bins [l, u) with the last
                           closed; binary and C = 2: positive class, C >= 3: top label;
                           equal-mass bins from np.quantile
curvas             50      the CURVAS 2024 challenge's ECE (torchmetrics
                           MulticlassCalibrationError, 50 bins, top label)
=================  ======  ===================================================================

Accumulation differs on purpose: segscore sums in float64 where torchmetrics
and MONAI accumulate in float32 (on a 256^3 map torchmetrics' own float32
scatter-add is off by ~20 % relative on a small ECE).  Documented deviations
from the peers: netcal bins its per-bin means with float32 edges but its counts
with float64 edges (they can disagree for a float32 value equal to a
rounded-down edge); segscore uses the float64 edges for both.  netcal raises
for a multi-class input whose target holds at most two labels and
MetricsReloaded's ECE has no multi-class top-label form; segscore computes the
defined mode instead.  A metric a convention does not define (ACE for
torchmetrics, Brier for MONAI, ...) raises ``ValueError`` naming those that do.

``closed`` ("left" / "right") and ``ends`` ("clamp" / "drop" / "extra")
override a convention's bin edge rule: where p = 0 and p = 1 land.

Empty input (no voxel counted) gives nan.  ACE and MCE skip empty bins.
See docs/calibration.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from fractions import Fraction
from functools import lru_cache

import numpy as np

from .._core.backends import cpu
from .._core.conventions import ConventionTable
from .._core.validate import as_host_array, check_threads

__all__ = [
    "CALIBRATION_CONVENTIONS", "Calibration", "CalibrationConvention", "Reliability", "ace", "brier", "ece",
    "mce", "nll", "reliability",
]

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
    default target mode per input kind, the metrics and norms defined, and the Brier form.
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
        round_f32="multiclass", edge_dtype="confidence",
        metrics=frozenset({"ece", "mce", "reliability"}), norms=NORMS,
    ),
    "monai": CalibrationConvention(
        name="monai", peer="monai 1.6.1", n_bins=20, edges="monai", right_closed=True, below="clamp",
        above="clamp", binary_mode="positive-class", two_class_mode="class-wise", multiclass_mode="class-wise",
        round_f32="always", edge_dtype="float32", metrics=frozenset({"ece", "mce", "ace", "reliability"}),
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
        multiclass_mode="top-label", round_f32="always", edge_dtype="float32",
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


# ---------------------------------------------------------------------------
# bin edges


def _round_fraction(fr: Fraction, dtype) -> float:
    """Correctly rounded (to nearest, ties to even) value of an exact rational in float32/64."""
    if dtype == np.float64:
        return float(fr)
    x = np.float32(float(fr))  # may be double-rounded: check the neighbours
    cands = [np.nextafter(x, np.float32(-np.inf)), x, np.nextafter(x, np.float32(np.inf))]
    best = min(cands, key=lambda c: (abs(Fraction(float(c)) - fr), int(np.float32(c).view(np.uint32)) & 1))
    return float(best)


@lru_cache(maxsize=256)
def _torch_linspace(end: float, steps: int, dtype: str) -> tuple:
    """torch.linspace(0, end, steps, dtype=dtype) on the CPU, bit for bit.

    ATen's kernel: step = (end - start) / (steps - 1) in the dtype; the first
    half is start + step * i, the second half end - step * (steps - 1 - i),
    contracted to one fused multiply-add for float32/64 (float16 rounds every
    operation).  Checked against torch in tests/test_calibration.py."""
    dt = np.dtype(dtype).type
    if steps == 1:
        return (0.0,)
    half = steps // 2
    if dt == np.float16:
        # c10::Half arithmetic: integers become Half, each operation is done in float and rounded
        h = np.float16
        e = h(end)
        step = h(np.float32(e) / np.float32(h(steps - 1)))
        out = []
        for i in range(steps):
            if i < half:
                v = h(np.float32(step) * np.float32(h(i)))
            else:
                prod = h(np.float32(step) * np.float32(h(steps - 1 - i)))
                v = h(np.float32(e) - np.float32(prod))
            out.append(float(v))
        return tuple(out)
    e = dt(end)
    step = dt(e / dt(steps - 1))
    fe, fs = Fraction(float(e)), Fraction(float(step))
    out = []
    for i in range(steps):
        if i < half:
            v = _round_fraction(fs * i, dt)
        else:
            v = _round_fraction(fe - fs * (steps - 1 - i), dt)
        out.append(v)
    return tuple(out)


def _edges(conv: CalibrationConvention, n_bins: int, conf_dtype) -> np.ndarray:
    if conv.edges == "exact":
        return np.arange(n_bins + 1, dtype=np.float64) / n_bins
    if conv.edges == "numpy":
        return np.linspace(0.0, 1.0, n_bins + 1)
    if conv.edges == "arange":
        return np.arange(0, 1.00001, 1.0 / n_bins, dtype=np.float64)
    if conv.edges == "monai":
        return np.array(_torch_linspace(1.0 + float(np.finfo(np.float32).eps), n_bins + 1, "float32"))
    if conv.edges == "torch":
        dt = np.dtype(conf_dtype) if conv.edge_dtype == "confidence" else np.dtype(conv.edge_dtype)
        return np.array(_torch_linspace(1.0, n_bins + 1, dt.name))
    raise AssertionError(conv.edges)


def _candidate(edges: np.ndarray) -> tuple:
    """(offset, scale, tol) of the kernel's no-search fast path; scale 0 disables it."""
    n = len(edges) - 1
    lo, hi = float(edges[0]), float(edges[-1])
    if not hi > lo:
        return 0.0, 0.0, 0.0
    scale = n / (hi - lo)
    g = (edges - lo) * scale  # the kernel's own arithmetic (same IEEE operations)
    dev = float(np.max(np.abs(g - np.arange(n + 1))))
    tol = dev + 1e-12
    if tol >= 0.25:
        return 0.0, 0.0, 0.0
    return lo, scale, tol


# ---------------------------------------------------------------------------
# input handling


@dataclass
class _Input:
    probs: np.ndarray
    target: np.ndarray
    mask: np.ndarray | None
    class_axis: int      # -1: binary input
    n_classes: int       # 0: binary input
    dtype: np.dtype
    gpu: bool = False    # probs/target/mask are DeviceArrays (segscore.gpu)


def _located(probs, target, mask, device) -> tuple:
    """(probs, target, mask, on_gpu): numpy arrays for the CPU path, DeviceArrays for the GPU
    path (GPU inputs, or device='cuda'/'cupy'); device='cpu' copies GPU inputs to the host."""
    from .. import gpu as _gpu

    arrays = [probs, target] + ([mask] if mask is not None else [])
    devs = _gpu.prepare(arrays, ["probs", "target", "mask"][:len(arrays)], device)
    if devs is not None:
        return devs[0], devs[1], devs[2] if mask is not None else None, True
    m = None if mask is None else as_host_array(mask, "mask")
    # no copy for another memory layout: the C++ pass walks (and sums) in logical C order
    return as_host_array(probs, "probs"), as_host_array(target, "target"), m, False


def _prepare(probs, target, mask, class_axis, logits, device=None) -> _Input:
    p, t, m, gpu = _located(probs, target, mask, device)
    if p.dtype.kind != "f" or p.dtype.itemsize not in (2, 4, 8):
        what = "logits" if logits else "probabilities"
        raise TypeError(
            f"probs has dtype {p.dtype}; pass floating-point {what} (float16, float32 or float64)"
            + ("" if logits else ", or logits with logits=True")
        )
    if t.dtype.kind not in "biu":
        hint = " (e.g. target.astype(np.int64))" if t.dtype.kind == "f" else ""
        raise TypeError(
            f"target has dtype {t.dtype}; it must hold integer class labels in [0, C) (or bool for a binary "
            f"task){hint}"
        )
    if m is not None:
        if m.dtype.kind not in "biu":
            raise TypeError(f"mask has dtype {m.dtype}; pass a bool (or integer) array, nonzero = counted")
        if m.shape != t.shape:
            raise ValueError(f"mask has shape {m.shape} but target has shape {t.shape}; they must match")
    if p.shape == t.shape:
        return _Input(p, t, m, -1, 0, p.dtype, gpu)
    if p.ndim == t.ndim + 1:
        if isinstance(class_axis, bool) or not isinstance(class_axis, int | np.integer):
            raise TypeError(f"class_axis must be an integer axis of probs, got {class_axis!r}")
        ax = int(class_axis)
        if not -p.ndim <= ax < p.ndim:
            raise ValueError(f"class_axis={class_axis} is out of range for probs with {p.ndim} axes")
        ax %= p.ndim
        spatial = p.shape[:ax] + p.shape[ax + 1:]
        if spatial != t.shape:
            raise ValueError(
                f"probs has shape {p.shape} and target has shape {t.shape}: with class_axis={class_axis} the "
                f"spatial shape of probs is {spatial}, which does not match. Classes go on class_axis "
                f"(default 0, i.e. probs shaped (C, *spatial)); pass class_axis= for another layout"
            )
        c = p.shape[ax]
        if c == 0:
            raise ValueError(f"probs has an empty class axis (shape {p.shape}, class_axis={class_axis}); pass at least "
                             "two classes, or P(class 1) shaped like target")
        if c == 1:
            raise ValueError(
                f"probs has a single class channel (shape {p.shape}, class_axis={class_axis}); for a binary task "
                "pass P(class 1) shaped like target (e.g. probs[0]), or both classes"
            )
        return _Input(p, t, m, ax, c, p.dtype, gpu)
    if t.ndim == p.ndim + 1:
        raise ValueError(
            f"target has shape {t.shape} and probs {p.shape}: target has the extra axis. target must hold "
            "integer labels shaped like the spatial axes (argmax a one-hot target over its class axis)"
        )
    raise ValueError(
        f"probs has shape {p.shape} and target has shape {t.shape}; probs must either have target's shape "
        "(binary: P(class 1)) or one extra class axis at class_axis (default 0, i.e. (C, *spatial)). "
        "segscore never guesses a batch axis: pass one case at a time"
    )


def _resolve_mode(conv: CalibrationConvention, inp: _Input, target_mode) -> str:
    if target_mode is None:
        if inp.n_classes == 0:
            return conv.binary_mode
        return conv.two_class_mode if inp.n_classes == 2 else conv.multiclass_mode
    if target_mode not in MODES:
        raise ValueError(f"target_mode must be one of {MODES} (or None for the convention's default), "
                         f"got {target_mode!r}")
    return target_mode


def _check_bins(n_bins, conv) -> int:
    if n_bins is None:
        return conv.n_bins
    if isinstance(n_bins, bool) or not isinstance(n_bins, int | np.integer) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer (or None for the convention's default), got {n_bins!r}")
    return int(n_bins)


@dataclass(frozen=True)
class _Setup:
    """Everything that fixes the binning of one configuration."""

    conv: CalibrationConvention
    n_bins: int
    binning: str
    mode: str
    positive: int
    logits: bool
    n_classes: int
    dtype: np.dtype
    edges: np.ndarray | None = field(default=None, compare=False)

    @property
    def classes(self) -> int:
        return 2 if self.n_classes == 0 else self.n_classes

    def kernel_kwargs(self) -> dict:
        conv = self.conv
        r = conv.round_f32 == "always" or (conv.round_f32 == "multiclass" and self.n_classes > 0)
        if conv.edge_dtype == "confidence" and self.logits and self.dtype == np.float32:
            r = True  # torchmetrics' sigmoid of float32 logits is a float32 tensor
        clip, lo, hi = False, 0.0, 1.0
        if conv.clip_eps:
            eps = np.finfo(self.dtype).eps
            clip, lo, hi = True, float(eps), float(self.dtype.type(1) - eps)
        return dict(n_classes=self.n_classes, logits=self.logits, mode=_MODE_CODE[self.mode],
                    positive=self.positive, round_f32=r, clip=clip, clip_lo=lo, clip_hi=hi)


def _conf_dtype(conv: CalibrationConvention, n_classes: int, dtype) -> np.dtype:
    """dtype of the confidences whose linspace torchmetrics bins with."""
    if conv.round_f32 == "always" or (conv.round_f32 == "multiclass" and n_classes > 0):
        return np.dtype(np.float32)
    return np.dtype(dtype)


def _check_option(conv: CalibrationConvention, name: str, value, known: tuple, attr: str) -> None:
    """`value` of option `name` is one of `known` and one the convention defines (its `attr`)."""
    if value not in known:
        raise ValueError(f"{name} must be one of {known}, got {value!r}")
    if value not in getattr(conv, attr):
        have = TABLE.names(lambda c: value in getattr(c, attr))
        raise ValueError(f"convention {conv.name!r} ({conv.peer}) has no {value!r} {name}; conventions with it: "
                         f"{have}")


def _make_setup(conv, inp: _Input, n_bins, binning, target_mode, positive_class, logits) -> _Setup:
    n = _check_bins(n_bins, conv)
    _check_option(conv, "binning", binning, BINNINGS, "binnings")
    mode = _resolve_mode(conv, inp, target_mode)
    if isinstance(positive_class, bool) or not isinstance(positive_class, int | np.integer):
        raise TypeError(f"positive_class must be an integer class index, got {positive_class!r}")
    c = 2 if inp.n_classes == 0 else inp.n_classes
    if mode == "positive-class" and not 0 <= positive_class < c:
        raise ValueError(f"positive_class={positive_class} is not a class of a {c}-class input")
    if not isinstance(logits, bool | np.bool_):
        raise TypeError(f"logits must be True or False, got {logits!r}")
    s = _Setup(conv, n, binning, mode, int(positive_class), bool(logits), inp.n_classes, np.dtype(inp.dtype))
    if binning == "uniform":
        s = replace(s, edges=_edges(conv, n, _conf_dtype(conv, inp.n_classes, inp.dtype)))
    return s


def _raise_invalid(inp: _Input, logits: bool, n_invalid: int) -> None:
    p, mask = inp.probs, inp.mask
    if inp.gpu:  # the error path: look at the values on the host
        from ..gpu import to_host

        p = to_host(p)
        mask = None if mask is None else to_host(mask)
    if mask is not None:
        m = mask.astype(bool, copy=False)
        p = (np.moveaxis(p, inp.class_axis, 0)[:, m] if inp.class_axis >= 0 else p[m])
    p = np.asarray(p, dtype=np.float64)
    nan = int(np.count_nonzero(np.isnan(p)))
    if logits:
        inf = int(np.count_nonzero(np.isinf(p)))
        raise ValueError(f"logits must be finite: found {nan} NaN and {inf} infinite values in probs")
    finite = p[~np.isnan(p)]
    out = int(np.count_nonzero((finite < 0) | (finite > 1)))
    parts = []
    if nan:
        parts.append(f"{nan} NaN value{'s' if nan != 1 else ''}")
    if out:
        parts.append(f"{out} value{'s' if out != 1 else ''} outside [0, 1] (min {finite.min():g}, max "
                     f"{finite.max():g})")
    what = " and ".join(parts) if parts else f"{n_invalid} invalid values"
    raise ValueError(f"probs contains {what}; probabilities must lie in [0, 1]. If these are logits, pass "
                     "logits=True (segscore never guesses)")


def _check_labels(setup: _Setup, tmin: int, tmax: int, ignore_label) -> None:
    c = setup.classes
    if tmin < 0 or tmax >= c:
        kind = "a binary task takes labels 0 and 1 (or bool)" if setup.n_classes == 0 else \
            f"probs has {c} classes on its class axis"
        hint = "" if ignore_label is not None else "; use ignore_label= or mask= to skip unlabelled voxels"
        raise ValueError(f"target holds labels in [{tmin}, {tmax}] but must hold integer labels in [0, {c}): "
                         f"{kind}{hint}")


def _call(inp: _Input, op: str, kw: dict) -> dict:
    """segscore._cpu.<op> called by keyword, or its GPU twin in segscore.gpu.score_ops, which
    takes the same arguments positionally, in the order of `kw`."""
    if inp.gpu:
        from ..gpu import score_ops

        return getattr(score_ops, op)(*kw.values())
    return getattr(cpu(), op)(**kw)


def _stats(inp: _Input, setup: _Setup, edges, ignore_label, threads, scores=False, brier_sum_form=0) -> dict:
    edges = np.ascontiguousarray(edges, dtype=np.float64)
    conv = setup.conv
    off, scale, tol = _candidate(edges)
    r = _call(inp, "calibration_stats", dict(
        probs=inp.probs, target=inp.target, mask=inp.mask, class_axis=inp.class_axis, ignore_label=ignore_label,
        edges=edges, right_closed=int(conv.right_closed), below=_OUTSIDE_CODE[conv.below],
        above=_OUTSIDE_CODE[conv.above], cand_offset=off, cand_scale=scale, cand_tol=tol,
        exact_floor=conv.edges == "exact" and setup.binning == "uniform" and not conv.right_closed,
        **setup.kernel_kwargs(), want_scores=scores, brier_sum_form=brier_sum_form, threads=threads))
    if r["invalid"]:
        _raise_invalid(inp, setup.logits, r["invalid"])
    _check_labels(setup, r["target_min"], r["target_max"], ignore_label)
    if conv.check_row_sums and inp.n_classes and not setup.logits and setup.mode != "class-wise":
        _check_row_sums(inp, ignore_label, conv.row_sum_tol)
    return r


# |sum over classes - 1| allowed per voxel: rounding of a softmax stored in the input's dtype is
# far below this; an input that is not one probability per class (sigmoid channels, scores) is
# far above it.
ROW_SUM_TOL = {2: 1e-2, 4: 1e-3, 8: 1e-3}
_ROW_CHUNK = 1 << 22  # elements summed per step on the host (bounded temporaries)


def _check_row_sums(inp: _Input, ignore_label, tol=None) -> None:
    """Refuse a (C, ...) input whose class probabilities do not sum to 1 at some counted
    voxel (masked-out and ignore_label voxels are not looked at).  `tol`: the allowed
    |sum - 1| (a convention's ``row_sum_tol``, e.g. wider for maps stored quantised);
    None: ROW_SUM_TOL of the input's dtype."""
    tol = ROW_SUM_TOL[inp.dtype.itemsize] if tol is None else float(tol)
    p, t, m, ax = inp.probs, inp.target, inp.mask, inp.class_axis
    on_device = inp.gpu and all(hasattr(a.obj, "sum") for a in (p, t) + ((m,) if m is not None else ()))
    if inp.gpu and not on_device:
        # a CUDA array with no reductions of its own (only __cuda_array_interface__): on the host
        from ..gpu import to_host

        p, t, m = to_host(p), to_host(t), None if m is None else to_host(m)
    if on_device:  # the array's own library (CuPy, torch) reduces on its device
        s = p.obj.sum(axis=ax)
        bad = abs(s - 1) > tol
        if m is not None:
            bad &= m.obj != 0
        if ignore_label is not None:
            bad &= t.obj != ignore_label
        n_bad = int(bad.sum())
        worst = float(abs(s - 1)[bad].max()) if n_bad else 0.0
    else:
        pm = np.moveaxis(p, ax, -1)  # (*spatial, C) view: spatial axes in target's order
        rows = max(1, _ROW_CHUNK // max(1, pm[0].size))
        n_bad, worst = 0, 0.0
        for i in range(0, pm.shape[0], rows):
            dev = np.abs(pm[i:i + rows].sum(axis=-1, dtype=np.float64) - 1.0)
            bad = dev > tol
            if m is not None:
                bad &= m[i:i + rows] != 0
            if ignore_label is not None:
                bad &= t[i:i + rows] != ignore_label
            k = int(np.count_nonzero(bad))
            if k:
                n_bad += k
                worst = max(worst, float(dev[bad].max()))
    if n_bad:
        raise ValueError(
            f"probs has {n_bad} voxel(s) whose {inp.n_classes} class probabilities do not sum to 1 (largest "
            f"|sum - 1| = {worst:.3g} > {tol:g}); the segscore convention needs one probability per class "
            "on class_axis (a softmax output). Pass logits=True for raw scores, P(class 1) shaped like "
            "target for a binary task, or a convention named after a library that accepts such input"
        )


def _check_ignore(ignore_label):
    if ignore_label is None:
        return None
    if isinstance(ignore_label, bool) or not isinstance(ignore_label, int | np.integer):
        raise TypeError(f"ignore_label must be an integer label or None, got {ignore_label!r}")
    return int(ignore_label)


def _equal_mass_edges(conf: np.ndarray, n_bins: int, conv: CalibrationConvention, dtype) -> np.ndarray:
    """Quantile edges (np.quantile, linear), first and last set to 0 and 1 (as netcal)."""
    q = np.linspace(0.0, 1.0, n_bins + 1)
    if conf.size == 0:
        return q
    if conv.name == "netcal":
        conf = conf.astype(dtype)  # netcal takes quantiles of the clipped input in its own dtype
    e = np.asarray(np.quantile(conf, q), dtype=np.float64)
    e[0], e[-1] = 0.0, 1.0
    return np.maximum.accumulate(e)


# ---------------------------------------------------------------------------
# reliability: the sufficient statistics and everything derived from them


@dataclass(frozen=True)
class Reliability:
    """Per-bin sufficient statistics of one calibration pass (a frozen dataclass).

    Made by :func:`segscore.reliability` and :meth:`Calibration.reliability`; its methods
    compute the binned metrics from the sums, so a diagram and its ECE always agree.

    Attributes
    ----------
    edges : ndarray
        Bin edges, one more than the bins (per class for equal-mass class-wise bins); under
        torchmetrics / curvas a last zero-width bin [1, 1] holds p = 1.0.
    count, correct : ndarray
        Voxels per bin, and those whose label is the bin's class (positive class / top label
        / the class), shaped ``(n_bins,)`` or ``(n_classes, n_bins)`` class-wise.
    sum_confidence : ndarray
        Sum of the binned confidences per bin (float64).
    voxels : int
        Voxels counted (after `mask` and `ignore_label`, before any dropped by the edge rule).
    mode : str
        ``"positive-class"``, ``"top-label"`` or ``"class-wise"``.
    convention : str
        The calibration convention's name.
    classes : tuple or None
        Class-wise: the class of each row.
    brier_sum, nll_sum : float
        Sums of the Brier terms and of -log p_label when they were computed.
    scored : int
        Voxels in `brier_sum` / `nll_sum`.
    n_classes : int
        C of a (C, ...) input; 0 for a binary input.
    confidence, accuracy : ndarray
        Per-bin means ``sum_confidence / count`` and ``correct / count`` (nan in empty bins;
        properties).

    Methods
    -------
    ece(norm="l1", reduction="mean", include_background=True)
        ECE (l1), RMSCE (l2) or MCE (max) by the convention's rule.
    mce(reduction="mean", include_background=True)
        Maximum calibration error over the non-empty bins.
    ace(reduction="mean", include_background=True)
        Unweighted mean gap over the non-empty bins.
    to_dict()
        JSON-ready lists.

    Examples
    --------
    >>> import numpy as np
    >>> import segscore as ss
    >>> p = np.array([0.1, 0.3, 0.6, 0.8, 0.9, 0.95, 0.2, 0.7])  # P(class 1)
    >>> y = np.array([0, 0, 1, 1, 1, 0, 0, 1])
    >>> r = ss.reliability(p, y, n_bins=5)
    >>> r.sum_confidence
    array([0.1 , 0.5 , 0.  , 1.3 , 2.65])
    >>> r.confidence
    array([0.1       , 0.25      ,        nan, 0.65      , 0.88333333])
    >>> r.voxels, r.mode, r.convention
    (8, 'positive-class', 'segscore')
    >>> round(r.ece(), 3), round(r.ace(), 3)
    (0.244, 0.229)
    """

    edges: np.ndarray
    count: np.ndarray
    correct: np.ndarray
    sum_confidence: np.ndarray
    voxels: int
    mode: str
    convention: str
    classes: tuple | None = None
    brier_sum: float = math.nan
    nll_sum: float = math.nan
    scored: int = 0
    n_classes: int = 0  # 0: binary input

    @property
    def confidence(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.count > 0, self.sum_confidence / np.maximum(self.count, 1), np.nan)

    @property
    def accuracy(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.count > 0, self.correct / np.maximum(self.count, 1), np.nan)

    def _conv(self) -> CalibrationConvention:
        return get_convention(self.convention)

    def _per_stream(self, fn) -> np.ndarray:
        cnt = np.atleast_2d(self.count)
        cor = np.atleast_2d(self.correct)
        sc = np.atleast_2d(self.sum_confidence)
        return np.array([fn(cnt[i], cor[i], sc[i]) for i in range(cnt.shape[0])])

    def _reduce(self, values, reduction, include_background):
        if self.mode != "class-wise":
            if not include_background:
                raise ValueError("include_background=False only applies to target_mode='class-wise'")
            return float(values[0])
        classes = self.classes or tuple(range(len(values)))
        pairs = [(c, float(v)) for c, v in zip(classes, values) if include_background or c != 0]
        if reduction == "none":
            return dict(pairs)
        if reduction != "mean":
            raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
        vals = np.array([v for _, v in pairs])
        if vals.size == 0 or np.all(np.isnan(vals)):
            return math.nan
        return float(np.nanmean(vals))  # as MONAI: classes without voxels are skipped

    def ece(self, norm: str = "l1", reduction: str = "mean", include_background: bool = True):
        """Expected calibration error from the bin sums: l1 (ECE), l2 (RMSCE) or max (MCE).

        Parameters
        ----------
        norm : {"l1", "l2", "max"}, default "l1"
            ``sum_b |a_b - s_b| / N``, ``sqrt(sum_b (a_b - s_b)^2 / n_b / N)`` or
            ``max_b |a_b - s_b| / n_b``; N is the binned voxels (all voxels for
            metricsreloaded's class-wise cwECE).  Only the norms the convention defines.
        reduction : {"mean", "none"}, default "mean"
            Class-wise: the mean over classes with voxels, or ``{class: value}``.
        include_background : bool, default True
            Class-wise: False drops class 0.

        Returns
        -------
        float or dict
            nan when no voxel was binned.

        Examples
        --------
        >>> import numpy as np
        >>> import segscore as ss
        >>> p = np.array([0.1, 0.3, 0.6, 0.8, 0.9, 0.95, 0.2, 0.7])  # P(class 1)
        >>> y = np.array([0, 0, 1, 1, 1, 0, 0, 1])
        >>> r = ss.reliability(p, y, n_bins=5)
        >>> round(r.ece(), 3), round(r.ece("l2"), 3), round(r.ece("max"), 3)
        (0.244, 0.255, 0.35)
        """
        conv = self._conv()
        _check_option(conv, "norm", norm, NORMS, "norms")
        all_voxels = conv.classwise_all_voxels and self.mode == "class-wise"

        def one(cnt, cor, sc):
            nz = cnt > 0
            if not nz.any():
                return math.nan
            gap = np.abs(cor[nz] - sc[nz])  # n_b * |acc_b - conf_b|
            if norm == "max":
                return float(np.max(gap / cnt[nz]))
            denom = float(self.voxels) if all_voxels else float(cnt.sum())
            if norm == "l1":
                return float(np.sum(gap) / denom)
            ce = float(np.sum(gap * gap / cnt[nz]) / denom)
            return math.sqrt(ce) if ce > 0 else 0.0

        return self._reduce(self._per_stream(one), reduction, include_background)

    def mce(self, reduction: str = "mean", include_background: bool = True):
        """Maximum calibration error over the non-empty bins (``ece("max", ...)``).

        Parameters
        ----------
        reduction : {"mean", "none"}, default "mean"
        include_background : bool, default True

        Returns
        -------
        float or dict

        Examples
        --------
        >>> import numpy as np
        >>> import segscore as ss
        >>> p = np.array([0.1, 0.3, 0.6, 0.8, 0.9, 0.95, 0.2, 0.7])  # P(class 1)
        >>> y = np.array([0, 0, 1, 1, 1, 0, 0, 1])
        >>> round(ss.reliability(p, y, n_bins=5).mce(), 4)
        0.35
        """
        return self.ece("max", reduction, include_background)

    def ace(self, reduction: str = "mean", include_background: bool = True):
        """Average calibration error: unweighted mean of |acc - conf| over the non-empty bins.

        Parameters
        ----------
        reduction : {"mean", "none"}, default "mean"
        include_background : bool, default True

        Returns
        -------
        float or dict

        Examples
        --------
        >>> import numpy as np
        >>> import segscore as ss
        >>> p = np.array([0.1, 0.3, 0.6, 0.8, 0.9, 0.95, 0.2, 0.7])  # P(class 1)
        >>> y = np.array([0, 0, 1, 1, 1, 0, 0, 1])
        >>> round(ss.reliability(p, y, n_bins=5).ace(), 4)
        0.2292
        """

        def one(cnt, cor, sc):
            nz = cnt > 0
            if not nz.any():
                return math.nan
            return float(np.mean(np.abs(cor[nz] - sc[nz]) / cnt[nz]))

        return self._reduce(self._per_stream(one), reduction, include_background)

    def to_dict(self) -> dict:
        """The statistics as JSON-ready lists: edges, count, correct, sum_confidence, voxels,
        mode, convention, classes.

        Returns
        -------
        dict

        Examples
        --------
        >>> import numpy as np
        >>> import segscore as ss
        >>> p = np.array([0.1, 0.3, 0.6, 0.8, 0.9, 0.95, 0.2, 0.7])  # P(class 1)
        >>> y = np.array([0, 0, 1, 1, 1, 0, 0, 1])
        >>> d = ss.reliability(p, y, n_bins=2).to_dict()
        >>> d["edges"], d["count"], d["correct"]
        ([0.0, 0.5, 1.0], [3, 5], [0, 4])
        """
        return {"edges": self.edges.tolist(), "count": self.count.tolist(), "correct": self.correct.tolist(),
                "sum_confidence": self.sum_confidence.tolist(), "voxels": self.voxels, "mode": self.mode,
                "convention": self.convention, "classes": None if self.classes is None else list(self.classes)}


def _display_edges(edges: np.ndarray, slots: int) -> np.ndarray:
    e = np.asarray(edges, dtype=np.float64)
    if slots == len(e):  # an extra bin [e_n, e_n] (torchmetrics' p = 1.0)
        e = np.append(e, e[-1])
    return e


def _reliability(inp: _Input, setup: _Setup, ignore_label, threads, scores=False, brier_sum_form=0) -> Reliability:
    conv = setup.conv
    classes = tuple(range(setup.classes)) if setup.mode == "class-wise" else None
    if setup.binning == "uniform":
        r = _stats(inp, setup, setup.edges, ignore_label, threads, scores, brier_sum_form)
        count, correct, sc = r["count"], r["correct"], r["sum_conf"]
        if setup.mode != "class-wise":
            count, correct, sc = count[0], correct[0], sc[0]
        return Reliability(_display_edges(setup.edges, r["count"].shape[1]), count, correct, sc, int(r["voxels"]),
                           setup.mode, conv.name, classes, r["brier_sum"], r["nll_sum"], int(r["scored"]),
                           setup.n_classes)
    # equal-mass: edges from the quantiles of each stream's confidences, then one binning pass per stream
    cr = _call(inp, "calibration_confidences", dict(
        probs=inp.probs, target=inp.target, mask=inp.mask, class_axis=inp.class_axis, ignore_label=ignore_label,
        **setup.kernel_kwargs(), threads=threads))
    if cr["invalid"]:
        _raise_invalid(inp, setup.logits, cr["invalid"])
    _check_labels(setup, cr["target_min"], cr["target_max"], ignore_label)
    values = cr["values"]
    if setup.mode != "class-wise":
        edges = _equal_mass_edges(values[0], setup.n_bins, conv, setup.dtype)
        r = _stats(inp, setup, edges, ignore_label, threads, scores, brier_sum_form)
        return Reliability(edges, r["count"][0], r["correct"][0], r["sum_conf"][0], int(r["voxels"]), setup.mode,
                           conv.name, None, r["brier_sum"], r["nll_sum"], int(r["scored"]), setup.n_classes)
    rows, all_edges = [], []
    for c in range(setup.classes):
        edges = _equal_mass_edges(values[c], setup.n_bins, conv, setup.dtype)
        sub = replace(setup, mode="positive-class", positive=c)
        rows.append(_stats(inp, sub, edges, ignore_label, threads, scores and c == 0, brier_sum_form))
        all_edges.append(edges)
    first = rows[0]
    return Reliability(np.array(all_edges), np.stack([r["count"][0] for r in rows]),
                       np.stack([r["correct"][0] for r in rows]), np.stack([r["sum_conf"][0] for r in rows]),
                       int(first["voxels"]), "class-wise", conv.name, classes, first["brier_sum"],
                       first["nll_sum"], int(first["scored"]), setup.n_classes)


def _edge_rule(conv: CalibrationConvention, closed, ends) -> CalibrationConvention:
    """The convention with its bin edge rule overridden: ``closed`` "left" ([l, u)) or "right"
    ((l, u]); ``ends`` what happens to a value on the outer side of the end edges (p = 0 under
    (l, u], p = 1 under [l, u)): "clamp" into the end bin, "drop", or "extra" (a bin of its own
    above the last edge, as torchmetrics does with p = 1.0)."""
    if closed is None and ends is None:
        return conv
    right = conv.right_closed
    if closed is not None:
        if closed not in ("left", "right"):
            raise ValueError(f"closed must be 'left' ([l, u)) or 'right' ((l, u]), got {closed!r}")
        right = closed == "right"
    below, above = conv.below, conv.above
    if ends is not None:
        if ends not in _OUTSIDE_CODE:
            raise ValueError(f"ends must be one of {tuple(_OUTSIDE_CODE)}, got {ends!r}")
        if ends == "extra" and right:
            raise ValueError("ends='extra' gives the values above the last edge a bin of their own; with "
                             "closed='right' p = 0 is the end value: use ends='clamp' or 'drop'")
        below, above = ("clamp" if ends == "extra" else ends), ends
    return replace(conv, right_closed=right, below=below, above=above)


def _run(probs, target, *, n_bins, class_axis, logits, convention, binning, target_mode, positive_class, mask,
         ignore_label, threads, scores=False, brier_sum_form=0, closed=None, ends=None, device=None) -> Reliability:
    conv = _edge_rule(get_convention(convention), closed, ends)
    inp = _prepare(probs, target, mask, class_axis, logits, device)
    setup = _make_setup(conv, inp, n_bins, binning, target_mode, positive_class, logits)
    return _reliability(inp, setup, _check_ignore(ignore_label), check_threads(threads), scores, brier_sum_form)


# ---------------------------------------------------------------------------
# public one-call API


def reliability(probs, target, n_bins=None, class_axis=0, logits=False, convention="segscore", *,
                binning="uniform", target_mode=None, positive_class=1, mask=None, ignore_label=None,
                closed=None, ends=None, threads=None, device=None) -> Reliability:
    """Per-bin counts, mean confidence and accuracy: the data of a reliability diagram.

    One pass gathers, per bin, the voxel count, the number of correct voxels and the sum of
    confidences (a :class:`Reliability`); every binned metric (:func:`ece`, :func:`mce`,
    :func:`ace`) derives from them, and :func:`segscore.plot_reliability` draws them.

    Parameters
    ----------
    probs : array_like
        Probabilities in [0, 1]: shaped like `target` (a binary task, P(class 1)), or with one
        extra class axis at `class_axis` (``(C, *spatial)`` by default, C >= 2).  float16,
        float32 and float64 are read in place (numpy, torch CPU, ``__array__``; CuPy and torch
        CUDA on their device); other dtypes raise.  NaN or a value outside [0, 1] raises
        (pass logits with ``logits=True``).  Under the segscore convention a (C, ...) input
        scored top-label / positive-class must have class sums of 1 (within 1e-3, 1e-2 for
        float16).
    target : array_like
        Integer labels in [0, C) (0 / 1 or bool for a binary task), the spatial shape.
    n_bins : int, optional
        Number of bins; None: the convention's default (segscore 15, torchmetrics 15,
        monai 20, metricsreloaded 10, netcal 10, curvas 50).
    class_axis : int, default 0
        The class axis of a multi-class `probs` (``-1`` for channels-last).  No batch axis is
        ever guessed.
    logits : bool, default False
        `probs` holds logits: sigmoid (binary) or softmax over `class_axis` is applied
        (computed stably, in the single pass); they must be finite.
    convention : str or CalibrationConvention, default "segscore"
        ``"segscore"``, ``"torchmetrics"``, ``"monai"``, ``"metricsreloaded"``, ``"netcal"`` or
        ``"curvas"``: bins, edges, edge rule, default target mode and accumulation of that
        library (see Notes).  A metric the convention does not define raises ``ValueError``.
    binning : {"uniform", "equal-mass"}, default "uniform"
        Equal-width bins, or equal-mass bins from ``np.quantile`` of the confidences (first
        and last edge 0 and 1, as netcal); equal-mass: segscore and netcal only.
    target_mode : {None, "positive-class", "top-label", "class-wise"}, optional
        What is binned: the probability of `positive_class` (correct = label is it), the top
        class probability (correct = argmax is the label, the first maximum winning), or each
        class on its own (correct = label is the class; the result is the mean over
        classes).  None: the convention's default for the input (see Notes).
    positive_class : int, default 1
        The class of ``target_mode="positive-class"``.
    mask : array_like, optional
        Region of interest, the spatial shape; nonzero voxels are counted.
    ignore_label : int, optional
        Voxels whose label equals it are skipped (and not checked).
    closed : {None, "left", "right"}, optional
        Override the convention's bins: ``"left"`` [l, u) or ``"right"`` (l, u].
    ends : {None, "clamp", "drop", "extra"}, optional
        Override where values on the outer side of the end edges land (p = 1 under [l, u),
        p = 0 under (l, u]): clamped into the end bin, dropped, or (``"extra"``) a bin of
        their own, as torchmetrics does with p = 1.0.
    threads : int, optional
        CPU threads; results are bit-identical for any count.
    device : {None, "cpu", "cuda", "cupy"}, optional
        Force a backend; GPU inputs are binned on their device (same numbers as the CPU).

    Returns
    -------
    Reliability
        ``count``, ``correct``, ``sum_confidence`` per bin (``(n_classes, n_bins)``
        class-wise), ``edges``, ``confidence`` and ``accuracy`` (nan in empty bins).

    Raises
    ------
    ValueError
        The convention does not define the metric (or the option: norm, binning), `probs`
        holds NaN or values outside [0, 1] (without `logits`), labels are outside [0, C),
        shapes do not match, or a (C, ...) input's classes do not sum to 1 (segscore).
    TypeError
        `probs` is not float16/32/64, or `target` is not integer / bool.

    Notes
    -----
    Rules per convention (default bins; edges; bin rule; default target mode):

    * ``segscore`` (15): edges k/n in float64, bins [l, u), p = 1 in the last bin; binary
      input: positive class, (C, ...) input: top label.  Every metric, float64 sums.
    * ``torchmetrics`` (15): torchmetrics 1.9 -- edges ``torch.linspace(0, 1)`` in the
      confidences' dtype (multi-class confidences cast to float32), bins [l, u), p = 1.0 in
      an extra bin of its own; binary: positive class, (C, ...): top label; norms l1 / l2 / max.
    * ``monai`` (20): MONAI 1.6.1 -- float32 edges ``linspace(0, 1 + eps32)``, bins (l, u]
      with p = 0 in the first, values cast to float32; class-wise mean over classes (binary:
      the single channel); ECE, ACE, MCE.
    * ``metricsreloaded`` (10): edges ``np.arange(0, 1.00001, 1/n)``, bins (l, u], p = 0
      (and anything above the last edge) dropped; binary and C = 2: positive class, C >= 3:
      class-wise cwECE divided by *all* voxels; MCE binary only.
    * ``netcal`` (10): netcal 1.4 -- probabilities clipped to [eps, 1 - eps] of their dtype,
      edges ``np.linspace(0, 1)``, bins [l, u) with the last closed; binary and C = 2:
      positive class, C >= 3: top label; equal-mass bins available.
    * ``curvas`` (50): the CURVAS 2024 challenge's ECE (torchmetrics
      ``MulticlassCalibrationError(n_bins=50)``): torchmetrics' float32 edges, top label.

    An explicit `target_mode` overrides the default and keeps the convention's edges.

    References
    ----------
    .. [1] Guo, C., Pleiss, G., Sun, Y. & Weinberger, K. Q. (2017). On calibration of modern neural
        networks. ICML 2017, 1321-1330.
    .. [2] Naeini, M. P., Cooper, G. F. & Hauskrecht, M. (2015). Obtaining well calibrated
        probabilities using Bayesian binning. AAAI 2015, 2901-2907.
    .. [3] Peers mirrored by name: torchmetrics 1.9 (``binary_/multiclass_calibration_error``),
        MONAI 1.6.1 (``CalibrationErrorMetric``), MetricsReloaded (``CalibrationMeasures``), netcal
        1.4 (Kueppers et al. 2020), the CURVAS 2024 evaluation; see docs/calibration.md.

    Examples
    --------
    >>> import numpy as np
    >>> import segscore as ss
    >>> p = np.array([0.1, 0.3, 0.6, 0.8, 0.9, 0.95, 0.2, 0.7])  # P(class 1)
    >>> y = np.array([0, 0, 1, 1, 1, 0, 0, 1])
    >>> r = ss.reliability(p, y, n_bins=5)
    >>> r.edges
    array([0. , 0.2, 0.4, 0.6, 0.8, 1. ])
    >>> r.count, r.correct
    (array([1, 2, 0, 2, 3]), array([0, 0, 0, 2, 2]))
    >>> r.accuracy
    array([0.        , 0.        ,        nan, 1.        , 0.66666667])
    >>> round(r.ece(), 3), round(r.mce(), 3)
    (0.244, 0.35)
    >>> ss.reliability(p, y, n_bins=5, convention="torchmetrics").count  # p = 1.0 bin last
    array([1, 2, 0, 2, 3, 0])
    """
    conv = get_convention(convention)
    TABLE.require(conv, "reliability", "a reliability diagram")
    return _run(probs, target, n_bins=n_bins, class_axis=class_axis, logits=logits, convention=conv,
                binning=binning, target_mode=target_mode, positive_class=positive_class, mask=mask,
                ignore_label=ignore_label, threads=threads, closed=closed, ends=ends, device=device)


def ece(probs, target, n_bins=None, class_axis=0, logits=False, convention="segscore", *, norm="l1",
        binning="uniform", target_mode=None, positive_class=1, mask=None, ignore_label=None,
        include_background=True, reduction="mean", closed=None, ends=None, threads=None, device=None):
    """Expected calibration error of a probability map against its labels.

    With per-bin voxel count n_b, correct count a_b and confidence sum s_b (N = sum n_b):
    ``ECE = sum_b |a_b - s_b| / N``, the bin-size-weighted mean gap between accuracy and
    mean confidence.  ``norm="l2"`` gives the RMS calibration error
    ``sqrt(sum_b (a_b - s_b)^2 / n_b / N)`` and ``norm="max"`` the maximum calibration error
    (as torchmetrics' ``norm``; see :func:`mce`).  One C++ pass over the voxels gathers every
    bin at once.

    Parameters
    ----------
    probs : array_like
        Probabilities in [0, 1]: shaped like `target` (a binary task, P(class 1)), or with one
        extra class axis at `class_axis` (``(C, *spatial)`` by default, C >= 2).  float16,
        float32 and float64 are read in place (numpy, torch CPU, ``__array__``; CuPy and torch
        CUDA on their device); other dtypes raise.  NaN or a value outside [0, 1] raises
        (pass logits with ``logits=True``).  Under the segscore convention a (C, ...) input
        scored top-label / positive-class must have class sums of 1 (within 1e-3, 1e-2 for
        float16).
    target : array_like
        Integer labels in [0, C) (0 / 1 or bool for a binary task), the spatial shape.
    n_bins : int, optional
        Number of bins; None: the convention's default (segscore 15, torchmetrics 15,
        monai 20, metricsreloaded 10, netcal 10, curvas 50).
    class_axis : int, default 0
        The class axis of a multi-class `probs` (``-1`` for channels-last).  No batch axis is
        ever guessed.
    logits : bool, default False
        `probs` holds logits: sigmoid (binary) or softmax over `class_axis` is applied
        (computed stably, in the single pass); they must be finite.
    convention : str or CalibrationConvention, default "segscore"
        ``"segscore"``, ``"torchmetrics"``, ``"monai"``, ``"metricsreloaded"``, ``"netcal"`` or
        ``"curvas"``: bins, edges, edge rule, default target mode and accumulation of that
        library (see Notes).  A metric the convention does not define raises ``ValueError``.
    norm : {"l1", "l2", "max"}, default "l1"
        l2: segscore and torchmetrics; max: every convention defining MCE.
    binning : {"uniform", "equal-mass"}, default "uniform"
        Equal-width bins, or equal-mass bins from ``np.quantile`` of the confidences (first
        and last edge 0 and 1, as netcal); equal-mass: segscore and netcal only.
    target_mode : {None, "positive-class", "top-label", "class-wise"}, optional
        What is binned: the probability of `positive_class` (correct = label is it), the top
        class probability (correct = argmax is the label, the first maximum winning), or each
        class on its own (correct = label is the class; the result is the mean over
        classes).  None: the convention's default for the input (see Notes).
    positive_class : int, default 1
        The class of ``target_mode="positive-class"``.
    mask : array_like, optional
        Region of interest, the spatial shape; nonzero voxels are counted.
    ignore_label : int, optional
        Voxels whose label equals it are skipped (and not checked).
    include_background : bool, default True
        Class-wise mode only: False drops class 0 from the mean (or from the dict).
    reduction : {"mean", "none"}, default "mean"
        Class-wise mode only: the mean over classes with voxels (classes without any are
        skipped, as MONAI), or ``{class: value}``.
    closed : {None, "left", "right"}, optional
        Override the convention's bins: ``"left"`` [l, u) or ``"right"`` (l, u].
    ends : {None, "clamp", "drop", "extra"}, optional
        Override where values on the outer side of the end edges land (p = 1 under [l, u),
        p = 0 under (l, u]): clamped into the end bin, dropped, or (``"extra"``) a bin of
        their own, as torchmetrics does with p = 1.0.
    threads : int, optional
        CPU threads; results are bit-identical for any count.
    device : {None, "cpu", "cuda", "cupy"}, optional
        Force a backend; GPU inputs are binned on their device (same numbers as the CPU).

    Returns
    -------
    float or dict
        The value; nan when no voxel is counted.  Class-wise with ``reduction="none"``:
        ``{class: float}``.

    Raises
    ------
    ValueError
        The convention does not define the metric (or the option: norm, binning), `probs`
        holds NaN or values outside [0, 1] (without `logits`), labels are outside [0, C),
        shapes do not match, or a (C, ...) input's classes do not sum to 1 (segscore).
    TypeError
        `probs` is not float16/32/64, or `target` is not integer / bool.

    See Also
    --------
    Calibration : the same numbers streamed over a test set.
    reliability : the per-bin statistics behind the value.

    Notes
    -----
    Rules per convention (default bins; edges; bin rule; default target mode):

    * ``segscore`` (15): edges k/n in float64, bins [l, u), p = 1 in the last bin; binary
      input: positive class, (C, ...) input: top label.  Every metric, float64 sums.
    * ``torchmetrics`` (15): torchmetrics 1.9 -- edges ``torch.linspace(0, 1)`` in the
      confidences' dtype (multi-class confidences cast to float32), bins [l, u), p = 1.0 in
      an extra bin of its own; binary: positive class, (C, ...): top label; norms l1 / l2 / max.
    * ``monai`` (20): MONAI 1.6.1 -- float32 edges ``linspace(0, 1 + eps32)``, bins (l, u]
      with p = 0 in the first, values cast to float32; class-wise mean over classes (binary:
      the single channel); ECE, ACE, MCE.
    * ``metricsreloaded`` (10): edges ``np.arange(0, 1.00001, 1/n)``, bins (l, u], p = 0
      (and anything above the last edge) dropped; binary and C = 2: positive class, C >= 3:
      class-wise cwECE divided by *all* voxels; MCE binary only.
    * ``netcal`` (10): netcal 1.4 -- probabilities clipped to [eps, 1 - eps] of their dtype,
      edges ``np.linspace(0, 1)``, bins [l, u) with the last closed; binary and C = 2:
      positive class, C >= 3: top label; equal-mass bins available.
    * ``curvas`` (50): the CURVAS 2024 challenge's ECE (torchmetrics
      ``MulticlassCalibrationError(n_bins=50)``): torchmetrics' float32 edges, top label.

    An explicit `target_mode` overrides the default and keeps the convention's edges.

    Deviations from the peers are documented in the module docstring and
    docs/calibration.md (segscore sums in float64 where torchmetrics and MONAI accumulate
    in float32).

    References
    ----------
    .. [1] Naeini, M. P., Cooper, G. F. & Hauskrecht, M. (2015). Obtaining well calibrated
        probabilities using Bayesian binning. AAAI 2015, 2901-2907.
    .. [2] Guo, C., Pleiss, G., Sun, Y. & Weinberger, K. Q. (2017). On calibration of modern neural
        networks. ICML 2017, 1321-1330.
    .. [3] Nixon, J., Dusenberry, M. W., Zhang, L., Jerfel, G. & Tran, D. (2019). Measuring
        calibration in deep learning. CVPR Workshops 2019 (adaptive / equal-mass bins, class-wise
        errors).
    .. [4] Peers mirrored by name: torchmetrics 1.9 (``binary_/multiclass_calibration_error``),
        MONAI 1.6.1 (``CalibrationErrorMetric``), MetricsReloaded (``CalibrationMeasures``), netcal
        1.4 (Kueppers et al. 2020), the CURVAS 2024 evaluation; see docs/calibration.md.

    Examples
    --------
    >>> import numpy as np
    >>> import segscore as ss
    >>> p = np.array([0.1, 0.3, 0.6, 0.8, 0.9, 0.95, 0.2, 0.7])  # P(class 1)
    >>> y = np.array([0, 0, 1, 1, 1, 0, 0, 1])
    >>> round(ss.ece(p, y), 3)
    0.319
    >>> round(ss.ece(p, y, n_bins=5), 3), round(ss.ece(p, y, n_bins=5, norm="l2"), 3)
    (0.244, 0.255)
    >>> round(ss.ece(p, y, convention="netcal"), 3)
    0.294

    Multi-class maps ``(C, *spatial)``: top label by default, class-wise on request.

    >>> probs = np.array([[0.7, 0.2, 0.1, 0.6, 0.3, 0.1],   # (C, *spatial)
    ...                   [0.2, 0.7, 0.3, 0.3, 0.3, 0.2],
    ...                   [0.1, 0.1, 0.6, 0.1, 0.4, 0.7]])
    >>> labels = np.array([0, 1, 2, 1, 2, 2])
    >>> round(ss.ece(probs, labels), 4), round(ss.ece(probs, labels, convention="monai"), 4)
    (0.2833, 0.2222)
    >>> res = ss.ece(probs, labels, target_mode="class-wise", reduction="none")
    >>> {c: round(v, 4) for c, v in res.items()}
    {0: 0.2667, 1: 0.1333, 2: 0.2667}
    >>> round(ss.ece(np.log(probs), labels, logits=True), 4)
    0.2833
    """
    conv = get_convention(convention)
    TABLE.require(conv, "ece" if norm != "max" else "mce", "ECE" if norm != "max" else "MCE (norm='max')")
    if conv.name == "metricsreloaded" and norm == "max":
        _check_mr_mce(conv, probs, target, class_axis, target_mode)
    rel = _run(probs, target, n_bins=n_bins, class_axis=class_axis, logits=logits, convention=conv,
               binning=binning, target_mode=target_mode, positive_class=positive_class, mask=mask,
               ignore_label=ignore_label, threads=threads, closed=closed, ends=ends, device=device)
    return rel.ece(norm, reduction, include_background)


def _check_mr_mce(conv, probs, target, class_axis, target_mode) -> None:
    inp = _prepare(probs, target, None, class_axis, False) if target_mode is None else None
    mode = target_mode if target_mode is not None else _resolve_mode(conv, inp, None)
    if mode != "positive-class":
        raise ValueError("MetricsReloaded defines MCE for binary tasks (the positive class) only; pass a binary "
                         "input, two classes, or target_mode='positive-class'")


def mce(probs, target, n_bins=None, class_axis=0, logits=False, convention="segscore", *, binning="uniform",
        target_mode=None, positive_class=1, mask=None, ignore_label=None, include_background=True,
        reduction="mean", closed=None, ends=None, threads=None, device=None):
    """Maximum calibration error: the largest accuracy / confidence gap over the non-empty bins.

    With per-bin voxel count n_b, correct count a_b and confidence sum s_b (N = sum n_b):
    ``MCE = max over n_b > 0 of |a_b - s_b| / n_b`` (``ece(..., norm="max")``).

    Parameters
    ----------
    probs : array_like
        Probabilities in [0, 1]: shaped like `target` (a binary task, P(class 1)), or with one
        extra class axis at `class_axis` (``(C, *spatial)`` by default, C >= 2).  float16,
        float32 and float64 are read in place (numpy, torch CPU, ``__array__``; CuPy and torch
        CUDA on their device); other dtypes raise.  NaN or a value outside [0, 1] raises
        (pass logits with ``logits=True``).  Under the segscore convention a (C, ...) input
        scored top-label / positive-class must have class sums of 1 (within 1e-3, 1e-2 for
        float16).
    target : array_like
        Integer labels in [0, C) (0 / 1 or bool for a binary task), the spatial shape.
    n_bins : int, optional
        Number of bins; None: the convention's default (segscore 15, torchmetrics 15,
        monai 20, metricsreloaded 10, netcal 10, curvas 50).
    class_axis : int, default 0
        The class axis of a multi-class `probs` (``-1`` for channels-last).  No batch axis is
        ever guessed.
    logits : bool, default False
        `probs` holds logits: sigmoid (binary) or softmax over `class_axis` is applied
        (computed stably, in the single pass); they must be finite.
    convention : str or CalibrationConvention, default "segscore"
        ``"segscore"``, ``"torchmetrics"``, ``"monai"``, ``"metricsreloaded"``, ``"netcal"`` or
        ``"curvas"``: bins, edges, edge rule, default target mode and accumulation of that
        library (see Notes).  A metric the convention does not define raises ``ValueError``.
    binning : {"uniform", "equal-mass"}, default "uniform"
        Equal-width bins, or equal-mass bins from ``np.quantile`` of the confidences (first
        and last edge 0 and 1, as netcal); equal-mass: segscore and netcal only.
    target_mode : {None, "positive-class", "top-label", "class-wise"}, optional
        What is binned: the probability of `positive_class` (correct = label is it), the top
        class probability (correct = argmax is the label, the first maximum winning), or each
        class on its own (correct = label is the class; the result is the mean over
        classes).  None: the convention's default for the input (see Notes).
    positive_class : int, default 1
        The class of ``target_mode="positive-class"``.
    mask : array_like, optional
        Region of interest, the spatial shape; nonzero voxels are counted.
    ignore_label : int, optional
        Voxels whose label equals it are skipped (and not checked).
    include_background : bool, default True
        Class-wise mode only: False drops class 0 from the mean (or from the dict).
    reduction : {"mean", "none"}, default "mean"
        Class-wise mode only: the mean over classes with voxels (classes without any are
        skipped, as MONAI), or ``{class: value}``.
    closed : {None, "left", "right"}, optional
        Override the convention's bins: ``"left"`` [l, u) or ``"right"`` (l, u].
    ends : {None, "clamp", "drop", "extra"}, optional
        Override where values on the outer side of the end edges land (p = 1 under [l, u),
        p = 0 under (l, u]): clamped into the end bin, dropped, or (``"extra"``) a bin of
        their own, as torchmetrics does with p = 1.0.
    threads : int, optional
        CPU threads; results are bit-identical for any count.
    device : {None, "cpu", "cuda", "cupy"}, optional
        Force a backend; GPU inputs are binned on their device (same numbers as the CPU).

    Returns
    -------
    float or dict
        The value; nan when no voxel is counted.  Class-wise with ``reduction="none"``:
        ``{class: float}``.

    Raises
    ------
    ValueError
        The convention does not define the metric (or the option: norm, binning), `probs`
        holds NaN or values outside [0, 1] (without `logits`), labels are outside [0, C),
        shapes do not match, or a (C, ...) input's classes do not sum to 1 (segscore).
    TypeError
        `probs` is not float16/32/64, or `target` is not integer / bool.

    Notes
    -----
    Defined by segscore, torchmetrics, monai, netcal and metricsreloaded (binary tasks only:
    a binary input, C = 2 or ``target_mode="positive-class"``); not by curvas.

    Rules per convention (default bins; edges; bin rule; default target mode):

    * ``segscore`` (15): edges k/n in float64, bins [l, u), p = 1 in the last bin; binary
      input: positive class, (C, ...) input: top label.  Every metric, float64 sums.
    * ``torchmetrics`` (15): torchmetrics 1.9 -- edges ``torch.linspace(0, 1)`` in the
      confidences' dtype (multi-class confidences cast to float32), bins [l, u), p = 1.0 in
      an extra bin of its own; binary: positive class, (C, ...): top label; norms l1 / l2 / max.
    * ``monai`` (20): MONAI 1.6.1 -- float32 edges ``linspace(0, 1 + eps32)``, bins (l, u]
      with p = 0 in the first, values cast to float32; class-wise mean over classes (binary:
      the single channel); ECE, ACE, MCE.
    * ``metricsreloaded`` (10): edges ``np.arange(0, 1.00001, 1/n)``, bins (l, u], p = 0
      (and anything above the last edge) dropped; binary and C = 2: positive class, C >= 3:
      class-wise cwECE divided by *all* voxels; MCE binary only.
    * ``netcal`` (10): netcal 1.4 -- probabilities clipped to [eps, 1 - eps] of their dtype,
      edges ``np.linspace(0, 1)``, bins [l, u) with the last closed; binary and C = 2:
      positive class, C >= 3: top label; equal-mass bins available.
    * ``curvas`` (50): the CURVAS 2024 challenge's ECE (torchmetrics
      ``MulticlassCalibrationError(n_bins=50)``): torchmetrics' float32 edges, top label.

    An explicit `target_mode` overrides the default and keeps the convention's edges.

    References
    ----------
    .. [1] Naeini, M. P., Cooper, G. F. & Hauskrecht, M. (2015). Obtaining well calibrated
        probabilities using Bayesian binning. AAAI 2015, 2901-2907.
    .. [2] Guo, C., Pleiss, G., Sun, Y. & Weinberger, K. Q. (2017). On calibration of modern neural
        networks. ICML 2017, 1321-1330.
    .. [3] Peers mirrored by name: torchmetrics 1.9 (``binary_/multiclass_calibration_error``),
        MONAI 1.6.1 (``CalibrationErrorMetric``), MetricsReloaded (``CalibrationMeasures``), netcal
        1.4 (Kueppers et al. 2020), the CURVAS 2024 evaluation; see docs/calibration.md.

    Examples
    --------
    >>> import numpy as np
    >>> import segscore as ss
    >>> p = np.array([0.1, 0.3, 0.6, 0.8, 0.9, 0.95, 0.2, 0.7])  # P(class 1)
    >>> y = np.array([0, 0, 1, 1, 1, 0, 0, 1])
    >>> ss.mce(p, y)
    0.95
    >>> round(ss.mce(p, y, n_bins=5), 4)
    0.35
    >>> round(ss.mce(p, y, convention="netcal"), 4)
    0.425
    """
    conv = get_convention(convention)
    TABLE.require(conv, "mce", "MCE")
    if conv.name == "metricsreloaded":
        _check_mr_mce(conv, probs, target, class_axis, target_mode)
    rel = _run(probs, target, n_bins=n_bins, class_axis=class_axis, logits=logits, convention=conv,
               binning=binning, target_mode=target_mode, positive_class=positive_class, mask=mask,
               ignore_label=ignore_label, threads=threads, closed=closed, ends=ends, device=device)
    return rel.mce(reduction, include_background)


def ace(probs, target, n_bins=None, class_axis=0, logits=False, convention="segscore", *, binning="uniform",
        target_mode=None, positive_class=1, mask=None, ignore_label=None, include_background=True,
        reduction="mean", closed=None, ends=None, threads=None, device=None):
    """Average calibration error: the unweighted mean gap over the non-empty bins.

    With per-bin voxel count n_b, correct count a_b and confidence sum s_b (N = sum n_b):
    ``ACE = mean over n_b > 0 of |a_b - s_b| / n_b``: every non-empty bin counts the
    same, whatever its size.  With ``binning="equal-mass"`` this is the adaptive calibration
    error of Nixon et al. (2019).

    Parameters
    ----------
    probs : array_like
        Probabilities in [0, 1]: shaped like `target` (a binary task, P(class 1)), or with one
        extra class axis at `class_axis` (``(C, *spatial)`` by default, C >= 2).  float16,
        float32 and float64 are read in place (numpy, torch CPU, ``__array__``; CuPy and torch
        CUDA on their device); other dtypes raise.  NaN or a value outside [0, 1] raises
        (pass logits with ``logits=True``).  Under the segscore convention a (C, ...) input
        scored top-label / positive-class must have class sums of 1 (within 1e-3, 1e-2 for
        float16).
    target : array_like
        Integer labels in [0, C) (0 / 1 or bool for a binary task), the spatial shape.
    n_bins : int, optional
        Number of bins; None: the convention's default (segscore 15, torchmetrics 15,
        monai 20, metricsreloaded 10, netcal 10, curvas 50).
    class_axis : int, default 0
        The class axis of a multi-class `probs` (``-1`` for channels-last).  No batch axis is
        ever guessed.
    logits : bool, default False
        `probs` holds logits: sigmoid (binary) or softmax over `class_axis` is applied
        (computed stably, in the single pass); they must be finite.
    convention : str or CalibrationConvention, default "segscore"
        ``"segscore"``, ``"torchmetrics"``, ``"monai"``, ``"metricsreloaded"``, ``"netcal"`` or
        ``"curvas"``: bins, edges, edge rule, default target mode and accumulation of that
        library (see Notes).  A metric the convention does not define raises ``ValueError``.
    binning : {"uniform", "equal-mass"}, default "uniform"
        Equal-width bins, or equal-mass bins from ``np.quantile`` of the confidences (first
        and last edge 0 and 1, as netcal); equal-mass: segscore and netcal only.
    target_mode : {None, "positive-class", "top-label", "class-wise"}, optional
        What is binned: the probability of `positive_class` (correct = label is it), the top
        class probability (correct = argmax is the label, the first maximum winning), or each
        class on its own (correct = label is the class; the result is the mean over
        classes).  None: the convention's default for the input (see Notes).
    positive_class : int, default 1
        The class of ``target_mode="positive-class"``.
    mask : array_like, optional
        Region of interest, the spatial shape; nonzero voxels are counted.
    ignore_label : int, optional
        Voxels whose label equals it are skipped (and not checked).
    include_background : bool, default True
        Class-wise mode only: False drops class 0 from the mean (or from the dict).
    reduction : {"mean", "none"}, default "mean"
        Class-wise mode only: the mean over classes with voxels (classes without any are
        skipped, as MONAI), or ``{class: value}``.
    closed : {None, "left", "right"}, optional
        Override the convention's bins: ``"left"`` [l, u) or ``"right"`` (l, u].
    ends : {None, "clamp", "drop", "extra"}, optional
        Override where values on the outer side of the end edges land (p = 1 under [l, u),
        p = 0 under (l, u]): clamped into the end bin, dropped, or (``"extra"``) a bin of
        their own, as torchmetrics does with p = 1.0.
    threads : int, optional
        CPU threads; results are bit-identical for any count.
    device : {None, "cpu", "cuda", "cupy"}, optional
        Force a backend; GPU inputs are binned on their device (same numbers as the CPU).

    Returns
    -------
    float or dict
        The value; nan when no voxel is counted.  Class-wise with ``reduction="none"``:
        ``{class: float}``.

    Raises
    ------
    ValueError
        The convention does not define the metric (or the option: norm, binning), `probs`
        holds NaN or values outside [0, 1] (without `logits`), labels are outside [0, C),
        shapes do not match, or a (C, ...) input's classes do not sum to 1 (segscore).
    TypeError
        `probs` is not float16/32/64, or `target` is not integer / bool.

    Notes
    -----
    Defined by segscore, monai (its ``"average"`` reduction) and netcal; the others raise.

    Rules per convention (default bins; edges; bin rule; default target mode):

    * ``segscore`` (15): edges k/n in float64, bins [l, u), p = 1 in the last bin; binary
      input: positive class, (C, ...) input: top label.  Every metric, float64 sums.
    * ``torchmetrics`` (15): torchmetrics 1.9 -- edges ``torch.linspace(0, 1)`` in the
      confidences' dtype (multi-class confidences cast to float32), bins [l, u), p = 1.0 in
      an extra bin of its own; binary: positive class, (C, ...): top label; norms l1 / l2 / max.
    * ``monai`` (20): MONAI 1.6.1 -- float32 edges ``linspace(0, 1 + eps32)``, bins (l, u]
      with p = 0 in the first, values cast to float32; class-wise mean over classes (binary:
      the single channel); ECE, ACE, MCE.
    * ``metricsreloaded`` (10): edges ``np.arange(0, 1.00001, 1/n)``, bins (l, u], p = 0
      (and anything above the last edge) dropped; binary and C = 2: positive class, C >= 3:
      class-wise cwECE divided by *all* voxels; MCE binary only.
    * ``netcal`` (10): netcal 1.4 -- probabilities clipped to [eps, 1 - eps] of their dtype,
      edges ``np.linspace(0, 1)``, bins [l, u) with the last closed; binary and C = 2:
      positive class, C >= 3: top label; equal-mass bins available.
    * ``curvas`` (50): the CURVAS 2024 challenge's ECE (torchmetrics
      ``MulticlassCalibrationError(n_bins=50)``): torchmetrics' float32 edges, top label.

    An explicit `target_mode` overrides the default and keeps the convention's edges.

    References
    ----------
    .. [1] Nixon, J., Dusenberry, M. W., Zhang, L., Jerfel, G. & Tran, D. (2019). Measuring
        calibration in deep learning. CVPR Workshops 2019 (adaptive / equal-mass bins, class-wise
        errors).
    .. [2] Naeini, M. P., Cooper, G. F. & Hauskrecht, M. (2015). Obtaining well calibrated
        probabilities using Bayesian binning. AAAI 2015, 2901-2907.
    .. [3] Peers mirrored by name: torchmetrics 1.9 (``binary_/multiclass_calibration_error``),
        MONAI 1.6.1 (``CalibrationErrorMetric``), MetricsReloaded (``CalibrationMeasures``), netcal
        1.4 (Kueppers et al. 2020), the CURVAS 2024 evaluation; see docs/calibration.md.

    Examples
    --------
    >>> import numpy as np
    >>> import segscore as ss
    >>> p = np.array([0.1, 0.3, 0.6, 0.8, 0.9, 0.95, 0.2, 0.7])  # P(class 1)
    >>> y = np.array([0, 0, 1, 1, 1, 0, 0, 1])
    >>> round(ss.ace(p, y, n_bins=5), 4)
    0.2292
    >>> round(ss.ace(p, y, n_bins=4, binning="equal-mass"), 3)
    0.219
    """
    conv = get_convention(convention)
    TABLE.require(conv, "ace", "ACE")
    rel = _run(probs, target, n_bins=n_bins, class_axis=class_axis, logits=logits, convention=conv,
               binning=binning, target_mode=target_mode, positive_class=positive_class, mask=mask,
               ignore_label=ignore_label, threads=threads, closed=closed, ends=ends, device=device)
    return rel.ace(reduction, include_background)


def _brier_from(rel: Reliability, form: str) -> float:
    if rel.scored == 0:
        return math.nan
    b = rel.brier_sum / rel.scored
    if form == "auto" and rel.n_classes == 2:
        b *= 0.5  # scikit-learn halves the two-column sum (= the binary form)
    return float(b)


def _scores_rel(probs, target, class_axis, logits, convention, mask, ignore_label, threads, form, device=None):
    conv = get_convention(convention)
    inp = _prepare(probs, target, mask, class_axis, logits, device)
    # the binning is irrelevant here; any valid setup runs the pass
    setup = _make_setup(conv, inp, 1, "uniform", "positive-class" if inp.n_classes == 0 else "top-label", 1,
                        logits)
    setup = replace(setup, edges=np.array([0.0, 1.0]))
    sum_form = 1 if (form == "sum" and inp.n_classes == 0) else 0
    return _reliability(inp, setup, _check_ignore(ignore_label), check_threads(threads), True, sum_form)


def brier(probs, target, n_bins=None, class_axis=0, logits=False, convention="segscore", *, form=None, mask=None,
          ignore_label=None, threads=None, device=None) -> float:
    """Brier score: mean squared error of the probabilities, over the counted voxels.

    ``form="auto"`` (segscore's default, scikit-learn's ``brier_score_loss``): ``(p - y)^2``
    for a binary input, half the sum over the two columns for C = 2 (the same number), the
    sum over classes ``sum_c (p_c - [y = c])^2`` for C >= 3.  ``form="sum"``
    (MetricsReloaded): the sum over classes, always (``2 (p - y)^2`` for a binary input).
    Nothing is binned.

    Parameters
    ----------
    probs : array_like
        Probabilities in [0, 1]: shaped like `target` (a binary task, P(class 1)), or with one
        extra class axis at `class_axis` (``(C, *spatial)`` by default, C >= 2).  float16,
        float32 and float64 are read in place (numpy, torch CPU, ``__array__``; CuPy and torch
        CUDA on their device); other dtypes raise.  NaN or a value outside [0, 1] raises
        (pass logits with ``logits=True``).  Under the segscore convention a (C, ...) input
        scored top-label / positive-class must have class sums of 1 (within 1e-3, 1e-2 for
        float16).
    target : array_like
        Integer labels in [0, C) (0 / 1 or bool for a binary task), the spatial shape.
    n_bins : int, optional
        Accepted for a signature uniform with the binned metrics; ignored.
    class_axis : int, default 0
        The class axis of a multi-class `probs` (``-1`` for channels-last).  No batch axis is
        ever guessed.
    logits : bool, default False
        `probs` holds logits: sigmoid (binary) or softmax over `class_axis` is applied
        (computed stably, in the single pass); they must be finite.
    convention : {"segscore", "metricsreloaded"}, default "segscore"
        Only these define the Brier score; it picks the default `form`.
    form : {None, "auto", "sum"}, optional
        None: the convention's (segscore ``"auto"``, metricsreloaded ``"sum"``).
    mask : array_like, optional
        Region of interest, the spatial shape; nonzero voxels are counted.
    ignore_label : int, optional
        Voxels whose label equals it are skipped (and not checked).
    threads : int, optional
        CPU threads; results are bit-identical for any count.
    device : {None, "cpu", "cuda", "cupy"}, optional
        Force a backend; GPU inputs are binned on their device (same numbers as the CPU).

    Returns
    -------
    float
        nan when no voxel is counted.

    Raises
    ------
    ValueError
        The convention does not define the metric (or the option: norm, binning), `probs`
        holds NaN or values outside [0, 1] (without `logits`), labels are outside [0, C),
        shapes do not match, or a (C, ...) input's classes do not sum to 1 (segscore).
    TypeError
        `probs` is not float16/32/64, or `target` is not integer / bool.

    References
    ----------
    .. [1] Brier, G. W. (1950). Verification of forecasts expressed in terms of probability. Monthly
        Weather Review 78(1), 1-3.
    .. [2] Gneiting, T. & Raftery, A. E. (2007). Strictly proper scoring rules, prediction, and
        estimation. Journal of the American Statistical Association 102(477), 359-378.
    .. [3] scikit-learn ``brier_score_loss``; MetricsReloaded ``CalibrationMeasures``.

    Examples
    --------
    >>> import numpy as np
    >>> import segscore as ss
    >>> p = np.array([0.1, 0.3, 0.6, 0.8, 0.9, 0.95, 0.2, 0.7])  # P(class 1)
    >>> y = np.array([0, 0, 1, 1, 1, 0, 0, 1])
    >>> round(ss.brier(p, y), 4), round(ss.brier(p, y, convention="metricsreloaded"), 4)
    (0.1678, 0.3356)
    >>> round(ss.brier(np.stack([1 - p, p]), y), 4)  # two columns: the same number
    0.1678
    """
    conv = get_convention(convention)
    TABLE.require(conv, "brier", "the Brier score")
    form = conv.brier_form if form is None else form
    if form not in ("auto", "sum"):
        raise ValueError(f"form must be 'auto' or 'sum' (or None for the convention's), got {form!r}")
    rel = _scores_rel(probs, target, class_axis, logits, conv, mask, ignore_label, threads, form, device)
    return _brier_from(rel, form)


def nll(probs, target, n_bins=None, class_axis=0, logits=False, convention="segscore", *, mask=None,
        ignore_label=None, threads=None, device=None) -> float:
    """Negative log-likelihood of the labels: ``-mean log p_label``, natural log.

    No clipping: a zero probability on the true label gives inf.  With ``logits=True`` the
    log-softmax (log-sigmoid for a binary input) is computed stably.  Nothing is binned.

    Parameters
    ----------
    probs : array_like
        Probabilities in [0, 1]: shaped like `target` (a binary task, P(class 1)), or with one
        extra class axis at `class_axis` (``(C, *spatial)`` by default, C >= 2).  float16,
        float32 and float64 are read in place (numpy, torch CPU, ``__array__``; CuPy and torch
        CUDA on their device); other dtypes raise.  NaN or a value outside [0, 1] raises
        (pass logits with ``logits=True``).  Under the segscore convention a (C, ...) input
        scored top-label / positive-class must have class sums of 1 (within 1e-3, 1e-2 for
        float16).
    target : array_like
        Integer labels in [0, C) (0 / 1 or bool for a binary task), the spatial shape.
    n_bins : int, optional
        Accepted for a uniform signature; ignored.
    class_axis : int, default 0
        The class axis of a multi-class `probs` (``-1`` for channels-last).  No batch axis is
        ever guessed.
    logits : bool, default False
        `probs` holds logits: sigmoid (binary) or softmax over `class_axis` is applied
        (computed stably, in the single pass); they must be finite.
    convention : {"segscore", "metricsreloaded"}, default "segscore"
        Only these define the NLL (the same number).
    mask : array_like, optional
        Region of interest, the spatial shape; nonzero voxels are counted.
    ignore_label : int, optional
        Voxels whose label equals it are skipped (and not checked).
    threads : int, optional
        CPU threads; results are bit-identical for any count.
    device : {None, "cpu", "cuda", "cupy"}, optional
        Force a backend; GPU inputs are binned on their device (same numbers as the CPU).

    Returns
    -------
    float
        nan when no voxel is counted.

    Raises
    ------
    ValueError
        The convention does not define the metric (or the option: norm, binning), `probs`
        holds NaN or values outside [0, 1] (without `logits`), labels are outside [0, C),
        shapes do not match, or a (C, ...) input's classes do not sum to 1 (segscore).
    TypeError
        `probs` is not float16/32/64, or `target` is not integer / bool.

    References
    ----------
    .. [1] Gneiting, T. & Raftery, A. E. (2007). Strictly proper scoring rules, prediction, and
        estimation. Journal of the American Statistical Association 102(477), 359-378.
    .. [2] MetricsReloaded ``CalibrationMeasures`` (negative log-likelihood).

    Examples
    --------
    >>> import numpy as np
    >>> import segscore as ss
    >>> p = np.array([0.1, 0.3, 0.6, 0.8, 0.9, 0.95, 0.2, 0.7])  # P(class 1)
    >>> y = np.array([0, 0, 1, 1, 1, 0, 0, 1])
    >>> round(ss.nll(p, y), 4)
    0.6096
    >>> ss.nll(np.array([0.0, 1.0]), np.array([1, 1]))  # p = 0 on the true label
    inf
    """
    conv = get_convention(convention)
    TABLE.require(conv, "nll", "the NLL")
    rel = _scores_rel(probs, target, class_axis, logits, conv, mask, ignore_label, threads, "auto", device)
    return float(rel.nll_sum / rel.scored) if rel.scored else math.nan


# ---------------------------------------------------------------------------
# streaming


class Calibration:
    """Streaming calibration over a test set: only the per-bin sums are kept (O(bins) memory).

    ``update`` adds a case (or a chunk); ``compute`` returns the metrics the convention
    defines from the accumulated sums, equal to one call on everything (counts exactly,
    float sums to rounding, ~1e-15 relative); ``merge`` adds another accumulator's sums (e.g.
    from a worker process); ``reliability`` gives the :class:`Reliability` for a diagram.
    Uniform bins only (equal-mass edges depend on all the data at once).

    Parameters
    ----------
    n_bins : int, optional
        None: the convention's default (segscore 15, torchmetrics 15, monai 20,
        metricsreloaded 10, netcal 10, curvas 50).
    convention : str or CalibrationConvention, default "segscore"
        See :func:`ece` for the rules of each convention.
    class_axis, logits, target_mode, positive_class, ignore_label, include_background, closed, ends, threads, device
        As in :func:`ece`, fixed for every update.
    norm : {"l1", "l2", "max"}, default "l1"
        A norm other than l1 adds ``"ece_<norm>"`` to :meth:`compute`.
    binning : {"uniform"}
        Anything else raises.
    scores : bool, optional
        Also accumulate Brier and NLL sums; None: where the convention defines them.

    Raises
    ------
    ValueError
        Invalid options (as :func:`ece`), equal-mass binning, or an update whose number of
        classes or dtype differs from the earlier ones.

    Methods
    -------
    update(probs, target, mask=None)
        Add one case; returns self.
    merge(other)
        Add another accumulator with the same settings; returns self.
    compute()
        ``{"ece", "rmsce", "mce", "ace", "brier", "nll": float, "voxels": int}``, the
        metrics the convention defines.
    reliability()
        The accumulated :class:`Reliability`.
    reset()
        Forget everything.

    See Also
    --------
    ece, reliability : the one-call forms.

    References
    ----------
    .. [1] Naeini, M. P., Cooper, G. F. & Hauskrecht, M. (2015). Obtaining well calibrated
        probabilities using Bayesian binning. AAAI 2015, 2901-2907.
    .. [2] Guo, C., Pleiss, G., Sun, Y. & Weinberger, K. Q. (2017). On calibration of modern neural
        networks. ICML 2017, 1321-1330.
    .. [3] Peers mirrored by name: torchmetrics 1.9 (``binary_/multiclass_calibration_error``),
        MONAI 1.6.1 (``CalibrationErrorMetric``), MetricsReloaded (``CalibrationMeasures``), netcal
        1.4 (Kueppers et al. 2020), the CURVAS 2024 evaluation; see docs/calibration.md.

    Examples
    --------
    >>> import numpy as np
    >>> import segscore as ss
    >>> p = np.array([0.1, 0.3, 0.6, 0.8, 0.9, 0.95, 0.2, 0.7])  # P(class 1)
    >>> y = np.array([0, 0, 1, 1, 1, 0, 0, 1])
    >>> acc = ss.Calibration(n_bins=5)
    >>> acc.update(p[:4], y[:4]).update(p[4:], y[4:])  # doctest: +ELLIPSIS
    Calibration(convention='segscore', n_bins=5, voxels=8, a binary input of dtype float64 ...)
    >>> out = acc.compute()
    >>> sorted(out)
    ['ace', 'brier', 'ece', 'mce', 'nll', 'rmsce', 'voxels']
    >>> abs(out["ece"] - ss.ece(p, y, n_bins=5)) < 1e-12, out["voxels"]  # as one call
    (True, 8)
    >>> tm = ss.Calibration(convention="torchmetrics").update(p, y)
    >>> {k: round(v, 3) for k, v in tm.compute().items()}
    {'ece': 0.319, 'rmsce': 0.41, 'mce': 0.95, 'voxels': 8}
    """

    def __init__(self, n_bins=None, convention="segscore", *, class_axis=0, logits=False, norm="l1",
                 target_mode=None, positive_class=1, ignore_label=None, include_background=True,
                 binning="uniform", closed=None, ends=None, scores=None, threads=None, device=None):
        self.conv = _edge_rule(get_convention(convention), closed, ends)
        if binning != "uniform":
            raise ValueError("Calibration accumulates uniform bins only: equal-mass edges depend on all the data; "
                             "call ss.ece(..., binning='equal-mass') on the whole data instead")
        self.n_bins = _check_bins(n_bins, self.conv)
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
        if target_mode is not None and target_mode not in MODES:
            raise ValueError(f"target_mode must be one of {MODES} or None, got {target_mode!r}")
        self.class_axis = class_axis
        self.logits = logits
        self.norm = norm
        self.target_mode = target_mode
        self.positive_class = positive_class
        self.ignore_label = _check_ignore(ignore_label)
        self.include_background = include_background
        self.scores = (self.conv.defines("brier") or self.conv.defines("nll")) if scores is None else bool(scores)
        self.threads = check_threads(threads)
        from ..gpu import check_device

        self.device = check_device(device)
        self.reset()

    def reset(self) -> None:
        """Forget every accumulated sum (the settings stay).

        Examples
        --------
        >>> import numpy as np
        >>> import segscore as ss
        >>> acc = ss.Calibration().update(np.array([0.2, 0.9]), np.array([0, 1]))
        >>> acc.reset()
        >>> acc
        Calibration(convention='segscore', n_bins=15, voxels=0)
        """
        self._setup = None
        self._count = self._correct = self._sum = None
        self._voxels = self._scored = 0
        self._brier = self._nll = 0.0

    def _config(self):
        return (self.conv, self.n_bins, self.class_axis, self.logits, self.target_mode, self.positive_class,
                self.ignore_label, self.scores)

    def update(self, probs, target, mask=None) -> "Calibration":
        """Add one case (or chunk).

        Parameters
        ----------
        probs, target, mask : array_like
            As in :func:`ece`.  Every update must have the same number of classes and
            probability dtype.

        Returns
        -------
        Calibration
            self, so that updates chain.

        Raises
        ------
        ValueError
            The input differs in classes or dtype from the earlier updates, or is invalid (as
            :func:`ece`).

        Examples
        --------
        >>> import numpy as np
        >>> import segscore as ss
        >>> p = np.array([0.1, 0.3, 0.6, 0.8, 0.9, 0.95, 0.2, 0.7])  # P(class 1)
        >>> y = np.array([0, 0, 1, 1, 1, 0, 0, 1])
        >>> acc = ss.Calibration(n_bins=5).update(p, y)
        >>> acc.reliability().count
        array([1, 2, 0, 2, 3])
        """
        inp = _prepare(probs, target, mask, self.class_axis, self.logits, self.device)
        setup = _make_setup(self.conv, inp, self.n_bins, "uniform", self.target_mode, self.positive_class,
                            self.logits)
        if self._setup is not None and setup != self._setup:
            raise ValueError(
                f"this update has {self._describe(setup)} but earlier ones had {self._describe(self._setup)}; "
                "every update must have the same number of classes and dtype"
            )
        form = self.conv.brier_form or "auto"
        sum_form = 1 if (form == "sum" and inp.n_classes == 0) else 0
        r = _stats(inp, setup, setup.edges, self.ignore_label, self.threads, self.scores, sum_form)
        if self._setup is None:
            self._setup = setup
            self._count = np.zeros_like(r["count"])
            self._correct = np.zeros_like(r["correct"])
            self._sum = np.zeros_like(r["sum_conf"])
        self._count += r["count"]
        self._correct += r["correct"]
        self._sum += r["sum_conf"]
        self._voxels += int(r["voxels"])
        self._scored += int(r["scored"])
        self._brier += float(r["brier_sum"])
        self._nll += float(r["nll_sum"])
        return self

    @staticmethod
    def _describe(s) -> str:
        kind = "a binary input" if s.n_classes == 0 else f"{s.n_classes} classes"
        return f"{kind} of dtype {s.dtype} (target mode {s.mode})"

    def merge(self, other: "Calibration") -> "Calibration":
        """Add the sums of another accumulator with the same settings.

        Parameters
        ----------
        other : Calibration

        Returns
        -------
        Calibration
            self.

        Raises
        ------
        TypeError
            `other` is not a Calibration.
        ValueError
            The settings (convention, n_bins, class_axis, logits, target_mode, positive_class,
            ignore_label, scores) or the inputs' classes / dtype differ.

        Examples
        --------
        >>> import numpy as np
        >>> import segscore as ss
        >>> p = np.array([0.1, 0.3, 0.6, 0.8, 0.9, 0.95, 0.2, 0.7])  # P(class 1)
        >>> y = np.array([0, 0, 1, 1, 1, 0, 0, 1])
        >>> a = ss.Calibration(n_bins=5).update(p[:4], y[:4])
        >>> b = ss.Calibration(n_bins=5).update(p[4:], y[4:])
        >>> abs(a.merge(b).compute()["ece"] - ss.ece(p, y, n_bins=5)) < 1e-12
        True
        """
        if not isinstance(other, Calibration):
            raise TypeError(f"can only merge another Calibration, got {type(other).__name__}")
        if other._config() != self._config():
            raise ValueError("cannot merge accumulators with different settings (convention, n_bins, class_axis, "
                             "logits, target_mode, positive_class, ignore_label, scores)")
        if other._setup is None:
            return self
        if self._setup is None:
            self._setup = other._setup
            self._count = other._count.copy()
            self._correct = other._correct.copy()
            self._sum = other._sum.copy()
        else:
            if other._setup != self._setup:
                raise ValueError(f"cannot merge {self._describe(other._setup)} into {self._describe(self._setup)}")
            self._count += other._count
            self._correct += other._correct
            self._sum += other._sum
        self._voxels += other._voxels
        self._scored += other._scored
        self._brier += other._brier
        self._nll += other._nll
        return self

    def reliability(self) -> Reliability:
        """The accumulated per-bin statistics, a :class:`Reliability`.

        Returns
        -------
        Reliability

        Raises
        ------
        ValueError
            Nothing was added yet.

        Examples
        --------
        >>> import numpy as np
        >>> import segscore as ss
        >>> p = np.array([0.1, 0.3, 0.6, 0.8, 0.9, 0.95, 0.2, 0.7])  # P(class 1)
        >>> y = np.array([0, 0, 1, 1, 1, 0, 0, 1])
        >>> r = ss.Calibration(n_bins=5).update(p, y).reliability()
        >>> r.count, round(r.ece(), 3)
        (array([1, 2, 0, 2, 3]), 0.244)
        """
        if self._setup is None:
            raise ValueError("no data: call update() first")
        s = self._setup
        one = s.mode != "class-wise"
        classes = tuple(range(s.classes)) if not one else None
        return Reliability(_display_edges(s.edges, self._count.shape[1]), self._count[0] if one else self._count,
                           self._correct[0] if one else self._correct, self._sum[0] if one else self._sum,
                           self._voxels, s.mode, self.conv.name, classes, self._brier, self._nll, self._scored,
                           s.n_classes)

    def compute(self) -> dict:
        """The metrics the convention defines, from the accumulated sums.

        Returns
        -------
        dict
            ``"ece"`` (and ``"rmsce"`` where l2 is defined), ``"mce"``, ``"ace"``, ``"brier"``,
            ``"nll"`` where defined (Brier / NLL only with `scores`), ``"ece_<norm>"`` for a
            non-default `norm`, and ``"voxels"``.

        Raises
        ------
        ValueError
            Nothing was added yet.

        Examples
        --------
        >>> import numpy as np
        >>> import segscore as ss
        >>> p = np.array([0.1, 0.3, 0.6, 0.8, 0.9, 0.95, 0.2, 0.7])  # P(class 1)
        >>> y = np.array([0, 0, 1, 1, 1, 0, 0, 1])
        >>> out = ss.Calibration(convention="monai", n_bins=5).update(p, y).compute()
        >>> sorted(out)
        ['ace', 'ece', 'mce', 'voxels']
        """
        rel = self.reliability()
        out = {}
        c = self.conv
        ib = self.include_background
        if c.defines("ece"):
            out["ece"] = rel.ece("l1" if "l1" in c.norms else c.norms[0], include_background=ib)
            if "l2" in c.norms:
                out["rmsce"] = rel.ece("l2", include_background=ib)
        mr_binary = c.name != "metricsreloaded" or rel.mode == "positive-class"
        if c.defines("mce") and mr_binary:
            out["mce"] = rel.mce(include_background=ib)
        if c.defines("ace"):
            out["ace"] = rel.ace(include_background=ib)
        if self.scores and c.defines("brier"):
            out["brier"] = _brier_from(rel, c.brier_form or "auto")
        if self.scores and c.defines("nll"):
            out["nll"] = float(rel.nll_sum / rel.scored) if rel.scored else math.nan
        if self.norm != "l1" and c.defines("ece") and self.norm in c.norms:
            out[f"ece_{self.norm}"] = rel.ece(self.norm, include_background=ib)
        out["voxels"] = rel.voxels
        return out

    def __repr__(self) -> str:
        return (f"Calibration(convention={self.conv.name!r}, n_bins={self.n_bins}, voxels={self._voxels}"
                f"{'' if self._setup is None else ', ' + self._describe(self._setup)})")

