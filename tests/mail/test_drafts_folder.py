"""Drafts mirrored to the account's Drafts folder (for reading on a phone), and a draft
the user sends from their own client instead: recognised in Sent, superseded, and never
sent by maild.
"""

from __future__ import annotations

import email
from email import policy

import pytest

from tests.mail.conftest import MENTOR, World
from tests.mail.worlds import draft_status, pending_draft, send, step_status
from tests.rawdb import raw

# Both IMAP implementations: what maild relies on must hold on each.
pytestmark = pytest.mark.both_imap_servers


def folder_messages(world: World, folder: str) -> list[tuple[email.message.EmailMessage,
                                                              tuple[bytes, ...]]]:
    with world.connect() as conn:
        conn.select(folder)
        uids = conn.search(["ALL"])
        flags = conn.flags(uids) if uids else {}
        out = []
        for uid in uids:
            raw = conn.body(uid)
            assert raw is not None
            parsed = email.message_from_bytes(raw, policy=policy.default)
            assert isinstance(parsed, email.message.EmailMessage)
            out.append((parsed, flags[uid]))
        return out


def test_new_draft_is_appended_to_drafts_once(world: World) -> None:
    draft_id = pending_draft(world, 1)
    draft = world.store.read.drafts.get(draft_id)
    assert world.sender().mirror_drafts() == 1
    [(copy, flags)] = folder_messages(world, "Drafts")
    assert b"\\Draft" in flags
    assert copy["Message-ID"] == draft.spec.message_id
    assert copy["To"] == f"Dana Rivera <{MENTOR}>"
    assert copy["Subject"] == draft.spec.subject
    assert "[[paper_question]]" in copy.get_body().get_content()  # what the user must fill in
    # Nothing new: no connection, no second copy.
    assert world.sender().mirror_drafts() == 0
    assert len(folder_messages(world, "Drafts")) == 1
    # Nothing was sent, and INBOX and Sent are untouched (invariant 7).
    assert world.smtp.messages == []
    assert folder_messages(world, "Sent") == []


def test_a_copy_left_by_a_crash_is_not_appended_twice(world: World) -> None:
    draft_id = pending_draft(world, 1)
    draft = world.store.read.drafts.get(draft_id)
    # A crash after the APPEND but before maild recorded it: the copy is there already.
    with world.connect() as conn:
        conn.append("Drafts", world.sender().raw_message(draft, draft.created_at),
                    flags=(b"\\Draft",))
    assert world.sender().mirror_drafts() == 0
    assert len(folder_messages(world, "Drafts")) == 1


def test_draft_sent_by_the_user_from_drafts_is_not_resent(world: World) -> None:
    draft_id = pending_draft(world, 1)
    world.sender().mirror_drafts()
    [(copy, _flags)] = folder_messages(world, "Drafts")
    # The user opens the copy on their phone and sends it; their client files it in Sent
    # with the same Message-ID.
    world.deliver(copy.as_bytes(), folder="Sent")
    # Later they also approve it in maild (or it was auto-approved): maild must not send.
    world.approve(draft_id, paper_question="How did you handle missing data?")
    assert send(world, draft_id) == "cancelled"
    assert world.smtp.messages == []
    # It did go out, from the user's client: the draft is sent, and the engine counts the
    # step as superseded by the user's own message.
    assert draft_status(world, draft_id) == "sent"
    assert step_status(world, draft_id) == "superseded"


def test_users_own_reply_in_the_thread_supersedes_an_approved_nudge(world: World) -> None:
    _ask, first_id = world.cold_ask_sent()
    world.clock.advance(days=6)
    world.tracker.run_due(world.clock())
    [nudge] = world.store.read.drafts.with_status("pending")
    world.sender().mirror_drafts()
    world.approve(nudge.id)
    # Before maild's send loop gets to it, the user answers in the thread from their
    # phone (a new Message-ID). Nobody synced Sent since: the send path must look.
    own = world.mentor_writes("Just following up on my note below.", sender=world.account.email,
                              subject="Re: Question", in_reply_to=first_id)
    own = own.replace(b"To: alex@school.example.edu", b"To: " + MENTOR.encode())
    world.deliver(own, folder="Sent")
    assert send(world, nudge.id) == "cancelled"
    assert len(world.smtp.messages) == 1  # only the initial email
    assert draft_status(world, nudge.id) == "superseded"
    assert step_status(world, nudge.id) == "superseded"


def test_unrenderable_draft_is_not_mirrored(world: World) -> None:
    with world.store.transaction():
        raw(world.store).execute("UPDATE mentors SET connection_point = '' WHERE id = 1")
    draft_id = pending_draft(world, 1)
    missing = world.store.read.drafts.get(draft_id).spec.missing_fields
    assert any(m.startswith("template:") for m in missing), missing
    assert world.sender().mirror_drafts() == 0
    assert folder_messages(world, "Drafts") == []
    assert world.sender().mirror_drafts() == 0  # recorded: not tried again and again
