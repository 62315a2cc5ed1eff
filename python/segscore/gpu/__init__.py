"""GPU path of segscore: one dispatch layer over two launch backends.

* Inputs are CuPy arrays, torch CUDA tensors or anything exposing
  ``__cuda_array_interface__`` / a CUDA DLPack capsule; they are used in
  place (no copies) on their own device and their library's current stream
  (arrays.py).  Outputs and temporaries are allocated with the input's own
  library.
* Kernels (cpp/include/segscore/gpu_kernels.h) run through the compiled
  ``segscore._cuda`` module when it was built for this CUDA version and
  device, else through CuPy's RawModule (NVRTC) from the headers shipped in
  the wheel (backend.py); ``device="cuda"`` / ``"cupy"`` forces one.
* plan.py builds every launch sequence once (kernel names, grids, blocks,
  typed arguments); both executors run those lists as they are.
* ops.py / score_ops.py have the operations; their signatures match
  ``segscore._cpu`` so the public API only chooses the module.
"""

from __future__ import annotations

import numpy as np

from . import backend as _backend
from .._core.arrays import DeviceArray, is_device_array, to_host, upload_libs, wrap
from .ops import overlap_stats, surface_distances

DEVICES = (None, "cpu", "cuda", "cupy")

__all__ = ["DeviceArray", "is_device_array", "overlap_stats", "prepare", "surface_distances", "to_host",
           "wrap"]


def check_device(device):
    if device not in DEVICES:
        raise ValueError(f"device must be None, 'cpu', 'cuda' or 'cupy', got {device!r}")
    return device


def _describe(x) -> str:
    mod = type(x).__module__.split(".")[0]
    return f"a GPU array ({mod})" if is_device_array(x) else f"a host array ({mod})"


def _upload_lib():
    for lib in upload_libs():
        try:
            return lib, lib.current_device()
        except Exception:
            continue
    raise RuntimeError("a GPU device= was requested for host arrays, but neither CuPy nor a CUDA build of torch "
                       "can allocate GPU memory here; install segscore[gpu] or use device='cpu'")


def _canonical_bool(d):
    """A bool DeviceArray whose bytes are all 0 / 1 (a copy when some byte is > 1: the
    kernels read raw bytes, as the host core does; see validate.native_byte_order)."""
    if d.dtype != np.bool_:
        return d
    fix = getattr(d.lib, "canonical_bool", None)
    c = d.obj if fix is None else fix(d.obj)
    return d if c is d.obj else d.lib.wrap(c)


def prepare(arrays, names, device=None):
    """Decide where a call runs.  Returns None for the CPU path, else the
    inputs as DeviceArrays (backend chosen, `uploaded` True when host inputs
    were copied to the GPU because device= asked for it)."""
    check_device(device)
    on_dev = [is_device_array(a) for a in arrays]
    if any(on_dev) and not all(on_dev):
        desc = ", ".join(f"{n} is {_describe(a)}" for n, a in zip(names, arrays))
        raise TypeError(f"inputs mix host and GPU arrays ({desc}); pass all of them on the same device, e.g. "
                        "cupy.asarray(x) / x.cuda(), or all on the host (x.get() / x.cpu())")
    if device == "cpu" or (device is None and not any(on_dev)):
        return None
    if any(on_dev):
        devs = [_canonical_bool(wrap(a, n)) for a, n in zip(arrays, names)]
        uploaded = False
    else:
        from .._core.validate import as_host_array

        lib, dev = _upload_lib()
        devs = [lib.wrap(lib.from_host(np.asarray(as_host_array(a, n)), dev)) for a, n in zip(arrays, names)]
        uploaded = True
    for d, n in zip(devs, names):
        if d.ndim == 0:
            raise ValueError(f"{n} is a 0-d array (a scalar); pass an image array with at least one axis")
        if d.ndim > 8:
            raise ValueError(f"{n} has {d.ndim} axes; at most 8 are supported")
    if len({d.device for d in devs}) > 1:
        raise ValueError("inputs are on different CUDA devices (" +
                         ", ".join(f"{n}: cuda:{d.device}" for n, d in zip(names, devs)) +
                         "); move them to one device")
    be = _backend.choose(device, devs[0].device)
    for d in devs:
        d.backend = be
        d.uploaded = uploaded
    return devs


def prepare_values(values: dict, device=None):
    """Like `prepare` for numeric operands that may include scalars (CRPS): None for the CPU
    path, else {name: DeviceArray}.  Scalars (Python numbers, 0-d arrays) join a GPU call as
    0-d float64 device arrays; host arrays may not join GPU arrays."""
    check_device(device)
    on_dev = {k: is_device_array(v) for k, v in values.items()}
    if device == "cpu" or (device is None and not any(on_dev.values())):
        return None
    scalar = {k: (not on_dev[k]) and np.ndim(v) == 0 for k, v in values.items()}
    hosts = [k for k in values if not on_dev[k] and not scalar[k]]
    if any(on_dev.values()) and hosts:
        desc = ", ".join(f"{k} is {_describe(values[k])}" for k in values if not scalar[k])
        raise TypeError(f"inputs mix host and GPU arrays ({desc}); pass all of them on the same device, e.g. "
                        "cupy.asarray(x) / x.cuda(), or all on the host (x.get() / x.cpu())")
    out = {}
    if any(on_dev.values()):
        for k, v in values.items():
            if on_dev[k]:
                d = wrap(v, k)
                if d.dtype.kind not in "biuf":
                    raise TypeError(f"{k} has dtype {d.dtype}; pass real numbers")
                if d.dtype not in (np.float32, np.float64):  # bool, integers, float16: explicit, as on the CPU
                    with d.lib.device_ctx(d.device):
                        d = d.lib.wrap(d.lib.astype(d.obj, np.float64))
                out[k] = d
        first = next(iter(out.values()))
        lib, dev, uploaded = first.lib, first.device, False
    else:
        lib, dev = _upload_lib()
        uploaded = True
    with lib.device_ctx(dev):
        for k, v in values.items():
            if k not in out:
                if not scalar[k]:
                    from .._core.validate import as_host_array

                    v = as_host_array(v, k)
                a = np.asarray(v)
                if a.dtype.kind not in "biuf":
                    raise TypeError(f"{k} has dtype {a.dtype}; pass real numbers")
                if a.dtype not in (np.float32, np.float64):
                    a = a.astype(np.float64)
                out[k] = lib.wrap(lib.from_host(a, dev))
    if len({d.device for d in out.values()}) > 1:
        raise ValueError("inputs are on different CUDA devices (" +
                         ", ".join(f"{n}: cuda:{d.device}" for n, d in out.items()) + "); move them to one device")
    be = _backend.choose(device, dev)
    for d in out.values():
        d.backend = be
        d.uploaded = uploaded
    return out


def backend_name(d: DeviceArray) -> str:
    return getattr(d.backend, "name", "cuda")
