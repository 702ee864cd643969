"""The database schema, as numbered migration functions.

Each ``mNNNN_*`` function moves the schema from version N-1 to N. They are applied in
order inside one transaction each, and the version reached is recorded in
``PRAGMA user_version``. Never edit a migration that has shipped: add the next one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime


def _script(db: sqlite3.Connection, sql: str) -> None:
    """Run several statements inside the caller's transaction.

    ``executescript`` would COMMIT first, so a failed migration could leave a half-made
    schema; statements are split with ``sqlite3.complete_statement`` instead.
    """
    pending = ""
    for line in sql.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            db.execute(pending)
            pending = ""
    if pending.strip():
        raise ValueError(f"incomplete SQL statement in migration: {pending[:60]!r}")


def m0001_initial(db: sqlite3.Connection) -> None:
    _script(
        db,
        """
        CREATE TABLE mentors (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            title TEXT NOT NULL DEFAULT '',
            institution TEXT NOT NULL DEFAULT '',
            department TEXT NOT NULL DEFAULT '',
            specialty TEXT NOT NULL DEFAULT '',
            last_publication TEXT NOT NULL DEFAULT '',
            grant_status TEXT NOT NULL DEFAULT '',
            connection_point TEXT NOT NULL DEFAULT '',
            outreach_status TEXT NOT NULL DEFAULT 'not contacted',
            rank INTEGER,
            timezone TEXT,
            notes TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL
        );
        CREATE TABLE mentor_addresses (
            id INTEGER PRIMARY KEY,
            mentor_id INTEGER NOT NULL REFERENCES mentors(id) ON DELETE CASCADE,
            address TEXT NOT NULL UNIQUE COLLATE NOCASE,
            kind TEXT NOT NULL DEFAULT 'primary'
                CHECK (kind IN ('primary', 'assistant', 'other'))
        );
        CREATE INDEX mentor_addresses_mentor ON mentor_addresses(mentor_id);
        CREATE TABLE applications (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            system TEXT NOT NULL DEFAULT '',
            deadline TEXT,
            letters_required INTEGER NOT NULL DEFAULT 0,
            programs TEXT NOT NULL DEFAULT '',
            instructions TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL
        );
        CREATE TABLE asks (
            id INTEGER PRIMARY KEY,
            mentor_id INTEGER NOT NULL REFERENCES mentors(id),
            application_id INTEGER REFERENCES applications(id),
            playbook TEXT NOT NULL,
            state TEXT NOT NULL,
            account TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            closed_at TEXT,
            needs_review INTEGER NOT NULL DEFAULT 0,
            data TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX asks_mentor ON asks(mentor_id);
        CREATE INDEX asks_state ON asks(state);
        CREATE TABLE steps (
            id INTEGER PRIMARY KEY,
            ask_id INTEGER NOT NULL REFERENCES asks(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('email', 'task', 'stop', 'check')),
            template TEXT,
            due_at TEXT NOT NULL,
            status TEXT NOT NULL,
            in_thread INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            data TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX steps_ask ON steps(ask_id);
        CREATE INDEX steps_due ON steps(status, due_at);
        CREATE TABLE drafts (
            id INTEGER PRIMARY KEY,
            ask_id INTEGER NOT NULL REFERENCES asks(id) ON DELETE CASCADE,
            step_id INTEGER REFERENCES steps(id) ON DELETE SET NULL,
            account TEXT NOT NULL,
            from_addr TEXT NOT NULL,
            to_addrs TEXT NOT NULL,
            cc_addrs TEXT NOT NULL DEFAULT '[]',
            subject TEXT NOT NULL,
            body TEXT NOT NULL,
            message_id TEXT NOT NULL UNIQUE,
            in_reply_to TEXT,
            references_ TEXT,
            attachments TEXT NOT NULL DEFAULT '[]',
            missing_fields TEXT NOT NULL DEFAULT '[]',
            status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'sending',
                'sent', 'uncertain', 'failed', 'superseded', 'cancelled')),
            meta TEXT NOT NULL DEFAULT '{}',
            send_after TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            sent_at TEXT
        );
        CREATE INDEX drafts_status ON drafts(status);
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            account TEXT NOT NULL,
            folder TEXT NOT NULL,
            uid INTEGER,
            uidvalidity INTEGER,
            message_id TEXT,
            in_reply_to TEXT,
            references_ TEXT,
            from_addr TEXT,
            to_addrs TEXT,
            subject TEXT,
            date TEXT,
            direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
            kind TEXT,
            intent TEXT,
            ask_id INTEGER REFERENCES asks(id) ON DELETE SET NULL,
            match_reason TEXT,
            reply_text TEXT,
            created_at TEXT NOT NULL,
            UNIQUE (account, folder, uidvalidity, uid)
        );
        CREATE INDEX messages_message_id ON messages(message_id);
        CREATE INDEX messages_ask ON messages(ask_id);
        CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            ask_id INTEGER REFERENCES asks(id) ON DELETE SET NULL,
            mentor_id INTEGER REFERENCES mentors(id) ON DELETE SET NULL,
            type TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX events_ask ON events(ask_id);
        CREATE INDEX events_mentor ON events(mentor_id);
        -- The timeline is append-only: history is never rewritten. (ON DELETE SET NULL of
        -- the references above is an UPDATE too, so removing a mentor keeps its events.)
        CREATE TRIGGER events_no_update BEFORE UPDATE OF at, type, detail ON events
            BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
        CREATE TRIGGER events_no_delete BEFORE DELETE ON events
            BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
        CREATE TABLE folder_state (
            account TEXT NOT NULL,
            folder TEXT NOT NULL,
            uidvalidity INTEGER NOT NULL,
            highest_uid INTEGER NOT NULL DEFAULT 0,
            highestmodseq INTEGER,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (account, folder)
        );
        """
    )


# Every column that holds a time, so that m0002 and any later check know them.
TIME_COLUMNS: dict[str, tuple[str, ...]] = {
    "mentors": ("created_at",),
    "applications": ("created_at",),
    "asks": ("created_at", "updated_at", "closed_at"),
    "steps": ("due_at", "created_at", "updated_at"),
    "drafts": ("send_after", "created_at", "updated_at", "sent_at"),
    "messages": ("date", "created_at"),
    "events": ("at",),
    "folder_state": ("updated_at",),
}


def _to_utc(text: str | None) -> str | None:
    if not text:
        return text
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return text  # not a time we wrote; leave it for a human to look at
    if value.tzinfo is None:
        return text
    return value.astimezone(UTC).isoformat()


def m0002_times_in_utc(db: sqlite3.Connection) -> None:
    """Times were stored with whatever offset they came with; SQL compares them as
    text, so e.g. a reply dated -05:00 sorted wrongly against one dated +00:00."""
    db.execute("DROP TRIGGER events_no_update")
    for table, columns in TIME_COLUMNS.items():
        rows = db.execute(f"SELECT rowid, {', '.join(columns)} FROM {table}").fetchall()
        for row in rows:
            values = [_to_utc(row[i + 1]) for i in range(len(columns))]
            if values != [row[i + 1] for i in range(len(columns))]:
                db.execute(f"UPDATE {table} SET {', '.join(c + ' = ?' for c in columns)} "
                           "WHERE rowid = ?", (*values, row[0]))
    _script(db, """
        CREATE TRIGGER events_no_update BEFORE UPDATE OF at, type, detail ON events
            BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
        """)


def m0003_gmail_threads(db: sqlite3.Connection) -> None:
    """Gmail's own thread id (X-GM-THRID), for replies whose client dropped the
    In-Reply-To and References headers."""
    _script(db, """
        ALTER TABLE messages ADD COLUMN gm_thrid INTEGER;
        CREATE INDEX messages_gm_thrid ON messages(gm_thrid);
        """)


def m0004_draft_bookkeeping(db: sqlite3.Connection) -> None:
    """What the send path decides on gets typed columns instead of being counted out of
    the timeline by free-text kind (which also grew with every row ever written):

    * ``drafts.attempts``: temporary send failures so far (the retry back-off);
    * ``drafts.mirrored``: whether the Drafts folder has a copy (``copied``), or never
      will (``skipped``), NULL while it is still to be made;
    * ``draft_notices``: which drafts the user was told about, in which status;
    * ``events_type_at``: the timeline's few lookups by kind and time use an index.

    Filled from the timeline once, here.
    """
    _script(db, """
        ALTER TABLE drafts ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE drafts ADD COLUMN mirrored TEXT
            CHECK (mirrored IS NULL OR mirrored IN ('copied', 'skipped'));
        CREATE TABLE draft_notices (
            draft_id INTEGER NOT NULL REFERENCES drafts(id) ON DELETE CASCADE,
            status TEXT NOT NULL,
            at TEXT NOT NULL,
            PRIMARY KEY (draft_id, status)
        ) WITHOUT ROWID;
        CREATE INDEX events_type_at ON events(type, at);
        UPDATE drafts SET attempts = (
            SELECT count(*) FROM events e WHERE e.type = 'send_retry'
            AND json_extract(e.detail, '$.draft') = drafts.id);
        UPDATE drafts SET mirrored = CASE
            WHEN EXISTS (SELECT 1 FROM events e WHERE e.type = 'draft_mirrored'
                         AND json_extract(e.detail, '$.draft') = drafts.id) THEN 'copied'
            WHEN EXISTS (SELECT 1 FROM events e WHERE e.type = 'draft_not_mirrored'
                         AND json_extract(e.detail, '$.draft') = drafts.id) THEN 'skipped'
            END;
        INSERT OR IGNORE INTO draft_notices (draft_id, status, at)
            SELECT json_extract(j.value, '$[0]'), json_extract(j.value, '$[1]'), e.at
            FROM events e, json_each(e.detail, '$.drafts') j
            WHERE e.type = 'user_notified'
            AND json_extract(j.value, '$[0]') IN (SELECT id FROM drafts);
        """)


def m0005_loop_indexes(db: sqlite3.Connection) -> None:
    """Every query the daemon runs on a pass, and every one a tracker operation runs,
    finds its rows through an index: its cost follows what changed, not the history
    (tests/foundation/test_query_plans.py checks each plan)."""
    _script(db, """
        CREATE INDEX drafts_step ON drafts(step_id);
        CREATE INDEX drafts_ask ON drafts(ask_id);
        CREATE INDEX drafts_sent ON drafts(account, sent_at);
        CREATE INDEX asks_open ON asks(created_at) WHERE closed_at IS NULL;
        CREATE INDEX asks_application ON asks(application_id);
        """)


def m0006_ranked_hit_list(db: sqlite3.Connection) -> None:
    """The hit list in rank order straight from an index, so that looking for the next
    candidates reads the best-ranked mentors first and stops when it has enough."""
    _script(db, """
        CREATE INDEX mentors_ranked ON mentors(rank IS NULL, rank, name COLLATE NOCASE);
        """)


MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (
    m0001_initial,
    m0002_times_in_utc,
    m0003_gmail_threads,
    m0004_draft_bookkeeping,
    m0005_loop_indexes,
    m0006_ranked_hit_list,
)
