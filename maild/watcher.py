"""Watching one IMAP folder in a thread: IDLE, reconnects, and when to catch up.

A ``FolderWatcher`` owns the protocol loop only. What to do with new mail is the
``sync`` callback's business (see ``maild.inbox``), called in this thread with the live
connection whenever the folder may have changed: after every (re)connect and on every
EXISTS the server pushes. Any error drops the connection and reconnects with
exponential backoff and jitter; the thread dies only when asked to stop.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from maild.adapters.imap import ImapConnection
from maild.errors import MaildError

log = logging.getLogger(__name__)

Connect = Callable[[], ImapConnection]
Sync = Callable[[ImapConnection, str], None]


@dataclass(frozen=True)
class WatchTiming:
    idle_slice: float = 1.0          # how often the thread checks for stop while idling
    idle_renew: float = 10 * 60.0    # re-issue IDLE well inside the 29-minute limit
    poll_interval: float = 60.0      # servers without IDLE
    backoff_base: float = 1.0
    backoff_cap: float = 300.0


def backoff_delay(attempt: int, timing: WatchTiming, rng: random.Random) -> float:
    """Exponential backoff with jitter: attempt 0 waits about base, never over cap."""
    ceiling = min(timing.backoff_cap, timing.backoff_base * float(1 << min(attempt, 20)))
    return ceiling * rng.uniform(0.5, 1.0)


class FolderWatcher(threading.Thread):
    """Keeps one folder of one account watched until ``stop`` is set."""

    def __init__(self, *, account: str, role: str, connect: Connect,
                 resolve: Callable[[ImapConnection], str | None], sync: Sync,
                 stop: threading.Event, timing: WatchTiming | None = None,
                 rng: random.Random | None = None) -> None:
        super().__init__(name=f"watch-{account}-{role}", daemon=True)
        self.account = account
        self.role = role
        self._connect = connect
        self._resolve = resolve
        self._sync = sync
        self._stop_event = stop
        self.timing = timing or WatchTiming()
        self._rng = rng or random.Random()
        self._connected = threading.Event()
        # Set once the first catch-up after start finished (the daemon's READY=1).
        self.caught_up = threading.Event()
        self.folder: str | None = None
        self.reconnects = 0
        self._wake = threading.Event()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def poke(self) -> None:
        """Ask for a catch-up now (e.g. after the user sent mail from maild)."""
        self._wake.set()

    def run(self) -> None:
        attempt = 0
        while not self._stop_event.is_set():
            conn: ImapConnection | None = None
            try:
                conn = self._connect()
                folder = self._resolve(conn)
                if folder is None:
                    log.warning("%s: no %s folder found; not watching it", self.account,
                                self.role)
                    self.caught_up.set()
                    return
                self.folder = folder
                self._connected.set()
                self._sync(conn, folder)
                self.caught_up.set()
                attempt = 0
                self._watch(conn, folder)
            except MaildError as exc:
                log.warning("%s/%s: %s", self.account, self.role, exc)
            except Exception:
                # A bug or an unexpected library error must not kill the watcher.
                log.exception("%s/%s: unexpected error; reconnecting", self.account, self.role)
            finally:
                self._connected.clear()
                if conn is not None:
                    conn.close()
            if self._stop_event.is_set():
                break
            delay = backoff_delay(attempt, self.timing, self._rng)
            attempt += 1
            self.reconnects += 1
            log.info("%s/%s: reconnecting in %.1fs", self.account, self.role, delay)
            self._stop_event.wait(delay)

    def _watch(self, conn: ImapConnection, folder: str) -> None:
        if not conn.has("IDLE"):
            self._poll(conn, folder)
            return
        while not self._stop_event.is_set():
            conn.idle_start()
            started = time.monotonic()
            changed = False
            while not self._stop_event.is_set():
                responses = conn.idle_wait(self.timing.idle_slice)
                if any(_is_change(r) for r in responses) or self._wake.is_set():
                    changed = True
                    break
                if time.monotonic() - started >= self.timing.idle_renew:
                    break
            conn.idle_stop()
            if changed or self._wake.is_set():
                self._wake.clear()
                self._sync(conn, folder)

    def _poll(self, conn: ImapConnection, folder: str) -> None:
        while not self._stop_event.is_set():
            deadline = time.monotonic() + self.timing.poll_interval
            while time.monotonic() < deadline and not self._stop_event.is_set():
                if self._wake.wait(min(self.timing.idle_slice, 1.0)):
                    break
            self._wake.clear()
            if self._stop_event.is_set():
                return
            conn.noop()
            self._sync(conn, folder)


def _is_change(response: object) -> bool:
    # IDLE responses look like (3, b'EXISTS') or (2, b'EXPUNGE'); BYE means leave.
    if isinstance(response, tuple) and len(response) >= 2:
        word = response[1]
        if word == b"BYE":
            raise ConnectionClosed()
        return word in (b"EXISTS", b"RECENT", b"FETCH")
    return False


class ConnectionClosed(MaildError):
    """The server said BYE during IDLE."""

    def __init__(self) -> None:
        super().__init__("the IMAP server closed the connection (BYE)")
