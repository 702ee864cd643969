"""``maild status`` and ``maild timeline``: how the asks stand, and one mentor's history.

The commands a user runs most, so they import only what they print with: the store,
the dashboard's summaries and, for text, Rich's tables; never the tracker, the
templates or the mail libraries.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import click

from maild.cli.app import App, pass_app
from maild.cli.terminal import add_row, for_terminal


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def status_command(app: App, as_json: bool) -> None:
    """Dashboard: open asks by state, what is due next, deadlines and risks."""
    # The rules first: a missing or broken config.toml is reported before anything is
    # created in the home (or imported for the report).
    rules = app.rules()
    from maild.app.status import build_status

    report = build_status(app.store(), app.now(), rules)
    if as_json:
        click.echo(json.dumps(report, indent=2, default=str))
        return
    counts = ", ".join(f"{k} {v}" for k, v in report["asks_by_state"].items()) or "none"
    click.echo(f"{click.style('Open asks:', bold=True)} {for_terminal(counts)}")
    click.echo(f"{click.style('Drafts waiting for you:', bold=True)} "
               f"{report['drafts_waiting']}")
    if report["next_steps"] or report["applications"]:
        _tables(app, report)
    # Lines, not Rich: hundreds of risks in a big store took a second to lay out.
    mark = click.style("!", fg="yellow")
    click.echo("".join(f"{mark} {for_terminal(risk['text'])}\n" for risk in report["risks"]),
               nl=False)


def _tables(app: App, report: dict[str, Any]) -> None:
    from rich.table import Table

    if report["next_steps"]:
        table = Table("due", "ask", "mentor", "step", title="Next")
        for item in report["next_steps"]:
            add_row(table, app.local(datetime.fromisoformat(item["due"])), item["ask_id"],
                    item["mentor"], item["step"])
        app.console.print(table)
    if report["applications"]:
        table = Table("application", "deadline", "required", "committed", "submitted",
                      title="Letters")
        for a in report["applications"]:
            add_row(table, a["name"], a["deadline"] or "", a["letters_required"],
                    a["committed"], a["submitted"])
        app.console.print(table)


@click.command("timeline")
@click.argument("mentor")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def timeline_command(app: App, mentor: str, as_json: bool) -> None:
    """Everything that happened with one mentor, oldest first."""
    from maild.app.status import timeline

    store = app.store()
    record = store.read.mentors.find(mentor)
    items = timeline(store, record.id)
    if as_json:
        click.echo(json.dumps(items, indent=2, default=str))
        return
    click.echo(f"Timeline of {for_terminal(record.name)}:")
    for item in items:
        ask = f"ask {item['ask_id']}: " if item["ask_id"] else ""
        click.echo(f"  {app.local(datetime.fromisoformat(item['at']))}  {ask}"
                   f"{for_terminal(item['summary'])}")
