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


class EventKind(StrEnum):
    """The kinds of rows in the timeline (the store's ``events.type``).

    An engine event is recorded under its class name; everything else maild does or
    learns has a kind of its own. A new kind is added here, nowhere else: the store
    refuses a row of a kind it does not know.
    """

    # The engine's events, as applied to an ask.
    ASK_CREATED = "ask_created"
    STEP_DUE = "StepDue"
    DRAFT_APPROVED = "DraftApproved"
    DRAFT_REJECTED = "DraftRejected"
    DRAFT_EDITED = "DraftEdited"
    SEND_FAILED_EVENT = "SendFailed"
    SEND_RETRY_EVENT = "SendRetry"
    MESSAGE_SENT = "MessageSent"
    HUMAN_REPLY = "HumanReply"
    AUTO_REPLY = "AutoReply"
    BOUNCE = "Bounce"
    LETTER_SERVICE_NOTIFICATION = "LetterServiceNotification"
    MEETING_HELD = "MeetingHeld"
    OUTCOME_RECORDED = "OutcomeRecorded"
    USER_MARKED = "UserMarked"
    DEADLINE_CHANGED = "DeadlineChanged"
    THREAD_CHOSEN = "ThreadChosen"
    # What the engine's actions did.
    DRAFT_CREATED = "draft_created"
    STEPS_CANCELLED = "steps_cancelled"
    TASK = "task"
    NOTICE = "notice"
    STATE_CHANGED = "state_changed"
    SUGGESTION = "suggestion"
    # Mail seen and sent.
    MESSAGE_IN = "message_in"
    MESSAGE_OUT = "message_out"
    MESSAGE_SKIPPED = "message_skipped"
    # The send path and the user's decisions about drafts.
    DRAFT_SNOOZED = "draft_snoozed"
    DRAFT_COMPLETED = "draft_completed"
    DRAFT_MIRRORED = "draft_mirrored"
    DRAFT_UNMIRRORED = "draft_unmirrored"
    DRAFT_NOT_MIRRORED = "draft_not_mirrored"
    SEND_HELD = "send_held"
    SEND_RETRY = "send_retry"
    SEND_RETRIED = "send_retried"
    SEND_FAILED = "send_failed"
    SEND_UNCERTAIN = "send_uncertain"
    UNCERTAIN_RESOLVED = "uncertain_resolved"
    # Telling the user.
    USER_NOTIFIED = "user_notified"
    DIGEST_SENT = "digest_sent"
    REVIEWED = "reviewed"
    # The hit list.
    MENTOR_ADDED = "mentor_added"
    MENTOR_EDITED = "mentor_edited"
    MENTOR_REMOVED = "mentor_removed"
    APPLICATION_ADDED = "application_added"


def kind_of(event: Event) -> EventKind:
    """The timeline kind an engine event is recorded under."""
    if isinstance(event, AskCreated):
        return EventKind.ASK_CREATED
    return EventKind(type(event).__name__)
