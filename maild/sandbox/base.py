"""What the sandbox servers share: the error they raise, loopback port helpers, what a
throwaway IMAP server offers the tests (``ImapSandbox``) whichever implementation
(Dovecot, Cyrus) runs underneath, and how a mail server checks an OAuth2 bearer token
(``TokenCheck``).

The sandbox (throwaway Dovecot and Cyrus IMAP servers, an aiosmtpd server) only ever
listens on 127.0.0.1; nothing here opens a port on any other interface.
"""

from __future__ import annotations

import base64
import contextlib
import grp
import json
import os
import pwd
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self

from maild.errors import MaildError

LOOPBACK = "127.0.0.1"


class SandboxError(MaildError):
    """A sandbox server could not be started, stopped or changed."""


@dataclass(frozen=True)
class TokenCheck:
    """How a sandbox mail server checks a bearer token: RFC 7662 introspection.

    The endpoint must answer ``{"active": true, "username": ...}`` and the username must
    be the one the client logs in as; otherwise the login is refused. Dovecot's oauth2
    passdb and the SMTP sandbox both check this way, against ``maild.sandbox.oauth``.
    """

    introspection_url: str
    client_id: str
    client_secret: str

    def allows(self, username: str, token: str, timeout: float = 5.0) -> bool:
        """Whether ``token`` is active and belongs to ``username`` (False on any error)."""
        credentials = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode())
        req = urllib.request.Request(
            self.introspection_url, data=urllib.parse.urlencode({"token": token}).encode(),
            headers={"Authorization": f"Basic {credentials.decode()}",
                     "Content-Type": "application/x-www-form-urlencoded"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as answer:
                payload = json.load(answer)
        except (OSError, ValueError, urllib.error.URLError):
            return False
        return (isinstance(payload, dict) and payload.get("active") is True
                and str(payload.get("username", "")).lower() == username.lower())


@dataclass(frozen=True)
class ImapAccount:
    """Everything a client needs to log in to an IMAP sandbox as one user."""

    host: str
    port: int
    user: str
    password: str


@dataclass(frozen=True)
class RunAs:
    """The account a sandbox server's processes run as."""

    name: str
    group: str
    uid: int
    gid: int

    @classmethod
    def _from_entry(cls, entry: pwd.struct_passwd) -> RunAs:
        try:
            group = grp.getgrgid(entry.pw_gid).gr_name
        except KeyError:
            group = str(entry.pw_gid)
        return cls(entry.pw_name, group, entry.pw_uid, entry.pw_gid)

    @classmethod
    def choose(cls, candidates: Iterable[str], server: str) -> RunAs:
        """The current user, or the first existing unprivileged account when we are
        root (``MAILD_SANDBOX_USER`` names another one)."""
        if os.geteuid() != 0:
            return cls._from_entry(pwd.getpwuid(os.geteuid()))
        wanted = os.environ.get("MAILD_SANDBOX_USER")
        names = (wanted,) if wanted else tuple(candidates)
        for name in names:
            try:
                entry = pwd.getpwnam(name)
            except KeyError:
                continue
            return cls._from_entry(entry)
        raise SandboxError(
            f"running as root, but none of the accounts {', '.join(names)} exists to run "
            f"{server} as; set MAILD_SANDBOX_USER to an unprivileged account"
        )

    @property
    def needs_switch(self) -> bool:
        """Whether starting the server means dropping from root to this account."""
        return os.geteuid() != self.uid


class ImapSandbox(Protocol):
    """A throwaway IMAP server as the tests drive it, whatever its implementation.

    Any username that went through ``account(user)`` logs in with ``password`` and gets
    its own empty mailbox with INBOX, Drafts, Sent and Trash (special-use flags set).
    ``deliver`` puts a message straight into a folder the way an MDA would, whether
    the server runs or not; a stopped server serves it at its next ``start``.
    ``reset_uidvalidity`` makes the server give a folder a new UIDVALIDITY, keeping its
    messages.
    """

    name: str
    host: str
    port: int
    password: str

    @property
    def running(self) -> bool: ...

    def account(self, user: str) -> ImapAccount: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def kill(self) -> None: ...

    def restart(self, *, graceful: bool = True) -> None: ...

    def close(self) -> None: ...

    def deliver(self, user: str, folder: str, raw: bytes, *, flags: Iterable[str] = (),
                received: float | None = None) -> Path: ...

    def reset_uidvalidity(self, user: str, folder: str) -> None: ...

    def log_tail(self, lines: int = 30) -> str: ...


class SandboxServer:
    """A server used as ``with Server() as server:``: started on entry, and closed
    (stopped, temporary files removed) on exit, or when starting fails half-way."""

    def start(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def stop_process_group(process: subprocess.Popen[bytes], pid_file: Path, *,
                       graceful: bool, timeout: float) -> None:
    """Stop a server started with ``start_new_session``: SIGTERM first when ``graceful``,
    then whatever is left of its process group is killed.

    No child (an IMAP session) may outlive the server and keep its mail store open, and
    a pid file left by a kill would make the next start refuse ("already running").
    """
    if graceful and process.poll() is None:
        process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=timeout)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    with contextlib.suppress(FileNotFoundError):
        pid_file.unlink()


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now.

    The port is released before it is returned, so another process could take it in
    between; callers that bind later retry with a fresh port when that happens.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def read_greeting(host: str, port: int, timeout: float = 1.0) -> bytes | None:
    """Connect once and return the server's first line, or None if nobody answers."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            data = b""
            while not data.endswith(b"\n"):
                chunk = sock.recv(1024)
                if not chunk:
                    break
                data += chunk
            return data
    except OSError:
        return None


def wait_for_greeting(
    host: str,
    port: int,
    prefix: bytes,
    timeout: float,
    alive: Callable[[], bool] | None = None,
    contains: bytes = b"",
) -> bool:
    """Poll until a connection to host:port greets with ``prefix``; False on timeout.

    ``contains`` must also occur in the greeting when given (a token identifying the
    very server instance we started).

    ``alive`` is an optional zero-argument callable; polling stops early (returning
    False) as soon as it returns false, so a server that crashed during start-up is
    reported at once instead of after the whole timeout.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            return False
        greeting = read_greeting(host, port, timeout=max(0.1, deadline - time.monotonic()))
        if greeting is not None and greeting.startswith(prefix) and contains in greeting:
            return True
        # Short sleeps: Dovecot is usually listening within ~20 ms, so a coarse
        # interval would dominate the fixture's start-up time.
        time.sleep(0.005)
    return False
