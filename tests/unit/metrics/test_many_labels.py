"""Label maps with thousands of labels (instance maps): per-label results against a
brute-force numpy computation, and one guard that a 200k-label map finishes.

Every per-label path (counts, boxes, overlap metrics, evaluate, surface regions,
consensus Dice, GED, multi-rater spread) looks labels up in tables built once; these
tests pin the numbers on maps whose labels cross the dense-table limits of the counting
pass (256 for pairs, 4096 for boxes) and go past 2**16.
"""

import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import segscore as ss
from segscore.metrics.case import Case

SHAPE = (14, 15, 16)


def _many_label_pair(seed, n_labels=1500, shape=SHAPE, ignore=None):
    """pred/ref with n_labels distinct values spread over [1, 300000) (small cubes,
    then noise), plus labels that only one map holds."""
    rng = np.random.default_rng(seed)
    values = np.concatenate([
        np.arange(1, 300),                                  # dense pair table and beyond
        np.arange(4090, 4100),                               # across the dense box table
        rng.choice(np.arange(5000, 300000), n_labels - 309, replace=False),
    ]).astype(np.int64)
    ref = np.zeros(shape, np.int64)
    for _ in range(3 * n_labels):
        v = values[rng.integers(len(values))]
        lo = [int(rng.integers(0, s)) for s in shape]
        ext = [int(rng.integers(1, 4)) for _ in shape]
        ref[tuple(slice(a, a + e) for a, e in zip(lo, ext))] = v
    pred = ref.copy()
    flip = rng.random(shape) < 0.25
    pred[flip] = rng.choice(values, int(flip.sum()))
    pred[rng.random(shape) < 0.05] = 0
    pred.flat[:5] = 299999  # only in pred
    ref.flat[-3:] = 299998  # only in ref
    if ignore is not None:
        ref[rng.random(shape) < 0.05] = ignore
    return pred.astype(np.int32), ref.astype(np.int32)


def _brute_counts(pred, ref, members, ignore=None):
    keep = np.ones(pred.shape, bool) if ignore is None else ref != ignore
    p = np.isin(pred, members) & keep
    r = np.isin(ref, members) & keep
    tp = int(np.count_nonzero(p & r))
    fp = int(np.count_nonzero(p & ~r))
    fn = int(np.count_nonzero(~p & r))
    tn = int(np.count_nonzero(keep)) - tp - fp - fn
    return (tp, fp, fn, tn), p | r


def _brute_box(m):
    if not m.any():
        return None
    idx = np.nonzero(m)
    return tuple(int(i.min()) for i in idx), tuple(int(i.max()) for i in idx)


def _brute_dice(tp, fp, fn):
    return math.nan if tp + fp + fn == 0 else 2.0 * tp / (2.0 * tp + fp + fn)


@pytest.mark.parametrize("ignore", [None, 77])
def test_counts_and_boxes_against_brute_force(ignore):
    pred, ref = _many_label_pair(1, ignore=ignore)
    counted = np.ones(ref.shape, bool) if ignore is None else ref != ignore
    present = sorted((set(np.unique(pred[counted]).tolist()) | set(np.unique(ref[counted]).tolist())) - {0, ignore})
    assert len(present) > 1000
    case = Case(pred, ref, ignore_label=ignore)
    assert list(case.regions) == present
    counts, boxes = case.region_counts(), case.region_boxes()
    assert list(counts) == list(case.regions) == list(boxes)
    for v in case.regions:
        want, union = _brute_counts(pred, ref, [v], ignore)
        assert counts[v] == want == case.counts((v,)), v
        assert boxes[v] == _brute_box(union) == case.box((v,)), v
        assert all(type(x) is int for x in counts[v])


