"""FROC: detection sensitivity against false positives per image, over a dataset.

One entry point, :func:`froc`, for three kinds of input per case (detection points,
probability maps, or already counted true / false positive probabilities) and two
conventions:

``monai``
    MONAI 1.6.1 ``compute_fp_tp_probs_nd`` / ``compute_fp_tp_probs`` (the CAMELYON16 code),
    ``compute_froc_curve_data`` and ``compute_froc_score``.
``luna16``
    The LUNA16 ``noduleCADEvaluationLIDC.computeFROC`` construction (scikit-learn's
    ``roc_curve`` with ``drop_intermediate``; missed targets lower the ceiling) and the CPM,
    the mean sensitivity at 1/8 ... 8 false positives per scan.

The curve is built by sorting the probabilities once and counting with binary searches:
O(n log n) in the number of detections, with no loop over thresholds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from numbers import Integral, Real

import numpy as np

from .._core.validate import as_host_array

__all__ = ["FrocResult", "froc", "CONVENTIONS", "DEFAULT_FP_RATES"]

CONVENTIONS = ("monai", "luna16")
DEFAULT_FP_RATES = {
    "monai": (0.25, 0.5, 1.0, 2.0, 4.0, 8.0),                 # CAMELYON16
    "luna16": (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0),         # CPM
}
PEERS = {
    "monai": "MONAI 1.6.1 monai.metrics.froc (compute_fp_tp_probs_nd, compute_froc_curve_data, compute_froc_score)",
    "luna16": "LUNA16 noduleCADEvaluationLIDC.computeFROC (sklearn.metrics.roc_curve, drop_intermediate) and CPM",
}

_POINT_KEYS = {"probs", "coords", "ref", "evaluation_mask", "labels_to_exclude", "resolution_level"}
_MAP_KEYS = {"prob", "ref", "labels_to_exclude"}
_PRE_KEYS = {"fp_probs", "tp_probs", "num_targets", "num_images"}
_CONNECTIVITY = {1: (2,), 2: (4, 8), 3: (6, 18, 26)}


# ----------------------------------------------------------------------------------------- result
@dataclass(frozen=True, eq=False)
class FrocResult:
    """Result of :func:`froc`: the pooled detections, the curve, the score and its bootstrap CI.

    Attributes
    ----------
    convention : str
        ``"monai"`` or ``"luna16"``.
    fp_probs : numpy.ndarray
        Probabilities of the false-positive detections of all cases, in case order (float64).
    tp_probs : numpy.ndarray
        ``monai``: MONAI's array, per case one entry per label 1..max of the reference
        (float32 from points and maps; 0 for missed and excluded labels), concatenated.
        ``luna16``: the probability of each detected target (float64); missed targets have
        no entry.
    num_targets : int
        Targets (reference lesions not excluded) over all cases.
    num_images : int
        Images (cases) over which the false positives are averaged.
    thresholds : numpy.ndarray
        The probability threshold of each curve point (``inf`` for the point (0, 0)).
    fps_per_image, sensitivity : numpy.ndarray
        The curve, in the peer's order: ``monai`` by increasing threshold, then (0, 0);
        ``luna16`` from (0, 0) by decreasing threshold.
    fp_rates : tuple of float
        The false-positive rates the score averages over.
    sensitivity_at : numpy.ndarray
        Sensitivity linearly interpolated at each of ``fp_rates`` (clamped at the ends).
    score : float
        Mean of ``sensitivity_at`` (the FROC score; LUNA16's CPM).
    n_bootstrap, seed, ci
        The bootstrap settings (``n_bootstrap=0``: none).
    score_ci : tuple of float or None
        Percentile interval of the score over bootstrap resamples of the cases.
    sensitivity_at_ci : numpy.ndarray or None
        Shape ``(len(fp_rates), 2)``: the same interval per rate.
    bootstrap_scores : numpy.ndarray or None
        The score of each resample (NaN where a resample holds no target).
    meta : dict
        The resolved options and the peer the convention mirrors.

    Examples
    --------
    >>> import segscore as ss
    >>> r = ss.froc({"fp_probs": [0.6, 0.3], "tp_probs": [0.9, 0.0], "num_targets": 2, "num_images": 2})
    >>> r.fps_per_image, r.sensitivity
    (array([1. , 0.5, 0. , 0. ]), array([0.5, 0.5, 0.5, 0. ]))
    >>> round(r.score, 6)
    0.5
    """

    convention: str
    fp_probs: np.ndarray
    tp_probs: np.ndarray
    num_targets: int
    num_images: int
    thresholds: np.ndarray
    fps_per_image: np.ndarray
    sensitivity: np.ndarray
    fp_rates: tuple
    sensitivity_at: np.ndarray
    score: float
    n_bootstrap: int = 0
    seed: object = None
    ci: float = 0.95
    score_ci: tuple | None = None
    sensitivity_at_ci: np.ndarray | None = None
    bootstrap_scores: np.ndarray | None = None
    meta: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Plain-Python summary (lists and floats), e.g. for JSON.

        Examples
        --------
        >>> import segscore as ss
        >>> d = ss.froc({"fp_probs": [0.2], "tp_probs": [0.8], "num_targets": 1}).to_dict()
        >>> d["score"], d["fps_per_image"], d["sensitivity"]
        (1.0, [0.0, 0.0], [1.0, 0.0])
        """
        def arr(a):
            return None if a is None else np.asarray(a, dtype=float).tolist()

        return {
            "convention": self.convention, "num_targets": self.num_targets, "num_images": self.num_images,
            "num_fp": int(self.fp_probs.size), "thresholds": arr(self.thresholds),
            "fps_per_image": arr(self.fps_per_image), "sensitivity": arr(self.sensitivity),
            "fp_rates": list(self.fp_rates), "sensitivity_at": arr(self.sensitivity_at), "score": self.score,
            "n_bootstrap": self.n_bootstrap, "seed": self.seed if isinstance(self.seed, int | None) else repr(self.seed),
            "ci": self.ci, "score_ci": None if self.score_ci is None else list(self.score_ci),
            "sensitivity_at_ci": arr(self.sensitivity_at_ci), "meta": dict(self.meta),
        }

    def __repr__(self) -> str:
        ci = "" if self.score_ci is None else f", {self.ci:.0%} CI [{self.score_ci[0]:.4f}, {self.score_ci[1]:.4f}]"
        return (f"FrocResult(convention={self.convention!r}, score={self.score:.6g}{ci}, "
                f"num_targets={self.num_targets}, num_images={self.num_images}, num_fp={self.fp_probs.size}, "
                f"points={self.fps_per_image.size})")


# ------------------------------------------------------------------------------------ one case
@dataclass(frozen=True)
class _Unit:
    """What one case contributes: float64 false-positive probabilities, the MONAI tp array,
    the detected targets' probabilities (float64), target and image counts."""

    fp: np.ndarray
    monai_tp: np.ndarray
    detected: np.ndarray
    num_targets: int
    num_images: int


def _check_probs(p, what: str) -> np.ndarray:
    if p.dtype == bool or p.dtype.kind not in "fiu":
        raise TypeError(f"{what} has dtype {p.dtype}; pass probabilities as a float array")
    if p.size:
        lo, hi = float(np.min(p)), float(np.max(p))  # NaN propagates into both
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise ValueError(f"{what} contains NaN or inf; probabilities must be finite numbers in [0, 1]")
        if lo < 0.0 or hi > 1.0:
            raise ValueError(f"{what} has values in [{lo:g}, {hi:g}]; probabilities must lie in [0, 1] "
                             "(apply a sigmoid or softmax to scores or logits first)")
    return p


def _check_ref(ref, what: str) -> np.ndarray:
    ref = as_host_array(ref, what)
    if ref.dtype == bool:
        return ref
    if ref.dtype.kind not in "iu":
        raise TypeError(f"{what} has dtype {ref.dtype}; the reference must be a labelled integer mask "
                        "(0 = background, 1..n = targets) or a bool mask")
    if ref.size and ref.dtype.kind == "i" and int(ref.min()) < 0:
        raise ValueError(f"{what} contains negative labels; use 0 for background and 1..n for the targets")
    if ref.size and int(ref.max()) >= 2**31:
        raise ValueError(f"{what} contains label {int(ref.max())} >= 2**31; labels must lie in [0, 2**31)")
    return ref


def _vector(x, what: str) -> np.ndarray:
    """A case's per-detection input (list, numpy array, torch tensor on any device, with or
    without grad) as a numpy array; a ragged list is refused naming the input."""
    if type(x).__module__.startswith("torch"):
        x = x.detach().cpu().numpy()
    try:
        return np.asarray(x)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{what} cannot be read as an array ({exc}); pass a list or array of one row per "
                         "detection") from None


