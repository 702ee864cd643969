"""A draft of maild's that the user sent from their own mail app counts as sent.

The user may send maild's draft themselves: the copy maild put in the Drafts folder,
from their phone or Outlook, or a draft maild gave up on (rejected, cancelled,
superseded, failed). Found in Sent (by the inbox sync, or by the send path's last
look), it is credited exactly as if maild had sent it: the draft becomes ``sent`` (so
maild never sends it, and it counts toward the rate limits), its step is sent, and
the ask moves on from the real send time (``MessageSent`` of that step). Any other
waiting draft of the same step is superseded: the step's mail went out once.
"""

from __future__ import annotations

import logging
from datetime import datetime

from maild.app.tracker import Tracker
from maild.core import events as ev
from maild.core.mail_events import SENT_BY_MAILD
from maild.store import Store
from maild.store import asks as asks_repo
from maild.store import drafts as drafts_repo

log = logging.getLogger(__name__)

# Every status a draft can be in when the user sends it by hand.
_UNSENT = ("pending", "approved", "rejected", "cancelled", "superseded", "failed",
           "uncertain")


def credit(store: Store, tracker: Tracker, draft_id: int, message_id: str | None,
           at: datetime | None, now: datetime, *, why: str) -> bool:
    """Credit draft ``draft_id`` as sent by the user at ``at``; call inside a transaction.

    False when maild itself sent it (or is sending it) by now: its own send counts.
    """
    draft = drafts_repo.get_draft(store, draft_id)
    if draft.status in SENT_BY_MAILD:
        return False
    step = drafts_repo.step_name(store, draft)
    log.info("draft %d (%s) was sent from the user's own mail app: %s", draft.id,
             draft.status, why)
    drafts_repo.set_status(store, draft.id, "sent", now, sent_at=at or now, expect=_UNSENT)
    decision = tracker.handle_in_transaction(
        draft.ask_id, ev.MessageSent(step=step, message_id=message_id or draft.spec.message_id,
                                     at=at), now, draft=draft.id, why=why)
    if step is not None:
        _supersede_siblings(store, decision.ask.id or draft.ask_id, step, draft.id, now)
    return True


def _supersede_siblings(store: Store, ask_id: int, step: str, sent: int, now: datetime) -> None:
    """Other waiting drafts of a step whose mail went out (a redraft, a re-planned step)."""
    for found in asks_repo.load_ask(store, ask_id).steps:
        if found.name != step or found.id is None:
            continue
        for other in drafts_repo.drafts_for_step(store, found.id):
            if other.id != sent and other.status in drafts_repo.OPEN_STATUSES:
                drafts_repo.set_status(store, other.id, "superseded", now,
                                       expect=drafts_repo.OPEN_STATUSES)
