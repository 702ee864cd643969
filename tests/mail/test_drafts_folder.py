"""Drafts mirrored to the account's Drafts folder (for reading on a phone): only complete
drafts, replaced when they change, removed (only maild's own copies) when they are done;
and a draft the user sends from their own client instead: recognised in Sent,
credited as sent, and never sent by maild.
"""

from __future__ import annotations

import email
from email import policy

import pytest

from maild.app import lifecycle, review
from maild.app.mirror import DraftsMirror, MirrorReport, copy_bytes
from maild.core.model import DraftStatus
from maild.sandbox.mail import make_message
from tests.mail.conftest import MENTOR, World
from tests.mail.worlds import draft_status, pending_draft, send, step_status
from tests.rawdb import raw

# Both IMAP implementations: what maild relies on must hold on each.
pytestmark = pytest.mark.both_imap_servers

QUESTION = "How did you handle missing data?"


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


def mirror(world: World) -> DraftsMirror:
    return DraftsMirror(world.store, world.config, imap=world.connect, now=world.clock)


def complete(world: World, draft_id: int) -> None:
    review.revise(world.store, world.tracker, draft_id, world.clock(),
                  {"paper_question": QUESTION})


def test_only_a_complete_draft_is_copied_and_never_with_a_placeholder(world: World) -> None:
    draft_id = pending_draft(world, 1)
    sync = mirror(world)
    # The draft still needs the user's question: no copy (it would show [[paper_question]]).
    assert sync.sync() == MirrorReport()
    assert folder_messages(world, "Drafts") == []
    complete(world, draft_id)
    assert sync.sync() == MirrorReport(appended=1)
    draft = world.store.read.drafts.get(draft_id)
    [(copy, flags)] = folder_messages(world, "Drafts")
    assert b"\\Draft" in flags
    assert copy["Message-ID"] == draft.spec.message_id
    assert copy["To"] == f"Dana Rivera <{MENTOR}>"
    assert copy["Subject"] == draft.spec.subject
    body = copy.get_body().get_content()
    assert QUESTION in body and "[[" not in body
    # Nothing new: no second copy; a restarted daemon (a new mirror) agrees.
    assert sync.sync() == MirrorReport()
    assert mirror(world).sync() == MirrorReport()
    assert len(folder_messages(world, "Drafts")) == 1
    # Nothing was sent, and INBOX and Sent are untouched (invariant 7).
    assert world.smtp.messages == []
    assert folder_messages(world, "Sent") == []


def test_an_edited_draft_replaces_its_copy(world: World) -> None:
    draft_id = pending_draft(world, 1)
    complete(world, draft_id)
    sync = mirror(world)
    sync.sync()
    draft = world.store.read.drafts.get(draft_id)
    edit = review.Edit(subject="A question about your HFpEF registry paper",
                       body=draft.spec.body.replace("20 minutes", "15 minutes"),
                       to=draft.spec.to_addrs)
    world.clock.advance(minutes=5)
    review.revise(world.store, world.tracker, draft_id, world.clock(), edit=edit)
    assert sync.sync() == MirrorReport(appended=1)
    [(copy, _flags)] = folder_messages(world, "Drafts")
    assert copy["Subject"] == "A question about your HFpEF registry paper"
    assert "15 minutes" in copy.get_body().get_content()


def test_copies_go_when_the_draft_is_sent_or_rejected_and_only_maild_s(world: World) -> None:
    sent_id = pending_draft(world, 1)
    complete(world, sent_id)
    from tests.mail.worlds import add_mentor
    other = pending_draft(world, add_mentor(world, 2))
    review.revise(world.store, world.tracker, other, world.clock(),
                  {"paper_question": "Why registries?"})
    sync = mirror(world)
    assert sync.sync() == MirrorReport(appended=2)
    sent = world.store.read.drafts.get(sent_id)
    # The user's own things in Drafts: a message of theirs that they marked deleted, and
    # a copy they changed in their mail program (same Message-ID, other text).
    theirs = make_message(sender=world.account.email, to=MENTOR, subject="my own draft",
                          body="mine")
    changed = copy_bytes(sent).replace(QUESTION.encode(), b"My own rewording?")
    world.deliver(theirs, folder="Drafts")
    world.deliver(changed, folder="Drafts")
    with world.connect() as conn:
        conn.client.select_folder("Drafts")
        [mine] = conn.search(["SUBJECT", "my own draft"])
        conn.client.add_flags([mine], [b"\\Deleted"], silent=True)
    world.approve(sent_id)
    assert send(world, sent_id) == "sent"
    lifecycle.reject(world.store, world.tracker, other, world.clock())
    world.clock.advance(minutes=1)
    assert sync.sync() == MirrorReport(removed=2)
    left = folder_messages(world, "Drafts")
    subjects = sorted(str(m["Subject"]) for m, _f in left)
    # maild's two copies are gone; the user's deleted-marked message and their changed
    # copy are still there (never expunged by maild).
    assert len(left) == 2, subjects
    assert "my own draft" in subjects
    assert any("My own rewording?" in m.get_body().get_content() for m, _f in left)
    assert sync.sync() == MirrorReport()


def test_a_copy_left_by_a_crash_is_not_appended_twice(world: World) -> None:
    draft_id = pending_draft(world, 1)
    complete(world, draft_id)
    draft = world.store.read.drafts.get(draft_id)
    # A crash after the APPEND but before maild recorded it: the copy is there already.
    with world.connect() as conn:
        conn.append("Drafts", copy_bytes(draft), flags=(b"\\Draft",))
    mirror(world).sync()
    assert len(folder_messages(world, "Drafts")) == 1


def test_draft_sent_by_the_user_from_drafts_is_not_resent(world: World) -> None:
    draft_id = pending_draft(world, 1)
    complete(world, draft_id)
    mirror(world).sync()
    [(copy, _flags)] = folder_messages(world, "Drafts")
    # The user opens the copy on their phone and sends it; their client files it in Sent
    # with the same Message-ID.
    world.deliver(copy.as_bytes(), folder="Sent")
    # Later they also approve it in maild (or it was auto-approved): maild must not send.
    world.approve(draft_id)
    assert send(world, draft_id) == "cancelled"
    assert world.smtp.messages == []
    # It did go out, from the user's client: the draft is sent, and its step too, exactly
    # as if maild had sent it.
    assert draft_status(world, draft_id) == "sent"
    assert step_status(world, draft_id) == "sent"


def test_users_own_reply_in_the_thread_supersedes_an_approved_nudge(world: World) -> None:
    _ask, first_id = world.cold_ask_sent()
    world.clock.advance(days=6)
    world.tracker.run_due(world.clock())
    [nudge] = world.store.read.drafts.with_status(DraftStatus.PENDING)
    mirror(world).sync()
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
    assert mirror(world).sync() == MirrorReport()
    assert folder_messages(world, "Drafts") == []
