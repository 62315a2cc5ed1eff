"""One binning pass over a case: input preparation and dispatch, the binning setup, the C++ or
GPU pass that gathers every bin's count, correct count and confidence sum, and the checks on
its results (invalid values, labels, class sums)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from .._core.backends import cpu
from .._core.validate import as_host_array
from .conventions import BINNINGS, CalibrationConvention, MODES, TABLE, _MODE_CODE, _OUTSIDE_CODE
from .edges import _candidate, _edges

# ---------------------------------------------------------------------------
# input handling


@dataclass
class _Input:
    probs: np.ndarray
    target: np.ndarray
    mask: np.ndarray | None
    class_axis: int      # -1: binary input
    n_classes: int       # 0: binary input
    dtype: np.dtype
    gpu: bool = False    # probs/target/mask are DeviceArrays (segscore.gpu)
    host: tuple | None = None  # GPU path of host inputs uploaded for device=: the host arrays


def _located(probs, target, mask, device) -> tuple:
    """(probs, target, mask, on_gpu, host): numpy arrays for the CPU path, DeviceArrays for the
    GPU path (GPU inputs, or device='cuda'/'cupy'); device='cpu' copies GPU inputs to the host.
    `host`: the host arrays of inputs uploaded for device= (else None), so that a pass that
    runs on the host anyway (`_on_host`) does not copy them back."""
    from .. import gpu as _gpu

    arrays = [probs, target] + ([mask] if mask is not None else [])
    devs = _gpu.prepare(arrays, ["probs", "target", "mask"][:len(arrays)], device)
    if devs is not None:
        host = None
        if devs[0].uploaded:
            host = (as_host_array(probs, "probs"), as_host_array(target, "target"),
                    None if mask is None else as_host_array(mask, "mask"))
        return devs[0], devs[1], devs[2] if mask is not None else None, True, host
    m = None if mask is None else as_host_array(mask, "mask")
    # no copy for another memory layout: the C++ pass walks (and sums) in logical C order
    return as_host_array(probs, "probs"), as_host_array(target, "target"), m, False, None


def _on_host(inp: _Input) -> _Input:
    """The host pass's input for a GPU input: one copy of each array (none for host arrays
    uploaded for device=)."""
    if not inp.gpu:
        return inp
    if inp.host is not None:
        p, t, m = inp.host
    else:
        from ..gpu import to_host

        p, t = to_host(inp.probs), to_host(inp.target)
        m = None if inp.mask is None else to_host(inp.mask)
    return replace(inp, probs=p, target=t, mask=m, gpu=False, host=None)


def _prepare(probs, target, mask, class_axis, logits, device=None) -> _Input:
    p, t, m, gpu, host = _located(probs, target, mask, device)
    if p.dtype.kind != "f" or p.dtype.itemsize not in (2, 4, 8):
        what = "logits" if logits else "probabilities"
        raise TypeError(
            f"probs has dtype {p.dtype}; pass floating-point {what} (float16, float32 or float64)"
            + ("" if logits else ", or logits with logits=True")
        )
    if t.dtype.kind not in "biu":
        hint = " (e.g. target.astype(np.int64))" if t.dtype.kind == "f" else ""
        raise TypeError(
            f"target has dtype {t.dtype}; it must hold integer class labels in [0, C) (or bool for a binary "
            f"task){hint}"
        )
    if m is not None:
        if m.dtype.kind not in "biu":
            raise TypeError(f"mask has dtype {m.dtype}; pass a bool (or integer) array, nonzero = counted")
        if m.shape != t.shape:
            raise ValueError(f"mask has shape {m.shape} but target has shape {t.shape}; they must match")
    if p.shape == t.shape:
        return _Input(p, t, m, -1, 0, p.dtype, gpu, host)
    if p.ndim == t.ndim + 1:
        if isinstance(class_axis, bool) or not isinstance(class_axis, int | np.integer):
            raise TypeError(f"class_axis must be an integer axis of probs, got {class_axis!r}")
        ax = int(class_axis)
        if not -p.ndim <= ax < p.ndim:
            raise ValueError(f"class_axis={class_axis} is out of range for probs with {p.ndim} axes")
        ax %= p.ndim
        spatial = p.shape[:ax] + p.shape[ax + 1:]
        if spatial != t.shape:
            raise ValueError(
                f"probs has shape {p.shape} and target has shape {t.shape}: with class_axis={class_axis} the "
                f"spatial shape of probs is {spatial}, which does not match. Classes go on class_axis "
                f"(default 0, i.e. probs shaped (C, *spatial)); pass class_axis= for another layout"
            )
        c = p.shape[ax]
        if c == 0:
            raise ValueError(f"probs has an empty class axis (shape {p.shape}, class_axis={class_axis}); pass at least "
                             "two classes, or P(class 1) shaped like target")
        if c == 1:
            raise ValueError(
                f"probs has a single class channel (shape {p.shape}, class_axis={class_axis}); for a binary task "
                "pass P(class 1) shaped like target (e.g. probs[0]), or both classes"
            )
        return _Input(p, t, m, ax, c, p.dtype, gpu, host)
    if t.ndim == p.ndim + 1:
        raise ValueError(
            f"target has shape {t.shape} and probs {p.shape}: target has the extra axis. target must hold "
            "integer labels shaped like the spatial axes (argmax a one-hot target over its class axis)"
        )
    raise ValueError(
        f"probs has shape {p.shape} and target has shape {t.shape}; probs must either have target's shape "
        "(binary: P(class 1)) or one extra class axis at class_axis (default 0, i.e. (C, *spatial)). "
        "segscore never guesses a batch axis: pass one case at a time"
    )


def _resolve_mode(conv: CalibrationConvention, inp: _Input, target_mode) -> str:
    if target_mode is None:
        if inp.n_classes == 0:
            return conv.binary_mode
        return conv.two_class_mode if inp.n_classes == 2 else conv.multiclass_mode
    if target_mode not in MODES:
        raise ValueError(f"target_mode must be one of {MODES} (or None for the convention's default), "
                         f"got {target_mode!r}")
    return target_mode


def _check_bins(n_bins, conv) -> int:
    if n_bins is None:
        return conv.n_bins
    if isinstance(n_bins, bool) or not isinstance(n_bins, int | np.integer) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer (or None for the convention's default), got {n_bins!r}")
    return int(n_bins)


@dataclass(frozen=True)
class _Setup:
    """Everything that fixes the binning of one configuration."""

    conv: CalibrationConvention
    n_bins: int
    binning: str
    mode: str
    positive: int
    logits: bool
    n_classes: int
    dtype: np.dtype
    edges: np.ndarray | None = field(default=None, compare=False)
    exact: bool = False  # float64 sums whatever the convention's arithmetic

    @property
    def classes(self) -> int:
        return 2 if self.n_classes == 0 else self.n_classes

    def sum_dtype(self) -> np.dtype | None:
        """dtype of the convention's running bin sums (its reference arithmetic), or None for
        segscore's float64 sums (the segscore convention, ``exact=True``).
        torchmetrics sums in the confidences' dtype, except float16 (a binary float16 input):
        torch's CPU ``scatter_add_`` accumulates a Half tensor's bins in float32 and rounds
        them once to float16, so the running sums are float32 and `bin_dtype` is float16."""
        arith = self.conv.arithmetic
        if self.exact or arith == "float64" or self.binning != "uniform":
            return None
        if arith == "monai":
            return np.dtype(np.float32)
        dt = _conf_dtype(self.conv, self.n_classes, self.dtype)
        return np.dtype(np.float64) if dt == np.float64 else np.dtype(np.float32)

    def bin_dtype(self) -> np.dtype | None:
        """dtype of the library's bin tensors and of its per-bin formula (None: float64
        formulas): `sum_dtype`, except float16 for torchmetrics' float16 binary input."""
        sdt = self.sum_dtype()
        if sdt is not None and self.conv.arithmetic == "torchmetrics" and \
                _conf_dtype(self.conv, self.n_classes, self.dtype) == np.float16:
            return np.dtype(np.float16)
        return sdt

    def kernel_kwargs(self) -> dict:
        conv = self.conv
        r = int(conv.round_f32 == "always" or (conv.round_f32 == "multiclass" and self.n_classes > 0))
        if conv.edge_dtype == "confidence" and self.logits and self.dtype == np.float32:
            r = 1  # torchmetrics' sigmoid of float32 logits is a float32 tensor
        if conv.edge_dtype == "confidence" and self.logits and self.dtype == np.float16 and not r:
            r = 2  # ... and of float16 logits a float16 tensor, computed in float32 (calibration.h)
        clip, lo, hi = False, 0.0, 1.0
        if conv.clip_eps:
            eps = np.finfo(self.dtype).eps
            clip, lo, hi = True, float(eps), float(self.dtype.type(1) - eps)
        return dict(n_classes=self.n_classes, logits=self.logits, mode=_MODE_CODE[self.mode],
                    positive=self.positive, round_f32=r, clip=clip, clip_lo=lo, clip_hi=hi)


