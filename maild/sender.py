"""The send path: approved drafts out through SMTP, exactly once.

For each approved draft whose time has come, in order:

1. wait for the mentor's sending window, the account's rate limit and daily cap;
2. re-check the thread on the server: a catch-up of INBOX right before sending, so a
   reply that just arrived cancels a nudge instead of racing it (invariant 3);
3. claim: the draft becomes ``sending`` and that is committed *before* any SMTP traffic;
4. SMTP; then commit ``sent`` with the message row and the engine's MessageSent;
5. append a copy to Sent when the account wants one.

A crash between 3 and 4 leaves a ``sending`` draft. ``recover`` resolves it only by
evidence: its Message-ID in the Sent folder makes it ``sent``; otherwise it becomes
``uncertain`` and the user decides. Nothing is ever re-sent silently (invariant 2).
"""

from __future__ import annotations

import asyncio
import json
import logging
import mimetypes
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from zoneinfo import ZoneInfo

from maild.adapters import smtp
from maild.adapters.imap import ImapConnection
from maild.compose import Attachment, Mailbox, compose
from maild.config import Account, Config
from maild.core import events as ev
from maild.errors import MaildError
from maild.inbox import Inbox
from maild.store import Store, iso
from maild.store import asks as asks_repo
from maild.store import drafts as drafts_repo
from maild.store.drafts import Draft
from maild.tracker import Tracker

log = logging.getLogger(__name__)

RETRY_BASE = timedelta(minutes=2)
RETRY_CAP = timedelta(hours=2)


@dataclass(frozen=True)
class SendReport:
    sent: int = 0
    deferred: int = 0
    cancelled: int = 0
    failed: int = 0
    uncertain: int = 0


