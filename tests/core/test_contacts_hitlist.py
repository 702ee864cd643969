"""Never twice, the hit list's next candidates, the runway and the letter writers."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maild.core.candidates import free_slots, next_candidates
from maild.core.contacts import (
    OUTREACH,
    PriorAsk,
    check_never_twice,
    earlier_contact,
    ensure_not_contacted,
    same_person,
)
from maild.core.letters import Runway, check_runway, is_letter_writer
from maild.core.model import ENDED_STATES, Ask, AskState, Mentor
from maild.core.refusals import ContactedRecently
from maild.core.rules import DEFAULT_RULES, rules_from_config

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def prior(ask_id: int, mentor_id: int, addresses: tuple[str, ...], when: datetime,
          account: str = "me@uni.edu", playbook: str = "cold",
          state: str = "waiting_reply", sent: bool = True) -> PriorAsk:
    return PriorAsk(ask_id, mentor_id, addresses, when, account, playbook, state,
                    contacted_at=when if sent else None)


def test_second_ask_from_a_second_account_is_refused_naming_the_first() -> None:
    earlier = prior(11, 5, ("dr.a@hosp.org",), datetime(2026, 3, 1, tzinfo=UTC),
                    account="me@gmail.com")
    with pytest.raises(ContactedRecently, match=r"ask 11 on 2026-03-01 from me@gmail\.com"):
        ensure_not_contacted("cold", 5, ("dr.a@hosp.org",), [earlier], NOW, DEFAULT_RULES)


def test_same_person_by_another_address_or_record_is_refused() -> None:
    earlier = prior(12, 99, ("A.Smith@Uni.edu",), datetime(2026, 5, 1, tzinfo=UTC))
    found = check_never_twice("warm", 5, ("dr.a@hosp.org", "a.smith@uni.edu"), [earlier],
                              NOW, DEFAULT_RULES)
    assert found == earlier


def test_contact_older_than_six_months_is_allowed() -> None:
    earlier = prior(13, 5, ("dr.a@hosp.org",), datetime(2025, 11, 30, tzinfo=UTC))
    assert check_never_twice("cold", 5, (), [earlier], NOW, DEFAULT_RULES) is None
    inside = prior(14, 5, (), datetime(2025, 12, 2, tzinfo=UTC))
    assert check_never_twice("cold", 5, (), [earlier, inside], NOW, DEFAULT_RULES) == inside


def test_letter_requests_are_not_restricted_and_the_window_is_configurable() -> None:
    earlier = prior(15, 5, (), datetime(2026, 5, 1, tzinfo=UTC))
    assert check_never_twice("letter", 5, (), [earlier], NOW, DEFAULT_RULES) is None
    relaxed = rules_from_config({"cold": {"never_twice_months": 0}})
    assert check_never_twice("cold", 5, (), [earlier], NOW, relaxed) is None


def mentor(i: int, rank: int | None, *, excluded: bool = False) -> Mentor:
    return Mentor(id=i, name=f"M{i}", addresses=(f"m{i}@x.edu",), rank=rank, excluded=excluded)


def test_next_candidates_fill_free_slots_in_rank_order() -> None:
    mentors = [mentor(1, 3), mentor(2, 1), mentor(3, None), mentor(4, 2), mentor(5, 4)]
    asks = [prior(1, 2, ("m2@x.edu",), datetime(2026, 5, 25, tzinfo=UTC))]
    assert free_slots(asks, DEFAULT_RULES) == 2
    assert [m.id for m in next_candidates(mentors, asks, NOW, DEFAULT_RULES)] == [4, 1]


def test_next_candidates_skip_excluded_contacted_and_busy() -> None:
    mentors = [mentor(1, 1, excluded=True), mentor(2, 2), mentor(3, 3), mentor(4, 4),
               mentor(5, 5)]
    asks = [
        prior(1, 2, ("m2@x.edu",), datetime(2025, 1, 1, tzinfo=UTC), state="no_response"),
        prior(2, 3, ("m3@x.edu",), datetime(2026, 5, 1, tzinfo=UTC), playbook="letter",
              state="agreed"),
        prior(3, 77, ("m4@x.edu",), datetime(2026, 5, 30, tzinfo=UTC), playbook="meeting",
              state="active"),
    ]
    assert [m.id for m in next_candidates(mentors, asks, NOW, DEFAULT_RULES)] == [5]


def test_no_slot_no_candidate() -> None:
    asks = [prior(i, 100 + i, (), NOW) for i in range(3)]
    assert next_candidates([mentor(1, 1)], asks, NOW, DEFAULT_RULES) == ()
    done = [prior(i, 100 + i, (), NOW, state="declined") for i in range(3)]
    assert [m.id for m in next_candidates([mentor(1, 1)], done, NOW, DEFAULT_RULES)] == [1]


@pytest.mark.parametrize(
    ("deadline", "verdict"),
    [(date(2026, 7, 13), Runway.OK), (date(2026, 7, 12), Runway.WARN),
     (date(2026, 6, 15), Runway.WARN), (date(2026, 6, 14), Runway.REFUSE)],
)
def test_check_runway(deadline: date, verdict: Runway) -> None:
    assert check_runway(deadline, NOW, DEFAULT_RULES) is verdict


def test_letter_writers_are_those_who_committed() -> None:
    base = Ask(mentor_id=1, playbook="letter", state=AskState.AGREED, created_at=NOW)
    assert is_letter_writer(base.__class__(**{**base.__dict__, "agreed_at": NOW}))
    assert not is_letter_writer(base)
    declined = base.__class__(**{**base.__dict__, "agreed_at": NOW,
                                 "state": AskState.DECLINED})
    assert not is_letter_writer(declined)


# next_candidates looks each mentor's asks up by record and by address; whatever the
# lookup, the answer must be the one a search through every ask gives.
_ADDRESSES = st.sampled_from(["a@x.edu", "A@X.edu ", "b@x.edu", "c@y.org", "d@y.org"])
_STATES = st.sampled_from([s.value for s in AskState])


@st.composite
def _hit_list(draw: st.DrawFn) -> tuple[list[Mentor], list[PriorAsk]]:
    mentors = [Mentor(id=i, name=f"M{i}", addresses=tuple(draw(st.sets(_ADDRESSES,
                                                                        max_size=2))),
                      rank=draw(st.none() | st.integers(1, 5)), excluded=draw(st.booleans()))
               for i in range(1, draw(st.integers(1, 6)) + 1)]
    asks = [PriorAsk(n, draw(st.integers(1, 8)), tuple(draw(st.sets(_ADDRESSES, max_size=2))),
                     datetime(2026, draw(st.integers(1, 5)), 1, tzinfo=UTC), "me@uni.edu",
                     draw(st.sampled_from(["cold", "warm", "letter", "meeting"])),
                     draw(_STATES),
                     contacted_at=draw(st.none() | st.sampled_from(
                         [datetime(2025, 10, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)])))
            for n in range(draw(st.integers(0, 10)))]
    return mentors, asks


def _searching(mentors: list[Mentor], asks: list[PriorAsk]) -> tuple[int, ...]:
    """The rule read literally: every ask is looked at for every mentor."""
    over = {s.value for s in ENDED_STATES} | {AskState.AGREED.value}
    ranked = sorted(enumerate(mentors), key=lambda im: (im[1].rank is None, im[1].rank or 0,
                                                        im[0]))
    chosen = []
    for _, m in ranked:
        theirs = [a for a in asks if same_person(a, m.id, m.addresses)]
        busy = any(a.state not in over or (a.playbook in OUTREACH and a.contacted_at)
                   for a in theirs)
        if m.excluded or busy or earlier_contact(m.id, m.addresses, asks, NOW, 6):
            continue
        chosen.append(m.id)
    return tuple(chosen)


@given(_hit_list())
@settings(max_examples=300, deadline=None)
def test_next_candidates_agree_with_a_search_through_every_ask(
        world: tuple[list[Mentor], list[PriorAsk]]) -> None:
    mentors, asks = world
    found = next_candidates(mentors, asks, NOW, DEFAULT_RULES, slots_only=False)
    assert tuple(m.id for m in found) == _searching(mentors, asks)
