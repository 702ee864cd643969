"""A mentor as the user enters it (a CLI option, a spreadsheet row) and its validation.

Pure: the CLI, the hit-list CSV reader and the store share one value type and one set of
rules about what a valid entry is, so a bad name or address is refused at entry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_EMAIL = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[A-Za-z0-9-]{2,}$")
# Line breaks and other control characters: in a name or a connection point they would
# reach a header (From/To names, the Subject) and could add one. Refused at entry.
# C0 and C1 controls and the Unicode line separators: Python's email package (str.splitlines)
# takes NEL, LS and PS as line breaks too, so each could start a header of its own.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# Free text that never reaches a header may span lines.
MULTILINE_FIELDS = frozenset({"notes"})
_SPLIT = re.compile(r"[;,\s]+")
# Ranks are positions on a list of a dozen people; the bound keeps a typo (or 1e30)
# from reaching SQLite, whose integers stop at 2**63.
MAX_RANK = 100_000
# The date formats a last publication may be written in, and how each is stored.
_DATE_FORMATS: tuple[tuple[str, str], ...] = (
    ("%Y-%m-%d", "%Y-%m-%d"), ("%m/%d/%Y", "%Y-%m-%d"), ("%d.%m.%Y", "%Y-%m-%d"),
    ("%Y-%m", "%Y-%m"), ("%B %Y", "%Y-%m"), ("%b %Y", "%Y-%m"), ("%Y", "%Y"),
)
DATE_EXAMPLES = "2025-03-14, 03/14/2025, 14.03.2025, 2025-03, March 2025, Mar 2025 or 2025"


@dataclass(frozen=True)
class MentorInput:
    """A mentor as entered by the user, before it has an id."""

    name: str
    emails: tuple[str, ...] = ()
    assistant_emails: tuple[str, ...] = ()
    title: str = ""
    institution: str = ""
    department: str = ""
    specialty: str = ""
    last_publication: str = ""
    grant_status: str = ""
    connection_point: str = ""
    outreach_status: str = "not contacted"
    rank: int | None = None
    timezone: str | None = None
    notes: str = ""
    line: int = field(default=0, compare=False)


def split_addresses(text: str) -> tuple[str, ...]:
    return tuple(a.strip("<>").lower() for a in _SPLIT.split(text.strip()) if a.strip("<>"))


def check_email(address: str) -> str | None:
    if _CONTROL.search(address) or not _EMAIL.match(address):
        return f"{address!r} is not an email address"
    return None


def check_text(field_name: str, value: str) -> str | None:
    """A problem phrase when ``value`` holds a control character (CR, LF, NUL, ...)."""
    allowed = "\n\r\t" if field_name in MULTILINE_FIELDS else ""
    bad = [c for c in value if _CONTROL.match(c) and c not in allowed]
    if not bad:
        return None
    shown = value.encode("unicode_escape").decode("ascii")[:60]
    return (f"the {field_name.replace('_', ' ')} contains a line break or another control "
            f"character ({shown!r}); it could end up in an email header")


def read_date(text: str) -> str | None:
    """A publication date in one of the known formats as ISO text (2025-03-14, 2025-03
    or 2025), or None when it is in none of them (see DATE_EXAMPLES)."""
    text = text.strip()
    for fmt, out in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).strftime(out)
        except ValueError:
            continue
    return None


def normalise_date(text: str) -> str:
    """A publication date as ISO text where it can be read, else as written."""
    found = read_date(text)
    return text.strip() if found is None else found


def check_timezone(name: str) -> str | None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return f"{name!r} is not a time zone (e.g. America/New_York)"
    return None


def validate(entry: MentorInput) -> list[str]:
    """Everything wrong with one mentor, as phrases."""
    problems = []
    for item in fields(MentorInput):
        value = getattr(entry, item.name)
        if isinstance(value, str) and (problem := check_text(item.name, value)) is not None:
            problems.append(problem)
    if not entry.name.strip():
        problems.append("the name is empty")
    if not entry.emails:
        problems.append("no email address")
    for address in entry.emails + entry.assistant_emails:
        if (problem := check_email(address)) is not None:
            problems.append(problem)
    if entry.timezone and (problem := check_timezone(entry.timezone)) is not None:
        problems.append(problem)
    if entry.rank is not None and not 0 <= entry.rank <= MAX_RANK:
        problems.append(f"rank {entry.rank} is not a number from 0 to {MAX_RANK}")
    return problems
