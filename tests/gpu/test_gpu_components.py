"""GPU connected components and overlap table == the CPU path (the same ids, n, dtype and
memory order; the same table), on random masks of every kind, layout and connectivity.

Runs on a CUDA device only (skips cleanly without one), for CuPy arrays and torch CUDA
tensors, through the compiled module and the CuPy path.  The union-find uses atomicMin on
int64 parents: races are only exercised here (the emulation runs threads one by one).
"""

from __future__ import annotations

from support import gpu_suite as S
import numpy as np
import pytest
import segscore as ss
from support.gpu_devices import dev_fixture

pytestmark = pytest.mark.gpu
dev = dev_fixture()


@pytest.mark.parametrize("nd", [2, 3])
@pytest.mark.parametrize("kind", ["noise", "blobs", "labels"])
def test_connected_components(dev, nd, kind):
    rng = np.random.default_rng(5000 + 10 * nd + len(kind))
    for layout in S.layouts(dev):
        for _ in range(4):
            S.check_components(dev, rng, nd, layout, kind)


@pytest.mark.parametrize("min_size", [2, 5])
def test_connected_components_min_size(dev, min_size):
    rng = np.random.default_rng(5100 + min_size)
    for _ in range(4):
        S.check_components(dev, rng, 3, "C", "noise", min_size=min_size)


def test_connected_components_large_volume(dev):
    """The benchmark volume and a dense noise volume: many threads contend on the same roots."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "bench" / "bench_components.py"
    spec = importlib.util.spec_from_file_location("bench_components", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    ref, pred, _ = mod.lesion_volume()
    noise = np.random.default_rng(5200).random((96, 128, 128)) < 0.5
    for m in (ref, pred, noise, np.ones((64, 64, 64), bool)):
        for conn in (6, 18, 26):
            want, n = ss.connected_components(m, conn)
            got, k = ss.connected_components(dev.up(m), conn, device=dev.backend)
            assert k == n
            np.testing.assert_array_equal(dev.host(got), want)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_overlap_table(dev, nd):
    rng = np.random.default_rng(5300 + nd)
    for layout in S.layouts(dev):
        for _ in range(3):
            S.check_overlap_table(dev, rng, nd, layout)
            S.check_overlap_table(dev, rng, nd, layout, dtypes=(np.uint16, np.int64))
