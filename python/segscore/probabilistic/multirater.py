"""Multi-rater scoring: consensus masks, consensus Dice, per-rater metrics, generalized
energy distance and soft Dice against the rater-mean map.

Raters are K maps of one shape, all bool masks or all integer label maps (a list, or one
array stacked on axis 0).  For label maps, ``labels=None`` means the non-zero labels
present in any rater (or in the prediction, where there is one).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from . import raters as R
from .._core import validate as V
from .._core.backends import cpu, resolve_threads
from ..metrics.case import _parse_labels
from .onepass import rater_pass


class ConsensusMasks(NamedTuple):
    """Per-voxel agreement of the raters on one label (bool arrays of the rater shape).

    A named tuple returned by :func:`consensus`.

    Attributes
    ----------
    foreground : ndarray of bool
        Every rater marks the label.
    background : ndarray of bool
        No rater marks it.
    dissensus : ndarray of bool
        The raters disagree (neither of the two).

    Examples
    --------
    >>> import numpy as np
    >>> import segscore as ss
    >>> r1 = np.array([[0, 1, 1, 0], [0, 1, 1, 0]], bool)
    >>> r2 = np.array([[0, 1, 1, 1], [0, 1, 1, 0]], bool)
    >>> r3 = np.array([[1, 1, 1, 0], [0, 1, 0, 0]], bool)
    >>> pred = np.array([[0, 1, 1, 1], [0, 1, 0, 0]], bool)
    >>> fg, bg, dis = ss.consensus([r1, r2, r3])
    >>> fg.astype(int)
    array([[0, 1, 1, 0],
           [0, 1, 0, 0]])
    >>> int(dis.sum())
    3
    """

    foreground: np.ndarray
    background: np.ndarray
    dissensus: np.ndarray


def _regions(maps, is_mask, labels, threads, extra=(), extra_names=(), name="raters"):
    """{key: members or None} for the raters (plus `extra` label maps for labels=None).

    Label maps are validated here (one counting pass each): a label outside [0, 2**31)
    is reported under the map's name (raters[k], or `extra_names`)."""
    if is_mask:
        if labels is not None:
            raise ValueError("labels= applies to integer label maps; bool masks have one region")
        return {1: None}
    present = R.present_labels(list(maps) + list(extra), threads, R.rater_names(maps, name) + list(extra_names))
    if labels is None:
        return {v: (v,) for v in present}
    return _parse_labels(labels, -1)


def _votes(maps, members) -> np.ndarray:
    n = np.zeros(maps[0].shape, dtype=np.uint16 if len(maps) < 65535 else np.uint32)
    for r in maps:
        n += R.region_mask(r, members)
    return n


