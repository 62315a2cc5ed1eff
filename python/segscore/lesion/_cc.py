"""The instances of one map as the lesion layer uses them, and their overlap table.

:class:`Instances` holds ids 1..n either as the runs of a connected-component labelling
(``components``: C++ ``label_runs``; voxel counts, boxes, crops and the overlap table are read
from the runs, the whole id map is painted only when a caller asks for ``.labels``) or as a
given id map (``given``); ``label`` returns the painted map and its n.  ``overlap(pred, ref)`` -> (pairs (k, 3) int64 rows (pred id, ref
id, voxels) sorted, voxels per pred id, voxels per ref id; index 0 unused);
``Instances.boxes()`` -> (lo, hi), inclusive, per id (row 0 unused).  Component ids are
those of :func:`segscore.connected_components` (cc3d's numbering).
"""

from __future__ import annotations

import numpy as np

from .._core.backends import cpu
from .components import component_stats, connected_components, overlap_table


def _padded(v, n):
    out = np.zeros(n + 1, np.int64)
    out[1:len(v) + 1] = v[:n]
    return out


class Instances:
    """Ids 1..n of one map: runs of a labelling (`runs`) or an id map (`labels`)."""

    __slots__ = ("n", "shape", "_runs", "_labels", "_stats", "_threads")

    def __init__(self, n, shape, *, runs=None, labels=None, threads=0):
        self.n = int(n)
        self.shape = tuple(shape)
        self._runs = runs
        self._labels = labels
        self._stats = None
        self._threads = threads

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def labels(self) -> np.ndarray:
        """The id map (painted from the runs on first use)."""
        if self._labels is None:
            self._labels = self._runs.paint(self._threads)
        return self._labels

    def _stat(self):
        if self._stats is None:
            if self._runs is not None:
                self._stats = self._runs.stats()
            else:
                nd = self.ndim
                lo = np.zeros((self.n + 1, nd), np.int64)
                hi = np.full((self.n + 1, nd), -1, np.int64)
                vox = np.zeros(self.n + 1, np.int64)
                if self.n:
                    st = component_stats(self._labels, threads=self._threads or None)
                    k = min(st.n, self.n)
                    lo[1:k + 1] = st.bbox_lo[:k]
                    hi[1:k + 1] = st.bbox_hi[:k]
                    vox[1:k + 1] = st.voxels[:k]
                self._stats = (vox, lo, hi)
        return self._stats

    def voxels(self) -> np.ndarray:
        """Voxels per id, (n + 1,) int64, index 0 unused."""
        return self._stat()[0]

    def boxes(self):
        """(lo, hi): inclusive boxes per id, (n + 1, ndim) int64, row 0 unused."""
        _, lo, hi = self._stat()
        return lo, hi

    def crop(self, sl) -> np.ndarray:
        """The ids inside the box `sl` (a tuple of slices with steps of 1), int32."""
        if self._labels is not None or self._runs is None:
            return self._labels[sl]
        lo = [s.start for s in sl]
        hi = [s.stop - 1 for s in sl]
        out = np.zeros([b - a + 1 for a, b in zip(lo, hi)], np.int32)
        if out.size:
            self._runs.paint_box(out, lo, hi, [], 0)
        return out

    def paint_ids(self, out, lo, hi, ids, value) -> None:
        """out[v] = value for the voxels v of the box lo..hi (inclusive) whose id is in `ids`."""
        if self._runs is not None:
            self._runs.paint_box(out, lo, hi, ids, value)
            return
        sl = tuple(slice(a, b + 1) for a, b in zip(lo, hi))
        sub = self._labels[sl]
        out[sub == ids[0] if len(ids) == 1 else np.isin(sub, ids)] = value


def components(mask, connectivity: int, order: str = "C", threads: int = 0) -> Instances:
    """The connected components of `mask` (> 0), as runs; `connectivity`: 4 / 8 (2-D), 6 / 18 / 26."""
    c3 = {4: 6, 8: 26}.get(connectivity, connectivity)  # 2-D runs as one slice of a volume
    runs, negative = cpu().label_runs(mask, c3, True, order == "F", 0, threads)
    if negative:
        raise ValueError("the map contains negative values; labels must be >= 0 (0 is background)")
    return Instances(runs.n, mask.shape, runs=runs, threads=threads)


def label(mask, connectivity: int, order: str = "C"):
    """(labels, n): the component map itself."""
    labels, n = connected_components(mask, connectivity, order=order)
    return labels, int(n)


def given(labels: np.ndarray, n: int, threads: int = 0) -> Instances:
    """An id map with ids 1..n."""
    return Instances(n, labels.shape, labels=labels, threads=threads)


def overlap(pred: Instances, ref: Instances, threads: int = 0):
    """(pairs, voxels per pred id, voxels per ref id) of two instance sets of one shape."""
    n_p, n_r = pred.n, ref.n
    pr, rr = pred._runs, ref._runs
    if pr is not None and rr is not None and pr.walk_f == rr.walk_f:
        pairs = cpu().runs_overlap(pr, rr, threads)
        return pairs, pred.voxels(), ref.voxels()
    t = overlap_table(pred.labels, ref.labels, threads=threads or None)
    return t.pairs.astype(np.int64, copy=False), _padded(t.pred_voxels, n_p), _padded(t.ref_voxels, n_r)
