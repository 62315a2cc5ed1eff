"""`Calibration`: streaming accumulation of the bin sums over many cases (O(bins) memory);
`compute()` equals the one-call functions on the concatenated cases."""

from __future__ import annotations

import math

import numpy as np

from .._core.validate import check_threads
from .conventions import MODES, NORMS, get_convention
from .binning import _check_bins, _check_ignore, _make_setup, _prepare, _stats
from .reliability import Reliability, _arith, _brier_from, _display_edges, _edge_rule

# ---------------------------------------------------------------------------
# streaming


class Calibration:
    """Streaming calibration over a test set: only the per-bin sums are kept (O(bins) memory).

    ``update`` adds a case (or a chunk); ``compute`` returns the metrics the convention
    defines from the accumulated sums, equal to one call on everything (counts exactly,
    float64 sums to rounding, ~1e-15 relative); ``merge`` adds another accumulator's sums (e.g.
    from a worker process); ``reliability`` gives the :class:`Reliability` for a diagram.
    Uniform bins only (equal-mass edges depend on all the data at once).

    Under a convention's reference arithmetic (torchmetrics, monai, curvas without
    ``exact=True``) each bin keeps the library's running float32 sum, which the next update
    continues in element order: the updates give, bit for bit, the one call on their
    concatenation (in update order) -- the sum torchmetrics takes over its concatenated
    states.  ``merge`` cannot replay the other accumulator's elements: it adds the two
    running sums, rounded to their dtype, which equals the concatenation only to that
    rounding (~1e-7 relative in float32).

    Parameters
    ----------
    n_bins : int, optional
        None: the convention's default (segscore 15, torchmetrics 15, monai 20,
        metricsreloaded 10, netcal 10, curvas 50).
    convention : str or CalibrationConvention, default "segscore"
        See :func:`ece` for the rules of each convention.
    class_axis, logits, target_mode, positive_class, ignore_label, include_background, closed, ends, threads, device
        As in :func:`ece`, fixed for every update.
    norm : {"l1", "l2", "max"}, default "l1"
        A norm other than l1 adds ``"ece_<norm>"`` to :meth:`compute`.
    binning : {"uniform"}
        Anything else raises.
    scores : bool, optional
        Also accumulate Brier and NLL sums; None: where the convention defines them.
    exact : bool, default False
        Sum in float64 whatever the convention (see :func:`ece`).

    Raises
    ------
    ValueError
        Invalid options (as :func:`ece`), equal-mass binning, or an update whose number of
        classes or dtype differs from the earlier ones.

    Methods
    -------
    update(probs, target, mask=None)
        Add one case; returns self.
    merge(other)
        Add another accumulator with the same settings; returns self.
    compute()
        ``{"ece", "rmsce", "mce", "ace", "brier", "nll": float, "voxels": int}``, the
        metrics the convention defines.
    reliability()
        The accumulated :class:`Reliability`.
    reset()
        Forget everything.

    See Also
    --------
    ece, reliability : the one-call forms.

    References
    ----------
    .. [1] Naeini, M. P., Cooper, G. F. & Hauskrecht, M. (2015). Obtaining well calibrated
        probabilities using Bayesian binning. AAAI 2015, 2901-2907.
    .. [2] Guo, C., Pleiss, G., Sun, Y. & Weinberger, K. Q. (2017). On calibration of modern neural
        networks. ICML 2017, 1321-1330.
    .. [3] Peers mirrored by name: torchmetrics 1.9 (``binary_/multiclass_calibration_error``),
        MONAI 1.6.1 (``CalibrationErrorMetric``), MetricsReloaded (``CalibrationMeasures``), netcal
        1.4 (Kueppers et al. 2020), the CURVAS 2024 evaluation; see docs/calibration.md.

    Examples
    --------
    >>> import numpy as np
    >>> import segscore as ss
    >>> p = np.array([0.1, 0.3, 0.6, 0.8, 0.9, 0.95, 0.2, 0.7])  # P(class 1)
    >>> y = np.array([0, 0, 1, 1, 1, 0, 0, 1])
    >>> acc = ss.Calibration(n_bins=5)
    >>> acc.update(p[:4], y[:4]).update(p[4:], y[4:])  # doctest: +ELLIPSIS
    Calibration(convention='segscore', n_bins=5, voxels=8, a binary input of dtype float64 ...)
    >>> out = acc.compute()
    >>> sorted(out)
    ['ace', 'brier', 'ece', 'mce', 'nll', 'rmsce', 'voxels']
    >>> abs(out["ece"] - ss.ece(p, y, n_bins=5)) < 1e-12, out["voxels"]  # as one call
    (True, 8)
    >>> tm = ss.Calibration(convention="torchmetrics").update(p, y)
    >>> {k: round(v, 3) for k, v in tm.compute().items()}
    {'ece': 0.319, 'rmsce': 0.41, 'mce': 0.95, 'voxels': 8}
    """

    def __init__(self, n_bins=None, convention="segscore", *, class_axis=0, logits=False, norm="l1",
                 target_mode=None, positive_class=1, ignore_label=None, include_background=True,
                 binning="uniform", closed=None, ends=None, scores=None, threads=None, device=None, exact=False):
        self.conv = _edge_rule(get_convention(convention), closed, ends)
        if binning != "uniform":
            raise ValueError("Calibration accumulates uniform bins only: equal-mass edges depend on all the data; "
                             "call ss.ece(..., binning='equal-mass') on the whole data instead")
        self.n_bins = _check_bins(n_bins, self.conv)
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
        if target_mode is not None and target_mode not in MODES:
            raise ValueError(f"target_mode must be one of {MODES} or None, got {target_mode!r}")
        self.class_axis = class_axis
        self.logits = logits
        self.norm = norm
        self.target_mode = target_mode
        self.positive_class = positive_class
        self.ignore_label = _check_ignore(ignore_label)
        self.include_background = include_background
        self.scores = (self.conv.defines("brier") or self.conv.defines("nll")) if scores is None else bool(scores)
        self.threads = check_threads(threads)
        if not isinstance(exact, bool | np.bool_):
            raise TypeError(f"exact must be True or False, got {exact!r}")
        self.exact = bool(exact)
        from ..gpu import check_device

        self.device = check_device(device)
        self.reset()

    def reset(self) -> None:
        """Forget every accumulated sum (the settings stay).

        Examples
        --------
        >>> import numpy as np
        >>> import segscore as ss
        >>> acc = ss.Calibration().update(np.array([0.2, 0.9]), np.array([0, 1]))
        >>> acc.reset()
        >>> acc
        Calibration(convention='segscore', n_bins=15, voxels=0)
        """
        self._setup = None
        self._count = self._correct = self._sum = None
        self._seq = None  # dtype of the running sums (a reference arithmetic), else None
        self._voxels = self._scored = 0
        self._brier = self._nll = 0.0

    def _config(self):
        return (self.conv, self.n_bins, self.class_axis, self.logits, self.target_mode, self.positive_class,
                self.ignore_label, self.scores, self.exact)

    def update(self, probs, target, mask=None) -> "Calibration":
        """Add one case (or chunk).

        Parameters
        ----------
        probs, target, mask : array_like
            As in :func:`ece`.  Every update must have the same number of classes and
            probability dtype.

        Returns
        -------
        Calibration
            self, so that updates chain.

        Raises
        ------
        ValueError
            The input differs in classes or dtype from the earlier updates, or is invalid (as
            :func:`ece`).

        Examples
        --------
        >>> import numpy as np
        >>> import segscore as ss
        >>> p = np.array([0.1, 0.3, 0.6, 0.8, 0.9, 0.95, 0.2, 0.7])  # P(class 1)
        >>> y = np.array([0, 0, 1, 1, 1, 0, 0, 1])
        >>> acc = ss.Calibration(n_bins=5).update(p, y)
        >>> acc.reliability().count
        array([1, 2, 0, 2, 3])
        """
        inp = _prepare(probs, target, mask, self.class_axis, self.logits, self.device)
        setup = _make_setup(self.conv, inp, self.n_bins, "uniform", self.target_mode, self.positive_class,
                            self.logits, self.exact)
        if self._setup is not None and setup != self._setup:
            raise ValueError(
                f"this update has {self._describe(setup)} but earlier ones had {self._describe(self._setup)}; "
                "every update must have the same number of classes and dtype"
            )
        form = self.conv.brier_form or "auto"
        sum_form = 1 if (form == "sum" and inp.n_classes == 0) else 0
        # a reference arithmetic continues the running sums of the earlier updates (element order)
        seq_init = self._sum if (self._setup is not None and self._seq is not None) else None
        r = _stats(inp, setup, setup.edges, self.ignore_label, self.threads, self.scores, sum_form, seq_init=seq_init)
        if self._setup is None:
            self._setup = setup
            self._seq = r["seq"]
            self._count = np.zeros_like(r["count"])
            self._correct = np.zeros_like(r["correct"])
            self._sum = np.zeros_like(r["sum_conf"])
        self._count += r["count"]
        self._correct += r["correct"]
        if self._seq is not None:
            self._sum = np.asarray(r["sum_conf"], dtype=np.float64)  # continued from seq_init
        else:
            self._sum += r["sum_conf"]
        self._voxels += int(r["voxels"])
        self._scored += int(r["scored"])
        self._brier += float(r["brier_sum"])
        self._nll += float(r["nll_sum"])
        return self

    @staticmethod
    def _describe(s) -> str:
        kind = "a binary input" if s.n_classes == 0 else f"{s.n_classes} classes"
        return f"{kind} of dtype {s.dtype} (target mode {s.mode})"

    def merge(self, other: "Calibration") -> "Calibration":
        """Add the sums of another accumulator with the same settings.

        Parameters
        ----------
        other : Calibration

        Returns
        -------
        Calibration
            self.

        Raises
        ------
        TypeError
            `other` is not a Calibration.
        ValueError
            The settings (convention, n_bins, class_axis, logits, target_mode, positive_class,
            ignore_label, scores) or the inputs' classes / dtype differ.

        Examples
        --------
        >>> import numpy as np
        >>> import segscore as ss
        >>> p = np.array([0.1, 0.3, 0.6, 0.8, 0.9, 0.95, 0.2, 0.7])  # P(class 1)
        >>> y = np.array([0, 0, 1, 1, 1, 0, 0, 1])
        >>> a = ss.Calibration(n_bins=5).update(p[:4], y[:4])
        >>> b = ss.Calibration(n_bins=5).update(p[4:], y[4:])
        >>> abs(a.merge(b).compute()["ece"] - ss.ece(p, y, n_bins=5)) < 1e-12
        True
        """
        if not isinstance(other, Calibration):
            raise TypeError(f"can only merge another Calibration, got {type(other).__name__}")
        if other._config() != self._config():
            raise ValueError("cannot merge accumulators with different settings (convention, n_bins, class_axis, "
                             "logits, target_mode, positive_class, ignore_label, scores)")
        if other._setup is None:
            return self
        if self._setup is None:
            self._setup = other._setup
            self._seq = other._seq
            self._count = other._count.copy()
            self._correct = other._correct.copy()
            self._sum = other._sum.copy()
        else:
            if other._setup != self._setup or other._seq != self._seq:
                raise ValueError(f"cannot merge {self._describe(other._setup)} into {self._describe(self._setup)}")
            self._count += other._count
            self._correct += other._correct
            self._sum += other._sum
            if self._seq is not None:  # the two running sums added in their dtype
                self._sum = self._sum.astype(self._seq).astype(np.float64)
        self._voxels += other._voxels
        self._scored += other._scored
        self._brier += other._brier
        self._nll += other._nll
        return self

    def reliability(self) -> Reliability:
        """The accumulated per-bin statistics, a :class:`Reliability`.

        Returns
        -------
        Reliability
            A snapshot: its arrays are copies, so later ``update`` / ``merge`` calls do not
            change it, and editing them does not change the accumulator.

        Raises
        ------
        ValueError
            Nothing was added yet.

        Examples
        --------
        >>> import numpy as np
        >>> import segscore as ss
        >>> p = np.array([0.1, 0.3, 0.6, 0.8, 0.9, 0.95, 0.2, 0.7])  # P(class 1)
        >>> y = np.array([0, 0, 1, 1, 1, 0, 0, 1])
        >>> r = ss.Calibration(n_bins=5).update(p, y).reliability()
        >>> r.count, round(r.ece(), 3)
        (array([1, 2, 0, 2, 3]), 0.244)
        """
        if self._setup is None:
            raise ValueError("no data: call update() first")
        s = self._setup
        one = s.mode != "class-wise"
        classes = tuple(range(s.classes)) if not one else None
        # copies: a Reliability handed out is a snapshot that later updates (which add into the
        # accumulator's arrays in place) do not change, and whose arrays may be edited freely
        count, correct, sums = (a[0].copy() if one else a.copy() for a in (self._count, self._correct, self._sum))
        return Reliability(_display_edges(s.edges, self._count.shape[1]), count, correct, sums, self._voxels,
                           s.mode, self.conv.name, classes, self._brier, self._nll, self._scored, s.n_classes,
                           **_arith(self.conv, self._seq, s))

    def compute(self) -> dict:
        """The metrics the convention defines, from the accumulated sums.

        Returns
        -------
        dict
            ``"ece"`` (and ``"rmsce"`` where l2 is defined), ``"mce"``, ``"ace"``, ``"brier"``,
            ``"nll"`` where defined (Brier / NLL only with `scores`), ``"ece_<norm>"`` for a
            non-default `norm`, and ``"voxels"``.

        Raises
        ------
        ValueError
            Nothing was added yet.

        Examples
        --------
        >>> import numpy as np
        >>> import segscore as ss
        >>> p = np.array([0.1, 0.3, 0.6, 0.8, 0.9, 0.95, 0.2, 0.7])  # P(class 1)
        >>> y = np.array([0, 0, 1, 1, 1, 0, 0, 1])
        >>> out = ss.Calibration(convention="monai", n_bins=5).update(p, y).compute()
        >>> sorted(out)
        ['ace', 'ece', 'mce', 'voxels']
        """
        rel = self.reliability()
        out = {}
        c = self.conv
        ib = self.include_background
        if c.defines("ece"):
            out["ece"] = rel.ece("l1" if "l1" in c.norms else c.norms[0], include_background=ib)
            if "l2" in c.norms:
                out["rmsce"] = rel.ece("l2", include_background=ib)
        mr_binary = c.name != "metricsreloaded" or rel.mode == "positive-class"
        if c.defines("mce") and mr_binary:
            out["mce"] = rel.mce(include_background=ib)
        if c.defines("ace"):
            out["ace"] = rel.ace(include_background=ib)
        if self.scores and c.defines("brier"):
            out["brier"] = _brier_from(rel, c.brier_form or "auto")
        if self.scores and c.defines("nll"):
            out["nll"] = float(rel.nll_sum / rel.scored) if rel.scored else math.nan
        if self.norm != "l1" and c.defines("ece") and self.norm in c.norms:
            out[f"ece_{self.norm}"] = rel.ece(self.norm, include_background=ib)
        out["voxels"] = rel.voxels
        return out

    def __repr__(self) -> str:
        return (f"Calibration(convention={self.conv.name!r}, n_bins={self.n_bins}, voxels={self._voxels}"
                f"{'' if self._setup is None else ', ' + self._describe(self._setup)})")
