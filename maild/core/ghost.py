"""Ghost detection: a mentor who never answered, silent for weeks after two follow-ups.

A mentor who answered once (agreed, asked a question) is not ghosting when they go
quiet afterwards: the rule applies only to asks that never had a reply.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from maild.core.model import ENDED_STATES, Ask, StepKind
from maild.core.rules import Rules
from maild.core.timing import to_utc


def silence_since(ask: Ask) -> datetime | None:
    """Since when the mentor has given no feedback: first contact, if they never replied."""
    return None if ask.last_reply_at is not None else ask.first_contact_at


def ghost_due(ask: Ask, rules: Rules) -> datetime | None:
    """When the ask would count as ghosted, or None while too few follow-ups went
    unanswered (or once the mentor ever replied)."""
    ghost = rules.playbook("ghost")
    if any(r.kind is StepKind.STOP for r in rules.playbook(ask.playbook).steps):
        return None  # an outreach ladder ends in its own stop ("no response") instead
    since = silence_since(ask)
    if since is None or ask.unanswered_followups < ghost.param("followups"):
        return None
    return to_utc(since) + timedelta(weeks=ghost.param("weeks"))


def is_ghosting(ask: Ask, now: datetime, rules: Rules) -> bool:
    """Whether the mentor is ghosting this (open) ask at ``now``."""
    if ask.state in ENDED_STATES:
        return False
    due = ghost_due(ask, rules)
    return due is not None and to_utc(now) >= due
