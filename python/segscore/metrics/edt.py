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
    """Exact Euclidean distance transform, like ``scipy.ndimage.distance_transform_edt``.

    Every nonzero voxel gets the Euclidean distance (mm, with `spacing` per axis) to the
    nearest zero voxel; zero voxels get 0.  With no zero voxel at all the result is inf
    everywhere (scipy returns a distance to a virtual point outside the array instead).
    The transform is exact and separable: one pass per axis of the lower envelope of
    parabolas, the squared distances accumulated in axis order,
    ``((d0 s0)^2 + (d1 s1)^2) + (d2 s2)^2``, as scipy does.

    Parameters
    ----------
    mask : array_like
        Any bool or numeric array (nonzero = inside), 1 to 8 dimensions, any memory order
        or strides (read without a copy).  NaN is refused.  CuPy arrays and torch CUDA
        tensors are transformed on their device.
    spacing : sequence of float, optional
        Voxel size in mm per array axis (None: 1 per axis); each value in [1e-30, 1e30],
        largest / smallest <= 1e12.
    dtype : {"float64", "float32"}, default "float64"
        Output dtype; squared distances are kept in it between the passes (float32 agrees
        with seung-lab edt's float32 transform).
    squared : bool, default False
        Return squared distances (mm^2), without the final square root.
    threads : int, optional
        CPU threads; the result is bit-identical for any count.
    device : {None, "cpu", "cuda", "cupy"}, optional
        Force a backend; host inputs sent to a GPU come back as numpy.

    Returns
    -------
    ndarray
        Distances shaped like `mask`, in `dtype`, in the input's memory order (an
        F-ordered input gives an F-ordered output); an array of the input's library for
        GPU inputs.

    Raises
    ------
    ValueError
        `mask` contains NaN, has more than 8 axes, `spacing` is out of range or has the
        wrong length, `dtype` is not float32/float64, or a float32 result would overflow
        at this spacing (pass ``dtype="float64"``).
    TypeError
        `mask` has a non-numeric dtype.

    See Also
    --------
    edt_multilabel : distance to the nearest voxel of another label.

    References
    ----------
    .. [1] Felzenszwalb, P. F. & Huttenlocher, D. P. (2012). Distance transforms of sampled
        functions. Theory of Computing 8(19), 415-428.
    .. [2] scipy.ndimage.distance_transform_edt (SciPy >= 1.10): the same values, float64.
    .. [3] seung-lab edt 3.1.2 (``edt.edt``): the same algorithm, float32 by default.

    Examples
    --------
    >>> import numpy as np
    >>> import segscore as ss
    >>> m = np.zeros((5, 5), bool); m[1:4, 1:4] = True
    >>> ss.edt(m)
    array([[0., 0., 0., 0., 0.],
           [0., 1., 1., 1., 0.],
           [0., 1., 2., 1., 0.],
           [0., 1., 1., 1., 0.],
           [0., 0., 0., 0., 0.]])
    >>> ss.edt(m, spacing=(1.0, 2.0))[2]
    array([0., 2., 2., 2., 0.])
    >>> ss.edt(m, squared=True, dtype="float32")[2]
    array([0., 1., 4., 1., 0.], dtype=float32)
    >>> ss.edt(np.ones(3, bool))  # no zero voxel: inf everywhere
    array([inf, inf, inf])
    """
    return _run(mask, spacing, dtype, squared, threads, False, "mask", device)


def edt_multilabel(labels, spacing=None, dtype="float64", squared=False, threads=None, device=None):
    """Distance of each voxel to the nearest voxel of a different label.

    For a label map, every voxel of a nonzero label gets the Euclidean distance (mm) to the
    nearest voxel whose label differs (background included); label 0 gets 0.  The array
    border is not a boundary: a component that touches only the border is measured to the
    other labels, and a map holding a single label everywhere gives inf (as seung-lab
    ``edt.edt(labels, black_border=False)``).  Same exact separable algorithm as
    :func:`edt`, one call for all labels.

    Parameters
    ----------
    labels : array_like
        Integer (or bool) label map, values in [0, 2**31), 1 to 8 dimensions, any layout.
        GPU arrays are transformed on their device.
    spacing : sequence of float, optional
        Voxel size in mm per array axis (None: 1 per axis).
    dtype : {"float64", "float32"}, default "float64"
        Output dtype.
    squared : bool, default False
        Return squared distances (mm^2).
    threads : int, optional
        CPU threads; the result does not depend on it.
    device : {None, "cpu", "cuda", "cupy"}, optional
        Force a backend.

    Returns
    -------
    ndarray
        Distances shaped like `labels`, in `dtype`.

    Raises
    ------
    ValueError
        A negative label, more than 8 axes, an invalid `spacing` or `dtype`.
    TypeError
        `labels` is not an integer or bool array.

    See Also
    --------
    edt : binary transform (the array border is not a boundary there either).

    References
    ----------
    .. [1] Felzenszwalb, P. F. & Huttenlocher, D. P. (2012). Distance transforms of sampled
        functions. Theory of Computing 8(19), 415-428.
    .. [2] seung-lab edt 3.1.2, ``edt.edt(labels, black_border=False)``.

    Examples
    --------
    >>> import numpy as np
    >>> import segscore as ss
    >>> lab = np.array([[1, 1, 2, 2],
    ...                 [1, 1, 2, 2],
    ...                 [0, 0, 2, 2]])
    >>> ss.edt_multilabel(lab)
    array([[2., 1., 1., 2.],
           [1., 1., 1., 2.],
           [0., 0., 1., 2.]])
    >>> ss.edt_multilabel(np.array([[0, 1, 1, 1]]), spacing=(1.0, 0.5))
    array([[0. , 0.5, 1. , 1.5]])
    """
    return _run(labels, spacing, dtype, squared, threads, True, "labels", device)
