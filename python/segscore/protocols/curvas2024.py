"""The CURVAS 2024 evaluation protocol in one call.

CURVAS 2024 (MICCAI 2024 challenge "Calibration and Uncertainty for multiRater Volume
Assessment in multiorgan Segmentation") scored abdominal CT segmentations of the pancreas
(label 1), kidneys (2) and liver (3), each case annotated by three radiologists, with
three metrics.  The challenge's evaluation code (SYCAI-Technologies/curvas-challenge,
``CURVAS_2024/evaluation_metrics/metrics.py``) is reimplemented here from its formulas
(not copied) and reproduces its numbers, quirks included, under
``convention="curvas2024"`` (the default); ``convention="segscore"`` computes the
quantities the challenge describes, without its quirks.

Inputs
------
``prob``: ``(C, *spatial)`` organ probabilities in [0, 1], one channel per organ, no
background channel (the challenge's 3 confidence maps).  ``raters``: K integer label maps
of the spatial shape.  ``labels``: the organ label of each channel, in order (default
1..C; a ``{name: label}`` dict names them).  ``pred``: the binarised prediction (label
map) the challenge received with the probabilities; None derives it as the argmax over
(background = 1 - sum of organs, organ 1, ..., organ C), ties to the lower index.
``spacing``: mm per axis, for the volumes (None: 1, i.e. voxel counts, the challenge's
default ``voxel_proportion=1``).  ``ct``: the CT image, optional; when given, every array
is first cropped, as the challenge did, to the bounding box of ``ct > 0`` over the last
two axes (all leading axes pooled; MONAI ``CropForeground`` reading ``(slices, X, Y)`` as
channel-first).  The crop changes the ECE (fewer background voxels), not the rest.

Step by step
------------
1. Consensus per organ (:func:`segscore.consensus`): foreground where every rater marks
   the organ, background where none does, dissensus elsewhere.
2. Consensus Dice per organ: prediction outside the dissensus region against the
   consensus foreground.

   * curvas2024: the challenge passes the 3-D ``(slices, X, Y)`` arrays to MONAI's
     ``DiceMetric(include_background=False, reduction="mean", ignore_empty=True)``, which
     reads them as (batch, channel, spatial).  The score is therefore a mean of 1-D Dice
     coefficients along the last axis: for each index of axis 0, the mean over indices
     1.. of axis 1 (index 0 is dropped as "background") of rows whose consensus is not
     empty, then the mean over axis-0 indices that have such a row; 0.0 when none has
     (MONAI's reduction of an all-NaN tensor).  Arrays of other dimensionality follow
     the same (batch, channel, spatial...) reading; fewer than 3 axes raise.
   * segscore: the volumetric Dice (:func:`segscore.consensus_dice`), NaN when the
     prediction and the consensus are both empty, 0 when one is.

3. Confidence per organ (reported by the challenge's Dice function): the mean organ
   probability over the consensus foreground m_fg and over the consensus background
   m_bg; confidence = ((1 - m_bg) + m_fg) / 2 (NaN when a region is empty).
4. ECE, one per rater: top-label expected calibration error over every voxel with 50
   equal-width bins, classes (background = 1 - sum of organ probabilities, organ 1, ...,
   organ C), target = the rater's map (labels outside ``labels`` count as background).
   As torchmetrics 1.9 ``MulticlassCalibrationError(num_classes=C+1, n_bins=50)``
   computes it (the challenge's code): confidences = max class probability cast to
   float32, prediction = argmax, accuracy = prediction == target; bin b holds
   confidences in [b/50, (b+1)/50) with torchmetrics' float32 boundaries, and 1.0 in a
   bin of its own; ECE = sum over bins of |accuracy - confidence| x bin fraction.

   * curvas2024: torchmetrics applies a softmax over the classes when any value lies
     outside [0, 1], i.e. when the organ probabilities sum to more than 1 anywhere
     (background < 0, often by one rounding step), which changes every confidence; this
     is reproduced and reported in ``meta["ece_softmax"]``.
   * segscore: no softmax; the probabilities are used as given.

   Computed in the protocol's one pass with everything else (``segscore._cpu.curvas_stats``:
   the raters, the prediction and the organ channels read once, O(bins) memory for the ECE):
   the bin counts, one count of correct voxels per rater, and each bin's float32 running sum
   replayed in voxel order -- the numbers of :class:`segscore.Calibration` (convention
   "curvas") on the same input, to the bit, for any thread count.
   ``ece_mean`` is the mean over raters.
5. Volume CRPS per organ (:func:`segscore.volume_crps`): predicted volume = sum of the
   organ probabilities x voxel volume (under curvas2024 numpy's float32 sum of the cropped
   view, :func:`numpy_view_sum`), rater volumes = label voxel counts x voxel volume.

   * curvas2024: the challenge's tabulated-CDF integral over mu +- 3 sigma
     (:func:`segscore.probabilistic.crps.curvas2024_volume_crps`; sigma = 0 gives 0), by default with
     the challenge's own adaptive quadrature (``integration="quad"``, its published
     digits); ``integration="exact"`` integrates exactly (the two differ by up to ~2 %).  The challenge
     indexes ``np.unique``'s counts by position, which equals the label's count only
     when every label 0..k is present in the rater (otherwise it misreads or fails);
     segscore counts the label itself.
   * segscore: the closed-form Gaussian CRPS (sigma = 0 gives |v - mu|).

Sums follow the challenge's arithmetic under ``curvas2024``: the ECE is torchmetrics' on
the CPU (running float32 bin sums in voxel order, float32 counts stopping at 2**24, its
float32 formulas), the predicted volume numpy's float32 sum of the cropped view, in numpy
2.4's order (:func:`numpy_view_sum`).  ``exact=True`` and the ``segscore`` convention sum in
float64.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..probabilistic import raters as R
from .._core import validate as V
from .._core.backends import cpu, resolve_threads
from ..probabilistic.crps import _volume_score
from ..probabilistic.numpy_sum import numpy_view_sum, numpy_view_sums

N_BINS = 50
# curvas(convention=...): the challenge's own numbers, quirks included, or segscore's clean
# definitions of the same quantities (not segscore.CONVENTIONS, the surface conventions)
CURVAS_CONVENTIONS = ("curvas2024", "segscore")
# the volume_crps method of each convention (segscore.volume_crps(method=...))
VOLUME_METHOD = {"curvas2024": "curvas2024", "segscore": "gaussian"}
_SLAB = 1 << 21  # voxels per ECE slab


@dataclass
class CurvasResult:
    """Scores of one case under the CURVAS 2024 protocol (returned by :func:`curvas`).

    Attributes
    ----------
    dice : dict
        ``{label: float}``: consensus Dice per organ (the challenge's slice-wise MONAI
        reading under ``curvas2024``, volumetric under ``segscore``).
    crps : dict
        ``{label: float}``: volume CRPS per organ, in the volume unit (mm^3 with spacing,
        voxels without).
    confidence : dict
        ``{label: float}``: ``((1 - mean p over the consensus background) + mean p over the
        consensus foreground) / 2`` (nan when a region is empty).
    ece : list of float
        Top-label ECE (50 bins) against each rater, in rater order.
    ece_mean : float
        The mean of `ece`.
    volumes : dict
        ``{label: {"pred", "raters", "mean", "std"}}``: predicted volume (sum of
        probabilities x voxel volume), each rater's volume, their mean and population std.
    meta : dict
        ``convention``, ``labels``, ``spacing``, ``crop`` (the ct box or None),
        ``n_bins``, ``ece_softmax`` (whether torchmetrics' softmax was reproduced),
        ``raters``, ``pred`` ("given" or "argmax"), ``crps_integration``, ``sums``
        ("float64", or the float32 arithmetic reproduced).

    Methods
    -------
    to_dict()
        All fields as plain Python objects.
    to_pandas()
        One row per organ: dice, crps, confidence, vol_pred, vol_mean, vol_std (needs
        pandas).

    Examples
    --------
    >>> import numpy as np
    >>> import segscore as ss
    >>> r1 = np.zeros((2, 4, 4), np.uint8); r1[:, 1:3, 1:3] = 1; r1[:, 3, 3] = 2  # (slices, X, Y)
    >>> r2 = r1.copy(); r2[0, 0, 1] = 1
    >>> r3 = r1.copy(); r3[:, 3, 2] = 2
    >>> prob = np.zeros((2, 2, 4, 4))                                   # (organs, *spatial)
    >>> prob[0][r1 == 1] = 0.9; prob[0, 0, 0, 1] = 0.4
    >>> prob[1][r1 == 2] = 0.8; prob[1][:, 3, 2] = 0.3
    >>> pred = r1.copy(); pred[1, 0, 0] = 1; pred[0, 2, 2] = 0
    >>> res = ss.curvas(prob, [r1, r2, r3], labels={"organ": 1, "spot": 2}, pred=pred,
    ...                 integration="exact")
    >>> {k: round(v, 4) for k, v in res.dice.items()}
    {'organ': 0.9167, 'spot': 1.0}
    >>> res.volumes["spot"]["raters"], round(res.ece_mean, 4)
    ([2.0, 2.0, 4.0], 0.0792)
    >>> print(res.to_pandas()[["dice", "vol_pred", "vol_mean"]].round(4))  # doctest: +NORMALIZE_WHITESPACE
             dice  vol_pred  vol_mean
    label
    organ  0.9167       7.6    8.3333
    spot   1.0000       2.2    2.6667
    """

    dice: dict
    crps: dict
    confidence: dict
    ece: list
    ece_mean: float
    volumes: dict
    meta: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"dice": self.dice, "crps": self.crps, "confidence": self.confidence, "ece": list(self.ece),
                "ece_mean": self.ece_mean, "volumes": self.volumes, "meta": self.meta}

    def to_pandas(self):
        import pandas as pd

        rows = {}
        for k in self.dice:
            v = self.volumes[k]
            rows[k] = {"dice": self.dice[k], "crps": self.crps[k], "confidence": self.confidence[k],
                       "vol_pred": v["pred"], "vol_mean": v["mean"], "vol_std": v["std"]}
        df = pd.DataFrame.from_dict(rows, orient="index")
        df.index.name = "label"
        return df


# ---------------------------------------------------------------------------------------


def _crop_box(ct, shape):
    c = V.as_host_array(ct, "ct")
    if c.shape != shape:
        raise ValueError(f"ct has shape {c.shape} but the raters have shape {shape}; they must match")
    if c.ndim < 2:
        raise ValueError("ct must have at least 2 axes (the crop acts on the last two)")
    fg = np.any(c > 0, axis=tuple(range(c.ndim - 2))) if c.ndim > 2 else c > 0
    if not fg.any():
        raise ValueError("ct has no voxel > 0; the challenge's crop (bounding box of ct > 0) would be empty")
    box = []
    for ax in (0, 1):
        idx = np.flatnonzero(np.any(fg, axis=1 - ax))
        box.append((int(idx[0]), int(idx[-1]) + 1))
    return tuple(box)


def _crop(a, box):
    (y0, y1), (x0, x1) = box
    return a[..., y0:y1, x0:x1]


def _argmax_pred(prob, values):
    """Label map argmax over (1 - sum organs, organ 1, ..., organ C), ties to the lower index."""
    c = prob.shape[0]
    best = 1.0 - _organ_sum(prob)
    out = np.zeros(prob.shape[1:], dtype=np.int32)
    for i in range(c):
        better = prob[i] > best
        out[better] = values[i]
        best = np.where(better, prob[i], best)
    return out


def _organ_sum(prob):
    s = prob[0].copy()
    for i in range(1, prob.shape[0]):
        s += prob[i]  # ((p1 + p2) + p3) in the input dtype, as torch's sum over the class axis
    return s


# ---------------------------------------------------------------------------------------
# numpy's float sum of the cropped view (the challenge's predicted volume)

NUMPY_SUM_VERSION = "numpy 2.4 (the chunking of numpy >= 2.3's buffered reduction iterator)"
def _monai_rowwise_dice(pm, gt):
    """MONAI DiceMetric(include_background=False, reduction='mean', ignore_empty=True) on
    unbatched arrays read as (batch, channel, spatial...)."""
    if pm.ndim < 3:
        raise ValueError(
            "convention='curvas2024' reproduces MONAI's reading of the challenge's 3-D (slices, X, Y) arrays as "
            f"(batch, channel, spatial); arrays with {pm.ndim} axes cannot be read so: use convention='segscore'"
        )
    red = tuple(range(2, pm.ndim))
    inter = np.count_nonzero(pm & gt, axis=red)[:, 1:].astype(np.float64)
    sp = np.count_nonzero(pm, axis=red)[:, 1:].astype(np.float64)
    sg = np.count_nonzero(gt, axis=red)[:, 1:].astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        d = np.where(sg > 0, 2.0 * inter / (sg + sp), np.nan)
    valid = ~np.isnan(d)
    per_batch_n = valid.sum(axis=1)
    per_batch = np.where(per_batch_n > 0, np.where(valid, d, 0.0).sum(axis=1) / np.maximum(per_batch_n, 1), 0.0)
    nb = int(np.count_nonzero(per_batch_n > 0))
    return float(per_batch[per_batch_n > 0].sum() / nb) if nb else 0.0


def _torch_linspace_f32(n_bins):
    """torch.linspace(0, 1, n_bins + 1, dtype=float32) on CPU: the first half stepped up
    from 0, the second half down from 1, in float32 (torchmetrics' bin boundaries)."""
    steps = n_bins + 1
    step = np.float32(1.0) / np.float32(steps - 1)
    half = steps // 2
    i = np.arange(steps)
    lo = (np.float32(0.0) + step * i.astype(np.float32)).astype(np.float32)
    hi = (np.float32(1.0) - step * (steps - 1 - i).astype(np.float32)).astype(np.float32)
    return np.where(i < half, lo, hi).astype(np.float32)


def _classes(prob_slab, softmax):
    """(C+1, n) class probabilities: background first."""
    bg = 1.0 - _organ_sum(prob_slab)
    allp = np.concatenate([bg[None], prob_slab], axis=0)
    if softmax:
        x = allp.astype(np.float64)
        x = np.exp(x - x.max(axis=0, keepdims=True))
        allp = (x / x.sum(axis=0, keepdims=True)).astype(prob_slab.dtype)
    return allp


def _ece_per_rater(prob, maps, values, convention, exact=False, threads=None):
    """Top-label ECE (50 bins) of prob against every rater, as torchmetrics 1.9
    ``MulticlassCalibrationError`` computes it on the CPU: streamed by slabs through
    :class:`segscore.Calibration` (convention "curvas"), whose running float32 bin sums continue
    from slab to slab in voxel order (``exact``: float64 sums)."""
    from ..calibration.streaming import Calibration

    c = prob.shape[0]
    flat = prob.reshape(c, -1)
    n = flat.shape[1]
    targets = [r.reshape(-1) for r in maps]
    softmax = False
    if convention == "curvas2024":
        for s in range(0, n, _SLAB):
            if np.any(1.0 - _organ_sum(flat[:, s:s + _SLAB]) < 0):
                softmax = True
                break
    accs = [Calibration(N_BINS, "curvas", target_mode="top-label", exact=exact, threads=threads) for _ in maps]
    for s in range(0, n, _SLAB):
        allp = _classes(flat[:, s:s + _SLAB], softmax)
        for acc, t in zip(accs, targets):
            tt = t[s:s + _SLAB]
            cls = np.zeros(tt.shape, dtype=np.int8)
            for i, v in enumerate(values):
                cls[tt == v] = i + 1
            acc.update(allp, cls)
    return [acc.compute()["ece"] for acc in accs], softmax


def curvas(prob, raters, spacing=None, labels=None, pred=None, ct=None, convention="curvas2024", integration="quad",
           threads=None, exact=False):
    """Score one case under the CURVAS 2024 protocol: consensus Dice, volume CRPS, confidence, ECE.

    Follows the challenge's evaluation code step by step (see the module documentation,
    :mod:`segscore.protocols.curvas2024`): consensus regions of the raters per organ;
    consensus Dice of the prediction outside the dissensus; the organ confidence; one
    top-label ECE (50 bins, background = 1 - sum of organs) per rater; and the CRPS of the
    predicted organ volume against the raters' volumes.

    Parameters
    ----------
    prob : array_like
        ``(C, *spatial)`` organ probabilities in [0, 1], one channel per organ and no
        background channel (drop it with ``prob[1:]``).
    raters : sequence of array_like or array_like
        K integer label maps of the spatial shape (0 = background).
    spacing : sequence of float, optional
        mm per axis, for the volumes (None: 1, i.e. voxel counts, the challenge's
        ``voxel_proportion=1``).
    labels : sequence or dict, optional
        The organ label of each channel, in order (default 1..C); ``{name: label}`` names
        them.  One label per channel.
    pred : array_like, optional
        The binarised prediction (a label map) the challenge received with the
        probabilities; None: the argmax over (1 - sum of organs, organ 1, ..., organ C),
        ties to the lower index.
    ct : array_like, optional
        The CT image: every array is first cropped, as the challenge did, to the bounding
        box of ``ct > 0`` over the last two axes (it changes the ECE only).
    convention : {"curvas2024", "segscore"}, default "curvas2024"
        ``curvas2024``: the challenge's numbers, quirks included -- Dice as MONAI reads the
        3-D ``(slices, X, Y)`` arrays (a mean of 1-D row Dice coefficients; 3 or more axes
        needed), torchmetrics' softmax when organ probabilities sum above 1 anywhere
        (``meta["ece_softmax"]``), and the challenge's tabulated-CDF volume CRPS over mu +- 3
        sigma (sigma = 0 gives 0).  ``segscore``: the quantities the challenge describes,
        without the quirks -- volumetric consensus Dice (:func:`segscore.consensus_dice`), no
        softmax, the closed-form Gaussian CRPS (sigma = 0 gives ``|v - mu|``).  (Not a
        surface convention of :data:`segscore.CONVENTIONS`.)
    integration : {"quad", "exact"}, default "quad"
        The curvas2024 CRPS integral: the challenge's ``scipy.integrate.quad`` call (its
        published digits; needs scipy) or the exact integral (up to ~2 % apart).
    threads : int, optional
        CPU threads for the counting passes.
    exact : bool, default False
        float64 sums.  By default, under ``curvas2024``, the ECE is torchmetrics' on the CPU
        (running float32 bin sums in voxel order, counts stopping at 2**24) and the predicted
        volume is numpy's float32 sum of the cropped view (:func:`numpy_view_sum`, numpy
        2.4's order), as the challenge's code computes them; ``exact=True`` (and the
        ``segscore`` convention) sums both in float64.

    Returns
    -------
    CurvasResult

    Raises
    ------
    ValueError
        An unknown convention, shapes that do not match (`prob` must be ``(C, *spatial)``),
        a union label for a channel, a ct without voxels > 0, or fewer than 3 axes under
        ``curvas2024``.
    TypeError
        Bool rater masks (label maps are needed).

    Notes
    -----
    Under ``curvas2024`` the sums are the challenge's (torchmetrics' float32 ECE on the CPU,
    numpy 2.4's float32 sum of the cropped view for the volume); ``exact=True`` and the
    ``segscore`` convention sum in float64.  Empty regions: a
    consensus Dice whose consensus is empty on every row is 0.0 under curvas2024 (MONAI's
    reduction of an all-NaN tensor) and follows :func:`segscore.dice` (nan when both are
    empty, 0 when one is) under segscore; the confidence is nan when the consensus
    foreground or background is empty.

    References
    ----------
    .. [1] CURVAS 2024 challenge (MICCAI 2024), evaluation code: SYCAI-Technologies/curvas-
        challenge, CURVAS_2024/evaluation_metrics/metrics.py.
    .. [2] Gneiting, T. & Raftery, A. E. (2007). Strictly proper scoring rules, prediction, and
        estimation. Journal of the American Statistical Association 102(477), 359-378.
    .. [3] Naeini, M. P., Cooper, G. F. & Hauskrecht, M. (2015). Obtaining well calibrated
        probabilities using Bayesian binning. AAAI 2015, 2901-2907.

    Examples
    --------
    >>> import numpy as np
    >>> import segscore as ss
    >>> r1 = np.zeros((2, 4, 4), np.uint8); r1[:, 1:3, 1:3] = 1; r1[:, 3, 3] = 2  # (slices, X, Y)
    >>> r2 = r1.copy(); r2[0, 0, 1] = 1
    >>> r3 = r1.copy(); r3[:, 3, 2] = 2
    >>> prob = np.zeros((2, 2, 4, 4))                                   # (organs, *spatial)
    >>> prob[0][r1 == 1] = 0.9; prob[0, 0, 0, 1] = 0.4
    >>> prob[1][r1 == 2] = 0.8; prob[1][:, 3, 2] = 0.3
    >>> pred = r1.copy(); pred[1, 0, 0] = 1; pred[0, 2, 2] = 0
    >>> kw = dict(labels={"organ": 1, "spot": 2}, pred=pred, integration="exact")
    >>> res = ss.curvas(prob, [r1, r2, r3], **kw)
    >>> round(res.dice["organ"], 4), round(res.crps["organ"], 4), round(res.confidence["organ"], 4)
    (0.9167, 0.4916, 0.95)
    >>> [round(e, 3) for e in res.ece]  # one per rater
    [0.069, 0.075, 0.094]
    >>> round(ss.curvas(prob, [r1, r2, r3], convention="segscore", **kw).dice["organ"], 4)  # volumetric
    0.875
    """
    if convention not in CURVAS_CONVENTIONS:
        raise ValueError(f"convention must be one of {CURVAS_CONVENTIONS}, got {convention!r}")
    threads = resolve_threads(threads)
    maps, is_mask = R.as_raters(raters)
    if is_mask:
        raise TypeError("curvas() needs integer rater label maps (0 = background, one value per organ)")
    p = V.as_host_array(prob, "prob")
    if p.dtype not in (np.float32, np.float64) or p.ndim < 2 or p.shape[0] > 63:
        # float16, more organs than the pass holds (and the type / shape errors): the numpy path
        return _curvas_numpy(p, maps, spacing, labels, pred, ct, convention, integration, threads, exact)
    if p.size == 0:
        raise ValueError(f"prob is empty (shape {p.shape})")
    if not p.flags.c_contiguous:  # float sums follow the elements' logical order, whatever the layout
        p = np.ascontiguousarray(p)
    shape = maps[0].shape
    keys, values = _organ_channels(p, shape, labels, check=_check_prob_values)
    pr = None
    if pred is not None:
        pr = _pred_map(pred, shape)
    box = None
    full_p = p
    if ct is not None:
        box = _crop_box(ct, shape)
        _check_prob_values(p)  # the voxels outside the crop are not read by the pass
        maps = [_crop(r, box) for r in maps]
        p = _crop(p, box)
        if pr is not None:
            pr = _crop(pr, box)
    sp = V.check_spacing(spacing, len(shape))
    voxel = float(np.prod(sp))
    k = len(maps)
    if convention == "curvas2024" and len(shape) < 3:
        raise ValueError(
            "convention='curvas2024' reproduces MONAI's reading of the challenge's 3-D (slices, X, Y) arrays as "
            f"(batch, channel, spatial); arrays with {len(shape)} axes cannot be read so: use convention='segscore'"
        )

    # the one pass: consensus counts, probability sums, the top-label bins of every rater,
    # MONAI's row counts, the argmax prediction when none is given
    from ..calibration.conventions import get_convention
    from ..calibration.edges import _candidate, _edges
    from ..probabilistic.onepass import RaterStats

    conv = get_convention("curvas")
    edges = np.asarray(_edges(conv, N_BINS, np.dtype(np.float32)), dtype=np.float64)
    off, scale, tol = _candidate(edges)
    monai = convention == "curvas2024"
    float64_sums = exact or convention == "segscore"
    softmax_mode = 2 if monai else 0  # 2: the pass looks for a background < 0 first
    if not float64_sums:
        # the challenge's predicted volumes (numpy's sum of the cropped view), and torchmetrics'
        # softmax rule, from one read of the channels
        pred_sums, over = numpy_view_sums([full_p[i] for i in range(p.shape[0])], box, threads, overfull=monai)
        softmax_mode = 1 if over else 0
    raw = cpu().curvas_stats(list(maps),  # label maps: bool raters were refused above
                             None if pr is None else (pr.view(np.uint8) if pr.dtype == np.bool_ else pr),
                             [p[i] for i in range(p.shape[0])], [int(v) for v in values], edges.tolist(), off, scale,
                             tol, softmax_mode, monai, threads, float64_sums)
    if box is None:
        _check_pass_values(raw, "prob")
    st = RaterStats(raw, k, True, int(np.prod(p.shape[1:])), values)

    dice, confidence, crps, volumes = {}, {}, {}, {}
    if not monai:
        from ..metrics import empty as _empty
        from ..metrics.overlap import overlap_value
        from ..metrics.surface import conventions as _conv

        user, sconv = _empty.normalize(None), _conv.get("segscore")
    for i, (key, v) in enumerate(zip(keys, values)):
        if monai:
            g = raw["groups"][i].reshape(p.shape[1], p.shape[2], 3)
            dice[key] = _monai_dice_from_counts(g[..., 0], g[..., 1], g[..., 2])
        else:
            dice[key] = overlap_value("dice", *st.consensus_counts(v), user, sconv.empty)
        votes = st.votes(v)
        n_fg, n_bg = int(votes[k]), int(votes[0])
        m_fg = float(st.pfg[i]) / n_fg if n_fg else math.nan
        m_bg = float(st.pbg[i]) / n_bg if n_bg else math.nan
        confidence[key] = float(((1.0 - m_bg) + m_fg) / 2.0)
        if not float64_sums:  # the challenge: numpy's sum of the cropped view
            pred_vol = pred_sums[i] * voxel
        else:
            pred_vol = float(np.sum(p[i], dtype=np.float64)) * voxel
        rater_vols = st.rater_counts(v).astype(np.float64) * voxel
        mu, sigma = float(np.mean(rater_vols)), float(np.std(rater_vols))
        crps[key] = _volume_score(pred_vol, rater_vols, method=VOLUME_METHOD[convention], integration=integration)
        volumes[key] = {"pred": pred_vol, "raters": rater_vols.tolist(), "mean": mu, "std": sigma}

    softmax = bool(raw["softmax"])
    if not monai and raw["invalid"]:
        _raise_class_values(raw)
    ece = _ece_from_bins(raw, edges, k, p.shape[0] + 1, conv, float64_sums)
    meta = {"convention": convention, "labels": dict(zip(keys, values)), "spacing": sp, "crop": box,
            "n_bins": N_BINS, "ece_softmax": softmax, "ece_source": "segscore.Calibration (convention 'curvas')",
            "raters": k, "pred": "given" if pred is not None else "argmax", "crps_integration": integration,
            "sums": "float64" if float64_sums
            else f"float32 (torchmetrics 1.9 CPU; {NUMPY_SUM_VERSION})"}
    return CurvasResult(dice, crps, confidence, ece, float(np.mean(ece)), volumes, meta)


def _organ_channels(p, shape, labels, check=None):
    """(keys, label values) of the (C, *spatial) organ channels; `check(p)` runs before a
    shape error is raised (the order of the checks of R.as_prob)."""
    if p.ndim != len(shape) + 1 or p.shape[1:] != shape:
        if check is not None:
            check(p)
        raise ValueError(
            f"prob has shape {p.shape} but the raters have shape {shape}; curvas() takes (C, *spatial) organ "
            "probabilities, one channel per organ and no background channel (drop it with prob[1:])"
        )
    items = R._parse_channel_labels(labels, p.shape[0])
    for key, mem in items:
        if len(mem) != 1:
            raise ValueError(f"curvas() scores one label per channel; labels[{key!r}] is a union {mem}")
    keys = [k for k, _ in items]
    values = [mem[0] for _, mem in items]
    return keys, values


def _pred_map(pred, shape):
    """The given prediction as a host label map on the raters' grid."""
    pr = V.as_host_array(pred, "pred")
    V.check_label_map(pr, "pred")
    if pr.shape != shape:
        raise ValueError(f"pred has shape {pr.shape} but the raters have shape {shape}; they must match")
    return pr


def _check_prob_values(p):
    """R.as_prob's value checks (NaN, outside [0, 1]) on the whole array."""
    lo, hi = float(np.min(p)), float(np.max(p))
    if np.isnan(lo) or np.isnan(hi):
        raise ValueError("prob contains NaN; probabilities must be finite numbers in [0, 1]")
    if lo < 0.0 or hi > 1.0:
        raise ValueError(f"prob has values in [{lo}, {hi}]; probabilities must lie in [0, 1] "
                         "(logits? apply softmax/sigmoid first)")


def _check_pass_values(raw, name):
    """R.as_prob's value checks from the pass's per-channel NaN counts and ranges."""
    if int(np.sum(raw["pnan"])):
        raise ValueError(f"{name} contains NaN; probabilities must be finite numbers in [0, 1]")
    lo, hi = float(np.min(raw["pmin"])), float(np.max(raw["pmax"]))
    if lo < 0.0 or hi > 1.0:
        raise ValueError(f"{name} has values in [{lo}, {hi}]; probabilities must lie in [0, 1] "
                         "(logits? apply softmax/sigmoid first)")


def _raise_class_values(raw):
    """segscore.Calibration's refusal of a background 1 - sum of organs outside [0, 1]."""
    out = int(raw["invalid"])
    lo = min(float(raw["cmin"]), float(np.min(raw["pmin"])))
    hi = max(float(raw["cmax"]), float(np.max(raw["pmax"])))
    raise ValueError(f"probs contains {out} value{'s' if out != 1 else ''} outside [0, 1] (min {lo:g}, max {hi:g}); "
                     "probabilities must lie in [0, 1]. If these are logits, pass logits=True (segscore never guesses)")


def _ece_from_bins(raw, edges, k, n_classes, conv, float64_sums):
    """Each rater's ECE from the pass's bins, as segscore.Calibration (convention 'curvas')
    computes it from its own: torchmetrics' float32 formulas on the running float32 sums, or
    float64 on the exact sums."""
    from ..calibration.reliability import Reliability, _arith, _display_edges

    cnt = np.asarray(raw["count"], dtype=np.int64)
    sc = np.asarray(raw["exact"] if float64_sums else raw["seq"], dtype=np.float64)
    disp = _display_edges(edges, len(cnt))
    arith = _arith(conv, None if float64_sums else np.dtype(np.float32))
    out = []
    for r in range(k):
        rel = Reliability(disp, cnt, np.asarray(raw["correct"][r], dtype=np.int64), sc, int(cnt.sum()), "top-label",
                          conv.name, None, 0.0, 0.0, 0, n_classes, **arith)
        out.append(rel.ece("l1"))
    return out


def _monai_dice_from_counts(sp, inter, sg):
    """_monai_rowwise_dice from the (batch, channel) row counts |pm|, |pm & gt|, |gt|."""
    inter = inter[:, 1:].astype(np.float64)
    sp = sp[:, 1:].astype(np.float64)
    sg = sg[:, 1:].astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        d = np.where(sg > 0, 2.0 * inter / (sg + sp), np.nan)
    valid = ~np.isnan(d)
    per_batch_n = valid.sum(axis=1)
    per_batch = np.where(per_batch_n > 0, np.where(valid, d, 0.0).sum(axis=1) / np.maximum(per_batch_n, 1), 0.0)
    nb = int(np.count_nonzero(per_batch_n > 0))
    return float(per_batch[per_batch_n > 0].sum() / nb) if nb else 0.0


def _curvas_numpy(prob, raters, spacing=None, labels=None, pred=None, ct=None, convention="curvas2024",
                  integration="quad", threads=None, exact=False):
    """The numpy reference implementation of :func:`curvas` (per-label vote arrays, slabs of
    segscore.Calibration): used for probabilities that are neither float32 nor float64, and
    by the tests as the reference of the one pass."""
    threads = resolve_threads(threads)
    maps, is_mask = R.as_raters(raters)
    if is_mask:
        raise TypeError("curvas() needs integer rater label maps (0 = background, one value per organ)")
    shape = maps[0].shape
    p = R.as_prob(prob)
    keys, values = _organ_channels(p, shape, labels)
    if pred is not None:
        pr = _pred_map(pred, shape)
    box = None
    full_p = p
    if ct is not None:
        box = _crop_box(ct, shape)
        maps = [_crop(r, box) for r in maps]
        p = _crop(p, box)
        if pred is not None:
            pr = _crop(pr, box)
    if pred is None:
        pr = _argmax_pred(p, values)
    sp = V.check_spacing(spacing, len(shape))
    voxel = float(np.prod(sp))
    k = len(maps)

    dice, confidence, crps, volumes = {}, {}, {}, {}
    for i, (key, v) in enumerate(zip(keys, values)):
        votes = np.zeros(maps[0].shape, dtype=np.uint16)
        for r in maps:
            votes += r == v
        fg = votes == k
        bg = votes == 0
        dis = ~(fg | bg)
        pm = (pr == v) & ~dis
        if convention == "curvas2024":
            dice[key] = _monai_rowwise_dice(pm, fg)
        else:
            from ..metrics.overlap import dice as _dice

            dice[key] = _dice(pm, fg, threads=threads)
        ch = p[i]
        m_fg = float(np.sum(ch, where=fg, dtype=np.float64)) / n if (n := np.count_nonzero(fg)) else math.nan
        m_bg = float(np.sum(ch, where=bg, dtype=np.float64)) / n if (n := np.count_nonzero(bg)) else math.nan
        confidence[key] = float(((1.0 - m_bg) + m_fg) / 2.0)
        if convention == "curvas2024" and not exact:  # the challenge: numpy's sum of the cropped view
            pred_vol = numpy_view_sum(full_p[i], box) * voxel
        else:
            pred_vol = float(np.sum(ch, dtype=np.float64)) * voxel
        rater_vols = np.array([np.count_nonzero(r == v) for r in maps], dtype=np.float64) * voxel
        mu, sigma = float(np.mean(rater_vols)), float(np.std(rater_vols))
        crps[key] = _volume_score(pred_vol, rater_vols, method=VOLUME_METHOD[convention], integration=integration)
        volumes[key] = {"pred": pred_vol, "raters": rater_vols.tolist(), "mean": mu, "std": sigma}

    ece, softmax = _ece_per_rater(p, maps, values, convention, exact or convention == "segscore", threads)
    meta = {"convention": convention, "labels": dict(zip(keys, values)), "spacing": sp, "crop": box,
            "n_bins": N_BINS, "ece_softmax": softmax, "ece_source": "segscore.Calibration (convention 'curvas')",
            "raters": k, "pred": "given" if pred is not None else "argmax", "crps_integration": integration,
            "sums": "float64" if (exact or convention == "segscore")
            else f"float32 (torchmetrics 1.9 CPU; {NUMPY_SUM_VERSION})"}
    return CurvasResult(dice, crps, confidence, ece, float(np.mean(ece)), volumes, meta)


def __getattr__(name):
    if name == "CONVENTIONS":  # the former name of CURVAS_CONVENTIONS
        import warnings

        warnings.warn("segscore.protocols.curvas2024.CONVENTIONS is deprecated; use CURVAS_CONVENTIONS "
                      "(segscore.CONVENTIONS is the surface conventions)", DeprecationWarning, stacklevel=2)
        return CURVAS_CONVENTIONS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
