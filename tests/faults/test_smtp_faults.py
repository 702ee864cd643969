"""SMTP faults while drafts are due: exactly once, nothing lost.

* the server is down when a draft is due: deferred, then sent once when it is back;
* the server drops the connection after accepting the message: ``uncertain``, never
  sent again by itself, and the user can settle it;
* SIGKILL in the middle of a burst of sends: after recovery every draft is sent
  once or ``uncertain``, and no Message-ID reaches the server twice.
"""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.mail.conftest import PW_ENV, Make, World
from tests.mail.test_send_and_match import sent_folder_ids
from tests.mail.worlds import add_mentor, approved_draft, draft_status, send

FAST = "\n[sending]\nrate_per_hour = 500\ndaily_cap = 500\n"


def on_server(world: World, message_id: str) -> int:
    return sum(1 for m in world.smtp.messages if m.message["Message-ID"] == message_id)


def test_smtp_down_when_a_draft_is_due_sends_it_once_when_back(make: Make) -> None:
    world, _notices = make(FAST)
    draft_id = approved_draft(world, 1)
    message_id = world.store.read.drafts.get(draft_id).spec.message_id
    world.smtp.stop()
    try:
        assert send(world, draft_id) == "deferred"
        assert draft_status(world, draft_id) == "approved"
        # Still down at the next try, later.
        world.clock.advance(minutes=3)
        assert asyncio.run(world.sender().send_ready()).deferred == 1
    finally:
        world.smtp.start()
    world.clock.advance(minutes=10)
    report = asyncio.run(world.sender().send_ready())
    assert report.sent == 1 and draft_status(world, draft_id) == "sent"
    # And never again.
    world.clock.advance(hours=3)
    assert asyncio.run(world.sender().send_ready()).sent == 0
    assert on_server(world, message_id) == 1
    assert sent_folder_ids(world).count(message_id) == 1


def test_a_connection_dropped_after_accepting_is_uncertain_not_resent(make: Make) -> None:
    world, _notices = make(FAST)
    draft_id = approved_draft(world, 1)
    message_id = world.store.read.drafts.get(draft_id).spec.message_id
    world.smtp.disconnect_after_next_data()
    assert send(world, draft_id) == "uncertain"
    assert on_server(world, message_id) == 1  # the server has it; maild cannot know
    world.clock.advance(hours=3)
    world.sender().recover()
    assert asyncio.run(world.sender().send_ready()).sent == 0
    assert draft_status(world, draft_id) == "uncertain"
    assert on_server(world, message_id) == 1


def run_burst(world: World, kill_after: float) -> subprocess.Popen[bytes]:
    code = (
        "import asyncio, sys\n"
        "from datetime import datetime\n"
        "from pathlib import Path\n"
        "from maild.adapters.credentials import secret_for\n"
        "from maild.adapters.imap import ImapConnection\n"
        "from maild.app.drafting import TemplateDrafts\n"
        "from maild.app.outbox import Sender\n"
        "from maild.app.tracker import Tracker\n"
        "from maild.config import load\n"
        "from maild.store import Store\n"
        "config = load(Path(sys.argv[1])); store = Store.open(Path(sys.argv[2]))\n"
        "now = datetime.fromisoformat(sys.argv[3])\n"
        "tracker = Tracker(store, config, TemplateDrafts(Path(sys.argv[1]).parent, config))\n"
        "sender = Sender(store, tracker, config, secret=secret_for,\n"
        "                imap=lambda a: ImapConnection.open(a, secret_for(a)), now=lambda: now)\n"
        "asyncio.run(sender.send_ready())\n"
    )
    env = {**os.environ, PW_ENV: world.server.password,
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen([sys.executable, "-c", code, str(world.config.path),
                             str(world.store.path), world.clock().isoformat()], env=env)
    time.sleep(kill_after)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return proc


def test_sigkill_during_a_burst_of_sends_never_sends_twice_or_loses_one(make: Make) -> None:
    world, _notices = make(FAST)
    drafts = [approved_draft(world, add_mentor(world, 100 + n)) for n in range(12)]
    ids = {d: world.store.read.drafts.get(d).spec.message_id for d in drafts}
    for kill_after in (1.2, 0.6):
        run_burst(world, kill_after)
        # What a restarted daemon does: recover by evidence, then its send loop.
        world.sender().recover()
    asyncio.run(world.sender().send_ready())
    statuses = {d: draft_status(world, d) for d in drafts}
    assert set(statuses.values()) <= {"sent", "uncertain"}, statuses
    counts = collections.Counter(m.message["Message-ID"] for m in world.smtp.messages)
    assert max(counts.values(), default=0) <= 1
    for draft_id, status in statuses.items():
        if status == "sent":
            assert counts[ids[draft_id]] == 1, draft_id
    assert sum(1 for s in statuses.values() if s == "sent") >= 6
