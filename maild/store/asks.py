"""Asks and their steps in the store: loading the core's values and saving new truth.

The engine returns the whole ask as it should now be; ``save_ask`` writes it back:
columns it knows, extras in the JSON ``data`` column, new steps (no id yet) inserted,
existing steps updated in place. Call it inside ``Store.transaction()`` together with
whatever the decision's actions write, so one event is one commit. ``closed_at`` is
the engine's to set and clear; the store writes what it is given.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from datetime import datetime

from maild.core.contacts import PriorAsk
from maild.core.model import Ask, Step
from maild.errors import NotFoundError
from maild.store.db import Store, iso


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


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
        updated_at=_time(row["updated_at"]), closed_at=_time(row["closed_at"]),
        needs_review=bool(row["needs_review"]), steps=tuple(steps),
        data=json.loads(row["data"] or "{}"),
    )


def load_ask(store: Store, ask_id: int) -> Ask:
    row = store.db.execute("SELECT * FROM asks WHERE id = ?", (ask_id,)).fetchone()
    if row is None:
        raise NotFoundError("ask", ask_id)
    steps = [_step(s) for s in store.db.execute(
        "SELECT * FROM steps WHERE ask_id = ? ORDER BY due_at, id", (ask_id,))]
    return _ask(row, steps)


def load_asks(store: Store, where: str = "1", params: tuple[object, ...] = (), *,
              with_steps: bool = True) -> list[Ask]:
    """Asks matching an SQL condition on ``asks``, with their steps, in two queries.

    ``with_steps=False`` leaves ``steps`` empty: for readers that need only the ask's
    own fields (the dashboard), since building thousands of Step values is most of the
    cost of loading every open ask.
    """
    rows = store.db.execute(f"SELECT * FROM asks WHERE {where} ORDER BY id", params).fetchall()
    if not rows:
        return []
    if not with_steps:
        return [_ask(r, ()) for r in rows]
    by_ask: dict[int, list[Step]] = {}
    ids = [r["id"] for r in rows]
    for start in range(0, len(ids), 900):  # SQLite's bound-parameter limit
        chunk = ids[start:start + 900]
        for s in store.db.execute(
            f"SELECT * FROM steps WHERE ask_id IN ({','.join('?' * len(chunk))}) "
            "ORDER BY due_at, id", chunk):
            by_ask.setdefault(s["ask_id"], []).append(_step(s))
    return [_ask(r, by_ask.get(r["id"], [])) for r in rows]


def open_asks(store: Store, *, with_steps: bool = True) -> list[Ask]:
    return load_asks(store, "closed_at IS NULL", with_steps=with_steps)


def save_ask(store: Store, ask: Ask, now: datetime) -> Ask:
    """Write ``ask`` (insert when it has no id) and its steps; returns it with ids."""
    db = store.db
    # closed_at is the engine's decision (settle): written as given, never derived here.
    closed_at = ask.closed_at
    values = (ask.mentor_id, ask.application_id, ask.playbook, str(ask.state), ask.account,
              iso(now), iso(closed_at) if closed_at else None, int(ask.needs_review),
              json.dumps(ask.to_data()))
    if ask.id is None:
        cur = db.execute(
            "INSERT INTO asks (mentor_id, application_id, playbook, state, account, "
            "updated_at, closed_at, needs_review, data, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", (*values, iso(ask.created_at)))
        ask_id = int(cur.lastrowid or 0)
    else:
        ask_id = ask.id
        db.execute(
            "UPDATE asks SET mentor_id = ?, application_id = ?, playbook = ?, state = ?, "
            "account = ?, updated_at = ?, closed_at = ?, needs_review = ?, data = ? "
            "WHERE id = ?", (*values, ask_id))
    for step in ask.steps:
        row = (step.name, str(step.kind), step.template, iso(step.due_at), str(step.status),
               int(step.in_thread), iso(now), json.dumps(step.to_data()))
        if step.id is None:
            db.execute(
                "INSERT INTO steps (name, kind, template, due_at, status, in_thread, "
                "updated_at, data, ask_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*row, ask_id, iso(now)))
        else:
            db.execute(
                "UPDATE steps SET name = ?, kind = ?, template = ?, due_at = ?, status = ?, "
                "in_thread = ?, updated_at = ?, data = ? WHERE id = ? AND ask_id = ?",
                (*row, step.id, ask_id))
    return load_ask(store, ask_id)


def prior_asks(store: Store) -> list[PriorAsk]:
    """Every ask as the never-twice rule and the hit list see it: who, where from, when
    it was created and when its first mail went out (if ever)."""
    rows = store.db.execute(
        "SELECT a.id, a.mentor_id, a.created_at, a.account, a.playbook, a.state, "
        "json_extract(a.data, '$.first_contact_at') AS contacted_at, "
        "group_concat(m.address, ' ') AS addresses FROM asks a "
        "LEFT JOIN mentor_addresses m ON m.mentor_id = a.mentor_id GROUP BY a.id").fetchall()
    return [PriorAsk(ask_id=r["id"], mentor_id=r["mentor_id"],
                     addresses=tuple((r["addresses"] or "").split()),
                     created_at=datetime.fromisoformat(r["created_at"]),
                     account=r["account"], playbook=r["playbook"], state=r["state"],
                     contacted_at=_time(r["contacted_at"]))
            for r in rows]
