"""``segscore compare PRED REF``: one's own cases under every convention, and the reference
libraries on the same inputs.

`compare` pairs the inputs (two files, or two folders paired by case id as ``segscore
score`` pairs them; a random sample with ``cases=N``), scores every case under every surface
convention (and every calibration convention when probabilities are given) and reports, per
metric and label, the value in each convention and the spread (max - min) with the
conventions that differ from segscore's.  With ``peers=True`` it also runs the reference
libraries that are installed (segscore.app.peers: MONAI, DeepMind surface-distance, MedPy,
MetricsReloaded from a checkout, panoptica, torchmetrics, scipy / edt) on the same masks,
checks each against the segscore convention named after it and times both.  The report is
a plain dict (``json``-ready); `render` prints it as tables, `write_json` and `plot_spread`
save it.
"""

from __future__ import annotations

import json
import math
import os
import random
import time

import numpy as np

from ..metrics import registry as _registry
from . import peers as _peers
from .io import CaseError, blocking_file, case_id, check_geometry, read_image
from .pairing import CaseSpec, pair_cases

DEFAULT_METRICS = ("hd", "hd95", "assd", "masd", "nsd", "biou")
CALIBRATION_METRICS = ("ece", "mce", "ace")
EXIT_FAILED_CASES = 3
EXIT_DISAGREE = 4
# values within this relative difference are one group (MONAI's float32 distances round at ~6e-8)
GROUP_REL = 1e-6
# unit roundoff of float32: a library summing n values in [0, 1] in float32 one after another
# (torch's scatter_add_, as torchmetrics and MONAI bin) is off by at most 2 * n * U32 on ECE
U32 = 2.0 ** -24


# ====================================================================== inputs
def surface_metrics(metrics=None, tolerance=1.0) -> list:
    """The surface metric names to compare: ``nsd`` -> ``nsd@<tolerance>``, ``biou`` ->
    ``biou@1``; ValueError for a name that is not a boundary metric."""
    out = []
    for m in (DEFAULT_METRICS if metrics is None else metrics):
        name = str(m).strip().lower()
        entry = _registry.lookup(name)
        if entry is None or entry.kind != _registry.SURFACE:
            known = ", ".join(e.name for e in _registry.select(kind=_registry.SURFACE))
            raise ValueError(f"--metrics: {m!r} is not a boundary metric; compare takes {known}, hd<p>, nsd@<mm>, "
                             "biou@<mm>")
        if name == "nsd":
            name = f"nsd@{tolerance:g}"
        elif name == "biou":
            name = "biou@1"
        elif name in ("hausdorff",):
            name = "hd"
        if name not in out:
            out.append(name)
    return out


def _family(metric: str) -> str:
    return _registry.lookup(metric).family


def find_cases(pred, ref, probs=None, cases=None, seed=0):
    """(CaseSpecs to compare, [(case id, why it is left out)]): a pair of files, or two folders
    paired by case id; `cases`: a random sample of that many complete pairs (`seed`)."""
    pred, ref = os.fspath(pred), os.fspath(ref)
    if cases is not None and (isinstance(cases, bool) or not isinstance(cases, int) or cases < 1):
        raise ValueError(f"cases must be an integer >= 1 (or None: all), got {cases!r}")
    for what, p in (("prediction", pred), ("reference", ref), ("probabilities", probs)):
        if p is not None and not os.path.exists(p):
            raise FileNotFoundError(f"{what} {p!r}: no such file or folder")
    if os.path.isfile(pred) and os.path.isfile(ref):
        if probs is not None and not os.path.isfile(probs):
            raise ValueError(f"--probs {probs!r} must be a file when PRED and REF are files")
        cid = case_id(ref) or os.path.basename(ref)
        return [CaseSpec(cid, pred, ref, probs=probs)], []
    if not (os.path.isdir(pred) and os.path.isdir(ref)):
        raise ValueError(f"PRED and REF must be two files or two folders, got {pred!r} and {ref!r}")
    if probs is not None and not os.path.isdir(probs):
        raise ValueError(f"--probs {probs!r} must be a folder when PRED and REF are folders")
    specs = pair_cases(pred, ref, probs_dir=probs)
    complete, left_out = [], []
    for s in specs:
        why = s.problem or ("no prediction file" if s.pred is None else "no reference file" if s.ref is None
                            else "no probability file" if probs is not None and s.probs is None else None)
        (left_out.append((s.case, why)) if why else complete.append(s))
    if not complete:
        raise FileNotFoundError(f"no case has both a prediction in {pred!r} and a reference in {ref!r} "
                                f"({len(specs)} case ids found; files are paired by case id: the name without "
                                ".nii.gz / .nii / .nrrd / .mha and nnU-Net's _0000)")
    if cases is not None and cases < len(complete):
        complete = sorted(random.Random(seed).sample(complete, cases), key=lambda s: s.case)
    return complete, left_out


