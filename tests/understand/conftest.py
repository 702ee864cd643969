"""Shared fixtures for the understanding tests: where the shared corpora live."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
REPLIES = REPO / "tests" / "data" / "replies"


def _find_corpora() -> Path:
    """``MAILD_CORPORA`` if set, else ``shared/corpora`` beside the checkout.

    A git worktree sits one level deeper (``wt/<name>``) than the main checkout, so both
    ``../shared`` and ``../../shared`` are tried.
    """
    configured = os.environ.get("MAILD_CORPORA")
    if configured:
        return Path(configured)
    for base in (REPO.parent, REPO.parent.parent):
        candidate = base / "shared" / "corpora"
        if candidate.is_dir():
            return candidate
    return REPO.parent / "shared" / "corpora"


CORPORA = _find_corpora()


@pytest.fixture(scope="session")
def corpora() -> Path:
    """The shared corpora folder; skipped locally when absent, a failure in CI."""
    if not CORPORA.is_dir():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"corpora folder missing in CI: {CORPORA}")
        pytest.skip(f"corpora folder not found at {CORPORA}")
    return CORPORA
