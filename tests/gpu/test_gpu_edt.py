"""GPU EDT == CPU EDT (float64 within 1e-12 relative, float32 within 1e-6).

Runs on a CUDA device only (skips cleanly without one), for CuPy arrays and
torch CUDA tensors, through the compiled module and the CuPy path.
"""

from __future__ import annotations

from support import gpu_suite as S
import numpy as np
import pytest
import segscore as ss
from support.gpu_devices import dev_fixture

pytestmark = pytest.mark.gpu
dev = dev_fixture()


@pytest.mark.parametrize("nd", [1, 2, 3, 4])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_edt_random(dev, nd, dtype):
    rng = np.random.default_rng(1000 + nd)
    for layout in S.layouts(dev):
        for _ in range(8):
            S.check_edt(dev, rng, nd, dtype, layout, squared=bool(rng.random() < 0.3))


@pytest.mark.parametrize("in_dtype", [np.bool_, np.uint8, np.int8, np.int16, np.uint16, np.int32, np.uint32, np.int64,
                                      np.uint64, np.float32, np.float64])
def test_edt_input_dtypes(dev, in_dtype):
    if dev.name == "torch" and np.dtype(in_dtype) in (np.dtype(np.uint16), np.dtype(np.uint32), np.dtype(np.uint64)):
        pytest.skip("torch's unsigned wide dtypes have no .cuda() copy from numpy here")
    S.check_edt(dev, np.random.default_rng(7), 3, "float64", "C", in_dtype=in_dtype)


@pytest.mark.parametrize("density", [0.0, 1.0])
def test_edt_no_zero_or_all_zero(dev, density):
    got, _ = S.check_edt(dev, np.random.default_rng(8), 3, "float32", "C", density=density)
    assert np.all(np.isinf(got)) == (density == 1.0)


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_edt_multilabel(dev, nd, dtype):
    rng = np.random.default_rng(2000 + nd)
    for layout in S.layouts(dev):
        for lab_dtype in (np.uint8, np.int16, np.int32, np.int64):
            S.check_edt_multilabel(dev, rng, nd, dtype, layout, lab_dtype)


@pytest.mark.parametrize("shape", [(96, 80, 64), (1, 300, 257), (257, 3, 129), (64, 64, 64)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_edt_larger_volumes(dev, shape, dtype):
    """Lines longer than a block, more lines than threads (grid-stride loops)."""
    rng = np.random.default_rng(sum(shape))
    g = np.indices(shape, dtype=float)
    c = [n / 2 for n in shape]
    m = sum(((g[i] - c[i]) / max(1.0, shape[i] / 3)) ** 2 for i in range(3)) <= 1.0
    m |= rng.random(shape) < 0.001
    m = ~m  # distances inside a large background region
    sp = (0.7, 1.3, 2.9)
    want = ss.edt(m, spacing=sp, dtype=dtype)
    got = dev.host(ss.edt(dev.up(m), spacing=sp, dtype=dtype, device=dev.backend))
    S.assert_close(got, want, S.RTOL64 if dtype == "float64" else S.RTOL32, f"edt {shape}")


@pytest.mark.slow
def test_edt_64bit_indexing():
    """A volume of more than 2**31 voxels (about 19 GiB of GPU memory)."""
    from support.gpu_devices import backend_reason, have_device

    if have_device("cupy"):
        pytest.skip(have_device("cupy"))
    import cupy

    free, _ = cupy.cuda.runtime.memGetInfo()
    if free < 24 * 2**30:
        pytest.skip("needs about 24 GiB of free GPU memory")
    shape = (2049, 1024, 1024)
    m = cupy.ones(shape, dtype=cupy.uint8)
    zeros = [(2048, 1023, 1023), (2040, 10, 1000), (5, 5, 5)]
    for z in zeros:
        m[z] = 0
    sp = (1.0, 0.5, 2.0)
    probes = [(2048, 1023, 1020), (2047, 1000, 1023), (1024, 512, 512), (2040, 12, 999), (0, 0, 0)]
    ran = 0
    for backend in ("cuda", "cupy"):
        if backend_reason(backend):
            continue
        out = ss.edt(m, spacing=sp, dtype="float32", device=backend)
        for p in probes:
            want = min(np.sqrt(sum(((a - b) * s) ** 2 for a, b, s in zip(p, z, sp))) for z in zeros)
            assert abs(float(out[p]) - want) <= 1e-6 * max(want, 1.0), (backend, p)
        del out
        ran += 1
    if not ran:
        pytest.skip("no GPU backend")
