"""Read-only queries for the pages people read: Today, a draft, a mentor's timeline.

The web page (``maild ui``), ``maild status``, ``maild timeline`` and the calendar all
read through here, so the page and the terminal show the same truth. Functions of a
``Store`` rather than a repository of ``store.read``: they join across the tables the
repositories keep apart. Every query joins
what one screen needs in one pass (mentor names, step names, the message a reply's
reading came from) instead of one query per row; nothing here writes.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from maild.core.model import Ask, DraftStatus
from maild.store.db import Store
from maild.store.drafts import Draft
from maild.store.sql import iso

# Steps that still lie ahead (a drafted or approved one waits for the user or the sender).
OPEN_STEP_STATUSES = ("planned", "drafted", "approved", "failed", "uncertain")


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def mentor_names(store: Store) -> dict[int, str]:
    return store.read.mentors.names()


@dataclass(frozen=True)
class StepRow:
    """A step of an open ask, with who it concerns."""

    step_id: int
    ask_id: int
    mentor_id: int
    mentor: str
    playbook: str
    ask_state: str
    name: str
    kind: str
    status: str
    due_at: datetime
    reason: str | None
    note: str | None
    send_by: datetime | None
    application: str | None


def _step_row(r: sqlite3.Row) -> StepRow:
    data = json.loads(r["data"] or "{}")
    return StepRow(step_id=r["id"], ask_id=r["ask_id"], mentor_id=r["mentor_id"],
                   mentor=r["mentor"], playbook=r["playbook"], ask_state=r["state"],
                   name=r["name"], kind=r["kind"], status=r["status"],
                   due_at=datetime.fromisoformat(r["due_at"]), reason=data.get("reason"),
                   note=data.get("note"), send_by=_time(data.get("send_by")),
                   application=r["application"])


_STEP_SELECT = (
    "SELECT s.*, a.mentor_id, a.playbook, a.state, m.name AS mentor, p.name AS application "
    "FROM steps s JOIN asks a ON a.id = s.ask_id JOIN mentors m ON m.id = a.mentor_id "
    "LEFT JOIN applications p ON p.id = a.application_id ")


def open_steps(store: Store) -> list[StepRow]:
    """Every step still ahead of an open ask, soonest first."""
    rows = store._db.execute(
        _STEP_SELECT + f"WHERE a.closed_at IS NULL AND s.status IN "
        f"({','.join('?' * len(OPEN_STEP_STATUSES))}) ORDER BY s.due_at, s.id",
        OPEN_STEP_STATUSES).fetchall()
    return [_step_row(r) for r in rows]


def steps_of_mentor(store: Store, mentor_id: int) -> list[StepRow]:
    """Every step of every ask to one mentor (open or not), by due time."""
    rows = store._db.execute(_STEP_SELECT + "WHERE a.mentor_id = ? ORDER BY s.due_at, s.id",
                            (mentor_id,)).fetchall()
    return [_step_row(r) for r in rows]


def steps_for_calendar(store: Store, names: Sequence[str]) -> list[StepRow]:
    """Steps with one of ``names`` that are not called off, of asks still open."""
    rows = store._db.execute(
        _STEP_SELECT + f"WHERE a.closed_at IS NULL AND s.name IN "
        f"({','.join('?' * len(names))}) AND s.status NOT IN ('cancelled', 'superseded') "
        "ORDER BY s.due_at", tuple(names)).fetchall()
    return [_step_row(r) for r in rows]


def letter_step_marks(store: Store, names: Sequence[str]
                      ) -> dict[int, dict[str, tuple[datetime, str]]]:
    """For each letter ask of an application: its latest step of each of ``names``, as
    (due, status); without building the asks' other steps."""
    out: dict[int, dict[str, tuple[datetime, str]]] = {}
    for r in store._db.execute(
            f"SELECT s.ask_id, s.name, s.due_at, s.status FROM steps s JOIN asks a "
            f"ON a.id = s.ask_id WHERE a.playbook = 'letter' AND a.application_id IS NOT "
            f"NULL AND s.name IN ({','.join('?' * len(names))}) ORDER BY s.id", tuple(names)):
        out.setdefault(int(r[0]), {})[str(r[1])] = (datetime.fromisoformat(r[2]), str(r[3]))
    return out


