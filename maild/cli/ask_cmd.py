"""``maild ask``: starting asks and looking at them (``maild status`` and ``maild timeline``
live in ``status_cmd``)."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import click
from rich.table import Table

from maild.app import review
from maild.app.drafting import TemplateDrafts
from maild.cli.app import App, pass_app
from maild.cli.jsonout import echo_array
from maild.cli.mentor_cmd import check_range, parse_date
from maild.cli.terminal import add_row, for_terminal
from maild.clock import parse_instant
from maild.core import events as ev
from maild.core.events import Mark
from maild.core.model import Ask
from maild.errors import UsageError
from maild.store import messages as messages_repo


def ask_json(app: App, ask: Ask, names: dict[int, str] | None = None) -> dict[str, Any]:
    """An ask as JSON; ``names`` (mentor id -> name) spares a lookup per ask in lists."""
    name = names.get(ask.mentor_id) if names is not None else None
    if name is None:
        name = app.store().read.mentors.get(ask.mentor_id).name
    return {
        "id": ask.id, "mentor": {"id": ask.mentor_id, "name": name},
        "playbook": ask.playbook, "state": str(ask.state), "account": ask.account,
        "application_id": ask.application_id,
        "deadline": ask.deadline.isoformat() if ask.deadline else None,
        "created_at": ask.created_at.isoformat(),
        "closed_at": ask.closed_at.isoformat() if ask.closed_at else None,
        "needs_review": ask.needs_review,
        "steps": [{"id": s.id, "name": s.name, "kind": str(s.kind), "template": s.template,
                   "due": s.due_at.isoformat(), "status": str(s.status),
                   "in_thread": s.in_thread} for s in ask.steps],
    }


def _print_created(app: App, ask: Ask) -> None:
    mentor = app.store().read.mentors.get(ask.mentor_id)
    click.echo(f"Created {ask.playbook} ask {ask.id} to {mentor.name}.")
    for step in ask.steps:
        click.echo(f"  {app.local(step.due_at)}  {step.name:<15} "
                   f"{step.status}")


def parse_fields(items: tuple[str, ...], option: str = "--field") -> dict[str, str]:
    """``NAME=VALUE`` options as a dict (``user.`` prefix allowed); repeated names: the
    last one wins, every other name accumulates."""
    given: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip().removeprefix("user.")
        if not sep or not name:
            raise UsageError(f"{option} {item!r}: use NAME=VALUE")
        if not value.strip():
            raise UsageError(f"{option} {name}: the value is empty")
        given[name] = value.strip()
    return given


def _check_fields(app: App, playbook: str, given: dict[str, str]) -> None:
    """Refuse a field no draft of the playbook uses: a typo would be dropped silently."""
    if not given:
        return
    tracker = app.tracker()
    drafts = tracker.drafts
    if not isinstance(drafts, TemplateDrafts):
        return
    templates = {r.template for name in (playbook, "hesitant", "decline")
                 for r in tracker.rules.playbook(name).steps if r.template}
    known: set[str] = set()
    for template in sorted(templates):
        known.update(drafts.templates.user_fields(template))
    for name in given:
        if name not in known:
            choices = ", ".join(sorted(known)) or "none"
            raise UsageError(f"--field {name}: no draft of a {playbook} ask uses it (its "
                             f"fields: {choices})")


def _start(app: App, playbook: str, mentor: str, account: str | None, again: bool,
           force: bool = False, application: str | None = None, deadline: str | None = None,
           meeting_at: str | None = None, note: str | None = None,
           fields: dict[str, str] | None = None) -> None:
    store = app.store()
    record = store.read.mentors.find(mentor)
    _check_fields(app, playbook, fields or {})
    app_id = None
    when: date | None = parse_date(deadline, "--deadline") if deadline else None
    if application:
        found = store.read.mentors.find_application(application)
        app_id = found.id
        when = when or found.deadline
    now = app.now()
    if playbook == "letter" and when is not None:
        _check_deadline(app, when, now)
    meeting = parse_instant(meeting_at, "--at") if meeting_at else None
    if meeting is not None:
        check_range(meeting, "--at")
    tracker = app.tracker()
    created = tracker.create_ask(record.id, playbook, now, account=account,
                                 application_id=app_id, deadline=when, meeting_at=meeting,
                                 force=force, again=again, note=note, fields=fields)
    # Steps due right away (the first email) get their draft now, not at the next wake-up.
    tracker.run_due(now)
    _print_created(app, store.read.asks.get(created.ask.id or 0))


def _check_deadline(app: App, deadline: date, now: datetime) -> None:
    """Refuse a letter deadline maild cannot plan for: out of range, or already past
    (a day in the user's time zone: the deadline day itself is not past yet)."""
    check_range(deadline, "the deadline")
    today = now.astimezone(ZoneInfo(app.config().identity.timezone)).date()
    if deadline < today:
        raise UsageError(f"the deadline {deadline} has passed (today is {today}); a letter "
                         "cannot be asked for it (a new deadline: --deadline YYYY-MM-DD)")


_ACCOUNT = click.option("--account", help="Which configured account to send from "
                        "(default: the first).")
_AGAIN = click.option("--again", is_flag=True,
                      help="Ask even if this person was contacted in the last 6 months.")
_FIELD = click.option("--field", "fields", multiple=True, metavar="NAME=VALUE",
                      help="Your words for its drafts, e.g. paper_question=\"...\" (a user.* "
                      "field of the templates; `maild template show NAME` lists them). "
                      "Repeat for several; what you do not give is asked at approval.")


@click.group("ask")
def ask_group() -> None:
    """Start asks (cold, warm, letter, meeting, update, thanks) and look at them."""


@ask_group.command("cold")
@click.argument("mentor")
@_FIELD
@_ACCOUNT
@_AGAIN
@pass_app
def ask_cold(app: App, mentor: str, fields: tuple[str, ...], account: str | None,
             again: bool) -> None:
    """Cold outreach: first email now; a nudge 5 days after it went out, a final nudge
    7 days after the nudge, and the ask ends as "no response" 8 days after that.

    Each follow-up counts from when the mail before it really went out, so a draft you
    approve late moves the rest of the ladder with it.
    """
    _start(app, "cold", mentor, account, again, fields=parse_fields(fields))


@ask_group.command("warm")
@click.argument("mentor")
@click.option("--introduced-by", help="Who introduced you, as you would name them "
              "(e.g. \"Dr. Priya Patel\").")
@_FIELD
@_ACCOUNT
@_AGAIN
@pass_app
def ask_warm(app: App, mentor: str, introduced_by: str | None, fields: tuple[str, ...],
             account: str | None, again: bool) -> None:
    """After a colleague's introduction: first email now, one nudge 7 days after it."""
    given = parse_fields(fields)
    if introduced_by:
        given["introduced_by"] = introduced_by.strip()
    _start(app, "warm", mentor, account, again, fields=given)


@ask_group.command("letter")
@click.argument("mentor")
@click.option("--application", help="The application the letter is for (see "
              "`maild application list`).")
@click.option("--deadline", help="Letter deadline, YYYY-MM-DD (default: the application's).")
@click.option("--force", is_flag=True, help="Ask even with under 2 weeks to the deadline.")
@_FIELD
@_ACCOUNT
@_AGAIN
@pass_app
def ask_letter(app: App, mentor: str, application: str | None, deadline: str | None,
               force: bool, fields: tuple[str, ...], account: str | None, again: bool) -> None:
    """Ask for a strong letter of recommendation.

    Reminders go out 14 and 5 days before the deadline while the letter is not in;
    2 days before, you are asked to call their office. Warns under 6 weeks of runway
    and refuses under 2 weeks unless --force.
    """
    if not application and not deadline:
        raise UsageError("a letter ask needs --application or --deadline")
    _start(app, "letter", mentor, account, again, force=force, application=application,
           deadline=deadline, fields=parse_fields(fields))


@ask_group.command("meeting")
@click.argument("mentor")
@click.option("--at", "meeting_at", required=True,
              help="When the meeting is, ISO 8601 with offset (2026-12-01T15:00-05:00).")
@_FIELD
@_ACCOUNT
@pass_app
def ask_meeting(app: App, mentor: str, meeting_at: str, fields: tuple[str, ...],
                account: str | None) -> None:
    """After a meeting: a summary draft within 24 hours, one follow-up a week after the
    summary went out."""
    _start(app, "meeting", mentor, account, True, meeting_at=meeting_at,
           fields=parse_fields(fields))


@ask_group.command("update")
@click.argument("mentor")
@_FIELD
@_ACCOUNT
@pass_app
def ask_update(app: App, mentor: str, fields: tuple[str, ...], account: str | None) -> None:
    """Keep a mentor informed: a short "no action needed" update every few weeks."""
    _start(app, "update", mentor, account, True, fields=parse_fields(fields))


@ask_group.command("thanks")
@click.argument("mentor")
@click.option("--application", help="The application whose result you share.")
@click.option("--note", help="The result, as you would tell them: it goes into the email "
              "(e.g. \"I matched at Lakeside University's internal medicine program\").")
@_FIELD
@_ACCOUNT
@pass_app
def ask_thanks(app: App, mentor: str, application: str | None, note: str | None,
               fields: tuple[str, ...], account: str | None) -> None:
    """Close the loop: thank a letter writer and share the result."""
    given = parse_fields(fields)
    if note and note.strip():
        given["outcome"] = note.strip()
    _start(app, "thanks", mentor, account, True, application=application, note=note,
           fields=given)


@ask_group.command("show")
@click.argument("ask_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (steps with ISO 8601 times).")
@pass_app
def ask_show(app: App, ask_id: int, as_json: bool) -> None:
    """Show one ask and its steps."""
    ask = app.store().read.asks.get(ask_id)
    data = ask_json(app, ask)
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"Ask {ask.id}: {ask.playbook} to {for_terminal(data['mentor']['name'])} — "
               f"{ask.state}"
               + (f", deadline {ask.deadline}" if ask.deadline else ""))
    table = Table("step", "kind", "due", "status")
    for s in ask.steps:
        status = str(s.status) + (f" ({s.reason})" if s.reason and not s.is_final else "")
        add_row(table, s.name, s.kind, app.local(s.due_at), status)
    app.console.print(table)


