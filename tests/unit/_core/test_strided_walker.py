"""Build and run the strided n-d walker's C++ test (strided_walker_test.cpp, next to this file)
against cpp/src/strided.h and the thread pool, with the system C++ compiler."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from support.helpers import IN_CI

ROOT = Path(__file__).resolve().parents[3]
TEST = Path(__file__).with_name("strided_walker_test.cpp")


def test_strided_walker(tmp_path):
    cxx = os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++")
    if cxx is None or not (ROOT / "cpp/src/strided.h").is_file():
        if IN_CI:
            pytest.fail("no C++ compiler or no source tree: the strided walker test cannot run")
        pytest.skip("needs a C++ compiler and the source tree (cpp/)")
    exe = tmp_path / "strided_walker_test"
    build = subprocess.run(
        [cxx, "-std=c++17", "-O1", "-D_GLIBCXX_ASSERTIONS", "-Wall", "-Wextra", f"-I{ROOT / 'cpp/include'}",
         f"-I{ROOT / 'cpp/src'}", str(TEST), str(ROOT / "cpp/src/thread_pool.cpp"), "-pthread", "-o", str(exe)],
        capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stdout + build.stderr
    assert "warning" not in build.stderr, build.stderr
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=300)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-4000:]
    assert "all passed" in out, out[-2000:]
