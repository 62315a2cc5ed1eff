"""NVRTC compiles every shipped header, and the CuPy path's kernel source.

NVRTC needs no GPU: this runs in CI with the `nvidia-cuda-nvrtc` wheel (the
[test] extra; the system CUDA toolkit here has no libnvrtc), through ctypes.
It compiles, for compute_80:
  * each header installed in the package (segscore/include/segscore/*.h) on
    its own, so every kernel header stays usable from NVRTC;
  * the exact source string and name expressions of every compile group of
    the CuPy RawModule path (segscore.gpu.source), and checks that NVRTC
    lowers every kernel name, so the CuPy fallback cannot break unnoticed.
"""

from __future__ import annotations

import ctypes
import glob
import os

import pytest
from conftest import IN_CI

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


def _headers():
    from segscore.gpu import source

    return source.shipped_headers()


def test_headers_are_shipped():
    from segscore.gpu import source

    names = {p.name for p in _headers()}
    assert {"common.h", "edt.h", "surface.h", "surfel_tables.h", "overlap.h", "gpu_kernels.h"} <= names
    # an installed (non-editable) package carries them as package data
    root = source.include_dir()
    assert (root / "segscore" / "gpu_kernels.h").is_file()


@pytest.mark.parametrize("header", [p.name for p in _headers()])
def test_header_compiles_with_nvrtc(nvrtc, header):
    from segscore.gpu import source

    inc = str(source.include_dir())
    compile_source(nvrtc, f'#include "segscore/{header}"\n', options=("-std=c++17", f"-I{inc}"),
                   name=f"{header}.cu")


def test_cupy_kernel_source_compiles(nvrtc):
    """Every compile group of the CuPy path: its exact source, options and name expressions."""
    from segscore.gpu import source

    src = source.kernel_source()
    assert "#include \"segscore/" not in src  # fully inlined (CuPy's cache keys on the text)
    names = sorted({n for key in source.all_groups() for n in source.group(key)})
    lowered = compile_source(nvrtc, src, names, source.NVRTC_OPTIONS + CUPY_ADDS, name="segscore_kernels.cu")
    assert set(lowered) == set(names)
    # one group as CuPy compiles it (a subset of name expressions)
    compile_source(nvrtc, src, source.group(("edt", 0, False)), source.NVRTC_OPTIONS + CUPY_ADDS,
                   name="edt_u8_f32.cu")
