"""The SQLite database: opening it safely, migrating it, and running transactions.

The store is the single source of truth (DESIGN.md). It is opened in WAL mode so the
daemon and the CLI can use it at the same time, with foreign keys on, and the file is
private to the user (mode 0600) because it holds correspondence.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from maild.errors import SchemaTooNewError, StoreError
from maild.store.migrations import MIGRATIONS

log = logging.getLogger(__name__)

SCHEMA_VERSION = len(MIGRATIONS)


def _create_private(path: Path) -> None:
    # Create the file ourselves so no umask can ever leave it readable by others.
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


class Store:
    """An open database. Use as a context manager, or call ``close()``."""

    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self.db = db
        self.path = path

    @classmethod
    def open(cls, path: Path, *, migrate: bool = True) -> Store:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            if not path.exists():
                _create_private(path)
            # isolation_level=None: we issue BEGIN/COMMIT ourselves (see transaction()).
            db = sqlite3.connect(path, timeout=10.0, isolation_level=None,
                                 check_same_thread=False)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA busy_timeout=10000")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the database {path}: {exc}") from None
        for suffix in ("-wal", "-shm"):
            side = path.with_name(path.name + suffix)
            if side.exists():
                os.chmod(side, 0o600)
        store = cls(db, path)
        try:
            found = store.version
            if found > SCHEMA_VERSION:
                raise SchemaTooNewError(str(path), found, SCHEMA_VERSION)
            if migrate:
                store.migrate()
        except BaseException:
            db.close()
            raise
        return store

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    @property
    def version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self) -> int:
        """Apply pending migrations, each in its own transaction; return the new version."""
        current = self.version
        for number, migration in enumerate(MIGRATIONS[current:], start=current + 1):
            log.info("migrating %s to schema version %d (%s)", self.path, number,
                     migration.__name__)
            with self.transaction():
                migration(self.db)
                self.db.execute(f"PRAGMA user_version = {number}")
        return self.version

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT: writers queue up instead of failing half-way."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(f"database {self.path} is busy or unwritable: {exc}") from None
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        else:
            self.db.execute("COMMIT")

    def add_event(self, when: datetime, kind: str, /, *, ask_id: int | None = None,
                  mentor_id: int | None = None, **detail: Any) -> int:
        """Append to the timeline (call inside a transaction to tie it to other writes)."""
        cur = self.db.execute(
            "INSERT INTO events (at, ask_id, mentor_id, type, detail) VALUES (?, ?, ?, ?, ?)",
            (iso(when), ask_id, mentor_id, kind, json.dumps(detail, default=str)),
        )
        return int(cur.lastrowid or 0)


def iso(at: datetime) -> str:
    """Times are stored as ISO 8601 in UTC, so that SQL compares and sorts them as text
    correctly (a mentor's Date header may carry any offset); naive times are a bug."""
    if at.tzinfo is None:
        raise ValueError("naive datetime reached the store")
    return at.astimezone(UTC).isoformat()
