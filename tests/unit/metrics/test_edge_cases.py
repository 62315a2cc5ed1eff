"""Edge cases: empty masks under every policy, single voxels, objects on the
array border, extreme label values, memory layouts and dtypes, label regions,
ignore_label, absent labels, thread counts, and the EDTs against scipy /
seung-lab edt / a brute-force definition."""

import math

import numpy as np
import pytest

import segscore as ss
from support.helpers import assert_close, blob, need_peer, same_value

NAN, INF = math.nan, math.inf
ALL_CONVENTIONS = ("segscore", "deepmind", "monai", "monai-subvoxels", "medpy", "metricsreloaded", "panoptica")
E = "error"


def _mask():
    m = np.zeros((8, 9), bool)
    m[2:5, 3:7] = True
    return m


def _both_kinds():
    m = _mask()
    z = np.zeros_like(m)
    return {"ref": (m, z), "pred": (z, m), "both": (z, z.copy())}


# --------------------------------------------------------------------------- empty masks: defaults
# (ref empty, pred empty, both empty) per convention and metric family (docs/conventions.md)
DEFAULTS = {
    "segscore": {"hd": (INF, INF, NAN), "hd95": (INF, INF, NAN), "assd": (INF, INF, NAN), "masd": (INF, INF, NAN),
                 "nsd@1": (0.0, 0.0, NAN), "biou@1": (0.0, 0.0, NAN), "dice": (0.0, 0.0, NAN),
                 "iou": (0.0, 0.0, NAN), "precision": (0.0, NAN, NAN), "recall": (NAN, 0.0, NAN),
                 "vs": (0.0, 0.0, NAN)},
    "deepmind": {"hd": (INF, INF, INF), "hd95": (INF, INF, INF), "assd": (INF, INF, NAN), "nsd@1": (0.0, 0.0, NAN),
                 "dice": (0.0, 0.0, NAN)},
    "monai": {"hd": (INF, INF, NAN), "hd95": (INF, INF, NAN), "assd": (INF, INF, NAN), "nsd@1": (0.0, 0.0, NAN),
              "dice": (NAN, 0.0, NAN), "iou": (NAN, 0.0, NAN)},
    "monai-subvoxels": {"nsd@1": (0.0, 0.0, NAN)},
    "medpy": {"hd": (E, E, E), "hd95": (E, E, E), "assd": (E, E, E), "dice": (0.0, 0.0, NAN), "iou": (0.0, 0.0, 1.0)},
    "metricsreloaded": {"hd": (NAN, NAN, 0.0), "hd95": (NAN, NAN, 0.0), "assd": (NAN, NAN, 0.0),
                        "masd": (NAN, NAN, 0.0), "nsd@1": (0.0, 0.0, 1.0), "biou@1": (0.0, 0.0, 1.0),
                        "dice": (0.0, 0.0, 1.0), "iou": (0.0, 0.0, NAN)},
    "panoptica": {"hd": (E, E, E), "hd95": (E, E, E), "nsd@1": (E, E, E), "assd": (INF, INF, NAN),
                  "masd": (INF, INF, NAN), "dice": (0.0, 0.0, NAN), "iou": (0.0, 0.0, NAN)},
}


@pytest.mark.parametrize("conv", ALL_CONVENTIONS)
def test_empty_mask_defaults(conv):
    for i, (case, (p, r)) in enumerate(_both_kinds().items()):
        for metric, values in DEFAULTS[conv].items():
            want = values[i]
            if want == E:
                with pytest.raises(ss.EmptyMaskError, match="empty"):
                    ss.evaluate(p, r, convention=conv, metrics=[metric])
                continue
            got = ss.evaluate(p, r, convention=conv, metrics=[metric]).to_dict()[1][metric]
            assert same_value(got, want, 0.0), f"{conv} {metric}, {case} empty: {got} (expected {want})"


