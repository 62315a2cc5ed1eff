"""Dispatch by the array's device: libraries, streams, devices, memory, and
the compiled module against the CuPy path.  GPU only (skips without one).
"""

from __future__ import annotations

from support import gpu_suite as S
import numpy as np
import pytest
import segscore as ss
from support.gpu_devices import backend_reason, dev_fixture, have_device, make_dev

pytestmark = pytest.mark.gpu
dev = dev_fixture()


def _case(seed=0, shape=(40, 44, 36), nlab=5):
    rng = np.random.default_rng(seed)
    p = S.blob_labels(rng, shape, nlab)
    return p, S.perturb(rng, p, 0.05)


def test_backends_report_usable():
    if have_device("cupy") and have_device("torch"):
        pytest.skip("no CUDA device")
    b = ss.backends()
    assert b["cuda"]["usable"] or b["cupy"]["usable"], b


def test_compiled_module_equals_cupy_path():
    for lib in ("cupy", "torch"):
        if have_device(lib) or backend_reason("cuda") or backend_reason("cupy"):
            continue
        a, b = make_dev(lib, "cuda"), make_dev(lib, "cupy")
        p, r = _case(1)
        for dtype in ("float32", "float64"):
            ea = a.host(ss.edt(a.up(p > 0), spacing=(0.5, 1, 2), dtype=dtype, device="cuda"))
            eb = b.host(ss.edt(b.up(p > 0), spacing=(0.5, 1, 2), dtype=dtype, device="cupy"))
            np.testing.assert_array_equal(ea, eb)
        sa = ss.surface_distances(a.up(p), a.up(r), spacing=(0.5, 1, 2), device="cuda", biou_width=1.0)
        sb = ss.surface_distances(b.up(p), b.up(r), spacing=(0.5, 1, 2), device="cupy", biou_width=1.0)
        for k in sa:
            for x, y in zip(sa[k].directed, sb[k].directed):
                np.testing.assert_array_equal(x.distances, y.distances)
                np.testing.assert_array_equal(x.weights, y.weights)
        return
    pytest.skip("needs both the compiled module and the CuPy path")


def test_output_library_and_device_arguments(dev):
    p, r = _case(2)
    out = ss.edt(dev.up(p > 0), device=dev.backend)
    assert dev.is_native(out)
    res = ss.evaluate(dev.up(p), dev.up(r), device=dev.backend)
    assert res.meta["device"] == dev.backend
    host = ss.evaluate(p, r)
    assert list(res.to_dict()) == list(host.to_dict())
    # device="cpu" with GPU inputs: an explicit copy to the host
    assert isinstance(ss.edt(dev.up(p > 0), device="cpu"), np.ndarray)
    # host inputs forced onto the GPU: numpy out
    assert isinstance(ss.edt(p > 0, device=dev.backend), np.ndarray)
    with pytest.raises(TypeError, match="mix host and GPU arrays"):
        ss.dice(dev.up(p), r)


def test_runs_on_the_current_stream():
    if have_device("cupy"):
        pytest.skip(have_device("cupy"))
    import cupy

    p, r = _case(3)
    want = ss.edt(p > 0, spacing=(1, 2, 3))
    for backend in ("cuda", "cupy"):
        if backend_reason(backend):
            continue
        s = cupy.cuda.Stream(non_blocking=True)
        with s:
            x = cupy.asarray(p > 0)
            out = ss.edt(x, spacing=(1, 2, 3), device=backend)
            got = cupy.asnumpy(out, stream=s)
        s.synchronize()
        np.testing.assert_array_equal(got, want)
        with s:
            res = ss.evaluate(cupy.asarray(p), cupy.asarray(r), device=backend).to_dict()
        ref = ss.evaluate(p, r).to_dict()
        for k in ref:
            for m, v in ref[k].items():
                S.assert_scalar(res[k][m], v, S.RTOL64, f"{backend} {k} {m}")


def test_torch_streams_and_noncontiguous():
    if have_device("torch"):
        pytest.skip(have_device("torch"))
    import torch

    p, _ = _case(4)
    t = torch.from_numpy(p).cuda().permute(2, 0, 1)[:, ::2, :]  # non-contiguous view
    want = ss.edt(np.transpose(p, (2, 0, 1))[:, ::2, :] > 0)
    for backend in ("cuda", "cupy"):
        if backend_reason(backend):
            continue
        s = torch.cuda.Stream()
        with torch.cuda.stream(s):
            out = ss.edt(t > 0, device=backend)
            got = out.cpu().numpy()
        np.testing.assert_array_equal(got, want)


def test_other_device():
    if have_device("cupy"):
        pytest.skip(have_device("cupy"))
    import cupy

    if cupy.cuda.runtime.getDeviceCount() < 2:
        pytest.skip("needs two GPUs")
    p, _ = _case(5)
    with cupy.cuda.Device(1):
        x = cupy.asarray(p > 0)
    with cupy.cuda.Device(0):
        out = ss.edt(x)
    assert out.device.id == 1
    np.testing.assert_array_equal(cupy.asnumpy(out), ss.edt(p > 0))


def test_memory_errors_are_clear(dev, monkeypatch):
    p, r = _case(6)
    from segscore._core.arrays import wrap

    lib = wrap(dev.up(p)).lib
    monkeypatch.setattr(type(lib), "mem_available", lambda self, device: 100_000)
    with pytest.raises(MemoryError, match="of GPU memory"):
        ss.surface_distances(dev.up(p), dev.up(r), device=dev.backend)
    with pytest.raises(MemoryError, match="of GPU memory"):
        ss.edt(dev.up(p > 0), device=dev.backend)


def test_allocator_out_of_memory_is_a_memory_error():
    if have_device("cupy"):
        pytest.skip(have_device("cupy"))
    import cupy

    pool = cupy.get_default_memory_pool()
    x = cupy.ones((256, 256, 256), bool)
    old = pool.get_limit()
    pool.set_limit(size=pool.used_bytes() + (1 << 20))
    try:
        for backend in ("cuda", "cupy"):
            if backend_reason(backend):
                continue
            with pytest.raises(MemoryError, match="GPU memory"):
                ss.edt(x, device=backend)
    finally:
        pool.set_limit(size=old)


def test_no_per_label_synchronisation(monkeypatch):
    """Device-to-host copies per case do not grow with the number of labels."""
    if have_device("cupy"):
        pytest.skip(have_device("cupy"))
    import cupy
    from segscore._core.arrays import lib_named

    lib = lib_named("cupy")
    copies = []
    orig = type(lib).to_host
    monkeypatch.setattr(type(lib), "to_host", lambda self, x: (copies.append(1), orig(self, x))[1])
    counts = []
    for nlab in (1, 4, 14):
        p, r = _case(nlab, (48, 48, 48), nlab)
        copies.clear()
        ss.evaluate(cupy.asarray(p), cupy.asarray(r), tolerance=1.0)
        counts.append(len(copies))
    assert counts[0] == counts[1] == counts[2] and counts[0] <= 4, counts
