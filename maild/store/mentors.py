"""Mentors and applications in the store: the hit list and what letters are for.

``Mentors`` reads and writes the rows; ``add_mentors``, ``update_mentor``,
``remove_mentor`` and ``add_application`` are whole changes (rows, addresses and the
timeline entry) in one transaction each.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, cast

from maild.core.entries import MentorInput
from maild.core.events import EventKind
from maild.errors import NotFoundError, UsageError
from maild.store.sql import Repo, iso, marks

if TYPE_CHECKING:
    from maild.store.db import Store


@dataclass(frozen=True)
class MentorRecord:
    """A stored mentor: the user's entry plus its id."""

    id: int
    entry: MentorInput
    created_at: str

    @property
    def name(self) -> str:
        return self.entry.name

    @property
    def addresses(self) -> tuple[str, ...]:
        return self.entry.emails + self.entry.assistant_emails


@dataclass(frozen=True)
class ApplicationRecord:
    id: int
    name: str
    system: str
    deadline: date | None
    letters_required: int
    programs: str
    instructions: str


_MENTOR_COLUMNS = ("name", "title", "institution", "department", "specialty",
                   "last_publication", "grant_status", "connection_point", "outreach_status",
                   "rank", "timezone", "notes")


def _values(entry: MentorInput) -> tuple[object, ...]:
    return tuple(getattr(entry, c) for c in _MENTOR_COLUMNS)


def _record(row: sqlite3.Row, addresses: Iterable[sqlite3.Row]) -> MentorRecord:
    rows = list(addresses)
    emails = tuple(a["address"] for a in rows if a["kind"] != "assistant")
    assistants = tuple(a["address"] for a in rows if a["kind"] == "assistant")
    entry = MentorInput(emails=emails, assistant_emails=assistants,
                        **{c: row[c] for c in _MENTOR_COLUMNS})
    return MentorRecord(id=row["id"], entry=entry, created_at=row["created_at"])


def _application(row: sqlite3.Row) -> ApplicationRecord:
    return ApplicationRecord(
        id=row["id"], name=row["name"], system=row["system"],
        deadline=date.fromisoformat(row["deadline"]) if row["deadline"] else None,
        letters_required=row["letters_required"], programs=row["programs"],
        instructions=row["instructions"])


