"""convention="deepmind" (and the default "segscore", same geometry) against
DeepMind surface-distance 0.1 on many random 2-D / 3-D cases.

DeepMind's functions take (gt, pred) and return directed pairs in the order
(gt -> pred, pred -> gt); segscore returns (pred -> ref, ref -> pred).
Float64 on both sides: 1e-9 relative.
"""

import numpy as np
import pytest

import segscore as ss
from support.helpers import assert_close, need_peer

from segscore.app import peers as A
from ..cases import KINDS, case_params, empty_variants, make_case

pytestmark = pytest.mark.peers

PCTS = (50, 90, 95, 99, 100)
TOLS = (0.5, 1.0, 1.5, 2.0, 3.0)
REL = 1e-9


def _segscore(sd):
    out = {"hd": sd.hd()}
    for q in PCTS:
        out[f"hd{q:g}"] = sd.hausdorff(q)
    # segscore: (pred -> ref, ref -> pred); DeepMind: (gt -> pred, pred -> gt)
    out["asd_pred_to_gt"], out["asd_gt_to_pred"] = sd.asd(directed=False)
    for t in TOLS:
        out[f"overlap_pred@{t:g}"], out[f"overlap_gt@{t:g}"] = sd.surface_overlap(t)
        out[f"sdice@{t:g}"] = sd.nsd(t)
    return out


@pytest.mark.parametrize("kind,ndim,seed", case_params((2, 3), KINDS, range(8)))
def test_metrics_match_deepmind(kind, ndim, seed):
    need_peer("surface_distance")
    pred, ref, sp = make_case(kind, ndim, seed, big=seed >= 6)
    want = A.deepmind_metrics(pred, ref, sp, percentiles=PCTS, tolerances=TOLS)
    want.pop("dice")
    for conv in ("deepmind", "segscore"):
        sd = ss.surface_distances(pred, ref, spacing=sp, convention=conv)
        got = _segscore(sd)
        assert_close(got, want, REL, f"{conv} {kind} {ndim}-D seed {seed} spacing {sp}")
        # the directed scalar is pred -> ref
        assert_close(sd.asd(), want["asd_pred_to_gt"], REL, "asd(directed=True)")


@pytest.mark.parametrize("kind,ndim,seed", case_params((2, 3), KINDS, range(2)))
def test_directed_distances_and_areas_match_deepmind(kind, ndim, seed):
    """The stored (distance, surfel area) multisets are DeepMind's, per direction."""
    need_peer("surface_distance")
    pred, ref, sp = make_case(kind, ndim, seed)
    raw = A.deepmind_distances(pred, ref, sp)
    sd = ss.surface_distances(pred, ref, spacing=sp, convention="deepmind")
    for mine, theirs in ((sd.directed.pred_to_ref, raw["pred_to_gt"]), (sd.directed.ref_to_pred, raw["gt_to_pred"])):
        d, w = np.asarray(mine.distances), np.asarray(mine.weights)
        td, tw = np.asarray(theirs[0]), np.asarray(theirs[1])
        assert len(d) == len(td)
        o, to = np.lexsort((w, d)), np.lexsort((tw, td))
        np.testing.assert_allclose(d[o], td[to], rtol=1e-12, atol=0)
        np.testing.assert_allclose(w[o], tw[to], rtol=1e-12, atol=0)


@pytest.mark.parametrize("seed", range(3))
def test_functional_api_matches_deepmind(seed):
    need_peer("surface_distance")
    pred, ref, sp = make_case("blob", 3, seed)
    want = A.deepmind_metrics(pred, ref, sp, percentiles=(95, 99), tolerances=(1.0, 2.0))
    kw = dict(spacing=sp, convention="deepmind")
    assert_close(ss.hausdorff(pred, ref, **kw), want["hd"], REL, "hausdorff")
    assert_close(ss.hd95(pred, ref, **kw), want["hd95"], REL, "hd95")
    assert_close(ss.hausdorff(pred, ref, 99, **kw), want["hd99"], REL, "hd99")
    assert_close(ss.nsd(pred, ref, 2.0, **kw), want["sdice@2"], REL, "nsd")
    assert_close(ss.surface_overlap(pred, ref, 1.0, **kw), (want["overlap_pred@1"], want["overlap_gt@1"]), REL,
                 "surface_overlap")
    row = ss.evaluate(pred, ref, metrics=["hd", "hd95", "hd99", "nsd@1", "nsd@2"], **kw).to_dict()[1]
    assert_close(row, {"hd": want["hd"], "hd95": want["hd95"], "hd99": want["hd99"], "nsd@1": want["sdice@1"],
                       "nsd@2": want["sdice@2"]}, REL, "evaluate")


def test_label_map_matches_deepmind_per_label():
    """Several labels at once (one call, threads over labels) = one DeepMind call per label."""
    need_peer("surface_distance")
    rng = np.random.default_rng(7)
    shape = (18, 20, 16)
    pred = np.zeros(shape, np.uint16)
    ref = np.zeros(shape, np.int32)
    for lab in (1, 2, 5):
        p, r, _ = make_case("blob", 3, 10 + lab)
        sl = tuple(slice(0, min(a, b)) for a, b in zip(p.shape, shape))
        pred[sl][p[sl]] = lab
        ref[sl][r[sl]] = lab
    ref[rng.random(shape) < 0.002] = 2  # specks
    sp = (1.2, 0.7, 2.0)
    res = ss.evaluate(pred, ref, spacing=sp, convention="deepmind", metrics=["hd", "hd95", "nsd@1.5"],
                      threads=2).to_dict()
    assert set(res) == {1, 2, 5}
    for lab in (1, 2, 5):
        want = A.deepmind_metrics(pred == lab, ref == lab, sp, percentiles=(95,), tolerances=(1.5,))
        assert_close(res[lab], {"hd": want["hd"], "hd95": want["hd95"], "nsd@1.5": want["sdice@1.5"]}, REL,
                     f"label {lab}")


@pytest.mark.parametrize("ndim", [2, 3])
def test_empty_masks_match_deepmind_intent(ndim):
    """DeepMind crashes on empty masks under numpy 2 (np.Inf); with the alias
    restored it returns what it meant: HD inf (even both empty), the directed
    pair (inf, nan), overlap (0, nan), surface Dice 0 / nan."""
    need_peer("surface_distance")
    pred, ref, sp = make_case("blob", ndim, 0)
    for case, p, r in empty_variants(pred, ref):
        want = A.deepmind_metrics(p, r, sp, percentiles=(50, 95), tolerances=(1.0,))
        sd = ss.surface_distances(p, r, spacing=sp, convention="deepmind")
        got = {"hd": sd.hd(), "hd50": sd.hausdorff(50), "hd95": sd.hd95(), "sdice@1": sd.nsd(1.0)}
        got["asd_pred_to_gt"], got["asd_gt_to_pred"] = sd.asd(directed=False)
        got["overlap_pred@1"], got["overlap_gt@1"] = sd.surface_overlap(1.0)
        assert_close(got, {k: want[k] for k in got}, REL, f"deepmind, {case} empty")
        assert_close(sd.asd(), want["asd_pred_to_gt"], REL, f"asd(directed=True), {case} empty")
        assert_close(ss.dice(p, r, convention="deepmind"), want["dice"], REL, f"dice, {case} empty")
