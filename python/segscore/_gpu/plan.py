"""Launch plans of the GPU path: tables, buffer sizes and launch shapes.

Pure numpy, no device access: computed once per call and shared by both
launch backends (the compiled ``segscore._cuda`` and the CuPy RawModule
path), so the two differ only in who launches the kernels.  The table
layouts mirror ``cpp/include/segscore/gpu_kernels.h`` (FD_*, RT_*).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

# field table (gpu_kernels.h FieldLayout)
FD_ND, FD_SHAPE, FD_ISTR, FD_OSTR, FD_AXES, FD_IOFF, FD_OOFF, FD_W = 0, 1, 9, 17, 25, 33, 34, 35
MAX_DIMS = 8
# region table (gpu_kernels.h RegionLayout)
RT_DIM, RT_LO, RT_OFF, RT_LAB0, RT_LAB1, RT_W = 0, 3, 6, 7, 8, 9
LAYOUT = {
    "FD_ND": FD_ND, "FD_SHAPE": FD_SHAPE, "FD_ISTR": FD_ISTR, "FD_OSTR": FD_OSTR, "FD_AXES": FD_AXES,
    "FD_IOFF": FD_IOFF, "FD_OOFF": FD_OOFF, "FD_W": FD_W,
    "RT_DIM": RT_DIM, "RT_LO": RT_LO, "RT_OFF": RT_OFF, "RT_LAB0": RT_LAB0, "RT_LAB1": RT_LAB1, "RT_W": RT_W,
}

BLOCK = 128
MAX_BLOCKS = 1 << 16          # grid-stride loops cover the rest
MAX_LINE_THREADS = 1 << 18    # EDT envelope threads (about one H100 at full occupancy)
SCAN_CHUNK = 256
STATS_SEG = 256
STATS_K = 256                 # dense joint histogram for labels < K
STATS_K_MAX = 1024            # beyond: the counting pass runs on the host

# label dtype codes (gpu_kernels.h LabelCode): runtime-dispatched loads
LABEL_CODES = {
    np.dtype(np.bool_): 0, np.dtype(np.uint8): 0, np.dtype(np.int8): 1, np.dtype(np.uint16): 2,
    np.dtype(np.int16): 3, np.dtype(np.uint32): 4, np.dtype(np.int32): 5, np.dtype(np.uint64): 6,
    np.dtype(np.int64): 7,
}
# EDT input type codes (template instantiations): zero tests and label
# equality only need the width for integers, so signed types share the
# unsigned instantiation of their size.
EDT_IN_CODES = {"b": {1: 0}, "u": {1: 0, 2: 1, 4: 2, 8: 3}, "i": {1: 0, 2: 1, 4: 2, 8: 3}, "f": {4: 4, 8: 5}}
EDT_IN_CTYPES = ["unsigned char", "unsigned short", "unsigned int", "unsigned long long", "float", "double"]


def edt_in_code(dtype: np.dtype) -> int:
    try:
        return EDT_IN_CODES[dtype.kind][dtype.itemsize]
    except KeyError:
        raise TypeError(f"the GPU EDT does not support dtype {dtype}") from None


def label_code(dtype: np.dtype) -> int:
    try:
        return LABEL_CODES[np.dtype(dtype)]
    except KeyError:
        raise TypeError(f"the GPU path does not support label dtype {dtype}") from None


def blocks(items: int, cap: int = MAX_BLOCKS) -> int:
    return max(1, min(cap, -(-int(items) // BLOCK))) if items > 0 else 0


def pass_order(out_strides) -> list:
    """Axis order of the CPU EDT: the innermost output axis first (its binary
    scan), then the others by increasing |stride| (edt_driver.cpp)."""
    nd = len(out_strides)
    inner = 0
    for d in range(1, nd):
        if abs(out_strides[d]) < abs(out_strides[inner]):
            inner = d
    rest = sorted((d for d in range(nd) if d != inner), key=lambda d: abs(out_strides[d]))
    return [inner] + rest


@dataclass
class EdtPlan:
    """Separable EDT over a batch of fields."""

    fd: np.ndarray            # (nfields, FD_W) int64
    sp: np.ndarray            # (nfields, 8) float64
    prefix: np.ndarray        # (npasses, nfields + 1) int64
    npasses: int
    nmax: int                 # longest line of the parabola passes
    grid: list                # blocks per pass
    ws_threads: int           # interleave stride (threads) the workspace is sized for
    ws_bytes: int

    @property
    def nfields(self) -> int:
        return int(self.fd.shape[0])


def _ws_row_bytes(nmax: int, itemsize: int, multilabel: bool) -> int:
    # v: nmax+1 int64, z: nmax+2 double, g: 2(nmax+2) T (multi-label)
    return 8 * (nmax + 1) + 8 * (nmax + 2) + (2 * (nmax + 2) * itemsize if multilabel else 0)


def finish_edt_plan(fd, sp, npasses, itemsize, multilabel, ws_budget) -> EdtPlan:
    nf = fd.shape[0]
    prefix = np.zeros((npasses, nf + 1), np.int64)
    nmax = 0
    for k in range(npasses):
        lines = []
        for f in range(nf):
            nd = int(fd[f, FD_ND])
            shape = fd[f, FD_SHAPE:FD_SHAPE + nd]
            axis = int(fd[f, FD_AXES + k])
            size = int(np.prod(shape))
            lines.append(size // int(shape[axis]) if size else 0)
            if k > 0:
                nmax = max(nmax, int(shape[axis]))
        prefix[k, 1:] = np.cumsum(lines)
    row = _ws_row_bytes(nmax, itemsize, multilabel)
    cap = MAX_LINE_THREADS
    if npasses > 1:
        cap = max(BLOCK, min(cap, int(ws_budget // row) // BLOCK * BLOCK))
    grid = [blocks(min(int(prefix[k, -1]), cap)) for k in range(npasses)]
    ws_threads = max([g * BLOCK for g in grid[1:]] or [0])
    return EdtPlan(fd, sp, prefix, npasses, nmax, grid, ws_threads, ws_threads * row if npasses > 1 else 0)


def edt_plan(shape, in_strides, out_strides, spacing, itemsize, multilabel, ws_budget=1 << 30) -> EdtPlan:
    """Plan of ss.edt for one strided array (strides in elements)."""
    nd = len(shape)
    order = pass_order(out_strides)
    # describe the array with its axes sorted by decreasing |out stride| so that
    # neighbouring threads handle neighbouring lines (coalesced access)
    perm = sorted(range(nd), key=lambda d: -abs(out_strides[d]))
    inv = {d: i for i, d in enumerate(perm)}
    fd = np.zeros((1, FD_W), np.int64)
    fd[0, FD_ND] = nd
    sp = np.ones((1, MAX_DIMS), np.float64)
    for i, d in enumerate(perm):
        fd[0, FD_SHAPE + i] = shape[d]
        fd[0, FD_ISTR + i] = in_strides[d]
        fd[0, FD_OSTR + i] = out_strides[d]
        sp[0, i] = spacing[d]
    for k, d in enumerate(order):
        fd[0, FD_AXES + k] = inv[d]
    return finish_edt_plan(fd, sp, nd, itemsize, multilabel, ws_budget)


# ----------------------------------------------------------------------------- counting pass

@dataclass
class StatsPlan:
    geo: np.ndarray   # 32 int64: shape, pred strides, ref strides, original axis (inner axis last)
    nd: int
    K: int
    seg: int
    grid_init: int
    grid: int
    size: int         # int64 words of the output

    def offsets(self):
        K, nd = self.K, self.nd
        pb = K * K
        rb = pb + K * 2 * nd
        mm = rb + K * 2 * nd
        return pb, rb, mm


def stats_plan(shape, pred_strides, ref_strides, K=STATS_K) -> StatsPlan:
    nd = len(shape)
    inner = nd - 1
    for d in range(nd):
        if abs(pred_strides[d]) < abs(pred_strides[inner]):
            inner = d
    outer = sorted((d for d in range(nd) if d != inner), key=lambda d: -abs(pred_strides[d]))
    axes = outer + [inner]
    geo = np.zeros(32, np.int64)
    for i, d in enumerate(axes):
        geo[i] = shape[d]
        geo[8 + i] = pred_strides[d]
        geo[16 + i] = ref_strides[d]
        geo[24 + i] = d
    n = int(shape[inner])
    seg = STATS_SEG
    items = (math.prod(shape) // n) * (-(-n // seg)) if n else 0
    size = K * K + 2 * K * 2 * nd + 5
    return StatsPlan(geo, nd, K, seg, blocks(size), blocks(items), size)


def parse_stats(plan: StatsPlan, st: np.ndarray) -> dict:
    """The counting-pass output as the dict of segscore._cpu.overlap_stats."""
    K, nd = plan.K, plan.nd
    pb, rb, mm = plan.offsets()
    hist = st[:K * K].reshape(K, K)
    p, r = np.nonzero(hist)
    pairs = np.stack([p, r, hist[p, r]], axis=1).astype(np.int64) if len(p) else np.zeros((0, 3), np.int64)

    def boxes(off):
        b = st[off:off + K * 2 * nd].reshape(K, 2 * nd)
        have = np.nonzero(b[:, 0] <= b[:, nd])[0]
        return np.concatenate([have[:, None], b[have]], axis=1).astype(np.int64)

    return {
        "pairs": pairs,
        "pred_boxes": boxes(pb),
        "ref_boxes": boxes(rb),
        "pred_min": int(st[mm]), "pred_max": int(st[mm + 1]),
        "ref_min": int(st[mm + 2]), "ref_max": int(st[mm + 3]),
        "counted": int(hist.sum()),
        "overflow": bool(st[mm + 4]),
    }


# ----------------------------------------------------------------------------- surface batch

@dataclass
class SurfacePlan:
    index: list               # region index (in the caller's list) of each crop
    nd: int
    V: int                    # crop elements
    L: int                    # crop rows
    ints: np.ndarray          # one int64 upload: rt, labels, rows, src_str, fd, prefix
    dbls: np.ndarray          # one float64 upload: spacing (3), sp
    off: dict                 # element offsets of each table in ints / dbls
    edt: EdtPlan
    nfields_per_region: int
    corner: bool
    ub: int                   # boundary elements, upper bound (pred + ref)
    nchunks: int
    grid_rows: int
    grid_chunks: int
    grid_regions: int
    bytes: dict = field(default_factory=dict)

    @property
    def nreg(self) -> int:
        return len(self.index)

    @property
    def total_bytes(self) -> int:
        return sum(self.bytes.values())


def crop_size(lo, hi) -> int:
    return math.prod(int(h) - int(l) + 3 for l, h in zip(lo, hi))


def surface_plan(regions, index, nd, pred_strides, ref_strides, spacing, corner, biou, biou_spacing, counts=None,
                 ws_budget=1 << 30) -> SurfacePlan:
    """Plan of one batch of crops.  regions[i] = (labels, lo, hi, empty);
    `index` lists the non-empty regions of this batch; counts[i] = (voxels of
    the region in pred, in ref) when known (tighter output bounds)."""
    nf = 4 if biou else 2
    rt = np.zeros((len(index), RT_W), np.int64)
    labels, rows = [], [0]
    V = 0
    ub = 0
    per_voxel = (1 << nd) if corner else 1
    for j, i in enumerate(index):
        labs, lo, hi, _ = regions[i]
        dims = [int(h) - int(l) + 3 for l, h in zip(lo, hi)]
        S = math.prod(dims)
        rt[j, RT_DIM:RT_DIM + 3] = 1
        rt[j, RT_DIM:RT_DIM + nd] = dims
        rt[j, RT_LO:RT_LO + nd] = lo
        rt[j, RT_OFF] = V
        rt[j, RT_LAB0] = len(labels)
        labels.extend(int(v) for v in labs)
        rt[j, RT_LAB1] = len(labels)
        rows.append(rows[-1] + S // dims[-1])
        for k in range(2):
            cap = S if counts is None else min(S, per_voxel * int(counts[i][k]))
            ub += cap
        V += S
    L = rows[-1]
    # EDT fields: per crop, distance to the pred / ref boundary (axes 0..nd-1,
    # the summation order of the CPU's nearest-point search), and with biou the
    # distance to each mask's own face border (axes nd-1..0, as the CPU band).
    fd = np.zeros((len(index) * nf, FD_W), np.int64)
    sp = np.ones((len(index) * nf, MAX_DIMS), np.float64)
    for j in range(len(index)):
        dims = [int(x) for x in rt[j, RT_DIM:RT_DIM + nd]]
        strides = [math.prod(dims[d + 1:]) for d in range(nd)]
        for kind in range(nf):
            f = j * nf + kind
            fd[f, FD_ND] = nd
            fd[f, FD_SHAPE:FD_SHAPE + nd] = dims
            fd[f, FD_ISTR:FD_ISTR + nd] = strides
            fd[f, FD_OSTR:FD_OSTR + nd] = strides
            axes = list(range(nd)) if kind < 2 else list(range(nd - 1, -1, -1))
            fd[f, FD_AXES:FD_AXES + nd] = axes
            fd[f, FD_IOFF] = fd[f, FD_OOFF] = kind * V + rt[j, RT_OFF]
            sp[f, :nd] = spacing if kind < 2 else biou_spacing
    edt = finish_edt_plan(fd, sp, nd, 8, False, ws_budget)
    src_str = np.array(list(pred_strides) + list(ref_strides), np.int64)
    parts = [("rt", rt.ravel()), ("labels", np.array(labels or [0], np.int64)), ("rows", np.array(rows, np.int64)),
             ("src_str", src_str), ("fd", fd.ravel()), ("prefix", edt.prefix.ravel())]
    off, o = {}, 0
    for name, a in parts:
        off[name] = o
        o += len(a)
    ints = np.concatenate([a for _, a in parts]).astype(np.int64)
    sp3 = np.ones(3, np.float64)
    sp3[:nd] = spacing
    dbls = np.concatenate([sp3, sp.ravel()])
    off["spacing"], off["sp"] = 0, 3
    nchunks = -(-2 * L // SCAN_CHUNK)
    plan = SurfacePlan(list(index), nd, V, L, ints, dbls, off, edt, nf, bool(corner), ub, nchunks,
                       blocks(L), blocks(nchunks), blocks(len(index)))
    plan.bytes = {
        "masks": 2 * V, "boundary flags": nf * V, "fields": 2 * 8 * nf * V, "envelope workspace": edt.ws_bytes,
        "row counts and offsets": 8 * (4 * L + nchunks + 2), "distances and weights": 16 * ub,
        "tables": 8 * (len(ints) + len(dbls)),
    }
    return plan


def crop_bytes(S: int, biou: bool, per_voxel_ub: int = 2) -> int:
    """Device bytes per crop element (for batching the regions of a case)."""
    nf = 4 if biou else 2
    return S * (2 + nf + 16 * nf + 16 * per_voxel_ub) + 64


def batches(sizes, budget):
    """Greedy split of crops (in order) into batches whose bytes fit `budget`;
    a crop that alone exceeds it is its own batch (the caller raises)."""
    out, cur, tot = [], [], 0
    for i, b in sizes:
        if cur and tot + b > budget:
            out.append(cur)
            cur, tot = [], 0
        cur.append(i)
        tot += b
    if cur:
        out.append(cur)
    return out
