"""Composing outgoing mail: headers that thread everywhere and cannot be injected.

Every value that reaches a header (names, subjects, addresses, message ids) goes
through the one header sanitiser, ``header_text``: encoded-words are decoded first (the
email package decodes ``=?utf-8?q?=0D=0ABcc:...?=`` even inside a quoted display name
when it folds the header, turning it into a real Bcc: line), then CR, LF and other
control characters are refused, never silently cleaned: a name with a line break in
it is an attack or a bug, and the user should hear about it.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from email import policy
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime
from typing import Any

from maild.core.entries import MULTILINE_FIELDS, MentorInput
from maild.errors import UsageError

# C0 and C1 controls and the Unicode line separators: Python's email package (str.splitlines)
# takes NEL, LS and PS as line breaks too, so each could start a header of its own.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_ADDRESS = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$"
)
_MSGID = re.compile(r"^<[^<>\s@]+@[^<>\s@]+>$")
# RFC 5322 2.1.1: a line MUST be no more than 998 characters (without CRLF).
_LINE_LIMIT = 998


class _OneLineHeaders(EmailPolicy):
    """The SMTP policy, except that a header of plain ASCII is written on one line while
    that line fits RFC 5322's 998 characters.

    The email package folds at 78 and, when a value fits 78 only on a line of its own, it
    breaks right after the colon: a 70-77 character subject went out as ``Subject:`` and
    the subject on the next line, which some clients show raw and naive parsers read as
    an empty subject. Non-ASCII values keep the package's folding: RFC 2047 caps each
    encoded-word at 75 characters, which only the package's folder respects.
    """

    def _one_line(self, name: str, value: Any) -> str | None:
        if not hasattr(value, "name"):
            return None  # a raw source line (a parsed message): the package's rules apply
        text = str(value)
        line = f"{name}: {text}"
        if len(line) > _LINE_LIMIT or not text.isascii() or not text.isprintable():
            return None
        return line + self.linesep

    def fold(self, name: str, value: Any) -> str:
        return self._one_line(name, value) or super().fold(name, value)

    def fold_binary(self, name: str, value: Any) -> bytes:
        line = self._one_line(name, value)
        return line.encode("ascii") if line else super().fold_binary(name, value)


# What every composed message is written with: the SMTP policy (CRLF), headers on one
# line where RFC 5322 allows it (see _OneLineHeaders).
WIRE: EmailPolicy = _OneLineHeaders(linesep="\r\n")


class HeaderInjectionError(UsageError):
    """A value meant for a header carries a line break or another control character."""

    def __init__(self, field: str, value: str) -> None:
        shown = value.encode("unicode_escape").decode("ascii")[:80]
        super().__init__(f"{field}: control characters are not allowed in a header "
                         f"({shown!r})")
        self.field = field


def _decoded_forms(value: str) -> list[str]:
    """``value`` as the email package may read it when it writes the header."""
    forms = [value]
    # How the SMTP policy re-reads a header it folds (lenient, even in quoted strings).
    forms.append(str(policy.default.header_factory("X-Check", value)))
    # Undecodable here (a bad charset): the lenient reading above still covers it.
    with contextlib.suppress(HeaderParseError, LookupError, UnicodeError, ValueError):
        forms.append(str(make_header(decode_header(value))))
    return forms


def header_text(field: str, value: str) -> str:
    """The header sanitiser: ``value`` if no decoding of it has a control character.

    Raises HeaderInjectionError (naming ``field``) otherwise. Returns the value as
    given, not decoded: what is safe to put into a header is the original text.
    """
    for form in _decoded_forms(value):
        if _CONTROL.search(form):
            raise HeaderInjectionError(field, form)
    return value


# The older name, used all over this module.
check_header_value = header_text


def header_problems(entry: MentorInput) -> list[str]:
    """Problems of a mentor's fields that can reach a header (names, connection point,
    ...) once their encoded-words are decoded; checked at import, before anything is
    stored, so a hostile hit list is refused with its line, not at the first send."""
    problems = []
    for item in fields(MentorInput):
        value = getattr(entry, item.name)
        if item.name in MULTILINE_FIELDS or not isinstance(value, str):
            continue
        try:
            header_text(item.name.replace("_", " "), value)
        except HeaderInjectionError as exc:
            problems.append(exc.message + " once its encoded-words are decoded")
    return problems


def check_address(field: str, address: str) -> str:
    check_header_value(field, address)
    if not _ADDRESS.match(address) or ".." in address:
        raise UsageError(f"{field}: {address!r} is not a valid email address")
    return address


def is_message_id(value: str) -> bool:
    """Whether ``value`` is a Message-ID compose() accepts (``<id@host>``, no controls)."""
    return bool(_MSGID.match(value)) and not _CONTROL.search(value)


def check_message_id(field: str, value: str) -> str:
    check_header_value(field, value)
    if not _MSGID.match(value):
        raise UsageError(f"{field}: {value!r} is not a Message-ID like <id@host>")
    return value


@dataclass(frozen=True)
class Mailbox:
    address: str
    name: str = ""

    def header(self, field: str) -> Address:
        check_header_value(f"{field} name", self.name)
        check_address(field, self.address)
        username, _, domain = self.address.partition("@")
        return Address(display_name=self.name, username=username, domain=domain)


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    maintype: str = "application"
    subtype: str = "octet-stream"


def new_message_id(sender: str) -> str:
    """Our own Message-ID, on the sender's domain so it threads and looks local."""
    domain = sender.rpartition("@")[2] or "maild.invalid"
    return f"<{uuid.uuid4().hex}.maild@{domain}>"


def reply_subject(subject: str) -> str:
    """``Re: subject``, without stacking ``Re: Re:``."""
    stripped = re.sub(r"^\s*((re|aw|sv|fw|fwd)\s*:\s*)+", "", subject, flags=re.I)
    return f"Re: {stripped}"


def compose(*, sender: Mailbox, to: Sequence[Mailbox], subject: str, body: str,
            message_id: str, date: datetime, cc: Sequence[Mailbox] = (),
            in_reply_to: str | None = None, references: Sequence[str] = (),
            attachments: Sequence[Attachment] = ()) -> EmailMessage:
    """The complete message, ready for SMTP and for an APPEND to Sent or Drafts."""
    if not to:
        raise UsageError("a message needs at least one recipient")
    msg = EmailMessage(policy=WIRE)
    msg["From"] = sender.header("From")
    msg["To"] = [m.header("To") for m in to]
    if cc:
        msg["Cc"] = [m.header("Cc") for m in cc]
    msg["Subject"] = check_header_value("Subject", subject)
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = check_message_id("Message-ID", message_id)
    if in_reply_to:
        msg["In-Reply-To"] = check_message_id("In-Reply-To", in_reply_to)
    refs = [check_message_id("References", r) for r in references]
    if in_reply_to and in_reply_to not in refs:
        refs.append(in_reply_to)
    if refs:
        msg["References"] = " ".join(refs)
    # A follow-up from a person, not a bulk sender: no Auto-Submitted, no Precedence.
    msg["X-Mailer"] = "maild"
    msg.set_content(body if body.endswith("\n") else body + "\n")
    for item in attachments:
        check_header_value("attachment filename", item.filename)
        msg.add_attachment(item.content, maintype=item.maintype, subtype=item.subtype,
                           filename=item.filename)
    return msg
