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

import pytest
from support.nvrtc import CUPY_ADDS, compile_source, nvrtc  # noqa: F401  (the NVRTC fixture)


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
