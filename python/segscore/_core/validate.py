"""Input validation at the API boundary: every check runs before any C++.

Messages say what was wrong and how to fix it.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np

MAX_LABEL = 2**31
# Spacing segscore computes with (mm per axis).  Within this range squared distances,
# surfel areas and voxel volumes stay normal float64 numbers on any image that fits in
# memory; float32 distance transforms rescale by a power of two (see edt.py).
SPACING_RANGE = (1e-30, 1e30)
SPACING_RATIO_MAX = 1e12


def is_device_array(x) -> bool:
    """True for CuPy arrays, torch CUDA tensors and other CUDA arrays
    (``__cuda_array_interface__`` or a CUDA DLPack device)."""
    from .arrays import is_device_array as on_gpu

    return on_gpu(x)


def as_host_array(x, name: str) -> np.ndarray:
    """numpy view of a host array (numpy, torch CPU tensor, __array__), no copy."""
    if isinstance(x, np.ndarray):
        arr = x
    elif is_device_array(x):  # a code path without GPU kernels (or device="cpu"): one explicit copy
        from .arrays import to_host

        arr = to_host(x, name)
    elif type(x).__module__.startswith("torch"):
        arr = x.detach().numpy()
    else:
        try:
            arr = np.asarray(x)
        except (ValueError, TypeError) as exc:  # ragged nested lists
            raise ValueError(f"{name} cannot be read as an array ({exc}); pass a numpy array, a tensor or "
                             "nested lists of one shape") from None
    arr = native_byte_order(arr)
    if arr.dtype == object:
        raise TypeError(f"{name} has dtype object; pass a numeric array")
    if arr.ndim == 0:
        raise ValueError(f"{name} is a 0-d array (a scalar); pass an image array with at least one axis")
    return arr


def native_byte_order(arr: np.ndarray) -> np.ndarray:
    """`arr` itself when its bytes are in this machine's order, else a converted copy
    with the same values and memory layout (big-endian NIfTI data, ``'>i4'``).  A bool
    array holding bytes other than 0 / 1 (``np.frombuffer(..., bool)``, a uint8 map viewed
    as bool) becomes a copy holding 0 / 1: numpy reads every nonzero byte as True.

    The compiled core reads raw memory; converting here, at the boundary, is what keeps
    a byte-swapped array (or a bool byte 2 read as label 2) from being read as other numbers."""
    if arr.dtype == np.bool_:
        return canonical_bool(arr)
    if arr.dtype.isnative:
        return arr
    return arr.astype(arr.dtype.newbyteorder("="), order="K")


def canonical_bool(arr: np.ndarray) -> np.ndarray:
    """`arr` (bool) itself when its bytes are all 0 / 1, else a copy with the same truth
    values and memory layout whose bytes are (one pass of ``max`` over the bytes)."""
    if arr.size == 0:
        return arr
    u = arr.view(np.uint8)
    if int(u.max()) <= 1:
        return arr
    return np.not_equal(u, 0)


def check_label_map(arr: np.ndarray, name: str) -> None:
    if arr.dtype.kind == "f" or arr.dtype.kind == "c":
        raise TypeError(
            f"{name} has dtype {arr.dtype}; a segmentation must be an integer label map or a bool mask. "
            f"Threshold probabilities first (e.g. {name} > 0.5) or cast labels with .astype(np.int32)"
        )
    if arr.dtype.kind not in "biu":
        raise TypeError(f"{name} has unsupported dtype {arr.dtype}; use an integer or bool array")


def check_same_shape(pred: np.ndarray, ref: np.ndarray) -> None:
    if pred.shape != ref.shape:
        raise ValueError(
            f"pred has shape {pred.shape} but ref has shape {ref.shape}; they must match exactly. "
            "segscore never guesses a batch or one-hot channel axis: pass one case at a time, "
            "as label maps (argmax the channel axis) or as bool masks"
        )


def check_spacing(spacing, ndim: int) -> tuple:
    """Spacing in mm per array axis; None means 1 on every axis."""
    if spacing is None:
        return (1.0,) * ndim
    if isinstance(spacing, Real) and not isinstance(spacing, bool):
        spacing = (float(spacing),) * ndim
    try:
        sp = tuple(float(s) for s in np.asarray(spacing, dtype=float).ravel())
    except (TypeError, ValueError):
        raise TypeError(f"spacing must be a sequence of {ndim} positive numbers, got {spacing!r}") from None
    if len(sp) != ndim:
        raise ValueError(
            f"spacing has {len(sp)} values but the arrays have {ndim} axes; give one spacing (mm) per axis, "
            "in array axis order"
        )
    for s in sp:
        if not math.isfinite(s) or s <= 0:
            raise ValueError(f"spacing must be finite and > 0 on every axis, got {sp}")
    lo, hi = min(sp), max(sp)
    if lo < SPACING_RANGE[0] or hi > SPACING_RANGE[1] or hi / lo > SPACING_RATIO_MAX:
        raise ValueError(
            f"spacing {sp} is outside the supported range: every value in [{SPACING_RANGE[0]:g}, "
            f"{SPACING_RANGE[1]:g}] mm and largest / smallest <= {SPACING_RATIO_MAX:g}, so that squared "
            "distances, areas and volumes cannot overflow or underflow; give the spacing in mm"
        )
    return sp


def check_label_range(stats: dict, names=("pred", "ref"), dtypes=(None, None)) -> None:
    """Refuse labels outside [0, 2**31), naming the input (`names`: what the user
    called the two maps).  The counting pass reports min / max as int64, so a uint64
    value >= 2**63 arrives negative: `dtypes` lets the message give the real value."""
    for which, name, dt in zip(("pred", "ref"), names, dtypes):
        lo, hi = stats[f"{which}_min"], stats[f"{which}_max"]
        if lo < 0:
            if dt is not None and np.dtype(dt).kind == "u":
                raise ValueError(f"{name} contains label {int(lo) + 2**64} >= 2**31 (dtype {np.dtype(dt)}); "
                                 "labels must lie in [0, 2**31)")
            raise ValueError(f"{name} contains negative label {lo}; labels must lie in [0, 2**31)")
        if hi >= MAX_LABEL:
            raise ValueError(f"{name} contains label {hi} >= 2**31; labels must lie in [0, 2**31)")


def check_label_value(v, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, Integral | np.integer):
        raise TypeError(f"{what} must be an integer label, got {v!r}")
    v = int(v)
    if v < 0 or v >= MAX_LABEL:
        raise ValueError(f"{what}={v} is outside [0, 2**31)")
    return v


def check_threads(threads):
    from .backends import resolve_threads

    return resolve_threads(threads)


def check_positive(value, what: str, unit: str = "") -> float:
    """`value` as a finite float >= 0; the messages name `what` (and its `unit`, e.g. "mm")."""
    u = f" ({unit})" if unit else ""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{what} must be a number{u}, got {value!r}")
    v = float(value)
    if not math.isfinite(v) or v < 0:
        raise ValueError(f"{what} must be finite and >= 0{u}, got {value!r}")
    return v
