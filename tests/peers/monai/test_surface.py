"""convention="monai" / "monai-subvoxels" against MONAI 1.6.1 on many random
1-D / 2-D / 3-D cases (compute_surface_dice: 2-D / 3-D only).

MONAI's distances are float32: 1e-5 relative throughout.  segscore emulates
its float32 HD, torch.quantile percentiles and voxel NSD exactly, which is
checked too.  One documented deviation: MONAI's HD95 with one empty mask is
nan (its issue #9095); segscore returns inf there.
"""

import math

import numpy as np
import pytest

import segscore as ss
from support.helpers import assert_close, need_peer

from segscore.app import peers as A
from ..cases import KINDS, case_params, empty_variants, make_case

pytestmark = pytest.mark.peers

REL = 1e-5
TOLS = (0.5, 1.0, 2.0)
# float32 emulated bit for bit (docs/conventions_research.md §3.3)
EXACT = ("hd", "hd_directed", "hd95", "hd95_directed") + tuple(f"nsd@{t:g}" for t in TOLS)


def _segscore(pred, ref, sp, percentiles=(95,), tols=TOLS):
    sd = ss.surface_distances(pred, ref, spacing=sp, convention="monai")
    out = {"hd": sd.hd(), "hd_directed": sd.hd(directed=True), "asd": sd.asd(), "assd": sd.assd()}
    for q in percentiles:
        out[f"hd{q:g}"] = sd.hausdorff(q)
        out[f"hd{q:g}_directed"] = sd.hausdorff(q, directed=True)
    if pred.ndim in (2, 3):
        sv = ss.surface_distances(pred, ref, spacing=sp, convention="monai-subvoxels")
        for t in tols:
            out[f"nsd@{t:g}"] = sd.nsd(t)
            out[f"nsd_subvoxel@{t:g}"] = sv.nsd(t)
    return out


@pytest.mark.parametrize("kind,ndim,seed", case_params((1, 2, 3), KINDS, range(4)))
def test_metrics_match_monai(kind, ndim, seed):
    need_peer("monai")
    pred, ref, sp = make_case(kind, ndim, seed)
    want = A.monai_metrics(pred, ref, sp, tolerances=TOLS, percentiles=(95,), overlap=False)
    got = _segscore(pred, ref, sp)
    assert set(got) == set(want)
    what = f"monai {kind} {ndim}-D seed {seed} spacing {sp}"
    assert_close(got, want, REL, what)
    assert_close({k: got[k] for k in EXACT if k in got}, {k: want[k] for k in EXACT if k in want}, 0.0,
                 what + " (float32 emulation)")


@pytest.mark.parametrize("kind,ndim,seed", [("blob", 3, 9), ("specks", 2, 9), ("border", 3, 8), ("thin", 2, 8)])
def test_percentiles_match_monai(kind, ndim, seed):
    """torch.quantile at other percentiles, and MONAI's percentile=0 = the maximum."""
    need_peer("monai")
    pred, ref, sp = make_case(kind, ndim, seed)
    qs = (0, 50, 90, 99)
    want = A.monai_metrics(pred, ref, sp, tolerances=(), percentiles=qs, subvoxels=False, overlap=False)
    got = _segscore(pred, ref, sp, percentiles=qs, tols=())
    assert_close(got, want, REL, f"monai percentiles {kind}")
    keys = [f"hd{q:g}" for q in qs] + [f"hd{q:g}_directed" for q in qs]
    assert_close({k: got[k] for k in keys}, {k: want[k] for k in keys}, 0.0, "torch.quantile emulation")
    assert got["hd0"] == got["hd"]  # MONAI: `if not percentile` -> max


def test_larger_case_matches_monai():
    need_peer("monai")
    pred, ref, sp = make_case("specks", 3, 4, big=True)
    want = A.monai_metrics(pred, ref, sp, tolerances=(1.0,), overlap=False)
    assert_close(_segscore(pred, ref, sp, tols=(1.0,)), want, REL, "monai, larger case")


def test_float32_tolerance_quirk():
    """MONAI compares float32 distances with float32(tau): a 3-voxel gap at
    spacing 0.1 (0.30000000000000004 in float64) is inside tau = 0.3 there."""
    need_peer("monai")
    ref = np.zeros((16, 16), bool)
    ref[2:10, 2:10] = True
    pred = np.zeros((16, 16), bool)
    pred[5:13, 2:10] = True
    want = A.monai_metrics(pred, ref, (0.1, 0.1), tolerances=(0.3,), overlap=False)
    assert want["nsd@0.3"] == 1.0
    assert ss.nsd(pred, ref, 0.3, spacing=(0.1, 0.1), convention="monai") == 1.0
    assert_close(ss.nsd(pred, ref, 0.3, spacing=(0.1, 0.1), convention="monai-subvoxels"),
                 want["nsd_subvoxel@0.3"], REL)
    # float64 conventions count the gap as outside
    assert ss.nsd(pred, ref, 0.3, spacing=(0.1, 0.1), convention="metricsreloaded") == pytest.approx(0.642857, abs=1e-6)


def test_label_map_matches_monai_per_label():
    need_peer("monai")
    shape = (20, 18, 14)
    pred = np.zeros(shape, np.int64)
    ref = np.zeros(shape, np.uint8)
    for lab, seed in ((1, 0), (3, 1), (4, 2)):
        p, r, _ = make_case("blob", 3, 20 + seed)
        sl = tuple(slice(0, min(a, b)) for a, b in zip(p.shape, shape))
        pred[sl][p[sl]] = lab
        ref[sl][r[sl]] = lab
    sp = (0.8, 0.8, 2.5)
    res = ss.evaluate(pred, ref, spacing=sp, convention="monai", metrics=["hd", "hd95", "assd", "nsd@1"]).to_dict()
    for lab in res:
        want = A.monai_metrics(pred == lab, ref == lab, sp, tolerances=(1.0,), subvoxels=False, overlap=False)
        assert_close(res[lab], {"hd": want["hd"], "hd95": want["hd95"], "assd": want["assd"],
                                "nsd@1": want["nsd@1"]}, REL, f"label {lab}")


@pytest.mark.parametrize("ndim", [2, 3])
def test_empty_masks_match_monai(ndim):
    """inf / nan / 0 as MONAI returns them, except HD95 with one empty mask:
    MONAI nan (torch.quantile of a set with inf, issue #9095), segscore inf."""
    need_peer("monai")
    pred, ref, sp = make_case("blob", ndim, 1)
    for case, p, r in empty_variants(pred, ref):
        want = A.monai_metrics(p, r, sp, tolerances=(1.0,), overlap=False)
        got = _segscore(p, r, sp, tols=(1.0,))
        if case != "both":
            for k in ("hd95", "hd95_directed"):
                assert math.isnan(want[k]), f"MONAI {k} with {case} empty: {want[k]} (issue #9095 fixed?)"
                assert got[k] == math.inf, f"segscore {k} with {case} empty: {got[k]}"
                del want[k], got[k]
        assert_close(got, want, REL, f"monai, {case} empty")
        # the functional API and evaluate agree with SurfaceDistances
        row = ss.evaluate(p, r, spacing=sp, convention="monai", metrics=["hd", "hd95", "assd", "nsd@1"]).to_dict()[1]
        assert_close(row, {"hd": got["hd"], "hd95": got.get("hd95", math.inf if case != "both" else math.nan),
                           "assd": got["assd"], "nsd@1": got["nsd@1"]}, 0.0, f"evaluate, {case} empty")
