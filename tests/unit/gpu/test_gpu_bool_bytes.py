"""Bool device arrays whose bytes are not 0 / 1 (a uint8 buffer viewed as bool) on the GPU
path, in the CUDA emulation: the kernels read raw bytes, so gpu.prepare makes such arrays
0 / 1 first (ArrayLib.canonical_bool), as the host boundary does
(tests/unit/_core/test_bool_bytes.py).  Not yet run on a device."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import segscore as ss
from segscore.probabilistic.onepass import rater_pass

if shutil.which("g++") is None and shutil.which("c++") is None:  # pragma: no cover
    pytest.skip("the GPU emulation needs a C++ compiler", allow_module_level=True)
pytest.importorskip("pybind11")

from support import gpu_emulation as E  # noqa: E402
from unit._core.test_bool_bytes import _masks, _odd_bytes  # noqa: E402


@pytest.fixture(scope="module")
def emu():
    lib, undo = E.install()
    yield lib
    undo()


@pytest.mark.parametrize("backend", ["cuda", "cupy"])
def test_device_bool_bytes_read_as_true(emu, backend):
    p, r = _masks()
    op, orr = _odd_bytes(p), _odd_bytes(r, 1)
    metrics = ["dice", "hd95", "assd"]
    want = ss.evaluate(p, r, metrics=metrics).to_dict()
    assert ss.evaluate(E.EmuArray(op), E.EmuArray(orr), metrics=metrics, device=backend).to_dict() == want
    assert ss.evaluate(E.EmuArray(np.asfortranarray(op)), E.EmuArray(orr), metrics=metrics,
                       device=backend).to_dict() == want
    a, b = rater_pass([E.EmuArray(op), E.EmuArray(orr)], device=backend), rater_pass([p, r])
    assert a.labels.tolist() == b.labels.tolist() == [0, 1]
    np.testing.assert_array_equal(a.stats, b.stats)
    assert ss.consensus_dice(E.EmuArray(orr), [E.EmuArray(op), E.EmuArray(orr)]) == ss.consensus_dice(r, [p, r])


def test_canonical_bool_of_the_emulated_library(emu):
    p, _ = _masks()
    x = E.EmuArray(p)
    assert emu.canonical_bool(x) is x
    y = emu.canonical_bool(E.EmuArray(_odd_bytes(p)))
    assert np.array_equal(y.a, p) and int(y.a.view(np.uint8).max()) == 1
