"""A complete maild world against the real sandbox servers: config, store, tracker,
inbox and sender for one fresh IMAP user, plus helpers to play the mentor."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from maild.adapters.credentials import secret_for
from maild.adapters.imap import ImapConnection
from maild.config import Account, Config, load
from maild.drafting import TemplateDrafts
from maild.hitlist import MentorInput
from maild.inbox import Inbox
from maild.sandbox.dovecot import DovecotServer
from maild.sandbox.mail import append, make_message
from maild.sandbox.smtp import SmtpSandbox
from maild.sender import Sender
from maild.store import Store
from maild.store import drafts as drafts_repo
from maild.store.mentors import add_mentors
from maild.tracker import Tracker

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
    dovecot: DovecotServer
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
        return append(self.dovecot.host, self.dovecot.port, self.user, self.dovecot.password,
                      folder, raw).uid

    def cold_ask_sent(self) -> tuple[int, str]:
        """A cold ask whose initial email went out through maild; (ask id, Message-ID)."""
        created = self.tracker.create_ask(1, "cold", self.clock())
        self.tracker.run_due(self.clock())
        [draft] = drafts_repo.list_drafts(self.store, ("pending",))
        self.approve(draft.id, paper_question="How did you handle missing data?")
        import asyncio

        outcome = asyncio.run(self.sender().send_one(draft.id))
        assert outcome == "sent", outcome
        return created.ask.id or 0, draft.spec.message_id

    def approve(self, draft_id: int, **fields: str) -> None:
        from maild.core import events as ev
        from maild.store import asks as asks_repo

        draft = drafts_repo.get_draft(self.store, draft_id)
        drafts = self.tracker.drafts
        assert isinstance(drafts, TemplateDrafts)
        ask = asks_repo.load_ask(self.store, draft.ask_id)
        spec = drafts.rerender(self.store, ask, draft, fields)
        step = self.store.db.execute("SELECT name FROM steps WHERE id = ?",
                                     (draft.spec.step_id,)).fetchone()[0]
        with self.store.transaction():
            drafts_repo.update_content(self.store, draft_id, spec, self.clock())
            self.tracker.handle_in_transaction(draft.ask_id, ev.DraftApproved(step),
                                               self.clock())

    def mentor_writes(self, body: str, *, sender: str = MENTOR, subject: str = "Re: Question",
                      in_reply_to: str | None = None, headers: dict[str, str] | None = None,
                      when: datetime | None = None) -> bytes:
        return make_message(sender=sender, to=self.account.email, subject=subject, body=body,
                            in_reply_to=in_reply_to,
                            references=[in_reply_to] if in_reply_to else [],
                            date=when or self.clock(), headers=headers)

    def steps(self, ask_id: int) -> dict[str, str]:
        rows = self.store.db.execute("SELECT name, status FROM steps WHERE ask_id = ?",
                                     (ask_id,)).fetchall()
        return {r["name"]: r["status"] for r in rows}

    def state(self, ask_id: int) -> str:
        return str(self.store.db.execute("SELECT state FROM asks WHERE id = ?",
                                         (ask_id,)).fetchone()[0])


CONFIG = """
[identity]
name = "Alex Kim"
email = "alex@school.example.edu"
role = "third-year medical student"
institution = "Example School of Medicine"
timezone = "America/New_York"

[[accounts]]
name = "school"
email = "alex@school.example.edu"
username = "{user}"
imap = {{ host = "{imap_host}", port = {imap_port}, security = "none" }}
smtp = {{ host = "{smtp_host}", port = {smtp_port}, security = "starttls", ca_file = "{ca}" }}
password = {{ env = "{pw_env}" }}
save_sent_copy = "{save}"
"""


def write_config(home: Path, dovecot: DovecotServer, smtp: SmtpSandbox, user: str,
                 save: str = "always", extra: str = "") -> Path:
    path = home / "config.toml"
    path.write_text(CONFIG.format(user=user, imap_host=dovecot.host, imap_port=dovecot.port,
                                  smtp_host=smtp.host, smtp_port=smtp.port, ca=smtp.ca_path,
                                  pw_env=PW_ENV, save=save) + extra, encoding="utf-8")
    return path


@pytest.fixture
def smtp_for_user(dovecot: DovecotServer, imap_user: str) -> Iterator[SmtpSandbox]:
    """An SMTP server that accepts the same login as the IMAP user, as providers do."""
    with SmtpSandbox(username=imap_user, password=dovecot.password) as server:
        yield server


@pytest.fixture
def world(tmp_path: Path, dovecot: DovecotServer, smtp_for_user: SmtpSandbox, imap_user: str,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    smtp_server = smtp_for_user
    monkeypatch.setenv(PW_ENV, dovecot.password)
    config = load(write_config(tmp_path, dovecot, smtp_server, imap_user))
    store = Store.open(tmp_path / "maild.db")
    clock = Clock()
    tracker = Tracker(store, config, TemplateDrafts(tmp_path, config))
    add_mentors(store, [MentorInput(
        name="Dana Rivera", title="Dr.", emails=(MENTOR,), assistant_emails=(ASSISTANT,),
        specialty="cardiology", connection_point="2025 paper on HFpEF registries",
        timezone="America/New_York")], clock())
    world = World(tmp_path, config, store, tracker, clock, dovecot, smtp_server, imap_user)
    # First sight of INBOX and Sent: maild starts watching from now.
    world.sync("INBOX", "inbox")
    world.sync("Sent", "sent")
    yield world
    store.close()
