"""Today, at a glance: what needs the user now, in the order it needs them.

One ``Today`` value feeds the web page's first screen and ``maild status``, so the page
and the terminal never disagree. It answers, in this order:

* what is overdue or due today (drafts to approve whose mail should be out, sends to
  check, calls to make, letters at risk), marked by urgency in the user's time zone;
* the drafts waiting for approval, with the fields only the user can fill in;
* replies that need reading, with the mentor's words and maild's reading of them;
* letters per application: who committed, who hesitates, what is missing, how many
  days are left;
* what maild itself will do next (planned steps), each marked overdue when its time
  passed without the daemon handling it (it is not running);
* whether the daemon runs and when each folder was last read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from maild.adapters.templates import describe_user_field
from maild.app.status import build_status
from maild.core.model import AskState, DraftStatus
from maild.core.rules import Rules
from maild.store import Store, views

# A failed send is worth showing for a week, not forever (as the notifier does).
FAILED_RECENT = timedelta(days=7)
TASKS_RECENT = timedelta(days=14)
SOON_DAYS = 7
# The mentor waits for the user in these states: an answer to write, a time to agree.
WAITS_ON_USER = (AskState.QUESTION.value, AskState.MEETING.value, AskState.HESITANT.value)
# The −14 / −5 / −2 day marks of a letter, by step name.
LETTER_MARKS = (("reminder", 14), ("final_reminder", 5), ("call_office", 2))


class Urgency(StrEnum):
    OVERDUE = "overdue"
    TODAY = "today"
    SOON = "soon"
    LATER = "later"


_ORDER = {Urgency.OVERDUE: 0, Urgency.TODAY: 1, Urgency.SOON: 2, Urgency.LATER: 3}


@dataclass(frozen=True)
class Item:
    """One line of Today: something for the user, or something maild will do."""

    urgency: Urgency
    when: datetime | None
    mentor: str
    mentor_id: int | None
    ask_id: int | None
    text: str
    kind: str  # draft, send, task, letter, review, step
    draft_id: int | None = None


@dataclass(frozen=True)
class Field:
    """A value only the user can write, with what to write."""

    name: str
    help: str


@dataclass(frozen=True)
class WaitingDraft:
    id: int
    status: str
    ask_id: int
    mentor: str
    mentor_id: int
    playbook: str
    step: str | None
    subject: str
    to: tuple[tuple[str, str], ...]
    needs: tuple[Field, ...]
    problems: tuple[str, ...]
    due: datetime | None
    send_by: datetime | None
    snoozed_until: datetime | None
    urgency: Urgency

    @property
    def complete(self) -> bool:
        return not self.needs and not self.problems


@dataclass(frozen=True)
class Review:
    """An ask whose latest reply the user should read (and maybe answer)."""

    ask_id: int
    mentor: str
    mentor_id: int
    playbook: str
    state: str
    why: str
    message: views.MessageRow | None
    # Flagged for review: the user clears it (`maild ask reviewed`, the page's button).
    needs_review: bool = False


@dataclass(frozen=True)
class Mark:
    """One of a letter's −14 / −5 / −2 day marks."""

    days_before: int
    step: str
    due: date
    status: str  # planned, drafted, sent, done, cancelled, ... or "none"


@dataclass(frozen=True)
class Writer:
    ask_id: int
    mentor: str
    mentor_id: int
    state: str
    standing: str  # submitted, committed, hesitant, waiting, declined, ...
    deadline: date | None
    marks: tuple[Mark, ...]


@dataclass(frozen=True)
class ApplicationView:
    id: int
    name: str
    system: str
    deadline: date | None
    days_left: int | None
    letters_required: int
    writers: tuple[Writer, ...]
    committed: int
    submitted: int
    hesitant: int
    missing: int
    at_risk: bool


@dataclass(frozen=True)
class FolderHealth:
    account: str
    folder: str
    synced_at: datetime | None
    connected: bool | None = None  # None: nobody is watching (the daemon is not running)
    error: str | None = None


@dataclass(frozen=True)
class Health:
    daemon_pid: int | None
    served_by: str | None = None
    folders: tuple[FolderHealth, ...] = ()

    @property
    def daemon_running(self) -> bool:
        return self.daemon_pid is not None


