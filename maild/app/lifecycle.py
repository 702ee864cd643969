"""The draft lifecycle: every change of a draft's status happens here, and only here.

A draft is born ``pending`` when its step is drafted, and then:

* the user approves, rejects or snoozes it (``approve``, ``reject``, ``snooze``);
* the engine approves it with its step (auto-approval) or calls it off with its step
  (``approve_with_step``, ``call_off``: ``cancelled``, or ``superseded`` when the
  user's own message did the step, as the action's type says);
* the sender holds or defers it, claims it (``sending``, committed before any SMTP
  traffic: invariant 2), and records the outcome (``sent``, ``failed``, ``uncertain``,
  or back to ``approved`` through the engine after a temporary error or a refused
  server certificate);
* the user settles an ``uncertain`` or ``failed`` send (``resolve``, ``retry``).

The statuses and which may follow which are ``DraftStatus`` and ``DRAFT_LIFECYCLE``
(``maild.core.model``); the store checks every write against them. Functions taking
a ``Tx`` work inside the caller's transaction; the others are whole changes with their
own transaction, whose engine notices go out after the commit.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from maild.core import events as ev
from maild.core.engine import Verdict, send_verdict
from maild.core.events import EventKind
from maild.core.model import OPEN_DRAFT_STATUSES, Ask, DraftStatus, StepStatus
from maild.errors import UsageError
from maild.store import Store, Tx
from maild.store.drafts import Draft, DraftSpec

if TYPE_CHECKING:
    from maild.app.tracker import Tracker

log = logging.getLogger(__name__)

RETRY_BASE = timedelta(minutes=2)
RETRY_CAP = timedelta(hours=2)

_D = DraftStatus
_OPEN = tuple(sorted(OPEN_DRAFT_STATUSES))


class Outcome(StrEnum):
    """What became of one attempt to send a draft."""

    SENT = "sent"
    DEFERRED = "deferred"
    CANCELLED = "cancelled"
    FAILED = "failed"
    UNCERTAIN = "uncertain"


def _step(tx: Tx, draft: Draft) -> str:
    """The draft's step name; a UsageError for a draft that belongs to no step."""
    name = tx.drafts.step_name(draft)
    if name is None:
        raise UsageError(f"draft {draft.id} belongs to no step")
    return name


# -- the engine's side (inside the tracker's transaction) ---------------------------


def create(tx: Tx, ask: Ask, step: str, spec: DraftSpec, now: datetime) -> int:
    """A new draft of ``step``, waiting for the user."""
    draft_id = tx.drafts.insert(spec, now)
    tx.events.add(now, EventKind.DRAFT_CREATED, ask_id=ask.id, mentor_id=ask.mentor_id,
                  step=step, subject=spec.subject)
    return draft_id


def approve_with_step(tx: Tx, step_id: int, now: datetime) -> None:
    """The engine approved the step (SendStep): its pending draft goes with it."""
    for draft in tx.drafts.of_step(step_id):
        if draft.status is _D.PENDING:
            tx.drafts.set_status(draft.id, _D.APPROVED, now, expect=(_D.PENDING,))


def call_off(tx: Tx, step_id: int, now: datetime, *, superseded: bool) -> None:
    """The engine called the step off: its open drafts are never sent. ``superseded``
    when the user's own message did what the draft would have done."""
    new = _D.SUPERSEDED if superseded else _D.CANCELLED
    for draft in tx.drafts.of_step(step_id):
        if draft.status in OPEN_DRAFT_STATUSES:
            tx.drafts.set_status(draft.id, new, now, expect=_OPEN)


# -- the user's decisions -------------------------------------------------------------


def approve(store: Store, tracker: Tracker, draft: Draft, spec: DraftSpec, now: datetime, *,
            edited: bool = False) -> Draft:
    """Approve a pending draft with its final content (invariant 1: the only way a draft
    the user did not configure for auto-approval becomes sendable)."""
    if draft.status is not _D.PENDING:
        raise UsageError(f"draft {draft.id} is {draft.status}, not pending")
    with store.transaction() as tx:
        step = _step(tx, draft)
        tx.drafts.update_content(draft.id, spec, now)
        if edited:
            tracker.handle_in_transaction(draft.ask_id, ev.DraftEdited(step), now)
        tracker.handle_in_transaction(draft.ask_id, ev.DraftApproved(step), now, draft=draft.id)
    tracker.flush_notices()
    final = store.read.drafts.get(draft.id)
    if final.status is not _D.APPROVED:
        raise UsageError(f"draft {draft.id} could not be approved (it is {final.status})")
    return final


