"""Where the shipped kernel headers are (``segscore/include/segscore/*.h``): the CuPy path
compiles them with NVRTC, and backends() reports that path unusable without them."""

from __future__ import annotations

import importlib.resources
import os
from pathlib import Path


def include_dir() -> Path:
    """Directory holding segscore/*.h (installed package data or source tree)."""
    env = os.environ.get("SEGSCORE_INCLUDE_DIR")
    candidates = []
    if env:
        candidates.append(Path(env))
    try:
        candidates.append(Path(str(importlib.resources.files("segscore") / "include")))
    except Exception:  # pragma: no cover - unusual loaders
        pass
    here = Path(__file__).resolve()  # segscore/_core/headers.py
    candidates.append(here.parents[1] / "include")       # installed wheel layout
    candidates.append(here.parents[3] / "cpp" / "include")  # editable install / source tree
    for c in candidates:
        if (c / "segscore" / "gpu_kernels.h").is_file():
            return c
    raise FileNotFoundError(
        "segscore's kernel headers (segscore/include/segscore/*.h) were not found; reinstall segscore "
        "(pip install .) or set SEGSCORE_INCLUDE_DIR to the directory holding segscore/gpu_kernels.h"
    )
