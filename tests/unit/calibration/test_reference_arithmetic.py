"""The reference arithmetic of the conventions named after float32 libraries, hand-derived:
float32 running bin sums in element order and counts that stop at 2**24 (torchmetrics, MONAI),
torch's CPU sum order over the bins, exact=True in float64, the running sums carried across
Calibration updates, and numpy's sum of a cropped view (the CURVAS volume)."""

import numpy as np
import pytest

import segscore as ss
from segscore.calibration.reference import F32_COUNT_LIMIT, saturated, torch_sum
from segscore.protocols.curvas2024 import numpy_view_sum

M = 1000
N = F32_COUNT_LIMIT + 2 * M  # 2**24 + 2000 voxels, all at p = 0.5


@pytest.fixture(scope="module")
def halves():
    """p = 0.5 everywhere, labels 1, 0, 1, 0, ...: 2**23 + 1000 ones among 2**24 + 2000."""
    p = np.full(N, 0.5, dtype=np.float32)
    t = np.zeros(N, dtype=np.uint8)
    t[::2] = 1
    return p, t


def test_saturated_counts():
    assert saturated(np.array([0, 5, 1 << 24, (1 << 24) + 1, 1 << 30]), np.float32).tolist() == \
        [0, 5, 1 << 24, 1 << 24, 1 << 24]
    assert saturated(np.array([(1 << 24) + 1]), np.float64).tolist() == [(1 << 24) + 1]


def test_torch_sum_order():
    # four interleaved partial sums, then the tail: 1 + 2**24 rounds to 2**24 (ties to even)
    assert float(torch_sum(np.array([1, 1, 1, 1, 2**24], np.float32))) == 2**24
    # 8 lanes: lane 0 holds 1 + 1, lane 0 of the result adds 2**24 first ...
    y = np.array([1] * 8 + [2**24] + [1] * 7, np.float32)
    assert float(torch_sum(y)) == 2**24 + 14 and float(y.astype(np.float64).sum()) == 2**24 + 15
    assert float(torch_sum(np.array([0.5, 0.25], np.float64))) == 0.75


@pytest.mark.slow
def test_torchmetrics_counts_stop_at_2_24(halves):
    """float32: the count stops at 2**24 and the sum of halves at 2**23 (2**23 + 0.5 rounds to
    2**23), so the mean confidence stays 0.5 while the accuracy is (2**23 + 1000) / 2**24:
    ECE = 1000 / 2**24.  In float64 the accuracy is exactly 0.5: ECE = 0."""
    p, t = halves
    rel = ss.reliability(p, t, convention="torchmetrics")
    assert rel.count.sum() == N and rel.arithmetic == "torchmetrics" and rel.sum_dtype == "float32"
    assert rel.sum_confidence[7] == 2.0**23  # bin [7/15, 8/15)
    want = M / 2**24
    for norm in ("l1", "l2", "max"):
        assert ss.ece(p, t, convention="torchmetrics", norm=norm) == want
        assert ss.ece(p, t, convention="torchmetrics", norm=norm, exact=True) == 0.0
    assert ss.ece(p, t) == 0.0  # the segscore convention: float64
    # MONAI: the same per channel (two channels, p = 0.5 each), mean over channels
    two = np.stack([p, p])
    for fn in (ss.ece, ss.ace, ss.mce):
        assert fn(two, t, convention="monai") == want
        assert fn(two, t, convention="monai", exact=True) == 0.0
    # streaming continues the running float32 sums: the same number from two updates
    acc = ss.Calibration(convention="torchmetrics").update(p[:12345], t[:12345]).update(p[12345:], t[12345:])
    assert acc.compute()["ece"] == want
    assert ss.Calibration(convention="torchmetrics", exact=True).update(p, t).compute()["ece"] == 0.0


def test_small_inputs_agree_with_float64():
    rng = np.random.default_rng(0)
    p = rng.random(5000).astype(np.float32)
    t = (rng.random(5000) < p).astype(np.int64)
    for norm in ("l1", "l2", "max"):
        a = ss.ece(p, t, convention="torchmetrics", norm=norm)
        b = ss.ece(p, t, convention="torchmetrics", norm=norm, exact=True)
        assert a == pytest.approx(b, rel=1e-5)  # float32 sums, then |acc - conf| cancels digits
    r = ss.reliability(p, t, convention="torchmetrics", exact=True)
    assert r.arithmetic == "float64"
    with pytest.raises(TypeError, match="exact must be True or False"):
        ss.ece(p, t, exact="yes")


