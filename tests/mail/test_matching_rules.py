"""Every matching rule as a table, without a mail server.

``maild.core.matching`` is pure; its facts come from the store's ``StoreIndex`` over a
real SQLite database, filled here with a small world: asks to three mentors, maild's
drafts in several states, and messages already matched. Each row is one message's
headers and the match (ask, reason, review flag, rule) it must get, or none. The same
rules run end to end through a watcher in test_watch_matching.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from maild.core.entries import MentorInput
from maild.core.matching import Match, OwnDraft, Rule, match, match_bounce, match_notice
from maild.core.model import Ask, AskState
from maild.store import Store
from maild.store import messages as messages_repo
from maild.store.drafts import DraftSpec
from maild.store.mentors import add_mentors
from maild.store.messages import MessageRecord, StoreIndex
from maild.understand.headers import Headers
from tests.rawdb import raw

NOW = datetime(2026, 11, 17, 15, 0, tzinfo=UTC)
ME = "student@school.example.edu"
RIVERA, OFFICE = "drivera@med.example.edu", "office.rivera@med.example.edu"
OKAFOR, PARK = "sokafor@med.example.edu", "lpark@med.example.edu"
GMAIL_THREAD = 1824353213589341219


@dataclass
class Facts:
    """The world's ids, by the names the table uses."""

    store: Store
    asks: dict[str, int]
    mentors: dict[str, int]
    drafts: dict[str, int]

    def index(self) -> StoreIndex:
        return StoreIndex(self.store, frozenset({ME}), lambda: NOW)


def _ask(store: Store, mentor_id: int, playbook: str, created: datetime, *,
         closed: bool = False) -> int:
    ask = Ask(mentor_id=mentor_id, playbook=playbook, state=AskState.ACTIVE,
              created_at=created, account="school")
    with store.transaction() as tx:
        ask_id = tx.asks.save(ask, created).id or 0
        # A world set up as it stands, not lived through: its states are written as such.
        raw(store).execute("UPDATE asks SET state = ?, closed_at = ? WHERE id = ?",
                           (AskState.CLOSED if closed else AskState.WAITING_REPLY,
                            created.isoformat() if closed else None, ask_id))
    return ask_id


# maild's drafts: name (its Message-ID is <name@school>) -> (ask, status, to, subject, reply?)
DRAFTS = {
    "initial": ("rivera_cold", "sent", RIVERA, "Question about your paper", False),
    "nudge": ("rivera_cold", "uncertain", RIVERA, "Re: Question about your paper", True),
    "in-flight": ("okafor_cold", "sending", OKAFOR, "Research in cardiology", False),
    "pending": ("okafor_cold", "pending", OKAFOR, "Research opportunity in cardiology", False),
    "rejected": ("okafor_letter", "rejected", OKAFOR, "Letter of recommendation request",
                 False),
    # Rejected first emails of asks that are over: yesterday's, and one from two months ago.
    "recent": ("park_letter_closed", "rejected", PARK, "Letter request", False),
    "old": ("park_closed", "rejected", PARK, "A question about your work", False),
}
# When each draft was made (and last changed), if not NOW.
MADE = {"recent": NOW - timedelta(days=1), "old": NOW - timedelta(days=60)}


def _draft(store: Store, ask_id: int, name: str, status: str, to: str, subject: str,
           reply: bool) -> int:
    made = MADE.get(name, NOW)
    spec = DraftSpec(ask_id=ask_id, step_id=None, account="school", from_addr=ME,
                     from_name="Student", to_addrs=((to.upper(), "Dr. Someone"),),
                     subject=subject, body="Hello", message_id=f"<{name}@school>",
                     in_reply_to="<initial@school>" if reply else None)
    with store.transaction() as tx:
        draft_id = tx.drafts.insert(spec, made)
        raw(store).execute("UPDATE drafts SET status = ? WHERE id = ?", (status, draft_id))
    return draft_id


def _message(store: Store, ask_id: int | None, message_id: str, *,
             gm_thrid: int | None = None, uid: int = 1) -> None:
    with store.transaction():
        messages_repo.record(store, MessageRecord(
            account="school", folder="INBOX", uid=uid, uidvalidity=1, direction="in",
            message_id=message_id, in_reply_to=(), references=(), from_addr=RIVERA,
            to_addrs=(ME,), subject="Re: Question", date=NOW, ask_id=ask_id,
            match_reason="test", gm_thrid=gm_thrid), NOW)


