"""Tables and per-label summaries of a scored dataset (pandas, imported lazily).

Summary statistics per (reference, label, metric) are computed over the values
that are not NaN (NaN is what the empty-mask policy gives when a metric is
undefined, e.g. Dice with both masks empty); infinite values take part (an HD
of inf makes the mean inf, the median stays informative), and the counts of
NaN and infinite values, and of cases with an empty reference / prediction /
both, are reported beside them.  The 95 % confidence interval of the mean is a
percentile bootstrap over cases, seeded, so that every run gives the same
interval.
"""

from __future__ import annotations

import json
import math
import os
import sys

import numpy as np

from ..metrics import registry as _registry

ID_COLUMNS = ("case", "reference", "label")
STAT_COLUMNS = ("n", "n_nan", "n_inf", "mean", "std", "median", "q1", "q3", "iqr", "ci_low", "ci_high",
                "min", "max", "n_ref_empty", "n_pred_empty", "n_both_empty")


# ---------------------------------------------------------------------- label maps
def load_labels(labels):
    """Normalise the ``labels`` option; returns (labels for ss.evaluate, ignore label or None).

    Accepts what ss.evaluate accepts, a JSON file (nnU-Net v2 dataset.json ``{"labels": {"liver": 1,
    "tumour": [1, 2]}}``, MSD-style ``{"labels": {"1": "liver"}}`` or a bare mapping; background
    and nnU-Net's ``ignore`` entry are taken out), a JSON string, or a comma list of ints ``"1,2,3"``.
    """
    if labels is None:
        return None, None
    if isinstance(labels, (str, os.PathLike)):
        s = os.fspath(labels)
        if os.path.isfile(s):
            try:
                with open(s, encoding="utf-8") as f:
                    obj = json.load(f)
            except (ValueError, UnicodeDecodeError) as exc:
                raise ValueError(f"labels file {s}: not valid JSON ({exc})") from None
        elif s.strip().startswith(("{", "[")):
            try:
                obj = json.loads(s)
            except ValueError as exc:
                raise ValueError(f"labels {s!r}: not valid JSON ({exc})") from None
        else:
            try:
                return [int(v) for v in s.replace(" ", "").split(",") if v], None
            except ValueError:
                raise ValueError(f"labels {s!r}: not a file, not JSON and not a comma list of integers") from None
        return _from_json(obj)
    return labels, None


