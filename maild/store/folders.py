"""Folder cursors in the store: how far each watched folder of each account was read.

A folder's state (UIDVALIDITY, the highest UID handled, HIGHESTMODSEQ) is what a
catch-up resumes from after downtime (invariant 4). It only ever moves forward: two
syncs of one folder may run at once (the watcher and the sender's re-check), and the
slower one must not take the faster one's progress back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from maild.store.db import Store, iso


@dataclass(frozen=True)
class FolderState:
    """How far a folder was read (``maild.adapters.imap.Cursor`` as stored)."""

    uidvalidity: int
    highest_uid: int = 0
    highestmodseq: int | None = None


def load(store: Store, account: str, folder: str) -> FolderState | None:
    row = store._db.execute(
        "SELECT uidvalidity, highest_uid, highestmodseq FROM folder_state "
        "WHERE account = ? AND folder = ?", (account, folder)).fetchone()
    if row is None:
        return None
    return FolderState(row["uidvalidity"], row["highest_uid"], row["highestmodseq"])


def advance(store: Store, account: str, folder: str, state: FolderState,
            now: datetime) -> bool:
    """Save ``state`` unless the stored one is already as far; True when saved.

    A new UIDVALIDITY always wins (the old UIDs mean nothing any more). Call inside a
    transaction, so the check and the write see the same row.
    """
    current = load(store, account, folder)
    if current is not None and current.uidvalidity == state.uidvalidity:
        if current.highest_uid > state.highest_uid:
            return False
        if current.highest_uid == state.highest_uid and (
                state.highestmodseq is None
                or (current.highestmodseq or 0) >= state.highestmodseq):
            return False
    store._db.execute(
        "INSERT INTO folder_state (account, folder, uidvalidity, highest_uid, highestmodseq, "
        "updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (account, folder) DO UPDATE SET "
        "uidvalidity = excluded.uidvalidity, highest_uid = excluded.highest_uid, "
        "highestmodseq = excluded.highestmodseq, updated_at = excluded.updated_at",
        (account, folder, state.uidvalidity, state.highest_uid, state.highestmodseq,
         iso(now)))
    return True
