"""A throwaway SMTP submission server (aiosmtpd) for tests and ``maild demo``.

Owns the server side of the send path: a real aiosmtpd server on 127.0.0.1 with a
trustme certificate (STARTTLS, or implicit TLS), AUTH PLAIN/LOGIN required and only
allowed over TLS, a thread-safe record of every message accepted, and failures that a
test can inject into the next MAIL, RCPT or DATA (a 451, a 550, or a connection that
drops right after the message was taken, which is how "did it send or not?" happens).

With ``oauth=TokenCheck(...)`` it also offers AUTH XOAUTH2, checking each bearer token
against the sandbox identity provider's introspection endpoint (as Dovecot's oauth2
passdb does) and answering a refused token the way Gmail and Microsoft 365 do: a 334
challenge carrying a JSON error, then 535 once the client has answered it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import email
import email.policy
import logging
import ssl
import tempfile
import threading
import time
import warnings
from collections import deque
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from maild.sandbox.base import LOOPBACK, SandboxError, SandboxServer, TokenCheck, free_port

logger = logging.getLogger(__name__)

DEFAULT_USERNAME = "trainee@sandbox.test"
DEFAULT_PASSWORD = "sandbox-smtp-password"

Stage = Literal["MAIL", "RCPT", "DATA"]

_START_ATTEMPTS = 3

# aiosmtpd logs these at WARNING on every AUTH (its own use of a deprecated
# attribute) and on every implicit-TLS connection (see _QuietController); neither
# says anything about the sandbox, and they bury real problems in test output.
_AIOSMTPD_NOISE = (
    "Session.login_data is deprecated",
    "auth_required == True but auth_require_tls == False",
)


class _DropAiosmtpdNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(_AIOSMTPD_NOISE)


_NOISE_FILTER = _DropAiosmtpdNoise()


@dataclass(frozen=True)
class ReceivedMessage:
    """One message the server accepted, as the client submitted it."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    message: EmailMessage
    auth_user: str | None
    tls: bool
    received_at: float


@dataclass(frozen=True)
class InjectedFailure:
    """What the server does instead of accepting the next command of ``stage``.

    ``reply`` is the full SMTP reply line (e.g. ``"451 4.3.0 Try again later"``).
    With ``disconnect`` (DATA only) the message *is* recorded as received, then the
    connection is dropped before the client hears the 250: the ambiguous case.
    """

    stage: Stage
    reply: str
    disconnect: bool = False


class _Handler:
    """The aiosmtpd handler: records messages, applies injected failures."""

    def __init__(self, sandbox: SmtpSandbox) -> None:
        self._sandbox = sandbox

    # The hook names are aiosmtpd's (it looks them up as handle_<VERB>).
    async def handle_MAIL(
        self,
        server: Any,
        session: Any,
        envelope: Any,
        address: str,
        mail_options: list[str],
    ) -> str:
        failure = self._sandbox._take_failure("MAIL")
        if failure is not None:
            return failure.reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self,
        server: Any,
        session: Any,
        envelope: Any,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        failure = self._sandbox._take_failure("RCPT")
        if failure is not None:
            return failure.reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        failure = self._sandbox._take_failure("DATA")
        if failure is not None and not failure.disconnect:
            return failure.reply
        raw = bytes(envelope.original_content or envelope.content or b"")
        message = email.message_from_bytes(raw, policy=email.policy.default)
        auth_user = session.auth_data if session.authenticated else None
        self._sandbox._record(
            ReceivedMessage(
                mail_from=str(envelope.mail_from or ""),
                rcpt_tos=tuple(envelope.rcpt_tos),
                raw=raw,
                message=message,
                auth_user=str(auth_user) if auth_user is not None else None,
                tls=session.ssl is not None or self._sandbox.implicit_tls,
                received_at=time.time(),
            )
        )
        if failure is not None:
            # abort() drops the connection without flushing, so the client never
            # sees the reply below even though the message was taken.
            server.transport.abort()
            return failure.reply
        return "250 2.0.0 OK: queued"


# What Gmail and Microsoft 365 send (base64, in a 334) when they refuse an XOAUTH2 token.
_XOAUTH2_ERROR = b'{"status":"401","schemes":"bearer"}'


