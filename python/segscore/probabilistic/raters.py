"""Validation of multi-rater inputs: rater maps, probability maps and their label layout.

Shared by volume CRPS, multi-rater metrics and the CURVAS protocol.  Layout rules (never
guessed from values, only from shapes):

* ``raters``: a sequence (list/tuple) of K maps of one shape, all bool masks or all
  integer label maps; or one array whose first axis indexes the raters.
* ``prob``: shaped like one rater (a single map P(foreground)), or ``(C, *rater shape)``
  with one channel per label (``labels=`` in channel order, default 1..C).  There is no
  background channel: drop it first (``prob[1:]``) if the model outputs one.
"""

from __future__ import annotations

import numpy as np

from .._core import validate as V
from .._core.backends import cpu
from ..metrics.case import _key_of, _members


def as_raters(raters, name="raters"):
    """List of K validated rater maps of one shape, and whether they are bool masks."""
    if isinstance(raters, (list, tuple)):
        maps = [V.as_host_array(r, f"{name}[{k}]") for k, r in enumerate(raters)]
    elif isinstance(raters, np.ndarray) or hasattr(raters, "__array__") or \
            type(raters).__module__.startswith("torch"):
        arr = V.as_host_array(raters, name)
        if arr.ndim < 2:
            raise ValueError(
                f"{name} is one array of shape {arr.shape}; its first axis is read as the rater axis, so it needs "
                "at least 2 axes. Pass a list of rater maps"
            )
        maps = [arr[k] for k in range(arr.shape[0])]
    else:
        raise TypeError(f"{name} must be a list/tuple of rater maps (or one array stacked on axis 0), got {type(raters)}")
    if not maps:
        raise ValueError(f"{name} is empty; give at least one rater map")
    for k, r in enumerate(maps):
        V.check_label_map(r, f"{name}[{k}]")
    shape = maps[0].shape
    for k, r in enumerate(maps[1:], 1):
        if r.shape != shape:
            raise ValueError(
                f"{name}[{k}] has shape {r.shape} but {name}[0] has shape {shape}; all raters must be on the same grid"
            )
    kinds = {r.dtype == np.bool_ for r in maps}
    if len(kinds) > 1:
        raise TypeError(f"{name} mixes bool masks and integer label maps; pass all as masks or all as label maps")
    return maps, kinds.pop()


def as_prob(prob, name="prob") -> np.ndarray:
    """Validated probability array: floating dtype, no NaN, values in [0, 1]."""
    p = V.as_host_array(prob, name)
    if p.dtype.kind != "f":
        raise TypeError(
            f"{name} has dtype {p.dtype}; probabilities must be a floating-point array (float16/32/64) in [0, 1]"
        )
    if p.size == 0:
        raise ValueError(f"{name} is empty (shape {p.shape})")
    if not p.flags.c_contiguous:  # float sums follow the elements' logical order, whatever the layout
        p = np.ascontiguousarray(p)
    lo, hi = float(np.min(p)), float(np.max(p))
    if np.isnan(lo) or np.isnan(hi):
        raise ValueError(f"{name} contains NaN; probabilities must be finite numbers in [0, 1]")
    if lo < 0.0 or hi > 1.0:
        raise ValueError(
            f"{name} has values in [{lo}, {hi}]; probabilities must lie in [0, 1] "
            "(logits? apply softmax/sigmoid first)"
        )
    return p


def _parse_channel_labels(labels, n_channels):
    if labels is None:
        return [(c + 1, (c + 1,)) for c in range(n_channels)]
    if isinstance(labels, dict):
        items = [(key, _members(spec, f"labels[{key!r}]")) for key, spec in labels.items()]
    elif isinstance(labels, (int, np.integer, tuple)) and n_channels == 1:
        items = [(_key_of(labels), _members(labels, "labels"))]
    else:
        try:
            seq = list(labels)
        except TypeError:
            raise TypeError(
                f"labels must be a sequence of ints/tuples or {{name: int | tuple}}, got {labels!r}") from None
        items = [(_key_of(v), _members(v, "labels")) for v in seq]
    if len(items) != n_channels:
        raise ValueError(
            f"prob has {n_channels} channel(s) but labels= names {len(items)}; give one label per channel, "
            "in channel order (no background channel)"
        )
    for key, mem in items:
        if 0 in mem:
            raise ValueError(f"label region {key!r} contains 0, the background; score foreground labels only")
    return items


