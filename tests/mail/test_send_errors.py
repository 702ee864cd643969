"""How a send ends when the SMTP server or the clock says no: 4xx retries with backoff,
5xx fails and tells the user, a dropped connection after DATA is ``uncertain`` and never
re-sent, the rate limit and daily cap hold, and the sending window is respected.
All against the real aiosmtpd and Dovecot sandboxes.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner

from maild.cli import cli
from maild.core.actions import Level
from tests.mail.conftest import Make, World
from tests.mail.worlds import (
    add_mentor,
    approved_draft,
    draft_status,
    events,
    send,
    step_status,
)


def send_ready(world: World) -> dict[str, int]:
    report = asyncio.run(world.sender().send_ready())
    return {k: v for k, v in vars(report).items() if v}


def test_4xx_on_data_defers_with_growing_backoff_then_sends_once(make: Make) -> None:
    world, _ = make()
    draft_id = approved_draft(world, 1)
    world.smtp.fail_next("DATA", "451 4.3.0 Mailbox busy, try later", times=2)
    start = world.clock()
    assert send(world, draft_id) == "deferred"
    draft = world.store.read.drafts.get(draft_id)
    assert draft.status == "approved" and step_status(world, draft_id) == "approved"
    assert draft.send_after == start + timedelta(minutes=2)
    retry = json.loads(events(world, "send_retry")[0])
    assert retry["attempt"] == 1 and "451" in retry["error"]
    # Not due yet: the send loop leaves it alone.
    assert send_ready(world) == {}
    world.clock.advance(minutes=2)
    assert send_ready(world) == {"deferred": 1}
    assert world.store.read.drafts.get(draft_id).send_after == \
        world.clock() + timedelta(minutes=4)  # the second attempt waits twice as long
    world.clock.advance(minutes=4)
    assert send_ready(world) == {"sent": 1}
    assert len(world.smtp.messages) == 1
    assert draft_status(world, draft_id) == "sent" and step_status(world, draft_id) == "sent"


def test_5xx_fails_the_step_and_tells_the_user(make: Make) -> None:
    world, notices = make()
    draft_id = approved_draft(world, 1)
    world.smtp.fail_next("DATA", "554 5.7.1 Message rejected as spam")
    assert send(world, draft_id) == "failed"
    assert draft_status(world, draft_id) == "failed"
    assert step_status(world, draft_id) == "failed"
    assert world.smtp.messages == []
    # The notice names the mentor and the ask: it is read on its own, later.
    assert (Level.WARNING, "Dana Rivera (cold ask 1): The initial mail was not sent.") \
        in notices.told
    assert "554 5.7.1" in json.loads(events(world, "send_failed")[0])["error"]
    # A failed draft is never picked up again.
    world.clock.advance(hours=3)
    assert send_ready(world) == {}
    assert world.smtp.messages == []


def test_5xx_on_rcpt_fails_without_data(make: Make) -> None:
    world, _ = make()
    draft_id = approved_draft(world, 1)
    world.smtp.fail_next("RCPT", "550 5.1.1 No such user")
    assert send(world, draft_id) == "failed"
    assert world.smtp.messages == []


def test_disconnect_after_data_is_uncertain_and_never_resent(make: Make) -> None:
    world, notices = make()
    draft_id = approved_draft(world, 1)
    world.smtp.disconnect_after_next_data()
    assert send(world, draft_id) == "uncertain"
    assert len(world.smtp.messages) == 1  # the server did take it
    assert draft_status(world, draft_id) == "uncertain"
    assert step_status(world, draft_id) == "uncertain"
    assert any("may or may not have gone out" in text for _l, text in notices.told)
    for _ in range(3):
        world.clock.advance(hours=1)
        assert send_ready(world) == {}
        assert world.sender().recover() == []
    assert len(world.smtp.messages) == 1


def test_rate_limit_and_daily_cap_hold(make: Make) -> None:
    world, _ = make("\n[sending]\nrate_per_hour = 2\ndaily_cap = 3\n")
    t0 = world.clock()
    drafts = [approved_draft(world, add_mentor(world, n)) for n in range(4)]
    assert send_ready(world) == {"sent": 2, "deferred": 2}
    held = [world.store.read.drafts.get(d) for d in drafts[2:]]
    # The next slot opens when the first send of the hour ages out, not at a guess.
    assert [d.send_after for d in held] == [t0 + timedelta(hours=1, seconds=1)] * 2
    world.clock.advance(minutes=30)
    assert send_ready(world) == {}  # still held
    world.clock.advance(minutes=30, seconds=1)
    # The hour is over, but the day allows only one more.
    assert send_ready(world) == {"sent": 1, "deferred": 1}
    last = world.store.read.drafts.get(drafts[3])
    assert last.status == "approved"
    assert last.send_after == t0 + timedelta(days=1, seconds=1)
    world.clock.now = t0 + timedelta(days=1, seconds=1)
    assert send_ready(world) == {"sent": 1}
    assert len(world.smtp.messages) == 4


def test_outside_the_window_waits_for_the_next_allowed_moment(make: Make) -> None:
    world, _ = make()
    # Approved in the morning; the sender only gets to it at 18:30 New York time (a
    # laptop that slept all day), after the 08:00-17:00 window.
    draft_id = approved_draft(world, 1)
    world.clock.now = datetime(2026, 11, 17, 23, 30, tzinfo=UTC)
    assert send(world, draft_id) == "deferred"
    wednesday_8am = datetime(2026, 11, 18, 13, 0, tzinfo=UTC)
    assert world.store.read.drafts.get(draft_id).send_after == wednesday_8am
    assert world.smtp.messages == []
    world.clock.now = wednesday_8am - timedelta(minutes=1)
    assert send_ready(world) == {}
    world.clock.now = wednesday_8am
    assert send_ready(world) == {"sent": 1}
    # Approved on Friday, picked up on Friday evening: waits for Monday morning.
    world.clock.now = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    second = approved_draft(world, add_mentor(world, 7))
    world.clock.now = datetime(2026, 11, 20, 22, 30, tzinfo=UTC)
    assert send(world, second) == "deferred"
    assert world.store.read.drafts.get(second).send_after == \
        datetime(2026, 11, 23, 13, 0, tzinfo=UTC)


def resolve(world: World, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--home", str(world.home), "draft", "resolve", *args],
                                env={"MAILD_NOW": world.clock().isoformat()})
    assert result.exit_code == 0, result.output
    return result.output


def test_user_settles_an_uncertain_send(make: Make) -> None:
    world, _ = make()
    went = approved_draft(world, 1)
    lost = approved_draft(world, add_mentor(world, 2))
    world.smtp.disconnect_after_next_data()
    assert send(world, went) == "uncertain"
    # A 421 answer to DATA is a verdict (nothing was taken): retried later. The retry
    # then loses its connection after DATA.
    world.smtp.fail_next("DATA", "421 4.4.2 Closing connection")
    world.smtp.disconnect_after_next_data()
    assert send(world, lost) == "deferred"
    world.clock.advance(minutes=3)
    assert send(world, lost) == "uncertain"
    assert len(world.smtp.messages) == 2
    result = CliRunner().invoke(cli, ["--home", str(world.home), "draft", "resolve", str(went)])
    assert result.exit_code == 2 and "--sent or --not-sent" in result.output
    # The user found the first one in the mentor's reply: it went out.
    assert "marked as sent" in resolve(world, str(went), "--sent")
    assert draft_status(world, went) == "sent" and step_status(world, went) == "sent"
    assert world.state(world.store.read.drafts.get(went).ask_id) == "waiting_reply"
    # The second never arrived (the user asked): send it again, once.
    assert "approved again" in resolve(world, str(lost), "--not-sent")
    assert send_ready(world) == {"sent": 1}
    assert draft_status(world, lost) == "sent" and step_status(world, lost) == "sent"
    assert send_ready(world) == {}
    assert len(world.smtp.messages) == 3
    # Only an uncertain send can be settled.
    again = CliRunner().invoke(cli, ["--home", str(world.home), "draft", "resolve", str(went),
                                     "--sent"])
    assert again.exit_code == 2 and "only an uncertain send" in again.output