class _OAuthHandler(_Handler):
    """The handler plus AUTH XOAUTH2 (aiosmtpd offers a mechanism per auth_* method)."""

    def __init__(self, sandbox: SmtpSandbox, check: TokenCheck) -> None:
        super().__init__(sandbox)
        self._check = check

    async def auth_XOAUTH2(self, server: Any, args: list[str]) -> AuthResult:
        if len(args) == 1:
            blob = await server.challenge_auth("")
            if not isinstance(blob, bytes):
                return AuthResult(success=False, handled=True)
        else:
            try:
                blob = base64.b64decode(args[1], validate=True)
            except (binascii.Error, ValueError):
                await server.push("501 5.5.2 Can't decode base64")
                return AuthResult(success=False, handled=True)
        # "user=NAME\x01auth=Bearer TOKEN\x01\x01"
        fields = dict(part.split("=", 1) for part in
                      blob.decode("utf-8", "replace").split("\x01") if "=" in part)
        user = fields.get("user", "")
        scheme, _, token = fields.get("auth", "").partition(" ")
        if scheme.lower() == "bearer" and token and user and await asyncio.to_thread(
                self._check.allows, user, token):
            return AuthResult(success=True, auth_data=user)
        # The client answers the error challenge with an empty line; then comes the verdict.
        await server.challenge_auth(_XOAUTH2_ERROR)
        return AuthResult(success=False, handled=False,
                          message="535 5.7.8 Authentication unsuccessful (token not accepted)")