def test_merge_adds_running_sums_in_their_dtype():
    rng = np.random.default_rng(1)
    p = rng.random(4000).astype(np.float32)
    t = (rng.random(4000) < p).astype(np.int64)
    a = ss.Calibration(convention="torchmetrics").update(p[:1500], t[:1500])
    b = ss.Calibration(convention="torchmetrics").update(p[1500:], t[1500:])
    sa, sb = a.reliability().sum_confidence.copy(), b.reliability().sum_confidence.copy()
    merged = a.merge(b).reliability()
    assert np.array_equal(merged.sum_confidence, (sa + sb).astype(np.float32).astype(np.float64))
    assert merged.ece() == pytest.approx(ss.ece(p, t, convention="torchmetrics"), rel=1e-5)


GEOMETRIES = [((6, 40, 50), ((2, 37), (5, 44))), ((6, 40, 50), ((0, 40), (0, 50))), ((6, 40, 50), ((3, 30), (0, 50))),
              ((4, 300, 300), ((5, 290), (7, 281))), ((5, 8, 600), ((1, 7), (0, 599))),
              ((3, 9000, 2), ((0, 9000), (0, 1))),
              ((2, 3, 30, 40), ((1, 29), (2, 39)))]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("full,box", GEOMETRIES)
def test_numpy_view_sum(full, box, dtype):
    a = (np.random.default_rng(2).random(full) ** 3).astype(dtype)
    got = numpy_view_sum(a, box)
    assert numpy_view_sum(np.asfortranarray(a), box) == got  # the logical view, not the layout
    view = a[..., box[0][0]:box[0][1], box[1][0]:box[1][1]]
    assert got == pytest.approx(float(np.sum(view, dtype=np.float64)), rel=1e-5)
    if tuple(int(x) for x in np.__version__.split(".")[:2]) >= (2, 3):  # the version reproduced
        assert got == float(view.sum())


# ---------------------------------------------------------------------------
# float16: torchmetrics' bins of a float16 binary input


def _confidences(p, logits, round_mode):
    from segscore._core.backends import cpu

    t = np.zeros(p.shape, np.int64)
    return cpu().calibration_confidences(p, t, class_axis=-1, n_classes=0, logits=logits, mode=0, positive=1,
                                         round_f32=round_mode, clip=False, clip_lo=0.0, clip_hi=1.0)["values"][0]


def test_float16_rounding_of_confidences_is_round_to_nearest_even():
    """round_f32=2 rounds each confidence to float16 (calibration.h float_to_half_bits): ties to
    even at every scale, the subnormal range down to the 2**-25 tie, and the largest values."""
    rng = np.random.default_rng(70)
    h = np.arange(0, 0x3c01, dtype=np.uint16).view(np.float16).astype(np.float32)  # every half in [0, 1]
    mid = ((h[:-1].astype(np.float64) + h[1:]) / 2).astype(np.float32)  # the ties (exact in float32)
    near = np.concatenate([np.nextafter(mid, 0), np.nextafter(mid, 1)])
    tiny = np.float32(2.0 ** -25) * np.array([0.5, 1, 1.5, 2, 3, 5], np.float32)
    p = np.concatenate([h, mid, near, tiny, rng.random(10000).astype(np.float32)])
    got = _confidences(p, False, 2)
    np.testing.assert_array_equal(got, p.astype(np.float16).astype(np.float64))
    assert got[len(h):len(h) + 3].tolist() == [0.0, 2.0 ** -23, 2.0 ** -23]  # ties 0.5, 1.5, 2.5 units: even
    np.testing.assert_array_equal(_confidences(p, False, 1), p.astype(np.float64))  # float32 values as they are


def test_saturated_float16_counts():
    """A float16 bin is a float32 running count rounded once: inf from 65,520 on."""
    got = saturated(np.array([0, 2049, 3000, 65504, 65519, 65520, 1 << 30]), np.float16)
    assert got.tolist()[:5] == [0, 2048, 3000, 65504, 65504] and np.isinf(got[5:]).all()