def consensus(raters, labels=None, threads=None):
    """Consensus foreground, consensus background and dissensus masks of several raters.

    For each label: foreground = every rater marks it, background = no rater marks it,
    dissensus = the rest (the CURVAS 2024 consensus regions).

    Parameters
    ----------
    raters : sequence of array_like or array_like
        K rater maps of one shape, all bool masks or all integer label maps (a list, or one
        array stacked on axis 0).
    labels : int, sequence or dict, optional
        Label maps only: as in :func:`segscore.dice` (tuples are union regions); None:
        every non-zero label present in any rater (or in the prediction).
    threads : int, optional
        CPU threads for the counting passes.

    Returns
    -------
    ConsensusMasks or dict
        One :class:`ConsensusMasks` for bool masks, else ``{label: ConsensusMasks}``.

    Raises
    ------
    ValueError
        Rater shapes differ, no rater is given, or `labels` is given for bool masks.
    TypeError
        Bool masks mixed with label maps.

    References
    ----------
    .. [1] CURVAS 2024 challenge (MICCAI 2024), evaluation code: SYCAI-Technologies/curvas-
        challenge, CURVAS_2024/evaluation_metrics/metrics.py.

    Examples
    --------
    >>> import numpy as np
    >>> import segscore as ss
    >>> r1 = np.array([[0, 1, 1, 0], [0, 1, 1, 0]], bool)
    >>> r2 = np.array([[0, 1, 1, 1], [0, 1, 1, 0]], bool)
    >>> r3 = np.array([[1, 1, 1, 0], [0, 1, 0, 0]], bool)
    >>> pred = np.array([[0, 1, 1, 1], [0, 1, 0, 0]], bool)
    >>> c = ss.consensus([r1, r2, r3])
    >>> c.dissensus.astype(int)
    array([[1, 0, 0, 1],
           [0, 0, 1, 0]])
    >>> lab = [np.array([[0, 1, 2]]), np.array([[1, 1, 2]])]
    >>> ss.consensus(lab)[1].foreground
    array([[False,  True, False]])
    """
    maps, is_mask = R.as_raters(raters)
    threads = resolve_threads(threads)
    regs = _regions(maps, is_mask, labels, threads)
    k = len(maps)
    # single labels: every label's masks written in one C++ pass over the raters (no vote
    # arrays); union regions count their own votes
    single = sorted({mem[0] if mem is not None else 1 for mem in regs.values() if mem is None or len(mem) == 1})
    made = {}
    if single:
        order = "F" if maps[0].flags.f_contiguous and not maps[0].flags.c_contiguous else "C"
        fgs = [np.zeros(maps[0].shape, dtype=bool, order=order) for _ in single]
        dss = [np.zeros(maps[0].shape, dtype=bool, order=order) for _ in single]
        views = [r.view(np.uint8) if r.dtype == np.bool_ else r for r in maps]
        cpu().multirater_masks(views, single, fgs, dss, threads)
        made = {v: (f, d) for v, f, d in zip(single, fgs, dss)}
    out = {}
    for key, members in regs.items():
        v = 1 if members is None else members[0]
        if members is None or len(members) == 1:
            fg, dis = made[v]
            out[key] = ConsensusMasks(fg, ~(fg | dis), dis)
            continue
        n = _votes(maps, members)
        fg = n == k
        bg = n == 0
        out[key] = ConsensusMasks(fg, bg, ~(fg | bg))
    return out[1] if is_mask else out


def consensus_dice(pred, raters, labels=None, empty=None, threads=None):
    """Dice of the prediction against the consensus foreground, ignoring dissensus voxels.

    For each label: P = the prediction of the label outside the dissensus region, R = the
    consensus foreground (every rater marks the label); ``Dice = 2 |P & R| / (|P| + |R|)``
    (CURVAS 2024's consensus Dice, computed volumetrically; :func:`segscore.curvas` also
    reproduces the challenge's own slice-wise reading).

    Parameters
    ----------
    pred : array_like
        The prediction, bool mask or integer label map like the raters.
    raters : sequence of array_like or array_like
        K rater maps of one shape, all bool masks or all integer label maps (a list, or one
        array stacked on axis 0).
    labels : int, sequence or dict, optional
        Label maps only: as in :func:`segscore.dice` (tuples are union regions); None:
        every non-zero label present in any rater (or in the prediction).
    empty : float, str or dict, optional
        Empty-mask policy as in :func:`segscore.dice` (default: both empty -> nan, one
        empty -> 0).
    threads : int, optional
        CPU threads for the counting passes.

    Returns
    -------
    float or dict
        A float for bool masks, else ``{label: float}``.

    Raises
    ------
    ValueError
        `pred` and the raters differ in shape, or a label is invalid.
    TypeError
        Bool masks mixed with label maps.

    References
    ----------
    .. [1] CURVAS 2024 challenge (MICCAI 2024), evaluation code: SYCAI-Technologies/curvas-
        challenge, CURVAS_2024/evaluation_metrics/metrics.py.
    .. [2] Dice, L. R. (1945). Measures of the amount of ecologic association between species.
        Ecology 26(3), 297-302.

    Examples
    --------
    >>> import numpy as np
    >>> import segscore as ss
    >>> r1 = np.array([[0, 1, 1, 0], [0, 1, 1, 0]], bool)
    >>> r2 = np.array([[0, 1, 1, 1], [0, 1, 1, 0]], bool)
    >>> r3 = np.array([[1, 1, 1, 0], [0, 1, 0, 0]], bool)
    >>> pred = np.array([[0, 1, 1, 1], [0, 1, 0, 0]], bool)
    >>> ss.consensus_dice(pred, [r1, r2, r3])  # pred's extra voxel lies in the dissensus
    1.0
    >>> ss.dice(pred, r1)
    0.75
    """
    from ..metrics.overlap import dice

    maps, is_mask = R.as_raters(raters)
    p = V.as_host_array(pred, "pred")
    V.check_label_map(p, "pred")
    if p.shape != maps[0].shape:
        raise ValueError(f"pred has shape {p.shape} but the raters have shape {maps[0].shape}; they must match")
    if (p.dtype == np.bool_) != is_mask:
        raise TypeError("pass pred and raters both as bool masks or both as integer label maps")
    threads = resolve_threads(threads)
    from ..metrics.surface import conventions as _conv
    from ..metrics import empty as _empty
    from ..metrics.overlap import overlap_value

    # one pass over the raters and the prediction: every label's consensus counts, the
    # labels present, and each map's label range (a bad label named raters[k] or pred)
    st = rater_pass(maps, p, threads=threads)
    if is_mask:
        if labels is not None:
            raise ValueError("labels= applies to integer label maps; bool masks have one region")
        regs = {1: (1,)}
    elif labels is None:
        regs = {v: (v,) for v in st.present()}
    else:
        regs = _parse_labels(labels, -1)
    user, conv = _empty.normalize(empty), _conv.get("segscore")
    out = {}
    for key, members in regs.items():
        if len(members) == 1:
            out[key] = overlap_value("dice", *st.consensus_counts(members[0]), user, conv.empty)
            continue
        n = _votes(maps, members)  # a union region: its own votes
        fg = n == len(maps)
        dis = (n > 0) & ~fg
        pm = R.region_mask(p, members) & ~dis
        out[key] = dice(pm, fg, empty=empty, threads=threads)
    return out[1] if is_mask else out