def _regions(labels, pred, ref) -> dict:
    """{label key: member values}: the given labels, or every non-zero value present in either map."""
    if labels is None:
        vals = set(np.unique(pred).tolist()) | set(np.unique(ref).tolist())
        return {int(v): (int(v),) for v in sorted(vals) if v != 0}
    from ..metrics.case import _parse_labels

    return _parse_labels(labels, -1)


def _mask(arr, members):
    return arr == members[0] if len(members) == 1 else np.isin(arr, members)


# ====================================================================== numbers
def _same(a, b, rel):
    if a is None or b is None:
        return False
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= rel * max(abs(a), abs(b))


def _rel_diff(a, b):
    if a == b or (math.isnan(a) and math.isnan(b)):
        return 0.0
    if not (math.isfinite(a) and math.isfinite(b)):
        return math.inf
    return abs(a - b) / max(abs(a), abs(b))


def spread(values: dict, reference: str = "segscore") -> dict:
    """Spread of one metric's values across conventions ``{convention: value | None}``.

    Returns ``{"spread": max - min (0 for fewer than two numbers; inf when some but not all
    are infinite), "min": [conventions], "max": [conventions], "groups": [[value,
    [conventions]], ...] (equal to GROUP_REL relative, ascending: float32 rounding in the
    MONAI conventions is no disagreement), "differ": [conventions whose value is not
    `reference`'s (or, without it, not the largest group's)]}``; nan and missing values take
    no part.
    """
    nums = {c: v for c, v in values.items() if v is not None and not math.isnan(v)}
    groups = []
    for c, v in sorted(nums.items(), key=lambda kv: kv[1]):
        if groups and _same(groups[-1][0], v, GROUP_REL):
            groups[-1][1].append(c)
        else:
            groups.append([v, [c]])
    if len(groups) < 2:
        s = 0.0
    else:
        s = groups[-1][0] - groups[0][0]
        s = math.inf if math.isnan(s) else s
    base = reference if reference in nums else (max(groups, key=lambda g: len(g[1]))[1][0] if groups else None)
    differ = [c for c in values if c != base and base is not None and
              (c not in nums or not _same(nums[c], nums[base], GROUP_REL))]
    differ = [c for c in differ if values.get(c) is not None]
    return {"spread": s, "min": groups[0][1] if groups else [], "max": groups[-1][1] if groups else [],
            "groups": groups, "differ": differ}


# ====================================================================== one case
def _surface(case, regions, metrics, tolerance, threads, conventions):
    """{(label, metric): {"values": {conv: v}, "errors": {conv: why}}} and {conv: seconds}."""
    import segscore as ss

    from ..metrics.empty import EmptyMaskError

    pred, ref, sp = case["pred"], case["ref"], case["spacing"]
    lab_arg = {k: (m if len(m) > 1 else m[0]) for k, m in regions.items()}
    rows = {(k, m): {"values": {}, "errors": {}} for k in regions for m in metrics}
    times = {}
    for name, conv in conventions.items():
        mine = [m for m in metrics if conv.defines(_family(m))]
        if not mine or pred.ndim not in conv.ndims:
            continue
        t0 = time.perf_counter()
        try:
            res = ss.evaluate(pred, ref, spacing=sp, labels=lab_arg, metrics=mine, convention=name,
                              tolerance=tolerance, threads=threads).to_dict()
        except EmptyMaskError:  # this convention raises on an empty mask: label by label
            res = {}
            for k in regions:
                try:
                    res[k] = ss.evaluate(pred, ref, spacing=sp, labels={k: lab_arg[k]}, metrics=mine, convention=name,
                                         tolerance=tolerance, threads=threads).to_dict()[k]
                except EmptyMaskError:
                    which = "the reference" if not _mask(ref, regions[k]).any() else "the prediction"
                    for m in mine:
                        rows[(k, m)]["errors"][name] = f"raises when {which} is empty"
        times[name] = time.perf_counter() - t0
        for k, vals in res.items():
            for m in mine:
                rows[(k, m)]["values"][name] = float(vals[m])
    return rows, times


