import numpy as np
import pytest

# the helpers live in tests/support/helpers.py; re-exported for `from conftest import ...`
from support.helpers import IN_CI, assert_close, blob, need_peer, same_value  # noqa: F401


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


class _NoCpp:
    def __getattr__(self, name):
        raise AssertionError(f"the C++ core was called (segscore._cpu.{name}) before the input was rejected")


@pytest.fixture
def no_cpp(monkeypatch):
    """Make any call into the compiled core fail: validation must happen first."""
    import segscore._core.backends as backend

    monkeypatch.setattr(backend, "_cpu", _NoCpp())
