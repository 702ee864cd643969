"""Parse raw email bytes, safely, into the normalised view the classifiers read.

Everything downstream (classification, bounce analysis, reply text, intent) reads a
``ParsedMessage``: decoded headers, the best human-readable text (HTML-only mail is
converted to text, with HTML quotes turned into ``>`` lines), the text of every part
(bounce notices hide their diagnostics in odd places), the RFC 3464 delivery-status
fields and the headers of an attached original message.

Hostile input is expected: the parser never raises on bad MIME, bad charsets, NUL
bytes or floods, and it bounds the work it does so that one message cannot stall the
daemon (invariant 5 of DESIGN.md).
"""

from __future__ import annotations

import email
import email.header
import email.message
import email.policy
import email.utils
import html as htmllib
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from maild.errors import MessageParseError
from maild.understand.replytext import strip_quotes

log = logging.getLogger(__name__)

# A mentor's reply is a few kilobytes; a bounce quoting the original is tens. Beyond
# this the tail is attachments we never read, so parsing it only costs time.
MAX_PARSE_BYTES = 96 * 1024
MAX_PART_CHARS = 64 * 1024
# Third-party heuristics (flufl.bounce) run regexes over whole lines; they get a shorter
# prefix so that a 10 MB one-line body stays within the time budget.
MAX_HEURISTIC_BYTES = 8 * 1024
# html.parser is slow on tag soup; a reply's visible text is near the top anyway.
MAX_HTML_CHARS = 32 * 1024
MAX_HEURISTIC_LINES = 300
MAX_PARTS = 64
# The stdlib parser compiles a pattern per multipart boundary and re-scans per level:
# hundreds of nested multiparts cost seconds. No mail client nests more than a handful,
# and _walk reads no deeper than 8 levels anyway, so the bytes after this many boundary
# declarations are not parsed.
MAX_BOUNDARIES = 24
MAX_HEADERS = 400
MAX_HEADER_CHARS = 4096

_HEADER_LINE = re.compile(rb"^[!-9;-~]{1,76}:", re.MULTILINE)
_ISO2022JP_ESCAPE = re.compile(rb"\x1b\$[@B]")
_BOUNDARY_PARAM = re.compile(rb"boundary\s*\*?=", re.IGNORECASE)
# Characters that show nothing: a text part holding only these is empty (Outlook mobile
# sends a zero-width space as the text part of an HTML reply).
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\xa0\u00ad"), " ")


@dataclass(frozen=True)
class DeliveryStatus:
    """One per-recipient block of an RFC 3464 message/delivery-status part."""

    final_recipient: str | None
    original_recipient: str | None
    action: str | None
    status: str | None
    diagnostic: str | None


@dataclass(frozen=True)
class ParsedMessage:
    """A decoded, size-bounded view of one email."""

    headers: tuple[tuple[str, str], ...]
    content_type: str
    report_type: str | None
    text: str
    all_text: str
    delivery_status: tuple[DeliveryStatus, ...]
    dsn_per_message: tuple[tuple[str, str], ...]
    part_types: tuple[str, ...]
    original_headers: tuple[tuple[str, str], ...]
    date: datetime | None
    raw_message: email.message.Message = field(compare=False, repr=False)
    raw_head: bytes = field(default=b"", compare=False, repr=False)

    def get(self, name: str) -> str | None:
        """The first header called ``name`` (case-insensitive), decoded, or None."""
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None

    def get_all(self, name: str) -> list[str]:
        """Every header called ``name``, in order."""
        lname = name.lower()
        return [value for key, value in self.headers if key.lower() == lname]

    def original(self, name: str) -> str | None:
        """A header of the attached original message (bounces), or None."""
        lname = name.lower()
        for key, value in self.original_headers:
            if key.lower() == lname:
                return value
        return None

    @property
    def subject(self) -> str:
        return self.get("Subject") or ""

    @cached_property
    def new_text(self) -> str:
        """``text`` without quoted or forwarded history (read once, used by every rule)."""
        return strip_quotes(self.text)

    @property
    def from_address(self) -> str:
        """The bare From address, lower-cased ('' when absent).

        Read from the header as sent, before RFC 2047 decoding: a decoded display name
        may hold a comma ("Müller, Bernd") that would split the address off.
        """
        raw = self.raw_message.get("From") if self.raw_message is not None else None
        for candidate in (raw, self.get("From")):
            if not isinstance(candidate, str):
                continue
            address = email.utils.parseaddr(_unfold(candidate[:MAX_HEADER_CHARS]))[1]
            if "@" in address:
                return address.lower()
        found = re.search(r"<([^<>@\s]{1,64}@[^<>\s]{1,255})>", self.get("From") or "")
        return found.group(1).lower() if found else ""

    @property
    def from_header(self) -> str:
        return self.get("From") or ""


