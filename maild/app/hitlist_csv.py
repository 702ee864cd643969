"""The hit list as a spreadsheet: reading and writing the guide's CSV columns.

Spreadsheets name their columns in many ways ("E-mail", "Email address(es)", "Dept."),
so headers are matched loosely. A file is validated completely before anything is
imported; every bad row is reported with its line number.

Exported cells are data, never formulas (invariant 12): a cell a spreadsheet would
evaluate (``=HYPERLINK(...)``, ``+cmd``, ``@SUM``) is written with a leading ``'``,
which spreadsheets show as text; importing the file takes the ``'`` off again.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import TYPE_CHECKING

from maild.adapters.compose import header_problems
from maild.core.entries import (
    MAX_RANK,
    MentorInput,
    normalise_date,
    split_addresses,
    validate,
)
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


# What makes Excel, LibreOffice or Google Sheets read a cell as a formula (OWASP).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    """A value as an exported cell: a would-be formula gets a leading ``'`` (and so
    does a value that already looks neutralised, so that importing gives it back)."""
    text = "" if value is None else str(value)
    return "'" + text if text.lstrip("'").startswith(FORMULA_PREFIXES) else text


def _imported_cell(cell: str) -> str:
    """The inverse of ``csv_cell`` for a cell read back from a file."""
    if cell.startswith("'") and cell.lstrip("'").startswith(FORMULA_PREFIXES):
        return cell[1:]
    return cell


def entry_problems(entry: MentorInput) -> list[str]:
    """Everything wrong with a mentor as entered: the core's checks, then what could
    inject a header once encoded-words are decoded."""
    problems = validate(entry)
    return problems or header_problems(entry)


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
                values[column] = _imported_cell(cell.strip())
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
        for problem in entry_problems(entry):
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
                record.append(getattr(entry, column))
        writer.writerow([csv_cell(value) for value in record])
    return out.getvalue()