def test_empty_defaults_in_the_functional_api():
    for case, (p, r) in _both_kinds().items():
        want = {"ref": INF, "pred": INF, "both": NAN}[case]
        for fn in (ss.hausdorff, ss.hd95, ss.assd, ss.masd):
            assert same_value(fn(p, r), want), (fn.__name__, case)
        assert same_value(ss.nsd(p, r, 1.0), {"ref": 0.0, "pred": 0.0, "both": NAN}[case])
        assert same_value(ss.boundary_iou(p, r), {"ref": 0.0, "pred": 0.0, "both": NAN}[case])
        assert same_value(ss.dice(p, r), {"ref": 0.0, "pred": 0.0, "both": NAN}[case])
        sd = ss.surface_distances(p, r)
        assert isinstance(sd.assd(), float)


def test_directed_pairs_with_one_empty_mask():
    """A direction without boundary elements is nan; one whose target is
    missing is inf (distances) / 0 (overlap fraction)."""
    (m, z) = _both_kinds()["ref"]
    for conv in ("segscore", "deepmind", "monai", "medpy"):
        sd = ss.surface_distances(m, z, convention=conv)
        assert_close(sd.asd(directed=False), (INF, NAN), 0.0, conv)
        sd = ss.surface_distances(z, m, convention=conv)
        assert_close(sd.asd(directed=False), (NAN, INF), 0.0, conv)
    assert_close(ss.surface_overlap(m, z, 1.0), (0.0, NAN), 0.0)
    assert_close(ss.surface_overlap(z, m, 1.0), (NAN, 0.0), 0.0)
    assert_close(ss.surface_overlap(z, z.copy(), 1.0), (NAN, NAN), 0.0)


# --------------------------------------------------------------------------- empty masks: user policies
def test_user_override_per_case():
    pol = {"hd95": {"ref": "inf", "pred": "worst", "both": "nan"}}
    sp = (0.5, 2.0)
    diag = math.hypot(8 * 0.5, 9 * 2.0)  # the image diagonal in mm
    want = {"ref": INF, "pred": diag, "both": NAN}
    for case, (p, r) in _both_kinds().items():
        for conv in ("segscore", "monai", "medpy", "metricsreloaded", "panoptica", "deepmind"):
            row = ss.evaluate(p, r, spacing=sp, convention=conv, metrics=["hd95"], empty=pol).to_dict()[1]
            assert same_value(row["hd95"], want[case]), (conv, case, row)
            assert same_value(ss.hd95(p, r, spacing=sp, convention=conv, empty=pol), want[case])
        # the policy names one metric: hd99 keeps the default
        assert same_value(ss.hausdorff(p, r, 99, spacing=sp, empty=pol), {"ref": INF, "pred": INF, "both": NAN}[case])


def test_user_policy_forms():
    z, m = _both_kinds()["pred"]  # pred empty
    sp = (0.5, 2.0)
    diag = math.hypot(4.0, 18.0)
    row = ss.evaluate(z, m, spacing=sp, metrics=["hd", "hd95", "hd99", "nsd@1", "biou", "dice", "assd"],
                      empty={"hdp": 7, "nsd": "worst", "biou": "worst", "dice": "worst", "assd": "worst"}).to_dict()[1]
    # a family key (hdp: every percentile) and "worst": diagonal for distances, 0 for scores
    assert row == {"hd": INF, "hd95": 7.0, "hd99": 7.0, "nsd@1": 0.0, "biou@1": 0.0, "dice": 0.0, "assd": diag}
    # one value for everything
    row = ss.evaluate(z, m, tolerance=1.0, empty="nan").to_dict()[1]
    assert all(math.isnan(row[k]) for k in ("dice", "iou", "hd", "hd95", "assd", "masd", "nsd@1"))
    assert row["fn"] == 12 and row["tp"] == 0
    row = ss.evaluate(z, z.copy(), tolerance=1.0, empty=1).to_dict()[1]
    assert row["dice"] == row["hd95"] == row["nsd@1"] == 1.0
    # "+inf" and numbers
    assert ss.hd95(z, m, empty={"hd95": "+inf"}) == INF
    assert ss.assd(z, m, empty={"assd": {"pred": 12.5}}) == 12.5