def _check_exclude(labels, what: str) -> np.ndarray:
    if labels is None:
        return np.zeros(0, np.int64)
    if isinstance(labels, Integral | np.integer) and not isinstance(labels, bool | np.bool_):
        labels = [labels]                        # one label
    try:
        arr = np.asarray(list(labels) if not isinstance(labels, np.ndarray) else labels)
    except TypeError:
        raise TypeError(f"{what} must be a list of integer labels, got {labels!r}") from None
    if arr.size == 0:
        return np.zeros(0, np.int64)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{what} must be a list of integer labels, got {labels!r}")
    return np.unique(arr.astype(np.int64).ravel())


def _targets_from_hits(hit_labels, hit_probs, ref, exclude, convention, what):
    """Per target, the highest probability of the detections on it, from the reference label
    under each detection.  Returns the MONAI tp array (``monai``: float32, one entry per label
    1..max, 0 for missed and excluded labels; ``luna16``: empty), the float64 maxima of the
    detected targets, and the number of targets: ``monai`` every label 1..max that is not
    excluded (MONAI 1.6.1 counts absent labels too); ``luna16`` the labels present in the
    reference that are not excluded."""
    max_label = int(ref.max()) if ref.size else 0
    excl = exclude[(exclude >= 1) & (exclude <= max_label)]
    if convention == "monai":
        num_targets = int(max_label - excl.size)
    else:
        present = np.unique(ref[ref > 0]).astype(np.int64)
        num_targets = int(present.size - np.isin(present, excl).sum())
    keep = (hit_labels > 0) & ~np.isin(hit_labels, excl)
    lab, p = hit_labels[keep].astype(np.int64), hit_probs[keep]
    if lab.size:
        order = np.lexsort((-p, lab))            # by label, highest probability first
        lab, p = lab[order], p[order]
        first = np.r_[True, lab[1:] != lab[:-1]]
        lab, best = lab[first], p[first]
    else:
        best = np.zeros(0, np.float64)
    if convention != "monai":
        return np.zeros(0, np.float32), best.astype(np.float64), num_targets
    if max_label > 2**26:
        raise ValueError(f"{what}: the reference's largest label is {max_label}; the monai convention keeps one "
                         "entry per label 1..max (as MONAI does), so relabel the targets consecutively (1..n) first")
    monai_tp = np.zeros(max_label, np.float32)
    monai_tp[lab - 1] = best                    # float64 -> float32, as MONAI assigns into its array
    return monai_tp, best.astype(np.float64), num_targets


