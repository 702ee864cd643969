"""The loop against real servers: approve -> SMTP -> Sent; replies matched and applied."""

from __future__ import annotations

import asyncio
import email
import re
from email import policy

import pytest

from tests.mail.conftest import ASSISTANT, MENTOR, World
from tests.rawdb import raw

# Both IMAP implementations: what maild relies on must hold on each.
pytestmark = pytest.mark.both_imap_servers


def sent_folder_ids(world: World) -> list[str]:
    with world.connect() as conn:
        conn.select("Sent")
        uids = conn.search(["ALL"])
        return [email.message_from_bytes(h.headers)["Message-ID"] for h in conn.headers(uids)]


def test_approved_draft_is_sent_once_with_correct_headers(world: World) -> None:
    ask_id, message_id = world.cold_ask_sent()
    [received] = world.smtp.wait_for(1)
    msg = received.message
    assert received.rcpt_tos == (MENTOR,)
    assert received.mail_from == world.account.email
    assert msg["From"] == "Alex Kim <alex@school.example.edu>"
    assert msg["To"] == "Dana Rivera <drivera@med.example.edu>"
    assert msg["Subject"] == "Question about your 2025 paper on HFpEF registries"
    assert msg["Message-ID"] == message_id
    assert "How did you handle missing data?" in msg.get_body().get_content()
    assert received.tls
    # The sent copy is in Sent exactly once, and the step and ask moved on.
    assert sent_folder_ids(world).count(message_id) == 1
    assert world.steps(ask_id)["initial"] == "sent"
    assert world.state(ask_id) == "waiting_reply"
    # Seeing our own copy in Sent later is not mistaken for the user writing again.
    world.sync("Sent", "sent")
    assert world.steps(ask_id)["nudge"] == "planned"


def test_nudge_threads_under_the_initial_email(world: World) -> None:
    _ask_id, first_id = world.cold_ask_sent()
    world.clock.advance(days=6)  # Monday 23rd, after the day-5 nudge time
    world.tracker.run_due(world.clock())
    [draft] = world.store.read.drafts.with_status("pending")
    world.approve(draft.id)
    assert asyncio.run(world.sender().send_one(draft.id)) == "sent"
    received = world.smtp.wait_for(2)[1].message
    assert received["Subject"] == "Re: Question about your 2025 paper on HFpEF registries"
    assert received["In-Reply-To"] == first_id
    assert first_id in received["References"]


def test_reply_in_thread_cancels_nudges(world: World) -> None:
    ask_id, first_id = world.cold_ask_sent()
    with world.connect() as conn:
        conn.select("INBOX")
        flags_before = conn.flags(conn.search(["ALL"])) if conn.search(["ALL"]) else {}
    world.deliver(world.mentor_writes("Happy to meet! Does Thursday at 3pm work?",
                                      in_reply_to=first_id))
    result = world.sync()
    assert result.matched == 1 and result.applied == 1
    steps = world.steps(ask_id)
    assert steps["nudge"] == "cancelled" and steps["final_nudge"] == "cancelled"
    reason = raw(world.store).execute("SELECT match_reason FROM messages WHERE direction = 'in'"
                                    ).fetchone()[0]
    assert reason.startswith("thread: replies to " + first_id)
    # Read-only: no flag changed on the server (BODY.PEEK, read-only SELECT).
    with world.connect() as conn:
        conn.select("INBOX")
        uids = conn.search(["ALL"])
        after = conn.flags(uids)
    assert all(b"\\Seen" not in flags for flags in after.values())
    for uid, flags in flags_before.items():
        assert after[uid] == flags


def test_reply_matched_by_sender_and_by_assistant(world: World) -> None:
    ask_id, _ = world.cold_ask_sent()
    # A new message (no In-Reply-To) from the assistant's address counts as the mentor's.
    world.deliver(world.mentor_writes("Dr. Rivera asked me to find a time; how is Friday?",
                                      sender=ASSISTANT, subject="Meeting with Dr. Rivera"))
    world.sync()
    row = raw(world.store).execute("SELECT match_reason, intent FROM messages "
                                 "WHERE direction = 'in'").fetchone()
    assert "assistant" in row["match_reason"] and "one open ask" in row["match_reason"]
    assert world.steps(ask_id)["nudge"] == "cancelled"


def test_auto_reply_moves_the_nudge_without_cancelling(world: World) -> None:
    ask_id, first_id = world.cold_ask_sent()
    before = raw(world.store).execute("SELECT due_at FROM steps WHERE ask_id = ? AND "
                                    "name = 'nudge'", (ask_id,)).fetchone()[0]
    world.deliver(world.mentor_writes(
        "I am out of the office until Monday, November 30 with limited access to email.",
        subject="Automatic reply: Question", in_reply_to=first_id,
        headers={"Auto-Submitted": "auto-replied"}))
    world.sync()
    row = raw(world.store).execute("SELECT due_at, status FROM steps WHERE ask_id = ? AND "
                                 "name = 'nudge'", (ask_id,)).fetchone()
    assert row["status"] == "planned"
    assert row["due_at"] > before and row["due_at"].startswith("2026-12-01")


