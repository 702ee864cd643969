"""The daemon: watcher threads, the asyncio side (scheduler, sending) and the store.

``Daemon.run`` wires everything for one MAILD_HOME:

* one ``FolderWatcher`` thread per account and folder (INBOX, Sent), each syncing with
  its own store connection and waking the asyncio side when something changed;
* APScheduler (AsyncIOScheduler, in-memory) as the wake-up timer only: every planned
  step and every deferred draft is armed from the store, with job ids tied to them, and
  re-armed after each change, so a restart or a laptop waking from sleep loses or
  doubles nothing (the store decides what is due, the timer only says "look now");
* a loop that, on every wake-up and at least every ``tick`` seconds (so approvals made
  with the CLI are seen quickly), runs due steps and sends approved drafts;
* systemd: READY=1 once every folder has caught up, STATUS= lines, WATCHDOG=1 only while
  the IMAP threads are connected, STOPPING=1 on SIGTERM; SIGHUP reloads config.toml.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from maild import paths
from maild.adapters import sdnotify
from maild.adapters.credentials import secret_for
from maild.adapters.imap import ImapConnection, reachable
from maild.app.drafting import TemplateDrafts
from maild.app.inbox import Inbox
from maild.app.notify import Notifier
from maild.app.outbox import Sender
from maild.app.tracker import Tracker
from maild.clock import Clock
from maild.config import Account, Config, load
from maild.core.actions import Level
from maild.errors import MaildError
from maild.runtime.lock import DaemonLock
from maild.runtime.watcher import FolderWatcher, WatchTiming
from maild.store import Store

log = logging.getLogger(__name__)

ROLES = ("inbox", "sent")
NOTICE_EVERY = 60.0  # seconds between "drafts are waiting" checks (each is told once)
Notify = Callable[[Level, str], None]


@dataclass(frozen=True)
class DaemonOptions:
    tick: float = 1.0                   # how often the store is looked at without a wake-up
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
        self._armed: dict[str, datetime] = {}
        self.ready = asyncio.Event()

    # -- wiring -----------------------------------------------------------------------

    def _tracker(self, store: Store, config: Config) -> Tracker:
        notify = self.notify_user or self._notifier(config)
        return Tracker(store, config, TemplateDrafts(self.home, config), notify=notify)

    def _notifier(self, config: Config) -> Notifier:
        return Notifier(config, secret=lambda a: secret_for(a, self.env), env=self.env)

    def _connect(self, account: Account) -> Callable[[], ImapConnection]:
        def connect() -> ImapConnection:
            return ImapConnection.open(account, secret_for(account, self.env))
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
            self._poke()
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

    def _poke(self) -> None:
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

    def _rearm(self, scheduler: AsyncIOScheduler, store: Store) -> None:
        wanted: dict[str, datetime] = {}
        for row in store.db.execute(
                "SELECT s.id, s.due_at FROM steps s JOIN asks a ON a.id = s.ask_id "
                "WHERE s.status = 'planned' AND a.closed_at IS NULL"):
            wanted[f"step-{row['id']}"] = datetime.fromisoformat(row["due_at"])
        for row in store.db.execute("SELECT id, send_after FROM drafts WHERE status = "
                                    "'approved' AND send_after IS NOT NULL"):
            wanted[f"draft-{row['id']}"] = datetime.fromisoformat(row["send_after"])
        for job_id in set(self._armed) - set(wanted):
            if scheduler.get_job(job_id) is not None:
                scheduler.remove_job(job_id)
            del self._armed[job_id]
        for job_id, due in wanted.items():
            if self._armed.get(job_id) == due and scheduler.get_job(job_id) is not None:
                continue
            run_at = datetime.now().astimezone() + timedelta(seconds=self._real_delay(due))
            # misfire_grace_time=None: a wake-up missed during sleep still fires on resume.
            scheduler.add_job(self._poke, "date", run_date=run_at, id=job_id,
                              replace_existing=True, misfire_grace_time=None)
            self._armed[job_id] = due

    # -- main -------------------------------------------------------------------------

    def request_stop(self) -> None:
        self._stop.set()
        self._poke()

    def request_reload(self) -> None:
        self._reload = True
        self._poke()

    async def run(self) -> int:
        with DaemonLock.acquire(self.home):
            return await self._run_locked()

    async def _run_locked(self) -> int:
        config = load(paths.config_path(self.home))
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        for sig, handler in ((signal.SIGTERM, self.request_stop),
                             (signal.SIGINT, self.request_stop),
                             (signal.SIGHUP, self.request_reload)):
            # Outside the main thread (tests) the caller stops the daemon instead.
            with suppress(NotImplementedError, RuntimeError):
                self._loop.add_signal_handler(sig, handler)
        store = Store.open(paths.database_path(self.home))
        scheduler = AsyncIOScheduler()
        scheduler.start()
        try:
            tracker = self._tracker(store, config)
            sender = self._sender(store, tracker, config)
            for draft_id, outcome in await asyncio.to_thread(sender.recover):
                log.warning("draft %d was being sent when maild stopped: now %s", draft_id,
                            outcome)
            self._start_watchers(config)
            await self._wait_ready()
            last_ping = 0.0
            last_notice = -NOTICE_EVERY
            notifier = self._notifier(config)
            while not self._stop.is_set():
                if self._reload:
                    self._reload = False
                    config, tracker, sender = self._reloaded(config, store, tracker, sender)
                    notifier = self._notifier(config)
                await self._step(tracker, sender)
                try:
                    if self._loop.time() - last_notice >= NOTICE_EVERY:
                        last_notice = self._loop.time()
                        await self._tell_user(notifier, store)
                    self._rearm(scheduler, store)
                    self._status(store)
                except Exception:
                    # Housekeeping must never end the daemon; the next round tries again.
                    log.exception("unexpected error after a round; continuing")
                now = self._loop.time()
                due = self._watchdog_every and now - last_ping >= self._watchdog_every
                # No ping while an IMAP thread is down: systemd restarts a hung daemon.
                if due and self.watchers_alive:
                    self.systemd.watchdog()
                    last_ping = now
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self.options.tick)
                self._wake.clear()
            self.systemd.stopping()
            log.info("stopping")
            return 0
        finally:
            self._stop_watchers()
            scheduler.shutdown(wait=False)
            store.close()

    def _sender(self, store: Store, tracker: Tracker, config: Config) -> Sender:
        return Sender(store, tracker, config, secret=lambda a: secret_for(a, self.env),
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
        self._stop_watchers()
        tracker = self._tracker(store, new)
        sender = self._sender(store, tracker, new)
        self._start_watchers(new)
        self.systemd.ready()
        return new, tracker, sender

    async def _wait_ready(self) -> None:
        deadline = asyncio.get_running_loop().time() + self.options.ready_timeout
        while not all(w.caught_up.is_set() for w in self._watchers):
            if self._stop.is_set() or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.02)
        if all(w.caught_up.is_set() for w in self._watchers):
            log.info("ready: %d folders caught up", len(self._watchers))
        else:
            log.warning("ready without a full catch-up: some IMAP folders are unreachable")
        self.systemd.ready(f"watching {len(self._watchers)} folders")
        self.ready.set()

    async def _step(self, tracker: Tracker, sender: Sender) -> None:
        now = self.clock.now()
        try:
            handled = tracker.run_due(now)
            if handled:
                log.info("%d due step(s) handled", handled)
            # New drafts go to the Drafts folder too, so they can be read on a phone.
            if sender.config.sending.mirror_drafts:
                await asyncio.to_thread(sender.mirror_drafts)
            report = await sender.send_ready()
            if report.sent or report.failed or report.uncertain:
                log.info("sent %d, failed %d, uncertain %d", report.sent, report.failed,
                         report.uncertain)
        except MaildError as exc:
            log.error("%s", exc)
        except Exception:
            # The daemon must outlive its bugs (invariant 5); the next tick tries again.
            log.exception("unexpected error in the main loop")

    async def _tell_user(self, notifier: Notifier, store: Store) -> None:
        now = self.clock.now()
        try:
            notifier.announce_waiting(store, now)
            await notifier.send_digest(store, now)
        except MaildError as exc:
            log.warning("could not tell the user about waiting drafts: %s", exc)

    def _status(self, store: Store) -> None:
        waiting = store.db.execute("SELECT count(*) FROM drafts WHERE status = 'pending'"
                                   ).fetchone()[0]
        connected = sum(1 for w in self._watchers if w.connected)
        self.systemd.status(f"watching {connected}/{len(self._watchers)} folders, "
                            f"{waiting} drafts waiting")
