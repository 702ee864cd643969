"""``maild mentor`` and ``maild application``: the hit list and the applications."""

from __future__ import annotations

import dataclasses
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from maild.app.drafting import TemplateDrafts, refresh_pending
from maild.app.hitlist_csv import entry_problems, parse_csv, to_csv
from maild.app.hitlist_import import apply_import, plan_import
from maild.cli.app import App, pass_app
from maild.cli.terminal import add_row, for_terminal
from maild.core.entries import (
    DATE_EXAMPLES,
    MAX_RANK,
    MentorInput,
    read_date,
    split_addresses,
)
from maild.core.timing import range_problem
from maild.errors import UsageError
from maild.paths import write_private
from maild.store import mentors as repo


def _entry_json(record: repo.MentorRecord) -> dict[str, Any]:
    data = dataclasses.asdict(record.entry)
    data.pop("line", None)
    data["emails"] = list(record.entry.emails)
    data["assistant_emails"] = list(record.entry.assistant_emails)
    return {"id": record.id, **data}


_FIELD_OPTIONS = (
    click.option("--title", help='How to address them, e.g. "Dr." or "Prof.".'),
    click.option("--institution", help="University or hospital."),
    click.option("--department", help="Department or division."),
    click.option("--specialty", help="Specialty or research area."),
    click.option("--last-publication",
                 help="Date of their latest paper (YYYY-MM-DD; YYYY-MM or YYYY will do)."),
    click.option("--grant-status", help='Funding, e.g. "R01 active".'),
    click.option("--connection-point", help="What of theirs you read: the hook for your email."),
    click.option("--outreach-status", help='Free text, e.g. "not contacted".'),
    click.option("--rank", type=int,
                 help=f"Position on your hit list (1 = first; up to {MAX_RANK})."),
    click.option("--timezone", help="Their time zone, if not yours (e.g. America/Denver)."),
    click.option("--notes", help="Anything else."),
)


def _field_options(func: Any) -> Any:
    for option in reversed(_FIELD_OPTIONS):
        func = option(func)
    return func


def _publication(text: str) -> str:
    """``--last-publication`` as stored: ISO text, or "" to clear it."""
    if not text.strip():
        return ""
    found = read_date(text)
    if found is None:
        raise UsageError(f"--last-publication: {text!r} is not a date (e.g. {DATE_EXAMPLES})")
    return found


def _checked(entry: MentorInput) -> MentorInput:
    problems = entry_problems(entry)
    if problems:
        raise UsageError("; ".join(problems))
    return entry


def _refresh_drafts(app: App, mentor_id: int) -> int:
    """Render the mentor's waiting drafts again, so they say what the hit list says now."""
    if not app.store().read.drafts.pending_for_mentor(mentor_id):
        return 0  # nothing to render (and a hit list may be kept before any config)
    drafts = app.tracker().drafts
    if not isinstance(drafts, TemplateDrafts):
        return 0
    return refresh_pending(app.store(), drafts, mentor_id, app.now())


@click.group("mentor")
def mentor_group() -> None:
    """Your hit list: the mentors you may ask, ranked."""


@mentor_group.command("add")
@click.argument("name")
@click.option("--email", "emails", multiple=True, required=True,
              help="Their address (repeat for several).")
@click.option("--assistant", "assistants", multiple=True,
              help="An assistant's address; replies from it count as the mentor's.")
@_field_options
@pass_app
def mentor_add(app: App, /, name: str, emails: tuple[str, ...], assistants: tuple[str, ...],
               **fields: Any) -> None:
    """Add a mentor to the hit list."""
    values = {k: v for k, v in fields.items() if v is not None}
    if "last_publication" in values:
        values["last_publication"] = _publication(values["last_publication"])
    entry = _checked(MentorInput(
        name=name, emails=tuple(a.lower() for a in emails),
        assistant_emails=tuple(a.lower() for a in assistants), **values))
    [mentor_id] = repo.add_mentors(app.store(), [entry], app.now())
    click.echo(f"Added mentor {mentor_id}: {for_terminal(name)}")


