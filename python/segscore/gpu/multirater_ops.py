"""The one multi-rater pass on the GPU: plan, allocate with the input's library, launch,
collect.  `multirater_stats` takes the arguments of ``segscore._cpu.multirater_stats``
(DeviceArray inputs) and returns the same dictionary, so
``segscore.probabilistic.onepass`` only chooses the module.

Two host synchronisations: the maps' label ranges (the label table is built from them:
every value of [min, max] gets a row, rows never seen are dropped afterwards), then the
results.  Counts are exact integers and the probability sums exact fixed point rounded
as the CPU driver rounds them, so the GPU gives the CPU's numbers bit for bit.
"""

from __future__ import annotations

import numpy as np

from . import plan as P
from .ops import _Alloc

MAX_SPAN = 1 << 16  # label values from min to max per pass


def _rows(arrays, code):
    return [(a.ptr, code(a), a.strides) for a in arrays]


def multirater_stats(raters, pred, probs, chan_label, seed, threads=0, target=None, edges=(), top=False) -> dict:
    """segscore._cpu.multirater_stats on the GPU (DeviceArrays)."""
    K = len(raters)
    if K < 1:
        raise ValueError("segscore GPU multi-rater pass: give at least one rater")
    maps = list(raters) + ([pred] if pred is not None else [])
    shape = tuple(raters[0].shape)
    for a in maps + list(probs) + ([target] if target is not None else []):
        if tuple(a.shape) != shape:
            raise ValueError("segscore GPU multi-rater pass: the maps and channels must share one shape")
    for c in probs:
        if c.dtype not in P.MR_PROB_CODES:
            raise TypeError(f"probability channels must be float32 or float64, got {c.dtype}")
    mrows = _rows(maps, lambda a: P.label_code(a.dtype))
    crows = _rows(probs, lambda a: P.MR_PROB_CODES[a.dtype])
    trow = _rows([target], lambda a: P.label_code(a.dtype))[0] if target is not None else None
    edges = np.asarray(edges, dtype=np.float64)
    nb = len(edges) - 1 if target is not None else 0
    lib, dev = raters[0].lib, raters[0].device
    backend = raters[0].backend
    with lib.device_ctx(dev):
        A = _Alloc(lib, dev, "the multi-rater pass")
        # 1. label ranges
        plan0 = P.multirater_plan(shape, mrows, [], None, K, pred is not None, 0, 0, False)
        tab0 = A.upload(plan0.tab)
        out0 = A.empty(plan0.total, np.int64)
        backend.run(dev, lib.stream(dev), P.multirater_range_launches(plan0, A.ptr(tab0), A.ptr(out0)))
        h0 = np.asarray(lib.to_host(out0))[:plan0.total]
        mm = h0[plan0.out[P.MO_MINMAX]:plan0.out[P.MO_MINMAX] + 2 * len(maps)].reshape(-1, 2).copy()
        empty = mm[:, 0] > mm[:, 1]
        mm[empty] = (0, -1)
        lo, hi = int(mm[:, 0].min()), int(mm[:, 1].max())
        res = dict(minmax=mm)
        if lo < 0 or hi >= 2**31:  # the caller names the map (onepass.check_ranges)
            res.update(labels=np.zeros(0, np.int64), stats=np.zeros((0, P.mr_width(K)), np.int64),
                       psum=np.zeros(len(probs)), pvsum=np.zeros(len(probs)))
            return res
        if hi - lo >= MAX_SPAN:
            raise ValueError(f"the GPU multi-rater pass takes label values spanning less than {MAX_SPAN} "
                             f"(these maps hold {lo}..{hi}); use device='cpu'")
        labels = np.union1d(np.arange(lo, hi + 1, dtype=np.int64), np.asarray(seed, dtype=np.int64))
        # 2. the pass
        plan = P.multirater_plan(shape, mrows, crows, trow, K, pred is not None, len(labels), nb, bool(top))
        tab = A.upload(plan.tab)
        lab = A.upload(labels)
        chans = A.upload(np.asarray(list(chan_label) or [0], dtype=np.int64))
        edg = A.upload(edges if len(edges) else np.zeros(1))
        out = A.empty(plan.total, np.int64)
        backend.run(dev, lib.stream(dev), P.multirater_launches(plan, A.ptr(tab), A.ptr(lab), A.ptr(chans),
                                                                A.ptr(edg), A.ptr(out)))
        h = np.asarray(lib.to_host(out))[:plan.total]
    o = plan.out
    W = P.mr_width(K)
    C = len(probs)
    stats = h[o[P.MO_STATS]:o[P.MO_STATS] + (len(labels) + 1) * W].reshape(-1, W)
    if stats[-1].any():  # pragma: no cover - every value of [lo, hi] has a row
        raise AssertionError("segscore GPU multi-rater pass: a label value without a row")
    stats = stats[:-1]
    seen = stats[:, :1 + K].any(axis=1) | np.isin(labels, np.asarray(seed, dtype=np.int64))
    if pred is None:
        seen = stats[:, 1:1 + K].any(axis=1) | np.isin(labels, np.asarray(seed, dtype=np.int64))

    def fix(key, n):
        w = h[o[key]:o[key] + 2 * n].reshape(-1, 2)
        return P.mr_fixed_to_double(w[:, 0].view(np.uint64), w[:, 1].view(np.uint64))

    res.update(labels=labels[seen].copy(), stats=np.ascontiguousarray(stats[seen]), psum=fix(P.MO_PSUM, C),
               pvsum=fix(P.MO_PVSUM, C))
    if target is not None:
        def keys(key, inf):
            k = h[o[key]:o[key] + C]
            v = P.mr_unkey(k)
            return np.where(k == (np.iinfo(np.int64).max if inf > 0 else np.iinfo(np.int64).min), inf, v)

        res.update(brier=fix(P.MO_BRIER, C),
                   cw_count=h[o[P.MO_CWC]:o[P.MO_CWC] + 2 * C * nb].reshape(C, nb, 2).copy(),
                   cw_conf=fix(P.MO_CWF, C * nb).reshape(C, nb),
                   top_count=h[o[P.MO_TC]:o[P.MO_TC] + 2 * nb].reshape(nb, 2).copy(),
                   top_conf=fix(P.MO_TF, nb),
                   pmin=keys(P.MO_PMIN, np.inf), pmax=keys(P.MO_PMAX, -np.inf),
                   pnan=h[o[P.MO_PNAN]:o[P.MO_PNAN] + C].copy(),
                   rowdev=float(P.mr_unkey(h[o[P.MO_ROWDEV]:o[P.MO_ROWDEV] + 1])[0]))
    return res
