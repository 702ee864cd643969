"""The engine and the mail the user sends from their own mail app (issue 17), as tables.

A draft of maild's that the user sent by hand counts as maild's send of its step, even
after the step was called off; the user's own messages are contact that moves the
schedule; a message from us after the mentor's answer starts the follow-ups again;
rejecting an ask's first email ends the ask; and no event leaves an ask stranded
(see also test_dead_ends.py).
"""

from __future__ import annotations

from datetime import datetime

import pytest

from maild.core.engine import decide
from maild.core.events import (
    AskCreated,
    Bounce,
    DraftApproved,
    DraftRejected,
    Event,
    HumanReply,
    LetterServiceNotification,
    Mark,
    MessageSent,
    StepDue,
    ThreadChosen,
    UserMarked,
)
from maild.core.model import Ask, AskState, Intent, StepStatus
from maild.errors import UsageError

from .helpers import kinds, local, new_ask, replay
from .test_engine_table import (
    COLD_INITIAL_FAILED,
    COLD_NO_RESPONSE,
    COLD_NUDGE_DRAFTED,
    COLD_SENT,
    DEADLINE,
    LETTER_SENT,
    LETTER_SUBMITTED,
    UPDATE_CREATED,
    C,
    D,
    P,
    Row,
    S,
    june,
)
from .test_engine_table import test_table as check_row

COLD_CREATED: list[tuple[Event, datetime]] = [(AskCreated(), june(1))]
COLD_REJECTED: list[tuple[Event, datetime]] = [
    (AskCreated(), june(1)), (DraftRejected("initial"), june(1, 11))]
COLD_QUESTION = [*COLD_SENT, (HumanReply(Intent.QUESTION, at=june(3)), june(3))]
COLD_NUDGE_CALLED_OFF = [*COLD_NUDGE_DRAFTED, (HumanReply(Intent.QUESTION, at=june(8, 9)),
                                               june(8, 9))]
LETTER_DECLINED = [*LETTER_SENT, (HumanReply(Intent.DECLINE, at=june(2)), june(2))]

