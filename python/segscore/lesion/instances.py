"""Instances of one region: components (or given instance ids), reference merging by
dilation, and the dilation of one lesion restricted to its bounding box plus margin."""

from __future__ import annotations

import itertools

import numpy as np

from . import _cc


def offsets(ndim: int) -> list:
    """The structuring element generate_binary_structure(ndim, 2) as offsets (the centre
    excluded): 18 neighbours in 3-D, 8 in 2-D."""
    return [o for o in itertools.product((-1, 0, 1), repeat=ndim) if 0 < sum(map(abs, o)) <= 2]


def dilate(mask: np.ndarray, iterations: int) -> np.ndarray:
    """Binary dilation by the (ndim, 2) structure, `iterations` times, border value 0 (as
    scipy.ndimage.binary_dilation, which runs it when scipy is installed); the caller gives a
    crop with `iterations` voxels of margin (or the array border) around the mask."""
    if iterations == 0:
        return mask.astype(bool, copy=True)
    try:
        from scipy import ndimage
    except ImportError:
        ndimage = None
    if ndimage is not None:
        return ndimage.binary_dilation(mask, structure=ndimage.generate_binary_structure(mask.ndim, 2),
                                       iterations=iterations)
    cur = mask.astype(bool, copy=True)
    offs = offsets(mask.ndim)
    for _ in range(iterations):
        nxt = cur.copy()
        for o in offs:
            dst = tuple(slice(max(d, 0), n + min(d, 0)) for d, n in zip(o, cur.shape))
            src = tuple(slice(max(-d, 0), n + min(-d, 0)) for d, n in zip(o, cur.shape))
            nxt[dst] |= cur[src]
        cur = nxt
    return cur


def crop(lo, hi, margin: int, shape) -> tuple:
    """Slices of the box lo..hi (inclusive) grown by `margin`, clipped to `shape`."""
    return tuple(slice(max(int(a) - margin, 0), min(int(b) + margin + 1, n)) for a, b, n in zip(lo, hi, shape))


def remap_given(inst: np.ndarray):
    """Instance ids renumbered 1..n by sorted value (MONAI's remap_instance_id); (map, n)."""
    ids = np.unique(inst)
    ids = ids[ids != 0]
    if len(ids) == 0:
        return np.zeros(inst.shape, np.int32), 0
    if ids[-1] == len(ids) and ids[0] == 1:
        return np.ascontiguousarray(inst, dtype=np.int32), int(len(ids))
    out = np.searchsorted(ids, inst).astype(np.int32) + 1
    out[inst == 0] = 0
    return out, int(len(ids))


def region_mask(a: np.ndarray, labels) -> np.ndarray:
    """a > 0 (labels None) or a in labels (a few comparisons for a few labels)."""
    if labels is None:
        return a > 0
    if len(labels) <= 4:
        m = a == labels[0]
        for x in labels[1:]:
            m |= a == x
        return m
    return np.isin(a, labels)


def _touching(d, full):
    """d and its 26 (8) neighbours."""
    try:
        from scipy import ndimage
    except ImportError:
        ndimage = None
    if ndimage is not None:
        return ndimage.binary_dilation(d, structure=np.ones((3,) * d.ndim, bool))
    ring = d.copy()
    for o in full:
        dst = tuple(slice(max(q, 0), m + min(q, 0)) for q, m in zip(o, d.shape))
        src = tuple(slice(max(-q, 0), m + min(-q, 0)) for q, m in zip(o, d.shape))
        ring[dst] |= d[src]
    return ring


def merge_by_dilation(ref_cc: np.ndarray, n: int, iterations: int, boxes):
    """Reference components whose dilations form one connected component (26-connectivity, as
    the BraTS script labels the dilated mask) become one lesion.

    Each component is dilated on its own box + `iterations` (a dilation never leaves it);
    a component joins every earlier one whose dilation overlaps or touches its own (checked
    on one more ring of 26 neighbours), so only the components' boxes are ever touched.
    Lesions are numbered by their smallest component id.  `ref_cc` is an id map or a
    _cc.Instances (read through its crops; its whole map is painted only when lesions merge).
    Returns (lesion map, n lesions, lut component id -> lesion id); the lesion map is
    `ref_cc` itself when no lesions merge."""
    if n == 0 or iterations == 0:
        return ref_cc, n, np.arange(n + 1)
    part = ref_cc.crop if hasattr(ref_cc, "crop") else ref_cc.__getitem__
    lo_all = boxes[0][1:].min(0)
    hi_all = boxes[1][1:].max(0)
    shape = ref_cc.shape
    off = np.maximum(lo_all - iterations - 1, 0)
    top = np.minimum(hi_all + iterations + 2, shape)
    owner = np.zeros(tuple(int(t - o) for t, o in zip(top, off)), np.int32)  # the region's box, not the volume
    parent = np.arange(n + 1)

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    full = [o for o in itertools.product((-1, 0, 1), repeat=len(shape)) if any(o)]
    for i in range(1, n + 1):
        sl = crop(boxes[0][i], boxes[1][i], iterations + 1, shape)
        d = dilate(part(sl) == i, iterations)
        ring = _touching(d, full)
        osl = tuple(slice(s_.start - int(o), s_.stop - int(o)) for s_, o in zip(sl, off))
        own = owner[osl]
        for j in np.unique(own[ring]):
            if j:
                a, b = find(int(j)), find(i)
                if a != b:
                    parent[max(a, b)] = min(a, b)
        own[d & (own == 0)] = i
    roots = np.array([find(i) for i in range(n + 1)])
    uniq = np.unique(roots[1:])
    rank = np.zeros(n + 1, np.int64)
    rank[uniq] = np.arange(1, len(uniq) + 1)   # roots are the smallest ids of their groups
    lut = rank[roots]
    lut[0] = 0
    if len(uniq) == n:
        return ref_cc, n, lut
    src = ref_cc.labels if hasattr(ref_cc, "labels") else ref_cc
    out = src.copy()
    for i in np.flatnonzero(lut[1:] != np.arange(1, n + 1)) + 1:  # relabel on each changed component's box
        sl = crop(boxes[0][i], boxes[1][i], 0, shape)
        sub = out[sl]
        sub[src[sl] == i] = lut[i]
    return out, int(len(uniq)), lut