def _conf_dtype(conv: CalibrationConvention, n_classes: int, dtype) -> np.dtype:
    """dtype of the confidences whose linspace torchmetrics bins with."""
    if conv.round_f32 == "always" or (conv.round_f32 == "multiclass" and n_classes > 0):
        return np.dtype(np.float32)
    return np.dtype(dtype)


def _check_option(conv: CalibrationConvention, name: str, value, known: tuple, attr: str) -> None:
    """`value` of option `name` is one of `known` and one the convention defines (its `attr`)."""
    if value not in known:
        raise ValueError(f"{name} must be one of {known}, got {value!r}")
    if value not in getattr(conv, attr):
        have = TABLE.names(lambda c: value in getattr(c, attr))
        raise ValueError(f"convention {conv.name!r} ({conv.peer}) has no {value!r} {name}; conventions with it: "
                         f"{have}")


def _make_setup(conv, inp: _Input, n_bins, binning, target_mode, positive_class, logits, exact=False) -> _Setup:
    n = _check_bins(n_bins, conv)
    _check_option(conv, "binning", binning, BINNINGS, "binnings")
    mode = _resolve_mode(conv, inp, target_mode)
    if isinstance(positive_class, bool) or not isinstance(positive_class, int | np.integer):
        raise TypeError(f"positive_class must be an integer class index, got {positive_class!r}")
    c = 2 if inp.n_classes == 0 else inp.n_classes
    if mode == "positive-class" and not 0 <= positive_class < c:
        raise ValueError(f"positive_class={positive_class} is not a class of a {c}-class input")
    if not isinstance(logits, bool | np.bool_):
        raise TypeError(f"logits must be True or False, got {logits!r}")
    if not isinstance(exact, bool | np.bool_):
        raise TypeError(f"exact must be True or False, got {exact!r}")
    s = _Setup(conv, n, binning, mode, int(positive_class), bool(logits), inp.n_classes, np.dtype(inp.dtype),
               exact=bool(exact))
    if binning == "uniform":
        s = replace(s, edges=_edges(conv, n, _conf_dtype(conv, inp.n_classes, inp.dtype)))
    return s


