"""The two launch backends and how one is chosen.

* ``cuda``: the compiled ``segscore._cuda`` module; its launch sequences
  live in C++ (cuda/driver.cu).
* ``cupy``: the same kernels compiled at run time by CuPy's RawModule
  (NVRTC) from the shipped headers, cached per device and dtype group; the
  launch sequences below mirror driver.cu line for line.

Both take device pointers (ints) planned by plan.py and allocated by ops.py
with the caller's array library, and launch on the caller's stream.
"""

from __future__ import annotations

import contextlib
import importlib
import threading

import numpy as np

from . import source as S

_u = np.uint64
_i32 = np.int32
_i64 = np.int64
_f64 = np.float64


class CompiledBackend:
    name = "cuda"

    def __init__(self, mod):
        self.mod = mod

    def edt(self, device, stream, **kw):
        self.mod.edt(device=device, stream=stream, input=kw.pop("input"), **kw)

    def stats(self, device, stream, **kw):
        self.mod.stats(device=device, stream=stream, **kw)

    def surface(self, device, stream, args):
        self.mod.surface(device, stream, args)

    def calibration(self, device, stream, args):
        self.mod.calibration(device, stream, args)

    def crps(self, device, stream, args):
        self.mod.crps(device, stream, args)


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
    test-suite runs this exact sequence on a CPU emulation)."""

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
        if grid <= 0:
            return
        fn = self.module(device, key).get_function(S.NS + name)
        self._launcher(fn, grid, block, args, device, stream)

    # ---- the sequences of cuda/driver.cu ------------------------------------------
    def edt(self, device, stream, input, in_type, multilabel, f64, out, tmp, ws, nmax, fd, sp, prefix, nfields,
            npasses, grid, block, finish):
        P = npasses
        bufs = (out, tmp)

        def dst(k):
            return bufs[(P - 1 - k) % 2]

        T = S.T_CTYPES[bool(f64)]
        In = S.EDT_IN_CTYPES[in_type]
        key = ("edt_ml" if multilabel else "edt", in_type, bool(f64))
        first = f"k_edt_first_ml<{In}, {T}>" if multilabel else f"k_edt_first<{In}, {T}>"
        self._launch(device, stream, key, first, grid[0], block,
                     (_u(input), _u(dst(0)), _u(fd), _u(sp), _u(prefix), _i32(nfields), _i32(finish if P == 1 else 0)))
        for k in range(1, P):
            fk = _i32(finish if k == P - 1 else 0)
            pk = _u(prefix + 8 * k * (nfields + 1))
            if multilabel:
                self._launch(device, stream, key, f"k_edt_parabola_ml<{In}, {T}>", grid[k], block,
                             (_u(input), _u(dst(k - 1)), _u(dst(k)), _u(ws), _i64(nmax), _u(fd), _u(sp), pk,
                              _i32(nfields), _i32(k), fk))
            else:
                self._launch(device, stream, key, f"k_edt_parabola<{T}>", grid[k], block,
                             (_u(dst(k - 1)), _u(dst(k)), _u(ws), _i64(nmax), _u(fd), _u(sp), pk, _i32(nfields),
                              _i32(k), fk))

    def stats(self, device, stream, pred, pcode, ref, rcode, geo, nd, ignore, K, seg, st, grid_init, grid, block):
        key = ("stats",)
        self._launch(device, stream, key, "k_stats_init", grid_init, block, (_u(st), _i64(K), _i32(nd)))
        self._launch(device, stream, key, "k_stats", grid, block,
                     (_u(pred), _i32(pcode), _u(ref), _i32(rcode), _u(geo), _i32(nd), _i64(ignore), _i64(K),
                      _i64(seg), _u(st)))

    def surface(self, device, stream, a):
        if a["nreg"] <= 0 or a["L"] <= 0:
            return
        key = ("surface",)
        B = a["block"]

        def go(name, grid, args):
            self._launch(device, stream, key, name, grid, B, args)

        go("k_crop_fill", a["grid_rows"],
           (_u(a["pred"]), _i32(a["pcode"]), _u(a["ref"]), _i32(a["rcode"]), _u(a["src_str"]), _i32(a["nd"]),
            _i64(a["ignore"]), _u(a["rt"]), _u(a["labels"]), _u(a["rows"]), _i32(a["nreg"]), _i64(a["V"]),
            _u(a["masks"])))
        go("k_crop_boundary", a["grid_rows"],
           (_u(a["masks"]), _i64(a["V"]), _u(a["rt"]), _u(a["rows"]), _i32(a["nreg"]), _i32(a["nd"]),
            _i32(a["kind"]), _i32(a["conn"]), _i32(a["biou"]), _u(a["nb"]), _u(a["cnt"])))
        n = 2 * a["L"]
        nchunks = -(-n // a["chunk"])
        go("k_scan_partial", a["grid_chunks"], (_u(a["cnt"]), _i64(n), _i64(a["chunk"]), _u(a["sums"])))
        self._launch(device, stream, key, "k_scan_sums", 1, 1, (_u(a["sums"]), _i64(nchunks)))
        go("k_scan_apply", a["grid_chunks"],
           (_u(a["cnt"]), _i64(n), _i64(a["chunk"]), _u(a["sums"]), _u(a["pos"])))
        self.edt(device, stream, input=a["nb"], in_type=0, multilabel=False, f64=True, out=a["field"],
                 tmp=a["field_tmp"], ws=a["ws"], nmax=a["nmax"], fd=a["fd"], sp=a["sp"], prefix=a["prefix"],
                 nfields=a["nfields"], npasses=a["npasses"], grid=a["edt_grid"], block=B, finish=0)
        go("k_crop_gather", a["grid_rows"],
           (_u(a["masks"]), _u(a["nb"]), _u(a["field"]), _u(a["pos"]), _i64(a["V"]), _u(a["rt"]), _u(a["rows"]),
            _i32(a["nreg"]), _i32(a["nd"]), _i32(a["kind"]), _u(a["spacing"]), _u(a["d"]), _u(a["w"]),
            _i32(a["biou"]), _f64(a["width"]), _i32(a["strict"]), _u(a["res"])))
        go("k_region_counts", a["grid_regions"], (_u(a["pos"]), _u(a["rows"]), _i32(a["nreg"]), _u(a["res"])))

    def calibration(self, device, stream, a):
        T = S.PROB_CTYPES[a["ptype"]]
        key = ("calib", a["ptype"])
        B = a["block"]
        tables = (_u(a["probs"]), _u(a["target"]), _u(a["mask"]), _u(a["geo"]), _u(a["ci"]), _u(a["cd"]))
        if a["stream_index"] >= 0:
            self._launch(device, stream, key, f"k_calib_conf<{T}>", a["grid"], B,
                         tables + (_i64(a["stream_index"]), _u(a["conf"])))
            return
        words = a["copies"] * a["keys"] * 4
        self._launch(device, stream, key, "k_calib_init", a["grid_init"], B,
                     (_u(a["hist"]), _i64(words), _u(a["counters"])))
        self._launch(device, stream, key, f"k_calib<{T}>", a["grid"], B,
                     tables + (_u(a["hist"]), _u(a["counters"]), _u(a["partial"])))
        self._launch(device, stream, key, "k_calib_reduce", a["grid_reduce"], B,
                     (_u(a["hist"]), _i64(a["copies"]), _i64(a["keys"]), _u(a["out"])))
        if a["partial"]:
            self._launch(device, stream, key, "k_sum_chunks", a["grid_chunks"], B,
                         (_u(a["partial"]), _i64(2 * a["grid"] * B), _i64(a["chunk"]), _u(a["partial_sums"])))

    def crps(self, device, stream, a):
        if a["n"] <= 0:
            return
        key = ("crps",)
        if a["kind"] == 0:
            self._launch(device, stream, key, "k_crps_gaussian", a["grid"], a["block"],
                         (_u(a["a"]), _u(a["b"]), _u(a["c"]), _i32(a["types"]), _u(a["geo"]), _i64(a["n"]),
                          _u(a["out"]), _u(a["bad"])))
            return
        TM = S.T_CTYPES[bool(a["types"] & 2)]
        TW = TM if not a["c"] else S.T_CTYPES[bool(a["types"] & 4)]
        self._launch(device, stream, key, f"k_crps_ensemble<{TM}, {TW}>", a["grid"], a["block"],
                     (_u(a["a"]), _i32(a["types"] & 1), _u(a["b"]), _u(a["c"]), _u(a["geo"]), _i64(a["n"]),
                      _u(a["ws"]), _u(a["out"])))


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

