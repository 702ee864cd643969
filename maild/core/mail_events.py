"""What a matched message means to the engine: the event it becomes, pure.

``incoming_event`` maps the reading of a message that arrived (``maild.understand``'s
``Inspection``) to a reply, an out-of-office answer, a bounce or a letter notice;
``sent_event`` maps a message found in the user's Sent folder to ``MessageSent``: of
the step whose draft it is, when the user sent a draft of maild's by hand.
``None`` means the message changes nothing (a delay notice, maild's own sent copy).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Protocol

from maild.core import events as ev
from maild.core.matching import Match, OwnDraft, Rule
from maild.core.model import DraftStatus, Intent

# A draft in one of these went out through maild (or is going out now): a copy of it in
# Sent is maild's own, recorded when it was sent.
SENT_BY_MAILD = frozenset({DraftStatus.SENT, DraftStatus.SENDING})


class BounceReading(Protocol):
    """What a delivery-failure notice says (``maild.understand.bounce.BounceInfo``)."""

    @property
    def delayed(self) -> bool: ...

    @property
    def address_invalid(self) -> bool: ...

    @property
    def recipients(self) -> Sequence[str]: ...

    @property
    def status(self) -> str | None: ...


class Reading(Protocol):
    """The understanding of a message (``maild.understand.inspect.Inspection``)."""

    @property
    def kind(self) -> str: ...

    @property
    def intent(self) -> str | None: ...

    @property
    def return_date(self) -> date | None: ...

    @property
    def bounce(self) -> BounceReading | None: ...


def incoming_event(reading: Reading, message_id: str | None,
                   at: datetime | None) -> ev.Event | None:
    """The event of a message that arrived, from what it was read to say."""
    if reading.kind == "bounce" and reading.bounce is not None:
        b = reading.bounce
        if b.delayed:
            return None  # a delay notice is not a failure; wait for the verdict
        return ev.Bounce(address_invalid=b.address_invalid, recipients=tuple(b.recipients),
                         status=b.status)
    if reading.kind == "auto_reply":
        return ev.AutoReply(return_date=reading.return_date, message_id=message_id, at=at)
    if reading.kind == "notification":
        return ev.LetterServiceNotification(submitted=reading.intent == "submitted")
    return ev.HumanReply(intent=Intent(reading.intent or "unclear"), message_id=message_id,
                         at=at)


def sent_by_hand(draft: OwnDraft | None) -> bool:
    """Whether a copy of ``draft`` in Sent means the user sent it from their own mail
    app: maild did not, whatever became of the draft (pending, approved, rejected,
    cancelled, superseded, failed, or an uncertain send the copy now proves)."""
    return draft is not None and draft.status not in SENT_BY_MAILD


def sent_event(found: Match, message_id: str | None, at: datetime | None) -> ev.Event | None:
    """The event of a message in the Sent folder, matched as ``found``.

    maild's draft sent by hand counts as maild's send of its step (``MessageSent`` of
    that step, as if maild had sent it); maild's own copy changes nothing; anything
    else is the user's own message, which starts a thread of its own unless it replies
    in a known one.
    """
    if found.draft is not None:
        if not sent_by_hand(found.draft):
            return None
        return ev.MessageSent(step=found.draft.step, message_id=message_id, at=at)
    return ev.MessageSent(by_user=True, message_id=message_id, at=at,
                          new_thread=found.rule is Rule.ADDRESS)
