"""``maild status``, ``maild timeline`` and ``maild calendar``: the page's truth in text.

``maild status`` is the page's Today in the terminal: what is overdue or due today
(marked), the drafts waiting, the replies to read (naming the mentor), the letters per
application, what maild does next, and whether the daemon runs. Text that came from
outside (names, subjects, what mentors wrote) goes through ``for_terminal``, so a mail
cannot move the cursor or recolour the terminal.

The commands a user runs most: they import what they need when they run (never the
tracker, the templates or the mail libraries), and read the config before anything
else, so that a missing one is reported at once and nothing is created in the home.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from maild.cli.app import App, pass_app
from maild.cli.terminal import for_terminal
from maild.errors import UsageError

if TYPE_CHECKING:
    from maild.app.today import Health, Item, Today, Urgency

NEXT_SHOWN = 10
# Urgency's values: the module that defines it is imported only when a command runs.
_MARK = {"overdue": ("OVERDUE", "red"), "today": ("TODAY", "yellow"),
         "soon": ("soon", None), "later": ("", None)}


def _mark(level: Urgency) -> str:
    word, colour = _MARK[str(level)]
    return click.style(f"{word:<8}", fg=colour, bold=colour is not None)


def _today(app: App, limit: int | None) -> Today:
    config = app.config()
    rules = app.rules()
    from maild.app.today import build_today, health
    from maild.runtime.lock import running_pid

    store = app.store()
    return build_today(store, app.now(), rules, config.identity.timezone,
                       health(store, running_pid(app.home)), next_limit=limit)


def _item_line(app: App, item: Item) -> str:
    when = app.local(item.when) if item.when else " " * 20
    return f"  {_mark(item.urgency)} {when}  {for_terminal(item.text)}"


def _daemon_line(h: Health) -> str:
    if h.daemon_running:
        return f"the daemon is running (pid {h.daemon_pid})"
    return click.style("the daemon is NOT running: nothing is watched or sent "
                       "(`maild run` or `maild service install`)", fg="red")


def _countdown(deadline: object, left: int | None) -> str:
    if left is None:
        return "no deadline"
    return f"deadline {deadline} ({f'in {left} days' if left >= 0 else f'{-left} days ago'})"


def today_json(today: Today) -> dict[str, Any]:
    """What ``status --json`` adds to the dashboard's keys (which keep their shape)."""
    def item(i: Item) -> dict[str, Any]:
        return {"urgency": str(i.urgency), "when": i.when.isoformat() if i.when else None,
                "mentor": i.mentor, "ask_id": i.ask_id, "text": i.text, "kind": i.kind,
                "draft_id": i.draft_id}
    h = today.health
    return {
        "today": today.today.isoformat(),
        "daemon": {"running": h.daemon_running, "pid": h.daemon_pid},
        "folders": [{"account": f.account, "folder": f.folder,
                     "synced_at": f.synced_at.isoformat() if f.synced_at else None}
                    for f in h.folders],
        "attention": [item(i) for i in today.attention],
        "overdue": len(today.overdue),
        "drafts": [{"id": w.id, "status": w.status, "ask_id": w.ask_id, "mentor": w.mentor,
                    "playbook": w.playbook, "step": w.step, "subject": w.subject,
                    "needs": [f.name for f in w.needs], "problems": list(w.problems),
                    "urgency": str(w.urgency),
                    "snoozed_until": w.snoozed_until.isoformat() if w.snoozed_until else None}
                   for w in today.drafts],
        "review": [{"ask_id": r.ask_id, "mentor": r.mentor, "playbook": r.playbook,
                    "state": r.state, "why": r.why,
                    "message": None if r.message is None else {
                        "subject": r.message.subject, "text": r.message.reply_text,
                        "kind": r.message.kind, "intent": r.message.intent,
                        "evidence": list(r.message.evidence),
                        "date": r.message.date.isoformat() if r.message.date else None}}
                   for r in today.review],
        "letters": [{"application_id": a.id, "name": a.name,
                     "deadline": a.deadline.isoformat() if a.deadline else None,
                     "days_left": a.days_left, "required": a.letters_required,
                     "submitted": a.submitted, "committed": a.committed,
                     "hesitant": a.hesitant, "missing": a.missing, "at_risk": a.at_risk,
                     "writers": [{"ask_id": w.ask_id, "mentor": w.mentor,
                                  "standing": w.standing} for w in a.writers]}
                    for a in today.applications],
    }


