"""Connected components, per-component statistics and the overlap table of two component maps.

One pass each in C++ (cpp/src/components_driver.cpp, threads; the results are identical
for any thread count).  The labelling is a run-based union-find; components are numbered
1..n by their first voxel in C (or F) raster order, so the ids are a function of the mask
alone and can reproduce cc3d's (cc3d numbers by first voxel in memory order).
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral

import numpy as np

from .._core import validate as V
from .._core.backends import cpu, resolve_threads

# connectivity names -> (2-D value, 3-D value); None: not defined in that dimension
_NAMES = {"full": (8, 26), "edge": (None, 18), "face": (4, 6)}
_NUMBERS = {2: (4, 8), 3: (6, 18, 26)}
_INT32_MAX = 2**31 - 1


def _connectivity(connectivity, ndim: int) -> int:
    """The connectivity as the number the user means (4/8 in 2-D, 6/18/26 in 3-D)."""
    if isinstance(connectivity, str):
        key = connectivity.lower()
        if key not in _NAMES:
            raise ValueError(f"connectivity must be 'full', 'edge', 'face' or a number, got {connectivity!r}")
        v = _NAMES[key][0 if ndim == 2 else 1]
        if v is None:
            raise ValueError("connectivity='edge' (18) is defined for 3-D arrays only; in 2-D use 'full' (8) "
                             "or 'face' (4)")
        return v
    if isinstance(connectivity, bool) or not isinstance(connectivity, Integral):
        raise TypeError(f"connectivity must be 'full', 'edge', 'face' or an integer, got {connectivity!r}")
    c = int(connectivity)
    if c not in _NUMBERS[ndim]:
        allowed = " or ".join(str(x) for x in _NUMBERS[ndim])
        raise ValueError(f"connectivity={c} does not fit a {ndim}-D array; use {allowed} "
                         "(or 'full' / 'face'" + (" / 'edge')" if ndim == 3 else ")"))
    return c


def _label_input(x, name: str, ids: bool = True) -> np.ndarray:
    """A host label map; `ids`: its values are read as ids, so a bool array whose bytes are
    not all 0 / 1 (a 0 / 255 mask read with ``np.fromfile(..., bool)``) becomes a 0 / 1 copy:
    numpy reads every nonzero byte as True, the compiled passes read the byte."""
    a = V.as_host_array(x, name)  # native byte order, numpy view of torch / __array__ inputs
    V.check_label_map(a, name)
    if ids and a.dtype == np.bool_ and a.size and int(a.view(np.uint8).max()) > 1:
        a = a.view(np.uint8) != 0
    return a


def _id_limit(size: int) -> int:
    """The largest id a statistics table is built for: ids index dense arrays (id - 1), so an
    id far beyond the number of voxels would only allocate empty rows."""
    return int(min(_INT32_MAX, max(int(size), 2**20)))


def connected_components(mask, connectivity="full", *, binary=True, order="C", min_size=0, return_n=True,
                         threads=None, device=None):
    """Label the connected components of a 2-D or 3-D mask.

    Two foreground voxels are connected when a path of neighbouring foreground voxels joins
    them.  Neighbours: ``"face"`` (4 in 2-D, 6 in 3-D: one axis differs by 1), ``"edge"``
    (18, 3-D only: at most two axes differ), ``"full"`` (8 in 2-D, 26 in 3-D: any axes
    differ by at most 1).  With ``binary=True`` the foreground is ``mask > 0``; with
    ``binary=False`` every nonzero value is labelled separately, as cc3d does: two
    neighbouring voxels are connected only if they hold the same nonzero value.

    Components are numbered 1..n by their first voxel in raster order: C order (last axis
    fastest) with ``order="C"``, F order (first axis fastest) with ``order="F"``.  cc3d
    numbers by memory order, so ``order="F"`` reproduces its ids on Fortran-ordered arrays
    (nibabel images) and ``order="C"`` on C-ordered ones.  The ids depend on the mask alone,
    not on its memory layout or the thread count.

    Parameters
    ----------
    mask : array_like
        2-D or 3-D bool or integer array (any layout, strides or byte order; read without a
        copy).  Values must be >= 0 (0 is background).  Floats are refused: threshold first.
    connectivity : {"full", "edge", "face"} or int, default "full"
        The neighbourhood: a name, or the number (4 / 8 in 2-D; 6 / 18 / 26 in 3-D).
    binary : bool, default True
        True: label ``mask > 0``.  False: label each value separately (instance or
        multi-class maps), any value in [0, 2**64).
    order : {"C", "F"}, default "C"
        The raster order that numbers the components; the output has this memory order.
    min_size : int, default 0
        Drop components with fewer voxels than this (they become 0) and number the others
        1..n in the same raster order.
    return_n : bool, default True
        Return ``(labels, n)``; False returns the labels alone.
    threads : int, optional
        CPU threads (default: all this process may use); the result is identical for any count.
    device : {None, "cpu", "cuda", "cupy"}, optional
        Where to run: GPU inputs (CuPy arrays, torch CUDA tensors) are labelled on their
        device by default, with the same ids (a deterministic union-find with integer
        atomics); host inputs sent to a GPU come back as numpy.  The GPU kernels are
        checked against the CPU in a CUDA emulation and compiled by NVRTC; they have not
        yet been run on a device.

    Returns
    -------
    labels : ndarray
        The component ids, shaped like `mask`, int32 (int64 if 2**31 - 1 or more components
        would be needed), in `order` memory order (an array of the input's library for GPU
        inputs).  An empty mask gives all zeros.
    n : int
        The number of components (the largest id); only with ``return_n=True``.

    Raises
    ------
    TypeError
        A float, complex or non-numeric mask; a connectivity that is not a name or integer.
    ValueError
        A mask that is not 2-D or 3-D, a connectivity that does not fit the dimension (18 in
        2-D, 4 in 3-D, ...), a negative value, a bad `order` or `min_size`.

    Notes
    -----
    A run-based union-find: every line of the array is cut into runs of foreground, runs on
    touching lines are joined, the smallest run (in raster order) of each component is its
    root.  Threads label blocks of lines and then join the block seams.  Lines run along the
    axis contiguous in memory; when that raster is not `order`, the components are
    renumbered by their first voxel in `order` (same ids, a few ms more).

    References
    ----------
    .. [1] Wu, K., Otoo, E. & Suzuki, K. (2009). Optimizing two-pass connected-component
       labeling algorithms. Pattern Analysis and Applications 12, 117-135.
    .. [2] cc3d (connected-components-3d) ``connected_components``: the same components and,
       in the same raster order, the same ids.
    .. [3] ``scipy.ndimage.label`` with ``generate_binary_structure(ndim, 1 | 2 | ndim)``.

    Examples
    --------
    >>> import numpy as np
    >>> import segscore as ss
    >>> m = np.array([[1, 1, 0, 0],
    ...               [0, 0, 1, 0],
    ...               [1, 0, 0, 0]], bool)
    >>> labels, n = ss.connected_components(m)          # 8-connectivity in 2-D
    >>> n
    2
    >>> labels
    array([[1, 1, 0, 0],
           [0, 0, 1, 0],
           [2, 0, 0, 0]], dtype=int32)
    >>> ss.connected_components(m, "face", return_n=False)   # 4-connectivity
    array([[1, 1, 0, 0],
           [0, 0, 2, 0],
           [3, 0, 0, 0]], dtype=int32)
    >>> ss.connected_components(m, 4, order="F")[0]      # numbered down the columns first
    array([[1, 1, 0, 0],
           [0, 0, 3, 0],
           [2, 0, 0, 0]], dtype=int32)
    >>> ss.connected_components(m, min_size=2)[1]        # the single voxel is dropped
    1
    >>> ss.connected_components(np.array([[1, 2, 2], [0, 0, 2]]), binary=False)[0]
    array([[1, 2, 2],
           [0, 0, 2]], dtype=int32)
    """
    from .. import gpu as _gpu

    dev = _gpu.prepare([mask], ["mask"], device)  # the one dispatch: None = the CPU path
    a = _label_input(mask, "mask", ids=False) if dev is None else dev[0]
    if dev is not None:
        V.check_label_map(a, "mask")
    if a.ndim not in (2, 3):
        raise ValueError(f"mask has {a.ndim} axes; connected components are defined here for 2-D and 3-D arrays "
                         "(label 3-D volumes one at a time; a channel or batch axis must be removed first)")
    c = _connectivity(connectivity, a.ndim)
    if order not in ("C", "F"):
        raise ValueError(f"order must be 'C' or 'F', got {order!r}")
    if isinstance(min_size, bool) or not isinstance(min_size, Integral) or min_size < 0:
        raise ValueError(f"min_size must be an integer >= 0 (voxels), got {min_size!r}")
    if not isinstance(binary, bool | np.bool_):
        raise TypeError(f"binary must be True or False, got {binary!r}")
    if dev is None and a.dtype == np.bool_:  # one value: per-label labelling is binary labelling (any byte > 0)
        binary = True
    min_size = min(int(min_size), int(a.size) + 1)  # no component is larger than the image (and int64 holds it)
    t = resolve_threads(threads)
    c3 = {4: 6, 8: 26}.get(c, c)
    if dev is not None:
        from ..gpu import lesion_ops

        labels, n, negative = lesion_ops.connected_components(a, c3, bool(binary), order == "F", int(min_size))
        if a.uploaded and not negative:
            labels = np.asarray(a.lib.to_host(labels))
    else:
        labels, n, negative = cpu().connected_components(a, c3, bool(binary), order == "F", int(min_size), t)
    if negative:
        raise ValueError("mask contains negative values; pass a bool mask or labels >= 0 (0 is background), "
                         "e.g. mask > 0")
    return (labels, int(n)) if return_n else labels


@dataclass(frozen=True)
class ComponentStats:
    """Per-component statistics of a label map; every array is indexed by id - 1.

    Attributes
    ----------
    n : int
        The largest id (ids 1..n; ids without voxels have ``voxels == 0``, boxes -1 and NaN
        centroid / values).
    voxels : ndarray, int64 (n,)
    volume : ndarray, float64 (n,)
        voxels times the voxel volume (mm^3).
    bbox_lo, bbox_hi : ndarray, int64 (n, ndim)
        Inclusive bounding box (voxel indices) per axis.
    centroid : ndarray, float64 (n, ndim)
        Mean voxel index per axis times the spacing (mm; index 0 at 0 mm).
    max, mean : ndarray, float64 (n,) or None
        Largest and mean value inside each component (with `values` only).
    argmax : ndarray, int64 (n, ndim) or None
        Index of the first voxel (C order) holding the maximum.
    argmax_flat : ndarray, int64 (n,) or None
        The same as a C-order flat index (-1 for ids without voxels).
    spacing : tuple of float
    """

    n: int
    voxels: np.ndarray
    volume: np.ndarray
    bbox_lo: np.ndarray
    bbox_hi: np.ndarray
    centroid: np.ndarray
    spacing: tuple
    max: np.ndarray | None = None
    mean: np.ndarray | None = None
    argmax: np.ndarray | None = None
    argmax_flat: np.ndarray | None = None

    def __len__(self) -> int:
        return self.n


def component_stats(labels, spacing=None, values=None, *, threads=None):
    """Voxels, volume, bounding box, centroid and (given `values`) max / mean / argmax of
    every component of a label map, in one pass.

    Parameters
    ----------
    labels : array_like
        Integer or bool label map with ids 1..n (0 is background), 1 to 8 axes, any layout,
        e.g. the output of :func:`connected_components`.  Ids must lie in
        [0, max(labels.size, 2**20)] (the tables are dense in the id).  GPU arrays are
        copied to the host (this pass has no GPU kernel).
    spacing : sequence of float, optional
        Voxel size in mm per axis (None: 1).
    values : array_like, optional
        A map of `labels`' shape (a probability map, float32 / float64; integers are read as
        float64).  NaN is refused.
    threads : int, optional
        CPU threads; the result is bit-identical for any count (value sums are added in a
        fixed order of fixed line blocks of the labels' memory order, so only ``mean`` of a
        C- and an F-ordered copy of the same data may differ, in the last bits).

    Returns
    -------
    ComponentStats
        Arrays indexed by id - 1.  The maximum's position is the first voxel in C order on
        ties.  An all-zero map gives n = 0 and empty arrays.

    Raises
    ------
    TypeError
        Float labels, non-numeric values.
    ValueError
        Negative ids, ids above the limit, `values` of another shape or with NaN, a bad spacing.

    References
    ----------
    .. [1] cc3d ``statistics`` (voxel_counts, bounding_boxes, centroids): the same numbers
       in voxel units.

    Examples
    --------
    >>> import numpy as np
    >>> import segscore as ss
    >>> lab = np.array([[1, 1, 0],
    ...                 [0, 0, 2],
    ...                 [0, 0, 2]])
    >>> p = np.array([[0.2, 0.9, 0.0],
    ...               [0.0, 0.0, 0.4],
    ...               [0.0, 0.0, 0.4]])
    >>> st = ss.component_stats(lab, spacing=(2.0, 1.0), values=p)
    >>> st.voxels, st.volume
    (array([2, 2]), array([4., 4.]))
    >>> st.bbox_lo, st.bbox_hi
    (array([[0, 0],
           [1, 2]]), array([[0, 1],
           [2, 2]]))
    >>> st.centroid
    array([[0. , 0.5],
           [3. , 2. ]])
    >>> st.max, st.mean, st.argmax                 # ties: the first voxel in C order
    (array([0.9, 0.4]), array([0.55, 0.4 ]), array([[0, 1],
           [1, 2]]))
    """
    a = _label_input(labels, "labels")
    if a.ndim > 8:
        raise ValueError(f"labels has {a.ndim} axes; at most 8 are supported")
    sp = V.check_spacing(spacing, a.ndim)
    v = None
    if values is not None:
        v = V.as_host_array(values, "values")
        if v.shape != a.shape:
            raise ValueError(f"values has shape {v.shape} but labels has shape {a.shape}; they must match")
        if v.dtype.kind not in "biuf":
            raise TypeError(f"values has dtype {v.dtype}; pass a real-valued map (float32 / float64)")
        if v.dtype not in (np.float32, np.float64):
            v = v.astype(np.float64)
    t = resolve_threads(threads)
    limit = _id_limit(a.size)
    d = cpu().component_stats(a, v, limit, t)
    if d["negative"]:
        raise ValueError("labels contains negative ids; ids must be >= 0 (0 is background)")
    if d["too_large"]:
        raise ValueError(f"labels contains an id above {limit}; component_stats builds tables indexed by id, "
                         "so ids must be 1..n: relabel with connected_components(labels, binary=False) or "
                         "np.unique(labels, return_inverse=True)")
    if d["nan"]:
        raise ValueError("values contains NaN inside a component; pass a map without NaN")
    n = int(d["n"])
    voxels = d["voxels"]
    volume = voxels * float(np.prod(sp))
    centroid = d["mean_index"] * np.asarray(sp, dtype=np.float64)
    out = dict(n=n, voxels=voxels, volume=volume, bbox_lo=d["lo"], bbox_hi=d["hi"], centroid=centroid,
               spacing=tuple(sp))
    if v is not None:
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(voxels > 0, d["sum"] / np.maximum(voxels, 1), np.nan)
        flat = d["argmax"]
        idx = np.full((n, a.ndim), -1, dtype=np.int64)
        ok = flat >= 0
        if ok.any():
            idx[ok] = np.stack(np.unravel_index(flat[ok], a.shape), axis=1)
        out.update(max=d["max"], mean=mean, argmax=idx, argmax_flat=flat)
    return ComponentStats(**out)


@dataclass(frozen=True)
class OverlapTable:
    """The overlap of two component maps: one row per (pred id, ref id) pair that shares at
    least one voxel, sorted by (pred id, ref id), and each map's voxel count per id.

    Attributes
    ----------
    pred_id, ref_id, count : ndarray, int64 (k,)
        The pairs and their shared voxels (count > 0; ids >= 1).
    pred_voxels : ndarray, int64 (n_pred,)
        Voxels of each pred id (index id - 1; n_pred = the largest pred id present).
    ref_voxels : ndarray, int64 (n_ref,)
    """

    pred_id: np.ndarray
    ref_id: np.ndarray
    count: np.ndarray
    pred_voxels: np.ndarray
    ref_voxels: np.ndarray

    @property
    def n_pred(self) -> int:
        return int(self.pred_voxels.shape[0])

    @property
    def n_ref(self) -> int:
        return int(self.ref_voxels.shape[0])

    @property
    def pairs(self) -> np.ndarray:
        """(k, 3) int64: pred id, ref id, count."""
        return np.stack([self.pred_id, self.ref_id, self.count], axis=1)

    def __len__(self) -> int:
        return int(self.count.shape[0])


def overlap_table(pred_labels, ref_labels, *, threads=None, device=None):
    """The sparse overlap of two component (instance) maps, in one pass.

    Every voxel where both maps are nonzero adds 1 to its (pred id, ref id) pair; every
    nonzero voxel adds 1 to its id's count in its map.  All lesion-wise matching (IoU, Dice,
    overlap, many-to-one, merges) is a function of this table:
    ``IoU = count / (pred_voxels[p-1] + ref_voxels[r-1] - count)``.

    Parameters
    ----------
    pred_labels, ref_labels : array_like
        Integer or bool id maps of one shape (0 is background), ids in
        [0, min(2**31 - 1, max(size, 2**20))], e.g. from :func:`connected_components`;
        any layout, 1 to 8 axes.
    threads : int, optional
        CPU threads; the result does not depend on it.
    device : {None, "cpu", "cuda", "cupy"}, optional
        GPU inputs are counted on their device by default (two passes with integer atomics,
        the same table; not yet run on a device, checked in the CUDA emulation).

    Returns
    -------
    OverlapTable
        Pairs with count > 0 sorted by (pred id, ref id); empty maps give empty arrays.

    Raises
    ------
    TypeError
        Float maps.
    ValueError
        Shapes differ, negative ids, ids above the limit.

    Examples
    --------
    >>> import numpy as np
    >>> import segscore as ss
    >>> from segscore.lesion import overlap_table
    >>> pred = np.array([[1, 1, 0, 2],
    ...                  [0, 0, 0, 2]])
    >>> ref = np.array([[1, 1, 1, 0],
    ...                 [0, 0, 0, 2]])
    >>> t = overlap_table(pred, ref)
    >>> t.pairs
    array([[1, 1, 2],
           [2, 2, 1]])
    >>> t.pred_voxels, t.ref_voxels
    (array([2, 2]), array([3, 1]))
    """
    from .. import gpu as _gpu

    dev = _gpu.prepare([pred_labels, ref_labels], ["pred_labels", "ref_labels"], device)
    if dev is None:
        p = _label_input(pred_labels, "pred_labels")
        r = _label_input(ref_labels, "ref_labels")
    else:
        p, r = dev
        V.check_label_map(p, "pred_labels")
        V.check_label_map(r, "ref_labels")
    if p.shape != r.shape:
        raise ValueError(f"pred_labels has shape {p.shape} but ref_labels has shape {r.shape}; they must match")
    if p.ndim > 8:
        raise ValueError(f"the maps have {p.ndim} axes; at most 8 are supported")
    t = resolve_threads(threads)
    limit = _id_limit(p.size)
    if dev is not None:
        from ..gpu import lesion_ops

        d = lesion_ops.overlap_table(p, r, limit)
    else:
        d = cpu().overlap_table(p, r, limit, t)
    if d["negative"]:
        raise ValueError("a map contains negative ids; ids must be >= 0 (0 is background)")
    if d["too_large"]:
        raise ValueError(f"a map contains an id above {limit}; ids must be 1..n (relabel with "
                         "connected_components(labels, binary=False))")
    pairs = d["pairs"]
    return OverlapTable(pred_id=pairs[:, 0].copy(), ref_id=pairs[:, 1].copy(), count=pairs[:, 2].copy(),
                        pred_voxels=d["pred_voxels"], ref_voxels=d["ref_voxels"])
