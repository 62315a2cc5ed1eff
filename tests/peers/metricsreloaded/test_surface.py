"""convention="metricsreloaded".

MetricsReloaded is not on PyPI, so:
1. its own test fixtures (test/test_metrics/test_pairwise_measures.py) are
   carried here with the exact values it computes (docs/conventions_research.md
   §6; its tests only check them to 0.01);
2. random 1-D / 2-D / 3-D cases are checked against a line-by-line
   transcription of its distance code (adapters.metricsreloaded_formula);
3. when a MetricsReloaded checkout happens to be importable, the transcription
   itself is checked against it (skipped otherwise, also in CI).
"""

import math
import warnings

import numpy as np
import pytest

import segscore as ss
from support.helpers import assert_close

from .. import adapters as A
from ..cases import KINDS, case_params, empty_variants, make_case

REL = 1e-9
MR = "metricsreloaded"


# --------------------------------------------------------------------------- its test fixtures
def _fig10():
    ref = np.zeros([11, 11]); ref[3:8, 3:8] = 1
    pred = np.zeros([11, 11]); pred[3:8, 3:8] = 1; pred[5, 1:10] = 1; pred[1:10, 5] = 1
    return pred, ref


def _s210(which):
    ref = np.zeros([14, 14]); ref[5:9, 5:9] = 1
    pred = np.zeros([14, 14])
    if which == 1:
        pred[6:8, 6:8] = 1
    else:
        pred[4:10, 4:10] = 1
    return pred, ref


def _fig5c():
    ref = np.zeros([14, 14]); ref[1, 1] = 1; ref[9:12, 9:12] = 1
    pred = np.zeros([14, 14]); pred[9:12, 9:12] = 1
    return pred, ref


def _s212():
    ref = np.zeros([22, 22]); ref[2:21, 2:21] = 1
    pred = np.zeros([22, 22]); pred[3:21, 2:21] = 1
    return pred, ref


# (name, (pred, ref), {metric: exact value}); metric keys: hd, hd95 (its hd_perc, 95),
# assd, masd, nsd@tau, biou@d (its boundary_dist, in voxels)
FIXTURES = [
    ("fig10", _fig10(), {"hd": 2.0, "hd95": 2.0, "assd": 0.4444444444444444, "masd": 0.425,
                         "nsd@1": 0.8888888888888888, "nsd@2": 1.0, "biou@1": 0.5}),
    ("s210_1", _s210(1), {"hd": 1.4142135623730951, "masd": 1.0690355937288492, "assd": 1.1035533905932737,
                          "nsd@1": 0.75, "biou@1": 0.0}),
    ("s210_2", _s210(2), {"hd": 1.4142135623730951, "masd": 1.0414213562373096, "assd": 1.051776695296637,
                          "nsd@1": 0.875, "biou@1": 0.0}),
    ("fig5c", _fig5c(), {"hd": 11.313708498984761, "hd95": 6.788225099390853, "assd": 0.6655122646461624,
                         "masd": 0.628539361054709, "nsd@1": 0.9411764705882353, "biou@1": 0.8888888888888888}),
    ("s212", _s212(), {"hd": 1.0, "hd95": 1.0, "assd": 0.2535211267605634, "masd": 0.25337301587301586,
                       "nsd@1": 1.0, "biou@1": 0.5955056179775281, "biou@2": 0.7748344370860927}),
]


@pytest.mark.parametrize("name,arrays,expected", FIXTURES, ids=[f[0] for f in FIXTURES])
def test_metricsreloaded_fixtures(name, arrays, expected):
    pred, ref = (a.astype(bool) for a in arrays)
    metrics = list(expected)
    row = ss.evaluate(pred, ref, convention=MR, metrics=metrics).to_dict()[1]
    assert_close(row, expected, REL, f"MetricsReloaded fixture {name}")
    # the functional API gives the same numbers
    for m, v in expected.items():
        if m.startswith("nsd@"):
            got = ss.nsd(pred, ref, float(m[4:]), convention=MR)
        elif m.startswith("biou@"):
            got = ss.boundary_iou(pred, ref, float(m[5:]), convention=MR)
        else:
            got = {"hd": ss.hausdorff, "hd95": ss.hd95, "assd": ss.assd, "masd": ss.masd}[m](pred, ref, convention=MR)
        assert_close(got, v, REL, f"{name} {m}")
    # and so does the transcription used for the random cases
    f = A.metricsreloaded_formula(pred, ref, None, tol=1.0, hd_perc=95, boundary_dist=1)
    assert_close({k: f[k] for k in ("hd", "assd", "masd")}, {k: expected[k] for k in ("hd", "assd", "masd")}, REL,
                 "formula")


def test_default_tolerance_and_width():
    """MetricsReloaded's defaults: NSD tolerance 1, boundary_dist 1."""
    pred, ref = (a.astype(bool) for a in _fig10())
    assert ss.nsd(pred, ref, convention=MR) == pytest.approx(0.8888888888888888, rel=REL)
    assert ss.boundary_iou(pred, ref, convention=MR) == pytest.approx(0.5, rel=REL)
    assert ss.evaluate(pred, ref, convention=MR, metrics=["nsd", "biou"]).columns == ["nsd@1", "biou@1"]


