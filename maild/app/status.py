"""The dashboard and the timeline: read-only summaries of the store for people.

``build_status`` answers "where do I stand": open asks by state, what is due next,
letters per application, and the risks the guides warn about (short runway, letters
missing near a deadline, mentors ghosting). It reads the store with a handful of
queries, so it stays fast with thousands of asks.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from maild.core.events import EventKind
from maild.core.ghost import is_ghosting
from maild.core.model import AskState, DraftStatus
from maild.core.rules import Rules
from maild.store import Store

NEXT_STEPS_SHOWN = 10
_COMMITTED = frozenset({AskState.AGREED, AskState.HESITANT, AskState.SUBMITTED})


def build_status(store: Store, now: datetime, rules: Rules) -> dict[str, Any]:
    read = store.read
    names = read.mentors.names()
    next_steps = [{"due": s.due_at.isoformat(), "ask_id": s.ask_id, "step": s.name,
                   "kind": s.kind, "mentor": names.get(s.mentor_id, "?")}
                  for s in read.asks.upcoming(NEXT_STEPS_SHOWN)]

    risks: list[dict[str, Any]] = []
    letter = rules.playbook("letter")
    warn_days = letter.param("warn_weeks") * 7
    today = now.date()
    # Only asks that can carry a risk are built (their steps never are): in a store of
    # thousands of open asks, building each one was most of the dashboard's time.
    asks = read.asks.open_at_risk(
        letters_due_before=today + timedelta(days=max(14, warn_days) + 1),
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
            elif left < warn_days and ask.state in (AskState.ACTIVE, AskState.WAITING_REPLY):
                risks.append(_risk("short_runway", ask.id, f"letter request to {mentor}: only "
                                   f"{left} days to the deadline and no answer yet"))
        if is_ghosting(ask, now, rules):
            risks.append(_risk("ghosting", ask.id, f"{mentor} has not answered two follow-ups "
                               "in weeks; consider a second mentor"))
        if ask.needs_review:
            risks.append(_risk("needs_review", ask.id, f"a message from {mentor} for ask "
                               f"{ask.id} needs your eyes (matched by sender only, or not "
                               "understood); see `maild timeline`"))
    risks += _task_risks(store, now)

    applications = []
    for app in read.mentors.applications():
        states = [state for _id, state in read.asks.of_application(app.id, "letter")]
        committed = sum(1 for s in states if s in _COMMITTED)
        submitted = sum(1 for s in states if s is AskState.SUBMITTED)
        deadline = app.deadline.isoformat() if app.deadline else None
        applications.append({"id": app.id, "name": app.name, "deadline": deadline,
                             "letters_required": app.letters_required,
                             "asked": len(states), "committed": committed,
                             "submitted": submitted})
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


_SUMMARY: dict[str, Callable[[dict[str, Any]], str]] = {
    "ask_created": lambda d: f"{d.get('playbook', '')} ask started",
    "draft_created": lambda d: f"draft of {d.get('step')} ready: {d.get('subject', '')}",
    "state_changed": lambda d: f"state {d.get('old')} -> {d.get('new')} ({d.get('reason')})",
    "steps_cancelled": lambda d: f"cancelled {', '.join(d.get('steps', []))} ({d.get('reason')})",
    "notice": lambda d: d.get("text", ""),
    "suggestion": lambda d: f"{d.get('reason')}: " + ("started " if d.get("started") else
                                                     "suggested ") + str(d.get("candidates")),
    "task": lambda d: f"task: {d.get('text', '')}",
    "message_in": lambda d: f"received {d.get('kind', '')} {d.get('intent') or ''}: "
                            f"{d.get('subject', '')}",
    "message_out": lambda d: f"sent: {d.get('subject', '')}",
}


def timeline(store: Store, mentor_id: int) -> list[dict[str, Any]]:
    items = []
    for r in store.read.events.of_mentor(mentor_id):
        summarise = _SUMMARY.get(r.kind)
        summary = summarise(r.detail) if summarise else f"{r.kind} " + ", ".join(
            f"{k}={v}" for k, v in r.detail.items())
        items.append({"at": r.at.isoformat(), "type": r.kind, "ask_id": r.ask_id,
                      "summary": summary.strip(), "detail": r.detail})
    return items
