"""Shared fixtures for the understanding tests: where the shared corpora live."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CORPORA = REPO / ".." / "shared" / "corpora"
REPLIES = REPO / "tests" / "data" / "replies"


@pytest.fixture(scope="session")
def corpora() -> Path:
    """The shared corpora folder; skipped locally when absent, a failure in CI."""
    if not CORPORA.is_dir():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"corpora folder missing in CI: {CORPORA}")
        pytest.skip(f"corpora folder not found at {CORPORA}")
    return CORPORA
