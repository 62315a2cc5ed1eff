"""The reference arithmetic of the calibration libraries that sum in float32: torch's CPU sum
order for a short vector, and the per-bin formulas of torchmetrics 1.9 (``_ce_compute``) and
MONAI 1.6.1 (``CalibrationErrorMetric``) in the dtype of their bin sums.

The bin sums themselves come from the C++ pass (``seq_bits``): each bin's confidence sum is
a running sum in that dtype updated in the elements' logical C order, as torch's CPU
``scatter_add_`` adds them (one element after another, on any thread count).  A float32 count
(torch adds 1.0 per element) stops at 2**24, and so does a float32 count of correct voxels:
both are ``min(n, 2**24)`` of the exact integers (`saturated`).

What remains here is the short arithmetic after the binning, done in the same dtype and in
the same order as the library on a CPU: per-bin means (a float division), gaps, products, and
``torch.sum`` over the bins.  ``torch.sum`` of a contiguous float vector on the CPU is
ATen's cascade sum: vectors of ``VEC`` lanes (32 bytes, torch's AVX2 kernels, the usual
dispatch on x86-64) summed four rows at a time with multi-level partial sums, the tail added
to a scalar, then the lanes in order.  On a machine where torch dispatches AVX-512 kernels
(64-byte vectors) the order of these last few additions differs, which moves the result by
about one float32 rounding (~1e-7 relative); the bin sums, which dominate, do not depend on
it.  On a GPU torch adds with atomics in no fixed order, so a reference that ran on a GPU
has no order to reproduce; segscore reproduces the CPU number: under these conventions a
device input is copied to the host once and binned there, counts and running sums in one
pass (the device kernels keep their float64 sums, used with ``exact=True``; see
docs/calibration.md).
"""

from __future__ import annotations

import math

import numpy as np

F32_COUNT_LIMIT = 1 << 24  # a float32 running count stops here: 2**24 + 1 rounds to 2**24
_VEC_BYTES = 32            # torch's AVX2 Vectorized<T>


def saturated(n: np.ndarray, dtype) -> np.ndarray:
    """Exact integer counts as a running count in `dtype` leaves them (1.0 added per element).

    float16: torch's CPU ``scatter_add_`` on a Half tensor accumulates each bin in float32 and
    rounds the total once to float16 (see `torchmetrics_ce`): ``min(n, 2**24)`` rounded to
    float16, which is inf from 65520 on."""
    n = np.asarray(n, dtype=np.int64)
    dt = np.dtype(dtype)
    if dt in (np.float32, np.float16):
        n = np.minimum(n, F32_COUNT_LIMIT)
    if dt == np.float16:
        with np.errstate(over="ignore"):
            return n.astype(np.float32).astype(np.float16)
    return n.astype(dtype)


def _ceil_log2(x: int) -> int:
    return 0 if x <= 1 else int(x - 1).bit_length()


