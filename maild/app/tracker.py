"""The tracker: where engine decisions meet the store.

Every change to an ask goes through ``Tracker.handle``: load the ask, ``decide``, then
write the new ask and carry out the actions (drafts, tasks, notices, new asks) in one
transaction, so an event is applied completely or not at all. The tracker never talks
to a mail server; drafts are rendered by an injected ``DraftMaker``.

Notices for the user (which may run a desktop notification) are never delivered inside
the write transaction: they are queued with the newest event row as their anchor and
delivered by ``flush_notices`` once no transaction is open, and only if that anchor
row is in the database, i.e. only for work that was committed. ``handle`` and
``create_ask`` flush themselves; callers of ``handle_in_transaction`` call
``flush_notices`` after their commit (a notice they leave behind goes out at the
tracker's next flush, or never if its work was rolled back).
"""

from __future__ import annotations

import logging
import sqlite3
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Protocol

from maild.adapters.compose import new_message_id
from maild.config import Config
from maild.core import events as ev
from maild.core import wording
from maild.core.actions import (
    CancelSteps,
    ChangeState,
    CreateDraft,
    CreateTask,
    Decision,
    Level,
    Notify,
    ScheduleStep,
    SendStep,
    StartAsk,
    SuggestCandidates,
)
from maild.core.candidates import next_candidates
from maild.core.contacts import PriorAsk, ensure_not_contacted
from maild.core.engine import decide
from maild.core.model import Ask, AskState, Mentor, Step, StepStatus
from maild.core.playbooks import merge_overrides
from maild.core.rules import Rules
from maild.core.timing import SendingWindow
from maild.errors import MaildError, UsageError
from maild.store import Store
from maild.store import asks as asks_repo
from maild.store import drafts as drafts_repo
from maild.store import mentors as mentors_repo
from maild.store.drafts import DraftSpec

log = logging.getLogger(__name__)

_WEEKDAY = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
_EXCLUDED_STATUSES = ("excluded", "do not contact", "skip")
# What a suggestion tells the user, by (playbook, reason); others: "reason: consider ...".
_SUGGESTED = {
    ("letter", "declined"): "The letter was declined: consider asking {names} instead "
                            "(`maild ask letter NAME --application ...`).",
    ("letter", "backup"): "A hesitant yes is not a letter to count on: line up a backup "
                          "writer; consider {names}.",
    ("cold", "backup"): "A hesitant yes: consider also writing to {names}.",
    ("warm", "backup"): "A hesitant yes: consider also writing to {names}.",
}


class DraftMaker(Protocol):
    """Renders the draft of one email step (templates, addresses, thread headers)."""

    def make(self, store: Store, ask: Ask, step: Step, now: datetime) -> DraftSpec: ...


Notifier = Callable[[Level, str], None]
FollowUps = list[tuple[ev.Event, dict[str, object]]]
# The newest event row when a notice was queued: (id, at, type, detail).
Anchor = tuple[int, str, str, str]


@dataclass(frozen=True)
class _Notice:
    level: Level
    text: str
    anchor: Anchor | None


def rules_for(config: Config) -> Rules:
    """The engine's rules from config.toml: playbook overrides and the sending window."""
    sending = config.sending
    window = SendingWindow(days=frozenset(_WEEKDAY[d] for d in sending.days),
                           start=sending.window_start, end=sending.window_end)
    return Rules(playbooks=merge_overrides(config.playbooks, source=str(config.path)),
                 window=window)


def core_mentor(record: mentors_repo.MentorRecord, default_tz: str) -> Mentor:
    e = record.entry
    pub: date | None = None
    try:
        pub = date.fromisoformat(e.last_publication) if len(e.last_publication) == 10 else None
    except ValueError:
        pub = None
    return Mentor(
        id=record.id, name=e.name, addresses=record.addresses,
        timezone=e.timezone or default_tz, rank=e.rank, institution=e.institution or None,
        department=e.department or None, specialty=e.specialty or None,
        last_publication=pub, grant_status=e.grant_status or None,
        connection_point=e.connection_point or None, outreach_status=e.outreach_status,
        excluded=e.outreach_status.strip().lower() in _EXCLUDED_STATUSES,
    )