def reject(store: Store, tracker: Tracker, draft_id: int, now: datetime) -> None:
    draft = store.read.drafts.get(draft_id)
    if draft.status not in OPEN_DRAFT_STATUSES:
        raise UsageError(f"draft {draft_id} is {draft.status}; only waiting drafts can be "
                         "rejected")
    with store.transaction() as tx:
        tx.drafts.set_status(draft_id, _D.REJECTED, now, expect=_OPEN)
        tracker.handle_in_transaction(draft.ask_id, ev.DraftRejected(_step(tx, draft)), now)
    tracker.flush_notices()


def snooze(store: Store, draft_id: int, until: datetime, now: datetime) -> None:
    draft = store.read.drafts.get(draft_id)
    if draft.status not in OPEN_DRAFT_STATUSES:
        raise UsageError(f"draft {draft_id} is {draft.status}; only waiting drafts can be "
                         "snoozed")
    with store.transaction() as tx:
        tx.drafts.set_status(draft_id, draft.status, now, send_after=until, expect=_OPEN)
        tx.events.add(now, EventKind.DRAFT_SNOOZED, ask_id=draft.ask_id, draft=draft_id,
                      until=until.isoformat())


def resolve(store: Store, tracker: Tracker, draft_id: int, *, went_out: bool,
            now: datetime) -> Draft:
    """The user's verdict on an ``uncertain`` send (invariant 2: only they may decide).

    ``went_out``: the mentor has it (the user saw it in Sent or the mentor answered), so
    the step is sent and the ask moves on. Otherwise it is approved again and goes out
    in the next allowed moment, with the same Message-ID, so that a copy that did get
    through after all is recognised as the same message by the recipient's client.
    """
    draft = store.read.drafts.get(draft_id)
    if draft.status is not _D.UNCERTAIN:
        raise UsageError(f"draft {draft_id} is {draft.status}; only an uncertain send can be "
                         "resolved")
    with store.transaction() as tx:
        if went_out:
            # It left when it was claimed (sent_at); that stays its time.
            _record_sent(tx, tracker, draft, now, at=draft.sent_at or now, sent_at=None,
                         expect=(_D.UNCERTAIN,), why="user confirmed")
        else:
            # Approved again only if the ask still wants it (a decline, a reply to a
            # nudge or a cancellation meanwhile calls it off): the engine decides.
            put_back(tx, tracker, draft, now, expect=(_D.UNCERTAIN,),
                     why="the user says it did not go out")
        tx.events.add(now, EventKind.UNCERTAIN_RESOLVED, ask_id=draft.ask_id, draft=draft.id,
                      went_out=went_out)
    tracker.flush_notices()
    return store.read.drafts.get(draft_id)


def retry(store: Store, tracker: Tracker, draft_id: int, now: datetime) -> Draft:
    """``maild draft retry``: a failed draft goes back to approved, through the engine.

    For a draft that failed for good (login refused, unreadable attachment), once the
    user fixed the cause. A held ask (its first mail failed) is released, its follow-ups
    counted from now; a step called off meanwhile stays off and the draft is cancelled.
    """
    draft = store.read.drafts.get(draft_id)
    if draft.status is not _D.FAILED:
        raise UsageError(f"draft {draft_id} is {draft.status}; only a failed send can be "
                         "retried")
    with store.transaction() as tx:
        put_back(tx, tracker, draft, now, expect=(_D.FAILED,), why="retried by the user")
        tx.events.add(now, EventKind.SEND_RETRIED, ask_id=draft.ask_id, draft=draft.id)
    tracker.flush_notices()
    return store.read.drafts.get(draft_id)


# -- the send path --------------------------------------------------------------------


def hold(store: Store, draft: Draft, until: datetime, now: datetime, *,
         reason: str | None = None, problems: tuple[str, ...] | None = None) -> None:
    """Not before ``until`` (the sending window, the rate limit, the daily cap, one mail
    a day per mentor, a promised file that cannot be read); ``problems`` replaces what
    the draft shows it needs (None: unchanged)."""
    with store.transaction() as tx:
        if problems is not None:
            tx.drafts.set_problems(draft.id, problems, now)
        tx.drafts.set_status(draft.id, _D.APPROVED, now, send_after=until,
                             expect=(_D.APPROVED,))
        tx.events.add(now, EventKind.SEND_HELD, ask_id=draft.ask_id, draft=draft.id,
                      until=until.isoformat(), reason=reason)


def defer(tx: Tx, draft: Draft, now: datetime, detail: str = "") -> datetime:
    """Back off exponentially (2 min, 4, 8, ... at most 2 h) after a temporary error;
    returns when it is tried again."""
    attempt = tx.drafts.bump_attempts(draft.id)
    delay = min(RETRY_CAP, RETRY_BASE * (2 ** min(max(0, attempt - 1), 16)))
    tx.drafts.set_status(draft.id, _D.APPROVED, now, send_after=now + delay,
                         expect=(_D.APPROVED,))
    after: datetime = now + delay
    tx.events.add(now, EventKind.SEND_RETRY, ask_id=draft.ask_id, draft=draft.id,
                  attempt=attempt, after=after.isoformat(), error=detail or None)
    return after


