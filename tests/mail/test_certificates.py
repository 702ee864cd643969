"""A certificate that cannot be verified is a permanent failure the user is told how to
fix, not a temporary one retried for ever with only log warnings.

SMTP: the sandbox server's certificate comes from its own authority; without
``ca_file`` maild cannot verify it. IMAP: a real TLS listener on 127.0.0.1 with a
certificate from an authority nobody trusts.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import replace

import pytest
import trustme

from maild.adapters.imap import CertificateError, ImapConnection
from maild.config import Endpoint
from maild.core.actions import Level
from maild.runtime.watcher import FolderWatcher, WatchTiming
from maild.sandbox.base import LOOPBACK
from tests.mail.conftest import Make
from tests.mail.worlds import approved_draft, draft_status, send


def test_smtp_certificate_failure_fails_the_draft_and_tells_the_fix(make: Make) -> None:
    world, notices = make()
    draft_id = approved_draft(world, 1)
    account = world.account
    world.config = replace(world.config, accounts=(
        replace(account, smtp=replace(account.smtp, ca_file=None)),))
    assert send(world, draft_id) == "failed"  # not "deferred": retrying cannot help
    assert draft_status(world, draft_id) == "failed"
    assert world.smtp.messages == []
    told = [text for level, text in notices.told if level is Level.URGENT]
    assert told and "could not be verified" in told[0] and "smtp.ca_file" in told[0]


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
