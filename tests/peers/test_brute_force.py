"""Directed boundary distances against an exhaustive pairwise search (no peer
library needed), and a bounded hypothesis search over small random masks
against MedPy and the MetricsReloaded code."""

import numpy as np
import pytest

import segscore as ss
from support.helpers import assert_close, need_peer

from . import adapters as A
from .cases import KINDS, case_params, make_case

VOXEL_CONVENTIONS = ("monai", "medpy", "metricsreloaded", "panoptica")


@pytest.mark.parametrize("kind,ndim,seed", case_params((1, 2, 3), KINDS, range(2)))
def test_voxel_border_distances_are_exact(kind, ndim, seed):
    pred, ref, sp = make_case(kind, ndim, 30 + seed)
    for conn in sorted({1, ndim}):
        want_pr, want_rp = A.brute_directed(pred, ref, sp, conn)
        for conv in VOXEL_CONVENTIONS:
            if conn != 1 and conv not in ("medpy", "panoptica"):
                continue
            kw = {"connectivity": conn} if conv in ("medpy", "panoptica") else {}
            sd = ss.surface_distances(pred, ref, spacing=sp, convention=conv, **kw)
            for (d, w), want in ((sd.directed.pred_to_ref, want_pr), (sd.directed.ref_to_pred, want_rp)):
                assert len(d) == len(want), f"{conv}: boundary sizes {len(d)} vs {len(want)}"
                np.testing.assert_allclose(np.sort(d), want, rtol=1e-12, atol=0, err_msg=f"{conv} c={conn}")
                if conv != "monai":
                    assert np.all(np.asarray(w) == 1.0)


def test_corner_grid_boundary_of_a_single_voxel():
    """A lone voxel has 4 (2-D) / 8 (3-D) corner points, each a single-corner
    surfel; the distances to a far voxel are those between corner points."""
    for ndim in (2, 3):
        shape = (9,) * ndim
        p = np.zeros(shape, bool)
        r = np.zeros(shape, bool)
        p[(2,) * ndim] = True
        r[(6,) + (2,) * (ndim - 1)] = True  # 4 voxels away along axis 0
        sd = ss.surface_distances(p, r, spacing=(1.0,) * ndim, convention="deepmind")
        d, w = sd.directed.pred_to_ref
        assert len(d) == 2 ** ndim
        assert np.allclose(w, w[0])
        # corner at 2 - 0.5 -> nearest ref corner at 6 - 0.5: 4; corner at 2.5 -> 5.5: 3
        assert sorted(np.round(d, 12)) == [3.0] * 2 ** (ndim - 1) + [4.0] * 2 ** (ndim - 1)


def test_hypothesis_small_masks_vs_medpy_and_metricsreloaded():
    pytest.importorskip("hypothesis")
    need_peer("medpy")
    from hypothesis import given, settings
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp

    spacings = st.sampled_from([0.5, 0.7, 1.0, 1.3, 2.0])

    @settings(max_examples=40, deadline=None, derandomize=True, database=None)
    @given(st.data())
    def check(data):
        shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=8))
        pred = data.draw(hnp.arrays(bool, shape))
        ref = data.draw(hnp.arrays(bool, shape))
        if not (pred.any() and ref.any()):
            return
        sp = tuple(data.draw(spacings) for _ in shape)
        want = A.medpy_metrics(pred, ref, sp)
        sd = ss.surface_distances(pred, ref, spacing=sp, convention="medpy")
        assert_close({"hd": sd.hd(), "hd95": sd.hd95(), "assd": sd.assd(), "asd": sd.asd()},
                     {k: want[k] for k in ("hd", "hd95", "assd", "asd")}, 1e-9, f"medpy {shape} {sp}")
        mr = A.metricsreloaded_formula(pred, ref, sp, tol=1.0, hd_perc=95, boundary_dist=1)
        sd = ss.surface_distances(pred, ref, spacing=sp, convention="metricsreloaded", biou_width=1)
        assert_close({"hd": sd.hd(), "hd_perc": sd.hd95(), "assd": sd.assd(), "masd": sd.masd(),
                      "nsd": sd.nsd(1.0), "boundary_iou": sd.boundary_iou()}, mr, 1e-9, f"MR {shape} {sp}")

    check()


@pytest.mark.peers
def test_hypothesis_small_masks_vs_deepmind():
    pytest.importorskip("hypothesis")
    need_peer("surface_distance")
    from hypothesis import given, settings
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp

    @settings(max_examples=40, deadline=None, derandomize=True, database=None)
    @given(st.data())
    def check(data):
        shape = data.draw(hnp.array_shapes(min_dims=2, max_dims=3, min_side=1, max_side=8))
        pred = data.draw(hnp.arrays(bool, shape))
        ref = data.draw(hnp.arrays(bool, shape))
        if not (pred.any() and ref.any()):
            return
        sp = tuple(data.draw(st.sampled_from([0.6, 1.0, 1.5, 2.0])) for _ in shape)
        want = A.deepmind_metrics(pred, ref, sp, percentiles=(50, 95), tolerances=(1.0, 2.0))
        sd = ss.surface_distances(pred, ref, spacing=sp, convention="deepmind")
        got = {"hd": sd.hd(), "hd50": sd.hausdorff(50), "hd95": sd.hd95(), "sdice@1": sd.nsd(1.0),
               "sdice@2": sd.nsd(2.0)}
        got["asd_pred_to_gt"], got["asd_gt_to_pred"] = sd.asd(directed=False)
        assert_close(got, {k: want[k] for k in got}, 1e-9, f"deepmind {shape} {sp}")

    check()
