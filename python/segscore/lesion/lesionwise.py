"""ss.lesionwise: one case, one convention, every lesion."""

from __future__ import annotations

import math
import sys

import numpy as np

from . import _cc
from . import conventions as _lc
from . import matching as _m
from .distances import pair_distances
from .instances import crop, dilate, merge_by_dilation, region_mask, remap_given
from .result import LesionResult
from .._core.arrays import DeviceArray
from .._core.backends import resolve_threads
from .._core.validate import as_host_array, check_label_map, check_same_shape, check_spacing

NAN = float("nan")
INF = float("inf")


def _check_maps(p, r):
    """dtype, shape and dimension checks shared by host and device inputs."""
    for a, name in ((p, "pred"), (r, "ref")):
        if a.dtype.kind in "fc":
            raise TypeError(
                f"{name} has dtype {a.dtype}: lesion-wise scoring needs integer label or instance maps, or bool "
                f"masks (round and cast with .astype(np.int32), or threshold probabilities: {name} > 0.5)")
        check_label_map(a, name)
    check_same_shape(p, r)
    if p.ndim not in (2, 3):
        raise ValueError(f"lesion-wise scoring takes 2-D or 3-D arrays, got {p.ndim}-D")


def _inputs(pred, ref, opts):
    p = as_host_array(pred, "pred")
    r = as_host_array(ref, "ref")
    _check_maps(p, r)
    for a, name in ((p, "pred"), (r, "ref")):
        if a.dtype.kind == "i" and a.size and a.min() < 0:
            raise ValueError(f"{name} has negative values; labels and instance ids must be >= 0")
    if opts.regions is not None and (p.dtype == bool or r.dtype == bool):
        raise TypeError(f"convention {opts.convention!r} scores regions {list(opts.regions)} of label maps; "
                        "pass integer label maps, not bool masks (or regions=None)")
    if opts.instances == "given" and opts.regions is not None:
        raise ValueError("instances='given' takes instance maps without regions (regions=None)")
    return p, r


def _device_inputs(p, r, opts):
    """The checks of `_inputs` on device arrays (no copy to the host)."""
    _check_maps(p, r)
    for a, name in ((p, "pred"), (r, "ref")):
        if a.dtype.kind == "i" and a.size:
            with a.lib.device_ctx(a.device):
                low = int(a.lib.min_value(a.obj))
            if low < 0:
                raise ValueError(f"{name} has negative values; labels and instance ids must be >= 0")
    return p, r


def _device_flow(opts) -> bool:
    """Conventions whose instances and tables need nothing but components and the counting
    pass (segscore, panoptica, isles and their variants) run on the GPU from input to
    distances; the others (regions of label maps, given instances, merged or dilated
    reference lesions, LiTS merges, Voronoi cells) find their instances on the host and
    send only the per-lesion distances to the GPU."""
    return (opts.regions is None and opts.instances == "cc" and not (opts.merge_ref and opts.ref_dilation > 0)
            and opts.match != "touch" and opts.matcher not in ("lits", "voronoi")
            and opts.convention != "brats2023" and opts.empty != "brats")


def _to_device(like: DeviceArray, a) -> DeviceArray:
    """A host instance map on `like`'s device, for the per-lesion distances."""
    lib = like.lib
    with lib.device_ctx(like.device):
        d = lib.wrap(lib.from_host(np.ascontiguousarray(a), like.device))
    d.backend = like.backend
    return d