ROWS = [
    # -- maild's draft sent by hand: as if maild had sent it -----------------------------
    Row("hand-sent first draft is sent", "cold", COLD_CREATED,
        MessageSent("initial", message_id="<d@x>", at=june(1, 12)), june(1, 12),
        AskState.WAITING_REPLY, {"ChangeState"}, {"initial": S, "nudge": P}),
    Row("hand-sent approved draft is sent", "cold",
        [*COLD_NUDGE_DRAFTED, (DraftApproved("nudge"), june(8, 9))],
        MessageSent("nudge", message_id="<n@x>", at=june(8, 10)), june(8, 10),
        AskState.WAITING_REPLY, set(), {"nudge": S, "final_nudge": P}),
    Row("hand-sent failed first mail releases the hold", "cold", COLD_INITIAL_FAILED,
        MessageSent("initial", message_id="<d@x>", at=june(1, 12)), june(1, 12),
        AskState.WAITING_REPLY, {"ChangeState"}, {"initial": S, "nudge": P}),
    Row("hand-sent rejected first draft revives the ask", "cold", COLD_REJECTED,
        MessageSent("initial", message_id="<d@x>", at=june(2)), june(2),
        AskState.WAITING_REPLY, {"ChangeState", "ScheduleStep"},
        {"initial": S, "nudge": P, "final_nudge": P, "stop": P}, closed=False),
    # It went out after the mentor's question, so it answers it: the one follow-up left
    # restarts from the first rung (a fresh nudge), the final nudge is not planned.
    Row("hand-sent nudge called off by a reply: sent, ladder again", "cold",
        COLD_NUDGE_CALLED_OFF, MessageSent("nudge", message_id="<n@x>", at=june(8, 12)),
        june(8, 12), AskState.WAITING_REPLY, {"ScheduleStep"},
        {"nudge": P, "final_nudge": C, "stop": P}),
    # -- rejecting: no stranded ask ---------------------------------------------------
    Row("rejecting the first email cancels the ask and its nudges", "cold", COLD_CREATED,
        DraftRejected("initial"), june(1, 11), AskState.CANCELLED,
        {"CancelSteps", "ChangeState", "Notify"},
        {"initial": C, "nudge": C, "final_nudge": C, "stop": C}, closed=True),
    Row("rejecting a letter request cancels its reminders", "letter", [(AskCreated(), june(1))],
        DraftRejected("request"), june(1, 11), AskState.CANCELLED, {"Notify"},
        {"request": C, "reminder": C, "final_reminder": C, "call_office": C, "deadline": C},
        closed=True),
    Row("rejecting the thanks closes a submitted letter", "letter", LETTER_SUBMITTED,
        DraftRejected("thanks"), june(19, 11), AskState.CLOSED, {"ChangeState"},
        {"thanks": C}, closed=True),
    Row("rejecting an update plans the next one", "update", UPDATE_CREATED,
        DraftRejected("update"), june(1, 11), AskState.ACTIVE, {"ScheduleStep"}, {"update": P}),
    # -- the user's own messages --------------------------------------------------------
    Row("meeting proposed, the user answers: nudges again", "cold",
        [*COLD_SENT, (HumanReply(Intent.MEETING, at=june(3)), june(3))],
        MessageSent(by_user=True, message_id="<u@x>", at=june(3, 12)), june(3, 12),
        AskState.WAITING_REPLY, {"ScheduleStep"},
        {"nudge": P, "final_nudge": P, "stop": P}),
    Row("unclear reply, the user answers: nudges again", "cold",
        [*COLD_SENT, (HumanReply(Intent.UNCLEAR, at=june(3)), june(3))],
        MessageSent(by_user=True, message_id="<u@x>", at=june(3, 12)), june(3, 12),
        AskState.WAITING_REPLY, {"ScheduleStep"}, {"nudge": P, "stop": P}),
    Row("question answered by hand: nudges again", "cold", COLD_QUESTION,
        MessageSent(by_user=True, message_id="<u@x>", at=june(3, 12)), june(3, 12),
        AskState.WAITING_REPLY, {"ScheduleStep"}, {"nudge": P, "stop": P}),
    Row("the user's new thread is contact", "cold", COLD_SENT,
        MessageSent(by_user=True, message_id="<new@x>", at=june(4), new_thread=True), june(4),
        AskState.WAITING_REPLY, {"ScheduleStep"}, {"nudge": P}),
    Row("a Sent copy filed after the mentor's answer moves nothing back", "cold",
        COLD_QUESTION, MessageSent(by_user=True, message_id="<u@x>", at=june(2, 12)),
        june(3, 1), AskState.QUESTION, set(), {"nudge": C}),
    Row("the user chooses the thread", "cold", COLD_SENT, ThreadChosen("<new@x>"), june(4),
        AskState.WAITING_REPLY, set(), {"nudge": P}),
    # -- events that do not apply to the ask ---------------------------------------------
    Row("a letter notice for a cold ask is only news", "cold", COLD_SENT,
        LetterServiceNotification(), june(3), AskState.WAITING_REPLY, {"Notify"}, {"nudge": P}),
    Row("a hard bounce on an ended ask keeps it ended", "cold", COLD_NO_RESPONSE,
        Bounce(True, ("a@x.edu",), "5.1.1"), june(23), AskState.NO_RESPONSE, {"Notify"},
        closed=True),
    Row("a yes after a no brings the reminders back", "letter", LETTER_DECLINED,
        HumanReply(Intent.AGREE, at=june(4)), june(4), AskState.AGREED, {"ScheduleStep"},
        {"reminder": P, "final_reminder": P, "deadline": P, "packet": D}),
    Row("a hesitant reply tells the user", "cold", COLD_SENT, HumanReply(Intent.HESITANT),
        june(3), AskState.HESITANT, {"Notify", "CreateDraft"}),
]


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_own_mail_table(row: Row) -> None:
    check_row(row)


def _ask_after(history: list[tuple[Event, datetime]], playbook: str = "cold") -> Ask:
    deadline = DEADLINE if playbook == "letter" else None
    return replay(new_ask(playbook, deadline=deadline), history).ask