@dataclass(frozen=True)
class DraftRow:
    """A draft with the names the page shows next to it."""

    draft: Draft
    mentor_id: int
    mentor: str
    playbook: str
    ask_state: str
    step: str | None
    step_due: datetime | None
    send_by: datetime | None
    application: str | None


def _draft_rows(store: Store, drafts: Iterable[Draft]) -> list[DraftRow]:
    drafts = list(drafts)
    if not drafts:
        return []
    ask_ids = sorted({d.ask_id for d in drafts})
    step_ids = sorted({d.spec.step_id for d in drafts if d.spec.step_id is not None})
    asks = {r["id"]: r for r in store._db.execute(
        "SELECT a.id, a.mentor_id, a.playbook, a.state, m.name AS mentor, p.name AS application "
        "FROM asks a JOIN mentors m ON m.id = a.mentor_id LEFT JOIN applications p "
        f"ON p.id = a.application_id WHERE a.id IN ({','.join('?' * len(ask_ids))})",
        ask_ids)}
    steps = {r["id"]: r for r in store._db.execute(
        f"SELECT id, name, due_at, data FROM steps WHERE id IN ({','.join('?' * len(step_ids))})",
        step_ids)} if step_ids else {}
    out = []
    for d in drafts:
        a = asks.get(d.ask_id)
        s = steps.get(d.spec.step_id) if d.spec.step_id is not None else None
        data = json.loads(s["data"] or "{}") if s is not None else {}
        out.append(DraftRow(
            draft=d, mentor_id=a["mentor_id"] if a else 0, mentor=a["mentor"] if a else "?",
            playbook=a["playbook"] if a else "?", ask_state=a["state"] if a else "?",
            step=s["name"] if s is not None else None,
            step_due=_time(s["due_at"]) if s is not None else None,
            send_by=_time(data.get("send_by")), application=a["application"] if a else None))
    return out


def drafts_with_status(store: Store, statuses: tuple[DraftStatus, ...]) -> list[DraftRow]:
    return _draft_rows(store, store.read.drafts.with_status(*statuses))


def draft_row(store: Store, draft_id: int) -> DraftRow:
    """One draft with its names; NotFoundError when there is no such draft."""
    [row] = _draft_rows(store, [store.read.drafts.get(draft_id)])
    return row


def drafts_of_mentor(store: Store, mentor_id: int) -> list[DraftRow]:
    ids = [int(r[0]) for r in store._db.execute(
        "SELECT d.id FROM drafts d JOIN asks a ON a.id = d.ask_id WHERE a.mentor_id = ? "
        "ORDER BY d.created_at, d.id", (mentor_id,))]
    return _draft_rows(store, [store.read.drafts.get(i) for i in ids])


def failed_since(store: Store, since: datetime) -> set[int]:
    """Ids of drafts that failed at or after ``since`` (older failures are old news)."""
    return {int(r[0]) for r in store._db.execute(
        "SELECT id FROM drafts WHERE status = 'failed' AND updated_at >= ?", (iso(since),))}


@dataclass(frozen=True)
class MessageRow:
    """A message seen in the mailbox (or sent by maild), with maild's reading of it."""

    id: int
    ask_id: int | None
    direction: str
    kind: str | None
    intent: str | None
    subject: str
    date: datetime | None
    from_addr: str
    to_addrs: tuple[str, ...]
    reply_text: str
    match_reason: str | None
    evidence: tuple[str, ...]
    message_id: str | None = None
    # Recorded when maild sent it (not found in a watched folder).
    by_maild: bool = False


