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


class ConsensusMasks(NamedTuple):
    """Per-voxel agreement of the raters on one label (bool arrays of the rater shape).

    foreground: every rater marks the label; background: no rater does; dissensus: the
    raters disagree (neither of the two).
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
    """Consensus foreground, consensus background and dissensus masks.

    For each label: foreground = every rater marks it, background = no rater marks it,
    dissensus = the rest.  Bool rater masks give one :class:`ConsensusMasks`; label maps
    give ``{label: ConsensusMasks}`` (``labels=`` as in :func:`segscore.dice`, tuples
    being union regions).
    """
    maps, is_mask = R.as_raters(raters)
    threads = resolve_threads(threads)
    regs = _regions(maps, is_mask, labels, threads)
    k = len(maps)
    out = {}
    for key, members in regs.items():
        n = _votes(maps, members)
        fg = n == k
        bg = n == 0
        out[key] = ConsensusMasks(fg, bg, ~(fg | bg))
    return out[1] if is_mask else out


def consensus_dice(pred, raters, labels=None, empty=None, threads=None):
    """Dice of the prediction against the consensus foreground, ignoring dissensus voxels.

    For each label: P = prediction of the label outside the dissensus region, R = the
    consensus foreground; Dice = 2|P & R| / (|P| + |R|) (CURVAS 2024's "consensus Dice",
    volumetric).  ``empty=`` as in :func:`segscore.dice` (default: both empty -> nan,
    one empty -> 0).  Bool masks give a float, label maps ``{label: float}``.
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
    regs = _regions(maps, is_mask, labels, threads, extra=() if is_mask else (p,),
                    extra_names=() if is_mask else ("pred",))
    single = {} if is_mask else {key: mem[0] for key, mem in regs.items() if len(mem) == 1}
    if single:  # single labels: every label's counts from a few passes, not one pass per label
        from ..metrics.surface import conventions as _conv
        from ..metrics import empty as _empty
        from ..metrics.overlap import overlap_value

        user, conv = _empty.normalize(empty), _conv.get("segscore")
        table = _consensus_counts(p, maps, list(single.values()), threads)
    out = {}
    for key, members in regs.items():
        if key in single:
            out[key] = overlap_value("dice", *table[single[key]], user, conv.empty)
            continue
        n = _votes(maps, members)
        fg = n == len(maps)
        dis = (n > 0) & ~fg
        pm = R.region_mask(p, members) & ~dis
        out[key] = dice(pm, fg, empty=empty, threads=threads)
    return out[1] if is_mask else out


