"""Reference-library adapters: each peer library called the way its users call it.

One small adapter per library, shared by ``segscore compare --peers`` and the test suite's
cross-checks (tests/peers/).  Every surface adapter takes (pred, ref, spacing) in
segscore's order (boolean numpy arrays, spacing in mm per axis) and returns a dict of plain
floats under the library's own names, so callers never need to know each library's
argument order or return shape.  The library-specific quirks (argument order, float32,
numpy-2 breakage, warnings) are handled here and documented in docs/conventions_research.md
(§3 and §7).

Imports are lazy: importing this module loads no peer library.  `PEERS` lists each library
with the segscore convention named after it and how its numbers map onto segscore's
metric names; `availability(peer)` says whether it can run here (and why not).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import sys
import warnings
from dataclasses import dataclass

import numpy as np


def _b(x):
    return np.asarray(x, dtype=bool)


def _sp(spacing, ndim):
    if spacing is None:
        return (1.0,) * ndim
    return tuple(float(s) for s in spacing)


@contextlib.contextmanager
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


# --------------------------------------------------------------------------- MedPy 0.5.2
def medpy_metrics(pred, ref, spacing=None, connectivity=1):
    """MedPy's hd / hd95 (pooled) / assd (pooled) / asd (pred -> ref) / dc / jc.

    MedPy's order is (result, reference) = (pred, ref).  Its distance metrics
    raise RuntimeError when either mask is empty; callers avoid those cases.
    """
    from medpy.metric import binary as mb

    p, r = _b(pred), _b(ref)
    kw = dict(voxelspacing=_sp(spacing, p.ndim), connectivity=connectivity)
    with _quiet():
        return {
            "hd": float(mb.hd(p, r, **kw)),
            "hd95": float(mb.hd95(p, r, **kw)),
            "assd": float(mb.assd(p, r, **kw)),
            "asd": float(mb.asd(p, r, **kw)),
            "dc": float(mb.dc(p, r)),
            "jc": float(mb.jc(p, r)),
        }


def medpy_overlap(pred, ref):
    from medpy.metric import binary as mb

    with _quiet():
        return {"dc": float(mb.dc(_b(pred), _b(ref))), "jc": float(mb.jc(_b(pred), _b(ref))),
                "precision": float(mb.precision(_b(pred), _b(ref))), "recall": float(mb.recall(_b(pred), _b(ref)))}


# --------------------------------------------------------------------------- DeepMind 0.1
def _deepmind():
    import surface_distance as sdist

    # numpy >= 2 removed np.Inf / np.NaN, which surface-distance 0.1 uses for
    # empty masks; restore the aliases (harmless: identical values).
    for name, value in (("Inf", np.inf), ("NaN", np.nan)):
        if not hasattr(np, name):
            setattr(np, name, value)
    return sdist


def deepmind_metrics(pred, ref, spacing=None, percentiles=(95,), tolerances=(1.0,)):
    """DeepMind surface-distance 0.1.

    Its functions take (gt, pred); `asd_gt_to_pred` / `asd_pred_to_gt` and
    `overlap_gt` / `overlap_pred` keep its own naming.  `hd` is
    compute_robust_hausdorff(., 100); `hd<p>` the other percentiles;
    `sdice@<tol>` / `overlap_{gt,pred}@<tol>` per tolerance.
    """
    sdist = _deepmind()
    p, r = _b(pred), _b(ref)
    with _quiet():  # scipy.ndimage.filters / .morphology DeprecationWarnings
        s = sdist.compute_surface_distances(r, p, _sp(spacing, p.ndim))
        gt2p, p2gt = sdist.compute_average_surface_distance(s)
        out = {"hd": float(sdist.compute_robust_hausdorff(s, 100)),
               "asd_gt_to_pred": float(gt2p), "asd_pred_to_gt": float(p2gt)}
        for q in percentiles:
            out[f"hd{q:g}"] = float(sdist.compute_robust_hausdorff(s, q))
        for t in tolerances:
            og, op = sdist.compute_surface_overlap_at_tolerance(s, t)
            out[f"overlap_gt@{t:g}"] = float(og)
            out[f"overlap_pred@{t:g}"] = float(op)
            out[f"sdice@{t:g}"] = float(sdist.compute_surface_dice_at_tolerance(s, t))
        out["dice"] = float(sdist.compute_dice_coefficient(r, p))
    return out


def deepmind_distances(pred, ref, spacing=None):
    """The raw (distances, areas) per direction: {'gt_to_pred': (d, a), 'pred_to_gt': (d, a)}."""
    sdist = _deepmind()
    p, r = _b(pred), _b(ref)
    with _quiet():
        s = sdist.compute_surface_distances(r, p, _sp(spacing, p.ndim))
    return {"gt_to_pred": (s["distances_gt_to_pred"], s["surfel_areas_gt"]),
            "pred_to_gt": (s["distances_pred_to_gt"], s["surfel_areas_pred"])}


# --------------------------------------------------------------------------- MONAI 1.6.1
def monai_metrics(pred, ref, spacing=None, tolerances=(1.0,), percentiles=(95,), subvoxels=True, overlap=True,
                  directed=True):
    """MONAI 1.6.1 functional metrics on a (B=1, C=1, *spatial) float tensor pair.

    `hd`, `hd<p>` (per-direction torch.quantile, float32, then max),
    `hd_directed` (pred -> ref), `asd` (default symmetric=False: pred -> ref),
    `assd` (symmetric=True: pooled mean), `nsd@<tol>` (voxel counts) and
    `nsd_subvoxel@<tol>` (use_subvoxels=True; 2-D/3-D only), `dice`, `iou`.
    ``directed=False`` leaves out the directed values (`hd_directed`, `hd<p>_directed`, `asd`).
    """
    import torch
    from monai.metrics import compute_average_surface_distance, compute_hausdorff_distance, compute_surface_dice

    p, r = _b(pred), _b(ref)
    yp = torch.as_tensor(p)[None, None].float()
    y = torch.as_tensor(r)[None, None].float()
    # a per-axis list, never a scalar (a scalar breaks use_subvoxels=True)
    kw = dict(include_background=True, spacing=list(_sp(spacing, p.ndim)))
    out = {}
    with _quiet():  # FutureWarning(always_return_as_numpy) on every call; empty-mask UserWarnings
        out["hd"] = compute_hausdorff_distance(yp, y, **kw).item()
        if directed:
            out["hd_directed"] = compute_hausdorff_distance(yp, y, directed=True, **kw).item()
        for q in percentiles:
            out[f"hd{q:g}"] = compute_hausdorff_distance(yp, y, percentile=q, **kw).item()
            if directed:
                out[f"hd{q:g}_directed"] = compute_hausdorff_distance(yp, y, percentile=q, directed=True,
                                                                      **kw).item()
        if directed:
            out["asd"] = compute_average_surface_distance(yp, y, **kw).item()
        out["assd"] = compute_average_surface_distance(yp, y, symmetric=True, **kw).item()
        if p.ndim in (2, 3):  # compute_surface_dice: 2-D / 3-D spatial only
            for t in tolerances:
                out[f"nsd@{t:g}"] = compute_surface_dice(yp, y, [t], **kw).item()
                if subvoxels:
                    out[f"nsd_subvoxel@{t:g}"] = compute_surface_dice(yp, y, [t], use_subvoxels=True, **kw).item()
        if overlap:
            out.update(monai_overlap(p, r))
    return out


def monai_overlap(pred, ref):
    """compute_dice / compute_iou with both ignore_empty settings."""
    import torch
    from monai.metrics import compute_dice, compute_iou

    yp = torch.as_tensor(_b(pred))[None, None].float()
    y = torch.as_tensor(_b(ref))[None, None].float()
    with _quiet():
        return {
            "dice": compute_dice(yp, y, include_background=True).item(),
            "iou": compute_iou(yp, y, include_background=True).item(),
            "dice_noignore": compute_dice(yp, y, include_background=True, ignore_empty=False).item(),
            "iou_noignore": compute_iou(yp, y, include_background=True, ignore_empty=False).item(),
        }


# --------------------------------------------------------------------------- panoptica 2.1.7
def _panoptica_quiet():
    try:  # the citation banner (rich) on first use
        from panoptica.utils.citation_reminder import disable_citation_reminder

        disable_citation_reminder()
    except Exception:  # pragma: no cover - older/newer layouts
        pass


def panoptica_metrics(pred, ref, spacing=None, tolerances=(None,), connectivity=1):
    """panoptica 2.1.7's standalone metric functions.

    Its order is (reference, prediction).  `hd95` is pooled, `assd` the mean of
    the two directed means, `nsd@<tol>` the mean of directed fractions;
    tolerance None -> its default min(spacing) (key `nsd@default`).
    """
    _panoptica_quiet()
    from panoptica.metrics.assd import _average_symmetric_surface_distance
    from panoptica.metrics.dice import _compute_dice_coefficient
    from panoptica.metrics.hausdorff_distance import _compute_hausdorff_distance, _compute_hausdorff_distance95
    from panoptica.metrics.iou import _compute_iou
    from panoptica.metrics.normalized_surface_dice import _compute_normalized_surface_dice

    p, r = _b(pred), _b(ref)
    vs = _sp(spacing, p.ndim)
    kw = dict(voxelspacing=vs, connectivity=connectivity)
    with _quiet():
        out = {
            "hd": float(_compute_hausdorff_distance(r, p, **kw)),
            "hd95": float(_compute_hausdorff_distance95(r, p, **kw)),
            "assd": float(_average_symmetric_surface_distance(r, p, **kw)),
            "dsc": float(_compute_dice_coefficient(r, p)),
            "iou": float(_compute_iou(r, p)),
        }
        for t in tolerances:
            key = "nsd@default" if t is None else f"nsd@{t:g}"
            out[key] = float(_compute_normalized_surface_dice(r, p, threshold=t, **kw))
    return out


# --------------------------------------------------------------------------- MetricsReloaded
def metricsreloaded_metrics(pred, ref, spacing=None, tol=1.0, hd_perc=95, boundary_dist=1):
    """The real MetricsReloaded (a checkout on sys.path; it is not on PyPI)."""
    from MetricsReloaded.metrics.pairwise_measures import BinaryPairwiseMeasures

    pm = BinaryPairwiseMeasures(np.asarray(pred, float), np.asarray(ref, float),
                                pixdim=_sp(spacing, np.ndim(pred)),
                                dict_args={"nsd": tol, "hd_perc": hd_perc, "boundary_dist": boundary_dist})
    with _quiet():
        hd, assd, hd_perc_v, masd = pm.measured_distance()  # its order: (hd, assd, hd_perc, masd)
        return {"hd": float(hd), "hd_perc": float(hd_perc_v), "assd": float(assd), "masd": float(masd),
                "nsd": float(pm.normalised_surface_distance()), "boundary_iou": float(pm.boundary_iou()),
                "dsc": float(pm.dsc()), "iou": float(pm.intersection_over_union())}


# --------------------------------------------------------------------------- torchmetrics 1.9 (calibration)
def torchmetrics_calibration(probs, target, n_bins=15, class_axis=-1):
    """torchmetrics' functional ``binary_calibration_error`` / ``multiclass_calibration_error``.

    `probs` shaped like `target` is P(class 1) (binary, target 0/1); otherwise the classes lie
    on `class_axis` and `target` holds class indices.  Returns ``ece`` (norm l1) and ``mce``
    (norm max); both float32 sums when the probabilities are float32.
    """
    import torch
    from torchmetrics.functional.classification import binary_calibration_error, multiclass_calibration_error

    p = np.asarray(probs)
    t = np.asarray(target)
    out = {}
    with _quiet():
        if p.shape == t.shape:
            pt, tt = torch.from_numpy(np.ascontiguousarray(p).reshape(-1)), torch.from_numpy(t.reshape(-1).astype(np.int64))
            for key, norm in (("ece", "l1"), ("mce", "max")):
                out[key] = float(binary_calibration_error(pt, tt, n_bins=n_bins, norm=norm))
        else:
            c = p.shape[class_axis]
            flat = torch.from_numpy(np.ascontiguousarray(np.moveaxis(p, class_axis, -1)).reshape(-1, c))
            tt = torch.from_numpy(t.reshape(-1).astype(np.int64))
            for key, norm in (("ece", "l1"), ("mce", "max")):
                out[key] = float(multiclass_calibration_error(flat, tt, num_classes=c, n_bins=n_bins, norm=norm))
    return out


# --------------------------------------------------------------------------- MONAI 1.6.1 (calibration)
def monai_calibration(probs, target, n_bins=20, class_axis=-1):
    """MONAI's ``CalibrationErrorMetric`` (include_background=True, mean over classes).

    `probs` shaped like `target` is P(class 1) (one channel); otherwise the classes lie on
    `class_axis`, `target` holds class indices and is one-hot encoded as MONAI expects.
    Returns ``ece`` / ``ace`` / ``mce`` (its "expected" / "average" / "maximum" reductions).
    """
    import torch
    from monai.metrics import CalibrationErrorMetric

    p = np.asarray(probs)
    t = np.asarray(target)
    if p.shape == t.shape:
        yp = torch.from_numpy(np.ascontiguousarray(p))[None, None]
        y = torch.from_numpy(t.astype(np.float32))[None, None]
    else:
        c = p.shape[class_axis]
        yp = torch.from_numpy(np.ascontiguousarray(np.moveaxis(p, class_axis, 0)))[None]
        y = torch.nn.functional.one_hot(torch.from_numpy(t.astype(np.int64)), c).movedim(-1, 0)[None].float()
    out = {}
    with _quiet():
        for key, red in (("ece", "expected"), ("ace", "average"), ("mce", "maximum")):
            m = CalibrationErrorMetric(num_bins=n_bins, calibration_reduction=red)
            m(y_pred=yp, y=y)
            out[key] = float(m.aggregate())
    return out


# --------------------------------------------------------------------------- scipy / edt (the EDT)
def scipy_edt(mask, spacing=None):
    """``scipy.ndimage.distance_transform_edt(mask, sampling=spacing)`` (float64)."""
    from scipy import ndimage

    m = _b(mask)
    return ndimage.distance_transform_edt(m, sampling=_sp(spacing, m.ndim))


def edt_edt(mask, spacing=None):
    """seung-lab ``edt.edt(mask, anisotropy=spacing)`` (float32 distances)."""
    import edt

    m = _b(mask)
    return edt.edt(np.ascontiguousarray(m), anisotropy=_sp(spacing, m.ndim))


# =========================================================================== the peers of `segscore compare`
def _percentiles(metrics):
    """{metric name: percentile} of the hd<p> metrics in `metrics` (hd95 -> 95.0)."""
    out = {}
    for m in metrics:
        if m.startswith("hd") and m != "hd":
            try:
                out[m] = float(m[2:])
            except ValueError:
                pass
    return out


def _param(metrics, prefix):
    """{metric name: float} of the `prefix`@<value> metrics (nsd@1 -> 1.0)."""
    return {m: float(m.split("@", 1)[1]) for m in metrics if m.startswith(prefix + "@")}


def _surface_deepmind(pred, ref, spacing, metrics):
    qs, taus = _percentiles(metrics), _param(metrics, "nsd")
    d = deepmind_metrics(pred, ref, spacing, percentiles=tuple(qs.values()), tolerances=tuple(taus.values()))
    out = {}
    if "hd" in metrics:
        out["hd"] = d["hd"]
    out.update({m: d[f"hd{q:g}"] for m, q in qs.items()})
    out.update({m: d[f"sdice@{t:g}"] for m, t in taus.items()})
    if "masd" in metrics:  # the mean of DeepMind's directed pair
        out["masd"] = 0.5 * (d["asd_gt_to_pred"] + d["asd_pred_to_gt"])
    return {"deepmind": out}


def _surface_monai(pred, ref, spacing, metrics):
    qs, taus = _percentiles(metrics), _param(metrics, "nsd")
    use_nsd = bool(taus) and np.ndim(pred) in (2, 3)
    d = monai_metrics(pred, ref, spacing, tolerances=tuple(taus.values()) if use_nsd else (),
                      percentiles=tuple(qs.values()), subvoxels=use_nsd, overlap=False, directed=False)
    out = {k: d[k] for k in ("hd",) if k in metrics}
    out.update({m: d[f"hd{q:g}"] for m, q in qs.items()})
    if "assd" in metrics:
        out["assd"] = d["assd"]
    sub = {}
    if use_nsd:
        out.update({m: d[f"nsd@{t:g}"] for m, t in taus.items()})
        sub = {m: d[f"nsd_subvoxel@{t:g}"] for m, t in taus.items()}
    return {"monai": out, "monai-subvoxels": sub}


def _surface_medpy(pred, ref, spacing, metrics):
    d = medpy_metrics(pred, ref, spacing)
    return {"medpy": {m: d[m] for m in ("hd", "hd95", "assd") if m in metrics}}


def _surface_metricsreloaded(pred, ref, spacing, metrics):
    qs, taus, widths = _percentiles(metrics), _param(metrics, "nsd"), _param(metrics, "biou")
    runs = max(1, len(qs), len(taus), len(widths))
    qv, tv, wv = list(qs.items()), list(taus.items()), list(widths.items())
    out = {}
    for i in range(runs):  # one BinaryPairwiseMeasures per (percentile, tolerance, width)
        q = qv[i][1] if i < len(qv) else 95
        t = tv[i][1] if i < len(tv) else 1.0
        w = wv[i][1] if i < len(wv) else 1
        d = metricsreloaded_metrics(pred, ref, spacing, tol=t, hd_perc=q, boundary_dist=w)
        if i == 0:
            out.update({k: d[k] for k in ("hd", "assd", "masd") if k in metrics})
        if i < len(qv):
            out[qv[i][0]] = d["hd_perc"]
        if i < len(tv):
            out[tv[i][0]] = d["nsd"]
        if i < len(wv):
            out[wv[i][0]] = d["boundary_iou"]
    return {"metricsreloaded": out}


def _surface_panoptica(pred, ref, spacing, metrics):
    taus = _param(metrics, "nsd")
    d = panoptica_metrics(pred, ref, spacing, tolerances=tuple(taus.values()))
    out = {k: d[k] for k in ("hd", "hd95", "assd") if k in metrics}
    if "masd" in metrics:  # panoptica's "ASSD" is the mean of the directed means
        out["masd"] = d["assd"]
    out.update({m: d[f"nsd@{t:g}"] for m, t in taus.items()})
    return {"panoptica": out}


def _calibration_torchmetrics(probs, target, class_axis):
    return {"torchmetrics": torchmetrics_calibration(probs, target, class_axis=class_axis)}


def _calibration_monai(probs, target, class_axis):
    return {"monai": monai_calibration(probs, target, class_axis=class_axis)}


@dataclass(frozen=True)
class Peer:
    """One reference library as ``segscore compare --peers`` runs it.

    `kind` says what it is checked on: ``"surface"`` (``run(pred, ref, spacing, metrics)``
    on one label's boolean masks, where `metrics` are segscore metric names such as hd95,
    nsd@1), ``"calibration"`` (``run(probs, target, class_axis)``) or ``"edt"``
    (``run(mask, spacing)`` -> the distance map).  A surface or calibration run returns
    ``{segscore convention: {segscore metric name: the library's value}}``; the EDT is
    checked against ``segscore.edt``.  `rel` is the relative tolerance of the check (1e-5
    for a library computing in float32).
    """

    name: str             # shown in reports
    module: str           # imported to run it
    dist: str | None      # its distribution on PyPI (for the version); None: a source checkout
    kind: str             # "surface", "calibration" or "edt"
    conventions: tuple    # the segscore conventions named after it
    rel: float
    run: object


PEERS = (
    Peer("deepmind", "surface_distance", "surface-distance", "surface", ("deepmind",), 1e-9, _surface_deepmind),
    Peer("monai", "monai", "monai", "surface", ("monai", "monai-subvoxels"), 1e-5, _surface_monai),
    Peer("medpy", "medpy", "medpy", "surface", ("medpy",), 1e-9, _surface_medpy),
    Peer("metricsreloaded", "MetricsReloaded", None, "surface", ("metricsreloaded",), 1e-9,
         _surface_metricsreloaded),
    Peer("panoptica", "panoptica", "panoptica", "surface", ("panoptica",), 1e-9, _surface_panoptica),
    Peer("torchmetrics", "torchmetrics", "torchmetrics", "calibration", ("torchmetrics",), 1e-5,
         _calibration_torchmetrics),
    Peer("monai", "monai", "monai", "calibration", ("monai",), 1e-5, _calibration_monai),
    Peer("scipy", "scipy", "scipy", "edt", ("edt",), 1e-9, scipy_edt),
    Peer("edt", "edt", "edt", "edt", ("edt",), 1e-5, edt_edt),
)


def add_metricsreloaded(path) -> str | None:
    """Put a MetricsReloaded checkout on ``sys.path`` (it is not on PyPI).

    `path` is the repository root (holding ``MetricsReloaded/metrics/pairwise_measures.py``)
    or the ``MetricsReloaded`` package folder itself.  Returns None when done, else the reason.
    """
    path = os.path.abspath(os.fspath(path))
    if not os.path.isdir(path):
        return f"--metricsreloaded {path}: no such folder"
    if os.path.basename(path.rstrip(os.sep)) == "MetricsReloaded" and \
            os.path.isfile(os.path.join(path, "metrics", "pairwise_measures.py")):
        path = os.path.dirname(path)
    if not os.path.isfile(os.path.join(path, "MetricsReloaded", "metrics", "pairwise_measures.py")):
        return (f"--metricsreloaded {path}: not a MetricsReloaded checkout "
                "(no MetricsReloaded/metrics/pairwise_measures.py under it)")
    if path not in sys.path:
        sys.path.insert(0, path)
    return None


def availability(peer: Peer) -> dict:
    """``{"available": bool, "version": str | None, "reason": str | None}`` for one peer:
    whether its library imports here (a broken install is reported with its error, never
    raised)."""
    try:
        found = importlib.util.find_spec(peer.module) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        how = ("give --metricsreloaded PATH (a checkout of github.com/Project-MONAI/MetricsReloaded; "
               "it is not on PyPI)" if peer.dist is None else f"pip install {peer.dist}")
        return {"available": False, "version": None, "reason": f"not installed ({how})"}
    try:
        with _quiet():
            if peer.module == "panoptica":
                _panoptica_quiet()
            importlib.import_module(peer.module if peer.dist is not None else "MetricsReloaded.metrics.pairwise_measures")
    except Exception as exc:  # a broken install: say so, do not crash
        return {"available": False, "version": None, "reason": f"cannot be imported ({type(exc).__name__}: {exc})"}
    version = None
    if peer.dist is not None:
        try:
            from importlib.metadata import version as _version

            version = _version(peer.dist)
        except Exception:
            version = None
    else:
        mod = sys.modules.get("MetricsReloaded")
        version = "checkout at " + os.path.dirname(os.path.dirname(mod.__file__)) if mod and mod.__file__ else None
    return {"available": True, "version": version, "reason": None}
