"""Run the GPU path without a GPU: a sequential CUDA emulation.

Both executors run the launch sequences of segscore.gpu.plan, the only place
they are written:

* `compiled_backend()`: cuda/module.cpp + cuda/driver.cu (the kernel table,
  the generic launcher with its argument-signature check, the memory helpers
  of segscore._cuda) built with g++ against
  tests/gpu_emulation/cuda_emulation.h as the module ``_cuda_emu``.
* `cupy_backend()`: the CuPy executor, with its exact kernel source string
  (segscore.gpu.source) compiled by g++ instead of NVRTC and launched through
  a cuLaunchKernel-style ``void**`` ABI that checks every argument's size
  against the kernel's parameter.
* `EmuArray` / `EmuLib`: "device" arrays backed by numpy, exposing
  ``__cuda_array_interface__`` so the public API dispatches them to the GPU
  path; fresh allocations are filled with garbage to expose reads of
  uninitialised memory.

Kernels run one (block, thread) after another, so this checks the
algorithms, the layouts and both executors of the plans against the CPU path, not
GPU timing or races (tests/gpu/ does that on a device).
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import numpy as np
from support.paths import REPO_ROOT

ROOT = REPO_ROOT
EMU = ROOT / "tests" / "support" / "cuda_emulation"
INCLUDE = ROOT / "cpp" / "include"
CXX = shutil.which("g++") or shutil.which("c++")


def _cache_dir(key: str) -> Path:
    base = Path(os.environ.get("SEGSCORE_EMU_CACHE", Path(tempfile.gettempdir()) / f"segscore-emu-{os.getuid()}"))
    d = base / key
    d.mkdir(parents=True, exist_ok=True)
    return d


def _digest(paths, extra="") -> str:
    h = hashlib.sha256(extra.encode())
    for p in paths:
        h.update(str(p).encode())
        h.update(Path(p).read_bytes())
    return h.hexdigest()[:16]


def _run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("emulation build failed:\n" + " ".join(map(str, cmd)) + "\n" + r.stderr[-6000:])


# ----------------------------------------------------------------------------- compiled module

def build_compiled_module():
    import pybind11

    srcs = [ROOT / "cuda" / "module.cpp", ROOT / "cuda" / "driver.cu", ROOT / "cuda" / "driver.h",
            EMU / "cuda_emulation.h"] + sorted((INCLUDE / "segscore").glob("*.h"))
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    d = _cache_dir("mod-" + _digest(srcs, sys.version))
    so = d / f"_cuda_emu{suffix}"
    if not so.exists():
        tmp = d / f"tmp{os.getpid()}{suffix}"
        _run([CXX, "-O1", "-std=c++17", "-shared", "-fPIC", "-fvisibility=hidden", "-DSEGSCORE_CUDA_EMULATION",
              "-DSEGSCORE_CUDA_MODULE_NAME=_cuda_emu", "-include", str(EMU / "cuda_emulation.h"),
              "-I", str(INCLUDE), "-I", str(ROOT / "cuda"), "-I", str(EMU), "-I", pybind11.get_include(),
              "-I", sysconfig.get_paths()["include"], str(ROOT / "cuda" / "module.cpp"), "-x", "c++",
              str(ROOT / "cuda" / "driver.cu"), "-o", str(tmp)])
        os.replace(tmp, so)
    spec = importlib.util.spec_from_file_location("_cuda_emu", so)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def compiled_backend():
    from segscore.gpu.backend import CompiledBackend

    b = CompiledBackend(build_compiled_module())
    b.name = "cuda"
    return b


# ----------------------------------------------------------------------------- CuPy path

class _EmuFunction:
    def __init__(self, fn, name):
        self.fn = fn
        self.name = name

    def __call__(self, grid, block, args):
        bufs = []
        for a in args:
            if not isinstance(a, np.generic):
                raise TypeError(f"{self.name}: kernel argument {a!r} is not a numpy scalar")
            bufs.append(np.array([a]))
        ptrs = (ctypes.c_void_p * max(len(bufs), 1))(*[b.ctypes.data for b in bufs])
        sizes = (ctypes.c_longlong * max(len(bufs), 1))(*[b.itemsize for b in bufs])
        rc = self.fn(ctypes.c_uint(grid), ctypes.c_uint(block), ptrs, sizes, ctypes.c_int(len(bufs)))
        if rc == -1:
            raise TypeError(f"{self.name}: wrong number of kernel arguments ({len(bufs)})")
        if rc:
            raise TypeError(f"{self.name}: kernel argument {rc - 1} has the wrong size ({bufs[rc - 1].itemsize})")


class _EmuModule:
    def __init__(self, lib, names):
        self.lib = lib
        self.names = list(names)

    def get_function(self, name):
        i = self.names.index(name)  # KeyError-like if the name was not compiled: as NVRTC
        fn = getattr(self.lib, f"segscore_emu_launch_{i}")
        fn.restype = ctypes.c_int
        return _EmuFunction(fn, name)


def _emu_module_factory(code, options, names, device):
    assert "--fmad=false" in options
    wrappers = ["#define SEGSCORE_CUDA_EMULATION 1\n#include \"cuda_emulation.h\"\n", code, "\n"]
    for i, n in enumerate(names):
        wrappers.append(f'extern "C" int segscore_emu_launch_{i}(unsigned g, unsigned b, void** a, '
                        f'const long long* s, int n) {{ return segscore_emu::run_packed(g, b, &{n}, a, s, n); }}\n')
    src = "".join(wrappers)
    d = _cache_dir("rtc-" + hashlib.sha256((src + _digest([EMU / "cuda_emulation.h"])).encode()).hexdigest()[:16])
    so = d / "kernels.so"
    if not so.exists():
        (d / "kernels.cpp").write_text(src)
        tmp = d / f"tmp{os.getpid()}.so"
        _run([CXX, "-O1", "-std=c++17", "-shared", "-fPIC", "-I", str(EMU), str(d / "kernels.cpp"), "-o", str(tmp)])
        os.replace(tmp, so)
    return _EmuModule(ctypes.CDLL(str(so)), names)


def _emu_launch(fn, grid, block, args, device, stream):
    fn(grid, block, args)


def cupy_backend():
    from segscore.gpu.backend import CupyBackend

    return CupyBackend(module_factory=_emu_module_factory, launcher=_emu_launch)


# ----------------------------------------------------------------------------- device arrays

class EmuOOM(MemoryError):
    pass


class EmuArray:
    """A numpy array posing as device memory."""

    def __init__(self, a):
        self.a = a

    @property
    def __cuda_array_interface__(self):
        return {"shape": self.a.shape, "typestr": self.a.dtype.str, "data": (self.a.ctypes.data, False),
                "strides": self.a.strides, "version": 3}

    shape = property(lambda self: self.a.shape)
    dtype = property(lambda self: self.a.dtype)
    ndim = property(lambda self: self.a.ndim)
    strides = property(lambda self: self.a.strides)
    size = property(lambda self: self.a.size)

    def __getitem__(self, k):
        return EmuArray(self.a[k])

    def get(self):
        return self.a.copy()


def _garbage(shape, dtype, order="C"):
    a = np.empty(shape, dtype=dtype, order=order)
    flat = a.reshape(-1, order="A")  # a view in memory order
    flat.view(np.uint8)[:] = 0xA5 if a.dtype.kind != "f" else 0xFF  # NaN pattern for floats
    return a


class EmuLib:
    """ArrayLib over EmuArray (see segscore._core.arrays.ArrayLib)."""

    name = "emu"
    oom_errors = (EmuOOM,)

    def __init__(self, mem=1 << 40):
        self.mem = mem
        self.allocated = []

    def owns(self, x):
        return isinstance(x, EmuArray)

    def wrap(self, x):
        from segscore._core.arrays import DeviceArray

        a = x.a
        strides = [s // a.itemsize for s in a.strides]
        return DeviceArray(x, self, a.ctypes.data, a.shape, strides, a.dtype, 0)

    def ptr(self, x):
        return x.a.ctypes.data

    def empty(self, shape, dtype, device, order="C"):
        nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
        if nbytes > self.mem:
            raise EmuOOM(f"emulated device: cannot allocate {nbytes} bytes")
        self.allocated.append(nbytes)
        return EmuArray(_garbage(shape, dtype, order))

    def zeros(self, shape, dtype, device):
        x = self.empty(shape, dtype, device)
        x.a[...] = 0
        return x

    def from_host(self, a, device):
        return EmuArray(np.array(a, copy=True))

    def to_host(self, x):
        return x.a.copy()

    def stream(self, device):
        return 0

    def device_ctx(self, device):
        import contextlib

        return contextlib.nullcontext()

    def mem_available(self, device):
        return self.mem

    def current_device(self):
        return 0

    def any_nan(self, x):
        return bool(np.isnan(x.a).any())

    def min_value(self, x):
        return x.a.min()

    def astype(self, x, dtype):
        return EmuArray(x.a.astype(dtype))

    def canonical_bool(self, x):
        if x.a.size == 0 or int(x.a.view(np.uint8).max()) <= 1:
            return x
        return EmuArray(x.a.view(np.uint8) != 0)


def install(lib=None, compiled=None, cupy=None):
    """Register the emulated array library and backends; returns an undo callable."""
    from segscore._core import arrays
    from segscore.gpu import backend

    lib = lib or EmuLib()
    arrays.register(lib)
    before = {name: backend._OVERRIDES.get(name) for name in ("cuda", "cupy")}
    backend.override("cuda", compiled or compiled_backend())
    backend.override("cupy", cupy or cupy_backend())

    def undo():  # restores what was there (another install of the same session)
        arrays.unregister(lib)
        for name, old in before.items():
            backend.override(name, old)

    return lib, undo
