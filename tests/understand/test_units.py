"""Unit tables for the pieces: dates, reply text, intent, bounce reading, parsing."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from maild.errors import MessageParseError
from maild.understand.inspect import inspect_message
from maild.understand.intent import detect_intent
from maild.understand.message import looks_like_email, parse_message
from maild.understand.ooo import return_date
from maild.understand.replytext import reply_text, strip_quotes

FRIDAY = datetime(2026, 3, 20, 9, 0, tzinfo=timezone(timedelta(hours=-4)))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I am out of the office and will be back on Monday, April 6.", date(2026, 4, 6)),
        ("Away at a meeting, returning 4/13.", date(2026, 4, 13)),
        ("I am on vacation until March 30th.", date(2026, 3, 30)),
        ("I am on leave and return 20 April 2026.", date(2026, 4, 20)),
        ("I'm traveling for work on July 10-31.", date(2026, 7, 31)),
        ("Out of office until 2026-04-02.", date(2026, 4, 2)),
        ("Away until Jan 5.", date(2027, 1, 5)),  # written in March: next January
        ("I am out of the office Wednesday.", date(2026, 3, 25)),
        ("I am out of the office with limited access to email.", None),
        ("For urgent matters before May 1 call 555-0100.", None),
        ("I was away March 2 to March 6.", None),  # in the past: not a return date
    ],
)
def test_return_date(text: str, expected: date | None) -> None:
    assert return_date(text, FRIDAY) == expected


def test_return_date_without_a_date_header_needs_a_year() -> None:
    assert return_date("Back on April 6.", None) is None
    assert return_date("Back on 6 April 2026.", None) == date(2026, 4, 6)


def test_interleaved_reply_keeps_only_the_answers() -> None:
    text = (
        "On Mon, Mar 2, 2026 at 9:00 AM Priya <p@example.edu> wrote:\n"
        "> Could you write a letter?\n"
        "Yes.\n"
        "> The deadline is Sept 15.\n"
        "That works.\n"
    )
    assert strip_quotes(text) == "Yes.\n\nThat works."


def test_outlook_header_block_and_disclaimer_are_dropped() -> None:
    text = (
        "Happy to help.\n\nBest,\nDr. Jane Roe\nProfessor of Medicine\n\n"
        "CONFIDENTIALITY NOTICE: This e-mail is for the sole use of the intended recipient.\n"
        "From: Priya Raman <p@example.edu>\nSent: Monday, March 2, 2026 9:00 AM\n"
        "To: Jane Roe <j@example.org>\nSubject: Letter\n\nDear Dr. Roe, ..."
    )
    assert reply_text(text) == "Happy to help."


def test_a_one_word_thanks_is_the_reply_not_a_signature() -> None:
    assert reply_text("Thanks!\n\nJ") == "Thanks!"


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("Yes, happy to.", "agree"),
        ("I would be delighted to write you a strong letter. Send me your CV?", "agree"),
        ("I could, but you may want someone who supervised you more directly.", "hesitant"),
        ("Unfortunately I won't be able to write a letter this cycle.", "decline"),
        ("I don't think I'm the right person for this.", "decline"),
        ("Which programs are you applying to?", "question"),
        ("Let's meet Thursday at 3pm to discuss.", "meeting"),
        ("My assistant will schedule a time for us next week.", "meeting"),
        ("I uploaded the letter this morning.", "submitted"),
        ("I will submit the letter once you send the form.", "unclear"),
        ("Got it.", "unclear"),
        # A yes and a no in one message is not a certainty.
        ("Yes, happy to help. Unfortunately I can't write the letter.", "unclear"),
    ],
)
def test_intent(text: str, intent: str) -> None:
    result = detect_intent(text)
    assert result.intent == intent
    if intent != "unclear":
        assert result.evidence


@pytest.mark.parametrize(
    "text",
    [
        # Issue 16's costly confusions: a yes with a warning about the letter's strength.
        "Yes, I can write it, though I only observed you for two afternoons in clinic.",
        "Happy to - but I have eleven letters this cycle, so mine will be short.",
        "I'll do it if you can't find someone who knows you better; I'm happy to step aside.",
        "I'd be glad to write, provided the deadline is after December 1.",
        "Sure. Keep in mind my letter may not be as strong as one from your PI.",
    ],
)
def test_a_conditional_or_hedged_yes_is_hesitant_never_agree(text: str) -> None:
    result = detect_intent(text)
    assert result.intent == "hesitant", result
    # The sentences holding the yes and its hedge are shown to the user.
    assert result.sentences and " ".join(result.sentences) == text


def test_a_yes_with_a_logistics_question_is_agree_and_surfaces_the_question() -> None:
    result = detect_intent("Absolutely, I'd be thrilled to write for you! Does it go through "
                           "ERAS, and what's the deadline?")
    assert result.intent == "agree"
    assert result.questions == ("Does it go through ERAS, and what's the deadline?",)
    assert result.confidence >= 0.9


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("Dr. Okafor asked me to let you know that she would be delighted to write your "
         "letter and will submit it through ERAS by September 1.", "agree"),
        ("Dr. Okafor asked me to let you know she has submitted her letter.", "submitted"),
        ("Writing on behalf of Dr. Okafor: she is unable to take on more letters this year.",
         "decline"),
    ],
)
def test_an_assistant_is_read_for_what_the_message_says(text: str, intent: str) -> None:
    assert detect_intent(text).intent == intent


@pytest.mark.parametrize(
    "text",
    [
        "I'm sorry, I can't write for you this year. Happy to chat another time though!",
        "Unfortunately I have to decline, but let's grab coffee sometime next month.",
        "I'd be happy to write, but unfortunately I can't this cycle.",
        "Sorry, no.",
        "I'm not the right person for this; please ask someone who supervised you.",
    ],
)
def test_decline_wins_over_an_offer_to_talk(text: str) -> None:
    assert detect_intent(text).intent == "decline"


@pytest.mark.parametrize("text", ["Ok", "Fine.", "Thanks!", "Let me think about it.",
                                  "Sounds good", "Can I let you know next week?"])
def test_thin_evidence_is_unclear_and_needs_review(text: str) -> None:
    result = detect_intent(text)
    assert result.intent == "unclear"
    assert result.needs_review
    assert result.confidence < 0.6


def test_traveling_mentor_who_says_yes_is_human_not_auto_reply() -> None:
    raw = (
        b"From: Dr X <x@example.org>\r\nTo: p@example.edu\r\nSubject: Re: letter\r\n"
        b"Date: Fri, 20 Mar 2026 09:00:00 -0400\r\n\r\n"
        b"I'm traveling with limited access to email, but yes, I'd be happy to write it.\r\n"
    )
    result = inspect_message(raw)
    assert (result.kind, result.intent) == ("human", "agree")


def test_auto_response_suppress_alone_is_not_an_auto_reply() -> None:
    raw = (
        b"From: Dr X <x@example.org>\r\nTo: p@example.edu\r\nSubject: RE: letter\r\n"
        b"X-Auto-Response-Suppress: All\r\n\r\nSure, I can do that.\r\n"
    )
    assert inspect_message(raw).kind == "human"


def test_plain_text_bounce_gives_recipient_status_and_original_id() -> None:
    raw = (
        b"From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\r\n"
        b"To: p@example.edu\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        b"Return-Path: <>\r\n\r\n"
        b"<jroe@example.org>: host mx.example.org said: 550 5.1.1 <jroe@example.org>: "
        b"Recipient address rejected: User unknown (in reply to RCPT TO command)\r\n\r\n"
        b"------ This is a copy of the message, including all the headers. ------\r\n"
        b"Message-ID: <ask-17@example.edu>\r\nFrom: p@example.edu\r\nTo: jroe@example.org\r\n"
    )
    result = inspect_message(raw)
    assert result.kind == "bounce"
    assert result.bounce is not None
    assert result.bounce.recipients == ("jroe@example.org",)
    assert result.bounce.status == "5.1.1"
    assert result.bounce.address_invalid is True
    assert result.bounce.original_message_id == "<ask-17@example.edu>"


def test_mailbox_full_is_not_an_invalid_address() -> None:
    raw = (
        b"From: MAILER-DAEMON@mx.example.org\r\nTo: p@example.edu\r\n"
        b"Subject: failure notice\r\n\r\n<jroe@example.org>:\r\n"
        b"552 5.2.2 mailbox full, quota exceeded\r\n"
    )
    result = inspect_message(raw)
    assert result.bounce is not None and result.bounce.address_invalid is False
    assert result.bounce.status == "5.2.2"


def _notice(body: str) -> bytes:
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\r\nTo: p@example.edu\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nReturn-Path: <>\r\n\r\n" + body
    ).encode()


def _dsn(status: str, diagnostic: str, action: str = "failed") -> bytes:
    return (
        "From: MAILER-DAEMON@mx.example.org\r\nTo: p@example.edu\r\n"
        "Subject: Delivery Status Notification (Failure)\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/report; report-type=delivery-status; boundary=B\r\n\r\n"
        "--B\r\nContent-Type: text/plain\r\n\r\nDelivery to jroe@example.org failed.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.org\r\n\r\n"
        f"Final-Recipient: rfc822; jroe@example.org\r\nAction: {action}\r\n"
        f"Status: {status}\r\nDiagnostic-Code: {diagnostic}\r\n--B--\r\n"
    ).encode()


@pytest.mark.parametrize(
    ("raw", "invalid"),
    [
        # Refused at RCPT TO with unknown-user words: the address failed, whatever the code.
        (_notice("<jroe@example.org>: host mx said: 550 5.2.1 <jroe@example.org>: User "
                 "unknown (in reply to RCPT\r\n    TO command)\r\n"), True),
        (_notice("<jroe@example.org>: host mx said: 450 4.1.1 <jroe@example.org>: Recipient "
                 "address rejected: User unknown in virtual alias table (in reply to RCPT TO "
                 "command)\r\n"), True),
        # Microsoft's directory-based edge blocking: no such mailbox, worded as a denial.
        (_notice("SMTP error from remote mail server after RCPT TO:<jroe@example.org>:\r\n"
                 "550 5.4.1 <jroe@example.org>: Recipient address rejected: Access denied\r\n"),
         True),
        # The same words without the RCPT stage named are policy, not a missing mailbox.
        (_dsn("5.7.1", "smtp; 550 5.7.1 <jroe@example.org>: Recipient address rejected: "
                       "Access denied"), False),
        # Only the first stage marker counts; a filter after DATA is not about the address.
        (_notice("<jroe@example.org>: host mx said: 550 User unknown (in reply to end of "
                 "DATA command)\r\n"), False),
        # Refused at MAIL FROM: our side, even if the words say "does not exist".
        (_notice("SMTP error from remote mail server after MAIL FROM:<p@example.edu>:\r\n"
                 "553 5.1.0 example.edu does not exist\r\n"), False),
        # A domain that does not exist is a bad address even when reported after DATA.
        (_notice("SMTP error from remote mail server after end of data:\r\n"
                 "553 example.net does not exist\r\n"), True),
        # Null MX / 521: the host takes no mail at all — unless only temporarily (4xx).
        (_dsn("5.7.27", "smtp; 550 Host does not accept mail"), True),
        (_dsn("4.0.0", "smtp; 450 Host does not accept mail"), False),
        # The remote server's own code inside a relay's wrapper decides: 5.2.2 is a full box.
        (_dsn("5.0.0", "smtp; 5.1.0 - Unknown address error 550-'5.2.2 <jroe@example.org>... "
                       "Mailbox Full'"), False),
        # 5.1.0 ("other address status") quoted after a 5.0.0 DSN: the address is bad.
        (_dsn("5.0.0", "smtp; 550 #5.1.0 Address rejected."), True),
        # A local delivery program's failure (X-Unix) is a mailer error, not a bad address.
        (_dsn("5.1.1", 'x-unix; procmail: Couldn\'t create "/var/spool/mail/j": No such user'),
         False),
        # DNS trouble under 5.4.4 is a network error.
        (_dsn("5.4.4", "X-Postfix; Name service error for name=example.org type=MX: "
                       "Malformed or unexpected name server reply"), False),
        # A recipient's own preferences are a filter even under 5.1.1.
        (_dsn("5.1.1", "smtp; 550 5.1.1 RCP-P2 Refused due to recipient preferences"), False),
        (_dsn("5.1.1", "smtp; 550 5.1.1 <jroe@icloud.com>: inactive email address"), True),
        # Words inside an address are not the server's words.
        (_dsn("5.1.1", "smtp; 550 5.1.1 <filtered@example.org>... User Unknown"), True),
        # Bare "user unknown" without a bad-address code or the RCPT stage: a filter.
        (_dsn("5.0.0", "smtp; 550 : User unknown"), False),
        (_dsn("5.0.0", "smtp; 550 5.1.1 jroe@example.org... User unknown", "delayed"), False),
    ],
)
def test_address_invalid_rules(raw: bytes, invalid: bool) -> None:
    result = inspect_message(raw)
    assert result.kind == "bounce"
    assert result.bounce is not None
    assert result.bounce.address_invalid is invalid


def test_quoted_reply_status_beats_wrapper_status() -> None:
    raw = _dsn("5.0.0", "smtp; 5.1.0 - Unknown address error 550-'5.7.1 <x@example.org>... "
                        "Access denied'")
    result = inspect_message(raw)
    assert result.bounce is not None
    assert result.bounce.status == "5.7.1"


@pytest.mark.parametrize("raw", [b"", b"%PDF-1.4\n%\xe2\xe3", b"\x89PNG\r\n\x1a\n\x00\x00",
                                 b"hello world\nthis is prose"])
def test_not_an_email(raw: bytes) -> None:
    assert not looks_like_email(raw)
    with pytest.raises(MessageParseError):
        parse_message(raw)


def test_html_only_outlook_reply() -> None:
    raw = (
        b"From: Dr X <x@example.org>\r\nSubject: RE: letter\r\nContent-Type: text/html\r\n\r\n"
        b"<html><body><p>Of course, glad to help.</p><div style='border-top:solid'><p><b>From:"
        b"</b> Priya<br><b>Sent:</b> Monday<br><b>To:</b> Dr X<br><b>Subject:</b> letter</p>"
        b"</div><p>Dear Dr X, would you write me a letter?</p></body></html>"
    )
    result = inspect_message(raw)
    assert result.reply_text == "Of course, glad to help."
    assert result.intent == "agree"
