"""Reviewing drafts: approve (with the user's fields or edits), reject, snooze.

The one place a draft's approval happens (invariant 1), shared by the CLI, the demo and
the tests: the draft is re-rendered with the fields only the user can write, checked,
and approved together with the engine's DraftApproved in one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from email import message_from_string
from email.policy import default as default_policy
from email.utils import getaddresses

from maild.adapters.compose import check_address, check_header_value
from maild.app.drafting import TemplateDrafts, attachment_problems
from maild.app.tracker import Tracker
from maild.core import events as ev
from maild.errors import UsageError
from maild.store import Store
from maild.store import asks as asks_repo
from maild.store import drafts as drafts_repo
from maild.store.drafts import Draft, DraftSpec


@dataclass(frozen=True)
class Edit:
    """What the user changed in $EDITOR."""

    subject: str
    body: str
    to: tuple[tuple[str, str], ...]


def step_name(store: Store, draft: Draft) -> str:
    """The draft's step name; a UsageError for a draft that belongs to no step."""
    name = drafts_repo.step_name(store, draft)
    if name is None:
        raise UsageError(f"draft {draft.id} belongs to no step")
    return name


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
        spec = drafts.rerender(store, asks_repo.load_ask(store, draft.ask_id), draft, fields)
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
    draft = drafts_repo.get_draft(store, draft_id)
    if draft.status != "pending":
        raise UsageError(f"draft {draft_id} is {draft.status}, not pending")
    spec = rendered(store, tracker, draft, fields or {})
    if edit is not None:
        spec = replace(spec, subject=edit.subject, body=edit.body, to_addrs=edit.to)
    step = step_name(store, draft)
    with store.transaction():
        drafts_repo.update_content(store, draft.id, spec, now)
        if edit is not None:
            tracker.handle_in_transaction(draft.ask_id, ev.DraftEdited(step), now)
        tracker.handle_in_transaction(draft.ask_id, ev.DraftApproved(step), now, draft=draft.id)
    tracker.flush_notices()
    final = drafts_repo.get_draft(store, draft_id)
    if final.status != "approved":
        raise UsageError(f"draft {draft_id} could not be approved (it is {final.status})")
    return final


def reject(store: Store, tracker: Tracker, draft_id: int, now: datetime) -> None:
    draft = drafts_repo.get_draft(store, draft_id)
    if draft.status not in drafts_repo.OPEN_STATUSES:
        raise UsageError(f"draft {draft_id} is {draft.status}; only waiting drafts can be "
                         "rejected")
    with store.transaction():
        drafts_repo.set_status(store, draft_id, "rejected", now, expect=drafts_repo.OPEN_STATUSES)
        tracker.handle_in_transaction(draft.ask_id, ev.DraftRejected(step_name(store, draft)),
                                      now)
    tracker.flush_notices()


def snooze(store: Store, draft_id: int, until: datetime, now: datetime) -> None:
    draft = drafts_repo.get_draft(store, draft_id)
    if draft.status not in drafts_repo.OPEN_STATUSES:
        raise UsageError(f"draft {draft_id} is {draft.status}; only waiting drafts can be "
                         "snoozed")
    with store.transaction():
        drafts_repo.set_status(store, draft_id, draft.status, now, send_after=until,
                               expect=drafts_repo.OPEN_STATUSES)
        store.add_event(now, "draft_snoozed", ask_id=draft.ask_id, draft=draft_id,
                        until=until.isoformat())


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
