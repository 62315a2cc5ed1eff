"""The GPU path on a sequential CUDA emulation (no GPU needed).

Builds cuda/driver.cu + cuda/module.cpp (the kernel table and generic launcher
of segscore._cuda) and the CuPy path's exact kernel source with g++ against
tests/support/cuda_emulation/cuda_emulation.h, runs the launch plans of
segscore.gpu.plan through both, feeds numpy-backed "device" arrays through the
public API, and requires the CPU path's results (tests/support/gpu_suite.py).
The same checks run on a real device in tests/gpu/.
"""

from __future__ import annotations

import shutil

from support import gpu_suite as S
import numpy as np
import pytest
import segscore as ss

if shutil.which("g++") is None and shutil.which("c++") is None:  # pragma: no cover
    pytest.skip("the GPU emulation needs a C++ compiler", allow_module_level=True)
pybind11 = pytest.importorskip("pybind11")

from support import gpu_emulation as E


@pytest.fixture(scope="module")
def emu():
    lib, undo = E.install()
    yield lib
    undo()


def _dev(backend):
    return S.Dev("emu", backend, lambda a: E.EmuArray(np.array(a)), lambda x: x.a.copy(),
                 lambda x, axes: E.EmuArray(x.a.transpose(axes)), lambda x: isinstance(x, E.EmuArray))


@pytest.fixture(params=["cuda", "cupy"])
def dev(request, emu):
    return _dev(request.param)


@pytest.mark.parametrize("nd", [1, 2, 3, 4])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_edt(dev, nd, dtype):
    rng = np.random.default_rng(100 + nd)
    for layout in S.layouts(dev):
        for _ in range(3):
            S.check_edt(dev, rng, nd, dtype, layout, squared=bool(rng.random() < 0.3))


@pytest.mark.parametrize("in_dtype", [np.bool_, np.uint8, np.int16, np.int32, np.uint64, np.float32, np.float64])
def test_edt_input_dtypes(dev, in_dtype):
    rng = np.random.default_rng(7)
    S.check_edt(dev, rng, 3, "float64", "C", in_dtype=in_dtype)


@pytest.mark.parametrize("density", [0.0, 1.0])
def test_edt_no_zero_or_all_zero(dev, density):
    rng = np.random.default_rng(8)
    got, _ = S.check_edt(dev, rng, 2, "float32", "C", density=density)
    assert np.all(np.isinf(got)) == (density == 1.0)


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_edt_multilabel(dev, nd, dtype):
    rng = np.random.default_rng(200 + nd)
    for layout in S.layouts(dev):
        for lab_dtype in (np.uint8, np.int32, np.int64):
            S.check_edt_multilabel(dev, rng, nd, dtype, layout, lab_dtype)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_counting_pass(dev, nd):
    rng = np.random.default_rng(300 + nd)
    for layout in S.layouts(dev):
        S.check_stats(dev, rng, nd, layout)
        S.check_stats(dev, rng, nd, layout, ignore=True, dtypes=(np.uint16, np.int64))


@pytest.mark.parametrize("big", [300, 5000])
def test_counting_pass_large_labels(dev, big):
    """Labels >= 256 rerun the pass with a larger table; >= 1024 count on the host."""
    rng = np.random.default_rng(big)
    S.check_stats(dev, rng, 3, "C", big_labels=big)


CONV_DIMS = [(c, nd) for c in ss.CONVENTIONS for nd in ss.CONVENTIONS[c].ndims]


@pytest.mark.parametrize("conv,nd", CONV_DIMS)
def test_surface_distances(dev, conv, nd):
    rng = np.random.default_rng(abs(hash((conv, nd))) % 2**32)
    for i in range(6):
        S.check_surface(dev, rng, conv, nd, layout=S.layouts(dev)[i % len(S.layouts(dev))])


@pytest.mark.parametrize("conv", list(ss.CONVENTIONS))
def test_evaluate(dev, conv):
    rng = np.random.default_rng(abs(hash(conv)) % 2**32)
    for nd in ss.CONVENTIONS[conv].ndims:
        for _ in range(2):
            S.check_evaluate(dev, rng, conv, nd)


def test_compiled_and_cupy_paths_agree(emu):
    rng = np.random.default_rng(5)
    p = S.blob_labels(rng, (11, 13, 9), 5)
    r = S.perturb(rng, p)
    res = {}
    for b in ("cuda", "cupy"):
        res[b] = ss.surface_distances(E.EmuArray(p), E.EmuArray(r), spacing=(0.7, 1.2, 2.0), device=b,
                                      biou_width=1.0)
        e = ss.edt(E.EmuArray(p > 0), spacing=(0.7, 1.2, 2.0), device=b)
        res[b + "edt"] = e.a
    np.testing.assert_array_equal(res["cudaedt"], res["cupyedt"])
    for k in res["cuda"]:
        for a, b in zip(res["cuda"][k].directed, res["cupy"][k].directed):
            np.testing.assert_array_equal(a.distances, b.distances)
            np.testing.assert_array_equal(a.weights, b.weights)


