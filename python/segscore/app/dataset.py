"""`score_dataset`: score every case of a test set, the engine behind `segscore score`.

Pipeline (one case = one unit of work, everywhere):

    pair files by case id  ->  load (read + decode, loader threads, bounded read-ahead)
      ->  score (a list of per-case *scorers*; the first calls ss.evaluate, the
          backend-dispatching entry point)  ->  journal (one JSON line per case,
          flush + fsync)  ->  at the end: table, errors, summary, plots, report
          (all derived from the journal, written atomically).

The journal ``<stem>.journal.jsonl`` next to the output is the single source
of truth: a case's line is complete or absent, so a crash or Ctrl-C loses no
finished case, and ``resume=True`` skips the cases it holds.  The journal's
header records the options and the input folders (absolute paths); each case
line records its files' name, size and mtime_ns.  A resumed run refuses other
options or folders, and scores a case again when one of its files changed (the
last line of a case wins, so its old rows are replaced).  The final tables
are sorted by case id, so the serial run, a resumed run and a Dask run write
identical files.

Before any case is read: the options are checked, the input folders must hold
at least one image, every output path must be writable (no output name is a
folder, no parent is a file, the folder accepts a new file), and the run takes
an advisory lock (flock) on ``<stem>.lock`` next to the output, holding its
pid, host and start time: a second run on the same output fails at once and
names the first.  A Dask scheduler that cannot be reached within
DASK_CONNECT_TIMEOUT_S is an error before the journal is touched.

A scorer is any callable ``scorer(case: LoadedCase, cfg: Config) -> ScorerOutput``
(picklable when Dask is used).  Calibration and multi-rater scorers plug in
through the same list (``scorers=``).
"""

from __future__ import annotations

import json
import math
import os
import sys
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from itertools import islice

import numpy as np

from .io import CaseError, Image, check_geometry, read_image, scan

JOURNAL_VERSION = 1
DASK_CONNECT_TIMEOUT_S = 10.0


# ====================================================================== configuration
@dataclass
class CaseSpec:
    """Where one case's files are (None: missing)."""

    case: str
    pred: str | None
    ref: str | None
    raters: dict = field(default_factory=dict)  # name -> path | None
    probs: str | None = None
    problem: str | None = None  # a pairing problem found while scanning


@dataclass
class Config:
    """Everything a worker needs to score a case (picklable)."""

    labels: object = None
    metrics: object = None
    tolerance: float | None = None
    convention: str = "segscore"
    empty: object = None
    ignore_label: int | None = None
    threads: int | None = None
    device: str | None = None
    geometry_tolerance: float = 1e-3
    check_affine: bool = True
    n_bins: int = 15
    has_raters: bool = False
    has_probs: bool = False
    scorers: list = field(default_factory=list)

    def fingerprint(self) -> dict:
        """The options that change the numbers (a resumed run must use the same)."""
        d = {k: v for k, v in asdict(self).items() if k not in ("threads", "scorers")}
        d["scorers"] = [getattr(s, "name", type(s).__name__) for s in self.scorers]
        return json.loads(json.dumps(d, default=str))


@dataclass
class LoadedCase:
    case: str
    pred: Image
    ref: Image
    raters: dict = field(default_factory=dict)  # name -> Image
    probs: Image | None = None

    @property
    def spacing(self):
        return self.ref.spacing


@dataclass
class ScorerOutput:
    """A scorer's contribution: ``rows[(reference, label)] = {column: value}`` and
    ``extras`` (JSON-able, merged across cases in case-id order, e.g. calibration bin sums)."""

    rows: dict = field(default_factory=dict)
    extras: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)


# ====================================================================== pairing
def _rater_names(raters) -> dict:
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
    rater_maps = {name: scan(d) for name, d in _rater_names(raters).items()}
    probs = scan(probs_dir) if probs_dir is not None else None
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


# ====================================================================== value checks
def _allowed_values(cfg: Config):
    """Label values a map may hold when a label map was given (None: any)."""
    if cfg.labels is None:
        return None
    from ..metrics.case import _parse_labels

    regions = _parse_labels(cfg.labels, -1 if cfg.ignore_label is None else cfg.ignore_label)
    allowed = {0}
    for mem in regions.values():
        allowed.update(mem)
    if cfg.ignore_label is not None:
        allowed.add(int(cfg.ignore_label))
    return allowed


def check_label_values(arr: np.ndarray, allowed, what: str, path=None) -> None:
    """CaseError("values") when `arr` holds a value outside `allowed` (or a negative one)."""
    if arr.size == 0:
        return
    if arr.dtype == np.bool_:
        return
    lo, hi = int(arr.min()), int(arr.max())
    if lo < 0:
        raise CaseError("values", f"{what} holds negative label {lo}", path)
    if allowed is None:
        return
    top = max(allowed)
    if hi > top:
        raise CaseError("values", f"{what} holds label {hi}, not in the label map (known: {_short(allowed)})", path)
    if len(allowed) == top + 1:  # contiguous 0..top: min/max was enough
        return
    bad = sorted(_present(arr) - allowed)
    if bad:
        raise CaseError("values", f"{what} holds label {bad[0]}, not in the label map (known: {_short(allowed)})",
                        path)


