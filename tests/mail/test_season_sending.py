"""Issue 11 at the send path, against the real aiosmtpd and Dovecot sandboxes: the packet
carries the files it says are attached (resolved at approval and again before sending;
a missing file holds it), one email a day per mentor across asks, and a draft left
waiting is brought up again after a few days.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import date, timedelta
from email.message import EmailMessage
from pathlib import Path

from maild.app.notify import Notifier
from maild.core import events as ev
from maild.core.actions import Level
from maild.core.model import DraftStatus, Intent
from maild.errors import UsageError
from maild.store.mentors import add_application
from tests.mail.conftest import Make, World
from tests.mail.worlds import add_mentor, draft_status, pending_draft, send


def files(tmp: Path) -> tuple[Path, Path]:
    folder = tmp / "documents"
    folder.mkdir(exist_ok=True)
    cv, statement = folder / "Alex_Kim_CV.pdf", folder / "Alex_Kim_statement.pdf"
    cv.write_bytes(b"%PDF-1.4\n% the CV\n" + bytes(range(256)))
    statement.write_bytes(b"%PDF-1.4\n% the personal statement\n")
    return cv, statement


def attachments_config(*paths: Path) -> str:
    keys = ("cv", "personal_statement", "extra")
    return "\n[attachments]\n" + "".join(f'{k} = "{p}"\n' for k, p in zip(keys, paths,
                                                                         strict=False))


def agreed_letter(world: World) -> int:
    """A letter ask to Dr. Rivera whose request went out and who said yes; its packet
    draft id."""
    add_application(world.store, "AHA Student Research Fellowship 2026", date(2027, 2, 26), 3,
                    "AHA", "Lakeside University", "Upload it to the AHA portal.",
                    world.clock())
    created = world.tracker.create_ask(1, "letter", world.clock(), application_id=1,
                                       deadline=date(2027, 2, 26),
                                       fields={"work_together": "the HFpEF registry"})
    world.tracker.run_due(world.clock())
    ask_id = created.ask.id or 0
    [request] = world.store.read.drafts.with_status(DraftStatus.PENDING)
    world.approve(request.id)
    assert send(world, request.id) == "sent"
    world.clock.advance(hours=2)
    world.tracker.handle(ask_id, ev.HumanReply(Intent.AGREE, at=world.clock()), world.clock())
    [packet] = world.store.read.drafts.with_status(DraftStatus.PENDING)
    return packet.id


PACKET_FIELDS = {"work_summary": "I built the registry's data pipeline.",
                 "talking_points": "- My analysis of readmissions."}


def parts(message: EmailMessage) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for part in message.iter_attachments():
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        found[str(part.get_filename())] = payload
    return found


def test_the_packet_attaches_what_it_lists_resolved_at_approval(make: Make,
                                                                tmp_path: Path) -> None:
    cv, statement = files(tmp_path)
    world, _notices = make(attachments_config(cv))
    packet_id = agreed_letter(world)
    drafted = world.store.read.drafts.get(packet_id)
    assert [Path(p).name for p in drafted.spec.attachments] == ["Alex_Kim_CV.pdf"]
    # Issue 11.3: the file list was fixed when the draft was made. The student adds the
    # personal statement to the config before approving: the packet lists and attaches it.
    world.config = replace(world.config, attachments={"cv": str(cv),
                                                      "personal_statement": str(statement)})
    world.tracker.config = world.config
    world.tracker.drafts.config = world.config  # type: ignore[attr-defined]
    world.approve(packet_id, **PACKET_FIELDS)
    approved = world.store.read.drafts.get(packet_id)
    assert "- Personal statement (draft): Alex_Kim_statement.pdf" in approved.spec.body
    world.clock.advance(days=1)
    assert send(world, packet_id) == "sent"
    received = world.smtp.messages[-1].message
    assert received.is_multipart()
    assert parts(received) == {"Alex_Kim_CV.pdf": cv.read_bytes(),
                               "Alex_Kim_statement.pdf": statement.read_bytes()}
    body = received.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    assert "I have attached:" in text and "I built the registry's data pipeline." in text


def test_a_missing_file_holds_the_packet_with_a_clear_reason(make: Make,
                                                             tmp_path: Path) -> None:
    cv, statement = files(tmp_path)
    world, notices = make(attachments_config(cv, statement))
    packet_id = agreed_letter(world)
    statement.rename(statement.with_suffix(".moved"))
    # At approval: refused, naming the file.
    try:
        world.approve(packet_id, **PACKET_FIELDS)
    except UsageError as exc:
        assert "Alex_Kim_statement.pdf cannot be read" in str(exc)
    else:
        raise AssertionError("a packet with a missing file was approved")
    statement.with_suffix(".moved").rename(statement)
    world.approve(packet_id, **PACKET_FIELDS)
    # Gone again right before sending: held (not failed), the reason shown, told once.
    statement.rename(statement.with_suffix(".moved"))
    world.clock.advance(days=1)
    sent_before = len(world.smtp.messages)
    assert send(world, packet_id) == "deferred"
    assert asyncio.run(world.sender().send_ready()).deferred == 0  # held until later
    held = world.store.read.drafts.get(packet_id)
    assert held.status == "approved" and len(world.smtp.messages) == sent_before
    assert any("Alex_Kim_statement.pdf cannot be read" in f for f in held.spec.missing_fields)
    told = [t for level, t in notices.told if level is Level.WARNING and "is held" in t]
    assert len(told) == 1 and "Alex_Kim_statement.pdf" in told[0]
    # Put back: the next try (an hour later) sends it with both files.
    statement.with_suffix(".moved").rename(statement)
    world.clock.advance(hours=1, minutes=1)
    assert send(world, packet_id) == "sent"
    assert set(parts(world.smtp.messages[-1].message)) == {"Alex_Kim_CV.pdf",
                                                            "Alex_Kim_statement.pdf"}
    assert world.store.read.drafts.get(packet_id).spec.missing_fields == ()


def test_one_email_a_day_per_mentor_across_asks(make: Make) -> None:
    # Issue 11.6: an update and a final letter reminder went to one mentor on one day.
    world, notices = make()
    first = pending_draft(world, 1)
    world.approve(first, paper_question="How did you handle missing data?")
    update = world.tracker.create_ask(1, "update", world.clock(),
                                      fields={"update_line": "our abstract was accepted"})
    world.tracker.run_due(world.clock())
    [second] = [d.id for d in world.store.read.drafts.with_status(DraftStatus.PENDING)
                if d.ask_id == update.ask.id]
    world.approve(second)
    report = asyncio.run(world.sender().send_ready())
    assert (report.sent, report.deferred) == (1, 1)
    to_rivera = [m for m in world.smtp.messages if "drivera@med.example.edu" in m.rcpt_tos]
    assert len(to_rivera) == 1
    waiting = world.store.read.drafts.get(second)
    assert waiting.status == "approved" and waiting.send_after is not None
    # Tuesday 10:00 in New York -> Wednesday 08:00, and the user is told why.
    assert waiting.send_after.astimezone(world.clock().tzinfo).isoformat().startswith(
        "2026-11-18T13:00")
    assert any("one email a day to this mentor" in t and "moves to Wed 2026-11-18 08:00" in t
               for _level, t in notices.told)
    world.clock.now = waiting.send_after
    assert asyncio.run(world.sender().send_ready()).sent == 1
    assert draft_status(world, second) == "sent"


def test_a_draft_left_waiting_is_brought_up_again_once(make: Make) -> None:
    world, _notices = make()
    draft_id = pending_draft(world, 1)
    shown: list[str] = []
    notifier = Notifier(world.config, which=lambda _n: None)
    notifier.tell = lambda text, level=Level.INFO: shown.append(text) or False  # type: ignore[method-assign]
    assert [w.id for w in notifier.announce_waiting(world.store, world.clock())] == [draft_id]
    later = world.clock() + timedelta(days=2)
    assert notifier.announce_waiting(world.store, later) == []
    later = world.clock() + timedelta(days=3, hours=1)
    reminded = notifier.announce_waiting(world.store, later)
    assert [w.id for w in reminded] == [draft_id]
    assert "waited 3+ days for your approval" in shown[-1]
    assert notifier.announce_waiting(world.store, later + timedelta(days=5)) == []


def _approved_letter_request(world: World, mentor_id: int, deadline: date) -> int:
    """A letter ask to ``mentor_id`` with its request drafted and approved; the draft id."""
    app_id = add_application(world.store, f"Fellowship due {deadline}", deadline, 3, "AHA",
                             "Lakeside University", "Upload it to the portal.", world.clock())
    created = world.tracker.create_ask(mentor_id, "letter", world.clock(),
                                       application_id=app_id, deadline=deadline,
                                       fields={"work_together": "the HFpEF registry"})
    world.tracker.run_due(world.clock())
    [request] = [d.id for d in world.store.read.drafts.with_status(DraftStatus.PENDING)
                 if d.ask_id == created.ask.id]
    world.approve(request)
    return request


def _message_ids(world: World) -> list[str]:
    return [str(m.message["Message-ID"]) for m in world.smtp.messages]


def test_one_email_a_day_lets_the_deadline_bound_mail_go_first(make: Make) -> None:
    # Session 2's gap: the earliest-created draft won the day, so a cold email approved
    # first pushed a letter request (deadline in February) to the next day.
    world, notices = make()
    cold = pending_draft(world, 1)
    world.approve(cold, paper_question="How did you handle missing data?")
    world.clock.advance(minutes=5)
    letter = _approved_letter_request(world, 1, date(2027, 2, 26))
    report = asyncio.run(world.sender().send_ready())
    assert (report.sent, report.deferred) == (1, 1)
    assert _message_ids(world) == [world.store.read.drafts.get(letter).spec.message_id]
    assert draft_status(world, letter) == "sent" and draft_status(world, cold) == "approved"
    assert any(f"Draft {cold} " in t and "one email a day to this mentor" in t
               for _level, t in notices.told)


def test_the_daily_cap_serves_the_nearest_deadline_then_the_earliest_due(make: Make) -> None:
    world, _notices = make(extra="\n[sending]\ndaily_cap = 1\n")
    for n in (2, 3, 4):
        add_mentor(world, n)
    cold = pending_draft(world, 2)
    world.approve(cold, paper_question="How did you handle missing data?")
    world.clock.advance(minutes=5)
    later = _approved_letter_request(world, 3, date(2027, 2, 26))
    world.clock.advance(minutes=5)
    nearer = _approved_letter_request(world, 4, date(2027, 1, 29))
    sent: list[str] = []
    for _day in range(3):
        assert asyncio.run(world.sender().send_ready()).sent == 1
        sent.append(_message_ids(world)[-1])
        world.clock.advance(days=1, minutes=1)  # the cap counts the last 24 hours
    by_id = {world.store.read.drafts.get(d).spec.message_id: d for d in (cold, later, nearer)}
    assert [by_id[m] for m in sent] == [nearer, later, cold]
