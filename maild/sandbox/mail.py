"""Realistic test mail: build the messages a mentor would send, and APPEND them.

Owns the shape of sandbox messages (headers a real client writes: From with a display
name, Date with an offset, Message-ID on the sender's domain, In-Reply-To and
References, a quoted original) and putting them into a sandbox mailbox over IMAP, the
way a message shows up when a mentor answers.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.utils import format_datetime, getaddresses, make_msgid, parseaddr

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from maild.sandbox.base import SandboxError

_APPENDUID = re.compile(rb"\[APPENDUID (\d+) (\d+)\]")
_REPLY_PREFIX = re.compile(r"^\s*(re|aw|sv)\s*:", re.IGNORECASE)


@dataclass(frozen=True)
class Appended:
    """Where an APPENDed message landed (from the server's APPENDUID answer)."""

    folder: str
    uidvalidity: int
    uid: int


def make_message(
    *,
    sender: str,
    to: str | Sequence[str],
    subject: str,
    body: str,
    cc: Sequence[str] = (),
    date: datetime | None = None,
    message_id: str | None = None,
    in_reply_to: str | None = None,
    references: Sequence[str] = (),
    headers: Mapping[str, str] | None = None,
) -> bytes:
    """Build a plain-text message as a mail client would send it (CRLF bytes).

    Addresses may carry display names (``"Dr. Ada Mentor <ada@uni.example>"``).
    ``date`` must be timezone-aware; it defaults to now in UTC. ``message_id``
    defaults to a fresh one on the sender's domain.
    """
    when = date if date is not None else datetime.now(UTC)
    if when.tzinfo is None:
        raise SandboxError("make_message needs a timezone-aware date")
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = sender
    msg["To"] = [to] if isinstance(to, str) else list(to)
    if cc:
        msg["Cc"] = list(cc)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = message_id or make_msgid(domain=_domain_of(sender))
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = " ".join(references)
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    return msg.as_bytes()


def make_reply(
    original: bytes | Message,
    *,
    body: str,
    sender: str | None = None,
    date: datetime | None = None,
    message_id: str | None = None,
    quote: bool = True,
    headers: Mapping[str, str] | None = None,
) -> bytes:
    """Build the reply a mentor would write to ``original`` (bytes or a parsed message).

    Threads it like real clients do: ``Re:`` subject (not doubled), In-Reply-To the
    original's Message-ID, References the original's References plus its Message-ID,
    sent to the original's Reply-To or From, from ``sender`` (default: the original's
    first To), with the original quoted below an "On ... wrote:" line.
    """
    parsed = _parse(original)
    recipient = str(parsed.get("Reply-To") or parsed.get("From") or "")
    if not recipient:
        raise SandboxError("the original message has no From to reply to")
    if sender is None:
        tos = getaddresses([str(value) for value in parsed.get_all("To", [])])
        if not tos:
            raise SandboxError("the original has no To; say who replies with sender=")
        name, addr = tos[0]
        sender = str(Address(display_name=name, addr_spec=addr))
    subject = str(parsed.get("Subject", ""))
    if not _REPLY_PREFIX.match(subject):
        subject = f"Re: {subject}"
    original_id = str(parsed.get("Message-ID", "")).strip()
    references = str(parsed.get("References", "")).split()
    if original_id and original_id not in references:
        references.append(original_id)
    text = body
    if quote:
        text = f"{body.rstrip()}\n\n{_quoted(parsed)}"
    return make_message(
        sender=sender,
        to=recipient,
        subject=subject,
        body=text,
        date=date,
        message_id=message_id,
        in_reply_to=original_id or None,
        references=references,
        headers=headers,
    )


def append(
    host: str,
    port: int,
    user: str,
    password: str,
    folder: str,
    raw: bytes,
    *,
    flags: Iterable[str] = (),
    msg_time: datetime | None = None,
    create: bool = False,
    timeout: float = 10.0,
) -> Appended:
    """APPEND ``raw`` to ``folder`` over plain IMAP (the sandbox has no TLS).

    This is how a mentor's reply "arrives" while the server runs: any IDLE client on
    that folder is told at once. ``create`` makes the folder first if it is missing.
    """
    try:
        client = IMAPClient(host, port=port, ssl=False, timeout=timeout)
    except (OSError, IMAPClientError) as exc:
        raise SandboxError(f"cannot connect to IMAP {host}:{port}: {exc}") from exc
    try:
        client.login(user, password)
        if create and not client.folder_exists(folder):
            client.create_folder(folder)
        response = client.append(folder, raw, flags=tuple(flags), msg_time=msg_time)
    except IMAPClientError as exc:
        raise SandboxError(f"APPEND to {folder!r} as {user!r} failed: {exc}") from exc
    finally:
        # The append already succeeded or failed; a messy goodbye changes nothing.
        with contextlib.suppress(OSError, IMAPClientError):
            client.logout()
    match = _APPENDUID.search(response if isinstance(response, bytes) else b"")
    if match is None:
        raise SandboxError(f"the server did not answer APPEND with APPENDUID: {response!r}")
    return Appended(folder=folder, uidvalidity=int(match[1]), uid=int(match[2]))


def _parse(original: bytes | Message) -> Message:
    if isinstance(original, Message):
        return original
    return email.message_from_bytes(original, policy=email.policy.default)


def _domain_of(address: str) -> str:
    addr = parseaddr(address)[1]
    return addr.rpartition("@")[2] or "sandbox.test"


def _quoted(parsed: Message) -> str:
    text = ""
    if isinstance(parsed, EmailMessage):
        part = parsed.get_body(preferencelist=("plain",))
        if isinstance(part, EmailMessage):
            text = str(part.get_content())
    name, addr = parseaddr(str(parsed.get("From", "")))
    who = f"{name} <{addr}>" if name else addr
    when = str(parsed.get("Date", "")).strip()
    intro = f"On {when}, {who} wrote:" if when else f"{who} wrote:"
    lines = [f"> {line}" if line else ">" for line in text.rstrip("\n").splitlines()]
    return "\n".join([intro, *lines]) + "\n"