def test_unrelated_mail_is_ignored_and_not_stored(world: World) -> None:
    world.cold_ask_sent()
    world.deliver(world.mentor_writes("Sale!", sender="news@shop.example.com", subject="Deals"))
    result = world.sync()
    assert result.seen == 1 and result.matched == 0
    assert raw(world.store).execute("SELECT count(*) FROM messages WHERE direction = 'in'"
                                  ).fetchone()[0] == 0


def test_message_from_known_mentor_without_ask_is_kept_for_the_timeline(world: World) -> None:
    world.deliver(world.mentor_writes("Great seeing you at the conference."))
    result = world.sync()
    assert result.matched == 0
    row = raw(world.store).execute("SELECT ask_id, match_reason FROM messages").fetchone()
    assert row["ask_id"] is None and "without an open ask" in row["match_reason"]


def test_users_own_reply_from_another_client_is_seen_in_sent(world: World) -> None:
    ask_id, first_id = world.cold_ask_sent()
    world.clock.advance(days=6)
    world.tracker.run_due(world.clock())
    [draft] = world.store.read.drafts.with_status("pending")
    # The user writes the nudge themselves from their phone instead of approving it.
    own = world.mentor_writes("Just following up on my note below.", sender=world.account.email,
                              subject="Re: Question", in_reply_to=first_id)
    own = own.replace(b"To: alex@school.example.edu", b"To: " + MENTOR.encode())
    world.deliver(own, folder="Sent")
    world.sync("Sent", "sent")
    assert world.store.read.drafts.get(draft.id).status == "superseded"
    assert world.steps(ask_id)["nudge"] == "superseded"


def test_sync_twice_applies_a_reply_once(world: World) -> None:
    _ask_id, first_id = world.cold_ask_sent()
    world.deliver(world.mentor_writes("Yes, happy to help.", in_reply_to=first_id))
    assert world.sync().applied == 1
    assert world.sync().applied == 0
    events = raw(world.store).execute("SELECT count(*) FROM events WHERE type = 'HumanReply'"
                                    ).fetchone()[0]
    assert events == 1


def test_reply_between_approval_and_send_cancels_the_send(world: World) -> None:
    _ask_id, first_id = world.cold_ask_sent()
    world.clock.advance(days=6)
    world.tracker.run_due(world.clock())
    [draft] = world.store.read.drafts.with_status("pending")
    world.approve(draft.id)
    # The mentor answers after the user approved the nudge, before maild sends it.
    world.deliver(world.mentor_writes("Sorry for the delay - yes, let's talk.",
                                      in_reply_to=first_id))
    assert asyncio.run(world.sender().send_one(draft.id)) == "cancelled"
    assert len(world.smtp.messages) == 1  # only the initial email ever went out
    assert world.store.read.drafts.get(draft.id).status == "cancelled"


def test_parsed_copy_of_sent_mail_is_valid(world: World) -> None:
    world.cold_ask_sent()
    raw = world.smtp.wait_for(1)[0].raw
    parsed = email.message_from_bytes(raw, policy=policy.default)
    assert parsed["Date"] and parsed["Message-ID"].endswith("@school.example.edu>")


def test_draft_sent_by_the_user_from_drafts_is_never_sent_by_maild(world: World) -> None:
    ask_id, first_id = world.cold_ask_sent()
    world.clock.advance(days=6)
    world.tracker.run_due(world.clock())
    [draft] = world.store.read.drafts.with_status("pending")
    # The user opens maild's Drafts copy on their phone and sends it as it is (same
    # Message-ID); their client files it in Sent. They never approve it in maild.
    raw = world.mentor_writes(draft.spec.body, sender=world.account.email,
                              subject=draft.spec.subject, in_reply_to=first_id)
    raw = raw.replace(b"To: alex@school.example.edu", b"To: " + MENTOR.encode())
    raw = re.sub(rb"Message-ID: <[^>]+>", b"Message-ID: " + draft.spec.message_id.encode(), raw)
    world.deliver(raw, folder="Sent")
    world.sync("Sent", "sent")
    # As if maild had sent it: the draft and its step are sent, the ladder goes on.
    assert world.store.read.drafts.get(draft.id).status == "sent"
    assert world.steps(ask_id)["nudge"] == "sent"
    assert world.steps(ask_id)["final_nudge"] == "planned"
    assert asyncio.run(world.sender().send_ready()).sent == 0
    assert len(world.smtp.messages) == 1