def looks_like_email(raw: bytes) -> bool:
    """Whether ``raw`` starts with something an MTA would call a message header.

    Used to reject files that are not email at all (a PDF, a JPEG, an empty file)
    instead of "classifying" them.
    """
    head = raw[:8192].lstrip(b"\r\n\t ")
    if head.startswith(b"From "):
        nl = head.find(b"\n")
        head = head[nl + 1 :] if nl >= 0 else b""
    if b"\x00" in head[:200]:
        return False
    first_lines = head.split(b"\n", 20)[:20]
    hits = sum(1 for line in first_lines if _HEADER_LINE.match(line))
    return hits >= 1 and bool(_HEADER_LINE.match(first_lines[0]))


def parse_message(raw: bytes) -> ParsedMessage:
    """Parse ``raw`` into a ParsedMessage; MessageParseError if it is not an email.

    This is the one guard around every decoding path: the stdlib's parser and payload
    decoders, codecs named by the message (``idna``, ``punycode``, ``undefined`` raise
    where other codecs replace), and our own readers. Whatever escapes them is logged and
    the message is read again the plainest way (``_fallback``), so a reply is never lost
    to a bad charset (invariant 5).
    """
    if not looks_like_email(raw):
        raise MessageParseError("not an email message (no RFC 5322 header at the start)")
    data = raw[:MAX_PARSE_BYTES]
    # NUL bytes make some header decoders misbehave and never carry meaning in mail.
    if b"\x00" in data:
        data = data.replace(b"\x00", b"")
    data = _limit_nesting(data)
    try:
        msg = email.message_from_bytes(data, policy=email.policy.compat32)
    except Exception as exc:  # the stdlib parser is meant not to raise; be sure
        raise MessageParseError(f"cannot parse message: {exc}") from exc
    try:
        return _parse(msg, data)
    except Exception as exc:
        # One line for the log; the traceback only when debugging (-vv): it is ours to
        # fix, not the user's to read.
        log.warning("unexpected %s reading a message; read as plain text instead",
                    type(exc).__name__)
        log.debug("message reader failure", exc_info=True)
        return _fallback(msg, data)


def _limit_nesting(data: bytes) -> bytes:
    """``data`` cut before its (MAX_BOUNDARIES + 1)-th multipart boundary declaration."""
    for count, found in enumerate(_BOUNDARY_PARAM.finditer(data), start=1):
        if count > MAX_BOUNDARIES:
            line_start = data.rfind(b"\n", 0, found.start()) + 1
            return data[:line_start]
    return data


def _fallback(msg: email.message.Message, data: bytes) -> ParsedMessage:
    """The plainest reading: raw headers as text, the body as UTF-8; never raises."""
    head, _, body = data.replace(b"\r\n", b"\n").partition(b"\n\n")
    headers: list[tuple[str, str]] = []
    for line in decode_bytes(head, "utf-8").split("\n")[:MAX_HEADERS]:
        name, sep, value = line.partition(":")
        if sep and name.strip() and not name[:1].isspace():
            headers.append((name.strip(), value.strip()[:MAX_HEADER_CHARS]))
        elif headers and line[:1].isspace():
            key, previous = headers[-1]
            headers[-1] = (key, (previous + " " + line.strip())[:MAX_HEADER_CHARS])
    text = decode_bytes(body[:MAX_PART_CHARS], "utf-8")
    return ParsedMessage(
        headers=tuple(headers), content_type="text/plain", report_type=None, text=text,
        all_text=text, delivery_status=(), dsn_per_message=(), part_types=("text/plain",),
        original_headers=(), date=None, raw_message=msg,
        raw_head=b"\n".join(data[:MAX_HEURISTIC_BYTES].split(b"\n")[:MAX_HEURISTIC_LINES]),
    )


