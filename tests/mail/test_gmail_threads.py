"""Gmail's thread ids (X-GM-THRID): a reply whose client dropped In-Reply-To and
References is still matched when Gmail filed it in the thread of a tracked message.

Dovecot has no X-GM-EXT-1, so the FETCH answer is parsed from the shape Gmail sends
and the matching runs against the real store."""

from __future__ import annotations

from dataclasses import replace

from maild.adapters.imap import header_info
from maild.sandbox.mail import make_message
from maild.understand.headers import parse_headers
from tests.mail.conftest import MENTOR, World
from tests.rawdb import raw


def test_fetch_answer_with_gmail_thread_id_is_read() -> None:
    item = {b"RFC822.SIZE": 1234, b"X-GM-THRID": 1824353213589341219,
            b"BODY[HEADER.FIELDS (MESSAGE-ID)]": b"Message-ID: <a@b>\r\n\r\n"}
    info = header_info(7, b"Message-ID: <a@b>\r\n\r\n", item)
    assert (info.uid, info.size, info.gm_thrid) == (7, 1234, 1824353213589341219)
    assert header_info(8, b"", {b"RFC822.SIZE": 10}).gm_thrid is None
    assert header_info(9, b"", {b"X-GM-THRID": b"junk"}).gm_thrid is None


def test_reply_without_thread_headers_is_matched_by_gmail_thread(world: World) -> None:
    # A second open ask to the same mentor: by sender alone the reply would be ambiguous.
    ask_id, first_id = world.cold_ask_sent()
    world.tracker.create_ask(1, "update", world.clock(), again=True)
    thread = 1824353213589341219
    # Gmail's copy of maild's first email in Sent carries the thread id.
    with world.store.transaction():
        raw(world.store).execute("UPDATE messages SET gm_thrid = ? WHERE message_id = ?",
                               (thread, first_id))
    reply = make_message(sender=MENTOR, to=world.account.email, subject="Re: Question",
                         body="Happy to meet next week.", date=world.clock())
    headers = parse_headers(reply)
    assert headers.in_reply_to == () and headers.references == ()
    match = world.inbox().match(replace(headers, gm_thrid=thread), "inbox")
    assert match is not None and match.ask_id == ask_id
    assert match.reason == f"Gmail thread {thread}" and not match.needs_review
    # Without Gmail's id the same reply is matched by sender, to the newest ask, for review.
    by_sender = world.inbox().match(headers, "inbox")
    assert by_sender is not None and by_sender.ask_id != ask_id and by_sender.needs_review
