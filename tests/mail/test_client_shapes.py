"""What real mail clients put in Sent, matched against the sandbox (issue 17).

The corpus in tests/data/clients holds, for eight clients, the user's reply in a thread
and a recalled draft of maild's as each client writes them (folded or truncated
References, ids without spaces, Message-ID formats, drafts re-saved with a new
Message-ID). Each is filed in the sandbox's Sent folder and must be credited to the
right one of two open asks to the same mentor. Two more tests play a copy arriving
both in Sent and in INBOX, and the Sent copy arriving after the mentor's answer to it.
"""

from __future__ import annotations

import email
from datetime import date
from email import policy
from email.utils import format_datetime
from pathlib import Path
from string import Template

import pytest

from maild.sandbox.mail import make_message
from maild.store.mentors import add_application
from tests import rawdb
from tests.mail.conftest import MENTOR, World
from tests.mail.test_own_client import mirror_drafts
from tests.mail.worlds import draft_status

DATA = Path(__file__).parent.parent / "data" / "clients"
CLIENTS = ("gmail-web", "outlook-desktop", "outlook-web", "apple-mail", "iphone",
           "thunderbird", "neomutt", "k9")
KEEPS_MESSAGE_ID = frozenset({"neomutt", "thunderbird"})


def fill(world: World, name: str, **values: str) -> bytes:
    text = (DATA / f"{name}.eml").read_text(encoding="utf-8")
    filled = Template(text).substitute(ME=world.account.email, MENTOR=MENTOR,
                                       DATE=format_datetime(world.clock()), **values)
    return filled.replace("\r\n", "\n").replace("\n", "\r\n").encode()


def message_id(raw: bytes) -> str:
    parsed = email.message_from_bytes(raw, policy=policy.default)
    return str(parsed["Message-ID"]).strip()


def out_row(world: World, mid: str) -> dict[str, object]:
    row = rawdb.raw(world.store).execute("SELECT ask_id, match_reason FROM messages WHERE "
                                 "message_id = ? AND direction = 'out'", (mid,)).fetchone()
    assert row is not None, f"{mid} was not matched"
    return dict(row)


def test_the_corpus_has_both_shapes_of_every_client() -> None:
    found = {p.stem for p in DATA.glob("*.eml")}
    assert found == {f"{c}-{kind}" for c in CLIENTS for kind in ("reply", "draft")}


def meeting_proposed(world: World) -> tuple[int, str, str, str]:
    """A cold ask whose mentor proposed a meeting, beside a second open ask to them.

    (ask id, first Message-ID, the proposal's Message-ID, the thread's subject)."""
    ask_id, first_id = world.cold_ask_sent()
    # With a second open ask, the mentor's address alone cannot tell which ask.
    world.tracker.create_ask(1, "update", world.clock(), again=True)
    world.clock.advance(days=1)
    proposal = world.mentor_writes("Happy to meet - are you free Thursday at 3pm?",
                                   in_reply_to=first_id)
    world.deliver(proposal)
    world.sync()
    assert world.state(ask_id) == "meeting"
    [first] = [d for d in world.store.read.drafts.with_status("sent") if d.ask_id == ask_id]
    return ask_id, first_id, message_id(proposal), first.spec.subject


@pytest.mark.parametrize("client", CLIENTS)
def test_a_reply_by_hand_is_matched_by_its_thread(world: World, client: str) -> None:
    ask_id, first_id, proposal_id, subject = meeting_proposed(world)
    world.clock.advance(hours=2)
    raw = fill(world, f"{client}-reply", SUBJECT=subject, FIRST=first_id.strip("<>"),
               REPLY=proposal_id.strip("<>"))
    world.deliver(raw, folder="Sent")
    assert world.sync("Sent", "sent").applied == 1  # type: ignore[attr-defined]
    row = out_row(world, message_id(raw))
    assert row["ask_id"] == ask_id
    assert str(row["match_reason"]).startswith("thread: replies to ")
    # The user answered the meeting proposal: waiting for the mentor, nudges again.
    assert world.state(ask_id) == "waiting_reply"
    assert world.steps(ask_id)["nudge"] == "planned"


