"""The two executors of a launch sequence (plan.py) and how one is chosen.

* ``cuda``: the compiled ``segscore._cuda`` module: a table of its kernels by
  name (cuda/driver.cu) and a generic ``launch(name, grid, block, shmem,
  stream, signature, args)`` that checks the arguments against the kernel's
  C++ parameters (``run`` loops over a sequence with it).
* ``cupy``: the same kernels compiled at run time by CuPy's RawModule (NVRTC)
  from the shipped headers, cached per device and compile group, launched by
  the same names.

Neither holds a launch sequence: ``run(device, stream, launches)`` runs the
list that plan.py built, in order, on the caller's stream, with device
pointers allocated by ops.py / score_ops.py with the caller's array library.
"""

from __future__ import annotations

import contextlib
import importlib
import threading

from . import source as S


class CompiledBackend:
    name = "cuda"

    def __init__(self, mod):
        self.mod = mod

    def run(self, device, stream, launches) -> None:
        self.mod.run(device, stream, launches)  # set_device, then mod.launch of each, in order


def _cupy_module(code, options, names, device):
    import cupy

    with cupy.cuda.Device(device):
        return cupy.RawModule(code=code, options=options, name_expressions=names)


def _cupy_launch(fn, grid, block, args, device, stream):
    import cupy

    with cupy.cuda.Device(device), cupy.cuda.ExternalStream(stream, device):
        fn((int(grid),), (int(block),), args)


class CupyBackend:
    """Kernels through NVRTC; `module_factory`/`launcher` are replaceable (the
    test-suite runs this exact path on a CPU emulation)."""

    name = "cupy"

    def __init__(self, module_factory=_cupy_module, launcher=_cupy_launch):
        self._factory = module_factory
        self._launcher = launcher
        self._mods = {}
        self._lock = threading.Lock()

    def module(self, device, key):
        k = (device, key)
        with self._lock:
            mod = self._mods.get(k)
            if mod is None:
                mod = self._factory(S.kernel_source(), S.NVRTC_OPTIONS, S.group(key), device)
                self._mods[k] = mod
        return mod

    def _launch(self, device, stream, key, name, grid, block, args):
        fn = self.module(device, key).get_function(S.NS + name)
        self._launcher(fn, grid, block, args, device, stream)

    def run(self, device, stream, launches) -> None:
        for L in launches:
            if L.shmem:
                raise ValueError(f"{L.kernel}: dynamic shared memory is not passed by the CuPy path yet")
            self._launch(device, stream, L.group, L.kernel, L.grid, L.block, L.args)


# ----------------------------------------------------------------------------- selection

_OVERRIDES: dict = {}     # name -> backend object (the test-suite's emulated backends)
_CACHE: dict = {}
_PROBES: dict = {}


def override(name, backend) -> None:
    """Replace backend `name` ("cuda" or "cupy"); None restores the default."""
    if backend is None:
        _OVERRIDES.pop(name, None)
    else:
        _OVERRIDES[name] = backend


def compiled_module():
    try:
        return importlib.import_module("segscore._cuda"), None
    except ImportError as exc:
        return None, f"segscore._cuda is not built or failed to import ({exc})"


def why_not(name, device) -> str | None:
    """None when backend `name` can run on `device`, else the reason."""
    if name in _OVERRIDES:
        return None
    key = (name, device)
    if key in _PROBES:
        return _PROBES[key]
    if name == "cuda":
        mod, why = compiled_module()
        if mod is not None:
            try:
                why = mod.probe(device) or None
            except Exception as exc:  # pragma: no cover - driver trouble
                why = f"segscore._cuda cannot use device {device} ({exc})"
    elif name == "cupy":
        try:
            import cupy

            n = cupy.cuda.runtime.getDeviceCount()
            why = None if 0 <= device < n else f"CUDA device {device} is not visible to CuPy"
            if why is None:
                S.include_dir()
        except ImportError:
            why = "cupy is not installed (pip install 'segscore[gpu]')"
        except FileNotFoundError as exc:
            why = str(exc)
        except Exception as exc:
            why = f"cupy cannot use CUDA ({exc})"
    else:
        raise ValueError(f"unknown GPU backend {name!r}")
    _PROBES[key] = why
    return why


def get(name):
    if name in _OVERRIDES:
        return _OVERRIDES[name]
    b = _CACHE.get(name)
    if b is None:
        b = CompiledBackend(compiled_module()[0]) if name == "cuda" else CupyBackend()
        _CACHE[name] = b
    return b


def choose(device_pref, device: int):
    """Backend for `device`: the compiled module when it runs there, else the
    CuPy path; device_pref "cuda"/"cupy" forces one (with the reason when it
    cannot run)."""
    if device_pref in ("cuda", "cupy"):
        why = why_not(device_pref, device)
        if why:
            raise RuntimeError(f"device={device_pref!r} is not usable: {why}")
        return get(device_pref)
    reasons = []
    for name in ("cuda", "cupy"):
        why = why_not(name, device)
        if why is None:
            return get(name)
        reasons.append(f"{name}: {why}")
    raise RuntimeError("segscore has no usable GPU backend for these GPU arrays (" + "; ".join(reasons) +
                       "); pass host arrays or device='cpu'")


@contextlib.contextmanager
def forced(name, backend):
    """Temporarily override a backend (tests)."""
    old = _OVERRIDES.get(name)
    override(name, backend)
    try:
        yield backend
    finally:
        override(name, old)