@pytest.fixture
def facts(tmp_path: Path) -> Iterator[Facts]:
    store = Store.open(tmp_path / "maild.db")
    rivera, okafor, park = add_mentors(store, [
        MentorInput(name="Dana Rivera", title="Dr.", emails=(RIVERA,),
                    assistant_emails=(OFFICE,)),
        MentorInput(name="Sam Okafor", title="Dr.", emails=(OKAFOR,)),
        MentorInput(name="Lee Park", emails=(PARK,)),
    ], NOW)
    early = NOW - timedelta(days=10)
    asks = {
        "rivera_cold": _ask(store, rivera, "cold", early),
        "okafor_cold": _ask(store, okafor, "cold", early),
        "okafor_letter": _ask(store, okafor, "letter", early + timedelta(days=1)),
        "park_closed": _ask(store, park, "cold", early, closed=True),
        "park_letter_closed": _ask(store, park, "letter", early, closed=True),
    }
    drafts = {name: _draft(store, asks[ask], name, status, to, subject, reply)
              for name, (ask, status, to, subject, reply) in DRAFTS.items()}
    _message(store, asks["okafor_letter"], "<okafor-reply@med>", gm_thrid=GMAIL_THREAD)
    _message(store, None, "<unmatched@med>", uid=2)
    yield Facts(store, asks, {"rivera": rivera, "okafor": okafor, "park": park}, drafts)
    store.close()


def headers(*, sender: str = "someone@else.example", to: tuple[str, ...] = (ME,),
            in_reply_to: tuple[str, ...] = (), references: tuple[str, ...] = (),
            gm_thrid: int | None = None, message_id: str = "<new@anywhere>",
            subject: str = "Re: x") -> Headers:
    return Headers(message_id=message_id, in_reply_to=in_reply_to,
                   references=references, from_addr=sender, to_addrs=to, subject=subject,
                   date=NOW, content_type="text/plain", gm_thrid=gm_thrid)


def sent(**kw: object) -> Headers:
    """A message in the user's Sent folder."""
    return headers(sender=ME, **kw)  # type: ignore[arg-type]


