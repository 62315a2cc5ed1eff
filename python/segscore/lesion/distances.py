"""Per-lesion boundary distances through the batched surface path.

Each (reference lesion, predicted components) pair is cut out on the union of their
bounding boxes with one voxel of background around it, and the crops are packed along
the first axis into a few small label maps (pair k has label k + 1 in both): one C++
call per pack computes every pair's directed distances (threads over pairs), and each
pair gets its own :class:`SurfaceDistances`.  Memory follows the lesions' boxes, never the
volume; the distances equal those of the whole-volume masks because every convention
treats the outside of the image as background and crops to the union box itself.

On the GPU (instance maps that are device arrays) nothing is packed: every pair is one
region of the batched surface launches (gpu/ops.pair_surface_distances), which cut the
same padded union-box crops out of the two instance maps on the device, a pair's pred
ids in one map and its ref ids in the other; the crops, boundary elements and their
raster order are those of the packed CPU crops, so the distances are the same numbers.
"""

from __future__ import annotations

import numpy as np

from ..metrics.surface import conventions as _sconv
from ..metrics.surface.distances import SurfaceDistances
from ..metrics.surface.functional import Region
from .._core.arrays import DeviceArray
from .._core.backends import cpu
from ._cc import Instances

_PACK_WASTE = 2.0  # a pack holds at most this many times the voxels of its crops (+ a constant)


def pair_distances(pred_lab, ref_lab, items, pred_boxes, ref_boxes, spacing, convention, threads=0,
                   tolerance=None, connectivity=1, pred_voxels=None, ref_voxels=None):
    """[SurfaceDistances] for `items` = [(ref ids, pred ids)], both non-empty.

    pred_lab / ref_lab: id maps or _cc.Instances (the crops are painted from their runs), or
    DeviceArrays (then pred_voxels / ref_voxels, the voxels per id with index 0 unused, are
    needed: the GPU path reads the pairs' counts from them).  pred_boxes / ref_boxes: (lo, hi)
    arrays of inclusive boxes per id."""
    conv = _sconv.get(convention)
    if not items:
        return []
    if isinstance(pred_lab, np.ndarray):
        pred_lab = Instances(0, pred_lab.shape, labels=pred_lab)
    if isinstance(ref_lab, np.ndarray):
        ref_lab = Instances(0, ref_lab.shape, labels=ref_lab)
    nd = pred_lab.ndim
    shape = pred_lab.shape
    if all(len(r) == 1 and len(p) == 1 for r, p in items):  # the common case, vectorised
        ri = np.array([r[0] for r, _ in items])
        pi = np.array([p[0] for _, p in items])
        los = np.minimum(ref_boxes[0][ri], pred_boxes[0][pi])
        his = np.maximum(ref_boxes[1][ri], pred_boxes[1][pi])
    else:
        los = np.array([np.minimum(ref_boxes[0][list(r)].min(0), pred_boxes[0][list(p)].min(0)) for r, p in items])
        his = np.array([np.maximum(ref_boxes[1][list(r)].max(0), pred_boxes[1][list(p)].max(0)) for r, p in items])
    if isinstance(pred_lab, DeviceArray):
        return _pair_distances_gpu(pred_lab, ref_lab, items, los, his, spacing, conv, tolerance, connectivity,
                                   pred_voxels, ref_voxels)
    ext_a = his - los + 1
    ext = ext_a.tolist()
    vol = np.prod(ext_a + 2, axis=1).tolist()
    order = np.argsort(-np.prod(ext_a[:, 1:], axis=1), kind="stable").tolist() if nd > 1 else list(range(len(items)))
    packs, cur = [], []
    rows = real = 0
    tail = [0] * (nd - 1)
    for k in order:  # running totals: one pass
        t2 = [max(a, b + 2) for a, b in zip(tail, ext[k][1:])]
        r2 = rows + ext[k][0] + 2
        packed = r2
        for x in t2:
            packed *= x
        if cur and packed > _PACK_WASTE * (real + vol[k]) + 4096:
            packs.append(cur)
            cur, rows, real = [k], ext[k][0] + 2, vol[k]
            tail = [b + 2 for b in ext[k][1:]]
        else:
            cur.append(k)
            rows, real, tail = r2, real + vol[k], t2
    if cur:
        packs.append(cur)
    out = [None] * len(items)
    sp = [float(s) for s in spacing]
    mod = cpu()
    boundary = 1 if conv.boundary == "corner" else 0
    for pack in packs:
        rows = sum(ext[j][0] + 2 for j in pack)
        tail = [max(ext[j][d] for j in pack) + 2 for d in range(1, nd)]
        dt = np.int32
        P = np.zeros([rows] + tail, dt)
        R = np.zeros([rows] + tail, dt)
        regs = []
        off = 0
        for j in pack:
            rids, pids = items[j]
            lo, hi = los[j].tolist(), his[j].tolist()
            e = ext[j]
            dst = (slice(off + 1, off + 1 + e[0]),) + tuple(slice(1, 1 + x) for x in e[1:])
            pred_lab.paint_ids(P[dst], lo, hi, list(pids), j + 1)
            ref_lab.paint_ids(R[dst], lo, hi, list(rids), j + 1)
            regs.append(Region((j + 1,), (off + 1,) + (1,) * (nd - 1), (off + e[0],) + tuple(e[1:])))
            off += e[0] + 2
        res = mod.surface_distances(P, R, regions=regs, boundary=boundary, connectivity=connectivity, spacing=sp,
                                    ignore_label=-1, biou_width=-1.0, biou_strict=False, biou_unit_spacing=False,
                                    threads=threads)
        for j, (dp, wp, dr, wr, npv, nrv, _, _) in zip(pack, res):
            out[j] = SurfaceDistances(dp, wp, dr, wr, npv, nrv, conv, tuple(sp), shape, None, None, None, tolerance)
    return out


def _pair_distances_gpu(pred_lab, ref_lab, items, los, his, spacing, conv, tolerance, connectivity, pv, rv):
    """Every pair of the case through the batched GPU surface launches (one batch unless
    device memory is short); no packing, no host copy of the instance maps."""
    from ..gpu import ops as _gops

    if pv is None or rv is None:
        raise ValueError("per-lesion distances on the GPU need the voxels per id (pred_voxels, ref_voxels)")
    pairs, counts = [], []
    for (rids, pids), lo, hi in zip(items, los.tolist(), his.tolist()):
        pairs.append((sorted(int(p) for p in pids), sorted(int(r) for r in rids), lo, hi))
        counts.append((int(sum(int(pv[p]) for p in pids)), int(sum(int(rv[r]) for r in rids))))
    sp = [float(s) for s in spacing]
    boundary = 1 if conv.boundary == "corner" else 0
    res = _gops.pair_surface_distances(pred_lab, ref_lab, pairs, counts, boundary, connectivity, sp)
    shape = tuple(pred_lab.shape)
    return [SurfaceDistances(dp, wp, dr, wr, npv, nrv, conv, tuple(sp), shape, None, None, None, tolerance)
            for dp, wp, dr, wr, npv, nrv, _, _ in res]