def _calibration(probs, ref, conventions):
    """{("all", metric): {...}} and {calibration convention: seconds}: a (x, y, z, C) map against
    the label map (classes on the last axis), a (x, y, z) map against label 1."""
    import segscore as ss

    fns = {"ece": ss.ece, "mce": ss.mce, "ace": ss.ace}
    p = probs
    if p.ndim == ref.ndim + 1:
        target, kw, key = ref, {"class_axis": -1}, "all"
    else:
        target, kw, key = ref == 1, {}, 1
    rows = {(key, m): {"values": {}, "errors": {}} for m in CALIBRATION_METRICS}
    times = {}
    for name, conv in conventions.items():
        t0 = time.perf_counter()
        for m in CALIBRATION_METRICS:
            if not conv.defines(m):
                continue
            try:
                rows[(key, m)]["values"][name] = float(fns[m](p, target, convention=name, **kw))
            except ValueError as exc:
                rows[(key, m)]["errors"][name] = str(exc)
        times[name] = time.perf_counter() - t0
    if not any(r["values"] for r in rows.values()):  # the input itself is bad (NaN, outside [0, 1], ...)
        errs = [why for r in rows.values() for why in r["errors"].values()]
        if errs:
            raise ValueError(f"no calibration convention could score the probabilities: {errs[0]}")
    return rows, times, target, kw.get("class_axis", -1), key


def _check(peer, case_id, label, conv, metric, theirs, mine, f32_sum_bound=None):
    """One agreement check.  `f32_sum_bound`: the absolute error bound of the library's own
    float32 sums (calibration); a difference beyond `peer.rel` but within it reads
    "agree (float32 sums)" (segscore sums in float64: a documented deviation)."""
    rel_diff = None if mine is None else _rel_diff(theirs, mine)
    if mine is None:
        status = "no segscore value"
    elif _same(theirs, mine, peer.rel):
        status = "agree"
    elif f32_sum_bound is not None and abs(theirs - mine) <= f32_sum_bound:
        status = "agree (float32 sums)"
    else:
        status = "DISAGREE"
    out = {"case": case_id, "label": label, "peer": peer.name, "kind": peer.kind, "convention": conv,
           "metric": metric, "peer_value": theirs, "segscore_value": mine, "rel_diff": rel_diff, "tolerance": peer.rel,
           "status": status}
    if f32_sum_bound is not None:
        out["float32_sum_bound"] = f32_sum_bound
    return out


def _failed(peer, case_id, label, exc) -> dict:
    """The check row of a library that raised on this input (reported, never raised)."""
    return {"case": case_id, "label": label, "peer": peer.name, "kind": peer.kind,
            "convention": peer.conventions[0], "metric": "*", "status": f"ERROR ({type(exc).__name__}: {exc})"}


def _run_peers(case, regions, metrics, surf, surf_t, cal, avail, out, threads=None):
    """Every available peer on this case; checks, skips and times appended to `out`."""
    import segscore as ss

    pred, ref, sp = case["pred"], case["ref"], case["spacing"]
    cid = case["case"]
    masks = {k: (_mask(pred, m), _mask(ref, m)) for k, m in regions.items()}
    edt_mine = {}
    for i, peer in enumerate(_peers.PEERS):
        if not avail[i]["available"]:
            continue
        t_peer = t_mine = 0.0
        if peer.kind == "surface":
            t_mine = sum(surf_t.get(c, 0.0) for c in peer.conventions)
            for k, (pm, rm) in masks.items():
                if not pm.any() or not rm.any():
                    out["skipped"].append({"case": cid, "label": k, "peer": peer.name,
                                           "why": "an empty mask (the libraries differ or raise there)"})
                    continue
                t0 = time.perf_counter()
                try:
                    res = peer.run(pm, rm, sp, metrics)
                except Exception as exc:  # the library failed: report it, go on
                    out["checks"].append(_failed(peer, cid, k, exc))
                    continue
                t_peer += time.perf_counter() - t0
                for conv, vals in res.items():
                    for m, v in vals.items():
                        mine = surf.get((k, m), {}).get("values", {}).get(conv)
                        out["checks"].append(_check(peer, cid, k, conv, m, float(v), mine))
        elif peer.kind == "calibration":
            if cal is None:
                continue
            rows, times, target, axis, key = cal
            t_mine = sum(times.get(c, 0.0) for c in peer.conventions)
            t0 = time.perf_counter()
            try:
                res = peer.run(case["probs"], target, axis)
            except Exception as exc:
                out["checks"].append(_failed(peer, cid, key, exc))
                continue
            t_peer += time.perf_counter() - t0
            bound = 2.0 * target.size * U32
            for conv, vals in res.items():
                for m, v in vals.items():
                    mine = rows.get((key, m), {}).get("values", {}).get(conv)
                    out["checks"].append(_check(peer, cid, key, conv, m, float(v), mine, bound))
        else:  # the EDT of each reference region
            for k, (_, rm) in masks.items():
                if rm.all() or not rm.any():
                    continue  # no background voxel (scipy's value is undefined there) or nothing inside
                if k not in edt_mine:
                    t0 = time.perf_counter()
                    edt_mine[k] = (ss.edt(rm, spacing=sp, threads=threads), time.perf_counter() - t0)
                mine, dt = edt_mine[k]
                t_mine += dt
                t0 = time.perf_counter()
                try:
                    theirs = np.asarray(peer.run(rm, sp), dtype=np.float64)
                except Exception as exc:  # the library failed (e.g. edt on a 1-D image): report it, go on
                    out["checks"].append(_failed(peer, cid, k, exc))
                    continue
                t_peer += time.perf_counter() - t0
                diff = float(np.max(np.abs(theirs - mine)))
                scale = float(np.max(np.abs(theirs)))
                c = _check(peer, cid, k, "edt", "edt (max)", scale, float(np.max(mine)))
                c["rel_diff"] = diff / scale if scale else diff
                c["status"] = "agree" if diff <= peer.rel * scale else "DISAGREE"
                out["checks"].append(c)
        t = out["times"].setdefault((peer.name, peer.kind), [0.0, 0.0])
        t[0] += t_peer
        t[1] += t_mine


