"""The run-based component reads of the lesion layer (segscore.lesion._cc.Instances): voxel
counts, boxes, the overlap table and box crops read from the runs of the labelling equal
those of the painted id maps, for any layout, connectivity and thread count."""

import numpy as np
import pytest

import segscore as ss
from segscore.lesion import _cc, overlap_table


def _cases(seed=5, count=40):
    rng = np.random.default_rng(seed)
    for it in range(count):
        nd = 2 + it % 2
        shape = tuple(int(x) for x in rng.integers(1, 15, nd))
        a = rng.random(shape) < rng.uniform(0.05, 0.6)
        b = rng.random(shape) < rng.uniform(0.05, 0.6)
        if it % 3 == 1:
            a, b = np.asfortranarray(a), np.asfortranarray(b)
        if it % 5 == 2:
            a = a.astype(np.uint16) * rng.integers(0, 3, shape).astype(np.uint16)
        if it % 7 == 3:
            a, b = a[::-1], b[:, ::-1]
        conn = (6, 18, 26)[it % 3] if nd == 3 else (4, 8)[it % 2]
        yield a, b, conn, ("C", "F")[it % 2]


@pytest.mark.parametrize("threads", [1, 3])
def test_runs_equal_the_painted_maps(threads):
    for a, b, conn, order in _cases():
        pa = _cc.components(a, conn, order, threads)
        pb = _cc.components(b, conn, order, threads)
        la, na = ss.connected_components(a, conn, order=order)
        lb, nb = ss.connected_components(b, conn, order=order)
        assert (pa.n, pb.n) == (na, nb)
        assert np.array_equal(pa.labels, la) and np.array_equal(pb.labels, lb)
        pa2 = _cc.components(a, conn, order, threads)   # a fresh one: nothing painted yet
        st = ss.component_stats(la)
        lo, hi = pa2.boxes()
        assert np.array_equal(pa2.voxels()[1:], st.voxels)
        assert np.array_equal(lo[1:], st.bbox_lo) and np.array_equal(hi[1:], st.bbox_hi)
        assert list(lo[0]) == [0] * a.ndim and list(hi[0]) == [-1] * a.ndim
        pairs, pv, rv = _cc.overlap(_cc.components(a, conn, order, threads), _cc.components(b, conn, order, threads),
                                    threads)
        t = overlap_table(la, lb)
        assert np.array_equal(pairs, t.pairs)
        assert np.array_equal(pv[1:], t.pred_voxels) and np.array_equal(rv[1:], t.ref_voxels)
        for i in range(1, na + 1):
            sl = tuple(slice(x, y + 1) for x, y in zip(lo[i], hi[i]))
            assert np.array_equal(pa2.crop(sl), la[sl])
            out = np.zeros(la[sl].shape, np.int32)
            ids = list(range(1, na + 1, 2))
            pa2.paint_ids(out, lo[i].tolist(), hi[i].tolist(), ids, 9)
            assert np.array_equal(out, np.where(np.isin(la[sl], ids), 9, 0))
        assert pa2._labels is None  # boxes, counts and crops never painted the whole map


def test_given_maps_read_the_same():
    for a, b, conn, order in _cases(seed=8, count=12):
        runs = _cc.components(a, conn, order)
        lab = runs.labels
        g = _cc.given(lab, runs.n)
        assert np.array_equal(g.voxels(), runs.voxels())
        for x, y in zip(g.boxes(), runs.boxes()):
            assert np.array_equal(x, y)


def test_mixed_layouts_give_the_same_lesions():
    # pred C-ordered, ref F-ordered: the runs walk different rasters, the overlap comes from the maps
    rng = np.random.default_rng(2)
    ref = np.zeros((30, 28, 12), bool)
    for _ in range(8):
        c = rng.integers(3, 25, 3)
        ref[c[0] - 3:c[0] + 3, c[1] - 2:c[1] + 3, max(c[2] - 10, 0):max(c[2] - 10, 0) + 3] = True
    pred = np.roll(ref, 1, axis=0)
    for conv in ("panoptica", "segscore", "isles", "brats2023"):
        kw = {} if conv != "brats2023" else dict(regions=None)
        a = ss.lesionwise(pred, ref, (1.0, 0.8, 2.0), convention=conv, **kw)
        b = ss.lesionwise(pred, np.asfortranarray(ref), (1.0, 0.8, 2.0), convention=conv, **kw)
        c = ss.lesionwise(np.asfortranarray(pred), ref, (1.0, 0.8, 2.0), convention=conv, threads=1, **kw)
        for r in (b, c):
            assert r.lesions == a.lesions
            assert r.summary == a.summary


def test_large_ids_use_small_tables():
    # ids near the limit in a small map: the per-thread tables hold the ids present, not 2**20 rows
    lab = np.zeros((6, 7), np.int64)
    lab[0, 0:3] = 2**20
    lab[3, 2] = 5
    lab[5, 6] = 2**20 - 1
    st = ss.component_stats(lab, threads=2)
    assert st.n == 2**20 and st.voxels[2**20 - 1] == 3 and st.voxels[4] == 1 and st.voxels.sum() == 5
    assert list(st.bbox_lo[2**20 - 2]) == [5, 6]
    other = np.zeros_like(lab)
    other[0, 1:5] = 7
    other[5, 6] = 2**19
    t = overlap_table(lab, other, threads=2)
    assert t.pairs.tolist() == [[2**20 - 1, 2**19, 1], [2**20, 7, 2]]
    assert t.n_pred == 2**20 and t.n_ref == 2**19 and t.ref_voxels.sum() == 5


def test_box_painting_into_bool_writes_true():
    m = np.zeros((5, 6), bool)
    m[1:3, 1:4] = True
    runs = _cc.components(m, 8)
    for ids, value in (([], 0), ([1], 5)):
        out = np.zeros(m.shape, bool)
        runs.paint_ids(out, [0, 0], [4, 5], ids, value) if ids else runs._runs.paint_box(out, [0, 0], [4, 5], ids, value)
        assert out.view(np.uint8).max() == 1 and np.array_equal(out, m)
