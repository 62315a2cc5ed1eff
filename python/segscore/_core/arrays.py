"""Device arrays of other libraries, without copies.

A `DeviceArray` records what the kernels need (pointer, shape, strides in
elements, numpy dtype, device ordinal) and the `ArrayLib` adapter of the
library that owns the memory: CuPy arrays and torch CUDA tensors natively,
anything else exposing ``__cuda_array_interface__`` or a CUDA DLPack capsule
through CuPy (or torch).  Outputs and temporaries are allocated with the
input's own library, on the input's device, and kernels run on that
library's current stream, so the caching allocators (CuPy memory pool,
torch caching allocator) reuse the temporaries across calls.
"""

from __future__ import annotations

import contextlib

import numpy as np


class DeviceArray:
    __slots__ = (
        "backend",
        "cache",
        "device",
        "dtype",
        "lib",
        "ndim",
        "obj",
        "ptr",
        "shape",
        "size",
        "strides",
        "uploaded",
    )

    def __init__(self, obj, lib, ptr, shape, strides, dtype, device):
        self.obj = obj                      # the caller's array (kept alive)
        self.lib = lib
        self.ptr = int(ptr)
        self.shape = tuple(int(s) for s in shape)
        self.strides = tuple(int(s) for s in strides)  # elements
        self.dtype = np.dtype(dtype)
        self.device = int(device)
        self.ndim = len(self.shape)
        self.size = int(np.prod(self.shape)) if self.shape else 1
        self.backend = None                 # set by the dispatcher
        self.cache = {}                     # per-case results (counting pass)
        self.uploaded = False               # host input copied to the GPU (device= forced)

    @property
    def itemsize(self) -> int:
        return self.dtype.itemsize

    def c_contiguous(self) -> bool:
        want = 1
        for n, s in zip(reversed(self.shape), reversed(self.strides)):
            if n != 1 and s != want:
                return False
            want *= n
        return True

    def f_contiguous(self) -> bool:
        want = 1
        for n, s in zip(self.shape, self.strides):
            if n != 1 and s != want:
                return False
            want *= n
        return True

    def __repr__(self):
        return f"DeviceArray({self.lib.name}, shape={self.shape}, dtype={self.dtype}, device={self.device})"


