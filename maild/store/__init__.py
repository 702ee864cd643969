"""The SQLite store: the single source of truth for asks, steps, drafts, messages, events.

The only code that speaks SQL. ``Store.open`` opens (and migrates) a database;
``store.transaction()`` yields the repositories for a change, ``store.read`` the same
repositories for looking.
"""

from __future__ import annotations

from maild.store.db import SCHEMA_VERSION, Repos, Store, Tx
from maild.store.sql import iso

__all__ = ["SCHEMA_VERSION", "Repos", "Store", "Tx", "iso"]
