"""Shared pytest fixtures: where the real data lives (../shared beside the repository)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared_data import REPO_ROOT, SHARED_DATA, shared_case  # noqa: F401 (re-exported for `from conftest import`)


@pytest.fixture
def tum01() -> Path:
    return shared_case("axial_dixon", "TUM01")