def claim(store: Store, tracker: Tracker, draft: Draft, now: datetime) -> Outcome | None:
    """Claim the draft for sending (``sending``, committed), or say why not.

    The last look at the ask (the engine's ``send_verdict``) happens in the same
    transaction as the claim, so a reply, a pause or a cancellation recorded before it
    is never raced: a held ask keeps the draft waiting, anything else that says no
    puts it back through the engine (which calls it off or redrafts it).
    """
    with store.transaction() as tx:
        current = tx.drafts.get(draft.id)
        if current.status is not _D.APPROVED:
            log.info("draft %d: %s before it was claimed; not sent", draft.id, current.status)
            return Outcome.CANCELLED
        verdict, why = _verdict(tx, tracker, current)
        if verdict is Verdict.HOLD:
            log.info("draft %d waits: %s", draft.id, why)
            return Outcome.DEFERRED
        if verdict is not Verdict.SEND:
            log.info("draft %d not sent: %s", draft.id, why)
            put_back(tx, tracker, current, now, expect=(_D.APPROVED,), why=why)
            return Outcome.CANCELLED
        tx.drafts.set_status(draft.id, _D.SENDING, now, sent_at=now, expect=(_D.APPROVED,))
        if current.spec.step_id is not None:
            tx.asks.set_step_status(current.spec.step_id, StepStatus.SENDING,
                                    expect=StepStatus.APPROVED)
    return None


def _verdict(tx: Tx, tracker: Tracker, draft: Draft) -> tuple[Verdict, str]:
    if draft.spec.step_id is None:
        return Verdict.SEND, ""
    ask = tx.asks.get(draft.ask_id)
    step = next((s for s in ask.steps if s.id == draft.spec.step_id), None)
    if step is None or step.status is not StepStatus.APPROVED:
        state = step.status.value if step else "gone"
        return Verdict.CANCEL, f"its step is {state}"
    return send_verdict(ask, step, tracker.rules, drafted_at=draft.created_at)


def sent(store: Store, tracker: Tracker, draft: Draft, now: datetime, *,
         expect: tuple[DraftStatus, ...] = (_D.SENDING, _D.UNCERTAIN)) -> None:
    """SMTP accepted it (or the Sent folder shows it went out): ``sent``, with the message
    row replies are matched by, and the engine's MessageSent, in one commit."""
    with store.transaction() as tx:
        _record_sent(tx, tracker, draft, now, at=now, sent_at=now, expect=expect)


def _record_sent(tx: Tx, tracker: Tracker, draft: Draft, now: datetime, *, at: datetime,
                 sent_at: datetime | None, expect: tuple[DraftStatus, ...],
                 why: str | None = None) -> None:
    step = tx.drafts.step_name(draft) or ""
    tx.drafts.set_status(draft.id, _D.SENT, now, sent_at=sent_at, expect=expect)
    s = draft.spec
    tx.drafts.record_sent(draft, at)
    tx.events.add(at, EventKind.MESSAGE_OUT, ask_id=s.ask_id,
                  mentor_id=tx.asks.mentor_of(s.ask_id), subject=s.subject, draft=draft.id,
                  to=[a for a, _n in s.to_addrs])
    detail: dict[str, object] = {"draft": draft.id}
    if why:
        detail["why"] = why
    tracker.handle_in_transaction(
        draft.ask_id, ev.MessageSent(step=step, message_id=s.message_id, at=at), now, **detail)


def sent_by_hand(tx: Tx, tracker: Tracker, draft_id: int, message_id: str | None,
                 at: datetime | None, now: datetime, *, why: str) -> bool:
    """The user sent this draft from their own mail app (found in Sent): credit it
    exactly as if maild had sent it; False when maild itself sent it (or is sending it)
    by now, whose own send counts.

    Whatever became of the draft (waiting, approved, rejected, cancelled, superseded,
    failed, or an uncertain send the copy now proves), it went out: it becomes ``sent``
    (so maild never sends it, and it counts toward the rate limits), and the engine's
    MessageSent of its step moves the ask from the real send time (a step called off
    comes back as sent). Any other waiting draft of that step is superseded: the
    step's mail went out once.
    """
    draft = tx.drafts.get(draft_id)
    if draft.status in (_D.SENT, _D.SENDING):
        return False
    step = tx.drafts.step_name(draft)
    log.info("draft %d (%s) was sent from the user's own mail app: %s", draft.id,
             draft.status, why)
    tx.drafts.set_status(draft.id, _D.SENT, now, sent_at=at or now, expect=(draft.status,))
    decision = tracker.handle_in_transaction(
        draft.ask_id, ev.MessageSent(step=step, message_id=message_id or draft.spec.message_id,
                                     at=at), now, draft=draft.id, why=why)
    if step is not None:
        for found in decision.ask.steps:
            if found.name != step or found.id is None:
                continue
            for other in tx.drafts.of_step(found.id):
                if other.id != draft.id and other.status in OPEN_DRAFT_STATUSES:
                    tx.drafts.set_status(other.id, _D.SUPERSEDED, now, expect=_OPEN)
    return True


