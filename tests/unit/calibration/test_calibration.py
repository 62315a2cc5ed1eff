"""Calibration: ss.ece / mce / ace / brier / nll / reliability, ss.Calibration, the plot.

Hand-derived cases with exact answers, bad input, layouts, threads, streaming and the NVRTC
probe of the per-voxel functions.  The cross-checks against the real libraries are under
tests/peers/<library>/test_calibration*.py.
"""

import math
import warnings
import numpy as np
import pytest
import segscore as ss
from segscore.calibration.conventions import CALIBRATION_CONVENTIONS
from support.calibration_cases import _rand_binary, _rand_multi
from support.nvrtc import compile_source, nvrtc  # noqa: F401  (the NVRTC fixture)


def test_where_p_equal_one_lands():
    p = np.array([1.0, 1.0, 0.5])
    t = np.array([1, 0, 1])
    # segscore: the last bin [0.5, 1] is closed: one bin, acc 2/3, conf 2.5/3
    assert ss.ece(p, t, n_bins=2) == pytest.approx(1 / 6, rel=1e-15)
    # torchmetrics: p = 1.0 gets an extra bin of its own: |1 - .5| * 1/3 + |.5 - 1| * 2/3
    assert ss.ece(p, t, n_bins=2, convention="torchmetrics") == pytest.approx(0.5, rel=1e-15)
    rel = ss.reliability(p, t, n_bins=2, convention="torchmetrics")
    assert rel.count.tolist() == [0, 1, 2] and rel.edges.tolist() == [0.0, 0.5, 1.0, 1.0]
    # MONAI (l, u] with upper edge 1 + eps: 0.5 is in the first bin, the ones in the second
    assert ss.reliability(p, t, n_bins=2, convention="monai").count.tolist() == [1, 2]


def test_all_probabilities_zero_or_one():
    p = np.array([0.0, 1.0, 1.0, 0.0, 1.0])
    right = (p > 0.5).astype(int)
    for conv in ("segscore", "torchmetrics", "monai", "curvas"):
        assert ss.ece(p, right, convention=conv) == 0.0
        assert ss.ece(p, 1 - right, convention=conv) == 1.0
    # netcal clips to [eps, 1 - eps]
    eps = np.finfo(np.float64).eps
    assert ss.ece(p, right, convention="netcal") == pytest.approx(eps, abs=1e-15)
    assert ss.ece(p, 1 - right, convention="netcal") == pytest.approx(1 - eps, rel=1e-15)
    # MetricsReloaded drops p = 0: only the three ones are binned
    assert ss.ece(p, 1 - right, convention="metricsreloaded") == 1.0
    assert ss.reliability(p, right, convention="metricsreloaded").count.sum() == 3
    assert ss.brier(p, right) == 0.0 and ss.brier(p, 1 - right) == 1.0
    assert ss.nll(p, right) == 0.0 and ss.nll(p, 1 - right) == math.inf


def test_segscore_bins_are_exact_k_over_n():
    # float64 values just below / on k/n: [k/n, (k+1)/n) with the float64 edges k/n
    n = 10
    e = np.arange(n + 1) / n
    below = np.nextafter(e[1:-1], 0)
    p = np.concatenate([e, below])
    t = np.zeros(p.size, dtype=int)
    cnt = ss.reliability(p, t, n_bins=n).count
    expect = np.bincount(np.searchsorted(e, p, side="right") - 1, minlength=n + 1)
    expect[n - 1] += expect[n]  # p = 1 in the last bin
    assert cnt.tolist() == expect[:n].tolist()
    # float32 / float16 values go through the exact floor path: same bins as float64 comparisons
    for dt in (np.float32, np.float16):
        q = np.concatenate([e, np.nextafter(e, 0), np.nextafter(e, 2)]).astype(dt)
        q = q[(q >= 0) & (q <= 1)]
        got = ss.reliability(q, np.zeros(q.size, int), n_bins=n).count
        ref = np.bincount(np.minimum(np.searchsorted(e, q.astype(np.float64), side="right") - 1, n - 1),
                          minlength=n)
        assert got.tolist() == ref.tolist()


