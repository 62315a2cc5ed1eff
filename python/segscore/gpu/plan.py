"""Launch plans of the GPU path: tables, buffer sizes, launch shapes and the launch sequences.

Pure numpy, no device access.  This module is the only place where a GPU
operation's kernels, their order, grids, blocks and arguments are written:
the ``*_launches`` functions return a list of `Launch` (kernel name, grid,
block, typed arguments) and both executors run that list as it is (backend.py:
the compiled ``segscore._cuda`` through its generic ``launch``, or the CuPy
RawModule compiled by NVRTC from the same headers).  Adding a kernel: its code
in a header, one entry in a ``*_launches`` function here, its name in the
compile group (source.py) and in the compiled module's table (cuda/driver.cu).

The table layouts mirror ``cpp/include/segscore/gpu_kernels.h`` (FD_*, RT_*)
and ``gpu_score_kernels.h`` (CG_*, CI_*, CD_*, CC_*, XG_*).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

# field table (gpu_kernels.h FieldLayout)
FD_ND, FD_SHAPE, FD_ISTR, FD_OSTR, FD_AXES, FD_IOFF, FD_OOFF, FD_W = 0, 1, 9, 17, 25, 33, 34, 35
MAX_DIMS = 8
# region table (gpu_kernels.h RegionLayout)
RT_DIM, RT_LO, RT_OFF, RT_LAB0, RT_LAB1, RT_RLAB0, RT_RLAB1, RT_W = 0, 3, 6, 7, 8, 9, 10, 11
# calibration and CRPS tables (gpu_score_kernels.h CalibGeo, CalibInts, CalibDoubles, CalibCounters, CrpsGeo)
CG_ND, CG_SHAPE, CG_PSTR, CG_TSTR, CG_MSTR, CG_CSTR, CG_W = 0, 1, 9, 17, 25, 33, 34
(CI_NBINS, CI_RIGHT, CI_BELOW, CI_ABOVE, CI_EXACT, CI_NCLASS, CI_LOGITS, CI_MODE, CI_POS, CI_ROUND, CI_CLIP,
 CI_SCORES, CI_BRIER_SUM, CI_IGNORE_ON, CI_IGNORE, CI_TCODE, CI_MCODE, CI_COPIES, CI_FAST, CI_W) = range(20)
CD_OFF, CD_SCALE, CD_TOL, CD_CLIP_LO, CD_CLIP_HI, CD_EDGES = range(6)
CC_VOXELS, CC_SCORED, CC_INVALID, CC_TMIN, CC_TMAX, CC_W = range(6)
XG_ND, XG_SHAPE, XG_STR0, XG_STR1, XG_STR2, XG_M, XG_MSTR1, XG_MSTR2, XG_W = 0, 1, 9, 17, 25, 33, 34, 35, 36
LAYOUT = {
    "FD_ND": FD_ND, "FD_SHAPE": FD_SHAPE, "FD_ISTR": FD_ISTR, "FD_OSTR": FD_OSTR, "FD_AXES": FD_AXES,
    "FD_IOFF": FD_IOFF, "FD_OOFF": FD_OOFF, "FD_W": FD_W,
    "RT_DIM": RT_DIM, "RT_LO": RT_LO, "RT_OFF": RT_OFF, "RT_LAB0": RT_LAB0, "RT_LAB1": RT_LAB1,
    "RT_RLAB0": RT_RLAB0, "RT_RLAB1": RT_RLAB1, "RT_W": RT_W,
    "CG_W": CG_W, "CI_W": CI_W, "CD_EDGES": CD_EDGES, "CC_W": CC_W, "XG_W": XG_W,
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
T_CTYPES = {False: "float", True: "double"}           # EDT value type / CRPS operand type (by "is float64")
PROB_CTYPES = ["unsigned short", "float", "double"]   # calibration ptype; float16 probabilities read by their bits


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
    """Axis order of the EDT, as edt_driver.cpp runs it: the last axis first (its binary
    scan), then the others down to axis 0, whatever the memory layout (each pass rounds,
    so a layout-dependent order would give C- and F-ordered inputs different bits)."""
    return list(range(len(out_strides) - 1, -1, -1))


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
    """Plan of one batch of crops.  regions[i] = (labels, lo, hi, empty), or
    (pred labels, lo, hi, empty, ref labels) when the region has other ids in each map
    (a lesion and its matched components); `index` lists the non-empty regions of this
    batch; counts[i] = (voxels of the region in pred, in ref) when known (tighter output
    bounds)."""
    nf = 4 if biou else 2
    rt = np.zeros((len(index), RT_W), np.int64)
    labels, rows = [], [0]
    V = 0
    ub = 0
    per_voxel = (1 << nd) if corner else 1
    for j, i in enumerate(index):
        labs, lo, hi = regions[i][:3]
        dims = [int(h) - int(l) + 3 for l, h in zip(lo, hi)]
        S = math.prod(dims)
        rt[j, RT_DIM:RT_DIM + 3] = 1
        rt[j, RT_DIM:RT_DIM + nd] = dims
        rt[j, RT_LO:RT_LO + nd] = lo
        rt[j, RT_OFF] = V
        rt[j, RT_LAB0] = len(labels)
        labels.extend(int(v) for v in labs)
        rt[j, RT_LAB1] = len(labels)
        if len(regions[i]) > 4 and regions[i][4] is not None:
            rt[j, RT_RLAB0] = len(labels)
            labels.extend(int(v) for v in regions[i][4])
            rt[j, RT_RLAB1] = len(labels)
        else:
            rt[j, RT_RLAB0], rt[j, RT_RLAB1] = rt[j, RT_LAB0], rt[j, RT_LAB1]
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


# ----------------------------------------------------------------------------- calibration and CRPS

SCORE_BLOCK = 256
SCORE_MAX_BLOCKS = 1024       # grid of the calibration pass: a function of the input size only (reproducible sums)
SUM_CHUNK = 256               # Brier / NLL partials added per thread of k_sum_chunks
assert SCORE_BLOCK % SUM_CHUNK == 0  # so no chunk mixes the Brier half of the partials with the NLL half
HIST_WORDS = 1 << 16          # budget of the private calibration histograms (uint64 words)
CRPS_BLOCK = 128
ENSEMBLE_WS_BYTES = 1 << 28   # sort scratch of the ensemble CRPS (caps its threads)


def merge_axes(shape, *strides) -> tuple:
    """Drop length-1 axes and merge neighbours that every operand walks contiguously
    (stride[d] == stride[d+1] * shape[d+1]).  Returns (shape, [strides per operand]), with at
    least one axis."""
    keep = [d for d, n in enumerate(shape) if n != 1]
    shp = [int(shape[d]) for d in keep]
    strs = [[int(s[d]) for d in keep] for s in strides]
    d = len(shp) - 2
    while d >= 0:
        if all(st[d] == st[d + 1] * shp[d + 1] for st in strs):
            shp[d] *= shp[d + 1]
            for st in strs:
                st[d] = st[d + 1]
                del st[d + 1]
            del shp[d + 1]
        d -= 1
    if not shp:
        return [1], [[0] for _ in strides]
    return shp, strs


def _geo_rows(base: int, width: int, shape, strides_list, offsets) -> np.ndarray:
    g = np.zeros(width, dtype=np.int64)
    g[0] = len(shape)
    g[base:base + len(shape)] = shape
    for off, st in zip(offsets, strides_list):
        g[off:off + len(st)] = st
    return g


@dataclass
class CalibPlan:
    geo: np.ndarray
    ci: np.ndarray
    cd: np.ndarray
    keys: int
    copies: int
    grid: int
    grid_init: int
    grid_reduce: int
    grid_chunks: int
    partials: int      # doubles of thread partials (2 per thread), 0 without scores
    sums: int          # chunk sums of the partials


def calib_float_path(params: dict, itemsize: int, scores: bool, edges) -> int:
    """Which float path of gpu_score_kernels.h the pass can take (0: none): float16 / float32
    probabilities whose confidence is a stored value (not logits, not clipped, not 1 - p of a
    binary input), no Brier / NLL; then 1 for exact k/n bins (an integer floor), 2 for edges
    that are all float32 values >= +0 (compared by their bit patterns).  Either gives the
    general path's bins and exact sums, with integer arithmetic instead of 64-bit conversions."""
    if itemsize not in (2, 4) or params["logits"] or params["clip"] or scores:
        return 0
    if params["n_classes"] == 0 and not (params["mode"] == 0 and params["positive"] == 1):
        return 0
    if params["exact"]:
        return 1
    e = np.asarray(edges, dtype=np.float64)
    f = e.astype(np.float32)
    if np.all(np.isfinite(f)) and np.all(f.astype(np.float64) == e) and not np.any(np.signbit(e)) \
            and np.all(np.diff(f) > 0):
        return 2
    return 0