def _point_unit(case, i, convention):
    what = f"cases[{i}]"
    unknown = set(case) - _POINT_KEYS
    if unknown:
        raise ValueError(f"{what} has unknown keys {sorted(unknown)}; a detection-point case takes "
                         f"{sorted(_POINT_KEYS - {'evaluation_mask'})}")
    if "ref" in case and "evaluation_mask" in case:
        raise ValueError(f"{what} gives both 'ref' and 'evaluation_mask' (the same thing); give one")
    if "ref" not in case and "evaluation_mask" not in case:
        raise ValueError(f"{what} has probs and coords but no 'ref' (the labelled reference mask)")
    ref = _check_ref(case["ref"] if "ref" in case else case["evaluation_mask"], f"{what}['ref']")
    probs = _vector(case["probs"], f"{what}['probs']")
    if probs.ndim != 1:
        raise ValueError(f"{what}['probs'] must be 1-D (one probability per detection), got shape {probs.shape}")
    probs = _check_probs(probs, f"{what}['probs']")
    coords = _vector(case["coords"], f"{what}['coords']")
    if coords.size == 0:
        coords = coords.reshape(0, ref.ndim)
    if coords.ndim != 2 or coords.shape[1] != ref.ndim:
        raise ValueError(f"{what}['coords'] must have shape (n, {ref.ndim}) (one row of {ref.ndim} indices per "
                         f"detection, in the reference's axis order), got shape {coords.shape}")
    if coords.shape[0] != probs.shape[0]:
        raise ValueError(f"{what} has {probs.shape[0]} probabilities but {coords.shape[0]} coordinates")
    if coords.dtype == bool or coords.dtype.kind not in "fiu":
        raise TypeError(f"{what}['coords'] has dtype {coords.dtype}; pass integer voxel indices")
    level = case.get("resolution_level")
    if level is not None:
        if isinstance(level, bool) or not isinstance(level, Integral) or level < 0:
            raise ValueError(f"{what}['resolution_level'] must be an integer >= 0, got {level!r}")
        if coords.dtype.kind == "f" and not np.isfinite(coords).all():
            raise ValueError(f"{what}['coords'] contains NaN or inf")
        # MONAI compute_fp_tp_probs: divide by 2**level, truncate (an exact power-of-two scaling;
        # levels past the float64 exponent range give 0 as the division would)
        coords = np.trunc(np.ldexp(coords.astype(np.float64), -min(int(level), 4096)))
    elif coords.dtype.kind == "f":
        if not np.isfinite(coords).all() or np.any(coords != np.trunc(coords)):
            raise ValueError(f"{what}['coords'] holds non-integer values; pass voxel indices (or give "
                             "'resolution_level' to scale and truncate them as MONAI's compute_fp_tp_probs does)")
    if coords.size:  # in the coordinates' own type, before any cast can wrap a huge value
        bad = np.any((coords < 0) | (coords >= np.asarray(ref.shape)), axis=1)
        if bad.any():
            j = int(np.flatnonzero(bad)[0])
            row = coords[j].tolist()
            if coords.dtype.kind == "f":
                row = [int(c) if c.is_integer() and abs(c) < 2**53 else c for c in row]
            raise ValueError(f"{what}['coords'][{j}] = {row} lies outside the reference of shape "
                             f"{ref.shape} ({int(bad.sum())} detections outside); indices must satisfy "
                             "0 <= c < shape on every axis")
    coords = coords.astype(np.int64, copy=False)
    hit = ref[tuple(coords.T)] if coords.size else np.zeros(0, ref.dtype)
    fp = probs[hit == 0].astype(np.float64)
    exclude = _check_exclude(case.get("labels_to_exclude"), f"{what}['labels_to_exclude']")
    monai_tp, detected, num_targets = _targets_from_hits(hit.astype(np.int64), probs.astype(np.float64),
                                                         ref, exclude, convention, what)
    return _Unit(fp, monai_tp, detected, num_targets, 1)


def _label(mask: np.ndarray, connectivity: int):
    """Connected components (ids 1..n, numbered by first voxel in C raster order) of a bool
    mask, by :func:`segscore.connected_components`; a 1-D mask is labelled as one row."""
    from .components import connected_components

    if mask.ndim == 1:
        lab, n = connected_components(mask.reshape(1, -1), 8)
        return lab.reshape(mask.shape), int(n)
    lab, n = connected_components(mask, connectivity)
    return lab, int(n)


