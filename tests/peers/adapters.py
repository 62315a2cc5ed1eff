"""Peer adapters: each reference library called the way its users call it.

Every adapter takes (pred, ref, spacing) in segscore's order (boolean numpy
arrays, spacing in mm per axis) and returns a dict of plain floats, so the
tests never need to know each library's argument order or return shape.
The library-specific quirks (argument order, float32, numpy-2 breakage,
warnings) are handled here and documented in docs/conventions_research.md
(§3 and §7).  Imports are lazy: a test that uses an adapter first calls
`need_peer(...)` so that a missing library skips (or fails under CI=true).
"""

from __future__ import annotations

import contextlib
import warnings

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
def monai_metrics(pred, ref, spacing=None, tolerances=(1.0,), percentiles=(95,), subvoxels=True, overlap=True):
    """MONAI 1.6.1 functional metrics on a (B=1, C=1, *spatial) float tensor pair.

    `hd`, `hd<p>` (per-direction torch.quantile, float32, then max),
    `hd_directed` (pred -> ref), `asd` (default symmetric=False: pred -> ref),
    `assd` (symmetric=True: pooled mean), `nsd@<tol>` (voxel counts) and
    `nsd_subvoxel@<tol>` (use_subvoxels=True; 2-D/3-D only), `dice`, `iou`.
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
        out["hd_directed"] = compute_hausdorff_distance(yp, y, directed=True, **kw).item()
        for q in percentiles:
            out[f"hd{q:g}"] = compute_hausdorff_distance(yp, y, percentile=q, **kw).item()
            out[f"hd{q:g}_directed"] = compute_hausdorff_distance(yp, y, percentile=q, directed=True, **kw).item()
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


def metricsreloaded_formula(pred, ref, spacing=None, tol=1.0, hd_perc=95, boundary_dist=1):
    """MetricsReloaded's distance code (pairwise_measures.py, HEAD cb38dfc)
    transcribed line by line (docs/conventions_research.md §3.5), for random
    cross-checks: the library itself is not installable from PyPI.

    Same expressions, same summation over the whole zero-filled maps, same
    empty-mask branches (the one-empty NSD corner artefact included).
    """
    from scipy import ndimage

    pred = np.asarray(pred, dtype=float)
    ref = np.asarray(ref, dtype=float)
    pixdim = None if spacing is None else tuple(float(s) for s in spacing)

    def border_map(img):
        binary_map = np.asarray(img, dtype=np.int8)
        eroded = ndimage.binary_erosion(binary_map)  # default cross, border_value 0
        return binary_map - eroded

    border_ref = border_map(ref)
    border_pred = border_map(pred)
    distance_ref = ndimage.distance_transform_edt(1 - border_ref, sampling=pixdim)
    distance_pred = ndimage.distance_transform_edt(1 - border_pred, sampling=pixdim)
    dist_border_pred = border_ref * distance_pred   # at ref-border voxels: ref -> pred
    dist_border_ref = border_pred * distance_ref    # at pred-border voxels: pred -> ref
    n_pred, n_ref = np.sum(pred), np.sum(ref)
    out = {}
    # measured_distance()
    if np.sum(pred + ref) == 0:
        out.update(hd=0.0, assd=0.0, hd_perc=0.0, masd=0.0)
    elif n_pred == 0 or n_ref == 0:
        out.update(hd=np.nan, assd=np.nan, hd_perc=np.nan, masd=np.nan)
    else:
        out["assd"] = float((np.sum(dist_border_ref) + np.sum(dist_border_pred)) / np.sum(border_pred + border_ref))
        out["masd"] = float(0.5 * (np.sum(dist_border_ref) / np.sum(border_pred)
                                   + np.sum(dist_border_pred) / np.sum(border_ref)))
        out["hd"] = float(np.max([np.max(dist_border_ref), np.max(dist_border_pred)]))
        out["hd_perc"] = float(np.max([np.percentile(dist_border_ref[border_pred > 0], q=hd_perc),
                                       np.percentile(dist_border_pred[border_ref > 0], q=hd_perc)]))
    # normalised_surface_distance()
    if n_pred == 0 and n_ref == 0:
        out["nsd"] = 1.0
    else:
        reg_ref = np.where(dist_border_ref <= tol, 1.0, 0.0)
        reg_pred = np.where(dist_border_pred <= tol, 1.0, 0.0)
        num = np.sum(border_pred * reg_ref) + np.sum(border_ref * reg_pred)
        out["nsd"] = float(num / (np.sum(border_ref) + np.sum(border_pred)))
    # boundary_iou(): unit spacing, strict <, restricted to the mask
    if n_pred == 0 and n_ref == 0:
        out["boundary_iou"] = 1.0
    else:
        dbr = ndimage.distance_transform_edt(1 - border_ref)
        dbp = ndimage.distance_transform_edt(1 - border_pred)
        lim_p = np.logical_and(dbp < boundary_dist, pred > 0)
        lim_r = np.logical_and(dbr < boundary_dist, ref > 0)
        union = np.sum(lim_p | lim_r)
        out["boundary_iou"] = float(np.sum(lim_p & lim_r) / union) if union else np.nan
    return out


# --------------------------------------------------------------------------- brute force
def brute_overlap(pred, ref, spacing=None):
    """Confusion counts and every overlap metric straight from the definition
    (nan where a denominator is 0; the empty-mask policy is applied by the test)."""
    p, r = _b(pred), _b(ref)
    tp = int(np.sum(p & r))
    fp = int(np.sum(p & ~r))
    fn = int(np.sum(~p & r))
    tn = int(np.sum(~p & ~r))

    def div(a, b):
        return a / b if b else float("nan")

    vox = float(np.prod(_sp(spacing, p.ndim)))
    return {"tp": tp, "fp": fp, "fn": fn, "tn": tn,
            "dice": div(2.0 * tp, 2.0 * tp + fp + fn), "iou": div(tp, tp + fp + fn),
            "precision": div(tp, tp + fp), "recall": div(tp, tp + fn), "specificity": div(tn, tn + fp),
            "vs": 1.0 - div(abs(fp - fn), 2 * tp + fp + fn),
            "vol_pred_ml": (tp + fp) * vox / 1000.0, "vol_ref_ml": (tp + fn) * vox / 1000.0}


def brute_voxel_border(mask, connectivity=1):
    """Boundary voxels: mask xor its erosion (outside the array = background)."""
    from scipy import ndimage

    m = _b(mask)
    st = ndimage.generate_binary_structure(m.ndim, connectivity)
    return m & ~ndimage.binary_erosion(m, structure=st, border_value=0)


def brute_directed(pred, ref, spacing=None, connectivity=1):
    """Voxel-border directed distances by exhaustive pairwise search:
    (pred -> ref, ref -> pred), each sorted."""
    p, r = brute_voxel_border(pred, connectivity), brute_voxel_border(ref, connectivity)
    sp = np.asarray(_sp(spacing, p.ndim))
    a = np.argwhere(p) * sp
    b = np.argwhere(r) * sp
    d = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))
    return np.sort(d.min(axis=1)), np.sort(d.min(axis=0))