def _warm_up(avail, metrics, conventions) -> None:
    """Run segscore and every available library once on a tiny case, untimed, so that the
    times leave out lazy imports and first-call set-up (a failure here shows up later)."""
    import warnings

    import segscore as ss

    g = np.indices((8, 8, 6)).astype(float)
    ref = ((g[0] - 3.5) ** 2 + (g[1] - 3.5) ** 2 + (g[2] - 2.5) ** 2 <= 6).astype(np.uint8)
    pred = np.roll(ref, 1, axis=0)
    sp = (1.0, 1.0, 1.5)
    for name, conv in conventions.items():
        mine = [m for m in metrics if conv.defines(_family(m))]
        if mine:
            ss.evaluate(pred, ref, spacing=sp, metrics=mine, convention=name)
    ss.edt(ref.astype(bool), spacing=sp)
    probs = np.stack([1 - ref * 0.8, ref * 0.8], axis=-1).astype(np.float32)
    for peer, a in zip(_peers.PEERS, avail):
        if not a["available"]:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if peer.kind == "surface":
                    peer.run(pred.astype(bool), ref.astype(bool), sp, metrics)
                elif peer.kind == "calibration":
                    peer.run(probs, ref.astype(np.int64), -1)
                else:
                    peer.run(ref.astype(bool), sp)
        except Exception:  # reported where it matters, on the real cases
            pass


def load(spec: CaseSpec, geometry_tolerance=1e-3, check_affine=True) -> dict:
    """Read one case's images and check that they lie on one grid (CaseError otherwise)."""
    ref = read_image(spec.ref, "label")
    pred = read_image(spec.pred, "label")
    check_geometry(ref, pred, "prediction", geometry_tolerance, check_affine)
    probs = None
    if spec.probs is not None:
        probs = read_image(spec.probs, "prob")
        check_geometry(ref, probs, "probabilities", geometry_tolerance, check_affine, spatial_only=True)
        probs = probs.array
    return {"case": spec.case, "pred": pred.array, "ref": ref.array, "spacing": tuple(float(s) for s in ref.spacing),
            "probs": probs}


