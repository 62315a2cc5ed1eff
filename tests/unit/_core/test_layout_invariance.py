"""The same values in any memory layout give bit-identical results, in every public function.

Byte order (big-endian NIfTI data), Fortran order, strided and reversed views and unaligned
buffers hold the same logical array; segscore converts byte order at the boundary and never
lets a float sum follow memory order, so every result must be identical to the last bit
(nan == nan) to the native C-ordered call.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import segscore as ss

LAYOUTS = ("swapped", "fortran", "strided", "reversed", "unaligned", "swapped-fortran")


def relayout(a: np.ndarray, how: str) -> np.ndarray:
    """A view or copy of `a` with the same logical values in another memory layout."""
    a = np.asarray(a)
    if how == "swapped":
        return a.astype(a.dtype.newbyteorder(), order="C")
    if how == "fortran":
        return np.asfortranarray(a)
    if how == "swapped-fortran":
        return a.astype(a.dtype.newbyteorder(), order="F")
    if how == "strided":
        big = np.zeros(tuple(2 * n for n in a.shape), dtype=a.dtype)
        view = big[tuple(slice(None, None, 2) for _ in a.shape)]
        view[...] = a
        return view
    if how == "reversed":
        flipped = np.ascontiguousarray(a[tuple(slice(None, None, -1) for _ in a.shape)])
        return flipped[tuple(slice(None, None, -1) for _ in a.shape)]
    if how == "unaligned":
        buf = np.zeros(a.nbytes + 1, dtype=np.uint8)
        view = buf[1:].view(a.dtype).reshape(a.shape)
        view[...] = a
        return view
    raise ValueError(how)


def _bits(x):
    """A hashable, exact image of a result (floats by their bits, nan == nan)."""
    if isinstance(x, float):
        return ("f", "nan" if math.isnan(x) else np.float64(x).tobytes())
    if isinstance(x, (int, str, bool, type(None))):
        return x
    if isinstance(x, np.ndarray):
        if x.dtype.kind == "f":
            x = np.where(np.isnan(x), np.nan, x)  # one NaN bit pattern
        return ("a", x.shape, str(x.dtype.newbyteorder("=")), np.ascontiguousarray(x).tobytes())
    if isinstance(x, np.generic):
        return _bits(x.item())
    if isinstance(x, dict):
        return ("d", tuple((k, _bits(v)) for k, v in x.items()))
    if isinstance(x, (tuple, list)):
        return ("t", tuple(_bits(v) for v in x))
    if hasattr(x, "to_dict") and not isinstance(x, type):
        return _bits(x.to_dict())
    if hasattr(x, "__dict__"):
        return ("o", type(x).__name__, tuple((k, _bits(v)) for k, v in sorted(vars(x).items())
                                            if not k.startswith("_") or k in ("_biou",)))
    return repr(x)


def _outcome(fn, data):
    """The result's bits, or the error (same type and message) it raised."""
    try:
        return _bits(fn(data))
    except ValueError as exc:  # e.g. an empty-mask policy that raises: the same error either way
        return ("raised", type(exc).__name__, str(exc))


def _surface(sd, masd=True):
    return (sd.directed, sd.hausdorff(), sd.hd95(), sd.assd(), sd.masd() if masd else None, sd.nsd(1.0))


def _rel(r):
    return (r.count, r.correct, r.sum_confidence, r.ece(), r.mce())


# Each entry: (name, function of the arrays, builder of the arrays from a seed).
def _labels(rng, shape, k=3):
    a = rng.integers(0, k + 1, size=shape).astype(np.int32)
    a[rng.random(shape) < 0.5] = 0
    return a


def _masks(rng):
    shape = tuple(int(n) for n in rng.integers(3, 9, size=int(rng.integers(2, 4))))
    return {"pred": rng.random(shape) < 0.4, "ref": rng.random(shape) < 0.4}


def _maps(rng):
    shape = tuple(int(n) for n in rng.integers(3, 9, size=int(rng.integers(2, 4))))
    return {"pred": _labels(rng, shape), "ref": _labels(rng, shape).astype(np.uint16)}


def _probs(rng):
    shape = tuple(int(n) for n in rng.integers(3, 12, size=int(rng.integers(1, 4))))
    p = rng.dirichlet(np.ones(3), size=shape)
    return {"probs": np.ascontiguousarray(np.moveaxis(p, -1, 0)), "target": rng.integers(0, 3, size=shape)}