def _short(values) -> str:
    v = sorted(values)
    if len(v) > 12:
        return ", ".join(map(str, v[:10])) + f", ... ({len(v)} values)"
    return ", ".join(map(str, v))


# ====================================================================== scorers
def _key(label):
    if isinstance(label, tuple):
        return str(label)
    if isinstance(label, (np.integer,)):
        return int(label)
    return label


def _evaluate_kwargs(cfg: Config, spacing) -> dict:
    kw = dict(spacing=spacing, labels=cfg.labels, metrics=_metric_list(cfg), tolerance=cfg.tolerance,
              convention=cfg.convention, empty=cfg.empty, ignore_label=cfg.ignore_label, threads=cfg.threads)
    dev = _auto_device() if cfg.device in (None, "auto") else cfg.device
    if dev is not None:
        kw["device"] = dev
    return kw


_AUTO_DEVICE: list = []


def _auto_device():
    """The device a dataset is scored on when none is named: a usable GPU backend (compiled CUDA
    first, then CuPy), else None (the CPU).  Resolved once per process (each Dask worker has its own)."""
    if not _AUTO_DEVICE:
        dev = None
        try:
            from .._core.backends import backends

            b = backends()
            for name in ("cuda", "cupy"):
                if b.get(name, {}).get("usable"):
                    dev = name
                    break
        except Exception:
            dev = None
        _AUTO_DEVICE.append(dev)
    return _AUTO_DEVICE[0]


def _metric_list(cfg: Config):
    """The user's metrics plus the confusion counts (the summary counts empty masks with them, nnU-Net's
    summary.json reports them)."""
    if cfg.metrics is None:
        return None
    from ..metrics.registry import COUNT_COLUMNS

    m = [cfg.metrics] if isinstance(cfg.metrics, str) else list(cfg.metrics)
    for c in COUNT_COLUMNS:
        if c not in m:
            m.append(c)
    return m


def _rows_of(result, reference: str) -> dict:
    return {(reference, _key(k)): dict(v) for k, v in result.to_dict().items()}


class MetricsScorer:
    """Overlap and surface metrics of the prediction against the reference (and each rater)."""

    name = "metrics"

    def __call__(self, case: LoadedCase, cfg: Config) -> ScorerOutput:
        from ..metrics.evaluate import evaluate

        out = ScorerOutput()
        kw = _evaluate_kwargs(cfg, case.spacing)
        res = evaluate(case.pred.array, case.ref.array, **kw)
        out.rows.update(_rows_of(res, "ref"))
        out.meta["device"] = res.meta.get("device", "cpu")
        out.meta["threads"] = res.meta.get("threads")
        for name, img in case.raters.items():
            out.rows.update(_rows_of(evaluate(case.pred.array, img.array, **kw), name))
        return out


class RaterScorer:
    """Multi-rater columns on the reference rows: ``consensus_dice`` (CURVAS 2024: the prediction
    against the voxels every rater marks, dissensus voxels ignored) and, with probabilities,
    ``vol_crps_ml`` (CRPS of the predicted volume against the raters' volumes, Gaussian) and
    ``soft_dice`` (against the rater-mean map), from segscore.probabilistic.multirater / segscore.probabilistic.crps."""

    name = "raters"

    def __call__(self, case: LoadedCase, cfg: Config) -> ScorerOutput:
        import segscore

        out = ScorerOutput()
        if not case.raters:
            return out
        arrays = [img.array for img in case.raters.values()]
        regions = _regions(cfg, case, extra=arrays)
        vals = segscore.consensus_dice(case.pred.array, arrays, labels=_labels_arg(regions), empty=cfg.empty,
                                       threads=cfg.threads)
        for k, v in vals.items():
            out.rows.setdefault(("ref", _key(k)), {})["consensus_dice"] = float(v)
        if case.probs is not None:
            for key, members in regions.items():
                pk = _prob_of(case.probs, members)
                if pk is None:
                    continue
                lab = members[0] if len(members) == 1 else tuple(members)
                row = out.rows.setdefault(("ref", _key(key)), {})
                row["vol_crps_ml"] = float(segscore.volume_crps(pk, arrays, spacing=case.spacing, method="gaussian",
                                                                unit="ml", labels=lab, threads=cfg.threads))
                row["soft_dice"] = float(segscore.soft_dice(pk, arrays, labels=lab, threads=cfg.threads))
        return out


def _labels_arg(regions: dict) -> dict:
    return {k: (m if len(m) > 1 else m[0]) for k, m in regions.items()}


def _prob_of(probs: Image, members):
    """P(region) from a (x, y, z, C) map (channel c = label c) or a (x, y, z) map (= P(label 1))."""
    p = probs.array
    if p.ndim == 3:
        return p if tuple(members) == (1,) else None
    if max(members) >= p.shape[3]:
        raise CaseError("values", f"label {max(members)} needs channel {max(members)} but the probability map has "
                        f"{p.shape[3]} channels (channel c = label c, channel 0 background)", probs.path)
    if len(members) == 1:
        return p[..., members[0]]
    out = p[..., members[0]].copy()
    for m in members[1:]:
        out += p[..., m]
    return np.minimum(out, 1, out=out)


