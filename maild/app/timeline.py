"""One mentor's story: every message both ways, what maild made of it, what comes next.

A mentor's timeline, for ``maild timeline`` and the page's mentor view, is told in
words: the messages (the mentor's own words from their replies, with maild's reading:
kind, intent and the evidence it rests on), what the user and maild did (asks started,
drafts approved or rejected, states changed and why), and then each planned step with
the reason it is planned. The engine's bookkeeping (a step waking up, the reply event
that a message already shows) is left out; nothing is shown as a raw event.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from maild.app.today import step_words
from maild.core.playbooks import Anchor, StepRule, Trigger, Unit
from maild.core.rules import Rules
from maild.store import Store, views
from maild.store.mentors import MentorRecord

# Events whose story a message entry (or a later, clearer event) already tells.
_QUIET = frozenset({
    "StepDue", "HumanReply", "AutoReply", "LetterServiceNotification", "message_in",
    "message_out", "user_notified", "digest_sent", "AskCreated", "draft_mirrored",
    "draft_unmirrored", "ScheduleStep",
})

_KIND_WORDS = {"human": "reply", "auto_reply": "automatic reply (out of office)",
               "bounce": "bounce (delivery failure)", "notification": "letter-service notice"}


@dataclass(frozen=True)
class Entry:
    """One line of the timeline."""

    at: datetime
    type: str
    ask_id: int | None
    summary: str
    text: str = ""  # the mentor's words, for a message from them
    intent: str | None = None
    evidence: tuple[str, ...] = ()
    reason: str | None = None
    planned: bool = False
    status: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "type": self.type, "ask_id": self.ask_id,
                "summary": self.summary, "text": self.text or None, "intent": self.intent,
                "evidence": list(self.evidence), "reason": self.reason,
                "planned": self.planned, "status": self.status, "detail": dict(self.detail)}


@dataclass(frozen=True)
class MentorTimeline:
    mentor: MentorRecord
    asks: tuple[views.AskRow, ...]
    entries: tuple[Entry, ...]   # what happened, oldest first
    planned: tuple[Entry, ...]   # what comes next, soonest first


def _s(detail: Mapping[str, Any], key: str, default: str = "") -> str:
    value = detail.get(key)
    return default if value is None else str(value)


_SUMMARY: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "mentor_added": lambda d: f"added to the hit list as {_s(d, 'name')}",
    "mentor_edited": lambda d: "hit-list entry edited",
    "ask_created": lambda d: f"{_s(d, 'playbook')} ask started",
    "draft_created": lambda d: f"draft of the {step_words(_s(d, 'step'))} ready: "
                               f"{_s(d, 'subject')}",
    "DraftApproved": lambda d: f"{'auto-approved' if d.get('auto') else 'you approved'} the "
                               f"{step_words(_s(d, 'step'))} draft",
    "DraftRejected": lambda d: f"you rejected the {step_words(_s(d, 'step'))} draft",
    "DraftEdited": lambda d: f"you edited the {step_words(_s(d, 'step'))} draft",
    "draft_snoozed": lambda d: f"you snoozed draft {_s(d, 'draft')} until {_s(d, 'until')}",
    "state_changed": lambda d: f"now {_s(d, 'new').replace('_', ' ')}: {_s(d, 'reason')}",
    "steps_cancelled": lambda d: "called off: " + ", ".join(
        step_words(s) for s in d.get("steps", [])) + f" ({_s(d, 'reason')})",
    "notice": lambda d: _s(d, "text"),
    "suggestion": lambda d: f"{_s(d, 'reason')}: " + ("started asks to " if d.get("started")
                                                      else "consider ") + _s(d, "candidates"),
    "task": lambda d: f"task for you: {_s(d, 'text')}",
    "MessageSent": lambda d: "you wrote to them from your own mail client"
                             if d.get("by_user") in (True, "True") else "mail sent",
    "Bounce": lambda d: "the mail bounced" + (" (the address is wrong)" if d.get(
        "address_invalid") in (True, "True") else ""),
    "SendFailed": lambda d: f"the {step_words(_s(d, 'step'))} mail "
                            + ("may not have gone out" if d.get("uncertain") in (True, "True")
                               else "could not be sent") + f": {_s(d, 'detail')}",
    "send_failed": lambda d: f"sending failed: {_s(d, 'error')}",
    "send_uncertain": lambda d: f"sending was interrupted: {_s(d, 'error')}",
    "send_retry": lambda d: f"sending will be retried ({_s(d, 'error') or 'temporary error'})",
    "SendRetry": lambda d: f"the {step_words(_s(d, 'step'))} mail is tried again "
                           f"({_s(d, 'why')})",
    "send_held": lambda d: f"sending waits until {_s(d, 'until')} "
                           f"({_s(d, 'reason') or 'rate limit or window'})",
    "uncertain_resolved": lambda d: "you confirmed the uncertain send " + (
        "went out" if d.get("went_out") else "did not go out"),
    "send_retried": lambda d: "you asked to retry a failed send",
    "UserMarked": lambda d: f"you marked the ask {_s(d, 'mark')}",
    "reviewed": lambda d: "you reviewed the latest message",
    "DeadlineChanged": lambda d: f"deadline moved to {_s(d, 'deadline')}",
    "OutcomeRecorded": lambda d: f"application outcome: {_s(d, 'outcome')}",
    "MeetingHeld": lambda d: f"meeting held at {_s(d, 'at')}",
    "message_skipped": lambda d: f"a message could not be handled: {_s(d, 'reason')}",
}


def summarise(kind: str, detail: Mapping[str, Any]) -> str:
    """An event in words; an unknown kind is named in words, never dumped."""
    summarise_one = _SUMMARY.get(kind)
    if summarise_one is not None:
        return summarise_one(detail).strip()
    words = "".join(f" {c.lower()}" if c.isupper() else c for c in kind).strip()
    return words.replace("_", " ")


def message_entry(m: views.MessageRow) -> Entry:
    at = m.date or datetime.fromtimestamp(0).astimezone()
    if m.direction == "out":
        to = ", ".join(m.to_addrs)
        # The reason tells which ask a message from the user's own mail app went to;
        # the Message-ID is what `maild ask thread` takes.
        return Entry(at=at, type="message_out", ask_id=m.ask_id,
                     summary=f"you wrote{' to ' + to if to else ''}: {m.subject}",
                     reason=None if m.by_maild else m.match_reason,
                     detail={"message_id": m.message_id})
    what = _KIND_WORDS.get(m.kind or "", "message")
    reading = f", read as {m.intent}" if m.intent else ""
    return Entry(at=at, type="message_in", ask_id=m.ask_id,
                 summary=f"{what} from {m.from_addr}{reading}: {m.subject}",
                 text=m.reply_text.strip(), intent=m.intent, evidence=m.evidence,
                 reason=m.match_reason, detail={"message_id": m.message_id})


def rule_reason(rule: StepRule, playbook: str) -> str:
    """Why a step of ``rule`` is planned, in the guide's words."""
    if rule.anchor is Anchor.DEADLINE:
        return (f"{rule.offset} days before the letter deadline" if rule.offset
                else "on the deadline")
    since = {Trigger.CREATED: "the ask started", Trigger.AGREED: "they agreed",
             Trigger.SUBMITTED: "the letter is in", Trigger.MEETING_HELD: "the meeting",
             Trigger.HESITANT: "a hesitant yes", Trigger.DECLINED: "a no"}[rule.trigger]
    unit = "hours" if rule.unit is Unit.HOURS else "days"
    when = f"{rule.offset} {unit} after {since}" if rule.offset else f"when {since}"
    if rule.nudge:
        when += ", if there is no answer by then"
    return f"{when} ({playbook} playbook)"