def _check_connectivity(connectivity, ndim, what):
    allowed = _CONNECTIVITY.get(ndim)
    if allowed is None:
        raise ValueError(f"{what}: probability maps must be 1-D, 2-D or 3-D, got {ndim}-D")
    if connectivity is None:
        return allowed[-1]
    if isinstance(connectivity, str):
        names = {"full": allowed[-1], "face": allowed[0]}
        if ndim == 3:
            names["edge"] = 18
        if connectivity.lower() not in names:
            raise ValueError(f"connectivity={connectivity!r} does not fit a {ndim}-D image; use one of "
                             f"{sorted(names)} or {allowed}")
        return names[connectivity.lower()]
    if isinstance(connectivity, bool) or not isinstance(connectivity, Integral) or int(connectivity) not in allowed:
        raise ValueError(f"connectivity={connectivity!r} does not fit a {ndim}-D image; use one of {allowed} "
                         "(or None for full connectivity)")
    return int(connectivity)


def _map_unit(case, i, threshold, hit, connectivity, convention):
    what = f"cases[{i}]"
    unknown = set(case) - _MAP_KEYS
    if unknown:
        raise ValueError(f"{what} has unknown keys {sorted(unknown)}; a probability-map case takes {sorted(_MAP_KEYS)}")
    prob = as_host_array(case["prob"], f"{what}['prob']")
    ref = _check_ref(case["ref"], f"{what}['ref']")
    if prob.shape != ref.shape:
        raise ValueError(f"{what}: 'prob' has shape {prob.shape} but 'ref' has shape {ref.shape}; they must match "
                         "(one probability per voxel of the reference; no channel axis)")
    prob = _check_probs(prob, f"{what}['prob']")
    conn = _check_connectivity(connectivity, prob.ndim, what)
    comps, n = _label(prob > threshold, conn)
    if ref.dtype == bool:
        ref, _ = _label(ref, conn)
    exclude = _check_exclude(case.get("labels_to_exclude"), f"{what}['labels_to_exclude']")
    max_label = int(ref.max()) if ref.size else 0
    flat_c = comps.reshape(-1)
    fg = np.flatnonzero(flat_c)
    c = flat_c[fg].astype(np.int64)
    p = prob.reshape(-1)[fg].astype(np.float64)
    # per component: the highest probability, at its first voxel in C order
    order = np.lexsort((fg, -p, c))
    first = np.r_[True, c[order][1:] != c[order][:-1]] if order.size else np.zeros(0, bool)
    sel = order[first]
    conf = p[sel]                                   # component ids 1..n in order
    r = ref.reshape(-1)[fg].astype(np.int64)
    if hit == "point":
        hit_labels = r[sel]
        fp = conf[hit_labels == 0]
        monai_tp, detected, num_targets = _targets_from_hits(hit_labels, conf, ref, exclude, convention, what)
    else:
        on = r > 0
        pairs = np.unique(c[on] * (max_label + 1) + r[on])
        pc, pr = pairs // (max_label + 1), pairs % (max_label + 1)
        touched = np.zeros(n + 1, bool)
        touched[pc] = True
        fp = conf[~touched[1:]]
        monai_tp, detected, num_targets = _targets_from_hits(pr, conf[pc - 1], ref, exclude, convention, what)
    return _Unit(fp.astype(np.float64), monai_tp, detected, num_targets, 1)


def map_counts(prob, ref, *, threshold=0.5, hit="point", convention="monai", connectivity=None) -> dict:
    """The FROC counts of one probability-map case, as :func:`froc` gathers them.

    Within the package (the dataset scorer stores them per case, so that a dataset's FROC
    is :func:`froc` over the stored counts): one case of ``froc([{"prob": prob, "ref":
    ref}], ...)`` before any curve is drawn.

    Parameters
    ----------
    prob : array_like
        Foreground probabilities in [0, 1], one per voxel.
    ref : array_like
        Reference: a bool mask (its components are the targets) or a label map (each
        label > 0 is one target).
    threshold, hit, convention, connectivity
        As in :func:`froc`: candidates are the components of ``prob > threshold``;
        ``hit="point"``: a candidate hits the target under its highest-probability voxel,
        ``"overlap"``: every target it touches.

    Returns
    -------
    dict
        ``fp`` (list of float: the probability of each candidate that hits nothing),
        ``monai_tp`` (list of float: MONAI's per-target probability, 0 for a missed or
        excluded target; ``convention="monai"`` only, else empty), ``detected`` (list of
        float: the best probability of each detected target) and ``num_targets`` (int).
        An empty ``prob > threshold`` gives no ``fp`` and nothing ``detected``.

    Examples
    --------
    >>> import numpy as np
    >>> from segscore.lesion.froc import map_counts
    >>> ref = np.zeros((8, 8), bool); ref[1:3, 1:3] = True; ref[5:7, 5:7] = True
    >>> prob = np.zeros((8, 8)); prob[1:3, 1:3] = 0.9; prob[0, 6] = 0.7
    >>> c = map_counts(prob, ref)
    >>> c["fp"], c["detected"], c["num_targets"]
    ([0.7], [0.9], 2)
    """
    u = _map_unit({"prob": prob, "ref": ref}, 0, float(threshold), hit, connectivity, convention)
    mt = [] if u.monai_tp is None else np.asarray(u.monai_tp, np.float64).tolist()
    return {"fp": u.fp.tolist(), "monai_tp": mt, "detected": u.detected.tolist(),
            "num_targets": int(u.num_targets)}


