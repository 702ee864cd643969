"""Watching with real FolderWatcher threads against the real Dovecot, as ``maild run`` will.

Each watcher gets its own Store connection (opened in its own thread, like the daemon
does) on the world's database and an Inbox sync callback; the ``watchers`` fixture
stops and joins them all at the end of a test. Covers IDLE (latency, renewal), the
server going away (BYE, crash, restart with mail delivered meanwhile), polling without
IDLE, the Sent folder, bad mail, and that the mailbox is left exactly as it was.
"""

from __future__ import annotations

import email
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from maild.adapters.imap import ImapConnection
from maild.app import inbox as inbox_module
from maild.app.drafting import TemplateDrafts
from maild.app.inbox import Inbox, SyncResult
from maild.app.tracker import Tracker
from maild.runtime.watcher import FolderWatcher, WatchTiming, backoff_delay
from maild.sandbox.mail import make_message
from maild.store import Store
from maild.understand.inspect import inspect_message
from tests.mail.conftest import MENTOR, World
from tests.rawdb import raw

# Both IMAP implementations: what maild relies on must hold on each.
pytestmark = pytest.mark.both_imap_servers

# Small everything: a test must not wait seconds for a stop or a reconnect.
FAST = WatchTiming(idle_slice=0.1, idle_renew=600.0, poll_interval=0.2, backoff_base=0.05,
                   backoff_cap=0.4)


def wait_until(what: Callable[[], object], timeout: float = 5.0, step: float = 0.01) -> float:
    """Seconds until ``what()`` is true; fails the test after ``timeout``."""
    start = time.monotonic()
    while not what():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not true within {timeout}s: {what}")
        time.sleep(step)
    return time.monotonic() - start


class CountingConnection(ImapConnection):
    """The real connection, counting the IDLE commands a watcher issues."""

    idle_starts = 0

    def idle_start(self) -> None:
        type(self).idle_starts += 1
        super().idle_start()


@dataclass
class Watchers:
    world: World
    stop: threading.Event = field(default_factory=threading.Event)
    started: list[FolderWatcher] = field(default_factory=list)
    results: list[SyncResult] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    _stores: list[Store] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, role: str = "inbox", *, timing: WatchTiming = FAST, use_idle: bool = True,
              connection: type[ImapConnection] = ImapConnection,
              wait: bool = True, probe: Callable[[], bool] | None = None,
              rng: random.Random | None = None) -> FolderWatcher:
        world = self.world
        local = threading.local()

        def connect() -> ImapConnection:
            conn = world.connect()
            return connection(conn.client, conn.account)

        def resolve(conn: ImapConnection) -> str | None:
            return "INBOX" if role == "inbox" else conn.folders().sent

        def sync(conn: ImapConnection, folder: str) -> SyncResult:
            inbox: Inbox | None = getattr(local, "inbox", None)
            if inbox is None:
                # Opened in the watcher's own thread: one Store connection per thread.
                store = Store.open(world.home / "maild.db")
                with self._lock:
                    self._stores.append(store)
                tracker = Tracker(store, world.config, TemplateDrafts(world.home, world.config))
                inbox = local.inbox = Inbox(store, tracker, world.config, world.account,
                                            world.clock)
            try:
                result = inbox.sync(conn, folder, role)
            except BaseException as exc:
                self.errors.append(exc)
                raise
            self.results.append(result)
            return result

        watcher = FolderWatcher(account=world.account.name, role=role, connect=connect,
                                resolve=resolve, sync=sync, stop=self.stop, timing=timing,
                                use_idle=use_idle, probe=probe, rng=rng)
        watcher.start()
        self.started.append(watcher)
        if wait:
            assert watcher.caught_up.wait(10), "the watcher never caught up"
        return watcher

    def stop_all(self) -> None:
        self.stop.set()
        for watcher in self.started:
            watcher.join(10)
            assert not watcher.is_alive(), f"{watcher.name} did not stop"
        for store in self._stores:
            store.close()
        self._stores.clear()
        self.started.clear()
        self.stop = threading.Event()


