"""Scoring one loaded case: the run's options (`Config`), the loaded case, the scorers
(metrics, raters, probabilities; each calls the public API) and `score_case`, which runs them
and builds the case's journal record."""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from .._core.validate import canonical_bool
from .io import CaseError, Image

# ====================================================================== configuration
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
    lesionwise: str | None = None          # a lesion-wise convention (app/lesions.py)
    lesion_options: dict = field(default_factory=dict)
    froc: str | None = None                # "monai" / "luna16": FROC of the probability maps
    froc_threshold: float = 0.5
    froc_hit: str = "point"

    def fingerprint(self) -> dict:
        """The options that change the numbers (a resumed run must use the same)."""
        d = {k: v for k, v in asdict(self).items() if k not in ("threads", "scorers")}
        if self.lesionwise is None:  # journals written before lesion-wise scoring resume as before
            del d["lesionwise"], d["lesion_options"]
        if self.froc is None:
            del d["froc"], d["froc_threshold"], d["froc_hit"]
        d["scorers"] = [getattr(s, "name", type(s).__name__) for s in self.scorers]
        return json.loads(json.dumps(d, default=str))


@dataclass
class LoadedCase:
    case: str
    pred: Image
    ref: Image
    raters: dict = field(default_factory=dict)  # name -> Image
    probs: Image | None = None
    cache: dict = field(default_factory=dict, repr=False)  # results shared by the scorers (the one pass)

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


def evaluate_kwargs(cfg: Config, spacing) -> dict:
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
        kw = evaluate_kwargs(cfg, case.spacing)
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
    ``soft_dice`` (against the rater-mean map): the numbers of segscore.consensus_dice,
    segscore.volume_crps and segscore.soft_dice, read off the case's one pass (`case_pass`)."""

    name = "raters"

    def __call__(self, case: LoadedCase, cfg: Config) -> ScorerOutput:
        out = ScorerOutput()
        if not case.raters:
            return out
        st = case_pass(case, cfg)
        if st is None:
            return self._separate(case, cfg)
        from ..metrics import empty as _empty
        from ..metrics.overlap import overlap_value
        from ..metrics.surface import conventions as _conv
        from ..probabilistic.crps import _volume_score
        from .._core.validate import check_spacing

        regions = _regions(cfg, case, st=st)
        user, conv = _empty.normalize(cfg.empty), _conv.get("segscore")
        chan = _channels(case, st, regions)
        scale = float(np.prod(check_spacing(case.spacing, case.pred.array.ndim))) / 1000.0
        for key, members in regions.items():
            v = members[0]
            row = out.rows.setdefault(("ref", _key(key)), {})
            row["consensus_dice"] = float(overlap_value("dice", *st.consensus_counts(v), user, conv.empty))
            c = chan.get(v)
            if c is None:
                continue
            vols = st.rater_counts(v).astype(np.float64) * scale
            row["vol_crps_ml"] = float(_volume_score(st.prob_volume(c) * scale, vols, "gaussian"))
            row["soft_dice"] = float(st.soft_dice(c))
        return out

    def _separate(self, case: LoadedCase, cfg: Config) -> ScorerOutput:
        """The public functions one by one (union regions, many raters, a map the one pass
        refuses: their errors say why)."""
        import segscore

        out = ScorerOutput()
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


_ONEPASS_MAX_RATERS = 16


