"""GPU calibration binning and CRPS == the CPU path (counts exactly, sums within 1e-12
relative).  Runs on a CUDA device only (skips cleanly without one), for CuPy arrays and
torch CUDA tensors, through the compiled module and the CuPy path; the same checks run on
the sequential CUDA emulation in tests/unit/gpu/test_gpu_emulated.py.
"""

from __future__ import annotations

from support import gpu_suite as S
import numpy as np
import pytest
import segscore as ss
from support.gpu_devices import dev_fixture

pytestmark = pytest.mark.gpu
dev = dev_fixture()


@pytest.mark.parametrize("n_classes", [0, 2, 5])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_calibration(dev, n_classes, dtype):
    rng = np.random.default_rng(3000 + n_classes + 10 * np.dtype(dtype).itemsize)
    for i, layout in enumerate(S.layouts(dev)):
        for nd in (1, 2, 3):
            S.check_calibration(dev, rng, nd, n_classes, dtype, layout, class_axis=(0, -1)[i % 2] if n_classes else 0)


@pytest.mark.parametrize("n_classes", [0, 3])
def test_calibration_logits_mask_ignore(dev, n_classes):
    rng = np.random.default_rng(3100 + n_classes)
    for _ in range(3):
        S.check_calibration(dev, rng, 3, n_classes, np.float32, "C", logits=True)
        S.check_calibration(dev, rng, 2, n_classes, np.float64, "F", mask=True, target_dtype=np.uint8)
        S.check_calibration(dev, rng, 3, n_classes, np.float32, "strided", ignore=True, target_dtype=np.int16)
        S.check_calibration(dev, rng, 2, n_classes, np.float64, "C", logits=True, mask=True, ignore=True)


def test_calibration_streaming(dev):
    S.check_calibration_stream(dev, np.random.default_rng(3200))


def test_calibration_large_map_and_reproducible(dev):
    """More voxels than threads (grid-stride), long runs of confident voxels (run flushes),
    and the same bits on a second run."""
    rng = np.random.default_rng(3300)
    shape = (96, 128, 80)
    t = (rng.random(shape) < 0.1).astype(np.uint8)
    p = np.where(t == 1, rng.uniform(0.6, 1.0, shape), rng.uniform(0.0, 0.05, shape)).astype(np.float32)
    p[rng.random(shape) < 0.01] = 0.5
    want = ss.reliability(p, t, convention="torchmetrics")
    d_p, d_t = dev.up(p), dev.up(t)
    got = ss.reliability(d_p, d_t, convention="torchmetrics", device=dev.backend)
    again = ss.reliability(d_p, d_t, convention="torchmetrics", device=dev.backend)
    S.compare_reliability(got, want, f"{dev} large")
    np.testing.assert_array_equal(got.sum_confidence, again.sum_confidence)
    pc = np.stack([1 - p, p])
    S.assert_scalar(ss.ece(dev.up(pc), d_t, convention="monai", device=dev.backend),
                    ss.ece(pc, t, convention="monai"), S.RTOL64, "monai class-wise")
    # the float32 reference arithmetic above is a host replay of a copy; exact=True runs the
    # device pass on the same edges
    got = ss.reliability(d_p, d_t, convention="torchmetrics", device=dev.backend, exact=True)
    again = ss.reliability(d_p, d_t, convention="torchmetrics", device=dev.backend, exact=True)
    S.compare_reliability(got, ss.reliability(p, t, convention="torchmetrics", exact=True), f"{dev} large exact")
    np.testing.assert_array_equal(got.sum_confidence, again.sum_confidence)
    S.assert_scalar(ss.ece(dev.up(pc), d_t, convention="monai", device=dev.backend, exact=True),
                    ss.ece(pc, t, convention="monai", exact=True), S.RTOL64, "monai class-wise exact")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_crps_gaussian(dev, dtype):
    rng = np.random.default_rng(3400)
    for layout in S.layouts(dev):
        for _ in range(3):
            S.check_crps_gaussian(dev, rng, dtype, layout)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_crps_ensemble(dev, dtype, weighted):
    rng = np.random.default_rng(3500 + weighted)
    for i, layout in enumerate(S.layouts(dev)):
        for axis in (-1, 0):
            S.check_crps_ensemble(dev, rng, dtype, layout, weighted, axis=axis)


def test_crps_ensemble_many_observations(dev):
    """More observations than the sort workspace has threads (grid-stride loop)."""
    rng = np.random.default_rng(3600)
    obs = rng.normal(size=100_000)
    x = rng.normal(size=(100_000, 300))  # 2^28 bytes of sort scratch serve about 56 k threads
    got = dev.host(ss.crps_ensemble(dev.up(obs), dev.up(x), device=dev.backend))
    S.assert_close(got, ss.crps_ensemble(obs, x), S.RTOL64, "many observations")


def test_calibration_near_edges(dev):
    S.check_calibration_near_edges(dev)


# the one multi-rater pass == the CPU driver, bit for bit
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_multirater_pass(dev, nd):
    rng = np.random.default_rng(3100 + nd)
    for i, layout in enumerate(S.layouts(dev)):
        S.check_multirater(dev, rng, nd, layout, top=bool(i % 2 == 0))


def test_multirater_pass_ct_sized(dev):
    """512 x 512 x 64 with three raters and a 4-class softmax: bit-identical to the CPU."""
    from segscore.probabilistic.onepass import rater_pass

    rng = np.random.default_rng(3200)
    base = S.blob_labels(rng, (512, 512, 64), 3, np.uint8, specks=False)
    raters = [S.perturb(rng, base, 0.02) for _ in range(3)]
    s = rng.random(base.shape + (4,), dtype=np.float32) ** 4
    p = s / s.sum(axis=-1, keepdims=True)
    chans = [np.ascontiguousarray(p[..., c]) for c in range(4)]
    edges = np.arange(51) / 50
    want = rater_pass(raters, base, chans, range(4), target=base, edges=edges, top=True)
    got = rater_pass([dev.up(r) for r in raters], dev.up(base), [dev.up(c) for c in chans], range(4),
                     target=dev.up(base), edges=edges, top=True, device=dev.backend)
    np.testing.assert_array_equal(got.stats, want.stats)
    np.testing.assert_array_equal(got.psum, want.psum)
    np.testing.assert_array_equal(got.calib["top_conf"], want.calib["top_conf"])
