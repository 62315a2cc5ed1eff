"""Exact Euclidean distance transforms (scipy-compatible)."""

from __future__ import annotations

import math

import numpy as np

from .._core import validate as V
from .._core.backends import cpu, resolve_threads

_DTYPES = {"float64": np.float64, "float32": np.float32}


def _out_dtype(dtype):
    key = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
    if key not in _DTYPES:
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    return _DTYPES[key]


# Spacings whose squares stay far from float32's limits are used as given; others are
# divided by a power of two first and the result multiplied back (exact in binary floating
# point), so a float32 transform at 1e-30 mm or 1e30 mm neither underflows nor overflows.
_PLAIN_SPACING = (2.0**-20, 2.0**20)


def _power_of_two_scale(sp: tuple):
    """(spacing to compute with, factor to multiply the distances by) for a checked spacing."""
    if _PLAIN_SPACING[0] <= min(sp) and max(sp) <= _PLAIN_SPACING[1]:
        return sp, 1.0
    e = math.frexp(max(sp))[1]
    return tuple(math.ldexp(s, -e) for s in sp), math.ldexp(1.0, e)


def _scale_back(out, factor, squared):
    """Multiply a transform computed at spacing / factor by factor (factor**2 when
    squared), refusing when a finite nonzero distance does not fit in the output dtype."""
    if factor == 1.0:
        return out
    f = factor * factor if squared else factor
    fi = np.finfo(np.dtype(str(out.dtype).replace("torch.", "")))
    big = (out > float(fi.max) / f) & (out != math.inf) if f > 1 else None
    small = (out > 0) & (out < float(fi.tiny) / f) if f < 1 else None
    if bool((big if f > 1 else small).any()):
        raise ValueError(
            f"the {'squared ' if squared else ''}distances at this spacing do not fit in {fi.dtype} "
            f"(normal range [{fi.tiny:.3g}, {fi.max:.3g}]); pass dtype='float64'"
            + ("" if squared else " or give the spacing in another unit"))
    out *= f
    return out


def _run(x, spacing, dtype, squared, threads, multilabel, name, device=None):
    from .. import gpu as _gpu

    dev = _gpu.prepare([x], [name], device)  # the one dispatch: None = the CPU path
    a = V.as_host_array(x, name) if dev is None else dev[0]
    # the checks of both paths (shape, dtype, spacing) before any kernel runs
    if multilabel:
        V.check_label_map(a, name)
    elif a.dtype.kind not in "biuf":
        raise TypeError(f"{name} has unsupported dtype {a.dtype}; pass a bool or numeric array")
    if a.ndim > 8:
        raise ValueError(f"{name} has {a.ndim} axes; at most 8 are supported")
    sp, factor = _power_of_two_scale(V.check_spacing(spacing, a.ndim))
    out_dtype = _out_dtype(dtype)
    if dev is not None:  # value checks (NaN, negative labels) run on the device, in ops.edt
        out = _gpu.ops.edt(a, sp, out_dtype, squared, multilabel, name)
        if a.uploaded:
            out = np.asarray(a.lib.to_host(out))
        return _scale_back(out, factor, squared)
    t = resolve_threads(threads)
    if multilabel and a.dtype.kind == "i" and a.size and a.min() < 0:
        raise ValueError(f"{name} contains negative labels; labels must lie in [0, 2**31)")
    if a.dtype.kind == "f" and np.isnan(a).any():
        raise ValueError(f"{name} contains NaN; the EDT needs a binary (zero / nonzero) input")
    # output in the input's memory order (F-ordered input -> F-ordered output)
    order = "F" if (a.flags.f_contiguous and not a.flags.c_contiguous) else "C"
    out = np.empty(a.shape, dtype=out_dtype, order=order)
    cpu().edt(a, out, list(sp), bool(squared), bool(multilabel), t)
    return _scale_back(out, factor, squared)


def edt(mask, spacing=None, dtype="float64", squared=False, threads=None, device=None):
    """Exact Euclidean distance transform, like scipy.ndimage.distance_transform_edt.

    Nonzero voxels get the distance (mm, with `spacing` per axis) to the
    nearest zero voxel; zero voxels get 0.  With no zero voxel at all the
    result is inf everywhere.  `squared=True` returns squared distances.
    Any number of dimensions; C- or F-ordered input is read without a copy.
    GPU arrays (CuPy, torch CUDA) are transformed on their device and give an
    array of their own library; `device` ("cpu", "cuda", "cupy") forces a
    backend (host inputs then come back as numpy).
    """
    return _run(mask, spacing, dtype, squared, threads, False, "mask", device)


def edt_multilabel(labels, spacing=None, dtype="float64", squared=False, threads=None, device=None):
    """Distance of each voxel to the nearest voxel of a different label.

    Label 0 gets 0; the array border is not a boundary (a voxel whose whole
    component touches only the border gets inf), like seung-lab edt.
    """
    return _run(labels, spacing, dtype, squared, threads, True, "labels", device)
