"""The send path: approved drafts out through SMTP, exactly once.

Approved drafts whose time has come are taken deadline-bound mail first (nearest letter
deadline first), then by the earliest due step (``Drafts.sendable``), so that when one
email a day or the daily cap holds mail back, a cold nudge waits rather than a letter
reminder. For each, in order:

1. wait for the mentor's sending window, the account's rate limit and daily cap;
2. check the files it promises: one that is missing or unreadable holds the draft
   (approved, tried again hourly) with the reason shown and the user told once
   (invariant 10: what a mail says is attached is attached);
3. compose the message and check its header block: a draft that cannot become a clean
   message (a control character in a name, a bad address) fails here, before anything
   is claimed or sent;
4. re-check the thread on the server: a catch-up of INBOX and Sent right before
   sending, so a reply that just arrived cancels a nudge instead of racing it
   (invariant 3), and a draft the user already sent from their own client (found in
   Sent by its Message-ID, e.g. the copy maild put in Drafts) is credited as sent,
   exactly as if maild had sent it (``lifecycle.sent_by_hand``); then one email a day
   per mentor (invariant 9): when the mentor already got a mail today, from any ask (or
   from the user's own client), this one moves to the next sending day and the user is
   told why;
5. claim, in one transaction with a last look at the ask (the engine's
   ``send_verdict``): a paused ask or one waiting for an address holds the draft, an
   ended ask or a reply after the approval of a nudge cancels it, a reminder goes back
   before the user; otherwise the draft becomes ``sending`` and that is committed
   *before* any SMTP traffic;
6. SMTP; then commit ``sent`` with the message row and the engine's MessageSent;
7. append a copy to Sent when the account wants one.

Every way back to ``approved`` (a temporary SMTP error, ``maild draft resolve
--not-sent``, ``maild draft retry``) goes through the engine's SendRetry, so what
happened meanwhile (a reply, a pause, the ask's end) decides whether it still goes.

A crash between 5 and 6 leaves a ``sending`` draft. ``recover`` resolves it only by
evidence: its Message-ID in the Sent folder makes it ``sent``; otherwise it becomes
``uncertain`` and the user decides. Nothing is ever re-sent silently (invariant 2).

This module decides when and how to send; every change of a draft's status is the
lifecycle's (``maild.app.lifecycle``).
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

from maild.adapters import smtp
from maild.adapters.compose import WIRE, Attachment, Mailbox, compose
from maild.adapters.credentials import Secret
from maild.adapters.imap import ImapConnection
from maild.app import lifecycle
from maild.app.drafting import attachment_problems
from maild.app.inbox import Inbox
from maild.app.lifecycle import Outcome
from maild.app.tracker import Tracker
from maild.config import Account, Config
from maild.core.actions import Level
from maild.core.model import DraftStatus
from maild.core.timing import local_date
from maild.errors import MaildError
from maild.store import Store
from maild.store.drafts import Draft

log = logging.getLogger(__name__)

# How often a draft held for an unreadable attachment looks at the file again.
ATTACHMENT_RECHECK = timedelta(hours=1)
# How often drafts held for a refused SMTP certificate try again (the user may have
# fixed config.toml, or the server its certificate).
CERTIFICATE_RECHECK = timedelta(hours=1)
_ATTACHMENT = "attachment: "

# Every header maild writes (compose.py). Anything else in a composed message means a
# value smuggled a header in; the send is refused whatever compose's checks missed.
ALLOWED_HEADERS = frozenset({
    "from", "to", "cc", "subject", "date", "message-id", "in-reply-to", "references",
    "x-mailer", "mime-version", "content-type", "content-transfer-encoding",
})


class UnsendableError(MaildError):
    """The draft cannot become a safe message; it fails without anything being sent."""


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
                 secret: Callable[[Account], Secret],
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
        # Accounts whose SMTP certificate was refused: until when their drafts wait, and
        # why. Kept for this Sender's life, so the user hears of it once, not per draft.
        self._refused: dict[str, tuple[datetime, str]] = {}

    # -- selection --------------------------------------------------------------------

    def ready(self, now: datetime) -> list[Draft]:
        """Approved drafts whose time has come, except those of a held ask (they wait,
        unchanged, until the ask is released)."""
        return [d for d in self.store.read.drafts.sendable()
                if d.send_after is None or d.send_after <= now]

    def next_wakeup(self) -> datetime | None:
        """When the next approved draft waits for (its window, a back-off, a snooze)."""
        return self.store.read.drafts.next_send_after()

    def _rate_hold(self, account: str, now: datetime) -> datetime | None:
        """The first moment one more message fits the hourly rate and the daily cap."""
        sending = self.config.sending
        holds: list[datetime] = []
        for span, limit in ((timedelta(hours=1), sending.rate_per_hour),
                            (timedelta(days=1), sending.daily_cap)):
            times = self.store.read.drafts.send_times(account, now - span)
            if len(times) >= limit:
                # One more fits once enough of the oldest sends have aged out of the span;
                # the extra second makes sure the boundary send no longer counts.
                holds.append(times[len(times) - limit] + span + timedelta(seconds=1))
        return max(holds, default=None)

    def _hold_until(self, draft: Draft, now: datetime) -> datetime | None:
        """When the draft may go out, if not now: sending window, rate limit, daily cap."""
        ask = self.store.read.asks.get(draft.ask_id)
        window = self.tracker.rules.window
        tz = ZoneInfo(ask.timezone)
        if not window.contains(now, tz):
            return window.next_allowed(now, tz)
        hold = self._rate_hold(draft.spec.account, now)
        if hold is not None:
            log.info("draft %d: the %s account's rate limit or daily cap is reached; "
                     "waiting until %s", draft.id, draft.spec.account, hold.isoformat())
        return hold

    # -- sending ----------------------------------------------------------------------

    async def send_ready(self) -> SendReport:
        counts = dict.fromkeys(Outcome, 0)
        for draft in self.ready(self.now()):
            outcome = await self.send_one(draft.id)
            counts[outcome] += 1
        return SendReport(**{str(k): v for k, v in counts.items()})

    async def send_one(self, draft_id: int) -> Outcome:
        """Try to send one approved draft; returns what became of it."""
        try:
            return await self._send_one(draft_id)
        finally:
            # The engine's notices (a failure, a held ask) go out once committed.
            self.tracker.flush_notices()

    async def _send_one(self, draft_id: int) -> Outcome:
        now = self.now()
        draft = self.store.read.drafts.get(draft_id)
        if draft.status is not DraftStatus.APPROVED:
            return Outcome.CANCELLED
        hold = self._hold_until(draft, now)
        if hold is not None:
            lifecycle.hold(self.store, draft, hold, now)
            return Outcome.DEFERRED
        if self._hold_for_certificate(draft, now):
            return Outcome.DEFERRED
        if self._hold_for_files(draft, now):
            return Outcome.DEFERRED
        try:
            raw = self.raw_message(draft, now)
        except MaildError as exc:
            # Nothing was claimed and nothing went out: a plain failure the user must fix.
            log.error("draft %d cannot be sent: %s", draft.id, exc)
            lifecycle.failed(self.store, self.tracker, draft, now, uncertain=False,
                             detail=str(exc), expect=(DraftStatus.APPROVED,))
            return Outcome.FAILED
        account = self.config.account(draft.spec.account)
        try:
            sent_by_user = await asyncio.to_thread(self._recheck_thread, account, draft)
        except MaildError as exc:
            # Without a re-check a nudge could follow a reply: better late than wrong.
            log.warning("draft %d: thread re-check failed (%s); trying again later", draft.id,
                        exc)
            with self.store.transaction() as tx:
                lifecycle.defer(tx, draft, now)
            return Outcome.DEFERRED
        draft = self.store.read.drafts.get(draft_id)
        if draft.status is DraftStatus.APPROVED and sent_by_user:
            log.info("draft %d is already in Sent: the user sent it themselves; maild will "
                     "not", draft.id)
            lifecycle.sent_by_user(self.store, self.tracker, draft, now)
            draft = self.store.read.drafts.get(draft_id)
        if draft.status is not DraftStatus.APPROVED:
            log.info("draft %d: %s after re-checking the thread; not sent", draft.id,
                     draft.status)
            return Outcome.CANCELLED
        if self._hold_for_spacing(draft, now):
            return Outcome.DEFERRED
        self._checkpoint("before_claim")
        outcome = lifecycle.claim(self.store, self.tracker, draft, now)
        if outcome is not None:
            return outcome
        self._checkpoint("before_smtp")
        try:
            secret = self._secret(account)
            await smtp.send(account, secret, account.email, [a for a, _n in draft.spec.to_addrs],
                            raw)
        except smtp.SendUncertainError as exc:
            lifecycle.failed(self.store, self.tracker, draft, now, uncertain=True,
                             detail=str(exc))
            return Outcome.UNCERTAIN
        except smtp.SmtpCertificateError as exc:
            return self._certificate_refused(draft, exc, now)
        except smtp.SendPermanentError as exc:
            lifecycle.failed(self.store, self.tracker, draft, now, uncertain=False,
                             detail=str(exc))
            return Outcome.FAILED
        except (smtp.SendTemporaryError, MaildError) as exc:
            log.warning("draft %d: %s; will retry", draft.id, exc)
            return lifecycle.try_again(self.store, self.tracker, draft, now, str(exc))
        self._checkpoint("after_data")
        self._refused.pop(draft.spec.account, None)
        lifecycle.sent(self.store, self.tracker, draft, now)
        self._checkpoint("after_commit")
        await asyncio.to_thread(self._save_copy, account, raw, now)
        return Outcome.SENT

    def _certificate_refused(self, draft: Draft, exc: smtp.SmtpCertificateError,
                             now: datetime) -> Outcome:
        """Not a problem of this draft: every mail of the account would fail the same way
        until the user acts. The draft stays approved and waits (nothing reached the
        server), the account's other drafts wait without a connection, and the user is
        told once, with the fix."""
        account = draft.spec.account
        until = now + CERTIFICATE_RECHECK
        why = f"the SMTP server's certificate was refused: {exc.message}"
        first = account not in self._refused
        self._refused[account] = (until, why)
        log.error("draft %d not sent, held until %s: %s", draft.id, until.isoformat(), why)
        outcome = lifecycle.held_unsent(self.store, self.tracker, draft, until, now, why)
        if first:
            self.tracker.queue_notice(
                Level.URGENT, f"No mail can be sent from the {account} account: "
                f"{exc.message}. Approved drafts stay approved and are tried again every "
                "hour: they go out at the first try after it is fixed.")
        return outcome

    def _hold_for_certificate(self, draft: Draft, now: datetime) -> bool:
        """Hold a draft of an account whose certificate was refused a moment ago, without
        a connection that would only fail again."""
        refused = self._refused.get(draft.spec.account)
        if refused is None or refused[0] <= now:
            return False
        until, why = refused
        lifecycle.hold(self.store, draft, until, now, reason=why)
        return True

    def _hold_for_files(self, draft: Draft, now: datetime) -> bool:
        """Hold an approved draft whose promised files cannot be read right now (tried
        again hourly); the reason shows as what it needs, the user is told once."""
        problems = tuple(_ATTACHMENT + p for p in attachment_problems(draft.spec.attachments))
        others = tuple(f for f in draft.spec.missing_fields if not f.startswith(_ATTACHMENT))
        if not problems:
            if others != draft.spec.missing_fields:
                with self.store.transaction() as tx:
                    tx.drafts.set_problems(draft.id, others, now)
            return False
        new = problems != tuple(f for f in draft.spec.missing_fields
                                if f.startswith(_ATTACHMENT))
        lifecycle.hold(self.store, draft, now + ATTACHMENT_RECHECK, now,
                       reason="; ".join(problems), problems=others + problems)
        if new:
            # After the hold's event row, its anchor: told once it is committed.
            self.tracker.queue_notice(
                Level.WARNING, f"Draft {draft.id} ({draft.spec.subject}) is held: "
                f"{'; '.join(p.removeprefix(_ATTACHMENT) for p in problems)}. It says these "
                "files are attached; put them back (or fix [attachments]) and it goes out.")
        log.warning("draft %d held: %s", draft.id, "; ".join(problems))
        return True

    def _hold_for_spacing(self, draft: Draft, now: datetime) -> bool:
        """One email a day per mentor, across all asks: when the mentor already got mail
        today (in their time zone), this one moves to the next sending day, and says so."""
        ask = self.store.read.asks.get(draft.ask_id)
        tz = ZoneInfo(ask.timezone)
        today = local_date(now, tz)
        start = datetime.combine(today, datetime.min.time(), tzinfo=tz)
        earlier = self.store.read.drafts.mail_to_mentor_since(ask.mentor_id, start,
                                                              exclude=draft.id)
        if not earlier:
            return False
        until = self.tracker.rules.window.first_working_moment_after(today, tz)
        other = earlier[-1]
        which = f"ask {other.ask_id}'s" if other.ask_id not in (None, draft.ask_id) else "a"
        why = (f"one email a day to this mentor: {which} mail ({other.subject!r}) reached "
               "them today")
        lifecycle.hold(self.store, draft, until, now, reason=why)
        self.tracker.queue_notice(
            Level.INFO, f"Draft {draft.id} ({draft.spec.subject}) moves to "
            f"{until.astimezone(tz):%a %Y-%m-%d %H:%M}: {why}.")
        log.info("draft %d moves to %s: %s", draft.id, until.isoformat(), why)
        return True

    def raw_message(self, draft: Draft, now: datetime) -> bytes:
        """The exact bytes maild would send for ``draft``; UnsendableError if unsafe."""
        raw = self._message(draft, now).as_bytes(policy=WIRE)
        check_header_block(raw)
        return raw

    def _recheck_thread(self, account: Account, draft: Draft) -> bool:
        """Catch up on INBOX and Sent; True when the draft itself is already in Sent.

        The draft's own Message-ID in Sent while maild never sent it means the user sent
        it from their own client (the Drafts copy keeps maild's Message-ID).
        """
        with self._imap(account) as conn:
            inbox = Inbox(self.store, self.tracker, self.config, account, self.now)
            inbox.sync(conn, account.folders.inbox, "inbox")
            sent = conn.folders().sent
            if sent is None:
                return False
            inbox.sync(conn, sent, "sent")
            return bool(conn.find_message_id(sent, draft.spec.message_id))

    def _message(self, draft: Draft, now: datetime) -> EmailMessage:
        return message_of(draft, now)

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

    def recover(self) -> list[tuple[int, Outcome]]:
        """Resolve drafts left ``sending`` by a crash, by evidence only."""
        outcomes: list[tuple[int, Outcome]] = []
        for draft in self.store.read.drafts.with_status(DraftStatus.SENDING):
            account = self.config.account(draft.spec.account)
            now = self.now()
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
                lifecycle.sent(self.store, self.tracker, draft, now)
                outcomes.append((draft.id, Outcome.SENT))
            else:
                lifecycle.failed(self.store, self.tracker, draft, now, uncertain=True,
                                 detail="interrupted while sending; not found in Sent")
                outcomes.append((draft.id, Outcome.UNCERTAIN))
            self.tracker.flush_notices()
        return outcomes


def message_of(draft: Draft, now: datetime) -> EmailMessage:
    """The message a draft becomes (what is sent, and what the page shows before)."""
    s = draft.spec
    attachments = []
    for path in s.attachments:
        file = Path(path)
        try:
            attachments.append(Attachment(file.name, file.read_bytes(), *_mime(file)))
        except OSError as exc:
            raise UnsendableError(f"attachment {path} cannot be read ({exc.strerror})") \
                from None
    return compose(sender=Mailbox(s.from_addr, s.from_name),
                   to=[Mailbox(a, n) for a, n in s.to_addrs], subject=s.subject,
                   body=s.body, message_id=s.message_id, date=now,
                   in_reply_to=s.in_reply_to, references=s.references,
                   attachments=attachments)


def check_header_block(raw: bytes) -> None:
    """Refuse a message whose top-level header block holds a header maild never writes.

    compose() already rejects control characters; this is the second lock on the same
    door, on the exact bytes that would go out, so no other path can add a header.
    """
    head = raw.split(b"\r\n\r\n", 1)[0]
    for line in head.split(b"\r\n"):
        if not line or line[:1] in (b" ", b"\t"):
            continue  # a folded continuation of the previous header
        name, sep, _value = line.partition(b":")
        text = name.decode("ascii", "replace").strip().lower()
        if not sep or text not in ALLOWED_HEADERS:
            shown = line[:60].decode("ascii", "replace")
            raise UnsendableError(f"the composed message has an unexpected header line "
                                  f"{shown!r}; not sent")
        if b"\r" in line or b"\n" in line or b"\x00" in line:
            raise UnsendableError("the composed message has a control character in a header")


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

