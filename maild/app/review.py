"""Reviewing drafts: what the user must add (fields, edits) before an approval.

Shared by the CLI, the demo and the tests: the draft is re-rendered with the fields
only the user can write and checked here; the approval itself (invariant 1), like
every status change, is the lifecycle's (``maild.app.lifecycle``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from email import message_from_string
from email.policy import default as default_policy
from email.utils import getaddresses

from maild.adapters.compose import check_address, check_header_value
from maild.app import lifecycle
from maild.app.drafting import TemplateDrafts, attachment_problems
from maild.app.tracker import Tracker
from maild.core import events as ev
from maild.core.events import EventKind
from maild.errors import UsageError
from maild.store import Store
from maild.store.drafts import Draft, DraftSpec

_PLACEHOLDER = re.compile(r"\[\[[A-Za-z_][A-Za-z0-9_.]*\]\]")


@dataclass(frozen=True)
class Edit:
    """What the user changed in $EDITOR."""

    subject: str
    body: str
    to: tuple[tuple[str, str], ...]


def user_fields_missing(draft: Draft) -> list[str]:
    """The ``user.*`` fields the draft still needs, without the prefix."""
    return [m[5:] for m in draft.spec.missing_fields if m.startswith("user.")]


def rendered(store: Store, tracker: Tracker, draft: Draft,
             fields: Mapping[str, str]) -> DraftSpec:
    """The draft rendered again from today's inputs with the user's fields filled in;
    an error if it is still incomplete or a file it promises cannot be read."""
    spec = draft.spec
    drafts = tracker.drafts
    if isinstance(drafts, TemplateDrafts) and spec.template is not None:
        # What is approved is what the inputs say now: an edited mentor, a new address,
        # the files configured today (not those of the day it was drafted).
        spec = drafts.rerender(store, store.read.asks.get(draft.ask_id), draft, fields)
    elif spec.missing_fields or fields:
        raise UsageError(f"draft {draft.id} cannot be re-rendered here")
    if spec.missing_fields:
        missing = spec.missing_fields[0]
        hint = f"; give it with --field {missing[5:]}=..." if missing.startswith("user.") else ""
        raise UsageError(f"draft {draft.id} still needs {missing}{hint}")
    problems = attachment_problems(spec.attachments)
    if problems:
        raise UsageError(f"draft {draft.id} promises attachments that cannot be read: "
                         f"{'; '.join(problems)} (fix [attachments] in config.toml, then "
                         "approve again)")
    return spec


def approve(store: Store, tracker: Tracker, draft_id: int, now: datetime,
            fields: Mapping[str, str] | None = None, edit: Edit | None = None) -> Draft:
    """Approve a draft with the user's fields filled in (and their edits, if any)."""
    draft = store.read.drafts.get(draft_id)
    if draft.status != "pending":
        raise UsageError(f"draft {draft_id} is {draft.status}, not pending")
    spec = rendered(store, tracker, draft, fields or {})
    if edit is not None:
        spec = replace(spec, subject=edit.subject, body=edit.body, to_addrs=edit.to)
    check_no_placeholder(draft.id, spec)
    return lifecycle.approve(store, tracker, draft, spec, now, edited=edit is not None)


def check_no_placeholder(draft_id: int, spec: DraftSpec) -> None:
    """Refuse to approve a text that still holds a [[placeholder]] (invariant 10): an
    edit made from a page showing the placeholders could otherwise keep one."""
    found = _PLACEHOLDER.search(spec.subject) or _PLACEHOLDER.search(spec.body)
    if found is not None:
        raise UsageError(f"draft {draft_id} still holds the placeholder {found.group(0)}: "
                         "fill it in or edit it out before approving")


def revise(store: Store, tracker: Tracker, draft_id: int, now: datetime,
           fields: Mapping[str, str] | None = None, edit: Edit | None = None) -> Draft:
    """Save the user's fields or edits of a waiting draft without approving it.

    Fields may leave others still missing (the draft keeps waiting for them); an edit
    of the text is an edit the engine hears about (DraftEdited), so nothing ever goes
    out in a form the user did not approve.
    """
    draft = store.read.drafts.get(draft_id)
    if draft.status != "pending":
        raise UsageError(f"draft {draft_id} is {draft.status}, not pending; only a waiting "
                         "draft can be changed")
    spec = draft.spec
    given = {k: v for k, v in (fields or {}).items() if v.strip()}
    if given:
        drafts = tracker.drafts
        if not isinstance(drafts, TemplateDrafts):
            raise UsageError(f"draft {draft.id} cannot be re-rendered here")
        spec = drafts.rerender(store, store.read.asks.get(draft.ask_id), draft, given)
    if edit is not None:
        spec = replace(spec, subject=edit.subject, body=edit.body, to_addrs=edit.to)
    with store.transaction() as tx:
        tx.drafts.update_content(draft.id, spec, now)
        step = tx.drafts.step_name(draft)
        if edit is not None and step is not None:
            tracker.handle_in_transaction(draft.ask_id, ev.DraftEdited(step), now)
        else:
            tx.events.add(now, EventKind.DRAFT_COMPLETED, ask_id=draft.ask_id, draft=draft.id,
                          fields=sorted(given), still_missing=list(spec.missing_fields))
    tracker.flush_notices()
    return store.read.drafts.get(draft_id)


def parse_edited(text: str) -> Edit:
    """Subject, body and recipients from a message edited as text, validated."""
    header_text, sep, body = text.partition("\n\n")
    if not sep:
        raise UsageError("the edited message needs headers, a blank line, then the body")
    msg = message_from_string(header_text + "\n\n", policy=default_policy)
    subject = str(msg.get("Subject", "")).strip()
    if not subject:
        raise UsageError("the edited message has no Subject")
    check_header_value("Subject", subject)
    raw_to = [str(v) for v in msg.get_all("To", [])]
    to = tuple((check_address("To", a.lower()), check_header_value("To name", n))
               for n, a in getaddresses(raw_to) if a)
    if not to:
        raise UsageError("the edited message has no valid To address")
    if not body.strip():
        raise UsageError("the edited message has an empty body")
    return Edit(subject=subject, body=body.rstrip("\n") + "\n", to=to)


def mark_reviewed(store: Store, ask_id: int, now: datetime) -> None:
    """Clear an ask's "needs review" flag once the user checked its latest message (the
    CLI's ``maild ask reviewed`` and the page's *Mark reviewed*)."""
    ask = store.read.asks.get(ask_id)
    if not ask.needs_review:
        raise UsageError(f"ask {ask_id} does not need review")
    with store.transaction() as tx:
        tx.asks.mark_reviewed(ask_id)
        tx.events.add(now, EventKind.REVIEWED, ask_id=ask_id, mentor_id=ask.mentor_id)
