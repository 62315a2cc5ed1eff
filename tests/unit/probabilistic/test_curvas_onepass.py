"""ss.curvas on the one pass (segscore._cpu.curvas_stats) against its numpy reference
implementation (curvas2024._curvas_numpy: per-label vote arrays, slabs of segscore.Calibration),
to the bit: every Dice, volume, CRPS and per-rater ECE (torchmetrics' float32 running bin sums
in element order, the softmax quirk included), for any thread count.  The confidence's mean
probabilities are the pass's fixed-point sums (exact for float32 probabilities, rounded once)
where the reference summed in float64 with numpy: the two agree to a few ulp."""

import math

import numpy as np
import pytest

import segscore as ss
from segscore.probabilistic.numpy_sum import _npy_chunks, _numpy_view_sum_py, numpy_view_sum
from segscore.protocols.curvas2024 import _curvas_numpy
from support.curvas_cases import make_case


def _same(a, b, path="res"):
    if path.startswith("res.confidence."):  # exact sums vs numpy's float64 pairwise sums
        assert a == pytest.approx(b, rel=4e-16, abs=0) or (math.isnan(a) and math.isnan(b)), f"{path}: {a!r} {b!r}"
        return
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            _same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{path}[{i}]")
    elif isinstance(a, float):
        assert a == b or (math.isnan(a) and math.isnan(b)), f"{path}: {a!r} != {b!r}"
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def _check(*args, **kw):
    new = ss.curvas(*args, **kw).to_dict()
    _same(new, _curvas_numpy(*args, **kw).to_dict())
    return new


def _case(shape=(6, 9, 11), seed=0, overfull=False, k=3, n_labels=5):
    rng = np.random.default_rng(seed)
    p4 = rng.dirichlet([0.3] * 4, size=shape).astype(np.float32)
    prob = np.moveaxis(p4[..., 1:], -1, 0).copy()
    prob[:, 0, 0, 0] = [0.0, 0.0, 1.0]
    prob[:, 0, 0, 1] = [np.float32(0.5), 0.0, 0.0]  # a tie with the background
    prob[:, 0, 0, 2] = [np.float32(0.6), 0.2, 0.2]
    if overfull:
        prob[:, 1, 1, 1] = [0.6, 0.3, 0.3]  # background < 0: torchmetrics' softmax
    base = np.argmax(np.concatenate([1 - prob.sum(0, keepdims=True), prob]), axis=0)
    raters = []
    for _ in range(k):
        r = base.copy()
        flip = rng.random(shape) < 0.15
        r[flip] = rng.integers(0, n_labels, size=int(flip.sum()))  # labels 4.. are not organs
        raters.append(r.astype(np.uint8))
    return prob, raters


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("overfull", [False, True])
def test_bit_identical_to_the_numpy_reference(seed, overfull):
    prob, raters = _case(seed=seed, overfull=overfull)
    res = _check(prob, raters, integration="exact")
    assert res["meta"]["ece_softmax"] == overfull
    _check(prob, raters, pred=raters[1])
    _check(prob.astype(np.float64), raters, labels={"a": 1, "b": 2, "c": 3}, integration="exact")
    _check(prob, [r.astype(np.int32) for r in raters], pred=raters[2].astype(np.int64))
    _check(prob, [np.asfortranarray(r) for r in raters], pred=np.asfortranarray(raters[0]))
    _check(prob[:, :, ::-1], [r[:, ::-1] for r in raters])  # negative strides
    if not overfull:
        _check(prob, raters, convention="segscore")
        _check(prob, raters, exact=True)


def test_labels_not_in_order_and_two_raters():
    prob, raters = _case(seed=4, k=2)
    _check(prob, raters, labels=[3, 1, 2])
    _check(prob[:2], raters, labels=[2, 3])


