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


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
