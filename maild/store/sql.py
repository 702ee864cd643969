"""What every repository shares: the connection it speaks SQL on, and stored times.

A repository reads at any time; it writes only inside the store's transaction (a write
outside one would commit on its own, half of a change). The check is at run time
because the connection, not the type, knows whether a transaction is open.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from datetime import UTC, datetime

# What callers catch without speaking sqlite3 themselves.
DatabaseError = sqlite3.Error
# SQLite result codes that mean the database, not the data, is in trouble (busy,
# unwritable, damaged): worth retrying later, never a reason to skip a message.
_TROUBLE = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_IOERR", "SQLITE_FULL",
            "SQLITE_CANTOPEN", "SQLITE_READONLY", "SQLITE_NOMEM", "SQLITE_CORRUPT",
            "SQLITE_NOTADB", "SQLITE_INTERRUPT")


def database_trouble(exc: BaseException) -> bool:
    """Whether ``exc`` is the database being busy, unwritable or damaged."""
    if isinstance(exc, sqlite3.OperationalError):
        name = getattr(exc, "sqlite_errorname", "") or ""
        return name.startswith(_TROUBLE)
    return False


def iso(at: datetime) -> str:
    """Times are stored as ISO 8601 in UTC, so that SQL compares and sorts them as text
    correctly (a mentor's Date header may carry any offset); naive times are a bug."""
    if at.tzinfo is None:
        raise ValueError("naive datetime reached the store")
    return at.astimezone(UTC).isoformat()


def parse_time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def marks(values: Collection[object]) -> str:
    """``?,?,?`` for an ``IN (...)`` of these values."""
    return ",".join("?" * len(values))


class Repo:
    """Base of the repositories: one connection, shared with the store's transaction."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def _write(self) -> sqlite3.Connection:
        """The connection, for a write; only inside the store's transaction."""
        if not self._db.in_transaction:
            raise RuntimeError("a write outside a transaction (use `with store.transaction()`)")
        return self._db