# ---------------------------------------------------------------------------------------
# per-rater metrics


def _spread(values):
    """Mean, std (ddof=0), min and max over the raters of each entry, NaN values left out
    (all NaN: NaN): `values` is K rater rows of M entries; four float64 arrays of M.

    Entries with the same raters missing (NaN) are reduced together along the rater axis,
    each row as numpy reduces one 1-D array, so every value is the one
    np.mean / np.std / np.min / np.max of that entry's non-NaN values gives, and the cost
    is a few numpy calls per pattern of missing raters instead of per entry."""
    m = np.array(values, dtype=np.float64).reshape(len(values), -1).T.copy()  # (M, K)
    out = np.full((4, m.shape[0]), math.nan)
    if m.size == 0:
        return out
    nan = np.isnan(m)
    _, first, inv = np.unique(nan, axis=0, return_index=True, return_inverse=True)
    inv = inv.reshape(-1)
    order = np.argsort(inv, kind="stable")
    bounds = np.flatnonzero(np.diff(inv[order])) + 1
    for rows in np.split(order, bounds):
        keep = ~nan[rows[0]]
        if not keep.any():
            continue
        sub = np.ascontiguousarray(m[rows][:, keep])
        with np.errstate(invalid="ignore"):
            out[0, rows] = np.mean(sub, axis=1)
            out[1, rows] = np.std(sub, axis=1)
            out[2, rows] = np.min(sub, axis=1)
            out[3, rows] = np.max(sub, axis=1)
    return out


