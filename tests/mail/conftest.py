"""A complete maild world against the real sandbox servers: config, store, tracker,
inbox and sender for one fresh IMAP user, plus helpers to play the mentor."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from maild.adapters.credentials import secret_for
from maild.adapters.imap import ImapConnection
from maild.app import review
from maild.app.inbox import Inbox
from maild.app.outbox import Sender
from maild.app.tracker import Tracker
from maild.config import Account, Config
from maild.sandbox.base import ImapSandbox
from maild.sandbox.home import write_sandbox_home
from maild.sandbox.mail import append, make_message
from maild.sandbox.smtp import SmtpSandbox
from maild.store import Store
from tests.rawdb import raw

if TYPE_CHECKING:
    from tests.mail.worlds import Notices

MENTOR = "drivera@med.example.edu"
ASSISTANT = "office.rivera@med.example.edu"
PW_ENV = "MAILD_TEST_PASSWORD"


@dataclass
class Clock:
    """A hand-moved clock: Tuesday 2026-11-17 10:00 in New York, inside the window."""

    now: datetime = field(default_factory=lambda: datetime(2026, 11, 17, 15, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class World:
    home: Path
    config: Config
    store: Store
    tracker: Tracker
    clock: Clock
    server: ImapSandbox
    smtp: SmtpSandbox
    user: str

    @property
    def account(self) -> Account:
        return self.config.accounts[0]

    def connect(self, account: Account | None = None) -> ImapConnection:
        account = account or self.account
        return ImapConnection.open(account, secret_for(account))

    def inbox(self) -> Inbox:
        return Inbox(self.store, self.tracker, self.config, self.account, self.clock)

    def sync(self, folder: str = "INBOX", role: str = "inbox") -> object:
        with self.connect() as conn:
            return self.inbox().sync(conn, folder, role)

    def sender(self, **kwargs: object) -> Sender:
        return Sender(self.store, self.tracker, self.config, secret=secret_for,
                      imap=self.connect, now=self.clock, **kwargs)  # type: ignore[arg-type]

    def deliver(self, raw: bytes, folder: str = "INBOX") -> int:
        return append(self.server.host, self.server.port, self.user, self.server.password,
                      folder, raw).uid

    def cold_ask_sent(self) -> tuple[int, str]:
        """A cold ask whose initial email went out through maild; (ask id, Message-ID)."""
        created = self.tracker.create_ask(1, "cold", self.clock())
        self.tracker.run_due(self.clock())
        [draft] = self.store.read.drafts.with_status("pending")
        self.approve(draft.id, paper_question="How did you handle missing data?")
        import asyncio

        outcome = asyncio.run(self.sender().send_one(draft.id))
        assert outcome == "sent", outcome
        return created.ask.id or 0, draft.spec.message_id

    def approve(self, draft_id: int, **fields: str) -> None:
        review.approve(self.store, self.tracker, draft_id, self.clock(), fields)

    def mentor_writes(self, body: str, *, sender: str = MENTOR, subject: str = "Re: Question",
                      in_reply_to: str | None = None, headers: dict[str, str] | None = None,
                      when: datetime | None = None) -> bytes:
        return make_message(sender=sender, to=self.account.email, subject=subject, body=body,
                            in_reply_to=in_reply_to,
                            references=[in_reply_to] if in_reply_to else [],
                            date=when or self.clock(), headers=headers)

    def steps(self, ask_id: int) -> dict[str, str]:
        rows = raw(self.store).execute("SELECT name, status FROM steps WHERE ask_id = ?",
                                     (ask_id,)).fetchall()
        return {r["name"]: r["status"] for r in rows}

    def state(self, ask_id: int) -> str:
        return str(raw(self.store).execute("SELECT state FROM asks WHERE id = ?",
                                         (ask_id,)).fetchone()[0])




def write_config(home: Path, server: ImapSandbox, smtp: SmtpSandbox, user: str,
                 save: str = "always", extra: str = "") -> Path:
    return write_sandbox_home(home, server, smtp, user, password_env=PW_ENV,
                              save_sent_copy=save, extra=extra)


@pytest.fixture
def smtp_for_user(imap_server: ImapSandbox, imap_user: str) -> Iterator[SmtpSandbox]:
    """An SMTP server that accepts the same login as the IMAP user, as providers do."""
    with SmtpSandbox(username=imap_user, password=imap_server.password) as server:
        yield server


@pytest.fixture
def world(tmp_path: Path, imap_server: ImapSandbox, smtp_for_user: SmtpSandbox, imap_user: str,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    # worlds.py builds on this module, so it is imported here, not at the top.
    from tests.mail.worlds import build_world

    monkeypatch.setenv(PW_ENV, imap_server.password)
    world = build_world(tmp_path, imap_server, smtp_for_user, imap_user)
    yield world
    world.store.close()


Make = Callable[..., "tuple[World, Notices]"]


@pytest.fixture
def make(tmp_path: Path, imap_server: ImapSandbox, smtp_for_user: SmtpSandbox, imap_user: str,
         monkeypatch: pytest.MonkeyPatch) -> Make:
    """Build a world with extra config and a record of the notices the user was given."""
    # worlds.py builds on this module, so it is imported here, not at the top.
    from tests.mail.worlds import Notices, build_world

    monkeypatch.setenv(PW_ENV, imap_server.password)

    def build(extra: str = "") -> tuple[World, Notices]:
        notices = Notices()
        return build_world(tmp_path, imap_server, smtp_for_user, imap_user, extra=extra,
                           notices=notices), notices
    return build
