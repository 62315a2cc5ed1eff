"""The three component operations the lesion layer uses, in the shapes it wants.

``label(mask, connectivity, order)`` -> (labels, n); ``overlap(pred, ref, n_pred, n_ref)``
-> (pairs (k, 3) int64 rows (pred id, ref id, voxels) sorted, voxels per pred id, voxels per
ref id; index 0 unused); ``boxes(labels, n)`` -> (lo, hi), inclusive, per id (row 0 unused).
All three run in C++ (segscore.lesion.components).
"""

from __future__ import annotations

import numpy as np

from .components import component_stats, connected_components, overlap_table


def label(mask, connectivity: int, order: str = "C"):
    labels, n = connected_components(mask, connectivity, order=order)
    return labels, int(n)


def _padded(v, n):
    out = np.zeros(n + 1, np.int64)
    out[1:len(v) + 1] = v[:n]
    return out


def overlap(pred, ref, n_pred: int, n_ref: int):
    t = overlap_table(pred, ref)
    return t.pairs.astype(np.int64, copy=False), _padded(t.pred_voxels, n_pred), _padded(t.ref_voxels, n_ref)


def boxes(labels, n: int):
    nd = labels.ndim
    lo = np.zeros((n + 1, nd), np.int64)
    hi = np.full((n + 1, nd), -1, np.int64)
    if n == 0:
        return lo, hi
    st = component_stats(labels)
    k = min(st.n, n)
    lo[1:k + 1] = st.bbox_lo[:k]
    hi[1:k + 1] = st.bbox_hi[:k]
    return lo, hi
