"""Tests look at (and tamper with) rows directly; maild itself never does outside
``maild/store/``. This is the one door for that."""

from __future__ import annotations

import sqlite3

from maild.store import Store


def raw(store: Store) -> sqlite3.Connection:
    """The store's own connection: inside its transaction when one is open."""
    return store._db
