"""Bad mail and concurrent syncs against the real Dovecot: nothing blocks a folder, and
nothing is applied twice.

* A message whose handling fails is recorded and passed over (invariants 4 and 5); if
  it answers an ask, the ask still learns that a person wrote (an "unclear" reply,
  flagged for review), so the nudges stop.
* The daemon's INBOX watcher and the sender's pre-send re-check may sync the same
  folder at the same moment, each with its own database connection: a reply is applied
  once, and the folder's cursor never moves back.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from maild import paths
from maild.app import inbox as inbox_module
from maild.app import tracker as tracker_module
from maild.app.drafting import TemplateDrafts
from maild.app.inbox import Inbox
from maild.app.tracker import Tracker
from maild.core import events as ev
from maild.core.actions import Level
from maild.core.engine import decide as real_decide
from maild.core.matching import Match
from maild.core.model import Intent
from maild.sandbox.dovecot import DovecotServer
from maild.sandbox.mail import make_message
from maild.sandbox.smtp import SmtpSandbox
from maild.store import Store
from maild.understand.headers import Headers
from maild.understand.inspect import inspect_message as real_inspect
from tests.mail.conftest import MENTOR, PW_ENV, World
from tests.mail.worlds import Notices, add_mentor, build_world
from tests.rawdb import raw

# Junk that only looks like it might be a letter notice: its first line is no header,
# so the classifier refuses it as "not an email" (MessageParseError).
JUNK = (b" this line is no header\r\nFrom: promo@spam.example\r\nTo: alex@school.example.edu\r\n"
        b"Subject: Your letter of recommendation guide\r\nMessage-ID: <junk1@spam.example>\r\n"
        b"\r\nBuy now.\r\n")


@dataclass
class Recorder(Notices):
    """Notices, and whether the database was inside a transaction when each was told."""

    store: Store | None = None
    inside: list[bool] = field(default_factory=list)

    def __call__(self, level: Level, text: str) -> None:
        super().__call__(level, text)
        self.inside.append(bool(self.store and self.store.in_transaction))


@pytest.fixture
def recorded(tmp_path: Path, dovecot: DovecotServer, smtp_for_user: SmtpSandbox,
             imap_user: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[World, Recorder]]:
    monkeypatch.setenv(PW_ENV, dovecot.password)
    recorder = Recorder()
    world = build_world(tmp_path, dovecot, smtp_for_user, imap_user, notices=recorder)
    recorder.store = world.store
    yield world, recorder
    world.store.close()


def events(world: World, kind: str) -> list[dict[str, Any]]:
    return [json.loads(r[0]) for r in raw(world.store).execute(
        "SELECT detail FROM events WHERE type = ? ORDER BY id", (kind,))]


def top_uid(world: World) -> int:
    with world.connect() as conn:
        conn.select("INBOX")
        return max(conn.search(["ALL"]))


def cursor_uid(world: World) -> int:
    cursor = world.inbox().cursor("INBOX")
    assert cursor is not None
    return cursor.highest_uid


def needs_review(world: World, ask_id: int) -> bool:
    return bool(raw(world.store).execute("SELECT needs_review FROM asks WHERE id = ?",
                                       (ask_id,)).fetchone()[0])


def message_row(world: World, text: str) -> Any:
    return raw(world.store).execute("SELECT * FROM messages WHERE direction = 'in' AND "
                                  "reply_text LIKE ?", (f"%{text}%",)).fetchone()


# -- a message whose handling fails ---------------------------------------------------


def test_unparseable_junk_is_skipped_and_the_reply_after_it_applied(world: World) -> None:
    ask_id, first_id = world.cold_ask_sent()
    world.deliver(JUNK)
    world.deliver(world.mentor_writes("Happy to meet! Does Thursday at 3pm work?",
                                      in_reply_to=first_id))
    world.sync()  # no exception: the folder is not blocked
    [skipped] = events(world, "message_skipped")
    assert skipped["reason"].startswith("MessageParseError: ")
    assert cursor_uid(world) == top_uid(world)
    assert world.steps(ask_id)["nudge"] == "cancelled"
    # Nothing is retried: the next sync sees nothing new.
    world.sync()
    assert len(events(world, "message_skipped")) == 1


def test_a_broken_template_override_does_not_hold_up_the_reply(world: World) -> None:
    ask_id = world.tracker.create_ask(1, "letter", world.clock(),
                                      deadline=date(2027, 3, 1)).ask.id or 0
    overrides = paths.templates_dir(world.home)
    overrides.mkdir(parents=True, exist_ok=True)
    (overrides / "letter_packet.j2").write_text("Subject: materials {{ mentor.name\n\nbody\n")
    world.deliver(world.mentor_writes("Yes, I would be happy to write you a strong letter.",
                                      subject="Re: Letter of recommendation"))
    world.deliver(make_message(sender="someone@else.example", to=world.account.email,
                               subject="Lunch?", body="Are you free?", date=world.clock()))
    world.sync()  # the TemplateError no longer escapes: the folder moves on
    assert cursor_uid(world) == top_uid(world)
    assert world.state(ask_id) == "agreed"
    # The packet waits for the user, with the template's problem named.
    [packet] = [d for d in world.store.read.drafts.with_status("pending")
                if d.ask_id == ask_id and d.spec.template == "letter_packet"]
    assert any(m.startswith("template: ") for m in packet.spec.missing_fields)
    assert events(world, "message_skipped") == []


def test_a_reply_that_cannot_be_applied_counts_as_an_unclear_answer(
        recorded: tuple[World, Recorder], monkeypatch: pytest.MonkeyPatch) -> None:
    world, told = recorded
    ask_id, first_id = world.cold_ask_sent()

    def engine_bug(ask: Any, event: Any, now: Any, rules: Any) -> Any:
        if isinstance(event, ev.HumanReply) and event.intent is not Intent.UNCLEAR:
            raise RuntimeError("engine bug")
        return real_decide(ask, event, now, rules)

    monkeypatch.setattr(tracker_module, "decide", engine_bug)
    told.told.clear()
    world.deliver(world.mentor_writes("Yes, I would be glad to have you in the lab.",
                                      in_reply_to=first_id))
    world.sync()
    # Recorded, and the ask knows a person answered: the nudges stop, the user reads it.
    row = message_row(world, "glad to have you")
    assert row is not None and row["ask_id"] == ask_id
    [skipped] = events(world, "message_skipped")
    assert skipped["reason"].startswith("could not be applied: RuntimeError: engine bug")
    assert skipped["fallback"] == "HumanReply(unclear)"
    assert [e["intent"] for e in events(world, "HumanReply")] == ["unclear"]
    assert world.steps(ask_id)["nudge"] == "cancelled"
    assert needs_review(world, ask_id)
    assert cursor_uid(world) == top_uid(world)
    # The user was told, after the commit.
    assert told.told and told.inside == [False] * len(told.told)


def test_a_reply_that_cannot_be_classified_counts_as_an_unclear_answer(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    ask_id, first_id = world.cold_ask_sent()

    def classifier_bug(raw: bytes) -> Any:
        if b"EXPLODE" in raw:
            raise RuntimeError("classifier bug")
        return real_inspect(raw)

    monkeypatch.setattr(inbox_module, "inspect_message", classifier_bug)
    world.deliver(world.mentor_writes("EXPLODE yes, come by on Monday", in_reply_to=first_id))
    world.sync()
    row = raw(world.store).execute("SELECT * FROM messages WHERE direction = 'in' AND "
                                 "ask_id = ?", (ask_id,)).fetchone()
    assert row is not None and row["kind"] is None
    [skipped] = events(world, "message_skipped")
    assert skipped["reason"].startswith("could not be classified: RuntimeError")
    assert [e["intent"] for e in events(world, "HumanReply")] == ["unclear"]
    assert world.steps(ask_id)["nudge"] == "cancelled"
    assert needs_review(world, ask_id)
    assert cursor_uid(world) == top_uid(world)


# -- two syncs of one folder at once --------------------------------------------------


@pytest.fixture
def other(world: World) -> Iterator[Inbox]:
    """A second sync of the same account: its own database connection and tracker, as
    the sender's pre-send re-check has in the daemon."""
    store = Store.open(world.home / "maild.db")
    tracker = Tracker(store, world.config, TemplateDrafts(world.home, world.config))
    yield Inbox(store, tracker, world.config, world.account, world.clock)
    store.close()