def _device_instances(pred, ref, opts, conn):
    """Components of both device maps (a > 0), and from one counting pass over the two
    instance maps the overlap table, the voxels per id and every id's box: all on the GPU,
    the same numbers as `_cc` on the host (the counting pass runs on the host beyond 1023 ids
    per map, gpu/ops.overlap_stats)."""
    from ..gpu import lesion_ops, ops as _gops

    c3 = {4: 6, 8: 26}.get(conn, conn)
    maps = []
    for a in (pred, ref):
        lab, n, negative = lesion_ops.connected_components(a, c3, True, opts.order == "F", 0)
        if negative:  # checked before; kept as the guard of the labelling itself
            raise ValueError("an input has negative values; labels and instance ids must be >= 0")
        d = a.lib.wrap(lab)
        d.backend = a.backend
        maps.append((d, int(n)))
    (pred_i, n_p), (ref_i, n_r) = maps
    nd = pred.ndim
    st = _gops.overlap_stats(pred_i, ref_i, -1)
    allp = np.asarray(st["pairs"], np.int64).reshape(-1, 3)
    pv = np.zeros(n_p + 1, np.int64)
    rv = np.zeros(n_r + 1, np.int64)
    np.add.at(pv, allp[:, 0], allp[:, 2])
    np.add.at(rv, allp[:, 1], allp[:, 2])
    pv[0] = rv[0] = 0
    both = allp[(allp[:, 0] > 0) & (allp[:, 1] > 0)]
    pairs = both[np.lexsort((both[:, 1], both[:, 0]))]

    def boxes(rows, n):
        lo = np.zeros((n + 1, nd), np.int64)
        hi = np.full((n + 1, nd), -1, np.int64)
        rows = np.asarray(rows, np.int64).reshape(-1, 1 + 2 * nd)
        rows = rows[(rows[:, 0] > 0) & (rows[:, 0] <= n)]
        lo[rows[:, 0]] = rows[:, 1:1 + nd]
        hi[rows[:, 0]] = rows[:, 1 + nd:]
        return lo, hi

    return pred_i, n_p, ref_i, n_r, pairs, pv, rv, boxes(st["pred_boxes"], n_p), boxes(st["ref_boxes"], n_r)


def _volume(n, spacing):
    v = float(n)
    for s in spacing:
        v *= s
    return v


def _instances(a, labels, opts, conn, threads):
    """The instances of one map (_cc.Instances): components kept as runs, or the given ids."""
    if opts.instances == "given":
        if a.dtype == bool:
            a = a.astype(np.int32)
        return _cc.given(*remap_given(a), threads=threads)
    # labels None: the labelling takes a > 0 as the foreground itself (no full-size copy)
    return _cc.components(a if labels is None else region_mask(a, labels), conn, opts.order, threads)


def _touch_pairs(pred_i, ref_i, n_ref, rbox, k):
    """(pred id, ref id) for every prediction component with a voxel inside the dilated lesion
    (pred_i, ref_i: _cc.Instances; only the lesions' boxes are read)."""
    out = []
    for r in range(1, n_ref + 1):
        sl = crop(rbox[0][r], rbox[1][r], k, ref_i.shape)
        d = dilate(ref_i.crop(sl) == r, k) if k else ref_i.crop(sl) == r
        ids = np.unique(pred_i.crop(sl)[d])
        out += [(int(p), r) for p in ids if p]
    out.sort()
    return np.array(out, np.int64).reshape(-1, 2)


def _std(v):
    return float(np.std(v)) if len(v) else NAN


def _ratio(a, b, eps=0.0, both_empty=NAN):
    den = b + eps
    if den == 0:
        return both_empty
    return a / den