def flags_of(world: World, folder: str) -> dict[str, tuple[bytes, ...]]:
    """Message-ID -> flags of every message in ``folder`` (read-only EXAMINE).

    \\Recent is left out: it belongs to whichever session first sees a message, so it
    differs between two looks by nature, not because anyone changed anything.
    """
    with world.connect() as conn:
        conn.select(folder)
        uids = conn.search(["ALL"])
        if not uids:
            return {}
        flags = conn.flags(uids)
        ids = {h.uid: str(email.message_from_bytes(h.headers)["Message-ID"] or h.uid)
               for h in conn.headers(uids)}
    return {ids[uid]: tuple(sorted(f for f in flags[uid] if f != b"\\Recent")) for uid in uids}


def steps_cancelled(world: World, ask_id: int) -> Callable[[], bool]:
    def check() -> bool:
        steps = world.steps(ask_id)
        return steps.get("nudge") == "cancelled"
    return check


def events(world: World, kind: str) -> list[Any]:
    return raw(world.store).execute("SELECT * FROM events WHERE type = ?", (kind,)).fetchall()


@pytest.fixture
def watchers(world: World) -> Iterator[Watchers]:
    group = Watchers(world)
    yield group
    group.stop_all()


def reply_cancels(world: World, watchers: Watchers, ask_id: int, first_id: str,
                  text: str = "Happy to meet - does Thursday work?") -> float:
    """APPEND a reply in the thread; seconds until the watcher cancelled the nudges."""
    world.deliver(world.mentor_writes(text, in_reply_to=first_id))
    return wait_until(steps_cancelled(world, ask_id), timeout=5)


# -- IDLE ------------------------------------------------------------------------------


def test_watcher_sees_a_reply_within_about_a_second(world: World, watchers: Watchers) -> None:
    ask_id, first_id = world.cold_ask_sent()
    watcher = watchers.start()
    assert watcher.connected and watcher.folder == "INBOX"
    took = reply_cancels(world, watchers, ask_id, first_id)
    # Dovecot's own notification delay is about 0.5 s; maild adds little on top.
    assert took < 1.5, took
    assert watcher.reconnects == 0 and not watchers.errors


def test_idle_is_renewed_and_still_delivers(world: World, watchers: Watchers) -> None:
    ask_id, first_id = world.cold_ask_sent()
    CountingConnection.idle_starts = 0
    timing = WatchTiming(idle_slice=0.05, idle_renew=0.2, backoff_base=0.05)
    watcher = watchers.start(timing=timing, connection=CountingConnection)
    wait_until(lambda: CountingConnection.idle_starts >= 4, timeout=5)
    assert reply_cancels(world, watchers, ask_id, first_id) < 1.5
    # Renewing is DONE + IDLE on the same connection, not a reconnect.
    assert watcher.reconnects == 0


def test_without_idle_the_watcher_polls(world: World, watchers: Watchers) -> None:
    ask_id, first_id = world.cold_ask_sent()
    CountingConnection.idle_starts = 0
    watcher = watchers.start(use_idle=False, connection=CountingConnection)
    took = reply_cancels(world, watchers, ask_id, first_id)
    assert took < 2.0, took  # poll_interval is 0.2 s here
    assert CountingConnection.idle_starts == 0 and watcher.reconnects == 0


def test_a_crash_during_idle_leads_to_reconnect(world: World, watchers: Watchers) -> None:
    """kill(): no BYE, just EOF. A long idle_renew proves EOF is noticed by itself."""
    ask_id, first_id = world.cold_ask_sent()
    timing = WatchTiming(idle_slice=0.1, idle_renew=600.0, backoff_base=0.05, backoff_cap=0.4)
    watcher = watchers.start(timing=timing)
    world.server.kill()
    wait_until(lambda: watcher.reconnects >= 1 and not watcher.connected, timeout=3)
    # Refused connections while it is down back off; the thread stays alive.
    time.sleep(0.5)
    assert watcher.is_alive()
    world.server.start()
    wait_until(lambda: watcher.connected, timeout=5)
    assert reply_cancels(world, watchers, ask_id, first_id) < 1.5


