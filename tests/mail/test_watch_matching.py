"""Each matching rule, end to end through a running watcher on the real Dovecot.

The thread, sender and assistant rules are also covered by sync-level tests in
test_send_and_match.py; here every rule is seen through a FolderWatcher, plus the two
that need the body: a letter-service notice naming the mentor, and a bounce quoting
the original Message-ID (a hard bounce pauses the ask, a delay does not).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from maild.sandbox.mail import make_message
from tests.mail.conftest import ASSISTANT, MENTOR, World
from tests.mail.test_watch import Watchers, steps_cancelled, wait_until
from tests.rawdb import raw


@pytest.fixture
def watchers(world: World) -> Iterator[Watchers]:
    group = Watchers(world)
    yield group
    group.stop_all()


def reason_of(world: World, ask_id: int) -> str:
    row = raw(world.store).execute("SELECT match_reason FROM messages WHERE ask_id = ? AND "
                                 "direction = 'in' ORDER BY id DESC", (ask_id,)).fetchone()
    return str(row["match_reason"]) if row else ""


def dsn(world: World, original_id: str, *, status: str, action: str) -> bytes:
    """A delivery status notification as Postfix writes it, quoting our original."""
    boundary = "dsn-boundary-1"
    text = (
        f"This is the mail system at host mx.school.example.edu.\r\n\r\n"
        f"I'm sorry to have to inform you that your message could not\r\n"
        f"be delivered to one or more recipients.\r\n\r\n"
        f"<{MENTOR}>: host mx.med.example.edu said: 550 5.1.1 <{MENTOR}>: "
        f"Recipient address rejected: User unknown in local recipient table\r\n"
    )
    report = (
        f"Reporting-MTA: dns; mx.school.example.edu\r\n\r\n"
        f"Final-Recipient: rfc822; {MENTOR}\r\nOriginal-Recipient: rfc822;{MENTOR}\r\n"
        f"Action: {action}\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; 550 {status} User unknown\r\n"
    )
    headers = (
        f"From: {world.account.email}\r\nTo: Dana Rivera <{MENTOR}>\r\n"
        f"Subject: Question about your 2025 paper\r\nMessage-ID: {original_id}\r\n"
    )
    return (
        f"From: MAILER-DAEMON@school.example.edu (Mail Delivery System)\r\n"
        f"To: {world.account.email}\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        f"Date: Tue, 17 Nov 2026 10:05:00 -0500\r\n"
        f"Message-ID: <bounce-{abs(hash((original_id, status)))}@mx.school.example.edu>\r\n"
        f"Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: multipart/report; report-type=delivery-status; "
        f"boundary=\"{boundary}\"\r\n\r\n"
        f"--{boundary}\r\nContent-Type: text/plain\r\n\r\n{text}\r\n"
        f"--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n{report}\r\n"
        f"--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n{headers}\r\n"
        f"--{boundary}--\r\n"
    ).encode()


def test_rule_thread_ids(world: World, watchers: Watchers) -> None:
    ask_id, first_id = world.cold_ask_sent()
    watchers.start()
    # Only References (some clients drop In-Reply-To), from an address nobody knows.
    world.deliver(make_message(sender="dana.rivera@gmail.example.com", to=world.account.email,
                               subject="Re: Question", body="Writing from my phone: yes!",
                               references=["<other@x.example>", first_id], date=world.clock()))
    wait_until(steps_cancelled(world, ask_id))
    assert reason_of(world, ask_id) == f"thread: replies to {first_id}"


def test_rule_sender_and_assistant(world: World, watchers: Watchers) -> None:
    ask_id, _ = world.cold_ask_sent()
    watchers.start()
    world.deliver(world.mentor_writes("Dr. Rivera can meet Friday at 2.", sender=ASSISTANT,
                                      subject="Meeting request"))
    wait_until(steps_cancelled(world, ask_id))
    assert "assistant" in reason_of(world, ask_id)
    world.deliver(world.mentor_writes("Looking forward to it.", subject="Friday"))
    wait_until(lambda: "sender drivera" in reason_of(world, ask_id))
    assert "is a mentor with one open ask" in reason_of(world, ask_id)


def test_rule_sender_with_several_open_asks_needs_review(world: World,
                                                          watchers: Watchers) -> None:
    cold_id, _ = world.cold_ask_sent()
    world.clock.advance(minutes=5)
    meeting = world.tracker.create_ask(1, "update", world.clock(), again=True).ask.id
    watchers.start()
    world.deliver(world.mentor_writes("Thanks for the update - all good.", subject="Hello"))
    wait_until(lambda: reason_of(world, meeting or 0) != "")
    assert "took the most recent" in reason_of(world, meeting or 0)
    row = raw(world.store).execute("SELECT needs_review FROM asks WHERE id = ?",
                                 (meeting,)).fetchone()
    assert row["needs_review"] == 1
    assert reason_of(world, cold_id) == ""


def test_rule_letter_service_notice_names_the_mentor(world: World, watchers: Watchers) -> None:
    ask_id = world.tracker.create_ask(1, "letter", world.clock(),
                                      deadline=date(2027, 1, 15)).ask.id or 0
    watchers.start()
    world.deliver(make_message(
        sender="ERAS Notifications <noreply@eras.example.org>", to=world.account.email,
        subject="Letter of recommendation received",
        body="Dr. Dana Rivera has submitted a letter of recommendation for your "
             "application. This is an automated message; do not reply.",
        date=world.clock()))
    wait_until(lambda: world.state(ask_id) == "submitted")
    assert reason_of(world, ask_id) == "letter notice names Dana Rivera"


def test_rule_hard_bounce_quoting_the_message_id_pauses_the_ask(world: World,
                                                                 watchers: Watchers) -> None:
    ask_id, first_id = world.cold_ask_sent()
    watchers.start()
    world.deliver(dsn(world, first_id, status="5.1.1", action="failed"))
    wait_until(lambda: world.state(ask_id) == "needs_address")
    assert reason_of(world, ask_id) == f"bounce of {first_id}"
    # Held, not cancelled: the nudge waits for a new address.
    assert world.steps(ask_id)["nudge"] != "cancelled"


def test_delay_notice_does_not_pause_the_ask(world: World, watchers: Watchers) -> None:
    ask_id, first_id = world.cold_ask_sent()
    watchers.start()
    world.deliver(dsn(world, first_id, status="4.4.1", action="delayed"))
    wait_until(lambda: reason_of(world, ask_id) != "")
    assert world.state(ask_id) == "waiting_reply"
