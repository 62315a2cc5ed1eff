"""convention="medpy" against MedPy 0.5.2 (hd, pooled hd95, pooled assd,
directed asd) in 1-D, 2-D and 3-D, with connectivity 1 and ndim.  Float64:
1e-9 relative.  MedPy raises RuntimeError for an empty mask; segscore raises
EmptyMaskError (a ValueError) unless an empty= policy says otherwise.
"""

import numpy as np
import pytest

import segscore as ss
from support.helpers import assert_close, need_peer

from segscore.app import peers as A
from ..cases import KINDS, case_params, empty_variants, make_case

pytestmark = pytest.mark.peers

REL = 1e-9


@pytest.mark.parametrize("kind,ndim,seed", case_params((1, 2, 3), KINDS, range(5)))
def test_metrics_match_medpy(kind, ndim, seed):
    need_peer("medpy")
    pred, ref, sp = make_case(kind, ndim, seed, big=seed >= 3)
    for conn in sorted({1, ndim}):
        want = A.medpy_metrics(pred, ref, sp, connectivity=conn)
        sd = ss.surface_distances(pred, ref, spacing=sp, convention="medpy", connectivity=conn)
        got = {"hd": sd.hd(), "hd95": sd.hd95(), "assd": sd.assd(), "asd": sd.asd()}
        assert_close(got, {k: want[k] for k in got}, REL, f"medpy c={conn} {kind} {ndim}-D seed {seed} sp {sp}")


@pytest.mark.parametrize("ndim", [2, 3])
def test_functional_api_matches_medpy(ndim):
    need_peer("medpy")
    pred, ref, sp = make_case("specks", ndim, 5)
    for conn in (1, ndim):
        want = A.medpy_metrics(pred, ref, sp, connectivity=conn)
        kw = dict(spacing=sp, convention="medpy", connectivity=conn)
        assert_close(ss.hausdorff(pred, ref, **kw), want["hd"], REL, "hausdorff")
        assert_close(ss.hd95(pred, ref, **kw), want["hd95"], REL, "hd95")
        assert_close(ss.assd(pred, ref, **kw), want["assd"], REL, "assd")
        row = ss.evaluate(pred, ref, metrics=["hd", "hd95", "assd", "dice", "iou"], **kw).to_dict()[1]
        assert_close(row, {"hd": want["hd"], "hd95": want["hd95"], "assd": want["assd"], "dice": want["dc"],
                           "iou": want["jc"]}, REL, f"evaluate c={conn}")


def test_label_map_matches_medpy_per_label():
    need_peer("medpy")
    rng = np.random.default_rng(3)
    pred = rng.integers(0, 4, size=(14, 15, 13)).astype(np.uint8)
    ref = pred.copy()
    ref[rng.random(pred.shape) < 0.15] = 2
    sp = (0.5, 1.3, 2.0)
    res = ss.evaluate(pred, ref, spacing=sp, convention="medpy", metrics=["hd", "hd95", "assd"], connectivity=3)
    for lab, row in res.to_dict().items():
        want = A.medpy_metrics(pred == lab, ref == lab, sp, connectivity=3)
        assert_close(row, {k: want[k] for k in row}, REL, f"label {lab}")


def test_empty_masks_raise_like_medpy():
    need_peer("medpy")
    pred, ref, sp = make_case("blob", 2, 0)
    for case, p, r in empty_variants(pred, ref):
        with pytest.raises(RuntimeError, match="does not contain any binary object"):
            A.medpy_metrics(p, r, sp)
        for fn in (ss.hausdorff, ss.hd95, ss.assd):
            with pytest.raises(ss.EmptyMaskError, match="empty"):
                fn(p, r, spacing=sp, convention="medpy")
        sd = ss.surface_distances(p, r, spacing=sp, convention="medpy")
        with pytest.raises(ss.EmptyMaskError):
            sd.asd()
        # a policy replaces the error
        assert ss.hd95(p, r, spacing=sp, convention="medpy", empty={"hd95": "inf"}) == float("inf")
        # MedPy's dc / jc: 0 for one empty mask; both empty: dc nan, jc 1
        want = A.medpy_overlap(p, r)
        assert_close(ss.dice(p, r, convention="medpy"), want["dc"], REL, f"dice {case}")
        assert_close(ss.iou(p, r, convention="medpy"), want["jc"], REL, f"iou {case}")
