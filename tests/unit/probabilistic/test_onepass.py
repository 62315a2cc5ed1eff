"""The one multi-rater pass (segscore._cpu.multirater_stats, probabilistic/onepass.py):
its counts against numpy on random maps (exact), and consensus Dice, soft Dice, GED and the
volumes computed from it against the former numpy implementation
(tests/support/multirater_reference.py) on many random cases (counts exact, floats 1e-12)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import segscore as ss
from segscore.probabilistic import crps as C
from segscore.probabilistic.onepass import rater_pass
from support import multirater_reference as REF


def _close(a, b, tol=1e-12):
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _close(a[k], b[k], tol)
        return
    if isinstance(a, tuple):
        for x, y in zip(a, b):
            _close(x, y, tol)
        return
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert a.shape == b.shape
    both_nan = np.isnan(a) & np.isnan(b)
    assert np.all(both_nan | np.isclose(a, b, rtol=tol, atol=tol * 1e-3)), (a, b)


def _case(rng, shape=None, k=None, n_labels=None, dtype=None, blobby=True):
    shape = shape or tuple(int(v) for v in rng.integers(1, 12, size=int(rng.integers(1, 4))))
    k = k or int(rng.integers(1, 6))
    n_labels = n_labels if n_labels is not None else int(rng.integers(1, 5))
    dtype = dtype or rng.choice([np.uint8, np.int16, np.int32, np.uint16, np.int64])
    base = rng.integers(0, n_labels + 1, size=shape)
    maps = []
    for _ in range(k + 1):
        m = base.copy()
        flip = rng.random(shape) < (0.2 if blobby else 0.8)
        m[flip] = rng.integers(0, n_labels + 1, size=int(flip.sum()))
        maps.append(m.astype(dtype))
    return maps[:-1], maps[-1]


def _layouts(rng, a):
    """a, its Fortran copy, or a reversed / strided view of a larger array."""
    which = int(rng.integers(0, 3))
    if which == 1:
        return np.asfortranarray(a)
    if which == 2 and a.ndim:
        big = np.zeros(tuple(2 * s for s in a.shape), a.dtype)
        sl = tuple(slice(None, None, 2) for _ in a.shape)
        big[sl] = a[tuple(slice(None, None, -1) for _ in a.shape)]
        return big[sl][tuple(slice(None, None, -1) for _ in a.shape)]
    return a


# ------------------------------------------------------------------ the raw counts
def test_counts_match_numpy_exactly():
    rng = np.random.default_rng(1)
    for _ in range(150):
        raters, pred = _case(rng)
        raters = [_layouts(rng, r) for r in raters]
        K = len(raters)
        st = rater_pass(raters, pred, threads=int(rng.integers(1, 4)))
        labs = sorted(set(np.unique(np.concatenate([r.ravel() for r in raters + [pred]])).tolist()))
        assert st.labels.tolist() == labs
        for lab in labs:
            m = [r == lab for r in raters]
            pm = pred == lab
            votes = np.sum(m, axis=0)
            assert st.pred_count(lab) == pm.sum()
            assert st.rater_counts(lab).tolist() == [int(x.sum()) for x in m]
            assert st.inter_counts(lab).tolist() == [int((x & pm).sum()) for x in m]
            assert st.votes(lab).tolist() == [int((votes == v).sum()) for v in range(K + 1)]
            assert st.pred_votes(lab).tolist() == [int((pm & (votes == v)).sum()) for v in range(K + 1)]
            pm_all = m + [pm]
            want = np.array([[int((x & y).sum()) for y in pm_all] for x in pm_all])
            np.testing.assert_array_equal(st.pair_matrix(lab), want)
        lo_hi = [[int(x.min()), int(x.max())] for x in raters + [pred]]
        assert st.minmax.tolist() == lo_hi


def test_probability_sums_exact_and_invariant():
    rng = np.random.default_rng(2)
    for _ in range(60):
        raters, _ = _case(rng)
        c = int(rng.integers(1, 4))
        dt = rng.choice([np.float32, np.float64])
        probs = [rng.random(raters[0].shape).astype(dt) * (rng.random(raters[0].shape) < 0.7) for _ in range(c)]
        labs = [int(v) for v in rng.integers(0, 4, size=c)]
        a = rater_pass(raters, probs=probs, chan_labels=labs, threads=1)
        b = rater_pass([np.asfortranarray(r) for r in raters], probs=[_layouts(rng, p) for p in probs],
                       chan_labels=labs, threads=3)
        np.testing.assert_array_equal(a.psum, b.psum)  # bit-identical: exact sums
        np.testing.assert_array_equal(a.pvsum, b.pvsum)
        np.testing.assert_array_equal(a.stats, b.stats)
        for i, lab in enumerate(labs):
            p = probs[i].astype(np.float64)
            v = np.sum([r == lab for r in raters], axis=0)
            _close(a.psum[i], math.fsum(p.ravel()), 1e-15)
            _close(a.pvsum[i], math.fsum((p * v).ravel()), 1e-15)
            _close(a.pfg[i], math.fsum(p[v == len(raters)]), 1e-15)
            _close(a.pbg[i], math.fsum(p[v == 0]), 1e-15)


def test_calibration_terms_match_numpy():
    rng = np.random.default_rng(12)
    for _ in range(40):
        raters, target = _case(rng, n_labels=3)
        c = 4
        s = rng.random(raters[0].shape + (c,)) ** 3
        p = (s / s.sum(axis=-1, keepdims=True)).astype(rng.choice([np.float32, np.float64]))
        chans = [p[..., j] for j in range(c)]
        nb = int(rng.integers(1, 20))
        edges = np.arange(nb + 1) / nb
        st = rater_pass(raters, probs=chans, chan_labels=list(range(c)), target=target, edges=edges, top=True,
                        threads=int(rng.integers(1, 3)))
        cal = st.calib
        conf = p.max(axis=-1).astype(np.float64)
        arg = p.argmax(axis=-1)
        def bins(x):  # [l, u) bins, clamped at both ends
            return np.clip(np.searchsorted(edges, x, side="right") - 1, 0, nb - 1)

        b = bins(conf)
        for j in range(nb):
            sel = b == j
            assert cal["top_count"][j].tolist() == [int(sel.sum()), int((sel & (arg == target)).sum())]
            _close(cal["top_conf"][j], math.fsum(conf[sel]), 1e-15)
            for k, r in enumerate(raters):
                assert cal["top_rater"][k, j] == int((sel & (arg == r)).sum())
        for j in range(c):
            y = target == j
            d = np.subtract(chans[j], y, dtype=np.float32)
            _close(cal["brier"][j], math.fsum((d * d).astype(np.float64).ravel()), 1e-15)
            bj = bins(chans[j].astype(np.float64))
            assert cal["cw_count"][j, :, 0].tolist() == np.bincount(bj.ravel(), minlength=nb).tolist()
            assert cal["cw_count"][j, :, 1].tolist() == np.bincount(bj[y], minlength=nb).tolist()
        assert cal["rowdev"] == pytest.approx(np.abs(p.sum(axis=-1, dtype=np.float64) - 1).max(), abs=1e-15)


def test_implicit_background_equals_the_numpy_channel():
    rng = np.random.default_rng(13)
    for _ in range(20):
        raters, target = _case(rng, n_labels=3)
        organs = (rng.random((3,) + raters[0].shape) / 2.5).astype(np.float32)
        bg = np.maximum(np.float32(1) - organs.sum(axis=0, dtype=np.float32), np.float32(0))
        edges = np.arange(21) / 20
        a = rater_pass(raters, probs=[bg] + list(organs), chan_labels=[0, 1, 2, 3], target=target, edges=edges,
                       top=True)
        b = rater_pass(raters, probs=list(organs), chan_labels=[0, 1, 2, 3], target=target, edges=edges, top=True,
                       implicit_background=True)
        np.testing.assert_array_equal(a.psum, b.psum)
        np.testing.assert_array_equal(a.pvsum, b.pvsum)
        for key in ("top_count", "top_conf", "top_rater", "cw_count", "cw_conf", "brier"):
            np.testing.assert_array_equal(a.calib[key], b.calib[key])
        c = rater_pass(raters, probs=list(organs), chan_labels=[0, 1, 2, 3], target=target, edges=edges, top=True,
                       implicit_background=True, channel_bins=False)  # the top label's terms alone
        for key in ("top_count", "top_conf", "top_rater", "pmin", "pmax", "pnan"):
            np.testing.assert_array_equal(a.calib[key], c.calib[key])
        assert not c.calib["cw_count"].any() and not c.calib["brier"].any()


def test_bool_masks_are_label_one():
    r = [np.array([[True, False, True]]), np.array([[True, True, False]])]
    st = rater_pass(r, pred=np.array([[True, False, False]]))
    assert st.consensus_counts(1) == (1, 0, 0, 2)  # tn counts the dissensus voxels too
    assert st.present() == [1]


@pytest.mark.parametrize("dtype,value,msg", [
    (np.int32, -3, "raters[1] contains negative label -3"),
    (np.int64, 2**31, "raters[1] contains label 2147483648 >= 2**31"),
    (np.uint64, 2**63 + 5, "raters[1] contains label 9223372036854775813 >= 2**31"),
])
def test_bad_labels_are_named(dtype, value, msg):
    r0 = np.zeros((3, 3), dtype)
    r1 = r0.copy()
    r1[1, 1] = value
    with pytest.raises(ValueError, match=msg.replace("*", r"\*").replace("[", r"\[").replace("]", r"\]")):
        rater_pass([r0, r1])
    with pytest.raises(ValueError, match=r"pred contains negative"):
        ss.consensus_dice(np.full((3, 3), -1, np.int32), [r0, r0])


# ------------------------------------------------------------------ against the former implementation
def test_consensus_masks_match_former():
    rng = np.random.default_rng(14)
    for i in range(80):
        raters, _ = _case(rng, blobby=bool(i % 2))
        raters = [_layouts(rng, r) for r in raters] if i % 3 == 0 else raters
        kw = {}
        if i % 4 == 1:
            kw["labels"] = [1, 2, 7]
        elif i % 4 == 2:
            kw["labels"] = {"a": 2, "ab": (1, 2)}
        got, want = ss.consensus(raters, **kw), REF.consensus(raters, **kw)
        assert got.keys() == want.keys()
        for key in want:
            for g, w in zip(got[key], want[key]):
                np.testing.assert_array_equal(g, w)
                assert g.dtype == np.bool_ and g.shape == w.shape
    for _ in range(20):
        raters, _ = _case(rng, n_labels=1)
        raters = [r.astype(bool) for r in raters]
        for g, w in zip(ss.consensus(raters), REF.consensus(raters)):
            np.testing.assert_array_equal(g, w)


def test_consensus_dice_matches_former():
    rng = np.random.default_rng(3)
    for i in range(150):
        raters, pred = _case(rng, blobby=bool(i % 2))
        kw = {}
        if i % 3 == 1:
            kw["labels"] = [1, 2, 7]          # 7 absent: a both-empty case
        elif i % 3 == 2:
            kw["labels"] = {"a": 1, "ab": (1, 2)}   # a union region
        if i % 5 == 0:
            kw["empty"] = 1.0
        _close(ss.consensus_dice(pred, raters, **kw), REF.consensus_dice(pred, raters, **kw))
    for i in range(40):  # bool masks
        raters, pred = _case(rng, n_labels=1)
        raters = [r.astype(bool) for r in raters]
        _close(ss.consensus_dice(pred.astype(bool), raters), REF.consensus_dice(pred.astype(bool), raters))


def test_soft_dice_and_volumes_match_former():
    rng = np.random.default_rng(4)
    for i in range(120):
        raters, _ = _case(rng)
        shape = raters[0].shape
        c = int(rng.integers(1, 4))
        dt = rng.choice([np.float32, np.float64])
        prob = (rng.random((c,) + shape) * (rng.random((c,) + shape) < 0.8)).astype(dt)
        if i % 4 == 0:
            prob[:] = 0  # both sums zero for absent labels: NaN
        labels = None if i % 3 == 0 else list(range(1, c + 1)) if i % 3 == 1 else \
            {f"r{j}": ((j + 1, j + 2) if j == 0 else j + 1) for j in range(c)}
        _close(ss.soft_dice(prob, raters, labels=labels), REF.soft_dice(prob, raters, labels=labels))
        sp = tuple(float(v) for v in rng.uniform(0.5, 2, raters[0].ndim))
        _close(C.volume_details(prob, raters, sp, "ml", labels), REF.volume_details(prob, raters, sp, "ml", labels))
        _close(ss.volume_crps(prob, raters, spacing=sp, labels=labels),
               {k: C._volume_score(v, vols, "gaussian") for k, (v, vols) in
                REF.volume_details(prob, raters, sp, "mm3", labels)[1].items()})
    for _ in range(30):  # bool masks, single map
        raters, _ = _case(rng, n_labels=1)
        raters = [r.astype(bool) for r in raters]
        prob = rng.random(raters[0].shape)
        _close(ss.soft_dice(prob, raters), REF.soft_dice(prob, raters))


def test_ged_matches_former():
    rng = np.random.default_rng(5)
    for i in range(120):
        raters, pred = _case(rng)
        nb = int(rng.integers(1, 4))
        b = [pred] + [_case(rng, shape=pred.shape, k=1, dtype=pred.dtype)[1] for _ in range(nb - 1)]
        kw = dict(distance="1-dice" if i % 2 else "1-iou", include_diagonal=bool(i % 3 or len(raters) < 2 or nb < 2),
                  return_terms=True)
        if i % 4 == 1:
            kw["labels"] = [1, 3, 9]
        elif i % 4 == 2:
            kw["labels"] = [1, (1, 2)]
        _close(ss.ged(raters, b, **kw), REF.ged(raters, b, **kw))
        ma, mb = [r == 1 for r in raters], [x == 1 for x in b]
        kw.pop("labels", None)
        _close(ss.ged(ma, mb, **kw), REF.ged(ma, mb, **kw))
    # many samples: the blocked path beyond the one pass
    raters, pred = _case(rng, shape=(6, 7), k=20)
    _close(ss.ged(raters[:12], raters[12:]), REF.ged(raters[:12], raters[12:]))
    _close(ss.ged([r == 1 for r in raters[:12]], [r == 1 for r in raters[12:]]),
           REF.ged([r == 1 for r in raters[:12]], [r == 1 for r in raters[12:]]))


def test_results_do_not_depend_on_threads_or_layout():
    rng = np.random.default_rng(6)
    raters, pred = _case(rng, shape=(17, 13, 9), k=3, n_labels=4)
    prob = rng.random((4,) + raters[0].shape).astype(np.float32)
    ref = (ss.consensus_dice(pred, raters), ss.soft_dice(prob, raters), ss.ged(raters, [pred]))
    for t in (1, 2, 3):
        got = (ss.consensus_dice(np.asfortranarray(pred), [np.asfortranarray(r) for r in raters], threads=t),
               ss.soft_dice(np.asfortranarray(prob), raters, threads=t), ss.ged(raters, [pred], threads=t))
        assert got == ref


@pytest.mark.parametrize("n_raters", [3, 31])  # 31 raters + pred + 2 channels + target: no tuple memo
def test_many_distinct_runs_and_many_maps_match_numpy(n_raters):
    """Tens of thousands of distinct value tuples (the pass's per-worker memo of run tuples
    flushes several times) and more maps than the memo takes: counts exact, sums as math.fsum,
    the same bits for any thread count."""
    rng = np.random.default_rng(14)
    shape = (40, 33, 30) if n_raters == 3 else (9, 8, 7)
    raters, target = _case(rng, shape=shape, k=n_raters, n_labels=3, dtype=np.uint8, blobby=False)
    q = rng.integers(0, 256, shape + (2,)) / 255.0
    chans = [q[..., 0].astype(np.float32), q[..., 1]]
    edges = np.arange(16) / 15
    runs = [rater_pass(raters, target, chans, [1, 2], target=target, edges=edges, threads=t) for t in (1, 2, 3)]
    for st in runs[1:]:
        np.testing.assert_array_equal(st.stats, runs[0].stats)
        for k in ("psum", "pvsum", "pfg", "pbg"):
            np.testing.assert_array_equal(getattr(st, k), getattr(runs[0], k))
        for k, v in runs[0].calib.items():
            np.testing.assert_array_equal(st.calib[k], v)
    st = runs[0]
    votes = {lab: np.sum([r == lab for r in raters], axis=0) for lab in (1, 2)}
    for lab in range(4):
        assert st.rater_counts(lab).tolist() == [int((r == lab).sum()) for r in raters]
        assert st.pred_count(lab) == int((target == lab).sum())
    for i, (p, lab) in enumerate(zip(chans, [1, 2])):
        p64 = p.astype(np.float64)
        _close(st.psum[i], math.fsum(p64.ravel()), 1e-15)
        _close(st.pvsum[i], math.fsum((p64 * votes[lab]).ravel()), 1e-15)
        bj = np.clip(np.searchsorted(edges, p64, side="right") - 1, 0, 14)
        assert st.calib["cw_count"][i, :, 0].tolist() == np.bincount(bj.ravel(), minlength=15).tolist()
        assert st.calib["cw_count"][i, :, 1].tolist() == np.bincount(bj[target == lab], minlength=15).tolist()
        _close(st.calib["cw_conf"][i], [math.fsum(p64[bj == b]) for b in range(15)], 1e-15)


def test_long_runs_signed_zeros_and_nan_match_numpy():
    """Runs of hundreds of equal values along the contiguous axis (scanned a word at a time),
    +0.0 and -0.0 in one run, NaN runs: counts exact, sums as math.fsum of the positive values,
    NaN counted, the same bits for any thread count."""
    rng = np.random.default_rng(15)

    def runs(shape, vals, dtype):
        flat = np.empty(int(np.prod(shape)), dtype)
        i = 0
        while i < flat.size:
            n = int(rng.choice([1, 3, 9, 40, 150, 400]))
            flat[i:i + n] = vals[int(rng.integers(len(vals)))]
            i += n
        return flat.reshape(shape)

    shape = (6, 5, 700)
    raters = [runs(shape, [0, 1, 2], dt) for dt in (np.uint8, np.int16, np.int64)]
    pred = runs(shape, [0, 2], np.uint16)
    chans = [runs(shape, [0.0, -0.0, 0.5, 1.0, np.nan], np.float32), runs(shape, [0.0, -0.0, 0.25], np.float64)]
    edges = np.arange(11) / 10
    got = [rater_pass(raters, pred, chans, [1, 2], target=raters[0], edges=edges, threads=t) for t in (1, 2, 3)]
    for st in got[1:]:
        np.testing.assert_array_equal(st.stats, got[0].stats)
        np.testing.assert_array_equal(st.psum, got[0].psum)
        np.testing.assert_array_equal(st.calib["cw_conf"], got[0].calib["cw_conf"])
    st = got[0]
    for lab in (0, 1, 2):
        assert st.rater_counts(lab).tolist() == [int((r == lab).sum()) for r in raters]
        assert st.pred_count(lab) == int((pred == lab).sum())
    for i, p in enumerate(chans):
        p64 = p.astype(np.float64)
        _close(st.psum[i], math.fsum(p64[p64 > 0]), 1e-15)
        assert int(st.calib["pnan"][i]) == int(np.isnan(p64).sum())