def _evidence(raw: Any) -> tuple[str, ...]:
    if not raw:
        return ()
    if isinstance(raw, str):
        return (raw,)
    if isinstance(raw, list | tuple):
        return tuple(str(x) for x in raw)
    return (str(raw),)


# The message's event (written in the same transaction, at the same instant, with the
# same subject) carries the evidence of the reading; the row itself does not. Looked up
# through the ask's index (events_ask): a scan of the events per message would make a
# long history slow. COALESCE evaluates its second query only for unmatched messages.
_EVENT_OF = (
    "SELECT e.detail FROM events e WHERE e.type = 'message_' || g.direction "
    "AND e.at = g.created_at AND json_extract(e.detail, '$.subject') IS g.subject AND ")
_MESSAGE_SELECT = (
    f"SELECT g.*, coalesce(({_EVENT_OF} e.ask_id = g.ask_id ORDER BY e.id LIMIT 1), "
    f"({_EVENT_OF} g.ask_id IS NULL AND e.ask_id IS NULL ORDER BY e.id LIMIT 1)) AS event "
    "FROM messages g ")


def _message(r: sqlite3.Row) -> MessageRow:
    event = json.loads(r["event"]) if r["event"] else {}
    try:
        to = tuple(json.loads(r["to_addrs"] or "[]"))
    except ValueError:
        to = ()
    return MessageRow(id=r["id"], ask_id=r["ask_id"], direction=r["direction"], kind=r["kind"],
                      intent=r["intent"], subject=r["subject"] or "", date=_time(r["date"])
                      or _time(r["created_at"]), from_addr=r["from_addr"] or "",
                      to_addrs=to, reply_text=r["reply_text"] or "",
                      match_reason=r["match_reason"], evidence=_evidence(event.get("evidence")),
                      message_id=r["message_id"], by_maild=r["folder"] == "smtp")


def messages_of_mentor(store: Store, mentor_id: int) -> list[MessageRow]:
    """Every message of the mentor's asks, and any from their addresses, oldest first."""
    rows = store._db.execute(
        _MESSAGE_SELECT + "WHERE g.ask_id IN (SELECT id FROM asks WHERE mentor_id = ?) "
        "OR (g.ask_id IS NULL AND g.direction = 'in' AND lower(g.from_addr) IN "
        "(SELECT address FROM mentor_addresses WHERE mentor_id = ?)) "
        "ORDER BY coalesce(g.date, g.created_at), g.id", (mentor_id, mentor_id)).fetchall()
    return [_message(r) for r in rows]


def latest_inbound(store: Store, ask_ids: Sequence[int]) -> dict[int, MessageRow]:
    """The newest message received for each of ``ask_ids`` (asks without one are absent)."""
    if not ask_ids:
        return {}
    latest: dict[int, int] = {}
    for start in range(0, len(ask_ids), 900):  # SQLite's bound-parameter limit
        chunk = tuple(ask_ids[start:start + 900])
        for ask_id, message_id in store._db.execute(
                f"SELECT ask_id, id FROM messages WHERE direction = 'in' AND ask_id IN "
                f"({','.join('?' * len(chunk))}) ORDER BY coalesce(date, created_at), id",
                chunk):
            latest[int(ask_id)] = int(message_id)  # later rows replace earlier ones
    ids = tuple(latest.values())
    found: dict[int, MessageRow] = {}
    for start in range(0, len(ids), 900):
        chunk = ids[start:start + 900]
        for r in store._db.execute(
                _MESSAGE_SELECT + f"WHERE g.id IN ({','.join('?' * len(chunk))})", chunk):
            found[int(r["ask_id"])] = _message(r)
    return found


@dataclass(frozen=True)
class AskRow:
    """An ask's own fields with its mentor's name, for lists (no steps)."""

    id: int
    mentor_id: int
    mentor: str
    playbook: str
    state: str
    needs_review: bool
    application_id: int | None
    application: str | None
    created_at: datetime
    closed_at: datetime | None
    data: dict[str, Any]