def _parse(msg: email.message.Message, data: bytes) -> ParsedMessage:
    headers = _decoded_headers(msg)
    content_type = _safe_content_type(msg)
    report_type = (_safe_param(msg, "report-type") or "").lower() or None

    texts: list[tuple[str, str]] = []
    statuses: list[DeliveryStatus] = []
    per_message: list[tuple[str, str]] = []
    part_types: list[str] = []
    original_headers: list[tuple[str, str]] = []
    attached: list[tuple[str, str]] = []
    for part, depth_in_rfc822 in _walk(msg):
        ctype = _safe_content_type(part)
        part_types.append(ctype)
        if ctype in ("message/delivery-status", "message/global-delivery-status"):
            body = _part_text(part, raw_structured=True)
            msg_fields, recips = _parse_dsn(body)
            per_message.extend(msg_fields)
            statuses.extend(recips)
            continue
        if ctype in ("message/rfc822", "message/global", "text/rfc822-headers"):
            if not original_headers:
                original_headers = _original_headers(part, ctype)
            continue
        if part.is_multipart():
            continue
        if depth_in_rfc822:
            continue
        if ctype.startswith("text/"):
            disposition = str(part.get("Content-Disposition") or "").lower()
            if "attachment" in disposition:
                attached.append((ctype, _part_text(part)))
            else:
                texts.append((ctype, _part_text(part)))

    if not any(_visible(t) for _, t in texts) and content_type.startswith("multipart/"):
        # A broken boundary leaves the body in a preamble; it is still the text.
        texts.append(("text/plain", _raw_body(data)))
    if not statuses:
        # Broken MIME (a wrong boundary) can hide the delivery-status part inside plain
        # text; its fields still say who failed and why.
        joined = "\n".join(t for _, t in texts)
        found = re.search(r"^(Reporting-MTA|Final-Recipient)[ \t]*:", joined,
                          re.IGNORECASE | re.MULTILINE)
        if found:
            statuses.extend(_parse_dsn(joined[found.start() : found.start() + 4096])[1])
    text = _best_text(texts)
    all_text = "\n".join(
        t if ct != "text/html" else html_to_text(t) for ct, t in texts + attached
    )
    all_text = all_text[: MAX_PART_CHARS * 2]
    return ParsedMessage(
        headers=headers,
        content_type=content_type,
        report_type=report_type,
        text=text,
        all_text=all_text,
        delivery_status=tuple(statuses),
        dsn_per_message=tuple(per_message),
        part_types=tuple(part_types),
        original_headers=tuple(original_headers),
        date=_parse_date(_first(headers, "date")),
        raw_message=msg,
        raw_head=b"\n".join(data[:MAX_HEURISTIC_BYTES].split(b"\n")[:MAX_HEURISTIC_LINES]),
    )


_MIME_SCAFFOLDING = re.compile(
    r"^(?:--[^\s]{1,200}\s*$|(?:Content-[\w-]{1,40}|MIME-Version)\s*:.*$|[ \t]+[\w-]+\s*=.*$)",
    re.IGNORECASE,
)


def _raw_body(data: bytes) -> str:
    """The undecoded body after the header block, as text (last resort).

    Without MIME's own lines (boundaries, part headers): those are never the text, and
    a reply must not read as "--b0 Content-Type: …".
    """
    for sep in (b"\r\n\r\n", b"\n\n"):
        idx = data.find(sep)
        if idx >= 0:
            body = decode_bytes(data[idx + len(sep) :][: MAX_PART_CHARS], None)
            lines = body.replace("\r\n", "\n").split("\n")
            return "\n".join(line for line in lines if not _MIME_SCAFFOLDING.match(line))
    return ""


