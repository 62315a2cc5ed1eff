"""Seeded calibration inputs past 2**24 elements in one bin (float32 counts saturate there) and
a float64 numpy reference of the binned sums (np.bincount), for the reference-numerics tests."""

from __future__ import annotations

import math

import numpy as np

N_BIG = (1 << 24) + (1 << 21)  # 18.9 M elements


def binary(seed: int, dtype=np.float32, n: int = N_BIG):
    """P(class 1) and 0/1 labels: 92 % of the voxels at p = 0 (one bin past 2**24), the rest
    uniform; labels drawn from p."""
    rng = np.random.default_rng(seed)
    p = np.zeros(n, dtype=dtype)
    soft = rng.random(n) < 0.08
    p[soft] = rng.random(int(soft.sum())).astype(dtype)
    t = (rng.random(n) < p).astype(np.uint8)
    return p, t


def top_label(seed: int, n_classes: int = 3, dtype=np.float32, n: int = N_BIG):
    """(C, n) probabilities whose top label is class 0 at about 0.993 for 90 % of the voxels
    (float32 confidence sums drift there), soft elsewhere; labels mostly 0."""
    rng = np.random.default_rng(seed)
    p = np.empty((n_classes, n), dtype=np.float64)
    p[1:] = rng.random((n_classes - 1, n)) * 0.01
    soft = rng.random(n) < 0.1
    p[1:, soft] = rng.random((n_classes - 1, int(soft.sum())))
    p[0] = np.maximum(0.0, 1.0 - p[1:].sum(axis=0))
    p /= p.sum(axis=0)
    t = np.where(rng.random(n) < 0.97, 0, rng.integers(0, n_classes, n)).astype(np.uint8)
    return p.astype(dtype), t


def float64_sums(conf, correct, slot, n_slots):
    """Exact counts, exact correct counts and correctly rounded (math.fsum) confidence sums per
    slot: the float64 reference of the bin sums."""
    conf = np.asarray(conf, dtype=np.float64)
    cnt = np.bincount(slot, minlength=n_slots).astype(np.float64)
    cor = np.bincount(slot, weights=np.asarray(correct, dtype=np.float64), minlength=n_slots)
    order = np.argsort(slot, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(cnt.astype(np.int64))])
    sc = np.array([math.fsum(conf[order[bounds[j]:bounds[j + 1]]]) for j in range(n_slots)])
    return cnt, cor, sc


def float64_reference(conf, correct, slot, n_slots, norm="l1"):
    """ECE ("l1", "l2", "max") or ACE ("ace") from the float64 bin sums of `float64_sums`."""
    cnt, cor, sc = float64_sums(conf, correct, slot, n_slots)
    nz = cnt > 0
    gap = np.abs(cor[nz] - sc[nz])
    if norm == "l1":
        return float(gap.sum() / cnt.sum())
    if norm == "max":
        return float(np.max(gap / cnt[nz]))
    if norm == "ace":
        return float(np.mean(gap / cnt[nz]))
    return float(np.sqrt(np.sum(gap * gap / cnt[nz]) / cnt.sum()))
