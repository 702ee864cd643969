"""The tracker: where engine decisions meet the store.

Every change to an ask goes through ``Tracker.handle``: load the ask, ``decide``, then
write the new ask and carry out the actions (drafts, tasks, notices, new asks) in one
transaction, so an event is applied completely or not at all. The tracker never talks
to a mail server; drafts are rendered by an injected ``DraftMaker``.

Notices for the user (which may run a desktop notification) are never delivered inside
the write transaction: they are queued with the newest event row as their anchor and
delivered by ``flush_notices`` once no transaction is open, and only if that anchor
row is in the database, i.e. only for work that was committed. ``handle`` and
``create_ask`` flush themselves; callers of ``handle_in_transaction`` call
``flush_notices`` after their commit (a notice they leave behind goes out at the
tracker's next flush, or never if its work was rolled back).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Protocol

from maild.adapters.compose import new_message_id
from maild.app import lifecycle
from maild.config import Config, rules_for
from maild.core import events as ev
from maild.core import wording
from maild.core.actions import (
    CancelSteps,
    ChangeState,
    CreateDraft,
    CreateTask,
    Decision,
    Level,
    Notify,
    ScheduleStep,
    SendStep,
    StartAsk,
    SuggestCandidates,
    SupersedeSteps,
)
from maild.core.candidates import SETTLED_STATES, SLOT_STATES, next_candidates
from maild.core.contacts import OUTREACH, ensure_not_contacted
from maild.core.engine import decide
from maild.core.events import EventKind, kind_of
from maild.core.model import Ask, AskState, Mentor, Step, StepStatus
from maild.core.rules import Rules
from maild.errors import MaildError, UsageError
from maild.store import Store, Tx
from maild.store.asks import DueStep
from maild.store.drafts import DraftSpec
from maild.store.events import Anchor
from maild.store.mentors import MentorRecord

log = logging.getLogger(__name__)

_EXCLUDED_STATUSES = ("excluded", "do not contact", "skip")
# What a suggestion tells the user, by (playbook, reason); others: "reason: consider ...".
_SUGGESTED = {
    ("letter", "declined"): "The letter was declined: consider asking {names} instead "
                            "(`maild ask letter NAME --application ...`).",
    ("letter", "backup"): "A hesitant yes is not a letter to count on: line up a backup "
                          "writer; consider {names}.",
    ("cold", "backup"): "A hesitant yes: consider also writing to {names}.",
    ("warm", "backup"): "A hesitant yes: consider also writing to {names}.",
}


class DraftMaker(Protocol):
    """Renders the draft of one email step (templates, addresses, thread headers)."""

    def make(self, store: Store, ask: Ask, step: Step, now: datetime) -> DraftSpec: ...


Notifier = Callable[[Level, str], None]
FollowUps = list[tuple[ev.Event, dict[str, object]]]


@dataclass(frozen=True)
class _Notice:
    level: Level
    text: str
    anchor: Anchor | None


def core_mentor(record: MentorRecord, default_tz: str) -> Mentor:
    e = record.entry
    pub: date | None = None
    try:
        pub = date.fromisoformat(e.last_publication) if len(e.last_publication) == 10 else None
    except ValueError:
        pub = None
    return Mentor(
        id=record.id, name=e.name, addresses=record.addresses,
        timezone=e.timezone or default_tz, rank=e.rank, institution=e.institution or None,
        department=e.department or None, specialty=e.specialty or None,
        last_publication=pub, grant_status=e.grant_status or None,
        connection_point=e.connection_point or None, outreach_status=e.outreach_status,
        excluded=e.outreach_status.strip().lower() in _EXCLUDED_STATUSES,
    )


@dataclass(frozen=True)
class Created:
    ask: Ask
    decision: Decision


class Tracker:
    def __init__(self, store: Store, config: Config, drafts: DraftMaker,
                 notify: Notifier | None = None, rules: Rules | None = None) -> None:
        self.store = store
        self.config = config
        self.rules = rules or rules_for(config)
        self.drafts = drafts
        self._notify = notify
        self._notices: list[_Notice] = []

    # -- creating asks ----------------------------------------------------------------

    def create_ask(self, mentor_id: int, playbook: str, now: datetime, *,
                   account: str | None = None, application_id: int | None = None,
                   deadline: date | None = None, meeting_at: datetime | None = None,
                   force: bool = False, again: bool = False, note: str | None = None,
                   fields: Mapping[str, str] | None = None) -> Created:
        """Start an ask; ``fields`` are the user's words for its drafts (``user.*``)."""
        try:
            with self.store.transaction() as tx:
                return self._create(tx, mentor_id, playbook, now, account=account,
                                    application_id=application_id, deadline=deadline,
                                    meeting_at=meeting_at, force=force, again=again, note=note,
                                    fields=fields)
        finally:
            self.flush_notices()

    def _create(self, tx: Tx, mentor_id: int, playbook: str, now: datetime, *,
                account: str | None,
                application_id: int | None, deadline: date | None,
                meeting_at: datetime | None, force: bool, again: bool,
                note: str | None, fields: Mapping[str, str] | None = None) -> Created:
        book = self.rules.playbooks.get(playbook)
        if book is None or not book.startable:
            raise UsageError(f"unknown playbook {playbook!r}")
        record = tx.mentors.get(mentor_id)
        mentor = core_mentor(record, self.config.identity.timezone)
        if not again:
            # Only this person's earlier asks matter: the cost does not grow with history.
            prior = tx.asks.prior(mentor_id, mentor.addresses)
            ensure_not_contacted(playbook, mentor_id, mentor.addresses, prior, now, self.rules)
        account_name = self.config.account(account).name
        ask = Ask(mentor_id=mentor_id, playbook=playbook, state=AskState.ACTIVE,
                  created_at=now, application_id=application_id, account=account_name,
                  timezone=mentor.timezone, deadline=deadline, meeting_at=meeting_at,
                  forced=force, note=note,
                  fields=tuple((k, v) for k, v in (fields or {}).items() if v.strip()))
        decision = decide(ask, ev.AskCreated(force=force), now, self.rules)
        saved = self._apply(tx, decision, now, EventKind.ASK_CREATED, {"playbook": playbook})
        if playbook in ("cold", "warm"):
            tx.mentors.set_outreach_status(mentor_id, f"{playbook} outreach")
        return Created(ask=saved, decision=replace(decision, ask=saved))

    # -- events -----------------------------------------------------------------------

    def handle(self, ask_id: int, event: ev.Event, now: datetime, **detail: object) -> Decision:
        """Apply one event to one ask, atomically; its notices go out after the commit."""
        try:
            with self.store.transaction():
                return self.handle_in_transaction(ask_id, event, now, **detail)
        finally:
            self.flush_notices()

    def handle_in_transaction(self, ask_id: int, event: ev.Event, now: datetime,
                              **detail: object) -> Decision:
        """Apply one event inside the caller's transaction, completely or not at all.

        On an exception everything this call wrote is rolled back (a savepoint) and its
        notices are dropped, so the caller may carry on with its transaction. The
        notices of a successful call wait for ``flush_notices`` after the commit.

        An event that changes nothing (a wake-up of a step that is not due, an approval
        of a step already approved) writes nothing, not even a timeline row: the
        timeline records what happened, and idle must write nothing (invariant 11).
        """
        tx = self.store.tx
        queued = len(self._notices)
        try:
            with tx.savepoint("tracker_handle"):
                ask = tx.asks.get(ask_id)
                decision = decide(ask, event, now, self.rules)
                if _changes_nothing(ask, decision):
                    log.debug("ask %d: %s changes nothing", ask_id, type(event).__name__)
                    return decision
                saved = self._apply(tx, decision, now, kind_of(event),
                                    {**_describe(event), **detail})
        except BaseException:
            del self._notices[queued:]
            raise
        return replace(decision, ask=saved)

    # -- notices ----------------------------------------------------------------------

    def queue_notice(self, level: Level, text: str) -> None:
        """Tell the user ``text`` once the current transaction has committed.

        Call it after writing the event row that records why (it is the anchor).
        """
        self._notices.append(_Notice(level, text, self.store.read.events.latest()))

    def flush_notices(self) -> int:
        """Deliver the queued notices of committed work; returns how many went out.

        Does nothing while a transaction is open. A notice whose anchor event row is not
        in the database belongs to rolled-back work and is dropped, never delivered.
        """
        if not self._notices or self.store.in_transaction:
            return 0
        pending, self._notices = self._notices, []
        delivered: set[tuple[Anchor | None, Level, str]] = set()
        for notice in pending:
            key = (notice.anchor, notice.level, notice.text)
            if key in delivered or not self._committed(notice.anchor):
                continue
            delivered.add(key)
            if self._notify is None:
                # Nobody else tells the user, so the log does.
                log.log(logging.WARNING if notice.level is not Level.INFO else logging.INFO,
                        "%s", notice.text)
                continue
            # The notifier is the user's channel (and logs itself where it must).
            log.debug("notice: %s", notice.text)
            try:
                self._notify(notice.level, notice.text)
            except Exception:
                # A broken notifier (a hung desktop helper) must not undo committed work.
                log.exception("a notice could not be delivered")
        return len(delivered)

    def _committed(self, anchor: Anchor | None) -> bool:
        return anchor is None or self.store.read.events.exists(anchor)

    def due_steps(self, now: datetime) -> list[DueStep]:
        """Every step whose time has come (the store decides what is due)."""
        return self.store.read.asks.due_steps(now)

    def run_due(self, now: datetime) -> int:
        """Wake every due step; returns how many were handled."""
        count = 0
        for due in self.due_steps(now):
            try:
                self.handle(due.ask_id, ev.StepDue(step=due.name), now)
                count += 1
            except Exception:
                # One broken ask must not stop the others' follow-ups.
                log.exception("ask %d: step %s could not be handled", due.ask_id, due.name)
        return count

    # -- carrying out decisions -------------------------------------------------------

    def _apply(self, tx: Tx, decision: Decision, now: datetime, what: EventKind,
               detail: dict[str, object]) -> Ask:
        # Follow-up events (an auto-approval) belong to this ask and this call only: a
        # local list, so nothing is left over for another ask (invariant 1).
        followups: FollowUps = []
        saved = self._persist(tx, decision, now, what, detail, followups)
        assert saved.id is not None
        # They are decided on the ask as it is by then.
        follow = deque(followups)
        while follow:
            event, more = follow.popleft()
            current = tx.asks.get(saved.id)
            decided = decide(current, event, now, self.rules)
            if _changes_nothing(current, decided):
                continue
            more_followups: FollowUps = []
            self._persist(tx, decided, now, kind_of(event), {**_describe(event), **more},
                          more_followups)
            follow.extend(more_followups)
        return tx.asks.get(saved.id)

    def _persist(self, tx: Tx, decision: Decision, now: datetime, what: EventKind,
                 detail: dict[str, object], followups: FollowUps) -> Ask:
        saved = tx.asks.save(decision.ask, now)
        tx.events.add(now, what, ask_id=saved.id, mentor_id=saved.mentor_id, **detail)
        for action in decision.actions:
            self._act(tx, saved, action, now, followups)
        return saved

    def _act(self, tx: Tx, ask: Ask, action: object, now: datetime,
             followups: FollowUps) -> None:
        assert ask.id is not None
        store = self.store
        if isinstance(action, CreateDraft):
            step = ask.open_step(action.step)
            if step is None or step.id is None:
                return None
            try:
                spec = self.drafts.make(store, ask, step, now)
            except MaildError as exc:
                # The step must not be lost, nor the event that led to it (a mentor's
                # reply): the draft waits with the problem named, like a template gap.
                log.warning("ask %s: draft of %s cannot be made yet: %s", ask.id, step.name,
                            exc)
                spec = self._unmade(tx, ask, step, exc)
            lifecycle.create(tx, ask, step.name, spec, now)
            if self._auto_approved(ask, step) and not spec.missing_fields:
                followups.append((ev.DraftApproved(step=step.name), {"auto": True}))
            return None
        if isinstance(action, SendStep):
            step = _step_named(ask, action.step)
            if step is not None and step.id is not None:
                lifecycle.approve_with_step(tx, step.id, now)
            return None
        if isinstance(action, CancelSteps):
            for name in action.names:
                step = _step_named(ask, name)
                if step is not None and step.id is not None:
                    lifecycle.call_off(tx, step.id, now,
                                       superseded=isinstance(action, SupersedeSteps))
            tx.events.add(now, EventKind.STEPS_CANCELLED, ask_id=ask.id, mentor_id=ask.mentor_id,
                          steps=list(action.names), reason=action.reason)
            return None
        if isinstance(action, CreateTask):
            tx.events.add(now, EventKind.TASK, ask_id=ask.id, mentor_id=ask.mentor_id,
                          step=action.step, text=action.text, due=action.due_at.isoformat())
            self._tell(Level.WARNING, action.text, ask)
            return None
        if isinstance(action, Notify):
            tx.events.add(now, EventKind.NOTICE, ask_id=ask.id, mentor_id=ask.mentor_id,
                          level=str(action.level), text=action.text)
            self._tell(action.level, action.text, ask)
            return None
        if isinstance(action, ChangeState):
            tx.events.add(now, EventKind.STATE_CHANGED, ask_id=ask.id, mentor_id=ask.mentor_id,
                          old=str(action.old), new=str(action.new), reason=action.reason)
            if ask.playbook in ("cold", "warm"):
                tx.mentors.set_outreach_status(ask.mentor_id, str(action.new))
            return None
        if isinstance(action, SuggestCandidates):
            self._suggest(tx, ask, action, now)
            return None
        if isinstance(action, StartAsk):
            try:
                self._create(tx, action.mentor_id, action.playbook, now, account=ask.account,
                             application_id=action.application_id, deadline=None,
                             meeting_at=None, force=False, again=True, note=action.note,
                             fields=dict(action.fields))
            except UsageError as exc:
                self._tell(Level.WARNING, f"could not start a {action.playbook} ask: {exc}",
                           ask)
            return None
        if isinstance(action, ScheduleStep):
            return None  # the step is in the store; the scheduler re-reads it
        raise TypeError(f"unknown action {action!r}")

    def _suggest(self, tx: Tx, ask: Ask, action: SuggestCandidates, now: datetime) -> None:
        chosen = self._candidates(tx, ask, action, now)
        if not chosen:
            self._tell(Level.INFO, f"{action.reason}; the hit list has no fresh candidate "
                       "(add more with `maild mentor add`)", ask)
            return
        names = ", ".join(wording.split_name(m.name).full for m in chosen)
        tx.events.add(now, EventKind.SUGGESTION, ask_id=ask.id, mentor_id=ask.mentor_id,
                      reason=action.reason, candidates=names, started=action.auto_start)
        if not action.auto_start:
            self._tell(Level.INFO, _SUGGESTED.get((ask.playbook, action.reason),
                                                  "{reason}: consider {names}").format(
                reason=action.reason, names=names), ask)
            return
        for mentor in chosen:
            created = self._create(tx, mentor.id, "cold", now, account=ask.account,
                                   application_id=None, deadline=None, meeting_at=None,
                                   force=False, again=False, note=action.reason)
            self._tell(Level.INFO, f"started cold ask {created.ask.id} to "
                       f"{wording.split_name(mentor.name).full} ({action.reason}); its first "
                       "draft waits for your approval")

    def _candidates(self, tx: Tx, ask: Ask, action: SuggestCandidates, now: datetime
                    ) -> tuple[Mentor, ...]:
        """``next_candidates`` over the hit list, reading only what it needs.

        Suggestions the user starts by hand (backups, a second mentor) are not limited
        by the free cold-outreach slots; automatic starts are, and with every slot taken
        (free_slots' rule) there is none: known from the first few open asks. Whether a
        mentor may be asked depends only on the earlier asks to that person, so the
        ranked hit list is read a batch at a time with those asks, and reading stops
        once enough candidates are found: a suggestion does not read every ask ever made.
        """
        wanted = action.count
        if action.auto_start:
            parallel = self.rules.playbook("cold").param("parallel")
            wanted = min(wanted, parallel - tx.asks.count_open(
                "cold", in_states=SLOT_STATES, up_to=parallel))
        if wanted <= 0:
            return ()
        tz = self.config.identity.timezone
        # A backup writer is someone not yet asked for this application.
        asked = tx.asks.mentors_asked(ask.application_id) \
            if ask.application_id is not None else set()
        chosen: list[Mentor] = []
        for records in tx.mentors.ranked(_CANDIDATE_BATCH, settled=SETTLED_STATES,
                                         outreach=OUTREACH):
            batch = [core_mentor(r, tz) for r in records if r.id not in asked]
            prior = tx.asks.prior_of([m.id for m in batch],
                                     [a for m in batch for a in m.addresses])
            chosen += next_candidates(batch, prior, now, self.rules,
                                      limit=wanted - len(chosen), slots_only=False)
            if len(chosen) >= wanted:
                break
        return tuple(chosen)

    def _unmade(self, tx: Tx, ask: Ask, step: Step, exc: MaildError) -> DraftSpec:
        """A placeholder draft naming why the real one could not be made."""
        account = next((a for a in self.config.accounts if a.name == ask.account), None)
        from_addr = account.email if account else self.config.identity.email
        to: tuple[tuple[str, str], ...] = ()
        try:
            entry = tx.mentors.get(ask.mentor_id).entry
            to = ((entry.emails[0], entry.name),) if entry.emails else ()
        except MaildError:
            to = ()
        what = step.template or step.name
        return DraftSpec(
            ask_id=ask.id or 0, step_id=step.id, account=ask.account or "",
            from_addr=from_addr, from_name=self.config.identity.name, to_addrs=to,
            subject=f"({what}: {exc})", body="", message_id=new_message_id(from_addr),
            missing_fields=(f"draft: {exc}",), template=step.template)

    def _auto_approved(self, ask: Ask, step: Step) -> bool:
        sending = self.config.sending
        if sending.approval != "auto":
            return False
        allowed = set(sending.auto_approve)
        return "*" in allowed or f"{ask.playbook}.{step.name}" in allowed

    def _tell(self, level: Level, text: str, ask: Ask | None = None) -> None:
        # Delivered (and logged) by flush_notices, after the transaction commits.
        self.queue_notice(level, self.about(ask, text) if ask is not None else text)

    def about(self, ask: Ask | int, text: str) -> str:
        """``text`` naming the mentor and the ask it is about: a notice is read on its
        own, in a desktop notification or a log, long after what caused it."""
        try:
            if isinstance(ask, int):
                ask = self.store.read.asks.get(ask)
            name = wording.split_name(self.store.read.mentors.get(ask.mentor_id).name).full
        except MaildError:
            return text
        return f"{name} ({ask.playbook} ask {ask.id}): {text}"


# Hit-list mentors read at a time, with their earlier asks, when looking for candidates.
_CANDIDATE_BATCH = 200


def _changes_nothing(before: Ask, decision: Decision) -> bool:
    return not decision.actions and decision.ask == before


def _step_named(ask: Ask, name: str) -> Step | None:
    """The step of that name a decision just acted on (open first, else the latest)."""
    return ask.open_step(name) or ask.latest_step(name)


def _describe(event: ev.Event) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in vars(event).items():
        if value is not None:
            out[key] = value.isoformat() if isinstance(value, datetime | date) else str(value)
    return out


__all__ = ["Created", "DraftMaker", "StepStatus", "Tracker", "core_mentor"]