def test_edge_rule_options():
    p = np.array([0.0, 0.5, 1.0, 1.0])
    t = np.array([0, 1, 1, 0])
    assert ss.reliability(p, t, n_bins=2).count.tolist() == [1, 3]                      # [l, u), 1 clamped
    assert ss.reliability(p, t, n_bins=2, closed="right").count.tolist() == [2, 2]      # (l, u], 0 clamped
    assert ss.reliability(p, t, n_bins=2, closed="right", ends="drop").count.tolist() == [1, 2]
    assert ss.reliability(p, t, n_bins=2, ends="drop").count.tolist() == [1, 1]
    rel = ss.reliability(p, t, n_bins=2, ends="extra")
    assert rel.count.tolist() == [1, 1, 2] and rel.edges.tolist() == [0.0, 0.5, 1.0, 1.0]
    # torchmetrics' rule on segscore's edges gives torchmetrics' numbers here
    assert ss.ece(p, t, n_bins=2, ends="extra") == ss.ece(p, t, n_bins=2, convention="torchmetrics")
    # MONAI without its drop-free first bin: MetricsReloaded's rule
    assert ss.reliability(p, t, n_bins=2, convention="monai", ends="drop").count.tolist() == [1, 2]
    acc = ss.Calibration(n_bins=2, ends="extra").update(p, t)
    assert acc.reliability().count.tolist() == [1, 1, 2]
    with pytest.raises(ValueError, match="closed"):
        ss.ece(p, t, closed="both")
    with pytest.raises(ValueError, match="ends"):
        ss.ece(p, t, ends="wrap")
    with pytest.raises(ValueError, match="extra"):
        ss.ece(p, t, closed="right", ends="extra")


def test_classwise_hand_example():
    # two classes, class-wise (MONAI's mode), 2 bins (l, u]
    probs = np.array([[0.9, 0.2, 0.6, 0.3], [0.1, 0.8, 0.4, 0.7]])
    t = np.array([0, 1, 1, 1])
    # class 0: bin (0, .5]: .2 .3 (labels 1 1 -> not class 0): acc 0, conf .25 -> gap .25 x2
    #          bin (.5, 1]: .9 .6 (labels 0 1): acc .5, conf .75 -> gap .25 x2  => ECE .25
    # class 1: bin (0, .5]: .1 .4 (0 1): acc .5 conf .25 -> .25 x2;  (.5, 1]: .8 .7 (1 1): acc 1 conf .75 -> .25 x2
    out = ss.ece(probs, t, n_bins=2, convention="monai", reduction="none")
    assert out == {0: pytest.approx(0.25, abs=1e-7), 1: pytest.approx(0.25, abs=1e-7)}
    assert ss.ece(probs, t, n_bins=2, target_mode="class-wise") == pytest.approx(0.25, rel=1e-15)
    assert ss.ece(probs, t, n_bins=2, target_mode="class-wise", include_background=False) == pytest.approx(0.25)


def test_top_label_hand_example():
    probs = np.array([[0.7, 0.2, 0.1, 0.4], [0.2, 0.5, 0.3, 0.4], [0.1, 0.3, 0.6, 0.2]])
    t = np.array([0, 2, 2, 1])
    # top labels: 0 (.7, right), 1 (.5, wrong), 2 (.6, right), 0 (.4 tie 0/1 -> first = 0, wrong)
    rel = ss.reliability(probs, t, n_bins=2)
    assert rel.count.tolist() == [1, 3]
    assert rel.correct.tolist() == [0, 2]
    assert rel.sum_confidence.tolist() == pytest.approx([0.4, 1.8], rel=1e-15)
    assert ss.ece(probs, t, n_bins=2) == pytest.approx((0.4 + abs(2 - 1.8)) / 4, rel=1e-15)


def test_equal_mass_hand_example():
    p = np.array([0.1, 0.2, 0.3, 0.9])
    t = np.array([0, 1, 0, 1])
    rel = ss.reliability(p, t, n_bins=2, binning="equal-mass")
    # quantiles at 0, .5, 1 -> edges 0, 0.25, 1
    assert rel.edges.tolist() == [0.0, 0.25, 1.0]
    assert rel.count.tolist() == [2, 2]
    assert ss.ece(p, t, n_bins=2, binning="equal-mass") == pytest.approx((abs(1 - 0.3) + abs(1 - 1.2)) / 4)