@dataclass(frozen=True)
class Today:
    now: datetime
    today: date
    timezone: str
    attention: tuple[Item, ...]
    drafts: tuple[WaitingDraft, ...]
    review: tuple[Review, ...]
    applications: tuple[ApplicationView, ...]
    upcoming: tuple[Item, ...]
    health: Health
    report: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def overdue(self) -> tuple[Item, ...]:
        return tuple(i for i in self.attention if i.urgency is Urgency.OVERDUE)


LiveFolders = Callable[[], Sequence[FolderHealth]]


def urgency(when: datetime | date | None, today: date, tz: ZoneInfo) -> Urgency:
    """How soon ``when`` is, counted in days in the user's time zone."""
    if when is None:
        return Urgency.TODAY
    day = when.astimezone(tz).date() if isinstance(when, datetime) else when
    if day < today:
        return Urgency.OVERDUE
    if day == today:
        return Urgency.TODAY
    if (day - today).days <= SOON_DAYS:
        return Urgency.SOON
    return Urgency.LATER


def _sorted(items: list[Item]) -> tuple[Item, ...]:
    far = datetime.max.replace(tzinfo=ZoneInfo("UTC"))
    return tuple(sorted(items, key=lambda i: (_ORDER[i.urgency], i.when or far)))


def waiting_drafts(store: Store, now: datetime, tz: ZoneInfo) -> list[WaitingDraft]:
    """Drafts that need the user: to approve, or a send to check (recent failures)."""
    today = now.astimezone(tz).date()
    recent = views.failed_since(store, now - FAILED_RECENT)
    out = []
    for row in views.drafts_with_status(store, (DraftStatus.PENDING, DraftStatus.UNCERTAIN,
                                                DraftStatus.FAILED)):
        d = row.draft
        if d.status == "failed" and d.id not in recent:
            continue
        needs = tuple(Field(m[5:], describe_user_field(m[5:]))
                      for m in d.spec.missing_fields if m.startswith("user."))
        problems = tuple(m for m in d.spec.missing_fields if not m.startswith("user."))
        snoozed = d.send_after if d.send_after is not None and d.send_after > now else None
        due = row.step_due or d.created_at
        if d.status != "pending" or (row.send_by is not None and row.send_by < now):
            level = Urgency.OVERDUE
        elif snoozed is not None:
            level = urgency(snoozed, today, tz)
        else:
            level = urgency(due, today, tz)
        out.append(WaitingDraft(
            id=d.id, status=d.status, ask_id=d.ask_id, mentor=row.mentor,
            mentor_id=row.mentor_id, playbook=row.playbook, step=row.step,
            subject=d.spec.subject, to=d.spec.to_addrs, needs=needs, problems=problems,
            due=due, send_by=row.send_by, snoozed_until=snoozed, urgency=level))
    return out


def _draft_item(w: WaitingDraft) -> Item:
    if w.status == "uncertain":
        text = f"check whether the {w.step or 'mail'} to {w.mentor} went out (draft {w.id})"
        kind = "send"
    elif w.status == "failed":
        text = f"the {w.step or 'mail'} to {w.mentor} was not sent: fix it and retry " \
               f"(draft {w.id})"
        kind = "send"
    else:
        what = "complete and approve" if w.needs else "approve"
        text = f"{what} the {w.playbook} {step_words(w.step or 'mail')} to {w.mentor}: " \
               f"{w.subject}"
        if w.problems:
            text = f"the {step_words(w.step or 'mail')} to {w.mentor} cannot be made yet: " \
                   f"{w.problems[0]}"
        kind = "draft"
    return Item(urgency=w.urgency, when=w.snoozed_until or w.due, mentor=w.mentor,
                mentor_id=w.mentor_id, ask_id=w.ask_id, text=text, kind=kind, draft_id=w.id)


