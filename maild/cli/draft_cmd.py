"""``maild drafts``, ``maild draft show``, ``approve``, ``reject``, ``snooze``: review;
``maild draft resolve`` and ``maild draft retry``: settle a send that did not go through.

Nothing is sent without passing through ``approve`` (invariant 1). Fields only the user
can write (``user.*`` in the template) are asked for here, or given with ``--field``.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import click
from rich.table import Table

from maild.app import lifecycle, review
from maild.cli.app import App, pass_app
from maild.cli.jsonout import echo_array
from maild.cli.terminal import add_row, for_terminal
from maild.core.model import DraftStatus
from maild.errors import UsageError
from maild.store.drafts import Draft

_DURATION = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")


def parse_duration(text: str) -> timedelta:
    match = _DURATION.match(text.lower())
    if not match:
        raise UsageError(f"{text!r} is not a duration like 30m, 4h, 2d or 1w")
    number, unit = int(match.group(1)), match.group(2)
    return {"m": timedelta(minutes=number), "h": timedelta(hours=number),
            "d": timedelta(days=number), "w": timedelta(weeks=number)}[unit]


def draft_json(draft: Draft) -> dict[str, Any]:
    s = draft.spec
    return {"id": draft.id, "ask_id": s.ask_id, "status": draft.status, "account": s.account,
            "from": s.from_addr, "to": [a for a, _n in s.to_addrs], "subject": s.subject,
            "body": s.body, "message_id": s.message_id, "in_reply_to": s.in_reply_to,
            "references": list(s.references), "attachments": list(s.attachments),
            "missing_fields": list(s.missing_fields), "template": s.template,
            "send_after": draft.send_after.isoformat() if draft.send_after else None,
            "created_at": draft.created_at.isoformat()}


@click.command("drafts")
@click.option("--all", "show_all", is_flag=True, help="Include sent, rejected and failed drafts.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def drafts_command(app: App, show_all: bool, as_json: bool) -> None:
    """List drafts waiting for your approval."""
    statuses = tuple(DraftStatus) if show_all else (
        DraftStatus.PENDING, DraftStatus.APPROVED, DraftStatus.UNCERTAIN)
    if as_json:
        echo_array(draft_json(d) for d in app.store().read.drafts.each(*statuses))
        return
    found = app.store().read.drafts.with_status(*statuses)
    if not found:
        click.echo("No drafts waiting.")
        return
    table = Table("id", "ask", "status", "to", "subject", "needs")
    for d in found:
        needs = ", ".join(d.spec.missing_fields)
        snoozed = f" (snoozed to {app.local(d.send_after)})" if d.send_after else ""
        # Subjects and field names are text from outside: "[[introduced_by]]" shows as
        # typed, not as Rich markup.
        add_row(table, d.id, d.ask_id, d.status + snoozed,
                ", ".join(a for a, _n in d.spec.to_addrs), d.spec.subject, needs)
    app.console.print(table)


@click.group("draft")
def draft_group() -> None:
    """Look at one draft."""


def render_message(draft: Draft) -> str:
    s = draft.spec
    lines = [f"From: {s.from_name} <{s.from_addr}>",
             "To: " + ", ".join(f"{n} <{a}>" if n else a for a, n in s.to_addrs),
             f"Subject: {s.subject}"]
    if s.in_reply_to:
        lines.append(f"In-Reply-To: {s.in_reply_to}")
    for path in s.attachments:
        lines.append(f"X-Attachment: {path}")
    return "\n".join(lines) + "\n\n" + s.body


@draft_group.command("show")
@click.argument("draft_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def draft_show(app: App, draft_id: int, as_json: bool) -> None:
    """Show a draft as it would be sent."""
    draft = app.store().read.drafts.get(draft_id)
    if as_json:
        click.echo(json.dumps(draft_json(draft), indent=2))
        return
    click.echo(f"Draft {draft.id} ({draft.status}) for ask {draft.ask_id}")
    if draft.spec.missing_fields:
        click.echo("Needs: " + for_terminal(", ".join(draft.spec.missing_fields)))
    click.echo("-" * 60)
    click.echo(for_terminal(render_message(draft), multiline=True))


@click.command("approve")
@click.argument("draft_id", type=int)
@click.option("--edit", is_flag=True, help="Edit the full message in $EDITOR first.")
@click.option("--field", "fields", multiple=True, metavar="NAME=VALUE",
              help="A field the template needs from you (e.g. paper_question=...).")
@pass_app
def approve_command(app: App, draft_id: int, edit: bool, fields: tuple[str, ...]) -> None:
    """Approve a draft: maild sends it in the mentor's next sending window."""
    store = app.store()
    tracker = app.tracker()
    draft = store.read.drafts.get(draft_id)
    given: dict[str, str] = {}
    for item in fields:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--field {item!r}: use NAME=VALUE")
        given[name.strip().removeprefix("user.")] = value.strip()
    for missing in review.user_fields_missing(draft):
        if missing not in given and sys.stdin.isatty():
            given[missing] = click.prompt(missing.replace("_", " ").capitalize())
    changes = None
    if edit:
        spec = review.rendered(store, tracker, draft, given)
        text = click.edit(render_message(replace(draft, spec=spec)), extension=".eml",
                          require_save=True)
        if text is None:
            raise UsageError("not approved: the editor was closed without saving")
        changes = review.parse_edited(text)
    final = review.approve(store, tracker, draft_id, app.now(), given, changes)
    click.echo(f"Approved draft {draft_id}: {for_terminal(final.spec.subject)}")
    click.echo("maild sends it in the mentor's next sending window (`maild run` must be running).")


