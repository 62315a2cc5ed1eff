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
    scipy.ndimage.binary_dilation); the caller gives a crop with `iterations` voxels of
    margin (or the array border) around the mask."""
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


def merge_by_dilation(ref_cc: np.ndarray, n: int, iterations: int, connectivity: int):
    """Reference components whose dilations form one connected component become one lesion.

    The region is dilated once inside its bounding box + `iterations` (a dilation never
    leaves it); its components (`connectivity`) give each reference component its lesion.
    Lesions are numbered by their smallest component id.  Returns (lesion map, n lesions,
    lut component id -> lesion id)."""
    if n == 0 or iterations == 0:
        return ref_cc, n, np.arange(n + 1)
    fg = ref_cc > 0
    idx = np.nonzero(fg)
    lo = [int(i.min()) for i in idx]
    hi = [int(i.max()) for i in idx]
    sl = crop(lo, hi, iterations, ref_cc.shape)
    sub = ref_cc[sl]
    dil = dilate(sub > 0, iterations)
    dl, nd = _cc.label(dil, connectivity)
    m = sub > 0
    comp = sub[m].astype(np.int64)
    grp = dl[m].astype(np.int64)
    first = np.full(nd + 1, np.iinfo(np.int64).max)
    np.minimum.at(first, grp, comp)
    lut = np.zeros(n + 1, np.int64)
    lut[comp] = grp
    # renumber the groups by their smallest component id
    used = np.unique(grp)
    order = used[np.argsort(first[used], kind="stable")]
    rank = np.zeros(nd + 1, np.int64)
    rank[order] = np.arange(1, len(order) + 1)
    lut = rank[lut]
    lut[0] = 0
    if len(order) == n and np.array_equal(lut, np.arange(n + 1)):
        return ref_cc, n, lut
    return lut[ref_cc].astype(np.int32), int(len(order)), lut