def _elem_strides(byte_strides, itemsize, what):
    out = []
    for s in byte_strides:
        if s % itemsize:
            raise ValueError(f"{what}: strides {tuple(byte_strides)} are not multiples of the item size {itemsize}")
        out.append(s // itemsize)
    return out


class ArrayLib:
    """Adapter interface (see CupyLib / TorchLib)."""

    name = "?"

    def owns(self, x) -> bool:
        raise NotImplementedError

    def wrap(self, x) -> DeviceArray:
        raise NotImplementedError

    def empty(self, shape, dtype, device, order="C"):
        raise NotImplementedError

    def zeros(self, shape, dtype, device):
        raise NotImplementedError

    def from_host(self, a: np.ndarray, device):
        raise NotImplementedError

    def to_host(self, x) -> np.ndarray:
        raise NotImplementedError

    def stream(self, device) -> int:
        raise NotImplementedError

    def device_ctx(self, device):
        return contextlib.nullcontext()

    def mem_available(self, device) -> int:
        return 1 << 62

    def current_device(self) -> int:
        """Device that host inputs go to when device= forces the GPU (raises if unusable)."""
        raise RuntimeError(f"{self.name} cannot allocate GPU memory here")

    oom_errors: tuple = ()

    def any_nan(self, x) -> bool:
        raise NotImplementedError

    def min_value(self, x):
        raise NotImplementedError

    def astype(self, x, dtype):
        """A converted copy of device array x (an explicit conversion, e.g. integers to float64)."""
        raise NotImplementedError

    def canonical_bool(self, x):
        """Bool device array x itself when its bytes are all 0 / 1, else a copy holding 0 / 1
        (the kernels read raw bytes; any nonzero byte is True)."""
        return x

    def ptr(self, x) -> int:
        return self.wrap(x).ptr


class CupyLib(ArrayLib):
    name = "cupy"

    def __init__(self):
        import cupy

        self.cp = cupy
        self.oom_errors = (cupy.cuda.memory.OutOfMemoryError,)

    def owns(self, x):
        return isinstance(x, self.cp.ndarray)

    def wrap(self, x):
        return DeviceArray(x, self, x.data.ptr, x.shape, _elem_strides(x.strides, x.itemsize, "array"), x.dtype,
                           x.device.id)

    def ptr(self, x):
        return x.data.ptr

    def empty(self, shape, dtype, device, order="C"):
        with self.cp.cuda.Device(device):
            return self.cp.empty(shape, dtype=dtype, order=order)

    def zeros(self, shape, dtype, device):
        with self.cp.cuda.Device(device):
            return self.cp.zeros(shape, dtype=dtype)

    def from_host(self, a, device):
        with self.cp.cuda.Device(device):
            return self.cp.asarray(a)

    def to_host(self, x):
        with self.cp.cuda.Device(x.device.id):
            return self.cp.asnumpy(x)

    def stream(self, device):
        with self.cp.cuda.Device(device):
            return int(self.cp.cuda.get_current_stream().ptr)

    def device_ctx(self, device):
        return self.cp.cuda.Device(device)

    def current_device(self):
        if self.cp.cuda.runtime.getDeviceCount() <= 0:
            raise RuntimeError("no CUDA device")
        return self.cp.cuda.Device().id

    def mem_available(self, device):
        with self.cp.cuda.Device(device):
            free, _ = self.cp.cuda.runtime.memGetInfo()
            return int(free) + int(self.cp.get_default_memory_pool().free_bytes())

    def any_nan(self, x):
        with self.cp.cuda.Device(x.device.id):
            return bool(self.cp.isnan(x).any())

    def min_value(self, x):
        with self.cp.cuda.Device(x.device.id):
            return x.min().item()

    def astype(self, x, dtype):
        with self.cp.cuda.Device(x.device.id):
            return x.astype(dtype)

    def canonical_bool(self, x):
        with self.cp.cuda.Device(x.device.id):
            if x.size == 0:
                return x
            u = x.view(self.cp.uint8)
            return x if int(u.max()) <= 1 else u != 0


_TORCH_TO_NP = None


class TorchLib(ArrayLib):
    name = "torch"

    def __init__(self):
        import torch

        self.torch = torch
        global _TORCH_TO_NP
        if _TORCH_TO_NP is None:
            m = {torch.bool: np.bool_, torch.uint8: np.uint8, torch.int8: np.int8, torch.int16: np.int16,
                 torch.int32: np.int32, torch.int64: np.int64, torch.float16: np.float16, torch.float32: np.float32,
                 torch.float64: np.float64}
            for name, npt in (("uint16", np.uint16), ("uint32", np.uint32), ("uint64", np.uint64)):
                if hasattr(torch, name):
                    m[getattr(torch, name)] = npt
            _TORCH_TO_NP = m
        self.to_np = _TORCH_TO_NP
        self.from_np = {np.dtype(v): k for k, v in _TORCH_TO_NP.items()}
        self.oom_errors = (torch.cuda.OutOfMemoryError,)

    def owns(self, x):
        return isinstance(x, self.torch.Tensor) and x.is_cuda

    def wrap(self, x):
        if x.dtype not in self.to_np:
            raise TypeError(f"torch dtype {x.dtype} is not supported; use an integer, bool, float16, float32 or "
                            "float64 tensor")
        return DeviceArray(x, self, x.data_ptr(), tuple(x.shape), tuple(x.stride()), self.to_np[x.dtype],
                           x.device.index if x.device.index is not None else self.torch.cuda.current_device())

    def ptr(self, x):
        return x.data_ptr()

    def _dev(self, device):
        return self.torch.device("cuda", device)

    def empty(self, shape, dtype, device, order="C"):
        t = self.from_np[np.dtype(dtype)]
        if order == "F" and len(shape) > 1:
            return self.torch.empty(tuple(reversed(shape)), dtype=t, device=self._dev(device)).permute(
                *reversed(range(len(shape))))
        return self.torch.empty(tuple(shape), dtype=t, device=self._dev(device))

    def zeros(self, shape, dtype, device):
        return self.torch.zeros(tuple(shape), dtype=self.from_np[np.dtype(dtype)], device=self._dev(device))

    def from_host(self, a, device):
        return self.torch.from_numpy(np.ascontiguousarray(a)).to(self._dev(device))

    def to_host(self, x):
        return x.detach().cpu().numpy()

    def stream(self, device):
        return int(self.torch.cuda.current_stream(self._dev(device)).cuda_stream)

    def device_ctx(self, device):
        return self.torch.cuda.device(device)

    def current_device(self):
        if not self.torch.cuda.is_available():
            raise RuntimeError("torch has no CUDA device")
        return self.torch.cuda.current_device()

    def mem_available(self, device):
        free, _ = self.torch.cuda.mem_get_info(device)
        cached = self.torch.cuda.memory_reserved(device) - self.torch.cuda.memory_allocated(device)
        return int(free) + int(cached)

    def any_nan(self, x):
        return bool(self.torch.isnan(x).any())

    def min_value(self, x):
        return x.min().item()

    def astype(self, x, dtype):
        return x.to(self.from_np[np.dtype(dtype)])

    def canonical_bool(self, x):
        if x.numel() == 0:
            return x
        u = x.view(self.torch.uint8)
        return x if int(u.max()) <= 1 else u != 0


# ----------------------------------------------------------------------------- registry

_LIBS: list = []        # instantiated adapters, tried in order
_EXTRA: list = []       # adapters registered by tests (tried first)


def register(lib: ArrayLib) -> None:
    """Register an extra adapter (the test-suite's emulated device arrays)."""
    _EXTRA.insert(0, lib)


def unregister(lib: ArrayLib) -> None:
    if lib in _EXTRA:
        _EXTRA.remove(lib)


def _native():
    if not _LIBS:
        for cls in (CupyLib, TorchLib):
            try:
                _LIBS.append(cls())
            except Exception:  # not installed / no CUDA build
                pass
    return _LIBS


def upload_libs():
    """Adapters able to allocate, preferred first (registered ones, CuPy, torch)."""
    return _EXTRA + _native()


def lib_named(name):
    for lib in _EXTRA + _native():
        if lib.name == name:
            return lib
    return None


def _module_of(x) -> str:
    return type(x).__module__.split(".")[0]


def is_device_array(x) -> bool:
    if any(lib.owns(x) for lib in _EXTRA):
        return True
    if hasattr(x, "__cuda_array_interface__"):
        return True
    dev = getattr(x, "device", None)
    if getattr(dev, "type", None) == "cuda":
        return True
    dl = getattr(x, "__dlpack_device__", None)
    if dl is not None and not isinstance(x, np.ndarray):
        try:
            return int(dl()[0]) in (2, 3, 13)  # kDLCUDA, kDLCUDAHost, kDLCUDAManaged
        except Exception:
            return False
    return False


def wrap(x, name="array") -> DeviceArray:
    """DeviceArray of a GPU array (no copy)."""
    for lib in _EXTRA + _native():
        if lib.owns(x):
            return lib.wrap(x)
    # foreign libraries: view through CuPy (or torch) without a copy
    cupy_lib = lib_named("cupy")
    if cupy_lib is not None:
        cp = cupy_lib.cp
        try:
            if hasattr(x, "__cuda_array_interface__"):
                return cupy_lib.wrap(cp.asarray(x))
            return cupy_lib.wrap(cp.from_dlpack(x))
        except Exception as exc:
            raise TypeError(f"{name}: cannot view this {_module_of(x)} GPU array through CuPy ({exc})") from None
    torch_lib = lib_named("torch")
    if torch_lib is not None and hasattr(x, "__dlpack__"):
        return torch_lib.wrap(torch_lib.torch.from_dlpack(x))
    raise TypeError(
        f"{name} is a {_module_of(x)} GPU array, which segscore reads through CuPy or torch; install one "
        "(pip install 'segscore[gpu]') or pass a CuPy array / torch CUDA tensor"
    )


def to_host(x, name="array") -> np.ndarray:
    """Copy a GPU array to a numpy array (explicit, for host-only code paths)."""
    d = x if isinstance(x, DeviceArray) else wrap(x, name)
    with d.lib.device_ctx(d.device):
        return np.asarray(d.lib.to_host(d.obj))
