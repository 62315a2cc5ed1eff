"""One case: validated inputs, the single counting pass and label regions."""

from __future__ import annotations

import math
from numbers import Integral

import numpy as np

from . import _validate as V
from ._backend import cpu, resolve_threads


class Case:
    """Validated (pred, ref) pair with the counting pass done.

    ``regions`` maps each reported key (an int label or a name) to the tuple of
    label values forming it; bool masks have the single region ``{1: (1,)}``.
    """

    def __init__(self, pred, ref, spacing=None, labels=None, ignore_label=None, threads=None, label=None,
                 device=None):
        from . import _gpu

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
        V.check_label_range(self.stats)
        if regions is None:
            pairs = self.stats["pairs"]
            present = np.union1d(pairs[:, 0], pairs[:, 1]) if len(pairs) else np.zeros(0, np.int64)
            present = [int(v) for v in present if v != 0 and v != self.ignore]
            regions = {v: (v,) for v in present}
        self.regions = regions

    # ------------------------------------------------------------------ counts
    def counts(self, members):
        """tp, fp, fn, tn (voxels) of the union region `members`."""
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