def _binary_probs(rng):
    shape = tuple(int(n) for n in rng.integers(3, 12, size=int(rng.integers(1, 4))))
    dt = np.float32 if rng.random() < 0.5 else np.float64
    return {"probs": rng.random(shape).astype(dt), "target": rng.random(shape) < 0.5}


def _raters(rng):
    shape = tuple(int(n) for n in rng.integers(4, 9, size=3))
    p = rng.random((3,) + shape)
    return {"prob": (p / p.sum(0))[1], "pred": _labels(rng, shape, 2),
            "r0": _labels(rng, shape, 2), "r1": _labels(rng, shape, 2), "r2": _labels(rng, shape, 2)}


def _ensemble(rng):
    n = int(rng.integers(1, 40))
    m = int(rng.integers(2, 20))
    x = rng.normal(size=(n, m))
    x[rng.random((n, m)) < 0.1] = np.nan
    return {"obs": rng.normal(size=n), "members": x, "weights": rng.random((n, m))}


def _gauss(rng):
    n = int(rng.integers(1, 50))
    return {"obs": rng.normal(size=n), "mu": rng.normal(size=n), "sigma": rng.random(n) * 2}


SP3 = (0.7, 1.3, 2.1)


def _sp(a):
    return SP3[:a.ndim] if a.ndim <= 3 else None


CASES = [
    ("dice", lambda d: ss.dice(d["pred"], d["ref"]), _maps),
    ("iou/precision/recall/specificity/vs", lambda d: [f(d["pred"], d["ref"]) for f in (
        ss.iou, ss.precision, ss.recall, ss.specificity, ss.volume_similarity)], _maps),
    ("confusion", lambda d: ss.confusion(d["pred"], d["ref"], spacing=_sp(d["pred"])), _maps),
    ("mask dice", lambda d: ss.dice(d["pred"], d["ref"]), _masks),
    ("edt", lambda d: ss.edt(d["pred"], spacing=_sp(d["pred"])), _masks),
    ("edt float32", lambda d: ss.edt(d["pred"], spacing=_sp(d["pred"]), dtype="float32"), _masks),
    ("edt_multilabel", lambda d: ss.edt_multilabel(d["pred"], spacing=_sp(d["pred"])), _maps),
    ("surface segscore", lambda d: {k: _surface(v) for k, v in ss.surface_distances(
        d["pred"], d["ref"], spacing=_sp(d["pred"])).items()}, _maps),
    ("surface monai", lambda d: _surface(ss.surface_distances(d["pred"], d["ref"], spacing=_sp(d["pred"]),
                                                              convention="monai"), masd=False), _masks),
    ("hd/hd95/assd/masd/nsd/biou", lambda d: [
        ss.hausdorff(d["pred"], d["ref"], spacing=_sp(d["pred"])), ss.hd95(d["pred"], d["ref"]),
        ss.assd(d["pred"], d["ref"], convention="medpy"), ss.masd(d["pred"], d["ref"]),
        ss.nsd(d["pred"], d["ref"], tolerance=1.0), ss.boundary_iou(d["pred"], d["ref"]),
        ss.surface_overlap(d["pred"], d["ref"], tolerance=1.0)], _maps),
    ("evaluate", lambda d: ss.evaluate(d["pred"], d["ref"], spacing=_sp(d["pred"]),
                                       metrics=["dice", "hd", "hd95", "assd", "nsd@1", "biou@1"]), _maps),
    ("ece/brier/nll", lambda d: [ss.ece(d["probs"], d["target"]), ss.brier(d["probs"], d["target"]),
                                 ss.nll(d["probs"], d["target"]), ss.ace(d["probs"], d["target"]),
                                 ss.ece(d["probs"], d["target"], convention="monai"),
                                 ss.ece(d["probs"], d["target"], convention="torchmetrics")], _probs),
    ("reliability", lambda d: _rel(ss.reliability(d["probs"], d["target"])), _probs),
    ("binary calibration", lambda d: [ss.ece(d["probs"], d["target"]), ss.mce(d["probs"], d["target"]),
                                      ss.brier(d["probs"], d["target"]),
                                      ss.ece(d["probs"], d["target"], convention="netcal")], _binary_probs),
    ("Calibration", lambda d: ss.Calibration().update(d["probs"], d["target"]).compute(), _probs),
    ("crps_gaussian", lambda d: ss.crps_gaussian(d["obs"], d["mu"], d["sigma"]), _gauss),
    ("crps_ensemble", lambda d: ss.crps_ensemble(d["obs"], d["members"], d["weights"]), _ensemble),
    ("consensus", lambda d: ss.consensus([d["r0"], d["r1"], d["r2"]]), _raters),
    ("consensus_dice", lambda d: ss.consensus_dice(d["pred"], [d["r0"], d["r1"], d["r2"]]), _raters),
    ("soft_dice", lambda d: ss.soft_dice(d["prob"], [d["r0"] == 1, d["r1"] == 1, d["r2"] == 1]), _raters),
    ("volume_crps", lambda d: ss.volume_crps(d["prob"], [d["r0"] == 1, d["r1"] == 1, d["r2"] == 1],
                                             spacing=(0.5, 0.5, 2.0)), _raters),
    ("volume_crps label maps", lambda d: ss.volume_crps(d["prob"], [d["r0"], d["r1"], d["r2"]], labels=1,
                                                        convention="ensemble"), _raters),
    ("multirater", lambda d: ss.multirater(d["pred"], [d["r0"], d["r1"], d["r2"]], metrics=["dice", "hd95"]),
     _raters),
    ("ged", lambda d: ss.ged([d["r0"] == 1, d["r1"] == 1], [d["pred"] == 1, d["r2"] == 1]), _raters),
]