# ====================================================================== the whole comparison
def compare(pred, ref, probs=None, labels=None, metrics=None, tolerance=1.0, cases=None, seed=0, peers=False,
            metricsreloaded=None, threads=None, geometry_tolerance=1e-3, check_affine=True, progress=None) -> dict:
    """Score PRED against REF under every convention (and run the reference libraries).

    Parameters
    ----------
    pred, ref : path
        Two label-map files, or two folders whose files are paired by case id.
    probs : path, optional
        Probability map(s), (x, y, z, C) with channel c = label c or (x, y, z) = P(label 1):
        adds ECE / MCE / ACE under every calibration convention.
    labels : optional
        What ``ss.evaluate`` accepts (ints, ``{name: int | tuple}``); None: every label present.
    metrics : list of str, optional
        Boundary metrics (default hd, hd95, assd, masd, nsd, biou).
    tolerance : float
        NSD tolerance in mm, the same for every convention (default 1).
    cases : int, optional
        Compare a random sample of this many cases (`seed`).
    peers : bool
        Also run the installed reference libraries and check each against its convention.
    metricsreloaded : path, optional
        A MetricsReloaded checkout (not on PyPI).

    Returns
    -------
    dict
        ``cases``, ``rows`` (per case, label and metric: values per convention, spread,
        conventions that differ), ``summary`` (per label and metric over the cases),
        ``times`` (segscore seconds per convention), ``errors``, ``left_out`` and, with
        `peers`, ``peers`` (availability, checks, per-peer times).
    """
    from .. import __version__
    from ..calibration.conventions import CALIBRATION_CONVENTIONS
    from ..metrics.surface.conventions import CONVENTIONS

    mets = surface_metrics(metrics, tolerance)
    specs, left_out = find_cases(pred, ref, probs, cases, seed)
    avail = None
    if peers:
        mr_problem = _peers.add_metricsreloaded(metricsreloaded) if metricsreloaded is not None else None
        avail = []
        for p in _peers.PEERS:
            a = _peers.availability(p)
            if p.dist is None and mr_problem:
                a = {"available": False, "version": None, "reason": mr_problem}
            avail.append(a)
    report = {"segscore_version": __version__, "pred": os.fspath(pred), "ref": os.fspath(ref),
              "probs": None if probs is None else os.fspath(probs),
              "options": {"metrics": mets, "tolerance": tolerance, "cases": cases, "seed": seed,
                          "labels": labels},
              "conventions": list(CONVENTIONS), "calibration_conventions": list(CALIBRATION_CONVENTIONS),
              "cases": [], "rows": [], "errors": [], "left_out": [{"case": c, "why": w} for c, w in left_out],
              "times": {}, "calibration_times": {}}
    pout = {"checks": [], "skipped": [], "times": {}}
    if peers:
        _warm_up(avail, mets, CONVENTIONS)
    for n, spec in enumerate(specs):
        if progress:
            progress(n, len(specs), spec.case)
        try:
            case = load(spec, geometry_tolerance, check_affine)
            if case["ref"].ndim > 3:
                raise CaseError("values", f"the label maps have shape {case['ref'].shape}; compare scores 1-D to "
                                "3-D label maps (a 4-D series: one volume per file)", spec.ref)
            regions = _regions(labels, case["pred"], case["ref"])
            surf, surf_t = _surface(case, regions, mets, tolerance, threads, CONVENTIONS)
        except CaseError as exc:
            report["errors"].append({"case": spec.case, "stage": exc.stage, "reason": exc.reason, "file": exc.file})
            continue
        except (ValueError, TypeError) as exc:  # labels out of range, ...: this case fails, the others go on
            report["errors"].append({"case": spec.case, "stage": "values", "reason": str(exc), "file": spec.pred})
            continue
        report["cases"].append(spec.case)
        for c, t in surf_t.items():
            report["times"][c] = report["times"].get(c, 0.0) + t
        rows = [("surface", k, m, r) for (k, m), r in surf.items()]
        cal = None
        if case["probs"] is not None:
            try:
                cal = _calibration(case["probs"], case["ref"], CALIBRATION_CONVENTIONS)
            except (ValueError, TypeError) as exc:
                report["errors"].append({"case": spec.case, "stage": "calibration", "reason": str(exc),
                                         "file": spec.probs})
            else:
                rows += [("calibration", k, m, r) for (k, m), r in cal[0].items() if r["values"] or r["errors"]]
                for c, t in cal[1].items():
                    report["calibration_times"][c] = report["calibration_times"].get(c, 0.0) + t
        for fam, k, m, r in rows:
            s = spread(r["values"])
            report["rows"].append({"case": spec.case, "family": fam, "label": str(k), "metric": m,
                                   "values": r["values"], "errors": r["errors"], **s})
        if peers:
            _run_peers(case, regions, mets, surf, surf_t, cal, avail, pout, threads)
    report["summary"] = _summary(report["rows"])
    order = report["conventions"] + report["calibration_conventions"]
    for s in report["summary"]:
        s["differ"].sort(key=order.index)
    if peers:
        times = []
        for i, p in enumerate(_peers.PEERS):
            t = pout["times"].get((p.name, p.kind))
            checks = [c for c in pout["checks"] if (c["peer"], c["kind"]) == (p.name, p.kind)]
            times.append({"peer": p.name, "kind": p.kind, "conventions": list(p.conventions), **avail[i],
                          "peer_s": None if t is None else t[0], "segscore_s": None if t is None else t[1],
                          "checks": len(checks), "agree": sum(c["status"].startswith("agree") for c in checks),
                          "disagree": sum(c["status"] == "DISAGREE" for c in checks),
                          "errors": sum(c["status"].startswith("ERROR") for c in checks)})
        for c in pout["checks"]:
            c["label"] = str(c["label"])
        for s in pout["skipped"]:
            s["label"] = str(s["label"])
        report["peers"] = {"libraries": times, "checks": pout["checks"], "skipped": pout["skipped"]}
    return report


