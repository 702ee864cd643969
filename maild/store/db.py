"""The SQLite database: opening it safely, migrating it, and running transactions.

The store is the single source of truth (DESIGN.md). It is opened in WAL mode so the
daemon and the CLI can use it at the same time, with foreign keys on, and the file is
private to the user (mode 0600) because it holds correspondence.

The store is the only code that speaks SQL, through small repositories (``asks``,
``drafts``, ``events``, ``mentors``). Use cases get them in two ways:

* ``with store.transaction() as tx: tx.drafts.set_status(...)`` to change anything:
  every write of one change commits together, or none does;
* ``store.read.asks.get(7)`` to look, outside a transaction.

The connection itself is private: only modules of this package use ``Store._db``
(tests/core/test_purity.py keeps it so).
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from maild.errors import SchemaTooNewError, StoreError
from maild.store.asks import Asks
from maild.store.drafts import Drafts
from maild.store.events import Events
from maild.store.mentors import Mentors
from maild.store.migrations import MIGRATIONS
from maild.store.sql import iso

log = logging.getLogger(__name__)

SCHEMA_VERSION = len(MIGRATIONS)


def _create_private(path: Path) -> None:
    # Create the file ourselves so no umask can ever leave it readable by others.
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


@dataclass(frozen=True)
class Repos:
    """The repositories over one connection."""

    asks: Asks
    drafts: Drafts
    events: Events
    mentors: Mentors


@dataclass(frozen=True)
class Tx(Repos):
    """The repositories inside an open transaction, which may also take a savepoint."""

    _db: sqlite3.Connection

    @contextmanager
    def savepoint(self, name: str) -> Iterator[None]:
        """A nested part of the transaction: on an exception only its own writes are
        undone, and the transaction goes on."""
        self._db.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            try:
                self._db.execute(f"ROLLBACK TO {name}")
                self._db.execute(f"RELEASE {name}")
            except sqlite3.Error:
                log.debug("rolling back to the savepoint failed", exc_info=True)
            raise
        self._db.execute(f"RELEASE {name}")


class Store:
    """An open database. Use as a context manager, or call ``close()``."""

    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self._db = db
        self.path = path
        self.commits = 0  # transactions committed through this store (the CLI wakes the daemon)
        repos = (Asks(db), Drafts(db), Events(db), Mentors(db))
        self.read = Repos(*repos)
        self._tx = Tx(*repos, db)

    @property
    def in_transaction(self) -> bool:
        return self._db.in_transaction

    @property
    def tx(self) -> Tx:
        """The open transaction's repositories (for code called inside one)."""
        if not self._db.in_transaction:
            raise RuntimeError("no transaction is open (use `with store.transaction()`)")
        return self._tx

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
            # 1 MiB of pages per connection, not 2: every query is indexed and the OS
            # caches the file anyway; the daemon holds several connections all day.
            db.execute("PRAGMA cache_size=-1024")
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
        except sqlite3.Error as exc:
            db.close()
            raise StoreError(f"{path} cannot be read: {exc}") from None
        except BaseException:
            db.close()
            raise
        return store

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    @property
    def version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def quick_check(self) -> str:
        """SQLite's own integrity check: "ok", or what is damaged."""
        try:
            return str(self._db.execute("PRAGMA quick_check").fetchone()[0])
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path} cannot be read: {exc}") from None

    def migrate(self) -> int:
        """Apply pending migrations, each in its own transaction; return the new version."""
        current = self.version
        for number, migration in enumerate(MIGRATIONS[current:], start=current + 1):
            log.info("migrating %s to schema version %d (%s)", self.path, number,
                     migration.__name__)
            with self.transaction():
                migration(self._db)
                self._db.execute(f"PRAGMA user_version = {number}")
        return self.version

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """BEGIN IMMEDIATE ... COMMIT: writers queue up instead of failing half-way."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(f"database {self.path} is busy or unwritable: {exc}") from None
        try:
            yield self._tx
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        else:
            self._db.execute("COMMIT")
            self.commits += 1



__all__ = ["Repos", "Store", "Tx", "iso"]
