"""Connected components, component statistics and the overlap table: hand-derived cases,
edge cases, layouts and bad input."""

from __future__ import annotations

import numpy as np
import pytest

import segscore as ss
from segscore.lesion import overlap_table

CC = ss.connected_components


def labels(m, conn="full", **kw):
    return CC(np.asarray(m), conn, **kw)


# ----------------------------------------------------------------------------- connectivity, 3-D
def two_voxels(offset):
    m = np.zeros((3, 3, 3), bool)
    m[1, 1, 1] = True
    m[tuple(1 + np.array(offset))] = True
    return m


@pytest.mark.parametrize("offset, n6, n18, n26", [
    ((0, 0, 1), 1, 1, 1),     # face
    ((1, 0, 0), 1, 1, 1),
    ((0, 1, 1), 2, 1, 1),     # edge
    ((1, -1, 0), 2, 1, 1),
    ((1, 1, 1), 2, 2, 1),     # corner
    ((-1, 1, -1), 2, 2, 1),
])
def test_3d_touching_per_connectivity(offset, n6, n18, n26):
    m = two_voxels(offset)
    for conn, want in ((6, n6), (18, n18), (26, n26)):
        lab, n = CC(m, conn)
        assert n == want, (offset, conn)
        assert lab.dtype == np.int32 and lab.shape == m.shape
        assert set(np.unique(lab[m])) == set(range(1, want + 1))
        assert (lab[~m] == 0).all()
    assert CC(m, "face")[1] == n6 and CC(m, "edge")[1] == n18 and CC(m, "full")[1] == n26


def test_3d_two_apart_never_connected():
    m = np.zeros((5, 5, 5), bool)
    m[0, 0, 0] = m[2, 2, 2] = True
    assert CC(m, 26)[1] == 2


# ----------------------------------------------------------------------------- 2-D
def test_2d_corner_and_edge():
    m = np.array([[1, 0], [0, 1]], bool)
    assert CC(m, 8)[1] == 1 and CC(m, "full")[1] == 1
    assert CC(m, 4)[1] == 2 and CC(m, "face")[1] == 2
    m = np.array([[1, 1], [0, 0]], bool)
    assert CC(m, 4)[1] == 1


def test_2d_equals_one_slice_of_3d():
    rng = np.random.default_rng(3)
    m = rng.random((17, 23)) < 0.45
    for c2, c3 in ((4, 6), (8, 26), (8, 18)):
        a, n = CC(m, c2)
        b, k = CC(m[None], c3)
        assert n == k and np.array_equal(a, b[0])


def test_2d_u_shape_is_one_component():
    m = np.array([[1, 0, 1],
                  [1, 0, 1],
                  [1, 1, 1]], bool)
    lab, n = CC(m, 4)
    assert n == 1 and (lab[m] == 1).all()


def test_spiral_merges_late():
    # two arms that only meet at the bottom: the first-raster root wins
    m = np.array([[0, 1, 0, 1, 0, 1],
                  [0, 1, 0, 1, 0, 1],
                  [0, 1, 1, 1, 1, 1]], bool)
    lab, n = CC(m, 4)
    assert n == 1 and (lab[m] == 1).all()


# ----------------------------------------------------------------------------- numbering
def test_numbering_c_and_f():
    m = np.zeros((4, 4), bool)
    m[0, 3] = True   # first in C raster
    m[3, 0] = True   # first in F raster
    m[1, 1] = True
    c = CC(m, 4)[0]
    f = CC(m, 4, order="F")[0]
    assert (c[0, 3], c[1, 1], c[3, 0]) == (1, 2, 3)
    assert (f[3, 0], f[1, 1], f[0, 3]) == (1, 2, 3)
    assert c.flags.c_contiguous and f.flags.f_contiguous


def test_numbering_by_first_voxel_not_by_size():
    m = np.zeros((6, 6), bool)
    m[0, 5] = True           # a single voxel first
    m[2:6, 0:4] = True       # a big block later
    lab, n = CC(m)
    assert n == 2 and lab[0, 5] == 1 and lab[3, 1] == 2


