"""Drafts in the store: the rendered emails waiting for approval, and their send state.

A draft's status is the send path's write-ahead log (invariant 2, see ``DraftStatus``).
``Drafts.set_status`` is a compare-and-set checked against ``DRAFT_LIFECYCLE``; the only
code that calls it is ``maild.app.lifecycle``. What the send path needs to decide
(retry attempts, whether the Drafts folder has a copy, which states the user was told
about) lives in typed columns and tables, not in the timeline's text.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from maild.core.model import (
    DRAFT_LIFECYCLE,
    HOLDING_STATES,
    MAYBE_SENT_DRAFT_STATUSES,
    OPEN_DRAFT_STATUSES,
    DraftStatus,
)
from maild.errors import NotFoundError, UsageError
from maild.store.sql import Repo, iso, marks, parse_time

OPEN_STATUSES: tuple[DraftStatus, ...] = tuple(sorted(OPEN_DRAFT_STATUSES))


class Mirror:
    """Whether the account's Drafts folder has a copy (``drafts.mirrored``)."""

    COPIED = "copied"
    SKIPPED = "skipped"  # there will be none: no Drafts folder, or not renderable


@dataclass(frozen=True)
class DraftSpec:
    """What a new draft says; the store adds id, status and times."""

    ask_id: int
    step_id: int | None
    account: str
    from_addr: str
    from_name: str
    to_addrs: tuple[tuple[str, str], ...]  # (address, display name)
    subject: str
    body: str
    message_id: str
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    attachments: tuple[str, ...] = ()
    missing_fields: tuple[str, ...] = ()
    template: str | None = None
    fields: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Draft:
    id: int
    status: DraftStatus
    spec: DraftSpec
    send_after: datetime | None
    created_at: datetime
    sent_at: datetime | None
    updated_at: datetime | None = None

    @property
    def ask_id(self) -> int:
        return self.spec.ask_id


def _load_to(text: str) -> tuple[tuple[str, str], ...]:
    return tuple((a, n) for a, n in json.loads(text))


def _draft(row: sqlite3.Row) -> Draft:
    meta = json.loads(row["meta"] or "{}")
    spec = DraftSpec(
        ask_id=row["ask_id"], step_id=row["step_id"], account=row["account"],
        from_addr=row["from_addr"], from_name=meta.get("from_name", ""),
        to_addrs=_load_to(row["to_addrs"]), subject=row["subject"], body=row["body"],
        message_id=row["message_id"], in_reply_to=row["in_reply_to"],
        references=tuple((row["references_"] or "").split()),
        attachments=tuple(json.loads(row["attachments"] or "[]")),
        missing_fields=tuple(json.loads(row["missing_fields"] or "[]")),
        template=meta.get("template"),
        fields=tuple((k, v) for k, v in meta.get("fields", [])),
    )
    return Draft(
        id=row["id"], status=DraftStatus(row["status"]), spec=spec,
        send_after=parse_time(row["send_after"]),
        created_at=datetime.fromisoformat(row["created_at"]),
        sent_at=parse_time(row["sent_at"]), updated_at=parse_time(row["updated_at"]),
    )


def _in_thread(row: sqlite3.Row, thread: Collection[str]) -> bool:
    """A message the user sent (``out``) belongs to the reply thread only if it is in
    ``thread``; maild's own sends and people's messages always do."""
    return row["direction"] != "out" or row["message_id"] in thread


def _meta(spec: DraftSpec) -> str:
    return json.dumps({"from_name": spec.from_name, "template": spec.template,
                       "fields": [list(f) for f in spec.fields]})


def _names(statuses: Iterable[StrEnum]) -> tuple[str, ...]:
    return tuple(str(s) for s in statuses)


_HELD_ASKS = _names(HOLDING_STATES)
# An ask's letter deadline while the letter is not in (ISO dates sort as text).
_DEADLINE_BOUND = ("(CASE WHEN json_extract(a.data, '$.submitted_at') IS NULL "
                   "THEN json_extract(a.data, '$.deadline') END)")
# A second word to the user about a draft that waited for days (not a draft status).
REMINDED = "reminded"


@dataclass(frozen=True)
class MailOut:
    """A mail that went (or may have gone) to a mentor: by maild, or by the user."""

    ask_id: int | None
    subject: str
    at: datetime