class ProbabilityScorer:
    """Calibration of probability maps: per label (one-vs-rest) ECE, Brier score and the
    probabilistic volume; the top-label reliability bin sums go to ``extras`` for the
    dataset-level reliability diagram (ss.ece / ss.reliability, segscore's convention).

    A probability file is (x, y, z, C) with channel c = label value c (channel 0 background),
    or (x, y, z) = P(label 1)."""

    name = "probabilities"

    def __call__(self, case: LoadedCase, cfg: Config) -> ScorerOutput:
        import segscore

        out = ScorerOutput()
        if case.probs is None:
            return out
        p = case.probs.array
        lo, hi = float(p.min()), float(p.max())
        if math.isnan(lo) or math.isnan(hi) or math.isinf(lo) or math.isinf(hi):
            raise CaseError("values", "probability map holds NaN or infinite values", case.probs.path)
        if lo < 0 or hi > 1:
            raise CaseError("values", f"probabilities must lie in [0, 1], found {lo:g}..{hi:g}", case.probs.path)
        ref = case.ref.array
        voxel_ml = float(np.prod(case.spacing)) / 1000.0
        for key, members in _regions(cfg, case).items():
            pk = _prob_of(case.probs, members)
            if pk is None:
                continue
            target = np.isin(ref, members) if len(members) > 1 else ref == members[0]
            row = out.rows.setdefault(("ref", _key(key)), {})
            row["ece"] = float(segscore.ece(pk, target, n_bins=cfg.n_bins))
            d = np.subtract(pk, target, dtype=np.float32)
            row["brier"] = float(np.sum(np.square(d, out=d), dtype=np.float64)) / max(d.size, 1)
            row["vol_prob_ml"] = float(np.sum(pk, dtype=np.float64)) * voxel_ml
        tol = _row_sum_tolerance(case.probs, p.shape[3]) if p.ndim == 4 else None
        out.extras["reliability"] = _top_label_bins(p, ref, cfg.n_bins, tol)
        return out


def _present(a: np.ndarray) -> set:
    """Label values present in `a` (bincount for 8/16-bit unsigned types: much faster than np.unique)."""
    if a.size == 0:
        return set()
    flat = a.reshape(-1, order="A")
    if a.dtype == np.bool_:
        return {int(v) for v in np.flatnonzero(np.bincount(flat.view(np.uint8)))}
    if a.dtype.kind == "u" and a.dtype.itemsize <= 2:
        return {int(v) for v in np.flatnonzero(np.bincount(flat))}
    return {int(v) for v in np.unique(flat)}


def _regions(cfg, case, extra=()) -> dict:
    if cfg.labels is None:
        vals = set()
        for a in (case.ref.array, case.pred.array, *extra):
            vals |= _present(a)
        return {v: (v,) for v in sorted(vals) if v != 0 and v != cfg.ignore_label}
    from ..metrics.case import _parse_labels

    return _parse_labels(cfg.labels, -1 if cfg.ignore_label is None else cfg.ignore_label)


def _row_sum_tolerance(probs: Image, n_classes: int):
    """The class-sum tolerance of a probability map stored quantised (integers times the
    header's slope): each class is rounded on its own, by up to half a step; None (the
    dtype's default) for maps stored as floats."""
    slope = probs.info.get("slope")
    stored = probs.info.get("stored_dtype", "")
    if slope is None or not stored or np.dtype(stored).kind not in "iu":
        return None
    return max(1e-3, n_classes * abs(float(slope)) / 2 + 1e-6)


def _top_label_bins(p, ref, n_bins, sum_tol=None) -> dict:
    """The case's top-label reliability bin sums (segscore's one-pass binning), for the
    dataset-level reliability diagram."""
    import dataclasses

    import segscore
    from ..calibration.functional import get_convention

    conv = dataclasses.replace(get_convention("segscore"), row_sum_tol=sum_tol)
    rel = segscore.reliability(p, ref, n_bins=n_bins, class_axis=3, convention=conv) if p.ndim == 4 else \
        segscore.reliability(p, ref == 1, n_bins=n_bins, convention=conv)
    return {"n_bins": n_bins, "count": np.asarray(rel.count, np.float64).tolist(),
            "conf": np.asarray(rel.sum_confidence, np.float64).tolist(),
            "acc": np.asarray(rel.correct, np.float64).tolist(),
            "edges": np.asarray(rel.edges, np.float64).tolist()}


def default_scorers(cfg: Config) -> list:
    s = [MetricsScorer()]
    if cfg.has_raters:
        s.append(RaterScorer())
    if cfg.has_probs:
        s.append(ProbabilityScorer())
    return s