def test_boundary_iou_ignores_spacing_and_is_strict():
    """Its boundary IoU works in voxels (pixdim ignored) with distance < d:
    d = 1.5 is the same band as d = 2."""
    pred, ref = (a.astype(bool) for a in _s212())
    for sp in [(1.0, 1.0), (0.3, 2.5)]:
        assert ss.boundary_iou(pred, ref, 1, spacing=sp, convention=MR) == pytest.approx(0.5955056179775281, rel=REL)
        assert ss.boundary_iou(pred, ref, 2, spacing=sp, convention=MR) == pytest.approx(0.7748344370860927, rel=REL)
        assert ss.boundary_iou(pred, ref, 1.5, spacing=sp, convention=MR) == pytest.approx(0.7748344370860927,
                                                                                          rel=REL)


def test_empty_fixtures():
    """test_distance_empty*, test_empty_ref_pred_nsd_biou: distances nan with one
    empty mask, 0 with both; NSD and boundary IoU 1 with both empty."""
    pred29 = np.concatenate([np.ones([45]), np.zeros([5]), np.ones([10]), np.zeros([40])]).astype(bool)
    ref29 = np.concatenate([np.ones([50]), np.zeros([50])]).astype(bool)
    z = np.zeros(100, bool)
    for p, r, dist in ((pred29, z, math.nan), (z, ref29, math.nan), (z, z, 0.0)):
        row = ss.evaluate(p, r, convention=MR, metrics=["hd", "hd95", "assd", "masd"]).to_dict()[1]
        assert_close(row, dict.fromkeys(row, dist), 0.0, "measured_distance")
    z2 = np.zeros((14, 14), bool)
    row = ss.evaluate(z2, z2, convention=MR, metrics=["hd", "hd95", "assd", "masd", "nsd", "biou", "dice", "iou"])
    assert_close(row.to_dict()[1], {"hd": 0.0, "hd95": 0.0, "assd": 0.0, "masd": 0.0, "nsd@1": 1.0, "biou@1": 1.0,
                                    "dice": 1.0, "iou": math.nan}, 0.0, "both empty")


def test_one_empty_nsd_artefact_is_not_reproduced():
    """With exactly one empty mask MetricsReloaded measures to scipy's virtual
    point outside the array (NSD 0.1 here); segscore documents 0."""
    ref = np.zeros((8, 9), bool)
    ref[0:3, 0:4] = True
    z = np.zeros_like(ref)
    assert A.metricsreloaded_formula(z, ref, None, tol=1.0)["nsd"] == pytest.approx(0.1)
    assert A.metricsreloaded_formula(z, ref, None, tol=3.0)["nsd"] == pytest.approx(0.5)
    assert ss.nsd(z, ref, 1.0, convention=MR) == 0.0
    assert ss.nsd(ref, z, 3.0, convention=MR) == 0.0


# --------------------------------------------------------------------------- random cases vs the transcription
PARAMS = [(1.0, 95, 1), (2.0, 90, 2), (0.7, 99, 1.5)]  # (nsd tau, hd_perc, boundary_dist)


@pytest.mark.parametrize("kind,ndim,seed", case_params((1, 2, 3), KINDS, range(5)))
def test_random_cases_match_metricsreloaded_code(kind, ndim, seed):
    pred, ref, sp = make_case(kind, ndim, seed, big=seed >= 3)
    for tau, perc, bd in PARAMS:
        want = A.metricsreloaded_formula(pred, ref, sp, tol=tau, hd_perc=perc, boundary_dist=bd)
        sd = ss.surface_distances(pred, ref, spacing=sp, convention=MR, biou_width=bd)
        got = {"hd": sd.hd(), "hd_perc": sd.hausdorff(perc), "assd": sd.assd(), "masd": sd.masd(),
               "nsd": sd.nsd(tau), "boundary_iou": sd.boundary_iou()}
        assert_close(got, want, REL, f"MR tau={tau} perc={perc} d={bd} {kind} {ndim}-D seed {seed} sp {sp}")


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_random_empty_cases_match_metricsreloaded_code(ndim):
    pred, ref, sp = make_case("blob", ndim, 7)
    for case, p, r in empty_variants(pred, ref):
        want = A.metricsreloaded_formula(p, r, sp, tol=1.0, hd_perc=95, boundary_dist=1)
        sd = ss.surface_distances(p, r, spacing=sp, convention=MR, biou_width=1)
        got = {"hd": sd.hd(), "hd_perc": sd.hd95(), "assd": sd.assd(), "masd": sd.masd(),
               "boundary_iou": sd.boundary_iou()}
        assert_close(got, {k: want[k] for k in got}, 0.0, f"MR {case} empty")
        assert sd.nsd(1.0) == (1.0 if case == "both" else 0.0)


def test_transcription_matches_the_real_library():
    """Only where a MetricsReloaded checkout is on sys.path (not on PyPI)."""
    pytest.importorskip("MetricsReloaded.metrics.pairwise_measures")
    for kind in KINDS:
        for ndim in (1, 2, 3):
            pred, ref, sp = make_case(kind, ndim, 0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                real = A.metricsreloaded_metrics(pred, ref, sp, tol=1.0, hd_perc=95, boundary_dist=1)
            mine = A.metricsreloaded_formula(pred, ref, sp, tol=1.0, hd_perc=95, boundary_dist=1)
            assert_close({k: mine[k] for k in real if k in mine}, {k: real[k] for k in real if k in mine}, REL,
                         f"{kind} {ndim}-D")