def reviews(store: Store) -> list[Review]:
    """Asks flagged for review, and asks whose mentor waits on the user."""
    asks = views.asks_to_review(store, WAITS_ON_USER)
    latest = views.latest_inbound(store, [a.id for a in asks])
    out = []
    for a in asks:
        if a.needs_review:
            why = "maild is not sure it read this right (matched by sender only, or unclear)"
        elif a.state == AskState.QUESTION:
            why = "the mentor asked a question: answer it yourself"
        elif a.state == AskState.MEETING:
            why = "the mentor proposes a meeting: agree on a time"
        else:
            why = "the mentor said yes with conditions: clarify the timeline"
        out.append(Review(ask_id=a.id, mentor=a.mentor, mentor_id=a.mentor_id,
                          playbook=a.playbook, state=a.state, why=why,
                          message=latest.get(a.id), needs_review=bool(a.needs_review)))
    return out


_STANDING = {
    AskState.SUBMITTED.value: "submitted", AskState.AGREED.value: "committed",
    AskState.HESITANT.value: "hesitant", AskState.DECLINED.value: "declined",
    AskState.NO_RESPONSE.value: "no response", AskState.CANCELLED.value: "cancelled",
    AskState.MISSED_DEADLINE.value: "missed the deadline",
}


def applications(store: Store, now: datetime, rules: Rules, tz: ZoneInfo
                 ) -> list[ApplicationView]:
    today = now.astimezone(tz).date()
    warn_days = rules.playbook("letter").param("warn_weeks") * 7
    by_app: dict[int, list[Writer]] = {}
    names = views.mentor_names(store)
    steps = views.letter_step_marks(store, [name for name, _days in LETTER_MARKS])
    # The asks' own fields are enough (their steps are read apart, only the marks).
    for ask in views.letter_asks(store):
        assert ask.id is not None and ask.application_id is not None
        if ask.submitted_at is not None:
            standing = "submitted"
        elif ask.agreed_at is not None and ask.state is not AskState.HESITANT:
            standing = "committed" if ask.state is AskState.CLOSED else \
                _STANDING.get(ask.state.value, "committed")
        else:
            standing = _STANDING.get(ask.state.value, "waiting for an answer")
        marks = []
        for name, days in LETTER_MARKS:
            if ask.deadline is None:
                continue
            found = steps.get(ask.id, {}).get(name)
            due = found[0].astimezone(tz).date() if found is not None \
                else ask.deadline - timedelta(days=days)
            marks.append(Mark(days_before=days, step=name, due=due,
                              status=found[1] if found is not None else "none"))
        by_app.setdefault(ask.application_id, []).append(Writer(
            ask_id=ask.id, mentor=names.get(ask.mentor_id, "?"), mentor_id=ask.mentor_id,
            state=str(ask.state), standing=standing, deadline=ask.deadline,
            marks=tuple(marks)))
    out = []
    for app in store.read.mentors.applications():
        writers = tuple(by_app.get(app.id, []))
        submitted = sum(w.standing == "submitted" for w in writers)
        committed = sum(w.standing in ("submitted", "committed") for w in writers)
        hesitant = sum(w.standing == "hesitant" for w in writers)
        left = (app.deadline - today).days if app.deadline else None
        missing = max(0, app.letters_required - submitted)
        at_risk = left is not None and missing > 0 and (
            left < 0 or (committed < app.letters_required and left < warn_days) or left <= 14)
        out.append(ApplicationView(
            id=app.id, name=app.name, system=app.system, deadline=app.deadline, days_left=left,
            letters_required=app.letters_required, writers=writers, committed=committed,
            submitted=submitted, hesitant=hesitant, missing=missing, at_risk=at_risk))
    return out


def _letter_items(apps: Sequence[ApplicationView]) -> list[Item]:
    items = []
    for app in apps:
        if not app.at_risk or app.deadline is None or app.days_left is None:
            continue
        waiting = [w.mentor for w in app.writers if w.standing in ("committed", "hesitant")]
        if app.days_left < 0:
            text = (f"{app.name}: the deadline {app.deadline} passed with {app.missing} "
                    "letter(s) missing: contact the programs")
            level = Urgency.OVERDUE
        else:
            who = f" (not in yet: {', '.join(waiting)})" if waiting else ""
            text = (f"{app.name}: {app.submitted} of {app.letters_required} letters in, "
                    f"{app.committed} committed, deadline in {app.days_left} days{who}")
            level = Urgency.TODAY if app.days_left <= 2 else Urgency.SOON
        items.append(Item(urgency=level, when=None, mentor=", ".join(waiting), mentor_id=None,
                          ask_id=None, text=text, kind="letter"))
    return items


