"""Asks and their steps in the store: loading the core's values and saving new truth.

The engine returns the whole ask as it should now be; ``Asks.save`` writes it back:
columns it knows, extras in the JSON ``data`` column, new steps (no id yet) inserted,
changed steps updated in place. Every status change is checked against the lifecycles
(``ASK_LIFECYCLE``, ``STEP_LIFECYCLE``) and written as a compare-and-set on the status
read in the same transaction. Call it inside ``store.transaction()`` together with
whatever the decision's actions write, so one event is one commit. ``closed_at`` is
the engine's to set and clear; the store writes what it is given.

"Due" is decided here, in SQL on an index: a planned step of an open ask whose time
has come, unless the ask holds it (see ``HELD_KINDS``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from maild.core.contacts import PriorAsk
from maild.core.model import (
    ASK_LIFECYCLE,
    HOLDING_STATES,
    STEP_LIFECYCLE,
    Ask,
    AskState,
    Step,
    StepKind,
    StepStatus,
)
from maild.errors import NotFoundError, TransitionRefused
from maild.store.sql import Repo, iso, marks, parse_time

# While an ask is held (paused, waiting for an address or for its failed first mail),
# its emails are not drafted and its ladder does not stop (the engine's ``fire``):
# such steps are not due until the ask is released. Tasks and checks still are.
HELD_KINDS: tuple[StepKind, ...] = (StepKind.EMAIL, StepKind.STOP)

# The one definition of "a planned step that may come due": every query about due
# steps (which are due now, when the next one is) starts from here.
_WAITING_STEPS = (
    "FROM steps s JOIN asks a ON a.id = s.ask_id "
    "WHERE s.status = 'planned' AND a.closed_at IS NULL "
    f"AND NOT (a.state IN ({marks(HOLDING_STATES)}) AND s.kind IN ({marks(HELD_KINDS)}))"
)
_WAITING_PARAMS: tuple[str, ...] = (*(str(s) for s in HOLDING_STATES),
                                    *(str(k) for k in HELD_KINDS))


_CHUNK = 500  # asks loaded at a time by a listing


@dataclass(frozen=True)
class DueStep:
    ask_id: int
    name: str
    due_at: datetime


@dataclass(frozen=True)
class UpcomingStep:
    ask_id: int
    mentor_id: int
    name: str
    kind: str
    due_at: datetime


def _step(row: sqlite3.Row) -> Step:
    return Step.from_row(
        id=row["id"], name=row["name"], kind=row["kind"], template=row["template"],
        due_at=datetime.fromisoformat(row["due_at"]), status=row["status"],
        in_thread=bool(row["in_thread"]), data=json.loads(row["data"] or "{}"),
    )


def _ask(row: sqlite3.Row, steps: Iterable[Step]) -> Ask:
    return Ask.from_row(
        id=row["id"], mentor_id=row["mentor_id"], playbook=row["playbook"], state=row["state"],
        created_at=datetime.fromisoformat(row["created_at"]),
        application_id=row["application_id"], account=row["account"],
        updated_at=parse_time(row["updated_at"]), closed_at=parse_time(row["closed_at"]),
        needs_review=bool(row["needs_review"]), steps=tuple(steps),
        data=json.loads(row["data"] or "{}"),
    )


class Asks(Repo):
    # -- loading ----------------------------------------------------------------------

    def get(self, ask_id: int) -> Ask:
        row = self._db.execute("SELECT * FROM asks WHERE id = ?", (ask_id,)).fetchone()
        if row is None:
            raise NotFoundError("ask", ask_id)
        steps = [_step(s) for s in self._db.execute(
            "SELECT * FROM steps WHERE ask_id = ? ORDER BY due_at, id", (ask_id,))]
        return _ask(row, steps)

    def all(self) -> list[Ask]:
        """Every ask with its steps (for small stores and tests; listings use ``each``)."""
        return list(self.each())

    def each(self, *, open_only: bool = False) -> Iterator[Ask]:
        """Every ask (or every open one) with its steps, in id order, a chunk of asks at
        a time (for listings of any length)."""
        where = "closed_at IS NULL AND " if open_only else ""
        last = 0
        while True:
            chunk = self._load(f"{where}id > ?", (last,), limit=_CHUNK)
            yield from chunk
            if len(chunk) < _CHUNK:
                return
            last = chunk[-1].id or last

    def open(self, *, with_steps: bool = True) -> list[Ask]:
        """Asks not closed. ``with_steps=False`` leaves ``steps`` empty: for readers that
        need only the ask's own fields (the dashboard), since building thousands of Step
        values is most of the cost of loading every open ask."""
        return self._load("closed_at IS NULL", (), with_steps=with_steps)

    def _load(self, where: str, params: tuple[object, ...], *,
              with_steps: bool = True, limit: int = -1) -> list[Ask]:
        """Asks matching a fixed condition, with their steps, in two queries."""
        rows = self._db.execute(f"SELECT * FROM asks WHERE {where} ORDER BY id LIMIT ?",
                                (*params, limit)).fetchall()
        if not rows or not with_steps:
            return [_ask(r, ()) for r in rows]
        by_ask: dict[int, list[Step]] = {}
        ids = [r["id"] for r in rows]
        for start in range(0, len(ids), 900):  # SQLite's bound-parameter limit
            chunk = ids[start:start + 900]
            for s in self._db.execute(
                    f"SELECT * FROM steps WHERE ask_id IN ({marks(chunk)}) ORDER BY due_at, id",
                    chunk):
                by_ask.setdefault(s["ask_id"], []).append(_step(s))
        return [_ask(r, by_ask.get(r["id"], [])) for r in rows]

    def open_at_risk(self, letters_due_before: date, letters_in: Collection[AskState],
                     unanswered_at_least: int) -> list[Ask]:
        """Open asks that may carry a risk, without their steps: flagged for review,
        letters due before ``letters_due_before`` or in one of ``letters_in``, or with
        at least that many unanswered follow-ups. A superset, chosen in SQL so that the
        dashboard does not build every open ask; the caller applies the rules."""
        states = tuple(str(s) for s in letters_in)
        return self._load(
            "closed_at IS NULL AND (needs_review = 1 OR (playbook = 'letter' AND "
            f"(json_extract(data, '$.deadline') < ? OR state IN ({marks(states)}))) OR "
            "json_extract(data, '$.unanswered_followups') >= ?)",
            (letters_due_before.isoformat(), *states, unanswered_at_least), with_steps=False)

    def mentor_of(self, ask_id: int) -> int | None:
        row = self._db.execute("SELECT mentor_id FROM asks WHERE id = ?", (ask_id,)).fetchone()
        return None if row is None else int(row[0])

    def counts(self) -> tuple[int, int]:
        """How many asks there are, and how many of them are open."""
        row = self._db.execute(
            "SELECT count(*), count(*) FILTER (WHERE closed_at IS NULL) FROM asks").fetchone()
        return int(row[0]), int(row[1])

    def open_by_state(self) -> dict[str, int]:
        """Open asks counted by state, the most common first."""
        return {r[0]: r[1] for r in self._db.execute(
            "SELECT state, count(*) FROM asks WHERE closed_at IS NULL GROUP BY state "
            "ORDER BY 2 DESC")}

    def of_application(self, application_id: int, playbook: str) -> list[tuple[int, AskState]]:
        """(id, state) of the application's asks of one playbook."""
        return [(int(r[0]), AskState(r[1])) for r in self._db.execute(
            "SELECT id, state FROM asks WHERE application_id = ? AND playbook = ? ORDER BY id",
            (application_id, playbook))]

    def mentors_asked(self, application_id: int) -> set[int]:
        """The mentors with any ask for this application (a backup writer is not one)."""
        return {int(r[0]) for r in self._db.execute(
            "SELECT DISTINCT mentor_id FROM asks WHERE application_id = ?", (application_id,))}

    def started_at(self, playbook: str, application_id: int, at: datetime) -> int:
        """How many asks of ``playbook`` for the application were created at ``at``."""
        row = self._db.execute(
            "SELECT count(*) FROM asks WHERE playbook = ? AND application_id = ? AND "
            "created_at = ?", (playbook, application_id, iso(at))).fetchone()
        return int(row[0])

    def prior(self, mentor_id: int | None = None,
              addresses: Sequence[str] = ()) -> list[PriorAsk]:
        """Earlier asks with their mentors' addresses and when their first mail went out
        (if ever), for the never-twice rule and the hit list: all of them, or only those
        to this mentor or to any of these addresses."""
        if mentor_id is None:
            return self._prior("", ())
        return self.prior_of([mentor_id], addresses)

    def prior_of(self, mentor_ids: Sequence[int], addresses: Sequence[str]) -> list[PriorAsk]:
        """Earlier asks to these people: these mentor records, or any record sharing one
        of these addresses (what the never-twice and candidate rules look at)."""
        wanted = sorted({a.strip().lower() for a in addresses if a.strip()})
        return self._prior(
            f"WHERE a.mentor_id IN ({marks(mentor_ids)}) OR a.mentor_id IN (SELECT mentor_id "
            f"FROM mentor_addresses WHERE address IN ({marks(wanted)})) ",
            (*mentor_ids, *wanted))

    def _prior(self, where: str, params: tuple[object, ...]) -> list[PriorAsk]:
        rows = self._db.execute(
            "SELECT a.id, a.mentor_id, a.created_at, a.account, a.playbook, a.state, "
            "json_extract(a.data, '$.first_contact_at') AS contacted_at, "
            "(SELECT group_concat(m.address, ' ') FROM mentor_addresses m "
            f"WHERE m.mentor_id = a.mentor_id) AS addresses FROM asks a {where}",
            params).fetchall()
        # In id order (ties between asks of the same moment go to the older), sorted here
        # so that SQLite may read through whichever index fits the condition.
        return [PriorAsk(ask_id=r["id"], mentor_id=r["mentor_id"],
                         addresses=tuple((r["addresses"] or "").split()),
                         created_at=datetime.fromisoformat(r["created_at"]),
                         account=r["account"], playbook=r["playbook"], state=r["state"],
                         contacted_at=parse_time(r["contacted_at"]))
                for r in sorted(rows, key=lambda r: int(r["id"]))]

    def count_open(self, playbook: str, *, in_states: Collection[AskState], up_to: int) -> int:
        """How many open asks of ``playbook`` are in one of ``in_states``, counted up to
        ``up_to`` (a question of "are there that many", answered by the first rows of
        the open-asks index, whatever the store's size)."""
        states = tuple(str(s) for s in in_states)
        return len(self._db.execute(
            "SELECT 1 FROM asks WHERE closed_at IS NULL AND "
            f"playbook = ? AND state IN ({marks(states)}) LIMIT ?",
            (playbook, *states, up_to)).fetchall())

    # -- steps ------------------------------------------------------------------------

    def due_steps(self, now: datetime) -> list[DueStep]:
        """Every step that is due at ``now``, oldest first."""
        return [DueStep(r[0], r[1], datetime.fromisoformat(r[2])) for r in self._db.execute(
            f"SELECT s.ask_id, s.name, s.due_at {_WAITING_STEPS} AND s.due_at <= ? "
            "ORDER BY s.due_at, s.id", (*_WAITING_PARAMS, iso(now)))]

    def next_due(self) -> datetime | None:
        """When the next step comes due (None when nothing is planned): the first row of
        the due-time index that counts, not a pass over every planned step."""
        row = self._db.execute(f"SELECT s.due_at {_WAITING_STEPS} ORDER BY s.due_at LIMIT 1",
                               _WAITING_PARAMS).fetchone()
        return parse_time(row[0]) if row else None

    def upcoming(self, limit: int) -> list[UpcomingStep]:
        """The next steps of open asks that still lead to something, soonest first."""
        return [UpcomingStep(r["ask_id"], r["mentor_id"], r["name"], r["kind"],
                             datetime.fromisoformat(r["due_at"])) for r in self._db.execute(
            "SELECT s.ask_id, s.name, s.kind, s.due_at, a.mentor_id FROM steps s "
            "JOIN asks a ON a.id = s.ask_id WHERE a.closed_at IS NULL "
            "AND s.status IN ('planned', 'drafted', 'approved') ORDER BY s.due_at LIMIT ?",
            (limit,))]

    def step_status(self, step_id: int) -> StepStatus | None:
        row = self._db.execute("SELECT status FROM steps WHERE id = ?", (step_id,)).fetchone()
        return None if row is None else StepStatus(row[0])

    def set_step_status(self, step_id: int, new: StepStatus, *, expect: StepStatus) -> None:
        """Move one step from ``expect`` to ``new`` (the sender's claim), or refuse."""
        STEP_LIFECYCLE.check(expect, new, step_id)
        cur = self._write().execute("UPDATE steps SET status = ? WHERE id = ? AND status = ?",
                                    (str(new), step_id, str(expect)))
        if cur.rowcount != 1:
            raise TransitionRefused("step", step_id, str(self.step_status(step_id)), str(new))

    # -- writing ----------------------------------------------------------------------

    def mark_reviewed(self, ask_id: int) -> None:
        """Clear the "needs review" flag."""
        self._write().execute("UPDATE asks SET needs_review = 0 WHERE id = ?", (ask_id,))

    def save(self, ask: Ask, now: datetime) -> Ask:
        """Write ``ask`` (insert when it has no id) and its steps; returns it with ids."""
        db = self._write()
        # closed_at is the engine's decision (settle): written as given, never derived here.
        closed_at = ask.closed_at
        values = (ask.mentor_id, ask.application_id, ask.playbook, str(ask.state), ask.account,
                  iso(now), iso(closed_at) if closed_at else None, int(ask.needs_review),
                  json.dumps(ask.to_data()))
        if ask.id is None:
            ASK_LIFECYCLE.check(None, ask.state, "(new)")
            cur = db.execute(
                "INSERT INTO asks (mentor_id, application_id, playbook, state, account, "
                "updated_at, closed_at, needs_review, data, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", (*values, iso(ask.created_at)))
            ask_id = int(cur.lastrowid or 0)
            stored: dict[int, sqlite3.Row] = {}
        else:
            ask_id = ask.id
            row = db.execute("SELECT state FROM asks WHERE id = ?", (ask_id,)).fetchone()
            if row is None:
                raise NotFoundError("ask", ask_id)
            ASK_LIFECYCLE.check(AskState(row[0]), ask.state, ask_id)
            db.execute(
                "UPDATE asks SET mentor_id = ?, application_id = ?, playbook = ?, state = ?, "
                "account = ?, updated_at = ?, closed_at = ?, needs_review = ?, data = ? "
                "WHERE id = ? AND state = ?", (*values, ask_id, row[0]))
            stored = {r["id"]: r for r in db.execute(
                "SELECT * FROM steps WHERE ask_id = ?", (ask_id,))}
        for step in ask.steps:
            self._save_step(db, ask_id, step, stored.get(step.id or 0), now)
        return self.get(ask_id)

    @staticmethod
    def _save_step(db: sqlite3.Connection, ask_id: int, step: Step,
                   stored: sqlite3.Row | None, now: datetime) -> None:
        columns = (step.name, str(step.kind), step.template, iso(step.due_at), str(step.status),
                   int(step.in_thread), json.dumps(step.to_data()))
        if step.id is None:
            STEP_LIFECYCLE.check(None, step.status, f"{step.name} (new)")
            db.execute(
                "INSERT INTO steps (name, kind, template, due_at, status, in_thread, data, "
                "updated_at, ask_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*columns, iso(now), ask_id, iso(now)))
            return
        if stored is None:
            raise NotFoundError(f"step of ask {ask_id}", step.id)
        before = (stored["name"], stored["kind"], stored["template"], stored["due_at"],
                  stored["status"], stored["in_thread"], stored["data"])
        if before == columns:
            return  # unchanged: no write
        STEP_LIFECYCLE.check(StepStatus(stored["status"]), step.status, step.id)
        db.execute(
            "UPDATE steps SET name = ?, kind = ?, template = ?, due_at = ?, status = ?, "
            "in_thread = ?, data = ?, updated_at = ? WHERE id = ? AND ask_id = ? "
            "AND status = ?", (*columns, iso(now), step.id, ask_id, stored["status"]))
