"""Extract the new text of a reply: no quoted history, forwarded headers, signature or
disclaimer.

Two steps, kept apart because they answer different questions:

* ``strip_quotes`` removes what the sender did not write in this message: ``>`` quotes
  (also between the sender's own lines, for interleaved replies), attribution lines
  ("On … wrote:", in several languages and wrapped over lines), Outlook's
  "From: … Sent: …" block and "Original Message" separators, forwarded-message blocks.
  It keeps signatures, as talon's corpus defines "reply text".
* ``strip_signature`` removes the sign-off and what follows it, device taglines
  ("Sent from my iPhone") and legal disclaimers.

``reply_text`` does both. Neither library measured on the talon corpus
(email-reply-parser, mail-parser-reply: 9 of 12 each) handled Android's localised
attribution or Thunderbird's bottom-posting, so this module is our own small grammar.
"""

from __future__ import annotations

import re

_MAX_CHARS = 32 * 1024
# New text sits at the top (or between quotes); nobody writes a 2000-line answer.
_MAX_LINES = 2000

_QUOTED = re.compile(r"^\s{0,3}>")
_ATTRIBUTION_END = re.compile(
    r"(wrote|writes|escribió|a écrit|schrieb|scritto|escreveu|написал[аи]?|schreef|skrev)\s*:?\s*$",
    re.IGNORECASE,
)
_ON_WROTE_START = re.compile(
    r"^\s*(On|Le|Am|El|Il|Em|Op|Den|På)\b.{0,200}$|^\s*\d{1,4}[./-]\d{1,2}[./-]\d{1,4}",
    re.IGNORECASE,
)
_SEPARATOR = re.compile(
    r"^\s*(-{2,}\s*(Original Message|Ursprüngliche Nachricht|Message d'origine|Mensaje original"
    r"|Forwarded message|Weitergeleitete Nachricht)\s*-{2,}"
    r"|Begin forwarded message:"
    r"|_{10,}\s*$"
    r"|-{5,}\s*$)",
    re.IGNORECASE,
)
_HEADER_FIELD = re.compile(
    r"^\s*\*?(From|Sent|Date|To|Cc|Subject|Von|Gesendet|An|Betreff|De|Envoyé|À|Objet|Enviado"
    r"|Para|Asunto)\s*:\*?\s",
    re.IGNORECASE,
)
_FROM_FIELD = re.compile(r"^\s*\*?(From|Von|De)\s*:\*?\s", re.IGNORECASE)

_SIGN_OFF = re.compile(
    r"^\s*(best|best regards|best wishes|all best|all the best|kind regards|regards|warm regards"
    r"|warmest regards|warmly|warm wishes|thanks|thank you|many thanks|thanks again|thx|cheers"
    r"|sincerely|sincerely yours|yours|yours truly|cordially|take care|with best wishes"
    r"|respectfully|talk soon|good luck|best of luck|hope this helps|--\s*\w+)"
    r"\s*[,.!]?\s*(\w[\w.' -]{0,40})?\s*$",
    re.IGNORECASE,
)
_DEVICE_TAGLINE = re.compile(
    r"^\s*(Sent from my \w+|Sent from (Outlook|Yahoo Mail|Mail for Windows|my mobile)"
    r"|Get Outlook for \w+|Sent with \w+|Sent via \w+|Envoyé de mon \w+|Von meinem \w+ gesendet)",
    re.IGNORECASE,
)
_DISCLAIMER = re.compile(
    r"^\s*(\**\s*)?(CONFIDENTIALITY NOTICE|CONFIDENTIAL(ITY)?:|DISCLAIMER|PRIVILEGED AND CONFIDENT"
    r"IAL"
    r"|This (e-?mail|message|communication)( and any (files|attachments))?"
    r" (is|are|may contain|contains|including)"
    r"|The information (contained )?in this (e-?mail|message|communication)"
    r"|If you (are not the intended recipient|have received this (e-?mail|message) in error)"
    r"|E-?mail correspondence to and from this address"
    r"|Please consider the environment before printing)",
    re.IGNORECASE,
)


def reply_text(text: str) -> str:
    """The new text of a reply, without quotes, signature or disclaimer."""
    return strip_signature(strip_quotes(text))


