"""GPU operations of the component layer: connected components and the overlap table.

Signatures follow ``segscore._cpu.connected_components`` / ``overlap_table`` (DeviceArray
inputs); the launch sequences are plan.cc_launches / ovl_*_launches (kernels in
cpp/include/segscore/gpu_components_kernels.h).  The labels equal the CPU's (ids 1..n by
first voxel in C or F raster).  Not yet run on a device: checked against the CPU in the
sequential CUDA emulation (tests/test_gpu_emulated.py) and compiled by NVRTC in CI.
"""

from __future__ import annotations

import numpy as np

from . import plan as P
from .._core.arrays import DeviceArray
from .ops import _Alloc, _need

_INT32_MAX = 2**31 - 1


def connected_components(x: DeviceArray, connectivity: int, binary: bool, order_f: bool, min_size: int):
    """(labels of x's library, n, negative): segscore._cpu.connected_components on the GPU.
    One host synchronisation (the component count and the negative flag)."""
    lib, dev = x.lib, x.device
    code = P.label_code(x.dtype)
    n = x.size
    wide = n >= _INT32_MAX  # only then can n reach 2**31 - 1
    out_dtype = np.dtype(np.int64 if wide else np.int32)
    order = "F" if order_f else "C"
    with lib.device_ctx(dev):
        A = _Alloc(lib, dev, "connected components")
        out = A._guard(lambda: lib.empty(x.shape, out_dtype, dev, order), n * out_dtype.itemsize)
        if n == 0:
            return out, 0, False
        od = lib.wrap(out)
        nchunks = P.cc_scan_chunks(n)
        _need(lib, dev, 8 * (3 * n + nchunks + 8 + (n if min_size > 1 else 0)), "connected components",
              f" (parents, marks and ranks of {n} voxels, int64)")
        geo = A.upload(P.cc_geo(x.shape, x.strides, od.strides, order_f))
        parent = A.empty(n, np.int64)
        flag = A.empty(n, np.int64)
        pos = A.empty(n + 1, np.int64)
        size = A.zeros(n, np.int64) if min_size > 1 else None
        info = A.zeros(nchunks + 3, np.int64)  # [negative flag, unused, sums (nchunks + 1)]
        ip = A.ptr(info)
        seq = P.cc_launches(n, code, binary, int(connectivity), int(min_size), x.ptr, A.ptr(geo), A.ptr(parent), ip,
                            A.ptr(size) if size is not None else 0, A.ptr(flag), ip + 16, A.ptr(pos), od.ptr, wide)
        x.backend.run(dev, lib.stream(dev), seq)
        h = np.asarray(lib.to_host(info))
        negative, count = bool(h[0]), int(h[2 + nchunks])
        if wide and count < _INT32_MAX:  # the CPU's dtype rule: int32 unless 2**31 - 1 ids are needed
            out = lib.astype(out, np.int32)
    return out, count, negative


def overlap_table(pred: DeviceArray, ref: DeviceArray, id_limit: int) -> dict:
    """segscore._cpu.overlap_table on the GPU (the same dict).  Two host synchronisations:
    the first pass's sizes, then the tables."""
    lib, dev = pred.lib, pred.device
    pcode, rcode = P.label_code(pred.dtype), P.label_code(ref.dtype)
    n = pred.size
    empty = {"pairs": np.zeros((0, 3), np.int64), "pred_voxels": np.zeros(0, np.int64),
             "ref_voxels": np.zeros(0, np.int64), "negative": False, "too_large": False}
    if n == 0:
        return empty
    with lib.device_ctx(dev):
        A = _Alloc(lib, dev, "the overlap table")
        geo = A.upload(P.ovl_geo(pred.shape, pred.strides, ref.strides))
        info = A.zeros(P.OI_W, np.int64)
        pred.backend.run(dev, lib.stream(dev), P.ovl_scan_launches(n, pred.ptr, pcode, ref.ptr, rcode, A.ptr(geo),
                                                                   A.ptr(info)))
        h = np.asarray(lib.to_host(info))
        both, pmax, rmax = int(h[P.OI_BOTH]), int(h[P.OI_PMAX]), int(h[P.OI_RMAX])
        if h[P.OI_NEG]:
            return dict(empty, negative=True)
        if h[P.OI_HUGE] or pmax > id_limit or rmax > id_limit:
            return dict(empty, too_large=True)
        cap = P.ovl_capacity(both, pmax, rmax)
        _need(lib, dev, 8 * (pmax + rmax + 2 + 2 * cap), "the overlap table",
              f" (per-id counts up to id {max(pmax, rmax)} and {cap} pair slots)")
        pc = A.zeros(pmax + 1, np.int64)
        rc = A.zeros(rmax + 1, np.int64)
        keys = A.empty(cap, np.uint64)
        vals = A.zeros(cap, np.int64)
        pred.backend.run(dev, lib.stream(dev), P.ovl_count_launches(
            n, pred.ptr, pcode, ref.ptr, rcode, A.ptr(geo), A.ptr(pc), A.ptr(rc), A.ptr(keys), A.ptr(vals), cap))
        pch = np.asarray(lib.to_host(pc))[:pmax + 1]
        rch = np.asarray(lib.to_host(rc))[:rmax + 1]
        kh = np.asarray(lib.to_host(keys))[:cap]
        vh = np.asarray(lib.to_host(vals))[:cap]
    used = kh != np.uint64(0xFFFFFFFFFFFFFFFF)
    k, v = kh[used], vh[used]
    o = np.argsort(k, kind="stable")
    k, v = k[o], v[o]
    pairs = np.stack([(k >> np.uint64(32)).astype(np.int64), (k & np.uint64(0xFFFFFFFF)).astype(np.int64),
                      v.astype(np.int64)], axis=1) if len(k) else np.zeros((0, 3), np.int64)
    return {"pairs": pairs, "pred_voxels": pch[1:].astype(np.int64), "ref_voxels": rch[1:].astype(np.int64),
            "negative": False, "too_large": False}
