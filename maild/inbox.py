"""From new mail to engine events: catch-up, matching, and one commit per message.

``Inbox.sync`` is what a folder watcher calls whenever its folder may have changed. It
reads the folder's cursor, fetches only the headers of what is new, matches each
message to the ask it answers (recording why), fetches the body only of matches,
classifies it, and applies the resulting event together with the message row and the
advanced cursor in one transaction: a crash replays at most the message in flight,
and a message is never applied twice (its Message-ID is checked first).

Matching rules, in order: In-Reply-To/References against Message-IDs of the ask's
thread; the sender's address against mentors' addresses (one open ask -> that ask;
several -> the most recent, marked "needs review"); a letter-service notice naming a
mentor -> that mentor's letter ask. Bounces are matched through the original
Message-ID they quote.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from email.utils import getaddresses, parsedate_to_datetime

from maild.adapters.imap import Cursor, HeaderInfo, ImapConnection
from maild.config import Account, Config
from maild.core import events as ev
from maild.core.model import Intent
from maild.errors import MaildError
from maild.store import Store, iso
from maild.store.drafts import OPEN_STATUSES, find_by_message_id, set_status
from maild.tracker import Tracker
from maild.understand.inspect import Inspection, inspect_message

log = logging.getLogger(__name__)

_MSGID = re.compile(r"<[^<>\s]+>")
_MAIL_SYSTEM = re.compile(r"^(mailer-daemon|postmaster|mail-daemon|mailerdaemon)@", re.I)
_NOTICE_HINT = re.compile(r"letter|recommendation|reference|LoR\b|ERAS|Interfolio", re.I)


@dataclass(frozen=True)
class Match:
    ask_id: int | None
    reason: str
    mentor_id: int | None = None
    needs_review: bool = False


@dataclass(frozen=True)
class Headers:
    message_id: str | None
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    from_addr: str
    to_addrs: tuple[str, ...]
    subject: str
    date: datetime | None
    content_type: str

    @property
    def thread_ids(self) -> tuple[str, ...]:
        return self.in_reply_to + tuple(r for r in self.references if r not in self.in_reply_to)


def parse_headers(raw: bytes) -> Headers:
    """The few headers matching needs; tolerant of anything a server hands over."""
    msg = BytesHeaderParser(policy=default_policy).parsebytes(raw)

    def text(name: str) -> str:
        try:
            value = msg.get(name)
            return str(value) if value is not None else ""
        except Exception:  # a malformed header must not stop the sync (invariant 5)
            return ""

    def addresses(*names: str) -> tuple[str, ...]:
        values = [text(n) for n in names]
        return tuple(a.lower() for _n, a in getaddresses([v for v in values if v]) if "@" in a)

    when: datetime | None = None
    try:
        when = parsedate_to_datetime(text("Date")) if text("Date") else None
        if when is not None and when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
    except (TypeError, ValueError, IndexError):
        when = None
    mid = _MSGID.findall(text("Message-ID"))
    senders = addresses("From")
    return Headers(
        message_id=mid[0] if mid else None,
        in_reply_to=tuple(_MSGID.findall(text("In-Reply-To"))),
        references=tuple(_MSGID.findall(text("References"))),
        from_addr=senders[0] if senders else "",
        to_addrs=addresses("To", "Cc"),
        subject=text("Subject"),
        date=when,
        content_type=text("Content-Type").lower(),
    )


@dataclass(frozen=True)
class SyncResult:
    seen: int
    matched: int
    applied: int
    rescanned: bool


class Inbox:
    """Matches new mail of one account to asks and hands it to the tracker."""

    def __init__(self, store: Store, tracker: Tracker, config: Config, account: Account,
                 now: Callable[[], datetime]) -> None:
        self.store = store
        self.tracker = tracker
        self.config = config
        self.account = account
        self.now = now

    # -- cursor -----------------------------------------------------------------------

    def cursor(self, folder: str) -> Cursor | None:
        row = self.store.db.execute(
            "SELECT * FROM folder_state WHERE account = ? AND folder = ?",
            (self.account.name, folder)).fetchone()
        if row is None:
            return None
        return Cursor(row["uidvalidity"], row["highest_uid"], row["highestmodseq"])

    def _save_cursor(self, folder: str, cursor: Cursor) -> None:
        self.store.db.execute(
            "INSERT INTO folder_state (account, folder, uidvalidity, highest_uid, highestmodseq, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (account, folder) DO UPDATE SET "
            "uidvalidity = excluded.uidvalidity, highest_uid = excluded.highest_uid, "
            "highestmodseq = excluded.highestmodseq, updated_at = excluded.updated_at",
            (self.account.name, folder, cursor.uidvalidity, cursor.highest_uid,
             cursor.highestmodseq, iso(self.now())))

    def _oldest_open_ask(self) -> datetime | None:
        row = self.store.db.execute(
            "SELECT min(created_at) FROM asks WHERE closed_at IS NULL").fetchone()
        return datetime.fromisoformat(row[0]) if row and row[0] else None

    def rescan_keys(self, role: str) -> list[list[str]]:
        """SEARCH keys for the messages that can matter, after a UIDVALIDITY change.

        Replies quoting a Message-ID maild or the user sent for an open ask, mail from
        (or, in Sent, to) any known mentor or assistant, and in the inbox bounces and
        letter-service notices. Combined with SINCE the oldest open ask, the answer
        depends on the asks, not on how big the mailbox is.
        """
        ids = [r[0] for r in self.store.db.execute(
            "SELECT d.message_id FROM drafts d JOIN asks a ON a.id = d.ask_id "
            "WHERE a.closed_at IS NULL AND d.message_id IS NOT NULL "
            "AND d.status IN ('sent', 'sending', 'uncertain') "
            "UNION SELECT m.message_id FROM messages m JOIN asks a ON a.id = m.ask_id "
            "WHERE a.closed_at IS NULL AND m.message_id IS NOT NULL")]
        addresses = [r[0] for r in self.store.db.execute(
            "SELECT DISTINCT address FROM mentor_addresses ORDER BY address")]
        keys: list[list[str]] = []
        for mid in sorted(ids):
            # Both: some clients write only In-Reply-To, some only References.
            keys += [["HEADER", "In-Reply-To", mid], ["HEADER", "References", mid]]
        if role == "sent":
            for address in addresses:
                keys += [["TO", address], ["CC", address]]
            return keys
        keys += [["FROM", address] for address in addresses]
        keys += [["FROM", "mailer-daemon"], ["FROM", "postmaster"]]
        keys += [["SUBJECT", word] for word in ("letter", "recommendation", "reference")]
        return keys

    # -- sync -------------------------------------------------------------------------

    def sync(self, conn: ImapConnection, folder: str, role: str) -> SyncResult:
        """Catch up on ``folder`` (role "inbox" or "sent"); safe to call at any time."""
        cursor = self.cursor(folder)
        oldest = self._oldest_open_ask()
        since = oldest.date() if oldest else self.now().date()
        # SINCE compares the server's internal dates in its own timezone: a day of margin.
        rescan_since = since - timedelta(days=1)
        new = conn.fetch_new(folder, cursor, since,
                             rescan=lambda c: c.search_any(self.rescan_keys(role), rescan_since))
        matched = applied = 0
        for info in new.messages:
            try:
                outcome = self._one(conn, folder, role, info, new.cursor.uidvalidity)
            except MaildError:
                raise  # a protocol error: the watcher reconnects and this message is retried
            except Exception:
                # Invariant 5: a message we cannot handle is recorded and skipped.
                log.exception("%s/%s uid %d: could not be processed; skipped", self.account.name,
                              folder, info.uid)
                with self.store.transaction():
                    self.store.add_event(self.now(), "message_skipped", folder=folder,
                                         uid=info.uid)
                    self._save_cursor(folder, _advance(new.cursor, cursor, info.uid))
                continue
            matched += outcome[0]
            applied += outcome[1]
        # The cursor also moves when nothing new matched (or on first sight of a folder).
        with self.store.transaction():
            self._save_cursor(folder, new.cursor)
        return SyncResult(len(new.messages), matched, applied, new.rescanned)

    def _one(self, conn: ImapConnection, folder: str, role: str, info: HeaderInfo,
             uidvalidity: int) -> tuple[int, int]:
        headers = parse_headers(info.headers)
        cursor_after = Cursor(uidvalidity, info.uid)
        if headers.message_id and self._already_seen(headers.message_id, role):
            with self.store.transaction():
                self._save_cursor_uid(folder, cursor_after)
            return 0, 0
        match = self.match(headers, role)
        needs_body = match is not None or self._maybe_bounce_or_notice(headers, role)
        inspection: Inspection | None = None
        if needs_body:
            raw = conn.body(info.uid)
            if raw is not None:
                inspection = inspect_message(raw)
                if match is None:
                    match = self._match_by_content(inspection)
        with self.store.transaction():
            applied = 0
            if match is not None:
                applied = self._record(folder, role, info.uid, uidvalidity, headers, match,
                                       inspection)
            self._save_cursor_uid(folder, cursor_after)
        return (1 if match is not None and match.ask_id is not None else 0), applied

    def _save_cursor_uid(self, folder: str, cursor: Cursor) -> None:
        current = self.cursor(folder)
        if current is not None and current.uidvalidity == cursor.uidvalidity and \
                current.highest_uid >= cursor.highest_uid:
            return
        self._save_cursor(folder, cursor)

    def _already_seen(self, message_id: str, role: str) -> bool:
        direction = "out" if role == "sent" else "in"
        row = self.store.db.execute(
            "SELECT 1 FROM messages WHERE message_id = ? AND direction = ? LIMIT 1",
            (message_id, direction)).fetchone()
        return row is not None

    # -- matching ---------------------------------------------------------------------

    def match(self, headers: Headers, role: str) -> Match | None:
        own = self.config.own_addresses
        if role == "inbox" and headers.from_addr in own:
            return None
        by_thread = self._match_thread(headers.thread_ids)
        if by_thread is not None:
            return by_thread
        people = headers.to_addrs if role == "sent" else (headers.from_addr,)
        for address in people:
            by_sender = self._match_address(address, "recipient" if role == "sent" else "sender")
            if by_sender is not None:
                return by_sender
        return None

    def _match_thread(self, ids: Sequence[str]) -> Match | None:
        if not ids:
            return None
        marks = ",".join("?" * len(ids))
        row = self.store.db.execute(
            f"SELECT ask_id, message_id FROM drafts WHERE message_id IN ({marks}) "
            "AND status IN ('sent', 'sending', 'uncertain') "
            f"UNION ALL SELECT ask_id, message_id FROM messages WHERE message_id IN ({marks}) "
            "AND ask_id IS NOT NULL LIMIT 1", (*ids, *ids)).fetchone()
        if row is None:
            return None
        ask = self.store.db.execute("SELECT mentor_id FROM asks WHERE id = ?",
                                    (row["ask_id"],)).fetchone()
        return Match(row["ask_id"], f"thread: replies to {row['message_id']}",
                     mentor_id=ask["mentor_id"] if ask else None)

    def _match_address(self, address: str, how: str) -> Match | None:
        row = self.store.db.execute(
            "SELECT mentor_id, kind FROM mentor_addresses WHERE address = ?",
            (address,)).fetchone()
        if row is None:
            return None
        mentor_id = row["mentor_id"]
        asks = self.store.db.execute(
            "SELECT id FROM asks WHERE mentor_id = ? AND closed_at IS NULL "
            "ORDER BY created_at DESC, id DESC", (mentor_id,)).fetchall()
        who = "assistant" if row["kind"] == "assistant" else "mentor"
        if not asks:
            return Match(None, f"{how} {address} is a known {who} without an open ask",
                         mentor_id=mentor_id)
        if len(asks) == 1:
            return Match(asks[0]["id"], f"{how} {address} is a {who} with one open ask",
                         mentor_id=mentor_id)
        return Match(asks[0]["id"], f"{how} {address} is a {who} with {len(asks)} open asks; "
                     "took the most recent", mentor_id=mentor_id, needs_review=True)

    def _maybe_bounce_or_notice(self, headers: Headers, role: str) -> bool:
        if role != "inbox":
            return False
        return bool(_MAIL_SYSTEM.match(headers.from_addr) or "report" in headers.content_type
                    or _NOTICE_HINT.search(headers.subject))

    def _match_by_content(self, inspection: Inspection) -> Match | None:
        if inspection.kind == "bounce" and inspection.bounce is not None:
            original = inspection.bounce.original_message_id
            if original:
                found = self._match_thread([original])
                if found is not None:
                    return Match(found.ask_id, f"bounce of {original}", found.mentor_id)
            for rcpt in inspection.bounce.recipients:
                found = self._match_address(rcpt.lower(), "bounced recipient")
                if found is not None and found.ask_id is not None:
                    return found
            return None
        if inspection.kind == "notification":
            return self._match_notice(inspection.reply_text + "\n" + inspection.subject)
        return None

    def _match_notice(self, text: str) -> Match | None:
        lowered = text.lower()
        rows = self.store.db.execute(
            "SELECT a.id, a.mentor_id, m.name FROM asks a JOIN mentors m ON m.id = a.mentor_id "
            "WHERE a.playbook = 'letter' AND a.closed_at IS NULL ORDER BY a.created_at DESC"
        ).fetchall()
        for row in rows:
            name = row["name"].lower()
            last = name.split()[-1] if name.split() else name
            if name in lowered or re.search(rf"\b(dr\.?|prof\.?|professor)\s+{re.escape(last)}\b",
                                            lowered):
                return Match(row["id"], f"letter notice names {row['name']}", row["mentor_id"])
        return None

    # -- applying ---------------------------------------------------------------------

    def _record(self, folder: str, role: str, uid: int, uidvalidity: int, headers: Headers,
                match: Match, inspection: Inspection | None) -> int:
        now = self.now()
        direction = "out" if role == "sent" else "in"
        kind = inspection.kind if inspection else None
        intent = inspection.intent if inspection else None
        self.store.db.execute(
            "INSERT OR IGNORE INTO messages (account, folder, uid, uidvalidity, message_id, "
            "in_reply_to, references_, from_addr, to_addrs, subject, date, direction, kind, "
            "intent, ask_id, match_reason, reply_text, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (self.account.name, folder, uid, uidvalidity, headers.message_id,
             " ".join(headers.in_reply_to) or None, " ".join(headers.references) or None,
             headers.from_addr, json.dumps(list(headers.to_addrs)), headers.subject,
             iso(headers.date) if headers.date else None, direction, kind, intent,
             match.ask_id, match.reason,
             inspection.reply_text[:20000] if inspection else None, iso(now)))
        self.store.add_event(now, f"message_{direction}", ask_id=match.ask_id,
                             mentor_id=match.mentor_id, subject=headers.subject, kind=kind,
                             intent=intent, why=match.reason,
                             evidence=inspection.evidence if inspection else None)
        if match.ask_id is None:
            return 0
        if match.needs_review:
            self.store.db.execute("UPDATE asks SET needs_review = 1 WHERE id = ?",
                                  (match.ask_id,))
        event = self._event(role, headers, inspection)
        if event is None:
            return 0
        self.tracker.handle_in_transaction(match.ask_id, event, now, why=match.reason)
        return 1

    def _event(self, role: str, headers: Headers, inspection: Inspection | None
               ) -> ev.Event | None:
        at = headers.date
        if role == "sent":
            if headers.message_id:
                ours = find_by_message_id(self.store, headers.message_id)
                if ours is not None and ours.status in OPEN_STATUSES:
                    # The user sent maild's draft (its Drafts copy) from their own client:
                    # it went out, so maild must never send it, and the step is done.
                    set_status(self.store, ours.id, "sent", self.now(), sent_at=at or self.now(),
                               expect=OPEN_STATUSES)
                    step = self.store.db.execute("SELECT name FROM steps WHERE id = ?",
                                                 (ours.spec.step_id,)).fetchone()
                    return ev.MessageSent(step=step["name"] if step else None, by_user=True,
                                          message_id=headers.message_id, at=at)
                if ours is not None:
                    return None  # maild's own sent copy; the sender already recorded it
            return ev.MessageSent(by_user=True, message_id=headers.message_id, at=at)
        if inspection is None:
            return None
        if inspection.kind == "bounce" and inspection.bounce is not None:
            b = inspection.bounce
            if b.delayed:
                return None  # a delay notice is not a failure; wait for the verdict
            return ev.Bounce(address_invalid=b.address_invalid, recipients=b.recipients,
                             status=b.status)
        if inspection.kind == "auto_reply":
            return ev.AutoReply(return_date=inspection.return_date,
                                message_id=headers.message_id, at=at)
        if inspection.kind == "notification":
            return ev.LetterServiceNotification(submitted=inspection.intent == "submitted")
        return ev.HumanReply(intent=Intent(inspection.intent or "unclear"),
                             message_id=headers.message_id, at=at)


def _advance(new: Cursor, old: Cursor | None, uid: int) -> Cursor:
    if old is not None and old.uidvalidity == new.uidvalidity and old.highest_uid >= uid:
        return old
    return Cursor(new.uidvalidity, uid, None)
