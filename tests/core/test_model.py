"""The store converters: an Ask and its Steps survive a trip through columns + JSON."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from maild.core.model import Ask, AskState, Intent, Step, StepKind, StepStatus

from .helpers import start


def row_of_step(step: Step) -> dict[str, Any]:
    return dict(name=step.name, kind=step.kind.value, due_at=step.due_at,
                status=step.status.value, template=step.template, in_thread=step.in_thread,
                id=step.id, data=json.loads(json.dumps(step.to_data())))


def row_of_ask(ask: Ask) -> dict[str, Any]:
    return dict(mentor_id=ask.mentor_id, playbook=ask.playbook, state=ask.state.value,
                created_at=ask.created_at, id=ask.id, application_id=ask.application_id,
                account=ask.account, updated_at=ask.updated_at, closed_at=ask.closed_at,
                needs_review=ask.needs_review,
                steps=tuple(Step.from_row(**row_of_step(s)) for s in ask.steps),
                data=json.loads(json.dumps(ask.to_data())))


def test_started_ask_round_trips() -> None:
    ask = start("letter", deadline=date(2026, 9, 30)).ask
    assert Ask.from_row(**row_of_ask(ask)) == ask


MOMENT = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1),
                      timezones=st.just(UTC))


@given(
    state=st.sampled_from(AskState), intent=st.none() | st.sampled_from(Intent),
    held=st.none() | st.sampled_from(AskState), count=st.integers(0, 9),
    times=st.lists(st.none() | MOMENT, min_size=3, max_size=3),
    ids=st.lists(st.text(min_size=1, max_size=8), max_size=3, unique=True),
    status=st.sampled_from(StepStatus), kind=st.sampled_from(StepKind),
    due=MOMENT, flags=st.lists(st.booleans(), min_size=3, max_size=3),
)
def test_any_ask_round_trips(state: AskState, intent: Intent | None, held: AskState | None,
                             count: int, times: list[datetime | None], ids: list[str],
                             status: StepStatus, kind: StepKind, due: datetime,
                             flags: list[bool]) -> None:
    s = Step(name="nudge", kind=kind, due_at=due, status=status, nudge=flags[0],
             followup=flags[1], edited=flags[2], send_by=times[0], reason="why")
    ask = Ask(mentor_id=3, playbook="cold", state=state, created_at=due, steps=(s,),
              last_intent=intent, held_from=held, unanswered_followups=count,
              last_reply_at=times[1], ghost_warned_at=times[2], thread_message_ids=tuple(ids),
              deadline=date(2026, 1, 2), outcome="matched")
    assert Ask.from_row(**row_of_ask(ask)) == ask


def test_unknown_data_keys_are_kept() -> None:
    ask = Ask.from_row(mentor_id=1, playbook="cold", state="active",
                       created_at=datetime(2026, 1, 1, tzinfo=UTC),
                       data={"timezone": "Europe/Paris", "future_field": [1, 2]})
    assert ask.timezone == "Europe/Paris"
    assert ask.to_data()["future_field"] == [1, 2]


def test_the_intent_names_are_the_intents() -> None:
    from typing import get_args

    from maild.core.model import Intent, IntentName

    assert list(get_args(IntentName)) == [i.value for i in Intent]
