"""Mail the user sends from their own mail app (issue 17), against the sandbox servers.

Each test plays one of the problems seen with a real client: the user sends maild's
draft (the copy in Drafts) or writes their own message, their client files it in
Sent, and maild's Sent sync must credit it to the right ask, exactly as if maild had
sent it, without stranding the ask or hijacking its thread.
"""

from __future__ import annotations

import email
from datetime import date, datetime
from email import policy
from zoneinfo import ZoneInfo

from maild.app import lifecycle, review
from maild.app.mirror import DraftsMirror
from maild.sandbox.mail import make_message
from maild.store.drafts import Draft
from maild.store.mentors import add_application
from tests import rawdb
from tests.mail.conftest import MENTOR, World
from tests.mail.test_drafts_folder import folder_messages
from tests.mail.worlds import draft_status, pending_draft

NY = ZoneInfo("America/New_York")


def drafts_of(world: World, ask_id: int) -> list[Draft]:
    return [d for d in world.store.read.drafts.with_status("pending", "approved", "rejected",
                                                             "sent", "superseded", "cancelled")
            if d.ask_id == ask_id]


def mirror_drafts(world: World) -> None:
    """What the daemon does for the user's phone: the waiting drafts, once complete (the
    user filled in what only they can write), are copied to the Drafts folder."""
    for draft in world.store.read.drafts.with_status("pending"):
        missing = review.user_fields_missing(draft)
        if missing:
            review.revise(world.store, world.tracker, draft.id, world.clock(),
                          {name: f"My {name.replace('_', ' ')}, filled in" for name in missing})
    DraftsMirror(world.store, world.config, imap=world.connect, now=world.clock).sync()


def drafts_copy(world: World, draft: Draft) -> bytes:
    """maild's copy of ``draft`` in the Drafts folder, as the user's client recalls it."""
    mirror_drafts(world)
    for copy, _flags in folder_messages(world, "Drafts"):
        if copy["Message-ID"] == draft.spec.message_id:
            return copy.as_bytes()
    raise AssertionError(f"draft {draft.id} has no copy in Drafts")


def sent_row(world: World, message_id: str) -> dict[str, object]:
    row = rawdb.raw(world.store).execute("SELECT ask_id, match_reason FROM messages WHERE "
                                 "message_id = ? AND direction = 'out'", (message_id,)).fetchone()
    assert row is not None, f"{message_id} was not recorded"
    return dict(row)


def due_day(world: World, ask_id: int, step: str) -> date:
    row = rawdb.raw(world.store).execute("SELECT due_at FROM steps WHERE ask_id = ? AND name = ? "
                                 "ORDER BY id DESC", (ask_id, step)).fetchone()
    return datetime.fromisoformat(row[0]).astimezone(NY).date()


def test_1_a_hand_sent_draft_moves_its_own_ask_not_the_newest(world: World) -> None:
    # Two open asks to one mentor: a letter request, then a cold ask.
    app_id = add_application(world.store, "ERAS 2027 Internal Medicine", date(2027, 1, 29), 3,
                             "ERAS", "Example University IM", "Upload to ERAS.", world.clock())
    letter = world.tracker.create_ask(1, "letter", world.clock(), application_id=app_id,
                                      deadline=date(2027, 1, 29)).ask.id or 0
    world.clock.advance(minutes=5)
    cold = world.tracker.create_ask(1, "cold", world.clock(), again=True).ask.id or 0
    world.tracker.run_due(world.clock())
    [request] = [d for d in drafts_of(world, letter) if d.status == "pending"]
    [initial] = [d for d in drafts_of(world, cold) if d.status == "pending"]
    copy = drafts_copy(world, request)
    # The user sends the letter request from their phone; the client files it in Sent.
    world.clock.advance(hours=1)
    world.deliver(copy, folder="Sent")
    assert world.sync("Sent", "sent").applied == 1  # type: ignore[attr-defined]
    # The letter ask moved exactly as if maild had sent its request...
    assert draft_status(world, request.id) == "sent"
    assert world.steps(letter)["request"] == "sent"
    assert world.state(letter) == "waiting_reply"
    row = sent_row(world, request.spec.message_id)
    assert row["ask_id"] == letter
    assert row["match_reason"] == (f"Message-ID of draft {request.id} (pending): sent from "
                                   "your own mail app")
    # ...and the cold ask is untouched, not superseded and not flagged.
    assert world.state(cold) == "active"
    assert world.steps(cold)["initial"] == "drafted"
    assert draft_status(world, initial.id) == "pending"
    flagged = rawdb.raw(world.store).execute("SELECT needs_review FROM asks WHERE id = ?",
                                     (cold,)).fetchone()[0]
    assert flagged == 0
    # maild never sends it again.
    assert world.smtp.messages == []


def test_2_a_rejected_first_email_sent_by_hand_is_applied(world: World) -> None:
    draft_id = pending_draft(world, 1)
    draft = world.store.read.drafts.get(draft_id)
    copy = drafts_copy(world, draft)
    lifecycle.reject(world.store, world.tracker, draft_id, world.clock())
    # Rejecting the first email ends the ask: no nudge chases a mail never sent.
    ask_id = draft.ask_id
    assert world.state(ask_id) == "cancelled"
    assert {world.steps(ask_id)[s] for s in ("nudge", "final_nudge", "stop")} == {"cancelled"}
    # The user sends that draft from their phone after all.
    world.clock.advance(hours=2)
    world.deliver(copy, folder="Sent")
    assert world.sync("Sent", "sent").applied == 1  # type: ignore[attr-defined]
    assert draft_status(world, draft_id) == "sent"
    assert world.state(ask_id) == "waiting_reply"
    assert world.steps(ask_id)["initial"] == "sent"
    assert world.steps(ask_id)["nudge"] == "planned"
    # The nudge is due five days after the real send, and it replies in that thread.
    world.clock.advance(days=7)
    world.tracker.run_due(world.clock())
    [nudge] = world.store.read.drafts.with_status("pending")
    assert nudge.spec.in_reply_to == draft.spec.message_id