@mentor_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def mentor_list(app: App, as_json: bool) -> None:
    """List the hit list, best-ranked first."""
    records = app.store().read.mentors.all()
    if as_json:
        click.echo(json.dumps([_entry_json(r) for r in records], indent=2))
        return
    if not records:
        click.echo("The hit list is empty: `maild mentor add` or `maild mentor import`.")
        return
    table = Table("id", "rank", "name", "institution", "specialty", "email", "status")
    for r in records:
        e = r.entry
        add_row(table, r.id, "" if e.rank is None else e.rank, e.name, e.institution,
                e.specialty, ", ".join(e.emails), e.outreach_status)
    app.console.print(table)


@mentor_group.command("show")
@click.argument("mentor")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def mentor_show(app: App, mentor: str, as_json: bool) -> None:
    """Show one mentor (by id, address or name)."""
    record = app.store().read.mentors.find(mentor)
    data = _entry_json(record)
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    for key, value in data.items():
        if value not in ("", None, []):
            shown = ", ".join(value) if isinstance(value, list) else value
            click.echo(f"{key.replace('_', ' '):>18}: {for_terminal(shown)}")


@mentor_group.command("edit")
@click.argument("mentor")
@click.option("--name", help="A new name.")
@click.option("--email", "emails", multiple=True,
              help="Replace their addresses (repeat for several).")
@click.option("--assistant", "assistants", multiple=True,
              help="Replace the assistants' addresses.")
@_field_options
@pass_app
def mentor_edit(app: App, /, mentor: str, name: str | None, emails: tuple[str, ...],
                assistants: tuple[str, ...], **fields: Any) -> None:
    """Change a mentor's details; only the options given change."""
    store = app.store()
    record = store.read.mentors.find(mentor)
    changes: dict[str, Any] = {k: v for k, v in fields.items() if v is not None}
    if "last_publication" in changes:
        changes["last_publication"] = _publication(changes["last_publication"])
    if name:
        changes["name"] = name
    if emails:
        changes["emails"] = tuple(a.lower() for a in emails)
    if assistants:
        changes["assistant_emails"] = tuple(a.lower() for a in assistants)
    if not changes:
        raise UsageError("nothing to change: give at least one option (see --help)")
    entry = _checked(dataclasses.replace(record.entry, **changes))
    repo.update_mentor(store, record.id, changes, app.now())
    click.echo(f"Updated mentor {record.id}: {for_terminal(entry.name)}")
    refreshed = _refresh_drafts(app, record.id)
    if refreshed:
        click.echo(f"{refreshed} waiting draft(s) rendered again with the new details "
                   "(`maild drafts`).")


@mentor_group.command("remove")
@click.argument("mentor")
@pass_app
def mentor_remove(app: App, mentor: str) -> None:
    """Remove a mentor who was never asked anything.

    Mentors with asks are kept, so that maild never emails them twice.
    """
    store = app.store()
    record = store.read.mentors.find(mentor)
    repo.remove_mentor(store, record.id, app.now())
    click.echo(f"Removed mentor {record.id}: {for_terminal(record.name)}")


@mentor_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path, allow_dash=True))
@pass_app
def mentor_import(app: App, file: Path) -> None:
    """Import a hit list from a CSV file (e.g. exported from a spreadsheet).

    Columns (headers matched loosely): rank, name, title, institution, department,
    specialty, last publication, grant status, email (several separated by ";"),
    assistant email, connection point, outreach status, timezone, notes. Name and email
    are required. The whole file is checked first: a bad row imports nothing and is
    reported with its line number.

    Importing again updates the mentors already on the list (matched by an address,
    else by their exact name): a filled cell replaces what was known, an empty one never
    erases it, addresses are only added (and not at all for a row matched by name), and
    each change is reported. Waiting drafts of updated mentors are rendered again.
    """
    if str(file) == "-":
        text = sys.stdin.read()
    else:
        try:
            text = file.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError:
            text = file.read_text(encoding="cp1252")
        except OSError as exc:
            raise UsageError(f"{file}: cannot be read ({exc.strerror})") from None
    plan = plan_import(app.store(), parse_csv(text, str(file)))
    added, updated = apply_import(app.store(), plan, app.now())
    click.echo(f"{for_terminal(file)}: {added} new, {updated} updated, "
               f"{len(plan.unchanged)} unchanged")
    for update in plan.updated:
        matched = (" (matched by name; its addresses are left as they are: `maild mentor "
                   "edit` changes them)") if update.by_name else ""
        fields = ", ".join(c.field.replace("_", " ") for c in update.changes)
        click.echo(f"  updated {update.mentor_id} {for_terminal(update.name)}: {fields}"
                   f"{matched}")
    refreshed = sum(_refresh_drafts(app, u.mentor_id) for u in plan.updated)
    if refreshed:
        click.echo(f"{refreshed} waiting draft(s) rendered again with the new details "
                   "(`maild drafts`).")