@pytest.mark.parametrize("seed,shape,soft,floor", [(5, (12, 64, 64), 1.0, 0.0), (6, (40, 128, 128), 1.0, 0.01)])
def test_official_cases_with_the_crop(seed, shape, soft, floor):
    ct, raters, prob, pred = make_case(seed, shape, soft, floor)
    _check(prob, raters, pred=pred, ct=ct)
    _check(prob, raters, ct=ct)  # the argmax prediction, made inside the pass
    _check(prob, raters, pred=pred)


def test_long_runs_of_one_confidence():
    # one confidence repeated a million times: the running float32 sum crosses many binades
    # (replayed run by run, a binade at a time)
    shape = (4, 512, 512)
    prob = np.zeros((2,) + shape, np.float32)
    prob[0] = np.float32(0.3)
    prob[1, :, :, :7] = np.float32(0.2)
    prob[0, 2, 100:300, 50:400] = np.float32(0.7)
    r = np.zeros(shape, np.uint8)
    r[:, 10:200, 10:100] = 1
    _check(prob, [r, r.copy(), np.roll(r, 3, axis=2)], labels=[1, 2], integration="exact")
    prob[0, 0, 0, 0] = np.float32(0.9)  # background < 0 once: the softmax quirk
    _check(prob, [r, r.copy(), np.roll(r, 3, axis=2)], labels=[1, 2], integration="exact")


def test_fewer_axes_under_the_segscore_convention():
    prob, raters = _case(shape=(7, 30, 40), seed=3)
    _check(prob[:, 2], [r[2] for r in raters], convention="segscore")  # 2-D
    _check(prob[:, 2, 5], [r[2, 5] for r in raters], convention="segscore", pred=raters[0][2, 5])  # 1-D


def test_many_organs_take_the_numpy_path():
    rng = np.random.default_rng(0)
    p = rng.dirichlet([0.5] * 66, size=(3, 4, 5)).astype(np.float32)
    prob = np.moveaxis(p[..., 1:], -1, 0).copy()
    raters = [rng.integers(0, 66, size=(3, 4, 5)).astype(np.uint8) for _ in range(3)]
    _check(prob, raters, integration="exact")


def test_thread_count_does_not_change_any_bit():
    prob, raters = _case(shape=(9, 70, 60), seed=7, overfull=True)
    ref = ss.curvas(prob, raters, threads=1).to_dict()
    for t in (2, 3, 5):
        _same(ss.curvas(prob, raters, threads=t).to_dict(), ref)


def test_float16_takes_the_numpy_path():
    prob, raters = _case(seed=1)
    res = ss.curvas(prob.astype(np.float16), raters)
    _same(res.to_dict(), _curvas_numpy(prob.astype(np.float16), raters).to_dict())


def test_bad_probabilities_are_refused_as_before():
    prob, raters = _case(seed=2)
    bad = prob.copy()
    bad[1, 2, 3, 4] = np.nan
    with pytest.raises(ValueError, match="prob contains NaN"):
        ss.curvas(bad, raters)
    bad = prob.copy()
    bad[0, 1, 1, 1] = 1.5
    with pytest.raises(ValueError, match=r"prob has values in \[0.0, 1.5\]"):
        ss.curvas(bad, raters)
    over = prob.copy()
    over[:, 1, 1, 1] = [0.6, 0.3, 0.3]
    with pytest.raises(ValueError, match=r"outside \[0, 1\]"):
        ss.curvas(over, raters, convention="segscore")  # no softmax: a negative background is refused
    with pytest.raises(ValueError, match="3-D"):
        ss.curvas(prob[:, 0], [r[0] for r in raters])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,box", [((3, 40, 50), ((2, 37), (5, 44))), ((2, 30, 300), ((0, 30), (0, 300))),
                                       ((5, 64, 64), ((1, 63), (0, 64))), ((1, 3, 70000), None)])
