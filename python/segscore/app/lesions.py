"""Lesion-wise scoring of a dataset (``segscore score --lesionwise CONVENTION``) and FROC
(``--probs DIR --froc monai|luna16``).

Per case (`LesionScorer`, `FrocScorer`, both plain scorers of app/scorers.py):

- ``ss.lesionwise`` on the case's regions: the rows of the case table (its labels, or the
  regions of ``--labels``; ``brats2023`` without ``--labels``: its regions WT / TC / ET;
  conventions on given instance maps, ``monai`` and ``metricsreloaded``: one region, row
  ``all``), with the spacing of the prediction's header (the BraTS 2023 script reads the
  prediction's zooms; ``brats2023`` rounds them to float32 itself).  The row gets the
  ``lesion_`` columns of the metric registry (scope ``lesionwise``, as
  ``ss.evaluate(..., lesionwise=...)`` adds them); the lesion rows, the match table and the
  summaries go to the case's journal record (``extras["lesions"]``), so a resumed run writes
  the same files.
- FROC: the case's detections (components of P(foreground) > threshold, each with its
  highest probability) counted against the reference lesions, as ``ss.froc`` does for a
  probability-map case; the counts (false-positive probabilities, target probabilities,
  number of targets) go to ``extras["froc"]``.

At the end (`finish`): ``<stem>.lesions.<ext>`` (one row per lesion per case),
``<stem>.lesion_matches.<ext>``, the dataset aggregates (``ss.lesion_aggregate`` per region;
a case where a region is absent counts as an empty case for it), ``<stem>.froc.json``
(``ss.froc`` on the pooled counts, bootstrap over cases) and its plot.
"""

from __future__ import annotations

import json
import math
import os

import numpy as np

# columns of the lesions table before the per-lesion metrics
LESION_ID_COLUMNS = ("case", "region", "kind", "ref_id", "pred_ids", "ref_voxels", "ref_volume", "pred_voxels",
                     "pred_volume", "match_score")
MATCH_COLUMNS = ("case", "region", "ref_id", "pred_id", "score")
# the aggregate keys the report shows (and print_summary)
REPORT_KEYS = ("n_cases", "n_ref", "n_pred", "tp", "fp", "fn", "recall", "precision", "f1", "dsc_tp", "fp_per_case",
               "patient_recall", "patient_precision", "pq", "mean_lesion_dice", "mean_lesion_hd95")
INSTANCES_ROW = "all"


# ====================================================================== options
def parse_value(text: str):
    """A ``--lesion-option`` value: JSON for ``{...}`` / ``[...]``; ``true`` / ``false``;
    ``none``; an int; a float; a comma list (a tuple of such values); else the string."""
    t = text.strip()
    if t.startswith(("{", "[")):
        try:
            return json.loads(t)
        except ValueError as exc:
            raise ValueError(f"not valid JSON ({exc})") from None
    if "," in t:
        return tuple(parse_value(x) for x in t.split(",") if x.strip())
    low = t.lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    if low in ("none", "null"):
        return None
    try:
        return int(t)
    except ValueError:
        pass
    try:
        return float(t)
    except ValueError:
        return t


def parse_options(items) -> dict:
    """{key: typed value} of ``key=value`` strings (ValueError naming the bad one)."""
    out = {}
    for item in items or ():
        if "=" not in item:
            raise ValueError(f"--lesion-option {item!r}: use key=value, e.g. threshold=0.3")
        k, v = item.split("=", 1)
        k = k.strip().replace("-", "_")
        if not k:
            raise ValueError(f"--lesion-option {item!r}: the key is empty")
        try:
            out[k] = parse_value(v)
        except ValueError as exc:
            raise ValueError(f"--lesion-option {item!r}: {exc}") from None
    return out


def resolve(convention: str, options: dict):
    """The resolved options (segscore.lesion.conventions.resolve), errors as they are."""
    from ..lesion import conventions as _lc

    if "regions" in options:
        raise ValueError("the lesion-wise regions are the rows of the table: give them with --labels "
                         "(e.g. --labels '{\"WT\": [1, 2, 3], \"TC\": [1, 3], \"ET\": 3}'), not regions=")
    return _lc.resolve(convention, dict(options))


def default_labels(convention: str, options: dict):
    """The labels a run uses when --labels is not given: the convention's own regions
    (brats2023: WT, TC, ET), else None (the labels present in each case)."""
    opts = resolve(convention, options)
    if opts.regions is None or opts.instances == "given":
        return None
    return {k: (v if len(v) > 1 else v[0]) for k, v in opts.regions.items()}