def _score_region(pred, ref, labels, spacing, opts, threads, region_name, gpu=None):
    """One region's rows, matches and summary.  pred / ref: host arrays, or DeviceArrays
    (`_device_flow`: everything on the GPU); gpu: a DeviceArray of the call when the inputs
    were on a device, so that the per-lesion distances run there."""
    ndim = pred.ndim
    conn = _lc.connectivity_for(opts, ndim) if opts.instances == "cc" else None
    surf = [m for m in opts.metrics if m in _lc.SURFACE_METRICS]
    need_boxes = bool(surf) or opts.match == "touch"
    if isinstance(pred, DeviceArray):
        pred_i, n_p, ref_i, n_r, pairs, pv, rv, pbox, rbox = _device_instances(pred, ref, opts, conn)
    else:
        pred_i = _instances(pred, labels, opts, conn, threads)
        ref_i = _instances(ref, labels, opts, conn, threads)
        n_p, n_r = pred_i.n, ref_i.n
        if opts.merge_ref and opts.ref_dilation > 0 and n_r:
            merged, n_m, _ = merge_by_dilation(ref_i, n_r, opts.ref_dilation, ref_i.boxes())
            if n_m != n_r:
                ref_i, n_r = _cc.given(merged, n_m, threads), n_m
        if opts.matcher == "voronoi":
            return _score_voronoi(pred_i.labels, ref_i.labels, n_r, spacing, opts, region_name)
        pairs, pv, rv = _cc.overlap(pred_i, ref_i, threads)
        pbox = rbox = None
        if need_boxes:
            pbox = pred_i.boxes()
            rbox = ref_i.boxes()
    # size filter
    unit_vol = opts.size_unit == "mm3"

    def size_of(n):
        return _volume(n, spacing) if unit_vol else float(n)

    def filtered(n):
        s = size_of(n)
        return s <= opts.min_size if opts.size_inclusive else s < opts.min_size

    use_filter = opts.min_size > 0
    excluded = np.zeros(n_r + 1, bool)
    removed = np.zeros(n_p + 1, bool)
    if use_filter and opts.size_side in ("ref", "both"):
        excluded[1:] = [filtered(int(v)) for v in rv[1:]]
    if use_filter and opts.size_side in ("pred", "both"):
        removed[1:] = [filtered(int(v)) for v in pv[1:]]
    keep = ~removed[pairs[:, 0]] if len(pairs) else np.zeros(0, bool)
    tab = _m.Table(pairs[keep, 0], pairs[keep, 1], pairs[keep, 2], pv, rv)
    lits_lut = None
    if opts.matcher == "lits" and n_r:
        lits_lut = _m.lits_ref_merge(tab)
        if not np.array_equal(lits_lut, np.arange(n_r + 1)):
            n_r = int(lits_lut.max())
            ref_i = _cc.given(lits_lut[ref_i.labels].astype(np.int32), n_r, threads)
            pairs, pv, rv = _cc.overlap(pred_i, ref_i, threads)
            keep = ~removed[pairs[:, 0]]
            tab = _m.Table(pairs[keep, 0], pairs[keep, 1], pairs[keep, 2], pv, rv)
            excluded = np.zeros(n_r + 1, bool)
            if need_boxes:
                rbox = ref_i.boxes()
    extra = None
    if opts.match == "touch":
        extra = _touch_pairs(pred_i, ref_i, n_r, rbox, opts.ref_dilation)
        if len(extra):
            extra = extra[~removed[extra[:, 0]]]
    match = _m.run(tab, opts, extra)
    look = tab.lookup()
    # rows
    rows, items, where = [], [], []
    mets = opts.metrics
    for r in range(1, n_r + 1):
        pids = tuple(match.groups.get(r, ()))
        kind = "excluded" if excluded[r] else ("tp" if pids else "fn")
        inter = sum(look.get((r, q), 0) for q in pids)
        pvox = int(sum(int(pv[q]) for q in pids))
        rvox = int(rv[r])
        row = dict(region=region_name, kind=kind, ref_id=r, pred_ids=pids, ref_voxels=rvox,
                   ref_volume=_volume(rvox, spacing), pred_voxels=pvox, pred_volume=_volume(pvox, spacing))
        if pids:
            mt = "iou" if opts.match == "touch" else opts.match
            if opts.float32:
                sc = float(_m.score(inter, rvox, pvox, mt, True))
            else:
                sc = {"iou": inter / (rvox + pvox - inter), "dice": 2.0 * inter / (rvox + pvox)}.get(mt, float(inter))
            row["match_score"] = sc
            for m in mets:
                if m == "dice":
                    row[m] = 2.0 * inter / (rvox + pvox)
                elif m == "iou":
                    row[m] = inter / (rvox + pvox - inter)
                elif m == "rvd":
                    row[m] = (pvox - rvox) / rvox
                elif m == "rvae":
                    row[m] = abs(pvox - rvox) / rvox
                else:
                    row[m] = NAN
            if surf:
                items.append(((r,), pids))
                where.append(row)
        else:
            row["match_score"] = NAN
            for m in mets:
                row[m] = opts.fn_penalty.get(m, NAN)
        rows.append(row)
    used = match.used_preds
    for p in range(1, n_p + 1):
        if p in used or removed[p]:
            continue
        pvox = int(pv[p])
        row = dict(region=region_name, kind="fp", ref_id=0, pred_ids=(p,), ref_voxels=0, ref_volume=0.0,
                   pred_voxels=pvox, pred_volume=_volume(pvox, spacing), match_score=NAN)
        for m in mets:
            row[m] = opts.fp_penalty.get(m, NAN)
        rows.append(row)
    if items:
        pl, rl = pred_i, ref_i
        if gpu is not None and not isinstance(pred_i, DeviceArray):  # host instances, GPU distances
            pl, rl = _to_device(gpu, pred_i.labels), _to_device(gpu, ref_i.labels)
        sds = pair_distances(pl, rl, items, pbox, rbox, spacing, opts.surface, threads, opts.tolerance,
                             pred_voxels=pv, ref_voxels=rv)
        for row, sd in zip(where, sds):
            for m in surf:
                if m == "hd95":
                    row[m] = sd.hd95()
                elif m == "hd":
                    row[m] = sd.hausdorff()
                elif m == "assd":
                    row[m] = sd.assd()
                elif m == "masd":
                    row[m] = sd.masd()
                elif m == "nsd":
                    row[m] = sd.nsd(opts.tolerance)
    matches = [dict(region=region_name, ref_id=r, pred_id=p, score=s) for r, p, s in sorted(match.pairs)]
    n_pred = int(n_p - removed[1:].sum())
    summary = _summary(rows, pv, rv, pairs, n_pred, opts)
    if opts.convention == "brats2023" or opts.empty == "brats":
        summary.update(_brats_extras(pred, ref, labels, spacing, rows, opts))
    return rows, matches, summary