def test_error_policy_raises_empty_mask_error():
    m, z = _both_kinds()["ref"]
    for metrics, pol in ((["hd"], {"hd": "error"}), (["hd95"], {"hd95": {"ref": "error"}}), (["dice"], "error"),
                         (["nsd@1"], {"nsd": "error"})):
        with pytest.raises(ss.EmptyMaskError, match="reference is empty"):
            ss.evaluate(m, z, metrics=metrics, empty=pol)
    with pytest.raises(ss.EmptyMaskError, match="prediction is empty"):
        ss.hausdorff(z, m, empty="error")
    with pytest.raises(ss.EmptyMaskError, match="both masks are empty"):
        ss.dice(z, z.copy(), empty={"dice": {"both": "error"}})
    assert issubclass(ss.EmptyMaskError, ValueError)
    # a non-empty case is unaffected by the policy
    assert ss.hausdorff(m, m, empty="error") == 0.0


# --------------------------------------------------------------------------- single voxels, identical masks
@pytest.mark.parametrize("conv,ndim", [(c, d) for c in ("segscore", "monai", "medpy", "metricsreloaded", "panoptica",
                                                        "deepmind") for d in (1, 2, 3) if (c, d) != ("deepmind", 1)])
def test_single_voxel_against_itself(conv, ndim):
    m = np.zeros((5,) * ndim, bool)
    m[(2,) * ndim] = True
    row = ss.evaluate(m, m, convention=conv, metrics=["dice", "hd", "hd95"]).to_dict()[1]
    assert row == {"dice": 1.0, "hd": 0.0, "hd95": 0.0}
    if conv not in ("medpy",):
        assert ss.nsd(m, m, 0.0 if conv != "panoptica" else None, convention=conv) == 1.0
    edge = np.zeros_like(m)
    edge[(0,) * ndim] = True  # in the corner of the array
    assert ss.hausdorff(edge, edge, convention=conv) == 0.0


@pytest.mark.parametrize("conv", ["segscore", "monai", "medpy", "metricsreloaded", "panoptica", "deepmind"])
def test_objects_touching_the_border_equal_padded(conv):
    """Outside the array is background: padding with zeros changes nothing."""
    rng = np.random.default_rng(4)
    for ndim in (2, 3):
        shape = (11, 9, 7)[:ndim]
        ref = np.ones(shape, bool) if ndim == 2 else blob(shape, (0, 0, 3), (6, 5, 4))
        pred = rng.random(shape) < 0.8
        pred[(slice(0, 3),) * ndim] = True
        sp = (0.7, 1.3, 2.0)[:ndim]
        metrics = ["hd", "hd95", "assd"] + (["nsd@1"] if conv != "medpy" else [])
        a = ss.evaluate(pred, ref, spacing=sp, convention=conv, metrics=metrics).to_dict()[1]
        b = ss.evaluate(np.pad(pred, 3), np.pad(ref, 3), spacing=sp, convention=conv, metrics=metrics).to_dict()[1]
        assert_close(a, b, 1e-12, f"{conv} {ndim}-D")


def test_full_array_masks():
    m = np.ones((6, 7, 5), bool)
    for conv in ("segscore", "monai", "medpy", "metricsreloaded", "panoptica", "deepmind"):
        row = ss.evaluate(m, m, convention=conv, metrics=["dice", "hd", "hd95", "assd"]).to_dict()[1]
        assert row == {"dice": 1.0, "hd": 0.0, "hd95": 0.0, "assd": 0.0}, conv


# --------------------------------------------------------------------------- labels and dtypes
def _labels(shape=(12, 13, 11), seed=0, n=4):
    rng = np.random.default_rng(seed)
    pred = np.zeros(shape, np.int64)
    ref = np.zeros(shape, np.int64)
    for lab in range(1, n + 1):
        c = rng.uniform(2, np.array(shape) - 2)
        pred[blob(shape, c, rng.uniform(2, 4, 3))] = lab
        ref[blob(shape, c + rng.uniform(-1, 1, 3), rng.uniform(2, 4, 3))] = lab
    return pred, ref


METRICS = ["dice", "iou", "precision", "recall", "specificity", "vs", "tp", "fp", "fn", "tn", "vol_pred_ml",
           "vol_ref_ml", "hd", "hd95", "assd", "masd", "nsd@1", "biou@1"]


def _same_rows(a, b):
    assert list(a) == list(b)
    for k in a:
        assert list(a[k]) == list(b[k])
        for m in a[k]:
            x, y = a[k][m], b[k][m]
            assert (x == y) or (isinstance(x, float) and math.isnan(x) and math.isnan(y)), (k, m, x, y)


