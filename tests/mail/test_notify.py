"""Telling the user that drafts wait: which drafts, once each; desktop command or log
line, never an exception; the daily digest email, against the real SMTP sandbox.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import pytest

from maild.adapters.credentials import secret_for
from maild.app import lifecycle
from maild.app.notify import Notifier, desktop_command
from maild.core.actions import Level
from maild.sandbox.dovecot import DovecotServer
from maild.sandbox.smtp import SmtpSandbox
from tests.mail.conftest import PW_ENV, World
from tests.mail.worlds import add_mentor, approved_draft, build_world, pending_draft, send


def which(name: str) -> str:
    return f"/usr/bin/{name}"


class Runs:
    def __init__(self, fail: BaseException | None = None) -> None:
        self.commands: list[list[str]] = []
        self.fail = fail

    def __call__(self, argv: Sequence[str]) -> None:
        self.commands.append(list(argv))
        if self.fail is not None:
            raise self.fail


def test_desktop_command_per_platform() -> None:
    text = 'Dr. "Rivera" said: end tell'
    linux = desktop_command("maild", text, platform="linux", env={"DISPLAY": ":0"}, which=which)
    assert linux == ["/usr/bin/notify-send", "--app-name=maild", "maild", text]
    # No graphical session (a server, a systemd user unit without one): no notify-send.
    assert desktop_command("maild", text, platform="linux", env={}, which=which) is None
    assert desktop_command("maild", text, platform="linux", env={"DISPLAY": ":0"},
                           which=lambda _n: None) is None
    mac = desktop_command("maild", text, platform="darwin", env={}, which=which)
    assert mac is not None and mac[0] == "/usr/bin/osascript"
    # The text is an argument, never part of the script.
    assert mac[-1] == text and all(text not in part for part in mac[:-1])
    assert desktop_command("maild", text, platform="win32", env={}, which=which) is None


def test_tell_never_raises(world: World, caplog: pytest.LogCaptureFixture) -> None:
    hung = Runs(fail=subprocess.TimeoutExpired(["notify-send"], 5))
    notifier = Notifier(world.config, platform="linux", env={"DISPLAY": ":0"}, which=which,
                        run=hung)
    with caplog.at_level("INFO", logger="maild.app.notify"):
        assert notifier.tell("2 drafts wait") is False
        notifier(Level.WARNING, "The nudge mail was not sent.")  # the tracker's hook
    assert len(hung.commands) == 2
    assert "notice: 2 drafts wait" in caplog.text
    assert "The nudge mail was not sent." in caplog.text
    # Nowhere to show it: only the log line.
    quiet = Notifier(world.config, platform="linux", env={}, which=which, run=Runs())
    assert quiet.tell("hello") is False


def test_waiting_drafts_are_announced_once_each(world: World) -> None:
    runs = Runs()
    notifier = Notifier(world.config, platform="linux", env={"DISPLAY": ":0"}, which=which,
                        run=runs)
    now = world.clock
    first = pending_draft(world, 1)
    snoozed = pending_draft(world, add_mentor(world, 2))
    lifecycle.snooze(world.store, snoozed, now() + timedelta(days=2), now())
    told = notifier.announce_waiting(world.store, now())
    assert [w.id for w in told] == [first]  # the snoozed one is not waiting yet
    assert "1 draft waits for your approval" in runs.commands[-1][-1]
    assert "Dana Rivera" in runs.commands[-1][-1]
    assert notifier.announce_waiting(world.store, now()) == []  # not again
    # An approved-then-uncertain send needs the user too, and a new draft arrives.
    third = pending_draft(world, add_mentor(world, 3))
    uncertain = approved_draft(world, add_mentor(world, 4))
    world.smtp.disconnect_after_next_data()
    assert send(world, uncertain) == "uncertain"
    told = notifier.announce_waiting(world.store, now())
    assert sorted((w.id, w.status) for w in told) == [(third, "pending"),
                                                      (uncertain, "uncertain")]
    assert "1 send needs checking" in runs.commands[-1][-1]
    # Once the snooze ends, the snoozed draft is announced.
    world.clock.advance(days=2, minutes=1)
    assert [w.id for w in notifier.announce_waiting(world.store, now())] == [snoozed]
    assert len(runs.commands) == 3


@pytest.fixture
def digest_world(tmp_path: Path, dovecot: DovecotServer, smtp_for_user: SmtpSandbox,
                 imap_user: str, monkeypatch: pytest.MonkeyPatch) -> World:
    monkeypatch.setenv(PW_ENV, dovecot.password)
    return build_world(tmp_path, dovecot, smtp_for_user, imap_user,
                       extra="\n[sending]\ndigest = true\n")


def test_daily_digest_goes_to_the_user_once_a_day(digest_world: World) -> None:
    world = digest_world
    notifier = Notifier(world.config, secret=secret_for, platform="linux", env={},
                        run=Runs())
    assert asyncio.run(notifier.send_digest(world.store, world.clock())) is False  # nothing
    draft_id = pending_draft(world, 1)
    subject = world.store.read.drafts.get(draft_id).spec.subject
    assert asyncio.run(notifier.send_digest(world.store, world.clock())) is True
    [received] = world.smtp.wait_for(1)
    assert received.rcpt_tos == ("alex@school.example.edu",)
    assert received.message["To"] == "Alex Kim <alex@school.example.edu>"
    assert received.message["Subject"] == "maild: 1 draft waiting for approval"
    body = received.message.get_body().get_content()
    assert f"#{draft_id} to Dana Rivera (ask 1): {subject} (to approve)" in body
    assert "maild approve ID" in body
    # Same day (New York time): no second digest, even hours later.
    world.clock.advance(hours=8)
    assert asyncio.run(notifier.send_digest(world.store, world.clock())) is False
    # The next day: another one.
    world.clock.advance(hours=16)
    assert asyncio.run(notifier.send_digest(world.store, world.clock())) is True
    assert len(world.smtp.wait_for(2)) == 2
    # The digest never reaches a mentor, and it is not mistaken for mail to match.
    assert all(m.rcpt_tos == ("alex@school.example.edu",) for m in world.smtp.messages)


def test_no_digest_unless_configured(world: World) -> None:
    pending_draft(world, 1)
    notifier = Notifier(world.config, secret=secret_for, platform="linux", env={},
                        run=Runs())
    assert asyncio.run(notifier.send_digest(world.store, world.clock())) is False
    assert world.smtp.messages == []


def test_digest_failure_is_retried_later(digest_world: World) -> None:
    world = digest_world
    pending_draft(world, 1)
    notifier = Notifier(world.config, secret=secret_for, platform="linux", env={},
                        run=Runs())
    world.smtp.fail_next("DATA", "451 4.3.0 Try again later")
    assert asyncio.run(notifier.send_digest(world.store, world.clock())) is False
    assert asyncio.run(notifier.send_digest(world.store, world.clock())) is True
    assert len(world.smtp.messages) == 1
