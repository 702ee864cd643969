"""From new mail to engine events: catch-up, matching, and one commit per message.

``Inbox.sync`` is what a folder watcher calls whenever its folder may have changed. It
reads the folder's cursor, fetches only the headers of what is new, matches each
message to the ask it answers (recording why), fetches the body only of matches,
classifies it, and applies the resulting event together with the message row and the
advanced cursor in one transaction: a crash replays at most the message in flight,
and a message is never applied twice, even when two syncs of the same folder run at
once (the daemon's watcher and the sender's pre-send re-check): its Message-ID is
checked again inside the transaction, and an event is applied only by the sync whose
INSERT created the message row. The cursor only ever moves forward.

Bad input never blocks a folder (invariants 4 and 5). Only infrastructure trouble (the
IMAP connection, the database being busy or unwritable) propagates, so that the
watcher reconnects and the message is retried. Any other failure is the message's own:
an unmatched message is recorded as ``message_skipped`` and passed over; a message
matched to an ask whose classification or application failed is still recorded, its
ask flagged "needs review", and a conservative ``HumanReply`` with intent "unclear" is
applied in place of the real event (a person wrote; wrong certainty is worse than
unclear), so nudges stop. Notices of the tracker go out after each commit.

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
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from email.utils import getaddresses, parsedate_to_datetime

from maild.adapters.imap import Cursor, HeaderInfo, ImapConnection
from maild.app.tracker import Tracker
from maild.config import Account, Config
from maild.core import events as ev
from maild.core.actions import Level
from maild.core.model import Intent
from maild.errors import ProtocolError, StoreError
from maild.store import Store, iso
from maild.store.drafts import OPEN_STATUSES, find_by_message_id, set_status, step_name
from maild.understand.inspect import Inspection, inspect_message

log = logging.getLogger(__name__)

_MSGID = re.compile(r"<[^<>\s]+>")
_MAIL_SYSTEM = re.compile(r"^(mailer-daemon|postmaster|mail-daemon|mailerdaemon)@", re.I)
_NOTICE_HINT = re.compile(r"letter|recommendation|reference|LoR\b|ERAS|Interfolio", re.I)
# Thread ids looked up per message: a hostile References header must not make a query
# too big for SQLite. Clients append, so the newest ids are the last ones.
_MAX_THREAD_IDS = 200
# SQLite result codes that mean the database, not the message, is in trouble.
_SQLITE_INFRA = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_IOERR", "SQLITE_FULL",
                 "SQLITE_CANTOPEN", "SQLITE_READONLY", "SQLITE_NOMEM", "SQLITE_CORRUPT",
                 "SQLITE_NOTADB", "SQLITE_INTERRUPT")


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
    gm_thrid: int | None = None

    @property
    def thread_ids(self) -> tuple[str, ...]:
        ids = self.in_reply_to + tuple(r for r in self.references if r not in self.in_reply_to)
        if len(ids) <= _MAX_THREAD_IDS:
            return ids
        return ids[:_MAX_THREAD_IDS // 2] + ids[-(_MAX_THREAD_IDS // 2):]


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
        try:
            for info in new.messages:
                try:
                    outcome = self._one(conn, folder, role, info, new.cursor.uidvalidity)
                except Exception as exc:
                    if _infrastructure(exc):
                        raise  # the watcher reconnects and this message is retried
                    # Invariant 5: a message we cannot handle is recorded and skipped.
                    log.exception("%s/%s uid %d: could not be processed; skipped",
                                  self.account.name, folder, info.uid)
                    self._skip(folder, info.uid, new.cursor.uidvalidity, exc)
                    continue
                matched += outcome[0]
                applied += outcome[1]
            # The cursor also moves when nothing new matched (or on first sight of a
            # folder); never backwards, should another sync have gone further meanwhile.
            with self.store.transaction():
                self._save_cursor_uid(folder, new.cursor)
        except sqlite3.Error as exc:
            # As the StoreError the watcher and the sender expect.
            raise StoreError(f"{self.account.name}/{folder}: database trouble: {exc}") from exc
        finally:
            self.tracker.flush_notices()
        return SyncResult(len(new.messages), matched, applied, new.rescanned)

    def _one(self, conn: ImapConnection, folder: str, role: str, info: HeaderInfo,
             uidvalidity: int) -> tuple[int, int]:
        headers = replace(parse_headers(info.headers), gm_thrid=info.gm_thrid)
        cursor_after = Cursor(uidvalidity, info.uid)
        if headers.message_id and self._already_seen(headers.message_id, role):
            with self.store.transaction():
                if headers.gm_thrid is not None:
                    # maild's own sends are recorded at SMTP time; Gmail's copy in Sent
                    # tells which Gmail thread they started.
                    self.store.db.execute(
                        "UPDATE messages SET gm_thrid = ? WHERE message_id = ? AND "
                        "gm_thrid IS NULL", (headers.gm_thrid, headers.message_id))
                self._save_cursor_uid(folder, cursor_after)
            return 0, 0
        match = self.match(headers, role)
        needs_body = match is not None or self._maybe_bounce_or_notice(headers, role)
        inspection: Inspection | None = None
        problem: str | None = None
        if needs_body:
            raw = conn.body(info.uid)
            if raw is not None:
                try:
                    inspection = inspect_message(raw)
                    if match is None:
                        match = self._match_by_content(inspection)
                except Exception as exc:
                    if match is None or _infrastructure(exc):
                        raise  # tied to no ask: sync records it as skipped
                    log.warning("%s/%s uid %d: could not be classified: %s", self.account.name,
                                folder, info.uid, _reason(exc), exc_info=True)
                    inspection = None
                    problem = f"could not be classified: {_reason(exc)}"
        if match is None:
            with self.store.transaction():
                self._save_cursor_uid(folder, cursor_after)
            return 0, 0
        try:
            with self.store.transaction():
                applied = self._commit(folder, role, info.uid, uidvalidity, headers, match,
                                       inspection, problem)
        except Exception as exc:
            if match.ask_id is None or _infrastructure(exc):
                raise
            # Even recording it failed: record what the headers say, and fall back.
            log.exception("%s/%s uid %d: could not be recorded", self.account.name, folder,
                          info.uid)
            with self.store.transaction():
                applied = self._commit(folder, role, info.uid, uidvalidity, headers, match,
                                       None, f"could not be recorded: {_reason(exc)}")
        finally:
            self.tracker.flush_notices()
        return (1 if match.ask_id is not None else 0), applied

    def _commit(self, folder: str, role: str, uid: int, uidvalidity: int, headers: Headers,
                match: Match, inspection: Inspection | None, problem: str | None) -> int:
        """Inside the transaction: record and apply the message, advance the cursor."""
        applied = 0
        # Checked again here: another sync may have recorded it since the first look.
        if not (headers.message_id and self._already_seen(headers.message_id, role)):
            applied = self._record(folder, role, uid, uidvalidity, headers, match, inspection,
                                   problem)
        self._save_cursor_uid(folder, Cursor(uidvalidity, uid))
        return applied

    def _skip(self, folder: str, uid: int, uidvalidity: int, exc: Exception) -> None:
        with self.store.transaction():
            self.store.add_event(self.now(), "message_skipped", folder=folder, uid=uid,
                                 reason=_reason(exc))
            self._save_cursor_uid(folder, Cursor(uidvalidity, uid))

    def _save_cursor_uid(self, folder: str, cursor: Cursor) -> None:
        """Save ``cursor`` unless the stored one is already as far (it never goes back)."""
        current = self.cursor(folder)
        if current is not None and current.uidvalidity == cursor.uidvalidity:
            if current.highest_uid > cursor.highest_uid:
                return
            if current.highest_uid == cursor.highest_uid and (
                    cursor.highestmodseq is None
                    or (current.highestmodseq or 0) >= cursor.highestmodseq):
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
        by_gmail = self._match_gmail_thread(headers.gm_thrid)
        if by_gmail is not None:
            return by_gmail
        people = headers.to_addrs if role == "sent" else (headers.from_addr,)
        for address in people:
            by_sender = self._match_address(address, "recipient" if role == "sent" else "sender")
            if by_sender is not None:
                return by_sender
        return None

    def _match_gmail_thread(self, thrid: int | None) -> Match | None:
        """Gmail keeps a thread together even when a client dropped In-Reply-To."""
        if thrid is None:
            return None
        row = self.store.db.execute(
            "SELECT m.ask_id, a.mentor_id FROM messages m JOIN asks a ON a.id = m.ask_id "
            "WHERE m.gm_thrid = ? ORDER BY m.id DESC LIMIT 1", (thrid,)).fetchone()
        if row is None:
            return None
        return Match(row["ask_id"], f"Gmail thread {thrid}", mentor_id=row["mentor_id"])

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
                match: Match, inspection: Inspection | None, problem: str | None) -> int:
        now = self.now()
        direction = "out" if role == "sent" else "in"
        kind = inspection.kind if inspection else None
        intent = inspection.intent if inspection else None
        inserted = self.store.db.execute(
            "INSERT OR IGNORE INTO messages (account, folder, uid, uidvalidity, message_id, "
            "in_reply_to, references_, from_addr, to_addrs, subject, date, direction, kind, "
            "intent, ask_id, match_reason, reply_text, created_at, gm_thrid) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (self.account.name, folder, uid, uidvalidity, headers.message_id,
             " ".join(headers.in_reply_to) or None, " ".join(headers.references) or None,
             headers.from_addr, json.dumps(list(headers.to_addrs)), headers.subject,
             iso(headers.date) if headers.date else None, direction, kind, intent,
             match.ask_id, match.reason,
             inspection.reply_text[:20000] if inspection else None, iso(now),
             headers.gm_thrid)).rowcount
        if inserted == 0:
            return 0  # recorded before (by another sync of this folder): never apply twice
        self.store.add_event(now, f"message_{direction}", ask_id=match.ask_id,
                             mentor_id=match.mentor_id, subject=headers.subject, kind=kind,
                             intent=intent, why=match.reason,
                             evidence=inspection.evidence if inspection else None)
        if match.ask_id is None:
            return 0
        if match.needs_review:
            self.store.db.execute("UPDATE asks SET needs_review = 1 WHERE id = ?",
                                  (match.ask_id,))
        if problem is None or role == "sent":  # a sent message needs no classification
            try:
                event = self._event(role, headers, inspection)
                if event is None:
                    return 0
                # All or nothing: the tracker rolls back its own writes when it fails.
                self.tracker.handle_in_transaction(match.ask_id, event, now, why=match.reason)
                return 1
            except Exception as exc:
                if _infrastructure(exc):
                    raise
                log.exception("ask %d: %s/%s uid %d could not be applied", match.ask_id,
                              folder, role, uid)
                problem = f"could not be applied: {_reason(exc)}"
        return self._fall_back(folder, role, uid, headers, match, kind, problem, now)

    def _fall_back(self, folder: str, role: str, uid: int, headers: Headers, match: Match,
                   kind: str | None, problem: str, now: datetime) -> int:
        """The message is recorded but its real event failed: be conservative.

        The ask is flagged for review. A message from a person (or of unknown kind) is
        applied as a reply of unclear intent, which stops the nudges and asks the user
        to read it; anything else (an auto-reply, a bounce, a notice, the user's own
        sent mail) is only flagged and the user told.
        """
        assert match.ask_id is not None
        self.store.db.execute("UPDATE asks SET needs_review = 1 WHERE id = ?", (match.ask_id,))
        human = role == "inbox" and kind in (None, "human")
        self.store.add_event(now, "message_skipped", ask_id=match.ask_id,
                             mentor_id=match.mentor_id, folder=folder, uid=uid,
                             subject=headers.subject, reason=problem,
                             fallback="HumanReply(unclear)" if human else None)
        if human:
            try:
                self.tracker.handle_in_transaction(
                    match.ask_id, ev.HumanReply(intent=Intent.UNCLEAR,
                                                message_id=headers.message_id, at=headers.date),
                    now, why=match.reason, fallback=problem)
                return 1
            except Exception as exc:
                if _infrastructure(exc):
                    raise
                log.exception("ask %d: not even a reply of unclear intent could be applied",
                              match.ask_id)
        self.tracker.queue_notice(
            Level.WARNING, self.tracker.about(
                match.ask_id, f"a message ({headers.subject!r}) could not be handled "
                f"({problem}); please read it and update the ask."))
        return 0

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
                    return ev.MessageSent(step=step_name(self.store, ours), by_user=True,
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


def _infrastructure(exc: BaseException) -> bool:
    """Trouble with the connection or the database, not with one message: retry later."""
    if isinstance(exc, ProtocolError | StoreError):
        return True
    if isinstance(exc, sqlite3.OperationalError):
        name = getattr(exc, "sqlite_errorname", "") or ""
        return name.startswith(_SQLITE_INFRA)
    return False


def _reason(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= 300 else text[:297] + "..."
