"""What a matched message means to the engine: the event it becomes, pure.

``incoming_event`` maps the reading of a message that arrived (``maild.understand``'s
``Inspection``) to a reply, an out-of-office answer, a bounce or a letter notice;
``sent_event`` maps a message found in the user's Sent folder to ``MessageSent``.
``None`` means the message changes nothing (a delay notice, maild's own sent copy).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Protocol

from maild.core import events as ev
from maild.core.matching import OwnDraft
from maild.core.model import OPEN_DRAFT_STATUSES, Intent


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
    """Whether a Sent copy of ``draft`` means the user sent it from their own client."""
    # Not sent by maild, nor about to be: the copy in Sent is the user's own send.
    return draft is not None and draft.status in OPEN_DRAFT_STATUSES


def sent_event(message_id: str | None, at: datetime | None,
               draft: OwnDraft | None) -> ev.Event | None:
    """The event of a message in the Sent folder; ``draft`` is maild's with its Message-ID.

    The user sent maild's draft (its Drafts copy) from their own client: its step is
    done. A copy of a draft maild itself sent was recorded when it went out: nothing.
    """
    if draft is not None:
        if not sent_by_hand(draft):
            return None
        return ev.MessageSent(step=draft.step, by_user=True, message_id=message_id, at=at)
    return ev.MessageSent(by_user=True, message_id=message_id, at=at)