def _label_int(v, what: str) -> int:
    """A label value from JSON: an integer (an integral float such as 1.0 is accepted), >= 0."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"{what}: label value {v!r} is not an integer")
    if isinstance(v, float) and not (math.isfinite(v) and v == int(v)):
        raise ValueError(f"{what}: label value {v!r} is not an integer")
    if v < 0:
        raise ValueError(f"{what}: label value {int(v)} is negative")
    return int(v)


def _from_json(obj):
    if isinstance(obj, list):
        return [tuple(_label_int(x, "labels") for x in v) if isinstance(v, list) else _label_int(v, "labels")
                for v in obj], None
    if not isinstance(obj, dict):
        raise ValueError("a label map must be a JSON object {name: value} or a list of values")
    if "labels" in obj and isinstance(obj["labels"], dict):
        obj = obj["labels"]
    if obj and all(isinstance(k, str) and k.strip().isdigit() for k in obj) and all(
            isinstance(v, str) for v in obj.values()):
        obj = {v: int(k) for k, v in obj.items()}  # MSD: {"1": "liver"}
    out, ignore = {}, None
    for name, v in obj.items():
        what = f"label {name!r}"
        if isinstance(v, list):
            v = tuple(_label_int(x, what) for x in v)
            if v == (0,):
                continue
        else:
            v = _label_int(v, what)
            if v == 0:
                continue
        if str(name).lower() == "ignore":
            ignore = v if isinstance(v, int) else v[0]
            continue
        out[str(name)] = v
    return out, ignore


# ---------------------------------------------------------------------- tables
def tables(records: dict, has_raters: bool):
    """(per-case-per-label table, errors table, extras per case) from journal records in case order."""
    import pandas as pd

    rows, errs, extras = [], [], {}
    metric_cols: list = []
    seen = set()
    for case, rec in records.items():
        if rec.get("status") == "ok":
            for r in rec["rows"]:
                rows.append({"case": case, **r})
                for k in r:
                    if k not in seen and k not in ("reference", "label"):
                        seen.add(k)
                        metric_cols.append(k)
            if rec.get("extras"):
                extras[case] = rec["extras"]
        else:
            errs.append({"case": case, "stage": rec.get("stage"), "file": rec.get("file"), "reason": rec.get("reason")})
    cols = ["case"] + (["reference"] if has_raters else []) + ["label"] + metric_cols
    table = pd.DataFrame(rows, columns=["case", "reference", "label"] + metric_cols)
    if not has_raters:
        table = table.drop(columns="reference")
    table = table[cols]
    if len(table):
        labs = table["label"].tolist()
        if all(isinstance(v, int) and not isinstance(v, bool) for v in labs):
            table["label"] = table["label"].astype("int64")
        else:
            table["label"] = [str(v) for v in labs]
        for c in metric_cols:
            if c in _registry.COUNT_COLUMNS and table[c].notna().all():
                table[c] = table[c].astype("int64")
            else:
                table[c] = table[c].astype("float64")
    errors = pd.DataFrame(errs, columns=["case", "stage", "file", "reason"])
    return table.reset_index(drop=True), errors, extras


def metric_columns(table) -> list:
    return [c for c in table.columns if c not in ID_COLUMNS]


def summarize(table, seed: int = 0, n_bootstrap: int = 1000, confidence: float = 0.95):
    """One row per (reference, label, metric): n, NaN / inf counts, mean, std, median, quartiles,
    IQR, bootstrap CI of the mean, min, max and the counts of empty masks."""
    import pandas as pd

    groups = ["reference", "label"] if "reference" in table.columns else ["label"]
    metrics = [c for c in metric_columns(table) if c not in _registry.COUNT_COLUMNS]
    out = []
    if not len(table):
        return pd.DataFrame(columns=groups + ["metric", *STAT_COLUMNS])
    i = 0
    for key, g in table.groupby(groups, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        empties = _empty_counts(g)
        for m in metrics:
            x = g[m].to_numpy(dtype=np.float64)
            st = describe(x, np.random.SeedSequence([int(seed), i]), n_bootstrap, confidence)
            i += 1
            out.append({**dict(zip(groups, key)), "metric": m, **st, **empties})
    return pd.DataFrame(out, columns=groups + ["metric", *STAT_COLUMNS])


def _empty_counts(g) -> dict:
    if not {"tp", "fp", "fn"} <= set(g.columns):
        return {"n_ref_empty": None, "n_pred_empty": None, "n_both_empty": None}
    vp = (g["tp"] + g["fp"]).to_numpy()
    vr = (g["tp"] + g["fn"]).to_numpy()
    return {"n_ref_empty": int(((vr == 0) & (vp > 0)).sum()), "n_pred_empty": int(((vp == 0) & (vr > 0)).sum()),
            "n_both_empty": int(((vp == 0) & (vr == 0)).sum())}


def describe(x: np.ndarray, seed, n_bootstrap: int = 1000, confidence: float = 0.95) -> dict:
    nan = np.isnan(x)
    v = x[~nan]
    n = len(v)
    res = {"n": n, "n_nan": int(nan.sum()), "n_inf": int(np.isinf(v).sum())}
    if n == 0:
        return {**res, **{k: math.nan for k in ("mean", "std", "median", "q1", "q3", "iqr", "ci_low", "ci_high",
                                                  "min", "max")}}
    with np.errstate(invalid="ignore", over="ignore"):
        q1, med, q3 = quantiles(np.sort(v), [25, 50, 75])
        res.update(mean=float(np.mean(v)), std=float(np.std(v, ddof=1)) if n > 1 else math.nan, median=float(med),
                   q1=float(q1), q3=float(q3), iqr=float(q3 - q1) if np.isfinite(q3 - q1) else math.inf,
                   min=float(v.min()), max=float(v.max()))
        lo, hi = bootstrap_ci(v, seed, n_bootstrap, confidence)
    res.update(ci_low=lo, ci_high=hi)
    return res


def bootstrap_ci(v: np.ndarray, seed, n_bootstrap: int = 1000, confidence: float = 0.95):
    """Percentile bootstrap interval of the mean of `v` (resampling cases), reproducible by `seed`."""
    n = len(v)
    if n < 2 or n_bootstrap <= 0:
        return (float(v[0]), float(v[0])) if n == 1 else (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    means = np.empty(n_bootstrap)
    chunk = max(1, 4_000_000 // n)
    with np.errstate(invalid="ignore", over="ignore"):
        for s in range(0, n_bootstrap, chunk):
            b = min(chunk, n_bootstrap - s)
            idx = rng.integers(0, n, size=(b, n))
            means[s:s + b] = v[idx].mean(axis=1)
        a = (1 - confidence) / 2
        lo, hi = quantiles(np.sort(means), [100 * a, 100 * (1 - a)])
    return float(lo), float(hi)


def quantiles(s: np.ndarray, qs) -> list:
    """Linear-interpolation percentiles (numpy's default) of sorted values `s`, where inf stays inf
    (numpy gives nan when it interpolates towards an infinite value)."""
    n = len(s)
    out = []
    for q in qs:
        pos = (n - 1) * q / 100.0
        i = int(math.floor(pos))
        f = pos - i
        lo = s[i]
        hi = s[min(i + 1, n - 1)]
        if f == 0 or lo == hi:
            out.append(float(lo))
        elif math.isinf(hi) or math.isinf(lo):
            out.append(float(hi) if math.isinf(hi) else float(lo))
        else:
            out.append(float(lo + (hi - lo) * f))
    return out


def timing(records: dict, wall_s: float, write_s: float) -> dict:
    t = {"read_s": 0.0, "decode_s": 0.0, "compute_s": 0.0}
    n = 0
    for rec in records.values():
        if rec.get("status") == "ok":
            n += 1
            for k in t:
                t[k] += float(rec["meta"].get(k, 0.0))
    t.update(write_s=write_s, wall_s=wall_s, cases_timed=n)
    return t


def devices(records: dict) -> str:
    d = sorted({str(r.get("meta", {}).get("device", "cpu")) for r in records.values() if r.get("status") == "ok"})
    return ", ".join(d) if d else "cpu"


# ---------------------------------------------------------------------- writers
def check_output_format(path: str) -> None:
    low = path.lower()
    if low.endswith(".parquet"):
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise ImportError("writing .parquet needs pyarrow (pip install 'segscore[io]'), "
                              "or choose a .csv or .json output") from None
    elif not low.endswith((".csv", ".json")):
        raise ValueError(f"output {path!r}: use a .parquet, .csv or .json file name")


def _atomic(path: str, write) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_table(table, path: str) -> None:
    low = path.lower()
    if low.endswith(".parquet"):
        _atomic(path, lambda p: table.to_parquet(p, index=False))
    elif low.endswith(".csv"):
        _atomic(path, lambda p: table.to_csv(p, index=False))
    else:
        _atomic(path, lambda p: table.to_json(p, orient="records", indent=1, double_precision=15))


def write_errors(errors, path: str) -> None:
    _atomic(path, lambda p: errors.to_csv(p, index=False))


def _json_safe(obj):
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else ("nan" if math.isnan(obj) else ("inf" if obj > 0 else "-inf"))
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, np.generic):
        return _json_safe(obj.item())
    return obj


def lesion_section(lesion):
    """The summary's ``lesionwise`` / ``froc`` entries of a lesion-wise run (None: none)."""
    if lesion is None:
        return None
    out = {}
    if "aggregate" in lesion:
        out["lesionwise"] = {"convention": lesion["convention"], "options": lesion["options"],
                             "aggregate": lesion["aggregate"], "n_lesion_rows": int(len(lesion["lesions"])),
                             "files": {k: os.path.basename(v) for k, v in lesion["paths"].items() if k != "froc"}}
    f = lesion.get("froc")
    if f is not None:
        keep = ("convention", "error", "num_targets", "num_images", "num_fp", "fp_rates", "sensitivity_at", "score",
                "n_bootstrap", "seed", "ci", "score_ci", "sensitivity_at_ci", "meta")
        out["froc"] = {k: f[k] for k in keep if k in f}
        out["froc"]["file"] = os.path.basename(lesion["paths"]["froc"])
    return out


def write_summary(summ, csv_path: str, json_path: str, info: dict, timing_: dict, errors, lesion=None) -> None:
    _atomic(csv_path, lambda p: summ.to_csv(p, index=False))
    doc = {"info": info, "timing": timing_, "errors": errors.to_dict(orient="records"),
           "summary": summ.to_dict(orient="records")}
    if lesion:
        doc.update(lesion)

    def w(p):
        with open(p, "w", encoding="utf-8") as f:
            json.dump(_json_safe(doc), f, indent=1, ensure_ascii=False)

    _atomic(json_path, w)


def write_nnunet(table, records: dict, specs, path: str, cfg) -> None:
    """nnU-Net v2's summary.json (evaluate_predictions.py): per-case and mean Dice, IoU, TP, FP, FN,
    TN, n_pred, n_ref per label (regions as "(1, 2)"), and the foreground mean."""
    t = table[table["reference"] == "ref"] if "reference" in table.columns else table
    need = {"tp", "fp", "fn", "tn"}
    if not need <= set(t.columns):
        raise ValueError("--format nnunet needs the tp, fp, fn, tn counts: include them in --metrics")
    names = _nnunet_keys(cfg)
    files = {s.case: (s.pred, s.ref) for s in specs}

    def metrics_of(r):
        tp, fp, fn, tn = (int(r[c]) for c in ("tp", "fp", "fn", "tn"))
        dice = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else math.nan
        iou = tp / (tp + fp + fn) if tp + fp + fn else math.nan
        return {"Dice": dice, "FN": fn, "FP": fp, "IoU": iou, "TN": tn, "TP": tp, "n_pred": fp + tp, "n_ref": fn + tp}

    per_case = []
    for case, g in t.groupby("case", sort=False):
        m = {names.get(r["label"], str(r["label"])): metrics_of(r) for _, r in g.iterrows()}
        pf, rf = files.get(case, (None, None))
        per_case.append({"metrics": m, "prediction_file": pf, "reference_file": rf})
    keys = []
    for pc in per_case:
        for k in pc["metrics"]:
            if k not in keys:
                keys.append(k)
    mean = {}
    for k in keys:
        vals = [pc["metrics"][k] for pc in per_case if k in pc["metrics"]]
        mean[k] = {m: float(np.nanmean([v[m] for v in vals])) if vals else math.nan for m in vals[0]}
    fg = {m: float(np.nanmean([mean[k][m] for k in keys])) for m in (mean[keys[0]] if keys else {})}
    doc = {"foreground_mean": fg, "mean": mean, "metric_per_case": per_case}

    def w(p):
        with open(p, "w", encoding="utf-8") as f:
            json.dump(doc, f, sort_keys=True, indent=4)

    _atomic(path, w)


def _nnunet_keys(cfg) -> dict:
    """Label column value -> nnU-Net key ("1", or "(1, 2)" for a region)."""
    if isinstance(cfg.labels, dict):
        out = {}
        for name, v in cfg.labels.items():
            out[str(name) if not isinstance(name, int) else name] = (
                str(tuple(sorted(v))) if isinstance(v, (tuple, list)) and len(v) > 1
                else str(v[0] if isinstance(v, (tuple, list)) else v))
        return out
    return {}


def print_summary(res) -> None:
    """The end-of-run lines on stderr (counts, timing, mean Dice / HD95 per label, failed cases,
    written files) of `segscore score` and `segscore demo`."""
    info, t = res.info, res.timing
    out = sys.stderr
    print(f"segscore: {info['n_scored']} of {info['n_cases']} cases scored, {info['n_failed']} failed; "
          f"device {info['device']}; {t['wall_s']:.1f} s (read {t['read_s']:.1f} s, decode {t['decode_s']:.1f} s, "
          f"compute {t['compute_s']:.1f} s summed over cases)", file=out)
    s = res.summary
    if len(s):
        if "reference" in s.columns:
            s = s[s["reference"] == "ref"]
        for m in _registry.names(printed=True):
            sm = s[s["metric"] == m]
            if len(sm):
                vals = ", ".join(f"{r['label']}: {r['mean']:.4g}" for _, r in sm.head(20).iterrows())
                print(f"segscore: mean {m} per label: {vals}", file=out)
    les = getattr(res, "lesion", None) or {}
    for region, agg in (les.get("aggregate") or {}).items():
        if "error" in agg:
            print(f"segscore: lesion-wise ({les['convention']}) {region}: no dataset aggregate ({agg['error']})",
                  file=out)
            continue
        print(f"segscore: lesion-wise ({les['convention']}) {region}: {agg['tp']} of {agg['n_ref']} lesions found, "
              f"{agg['fp']} false positives ({agg['fp_per_case']:.3g} per case); recall {agg['recall']:.4g}, "
              f"precision {agg['precision']:.4g}, F1 {agg['f1']:.4g}", file=out)
    f = les.get("froc")
    if f is not None:
        print(f"segscore: FROC ({f['convention']}): " + (f"score {f['score']:.4g} over {f['num_targets']} targets"
              if "error" not in f else f"not computed: {f['error']}"), file=out)
    if len(res.errors):
        print(f"segscore: {len(res.errors)} cases failed (errors table: {res.paths['errors']}):", file=out)
        for _, r in res.errors.head(20).iterrows():
            print(f"  {r['case']}: {r['stage']}: {r['reason']}", file=out)
    p = res.paths
    print(f"segscore: wrote {p['table']}", file=out)
    if os.path.exists(p["report_html"]):
        print(f"segscore: report {p['report_md']} / {p['report_html']}", file=out)
