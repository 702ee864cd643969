"""The actions a decision asks the outside world to carry out, and the Decision itself.

The returned ask is the new truth to persist (steps without an id are new rows).
ScheduleStep, CancelSteps (SupersedeSteps) and ChangeState restate what changed in it, for the
scheduler and the timeline; CreateDraft, SendStep, CreateTask, Notify,
SuggestCandidates and StartAsk are work the services must do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from maild.core.model import Ask, AskState, Step


class Level(StrEnum):
    """How loudly to tell the user."""

    INFO = "info"
    WARNING = "warning"
    URGENT = "urgent"


@dataclass(frozen=True)
class ScheduleStep:
    """A step was planned or moved; wake it at ``step.due_at``."""

    step: Step


@dataclass(frozen=True)
class CancelSteps:
    """These steps were called off (their drafts, if any, must be discarded)."""

    names: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class SupersedeSteps(CancelSteps):
    """These steps were done by the user's own message: their drafts are superseded,
    never sent (a CancelSteps, so whatever discards drafts of cancelled steps acts)."""


@dataclass(frozen=True)
class CreateDraft:
    """Render ``template`` into a draft for the step and put it before the user."""

    step: str
    template: str
    in_thread: bool
    send_by: datetime | None = None


@dataclass(frozen=True)
class SendStep:
    """The step's draft is approved: hand it to the sender."""

    step: str


@dataclass(frozen=True)
class CreateTask:
    """Something the user has to do by hand (e.g. call the mentor's office)."""

    step: str
    text: str
    due_at: datetime


@dataclass(frozen=True)
class Notify:
    """Tell the user something."""

    level: Level
    text: str


@dataclass(frozen=True)
class ChangeState:
    """The ask moved from one state to another."""

    old: AskState
    new: AskState
    reason: str


@dataclass(frozen=True)
class SuggestCandidates:
    """Propose further mentors from the hit list.

    ``auto_start`` means the next candidates' initial drafts may be prepared right
    away (within the parallelism setting); otherwise the names are only suggested.
    """

    count: int
    reason: str
    auto_start: bool = False


@dataclass(frozen=True)
class StartAsk:
    """Create a new ask (e.g. an outcome thank-you for a letter writer)."""

    playbook: str
    mentor_id: int
    application_id: int | None = None
    note: str | None = None
    fields: tuple[tuple[str, str], ...] = ()  # user.* fields of its drafts


Action = (
    ScheduleStep
    | CancelSteps
    | SupersedeSteps
    | CreateDraft
    | SendStep
    | CreateTask
    | Notify
    | ChangeState
    | SuggestCandidates
    | StartAsk
)


@dataclass(frozen=True)
class Decision:
    """The outcome of one event: the ask as it is now, and what to do about it."""

    ask: Ask
    actions: tuple[Action, ...] = ()
