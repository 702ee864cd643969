"""The store: migrations from blank, refusal of newer schemas, privacy and integrity."""

from __future__ import annotations

import sqlite3
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from maild.core.events import EventKind
from maild.errors import SchemaTooNewError
from maild.store import SCHEMA_VERSION, Store
from maild.store.migrations import MIGRATIONS
from tests.rawdb import raw

EXPECTED_TABLES = {
    "mentors", "mentor_addresses", "applications", "asks", "steps", "drafts", "messages",
    "events", "folder_state",
}
NOW = datetime(2026, 11, 22, 14, 0, tzinfo=UTC)


def test_blank_database_migrates_to_final_schema(tmp_path: Path) -> None:
    with Store.open(tmp_path / "m.db") as store:
        assert store.version == SCHEMA_VERSION == len(MIGRATIONS)
        tables = {r[0] for r in raw(store).execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert tables >= EXPECTED_TABLES
        columns = {r[1] for r in raw(store).execute("PRAGMA table_info(steps)")}
        assert {"ask_id", "name", "kind", "due_at", "status", "template"} <= columns
        assert raw(store).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw(store).execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_reopening_does_not_migrate_again(tmp_path: Path) -> None:
    Store.open(tmp_path / "m.db").close()
    with Store.open(tmp_path / "m.db") as store:
        assert store.migrate() == SCHEMA_VERSION


def test_database_file_is_private(tmp_path: Path) -> None:
    with Store.open(tmp_path / "m.db"):
        pass
    mode = stat.S_IMODE((tmp_path / "m.db").stat().st_mode)
    assert mode == 0o600


def test_newer_schema_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 3}")
    raw.close()
    with pytest.raises(SchemaTooNewError) as info:
        Store.open(path)
    assert f"schema version {SCHEMA_VERSION + 3}" in str(info.value)
    assert "upgrade maild" in str(info.value)


def test_events_are_append_only(tmp_path: Path) -> None:
    with Store.open(tmp_path / "m.db") as store:
        with store.transaction() as tx:
            event_id = tx.events.add(NOW, EventKind.NOTICE, text="hello")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            raw(store).execute("UPDATE events SET type = 'x' WHERE id = ?", (event_id,))
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            raw(store).execute("DELETE FROM events WHERE id = ?", (event_id,))


def test_transaction_rolls_back_on_error(tmp_path: Path) -> None:
    with Store.open(tmp_path / "m.db") as store:
        with pytest.raises(RuntimeError), store.transaction():
            store.tx.events.add(NOW, EventKind.NOTICE)
            raise RuntimeError("crash in the middle")
        assert raw(store).execute("SELECT count(*) FROM events").fetchone()[0] == 0


def test_foreign_keys_enforced(tmp_path: Path) -> None:
    with Store.open(tmp_path / "m.db") as store, pytest.raises(sqlite3.IntegrityError):
        raw(store).execute(
            "INSERT INTO mentor_addresses (mentor_id, address) VALUES (999, 'a@b.example')")


def test_naive_time_never_reaches_the_store(tmp_path: Path) -> None:
    with Store.open(tmp_path / "m.db") as store, store.transaction() as tx, \
            pytest.raises(ValueError):
        tx.events.add(datetime(2026, 1, 1), EventKind.NOTICE)  # a naive time is the point


def test_times_are_stored_in_utc_and_old_offsets_are_migrated(tmp_path: Path) -> None:
    from datetime import timedelta, timezone

    from maild.store.migrations import m0001_initial

    new_york = timezone(timedelta(hours=-5))
    with Store.open(tmp_path / "m.db") as store:
        with store.transaction():
            store.tx.events.add(datetime(2026, 11, 22, 9, 0, tzinfo=new_york), EventKind.NOTICE)
        assert raw(store).execute("SELECT at FROM events").fetchone()[0] == \
            "2026-11-22T14:00:00+00:00"
    # A database from before m0002 kept each time's own offset.
    old = sqlite3.connect(tmp_path / "old.db", isolation_level=None)
    old.execute("BEGIN")
    m0001_initial(old)
    old.execute("PRAGMA user_version = 1")
    old.execute("INSERT INTO events (at, type) VALUES ('2026-11-22T09:00:00-05:00', 'a'), "
                "('2026-11-22T13:00:00+00:00', 'b')")
    old.execute("COMMIT")
    old.close()
    with Store.open(tmp_path / "old.db") as store:
        assert store.version == SCHEMA_VERSION
        order = [r[0] for r in raw(store).execute("SELECT type FROM events ORDER BY at")]
        assert order == ["b", "a"]  # 13:00 UTC before 14:00 UTC, as text too
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            raw(store).execute("UPDATE events SET type = 'x'")
