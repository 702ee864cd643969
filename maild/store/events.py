"""The timeline in the store: an append-only log of everything that happened.

Rows are written, never changed (triggers refuse UPDATE and DELETE). Their ``type`` is
an ``EventKind``; the detail is JSON for people and for the timeline view. Code that
has to decide something (how often a send was retried, which drafts were announced)
reads typed columns elsewhere, never the log by its text.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from maild.core.events import EventKind
from maild.store.sql import Repo, iso

# The newest row when a notice was queued: (id, at, type, detail).
Anchor = tuple[int, str, str, str]


@dataclass(frozen=True)
class EventRow:
    id: int
    at: datetime
    kind: str  # an EventKind, or a kind an older or newer maild wrote
    ask_id: int | None
    mentor_id: int | None
    detail: dict[str, Any]


def _row(r: Any) -> EventRow:
    return EventRow(id=r["id"], at=datetime.fromisoformat(r["at"]), kind=r["type"],
                    ask_id=r["ask_id"], mentor_id=r["mentor_id"],
                    detail=json.loads(r["detail"] or "{}"))


class Events(Repo):
    def add(self, when: datetime, kind: EventKind, /, *, ask_id: int | None = None,
            mentor_id: int | None = None, **detail: Any) -> int:
        """Append a row; its id."""
        cur = self._write().execute(
            "INSERT INTO events (at, ask_id, mentor_id, type, detail) VALUES (?, ?, ?, ?, ?)",
            (iso(when), ask_id, mentor_id, str(EventKind(kind)),
             json.dumps(detail, default=str)))
        return int(cur.lastrowid or 0)

    def latest(self) -> Anchor | None:
        """The newest row, as an anchor that ``exists`` finds only once it is committed."""
        row = self._db.execute(
            "SELECT id, at, type, detail FROM events WHERE id = (SELECT max(id) FROM events)"
        ).fetchone()
        return (int(row[0]), str(row[1]), str(row[2]), str(row[3])) if row else None

    def exists(self, anchor: Anchor) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM events WHERE id = ? AND at = ? AND type = ? AND detail = ?",
            anchor).fetchone()
        return row is not None

    def every(self) -> Iterator[EventRow]:
        """The whole timeline, oldest first (streamed)."""
        for r in self._db.execute("SELECT * FROM events ORDER BY at, id"):
            yield _row(r)

    def of_open_asks(self, kind: EventKind, since: datetime) -> list[EventRow]:
        """Rows of one kind since ``since`` that belong to asks still open."""
        return [_row(r) for r in self._db.execute(
            "SELECT e.* FROM events e JOIN asks a ON a.id = e.ask_id WHERE e.type = ? "
            "AND e.at >= ? AND a.closed_at IS NULL ORDER BY e.at, e.id",
            (str(kind), iso(since)))]

    def last_at(self, kind: EventKind) -> datetime | None:
        """When a row of this kind was last written."""
        row = self._db.execute("SELECT max(at) FROM events WHERE type = ?",
                               (str(kind),)).fetchone()
        return datetime.fromisoformat(row[0]) if row and row[0] else None