def check(convention: str, options: dict) -> None:
    """Run the convention on a tiny case: every option is checked before any file is read."""
    from ..lesion.lesionwise import lesionwise

    opts = resolve(convention, options)
    z = np.zeros((3, 3, 3), np.uint8)
    regions = None if opts.instances == "given" else {1: (1,)}
    lesionwise(z, z, (1.0, 1.0, 1.0), convention=convention, regions=regions, **options)


# ====================================================================== per case
def jsonable(v):
    if isinstance(v, tuple):
        return [jsonable(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    return v


def foreground_probability(probs, ref):
    """(P(lesion), target mask) of a case: a (x, y, z) map is P(label 1) and the targets are the
    components of label 1; a (x, y, z, C) map gives P(foreground) = the sum of channels 1..C-1
    (capped at 1) and the targets are the components of ref > 0."""
    p = probs.array
    if p.ndim == 3:
        return p, ref == 1
    if p.shape[3] < 2:
        return p[..., 0], ref == 1
    fg = np.sum(p[..., 1:], axis=3, dtype=np.float64 if p.dtype == np.float64 else np.float32)
    return np.minimum(fg, 1, out=fg), ref > 0


# ====================================================================== the dataset
def _table_format(path: str) -> str:
    low = path.lower()
    return "parquet" if low.endswith(".parquet") else ("csv" if low.endswith(".csv") else "json")


def paths_for(paths: dict) -> dict:
    """The lesion outputs next to the table, in its format."""
    ext = {"parquet": ".parquet", "csv": ".csv", "json": ".json"}[_table_format(paths["table"])]
    base = os.path.join(paths["dir"], paths["stem"])
    return {"lesions": base + ".lesions" + ext, "lesion_matches": base + ".lesion_matches" + ext,
            "froc": base + ".froc.json"}


def _region_values(values):
    """Region keys as one type (ints, else strings), as the case table's labels."""
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return [int(v) for v in values]
    return [str(v) for v in values]


def tables(records: dict, metrics=None):
    """(lesions, matches) DataFrames of the ok records, in case order."""
    import pandas as pd

    rows, matches, mets = [], [], []
    for case, rec in records.items():
        if rec.get("status") != "ok":
            continue
        ex = (rec.get("extras") or {}).get("lesions")
        if not ex:
            continue
        for m in ex["metrics"]:
            if m not in mets:
                mets.append(m)
        for r in ex["rows"]:
            rows.append({"case": case, **r})
        for m in ex["matches"]:
            matches.append({"case": case, **m})
    cols = list(LESION_ID_COLUMNS) + mets
    les = pd.DataFrame(rows, columns=cols)
    mt = pd.DataFrame(matches, columns=list(MATCH_COLUMNS))
    for t in (les, mt):
        if len(t):
            t["region"] = _region_values(t["region"].tolist())
    if len(les):
        les["pred_ids"] = [[int(x) for x in v] for v in les["pred_ids"]]
        for c in ("ref_id", "ref_voxels", "pred_voxels"):
            les[c] = les[c].astype("int64")
        for c in ("ref_volume", "pred_volume", "match_score", *mets):
            les[c] = les[c].astype("float64")
    if len(mt):
        mt["ref_id"] = mt["ref_id"].astype("int64")
        mt["pred_id"] = mt["pred_id"].astype("int64")
        mt["score"] = mt["score"].astype("float64")
    return les.reset_index(drop=True), mt.reset_index(drop=True)


def aggregates(records: dict, cfg) -> dict:
    """{region: ss.lesion_aggregate(...)} over the ok cases (a case without the region counts
    as an empty case for it), in the order the regions first appear."""
    from ..lesion import lesion_aggregate
    from ..lesion.lesionwise import lesionwise
    from ..lesion.result import LesionResult

    per_case, order, members_of, eps, mets = [], [], {}, 0.0, ()
    for case, rec in records.items():
        if rec.get("status") != "ok":
            continue
        ex = (rec.get("extras") or {}).get("lesions")
        if ex is None:
            continue
        eps, mets = ex["eps"], tuple(ex["metrics"])
        byregion = {}
        for key, members, s in ex["summaries"]:
            k = str(key)
            byregion[k] = s
            if k not in members_of:
                order.append(k)
                members_of[k] = (key, members)
        per_case.append((ex, byregion))
    if not per_case:
        return {}
    empty_summary = {}
    meta = {"convention": cfg.lesionwise, "options": {"eps": eps, "regions": None}}
    out = {}
    for k in order:
        key, members = members_of[k]
        results = []
        for ex, byregion in per_case:
            s = byregion.get(k)
            if s is None:  # the region is absent from this case: an empty case for it
                if k not in empty_summary:
                    z = np.zeros((3, 3, 3), np.uint8)
                    regions = None if members is None else {key: tuple(members)}
                    e = lesionwise(z, z, (1.0, 1.0, 1.0), convention=cfg.lesionwise, regions=regions,
                                   **dict(cfg.lesion_options or {}))
                    empty_summary[k] = e.summary if regions is None else e.summary[key]
                s = empty_summary[k]
                rows = []
            else:
                rows = [r for r in ex["rows"] if str(r["region"]) == k]
            results.append(LesionResult(rows, [], s, meta, mets))
        try:
            out[k] = lesion_aggregate(results, eps=eps)
        except (ValueError, TypeError) as exc:  # a convention whose summaries do not pool: say so, keep the rest
            out[k] = {"n_cases": len(results), "error": f"ss.lesion_aggregate: {exc}"}
    return out


def froc_result(records: dict, cfg, seed: int, n_bootstrap: int) -> dict | None:
    """``ss.froc`` on the pooled per-case counts, as a JSON-able dict (``error`` when it gives no
    curve, e.g. no target in the whole dataset); None without --froc."""
    if not cfg.froc:
        return None
    from ..lesion.froc import froc

    cases = []
    for rec in records.values():
        f = (rec.get("extras") or {}).get("froc") if rec.get("status") == "ok" else None
        if f is None:
            continue
        tp = np.asarray(f["monai_tp"], np.float32) if cfg.froc == "monai" else np.asarray(f["detected"], np.float64)
        cases.append({"fp_probs": np.asarray(f["fp"], np.float64), "tp_probs": tp, "num_targets": f["num_targets"],
                      "num_images": 1})
    meta = {"inputs": ["maps"], "threshold": float(cfg.froc_threshold), "hit": cfg.froc_hit, "connectivity": "full",
            "probability": "P(label 1) of a (x, y, z) map, or the sum of channels 1..C-1 of a (x, y, z, C) map",
            "targets": "components of reference label 1 (3-D map) or of reference > 0 (4-D map)"}
    if not cases:
        return {"convention": cfg.froc, "error": "no case with a probability map was scored", "meta": meta}
    try:
        r = froc(cases, convention=cfg.froc, n_bootstrap=int(n_bootstrap), seed=int(seed))
    except ValueError as exc:
        return {"convention": cfg.froc, "error": str(exc), "meta": meta}
    d = r.to_dict()
    d["meta"] = {**d["meta"], **meta}
    d["bootstrap_scores"] = None
    return d


def write_outputs(les, matches, froc_doc, lpaths: dict) -> None:
    from .summary import _atomic, _json_safe

    fmt = _table_format(lpaths["lesions"])
    for t, p in ((les, lpaths["lesions"]), (matches, lpaths["lesion_matches"])):
        if t is None:
            continue
        if fmt == "parquet":
            _atomic(p, lambda q, t=t: t.to_parquet(q, index=False))
        elif fmt == "csv":
            t2 = t.copy()
            if "pred_ids" in t2.columns:
                t2["pred_ids"] = [" ".join(str(x) for x in v) for v in t2["pred_ids"]]
            _atomic(p, lambda q, t2=t2: t2.to_csv(q, index=False))
        else:
            _atomic(p, lambda q, t=t: t.to_json(q, orient="records", indent=1, double_precision=15))
    if froc_doc is not None:
        def w(q):
            with open(q, "w", encoding="utf-8") as f:
                json.dump(_json_safe(froc_doc), f, indent=1)

        _atomic(lpaths["froc"], w)


def worst_lesions(les, n: int = 10):
    """The n worst reference lesions: missed ones first (largest first), then the lowest Dice
    (or match score)."""
    if not len(les):
        return les
    t = les[les["kind"].isin(["tp", "fn"])].copy()
    if not len(t):
        return t
    score = "dice" if "dice" in t.columns else "match_score"
    t["_miss"] = (t["kind"] == "fn").astype(int)
    t["_s"] = t[score].fillna(-math.inf)
    t = t.sort_values(["_miss", "ref_volume", "_s", "case"], ascending=[False, False, True, True], kind="mergesort")
    t = pd_head(t[t["_miss"] == 1], t[t["_miss"] == 0].sort_values(["_s", "case"], kind="mergesort"), n)
    cols = ["case", "region", "kind", "ref_id", "ref_volume", "pred_volume", score]
    cols += [c for c in ("hd95",) if c in t.columns and c != score]
    return t[cols].reset_index(drop=True)


def pd_head(missed, hit, n):
    import pandas as pd

    return pd.concat([missed, hit]).head(n)
