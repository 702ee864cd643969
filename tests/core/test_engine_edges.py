"""The engine's edge cases: races, DST, weekends, deadlines, bounces, ghosts."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from maild.core.actions import CancelSteps, CreateDraft, Decision, Level, Notify, SuggestCandidates
from maild.core.engine import decide
from maild.core.events import (
    AskCreated,
    AutoReply,
    Bounce,
    DeadlineChanged,
    HumanReply,
    Mark,
    MessageSent,
    StepDue,
    UserMarked,
)
from maild.core.ghost import is_ghosting
from maild.core.model import Ask, AskState, Intent, StepStatus
from maild.core.refusals import RunwayTooShort
from maild.core.rules import DEFAULT_RULES
from maild.core.timing import NaiveDatetimeError

from .helpers import NY, UTC, local, new_ask, replay, start, step

LONDON = "Europe/London"


def ny(y: int, m: int, d: int, h: int = 10, mi: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=NY)


def sent_cold(created: datetime) -> Decision:
    return replay(new_ask("cold", created), [
        (AskCreated(), created),
        (MessageSent("initial", at=created), created),
    ])


# ---------------------------------------------------------------- weekends and the window


def test_cold_created_thursday_nudges_on_tuesday_same_time() -> None:
    ask = start("cold", ny(2026, 6, 4)).ask  # Thursday
    assert local(step(ask, "nudge").due_at) == ny(2026, 6, 9)  # Tuesday 10:00
    assert local(step(ask, "final_nudge").due_at) == ny(2026, 6, 16)  # Tuesday (day 12)
    assert local(step(ask, "stop").due_at) == ny(2026, 6, 24)  # Wednesday (day 20)


def test_cold_created_monday_day5_saturday_moves_to_monday_0800() -> None:
    ask = start("cold", ny(2026, 6, 1)).ask
    assert local(step(ask, "nudge").due_at) == ny(2026, 6, 8, 8)
    assert local(step(ask, "final_nudge").due_at) == ny(2026, 6, 15, 8)  # Sat -> Mon
    assert local(step(ask, "stop").due_at) == ny(2026, 6, 22, 8)  # Sun -> Mon


def test_ask_created_friday_evening_waits_for_monday_morning() -> None:
    decision = start("cold", ny(2026, 6, 5, 18))
    initial = step(decision.ask, "initial")
    assert local(initial.due_at) == ny(2026, 6, 8, 8)
    assert initial.status is StepStatus.PLANNED
    assert not [a for a in decision.actions if isinstance(a, CreateDraft)]


def test_due_times_follow_the_mentors_timezone() -> None:
    # 10:00 in New York is 15:00 in London: inside London's window too, but the nudge
    # keeps London's wall clock, and a Saturday in London is still a Saturday.
    ask = start("cold", ny(2026, 6, 1), tz=LONDON).ask
    nudge = step(ask, "nudge").due_at.astimezone(step_zone(LONDON))
    assert (nudge.weekday(), nudge.hour) == (0, 8)


def step_zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


# ---------------------------------------------------------------- DST


def test_dst_fall_back_keeps_the_wall_clock() -> None:
    # Thursday 2026-10-29 10:00 EDT; day 5 = Tuesday 2026-11-03 10:00 EST.
    ask = start("cold", ny(2026, 10, 29)).ask
    nudge = step(ask, "nudge").due_at
    assert local(nudge) == ny(2026, 11, 3)
    assert nudge.astimezone(UTC).hour == 15  # was 14:00 UTC before the change


def test_dst_spring_forward_keeps_the_wall_clock() -> None:
    ask = start("cold", ny(2026, 3, 5)).ask  # Thursday 10:00 EST
    nudge = step(ask, "nudge").due_at
    assert local(nudge) == ny(2026, 3, 10)
    assert nudge.astimezone(UTC).hour == 14


def test_window_start_on_the_dst_sunday_is_monday_0800_local() -> None:
    ask = start("cold", ny(2026, 3, 2, 9)).ask  # Monday; day 5 Saturday 7th, DST on the 8th
    assert local(step(ask, "nudge").due_at) == ny(2026, 3, 9, 8)
    assert step(ask, "nudge").due_at.astimezone(UTC).hour == 12


# ---------------------------------------------------------------- reply vs nudge race


def test_reply_arriving_exactly_when_the_nudge_is_due_wins() -> None:
    ask = sent_cold(ny(2026, 6, 1)).ask
    due = step(ask, "nudge").due_at
    after_reply = decide(ask, HumanReply(Intent.AGREE, at=due), due)
    assert step(after_reply.ask, "nudge").status is StepStatus.CANCELLED
    late_wakeup = decide(after_reply.ask, StepDue("nudge"), due)
    assert late_wakeup.actions == ()
    assert step(late_wakeup.ask, "nudge").status is StepStatus.CANCELLED


def test_nudge_drafted_a_moment_before_the_reply_is_withdrawn() -> None:
    ask = sent_cold(ny(2026, 6, 1)).ask
    due = step(ask, "nudge").due_at
    drafted = decide(ask, StepDue("nudge"), due).ask
    assert step(drafted, "nudge").status is StepStatus.DRAFTED
    replied = decide(drafted, HumanReply(Intent.QUESTION), due)
    assert step(replied.ask, "nudge").status is StepStatus.CANCELLED
    cancel = next(a for a in replied.actions if isinstance(a, CancelSteps))
    assert "nudge" in cancel.names


def test_a_nudge_already_sending_is_not_cancelled() -> None:
    ask = sent_cold(ny(2026, 6, 1)).ask
    nudge = step(ask, "nudge")
    sending = ask.with_step(nudge, nudge.__class__(**{**nudge.__dict__,
                                                      "status": StepStatus.SENDING}))
    replied = decide(sending, HumanReply(Intent.AGREE), nudge.due_at)
    assert step(replied.ask, "nudge").status is StepStatus.SENDING


# ---------------------------------------------------------------- auto-replies


def test_auto_reply_with_return_date_moves_nudge_after_it_keeping_spacing() -> None:
    ask = sent_cold(ny(2026, 6, 1)).ask
    moved = decide(ask, AutoReply(return_date=date(2026, 6, 12)), ny(2026, 6, 1, 12)).ask
    # First working day after Friday 12 June: Monday 15 June, 08:00.
    assert local(step(moved, "nudge").due_at) == ny(2026, 6, 15, 8)
    # Nudge moved 7 calendar days; the rest of the ladder moves with it, keeping the
    # playbook's gaps (final nudge 7 days after the nudge, the stop 8 after that).
    assert local(step(moved, "final_nudge").due_at) == ny(2026, 6, 22, 8)
    assert local(step(moved, "stop").due_at) == ny(2026, 6, 30, 8)
    assert all(s.status is not StepStatus.CANCELLED for s in moved.steps)


def test_auto_reply_without_date_waits_a_week() -> None:
    ask = sent_cold(ny(2026, 6, 1)).ask
    moved = decide(ask, AutoReply(at=ny(2026, 6, 3, 9)), ny(2026, 6, 3, 9)).ask
    assert local(step(moved, "nudge").due_at) == ny(2026, 6, 10, 9)


def test_auto_reply_returning_before_the_nudge_moves_nothing() -> None:
    ask = sent_cold(ny(2026, 6, 1)).ask
    after = decide(ask, AutoReply(return_date=date(2026, 6, 2)), ny(2026, 6, 1, 12))
    assert after.ask.steps == ask.steps


def _letter(deadline: date) -> Ask:
    now = ny(2026, 6, 1)
    packet = now + timedelta(hours=2)
    return replay(new_ask("letter", now, deadline=deadline), [
        (AskCreated(), now),
        (MessageSent("request", at=now), now),
        (HumanReply(Intent.AGREE), now),
        (MessageSent("packet", at=packet), packet),
    ]).ask


def test_auto_reply_returning_after_the_deadline_is_urgent_and_moves_nothing() -> None:
    ask = _letter(date(2026, 8, 14))
    now = ny(2026, 7, 30)
    after = decide(ask, AutoReply(return_date=date(2026, 8, 20)), now)
    assert any(isinstance(a, Notify) and a.level is Level.URGENT for a in after.actions)
    assert step(after.ask, "reminder").due_at == step(ask, "reminder").due_at
    assert step(after.ask, "final_reminder").status is StepStatus.PLANNED


def test_auto_reply_during_reminders_keeps_only_the_last_reminder_before_return() -> None:
    ask = _letter(date(2026, 8, 14))
    after = decide(ask, AutoReply(return_date=date(2026, 8, 10)), ny(2026, 7, 30)).ask
    assert step(after, "reminder").status is StepStatus.CANCELLED
    assert local(step(after, "final_reminder").due_at) == ny(2026, 8, 11, 8)


# ---------------------------------------------------------------- bounces


def test_hard_bounce_on_letter_holds_mail_but_not_the_call_task_and_resume_resends() -> None:
    ask = _letter(date(2026, 8, 14))
    bounced = decide(ask, Bounce(True, ("old@x.edu",), "5.1.1"), ny(2026, 6, 1, 11))
    assert bounced.ask.state is AskState.NEEDS_ADDRESS
    assert any(isinstance(a, Notify) and a.level is Level.URGENT for a in bounced.actions)
    held = decide(bounced.ask, StepDue("reminder"), ny(2026, 7, 31, 8))
    assert held.actions == () and step(held.ask, "reminder").status is StepStatus.PLANNED
    task = decide(held.ask, StepDue("call_office"), ny(2026, 8, 12, 8))
    assert step(task.ask, "call_office").status is StepStatus.DONE
    resumed = decide(task.ask, UserMarked(Mark.RESUME), ny(2026, 8, 12, 9))
    assert resumed.ask.state is AskState.AGREED
    # The bounced mail (the packet, the last that went out) is drafted afresh first...
    fresh = resumed.ask.open_step("packet")
    assert fresh is not None and fresh.status is StepStatus.DRAFTED and not fresh.in_thread
    # ...both reminders came due while held: only the later one is left, and it waits
    # for the packet to go out (no two mails about one letter at once).
    assert step(resumed.ask, "reminder").status is StepStatus.CANCELLED
    final = step(resumed.ask, "final_reminder")
    assert final.status is StepStatus.PLANNED and final.reason == \
        "waits for the packet mail to go out"
    # Once the packet is out, a reminder 7 days later would come after the deadline.
    sent = decide(resumed.ask, MessageSent("packet", at=ny(2026, 8, 12, 10)),
                  ny(2026, 8, 12, 10)).ask
    assert step(sent, "final_reminder").status is StepStatus.CANCELLED


def test_resume_on_an_active_ask_does_nothing() -> None:
    ask = sent_cold(ny(2026, 6, 1)).ask
    assert decide(ask, UserMarked(Mark.RESUME), ny(2026, 6, 2)).actions == ()


def test_reply_on_a_paused_ask_restores_it() -> None:
    ask = sent_cold(ny(2026, 6, 1)).ask
    paused = decide(ask, UserMarked(Mark.PAUSE), ny(2026, 6, 2)).ask
    replied = decide(paused, HumanReply(Intent.UNCLEAR), ny(2026, 6, 3)).ask
    assert replied.state is AskState.REPLIED and replied.needs_review
    assert replied.held_from is None


# ---------------------------------------------------------------- deadlines


def test_letter_reminders_sit_at_minus_14_5_and_call_at_minus_2() -> None:
    ask = start("letter", ny(2026, 6, 1), deadline=date(2026, 9, 30)).ask  # a Wednesday
    assert local(step(ask, "reminder").due_at) == ny(2026, 9, 16, 8)
    assert local(step(ask, "final_reminder").due_at) == ny(2026, 9, 25, 8)
    assert local(step(ask, "call_office").due_at) == ny(2026, 9, 28, 8)
    assert local(step(ask, "deadline").due_at) == ny(2026, 10, 1, 0)


def test_deadline_moved_later_moves_reminders_and_call() -> None:
    ask = _letter(date(2026, 8, 14))
    moved = decide(ask, DeadlineChanged(date(2026, 9, 30)), ny(2026, 6, 5)).ask
    assert moved.deadline == date(2026, 9, 30)
    assert local(step(moved, "reminder").due_at) == ny(2026, 9, 16, 8)
    assert local(step(moved, "call_office").due_at) == ny(2026, 9, 28, 8)
    assert local(step(moved, "deadline").due_at) == ny(2026, 10, 1, 0)


def test_deadline_moved_earlier_past_both_reminders_keeps_the_last_one_now() -> None:
    ask = _letter(date(2026, 8, 14))
    moved = decide(ask, DeadlineChanged(date(2026, 6, 12)), ny(2026, 6, 9)).ask  # 3 days
    assert step(moved, "reminder").status is StepStatus.CANCELLED
    assert step(moved, "final_reminder").status is StepStatus.DRAFTED
    assert local(step(moved, "call_office").due_at) == ny(2026, 6, 10, 8)


def test_deadline_moved_after_it_was_missed_reopens_the_ask() -> None:
    ask = _letter(date(2026, 8, 14))
    missed = decide(ask, StepDue("deadline"), ny(2026, 8, 15, 0)).ask
    assert missed.state is AskState.MISSED_DEADLINE
    extended = decide(missed, DeadlineChanged(date(2026, 9, 1)), ny(2026, 8, 15, 9)).ask
    assert extended.state is AskState.AGREED
    assert extended.open_step("deadline") is not None
    assert extended.open_step("call_office") is not None


def test_deadline_moved_later_after_a_reminder_was_sent_does_not_repeat_it() -> None:
    ask = _letter(date(2026, 8, 14))
    ask = decide(ask, StepDue("reminder"), ny(2026, 7, 31, 8)).ask
    ask = decide(ask, MessageSent("reminder"), ny(2026, 7, 31, 9)).ask
    moved = decide(ask, DeadlineChanged(date(2026, 9, 4)), ny(2026, 8, 1)).ask
    assert [s.status for s in moved.steps if s.name == "reminder"] == [StepStatus.SENT]
    assert local(step(moved, "final_reminder").due_at) == ny(2026, 8, 31, 8)


# ---------------------------------------------------------------- runway


def test_letter_under_two_weeks_is_refused_unless_forced() -> None:
    with pytest.raises(RunwayTooShort, match="--force"):
        start("letter", ny(2026, 6, 1), deadline=date(2026, 6, 10))
    forced = start("letter", ny(2026, 6, 1), deadline=date(2026, 6, 10), force=True)
    assert forced.ask.forced
    assert any(isinstance(a, Notify) and a.level is Level.WARNING for a in forced.actions)
    # -14 already passed: no reminder that would cross the request; -5 still comes.
    assert forced.ask.latest_step("reminder") is None
    assert local(step(forced.ask, "final_reminder").due_at) == ny(2026, 6, 5, 8)
    assert forced.ask.open_step("call_office") is not None


def test_letter_under_six_weeks_warns() -> None:
    decision = start("letter", ny(2026, 6, 1), deadline=date(2026, 7, 1))
    assert any(isinstance(a, Notify) and a.level is Level.WARNING for a in decision.actions)


def test_letter_without_deadline_is_a_usage_error() -> None:
    from maild.errors import UsageError

    with pytest.raises(UsageError):
        start("letter", ny(2026, 6, 1))


def test_naive_now_is_refused() -> None:
    with pytest.raises(NaiveDatetimeError):
        decide(new_ask("cold"), AskCreated(), datetime(2026, 6, 1, 10))


# ---------------------------------------------------------------- question, contact, ghost


def test_user_answering_a_question_restarts_the_nudges_from_the_answer() -> None:
    ask = sent_cold(ny(2026, 6, 1)).ask
    ask = decide(ask, HumanReply(Intent.QUESTION), ny(2026, 6, 2)).ask
    assert ask.open_step("nudge") is None
    answered = decide(ask, MessageSent(by_user=True, at=ny(2026, 6, 3, 9)), ny(2026, 6, 3, 9))
    assert answered.ask.state is AskState.WAITING_REPLY
    assert local(step(answered.ask, "nudge").due_at) == ny(2026, 6, 8, 9)
    assert step(answered.ask, "nudge").status is StepStatus.PLANNED


def _question_after_the_nudge() -> Ask:
    """Cold ask: initial Mon 1 June, nudge out Mon 8 June, the mentor asks on Tue 9."""
    ask = sent_cold(ny(2026, 6, 1)).ask
    ask = decide(ask, StepDue("nudge"), ny(2026, 6, 8, 8)).ask
    ask = decide(ask, MessageSent("nudge", at=ny(2026, 6, 8, 9)), ny(2026, 6, 8, 9)).ask
    return decide(ask, HumanReply(Intent.QUESTION), ny(2026, 6, 9)).ask


def test_answered_question_restarts_the_rest_of_the_ladder_as_a_fresh_wait() -> None:
    # Session 2's gap: only the called-off rungs came back, so the next mail was the
    # final nudge, 12 days after the answer. One follow-up is left of the two allowed:
    # it comes at the first rung's gap (5 days) with the first rung's wording.
    answered = decide(_question_after_the_nudge(), MessageSent(by_user=True,
                      at=ny(2026, 6, 10, 9)), ny(2026, 6, 10, 9)).ask
    planned = {s.name: local(s.due_at) for s in answered.steps if s.status is StepStatus.PLANNED}
    assert planned == {"nudge": ny(2026, 6, 15, 9), "stop": ny(2026, 6, 30, 9)}
    fired = decide(answered, StepDue("nudge"), ny(2026, 6, 15, 9))
    drafts = [a for a in fired.actions if isinstance(a, CreateDraft)]
    assert [(d.step, d.template) for d in drafts] == [("nudge", "cold_nudge")]
    ask = decide(fired.ask, MessageSent("nudge", at=ny(2026, 6, 15, 9)), ny(2026, 6, 15, 9)).ask
    ended = decide(ask, StepDue("stop"), ny(2026, 6, 30, 9)).ask
    assert ended.state is AskState.NO_RESPONSE


def test_no_more_follow_ups_in_total_than_the_playbook_allows() -> None:
    ask = decide(_question_after_the_nudge(), MessageSent(by_user=True,
                 at=ny(2026, 6, 10, 9)), ny(2026, 6, 10, 9)).ask
    ask = decide(ask, StepDue("nudge"), ny(2026, 6, 15, 9)).ask
    ask = decide(ask, MessageSent("nudge", at=ny(2026, 6, 15, 10)), ny(2026, 6, 15, 10)).ask
    # Both follow-ups went out; a second question and answer plan only the stop.
    ask = decide(ask, HumanReply(Intent.QUESTION), ny(2026, 6, 16)).ask
    answered = decide(ask, MessageSent(by_user=True, at=ny(2026, 6, 17, 9)),
                      ny(2026, 6, 17, 9)).ask
    planned = {s.name: local(s.due_at) for s in answered.steps if s.status is StepStatus.PLANNED}
    assert planned == {"stop": ny(2026, 7, 7, 9)}
    went_out = [s.name for s in answered.steps if s.status is StepStatus.SENT and s.nudge]
    assert went_out == ["nudge", "nudge"]


def test_initial_sent_late_reanchors_the_ladder() -> None:
    ask = start("cold", ny(2026, 6, 1)).ask
    sent = decide(ask, MessageSent("initial", at=ny(2026, 6, 4)), ny(2026, 6, 4)).ask
    assert local(step(sent, "nudge").due_at) == ny(2026, 6, 9)
    assert sent.first_contact_at is not None


def test_user_sending_initial_from_own_client_supersedes_the_draft() -> None:
    ask = start("cold", ny(2026, 6, 1)).ask
    sent = decide(ask, MessageSent(by_user=True, message_id="<m@x>"), ny(2026, 6, 1, 11)).ask
    assert step(sent, "initial").status is StepStatus.SUPERSEDED
    assert sent.state is AskState.WAITING_REPLY
    assert sent.thread_message_ids == ("<m@x>",)


def _two_reminders(ask: Ask) -> tuple[Ask, Decision]:
    last = Decision(ask)
    for name, due, sent in (("reminder", ny(2026, 7, 31, 8), ny(2026, 7, 31, 9)),
                            ("final_reminder", ny(2026, 8, 10, 8), ny(2026, 8, 10, 9))):
        ask = decide(ask, StepDue(name), due).ask
        last = decide(ask, MessageSent(name), sent)
        ask = last.ask
    return ask, last


def test_ghost_after_two_unanswered_reminders_and_six_weeks_suggests_diversifying() -> None:
    now = ny(2026, 6, 1)
    silent = replay(new_ask("letter", now, deadline=date(2026, 8, 14)), [
        (AskCreated(), now), (MessageSent("request", at=now), now)]).ask
    ask, last = _two_reminders(silent)
    assert ask.unanswered_followups == 2
    assert is_ghosting(ask, ny(2026, 8, 10, 9), DEFAULT_RULES)
    assert SuggestCandidates(1, "diversify", auto_start=False) in last.actions
    assert ask.ghost_warned_at is not None


def test_a_mentor_who_agreed_and_went_quiet_is_not_a_ghost() -> None:
    # Issue 11.6: the ghost notice fired for a mentor who had already agreed.
    ask, last = _two_reminders(_letter(date(2026, 8, 14)))
    assert ask.unanswered_followups == 2
    assert not is_ghosting(ask, ny(2026, 8, 30), DEFAULT_RULES)
    assert not [a for a in last.actions if isinstance(a, SuggestCandidates)]
    assert ask.ghost_warned_at is None and ask.open_step("ghost_check") is None

def test_ghost_check_is_planned_and_cancelled_by_a_reply() -> None:
    ask = start("meeting", ny(2026, 6, 1), meeting_at=ny(2026, 6, 2, 9)).ask
    ask = decide(ask, MessageSent("summary"), ny(2026, 6, 2, 12)).ask
    ask = decide(ask, StepDue("followup"), ny(2026, 6, 9, 9)).ask
    ask = decide(ask, MessageSent("followup"), ny(2026, 6, 9, 10)).ask
    assert ask.unanswered_followups == 1 and ask.open_step("ghost_check") is None


def test_decline_then_late_agree_is_still_recorded() -> None:
    ask = sent_cold(ny(2026, 6, 1)).ask
    ask = decide(ask, HumanReply(Intent.DECLINE), ny(2026, 6, 2)).ask
    ask = decide(ask, HumanReply(Intent.AGREE), ny(2026, 6, 3)).ask
    assert ask.state is AskState.AGREED and ask.last_intent is Intent.AGREE


def test_update_recurs_every_interval_weeks() -> None:
    ask = start("update", ny(2026, 6, 1)).ask
    ask = decide(ask, MessageSent("update"), ny(2026, 6, 1, 11)).ask
    assert local(step(ask, "update").due_at) == ny(2026, 6, 29, 11)
    assert [s.status for s in ask.steps] == [StepStatus.SENT, StepStatus.PLANNED]


def test_decide_is_deterministic_and_leaves_its_input_alone() -> None:
    ask = new_ask("cold")
    first = decide(ask, AskCreated(), ny(2026, 6, 1))
    second = decide(ask, AskCreated(), ny(2026, 6, 1))
    assert first == second and ask.steps == ()
    assert decide(first.ask, AskCreated(), ny(2026, 6, 2)).ask.steps == first.ask.steps


def test_question_after_no_response_plans_the_stop_again_without_more_nudges() -> None:
    created = ny(2026, 6, 1)
    ask = sent_cold(created).ask
    for name, day in (("nudge", ny(2026, 6, 8, 8)), ("final_nudge", ny(2026, 6, 15, 8))):
        ask = decide(ask, StepDue(name), day).ask
        ask = decide(ask, MessageSent(name, at=day), day).ask
    ask = decide(ask, StepDue("stop"), ny(2026, 6, 23, 8)).ask
    assert ask.state is AskState.NO_RESPONSE and ask.closed_at is not None
    ask = decide(ask, HumanReply(Intent.QUESTION), ny(2026, 6, 24)).ask
    assert ask.state is AskState.QUESTION and ask.closed_at is None
    answered = decide(ask, MessageSent(by_user=True, at=ny(2026, 6, 25, 9)),
                      ny(2026, 6, 25, 9)).ask
    planned = {s.name: local(s.due_at) for s in answered.steps if s.status is StepStatus.PLANNED}
    # Both follow-ups of the playbook went out already: no more nudges, only the stop,
    # a whole ladder's length after the answer, so the ask can end again.
    assert planned == {"stop": ny(2026, 7, 15, 9)}
    ended = decide(answered, StepDue("stop"), ny(2026, 7, 15, 9)).ask
    assert ended.state is AskState.NO_RESPONSE
