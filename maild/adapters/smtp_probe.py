"""SMTP without sending: connect, secure the connection, log in, quit.

``maild doctor`` needs to know that the send path *would* work (the server answers, TLS
is negotiated and its certificate verified, the login is accepted) without handing the
server a message, so this probe stops after AUTH and says ``QUIT``. It reports how far
it got and, for the step that failed, one line naming the reason; it never raises for a
server's refusal or a network error.

It shares ``ssl_context`` with the real send path (``maild.adapters.smtp``), so a
certificate this probe accepts is exactly one a real send would accept.
"""

from __future__ import annotations

import logging
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Any, Literal

import aiosmtplib

from maild.adapters.credentials import Secret
from maild.adapters.imap import ssl_context
from maild.adapters.smtp import login
from maild.config import Account
from maild.errors import CredentialError

log = logging.getLogger(__name__)

Stage = Literal["connect", "tls", "login"]


@dataclass(frozen=True)
class TlsInfo:
    """What the TLS handshake settled on; verification always happened if it exists."""

    version: str
    cipher: str
    issuer: str  # the certificate issuer's organization or common name, "" if unknown


@dataclass(frozen=True)
class SmtpProbe:
    """How far the probe got. ``failed`` is None when connect, TLS and login all worked."""

    host: str
    port: int
    security: str
    connect_seconds: float | None = None
    tls: TlsInfo | None = None
    login_seconds: float | None = None
    auth_methods: tuple[str, ...] = ()
    failed: Stage | None = None
    error: str = ""
    # The server answered AUTH with a refusal (as opposed to a broken connection).
    auth_refused: bool = False


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]


def _reply(exc: aiosmtplib.SMTPResponseException) -> str:
    return f"{exc.code} {exc.message}".strip().splitlines()[0][:200]


def _tls_info(client: aiosmtplib.SMTP) -> TlsInfo | None:
    obj = client.get_transport_info("ssl_object")
    if not isinstance(obj, ssl.SSLObject | ssl.SSLSocket):
        return None
    cipher = obj.cipher()
    issuer = ""
    cert = obj.getpeercert()
    if cert:
        # getpeercert() gives the issuer as ((("organizationName", "x"),), ...).
        fields: dict[str, str] = {}
        rdns: Any = cert.get("issuer", ())
        for rdn in rdns:
            for key, value in rdn:
                fields[str(key)] = str(value)
        issuer = str(fields.get("organizationName") or fields.get("commonName") or "")
    return TlsInfo(version=obj.version() or "TLS", cipher=cipher[0] if cipher else "",
                   issuer=issuer)


def _describe_failure(exc: BaseException, stage: Stage) -> tuple[Stage, str]:
    """The stage that really failed and one line for it; certificates said plainly.

    With implicit TLS the handshake happens inside connect(), and aiosmtplib wraps its
    failure in SMTPConnectError: recognised here so that it is reported as TLS.
    """
    text = _first_line(exc)
    cause = exc.__cause__ or exc.__context__
    if (isinstance(exc, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in text
            or isinstance(cause, ssl.SSLCertVerificationError)):
        return "tls", f"the server's certificate was not accepted ({text})"
    if isinstance(exc, ssl.SSLError) or isinstance(cause, ssl.SSLError):
        return "tls", f"the TLS handshake failed ({text})"
    # aiosmtplib words a refused connection as "Connect call failed"; say it plainly.
    if isinstance(exc, ConnectionRefusedError) or isinstance(cause, ConnectionRefusedError):
        return stage, "connection refused"
    if isinstance(exc, socket.gaierror) or isinstance(cause, socket.gaierror):
        return stage, f"the host name does not resolve ({text})"
    return stage, f"{type(exc).__name__}: {text}"


async def probe(account: Account, secret: Secret, timeout: float = 10.0) -> SmtpProbe:
    """Connect to ``account``'s SMTP server, secure it as configured, log in, quit."""
    endpoint = account.smtp
    base = SmtpProbe(host=endpoint.host, port=endpoint.port, security=endpoint.security)
    implicit = endpoint.security == "tls"
    client = aiosmtplib.SMTP(
        hostname=endpoint.host, port=endpoint.port, timeout=timeout, use_tls=implicit,
        # STARTTLS is issued below by hand, so that a refused upgrade is reported as a
        # TLS problem rather than as a failed connection.
        start_tls=False,
        tls_context=ssl_context(endpoint) if endpoint.security != "none" else None,
    )
    started = time.perf_counter()
    connect_seconds: float | None = None
    tls: TlsInfo | None = None
    stage: Stage = "connect"
    try:
        await client.connect()
        connect_seconds = time.perf_counter() - started
        stage = "tls"
        if endpoint.security == "starttls":
            await client.ehlo()
            if not client.supports_extension("starttls"):
                return _with(base, connect_seconds, None, failed="tls",
                             error="the server does not offer STARTTLS")
            await client.starttls()
        if endpoint.security != "none":
            tls = _tls_info(client)
        stage = "login"
        await client.ehlo()
        methods = tuple(sorted(client.server_auth_methods))
        if not methods:
            return _with(base, connect_seconds, tls, failed="login",
                         error="the server offers no AUTH method on this connection")
        login_started = time.perf_counter()
        await login(client, account, secret)
        return SmtpProbe(host=endpoint.host, port=endpoint.port, security=endpoint.security,
                         connect_seconds=connect_seconds, tls=tls,
                         login_seconds=time.perf_counter() - login_started,
                         auth_methods=methods)
    except aiosmtplib.SMTPAuthenticationError as exc:
        return _with(base, connect_seconds, tls, failed="login", error=_reply(exc),
                     auth_refused=True)
    except CredentialError as exc:
        # The OAuth2 provider would not renew a refused access token.
        return _with(base, connect_seconds, tls, failed="login", error=exc.message,
                     auth_refused=True)
    except aiosmtplib.SMTPResponseException as exc:
        return _with(base, connect_seconds, tls, failed=stage, error=_reply(exc))
    except (aiosmtplib.SMTPException, OSError, TimeoutError, ssl.SSLError) as exc:
        failed, text = _describe_failure(exc, stage)
        return _with(base, connect_seconds, tls, failed=failed, error=text)
    finally:
        await _quit(client)


def _with(base: SmtpProbe, connect_seconds: float | None, tls: TlsInfo | None, *,
          failed: Stage, error: str, auth_refused: bool = False) -> SmtpProbe:
    return SmtpProbe(host=base.host, port=base.port, security=base.security,
                     connect_seconds=connect_seconds, tls=tls, failed=failed, error=error,
                     auth_refused=auth_refused)


async def _quit(client: aiosmtplib.SMTP) -> None:
    if not client.is_connected:
        return
    try:
        await client.quit()
    except (aiosmtplib.SMTPException, OSError, TimeoutError):
        # The answer to QUIT changes nothing; just drop the connection.
        client.close()
