"""The tracker against a real store: notices only for committed work, and only after
the commit; auto-approvals never leak from one ask (or one failed event) to another;
a draft that cannot be made still waits, with the problem named."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from maild.app.drafting import TemplateDrafts
from maild.app.tracker import Tracker
from maild.config import Config, load
from maild.core import events as ev
from maild.core.actions import Level
from maild.core.entries import MentorInput
from maild.core.model import Ask, Intent, Step
from maild.errors import MaildError
from maild.store import Store
from maild.store.drafts import DraftSpec
from maild.store.mentors import add_mentors
from tests.rawdb import raw
from tests.tracking.conftest import CONFIG

# Tuesday 2026-11-17, 10:00 in New York: inside the sending window.
NOW = datetime(2026, 11, 17, 15, 0, tzinfo=UTC)


@dataclass
class Told:
    """The notifier: what the user was told, and whether a transaction was open then."""

    store: Store | None = None
    path: Path | None = None
    told: list[tuple[Level, str]] = field(default_factory=list)
    inside_transaction: list[bool] = field(default_factory=list)
    committed_notices: list[int] = field(default_factory=list)

    def __call__(self, level: Level, text: str) -> None:
        assert self.store is not None and self.path is not None
        self.told.append((level, text))
        self.inside_transaction.append(self.store.in_transaction)
        # What another process (the CLI, `maild status`) can see at that moment.
        with sqlite3.connect(self.path) as other:
            self.committed_notices.append(
                other.execute("SELECT count(*) FROM events WHERE type = 'notice'").fetchone()[0])


@dataclass
class Flaky:
    """The real draft maker, failing on one template with the exception given."""

    real: TemplateDrafts
    fail_on: str | None = None
    error: Exception = field(default_factory=lambda: RuntimeError("renderer bug"))

    def make(self, store: Store, ask: Ask, step: Step, now: datetime) -> DraftSpec:
        if step.template == self.fail_on:
            raise self.error
        return self.real.make(store, ask, step, now)


@dataclass
class Home:
    store: Store
    config: Config
    tracker: Tracker
    drafts: Flaky
    told: Told
    mentors: dict[str, int]


def make_home(tmp_path: Path, extra: str = "") -> Home:
    (tmp_path / "config.toml").write_text(CONFIG.format(extra=extra), encoding="utf-8")
    config = load(tmp_path / "config.toml")
    store = Store.open(tmp_path / "maild.db")
    told = Told(store, tmp_path / "maild.db")
    drafts = Flaky(TemplateDrafts(tmp_path, config))
    tracker = Tracker(store, config, drafts, notify=told)
    people = [("Dana Rivera", "drivera@med.example.edu", 1),
              ("Sam Lee", "slee@med.example.edu", 2),
              ("Ana Patel", "apatel@med.example.edu", 3)]
    ids = add_mentors(store, [MentorInput(
        name=name, title="Dr.", emails=(email,), rank=rank, specialty="cardiology",
        connection_point="the 2025 registry paper", timezone="America/New_York")
        for name, email, rank in people], NOW)
    mentors = {name.split()[-1]: mentor_id for (name, _e, _r), mentor_id in zip(people, ids,
                                                                                 strict=True)}
    return Home(store, config, tracker, drafts, told, mentors)


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Home]:
    h = make_home(tmp_path)
    yield h
    h.store.close()


def cold_ask(h: Home, who: str) -> int:
    return h.tracker.create_ask(h.mentors[who], "cold", NOW).ask.id or 0


def replied(h: Home, ask_id: int, uid: int) -> None:
    """The mentor's reply on record, so the thank-you has a thread to answer in."""
    with h.store.transaction():
        raw(h.store).execute(
            "INSERT INTO messages (account, folder, uid, uidvalidity, message_id, from_addr, "
            "subject, date, direction, kind, ask_id, created_at) VALUES ('school', 'INBOX', "
            "?, 1, ?, 'x@med.example.edu', 'Re: Research in your group', ?, 'in', 'human', ?, "
            "?)", (uid, f"<reply{uid}@med.example.edu>", NOW.isoformat(), ask_id,
                   NOW.isoformat()))


def notices(h: Home) -> list[str]:
    return [r[0] for r in raw(h.store).execute(
        "SELECT detail FROM events WHERE type = 'notice' ORDER BY id")]


# -- notices --------------------------------------------------------------------------


def test_notices_go_out_after_the_commit(home: Home) -> None:
    ask_id = cold_ask(home, "Rivera")
    home.tracker.handle(ask_id, ev.HumanReply(intent=Intent.QUESTION, at=NOW), NOW)
    assert home.told.told, "a question from the mentor is worth a notice"
    # Never from inside the write transaction (a desktop notification may take seconds),
    # and by then the notice is in the database for everyone to see.
    assert home.told.inside_transaction == [False] * len(home.told.told)
    assert all(n >= 1 for n in home.told.committed_notices)