def test_constant_launches_and_syncs(emu, monkeypatch):
    """All labels in a constant number of launches; host synchronisations
    (device-to-host copies) do not grow with the number of labels."""
    from segscore.gpu import backend

    cupy_b = backend.get("cupy")
    launches, copies = [], []
    orig_launch, orig_copy = cupy_b._launch, emu.to_host
    monkeypatch.setattr(cupy_b, "_launch", lambda *a, **k: (launches.append(a[3]), orig_launch(*a, **k)))
    monkeypatch.setattr(emu, "to_host", lambda x: (copies.append(1), orig_copy(x))[1])
    counts = []
    for nlab in (1, 3, 9):
        rng = np.random.default_rng(nlab)
        p = S.blob_labels(rng, (14, 12, 10), nlab)
        r = S.perturb(rng, p, 0.05)
        launches.clear()
        copies.clear()
        ss.evaluate(E.EmuArray(p), E.EmuArray(r), device="cupy", spacing=(1, 1, 2), tolerance=1.0)
        counts.append((len(launches), len(copies)))
    assert counts[0] == counts[1] == counts[2], counts
    assert counts[0][1] <= 4, counts  # counts/boxes, then the result transfer (header, distances, weights)


def test_regions_split_into_batches_when_memory_is_short(emu, monkeypatch):
    rng = np.random.default_rng(11)
    p = S.blob_labels(rng, (16, 16, 12), 6)
    r = S.perturb(rng, p)
    want = ss.surface_distances(p, r, spacing=(1, 1, 1.5))
    from segscore.gpu import ops

    batches = []
    orig = ops._surface_batch
    monkeypatch.setattr(ops, "_surface_batch", lambda *a: (batches.append(list(a[3].index)), orig(*a))[1])
    monkeypatch.setattr(emu, "mem_available", lambda device: 300_000)
    got = ss.surface_distances(E.EmuArray(p), E.EmuArray(r), spacing=(1, 1, 1.5), device="cuda")
    assert len(batches) > 1 and sorted(sum(batches, [])) == list(range(len(want)))
    for k in want:
        S.compare_sd(got[k], want[k])


def test_clear_memory_error(emu, monkeypatch):
    p = np.zeros((40, 40, 40), np.uint8)
    p[5:35, 5:35, 5:35] = 1
    monkeypatch.setattr(emu, "mem", 600_000)
    with pytest.raises(MemoryError, match=r"needs .* of GPU memory .*crop voxels"):
        ss.surface_distances(E.EmuArray(p), E.EmuArray(p.copy()), device="cupy", label=1)
    with pytest.raises(MemoryError, match=r"the EDT needs .* of GPU memory"):
        ss.edt(E.EmuArray(p), device="cuda")


def test_allocation_failure_is_a_memory_error(emu, monkeypatch):
    """An OOM of the array library itself becomes a MemoryError naming the size."""
    p = np.ones((30, 30, 30), bool)
    monkeypatch.setattr(emu, "mem_available", lambda device: 1 << 40)
    monkeypatch.setattr(emu, "mem", 10_000)
    with pytest.raises(MemoryError, match="out of GPU memory allocating"):
        ss.edt(E.EmuArray(p), device="cuda")


def test_mixing_host_and_device_raises(emu):
    p = np.zeros((5, 5), bool)
    with pytest.raises(TypeError, match="mix host and GPU arrays"):
        ss.dice(E.EmuArray(p), p)
    with pytest.raises(TypeError, match="mix host and GPU arrays"):
        ss.evaluate(p.astype(np.uint8), E.EmuArray(p.astype(np.uint8)), device="cuda")


def test_device_argument(emu):
    rng = np.random.default_rng(3)
    m = rng.random((6, 7)) < 0.7
    want = ss.edt(m)
    # device="cpu" with a device array: an explicit copy to the host, numpy out
    out = ss.edt(E.EmuArray(m), device="cpu")
    assert isinstance(out, np.ndarray) and np.array_equal(out, want)
    # host input forced onto the GPU: computed there, numpy out
    for b in ("cuda", "cupy"):
        out = ss.edt(m, device=b)
        assert isinstance(out, np.ndarray) and np.array_equal(out, want)
        assert ss.evaluate(m.astype(np.uint8), m.astype(np.uint8), device=b).meta["device"] == b
    with pytest.raises(ValueError, match="device must be"):
        ss.edt(m, device="gpu")