@ask_group.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include closed asks.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def ask_list(app: App, show_all: bool, as_json: bool) -> None:
    """List open asks (with --all, every ask)."""
    store = app.store()
    names = store.read.mentors.names()
    found = store.read.asks.each(open_only=not show_all)
    if as_json:
        echo_array(ask_json(app, a, names) for a in found)
        return
    table = Table("id", "mentor", "playbook", "state", "next step")
    for ask in found:
        upcoming = [s for s in ask.steps if not s.is_final]
        nxt = f"{upcoming[0].name} {app.local(upcoming[0].due_at)}" if upcoming else ""
        add_row(table, ask.id, names.get(ask.mentor_id, "?"), ask.playbook, ask.state, nxt)
    app.console.print(table)


@ask_group.command("mark")
@click.argument("ask_id", type=int)
@click.argument("mark", type=click.Choice([m.value for m in Mark]))
@pass_app
def ask_mark(app: App, ask_id: int, mark: str) -> None:
    """Mark an ask by hand: agreed, submitted, declined, cancel, pause or resume."""
    decision = app.tracker().handle(ask_id, ev.UserMarked(Mark(mark)), app.now(), by="user")
    click.echo(f"Ask {ask_id} is now {decision.ask.state}.")


@ask_group.command("reviewed")
@click.argument("ask_id", type=int)
@pass_app
def ask_reviewed(app: App, ask_id: int) -> None:
    """Clear the "needs review" flag once you checked the ask's latest message.

    maild sets the flag when it matched a message by sender only (several open asks to
    the same mentor) or could not understand it; `maild timeline MENTOR` shows why. If
    maild read the reply wrongly, say what it meant with `maild ask mark`.
    """
    review.mark_reviewed(app.store(), ask_id, app.now())
    click.echo(f"Ask {ask_id}: review done.")