# ====================================================================== one case
def score_case(case: LoadedCase, cfg: Config) -> dict:
    """Run every scorer on a loaded case; returns the journal record."""
    allowed = _allowed_values(cfg)
    check_label_values(case.pred.array, allowed, "prediction", case.pred.path)
    check_label_values(case.ref.array, allowed, "reference", case.ref.path)
    for name, img in case.raters.items():
        check_label_values(img.array, allowed, f"rater {name}", img.path)
    t0 = time.perf_counter()
    rows: dict = {}
    extras: dict = {}
    meta: dict = {}
    for scorer in (cfg.scorers or default_scorers(cfg)):
        try:
            o = scorer(case, cfg)
        except CaseError:
            raise
        except (ValueError, TypeError) as exc:
            raise CaseError("values" if "label" in str(exc) or "dtype" in str(exc) else "compute",
                            f"{getattr(scorer, 'name', type(scorer).__name__)}: {exc}") from None
        for k, v in o.rows.items():
            rows.setdefault(k, {}).update(v)
        extras.update(o.extras)
        meta.update(o.meta)
    compute_s = time.perf_counter() - t0
    files = [case.pred, case.ref, *case.raters.values()] + ([case.probs] if case.probs is not None else [])
    meta.update({
        "shape": list(case.ref.array.shape), "spacing": list(case.spacing),
        "read_s": sum(f.read_s for f in files), "decode_s": sum(f.decode_s for f in files),
        "compute_s": compute_s,
    })
    out_rows = []
    for (reference, label), vals in rows.items():
        out_rows.append({"reference": reference, "label": label, **vals})
    return {"case": case.case, "status": "ok", "rows": out_rows, "extras": extras, "meta": meta}


def error_record(case: str, exc: BaseException, spec: CaseSpec | None = None) -> dict:
    if isinstance(exc, CaseError):
        stage, reason, file = exc.stage, exc.reason, exc.file
    else:
        stage, reason, file = "compute", f"{type(exc).__name__}: {exc}", None
    return {"case": case, "status": "error", "stage": stage, "file": file, "reason": reason}


def run_case(spec: CaseSpec, cfg: Config) -> dict:
    """Load and score one case, never raising: the unit of work sent to Dask workers."""
    try:
        t0 = time.perf_counter()
        loaded = load_case(spec, cfg)
        t1 = time.perf_counter()
        rec = score_case(loaded, cfg)
        rec["meta"]["load_s"] = t1 - t0
        return rec
    except MemoryError as exc:
        return error_record(spec.case, CaseError("compute", f"out of memory ({exc})"))
    except Exception as exc:
        return error_record(spec.case, exc, spec)


# ====================================================================== journal
_FOLDER_NAMES = {"pred": "prediction folder (PRED)", "ref": "reference folder (REF)",
                 "raters": "rater folders (--rater)", "probs": "probability folder (--probs)"}


class Journal:
    """Append-only JSON-lines file: a header line, then one line per finished (or failed) case,
    each flushed and fsynced before the next case is reported done.

    The header records the options (``config``) and the folders scored (``folders``: absolute
    paths); each case line records its files' identities (``files``: name, size, mtime_ns).
    Resuming refuses a journal written with other options or folders; a case whose files changed
    is scored again (its new line replaces the old one: the last line of a case wins).  A journal
    written before identities were recorded resumes by scoring every case again."""

    def __init__(self, path: str, header: dict, resume: bool):
        self.path = path
        self.records: dict = {}
        self.lock = threading.Lock()
        self.legacy = False  # a resumed journal without file identities
        if resume and os.path.exists(path):
            old_header, self.records, good_bytes = read_journal(path)
            if old_header is not None and old_header.get("config") != header.get("config"):
                diff = sorted(k for k in set(old_header.get("config", {})) | set(header["config"])
                              if old_header.get("config", {}).get(k) != header["config"].get(k))
                raise ValueError(f"cannot resume: {path} was written with different options ({', '.join(diff)}); "
                                 "rerun without --resume to start over")
            if old_header is not None:
                _check_folders(path, old_header, header)
                self.legacy = "folders" not in old_header
            elif self.records:
                raise ValueError(f"cannot resume: {path} has no header line (it is not a complete segscore journal); "
                                 "rerun without --resume to start over")
            with open(path, "r+b") as f:  # drop a line cut by a crash
                f.truncate(good_bytes)
            self.f = open(path, "ab")
            if old_header is None:
                self._write(header)
        else:
            self.f = open(path, "wb")
            self._write(header)

    def done(self, identities: dict | None = None) -> set:
        """Cases whose last record is ok and, when `identities` ({case: case_identity}) is given,
        was scored from the same files."""
        if identities is None:
            return {c for c, r in self.records.items() if r.get("status") == "ok"}
        return {c for c, r in self.records.items()
                if r.get("status") == "ok" and c in identities and r.get("files") == identities[c]}

    def _write(self, obj) -> None:
        line = json.dumps(obj, ensure_ascii=False, allow_nan=True, separators=(",", ":")) + "\n"
        self.f.write(line.encode("utf-8"))
        self.f.flush()
        os.fsync(self.f.fileno())

    def append(self, record: dict) -> None:
        with self.lock:
            self._write(record)
            self.records[record["case"]] = record

    def close(self):
        self.f.close()


def _check_folders(path: str, old: dict, new: dict) -> None:
    """ValueError naming the folder when a journal was written for other input folders."""
    was = old.get("folders")
    if was is None:  # an older journal: only PRED and REF were recorded
        was = {k: old[k] for k in ("pred", "ref") if k in old}
    now = new["folders"]
    for key, what in _FOLDER_NAMES.items():
        if key in was and was[key] != now.get(key):
            def show(v):
                if isinstance(v, dict):
                    return ", ".join(f"{n}={d}" for n, d in v.items()) or "none"
                return "none" if v is None else str(v)
            raise ValueError(f"cannot resume: {path} was written for the {what} {show(was[key])}, this run scores "
                             f"{show(now.get(key))}; rerun without --resume to start over, or choose another --output")


