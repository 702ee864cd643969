"""The dates that matter, as an iCalendar file: ``maild calendar export`` and /calendar.ics.

Deadlines of applications and letter asks, the letter reminders (−14 and −5 days),
the days to call a mentor's office (−2), and meetings. Each event links back to its ask
on the local page and names the command that shows it, and keeps a stable UID so a
calendar that re-imports the file updates its events instead of doubling them.
Text from outside (mentor names, application names) goes through the icalendar
library, which escapes it: a name with a comma or a line break cannot add a field.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event

from maild.app.today import step_words
from maild.store import Store, views

PRODID = "-//maild//maild calendar//EN"
# Steps worth a calendar entry: the letter reminders and the call to the office.
CALENDAR_STEPS = ("reminder", "final_reminder", "call_office")
MEETING_LENGTH = timedelta(hours=1)


def _event(uid: str, summary: str, start: date | datetime, now: datetime,
           description: str, url: str | None, end: date | datetime | None = None) -> Event:
    event = Event()
    event.add("uid", f"{uid}@maild.localhost")
    event.add("dtstamp", now)
    event.add("summary", summary)
    event.add("dtstart", start)
    if end is not None:
        event.add("dtend", end)
    elif not isinstance(start, datetime):
        event.add("dtend", start + timedelta(days=1))
    event.add("description", description)
    if url is not None:
        event.add("url", url)
    return event


def build_calendar(store: Store, now: datetime, timezone: str, base_url: str | None) -> bytes:
    """The iCalendar text; ``base_url`` (the local page) makes each event link to its ask."""
    tz = ZoneInfo(timezone)
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("x-wr-calname", "maild")

    def link(ask_id: int | None) -> str | None:
        if base_url is None or ask_id is None:
            return None
        return f"{base_url.rstrip('/')}/asks/{ask_id}"

    applications = store.read.mentors.applications()
    app_deadlines = {a.id: a.deadline for a in applications}
    for app in applications:
        if app.deadline is None:
            continue
        cal.add_component(_event(
            f"application-{app.id}-deadline", f"Letters due: {app.name}", app.deadline, now,
            f"{app.letters_required} letter(s) required"
            + (f" via {app.system}" if app.system else "") + ". `maild status` shows who "
            "committed.", None))
    for ask in views.letter_asks_with_deadline(store):
        deadline = ask.data.get("deadline")
        if not deadline or app_deadlines.get(ask.application_id or 0) == date.fromisoformat(
                deadline):
            continue  # the application's own deadline says it already
        cal.add_component(_event(
            f"ask-{ask.id}-deadline", f"Letter deadline: {ask.mentor}",
            date.fromisoformat(deadline), now,
            f"Letter ask {ask.id} to {ask.mentor}"
            + (f" for {ask.application}" if ask.application else "")
            + f" ({ask.state.replace('_', ' ')}). `maild ask show {ask.id}`", link(ask.id)))
    for s in views.steps_for_calendar(store, CALENDAR_STEPS):
        local = s.due_at.astimezone(tz)
        if s.kind == "task":
            summary = f"Call {s.mentor}'s office about the letter"
            what = s.note or "a task for you"
        else:
            summary = f"{step_words(s.name).capitalize()} to {s.mentor}"
            what = f"maild drafts this email for your approval ({s.status})"
        cal.add_component(_event(
            f"ask-{s.ask_id}-step-{s.step_id}", summary, local.date(), now,
            f"{what}. Ask {s.ask_id} ({s.playbook}"
            + (f", {s.application}" if s.application else "")
            + f"). `maild ask show {s.ask_id}`", link(s.ask_id)))
    for ask in views.asks_with_meetings(store):
        at = datetime.fromisoformat(str(ask.data["meeting_at"]))
        cal.add_component(_event(
            f"ask-{ask.id}-meeting", f"Meeting with {ask.mentor}", at.astimezone(tz), now,
            f"{ask.playbook} ask {ask.id}. `maild timeline {ask.mentor_id}`", link(ask.id),
            end=at.astimezone(tz) + MEETING_LENGTH))
    return bytes(cal.to_ical())