def _first(headers: tuple[tuple[str, str], ...], name: str) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def decode_header_value(value: object) -> str:
    """Decode an RFC 2047 header value to str; never raises."""
    if isinstance(value, email.header.Header):
        value = str(value)
    if not isinstance(value, str):
        return ""
    value = value[:MAX_HEADER_CHARS]
    if any("\udc80" <= ch <= "\udcff" for ch in value):
        # Raw 8-bit bytes in a header (common from Japanese and Russian MTAs).
        value = decode_bytes(value.encode("utf-8", "surrogateescape"), None)
    if "\x1b$" in value:
        # Raw ISO-2022-JP (7-bit escape sequences, no encoded words).
        value = decode_bytes(value.encode("utf-8", "surrogateescape"), "iso-2022-jp")
    if "=?" not in value:
        return _unfold(value)
    try:
        chunks = email.header.decode_header(value)
    except Exception:
        return _unfold(value)
    out: list[str] = []
    for chunk, charset in chunks:
        if isinstance(chunk, bytes):
            out.append(decode_bytes(chunk, charset))
        else:
            out.append(chunk)
    return _unfold("".join(out))


def _unfold(value: str) -> str:
    return re.sub(r"\r?\n[ \t]*", " ", value).strip()


def _header_text(value: object) -> str:
    """A raw header value as text (a str, or an email.header.Header); never raises."""
    try:
        return str(value)
    except Exception:
        return ""


def _raw_pairs(part: object) -> list[tuple[str, object]]:
    """The header pairs as parsed, before compat32's fetch-time rewriting."""
    pairs = getattr(part, "_headers", [])
    return list(pairs) if isinstance(pairs, list) else []


def _decoded_headers(msg: email.message.Message) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    for key, value in _raw_pairs(msg)[:MAX_HEADERS]:  # raw pairs; items() may decode badly
        out.append((str(key).strip(), decode_header_value(value)))
    return tuple(out)


def _safe_content_type(part: email.message.Message) -> str:
    try:
        return part.get_content_type().lower()
    except Exception:
        return "text/plain"


def _safe_param(part: email.message.Message, name: str) -> str | None:
    try:
        value = part.get_param(name)
        if isinstance(value, tuple):
            # RFC 2231 values name their own charset ("idna''…" raises, not replaces).
            charset, _language, text = value
            value = decode_bytes(text.encode("latin-1", "replace"), charset)
    except Exception:
        return None
    return value if isinstance(value, str) else None


def _payload(part: email.message.Message, decode: bool = False) -> object:
    """``part.get_payload(decode=…)``, or None when the stdlib cannot produce it.

    compat32 decodes a non-multipart 8-bit payload with the part's own charset even
    when not asked to decode, so the plain call raises too.
    """
    if not decode:
        return getattr(part, "_payload", None)
    try:
        return part.get_payload(decode=True)
    except Exception:
        return None