def test_a_new_thread_moves_the_next_nudge_and_keeps_the_gaps() -> None:
    before = _ask_after(COLD_SENT)
    nudge, final = before.open_step("nudge"), before.open_step("final_nudge")
    assert nudge is not None and final is not None
    after = decide(before, MessageSent(by_user=True, message_id="<new@x>", at=june(4),
                                       new_thread=True), june(4)).ask
    moved, moved_final = after.open_step("nudge"), after.open_step("final_nudge")
    assert moved is not None and moved_final is not None
    # Five days after the user's message (Thursday June 4 -> Tuesday June 9), not after
    # the first email; the final nudge keeps its week after the nudge.
    assert local(moved.due_at).date() == june(9).date()
    assert (local(moved_final.due_at).date() - local(moved.due_at).date()) == \
        (local(final.due_at).date() - local(nudge.due_at).date())
    # Contact, but not the thread the nudge replies in.
    assert after.last_contact_at == june(4)
    assert "<new@x>" not in after.thread_message_ids
    assert after.thread_message_ids == before.thread_message_ids


def test_contact_never_brings_a_nudge_sooner() -> None:
    before = _ask_after(COLD_SENT)
    # An own message within minutes of the first email: the nudge stays where it was.
    after = decide(before, MessageSent(by_user=True, at=june(1, 10, 3)), june(1, 10, 3)).ask
    assert after.open_step("nudge") == before.open_step("nudge")


def test_the_users_first_message_in_a_new_thread_is_the_thread() -> None:
    before = _ask_after(COLD_CREATED)
    after = decide(before, MessageSent(by_user=True, message_id="<own@x>", at=june(1, 11),
                                       new_thread=True), june(1, 11)).ask
    assert after.thread_message_ids == ("<own@x>",)
    assert after.latest_step("initial").status is StepStatus.SUPERSEDED  # type: ignore[union-attr]


def test_the_chosen_thread_is_the_one_replied_to() -> None:
    before = decide(_ask_after(COLD_SENT), MessageSent(
        by_user=True, message_id="<new@x>", at=june(4), new_thread=True), june(4)).ask
    chosen = decide(before, ThreadChosen("<new@x>"), june(4, 11)).ask
    assert chosen.thread_message_ids[-1] == "<new@x>"
    again = decide(chosen, ThreadChosen("<i@x>"), june(4, 12)).ask
    assert again.thread_message_ids == ("<new@x>", "<i@x>")


def test_a_revived_step_is_a_new_sent_step_beside_the_cancelled_one() -> None:
    before = _ask_after(COLD_NUDGE_CALLED_OFF)
    after = decide(before, MessageSent("nudge", message_id="<n@x>", at=june(8, 12)),
                   june(8, 12)).ask
    statuses = [s.status for s in after.steps if s.name == "nudge"]
    # ...and the one follow-up the playbook still allows, planned afresh.
    assert statuses == [C, S, P]
    assert after.unanswered_followups == 1
    assert "<n@x>" in after.thread_message_ids


def test_the_mentor_never_gets_a_chaser_for_a_rejected_first_email() -> None:
    ask = _ask_after(COLD_REJECTED)
    # Days later nothing is due: every step is final, and the ask is over.
    for name in ("nudge", "final_nudge", "stop"):
        decision = decide(ask, StepDue(name), june(25))
        assert "CreateDraft" not in kinds(decision.actions)
    assert ask.closed_at is not None


def test_marking_a_cold_ask_submitted_is_refused() -> None:
    with pytest.raises(UsageError, match="no letter"):
        decide(_ask_after(COLD_SENT), UserMarked(Mark.SUBMITTED), june(3))


def test_a_late_copy_never_moves_contact_back() -> None:
    answered = decide(_ask_after(COLD_QUESTION), MessageSent(by_user=True, at=june(5)),
                      june(5)).ask
    assert answered.last_contact_at == june(5)
    # A copy of an older message of the user's is filed in Sent only now.
    late = decide(answered, MessageSent(by_user=True, at=june(2, 12)), june(5, 11))
    assert late.ask.last_contact_at == june(5)
    assert late.ask.state is AskState.WAITING_REPLY
    assert "ScheduleStep" not in kinds(late.actions)
