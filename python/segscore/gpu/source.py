"""CUDA source of the CuPy (NVRTC) path: the shipped kernel headers.

The wheel ships ``cpp/include/segscore/*.h`` as ``segscore/include/segscore``
(found with importlib.resources; an editable install falls back to the
source tree).  `kernel_source()` inlines ``gpu_kernels.h``, ``gpu_score_kernels.h``
and the headers they include into one string, so CuPy's on-disk kernel cache is keyed by the
actual code, and the test-suite compiles exactly this string with NVRTC.
Kernels are compiled in small groups (per dtype) with NVRTC name
expressions; `group` names them, and every `plan.Launch` carries the group
that holds its kernel.  `all_kernel_names()` is the set the compiled module's
table (cuda/driver.cu) must hold, name for name.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from .._core.headers import include_dir
from .plan import EDT_IN_CTYPES, PROB_CTYPES, T_CTYPES

NVRTC_OPTIONS = ("-std=c++17", "--fmad=false")
NS = "segscore::gpu::"
_INCLUDE = re.compile(r'^\s*#\s*include\s+"(segscore/[A-Za-z0-9_]+\.h)"\s*$')


def shipped_headers() -> list:
    return sorted((include_dir() / "segscore").glob("*.h"))


def inline(name: str, root: Path | None = None, seen=None) -> str:
    """Text of header `name` ("segscore/x.h") with its segscore includes inlined."""
    root = root or include_dir()
    seen = set() if seen is None else seen
    if name in seen:
        return ""
    seen.add(name)
    out = [f"// ---- {name}\n"]
    for line in (root / name).read_text().splitlines(keepends=True):
        m = _INCLUDE.match(line)
        if m:
            out.append(inline(m.group(1), root, seen))
        elif line.strip() == "#pragma once":
            continue
        else:
            out.append(line)
    return "".join(out)


@functools.cache
def kernel_source() -> str:
    seen = set()
    return (inline("segscore/gpu_kernels.h", seen=seen) + inline("segscore/gpu_score_kernels.h", seen=seen)
            + inline("segscore/gpu_components_kernels.h", seen=seen)
            + inline("segscore/gpu_multirater_kernels.h", seen=seen))



def group(key) -> tuple:
    """Name expressions of one compile group.

    key: ("edt", in_code, f64) | ("edt_ml", in_code, f64) | ("stats",) | ("surface",) | ("calib", ptype)
    | ("crps",) | ("components",) | ("multirater",)
    """
    kind = key[0]
    if kind == "edt":
        In, T = EDT_IN_CTYPES[key[1]], T_CTYPES[key[2]]
        return (f"{NS}k_edt_first<{In}, {T}>", f"{NS}k_edt_parabola<{T}>")
    if kind == "edt_ml":
        L, T = EDT_IN_CTYPES[key[1]], T_CTYPES[key[2]]
        return (f"{NS}k_edt_first_ml<{L}, {T}>", f"{NS}k_edt_parabola_ml<{L}, {T}>")
    if kind == "stats":
        return (f"{NS}k_stats_init", f"{NS}k_stats")
    if kind == "calib":
        T = PROB_CTYPES[key[1]]
        return (f"{NS}k_calib_init", f"{NS}k_calib<{T}>", f"{NS}k_calib_reduce", f"{NS}k_sum_chunks",
                f"{NS}k_calib_conf<{T}>")
    if kind == "crps":
        return (f"{NS}k_crps_gaussian",) + tuple(f"{NS}k_crps_ensemble<{m}, {w}>" for m in ("float", "double")
                                                 for w in ("float", "double"))
    if kind == "multirater":
        return (f"{NS}k_mr_init", f"{NS}k_mr_range", f"{NS}k_mr_stats")
    if kind == "surface":
        return tuple(NS + k for k in ("k_crop_fill", "k_crop_boundary", "k_scan_partial", "k_scan_sums",
                                      "k_scan_apply", "k_crop_gather", "k_region_counts")) + group(("edt", 0, True))
    if kind == "components":
        return tuple(NS + k for k in ("k_cc_init", "k_cc_merge", "k_cc_flatten", "k_cc_sizes", "k_cc_roots",
                                      "k_cc_write", "k_scan_partial", "k_scan_sums", "k_scan_apply", "k_ovl_scan",
                                      "k_ovl_init", "k_ovl_count"))
    raise KeyError(key)


def all_groups() -> list:
    keys = [("stats",), ("surface",), ("crps",), ("components",), ("multirater",)] + [("calib", t) for t in range(3)]
    for f64 in (False, True):
        keys += [("edt", c, f64) for c in range(6)]
        keys += [("edt_ml", c, f64) for c in range(4)]
    return keys


def all_kernel_names() -> set:
    """Every kernel name expression (without the namespace) of every compile group."""
    return {n[len(NS):] for key in all_groups() for n in group(key)}