def _score_voronoi(pred_i, ref_i, n_r, spacing, opts, region_name):
    """MONAI's DiceMetric(per_component=True): one row per reference component, scored in
    its Voronoi cell (see voronoi.py); no FP rows (every voxel is in some cell)."""
    from .voronoi import cell_dice

    rows = []
    if n_r:
        d, cnt = cell_dice(pred_i > 0, ref_i > 0, ref_i, n_r)
        for r in range(1, n_r + 1):
            tp, fp, fn = (int(x) for x in cnt[r - 1])
            rows.append(dict(region=region_name, kind="tp" if tp else "fn", ref_id=r, pred_ids=(), ref_voxels=tp + fn,
                             ref_volume=_volume(tp + fn, spacing), pred_voxels=tp + fp,
                             pred_volume=_volume(tp + fp, spacing), match_score=float(d[r - 1]), dice=float(d[r - 1])))
        cc = float(np.mean(d, dtype=np.float32))
    else:
        cc = NAN  # MONAI's ignore_empty=True
    tp = sum(r["kind"] == "tp" for r in rows)
    s = dict(n_ref=n_r, n_pred=NAN, tp=tp, fp=0, fn=n_r - tp, cc_dice=cc,
             sq_dice=float(np.mean([r["dice"] for r in rows if r["kind"] == "tp"])) if tp else NAN, iou_sum=NAN)
    return rows, [], s