def ladder_sent(h: Home, ask_id: int) -> datetime:
    """Every email of the ladder went out on time; returns when its stop is due."""
    h.tracker.handle(ask_id, ev.MessageSent(step="initial", at=NOW), NOW)
    for name in ("nudge", "final_nudge"):
        due = h.store.read.asks.get(ask_id).open_step(name)
        assert due is not None
        h.tracker.handle(ask_id, ev.StepDue(step=name), due.due_at)
        h.tracker.handle(ask_id, ev.MessageSent(step=name, at=due.due_at), due.due_at)
    stop = h.store.read.asks.get(ask_id).open_step("stop")
    assert stop is not None
    return stop.due_at


def test_a_rolled_back_event_tells_the_user_nothing(home: Home) -> None:
    ask_id = cold_ask(home, "Rivera")
    # The ladder stops ("no answer ... closed"), then the next candidate's cold ask is
    # started, and making its first draft fails: the whole event rolls back.
    later = ladder_sent(home, ask_id)
    home.told.told.clear()
    home.drafts.fail_on = "cold_initial"
    with pytest.raises(RuntimeError):
        home.tracker.handle(ask_id, ev.StepDue(step="stop"), later)
    assert home.told.told == []
    assert notices(home) == []
    # Once the problem is gone the event applies, and its notices go out once.
    home.drafts.fail_on = None
    home.tracker.handle(ask_id, ev.StepDue(step="stop"), later)
    texts = [t for _l, t in home.told.told]
    assert sum("No answer after the last follow-up" in t for t in texts) == 1


def test_notices_of_a_callers_rolled_back_transaction_are_dropped(home: Home) -> None:
    ask_id = cold_ask(home, "Rivera")
    question = ev.HumanReply(intent=Intent.QUESTION, at=NOW)
    with pytest.raises(RuntimeError), home.store.transaction():
        home.tracker.handle_in_transaction(ask_id, question, NOW)
        raise RuntimeError("the caller fails after the tracker succeeded")
    assert home.told.told == []
    assert home.tracker.flush_notices() == 0
    assert home.told.told == []
    # The same work committed: told exactly once, and only when flushed after the commit.
    with home.store.transaction():
        home.tracker.handle_in_transaction(ask_id, question, NOW)
        assert home.tracker.flush_notices() == 0  # still inside: nothing goes out
    assert home.told.told == []
    assert home.tracker.flush_notices() == 1
    assert len(home.told.told) == 1 and home.told.inside_transaction == [False]
    assert home.tracker.flush_notices() == 0


# -- auto-approval --------------------------------------------------------------------


def test_a_failed_event_leaves_no_auto_approval_behind(tmp_path: Path) -> None:
    # Only the thank-you after a cold "no" may go out without the user's approval.
    h = make_home(tmp_path, extra='[sending]\napproval = "auto"\n'
                                   'auto_approve = ["cold.decline_thanks"]\n')
    try:
        cold = cold_ask(h, "Rivera")
        warm = h.tracker.create_ask(h.mentors["Patel"], "warm", NOW).ask.id or 0
        replied(h, cold, 1)
        replied(h, warm, 2)
        decline = ev.HumanReply(intent=Intent.DECLINE, at=NOW)
        # Rivera declines: her thank-you is made (auto-approved), then the next candidate
        # (Lee) is started and making his first draft fails; the event rolls back.
        h.drafts.fail_on = "cold_initial"
        with pytest.raises(RuntimeError):
            h.tracker.handle(cold, decline, NOW)
        h.drafts.fail_on = None
        # Patel (warm: no auto-approval configured) declines too. Her thank-you waits.
        h.tracker.handle(warm, decline, NOW)
        [thanks] = [d for d in h.store.read.drafts.with_status("pending", "approved")
                    if d.ask_id == warm and d.spec.template == "decline_thanks"]
        assert thanks.status == "pending"  # invariant 1
        # And Rivera's "no", applied again, auto-approves her own thank-you only.
        h.tracker.handle(cold, decline, NOW)
        mine = [d for d in h.store.read.drafts.with_status("pending", "approved")
                if d.ask_id == cold and d.spec.template == "decline_thanks"]
        assert [d.status for d in mine] == ["approved"]
        assert h.store.read.drafts.get(thanks.id).status == "pending"
    finally:
        h.store.close()


# -- drafts that cannot be made -------------------------------------------------------


def test_a_draft_that_cannot_be_made_waits_with_the_problem_named(tmp_path: Path) -> None:
    h = make_home(tmp_path, extra='[sending]\napproval = "auto"\n'
                                   'auto_approve = ["cold.initial"]\n')
    try:
        h.drafts.fail_on = "cold_initial"
        h.drafts.error = MaildError("no account named 'old' (known: school, personal)")
        created = h.tracker.create_ask(h.mentors["Rivera"], "cold", NOW)
        [draft] = [d for d in h.store.read.drafts.with_status("pending", "approved")
                   if d.ask_id == created.ask.id]
        # The step is not lost, and a draft with a problem is never auto-approved.
        assert draft.status == "pending"
        assert draft.spec.missing_fields == (
            "draft: no account named 'old' (known: school, personal)",)
        assert "no account named 'old'" in draft.spec.subject
        assert draft.spec.to_addrs == (("drivera@med.example.edu", "Dana Rivera"),)
    finally:
        h.store.close()