def test_gpu_validation_messages(emu):
    with pytest.raises(ValueError, match="NaN"):
        ss.edt(E.EmuArray(np.array([1.0, np.nan])), device="cuda")
    with pytest.raises(ValueError, match="negative labels"):
        ss.edt_multilabel(E.EmuArray(np.array([1, -2, 0], np.int32)), device="cupy")
    with pytest.raises(ValueError, match="negative label"):
        ss.dice(E.EmuArray(np.array([1, -2, 0], np.int32)), E.EmuArray(np.array([1, 2, 0], np.int32)))
    with pytest.raises(ValueError, match="pred has shape"):
        ss.dice(E.EmuArray(np.zeros((3, 4), bool)), E.EmuArray(np.zeros((4, 3), bool)))
    with pytest.raises(TypeError, match="integer label map or a bool mask"):
        ss.dice(E.EmuArray(np.zeros(3)), E.EmuArray(np.zeros(3)))
    with pytest.raises(ValueError, match="0-d array"):
        ss.dice(E.EmuArray(np.array(True)), E.EmuArray(np.array(True)))
    with pytest.raises(ValueError, match="spacing has 2 values"):
        ss.hd95(E.EmuArray(np.ones((3, 3, 3), bool)), E.EmuArray(np.ones((3, 3, 3), bool)), spacing=(1, 2))


def test_layout_constants_match_the_module(emu):
    from segscore.gpu import plan

    assert E.build_compiled_module().layout == plan.LAYOUT


@pytest.mark.parametrize("conv", ["segscore", "metricsreloaded", "monai"])
def test_union_regions_absent_labels_and_ignore(dev, conv):
    S.check_union_regions(dev, conv)


# ----------------------------------------------------------------------------- calibration and CRPS

@pytest.mark.parametrize("n_classes", [0, 2, 4])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_calibration(dev, n_classes, dtype):
    rng = np.random.default_rng(400 + n_classes + 10 * np.dtype(dtype).itemsize)
    for i, layout in enumerate(S.layouts(dev)):
        S.check_calibration(dev, rng, 1 + i % 3, n_classes, dtype, layout)


@pytest.mark.parametrize("n_classes", [0, 3])
def test_calibration_logits_mask_ignore(dev, n_classes):
    rng = np.random.default_rng(450 + n_classes)
    S.check_calibration(dev, rng, 3, n_classes, np.float32, "C", logits=True)
    S.check_calibration(dev, rng, 2, n_classes, np.float64, "F", mask=True, target_dtype=np.uint8)
    S.check_calibration(dev, rng, 3, n_classes, np.float32, "strided", ignore=True, target_dtype=np.int16)
    S.check_calibration(dev, rng, 2, n_classes, np.float64, "C", logits=True, mask=True, ignore=True)
    if n_classes:
        S.check_calibration(dev, rng, 3, n_classes, np.float32, "C", class_axis=-1)


def test_calibration_streaming(dev):
    S.check_calibration_stream(dev, np.random.default_rng(460))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_crps_gaussian(dev, dtype):
    rng = np.random.default_rng(470)
    for layout in S.layouts(dev):
        S.check_crps_gaussian(dev, rng, dtype, layout)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_crps_ensemble(dev, dtype, weighted):
    rng = np.random.default_rng(480 + weighted)
    for i, layout in enumerate(S.layouts(dev)):
        S.check_crps_ensemble(dev, rng, dtype, layout, weighted, axis=(-1, 0)[i % 2])


def test_calibration_gpu_errors(emu):
    p = np.array([[0.2, np.nan, 0.9], [0.5, 1.5, 0.1]])
    t = np.zeros((2, 3), np.int64)
    with pytest.raises(ValueError, match=r"1 NaN value and 1 value outside \[0, 1\]"):
        ss.ece(E.EmuArray(p), E.EmuArray(t), device="cuda")
    with pytest.raises(ValueError, match="logits must be finite"):
        ss.ece(E.EmuArray(np.array([[0.0, np.inf]])), E.EmuArray(np.zeros((1, 2), np.int64)), logits=True,
               device="cupy")
    q = np.full((3, 4), 0.5)
    with pytest.raises(ValueError, match=r"target holds labels in \[0, 2\]"):
        ss.ece(E.EmuArray(q), E.EmuArray(np.array([[0, 1, 2, 0]] * 3)), device="cuda")
    with pytest.raises(TypeError, match="mix host and GPU arrays"):
        ss.ece(E.EmuArray(q), np.zeros((3, 4), np.int64))