def case_pass(case: LoadedCase, cfg: Config):
    """The case's one pass (segscore.probabilistic.onepass.rater_pass), computed once and
    shared by the scorers: the raters (the reference when there are none), the prediction,
    every probability channel and the reference as calibration target, in one read.  None
    when it does not apply: union regions, more than 16 raters, probabilities whose classes
    do not sum to 1 (the public functions then score the case, or say what is wrong with it).
    Raises CaseError for probabilities that are NaN, infinite or outside [0, 1]."""
    if "onepass" in case.cache:
        return case.cache["onepass"]
    st = None
    unions = cfg.labels is not None and any(len(m) > 1 for m in _regions(cfg, case).values())
    if not unions and len(case.raters) <= _ONEPASS_MAX_RATERS:
        from ..calibration.binning import ROW_SUM_TOL
        from ..calibration.conventions import get_convention
        from ..calibration.edges import _edges
        from ..probabilistic.onepass import rater_pass

        raters = [img.array for img in case.raters.values()] or [case.ref.array]
        probs, labs, top, edges, tol = [], [], False, None, None
        if case.probs is not None:
            p = case.probs.array
            if p.ndim == 4:
                probs, labs, top = [p[..., c] for c in range(p.shape[3])], list(range(p.shape[3])), True
                tol = _row_sum_tolerance(case.probs, p.shape[3])
                tol = ROW_SUM_TOL[p.dtype.itemsize] if tol is None else tol
            else:
                probs, labs = [p], [1]
            edges = _edges(get_convention("segscore"), cfg.n_bins, p.dtype)
        names = [f"rater {n}" for n in case.raters] or ["reference"]
        st = rater_pass(raters, case.pred.array, probs, labs, threads=cfg.threads, names=names + ["prediction"],
                        target=case.ref.array if probs else None, edges=edges, top=top)
        if probs:
            cal = st.calib
            lo, hi = float(cal["pmin"].min()), float(cal["pmax"].max())
            if cal["pnan"].any() or not (math.isfinite(lo) and math.isfinite(hi)):
                raise CaseError("values", "probability map holds NaN or infinite values", case.probs.path)
            if lo < 0 or hi > 1:
                raise CaseError("values", f"probabilities must lie in [0, 1], found {lo:g}..{hi:g}", case.probs.path)
            if top and cal["rowdev"] > tol * (1 - 1e-6):
                st = None  # the calibration functions say which voxels do not sum to 1
    case.cache["onepass"] = st
    return st


