"""Pairing files into cases by case id, each case file's identity (name, size, mtime_ns;
recorded in the journal) and loading a case's images."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from .io import PROB_SUFFIXES, CaseError, check_geometry, read_image, scan
from .scorers import Config, LoadedCase

# ====================================================================== cases
@dataclass
class CaseSpec:
    """Where one case's files are (None: missing)."""

    case: str
    pred: str | None
    ref: str | None
    raters: dict = field(default_factory=dict)  # name -> path | None
    probs: str | None = None
    problem: str | None = None  # a pairing problem found while scanning


# ====================================================================== pairing
def rater_folders(raters) -> dict:
    if raters is None:
        return {}
    if isinstance(raters, dict):
        return {str(k): os.fspath(v) for k, v in raters.items()}
    names = {}
    for i, d in enumerate(raters):
        d = os.fspath(d)
        base = os.path.basename(os.path.normpath(d)) or f"rater{i + 1}"
        name = base if base not in names and base != "ref" else f"{base}_{i + 1}"
        names[name] = d
    return names


def pair_cases(pred_dir, ref_dir, raters=None, probs_dir=None, cases=None) -> list:
    """CaseSpecs for every case id found in the prediction or reference folder, sorted by id."""
    preds, dup_p = scan(pred_dir)
    refs, dup_r = scan(ref_dir)
    rater_maps = {name: scan(d) for name, d in rater_folders(raters).items()}
    probs = scan(probs_dir, PROB_SUFFIXES) if probs_dir is not None else None
    problems = {}
    for cid, why in dup_p:
        problems[cid] = f"prediction folder: {why}"
    for cid, why in dup_r:
        problems[cid] = f"reference folder: {why}"
    ids = sorted(set(preds) | set(refs) | set(problems))
    if cases is not None:
        keep = set(cases)
        ids = [c for c in ids if c in keep]
    out = []
    for cid in ids:
        spec = CaseSpec(cid, preds.get(cid), refs.get(cid), problem=problems.get(cid))
        for name, (found, dups) in rater_maps.items():
            spec.raters[name] = found.get(cid)
            for c, why in dups:
                if c == cid:
                    spec.problem = f"rater {name}: {why}"
        if probs is not None:
            spec.probs = probs[0].get(cid)
            for c, why in probs[1]:
                if c == cid:
                    spec.problem = f"probability folder: {why}"
        out.append(spec)
    return out


def _file_identity(path):
    """[file name, size, mtime_ns] of a case file (size and mtime None when it cannot be stat'ed),
    None when the case has no such file."""
    if path is None:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return [os.path.basename(path), None, None]
    return [os.path.basename(path), int(st.st_size), int(st.st_mtime_ns)]


def case_identity(spec: CaseSpec) -> dict:
    """What a case's journal record was scored from: each file's name, size and mtime_ns (and the
    pairing problem, if any).  A resumed run scores a case again when this differs."""
    d = {"pred": _file_identity(spec.pred), "ref": _file_identity(spec.ref)}
    for name, p in spec.raters.items():
        d[f"rater:{name}"] = _file_identity(p)
    if spec.probs is not None:
        d["probs"] = _file_identity(spec.probs)
    if spec.problem:
        d["problem"] = spec.problem
    return d


# ====================================================================== loading
def load_case(spec: CaseSpec, cfg: Config) -> LoadedCase:
    """Read and check every file of a case; raises CaseError with the reason."""
    if spec.problem:
        raise CaseError("missing", spec.problem)
    if spec.pred is None:
        raise CaseError("missing", "no prediction file for this case", spec.ref)
    if spec.ref is None:
        raise CaseError("missing", "no reference file for this case", spec.pred)
    for name, p in spec.raters.items():
        if p is None:
            raise CaseError("missing", f"no file for this case from rater {name!r}")
    if cfg.has_probs and spec.probs is None:
        raise CaseError("missing", "no probability file for this case")
    ref = read_image(spec.ref, "label")
    pred = read_image(spec.pred, "label")
    check_geometry(ref, pred, "prediction", cfg.geometry_tolerance, cfg.check_affine)
    raters = {}
    for name, p in spec.raters.items():
        raters[name] = read_image(p, "label")
        check_geometry(ref, raters[name], f"rater {name}", cfg.geometry_tolerance, cfg.check_affine)
    probs = None
    if spec.probs is not None:
        probs = read_image(spec.probs, "prob")
        check_geometry(ref, probs, "probabilities", cfg.geometry_tolerance, cfg.check_affine, spatial_only=True)
    return LoadedCase(spec.case, pred, ref, raters, probs)