def test_layout_does_not_change_ids():
    rng = np.random.default_rng(5)
    m = rng.random((9, 11, 13)) < 0.3
    want = CC(m)[0]
    for v in (np.asfortranarray(m), m[::-1, ::-1, ::-1].copy()[::-1, ::-1, ::-1], np.transpose(
            np.ascontiguousarray(np.transpose(m, (2, 0, 1))), (1, 2, 0))):
        assert np.array_equal(CC(v)[0], want)
    big = np.zeros((18, 11, 26), bool)
    big[::2, :, ::2] = m
    assert np.array_equal(CC(big[::2, :, ::2])[0], want)  # strided view


def test_thread_count_does_not_change_ids():
    rng = np.random.default_rng(6)
    m = rng.random((31, 17, 19)) < 0.4
    for conn in (6, 18, 26):
        want = CC(m, conn, threads=1)[0]
        for t in (2, 3, 5, 8):
            assert np.array_equal(CC(m, conn, threads=t)[0], want)
    m2 = rng.random((50, 3)) < 0.5  # fewer lines than threads in some blocks
    assert np.array_equal(CC(m2, 8, threads=7)[0], CC(m2, 8, threads=1)[0])


# ----------------------------------------------------------------------------- sizes, borders
def test_empty_single_all_ones():
    assert CC(np.zeros((4, 5, 6), bool))[1] == 0
    assert not CC(np.zeros((4, 5), np.uint8))[0].any()
    m = np.zeros((4, 5, 6), bool)
    m[3, 4, 5] = True
    lab, n = CC(m)
    assert n == 1 and lab[3, 4, 5] == 1 and lab.sum() == 1
    lab, n = CC(np.ones((4, 5, 6), bool), 6)
    assert n == 1 and (lab == 1).all()


def test_zero_sized_and_thin_arrays():
    lab, n = CC(np.zeros((0, 5, 6), bool))
    assert n == 0 and lab.shape == (0, 5, 6)
    lab, n = CC(np.ones((1, 1, 7), bool), 6)
    assert n == 1
    lab, n = CC(np.array([[1], [0], [1]], bool), 8)
    assert n == 2


def test_components_touching_every_border():
    m = np.zeros((5, 6, 7), bool)
    m[0] = True
    m[-1] = True
    m[:, 0, :] = True
    lab, n = CC(m, 6)
    assert n == 1
    m = np.zeros((5, 6, 7), bool)
    m[0, 0, 0] = m[-1, -1, -1] = m[0, -1, 0] = m[-1, 0, -1] = True
    assert CC(m, 26)[1] == 4


def test_min_size_drops_and_renumbers():
    m = np.zeros((3, 10), bool)
    m[0, 0] = True            # 1 voxel
    m[0, 3:6] = True          # 3 voxels
    m[2, 8] = True            # 1 voxel
    m[2, 0:2] = True          # 2 voxels
    lab, n = CC(m, 8, min_size=2)
    assert n == 2
    assert lab[0, 0] == 0 and lab[2, 8] == 0
    assert lab[0, 4] == 1 and lab[2, 1] == 2
    assert CC(m, 8, min_size=4)[1] == 0
    assert CC(m, 8, min_size=1)[1] == 4 and CC(m, 8, min_size=0)[1] == 4


# ----------------------------------------------------------------------------- per-label mode
def test_per_label_mode_cc3d_semantics():
    m = np.array([[1, 1, 2, 2],
                  [0, 0, 2, 0],
                  [3, 3, 0, 1]])
    lab, n = CC(m, 8, binary=False)
    assert n == 4
    assert lab.tolist() == [[1, 1, 2, 2], [0, 0, 2, 0], [3, 3, 0, 4]]
    assert CC(m, 8)[1] == 1  # binary: the values merge (diagonal touches)
    assert CC(m, 4)[1] == 3