def sync_other_during_match(world: World, other: Inbox, first: Inbox,
                            monkeypatch: pytest.MonkeyPatch, before: bytes | None = None) -> None:
    """Run ``other``'s whole sync while ``first`` is between matching and committing."""
    real_match = first.match
    ran: list[object] = []

    def match_then_the_other_sync(headers: Headers, role: str) -> Match | None:
        found = real_match(headers, role)
        if not ran:
            if before is not None:
                world.deliver(before)
            with world.connect() as conn:
                ran.append(other.sync(conn, "INBOX", "inbox"))
        return found

    monkeypatch.setattr(first, "match", match_then_the_other_sync)


def test_a_reply_seen_by_two_syncs_at_once_is_applied_once(
        world: World, other: Inbox, monkeypatch: pytest.MonkeyPatch) -> None:
    add_mentor(world, 2)
    add_mentor(world, 3)
    ask_id, first_id = world.cold_ask_sent()
    world.deliver(world.mentor_writes(
        "Thank you for reaching out, but unfortunately I am not taking on any new "
        "students this year.", in_reply_to=first_id))
    watcher = world.inbox()
    sync_other_during_match(world, other, watcher, monkeypatch)
    with world.connect() as conn:
        watcher.sync(conn, "INBOX", "inbox")
    db = raw(world.store)
    assert db.execute("SELECT count(*) FROM messages WHERE direction = 'in'").fetchone()[0] == 1
    assert len(events(world, "HumanReply")) == 1
    # One "no", one next candidate started, one thank-you draft.
    assert len(events(world, "suggestion")) == 1
    assert db.execute("SELECT count(*) FROM asks").fetchone()[0] == 2
    thanks = [d for d in world.store.read.drafts.with_status("pending")
              if d.ask_id == ask_id and d.spec.template == "decline_thanks"]
    assert len(thanks) == 1
    assert world.state(ask_id) == "declined"


