"""Which hit-list candidates to start next, given the ranking and the open cold asks."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from maild.core.contacts import PriorAsk, earlier_contact
from maild.core.model import ENDED_STATES, AskState, Mentor
from maild.core.rules import Rules

# Outreach that, once tried, takes a person off the list of fresh candidates.
_OUTREACH = frozenset({"cold", "warm"})
# A cold ask in one of these no longer takes one of the parallel outreach slots.
SLOT_FREED: frozenset[AskState] = ENDED_STATES | {AskState.AGREED}
_OVER = frozenset(s.value for s in SLOT_FREED)


def is_open_cold(ask: PriorAsk) -> bool:
    """Whether this ask occupies one of the parallel cold-outreach slots."""
    return ask.playbook == "cold" and ask.state not in _OVER


def free_slots(asks: Iterable[PriorAsk], rules: Rules) -> int:
    """How many more cold asks may run now (``[playbooks.cold] parallel``, default 3)."""
    running = sum(1 for a in asks if is_open_cold(a))
    return max(0, rules.playbook("cold").param("parallel") - running)


def next_candidates(
    mentors: Sequence[Mentor],
    asks: Sequence[PriorAsk],
    now: datetime,
    rules: Rules,
    limit: int | None = None,
) -> tuple[Mentor, ...]:
    """The best-ranked mentors to start a cold ask with, at most the free slots.

    A mentor is skipped when excluded, when any ask to them is still open, when they
    were ever approached cold or warm, or when the never-twice rule forbids contact.
    Ranking is ``rank`` ascending (unranked last), then the order given.
    """
    slots = free_slots(asks, rules)
    if limit is not None:
        slots = min(slots, limit)
    if slots <= 0:
        return ()
    months = rules.playbook("cold").param("never_twice_months")
    ranked = sorted(
        enumerate(mentors),
        key=lambda im: (im[1].rank is None, im[1].rank or 0, im[0]),
    )
    chosen: list[Mentor] = []
    for _, mentor in ranked:
        if len(chosen) == slots:
            break
        if mentor.excluded or _busy(mentor, asks):
            continue
        if earlier_contact(mentor.id, mentor.addresses, asks, now, months) is not None:
            continue
        chosen.append(mentor)
    return tuple(chosen)


def _busy(mentor: Mentor, asks: Sequence[PriorAsk]) -> bool:
    addresses = {a.lower() for a in mentor.addresses}
    for ask in asks:
        same = ask.mentor_id == mentor.id or bool(addresses & {a.lower() for a in ask.addresses})
        if same and (ask.state not in _OVER or ask.playbook in _OUTREACH):
            return True
    return False