def test_per_label_adjacent_runs_diagonal():
    # adjacent runs of different values on a line; equal values only touching diagonally
    m = np.array([[1, 2, 0],
                  [0, 1, 2]])
    assert CC(m, 8, binary=False)[1] == 2
    assert CC(m, 4, binary=False)[1] == 4


def test_huge_label_values():
    m = np.zeros((3, 4), np.int64)
    m[0, 0:2] = 2**31
    m[0, 2:4] = 2**31 + 1
    m[2, 0] = 2**62
    lab, n = CC(m, 4, binary=False)
    assert n == 3 and lab[0].tolist() == [1, 1, 2, 2] and lab[2, 0] == 3
    u = np.full((2, 2), np.iinfo(np.uint64).max, np.uint64)
    u[1, 1] = 2**63
    assert CC(u, 4, binary=False)[1] == 2
    assert CC(u, 4)[1] == 1


@pytest.mark.parametrize("dtype", [bool, np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32,
                                   np.int64, np.uint64])
def test_every_integer_dtype(dtype):
    rng = np.random.default_rng(9)
    m = rng.integers(0, 3, (7, 8, 9))
    want = CC(m > 0)[0]
    assert np.array_equal(CC(m.astype(dtype))[0], want)


def test_big_endian_and_torch():
    rng = np.random.default_rng(10)
    m = rng.integers(0, 3, (6, 7, 8)).astype(np.int32)
    be = m.astype(">i4")
    assert np.array_equal(CC(be, binary=False)[0], CC(m, binary=False)[0])
    torch = pytest.importorskip("torch")
    assert np.array_equal(CC(torch.from_numpy(m))[0], CC(m)[0])


# ----------------------------------------------------------------------------- bad input
def test_float_input_refused():
    with pytest.raises(TypeError, match="Threshold"):
        CC(np.zeros((3, 3), np.float32))


@pytest.mark.parametrize("shape, conn", [((4, 4), 18), ((4, 4), 6), ((4, 4), 26), ((4, 4, 4), 4),
                                         ((4, 4, 4), 8), ((4, 4), "edge"), ((4, 4, 4), 5)])
def test_connectivity_not_fitting(shape, conn):
    with pytest.raises(ValueError, match="connectivity"):
        CC(np.zeros(shape, bool), conn)


def test_bad_connectivity_type_and_name():
    with pytest.raises(ValueError, match="'full'"):
        CC(np.zeros((3, 3), bool), "diagonal")
    with pytest.raises(TypeError, match="connectivity"):
        CC(np.zeros((3, 3), bool), 8.0)
    with pytest.raises(TypeError, match="connectivity"):
        CC(np.zeros((3, 3), bool), True)


@pytest.mark.parametrize("shape", [(5,), (2, 3, 4, 5), ()])
def test_dimension_refused(shape):
    with pytest.raises(ValueError, match="axes|0-d"):
        CC(np.zeros(shape, bool))


def test_negative_values_refused():
    with pytest.raises(ValueError, match="negative"):
        CC(np.array([[0, -1], [1, 1]]))
    with pytest.raises(ValueError, match="negative"):
        CC(np.array([[0, -1], [1, 1]]), binary=False)


def test_bad_options():
    m = np.zeros((3, 3), bool)
    with pytest.raises(ValueError, match="order"):
        CC(m, order="K")
    with pytest.raises(ValueError, match="min_size"):
        CC(m, min_size=-1)
    with pytest.raises(ValueError, match="min_size"):
        CC(m, min_size=2.5)
    with pytest.raises(ValueError, match="threads"):
        CC(m, threads=0)


def test_return_n_false():
    lab = CC(np.ones((2, 2), bool), return_n=False)
    assert isinstance(lab, np.ndarray) and lab.tolist() == [[1, 1], [1, 1]]


