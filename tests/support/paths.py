"""The repository root (tests that compile C++ from the source tree need it)."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