def test_2_rejecting_a_first_email_leaves_no_nudge(world: World) -> None:
    draft_id = pending_draft(world, 1)
    lifecycle.reject(world.store, world.tracker, draft_id, world.clock())
    # A week on, the nudge would be due (and drafted, chasing a mail never sent).
    world.clock.advance(days=7)
    world.tracker.run_due(world.clock())
    assert world.store.read.drafts.with_status("pending", "approved") == []


def test_3_a_new_thread_is_contact_not_the_thread_maild_replies_in(world: World) -> None:
    ask_id, first_id = world.cold_ask_sent()  # Tuesday 2026-11-17
    assert due_day(world, ask_id, "nudge") == date(2026, 11, 23)  # Sunday -> Monday
    world.clock.advance(days=2)  # Thursday
    own = make_message(sender=world.account.email, to=f"Dana Rivera <{MENTOR}>",
                       subject="Shadowing in clinic on Friday?",
                       body="Dear Dr. Rivera,\n\nMay I shadow you in clinic?\n\nAlex\n",
                       date=world.clock())
    world.deliver(own, folder="Sent")
    assert world.sync("Sent", "sent").applied == 1  # type: ignore[attr-defined]
    # Contact moves the schedule: the nudge counts from Thursday (five days: Tuesday).
    assert due_day(world, ask_id, "nudge") == date(2026, 11, 24)
    world.clock.advance(days=4)  # Monday: the old due day, nothing yet
    world.tracker.run_due(world.clock())
    assert world.store.read.drafts.with_status("pending") == []
    world.clock.advance(days=1)
    world.tracker.run_due(world.clock())
    [nudge] = world.store.read.drafts.with_status("pending")
    # The nudge replies to the first email, in its thread, not to the user's own.
    assert nudge.spec.in_reply_to == first_id
    assert "Shadowing" not in nudge.spec.subject
    own_id = email.message_from_bytes(own, policy=policy.default)["Message-ID"]
    assert own_id not in nudge.spec.references


def test_4_the_users_answer_to_a_meeting_proposal_plans_the_nudges_again(world: World) -> None:
    ask_id, first_id = world.cold_ask_sent()
    world.clock.advance(days=1)
    proposal = world.mentor_writes("Happy to meet - are you free Thursday at 3pm?",
                                   in_reply_to=first_id)
    world.deliver(proposal)
    world.sync()
    assert world.state(ask_id) == "meeting"
    assert world.steps(ask_id)["nudge"] == "cancelled"
    proposal_id = email.message_from_bytes(proposal, policy=policy.default)["Message-ID"]
    world.clock.advance(hours=3)
    answer = make_message(sender=world.account.email, to=MENTOR, subject="Re: Question",
                          body="Thursday at 3pm works, thank you!", date=world.clock(),
                          in_reply_to=proposal_id, references=[first_id, proposal_id])
    world.deliver(answer, folder="Sent")
    world.sync("Sent", "sent")
    # Waiting for the mentor again, with the ladder running from the user's answer.
    assert world.state(ask_id) == "waiting_reply"
    steps = world.steps(ask_id)
    assert (steps["nudge"], steps["final_nudge"], steps["stop"]) == ("planned",) * 3


def test_5_a_long_thread_is_matched_by_its_last_ten_references(world: World) -> None:
    ask_id, first_id = world.cold_ask_sent()
    thread = [first_id]
    for turn in range(12):
        world.clock.advance(hours=5)
        if turn % 2 == 0:
            raw = world.mentor_writes(f"Point {turn}: thanks, noted.", in_reply_to=thread[-1])
            raw = _with_references(raw, thread)
            world.deliver(raw)
            world.sync()
        else:
            raw = make_message(sender=world.account.email, to=MENTOR, subject="Re: Question",
                               body=f"Answer {turn}.", date=world.clock(),
                               in_reply_to=thread[-1], references=thread)
            world.deliver(raw, folder="Sent")
            world.sync("Sent", "sent")
        thread.append(email.message_from_bytes(raw, policy=policy.default)["Message-ID"])
    # A client that keeps only the last 10 References and drops In-Reply-To, from an
    # address maild does not know: only the thread can tell.
    last = make_message(sender="dana@personal.example.org", to=world.account.email,
                        subject="Re: Question", body="Yes, let's do it.", date=world.clock(),
                        references=thread[-10:])
    world.deliver(last)
    assert world.sync().applied == 1  # type: ignore[attr-defined]
    assert first_id not in thread[-10:]
    row = rawdb.raw(world.store).execute("SELECT ask_id, match_reason FROM messages WHERE "
                                 "from_addr = 'dana@personal.example.org'").fetchone()
    assert row["ask_id"] == ask_id and row["match_reason"].startswith("thread: replies to ")


def _with_references(raw: bytes, ids: list[str]) -> bytes:
    head, _sep, body = raw.partition(b"\r\n\r\n")
    lines = [line for line in head.split(b"\r\n") if not line.lower().startswith(b"references:")]
    # Folded over several lines, as long headers are.
    folded = b"References: " + b"\r\n ".join(i.encode() for i in ids)
    return b"\r\n".join([*lines, folded]) + b"\r\n\r\n" + body
