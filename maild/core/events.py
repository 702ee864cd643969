"""The events the engine reacts to: everything that can happen to an ask.

Steps are named, not numbered: an event about a step carries the step's name, and the
engine applies it to the ask's not-final step of that name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from maild.core.model import Intent


class Mark(StrEnum):
    """What the user can mark an ask as by hand (``maild ask mark``)."""

    AGREED = "agreed"
    SUBMITTED = "submitted"
    DECLINED = "declined"
    CANCEL = "cancel"
    PAUSE = "pause"
    RESUME = "resume"


@dataclass(frozen=True)
class AskCreated:
    """The ask was just created: plan its steps. ``force`` overrides a short runway."""

    force: bool = False


@dataclass(frozen=True)
class StepDue:
    """The scheduler woke a step whose due time has come."""

    step: str


@dataclass(frozen=True)
class DraftApproved:
    """The user approved the draft of a step."""

    step: str


@dataclass(frozen=True)
class DraftRejected:
    """The user threw away the draft of a step."""

    step: str


@dataclass(frozen=True)
class DraftEdited:
    """The user changed the draft of a step (an approved draft needs approving again)."""

    step: str


@dataclass(frozen=True)
class SendFailed:
    """Sending a step's mail failed; ``uncertain`` when it may have gone out anyway."""

    step: str
    uncertain: bool = False
    detail: str | None = None


@dataclass(frozen=True)
class SendRetry:
    """A step's mail did not go out and is put back to be sent again.

    Every way back to ``approved`` goes through this event: a temporary SMTP error (the
    step was ``sending``), the user's ``maild draft resolve --not-sent`` (``uncertain``)
    or ``maild draft retry`` (``failed``), and the sender's last look before claiming
    (``approved``). The engine applies what happened meanwhile: the step is approved
    again, cancelled (a reply, the ask ended) or put back before the user.
    """

    step: str
    why: str | None = None


@dataclass(frozen=True)
class MessageSent:
    """A message to the mentor left the mailbox.

    ``by_user`` is true when the user wrote it in their own mail client; ``step`` is the
    step it belongs to when known (always for maild's own sends, and for maild's draft
    the user sent from their mail app, which counts as maild's send of that step even
    if the step had been called off). ``new_thread``: the user's message started a
    thread of its own; it is contact, but not the thread maild replies in.
    """

    step: str | None = None
    by_user: bool = False
    message_id: str | None = None
    at: datetime | None = None
    new_thread: bool = False


@dataclass(frozen=True)
class HumanReply:
    """The mentor (or their assistant) answered; ``meeting_at`` when a time was proposed."""

    intent: Intent
    message_id: str | None = None
    at: datetime | None = None
    meeting_at: datetime | None = None


@dataclass(frozen=True)
class AutoReply:
    """An out-of-office answer, with the stated return date when there is one."""

    return_date: date | None = None
    message_id: str | None = None
    at: datetime | None = None


@dataclass(frozen=True)
class Bounce:
    """A delivery failure; ``address_invalid`` for a hard bounce (e.g. 5.1.1)."""

    address_invalid: bool
    recipients: tuple[str, ...] = ()
    status: str | None = None


@dataclass(frozen=True)
class LetterServiceNotification:
    """A notification of a letter service (ERAS, Interfolio...) about this letter."""

    submitted: bool = True
    service: str | None = None


@dataclass(frozen=True)
class MeetingHeld:
    """The meeting with the mentor took place at ``at``."""

    at: datetime


@dataclass(frozen=True)
class OutcomeRecorded:
    """The application this ask belongs to has an outcome (interview, match...)."""

    outcome: str


@dataclass(frozen=True)
class UserMarked:
    """The user marked the ask by hand."""

    mark: Mark


@dataclass(frozen=True)
class DeadlineChanged:
    """The letter deadline moved."""

    deadline: date


@dataclass(frozen=True)
class ThreadChosen:
    """The user chose the thread maild replies in from now on (``maild ask thread``)."""

    message_id: str


Event = (
    AskCreated
    | StepDue
    | DraftApproved
    | DraftRejected
    | DraftEdited
    | SendFailed
    | SendRetry
    | MessageSent
    | HumanReply
    | AutoReply
    | Bounce
    | LetterServiceNotification
    | MeetingHeld
    | OutcomeRecorded
    | UserMarked
    | DeadlineChanged
    | ThreadChosen
)
