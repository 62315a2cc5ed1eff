"""Hostile and large inputs to the component layer, each in a subprocess with a timeout
(a crash or a hang fails the test instead of the run): hundreds of thousands of
components, labels at and beyond 2**31, runs cut into every line, many threads."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest


def run(code: str, timeout: int = 120) -> str:
    src = "import numpy as np, segscore as ss\nfrom segscore.lesion import overlap_table\n" + textwrap.dedent(code)
    out = subprocess.run([sys.executable, "-c", src], capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, f"exit {out.returncode}\n{out.stdout}\n{out.stderr}"
    return out.stdout


def test_checkerboard_many_components():
    out = run("""
        g = np.indices((64, 64, 64)).sum(0)
        m = (g % 2) == 0                      # every other voxel: 131072 isolated voxels at 6
        lab, n = ss.connected_components(m, 6)
        assert n == 131072 and lab.max() == n and (lab[m] > 0).all()
        assert np.array_equal(lab[m], np.arange(1, n + 1, dtype=np.int32))   # C raster order
        assert ss.connected_components(m, 18)[1] == 1 and ss.connected_components(m, 26)[1] == 1
        st = ss.component_stats(lab, values=np.ones(m.shape, np.float32))
        assert st.n == n and (st.voxels == 1).all() and (st.argmax_flat == np.flatnonzero(m)).all()
        t = overlap_table(lab, lab)
        assert len(t) == n and (t.pred_id == t.ref_id).all() and (t.count == 1).all()
        print("ok")
    """)
    assert out.strip() == "ok"


def test_dense_noise_many_runs_against_scipy():
    out = run("""
        from scipy import ndimage as ndi
        rng = np.random.default_rng(0)
        m = rng.random((96, 128, 128)) < 0.5
        for conn, c in ((6, 1), (18, 2), (26, 3)):
            want, k = ndi.label(m, ndi.generate_binary_structure(3, c))
            for t in (1, 3, 16):
                lab, n = ss.connected_components(m, conn, threads=t)
                assert n == k and np.array_equal(lab, want), (conn, t)
        print("ok")
    """, timeout=300)
    assert out.strip() == "ok"


def test_label_values_at_and_beyond_2_31():
    out = run("""
        m = np.zeros((4, 5, 6), np.int64)
        m[0, :, :3] = 2**31
        m[0, :, 3:] = 2**31 + 1
        m[3, 4, 5] = 2**31 - 1
        m[2, 0, 0] = 2**63 - 1
        lab, n = ss.connected_components(m, 26, binary=False)
        assert n == 4 and lab[0, 0, 0] == 1 and lab[0, 0, 3] == 2 and lab[2, 0, 0] == 3 and lab[3, 4, 5] == 4
        assert ss.connected_components(m, 26)[1] == 3
        u = m.astype(np.uint64); u[1, 1, 1] = 2**64 - 1
        assert ss.connected_components(u, 6, binary=False)[1] == 5
        for f in (lambda: ss.component_stats(m), lambda: overlap_table(m, m)):
            try:
                f()
            except ValueError as e:
                assert "above" in str(e)
            else:
                raise AssertionError("an id of 2**31 was accepted by a dense table")
        # ids up to the limit work
        big = np.zeros((2, 2), np.int64); big[1, 1] = 2**20
        st = ss.component_stats(big)
        assert st.n == 2**20 and st.voxels[-1] == 1 and st.voxels[:-1].sum() == 0
        print("ok")
    """)
    assert out.strip() == "ok"


def test_long_lines_and_many_threads():
    out = run("""
        m = np.zeros((3, 2_000_000), bool)
        m[0, ::2] = True
        m[2, 1::2] = True
        lab, n = ss.connected_components(m, 4, threads=16)
        assert n == 2_000_000
        assert ss.connected_components(m, 8, threads=16)[1] == 2_000_000
        one = np.zeros((2, 3, 1), bool)
        assert ss.connected_components(one, 26, threads=64)[1] == 0
        print("ok")
    """)
    assert out.strip() == "ok"


def test_min_size_beyond_int64_binary_flag_and_ragged_lists():
    out = run("""
        m = np.zeros((4, 4), bool); m[0, 0] = m[3, 3] = True
        for ms in (2**63, 2**70, np.uint64(2**64 - 1)):
            lab, n = ss.connected_components(m, min_size=ms)   # larger than everything: all dropped
            assert n == 0 and not lab.any() and lab.dtype == np.int32
        assert ss.connected_components(m, min_size=m.size)[1] == 0
        assert ss.connected_components(m, binary=np.bool_(False))[1] == 2
        for bad in ("no", 1, None):
            try:
                ss.connected_components(m, binary=bad)
            except TypeError as e:
                assert "binary must be True or False" in str(e)
            else:
                raise AssertionError(f"binary={bad!r} accepted")
        for f in (lambda: ss.connected_components([[1, 0], [0]]), lambda: ss.component_stats([[1], [1, 2]]),
                  lambda: overlap_table([[1, 0], [0]], [[1, 0], [0, 1]])):
            try:
                f()
            except ValueError as e:
                assert "cannot be read as an array" in str(e), e
            else:
                raise AssertionError("a ragged list was accepted")
        print("ok")
    """)
    assert out.strip() == "ok"


def test_uint64_id_at_2_63_in_a_map_of_another_dtype_is_above_the_limit_not_negative():
    out = run("""
        p = np.zeros((4, 4), np.uint8); p[0, 0] = 1
        r = np.zeros((4, 4), np.uint64); r[0, 0] = 2**63 + 1
        for a, b in ((p, r), (r, r), (r.astype(np.int64) * 0 + 1, r)):
            try:
                overlap_table(a, b)
            except ValueError as e:
                assert "above" in str(e) and "negative" not in str(e), e
            else:
                raise AssertionError("an id of 2**63 + 1 was accepted")
        print("ok")
    """)
    assert out.strip() == "ok"


def test_bool_masks_with_bytes_other_than_0_and_1_are_read_as_numpy_reads_them():
    out = run("""
        raw = np.array([[255, 255, 0, 0], [0, 0, 0, 1], [2, 0, 0, 1]], np.uint8)
        b = raw.view(bool)                      # a 0 / 255 mask read with np.fromfile(..., bool)
        good = raw != 0
        for binary in (True, False):
            lab, n = ss.connected_components(b, 8, binary=binary)
            want = ss.connected_components(good, 8, binary=binary)
            assert n == want[1] == 3 and np.array_equal(lab, want[0])
        st = ss.component_stats(b)
        assert st.n == 1 and st.voxels.tolist() == [5]
        t = overlap_table(b, b[::-1, ::-1].copy())
        w = overlap_table(good, good[::-1, ::-1].copy())
        assert np.array_equal(t.pairs, w.pairs) and t.n_pred == t.n_ref == 1
        print("ok")
    """)
    assert out.strip() == "ok"
