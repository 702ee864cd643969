"""The hit list as a spreadsheet: reading and writing the guide's CSV columns.

Spreadsheets name their columns in many ways ("E-mail", "Email address(es)", "Dept."),
so headers are matched loosely. A file is validated completely before anything is
imported; every bad row is reported with its line number.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from maild.errors import UsageError

if TYPE_CHECKING:
    from _csv import Reader as _CsvReader

COLUMNS: tuple[str, ...] = (
    "rank", "name", "title", "institution", "department", "specialty", "last_publication",
    "grant_status", "email", "assistant_email", "connection_point", "outreach_status",
    "timezone", "notes",
)

# Normalised header (lowercase letters and digits only) -> column.
_ALIASES: Mapping[str, str] = MappingProxyType({
    **{c.replace("_", ""): c for c in COLUMNS},
    "fullname": "name", "mentor": "name", "mentorname": "name", "faculty": "name",
    "facultyname": "name", "person": "name",
    "university": "institution", "hospital": "institution", "school": "institution",
    "affiliation": "institution", "organization": "institution", "org": "institution",
    "dept": "department", "division": "department",
    "specialtyfield": "specialty", "field": "specialty", "speciality": "specialty",
    "researcharea": "specialty", "area": "specialty", "interests": "specialty",
    "lastpub": "last_publication", "lastpubdate": "last_publication",
    "lastpublicationdate": "last_publication", "recentpublication": "last_publication",
    "latestpublication": "last_publication", "lastpaper": "last_publication",
    "grants": "grant_status", "grant": "grant_status", "funding": "grant_status",
    "fundingstatus": "grant_status", "nih": "grant_status",
    "emails": "email", "emailaddress": "email", "emailaddresses": "email",
    "emailaddresss": "email", "mail": "email", "address": "email",
    "assistant": "assistant_email", "assistantemail": "assistant_email",
    "adminemail": "assistant_email", "coordinator": "assistant_email",
    "connection": "connection_point", "hook": "connection_point",
    "connectionpoints": "connection_point", "whatiread": "connection_point",
    "paper": "connection_point",
    "status": "outreach_status", "outreach": "outreach_status",
    "priority": "rank", "": "rank", "no": "rank", "number": "rank",
    "tz": "timezone", "timezone": "timezone",
    "note": "notes", "comments": "notes",
})
_EMAIL = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[A-Za-z0-9-]{2,}$")
# Line breaks and other control characters: in a name or a connection point they would
# reach a header (From/To names, the Subject) and could add one. Refused at entry.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Free text that never reaches a header may span lines.
_MULTILINE_FIELDS = frozenset({"notes"})
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


@dataclass(frozen=True)
class RowProblem:
    line: int
    problem: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.problem}"


class HitListError(UsageError):
    """A CSV file that cannot be imported; lists every bad row, imports nothing."""

    def __init__(self, source: str, problems: Sequence[RowProblem]) -> None:
        shown = "; ".join(str(p) for p in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(f"{source}: nothing imported: {shown}{more}")
        self.problems = tuple(problems)


def normalise_header(text: str) -> str:
    key = re.sub(r"[^a-z0-9]", "", text.lower())
    return _ALIASES.get(key, "")


def split_addresses(text: str) -> tuple[str, ...]:
    return tuple(a.strip("<>").lower() for a in _SPLIT.split(text.strip()) if a.strip("<>"))


def check_email(address: str) -> str | None:
    if _CONTROL.search(address) or not _EMAIL.match(address):
        return f"{address!r} is not an email address"
    return None


def check_text(field_name: str, value: str) -> str | None:
    """A problem phrase when ``value`` holds a control character (CR, LF, NUL, ...)."""
    allowed = "\n\r\t" if field_name in _MULTILINE_FIELDS else ""
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


def parse_csv(text: str, source: str = "CSV") -> list[MentorInput]:
    """Every row of a hit-list CSV, or HitListError listing all bad rows."""
    if text.startswith("\ufeff"):  # Excel writes a byte-order mark
        text = text[1:]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:4096], ",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    entries: list[MentorInput] = []
    problems: list[RowProblem] = []
    try:
        _read_rows(reader, source, entries, problems)
    except csv.Error as exc:
        # What the csv module cannot read at all (a field over its size limit, usually
        # a quote that is never closed) ends the file: reported with the rows before it.
        problems.append(RowProblem(max(reader.line_num, 1), _unreadable(exc)))
    if problems:
        raise HitListError(source, problems)
    return entries


def _unreadable(exc: csv.Error) -> str:
    if "field limit" in str(exc):
        return (f"a field is longer than {csv.field_size_limit()} characters (is a quote "
                "never closed?)")
    return f"not readable as CSV ({exc})"


def _rank(text: str) -> int | None:
    """A rank cell as an integer ("3", "3.0"), or None when it is not a finite number."""
    try:
        number = float(text)
    except ValueError:
        return None
    return int(number) if math.isfinite(number) else None


def _read_rows(reader: _CsvReader, source: str, entries: list[MentorInput],
               problems: list[RowProblem]) -> None:
    """Read the header and every row into ``entries``; bad rows into ``problems``."""
    try:
        header = next(reader)
    except StopIteration:
        raise HitListError(source, [RowProblem(1, "the file is empty")]) from None
    columns = [normalise_header(h) for h in header]
    if "name" not in columns or "email" not in columns:
        raise HitListError(source, [RowProblem(1, "the header needs a name and an email "
                                               f"column (found: {', '.join(header)})")])
    seen: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        values: dict[str, str] = {}
        for column, cell in zip(columns, row, strict=False):
            if column and cell.strip() and column not in values:
                values[column] = cell.strip()
        rank_text = values.get("rank", "")
        rank = _rank(rank_text) if rank_text else None
        if rank_text and (rank is None or not 0 <= rank <= MAX_RANK):
            problems.append(RowProblem(line, f"rank {rank_text!r} is not a number from 0 "
                                             f"to {MAX_RANK}"))
            continue
        entry = MentorInput(
            name=values.get("name", ""),
            emails=split_addresses(values.get("email", "")),
            assistant_emails=split_addresses(values.get("assistant_email", "")),
            title=values.get("title", ""),
            institution=values.get("institution", ""),
            department=values.get("department", ""),
            specialty=values.get("specialty", ""),
            last_publication=normalise_date(values.get("last_publication", "")),
            grant_status=values.get("grant_status", ""),
            connection_point=values.get("connection_point", ""),
            outreach_status=values.get("outreach_status", "") or "not contacted",
            rank=rank,
            timezone=values.get("timezone") or None,
            notes=values.get("notes", ""),
            line=line,
        )
        for problem in validate(entry):
            problems.append(RowProblem(line, problem))
        for address in entry.emails + entry.assistant_emails:
            if address in seen:
                problems.append(RowProblem(line, f"{address} is also on line {seen[address]}"))
            seen.setdefault(address, line)
        entries.append(entry)


def to_csv(rows: Iterable[MentorInput]) -> str:
    """The hit list as CSV with the guide's columns (what parse_csv reads back)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    names = {f.name for f in fields(MentorInput)}
    for entry in rows:
        record = []
        for column in COLUMNS:
            if column == "email":
                record.append("; ".join(entry.emails))
            elif column == "assistant_email":
                record.append("; ".join(entry.assistant_emails))
            elif column in names:
                value = getattr(entry, column)
                record.append("" if value is None else str(value))
        writer.writerow(record)
    return out.getvalue()

