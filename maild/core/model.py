"""The domain values: mentors, applications, asks and their steps, and their vocabularies.

All values are frozen. An Ask and a Step map onto the store's columns plus a JSON
``data`` dict; ``to_data``/``from_row`` are the pure converters for those extras.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Generic, Literal, TypeVar

from maild.errors import TransitionRefused

S = TypeVar("S", bound=StrEnum)


@dataclass(frozen=True)
class Lifecycle(Generic[S]):
    """The allowed changes of one status vocabulary: how a row may be born, and which
    status may follow which. Keeping a status (a write that changes other columns) is
    always allowed; anything not listed is refused, by the store on every write."""

    noun: str
    births: frozenset[S]
    moves: Mapping[S, frozenset[S]]

    def allows(self, old: S | None, new: S) -> bool:
        if old is None:
            return new in self.births
        return new == old or new in self.moves.get(old, frozenset())

    def check(self, old: S | None, new: S, ident: object) -> None:
        """Raise TransitionRefused unless ``old`` -> ``new`` is allowed."""
        if not self.allows(old, new):
            raise TransitionRefused(self.noun, ident, None if old is None else str(old),
                                    str(new))


class StepKind(StrEnum):
    """What a step does when it comes due."""

    EMAIL = "email"
    TASK = "task"
    STOP = "stop"
    CHECK = "check"


class StepStatus(StrEnum):
    """Where a step is in its life."""

    PLANNED = "planned"
    DRAFTED = "drafted"
    APPROVED = "approved"
    SENDING = "sending"
    SENT = "sent"
    UNCERTAIN = "uncertain"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SUPERSEDED = "superseded"
    DONE = "done"


# Statuses from which a step can still be called off without risking a sent mail: a
# failed or uncertain send is not retried by anyone once its step is called off. A step
# that is ``sending`` is in flight: it is marked ``recalled`` instead (see Step).
CANCELLABLE_STATUSES: frozenset[StepStatus] = frozenset(
    {StepStatus.PLANNED, StepStatus.DRAFTED, StepStatus.APPROVED, StepStatus.FAILED,
     StepStatus.UNCERTAIN}
)
# Statuses after which a step never changes again.
FINAL_STATUSES: frozenset[StepStatus] = frozenset(
    {StepStatus.SENT, StepStatus.CANCELLED, StepStatus.SUPERSEDED, StepStatus.DONE}
)
# A draft exists and waits for the user (or for the sender).
PENDING_DRAFT_STATUSES: frozenset[StepStatus] = frozenset(
    {StepStatus.DRAFTED, StepStatus.APPROVED}
)

_St = StepStatus
# The engine decides every step status except ``sending`` (the sender's claim, only of
# an approved step: invariant 1). A mail goes out only from ``approved`` (or is found
# sent from a state it might have left in); a step called off while in flight is
# recalled and finishes as what its send turns out to be.
# The user may also send a step's draft from their own mail app, whatever became of it:
# found in Sent, the step is sent (a step called off comes back as a new, sent one).
STEP_LIFECYCLE: Lifecycle[StepStatus] = Lifecycle(
    noun="step",
    births=frozenset({_St.PLANNED, _St.DRAFTED, _St.DONE, _St.SENT}),
    moves={
        _St.PLANNED: frozenset({_St.DRAFTED, _St.DONE, _St.CANCELLED, _St.SUPERSEDED,
                                _St.SENT}),
        _St.DRAFTED: frozenset({_St.APPROVED, _St.CANCELLED, _St.SUPERSEDED, _St.SENT}),
        _St.APPROVED: frozenset({_St.SENDING, _St.SENT, _St.FAILED, _St.UNCERTAIN,
                                 _St.DRAFTED, _St.PLANNED, _St.CANCELLED, _St.SUPERSEDED}),
        _St.SENDING: frozenset({_St.SENT, _St.UNCERTAIN, _St.FAILED, _St.APPROVED,
                                _St.PLANNED, _St.CANCELLED}),
        _St.UNCERTAIN: frozenset({_St.SENT, _St.APPROVED, _St.PLANNED, _St.CANCELLED}),
        _St.FAILED: frozenset({_St.APPROVED, _St.PLANNED, _St.CANCELLED, _St.SUPERSEDED,
                               _St.SENT}),
    },
)


class DraftStatus(StrEnum):
    """Where a draft is: waiting for the user, in the send path, or settled.

    The status is the send path's write-ahead log (invariant 2): ``approved`` ->
    ``sending`` is committed before any SMTP traffic, and ``sending`` is resolved after
    a crash only by evidence (the Sent folder) or by the user, never by sending again.
    """

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    SENDING = "sending"
    SENT = "sent"
    UNCERTAIN = "uncertain"
    FAILED = "failed"
    SUPERSEDED = "superseded"
    CANCELLED = "cancelled"


_D = DraftStatus
DRAFT_LIFECYCLE: Lifecycle[DraftStatus] = Lifecycle(
    noun="draft",
    births=frozenset({_D.PENDING}),
    moves={
        # Approved by the user, thrown away, called off by the engine, or sent by the
        # user from their own client (found in Sent).
        _D.PENDING: frozenset({_D.APPROVED, _D.REJECTED, _D.CANCELLED, _D.SUPERSEDED,
                               _D.SENT}),
        # Claimed by the sender; or unsendable, or still withdrawn before the claim.
        _D.APPROVED: frozenset({_D.SENDING, _D.SENT, _D.FAILED, _D.REJECTED, _D.CANCELLED,
                                _D.SUPERSEDED}),
        # The SMTP outcome; a temporary error puts it back (through the engine).
        _D.SENDING: frozenset({_D.SENT, _D.UNCERTAIN, _D.FAILED, _D.APPROVED}),
        # Only the user settles these (``maild draft resolve`` / ``retry``), or sends
        # the draft from their own mail app (found in Sent).
        _D.UNCERTAIN: frozenset({_D.SENT, _D.APPROVED}),
        _D.FAILED: frozenset({_D.APPROVED, _D.SENT}),
        # Thrown away or called off, and yet sent by the user from their own mail app.
        _D.REJECTED: frozenset({_D.SENT}),
        _D.CANCELLED: frozenset({_D.SENT}),
        _D.SUPERSEDED: frozenset({_D.SENT}),
    },
)
# Drafts the user may still approve, reject or snooze; the engine may call them off.
OPEN_DRAFT_STATUSES: frozenset[DraftStatus] = frozenset({_D.PENDING, _D.APPROVED})
# A message may have left (it counts against the rate limit, and replies to it match).
MAYBE_SENT_DRAFT_STATUSES: frozenset[DraftStatus] = frozenset(
    {_D.SENT, _D.SENDING, _D.UNCERTAIN}
)


class AskState(StrEnum):
    """Where an ask stands."""

    ACTIVE = "active"
    # The ask's first email is drafted and waits for the user: nothing went out yet, so
    # its follow-ups wait too and it can never end as "no response".
    WAITING_FOR_YOU = "waiting_for_you"
    WAITING_REPLY = "waiting_reply"
    REPLIED = "replied"
    QUESTION = "question"
    MEETING = "meeting"
    AGREED = "agreed"
    HESITANT = "hesitant"
    DECLINED = "declined"
    NO_RESPONSE = "no_response"
    SUBMITTED = "submitted"
    MISSED_DEADLINE = "missed_deadline"
    PAUSED = "paused"
    NEEDS_ADDRESS = "needs_address"
    SEND_FAILED = "send_failed"
    CLOSED = "closed"
    CANCELLED = "cancelled"


# The ask is over: nothing more will be planned (it closes once its last step is done).
ENDED_STATES: frozenset[AskState] = frozenset(
    {AskState.DECLINED, AskState.NO_RESPONSE, AskState.CLOSED, AskState.CANCELLED}
)
# Email steps are held (not drafted, approved drafts not sent) while the ask is in one of
# these. ``send_failed``: the ask's opening mail failed for good and its follow-ups
# would refer to a mail the mentor never got; ``maild draft retry`` releases it.
HOLDING_STATES: frozenset[AskState] = frozenset(
    {AskState.PAUSED, AskState.NEEDS_ADDRESS, AskState.SEND_FAILED}
)

_A = AskState
# A mentor's answer can come at any time, even after the ask ended (a late yes reopens
# it), and so can the user's own verdict (declined, cancel) and a hard bounce.
_ANSWERED = frozenset({_A.AGREED, _A.HESITANT, _A.DECLINED, _A.QUESTION, _A.MEETING,
                       _A.REPLIED, _A.SUBMITTED, _A.CLOSED, _A.CANCELLED, _A.NEEDS_ADDRESS})
# Still running: it may be paused, fail its first mail, stop unanswered, miss a deadline.
_RUNNING = _ANSWERED | {_A.PAUSED, _A.SEND_FAILED, _A.NO_RESPONSE, _A.MISSED_DEADLINE}
# Held: released back to where it was (the held state is remembered in ``held_from``).
_HELD = _ANSWERED | {_A.ACTIVE, _A.WAITING_FOR_YOU, _A.WAITING_REPLY, _A.MISSED_DEADLINE}
# An ended ask reopened (a late yes, a first email sent after all) is a letter ask again,
# whose deadline may have passed meanwhile: it is checked at once.
_REOPENED = _ANSWERED | {_A.MISSED_DEADLINE}
ASK_LIFECYCLE: Lifecycle[AskState] = Lifecycle(
    noun="ask",
    # An ask whose first mail is due at once is born with that draft made (waiting for
    # the user).
    births=frozenset({_A.ACTIVE, _A.WAITING_FOR_YOU}),
    moves={
        # The first draft is made (it waits for the user), approved, or sent.
        _A.ACTIVE: _RUNNING | {_A.WAITING_FOR_YOU, _A.WAITING_REPLY},
        # Never "no response" while nothing went out.
        _A.WAITING_FOR_YOU: (_RUNNING - {_A.NO_RESPONSE}) | {_A.ACTIVE, _A.WAITING_REPLY},
        _A.WAITING_REPLY: _RUNNING,
        # A message of ours moves a conversation on (to the playbook's ``sent_state``).
        _A.REPLIED: _RUNNING | {_A.WAITING_REPLY, _A.ACTIVE},
        _A.QUESTION: _RUNNING | {_A.WAITING_REPLY, _A.ACTIVE},
        _A.MEETING: _RUNNING | {_A.WAITING_REPLY, _A.ACTIVE},
        _A.AGREED: _RUNNING,
        _A.HESITANT: _RUNNING,
        _A.SUBMITTED: _RUNNING,
        # A moved deadline brings it back.
        _A.MISSED_DEADLINE: _RUNNING | {_A.WAITING_REPLY},
        _A.PAUSED: _HELD,
        _A.NEEDS_ADDRESS: _HELD | {_A.NO_RESPONSE},
        _A.SEND_FAILED: _HELD,
        _A.DECLINED: _REOPENED,
        _A.NO_RESPONSE: _REOPENED,
        _A.CLOSED: _REOPENED,
        # Cancelled because its first email was rejected, which the user then sent from
        # their own mail app after all: it goes on as if maild had sent it.
        _A.CANCELLED: _REOPENED | {_A.WAITING_REPLY, _A.ACTIVE},
    },
)


class Intent(StrEnum):
    """What a human reply means (the names of ``maild inspect``'s ``intent``)."""

    AGREE = "agree"
    HESITANT = "hesitant"
    DECLINE = "decline"
    QUESTION = "question"
    MEETING = "meeting"
    SUBMITTED = "submitted"
    UNCLEAR = "unclear"


# The same names as plain text, for code that reads them out of mail (``understand/``)
# and prints them (``maild inspect --json``); tests/core/test_model.py keeps the two
# in step. The engine takes ``Intent(name)``.
IntentName = Literal["agree", "hesitant", "decline", "question", "meeting", "submitted",
                     "unclear"]


@dataclass(frozen=True)
class Mentor:
    """A person on the hit list, with every address known for them."""

    id: int
    name: str
    addresses: tuple[str, ...]
    timezone: str = "UTC"
    rank: int | None = None
    institution: str | None = None
    department: str | None = None
    specialty: str | None = None
    last_publication: date | None = None
    grant_status: str | None = None
    connection_point: str | None = None
    outreach_status: str | None = None
    excluded: bool = False


@dataclass(frozen=True)
class Application:
    """An application needing letters, e.g. "ERAS 2027 Internal Medicine"."""

    id: int
    name: str
    deadline: date | None = None
    letters_required: int = 0
    system: str | None = None


@dataclass(frozen=True)
class Step:
    """One planned action of an ask.

    ``nudge`` steps are called off by any human reply; ``followup`` steps count as an
    unanswered follow-up once sent. Steps the engine creates have no ``id`` yet; within
    an ask at most one not-final step carries a given ``name``.

    ``approved_at`` is when the user last approved the step's draft (a reply after it
    makes a nudge or reminder stale); ``recalled`` is the reason the step was called off
    while its mail was being sent: if that send comes back unsent, it is not retried.
    """

    name: str
    kind: StepKind
    due_at: datetime
    template: str | None = None
    status: StepStatus = StepStatus.PLANNED
    in_thread: bool = False
    id: int | None = None
    nudge: bool = False
    followup: bool = False
    send_by: datetime | None = None
    sent_at: datetime | None = None
    note: str | None = None
    reason: str | None = None
    edited: bool = False
    approved_at: datetime | None = None
    recalled: str | None = None

    @property
    def is_final(self) -> bool:
        """Whether the step will never change again."""
        return self.status in FINAL_STATUSES

    @property
    def is_cancellable(self) -> bool:
        """Whether the step can still be called off safely."""
        return self.status in CANCELLABLE_STATUSES

    def to_data(self) -> dict[str, Any]:
        """The extras that live in the store's ``steps.data`` JSON column."""
        data: dict[str, Any] = {"nudge": self.nudge, "followup": self.followup}
        _put_time(data, "send_by", self.send_by)
        _put_time(data, "sent_at", self.sent_at)
        _put_time(data, "approved_at", self.approved_at)
        if self.recalled is not None:
            data["recalled"] = self.recalled
        if self.note is not None:
            data["note"] = self.note
        if self.reason is not None:
            data["reason"] = self.reason
        if self.edited:
            data["edited"] = True
        return data

    @classmethod
    def from_row(
        cls,
        *,
        name: str,
        kind: str,
        due_at: datetime,
        status: str,
        template: str | None = None,
        in_thread: bool = False,
        id: int | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> Step:
        """Rebuild a step from the store's columns and its ``data`` dict."""
        extra = data or {}
        return cls(
            name=name,
            kind=StepKind(kind),
            due_at=due_at,
            template=template,
            status=StepStatus(status),
            in_thread=bool(in_thread),
            id=id,
            nudge=bool(extra.get("nudge", False)),
            followup=bool(extra.get("followup", False)),
            send_by=_get_time(extra, "send_by"),
            sent_at=_get_time(extra, "sent_at"),
            approved_at=_get_time(extra, "approved_at"),
            recalled=extra.get("recalled"),
            note=extra.get("note"),
            reason=extra.get("reason"),
            edited=bool(extra.get("edited", False)),
        )


@dataclass(frozen=True)
class Ask:
    """One request to one mentor following one playbook, with its steps.

    ``timezone`` is the mentor's (copied at creation so the engine needs no lookup);
    ``deadline`` is the letter deadline for letter asks; ``held_from`` remembers the
    state to return to after a pause or a bounce.
    """

    mentor_id: int
    playbook: str
    state: AskState
    created_at: datetime
    id: int | None = None
    application_id: int | None = None
    account: str | None = None
    updated_at: datetime | None = None
    closed_at: datetime | None = None
    needs_review: bool = False
    steps: tuple[Step, ...] = ()
    timezone: str = "UTC"
    deadline: date | None = None
    meeting_at: datetime | None = None
    forced: bool = False
    thread_message_ids: tuple[str, ...] = ()
    unanswered_followups: int = 0
    first_contact_at: datetime | None = None
    last_contact_at: datetime | None = None
    last_reply_at: datetime | None = None
    last_intent: Intent | None = None
    last_auto_reply_at: datetime | None = None
    return_date: date | None = None
    held_from: AskState | None = None
    bounced_step: str | None = None
    agreed_at: datetime | None = None
    submitted_at: datetime | None = None
    outcome: str | None = None
    ghost_warned_at: datetime | None = None
    note: str | None = None
    # Text the user gave for the ask's drafts (``user.*`` template fields, e.g. the
    # outcome of ``maild application outcome`` or ``maild ask cold --field``).
    fields: tuple[tuple[str, str], ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def open_step(self, name: str) -> Step | None:
        """The not-final step called ``name``, if any."""
        for step in self.steps:
            if step.name == name and not step.is_final:
                return step
        return None

    def latest_step(self, name: str) -> Step | None:
        """The last step called ``name`` in any status, if any."""
        found: Step | None = None
        for step in self.steps:
            if step.name == name:
                found = step
        return found

    def with_step(self, old: Step, new: Step) -> Ask:
        """This ask with ``old`` (matched by identity) replaced by ``new``."""
        return replace(self, steps=tuple(new if s is old else s for s in self.steps))

    def to_data(self) -> dict[str, Any]:
        """The extras that live in the store's ``asks.data`` JSON column."""
        data: dict[str, Any] = dict(self.extra)
        data["timezone"] = self.timezone
        data["unanswered_followups"] = self.unanswered_followups
        if self.deadline is not None:
            data["deadline"] = self.deadline.isoformat()
        if self.return_date is not None:
            data["return_date"] = self.return_date.isoformat()
        if self.forced:
            data["forced"] = True
        if self.thread_message_ids:
            data["thread_message_ids"] = list(self.thread_message_ids)
        for key in _TIME_FIELDS:
            _put_time(data, key, getattr(self, key))
        for key in ("last_intent", "held_from", "bounced_step", "outcome", "note"):
            value = getattr(self, key)
            if value is not None:
                data[key] = str(value)
        if self.fields:
            data["fields"] = dict(self.fields)
        return data

    @classmethod
    def from_row(
        cls,
        *,
        mentor_id: int,
        playbook: str,
        state: str,
        created_at: datetime,
        id: int | None = None,
        application_id: int | None = None,
        account: str | None = None,
        updated_at: datetime | None = None,
        closed_at: datetime | None = None,
        needs_review: bool = False,
        steps: tuple[Step, ...] = (),
        data: Mapping[str, Any] | None = None,
    ) -> Ask:
        """Rebuild an ask from the store's columns, its steps and its ``data`` dict.

        Keys this version does not know are kept in ``extra`` and written back as-is.
        """
        extra = dict(data or {})
        known = {k: extra.pop(k) for k in list(extra) if k in _DATA_KEYS}
        return cls(
            mentor_id=mentor_id,
            playbook=playbook,
            state=AskState(state),
            created_at=created_at,
            id=id,
            application_id=application_id,
            account=account,
            updated_at=updated_at,
            closed_at=closed_at,
            needs_review=bool(needs_review),
            steps=steps,
            timezone=str(known.get("timezone", "UTC")),
            deadline=_get_date(known, "deadline"),
            return_date=_get_date(known, "return_date"),
            forced=bool(known.get("forced", False)),
            thread_message_ids=tuple(known.get("thread_message_ids", ())),
            unanswered_followups=int(known.get("unanswered_followups", 0)),
            last_intent=Intent(known["last_intent"]) if "last_intent" in known else None,
            held_from=AskState(known["held_from"]) if "held_from" in known else None,
            bounced_step=known.get("bounced_step"),
            outcome=known.get("outcome"),
            note=known.get("note"),
            fields=tuple((str(k), str(v)) for k, v in dict(known.get("fields") or {}).items()),
            extra=extra,
            **{key: _get_time(known, key) for key in _TIME_FIELDS},
        )


_TIME_FIELDS: tuple[str, ...] = (
    "meeting_at",
    "first_contact_at",
    "last_contact_at",
    "last_reply_at",
    "last_auto_reply_at",
    "agreed_at",
    "submitted_at",
    "ghost_warned_at",
)
_DATA_KEYS: frozenset[str] = frozenset(
    {
        "timezone",
        "unanswered_followups",
        "deadline",
        "return_date",
        "forced",
        "thread_message_ids",
        "last_intent",
        "held_from",
        "bounced_step",
        "outcome",
        "note",
        "fields",
        *_TIME_FIELDS,
    }
)


def _put_time(data: dict[str, Any], key: str, value: datetime | None) -> None:
    if value is not None:
        data[key] = value.isoformat()


def _get_time(data: Mapping[str, Any], key: str) -> datetime | None:
    raw = data.get(key)
    return datetime.fromisoformat(raw) if raw else None


def _get_date(data: Mapping[str, Any], key: str) -> date | None:
    raw = data.get(key)
    return date.fromisoformat(raw) if raw else None