def _ask_row(r: sqlite3.Row) -> AskRow:
    return AskRow(id=r["id"], mentor_id=r["mentor_id"], mentor=r["mentor"],
                  playbook=r["playbook"], state=r["state"], needs_review=bool(r["needs_review"]),
                  application_id=r["application_id"], application=r["application"],
                  created_at=datetime.fromisoformat(r["created_at"]),
                  closed_at=_time(r["closed_at"]), data=json.loads(r["data"] or "{}"))


_ASK_SELECT = ("SELECT a.*, m.name AS mentor, p.name AS application FROM asks a "
               "JOIN mentors m ON m.id = a.mentor_id "
               "LEFT JOIN applications p ON p.id = a.application_id ")


def asks_to_review(store: Store, states: Sequence[str]) -> list[AskRow]:
    """Open asks flagged for review, or in one of ``states`` (the mentor waits on the user)."""
    rows = store._db.execute(
        _ASK_SELECT + f"WHERE a.closed_at IS NULL AND (a.needs_review = 1 OR a.state IN "
        f"({','.join('?' * len(states))})) ORDER BY a.updated_at DESC, a.id",
        tuple(states)).fetchall()
    return [_ask_row(r) for r in rows]


def asks_of_mentor(store: Store, mentor_id: int) -> list[AskRow]:
    rows = store._db.execute(_ASK_SELECT + "WHERE a.mentor_id = ? ORDER BY a.created_at, a.id",
                            (mentor_id,)).fetchall()
    return [_ask_row(r) for r in rows]


def ask_row(store: Store, ask_id: int) -> AskRow | None:
    row = store._db.execute(_ASK_SELECT + "WHERE a.id = ?", (ask_id,)).fetchone()
    return _ask_row(row) if row else None


def asks_with_meetings(store: Store) -> list[AskRow]:
    rows = store._db.execute(
        _ASK_SELECT + "WHERE json_extract(a.data, '$.meeting_at') IS NOT NULL "
        "ORDER BY a.id").fetchall()
    return [_ask_row(r) for r in rows]


def letter_asks_with_deadline(store: Store) -> list[AskRow]:
    """Open letter asks that know their deadline."""
    rows = store._db.execute(
        _ASK_SELECT + "WHERE a.playbook = 'letter' AND a.closed_at IS NULL AND "
        "json_extract(a.data, '$.deadline') IS NOT NULL ORDER BY a.id").fetchall()
    return [_ask_row(r) for r in rows]


def letter_asks(store: Store) -> list[Ask]:
    """Every letter ask of an application, with the ask's own fields only (no steps)."""
    return store.read.asks._load("playbook = 'letter' AND application_id IS NOT NULL", (),
                                 with_steps=False)


@dataclass(frozen=True)
class LetterCount:
    """How many letters of an application are committed and in, whatever the ask's state
    is now (an outcome closes the asks, but a submitted letter stays submitted)."""

    asked: int
    committed: int
    submitted: int
    # A hesitant yes is not a letter to count on: counted apart (and a risk in status).
    hesitant: int = 0


def letter_counts(store: Store) -> dict[int, LetterCount]:
    rows = store._db.execute(
        "SELECT application_id, count(*) AS asked, "
        "sum(json_extract(data, '$.agreed_at') IS NOT NULL "
        "OR json_extract(data, '$.submitted_at') IS NOT NULL OR state IN "
        "('agreed', 'submitted')) AS committed, "
        "sum(json_extract(data, '$.submitted_at') IS NOT NULL OR state = 'submitted') "
        "AS submitted, "
        "sum(state = 'hesitant' AND json_extract(data, '$.agreed_at') IS NULL "
        "AND json_extract(data, '$.submitted_at') IS NULL) AS hesitant "
        "FROM asks WHERE playbook = 'letter' AND application_id IS NOT NULL "
        "AND state NOT IN ('declined', 'cancelled', 'no_response') "
        "GROUP BY application_id").fetchall()
    asked = {int(r[0]): int(r[1]) for r in store._db.execute(
        "SELECT application_id, count(*) FROM asks WHERE playbook = 'letter' "
        "AND application_id IS NOT NULL GROUP BY application_id")}
    out = {app: LetterCount(asked=n, committed=0, submitted=0) for app, n in asked.items()}
    for r in rows:
        app = int(r["application_id"])
        out[app] = LetterCount(asked=asked.get(app, 0), committed=int(r["committed"] or 0),
                               submitted=int(r["submitted"] or 0),
                               hesitant=int(r["hesitant"] or 0))
    return out