def _walk(msg: email.message.Message) -> Iterator[tuple[email.message.Message, bool]]:
    """Depth-first parts, flagging those inside an attached message/rfc822.

    Bounded in count and depth: a MIME bomb of nested multiparts stops here.
    """
    stack: list[tuple[email.message.Message, bool, int]] = [(msg, False, 0)]
    seen = 0
    while stack and seen < MAX_PARTS:
        part, inside, depth = stack.pop()
        seen += 1
        yield part, inside
        if depth > 8:
            continue
        payload = _payload(part)
        if isinstance(payload, list):
            ctype = _safe_content_type(part)
            child_inside = inside or ctype.startswith("message/")
            children = [p for p in payload if isinstance(p, email.message.Message)]
            for child in reversed(children):
                stack.append((child, child_inside, depth + 1))


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Decode with the declared charset, else UTF-8, else cp1252; never raises.

    Every byte-to-text decoding in this package goes through here. Declared charsets
    are often wrong (8-bit UTF-8 labelled ISO-2022-JP), so a strict attempt comes first
    and a lenient one last; a name that is no text codec (``base64``, ``zlib``) or one
    that refuses lenient decoding (``idna``, ``punycode``, ``undefined``) falls through
    to the next candidate.
    """
    charset = (charset or "").strip().lower() or "utf-8"
    if charset in ("unknown-8bit", "x-unknown", "default", "us-ascii", "ascii"):
        charset = "utf-8"
    if charset in ("utf-8", "utf8") and _ISO2022JP_ESCAPE.search(data[:4096]):
        # Japanese mail often sends ISO-2022-JP without declaring it; its escape
        # sequences are plain ASCII, so UTF-8 would "succeed" and leave them raw.
        charset = "iso-2022-jp"
    for candidate in (charset, "utf-8"):
        try:
            return data.decode(candidate)
        except Exception:  # LookupError, UnicodeError, and whatever an odd codec raises
            continue
    try:
        return data.decode(charset, errors="replace")
    except Exception:
        return data.decode("cp1252", errors="replace")


def _part_text(part: email.message.Message, raw_structured: bool = False) -> str:
    """The decoded text of one leaf part, bounded in size."""
    if raw_structured and part.is_multipart():
        # compat32 parses message/delivery-status into a list of header blocks.
        blocks = _payload(part)
        lines: list[str] = []
        if isinstance(blocks, list):
            for block in blocks:
                if isinstance(block, email.message.Message):
                    lines.extend(f"{k}: {_header_text(v)}" for k, v in _raw_pairs(block)[:100])
                    lines.append("")
        return "\n".join(lines)[:MAX_PART_CHARS]
    data = _payload(part, decode=True)
    if data is None:
        payload = _payload(part)
        if not isinstance(payload, str):
            return ""
        # Undecodable as declared: the raw text, its 8-bit bytes read as UTF-8.
        return decode_bytes(payload[:MAX_PART_CHARS].encode("utf-8", "surrogateescape"), None)
    if not isinstance(data, bytes):
        return ""
    data = data[: MAX_PART_CHARS * 4]
    try:
        charset = part.get_content_charset()
    except Exception:
        charset = None
    text = decode_bytes(data, charset)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    return text[:MAX_PART_CHARS]


def _visible(text: str) -> bool:
    return bool(text.translate(_INVISIBLE).strip())


def _best_text(texts: list[tuple[str, str]]) -> str:
    for ctype, text in texts:
        if ctype == "text/plain" and _visible(text):
            return text
    for ctype, text in texts:
        if ctype == "text/html" and _visible(text):
            converted = html_to_text(text)
            if _visible(converted):
                return converted
    for _ctype, text in texts:
        if _visible(text):
            return text
    return ""


def _parse_dsn(body: str) -> tuple[list[tuple[str, str]], list[DeliveryStatus]]:
    """Split an RFC 3464 body into per-message fields and per-recipient blocks."""
    blocks = re.split(r"\n[ \t]*\n", body.replace("\r\n", "\n").strip())
    per_message: list[tuple[str, str]] = []
    recipients: list[DeliveryStatus] = []
    for block in blocks:
        fields: dict[str, str] = {}
        current: str | None = None
        for line in block.split("\n"):
            if line[:1] in (" ", "\t") and current:
                fields[current] += " " + line.strip()
                continue
            name, sep, value = line.partition(":")
            if not sep:
                continue
            current = name.strip().lower()
            fields.setdefault(current, value.strip())
        if not fields:
            continue
        if "final-recipient" in fields or "original-recipient" in fields or "action" in fields:
            recipients.append(
                DeliveryStatus(
                    final_recipient=_dsn_address(fields.get("final-recipient")),
                    original_recipient=_dsn_address(fields.get("original-recipient")),
                    action=_dsn_action(fields.get("action")),
                    status=_dsn_status(fields.get("status")),
                    diagnostic=fields.get("diagnostic-code"),
                )
            )
        else:
            per_message.extend(fields.items())
    return per_message, recipients


def _dsn_action(value: str | None) -> str | None:
    action = (value or "").strip().lower().split(" ")[0]
    # Some MTAs write "failure"/"delay" instead of RFC 3464's "failed"/"delayed".
    return {"failure": "failed", "fail": "failed", "delay": "delayed"}.get(action, action) or None


def _dsn_address(value: str | None) -> str | None:
    if not value:
        return None
    _, _, address = value.rpartition(";")
    address = address.strip().strip("<>").strip()
    return address.lower() or None


def _dsn_status(value: str | None) -> str | None:
    if not value:
        return None
    found = re.search(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b", value)
    return found.group(0) if found else None


def _original_headers(part: email.message.Message, ctype: str) -> list[tuple[str, str]]:
    try:
        if ctype == "text/rfc822-headers":
            text = _part_text(part)
            inner = email.message_from_string(text, policy=email.policy.compat32)
        else:
            payload = _payload(part)
            if isinstance(payload, list) and payload and isinstance(
                payload[0], email.message.Message
            ):
                inner = payload[0]
            elif isinstance(payload, str):
                inner = email.message_from_string(payload, policy=email.policy.compat32)
            else:
                return []
        return [(str(k), decode_header_value(v)) for k, v in _raw_pairs(inner)[:MAX_HEADERS]]
    except Exception:
        log.debug("unreadable attached original message", exc_info=True)
        return []


def received_date(msg: ParsedMessage) -> datetime | None:
    """When the newest Received header says the message arrived (None if none says)."""
    for value in msg.get_all("Received")[:5]:
        _, sep, stamp = value.rpartition(";")
        if sep:
            found = _parse_date(stamp.strip())
            if found is not None:
                return found
    return None


def _parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value[:200])
    except Exception:  # TypeError, ValueError, IndexError, OverflowError on odd dates
        return None
    return parsed


_BLOCK_TAGS = frozenset(
    {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "table", "ul", "ol",
     "pre", "blockquote"}
)
_SKIP_TAGS = ("style", "script", "head", "title", "xml")
_TAG = re.compile(
    r"<(/?)([A-Za-z][A-Za-z0-9:-]{0,30})([^<>]{0,4000})>|<[!?][^<>]{0,4000}>|([^<]+)|(<)"
)
_CLASS_ATTR = re.compile(r"""class\s*=\s*["']?([^"'>]*)""", re.IGNORECASE)


def _drop_between(html: str, lower: str, start: str, end: str) -> tuple[str, str]:
    """Remove every start…end span (comments, style blocks) in linear time."""
    out: list[str] = []
    out_lower: list[str] = []
    pos = 0
    while True:
        found = lower.find(start, pos)
        if found < 0:
            out.append(html[pos:])
            out_lower.append(lower[pos:])
            break
        out.append(html[pos:found])
        out_lower.append(lower[pos:found])
        close = lower.find(end, found + len(start))
        if close < 0:
            break
        pos = close + len(end)
    return "".join(out), "".join(out_lower)


def html_to_text(html: str) -> str:
    """Visible text of an HTML body; blockquotes become '> ' lines; never raises.

    A small linear tokenizer rather than html.parser, which is quadratic on unclosed
    tags ("<a <a <a …") and would let one message stall the daemon.
    """
    html = html[:MAX_HTML_CHARS]
    lower = html.lower()
    html, lower = _drop_between(html, lower, "<!--", "-->")
    for tag in _SKIP_TAGS:
        html, lower = _drop_between(html, lower, f"<{tag}", f"</{tag}>")
    lines: list[str] = []
    current: list[str] = []
    depth = 0
    div_quotes: list[bool] = []

    def flush() -> None:
        line = re.sub(r"[ \t\xa0]+", " ", "".join(current)).strip()
        prefix = "> " * min(depth, 8)
        lines.append(prefix + line if line else prefix.rstrip())
        current.clear()

    for token in _TAG.finditer(html):
        closing, name, attrs, data, stray = token.groups()
        if data is not None or stray is not None:
            current.append(htmllib.unescape((data or stray).replace("\n", " ").replace("\r", " ")))
            continue
        if name is None:
            continue  # <!DOCTYPE …>, <?xml …?>
        name = name.lower()
        if name in _BLOCK_TAGS:
            flush()
        if name == "blockquote":
            depth = max(0, depth - 1) if closing else depth + 1
        elif name == "div":
            if closing:
                if div_quotes and div_quotes.pop():
                    depth = max(0, depth - 1)
            else:
                found = _CLASS_ATTR.search(attrs or "")
                klass = found.group(1) if found else ""
                is_quote = "gmail_quote" in klass or "yahoo_quoted" in klass
                div_quotes.append(is_quote)
                if is_quote:
                    depth += 1
    flush()
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")
