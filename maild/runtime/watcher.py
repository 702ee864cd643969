"""Watching one IMAP folder in a thread: IDLE, reconnects, and when to catch up.

A ``FolderWatcher`` owns the protocol loop only. What to do with new mail is the
``sync`` callback's business (see ``maild.app.inbox``), called in this thread with the live
connection whenever the folder may have changed: after every (re)connect and on every
EXISTS the server pushes. Any error drops the connection and reconnects with
exponential backoff and jitter; the thread dies only when asked to stop.

While the server cannot be reached at all, the back-off grows (up to minutes after a
long outage), but the wait is not blind: a cheap ``probe`` (a TCP connect) every
``probe_interval`` seconds ends it as soon as the server is back, and the back-off
starts over. So the catch-up after an outage begins within seconds of the server's
return, whatever the back-off had grown to.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from maild.adapters.imap import CertificateError, ImapConnection, ImapUnreachable
from maild.errors import MaildError

log = logging.getLogger(__name__)

Connect = Callable[[], ImapConnection]
# True when the server accepts connections again (cheap: no TLS, no login).
Probe = Callable[[], bool]
# Told (once) why the watcher gave up: what only the user can fix.
GiveUp = Callable[[str], None]
# What the sync returns (e.g. an inbox SyncResult) is only logged.
Sync = Callable[[ImapConnection, str], object]
# Catch-ups in a row when the server keeps announcing mail during catch-up; past this
# the watcher goes back to IDLE, which reports anything still new at once.
_MAX_CATCHUP_ROUNDS = 5


@dataclass(frozen=True)
class WatchTiming:
    idle_slice: float = 1.0          # how often the thread checks for stop while idling
    idle_renew: float = 10 * 60.0    # re-issue IDLE well inside the 29-minute limit
    poll_interval: float = 60.0      # servers without IDLE
    backoff_base: float = 1.0
    backoff_cap: float = 300.0
    probe_interval: float = 2.0      # while unreachable; 0 turns probing off


def backoff_delay(attempt: int, timing: WatchTiming, rng: random.Random) -> float:
    """Exponential backoff with jitter: attempt 0 waits about base, never over cap."""
    ceiling = min(timing.backoff_cap, timing.backoff_base * float(1 << min(attempt, 20)))
    return ceiling * rng.uniform(0.5, 1.0)


class FolderWatcher(threading.Thread):
    """Keeps one folder of one account watched until ``stop`` is set."""

    def __init__(self, *, account: str, role: str, connect: Connect,
                 resolve: Callable[[ImapConnection], str | None], sync: Sync,
                 stop: threading.Event, timing: WatchTiming | None = None,
                 rng: random.Random | None = None, use_idle: bool = True,
                 probe: Probe | None = None, give_up: GiveUp | None = None) -> None:
        super().__init__(name=f"watch-{account}-{role}", daemon=True)
        self.account = account
        self.role = role
        self._connect = connect
        self._resolve = resolve
        self._sync = sync
        self._stop_event = stop
        self.timing = timing or WatchTiming()
        self._rng = rng or random.Random()
        # False forces polling even where the server offers IDLE (tests, broken IDLE).
        self.use_idle = use_idle
        self._probe = probe
        self._give_up = give_up
        # Why the watcher stopped for good (a certificate that cannot be verified).
        self.gave_up: str | None = None
        self._connected = threading.Event()
        # Set once the first catch-up after start finished (the daemon's READY=1).
        self.caught_up = threading.Event()
        self.folder: str | None = None
        self.reconnects = 0
        # The last problem, for the page's health view; cleared once connected again.
        self.last_error: str | None = None
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
            unreachable = False
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
                self.last_error = None
                self._catch_up(conn, folder)
                self.caught_up.set()
                attempt = 0
                self._watch(conn, folder)
            except CertificateError as exc:
                # Retrying cannot fix it and verification is never turned off: stop, and
                # tell the user what to change (a reload restarts the watchers).
                log.error("%s/%s: %s; not watching until the config is fixed",
                          self.account, self.role, exc)
                self.gave_up = exc.message
                if self._give_up is not None:
                    self._give_up(exc.message)
                self.caught_up.set()
                return
            except ImapUnreachable as exc:
                unreachable = True
                log.warning("%s/%s: %s", self.account, self.role, exc)
            except MaildError as exc:
                log.warning("%s/%s: %s", self.account, self.role, exc)
                self.last_error = str(exc).splitlines()[0][:200]
            except Exception as exc:
                # A bug or an unexpected library error must not kill the watcher.
                log.exception("%s/%s: unexpected error; reconnecting", self.account, self.role)
                self.last_error = f"unexpected error ({type(exc).__name__})"
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
            if unreachable and self._wait_for_server(delay):
                # Back: start the back-off over, so a failure right after the return
                # is retried soon, and nothing waits for what the outage grew it to.
                attempt = 0
                log.info("%s/%s: the server answers again; reconnecting now", self.account,
                         self.role)

    def _wait_for_server(self, delay: float) -> bool:
        """Wait up to ``delay`` seconds; True as soon as the probe reaches the server."""
        interval = self.timing.probe_interval
        if self._probe is None or interval <= 0:
            self._stop_event.wait(delay)
            return False
        deadline = time.monotonic() + delay
        while not self._stop_event.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if self._stop_event.wait(min(interval, left)):
                return False
            if self._probe():
                return True
        return False

    def _catch_up(self, conn: ImapConnection, folder: str) -> None:
        for _ in range(_MAX_CATCHUP_ROUNDS):
            result = self._sync(conn, folder)
            log.debug("%s/%s: synced %s", self.account, self.role, result)
            if not conn.pending_changes():
                return

    def _watch(self, conn: ImapConnection, folder: str) -> None:
        if not (self.use_idle and conn.has("IDLE")):
            self._poll(conn, folder)
            return
        while not self._stop_event.is_set():
            conn.idle_start()
            started = time.monotonic()
            changed = False
            while not self._stop_event.is_set():
                # Returns as soon as the server pushes something; the slice only bounds
                # how long a stop request waits. EOF and BYE raise (-> reconnect).
                responses = conn.idle_wait(self.timing.idle_slice)
                if any(_is_change(r) for r in responses) or self._wake.is_set():
                    changed = True
                    break
                if time.monotonic() - started >= self.timing.idle_renew:
                    break
            # A push that raced with DONE comes back with the server's OK.
            tail = conn.idle_stop()
            if changed or self._wake.is_set() or any(_is_change(r) for r in tail):
                self._wake.clear()
                self._catch_up(conn, folder)

    def _poll(self, conn: ImapConnection, folder: str) -> None:
        log.info("%s/%s: polling every %.0fs (no IDLE)", self.account, self.role,
                 self.timing.poll_interval)
        while not self._stop_event.is_set():
            deadline = time.monotonic() + self.timing.poll_interval
            while time.monotonic() < deadline and not self._stop_event.is_set():
                if self._wake.wait(min(self.timing.idle_slice, deadline - time.monotonic(),
                                       1.0)):
                    break
            self._wake.clear()
            if self._stop_event.is_set():
                return
            # The catch-up re-selects the folder, which is what makes the server look
            # for new mail; no NOOP needed.
            self._catch_up(conn, folder)


def _is_change(response: object) -> bool:
    # IDLE responses look like (3, b'EXISTS') or (2, b'EXPUNGE'); BYE means leave.
    if isinstance(response, tuple) and response:
        if response[0] == b"BYE":
            raise ConnectionClosed()
        # FETCH (flag changes) is not new mail: catching up on it would be wasted work.
        return len(response) >= 2 and response[1] in (b"EXISTS", b"RECENT")
    return False


class ConnectionClosed(MaildError):
    """The server said BYE during IDLE."""

    def __init__(self) -> None:
        super().__init__("the IMAP server closed the connection (BYE)")
