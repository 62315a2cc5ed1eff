"""The cross-checks' references: the reference libraries' adapters, which live in the
package (segscore.app.peers, shared with ``segscore compare --peers``) and are re-exported
here, and two test-only oracles that are no library:

* `metricsreloaded_formula`: MetricsReloaded's distance code transcribed line by line
  (it is not installable from PyPI), for random cross-checks;
* `brute_*`: confusion counts and voxel-border distances straight from the definitions.

Every function takes (pred, ref, spacing) in segscore's order.  A test that uses a library
adapter first calls `need_peer(...)` so that a missing library skips (or fails under CI=true).
"""

from __future__ import annotations

import numpy as np

from segscore.app.peers import (  # noqa: F401  (re-exported: the tests call them as adapters.X)
    _b,
    _panoptica_quiet,
    _sp,
    deepmind_distances,
    deepmind_metrics,
    medpy_metrics,
    medpy_overlap,
    metricsreloaded_metrics,
    monai_metrics,
    monai_overlap,
    panoptica_metrics,
)


# --------------------------------------------------------------------------- MetricsReloaded's code, transcribed
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
