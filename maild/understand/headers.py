"""The few headers a message is matched by, read from a header-only fetch.

``parse_headers`` turns the header block the IMAP adapter fetched into ``Headers``:
Message-ID, the thread headers (In-Reply-To, References), the addresses, subject, date
and content type. It is pure and tolerant: a malformed header reads as empty, never as
an exception (invariant 5). ``worth_reading`` tells from the headers alone whether an
unmatched message may be a bounce or a letter-service notice, i.e. whether its body is
worth fetching to match it by content.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from email.utils import getaddresses, parsedate_to_datetime

MSGID = re.compile(r"<[^<>\s]+>")
_MAIL_SYSTEM = re.compile(r"^(mailer-daemon|postmaster|mail-daemon|mailerdaemon)@", re.I)
_NOTICE_HINT = re.compile(r"letter|recommendation|reference|LoR\b|ERAS|Interfolio", re.I)
# Thread ids looked up per message: a hostile References header must not make a query
# too big for SQLite. Clients append, so the newest ids are the last ones.
MAX_THREAD_IDS = 200


@dataclass(frozen=True)
class Headers:
    """What matching reads of one message; addresses are lower-case."""

    message_id: str | None
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    from_addr: str
    to_addrs: tuple[str, ...]
    subject: str
    date: datetime | None
    content_type: str
    # Gmail's own thread id (X-GM-THRID), from the FETCH answer, not from a header.
    gm_thrid: int | None = None

    @property
    def thread_ids(self) -> tuple[str, ...]:
        """In-Reply-To first, then References; bounded, keeping both ends of a thread."""
        ids = self.in_reply_to + tuple(r for r in self.references if r not in self.in_reply_to)
        if len(ids) <= MAX_THREAD_IDS:
            return ids
        return ids[:MAX_THREAD_IDS // 2] + ids[-(MAX_THREAD_IDS // 2):]


def parse_headers(raw: bytes) -> Headers:
    """The few headers matching needs; tolerant of anything a server hands over."""
    msg = BytesHeaderParser(policy=default_policy).parsebytes(raw)

    def text(name: str) -> str:
        try:
            value = msg.get(name)
            return str(value) if value is not None else ""
        except Exception:  # a malformed header must not stop the sync (invariant 5)
            return ""

    def addresses(*names: str) -> tuple[str, ...]:
        values = [text(n) for n in names]
        return tuple(a.lower() for _n, a in getaddresses([v for v in values if v]) if "@" in a)

    when: datetime | None = None
    try:
        when = parsedate_to_datetime(text("Date")) if text("Date") else None
        if when is not None and when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
    except (TypeError, ValueError, IndexError):
        when = None
    mid = MSGID.findall(text("Message-ID"))
    senders = addresses("From")
    return Headers(
        message_id=mid[0] if mid else None,
        in_reply_to=tuple(MSGID.findall(text("In-Reply-To"))),
        references=tuple(MSGID.findall(text("References"))),
        from_addr=senders[0] if senders else "",
        to_addrs=addresses("To", "Cc"),
        subject=text("Subject"),
        date=when,
        content_type=text("Content-Type").lower(),
    )


def worth_reading(headers: Headers) -> bool:
    """Whether an incoming message no header matched may be a bounce or a notice.

    Only then is its body fetched, to match it by what it quotes or names.
    """
    return bool(_MAIL_SYSTEM.match(headers.from_addr) or "report" in headers.content_type
                or _NOTICE_HINT.search(headers.subject))
