"""Which ask a message belongs to, and why: every matching rule, pure.

``match(headers, index)`` decides from a message's headers; ``match_bounce`` and
``match_notice`` from what its body says when the headers matched nothing. Each rule
gives its reason in words, recorded with the message and shown in the timeline.

The rules, in order:

0. **maild's own draft** (the Sent folder only): the user sent a draft of maild's from
   their own mail app. Its Message-ID is a draft's, whatever the draft's state (the
   Drafts copy keeps it); failing that, for a message that is no reply in a known
   thread, the subject and a recipient are those of a draft not yet sent (a client
   that re-saves a recalled draft gives it a new Message-ID).
1. **Thread.** A Message-ID of In-Reply-To/References is one maild sent for an ask
   (a draft that went out) or one of a message already matched to an ask.
2. **Gmail thread.** Gmail filed the message (X-GM-THRID) in the thread of a message
   already matched to an ask: for clients that drop the thread headers.
3. **Address.** The sender (in the Sent folder: each recipient) is a mentor's or an
   assistant's address: their one open ask; with several, the most recent one, and the
   ask is flagged for the user's review; none: the mentor is named, no ask.
4. **Bounce.** A delivery failure quoting the Message-ID of a mail of an ask, else
   naming an address of a mentor with an open ask.
5. **Letter notice.** A letter service's notice naming the mentor of an open letter ask
   (full name, or "Dr./Prof. <last name>").

Incoming mail from one of the user's own addresses matches nothing (the Sent folder
is where the user's own mail is read). The facts come from a ``MatchIndex``, which
the store implements over its tables (``maild.store.messages.StoreIndex``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Protocol


class Rule(StrEnum):
    """The rule that matched a message."""

    OWN_DRAFT = "own_draft"
    DRAFT_COPY = "draft_copy"
    THREAD = "thread"
    GMAIL_THREAD = "gmail_thread"
    ADDRESS = "address"
    BOUNCE = "bounce"
    NOTICE = "notice"


@dataclass(frozen=True)
class OwnDraft:
    """A draft of maild's whose Message-ID a message carries; ``step`` is its step's name."""

    draft_id: int
    ask_id: int
    mentor_id: int | None
    status: str
    step: str | None = None


@dataclass(frozen=True)
class Match:
    """The ask a message belongs to (None: only its mentor is known), and why.

    ``draft``: the message is that draft of maild's, sent by the user (rule 0).
    """

    ask_id: int | None
    reason: str
    mentor_id: int | None = None
    needs_review: bool = False
    rule: Rule = Rule.ADDRESS
    draft: OwnDraft | None = None


class MessageHeaders(Protocol):
    """What the rules read of a message (``maild.understand.headers.Headers``)."""

    @property
    def message_id(self) -> str | None: ...

    @property
    def thread_ids(self) -> tuple[str, ...]: ...

    @property
    def from_addr(self) -> str: ...

    @property
    def to_addrs(self) -> tuple[str, ...]: ...

    @property
    def gm_thrid(self) -> int | None: ...

    @property
    def subject(self) -> str: ...


@dataclass(frozen=True)
class ThreadOwner:
    """The ask a known message belongs to; ``message_id`` is the one that was known."""

    ask_id: int
    mentor_id: int | None
    message_id: str | None = None


@dataclass(frozen=True)
class AddressOwner:
    """The mentor an address belongs to, and their open asks, most recent first."""

    mentor_id: int
    assistant: bool
    open_asks: tuple[int, ...]


@dataclass(frozen=True)
class LetterAsk:
    """An open letter ask, with its mentor's name (letter notices name the writer)."""

    ask_id: int
    mentor_id: int
    mentor_name: str


class MatchIndex(Protocol):
    """The facts matching needs; the store answers them from its tables."""

    @property
    def own_addresses(self) -> frozenset[str]:
        """The user's own addresses, lower-case."""
        ...

    def thread_owner(self, message_ids: Sequence[str]) -> ThreadOwner | None:
        """The ask of the first of ``message_ids`` that maild sent or matched."""
        ...

    def gmail_thread_owner(self, thrid: int) -> ThreadOwner | None:
        """The ask of the latest matched message Gmail filed in thread ``thrid``."""
        ...

    def address_owner(self, address: str) -> AddressOwner | None:
        """The mentor whose address (or assistant's address) ``address`` is."""
        ...

    def open_letter_asks(self) -> Sequence[LetterAsk]:
        """The open letter asks, most recent first."""
        ...

    def own_draft(self, message_id: str) -> OwnDraft | None:
        """maild's draft with this Message-ID, whatever its status."""
        ...

    def unsent_draft(self, subject: str, recipients: Sequence[str]) -> OwnDraft | None:
        """The newest draft maild has not sent that opens a thread with this subject to
        one of ``recipients`` (open drafts first)."""
        ...


