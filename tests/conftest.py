"""Fixtures shared by the whole suite: the real-server sandbox.

Owns starting (once per session) real IMAP servers (Dovecot, and Cyrus as a second
implementation) and a real aiosmtpd SMTP server from ``maild.sandbox``, and the
per-test guarantees around them: every test that asks for ``dovecot``, ``cyrus`` or
``imap_server`` gets a running server (even if an earlier test stopped it),
and every test that asks for ``smtp_server`` starts with no recorded messages and no
pending injected failures. Each test gets a fresh IMAP username, hence an empty
mailbox, so tests never see each other's mail.

``imap_server`` is Dovecot, except in tests marked ``both_imap_servers``, which run
once on each implementation (``[dovecot]`` / ``[cyrus]`` in the test id).

When Dovecot or Cyrus (or aiosmtpd/trustme) is missing, the tests that need it are skipped on
a developer machine but fail under ``CI=true``: CI must never silently skip them.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

if TYPE_CHECKING:
    from maild.sandbox.base import ImapAccount, ImapSandbox
    from maild.sandbox.cyrus import CyrusServer
    from maild.sandbox.dovecot import DovecotServer
    from maild.sandbox.smtp import SmtpSandbox

_user_counter = itertools.count(1)
IMAP_SERVERS = ("dovecot", "cyrus")


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: real-server tests may not be skipped)", pytrace=False)
    pytest.skip(reason)


# -- Dovecot ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def dovecot() -> Iterator[DovecotServer]:
    """The session's Dovecot (127.0.0.1, plain IMAP, any username, one password)."""
    from maild.sandbox.dovecot import DovecotServer, find_dovecot

    if find_dovecot() is None:
        _unavailable(
            "dovecot is not installed (apt-get install dovecot-imapd / brew install dovecot)"
        )
    with DovecotServer() as server:
        yield server


# -- Cyrus --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def cyrus() -> Iterator[CyrusServer]:
    """The session's Cyrus IMAP (127.0.0.1, plain IMAP, any username, one password)."""
    from maild.sandbox.cyrus import CyrusServer, find_cyrus

    if find_cyrus() is None:
        _unavailable("Cyrus IMAP is not installed (bash tests/bootstrap.sh installs it)")
    with CyrusServer() as server:
        yield server


@pytest.fixture
def imap_server(request: pytest.FixtureRequest) -> Iterator[ImapSandbox]:
    """An IMAP sandbox: Dovecot, or each implementation in turn where parametrised."""
    name = getattr(request, "param", "dovecot")
    server: ImapSandbox = request.getfixturevalue(name)
    server.start()
    yield server
    server.start()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if ("imap_server" in metafunc.fixturenames
            and metafunc.definition.get_closest_marker("both_imap_servers")):
        metafunc.parametrize("imap_server", IMAP_SERVERS, indirect=True)


@pytest.fixture
def imap_user() -> str:
    """A username nobody used before in this session: a fresh, empty mailbox."""
    return f"trainee{next(_user_counter)}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def imap_account(imap_server: ImapSandbox, imap_user: str) -> ImapAccount:
    return imap_server.account(imap_user)


@pytest.fixture
def imap_client(imap_account: ImapAccount) -> Iterator[Any]:
    """An imapclient.IMAPClient logged in as ``imap_user``; logged out afterwards."""
    from imapclient import IMAPClient

    client = IMAPClient(imap_account.host, port=imap_account.port, ssl=False, timeout=10)
    client.login(imap_account.user, imap_account.password)
    yield client
    try:
        client.logout()
    except Exception:
        # The test may have stopped or killed the server; just drop the socket.
        client.shutdown()


# -- SMTP ---------------------------------------------------------------------------


def _smtp_sandbox_class() -> type[SmtpSandbox]:
    try:
        from maild.sandbox.smtp import SmtpSandbox
    except ImportError as exc:
        _unavailable(f"the SMTP sandbox needs aiosmtpd and trustme: {exc}")
    return SmtpSandbox


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[SmtpSandbox]:
    """The session's SMTP server: STARTTLS, AUTH required (and only over TLS)."""
    with _smtp_sandbox_class()() as server:
        yield server


@pytest.fixture(scope="session")
def smtp_server_implicit_tls() -> Iterator[SmtpSandbox]:
    """Like ``smtp_server`` but TLS from the first byte (port-465 style)."""
    with _smtp_sandbox_class()(implicit_tls=True) as server:
        yield server


# -- per-test hygiene ---------------------------------------------------------------


@pytest.fixture(autouse=True)
def _sandbox_per_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """Give each test a running Dovecot and a clean SMTP record.

    Only touches servers the test asked for, so unit tests start no server at all.
    """
    names = set(request.fixturenames)
    servers: list[ImapSandbox] = []
    for name in IMAP_SERVERS:
        if name in names:
            server = request.getfixturevalue(name)
            server.start()  # a no-op unless an earlier test left it stopped
            servers.append(server)
    for name in ("smtp_server", "smtp_server_implicit_tls"):
        if name in names:
            request.getfixturevalue(name).reset()
    yield
    for server in servers:
        # A test that stopped the server and failed before starting it again must
        # not take the rest of the session down with it.
        server.start()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests by the real servers they use, so ``-m "not imap"`` works."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & {"dovecot", "cyrus", "imap_server", "imap_account", "imap_client"}:
            item.add_marker(pytest.mark.imap)
        if fixtures & {"smtp_server", "smtp_server_implicit_tls"}:
            item.add_marker(pytest.mark.smtp)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the season simulator's one-screen summary (tests/season), also under xdist:
    it travels as a user property of the test's report."""
    for outcome in ("passed", "failed"):
        for report in terminalreporter.stats.get(outcome, []):
            for name, value in getattr(report, "user_properties", ()):
                if name == "season_summary":
                    terminalreporter.write_sep("-", f"season summary ({outcome})")
                    terminalreporter.write_line(str(value))
