"""GPU calibration binning and CRPS: plan, allocate with the input's library, launch, collect.

`calibration_stats` and `calibration_confidences` take the arguments of
``segscore._cpu.calibration_stats`` / ``calibration_confidences`` (DeviceArray
inputs) and return the same dictionaries, so ``segscore.calibration.functional`` only
chooses the module.  One host synchronisation per call: the copy of the
reduced histogram, the counters and the Brier / NLL chunk sums (one buffer).

Only segscore's float64 sums are taken here (the segscore, metricsreloaded and netcal
conventions, and ``exact=True``): a convention's float32 reference arithmetic (torchmetrics,
monai, curvas) is a replay of the library's CPU element order, which
``segscore.calibration.binning._stats`` runs on the host from one copy of the inputs, without
a device pass.

Confidence sums come back exact (128-bit fixed point, see
gpu_score_kernels.h) and are rounded once to double here; the CPU driver adds
doubles in a fixed order, so the two agree to about 1e-15 relative, and the
GPU numbers are identical from run to run and for any launch shape.
"""

from __future__ import annotations

import math

import numpy as np

from . import plan as P
from .._core.arrays import DeviceArray
from .ops import _Alloc

_PTYPE = {2: 0, 4: 1, 8: 2}


def _spatial(probs: DeviceArray, class_axis: int):
    """Spatial shape, class-0 plane strides and class stride of probs."""
    if class_axis < 0:
        return probs.shape, probs.strides, 0
    sh = probs.shape[:class_axis] + probs.shape[class_axis + 1:]
    st = probs.strides[:class_axis] + probs.strides[class_axis + 1:]
    return sh, st, probs.strides[class_axis]


def _setup(*, probs, target, mask, class_axis, ignore_label, edges, right_closed, below, above, cand_offset, cand_scale,
           cand_tol, exact_floor, n_classes, logits, mode, positive, round_f32, clip, clip_lo, clip_hi, want_scores,
           brier_sum_form, threads=0):
    off, scale, tol, exact, scores = cand_offset, cand_scale, cand_tol, exact_floor, want_scores
    if probs.dtype.kind != "f" or probs.itemsize not in _PTYPE:
        raise TypeError(f"probs must be float16, float32 or float64, got {probs.dtype}")
    edges = np.ascontiguousarray(edges, dtype=np.float64)
    shape, pstr, cstr = _spatial(probs, class_axis)
    if tuple(shape) != tuple(target.shape):
        raise ValueError("segscore GPU calibration: probs' spatial shape does not match target")
    if mask is not None and tuple(mask.shape) != tuple(target.shape):
        raise ValueError("segscore GPU calibration: mask shape mismatch")
    # exact is the requested shortcut; the kernel keeps it only where calibration.h allows it
    params = dict(right_closed=right_closed, below=below, above=above, exact=exact, n_classes=n_classes,
                  logits=logits, mode=mode, positive=positive, round_f32=round_f32, clip=clip, off=off, scale=scale,
                  tol=tol, clip_lo=clip_lo, clip_hi=clip_hi)
    streams = (2 if n_classes == 0 else n_classes) if mode == 2 else 1
    slots = len(edges) - 1 + (1 if above == 2 else 0)
    plan = P.calib_plan(shape, pstr, target.strides, None if mask is None else mask.strides, cstr, edges, params,
                        streams, slots, scores, brier_sum_form, ignore_label, P.label_code(target.dtype),
                        -1 if mask is None else P.label_code(mask.dtype),
                        P.calib_float_path(params, probs.itemsize, scores, edges))
    return plan, streams, slots


def _tables(plan, A: _Alloc) -> tuple:
    """Device copies of the plan's int64 and float64 tables (pointers)."""
    ints, dbls = P.calib_tables(plan)
    return A.ptr(A.upload(ints)), A.ptr(A.upload(dbls))


def _labels_range(counters) -> tuple:
    if int(counters[P.CC_VOXELS]) == 0:
        return 0, -1
    return int(counters[P.CC_TMIN]), int(counters[P.CC_TMAX])