class MultiRaterResult:
    """Per-rater metrics and their spread over the raters (returned by :func:`multirater`).

    Attributes
    ----------
    per_rater : list of Result
        One :class:`segscore.Result` per rater, in order.
    mean, std, min, max : dict
        ``{label: {metric: value}}`` over the raters; std is the population std
        (ddof=0); NaN values are left out (a metric NaN for every rater stays NaN).
    columns : list of str
        The metric columns.
    meta : dict
        The first result's meta plus ``"raters"`` (K).

    Methods
    -------
    to_dict()
        ``{"per_rater": [...], "mean", "std", "min", "max"}``.
    to_pandas()
        One row per (label, rater) plus rows ``"mean"``, ``"std"``, ``"min"``, ``"max"``
        (needs pandas).

    Examples
    --------
    >>> import numpy as np
    >>> import segscore as ss
    >>> r1 = np.array([[0, 1, 1, 0], [0, 1, 1, 0]], bool)
    >>> r2 = np.array([[0, 1, 1, 1], [0, 1, 1, 0]], bool)
    >>> r3 = np.array([[1, 1, 1, 0], [0, 1, 0, 0]], bool)
    >>> pred = np.array([[0, 1, 1, 1], [0, 1, 0, 0]], bool)
    >>> res = ss.multirater(pred, [r1, r2, r3], metrics=["dice"])
    >>> res
    MultiRaterResult(3 raters, metrics=['dice'])
    >>> [round(r[1]["dice"], 4) for r in res.per_rater]
    [0.75, 0.8889, 0.75]
    >>> round(res.mean[1]["dice"], 4), round(res.std[1]["dice"], 4), res.min[1]["dice"]
    (0.7963, 0.0655, 0.75)
    >>> print(res.to_pandas().round(4))  # doctest: +NORMALIZE_WHITESPACE
                   dice
    label rater
    1     0      0.7500
          1      0.8889
          2      0.7500
          mean   0.7963
          std    0.0655
          min    0.7500
          max    0.8889
    """

    def __init__(self, per_rater, columns, meta):
        self.per_rater = per_rater
        self.columns = columns
        self.meta = meta
        labels = list(per_rater[0])
        stats = _spread([[float(r[lab][c]) for lab in labels for c in columns] for r in per_rater])
        self.mean, self.std, self.min, self.max = {}, {}, {}, {}
        nc = len(columns)
        for name, col in zip(("mean", "std", "min", "max"), stats):
            vals = col.tolist()
            getattr(self, name).update(
                (lab, dict(zip(columns, vals[i * nc:(i + 1) * nc]))) for i, lab in enumerate(labels))

    def to_dict(self) -> dict:
        """``{"per_rater": [Result.to_dict(), ...], "mean", "std", "min", "max"}``.

        Returns
        -------
        dict

        Examples
        --------
        >>> import numpy as np
        >>> import segscore as ss
        >>> r1 = np.array([[0, 1, 1, 0], [0, 1, 1, 0]], bool)
        >>> r2 = np.array([[0, 1, 1, 1], [0, 1, 1, 0]], bool)
        >>> r3 = np.array([[1, 1, 1, 0], [0, 1, 0, 0]], bool)
        >>> pred = np.array([[0, 1, 1, 1], [0, 1, 0, 0]], bool)
        >>> d = ss.multirater(pred, [r1, r2, r3], metrics=["dice"]).to_dict()
        >>> sorted(d), d["min"]
        (['max', 'mean', 'min', 'per_rater', 'std'], {1: {'dice': 0.75}})
        """
        return {"per_rater": [r.to_dict() for r in self.per_rater], "mean": self.mean, "std": self.std,
                "min": self.min, "max": self.max}

    def to_pandas(self):
        """One row per (label, rater) plus the rows ``mean``, ``std``, ``min``, ``max`` (needs pandas).

        Returns
        -------
        pandas.DataFrame
            Indexed by (label, rater), one column per metric.

        Examples
        --------
        >>> import numpy as np
        >>> import segscore as ss
        >>> r1 = np.array([[0, 1, 1, 0], [0, 1, 1, 0]], bool)
        >>> r2 = np.array([[0, 1, 1, 1], [0, 1, 1, 0]], bool)
        >>> r3 = np.array([[1, 1, 1, 0], [0, 1, 0, 0]], bool)
        >>> pred = np.array([[0, 1, 1, 1], [0, 1, 0, 0]], bool)
        >>> df = ss.multirater(pred, [r1, r2, r3], metrics=["dice"]).to_pandas()
        >>> list(df.index.names), len(df)
        (['label', 'rater'], 7)
        """
        import pandas as pd

        rows = []
        for k, res in enumerate(self.per_rater):
            for lab, row in res.to_dict().items():
                rows.append({"label": lab, "rater": k, **row})
        for name in ("mean", "std", "min", "max"):
            for lab, row in getattr(self, name).items():
                rows.append({"label": lab, "rater": name, **row})
        df = pd.DataFrame(rows, columns=["label", "rater"] + list(self.columns))
        return df.set_index(["label", "rater"])

    def __repr__(self):
        return f"MultiRaterResult({len(self.per_rater)} raters, metrics={self.columns})"


