"""The engine under random event orders: the season's invariants hold whatever happens.

A hypothesis state machine plays one ask (cold, warm, letter or meeting) with a daemon
that wakes late or on time, a student who approves, rejects or ignores drafts, a sender
that sends approved mail inside the window (asking ``send_verdict`` first, as the real
one does), a mentor who replies in any way, goes away or bounces, and the student's own
mail. After every step the invariants of ``tests/season/invariants.py`` are checked over
what was "sent", plus the engine's own promises: no follow-up is drafted while an earlier
mail of the thread is unsent, "no response" only after the first mail went out,
"waiting for you" only while the first draft waits. (One mail a day per mentor is the
sender's rule across asks; the season and tests/mail check it.)
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from maild.core.actions import CreateDraft
from maild.core.engine import Verdict, decide, is_followup, send_verdict
from maild.core.events import (
    AskCreated,
    AutoReply,
    Bounce,
    DraftApproved,
    DraftRejected,
    Event,
    HumanReply,
    Mark,
    MessageSent,
    StepDue,
    UserMarked,
)
from maild.core.model import Ask, AskState, Intent, Step, StepKind, StepStatus
from maild.core.rules import DEFAULT_RULES
from tests.season import invariants as inv

from .helpers import NY, new_ask

START = datetime(2026, 3, 2, 9, 30, tzinfo=NY)  # a Monday
DEADLINE = date(2026, 5, 1)
WINDOW = DEFAULT_RULES.window


class EngineSeason(RuleBasedStateMachine):
    """One ask lived under random events; see the module docstring."""

    ask: Ask
    now: datetime

    def __init__(self) -> None:
        super().__init__()
        self.mails: list[inv.Mail] = []
        self.replies: list[inv.Reply] = []
        self.known: dict[str, datetime] = {}
        self.problems: list[str] = []
        self.counter = 0

    @initialize(playbook=st.sampled_from(["cold", "warm", "letter", "meeting"]))
    def start(self, playbook: str) -> None:
        self.now = START
        meeting = START + timedelta(days=1, hours=5) if playbook == "meeting" else None
        deadline = DEADLINE if playbook == "letter" else None
        self.apply(new_ask(playbook, START, deadline=deadline, meeting_at=meeting),
                   AskCreated())

    # -- plumbing -------------------------------------------------------------------------

    def apply(self, ask: Ask, event: Event) -> None:
        before = ask
        decision = decide(ask, event, self.now)
        self.ask = decision.ask
        for action in decision.actions:
            if isinstance(action, CreateDraft):
                self.check_new_draft(before, action.step)

    def check_new_draft(self, before: Ask, name: str) -> None:
        step = self.ask.open_step(name)
        if step is None or not is_followup(step):
            return
        if self.ask.first_contact_at is None:
            self.problems.append(f"{name} drafted at {self.now} before any mail went out")
        others = [s for s in self.ask.steps if s is not step and s.kind is StepKind.EMAIL
                  and s.status in (StepStatus.DRAFTED, StepStatus.APPROVED,
                                   StepStatus.SENDING, StepStatus.UNCERTAIN)]
        if others:
            self.problems.append(f"{name} drafted at {self.now} while {others[0].name} is "
                                 f"{others[0].status} (unsent)")
        del before

    def steps(self, status: StepStatus) -> list[Step]:
        return [s for s in self.ask.steps if s.status is status and s.kind is StepKind.EMAIL]

    def wake(self) -> None:
        """The daemon at ``now``: every planned step whose time came, in due order (a
        held ask's steps stay due and are woken again next time)."""
        woken: set[str] = set()
        for _ in range(40):
            due = sorted((s.due_at, s.name) for s in self.ask.steps
                         if s.status is StepStatus.PLANNED and s.due_at <= self.now
                         and s.name not in woken)
            if not due:
                return
            woken.add(due[0][1])
            self.apply(self.ask, StepDue(due[0][1]))

    # -- what happens ---------------------------------------------------------------------

    @rule(hours=st.integers(min_value=1, max_value=24 * 9))
    def time_passes(self, hours: int) -> None:
        self.now += timedelta(hours=hours)
        self.wake()

    @precondition(lambda self: bool(self.steps(StepStatus.DRAFTED)))
    @rule(data=st.data())
    def student_approves(self, data: st.DataObject) -> None:
        step = data.draw(st.sampled_from(self.steps(StepStatus.DRAFTED)))
        self.apply(self.ask, DraftApproved(step.name))

    @precondition(lambda self: bool(self.steps(StepStatus.DRAFTED)))
    @rule(data=st.data())
    def student_rejects(self, data: st.DataObject) -> None:
        step = data.draw(st.sampled_from(self.steps(StepStatus.DRAFTED)))
        self.apply(self.ask, DraftRejected(step.name))

    @precondition(lambda self: bool(self.steps(StepStatus.APPROVED)))
    @rule(data=st.data())
    def sender_sends(self, data: st.DataObject) -> None:
        step = data.draw(st.sampled_from(self.steps(StepStatus.APPROVED)))
        if not WINDOW.contains(self.now, NY):
            self.now = WINDOW.next_allowed(self.now, NY)
            self.wake()
            step = self.ask.open_step(step.name) or step
            if step.status is not StepStatus.APPROVED:
                return
        verdict, _why = send_verdict(self.ask, step, DEFAULT_RULES)
        if verdict is not Verdict.SEND:
            return  # the sender's last look calls it off or holds it
        self.counter += 1
        mid = f"<m{self.counter}@school.example.edu>"
        threaded = [m.message_id for m in self.mails]
        self.apply(self.ask, MessageSent(step.name, message_id=mid, at=self.now))
        self.known[mid] = self.now
        self.mails.append(inv.Mail(
            message_id=mid, ask=1, mentor="Dr. Rivera", playbook=self.ask.playbook,
            step=step.name, at=self.now, nudge=step.nudge, followup=step.followup,
            in_thread=step.in_thread,
            in_reply_to=threaded[-1] if step.in_thread and threaded else None))

    @rule(intent=st.sampled_from(list(Intent)))
    def mentor_replies(self, intent: Intent) -> None:
        if not self.mails:
            return  # nobody answers mail they never got
        self.replies.append(inv.Reply(1, self.now, intent))
        self.apply(self.ask, HumanReply(intent, at=self.now))

    @rule(days=st.integers(min_value=1, max_value=20))
    def mentor_is_away(self, days: int) -> None:
        if self.mails:
            self.apply(self.ask, AutoReply(return_date=(self.now + timedelta(days=days)).date(),
                                           at=self.now))

    @rule()
    def address_bounces(self) -> None:
        if self.mails:
            self.apply(self.ask, Bounce(True, ("rivera@old.example.edu",), "5.1.1"))

    @rule(mark=st.sampled_from([Mark.PAUSE, Mark.RESUME]))
    def student_marks(self, mark: Mark) -> None:
        self.apply(self.ask, UserMarked(mark))

    @rule()
    def student_writes_by_hand(self) -> None:
        if not self.mails:
            return
        self.replies.append(inv.Reply(1, self.now, None, by_user=True))
        self.apply(self.ask, MessageSent(by_user=True, at=self.now))

    # -- what must hold -------------------------------------------------------------------

    @invariant()
    def mail_keeps_the_rules(self) -> None:
        if not hasattr(self, "ask"):
            return
        found = inv.no_followup_before_predecessor(self.mails, self.known)
        found += inv.gaps(self.mails, self.replies)
        found += inv.nothing_after_the_end(self.mails, self.replies)
        assert found == [], found

    @invariant()
    def states_tell_the_truth(self) -> None:
        if not hasattr(self, "ask"):
            return
        assert self.problems == [], self.problems
        opener = DEFAULT_RULES.playbook(self.ask.playbook).opener()
        if self.ask.state is AskState.NO_RESPONSE:
            assert self.ask.first_contact_at is not None, "no_response without any mail"
        if self.ask.state is AskState.WAITING_FOR_YOU:
            assert opener is not None
            first = self.ask.open_step(opener.name)
            assert first is not None and first.status is StepStatus.DRAFTED
            assert self.ask.first_contact_at is None


EngineSeason.TestCase.settings = settings(
    max_examples=80, stateful_step_count=40, deadline=None,
    suppress_health_check=[HealthCheck.too_slow])
TestEngineSeason = EngineSeason.TestCase
