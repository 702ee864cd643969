"""Catch-up after a UIDVALIDITY change: targeted SEARCH, nothing applied twice.

``reset_uidvalidity`` makes Dovecot renumber INBOX the way a server that lost its
index does. maild must then re-find only the messages that can matter (replies to its
Message-IDs, mail from mentors, bounces, letter notices, since the oldest open ask)
instead of downloading the mailbox, and skip what it already applied.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from maild.app.inbox import SyncResult
from tests.mail.conftest import MENTOR, World
from tests.mail.test_watch import Watchers, events, steps_cancelled, wait_until
from tests.rawdb import raw as raw_db

# Both IMAP implementations: what maild relies on must hold on each.
pytestmark = pytest.mark.both_imap_servers


@pytest.fixture
def watchers(world: World) -> Iterator[Watchers]:
    group = Watchers(world)
    yield group
    group.stop_all()


def uidvalidity(world: World, folder: str = "INBOX") -> int:
    with world.connect() as conn:
        return conn.select(folder).uidvalidity


def test_uidvalidity_reset_refinds_by_search_and_applies_nothing_twice(world: World) -> None:
    ask_id, first_id = world.cold_ask_sent()
    # An out-of-office answer is applied once, before the reset.
    world.deliver(world.mentor_writes(
        "I am out of the office until Monday, November 30 with limited access to email.",
        subject="Automatic reply: Question", in_reply_to=first_id,
        headers={"Auto-Submitted": "auto-replied"}))
    for n in range(5):  # mail that does not matter, and must not be downloaded again
        world.deliver(world.mentor_writes(f"Deal {n}", sender="news@shop.example.com",
                                          subject=f"Deals {n}"))
    first = world.sync()
    assert isinstance(first, SyncResult) and first.seen == 6 and first.applied == 1
    old = uidvalidity(world)
    # The server loses its index; meanwhile the mentor's real answer arrives.
    world.server.reset_uidvalidity(world.user, "INBOX")
    world.server.deliver(world.user, "INBOX", world.mentor_writes(
        "Back now - yes, I'd be glad to talk.", in_reply_to=first_id))
    assert uidvalidity(world) != old
    result = world.sync()
    assert isinstance(result, SyncResult)
    assert result.rescanned
    # Only the two messages in the thread came back from the SEARCH; the newsletters
    # were never fetched.
    assert result.seen == 2 and result.applied == 1
    assert len(events(world, "AutoReply")) == 1
    assert len(events(world, "HumanReply")) == 1
    assert world.steps(ask_id)["nudge"] == "cancelled"
    # The cursor now speaks the new UIDVALIDITY; the next sync fetches nothing.
    again = world.sync()
    assert isinstance(again, SyncResult) and again.seen == 0 and not again.rescanned
    assert world.inbox().cursor("INBOX").uidvalidity == uidvalidity(world)  # type: ignore[union-attr]


def test_rescan_finds_mentor_mail_outside_the_thread(world: World) -> None:
    ask_id, _ = world.cold_ask_sent()
    world.server.reset_uidvalidity(world.user, "INBOX")
    # A fresh message (no In-Reply-To) from the mentor: found by FROM, matched by sender.
    world.server.deliver(world.user, "INBOX", world.mentor_writes(
        "Saw your email - can you stop by Friday?", subject="Your email"))
    result = world.sync()
    assert isinstance(result, SyncResult) and result.rescanned and result.applied == 1
    assert world.steps(ask_id)["nudge"] == "cancelled"


def test_rescan_keys_are_narrow(world: World) -> None:
    """The SEARCH is built from the asks and mentors, not from the mailbox."""
    _ask_id, first_id = world.cold_ask_sent()
    inbox_keys = world.inbox().rescan_keys("inbox")
    assert ["HEADER", "In-Reply-To", first_id] in inbox_keys
    assert ["HEADER", "References", first_id] in inbox_keys
    assert ["FROM", MENTOR] in inbox_keys
    assert ["FROM", "mailer-daemon"] in inbox_keys
    sent_keys = world.inbox().rescan_keys("sent")
    assert ["TO", MENTOR] in sent_keys and ["FROM", MENTOR] not in sent_keys


def test_watcher_survives_a_uidvalidity_reset(world: World, watchers: Watchers) -> None:
    ask_id, first_id = world.cold_ask_sent()
    world.deliver(world.mentor_writes("Deals", sender="news@shop.example.com", subject="Deals"))
    watcher = watchers.start()
    # The reset kills and restarts the server under the watcher.
    world.server.reset_uidvalidity(world.user, "INBOX")
    world.server.deliver(world.user, "INBOX", world.mentor_writes(
        "Yes, let's meet next week.", in_reply_to=first_id))
    wait_until(steps_cancelled(world, ask_id), timeout=10)
    assert watcher.is_alive() and watcher.reconnects >= 1
    assert any(r.rescanned for r in watchers.results)
    assert len(events(world, "HumanReply")) == 1


def test_a_reply_without_message_id_is_not_applied_again_after_a_reset(world: World) -> None:
    _ask_id, first_id = world.cold_ask_sent()
    raw = world.mentor_writes("Yes - let's find a time next week.", in_reply_to=first_id)
    headless = b"\r\n".join(line for line in raw.split(b"\r\n")
                            if not line.lower().startswith(b"message-id:"))
    world.deliver(headless)
    first = world.sync()
    assert isinstance(first, SyncResult) and first.applied == 1
    assert len(events(world, "HumanReply")) == 1
    world.server.reset_uidvalidity(world.user, "INBOX")
    result = world.sync()
    assert isinstance(result, SyncResult) and result.rescanned and result.seen == 1
    assert result.applied == 0
    assert len(events(world, "HumanReply")) == 1
    assert raw_db(world.store).execute("SELECT count(*) FROM messages WHERE direction = 'in'"
                                  ).fetchone()[0] == 1