def _pre_unit(case, i, convention):
    what = f"cases[{i}]"
    unknown = set(case) - _PRE_KEYS
    if unknown:
        raise ValueError(f"{what} has unknown keys {sorted(unknown)}; a precomputed case takes {sorted(_PRE_KEYS)}")
    missing = {"fp_probs", "tp_probs", "num_targets"} - set(case)
    if missing:
        raise ValueError(f"{what} is missing {sorted(missing)}; a precomputed case needs fp_probs, tp_probs, "
                         "num_targets (and num_images, default 1)")
    fp = _vector(case["fp_probs"], f"{what}['fp_probs']")
    tp = _vector(case["tp_probs"], f"{what}['tp_probs']")
    if fp.size == 0:
        fp = fp.reshape(0).astype(np.float64)
    if tp.size == 0:
        tp = tp.reshape(0).astype(np.float64)
    for name, a in (("fp_probs", fp), ("tp_probs", tp)):
        if a.ndim != 1:
            raise ValueError(f"{what}['{name}'] must be 1-D, got shape {a.shape}")
        _check_probs(a, f"{what}['{name}']")
    nt, ni = case["num_targets"], case.get("num_images", 1)
    for name, v, lo in (("num_targets", nt, 0), ("num_images", ni, 1)):
        if isinstance(v, bool) or not isinstance(v, Integral | np.integer) or int(v) < lo:
            raise ValueError(f"{what}['{name}'] must be an integer >= {lo}, got {v!r}")
    nt, ni = int(nt), int(ni)
    if convention == "luna16" and tp.size > nt:
        raise ValueError(f"{what}: {tp.size} tp_probs but num_targets={nt}; under convention='luna16' tp_probs "
                         "lists the probability of each detected target once (missed targets have no entry)")
    if convention == "monai" and np.count_nonzero(tp) > nt:
        raise ValueError(f"{what}: {np.count_nonzero(tp)} nonzero tp_probs but num_targets={nt}; a sensitivity "
                         "above 1 would follow. tp_probs holds one entry per target label (0 for missed and "
                         "excluded labels), as MONAI's compute_fp_tp_probs returns it")
    tp_keep = tp if tp.dtype.kind == "f" else tp.astype(np.float64)
    return _Unit(fp.astype(np.float64), tp_keep, tp.astype(np.float64), nt, ni)


def _units(cases, convention, threshold, hit, connectivity):
    if isinstance(cases, Mapping):
        cases = [cases]
    elif isinstance(cases, np.ndarray | str | bytes):
        raise TypeError("cases must be a dict or a sequence of dicts (one per case)")
    try:
        cases = list(cases)
    except TypeError:
        raise TypeError(f"cases must be a dict or a sequence of dicts (one per case), got {type(cases).__name__}") from None
    if not cases:
        raise ValueError("froc needs at least one case; got an empty sequence")
    units, kinds = [], set()
    for i, case in enumerate(cases):
        if not isinstance(case, Mapping):
            raise TypeError(f"cases[{i}] is a {type(case).__name__}; each case must be a dict")
        if "probs" in case or "coords" in case:
            if hit == "overlap":
                raise ValueError(f"cases[{i}] holds detection points; hit='overlap' needs probability maps "
                                 "({'prob', 'ref'})")
            units.append(_point_unit(case, i, convention))
            kinds.add("points")
        elif "prob" in case:
            units.append(_map_unit(case, i, threshold, hit, connectivity, convention))
            kinds.add("maps")
        elif "fp_probs" in case or "tp_probs" in case:
            units.append(_pre_unit(case, i, convention))
            kinds.add("precomputed")
        else:
            raise ValueError(f"cases[{i}] has keys {sorted(case)}; give detection points {{probs, coords, ref}}, "
                             "a probability map {prob, ref}, or precomputed {fp_probs, tp_probs, num_targets, "
                             "num_images}")
    return units, sorted(kinds)


# ------------------------------------------------------------------------------------- curves
def _counts_at_values(fp: np.ndarray, tp: np.ndarray):
    """The distinct values of fp and tp (ascending) and, at each, how many fp and how many tp
    are >= it.  One sort: probabilities are >= 0, so their float64 bit patterns sort like the
    numbers; the lowest bit of the key marks a tp.  Then suffix counts at each value's first
    position."""
    vals = np.concatenate([fp.astype(np.float64), tp.astype(np.float64)]) + 0.0   # -0.0 -> 0.0
    key = vals.view(np.uint64) << np.uint64(1)
    key[fp.size:] |= np.uint64(1)
    key.sort()
    is_tp = (key & np.uint64(1)).astype(np.int64)
    v = (key >> np.uint64(1)).view(np.float64)
    first = np.flatnonzero(np.r_[True, v[1:] != v[:-1]]) if v.size else np.zeros(0, np.intp)
    tp_ge = np.cumsum(is_tp[::-1])[::-1]                      # tp at positions >= i
    n_ge = v.size - np.arange(v.size)
    return v[first], (n_ge - tp_ge)[first], tp_ge[first]