def test_crps_gpu_errors_and_outputs(emu):
    sig = np.array([1.0, -1.0, 2.0])
    with pytest.raises(ValueError, match=r"sigma must be >= 0.*1 negative"):
        ss.crps_gaussian(E.EmuArray(np.zeros(3)), 0.0, E.EmuArray(sig), device="cuda")
    with pytest.raises(TypeError, match="mix host and GPU arrays"):
        ss.crps_gaussian(E.EmuArray(np.zeros(3)), np.zeros(3), 1.0)
    # integer GPU arrays are converted to float64, as host arrays are
    xi = np.arange(6, dtype=np.int32).reshape(2, 3)
    np.testing.assert_allclose(ss.crps_ensemble(E.EmuArray(np.zeros(2)), E.EmuArray(xi), device="cupy").a,
                               ss.crps_ensemble(np.zeros(2), xi), rtol=1e-12)
    with pytest.raises(ValueError, match="do not broadcast to members"):
        ss.crps_ensemble(E.EmuArray(np.zeros(2)), E.EmuArray(np.zeros((2, 3))), E.EmuArray(np.ones(4)),
                         device="cuda")
    # host inputs forced onto the GPU give host results, as on the CPU path
    assert ss.crps_gaussian(0.5, 0.0, 1.0, device="cuda") == pytest.approx(ss.crps_gaussian(0.5, 0.0, 1.0),
                                                                           rel=1e-12)
    x = np.array([0.1, 0.7, 0.3])
    got = ss.crps_ensemble(np.array([0.2, 0.4]), np.stack([x, x]), device="cupy")
    assert isinstance(got, np.ndarray)
    np.testing.assert_allclose(got, ss.crps_ensemble(np.array([0.2, 0.4]), np.stack([x, x])), rtol=1e-12)
    # device="cpu" copies device arrays to the host
    assert isinstance(ss.crps_gaussian(E.EmuArray(np.zeros(3)), 0.0, 1.0, device="cpu"), np.ndarray)


def test_calibration_sums_do_not_depend_on_the_launch(emu, monkeypatch):
    """Fixed-point confidence sums: the same bits for any grid and number of private histograms."""
    from segscore.gpu import plan

    rng = np.random.default_rng(490)
    p = rng.random((3, 40, 30)).astype(np.float32)
    t = rng.integers(0, 3, (40, 30))
    base = ss.reliability(E.EmuArray(p), E.EmuArray(t), device="cuda", target_mode="class-wise")
    for blocks, words in ((1, 64), (3, 1 << 10), (7, 1 << 16)):
        monkeypatch.setattr(plan, "SCORE_MAX_BLOCKS", blocks)
        monkeypatch.setattr(plan, "HIST_WORDS", words)
        r = ss.reliability(E.EmuArray(p), E.EmuArray(t), device="cupy", target_mode="class-wise")
        np.testing.assert_array_equal(r.sum_confidence, base.sum_confidence)
        np.testing.assert_array_equal(r.count, base.count)


@pytest.mark.parametrize("conv,path", [("segscore", 1), ("torchmetrics", 2), ("monai", 2), ("curvas", 2),
                                       ("metricsreloaded", 0), ("netcal", 0)])
@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_calibration_float_path_equals_general_path(emu, monkeypatch, conv, path, dtype):
    """The float paths (1: integer floor of exact k/n bins, 2: bins by the edges' float32 bit
    patterns; fixed point from the bits) give the general path's bits: counts and exact sums,
    for every target mode; conventions whose edges are not float32 values (or that clip) take
    the general path."""
    from segscore.gpu import plan

    rng = np.random.default_rng(495)
    taken = []
    orig = plan.calib_float_path

    def spy(*a):
        taken.append(orig(*a))
        return taken[-1]

    cases = [(0, "positive-class", 1), (3, "top-label", 1), (3, "positive-class", 2), (4, "class-wise", 1)]
    for n_classes, mode, pos in cases:
        p, t = S.calib_case(rng, 3, n_classes, dtype, False)
        if conv == "metricsreloaded" and mode == "top-label":
            continue  # not defined there
        # exact=True: the float32 reference arithmetic of torchmetrics / monai / curvas is a host
        # replay (no device pass); their edges are binned on the device with float64 sums
        kw = dict(target_mode=mode, positive_class=pos, convention=conv, exact=True)
        monkeypatch.setattr(plan, "calib_float_path", spy)
        taken.clear()
        fast = ss.reliability(E.EmuArray(p), E.EmuArray(t), device="cuda", **kw)
        assert taken == [path], (conv, mode, taken)
        monkeypatch.setattr(plan, "calib_float_path", lambda *a: 0)
        slow = ss.reliability(E.EmuArray(p), E.EmuArray(t), device="cupy", **kw)
        np.testing.assert_array_equal(fast.count, slow.count)
        np.testing.assert_array_equal(fast.correct, slow.correct)
        np.testing.assert_array_equal(fast.sum_confidence, slow.sum_confidence)
        want = ss.reliability(p, t, **kw)
        np.testing.assert_array_equal(fast.count, want.count)