def test_huge_label_values():
    pred, ref = _labels()
    big = 2**31 - 1
    p = np.where(pred == 2, big, pred)
    r = np.where(ref == 2, big, ref)
    for dt in (np.int64, np.uint32, np.uint64):
        res = ss.evaluate(p.astype(dt), r.astype(dt), metrics=METRICS, spacing=(1, 2, 1)).to_dict()
        assert big in res and 2 not in res
        want = ss.evaluate(pred == 2, ref == 2, metrics=METRICS, spacing=(1, 2, 1)).to_dict()[1]
        assert res[big] == want
    assert ss.dice(p, r, labels=[big])[big] == ss.dice(pred == 2, ref == 2)


@pytest.mark.parametrize("where", ["pred", "ref"])
def test_negative_and_too_large_labels_raise(where):
    pred, ref = _labels()
    for bad, dt in ((-1, np.int8), (-(2**40), np.int64), (2**31, np.int64), (2**32, np.uint64)):
        p, r = pred.astype(dt), ref.astype(dt)
        (p if where == "pred" else r)[0, 0, 0] = bad
        with pytest.raises(ValueError, match=r"\[0, 2\*\*31\)") as exc:
            ss.evaluate(p, r)
        assert where in str(exc.value)
    with pytest.raises(ValueError, match="negative"):
        ss.edt_multilabel(np.array([[1, -2], [0, 3]]))


@pytest.mark.parametrize("dtype", [np.uint8, np.int32])
def test_fortran_order_with_unions_ignore_label_and_conventions(dtype):
    """Fortran-ordered maps (the surface crops are filled along the maps' contiguous axis):
    the same bits as C order, for single labels, unions, an ignore label and both boundary
    definitions."""
    pred, ref = _labels((15, 17, 13), seed=4, n=5)
    pred, ref = pred.astype(dtype), ref.astype(dtype)
    sp = (0.8, 0.9, 2.5)
    for kw in ({}, {"labels": [1, (2, 3), {"all": (1, 2, 3, 4)}["all"]]}, {"ignore_label": 5},
               {"convention": "monai", "metrics": ["hd95", "assd", "nsd@1"]}):
        kw = dict(kw)
        metrics = kw.pop("metrics", METRICS)
        if kw.get("convention") == "monai":
            kw["tolerance"] = 1.0
        base = ss.evaluate(pred, ref, spacing=sp, metrics=metrics, **kw).to_dict()
        for t in (1, 3):
            got = ss.evaluate(np.asfortranarray(pred), np.asfortranarray(ref), spacing=sp, metrics=metrics, threads=t,
                              **kw).to_dict()
            _same_rows(got, base)


def test_memory_layouts_give_identical_results():
    pred, ref = _labels((16, 18, 14), seed=1)
    sp = (0.8, 1.1, 2.0)
    base = ss.evaluate(pred, ref, spacing=sp, metrics=METRICS).to_dict()
    _same_rows(ss.evaluate(np.asfortranarray(pred), np.asfortranarray(ref), spacing=sp, metrics=METRICS).to_dict(),
               base)
    _same_rows(ss.evaluate(np.asfortranarray(pred), ref, spacing=sp, metrics=METRICS).to_dict(), base)
    # strided and reversed views
    big_p = np.zeros((32, 18, 28), pred.dtype)
    big_r = np.zeros((32, 18, 28), ref.dtype)
    big_p[::2, ::-1, 1::2] = pred
    big_r[::2, ::-1, 1::2] = ref
    vp, vr = big_p[::2, ::-1, 1::2], big_r[::2, ::-1, 1::2]
    assert not vp.flags.c_contiguous
    _same_rows(ss.evaluate(vp, vr, spacing=sp, metrics=METRICS).to_dict(), base)
    # a transpose is a different image: same as its contiguous copy, with the spacing permuted
    tsp = (sp[2], sp[0], sp[1])
    t = ss.evaluate(pred.transpose(2, 0, 1), ref.transpose(2, 0, 1), spacing=tsp, metrics=METRICS).to_dict()
    tc = ss.evaluate(np.ascontiguousarray(pred.transpose(2, 0, 1)), np.ascontiguousarray(ref.transpose(2, 0, 1)),
                     spacing=tsp, metrics=METRICS).to_dict()
    _same_rows(t, tc)
    assert_close({k: v["hd"] for k, v in t.items()}, {k: v["hd"] for k, v in base.items()}, 1e-12, "transposed hd")
    # the directed distances themselves
    a = ss.surface_distances(vp, vr, spacing=sp, label=3)
    b = ss.surface_distances(pred, ref, spacing=sp, label=3)
    for (d1, w1), (d2, w2) in zip(a.directed, b.directed):
        assert np.array_equal(np.sort(d1), np.sort(d2)) and np.isclose(w1.sum(), w2.sum())