class Mentors(Repo):
    # -- mentors ----------------------------------------------------------------------

    def all(self) -> list[MentorRecord]:
        """All mentors, best-ranked first (unranked last, then by name)."""
        return [m for batch in self.ranked() for m in batch]

    def ranked(self, batch: int = 200, *, settled: Collection[str] | None = None,
               outreach: Collection[str] = ()) -> Iterator[list[MentorRecord]]:
        """The hit list best-ranked first (unranked last, then by name), ``batch``
        mentors at a time, read through the rank index: a reader that stops early
        reads only the first batches.

        With ``settled``, a mentor with an ask of their own record in any other state,
        or an ``outreach`` ask whose first mail went out, is left out here (through the
        asks' mentor index): on a hit list asked many times, looking for a fresh
        candidate would otherwise read every mentor and their asks. The caller still
        applies its whole rule (asks to a shared address, never twice)."""
        where = ""
        params: tuple[str, ...] = ()
        if settled is not None:
            done, reached = tuple(settled), tuple(outreach)
            where = (
                "WHERE NOT EXISTS (SELECT 1 FROM asks a WHERE a.mentor_id = mentors.id AND "
                f"(a.state NOT IN ({marks(done)}) OR (a.playbook IN ({marks(reached)}) AND "
                "json_extract(a.data, '$.first_contact_at') IS NOT NULL))) ")
            params = (*done, *reached)
        offset = 0
        while True:
            rows = self._db.execute(
                f"SELECT * FROM mentors {where}"
                "ORDER BY rank IS NULL, rank, name COLLATE NOCASE "
                "LIMIT ? OFFSET ?", (*params, batch, offset)).fetchall()
            if not rows:
                return
            ids = [r["id"] for r in rows]
            by_mentor: dict[int, list[sqlite3.Row]] = {}
            for a in self._db.execute(
                    f"SELECT * FROM mentor_addresses WHERE mentor_id IN ({marks(ids)}) "
                    "ORDER BY id", ids):
                by_mentor.setdefault(a["mentor_id"], []).append(a)
            yield [_record(r, by_mentor.get(r["id"], [])) for r in rows]
            if len(rows) < batch:
                return
            offset += batch

    def names(self) -> dict[int, str]:
        return {int(r[0]): str(r[1]) for r in self._db.execute("SELECT id, name FROM mentors")}

    def get(self, mentor_id: int) -> MentorRecord:
        row = self._db.execute("SELECT * FROM mentors WHERE id = ?", (mentor_id,)).fetchone()
        if row is None:
            raise NotFoundError("mentor", mentor_id)
        return _record(row, self._db.execute(
            "SELECT * FROM mentor_addresses WHERE mentor_id = ? ORDER BY id", (mentor_id,)))

    def find(self, ref: str) -> MentorRecord:
        """A mentor by id, by any of their addresses, or by a unique part of the name."""
        ref = ref.strip()
        if ref.isdigit():
            return self.get(int(ref))
        if "@" in ref:
            found = self.for_address(ref)
            if found is None:
                raise NotFoundError("mentor with address", ref)
            return self.get(found)
        rows = self._db.execute("SELECT id, name FROM mentors WHERE name LIKE ? ORDER BY id",
                                (f"%{ref}%",)).fetchall()
        exact = [r for r in rows if r["name"].lower() == ref.lower()]
        if len(exact) == 1:
            rows = exact
        if not rows:
            raise NotFoundError("mentor", ref)
        if len(rows) > 1:
            names = ", ".join(f"{r['id']} ({r['name']})" for r in rows[:5])
            raise UsageError(f"{ref!r} matches several mentors: {names}; use the id")
        return self.get(rows[0]["id"])

    def for_address(self, address: str) -> int | None:
        row = self._db.execute("SELECT mentor_id FROM mentor_addresses WHERE address = ?",
                               (address.strip().lower(),)).fetchone()
        return None if row is None else int(row[0])

    def _check_addresses_free(self, addresses: Iterable[str], mentor_id: int | None) -> None:
        for address in addresses:
            row = self._db.execute(
                "SELECT m.id, m.name FROM mentor_addresses a JOIN mentors m ON "
                "m.id = a.mentor_id WHERE a.address = ?", (address,)).fetchone()
            if row and row["id"] != mentor_id:
                raise UsageError(f"{address} already belongs to mentor {row['id']} "
                                 f"({row['name']})")

    def _write_addresses(self, mentor_id: int, entry: MentorInput) -> None:
        db = self._write()
        db.execute("DELETE FROM mentor_addresses WHERE mentor_id = ?", (mentor_id,))
        rows = [(mentor_id, a, "primary" if i == 0 else "other")
                for i, a in enumerate(entry.emails)]
        rows += [(mentor_id, a, "assistant") for a in entry.assistant_emails]
        db.executemany(
            "INSERT INTO mentor_addresses (mentor_id, address, kind) VALUES (?, ?, ?)", rows)

    def add(self, entry: MentorInput, now: datetime) -> int:
        self._check_addresses_free(entry.emails + entry.assistant_emails, None)
        cur = self._write().execute(
            f"INSERT INTO mentors ({', '.join(_MENTOR_COLUMNS)}, created_at) "
            f"VALUES ({', '.join('?' * len(_MENTOR_COLUMNS))}, ?)", (*_values(entry), iso(now)))
        mentor_id = int(cur.lastrowid or 0)
        self._write_addresses(mentor_id, entry)
        return mentor_id

    def update(self, mentor_id: int, changes: Mapping[str, object]) -> None:
        """Write only the fields in ``changes`` (MentorInput names).

        Never the whole row: what the user read before editing may be stale by now (the
        daemon moves outreach_status when a reply lands), and writing it back would undo
        that change.
        """
        unknown = set(changes) - {*_MENTOR_COLUMNS, "emails", "assistant_emails"}
        if unknown:
            raise UsageError(f"not a mentor field: {', '.join(sorted(unknown))}")
        columns = [c for c in _MENTOR_COLUMNS if c in changes]
        if columns:
            self._write().execute(
                f"UPDATE mentors SET {', '.join(c + ' = ?' for c in columns)} WHERE id = ?",
                (*(changes[c] for c in columns), mentor_id))
        if "emails" in changes or "assistant_emails" in changes:
            current = self.get(mentor_id).entry
            entry = dataclasses.replace(
                current,
                emails=cast(tuple[str, ...], changes.get("emails", current.emails)),
                assistant_emails=cast(tuple[str, ...], changes.get(
                    "assistant_emails", current.assistant_emails)))
            self._check_addresses_free(entry.emails + entry.assistant_emails, mentor_id)
            self._write_addresses(mentor_id, entry)

    def remove(self, mentor_id: int) -> None:
        """Delete a mentor never asked anything (a history is kept: never email twice)."""
        open_asks, asks = self._db.execute(
            "SELECT count(*) FILTER (WHERE closed_at IS NULL), count(*) FROM asks "
            "WHERE mentor_id = ?", (mentor_id,)).fetchone()
        if open_asks:
            raise UsageError(f"mentor {mentor_id} has {open_asks} open ask(s); cancel them "
                             "first (`maild ask mark ID cancel`)")
        if asks:
            raise UsageError(f"mentor {mentor_id} has a history of {asks} ask(s); it is kept "
                             "so maild never emails them twice (edit the outreach status "
                             "instead)")
        self._write().execute("DELETE FROM mentors WHERE id = ?", (mentor_id,))

    def set_outreach_status(self, mentor_id: int, status: str) -> None:
        self._write().execute("UPDATE mentors SET outreach_status = ? WHERE id = ?",
                              (status, mentor_id))

    # -- applications -----------------------------------------------------------------

    def add_application(self, name: str, deadline: date | None, letters_required: int,
                        system: str, programs: str, instructions: str, now: datetime) -> int:
        if self._db.execute("SELECT 1 FROM applications WHERE name = ?", (name,)).fetchone():
            raise UsageError(f"an application named {name!r} exists already")
        cur = self._write().execute(
            "INSERT INTO applications (name, system, deadline, letters_required, programs, "
            "instructions, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (name, system, deadline.isoformat() if deadline else None, letters_required,
             programs, instructions, iso(now)))
        return int(cur.lastrowid or 0)

    def applications(self) -> list[ApplicationRecord]:
        """Every application, the nearest deadline first (none last)."""
        return [_application(r) for r in self._db.execute(
            "SELECT * FROM applications ORDER BY deadline IS NULL, deadline, name")]

    def application(self, app_id: int) -> ApplicationRecord:
        row = self._db.execute("SELECT * FROM applications WHERE id = ?", (app_id,)).fetchone()
        if row is None:
            raise NotFoundError("application", app_id)
        return _application(row)

    def find_application(self, ref: str) -> ApplicationRecord:
        """An application by id or by name (any case)."""
        if ref.isdigit():
            return self.application(int(ref))
        row = self._db.execute("SELECT * FROM applications WHERE name = ? COLLATE NOCASE",
                               (ref,)).fetchone()
        if row is None:
            raise NotFoundError("application", ref)
        return _application(row)


