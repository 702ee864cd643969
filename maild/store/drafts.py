"""Drafts in the store: the rendered emails waiting for approval, and their send state.

A draft's status is the send path's write-ahead log (invariant 2): ``approved`` ->
``sending`` is committed before any SMTP traffic, and ``sending`` is resolved after a
crash only by evidence (the Sent folder), never by trying again.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime

from maild.errors import NotFoundError, UsageError
from maild.store.db import Store, iso

OPEN_STATUSES = ("pending", "approved")


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
    status: str
    spec: DraftSpec
    send_after: datetime | None
    created_at: datetime
    sent_at: datetime | None

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
        id=row["id"], status=row["status"], spec=spec,
        send_after=datetime.fromisoformat(row["send_after"]) if row["send_after"] else None,
        created_at=datetime.fromisoformat(row["created_at"]),
        sent_at=datetime.fromisoformat(row["sent_at"]) if row["sent_at"] else None,
    )


def _meta(spec: DraftSpec) -> str:
    return json.dumps({"from_name": spec.from_name, "template": spec.template,
                       "fields": [list(f) for f in spec.fields]})


def insert_draft(store: Store, spec: DraftSpec, status: str, now: datetime,
                 send_after: datetime | None = None) -> int:
    cur = store.db.execute(
        "INSERT INTO drafts (ask_id, step_id, account, from_addr, to_addrs, meta, subject, "
        "body, message_id, in_reply_to, references_, attachments, missing_fields, status, "
        "send_after, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (spec.ask_id, spec.step_id, spec.account, spec.from_addr,
         json.dumps([list(t) for t in spec.to_addrs]), _meta(spec), spec.subject, spec.body,
         spec.message_id, spec.in_reply_to, " ".join(spec.references) or None,
         json.dumps(list(spec.attachments)), json.dumps(list(spec.missing_fields)), status,
         iso(send_after) if send_after else None, iso(now), iso(now)))
    return int(cur.lastrowid or 0)


def update_content(store: Store, draft_id: int, spec: DraftSpec, now: datetime) -> None:
    """A draft's content rendered again (new inputs, the user's fields or edits): what it
    says, to whom, in which thread and with which files; its Message-ID stays."""
    store.db.execute(
        "UPDATE drafts SET to_addrs = ?, meta = ?, subject = ?, body = ?, "
        "missing_fields = ?, attachments = ?, in_reply_to = ?, references_ = ?, "
        "updated_at = ? WHERE id = ?",
        (json.dumps([list(t) for t in spec.to_addrs]), _meta(spec), spec.subject, spec.body,
         json.dumps(list(spec.missing_fields)), json.dumps(list(spec.attachments)),
         spec.in_reply_to, " ".join(spec.references) or None, iso(now), draft_id))


def set_problems(store: Store, draft_id: int, problems: tuple[str, ...],
                 now: datetime) -> None:
    """Record why an approved draft is held (shown as what it needs), or clear it."""
    store.db.execute("UPDATE drafts SET missing_fields = ?, updated_at = ? WHERE id = ?",
                     (json.dumps(list(problems)), iso(now), draft_id))


@dataclass(frozen=True)
class MailOut:
    """A mail that went (or may have gone) to a mentor: by maild, or by the user."""

    ask_id: int | None
    subject: str
    at: datetime


def mail_to_mentor_since(store: Store, mentor_id: int, since: datetime,
                         exclude: int | None = None) -> list[MailOut]:
    """Mail to any of the mentor's addresses since ``since``, from any ask: maild's sends
    (``sending`` and ``uncertain`` count: they may have gone out) and what the user
    sent from their own client (seen in Sent)."""
    rows = store.db.execute(
        "SELECT d.ask_id, d.subject, d.sent_at AS at FROM drafts d "
        "JOIN asks a ON a.id = d.ask_id WHERE a.mentor_id = ? AND d.id IS NOT ? "
        "AND d.status IN ('sent', 'sending', 'uncertain') AND d.sent_at >= ? "
        "UNION ALL SELECT m.ask_id, m.subject, m.date AS at FROM messages m "
        "WHERE m.direction = 'out' AND m.folder != 'smtp' AND m.date >= ? "
        "AND m.message_id NOT IN (SELECT message_id FROM drafts) "
        "AND EXISTS (SELECT 1 FROM json_each(m.to_addrs) j JOIN mentor_addresses ma "
        "ON ma.address = j.value WHERE ma.mentor_id = ?) ORDER BY at",
        (mentor_id, exclude, iso(since), iso(since), mentor_id)).fetchall()
    return [MailOut(r["ask_id"], r["subject"] or "", datetime.fromisoformat(r["at"]))
            for r in rows]


def pending_for_mentor(store: Store, mentor_id: int) -> list[Draft]:
    """The drafts waiting for approval in the asks of one mentor."""
    rows = store.db.execute(
        "SELECT d.* FROM drafts d JOIN asks a ON a.id = d.ask_id WHERE a.mentor_id = ? "
        "AND d.status = 'pending' ORDER BY d.id", (mentor_id,)).fetchall()
    return [_draft(r) for r in rows]


def get_draft(store: Store, draft_id: int) -> Draft:
    row = store.db.execute("SELECT * FROM drafts WHERE id = ?", (draft_id,)).fetchone()
    if row is None:
        raise NotFoundError("draft", draft_id)
    return _draft(row)


def list_drafts(store: Store, statuses: tuple[str, ...] = OPEN_STATUSES) -> list[Draft]:
    rows = store.db.execute(
        f"SELECT * FROM drafts WHERE status IN ({','.join('?' * len(statuses))}) "
        "ORDER BY created_at, id", statuses).fetchall()
    return [_draft(r) for r in rows]


def drafts_for_step(store: Store, step_id: int) -> list[Draft]:
    rows = store.db.execute("SELECT * FROM drafts WHERE step_id = ? ORDER BY id",
                            (step_id,)).fetchall()
    return [_draft(r) for r in rows]


def set_status(store: Store, draft_id: int, status: str, now: datetime,
               expect: tuple[str, ...] | None = None, sent_at: datetime | None = None,
               send_after: datetime | None = None) -> None:
    """Change the status, only from one of ``expect`` (a compare-and-set)."""
    sql = "UPDATE drafts SET status = ?, updated_at = ?"
    params: list[object] = [status, iso(now)]
    if sent_at is not None:
        sql += ", sent_at = ?"
        params.append(iso(sent_at))
    if send_after is not None:
        sql += ", send_after = ?"
        params.append(iso(send_after))
    sql += " WHERE id = ?"
    params.append(draft_id)
    if expect:
        sql += f" AND status IN ({','.join('?' * len(expect))})"
        params.extend(expect)
    cur = store.db.execute(sql, params)
    if cur.rowcount != 1:
        current = get_draft(store, draft_id).status
        raise UsageError(f"draft {draft_id} is {current}, not {' or '.join(expect or ())}")


def step_name(store: Store, draft: Draft) -> str | None:
    """The name of the step ``draft`` belongs to (None for a draft without a step)."""
    if draft.spec.step_id is None:
        return None
    row = store.db.execute("SELECT name FROM steps WHERE id = ?",
                           (draft.spec.step_id,)).fetchone()
    return str(row["name"]) if row else None


def find_by_message_id(store: Store, message_id: str) -> Draft | None:
    row = store.db.execute("SELECT * FROM drafts WHERE message_id = ?",
                           (message_id,)).fetchone()
    return _draft(row) if row else None


# -- the Drafts-folder mirror ---------------------------------------------------------
# Which drafts have a copy in the account's Drafts folder is recorded as events: the
# copy is appended once (maild never changes or deletes it, invariant 7), and the
# timeline shows when.


def unmirrored(store: Store) -> list[Draft]:
    """Pending drafts that have no copy in the Drafts folder yet."""
    rows = store.db.execute(
        "SELECT * FROM drafts d WHERE d.status = 'pending' AND NOT EXISTS (SELECT 1 FROM "
        "events e WHERE e.type IN ('draft_mirrored', 'draft_not_mirrored') AND "
        "json_extract(e.detail, '$.draft') = d.id) ORDER BY d.created_at, d.id").fetchall()
    return [_draft(r) for r in rows]


def mark_mirrored(store: Store, draft: Draft, now: datetime, folder: str | None,
                  problem: str | None = None) -> None:
    """Record the Drafts copy (or why there will be none); call inside a transaction."""
    if problem is None:
        store.add_event(now, "draft_mirrored", ask_id=draft.ask_id, draft=draft.id,
                        folder=folder, message_id=draft.spec.message_id)
    else:
        store.add_event(now, "draft_not_mirrored", ask_id=draft.ask_id, draft=draft.id,
                        problem=problem)
