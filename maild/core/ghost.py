"""Ghost detection: a mentor silent for weeks after two unanswered follow-ups."""

from __future__ import annotations

from datetime import datetime, timedelta

from maild.core.model import ENDED_STATES, Ask
from maild.core.rules import Rules
from maild.core.timing import to_utc


def silence_since(ask: Ask) -> datetime | None:
    """Since when the mentor has given no feedback: their last reply, else first contact."""
    return ask.last_reply_at or ask.first_contact_at


def ghost_due(ask: Ask, rules: Rules) -> datetime | None:
    """When the ask would count as ghosted, or None while too few follow-ups went unanswered."""
    ghost = rules.playbook("ghost")
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