def test_dtypes_of_pred_and_ref_may_differ():
    pred, ref = _labels(seed=2)
    base = ss.evaluate(pred, ref, metrics=METRICS).to_dict()
    for dp, dr in ((np.uint8, np.int64), (np.int16, np.uint32), (np.int32, np.int8), (np.uint64, np.uint16)):
        _same_rows(ss.evaluate(pred.astype(dp), ref.astype(dr), metrics=METRICS).to_dict(), base)
    # bool masks = the label taken alone
    for lab in base:
        m = ss.evaluate(pred == lab, ref == lab, metrics=METRICS).to_dict()[1]
        assert m == base[lab]
        assert ss.dice(pred.astype(np.uint8), ref, label=lab) == ss.dice(pred == lab, ref == lab)


def test_label_regions_as_tuples():
    pred, ref = _labels(seed=3)
    labels = {"WT": (1, 2, 3), "TC": (1, 3), "ET": 3}
    res = ss.evaluate(pred, ref, labels=labels, metrics=METRICS, spacing=(1, 1, 2)).to_dict()
    assert list(res) == ["WT", "TC", "ET"]
    for name, spec in labels.items():
        members = spec if isinstance(spec, tuple) else (spec,)
        want = ss.evaluate(np.isin(pred, members), np.isin(ref, members), metrics=METRICS,
                           spacing=(1, 1, 2)).to_dict()[1]
        assert res[name] == want, name
    assert ss.dice(pred, ref, labels=[(1, 2), 4]) == {(1, 2): ss.dice(np.isin(pred, (1, 2)), np.isin(ref, (1, 2))),
                                                      4: ss.dice(pred == 4, ref == 4)}


def test_ignore_label_removes_the_reference_voxels_everywhere():
    pred, ref = _labels(seed=4)
    ignore = 9
    rng = np.random.default_rng(0)
    ref[rng.random(ref.shape) < 0.1] = ignore
    pred[rng.random(ref.shape) < 0.02] = ignore
    res = ss.evaluate(pred, ref, ignore_label=ignore, metrics=METRICS).to_dict()
    assert ignore not in res
    keep = ref != ignore
    for lab in res:
        p = (pred == lab) & keep
        r = (ref == lab) & keep
        want = ss.evaluate(p, r, metrics=METRICS).to_dict()[1]
        n_ignored = int((~keep).sum())
        assert res[lab]["tn"] == want["tn"] - n_ignored
        for m in METRICS:
            if m not in ("tn", "specificity"):
                assert same_value(res[lab][m], want[m], 0.0), (lab, m)


def test_requested_labels_absent_from_both_maps_are_kept():
    pred, ref = _labels(seed=5)
    res = ss.evaluate(pred, ref, labels=[1, 7, 2, 123456], metrics=METRICS, tolerance=1.0)
    d = res.to_dict()
    assert list(d) == [1, 7, 2, 123456]
    for lab in (7, 123456):
        row = d[lab]
        assert row["tp"] == row["fp"] == row["fn"] == 0 and row["tn"] == pred.size
        for m in ("dice", "iou", "hd", "hd95", "assd", "masd", "nsd@1", "biou@1"):
            assert math.isnan(row[m]), (lab, m)
    df = res.to_pandas()
    assert list(df.index) == [1, 7, 2, 123456] and df.loc[7, "tp"] == 0
    # all-background maps with no requested labels: nothing to report
    z = np.zeros((4, 4), np.uint8)
    assert ss.evaluate(z, z).to_dict() == {}
    assert ss.evaluate(z, z, labels=[3]).to_dict()[3]["fn"] == 0


