"""Reliability diagrams (matplotlib, imported only when a plot is drawn).

    ss.plot_reliability(probs, target)                   # bins computed with ss.reliability(**kwargs)
    ss.plot_reliability(ss.reliability(probs, target), path="reliability.png")
    ss.plot_reliability(acc.reliability())               # a streamed ss.Calibration
"""

from __future__ import annotations

import math

import numpy as np

from .functional import reliability
from .reliability import Reliability

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

    One stream (positive class or top label): bars of the accuracy per bin, the gap to the
    bin's mean confidence (red, hatched), the diagonal of perfect calibration and, below,
    the voxel count per bin (log scale); the title gives the mode, the convention, the ECE
    and the bins.  Class-wise: one accuracy-vs-confidence line per class.  Bins follow the
    convention's rule (see :func:`segscore.ece`), so the diagram and the ECE agree; a
    zero-width p = 1.0 bin (torchmetrics, curvas) is drawn thin.

    Parameters
    ----------
    data : Reliability, mapping or array_like
        A :class:`segscore.Reliability` (from :func:`segscore.reliability` or
        :meth:`segscore.Calibration.reliability`), a mapping of bin sums (``"count"``,
        ``"correct"`` or ``"acc"``, ``"sum_confidence"`` or ``"conf"``, optional ``"edges"``,
        ...: the dataset scorer's layout), or a probability map (then `target` and `kwargs`
        go to :func:`segscore.reliability`).
    target : array_like, optional
        The labels, when `data` is a probability map.
    ax : matplotlib.axes.Axes, optional
        Draw into these axes (no count panel).  None: a new ``matplotlib.figure.Figure``
        (pyplot's state and backend are left alone; a notebook displays the returned
        figure).
    path : str or path-like, optional
        Save the figure there (any matplotlib format, 120 dpi).
    title : str, optional
        The first title line (default: ``"Reliability (<mode>, <convention>)"``).
    show_counts : bool, default True
        The count panel below a single stream.
    show_gap : bool, default True
        The red gap bars.
    **kwargs
        Passed to :func:`segscore.reliability` (``n_bins``, ``convention``,
        ``target_mode``, ...) when `data` is a probability map.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    TypeError
        `data` is a probability map and `target` is missing.
    ImportError
        matplotlib is not installed (``pip install 'segscore[io]'``).

    References
    ----------
    .. [1] Guo, C., Pleiss, G., Sun, Y. & Weinberger, K. Q. (2017). On calibration of modern
        neural networks. ICML 2017, 1321-1330 (reliability diagrams).

    Examples
    --------
    >>> import numpy as np
    >>> import segscore as ss
    >>> p = np.array([0.1, 0.3, 0.6, 0.8, 0.9, 0.95, 0.2, 0.7])
    >>> y = np.array([0, 0, 1, 1, 1, 0, 0, 1])
    >>> fig = ss.plot_reliability(p, y, n_bins=5)
    >>> type(fig).__name__, len(fig.axes)
    ('Figure', 2)
    >>> fig.axes[0].get_title().splitlines()[0]
    'Reliability (positive-class, segscore)'
    >>> rel = ss.reliability(p, y, convention="torchmetrics")
    >>> fig = ss.plot_reliability(rel, show_counts=False, title="torchmetrics bins")
    >>> len(fig.axes), fig.axes[0].get_title().splitlines()[0]
    (1, 'torchmetrics bins')
    """
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
