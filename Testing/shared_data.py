"""Where the real data lives (../shared/data beside the repository), for tests in every folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SPINEQUANT_SHARED", REPO_ROOT.parent / "shared")) / "data"


def shared_case(*parts: str) -> Path:
    """Path of a case folder in ../shared/data; skips the test with a clear reason when absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not available: {path} is absent (../shared is not beside the repository)")
    return path