def multirater(pred, raters, metrics=None, spacing=None, labels=None, threads=None, **evaluate_kwargs):
    """Score a prediction against every rater with :func:`segscore.evaluate`, then summarise.

    Any metric of ``evaluate`` (and its options: ``convention=``, ``tolerance=``, ``empty=``,
    ...) is computed against each rater, every rater on the same labels, and the mean,
    population std, min and max over the raters are taken per label and metric (NaN values
    left out).

    Parameters
    ----------
    pred : array_like
        The prediction (bool mask or integer label map).
    raters : sequence of array_like or array_like
        K rater maps of one shape, all bool masks or all integer label maps (a list, or one
        array stacked on axis 0).
    metrics : str or list of str, optional
        As in :func:`segscore.evaluate` (None: its default set).
    spacing : sequence of float, optional
        Voxel size in mm per axis.
    labels : int, sequence or dict, optional
        As in :func:`segscore.evaluate`; None: the labels present in the prediction or in
        any rater.
    threads : int, optional
        CPU threads for the counting passes.
    **evaluate_kwargs
        Further options of :func:`segscore.evaluate` (``convention``, ``tolerance``,
        ``empty``, ``ignore_label``, ``connectivity``, ``device``).

    Returns
    -------
    MultiRaterResult

    Raises
    ------
    ValueError, TypeError
        As :func:`segscore.evaluate`; a bad rater label is reported as ``raters[k]``.

    References
    ----------
    .. [1] Taha, A. A. & Hanbury, A. (2015). Metrics for evaluating 3D medical image segmentation:
        analysis, selection, and tool. BMC Medical Imaging 15:29.
    .. [2] CURVAS 2024 challenge (MICCAI 2024), evaluation code: SYCAI-Technologies/curvas-
        challenge, CURVAS_2024/evaluation_metrics/metrics.py.

    Examples
    --------
    >>> import numpy as np
    >>> import segscore as ss
    >>> r1 = np.array([[0, 1, 1, 0], [0, 1, 1, 0]], bool)
    >>> r2 = np.array([[0, 1, 1, 1], [0, 1, 1, 0]], bool)
    >>> r3 = np.array([[1, 1, 1, 0], [0, 1, 0, 0]], bool)
    >>> pred = np.array([[0, 1, 1, 1], [0, 1, 0, 0]], bool)
    >>> res = ss.multirater(pred, [r1, r2, r3], metrics=["dice", "hd95"])
    >>> {m: round(v, 4) for m, v in res.mean[1].items()}
    {'dice': 0.7963, 'hd95': 1.0}
    """
    from ..metrics.evaluate import evaluate

    maps, is_mask = R.as_raters(raters)
    p = V.as_host_array(pred, "pred")
    V.check_label_map(p, "pred")
    threads = resolve_threads(threads)
    if not is_mask and p.dtype != np.bool_:
        # every map validated here, so that a bad rater label is reported as raters[k]
        present = R.present_labels(list(maps) + [p], threads, R.rater_names(maps) + ["pred"])
        if labels is None:
            labels = present
    per = [evaluate(p, r, spacing=spacing, labels=labels, metrics=metrics, threads=threads, **evaluate_kwargs)
           for r in maps]
    meta = dict(per[0].meta)
    meta["raters"] = len(maps)
    return MultiRaterResult(per, per[0].columns, meta)


# ---------------------------------------------------------------------------------------
# generalized energy distance

_BLOCK = 1 << 20  # voxels per block: float32 counts stay exact (< 2**24)
_ONEPASS_MAX = 16  # samples up to which GED's pair overlaps come from the one pass (its work per
                   # voxel run grows with the square of the samples; beyond, blocks of matrix products)