_STEP_WORDS = {
    "initial": "first email", "nudge": "nudge", "final_nudge": "last nudge",
    "stop": "stop and mark no response", "request": "letter request",
    "packet": "materials packet", "reminder": "reminder (−14 days)",
    "final_reminder": "final reminder (−5 days)", "call_office": "call their office (−2 days)",
    "deadline": "deadline check", "thanks": "thank-you", "summary": "meeting summary",
    "followup": "follow-up",
}


def step_words(name: str) -> str:
    return _STEP_WORDS.get(name, name.replace("_", " "))


def upcoming(store: Store, now: datetime, tz: ZoneInfo) -> list[Item]:
    """What maild will do, soonest first; planned steps whose time passed are overdue.

    Drafts waiting for the user are not repeated here (they are listed as drafts)."""
    today = now.astimezone(tz).date()
    items = []
    for s in views.open_steps(store):
        if s.kind == "check" or s.status not in ("planned", "approved"):
            continue  # a deadline check is internal; drafts and failures are listed apart
        if s.status == "approved":
            text = f"sends the {step_words(s.name)} to {s.mentor} (approved)"
        elif s.kind == "task":
            text = f"task for you: {step_words(s.name)} ({s.playbook} ask to {s.mentor})"
        elif s.kind == "stop":
            text = f"{step_words(s.name)} ({s.playbook} ask to {s.mentor})"
        else:
            text = f"drafts the {step_words(s.name)} ({s.playbook} ask to {s.mentor})"
        items.append(Item(urgency=urgency(s.due_at, today, tz), when=s.due_at,
                          mentor=s.mentor, mentor_id=s.mentor_id, ask_id=s.ask_id, text=text,
                          kind="step"))
    return items


def health(store: Store, daemon_pid: int | None, served_by: str | None = None,
           live: LiveFolders | None = None) -> Health:
    """The daemon's state and each folder's last read; live watcher state when known."""
    synced = {(f.account, f.folder): f.synced_at for f in views.folder_syncs(store)}
    folders: list[FolderHealth] = []
    if live is not None:
        for f in live():
            folders.append(FolderHealth(account=f.account, folder=f.folder,
                                        synced_at=synced.get((f.account, f.folder)),
                                        connected=f.connected, error=f.error))
    known = {(f.account, f.folder) for f in folders}
    for (account, folder), at in synced.items():
        if (account, folder) not in known:
            folders.append(FolderHealth(account=account, folder=folder, synced_at=at))
    return Health(daemon_pid=daemon_pid, served_by=served_by, folders=tuple(folders))


def build_today(store: Store, now: datetime, rules: Rules, timezone: str,
                health_now: Health, next_limit: int | None = None) -> Today:
    tz = ZoneInfo(timezone)
    today = now.astimezone(tz).date()
    drafts = waiting_drafts(store, now, tz)
    review = reviews(store)
    apps = applications(store, now, rules, tz)
    items = [_draft_item(w) for w in drafts]
    for task in views.tasks_since(store, now - TASKS_RECENT):
        items.append(Item(urgency=urgency(task.due or task.at, today, tz),
                          when=task.due or task.at, mentor=task.mentor,
                          mentor_id=task.mentor_id, ask_id=task.ask_id,
                          text=f"{task.mentor}: {task.text}", kind="task"))
    for r in review:
        items.append(Item(urgency=Urgency.TODAY, when=r.message.date if r.message else None,
                          mentor=r.mentor, mentor_id=r.mentor_id, ask_id=r.ask_id,
                          text=f"read {r.mentor}'s reply ({r.playbook} ask {r.ask_id}): {r.why}",
                          kind="review"))
    items += _letter_items(apps)
    report = build_status(store, now, rules, next_limit)
    return Today(now=now, today=today, timezone=timezone, attention=_sorted(items),
                 drafts=tuple(sorted(drafts, key=lambda w: (_ORDER[w.urgency], w.id))),
                 review=tuple(review), applications=tuple(apps),
                 upcoming=tuple(upcoming(store, now, tz)), health=health_now, report=report)