def prob_regions(p: np.ndarray, rater_shape: tuple, is_mask: bool, labels):
    """(single, [(key, probability map, members or None)]) for a probability array p."""
    if p.shape == rater_shape:
        if is_mask:
            if labels is not None:
                raise ValueError("labels= applies to integer rater label maps; bool rater masks have one region")
            return True, [(1, p, None)]
        if labels is None or isinstance(labels, (list, dict)):
            raise ValueError(
                "prob is a single probability map but the raters are label maps: pass labels=<the label (or tuple "
                "of labels) it scores>, or pass bool rater masks"
            )
        return True, [(_key_of(labels), p, _members(labels, "labels"))]
    if p.ndim == len(rater_shape) + 1 and p.shape[1:] == rater_shape:
        if is_mask:
            if p.shape[0] != 1 or labels is not None:
                raise ValueError(
                    f"prob has {p.shape[0]} channels but the raters are bool masks (one region); pass integer label "
                    "maps for several labels"
                )
            return True, [(1, p[0], None)]
        items = _parse_channel_labels(labels, p.shape[0])
        return False, [(key, p[c], mem) for c, (key, mem) in enumerate(items)]
    raise ValueError(
        f"prob has shape {p.shape} but each rater has shape {rater_shape}: prob must be shaped like one rater "
        "(P(foreground)) or (C, *rater shape) with one channel per label in labels= order; segscore never guesses "
        "a batch or channel axis, and a background channel must be dropped (prob[1:])"
    )


def region_mask(rater: np.ndarray, members) -> np.ndarray:
    """Bool mask of a region (members None: the rater is already a mask)."""
    if members is None:
        return rater
    if len(members) == 1:
        return rater == members[0]
    return np.isin(rater, np.asarray(members, dtype=np.int64))


def label_table(rater: np.ndarray, threads: int, name: str = "raters"):
    """(sorted labels, voxel counts) of an integer label map: one C++ pass, labels
    validated (an out-of-range label is reported under `name`, e.g. 'raters[2]')."""
    stats = cpu().overlap_stats(rater, rater, -1, threads)
    V.check_label_range(stats, names=(name, name), dtypes=(rater.dtype, rater.dtype))
    pairs = np.asarray(stats["pairs"], dtype=np.int64).reshape(-1, 3)
    if len(pairs) > 1 and not np.all(pairs[1:, 0] > pairs[:-1, 0]):
        pairs = pairs[np.argsort(pairs[:, 0], kind="stable")]
    return pairs[:, 0].copy(), pairs[:, 2].copy()


def label_counts(rater: np.ndarray, threads: int, name: str = "raters") -> dict:
    """{label: voxel count} of an integer label map (one C++ pass), labels validated."""
    labs, cnt = label_table(rater, threads, name)
    return dict(zip(labs.tolist(), cnt.tolist()))


def rater_names(maps, name: str = "raters") -> list:
    return [f"{name}[{k}]" for k in range(len(maps))]


def region_counts(maps, regions, is_mask: bool, threads: int, name: str = "raters") -> np.ndarray:
    """Voxel counts, shape (K raters, R regions)."""
    out = np.zeros((len(maps), len(regions)), dtype=np.int64)
    for k, r in enumerate(maps):
        if is_mask:
            out[k, :] = np.count_nonzero(r)
            continue
        cnt = label_counts(r, threads, f"{name}[{k}]")
        for i, (_, _, mem) in enumerate(regions):
            out[k, i] = sum(cnt.get(v, 0) for v in mem)
    return out


def present_labels(maps, threads: int, names=None) -> list:
    """Sorted non-zero labels present in any of the integer label maps (`names`: what
    to call each map in an error; default raters[k])."""
    names = rater_names(maps) if names is None else names
    found = [label_table(r, threads, nm)[0] for r, nm in zip(maps, names)]
    u = np.sort(np.concatenate(found)) if found else np.zeros(0, np.int64)
    if len(u):
        u = u[np.concatenate(([True], u[1:] != u[:-1]))]
    return u[u != 0].tolist()