# ----------------------------------------------------------------------------- component_stats
def test_stats_hand_case():
    lab = np.zeros((4, 5), np.int32)
    lab[0, 0:2] = 1
    lab[1:4, 4] = 2
    vals = np.zeros((4, 5))
    vals[0, 0], vals[0, 1] = 0.5, 0.5         # tie: first in C order
    vals[1:4, 4] = [0.1, 0.9, 0.3]
    st = ss.component_stats(lab, spacing=(2.0, 3.0), values=vals)
    assert st.n == 2 and len(st) == 2
    assert st.voxels.tolist() == [2, 3]
    assert st.volume.tolist() == [12.0, 18.0]
    assert st.bbox_lo.tolist() == [[0, 0], [1, 4]] and st.bbox_hi.tolist() == [[0, 1], [3, 4]]
    assert np.allclose(st.centroid, [[0.0, 1.5], [4.0, 12.0]], rtol=0, atol=1e-12)
    assert st.max.tolist() == [0.5, 0.9]
    assert np.allclose(st.mean, [0.5, 1.3 / 3], rtol=1e-15)
    assert st.argmax.tolist() == [[0, 0], [2, 4]] and st.argmax_flat.tolist() == [0, 14]


def test_stats_ids_without_voxels_and_empty():
    lab = np.zeros((3, 3), np.uint8)
    lab[2, 2] = 3
    st = ss.component_stats(lab, values=np.ones((3, 3), np.float32))
    assert st.n == 3 and st.voxels.tolist() == [0, 0, 1]
    assert st.bbox_lo[0].tolist() == [-1, -1] and np.isnan(st.centroid[0]).all()
    assert np.isnan(st.max[0]) and np.isnan(st.mean[0]) and st.argmax[0].tolist() == [-1, -1]
    assert st.argmax_flat.tolist() == [-1, -1, 8]
    e = ss.component_stats(np.zeros((4, 4), np.int32))
    assert e.n == 0 and e.voxels.shape == (0,) and e.bbox_lo.shape == (0, 2) and e.max is None


def test_stats_threads_and_layout_bit_identical():
    rng = np.random.default_rng(11)
    m = rng.random((40, 30, 20)) < 0.3
    lab = CC(m)[0]
    v = rng.random(m.shape)
    want = ss.component_stats(lab, (0.7, 0.8, 2.5), v, threads=1)
    for t, L, V in ((4, lab, v), (3, np.asfortranarray(lab), np.asfortranarray(v)), (2, lab.astype(np.int64), v)):
        got = ss.component_stats(L, (0.7, 0.8, 2.5), V, threads=t)
        for f in ("voxels", "volume", "bbox_lo", "bbox_hi", "centroid", "max", "mean", "argmax"):
            assert np.array_equal(getattr(got, f), getattr(want, f)), f


def test_stats_against_numpy():
    rng = np.random.default_rng(12)
    lab = CC(rng.random((12, 13, 14)) < 0.35)[0]
    v = rng.random(lab.shape).astype(np.float32)
    sp = (0.5, 1.5, 2.0)
    st = ss.component_stats(lab, sp, v)
    for i in range(1, st.n + 1):
        idx = np.argwhere(lab == i)
        assert st.voxels[i - 1] == len(idx)
        assert st.bbox_lo[i - 1].tolist() == idx.min(0).tolist()
        assert np.allclose(st.centroid[i - 1], idx.mean(0) * sp, rtol=1e-12)
        vv = v[lab == i].astype(np.float64)
        assert st.max[i - 1] == vv.max()
        assert np.isclose(st.mean[i - 1], vv.mean(), rtol=1e-12)
        flat = np.flatnonzero(lab.ravel() == i)
        assert st.argmax_flat[i - 1] == flat[np.argmax(v.ravel()[flat])]