def read_journal(path: str):
    """(header, {case: last record}, byte length of the complete lines).  The last line of a case
    wins: a case scored again (its files changed) replaces its earlier record."""
    header = None
    records: dict = {}
    good = 0
    with open(path, "rb") as f:
        data = f.read()
    pos = 0
    while pos < len(data):
        nl = data.find(b"\n", pos)
        if nl < 0:
            break  # a line cut by a crash: dropped
        line = data[pos:nl]
        pos = nl + 1
        try:
            obj = json.loads(line.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            continue
        good = pos
        if not isinstance(obj, dict):
            continue
        if "segscore_journal" in obj:
            header = obj
        elif "case" in obj:
            records[obj["case"]] = obj
    return header, records, good if good else (len(data) if data.endswith(b"\n") else 0)


# ====================================================================== execution
def _local_records(specs, cfg, workers, prefetch, stop):
    """Load ahead on `workers` threads (at most `prefetch` cases in memory), score in this thread."""
    from concurrent.futures import ThreadPoolExecutor

    def load(spec):
        t0 = time.perf_counter()
        try:
            return load_case(spec, cfg), None, time.perf_counter() - t0
        except Exception as exc:  # recorded, the run goes on
            return None, exc, time.perf_counter() - t0

    ex = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="segscore-load")
    try:
        it = iter(specs)
        pending = deque((s, ex.submit(load, s)) for s in islice(it, prefetch))
        while pending and not stop.is_set():
            spec, fut = pending.popleft()
            loaded, exc, load_s = fut.result()
            del fut
            nxt = next(it, None)
            if nxt is not None:
                pending.append((nxt, ex.submit(load, nxt)))
            if exc is not None:
                yield error_record(spec.case, exc, spec)
                continue
            try:
                rec = score_case(loaded, cfg)
                rec["meta"]["load_s"] = load_s
            except MemoryError as e:
                rec = error_record(spec.case, CaseError("compute", f"out of memory ({e})"))
            except Exception as e:
                rec = error_record(spec.case, e, spec)
            del loaded
            yield rec
    except BaseException:
        stop.set()
        raise
    finally:
        # never wait for a loader stuck in a read (a hung network file system): on Ctrl-C the
        # finished cases are finalised and the process may exit with the thread still blocked
        ex.shutdown(wait=not stop.is_set(), cancel_futures=True)


def _dask_records(specs, cfg, client, window, stop):
    """Submit at most `window` cases at a time to the Dask cluster; yield records as they finish."""
    from distributed import as_completed

    it = iter(specs)
    by_key = {}

    def submit(spec):
        f = client.submit(run_case, spec, cfg, pure=False)
        by_key[f.key] = spec
        return f

    ac = as_completed([submit(s) for s in islice(it, window)])
    try:
        for fut in ac:
            spec = by_key.pop(fut.key)
            try:
                rec = fut.result()
            except Exception as exc:  # a worker died, or the task could not run
                rec = error_record(spec.case, CaseError("worker", f"{type(exc).__name__}: {exc}"))
            fut.release()
            if stop.is_set():
                yield rec
                break
            nxt = next(it, None)
            if nxt is not None:
                ac.add(submit(nxt))
            yield rec
    finally:
        for f in list(ac.futures) if hasattr(ac, "futures") else []:
            try:
                f.cancel()
            except Exception:
                pass


class _Dask:
    """A Dask client for ``scheduler`` (address, "local" or a Client), closed on exit if we made it."""

    def __init__(self, scheduler, workers, threads):
        self.own = []
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise ImportError("Dask scoring needs dask.distributed: pip install 'dask[distributed]'") from None
        if hasattr(scheduler, "submit"):
            self.client = scheduler
        elif scheduler == "local":
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=40)
            self.own.append(cluster)
            self.client = Client(cluster)
            self.own.insert(0, self.client)
        else:
            try:
                self.client = Client(scheduler, timeout=DASK_CONNECT_TIMEOUT_S)
            except Exception as exc:
                why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise ConnectionError(
                    f"cannot reach the Dask scheduler {scheduler!r} within {DASK_CONNECT_TIMEOUT_S:g} s ({why}); "
                    "check the address (e.g. tcp://host:8786) and that the scheduler is running") from None
            self.own.append(self.client)

    def nworkers(self):
        try:
            return max(1, len(self.client.scheduler_info().get("workers", {})))
        except Exception:
            return 1

    def close(self):
        for o in self.own:
            try:
                o.close()
            except Exception:
                pass


# ====================================================================== results object
class DatasetResult:
    """What `score_dataset` returns: ``table`` (per case, per label), ``errors``, ``summary`` (per
    label and metric), ``paths`` of the written files, ``timing`` and ``exit_code``."""

    def __init__(self, table, errors, summary, paths, timing, info):
        self.table = table
        self.errors = errors
        self.summary = summary
        self.paths = paths
        self.timing = timing
        self.info = info

    @property
    def n_failed(self) -> int:
        return len(self.errors)

    @property
    def exit_code(self) -> int:
        if self.info.get("interrupted"):
            return 130
        return 3 if self.n_failed else 0

    def __repr__(self):
        n = self.table["case"].nunique() if len(self.table) else 0
        return f"DatasetResult({n} cases scored, {self.n_failed} failed, output={self.paths.get('table')!r})"


