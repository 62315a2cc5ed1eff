"""The one multi-rater pass: every label's rater counts, overlaps, vote histograms and
probability sums from one read of the raters, the prediction and the probability maps.

:func:`rater_pass` runs ``segscore._cpu.multirater_stats`` (the per-voxel math is
cpp/include/segscore/multirater.h) and returns a :class:`RaterStats`; consensus Dice,
per-rater overlap counts and volumes, GED's pair overlaps, soft Dice and the probabilistic
volume are read off it without touching the voxels again.  Label presence comes from the
same pass (every value seen gets a row), and so does label validation.
"""

from __future__ import annotations

import math

import numpy as np

from .._core import validate as V
from .._core.backends import cpu


class RaterStats:
    """Sufficient statistics of K raters (and a prediction, and probability channels).

    Built by :func:`rater_pass`; rows are label values (every value seen in a rater or
    the prediction, and the requested ones), columns the layout of
    cpp/include/segscore/multirater.h.

    Examples
    --------
    >>> import numpy as np
    >>> from segscore.probabilistic.onepass import rater_pass
    >>> r1 = np.array([[0, 1, 1, 0]]); r2 = np.array([[0, 1, 0, 0]])
    >>> s = rater_pass([r1, r2], pred=np.array([[1, 1, 0, 0]]))
    >>> s.present()
    [1]
    >>> s.consensus_counts(1)  # tp, fp, fn, tn
    (1, 1, 0, 2)
    """

    def __init__(self, raw: dict, k: int, has_pred: bool, n_voxels: int, chan_labels=()):
        self.labels = np.asarray(raw["labels"], dtype=np.int64)
        self.stats = np.asarray(raw["stats"], dtype=np.int64)
        self.psum = np.asarray(raw["psum"], dtype=np.float64)
        self.pvsum = np.asarray(raw["pvsum"], dtype=np.float64)
        self.pfg = np.asarray(raw["pfg"], dtype=np.float64)   # p where every rater marks the channel's label
        self.pbg = np.asarray(raw["pbg"], dtype=np.float64)   # p where no rater marks it
        self.minmax = np.asarray(raw["minmax"], dtype=np.int64)
        self.k = int(k)
        self.has_pred = bool(has_pred)
        self.n_voxels = int(n_voxels)
        self.chan_labels = [int(v) for v in chan_labels]
        K = self.k
        npairs = K * (K - 1) // 2
        self._rater = 1
        self._inter = 1 + K
        self._pair = 1 + 2 * K
        self._vote = 1 + 2 * K + npairs           # v = 1..K
        self._pvote = 1 + 3 * K + npairs          # v = 0..K

    def row(self, label) -> np.ndarray:
        """The int64 statistics of `label` (zeros for a label never seen)."""
        i = int(np.searchsorted(self.labels, int(label)))
        if i < len(self.labels) and self.labels[i] == int(label):
            return self.stats[i]
        return np.zeros(self.stats.shape[1], dtype=np.int64)

    def present(self, include_zero=False) -> list:
        """Sorted labels marked by a rater or the prediction (0 left out unless asked)."""
        seen = self.stats[:, : 1 + self.k].any(axis=1) if self.has_pred else \
            self.stats[:, 1: 1 + self.k].any(axis=1)
        labs = self.labels[seen]
        return [int(v) for v in labs if include_zero or v != 0]

    def pred_count(self, label) -> int:
        return int(self.row(label)[0])

    def rater_counts(self, label) -> np.ndarray:
        """Voxels each rater marks with `label` (K int64)."""
        return self.row(label)[self._rater:self._rater + self.k].copy()

    def inter_counts(self, label) -> np.ndarray:
        """Voxels the prediction and each rater both mark (K int64)."""
        return self.row(label)[self._inter:self._inter + self.k].copy()

    def votes(self, label) -> np.ndarray:
        """Voxels marked by exactly v raters, v = 0..K (v = 0: the rest of the image)."""
        r = self.row(label)
        h = r[self._vote:self._vote + self.k]
        return np.concatenate(([self.n_voxels - int(h.sum())], h))

    def pred_votes(self, label) -> np.ndarray:
        """Voxels the prediction marks and exactly v raters mark, v = 0..K."""
        return self.row(label)[self._pvote:self._pvote + self.k + 1].copy()

    def pair_matrix(self, label) -> np.ndarray:
        """Overlaps (N x N int64) of the raters (and the prediction, last) on `label`:
        the diagonal holds each map's count."""
        r = self.row(label)
        K = self.k
        n = K + 1 if self.has_pred else K
        m = np.zeros((n, n), dtype=np.int64)
        iu = np.triu_indices(K, 1)
        m[iu] = r[self._pair:self._pair + K * (K - 1) // 2]
        m[iu[1], iu[0]] = m[iu]
        m[np.arange(K), np.arange(K)] = r[self._rater:self._rater + K]
        if self.has_pred:
            m[K, :K] = m[:K, K] = r[self._inter:self._inter + K]
            m[K, K] = r[0]
        return m

    def consensus_counts(self, label) -> tuple:
        """(tp, fp, fn, tn) of consensus Dice: tp = the prediction and every rater mark the
        label, fp = the prediction marks it and no rater does, fn = consensus foreground
        - tp, dissensus voxels left out."""
        pv = self.pred_votes(label)
        fg = int(self.votes(label)[self.k])
        tp, fp = int(pv[self.k]), int(pv[0])
        fn = fg - tp
        return tp, fp, fn, self.n_voxels - tp - fp - fn

    def soft_dice(self, channel: int) -> float:
        """2 sum(p m) / (sum p + sum m) of probability channel `channel` against the
        rater-mean map m of its label (NaN when both sums are 0)."""
        k = float(self.k)
        sp = float(self.psum[channel])
        count = int(self.rater_counts(self.chan_labels[channel]).sum())
        den = sp + count / k
        return 2.0 * (float(self.pvsum[channel]) / k) / den if den > 0 else math.nan

    def prob_volume(self, channel: int) -> float:
        """Sum of the probabilities of channel `channel` (voxels)."""
        return float(self.psum[channel])


def check_ranges(stats: RaterStats, names, dtypes) -> None:
    """Refuse label values outside [0, 2**31) in any map, naming it (raters first, then
    the prediction: the order of :func:`rater_pass`'s maps)."""
    for (lo, hi), name, dt in zip(stats.minmax.tolist(), names, dtypes):
        if hi < lo:  # empty map
            continue
        V.check_label_range({"pred_min": lo, "pred_max": hi, "ref_min": 0, "ref_max": 0},
                            names=(name, name), dtypes=(dt, dt))


def _as_labels(a):
    """A bool map as its bytes, made 0 / 1 first (a byte 2 would be read as label 2); other maps as they are."""
    return V.canonical_bool(a).view(np.uint8) if a.dtype == np.bool_ else a


def rater_pass(raters, pred=None, probs=(), chan_labels=(), seed=(), threads=None, names=None, *, target=None,
               edges=None, top=False, device=None, implicit_background=False, channel_bins=True) -> RaterStats:
    """One read of the raters, the prediction and the probability channels.

    Parameters
    ----------
    raters : sequence of ndarray
        K bool masks or integer label maps of one shape (host arrays, any strides).
    pred : ndarray, optional
        The prediction, like a rater.
    probs : sequence of ndarray
        Probability channels shaped like a rater, float32 or float64 (not validated here:
        the caller checks NaN and the [0, 1] range).
    chan_labels : sequence of int
        The label value each channel scores.
    seed : sequence of int
        Labels that get a row even when no map holds them.
    threads : int, optional
        CPU threads.
    names : sequence of str, optional
        What to call each map (raters, then the prediction) in an error; default
        ``raters[k]`` and ``pred``.
    target : ndarray, optional
        A label map (the reference) for the calibration terms of the same pass: per channel
        the Brier sum against ``target == chan_labels[c]`` and the bins of p (``edges``:
        segscore's convention, [l, u) bins clamped at both ends); with ``top=True`` the
        channels are a full softmax map and its top label is binned too.  The results are
        in ``RaterStats.calib`` (NaN and out-of-range values are counted, not refused).
    edges, top
        See `target`.
    implicit_background : bool, default False
        Channel 0 is not given but computed from `probs` (channels 1..): max(1 - their
        float32 sum, 0), as the CURVAS 2024 evaluation builds its background; `chan_labels`
        then names C = len(probs) + 1 channels.
    channel_bins : bool, default True
        With `target`: also each channel's bins and Brier sum (False: the top label's terms
        only, e.g. the CURVAS ECE per rater).
    device : {None, "cpu", "cuda", "cupy"}, optional
        Where the pass runs (segscore.gpu.prepare: GPU arrays run on their device; host
        arrays on the GPU only when asked).  Both give the same numbers, bit for bit.

    Returns
    -------
    RaterStats

    Raises
    ------
    ValueError
        A label outside [0, 2**31) in a map (named).

    Examples
    --------
    >>> import numpy as np
    >>> from segscore.probabilistic.onepass import rater_pass
    >>> r = [np.array([[0, 1, 1]]), np.array([[0, 1, 2]])]
    >>> s = rater_pass(r, probs=[np.array([[0.0, 0.5, 0.25]])], chan_labels=[1])
    >>> s.votes(1).tolist(), s.psum.tolist(), s.pvsum.tolist()
    ([1, 1, 1], [0.75], [1.25])
    """
    from .._core.backends import resolve_threads
    from .. import gpu as _gpu

    raters = list(raters)
    probs = list(probs)
    arrays = raters + ([pred] if pred is not None else []) + probs + ([target] if target is not None else [])
    labels = [f"raters[{k}]" for k in range(len(raters))] + (["pred"] if pred is not None else []) + \
        [f"probs[{c}]" for c in range(len(probs))] + (["target"] if target is not None else [])
    g = _gpu.prepare(arrays, labels, device)
    if g is not None:
        from ..gpu import multirater_ops

        K, P = len(raters), pred is not None
        gp = g[K] if P else None
        gc = g[K + P:K + P + len(probs)]
        gt = g[-1] if target is not None else None
        raw = multirater_ops.multirater_stats(g[:K], gp, gc, [int(v) for v in chan_labels], sorted({int(v) for v in seed}),
                                              0, gt, [] if edges is None else [float(e) for e in edges], bool(top),
                                              bool(implicit_background), bool(channel_bins))
        maps = g[:K]
    else:
        maps = [_as_labels(r) for r in raters]
        p = None if pred is None else _as_labels(pred)
        chans = []
        for c in probs:
            if c.dtype not in (np.float32, np.float64):
                c = c.astype(np.float64)
            chans.append(c)
        t = None if target is None else _as_labels(target)
        raw = cpu().multirater_stats(maps, p, chans, [int(v) for v in chan_labels], sorted({int(v) for v in seed}),
                                     resolve_threads(threads), t, [] if edges is None else [float(e) for e in edges],
                                     bool(top), bool(implicit_background), bool(channel_bins))
    st = RaterStats(raw, len(maps), pred is not None, int(maps[0].size), chan_labels)
    st.calib = {k: raw[k] for k in ("brier", "cw_count", "cw_conf", "top_count", "top_conf", "top_rater", "pmin",
                                    "pmax", "pnan", "rowdev") if k in raw}
    if names is None:
        names = [f"raters[{k}]" for k in range(len(maps))] + (["pred"] if pred is not None else [])
    dtypes = [r.dtype for r in raters] + ([pred.dtype] if pred is not None else [])
    check_ranges(st, names, dtypes)
    return st


__all__ = ["RaterStats", "rater_pass"]