def test_crps_ensemble_scratch_budget_caps_threads(emu, monkeypatch):
    """Large ensembles: fewer threads (and a smaller block) so the sort scratch fits its budget."""
    from segscore.gpu import plan

    monkeypatch.setattr(plan, "ENSEMBLE_WS_BYTES", 40 * 4 * 8 * 3)  # room for 3 threads at m = 40, weighted
    rng = np.random.default_rng(497)
    obs, x, w = rng.normal(size=11), rng.normal(size=(11, 40)), rng.random((11, 40))
    before = len(emu.allocated)
    got = ss.crps_ensemble(E.EmuArray(obs), E.EmuArray(x), E.EmuArray(w), device="cuda")
    assert max(emu.allocated[before:]) <= 40 * 4 * 8 * 3
    np.testing.assert_allclose(got.a, ss.crps_ensemble(obs, x, w), rtol=1e-12)


def test_calibration_near_edges(dev):
    S.check_calibration_near_edges(dev)


class _Traffic:
    """Counts the calibration device passes (launch sequences) and the device-to-host copies
    (calls and bytes) of the emulated device."""

    def __init__(self, emu, monkeypatch):
        from segscore.gpu import plan, score_ops

        self.passes = self.copies = self.bytes = 0
        launches, stats, to_host = plan.calib_launches, score_ops.calibration_stats, emu.to_host

        def count_launch(*a, **k):
            self.passes += 1
            return launches(*a, **k)

        def count_copy(x):
            self.copies += 1
            self.bytes += x.a.nbytes
            return to_host(x)

        monkeypatch.setattr(plan, "calib_launches", count_launch)
        monkeypatch.setattr(score_ops, "calibration_stats", stats)
        monkeypatch.setattr(emu, "to_host", count_copy)

    def reset(self):
        self.passes = self.copies = self.bytes = 0


@pytest.mark.parametrize("conv,n_classes,mode", [("torchmetrics", 0, None), ("torchmetrics", 3, None),
                                                 ("monai", 3, None), ("curvas", 4, None),
                                                 ("torchmetrics", 0, "class-wise")])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_calibration_reference_arithmetic_bins_once(emu, monkeypatch, conv, n_classes, mode, dtype):
    """Under a float32 reference arithmetic a GPU input is binned once: no device pass, one
    copy of each input array to the host, where the replay gives counts and sums -- the CPU
    bits.  exact=True stays on the device: one pass and one copy of its small result."""
    rng = np.random.default_rng(520 + n_classes)
    p, t = S.calib_case(rng, 3, n_classes, dtype, False)
    m = rng.random(t.shape) < 0.8
    tr = _Traffic(emu, monkeypatch)
    kw = dict(convention=conv, target_mode=mode)
    for backend in ("cuda", "cupy"):
        for mask in (None, m):
            extra = {} if mask is None else {"mask": mask}
            dextra = {} if mask is None else {"mask": E.EmuArray(mask)}
            want = ss.reliability(p, t, **kw, **extra)
            tr.reset()
            got = ss.reliability(E.EmuArray(p), E.EmuArray(t), device=backend, **kw, **dextra)
            assert tr.passes == 0, (backend, tr.passes)
            assert tr.copies == (2 if mask is None else 3)
            assert tr.bytes == p.nbytes + t.nbytes + (0 if mask is None else mask.nbytes)
            arith = lambda r: (r.arithmetic, r.sum_dtype, r.bin_dtype)  # noqa: E731
            assert arith(got) == arith(want) and got.arithmetic != "float64", arith(got)
            for name in ("count", "correct", "sum_confidence"):
                np.testing.assert_array_equal(getattr(got, name), getattr(want, name), err_msg=name)
            assert got.ece() == want.ece()
            # host arrays forced onto the device: nothing is copied back
            tr.reset()
            again = ss.reliability(p, t, device=backend, **kw, **extra)
            assert (tr.passes, tr.copies) == (0, 0)
            np.testing.assert_array_equal(again.sum_confidence, want.sum_confidence)
            # exact=True: the float64 sums of the device pass
            tr.reset()
            ex = ss.reliability(E.EmuArray(p), E.EmuArray(t), device=backend, exact=True, **kw, **dextra)
            assert tr.passes == 1 and tr.copies == 1, (tr.passes, tr.copies)
            assert tr.bytes < p.nbytes or p.size < 2000
            S.compare_reliability(ex, ss.reliability(p, t, exact=True, **kw, **extra), f"{conv} exact")


