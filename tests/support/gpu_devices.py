"""Real-device parameters of tests/gpu/: (array library, backend) pairs.

Every GPU test runs for CuPy arrays and torch CUDA tensors, each through the
compiled module (device="cuda") and the CuPy RawModule path (device="cupy"),
and skips cleanly when that combination cannot run here.

SEGSCORE_GPU_TESTS_EMULATED=1 runs the `dev`-parametrised tests on the
sequential CUDA emulation instead (tests/support/gpu_emulation.py): a way to check
the tests themselves without a GPU; tests that use CuPy or torch directly
still skip.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from support.gpu_suite import Dev

COMBOS = [("cupy", "cuda"), ("cupy", "cupy"), ("torch", "cuda"), ("torch", "cupy")]


def have_device(lib: str) -> str | None:
    """None when `lib` can allocate on a CUDA device, else why not."""
    try:
        if lib == "cupy":
            import cupy

            return None if cupy.cuda.runtime.getDeviceCount() > 0 else "no CUDA device"
        import torch

        return None if torch.cuda.is_available() else "torch has no CUDA device"
    except ImportError:
        return f"{lib} is not installed"
    except Exception as exc:
        return f"{lib} cannot use CUDA ({exc})"


def backend_reason(backend: str) -> str | None:
    from segscore.gpu import backend as B

    return B.why_not(backend, 0)


def make_dev(lib: str, backend: str) -> Dev:
    if os.environ.get("SEGSCORE_GPU_TESTS_EMULATED") == "1":
        return _emulated(lib, backend)
    why = have_device(lib) or backend_reason(backend)
    if why:
        pytest.skip(f"{lib}/{backend}: {why}")
    if lib == "cupy":
        import cupy

        return Dev("cupy", backend, lambda a: cupy.asarray(a), cupy.asnumpy, lambda x, axes: x.transpose(axes),
                   lambda x: isinstance(x, cupy.ndarray))
    import torch

    return Dev("torch", backend, lambda a: torch.from_numpy(a.copy()).cuda(), lambda x: x.cpu().numpy(),
               lambda x, axes: x.permute(*axes), lambda x: isinstance(x, torch.Tensor) and x.is_cuda,
               negative_strides=False)


def dev_fixture():
    """The `dev` fixture of a test module: ``dev = dev_fixture()``."""

    @pytest.fixture(params=COMBOS, ids=[f"{a}-{b}" for a, b in COMBOS])
    def dev(request):
        return make_dev(*request.param)

    return dev


_EMU = {}


def _emulated(lib: str, backend: str) -> Dev:
    from support import gpu_emulation as E

    if not _EMU:
        _EMU["lib"], _EMU["undo"] = E.install()
    return Dev(f"emu({lib})", backend, lambda a: E.EmuArray(np.array(a)), lambda x: x.a.copy(),
               lambda x, axes: E.EmuArray(x.a.transpose(axes)), lambda x: isinstance(x, E.EmuArray),
               negative_strides=lib != "torch")
