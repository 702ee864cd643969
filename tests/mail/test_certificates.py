"""A certificate that cannot be verified is a permanent failure the user is told how to
fix, not a temporary one retried for ever with only log warnings.

SMTP: the sandbox server's certificate comes from its own authority; without
``ca_file`` maild cannot verify it. IMAP: a real TLS listener on 127.0.0.1 with a
certificate from an authority nobody trusts.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
import trustme

from maild.adapters.imap import CertificateError, ImapConnection
from maild.config import Endpoint
from maild.core.actions import Level
from maild.core.model import AskState
from maild.runtime.watcher import FolderWatcher, WatchTiming
from maild.sandbox.base import LOOPBACK
from tests.mail.conftest import Make
from tests.mail.worlds import add_mentor, approved_draft, draft_status, step_status


def test_smtp_certificate_failure_holds_every_draft_and_tells_the_fix_once(
        make: Make) -> None:
    # Session 2's gap: each approved draft failed on its own, with one urgent notice
    # each, and a failed first email held its ask as send_failed.
    world, notices = make()
    for n in (2, 3):
        add_mentor(world, n)
    drafts = [approved_draft(world, mentor) for mentor in (1, 2, 3)]
    account = world.account
    world.config = replace(world.config, accounts=(
        replace(account, smtp=replace(account.smtp, ca_file=None)),))
    sender = world.sender()  # the daemon keeps one Sender until a reload
    report = asyncio.run(sender.send_ready())
    assert (report.sent, report.failed, report.deferred) == (0, 0, 3)
    assert world.smtp.messages == []
    hour = world.clock() + timedelta(hours=1)
    for draft_id in drafts:
        draft = world.store.read.drafts.get(draft_id)
        assert draft.status == "approved" and draft.send_after == hour
        assert step_status(world, draft_id) == "approved"
    assert {a.state for a in world.store.read.asks.open()} == {AskState.ACTIVE}
    told = [text for level, text in notices.told if level is Level.URGENT]
    assert len(told) == 1 and "could not be verified" in told[0] and "smtp.ca_file" in told[0]
    assert not [t for _level, t in notices.told if "was not sent" in t]
    # An hour later it tries again: still refused, held again, not told again.
    world.clock.advance(hours=1, minutes=1)
    assert asyncio.run(sender.send_ready()).deferred == 3
    assert len([t for level, t in notices.told if level is Level.URGENT]) == 1
    assert world.store.read.drafts.get(drafts[0]).send_after == world.clock() + timedelta(
        hours=1)
    # The fix (the authority's certificate as ca_file, then a reload): all three go out
    # at the next try.
    world.config = replace(world.config, accounts=(account,))
    world.clock.advance(hours=1, minutes=1)
    assert asyncio.run(world.sender().send_ready()).sent == 3
    assert [draft_status(world, d) for d in drafts] == ["sent"] * 3


@pytest.fixture
def untrusted_tls_server() -> Iterator[int]:
    """A TLS server on 127.0.0.1 whose certificate no one trusts; returns its port."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    trustme.CA().issue_cert(LOOPBACK).configure_cert(context)
    listener = socket.create_server((LOOPBACK, 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    tls.sendall(b"* OK ready\r\n")
            except (ssl.SSLError, OSError):
                pass  # the client refused our certificate: what the test wants

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(2)
    listener.close()


def test_imap_certificate_failure_stops_the_watcher_and_tells_the_fix(
        make: Make, untrusted_tls_server: int) -> None:
    world, _notices = make()
    account = replace(world.account, imap=Endpoint(LOOPBACK, untrusted_tls_server, "tls"))
    with pytest.raises(CertificateError, match=r"imap\.ca_file"):
        ImapConnection.open(account, "secret")
    told: list[str] = []
    stop = threading.Event()
    watcher = FolderWatcher(account="school", role="inbox",
                            connect=lambda: ImapConnection.open(account, "secret"),
                            resolve=lambda conn: "INBOX", sync=lambda conn, folder: None,
                            stop=stop, timing=WatchTiming(backoff_base=0.05),
                            give_up=told.append)
    watcher.start()
    watcher.join(5)
    stop.set()
    assert not watcher.is_alive() and watcher.reconnects == 0
    assert len(told) == 1 and "could not be verified" in told[0] and "ca_file" in told[0]