# (case, headers, sent folder?, expected: (ask or mentor name, reason, needs_review, rule))
Expected = tuple[str, str, bool, Rule] | tuple[str, str, bool, Rule, str] | None
TABLE: list[tuple[str, Headers, bool, Expected]] = [
    ("in-reply-to a sent draft", headers(in_reply_to=("<initial@school>",)), False,
     ("rivera_cold", "thread: replies to <initial@school>", False, Rule.THREAD)),
    ("references only, an uncertain send", headers(references=("<x@y>", "<nudge@school>")),
     False, ("rivera_cold", "thread: replies to <nudge@school>", False, Rule.THREAD)),
    ("a draft being sent is quotable", headers(in_reply_to=("<in-flight@school>",)), False,
     ("okafor_cold", "thread: replies to <in-flight@school>", False, Rule.THREAD)),
    ("a matched message of the thread", headers(references=("<okafor-reply@med>",)), False,
     ("okafor_letter", "thread: replies to <okafor-reply@med>", False, Rule.THREAD)),
    ("thread beats sender", headers(sender=OKAFOR, in_reply_to=("<initial@school>",)), False,
     ("rivera_cold", "thread: replies to <initial@school>", False, Rule.THREAD)),
    ("a pending draft never went out: not a thread", headers(in_reply_to=("<pending@school>",)),
     False, None),
    ("a rejected draft never went out: not a thread",
     headers(in_reply_to=("<rejected@school>",)), False, None),
    ("a message matched to no ask is no thread", headers(references=("<unmatched@med>",)),
     False, None),
    ("Gmail thread id", headers(gm_thrid=GMAIL_THREAD), False,
     ("okafor_letter", f"Gmail thread {GMAIL_THREAD}", False, Rule.GMAIL_THREAD)),
    ("unknown Gmail thread, unknown sender", headers(gm_thrid=42), False, None),
    ("sender with one open ask", headers(sender=RIVERA), False,
     ("rivera_cold", f"sender {RIVERA} is a mentor with one open ask", False, Rule.ADDRESS)),
    ("assistant of a mentor with one open ask", headers(sender=OFFICE), False,
     ("rivera_cold", f"sender {OFFICE} is an assistant with one open ask", False, Rule.ADDRESS)),
    ("sender with two open asks: the newest, for review", headers(sender=OKAFOR), False,
     ("okafor_letter", f"sender {OKAFOR} is a mentor with 2 open asks; took the most recent",
      True, Rule.ADDRESS)),
    ("a known mentor without an open ask", headers(sender=PARK), False,
     ("park", f"sender {PARK} is a known mentor without an open ask", False, Rule.ADDRESS)),
    ("a stranger", headers(sender="stranger@example.org"), False, None),
    ("the user's own address in the inbox", headers(sender=ME, in_reply_to=("<initial@school>",)),
     False, None),
    ("sent: the recipient's ask", headers(sender=ME, to=("cc@x.example", RIVERA)), True,
     ("rivera_cold", f"recipient {RIVERA} is a mentor with one open ask", False, Rule.ADDRESS)),
    ("sent: own address is fine, thread first",
     headers(sender=ME, to=(OKAFOR,), in_reply_to=("<initial@school>",)), True,
     ("rivera_cold", "thread: replies to <initial@school>", False, Rule.THREAD)),
    ("sent: to nobody known", headers(sender=ME, to=("friend@x.example",)), True, None),
    # -- rule 0: maild's own draft, sent from the user's mail app --------------------------
    ("sent: a pending draft's Message-ID beats the newest ask",
     sent(to=(OKAFOR,), message_id="<pending@school>"), True,
     ("okafor_cold", "Message-ID of draft {pending} (pending): sent from your own mail app",
      False, Rule.OWN_DRAFT, "pending")),
    ("sent: a rejected draft's Message-ID", sent(to=(OKAFOR,), message_id="<rejected@school>"),
     True, ("okafor_letter", "Message-ID of draft {rejected} (rejected): sent from your own "
            "mail app", False, Rule.OWN_DRAFT, "rejected")),
    ("sent: maild's own copy is its draft too", sent(to=(RIVERA,), message_id="<initial@school>"),
     True, ("rivera_cold", "Message-ID of draft {initial} (sent): sent from your own mail app",
            False, Rule.OWN_DRAFT, "initial")),
    ("sent: own draft beats its thread headers",
     sent(to=(RIVERA,), message_id="<nudge@school>", in_reply_to=("<okafor-reply@med>",)), True,
     ("rivera_cold", "Message-ID of draft {nudge} (uncertain): sent from your own mail app",
      False, Rule.OWN_DRAFT, "nudge")),
    ("sent: a recalled draft re-saved with a new Message-ID",
     sent(to=(OKAFOR,), subject="Research  opportunity in cardiology"), True,
     ("okafor_cold", "subject and recipient of draft {pending} (pending), re-saved with a new "
      "Message-ID", False, Rule.DRAFT_COPY, "pending")),
    ("sent: a rejected draft re-saved with a new Message-ID",
     sent(to=("x@y.example", OKAFOR), subject="Letter of recommendation request"), True,
     ("okafor_letter", "subject and recipient of draft {rejected} (rejected), re-saved with a "
      "new Message-ID", False, Rule.DRAFT_COPY, "rejected")),
    ("sent: same subject to someone else is no copy",
     sent(to=(RIVERA,), subject="Research opportunity in cardiology"), True,
     ("rivera_cold", f"recipient {RIVERA} is a mentor with one open ask", False, Rule.ADDRESS)),
    ("sent: a draft maild sent is no copy to credit",
     sent(to=(OKAFOR,), subject="Research in cardiology"), True,
     ("okafor_letter", f"recipient {OKAFOR} is a mentor with 2 open asks; took the most recent",
      True, Rule.ADDRESS)),
    ("sent: an in-thread draft's subject is no copy",
     sent(to=(RIVERA,), subject="Re: Question about your paper"), True,
     ("rivera_cold", f"recipient {RIVERA} is a mentor with one open ask", False, Rule.ADDRESS)),
    ("sent: a recent rejected first email of an ask that is over",
     sent(to=(PARK,), subject="Letter request"), True,
     ("park_letter_closed", "subject and recipient of draft {recent} (rejected), re-saved with "
      "a new Message-ID", False, Rule.DRAFT_COPY, "recent")),
    ("sent: an old draft of an ask that is over is no copy",
     sent(to=(PARK,), subject="A question about your work"), True,
     ("park", f"recipient {PARK} is a known mentor without an open ask", False, Rule.ADDRESS)),
    ("sent: a reply in a known thread is the thread's",
     sent(to=(OKAFOR,), subject="Research opportunity in cardiology",
          in_reply_to=("<initial@school>",)), True,
     ("rivera_cold", "thread: replies to <initial@school>", False, Rule.THREAD)),
    ("inbox: a draft's Message-ID means nothing there",
     headers(sender=OKAFOR, message_id="<pending@school>"), False,
     ("okafor_letter", f"sender {OKAFOR} is a mentor with 2 open asks; took the most recent",
      True, Rule.ADDRESS)),
]


