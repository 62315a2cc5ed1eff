"""The single launch plan (segscore.gpu.plan) against both executors' kernel tables.

Every GPU launch sequence is built once in plan.py as a list of Launch; the compiled
module (cuda/driver.cu: a kernel table with signatures derived from the C++ parameter
types) and the CuPy path (NVRTC compile groups of segscore.gpu.source) launch the
same kernel names.  These tests check, without a GPU, that the two tables hold the same
kernels, that every sequence the plan can build names a kernel of its compile group
with the arguments the kernel's C++ parameters take, that the generic launcher
refuses anything else, and that both executors receive the very same sequence.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from segscore.gpu import plan as P
from segscore.gpu import source as S

if shutil.which("g++") is None and shutil.which("c++") is None:  # pragma: no cover
    pytest.skip("the GPU emulation needs a C++ compiler", allow_module_level=True)
pytest.importorskip("pybind11")

from support import gpu_emulation as E  # noqa: E402


@pytest.fixture(scope="module")
def mod():
    return E.build_compiled_module()


@pytest.fixture(scope="module")
def table(mod):
    return dict(mod.kernels())


def test_compiled_table_holds_exactly_the_nvrtc_kernels(table):
    assert set(table) == S.all_kernel_names()
    assert set("".join(table.values())) <= set("piqd")


def test_built_cuda_module_has_the_same_table(table):
    try:
        import segscore._cuda as real
    except ImportError:
        pytest.skip("segscore._cuda is not built here")
    assert dict(real.kernels()) == table


# ----------------------------------------------------------------------------- every sequence the plan builds

def _ptrs():
    """Distinct fake device addresses (never dereferenced here)."""
    n = iter(range(1, 1 << 20))
    return lambda: 0x10000 * next(n)


def _edt_cases():
    for nd in (1, 2, 3):
        shape = (5, 4, 3)[:nd]
        strides = [int(np.prod(shape[d + 1:])) for d in range(nd)]
        for ml in (False, True):
            for code in range(4 if ml else 6):
                for f64 in (False, True):
                    plan = P.edt_plan(shape, strides, strides, [1.0] * nd, 8 if f64 else 4, ml)
                    yield plan, code, ml, f64


def _all_sequences():
    p = _ptrs()
    for plan, code, ml, f64 in _edt_cases():
        for finish in (0, 1, 2):
            yield P.edt_launches(plan, code, ml, f64, p(), p(), p(), p(), p(), p(), p(), finish)
    sp = P.stats_plan((6, 5, 4), (20, 4, 1), (20, 4, 1))
    yield P.stats_launches(sp, p(), 0, p(), 7, p(), -1, p())
    regions = [((1,), (0, 0, 0), (2, 3, 1), False), ((2, 3), (1, 1, 0), (4, 4, 2), False)]
    for corner in (False, True):
        for biou in (False, True):
            plan = P.surface_plan(regions, [0, 1], 3, (30, 6, 1), (30, 6, 1), [1.0, 1.0, 2.0], corner, biou,
                                  [1.0, 1.0, 1.0])
            yield P.surface_launches(plan, p(), 0, p(), 5, -1, 1, biou, 1.0, False, p(), p(), p(), p(), p(), p(),
                                     p(), p(), p(), p(), p(), p(), p())
    params = dict(right_closed=0, below=0, above=0, exact=0, n_classes=3, logits=0, mode=0, positive=1, round_f32=0,
                  clip=0, off=0.0, scale=0.0, tol=0.0, clip_lo=0.0, clip_hi=1.0)
    edges = np.linspace(0, 1, 11)
    for scores in (False, True):
        cp = P.calib_plan((7, 6), (6, 1), (6, 1), None, 42, edges, params, 1, 12, scores, 0, None, 5, -1)
        for ptype in range(3):
            yield P.calib_launches(cp, ptype, p(), p(), 0, p(), p(), p(), p(), p(), p() if scores else 0,
                                   p() if scores else 0)
            yield P.calib_conf_launches(cp, ptype, p(), p(), p(), p(), p(), 1, p(), 42)
    geo, n = P.crps_geo((4, 3), [[3, 1], [3, 1], [0, 0]])
    for types in range(8):
        yield P.crps_gaussian_launches(types, p(), p(), p(), p(), n, p(), p())
        yield P.crps_ensemble_launches(types, p(), p(), 0, p(), n, 5, p(), p())
        yield P.crps_ensemble_launches(types, p(), p(), p(), p(), n, 5, p(), p())
    for min_size in (0, 3):
        for binary in (False, True):
            yield P.cc_launches(60, 5, binary, 26, min_size, p(), p(), p(), p(), p() if min_size else 0, p(), p(),
                                p(), p(), False)
    yield P.ovl_scan_launches(60, p(), 0, p(), 7, p(), p())
    yield P.ovl_count_launches(60, p(), 0, p(), 7, p(), p(), p(), p(), p(), 64)


def test_every_planned_launch_matches_its_kernel_and_compile_group(table):
    seen = set()
    for seq in _all_sequences():
        assert seq
        for L in seq:
            assert L.kernel in table, L.kernel
            assert L.signature == table[L.kernel], (L.kernel, L.signature, table[L.kernel])
            assert S.NS + L.kernel in S.group(L.group), (L.kernel, L.group)
            assert L.grid >= 1 and 1 <= L.block <= 1024 and L.shmem == 0
            seen.add(L.kernel)
    assert seen == set(table)  # every kernel of the table is reachable from some plan


def test_edt_passes_ping_pong_into_out():
    plan, _, _, _ = next(c for c in _edt_cases() if c[0].npasses == 3)
    out, tmp = 0x1000, 0x2000
    seq = P.edt_launches(plan, 0, False, True, 0x10, out, tmp, 0x30, 0x40, 0x50, 0x60, 1)
    dst = [int(L.args[1]) for L in seq]  # first pass: (in, dst, ...); parabola: (src, dst, ...)
    assert dst == [out, tmp, out]
    assert [int(L.args[0]) for L in seq[1:]] == [out, tmp]
    assert [int(L.args[-1]) for L in seq] == [0, 0, 1]  # finish on the last pass only
    assert [int(L.args[6]) for L in seq[1:]] == [0x60 + 8 * k * (plan.nfields + 1) for k in (1, 2)]


def test_argument_helpers_are_range_checked():
    assert P.ptr(0).dtype == np.uint64 and P.i32(-1).dtype == np.int32 and P.i64(1 << 40).dtype == np.int64
    assert P.f64(1).dtype == np.float64
    for bad in (lambda: P.ptr(-1), lambda: P.ptr(1 << 64), lambda: P.i32(1 << 31), lambda: P.i32(-(1 << 31) - 1),
                lambda: P.i64(1 << 63)):
        with pytest.raises(OverflowError):
            bad()
    with pytest.raises(TypeError, match="not one of"):
        P._add([], "k_scan_sums", ("surface",), 1, 1, P.ptr(8), 3)  # a bare int: type unknown


def test_zero_block_grids_are_dropped_once_in_the_plan():
    seq = []
    P._add(seq, "k_scan_sums", ("surface",), 0, 1, P.ptr(8), P.i64(0))
    assert seq == []


# ----------------------------------------------------------------------------- the generic launcher

def test_launcher_runs_a_kernel_and_memory_helpers_round_trip(mod):
    sums = np.array([3, 1, 4, 1, 5, 0], np.int64)
    d = mod.mem_alloc(sums.nbytes)
    try:
        mod.mem_set(d, 0xFF, sums.nbytes, 0)
        mod.mem_copy(d, sums.ctypes.data, sums.nbytes, 0)
        seq = []
        P._add(seq, "k_scan_sums", ("surface",), 1, 1, P.ptr(d), P.i64(5))
        mod.run(0, 0, seq)
        got = np.empty_like(sums)
        mod.mem_copy(got.ctypes.data, d, sums.nbytes, 0)
        mod.synchronize(0)
    finally:
        mod.mem_free(d)
    np.testing.assert_array_equal(got, [0, 3, 4, 8, 9, 14])  # exclusive prefix, then the total


def test_launcher_refuses_what_the_kernel_does_not_take(mod):
    good = ("k_scan_sums", 1, 1, 0, 0, "pq", [0x1000, 5])
    with pytest.raises(KeyError, match="no kernel"):
        mod.launch("k_scan_summ", *good[1:])
    with pytest.raises(TypeError, match=r"takes arguments \(pq\) but the plan passed \(pi\)"):
        mod.launch(*good[:5], "pi", [0x1000, 5])
    with pytest.raises(TypeError, match="argument values"):
        mod.launch(*good[:6], [0x1000])
    with pytest.raises(RuntimeError):  # pybind11 cast: a negative address, a float for an integer
        mod.launch(*good[:6], [-8, 5])
    with pytest.raises(RuntimeError):
        mod.launch(*good[:6], [0x1000, 5.0])
    with pytest.raises(RuntimeError):  # beyond 32 bits for an int parameter
        mod.launch("k_stats_init", 1, 1, 0, 0, "pqi", [0x1000, 1, 1 << 31])
    with pytest.raises(ValueError, match="grid 0"):
        mod.launch("k_scan_sums", 0, 1, 0, 0, "pq", [0x1000, 5])
    with pytest.raises(ValueError, match="block 2048"):
        mod.launch("k_scan_sums", 1, 2048, 0, 0, "pq", [0x1000, 5])


# ----------------------------------------------------------------------------- both executors, one plan

def test_both_executors_receive_the_same_sequence(monkeypatch):
    import segscore as ss
    from segscore.gpu import backend

    lib, undo = E.install()
    try:
        got = {}
        for name in ("cuda", "cupy"):
            b = backend.get(name)
            calls = []
            orig = b.run
            monkeypatch.setattr(b, "run", lambda d, s, seq, orig=orig, calls=calls: (calls.append(list(seq)),
                                                                                    orig(d, s, seq))[1])
            rng = np.random.default_rng(3)
            p = rng.integers(0, 3, (9, 8, 7)).astype(np.uint8)
            r = np.roll(p, 1, axis=0)
            ss.evaluate(E.EmuArray(p), E.EmuArray(r), spacing=(1, 1, 2), metrics=["dice", "hd95", "biou@1"],
                        device=name)
            ss.edt(E.EmuArray(p > 0), device=name)
            probs = rng.random((3, 6, 5))
            probs /= probs.sum(0)
            ss.ece(E.EmuArray(probs), E.EmuArray(rng.integers(0, 3, (6, 5))), device=name)
            ss.crps_gaussian(E.EmuArray(rng.random(7)), 0.0, 1.0, device=name)
            got[name] = [[(L.kernel, L.group, L.grid, L.block, L.signature) for L in seq] for seq in calls]
        assert got["cuda"] == got["cupy"]
        kernels = {k for seq in got["cuda"] for k, *_ in seq}
        assert {"k_stats", "k_crop_gather", "k_edt_parabola<double>", "k_calib<double>", "k_crps_gaussian"} <= kernels
    finally:
        undo()
