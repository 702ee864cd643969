"""The hot queries use their indexes: what they cost follows what changed, not history.

Every statement the daemon runs on a pass (due steps, the next wake-up, drafts ready
to send or to copy, what to tell the user, the digest's day) and every one a tracker
operation runs (creating an ask, applying a reply, approving, claiming, the send
path's rate limit, matching a message) is captured as it runs against a real store
and asked for its plan: no table may be read by a full scan.

SQLite plans without statistics here (no ANALYZE), as it does on a user's machine, so
these are the plans the daemon really gets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from maild.app import lifecycle
from maild.app.drafting import TemplateDrafts
from maild.app.notify import Notifier
from maild.app.outbox import Sender
from maild.app.tracker import Tracker
from maild.config import load
from maild.core import events as ev
from maild.core.entries import MentorInput
from maild.core.model import DraftStatus, Intent
from maild.store import Store
from maild.store import folders as folders_repo
from maild.store import messages as messages_repo
from maild.store.mentors import add_mentors
from maild.store.messages import StoreIndex
from tests.rawdb import raw
from tests.tracking.conftest import CONFIG

NOW = datetime(2026, 11, 17, 15, 0, tzinfo=UTC)  # a Tuesday, 10:00 in New York


@dataclass
class Home:
    store: Store
    tracker: Tracker
    sender: Sender
    notifier: Notifier
    asks: list[int]


def _unused(*_args: object) -> object:
    raise AssertionError("no server is needed to choose what to send")


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Home]:
    (tmp_path / "config.toml").write_text(
        CONFIG.format(extra='[sending]\ndigest = true\n'), encoding="utf-8")
    config = load(tmp_path / "config.toml")
    store = Store.open(tmp_path / "maild.db")
    tracker = Tracker(store, config, TemplateDrafts(tmp_path, config))
    mentors = add_mentors(store, [MentorInput(
        name=f"Mentor Number{n}", title="Dr.", emails=(f"m{n}@med.example.edu",),
        connection_point=f"paper {n}", timezone="America/New_York") for n in range(6)],
        NOW - timedelta(days=30))
    asks = [tracker.create_ask(m, "cold", NOW - timedelta(days=8)).ask.id or 0
            for m in mentors]
    tracker.run_due(NOW - timedelta(days=8))
    for draft in store.read.drafts.with_status(DraftStatus.PENDING)[:4]:
        lifecycle.approve(store, tracker, draft, draft.spec, NOW - timedelta(days=8))
    sender = Sender(store, tracker, config, secret=_unused, imap=_unused,  # type: ignore[arg-type]
                    now=lambda: NOW)
    yield Home(store, tracker, sender, Notifier(config, run=lambda _argv: None), asks)
    store.close()


def _plans(store: Store, work: Callable[[], object]) -> dict[str, list[str]]:
    """Each statement ``work`` runs (as SQLite expanded it) and its query plan."""
    statements: list[str] = []
    db = raw(store)
    db.set_trace_callback(statements.append)
    try:
        work()
    finally:
        db.set_trace_callback(None)
    plans = {}
    for sql in statements:
        if not sql.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE")):
            continue  # INSERTs, transaction and savepoint control read no table
        plans[sql] = [row[3] for row in db.execute("EXPLAIN QUERY PLAN " + sql)]
    assert plans, "the work ran no query"
    return plans


def _full_scans(plans: dict[str, list[str]]) -> list[str]:
    return [f"{detail}  <-  {sql[:160]}" for sql, lines in plans.items() for detail in lines
            if detail.startswith("SCAN ") and " USING " not in detail]


def test_a_daemon_pass_reads_only_through_indexes(home: Home) -> None:
    def a_pass() -> None:
        home.tracker.run_due(NOW)
        home.store.read.asks.next_due()
        home.sender.ready(NOW)
        home.sender.next_wakeup()
        home.store.read.drafts.unmirrored()
        home.notifier.to_announce(home.store, NOW)
        home.notifier.digest_due(home.store, NOW)
        home.notifier.next_wakeup(home.store, NOW)
        home.store.read.drafts.count(DraftStatus.PENDING)

    plans = _plans(home.store, a_pass)
    assert _full_scans(plans) == []
    due = [lines for sql, lines in plans.items() if "s.due_at <=" in sql]
    assert due and all(any("USING INDEX steps_due" in line for line in lines)
                       for lines in due)


def test_tracker_operations_read_only_through_indexes(home: Home) -> None:
    first, second = home.asks[0], home.asks[1]
    last_mentor = home.store.read.asks.get(home.asks[-1]).mentor_id

    def operations() -> None:
        home.tracker.create_ask(last_mentor, "warm", NOW, again=True)
        home.tracker.handle(first, ev.HumanReply(Intent.QUESTION, at=NOW), NOW)
        home.tracker.handle(second, ev.UserMarked(ev.Mark.PAUSE), NOW)
        # A "no" looks for the next candidate: with every cold slot taken, from the
        # open asks alone.
        home.tracker.handle(home.asks[4], ev.HumanReply(Intent.DECLINE, at=NOW), NOW)
        # A hesitant "yes" suggests backups: read with the candidates' own earlier asks.
        home.tracker.handle(home.asks[5], ev.HumanReply(Intent.HESITANT, at=NOW), NOW)
        [draft] = [d for d in home.store.read.drafts.with_status(DraftStatus.APPROVED)
                   if d.ask_id == home.asks[2]]
        home.sender._rate_hold(draft.spec.account, NOW)
        assert lifecycle.claim(home.store, home.tracker, draft, NOW) is None
        lifecycle.sent(home.store, home.tracker, home.store.read.drafts.get(draft.id), NOW)

    plans = _plans(home.store, operations)
    assert _full_scans(plans) == []
    # Searching by status would pass the check but grow with every mail ever sent: the
    # rate limit reads one account's recent sends only.
    rate = [lines for sql, lines in plans.items() if "sent_at >=" in sql]
    assert rate and all(any("drafts_sent" in line for line in lines) for lines in rate)


def test_matching_a_message_reads_only_through_indexes(home: Home) -> None:
    index = StoreIndex(home.store, frozenset({"alex@school.example.edu"}), lambda: NOW)

    def matching() -> None:
        index.thread_owner(["<a@x>", "<b@x>"])
        index.gmail_thread_owner(1824353213589341219)
        index.address_owner("m1@med.example.edu")
        index.own_draft("<a@x>")
        messages_repo.already_seen(home.store, "<a@x>", "in")
        messages_repo.oldest_open_ask(home.store)
        folders_repo.load(home.store, "school", "INBOX")

    assert _full_scans(_plans(home.store, matching)) == []


def test_the_check_sees_a_full_scan(home: Home) -> None:
    # The check itself: a query with no index to use is caught.
    plans = _plans(home.store, lambda: raw(home.store).execute(
        "SELECT count(*) FROM drafts WHERE subject = 'x'").fetchone())
    assert _full_scans(plans)
