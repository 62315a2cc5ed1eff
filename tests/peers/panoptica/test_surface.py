"""convention="panoptica" against panoptica 2.1.7's metric functions: hd,
pooled hd95, assd (= mean of the directed means), nsd (mean of directed
fractions, default tolerance min(spacing)), in 1-D / 2-D / 3-D with
connectivity 1 and ndim.  Float64: 1e-9 relative.

panoptica pins numpy<2.3 / pandas<3; CI installs it with
`pip install --no-deps panoptica==2.1.7 && pip install rich ruamel.yaml scikit-image plotly`.
"""

import math

import numpy as np
import pytest

import segscore as ss
from support.helpers import assert_close, need_peer

from segscore.app import peers as A
from ..cases import KINDS, case_params, empty_variants, make_case

pytestmark = pytest.mark.peers

REL = 1e-9
TOLS = (None, 0.5, 1.0, 2.0)


@pytest.mark.parametrize("kind,ndim,seed", case_params((1, 2, 3), KINDS, range(5)))
def test_metrics_match_panoptica(kind, ndim, seed):
    need_peer("panoptica")
    pred, ref, sp = make_case(kind, ndim, seed, big=seed >= 3)
    for conn in sorted({1, ndim}):
        want = A.panoptica_metrics(pred, ref, sp, tolerances=TOLS, connectivity=conn)
        sd = ss.surface_distances(pred, ref, spacing=sp, convention="panoptica", connectivity=conn)
        got = {"hd": sd.hd(), "hd95": sd.hd95(), "assd": sd.assd(), "nsd@default": sd.nsd()}
        for t in TOLS[1:]:
            got[f"nsd@{t:g}"] = sd.nsd(t)
        assert_close(got, {k: want[k] for k in got}, REL, f"panoptica c={conn} {kind} {ndim}-D seed {seed} sp {sp}")
        # panoptica's ASSD is what the others call MASD
        assert_close(sd.masd(), want["assd"], REL, "masd")


def test_default_tolerance_is_min_spacing():
    need_peer("panoptica")
    pred, ref, sp = make_case("blob", 3, 2)
    sp = (1.3, 0.7, 2.5)
    want = A.panoptica_metrics(pred, ref, sp, tolerances=(None, 0.7))
    assert want["nsd@default"] == want["nsd@0.7"]
    assert_close(ss.nsd(pred, ref, spacing=sp, convention="panoptica"), want["nsd@default"], REL)
    row = ss.evaluate(pred, ref, spacing=sp, convention="panoptica", metrics=["nsd", "hd95", "assd", "masd"])
    assert row.columns == ["nsd@0.7", "hd95", "assd", "masd"]
    assert_close(row.to_dict()[1], {"nsd@0.7": want["nsd@default"], "hd95": want["hd95"], "assd": want["assd"],
                                    "masd": want["assd"]}, REL, "evaluate")


def test_overlap_matches_panoptica():
    need_peer("panoptica")
    for seed in range(4):
        pred, ref, sp = make_case("border", 3, seed)
        want = A.panoptica_metrics(pred, ref, sp)
        assert_close(ss.dice(pred, ref, convention="panoptica"), want["dsc"], REL, "dice")
        assert_close(ss.iou(pred, ref, convention="panoptica"), want["iou"], REL, "iou")


def test_empty_masks_follow_the_evaluator():
    """panoptica's standalone functions give garbage or raise on empty masks;
    segscore follows its evaluator's default edge-case handler: ASSD inf (one
    empty) / nan (both), DSC 0 / nan, and HD / HD95 / NSD raise (no handler:
    NotImplementedError there, EmptyMaskError here)."""
    need_peer("panoptica")
    A._panoptica_quiet()
    from panoptica import InputType, Panoptica_Evaluator
    from panoptica.metrics import Metric

    pred, ref, sp = make_case("blob", 2, 3)
    for case, p, r in empty_variants(pred, ref):
        ev = Panoptica_Evaluator(expected_input=InputType.MATCHED_INSTANCE, instance_metrics=[Metric.ASSD, Metric.DSC],
                                 global_metrics=[Metric.DSC], verbose=False)
        res = list(ev.evaluate(p.astype(np.uint8), r.astype(np.uint8), voxelspacing=sp, verbose=False).values())[0]
        want = res.to_dict()
        assert_close(ss.assd(p, r, spacing=sp, convention="panoptica"), want["sq_assd"], REL, f"assd {case}")
        assert_close(ss.masd(p, r, spacing=sp, convention="panoptica"), want["sq_assd"], REL, f"masd {case}")
        assert_close(ss.dice(p, r, convention="panoptica"), want["sq_dsc"], REL, f"dice {case}")
        ev_hd = Panoptica_Evaluator(expected_input=InputType.MATCHED_INSTANCE, instance_metrics=[Metric.HD],
                                    global_metrics=[Metric.DSC], verbose=False)
        with pytest.raises(NotImplementedError):
            ev_hd.evaluate(p.astype(np.uint8), r.astype(np.uint8), voxelspacing=sp, verbose=False)
        for fn in (ss.hausdorff, ss.hd95):
            with pytest.raises(ss.EmptyMaskError):
                fn(p, r, spacing=sp, convention="panoptica")
        with pytest.raises(ss.EmptyMaskError):
            ss.nsd(p, r, spacing=sp, convention="panoptica")
        expected = math.inf if case != "both" else math.nan
        assert_close(ss.assd(p, r, spacing=sp, convention="panoptica"), expected, 0.0)