def test_reply_delivered_while_the_server_restarts_is_matched(world: World,
                                                              watchers: Watchers) -> None:
    """stop() says BYE; the reply lands in the maildir while no server runs."""
    ask_id, first_id = world.cold_ask_sent()
    watcher = watchers.start()
    world.server.stop()
    wait_until(lambda: not watcher.connected, timeout=3)
    world.server.deliver(world.user, "INBOX", world.mentor_writes(
        "Sorry, I was travelling. Yes, let's talk.", in_reply_to=first_id))
    assert world.steps(ask_id)["nudge"] == "planned"
    world.server.start()
    wait_until(steps_cancelled(world, ask_id), timeout=5)
    assert watcher.is_alive() and watcher.reconnects >= 1
    assert world.state(ask_id) != "waiting_reply"


def test_reply_arriving_while_maild_is_stopped_is_matched_at_next_start(
        world: World, watchers: Watchers) -> None:
    ask_id, first_id = world.cold_ask_sent()
    watchers.start()
    watchers.stop_all()
    world.deliver(world.mentor_writes("Yes - happy to help.", in_reply_to=first_id))
    world.deliver(world.mentor_writes("Sale!", sender="news@shop.example.com", subject="Deals"))
    time.sleep(0.3)
    assert world.steps(ask_id)["nudge"] == "planned"
    # A new daemon: new watcher, new Inbox, new Store connection, same database.
    watchers.start()
    wait_until(steps_cancelled(world, ask_id), timeout=5)
    # The catch-up fetched only the two new messages (from the cursor), not the mailbox.
    assert sum(r.seen for r in watchers.results) == 2


# -- the Sent folder -------------------------------------------------------------------


def test_users_own_reply_from_another_client_is_seen_by_the_sent_watcher(
        world: World, watchers: Watchers) -> None:
    ask_id, first_id = world.cold_ask_sent()
    world.clock.advance(days=6)
    world.tracker.run_due(world.clock())
    [draft] = world.store.read.drafts.with_status("pending")
    watcher = watchers.start("sent")
    assert watcher.folder == "Sent"
    own = make_message(sender=world.account.email, to=MENTOR, subject="Re: Question",
                       body="Just following up on my note below.", in_reply_to=first_id,
                       references=[first_id], date=world.clock())
    world.deliver(own, folder="Sent")
    wait_until(lambda: world.store.read.drafts.get(draft.id).status == "superseded")
    assert world.steps(ask_id)["nudge"] == "superseded"
    row = raw(world.store).execute("SELECT match_reason FROM messages WHERE direction = 'out' "
                                 "AND message_id != ?", (first_id,)).fetchone()
    assert row["match_reason"].startswith("thread: replies to " + first_id)


# -- read-only -------------------------------------------------------------------------


def test_a_watch_session_changes_no_flag_in_inbox_or_sent(world: World,
                                                          watchers: Watchers) -> None:
    ask_id, first_id = world.cold_ask_sent()
    # Mail that is there before the watchers start, with all kinds of flags.
    world.server.deliver(world.user, "INBOX", world.mentor_writes(
        "Old thread.", subject="Earlier"), flags=("\\Seen", "\\Flagged"))
    world.server.deliver(world.user, "INBOX", world.mentor_writes(
        "Newsletter", sender="news@shop.example.com", subject="News"))
    world.server.deliver(world.user, "Sent", make_message(
        sender=world.account.email, to=MENTOR, subject="Re: Earlier", body="Thanks!",
        date=world.clock()), flags=("\\Seen", "\\Answered"))
    inbox_before, sent_before = flags_of(world, "INBOX"), flags_of(world, "Sent")
    watchers.start("inbox")
    watchers.start("sent")
    # During the session: a reply (matched, its body read), a bounce-looking notice
    # (body read, not matched), the user's own message in Sent.
    reply = world.mentor_writes("Yes, let's meet.", in_reply_to=first_id)
    world.deliver(reply)
    world.deliver(world.mentor_writes("Your letter request", sender="noreply@eras.example.org",
                                      subject="Letter request outstanding"))
    world.deliver(make_message(sender=world.account.email, to=MENTOR, subject="Re: Question",
                               body="See you then.", in_reply_to=first_id,
                               date=world.clock()), folder="Sent")
    wait_until(steps_cancelled(world, ask_id))
    wait_until(lambda: raw(world.store).execute(
        "SELECT count(*) FROM messages WHERE direction = 'out'").fetchone()[0] >= 2)
    time.sleep(0.3)
    watchers.stop_all()
    inbox_after, sent_after = flags_of(world, "INBOX"), flags_of(world, "Sent")
    for mid, flags in inbox_before.items():
        assert inbox_after[mid] == flags
    for mid, flags in sent_before.items():
        assert sent_after[mid] == flags
    # What arrived during the session is still unread: nothing set \\Seen.
    new_in_inbox = set(inbox_after) - set(inbox_before)
    assert len(new_in_inbox) == 2
    assert all(inbox_after[mid] == () for mid in new_in_inbox)
    assert all(sent_after[mid] == () for mid in set(sent_after) - set(sent_before))


