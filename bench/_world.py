"""Shared by the mail benchmarks: a store with open cold asks whose first email went out.

No SMTP round trip: the drafts are marked sent directly, which is all the inbox side
needs (the Message-IDs replies will point at).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from maild.app.drafting import TemplateDrafts
from maild.app.tracker import Tracker
from maild.config import Config
from maild.core import events as ev
from maild.core.entries import MentorInput
from maild.core.model import DraftStatus
from maild.store import Store
from maild.store.mentors import add_mentors


def asks_waiting_for_reply(home: Path, config: Config, count: int, now: datetime
                           ) -> list[tuple[int, str, str]]:
    """``count`` mentors with one cold ask each, initial email sent two days before ``now``.

    Returns (ask id, mentor address, Message-ID of the initial email) for each ask.
    """
    created = now - timedelta(days=3)
    out: list[tuple[int, str, str]] = []
    with Store.open(home / "maild.db") as store:
        tracker = Tracker(store, config, TemplateDrafts(home, config))
        add_mentors(store, [MentorInput(name=f"Mentor {i}", title="Dr.",
                                        emails=(f"mentor{i}@uni{i % 50}.example.edu",),
                                        specialty="cardiology", connection_point=f"paper {i}")
                            for i in range(count)], created)
        for mentor_id in range(1, count + 1):
            tracker.create_ask(mentor_id, "cold", created)
        # A day later every initial email is due (whatever the sending window).
        tracker.run_due(now - timedelta(days=1))
        sent = now - timedelta(days=1)
        for draft in store.read.drafts.with_status(DraftStatus.PENDING):
            with store.transaction() as tx:
                # Sent from the user's own client: the step is done, the ask waits.
                tx.drafts.set_status(draft.id, DraftStatus.SENT, sent, sent_at=sent,
                                     expect=(DraftStatus.PENDING,))
                tracker.handle_in_transaction(draft.ask_id, ev.MessageSent(
                    step=tx.drafts.step_name(draft), message_id=draft.spec.message_id,
                    at=sent), sent)
            out.append((draft.ask_id, draft.spec.to_addrs[0][0], draft.spec.message_id))
    if len(out) != count:
        raise SystemExit(f"expected {count} initial drafts, got {len(out)}")
    return out
