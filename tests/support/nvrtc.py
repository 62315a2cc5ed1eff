"""NVRTC through ctypes (the nvidia-cuda-nvrtc wheel; no GPU needed): the `nvrtc` fixture and
`compile_source`, shared by the NVRTC compile tests."""

from __future__ import annotations

import ctypes
import glob
import os

import pytest

from support.helpers import IN_CI

ARCH = "compute_80"
# what cupy.RawModule adds to the caller's options (cupy/cuda/compiler.py, CuPy 13-14)
CUPY_ADDS = ("-ftz=true", "--device-as-default-execution-space")


def _find_nvrtc():
    try:
        import nvidia
    except ImportError:
        return None
    for base in list(getattr(nvidia, "__path__", [])):
        for pattern in ("cu*/lib/libnvrtc.so*", "cuda_nvrtc/lib/libnvrtc.so*"):
            hits = sorted(p for p in glob.glob(os.path.join(base, pattern)) if "builtins" not in p)
            if hits:
                return hits[0]
    return None


@pytest.fixture(scope="module")
def nvrtc():
    path = _find_nvrtc()
    if path is None:
        if IN_CI:
            pytest.fail("libnvrtc from the nvidia-cuda-nvrtc wheel is missing in CI ([test] extra)")
        pytest.skip("nvidia-cuda-nvrtc is not installed (pip install nvidia-cuda-nvrtc)")
    # libnvrtc dlopens its builtins library by name: load it first from the same directory
    for b in sorted(glob.glob(os.path.join(os.path.dirname(path), "libnvrtc-builtins.so*"))):
        ctypes.CDLL(b, mode=ctypes.RTLD_GLOBAL)
    lib = ctypes.CDLL(path)
    lib.nvrtcGetErrorString.restype = ctypes.c_char_p
    return lib


def compile_source(lib, src, names=(), options=(), name="segscore.cu"):
    """Compile with NVRTC; returns {name expression: lowered name}; raises with the log."""
    prog = ctypes.c_void_p()
    rc = lib.nvrtcCreateProgram(ctypes.byref(prog), src.encode(), name.encode(), 0, None, None)
    assert rc == 0, lib.nvrtcGetErrorString(rc)
    try:
        for n in names:
            rc = lib.nvrtcAddNameExpression(prog, n.encode())
            assert rc == 0, (n, lib.nvrtcGetErrorString(rc))
        opts = [f"--gpu-architecture={ARCH}".encode()] + [o.encode() for o in options]
        arr = (ctypes.c_char_p * len(opts))(*opts)
        rc = lib.nvrtcCompileProgram(prog, len(opts), arr)
        size = ctypes.c_size_t()
        lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
        log = ctypes.create_string_buffer(size.value)
        lib.nvrtcGetProgramLog(prog, log)
        if rc != 0:
            pytest.fail(f"NVRTC failed for {name}: {lib.nvrtcGetErrorString(rc).decode()}\n{log.value.decode()}")
        lowered = {}
        for n in names:
            out = ctypes.c_char_p()
            rc = lib.nvrtcGetLoweredName(prog, n.encode(), ctypes.byref(out))
            assert rc == 0 and out.value, f"NVRTC did not lower {n}"
            lowered[n] = out.value.decode()
        ptx_size = ctypes.c_size_t()
        assert lib.nvrtcGetPTXSize(prog, ctypes.byref(ptx_size)) == 0 and ptx_size.value > 0
        return lowered
    finally:
        lib.nvrtcDestroyProgram(ctypes.byref(prog))