class Drafts(Repo):
    # -- reading ----------------------------------------------------------------------

    def get(self, draft_id: int) -> Draft:
        row = self._db.execute("SELECT * FROM drafts WHERE id = ?", (draft_id,)).fetchone()
        if row is None:
            raise NotFoundError("draft", draft_id)
        return _draft(row)

    def with_status(self, *statuses: DraftStatus) -> list[Draft]:
        """Drafts in any of these statuses, oldest first."""
        return list(self.each(*statuses))

    def each(self, *statuses: DraftStatus) -> Iterator[Draft]:
        """``with_status``, one draft at a time (for listings of any length)."""
        names = _names(statuses or OPEN_STATUSES)
        for row in self._db.execute(
                f"SELECT * FROM drafts WHERE status IN ({marks(names)}) "
                "ORDER BY created_at, id", names):
            yield _draft(row)

    def of_step(self, step_id: int) -> list[Draft]:
        return [_draft(r) for r in self._db.execute(
            "SELECT * FROM drafts WHERE step_id = ? ORDER BY id", (step_id,))]

    def by_message_id(self, message_id: str) -> Draft | None:
        row = self._db.execute("SELECT * FROM drafts WHERE message_id = ?",
                               (message_id,)).fetchone()
        return _draft(row) if row else None

    def step_name(self, draft: Draft) -> str | None:
        """The name of the step ``draft`` belongs to (None for a draft without a step)."""
        if draft.spec.step_id is None:
            return None
        row = self._db.execute("SELECT name FROM steps WHERE id = ?",
                               (draft.spec.step_id,)).fetchone()
        return str(row[0]) if row else None

    def pending_for_mentor(self, mentor_id: int) -> list[Draft]:
        """The drafts waiting for approval in the asks of one mentor."""
        return [_draft(r) for r in self._db.execute(
            "SELECT d.* FROM drafts d JOIN asks a ON a.id = d.ask_id WHERE a.mentor_id = ? "
            "AND d.status = 'pending' ORDER BY d.id", (mentor_id,))]

    def mail_to_mentor_since(self, mentor_id: int, since: datetime,
                             exclude: int | None = None) -> list[MailOut]:
        """Mail to any of the mentor's addresses since ``since``, from any ask: maild's
        sends (``sending`` and ``uncertain`` count: they may have gone out) and what the
        user sent from their own client (seen in Sent)."""
        rows = self._db.execute(
            "SELECT d.ask_id, d.subject, d.sent_at AS at FROM drafts d "
            "JOIN asks a ON a.id = d.ask_id WHERE a.mentor_id = ? AND d.id IS NOT ? "
            f"AND d.status IN ({marks(MAYBE_SENT_DRAFT_STATUSES)}) AND d.sent_at >= ? "
            "UNION ALL SELECT m.ask_id, m.subject, m.date AS at FROM messages m "
            "WHERE m.direction = 'out' AND m.folder != 'smtp' AND m.date >= ? "
            "AND coalesce(m.message_id, '') NOT IN (SELECT message_id FROM drafts) "
            "AND EXISTS (SELECT 1 FROM json_each(m.to_addrs) j JOIN mentor_addresses ma "
            "ON ma.address = j.value WHERE ma.mentor_id = ?) ORDER BY at",
            (mentor_id, exclude, *_names(MAYBE_SENT_DRAFT_STATUSES), iso(since), iso(since),
             mentor_id)).fetchall()
        return [MailOut(r["ask_id"], r["subject"] or "", datetime.fromisoformat(r["at"]))
                for r in rows]

    def count(self, status: DraftStatus) -> int:
        row = self._db.execute("SELECT count(*) FROM drafts WHERE status = ?",
                               (str(status),)).fetchone()
        return int(row[0])

    def sendable(self) -> list[Draft]:
        """Approved drafts, without those of an ask that is paused, waits for an address
        or for a failed first mail: they wait, unchanged, until the ask is released.

        In the order they should claim a scarce send (one email a day per mentor, the
        daily cap): mail bound to a deadline first (an ask with a letter deadline whose
        letter is not in yet), nearest deadline first; then the earliest due step; then
        the oldest draft."""
        return [_draft(r) for r in self._db.execute(
            "SELECT d.* FROM drafts d JOIN asks a ON a.id = d.ask_id "
            "LEFT JOIN steps s ON s.id = d.step_id "
            f"WHERE d.status = 'approved' AND a.state NOT IN ({marks(_HELD_ASKS)}) "
            f"ORDER BY {_DEADLINE_BOUND} IS NULL, {_DEADLINE_BOUND}, "
            "s.due_at IS NULL, s.due_at, d.created_at, d.id", _HELD_ASKS)]

    def next_send_after(self) -> datetime | None:
        """The earliest moment a sendable draft waits for."""
        row = self._db.execute(
            "SELECT min(d.send_after) FROM drafts d JOIN asks a ON a.id = d.ask_id "
            f"WHERE d.status = 'approved' AND a.state NOT IN ({marks(_HELD_ASKS)})",
            _HELD_ASKS).fetchone()
        return parse_time(row[0]) if row else None

    def needing_user(self, failed_since: datetime) -> list[Draft]:
        """Drafts the user has to look at: waiting for approval, sends of unknown fate,
        and sends that failed since ``failed_since`` (older failures are history)."""
        return [_draft(r) for r in self._db.execute(
            "SELECT * FROM drafts WHERE status IN ('pending', 'uncertain') "
            "OR (status = 'failed' AND updated_at >= ?) ORDER BY created_at, id",
            (iso(failed_since),))]

    def send_times(self, account: str, since: datetime) -> list[datetime]:
        """When this account's messages went out (or may have) since ``since``, oldest
        first: ``sending`` and ``uncertain`` count, erring on the side of sending less."""
        names = _names(MAYBE_SENT_DRAFT_STATUSES)
        rows = self._db.execute(
            f"SELECT sent_at FROM drafts WHERE account = ? AND sent_at >= ? "
            f"AND status IN ({marks(names)}) ORDER BY sent_at",
            (account, iso(since), *names)).fetchall()
        return [datetime.fromisoformat(r[0]) for r in rows]

    def first_sent_subject(self, ask_id: int, thread: Collection[str] = ()) -> str | None:
        """The subject of the ask's first mail that went out, else of its first message.

        A message the user sent on their own counts only if it is in ``thread`` (the
        ask's thread): a new thread they started is not the one maild replies in.
        """
        row = self._db.execute(
            "SELECT subject FROM drafts WHERE ask_id = ? AND status = 'sent' "
            "ORDER BY sent_at, id LIMIT 1", (ask_id,)).fetchone()
        if row is None:
            rows = self._db.execute(
                "SELECT subject, message_id, direction FROM messages WHERE ask_id = ? "
                "ORDER BY date, id", (ask_id,)).fetchall()
            row = next((r for r in rows if _in_thread(r, thread)), None)
        return None if row is None else str(row[0])

    def thread_message_ids(self, ask_id: int, thread: Collection[str] = ()) -> list[str]:
        """Message-IDs of the ask's thread (what maild sent, what people wrote), oldest
        first; the user's own messages only if in ``thread``, as above."""
        return [str(r[0]) for r in self._db.execute(
            "SELECT message_id, sent_at AS at, 'in' AS direction FROM drafts "
            "WHERE ask_id = ? AND status = 'sent' "
            "UNION ALL SELECT message_id, coalesce(date, created_at) AS at, direction "
            "FROM messages WHERE ask_id = ? AND message_id IS NOT NULL "
            "AND (kind IS NULL OR kind = 'human') ORDER BY at", (ask_id, ask_id))
            if _in_thread(r, thread)]

    # -- writing ----------------------------------------------------------------------

    def insert(self, spec: DraftSpec, now: datetime, send_after: datetime | None = None) -> int:
        """A new draft, ``pending`` (the only way a draft is born)."""
        status = DraftStatus.PENDING
        DRAFT_LIFECYCLE.check(None, status, "(new)")
        cur = self._write().execute(
            "INSERT INTO drafts (ask_id, step_id, account, from_addr, to_addrs, meta, subject, "
            "body, message_id, in_reply_to, references_, attachments, missing_fields, status, "
            "send_after, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (spec.ask_id, spec.step_id, spec.account, spec.from_addr,
             json.dumps([list(t) for t in spec.to_addrs]), _meta(spec), spec.subject,
             spec.body, spec.message_id, spec.in_reply_to, " ".join(spec.references) or None,
             json.dumps(list(spec.attachments)), json.dumps(list(spec.missing_fields)),
             str(status), iso(send_after) if send_after else None, iso(now), iso(now)))
        return int(cur.lastrowid or 0)

    def update_content(self, draft_id: int, spec: DraftSpec, now: datetime) -> None:
        """A draft's content rendered again (new inputs, the user's fields or edits):
        what it says, to whom, in which thread and with which files; its Message-ID
        stays."""
        self._write().execute(
            "UPDATE drafts SET to_addrs = ?, meta = ?, subject = ?, body = ?, "
            "missing_fields = ?, attachments = ?, in_reply_to = ?, references_ = ?, "
            "updated_at = ? WHERE id = ?",
            (json.dumps([list(t) for t in spec.to_addrs]), _meta(spec), spec.subject,
             spec.body, json.dumps(list(spec.missing_fields)),
             json.dumps(list(spec.attachments)), spec.in_reply_to,
             " ".join(spec.references) or None, iso(now), draft_id))

    def set_problems(self, draft_id: int, problems: tuple[str, ...], now: datetime) -> None:
        """Record why an approved draft is held (shown as what it needs), or clear it."""
        self._write().execute(
            "UPDATE drafts SET missing_fields = ?, updated_at = ? WHERE id = ?",
            (json.dumps(list(problems)), iso(now), draft_id))

    def set_status(self, draft_id: int, status: DraftStatus, now: datetime, *,
                   expect: Iterable[DraftStatus], sent_at: datetime | None = None,
                   send_after: datetime | None = None) -> DraftStatus:
        """Change the status, only from one of ``expect`` (a compare-and-set) and only
        along ``DRAFT_LIFECYCLE``; returns the status it had. A UsageError names the
        status it has when it is not one of ``expect``."""
        db = self._write()
        expected = tuple(expect)
        current = self.get(draft_id).status
        if current not in expected:
            raise UsageError(f"draft {draft_id} is {current}, not "
                             f"{' or '.join(str(e) for e in expected)}")
        DRAFT_LIFECYCLE.check(current, DraftStatus(status), draft_id)
        sql = "UPDATE drafts SET status = ?, updated_at = ?"
        params: list[object] = [str(status), iso(now)]
        if sent_at is not None:
            sql += ", sent_at = ?"
            params.append(iso(sent_at))
        if send_after is not None:
            sql += ", send_after = ?"
            params.append(iso(send_after))
        cur = db.execute(sql + " WHERE id = ? AND status = ?", (*params, draft_id, str(current)))
        if cur.rowcount != 1:  # pragma: no cover - the write lock makes this a bug
            raise UsageError(f"draft {draft_id} changed while it was being updated")
        return current

    def bump_attempts(self, draft_id: int) -> int:
        """One more temporary failure in a row; how many there have been."""
        db = self._write()
        db.execute("UPDATE drafts SET attempts = attempts + 1 WHERE id = ?", (draft_id,))
        row = db.execute("SELECT attempts FROM drafts WHERE id = ?", (draft_id,)).fetchone()
        return int(row[0]) if row else 0

    def record_sent(self, draft: Draft, at: datetime) -> None:
        """The message row of a mail maild sent (what a reply to it is matched by)."""
        s = draft.spec
        self._write().execute(
            "INSERT INTO messages (account, folder, message_id, in_reply_to, references_, "
            "from_addr, to_addrs, subject, date, direction, kind, ask_id, match_reason, "
            "created_at) VALUES (?, 'smtp', ?, ?, ?, ?, ?, ?, ?, 'out', 'human', ?, "
            "'sent by maild', ?)",
            (s.account, s.message_id, s.in_reply_to, " ".join(s.references) or None,
             s.from_addr, json.dumps([a for a, _n in s.to_addrs]), s.subject, iso(at),
             s.ask_id, iso(at)))

    # -- the Drafts-folder mirror -----------------------------------------------------

    def unmirrored(self) -> list[Draft]:
        """Pending drafts that have no copy in the Drafts folder yet (nor a reason for
        none); an indexed look at new drafts only, whatever the history."""
        return [_draft(r) for r in self._db.execute(
            "SELECT * FROM drafts WHERE status = 'pending' AND mirrored IS NULL "
            "ORDER BY created_at")]

    def set_mirrored(self, draft_id: int, how: str) -> None:
        self._write().execute("UPDATE drafts SET mirrored = ? WHERE id = ?", (how, draft_id))

    # -- telling the user -------------------------------------------------------------

    def told(self, pairs: Iterable[tuple[int, DraftStatus]], now: datetime) -> None:
        """Remember that the user was told about these drafts in these statuses."""
        self._notices(((d, str(s)) for d, s in pairs), now)

    def _notices(self, pairs: Iterable[tuple[int, str]], now: datetime) -> None:
        self._write().executemany(
            "INSERT OR IGNORE INTO draft_notices (draft_id, status, at) VALUES (?, ?, ?)",
            [(d, s, iso(now)) for d, s in pairs])

    def was_told(self, draft_ids: Iterable[int]) -> set[tuple[int, DraftStatus]]:
        """Which of these drafts the user was told about, in which statuses."""
        ids = list(draft_ids)
        found: set[tuple[int, DraftStatus]] = set()
        for start in range(0, len(ids), 900):
            chunk = ids[start:start + 900]
            found |= {(int(r[0]), DraftStatus(r[1])) for r in self._db.execute(
                f"SELECT draft_id, status FROM draft_notices WHERE draft_id IN ({marks(chunk)})"
                " AND status != ?", (*chunk, REMINDED))}
        return found

    def reminded(self, draft_ids: Iterable[int], now: datetime) -> None:
        """Remember that the user was reminded of these drafts, still waiting for them."""
        self._notices(((d, REMINDED) for d in draft_ids), now)

    def were_reminded(self, draft_ids: Iterable[int]) -> set[int]:
        """Which of these drafts the user was already reminded of."""
        ids = list(draft_ids)
        found: set[int] = set()
        for start in range(0, len(ids), 900):
            chunk = ids[start:start + 900]
            found |= {int(r[0]) for r in self._db.execute(
                f"SELECT draft_id FROM draft_notices WHERE draft_id IN ({marks(chunk)}) "
                "AND status = ?", (*chunk, REMINDED))}
        return found
