"""Plots of a scored dataset, saved as PNG (matplotlib's object API: no pyplot state, no display).

- ``box_plots``: one figure per metric, one box per label (NaN and inf left out and counted
  in the title, since a box cannot show them);
- ``reliability_diagram``: accuracy against confidence per bin, with the bin counts, from the
  calibration bin sums summed over cases (reuses segscore.calibration.functional's plotting function
  when that module provides one);
- ``worst_cases``: the worst (case, label) pairs for the headline metrics, as a table figure.
"""

from __future__ import annotations

import math
import os

import numpy as np

from ..metrics import registry as _registry

# from the metric registry (a parameterised metric, e.g. nsd, covers its columns nsd@<mm>)
HIGHER_IS_BETTER = frozenset(m.name for m in _registry.METRICS if m.higher_is_better is True)
LOWER_IS_BETTER = frozenset(m.name for m in _registry.METRICS if m.higher_is_better is False)
# the worst-case tables, in order
WORST_CASES = tuple(m.name for m in sorted((m for m in _registry.METRICS if m.worst_rank is not None),
                                           key=lambda m: m.worst_rank))


def _figure(w=8.0, h=4.5):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path):
    tmp = path + ".tmp.png"
    fig.savefig(tmp, bbox_inches="tight")
    os.replace(tmp, path)
    return path


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name.replace("@", "_at_"))


def _axis_label(col: str) -> str:
    """The column with its unit from the metric registry, unless its name says it (vol_*_ml)."""
    unit = _registry.unit(col)
    return col + (f" ({unit})" if unit and unit.lower() not in col.lower() else "")


def box_plots(table, outdir: str) -> dict:
    """{metric: png path}: per-label box plots of every metric (reference rows only)."""
    t = table[table["reference"] == "ref"] if "reference" in table.columns else table
    skip = {"case", "reference", "label", *_registry.COUNT_COLUMNS,
            *(m.name for m in _registry.select(kind=_registry.LESION) if m.higher_is_better is None)}
    out = {}
    labels = list(dict.fromkeys(t["label"].tolist()))
    for m in [c for c in t.columns if c not in skip]:
        data, nan, inf = [], 0, 0
        for lab in labels:
            x = t.loc[t["label"] == lab, m].to_numpy(dtype=np.float64)
            nan += int(np.isnan(x).sum())
            inf += int(np.isinf(x).sum())
            data.append(x[np.isfinite(x)])
        if not any(len(d) for d in data):
            continue
        fig = _figure(max(5.0, 0.6 * len(labels) + 2), 4.0)
        ax = fig.add_subplot(111)
        ax.boxplot(data, showfliers=True)
        ax.set_xticks(range(1, len(labels) + 1))
        tilt = len(labels) > 8 or sum(len(str(v)) for v in labels) > 6 * len(labels)
        ax.set_xticklabels([str(v) for v in labels], rotation=35 if tilt else 0, ha="right" if tilt else "center")
        ax.set_xlabel("label")
        ax.set_ylabel(_axis_label(m))
        note = []
        if nan:
            note.append(f"{nan} NaN")
        if inf:
            note.append(f"{inf} inf")
        ax.set_title(f"{m} per label" + (f"  (not shown: {', '.join(note)})" if note else ""))
        ax.grid(axis="y", alpha=0.3)
        out[m] = _save(fig, os.path.join(outdir, f"box_{_safe(m)}.png"))
    return out


def merge_reliability(extras: dict):
    """Sum the per-case reliability bins (in case order: the sums are reproducible)."""
    tot = None
    for case in extras:
        r = extras[case].get("reliability")
        if not r:
            continue
        if tot is None:
            tot = {k: np.zeros(len(r["count"])) for k in ("count", "conf", "acc")}
            if "edges" in r:
                tot["edges"] = np.asarray(r["edges"], dtype=np.float64)
        for k in ("count", "conf", "acc"):
            tot[k] += np.asarray(r[k], dtype=np.float64)
    return tot


def reliability_diagram(bins: dict, path: str, title: str = "Reliability (top label, all voxels)") -> str:
    """Plot accuracy vs confidence from bin sums {"count", "conf", "acc"}."""
    count = np.asarray(bins["count"], dtype=np.float64)
    n_bins = len(count)
    with np.errstate(invalid="ignore", divide="ignore"):
        conf = np.asarray(bins["conf"]) / count
        acc = np.asarray(bins["acc"]) / count
    edges = np.linspace(0, 1, n_bins + 1)
    centers = (edges[:-1] + edges[1:]) / 2
    nz = count > 0
    ece = float(np.sum(np.abs(np.asarray(bins["acc"]) - np.asarray(bins["conf"]))[nz]) / count.sum()) if count.sum() else math.nan
    fig = _figure(5.5, 6.5)
    ax = fig.add_axes([0.12, 0.35, 0.83, 0.58])
    ax.plot([0, 1], [0, 1], "--", color="gray", lw=1, label="perfect calibration")
    ax.bar(centers[nz], acc[nz], width=1 / n_bins, edgecolor="black", alpha=0.7, label="accuracy")
    ax.plot(conf[nz], acc[nz], "o-", color="C3", ms=3, lw=1, label="mean confidence")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy")
    ax.set_title(f"{title}\nECE = {ece:.4f} ({n_bins} bins)")
    ax.legend(loc="upper left", fontsize=8)
    ax2 = fig.add_axes([0.12, 0.08, 0.83, 0.2], sharex=ax)
    ax2.bar(centers, count, width=1 / n_bins, color="C0", edgecolor="black")
    ax2.set_yscale("log")
    ax2.set_xlabel("confidence")
    ax2.set_ylabel("voxels")
    return _save(fig, path)


