"""The engine never decides a change its lifecycles refuse.

The store checks every write against ``ASK_LIFECYCLE`` and ``STEP_LIFECYCLE``; a
change the engine makes but the tables forbid would fail in the daemon. So random
lives of asks of every playbook are played through ``decide``, with what really
happens to mail (the sender claims only approved steps, a send ends sent, failed,
uncertain or put back; the user approves, edits, rejects, retries, marks; mentors
answer, are away, bounce), and every change is checked against the tables.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from itertools import count

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maild.core import events as ev
from maild.core.engine import Verdict, decide, send_verdict
from maild.core.model import (
    ASK_LIFECYCLE,
    STEP_LIFECYCLE,
    Ask,
    Intent,
    StepKind,
    StepStatus,
)
from maild.core.refusals import RunwayTooShort
from maild.errors import UsageError

from .helpers import MONDAY, new_ask

PLAYBOOKS = ("cold", "warm", "letter", "meeting", "update", "thanks")
S = StepStatus


def _numbered(ask: Ask, ids: count[int]) -> Ask:
    """New steps get ids, as the store gives them."""
    return replace(ask, steps=tuple(s if s.id is not None else replace(s, id=next(ids))
                                    for s in ask.steps))


def _check(before: Ask, after: Ask, what: object) -> None:
    assert ASK_LIFECYCLE.allows(before.state, after.state), \
        f"ask {before.state} -> {after.state} on {what}"
    old = {s.id: s for s in before.steps}
    for step in after.steps:
        was = old.get(step.id)
        assert STEP_LIFECYCLE.allows(was.status if was else None, step.status), \
            f"step {step.name}: {was.status if was else 'new'} -> {step.status} on {what}"


def _events(draw: st.DrawFn, ask: Ask, now: datetime) -> list[object]:
    """What may happen next to this ask, as the outside world would make it happen:
    mostly the mail flow of its steps (so that sends fail, retry and resolve), now and
    then anything else."""
    steps = [s for s in ask.steps if not s.is_final]
    named = {s.status: s.name for s in steps}
    flow = _flow(draw, ask, named, now)
    if flow and draw(st.integers(0, 9)) < 7:
        return flow
    return [
        *flow,
        ev.HumanReply(draw(st.sampled_from(list(Intent))), at=now),
        ev.AutoReply(return_date=draw(st.none() | st.just((now + timedelta(days=9)).date()))),
        ev.Bounce(address_invalid=draw(st.booleans()), recipients=("m@x.edu",)),
        ev.MessageSent(by_user=True, message_id=f"<u{now.timestamp()}@x>", at=now),
        ev.UserMarked(draw(st.sampled_from(list(ev.Mark)))),
        ev.LetterServiceNotification(submitted=draw(st.booleans())),
        ev.OutcomeRecorded("matched"),
        ev.MeetingHeld(at=now),
        ev.DeadlineChanged(date(2026, 8, 1) + timedelta(days=draw(st.integers(-60, 60)))),
    ]


def _flow(draw: st.DrawFn, ask: Ask, named: dict[StepStatus, str], now: datetime
          ) -> list[object]:
    choices: list[object] = []
    for step in ask.steps:
        if step.is_final:
            continue
        if step.due_at <= now:
            choices.append(ev.StepDue(step.name))
    if S.DRAFTED in named:
        name = named[S.DRAFTED]
        choices += [ev.DraftApproved(name), ev.DraftRejected(name), ev.DraftEdited(name)]
    if S.APPROVED in named:
        name = named[S.APPROVED]
        choices += [ev.DraftEdited(name), ev.DraftRejected(name),
                    ev.SendFailed(name, detail="unsendable"), ev.SendRetry(name, why="claim"),
                    ("claim", name)]
    if S.SENDING in named:
        name = named[S.SENDING]
        choices += [ev.MessageSent(name, message_id=f"<{name}@x>", at=now),
                    ev.SendFailed(name, uncertain=draw(st.booleans())),
                    ev.SendRetry(name, why="temporary")]
    if S.UNCERTAIN in named:
        name = named[S.UNCERTAIN]
        choices += [ev.MessageSent(name, at=now), ev.SendRetry(name, why="not sent")]
    if S.FAILED in named:
        choices.append(ev.SendRetry(named[S.FAILED], why="retried"))
    return choices


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_every_change_the_engine_decides_is_allowed(data: st.DataObject) -> None:
    playbook = data.draw(st.sampled_from(PLAYBOOKS))
    now = MONDAY
    ids = count(1)
    try:
        decision = decide(new_ask(playbook, deadline=date(2026, 8, 14),
                                  meeting_at=MONDAY + timedelta(days=2)),
                          ev.AskCreated(force=True), now)
    except RunwayTooShort:
        return
    assert ASK_LIFECYCLE.allows(None, decision.ask.state)
    for step in decision.ask.steps:
        assert STEP_LIFECYCLE.allows(None, step.status), f"new {step.name} {step.status}"
    ask = _numbered(decision.ask, ids)
    for _ in range(data.draw(st.integers(5, 60))):
        now += timedelta(hours=data.draw(st.integers(1, 24 * 4)))
        event = data.draw(st.sampled_from(_events(data.draw, ask, now)))
        if isinstance(event, tuple):
            # The sender's claim (the one change made outside the engine) after its last
            # look at the ask: a held ask waits, a "no" puts the draft back (SendRetry).
            step = ask.open_step(event[1])
            assert step is not None and step.kind is StepKind.EMAIL
            verdict, _why = send_verdict(ask, step)
            if verdict is Verdict.HOLD:
                continue
            if verdict is not Verdict.SEND:
                event = ev.SendRetry(step.name, why="claim")
            else:
                claimed = ask.with_step(step, replace(step, status=S.SENDING))
                _check(ask, claimed, event)
                ask = claimed
                continue
        try:
            after = _numbered(decide(ask, event, now).ask, ids)  # type: ignore[arg-type]
        except UsageError:
            continue  # refused (say, marking a cold ask's letter submitted): nothing changes
        _check(ask, after, event)
        ask = after