def _pair_counts(flat, members):
    """Intersections (N x N, int64) of the samples' region masks, by blocks of voxels."""
    n = len(flat)
    inter = np.zeros((n, n), dtype=np.int64)
    size = flat[0].size
    buf = np.empty((n, min(_BLOCK, size)), dtype=np.float32)
    for start in range(0, size, _BLOCK):
        stop = min(start + _BLOCK, size)
        x = buf[:, : stop - start]
        for i, s in enumerate(flat):
            x[i] = R.region_mask(s[start:stop], members)
        inter += np.rint(x @ x.T).astype(np.int64)
    return inter


def _pair_counts_labels(samples, values, threads, names):
    """Intersections (len(values) x N x N, int64) of the samples' single-label masks,
    every label at once: one counting pass per pair of samples (N (N + 1) / 2 passes),
    not one pass over every sample per label."""
    from ..metrics.case import lookup

    n = len(samples)
    vals = np.asarray(values, dtype=np.int64)
    inter = np.zeros((len(vals), n, n), dtype=np.int64)

    def put(i, j, labs, cnt):
        row = lookup(labs, vals)
        hit = row >= 0
        inter[hit, i, j] = cnt[row[hit]]
        inter[hit, j, i] = cnt[row[hit]]

    for i, s in enumerate(samples):
        put(i, i, *R.label_table(s, threads, names[i]))
    for i in range(n):
        for j in range(i + 1, n):
            pairs = np.asarray(cpu().overlap_stats(samples[i], samples[j], -1, threads)["pairs"],
                               dtype=np.int64).reshape(-1, 3)
            same = pairs[pairs[:, 0] == pairs[:, 1]]
            same = same[np.argsort(same[:, 0], kind="stable")]
            put(i, j, same[:, 0], same[:, 2])
    return inter


def _overlap_distance(inter, kind):
    """1 - IoU or 1 - Dice of every pair from the intersections (..., N, N)."""
    sizes = np.diagonal(inter, axis1=-2, axis2=-1).astype(np.float64)
    tot = sizes[..., :, None] + sizes[..., None, :]
    inter = inter.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        if kind == "1-iou":
            sim = inter / (tot - inter)
        else:
            sim = 2.0 * inter / tot
    return np.where(tot == 0, 0.0, 1.0 - sim)  # both empty: d = 0


def _ged_terms(d, na, include_diagonal):
    def mean_block(b, square):
        if square and not include_diagonal:
            n = b.shape[0]
            if n < 2:
                raise ValueError("include_diagonal=False needs at least 2 samples in each set")
            return float((b.sum() - np.trace(b)) / (n * (n - 1)))
        return float(b.mean())

    cross = mean_block(d[:na, na:], False)
    wa = mean_block(d[:na, :na], True)
    wb = mean_block(d[na:, na:], True)
    return cross, wa, wb