def test_requested_labels_unions_and_absent_labels():
    pred, ref = _many_label_pair(2)
    rng = np.random.default_rng(3)
    present = np.union1d(np.unique(pred), np.unique(ref))
    present = present[present > 0]
    absent = [3, 500, 4095, 123457, 2**31 - 1]
    absent = [v for v in absent if v not in set(present.tolist())]
    singles = rng.choice(present, 400, replace=False).tolist()
    unions = [tuple(sorted(set(rng.choice(present, k, replace=False).tolist()))) for k in (2, 3, 7)]
    unions.append((int(present[0]), absent[0]))            # a union with an absent member
    labels = {f"u{i}": u for i, u in enumerate(unions)}
    labels.update({v: v for v in singles + absent})
    case = Case(pred, ref, labels=labels)
    assert list(case.regions) == list(labels)
    counts, boxes = case.region_counts(), case.region_boxes()
    for key, spec in labels.items():
        mem = list(spec) if isinstance(spec, tuple) else [spec]
        want, union = _brute_counts(pred, ref, mem)
        assert counts[key] == want, key
        assert boxes[key] == _brute_box(union), key
    for v in absent:
        assert counts[v] == (0, 0, 0, pred.size)
        assert boxes[v] is None
    d = ss.dice(pred, ref, labels=labels)
    assert list(d) == list(labels)
    for key, (tp, fp, fn, _) in counts.items():
        want = _brute_dice(tp, fp, fn)
        assert (math.isnan(d[key]) and math.isnan(want)) or d[key] == want, key


def test_dice_and_evaluate_many_labels():
    pred, ref = _many_label_pair(4)
    d = ss.dice(pred, ref)
    res = ss.evaluate(pred, ref, metrics=["dice", "iou", "tp", "fp", "fn", "tn"]).to_dict()
    assert list(d) == list(res)
    for v, val in d.items():
        (tp, fp, fn, tn), _ = _brute_counts(pred, ref, [v])
        want = _brute_dice(tp, fp, fn)
        assert val == want and res[v]["dice"] == want, v
        assert (res[v]["tp"], res[v]["fp"], res[v]["fn"], res[v]["tn"]) == (tp, fp, fn, tn)
    c = ss.confusion(pred, ref, ignore_label=5)
    (tp, fp, fn, tn), _ = _brute_counts(pred, ref, [4090], ignore=5)
    assert (c[4090]["tp"], c[4090]["fp"], c[4090]["fn"], c[4090]["tn"]) == (tp, fp, fn, tn)


def test_surface_metrics_many_labels_match_single_label_calls():
    pred, ref = _many_label_pair(5, n_labels=600, shape=(10, 11, 12))
    sp = (0.8, 0.9, 2.5)
    res = ss.evaluate(pred, ref, spacing=sp, metrics=["hd", "hd95", "assd", "nsd@1"]).to_dict()
    rng = np.random.default_rng(6)
    for v in rng.choice(list(res), 25, replace=False).tolist() + [299999, 299998, 4095]:
        p, r = pred == v, ref == v
        got = res[v]
        assert got["hd"] == ss.hausdorff(p, r, spacing=sp) or (math.isinf(got["hd"]) and math.isinf(
            ss.hausdorff(p, r, spacing=sp))), v
        assert got["hd95"] == ss.hd95(p, r, spacing=sp) or math.isinf(got["hd95"]), v
        want = ss.assd(p, r, spacing=sp)
        assert got["assd"] == want or (math.isinf(want) and math.isinf(got["assd"])), v
        want = ss.nsd(p, r, tolerance=1.0, spacing=sp)
        assert got["nsd@1"] == want or (math.isnan(want) and math.isnan(got["nsd@1"])), v


def _raters_of(ref, k, seed):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(k):
        r = ref.copy()
        m = rng.random(ref.shape) < 0.2
        r[m] = rng.choice(ref.reshape(-1), int(m.sum()))
        out.append(r)
    return out


def test_consensus_dice_many_labels():
    pred, ref = _many_label_pair(7, n_labels=800, shape=(12, 12, 12))
    raters = _raters_of(ref, 3, 8)
    got = ss.consensus_dice(pred, raters)
    labels = sorted(set().union(*[set(np.unique(x).tolist()) for x in raters + [pred]]) - {0})
    assert list(got) == labels
    for v in labels:
        votes = sum((r == v).astype(int) for r in raters)
        fg = votes == 3
        dis = (votes > 0) & ~fg
        p = (pred == v) & ~dis
        s = np.count_nonzero(p) + np.count_nonzero(fg)
        want = math.nan if s == 0 else 2.0 * np.count_nonzero(p & fg) / s
        assert (math.isnan(want) and math.isnan(got[v])) or got[v] == want, v
    # requested labels: a union, an absent label (both empty: nan, or the policy)
    u = ss.consensus_dice(pred, raters, labels={"u": (labels[0], labels[1]), "gone": 123456789}, empty=0.5)
    assert list(u) == ["u", "gone"] and u["gone"] == 0.5