def _raise_invalid(inp: _Input, logits: bool, n_invalid: int) -> None:
    p, mask = inp.probs, inp.mask
    if inp.gpu:  # the error path: look at the values on the host
        from ..gpu import to_host

        p = to_host(p)
        mask = None if mask is None else to_host(mask)
    if mask is not None:
        m = mask.astype(bool, copy=False)
        p = (np.moveaxis(p, inp.class_axis, 0)[:, m] if inp.class_axis >= 0 else p[m])
    p = np.asarray(p, dtype=np.float64)
    nan = int(np.count_nonzero(np.isnan(p)))
    if logits:
        inf = int(np.count_nonzero(np.isinf(p)))
        raise ValueError(f"logits must be finite: found {nan} NaN and {inf} infinite values in probs")
    finite = p[~np.isnan(p)]
    out = int(np.count_nonzero((finite < 0) | (finite > 1)))
    parts = []
    if nan:
        parts.append(f"{nan} NaN value{'s' if nan != 1 else ''}")
    if out:
        parts.append(f"{out} value{'s' if out != 1 else ''} outside [0, 1] (min {finite.min():g}, max "
                     f"{finite.max():g})")
    what = " and ".join(parts) if parts else f"{n_invalid} invalid values"
    raise ValueError(f"probs contains {what}; probabilities must lie in [0, 1]. If these are logits, pass "
                     "logits=True (segscore never guesses)")