class Sender:
    """Sends approved drafts for every account of one config."""

    def __init__(self, store: Store, tracker: Tracker, config: Config, *,
                 secret: Callable[[Account], str],
                 imap: Callable[[Account], ImapConnection],
                 now: Callable[[], datetime],
                 checkpoint: Callable[[str], None] | None = None) -> None:
        self.store = store
        self.tracker = tracker
        self.config = config
        self._secret = secret
        self._imap = imap
        self.now = now
        # Fault-injection tests stop the process at these named points.
        self._checkpoint = checkpoint or (lambda _point: None)

    # -- selection --------------------------------------------------------------------

    def ready(self, now: datetime) -> list[Draft]:
        return [d for d in drafts_repo.list_drafts(self.store, ("approved",))
                if d.send_after is None or d.send_after <= now]

    def next_wakeup(self) -> datetime | None:
        times = [d.send_after for d in drafts_repo.list_drafts(self.store, ("approved",))
                 if d.send_after is not None]
        return min(times, default=None)

    def _sent_since(self, account: str, since: datetime) -> int:
        row = self.store.db.execute(
            "SELECT count(*) FROM drafts WHERE account = ? AND status IN ('sent', 'sending', "
            "'uncertain') AND sent_at >= ?", (account, iso(since))).fetchone()
        return int(row[0])

    def _hold_until(self, draft: Draft, now: datetime) -> datetime | None:
        """When the draft may go out, if not now: sending window, rate limit, daily cap."""
        ask = asks_repo.load_ask(self.store, draft.ask_id)
        window = self.tracker.rules.window
        tz = ZoneInfo(ask.timezone)
        if not window.contains(now, tz):
            return window.next_allowed(now, tz)
        sending = self.config.sending
        if self._sent_since(draft.spec.account, now - timedelta(hours=1)) >= sending.rate_per_hour:
            return now + timedelta(minutes=10)
        if self._sent_since(draft.spec.account, now - timedelta(days=1)) >= sending.daily_cap:
            return now + timedelta(hours=1)
        return None

    # -- sending ----------------------------------------------------------------------

    async def send_ready(self) -> SendReport:
        counts = {"sent": 0, "deferred": 0, "cancelled": 0, "failed": 0, "uncertain": 0}
        for draft in self.ready(self.now()):
            outcome = await self.send_one(draft.id)
            counts[outcome] += 1
        return SendReport(**counts)

    async def send_one(self, draft_id: int) -> str:
        """Try to send one approved draft; returns what became of it."""
        now = self.now()
        draft = drafts_repo.get_draft(self.store, draft_id)
        if draft.status != "approved":
            return "cancelled"
        hold = self._hold_until(draft, now)
        if hold is not None:
            with self.store.transaction():
                drafts_repo.set_status(self.store, draft.id, "approved", now, send_after=hold,
                                       expect=("approved",))
            return "deferred"
        account = self.config.account(draft.spec.account)
        try:
            await asyncio.to_thread(self._recheck_thread, account)
        except MaildError as exc:
            # Without a re-check a nudge could follow a reply: better late than wrong.
            log.warning("draft %d: thread re-check failed (%s); trying again later", draft.id,
                        exc)
            self._defer(draft, now, attempt=1)
            return "deferred"
        draft = drafts_repo.get_draft(self.store, draft_id)
        if draft.status != "approved":
            log.info("draft %d: %s after re-checking the thread; not sent", draft.id,
                     draft.status)
            return "cancelled"
        step = self._step_name(draft)
        self._checkpoint("before_claim")
        with self.store.transaction():
            drafts_repo.set_status(self.store, draft.id, "sending", now, sent_at=now,
                                   expect=("approved",))
            self.store.db.execute("UPDATE steps SET status = 'sending' WHERE id = ?",
                                  (draft.spec.step_id,))
        self._checkpoint("before_smtp")
        message = self._message(draft, now)
        raw = message.as_bytes(policy=SMTP)
        try:
            secret = self._secret(account)
            await smtp.send(account, secret, account.email, [a for a, _n in draft.spec.to_addrs],
                            raw)
        except smtp.SendUncertainError as exc:
            self._finish_failed(draft, step, now, uncertain=True, detail=str(exc))
            return "uncertain"
        except smtp.SendPermanentError as exc:
            self._finish_failed(draft, step, now, uncertain=False, detail=str(exc))
            return "failed"
        except (smtp.SendTemporaryError, MaildError) as exc:
            log.warning("draft %d: %s; will retry", draft.id, exc)
            with self.store.transaction():
                drafts_repo.set_status(self.store, draft.id, "approved", now,
                                       expect=("sending",))
                self.store.db.execute("UPDATE steps SET status = 'approved' WHERE id = ?",
                                      (draft.spec.step_id,))
            self._defer(draft, now, attempt=self._attempts(draft) + 1)
            return "deferred"
        self._checkpoint("after_data")
        self._mark_sent(draft, step, now)
        self._checkpoint("after_commit")
        await asyncio.to_thread(self._save_copy, account, raw, now)
        return "sent"

    def _step_name(self, draft: Draft) -> str:
        row = self.store.db.execute("SELECT name FROM steps WHERE id = ?",
                                    (draft.spec.step_id,)).fetchone()
        return str(row["name"]) if row else ""

    def _attempts(self, draft: Draft) -> int:
        row = self.store.db.execute(
            "SELECT count(*) FROM events WHERE type = 'send_retry' AND json_extract(detail, "
            "'$.draft') = ?", (draft.id,)).fetchone()
        return int(row[0])

    def _defer(self, draft: Draft, now: datetime, attempt: int) -> None:
        delay = min(RETRY_CAP, RETRY_BASE * (2 ** max(0, attempt - 1)))
        with self.store.transaction():
            drafts_repo.set_status(self.store, draft.id, "approved", now, send_after=now + delay,
                                   expect=("approved",))
            self.store.add_event(now, "send_retry", ask_id=draft.ask_id, draft=draft.id,
                                 attempt=attempt, after=(now + delay).isoformat())

    def _recheck_thread(self, account: Account) -> None:
        with self._imap(account) as conn:
            inbox = Inbox(self.store, self.tracker, self.config, account, self.now)
            inbox.sync(conn, account.folders.inbox, "inbox")

    def _message(self, draft: Draft, now: datetime) -> EmailMessage:
        s = draft.spec
        attachments = []
        for path in s.attachments:
            file = Path(path)
            try:
                attachments.append(Attachment(file.name, file.read_bytes(), *_mime(file)))
            except OSError as exc:
                raise MaildError(f"attachment {path} cannot be read ({exc.strerror})") from None
        return compose(sender=Mailbox(s.from_addr, s.from_name),
                       to=[Mailbox(a, n) for a, n in s.to_addrs], subject=s.subject,
                       body=s.body, message_id=s.message_id, date=now,
                       in_reply_to=s.in_reply_to, references=s.references,
                       attachments=attachments)

    def _mark_sent(self, draft: Draft, step: str, now: datetime) -> None:
        with self.store.transaction():
            drafts_repo.set_status(self.store, draft.id, "sent", now, sent_at=now,
                                   expect=("sending", "uncertain"))
            self._record_out(draft, now)
            self.tracker.handle_in_transaction(
                draft.ask_id, ev.MessageSent(step=step, message_id=draft.spec.message_id, at=now),
                now, draft=draft.id)

    def _record_out(self, draft: Draft, now: datetime) -> None:
        s = draft.spec
        self.store.db.execute(
            "INSERT INTO messages (account, folder, message_id, in_reply_to, references_, "
            "from_addr, to_addrs, subject, date, direction, kind, ask_id, match_reason, "
            "created_at) VALUES (?, 'smtp', ?, ?, ?, ?, ?, ?, ?, 'out', 'human', ?, "
            "'sent by maild', ?)",
            (s.account, s.message_id, s.in_reply_to, " ".join(s.references) or None,
             s.from_addr, json.dumps([a for a, _n in s.to_addrs]), s.subject, iso(now),
             s.ask_id, iso(now)))
        self.store.add_event(now, "message_out", ask_id=s.ask_id, subject=s.subject,
                             draft=draft.id, to=[a for a, _n in s.to_addrs])

    def _finish_failed(self, draft: Draft, step: str, now: datetime, *, uncertain: bool,
                       detail: str) -> None:
        with self.store.transaction():
            drafts_repo.set_status(self.store, draft.id, "uncertain" if uncertain else "failed",
                                   now, expect=("sending",))
            self.tracker.handle_in_transaction(
                draft.ask_id, ev.SendFailed(step=step, uncertain=uncertain, detail=detail), now,
                draft=draft.id)

    def _save_copy(self, account: Account, raw: bytes, now: datetime) -> None:
        if account.save_sent_copy == "never":
            return
        try:
            with self._imap(account) as conn:
                sent = conn.folders().sent
                if sent is None:
                    log.warning("%s: no Sent folder; the sent copy is not saved", account.name)
                    return
                if account.save_sent_copy == "auto":
                    mid = _message_id_of(raw)
                    if mid and conn.find_message_id(sent, mid):
                        return  # the provider filed it already
                conn.append(sent, raw, flags=(b"\\Seen",), when=now)
        except MaildError as exc:
            # The mail went out; a missing copy is worth a warning, not a failure.
            log.warning("%s: could not save the sent copy: %s", account.name, exc)

    # -- crash recovery ---------------------------------------------------------------

    def recover(self) -> list[tuple[int, str]]:
        """Resolve drafts left ``sending`` by a crash, by evidence only."""
        outcomes: list[tuple[int, str]] = []
        for draft in drafts_repo.list_drafts(self.store, ("sending",)):
            account = self.config.account(draft.spec.account)
            now = self.now()
            step = self._step_name(draft)
            found: bool | None
            try:
                with self._imap(account) as conn:
                    sent = conn.folders().sent
                    found = bool(conn.find_message_id(sent, draft.spec.message_id)) \
                        if sent else None
            except MaildError as exc:
                log.warning("draft %d: cannot check the Sent folder (%s)", draft.id, exc)
                found = None
            if found:
                self._mark_sent(draft, step, now)
                outcomes.append((draft.id, "sent"))
            else:
                self._finish_failed(draft, step, now, uncertain=True,
                                    detail="interrupted while sending; not found in Sent")
                outcomes.append((draft.id, "uncertain"))
        return outcomes


def _message_id_of(raw: bytes) -> str | None:
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    for line in head.splitlines():
        if line.lower().startswith(b"message-id:"):
            return line.split(b":", 1)[1].strip().decode("ascii", "replace")
    return None


def _mime(file: Path) -> tuple[str, str]:
    guessed, _enc = mimetypes.guess_type(file.name)
    if guessed and "/" in guessed:
        main, sub = guessed.split("/", 1)
        return main, sub
    return "application", "octet-stream"

