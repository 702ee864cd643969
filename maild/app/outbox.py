"""The send path: approved drafts out through SMTP, exactly once.

For each approved draft whose time has come, in order:

1. wait for the mentor's sending window, the account's rate limit and daily cap;
2. check the files it promises: one that is missing or unreadable holds the draft
   (approved, tried again hourly) with the reason shown and the user told (invariant
   10: what a mail says is attached is attached);
3. compose the message and check its header block: a draft that cannot become a clean
   message (a control character in a name, a bad address) fails here, before anything
   is claimed or sent;
4. re-check the thread on the server: a catch-up of INBOX and Sent right before
   sending, so a reply that just arrived cancels a nudge instead of racing it
   (invariant 3), and a draft the user already sent from their own client (found in
   Sent by its Message-ID, e.g. the copy maild put in Drafts) is marked sent (its step
   superseded); then one email a day per mentor (invariant 9): when the mentor already
   got a mail today, from any ask (or from the user's own client), this one moves to
   the next sending day and the user is told why;
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
from maild.adapters.compose import Attachment, Mailbox, compose
from maild.adapters.imap import ImapConnection
from maild.app.drafting import attachment_problems
from maild.app.inbox import Inbox
from maild.app.tracker import Tracker
from maild.config import Account, Config
from maild.core import events as ev
from maild.core.actions import Level
from maild.core.engine import Verdict, send_verdict
from maild.core.model import HOLDING_STATES, StepStatus
from maild.core.timing import local_date
from maild.errors import MaildError, UsageError
from maild.store import Store, iso
from maild.store import asks as asks_repo
from maild.store import drafts as drafts_repo
from maild.store.drafts import Draft

log = logging.getLogger(__name__)

RETRY_BASE = timedelta(minutes=2)
RETRY_CAP = timedelta(hours=2)
# How often a draft held for an unreadable attachment looks at the file again.
ATTACHMENT_RECHECK = timedelta(hours=1)
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
        """Approved drafts whose time has come, except those of a held ask."""
        return [d for d in self._sendable()
                if d.send_after is None or d.send_after <= now]

    def next_wakeup(self) -> datetime | None:
        times = [d.send_after for d in self._sendable() if d.send_after is not None]
        return min(times, default=None)

    def _sendable(self) -> list[Draft]:
        """Approved drafts, without those of an ask that is paused, waits for an address
        or for a failed first mail: they wait, unchanged, until the ask is released."""
        held = {int(r[0]) for r in self.store.db.execute(
            f"SELECT id FROM asks WHERE state IN ({','.join('?' * len(HOLDING_STATES))})",
            tuple(str(s) for s in HOLDING_STATES))}
        return [d for d in drafts_repo.list_drafts(self.store, ("approved",))
                if d.ask_id not in held]

    def _send_times(self, account: str, since: datetime) -> list[datetime]:
        """When this account's messages went out (or may have) since ``since``, oldest first.

        ``sending`` and ``uncertain`` count: a message that may have left counts against
        the limit, which errs on the side of sending less.
        """
        rows = self.store.db.execute(
            "SELECT sent_at FROM drafts WHERE account = ? AND status IN ('sent', 'sending', "
            "'uncertain') AND sent_at >= ?", (account, iso(since))).fetchall()
        return sorted(datetime.fromisoformat(r[0]) for r in rows)

    def _rate_hold(self, account: str, now: datetime) -> datetime | None:
        """The first moment one more message fits the hourly rate and the daily cap."""
        sending = self.config.sending
        holds: list[datetime] = []
        for span, limit in ((timedelta(hours=1), sending.rate_per_hour),
                            (timedelta(days=1), sending.daily_cap)):
            times = self._send_times(account, now - span)
            if len(times) >= limit:
                # One more fits once enough of the oldest sends have aged out of the span;
                # the extra second makes sure the boundary send no longer counts.
                holds.append(times[len(times) - limit] + span + timedelta(seconds=1))
        return max(holds, default=None)

    def _hold_until(self, draft: Draft, now: datetime) -> datetime | None:
        """When the draft may go out, if not now: sending window, rate limit, daily cap."""
        ask = asks_repo.load_ask(self.store, draft.ask_id)
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
        counts = {"sent": 0, "deferred": 0, "cancelled": 0, "failed": 0, "uncertain": 0}
        for draft in self.ready(self.now()):
            outcome = await self.send_one(draft.id)
            counts[outcome] += 1
        return SendReport(**counts)

    async def send_one(self, draft_id: int) -> str:
        """Try to send one approved draft; returns what became of it."""
        try:
            return await self._send_one(draft_id)
        finally:
            # The engine's notices (a failure, a held ask) go out once committed.
            self.tracker.flush_notices()

    async def _send_one(self, draft_id: int) -> str:
        now = self.now()
        draft = drafts_repo.get_draft(self.store, draft_id)
        if draft.status != "approved":
            return "cancelled"
        hold = self._hold_until(draft, now)
        if hold is not None:
            with self.store.transaction():
                drafts_repo.set_status(self.store, draft.id, "approved", now, send_after=hold,
                                       expect=("approved",))
                self.store.add_event(now, "send_held", ask_id=draft.ask_id, draft=draft.id,
                                     until=hold.isoformat())
            return "deferred"
        step = self._step_name(draft)
        if self._hold_for_files(draft, now):
            return "deferred"
        try:
            raw = self.raw_message(draft, now)
        except MaildError as exc:
            # Nothing was claimed and nothing went out: a plain failure the user must fix.
            log.error("draft %d cannot be sent: %s", draft.id, exc)
            self._finish_failed(draft, step, now, uncertain=False, detail=str(exc),
                                expect=("approved",))
            return "failed"
        account = self.config.account(draft.spec.account)
        try:
            sent_by_user = await asyncio.to_thread(self._recheck_thread, account, draft)
        except MaildError as exc:
            # Without a re-check a nudge could follow a reply: better late than wrong.
            log.warning("draft %d: thread re-check failed (%s); trying again later", draft.id,
                        exc)
            with self.store.transaction():
                self._defer(draft, now, attempt=self._attempts(draft) + 1)
            return "deferred"
        draft = drafts_repo.get_draft(self.store, draft_id)
        if draft.status == "approved" and sent_by_user:
            self._supersede(draft, step, now)
            draft = drafts_repo.get_draft(self.store, draft_id)
        if draft.status != "approved":
            log.info("draft %d: %s after re-checking the thread; not sent", draft.id,
                     draft.status)
            return "cancelled"
        if self._hold_for_spacing(draft, now):
            return "deferred"
        self._checkpoint("before_claim")
        outcome = self._claim(draft, now)
        if outcome is not None:
            return outcome
        self._checkpoint("before_smtp")
        try:
            secret = self._secret(account)
            await smtp.send(account, secret, account.email, [a for a, _n in draft.spec.to_addrs],
                            raw)
        except smtp.SendUncertainError as exc:
            self._finish_failed(draft, step, now, uncertain=True, detail=str(exc))
            return "uncertain"
        except smtp.SendPermanentError as exc:
            self._finish_failed(draft, step, now, uncertain=False, detail=str(exc))
            if isinstance(exc, smtp.SmtpCertificateError):
                # Not a problem of this draft: every send fails until the user acts.
                self.tracker.queue_notice(Level.URGENT,
                                          f"A mail could not be sent: {exc.message}")
                self.tracker.flush_notices()
            return "failed"
        except (smtp.SendTemporaryError, MaildError) as exc:
            log.warning("draft %d: %s; will retry", draft.id, exc)
            # Back to approved through the engine: a reply or a pause recorded while the
            # mail was in flight decides whether it is tried again (invariant 3).
            with self.store.transaction():
                put_back(self.store, self.tracker, draft, now, expect=("sending",),
                         why="temporary send error")
                if drafts_repo.get_draft(self.store, draft.id).status != "approved":
                    log.info("draft %d: not tried again: %s", draft.id,
                             "called off while it was being sent")
                    return "cancelled"
                self._defer(draft, now, attempt=self._attempts(draft) + 1, detail=str(exc))
            return "deferred"
        self._checkpoint("after_data")
        self._mark_sent(draft, step, now)
        self._checkpoint("after_commit")
        await asyncio.to_thread(self._save_copy, account, raw, now)
        return "sent"

    def raw_message(self, draft: Draft, now: datetime) -> bytes:
        """The exact bytes maild would send for ``draft``; UnsendableError if unsafe."""
        raw = self._message(draft, now).as_bytes(policy=SMTP)
        check_header_block(raw)
        return raw

    def _step_name(self, draft: Draft) -> str:
        return drafts_repo.step_name(self.store, draft) or ""

    def _hold_for_files(self, draft: Draft, now: datetime) -> bool:
        """Hold an approved draft whose promised files cannot be read right now (tried
        again hourly); the reason shows as what it needs, the user is told once."""
        problems = tuple(_ATTACHMENT + p for p in attachment_problems(draft.spec.attachments))
        others = tuple(f for f in draft.spec.missing_fields if not f.startswith(_ATTACHMENT))
        if not problems:
            if others != draft.spec.missing_fields:
                with self.store.transaction():
                    drafts_repo.set_problems(self.store, draft.id, others, now)
            return False
        until = now + ATTACHMENT_RECHECK
        new = problems != tuple(f for f in draft.spec.missing_fields
                                if f.startswith(_ATTACHMENT))
        with self.store.transaction():
            drafts_repo.set_problems(self.store, draft.id, others + problems, now)
            drafts_repo.set_status(self.store, draft.id, "approved", now, send_after=until,
                                   expect=("approved",))
            self.store.add_event(now, "send_held", ask_id=draft.ask_id, draft=draft.id,
                                 until=until.isoformat(), reason="; ".join(problems))
            if new:
                self.tracker.queue_notice(
                    Level.WARNING, f"Draft {draft.id} ({draft.spec.subject}) is held: "
                    f"{'; '.join(p.removeprefix(_ATTACHMENT) for p in problems)}. It says "
                    "these files are attached; put them back (or fix [attachments]) and "
                    "it goes out.")
        log.warning("draft %d held: %s", draft.id, "; ".join(problems))
        return True

    def _hold_for_spacing(self, draft: Draft, now: datetime) -> bool:
        """One email a day per mentor, across all asks: when the mentor already got mail
        today (in their time zone), this one moves to the next sending day, and says so."""
        ask = asks_repo.load_ask(self.store, draft.ask_id)
        tz = ZoneInfo(ask.timezone)
        today = local_date(now, tz)
        window = self.tracker.rules.window
        start = datetime.combine(today, datetime.min.time(), tzinfo=tz)
        earlier = drafts_repo.mail_to_mentor_since(self.store, ask.mentor_id, start,
                                                   exclude=draft.id)
        if not earlier:
            return False
        until = window.first_working_moment_after(today, tz)
        other = earlier[-1]
        which = f"ask {other.ask_id}'s" if other.ask_id not in (None, draft.ask_id) else "a"
        why = (f"one email a day to this mentor: {which} mail "
               f"({other.subject!r}) reached them today")
        with self.store.transaction():
            drafts_repo.set_status(self.store, draft.id, "approved", now, send_after=until,
                                   expect=("approved",))
            self.store.add_event(now, "send_held", ask_id=draft.ask_id,
                                 mentor_id=ask.mentor_id, draft=draft.id,
                                 until=until.isoformat(), reason=why)
            self.tracker.queue_notice(
                Level.INFO, f"Draft {draft.id} ({draft.spec.subject}) moves to "
                f"{until.astimezone(tz):%a %Y-%m-%d %H:%M}: {why}.")
        log.info("draft %d moves to %s: %s", draft.id, until.isoformat(), why)
        return True

    def _claim(self, draft: Draft, now: datetime) -> str | None:
        """Claim the draft (``sending``, committed), or why not: its outcome.

        The last look at the ask happens in the same transaction as the claim, so a
        reply, a pause or a cancellation recorded before it is never raced.
        """
        with self.store.transaction():
            current = drafts_repo.get_draft(self.store, draft.id)
            if current.status != "approved":
                log.info("draft %d: %s before it was claimed; not sent", draft.id,
                         current.status)
                return "cancelled"
            verdict, why = self._verdict(current)
            if verdict is Verdict.HOLD:
                log.info("draft %d waits: %s", draft.id, why)
                return "deferred"
            if verdict is not Verdict.SEND:
                log.info("draft %d not sent: %s", draft.id, why)
                put_back(self.store, self.tracker, current, now, expect=("approved",),
                         why=why)
                return "cancelled"
            drafts_repo.set_status(self.store, draft.id, "sending", now, sent_at=now,
                                   expect=("approved",))
            self.store.db.execute("UPDATE steps SET status = 'sending' WHERE id = ?",
                                  (draft.spec.step_id,))
        return None

    def _verdict(self, draft: Draft) -> tuple[Verdict, str]:
        if draft.spec.step_id is None:
            return Verdict.SEND, ""
        ask = asks_repo.load_ask(self.store, draft.ask_id)
        step = next((s for s in ask.steps if s.id == draft.spec.step_id), None)
        if step is None or step.status is not StepStatus.APPROVED:
            state = step.status.value if step else "gone"
            return Verdict.CANCEL, f"its step is {state}"
        return send_verdict(ask, step, self.tracker.rules, drafted_at=draft.created_at)

    def _attempts(self, draft: Draft) -> int:
        row = self.store.db.execute(
            "SELECT count(*) FROM events WHERE type = 'send_retry' AND json_extract(detail, "
            "'$.draft') = ?", (draft.id,)).fetchone()
        return int(row[0])

    def _defer(self, draft: Draft, now: datetime, attempt: int, detail: str = "") -> None:
        """Back off exponentially (2 min, 4, 8, ... at most 2 h) after a temporary error.

        Call inside a transaction."""
        delay = min(RETRY_CAP, RETRY_BASE * (2 ** min(max(0, attempt - 1), 16)))
        drafts_repo.set_status(self.store, draft.id, "approved", now, send_after=now + delay,
                               expect=("approved",))
        self.store.add_event(now, "send_retry", ask_id=draft.ask_id, draft=draft.id,
                             attempt=attempt, after=(now + delay).isoformat(),
                             error=detail or None)

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

    def _supersede(self, draft: Draft, step: str, now: datetime) -> None:
        """The user sent this very draft from their own client: it went out, so it is
        ``sent`` (and counts toward the rate limit), as when the inbox finds it in Sent;
        its step is superseded by the engine (the user sent it, not maild)."""
        log.info("draft %d is already in Sent: the user sent it themselves; maild will not",
                 draft.id)
        with self.store.transaction():
            drafts_repo.set_status(self.store, draft.id, "sent", now, sent_at=now,
                                   expect=("approved",))
            self.tracker.handle_in_transaction(
                draft.ask_id, ev.MessageSent(step=step or None, by_user=True,
                                             message_id=draft.spec.message_id, at=now),
                now, draft=draft.id, why="found in Sent before sending")

    def _message(self, draft: Draft, now: datetime) -> EmailMessage:
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

    def _mark_sent(self, draft: Draft, step: str, now: datetime) -> None:
        with self.store.transaction():
            drafts_repo.set_status(self.store, draft.id, "sent", now, sent_at=now,
                                   expect=("sending", "uncertain"))
            self._record_out(draft, now)
            self.tracker.handle_in_transaction(
                draft.ask_id, ev.MessageSent(step=step, message_id=draft.spec.message_id, at=now),
                now, draft=draft.id)

    def _record_out(self, draft: Draft, now: datetime) -> None:
        record_out(self.store, draft, now)

    def _finish_failed(self, draft: Draft, step: str, now: datetime, *, uncertain: bool,
                       detail: str, expect: tuple[str, ...] = ("sending",)) -> None:
        with self.store.transaction():
            drafts_repo.set_status(self.store, draft.id, "uncertain" if uncertain else "failed",
                                   now, expect=expect)
            self.store.add_event(now, "send_uncertain" if uncertain else "send_failed",
                                 ask_id=draft.ask_id, draft=draft.id, error=detail)
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

    # -- the Drafts folder ------------------------------------------------------------

    def mirror_drafts(self) -> int:
        """Append each new pending draft to its account's Drafts folder; returns how many.

        So the user can read drafts on a phone. Blocking (IMAP): the daemon calls it in a
        thread after new drafts were made. It does not connect when nothing is new. The
        copy keeps maild's Message-ID, so if the user sends it from their own client,
        the send path finds it in Sent and maild does not send it again. The copy is
        appended once and never changed or deleted (invariant 7).
        """
        by_account: dict[str, list[Draft]] = {}
        for draft in drafts_repo.unmirrored(self.store):
            by_account.setdefault(draft.spec.account, []).append(draft)
        appended = 0
        for name, drafts in by_account.items():
            try:
                appended += self._mirror_account(self.config.account(name), drafts)
            except MaildError as exc:
                # Reading drafts on a phone is a convenience; the next call tries again.
                log.warning("%s: drafts not copied to the Drafts folder: %s", name, exc)
        return appended

    def _mirror_account(self, account: Account, drafts: list[Draft]) -> int:
        appended = 0
        with self._imap(account) as conn:
            folder = conn.folders().drafts
            for draft in drafts:
                now = self.now()
                problem = _unrenderable(draft)
                raw = b""
                if folder is None:
                    problem = "the account has no Drafts folder"
                elif problem is None:
                    try:
                        raw = self.raw_message(draft, draft.created_at)
                    except MaildError as exc:
                        problem = str(exc)
                if problem is not None or folder is None:
                    log.info("draft %d not copied to Drafts: %s", draft.id, problem)
                    with self.store.transaction():
                        drafts_repo.mark_mirrored(self.store, draft, now, None, problem)
                    continue
                # After a crash between APPEND and the record, the copy is there already.
                if not conn.find_message_id(folder, draft.spec.message_id):
                    conn.append(folder, raw, flags=(b"\\Draft", b"\\Seen"),
                                when=draft.created_at)
                    appended += 1
                with self.store.transaction():
                    drafts_repo.mark_mirrored(self.store, draft, now, folder)
        return appended

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
            self.tracker.flush_notices()
        return outcomes


def record_out(store: Store, draft: Draft, now: datetime) -> None:
    """The message row and timeline entry of a mail maild sent (inside a transaction)."""
    s = draft.spec
    store.db.execute(
        "INSERT INTO messages (account, folder, message_id, in_reply_to, references_, "
        "from_addr, to_addrs, subject, date, direction, kind, ask_id, match_reason, "
        "created_at) VALUES (?, 'smtp', ?, ?, ?, ?, ?, ?, ?, 'out', 'human', ?, "
        "'sent by maild', ?)",
        (s.account, s.message_id, s.in_reply_to, " ".join(s.references) or None,
         s.from_addr, json.dumps([a for a, _n in s.to_addrs]), s.subject, iso(now),
         s.ask_id, iso(now)))
    mentor = store.db.execute("SELECT mentor_id FROM asks WHERE id = ?", (s.ask_id,)).fetchone()
    store.add_event(now, "message_out", ask_id=s.ask_id,
                    mentor_id=mentor["mentor_id"] if mentor else None, subject=s.subject,
                    draft=draft.id, to=[a for a, _n in s.to_addrs])


def resolve_uncertain(store: Store, tracker: Tracker, draft_id: int, *, went_out: bool,
                      now: datetime) -> Draft:
    """The user's verdict on an ``uncertain`` send (invariant 2: only they may decide).

    ``went_out``: the mentor has it (the user saw it in Sent or the mentor answered), so
    the step is sent and the ask moves on. Otherwise it is approved again and goes out
    in the next allowed moment, with the same Message-ID, so that a copy that did get
    through after all is recognised as the same message by the recipient's client.
    """
    draft = drafts_repo.get_draft(store, draft_id)
    if draft.status != "uncertain":
        raise UsageError(f"draft {draft_id} is {draft.status}; only an uncertain send can be "
                         "resolved")
    step = drafts_repo.step_name(store, draft) or ""
    with store.transaction():
        if went_out:
            at = draft.sent_at or now
            drafts_repo.set_status(store, draft.id, "sent", now, expect=("uncertain",))
            record_out(store, draft, at)
            tracker.handle_in_transaction(
                draft.ask_id, ev.MessageSent(step=step, message_id=draft.spec.message_id,
                                             at=at), now, draft=draft.id, why="user confirmed")
        else:
            # Approved again only if the ask still wants it (a decline, a reply to a
            # nudge or a cancellation meanwhile calls it off): the engine decides.
            put_back(store, tracker, draft, now, expect=("uncertain",),
                     why="the user says it did not go out")
        store.add_event(now, "uncertain_resolved", ask_id=draft.ask_id, draft=draft.id,
                        went_out=went_out)
    tracker.flush_notices()
    return drafts_repo.get_draft(store, draft_id)


def retry_failed(store: Store, tracker: Tracker, draft_id: int, now: datetime) -> Draft:
    """``maild draft retry``: a failed draft goes back to approved, through the engine.

    For a draft that failed for good (login refused, unreadable attachment), once the
    user fixed the cause. A held ask (its first mail failed) is released, its follow-ups
    counted from now; a step called off meanwhile stays off and the draft is cancelled.
    """
    draft = drafts_repo.get_draft(store, draft_id)
    if draft.status != "failed":
        raise UsageError(f"draft {draft_id} is {draft.status}; only a failed send can be "
                         "retried")
    with store.transaction():
        put_back(store, tracker, draft, now, expect=("failed",), why="retried by the user")
        store.add_event(now, "send_retried", ask_id=draft.ask_id, draft=draft.id)
    tracker.flush_notices()
    return drafts_repo.get_draft(store, draft_id)


def put_back(store: Store, tracker: Tracker, draft: Draft, now: datetime, *,
             expect: tuple[str, ...], why: str) -> None:
    """Return a draft that did not go out to ``approved`` through the engine's SendRetry
    (inside a transaction). The engine decides with what happened meanwhile: its step is
    approved again, or called off (the draft is then cancelled), or drafted afresh for a
    new approval (the draft is then discarded)."""
    drafts_repo.set_status(store, draft.id, "approved", now, send_after=now, expect=expect)
    step = drafts_repo.step_name(store, draft)
    if step is None:
        return
    tracker.handle_in_transaction(draft.ask_id, ev.SendRetry(step=step, why=why), now,
                                  draft=draft.id)
    row = store.db.execute("SELECT status FROM steps WHERE id = ?",
                           (draft.spec.step_id,)).fetchone()
    if row is not None and row["status"] != StepStatus.APPROVED.value \
            and drafts_repo.get_draft(store, draft.id).status == "approved":
        # The engine called the step off (or re-planned it) and this draft is no longer
        # its mail; cancelling it here covers a step already final before the event.
        drafts_repo.set_status(store, draft.id, "cancelled", now, expect=("approved",))


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


def _unrenderable(draft: Draft) -> str | None:
    """Why a draft is not worth showing (its template could not be rendered), or None."""
    for field in draft.spec.missing_fields:
        if field.startswith("template:"):
            return field
    return None


def _mime(file: Path) -> tuple[str, str]:
    guessed, _enc = mimetypes.guess_type(file.name)
    if guessed and "/" in guessed:
        main, sub = guessed.split("/", 1)
        return main, sub
    return "application", "octet-stream"