def test_ged_many_labels():
    pred, ref = _many_label_pair(9, n_labels=330, shape=(8, 9, 10))
    a = _raters_of(ref, 3, 10)
    b = [pred, ref]
    labels = sorted(set().union(*[set(np.unique(x).tolist()) for x in a + b]) - {0})

    def d(p, q):
        vals = []
        for v in labels:
            x, y = p == v, q == v
            u = np.count_nonzero(x | y)
            vals.append(0.0 if u == 0 else 1.0 - np.count_nonzero(x & y) / u)
        return np.mean(vals)

    samples = a + b
    dm = np.array([[d(x, y) for y in samples] for x in samples])
    cross, wa, wb = dm[:3, 3:].mean(), dm[:3, :3].mean(), dm[3:, 3:].mean()
    assert ss.ged(a, b) == pytest.approx(2 * cross - wa - wb, rel=1e-12, abs=1e-15)


def test_multirater_spread_many_labels():
    pred, ref = _many_label_pair(11, n_labels=400, shape=(10, 10, 10))
    raters = _raters_of(ref, 4, 12)
    res = ss.multirater(pred, raters, metrics=["dice", "precision", "tp"])
    for lab in list(res.mean)[::7]:
        for c in res.columns:
            v = np.array([float(r[lab][c]) for r in res.per_rater])
            v = v[~np.isnan(v)]
            want = (math.nan,) * 4 if len(v) == 0 else (np.mean(v), np.std(v), np.min(v), np.max(v))
            got = (res.mean[lab][c], res.std[lab][c], res.min[lab][c], res.max[lab][c])
            for g, w in zip(got, want):
                assert (math.isnan(g) and math.isnan(w)) or g == w, (lab, c)


@pytest.mark.parametrize("call", [
    lambda bad: ss.consensus([np.zeros(4, int), bad]),
    lambda bad: ss.consensus_dice(np.zeros(4, int), [np.zeros(4, int), bad]),
    lambda bad: ss.multirater(np.zeros(4, int), [np.zeros(4, int), bad], metrics=["dice"]),
    lambda bad: ss.multirater(np.zeros(4, int), [np.zeros(4, int), bad], labels=[1], metrics=["dice"]),
    lambda bad: ss.soft_dice(np.zeros((1, 4)), [np.zeros(4, int), bad]),
    lambda bad: ss.volume_crps(np.zeros((1, 4)), [np.zeros(4, int), bad]),
])
def test_bad_rater_label_names_the_rater(call):
    with pytest.raises(ValueError, match=r"raters\[1\] contains negative label -2"):
        call(np.array([0, 1, -2, 1]))
    with pytest.raises(ValueError, match=r"raters\[1\] contains label 2147483648 >= 2\*\*31"):
        call(np.array([0, 1, 2**31, 1], np.int64))


def test_bad_sample_label_names_the_sample():
    ok = np.zeros(4, int)
    with pytest.raises(ValueError, match=r"samples_b\[0\] contains negative label -1"):
        ss.ged([ok, ok], [np.array([0, -1, 0, 0]), ok])


def test_200k_labels_finish():
    """A 200k-label map must not take time quadratic in its labels (minutes, then hours)."""
    code = textwrap.dedent("""
        import numpy as np, segscore as ss
        n = 200000
        side = 59                                   # 59**3 >= n cubes of 2x2x2 voxels
        ids = np.zeros(side ** 3, np.int32)
        ids[:n] = np.arange(1, n + 1, dtype=np.int32)
        np.random.default_rng(0).shuffle(ids)
        g = ids.reshape(side, side, side)
        ref = np.repeat(np.repeat(np.repeat(g, 2, 0), 2, 1), 2, 2)
        pred = np.roll(ref, 1, axis=2)
        d = ss.dice(pred, ref, threads=2)
        assert len(d) == n and d[1] == 0.5, (len(d), d[1])
        print("ok")
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr
