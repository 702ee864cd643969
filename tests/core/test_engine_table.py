"""Table-driven engine tests: (playbook, history, event, now) -> (state, actions, steps)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import pytest

from maild.core.actions import (
    CancelSteps,
    CreateDraft,
    CreateTask,
    Level,
    Notify,
    SendStep,
    StartAsk,
    SuggestCandidates,
)
from maild.core.engine import decide
from maild.core.events import (
    AskCreated,
    AutoReply,
    Bounce,
    DeadlineChanged,
    DraftApproved,
    DraftEdited,
    DraftRejected,
    Event,
    HumanReply,
    LetterServiceNotification,
    Mark,
    MeetingHeld,
    MessageSent,
    OutcomeRecorded,
    SendFailed,
    SendRetry,
    StepDue,
    ThreadChosen,
    UserMarked,
)
from maild.core.model import AskState, Intent, StepStatus

from .helpers import NY, kinds, new_ask, replay

P, D, A, S = StepStatus.PLANNED, StepStatus.DRAFTED, StepStatus.APPROVED, StepStatus.SENT
C, SUP, DONE = StepStatus.CANCELLED, StepStatus.SUPERSEDED, StepStatus.DONE


def june(day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(2026, 6, day, hour, minute, tzinfo=NY)


def aug(day: int, hour: int = 10) -> datetime:
    return datetime(2026, 8, day, hour, tzinfo=NY)


DEADLINE = date(2026, 8, 14)  # a Friday, 74 days after Monday June 1

# Histories the rows build on. Cold and warm asks start Monday June 1, 10:00 New York.
COLD_SENT: list[tuple[Event, datetime]] = [
    (AskCreated(), june(1)),
    (DraftApproved("initial"), june(1, 10, 1)),
    (MessageSent("initial", message_id="<i@x>", at=june(1, 10, 2)), june(1, 10, 2)),
]
COLD_NUDGE_DRAFTED = [*COLD_SENT, (StepDue("nudge"), june(8, 8))]
# Each follow-up counts from the one before it going out: nudge sent Monday June 8 09:01,
# final nudge 7 days later, the stop 8 days after that.
COLD_NUDGE_SENT = [*COLD_NUDGE_DRAFTED, (DraftApproved("nudge"), june(8, 9)),
                   (MessageSent("nudge", at=june(8, 9, 1)), june(8, 9, 1))]
COLD_FINAL_SENT = [*COLD_NUDGE_SENT, (StepDue("final_nudge"), june(15, 9, 1)),
                   (DraftApproved("final_nudge"), june(15, 10)),
                   (MessageSent("final_nudge", at=june(15, 10)), june(15, 10))]
COLD_INITIAL_APPROVED: list[tuple[Event, datetime]] = [
    (AskCreated(), june(1)),
    (DraftApproved("initial"), june(1, 10, 1)),
]
COLD_INITIAL_FAILED = [
    *COLD_INITIAL_APPROVED, (SendFailed("initial", detail="535 5.7.8 login refused"), june(1, 11)),
]
COLD_INITIAL_UNCERTAIN = [
    *COLD_INITIAL_APPROVED, (SendFailed("initial", uncertain=True), june(1, 11)),
]
COLD_NO_RESPONSE = [*COLD_FINAL_SENT, (StepDue("stop"), june(23, 10))]
FAILED, UNCERTAIN = StepStatus.FAILED, StepStatus.UNCERTAIN
WARM_SENT: list[tuple[Event, datetime]] = [
    (AskCreated(), june(1)),
    (MessageSent("initial", at=june(1, 11)), june(1, 11)),
]
WARM_NUDGE_SENT = [*WARM_SENT, (StepDue("nudge"), june(8, 11)),
                   (MessageSent("nudge", at=june(8, 12)), june(8, 12))]
LETTER_SENT: list[tuple[Event, datetime]] = [
    (AskCreated(), june(1)),
    (MessageSent("request", at=june(1, 11)), june(1, 11)),
]
LETTER_AGREED = [*LETTER_SENT, (HumanReply(Intent.AGREE, at=june(2)), june(2))]
LETTER_SUBMITTED = [*LETTER_AGREED, (LetterServiceNotification(), june(19))]
# The materials went out the day after the yes; reminders wait for them.
LETTER_PACKET_SENT = [*LETTER_AGREED, (MessageSent("packet", at=june(3, 9)), june(3, 9))]
LETTER_REMINDED = [*LETTER_PACKET_SENT, (StepDue("reminder"), datetime(2026, 7, 31, 8, tzinfo=NY)),
                   (MessageSent("reminder", at=datetime(2026, 7, 31, 9, tzinfo=NY)),
                    datetime(2026, 7, 31, 9, tzinfo=NY))]
MEETING_AT = june(3, 14)
MEETING_CREATED: list[tuple[Event, datetime]] = [(AskCreated(), june(1))]
MEETING_SUMMARY_SENT = [*MEETING_CREATED, (StepDue("summary"), june(3, 16)),
                        (MessageSent("summary", at=june(3, 16, 30)), june(3, 16, 30))]
UPDATE_CREATED: list[tuple[Event, datetime]] = [(AskCreated(), june(1))]
THANKS_CREATED: list[tuple[Event, datetime]] = [(AskCreated(), june(1))]


@dataclass(frozen=True)
class Row:
    id: str
    playbook: str
    history: list[tuple[Event, datetime]]
    event: Event
    now: datetime
    state: AskState
    actions: set[str] = field(default_factory=set)  # action kinds that must appear
    steps: dict[str, StepStatus] = field(default_factory=dict)
    no_actions: bool = False
    closed: bool | None = None


ROWS = [
    # ---------------------------------------------------------------- cold
    Row("cold created", "cold", [], AskCreated(), june(1), AskState.WAITING_FOR_YOU,
        {"ScheduleStep", "CreateDraft"}, {"initial": D, "nudge": P, "final_nudge": P, "stop": P}),
    Row("cold approved", "cold", [(AskCreated(), june(1))], DraftApproved("initial"), june(1, 11),
        AskState.ACTIVE, {"SendStep"}, {"initial": A}),
    Row("cold sent", "cold", COLD_SENT[:2], COLD_SENT[2][0], june(1, 10, 2),
        AskState.WAITING_REPLY, {"ChangeState"}, {"initial": S, "nudge": P}),
    Row("cold nudge due", "cold", COLD_SENT, StepDue("nudge"), june(8, 8),
        AskState.WAITING_REPLY, {"CreateDraft"}, {"nudge": D}),
    Row("cold nudge woken early", "cold", COLD_SENT, StepDue("nudge"), june(5, 9),
        AskState.WAITING_REPLY, set(), {"nudge": P}, no_actions=True),
    Row("cold nudge sent", "cold", [*COLD_NUDGE_DRAFTED, (DraftApproved("nudge"), june(8, 9))],
        MessageSent("nudge", at=june(8, 9, 1)), june(8, 9, 1), AskState.WAITING_REPLY,
        set(), {"nudge": S, "final_nudge": P}),
    Row("cold final nudge due", "cold", COLD_NUDGE_SENT, StepDue("final_nudge"),
        june(15, 9, 1), AskState.WAITING_REPLY, {"CreateDraft"}, {"final_nudge": D}),
    Row("cold final nudge waits for the unsent nudge", "cold", COLD_NUDGE_DRAFTED,
        StepDue("final_nudge"), june(15, 8), AskState.WAITING_REPLY, {"ScheduleStep"},
        {"nudge": D, "final_nudge": P}),
    Row("cold stop 8 days after the final nudge", "cold", COLD_FINAL_SENT, StepDue("stop"),
        june(23, 10), AskState.NO_RESPONSE, {"ChangeState", "SuggestCandidates", "Notify"},
        {"stop": DONE, "final_nudge": S}, closed=True),
    Row("cold stop waits while the first email is unsent", "cold",
        [(AskCreated(), june(1))], StepDue("stop"), june(22, 8), AskState.WAITING_FOR_YOU,
        {"ScheduleStep"}, {"initial": D, "stop": P}),
    Row("cold agree", "cold", COLD_NUDGE_DRAFTED, HumanReply(Intent.AGREE), june(8, 9),
        AskState.AGREED, {"CancelSteps"}, {"nudge": C, "final_nudge": C, "stop": C},
        closed=True),
    Row("cold hesitant", "cold", COLD_SENT, HumanReply(Intent.HESITANT), june(3),
        AskState.HESITANT, {"CreateDraft", "SuggestCandidates", "CancelSteps"},
        {"clarify": D, "nudge": C, "stop": C}),
    Row("cold decline", "cold", COLD_SENT, HumanReply(Intent.DECLINE), june(3),
        AskState.DECLINED, {"CreateDraft", "SuggestCandidates"},
        {"decline_thanks": D, "nudge": C}, closed=False),
    Row("cold decline thanks sent", "cold",
        [*COLD_SENT, (HumanReply(Intent.DECLINE), june(3))],
        MessageSent("decline_thanks"), june(3, 11), AskState.DECLINED, set(),
        {"decline_thanks": S}, closed=True),
    Row("cold question", "cold", COLD_SENT, HumanReply(Intent.QUESTION), june(3),
        AskState.QUESTION, {"Notify", "CancelSteps"}, {"nudge": C, "stop": C}),
    Row("cold meeting", "cold", COLD_SENT, HumanReply(Intent.MEETING), june(3),
        AskState.MEETING, {"Notify"}, {"nudge": C}),
    Row("cold unclear", "cold", COLD_SENT, HumanReply(Intent.UNCLEAR), june(3),
        AskState.REPLIED, {"Notify"}, {"nudge": C}),
    Row("cold 'submitted' means nothing", "cold", COLD_SENT, HumanReply(Intent.SUBMITTED),
        june(3), AskState.REPLIED, {"Notify"}, {"nudge": C}),
    Row("cold auto-reply", "cold", COLD_SENT, AutoReply(return_date=date(2026, 6, 17)),
        june(2), AskState.WAITING_REPLY, {"ScheduleStep", "Notify"}, {"nudge": P}),
    Row("cold hard bounce", "cold", COLD_SENT, Bounce(True, ("a@x.edu",), "5.1.1"), june(1, 11),
        AskState.NEEDS_ADDRESS, {"Notify"}, {"nudge": P}),
    Row("cold soft bounce", "cold", COLD_SENT, Bounce(False, ("a@x.edu",)), june(1, 11),
        AskState.WAITING_REPLY, {"Notify"}, {"nudge": P}),
    Row("cold user sends own nudge", "cold", COLD_NUDGE_DRAFTED,
        MessageSent(by_user=True, message_id="<u@x>"), june(8, 9), AskState.WAITING_REPLY,
        {"SupersedeSteps"}, {"nudge": SUP, "final_nudge": P}),
    Row("cold thread chosen", "cold", COLD_SENT, ThreadChosen("<own@x>"), june(2),
        AskState.WAITING_REPLY, set(), {"nudge": P}),
    Row("cold draft rejected", "cold", COLD_NUDGE_DRAFTED, DraftRejected("nudge"), june(8, 9),
        AskState.WAITING_REPLY, {"CancelSteps"}, {"nudge": C, "final_nudge": P}),
    Row("cold approved draft edited", "cold",
        [*COLD_NUDGE_DRAFTED, (DraftApproved("nudge"), june(8, 9))],
        DraftEdited("nudge"), june(8, 9, 5), AskState.WAITING_REPLY, set(), {"nudge": D}),
    Row("cold send uncertain", "cold",
        [*COLD_NUDGE_DRAFTED, (DraftApproved("nudge"), june(8, 9))],
        SendFailed("nudge", uncertain=True), june(8, 9, 5), AskState.WAITING_REPLY,
        {"Notify"}, {"nudge": StepStatus.UNCERTAIN}),
    Row("cold send failed", "cold",
        [*COLD_NUDGE_DRAFTED, (DraftApproved("nudge"), june(8, 9))],
        SendFailed("nudge"), june(8, 9, 5), AskState.WAITING_REPLY,
        {"Notify"}, {"nudge": StepStatus.FAILED}),
    Row("cold pause", "cold", COLD_SENT, UserMarked(Mark.PAUSE), june(2),
        AskState.PAUSED, {"ChangeState"}, {"nudge": P}),
    Row("cold paused nudge is held", "cold", [*COLD_SENT, (UserMarked(Mark.PAUSE), june(2))],
        StepDue("nudge"), june(8, 8), AskState.PAUSED, set(), {"nudge": P}, no_actions=True),
    Row("cold resume drafts the overdue nudge", "cold",
        [*COLD_SENT, (UserMarked(Mark.PAUSE), june(2))],
        UserMarked(Mark.RESUME), june(9, 9), AskState.WAITING_REPLY,
        {"ChangeState", "CreateDraft"}, {"nudge": D}),
    Row("cold cancel", "cold", COLD_SENT, UserMarked(Mark.CANCEL), june(2),
        AskState.CANCELLED, {"CancelSteps"}, {"nudge": C, "stop": C}, closed=True),
    Row("cold marked declined", "cold", COLD_SENT, UserMarked(Mark.DECLINED), june(2),
        AskState.DECLINED, {"SuggestCandidates"}, {"nudge": C}, closed=True),
    Row("cold marked agreed", "cold", COLD_SENT, UserMarked(Mark.AGREED), june(2),
        AskState.AGREED, {"CancelSteps"}, {"nudge": C}, closed=True),
    Row("cold late yes reopens", "cold", [*COLD_SENT, (StepDue("stop"), june(22, 8))],
        HumanReply(Intent.AGREE), june(25), AskState.AGREED, {"ChangeState"}, {}),
    # A failed first mail holds the ask: no nudge about a mail the mentor never got.
    Row("cold initial fails for good: the ask is held", "cold", COLD_INITIAL_APPROVED,
        SendFailed("initial", detail="535"), june(1, 11), AskState.SEND_FAILED,
        {"Notify", "ChangeState"}, {"initial": FAILED, "nudge": P, "stop": P}, closed=False),
    Row("cold held by a failed initial drafts no nudge", "cold", COLD_INITIAL_FAILED,
        StepDue("nudge"), june(8, 8), AskState.SEND_FAILED, set(), {"nudge": P},
        no_actions=True),
    Row("cold held by a failed initial does not stop the ladder", "cold", COLD_INITIAL_FAILED,
        StepDue("stop"), june(22, 8), AskState.SEND_FAILED, set(), {"stop": P},
        no_actions=True),
    Row("cold retry of the failed initial releases the ask", "cold", COLD_INITIAL_FAILED,
        SendRetry("initial"), june(2), AskState.ACTIVE, {"ChangeState"},
        {"initial": A, "nudge": P}),
    Row("cold resume does not release a failed initial", "cold", COLD_INITIAL_FAILED,
        UserMarked(Mark.RESUME), june(2), AskState.SEND_FAILED, {"Notify"},
        {"initial": FAILED}),
    Row("cold user sends the failed initial themselves", "cold", COLD_INITIAL_FAILED,
        MessageSent(by_user=True, message_id="<own@x>", at=june(2)), june(2),
        AskState.WAITING_REPLY, {"SupersedeSteps"}, {"initial": SUP, "nudge": P}),
    Row("cold cancel covers a failed initial", "cold", COLD_INITIAL_FAILED,
        UserMarked(Mark.CANCEL), june(2), AskState.CANCELLED, {"CancelSteps"},
        {"initial": C, "nudge": C}, closed=True),
    Row("cold a nudge failure does not hold", "cold",
        [*COLD_NUDGE_DRAFTED, (DraftApproved("nudge"), june(8, 9))],
        SendFailed("nudge"), june(8, 9, 5), AskState.WAITING_REPLY, {"Notify"},
        {"nudge": FAILED}),
    # An uncertain send is called off by the ask's end; putting it back changes nothing.
    Row("cold decline cancels an uncertain initial", "cold", COLD_INITIAL_UNCERTAIN,
        HumanReply(Intent.DECLINE), june(2), AskState.DECLINED, {"CancelSteps"},
        {"initial": C, "decline_thanks": D}),
    Row("cold 'not sent' after a decline does not re-approve", "cold",
        [*COLD_INITIAL_UNCERTAIN, (HumanReply(Intent.DECLINE), june(2))],
        SendRetry("initial"), june(2, 11), AskState.DECLINED, set(), {"initial": C},
        no_actions=True),
    Row("cold 'not sent' of an uncertain initial re-approves", "cold", COLD_INITIAL_UNCERTAIN,
        SendRetry("initial"), june(1, 12), AskState.ACTIVE, set(), {"initial": A}),
    Row("cold reply cancels an uncertain nudge", "cold",
        [*COLD_NUDGE_DRAFTED, (DraftApproved("nudge"), june(8, 9)),
         (SendFailed("nudge", uncertain=True), june(8, 9, 5))],
        HumanReply(Intent.QUESTION), june(8, 11), AskState.QUESTION, {"CancelSteps"},
        {"nudge": C}),
    Row("cold hard bounce redrafts an approved nudge", "cold",
        [*COLD_NUDGE_DRAFTED, (DraftApproved("nudge"), june(8, 9))],
        Bounce(True, ("a@x.edu",), "5.1.1"), june(8, 10), AskState.NEEDS_ADDRESS,
        {"CancelSteps", "Notify"}, {"nudge": P}),
    # closed_at follows the state: cleared when a late reply brings the ask back.
    Row("cold no response is closed", "cold", COLD_FINAL_SENT, StepDue("stop"), june(23, 10),
        AskState.NO_RESPONSE, {"ChangeState"}, {"stop": DONE}, closed=True),
    Row("cold late question reopens", "cold", COLD_NO_RESPONSE, HumanReply(Intent.QUESTION),
        june(25), AskState.QUESTION, {"ChangeState"}, {}, closed=False),
    # Both follow-ups went out before the question: only the stop is planned again.
    Row("cold answered late question plans the stop again", "cold",
        [*COLD_NO_RESPONSE, (HumanReply(Intent.QUESTION), june(25))],
        MessageSent(by_user=True, at=june(26)), june(26), AskState.WAITING_REPLY,
        {"ScheduleStep"}, {"nudge": S, "final_nudge": S, "stop": P}, closed=False),
    Row("cold late decline reopens until the thanks is sent", "cold", COLD_NO_RESPONSE,
        HumanReply(Intent.DECLINE), june(25), AskState.DECLINED, {"CreateDraft"},
        {"decline_thanks": D}, closed=False),
    # ---------------------------------------------------------------- warm
    Row("warm created", "warm", [], AskCreated(), june(1), AskState.WAITING_FOR_YOU,
        {"CreateDraft"}, {"initial": D, "nudge": P, "stop": P}),
    Row("warm nudge day 7", "warm", WARM_SENT, StepDue("nudge"), june(8, 11),
        AskState.WAITING_REPLY, {"CreateDraft"}, {"nudge": D}),
    Row("warm stop 7 days after the nudge", "warm", WARM_NUDGE_SENT, StepDue("stop"),
        june(15, 12), AskState.NO_RESPONSE, {"ChangeState"}, {"stop": DONE, "nudge": S},
        closed=True),
    Row("warm agree", "warm", WARM_SENT, HumanReply(Intent.AGREE), june(2),
        AskState.AGREED, {"CancelSteps"}, {"nudge": C, "stop": C}, closed=True),
    # ---------------------------------------------------------------- letter
    Row("letter created", "letter", [], AskCreated(), june(1), AskState.WAITING_FOR_YOU,
        {"CreateDraft"}, {"request": D, "reminder": P, "final_reminder": P, "call_office": P,
                          "deadline": P}),
    Row("letter agree -> packet", "letter", LETTER_SENT, HumanReply(Intent.AGREE), june(2),
        AskState.AGREED, {"CreateDraft", "ChangeState"}, {"packet": D, "reminder": P}),
    Row("letter hesitant", "letter", LETTER_SENT, HumanReply(Intent.HESITANT), june(2),
        AskState.HESITANT, {"CreateDraft", "SuggestCandidates"},
        {"clarify": D, "reminder": P}),
    Row("letter hesitant then agree", "letter",
        [*LETTER_SENT, (HumanReply(Intent.HESITANT), june(2))], HumanReply(Intent.AGREE),
        june(3), AskState.AGREED, {"CreateDraft"}, {"packet": D, "clarify": D}),
    Row("letter decline", "letter", LETTER_SENT, HumanReply(Intent.DECLINE), june(2),
        AskState.DECLINED, {"CreateDraft", "CancelSteps", "SuggestCandidates"},
        {"decline_thanks": D, "reminder": C, "call_office": C, "deadline": C}),
    Row("letter question keeps reminders", "letter", LETTER_AGREED,
        HumanReply(Intent.QUESTION), june(5), AskState.AGREED, {"Notify"}, {"reminder": P}),
    Row("letter reminder -14 d", "letter", LETTER_PACKET_SENT, StepDue("reminder"), datetime(
        2026, 7, 31, 8, tzinfo=NY), AskState.AGREED, {"CreateDraft"}, {"reminder": D}),
    Row("letter reminder waits for the unsent packet", "letter", LETTER_AGREED,
        StepDue("reminder"), datetime(2026, 7, 31, 8, tzinfo=NY), AskState.AGREED,
        {"ScheduleStep"}, {"packet": D, "reminder": P}),
    Row("letter final reminder -5 d", "letter", LETTER_REMINDED, StepDue("final_reminder"),
        aug(10, 8), AskState.AGREED, {"CreateDraft"}, {"final_reminder": D}),
    Row("letter call office -2 d", "letter", LETTER_AGREED, StepDue("call_office"),
        aug(12, 8), AskState.AGREED, {"CreateTask"}, {"call_office": DONE}),
    Row("letter missed deadline", "letter", LETTER_AGREED, StepDue("deadline"), aug(15, 0),
        AskState.MISSED_DEADLINE, {"Notify", "ChangeState"}, {"deadline": DONE}),
    Row("letter submitted (mentor says)", "letter", LETTER_AGREED,
        HumanReply(Intent.SUBMITTED), june(19), AskState.SUBMITTED,
        {"CancelSteps", "CreateDraft"},
        {"reminder": C, "final_reminder": C, "call_office": C, "deadline": C, "thanks": D}),
    Row("letter submitted (service)", "letter", LETTER_AGREED, LetterServiceNotification(),
        june(19), AskState.SUBMITTED, {"CancelSteps", "CreateDraft"},
        {"reminder": C, "thanks": D}),
    Row("letter service note, not a submission", "letter", LETTER_AGREED,
        LetterServiceNotification(submitted=False, service="ERAS"), june(19), AskState.AGREED,
        {"Notify"}, {"reminder": P}),
    Row("letter marked submitted", "letter", LETTER_AGREED, UserMarked(Mark.SUBMITTED),
        june(19), AskState.SUBMITTED, {"CreateDraft"}, {"reminder": C, "thanks": D}),
    Row("letter deadline check after submission is a no-op", "letter", LETTER_SUBMITTED,
        StepDue("deadline"), aug(15, 0), AskState.SUBMITTED, set(), {"deadline": C},
        no_actions=True),
    Row("letter chatter after submission", "letter", LETTER_SUBMITTED,
        HumanReply(Intent.AGREE), june(22), AskState.SUBMITTED, set(), {"thanks": D}),
    Row("letter thanks sent closes", "letter", LETTER_SUBMITTED, MessageSent("thanks"),
        june(19, 11), AskState.CLOSED, {"ChangeState"}, {"thanks": S}, closed=True),
    Row("letter outcome", "letter", LETTER_AGREED, OutcomeRecorded("matched at X"), aug(20),
        AskState.CLOSED, {"StartAsk", "CancelSteps"}, {"reminder": C}, closed=True),
    Row("letter hard bounce", "letter", LETTER_SENT, Bounce(True, ("dean@x.edu",)),
        june(1, 12), AskState.NEEDS_ADDRESS, {"Notify"}, {"reminder": P}),
    Row("letter reply sends an approved reminder back for approval", "letter",
        [*LETTER_PACKET_SENT, (StepDue("reminder"), datetime(2026, 7, 31, 8, tzinfo=NY)),
         (DraftApproved("reminder"), datetime(2026, 7, 31, 9, tzinfo=NY))],
        HumanReply(Intent.QUESTION), datetime(2026, 7, 31, 10, tzinfo=NY), AskState.AGREED,
        {"CancelSteps", "ScheduleStep", "Notify"}, {"reminder": P}),
    Row("letter request fails for good: held", "letter",
        [(AskCreated(), june(1)), (DraftApproved("request"), june(1, 11))],
        SendFailed("request", detail="attachment unreadable"), june(1, 12),
        AskState.SEND_FAILED, {"Notify"}, {"request": FAILED, "reminder": P}),
    Row("letter deadline later", "letter", LETTER_AGREED, DeadlineChanged(date(2026, 9, 1)),
        june(5), AskState.AGREED, {"ScheduleStep", "Notify"}, {"reminder": P}),
    # ---------------------------------------------------------------- meeting
    Row("meeting created with a time", "meeting", [], AskCreated(), june(1), AskState.ACTIVE,
        {"ScheduleStep"}, {"summary": P, "followup": P}),
    Row("meeting summary due", "meeting", MEETING_CREATED, StepDue("summary"), june(3, 16),
        AskState.WAITING_FOR_YOU, {"CreateDraft"}, {"summary": D}),
    Row("meeting held earlier than planned", "meeting", MEETING_CREATED,
        MeetingHeld(june(3, 9)), june(3, 12), AskState.WAITING_FOR_YOU, {"CreateDraft"},
        {"summary": D, "followup": P}),
    Row("meeting summary sent", "meeting",
        [*MEETING_CREATED, (StepDue("summary"), june(3, 16))], MessageSent("summary"),
        june(3, 16, 30), AskState.WAITING_REPLY, set(), {"summary": S, "followup": P}),
    Row("meeting follow-up due", "meeting", MEETING_SUMMARY_SENT, StepDue("followup"),
        june(10, 16, 30), AskState.WAITING_REPLY, {"CreateDraft"}, {"followup": D}),
    Row("meeting reply closes", "meeting",
        [*MEETING_CREATED, (StepDue("summary"), june(3, 16)),
         (MessageSent("summary"), june(3, 16, 30))],
        HumanReply(Intent.AGREE), june(4), AskState.CLOSED, {"CancelSteps"},
        {"followup": C}, closed=True),
    # ---------------------------------------------------------------- update
    Row("update created", "update", [], AskCreated(), june(1), AskState.WAITING_FOR_YOU,
        {"CreateDraft"}, {"update": D}),
    Row("update sent recurs", "update", UPDATE_CREATED, MessageSent("update"), june(1, 11),
        AskState.ACTIVE, {"ScheduleStep"}, {"update": P}),
    Row("update reply changes nothing", "update",
        [*UPDATE_CREATED, (MessageSent("update"), june(1, 11))], HumanReply(Intent.AGREE),
        june(2), AskState.ACTIVE, set(), {"update": P}),
    # ---------------------------------------------------------------- thanks
    Row("thanks created", "thanks", [], AskCreated(), june(1), AskState.WAITING_FOR_YOU,
        {"CreateDraft"}, {"thanks": D}),
    Row("thanks sent closes", "thanks", THANKS_CREATED, MessageSent("thanks"), june(1, 11),
        AskState.CLOSED, {"ChangeState"}, {"thanks": S}, closed=True),
]


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_table(row: Row) -> None:
    deadline = DEADLINE if row.playbook == "letter" else None
    meeting_at = MEETING_AT if row.playbook == "meeting" else None
    before = replay(new_ask(row.playbook, deadline=deadline, meeting_at=meeting_at),
                    row.history).ask
    decision = decide(before, row.event, row.now)
    assert decision.ask.state is row.state
    missing = row.actions - set(kinds(decision.actions))
    assert not missing, f"missing {missing} in {kinds(decision.actions)}"
    if row.no_actions:
        assert decision.actions == ()
        assert decision.ask == before
    for name, status in row.steps.items():
        found = decision.ask.latest_step(name)
        assert found is not None, f"no step {name}"
        assert found.status is status, f"{name}: {found.status} != {status}"
    if row.closed is not None:
        assert (decision.ask.closed_at is not None) is row.closed


def test_every_event_type_is_in_the_table() -> None:
    from maild.core import events

    covered = {type(r.event) for r in ROWS} | {type(e) for r in ROWS for e, _ in r.history}
    declared = set(events.Event.__args__)
    assert declared <= covered, declared - covered
    assert {e.mark for r in ROWS for e in [r.event] if isinstance(e, UserMarked)} == set(Mark)
    assert {e.intent for r in ROWS for e in [r.event] if isinstance(e, HumanReply)} == set(Intent)
    assert {r.playbook for r in ROWS} == {"cold", "warm", "letter", "meeting", "update", "thanks"}


# ---------------------------------------------------------------- action details


def _actions(history: list[tuple[Event, datetime]], event: Event, now: datetime,
             playbook: str = "cold") -> list[object]:
    deadline = DEADLINE if playbook == "letter" else None
    before = replay(new_ask(playbook, deadline=deadline), history).ask
    return list(decide(before, event, now).actions)


def test_cold_stop_suggests_next_candidate_to_start_automatically() -> None:
    actions = _actions(COLD_FINAL_SENT, StepDue("stop"), june(23, 10))
    assert SuggestCandidates(1, "no response", auto_start=True) in actions


def test_warm_stop_suggests_nobody() -> None:
    before = replay(new_ask("warm"), WARM_NUDGE_SENT).ask
    actions = decide(before, StepDue("stop"), june(15, 12)).actions
    assert not [a for a in actions if isinstance(a, SuggestCandidates)]


def test_hesitant_suggests_two_backups_without_starting_them() -> None:
    actions = _actions(COLD_SENT, HumanReply(Intent.HESITANT), june(3))
    assert SuggestCandidates(2, "backup", auto_start=False) in actions
    assert CreateDraft("clarify", "hesitant_clarify", True, None) in actions


def test_decline_drafts_thanks_in_thread() -> None:
    actions = _actions(COLD_SENT, HumanReply(Intent.DECLINE), june(3))
    assert CreateDraft("decline_thanks", "decline_thanks", True, None) in actions


def test_letter_packet_must_go_within_24_hours() -> None:
    actions = _actions(LETTER_SENT, HumanReply(Intent.AGREE, at=june(2)), june(2), "letter")
    draft = next(a for a in actions if isinstance(a, CreateDraft))
    assert draft == CreateDraft("packet", "letter_packet", True, june(3))


def test_call_office_is_a_task_naming_the_deadline() -> None:
    actions = _actions(LETTER_AGREED, StepDue("call_office"), aug(12, 8), "letter")
    task = next(a for a in actions if isinstance(a, CreateTask))
    assert "2026-08-14" in task.text


def test_missed_deadline_is_urgent() -> None:
    actions = _actions(LETTER_AGREED, StepDue("deadline"), aug(15, 0), "letter")
    assert any(isinstance(a, Notify) and a.level is Level.URGENT for a in actions)


def test_outcome_starts_a_thanks_ask_for_the_writer() -> None:
    actions = _actions(LETTER_AGREED, OutcomeRecorded("matched"), aug(20), "letter")
    # The outcome is the thank-you's words (issue 11.5: it used to demand --field outcome).
    assert StartAsk("thanks", 7, None, "matched", fields=(("outcome", "matched"),)) in actions


def test_outcome_for_a_mentor_who_declined_thanks_nobody() -> None:
    history = [*LETTER_SENT, (HumanReply(Intent.DECLINE), june(2))]
    actions = _actions(history, OutcomeRecorded("matched"), aug(20), "letter")
    assert not [a for a in actions if isinstance(a, StartAsk)]


def test_approve_sends_and_question_cancels_named_nudges() -> None:
    actions = _actions([(AskCreated(), june(1))], DraftApproved("initial"), june(1, 11))
    assert actions[0] == SendStep("initial")
    assert [type(a).__name__ for a in actions[1:]] == ["ChangeState"]
    actions = _actions(COLD_SENT, HumanReply(Intent.QUESTION), june(3))
    cancel = next(a for a in actions if isinstance(a, CancelSteps))
    assert set(cancel.names) == {"nudge", "final_nudge", "stop"}