def _check_labels(setup: _Setup, tmin: int, tmax: int, ignore_label) -> None:
    c = setup.classes
    if tmin < 0 or tmax >= c:
        kind = "a binary task takes labels 0 and 1 (or bool)" if setup.n_classes == 0 else \
            f"probs has {c} classes on its class axis"
        hint = "" if ignore_label is not None else "; use ignore_label= or mask= to skip unlabelled voxels"
        raise ValueError(f"target holds labels in [{tmin}, {tmax}] but must hold integer labels in [0, {c}): "
                         f"{kind}{hint}")


def _call(inp: _Input, op: str, kw: dict) -> dict:
    """segscore._cpu.<op>, or its GPU twin in segscore.gpu.score_ops (the same keywords),
    called by keyword."""
    if inp.gpu:
        from ..gpu import score_ops

        return getattr(score_ops, op)(**kw)
    return getattr(cpu(), op)(**kw)


def _stats(inp: _Input, setup: _Setup, edges, ignore_label, threads, scores=False, brier_sum_form=0,
           seq_init=None) -> dict:
    """The C++ (or GPU) pass.  Under a convention's reference arithmetic (setup.sum_dtype()) the
    sums are running sums in that dtype in element order, continuing from `seq_init` (the flat
    streams * slots sums of an earlier update), and r["seq"] holds the dtype; else None.

    What a GPU input costs: under segscore's float64 sums (the segscore, metricsreloaded and
    netcal conventions, ``exact=True``, equal-mass bins) one device pass and one small copy
    back (the reduced histogram and counters).  Under a reference arithmetic the library's CPU
    order is the only one there is to reproduce (torch's CUDA scatter_add_ adds with atomics in
    no fixed order), and it is a serial replay on the host: the inputs are copied to the host
    once (probs, target, mask; nothing for host inputs uploaded for device=) and the host pass
    gives everything -- counts, running sums, label range, invalid values, row sums -- with no
    device launch.  (The alternative, a device pass that writes each element's slot and
    confidence for the host to replay, moves 6-12 bytes per binned value and per stream
    against the input's bytes per voxel, C * itemsize + the label's: less only for top-label
    input with many classes, more for binary and class-wise input, and it adds a launch.)"""
    if inp.gpu and setup.sum_dtype() is not None:
        inp = _on_host(inp)
    edges = np.ascontiguousarray(edges, dtype=np.float64)
    conv = setup.conv
    off, scale, tol = _candidate(edges)
    sdt = setup.sum_dtype()
    seq = {} if sdt is None else dict(
        seq_bits=8 * sdt.itemsize,
        seq_init=None if seq_init is None else np.ascontiguousarray(seq_init, dtype=np.float64).ravel())
    r = _call(inp, "calibration_stats", dict(
        probs=inp.probs, target=inp.target, mask=inp.mask, class_axis=inp.class_axis, ignore_label=ignore_label,
        edges=edges, right_closed=int(conv.right_closed), below=_OUTSIDE_CODE[conv.below],
        above=_OUTSIDE_CODE[conv.above], cand_offset=off, cand_scale=scale, cand_tol=tol,
        exact_floor=conv.edges == "exact" and setup.binning == "uniform" and not conv.right_closed,
        **setup.kernel_kwargs(), want_scores=scores, brier_sum_form=brier_sum_form, threads=threads, **seq))
    r["seq"] = sdt
    if r["invalid"]:
        _raise_invalid(inp, setup.logits, r["invalid"])
    _check_labels(setup, r["target_min"], r["target_max"], ignore_label)
    if conv.check_row_sums and inp.n_classes and not setup.logits and setup.mode != "class-wise":
        _check_row_sums(inp, ignore_label, conv.row_sum_tol)
    return r


