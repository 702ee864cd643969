"""The exact header bytes the SMTP server receives: a subject that fits RFC 5322's line
limit stays on the ``Subject:`` line.

Python's email package folds at 78 characters and, for a value that fits 78 only on a
line of its own (a 70-77 character subject), breaks right after the colon, leaving
``Subject:`` empty on its line. maild writes plain-ASCII headers on one line up to 998
characters; non-ASCII subjects keep RFC 2047's encoded-words of at most 75 characters.
"""

from __future__ import annotations

import re

import pytest

from maild.app import review
from tests.mail.conftest import World
from tests.mail.worlds import pending_draft, send


def _sent_with_subject(world: World, subject: str) -> bytes:
    """Send Dr. Rivera's cold email with ``subject`` (edited by the user); the header
    block the server received."""
    draft_id = pending_draft(world, 1)
    fields = {"paper_question": "How did you handle missing data?"}
    spec = review.rendered(world.store, world.tracker, world.store.read.drafts.get(draft_id),
                           fields)
    review.approve(world.store, world.tracker, draft_id, world.clock(), fields,
                   review.Edit(subject=subject, body=spec.body, to=spec.to_addrs))
    assert send(world, draft_id) == "sent"
    [received] = world.smtp.messages
    assert received.message["Subject"] == subject
    return received.raw.split(b"\r\n\r\n", 1)[0]


def _subject_of_length(n: int) -> str:
    words = "Re: Question about your 2025 paper on HFpEF registries and the readmission data"
    text = (words * 20)[:n]
    return text[:-1] + "x" if text.endswith(" ") else text


@pytest.mark.parametrize("length", [69, 70, 74, 77, 78, 79, 200])
def test_an_ascii_subject_stays_on_the_subject_line(world: World, length: int) -> None:
    subject = _subject_of_length(length)
    assert len(subject) == length
    head = _sent_with_subject(world, subject)
    assert b"\r\nSubject: " + subject.encode() + b"\r\n" in head
    assert re.search(rb"\r\nSubject:\r\n", head) is None
    assert all(len(line) <= 998 for line in head.split(b"\r\n"))


def test_a_subject_longer_than_998_characters_is_folded(world: World) -> None:
    subject = _subject_of_length(1200)
    head = _sent_with_subject(world, subject)
    lines = head.split(b"\r\n")
    assert all(len(line) <= 998 for line in lines)
    start = next(i for i, line in enumerate(lines) if line.startswith(b"Subject: Re:"))
    assert lines[start + 1].startswith(b" ")  # a continuation line: folded, not cut


def test_a_non_ascii_subject_keeps_short_encoded_words(world: World) -> None:
    subject = "Re: Résumé question about your HFpEF registry and the readmission data ok"
    assert len(subject) == 73
    head = _sent_with_subject(world, subject)
    line = next(x for x in head.split(b"\r\n") if x.startswith(b"Subject:"))
    assert line.startswith(b"Subject: Re: =?utf-8?")  # not left empty on its line
    assert all(len(word) <= 75 for word in re.findall(rb"=\?[^?]+\?[qQbB]\?[^?]*\?=", head))