def _monai_from_counts(values, fp_ge, tp_ge, num_targets, num_images):
    thr = values[1:]                                           # the distinct values but the lowest
    total_fps = np.append(fp_ge[1:], 0).astype(np.int64)
    total_tps = np.append(tp_ge[1:], 0).astype(np.int64)
    fps_per_image = total_fps / float(num_images)
    sens = total_tps / float(num_targets)
    return np.append(thr, np.inf), fps_per_image, sens


def _luna16_from_counts(values, fp_ge, tp_ge, num_targets, num_images):
    n_fp = int(fp_ge[0]) if values.size else 0
    n_det = int(tp_ge[0]) if values.size else 0
    n_cand = n_det + n_fp
    if n_cand == 0:
        return np.array([np.inf]), np.zeros(1), np.zeros(1)
    thr = values[::-1]                                         # distinct scores, decreasing
    tps = tp_ge[::-1].astype(np.float64)
    fps = fp_ge[::-1].astype(np.float64)
    if fps.shape[0] > 2:                                       # roc_curve(drop_intermediate=True)
        keep = np.flatnonzero(np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True])
        fps, tps, thr = fps[keep], tps[keep], thr[keep]
    tps, fps, thr = np.r_[0.0, tps], np.r_[0.0, fps], np.r_[np.inf, thr]
    fpr = fps / fps[-1] if fps[-1] > 0 else np.full(fps.shape, np.nan)
    if n_fp == 0:                                               # LUNA16: "this system has no false positives"
        fps_per_scan = np.zeros(fpr.shape)
    else:
        fps_per_scan = fpr * (n_cand - n_det) / num_images
    if n_det == 0:                                              # nothing detected: sensitivity 0 (the script: NaN)
        sens = np.zeros(tps.shape)
    else:
        tpr = tps / tps[-1]
        sens = (tpr * n_det) / num_targets
    return thr, fps_per_scan, sens


_FROM_COUNTS = {"monai": _monai_from_counts, "luna16": _luna16_from_counts}


def _tp_of(convention, u):
    return u.monai_tp if convention == "monai" else u.detected


def _curve(convention, units):
    fp = np.concatenate([u.fp for u in units])
    nt = sum(u.num_targets for u in units)
    ni = sum(u.num_images for u in units)
    tp = np.concatenate([_tp_of(convention, u) for u in units])
    if nt == 0:
        return fp, tp, nt, ni, None
    return fp, tp, nt, ni, _FROM_COUNTS[convention](*_counts_at_values(fp, tp), nt, ni)


def _bootstrap(convention, units, rates, n_bootstrap, seed):
    """Scores (and sensitivities at `rates`) of `n_bootstrap` resamples of the units, each drawn
    as ``rng.integers(0, n, size=n)``.  The values are ranked once over all units; a resample
    only reweights the per-rank counts by how often each unit was drawn (bincount, suffix sums),
    which gives exactly the counts a fresh sort of the resample would: O(detections) each."""
    n = len(units)
    fps = [u.fp for u in units]
    tps = [_tp_of(convention, u) for u in units]
    fp_all = np.concatenate(fps).astype(np.float64) + 0.0
    tp_all = np.concatenate(tps).astype(np.float64) + 0.0
    fp_unit = np.repeat(np.arange(n), [f.size for f in fps])
    tp_unit = np.repeat(np.arange(n), [t.size for t in tps])
    values, inv = np.unique(np.concatenate([fp_all, tp_all]), return_inverse=True)
    fp_rank, tp_rank = inv[:fp_all.size], inv[fp_all.size:]
    d = values.size
    targets = np.array([u.num_targets for u in units], np.int64)
    images = np.array([u.num_images for u in units], np.int64)
    rng = np.random.default_rng(seed)
    boot = np.empty(n_bootstrap)
    boot_at = np.empty((n_bootstrap, rates.size))
    for b in range(n_bootstrap):
        w = np.bincount(rng.integers(0, n, size=n), minlength=n)
        nt, ni = int(w @ targets), int(w @ images)
        if nt == 0:
            boot[b], boot_at[b] = np.nan, np.nan
            continue
        fc = np.bincount(fp_rank, weights=w[fp_unit], minlength=d)
        tc = np.bincount(tp_rank, weights=w[tp_unit], minlength=d)
        present = (fc + tc) > 0
        fp_ge = np.cumsum(fc[::-1])[::-1][present].astype(np.int64)
        tp_ge = np.cumsum(tc[::-1])[::-1][present].astype(np.int64)
        _, f, s = _FROM_COUNTS[convention](values[present], fp_ge, tp_ge, nt, ni)
        boot_at[b], boot[b] = _score(convention, f, s, rates)
    return boot, boot_at


def _score(convention, fps, sens, rates):
    if convention == "monai":
        at = np.interp(rates, fps[::-1], sens[::-1])
    else:
        at = np.interp(rates, fps, sens)
    return at, float(np.mean(at))