def _expect(facts: Facts, expected: Expected) -> Match | None:
    """The Match a row names: an ask by name ("<mentor>_<what>"), or a mentor alone;
    for rule 0, maild's draft by name."""
    if expected is None:
        return None
    name, reason, review, rule, *draft_name = expected
    mentor = name.split("_")[0]
    ask_id = facts.asks.get(name)
    draft = None
    if draft_name:
        _ask, status, *_rest = DRAFTS[draft_name[0]]
        draft = OwnDraft(facts.drafts[draft_name[0]], ask_id or 0, facts.mentors[mentor],
                         status)
    return Match(ask_id, reason.format(**facts.drafts), facts.mentors[mentor], review, rule,
                 draft)


@pytest.mark.parametrize(("case", "message", "sent", "expected"), TABLE,
                         ids=[row[0] for row in TABLE])
def test_header_rules(facts: Facts, case: str, message: Headers, sent: bool,
                      expected: Expected) -> None:
    assert match(message, facts.index(), sent=sent) == _expect(facts, expected), case


def test_every_header_rule_has_a_row() -> None:
    seen = {row[3][3] for row in TABLE if row[3] is not None}
    assert seen == {Rule.OWN_DRAFT, Rule.DRAFT_COPY, Rule.THREAD, Rule.GMAIL_THREAD,
                    Rule.ADDRESS}


def test_a_hostile_references_header_is_bounded(facts: Facts) -> None:
    # 5000 ids (a hostile or broken client): the query stays bounded, and the newest end of
    # the thread, where clients append, is still looked at.
    ids = (*(f"<junk{i}@x>" for i in range(5000)), "<initial@school>")
    found = match(headers(references=ids), facts.index())
    assert found is not None and found.ask_id == facts.asks["rivera_cold"]


# -- content rules: bounces and letter notices -------------------------------------------


BOUNCES: list[tuple[str, str | None, tuple[str, ...], Expected]] = [
    ("quotes a sent draft", "<initial@school>", (RIVERA,),
     ("rivera_cold", "bounce of <initial@school>", False, Rule.BOUNCE)),
    ("quotes an unknown id: its recipient's ask", "<gone@school>", (RIVERA.upper(),),
     ("rivera_cold", f"bounced recipient {RIVERA} is a mentor with one open ask", False,
      Rule.BOUNCE)),
    ("no original, the recipient has two asks", None, (OKAFOR,),
     ("okafor_letter", f"bounced recipient {OKAFOR} is a mentor with 2 open asks; "
      "took the most recent", True, Rule.BOUNCE)),
    ("recipient without an open ask", None, (PARK,), None),
    ("nothing known", "<gone@school>", ("who@x.example",), None),
]


@pytest.mark.parametrize(("case", "original", "recipients", "expected"), BOUNCES,
                         ids=[row[0] for row in BOUNCES])
def test_bounce_rule(facts: Facts, case: str, original: str | None,
                     recipients: tuple[str, ...], expected: Expected) -> None:
    assert match_bounce(original, recipients, facts.index()) == _expect(facts, expected), case


NOTICES: list[tuple[str, str, Expected]] = [
    ("full name", "A letter from Sam Okafor was received for your application.",
     ("okafor_letter", "letter notice names Sam Okafor", False, Rule.NOTICE)),
    ("Dr. and last name", "Your recommender DR. OKAFOR has uploaded a letter.",
     ("okafor_letter", "letter notice names Sam Okafor", False, Rule.NOTICE)),
    ("Professor and last name", "professor okafor submitted the letter",
     ("okafor_letter", "letter notice names Sam Okafor", False, Rule.NOTICE)),
    ("last name alone is not enough", "Okafor Street Medical Library hours", None),
    ("a part of a longer name is not the name", "Dr. Okaforson has submitted", None),
    ("a closed letter ask is not matched", "Lee Park has submitted a letter", None),
    ("a cold ask's mentor is no letter writer", "Dana Rivera has submitted a letter", None),
]


@pytest.mark.parametrize(("case", "text", "expected"), NOTICES, ids=[r[0] for r in NOTICES])
def test_letter_notice_rule(facts: Facts, case: str, text: str, expected: Expected) -> None:
    assert match_notice(text, facts.index()) == _expect(facts, expected), case
