"""GPU counting pass, surface distances and evaluate == the CPU path, for
every convention and dimension, on many random cases (float64 within 1e-12
relative, boundary elements in the same order, the same percentile element).

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

CONV_DIMS = [(c, nd) for c in ss.CONVENTIONS for nd in ss.CONVENTIONS[c].ndims]


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_counting_pass(dev, nd):
    rng = np.random.default_rng(3000 + nd)
    for layout in S.layouts(dev):
        for _ in range(3):
            S.check_stats(dev, rng, nd, layout)
            S.check_stats(dev, rng, nd, layout, ignore=True, dtypes=(np.int16, np.int64))


@pytest.mark.parametrize("big", [300, 1000, 5000])
def test_counting_pass_large_labels(dev, big):
    S.check_stats(dev, np.random.default_rng(big), 3, "C", big_labels=big)


@pytest.mark.parametrize("conv,nd", CONV_DIMS)
def test_surface_distances(dev, conv, nd):
    rng = np.random.default_rng(abs(hash((conv, nd, "gpu"))) % 2**32)
    lay = S.layouts(dev)
    for i in range(20):
        S.check_surface(dev, rng, conv, nd, layout=lay[i % len(lay)])


@pytest.mark.parametrize("conv", list(ss.CONVENTIONS))
def test_evaluate(dev, conv):
    rng = np.random.default_rng(abs(hash((conv, "gpu-eval"))) % 2**32)
    for nd in ss.CONVENTIONS[conv].ndims:
        for _ in range(5):
            S.check_evaluate(dev, rng, conv, nd)


@pytest.mark.parametrize("conv", ["segscore", "monai", "metricsreloaded"])
def test_many_labels_large_crops(dev, conv):
    """14 labels on a 96^3 volume with stray specks (crops of very different sizes)."""
    rng = np.random.default_rng(14)
    p = S.blob_labels(rng, (96, 96, 96), 14)
    r = S.perturb(rng, p, 0.05)
    kw = dict(spacing=(0.8, 0.8, 2.5), convention=conv, tolerance=2.0)
    want = ss.evaluate(p, r, **kw, empty="nan").to_dict()
    got = ss.evaluate(dev.up(p), dev.up(r), device=dev.backend, **kw, empty="nan").to_dict()
    for k in want:
        for m in want[k]:
            S.assert_scalar(got[k][m], want[k][m], S.RTOL64, f"{conv} {k} {m}")
    sw = ss.surface_distances(p, r, spacing=kw["spacing"], convention=conv)
    sg = ss.surface_distances(dev.up(p), dev.up(r), spacing=kw["spacing"], convention=conv, device=dev.backend)
    for k in sw:
        S.compare_sd(sg[k], sw[k], S.RTOL64, f"{conv} label {k}")


@pytest.mark.parametrize("conv", ["segscore", "metricsreloaded", "monai", "panoptica"])
def test_union_regions_absent_labels_and_ignore(dev, conv):
    S.check_union_regions(dev, conv)