# ---------------------------------------------------------------------------------------- API
def froc(cases, *, convention="monai", fp_rates=None, threshold=0.5, hit="point", connectivity=None,
         n_bootstrap=0, seed=None, ci=0.95) -> FrocResult:
    """Free-response ROC over a dataset: the curve, the FROC score (CPM) and a bootstrap CI.

    Parameters
    ----------
    cases : dict or sequence of dict
        One dict per case (image), of one of three kinds, which may be mixed:

        * detection points ``{"probs", "coords", "ref"}`` (MONAI's inputs): ``probs`` shape
          ``(n,)``; ``coords`` shape ``(n, ref.ndim)``, voxel indices in the reference's axis
          order; ``ref`` the labelled reference (0 background, 1..m targets; a bool mask is one
          target). Optional ``labels_to_exclude`` (labels that are neither targets nor false
          positives) and ``resolution_level`` (coords are divided by ``2**level`` and truncated,
          as MONAI's ``compute_fp_tp_probs`` does; without it coords must be whole numbers).
          ``evaluation_mask`` is accepted for ``ref``.
        * probability maps ``{"prob", "ref"}``: the detections are the connected components of
          ``prob > threshold`` (``connectivity``), each with confidence = its highest
          probability. ``ref`` is labelled (integer) or a bool mask, whose components (same
          connectivity) are then the targets. Optional ``labels_to_exclude``.
        * precomputed ``{"fp_probs", "tp_probs", "num_targets", "num_images"}``
          (``num_images`` default 1). ``monai``: ``tp_probs`` as MONAI returns it (0 for missed
          targets). ``luna16``: ``tp_probs`` holds only the detected targets' probabilities.

        Probabilities must be finite and in [0, 1].
    convention : {"monai", "luna16"}
        ``"monai"`` (MONAI 1.6.1 ``monai.metrics.froc``): a detection is a TP for label ``l``
        when the reference holds ``l`` at its point; per target the highest probability of its
        hits is kept, rounded to float32; other hits on the target are ignored; points on
        background are FPs; points on excluded labels are ignored; every label 1..max of each
        case's reference that is not excluded is a target (also when absent from the mask);
        the thresholds are the distinct values of all fp and tp probabilities except the
        lowest; at threshold t, FPs/image = #(fp >= t) / num_images and sensitivity =
        #(tp >= t) / num_targets; then the point (0, 0); the score is the mean of
        ``np.interp(fp_rates, fps[::-1], sens[::-1])``.
        ``"luna16"`` (LUNA16 ``computeFROC``): the same hits (float64, no rounding); the
        targets are the labels present in each reference (not excluded); the candidates are the detected targets (positives) and the FPs (negatives); the curve is
        scikit-learn's ``roc_curve`` of them (``drop_intermediate=True``, a first point at
        threshold inf), FPs/scan = fpr * #FP / num_images (0 everywhere when there is no FP)
        and sensitivity = tpr * #detected / num_targets, so missed targets lower the ceiling;
        the score (CPM) is the mean of ``np.interp(fp_rates, fps, sens)``.
    fp_rates : sequence of float, optional
        False positives per image at which the sensitivity is read. Default ``monai``
        (0.25, 0.5, 1, 2, 4, 8); ``luna16`` (1/8, 1/4, 1/2, 1, 2, 4, 8).
    threshold : float
        Probability maps only: voxels with ``prob > threshold`` form the detections.
    hit : {"point", "overlap"}
        Probability maps only. ``"point"``: a component hits the target under its first
        (C-order) voxel of highest probability, as if that voxel were a MONAI detection point.
        ``"overlap"``: a component hits every target it shares a voxel with; it is a FP when
        it touches no reference label at all.
    connectivity : int or {"full", "edge", "face"}, optional
        Probability maps only: 4 / 8 (2-D), 6 / 18 / 26 (3-D), 2 (1-D); default full
        (8 / 26). The components come from :func:`segscore.connected_components`.
    n_bootstrap : int
        Number of bootstrap resamples of the cases (with replacement; each case keeps its
        detections, targets and image count). 0: no CI.
    seed : int or numpy.random.SeedSequence, optional
        Seed of ``numpy.random.default_rng`` for the resamples; the same seed gives the same CI.
    ci : float
        Coverage of the percentile interval (default 0.95).

    Returns
    -------
    FrocResult
        ``fp_probs``, ``tp_probs``, ``num_targets``, ``num_images``, ``thresholds``,
        ``fps_per_image``, ``sensitivity``, ``sensitivity_at``, ``score`` and, with
        ``n_bootstrap > 0``, ``score_ci``, ``sensitivity_at_ci``, ``bootstrap_scores``.

    Raises
    ------
    ValueError
        No case, no target in the whole dataset (sensitivity undefined; MONAI would divide by
        zero), coordinates outside the image, shapes that do not match, probabilities outside
        [0, 1] or not finite, unknown keys, options out of range.

    Notes
    -----
    Empty cases are fine: a case without detections adds its targets (all missed) and one
    image; a case with an empty reference adds only false positives. Differences from the
    peers, all where they give no number: ``luna16`` with no detected target gives
    sensitivity 0 (the script: NaN); neither convention accepts negative or out-of-image
    coordinates (MONAI indexes from the end of the axis). Cost: one sort of the detections
    per curve (O(n log n)); probability maps add one labelling pass and one sort of the
    foreground voxels per case.

    References
    ----------
    MONAI 1.6.1, ``monai/metrics/froc.py`` (from the CAMELYON16 evaluation code).
    A. A. A. Setio et al., "Validation, comparison, and combination of algorithms for
    automatic detection of pulmonary nodules in computed tomography images: the LUNA16
    challenge", Medical Image Analysis 42 (2017), and its ``noduleCADEvaluationLIDC.py``.

    Examples
    --------
    Detection points on one 2-D image with two targets:

    >>> import numpy as np
    >>> import segscore as ss
    >>> ref = np.zeros((8, 8), np.int32); ref[1:3, 1:3] = 1; ref[5:7, 5:7] = 2
    >>> case = {"probs": np.array([0.9, 0.8, 0.4, 0.3]),
    ...         "coords": np.array([[1, 1], [6, 6], [4, 0], [0, 7]]), "ref": ref}
    >>> r = ss.froc(case)
    >>> r.fps_per_image, r.sensitivity
    (array([1., 0., 0., 0.]), array([1. , 1. , 0.5, 0. ]))
    >>> r.score
    1.0
    >>> ss.froc(case, convention="luna16").score
    1.0

    A probability map: one component on target 1 (confidence 0.7), one on background (0.6):

    >>> prob = np.zeros((8, 8)); prob[1:3, 1:3] = 0.7; prob[4, 4] = 0.6
    >>> r = ss.froc({"prob": prob, "ref": ref})
    >>> r.fp_probs, r.tp_probs
    (array([0.6]), array([0.7, 0. ], dtype=float32))
    >>> r.sensitivity
    array([0.5, 0.5, 0. ])

    A bootstrap CI over cases, reproducible with a seed:

    >>> cases = [{"fp_probs": [0.2 * k], "tp_probs": [0.5 + 0.1 * k], "num_targets": 2} for k in range(5)]
    >>> a = ss.froc(cases, n_bootstrap=200, seed=0)
    >>> b = ss.froc(cases, n_bootstrap=200, seed=0)
    >>> a.score_ci == b.score_ci
    True
    """
    if convention not in CONVENTIONS:
        raise ValueError(f"convention={convention!r} is not a FROC convention; use one of {CONVENTIONS}")
    if hit not in ("point", "overlap"):
        raise ValueError(f"hit={hit!r}; use 'point' (MONAI-compatible) or 'overlap'")
    if isinstance(threshold, bool) or not isinstance(threshold, Real) or not (0.0 <= float(threshold) < 1.0):
        raise ValueError(f"threshold={threshold!r}; the probability-map threshold must be a number in [0, 1)")
    rates = DEFAULT_FP_RATES[convention] if fp_rates is None else fp_rates
    try:
        rates_arr = np.asarray(rates, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise TypeError(f"fp_rates must be a sequence of numbers, got {fp_rates!r}") from None
    if rates_arr.size == 0 or not np.isfinite(rates_arr).all() or (rates_arr < 0).any():
        raise ValueError(f"fp_rates={fp_rates!r}; give one or more finite false-positive rates >= 0")
    rates = tuple(float(x) for x in rates_arr)
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, Integral) or n_bootstrap < 0:
        raise ValueError(f"n_bootstrap={n_bootstrap!r}; give an integer >= 0 (0: no bootstrap)")
    if isinstance(ci, bool) or not isinstance(ci, Real) or not (0.0 < float(ci) < 1.0):
        raise ValueError(f"ci={ci!r}; give the interval's coverage in (0, 1), e.g. 0.95")

    units, kinds = _units(cases, convention, float(threshold), hit, connectivity)
    fp, tp, nt, ni, curve = _curve(convention, units)
    if curve is None:
        raise ValueError("the cases hold no target (no reference label that is not excluded); FROC sensitivity "
                         "is undefined. Check the references (labelled masks, 1..n) and labels_to_exclude")
    thresholds, fps, sens = curve
    at, score = _score(convention, fps, sens, rates_arr)

    score_ci = at_ci = boot = None
    if n_bootstrap:
        boot, boot_at = _bootstrap(convention, units, rates_arr, int(n_bootstrap), seed)
        q = (100 * (1 - float(ci)) / 2, 100 * (1 + float(ci)) / 2)
        ok = np.isfinite(boot)
        if ok.any():
            lo, hi = np.percentile(boot[ok], q)
            score_ci = (float(lo), float(hi))
            at_ci = np.percentile(boot_at[ok], q, axis=0).T
        else:
            score_ci = (math.nan, math.nan)
            at_ci = np.full((rates_arr.size, 2), np.nan)

    meta = {"convention": convention, "peer": PEERS[convention], "inputs": kinds, "fp_rates": rates,
            "n_cases": len(units)}
    if "maps" in kinds:
        meta.update(threshold=float(threshold), hit=hit,
                    connectivity=connectivity if connectivity is not None else "full")
    return FrocResult(convention=convention, fp_probs=fp, tp_probs=tp, num_targets=nt, num_images=ni,
                      thresholds=thresholds, fps_per_image=fps, sensitivity=sens, fp_rates=rates,
                      sensitivity_at=at, score=score, n_bootstrap=int(n_bootstrap), seed=seed, ci=float(ci),
                      score_ci=score_ci, sensitivity_at_ci=at_ci, bootstrap_scores=boot, meta=meta)