def _summary(rows) -> list:
    """Per (family, label, metric): the mean value per convention over the cases where it is
    finite (``n_mean``: how many) and the largest per-case spread with its case."""
    out = {}
    for r in rows:
        key = (r["family"], r["label"], r["metric"])
        s = out.setdefault(key, {"family": r["family"], "label": r["label"], "metric": r["metric"], "n_cases": 0,
                                 "_vals": {}, "max_spread": -1.0, "max_spread_case": None, "differ": []})
        s["n_cases"] += 1
        for c, v in r["values"].items():
            s["_vals"].setdefault(c, []).append(v)
        if r["spread"] > s["max_spread"]:
            s["max_spread"], s["max_spread_case"] = r["spread"], r["case"]
        s["differ"] += [c for c in r["differ"] if c not in s["differ"]]
    res = []
    for s in out.values():
        vals = s.pop("_vals")
        s["mean"], s["n_mean"] = {}, {}
        for c, v in vals.items():
            fin = [x for x in v if math.isfinite(x)]
            s["mean"][c] = float(np.mean(fin)) if fin else (v[0] if all(x == v[0] for x in v) else math.nan)
            s["n_mean"][c] = len(fin)
        res.append(s)
    return res


def exit_code(report) -> int:
    """0; 3 when some cases could not be compared; 4 when an installed peer disagrees."""
    if report.get("peers") and any(p["disagree"] for p in report["peers"]["libraries"]):
        return EXIT_DISAGREE
    return EXIT_FAILED_CASES if report["errors"] else 0


# ====================================================================== output
def _num(v):
    if v is None or isinstance(v, (str, bool, int)):
        return v
    if isinstance(v, float) and not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return v


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.floating, np.integer)):
        obj = obj.item()
    return _num(obj)


def to_json(report) -> str:
    """The report as strict JSON (nan / inf as the strings "nan", "inf", "-inf")."""
    return json.dumps(_jsonable(report), indent=1, allow_nan=False)


def check_output(path, option: str) -> None:
    """OSError naming `option` unless a file can be written at `path` (its folder is created):
    checked before any case is compared, so that a long run never ends on an unwritable output."""
    import tempfile

    path = os.path.abspath(os.fspath(path))
    if os.path.isdir(path):
        raise OSError(f"{option} {path} is a folder; give a file name")
    d = os.path.dirname(path)
    p = blocking_file(d)
    if p is not None:
        raise OSError(f"{option} {path}: {p} is a file, not a folder")
    try:
        os.makedirs(d, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".segscore-compare.", suffix=".probe", dir=d)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OSError(f"{option} {path}: cannot write in {d} ({exc.strerror or exc})") from None


def write_json(report, path) -> None:
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(to_json(report))
        f.write("\n")
    os.replace(tmp, path)


def _fmt(v, width=None):
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    a = abs(v)
    return f"{v:.4g}" if a == 0 or 1e-3 <= a < 1e5 else f"{v:.3e}"


def _short(conv):
    return {"monai-subvoxels": "monai-sv", "metricsreloaded": "metricsrel"}.get(conv, conv)