def _consensus_counts(p, maps, values, threads):
    """{label: (tp, fp, fn, tn)} of consensus Dice for single labels, all labels from a
    few passes over the voxels (not one pass per label): tp = pred and every rater mark
    the label, fp = pred marks it and no rater does, fn = consensus foreground - tp."""
    from ..metrics.case import lookup

    r0 = maps[0]
    agree = np.ones(r0.shape, dtype=bool)
    for r in maps[1:]:
        agree &= r == r0
    none = np.ones(r0.shape, dtype=bool)
    for r in maps:
        none &= r != p
    zero = np.zeros((), dtype=r0.dtype)
    fg_lab = np.where(agree, r0, zero)                           # consensus foreground label
    tp_lab = np.where(agree & (p == r0), r0, zero)               # ... also predicted
    fp_lab = np.where(none, p, np.zeros((), dtype=p.dtype))       # predicted, marked by no rater
    vals = np.asarray(values, dtype=np.int64)

    def get(x):
        labs, cnt = R.label_table(x, threads)
        row = lookup(labs, vals)
        return np.where(row >= 0, cnt[np.maximum(row, 0)], 0) if len(labs) else np.zeros(len(vals), np.int64)

    tp, fp, fg = get(tp_lab), get(fp_lab), get(fg_lab)
    fn = fg - tp
    tn = p.size - tp - fp - fn
    return dict(zip(vals.tolist(), zip(tp.tolist(), fp.tolist(), fn.tolist(), tn.tolist())))


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
    """Per-rater metrics and their spread over the raters.

    ``per_rater``: one :class:`segscore.Result` per rater; ``mean``, ``std`` (population,
    ddof=0), ``min``, ``max``: ``{label: {metric: value}}`` over the raters, NaN values
    left out (a metric NaN for every rater stays NaN); ``to_pandas()``: one row per
    (label, rater) plus rows 'mean', 'std', 'min', 'max'.
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
        return {"per_rater": [r.to_dict() for r in self.per_rater], "mean": self.mean, "std": self.std,
                "min": self.min, "max": self.max}

    def to_pandas(self):
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
    """Score ``pred`` against every rater with :func:`segscore.metrics.evaluate`, then summarise.

    Any metric of ``evaluate`` (and its options: ``convention=``, ``tolerance=``,
    ``empty=``, ...) is computed against each rater; every rater is scored on the same
    labels (``labels=None``: those present in the prediction or in any rater).  Returns a
    :class:`MultiRaterResult` with the per-rater results and their mean and spread.
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

    ``D^2 = 2 E[d(a, b)] - E[d(a, a')] - E[d(b, b')]`` (the squared GED as reported by
    Kohl et al. 2018, probabilistic U-Net), with the usual empirical estimate: means over
    all pairs, the i = j pairs of each set included (``include_diagonal=False`` leaves
    them out of the within-set means).

    ``distance``: ``"1-iou"`` (default) or ``"1-dice"``, with d = 0 when both masks are
    empty; for integer label maps d is the mean over ``labels`` (default: every non-zero
    label present in any sample) of the per-label distance.  Or a callable
    ``d(a, b) -> float`` on two samples (assumed symmetric).  Samples are bool masks or
    label maps of one shape (lists, or arrays stacked on axis 0).

    Returns D^2, or with ``return_terms=True`` a dict with ``ged`` (D^2), ``cross``,
    ``within_a`` and ``within_b``.
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
        flat = [s.reshape(-1) for s in samples]
        if mask_a:
            if labels is not None:
                raise ValueError("labels= applies to integer label maps; bool masks have one region")
            regions = [None]
        else:
            names = R.rater_names(a, "samples_a") + R.rater_names(b, "samples_b")
            present = R.present_labels(samples, threads, names)  # validates every sample's labels
            if labels is None:
                regions = [(v,) for v in present]
            else:
                regions = list(_parse_labels(labels, -1).values())
        if not regions:  # label maps with no foreground at all: every pair is both-empty
            d = np.zeros((na + nb, na + nb))
        elif mask_a:
            d = np.mean([_overlap_distance(_pair_counts(flat, m), distance) for m in regions], axis=0)
        else:
            # per-region distance matrices stacked in region order, then one mean (as a
            # list of matrices would be): single labels all at once, unions one by one
            n = na + nb
            dist = np.empty((len(regions), n, n), dtype=np.float64)
            single = [i for i, m in enumerate(regions) if len(m) == 1]
            if single:
                inter = _pair_counts_labels(samples, [regions[i][0] for i in single], threads, names)
                step = max(1, (1 << 22) // (n * n))
                for s0 in range(0, len(single), step):
                    dist[single[s0:s0 + step]] = _overlap_distance(inter[s0:s0 + step], distance)
            for i, m in enumerate(regions):
                if len(m) != 1:
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

    m = fraction of raters marking the label at each voxel; soft Dice =
    2 sum(p m) / (sum p + sum m) (NaN when both sums are 0).  ``prob`` as in
    :func:`segscore.volume_crps`: shaped like a rater, or ``(C, *rater shape)`` with
    ``labels=`` in channel order (default 1..C).  A float for one map, else
    ``{label: float}``.
    """
    maps, is_mask = R.as_raters(raters)
    p = R.as_prob(prob)
    single, regions = R.prob_regions(p, maps[0].shape, is_mask, labels)
    if not is_mask:
        R.present_labels(maps, resolve_threads(threads))  # a bad label is reported as raters[k]
    k = float(len(maps))
    out = {}
    for key, ch, members in regions:
        sp = float(np.sum(ch, dtype=np.float64))
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
