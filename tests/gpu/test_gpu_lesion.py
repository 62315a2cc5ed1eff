"""ss.lesionwise on device arrays == on the host: the per-lesion distances of every
matched pair in one batch of GPU surface launches (and, for segscore / panoptica / isles,
components and the counting pass on the GPU too), every row, match and summary value within
1e-9 relative, for several conventions, 2-D and 3-D, anisotropic spacing, empty maps and
lesions on the border.

Runs on a CUDA device only (skips cleanly without one), for CuPy arrays and torch CUDA
tensors, through the compiled module and the CuPy path.  The emulated twin is
tests/unit/gpu/test_gpu_emulated.py::test_lesionwise.
"""

from __future__ import annotations

from support import gpu_suite as S
import numpy as np
import pytest
import segscore as ss
from support.gpu_devices import dev_fixture

pytestmark = pytest.mark.gpu
dev = dev_fixture()


@pytest.mark.parametrize("conv,opts", S.LESION_CONVENTIONS, ids=[f"{c}-{i}" for i, (c, _) in
                                                                 enumerate(S.LESION_CONVENTIONS)])
@pytest.mark.parametrize("nd", [2, 3])
def test_lesionwise(dev, conv, opts, nd):
    rng = np.random.default_rng(7300 + 10 * nd + S.LESION_CONVENTIONS.index((conv, opts)))
    for _ in range(4):
        S.check_lesionwise_random(dev, rng, nd, conv, opts)


@pytest.mark.parametrize("nd", [2, 3])
def test_lesionwise_layouts(dev, nd):
    rng = np.random.default_rng(7400 + nd)
    for _ in range(2):
        S.check_lesionwise_layouts(dev, rng, nd)


@pytest.mark.parametrize("conv", ["segscore", "panoptica", "brats2023"])
def test_lesionwise_large_volume(dev, conv):
    """The components benchmark's lesion volume (256 x 256 x 96, 30 lesions and 4 false positives)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "bench" / "bench_components.py"
    spec = importlib.util.spec_from_file_location("bench_components", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    ref, pred, _ = mod.lesion_volume()
    if conv == "brats2023":  # label maps: a core inside every lesion's oedema
        ref = ref.astype(np.uint8) * 2
        pred = pred.astype(np.uint8) * 2
        ref[::2, ::2][ref[::2, ::2] > 0] = 3
        pred[::2, ::2][pred[::2, ::2] > 0] = 3
    S.check_lesionwise(dev, conv, dict(metrics=("dice", "hd95", "assd")) if conv != "brats2023" else {},
                       pred, ref, (0.9, 0.9, 2.5), "lesion volume")
