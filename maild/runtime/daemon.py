"""The daemon: watcher threads, the asyncio side (timer, sending) and the store.

``Daemon.run`` wires everything for one MAILD_HOME:

* one ``FolderWatcher`` thread per account and folder (INBOX, Sent), each syncing with
  its own store connection and waking the asyncio side when something changed;
* a wake pipe (``maild.runtime.wake``) through which the CLI says "I changed the store"
  (an approval, a new ask), so nobody waits for a timer;
* APScheduler (AsyncIOScheduler, in-memory) as the only timer: one date job, ``wake``,
  armed after every pass for the earliest moment the store says something is due (a
  step, a draft's sending window or back-off, a snooze ending, the digest's day), and
  under systemd's watchdog an interval job that pings it. The store decides what is
  due; the timer only says "look now", so a restart loses or doubles nothing;
* a loop that sleeps until one of those wakes it, then runs due steps and sends
  approved drafts, once per wake-up: when nothing is due it does nothing at all;
* the local web page (``maild ui``), unless ``[ui] serve = false``: uvicorn on this
  loop, on 127.0.0.1 only, its URL in MAILD_HOME for ``maild ui`` to open (a change
  made in the page wakes the loop through the same pipe as the CLI's);
* systemd: READY=1 once every folder has caught up, STATUS= lines, WATCHDOG=1 only while
  the IMAP threads are connected, STOPPING=1 on SIGTERM; SIGHUP reloads config.toml.

The wake job is never armed further than ``MAX_SLEEP`` ahead: timers count the time the
machine is awake, so after a laptop's sleep the loop looks again within that much.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from maild import paths
from maild.adapters import sdnotify
from maild.adapters.credentials import Secrets
from maild.adapters.imap import ImapConnection, reachable
from maild.app.drafting import TemplateDrafts
from maild.app.inbox import Inbox
from maild.app.mirror import DraftsMirror
from maild.app.notify import Notifier
from maild.app.outbox import Sender
from maild.app.today import FolderHealth
from maild.app.tracker import Tracker
from maild.clock import Clock
from maild.config import Account, Config, load
from maild.core.actions import Level
from maild.core.model import DraftStatus
from maild.errors import MaildError
from maild.runtime.lock import DaemonLock
from maild.runtime.wake import WakeChannel
from maild.runtime.watcher import FolderWatcher, WatchTiming
from maild.store import Store

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from maild.web.ondemand import OnDemandPage

log = logging.getLogger(__name__)

ROLES = ("inbox", "sent")
WAKE_JOB = "wake"
WATCHDOG_JOB = "watchdog"
Notify = Callable[[Level, str], None]


@dataclass(frozen=True)
class DaemonOptions:
    max_sleep: float = 600.0            # real seconds the timer is armed ahead at most
    stuck_retry: float = 30.0           # something due could not be done: look again then
    ready_timeout: float = 120.0        # READY=1 at the latest after this, even if offline
    stop_timeout: float = 8.0           # SIGTERM -> exit well inside systemd's 10 s
    # None: from config.toml's [watch] (what `maild run` uses); tests and the demo
    # pass their own.
    timing: WatchTiming | None = None


class Daemon:
    def __init__(self, home: Path, env: Mapping[str, str], clock: Clock,
                 options: DaemonOptions | None = None, notify: Notify | None = None) -> None:
        self.home = home
        self.env = env
        self.clock = clock
        self.options = options or DaemonOptions()
        self.notify_user = notify
        self.systemd = sdnotify.Notifier.from_env(env)
        self._watchdog_every = sdnotify.watchdog_interval(env)
        self._stop = threading.Event()
        self._watch_stop = threading.Event()
        self._watchers: list[FolderWatcher] = []
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reload = False
        self.ready = asyncio.Event()
        # One set of secrets for every thread: OAuth2 access tokens are cached and
        # renewed in one place, and a sign-in gone bad is told to the user once.
        self.secrets = Secrets(env, now=clock.now, on_reauth=self._sign_in_needed)
        self._config: Config | None = None
        self.passes = 0  # loop passes done (the idle benchmark and tests read it)

    # -- wiring -----------------------------------------------------------------------

    def _tracker(self, store: Store, config: Config) -> Tracker:
        notify = self.notify_user or self._notifier(config)
        return Tracker(store, config, TemplateDrafts(self.home, config), notify=notify)

    def _notifier(self, config: Config) -> Notifier:
        return Notifier(config, secret=self.secrets.get, env=self.env)

    def _sign_in_needed(self, account: Account, text: str) -> None:
        if self.notify_user is not None:
            self.notify_user(Level.WARNING, text)
        elif self._config is not None:
            self._notifier(self._config).tell(text, Level.WARNING)

    def _connect(self, account: Account) -> Callable[[], ImapConnection]:
        def connect() -> ImapConnection:
            return ImapConnection.open(account, self.secrets.get(account))
        return connect

    def _imap(self, account: Account) -> ImapConnection:
        return self._connect(account)()

    def _sync_for(self, config: Config, account: Account, role: str
                  ) -> Callable[[ImapConnection, str], None]:
        def sync(conn: ImapConnection, folder: str) -> None:
            # Each watcher thread uses its own connection to the database.
            with Store.open(paths.database_path(self.home)) as store:
                inbox = Inbox(store, self._tracker(store, config), config, account,
                              self.clock.now)
                result = inbox.sync(conn, folder, role)
            if result.seen:
                log.info("%s/%s: %d new, %d matched, %d applied", account.name, folder,
                         result.seen, result.matched, result.applied)
            self.poke()
        return sync

    def _give_up(self, config: Config, account: str, role: str) -> Callable[[str], None]:
        def tell(why: str) -> None:
            notify = self.notify_user or self._notifier(config)
            try:
                notify(Level.URGENT, f"maild stopped watching {account} ({role}): {why}")
            except Exception:
                log.exception("could not tell the user why %s/%s stopped", account, role)
        return tell

    def _resolve(self, role: str) -> Callable[[ImapConnection], str | None]:
        def resolve(conn: ImapConnection) -> str | None:
            names = conn.folders()
            return names.inbox if role == "inbox" else names.sent
        return resolve

    def _timing(self, config: Config) -> WatchTiming:
        if self.options.timing is not None:
            return self.options.timing
        return WatchTiming(backoff_base=config.watch.reconnect_min,
                           backoff_cap=config.watch.reconnect_max,
                           probe_interval=config.watch.probe_every)

    def _start_watchers(self, config: Config) -> None:
        self._watch_stop = threading.Event()
        self._watchers = []
        for account in config.accounts:
            for role in ROLES:
                endpoint = account.imap
                watcher = FolderWatcher(
                    account=account.name, role=role, connect=self._connect(account),
                    resolve=self._resolve(role), sync=self._sync_for(config, account, role),
                    stop=self._watch_stop, timing=self._timing(config),
                    probe=lambda e=endpoint: reachable(e),  # type: ignore[misc]
                    give_up=self._give_up(config, account.name, role))
                watcher.start()
                self._watchers.append(watcher)

    def _stop_watchers(self) -> None:
        self._watch_stop.set()
        for watcher in self._watchers:
            watcher.join(timeout=self.options.stop_timeout / 2)

    def poke(self) -> None:
        """Look at the store now (thread-safe): new mail, a change made elsewhere."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            loop.call_soon_threadsafe(wake.set)

    @property
    def watchers_alive(self) -> bool:
        return all(w.connected or (w.caught_up.is_set() and not w.is_alive())
                   for w in self._watchers)

    # -- scheduling -------------------------------------------------------------------

    def _real_delay(self, due: datetime) -> float:
        """Seconds of real time until ``due`` on the (possibly fast) maild clock."""
        ahead = (due - self.clock.now()).total_seconds()
        speed = self.clock.speed if self.clock.is_virtual and self.clock.speed else 1.0
        return max(0.0, ahead / speed)

    def next_wakeup(self, store: Store, sender: Sender, notifier: Notifier,
                    now: datetime) -> datetime | None:
        """The earliest moment the store says something will be due (maild's clock)."""
        times = [store.read.asks.next_due(), sender.next_wakeup(),
                 notifier.next_wakeup(store, now)]
        return min((t for t in times if t is not None), default=None)

    def _arm(self, scheduler: AsyncIOScheduler, due: datetime | None, looked_at: datetime
             ) -> float:
        """Arm the one wake job; returns its delay in real seconds.

        ``looked_at`` is when the pass that just ended looked at the store: something due
        before then that is still due could not be done (a broken ask, a server away),
        and is looked at again after ``stuck_retry``, never in a tight loop.
        """
        delay = self.options.max_sleep
        if due is not None:
            if due <= looked_at:
                log.debug("due since %s and not done; looking again in %.0fs",
                          due.isoformat(), self.options.stuck_retry)
                delay = min(delay, self.options.stuck_retry)
            else:
                delay = min(delay, self._real_delay(due))
        run_at = datetime.now().astimezone() + timedelta(seconds=delay)
        # misfire_grace_time=None: a wake-up missed while the loop was busy still fires.
        scheduler.add_job(self._timer_fired, "date", run_date=run_at, id=WAKE_JOB,
                          replace_existing=True, misfire_grace_time=None)
        return delay

    async def _timer_fired(self) -> None:
        self.poke()

    async def _watchdog_ping(self) -> None:
        # No ping while an IMAP thread is down: systemd restarts a hung daemon.
        if self.watchers_alive:
            self.systemd.watchdog()

    def _start_watchdog(self, scheduler: AsyncIOScheduler) -> None:
        if self._watchdog_every:
            scheduler.add_job(self._watchdog_ping, "interval", seconds=self._watchdog_every,
                              id=WATCHDOG_JOB, replace_existing=True, coalesce=True,
                              max_instances=1, next_run_time=datetime.now().astimezone())

    # -- main -------------------------------------------------------------------------

    def request_stop(self) -> None:
        self._stop.set()
        self.poke()

    def request_reload(self) -> None:
        self._reload = True
        self.poke()

    async def run(self) -> int:
        with DaemonLock.acquire(self.home):
            return await self._run_locked()

    async def _run_locked(self) -> int:
        config = self._config = load(paths.config_path(self.home))
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        for sig, handler in ((signal.SIGTERM, self.request_stop),
                             (signal.SIGINT, self.request_stop),
                             (signal.SIGHUP, self.request_reload)):
            # Outside the main thread (tests) the caller stops the daemon instead.
            with suppress(NotImplementedError, RuntimeError):
                self._loop.add_signal_handler(sig, handler)
        store = Store.open(paths.database_path(self.home))
        wake = WakeChannel.open(self.home)
        self._loop.add_reader(wake.fileno(), self._woken_by_pipe, wake)
        ui: OnDemandPage | None = None
        scheduler = AsyncIOScheduler()
        scheduler.start()
        try:
            tracker = self._tracker(store, config)
            sender = self._sender(store, tracker, config)
            for draft_id, outcome in await asyncio.to_thread(sender.recover):
                log.warning("draft %d was being sent when maild stopped: now %s", draft_id,
                            outcome)
            self._start_watchers(config)
            ui = self._start_ui(config)
            mirror = self._mirror(store, config)
            await self._wait_ready()
            self._start_watchdog(scheduler)
            notifier = self._notifier(config)
            while not self._stop.is_set():
                if self._reload:
                    self._reload = False
                    config, tracker, sender = self._reloaded(config, store, tracker, sender)
                    notifier = self._notifier(config)
                    mirror = self._mirror(store, config)
                looked_at = self.clock.now()
                await self._step(tracker, sender, mirror)
                self.passes += 1
                try:
                    await self._tell_user(notifier, store)
                    self._status(store)
                    due = self.next_wakeup(store, sender, notifier, self.clock.now())
                    self._arm(scheduler, due, looked_at)
                except Exception:
                    # Housekeeping must never end the daemon; look again a little later.
                    log.exception("unexpected error after a round; continuing")
                    self._arm(scheduler, None, looked_at)
                await self._wake.wait()
                self._wake.clear()
            self.systemd.stopping()
            log.info("stopping")
            return 0
        finally:
            if ui is not None:
                await self._stop_ui(ui)
            self._stop_watchers()
            scheduler.shutdown(wait=False)
            self._loop.remove_reader(wake.fileno())
            wake.close()
            store.close()

    def _woken_by_pipe(self, wake: WakeChannel) -> None:
        if wake.drain():
            self.poke()

    # -- the page -----------------------------------------------------------------------

    def _start_ui(self, config: Config) -> OnDemandPage | None:
        """Serve the page on this loop (``[ui] serve``), loaded when a browser first
        connects; a busy port is a warning only: the daemon's work does not depend on
        the page, and ``maild ui`` says what to do."""
        if not config.ui.serve:
            return None
        # Imported here: a daemon with the page switched off does not load even these.
        from maild.web.access import Served, write_served
        from maild.web.listen import UiPortError, base_url, bind
        from maild.web.ondemand import OnDemandPage

        try:
            sock = bind(config.ui.port)
        except UiPortError as exc:
            log.warning("the page is not served by the daemon: %s", exc)
            return None
        notify = self.notify_user or self._notifier(config)

        def make_app() -> ASGIApp:
            from maild.web.access import Access
            from maild.web.pages import Site, create_app

            return create_app(Site(home=self.home, now=self.clock.now, served_by="daemon",
                                   access=Access(self.home), live_folders=self._live_folders,
                                   notify=notify))

        page = OnDemandPage(sock, make_app)
        page.start()
        write_served(self.home, Served(url=base_url(sock), pid=os.getpid(), by="daemon"))
        log.info("the page is served at %s (open it with `maild ui`)", base_url(sock))
        return page

    async def _stop_ui(self, page: OnDemandPage) -> None:
        from maild.web.access import clear_served

        clear_served(self.home, os.getpid())
        await page.stop(timeout=self.options.stop_timeout / 2)

    def _live_folders(self) -> list[FolderHealth]:
        return [FolderHealth(account=w.account, folder=w.folder or w.role, synced_at=None,
                             connected=w.connected, error=w.last_error)
                for w in self._watchers]

    def _sender(self, store: Store, tracker: Tracker, config: Config) -> Sender:
        return Sender(store, tracker, config, secret=self.secrets.get,
                      imap=self._imap, now=self.clock.now)

    def _reloaded(self, config: Config, store: Store, tracker: Tracker, sender: Sender
                  ) -> tuple[Config, Tracker, Sender]:
        self.systemd.reloading()
        try:
            new = load(paths.config_path(self.home))
        except MaildError as exc:
            log.error("config not reloaded, keeping the old one: %s", exc)
            self.systemd.ready()
            return config, tracker, sender
        log.info("config reloaded")
        self._config = new
        self._stop_watchers()
        tracker = self._tracker(store, new)
        sender = self._sender(store, tracker, new)
        self._start_watchers(new)
        self.systemd.ready()
        return new, tracker, sender

    async def _wait_ready(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.options.ready_timeout
        assert self._wake is not None
        while not all(w.caught_up.is_set() for w in self._watchers):
            left = deadline - loop.time()
            if self._stop.is_set() or left <= 0:
                break
            # A sync pokes; a folder that catches up with nothing new does not, hence
            # the short timeout (at start only: the first pass follows at once anyway).
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=min(left, 0.25))
            self._wake.clear()
        if all(w.caught_up.is_set() for w in self._watchers):
            log.info("ready: %d folders caught up", len(self._watchers))
        else:
            log.warning("ready without a full catch-up: some IMAP folders are unreachable")
        self.systemd.ready(f"watching {len(self._watchers)} folders")
        self.ready.set()

    def _mirror(self, store: Store, config: Config) -> DraftsMirror:
        return DraftsMirror(store, config, imap=self._imap, now=self.clock.now)

    async def _step(self, tracker: Tracker, sender: Sender, mirror: DraftsMirror) -> None:
        now = self.clock.now()
        try:
            handled = tracker.run_due(now)
            if handled:
                log.info("%d due step(s) handled", handled)
            report = await sender.send_ready()
            if report.sent or report.failed or report.uncertain:
                log.info("sent %d, failed %d, uncertain %d", report.sent, report.failed,
                         report.uncertain)
            # Waiting drafts have a copy in the Drafts folder, to read on a phone; the
            # copies of drafts that are done (sent just now, say) go, also when
            # mirroring was switched off since. No connection when nothing changed.
            await asyncio.to_thread(mirror.sync, sender.config.sending.mirror_drafts)
        except MaildError as exc:
            log.error("%s", exc)
        except Exception:
            # The daemon must outlive its bugs (invariant 5); the next pass tries again.
            log.exception("unexpected error in the main loop")

    async def _tell_user(self, notifier: Notifier, store: Store) -> None:
        now = self.clock.now()
        try:
            notifier.announce_waiting(store, now)
            await notifier.send_digest(store, now)
        except MaildError as exc:
            log.warning("could not tell the user about waiting drafts: %s", exc)

    def _status(self, store: Store) -> None:
        waiting = store.read.drafts.count(DraftStatus.PENDING)
        connected = sum(1 for w in self._watchers if w.connected)
        self.systemd.status(f"watching {connected}/{len(self._watchers)} folders, "
                            f"{waiting} drafts waiting")