def two_asks_with_drafts(world: World) -> tuple[int, int]:
    """A letter ask, then a cold ask, to one mentor, both with their first draft waiting."""
    app_id = add_application(world.store, "ERAS 2027 Internal Medicine", None, 3, "ERAS",
                             "Example University IM", "Upload to ERAS.", world.clock())
    letter = world.tracker.create_ask(1, "letter", world.clock(), application_id=app_id,
                                      deadline=date(2027, 1, 29)).ask.id or 0
    world.clock.advance(minutes=5)
    cold = world.tracker.create_ask(1, "cold", world.clock(), again=True).ask.id or 0
    world.tracker.run_due(world.clock())
    mirror_drafts(world)
    return letter, cold


@pytest.mark.parametrize("client", CLIENTS)
def test_a_recalled_draft_is_credited_to_its_own_ask(world: World, client: str) -> None:
    letter, cold = two_asks_with_drafts(world)
    pending = world.store.read.drafts.with_status("pending")
    [request] = [d for d in pending if d.ask_id == letter]
    [initial] = [d for d in pending if d.ask_id == cold]
    world.clock.advance(hours=3)
    raw = fill(world, f"{client}-draft", DRAFT_ID=request.spec.message_id.strip("<>"),
               DRAFT_SUBJECT=request.spec.subject, DRAFT_BODY=request.spec.body)
    world.deliver(raw, folder="Sent")
    assert world.sync("Sent", "sent").applied == 1  # type: ignore[attr-defined]
    row = out_row(world, message_id(raw))
    assert row["ask_id"] == letter
    if client in KEEPS_MESSAGE_ID:
        assert str(row["match_reason"]).startswith(f"Message-ID of draft {request.id} ")
    else:
        assert message_id(raw) != request.spec.message_id
        assert str(row["match_reason"]).startswith(
            f"subject and recipient of draft {request.id} ")
    assert draft_status(world, request.id) == "sent"
    assert world.steps(letter)["request"] == "sent"
    assert world.state(letter) == "waiting_reply"
    # The other ask is untouched.
    assert draft_status(world, initial.id) == "pending"
    assert world.state(cold) == "active"


@pytest.mark.parametrize("inbox_first", [True, False], ids=["INBOX first", "Sent first"])
def test_a_copy_in_sent_and_in_inbox_is_applied_once(world: World, inbox_first: bool) -> None:
    ask_id, first_id, proposal_id, subject = meeting_proposed(world)
    world.clock.advance(hours=2)
    raw = fill(world, "neomutt-reply", SUBJECT=subject, FIRST=first_id.strip("<>"),
               REPLY=proposal_id.strip("<>"))
    # The user copied themselves (Cc or Bcc): the same message lands in INBOX too.
    folders = [("INBOX", "inbox"), ("Sent", "sent")]
    for folder, _role in folders:
        world.deliver(raw, folder=folder)
    for folder, role in (folders if inbox_first else folders[::-1]):
        world.sync(folder, role)
    rows = rawdb.raw(world.store).execute("SELECT direction FROM messages WHERE message_id = ?",
                                  (message_id(raw),)).fetchall()
    assert [r[0] for r in rows] == ["out"]
    sent_events = rawdb.raw(world.store).execute(
        "SELECT count(*) FROM events WHERE type = 'MessageSent' AND ask_id = ?",
        (ask_id,)).fetchone()[0]
    assert sent_events == 2  # maild's first email, and this one
    assert world.state(ask_id) == "waiting_reply"


@pytest.mark.parametrize("sent_first", [True, False], ids=["Sent first", "answer first"])
def test_a_late_sent_copy_does_not_undo_the_mentors_answer(world: World,
                                                           sent_first: bool) -> None:
    ask_id, first_id, proposal_id, subject = meeting_proposed(world)
    world.clock.advance(hours=2)
    answer = fill(world, "thunderbird-reply", SUBJECT=subject, FIRST=first_id.strip("<>"),
                  REPLY=proposal_id.strip("<>"))
    world.clock.advance(hours=2)
    # The mentor answers the user's message with a question (their client quotes the
    # whole thread)...
    question = make_message(sender=MENTOR, to=world.account.email, subject=f"Re: {subject}",
                            body="Before we meet: which project interests you most?",
                            date=world.clock(), in_reply_to=message_id(answer),
                            references=[first_id, proposal_id, message_id(answer)])
    world.deliver(answer, folder="Sent")
    world.deliver(question)
    # ...and maild sees the Sent copy before, or only after, that question.
    order = [("Sent", "sent"), ("INBOX", "inbox")]
    for folder, role in (order if sent_first else order[::-1]):
        world.sync(folder, role)
    # Either way the question is the news: the user's move, no nudge planned.
    assert world.state(ask_id) == "question"
    assert world.steps(ask_id)["nudge"] == "cancelled"
