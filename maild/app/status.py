"""The dashboard: a read-only summary of the store for people (``maild status``).

``build_status`` answers "where do I stand": open asks by state, what is due next,
letters per application, and the risks the guides warn about (short runway, letters
missing near a deadline, mentors ghosting). It reads the store with a handful of
queries, so it stays fast with thousands of asks.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from maild.core.events import EventKind
from maild.core.ghost import is_ghosting
from maild.core.model import AskState, DraftStatus
from maild.core.rules import Rules
from maild.store import Store
from maild.store.views import LetterCount, letter_counts

NEXT_STEPS_SHOWN = 10


def build_status(store: Store, now: datetime, rules: Rules,
                 next_limit: int | None = NEXT_STEPS_SHOWN) -> dict[str, Any]:
    """The dashboard; ``next_limit=None`` lists every step ahead (``status --all``)."""
    read = store.read
    names = read.mentors.names()
    # SQLite's LIMIT -1: no limit.
    next_steps = [{"due": s.due_at.isoformat(), "ask_id": s.ask_id, "step": s.name,
                   "kind": s.kind, "mentor": names.get(s.mentor_id, "?"),
                   "overdue": s.due_at < now}
                  for s in read.asks.upcoming(-1 if next_limit is None else next_limit)]

    risks: list[dict[str, Any]] = []
    letter = rules.playbook("letter")
    warn_days = letter.param("warn_weeks") * 7
    today = now.date()
    # Only asks that can carry a risk are built (their steps never are): in a store of
    # thousands of open asks, building each one was most of the dashboard's time. A new
    # rule below must be covered by this choice (tests/tracking/test_status_risks.py).
    asks = read.asks.open_at_risk(
        letters_due_before=today + timedelta(days=max(14, warn_days) + 1),
        letters_in=(AskState.HESITANT,),
        unanswered_at_least=rules.playbook("ghost").param("followups"))
    for ask in asks:
        mentor = names.get(ask.mentor_id, "?")
        if ask.playbook == "letter" and ask.deadline and ask.state != AskState.SUBMITTED:
            left = (ask.deadline - today).days
            if left < 0:
                risks.append(_risk("missed_deadline", ask.id, f"{mentor}'s letter missed its "
                                   f"deadline {ask.deadline} ({-left} days ago): contact the "
                                   "programs"))
            elif left <= 14 and ask.state in (AskState.AGREED, AskState.HESITANT):
                risks.append(_risk("letter_missing", ask.id, f"{mentor}'s letter is not in; "
                                   f"deadline in {left} days ({ask.deadline})"))
            elif left < warn_days and ask.state in (AskState.ACTIVE, AskState.WAITING_FOR_YOU,
                                                    AskState.WAITING_REPLY):
                risks.append(_risk("short_runway", ask.id, f"letter request to {mentor}: only "
                                   f"{left} days to the deadline and no answer yet"))
            if ask.state is AskState.HESITANT and left >= 0:
                risks.append(_risk("hesitant", ask.id, f"{mentor}'s yes is hesitant: clarify "
                                   "the timeline, and line up a backup writer"))
        if is_ghosting(ask, now, rules):
            risks.append(_risk("ghosting", ask.id, f"{mentor} has not answered two follow-ups "
                               "in weeks; consider a second mentor"))
        if ask.needs_review:
            risks.append(_risk("needs_review", ask.id, f"a message from {mentor} for ask "
                               f"{ask.id} needs your eyes (matched by sender only, or not "
                               "understood); see `maild timeline`"))
    risks += _task_risks(store, now)

    applications = []
    # Counted from when each writer agreed and submitted, not from the asks' states now:
    # an outcome closes the asks, and a letter that is in stays in.
    counts = letter_counts(store)
    for app in read.mentors.applications():
        count = counts.get(app.id, LetterCount(0, 0, 0))
        committed = count.committed
        deadline = app.deadline.isoformat() if app.deadline else None
        applications.append({"id": app.id, "name": app.name, "deadline": deadline,
                             "letters_required": app.letters_required,
                             "asked": count.asked, "committed": committed,
                             "hesitant": count.hesitant, "submitted": count.submitted})
        if committed < app.letters_required and app.deadline:
            left = (app.deadline - today).days
            if 0 <= left < warn_days:
                risks.append(_risk("letters_short", None, f"{app.name}: "
                                   f"{committed} of {app.letters_required} letters committed, "
                                   f"deadline in {left} days"))
    by_state = read.asks.open_by_state()
    return {"now": now.isoformat(), "asks_by_state": by_state,
            "open_asks": sum(by_state.values()),
            "drafts_waiting": read.drafts.count(DraftStatus.PENDING),
            "next_steps": next_steps, "applications": applications, "risks": risks}


def _risk(kind: str, ask_id: int | None, text: str) -> dict[str, Any]:
    return {"kind": kind, "ask_id": ask_id, "text": text}


def _task_risks(store: Store, now: datetime) -> list[dict[str, Any]]:
    """Tasks for the user (call the office) from the last two weeks, still relevant."""
    rows = store.read.events.of_open_asks(EventKind.TASK, now - timedelta(days=14))
    return [_risk("task", r.ask_id, r.detail.get("text", "a task")) for r in rows]
