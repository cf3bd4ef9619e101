"""Fixtures shared by the end-to-end tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def digits_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One teacher cache for every small digits run of the session: the teacher is trained once per
    budget scale, by whichever test runs first."""
    return tmp_path_factory.mktemp("teacher-cache")