@dataclass(frozen=True)
class Created:
    ask: Ask
    decision: Decision


class Tracker:
    def __init__(self, store: Store, config: Config, drafts: DraftMaker,
                 notify: Notifier | None = None, rules: Rules | None = None) -> None:
        self.store = store
        self.config = config
        self.rules = rules or rules_for(config)
        self.drafts = drafts
        self._notify = notify
        self._notices: list[_Notice] = []

    # -- reading ----------------------------------------------------------------------

    def prior_asks(self) -> list[PriorAsk]:
        return asks_repo.prior_asks(self.store)

    # -- creating asks ----------------------------------------------------------------

    def create_ask(self, mentor_id: int, playbook: str, now: datetime, *,
                   account: str | None = None, application_id: int | None = None,
                   deadline: date | None = None, meeting_at: datetime | None = None,
                   force: bool = False, again: bool = False, note: str | None = None,
                   fields: Mapping[str, str] | None = None) -> Created:
        """Start an ask; ``fields`` are the user's words for its drafts (``user.*``)."""
        try:
            with self.store.transaction():
                return self._create(mentor_id, playbook, now, account=account,
                                    application_id=application_id, deadline=deadline,
                                    meeting_at=meeting_at, force=force, again=again, note=note,
                                    fields=fields)
        finally:
            self.flush_notices()

    def _create(self, mentor_id: int, playbook: str, now: datetime, *, account: str | None,
                application_id: int | None, deadline: date | None,
                meeting_at: datetime | None, force: bool, again: bool,
                note: str | None, fields: Mapping[str, str] | None = None) -> Created:
        book = self.rules.playbooks.get(playbook)
        if book is None or not book.startable:
            raise UsageError(f"unknown playbook {playbook!r}")
        record = mentors_repo.get_mentor(self.store, mentor_id)
        mentor = core_mentor(record, self.config.identity.timezone)
        if not again:
            ensure_not_contacted(playbook, mentor_id, mentor.addresses, self.prior_asks(),
                                 now, self.rules)
        account_name = self.config.account(account).name
        ask = Ask(mentor_id=mentor_id, playbook=playbook, state=AskState.ACTIVE,
                  created_at=now, application_id=application_id, account=account_name,
                  timezone=mentor.timezone, deadline=deadline, meeting_at=meeting_at,
                  forced=force, note=note,
                  fields=tuple((k, v) for k, v in (fields or {}).items() if v.strip()))
        decision = decide(ask, ev.AskCreated(force=force), now, self.rules)
        saved = self._apply(decision, now, "ask_created", {"playbook": playbook})
        if playbook in ("cold", "warm"):
            mentors_repo.set_outreach_status(self.store.db, mentor_id, f"{playbook} outreach")
        return Created(ask=saved, decision=replace(decision, ask=saved))

    # -- events -----------------------------------------------------------------------

    def handle(self, ask_id: int, event: ev.Event, now: datetime, **detail: object) -> Decision:
        """Apply one event to one ask, atomically; its notices go out after the commit."""
        try:
            with self.store.transaction():
                return self.handle_in_transaction(ask_id, event, now, **detail)
        finally:
            self.flush_notices()

    def handle_in_transaction(self, ask_id: int, event: ev.Event, now: datetime,
                              **detail: object) -> Decision:
        """Apply one event inside the caller's transaction, completely or not at all.

        On an exception everything this call wrote is rolled back (a savepoint) and its
        notices are dropped, so the caller may carry on with its transaction. The
        notices of a successful call wait for ``flush_notices`` after the commit.
        """
        db = self.store.db
        queued = len(self._notices)
        db.execute("SAVEPOINT tracker_handle")
        try:
            ask = asks_repo.load_ask(self.store, ask_id)
            decision = decide(ask, event, now, self.rules)
            saved = self._apply(decision, now, type(event).__name__,
                                {**_describe(event), **detail})
        except BaseException:
            del self._notices[queued:]
            try:
                db.execute("ROLLBACK TO tracker_handle")
                db.execute("RELEASE tracker_handle")
            except sqlite3.Error:
                log.debug("rolling back to the savepoint failed", exc_info=True)
            raise
        db.execute("RELEASE tracker_handle")
        return replace(decision, ask=saved)

    # -- notices ----------------------------------------------------------------------

    def queue_notice(self, level: Level, text: str) -> None:
        """Tell the user ``text`` once the current transaction has committed.

        Call it after writing the event row that records why (it is the anchor).
        """
        row = self.store.db.execute(
            "SELECT id, at, type, detail FROM events ORDER BY id DESC LIMIT 1").fetchone()
        anchor = (int(row[0]), str(row[1]), str(row[2]), str(row[3])) if row else None
        self._notices.append(_Notice(level, text, anchor))

    def flush_notices(self) -> int:
        """Deliver the queued notices of committed work; returns how many went out.

        Does nothing while a transaction is open. A notice whose anchor event row is not
        in the database belongs to rolled-back work and is dropped, never delivered.
        """
        if not self._notices or self.store.db.in_transaction:
            return 0
        pending, self._notices = self._notices, []
        delivered: set[tuple[Anchor | None, Level, str]] = set()
        for notice in pending:
            key = (notice.anchor, notice.level, notice.text)
            if key in delivered or not self._committed(notice.anchor):
                continue
            delivered.add(key)
            if self._notify is None:
                # Nobody else tells the user, so the log does.
                log.log(logging.WARNING if notice.level is not Level.INFO else logging.INFO,
                        "%s", notice.text)
                continue
            # The notifier is the user's channel (and logs itself where it must).
            log.debug("notice: %s", notice.text)
            try:
                self._notify(notice.level, notice.text)
            except Exception:
                # A broken notifier (a hung desktop helper) must not undo committed work.
                log.exception("a notice could not be delivered")
        return len(delivered)

    def _committed(self, anchor: Anchor | None) -> bool:
        if anchor is None:
            return True
        row = self.store.db.execute(
            "SELECT 1 FROM events WHERE id = ? AND at = ? AND type = ? AND detail = ?",
            anchor).fetchone()
        return row is not None

    def due_steps(self, now: datetime) -> list[tuple[int, str]]:
        """(ask id, step name) of every planned step whose time has come."""
        rows = self.store.db.execute(
            "SELECT s.ask_id, s.name, s.due_at FROM steps s JOIN asks a ON a.id = s.ask_id "
            "WHERE s.status = 'planned' AND a.closed_at IS NULL ORDER BY s.due_at").fetchall()
        return [(r["ask_id"], r["name"]) for r in rows
                if datetime.fromisoformat(r["due_at"]) <= now]

    def next_due(self) -> datetime | None:
        rows = self.store.db.execute(
            "SELECT s.due_at FROM steps s JOIN asks a ON a.id = s.ask_id "
            "WHERE s.status = 'planned' AND a.closed_at IS NULL").fetchall()
        return min((datetime.fromisoformat(r[0]) for r in rows), default=None)

    def run_due(self, now: datetime) -> int:
        """Wake every due step; returns how many were handled."""
        count = 0
        for ask_id, name in self.due_steps(now):
            try:
                self.handle(ask_id, ev.StepDue(step=name), now)
                count += 1
            except Exception:
                # One broken ask must not stop the others' follow-ups.
                log.exception("ask %d: step %s could not be handled", ask_id, name)
        return count

    # -- carrying out decisions -------------------------------------------------------

    def _apply(self, decision: Decision, now: datetime, what: str,
               detail: dict[str, object]) -> Ask:
        # Follow-up events (an auto-approval) belong to this ask and this call only: a
        # local list, so nothing is left over for another ask (invariant 1).
        followups: FollowUps = []
        saved = self._persist(decision, now, what, detail, followups)
        assert saved.id is not None
        # They are decided on the ask as it is by then.
        follow = deque(followups)
        while follow:
            event, more = follow.popleft()
            current = asks_repo.load_ask(self.store, saved.id)
            more_followups: FollowUps = []
            self._persist(decide(current, event, now, self.rules), now, type(event).__name__,
                          {**_describe(event), **more}, more_followups)
            follow.extend(more_followups)
        return asks_repo.load_ask(self.store, saved.id)

    def _persist(self, decision: Decision, now: datetime, what: str,
                 detail: dict[str, object], followups: FollowUps) -> Ask:
        saved = asks_repo.save_ask(self.store, decision.ask, now)
        self.store.add_event(now, what, ask_id=saved.id, mentor_id=saved.mentor_id, **detail)
        for action in decision.actions:
            self._act(saved, action, now, followups)
        return saved

    def _act(self, ask: Ask, action: object, now: datetime, followups: FollowUps) -> None:
        assert ask.id is not None
        store = self.store
        if isinstance(action, CreateDraft):
            step = ask.open_step(action.step)
            if step is None or step.id is None:
                return None
            try:
                spec = self.drafts.make(store, ask, step, now)
            except MaildError as exc:
                # The step must not be lost, nor the event that led to it (a mentor's
                # reply): the draft waits with the problem named, like a template gap.
                log.warning("ask %s: draft of %s cannot be made yet: %s", ask.id, step.name,
                            exc)
                spec = self._unmade(ask, step, exc)
            status = "pending"
            drafts_repo.insert_draft(store, spec, status, now)
            store.add_event(now, "draft_created", ask_id=ask.id, mentor_id=ask.mentor_id,
                            step=step.name, subject=spec.subject)
            if self._auto_approved(ask, step) and not spec.missing_fields:
                followups.append((ev.DraftApproved(step=step.name), {"auto": True}))
            return None
        if isinstance(action, SendStep):
            step = _step_named(ask, action.step)
            if step is not None and step.id is not None:
                for draft in drafts_repo.drafts_for_step(store, step.id):
                    if draft.status == "pending":
                        drafts_repo.set_status(store, draft.id, "approved", now)
            return None
        if isinstance(action, CancelSteps):
            for name in action.names:
                step = _step_named(ask, name)
                if step is None or step.id is None:
                    continue
                for draft in drafts_repo.drafts_for_step(store, step.id):
                    if draft.status in drafts_repo.OPEN_STATUSES:
                        new = "superseded" if "user" in action.reason else "cancelled"
                        drafts_repo.set_status(store, draft.id, new, now)
            store.add_event(now, "steps_cancelled", ask_id=ask.id, mentor_id=ask.mentor_id,
                            steps=list(action.names), reason=action.reason)
            return None
        if isinstance(action, CreateTask):
            store.add_event(now, "task", ask_id=ask.id, mentor_id=ask.mentor_id,
                            step=action.step, text=action.text, due=action.due_at.isoformat())
            self._tell(Level.WARNING, action.text)
            return None
        if isinstance(action, Notify):
            store.add_event(now, "notice", ask_id=ask.id, mentor_id=ask.mentor_id,
                            level=str(action.level), text=action.text)
            self._tell(action.level, action.text)
            return None
        if isinstance(action, ChangeState):
            store.add_event(now, "state_changed", ask_id=ask.id, mentor_id=ask.mentor_id,
                            old=str(action.old), new=str(action.new), reason=action.reason)
            if ask.playbook in ("cold", "warm"):
                mentors_repo.set_outreach_status(store.db, ask.mentor_id, str(action.new))
            return None
        if isinstance(action, SuggestCandidates):
            self._suggest(ask, action, now)
            return None
        if isinstance(action, StartAsk):
            try:
                self._create(action.mentor_id, action.playbook, now, account=ask.account,
                             application_id=action.application_id, deadline=None,
                             meeting_at=None, force=False, again=True, note=action.note,
                             fields=dict(action.fields))
            except UsageError as exc:
                self._tell(Level.WARNING, f"could not start a {action.playbook} ask: {exc}")
            return None
        if isinstance(action, ScheduleStep):
            return None  # the step is in the store; the scheduler re-reads it
        raise TypeError(f"unknown action {action!r}")

    def _suggest(self, ask: Ask, action: SuggestCandidates, now: datetime) -> None:
        tz = self.config.identity.timezone
        mentors = [core_mentor(r, tz) for r in mentors_repo.list_mentors(self.store)]
        if ask.application_id is not None:
            # A backup writer is someone not yet asked for this application.
            asked = {a.mentor_id for a in asks_repo.load_asks(
                self.store, "application_id = ?", (ask.application_id,), with_steps=False)}
            mentors = [m for m in mentors if m.id not in asked]
        # Suggestions the user starts by hand (backups, a second mentor) are not limited
        # by the free cold-outreach slots; only automatic starts are.
        chosen = next_candidates(mentors, self.prior_asks(), now, self.rules,
                                 limit=action.count, slots_only=action.auto_start)
        if not chosen:
            self._tell(Level.INFO, f"{action.reason}; the hit list has no fresh candidate "
                       "(add more with `maild mentor add`)")
            return
        names = ", ".join(wording.split_name(m.name).full for m in chosen)
        self.store.add_event(now, "suggestion", ask_id=ask.id, mentor_id=ask.mentor_id,
                             reason=action.reason, candidates=names,
                             started=action.auto_start)
        if not action.auto_start:
            self._tell(Level.INFO, _SUGGESTED.get((ask.playbook, action.reason),
                                                  "{reason}: consider {names}").format(
                reason=action.reason, names=names))
            return
        for mentor in chosen:
            created = self._create(mentor.id, "cold", now, account=ask.account,
                                   application_id=None, deadline=None, meeting_at=None,
                                   force=False, again=False, note=action.reason)
            self._tell(Level.INFO, f"started cold ask {created.ask.id} to "
                       f"{wording.split_name(mentor.name).full} ({action.reason}); its first "
                       "draft waits for your approval")

    def _unmade(self, ask: Ask, step: Step, exc: MaildError) -> DraftSpec:
        """A placeholder draft naming why the real one could not be made."""
        account = next((a for a in self.config.accounts if a.name == ask.account), None)
        from_addr = account.email if account else self.config.identity.email
        to: tuple[tuple[str, str], ...] = ()
        try:
            entry = mentors_repo.get_mentor(self.store, ask.mentor_id).entry
            to = ((entry.emails[0], entry.name),) if entry.emails else ()
        except MaildError:
            to = ()
        what = step.template or step.name
        return DraftSpec(
            ask_id=ask.id or 0, step_id=step.id, account=ask.account or "",
            from_addr=from_addr, from_name=self.config.identity.name, to_addrs=to,
            subject=f"({what}: {exc})", body="", message_id=new_message_id(from_addr),
            missing_fields=(f"draft: {exc}",), template=step.template)

    def _auto_approved(self, ask: Ask, step: Step) -> bool:
        sending = self.config.sending
        if sending.approval != "auto":
            return False
        allowed = set(sending.auto_approve)
        return "*" in allowed or f"{ask.playbook}.{step.name}" in allowed

    def _tell(self, level: Level, text: str) -> None:
        # Delivered (and logged) by flush_notices, after the transaction commits.
        self.queue_notice(level, text)


def _step_named(ask: Ask, name: str) -> Step | None:
    """The step of that name a decision just acted on (open first, else the latest)."""
    return ask.open_step(name) or ask.latest_step(name)


def _describe(event: ev.Event) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in vars(event).items():
        if value is not None:
            out[key] = value.isoformat() if isinstance(value, datetime | date) else str(value)
    return out


__all__ = ["Created", "DraftMaker", "StepStatus", "Tracker", "core_mentor", "rules_for"]
