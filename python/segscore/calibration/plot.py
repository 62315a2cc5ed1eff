"""Reliability diagrams (matplotlib, imported only when a plot is drawn).

    ss.plot_reliability(probs, target)                   # bins computed with ss.reliability(**kwargs)
    ss.plot_reliability(ss.reliability(probs, target), path="reliability.png")
    ss.plot_reliability(acc.reliability())               # a streamed ss.Calibration
"""

from __future__ import annotations

import math

import numpy as np

from .functional import Reliability, reliability

__all__ = ["plot_reliability", "reliability_diagram"]


def _from_mapping(d) -> Reliability:
    """A Reliability from bin sums in a mapping: {"count", "correct" | "acc", "sum_confidence" | "conf"}
    (the dataset scorer's layout: "acc" = correct voxels, "conf" = summed confidence per bin)."""
    count = np.asarray(d["count"], dtype=np.float64)
    correct = np.asarray(d["correct"] if "correct" in d else d["acc"], dtype=np.float64)
    sc = np.asarray(d["sum_confidence"] if "sum_confidence" in d else d["conf"], dtype=np.float64)
    n = count.shape[-1]
    edges = np.asarray(d["edges"], dtype=np.float64) if "edges" in d else np.linspace(0.0, 1.0, n + 1)
    return Reliability(edges, count, correct, sc, int(d.get("voxels", count.sum())),
                       d.get("mode", "top-label"), d.get("convention", "segscore"), d.get("classes"))


def plot_reliability(data, target=None, *, ax=None, path=None, title=None, show_counts=True, show_gap=True,
                     **kwargs):
    """Draw a reliability diagram and return the matplotlib Figure.

    ``data`` is a :class:`Reliability`, a mapping of bin sums, or a
    probability map (then ``target`` and ``kwargs`` go to
    :func:`segscore.reliability`).  One stream: bars of the accuracy per bin,
    the gap to the mean confidence (red), the diagonal, and the voxel count per
    bin below (log scale).  Class-wise: one accuracy-vs-confidence line per
    class.  ``path`` saves the figure (any matplotlib format).  Without
    ``ax`` a new ``matplotlib.figure.Figure`` is made (pyplot's state and
    backend are left alone; a notebook displays the returned figure)."""
    from matplotlib.figure import Figure  # no pyplot: no global state, no backend switch

    if isinstance(data, Reliability):
        rel = data
    elif isinstance(data, dict):
        rel = _from_mapping(data)
    else:
        if target is None:
            raise TypeError("plot_reliability(probs, target, ...) needs the target labels")
        rel = reliability(data, target, **kwargs)

    if ax is None:
        if show_counts and rel.count.ndim == 1:
            fig = Figure(figsize=(5, 6))
            ax, axc = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1], "hspace": 0.08})
        else:
            fig = Figure(figsize=(5, 5))
            ax = fig.subplots()
            axc = None
    else:
        fig, axc = ax.figure, None

    ax.plot([0, 1], [0, 1], "--", color="gray", lw=1, label="perfect calibration")
    conf, acc = rel.confidence, rel.accuracy
    edges = np.asarray(rel.edges, dtype=np.float64)
    if rel.count.ndim == 1:
        lo, hi = edges[:-1], edges[1:]
        width = np.where(hi > lo, hi - lo, 0.01)  # a zero-width bin (torchmetrics' p = 1.0) drawn thin
        left = np.where(hi > lo, lo, lo - 0.01)
        ok = rel.count > 0
        ax.bar(left[ok], acc[ok], width=width[ok], align="edge", color="C0", edgecolor="black", lw=0.6,
               label="accuracy")
        if show_gap:
            gap_lo = np.minimum(acc[ok], conf[ok])
            ax.bar(left[ok], np.abs(conf[ok] - acc[ok]), bottom=gap_lo, width=width[ok], align="edge",
                   color="red", alpha=0.3, edgecolor="red", hatch="//", lw=0.6, label="gap to confidence")
        if axc is not None:
            axc.bar(left, rel.count, width=width, align="edge", color="C0", edgecolor="black", lw=0.6)
            if np.any(rel.count > 0):
                axc.set_yscale("log")
            axc.set_xlabel("confidence")
            axc.set_ylabel("voxels")
        else:
            ax.set_xlabel("confidence")
        ece_txt = "ECE"
    else:
        classes = rel.classes or tuple(range(rel.count.shape[0]))
        for i, c in enumerate(classes):
            ok = rel.count[i] > 0
            ax.plot(conf[i][ok], acc[i][ok], "o-", ms=3, lw=1, label=f"class {c}")
        ax.set_xlabel("confidence")
        ece_txt = "class-wise ECE"
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy")
    bins = rel.count.shape[-1]
    e = np.asarray(rel.edges, dtype=np.float64)
    nbins = f"{bins} bins" if not (e.ndim == 1 and e[-1] == e[-2]) else f"{bins - 1} bins + p = 1"
    head = title if title is not None else f"Reliability ({rel.mode}, {rel.convention})"
    try:
        err = rel.ece()
    except ValueError:
        err = math.nan
    ax.set_title(f"{head}\n{ece_txt} = {err:.4f} ({nbins})" if not math.isnan(err) else head, fontsize=10)
    ax.legend(loc="upper left", fontsize=8)
    if path is not None:
        fig.savefig(path, dpi=120, bbox_inches="tight")
    return fig


reliability_diagram = plot_reliability