def _summary(rows, pv, rv, pairs, n_pred_components, opts):
    tp_rows = [r for r in rows if r["kind"] == "tp"]
    tp = len(tp_rows)
    fn = sum(r["kind"] == "fn" for r in rows)
    fp = sum(r["kind"] == "fp" for r in rows)
    n_ref = tp + fn
    merged = opts.matcher in ("greedy_many", "merge", "lits")
    n_pred = tp + fp if merged else n_pred_components
    any_inst = (n_ref + n_pred) > 0 or any(r["kind"] == "excluded" for r in rows)
    eps = opts.eps
    s = dict(n_ref=n_ref, n_pred=n_pred, tp=tp, fp=fp, fn=fn)
    s["precision"] = _ratio(tp, tp + fp)
    s["recall"] = _ratio(tp, tp + fn)
    f1_empty = {"isles": 1.0, "monai": 0.0, "brats": NAN}.get(opts.empty, NAN)
    s["f1"] = _ratio(tp, tp + 0.5 * fp + 0.5 * fn, eps, f1_empty)
    s["rq"] = s["f1"]
    ious = [r.get("iou", NAN) if "iou" in r else r["match_score"] for r in tp_rows]
    if opts.float32:
        iou_sum = float(np.float32(np.sum(np.asarray([r["match_score"] for r in tp_rows], np.float32),
                                          dtype=np.float32))) if tp else 0.0
    else:
        iou_sum = float(np.sum(ious)) if tp else 0.0
    s["iou_sum"] = iou_sum
    zero_tp = {}  # value of sq_<m> when there is no TP (panoptica's table; segscore: nan)
    if opts.empty == "panoptica":
        for m in ("dice", "iou"):
            zero_tp[m] = 0.0 if any_inst else NAN
        for m in ("assd", "hd", "hd95", "masd"):
            zero_tp[m] = INF if any_inst else NAN
        zero_tp["nsd"] = 0.0 if any_inst else NAN
    if opts.empty == "metricsreloaded":  # its SQ: nan -> 0 when DQ = 0 (always so without a TP)
        zero_tp.update(dice=0.0, iou=0.0)
    if opts.empty == "monai":
        s["sq"] = iou_sum / (tp + eps) if (tp + eps) else 0.0
        s["pq"] = iou_sum / (tp + 0.5 * fp + 0.5 * fn + eps) if (tp + fp + fn + eps) else 0.0
    else:
        s["sq"] = float(np.mean(ious)) if tp else zero_tp.get("iou", NAN)
        s["pq"] = s["sq"] * s["f1"]
    dices = [r["dice"] for r in tp_rows if "dice" in r]
    if dices or tp == 0:
        s["sq_dice"] = float(np.mean(dices)) if tp else zero_tp.get("dice", NAN)
        s["pq_dice"] = s["sq_dice"] * s["f1"]
    for m in opts.metrics:
        vals = [r[m] for r in tp_rows]
        s[f"sq_{m}"] = float(np.mean(vals)) if tp else zero_tp.get(m, NAN)
        s[f"sq_{m}_std"] = _std(vals)
    inter = int(pairs[:, 2].sum()) if len(pairs) else 0
    P, R = int(pv[1:].sum()), int(rv[1:].sum())
    gd_empty = 1.0 if opts.empty == "brats" else NAN
    s["global_dice"] = 2.0 * inter / (P + R) if (P + R) else gd_empty
    s["global_iou"] = inter / (P + R - inter) if (P + R) else gd_empty
    s["dsc_tp"] = s.get("sq_dice", NAN)
    s["fp_per_case"] = float(fp)
    return s


def _brats_extras(pred, ref, labels, spacing, rows, opts):
    from ..metrics.surface.functional import hd95

    pen = opts.penalty_distance if opts.penalty_distance is not None else INF
    pm = region_mask(pred, labels)
    rm = region_mask(ref, labels)
    iC, rC = int(pm.sum()), int(rm.sum())
    tp = int(np.count_nonzero(pm & rm))
    fpv, fnv = iC - tp, rC - tp
    tn = int(pm.size) - iC - rC + tp
    out = {}
    scored = [r for r in rows if r["kind"] in ("tp", "fn", "fp")]
    out["lesion_dice"] = float(np.sum([r["dice"] for r in scored]) / len(scored)) if scored else 1.0
    out["lesion_hd95"] = float(np.sum([r["hd95"] for r in scored]) / len(scored)) if scored else 0.0
    if iC == 0 and rC == 0:
        out["legacy_dice"], out["legacy_hd95"] = 1.0, 0.0
    else:
        out["legacy_dice"] = 2.0 * tp / (iC + rC)
        h = hd95(pm, rm, spacing=spacing, convention="deepmind")
        out["legacy_hd95"] = pen if math.isinf(h) else h
    fmin = sys.float_info.min
    out["sensitivity"] = 1.0 if (iC == 0 and rC == 0) else 1.0 * tp / (tp + fnv + fmin)
    out["specificity"] = 1.0 * tn / (tn + fpv + fmin)
    out["gt_volume"] = _volume(rC, spacing)
    return out


