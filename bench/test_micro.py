"""pytest-benchmark micro-benchmarks (not part of the test suite: tests/ is).

    pip install pytest-benchmark
    pytest bench/test_micro.py --benchmark-only -p no:cacheprovider -o testpaths=bench
    pytest bench/test_micro.py --benchmark-only --benchmark-compare   # against a saved run

Inputs come from bench/cases.py (deterministic organ-like blobs, spacing
0.8 x 0.8 x 2.5 mm); every call uses SEGSCORE_BENCH_THREADS threads (default 2).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cases as C  # noqa: E402

ss = pytest.importorskip("segscore")
pytest.importorskip("pytest_benchmark")

THREADS = int(os.environ.get("SEGSCORE_BENCH_THREADS", "2"))


@pytest.fixture(scope="module")
def binary128():
    return C.binary_case((128, 128, 128), (30.0, 25.0, 25.5), name="binary 128^3")


@pytest.fixture(scope="module")
def labels128():
    return C.multilabel_case(14, (128, 128, 128), rmin=4.0, rmax=20.0)


def test_edt_128_float32(benchmark, binary128):
    m = binary128.ref.view(np.uint8)
    out = benchmark(ss.edt, m, binary128.spacing, dtype="float32", threads=THREADS)
    assert out.dtype == np.float32 and out.shape == m.shape


def test_edt_128_complement_float32(benchmark, binary128):
    m = (~binary128.ref).view(np.uint8)
    out = benchmark(ss.edt, m, binary128.spacing, dtype="float32", threads=THREADS)
    assert np.isfinite(out).all()


def test_edt_multilabel_128(benchmark, labels128):
    out = benchmark(ss.edt_multilabel, labels128.ref, labels128.spacing, dtype="float32", threads=THREADS)
    assert out.shape == labels128.ref.shape


def test_evaluate_binary_128(benchmark, binary128):
    c = binary128
    res = benchmark(ss.evaluate, c.pred, c.ref, c.spacing, metrics=["hd", "hd95", "assd", "nsd@1"], threads=THREADS)
    row = res[1]
    assert 0 < row["hd95"] <= row["hd"]


def test_evaluate_labels_128(benchmark, labels128):
    c = labels128
    res = benchmark(ss.evaluate, c.pred, c.ref, c.spacing, metrics=["dice", "hd", "hd95", "assd", "nsd@1"],
                    threads=THREADS)
    assert len(res) == 14


def test_overlap_only_binary_128(benchmark, binary128):
    """The counting pass alone (dice from counts)."""
    c = binary128
    d = benchmark(ss.dice, c.pred, c.ref)
    assert 0 < d < 1