def calib_plan(shape, pstr, tstr, mstr, cstr, edges, params: dict, streams: int, slots: int, scores: bool,
               brier_sum_form: int, ignore, tcode: int, mcode: int, fast: int = 0) -> CalibPlan:
    """Tables and launch shape of the calibration pass over spatial `shape` (element
    strides of probs' class-0 plane, target and mask; `mstr` None without a mask)."""
    ops = [pstr, tstr] + ([mstr] if mstr is not None else [])
    shp, strs = merge_axes(shape, *ops)
    if len(shp) > MAX_DIMS:
        raise ValueError(f"at most {MAX_DIMS} spatial axes are supported")
    geo = _geo_rows(CG_SHAPE, CG_W, shp, strs, [CG_PSTR, CG_TSTR, CG_MSTR][:len(strs)])
    geo[CG_CSTR] = int(cstr)
    nvox = int(np.prod(shp))
    keys = int(streams) * int(slots)
    copies = int(max(1, min(64, HIST_WORDS // (4 * keys))))
    ci = np.zeros(CI_W, dtype=np.int64)
    ci[CI_NBINS] = len(edges) - 1
    for name, idx in (("right_closed", CI_RIGHT), ("below", CI_BELOW), ("above", CI_ABOVE), ("exact", CI_EXACT),
                      ("n_classes", CI_NCLASS), ("logits", CI_LOGITS), ("mode", CI_MODE), ("positive", CI_POS),
                      ("round_f32", CI_ROUND), ("clip", CI_CLIP)):
        ci[idx] = int(params[name])
    ci[CI_SCORES] = int(bool(scores))
    ci[CI_BRIER_SUM] = int(brier_sum_form)
    ci[CI_IGNORE_ON] = int(ignore is not None)
    ci[CI_IGNORE] = 0 if ignore is None else int(ignore)
    ci[CI_TCODE] = tcode
    ci[CI_MCODE] = mcode
    ci[CI_COPIES] = copies
    ci[CI_FAST] = int(fast)
    if fast == 2:  # the edges' float32 bit patterns
        ci = np.concatenate([ci, np.asarray(edges, dtype=np.float64).astype(np.float32).view(np.uint32)
                             .astype(np.int64)])
    cd = np.concatenate([[params["off"], params["scale"], params["tol"], params["clip_lo"], params["clip_hi"]],
                         np.asarray(edges, dtype=np.float64)])
    items = nvox * (streams if params["mode"] == 2 else 1)
    grid = max(1, min(SCORE_MAX_BLOCKS, -(-items // (4 * SCORE_BLOCK))))  # >= 4 items per thread
    threads = grid * SCORE_BLOCK
    partials = 2 * threads if scores else 0
    sums = -(-partials // SUM_CHUNK) if scores else 0
    words = copies * keys * 4
    return CalibPlan(geo, ci, cd.astype(np.float64), keys, copies, grid,
                     max(1, min(SCORE_MAX_BLOCKS, -(-(words + CC_W) // SCORE_BLOCK))),
                     max(1, min(SCORE_MAX_BLOCKS, -(-keys // SCORE_BLOCK))),
                     max(1, -(-sums // SCORE_BLOCK)) if sums else 0, partials, sums)


def fixed_to_double(lo, hi) -> np.ndarray:
    """Exact 2^-88 fixed-point sums (128-bit, low and high uint64 words) as the nearest doubles."""
    lo = np.asarray(lo, dtype=np.uint64).ravel()
    hi = np.asarray(hi, dtype=np.uint64).ravel()
    return np.array([((int(h) << 64) | int(lo_)) / (1 << 88) for lo_, h in zip(lo, hi)], dtype=np.float64)


def broadcast_strides(shape, arr_shape, arr_strides) -> list:
    """Element strides of an operand broadcast to `shape` (numpy rules: 0 on broadcast axes)."""
    pad = len(shape) - len(arr_shape)
    out = [0] * pad
    for n, s in zip(arr_shape, arr_strides):
        out.append(0 if n == 1 else int(s))
    return out


def crps_geo(shape, strides, m: int = 0, mstr1: int = 0, mstr2: int = 0) -> tuple:
    """CRPS geometry table over the batch `shape` (up to three operands' strides); returns
    (table, items)."""
    shp, strs = merge_axes(shape, *strides) if len(shape) else ([1], [[0] for _ in strides])
    g = _geo_rows(XG_SHAPE, XG_W, shp, strs, [XG_STR0, XG_STR1, XG_STR2][:len(strs)])
    g[XG_M], g[XG_MSTR1], g[XG_MSTR2] = int(m), int(mstr1), int(mstr2)
    return g, int(np.prod(shape)) if len(shape) else 1


# ----------------------------------------------------------------------------- launch sequences
#
# A launch sequence is a list of `Launch`; the executors (backend.py) run it in order on
# the caller's stream and never synchronise.  The one host synchronisation of each
# operation is the caller's copy of the output named in the builder's docstring
# (ops.py / score_ops.py), after the whole sequence.
#
# Argument convention (both executors): every argument is a numpy scalar whose dtype IS
# the kernel parameter's C++ type:
#     any pointer (T*, const void*)  ->  np.uint64   the device address (0 for nullptr)
#     int                            ->  np.int32
#     int64_t                        ->  np.int64
#     double                         ->  np.float64
# Build them with ptr / i32 / i64 / f64 below (range-checked: nothing wraps silently).
# segscore._cuda.launch compares the signature of the arguments (one letter each,
# `Launch.signature`: p, i, q, d) with the kernel's C++ parameter list and raises
# TypeError on any difference; CuPy passes numpy scalars by value with their dtype.

_SIG = {np.dtype(np.uint64): "p", np.dtype(np.int32): "i", np.dtype(np.int64): "q", np.dtype(np.float64): "d"}


def ptr(v) -> np.uint64:
    """A device address (an int from the array library; 0 for a null pointer)."""
    v = int(v)
    if not 0 <= v < 1 << 64:
        raise OverflowError(f"device address {v} out of range")
    return np.uint64(v)


def i32(v) -> np.int32:
    v = int(v)
    if not -(1 << 31) <= v < 1 << 31:
        raise OverflowError(f"{v} does not fit a kernel's int parameter")
    return np.int32(v)


def i64(v) -> np.int64:
    v = int(v)
    if not -(1 << 63) <= v < 1 << 63:
        raise OverflowError(f"{v} does not fit a kernel's int64_t parameter")
    return np.int64(v)


def f64(v) -> np.float64:
    return np.float64(float(v))


@dataclass(frozen=True)
class Launch:
    kernel: str      # name expression without the namespace, e.g. "k_edt_first<unsigned char, float>"
    group: tuple     # the NVRTC compile group that holds it (source.group)
    grid: int        # blocks (1-D)
    block: int       # threads per block
    args: tuple      # numpy scalars, see the convention above
    shmem: int = 0   # dynamic shared memory bytes (no kernel uses any today)

    @property
    def signature(self) -> str:
        return "".join(_SIG[a.dtype] for a in self.args)

    @property
    def values(self) -> list:
        """The arguments as Python ints / floats (the compiled module's `launch`)."""
        return [a.item() for a in self.args]


def _add(seq: list, kernel, group, grid, block, *args) -> None:
    """Append a launch; grids of zero blocks (nothing to do) are dropped here, once."""
    for a in args:
        if not isinstance(a, np.generic) or a.dtype not in _SIG:
            raise TypeError(f"{kernel}: argument {a!r} is not one of ptr / i32 / i64 / f64")
    if int(grid) > 0:
        seq.append(Launch(kernel, tuple(group), int(grid), int(block), tuple(args)))


def edt_launches(plan: EdtPlan, in_code: int, multilabel: bool, f64_out: bool, inp, out, tmp, ws, fd, sp, prefix,
                 finish: int, block: int = BLOCK, group=None, seq=None) -> list:
    """Separable EDT over plan's fields: the first pass reads `inp` (binary: zero = feature;
    multi-label: labels), pass k writes bufs[(P-1-k) % 2] of (out, tmp) so the last one lands
    in `out`; `finish` (0 raw, 1 distance, 2 squared) applies to the last pass.  fd / sp /
    prefix: device copies of plan.fd, plan.sp, plan.prefix.  Host synchronisation: none
    (ss.edt returns `out` on the device)."""
    seq = [] if seq is None else seq
    npass = plan.npasses
    if npass < 1 or len(plan.grid) != npass:
        raise ValueError("an EDT plan needs one grid size per pass")
    T = T_CTYPES[bool(f64_out)]
    In = EDT_IN_CTYPES[in_code]
    if group is None:
        group = ("edt_ml" if multilabel else "edt", int(in_code), bool(f64_out))
    bufs = (out, tmp)

    def dst(k):
        return ptr(bufs[(npass - 1 - k) % 2])

    nf = plan.nfields
    first = f"k_edt_first_ml<{In}, {T}>" if multilabel else f"k_edt_first<{In}, {T}>"
    _add(seq, first, group, plan.grid[0], block,
         ptr(inp), dst(0), ptr(fd), ptr(sp), ptr(prefix), i32(nf), i32(finish if npass == 1 else 0))
    for k in range(1, npass):
        pk = ptr(prefix + 8 * k * (nf + 1))  # row k of the (npasses, nfields + 1) int64 prefix table
        fk = i32(finish if k == npass - 1 else 0)
        if multilabel:
            _add(seq, f"k_edt_parabola_ml<{In}, {T}>", group, plan.grid[k], block,
                 ptr(inp), dst(k - 1), dst(k), ptr(ws), i64(plan.nmax), ptr(fd), ptr(sp), pk, i32(nf), i32(k), fk)
        else:
            _add(seq, f"k_edt_parabola<{T}>", group, plan.grid[k], block,
                 dst(k - 1), dst(k), ptr(ws), i64(plan.nmax), ptr(fd), ptr(sp), pk, i32(nf), i32(k), fk)
    return seq


def stats_launches(plan: StatsPlan, pred, pcode: int, ref, rcode: int, geo, ignore: int, st) -> list:
    """Counting pass: zero / reset `st` (plan.size int64 words), then one read of both maps.
    Host synchronisation: the caller copies `st` back (parse_stats)."""
    seq, g = [], ("stats",)
    _add(seq, "k_stats_init", g, plan.grid_init, BLOCK, ptr(st), i64(plan.K), i32(plan.nd))
    _add(seq, "k_stats", g, plan.grid, BLOCK, ptr(pred), i32(pcode), ptr(ref), i32(rcode), ptr(geo), i32(plan.nd),
         i64(ignore), i64(plan.K), i64(plan.seg), ptr(st))
    return seq


def surface_launches(plan: SurfacePlan, pred, pcode: int, ref, rcode: int, ignore: int, conn: int, biou: bool,
                     width: float, strict: bool, ints, dbls, masks, nb, cnt, sums, pos, field, field_tmp, ws, d, w,
                     res) -> list:
    """All regions of one batch: fill the crops, boundaries, exclusive scan of the per-row
    counts, EDT of the boundary complements, gather.  ints / dbls: device copies of plan.ints
    / plan.dbls; `res` (4 nreg int64) zeroed by the caller.  Host synchronisation: the caller
    copies `res` back (element counts), then the first elements of `d` and `w`."""
    if plan.nreg <= 0 or plan.L <= 0:
        return []
    seq, g, B = [], ("surface",), BLOCK
    o = plan.off

    def ip(name):
        return ptr(ints + 8 * o[name])

    V, L, nreg, nd = i64(plan.V), plan.L, i32(plan.nreg), i32(plan.nd)
    kind = i32(1 if plan.corner else 0)
    _add(seq, "k_crop_fill", g, plan.grid_rows, B, ptr(pred), i32(pcode), ptr(ref), i32(rcode), ip("src_str"), nd,
         i64(ignore), ip("rt"), ip("labels"), ip("rows"), nreg, V, ptr(masks))
    _add(seq, "k_crop_boundary", g, plan.grid_rows, B, ptr(masks), V, ip("rt"), ip("rows"), nreg, nd, kind,
         i32(conn), i32(biou), ptr(nb), ptr(cnt))
    n = 2 * L
    _add(seq, "k_scan_partial", g, plan.grid_chunks, B, ptr(cnt), i64(n), i64(SCAN_CHUNK), ptr(sums))
    _add(seq, "k_scan_sums", g, 1, 1, ptr(sums), i64(plan.nchunks))
    _add(seq, "k_scan_apply", g, plan.grid_chunks, B, ptr(cnt), i64(n), i64(SCAN_CHUNK), ptr(sums), ptr(pos))
    edt_launches(plan.edt, 0, False, True, nb, field, field_tmp, ws, ints + 8 * o["fd"], dbls + 8 * o["sp"],
                 ints + 8 * o["prefix"], 0, B, group=g, seq=seq)
    _add(seq, "k_crop_gather", g, plan.grid_rows, B, ptr(masks), ptr(nb), ptr(field), ptr(pos), V, ip("rt"),
         ip("rows"), nreg, nd, kind, ptr(dbls + 8 * o["spacing"]), ptr(d), ptr(w), i32(biou), f64(width),
         i32(strict), ptr(res))
    _add(seq, "k_region_counts", g, plan.grid_regions, B, ptr(pos), ip("rows"), nreg, ptr(res))
    return seq


def calib_tables(plan: CalibPlan) -> tuple:
    """(int64 table, float64 table) to upload: geo then ci in one, cd in the other."""
    return np.concatenate([plan.geo, plan.ci]), plan.cd


def _calib_operands(probs, target, mask, plan: CalibPlan, ints, dbls) -> tuple:
    return (ptr(probs), ptr(target), ptr(mask or 0), ptr(ints), ptr(ints + 8 * plan.geo.size), ptr(dbls))


def calib_launches(plan: CalibPlan, ptype: int, probs, target, mask, ints, dbls, hist, counters, out, partial,
                   partial_sums) -> list:
    """Calibration binning: zero the private histograms and counters, one pass, reduce the
    histograms into `out` (keys x 4 uint64), and with scores add the Brier / NLL thread
    partials in chunks into `partial_sums`.  ints / dbls: device copies of calib_tables(plan);
    mask 0 without one.  Host synchronisation: the caller copies out | counters | partial_sums
    (one buffer) back."""
    seq, g, B = [], ("calib", int(ptype)), SCORE_BLOCK
    T = PROB_CTYPES[ptype]
    words = plan.copies * plan.keys * 4
    _add(seq, "k_calib_init", g, plan.grid_init, B, ptr(hist), i64(words), ptr(counters))
    _add(seq, f"k_calib<{T}>", g, plan.grid, B, *_calib_operands(probs, target, mask, plan, ints, dbls), ptr(hist),
         ptr(counters), ptr(partial))
    _add(seq, "k_calib_reduce", g, plan.grid_reduce, B, ptr(hist), i64(plan.copies), i64(plan.keys), ptr(out))
    if partial:
        _add(seq, "k_sum_chunks", g, plan.grid_chunks, B, ptr(partial), i64(plan.partials), i64(SUM_CHUNK),
             ptr(partial_sums))
    return seq


def calib_conf_grid(nvox: int) -> int:
    return max(1, min(SCORE_MAX_BLOCKS, -(-int(nvox) // (4 * SCORE_BLOCK))))


def calib_conf_launches(plan: CalibPlan, ptype: int, probs, target, mask, ints, dbls, stream_index: int, conf,
                        nvox: int) -> list:
    """The confidences of one stream (NaN where a voxel is skipped) into `conf` (nvox doubles).
    Host synchronisation: the caller copies `conf` back."""
    seq = []
    _add(seq, f"k_calib_conf<{PROB_CTYPES[ptype]}>", ("calib", int(ptype)), calib_conf_grid(nvox), SCORE_BLOCK,
         *_calib_operands(probs, target, mask, plan, ints, dbls), i64(stream_index), ptr(conf))
    return seq


def crps_gaussian_launches(types: int, obs, mu, sigma, geo, n: int, out, bad) -> list:
    """Elementwise Gaussian CRPS into `out`; bad[0] counts sigma < 0.  `types` bit i: operand
    i (obs, mu, sigma) is float64, else float32.  Host synchronisation: the caller copies
    `bad` back."""
    seq = []
    if n > 0:
        _add(seq, "k_crps_gaussian", ("crps",), max(1, min(MAX_BLOCKS, -(-n // CRPS_BLOCK))), CRPS_BLOCK, ptr(obs),
             ptr(mu), ptr(sigma), i32(types), ptr(geo), i64(n), ptr(out), ptr(bad))
    return seq


def crps_ensemble_shape(n: int, m: int, weighted: bool) -> tuple:
    """(grid, block, scratch doubles) of the ensemble CRPS: one thread per observation, fewer
    (and a smaller block) when the per-thread sort scratch would exceed ENSEMBLE_WS_BYTES."""
    per_thread = (4 if weighted else 2) * m * 8  # sort scratch bytes
    threads = max(1, min(n, ENSEMBLE_WS_BYTES // per_thread))
    block = min(CRPS_BLOCK, threads)
    grid = max(1, min(MAX_BLOCKS, -(-threads // block)))
    return grid, block, grid * block * per_thread // 8


def crps_ensemble_launches(types: int, obs, members, weights, geo, n: int, m: int, ws, out) -> list:
    """Ensemble CRPS, one thread per observation (scratch `ws` of crps_ensemble_shape);
    weights 0 when unweighted.  `types` bit 0: obs float64, bit 1: members, bit 2: weights.
    Host synchronisation: none (the result stays on the device)."""
    seq = []
    if n > 0:
        grid, block, _ = crps_ensemble_shape(n, m, bool(weights))
        TM = T_CTYPES[bool(types & 2)]
        TW = TM if not weights else T_CTYPES[bool(types & 4)]
        _add(seq, f"k_crps_ensemble<{TM}, {TW}>", ("crps",), grid, block, ptr(obs), i32(types & 1), ptr(members),
             ptr(weights), ptr(geo), i64(n), ptr(ws), ptr(out))
    return seq


# ----------------------------------------------------------------------------- connected components
#
# gpu_components_kernels.h: CCG_* (the (Z, Y, X) view: shape, input strides, output strides),
# OG_* (overlap geometry), OI_* (overlap scan results).

CCG_SHAPE, CCG_ISTR, CCG_OSTR, CCG_W = 0, 3, 6, 9
OG_ND, OG_SHAPE, OG_PSTR, OG_RSTR, OG_W = 0, 1, 9, 17, 25
OI_BOTH, OI_PMAX, OI_RMAX, OI_NEG, OI_HUGE, OI_W = range(6)
CC_SEG = 256      # voxels per thread item of the component-size pass
OVL_SEG = 256     # voxels per thread item of the overlap passes
LAYOUT.update({"CCG_W": CCG_W, "OG_W": OG_W, "OI_W": OI_W})


def cc_geo(shape, in_strides, out_strides, order_f: bool) -> np.ndarray:
    """The (Z, Y, X) view of a 2-D / 3-D array (2-D: Z = 1), axes reversed for F-raster
    numbering (components_driver.cpp to_zyx, the same view)."""
    nd = len(shape)
    if nd not in (2, 3):
        raise ValueError("connected components need a 2-D or 3-D array")
    axes = list(range(nd))[::-1] if order_f else list(range(nd))
    g = np.zeros(CCG_W, np.int64)
    g[CCG_SHAPE:CCG_SHAPE + 3] = 1
    off = 3 - nd
    for k, d in enumerate(axes):
        g[CCG_SHAPE + off + k] = shape[d]
        g[CCG_ISTR + off + k] = in_strides[d]
        g[CCG_OSTR + off + k] = out_strides[d]
    return g


def cc_scan_chunks(n: int) -> int:
    return -(-int(n) // SCAN_CHUNK)


def cc_launches(n: int, code: int, binary: bool, conn: int, min_size: int, inp, geo, parent, flags, size, flag,
                sums, pos, out, out64: bool) -> list:
    """Label the n voxels of the view `geo` (device copy of cc_geo): init, merge with the
    earlier neighbours (atomicMin union-find), flatten, (component sizes for min_size > 1),
    mark the kept roots, exclusive scan of the marks into `pos` (n + 1 int64; `sums`:
    cc_scan_chunks(n) + 1 int64), write rank + 1 into `out` (int32, or int64 with out64).
    flags[0] (zeroed by the caller) becomes 1 on a negative value; `size` (n int64, zeroed
    by the caller) only with min_size > 1, else 0.  Host synchronisation: the caller copies
    flags and sums[nchunks] (the number of components) back."""
    seq, g = [], ("components",)
    grid = blocks(n)
    _add(seq, "k_cc_init", g, grid, BLOCK, ptr(inp), i32(code), ptr(geo), ptr(parent), ptr(flags))
    _add(seq, "k_cc_merge", g, grid, BLOCK, ptr(inp), i32(code), ptr(geo), i32(bool(binary)), i32(conn), ptr(parent))
    _add(seq, "k_cc_flatten", g, grid, BLOCK, ptr(parent), i64(n))
    if min_size > 1:
        _add(seq, "k_cc_sizes", g, blocks(-(-n // CC_SEG)), BLOCK, ptr(parent), i64(n), i64(CC_SEG), ptr(size))
    _add(seq, "k_cc_roots", g, grid, BLOCK, ptr(parent), ptr(size if min_size > 1 else 0), i64(min_size), i64(n),
         ptr(flag))
    nchunks = cc_scan_chunks(n)
    _add(seq, "k_scan_partial", g, blocks(nchunks), BLOCK, ptr(flag), i64(n), i64(SCAN_CHUNK), ptr(sums))
    _add(seq, "k_scan_sums", g, 1 if n else 0, 1, ptr(sums), i64(nchunks))
    _add(seq, "k_scan_apply", g, blocks(nchunks), BLOCK, ptr(flag), i64(n), i64(SCAN_CHUNK), ptr(sums), ptr(pos))
    _add(seq, "k_cc_write", g, grid, BLOCK, ptr(parent), ptr(flag), ptr(pos), ptr(geo), ptr(out), i32(bool(out64)))
    return seq


def ovl_geo(shape, pred_strides, ref_strides) -> np.ndarray:
    nd = len(shape)
    if not 1 <= nd <= MAX_DIMS:
        raise ValueError(f"the overlap table supports 1 to {MAX_DIMS} axes")
    g = np.zeros(OG_W, np.int64)
    g[OG_ND] = nd
    g[OG_SHAPE:OG_SHAPE + nd] = shape
    g[OG_PSTR:OG_PSTR + nd] = pred_strides
    g[OG_RSTR:OG_RSTR + nd] = ref_strides
    return g


def ovl_capacity(both: int, pmax: int, rmax: int) -> int:
    """Slots of the pair hash table: a power of two >= 2x the most pairs there can be."""
    most = max(1, min(int(both), int(pmax) * int(rmax)))
    return 1 << (2 * most - 1).bit_length()


def ovl_scan_launches(n: int, pred, pcode: int, ref, rcode: int, geo, info) -> list:
    """First pass: voxels with both ids nonzero, the largest ids and the flags into `info`
    (OI_W int64, zeroed by the caller).  Host synchronisation: the caller copies `info` back
    (it sizes the second pass)."""
    seq = []
    _add(seq, "k_ovl_scan", ("components",), blocks(-(-n // OVL_SEG)), BLOCK, ptr(pred), i32(pcode), ptr(ref),
         i32(rcode), ptr(geo), i64(n), i64(OVL_SEG), ptr(info))
    return seq


def ovl_count_launches(n: int, pred, pcode: int, ref, rcode: int, geo, pc, rc, keys, vals, cap: int) -> list:
    """Second pass: per-id counts (pc, rc zeroed) and the pair table (keys set empty here,
    vals zeroed by the caller).  Host synchronisation: the caller copies pc, rc, keys and vals
    back."""
    seq, g = [], ("components",)
    _add(seq, "k_ovl_init", g, blocks(cap), BLOCK, ptr(keys), i64(cap))
    _add(seq, "k_ovl_count", g, blocks(-(-n // OVL_SEG)), BLOCK, ptr(pred), i32(pcode), ptr(ref), i32(rcode),
         ptr(geo), i64(n), i64(OVL_SEG), ptr(pc), ptr(rc), ptr(keys), ptr(vals), i64(cap))
    return seq
# ---------------------------------------------------------------------------------------
# the one multi-rater pass (gpu_multirater_kernels.h MrTab / MrOut)

(MT_ND, MT_K, MT_PRED, MT_C, MT_L, MT_NB, MT_TOP, MT_TARGET, MT_SEG) = range(9)
MT_SHAPE = 9
MT_OUT = MT_SHAPE + 8
MT_ARRAYS = MT_OUT + 17
MT_ROW = 10
(MO_STATS, MO_PSUM, MO_PVSUM, MO_MINMAX, MO_BRIER, MO_CWC, MO_CWF, MO_TC, MO_TF, MO_PNAN, MO_PMIN, MO_PMAX,
 MO_ROWDEV, MO_PFG, MO_PBG, MO_TR, MO_TOTAL) = range(17)
MR_SEG = 256
MR_MAX_RATERS = 16      # kMrMaxMaps - 1
MR_MAX_ARRAYS = 64      # kMrMaxArrays
MR_PROB_CODES = {np.dtype(np.float32): 1, np.dtype(np.float64): 2}


def mr_width(k: int) -> int:
    return 2 + 4 * k + k * (k - 1) // 2


@dataclass
class MultiraterPlan:
    tab: np.ndarray      # int64 MrTab (pointers included)
    out: dict            # MO_* -> word offset
    total: int           # int64 words of the output
    items: int           # work items (line segments)
    grid: int
    grid_init: int


def multirater_plan(shape, maps, chans, target, K: int, has_pred: bool, L: int, nb: int, top: bool,
                    implicit_background: bool = False, channel_bins: bool = True) -> MultiraterPlan:
    """The table of one pass.  maps / chans: [(pointer, dtype code, element strides)], target
    the same or None; the axes are walked with the first rater's smallest stride innermost.
    implicit_background: channel 0 is computed from `chans` (channels 1..C-1)."""
    nd = len(shape)
    C = len(chans) + int(bool(implicit_background))
    arrays = list(maps) + list(chans) + ([target] if target is not None else [])
    if K > MR_MAX_RATERS or len(arrays) > MR_MAX_ARRAYS:
        raise ValueError(f"the GPU multi-rater pass takes at most {MR_MAX_RATERS} raters and {MR_MAX_ARRAYS} maps "
                         "and channels in all; use device='cpu'")
    order = sorted(range(nd), key=lambda d: -abs(arrays[0][2][d]))
    n_maps = len(maps)
    W = mr_width(K)
    sizes = [(L + 1) * W, 2 * C, 2 * C, 2 * n_maps, 2 * C, 2 * C * nb, 2 * C * nb, 2 * nb, 2 * nb, C, C, C, 1,
             2 * C, 2 * C, K * nb]
    out, pos = {}, 0
    for key, sz in zip(range(MO_TOTAL), sizes):
        out[key] = pos
        pos += sz
    out[MO_TOTAL] = pos
    tab = np.zeros(MT_ARRAYS + MT_ROW * len(arrays), dtype=np.int64)
    tab[[MT_ND, MT_K, MT_PRED, MT_C, MT_L, MT_NB, MT_TOP, MT_TARGET, MT_SEG]] = [
        nd, K, int(has_pred), C, L, nb,
        int(bool(top)) | int(bool(implicit_background)) << 1 | int(not channel_bins) << 2, int(target is not None),
        MR_SEG]
    for i, d in enumerate(order):
        tab[MT_SHAPE + i] = shape[d]
    tab[MT_OUT:MT_OUT + MO_TOTAL + 1] = [out[k] for k in range(MO_TOTAL + 1)]
    for a, (p, code, strides) in enumerate(arrays):
        row = MT_ARRAYS + MT_ROW * a
        tab[row] = int(p) - (1 << 64) if int(p) >= 1 << 63 else int(p)
        tab[row + 1] = code
        for i, d in enumerate(order):
            tab[row + 2 + i] = strides[d]
    n = int(shape[order[-1]]) if nd else 1
    lines = int(np.prod([shape[d] for d in order[:-1]])) if nd > 1 else 1
    items = lines * (-(-n // MR_SEG)) if n > 0 else 0
    return MultiraterPlan(tab, out, pos, items, blocks(items), blocks(pos))


def multirater_range_launches(plan: MultiraterPlan, tab, out) -> list:
    """Each map's label range into out[MO_MINMAX] (the host builds the label table from it).
    Host synchronisation: the caller copies `out` back."""
    seq, g = [], ("multirater",)
    _add(seq, "k_mr_init", g, plan.grid_init, BLOCK, ptr(tab), ptr(out))
    _add(seq, "k_mr_range", g, plan.grid, BLOCK, ptr(tab), ptr(out))
    return seq


def multirater_launches(plan: MultiraterPlan, tab, labels, chan_label, edges, out) -> list:
    """The one pass: out zeroed, then every label row's counts, the channel sums and the
    calibration terms.  Host synchronisation: the caller copies `out` back."""
    seq, g = [], ("multirater",)
    _add(seq, "k_mr_init", g, plan.grid_init, BLOCK, ptr(tab), ptr(out))
    _add(seq, "k_mr_stats", g, plan.grid, BLOCK, ptr(tab), ptr(labels), ptr(chan_label), ptr(edges), ptr(out))
    return seq


def mr_fixed_to_double(lo, hi) -> np.ndarray:
    """The 2^-72 fixed-point sums (lo, hi words) as doubles, rounded as the CPU driver does."""
    lo = np.asarray(lo).view(np.uint64) if np.asarray(lo).dtype != np.uint64 else np.asarray(lo)
    hi = np.asarray(hi).view(np.uint64) if np.asarray(hi).dtype != np.uint64 else np.asarray(hi)
    return hi.astype(np.float64) * 0.00390625 + lo.astype(np.float64) * 2.117582368135750678e-22


def mr_unkey(k) -> np.ndarray:
    """Inverse of mr_key: int64 keys back to doubles."""
    k = np.asarray(k, dtype=np.int64)
    b = np.where(k >= 0, k, k ^ np.int64(0x7FFFFFFFFFFFFFFF))
    return b.view(np.float64)