def lesionwise(pred, ref, spacing=None, *, convention="segscore", threads=None, device=None, **options):
    """Lesion-wise (instance-wise) scores of one case under a named convention.

    Instances are found in each map (connected components, or the given instance ids),
    reference lesions may be merged and size-filtered, reference lesions and prediction
    components are matched by the convention's rule, and every lesion gets its row:
    matched ones their per-lesion metrics (Dice, IoU, HD95, ASSD, ... against the union of
    their matched components), missed ones and unmatched components the convention's
    penalties.  The summary holds the detection counts and rates, panoptic quality and
    the convention's own scores, in one key vocabulary for every convention.

    Parameters
    ----------
    pred, ref : array_like
        Prediction and reference of one shape, 2-D or 3-D: bool masks or integer label maps
        (``instances="cc"``: the components of each region), or integer instance maps
        (``instances="given"``, e.g. ``convention="monai"``: each non-zero value is an
        instance).  Float arrays raise ``TypeError``.
    spacing : sequence of float, optional
        Voxel size in mm per axis (None: 1).  Volumes are in mm^3, distances in mm.
        ``brats2023`` rounds it to float32 first, as the BraTS script reads NIfTI zooms.
    convention : str, default "segscore"
        ``"segscore"``, ``"brats2023"``, ``"panoptica"``, ``"monai"``, ``"monai_cc_dice"``,
        ``"metricsreloaded"``, ``"isles"`` or ``"lits"``: a preset of the options below
        (table in Notes).
    threads : int, optional
        CPU threads of the per-lesion distance computation.
    device : {None, "cpu", "cuda", "cupy"}, optional
        Where to run (see :func:`segscore.evaluate`): None follows the inputs (CuPy arrays
        and torch CUDA tensors run on their GPU), ``"cpu"`` copies GPU inputs to the host,
        ``"cuda"`` / ``"cupy"`` pick the GPU executor (host inputs are copied to the GPU).
        On the GPU the per-lesion distances of all lesions of a case run in one batch of
        surface launches; components and the overlap table run there too for the
        conventions that need nothing else (``segscore``, ``panoptica``, ``isles``), the
        others find their instances on the host.  The numbers equal the CPU path's.
    **options
        Any option of the preset, overriding it (unknown names raise ``TypeError`` listing
        the valid ones): ``regions`` (None or ``{name: label | tuple}``), ``instances``
        (``"cc"`` / ``"given"``), ``connectivity`` (``"full"``, ``"edge"``, ``"face"`` or
        4 / 8 / 6 / 18 / 26), ``order`` (``"C"`` / ``"F"``: component numbering raster),
        ``ref_dilation`` (iterations of the (ndim, 2) structure), ``merge_ref`` (merge
        reference components whose dilations touch), ``min_size``, ``size_unit``
        (``"voxels"`` / ``"mm3"``), ``size_side`` (``"ref"``: such lesions become
        ``"excluded"`` rows and their predictions are neither TP nor FP; ``"pred"``:
        such components are dropped; ``"both"``), ``size_inclusive`` (size <= min_size is
        filtered, else <), ``match`` (``"iou"``, ``"dice"``, ``"overlap"`` in voxels,
        ``"touch"``: a component with a voxel inside the dilated lesion), ``threshold``,
        ``strict`` (score > threshold, else >=), ``matcher`` (``"all"``: every admissible
        pair, a component may serve several lesions; ``"greedy"`` / ``"greedy_many"``:
        panoptica's naive matcher one-to-one / many-to-one; ``"hungarian"``: one-to-one
        maximising the summed score over admissible pairs; ``"hungarian_full"``:
        panoptica's bipartite matcher; ``"monai"``: MONAI's rule; ``"merge"``: panoptica's
        maximize-merge; ``"lits"``: LiTS's merges), ``metrics`` (per-lesion: ``dice``,
        ``iou``, ``hd``, ``hd95``, ``assd``, ``masd``, ``nsd``, ``rvd``, ``rvae``),
        ``surface`` (the surface convention of the distances, a name in
        :data:`segscore.CONVENTIONS`), ``tolerance`` (NSD, mm), ``fn_penalty`` /
        ``fp_penalty`` (``{metric: value}`` of a missed lesion / an FP row; absent: nan),
        ``empty`` (summary values of empty counts: ``"segscore"``, ``"panoptica"``,
        ``"monai"``, ``"brats"``, ``"isles"``), ``float32`` and ``eps`` (MONAI's float32
        IoU and the 1e-6 in its denominators), ``challenge`` (``brats2023``: GLI, SSA, PED,
        MEN, MET).

    Returns
    -------
    LesionResult
        ``.lesions`` (rows), ``.matches`` (ref_id, pred_id, score), ``.summary`` (a dict, or
        ``{region: dict}`` with regions), ``.to_pandas()``, ``.meta``.

    Raises
    ------
    TypeError
        Float inputs, bool masks where regions of label maps are needed, unknown options.
    ValueError
        Shapes differ, 1-D or 4-D inputs, negative labels, a connectivity that does not fit
        the dimension, a threshold outside the match rule's range, an unknown convention.

    Notes
    -----
    Summary keys: ``n_ref``, ``n_pred``, ``tp``, ``fp``, ``fn``, ``precision`` = tp / (tp
    + fp), ``recall`` = tp / (tp + fn), ``f1`` = ``rq`` = tp / (tp + fp/2 + fn/2 + eps),
    ``sq`` (mean IoU over TP; MONAI: iou_sum / (tp + eps)), ``pq`` (sq * rq; MONAI:
    iou_sum / (tp + fp/2 + fn/2 + eps)), ``sq_dice``, ``pq_dice``, ``sq_<m>`` and
    ``sq_<m>_std`` (mean and population std over TP of each per-lesion metric),
    ``global_dice``, ``global_iou`` (of the whole region masks), ``iou_sum``, ``dsc_tp``
    (= sq_dice), ``fp_per_case``; ``brats2023`` adds ``lesion_dice`` (sum of the kept
    lesions' Dice / (kept + FP), 1 for 0/0), ``lesion_hd95`` ((sum of HD95 + 374 FP) /
    (kept + FP), 0 for 0/0), ``legacy_dice``, ``legacy_hd95`` (region Dice and DeepMind
    HD95; 1 and 0 when both are empty, 374 for one empty), ``sensitivity``,
    ``specificity`` (GaNDLF's formulas with float_min) and ``gt_volume`` (mm^3).

    Conventions (hit; false positive; empty case):

    * ``segscore``: components at full connectivity; IoU > 0.5, one-to-one (Hungarian on
      admissible pairs, unique at this threshold); unmatched components; rates 0/0 are
      nan, FN / FP rows have nan metrics.
    * ``brats2023``: WT / TC / ET from labels 1, 2, 3; 26-connectivity; reference
      components merged when their dilations touch; a lesion is hit by every component
      with a voxel inside its dilation (bounding box + dilation, never the whole volume),
      all of them unioned; FP: components touching no dilated lesion; lesions <= 50 mm^3
      (MET: 2) excluded; FN / FP rows Dice 0, HD95 374 (DeepMind robust HD95 per lesion).
    * ``panoptica``: 26-connectivity in 3-D, 4 in 2-D; IoU >= 0.5, greedy one-to-one by
      score; FP: n_pred - tp; per-instance metrics in the panoptica surface convention;
      with no TP, sq_dice / sq (IoU) are 0 and distances inf (panoptica raises for HD,
      HD95 and NSD there), nan when there is no instance at all.
    * ``monai``: given instance maps; float32 IoU > threshold (Hungarian over all pairs
      below 0.5); 1e-6 in every PQ / SQ / RQ denominator, so empty cases give 0.
    * ``monai_cc_dice``: MONAI's ``DiceMetric(per_component=True)``: each reference component
      (full connectivity) is scored by the Dice inside its Voronoi cell (nearest component by
      scipy's unit-spacing EDT, the image spacing ignored as MONAI does); summary ``cc_dice``
      = their float32 mean, nan without a reference voxel.
    * ``metricsreloaded``: given instances, IoU > 0.5 (unique, where its tie rules never
      apply; its greedy and Hungarian assignment bugs are not reproduced).
    * ``isles``: 26-connectivity; a lesion is hit by any overlap; FP: components touching
      no lesion; both empty: F1 = 1.
    * ``lits``: 6-connectivity; reference components with the same best prediction merged,
      then predictions with the same best lesion; hit when IoU > 0.5.

    References
    ----------
    .. [1] Kirillov, A. et al. (2019). Panoptic segmentation. CVPR (PQ = SQ x RQ).
    .. [2] Kofler, F. et al. (2023). Panoptica -- instance-wise evaluation of 3D semantic and
        instance segmentation maps. arXiv:2312.02608 (panoptica 2.1.7).
    .. [3] BraTS 2023 lesion-wise metrics, github.com/rachitsaluja/BraTS-2023-Metrics (43c9052).
    .. [4] MONAI 1.6.1, monai.metrics.compute_panoptic_quality.
    .. [5] Bilic, P. et al. (2023). The Liver Tumor Segmentation Benchmark (LiTS). MedIA 84.

    Examples
    --------
    >>> import numpy as np
    >>> import segscore as ss
    >>> ref = np.zeros((16, 16), bool); ref[2:6, 2:6] = True; ref[10:13, 10:13] = True
    >>> pred = np.zeros_like(ref); pred[2:6, 3:7] = True; pred[0:2, 12:14] = True
    >>> res = ss.lesionwise(pred, ref)
    >>> {k: res.summary[k] for k in ("tp", "fp", "fn", "f1")}
    {'tp': 1, 'fp': 1, 'fn': 1, 'f1': 0.5}
    >>> round(res.summary["sq"], 4), round(res.summary["pq"], 4)
    (0.6, 0.3)
    >>> res.lesions[0]["kind"], round(res.lesions[0]["dice"], 4), round(res.lesions[0]["hd95"], 4)
    ('tp', 0.75, 1.0)
    >>> lab = np.zeros((20, 20, 20), np.uint8); lab[4:10, 4:10, 4:10] = 2; lab[6:8, 6:8, 6:8] = 3
    >>> b = ss.lesionwise(lab, lab, spacing=(1, 1, 1), convention="brats2023")
    >>> sorted(b.summary), b.summary["TC"]["lesion_dice"], b.summary["WT"]["lesion_hd95"]
    (['ET', 'TC', 'WT'], 1.0, 0.0)
    """
    from .. import __version__

    from .. import gpu as _gpu

    opts = _lc.resolve(convention, options)
    dev = _gpu.prepare([pred, ref], ["pred", "ref"], device)  # None: the CPU path
    gpu = None
    if dev is not None and _device_flow(opts):
        p, r = _device_inputs(dev[0], dev[1], opts)
    else:
        p, r = _inputs(pred, ref, opts)
        gpu = dev[0] if dev is not None else None
    sp = check_spacing(spacing, p.ndim)
    if opts.convention == "brats2023":
        sp = tuple(float(np.float32(s)) for s in sp)
    nthreads = resolve_threads(threads)
    regions = opts.regions
    all_rows, all_matches, summary = [], [], {}
    if regions is None:
        rows, matches, summary = _score_region(p, r, None, sp, opts, nthreads, None, gpu)
        all_rows, all_matches = rows, matches
    else:
        for name, labs in regions.items():
            rows, matches, s = _score_region(p, r, labs, sp, opts, nthreads, name, gpu)
            all_rows += rows
            all_matches += matches
            summary[name] = s
    meta = dict(version=__version__, convention=opts.convention, mirrors=opts.peer, options=opts.as_dict(),
                spacing=sp, shape=tuple(p.shape), device="cpu" if dev is None else _gpu.backend_name(dev[0]))
    return LesionResult(all_rows, all_matches, summary, meta, opts.metrics)