def ged(samples_a, samples_b, distance="1-iou", include_diagonal=True, labels=None, return_terms=False,
        threads=None):
    """Generalized energy distance between two sets of segmentation samples.

    ``D^2 = 2 E[d(a, b)] - E[d(a, a')] - E[d(b, b')]``, the squared GED as reported by Kohl et
    al. 2018 (probabilistic U-Net), with the empirical estimate: means over all pairs, the
    i = j pairs of each set included (``include_diagonal=False`` leaves them out of the
    within-set means).  0 for identical sets; compares, e.g., a model's samples with the
    raters' annotations.

    Parameters
    ----------
    samples_a, samples_b : sequence of array_like or array_like
        Bool masks or integer label maps of one shape (lists, or arrays stacked on axis 0).
    distance : {"1-iou", "1-dice"} or callable, default "1-iou"
        Per-pair distance, with d = 0 when both masks are empty; for label maps the mean
        over `labels` of the per-label distance.  A callable ``d(a, b) -> float`` on two
        samples (assumed symmetric) replaces it.
    include_diagonal : bool, default True
        Include the i = j pairs in the within-set means (needs 2 samples per set when
        False).
    labels : int, sequence or dict, optional
        Label maps only: the labels averaged (default: every non-zero label present in any
        sample; tuples are union regions).
    return_terms : bool, default False
        Also return the three expectations.
    threads : int, optional
        CPU threads for the counting passes.

    Returns
    -------
    float or dict
        D^2, or ``{"ged", "cross", "within_a", "within_b"}`` with `return_terms`.

    Raises
    ------
    ValueError
        Shapes differ, an unknown `distance`, too few samples without the diagonal, or
        `labels` for bool masks.
    TypeError
        One set holds bool masks and the other label maps.

    References
    ----------
    .. [1] Kohl, S. A. A. et al. (2018). A probabilistic U-Net for segmentation of ambiguous images.
        NeurIPS 2018 (generalized energy distance).
    .. [2] Szekely, G. J. & Rizzo, M. L. (2013). Energy statistics: a class of statistics based on
        distances. Journal of Statistical Planning and Inference 143(8), 1249-1272.

    Examples
    --------
    >>> import numpy as np
    >>> import segscore as ss
    >>> r1 = np.array([[0, 1, 1, 0], [0, 1, 1, 0]], bool)
    >>> r2 = np.array([[0, 1, 1, 1], [0, 1, 1, 0]], bool)
    >>> r3 = np.array([[1, 1, 1, 0], [0, 1, 0, 0]], bool)
    >>> pred = np.array([[0, 1, 1, 1], [0, 1, 0, 0]], bool)
    >>> round(ss.ged([r1, r2, r3], [pred]), 4)
    0.4222
    >>> {k: round(v, 4) for k, v in ss.ged([r1, r2, r3], [pred], return_terms=True).items()}
    {'ged': 0.4222, 'cross': 0.3333, 'within_a': 0.2444, 'within_b': 0.0}
    >>> ss.ged([r1, r2, r3], [r1, r2, r3])
    0.0
    >>> round(ss.ged([r1, r2], [r3, pred], distance="1-dice"), 4)
    0.2917
    """
    a, mask_a = R.as_raters(samples_a, "samples_a")
    b, mask_b = R.as_raters(samples_b, "samples_b")
    if a[0].shape != b[0].shape:
        raise ValueError(f"samples_a have shape {a[0].shape} but samples_b have shape {b[0].shape}")
    na, nb = len(a), len(b)
    samples = a + b
    if callable(distance):
        n = na + nb
        d = np.zeros((n, n), dtype=np.float64)
        for i in range(n):
            for j in range(i, n):
                if i == j and not include_diagonal:
                    continue
                d[i, j] = d[j, i] = float(distance(samples[i], samples[j]))
    else:
        if distance not in ("1-iou", "1-dice"):
            raise ValueError(f"distance must be '1-iou', '1-dice' or a callable d(a, b), got {distance!r}")
        if mask_a != mask_b:
            raise TypeError("samples_a and samples_b mix bool masks and label maps")
        threads = resolve_threads(threads)
        if mask_a and labels is not None:
            raise ValueError("labels= applies to integer label maps; bool masks have one region")
        n = na + nb
        names = R.rater_names(a, "samples_a") + R.rater_names(b, "samples_b")
        # one pass over every sample: each label's pair overlaps, presence, label ranges
        st = rater_pass(samples, threads=threads, names=names) if n <= _ONEPASS_MAX else None
        if mask_a:
            regions = [(1,)]
        else:
            present = st.present() if st is not None else R.present_labels(samples, threads, names)
            regions = [(v,) for v in present] if labels is None else list(_parse_labels(labels, -1).values())
        if not regions:  # label maps with no foreground at all: every pair is both-empty
            d = np.zeros((n, n))
        else:
            # per-region distance matrices stacked in region order, then one mean (as a
            # list of matrices would be)
            dist = np.empty((len(regions), n, n), dtype=np.float64)
            flat = None
            single = [i for i, m in enumerate(regions) if len(m) == 1]
            if single and st is not None:
                for i in single:
                    dist[i] = _overlap_distance(st.pair_matrix(regions[i][0]), distance)
            elif single and mask_a:
                flat = [s.reshape(-1) for s in samples]
                dist[0] = _overlap_distance(_pair_counts(flat, None), distance)
            elif single:
                inter = _pair_counts_labels(samples, [regions[i][0] for i in single], threads, names)
                step = max(1, (1 << 22) // (n * n))
                for s0 in range(0, len(single), step):
                    dist[single[s0:s0 + step]] = _overlap_distance(inter[s0:s0 + step], distance)
            for i, m in enumerate(regions):
                if len(m) != 1:
                    flat = flat or [s.reshape(-1) for s in samples]
                    dist[i] = _overlap_distance(_pair_counts(flat, m), distance)
            d = np.mean(dist, axis=0)
    cross, wa, wb = _ged_terms(d, na, include_diagonal)
    value = 2.0 * cross - wa - wb
    if return_terms:
        return {"ged": value, "cross": cross, "within_a": wa, "within_b": wb}
    return value


# ---------------------------------------------------------------------------------------
# soft Dice against the rater-mean map


def soft_dice(prob, raters, labels=None, threads=None):
    """Soft Dice of a probability map against the rater-mean map.

    With m = the fraction of raters marking the label at each voxel:
    ``soft Dice = 2 sum(p m) / (sum p + sum m)`` (NaN when both sums are 0).

    Parameters
    ----------
    prob : array_like
        Probabilities in [0, 1], shaped like a rater, or ``(C, *rater shape)`` with
        `labels` in channel order (default 1..C), as in :func:`segscore.volume_crps`.
    raters : sequence of array_like or array_like
        K rater maps of one shape, all bool masks or all integer label maps (a list, or one
        array stacked on axis 0).
    labels : int, sequence or dict, optional
        The label of each channel (``{name: label}`` names them).
    threads : int, optional
        CPU threads for the counting passes.

    Returns
    -------
    float or dict
        A float for one map, else ``{label: float}``.

    Raises
    ------
    ValueError
        Shapes differ, NaN or probabilities outside [0, 1].
    TypeError
        `prob` is not a floating-point array.

    References
    ----------
    .. [1] Milletari, F., Navab, N. & Ahmadi, S.-A. (2016). V-Net: fully convolutional neural
        networks for volumetric medical image segmentation. 3DV 2016 (the soft Dice).
    .. [2] CURVAS 2024 challenge (MICCAI 2024), evaluation code: SYCAI-Technologies/curvas-
        challenge, CURVAS_2024/evaluation_metrics/metrics.py.

    Examples
    --------
    >>> import numpy as np
    >>> import segscore as ss
    >>> r1 = np.array([[0, 1, 1, 0], [0, 1, 1, 0]], bool)
    >>> r2 = np.array([[0, 1, 1, 1], [0, 1, 1, 0]], bool)
    >>> r3 = np.array([[1, 1, 1, 0], [0, 1, 0, 0]], bool)
    >>> pred = np.array([[0, 1, 1, 1], [0, 1, 0, 0]], bool)
    >>> prob = np.array([[0.1, 0.9, 0.8, 0.4], [0.0, 0.9, 0.6, 0.1]])
    >>> round(ss.soft_dice(prob, [r1, r2, r3]), 4)
    0.7787
    """
    maps, is_mask = R.as_raters(raters)
    p = R.as_prob(prob)
    single, regions = R.prob_regions(p, maps[0].shape, is_mask, labels)
    # one pass: every single-label channel's sums, the raters' counts and label ranges
    one = [(key, ch, 1 if members is None else members[0]) for key, ch, members in regions
           if members is None or len(members) == 1]
    st = rater_pass(maps, probs=[ch for _, ch, _ in one], chan_labels=[lab for _, _, lab in one],
                    threads=threads)
    done = {key: st.soft_dice(i) for i, (key, _, _) in enumerate(one)}
    k = float(len(maps))
    out = {}
    for key, ch, members in regions:
        if key in done:
            out[key] = done[key]
            continue
        sp = float(np.sum(ch, dtype=np.float64))  # a union region: its own sums
        inter = 0.0
        count = 0
        for r in maps:
            m = R.region_mask(r, members)
            inter += float(np.sum(ch, where=m, dtype=np.float64))
            count += int(np.count_nonzero(m))
        den = sp + count / k
        out[key] = 2.0 * (inter / k) / den if den > 0 else math.nan
    return next(iter(out.values())) if single else out


__all__ = ["ConsensusMasks", "MultiRaterResult", "consensus", "consensus_dice", "ged", "multirater", "soft_dice"]