def test_calibration_stream_reference_arithmetic_on_device(emu, monkeypatch):
    """ss.Calibration over device chunks under torchmetrics: each update one copy of its chunk,
    no device pass, and the host accumulator's bits."""
    rng = np.random.default_rng(530)
    p, t = S.calib_case(rng, 3, 3, np.float32, False)
    tr = _Traffic(emu, monkeypatch)
    acc_h = ss.Calibration(convention="torchmetrics", norm="l2")
    acc_d = ss.Calibration(convention="torchmetrics", norm="l2", device="cuda")
    for k in range(p.shape[1]):
        acc_h.update(p[:, k], t[k])
        tr.reset()
        acc_d.update(E.EmuArray(np.ascontiguousarray(p[:, k])), E.EmuArray(np.ascontiguousarray(t[k])))
        assert (tr.passes, tr.copies) == (0, 2)
    assert acc_d.compute() == acc_h.compute()
    np.testing.assert_array_equal(acc_d.reliability().sum_confidence, acc_h.reliability().sum_confidence)


def test_crps_negative_sigma_message_counts_sigma_itself(emu):
    with pytest.raises(ValueError, match=r"it has 1 negative value\(s\), min -1"):
        ss.crps_gaussian(E.EmuArray(np.zeros(4)), 0.0, -1.0, device="cuda")


# ----------------------------------------------------------------------------- connected components

@pytest.mark.parametrize("nd", [2, 3])
@pytest.mark.parametrize("kind", ["noise", "blobs", "labels"])
def test_connected_components(dev, nd, kind):
    rng = np.random.default_rng(900 + 10 * nd + len(kind))
    for layout in S.layouts(dev):
        S.check_components(dev, rng, nd, layout, kind)


@pytest.mark.parametrize("dtype", [np.bool_, np.int8, np.uint16, np.int64, np.uint64])
def test_connected_components_dtypes_and_min_size(dev, dtype):
    rng = np.random.default_rng(950)
    S.check_components(dev, rng, 3, "C", "noise", dtype=dtype)
    S.check_components(dev, rng, 3, "F", "noise", dtype=dtype, min_size=3)


def test_connected_components_edge_cases(dev):
    for m in (np.zeros((3, 4, 5), bool), np.ones((3, 4, 5), bool), np.zeros((0, 4), bool), np.eye(5, dtype=bool)):
        want, n = ss.connected_components(m, return_n=True)
        got, k = ss.connected_components(E.EmuArray(m.copy()), device=dev.backend)
        assert k == n and np.array_equal(got.a, want)
    with pytest.raises(ValueError, match="negative"):
        ss.connected_components(E.EmuArray(np.array([[0, -1], [1, 1]])), device=dev.backend)
    with pytest.raises(ValueError, match="connectivity"):
        ss.connected_components(E.EmuArray(np.zeros((3, 3), bool)), 6, device=dev.backend)
    big = np.zeros((2, 3), np.int64)
    big[0, :2] = 2**31
    big[1, 2] = 2**62
    got, k = ss.connected_components(E.EmuArray(big), 8, binary=False, device=dev.backend)
    assert k == 2 and got.a.tolist() == [[1, 1, 0], [0, 0, 2]]
    host, n = ss.connected_components(np.ones((2, 2), bool), device=dev.backend)  # uploaded: numpy back
    assert isinstance(host, np.ndarray) and n == 1


@pytest.mark.parametrize("nd", [1, 2, 3, 4])
def test_overlap_table(dev, nd):
    rng = np.random.default_rng(980 + nd)
    for layout in S.layouts(dev):
        S.check_overlap_table(dev, rng, nd, layout)
        S.check_overlap_table(dev, rng, nd, layout, dtypes=(np.uint8, np.int64))


def test_overlap_table_bad_and_empty(dev):
    from segscore.lesion import overlap_table

    z = np.zeros((3, 3), np.int32)
    t = overlap_table(E.EmuArray(z.copy()), E.EmuArray(z.copy()), device=dev.backend)
    assert len(t) == 0 and t.n_pred == 0 and t.n_ref == 0
    with pytest.raises(ValueError, match="negative"):
        overlap_table(E.EmuArray(-np.ones((3, 3), np.int32)), E.EmuArray(z.copy()), device=dev.backend)
    with pytest.raises(ValueError, match="above"):
        overlap_table(E.EmuArray(np.full((3, 3), 2**31, np.int64)), E.EmuArray(z.copy()), device=dev.backend)
    with pytest.raises(ValueError, match="above"):
        overlap_table(E.EmuArray(np.full((3, 3), 2**63, np.uint64)), E.EmuArray(z.copy()), device=dev.backend)
# ----------------------------------------------------------------------------- the one multi-rater pass
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_multirater_pass(dev, nd):
    rng = np.random.default_rng(500 + nd)
    for i, layout in enumerate(S.layouts(dev)):
        S.check_multirater(dev, rng, nd, layout, top=bool(i % 2 == 0))


