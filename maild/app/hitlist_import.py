"""Importing a hit list into one that exists: what would change, then the change.

``plan_import`` compares each row of a parsed CSV with the mentors already known (by
any of their addresses, else by exactly one mentor's name) and says what importing
would do: add a new mentor, update fields of a known one (shown as before/after), or
nothing. A row known only by its name (the sheet still has an address that was
replaced, say after a bounce) never changes addresses: `maild mentor edit` does. A cell
left empty in the spreadsheet never erases what maild knows (nor resets an outreach
status maild keeps up to date), and a row that would give a known mentor's address to
someone else is a problem, not a change. ``apply_import`` carries the plan out in one
transaction each for the additions and the updates; the page shows the plan first.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from maild.core.entries import MentorInput, validate
from maild.errors import UsageError
from maild.store import Store
from maild.store import mentors as repo

# Fields compared (and shown) in a preview; emails are matched, not overwritten.
_FIELDS = ("name", "title", "institution", "department", "specialty", "last_publication",
           "grant_status", "connection_point", "outreach_status", "rank", "timezone", "notes",
           "assistant_emails")
_DEFAULT_STATUS = "not contacted"


@dataclass(frozen=True)
class Change:
    field: str
    old: str
    new: str


@dataclass(frozen=True)
class Update:
    mentor_id: int
    name: str
    entry: MentorInput
    changes: tuple[Change, ...]
    by_name: bool = False  # matched by the name, not by an address

    @property
    def fields(self) -> dict[str, Any]:
        """Only the changed fields, as the store writes them (never the whole row: the
        daemon may have moved the outreach status since the preview)."""
        return {c.field: getattr(self.entry, c.field) for c in self.changes}


@dataclass(frozen=True)
class ImportPlan:
    added: tuple[MentorInput, ...]
    updated: tuple[Update, ...]
    unchanged: tuple[str, ...]
    problems: tuple[str, ...]

    @property
    def empty(self) -> bool:
        return not self.added and not self.updated


def _shown(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, tuple):
        return "; ".join(str(v) for v in value)
    return str(value)


def _merged(known: MentorInput, row: MentorInput, *, addresses: bool = True) -> MentorInput:
    """The known entry with every non-empty cell of the row written over it (addresses
    only added, and not at all when ``addresses`` is false)."""
    changes: dict[str, Any] = {}
    for name in _FIELDS:
        value = getattr(row, name)
        if value in ("", None, ()):
            continue
        if name == "outreach_status" and value == _DEFAULT_STATUS:
            continue  # the CSV's default, not a status the user typed
        if name == "assistant_emails" and not addresses:
            continue
        changes[name] = value
    extra = tuple(a for a in row.emails if a not in known.emails)
    if extra and addresses:
        changes["emails"] = known.emails + extra
    return dataclasses.replace(known, **changes)


def plan_import(store: Store, rows: list[MentorInput]) -> ImportPlan:
    known = store.read.mentors.all()
    by_address = {a: r for r in known for a in r.addresses}
    by_name: dict[str, list[Any]] = {}
    for r in known:
        by_name.setdefault(r.name.strip().lower(), []).append(r)
    added: list[MentorInput] = []
    updated: list[Update] = []
    unchanged: list[str] = []
    problems: list[str] = []
    for row in rows:
        owners = {by_address[a].id: by_address[a] for a in row.emails + row.assistant_emails
                  if a in by_address}
        if len(owners) > 1:
            names = ", ".join(r.name for r in owners.values())
            problems.append(f"line {row.line}: {row.name}'s addresses belong to several "
                            f"mentors ({names})")
            continue
        named = by_name.get(row.name.strip().lower(), []) if not owners else []
        if not owners and len(named) != 1:
            added.append(row)
            continue
        [record] = owners.values() if owners else named
        merged = _merged(record.entry, row, addresses=bool(owners))
        bad = validate(merged)
        if bad:
            problems.append(f"line {row.line}: {'; '.join(bad)}")
            continue
        changes = tuple(Change(f, _shown(getattr(record.entry, f)), _shown(getattr(merged, f)))
                        for f in (*_FIELDS, "emails")
                        if getattr(record.entry, f) != getattr(merged, f))
        if changes:
            updated.append(Update(record.id, record.name, merged, changes,
                                  by_name=not owners))
        else:
            unchanged.append(record.name)
    return ImportPlan(tuple(added), tuple(updated), tuple(unchanged), tuple(problems))


def apply_import(store: Store, plan: ImportPlan, now: datetime) -> tuple[int, int]:
    """Add and update as planned; returns (added, updated)."""
    if plan.problems:
        raise UsageError("nothing imported: " + "; ".join(plan.problems[:3]))
    ids = repo.add_mentors(store, plan.added, now) if plan.added else []
    for update in plan.updated:
        repo.update_mentor(store, update.mentor_id, update.fields, now)
    return len(ids), len(plan.updated)
