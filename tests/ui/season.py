"""A season in progress, built through maild's own paths against the real servers.

Four weeks into letter season (Tuesday 2026-11-17, 10:00 in New York):

* Dr. Dana Rivera (cold ask): the first email went out, and she answered with a
  question (a real reply in INBOX, read by the inbox sync): a reply to read;
* Dr. Priya Shah (cold ask): her first draft was made last Friday and never
  approved: overdue, and it still needs the user's question;
* ERAS 2027 Internal Medicine, deadline 2026-12-01 (14 days), 3 letters: Sam Okafor
  agreed (his materials packet waits), Lee Park said a hesitant yes, Mia Chen's letter
  is in; the application is at risk.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta

from maild.core import events as ev
from maild.core.events import Mark
from maild.core.model import DraftStatus, Intent
from maild.store.mentors import add_application
from tests.mail.conftest import MENTOR, World
from tests.mail.worlds import add_mentor

QUESTION_REPLY = ("Thanks for reaching out. Before we set a time: which datasets have you "
                  "worked with so far, and how many hours a week could you commit?")
APPLICATION = "ERAS 2027 Internal Medicine"
DEADLINE = date(2026, 12, 1)


def send(world: World, draft_id: int) -> str:
    """Send one approved draft through the real send path. In a thread of its own: the
    browser tests' Playwright keeps an event loop running in this one."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, world.sender().send_one(draft_id)).result()


@dataclass(frozen=True)
class Season:
    rivera_ask: int
    shah: int
    shah_draft: int
    okafor: int
    park: int
    chen: int
    packet_draft: int


def build_season(world: World) -> Season:
    start = world.clock()
    # Last Friday: a cold ask to Dr. Shah whose first draft was never approved.
    world.clock.now = start - timedelta(days=4)
    shah = add_mentor(world, 5, "Priya Shah")
    world.tracker.create_ask(shah, "cold", world.clock())
    world.tracker.run_due(world.clock())
    [shah_draft] = [d.id for d in world.store.read.drafts.with_status(DraftStatus.PENDING)]
    world.clock.now = start

    # Dr. Rivera got the first email and answered with a question.
    rivera_ask = world.tracker.create_ask(1, "cold", world.clock()).ask.id or 0
    world.tracker.run_due(world.clock())
    [first] = [d for d in world.store.read.drafts.with_status(DraftStatus.PENDING)
               if d.ask_id == rivera_ask]
    world.approve(first.id, paper_question="How did you handle missing data?")
    assert send(world, first.id) == "sent"
    first_id = first.spec.message_id
    world.clock.advance(hours=2)
    world.deliver(world.mentor_writes(QUESTION_REPLY, subject="Re: Question about your 2025 "
                                      "paper on HFpEF registries", in_reply_to=first_id))
    world.sync()

    # Letters for ERAS: agreed, hesitant, submitted.
    add_application(world.store, APPLICATION, DEADLINE, 3, "ERAS", "Example University IM",
                    "Upload to the ERAS LoR portal", world.clock())
    app_id = world.store.read.mentors.find_application(APPLICATION).id
    okafor = add_mentor(world, 2, "Sam Okafor")
    park = add_mentor(world, 3, "Lee Park")
    chen = add_mentor(world, 4, "Mia Chen")
    asks = {}
    for mentor in (okafor, park, chen):
        created = world.tracker.create_ask(mentor, "letter", world.clock(),
                                           application_id=app_id, deadline=DEADLINE,
                                           force=True)
        asks[mentor] = created.ask.id or 0
    world.tracker.run_due(world.clock())
    # Their requests were sent long ago in this story: take the request drafts off the
    # table so the page shows what matters now.
    for draft in world.store.read.drafts.with_status(DraftStatus.PENDING):
        if draft.ask_id in asks.values():
            world.approve(draft.id, work_together="the sepsis readmissions project")
            assert send(world, draft.id) == "sent"
    world.tracker.handle(asks[okafor], ev.UserMarked(Mark.AGREED), world.clock())
    world.tracker.handle(asks[park], ev.HumanReply(intent=Intent.HESITANT), world.clock())
    world.tracker.handle(asks[chen], ev.UserMarked(Mark.SUBMITTED), world.clock())
    world.tracker.run_due(world.clock())
    [packet] = [d.id for d in world.store.read.drafts.with_status(DraftStatus.PENDING)
                if d.ask_id == asks[okafor]]
    return Season(rivera_ask=rivera_ask, shah=shah, shah_draft=shah_draft, okafor=okafor,
                  park=park, chen=chen, packet_draft=packet)


__all__ = ["MENTOR", "QUESTION_REPLY", "Season", "build_season"]
