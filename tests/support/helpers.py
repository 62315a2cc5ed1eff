"""Helpers shared by the tests: peer imports that fail under CI, blobs, value comparison."""

import os

import numpy as np
import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def need_peer(name):
    """Import a reference library; skip when absent, fail under CI=true."""
    try:
        return pytest.importorskip(name)
    except pytest.skip.Exception:
        if IN_CI:
            pytest.fail(f"reference library {name!r} is missing in CI (installed by .ci/run)")
        raise


def blob(shape, center, radii):
    g = np.indices(shape, dtype=float)
    return sum(((g[i] - center[i]) / radii[i]) ** 2 for i in range(len(shape))) <= 1.0


# ----------------------------------------------------------------------------- shared by the peer cross-check suite
def same_value(got, want, rel=1e-9, abs_=0.0):
    """nan == nan, inf == inf (same sign), else |got - want| <= rel * max(|got|, |want|) + abs_."""
    import math

    got, want = float(got), float(want)
    if math.isnan(want) or math.isnan(got):
        return math.isnan(want) and math.isnan(got)
    if math.isinf(want) or math.isinf(got):
        return got == want
    return abs(got - want) <= rel * max(abs(got), abs(want)) + abs_


def assert_close(got, want, rel=1e-9, what="", abs_=0.0):
    """Compare dicts key by key (keys of `want`), tuples element-wise, or two numbers."""
    if isinstance(want, dict):
        bad = {k: (got[k], v) for k, v in want.items() if not same_value(got[k], v, rel, abs_)}
        assert not bad, f"{what}: segscore vs expected differ (rel {rel}): {bad}"
    elif isinstance(want, (tuple, list)):
        assert len(got) == len(want), f"{what}: {got} vs {want}"
        for i, (g, w) in enumerate(zip(got, want)):
            assert same_value(g, w, rel, abs_), f"{what}[{i}]: got {g!r}, expected {w!r} (rel {rel})"
    else:
        assert same_value(got, want, rel, abs_), f"{what}: got {got!r}, expected {want!r} (rel {rel})"