def _multi_row_sum(rows: list, zero):
    """ATen's multi_row_sum over `rows` (each row a tuple of 4 accumulators' addends)."""
    levels = 4
    size = len(rows)
    power = max(4, _ceil_log2(size) // levels)
    step = 1 << power
    mask = step - 1
    acc = [[zero] * 4 for _ in range(levels)]
    i = 0
    while i + step <= size:
        for _ in range(step):
            for k in range(4):
                acc[0][k] = acc[0][k] + rows[i][k]
            i += 1
        for j in range(1, levels):
            for k in range(4):
                acc[j][k] = acc[j][k] + acc[j - 1][k]
                acc[j - 1][k] = zero
            if i & (mask << (j * power)):
                break
    for r in range(i, size):
        for k in range(4):
            acc[0][k] = acc[0][k] + rows[r][k]
    for j in range(1, levels):
        for k in range(4):
            acc[0][k] = acc[0][k] + acc[j][k]
    return acc[0]


def _row_sum(items: list, zero):
    """ATen's row_sum: 4 interleaved partial sums (multi-level), the tail, then the partials."""
    n = len(items)
    n4 = n // 4
    part = _multi_row_sum([tuple(items[4 * r:4 * r + 4]) for r in range(n4)], zero)
    for i in range(4 * n4, n):
        part[0] = part[0] + items[i]
    for k in range(1, 4):
        part[0] = part[0] + part[k]
    return part[0]


def torch_sum(x: np.ndarray, nan_as_zero: bool = False):
    """``torch.sum`` (``torch.nansum`` with `nan_as_zero`) of a 1-D float32 / float64 vector on
    the CPU, in ATen's order (AVX2 vectors), as a scalar of the vector's dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from segscore.calibration.reference import torch_sum
    >>> x = np.arange(1, 20, dtype=np.float32) / 3
    >>> float(torch_sum(x)) == float(np.float32(x.astype(np.float64).sum()))
    True
    """
    x = np.asarray(x)
    t = x.dtype.type
    if nan_as_zero:
        x = np.where(np.isnan(x), t(0), x)
    if x.dtype == np.float16:
        return _torch_sum_half(x)
    zero = t(0)
    w = _VEC_BYTES // x.itemsize
    n = len(x)
    if n < w:  # scalar path: row_sum over the elements
        return t(_row_sum([x[i] for i in range(n)], zero))
    nv = n // w
    lanes = _row_sum([x[i * w:(i + 1) * w].copy() for i in range(nv)], np.zeros(w, dtype=x.dtype))
    out = zero
    for i in range(nv * w, n):
        out = t(out + x[i])
    for k in range(w):
        out = t(out + lanes[k])
    return t(out)


def _torch_sum_half(x: np.ndarray):
    """``torch.sum`` of a 1-D float16 vector on the CPU (ATen's cascade sum in float32, AVX2):
    with at least 16 elements, each vector of 16 halves is converted to two float32 vectors
    and loaded as their sum, lanes ``h[i] + h[i+8]``, and these are summed as rows; the tail
    (or, below 16 elements, every element) is summed in float32, then the lanes; the total is
    rounded once to float16.  (Checked against torch 2.13 on sums whose float32 order shows
    through the final rounding: pairing ``h[2i] + h[2i+1]`` instead differs.)"""
    f = np.float32
    n = len(x)
    w = _VEC_BYTES // 2  # halves per Vectorized<Half>
    if n < w:
        out = _row_sum([f(v) for v in x], f(0))
    else:
        nv = n // w
        rows = []
        for i in range(nv):
            v = x[i * w:(i + 1) * w].astype(f)
            rows.append((v[:w // 2] + v[w // 2:]).astype(f))
        lanes = _row_sum(rows, np.zeros(w // 2, dtype=f))
        out = f(0)
        for i in range(nv * w, n):
            out = f(out + f(x[i]))
        for k in range(w // 2):
            out = f(out + lanes[k])
    with np.errstate(over="ignore"):
        return np.float16(out)


def _div(a, b, dtype):
    with np.errstate(invalid="ignore", divide="ignore"):
        return (np.asarray(a, dtype) / np.asarray(b, dtype)).astype(dtype)


def torchmetrics_ce(cnt, cor, sc, norm: str, dtype) -> float:
    """torchmetrics 1.9 ``_ce_compute`` from the bin sums, in `dtype` (float16, float32 or
    float64), the dtype of its bin tensors: the confidences' dtype.

    `cnt` / `cor`: exact integer counts per slot (the extra p = 1.0 slot included); `sc`: the
    running confidence sums (held as float64): in `dtype`, except for float16, whose bins torch
    accumulates in float32 (``scatter_add_`` on a Half tensor: a float32 running sum per bin
    in element order, rounded once to float16 at the end), so `sc` holds the float32 sums and
    is rounded here.  Everything after the binning is float16 arithmetic then (each operation
    rounded to float16; ``torch.sum`` accumulates in float32, see `_torch_sum_half`): a bin of
    65,520 voxels or more has an infinite count, which makes the l1 / l2 results nan / 0 as in
    torchmetrics (``max`` stays finite)."""
    dt = np.dtype(dtype)
    count = saturated(cnt, dt)
    with np.errstate(over="ignore"):
        sums = np.asarray(sc, dt)
    conf = np.nan_to_num(_div(sums, count, dt), nan=0.0, posinf=0.0, neginf=0.0)
    acc = np.nan_to_num(_div(saturated(cor, dt), count, dt), nan=0.0, posinf=0.0, neginf=0.0)
    prop = _div(count, torch_sum(count), dt)
    gap = (acc - conf).astype(dt)
    if norm == "l1":
        return float(torch_sum((np.abs(gap) * prop).astype(dt)))
    if norm == "max":
        return float(np.max(np.abs(gap)))
    ce = torch_sum(((gap * gap).astype(dt) * prop).astype(dt))
    return float(np.sqrt(ce).astype(dt)) if ce > 0 else 0.0


def _monai_means(cnt, cor, sc):
    f = np.float32
    count = saturated(cnt, f)
    safe = np.maximum(count, f(1))
    mean_p = _div(np.asarray(sc, f), safe, f)
    mean_gt = _div(saturated(cor, f), safe, f)
    diff = np.abs(mean_p - mean_gt).astype(f)
    return count, np.where(count == 0, f(np.nan), diff)


def monai_ce(cnt, cor, sc, reduction: str) -> float:
    """MONAI 1.6.1 ``CalibrationErrorMetric._compute_tensor`` of one channel from the bin sums
    (float32): ``"expected"`` (ECE), ``"average"`` (ACE) or ``"maximum"`` (MCE); nan when every
    bin is empty."""
    f = np.float32
    count, diff = _monai_means(cnt, cor, sc)
    if reduction == "expected":
        denom = torch_sum(count)
        if denom == 0:
            return math.nan
        return float(f(torch_sum((diff * count).astype(f), nan_as_zero=True) / denom))
    ok = ~np.isnan(diff)
    if not ok.any():
        return math.nan
    if reduction == "average":  # torch.nanmean: nansum / number of non-nan values
        return float(f(torch_sum(diff, nan_as_zero=True) / f(np.count_nonzero(ok))))
    return float(np.max(diff[ok]))


def monai_mean(values) -> float:
    """MONAI's ``do_metric_reduction(..., "mean")`` over the channels of one case (float32):
    nan channels are left out; nan when all are (MONAI returns 0 there, segscore nan)."""
    f = np.float32
    v = np.asarray(values, dtype=f)
    ok = ~np.isnan(v)
    if not ok.any():
        return math.nan
    return float(f(torch_sum(np.where(ok, v, f(0))) / f(np.count_nonzero(ok))))