def sent_by_user(store: Store, tracker: Tracker, draft: Draft, now: datetime) -> None:
    """The send path's last look found this very draft in Sent (the user sent its Drafts
    copy from their own client): credited as sent, as when the inbox finds it."""
    with store.transaction() as tx:
        sent_by_hand(tx, tracker, draft.id, draft.spec.message_id, now, now,
                     why="found in Sent before sending")


def failed(store: Store, tracker: Tracker, draft: Draft, now: datetime, *, uncertain: bool,
           detail: str, expect: tuple[DraftStatus, ...] = (_D.SENDING,)) -> None:
    """It did not go out (``failed``), or nobody can tell (``uncertain``: only the user
    may decide, never a silent second attempt)."""
    with store.transaction() as tx:
        step = tx.drafts.step_name(draft) or ""
        tx.drafts.set_status(draft.id, _D.UNCERTAIN if uncertain else _D.FAILED, now,
                             expect=expect)
        tx.events.add(now, EventKind.SEND_UNCERTAIN if uncertain else EventKind.SEND_FAILED,
                      ask_id=draft.ask_id, draft=draft.id, error=detail)
        tracker.handle_in_transaction(
            draft.ask_id, ev.SendFailed(step=step, uncertain=uncertain, detail=detail), now,
            draft=draft.id)


def try_again(store: Store, tracker: Tracker, draft: Draft, now: datetime,
              detail: str) -> Outcome:
    """A temporary SMTP error: back to approved through the engine (a reply or a pause
    recorded while the mail was in flight decides whether it is tried again), then
    backed off."""
    with store.transaction() as tx:
        put_back(tx, tracker, draft, now, expect=(_D.SENDING,), why="temporary send error")
        current = tx.drafts.get(draft.id)
        if current.status is not _D.APPROVED:
            log.info("draft %d: not tried again: called off while it was being sent",
                     draft.id)
            return Outcome.CANCELLED
        defer(tx, current, now, detail)
    return Outcome.DEFERRED


def held_unsent(store: Store, tracker: Tracker, draft: Draft, until: datetime,
                now: datetime, reason: str) -> Outcome:
    """A send stopped before the server saw a message, for a reason that stops every
    mail of the account (its certificate was refused): no failure, the draft is back
    to approved through the engine and held until ``until``."""
    with store.transaction() as tx:
        put_back(tx, tracker, draft, now, expect=(_D.SENDING,), why=reason)
        if tx.drafts.get(draft.id).status is not _D.APPROVED:
            return Outcome.CANCELLED
        tx.drafts.set_status(draft.id, _D.APPROVED, now, send_after=until,
                             expect=(_D.APPROVED,))
        tx.events.add(now, EventKind.SEND_HELD, ask_id=draft.ask_id, draft=draft.id,
                      until=until.isoformat(), reason=reason)
    return Outcome.DEFERRED


def put_back(tx: Tx, tracker: Tracker, draft: Draft, now: datetime, *,
             expect: tuple[DraftStatus, ...], why: str) -> None:
    """Return a draft that did not go out to ``approved`` through the engine's SendRetry.
    The engine decides with what happened meanwhile: its step is approved again, or
    called off (the draft is then cancelled), or drafted afresh for a new approval (the
    draft is then discarded)."""
    tx.drafts.set_status(draft.id, _D.APPROVED, now, send_after=now, expect=expect)
    step = tx.drafts.step_name(draft)
    if step is None or draft.spec.step_id is None:
        return
    tracker.handle_in_transaction(draft.ask_id, ev.SendRetry(step=step, why=why), now,
                                  draft=draft.id)
    status = tx.asks.step_status(draft.spec.step_id)
    if status is not None and status is not StepStatus.APPROVED \
            and tx.drafts.get(draft.id).status is _D.APPROVED:
        # The engine called the step off (or re-planned it) and this draft is no longer
        # its mail; cancelling it here covers a step already final before the event.
        tx.drafts.set_status(draft.id, _D.CANCELLED, now, expect=(_D.APPROVED,))
