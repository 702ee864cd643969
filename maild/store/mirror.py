"""Which drafts have a copy in the Drafts folder: the mirror's record, as events.

Each change of a draft's copy is an event of its ask (``draft_mirrored`` with a digest
of the content and a hash of the exact bytes appended, ``draft_unmirrored`` when maild
removed it, ``draft_not_mirrored`` when it could not be made), so the latest of them
says what is in the folder now, the timeline shows when, and a restart loses nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from maild.core.events import EventKind
from maild.store.db import Store, Tx
from maild.store.drafts import OPEN_STATUSES, Draft, Mirror
from maild.store.sql import iso

MIRRORED = EventKind.DRAFT_MIRRORED
UNMIRRORED = EventKind.DRAFT_UNMIRRORED
NOT_MIRRORED = EventKind.DRAFT_NOT_MIRRORED
_KINDS = (str(MIRRORED), str(UNMIRRORED), str(NOT_MIRRORED))


@dataclass(frozen=True)
class CopyState:
    """The latest mirror event of one draft."""

    kind: str
    folder: str | None
    digest: str | None   # of the draft's content when the event was written
    sha256: str | None   # of the bytes appended (their first BODY_LIMIT bytes)

    @property
    def present(self) -> bool:
        return self.kind == MIRRORED


def copy_state(store: Store, draft: Draft) -> CopyState | None:
    row = store._db.execute(
        f"SELECT type, detail FROM events WHERE ask_id = ? AND type IN "
        f"({','.join('?' * len(_KINDS))}) AND json_extract(detail, '$.draft') = ? "
        "ORDER BY id DESC LIMIT 1", (draft.ask_id, *_KINDS, draft.id)).fetchone()
    if row is None:
        return None
    detail: dict[str, Any] = json.loads(row["detail"] or "{}")
    return CopyState(kind=row["type"], folder=detail.get("folder"),
                     digest=detail.get("digest"), sha256=detail.get("sha256"))


def drafts_to_check(store: Store, changed_since: datetime | None) -> list[Draft]:
    """Drafts whose copy may have to be added, replaced or removed: every open draft,
    and those changed since ``changed_since`` (with None: every draft that ever had a
    copy, for the first look after a start)."""
    found = {d.id: d for d in store.read.drafts.with_status(*OPEN_STATUSES)}
    if changed_since is None:
        rows = store._db.execute(
            "SELECT DISTINCT json_extract(detail, '$.draft') FROM events WHERE type = ?",
            (str(MIRRORED),)).fetchall()
    else:
        rows = store._db.execute("SELECT id FROM drafts WHERE updated_at >= ?",
                                (iso(changed_since),)).fetchall()
    for (draft_id,) in rows:
        if draft_id is not None and int(draft_id) not in found:
            found[int(draft_id)] = store.read.drafts.get(int(draft_id))
    return sorted(found.values(), key=lambda d: (d.created_at, d.id))


def record(tx: Tx, draft: Draft, now: datetime, kind: EventKind, **detail: Any) -> None:
    """Write a mirror event for ``draft``, and the ``drafts.mirrored`` mark the store
    keeps (copied; skipped: none now, none to come)."""
    assert kind in (MIRRORED, UNMIRRORED, NOT_MIRRORED)
    tx.events.add(now, kind, ask_id=draft.ask_id, draft=draft.id,
                  message_id=draft.spec.message_id, **detail)
    # The column's "skipped" is "there is no copy and will be none": also true once maild
    # removed the copy of a draft that is done.
    tx.drafts.set_mirrored(draft.id, Mirror.COPIED if kind == MIRRORED else Mirror.SKIPPED)
