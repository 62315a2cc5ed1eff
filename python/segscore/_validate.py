"""Input validation at the API boundary: every check runs before any C++.

Messages say what was wrong and how to fix it.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np

MAX_LABEL = 2**31


def is_device_array(x) -> bool:
    """True for CuPy arrays, torch CUDA tensors and other CUDA arrays
    (``__cuda_array_interface__`` or a CUDA DLPack device)."""
    from ._gpu.arrays import is_device_array as on_gpu

    return on_gpu(x)


def as_host_array(x, name: str) -> np.ndarray:
    """numpy view of a host array (numpy, torch CPU tensor, __array__), no copy."""
    if isinstance(x, np.ndarray):
        arr = x
    elif is_device_array(x):  # a code path without GPU kernels (or device="cpu"): one explicit copy
        from . import _gpu

        arr = _gpu.to_host(x, name)
    elif type(x).__module__.startswith("torch"):
        arr = x.detach().numpy()
    else:
        arr = np.asarray(x)
    if arr.dtype == object:
        raise TypeError(f"{name} has dtype object; pass a numeric array")
    if arr.ndim == 0:
        raise ValueError(f"{name} is a 0-d array (a scalar); pass an image array with at least one axis")
    return arr


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
    return sp


def check_label_range(stats: dict) -> None:
    for which in ("pred", "ref"):
        lo, hi = stats[f"{which}_min"], stats[f"{which}_max"]
        if lo < 0:
            raise ValueError(f"{which} contains negative label {lo}; labels must lie in [0, 2**31)")
        if hi >= MAX_LABEL:
            raise ValueError(f"{which} contains label {hi} >= 2**31; labels must lie in [0, 2**31)")


def check_label_value(v, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, Integral | np.integer):
        raise TypeError(f"{what} must be an integer label, got {v!r}")
    v = int(v)
    if v < 0 or v >= MAX_LABEL:
        raise ValueError(f"{what}={v} is outside [0, 2**31)")
    return v


def check_threads(threads):
    from ._backend import resolve_threads

    return resolve_threads(threads)


def check_positive(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{what} must be a number, got {value!r}")
    v = float(value)
    if not math.isfinite(v) or v < 0:
        raise ValueError(f"{what} must be finite and >= 0, got {value!r}")
    return v
