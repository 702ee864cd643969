"""maild: a local, approval-gated mail daemon for people who depend on busy mentors."""

from __future__ import annotations

__version__ = "0.1.0"
