"""Pure rules about letters: the runway before a deadline, and who to thank afterwards."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from maild.core.actions import StartAsk
from maild.core.model import Ask, AskState
from maild.core.rules import Rules
from maild.core.timing import local_date


class Runway(StrEnum):
    """How a letter deadline compares with the runway the guides want."""

    OK = "ok"
    WARN = "warn"
    REFUSE = "refuse"


def days_left(deadline: date, now: datetime, tz: ZoneInfo) -> int:
    """Calendar days from today (in ``tz``) to the deadline; negative once it passed."""
    return (deadline - local_date(now, tz)).days


def check_runway(
    deadline: date, now: datetime, rules: Rules, tz: ZoneInfo | None = None
) -> Runway:
    """REFUSE under ``refuse_weeks`` (2) before the deadline, WARN under ``warn_weeks`` (6)."""
    letter = rules.playbook("letter")
    left = days_left(deadline, now, tz or ZoneInfo("UTC"))
    if left < letter.param("refuse_weeks") * 7:
        return Runway.REFUSE
    if left < letter.param("warn_weeks") * 7:
        return Runway.WARN
    return Runway.OK


# A writer is someone who committed to the letter, even if it is not in yet.
_NOT_WRITERS = frozenset({AskState.DECLINED, AskState.CANCELLED, AskState.NO_RESPONSE})


def is_letter_writer(ask: Ask) -> bool:
    """Whether this ask's mentor agreed to (or did) write the letter."""
    committed = ask.agreed_at is not None or ask.submitted_at is not None
    return ask.playbook == "letter" and committed and ask.state not in _NOT_WRITERS


def outcome_thanks(
    application_id: int, outcome: str, asks: Iterable[Ask]
) -> tuple[StartAsk, ...]:
    """One "thanks" ask per letter writer of the application, carrying the outcome."""
    mentors: list[int] = []
    for ask in asks:
        mine = ask.application_id == application_id and is_letter_writer(ask)
        if mine and ask.mentor_id not in mentors:
            mentors.append(ask.mentor_id)
    return tuple(
        StartAsk(playbook="thanks", mentor_id=m, application_id=application_id, note=outcome,
                 fields=(("outcome", outcome),))
        for m in mentors
    )