def test_results_identical_for_any_thread_count():
    pred, ref = _labels((24, 26, 22), seed=6, n=6)
    sp = (0.9, 0.9, 2.5)
    runs = [ss.evaluate(pred, ref, spacing=sp, metrics=METRICS + ["hd99"], threads=t).to_dict() for t in (1, 2, 3)]
    _same_rows(runs[0], runs[1])
    _same_rows(runs[0], runs[2])
    for t in (2, 3):
        a = ss.surface_distances(pred, ref, spacing=sp, threads=1)
        b = ss.surface_distances(pred, ref, spacing=sp, threads=t)
        for lab in a:
            for (d1, w1), (d2, w2) in zip(a[lab].directed, b[lab].directed):
                assert np.array_equal(d1, d2) and np.array_equal(w1, w2)
    m = blob((40, 36, 30), (20, 18, 15), (15, 12, 10))
    e1 = ss.edt(m, spacing=sp, threads=1)
    for t in (2, 3):
        assert np.array_equal(ss.edt(m, spacing=sp, threads=t), e1)
        assert np.array_equal(ss.edt_multilabel(pred, spacing=sp, threads=t), ss.edt_multilabel(pred, spacing=sp,
                                                                                                threads=1))


def test_thread_count_from_the_environment(monkeypatch):
    pred, ref = _labels(seed=8)
    base = ss.evaluate(pred, ref, metrics=METRICS, threads=1)
    monkeypatch.setenv("SEGSCORE_NUM_THREADS", "3")
    res = ss.evaluate(pred, ref, metrics=METRICS)
    assert res.meta["threads"] == 3 and base.meta["threads"] == 1
    _same_rows(res.to_dict(), base.to_dict())
    assert ss.evaluate(pred, ref, metrics=["dice"], threads=2).meta["threads"] == 2  # the argument wins


def test_torch_cpu_tensors_are_accepted():
    torch = pytest.importorskip("torch")
    pred, ref = _labels(seed=7)
    a = ss.evaluate(torch.from_numpy(pred), torch.from_numpy(ref.astype(np.uint8)), metrics=METRICS).to_dict()
    _same_rows(a, ss.evaluate(pred, ref.astype(np.uint8), metrics=METRICS).to_dict())


