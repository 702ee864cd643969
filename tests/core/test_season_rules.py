"""Issue 11: the follow-up rules as a student lives them, replayed through the engine.

Each test plays a stretch of a real season (late approvals, a laptop left off, a snooze,
a rejected draft) by waking every planned step at its due time, as the daemon does, and
checks what a professor would receive.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from maild.core.actions import CreateDraft, SuggestCandidates
from maild.core.candidates import free_slots, next_candidates
from maild.core.contacts import PriorAsk, ensure_not_contacted
from maild.core.engine import decide
from maild.core.events import (
    AskCreated,
    DraftApproved,
    DraftRejected,
    Event,
    HumanReply,
    MessageSent,
    StepDue,
)
from maild.core.model import Ask, AskState, Intent, Mentor, StepStatus
from maild.core.rules import DEFAULT_RULES

from .helpers import NY, new_ask, step

START = datetime(2026, 3, 2, 9, 30, tzinfo=NY)  # a Monday morning


def day(n: float, hour: int = 9, minute: int = 30) -> datetime:
    return (START + timedelta(days=n)).replace(hour=hour, minute=minute)


class Life:
    """One ask, with the daemon waking due steps and a record of every draft made."""

    def __init__(self, playbook: str = "cold") -> None:
        self.ask: Ask = new_ask(playbook, START)
        self.drafts: list[tuple[str, datetime]] = []
        self.sent: list[tuple[str, datetime]] = []
        self.apply(AskCreated(), START)

    def apply(self, event: Event, now: datetime) -> None:
        decision = decide(self.ask, event, now)
        self.ask = decision.ask
        self.drafts += [(a.step, now) for a in decision.actions if isinstance(a, CreateDraft)]

    def wake_until(self, end: datetime) -> None:
        """Wake each planned step at its due time until ``end`` (the daemon running)."""
        while True:
            due = sorted((s.due_at, s.name) for s in self.ask.steps
                         if s.status is StepStatus.PLANNED and s.due_at <= end)
            if not due:
                return
            at, name = due[0]
            self.apply(StepDue(name), at)

    def wake_at(self, now: datetime) -> None:
        """Wake everything overdue at ``now`` (the daemon started after downtime)."""
        while True:
            due = sorted((s.due_at, s.name) for s in self.ask.steps
                         if s.status is StepStatus.PLANNED and s.due_at <= now)
            if not due:
                return
            self.apply(StepDue(due[0][1]), now)

    def send(self, name: str, at: datetime) -> None:
        self.apply(DraftApproved(name), at)
        self.apply(MessageSent(name, at=at), at)
        self.sent.append((name, at))


def test_an_unapproved_first_email_never_ends_in_no_response() -> None:
    # Issue 11.1: the initial draft left unapproved for a month.
    life = Life()
    life.wake_until(day(40))
    assert life.ask.state is AskState.WAITING_FOR_YOU
    assert [name for name, _at in life.drafts] == ["initial"]
    assert step(life.ask, "stop").status is StepStatus.PLANNED
    assert step(life.ask, "nudge").reason == "waits for the initial mail to go out"


def test_no_nudge_while_the_first_email_waits_and_it_counts_from_the_send() -> None:
    # Issue 11.2: the initial approved only on day 9; the nudge used to be drafted on
    # day 7 already, and both went out together.
    life = Life()
    life.wake_until(day(9, 9))
    assert [name for name, _at in life.drafts] == ["initial"]
    life.send("initial", day(9, 9))
    assert life.ask.state is AskState.WAITING_REPLY
    life.wake_until(day(30))
    assert dict(life.drafts)["nudge"] == day(14, 9)  # 5 days after it really went out


def test_after_a_week_off_the_ladder_keeps_its_gaps() -> None:
    # Issue 11.4: the laptop off from day 4 to day 16; nudge and final nudge used to be
    # drafted on consecutive days.
    life = Life()
    life.send("initial", START)
    life.wake_until(day(4))
    life.wake_at(day(16, 10))  # Wednesday, a week and a half later
    assert [name for name, _at in life.drafts] == ["initial", "nudge"]
    final = step(life.ask, "final_nudge")
    assert final.status is StepStatus.PLANNED
    assert final.reason == "waits for the nudge mail to go out"
    life.send("nudge", day(16, 11))
    assert step(life.ask, "final_nudge").due_at == day(23, 11)
    assert step(life.ask, "stop").due_at == day(31, 11)
    life.wake_until(day(23, 11))
    assert dict(life.drafts)["final_nudge"] == day(23, 11)


def test_a_snoozed_final_nudge_is_never_cancelled_by_the_stop() -> None:
    # Issue 11.4: the final nudge drafted and snoozed (left unsent); the stop used to
    # cancel it on day 20. The stop now moves after it.
    life = Life()
    life.send("initial", START)
    life.wake_until(day(5))
    life.send("nudge", day(7, 9))
    life.wake_until(day(14, 9))
    assert step(life.ask, "final_nudge").status is StepStatus.DRAFTED
    life.wake_until(day(44))
    assert step(life.ask, "final_nudge").status is StepStatus.DRAFTED
    assert life.ask.state is AskState.WAITING_REPLY
    stop = step(life.ask, "stop")
    assert stop.status is StepStatus.PLANNED and stop.due_at > day(44)
    life.send("final_nudge", day(45))  # Thursday
    assert step(life.ask, "stop").due_at == day(53)  # 8 days later
    life.wake_until(day(53))
    assert life.ask.state is AskState.NO_RESPONSE


def test_rejecting_the_first_email_cancels_the_ask_and_it_is_no_contact() -> None:
    life = Life()
    life.apply(DraftRejected("initial"), day(1))
    assert life.ask.state is AskState.CANCELLED
    assert all(s.is_final for s in life.ask.steps)
    assert life.ask.first_contact_at is None
    prior = [PriorAsk(1, 7, ("a@x.edu",), START, state=str(life.ask.state),
                      contacted_at=life.ask.first_contact_at)]
    ensure_not_contacted("cold", 7, ("a@x.edu",), prior, day(2), DEFAULT_RULES)


def test_rejecting_a_nudge_lets_the_final_nudge_count_from_the_last_mail() -> None:
    life = Life()
    life.send("initial", START)
    life.wake_until(day(7, 10))
    assert step(life.ask, "nudge").status is StepStatus.DRAFTED
    life.apply(DraftRejected("nudge"), day(8))
    final = step(life.ask, "final_nudge")
    # 12 days after the initial (a Saturday): the Monday after.
    assert final.status is StepStatus.PLANNED and final.due_at == day(14, 8, 0)
    life.wake_until(day(15))
    assert dict(life.drafts)["final_nudge"] == day(14, 8, 0)


def test_the_follow_up_after_a_meeting_waits_for_the_summary() -> None:
    meeting = datetime(2026, 3, 3, 15, tzinfo=NY)
    life = Life.__new__(Life)
    life.ask = new_ask("meeting", START, meeting_at=meeting)
    life.drafts, life.sent = [], []
    life.apply(AskCreated(), START)
    life.wake_until(day(17))
    assert [name for name, _at in life.drafts] == ["summary"]
    life.send("summary", day(17, 11))
    life.wake_until(day(40))
    # The summary went out two weeks late: the follow-up keeps its gap (7 days - 2 hours).
    assert dict(life.drafts)["followup"] == day(24, 9, 30)


def test_letter_reminders_wait_for_the_packet_and_keep_a_week_after_a_reply() -> None:
    deadline = (START + timedelta(days=60)).date()
    life = Life.__new__(Life)
    life.ask = new_ask("letter", START, deadline=deadline)
    life.drafts, life.sent = [], []
    life.apply(AskCreated(), START)
    life.send("request", START)
    life.apply(HumanReply(Intent.AGREE, at=day(1)), day(1))
    assert step(life.ask, "packet").status is StepStatus.DRAFTED
    # The packet is left unapproved past the first reminder's date (Friday, day 46).
    life.wake_until(day(46))
    assert "reminder" not in dict(life.drafts)
    life.send("packet", day(46))
    life.wake_until(day(53, 9))
    # A week after the packet, not the next morning.
    assert dict(life.drafts)["reminder"] == day(53)
    life.send("reminder", day(53, 10))
    life.wake_until(day(61))
    # The final one is dropped: a week after the reminder is the deadline itself.
    assert "final_reminder" not in dict(life.drafts)
    assert step(life.ask, "final_reminder").status is StepStatus.CANCELLED


# -- the hit list -------------------------------------------------------------------


NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def mentor(i: int, rank: int) -> Mentor:
    return Mentor(id=i, name=f"M{i}", addresses=(f"m{i}@x.edu",), rank=rank)


def prior(ask_id: int, mentor_id: int, state: str, playbook: str = "cold",
          contacted: bool = True) -> PriorAsk:
    return PriorAsk(ask_id, mentor_id, (f"m{mentor_id}@x.edu",), NOW - timedelta(days=10),
                    playbook=playbook, state=state,
                    contacted_at=NOW - timedelta(days=10) if contacted else None)


def test_a_cold_ask_that_got_an_answer_holds_no_slot() -> None:
    # Issue 11.6: a cold ask in "meeting" (or "question") held a slot for ever.
    asks = [prior(1, 1, "meeting"), prior(2, 2, "question"), prior(3, 3, "waiting_reply")]
    assert free_slots(asks, DEFAULT_RULES) == 2


def test_backups_are_offered_even_when_the_cold_slots_are_full() -> None:
    # Issue 11.6: "no fresh candidate" while three hit-list mentors were never contacted.
    mentors = [mentor(i, i) for i in range(1, 8)]
    asks = [prior(1, 1, "waiting_reply"), prior(2, 2, "waiting_for_you", contacted=False),
            prior(3, 3, "waiting_reply"), prior(4, 4, "no_response"),
            prior(5, 5, "cancelled", contacted=False)]
    assert next_candidates(mentors, asks, NOW, DEFAULT_RULES) == ()
    backups = next_candidates(mentors, asks, NOW, DEFAULT_RULES, limit=2, slots_only=False)
    # Best-ranked uncontacted first; a cancelled ask that never sent anything is no
    # contact, so mentor 5 is fresh again.
    assert [m.id for m in backups] == [5, 6]


def test_hesitant_reply_suggests_backups_to_start_by_hand() -> None:
    life = Life.__new__(Life)
    life.ask = new_ask("letter", START, deadline=(START + timedelta(days=60)).date())
    life.drafts, life.sent = [], []
    life.apply(AskCreated(), START)
    life.send("request", START)
    decision = decide(life.ask, HumanReply(Intent.HESITANT), day(2))
    assert decision.ask.state is AskState.HESITANT
    assert SuggestCandidates(2, "backup", auto_start=False) in decision.actions