def _calibration_plotter():
    """The calibration module's reliability-diagram function (segscore.calibration.plot), if present."""
    try:
        from ..calibration.plot import plot_reliability
    except Exception:
        return None
    return plot_reliability


def worst_cases(table, n: int = 10) -> dict:
    """{metric: DataFrame of the n worst (case, label) rows} for the registry's worst-case
    metrics (WORST_CASES: dice, nsd, hd95, hd, assd; those in the table), the first column of each."""
    t = table[table["reference"] == "ref"] if "reference" in table.columns else table
    out = {}
    for m in WORST_CASES:
        entry = _registry.get(m)
        cols = [c for c in t.columns if _registry.column(c) is entry]
        for c in cols[:1]:
            x = t[["case", "label", c]].copy()
            x = x[~x[c].isna()]
            if not len(x):
                continue
            asc = bool(_registry.higher_is_better(c))
            x = x.sort_values([c, "case"], ascending=[asc, True], kind="mergesort").head(n)
            out[c] = x.reset_index(drop=True)
    return out


def worst_cases_figure(worst: dict, path: str) -> str | None:
    if not worst:
        return None
    k = len(worst)
    nrow = max(len(v) for v in worst.values())
    fig = _figure(4.2 * k, 0.24 * nrow + 0.5)
    for i, (m, df) in enumerate(worst.items()):
        ax = fig.add_subplot(1, k, i + 1)
        ax.axis("off")
        cells = [[str(r["case"]), str(r["label"]), f"{r[m]:.4g}"] for _, r in df.iterrows()]
        tab = ax.table(cellText=cells, colLabels=["case", "label", m], loc="upper center", cellLoc="left")
        tab.auto_set_font_size(False)
        tab.set_fontsize(8)
        ax.set_title(f"worst {m}", fontsize=10)
    return _save(fig, path)


def froc_plot(doc: dict, path: str) -> str | None:
    """The FROC curve (sensitivity against false positives per image, log axis) of a froc.json
    document, with the sensitivity at the score's rates marked."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return None
    fps = np.asarray(doc["fps_per_image"], np.float64)
    sens = np.asarray(doc["sensitivity"], np.float64)
    order = np.argsort(fps, kind="stable")
    fig = _figure(6.0, 4.5)
    ax = fig.add_subplot(111)
    ax.step(fps[order], sens[order], where="post", color="C0", lw=1.5, label="FROC")
    rates = np.asarray(doc["fp_rates"], np.float64)
    ax.plot(rates, doc["sensitivity_at"], "o", color="C3", ms=4, label="sensitivity at the score's rates")
    pos = np.concatenate([fps[fps > 0], rates[rates > 0]])
    if pos.size:
        ax.set_xscale("log")
        ax.set_xlim(min(pos.min(), rates[rates > 0].min() if (rates > 0).any() else pos.min()) / 1.5, pos.max() * 1.5)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("false positives per image")
    ax.set_ylabel("sensitivity")
    ci = doc.get("score_ci")
    ci_s = f", {100 * doc.get('ci', 0.95):.0f}% CI [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else ""
    ax.set_title(f"FROC ({doc['convention']}): score {doc['score']:.4f}{ci_s}\n"
                 f"{doc['num_targets']} targets, {doc['num_images']} images", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, path)


def make_plots(table, summary, extras: dict, outdir: str) -> dict:
    """Write every plot into `outdir`; returns {name: path}."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return {}
    os.makedirs(outdir, exist_ok=True)
    files = {}
    if len(table):
        for m, p in box_plots(table, outdir).items():
            files[f"box:{m}"] = p
        wc = worst_cases(table)
        p = worst_cases_figure(wc, os.path.join(outdir, "worst_cases.png"))
        if p:
            files["worst_cases"] = p
    bins = merge_reliability(extras)
    if bins is not None and bins["count"].sum() > 0:
        path = os.path.join(outdir, "reliability.png")
        other = _calibration_plotter()
        if other is not None:
            import matplotlib.pyplot as plt

            fig = other({k: v.tolist() for k, v in bins.items()}, path=path,
                        title="Reliability (top label, all voxels, all cases)")
            plt.close(fig)
        else:
            reliability_diagram(bins, path)
        files["reliability"] = path
    return files
