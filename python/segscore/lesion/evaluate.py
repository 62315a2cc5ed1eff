"""ss.evaluate with ``lesionwise=``: the per-label table plus lesion-wise columns and rows."""

from __future__ import annotations

from ..metrics import registry as _registry
from ..metrics.evaluate import evaluate as _evaluate
from . import conventions as _lc
from .lesionwise import lesionwise as _lesionwise

COLUMNS = _registry.names(scope=_registry.LESIONWISE)

_PARAM = '''    lesionwise : str or dict, optional
        Also score every row lesion-wise (:func:`segscore.lesionwise`): a convention name
        (``"brats2023"``, ``"panoptica"``, ``"isles"``, ...) or ``{"convention": name,
        **options}``.  Each row's region (its label, or its tuple of labels) is scored as one
        lesion-wise region under that convention (pass ``labels={"WT": (1, 2, 3), "TC": (1,
        3), "ET": 3}`` for the BraTS regions), and the row gets the columns
        ``lesion_n_ref``, ``lesion_n_pred``, ``lesion_tp``, ``lesion_fp``, ``lesion_fn``,
        ``lesion_precision``, ``lesion_recall``, ``lesion_f1``, ``lesion_sq``, ``lesion_pq``,
        ``lesion_sq_dice``, ``lesion_iou_sum`` and, under ``brats2023``, ``lesion_dice``,
        ``lesion_hd95``, ``lesion_legacy_dice``, ``lesion_legacy_hd95``,
        ``lesion_sensitivity``, ``lesion_specificity``, ``lesion_gt_volume`` (the metric
        registry's ``lesionwise`` scope).  The lesion rows are kept in ``res.lesions``
        (their ``region`` is the row key) and the options in ``res.meta["lesionwise"]``.
'''

_EXAMPLE = '''    >>> lab = np.zeros((24, 24, 12), np.uint8); lab[2:8, 2:8, 2:6] = 2; lab[3:6, 3:6, 3:5] = 3
    >>> lab[17:23, 17:23, 4:9] = 2; p = lab.copy(); p[17:23, 17:23, 4:9] = 0  # too far to merge
    >>> r = ss.evaluate(p, lab, spacing=(1, 1, 1), labels={"WT": (1, 2, 3), "ET": 3}, metrics=["dice"],
    ...                 lesionwise="brats2023")
    >>> r.columns[:4], r["WT"]["lesion_tp"], r["WT"]["lesion_fn"], r["WT"]["lesion_dice"]
    (['dice', 'lesion_n_ref', 'lesion_n_pred', 'lesion_tp'], 1, 1, 0.5)
    >>> [(x["region"], x["kind"]) for x in r.lesions]
    [('WT', 'tp'), ('WT', 'fn'), ('ET', 'excluded')]
'''


def _spec(lesionwise):
    if lesionwise is None:
        return None
    if isinstance(lesionwise, str):
        conv, opts = lesionwise, {}
    elif isinstance(lesionwise, dict):
        opts = dict(lesionwise)
        conv = opts.pop("convention", "segscore")
    else:
        raise TypeError(f"lesionwise= takes a convention name or {{'convention': name, **options}}, "
                        f"got {lesionwise!r}")
    if "regions" in opts:
        raise ValueError("lesionwise= takes its regions from labels= (one lesion-wise region per row); "
                         "drop 'regions' from the options")
    _lc.resolve(conv, opts)  # every option checked before anything runs
    return conv, opts


def evaluate(pred, ref, spacing=None, labels=None, metrics=None, tolerance=None, convention="segscore", empty=None,
             ignore_label=None, threads=None, connectivity=None, device=None, lesionwise=None):
    spec = _spec(lesionwise)
    if spec is not None and ignore_label is not None:
        raise ValueError("lesionwise= does not take ignore_label= (components would run through ignored voxels)")
    res = _evaluate(pred, ref, spacing, labels, metrics, tolerance, convention, empty, ignore_label, threads,
                    connectivity, device)
    if spec is None:
        return res
    conv, opts = spec
    keys = list(res)
    single = getattr(pred, "dtype", None) == bool or str(getattr(pred, "dtype", "")) == "torch.bool"
    if single:
        regions = None
    else:
        regions = {}
        for k in keys:
            labs = labels[k] if isinstance(labels, dict) else k
            regions[k] = tuple(labs) if isinstance(labs, (tuple, list)) else (int(labs),)
    lr = _lesionwise(pred, ref, res.meta["spacing"], convention=conv, threads=threads, regions=regions,
                     device=device, **opts)
    added = []
    for k in keys:
        s = lr.summary if regions is None else lr.summary[k]
        row = res[k]
        for col in COLUMNS:
            key = col if col in s else col[len("lesion_"):]
            if key in s:
                row[col] = s[key]
                if col not in added:
                    added.append(col)
    res.columns = list(res.columns) + [c for c in COLUMNS if c in added]
    res.lesions = lr.lesions
    res.meta["lesionwise"] = {k: lr.meta[k] for k in ("convention", "mirrors", "options")}
    return res


def _doc():
    d = _evaluate.__doc__
    anchor = "\n    Returns\n    -------\n    Result"
    d = d.replace(anchor, "\n" + _PARAM.rstrip("\n") + anchor, 1)
    d = d.rstrip() + "\n" + _EXAMPLE
    return d


evaluate.__doc__ = _doc()
