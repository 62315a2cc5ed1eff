"""ss.lesion_aggregate: dataset-level lesion-wise scores from per-case results."""

from __future__ import annotations

import math

import numpy as np

from .result import LesionResult

NAN = float("nan")

# case-summary keys averaged over cases as mean_<key> (when present)
CASE_MEANS = ("f1", "precision", "recall", "sq", "pq", "sq_dice", "dsc_tp", "lesion_dice", "lesion_hd95",
              "legacy_dice", "legacy_hd95", "sensitivity", "specificity", "global_dice")


def _total(summaries, key, cast=int):
    """The sum of a count over the cases; nan when a convention leaves it undefined (e.g.
    monai_cc_dice has no prediction instances: n_pred and iou_sum are nan)."""
    vals = [float(s[key]) for s in summaries]
    return NAN if any(math.isnan(v) for v in vals) else cast(sum(vals))


def _pool(summaries, rows, eps):
    B = len(summaries)
    tp, fp, fn = (_total(summaries, k) for k in ("tp", "fp", "fn"))
    iou_sum = _total(summaries, "iou_sum", float)
    out = dict(n_cases=B, n_ref=_total(summaries, "n_ref"), n_pred=_total(summaries, "n_pred"), tp=tp, fp=fp, fn=fn,
               iou_sum=iou_sum)
    out["precision"] = tp / (tp + fp) if tp + fp else NAN
    out["recall"] = tp / (tp + fn) if tp + fn else NAN
    out["f1"] = tp / (tp + 0.5 * fp + 0.5 * fn) if tp + fp + fn else NAN
    if B:  # MONAI's mean_batch: the ratio of the batch means, eps in the denominators
        mt, mf, mn, mi = tp / B, fp / B, fn / B, iou_sum / B
        d_rq = mt + 0.5 * mf + 0.5 * mn + eps
        out["rq"] = mt / d_rq if d_rq else NAN
        out["sq"] = mi / (mt + eps) if mt + eps else NAN
        out["pq"] = mi / d_rq if d_rq else NAN
    else:
        out["rq"] = out["sq"] = out["pq"] = NAN
    dices = [r["dice"] for r in rows if r["kind"] == "tp" and "dice" in r]
    out["dsc_tp"] = float(np.mean(dices)) if dices else NAN
    out["fp_per_case"] = fp / B if B else NAN
    with_ref = [s for s in summaries if s["n_ref"] > 0]
    out["patient_recall"] = (sum(s["tp"] > 0 for s in with_ref) / len(with_ref)) if with_ref else NAN
    with_pred = [s for s in summaries if s["n_pred"] > 0]
    out["patient_precision"] = (sum(s["tp"] > 0 for s in with_pred) / len(with_pred)) if with_pred else NAN
    for k in CASE_MEANS:
        vals = [float(s[k]) for s in summaries if k in s and not math.isnan(float(s[k]))]
        if any(k in s for s in summaries):
            out[f"mean_{k}"] = float(np.mean(vals)) if vals else NAN
    return out


def lesion_aggregate(results, *, eps=None):
    """Dataset-level lesion-wise scores: counts pooled over cases, and case means.

    Parameters
    ----------
    results : sequence of LesionResult
        One per case, all from the same convention (and regions).
    eps : float, optional
        The term in the pooled PQ / SQ / RQ denominators; None: the convention's (MONAI
        1e-6, else 0).

    Returns
    -------
    dict
        (``{region: dict}`` when the results have regions) with ``n_cases``, ``n_ref``,
        ``n_pred``, ``tp``, ``fp``, ``fn``, ``iou_sum`` (sums); ``precision``, ``recall``,
        ``f1`` (lesion-wise, from the pooled counts); ``rq``, ``sq``, ``pq`` (MONAI's
        ``mean_batch`` rule: ratios of the batch means with `eps`; with eps 0 the pooled
        PQ); ``dsc_tp`` (Dice over every true-positive lesion of the dataset);
        ``fp_per_case``; ``patient_recall`` (cases with a reference lesion and a TP / cases
        with a reference lesion) and ``patient_precision`` (cases with a TP / cases with a
        prediction); and ``mean_<key>`` = the mean over cases (nan values left out) of the
        case summaries' ``f1``, ``sq``, ``pq``, ``dsc_tp``, ... and for ``brats2023`` the
        challenge's ranking scores ``mean_lesion_dice`` and ``mean_lesion_hd95``.  Empty
        pools give nan.

    Examples
    --------
    >>> import numpy as np
    >>> import segscore as ss
    >>> a = np.zeros((10, 10), bool); a[1:4, 1:4] = True
    >>> b = a.copy(); b[6:9, 6:9] = True
    >>> agg = ss.lesion_aggregate([ss.lesionwise(a, a), ss.lesionwise(a, b), ss.lesionwise(b, a)])
    >>> agg["tp"], agg["fp"], agg["fn"], round(agg["f1"], 4), agg["fp_per_case"]
    (3, 1, 1, 0.75, 0.3333333333333333)
    >>> agg["patient_recall"], agg["dsc_tp"]
    (1.0, 1.0)
    """
    results = list(results)
    if not all(isinstance(r, LesionResult) for r in results):
        raise TypeError("lesion_aggregate takes LesionResult objects (from segscore.lesionwise)")
    convs = {r.meta["convention"] for r in results}
    if len(convs) > 1:
        raise ValueError(f"lesion_aggregate: the results come from different conventions {sorted(convs)}")
    if eps is None:
        eps = results[0].meta["options"]["eps"] if results else 0.0
    regional = bool(results) and results[0].meta["options"]["regions"] is not None
    if not regional:
        return _pool([r.summary for r in results], [row for r in results for row in r.lesions], float(eps))
    names = list(results[0].summary)
    return {g: _pool([r.summary[g] for r in results],
                     [row for r in results for row in r.lesions if row["region"] == g], float(eps))
            for g in names}