def test_multirater_pass_bad_labels_and_limits(emu):
    from segscore.probabilistic.onepass import rater_pass

    dev = _dev("cuda")
    r = np.zeros((4, 5), np.int32)
    bad = r.copy()
    bad[1, 1] = -2
    with pytest.raises(ValueError, match=r"raters\[1\] contains negative label -2"):
        rater_pass([dev.up(r), dev.up(bad)], device="cuda")
    wide = r.copy()
    wide[0, 0] = 1 << 20
    with pytest.raises(ValueError, match="spanning less than 65536"):
        rater_pass([dev.up(wide)], device="cuda")
    with pytest.raises(ValueError, match="at most 16 raters"):
        rater_pass([dev.up(r)] * 17, device="cuda")


# ----------------------------------------------------------------------------- lesion-wise distances

@pytest.mark.parametrize("conv,opts", S.LESION_CONVENTIONS, ids=[f"{c}-{i}" for i, (c, _) in
                                                                 enumerate(S.LESION_CONVENTIONS)])
@pytest.mark.parametrize("nd", [2, 3])
def test_lesionwise(dev, conv, opts, nd):
    rng = np.random.default_rng(1300 + 10 * nd + S.LESION_CONVENTIONS.index((conv, opts)))
    for _ in range(2):
        S.check_lesionwise_random(dev, rng, nd, conv, opts)


def _count_launches(monkeypatch, emu):
    """Kernel names of every launch of the CuPy executor and every ops.surface batch."""
    from segscore.gpu import backend, ops

    cupy_b = backend.get("cupy")
    launches, batches = [], []
    orig_launch, orig_batch = cupy_b._launch, ops._surface_batch
    monkeypatch.setattr(cupy_b, "_launch", lambda *a, **k: (launches.append(a[3]), orig_launch(*a, **k)))
    monkeypatch.setattr(ops, "_surface_batch", lambda *a: (batches.append(list(a[3].index)), orig_batch(*a))[1])
    return launches, batches