@pytest.mark.parametrize("name,fn,build", CASES, ids=[c[0] for c in CASES])
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), layouts=st.lists(st.sampled_from(LAYOUTS), min_size=6, max_size=6))
def test_any_layout_bit_identical(name, fn, build, seed, layouts):
    data = build(np.random.default_rng(seed))
    want = _outcome(fn, data)
    moved = {k: relayout(v, layouts[i % len(layouts)]) if isinstance(v, np.ndarray) else v
             for i, (k, v) in enumerate(data.items())}
    got = _outcome(fn, moved)
    assert got == want, f"{name}: layouts {dict(zip(data, layouts))} changed the result"


@pytest.mark.parametrize("how", LAYOUTS)
def test_every_layout_of_a_ct_like_float_map(how):
    """Float sums over a larger map (many threads' partial sums) in every layout."""
    rng = np.random.default_rng(7)
    p = rng.dirichlet(np.ones(4), size=(40, 37, 29)).astype(np.float32)
    probs = np.ascontiguousarray(np.moveaxis(p, -1, 0))
    target = rng.integers(0, 4, size=(40, 37, 29))
    want = _bits([ss.ece(probs, target), ss.brier(probs, target), ss.nll(probs, target),
                  ss.soft_dice(probs[1].astype(np.float64), [target == 1, target == 1])])
    q, t = relayout(probs, how), relayout(target, how)
    got = _bits([ss.ece(q, t), ss.brier(q, t), ss.nll(q, t),
                 ss.soft_dice(relayout(probs[1].astype(np.float64), how), [t == 1, t == 1])])
    assert got == want


def test_big_endian_reproductions():
    a = np.zeros((8, 8, 8), ">i4")
    a[2:5, 2:5, 2:5] = 1
    assert ss.dice(a, a) == {1: 1.0}
    assert ss.hd95(a, a.astype("<i4"), label=1) == 0.0
    got = ss.crps_gaussian(np.array([0.5, 1, 2], ">f8"), 0.0, 1.0)
    np.testing.assert_array_equal(got, ss.crps_gaussian(np.array([0.5, 1, 2]), 0.0, 1.0))
    np.testing.assert_allclose(got, [0.331404, 0.602441, 1.452792], rtol=1e-5)
    x = np.random.default_rng(0).random((20, 5))
    np.testing.assert_array_equal(ss.crps_ensemble(np.array(0.3, ">f8"), x.astype(">f8")),
                                  ss.crps_ensemble(0.3, x))


def test_binding_refuses_non_native_byte_order():
    """The compiled core's last guard: a byte-swapped array reaching it raises, never is misread."""
    from segscore._core.backends import cpu

    a = np.ones((4, 4), ">f8")
    out = np.empty((4, 4))
    with pytest.raises(TypeError, match="native byte order"):
        cpu().edt(a, out, [1.0, 1.0], False, False, 1)