@click.command("reject")
@click.argument("draft_id", type=int)
@pass_app
def reject_command(app: App, draft_id: int) -> None:
    """Throw a draft away: its step is cancelled, nothing is sent."""
    lifecycle.reject(app.store(), app.tracker(), draft_id, app.now())
    click.echo(f"Rejected draft {draft_id}.")


@click.command("snooze")
@click.argument("draft_id", type=int)
@click.argument("duration")
@pass_app
def snooze_command(app: App, draft_id: int, duration: str) -> None:
    """Put a draft aside for a while (30m, 4h, 2d, 1w); it is not sent before then."""
    now = app.now()
    until: datetime = now + parse_duration(duration)
    lifecycle.snooze(app.store(), draft_id, until, now)
    click.echo(f"Snoozed draft {draft_id} until {app.local(until)}.")


@draft_group.command("resolve")
@click.argument("draft_id", type=int)
@click.option("--sent", "went_out", flag_value=True, default=None,
              help="It did go out (you found it in Sent, or the mentor answered it).")
@click.option("--not-sent", "went_out", flag_value=False,
              help="It did not go out: send it again in the next sending window.")
@pass_app
def draft_resolve(app: App, draft_id: int, went_out: bool | None) -> None:
    """Settle an uncertain send: maild could not tell whether it went out."""
    if went_out is None:
        raise UsageError("say what happened: --sent or --not-sent (check your Sent folder "
                         "first; see docs/sending.md)")
    draft = lifecycle.resolve(app.store(), app.tracker(), draft_id, went_out=went_out,
                              now=app.now())
    if went_out:
        click.echo(f"Draft {draft_id} marked as sent: {for_terminal(draft.spec.subject)}")
    else:
        click.echo(f"Draft {draft_id} approved again; maild sends it in the mentor's next "
                   "sending window (`maild run` must be running).")


@draft_group.command("retry")
@click.argument("draft_id", type=int)
@pass_app
def draft_retry(app: App, draft_id: int) -> None:
    """Send a failed draft again, once you fixed what stopped it (see docs/sending.md)."""
    draft = lifecycle.retry(app.store(), app.tracker(), draft_id, app.now())
    if draft.status == "approved":
        click.echo(f"Draft {draft_id} approved again; maild sends it in the mentor's next "
                   "sending window (`maild run` must be running).")
    else:
        click.echo(f"Draft {draft_id} is {draft.status}: its step was called off meanwhile "
                   "(see `maild ask show`); nothing will be sent.")
