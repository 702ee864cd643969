"""Outgoing messages: threading headers, and no header injection through any field."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy

import pytest

from maild.adapters.compose import (
    Attachment,
    HeaderInjectionError,
    Mailbox,
    compose,
    new_message_id,
    reply_subject,
)
from maild.errors import UsageError

WHEN = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
ME = Mailbox("alex@school.example.edu", "Alex Kim")
DR = Mailbox("drivera@med.example.edu", "Dana Rivera")


def parse(raw: bytes):  # type: ignore[no-untyped-def]
    return message_from_bytes(raw, policy=policy.default)


def test_nudge_threads_with_in_reply_to_and_references() -> None:
    mid = new_message_id(ME.address)
    msg = compose(sender=ME, to=[DR], subject=reply_subject("Re: RE: Question about HFpEF"),
                  body="Just floating this up.", message_id=mid, date=WHEN,
                  in_reply_to="<first@school.example.edu>",
                  references=["<root@school.example.edu>"])
    back = parse(msg.as_bytes())
    assert back["Subject"] == "Re: Question about HFpEF"
    assert back["Message-ID"] == mid and mid.endswith("@school.example.edu>")
    assert back["In-Reply-To"] == "<first@school.example.edu>"
    assert back["References"] == "<root@school.example.edu> <first@school.example.edu>"
    assert back["From"] == "Alex Kim <alex@school.example.edu>"
    assert back["Date"] == "Mon, 23 Nov 2026 14:00:00 +0000"


@pytest.mark.parametrize("evil", ["Dana\r\nBcc: victim@example.org", "Dana\nX-Evil: 1",
                                  "Dana\x00", "Dana\rBcc: a@b.example"])
def test_crlf_in_a_name_cannot_add_a_header(evil: str) -> None:
    with pytest.raises(HeaderInjectionError, match="To name"):
        compose(sender=ME, to=[Mailbox(DR.address, evil)], subject="Hi", body="x",
                message_id=new_message_id(ME.address), date=WHEN)


def test_crlf_in_subject_or_address_rejected() -> None:
    with pytest.raises(HeaderInjectionError, match="Subject"):
        compose(sender=ME, to=[DR], subject="Hi\r\nBcc: x@y.example", body="x",
                message_id=new_message_id(ME.address), date=WHEN)
    with pytest.raises(UsageError):
        compose(sender=ME, to=[Mailbox("a@b.example\r\nBcc: c@d.example")], subject="Hi",
                body="x", message_id=new_message_id(ME.address), date=WHEN)
    with pytest.raises(UsageError, match="not a valid email"):
        compose(sender=ME, to=[Mailbox("a b@c.example")], subject="Hi", body="x",
                message_id=new_message_id(ME.address), date=WHEN)


def test_unicode_names_are_encoded_not_rejected() -> None:
    msg = compose(sender=ME, to=[Mailbox(DR.address, "Dr. José Núñez")], subject="Café ☕",
                  body="Olá", message_id=new_message_id(ME.address), date=WHEN)
    raw = msg.as_bytes()
    assert b"=?utf-8?" in raw
    back = parse(raw)
    assert back["To"].addresses[0].display_name == "Dr. José Núñez"
    assert back["Subject"] == "Café ☕"


def test_attachments_are_carried() -> None:
    msg = compose(sender=ME, to=[DR], subject="Materials", body="Attached.",
                  message_id=new_message_id(ME.address), date=WHEN,
                  attachments=[Attachment("cv.pdf", b"%PDF-1.4 fake", "application", "pdf")])
    back = parse(msg.as_bytes())
    parts = [p for p in back.iter_attachments()]
    assert [p.get_filename() for p in parts] == ["cv.pdf"]
    assert parts[0].get_content() == b"%PDF-1.4 fake"