def test_brier_and_nll_hand():
    p = np.array([0.1, 0.9, 0.8, 0.3])
    y = np.array([0, 1, 1, 0])
    assert ss.brier(p, y) == pytest.approx(0.0375, rel=1e-14)  # scikit-learn's doc example
    assert ss.brier(p, y, form="sum") == pytest.approx(0.075, rel=1e-14)
    assert ss.brier(p, y, convention="metricsreloaded") == pytest.approx(0.075, rel=1e-14)
    two = np.stack([1 - p, p])
    assert ss.brier(two, y) == pytest.approx(0.0375, rel=1e-14)
    assert ss.nll(p, y) == pytest.approx(-np.mean(np.log([0.9, 0.9, 0.8, 0.7])), rel=1e-14)
    logits = np.log(p / (1 - p))
    assert ss.nll(logits, y, logits=True) == pytest.approx(ss.nll(p, y), rel=1e-12)
    assert ss.brier(logits, y, logits=True) == pytest.approx(0.0375, rel=1e-12)


def test_empty_selection_is_nan():
    p = np.array([0.2, 0.7])
    t = np.array([0, 1])
    m = np.zeros(2, bool)
    for fn in (ss.ece, ss.mce, ss.ace):
        assert math.isnan(fn(p, t, mask=m))
    assert math.isnan(ss.brier(p, t, mask=m)) and math.isnan(ss.nll(p, t, mask=m))
    assert math.isnan(ss.ece(np.zeros((0, 3)), np.zeros((0, 3), int)))


# ---------------------------------------------------------------------------
# input handling and validation