@click.command("status")
@click.option("--all", "show_all", is_flag=True, help="List every step ahead, not the next 10.")
@click.option("--json", "as_json", is_flag=True,
              help="Print JSON (the dashboard's keys, plus what the page's Today shows).")
@pass_app
def status_command(app: App, show_all: bool, as_json: bool) -> None:
    """Today: what is overdue or due, drafts waiting, replies to read, letters, what's next.

    The same view as the first page of `maild ui`. Overdue items are marked; the list
    of what maild does next stops at 10 unless --all.
    """
    today = _today(app, None if show_all else NEXT_SHOWN)
    if as_json:
        click.echo(json.dumps({**today.report, **today_json(today)}, indent=2, default=str))
        return
    tz = app.config().identity.timezone
    click.echo(click.style(f"Today, {today.today:%a %Y-%m-%d}", bold=True)
               + f" ({tz}): {_daemon_line(today.health)}")
    if today.health.folders:
        click.echo("Folders last read: " + "; ".join(
            f"{for_terminal(f.account)}/{for_terminal(f.folder)} "
            f"{app.local(f.synced_at) if f.synced_at else 'never'}"
            for f in today.health.folders))
    click.echo()
    click.echo(click.style("Needs you", bold=True)
               + (f" ({len(today.overdue)} overdue)" if today.overdue else ""))
    if not today.attention:
        click.echo("  nothing right now")
    for item in today.attention:
        click.echo(_item_line(app, item))
    click.echo()
    click.echo(click.style(f"Drafts waiting for you ({len(today.drafts)})", bold=True))
    for w in today.drafts:
        needs = f"  needs: {', '.join(f.name for f in w.needs)}" if w.needs else ""
        snoozed = f"  snoozed to {app.local(w.snoozed_until)}" if w.snoozed_until else ""
        state = "" if w.status == "pending" else f" [{w.status}]"
        click.echo(f"  {_mark(w.urgency)} #{w.id}{state} {for_terminal(w.mentor)}: {w.playbook} "
                   f"{w.step or 'mail'}: {for_terminal(w.subject)}{needs}{snoozed}")
    if today.drafts:
        click.echo("  (`maild draft show ID`, `maild approve ID`, or the page: `maild ui`)")
    if today.review:
        click.echo()
        click.echo(click.style(f"Replies to read ({len(today.review)})", bold=True))
        for r in today.review:
            click.echo(f"  {for_terminal(r.mentor)} ({r.playbook} ask {r.ask_id}, "
                       f"{r.state.replace('_', ' ')}): {r.why}")
            if r.message is not None:
                words = textwrap.shorten(for_terminal(r.message.reply_text.replace("\n", " ")), 300)
                reading = ", ".join(x for x in (r.message.kind, r.message.intent) if x)
                click.echo(f"      “{words}”")
                if reading:
                    because = f", because: “{for_terminal('; '.join(r.message.evidence))}”" \
                        if r.message.evidence else ""
                    click.echo(f"      read as {reading}{because}")
    if today.applications:
        click.echo()
        click.echo(click.style("Letters", bold=True))
        for a in today.applications:
            when = _countdown(a.deadline, a.days_left)
            flag = click.style(" at risk", fg="red") if a.at_risk else ""
            click.echo(f"  {for_terminal(a.name)}: {when}: {a.submitted} of "
                       f"{a.letters_required} in, {a.committed} committed, {a.hesitant} "
                       f"hesitant, {a.missing} missing{flag}")
            if a.writers:
                click.echo("      " + "; ".join(f"{for_terminal(w.mentor)}: {w.standing}"
                                               for w in a.writers))
    shown = today.upcoming if show_all else today.upcoming[:NEXT_SHOWN]
    click.echo()
    more = len(today.upcoming) - len(shown)
    click.echo(click.style("What maild does next", bold=True)
               + (f" ({len(shown)} of {len(today.upcoming)}; --all for every one)" if more
                  else ""))
    if not shown:
        click.echo("  nothing planned")
    for item in shown:
        click.echo(_item_line(app, item))
    risks = [r for r in today.report["risks"]
             if r["kind"] in ("ghosting", "short_runway", "hesitant")]
    for risk in risks:
        click.echo(click.style("! ", fg="yellow") + for_terminal(risk["text"]))


