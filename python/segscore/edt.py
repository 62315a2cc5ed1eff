"""Exact Euclidean distance transforms (scipy-compatible)."""

from __future__ import annotations

import numpy as np

from . import _validate as V
from ._backend import cpu, resolve_threads

_DTYPES = {"float64": np.float64, "float32": np.float32}


def _out_dtype(dtype):
    key = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
    if key not in _DTYPES:
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    return _DTYPES[key]


def _run(x, spacing, dtype, squared, threads, multilabel, name, device=None):
    from . import _gpu

    if _gpu.check_device(device) not in (None, "cpu") or (device is None and V.is_device_array(x)):
        return _gpu.edt(x, spacing, _out_dtype(dtype), squared, multilabel, name, device)
    a = V.as_host_array(x, name)
    if multilabel:
        V.check_label_map(a, name)
    elif a.dtype.kind not in "biuf":
        raise TypeError(f"{name} has unsupported dtype {a.dtype}; pass a bool or numeric array")
    if a.ndim > 8:
        raise ValueError(f"{name} has {a.ndim} axes; at most 8 are supported")
    sp = V.check_spacing(spacing, a.ndim)
    t = resolve_threads(threads)
    if multilabel and a.dtype.kind == "i" and a.size and a.min() < 0:
        raise ValueError(f"{name} contains negative labels; labels must lie in [0, 2**31)")
    if a.dtype.kind == "f" and np.isnan(a).any():
        raise ValueError(f"{name} contains NaN; the EDT needs a binary (zero / nonzero) input")
    # output in the input's memory order (F-ordered input -> F-ordered output)
    order = "F" if (a.flags.f_contiguous and not a.flags.c_contiguous) else "C"
    out = np.empty(a.shape, dtype=_out_dtype(dtype), order=order)
    cpu().edt(a, out, list(sp), bool(squared), bool(multilabel), t)
    return out


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
