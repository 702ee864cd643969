"""What the engine makes of a send that did not go out (SendRetry), of events that arrive
while a mail is in flight (``sending``), and ``send_verdict``: the last look the sender
takes before claiming an approved draft (invariant 3)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from maild.core.actions import CancelSteps, CreateDraft
from maild.core.engine import REDRAFT_REASON, Verdict, decide, send_verdict
from maild.core.events import (
    AskCreated,
    DraftApproved,
    Event,
    HumanReply,
    Mark,
    MessageSent,
    SendFailed,
    SendRetry,
    StepDue,
    UserMarked,
)
from maild.core.model import Ask, AskState, Intent, StepStatus

from .helpers import NY, kinds, new_ask, replay, step


def june(day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(2026, 6, day, hour, minute, tzinfo=NY)


COLD_SENT: list[tuple[Event, datetime]] = [
    (AskCreated(), june(1)),
    (DraftApproved("initial"), june(1, 10, 1)),
    (MessageSent("initial", at=june(1, 10, 2)), june(1, 10, 2)),
    (StepDue("nudge"), june(8, 8)),
    (DraftApproved("nudge"), june(8, 9)),
]


def sending(ask: Ask, name: str) -> Ask:
    """``name`` claimed by the sender (it writes ``sending`` itself, before SMTP)."""
    found = ask.open_step(name)
    assert found is not None
    return ask.with_step(found, replace(found, status=StepStatus.SENDING))


def cold_nudge_sending() -> Ask:
    return sending(replay(new_ask("cold"), COLD_SENT).ask, "nudge")


def test_a_reply_while_the_nudge_is_in_flight_recalls_it() -> None:
    ask = decide(cold_nudge_sending(), HumanReply(Intent.QUESTION, at=june(8, 9, 1)),
                 june(8, 9, 2)).ask
    assert step(ask, "nudge").status is StepStatus.SENDING
    assert step(ask, "nudge").recalled == "the mentor replied"
    # The SMTP server said "try later": the nudge is not tried again.
    back = decide(ask, SendRetry("nudge", why="451"), june(8, 9, 3))
    assert step(back.ask, "nudge").status is StepStatus.CANCELLED
    assert any(isinstance(a, CancelSteps) and a.names == ("nudge",) for a in back.actions)


def test_a_reply_dated_before_the_approval_still_stops_a_nudge_in_flight() -> None:
    # The reply's Date is older than the approval (it sat in a queue): recalled anyway.
    ask = decide(cold_nudge_sending(), HumanReply(Intent.QUESTION, at=june(8, 8, 30)),
                 june(8, 9, 2)).ask
    assert step(decide(ask, SendRetry("nudge"), june(8, 9, 3)).ask,
                "nudge").status is StepStatus.CANCELLED


def test_a_temporary_failure_without_news_approves_again() -> None:
    back = decide(cold_nudge_sending(), SendRetry("nudge", why="451"), june(8, 9, 3))
    assert step(back.ask, "nudge").status is StepStatus.APPROVED
    assert back.ask.state is AskState.WAITING_REPLY


def test_the_ask_cancelled_while_its_first_mail_is_in_flight() -> None:
    created = replay(new_ask("cold"), COLD_SENT[:2]).ask
    ask = decide(sending(created, "initial"), UserMarked(Mark.CANCEL), june(1, 10, 2)).ask
    assert ask.state is AskState.CANCELLED and ask.closed_at is None  # one step in flight
    assert step(ask, "initial").recalled == "cancelled by the user"
    back = decide(ask, SendRetry("initial"), june(1, 10, 3)).ask
    assert step(back, "initial").status is StepStatus.CANCELLED
    assert back.closed_at == june(1, 10, 3)
    # A permanent failure of a recalled mail ends it too, without holding the ask.
    failed = decide(ask, SendFailed("initial", detail="554"), june(1, 10, 3)).ask
    assert step(failed, "initial").status is StepStatus.CANCELLED
    assert failed.state is AskState.CANCELLED and failed.closed_at is not None


def test_a_reply_while_a_reminder_is_in_flight_sends_it_back_for_approval() -> None:
    agreed = replay(new_ask("letter", deadline=june(30).date() + timedelta(days=45)), [
        (AskCreated(), june(1)),
        (MessageSent("request", at=june(1, 11)), june(1, 11)),
        (HumanReply(Intent.AGREE, at=june(2)), june(2)),
        (MessageSent("packet", at=june(2, 11)), june(2, 11)),
    ]).ask
    due = step(agreed, "reminder").due_at
    drafted = decide(agreed, StepDue("reminder"), due).ask
    approved = decide(drafted, DraftApproved("reminder"), due + timedelta(minutes=5)).ask
    flying = sending(approved, "reminder")
    later = due + timedelta(minutes=10)
    replied = decide(flying, HumanReply(Intent.QUESTION, at=later), later).ask
    back = decide(replied, SendRetry("reminder"), later + timedelta(minutes=1))
    again = step(back.ask, "reminder")
    assert again.status is StepStatus.PLANNED and again.approved_at is None
    # Its clock restarts at the mentor's message: no reminder right after they wrote.
    assert again.due_at >= later + timedelta(days=7)
    assert {"CancelSteps", "ScheduleStep", "Notify"} <= set(kinds(back.actions))


def test_retry_of_a_failed_initial_counts_the_ladder_from_the_real_send() -> None:
    failed = replay(new_ask("cold"), [
        (AskCreated(), june(1)), (DraftApproved("initial"), june(1, 10, 1)),
        (SendFailed("initial", detail="535"), june(1, 10, 2)),
    ]).ask
    assert failed.state is AskState.SEND_FAILED and failed.held_from is AskState.ACTIVE
    retried = decide(failed, SendRetry("initial"), june(10)).ask
    assert retried.state is AskState.ACTIVE and retried.held_from is None
    # Nothing is drafted although the old day-5 moment has passed: the initial is unsent.
    waiting = decide(retried, StepDue("nudge"), june(10, 11))
    assert not [a for a in waiting.actions if isinstance(a, CreateDraft)]
    sent = decide(waiting.ask, MessageSent("initial", at=june(10, 12)), june(10, 12)).ask
    assert step(sent, "nudge").due_at == june(15, 12)
    assert step(sent, "final_nudge").due_at == june(22, 12)
    assert step(sent, "stop").due_at == june(30, 12)


def test_a_reply_dated_in_the_future_counts_as_now() -> None:
    ask = decide(replay(new_ask("cold"), COLD_SENT).ask,
                 HumanReply(Intent.QUESTION, at=june(20)), june(8, 10)).ask
    assert ask.last_reply_at == june(8, 10)


# ---------------------------------------------------------------- send_verdict

def approved_nudge() -> Ask:
    return replay(new_ask("cold"), COLD_SENT).ask


@pytest.mark.parametrize(("change", "verdict"), [
    ({}, Verdict.SEND),
    ({"state": AskState.PAUSED}, Verdict.HOLD),
    ({"state": AskState.NEEDS_ADDRESS}, Verdict.HOLD),
    ({"state": AskState.SEND_FAILED}, Verdict.HOLD),
    ({"state": AskState.DECLINED}, Verdict.CANCEL),
    ({"state": AskState.NO_RESPONSE}, Verdict.CANCEL),
    ({"state": AskState.AGREED}, Verdict.CANCEL),  # cold closes on agreement
    ({"last_reply_at": june(8, 9, 30)}, Verdict.CANCEL),  # after the approval
    ({"last_reply_at": june(3)}, Verdict.SEND),  # an old reply, answered since
])
def test_send_verdict_of_an_approved_nudge(change: dict[str, object], verdict: Verdict) -> None:
    ask = replace(approved_nudge(), **change)  # type: ignore[arg-type]
    assert send_verdict(ask, step(ask, "nudge"))[0] is verdict


def test_send_verdict_falls_back_to_the_drafts_creation() -> None:
    ask = approved_nudge()
    nudge = replace(step(ask, "nudge"), approved_at=None)
    ask = replace(ask, last_reply_at=june(8, 8, 30))
    assert send_verdict(ask, nudge)[0] is Verdict.SEND
    assert send_verdict(ask, nudge, drafted_at=june(8, 8))[0] is Verdict.CANCEL


def test_send_verdict_of_a_reminder_after_a_reply_is_redraft() -> None:
    ask = approved_nudge()
    reminder = replace(step(ask, "nudge"), name="reminder", nudge=False, followup=True)
    ask = replace(ask, playbook="letter", last_reply_at=june(8, 9, 30))
    assert send_verdict(ask, reminder) == (Verdict.REDRAFT, REDRAFT_REASON)


def test_the_decline_thank_you_goes_out_although_the_ask_has_ended() -> None:
    ask = replay(new_ask("cold"), [
        *COLD_SENT[:3], (HumanReply(Intent.DECLINE, at=june(3)), june(3)),
        (DraftApproved("decline_thanks"), june(3, 11)),
    ]).ask
    assert ask.state is AskState.DECLINED
    assert send_verdict(ask, step(ask, "decline_thanks"))[0] is Verdict.SEND