def strip_quotes(text: str) -> str:
    """The reply without quoted or forwarded history (signatures kept)."""
    lines = text[:_MAX_CHARS].replace("\r\n", "\n").replace("\r", "\n").split("\n")
    lines = lines[:_MAX_LINES]
    lines = lines[: _cut_index(lines)]
    kept: list[str] = []
    i = 0
    while i < len(lines):
        span = _attribution_span(lines, i)
        if span:
            i += span
            continue
        if _QUOTED.match(lines[i]):
            # Keep one blank line where a quote block sat between the sender's own
            # paragraphs, so interleaved answers stay readable.
            if kept and kept[-1].strip():
                kept.append("")
            i += 1
            continue
        kept.append(lines[i])
        i += 1
    return _tidy(kept)


def strip_signature(text: str) -> str:
    """``text`` without sign-off, signature block, device tagline or disclaimer."""
    lines = text.split("\n")
    cut = len(lines)
    for idx, line in enumerate(lines):
        if _DISCLAIMER.match(line):
            cut = idx
            break
    lines = lines[:cut]
    for idx, line in enumerate(lines):
        stripped = line.rstrip()
        if stripped in ("--", "-- ", "---") or line == "-- ":
            lines = lines[:idx]
            break
    for idx, line in enumerate(lines):
        if _DEVICE_TAGLINE.match(line):
            lines = lines[:idx]
            break
    lines = _cut_sign_off(lines)
    return _tidy(lines)


def _cut_sign_off(lines: list[str]) -> list[str]:
    """Drop a closing like "Best,\\nJane" and the short name/title lines under it.

    Only when it is near the end and what follows looks like a signature block (a few
    short lines), so that "Thanks, I will send it Monday." survives.
    """
    content = [i for i, line in enumerate(lines) if line.strip()]
    if not content:
        return lines
    window = content[-10:]
    for idx in window:
        line = lines[idx]
        if not _SIGN_OFF.match(line):
            continue
        after = [lines[j] for j in content if j > idx]
        if len(after) <= 8 and all(len(a.strip()) <= 80 for a in after):
            if idx == content[0]:
                # The whole reply is "Thanks!" — that is the text, not a signature.
                return lines[: idx + 1]
            return lines[:idx]
    return lines


def _cut_index(lines: list[str]) -> int:
    """Index of the first line of forwarded/"original message" history, or len(lines)."""
    for idx, line in enumerate(lines):
        if _SEPARATOR.match(line):
            return idx
        if _FROM_FIELD.match(line) and _header_block_follows(lines, idx):
            return idx
        if _ON_WROTE_START.match(line) and not _QUOTED.match(line):
            span = _attribution_span(lines, idx)
            if span and not _quote_follows(lines, idx + span):
                # An attribution with unquoted history below it: everything after it
                # is the old message.
                return idx
    return len(lines)


def _header_block_follows(lines: list[str], idx: int) -> bool:
    """Outlook/Yahoo quote header: From: then Sent:/Date:/To:/Subject: within 4 lines."""
    others = 0
    for line in lines[idx + 1 : idx + 6]:
        if _HEADER_FIELD.match(line):
            others += 1
        elif line.strip() and others == 0 and not line.startswith((" ", "\t")):
            return False
    return others >= 2


def _attribution_span(lines: list[str], idx: int) -> int:
    """How many lines starting at idx form an "On … wrote:" line (0 if none)."""
    if _QUOTED.match(lines[idx]) or not lines[idx].strip():
        return 0
    joined = ""
    for span in range(1, 4):
        if idx + span - 1 >= len(lines):
            return 0
        part = lines[idx + span - 1]
        if span > 1 and (not part.strip() or _QUOTED.match(part)):
            return 0
        if span == 2 and not (_ON_WROTE_START.match(lines[idx]) or _looks_dated(lines[idx])):
            # A wrapped attribution starts with its date or "On"; a plain sentence
            # above it is the reply itself.
            return 0
        joined = (joined + " " + part.strip()).strip()
        if len(joined) > 300:
            return 0
        if _ATTRIBUTION_END.search(joined) and (
            _ON_WROTE_START.match(joined) or _quote_follows(lines, idx + span)
        ):
            return span
        if joined.endswith(":") and _quote_follows(lines, idx + span) and _looks_dated(joined):
            return span
    return 0


def _looks_dated(line: str) -> bool:
    return bool(re.search(r"\d{1,2}:\d{2}|\d{4}|@", line))


def _quote_follows(lines: list[str], idx: int) -> bool:
    for line in lines[idx : idx + 3]:
        if line.strip():
            return bool(_QUOTED.match(line))
    return False


def _tidy(lines: list[str]) -> str:
    text = "\n".join(lines)
    text = re.sub(r"\n[ \t]*\n([ \t]*\n)+", "\n\n", text)
    return text.strip()