def test_the_cursor_never_moves_back(world: World, other: Inbox,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    world.deliver(make_message(sender="someone@else.example", to=world.account.email,
                               subject="Lunch?", body="Are you free?", date=world.clock()))
    watcher = world.inbox()
    # While the watcher handles that message, another one arrives and the other sync
    # takes both; the watcher's own view of the folder ends at the first.
    sync_other_during_match(world, other, watcher, monkeypatch, before=make_message(
        sender="someone@else.example", to=world.account.email, subject="Coffee?",
        body="Or coffee?", date=world.clock()))
    with world.connect() as conn:
        watcher.sync(conn, "INBOX", "inbox")
    assert cursor_uid(world) == top_uid(world)


def test_a_reply_without_message_id_seen_by_two_syncs_is_applied_once(
        world: World, other: Inbox, monkeypatch: pytest.MonkeyPatch) -> None:
    # Nothing to look up by: only the message row's (folder, UID) tells them apart.
    ask_id, _first_id = world.cold_ask_sent()
    world.deliver(
        f"From: Dana Rivera <{MENTOR}>\r\nTo: {world.account.email}\r\n"
        "Subject: Re: Question\r\nDate: Tue, 17 Nov 2026 10:30:00 -0500\r\n"
        "Content-Type: text/plain\r\n\r\nYes, happy to meet. Does Thursday work?\r\n".encode())
    watcher = world.inbox()
    sync_other_during_match(world, other, watcher, monkeypatch)
    with world.connect() as conn:
        watcher.sync(conn, "INBOX", "inbox")
    assert len(events(world, "message_in")) == 1
    assert len(events(world, "HumanReply")) == 1
    assert world.steps(ask_id)["nudge"] == "cancelled"