def test_numpy_view_sum_in_cpp_is_numpys(dtype, shape, box):
    a = np.random.default_rng(0).random(shape).astype(dtype)
    view = a if box is None else a[..., box[0][0]:box[0][1], box[1][0]:box[1][1]]
    want = float(view.sum())
    assert numpy_view_sum(a, box) == want
    assert numpy_view_sum(a, box, threads=3) == want
    assert _numpy_view_sum_py(view, _npy_chunks(view.shape, a.shape)) == want


@pytest.mark.parametrize("v", [1.0, 0.5, 3.0, 0.75, 0.475, 1.5, 2.0 ** -3 + 2.0 ** -20, 0.999, 1e-30, 0.0])
@pytest.mark.parametrize("s0", [0.0, 1.0, 16777215.0, 12345.5])
def test_float32_running_sum_of_equal_values(v, s0):
    # the replay's shortcut (a binade at a time, ties to even included) against numpy's
    # sequential float32 cumulative sum, across 2**24 where the ulp reaches 2
    from segscore._core.backends import cpu

    v = np.float32(v)
    for n in (1, 3, 1000, 20_000_003):
        if s0 > 1e6 and n > 1000 and v < 1e-3:
            continue
        x = np.full(n + 1, v, np.float32)
        x[0] = np.float32(s0)
        want = float(np.cumsum(x, dtype=np.float32)[-1])
        assert cpu()._f32_add_n(float(s0), float(v), n) == want, (s0, v, n)


def test_crps_quad_integrand_in_plain_floats_gives_numpys_bits():
    # the challenge's integrand with np.interp / np.sign, integrated by the same scipy quad
    integrate = pytest.importorskip("scipy.integrate")
    from scipy import stats

    from segscore.probabilistic.crps import _curvas2024_quad

    rng = np.random.default_rng(3)
    for i in range(40):
        mu, sigma = float(rng.uniform(1e2, 1e6)), float(rng.uniform(1.0, 1e4))
        v = mu + float(rng.normal()) * sigma * 3 if i % 5 else mu
        x = np.linspace(stats.norm.ppf(0.01, mu, sigma), stats.norm.ppf(0.99, mu, sigma), 100)
        f = stats.norm.cdf(x, mu, sigma)

        def g(t):
            cdf = 0.0 if t < x[0] else 1.0 if t > x[-1] else float(np.interp(t, x, f))
            return (cdf - 0.5 * (np.sign(t - v) + 1.0)) ** 2

        with np.errstate(all="ignore"), __import__("warnings").catch_warnings():
            __import__("warnings").simplefilter("ignore")
            want = integrate.quad(g, mu - 3 * sigma, mu + 3 * sigma)[0]
        assert _curvas2024_quad(v, mu - 3 * sigma, mu + 3 * sigma, x, f) == want


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("box", [None, ((2, 37), (5, 44)), ((0, 40), (1, 50))])
def test_numpy_view_sums_of_the_channels_and_the_softmax_rule(dtype, box):
    from segscore.probabilistic.numpy_sum import numpy_view_sums

    rng = np.random.default_rng(1)
    p = (rng.dirichlet([0.4] * 4, size=(3, 40, 50))[..., 1:] * 0.999).astype(dtype)
    p = np.ascontiguousarray(np.moveaxis(p, -1, 0))
    view = p if box is None else p[..., box[0][0]:box[0][1], box[1][0]:box[1][1]]
    sums, over = numpy_view_sums([p[i] for i in range(3)], box, threads=2, overfull=True)
    assert sums == [float(view[i].sum()) for i in range(3)]
    assert over is False
    p[:, 2, 20, 30] = [0.6, 0.3, 0.3]  # inside every box: background < 0
    assert numpy_view_sums([p[i] for i in range(3)], box, overfull=True)[1] is True
    p[:, 2, 20, 30] = 0
    p[:, 0, 39, 0] = [0.6, 0.3, 0.3]  # outside the first box
    assert numpy_view_sums([p[i] for i in range(3)], box, overfull=True)[1] is (box is None)