@ask_group.command("thread")
@click.argument("ask_id", type=int)
@click.argument("message_id")
@pass_app
def ask_thread(app: App, ask_id: int, message_id: str) -> None:
    """Make maild's follow-ups reply in the thread of MESSAGE_ID from now on.

    An email you write to the mentor yourself, outside the ask's thread, counts as
    contact (the follow-ups wait for it) but maild keeps replying in the ask's own
    thread. If you want the follow-ups in your new thread instead, name your message's
    Message-ID (`maild timeline MENTOR --json` shows it).
    """
    mid = message_id.strip()
    if not mid.startswith("<"):
        mid = f"<{mid.strip('<>')}>"
    store = app.store()
    store.read.asks.get(ask_id)  # a clear error for an unknown ask
    if not messages_repo.of_ask(store, ask_id, mid):
        raise UsageError(f"{mid} is not a message of ask {ask_id}; see `maild timeline`")
    app.tracker().handle(ask_id, ev.ThreadChosen(mid), app.now(), by="user")
    click.echo(f"Ask {ask_id}: follow-ups reply in the thread of {mid} from now on.")


@ask_group.command("deadline")
@click.argument("ask_id", type=int)
@click.argument("deadline")
@pass_app
def ask_deadline(app: App, ask_id: int, deadline: str) -> None:
    """Move a letter ask's deadline (reminders are re-planned)."""
    when = parse_date(deadline, "DEADLINE")
    decision = app.tracker().handle(ask_id, ev.DeadlineChanged(when), app.now())
    click.echo(f"Ask {ask_id}: deadline {when}; {sum(not s.is_final for s in decision.ask.steps)}"
               " steps planned.")