# -- bad mail --------------------------------------------------------------------------


def test_malformed_mail_never_stops_the_watcher(world: World, watchers: Watchers,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    ask_id, first_id = world.cold_ask_sent()
    watcher = watchers.start()
    on_disk = world.server.deliver
    # Broken headers from the mentor (matched by sender, so the body is read too).
    on_disk(world.user, "INBOX", b"From: " + MENTOR.encode() + b"\r\nSubject: =?utf-8?q?bro"
            b"ken\r\nDate: yesterday-ish\r\nMessage-ID: <<>>\r\nIn-Reply-To: <unclosed\r\n"
            b"Content-Type: multipart/mixed; boundary=\r\n\r\n--\r\n\xff\xfe garbage\r\n")
    # NUL bytes in headers and body.
    on_disk(world.user, "INBOX", b"From: Dr\x00 Rivera <" + MENTOR.encode() + b">\r\n"
            b"Subject: a\x00b\r\n\r\nbody\x00with\x00nuls\r\n")
    # Not an email at all (on disk: Cyrus refuses NUL bytes in an APPEND).
    on_disk(world.user, "INBOX", bytes(range(256)) * 64)
    # A message whose processing fails outright must be recorded and skipped.
    real_inspect = inspect_message

    def explode(raw: bytes) -> object:
        if b"EXPLODE" in raw:
            raise RuntimeError("classifier bug")
        return real_inspect(raw)

    monkeypatch.setattr(inbox_module, "inspect_message", explode)
    world.deliver(world.mentor_writes("EXPLODE", subject="Re: Question"))
    # And after all that, the real reply still gets through.
    world.deliver(world.mentor_writes("Yes, I can help.", in_reply_to=first_id))
    wait_until(lambda: raw(world.store).execute(
        "SELECT count(*) FROM messages WHERE reply_text LIKE '%I can help%'").fetchone()[0])
    assert watcher.is_alive() and watcher.reconnects == 0
    assert not watchers.errors
    assert len(events(world, "message_skipped")) == 1
    # The cursor moved past every bad message: nothing is retried forever.
    with world.connect() as conn:
        conn.select("INBOX")
        top = max(conn.search(["ALL"]))
    assert world.inbox().cursor("INBOX").highest_uid == top  # type: ignore[union-attr]
    assert world.steps(ask_id)["nudge"] == "cancelled"


def test_backoff_grows_with_jitter_up_to_the_cap() -> None:
    timing = WatchTiming(backoff_base=1.0, backoff_cap=300.0)
    rng = random.Random(7)
    delays = [backoff_delay(n, timing, rng) for n in range(12)]
    assert 0.5 <= delays[0] <= 1.0 and 2.0 <= delays[2] <= 4.0
    assert all(150.0 <= d <= 300.0 for d in delays[9:])  # 2**9 s is past the cap
    # Jitter: two watchers failing together do not retry in lockstep.
    assert len({round(backoff_delay(3, timing, rng), 6) for _ in range(5)}) == 5
