"""Building a ``World`` with its own config (rate limits, digest) and notice recorder.

The ``world`` fixture uses the default config; the send-safety tests need a few other
settings, more mentors and a tracker whose notices they can read. Same real servers.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from maild.app.drafting import TemplateDrafts
from maild.app.tracker import Tracker
from maild.config import load
from maild.core.actions import Level
from maild.core.entries import MentorInput
from maild.sandbox.base import ImapSandbox
from maild.sandbox.smtp import SmtpSandbox
from maild.store import Store
from maild.store.mentors import add_mentors
from tests.mail.conftest import ASSISTANT, MENTOR, Clock, World, write_config
from tests.rawdb import raw


@dataclass
class Notices:
    """The tracker's notices, as the user would be told them."""

    told: list[tuple[Level, str]] = field(default_factory=list)

    def __call__(self, level: Level, text: str) -> None:
        self.told.append((level, text))


def build_world(home: Path, server: ImapSandbox, smtp: SmtpSandbox, user: str, *,
                extra: str = "", notices: Notices | None = None) -> World:
    config = load(write_config(home, server, smtp, user, extra=extra))
    store = Store.open(home / "maild.db")
    clock = Clock()
    tracker = Tracker(store, config, TemplateDrafts(home, config), notify=notices)
    add_mentors(store, [MentorInput(
        name="Dana Rivera", title="Dr.", emails=(MENTOR,), assistant_emails=(ASSISTANT,),
        specialty="cardiology", connection_point="2025 paper on HFpEF registries",
        timezone="America/New_York")], clock())
    world = World(home, config, store, tracker, clock, server, smtp, user)
    world.sync("INBOX", "inbox")
    world.sync("Sent", "sent")
    return world


def add_mentor(world: World, n: int, name: str | None = None) -> int:
    """Another mentor (``m{n}@med.example.edu``), for tests that need many asks."""
    [mentor_id] = add_mentors(world.store, [MentorInput(
        name=name or f"Mentor Number{n}", title="Dr.", emails=(f"m{n}@med.example.edu",),
        specialty="cardiology", connection_point=f"paper number {n}",
        timezone="America/New_York")], world.clock())
    return mentor_id


def pending_draft(world: World, mentor_id: int) -> int:
    """A cold ask to ``mentor_id`` with its initial draft made (pending); the draft id."""
    before = {d.id for d in world.store.read.drafts.with_status("pending")}
    world.tracker.create_ask(mentor_id, "cold", world.clock())
    world.tracker.run_due(world.clock())
    [draft] = [d for d in world.store.read.drafts.with_status("pending")
               if d.id not in before]
    return draft.id


def approved_draft(world: World, mentor_id: int) -> int:
    draft_id = pending_draft(world, mentor_id)
    world.approve(draft_id, paper_question="How did you handle missing data?")
    return draft_id


def send(world: World, draft_id: int) -> str:
    return asyncio.run(world.sender().send_one(draft_id))


def draft_status(world: World, draft_id: int) -> str:
    return world.store.read.drafts.get(draft_id).status


def step_status(world: World, draft_id: int) -> str:
    step_id = world.store.read.drafts.get(draft_id).spec.step_id
    return str(raw(world.store).execute("SELECT status FROM steps WHERE id = ?",
                                      (step_id,)).fetchone()[0])


def events(world: World, kind: str) -> list[str]:
    return [r[0] for r in raw(world.store).execute(
        "SELECT detail FROM events WHERE type = ? ORDER BY id", (kind,))]