def calibration_stats(*, probs: DeviceArray, target: DeviceArray, mask, class_axis, ignore_label, edges, right_closed,
                      below, above, cand_offset, cand_scale, cand_tol, exact_floor, n_classes, logits, mode, positive,
                      round_f32, clip, clip_lo, clip_hi, want_scores, brier_sum_form, threads=0) -> dict:
    """segscore._cpu.calibration_stats on the GPU: the same keywords (``threads`` is ignored)."""
    scores = want_scores
    plan, streams, slots = _setup(probs=probs, target=target, mask=mask, class_axis=class_axis,
                                  ignore_label=ignore_label, edges=edges, right_closed=right_closed, below=below,
                                  above=above, cand_offset=cand_offset, cand_scale=cand_scale, cand_tol=cand_tol,
                                  exact_floor=exact_floor, n_classes=n_classes, logits=logits, mode=mode,
                                  positive=positive, round_f32=round_f32, clip=clip, clip_lo=clip_lo, clip_hi=clip_hi,
                                  want_scores=want_scores, brier_sum_form=brier_sum_form)
    lib, dev = probs.lib, probs.device
    with lib.device_ctx(dev):
        A = _Alloc(lib, dev, "the calibration pass")
        ints, dbls = _tables(plan, A)
        hist = A.empty(plan.copies * plan.keys * 4, np.int64)  # uint64 words (torch lacks uint64 ops)
        n_out = plan.keys * 4 + P.CC_W + plan.sums
        res = A.empty(n_out, np.int64)  # reduced histogram | counters (int64) | chunk sums (double)
        partial = A.empty(plan.partials, np.float64) if plan.partials else None
        base = A.ptr(res)
        launches = P.calib_launches(plan, _PTYPE[probs.itemsize], probs.ptr, target.ptr,
                                    0 if mask is None else mask.ptr, ints, dbls, A.ptr(hist),
                                    base + 8 * plan.keys * 4, base, A.ptr(partial) if partial is not None else 0,
                                    base + 8 * (plan.keys * 4 + P.CC_W) if plan.sums else 0)
        probs.backend.run(dev, lib.stream(dev), launches)
        host = np.asarray(lib.to_host(res))[:n_out].view(np.uint64)
    h = host[:plan.keys * 4].reshape(plan.keys, 4)
    counters = host[plan.keys * 4:plan.keys * 4 + P.CC_W].view(np.int64)
    sums = host[plan.keys * 4 + P.CC_W:].view(np.float64)
    half = len(sums) // 2
    tmin, tmax = _labels_range(counters)
    shape = (streams, slots)
    return dict(count=h[:, 0].astype(np.int64).reshape(shape), correct=h[:, 1].astype(np.int64).reshape(shape),
                sum_conf=P.fixed_to_double(h[:, 2], h[:, 3]).reshape(shape),
                brier_sum=math.fsum(sums[:half]) if scores else 0.0,
                nll_sum=math.fsum(sums[half:]) if scores else 0.0,
                scored=int(counters[P.CC_SCORED]), voxels=int(counters[P.CC_VOXELS]),
                invalid=int(counters[P.CC_INVALID]), target_min=tmin, target_max=tmax)


def calibration_confidences(*, probs: DeviceArray, target: DeviceArray, mask, class_axis, ignore_label, n_classes,
                            logits, mode, positive, round_f32, clip, clip_lo, clip_hi, threads=0) -> dict:
    """segscore._cpu.calibration_confidences on the GPU: the confidences of each stream are
    computed on the device and copied to the host (NaN marks skipped voxels), where the
    equal-mass edges are taken with numpy.  The label range and invalid count come from a
    binning pass with one bin."""
    edges = np.array([0.0, 1.0])
    kw = dict(probs=probs, target=target, mask=mask, class_axis=class_axis, ignore_label=ignore_label, edges=edges,
              right_closed=0, below=0, above=0, cand_offset=0.0, cand_scale=0.0, cand_tol=0.0, exact_floor=False,
              n_classes=n_classes, logits=logits, mode=mode, positive=positive, round_f32=round_f32, clip=clip,
              clip_lo=clip_lo, clip_hi=clip_hi, want_scores=False, brier_sum_form=0)
    st = calibration_stats(**kw)
    plan, streams, _ = _setup(**kw)
    lib, dev = probs.lib, probs.device
    nvox = int(np.prod(target.shape)) if target.shape else 1
    rows = []
    with lib.device_ctx(dev):
        A = _Alloc(lib, dev, "the confidences of the equal-mass binning")
        ints, dbls = _tables(plan, A)
        conf = A.empty(nvox, np.float64)
        for s in range(streams):
            launches = P.calib_conf_launches(plan, _PTYPE[probs.itemsize], probs.ptr, target.ptr,
                                             0 if mask is None else mask.ptr, ints, dbls, s, A.ptr(conf), nvox)
            probs.backend.run(dev, lib.stream(dev), launches)
            v = np.asarray(lib.to_host(conf))[:nvox]
            rows.append(v[~np.isnan(v)])
    n = min((len(r) for r in rows), default=0)
    values = np.stack([r[:n] for r in rows]) if rows else np.zeros((streams, 0))
    return dict(values=values, voxels=st["voxels"], invalid=st["invalid"], target_min=st["target_min"],
                target_max=st["target_max"])