@click.command("timeline")
@click.argument("mentor")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def timeline_command(app: App, mentor: str, as_json: bool) -> None:
    """One mentor's story: messages both ways with their words, and what comes next."""
    from maild.app.timeline import build_timeline

    rules = app.rules()
    store = app.store()
    record = store.read.mentors.find(mentor)
    line = build_timeline(store, record.id, rules)
    if as_json:
        items = [e.to_json() for e in (*line.entries, *line.planned)]
        click.echo(json.dumps(items, indent=2, default=str))
        return
    click.echo(click.style(f"Timeline of {for_terminal(record.name)}", bold=True)
               + f" ({', '.join(record.addresses)})")
    for a in line.asks:
        click.echo(f"  ask {a.id}: {a.playbook}"
                   + (f" for {for_terminal(a.application)}" if a.application else "")
                   + f", {a.state.replace('_', ' ')}"
                   + (" (needs your review)" if a.needs_review else ""))
    click.echo()
    for e in line.entries:
        ask = f"ask {e.ask_id}: " if e.ask_id else ""
        click.echo(f"  {app.local(e.at)}  {ask}{for_terminal(e.summary)}")
        if e.text:
            for text_line in textwrap.wrap(for_terminal(e.text.replace("\n", " ")), 90)[:12]:
                click.echo(f"      │ {text_line}")
        if e.type == "message_in" and e.evidence:
            click.echo(f"      read as {e.intent or e.type}, because: "
                       f"“{for_terminal('; '.join(e.evidence))}”")
        if e.type in ("message_in", "message_out") and e.reason:
            click.echo(f"      matched: {for_terminal(e.reason)}")
    if line.planned:
        click.echo()
        click.echo(click.style("Planned", bold=True))
        for e in line.planned:
            click.echo(f"  {app.local(e.at)}  ask {e.ask_id}: {for_terminal(e.summary)}"
                       + (f" — {e.reason}" if e.reason else ""))


@click.group("calendar")
def calendar_group() -> None:
    """Deadlines, reminder dates, calls to make and meetings, for your calendar app."""


@calendar_group.command("export")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@pass_app
def calendar_export(app: App, file: Path | None) -> None:
    """Write an iCalendar (.ics) file to FILE, or to standard output without one.

    Each event links back to its ask on the page (`maild ui`; with `[ui] port = 0`
    only while the page is served) and names the command that shows it. Importing it
    again updates the events instead of doubling them.
    """
    from maild.app.calendar import build_calendar
    from maild.web.access import find_served

    config = app.config()
    served = find_served(app.home)
    base = served.url if served else (f"http://127.0.0.1:{config.ui.port}/"
                                      if config.ui.port else None)
    data = build_calendar(app.store(), app.now(), config.identity.timezone, base)
    if file is None:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    try:
        file.write_bytes(data)
    except OSError as exc:
        raise UsageError(f"{file}: cannot be written ({exc.strerror})") from None
    count = data.count(b"BEGIN:VEVENT")
    click.echo(f"Wrote {count} event(s) to {file}", err=True)


__all__ = ["calendar_group", "status_command", "timeline_command"]
