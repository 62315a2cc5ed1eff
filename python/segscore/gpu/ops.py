"""GPU operations: plan, allocate with the input's library, launch, collect.

Shared by both executors: the launch sequences come from plan.py and run
through ``backend.run``; this module allocates (the input's library), uploads
the tables and makes each operation's one host synchronisation.  Signatures of `overlap_stats` and
`surface_distances` are those of ``segscore._cpu`` (with `DeviceArray`
inputs), so the public API switches modules, not code paths.
"""

from __future__ import annotations

import numpy as np

from . import plan as P
from .._core.arrays import DeviceArray

GIB = float(1 << 30)


def _gib(n) -> str:
    """A byte count for messages."""
    for unit, size in (("GiB", GIB), ("MiB", float(1 << 20)), ("KiB", 1024.0)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{int(n)} bytes"


def _need(lib, device, need, what, details="", verb="needs"):
    avail = lib.mem_available(device)
    if need > avail:
        raise MemoryError(
            f"segscore: {what} {verb} {_gib(need)} of GPU memory{details} but only {_gib(avail)} is available on "
            f"CUDA device {device}; free GPU memory, use smaller inputs or device='cpu'"
        )
    return avail


class _Alloc:
    """Allocations of one call, with library OOM errors turned into MemoryError."""

    def __init__(self, lib, device, what):
        self.lib, self.device, self.what = lib, device, what
        self.keep = []

    def _guard(self, fn, nbytes):
        try:
            a = fn()
        except self.lib.oom_errors as exc:
            raise MemoryError(
                f"segscore: out of GPU memory allocating {_gib(nbytes)} for {self.what} on CUDA device "
                f"{self.device} ({exc}); free GPU memory, use smaller inputs or device='cpu'"
            ) from None
        self.keep.append(a)
        return a

    def empty(self, n, dtype):
        dtype = np.dtype(dtype)
        return self._guard(lambda: self.lib.empty((max(int(n), 1),), dtype, self.device), int(n) * dtype.itemsize)

    def zeros(self, n, dtype):
        dtype = np.dtype(dtype)
        return self._guard(lambda: self.lib.zeros((max(int(n), 1),), dtype, self.device), int(n) * dtype.itemsize)

    def upload(self, a):
        return self._guard(lambda: self.lib.from_host(np.ascontiguousarray(a), self.device), a.nbytes)

    def ptr(self, x):
        return self.lib.ptr(x)


# ----------------------------------------------------------------------------- EDT

def edt(x: DeviceArray, spacing, out_dtype, squared: bool, multilabel: bool, name: str = "mask"):
    """Exact EDT of a device array; returns an array of x's library."""
    lib, dev = x.lib, x.device
    out_dtype = np.dtype(out_dtype)
    in_code = P.edt_in_code(x.dtype)
    if multilabel and x.dtype.kind == "f":
        raise TypeError(f"{name} has dtype {x.dtype}; a label map must have an integer or bool dtype")
    with lib.device_ctx(dev):
        if x.size and x.dtype.kind == "f" and lib.any_nan(x.obj):
            raise ValueError(f"{name} contains NaN; the EDT needs a binary (zero / nonzero) input")
        if multilabel and x.size and x.dtype.kind == "i" and lib.min_value(x.obj) < 0:
            raise ValueError(f"{name} contains negative labels; labels must lie in [0, 2**31)")
        order = "F" if (x.f_contiguous() and not x.c_contiguous()) else "C"
        A = _Alloc(lib, dev, "the EDT")
        out = A._guard(lambda: lib.empty(x.shape, out_dtype, dev, order), x.size * out_dtype.itemsize)
        if x.size == 0:
            return out
        od = lib.wrap(out)
        avail = lib.mem_available(dev)
        plan = P.edt_plan(x.shape, x.strides, od.strides, spacing, out_dtype.itemsize, multilabel,
                          ws_budget=min(1 << 30, avail // 4))
        tmp_bytes = x.size * out_dtype.itemsize if plan.npasses > 1 else 0
        _need(lib, dev, tmp_bytes + plan.ws_bytes + (1 << 16), "the EDT",
              f" (a {x.size}-voxel {out_dtype} buffer and {_gib(plan.ws_bytes)} of line workspace)")
        tmp = A.empty(x.size, out_dtype) if plan.npasses > 1 else None
        ws = A.empty(plan.ws_bytes, np.uint8) if plan.ws_bytes else None
        ints = A.upload(np.concatenate([plan.fd.ravel(), plan.prefix.ravel()]))
        dbls = A.upload(plan.sp.ravel())
        ip = A.ptr(ints)
        launches = P.edt_launches(plan, in_code, bool(multilabel), out_dtype == np.float64, x.ptr, od.ptr,
                                  A.ptr(tmp) if tmp is not None else 0, A.ptr(ws) if ws is not None else 0, ip,
                                  A.ptr(dbls), ip + 8 * plan.fd.size, 2 if squared else 1)
        x.backend.run(dev, lib.stream(dev), launches)
    return out


# ----------------------------------------------------------------------------- counting pass

def overlap_stats(pred: DeviceArray, ref: DeviceArray, ignore_label: int, threads: int = 0) -> dict:
    """segscore._cpu.overlap_stats on the GPU: one read of both maps, one
    host synchronisation (the copy of counts and boxes)."""
    lib, dev = pred.lib, pred.device
    pcode, rcode = P.label_code(pred.dtype), P.label_code(ref.dtype)
    K = P.STATS_K
    with lib.device_ctx(dev):
        while True:
            plan = P.stats_plan(pred.shape, pred.strides, ref.strides, K)
            A = _Alloc(lib, dev, "the counting pass")
            st = A.empty(plan.size, np.int64)
            geo = A.upload(plan.geo)
            launches = P.stats_launches(plan, pred.ptr, pcode, ref.ptr, rcode, A.ptr(geo), int(ignore_label),
                                        A.ptr(st))
            pred.backend.run(dev, lib.stream(dev), launches)
            s = P.parse_stats(plan, np.asarray(lib.to_host(st))[:plan.size])
            overflow = s.pop("overflow")
            lo, hi = min(s["pred_min"], s["ref_min"]), max(s["pred_max"], s["ref_max"])
            if pred.size and (lo < 0 or hi >= 2**31):
                return s  # the caller reports the label range
            if not overflow:
                break
            if hi + 1 > P.STATS_K_MAX:
                from .._core.backends import cpu
                from .._core.arrays import to_host

                s = cpu().overlap_stats(to_host(pred), to_host(ref), int(ignore_label), int(threads or 0))
                break
            K = int(hi + 1)
    pred.cache["stats"] = (id(ref), int(ignore_label), s)
    return s


def _region_counts(stats, regions):
    pairs = stats["pairs"]
    out = []
    for labs, _, _, _ in regions:
        if len(pairs) == 0:
            out.append((0, 0))
            continue
        m = np.asarray(list(labs), np.int64)
        c = pairs[:, 2]
        out.append((int(c[np.isin(pairs[:, 0], m)].sum()), int(c[np.isin(pairs[:, 1], m)].sum())))
    return out


# ----------------------------------------------------------------------------- surface distances

def _empty_result():
    z = np.zeros(0, np.float64)
    return (z, z.copy(), z.copy(), z.copy(), 0, 0, 0, 0)


def surface_distances(pred: DeviceArray, ref: DeviceArray, regions, boundary, connectivity, spacing, ignore_label,
                      biou_width, biou_strict, biou_unit_spacing=False, threads=0):
    """segscore._cpu.surface_distances on the GPU: all regions of the case in
    one batch (a constant number of launches), results in the CPU's order."""
    nd = pred.ndim
    if nd < 1 or nd > 3:
        raise ValueError("segscore: surface distances support 1-D, 2-D and 3-D")
    if len(spacing) != nd:
        raise ValueError("segscore: spacing length != ndim")
    regions = [(tuple(sorted(int(v) for v in labs)), tuple(lo), tuple(hi), bool(empty))
               for labs, lo, hi, empty in regions]
    out = [_empty_result() for _ in regions]
    idx = [i for i, reg in enumerate(regions) if not reg[3]]
    if not idx:
        return out
    cached = pred.cache.get("stats")
    if cached is None or cached[0] != id(ref) or cached[1] != int(ignore_label):
        stats = overlap_stats(pred, ref, ignore_label, threads)
    else:
        stats = cached[2]
    counts = _region_counts(stats, regions)
    _run_regions(pred, ref, regions, idx, counts, out, boundary, connectivity, spacing, ignore_label, biou_width,
                 biou_strict, biou_unit_spacing)
    return out


def pair_surface_distances(pred: DeviceArray, ref: DeviceArray, pairs, counts, boundary, connectivity, spacing):
    """Directed boundary distances of regions that have their own ids in each map: the
    per-lesion distances of the lesion layer (a reference lesion and its matched
    components, on two instance maps).

    pairs[k] = (pred ids, ref ids, lo, hi): region k is ``pred in pred ids`` and ``ref in
    ref ids`` on the inclusive box lo..hi (the union of both boxes), both non-empty;
    counts[k] = (its pred voxels, its ref voxels), known from the overlap table (no
    counting pass runs).  All pairs of the case go through the batched surface launches
    of `surface_distances` (one batch unless memory is short); results are its tuples,
    in the order of `pairs`."""
    nd = pred.ndim
    if nd < 1 or nd > 3:
        raise ValueError("segscore: surface distances support 1-D, 2-D and 3-D")
    if len(spacing) != nd:
        raise ValueError("segscore: spacing length != ndim")
    regions = [(tuple(int(v) for v in pids), tuple(int(v) for v in lo), tuple(int(v) for v in hi), False,
                tuple(int(v) for v in rids)) for pids, rids, lo, hi in pairs]
    counts = [(int(a), int(b)) for a, b in counts]
    out = [_empty_result() for _ in regions]
    if regions:
        _run_regions(pred, ref, regions, list(range(len(regions))), counts, out, boundary, connectivity, spacing,
                     -1, -1.0, False, False)
    return out


def _run_regions(pred, ref, regions, idx, counts, out, boundary, connectivity, spacing, ignore_label, biou_width,
                 biou_strict, biou_unit_spacing):
    """The non-empty regions `idx` in memory-sized batches (a constant number of launches each)."""
    nd = pred.ndim
    lib, dev = pred.lib, pred.device
    corner = int(boundary) == 1
    biou = biou_width is not None and biou_width >= 0
    biou_sp = [1.0] * nd if biou_unit_spacing else list(spacing)
    with lib.device_ctx(dev):
        avail = lib.mem_available(dev)
        budget = int(avail * 0.8)  # regions are batched to fit; one that alone does not fit raises
        sizes = [(i, P.crop_bytes(P.crop_size(regions[i][1], regions[i][2]), biou)) for i in idx]
        todo = P.batches(sizes, budget)[::-1]
        while todo:
            batch = todo.pop()
            plan = P.surface_plan(regions, batch, nd, pred.strides, ref.strides, spacing, corner, biou, biou_sp,
                                  counts, ws_budget=min(1 << 30, avail // 8))
            if plan.total_bytes > avail and len(batch) > 1:  # split until each part fits
                half = len(batch) // 2
                todo += [batch[half:], batch[:half]]
                continue
            _surface_batch(pred, ref, regions, plan, counts, out, int(ignore_label), int(connectivity), biou,
                           float(biou_width) if biou else 0.0, bool(biou_strict), avail)


def _surface_batch(pred, ref, regions, plan, counts, out, ignore, conn, biou, width, strict, avail):
    lib, dev = pred.lib, pred.device
    batch = plan.index
    if plan.total_bytes > avail:
        parts = ", ".join(f"{k} {_gib(v)}" for k, v in plan.bytes.items())
        _need(lib, dev, plan.total_bytes, f"the crop of label region {regions[batch[0]][0]}",
              f" ({plan.V} crop voxels: {parts})")
    A = _Alloc(lib, dev, "surface distances")
    nf = plan.nfields_per_region
    V, L, R = plan.V, plan.L, plan.nreg
    masks = A.empty(2 * V, np.uint8)
    nb = A.empty(nf * V, np.uint8)
    cnt = A.empty(2 * L, np.int64)
    sums = A.empty(plan.nchunks + 1, np.int64)
    pos = A.empty(2 * L + 1, np.int64)
    field = A.empty(nf * V, np.float64)
    field_tmp = A.empty(nf * V, np.float64) if plan.edt.npasses > 1 else None
    ws = A.empty(plan.edt.ws_bytes, np.uint8) if plan.edt.ws_bytes else None
    d = A.empty(plan.ub, np.float64)
    w = A.empty(plan.ub, np.float64)
    res = A.zeros(4 * R, np.int64)
    ints = A.upload(plan.ints)
    dbls = A.upload(plan.dbls)
    launches = P.surface_launches(
        plan, pred.ptr, P.label_code(pred.dtype), ref.ptr, P.label_code(ref.dtype), ignore, conn, biou, width, strict,
        A.ptr(ints), A.ptr(dbls), A.ptr(masks), A.ptr(nb), A.ptr(cnt), A.ptr(sums), A.ptr(pos), A.ptr(field),
        A.ptr(field_tmp) if field_tmp is not None else 0, A.ptr(ws) if ws is not None else 0, A.ptr(d), A.ptr(w),
        A.ptr(res))
    pred.backend.run(dev, lib.stream(dev), launches)
    hdr = np.asarray(lib.to_host(res))[:4 * R]
    na, nbv = hdr[0:2 * R:2], hdr[1:2 * R:2]
    tot_a, tot = int(na.sum()), int(na.sum() + nbv.sum())
    if tot > plan.ub:  # cannot happen: the bound is exact arithmetic on the counts
        raise RuntimeError(f"segscore: GPU boundary count {tot} exceeds its bound {plan.ub}")
    dh = np.asarray(lib.to_host(d[:tot])) if tot else np.zeros(0)
    wh = np.asarray(lib.to_host(w[:tot])) if tot else np.zeros(0)
    pa, pb = 0, tot_a
    for j, i in enumerate(batch):
        a, b = int(na[j]), int(nbv[j])
        bi, bu = (int(hdr[2 * R + 2 * j]), int(hdr[2 * R + 2 * j + 1])) if biou else (0, 0)
        out[i] = (dh[pa:pa + a].copy(), wh[pa:pa + a].copy(), dh[pb:pb + b].copy(), wh[pb:pb + b].copy(),
                  counts[i][0], counts[i][1], bi, bu)
        pa += a
        pb += b

