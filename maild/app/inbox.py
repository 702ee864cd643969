"""The inbox sync loop: from new mail in a folder to engine events, one commit each.

``Inbox.sync`` is what a folder watcher calls whenever its folder may have changed. It
reads the folder's cursor, fetches only the headers of what is new, matches each
message to the ask it answers (``maild.core.matching``, recording why), fetches the
body only of matches (and of possible bounces and notices, matched by content),
classifies it, and applies the resulting event (``maild.core.mail_events``) together
with the message row and the advanced cursor in one transaction: a crash replays at
most the message in flight, and a message is never applied twice, even when two syncs
of the same folder run at once (the daemon's watcher and the sender's pre-send
re-check): its Message-ID is checked again inside the transaction, and an event is
applied only by the sync whose INSERT created the message row. The cursor only ever
moves forward.

Bad input never blocks a folder (invariants 4 and 5). Only infrastructure trouble (the
IMAP connection, the database being busy or unwritable) propagates, so that the
watcher reconnects and the message is retried. Any other failure is the message's own:
an unmatched message is recorded as ``message_skipped`` and passed over; a message
matched to an ask whose classification or application failed is still recorded, its
ask flagged "needs review", and a conservative ``HumanReply`` with intent "unclear" is
applied in place of the real event (a person wrote; wrong certainty is worse than
unclear), so nudges stop. Notices of the tracker go out after each commit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from maild.adapters.imap import Cursor, HeaderInfo, ImapConnection
from maild.app import lifecycle
from maild.app.tracker import Tracker
from maild.config import Account, Config
from maild.core import events as ev
from maild.core.actions import Level
from maild.core.events import EventKind
from maild.core.mail_events import incoming_event, sent_by_hand, sent_event
from maild.core.matching import Match, match, match_bounce, match_notice
from maild.core.model import Intent
from maild.errors import ProtocolError, StoreError
from maild.store import Store
from maild.store import folders as folders_repo
from maild.store import messages as messages_repo
from maild.store.messages import MessageRecord, StoreIndex
from maild.store.sql import DatabaseError, database_trouble
from maild.understand.headers import Headers, parse_headers, worth_reading
from maild.understand.inspect import Inspection, inspect_message

log = logging.getLogger(__name__)

# SQLite result codes that mean the database, not the message, is in trouble.


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
        self.index = StoreIndex(store, frozenset(config.own_addresses), now)

    # -- cursor -----------------------------------------------------------------------

    def cursor(self, folder: str) -> Cursor | None:
        state = folders_repo.load(self.store, self.account.name, folder)
        if state is None:
            return None
        return Cursor(state.uidvalidity, state.highest_uid, state.highestmodseq)

    def _save_cursor_uid(self, folder: str, cursor: Cursor) -> None:
        """Save ``cursor`` unless the stored one is already as far (it never goes back)."""
        folders_repo.advance(self.store, self.account.name, folder,
                             folders_repo.FolderState(cursor.uidvalidity, cursor.highest_uid,
                                                      cursor.highestmodseq), self.now())

    def rescan_keys(self, role: str) -> list[list[str]]:
        """SEARCH keys for the messages that can matter, after a UIDVALIDITY change.

        Replies quoting a Message-ID maild or the user sent for an open ask, mail from
        (or, in Sent, to) any known mentor or assistant, and in the inbox bounces and
        letter-service notices. Combined with SINCE the oldest open ask, the answer
        depends on the asks, not on how big the mailbox is.
        """
        addresses = messages_repo.known_addresses(self.store)
        keys: list[list[str]] = []
        for mid in messages_repo.open_thread_ids(self.store):
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
        oldest = messages_repo.oldest_open_ask(self.store)
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
        except DatabaseError as exc:
            # As the StoreError the watcher and the sender expect.
            raise StoreError(f"{self.account.name}/{folder}: database trouble: {exc}") from exc
        finally:
            self.tracker.flush_notices()
        return SyncResult(len(new.messages), matched, applied, new.rescanned)

    def _one(self, conn: ImapConnection, folder: str, role: str, info: HeaderInfo,
             uidvalidity: int) -> tuple[int, int]:
        headers = replace(parse_headers(info.headers), gm_thrid=info.gm_thrid)
        cursor_after = Cursor(uidvalidity, info.uid)
        if self._seen(headers, folder, role, uidvalidity):
            with self.store.transaction():
                if headers.message_id and headers.gm_thrid is not None:
                    messages_repo.note_gmail_thread(self.store, headers.message_id,
                                                    headers.gm_thrid)
                self._save_cursor_uid(folder, cursor_after)
            return 0, 0
        found = self.match(headers, role)
        needs_body = found is not None or (role == "inbox" and worth_reading(headers))
        inspection: Inspection | None = None
        problem: str | None = None
        if needs_body:
            raw = conn.body(info.uid)
            if raw is not None:
                try:
                    inspection = inspect_message(raw)
                    if found is None:
                        found = self._match_by_content(inspection)
                except Exception as exc:
                    if found is None or _infrastructure(exc):
                        raise  # tied to no ask: sync records it as skipped
                    log.warning("%s/%s uid %d: could not be classified: %s", self.account.name,
                                folder, info.uid, _reason(exc), exc_info=True)
                    inspection = None
                    problem = f"could not be classified: {_reason(exc)}"
        if found is None:
            with self.store.transaction():
                self._save_cursor_uid(folder, cursor_after)
            return 0, 0
        try:
            with self.store.transaction():
                applied = self._commit(folder, role, info.uid, uidvalidity, headers, found,
                                       inspection, problem)
        except Exception as exc:
            if found.ask_id is None or _infrastructure(exc):
                raise
            # Even recording it failed: record what the headers say, and fall back.
            log.exception("%s/%s uid %d: could not be recorded", self.account.name, folder,
                          info.uid)
            with self.store.transaction():
                applied = self._commit(folder, role, info.uid, uidvalidity, headers, found,
                                       None, f"could not be recorded: {_reason(exc)}")
        finally:
            self.tracker.flush_notices()
        return (1 if found.ask_id is not None else 0), applied

    def _commit(self, folder: str, role: str, uid: int, uidvalidity: int, headers: Headers,
                found: Match, inspection: Inspection | None, problem: str | None) -> int:
        """Inside the transaction: record and apply the message, advance the cursor."""
        applied = 0
        # Checked again here: another sync may have recorded it since the first look.
        if not self._seen(headers, folder, role, uidvalidity):
            applied = self._record(folder, role, uid, uidvalidity, headers, found, inspection,
                                   problem)
        self._save_cursor_uid(folder, Cursor(uidvalidity, uid))
        return applied

    def _skip(self, folder: str, uid: int, uidvalidity: int, exc: Exception) -> None:
        with self.store.transaction():
            self.store.tx.events.add(self.now(), EventKind.MESSAGE_SKIPPED, folder=folder,
                                     uid=uid, reason=_reason(exc))
            self._save_cursor_uid(folder, Cursor(uidvalidity, uid))

    def _seen(self, headers: Headers, folder: str, role: str, uidvalidity: int) -> bool:
        """Whether this message was recorded before, under any UIDVALIDITY.

        By Message-ID; a message without one (some auto-senders and broken clients)
        by what it says instead, in copies recorded under an older UIDVALIDITY of the
        folder: after a server renumbers a folder the UIDs say nothing, and applying
        the same reply twice would move its ask twice.
        """
        if headers.message_id:
            return self._already_seen(headers.message_id, role)
        return messages_repo.seen_without_id(
            self.store, self.account.name, folder, "out" if role == "sent" else "in",
            headers.from_addr, headers.subject, headers.date, uidvalidity)

    def _already_seen(self, message_id: str, role: str) -> bool:
        return messages_repo.already_seen(self.store, message_id,
                                          "out" if role == "sent" else "in")

    # -- matching ---------------------------------------------------------------------

    def match(self, headers: Headers, role: str) -> Match | None:
        """The ask ``headers`` belong to (``maild.core.matching``), by the store's index."""
        return match(headers, self.index, sent=role == "sent")

    def _match_by_content(self, inspection: Inspection) -> Match | None:
        if inspection.kind == "bounce" and inspection.bounce is not None:
            return match_bounce(inspection.bounce.original_message_id,
                                inspection.bounce.recipients, self.index)
        if inspection.kind == "notification":
            return match_notice(inspection.reply_text + "\n" + inspection.subject, self.index)
        return None

    # -- applying ---------------------------------------------------------------------

    def _record(self, folder: str, role: str, uid: int, uidvalidity: int, headers: Headers,
                found: Match, inspection: Inspection | None, problem: str | None) -> int:
        now = self.now()
        direction = "out" if role == "sent" else "in"
        kind = inspection.kind if inspection else None
        intent = inspection.intent if inspection else None
        inserted = messages_repo.record(self.store, MessageRecord(
            account=self.account.name, folder=folder, uid=uid, uidvalidity=uidvalidity,
            direction=direction, message_id=headers.message_id,
            in_reply_to=headers.in_reply_to, references=headers.references,
            from_addr=headers.from_addr, to_addrs=headers.to_addrs, subject=headers.subject,
            date=headers.date, ask_id=found.ask_id, match_reason=found.reason, kind=kind,
            intent=intent, reply_text=inspection.reply_text[:20000] if inspection else None,
            gm_thrid=headers.gm_thrid), now)
        if not inserted:
            return 0  # recorded before (by another sync of this folder): never apply twice
        self.store.tx.events.add(now, EventKind.MESSAGE_OUT if role == "sent" else
                                 EventKind.MESSAGE_IN, ask_id=found.ask_id,
                                 mentor_id=found.mentor_id, subject=headers.subject, kind=kind,
                                 intent=intent, why=found.reason,
                                 evidence=inspection.evidence if inspection else None,
                                 message_id=headers.message_id)
        log.info("%s/%s uid %d: %s for ask %s: %s", self.account.name, folder, uid,
                 "sent" if role == "sent" else "received", found.ask_id, found.reason)
        if found.ask_id is None:
            return 0
        if found.needs_review:
            messages_repo.flag_for_review(self.store, found.ask_id)
        if problem is None or role == "sent":  # a sent message needs no classification
            try:
                if role == "sent" and found.draft is not None and sent_by_hand(found.draft):
                    credited = lifecycle.sent_by_hand(
                        self.store.tx, self.tracker, found.draft.draft_id, headers.message_id,
                        headers.date, now, why=found.reason)
                    return 1 if credited else 0
                event = self._event(role, headers, inspection, found)
                if event is None:
                    return 0
                # All or nothing: the tracker rolls back its own writes when it fails.
                self.tracker.handle_in_transaction(found.ask_id, event, now, why=found.reason)
                return 1
            except Exception as exc:
                if _infrastructure(exc):
                    raise
                log.exception("ask %d: %s/%s uid %d could not be applied", found.ask_id,
                              folder, role, uid)
                problem = f"could not be applied: {_reason(exc)}"
        return self._fall_back(folder, role, uid, headers, found, kind, problem, now)

    def _fall_back(self, folder: str, role: str, uid: int, headers: Headers, found: Match,
                   kind: str | None, problem: str, now: datetime) -> int:
        """The message is recorded but its real event failed: be conservative.

        The ask is flagged for review. A message from a person (or of unknown kind) is
        applied as a reply of unclear intent, which stops the nudges and asks the user
        to read it; anything else (an auto-reply, a bounce, a notice, the user's own
        sent mail) is only flagged and the user told.
        """
        assert found.ask_id is not None
        messages_repo.flag_for_review(self.store, found.ask_id)
        human = role == "inbox" and kind in (None, "human")
        self.store.tx.events.add(now, EventKind.MESSAGE_SKIPPED, ask_id=found.ask_id,
                                 mentor_id=found.mentor_id, folder=folder, uid=uid,
                                 subject=headers.subject, reason=problem,
                                 fallback="HumanReply(unclear)" if human else None)
        if human:
            try:
                self.tracker.handle_in_transaction(
                    found.ask_id, ev.HumanReply(intent=Intent.UNCLEAR,
                                                message_id=headers.message_id, at=headers.date),
                    now, why=found.reason, fallback=problem)
                return 1
            except Exception as exc:
                if _infrastructure(exc):
                    raise
                log.exception("ask %d: not even a reply of unclear intent could be applied",
                              found.ask_id)
        self.tracker.queue_notice(
            Level.WARNING, self.tracker.about(
                found.ask_id, f"a message ({headers.subject!r}) could not be handled "
                f"({problem}); please read it and update the ask."))
        return 0

    def _event(self, role: str, headers: Headers, inspection: Inspection | None,
               found: Match) -> ev.Event | None:
        if role == "sent":
            return sent_event(found, headers.message_id, headers.date)
        if inspection is None:
            return None
        return incoming_event(inspection, headers.message_id, headers.date)


def _infrastructure(exc: BaseException) -> bool:
    """Trouble with the connection or the database, not with one message: retry later."""
    if isinstance(exc, ProtocolError | StoreError):
        return True
    return database_trouble(exc)


def _reason(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= 300 else text[:297] + "..."
