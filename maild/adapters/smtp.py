"""SMTP: handing one approved message to the user's own mail server.

This module owns the protocol and says precisely how a send ended, because exactly-once
depends on it (invariant 2):

* ``SendTemporaryError``: nothing was accepted, try again later (4xx, connection refused
  or dropped before DATA);
* ``SendPermanentError``: the server refused for good (5xx); do not retry;
* ``SendUncertainError``: the connection broke after the message body went out and
  before the server's answer to it arrived; it may or may not have been accepted, so
  the caller must not re-send without checking.

Certificate verification is always on; plain text only for ``security = "none"``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import aiosmtplib

from maild.adapters.credentials import Secret
from maild.adapters.imap import certificate_fix, certificate_problem, ssl_context
from maild.config import Account
from maild.errors import ProtocolError

log = logging.getLogger(__name__)


class SendError(ProtocolError):
    """A send did not complete."""


class SendTemporaryError(SendError):
    """Nothing was delivered; retrying later is safe."""


class SendPermanentError(SendError):
    """The server refused the message for good."""


class SendUncertainError(SendError):
    """The body went out but the server's verdict was never received."""


class SmtpAuthError(SendPermanentError):
    """The server refused the login."""


class SmtpCertificateError(SendPermanentError):
    """The server's certificate could not be verified: retrying cannot fix it; the
    message says what the user can."""


@dataclass(frozen=True)
class Accepted:
    """The server's answer to DATA: the message is now its responsibility."""

    code: int
    message: str


def _reply(exc: aiosmtplib.SMTPResponseException) -> str:
    return f"{exc.code} {exc.message}".strip().splitlines()[0][:200]


def _classify(exc: aiosmtplib.SMTPResponseException, during: str) -> SendError:
    text = f"SMTP {during} refused: {_reply(exc)}"
    if 400 <= exc.code < 500:
        return SendTemporaryError(text)
    return SendPermanentError(text)


async def login(client: aiosmtplib.SMTP, account: Account, secret: Secret) -> None:
    """AUTH with a password or an access token; an OAuth2 token the server refuses is
    renewed and tried once more. A refusal raises aiosmtplib's SMTPAuthenticationError;
    renewing may raise CredentialError (the provider refused the refresh token)."""
    if isinstance(secret, str):
        await _auth(client, account, secret)
        return
    # Renewing a token is an HTTP request: not on the event loop.
    try:
        await _auth(client, account, await asyncio.to_thread(secret.current))
    except aiosmtplib.SMTPAuthenticationError:
        fresh = await asyncio.to_thread(secret.renewed)
        try:
            await _auth(client, account, fresh)
        except aiosmtplib.SMTPAuthenticationError as again:
            hint = await asyncio.to_thread(secret.rejected, f"SMTP: {_reply(again)}")
            # The hint first: the reply is cut to one short line when reported.
            raise aiosmtplib.SMTPAuthenticationError(
                again.code, f"{hint} ({again.message})") from None
    secret.accepted()


async def _auth(client: aiosmtplib.SMTP, account: Account, secret: str) -> None:
    if account.auth in ("xoauth2", "oauth2"):
        await client.auth_xoauth2(account.username, secret)
    else:
        await client.login(account.username, secret)


async def send(account: Account, secret: Secret, envelope_from: str,
               recipients: Sequence[str], message: bytes, timeout: float = 60.0) -> Accepted:
    """Deliver ``message`` to the account's SMTP server; see the module docstring."""
    endpoint = account.smtp
    client = aiosmtplib.SMTP(
        hostname=endpoint.host, port=endpoint.port, timeout=timeout,
        use_tls=endpoint.security == "tls",
        # None would let aiosmtplib upgrade opportunistically; we decide explicitly.
        start_tls=endpoint.security == "starttls",
        tls_context=ssl_context(endpoint) if endpoint.security != "none" else None,
    )
    body_sent = False
    try:
        try:
            await client.connect()
            await login(client, account, secret)
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise SmtpAuthError(f"SMTP login refused: {_reply(exc)}") from None
        except aiosmtplib.SMTPResponseException as exc:
            raise _classify(exc, "connection") from None
        try:
            await client.mail(envelope_from)
            for rcpt in recipients:
                await client.rcpt(rcpt)
        except aiosmtplib.SMTPResponseException as exc:
            raise _classify(exc, "envelope") from None
        body_sent = True
        try:
            response = await client.data(message)
        except aiosmtplib.SMTPResponseException as exc:
            # An explicit answer to DATA is a verdict, not an uncertainty.
            raise _classify(exc, "message") from None
        return Accepted(code=response.code, message=response.message)
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        if not body_sent and (problem := certificate_problem(exc)) is not None:
            raise SmtpCertificateError(certificate_fix(endpoint, "smtp", problem)) from None
        what = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
        if body_sent:
            raise SendUncertainError(
                f"connection lost after the message was sent, before the server answered ({what})"
            ) from None
        raise SendTemporaryError(f"SMTP connection to {endpoint.host}:{endpoint.port} "
                                 f"failed ({what})") from None
    finally:
        if client.is_connected:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                client.close()
