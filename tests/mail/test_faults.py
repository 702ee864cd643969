"""Exactly-once under SIGKILL: a real sending process is killed at each point of the
send path, 10 times each, and recovery plus a further send attempt must never make the
SMTP server receive a message twice; every step ends ``sent`` or ``uncertain``.
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

import pytest

from maild.sandbox.dovecot import DovecotServer
from maild.sandbox.smtp import SmtpSandbox
from tests.mail.conftest import PW_ENV, World
from tests.mail.send_child import __file__ as CHILD
from tests.mail.test_send_and_match import sent_folder_ids
from tests.mail.worlds import add_mentor, approved_draft, build_world, step_status

RUNS = 10
# What each kill point leaves, after recovery and another send attempt:
# (draft status, messages the SMTP server holds with that Message-ID, copies in Sent).
EXPECTED = {
    # Killed before the claim: nothing happened, so the next attempt sends it, once.
    "before_claim": ("sent", 1, 1),
    # Claimed, killed before SMTP: nothing went out, but nothing proves it: uncertain.
    "before_smtp": ("uncertain", 0, 0),
    # The server took the message, the commit never happened: uncertain, not re-sent.
    "after_data": ("uncertain", 1, 0),
    # Committed as sent, killed before the Sent copy: sent, and never sent again.
    "after_commit": ("sent", 1, 0),
}


@pytest.fixture
def fault_world(tmp_path: Path, dovecot: DovecotServer, smtp_for_user: SmtpSandbox,
                imap_user: str, monkeypatch: pytest.MonkeyPatch) -> World:
    monkeypatch.setenv(PW_ENV, dovecot.password)
    # 40 sends in one test hour: the rate limit is not what is under test here.
    return build_world(tmp_path, dovecot, smtp_for_user, imap_user,
                       extra="\n[sending]\nrate_per_hour = 500\ndaily_cap = 500\n")


def run_child(world: World, draft_id: int, point: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, PW_ENV: world.server.password,
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.run(
        [sys.executable, CHILD, str(world.config.path), str(world.store.path), str(draft_id),
         point, world.clock().isoformat()],
        env=env, capture_output=True, text=True, timeout=60, check=False)


def test_sigkill_anywhere_in_the_send_path_never_sends_twice(fault_world: World) -> None:
    world = fault_world
    started = time.monotonic()
    results: dict[str, list[tuple[str, str, int, int]]] = collections.defaultdict(list)
    mentor = 100
    for point in EXPECTED:
        for _ in range(RUNS):
            mentor += 1
            draft_id = approved_draft(world, add_mentor(world, mentor))
            message_id = world.store.read.drafts.get(draft_id).spec.message_id
            child = run_child(world, draft_id, point)
            assert child.returncode == -signal.SIGKILL, (point, child.returncode, child.stderr)
            # What a restarted daemon does: recover, then its normal send loop.
            world.sender().recover()
            asyncio.run(world.sender().send_ready())
            received = [m for m in world.smtp.messages if m.message["Message-ID"] == message_id]
            status = world.store.read.drafts.get(draft_id).status
            results[point].append((status, step_status(world, draft_id), len(received),
                                   sent_folder_ids(world).count(message_id)))
    elapsed = time.monotonic() - started
    for point, (status, on_server, in_sent) in EXPECTED.items():
        assert results[point] == [(status, status, on_server, in_sent)] * RUNS, point
    # Over the whole run: no Message-ID reached the server twice.
    ids = collections.Counter(m.message["Message-ID"] for m in world.smtp.messages)
    assert ids and max(ids.values()) == 1
    assert len(ids) == RUNS * 3  # before_claim, after_data, after_commit went out once each
    # Recorded for the report: 40 sending processes, each killed.
    print(f"\n{len(EXPECTED) * RUNS} SIGKILLed sends in {elapsed:.1f} s")
