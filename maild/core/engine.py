"""The follow-up engine: ``decide(ask, event, now, rules) -> Decision``, pure.

Every behaviour that differs between playbooks comes from the playbook data in
``maild.core.playbooks`` (triggers, offsets, flags); the code here only knows events.
The engine never reads the clock and performs no I/O; ``now`` is passed in.

Invariant kept for the store: an ask has at most one not-final step of a given name.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from maild.core.actions import (
    Action,
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
from maild.core.events import (
    AskCreated,
    AutoReply,
    Bounce,
    DeadlineChanged,
    DraftApproved,
    DraftEdited,
    DraftRejected,
    Event,
    HumanReply,
    LetterServiceNotification,
    Mark,
    MeetingHeld,
    MessageSent,
    OutcomeRecorded,
    SendFailed,
    SendRetry,
    StepDue,
    ThreadChosen,
    UserMarked,
)
from maild.core.ghost import ghost_due, is_ghosting
from maild.core.letters import Runway, days_left, is_letter_writer
from maild.core.model import (
    ENDED_STATES,
    HOLDING_STATES,
    PENDING_DRAFT_STATUSES,
    Ask,
    AskState,
    Intent,
    Step,
    StepKind,
    StepStatus,
)
from maild.core.playbooks import Anchor, Playbook, StepRule, Trigger, Unit
from maild.core.refusals import RunwayTooShort
from maild.core.rules import DEFAULT_RULES, Rules, zone
from maild.core.timing import add_days, at_local, local_date, require_aware, to_utc
from maild.errors import UsageError

GHOST_CHECK = "ghost_check"
# Replies that do not change a commitment already made (agreed, hesitant, submitted).
_SOFT_INTENTS = frozenset({Intent.QUESTION, Intent.MEETING, Intent.UNCLEAR})
_COMMITTED = frozenset(
    {AskState.AGREED, AskState.HESITANT, AskState.SUBMITTED, AskState.MISSED_DEADLINE}
)
# States in which the mentor has not engaged yet; a message from us moves them on.
_CONVERSATION = frozenset(
    {AskState.ACTIVE, AskState.WAITING_FOR_YOU, AskState.QUESTION, AskState.MEETING,
     AskState.REPLIED}
)
# The mentor answered and the next move was ours: once we write, we wait for them again
# and the follow-ups run anew from our message (else the ask would wait for ever).
_AWAITING_US = frozenset({AskState.QUESTION, AskState.MEETING, AskState.REPLIED})
# A step's mail reached the mentor: sent by maild, or by the user from their own client.
_WENT_OUT = frozenset({StepStatus.SENT, StepStatus.SUPERSEDED})
# The reason a follow-up carries while it waits for the mail before it.
WAITS = "waits for"
# A step whose mail did not go out and may be put back to be sent (SendRetry).
_RETRYABLE = frozenset(
    {StepStatus.APPROVED, StepStatus.SENDING, StepStatus.UNCERTAIN, StepStatus.FAILED}
)
REDRAFT_REASON = "the mentor replied after it was approved; it needs approving again"
# The note of a mail drafted afresh after its first copy bounced.
RESENT = "resent after a bounce"


class Verdict(StrEnum):
    """May an approved mail go out now (``send_verdict``)."""

    SEND = "send"
    HOLD = "hold"  # not now: the ask is paused, waits for an address or a failed mail
    CANCEL = "cancel"  # never: the mentor replied to a nudge, or the ask has ended
    REDRAFT = "redraft"  # not as approved: a reply came after a reminder was approved


def send_verdict(
    ask: Ask, step: Step, rules: Rules = DEFAULT_RULES, drafted_at: datetime | None = None
) -> tuple[Verdict, str]:
    """Whether ``step``'s approved mail may go out, and why not; pure.

    The sender asks right before claiming a draft; SendRetry applies the same verdict.
    ``drafted_at`` (the draft's creation) stands in for ``step.approved_at`` when a
    step was approved before that was recorded.
    """
    if step.recalled:
        return Verdict.CANCEL, step.recalled
    pb = rules.playbook(ask.playbook)
    chaser = step.nudge or step.followup
    if _has_ended(ask, pb) and (chaser or _opens(pb, step)):
        return Verdict.CANCEL, f"the ask is {ask.state.value}"
    since = step.approved_at or drafted_at
    if chaser and ask.last_reply_at is not None and since is not None \
            and ask.last_reply_at > to_utc(since):
        if step.nudge:
            return Verdict.CANCEL, "the mentor replied"
        return Verdict.REDRAFT, REDRAFT_REASON
    if ask.state in HOLDING_STATES:
        return Verdict.HOLD, f"the ask is {ask.state.value}"
    return Verdict.SEND, ""


def _has_ended(ask: Ask, pb: Playbook) -> bool:
    return ask.state in ENDED_STATES or (ask.state is AskState.AGREED and pb.close_on_agree)


def _opens(pb: Playbook, step: Step) -> bool:
    """Whether ``step`` is the ask's opening mail, the one its follow-ups refer to."""
    first = pb.opener()
    return first is not None and first.name == step.name and step.kind is StepKind.EMAIL


def is_followup(step: Step) -> bool:
    """Whether ``step`` follows up on earlier mail of its thread (a nudge, a reminder, the
    ladder's stop): it waits until that mail went out and keeps the playbook's gap. A mail
    sent afresh after a bounce is not in the thread: it replaces one that never arrived."""
    if not (step.nudge or step.followup):
        return False
    return step.kind is StepKind.STOP or (step.kind is StepKind.EMAIL and step.in_thread)


def decide(ask: Ask, event: Event, now: datetime, rules: Rules = DEFAULT_RULES) -> Decision:
    """The ask after ``event`` at ``now``, and the actions that follow from it.

    Raises RunwayTooShort when a letter ask is created too close to its deadline
    without ``force``, and ValueError for a naive ``now`` or an unknown timezone.
    """
    work = _Work(ask, to_utc(require_aware(now, "now")), rules)
    work.handle(event)
    work.settle()
    return Decision(ask=work.ask, actions=tuple(work.actions))


class _Work:
    """The decision being built for one event; lives only inside one ``decide`` call."""

    def __init__(self, ask: Ask, now: datetime, rules: Rules) -> None:
        self.ask = ask
        self.now = now
        self.rules = rules
        self.pb: Playbook = rules.playbook(ask.playbook)
        self.tz: ZoneInfo = zone(ask.timezone)
        self.actions: list[Action] = []
        # Steps from this index on are new in this decision (added steps are appended).
        self.known_steps = len(ask.steps)

    # ----------------------------------------------------------------- dispatch

    def handle(self, event: Event) -> None:
        match event:
            case AskCreated():
                self.on_created(event)
            case StepDue():
                step = self.ask.open_step(event.step)
                if step is not None and step.due_at <= self.now:
                    self.fire(step)
            case DraftApproved():
                self.on_approved(event.step)
            case DraftRejected():
                self.on_rejected(event.step)
            case DraftEdited():
                self.on_edited(event.step)
            case SendFailed():
                self.on_send_failed(event)
            case SendRetry():
                self.on_send_retry(event)
            case MessageSent():
                self.on_sent(event)
            case HumanReply():
                self.on_reply(event.intent, event.at or self.now, event.message_id)
                if event.meeting_at is not None:
                    self.ask = replace(self.ask, meeting_at=event.meeting_at)
            case AutoReply():
                self.on_auto_reply(event)
            case Bounce():
                self.on_bounce(event)
            case LetterServiceNotification():
                if event.submitted and self.pb.rules(Trigger.SUBMITTED):
                    self.on_submitted(self.now, "the letter service reports it submitted")
                else:
                    service = event.service or "the letter service"
                    self.notify(Level.INFO, f"A notification from {service} arrived.")
            case MeetingHeld():
                self.ask = replace(self.ask, meeting_at=event.at)
                self.plan_trigger(Trigger.MEETING_HELD, to_utc(event.at), move=True)
            case OutcomeRecorded():
                self.on_outcome(event.outcome)
            case UserMarked():
                self.on_mark(event.mark)
            case DeadlineChanged():
                self.on_deadline_changed(event)
            case ThreadChosen():
                ids = tuple(i for i in self.ask.thread_message_ids if i != event.message_id)
                # The last one is what the next follow-up replies to.
                self.ask = replace(self.ask, thread_message_ids=(*ids, event.message_id))

    # ----------------------------------------------------------------- helpers

    def emit(self, action: Action) -> None:
        self.actions.append(action)

    def notify(self, level: Level, text: str) -> None:
        self.emit(Notify(level, text))

    def set_state(self, new: AskState, reason: str) -> None:
        old = self.ask.state
        if new is not old:
            self.ask = replace(self.ask, state=new)
            self.emit(ChangeState(old, new, reason))

    def update(self, old: Step, **changes: Any) -> Step:
        new = replace(old, **changes)
        self.ask = self.ask.with_step(old, new)
        return new

    def cancel(self, reason: str, keep: frozenset[str] = frozenset(), **flags: bool) -> None:
        """Call off the cancellable steps matching every flag given (all when none).

        A step being sent is recalled instead: if its send comes back unsent, it is not
        tried again (SendRetry).
        """
        names: list[str] = []
        for step in self.ask.steps:
            if step.name in keep:
                continue
            if all(getattr(step, flag) == value for flag, value in flags.items()):
                if step.is_cancellable:
                    self.update(step, status=StepStatus.CANCELLED, reason=reason)
                    names.append(step.name)
                else:
                    self.recall(step, reason)
        if names:
            self.emit(CancelSteps(tuple(names), reason))

    def cancel_named(self, names: list[str], reason: str) -> None:
        called_off: list[str] = []
        for name in names:
            step = self.ask.open_step(name)
            if step is not None and step.is_cancellable:
                self.update(step, status=StepStatus.CANCELLED, reason=reason)
                called_off.append(name)
            elif step is not None:
                self.recall(step, reason)
        if called_off:
            self.emit(CancelSteps(tuple(called_off), reason))

    def recall(self, step: Step, reason: str) -> None:
        if step.status is StepStatus.SENDING and step.recalled is None:
            self.update(step, recalled=reason)

    def redraft(self, step: Step, reason: str, notice: str | None = None) -> None:
        """Put an approved step back before the user: its draft is discarded and the step
        is drafted afresh (now, at its sending window, or once the ask is released) for a
        new approval."""
        due = max(step.due_at, self.shift(self.now, step.kind))
        planned = self.update(step, status=StepStatus.PLANNED, due_at=due, approved_at=None,
                              recalled=None, reason=reason)
        # CancelSteps discards the step's open draft; the step itself lives on.
        self.emit(CancelSteps((step.name,), reason))
        self.emit(ScheduleStep(planned))
        if due <= self.now:
            self.fire(planned)
        again = self.ask.open_step(step.name)
        if notice is None and again is not None and again.status is StepStatus.PLANNED:
            # Its clock restarted at the mentor's message: it is drafted again later.
            notice = (f"The mentor wrote after you approved the {step.name} mail: it was "
                      f"not sent; it will be drafted again on "
                      f"{again.due_at.astimezone(self.tz):%a %Y-%m-%d}.")
        self.notify(Level.INFO, notice or f"The mentor wrote after you approved the "
                    f"{step.name} mail: it was not sent; look at its new draft and approve it "
                    "again.")

    def shift(self, moment: datetime, kind: StepKind) -> datetime:
        """A due time moved into the sending window; checks are internal and never wait."""
        if kind is StepKind.CHECK:
            return to_utc(moment)
        return self.rules.window.next_allowed(moment, self.tz)

    def due_for(self, rule: StepRule, anchor: datetime) -> datetime | None:
        if rule.anchor is Anchor.DEADLINE:
            if self.ask.deadline is None:
                return None
            day = self.ask.deadline - timedelta(days=rule.offset)
            if rule.kind is StepKind.CHECK:
                # A deadline check runs when the deadline day is over.
                return at_local(day + timedelta(days=1), time(0, 0), self.tz)
            return self.shift(at_local(day, self.rules.window.start, self.tz), rule.kind)
        if rule.unit is Unit.HOURS:
            raw = to_utc(anchor) + timedelta(hours=rule.offset)
        else:
            raw = add_days(anchor, rule.offset, self.tz)
        return self.shift(raw, rule.kind)

    def add_step(self, step: Step) -> None:
        self.ask = replace(self.ask, steps=(*self.ask.steps, step))
        self.emit(ScheduleStep(step))
        if step.due_at <= self.now:
            self.fire(step)

    def step_from(self, rule: StepRule, due: datetime, anchor: datetime) -> Step:
        send_by = None
        if rule.send_by_hours is not None:
            send_by = to_utc(anchor) + timedelta(hours=rule.send_by_hours)
        return Step(
            name=rule.name,
            kind=rule.kind,
            due_at=due,
            template=rule.template,
            in_thread=rule.in_thread,
            nudge=rule.nudge,
            followup=rule.followup,
            send_by=send_by,
            note=rule.note,
        )

    def plan_rule(self, rule: StepRule, anchor: datetime, move: bool = False,
                  again: bool = False) -> None:
        """Plan ``rule`` unless a live (or finished, not cancelled) step already has its name.

        ``again``: a finished step of that name does not count (a ladder restarted)."""
        due = self.due_for(rule, anchor)
        if due is None:
            return
        existing = self.ask.open_step(rule.name)
        if existing is not None:
            if move and existing.status is StepStatus.PLANNED and existing.due_at != due:
                moved = self.update(existing, due_at=due)
                self.emit(ScheduleStep(moved))
                if due <= self.now:
                    self.fire(moved)
            return
        latest = self.ask.latest_step(rule.name)
        if latest is not None and latest.status is not StepStatus.CANCELLED and not again:
            return
        self.add_step(self.step_from(rule, due, anchor))

    def plan_trigger(self, trigger: Trigger, anchor: datetime, move: bool = False) -> None:
        for rule in self.pb.rules(trigger):
            self.plan_rule(rule, anchor, move)

    def plan_reaction(self, playbook: str, trigger: Trigger) -> None:
        for rule in self.rules.playbook(playbook).rules(trigger):
            self.plan_rule(rule, self.now)

    def suggest_next(self, reason: str) -> None:
        count = self.pb.param("suggest_next")
        if count > 0:
            auto = self.pb.param("parallel") > 0
            self.emit(SuggestCandidates(count, reason, auto_start=auto))

    # ----------------------------------------------------------------- firing steps

    def fire(self, step: Step) -> None:
        """Carry out a planned step whose time has come."""
        if step.status is not StepStatus.PLANNED:
            return
        held = self.ask.state in HOLDING_STATES
        if is_followup(step) and not held:
            ready = self.ready_to_follow(step)
            if ready is None:
                return
            step = ready
        if step.kind is StepKind.EMAIL:
            if held:
                return
            step = self.update(step, status=StepStatus.DRAFTED)
            self.emit(CreateDraft(step.name, step.template or step.name, step.in_thread,
                                  step.send_by))
            if _opens(self.pb, step) and self.ask.state is AskState.ACTIVE:
                self.set_state(AskState.WAITING_FOR_YOU, f"the {step.name} mail waits for "
                               "your approval")
        elif step.kind is StepKind.TASK:
            text = (step.note or step.name).format(deadline=self.ask.deadline)
            self.update(step, status=StepStatus.DONE)
            self.emit(CreateTask(step.name, text, step.due_at))
        elif step.kind is StepKind.STOP:
            if held:
                return
            self.update(step, status=StepStatus.DONE)
            self.on_stop(step)
        else:
            self.update(step, status=StepStatus.DONE)
            if step.name == GHOST_CHECK:
                self.on_ghost_check()
            else:
                self.on_deadline_check()

    def on_stop(self, step: Step) -> None:
        rule = self.pb.rule(step.name)
        state = rule.stop_state if rule and rule.stop_state else AskState.CLOSED
        self.cancel("the ladder stopped")
        self.set_state(state, "no answer by the end of the ladder")
        self.notify(Level.INFO, "No answer after the last follow-up; the ask is closed.")
        self.suggest_next("no response")

    def on_deadline_check(self) -> None:
        if self.ask.submitted_at is not None or self.ask.state in ENDED_STATES:
            return
        self.set_state(AskState.MISSED_DEADLINE, "the letter deadline passed")
        deadline = self.ask.deadline.isoformat() if self.ask.deadline else "the deadline"
        self.notify(
            Level.URGENT,
            f"The letter due {deadline} is not reported submitted: contact the programs "
            "affected now and ask the mentor's office.",
        )

    def on_ghost_check(self) -> None:
        if self.ask.state in ENDED_STATES or self.ask.ghost_warned_at is not None:
            return
        if is_ghosting(self.ask, self.now, self.rules):
            weeks = self.rules.playbook("ghost").param("weeks")
            self.ask = replace(self.ask, ghost_warned_at=self.now)
            self.notify(
                Level.INFO,
                f"No feedback for over {weeks} weeks despite follow-ups: consider a second "
                "mentor, quietly, and keep low-friction contact with this one.",
            )
            self.emit(SuggestCandidates(1, "diversify", auto_start=False))
            return
        due = ghost_due(self.ask, self.rules)
        if due is not None:
            self.add_step(Step(GHOST_CHECK, StepKind.CHECK, max(due, self.now)))

    def plan_ghost_check(self) -> None:
        due = ghost_due(self.ask, self.rules)
        if due is None or self.ask.ghost_warned_at is not None:
            return
        if self.ask.open_step(GHOST_CHECK) is None:
            self.add_step(Step(GHOST_CHECK, StepKind.CHECK, max(due, self.now)))

    # ----------------------------------------------------------------- event handlers

    def on_created(self, event: AskCreated) -> None:
        if self.ask.steps:
            return
        if any(r.anchor is Anchor.DEADLINE for r in self.pb.steps if r.enabled):
            self.check_runway(event.force)
        if self.ask.meeting_at is not None:
            self.plan_trigger(Trigger.MEETING_HELD, to_utc(self.ask.meeting_at))
        for rule in self.pb.rules(Trigger.CREATED):
            due = self.due_for(rule, self.now)
            # A reminder whose moment already passed is pointless next to a new request.
            late = due is not None and due < self.now
            if late and rule.anchor is Anchor.DEADLINE and rule.kind is StepKind.EMAIL:
                continue
            self.plan_rule(rule, self.now)

    def check_runway(self, force: bool) -> None:
        deadline = self.ask.deadline
        if deadline is None:
            raise UsageError(f"a {self.pb.name} ask needs a deadline")
        left = days_left(deadline, self.now, self.tz)
        refuse = self.pb.param("refuse_weeks") * 7
        warn = self.pb.param("warn_weeks") * 7
        verdict = Runway.REFUSE if left < refuse else Runway.WARN if left < warn else Runway.OK
        if verdict is Runway.REFUSE and not force:
            raise RunwayTooShort(deadline, left, refuse)
        if verdict is not Runway.OK:
            self.ask = replace(self.ask, forced=force and verdict is Runway.REFUSE)
            self.notify(
                Level.WARNING,
                f"Only {left} days until the deadline {deadline.isoformat()}; the guides "
                f"ask for at least {warn // 7} weeks. Ask today and offer an easy path.",
            )

    def on_approved(self, name: str) -> None:
        step = self.ask.open_step(name)
        if step is not None and step.status is StepStatus.DRAFTED:
            self.update(step, status=StepStatus.APPROVED, approved_at=self.now, recalled=None)
            self.emit(SendStep(name))
            # Nothing more is asked of the user: it goes out in the sending window (or
            # once the ask is resumed).
            if self.ask.state is AskState.WAITING_FOR_YOU:
                self.set_state(AskState.ACTIVE, f"the {name} mail is approved")
            elif self.ask.held_from is AskState.WAITING_FOR_YOU:
                self.ask = replace(self.ask, held_from=AskState.ACTIVE)

    def on_rejected(self, name: str) -> None:
        step = self.ask.open_step(name)
        if step is None or step.status not in PENDING_DRAFT_STATUSES:
            return
        rule = self.pb.rule(name)
        if _opens(self.pb, step) and self.ask.first_contact_at is None \
                and self.pb.recurring != name:
            # Follow-ups of a first email that never went out would chase nothing.
            self.cancel("its first email was rejected")
            self.set_state(AskState.CANCELLED, f"the {name} mail was rejected; nothing "
                           "was sent")
            self.notify(Level.INFO, f"The {name} mail was rejected before anything went "
                        "out: the ask is cancelled (it does not count as contact). If you "
                        "send that draft from your own mail app after all, maild picks the "
                        "ask up again.")
            return
        self.cancel_named([name], "rejected by the user")
        if rule is not None and not _has_ended(self.ask, self.pb):
            if self.pb.recurring == name:
                # One update skipped, not the habit: the next one comes at its interval.
                self.plan_recurring(rule, self.now)
                if self.ask.state is AskState.WAITING_FOR_YOU:
                    self.set_state(AskState.ACTIVE, f"the {name} mail was rejected; the "
                                   "next one comes at its interval")
            elif rule.closes:
                self.set_state(AskState.CLOSED, f"the {name} mail was rejected; nothing is "
                               "left to do")
        self.replan_followups()

    def on_edited(self, name: str) -> None:
        step = self.ask.open_step(name)
        if step is not None and step.status in PENDING_DRAFT_STATUSES:
            # An edited draft is a new text: it needs the user's approval again.
            self.update(step, status=StepStatus.DRAFTED, edited=True)

    def on_send_failed(self, event: SendFailed) -> None:
        step = self.ask.open_step(event.step)
        if step is None or step.status not in {StepStatus.APPROVED, StepStatus.SENDING}:
            return
        status = StepStatus.UNCERTAIN if event.uncertain else StepStatus.FAILED
        step = self.update(step, status=status, reason=event.detail)
        what = "may or may not have gone out; check your Sent folder" if event.uncertain \
            else "was not sent"
        self.notify(Level.WARNING, f"The {event.step} mail {what}.")
        if step.recalled and not event.uncertain:
            # Called off while in flight, and it did not go out: it is simply off.
            self.cancel_named([step.name], step.recalled)
            return
        held = self.ask.state in HOLDING_STATES or _has_ended(self.ask, self.pb)
        if not event.uncertain and _opens(self.pb, step) and not held:
            # Its follow-ups would chase a mail the mentor never got: hold the ask.
            self.ask = replace(self.ask, held_from=self.ask.state)
            self.set_state(AskState.SEND_FAILED, f"the {step.name} mail failed")
            self.notify(Level.WARNING, f"The follow-ups of this ask wait: fix what stopped "
                        f"the {step.name} mail, then `maild draft retry` it, or cancel the "
                        "ask.")

    def on_send_retry(self, event: SendRetry) -> None:
        step = self.ask.open_step(event.step)
        if step is None or step.status not in _RETRYABLE:
            return
        if self.ask.state is AskState.SEND_FAILED and step.status is StepStatus.FAILED:
            # Its follow-ups wait for it and count from when it really goes out.
            self.release_send_hold("the failed mail is tried again")
        step = self.update(step, status=StepStatus.APPROVED)
        verdict, why = send_verdict(self.ask, step, self.rules)
        if verdict is Verdict.CANCEL:
            self.cancel_named([step.name], why)
        elif verdict is Verdict.REDRAFT:
            self.redraft(step, why)

    def release_send_hold(self, reason: str) -> None:
        back = self.ask.held_from or (
            AskState.WAITING_REPLY if self.ask.first_contact_at else AskState.ACTIVE
        )
        self.ask = replace(self.ask, held_from=None)
        self.set_state(back, reason)

    def pending_for_user_message(self, at: datetime) -> Step | None:
        emails = [s for s in self.ask.steps if s.kind is StepKind.EMAIL and not s.is_final]
        for step in emails:
            if step.status in PENDING_DRAFT_STATUSES or step.status is StepStatus.FAILED:
                return step
        due = [s for s in emails if s.status is StepStatus.PLANNED and s.due_at <= to_utc(at)]
        return due[0] if due else None

    def revive(self, name: str) -> Step | None:
        """A step of that name, afresh, for a mail of a step called off that went out
        after all (the user sent maild's draft from their own mail app)."""
        old = self.ask.latest_step(name)
        if old is None or old.kind is not StepKind.EMAIL:
            return None
        fresh = Step(name=name, kind=old.kind, due_at=old.due_at, template=old.template,
                     in_thread=old.in_thread, nudge=old.nudge, followup=old.followup,
                     note="sent from the user's own mail app after it was called off")
        self.ask = replace(self.ask, steps=(*self.ask.steps, fresh))
        return fresh

    def on_sent(self, event: MessageSent) -> None:
        at = to_utc(event.at or self.now)
        step = self.ask.open_step(event.step) if event.step else None
        revived = False
        if step is None and event.step and not event.by_user:
            step = self.revive(event.step)
            revived = step is not None
        if step is None and event.by_user:
            step = self.pending_for_user_message(at)
        # A copy filed after the mentor's answer to it was seen (Sent synced late): it is
        # contact, but the answer is the news; nothing moves back to waiting.
        late = self.ask.last_reply_at is not None and at < self.ask.last_reply_at
        first = self.ask.first_contact_at is None
        if self.ask.state is AskState.SEND_FAILED:
            self.release_send_hold("a message to the mentor went out")
        was = self.ask.state
        ids = self.ask.thread_message_ids
        # A thread the user started on their own is not the one maild replies in, unless
        # the ask has no other yet (their mail is its opening).
        if event.message_id and event.message_id not in ids and not (event.new_thread and ids):
            ids = (*ids, event.message_id)
        last = self.ask.last_contact_at
        self.ask = replace(
            self.ask,
            last_contact_at=at if last is None or at > to_utc(last) else last,
            first_contact_at=self.ask.first_contact_at or at,
            thread_message_ids=ids,
        )
        if step is not None:
            if event.by_user:
                self.update(step, status=StepStatus.SUPERSEDED, sent_at=at,
                            reason="the user wrote it themselves")
                self.emit(SupersedeSteps((step.name,), "superseded by the user's own message"))
            else:
                self.update(step, status=StepStatus.SENT, sent_at=at)
            if step.followup:
                self.ask = replace(self.ask, unanswered_followups=self.ask.unanswered_followups + 1)
        opening = step is not None and _opens(self.pb, step)
        if not late and was in _CONVERSATION:
            self.set_state(self.pb.sent_state, "message sent")
        elif not late and revived and opening and first and was is AskState.CANCELLED:
            # Cancelled only because its first email was rejected; the email went out.
            self.set_state(self.pb.sent_state, "its first email went out after all")
        if step is not None:
            self.after_step_sent(step, at)
        if not late and not _has_ended(self.ask, self.pb):
            if was in _AWAITING_US:
                # Counts the revived mail too: it is one of the ladder's follow-ups.
                self.replan_chasers(at)
            elif revived and step is not None:
                self.replan_after(step.name, at)
        self.replan_followups()
        self.plan_ghost_check()

    def after_step_sent(self, step: Step, at: datetime) -> None:
        rule = self.pb.rule(step.name)
        if rule is None:
            return
        if rule.closes and self.ask.state not in ENDED_STATES:
            self.set_state(AskState.CLOSED, f"{step.name} sent")
        if self.pb.recurring == step.name and self.ask.state not in ENDED_STATES:
            self.plan_recurring(rule, at)

    def plan_recurring(self, rule: StepRule, at: datetime) -> None:
        """The next occurrence of the playbook's recurring step, its interval after ``at``."""
        weeks = self.pb.param("interval_weeks")
        if weeks > 0 and self.ask.open_step(rule.name) is None:
            due = self.shift(add_days(at, weeks * 7, self.tz), rule.kind)
            self.add_step(self.step_from(rule, due, at))

    def ladder(self) -> tuple[StepRule, ...]:
        return tuple(
            r for r in self.pb.rules(Trigger.CREATED)[1:] if r.anchor is Anchor.EVENT
        )

    # ----------------------------------------------------------------- follow-up clocks

    def last_message(self) -> datetime | None:
        """When the thread last moved: the last mail that went out (maild's or the user's
        own) or the mentor's last reply, whichever is later."""
        times = [t for t in (self.ask.last_contact_at, self.ask.last_reply_at) if t]
        return max(times) if times else None

    def after_gap(self, moment: datetime, before: StepRule, rule: StepRule) -> datetime:
        """``moment`` moved by the playbook's gap between two rungs of a ladder (days keep
        the wall-clock time in the mentor's zone, hours are plain hours)."""
        out = to_utc(moment)
        out = add_days(out, rule.offset, self.tz) if rule.unit is Unit.DAYS \
            else out + timedelta(hours=rule.offset)
        return add_days(out, -before.offset, self.tz) if before.unit is Unit.DAYS \
            else out - timedelta(hours=before.offset)

    def earliest_dues(self) -> dict[str, datetime]:
        """For each open follow-up, the earliest moment it may come due.

        On a ladder (steps counted forward from an event) a rung comes the playbook's gap
        after the rung before it went out, and never sooner than that gap after the
        thread's last message; a rung still to go out counts as going out at its own due
        time (or now, once drafted). A deadline reminder comes no sooner than
        ``min_gap_days`` after the thread's last message.
        """
        out: dict[str, datetime] = {}
        last = self.last_message()
        for trigger in Trigger:
            base: tuple[datetime, StepRule] | None = None
            for rule in self.pb.rules(trigger):
                if rule.anchor is not Anchor.EVENT:
                    continue
                step = self.ask.open_step(rule.name) or self.ask.latest_step(rule.name)
                if step is None:
                    continue
                if step.status in _WENT_OUT:
                    base = (step.sent_at or step.due_at, rule)
                    continue
                if step.is_final:
                    continue  # called off: the next rung counts from the one before
                if step.status is not StepStatus.PLANNED:
                    base = (max(self.now, step.due_at), rule)
                    continue
                if base is None or not is_followup(step):
                    base = (step.due_at, rule)
                    continue
                moment = max(base[0], last) if last is not None else base[0]
                due = self.shift(self.after_gap(moment, base[1], rule), step.kind)
                out[step.name] = due
                base = (max(due, step.due_at), rule)
        gap = self.pb.param("min_gap_days")
        for step in self.ask.steps:
            if step.is_final or not is_followup(step) or last is None or gap <= 0:
                continue
            if self.anchor_of(step) is Anchor.DEADLINE:
                out[step.name] = self.shift(add_days(last, gap, self.tz), step.kind)
        return out

    def blocker(self, step: Step) -> Step | None:
        """The earlier mail of the thread that has not gone out yet, if any."""
        opener = self.pb.opener()
        if opener is not None and self.ask.first_contact_at is None:
            first = self.ask.open_step(opener.name) or self.ask.latest_step(opener.name)
            if first is not None and first is not step and first.status not in _WENT_OUT:
                return first
        for other in self.ask.steps:
            if other is step or other.kind is not StepKind.EMAIL or other.is_final:
                continue
            if other.status is not StepStatus.PLANNED or other.due_at < step.due_at:
                return other
        return None

    def ready_to_follow(self, step: Step) -> Step | None:
        """The follow-up, if it may fire now; else it is moved to when it may (and why).

        Its clock starts when the mail before it really went out: while an earlier mail
        of the thread is unsent it waits (no draft exists), and it never comes sooner
        than the playbook's gap after the thread's last message.
        """
        blocker = self.blocker(step)
        if blocker is not None and blocker.is_final:
            # The first email never went out and never will: nothing to follow up on.
            self.cancel_named([step.name], f"its {blocker.name} mail was never sent")
            return None
        earliest = self.earliest_dues().get(step.name)
        if blocker is not None:
            if earliest is None or earliest <= self.now:
                earliest = self.shift(add_days(self.now, 1, self.tz), step.kind)
            self.move(step, earliest, f"{WAITS} the {blocker.name} mail to go out")
            return None
        if earliest is not None and earliest > step.due_at:
            self.move(step, earliest, "counted from the thread's last message")
            return None
        if step.reason and step.reason.startswith(WAITS):
            return self.update(step, reason=None)
        return step

    def move(self, step: Step, due: datetime, reason: str | None) -> None:
        """Move a planned follow-up later; a reminder that no longer fits before its
        deadline is called off."""
        deadline = self.ask.deadline
        if deadline is not None and self.anchor_of(step) is Anchor.DEADLINE \
                and local_date(due, self.tz) >= deadline:
            self.cancel_named([step.name], "too close to the deadline after the mail before "
                              "it")
            return
        changed = step.due_at != due or step.reason != reason
        moved = self.update(step, due_at=max(step.due_at, due), reason=reason)
        if changed:
            self.emit(ScheduleStep(moved))

    def replan_followups(self) -> None:
        """Re-plan the planned follow-ups from the actual send times (after a send, a reply,
        a rejection), keeping the playbook's gaps; steps only ever move later, so an
        out-of-office postponement stands."""
        earliest = self.earliest_dues()
        for name, due in earliest.items():
            step = self.ask.open_step(name)
            if step is None or step.status is not StepStatus.PLANNED or due <= step.due_at:
                continue
            self.move(step, due, step.reason if step.reason and
                      step.reason.startswith(WAITS) else None)

    def replan_ladder(self, at: datetime) -> None:
        """After the user answered the mentor's question, the ladder runs again from there
        as a fresh wait: the follow-ups still allowed are planned from the first rung on
        (its gap, its wording, counted from ``at``), then the stop.

        The playbook's follow-up mails are a budget for the whole ask: those that already
        went out (sent by maild, or written by the user in their place) are not planned
        again, so an answered question never buys extra nudges. When none is left only
        the stop is planned, so the ask can end again instead of waiting forever."""
        rungs = [rule for rule in self.ladder() if rule.nudge]
        chasers = [rule for rule in rungs if rule.kind is StepKind.EMAIL]
        names = {rule.name for rule in chasers}
        used = sum(1 for s in self.ask.steps if s.name in names and s.status in _WENT_OUT)
        allowed = chasers[:max(len(chasers) - used, 0)]
        for rule in rungs:
            if rule.kind is not StepKind.EMAIL or rule in allowed:
                self.plan_rule(rule, at, again=True)

    def replan_chasers(self, at: datetime) -> None:
        """We wrote and wait for the mentor again: the follow-ups that were called off
        are planned anew, the ladder from ``at``, the reminders from the deadline (those
        whose moment passed are left out; the deadline check is not)."""
        self.replan_ladder(at)
        self.replan_deadline(at)

    def replan_after(self, name: str, at: datetime) -> None:
        """The follow-ups of ``name`` that were called off because its mail never went
        out (it was rejected or called off, then sent by hand after all): they are
        planned again, counted from ``at``, and so are the deadline's reminders."""
        rule = self.pb.rule(name)
        if rule is not None:
            rules = self.pb.rules(rule.trigger)
            later = rules[rules.index(rule) + 1:] if rule in rules else ()
            for after in later:
                if after.anchor is Anchor.EVENT and (after.nudge or after.followup):
                    self.plan_rule(after, at)
        self.replan_deadline(at)

    def reminding(self) -> bool:
        """Whether a step counted from the deadline is still open."""
        return any(not s.is_final and self.anchor_of(s) is Anchor.DEADLINE
                   for s in self.ask.steps)

    def replan_deadline(self, at: datetime) -> None:
        """The deadline's reminders, planned anew where they were called off. Those whose
        moment passed are left out, but a passed deadline is checked again (and tells the
        user) while the letter is not in."""
        if self.ask.submitted_at is not None:
            return
        for rule in self.pb.rules(Trigger.CREATED)[1:]:
            if rule.anchor is not Anchor.DEADLINE:
                continue
            if rule.kind is StepKind.EMAIL and self.ask.first_contact_at is None:
                continue  # a reminder of a request that never went out; the check stays
            due = self.due_for(rule, at)
            if due is None:
                continue
            if rule.kind is StepKind.CHECK:
                self.plan_rule(rule, at, again=due < self.now)
            elif due >= self.now:
                self.plan_rule(rule, at)

    def on_reply(self, intent: Intent, at: datetime, message_id: str | None) -> None:
        ids = self.ask.thread_message_ids
        if message_id and message_id not in ids:
            ids = (*ids, message_id)
        self.ask = replace(
            self.ask,
            # Never later than now: a reply dated in the future must not outdate approvals.
            last_reply_at=min(to_utc(at), self.now),
            last_intent=intent,
            unanswered_followups=0,
            thread_message_ids=ids,
        )
        self.cancel("the mentor replied", nudge=True)
        self.cancel_named([GHOST_CHECK], "the mentor replied")
        if intent is Intent.SUBMITTED and not self.pb.rules(Trigger.SUBMITTED):
            intent = Intent.UNCLEAR
        new = self.pb.intent_states.get(intent)
        if intent in _SOFT_INTENTS and self.ask.state in _COMMITTED:
            new = None
        if self.ask.submitted_at is not None and intent is not Intent.SUBMITTED:
            new = None  # a letter once in stays in, whatever the chatter afterwards
        before = self.ask.state
        if self.ask.state in HOLDING_STATES:
            restored = self.ask.held_from or AskState.WAITING_REPLY
            self.ask = replace(self.ask, held_from=None)
            self.set_state(new or restored, f"reply ({intent.value})")
        elif new is not None and intent is not Intent.SUBMITTED:
            self.set_state(new, f"reply ({intent.value})")
        self.react(intent, at, new)
        if self.ask.state in _COMMITTED and before not in _COMMITTED \
                and not _has_ended(self.ask, self.pb) and not self.reminding():
            # A yes after the reminders were called off (a no, a rejected request): the
            # letter still has a deadline to be reminded of.
            self.replan_deadline(self.now)
        # A reminder approved before this reply may no longer fit: ask again (invariant 3).
        for step in self.ask.steps:
            if step.followup and not step.nudge and step.status is StepStatus.APPROVED:
                self.redraft(step, REDRAFT_REASON)
        self.replan_followups()

    def react(self, intent: Intent, at: datetime, new: AskState | None) -> None:
        if intent is Intent.AGREE and new is AskState.AGREED:
            self.ask = replace(self.ask, agreed_at=self.ask.agreed_at or to_utc(at))
            if self.pb.close_on_agree:
                self.cancel("the mentor agreed")
            self.plan_trigger(Trigger.AGREED, self.now)
        elif intent is Intent.HESITANT and self.pb.reactions:
            self.notify(Level.INFO, "The mentor is hesitant: clarify the timeline with them "
                        "and consider asking a backup mentor.")
            self.plan_reaction("hesitant", Trigger.HESITANT)
            backups = self.rules.playbook("hesitant").param("backups")
            if backups > 0:
                self.emit(SuggestCandidates(backups, "backup", auto_start=False))
        elif intent is Intent.DECLINE and new is AskState.DECLINED:
            self.cancel("the mentor declined")
            if self.pb.reactions:
                self.plan_reaction("decline", Trigger.DECLINED)
            self.suggest_next("declined")
        elif intent is Intent.SUBMITTED:
            self.on_submitted(at, "the mentor says the letter is submitted")
        elif intent is Intent.QUESTION:
            self.notify(Level.WARNING, "The mentor asked a question: answer it yourself; "
                        "follow-ups are paused until you do.")
        elif intent is Intent.MEETING:
            self.notify(Level.INFO, "The mentor proposes a meeting: agree on a time; "
                        "record it with a meeting ask.")
        elif intent is Intent.UNCLEAR:
            self.ask = replace(self.ask, needs_review=True)
            self.notify(Level.INFO, "A reply needs your reading: its meaning is unclear.")

    def on_submitted(self, at: datetime, reason: str) -> None:
        if self.ask.submitted_at is not None:
            return
        self.ask = replace(self.ask, submitted_at=to_utc(at))
        self.cancel("the letter is submitted")
        self.set_state(AskState.SUBMITTED, reason)
        self.plan_trigger(Trigger.SUBMITTED, self.now)

    def on_auto_reply(self, event: AutoReply) -> None:
        at = to_utc(event.at or self.now)
        self.ask = replace(self.ask, last_auto_reply_at=at, return_date=event.return_date)
        if event.return_date is not None:
            target = self.rules.window.first_working_moment_after(event.return_date, self.tz)
        else:
            target = self.rules.window.next_allowed(add_days(at, 7, self.tz), self.tz)
        pending = sorted(
            (s for s in self.ask.steps
             if s.status is StepStatus.PLANNED and (s.nudge or s.followup)),
            key=lambda s: s.due_at,
        )
        by_deadline = [s for s in pending if self.anchor_of(s) is Anchor.DEADLINE]
        ladder = [s for s in pending if self.anchor_of(s) is not Anchor.DEADLINE]
        self.postpone_ladder(ladder, target)
        self.postpone_reminders(by_deadline, target)

    def anchor_of(self, step: Step) -> Anchor:
        rule = self.pb.rule(step.name)
        return rule.anchor if rule else Anchor.EVENT

    def postpone_ladder(self, steps: list[Step], target: datetime) -> None:
        """Move the next follow-up to ``target``; later ones keep their spacing."""
        if not steps or steps[0].due_at >= target:
            return
        delta = (local_date(target, self.tz) - local_date(steps[0].due_at, self.tz)).days
        self.emit(ScheduleStep(self.update(steps[0], due_at=target)))
        for step in steps[1:]:
            moved = self.shift(add_days(step.due_at, delta, self.tz), step.kind)
            self.emit(ScheduleStep(self.update(step, due_at=moved)))
        self.notify(Level.INFO, f"Out-of-office reply: the next follow-up waits until "
                    f"{target.astimezone(self.tz):%a %Y-%m-%d %H:%M}.")

    def postpone_reminders(self, steps: list[Step], target: datetime) -> None:
        """Reminders stay before the deadline: the last one due before ``target`` moves."""
        early = [s for s in steps if s.due_at < target]
        if not early:
            return
        deadline = self.ask.deadline
        if deadline is not None and target >= at_local(deadline, time(0), self.tz):
            self.notify(
                Level.URGENT,
                f"The mentor is away until after the letter deadline {deadline.isoformat()}: "
                "call their office and consider a backup writer.",
            )
            return
        *skipped, last = early
        self.emit(ScheduleStep(self.update(last, due_at=target)))
        self.cancel_named([s.name for s in skipped], "the mentor is away")

    def on_bounce(self, event: Bounce) -> None:
        to = ", ".join(event.recipients) or "the mentor"
        if not event.address_invalid:
            self.notify(Level.INFO, f"Mail to {to} was delayed or bounced temporarily.")
            return
        if _has_ended(self.ask, self.pb):
            # An ended ask waits for nothing: the address matters only to a new one.
            self.notify(Level.WARNING, f"The address {to} does not exist: correct the "
                        "mentor's address before you write to them again.")
            return
        sent = [s for s in self.ask.steps if s.kind is StepKind.EMAIL
                and s.status is StepStatus.SENT]
        held = self.ask.held_from if self.ask.state in HOLDING_STATES else self.ask.state
        self.ask = replace(
            self.ask,
            held_from=held,
            bounced_step=sent[-1].name if sent else self.ask.bounced_step,
        )
        self.set_state(AskState.NEEDS_ADDRESS, "hard bounce")
        for step in self.ask.steps:
            if step.kind is StepKind.EMAIL and step.status is StepStatus.APPROVED:
                # Its draft is addressed to the dead address: drafted again on resume.
                self.redraft(step, "the address bounced; drafted again for the new address",
                             f"The approved {step.name} mail was not sent: the address "
                             "bounced. It is drafted again once you resume the ask.")
        urgent = self.ask.deadline is not None and self.ask.submitted_at is None
        self.notify(
            Level.URGENT if urgent else Level.WARNING,
            f"The address {to} does not exist: add a new address to the mentor, "
            "then resume the ask.",
        )

    def on_outcome(self, outcome: str) -> None:
        if self.ask.outcome == outcome:
            return
        self.ask = replace(self.ask, outcome=outcome)
        if is_letter_writer(self.ask):
            self.emit(StartAsk("thanks", self.ask.mentor_id, self.ask.application_id, outcome,
                               fields=(("outcome", outcome),)))
        if self.ask.state not in ENDED_STATES:
            self.cancel("the application has an outcome")
            self.set_state(AskState.CLOSED, "outcome recorded")

    def on_mark(self, mark: Mark) -> None:
        if mark is Mark.AGREED:
            self.on_reply(Intent.AGREE, self.now, None)
        elif mark is Mark.SUBMITTED:
            if not self.pb.rules(Trigger.SUBMITTED):
                raise UsageError(f"a {self.pb.name} ask has no letter to mark submitted")
            self.on_submitted(self.now, "marked submitted by the user")
        elif mark is Mark.DECLINED:
            self.cancel("marked declined")
            self.set_state(AskState.DECLINED, "marked declined by the user")
            self.suggest_next("declined")
        elif mark is Mark.CANCEL:
            self.cancel("cancelled by the user")
            self.set_state(AskState.CANCELLED, "cancelled by the user")
        elif mark is Mark.PAUSE:
            if self.ask.state not in HOLDING_STATES and self.ask.state not in ENDED_STATES:
                self.ask = replace(self.ask, held_from=self.ask.state)
                self.set_state(AskState.PAUSED, "paused by the user")
        else:
            self.on_resume()

    def on_resume(self) -> None:
        if self.ask.state not in HOLDING_STATES:
            return
        if self.ask.state is AskState.SEND_FAILED:
            self.notify(Level.WARNING, "The ask waits for its failed first mail: "
                        "`maild draft retry` it, or cancel the ask.")
            return
        back = self.ask.held_from or (
            AskState.WAITING_REPLY if self.ask.first_contact_at else AskState.ACTIVE
        )
        bounced = self.ask.bounced_step if self.ask.state is AskState.NEEDS_ADDRESS else None
        self.ask = replace(self.ask, held_from=None, bounced_step=None)
        self.set_state(back, "resumed by the user")
        if bounced is not None:
            old = self.ask.latest_step(bounced)
            if old is not None and self.ask.open_step(bounced) is None:
                # The bounced mail never arrived: send it afresh, to the new address (first,
                # so the follow-ups that came due meanwhile wait for it).
                fresh = Step(
                    name=bounced, kind=old.kind, due_at=self.shift(self.now, old.kind),
                    template=old.template, in_thread=False, nudge=old.nudge,
                    followup=old.followup, note=RESENT,
                )
                self.add_step(fresh)
        overdue = [s for s in self.ask.steps
                   if s.status is StepStatus.PLANNED and s.due_at <= self.now]
        reminders = [s for s in overdue if s.kind is StepKind.EMAIL
                     and self.anchor_of(s) is Anchor.DEADLINE]
        # Reminders that all came due while held: the latest says everything the others
        # would have (as when a deadline moves earlier).
        self.cancel_named([s.name for s in reminders[:-1]], "a later reminder came due "
                          "while the ask was held")
        for name in [s.name for s in overdue]:
            step = self.ask.open_step(name)
            if step is None or step.status is not StepStatus.PLANNED:
                continue
            due = self.shift(self.now, step.kind)
            moved = self.update(step, due_at=due)
            self.emit(ScheduleStep(moved))
            if due <= self.now:
                self.fire(moved)

    def on_deadline_changed(self, event: DeadlineChanged) -> None:
        old = self.ask.deadline
        self.ask = replace(self.ask, deadline=event.deadline)
        if self.ask.submitted_at is not None or self.ask.state in ENDED_STATES:
            return
        if self.ask.state is AskState.MISSED_DEADLINE:
            back = AskState.AGREED if self.ask.agreed_at else AskState.WAITING_REPLY
            self.set_state(back, "the deadline moved")
        past_emails: list[Step] = []
        for rule in self.pb.rules(Trigger.CREATED):
            if rule.anchor is not Anchor.DEADLINE:
                continue
            due = self.due_for(rule, self.now)
            step = self.ask.open_step(rule.name)
            if due is None:
                continue
            if step is None:
                latest = self.ask.latest_step(rule.name)
                # A mail already sent is not repeated; a task or check is, for the new date.
                repeat = rule.kind is not StepKind.EMAIL and (
                    latest is None or latest.due_at < due
                )
                if latest is not None and latest.status is not StepStatus.CANCELLED \
                        and not repeat:
                    continue
                if due < self.now and rule.kind is StepKind.EMAIL:
                    continue
                self.add_step(self.step_from(rule, max(due, self.shift(self.now, rule.kind)),
                                             self.now))
                continue
            if step.status is not StepStatus.PLANNED:
                continue
            if due < self.now and rule.kind is StepKind.EMAIL:
                past_emails.append(step)
                continue
            if due < self.now:
                due = self.shift(self.now, rule.kind)
            if due != step.due_at:
                moved = self.update(step, due_at=due)
                self.emit(ScheduleStep(moved))
                if due <= self.now:
                    self.fire(moved)
        if past_emails:
            *skipped, last = past_emails
            self.cancel_named([s.name for s in skipped], "the deadline moved earlier")
            if self.ask.first_contact_at is None:
                # The request itself has not gone out: it says everything a reminder would.
                self.cancel_named([last.name], "the deadline moved earlier")
            else:
                due = self.shift(self.now, last.kind)
                moved = self.update(self.ask.open_step(last.name) or last, due_at=due)
                self.emit(ScheduleStep(moved))
                if due <= self.now:
                    self.fire(moved)
        direction = "earlier" if old is not None and event.deadline < old else "later"
        self.notify(Level.INFO, f"The deadline moved {direction} to "
                    f"{event.deadline.isoformat()}; reminders re-planned.")
        left = days_left(event.deadline, self.now, self.tz)
        if left < self.pb.param("warn_weeks") * 7:
            self.notify(Level.WARNING, f"Only {left} days remain until the new deadline.")

    # ----------------------------------------------------------------- closing

    def settle(self) -> None:
        """``closed_at`` is the engine's alone: set once the ask has ended and no step is
        open, cleared when it comes back to life (a late reply, a new step)."""
        new = self.ask.steps[self.known_steps:]
        if any(s.status is StepStatus.CANCELLED for s in new):
            # Planned and called off within this one decision (a reminder re-planned, then
            # found too close to its deadline): it never existed, nor may it in the store.
            self.ask = replace(self.ask, steps=self.ask.steps[:self.known_steps] + tuple(
                s for s in new if s.status is not StepStatus.CANCELLED))
        ended = _has_ended(self.ask, self.pb)
        if ended and all(s.is_final for s in self.ask.steps):
            if self.ask.closed_at is None:
                self.ask = replace(self.ask, closed_at=self.now)
        elif self.ask.closed_at is not None:
            self.ask = replace(self.ask, closed_at=None)
        if self.actions or self.ask.updated_at is None:
            self.ask = replace(self.ask, updated_at=self.now)
