"""Messages in the store: the mail maild has seen, and the index matching reads.

A message row records one email found in a watched folder (or sent by maild): its
headers, its direction ("in" to the user, "out" from the user), what it was read to
be, the ask it was matched to and why. A row is written at most once per folder
copy (``UNIQUE (account, folder, uidvalidity, uid)``), which is what makes applying a
message happen once even when two syncs of a folder race.

``StoreIndex`` answers ``maild.core.matching.MatchIndex`` from the tables: maild's
drafts, the messages already matched, mentors' addresses and open asks.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from maild.core.matching import AddressOwner, LetterAsk, OwnDraft, ThreadOwner
from maild.core.model import MAYBE_SENT_DRAFT_STATUSES, OPEN_DRAFT_STATUSES, DraftStatus
from maild.store.db import Store, iso

# Draft statuses whose Message-ID went (or may have gone) out: replies can quote it.
_OUT_STATUSES = tuple(str(s) for s in sorted(MAYBE_SENT_DRAFT_STATUSES))
# Draft statuses of a mail maild sent or is sending.
_BY_MAILD = (str(DraftStatus.SENDING), str(DraftStatus.SENT))
# Draft statuses still waiting for the user or the sender.
_WAITING = tuple(str(s) for s in sorted(OPEN_DRAFT_STATUSES))
# How long the unsent draft of an ended ask is still recognised by its subject.
_COPY_WINDOW = timedelta(days=30)


@dataclass(frozen=True)
class MessageRecord:
    """One message as recorded: a folder copy, its headers, its reading and its match."""

    account: str
    folder: str
    uid: int | None
    uidvalidity: int | None
    direction: str  # "in" or "out"
    message_id: str | None
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    from_addr: str
    to_addrs: tuple[str, ...]
    subject: str
    date: datetime | None
    ask_id: int | None
    match_reason: str
    kind: str | None = None
    intent: str | None = None
    reply_text: str | None = None
    gm_thrid: int | None = None


def record(store: Store, message: MessageRecord, now: datetime) -> bool:
    """Write the message row; False when this folder copy was recorded before."""
    m = message
    inserted = store._db.execute(
        "INSERT OR IGNORE INTO messages (account, folder, uid, uidvalidity, message_id, "
        "in_reply_to, references_, from_addr, to_addrs, subject, date, direction, kind, "
        "intent, ask_id, match_reason, reply_text, created_at, gm_thrid) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (m.account, m.folder, m.uid, m.uidvalidity, m.message_id,
         " ".join(m.in_reply_to) or None, " ".join(m.references) or None,
         m.from_addr, json.dumps(list(m.to_addrs)), m.subject,
         iso(m.date) if m.date else None, m.direction, m.kind, m.intent,
         m.ask_id, m.match_reason, m.reply_text, iso(now), m.gm_thrid)).rowcount
    return inserted == 1


def already_seen(store: Store, message_id: str, direction: str) -> bool:
    """Whether a message with this Message-ID was recorded in this direction."""
    row = store._db.execute(
        "SELECT 1 FROM messages WHERE message_id = ? AND direction = ? LIMIT 1",
        (message_id, direction)).fetchone()
    return row is not None


def seen_without_id(store: Store, account: str, folder: str, direction: str,
                    from_addr: str, subject: str, date: datetime | None,
                    uidvalidity: int) -> bool:
    """Whether a copy of a message without Message-ID (same sender, subject and Date)
    was recorded in ``folder`` under another UIDVALIDITY than ``uidvalidity``."""
    row = store._db.execute(
        "SELECT 1 FROM messages WHERE message_id IS NULL AND account = ? AND folder = ? "
        "AND direction = ? AND from_addr = ? AND subject = ? AND date IS ? "
        "AND uidvalidity IS NOT ? LIMIT 1",
        (account, folder, direction, from_addr, subject, iso(date) if date else None,
         uidvalidity)).fetchone()
    return row is not None


def note_gmail_thread(store: Store, message_id: str, thrid: int) -> None:
    """Gmail's thread id of a recorded message that has none yet (maild's own sends
    are recorded at SMTP time; their copy in Sent tells which thread they started)."""
    store._db.execute("UPDATE messages SET gm_thrid = ? WHERE message_id = ? AND "
                     "gm_thrid IS NULL", (thrid, message_id))


def flag_for_review(store: Store, ask_id: int) -> None:
    """Ask the user to look at the ask (an ambiguous match, a message that failed)."""
    store._db.execute("UPDATE asks SET needs_review = 1 WHERE id = ?", (ask_id,))


def of_ask(store: Store, ask_id: int, message_id: str) -> bool:
    """Whether ``message_id`` is a message recorded for the ask, or one maild sent for it."""
    row = store._db.execute(
        "SELECT 1 FROM messages WHERE ask_id = ? AND message_id = ? UNION ALL "
        f"SELECT 1 FROM drafts WHERE ask_id = ? AND message_id = ? AND status IN "
        f"({_marks(_OUT_STATUSES)}) LIMIT 1",
        (ask_id, message_id, ask_id, message_id, *_OUT_STATUSES)).fetchone()
    return row is not None


# -- what a catch-up after a UIDVALIDITY change searches for ---------------------------


def oldest_open_ask(store: Store) -> datetime | None:
    """When the oldest open ask was created: nothing older can matter to a catch-up."""
    row = store._db.execute("SELECT min(created_at) FROM asks WHERE closed_at IS NULL").fetchone()
    return datetime.fromisoformat(row[0]) if row and row[0] else None


def open_thread_ids(store: Store) -> list[str]:
    """Message-IDs a reply to an open ask can quote: its sent mail and its messages."""
    return sorted(r[0] for r in store._db.execute(
        "SELECT d.message_id FROM drafts d JOIN asks a ON a.id = d.ask_id "
        "WHERE a.closed_at IS NULL AND d.message_id IS NOT NULL "
        f"AND d.status IN ({_marks(_OUT_STATUSES)}) "
        "UNION SELECT m.message_id FROM messages m JOIN asks a ON a.id = m.ask_id "
        "WHERE a.closed_at IS NULL AND m.message_id IS NOT NULL", _OUT_STATUSES))


def known_addresses(store: Store) -> list[str]:
    """Every mentor's and assistant's address, sorted."""
    return [r[0] for r in store._db.execute(
        "SELECT DISTINCT address FROM mentor_addresses ORDER BY address")]


# -- the match index ----------------------------------------------------------------


class StoreIndex:
    """``maild.core.matching.MatchIndex`` over the store; read inside the sync's
    transaction (or just before it) so matching sees what the last message changed."""

    def __init__(self, store: Store, own_addresses: frozenset[str],
                 now: Callable[[], datetime]) -> None:
        self._store = store
        self._own = own_addresses
        self._now = now

    @property
    def own_addresses(self) -> frozenset[str]:
        return self._own

    def thread_owner(self, message_ids: Sequence[str]) -> ThreadOwner | None:
        if not message_ids:
            return None
        ids = tuple(message_ids)
        marks = _marks(ids)
        row = self._store._db.execute(
            f"SELECT ask_id, message_id FROM drafts WHERE message_id IN ({marks}) "
            f"AND status IN ({_marks(_OUT_STATUSES)}) "
            f"UNION ALL SELECT ask_id, message_id FROM messages WHERE message_id IN ({marks}) "
            "AND ask_id IS NOT NULL LIMIT 1", (*ids, *_OUT_STATUSES, *ids)).fetchone()
        if row is None:
            return None
        return ThreadOwner(row["ask_id"], self._mentor_of(row["ask_id"]), row["message_id"])

    def gmail_thread_owner(self, thrid: int) -> ThreadOwner | None:
        row = self._store._db.execute(
            "SELECT m.ask_id, a.mentor_id, m.message_id FROM messages m "
            "JOIN asks a ON a.id = m.ask_id WHERE m.gm_thrid = ? ORDER BY m.id DESC LIMIT 1",
            (thrid,)).fetchone()
        if row is None:
            return None
        return ThreadOwner(row["ask_id"], row["mentor_id"], row["message_id"])

    def address_owner(self, address: str) -> AddressOwner | None:
        row = self._store._db.execute(
            "SELECT mentor_id, kind FROM mentor_addresses WHERE address = ?",
            (address,)).fetchone()
        if row is None:
            return None
        asks = self._store._db.execute(
            "SELECT id FROM asks WHERE mentor_id = ? AND closed_at IS NULL "
            "ORDER BY created_at DESC, id DESC", (row["mentor_id"],)).fetchall()
        return AddressOwner(row["mentor_id"], row["kind"] == "assistant",
                            tuple(int(a["id"]) for a in asks))

    def open_letter_asks(self) -> Sequence[LetterAsk]:
        rows = self._store._db.execute(
            "SELECT a.id, a.mentor_id, m.name FROM asks a JOIN mentors m ON m.id = a.mentor_id "
            "WHERE a.playbook = 'letter' AND a.closed_at IS NULL ORDER BY a.created_at DESC"
        ).fetchall()
        return tuple(LetterAsk(r["id"], r["mentor_id"], r["name"]) for r in rows)

    def own_draft(self, message_id: str) -> OwnDraft | None:
        row = self._store._db.execute(
            "SELECT d.id, d.ask_id, d.status, a.mentor_id, s.name AS step FROM drafts d "
            "JOIN asks a ON a.id = d.ask_id LEFT JOIN steps s ON s.id = d.step_id "
            "WHERE d.message_id = ?", (message_id,)).fetchone()
        if row is None:
            return None
        return OwnDraft(row["id"], row["ask_id"], row["mentor_id"], row["status"], row["step"])

    def unsent_draft(self, subject: str, recipients: Sequence[str]) -> OwnDraft | None:
        if not recipients:
            return None
        wanted = tuple(r.lower() for r in recipients)
        # A subject is weaker evidence than a Message-ID: the draft of an ask that is over
        # counts only for a while (an old, generic subject must not wake an old ask).
        recent = iso(self._now() - _COPY_WINDOW)
        rows = self._store._db.execute(
            "SELECT d.id, d.ask_id, d.status, d.subject, a.mentor_id, s.name AS step "
            "FROM drafts d JOIN asks a ON a.id = d.ask_id "
            "LEFT JOIN steps s ON s.id = d.step_id "
            f"WHERE d.status NOT IN ({_marks(_BY_MAILD)}) AND d.in_reply_to IS NULL "
            "AND (a.closed_at IS NULL OR d.updated_at >= ?) "
            "AND EXISTS (SELECT 1 FROM json_each(d.to_addrs) t "
            f"WHERE lower(json_extract(t.value, '$[0]')) IN ({_marks(wanted)})) "
            f"ORDER BY d.status IN ({_marks(_WAITING)}) DESC, d.id DESC",
            (*_BY_MAILD, recent, *wanted, *_WAITING)).fetchall()
        for row in rows:
            # Clients fold and re-space long subjects; the words are what they keep.
            if " ".join(str(row["subject"]).split()) == subject:
                return OwnDraft(row["id"], row["ask_id"], row["mentor_id"], row["status"],
                                row["step"])
        return None

    def _mentor_of(self, ask_id: int) -> int | None:
        return self._store.read.asks.mentor_of(ask_id)


def _marks(values: Sequence[object]) -> str:
    return ",".join("?" * len(values))