def output_paths(output) -> dict:
    output = os.fspath(output)
    d, name = os.path.split(os.path.abspath(output))
    stem = name
    for suf in (".parquet", ".csv", ".json", ".jsonl"):
        if name.lower().endswith(suf):
            stem = name[: -len(suf)]
            break
    p = lambda s: os.path.join(d, stem + s)  # noqa: E731
    return {"table": os.path.abspath(output), "journal": p(".journal.jsonl"), "errors": p(".errors.csv"),
            "summary": p(".summary.csv"), "summary_json": p(".summary.json"), "plots": p("_plots"),
            "report_md": p(".report.md"), "report_html": p(".report.html"), "nnunet": os.path.join(d, "summary.json"),
            "lock": p(".lock"), "dir": d, "stem": stem}


# ====================================================================== outputs and the run lock
class OutputError(OSError):
    """An output path that cannot be written (found before any case is scored)."""


class RunLockedError(OutputError):
    """Another run holds the output's lock."""


def check_outputs(paths: dict, format=None, plots=True, report=True) -> None:
    """Create the output folder and make sure every output can be written: no output name is a
    folder, no parent is a regular file, the folder is writable (tested by creating a file)."""
    d = paths["dir"]
    p = d
    while not os.path.lexists(p) and os.path.dirname(p) != p:
        p = os.path.dirname(p)
    if os.path.lexists(p) and not os.path.isdir(p):
        raise OutputError(f"output {paths['table']}: {p} is a file, not a folder; choose an --output in a folder")
    try:
        os.makedirs(d, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the output folder {d}: {exc.strerror or exc}; choose a writable "
                          "--output") from None
    names = {"table": "output", "journal": "journal", "errors": "errors table", "summary": "summary",
             "summary_json": "summary", "lock": "lock file"}
    if report:
        names.update(report_md="report", report_html="report")
    if format == "nnunet":
        names["nnunet"] = "nnU-Net summary"
    for key, what in names.items():
        if os.path.isdir(paths[key]):
            hint = (f"; give a file name, e.g. {os.path.join(paths[key], 'results.parquet')}" if key == "table"
                    else "; remove it or choose another --output")
            raise OutputError(f"{what} path {paths[key]} is a folder{hint}")
    if plots and os.path.lexists(paths["plots"]) and not os.path.isdir(paths["plots"]):
        raise OutputError(f"plots folder {paths['plots']} is a file; remove it, choose another --output or "
                          "use --no-plots")
    for key in ("table", "journal"):
        if os.path.exists(paths[key]) and not os.access(paths[key], os.W_OK):
            raise OutputError(f"{names[key]} {paths[key]} is not writable; choose another --output")
    try:
        import tempfile

        fd, probe = tempfile.mkstemp(prefix=f".{paths['stem']}.", suffix=".probe", dir=d)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputError(f"cannot write in the output folder {d}: {exc.strerror or exc}; choose a writable "
                          "--output") from None


class RunLock:
    """One run at a time per output: an advisory lock (flock) on ``<stem>.lock`` next to the
    output, holding the owner's pid, host and start time; removed when the run ends."""

    def __init__(self, path: str, output: str):
        self.path = path
        self.fd = None
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            return
        while True:
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
            except OSError as exc:
                raise OutputError(f"cannot create the lock file {path}: {exc.strerror or exc}; choose a writable "
                                  "--output") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                owner = _lock_owner(fd)
                os.close(fd)
                raise RunLockedError(f"another segscore run is writing {output} ({owner}; lock file {path}); "
                                     "wait for it to finish, or choose another --output") from None
            except OSError:  # a file system without flock (some network mounts): go on unlocked
                os.close(fd)
                return
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)  # the previous owner removed it between our open and flock: retry
        import datetime
        import socket

        info = {"pid": os.getpid(), "host": socket.gethostname(),
                "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
                "command": " ".join(sys.argv)}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(info) + "\n").encode("utf-8"), 0)
        self.fd = fd

    def release(self):
        if self.fd is not None:
            try:
                os.unlink(self.path)  # while still holding it: a waiting run re-checks the path
            except OSError:
                pass
            os.close(self.fd)
            self.fd = None


def _lock_owner(fd) -> str:
    try:
        info = json.loads(os.pread(fd, 65536, 0).decode("utf-8"))
        return f"pid {info['pid']} on {info['host']}, started {info['started']}"
    except Exception:
        return "owner unknown"


