"""The daemon with an OAuth2 account for over an hour of simulated time: it keeps
watching, matching replies and sending through XOAUTH2 while its 20-minute access
tokens expire and are renewed, and while Dovecot drops every connection twice.

maild's clock and the provider's are the same virtual clock (120 x real time), so the
provider really expires the tokens the daemon holds; Dovecot and the SMTP server ask
the provider about every login. Nothing here is a stub.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from maild import paths
from maild.app import review
from maild.app.drafting import TemplateDrafts
from maild.app.tracker import Tracker
from maild.clock import Clock
from maild.config import load
from maild.core.actions import Level
from maild.core.entries import MentorInput
from maild.runtime.daemon import Daemon, DaemonOptions
from maild.runtime.demo import SAMPLE_FIELDS, TZ
from maild.runtime.watcher import WatchTiming
from maild.sandbox.dovecot import DovecotServer
from maild.sandbox.mail import append, make_message
from maild.sandbox.oauth import OAuthSandbox
from maild.sandbox.smtp import ReceivedMessage, SmtpSandbox
from maild.store import Store
from maild.store.mentors import add_mentors
from tests.oauth.conftest import Keyring, oauth_config, signed_in
from tests.rawdb import raw

START = datetime(2026, 11, 17, 10, 0, tzinfo=TZ)  # a Tuesday morning, in the send window
SPEED = 120.0                                     # one simulated hour in 30 s
LIFETIME = 20 * 60                                # access tokens live 20 simulated minutes
MENTORS = [f"m{n}@med.example.edu" for n in range(1, 6)]
# Loggers of the servers running in this process (the provider issues and checks tokens,
# so its debug lines name them); everything else is maild and its client libraries.
PROVIDER_SIDE = ("authlib.oauth2.rfc", "maild.sandbox", "werkzeug", "mail.log")


class Run:
    """The script's view of the running daemon."""

    def __init__(self, store: Store, tracker: Tracker, clock: Clock, smtp: SmtpSandbox,
                 task: asyncio.Task[int], poke: Callable[[], None]) -> None:
        self.store, self.tracker, self.clock, self.smtp, self.task = (
            store, tracker, clock, smtp, task)
        # The daemon sleeps until something is due: a change made here tells it, as the
        # CLI does through the wake pipe.
        self.poke = poke

    def minute(self) -> float:
        return (self.clock.now() - START).total_seconds() / 60

    async def until(self, what: str, check: Callable[[], bool], timeout: float = 60) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not check():
            if self.task.done():
                self.task.result()
                raise AssertionError(f"the daemon stopped before {what}")
            assert loop.time() < deadline, f"timed out waiting for {what}"
            self.approve_pending()
            await asyncio.sleep(0.05)

    async def at_minute(self, minute: float) -> None:
        await self.until(f"minute {minute}", lambda: self.minute() >= minute,
                         timeout=minute * 60 / SPEED + 60)

    def approve_pending(self) -> None:
        for draft in self.store.read.drafts.with_status("pending"):
            review.approve(self.store, self.tracker, draft.id, self.clock.now(), SAMPLE_FIELDS)
            self.poke()

    def ask(self, mentor: int) -> None:
        self.tracker.create_ask(mentor, "cold", self.clock.now())
        self.tracker.run_due(self.clock.now())
        self.poke()

    def sent_to(self, mentor: int) -> ReceivedMessage | None:
        return next((m for m in self.smtp.messages
                     if MENTORS[mentor - 1] in str(m.message["To"])), None)

    def nudge_status(self, ask_id: int) -> str | None:
        row = raw(self.store).execute("SELECT status FROM steps WHERE ask_id = ? AND name = "
                                    "'nudge' ORDER BY id DESC", (ask_id,)).fetchone()
        return None if row is None else str(row[0])


def text(record: logging.LogRecord) -> str:
    """A log record as a handler would write it (imaplib's own records do not format)."""
    try:
        return record.getMessage()
    except TypeError:
        return f"{record.msg} {record.args}"