@dataclass(frozen=True)
class TaskRow:
    """A task maild gave the user (call the office), still relevant."""

    ask_id: int
    mentor_id: int
    mentor: str
    text: str
    step: str | None
    due: datetime | None
    at: datetime


def tasks_since(store: Store, since: datetime) -> list[TaskRow]:
    """Tasks given since ``since`` for asks still open."""
    rows = store._db.execute(
        "SELECT e.ask_id, e.at, e.detail, a.mentor_id, m.name AS mentor FROM events e "
        "JOIN asks a ON a.id = e.ask_id JOIN mentors m ON m.id = a.mentor_id "
        "WHERE e.type = 'task' AND e.at >= ? AND a.closed_at IS NULL ORDER BY e.at, e.id",
        (iso(since),)).fetchall()
    out = []
    for r in rows:
        detail = json.loads(r["detail"] or "{}")
        out.append(TaskRow(ask_id=r["ask_id"], mentor_id=r["mentor_id"], mentor=r["mentor"],
                           text=str(detail.get("text", "a task")), step=detail.get("step"),
                           due=_time(detail.get("due")),
                           at=datetime.fromisoformat(r["at"])))
    return out


@dataclass(frozen=True)
class FolderSync:
    account: str
    folder: str
    synced_at: datetime


def folder_syncs(store: Store) -> list[FolderSync]:
    """When each watched folder was last read (its cursor's last move)."""
    return [FolderSync(account=r[0], folder=r[1], synced_at=datetime.fromisoformat(r[2]))
            for r in store._db.execute(
                "SELECT account, folder, updated_at FROM folder_state ORDER BY account, folder")]


@dataclass(frozen=True)
class EventRow:
    id: int
    at: datetime
    type: str
    ask_id: int | None
    detail: dict[str, Any]


def events_of_mentor(store: Store, mentor_id: int) -> list[EventRow]:
    """The mentor's timeline: their events and those of their asks, oldest first."""
    rows = store._db.execute(
        "SELECT * FROM events WHERE mentor_id = ? OR ask_id IN "
        "(SELECT id FROM asks WHERE mentor_id = ?) ORDER BY at, id",
        (mentor_id, mentor_id)).fetchall()
    return [EventRow(id=r["id"], at=datetime.fromisoformat(r["at"]), type=r["type"],
                     ask_id=r["ask_id"], detail=json.loads(r["detail"] or "{}")) for r in rows]


@dataclass(frozen=True)
class MentorActivity:
    """A mentor's asks at a glance, for the hit list."""

    open_asks: int
    asks: int
    last_state: str | None
    last_contact: datetime | None


def mentor_activity(store: Store) -> dict[int, MentorActivity]:
    rows = store._db.execute(
        "SELECT mentor_id, sum(closed_at IS NULL) AS open, count(*) AS n, "
        "(SELECT state FROM asks b WHERE b.mentor_id = a.mentor_id "
        " ORDER BY b.created_at DESC, b.id DESC LIMIT 1) AS last_state, "
        "max(json_extract(data, '$.last_contact_at')) AS last_contact "
        "FROM asks a GROUP BY mentor_id").fetchall()
    return {int(r["mentor_id"]): MentorActivity(
        open_asks=int(r["open"] or 0), asks=int(r["n"]), last_state=r["last_state"],
        last_contact=_time(r["last_contact"])) for r in rows}
