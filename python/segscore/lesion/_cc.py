"""The three component operations the lesion layer uses, behind one small adapter.

``label(mask, connectivity, order)`` -> (int32 labels, n); ``overlap(pred, ref)`` ->
(pairs (k, 3) int64 rows (pred id, ref id, voxels) sorted, pred voxels per id, ref voxels
per id); ``boxes(labels, n)`` -> (lo, hi) inclusive per id (row 0 unused).

TEMPORARY stand-in (cc3d + numpy) until segscore.lesion.components lands; only this file
changes then.
"""

from __future__ import annotations

import numpy as np


def label(mask, connectivity: int, order: str = "C"):
    import cc3d

    m = np.ascontiguousarray(mask) if order == "C" else np.asfortranarray(mask)
    out, n = cc3d.connected_components(m, connectivity=connectivity, return_N=True)
    return np.ascontiguousarray(out, dtype=np.int32), int(n)


def overlap(pred, ref, n_pred: int, n_ref: int):
    p = pred.ravel()
    r = ref.ravel()
    both = (p > 0) & (r > 0)
    code = p[both].astype(np.int64) * (n_ref + 1) + r[both]
    vals, counts = np.unique(code, return_counts=True)
    pairs = np.empty((len(vals), 3), np.int64)
    pairs[:, 0] = vals // (n_ref + 1)
    pairs[:, 1] = vals % (n_ref + 1)
    pairs[:, 2] = counts
    pv = np.bincount(p, minlength=n_pred + 1).astype(np.int64)
    rv = np.bincount(r, minlength=n_ref + 1).astype(np.int64)
    return pairs, pv, rv


def boxes(labels, n: int):
    nd = labels.ndim
    lo = np.zeros((n + 1, nd), np.int64)
    hi = np.full((n + 1, nd), -1, np.int64)
    if n == 0:
        return lo, hi
    from scipy import ndimage

    for i, sl in enumerate(ndimage.find_objects(labels, max_label=n), start=1):
        if sl is None:
            continue
        lo[i] = [s.start for s in sl]
        hi[i] = [s.stop - 1 for s in sl]
    return lo, hi
