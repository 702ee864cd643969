"""Reading the headers a message is matched by (``maild.understand.headers``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from maild.understand.headers import MAX_THREAD_IDS, Headers, parse_headers, worth_reading


def test_thread_headers_folded_over_lines_and_odd_spacing() -> None:
    raw = (b"Message-ID:\r\n <CAF=abc+1@mail.gmail.com>\r\n"
           b"In-Reply-To: <first@school.example.edu> (Dana Rivera's message of Tue)\r\n"
           b"References: <first@school.example.edu>\r\n\t<second@med.example.edu>\r\n"
           b"  <third@school.example.edu>\r\n"
           b"From: \"Rivera, Dana\" <DRivera@Med.Example.EDU>\r\n"
           b"To: Student <student@school.example.edu>, other@x.example\r\n"
           b"Cc: office.rivera@med.example.edu\r\n"
           b"Subject: Re: Question\r\nDate: Tue, 17 Nov 2026 10:05:00 -0500\r\n\r\n")
    h = parse_headers(raw)
    assert h.message_id == "<CAF=abc+1@mail.gmail.com>"
    assert h.in_reply_to == ("<first@school.example.edu>",)
    assert h.references == ("<first@school.example.edu>", "<second@med.example.edu>",
                            "<third@school.example.edu>")
    # In-Reply-To first, then the References not already named.
    assert h.thread_ids == ("<first@school.example.edu>", "<second@med.example.edu>",
                            "<third@school.example.edu>")
    assert h.from_addr == "drivera@med.example.edu"
    assert h.to_addrs == ("student@school.example.edu", "other@x.example",
                          "office.rivera@med.example.edu")
    assert h.date == datetime(2026, 11, 17, 10, 5, tzinfo=timezone(timedelta(hours=-5)))


def test_missing_and_malformed_headers_read_as_empty() -> None:
    h = parse_headers(b"From: not an address\r\nDate: yesterday-ish\r\n"
                      b"Message-ID: no-angle-brackets@x\r\nReferences: <<>>\r\n\r\n")
    assert (h.message_id, h.in_reply_to, h.references, h.from_addr, h.date) == \
        (None, (), (), "", None)
    assert parse_headers(b"").subject == ""


def test_a_date_without_zone_is_taken_as_utc() -> None:
    h = parse_headers(b"Date: Tue, 17 Nov 2026 10:05:00 -0000\r\n\r\n")
    assert h.date == datetime(2026, 11, 17, 10, 5, tzinfo=UTC)


def test_thread_ids_keep_both_ends_of_a_huge_thread() -> None:
    refs = tuple(f"<m{i}@x>" for i in range(1000))
    h = Headers("<n@x>", (), refs, "a@x", (), "", None, "")
    ids = h.thread_ids
    assert len(ids) == MAX_THREAD_IDS
    assert ids[0] == "<m0@x>" and ids[-1] == "<m999@x>"


def test_worth_reading_bounces_and_notices_only() -> None:
    def h(sender: str, subject: str = "Hello", ctype: str = "text/plain") -> Headers:
        return Headers(None, (), (), sender, (), subject, None, ctype)

    assert worth_reading(h("MAILER-DAEMON@mx.example.edu"))
    assert worth_reading(h("postmaster@mx.example.edu"))
    assert worth_reading(h("x@y", ctype="multipart/report; report-type=delivery-status"))
    assert worth_reading(h("noreply@eras.example.org", "Letter of Recommendation received"))
    assert not worth_reading(h("friend@x.example", "Lunch on Friday?"))