def test_stats_bad_input():
    lab = np.ones((3, 3), np.int32)
    with pytest.raises(ValueError, match="shape"):
        ss.component_stats(lab, values=np.ones((3, 4)))
    with pytest.raises(ValueError, match="NaN"):
        ss.component_stats(lab, values=np.full((3, 3), np.nan))
    with pytest.raises(ValueError, match="negative"):
        ss.component_stats(-lab)
    with pytest.raises(ValueError, match="relabel"):
        ss.component_stats(lab * (2**31 - 1))
    with pytest.raises(TypeError):
        ss.component_stats(lab.astype(float))
    with pytest.raises(ValueError, match="spacing"):
        ss.component_stats(lab, spacing=(1.0,))


# ----------------------------------------------------------------------------- overlap_table
def test_overlap_hand_case():
    pred = np.array([[1, 1, 0, 2, 2],
                     [0, 3, 0, 0, 2]])
    ref = np.array([[2, 1, 1, 1, 0],
                    [0, 0, 0, 0, 1]])
    t = overlap_table(pred, ref)
    assert t.pairs.tolist() == [[1, 1, 1], [1, 2, 1], [2, 1, 2]]
    assert t.pred_voxels.tolist() == [2, 3, 1] and t.ref_voxels.tolist() == [4, 1]
    assert t.n_pred == 3 and t.n_ref == 2 and len(t) == 3


def test_overlap_against_numpy_and_layouts():
    rng = np.random.default_rng(13)
    p = CC(rng.random((20, 21, 22)) < 0.3)[0]
    r = CC(rng.random((20, 21, 22)) < 0.3)[0]
    t = overlap_table(p, r)
    both = (p > 0) & (r > 0)
    key = p[both].astype(np.int64) * (r.max() + 1) + r[both]
    u, c = np.unique(key, return_counts=True)
    assert np.array_equal(t.pred_id, u // (r.max() + 1)) and np.array_equal(t.ref_id, u % (r.max() + 1))
    assert np.array_equal(t.count, c)
    assert np.array_equal(t.pred_voxels, np.bincount(p.ravel())[1:])
    assert np.array_equal(t.ref_voxels, np.bincount(r.ravel())[1:])
    for pp, rr, th in ((np.asfortranarray(p), r, 3), (p.astype(np.uint16), r.astype(np.int64), 1),
                       (p[::-1][::-1], r.astype(">i4"), 2)):
        g = overlap_table(pp, rr, threads=th)
        assert np.array_equal(g.pairs, t.pairs) and np.array_equal(g.pred_voxels, t.pred_voxels)
        assert np.array_equal(g.ref_voxels, t.ref_voxels)


def test_overlap_empty_and_bad():
    t = overlap_table(np.zeros((3, 3), np.int32), np.zeros((3, 3), np.int32))
    assert len(t) == 0 and t.pairs.shape == (0, 3) and t.n_pred == 0 and t.n_ref == 0
    t = overlap_table(np.zeros((3, 3), np.int32), np.ones((3, 3), bool))
    assert len(t) == 0 and t.ref_voxels.tolist() == [9]
    with pytest.raises(ValueError, match="shape"):
        overlap_table(np.zeros((3, 3), np.int32), np.zeros((3, 4), np.int32))
    with pytest.raises(ValueError, match="negative"):
        overlap_table(-np.ones((3, 3), np.int32), np.zeros((3, 3), np.int32))
    with pytest.raises(TypeError):
        overlap_table(np.zeros((3, 3)), np.zeros((3, 3), np.int32))
    with pytest.raises(ValueError, match="above"):
        overlap_table(np.full((3, 3), 2**31, np.int64), np.zeros((3, 3), np.int32))


# ----------------------------------------------------------------------------- device keyword
def test_device_keyword():
    rng = np.random.default_rng(14)
    m = rng.random((6, 7, 8)) < 0.4
    lab = CC(m)[0]
    assert np.array_equal(CC(m, device="cpu")[0], lab)
    t = overlap_table(lab, lab, device="cpu")
    assert np.array_equal(t.count, np.bincount(lab.ravel())[1:])
    with pytest.raises(ValueError, match="device must be"):
        CC(m, device="tpu")
    with pytest.raises(ValueError, match="device must be"):
        overlap_table(lab, lab, device="tpu")
