"""The binding layer of segscore._cpu: keyword calls, one dtype map with messages that name
the array and its dtype, the byte-order guard, typed surface-distance regions."""

from __future__ import annotations

import numpy as np
import pytest

from segscore._core.backends import cpu
from segscore.metrics.surface.functional import Region


def _calib_kwargs(**over):
    kw = dict(mask=None, class_axis=-1, ignore_label=None, edges=np.linspace(0, 1, 11), right_closed=0, below=0,
              above=0, cand_offset=0.0, cand_scale=0.0, cand_tol=0.0, exact_floor=False, n_classes=0, logits=False,
              mode=0, positive=1, round_f32=False, clip=False, clip_lo=0.0, clip_hi=1.0, want_scores=False,
              brier_sum_form=0, threads=1)
    kw.update(over)
    return kw


def test_calibration_stats_by_keyword_only():
    p = np.linspace(0, 1, 20).reshape(4, 5)
    t = (p > 0.5).astype(np.uint8)
    r = cpu().calibration_stats(p, t, **_calib_kwargs())
    assert int(r["count"].sum()) == 20 and r["count"].shape == (1, 10)
    kw = _calib_kwargs()
    with pytest.raises(TypeError):
        cpu().calibration_stats(p, t, *kw.values())  # the old 24 positional arguments
    with pytest.raises(TypeError):
        cpu().calibration_stats(p, t, **_calib_kwargs(bins=3))  # unknown keyword
    c = cpu().calibration_confidences(p, t, class_axis=-1, n_classes=0, logits=False, mode=0, positive=1,
                                      round_f32=False, clip=False, clip_lo=0.0, clip_hi=1.0)
    np.testing.assert_array_equal(c["values"][0], p.ravel())  # logical C order


def test_dtype_errors_name_the_array_and_dtype():
    t = np.zeros((4, 5), np.uint8)
    with pytest.raises(TypeError, match=r"probs has dtype int32; expected a float16 or float32 / float64"):
        cpu().calibration_stats(np.zeros((4, 5), np.int32), t, **_calib_kwargs())
    with pytest.raises(TypeError, match=r"target has dtype float64; expected a bool / integer array"):
        cpu().calibration_stats(np.zeros((4, 5)), np.zeros((4, 5)), **_calib_kwargs())
    with pytest.raises(TypeError, match=r"input has dtype complex128"):
        cpu().edt(np.zeros((3, 3), complex), np.empty((3, 3)), None, False, False, 1)
    with pytest.raises(TypeError, match=r"out has dtype int64"):
        cpu().edt(np.zeros((3, 3), bool), np.empty((3, 3), np.int64), None, False, False, 1)
    with pytest.raises(TypeError, match=r"members has dtype float16"):
        cpu().crps_ensemble(np.zeros(3), np.zeros((3, 4), np.float16), None, np.empty(3), 1)


def test_byte_order_guard_on_every_view():
    t = np.zeros((4, 5), np.uint8)
    with pytest.raises(TypeError, match="probs must be in native byte order"):
        cpu().calibration_stats(np.zeros((4, 5), np.dtype("f8").newbyteorder()), t, **_calib_kwargs())
    with pytest.raises(TypeError, match="obs must be in native byte order"):
        cpu().crps_gaussian(np.zeros(3, np.dtype("f8").newbyteorder()), np.zeros(3), np.ones(3), np.empty(3), 1)


def test_surface_distances_regions_typed_by_keyword():
    pred = np.zeros((8, 8), np.uint8)
    pred[2:5, 2:5] = 1
    ref = np.roll(pred, 1, axis=0)
    common = dict(boundary=1, connectivity=1, spacing=[1.0, 1.0], ignore_label=-1, biou_width=-1.0,
                  biou_strict=False, biou_unit_spacing=False, threads=1)
    named = cpu().surface_distances(pred, ref, regions=[Region((1,), (2, 2), (5, 4)), Region((2,), empty=True)],
                                    **common)
    plain = cpu().surface_distances(pred, ref, regions=[((1,), (2, 2), (5, 4), False), ((2,), (), (), True)], **common)
    assert len(named) == 2
    for a, b in zip(named, plain):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)
    assert len(named[1][0]) == 0 and len(named[0][0]) > 0
    with pytest.raises(TypeError):
        cpu().surface_distances(pred, ref, [Region((1,), (2, 2), (5, 4))], 1, 1, [1.0, 1.0], -1, -1.0, False, False, 1)
    with pytest.raises(TypeError):  # untyped regions are refused by the binding, not misread
        cpu().surface_distances(pred, ref, regions=[((1,), (2, 2), (5, 4))], **common)
