"""One case: validated inputs, the single counting pass and label regions."""

from __future__ import annotations

import math
from numbers import Integral

import numpy as np

from .._core import validate as V
from .._core.backends import cpu, resolve_threads


class Case:
    """Validated (pred, ref) pair with the counting pass done.

    ``regions`` maps each reported key (an int label or a name) to the tuple of
    label values forming it; bool masks have the single region ``{1: (1,)}``.
    """

    def __init__(self, pred, ref, spacing=None, labels=None, ignore_label=None, threads=None, label=None,
                 device=None):
        from .. import gpu as _gpu

        dev = _gpu.prepare([pred, ref], ["pred", "ref"], device)  # None: the CPU path
        if dev is None:
            p = V.as_host_array(pred, "pred")
            r = V.as_host_array(ref, "ref")
        else:
            p, r = dev
        self.device = "cpu" if dev is None else _gpu.backend_name(p)
        V.check_label_map(p, "pred")
        V.check_label_map(r, "ref")
        V.check_same_shape(p, r)
        self.is_mask = p.dtype == np.bool_ and r.dtype == np.bool_
        if (p.dtype == np.bool_) != (r.dtype == np.bool_):
            raise TypeError(
                f"pred has dtype {p.dtype} but ref has dtype {r.dtype}: pass both as bool masks "
                "(e.g. ref == k) or both as integer label maps"
            )
        self.pred, self.ref = p, r
        self.shape = p.shape
        self.ndim = p.ndim
        self.spacing = V.check_spacing(spacing, p.ndim)
        self.voxel_mm3 = float(math.prod(self.spacing))
        self.threads = resolve_threads(threads)
        if ignore_label is None:
            self.ignore = -1
        else:
            if self.is_mask:
                raise ValueError("ignore_label applies to label maps, not to bool masks")
            self.ignore = V.check_label_value(ignore_label, "ignore_label")
        if label is not None and labels is not None:
            raise ValueError("pass either label= (one label, float result) or labels= (several), not both")
        if label is not None and self.is_mask:
            raise ValueError("label= applies to integer label maps; bool masks have one region already")
        self.single = self.is_mask or label is not None
        # validate the requested labels before the C++ pass
        regions = None
        if self.is_mask:
            regions = {1: (1,)}
        elif label is not None:
            regions = {_key_of(label): _members(label, "label")}
        elif labels is not None:
            regions = _parse_labels(labels, self.ignore)
        self.stats = (cpu() if dev is None else _gpu).overlap_stats(p, r, self.ignore, self.threads)
        V.check_label_range(self.stats, dtypes=(p.dtype, r.dtype))
        if regions is None:
            pairs = np.asarray(self.stats["pairs"], dtype=np.int64).reshape(-1, 3)
            present = np.sort(np.concatenate((pairs[:, 0], pairs[:, 1])))  # sorted unique, by a sort
            present = present[np.concatenate(([True], present[1:] != present[:-1]))] if len(present) else present
            present = present[(present != 0) & (present != self.ignore)].tolist()
            regions = {v: (v,) for v in present}
        self.regions = regions

    # ------------------------------------------------------------------ counts
    @property
    def index(self) -> "LabelIndex":
        """Per-label tables of the counting pass (built once, on first use)."""
        idx = self.__dict__.get("_index")
        if idx is None:
            idx = self._index = LabelIndex(self.stats, self.ndim)
        return idx

    def counts(self, members):
        """tp, fp, fn, tn (voxels) of the union region `members`."""
        if len(members) == 1:
            return self.index.counts([members[0]])[0]
        pairs = self.stats["pairs"]
        m = np.asarray(members, dtype=np.int64)
        if len(pairs) == 0:
            return 0, 0, 0, 0
        inp = np.isin(pairs[:, 0], m)
        inr = np.isin(pairs[:, 1], m)
        c = pairs[:, 2]
        tp = int(c[inp & inr].sum())
        vp = int(c[inp].sum())
        vr = int(c[inr].sum())
        n = int(self.stats["counted"])
        return tp, vp - tp, vr - tp, n - vp - vr + tp

    def box(self, members):
        """Bounding box (lo, hi inclusive) of the region in pred or ref, or None."""
        if len(members) == 1:
            return self.index.boxes([members[0]])[0]
        nd = self.ndim
        lo = np.full(nd, np.iinfo(np.int64).max)
        hi = np.full(nd, -1)
        found = False
        m = np.asarray(members, dtype=np.int64)
        for key in ("pred_boxes", "ref_boxes"):
            b = self.stats[key]
            if len(b) == 0:
                continue
            sel = b[np.isin(b[:, 0], m)]
            if len(sel):
                found = True
                lo = np.minimum(lo, sel[:, 1:1 + nd].min(axis=0))
                hi = np.maximum(hi, sel[:, 1 + nd:].max(axis=0))
        if not found:
            return None
        return tuple(int(v) for v in lo), tuple(int(v) for v in hi)

    def region_counts(self, keys=None) -> dict:
        """{key: (tp, fp, fn, tn)} of the regions `keys` (default: all), single-label
        regions looked up in one vectorised step, unions one by one."""
        return self._per_region(keys, self.index.counts, self.counts)

    def region_boxes(self, keys=None) -> dict:
        """{key: box or None} (see :meth:`box`) of the regions `keys` (default: all)."""
        return self._per_region(keys, self.index.boxes, self.box)

    def _per_region(self, keys, many, one):
        keys = list(self.regions) if keys is None else list(keys)
        mem = [self.regions[k] for k in keys]
        single = [i for i, m in enumerate(mem) if len(m) == 1]
        out = [None] * len(keys)
        for i, v in zip(single, many([mem[i][0] for i in single])):
            out[i] = v
        for i, m in enumerate(mem):
            if len(m) != 1:
                out[i] = one(m)
        return dict(zip(keys, out))


