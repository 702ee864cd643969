"""The Drafts-folder mirror: a copy of each waiting draft, to read on a phone.

A draft has a copy in its account's Drafts folder exactly while it waits (pending or
approved) *and* is complete: a draft with a field still missing is not copied until
it is filled in, so no copy ever shows a [[placeholder]] (the user could send it from
their phone). When the draft changes (fields filled in, an edit), its copy is
replaced; when it is sent, rejected or called off, the copy is removed. maild removes
only the very copies it appended, recognised by the hash of their bytes, and only
with UID EXPUNGE of those UIDs (invariant 7).

The copy keeps maild's Message-ID, so a copy the user sends from their own client is
found in Sent by the send path, and maild does not send it again.

``sync`` is called by the daemon on each round; it connects to IMAP only when a copy
has to change, and writes only then (invariant 11).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from maild.adapters.compose import WIRE
from maild.adapters.imap import BODY_LIMIT, ImapConnection
from maild.app.outbox import check_header_block, message_of
from maild.config import Account, Config
from maild.errors import MaildError
from maild.store import Store
from maild.store import mirror as repo
from maild.store.drafts import OPEN_STATUSES, Draft

log = logging.getLogger(__name__)

# Drafts changed this long before a round started are looked at again: a change whose
# transaction began before the round's query must not be missed.
MARGIN = timedelta(minutes=2)


@dataclass(frozen=True)
class MirrorReport:
    appended: int = 0
    removed: int = 0


def digest(draft: Draft) -> str:
    """What the copy shows: a new digest means a new copy."""
    s = draft.spec
    content = [s.from_addr, s.from_name, [list(t) for t in s.to_addrs], s.subject, s.body,
               s.in_reply_to, list(s.references), list(s.attachments), s.message_id]
    return hashlib.sha256(json.dumps(content).encode("utf-8")).hexdigest()


def copy_bytes(draft: Draft) -> bytes:
    """The copy: the message as it would be sent, dated when the draft was made."""
    raw = message_of(draft, draft.created_at).as_bytes(policy=WIRE)
    check_header_block(raw)
    return raw


def _sha(raw: bytes) -> str:
    # The server gives back at most BODY_LIMIT bytes (imap.body), so that is what counts.
    return hashlib.sha256(raw[:BODY_LIMIT]).hexdigest()


def wanted(draft: Draft) -> bool:
    """Whether the draft should have a copy now."""
    return draft.status in OPEN_STATUSES and not draft.spec.missing_fields


class DraftsMirror:
    def __init__(self, store: Store, config: Config,
                 imap: Callable[[Account], ImapConnection],
                 now: Callable[[], datetime]) -> None:
        self.store = store
        self.config = config
        self._imap = imap
        self.now = now
        self._since: datetime | None = None

    def sync(self, add: bool = True) -> MirrorReport:
        """Bring the Drafts folders in line with the drafts; ``add=False`` (mirroring
        switched off) only removes the copies of drafts that are done."""
        started = self.now()
        work: dict[str, list[tuple[Draft, repo.CopyState | None]]] = {}
        for draft in repo.drafts_to_check(self.store, self._since):
            state = repo.copy_state(self.store, draft)
            if self._needs_work(draft, state, add):
                work.setdefault(draft.spec.account, []).append((draft, state))
        appended = removed = 0
        failed = False
        for name, items in work.items():
            try:
                a, r = self._sync_account(self.config.account(name), items, add)
                appended += a
                removed += r
            except MaildError as exc:
                # Reading drafts on a phone is a convenience; the next round tries again.
                log.warning("%s: the Drafts folder was not brought up to date: %s", name, exc)
                failed = True
        if not failed:
            self._since = started - MARGIN
        return MirrorReport(appended, removed)

    @staticmethod
    def _needs_work(draft: Draft, state: repo.CopyState | None, add: bool) -> bool:
        present = state is not None and state.present
        if not (add and wanted(draft)):
            return present
        if state is None:
            return True
        if state.kind in (repo.MIRRORED, repo.NOT_MIRRORED):
            return state.digest != digest(draft)
        return True  # removed earlier, wanted again (a retried send)

    def _sync_account(self, account: Account,
                      items: list[tuple[Draft, repo.CopyState | None]],
                      add: bool) -> tuple[int, int]:
        appended = removed = 0
        with self._imap(account) as conn:
            folder = conn.folders().drafts
            for draft, state in items:
                now = self.now()
                if not (add and wanted(draft)):
                    if state is not None and state.present:
                        removed += self._remove(conn, state.folder or folder, draft, state, now)
                    continue
                problem: str | None = None
                raw = b""
                try:
                    raw = copy_bytes(draft)
                except MaildError as exc:
                    problem = str(exc)
                if folder is None:
                    problem = "the account has no Drafts folder"
                if problem is not None or folder is None:
                    log.info("draft %d not copied to Drafts: %s", draft.id, problem)
                    with self.store.transaction() as tx:
                        repo.record(tx, draft, now, repo.NOT_MIRRORED,
                                    digest=digest(draft), problem=problem)
                    continue
                new_sha = _sha(raw)
                present = state if state is not None and state.present else None

                def ours(stored: bytes, present: repo.CopyState | None = present,
                         new_sha: str = new_sha, draft: Draft = draft) -> bool:
                    # The old copy, or a new one a crash left before it was recorded.
                    sha = _sha(stored)
                    if sha == new_sha:
                        return True
                    if present is None:
                        return False
                    return sha == present.sha256 if present.sha256 \
                        else _legacy_copy(stored, draft)
                gone = conn.remove_own_copy((present.folder if present else None) or folder,
                                            draft.spec.message_id, ours)
                conn.append(folder, raw, flags=(b"\\Draft", b"\\Seen"), when=draft.created_at)
                appended += 1
                with self.store.transaction() as tx:
                    repo.record(tx, draft, now, repo.MIRRORED, folder=folder,
                                digest=digest(draft), sha256=new_sha,
                                replaced=bool(gone))
        return appended, removed

    def _remove(self, conn: ImapConnection, folder: str | None, draft: Draft,
                state: repo.CopyState, now: datetime) -> int:
        gone = 0
        if folder is not None:
            gone = conn.remove_own_copy(
                folder, draft.spec.message_id,
                lambda stored: _sha(stored) == state.sha256 if state.sha256
                else _legacy_copy(stored, draft))
        with self.store.transaction() as tx:
            repo.record(tx, draft, now, repo.UNMIRRORED, folder=folder,
                        reason=f"the draft is {draft.status}", removed=gone)
        log.info("draft %d is %s: %d copy removed from %s", draft.id, draft.status, gone,
                 folder)
        return gone


def _legacy_copy(stored: bytes, draft: Draft) -> bool:
    """A copy recorded before hashes were kept: maild's, if it says so and is from the
    draft's own address (the Message-ID already matched)."""
    head = stored.split(b"\r\n\r\n", 1)[0].lower()
    return b"\nx-mailer: maild" in head and draft.spec.from_addr.lower().encode() in head
