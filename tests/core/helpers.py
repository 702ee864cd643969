"""Builders shared by the core tests: asks started at a given moment, event replays."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from maild.core.actions import Action, Decision
from maild.core.engine import decide
from maild.core.events import AskCreated, Event
from maild.core.model import Ask, AskState, Step
from maild.core.rules import DEFAULT_RULES, Rules

NY = ZoneInfo("America/New_York")
UTC = ZoneInfo("UTC")
# Monday 2026-06-01 10:00 in New York: inside the sending window, far from DST changes.
MONDAY = datetime(2026, 6, 1, 10, 0, tzinfo=NY)


def new_ask(
    playbook: str,
    now: datetime = MONDAY,
    deadline: date | None = None,
    meeting_at: datetime | None = None,
    tz: str = "America/New_York",
) -> Ask:
    return Ask(
        id=1,
        mentor_id=7,
        playbook=playbook,
        state=AskState.ACTIVE,
        created_at=now,
        timezone=tz,
        deadline=deadline,
        meeting_at=meeting_at,
        account="me@uni.edu",
    )


def start(
    playbook: str,
    now: datetime = MONDAY,
    rules: Rules = DEFAULT_RULES,
    force: bool = False,
    **kw: object,
) -> Decision:
    return decide(new_ask(playbook, now, **kw), AskCreated(force=force), now, rules)  # type: ignore[arg-type]


def replay(
    ask: Ask, events: Iterable[tuple[Event, datetime]], rules: Rules = DEFAULT_RULES
) -> Decision:
    decision = Decision(ask)
    for event, at in events:
        decision = decide(decision.ask, event, at, rules)
    return decision


def step(ask: Ask, name: str) -> Step:
    found = ask.latest_step(name)
    assert found is not None, f"no step {name} in {[s.name for s in ask.steps]}"
    return found


def local(value: datetime) -> datetime:
    return value.astimezone(NY)


def days(n: float) -> timedelta:
    return timedelta(days=n)


def kinds(actions: Iterable[Action]) -> list[str]:
    return [type(a).__name__ for a in actions]


def of_type(actions: Iterable[Action], cls: type) -> list[Action]:
    return [a for a in actions if isinstance(a, cls)]