def tables(report) -> list:
    """[(title, header, rows, notes)] of the report: the convention tables, then the peers'."""
    out = []
    single = len(report["cases"]) == 1
    for fam, convs in (("surface", report["conventions"]), ("calibration", report["calibration_conventions"])):
        srows = [s for s in report["summary"] if s["family"] == fam]
        if not srows:
            continue
        used = [c for c in convs if any(c in s["mean"] for s in srows)]
        header = ["label", "metric"] + [_short(c) for c in used] + ["spread", "differ from segscore"]
        if not single:
            header[-2] = "max spread (case)"
        rows = []
        partial_any = False
        for s in srows:
            errs = set()
            for r in report["rows"]:
                if (r["family"], r["label"], r["metric"]) == (fam, s["label"], s["metric"]):
                    errs |= set(r["errors"])
            cells = [s["label"], s["metric"]]
            for c in used:
                if c not in s["mean"]:
                    cells.append("error" if c in errs else "-")
                else:
                    partial = not single and s["n_mean"][c] < s["n_cases"] and math.isfinite(s["mean"][c])
                    partial_any |= partial
                    cells.append(_fmt(s["mean"][c]) + ("*" if partial else ""))
            sp = _fmt(s["max_spread"])
            cells.append(sp if single else f"{sp} ({s['max_spread_case']})")
            cells.append(", ".join(_short(c) for c in s["differ"]) or "none")
            rows.append(cells)
        what = "boundary metrics" if fam == "surface" else "calibration"
        title = (f"{what} under every convention: case {report['cases'][0]}" if single else
                 f"{what} under every convention: mean over {len(report['cases'])} cases")
        notes = ["-: not defined by that convention" + ("; error: it raises there" if any(
            r["errors"] for r in report["rows"] if r["family"] == fam) else "")]
        seen = {}
        for r in report["rows"]:
            if r["family"] == fam:
                for c, why in r["errors"].items():
                    seen.setdefault((c, why), []).append(f"{r['case']} label {r['label']} {r['metric']}")
        for (c, why), where in seen.items():
            more = f" and {len(where) - 1} more" if len(where) > 1 else ""
            notes.append(f"  {c}: {why} ({where[0]}{more})")
        if partial_any:
            notes.append("*: mean over fewer cases (inf, nan or an error on the others)")
        if fam == "surface":
            notes.append(f"NSD tolerance {report['options']['tolerance']:g} mm for every convention")
        else:
            notes.append("each convention with its own default bins and target")
        out.append((title, header, rows, notes))
    p = report.get("peers")
    if p:
        header = ["library", "version", "convention", "metric", "checks", "max rel diff", "tolerance", "result"]
        rows = []
        groups = {}
        for c in p["checks"]:
            groups.setdefault((c["peer"], c["convention"], c["metric"]), []).append(c)
        versions = {x["peer"]: (x["version"] if x["peer"] != "metricsreloaded" else "checkout")
                    for x in p["libraries"] if x["available"]}
        for (peer, conv, metric), cs in groups.items():
            diffs = [c["rel_diff"] for c in cs if c.get("rel_diff") is not None]
            bad = [c for c in cs if not c["status"].startswith("agree")]
            status = ("DISAGREE" if any(c["status"] == "DISAGREE" for c in bad) else bad[0]["status"]) if bad else \
                ("agree (float32 sums)" if any(c["status"] != "agree" for c in cs) else "agree")
            tol = f"{cs[0].get('tolerance', 0):g}"
            if "float32_sum_bound" in cs[0]:
                tol += f" | {max(c['float32_sum_bound'] for c in cs):.1e} abs"
            rows.append([peer, versions.get(peer) or "", conv, metric, str(len(cs)),
                         _fmt(max(diffs)) if diffs else "-", tol, status])
        for x in p["libraries"]:
            if x["checks"]:
                continue
            if not x["available"]:
                why = x["reason"]
            elif x["kind"] == "calibration" and not any(r["family"] == "calibration" for r in report["rows"]):
                why = "not run: give --probs"
            else:
                why = "not run: no label with both masks non-empty"
            if not any(r[0] == x["peer"] and r[-1] == why for r in rows):
                rows.append([x["peer"], versions.get(x["peer"], ""), ", ".join(x["conventions"]), "", "", "", "",
                             why])
        notes = [f"{len(p['skipped'])} (case, label, library) runs skipped: an empty mask"] if p["skipped"] else []
        if any("float32_sum_bound" in c for c in p["checks"]):
            notes.append("calibration: torchmetrics and MONAI sum in float32 one voxel after another, segscore in "
                         "float64 (a documented deviation); \"agree (float32 sums)\": within 1e-5 relative or within "
                         "their float32 error bound 2 n 2^-24")
        out.append(("reference libraries against the segscore convention named after them", header, rows, notes))
        header = ["library", "checked on", "peer s", "segscore s", "segscore faster"]
        rows = []
        for x in p["libraries"]:
            if x["available"] and x["peer_s"] is not None and x["checks"]:
                ratio = x["peer_s"] / x["segscore_s"] if x["segscore_s"] else math.inf
                rows.append([x["peer"], x["kind"], f"{x['peer_s']:.4f}", f"{x['segscore_s']:.4f}", f"{ratio:.1f}x"])
        if rows:
            out.append(("times on these inputs (one process; a library's time includes every value its adapter "
                        "computes)", header, rows, []))
    if report["errors"]:
        out.append(("cases that could not be compared", ["case", "stage", "reason"],
                    [[e["case"], e["stage"], e["reason"]] for e in report["errors"]], []))
    if report["left_out"]:
        out.append(("case ids left out (not a complete pair)", ["case", "why"],
                    [[e["case"], e["why"]] for e in report["left_out"]], []))
    return out


def _numeric_columns(header, rows) -> set:
    """Indices of the columns (past the first two) whose cells are numbers: right-aligned."""
    def num(c):
        t = str(c).split(" ")[0].rstrip("x*")
        if t in ("", "-", "nan", "inf", "-inf", "error"):
            return True
        try:
            float(t)
        except ValueError:
            return False
        return True

    return {i for i in range(2, len(header)) if rows and all(num(r[i]) for r in rows)}


