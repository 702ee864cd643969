"""IMAP outage with replies arriving meanwhile: found once each, soon after the return.

The watcher's back-off grows while the server is down (here to seconds; minutes in a
real outage). The probe ends the wait as soon as the server answers, so the catch-up
starts within a probe interval of the return, and every reply that arrived during the
outage is applied exactly once. Runs on Dovecot and on Cyrus.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator

import pytest

from maild.adapters.imap import reachable
from maild.runtime.watcher import WatchTiming
from tests.mail.conftest import World
from tests.mail.test_watch import Watchers, events, steps_cancelled, wait_until
from tests.mail.worlds import add_mentor

# A back-off that grows to seconds within a short outage (after 6 failures the next
# wait is 1.6-3.2 s); probes every 0.1 s.
GROWING = WatchTiming(idle_slice=0.1, backoff_base=0.05, backoff_cap=60.0,
                      probe_interval=0.1)


@pytest.fixture
def watchers(world: World) -> Iterator[Watchers]:
    group = Watchers(world)
    yield group
    group.stop_all()


@pytest.mark.both_imap_servers
def test_replies_during_an_outage_are_applied_once_right_after_the_return(
        world: World, watchers: Watchers) -> None:
    ask_id, first_id = world.cold_ask_sent()
    watcher = watchers.start(timing=GROWING, probe=lambda: reachable(world.account.imap),
                             rng=random.Random(3))
    world.server.kill()
    # Long enough for several failed reconnects: the next wait is now seconds long.
    wait_until(lambda: watcher.reconnects >= 7, timeout=10)
    world.server.deliver(world.user, "INBOX", world.mentor_writes(
        "Back from the conference - yes, let's meet.", in_reply_to=first_id))
    world.server.deliver(world.user, "INBOX", world.mentor_writes(
        "Sale!", sender="news@shop.example.com", subject="Deals"))
    assert world.steps(ask_id)["nudge"] == "planned"
    world.server.start()
    back = time.monotonic()
    wait_until(steps_cancelled(world, ask_id), timeout=10)
    took = time.monotonic() - back
    # Without the probe this waits out the back-off (here 1.6-3.2 s); with it, about
    # the probe interval plus a catch-up.
    assert took < 1.5, took
    assert len(events(world, "HumanReply")) == 1
    # A further reconnect (and catch-up) applies nothing again.
    world.server.restart(graceful=False)
    wait_until(lambda: watcher.connected, timeout=10)
    time.sleep(0.3)
    assert len(events(world, "HumanReply")) == 1


def test_without_a_probe_the_wait_is_the_back_off(world: World, watchers: Watchers) -> None:
    """The control: the same outage without a probe waits out the grown back-off."""
    ask_id, first_id = world.cold_ask_sent()
    add_mentor(world, 2)
    watcher = watchers.start(timing=GROWING, rng=random.Random(3))
    world.server.kill()
    wait_until(lambda: watcher.reconnects >= 7, timeout=10)
    # The 7th wait began within the poll step of now and lasts at least 1.6 s.
    waiting_since = time.monotonic()
    world.server.deliver(world.user, "INBOX", world.mentor_writes(
        "Yes, let's meet.", in_reply_to=first_id))
    world.server.start()
    wait_until(steps_cancelled(world, ask_id), timeout=30)
    assert time.monotonic() - waiting_since > 1.5