def _channels(case: LoadedCase, st, regions) -> dict:
    """{label: channel of the one pass} of the probability map (channel c = label c of a
    (x, y, z, C) map; a (x, y, z) map is P(label 1)); CaseError for a label beyond the channels."""
    if case.probs is None:
        return {}
    p = case.probs.array
    out = {}
    for members in regions.values():
        v = members[0]
        if p.ndim == 3:
            if v == 1:
                out[v] = 0
            continue
        if v >= p.shape[3]:
            raise CaseError("values", f"label {v} needs channel {v} but the probability map has "
                            f"{p.shape[3]} channels (channel c = label c, channel 0 background)", case.probs.path)
        out[v] = v
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
    dataset-level reliability diagram (ss.ece / ss.reliability, segscore's convention), read
    off the case's one pass (`case_pass`).

    A probability file is (x, y, z, C) with channel c = label value c (channel 0 background),
    or (x, y, z) = P(label 1)."""

    name = "probabilities"

    def __call__(self, case: LoadedCase, cfg: Config) -> ScorerOutput:
        out = ScorerOutput()
        if case.probs is None:
            return out
        st = case_pass(case, cfg)
        if st is None:
            return self._separate(case, cfg)
        cal = st.calib
        n = max(case.ref.array.size, 1)
        voxel_ml = float(np.prod(case.spacing)) / 1000.0
        regions = _regions(cfg, case, st=st, raters=not case.raters)
        for key, c in ((key, _channels(case, st, {key: m}).get(m[0])) for key, m in regions.items()):
            if c is None:
                continue
            row = out.rows.setdefault(("ref", _key(key)), {})
            cnt = cal["cw_count"][c]
            row["ece"] = _ece_l1(cnt[:, 0].astype(np.float64), cnt[:, 1].astype(np.float64), cal["cw_conf"][c])
            row["brier"] = float(cal["brier"][c]) / n
            row["vol_prob_ml"] = st.prob_volume(c) * voxel_ml
        edges = _edge_list(cfg.n_bins, case.probs.array.dtype)
        if case.probs.array.ndim == 4:
            cnt, conf = cal["top_count"], cal["top_conf"]
        else:
            cnt, conf = cal["cw_count"][0], cal["cw_conf"][0]
        out.extras["reliability"] = {"n_bins": cfg.n_bins, "count": cnt[:, 0].astype(np.float64).tolist(),
                                     "conf": np.asarray(conf, np.float64).tolist(),
                                     "acc": cnt[:, 1].astype(np.float64).tolist(), "edges": edges}
        return out

    def _separate(self, case: LoadedCase, cfg: Config) -> ScorerOutput:
        """The public functions one by one (union regions, a map the one pass refuses:
        their errors say why)."""
        import segscore

        out = ScorerOutput()
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


def _ece_l1(cnt, cor, sc) -> float:
    """ECE (l1) from one stream's bin sums, as segscore.calibration's Reliability.ece()."""
    nz = cnt > 0
    if not nz.any():
        return math.nan
    gap = np.abs(cor[nz] - sc[nz])
    return float(np.sum(gap) / float(cnt.sum()))


def _edge_list(n_bins, dtype) -> list:
    from ..calibration.conventions import get_convention
    from ..calibration.edges import _edges

    return np.asarray(_edges(get_convention("segscore"), n_bins, dtype), np.float64).tolist()


def _present(a: np.ndarray) -> set:
    """Label values present in `a` (bincount for 8/16-bit unsigned types: much faster than np.unique)."""
    if a.size == 0:
        return set()
    flat = a.reshape(-1, order="A")
    if a.dtype == np.bool_:
        # any nonzero byte is True (a bool map viewed from uint8 data may hold bytes > 1)
        return {int(v) for v in np.flatnonzero(np.bincount(canonical_bool(flat).view(np.uint8)))}
    if a.dtype.kind == "u" and a.dtype.itemsize <= 2:
        return {int(v) for v in np.flatnonzero(np.bincount(flat))}
    return {int(v) for v in np.unique(flat)}


def _regions(cfg, case, extra=(), st=None, raters=True) -> dict:
    """{key: members} of the run's labels (cfg.labels), or of the labels present in the
    reference, the prediction and `extra` maps; `st` (the one pass) gives the prediction's
    labels (and the raters', with `raters`) without another scan."""
    if cfg.labels is None:
        vals = set()
        if st is not None:
            if raters:
                vals |= set(st.present(include_zero=True))
            else:
                vals |= {int(v) for v, n in zip(st.labels, st.stats[:, 0]) if n > 0}
            maps = (case.ref.array,) if case.raters else ()
        else:
            maps = (case.ref.array, case.pred.array, *extra)
        for a in maps:
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
    from ..calibration.conventions import get_convention

    conv = dataclasses.replace(get_convention("segscore"), row_sum_tol=sum_tol)
    rel = segscore.reliability(p, ref, n_bins=n_bins, class_axis=3, convention=conv) if p.ndim == 4 else \
        segscore.reliability(p, ref == 1, n_bins=n_bins, convention=conv)
    return {"n_bins": n_bins, "count": np.asarray(rel.count, np.float64).tolist(),
            "conf": np.asarray(rel.sum_confidence, np.float64).tolist(),
            "acc": np.asarray(rel.correct, np.float64).tolist(),
            "edges": np.asarray(rel.edges, np.float64).tolist()}


class LesionScorer:
    """``ss.lesionwise`` on the case's regions; lesion_ columns on its rows, the lesion rows in
    extras."""

    name = "lesions"

    def __call__(self, case, cfg):
        from ..lesion.evaluate import COLUMNS
        from ..lesion.lesionwise import lesionwise
        from . import lesions as _lesions

        out = ScorerOutput()
        conv, options = cfg.lesionwise, dict(cfg.lesion_options or {})
        opts = _lesions.resolve(conv, options)
        given = opts.instances == "given"
        if given:
            regions = None
        else:
            regions = {k: tuple(m) for k, m in _regions(cfg, case).items()}
        # the BraTS 2023 script reads the prediction's zooms; the others: the case's spacing
        spacing = case.pred.spacing if conv == "brats2023" else case.spacing
        summaries, rows, matches = [], [], []
        if given or regions:
            res = lesionwise(case.pred.array, case.ref.array, spacing, convention=conv, threads=cfg.threads,
                             regions=regions, **options)
            if given:
                summaries = [(_lesions.INSTANCES_ROW, None, res.summary)]
            else:
                summaries = [(_key(k), list(regions[k]), res.summary[k]) for k in regions]
            keymap = {None: _lesions.INSTANCES_ROW} if given else {k: _key(k) for k in regions}
            for r in res.lesions:
                rows.append({k: (keymap[v] if k == "region" else _lesions.jsonable(v)) for k, v in r.items()})
            for m in res.matches:
                matches.append({k: (keymap[v] if k == "region" else _lesions.jsonable(v)) for k, v in m.items()})
            metrics = list(res.metrics)
        else:
            metrics = list(opts.metrics)
        for key, _, s in summaries:
            row = out.rows.setdefault(("ref", key), {})
            for col in COLUMNS:
                k = col if col in s else col[len("lesion_"):]
                if k in s:
                    v = s[k]
                    row[col] = float(v) if isinstance(v, (int, float, np.number)) else v
        out.extras["lesions"] = {
            "convention": conv, "eps": float(opts.eps), "metrics": metrics, "spacing": [float(x) for x in spacing],
            "rows": rows, "matches": matches,
            "summaries": [[key, members, {k: _lesions.jsonable(v) for k, v in s.items()}]
                          for key, members, s in summaries],
        }
        return out


class FrocScorer:
    """The case's FROC counts (``ss.froc``'s probability-map input, one case) in extras."""

    name = "froc"

    def __call__(self, case, cfg):
        from ..lesion.froc import map_counts
        from . import lesions as _lesions

        out = ScorerOutput()
        if case.probs is None:
            return out
        prob, target = _lesions.foreground_probability(case.probs, case.ref.array)
        if prob.shape != target.shape:
            raise CaseError("shape", f"probability map of shape {case.probs.array.shape} does not match the "
                            f"reference {case.ref.array.shape}", case.probs.path)
        out.extras["froc"] = map_counts(prob, target, threshold=float(cfg.froc_threshold), hit=cfg.froc_hit,
                                        convention=cfg.froc)
        return out


def default_scorers(cfg: Config) -> list:
    s = [MetricsScorer()]
    if cfg.has_raters:
        s.append(RaterScorer())
    if cfg.has_probs:
        s.append(ProbabilityScorer())
    if cfg.lesionwise is not None:
        s.append(LesionScorer())
    if cfg.froc is not None:
        s.append(FrocScorer())
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
    stages: dict = {}  # seconds per scorer (bench/bench_demo.py reports the split)
    for scorer in (cfg.scorers or default_scorers(cfg)):
        ts = time.perf_counter()
        try:
            o = scorer(case, cfg)
        except CaseError:
            raise
        except (ValueError, TypeError) as exc:
            raise CaseError("values" if "label" in str(exc) or "dtype" in str(exc) else "compute",
                            f"{getattr(scorer, 'name', type(scorer).__name__)}: {exc}") from None
        name = getattr(scorer, "name", type(scorer).__name__)
        stages[name] = stages.get(name, 0.0) + time.perf_counter() - ts
        for k, v in o.rows.items():
            rows.setdefault(k, {}).update(v)
        extras.update(o.extras)
        meta.update(o.meta)
    compute_s = time.perf_counter() - t0
    files = [case.pred, case.ref, *case.raters.values()] + ([case.probs] if case.probs is not None else [])
    meta.update({
        "shape": list(case.ref.array.shape), "spacing": list(case.spacing),
        "read_s": sum(f.read_s for f in files), "decode_s": sum(f.decode_s for f in files),
        "compute_s": compute_s, "stage_s": stages,
    })
    out_rows = []
    for (reference, label), vals in rows.items():
        out_rows.append({"reference": reference, "label": label, **vals})
    return {"case": case.case, "status": "ok", "rows": out_rows, "extras": extras, "meta": meta}
