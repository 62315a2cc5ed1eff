"""Bin edges of each convention, in the arithmetic of the library it names (torch.linspace in
float32, numpy.linspace, np.arange, exact k/n), and the integer-floor candidate of exact edges."""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache

import numpy as np

from .conventions import CalibrationConvention

# ---------------------------------------------------------------------------
# bin edges


def _round_fraction(fr: Fraction, dtype) -> float:
    """Correctly rounded (to nearest, ties to even) value of an exact rational in float32/64."""
    if dtype == np.float64:
        return float(fr)
    x = np.float32(float(fr))  # may be double-rounded: check the neighbours
    cands = [np.nextafter(x, np.float32(-np.inf)), x, np.nextafter(x, np.float32(np.inf))]
    best = min(cands, key=lambda c: (abs(Fraction(float(c)) - fr), int(np.float32(c).view(np.uint32)) & 1))
    return float(best)


@lru_cache(maxsize=256)
def _torch_linspace(end: float, steps: int, dtype: str) -> tuple:
    """torch.linspace(0, end, steps, dtype=dtype) on the CPU, bit for bit.

    ATen's kernel: step = (end - start) / (steps - 1) in the dtype; the first
    half is start + step * i, the second half end - step * (steps - 1 - i),
    contracted to one fused multiply-add for float32/64 (float16 rounds every
    operation).  Checked against torch in tests/peers/torchmetrics/test_calibration.py."""
    dt = np.dtype(dtype).type
    if steps == 1:
        return (0.0,)
    half = steps // 2
    if dt == np.float16:
        # c10::Half arithmetic: integers become Half, each operation is done in float and rounded
        h = np.float16
        e = h(end)
        step = h(np.float32(e) / np.float32(h(steps - 1)))
        out = []
        for i in range(steps):
            if i < half:
                v = h(np.float32(step) * np.float32(h(i)))
            else:
                prod = h(np.float32(step) * np.float32(h(steps - 1 - i)))
                v = h(np.float32(e) - np.float32(prod))
            out.append(float(v))
        return tuple(out)
    e = dt(end)
    step = dt(e / dt(steps - 1))
    fe, fs = Fraction(float(e)), Fraction(float(step))
    out = []
    for i in range(steps):
        if i < half:
            v = _round_fraction(fs * i, dt)
        else:
            v = _round_fraction(fe - fs * (steps - 1 - i), dt)
        out.append(v)
    return tuple(out)


def _edges(conv: CalibrationConvention, n_bins: int, conf_dtype) -> np.ndarray:
    if conv.edges == "exact":
        return np.arange(n_bins + 1, dtype=np.float64) / n_bins
    if conv.edges == "numpy":
        return np.linspace(0.0, 1.0, n_bins + 1)
    if conv.edges == "arange":
        return np.arange(0, 1.00001, 1.0 / n_bins, dtype=np.float64)
    if conv.edges == "monai":
        return np.array(_torch_linspace(1.0 + float(np.finfo(np.float32).eps), n_bins + 1, "float32"))
    if conv.edges == "torch":
        dt = np.dtype(conf_dtype) if conv.edge_dtype == "confidence" else np.dtype(conv.edge_dtype)
        return np.array(_torch_linspace(1.0, n_bins + 1, dt.name))
    raise AssertionError(conv.edges)


def _candidate(edges: np.ndarray) -> tuple:
    """(offset, scale, tol) of the kernel's no-search fast path; scale 0 disables it."""
    n = len(edges) - 1
    lo, hi = float(edges[0]), float(edges[-1])
    if not hi > lo:
        return 0.0, 0.0, 0.0
    scale = n / (hi - lo)
    g = (edges - lo) * scale  # the kernel's own arithmetic (same IEEE operations)
    dev = float(np.max(np.abs(g - np.arange(n + 1))))
    tol = dev + 1e-12
    if tol >= 0.25:
        return 0.0, 0.0, 0.0
    return lo, scale, tol