# ====================================================================== option checks
def _check_int(value, what: str, lo: int, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{what} must be an integer, got {value!r}")
    if value < lo or (hi is not None and value > hi):
        rng = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
        raise ValueError(f"{what} must be {rng}, got {value}")
    return int(value)


def check_run_options(workers=None, prefetch=None, seed=0, n_bootstrap=1000, geometry_tolerance=1e-3,
                      n_bins=15) -> None:
    """ValueError / TypeError for a run option out of range (before anything is read)."""
    if workers is not None:
        _check_int(workers, "workers", 1)
    if prefetch is not None:
        _check_int(prefetch, "prefetch (cases loaded ahead)", 1)
    _check_int(seed, "seed", 0)
    _check_int(n_bootstrap, "n_bootstrap (bootstrap resamples)", 0, 10_000_000)
    _check_int(n_bins, "n_bins (calibration bins)", 1, 100_000)
    if isinstance(geometry_tolerance, bool) or not isinstance(geometry_tolerance, (int, float, np.floating)):
        raise TypeError(f"geometry_tolerance must be a number, got {geometry_tolerance!r}")
    if not math.isfinite(geometry_tolerance) or geometry_tolerance < 0:
        raise ValueError(f"geometry_tolerance must be finite and >= 0, got {geometry_tolerance!r}")


def _check_device(device) -> None:
    """A named GPU backend must be usable here (segscore.backends() says why not)."""
    if device in (None, "auto") or not isinstance(device, str):
        return
    from .._core.backends import backends

    b = backends().get(device.strip().lower().split(":")[0])
    if b is not None and not b.get("usable"):
        raise ValueError(f"device {device!r} is not usable here: {b.get('reason')}; use device 'cpu', or leave "
                         "the device out to use the best usable backend")


# ====================================================================== the entry point
def score_dataset(pred, ref, *, raters=None, probs=None, output="results.parquet", labels=None, metrics=None,
                  tolerance=None, convention="segscore", empty=None, ignore_label=None, device=None, threads=None,
                  workers=None, prefetch=None, resume=False, scheduler=None, seed=0, n_bootstrap=1000,
                  format=None, plots=True, report=True, progress=None, quiet=False, geometry_tolerance=1e-3,
                  check_affine=True, n_bins=15, scorers=None, cases=None, log=None) -> DatasetResult:
    """Score every case of a test set; the engine behind ``segscore score``.

    pred, ref: folders of label maps (.nii.gz, .nii; .nrrd, .mha with SimpleITK), paired by case id
    (file name without extension and without nnU-Net's ``_0000``).  raters: folders (list, or
    {name: folder}) of further references; probs: a folder of probability maps ((x, y, z, C),
    channel c = label c).  Metric options (labels, metrics, tolerance, convention, empty,
    ignore_label) are those of `ss.evaluate`; `device` is passed to it when it supports one.

    Each case's rows go to ``<stem>.journal.jsonl`` (flushed, fsynced) as soon as they exist;
    ``resume=True`` skips the cases it already holds.  At the end the table (``output``: .parquet,
    .csv or .json), ``<stem>.errors.csv``, ``<stem>.summary.csv/.json``, plots and a report are
    written atomically.  ``scheduler``: a Dask scheduler address, ``"local"`` (a local cluster of
    `workers` processes) or a ``distributed.Client``.  ``format="nnunet"`` also writes nnU-Net v2's
    summary.json.  Returns a `DatasetResult` (``exit_code`` 3 when some cases failed).
    """
    from . import summary as _summary

    t_start = time.perf_counter()
    labels_value, ignore_from_map = _summary.load_labels(labels)
    if ignore_label is None:
        ignore_label = ignore_from_map
    check_run_options(workers=workers, prefetch=prefetch, seed=seed, n_bootstrap=n_bootstrap,
                      geometry_tolerance=geometry_tolerance, n_bins=n_bins)
    cfg = Config(labels=labels_value, metrics=metrics, tolerance=tolerance, convention=convention, empty=empty,
                 ignore_label=ignore_label, threads=threads, device=device, geometry_tolerance=geometry_tolerance,
                 check_affine=check_affine, n_bins=n_bins, has_raters=bool(raters), has_probs=probs is not None,
                 scorers=list(scorers or []))
    _validate_options(cfg)
    if format not in (None, "nnunet"):
        raise ValueError(f"unknown format {format!r}; use 'nnunet' (or None)")
    paths = output_paths(output)
    _summary.check_output_format(paths["table"])
    specs = pair_cases(pred, ref, raters, probs, cases)
    if not specs:
        from .io import SUFFIXES

        where = f"in the prediction folder {os.fspath(pred)} or in the reference folder {os.fspath(ref)}"
        if cases is not None:
            raise FileNotFoundError(f"none of the requested cases is {where}")
        raise FileNotFoundError(f"no image files ({', '.join(SUFFIXES)}) {where}; check the folders")
    check_outputs(paths, format=format, plots=plots, report=report)
    lock = RunLock(paths["lock"], paths["table"])
    try:
        return _score_locked(specs, pred, ref, raters, probs, cfg, paths, resume, scheduler, workers, prefetch,
                             threads, seed, n_bootstrap, format, plots, report, progress, quiet, log, convention,
                             t_start)
    finally:
        lock.release()


def _score_locked(specs, pred, ref, raters, probs, cfg, paths, resume, scheduler, workers, prefetch, threads, seed,
                  n_bootstrap, format, plots, report, progress, quiet, log, convention, t_start) -> DatasetResult:
    from . import report as _report
    from . import summary as _summary
    from .progress import Progress

    identities = {s.case: case_identity(s) for s in specs}
    folders = {"pred": os.path.abspath(os.fspath(pred)), "ref": os.path.abspath(os.fspath(ref)),
               "raters": {n: os.path.abspath(d) for n, d in _rater_names(raters).items()},
               "probs": None if probs is None else os.path.abspath(os.fspath(probs))}
    header = {"segscore_journal": JOURNAL_VERSION, "config": cfg.fingerprint(), "pred": folders["pred"],
              "ref": folders["ref"], "folders": folders}
    log = log or (lambda msg: None if quiet else print(f"segscore: {msg}", file=sys.stderr, flush=True))
    ncpu = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if workers is None:
        workers = 2 if scheduler == "local" else max(1, min(4, ncpu))
    if prefetch is None:
        prefetch = max(2, workers)
    dask = None
    if scheduler is not None:  # connected before the journal is touched: an unreachable one changes nothing
        if scheduler == "local" and threads is None:
            cfg.threads = max(1, ncpu // workers)
        dask = _Dask(scheduler, workers, cfg.threads)
    try:
        journal = Journal(paths["journal"], header, resume)
    except BaseException:
        if dask is not None:
            dask.close()
        raise
    done = journal.done(identities)
    todo = [s for s in specs if s.case not in done]
    if resume and journal.legacy and journal.records:
        log(f"{paths['journal']} records no file identities (an older segscore wrote it): every case is scored again")
    elif resume:
        changed = [c for c in journal.done() if c in identities and c not in done]
        if changed:
            log(f"{len(changed)} cases changed since the journal was written (file size or time): scoring them again"
                f" ({', '.join(changed[:5])}{', ...' if len(changed) > 5 else ''})")
    prog = Progress(len(specs), initial=len(specs) - len(todo), enabled=not quiet if progress is None else progress,
                    log=log)
    if resume and done:
        log(f"resuming: {len(specs) - len(todo)} of {len(specs)} cases already scored in {paths['journal']}")
    stop = threading.Event()
    interrupted = False
    records = None
    write_s = 0.0
    try:
        if dask is not None:
            window = prefetch if prefetch is not None else 2 * dask.nworkers()
            records = _dask_records(todo, cfg, dask.client, max(window, dask.nworkers()), stop)
            mode = f"dask ({scheduler if isinstance(scheduler, str) else 'client'}, {dask.nworkers()} workers)"
        else:
            records = _local_records(todo, cfg, workers, prefetch, stop)
            mode = f"local ({workers} loader threads, {prefetch} cases ahead)"
        if todo:
            log(f"scoring {len(todo)} cases: {mode}")
        for rec in records:
            t0 = time.perf_counter()
            rec["files"] = identities.get(rec["case"])
            journal.append(rec)
            write_s += time.perf_counter() - t0
            prog.update(rec)
    except KeyboardInterrupt:
        interrupted = True
        stop.set()
        if records is not None:
            records.close()
        log("interrupted: finished cases are kept in the journal; run again with --resume to go on")
    finally:
        journal.close()
        prog.close()
        if dask is not None:
            dask.close()
    # ------------------------------------------------------------------ outputs
    t0 = time.perf_counter()
    _, records, _ = read_journal(paths["journal"])
    # only records of the files as they are now (a changed case not scored again yet is left out)
    order = [s.case for s in specs if s.case in records and records[s.case].get("files") == identities[s.case]]
    records = {c: records[c] for c in order}
    table, errors, extras = _summary.tables(records, has_raters=cfg.has_raters)
    summ = _summary.summarize(table, seed=seed, n_bootstrap=n_bootstrap)
    timing = _summary.timing(records, wall_s=time.perf_counter() - t_start, write_s=write_s)
    info = {"n_cases": len(specs), "n_scored": int(table["case"].nunique()) if len(table) else 0,
            "n_failed": len(errors), "interrupted": interrupted, "device": _summary.devices(records),
            "seed": seed, "n_bootstrap": n_bootstrap, "convention": convention, "pred": os.fspath(pred),
            "ref": os.fspath(ref), "raters": _rater_names(raters), "probs": None if probs is None else os.fspath(probs),
            "decompressor": __import__("segscore.app.io", fromlist=["decompressor"]).decompressor()[0],
            "mode": "dask" if scheduler is not None else "local", "workers": workers}
    _summary.write_table(table, paths["table"])
    _summary.write_errors(errors, paths["errors"])
    _summary.write_summary(summ, paths["summary"], paths["summary_json"], info, timing, errors)
    if format == "nnunet":
        _summary.write_nnunet(table, records, specs, paths["nnunet"], cfg)
    plot_files = {}
    if plots:
        from . import plots as _plots

        plot_files = _plots.make_plots(table, summ, extras, paths["plots"])
    if report:
        _report.write_report(paths, table, summ, errors, info, timing, plot_files)
    timing["output_s"] = time.perf_counter() - t0
    return DatasetResult(table, errors, summ, paths, timing, info)


def _validate_options(cfg: Config) -> None:
    """Fail before reading any file when an option is wrong (evaluate on a tiny dummy case)."""
    from ..metrics.evaluate import evaluate

    _check_device(cfg.device)
    dummy = np.zeros((2, 2, 2), np.uint8)
    kw = _evaluate_kwargs(cfg, (1.0, 1.0, 1.0))
    try:
        evaluate(dummy, dummy, **kw)
    except CaseError as exc:
        raise ValueError(exc.reason) from None
    except RuntimeError as exc:  # e.g. a device that cannot run here
        raise ValueError(str(exc)) from None