# |sum over classes - 1| allowed per voxel: rounding of a softmax stored in the input's dtype is
# far below this; an input that is not one probability per class (sigmoid channels, scores) is
# far above it.
ROW_SUM_TOL = {2: 1e-2, 4: 1e-3, 8: 1e-3}
_ROW_CHUNK = 1 << 22  # elements summed per step on the host (bounded temporaries)


def _check_row_sums(inp: _Input, ignore_label, tol=None) -> None:
    """Refuse a (C, ...) input whose class probabilities do not sum to 1 at some counted
    voxel (masked-out and ignore_label voxels are not looked at).  `tol`: the allowed
    |sum - 1| (a convention's ``row_sum_tol``, e.g. wider for maps stored quantised);
    None: ROW_SUM_TOL of the input's dtype."""
    tol = ROW_SUM_TOL[inp.dtype.itemsize] if tol is None else float(tol)
    p, t, m, ax = inp.probs, inp.target, inp.mask, inp.class_axis
    on_device = inp.gpu and all(hasattr(a.obj, "sum") for a in (p, t) + ((m,) if m is not None else ()))
    if inp.gpu and not on_device:
        # a CUDA array with no reductions of its own (only __cuda_array_interface__): on the host
        from ..gpu import to_host

        p, t, m = to_host(p), to_host(t), None if m is None else to_host(m)
    if on_device:  # the array's own library (CuPy, torch) reduces on its device
        s = p.obj.sum(axis=ax)
        bad = abs(s - 1) > tol
        if m is not None:
            bad &= m.obj != 0
        if ignore_label is not None:
            bad &= t.obj != ignore_label
        n_bad = int(bad.sum())
        worst = float(abs(s - 1)[bad].max()) if n_bad else 0.0
    else:
        pm = np.moveaxis(p, ax, -1)  # (*spatial, C) view: spatial axes in target's order
        rows = max(1, _ROW_CHUNK // max(1, pm[0].size))
        n_bad, worst = 0, 0.0
        for i in range(0, pm.shape[0], rows):
            dev = np.abs(pm[i:i + rows].sum(axis=-1, dtype=np.float64) - 1.0)
            bad = dev > tol
            if m is not None:
                bad &= m[i:i + rows] != 0
            if ignore_label is not None:
                bad &= t[i:i + rows] != ignore_label
            k = int(np.count_nonzero(bad))
            if k:
                n_bad += k
                worst = max(worst, float(dev[bad].max()))
    if n_bad:
        raise ValueError(
            f"probs has {n_bad} voxel(s) whose {inp.n_classes} class probabilities do not sum to 1 (largest "
            f"|sum - 1| = {worst:.3g} > {tol:g}); the segscore convention needs one probability per class "
            "on class_axis (a softmax output). Pass logits=True for raw scores, P(class 1) shaped like "
            "target for a binary task, or a convention named after a library that accepts such input"
        )


def _check_ignore(ignore_label):
    if ignore_label is None:
        return None
    if isinstance(ignore_label, bool) or not isinstance(ignore_label, int | np.integer):
        raise TypeError(f"ignore_label must be an integer label or None, got {ignore_label!r}")
    return int(ignore_label)


def _equal_mass_edges(conf: np.ndarray, n_bins: int, conv: CalibrationConvention, dtype) -> np.ndarray:
    """Quantile edges (np.quantile, linear), first and last set to 0 and 1 (as netcal)."""
    q = np.linspace(0.0, 1.0, n_bins + 1)
    if conf.size == 0:
        return q
    if conv.name == "netcal":
        conf = conf.astype(dtype)  # netcal takes quantiles of the clipped input in its own dtype
    e = np.asarray(np.quantile(conf, q), dtype=np.float64)
    e[0], e[-1] = 0.0, 1.0
    return np.maximum.accumulate(e)
