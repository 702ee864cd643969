"""Which hit-list candidates to start next, given the ranking and the open cold asks."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from maild.core.contacts import OUTREACH, PriorAsk, earlier_contact, same_person
from maild.core.model import ENDED_STATES, AskState, Mentor
from maild.core.rules import Rules

# An ask in one of these states no longer keeps its mentor from being asked (unless it
# was outreach that reached them: see _busy).
SETTLED_STATES: frozenset[str] = frozenset(s.value for s in ENDED_STATES) | {
    AskState.AGREED.value}
_OVER = SETTLED_STATES
# A cold ask holds a parallel slot only while it waits for the mentor's first answer:
# once they wrote (a question, a meeting, a maybe) the outreach has done its job.
SLOT_STATES: frozenset[AskState] = frozenset({
    AskState.ACTIVE, AskState.WAITING_FOR_YOU, AskState.WAITING_REPLY, AskState.PAUSED,
    AskState.NEEDS_ADDRESS, AskState.SEND_FAILED})
_SLOT_STATES = frozenset(s.value for s in SLOT_STATES)


def is_open_cold(ask: PriorAsk) -> bool:
    """Whether this ask occupies one of the parallel cold-outreach slots."""
    return ask.playbook == "cold" and ask.state in _SLOT_STATES


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
    slots_only: bool = True,
) -> tuple[Mentor, ...]:
    """The best-ranked mentors to start a cold ask with, at most the free slots.

    A mentor is skipped when excluded, when any ask to them is still open, when they
    were ever reached cold or warm, or when the never-twice rule forbids contact.
    Ranking is ``rank`` ascending (unranked last), then the order given. With
    ``slots_only=False`` (suggestions the user starts by hand: backups, diversifying)
    the free cold slots do not limit the answer, only ``limit`` does.
    """
    slots = free_slots(asks, rules) if slots_only else len(mentors)
    if limit is not None:
        slots = min(slots, limit)
    if slots <= 0:
        return ()
    months = rules.playbook("cold").param("never_twice_months")
    ranked = sorted(
        enumerate(mentors),
        key=lambda im: (im[1].rank is None, im[1].rank or 0, im[0]),
    )
    by_person = _ByPerson(asks)
    chosen: list[Mentor] = []
    for _, mentor in ranked:
        if len(chosen) == slots:
            break
        if mentor.excluded:
            continue
        # Only this person's asks can keep them from being asked: looked up, not
        # searched for among every ask (a hit list of thousands, asked many times).
        theirs = by_person.of(mentor)
        if _busy(mentor, theirs):
            continue
        if earlier_contact(mentor.id, mentor.addresses, theirs, now, months) is not None:
            continue
        chosen.append(mentor)
    return tuple(chosen)


class _ByPerson:
    """The asks grouped by mentor record and by address, for ``same_person`` lookups."""

    def __init__(self, asks: Sequence[PriorAsk]) -> None:
        self._by_id: dict[int, list[int]] = {}
        self._by_address: dict[str, list[int]] = {}
        self._asks = asks
        for n, ask in enumerate(asks):
            self._by_id.setdefault(ask.mentor_id, []).append(n)
            for address in {a.strip().lower() for a in ask.addresses if a.strip()}:
                self._by_address.setdefault(address, []).append(n)

    def of(self, mentor: Mentor) -> list[PriorAsk]:
        """The asks ``same_person`` matches for ``mentor``, in the order given (which
        of two equally recent contacts is named must not depend on the lookup)."""
        found = set(self._by_id.get(mentor.id, ()))
        for address in mentor.addresses:
            found.update(self._by_address.get(address.strip().lower(), ()))
        return [self._asks[n] for n in sorted(found)]


def _busy(mentor: Mentor, asks: Sequence[PriorAsk]) -> bool:
    for ask in asks:
        if not same_person(ask, mentor.id, mentor.addresses):
            continue
        reached = ask.playbook in OUTREACH and ask.contacted_at is not None
        if ask.state not in _OVER or reached:
            return True
    return False