@pytest.mark.parametrize("conv", ["segscore", "brats2023"])
def test_lesionwise_distances_run_in_one_gpu_batch(emu, monkeypatch, conv):
    """All lesions of a case in one batch of surface launches (a constant number of them,
    whatever the number of lesions), no host copy of the instance maps for the distances."""
    from segscore.lesion import distances

    host_calls, on_device = [], [False]
    orig_cpu = distances.cpu
    monkeypatch.setattr(distances, "cpu", lambda: (on_device[0] and host_calls.append(1), orig_cpu())[1])
    launches, batches = _count_launches(monkeypatch, emu)
    counts = []
    for n in (2, 5, 9):
        ref = np.zeros((26, 26, 12), np.uint8)
        for k in range(n):  # n separate cubes of 5 x 5 x 6 voxels (BraTS: oedema around a core)
            i, j = 1 + 8 * (k // 3), 1 + 8 * (k % 3)
            ref[i:i + 5, j:j + 5, 3:9] = 2
            ref[i + 1:i + 4, j + 1:j + 4, 4:8] = 3 if k % 2 else 1
        if conv == "segscore":
            ref = ref > 0
        pred = np.roll(ref, 1, axis=2)
        launches.clear()
        batches.clear()
        on_device[0] = True
        res = ss.lesionwise(E.EmuArray(pred), E.EmuArray(ref), (1.0, 1.0, 2.0), convention=conv, device="cupy")
        on_device[0] = False
        want = ss.lesionwise(pred, ref, (1.0, 1.0, 2.0), convention=conv)
        S.compare_lesion_results(res, want, f"{conv} {n}")
        regions = 1 if conv == "segscore" else 3
        tp = sum(r["kind"] == "tp" for r in want.lesions)
        assert tp >= 2, tp
        assert len(batches) <= regions and sum(len(b) for b in batches) == tp, batches
        surf = [k for k in launches if k.startswith(("k_crop", "k_edt", "k_region"))]
        assert sum(k == "k_crop_fill" for k in launches) == len(batches), launches
        counts.append(len(surf) // max(len(batches), 1))
    assert counts[0] == counts[1] == counts[2], counts
    assert not host_calls


def test_lesionwise_device_flow_never_copies_the_volumes(emu, monkeypatch):
    """segscore / panoptica / isles: components, the counting pass and the distances on the
    device; what comes back to the host is tables (the counting pass, the distances), never
    a volume."""
    shapes = []
    orig = emu.to_host
    monkeypatch.setattr(emu, "to_host", lambda x: (shapes.append(x.a.shape), orig(x))[1])
    rng = np.random.default_rng(77)
    shape = (20, 22, 16)
    ref = S.blob_labels(rng, shape, 4, np.int32, specks=False) > 0
    pred = np.roll(ref, 1, axis=1)
    for conv in ("segscore", "panoptica", "isles"):
        shapes.clear()
        got = ss.lesionwise(E.EmuArray(pred), E.EmuArray(ref), (0.8, 1.0, 1.5), convention=conv, device="cuda")
        S.compare_lesion_results(got, ss.lesionwise(pred, ref, (0.8, 1.0, 1.5), convention=conv), conv)
        assert got.meta["device"] == "cuda"
        assert shapes and all(len(sh) == 1 for sh in shapes), (conv, shapes)


def test_lesionwise_device_errors(emu):
    z = np.zeros((6, 6), np.int32)
    with pytest.raises(TypeError, match="lesion-wise scoring needs integer"):
        ss.lesionwise(E.EmuArray(z.astype(np.float32)), E.EmuArray(z.copy()))
    bad = z.copy()
    bad[1, 1] = -3
    with pytest.raises(ValueError, match="pred has negative values"):
        ss.lesionwise(E.EmuArray(bad), E.EmuArray(z.copy()))
    with pytest.raises(ValueError, match="must match"):
        ss.lesionwise(E.EmuArray(z), E.EmuArray(np.zeros((6, 5), np.int32)))
    with pytest.raises(ValueError, match="2-D or 3-D"):
        ss.lesionwise(E.EmuArray(np.zeros(6, np.int32)), E.EmuArray(np.zeros(6, np.int32)))
    with pytest.raises(TypeError, match="mix host and GPU"):
        ss.lesionwise(E.EmuArray(z), z.copy())
    res = ss.lesionwise(E.EmuArray(z), E.EmuArray(z.copy()), device="cpu")
    assert res.meta["device"] == "cpu" and res.summary["tp"] == 0


@pytest.mark.parametrize("lw", ["segscore", "brats2023"])
def test_evaluate_lesionwise_on_device(emu, lw):
    """ss.evaluate(lesionwise=...) on device label maps: the lesion columns and rows equal the
    host's (per label region: instances on the host, distances on the GPU)."""
    from types import SimpleNamespace

    rng = np.random.default_rng(31)
    ref = S.blob_labels(rng, (16, 18, 10), 3, np.uint8, labels=[2, 3, 1])
    pred = np.roll(S.perturb(rng, ref, 0.3), 1, axis=0)
    kw = dict(spacing=(1.0, 1.2, 2.0), lesionwise=lw, labels=[1, 2, 3])
    want = ss.evaluate(pred, ref, **kw)
    got = ss.evaluate(E.EmuArray(pred), E.EmuArray(ref), device="cupy", **kw)
    assert got.meta["device"] == "cupy" and list(got.columns) == list(want.columns)
    assert any(r["kind"] == "tp" and r["hd95"] > 0 for r in want.lesions)
    table = {k: dict(want[k]) for k in want}
    S.compare_lesion_results(SimpleNamespace(lesions=got.lesions, matches=[], summary={k: dict(got[k]) for k in got}),
                             SimpleNamespace(lesions=want.lesions, matches=[], summary=table), f"evaluate {lw}")


@pytest.mark.parametrize("side", [56, 100])
def test_lesionwise_many_lesions(emu, side):
    """Hundreds (a counting pass with a wider table) and thousands of components (beyond the
    GPU counting pass's 1023 ids: that table is made on the host) in one case."""
    rng = np.random.default_rng(side)
    ref = rng.random((side, side)) < 0.3
    pred = ref.copy()
    pred[rng.random(ref.shape) < 0.05] ^= True
    kw = dict(convention="panoptica", metrics=("dice", "hd", "hd95", "assd"))
    want = ss.lesionwise(pred, ref, (0.7, 1.3), **kw)
    n = want.summary["n_ref"]
    assert (n > 256) if side == 56 else (n > 1023), n
    got = ss.lesionwise(E.EmuArray(pred), E.EmuArray(ref), (0.7, 1.3), device="cuda", **kw)
    S.compare_lesion_results(got, want, f"{side} x {side} noise")


@pytest.mark.parametrize("nd", [2, 3])
def test_lesionwise_layouts(dev, nd):
    S.check_lesionwise_layouts(dev, np.random.default_rng(1400 + nd), nd)


def test_calibration_float16_logits_sigmoid_on_device(dev):
    """torchmetrics' float16 sigmoid (float32 arithmetic, rounded to float16: calibration.h)
    bins every finite float16 logit as the CPU path does, in every target mode."""
    x = np.arange(1 << 16, dtype=np.uint16).view(np.float16)
    x = np.ascontiguousarray(x[np.isfinite(x)].reshape(248, 256))
    t = (np.arange(x.size).reshape(x.shape) % 3 == 0).astype(np.int64)
    for mode in ("positive-class", "top-label", "class-wise"):
        kw = dict(convention="torchmetrics", logits=True, n_bins=50, target_mode=mode, exact=True)
        want = ss.reliability(x, t, **kw)
        got = ss.reliability(dev.up(x), dev.up(t), device=dev.backend, **kw)
        S.compare_reliability(got, want, f"{dev} float16 logits {mode}")
