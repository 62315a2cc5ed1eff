"""Build and run the C++ test driver (cpp/tests/test_core.cpp) against the CPU drivers.

The driver is not part of the wheel: this test compiles it from the source tree with the
system C++ compiler (``$CXX`` or g++; -O1 with the standard library's assertions), the six
sources in parallel, and runs it."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from support.helpers import IN_CI
from support.paths import REPO_ROOT

ROOT = REPO_ROOT
SOURCES = ["cpp/tests/test_core.cpp"] + [f"cpp/src/{n}.cpp" for n in (
    "thread_pool", "edt_driver", "overlap_driver", "surface_driver", "percentile", "components_driver")]
FLAGS = ["-std=c++17", "-O1", "-D_GLIBCXX_ASSERTIONS", f"-I{ROOT / 'cpp/include'}", f"-I{ROOT / 'cpp/src'}"]


def _compiler():
    cxx = os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++")
    if cxx is None or not (ROOT / SOURCES[0]).is_file():
        if IN_CI:
            pytest.fail("no C++ compiler or no source tree: the C++ driver test cannot run")
        pytest.skip("needs a C++ compiler and the source tree (cpp/)")
    return cxx


def test_cpp_core_tests(tmp_path):
    cxx = _compiler()
    objs, procs = [], []
    for src in SOURCES:
        obj = tmp_path / (Path(src).stem + ".o")
        objs.append(str(obj))
        procs.append((src, subprocess.Popen([cxx, *FLAGS, "-c", str(ROOT / src), "-o", str(obj)],
                                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)))
    for src, p in procs:
        out, _ = p.communicate(timeout=600)
        assert p.returncode == 0, f"compiling {src} failed:\n{out[-4000:]}"
    exe = tmp_path / "segscore_core_tests"
    link = subprocess.run([cxx, *objs, "-pthread", "-o", str(exe)], capture_output=True, text=True, timeout=300)
    assert link.returncode == 0, link.stdout + link.stderr
    proc = subprocess.run([str(exe)], capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{exe} failed with exit code {proc.returncode}:\n{out[-4000:]}"
    assert "all passed" in out.lower(), out[-2000:]