# ----------------------------------------------------------------------------- CRPS

def _real_code(d: DeviceArray, name: str) -> int:
    if d.dtype == np.float64:
        return 1
    if d.dtype == np.float32:
        return 0
    raise TypeError(f"{name} is a GPU array of dtype {d.dtype}; the GPU CRPS takes float32 or float64 arrays "
                    "(convert with .astype(float64))")


def _out(lib, dev, shape, A: _Alloc):
    n = int(np.prod(shape)) if shape else 1
    return A._guard(lambda: lib.empty(tuple(shape), np.float64, dev), 8 * n)


def crps_gaussian(obs: DeviceArray, mu: DeviceArray, sigma: DeviceArray, shape):
    """Elementwise Gaussian CRPS over the broadcast `shape`; returns (array of the inputs'
    library, number of negative sigmas)."""
    lib, dev = obs.lib, obs.device
    types = _real_code(obs, "obs") | _real_code(mu, "mu") << 1 | _real_code(sigma, "sigma") << 2
    strides = [P.broadcast_strides(shape, d.shape, d.strides) for d in (obs, mu, sigma)]
    geo, n = P.crps_geo(shape, strides)
    with lib.device_ctx(dev):
        A = _Alloc(lib, dev, "the Gaussian CRPS")
        out = _out(lib, dev, shape, A)
        tab = A.upload(geo)
        bad = A.upload(np.zeros(1, dtype=np.int64))
        launches = P.crps_gaussian_launches(types, obs.ptr, mu.ptr, sigma.ptr, A.ptr(tab), n, lib.ptr(out), A.ptr(bad))
        obs.backend.run(dev, lib.stream(dev), launches)
        neg = int(np.asarray(lib.to_host(bad))[0])
    return out, neg


def crps_ensemble(obs: DeviceArray, members: DeviceArray, weights, axis: int, batch):
    """Ensemble CRPS, one thread per observation; `batch` is the broadcast batch shape."""
    lib, dev = obs.lib, obs.device
    m = members.shape[axis]
    mstr = members.strides[axis]
    drop = lambda t: t[:axis] + t[axis + 1:]  # noqa: E731
    types = _real_code(obs, "obs") | _real_code(members, "members") << 1
    strides = [P.broadcast_strides(batch, obs.shape, obs.strides),
               P.broadcast_strides(batch, drop(members.shape), drop(members.strides))]
    wstr = 0
    if weights is not None:
        types |= _real_code(weights, "weights") << 2
        wfull = P.broadcast_strides(members.shape, weights.shape, weights.strides)
        wstr = wfull[axis]
        strides.append(P.broadcast_strides(batch, drop(members.shape), drop(tuple(wfull))))
    geo, n = P.crps_geo(batch, strides, m, mstr, wstr)
    _, _, ws_doubles = P.crps_ensemble_shape(n, m, weights is not None)
    with lib.device_ctx(dev):
        A = _Alloc(lib, dev, "the ensemble CRPS")
        out = _out(lib, dev, batch, A)
        tab = A.upload(geo)
        ws = A.empty(ws_doubles, np.float64)
        launches = P.crps_ensemble_launches(types, obs.ptr, members.ptr, 0 if weights is None else weights.ptr,
                                            A.ptr(tab), n, m, A.ptr(ws), lib.ptr(out))
        obs.backend.run(dev, lib.stream(dev), launches)
    return out