# --------------------------------------------------------------------------- EDT
def _edt_inputs():
    rng = np.random.default_rng(11)
    out = []
    for ndim, side in ((1, 60), (2, 40), (3, 18), (4, 8)):
        for density in (0.02, 0.5, 0.97):
            shape = tuple(int(v) for v in rng.integers(side // 2, side, ndim))
            m = rng.random(shape) < density
            m.flat[0] = False  # at least one zero
            sp = tuple(float(v) for v in rng.choice([0.5, 0.7, 1.0, 1.3, 2.5], ndim))
            out.append(pytest.param(m, sp, id=f"{ndim}d-{density}"))
    return out


@pytest.mark.parametrize("mask,spacing", _edt_inputs())
def test_edt_matches_scipy(mask, spacing):
    from scipy import ndimage

    want = ndimage.distance_transform_edt(mask, sampling=spacing)
    want_iso = ndimage.distance_transform_edt(mask)
    np.testing.assert_allclose(ss.edt(mask, spacing=spacing), want, rtol=1e-12, atol=0)
    np.testing.assert_allclose(ss.edt(mask), want_iso, rtol=1e-12, atol=0)
    np.testing.assert_allclose(ss.edt(mask, spacing=spacing, squared=True), want ** 2, rtol=1e-12, atol=0)
    got32 = ss.edt(mask, spacing=spacing, dtype="float32")
    assert got32.dtype == np.float32
    np.testing.assert_allclose(got32, want, rtol=1e-6, atol=0)
    got32 = ss.edt(mask, spacing=spacing, dtype=np.float32, squared=True)
    np.testing.assert_allclose(got32, want ** 2, rtol=2e-6, atol=0)
    # F-ordered input: same values, F-ordered output
    f = np.asfortranarray(mask)
    got = ss.edt(f, spacing=spacing)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
    if mask.ndim > 1:
        assert got.flags.f_contiguous
    # other input dtypes: nonzero = foreground
    np.testing.assert_allclose(ss.edt(mask.astype(np.uint16) * 7, spacing=spacing), want, rtol=1e-12, atol=0)
    np.testing.assert_allclose(ss.edt(mask.astype(np.float32), spacing=spacing), want, rtol=1e-12, atol=0)


def test_edt_strided_views():
    from scipy import ndimage

    rng = np.random.default_rng(2)
    base = rng.random((30, 24, 20)) < 0.9
    v = base[::2, ::-3, 1:]
    np.testing.assert_allclose(ss.edt(v, spacing=(1, 2, 3)),
                               ndimage.distance_transform_edt(v, sampling=(1, 2, 3)), rtol=1e-12, atol=0)
    t = base.transpose(1, 2, 0)
    np.testing.assert_allclose(ss.edt(t), ndimage.distance_transform_edt(t), rtol=1e-12, atol=0)


def test_edt_without_zero_is_inf_and_all_zero_is_zero():
    for shape in ((5,), (4, 6), (3, 4, 5), (2, 3, 2, 3)):
        assert np.all(ss.edt(np.ones(shape, bool)) == INF)
        assert np.all(ss.edt(np.ones(shape, bool), dtype="float32", squared=True) == INF)
        assert np.all(ss.edt(np.zeros(shape, bool)) == 0.0)


def _brute_multilabel(lab, sp):
    """Distance of each labelled voxel to the nearest voxel of a different label."""
    pts = np.argwhere(np.ones(lab.shape, bool)) * np.asarray(sp, float)
    flat = lab.ravel()
    out = np.zeros(flat.shape)
    for i, v in enumerate(flat):
        if v == 0:
            continue
        other = flat != v
        out[i] = np.sqrt(((pts[other] - pts[i]) ** 2).sum(1)).min() if other.any() else INF
    return out.reshape(lab.shape)


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_edt_multilabel_brute_force(ndim):
    rng = np.random.default_rng(ndim)
    for trial in range(3):
        shape = tuple(int(v) for v in rng.integers(3, 9, ndim))
        lab = rng.integers(0, 4, shape).astype(np.uint16)
        lab[rng.random(shape) < 0.3] = 2
        sp = tuple(float(v) for v in rng.choice([0.6, 1.0, 1.7], ndim))
        np.testing.assert_allclose(ss.edt_multilabel(lab, spacing=sp), _brute_multilabel(lab, sp), rtol=1e-12, atol=0)
    # the array border is not a boundary; a single label everywhere is inf
    assert np.array_equal(ss.edt_multilabel(np.array([1, 1, 1, 2, 2, 0, 3, 3, 3, 3])),
                          [3.0, 2.0, 1.0, 1.0, 1.0, 0.0, 1.0, 2.0, 3.0, 4.0])
    assert np.all(ss.edt_multilabel(np.full((3,) * ndim, 5, np.int32)) == INF)


@pytest.mark.peers
@pytest.mark.parametrize("ndim", [2, 3])
def test_edt_multilabel_matches_seung_lab_edt(ndim):
    edt = need_peer("edt")
    rng = np.random.default_rng(20 + ndim)
    from scipy import ndimage

    coarse = rng.integers(0, 5, (6,) * ndim)
    lab = ndimage.zoom(coarse, 5, order=0).astype(np.uint32)[(slice(0, 27),) * ndim]
    lab[rng.random(lab.shape) < 0.01] = 7
    for sp in ((1.0,) * ndim, (0.7, 1.3, 2.5)[:ndim]):
        want = edt.edt(lab, anisotropy=sp, black_border=False)
        np.testing.assert_allclose(ss.edt_multilabel(lab, spacing=sp), want, rtol=1e-6, atol=0)
        np.testing.assert_allclose(ss.edt_multilabel(np.asfortranarray(lab), spacing=sp, dtype="float32"), want,
                                   rtol=1e-6, atol=0)
    # binary input: seung-lab's binary mode = scipy's EDT
    m = lab > 0
    m.flat[0] = False
    np.testing.assert_allclose(ss.edt(m, dtype="float32"), edt.edt(m, black_border=False), rtol=1e-6, atol=0)
