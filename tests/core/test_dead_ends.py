"""No ask is ever stranded: a walk over the engine's state machine finds no dead end.

From each playbook's start, every event that can happen next (a step coming due, the
user approving, rejecting or sending a draft by hand, maild sending it, a send failing,
every kind of reply, an out-of-office, a hard bounce, a letter notice, pause and
resume) is applied, breadth first, to a bounded depth; asks that differ only in times
are merged. Every ask reached must have a way forward:

* an end (declined, no response, closed, cancelled), or
* a step still open (planned, drafted, approved, in flight, failed: something will
  happen, or a draft waits for the user), or
* the user's move, after they were told: the mentor asked, proposed a meeting, wrote
  something unclear or hesitant, the deadline passed, or the ask is paused, waits for
  a new address or for a failed first mail. Entering such a state (except by the
  user's own mark) must come with a notice.

An ask waiting for the mentor (``waiting_reply``) or for nothing at all with nothing
planned is a dead end: nothing would ever move or close it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pytest

from maild.core import events as ev
from maild.core.actions import CreateDraft, CreateTask, Notify
from maild.core.engine import decide
from maild.core.model import (
    ASK_LIFECYCLE,
    ENDED_STATES,
    HOLDING_STATES,
    STEP_LIFECYCLE,
    Ask,
    AskState,
    Intent,
    StepKind,
    StepStatus,
)

from .helpers import MONDAY

YOUR_MOVE = frozenset({AskState.QUESTION, AskState.MEETING, AskState.REPLIED,
                       AskState.WAITING_FOR_YOU,
                       AskState.HESITANT, AskState.MISSED_DEADLINE}) | HOLDING_STATES


def way_forward(ask: Ask) -> bool:
    if ask.state in ENDED_STATES or ask.closed_at is not None:
        return True
    if ask.state in YOUR_MOVE:
        return True
    return any(not s.is_final for s in ask.steps)


def moves(ask: Ask, now: datetime) -> list[tuple[ev.Event, datetime]]:
    """Every event that can happen to ``ask`` next, with when it happens."""
    soon, later = now + timedelta(hours=1), now + timedelta(days=1)
    out: list[tuple[ev.Event, datetime]] = []
    for s in ask.steps:
        if s.status is StepStatus.PLANNED:
            out.append((ev.StepDue(s.name), max(now, s.due_at) + timedelta(minutes=1)))
        elif s.status is StepStatus.DRAFTED:
            out += [(ev.DraftApproved(s.name), soon), (ev.DraftRejected(s.name), soon),
                    # The user sends maild's draft (its Drafts copy) from their mail app.
                    (ev.MessageSent(s.name, message_id=f"<{s.name}@hand>", at=soon), soon)]
        elif s.status is StepStatus.APPROVED:
            out += [(ev.MessageSent(s.name, message_id=f"<{s.name}@maild>", at=soon), soon),
                    (ev.SendFailed(s.name), soon)]
        elif s.status is StepStatus.FAILED:
            out.append((ev.SendRetry(s.name), soon))
        elif s.status is StepStatus.CANCELLED and s.kind is StepKind.EMAIL:
            # Its draft's copy is still in Drafts: the user may send it after all.
            out.append((ev.MessageSent(s.name, message_id=f"<{s.name}@late>", at=soon), soon))
    out += [(ev.HumanReply(intent, at=later), later) for intent in Intent]
    out += [(ev.MessageSent(by_user=True, at=later), later),
            (ev.MessageSent(by_user=True, at=later, new_thread=True), later),
            (ev.AutoReply(at=later), later)]
    if ask.state in HOLDING_STATES:
        out.append((ev.UserMarked(ev.Mark.RESUME), later))
    else:
        out += [(ev.UserMarked(ev.Mark.PAUSE), later), (ev.Bounce(address_invalid=True), later)]
    if ask.playbook == "letter":  # a letter service's notice is matched to letter asks only
        out.append((ev.LetterServiceNotification(), later))
    if ask.playbook == "meeting":
        out.append((ev.MeetingHeld(later), later))
    return out


def signature(ask: Ask) -> Hashable:
    """What makes two asks behave differently from here on (their times aside)."""
    latest = {s.name: s.status for s in ask.steps}  # steps are in the order they came
    return (ask.state, ask.held_from, ask.closed_at is not None,
            tuple(sorted((s.name, s.status) for s in ask.steps if not s.is_final)),
            tuple(sorted(latest.items())), ask.first_contact_at is not None,
            ask.submitted_at is not None)


@dataclass
class Walk:
    asks: int
    dead_ends: dict[Hashable, str]
    silent: dict[Hashable, str]
    refused: dict[Hashable, str]


def refusal(before: Ask, after: Ask) -> str | None:
    """A change the store would refuse (ASK_LIFECYCLE, STEP_LIFECYCLE), if any."""
    if not ASK_LIFECYCLE.allows(before.state, after.state):
        return f"ask {before.state} -> {after.state}"
    old = {id(s): s for s in before.steps}
    for position, step in enumerate(after.steps):
        was = before.steps[position] if position < len(before.steps) else None
        if was is not None and id(was) not in old:
            was = None
        if not STEP_LIFECYCLE.allows(was.status if was else None, step.status):
            return f"step {step.name}: {was.status if was else 'new'} -> {step.status}"
    return None


def walk(playbook: str, depth: int, deadline: date | None = None,
         meeting_at: datetime | None = None) -> Walk:
    start = Ask(id=1, mentor_id=1, playbook=playbook, state=AskState.ACTIVE,
                created_at=MONDAY, timezone="America/New_York", deadline=deadline,
                meeting_at=meeting_at)
    first = decide(start, ev.AskCreated(force=True), MONDAY).ask
    queue = deque([(first, MONDAY, ("AskCreated",))])
    seen: set[Hashable] = set()
    dead: dict[Hashable, str] = {}
    silent: dict[Hashable, str] = {}
    refused: dict[Hashable, str] = {}
    while queue:
        ask, now, path = queue.popleft()
        key = signature(ask)
        if key in seen:
            continue
        seen.add(key)
        if not way_forward(ask):
            dead.setdefault(key, " > ".join(path))
        if len(path) > depth:
            continue
        for event, at in moves(ask, now):
            try:
                decision = decide(ask, event, at)
            except Exception:  # refused (e.g. a mark that does not apply): not a state
                continue
            step = (*path, _describe(event))
            why = refusal(ask, decision.ask)
            if why is not None:
                refused.setdefault(why, " > ".join(step))
            new = decision.ask.state
            # A new draft waiting for the user is news too (they are told of it).
            told = any(isinstance(a, Notify | CreateTask | CreateDraft)
                       for a in decision.actions)
            # Coming back from a hold to the state before it is no news; a mark is the
            # user's own doing.
            if new in YOUR_MOVE and ask.state not in YOUR_MOVE and not told \
                    and not isinstance(event, ev.UserMarked):
                silent.setdefault((ask.state, new, type(event)), " > ".join(step))
            queue.append((decision.ask, at, step))
    return Walk(len(seen), dead, silent, refused)


def _describe(event: ev.Event) -> str:
    shown = [str(v) for v in vars(event).values()
             if v not in (None, False, ()) and not isinstance(v, datetime)]
    return f"{type(event).__name__}({', '.join(shown)})"


CASES = [
    ("cold", 5, {}),
    ("warm", 5, {}),
    ("letter", 4, {"deadline": date(2026, 8, 14)}),
    ("meeting", 6, {"meeting_at": MONDAY + timedelta(days=2)}),
    ("update", 6, {}),
    ("thanks", 6, {}),
]


@pytest.mark.parametrize(("playbook", "depth", "extra"), CASES, ids=[c[0] for c in CASES])
def test_every_reachable_state_has_a_way_forward(playbook: str, depth: int,
                                                 extra: dict[str, object]) -> None:
    result = walk(playbook, depth, **extra)  # type: ignore[arg-type]
    assert result.asks > 20, "the walk did not get anywhere"
    assert not result.dead_ends, "\n".join(
        f"{key[0]} with nothing planned: {path}" for key, path in result.dead_ends.items())
    assert not result.silent, "\n".join(
        f"{old} -> {new} without telling the user: {path}"
        for (old, new, _kind), path in result.silent.items())
    # And the store would accept every change on the way (its lifecycle tables).
    assert not result.refused, "\n".join(f"{why}: {path}"
                                          for why, path in result.refused.items())


def test_a_stranded_ask_is_a_dead_end() -> None:
    # What issue 17 found: the user answered a meeting proposal by hand and the ask
    # waited for a reply with every step final. The criterion must call that a dead end.
    created = decide(Ask(id=1, mentor_id=1, playbook="cold", state=AskState.ACTIVE,
                         created_at=MONDAY, timezone="America/New_York"),
                     ev.AskCreated(), MONDAY).ask
    final = tuple(s.__class__(**{**vars(s), "status": StepStatus.CANCELLED})
                  for s in created.steps)
    stranded = Ask(id=1, mentor_id=1, playbook="cold", state=AskState.WAITING_REPLY,
                   created_at=MONDAY, steps=final)
    assert not way_forward(stranded)
    assert way_forward(Ask(id=1, mentor_id=1, playbook="cold", state=AskState.QUESTION,
                           created_at=MONDAY, steps=final))
