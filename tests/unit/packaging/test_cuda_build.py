"""segscore._cuda was built (CI builds with SEGSCORE_CUDA=ON and sets
SEGSCORE_EXPECT_CUDA=1; elsewhere this is skipped).  Needs no GPU: the
module links cudart statically and never libcuda, so it imports without a
driver."""

from __future__ import annotations

import os

import pytest

EXPECT = os.environ.get("SEGSCORE_EXPECT_CUDA") == "1"


@pytest.mark.skipif(not EXPECT, reason="set SEGSCORE_EXPECT_CUDA=1 when segscore was built with SEGSCORE_CUDA=ON")
def test_cuda_module_was_built():
    import segscore._cuda as m

    assert m.built_with_cuda >= 12000, m.built_with_cuda
    archs = m.architectures.split(",")
    assert {"80-real", "90-real", "90-virtual"} <= set(archs) or os.environ.get("CMAKE_CUDA_ARCHITECTURES"), archs
    assert m.device_count() >= 0  # no crash without a driver
    assert isinstance(m.probe(0), str)
    for name in ("edt", "stats", "surface"):
        assert callable(getattr(m, name))
    from segscore.gpu import plan

    assert dict(m.layout) == plan.LAYOUT  # the C++ and Python table layouts agree
    import segscore as ss

    assert ss.backends()["cuda"]["built"]


@pytest.mark.skipif(not EXPECT, reason="set SEGSCORE_EXPECT_CUDA=1 when segscore was built with SEGSCORE_CUDA=ON")
def test_cuda_module_links_no_libcuda():
    import subprocess

    import segscore._cuda as m

    out = subprocess.run(["ldd", m.__file__], capture_output=True, text=True).stdout
    assert "libcuda.so" not in out and "libcudart.so" not in out, out