def match(headers: MessageHeaders, index: MatchIndex, *, sent: bool = False) -> Match | None:
    """The ask ``headers`` belong to, by rules 0-3; ``sent`` for the user's Sent folder."""
    if not sent and headers.from_addr in index.own_addresses:
        return None
    if sent and headers.message_id:
        draft = index.own_draft(headers.message_id)
        if draft is not None:
            return Match(draft.ask_id, f"Message-ID of draft {draft.draft_id} "
                         f"({draft.status}): sent from your own mail app",
                         mentor_id=draft.mentor_id, rule=Rule.OWN_DRAFT, draft=draft)
    by_thread = match_thread(headers.thread_ids, index)
    if by_thread is not None:
        return by_thread
    if headers.gm_thrid is not None:
        owner = index.gmail_thread_owner(headers.gm_thrid)
        if owner is not None:
            return Match(owner.ask_id, f"Gmail thread {headers.gm_thrid}",
                         mentor_id=owner.mentor_id, rule=Rule.GMAIL_THREAD)
    if sent and headers.subject.strip():
        copy = index.unsent_draft(" ".join(headers.subject.split()), headers.to_addrs)
        if copy is not None:
            return Match(copy.ask_id, f"subject and recipient of draft {copy.draft_id} "
                         f"({copy.status}), re-saved with a new Message-ID",
                         mentor_id=copy.mentor_id, rule=Rule.DRAFT_COPY, draft=copy)
    people = headers.to_addrs if sent else (headers.from_addr,)
    for address in people:
        by_address = match_address(address, index, "recipient" if sent else "sender")
        if by_address is not None:
            return by_address
    return None


def match_thread(message_ids: Sequence[str], index: MatchIndex) -> Match | None:
    """Rule 1: a thread header names a message of an ask."""
    if not message_ids:
        return None
    owner = index.thread_owner(message_ids)
    if owner is None:
        return None
    return Match(owner.ask_id, f"thread: replies to {owner.message_id}",
                 mentor_id=owner.mentor_id, rule=Rule.THREAD)


def match_address(address: str, index: MatchIndex, how: str) -> Match | None:
    """Rule 3: ``address`` is a mentor's; ``how`` names its role ("sender"...)."""
    owner = index.address_owner(address)
    if owner is None:
        return None
    role = "assistant" if owner.assistant else "mentor"
    who = f"an {role}" if owner.assistant else f"a {role}"
    asks = owner.open_asks
    if not asks:
        return Match(None, f"{how} {address} is a known {role} without an open ask",
                     mentor_id=owner.mentor_id)
    if len(asks) == 1:
        return Match(asks[0], f"{how} {address} is {who} with one open ask",
                     mentor_id=owner.mentor_id)
    return Match(asks[0], f"{how} {address} is {who} with {len(asks)} open asks; "
                 "took the most recent", mentor_id=owner.mentor_id, needs_review=True)


def match_bounce(original_message_id: str | None, recipients: Sequence[str],
                 index: MatchIndex) -> Match | None:
    """Rule 4: a bounce belongs to the ask of the mail it quotes, else of its recipient."""
    if original_message_id:
        owner = index.thread_owner([original_message_id])
        if owner is not None:
            return Match(owner.ask_id, f"bounce of {original_message_id}", owner.mentor_id,
                         rule=Rule.BOUNCE)
    for rcpt in recipients:
        found = match_address(rcpt.lower(), index, "bounced recipient")
        if found is not None and found.ask_id is not None:
            return replace(found, rule=Rule.BOUNCE)
    return None


def match_notice(text: str, index: MatchIndex) -> Match | None:
    """Rule 5: a letter service's notice naming the mentor of an open letter ask."""
    lowered = text.lower()
    for ask in index.open_letter_asks():
        if names_writer(lowered, ask.mentor_name):
            return Match(ask.ask_id, f"letter notice names {ask.mentor_name}", ask.mentor_id,
                         rule=Rule.NOTICE)
    return None


def names_writer(lowered_text: str, name: str) -> bool:
    """Whether ``lowered_text`` names ``name``: in full, or as Dr./Prof. <last name>."""
    full = name.lower()
    words = full.split()
    last = words[-1] if words else full
    if full and full in lowered_text:
        return True
    return bool(last) and re.search(rf"\b(dr\.?|prof\.?|professor)\s+{re.escape(last)}\b",
                                    lowered_text) is not None
