"""The SQLite store: the single source of truth for asks, steps, drafts, messages, events."""

from __future__ import annotations

from maild.store.db import SCHEMA_VERSION, Store, iso

__all__ = ["SCHEMA_VERSION", "Store", "iso"]