def build_timeline(store: Store, mentor_id: int, rules: Rules) -> MentorTimeline:
    mentor = store.read.mentors.get(mentor_id)
    asks = tuple(views.asks_of_mentor(store, mentor_id))
    playbooks = {a.id: a.playbook for a in asks}
    entries = [message_entry(m) for m in views.messages_of_mentor(store, mentor_id)]
    for e in views.events_of_mentor(store, mentor_id):
        if e.type in _QUIET:
            continue
        if e.type == "MessageSent" and e.detail.get("by_user") not in (True, "True"):
            continue  # maild's own send: the message entry tells it
        entries.append(Entry(at=e.at, type=e.type, ask_id=e.ask_id,
                             summary=summarise(e.type, e.detail), detail=e.detail))
    planned = []
    for s in views.steps_of_mentor(store, mentor_id):
        if s.status not in views.OPEN_STEP_STATUSES or s.kind == "check":
            continue
        book = rules.playbooks.get(playbooks.get(s.ask_id, ""))
        rule = next((r for r in book.steps if r.name == s.name), None) if book else None
        reason = s.reason or s.note or (rule_reason(rule, book.name) if rule and book
                                        else None)
        what = {"task": "task for you", "email": "email"}.get(s.kind, "maild's own step")
        planned.append(Entry(at=s.due_at, type="planned_step", ask_id=s.ask_id,
                             summary=f"{step_words(s.name)} ({what}, {s.status})",
                             reason=reason, planned=True, status=s.status,
                             detail={"step": s.name, "kind": s.kind}))
    # At the same instant, what was done (an approval) comes before the mail it sent.
    entries.sort(key=lambda x: (x.at, x.type.startswith("message_")))
    return MentorTimeline(mentor=mentor, asks=asks, entries=tuple(entries),
                          planned=tuple(planned))
