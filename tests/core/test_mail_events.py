"""What a matched message becomes for the engine (``maild.core.mail_events``), as tables.

Incoming mail is mapped from its reading (the same ``Inspection`` ``maild inspect``
prints); a message in Sent from how it was matched: a draft of maild's sent by hand
(whatever became of the draft) is that draft's step sent, as if maild had sent it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from maild.core import events as ev
from maild.core.mail_events import incoming_event, sent_event
from maild.core.matching import Match, OwnDraft, Rule
from maild.core.model import Intent
from maild.understand.bounce import BounceInfo
from maild.understand.inspect import Inspection

AT = datetime(2026, 11, 17, 15, 0, tzinfo=UTC)
MID = "<reply@med.example.edu>"


def reading(kind: str, intent: str | None = None, back: date | None = None,
            bounce: BounceInfo | None = None) -> Inspection:
    return Inspection(kind=kind, intent=intent, return_date=back, bounce=bounce,  # type: ignore[arg-type]
                      reply_text="text", new_text="text", evidence=None, kind_evidence="",
                      subject="Re: Question", from_address="drivera@med.example.edu",
                      message_id=MID, in_reply_to=None)


def bounce(*, delayed: bool = False, invalid: bool = True) -> BounceInfo:
    return BounceInfo(recipients=("drivera@med.example.edu",),
                      status="4.4.1" if delayed else "5.1.1", address_invalid=invalid,
                      delayed=delayed, original_message_id="<initial@school>",
                      diagnostic=None, evidence="DSN")


INCOMING: list[tuple[str, Inspection, ev.Event | None]] = [
    ("a yes", reading("human", "agree"), ev.HumanReply(Intent.AGREE, MID, AT)),
    ("a question", reading("human", "question"), ev.HumanReply(Intent.QUESTION, MID, AT)),
    ("no intent read: unclear", reading("human", None), ev.HumanReply(Intent.UNCLEAR, MID, AT)),
    ("out of office with a date", reading("auto_reply", back=date(2026, 12, 1)),
     ev.AutoReply(date(2026, 12, 1), MID, AT)),
    ("out of office, no date", reading("auto_reply"), ev.AutoReply(None, MID, AT)),
    ("letter submitted", reading("notification", "submitted"),
     ev.LetterServiceNotification(submitted=True)),
    ("another notice", reading("notification"), ev.LetterServiceNotification(submitted=False)),
    ("hard bounce", reading("bounce", bounce=bounce()),
     ev.Bounce(True, ("drivera@med.example.edu",), "5.1.1")),
    ("soft bounce", reading("bounce", bounce=bounce(invalid=False)),
     ev.Bounce(False, ("drivera@med.example.edu",), "5.1.1")),
    ("a delay is no failure yet", reading("bounce", bounce=bounce(delayed=True)), None),
    ("a bounce nobody could read is a person's mail, unclear", reading("bounce"),
     ev.HumanReply(Intent.UNCLEAR, MID, AT)),
]


@pytest.mark.parametrize(("case", "seen", "expected"), INCOMING, ids=[r[0] for r in INCOMING])
def test_incoming(case: str, seen: Inspection, expected: ev.Event | None) -> None:
    assert incoming_event(seen, MID, AT) == expected, case


def own(status: str, step: str | None = "initial") -> Match:
    draft = OwnDraft(draft_id=3, ask_id=1, mentor_id=1, status=status, step=step)
    return Match(1, "own draft", 1, rule=Rule.OWN_DRAFT, draft=draft)


BY_ADDRESS = Match(1, "recipient is a mentor with one open ask", 1, rule=Rule.ADDRESS)
BY_THREAD = Match(1, "thread: replies to <i@x>", 1, rule=Rule.THREAD)
SENT: list[tuple[str, Match, ev.Event | None]] = [
    ("the user's own new thread", BY_ADDRESS,
     ev.MessageSent(None, True, MID, AT, new_thread=True)),
    ("the user's own reply in the thread", BY_THREAD, ev.MessageSent(None, True, MID, AT)),
    ("a pending draft sent by hand", own("pending"), ev.MessageSent("initial", False, MID, AT)),
    ("an approved draft sent by hand", own("approved", "nudge"),
     ev.MessageSent("nudge", False, MID, AT)),
    ("a rejected draft sent by hand", own("rejected"), ev.MessageSent("initial", False, MID, AT)),
    ("a cancelled draft sent by hand", own("cancelled", "nudge"),
     ev.MessageSent("nudge", False, MID, AT)),
    ("a superseded draft sent by hand", own("superseded", "nudge"),
     ev.MessageSent("nudge", False, MID, AT)),
    ("a failed draft sent by hand", own("failed"), ev.MessageSent("initial", False, MID, AT)),
    ("an uncertain send, proven by the copy", own("uncertain"),
     ev.MessageSent("initial", False, MID, AT)),
    ("maild's own sent copy", own("sent"), None),
    ("maild's send in flight", own("sending"), None),
]


@pytest.mark.parametrize(("case", "found", "expected"), SENT, ids=[r[0] for r in SENT])
def test_sent(case: str, found: Match, expected: ev.Event | None) -> None:
    assert sent_event(found, MID, AT) == expected, case