def test_nan_and_out_of_range_raise():
    p = np.array([0.2, np.nan, 0.7])
    t = np.array([0, 1, 1])
    with pytest.raises(ValueError, match="1 NaN value"):
        ss.ece(p, t)
    with pytest.raises(ValueError, match=r"outside \[0, 1\].*logits=True"):
        ss.ece(np.array([0.2, 1.5, -0.1]), t)
    with pytest.raises(ValueError, match="NaN"):
        ss.brier(p, t)
    with pytest.raises(ValueError, match="NaN"):
        ss.Calibration().update(p, t)
    with pytest.raises(ValueError, match="finite"):
        ss.ece(np.array([0.2, np.inf, 3.0]), t, logits=True)
    assert ss.ece(np.array([-3.0, 0.0, 8.0]), t, logits=True) >= 0  # logits only when asked
    pm = np.full((3, 4), 1 / 3)
    pm[2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ss.ece(pm, np.array([0, 1, 2, 0]))
    for conv in CALIBRATION_CONVENTIONS:
        with pytest.raises(ValueError, match="NaN"):
            ss.reliability(p, t, convention=conv)
    # NaN outside the mask is not read
    assert not math.isnan(ss.ece(p, t, mask=np.array([True, False, True])))


def test_shape_errors_name_shapes_and_class_axis():
    with pytest.raises(ValueError, match=r"\(3, 4, 5\).*\(5, 4\).*class_axis"):
        ss.ece(np.full((3, 4, 5), 0.3), np.zeros((5, 4), int))
    with pytest.raises(ValueError, match="extra axis"):
        ss.ece(np.full((4, 5), 0.3), np.zeros((3, 4, 5), int))
    with pytest.raises(ValueError, match="single class channel"):
        ss.ece(np.full((1, 4, 5), 0.3), np.zeros((4, 5), int))
    with pytest.raises(ValueError, match="empty class axis"):
        ss.ece(np.zeros((0, 5)), np.zeros(5, int))
    with pytest.raises(ValueError, match="batch"):
        ss.ece(np.full((2, 3, 4, 5), 0.3), np.zeros((4, 5), int))
    # classes last with class_axis=-1
    p = np.full((4, 5, 3), 1 / 3)
    assert ss.ece(p, np.zeros((4, 5), int), class_axis=-1) == pytest.approx(2 / 3)


def test_target_validation():
    p = np.array([0.2, 0.7])
    with pytest.raises(TypeError, match="integer class labels"):
        ss.ece(p, np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"labels in \[0, 2\].*\[0, 2\)"):
        ss.ece(p, np.array([0, 2]))
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        ss.ece(p, np.array([-1, 1]))
    with pytest.raises(ValueError, match=r"3 classes"):
        ss.ece(np.full((3, 2), 1 / 3), np.array([0, 3]))
    assert ss.ece(p, np.array([0, 255]), ignore_label=255) == pytest.approx(0.2)
    assert ss.ece(p, np.array([False, True])) == ss.ece(p, np.array([0, 1]))
    with pytest.raises(TypeError, match="floating-point"):
        ss.ece(np.array([0, 1]), np.array([0, 1]))


def test_option_errors():
    p, t = np.array([0.2, 0.7]), np.array([0, 1])
    with pytest.raises(ValueError, match="unknown calibration convention"):
        ss.ece(p, t, convention="nope")
    with pytest.raises(ValueError, match=r"does not define ACE.*monai.*netcal.*segscore"):
        ss.ace(p, t, convention="torchmetrics")
    with pytest.raises(ValueError, match="does not define the Brier"):
        ss.brier(p, t, convention="monai")
    with pytest.raises(ValueError, match="equal-mass"):
        ss.ece(p, t, convention="torchmetrics", binning="equal-mass")
    with pytest.raises(ValueError, match="'l2' norm"):
        ss.ece(p, t, convention="monai", norm="l2")
    with pytest.raises(ValueError, match="n_bins"):
        ss.ece(p, t, n_bins=0)
    with pytest.raises(ValueError, match="target_mode"):
        ss.ece(p, t, target_mode="top")
    with pytest.raises(ValueError, match="include_background"):
        ss.ece(p, t, include_background=False)
    with pytest.raises(ValueError, match="positive_class"):
        ss.ece(np.full((3, 2), 1 / 3), t, target_mode="positive-class", positive_class=3)


def test_default_bins_per_convention():
    p, t = _rand_binary(np.random.default_rng(0), (100,))
    want = {"segscore": 15, "torchmetrics": 16, "monai": 20, "metricsreloaded": 10, "netcal": 10, "curvas": 51}
    for conv, n in want.items():  # torchmetrics / curvas: + the p = 1.0 bin
        assert ss.reliability(p, t, convention=conv).count.shape[-1] == n


def test_dtypes_layouts_and_zero_copy_inputs():
    rng = np.random.default_rng(1)
    p, t = _rand_multi(rng, 3, (10, 12, 7), dtype=np.float16)
    ref = ss.ece(p.astype(np.float32), t)
    assert ss.ece(p, t) == ref  # float16 read by its bits: same values, same result
    assert ss.ece(p.astype(np.float64), t) == ref
    moved = np.moveaxis(p.astype(np.float32).copy(), 0, -1)  # (10, 12, 7, 3)
    assert ss.ece(moved, t, class_axis=-1) == pytest.approx(ref, rel=1e-14)
    pf = np.asfortranarray(p.astype(np.float32))
    assert ss.ece(pf, np.asfortranarray(t)) == pytest.approx(ref, rel=1e-14)
    assert ss.ece(p.astype(np.float32)[:, ::2, ::-1], t[::2, ::-1]) == pytest.approx(
        ss.ece(np.ascontiguousarray(p.astype(np.float32)[:, ::2, ::-1]), np.ascontiguousarray(t[::2, ::-1])),
        rel=1e-14)
    for tdt in (np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64):
        assert ss.ece(p, t.astype(tdt)) == ref
    torch = pytest.importorskip("torch")
    assert ss.ece(torch.from_numpy(p), torch.from_numpy(t)) == ref


def test_mask_and_ignore_label_select_voxels():
    rng = np.random.default_rng(2)
    p, t = _rand_multi(rng, 3, (20, 20))
    m = rng.random((20, 20)) < 0.4
    for conv in ("segscore", "torchmetrics", "monai", "netcal", "metricsreloaded"):
        assert ss.ece(p, t, mask=m, convention=conv) == pytest.approx(ss.ece(p[:, m], t[m], convention=conv),
                                                                      rel=1e-12)
    assert ss.brier(p, t, mask=m) == pytest.approx(ss.brier(p[:, m], t[m]), rel=1e-12)
    t2 = np.where(m, t, 7)
    assert ss.ece(p, t2, ignore_label=7) == pytest.approx(ss.ece(p[:, m], t[m]), rel=1e-12)
    assert ss.nll(p, t2, ignore_label=7) == pytest.approx(ss.nll(p[:, m], t[m]), rel=1e-12)


def test_target_modes_and_positive_class():
    rng = np.random.default_rng(4)
    p, t = _rand_multi(rng, 3, (300,))
    # positive class k of a multi-class input == the binary input P(class k) against (label == k)
    for k in range(3):
        assert ss.ece(p, t, target_mode="positive-class", positive_class=k) == pytest.approx(
            ss.ece(p[k], (t == k).astype(int)), rel=1e-14)
    cw = ss.ece(p, t, target_mode="class-wise", reduction="none")
    assert cw == {k: pytest.approx(ss.ece(p[k], (t == k).astype(int)), rel=1e-14) for k in range(3)}
    assert ss.ece(p, t, target_mode="class-wise") == pytest.approx(np.mean(list(cw.values())), rel=1e-14)
    # top-label of a binary input == top-label of its two columns
    q, y = _rand_binary(rng, (300,))
    assert ss.ece(q, y, target_mode="top-label") == pytest.approx(ss.ece(np.stack([1 - q, q]), y), rel=1e-14)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_binary_positive_class_zero_bins_one_minus_p(dtype):
    """positive_class=0 of a binary input bins 1 - p against (label == 0), in every dtype
    (float32 / float16 once took a fast path that binned p itself)."""
    rng = np.random.default_rng(41)
    p = rng.random((7, 9)).astype(dtype)
    y = rng.integers(0, 2, (7, 9))
    c = 1.0 - p.astype(np.float64)
    bins = np.minimum((c * 15).astype(int), 14)
    rel = ss.reliability(p, y, target_mode="positive-class", positive_class=0)
    np.testing.assert_array_equal(rel.count, np.bincount(bins.ravel(), minlength=15))
    np.testing.assert_array_equal(rel.correct, np.bincount(bins.ravel(), weights=(y == 0).ravel(), minlength=15))
    np.testing.assert_allclose(rel.sum_confidence, np.bincount(bins.ravel(), weights=c.ravel(), minlength=15),
                               rtol=1e-13)


def test_threads_bit_identical():
    rng = np.random.default_rng(6)
    p, t = _rand_multi(rng, 4, (33, 47, 29), dtype=np.float32)
    ref = ss.reliability(p, t, threads=1)
    for th in (2, 3, 7, 16):
        r = ss.reliability(p, t, threads=th)
        assert np.array_equal(r.count, ref.count) and np.array_equal(r.sum_confidence, ref.sum_confidence)
    b = [ss.brier(p, t, threads=th) for th in (1, 2, 5)]
    assert b[0] == b[1] == b[2]


def test_long_1d_input_is_split():
    rng = np.random.default_rng(8)
    p, t = _rand_binary(rng, (300_001,), dtype=np.float32)
    r1 = ss.reliability(p, t, threads=1)
    r4 = ss.reliability(p, t, threads=4)
    assert np.array_equal(r1.sum_confidence, r4.sum_confidence)
    assert r1.count.sum() == p.size
    idx = np.minimum((p.astype(np.float64) * 15).astype(int), 14)
    assert np.array_equal(r1.count, np.bincount(idx, minlength=15))
    assert np.allclose(r1.sum_confidence, np.bincount(idx, weights=p.astype(np.float64), minlength=15), rtol=1e-12)


# ---------------------------------------------------------------------------
# streaming


@pytest.mark.parametrize("conv", sorted(CALIBRATION_CONVENTIONS))
def test_streaming_equals_one_call(conv):
    rng = np.random.default_rng(10)
    p, t = _rand_multi(rng, 3, (24, 10, 6), rounded=True)
    whole = ss.reliability(p, t, convention=conv)
    acc = ss.Calibration(convention=conv)
    for a, b in ((0, 5), (5, 6), (6, 17), (17, 24)):
        acc.update(p[:, a:b], t[a:b])
    rel = acc.reliability()
    assert np.array_equal(rel.count, whole.count) and np.array_equal(rel.correct, whole.correct)
    assert np.allclose(rel.sum_confidence, whole.sum_confidence, rtol=1e-13)
    out = acc.compute()
    assert out["voxels"] == t.size
    assert out["ece"] == pytest.approx(ss.ece(p, t, convention=conv), rel=1e-12)
    if CALIBRATION_CONVENTIONS[conv].defines("ace"):
        assert out["ace"] == pytest.approx(ss.ace(p, t, convention=conv), rel=1e-12)
    if CALIBRATION_CONVENTIONS[conv].defines("brier"):
        assert out["brier"] == pytest.approx(ss.brier(p, t, convention=conv), rel=1e-12)
        assert out["nll"] == pytest.approx(ss.nll(p, t, convention=conv), rel=1e-12)


def test_streaming_merge_and_errors():
    rng = np.random.default_rng(11)
    p, t = _rand_binary(rng, (50, 40))
    a, b, whole = ss.Calibration(n_bins=20), ss.Calibration(n_bins=20), ss.Calibration(n_bins=20)
    a.update(p[:20], t[:20])
    b.update(p[20:], t[20:], mask=np.ones((30, 40), bool))
    whole.update(p, t)
    a.merge(b)
    ca, cw = a.compute(), whole.compute()
    assert ca.keys() == cw.keys() == {"ece", "rmsce", "mce", "ace", "brier", "nll", "voxels"}
    for k in ca:
        assert ca[k] == pytest.approx(cw[k], rel=1e-12)
    assert ss.Calibration(n_bins=20).merge(whole).compute()["ece"] == cw["ece"]  # merge into an empty one
    with pytest.raises(ValueError, match="different settings"):
        a.merge(ss.Calibration(n_bins=10))
    with pytest.raises(ValueError, match="same number of classes"):
        whole.update(np.stack([1 - p, p]), t)
    with pytest.raises(ValueError, match="equal-mass"):
        ss.Calibration(binning="equal-mass")
    with pytest.raises(ValueError, match="update"):
        ss.Calibration().compute()


def test_calibration_pickles():
    import pickle

    rng = np.random.default_rng(15)
    p, t = _rand_multi(rng, 3, (20, 20))
    acc = ss.Calibration(convention="monai").update(p, t)
    clone = pickle.loads(pickle.dumps(acc))
    assert clone.compute() == acc.compute()
    clone.merge(acc)
    assert clone.compute()["voxels"] == 2 * t.size


def test_streaming_large_is_o_bins_memory():
    acc = ss.Calibration(convention="torchmetrics")
    rng = np.random.default_rng(12)
    total = 0
    for _ in range(5):
        p, t = _rand_binary(rng, (64, 64, 64), dtype=np.float32)
        acc.update(p, t)
        total += p.size
    assert acc.compute()["voxels"] == total
    assert acc.reliability().count.nbytes <= 16 * 8


# ---------------------------------------------------------------------------
# reliability diagram


def test_plot_reliability(tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    rng = np.random.default_rng(13)
    p, t = _rand_multi(rng, 3, (30, 30))
    fig = ss.plot_reliability(p, t, path=tmp_path / "r.png")
    assert (tmp_path / "r.png").stat().st_size > 0 and fig.axes
    fig = ss.plot_reliability(ss.reliability(p, t, target_mode="class-wise"), path=tmp_path / "cw.png")
    assert (tmp_path / "cw.png").exists()
    fig = ss.plot_reliability(ss.reliability(p[0], (t == 0).astype(int), convention="torchmetrics"))
    assert fig.axes
    bins = {"n_bins": 3, "count": [5, 0, 5], "conf": [0.5, 0, 4.5], "acc": [1, 0, 4]}  # dataset-scorer layout
    assert ss.plot_reliability(bins, path=tmp_path / "d.png") is not None
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    assert ss.plot_reliability(p[1], (t == 1).astype(int), ax=ax) is fig  # draws into a given Axes
    plt.close("all")


def test_reliability_properties():
    p = np.array([0.1, 0.2, 0.9, 0.95])
    t = np.array([0, 1, 1, 1])
    rel = ss.reliability(p, t, n_bins=4)
    assert rel.count.tolist() == [2, 0, 0, 2]
    assert rel.accuracy[0] == 0.5 and math.isnan(rel.accuracy[1])
    assert rel.confidence[3] == pytest.approx(0.925)
    d = rel.to_dict()
    assert d["count"] == [2, 0, 0, 2] and d["convention"] == "segscore"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ss.ece(p, t, n_bins=100)  # empty bins raise no warnings


def test_many_bins_and_many_classes_stay_fast():
    import time

    rng = np.random.default_rng(14)
    p, t = _rand_binary(rng, (200_000,), dtype=np.float32)
    t0 = time.perf_counter()
    rel = ss.reliability(p, t, n_bins=100_000)
    assert time.perf_counter() - t0 < 5.0
    assert rel.count.sum() == p.size and rel.count.shape == (100_000,)
    pm, tm = _rand_multi(rng, 40, (50, 60), dtype=np.float32)
    out = ss.ece(pm, tm, target_mode="class-wise", n_bins=50, reduction="none")
    assert len(out) == 40
    assert out[3] == pytest.approx(ss.ece(pm[3], (tm == 3).astype(int), n_bins=50), rel=1e-12)


_NVRTC_PROBE = r"""
#include "segscore/calibration.h"
using namespace segscore;
template <typename T>
__global__ void calib_probe(CalibParams k, const T* p, long long n, long long cs, const long long* lab, double* out) {
  long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
  if (i >= n) return;
  double conf = 0, br = 0, nl = 0, all[8];
  int cls = 0;
  int bad = calib_top_label(k, p + i, cs, &conf, &cls);
  bad += calib_class_prob(k, p + i, cs, 1, &conf);
  bad += calib_all_probs(k, p + i, cs, all);
  calib_scores(k, p + i, cs, lab[i], 0, &br, &nl);
  out[i] = conf + br + nl + calib_bin(k, conf) + calib_slots(k) + calib_streams(k) + bad + cls + all[0];
}
"""


def test_calibration_kernels_instantiate_under_nvrtc(nvrtc):  # noqa: F811
    """The per-voxel functions compile for the GPU (float16 by its bits, float32, float64)."""
    from segscore.gpu import source

    names = [f"calib_probe<{t}>" for t in ("float", "double", "unsigned short")]
    lowered = compile_source(nvrtc, _NVRTC_PROBE, names, options=("-std=c++17", f"-I{source.include_dir()}"),
                             name="calibration_probe.cu")
    assert set(lowered) == set(names)


@pytest.mark.parametrize("conv,mode", [("segscore", None), ("torchmetrics", None), ("monai", None),
                                       ("segscore", "class-wise")])
def test_streaming_reliability_is_a_snapshot(conv, mode):
    """A Reliability handed out by Calibration.reliability() keeps its numbers through later
    updates and merges, and editing its arrays leaves the accumulator alone."""
    rng = np.random.default_rng(31)
    p, t = _rand_binary(rng, (40, 30), dtype=np.float32)
    acc = ss.Calibration(n_bins=7, convention=conv, target_mode=mode).update(p, t)
    first = acc.reliability()
    kept = (first.count.copy(), first.correct.copy(), first.sum_confidence.copy(), first.ece())
    acc.update(p, t)
    acc.merge(ss.Calibration(n_bins=7, convention=conv, target_mode=mode).update(p, t))
    np.testing.assert_array_equal(first.count, kept[0])
    np.testing.assert_array_equal(first.correct, kept[1])
    np.testing.assert_array_equal(first.sum_confidence, kept[2])
    assert first.ece() == kept[3]
    assert acc.reliability().count.sum() == 3 * first.count.sum()
    before = acc.compute()
    second = acc.reliability()
    second.count[...] = 0
    second.sum_confidence[...] = 0
    assert acc.compute() == before