# -- whole changes, each in its own transaction ---------------------------------------


def add_mentors(store: Store, entries: Iterable[MentorInput], now: datetime) -> list[int]:
    """Insert mentors all-or-nothing; returns their ids in order."""
    ids = []
    with store.transaction() as tx:
        for entry in entries:
            mentor_id = tx.mentors.add(entry, now)
            tx.events.add(now, EventKind.MENTOR_ADDED, mentor_id=mentor_id, name=entry.name)
            ids.append(mentor_id)
    return ids


def update_mentor(store: Store, mentor_id: int, changes: Mapping[str, object],
                  now: datetime) -> None:
    """Write only the changed fields, in one transaction (see ``Mentors.update``)."""
    with store.transaction() as tx:
        tx.mentors.update(mentor_id, changes)
        tx.events.add(now, EventKind.MENTOR_EDITED, mentor_id=mentor_id)


def remove_mentor(store: Store, mentor_id: int, now: datetime) -> None:
    with store.transaction() as tx:
        # The timeline row first: removing the mentor sets its mentor_id to NULL.
        tx.events.add(now, EventKind.MENTOR_REMOVED, mentor_id=mentor_id)
        tx.mentors.remove(mentor_id)


def add_application(store: Store, name: str, deadline: date | None, letters_required: int,
                    system: str, programs: str, instructions: str, now: datetime) -> int:
    with store.transaction() as tx:
        app_id = tx.mentors.add_application(name, deadline, letters_required, system,
                                            programs, instructions, now)
        tx.events.add(now, EventKind.APPLICATION_ADDED, application_id=app_id, name=name)
    return app_id
