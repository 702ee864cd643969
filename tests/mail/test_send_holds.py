"""The send path asks the ask before every send (invariant 3): a reply recorded while a
nudge is in flight stops its retry, a paused ask holds its approved drafts, an uncertain
send settled as "not sent" is not re-approved after a decline, a failed first mail holds
the ladder until ``maild draft retry``, and a draft cancelled just before the claim ends
quietly. Against the real aiosmtpd and Dovecot sandboxes.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from click.testing import CliRunner

from maild.app.lifecycle import resolve
from maild.app.outbox import Sender
from maild.cli import cli
from maild.core import events as ev
from maild.core.model import Intent
from tests.mail.conftest import Make, World
from tests.mail.worlds import (
    approved_draft,
    draft_status,
    send,
    step_status,
)
from tests.rawdb import raw


def send_ready(world: World, sender: Sender | None = None) -> dict[str, int]:
    report = asyncio.run((sender or world.sender()).send_ready())
    return {k: v for k, v in vars(report).items() if v}


def approved_nudge(world: World) -> tuple[int, int, str]:
    """A cold ask whose initial went out and whose day-5 nudge is approved:
    (ask id, nudge draft id, the initial's Message-ID)."""
    ask_id, initial_mid = world.cold_ask_sent()
    world.clock.advance(days=6)
    world.tracker.run_due(world.clock())
    [nudge] = world.store.read.drafts.with_status("pending")
    world.approve(nudge.id)
    return ask_id, nudge.id, initial_mid


def cli_run(world: World, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--home", str(world.home), *args],
                                env={"MAILD_NOW": world.clock().isoformat()})
    assert result.exit_code == 0, result.output
    return result.output


def test_reply_while_the_nudge_is_in_flight_stops_its_retry(make: Make) -> None:
    world, _ = make()
    _ask_id, nudge_id, initial_mid = approved_nudge(world)
    sent_before = len(world.smtp.messages)

    def reply_arrives(point: str) -> None:
        # The watcher records the mentor's answer while the nudge is being sent.
        if point == "before_smtp":
            world.deliver(world.mentor_writes("Happy to talk: are you free Thursday?",
                                              in_reply_to=initial_mid))
            world.sync()

    world.smtp.fail_next("DATA", "451 4.3.0 Mailbox busy, try later")
    assert asyncio.run(world.sender(checkpoint=reply_arrives).send_one(nudge_id)) == \
        "cancelled"
    assert draft_status(world, nudge_id) == "cancelled"
    assert step_status(world, nudge_id) == "cancelled"
    world.clock.advance(hours=3)
    assert send_ready(world) == {}
    assert len(world.smtp.messages) == sent_before


def test_temporary_failure_without_news_is_approved_again_through_the_engine(
        make: Make) -> None:
    world, _ = make()
    draft_id = approved_draft(world, 1)
    world.smtp.fail_next("DATA", "451 4.3.0 Mailbox busy, try later")
    assert send(world, draft_id) == "deferred"
    assert draft_status(world, draft_id) == "approved"
    assert step_status(world, draft_id) == "approved"
    types = [r[0] for r in raw(world.store).execute("SELECT type FROM events ORDER BY id")]
    assert "SendRetry" in types


def test_a_paused_ask_keeps_its_approved_draft(make: Make) -> None:
    world, _ = make()
    draft_id = approved_draft(world, 1)
    ask_id = world.store.read.drafts.get(draft_id).ask_id
    world.tracker.handle(ask_id, ev.UserMarked(ev.Mark.PAUSE), world.clock())
    assert send_ready(world) == {}
    assert send(world, draft_id) == "deferred"
    assert world.smtp.messages == []
    assert draft_status(world, draft_id) == "approved"
    assert world.sender().next_wakeup() is None
    world.tracker.handle(ask_id, ev.UserMarked(ev.Mark.RESUME), world.clock())
    assert send_ready(world) == {"sent": 1}


def test_a_hard_bounce_holds_and_redrafts_an_approved_nudge(make: Make) -> None:
    world, _ = make()
    ask_id, nudge_id, _mid = approved_nudge(world)
    sent_before = len(world.smtp.messages)
    world.tracker.handle(ask_id, ev.Bounce(True, ("drivera@med.example.edu",), "5.1.1"),
                         world.clock())
    assert world.state(ask_id) == "needs_address"
    assert send_ready(world) == {}
    assert draft_status(world, nudge_id) == "cancelled"
    assert len(world.smtp.messages) == sent_before


def test_not_sent_after_a_decline_is_not_approved_again(make: Make) -> None:
    world, _ = make()
    draft_id = approved_draft(world, 1)
    ask_id = world.store.read.drafts.get(draft_id).ask_id
    world.smtp.disconnect_after_next_data()
    assert send(world, draft_id) == "uncertain"
    world.tracker.handle(ask_id, ev.HumanReply(Intent.DECLINE, at=world.clock()),
                         world.clock())
    assert world.state(ask_id) == "declined"
    draft = resolve(world.store, world.tracker, draft_id, went_out=False,
                    now=world.clock() + timedelta(hours=1))
    assert draft.status == "cancelled"
    assert step_status(world, draft_id) == "cancelled"
    assert world.sender().ready(world.clock() + timedelta(hours=2)) == []


def test_a_failed_first_mail_holds_the_ladder_until_retried(make: Make) -> None:
    world, notices = make()
    draft_id = approved_draft(world, 1)
    ask_id = world.store.read.drafts.get(draft_id).ask_id
    world.smtp.fail_next("DATA", "554 5.7.1 Message rejected as spam")
    assert send(world, draft_id) == "failed"
    assert world.state(ask_id) == "send_failed"
    assert any("follow-ups of this ask wait" in text for _l, text in notices.told), notices.told
    # Day 6 and day 21: no nudge "following up" on a mail that never left, no "no response".
    world.clock.advance(days=6)
    world.tracker.run_due(world.clock())
    assert world.store.read.drafts.with_status("pending", "approved") == []
    world.clock.advance(days=15)
    world.tracker.run_due(world.clock())
    assert world.state(ask_id) == "send_failed"
    # The user fixed it: retry sends it once and the ladder counts from then.
    assert "approved again" in cli_run(world, "draft", "retry", str(draft_id))
    assert world.state(ask_id) == "active"
    assert send_ready(world) == {"sent": 1}
    assert world.steps(ask_id)["initial"] == "sent"
    world.tracker.run_due(world.clock())
    assert world.steps(ask_id)["nudge"] == "planned"
    # Only a failed draft can be retried.
    again = CliRunner().invoke(cli, ["--home", str(world.home), "draft", "retry",
                                     str(draft_id)])
    assert again.exit_code == 2 and "only a failed send" in again.output


def test_cancelling_the_ask_covers_a_failed_step(make: Make) -> None:
    world, _ = make()
    draft_id = approved_draft(world, 1)
    ask_id = world.store.read.drafts.get(draft_id).ask_id
    world.smtp.fail_next("DATA", "554 5.7.1 Message rejected as spam")
    assert send(world, draft_id) == "failed"
    world.tracker.handle(ask_id, ev.UserMarked(ev.Mark.CANCEL), world.clock())
    assert world.steps(ask_id) == {"initial": "cancelled", "nudge": "cancelled",
                                   "final_nudge": "cancelled", "stop": "cancelled"}
    closed = raw(world.store).execute("SELECT closed_at FROM asks WHERE id = ?",
                                    (ask_id,)).fetchone()[0]
    assert closed is not None
    assert "called off" in cli_run(world, "draft", "retry", str(draft_id))
    assert draft_status(world, draft_id) == "cancelled"


def test_a_draft_cancelled_just_before_the_claim_is_cancelled_quietly(make: Make) -> None:
    world, _ = make()
    draft_id = approved_draft(world, 1)
    ask_id = world.store.read.drafts.get(draft_id).ask_id

    def cancel_now(point: str) -> None:
        if point == "before_claim":
            world.tracker.handle(ask_id, ev.UserMarked(ev.Mark.CANCEL), world.clock())

    assert asyncio.run(world.sender(checkpoint=cancel_now).send_one(draft_id)) == "cancelled"
    assert world.smtp.messages == []
    assert draft_status(world, draft_id) != "sending"


def test_a_draft_the_user_sent_themselves_is_sent_and_counts(make: Make,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    world, _ = make("\n[sending]\nrate_per_hour = 1\n")
    draft_id = approved_draft(world, 1)
    # The re-check finds the draft's own Message-ID in Sent (the user sent maild's copy).
    monkeypatch.setattr(Sender, "_recheck_thread", lambda self, account, draft: True)
    assert send(world, draft_id) == "cancelled"
    assert world.smtp.messages == []
    assert draft_status(world, draft_id) == "sent"
    assert step_status(world, draft_id) == "sent"
    # It went out: the hourly limit counts it.
    assert world.sender()._rate_hold(world.account.name, world.clock()) is not None
