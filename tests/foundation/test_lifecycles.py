"""Every status change, allowed or refused, as the store sees it.

The tables below are the lifecycles spelled out (docs/architecture.md): each pair of
(old, new) status is written through the real store, which must accept exactly these
and refuse every other with TransitionRefused, leaving the row as it was. Keeping a
status (a snooze, a step moved to another day) is always a write the store accepts.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from maild.core.entries import MentorInput
from maild.core.model import Ask, AskState, DraftStatus, Step, StepKind, StepStatus
from maild.errors import TransitionRefused
from maild.store import Store
from maild.store.drafts import DraftSpec
from maild.store.mentors import add_mentors
from tests.rawdb import raw

NOW = datetime(2026, 11, 17, 15, 0, tzinfo=UTC)
D, S, A = DraftStatus, StepStatus, AskState

DRAFT_MOVES: dict[DraftStatus, set[DraftStatus]] = {
    D.PENDING: {D.APPROVED, D.REJECTED, D.CANCELLED, D.SUPERSEDED, D.SENT},
    D.APPROVED: {D.SENDING, D.SENT, D.FAILED, D.REJECTED, D.CANCELLED, D.SUPERSEDED},
    D.SENDING: {D.SENT, D.UNCERTAIN, D.FAILED, D.APPROVED},
    D.UNCERTAIN: {D.SENT, D.APPROVED},
    D.FAILED: {D.APPROVED, D.SENT},
    # Sent from the user's own mail app all the same (found in Sent).
    D.REJECTED: {D.SENT}, D.CANCELLED: {D.SENT}, D.SUPERSEDED: {D.SENT},
    D.SENT: set(),
}
# A step called off whose draft the user sent by hand after all comes back, sent.
STEP_BIRTHS = {S.PLANNED, S.DRAFTED, S.DONE, S.SENT}
STEP_MOVES: dict[StepStatus, set[StepStatus]] = {
    S.PLANNED: {S.DRAFTED, S.DONE, S.CANCELLED, S.SUPERSEDED, S.SENT},
    S.DRAFTED: {S.APPROVED, S.CANCELLED, S.SUPERSEDED, S.SENT},
    S.APPROVED: {S.SENDING, S.SENT, S.FAILED, S.UNCERTAIN, S.DRAFTED, S.PLANNED, S.CANCELLED,
                 S.SUPERSEDED},
    S.SENDING: {S.SENT, S.UNCERTAIN, S.FAILED, S.APPROVED, S.PLANNED, S.CANCELLED},
    S.UNCERTAIN: {S.SENT, S.APPROVED, S.PLANNED, S.CANCELLED},
    S.FAILED: {S.APPROVED, S.PLANNED, S.CANCELLED, S.SUPERSEDED, S.SENT},
    S.SENT: set(), S.CANCELLED: set(), S.SUPERSEDED: set(), S.DONE: set(),
}
_ANSWER = {A.AGREED, A.HESITANT, A.DECLINED, A.QUESTION, A.MEETING, A.REPLIED, A.SUBMITTED,
           A.CLOSED, A.CANCELLED, A.NEEDS_ADDRESS}
_RUN = _ANSWER | {A.PAUSED, A.SEND_FAILED, A.NO_RESPONSE, A.MISSED_DEADLINE}
_HELD = _ANSWER | {A.ACTIVE, A.WAITING_FOR_YOU, A.WAITING_REPLY, A.MISSED_DEADLINE}
ASK_MOVES: dict[AskState, set[AskState]] = {
    A.ACTIVE: _RUN | {A.WAITING_FOR_YOU, A.WAITING_REPLY},
    # The first mail waits for the user: approved (active), sent, or anything running,
    # except "no response": nothing went out (issue 11.1).
    A.WAITING_FOR_YOU: (_RUN - {A.NO_RESPONSE}) | {A.ACTIVE, A.WAITING_REPLY},
    A.WAITING_REPLY: _RUN,
    A.REPLIED: _RUN | {A.WAITING_REPLY, A.ACTIVE},
    A.QUESTION: _RUN | {A.WAITING_REPLY, A.ACTIVE},
    A.MEETING: _RUN | {A.WAITING_REPLY, A.ACTIVE},
    A.AGREED: _RUN, A.HESITANT: _RUN, A.SUBMITTED: _RUN,
    A.MISSED_DEADLINE: _RUN | {A.WAITING_REPLY},
    A.PAUSED: _HELD, A.SEND_FAILED: _HELD, A.NEEDS_ADDRESS: _HELD | {A.NO_RESPONSE},
    # Reopened by a late answer (or a first email sent by hand after all), a letter
    # ask's passed deadline is checked at once.
    A.DECLINED: _ANSWER | {A.MISSED_DEADLINE}, A.NO_RESPONSE: _ANSWER | {A.MISSED_DEADLINE},
    A.CLOSED: _ANSWER | {A.MISSED_DEADLINE},
    A.CANCELLED: _ANSWER | {A.MISSED_DEADLINE, A.WAITING_REPLY, A.ACTIVE},
}


def test_the_tables_cover_every_status() -> None:
    assert set(DRAFT_MOVES) == set(DraftStatus)
    assert set(STEP_MOVES) == set(StepStatus)
    assert set(ASK_MOVES) == set(AskState)


def _expected(moves: dict[object, set[object]], old: object, new: object) -> bool:
    return new == old or new in moves[old]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    path: Path = tmp_path_factory.mktemp("lifecycles") / "maild.db"
    with Store.open(path) as opened:
        add_mentors(opened, [MentorInput(name="Dana Rivera", emails=("d@med.example.edu",))],
                    NOW)
        yield opened


def _ask(store: Store, *steps: Step) -> Ask:
    with store.transaction() as tx:
        return tx.asks.save(Ask(mentor_id=1, playbook="cold", state=A.ACTIVE, created_at=NOW,
                                steps=steps), NOW)


def _draft(store: Store, status: DraftStatus) -> int:
    ask = _ask(store)
    assert ask.id is not None
    spec = DraftSpec(ask_id=ask.id, step_id=None, account="school", from_addr="a@b.example",
                     from_name="A", to_addrs=(("d@med.example.edu", "D"),), subject="s",
                     body="b", message_id=f"<{ask.id}@b.example>")
    with store.transaction() as tx:
        draft_id = tx.drafts.insert(spec, NOW)
        raw(store).execute("UPDATE drafts SET status = ? WHERE id = ?", (str(status), draft_id))
    return draft_id


@pytest.mark.parametrize(("old", "new"), list(itertools.product(DraftStatus, DraftStatus)),
                         ids=lambda s: str(s))
def test_draft_transitions(store: Store, old: DraftStatus, new: DraftStatus) -> None:
    draft_id = _draft(store, old)
    allowed = _expected(DRAFT_MOVES, old, new)  # type: ignore[arg-type]
    with store.transaction() as tx:
        if allowed:
            assert tx.drafts.set_status(draft_id, new, NOW, expect=(old,)) is old
        else:
            with pytest.raises(TransitionRefused, match=f"draft {draft_id}: from {old} to"):
                tx.drafts.set_status(draft_id, new, NOW, expect=(old,))
    assert store.read.drafts.get(draft_id).status is (new if allowed else old)


def test_a_draft_is_born_pending_and_nothing_else(store: Store) -> None:
    draft_id = _draft(store, D.PENDING)
    assert store.read.drafts.get(draft_id).status is D.PENDING
    # The compare-and-set stays: an allowed change from a status it no longer has fails.
    with store.transaction() as tx, pytest.raises(Exception, match="is pending, not approved"):
        tx.drafts.set_status(draft_id, D.SENDING, NOW, expect=(D.APPROVED,))


@pytest.mark.parametrize(("old", "new"), list(itertools.product(StepStatus, StepStatus)),
                         ids=lambda s: str(s))
def test_step_transitions(store: Store, old: StepStatus, new: StepStatus) -> None:
    ask = _ask(store, Step("nudge", StepKind.EMAIL, NOW + timedelta(days=5)))
    [step] = ask.steps
    raw(store).execute("UPDATE steps SET status = ? WHERE id = ?", (str(old), step.id))
    before = store.read.asks.get(ask.id or 0)
    changed = before.with_step(before.steps[0], replace(before.steps[0], status=new))
    allowed = _expected(STEP_MOVES, old, new)  # type: ignore[arg-type]
    with store.transaction() as tx:
        if allowed:
            tx.asks.save(changed, NOW)
        else:
            with pytest.raises(TransitionRefused, match=f"step {step.id}: from {old} to {new}"):
                tx.asks.save(changed, NOW)
    assert store.read.asks.get(ask.id or 0).steps[0].status is (new if allowed else old)


@pytest.mark.parametrize("status", list(StepStatus), ids=str)
def test_step_births(store: Store, status: StepStatus) -> None:
    ask = _ask(store)
    born = replace(ask, steps=(Step("nudge", StepKind.EMAIL, NOW, status=status),))
    with store.transaction() as tx:
        if status in STEP_BIRTHS:
            assert tx.asks.save(born, NOW).steps[0].status is status
        else:
            with pytest.raises(TransitionRefused, match="as a new row"):
                tx.asks.save(born, NOW)


@pytest.mark.parametrize(("old", "new"), list(itertools.product(AskState, AskState)),
                         ids=lambda s: str(s))
def test_ask_transitions(store: Store, old: AskState, new: AskState) -> None:
    ask = _ask(store)
    raw(store).execute("UPDATE asks SET state = ? WHERE id = ?", (str(old), ask.id))
    allowed = _expected(ASK_MOVES, old, new)  # type: ignore[arg-type]
    changed = replace(store.read.asks.get(ask.id or 0), state=new)
    with store.transaction() as tx:
        if allowed:
            tx.asks.save(changed, NOW)
        else:
            with pytest.raises(TransitionRefused, match=f"ask {ask.id}: from {old} to {new}"):
                tx.asks.save(changed, NOW)
    assert store.read.asks.get(ask.id or 0).state is (new if allowed else old)


@pytest.mark.parametrize("state", list(AskState), ids=str)
def test_ask_births(store: Store, state: AskState) -> None:
    with store.transaction() as tx:
        new = Ask(mentor_id=1, playbook="cold", state=state, created_at=NOW)
        if state in (A.ACTIVE, A.WAITING_FOR_YOU):
            assert tx.asks.save(new, NOW).state is state
        else:
            with pytest.raises(TransitionRefused, match="as a new row"):
                tx.asks.save(new, NOW)


def test_writes_need_a_transaction(store: Store) -> None:
    ask = _ask(store)
    with pytest.raises(RuntimeError, match="outside a transaction"):
        store.read.asks.mark_reviewed(ask.id or 0)