def reply(dovecot: DovecotServer, user: str, sent: ReceivedMessage, when: datetime) -> None:
    original = str(sent.message["Message-ID"])
    raw = make_message(sender=str(sent.message["To"]), to="alex@school.example.edu",
                       subject="Re: " + str(sent.message["Subject"]),
                       body="Happy to talk. Does Thursday work?", in_reply_to=original,
                       references=[original], date=when)
    append(dovecot.host, dovecot.port, user, dovecot.password, "INBOX", raw)


@pytest.mark.slow
def test_daemon_reads_and_sends_for_an_hour_across_token_renewals(
        tmp_path: Path, imap_user: str, dovecot_oauth: DovecotServer, smtp_oauth: SmtpSandbox,
        provider: OAuthSandbox, file_keyring: Keyring, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    home = tmp_path / "home"
    paths.ensure_home(home)
    paths.config_path(home).write_text(
        oauth_config(imap_user, dovecot_oauth, smtp_oauth, provider), encoding="utf-8")
    config = load(paths.config_path(home))
    clock = Clock.starting_at(START, speed=SPEED)
    provider.clock = lambda: clock.now().timestamp()
    provider.access_lifetime = LIFETIME
    signed_in(config.accounts[0], provider)
    notices: list[tuple[Level, str]] = []
    figures: dict[str, float] = {}

    async def scenario() -> None:
        store = Store.open(paths.database_path(home))
        tracker = Tracker(store, config, TemplateDrafts(home, config))
        add_mentors(store, [MentorInput(name=f"Mentor Number{n}", title="Dr.",
                                        emails=(MENTORS[n - 1],), specialty="cardiology",
                                        connection_point=f"paper number {n}")
                            for n in range(1, 6)], clock.now())
        daemon = Daemon(home, {}, clock, DaemonOptions(
            timing=WatchTiming(idle_slice=0.2, backoff_base=0.2, backoff_cap=2.0)),
            notify=lambda level, text: notices.append((level, text)))
        began = asyncio.get_running_loop().time()
        task = asyncio.create_task(daemon.run())
        run = Run(store, tracker, clock, smtp_oauth, task, daemon.poke)
        try:
            await run.until("the daemon to be ready", daemon.ready.is_set)
            # Minute 0: two asks go out on the first access token.
            run.ask(1)
            run.ask(2)
            await run.until("the first two emails", lambda: len(smtp_oauth.messages) == 2)
            first_token = daemon.secrets.cached(config.accounts[0])

            # Minute 22: that token has expired at the provider. A reply still arrives
            # on the IDLE connection; a new ask needs a renewed token to go out.
            await run.at_minute(22)
            reply(dovecot_oauth, imap_user, run.sent_to(1), clock.now())  # type: ignore[arg-type]
            await run.until("mentor 1's reply to be matched",
                            lambda: run.nudge_status(1) == "cancelled")
            run.ask(3)
            await run.until("the third email", lambda: run.sent_to(3) is not None)
            assert daemon.secrets.cached(config.accounts[0]) is not first_token

            # Minute 30: Dovecot drops every connection; the watchers log in again.
            await run.at_minute(30)
            dovecot_oauth.kill()
            dovecot_oauth.start()
            await run.at_minute(36)
            reply(dovecot_oauth, imap_user, run.sent_to(3), clock.now())  # type: ignore[arg-type]
            await run.until("mentor 3's reply to be matched",
                            lambda: run.nudge_status(3) == "cancelled")

            # Minute 48: the token of minute 22 is past its renewal time.
            await run.at_minute(48)
            run.ask(4)
            await run.until("the fourth email", lambda: run.sent_to(4) is not None)
            await run.at_minute(55)
            dovecot_oauth.kill()
            dovecot_oauth.start()
            await run.at_minute(62)
            reply(dovecot_oauth, imap_user, run.sent_to(4), clock.now())  # type: ignore[arg-type]
            await run.until("mentor 4's reply to be matched",
                            lambda: run.nudge_status(4) == "cancelled")

            # Past the hour: still reading and sending.
            await run.at_minute(66)
            run.ask(5)
            await run.until("the fifth email", lambda: run.sent_to(5) is not None)
            reply(dovecot_oauth, imap_user, run.sent_to(5), clock.now())  # type: ignore[arg-type]
            await run.until("mentor 5's reply to be matched",
                            lambda: run.nudge_status(5) == "cancelled")
            assert run.minute() > 60
            assert sum(w.reconnects for w in daemon._watchers) >= 4  # two drops, two folders
            assert daemon.secrets.refreshes >= 3
            figures.update(minutes=run.minute(), seconds=asyncio.get_running_loop().time() - began,
                           reconnects=sum(w.reconnects for w in daemon._watchers))
        finally:
            daemon.request_stop()
            assert await asyncio.wait_for(task, timeout=15) == 0
            store.close()

    asyncio.run(scenario())

    # Every message went out with XOAUTH2 as the user; the provider issued the renewals.
    assert [m.auth_user for m in smtp_oauth.messages] == [imap_user] * 5
    assert provider.issued["refresh_token"] >= 3
    tokens = provider.tokens(imap_user)
    assert len({t.access_token for t in tokens}) >= 4
    # Nobody had to be told to sign in again.
    assert not [text for _level, text in notices if "auth login" in text]
    # No token in the logs, the database or its write-ahead log.
    stored = b"".join(p.read_bytes() for p in home.glob("maild.db*"))
    for token in tokens:
        for secret in (token.access_token, token.refresh_token or "never-issued"):
            assert secret.encode() not in stored
            leaks = [(r.name, text(r)[:300]) for r in caplog.records
                     if not r.name.startswith(PROVIDER_SIDE) and secret in text(r)]
            assert not leaks
    assert any("new access token from 127.0.0.1" in r.getMessage() for r in caplog.records)
    print(f"\nsimulated {figures['minutes']:.0f} min in {figures['seconds']:.1f} s: "
          f"{len(smtp_oauth.messages)} sent, {provider.issued['refresh_token']} renewals, "
          f"{figures['reconnects']} watcher reconnects, {provider.introspections} token checks")


def test_the_daemon_tells_the_user_once_when_the_sign_in_is_revoked(
        tmp_path: Path, imap_user: str, dovecot_oauth: DovecotServer, smtp_oauth: SmtpSandbox,
        provider: OAuthSandbox, file_keyring: Keyring) -> None:
    home = tmp_path / "home"
    paths.ensure_home(home)
    paths.config_path(home).write_text(
        oauth_config(imap_user, dovecot_oauth, smtp_oauth, provider), encoding="utf-8")
    config = load(paths.config_path(home))
    signed_in(config.accounts[0], provider)
    clock = Clock.starting_at(START, speed=1.0)
    notices: list[tuple[Level, str]] = []

    async def scenario() -> None:
        daemon = Daemon(home, {}, clock, DaemonOptions(
            timing=WatchTiming(idle_slice=0.1, backoff_base=0.1, backoff_cap=0.3)),
            notify=lambda level, text: notices.append((level, text)))
        task = asyncio.create_task(daemon.run())
        try:
            await asyncio.wait_for(daemon.ready.wait(), timeout=30)
            provider.revoke_user(imap_user)
            dovecot_oauth.kill()  # the watchers must log in again, and cannot
            dovecot_oauth.start()
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 20
            while not notices and loop.time() < deadline:
                await asyncio.sleep(0.05)
            await asyncio.sleep(2.0)  # many reconnect attempts: still one notice
            assert not task.done()
            assert all(not w.connected for w in daemon._watchers)
        finally:
            daemon.request_stop()
            assert await asyncio.wait_for(task, timeout=15) == 0

    asyncio.run(scenario())
    assert len(notices) == 1, notices
    level, text = notices[0]
    assert level is Level.WARNING
    assert text.startswith("school: Microsoft 365 no longer accepts maild's sign-in")
    assert text.endswith("run `maild auth login school` to sign in again")
