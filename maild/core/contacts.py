"""The "never twice" rule: who was contacted recently, through any address or account.

Contact means mail that went out: an ask whose first email was never sent (a draft
left unapproved, or rejected) is not contact, whatever its age or state.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from maild.core.model import ENDED_STATES
from maild.core.refusals import ContactedRecently, StillOpen
from maild.core.rules import Rules
from maild.core.timing import months_before, to_utc


@dataclass(frozen=True)
class PriorAsk:
    """What the rule needs to know of an earlier ask: who, where from, when.

    ``contacted_at`` is when its first mail went out (None: nothing was ever sent).
    """

    ask_id: int
    mentor_id: int
    addresses: tuple[str, ...]
    created_at: datetime
    account: str | None = None
    playbook: str = "cold"
    state: str = "active"
    contacted_at: datetime | None = None

    @property
    def ended(self) -> bool:
        return self.state in _ENDED


_ENDED = frozenset(s.value for s in ENDED_STATES)
# Outreach playbooks: a second one to the same person is the "generic email twice".
OUTREACH = frozenset({"cold", "warm"})


def same_person(ask: PriorAsk, mentor_id: int, addresses: Iterable[str]) -> bool:
    """Whether ``ask`` went to this person: the same record, or any shared address."""
    return ask.mentor_id == mentor_id or bool(_norm(addresses) & _norm(ask.addresses))


def _norm(addresses: Iterable[str]) -> frozenset[str]:
    return frozenset(a.strip().lower() for a in addresses if a.strip())


def earlier_contact(
    mentor_id: int,
    addresses: Iterable[str],
    prior: Iterable[PriorAsk],
    now: datetime,
    months: int = 6,
) -> PriorAsk | None:
    """The ask that most recently reached the same person within ``months`` before
    ``now``, if any (only mail that was sent counts).

    The same person is the same mentor record or any shared address (case-insensitive),
    whatever account the earlier ask was sent from.
    """
    if months <= 0:
        return None
    since = months_before(to_utc(now), months)
    found: PriorAsk | None = None
    for ask in prior:
        if ask.contacted_at is None:
            continue
        contacted = to_utc(ask.contacted_at)
        if contacted < since or contacted > to_utc(now):
            continue
        if same_person(ask, mentor_id, addresses) and (
                found is None or found.contacted_at is None
                or contacted > to_utc(found.contacted_at)):
            found = ask
    return found


def check_never_twice(
    playbook: str,
    mentor_id: int,
    addresses: Iterable[str],
    prior: Iterable[PriorAsk],
    now: datetime,
    rules: Rules,
) -> PriorAsk | None:
    """The earlier ask that forbids a new ``playbook`` ask, if the playbook applies the rule.

    Only playbooks with ``never_twice_months`` > 0 (cold and warm outreach by default)
    are restricted; a letter request to one's own mentor is not a generic email.
    """
    months = rules.playbook(playbook).param("never_twice_months")
    return earlier_contact(mentor_id, addresses, prior, now, months)


def ensure_not_contacted(
    playbook: str,
    mentor_id: int,
    addresses: Iterable[str],
    prior: Iterable[PriorAsk],
    now: datetime,
    rules: Rules,
) -> None:
    """Raise ContactedRecently naming the earlier ask when the rule forbids a new one, and
    StillOpen when an outreach ask to the same person has not ended (sent or not)."""
    prior = list(prior)
    earlier = check_never_twice(playbook, mentor_id, addresses, prior, now, rules)
    if earlier is not None and earlier.contacted_at is not None:
        raise ContactedRecently(earlier.ask_id, earlier.contacted_at, earlier.account)
    if rules.playbook(playbook).param("never_twice_months") <= 0:
        return
    for ask in prior:
        if ask.playbook in OUTREACH and not ask.ended and same_person(ask, mentor_id,
                                                                        addresses):
            raise StillOpen(ask.ask_id, ask.state)
