"""A short Markdown and HTML report of a scored dataset: what was run, where the time went,
the per-label summary, failed cases, worst cases and the plots."""

from __future__ import annotations

import html
import math
import os

from ..metrics import registry as _registry

# the metrics of the summary table (the metric registry's headline; nsd covers nsd@<mm>)
HEADLINE = tuple(m.name for m in _registry.METRICS if m.headline)


def _fmt(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return f"{v:.4g}"
    return str(v)


def _md_table(headers, rows) -> str:
    esc = lambda s: str(s).replace("|", "\\|").replace("\n", " ")  # noqa: E731
    out = ["| " + " | ".join(esc(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(esc(_fmt(v)) for v in r) + " |" for r in rows]
    return "\n".join(out)


def _html_table(headers, rows) -> str:
    h = "".join(f"<th>{html.escape(str(x))}</th>" for x in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{h}</tr></thead><tbody>{body}</tbody></table>"


def _is_headline(col) -> bool:
    m = _registry.column(str(col))
    return m is not None and m.headline


def _headline(summary):
    if not len(summary):
        return [], []
    s = summary
    if "reference" in s.columns:
        s = s[s["reference"] == "ref"]
    keep = s[s["metric"].map(_is_headline)]
    headers = ["label", "metric", "n", "mean", "95% CI", "median", "IQR", "NaN", "inf"]
    rows = []
    for _, r in keep.iterrows():
        ci = f"[{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}]"
        rows.append([r["label"], r["metric"], r["n"], r["mean"], ci, r["median"], r["iqr"], r["n_nan"], r["n_inf"]])
    return headers, rows


def sections(paths, table, summary, errors, info, timing, plot_files):
    from .plots import worst_cases

    n_ok = info.get("n_scored", 0)
    wall = timing.get("wall_s", 0.0)
    intro = [
        ("cases", f"{info.get('n_cases', 0)} found, {n_ok} scored, {info.get('n_failed', 0)} failed"
         + (" (interrupted: run again with --resume)" if info.get("interrupted") else "")),
        ("prediction", info.get("pred")), ("reference", info.get("ref")),
        ("raters", ", ".join(f"{k} ({v})" for k, v in info.get("raters", {}).items()) or "none"),
        ("probabilities", info.get("probs") or "none"),
        ("convention", info.get("convention")), ("device", info.get("device")),
        ("execution", f"{info.get('mode')} ({info.get('workers')} workers), gzip decoder {info.get('decompressor')}"),
        ("time", f"{wall:.2f} s wall" + (f", {timing.get('cases_timed', 0) / wall:.2f} cases/s" if wall > 0 else "")
         + f"; summed over cases: read {timing.get('read_s', 0):.2f} s, decode {timing.get('decode_s', 0):.2f} s, "
         f"compute {timing.get('compute_s', 0):.2f} s; journal writes {timing.get('write_s', 0):.2f} s"),
        ("bootstrap", f"{info.get('n_bootstrap')} resamples, seed {info.get('seed')}"),
        ("files", f"table {os.path.basename(paths['table'])}, summary {os.path.basename(paths['summary'])}, "
         f"errors {os.path.basename(paths['errors'])}"),
    ]
    err_rows = [[r["case"], r["stage"], r["reason"]] for _, r in errors.iterrows()]
    worst = worst_cases(table, 5) if len(table) else {}
    return intro, _headline(summary), err_rows, worst


def lesion_tables(lesion):
    """(aggregate headers, rows, worst-lesion headers, rows, FROC lines) of a lesion-wise run."""
    from .lesions import REPORT_KEYS, worst_lesions

    agg = lesion.get("aggregate") or {}
    keys = [k for k in (*REPORT_KEYS, "error") if any(k in a for a in agg.values())]
    ah = ["region", *keys]
    ar = [[region, *[a.get(k) for k in keys]] for region, a in agg.items()]
    wh, wr = [], []
    les = lesion.get("lesions")
    if les is not None and len(les):
        w = worst_lesions(les, 10)
        wh, wr = list(w.columns), w.values.tolist()
    froc = []
    f = lesion.get("froc")
    if f is not None:
        if "error" in f:
            froc.append(f"FROC ({f['convention']}) not computed: {f['error']}")
        else:
            ci = f.get("score_ci")
            froc.append(f"FROC ({f['convention']}): score {_fmt(f['score'])}"
                        + (f" ({100 * f['ci']:.0f}% CI [{_fmt(ci[0])}, {_fmt(ci[1])}], bootstrap over cases)"
                           if ci else "")
                        + f"; {f['num_targets']} targets, {f['num_fp']} false-positive detections, "
                        f"{f['num_images']} images")
            froc.append("sensitivity at " + ", ".join(f"{_fmt(r)} FP/image: {_fmt(v)}"
                                                      for r, v in zip(f["fp_rates"], f["sensitivity_at"])))
    return ah, ar, wh, wr, froc


_LESION_NOTE = ("Pooled over cases: recall, precision and F1 from the summed lesion counts; dsc_tp = mean Dice over "
                "every true-positive lesion; fp_per_case = false positives / cases; patient_recall = cases with a "
                "found lesion / cases with a lesion; pq = pooled panoptic quality; mean_* = mean of the case scores "
                "(BraTS ranks by mean_lesion_dice and mean_lesion_hd95).")


def write_report(paths, table, summary, errors, info, timing, plot_files, lesion=None) -> None:
    intro, (hh, hr), err_rows, worst = sections(paths, table, summary, errors, info, timing, plot_files)
    les = lesion_tables(lesion) if lesion else None
    rel = lambda p: os.path.relpath(p, paths["dir"])  # noqa: E731
    # ---------------------------------------------------------------- Markdown
    md = ["# segscore report", ""]
    md += [f"- **{k}**: {v}" for k, v in intro]
    md += ["", "## Summary per label", "",
           "Mean over cases with a defined value (NaN = undefined under the empty-mask policy, left out and "
           "counted); inf values count and make the mean inf. 95% CI: percentile bootstrap of the mean.", ""]
    md += [_md_table(hh, hr) if hr else "_no cases scored_", ""]
    md += ["## Failed cases", ""]
    md += [_md_table(["case", "stage", "reason"], err_rows) if err_rows else "none", ""]
    if worst:
        md += ["## Worst cases", ""]
        for m, df in worst.items():
            md += [f"**{m}**", "", _md_table(["case", "label", m], df.values.tolist()), ""]
    if les is not None:
        ah, ar, wh, wr, froc = les
        md += ["## Lesion-wise", ""]
        if ar:
            md += [f"Convention **{lesion['convention']}**"
                   + (f", options {lesion['options']}" if lesion.get("options") else "") + ". " + _LESION_NOTE, "",
                   _md_table(ah, ar), ""]
        if wr:
            md += ["**Worst lesions** (missed lesions, largest first, then the lowest Dice)", "", _md_table(wh, wr), ""]
        md += [line + "\n" for line in froc]
        if "froc" in plot_files:
            md += [f"![froc]({rel(plot_files['froc'])})", ""]
    if plot_files:
        md += ["## Plots", ""]
        for name, p in plot_files.items():
            if name == "froc" and les is not None:
                continue  # in the lesion-wise section
            md += [f"![{name}]({rel(p)})", ""]
    text = "\n".join(md) + "\n"
    _write(paths["report_md"], text)
    # ---------------------------------------------------------------- HTML
    e = html.escape
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>segscore report</title><style>",
             "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
             "table{border-collapse:collapse;margin:1em 0;font-size:0.9em}"
             "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}th{background:#eee}"
             "img{max-width:100%;margin:0.5em 0}",
             "</style></head><body><h1>segscore report</h1><ul>"]
    parts += [f"<li><b>{e(k)}</b>: {e(str(v))}</li>" for k, v in intro]
    parts += ["</ul><h2>Summary per label</h2>", _html_table(hh, hr) if hr else "<p>no cases scored</p>",
              "<h2>Failed cases</h2>", _html_table(["case", "stage", "reason"], err_rows) if err_rows else "<p>none</p>"]
    if worst:
        parts.append("<h2>Worst cases</h2>")
        for m, df in worst.items():
            parts += [f"<h3>{e(m)}</h3>", _html_table(["case", "label", m], df.values.tolist())]
    if les is not None:
        ah, ar, wh, wr, froc = les
        parts.append("<h2>Lesion-wise</h2>")
        if ar:
            parts += [f"<p>Convention <b>{e(lesion['convention'])}</b>"
                      + (f", options {e(str(lesion['options']))}" if lesion.get("options") else "")
                      + f". {e(_LESION_NOTE)}</p>", _html_table(ah, ar)]
        if wr:
            parts += ["<h3>Worst lesions</h3>", _html_table(wh, wr)]
        parts += [f"<p>{e(line)}</p>" for line in froc]
        if "froc" in plot_files:
            parts.append(f"<div><img src='{e(rel(plot_files['froc']))}' alt='froc'></div>")
    if plot_files:
        parts.append("<h2>Plots</h2>")
        for name, p in plot_files.items():
            if name == "froc" and les is not None:
                continue
            parts.append(f"<div><img src='{e(rel(p))}' alt='{e(name)}'></div>")
    parts.append("</body></html>")
    _write(paths["report_html"], "\n".join(parts))


def _write(path, text):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)