class SmtpSandbox(SandboxServer):
    """An aiosmtpd server on 127.0.0.1 that requires TLS and AUTH.

    ``implicit_tls=False`` (default): plain port with STARTTLS, like port 587.
    ``implicit_tls=True``: TLS from the first byte, like port 465.
    Clients verify the server with ``ca_path`` (or ``client_ssl_context()``); the
    certificate names ``127.0.0.1`` and ``localhost``.
    """

    def __init__(
        self,
        *,
        username: str = DEFAULT_USERNAME,
        password: str = DEFAULT_PASSWORD,
        implicit_tls: bool = False,
        require_starttls: bool = False,
        port: int | None = None,
        oauth: TokenCheck | None = None,
    ) -> None:
        self.username = username
        self.oauth = oauth
        self.password = password
        self.implicit_tls = implicit_tls
        self.require_starttls = require_starttls
        self.host = LOOPBACK
        self._fixed_port = port is not None
        self.port = port if port is not None else free_port()
        self._dir = Path(tempfile.mkdtemp(prefix="maild-smtp-"))
        self.ca_path = self._dir / "ca.pem"
        self._ca = trustme.CA(organization_name="maild sandbox")
        self._ca.cert_pem.write_to_path(str(self.ca_path))
        cert = self._ca.issue_cert(LOOPBACK, "localhost")
        self._server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(self._server_context)
        self._lock = threading.Condition()
        self._messages: list[ReceivedMessage] = []
        self._failures: deque[InjectedFailure] = deque()
        self._controller: Any = None
        self.last_start_seconds: float | None = None
        # Logger.addFilter ignores a filter that is already installed.
        logging.getLogger("mail.log").addFilter(_NOISE_FILTER)

    # -- lifecycle -----------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> None:
        """Start the server and return once it answers with a 220 greeting."""
        if self.running:
            return
        started = time.monotonic()
        for attempt in range(1, _START_ATTEMPTS + 1):
            try:
                self._start_once()
                break
            except OSError:
                # free_port() raced with another process; only our own pick may move.
                if attempt == _START_ATTEMPTS or self._fixed_port:
                    raise
                self.port = free_port()
        self.last_start_seconds = time.monotonic() - started
        logger.info(
            "smtp sandbox listening on %s:%d (%s, started in %.3f s)",
            self.host,
            self.port,
            "implicit TLS" if self.implicit_tls else "STARTTLS",
            self.last_start_seconds,
        )

    def _start_once(self) -> None:
        def authenticate(
            server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
        ) -> Any:
            ok = (
                isinstance(auth_data, LoginPassword)
                and auth_data.login.decode("utf-8", "replace") == self.username
                and auth_data.password.decode("utf-8", "replace") == self.password
            )
            if not ok:
                return AuthResult(success=False, handled=False)
            return AuthResult(success=True, auth_data=self.username)

        options: dict[str, Any] = {
            "hostname": self.host,
            "port": self.port,
            "server_hostname": "sandbox.maild.test",
            "authenticator": authenticate,
            "auth_required": True,
            "ready_timeout": 5.0,
        }
        if self.implicit_tls:
            # aiosmtpd only counts STARTTLS as "TLS" for auth_require_tls, so with
            # implicit TLS (where every byte is already encrypted) it must be off.
            options.update(ssl_context=self._server_context, auth_require_tls=False)
        else:
            options.update(
                tls_context=self._server_context,
                require_starttls=self.require_starttls,
                auth_require_tls=True,
            )
        handler = _Handler(self) if self.oauth is None else _OAuthHandler(self, self.oauth)
        controller = _QuietController(handler, **options)
        # Controller.start() returns only after a real connection got a greeting.
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()
            logger.info("smtp sandbox on port %d stopped", self.port)

    def close(self) -> None:
        """Stop the server and remove its certificate directory."""
        self.stop()
        for path in self._dir.iterdir():
            path.unlink()
        self._dir.rmdir()

    # -- for clients -----------------------------------------------------------------

    def client_ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts exactly the sandbox's CA (hostname checked)."""
        context = ssl.create_default_context(cafile=str(self.ca_path))
        return context

    # -- what arrived ----------------------------------------------------------------

    @property
    def messages(self) -> list[ReceivedMessage]:
        """A snapshot of every message received so far, oldest first."""
        with self._lock:
            return list(self._messages)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedMessage]:
        """Block until at least ``count`` messages arrived; return them all.

        Raises ``SandboxError`` (naming how many did arrive) on timeout.
        """
        with self._lock:
            if not self._lock.wait_for(lambda: len(self._messages) >= count, timeout):
                raise SandboxError(
                    f"expected {count} message(s) within {timeout} s, got {len(self._messages)}"
                )
            return list(self._messages)

    async def wait_for_async(self, count: int, timeout: float = 5.0) -> list[ReceivedMessage]:
        """``wait_for`` without blocking the caller's event loop."""
        return await asyncio.to_thread(self.wait_for, count, timeout)

    def reset(self) -> None:
        """Forget the received messages and any failures not yet used."""
        with self._lock:
            self._messages.clear()
            self._failures.clear()

    # -- injected failures -------------------------------------------------------------

    def fail_next(
        self,
        stage: Stage,
        reply: str = "451 4.3.0 Temporary failure, try again later",
        *,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` commands of ``stage`` with ``reply`` instead."""
        if not reply[:3].isdigit() or reply[0] not in "45":
            raise SandboxError(f"an injected failure needs a 4xx or 5xx reply, not {reply!r}")
        with self._lock:
            self._failures.extend(InjectedFailure(stage, reply) for _ in range(times))

    def disconnect_after_next_data(self) -> None:
        """Take the next message (it is recorded) but drop the connection before the 250.

        The client sees a disconnect and cannot know whether the message went out:
        what maild must mark "uncertain" rather than send again.
        """
        with self._lock:
            self._failures.append(
                InjectedFailure("DATA", "421 4.4.2 Connection dropped", disconnect=True)
            )

    def _take_failure(self, stage: Stage) -> InjectedFailure | None:
        with self._lock:
            for failure in self._failures:
                if failure.stage == stage:
                    self._failures.remove(failure)
                    logger.debug("smtp sandbox injects %r at %s", failure.reply, stage)
                    return failure
            return None

    def _record(self, received: ReceivedMessage) -> None:
        with self._lock:
            self._messages.append(received)
            self._lock.notify_all()


class _QuietController(Controller):
    """aiosmtpd's Controller, minus a warning that does not apply to implicit TLS.

    With implicit TLS ``auth_require_tls`` must be False (see ``_start_once``), which
    makes aiosmtpd warn about AUTH without TLS although the socket is TLS already.
    """

    def factory(self) -> Any:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
            return super().factory()  # type: ignore[no-untyped-call]