def _sum_by(keys: np.ndarray, vals: np.ndarray):
    """(sorted unique keys, int64 sum of `vals` per key): one sort, no dense table."""
    if len(keys) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    order = np.argsort(keys, kind="stable")
    k = keys[order]
    starts = np.flatnonzero(np.concatenate(([True], k[1:] != k[:-1])))
    return k[starts], np.add.reduceat(vals[order].astype(np.int64, copy=False), starts)


def lookup(table_keys: np.ndarray, values, absent=-1):
    """Row of each value in the sorted unique `table_keys` (`absent` where missing)."""
    v = np.asarray(values, dtype=np.int64).reshape(-1)
    if len(table_keys) == 0 or len(v) == 0:
        return np.full(len(v), absent, dtype=np.int64)
    i = np.searchsorted(table_keys, v)
    ic = np.minimum(i, len(table_keys) - 1)
    return np.where(table_keys[ic] == v, ic, absent)


class LabelIndex:
    """Per-label tables of one counting pass, built once with sorts (n log n in the
    number of (pred, ref) pairs and boxes): each label's voxels in pred, in ref and in
    both, and its pred and ref boxes, looked up by binary search.  Every per-label
    query of a case goes through it, so scoring n labels costs O(n log n), not
    O(n x pairs)."""

    def __init__(self, stats: dict, nd: int):
        pairs = np.asarray(stats["pairs"], dtype=np.int64).reshape(-1, 3)
        p, r, c = pairs[:, 0], pairs[:, 1], pairs[:, 2]
        self.counted = int(stats["counted"])
        self.nd = nd
        self.p_lab, self.p_cnt = _sum_by(p, c)
        self.r_lab, self.r_cnt = _sum_by(r, c)
        same = p == r
        self.t_lab, self.t_cnt = _sum_by(p[same], c[same])
        self.boxes_of = {}
        for key in ("pred_boxes", "ref_boxes"):
            b = np.asarray(stats[key], dtype=np.int64).reshape(-1, 1 + 2 * nd)
            if len(b) > 1 and not np.all(b[1:, 0] > b[:-1, 0]):
                b = b[np.argsort(b[:, 0], kind="stable")]
            self.boxes_of[key] = b

    @staticmethod
    def _gather(keys, vals, values):
        row = lookup(keys, values)
        out = np.zeros(len(row), dtype=np.int64)
        hit = row >= 0
        out[hit] = vals[row[hit]]
        return out

    def counts(self, values) -> list:
        """[(tp, fp, fn, tn)] (Python ints) of each single label in `values`."""
        tp = self._gather(self.t_lab, self.t_cnt, values)
        vp = self._gather(self.p_lab, self.p_cnt, values)
        vr = self._gather(self.r_lab, self.r_cnt, values)
        if self.counted == 0:
            z = [0] * len(tp)
            return list(zip(z, z, z, z))
        fp, fn = vp - tp, vr - tp
        tn = self.counted - vp - vr + tp
        return list(zip(tp.tolist(), fp.tolist(), fn.tolist(), tn.tolist()))

    def boxes(self, values) -> list:
        """[((lo...), (hi...)) or None]: box of pred ∪ ref of each single label in `values`."""
        nd = self.nd
        v = np.asarray(values, dtype=np.int64).reshape(-1)
        lo = np.full((len(v), nd), np.iinfo(np.int64).max, dtype=np.int64)
        hi = np.full((len(v), nd), -1, dtype=np.int64)
        found = np.zeros(len(v), dtype=bool)
        for b in self.boxes_of.values():
            row = lookup(b[:, 0], v) if len(b) else np.full(len(v), -1, np.int64)
            hit = row >= 0
            sel = b[row[hit]]
            lo[hit] = np.minimum(lo[hit], sel[:, 1:1 + nd])
            hi[hit] = np.maximum(hi[hit], sel[:, 1 + nd:])
            found |= hit
        los, his = lo.tolist(), hi.tolist()
        return [(tuple(a), tuple(b)) if f else None for a, b, f in zip(los, his, found.tolist())]


def _key_of(label):
    if isinstance(label, tuple):
        return label
    return V.check_label_value(label, "label")


def _members(spec, what) -> tuple:
    if isinstance(spec, (tuple, list, set, frozenset)):
        vals = tuple(sorted({V.check_label_value(v, what) for v in spec}))
        if not vals:
            raise ValueError(f"{what}: a label region needs at least one label value")
        return vals
    return (V.check_label_value(spec, what),)


def _parse_labels(labels, ignore) -> dict:
    if isinstance(labels, dict):
        out = {}
        for name, spec in labels.items():
            if isinstance(name, Integral) and not isinstance(name, bool) and not isinstance(spec, (tuple, list, set)):
                out[int(name)] = _members(spec, f"labels[{name!r}]")
            else:
                out[name] = _members(spec, f"labels[{name!r}]")
        regions = out
    elif isinstance(labels, (Integral, np.integer)) and not isinstance(labels, bool):
        regions = {int(labels): (int(labels),)}
    else:
        try:
            seq = list(labels)
        except TypeError:
            raise TypeError(f"labels must be ints, a sequence of ints or {{name: int | tuple}}, got {labels!r}") from None
        regions = {}
        for v in seq:
            if isinstance(v, tuple):
                regions[v] = _members(v, "labels")
            else:
                k = V.check_label_value(v, "labels")
                regions[k] = (k,)
    for key, mem in regions.items():
        if 0 in mem:
            raise ValueError(f"label region {key!r} contains 0, the background; segscore scores foreground labels")
        if ignore >= 0 and ignore in mem:
            raise ValueError(f"label region {key!r} contains the ignore_label {ignore}")
    return regions
