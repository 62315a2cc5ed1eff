"""Which compute backends are importable/usable, and why not."""

from __future__ import annotations

import importlib
import os

import numpy as np

_cpu = None
_cpu_error = None
try:  # the compiled CPU core is required for everything but backends()
    from .. import _cpu  # type: ignore[no-redef]
except ImportError as exc:  # pragma: no cover - only on a broken install
    _cpu_error = f"segscore._cpu failed to import ({exc}); reinstall with `pip install .`"


def cpu():
    """The compiled CPU module, or a clear ImportError."""
    if _cpu is None:
        raise ImportError(_cpu_error)
    return _cpu


THREADS_PER_CORE_MAX = 4  # more threads than this per core only costs memory and switches


def max_threads() -> int:
    """The most CPU threads segscore starts: a few per core of this machine (results do not
    depend on the thread count, so capping changes only speed)."""
    return THREADS_PER_CORE_MAX * (os.cpu_count() or 1)


_warned_caps: set = set()


def _capped(v: int, what: str) -> int:
    cap = max_threads()
    if v <= cap:
        return v
    if (what, v) not in _warned_caps:
        _warned_caps.add((what, v))
        import warnings

        import sys

        pkg = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the segscore package
        level, f = 1, sys._getframe(0)
        while f is not None and os.path.abspath(f.f_code.co_filename).startswith(pkg):
            level, f = level + 1, f.f_back  # point the warning at the caller's line
        warnings.warn(f"{what}={v} is more than {THREADS_PER_CORE_MAX} threads per core of this machine "
                      f"({os.cpu_count() or 1} cores); using {cap}", RuntimeWarning, stacklevel=level)
    return cap


def default_threads() -> int:
    env = os.environ.get("SEGSCORE_NUM_THREADS")
    if env:
        try:
            v = int(env)
        except ValueError:
            raise ValueError(f"SEGSCORE_NUM_THREADS={env!r} is not an integer") from None
        if v > 0:
            return _capped(v, "SEGSCORE_NUM_THREADS")
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def resolve_threads(threads) -> int:
    if threads is None:
        return default_threads()
    if isinstance(threads, bool) or not isinstance(threads, int | np.integer) or threads < 1:
        raise ValueError(f"threads must be a positive integer or None, got {threads!r}")
    return _capped(int(threads), "threads")


def _try_cuda():
    try:
        mod = importlib.import_module("segscore._cuda")
    except ImportError as exc:
        return None, f"segscore._cuda is not built or failed to import ({exc})"
    try:
        n = mod.device_count()
    except Exception as exc:  # pragma: no cover - driver problems
        return mod, f"segscore._cuda imported but the CUDA driver is unusable ({exc})"
    if n <= 0:
        return mod, "segscore._cuda is built but no CUDA device is visible"
    why = mod.probe(0) if hasattr(mod, "probe") else ""  # CUDA version / architecture of device 0
    return mod, why or None


def _try_cupy():
    try:
        import cupy  # noqa: F401
    except ImportError:
        return "cupy is not installed (pip install 'segscore[gpu]')"
    try:
        import cupy

        if cupy.cuda.runtime.getDeviceCount() <= 0:
            return "cupy is installed but no CUDA device is visible"
    except Exception as exc:
        return f"cupy is installed but CUDA is unusable ({exc})"
    try:
        from .headers import include_dir

        include_dir()
    except FileNotFoundError as exc:
        return str(exc)
    return None


def backends() -> dict:
    """Report which compute backends are usable here, and why not.

    Probes, without starting any computation: the compiled CPU core (``segscore._cpu``), the
    compiled CUDA executor (``segscore._cuda``: built? a visible device? its driver) and the
    CuPy path (CuPy installed, a device visible, the kernel headers shipped).  The CPU
    backend is always used for host arrays; GPU inputs use ``cuda`` when usable, else
    ``cupy``; ``device=`` on every metric forces one.

    Returns
    -------
    dict
        ``{"cpu": {"usable": bool, "reason": str}, "cuda": {"usable": bool, "reason": str,
        "built": bool}, "cupy": {"usable": bool, "reason": str}}``; ``reason`` is ``"ok"``
        when usable, else what is missing and how to get it.

    Examples
    --------
    >>> import segscore as ss
    >>> b = ss.backends()
    >>> sorted(b)
    ['cpu', 'cuda', 'cupy']
    >>> b["cpu"]
    {'usable': True, 'reason': 'ok'}
    >>> sorted(b["cuda"])
    ['built', 'reason', 'usable']
    >>> isinstance(b["cupy"]["usable"], bool)
    True
    """
    out = {"cpu": {"usable": _cpu is not None, "reason": "ok" if _cpu is not None else _cpu_error}}
    mod, why = _try_cuda()
    out["cuda"] = {"usable": why is None, "reason": why or "ok", "built": mod is not None}
    why = _try_cupy()
    out["cupy"] = {"usable": why is None, "reason": why or "ok"}
    return out