@mentor_group.command("export")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file instead of standard output.")
@pass_app
def mentor_export(app: App, output: Path | None) -> None:
    """Export the hit list as CSV with the guide's columns (re-importable)."""
    text = to_csv(r.entry for r in app.store().read.mentors.all())
    if output is None:
        # Piped, the CSV goes out as is; on a terminal it is shown, so made safe to show.
        click.echo(for_terminal(text, multiline=True) if sys.stdout.isatty() else text,
                   nl=False)
    else:
        write_private(output, text)
        click.echo(f"Wrote {for_terminal(output)}", err=True)


def parse_date(text: str, what: str) -> date:
    """A date given on the command line (YYYY-MM-DD), within the years maild plans in."""
    try:
        value = date.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"{what}: {text!r} is not a date (YYYY-MM-DD)") from None
    check_range(value, what)
    return value


def check_range(value: date, what: str) -> None:
    """A UsageError when maild cannot plan around ``value`` (a date or a datetime)."""
    if (problem := range_problem(value)) is not None:
        raise UsageError(f"{what}: {value.isoformat()} {problem}")


@click.group("application")
def application_group() -> None:
    """Applications that need letters (e.g. "ERAS 2027 Internal Medicine")."""


@application_group.command("add")
@click.argument("name")
@click.option("--deadline", help="Letter deadline, YYYY-MM-DD.")
@click.option("--letters", "letters_required", type=int, default=3, show_default=True,
              help="How many letters the application needs.")
@click.option("--system", default="", help='Where letters go, e.g. "ERAS", "AMCAS".')
@click.option("--programs", "programs", multiple=True,
              help="A program applied to, for the materials packet (repeat for each; "
              "\"A; B\" works too).")
@click.option("--instructions", default="", help="How letter writers submit their letter.")
@pass_app
def application_add(app: App, name: str, deadline: str | None, letters_required: int,
                    system: str, programs: tuple[str, ...], instructions: str) -> None:
    """Add an application."""
    when = parse_date(deadline, "--deadline") if deadline else None
    listed = [p.strip() for item in programs for p in item.split(";") if p.strip()]
    app_id = repo.add_application(app.store(), name, when, letters_required, system,
                                  "; ".join(listed), instructions, app.now())
    click.echo(f"Added application {app_id}: {for_terminal(name)}")


@application_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def application_list(app: App, as_json: bool) -> None:
    """List applications by deadline."""
    records = app.store().read.mentors.applications()
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(r) for r in records], indent=2,
                              default=str))
        return
    table = Table("id", "name", "system", "deadline", "letters")
    for r in records:
        add_row(table, r.id, r.name, r.system, r.deadline or "", r.letters_required)
    app.console.print(table)


__all__ = ["application_group", "mentor_group", "split_addresses"]


@application_group.command("outcome")
@click.argument("application")
@click.argument("outcome")
@pass_app
def application_outcome(app: App, application: str, outcome: str) -> None:
    """Record the result (interview, acceptance, match) and close the loop.

    Every letter writer who agreed or submitted gets a thank-you draft that shares
    OUTCOME, e.g. "I matched at Example University's internal medicine program".
    """
    from maild.core import events as ev

    store = app.store()
    found = store.read.mentors.find_application(application)
    letters = store.read.asks.of_application(found.id, "letter")
    if not letters:
        raise UsageError(f"{found.name} has no letter asks")
    tracker = app.tracker()
    now = app.now()
    for ask_id, _state in letters:
        tracker.handle(ask_id, ev.OutcomeRecorded(outcome), now)
    tracker.run_due(now)
    started = store.read.asks.started_at("thanks", found.id, now)
    click.echo(f"Recorded the outcome of {for_terminal(found.name)}; {started} thank-you "
               "draft(s) prepared (`maild drafts`).")
