"""Idle means idle (invariant 11): held asks are not work, and a quiet daemon writes
nothing.

A real daemon (its watchers on Dovecot, its one timer) runs for a simulated hour over
a store where every kind of hold has past-due steps: an ask whose address bounced,
one the user paused with an approved nudge in it, one whose first mail failed. The
old daemon woke these steps on every pass, wrote a timeline row each time and never
slept; this one must leave them alone until what holds them changes.
"""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from maild import paths
from maild.app import lifecycle
from maild.app.drafting import TemplateDrafts
from maild.app.tracker import Tracker
from maild.clock import Clock
from maild.config import load
from maild.core import events as ev
from maild.core.entries import MentorInput
from maild.core.model import AskState, DraftStatus
from maild.runtime.daemon import Daemon, DaemonOptions
from maild.sandbox.dovecot import DovecotServer
from maild.sandbox.smtp import SmtpSandbox
from maild.store import Store
from maild.store.mentors import add_mentors
from tests.mail.conftest import PW_ENV, write_config

NY = ZoneInfo("America/New_York")
START = datetime(2026, 11, 17, 10, 0, tzinfo=NY)  # a Tuesday morning, in the send window
SPEED = 720.0  # one simulated hour in five seconds
TABLES = ("asks", "steps", "drafts", "events", "messages", "folder_state", "draft_notices")


@pytest.fixture
def smtp_for_user(dovecot: DovecotServer, imap_user: str) -> Iterator[SmtpSandbox]:
    with SmtpSandbox(username=imap_user, password=dovecot.password) as server:
        yield server


def _sent(store: Store, tracker: Tracker, ask_id: int, at: datetime) -> None:
    """The ask's first mail went out (sent from the user's client: no SMTP needed)."""
    [draft] = [d for d in store.read.drafts.with_status(DraftStatus.PENDING)
               if d.ask_id == ask_id]
    with store.transaction() as tx:
        tx.drafts.set_status(draft.id, DraftStatus.SENT, at, sent_at=at,
                             expect=(DraftStatus.PENDING,))
        tracker.handle_in_transaction(ask_id, ev.MessageSent(
            step=tx.drafts.step_name(draft), message_id=draft.spec.message_id, at=at), at)


def held_world(home: Path) -> dict[str, int]:
    """Three held asks with steps long past due, one ask simply waiting."""
    config = load(paths.config_path(home))
    with Store.open(paths.database_path(home)) as store:
        tracker = Tracker(store, config, TemplateDrafts(home, config))
        ids = add_mentors(store, [MentorInput(
            name=f"Mentor Number{n}", title="Dr.", emails=(f"m{n}@med.example.edu",),
            specialty="cardiology", connection_point=f"paper number {n}",
            timezone="America/New_York") for n in range(1, 5)], START - timedelta(days=30))
        began = START - timedelta(days=12)
        asks = {name: tracker.create_ask(mentor, "cold", began).ask.id or 0
                for name, mentor in zip(("bounced", "paused", "failed", "waiting"), ids,
                                        strict=True)}
        tracker.run_due(began)
        for name in ("bounced", "paused"):
            _sent(store, tracker, asks[name], began)
        _sent(store, tracker, asks["waiting"], START - timedelta(days=1))
        tracker.handle(asks["bounced"], ev.Bounce(address_invalid=True,
                                                  recipients=("m1@med.example.edu",)), began)
        # The failed ask's first mail was refused for good: its ladder waits for a retry.
        [initial] = [d for d in store.read.drafts.with_status(DraftStatus.PENDING)
                     if d.ask_id == asks["failed"]]
        lifecycle.approve(store, tracker, initial, initial.spec, began)
        assert lifecycle.claim(store, tracker, store.read.drafts.get(initial.id), began) is None
        lifecycle.failed(store, tracker, store.read.drafts.get(initial.id), began,
                         uncertain=False, detail="550 5.7.1 relaying denied")
        # The paused ask's nudge was drafted and approved, then the user paused the ask.
        tracker.run_due(began + timedelta(days=6))
        [nudge] = [d for d in store.read.drafts.with_status(DraftStatus.PENDING)
                   if d.ask_id == asks["paused"]]
        lifecycle.approve(store, tracker, nudge, nudge.spec, began + timedelta(days=6))
        tracker.handle(asks["paused"], ev.UserMarked(ev.Mark.PAUSE), began + timedelta(days=6))
        states = {name: store.read.asks.get(ask_id).state for name, ask_id in asks.items()}
        assert states == {"bounced": AskState.NEEDS_ADDRESS, "paused": AskState.PAUSED,
                          "failed": AskState.SEND_FAILED, "waiting": AskState.WAITING_REPLY}
        # Each held ask has a step whose time came long ago; none is due.
        late = {s.ask_id for s in store.read.asks.upcoming(50) if s.due_at < START}
        assert late >= {asks["bounced"], asks["paused"], asks["failed"]}
        assert store.read.asks.due_steps(START) == []
    return asks


def snapshot(home: Path) -> dict[str, str]:
    """A digest of every row of the tables maild writes while it runs."""
    with closing(sqlite3.connect(paths.database_path(home))) as db:
        return {t: hashlib.sha256(repr(db.execute(f"SELECT * FROM {t} ORDER BY 1, 2")
                                       .fetchall()).encode()).hexdigest() for t in TABLES}


def test_held_asks_produce_nothing_over_a_simulated_hour(
        tmp_path: Path, dovecot: DovecotServer, smtp_for_user: SmtpSandbox,
        imap_user: str) -> None:
    home = tmp_path / "home"
    write_config(home, dovecot, smtp_for_user, imap_user)
    asks = held_world(home)
    clock = Clock.starting_at(START, speed=SPEED)
    # Work that is due but cannot be done is looked at again after stuck_retry; short
    # here, so that a held step counted as due would show as passes and rows at once.
    daemon = Daemon(home, {PW_ENV: dovecot.password}, clock, DaemonOptions(stuck_retry=0.2))

    async def scenario() -> tuple[int, int, dict[str, str], dict[str, str]]:
        task = asyncio.create_task(daemon.run())
        try:
            await asyncio.wait_for(daemon.ready.wait(), timeout=60)
            # The first passes tell the user what waits (once) and record the folders'
            # cursors; after that nothing may change.
            while daemon.passes < 1:
                await asyncio.sleep(0.05)
            await asyncio.sleep(1.0)
            before, passes = snapshot(home), daemon.passes
            began = clock.now()
            while clock.now() < began + timedelta(hours=1):
                assert not task.done()
                await asyncio.sleep(0.1)
            return passes, daemon.passes, before, snapshot(home)
        finally:
            daemon.request_stop()
            assert await asyncio.wait_for(task, timeout=15) == 0

    passes_before, passes_after, before, after = asyncio.run(scenario())
    assert after == before, "the store changed while nothing happened"
    # Nothing was due in that hour: no pass at all (a spinning loop makes thousands).
    assert passes_after - passes_before == 0
    with Store.open(paths.database_path(home)) as store:
        for name in ("bounced", "paused", "failed"):
            assert store.read.asks.get(asks[name]).state in (
                AskState.NEEDS_ADDRESS, AskState.PAUSED, AskState.SEND_FAILED)
        # The approved nudge of the paused ask waits, unsent, for the ask to be resumed.
        assert [d.ask_id for d in store.read.drafts.with_status(DraftStatus.APPROVED)] == \
            [asks["paused"]]
    assert smtp_for_user.messages == []
