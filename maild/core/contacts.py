"""The "never twice" rule: who was contacted recently, through any address or account."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from maild.core.refusals import ContactedRecently
from maild.core.rules import Rules
from maild.core.timing import months_before, to_utc


@dataclass(frozen=True)
class PriorAsk:
    """What the rule needs to know of an earlier ask: who, where from, when."""

    ask_id: int
    mentor_id: int
    addresses: tuple[str, ...]
    created_at: datetime
    account: str | None = None
    playbook: str = "cold"
    state: str = "active"


def _norm(addresses: Iterable[str]) -> frozenset[str]:
    return frozenset(a.strip().lower() for a in addresses if a.strip())


def earlier_contact(
    mentor_id: int,
    addresses: Iterable[str],
    prior: Iterable[PriorAsk],
    now: datetime,
    months: int = 6,
) -> PriorAsk | None:
    """The most recent ask to the same person within ``months`` before ``now``, if any.

    The same person is the same mentor record or any shared address (case-insensitive),
    whatever account the earlier ask was sent from.
    """
    if months <= 0:
        return None
    since = months_before(to_utc(now), months)
    wanted = _norm(addresses)
    found: PriorAsk | None = None
    for ask in prior:
        created = to_utc(ask.created_at)
        if created < since or created > to_utc(now):
            continue
        same = ask.mentor_id == mentor_id or bool(wanted & _norm(ask.addresses))
        if same and (found is None or created > to_utc(found.created_at)):
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
    """Raise ContactedRecently naming the earlier ask when the rule forbids a new one."""
    earlier = check_never_twice(playbook, mentor_id, addresses, prior, now, rules)
    if earlier is not None:
        raise ContactedRecently(earlier.ask_id, earlier.created_at, earlier.account)