def render_plain(report) -> str:
    """The report's tables as aligned plain text."""
    parts = []
    for title, header, rows, notes in tables(report):
        w = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
        lines = [title, "  ".join(h.ljust(w[i]) for i, h in enumerate(header)).rstrip(),
                 "  ".join("-" * x for x in w)]
        right = _numeric_columns(header, rows)
        for r in rows:
            lines.append("  ".join(str(c).rjust(w[i]) if i in right else str(c).ljust(w[i])
                                   for i, c in enumerate(r)).rstrip())
        lines += [f"  {n}" for n in notes]
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def render(report, file=None) -> None:
    """Print the tables: with rich on a terminal, plain text otherwise."""
    import sys

    file = file or sys.stdout
    if file.isatty():
        try:
            from rich.console import Console
            from rich.table import Table
        except ImportError:
            pass
        else:
            con = Console(file=file)
            for title, header, rows, notes in tables(report):
                # never squeeze a column: a table wider than the terminal runs past it
                need = sum(max(len(str(r[i])) for r in [header] + rows) + 3 for i in range(len(header))) + 1
                if con.width < need:
                    con = Console(file=file, width=need)
                t = Table(title=title, title_justify="left", caption="\n".join(notes) or None, caption_justify="left")
                right = _numeric_columns(header, rows)
                for i, h in enumerate(header):
                    t.add_column(h, justify="right" if i in right else "left")
                for r in rows:
                    style = "bold red" if "DISAGREE" in r[-1] or r[-1].startswith("ERROR") else None
                    t.add_row(*[str(c) for c in r], style=style)
                con.print(t)
            return
    file.write(render_plain(report))


def plot_spread(report, path) -> str:
    """A PNG of the spread: one panel per metric, the value in each convention per label
    (mean over the cases), a bar from min to max, in the style of the score command's plots."""
    from .plots import _axis_label, _figure, _save

    summ = report["summary"]
    keys = list(dict.fromkeys((s["family"], s["metric"]) for s in summ))
    convs = list(dict.fromkeys(report["conventions"] + report["calibration_conventions"]))
    colors = {c: f"C{i % 10}" for i, c in enumerate(convs)}
    markers = "osD^v<>ph*"
    labels_all = list(dict.fromkeys(s["label"] for s in summ if s["family"] == "surface"))
    ncol = 2 if len(keys) > 1 else 1
    nrow = (len(keys) + ncol - 1) // ncol
    height = 3.2 * nrow + 1.2
    fig = _figure(max(6.0, (0.7 * max(len(labels_all), 1) + 2.5) * ncol), height)
    seen = {}
    n = len(report["cases"])
    for i, (fam, metric) in enumerate(keys):
        ax = fig.add_subplot(nrow, ncol, i + 1)
        rows = [s for s in summ if (s["family"], s["metric"]) == (fam, metric)]
        hidden = 0
        for x, s in enumerate(rows):
            fin = [v for v in s["mean"].values() if math.isfinite(v)]
            hidden += sum(not math.isfinite(v) for v in s["mean"].values())
            if len(fin) > 1:
                ax.plot([x, x], [min(fin), max(fin)], color="gray", lw=3, alpha=0.35, zorder=1)
            k = len(s["mean"])
            for j, (c, v) in enumerate(s["mean"].items()):
                if math.isfinite(v):
                    h = ax.scatter([x + 0.5 * (j - (k - 1) / 2) / max(k, 1)], [v], color=colors[c],
                                   marker=markers[convs.index(c) % len(markers)], s=28, zorder=2)
                    seen.setdefault(c, h)
            if s["max_spread"] > 0 and fin:
                ax.annotate(_fmt(s["max_spread"]), (x, max(fin)), textcoords="offset points", xytext=(0, 4),
                            ha="center", fontsize=7, color="dimgray")
        ax.set_xticks(range(len(rows)))
        ax.set_xticklabels([s["label"] for s in rows])
        ax.set_xlim(-0.6, len(rows) - 0.4)
        ax.set_xlabel("label")
        ax.set_ylabel(_axis_label(metric))
        title = f"{metric}: each convention; spread max − min"
        if hidden:
            title += f"  (not shown: {hidden} nan/inf)"
        ax.set_title(title, fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    head = f"segscore compare: {n} case{'s' if n != 1 else ''}"
    if n > 1:
        head += " (points: means over the cases; numbers: the largest per-case spread)"
    fig.suptitle(head, fontsize=10, y=1 - 0.25 / height)
    if seen:
        fig.legend(list(seen.values()), list(seen), loc="lower center", ncol=min(len(seen), 7), fontsize=8,
                   frameon=False, bbox_to_anchor=(0.5, 0.0))
    fig.subplots_adjust(top=1 - 0.75 / height, bottom=1.0 / height + 0.35 / height * (len(seen) > 7),
                        hspace=0.6, wspace=0.3)
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    return _save(fig, os.fspath(path))
