"""Idle means idle: the real `maild run` on a realistic store, with nothing due.

Usage: python bench/idle.py [--minutes 5] [--asks 2000] [--held 50] [--outage 60]
                            [--open-page | --no-ui]

The store holds ``--asks`` cold asks built through the Tracker: most wait for a reply
(their next nudge days away), ``--held`` are held with steps long past due (bounced
addresses, paused asks, some with an approved nudge, first mails that failed for good),
and some have a nudge drafted and waiting for approval (a few of them snoozed). The
daemon runs against the sandbox Dovecot and SMTP server for ``--minutes``; ``--outage``
seconds of it, starting at 40 % of the run, Dovecot is stopped (the watchers lose
their connections and try again) and then started again.

Printed, after READY=1 and the first passes (which tell the user what waits, once):
* CPU share: the daemon's own CPU seconds (user + system, from /proc) over the wall
  time, for the whole window and for the outage alone;
* RSS: the largest resident size seen, next to a baseline measured in the same run
  (a bare process importing the daemon's modules);
* rows written: every row of the store inserted, changed or deleted in the window.
Targets (issue 14): under 1 % of a core, RSS under 50 MB, 0 rows; during the outage too.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import logging
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._daemon import NOW, PW_ENV, Notify, rss_mib, stop, write_home
from maild.app import lifecycle
from maild.app.drafting import TemplateDrafts
from maild.app.tracker import Tracker
from maild.config import load
from maild.core import events as ev
from maild.core.entries import MentorInput
from maild.core.model import DraftStatus
from maild.sandbox.dovecot import DovecotServer
from maild.sandbox.smtp import SmtpSandbox
from maild.store import Store
from maild.store.mentors import add_mentors
from maild.web.access import find_served

TABLES = ("asks", "steps", "drafts", "events", "messages", "folder_state", "draft_notices",
          "mentors", "mentor_addresses")
TICK = os.sysconf("SC_CLK_TCK")


def _create(tracker: Tracker, mentors: list[int], at: datetime) -> list[int]:
    asks = [tracker.create_ask(m, "cold", at).ask.id or 0 for m in mentors]
    tracker.run_due(at)
    return asks


def _sent(store: Store, tracker: Tracker, asks: list[int], at: datetime) -> None:
    """Their first mails went out (from the user's client: no SMTP needed)."""
    wanted = set(asks)
    for draft in store.read.drafts.with_status(DraftStatus.PENDING):
        if draft.ask_id not in wanted:
            continue
        with store.transaction() as tx:
            tx.drafts.set_status(draft.id, DraftStatus.SENT, at, sent_at=at,
                                 expect=(DraftStatus.PENDING,))
            tracker.handle_in_transaction(draft.ask_id, ev.MessageSent(
                step=tx.drafts.step_name(draft), message_id=draft.spec.message_id, at=at), at)


def build(home: Path, n_asks: int, n_held: int) -> str:
    """The store described in the module's docstring; returns what it holds, in words."""
    config = load(home / "config.toml")
    with Store.open(home / "maild.db") as store:
        tracker = Tracker(store, config, TemplateDrafts(home, config), notify=None)
        mentors = add_mentors(store, [MentorInput(
            name=f"Mentor Number{i}", title="Dr.", emails=(f"m{i}@med{i % 40}.example.edu",),
            specialty="cardiology", connection_point=f"paper number {i}",
            timezone="America/New_York") for i in range(n_asks)], NOW - timedelta(days=60))
        bounced, paused, failed = n_held // 2, n_held - n_held // 2 - n_held // 10, n_held // 10
        n_waiting = n_asks // 20
        held_at = NOW - timedelta(days=12)   # a Thursday, in the window
        asks = _create(tracker, mentors[:n_held], held_at)
        _sent(store, tracker, asks[:bounced + paused], held_at)
        for ask_id in asks[bounced + paused:]:
            [draft] = [d for d in store.read.drafts.with_status(DraftStatus.PENDING)
                       if d.ask_id == ask_id]
            lifecycle.approve(store, tracker, draft, draft.spec, held_at)
            lifecycle.claim(store, tracker, store.read.drafts.get(draft.id), held_at)
            lifecycle.failed(store, tracker, store.read.drafts.get(draft.id), held_at,
                             uncertain=False, detail="550 5.7.1 relaying denied")
        for ask_id in asks[:bounced]:
            tracker.handle(ask_id, ev.Bounce(address_invalid=True), held_at)
        later = held_at + timedelta(days=6)
        tracker.run_due(later)  # the paused asks' nudges are drafted...
        approved = 0
        for draft in store.read.drafts.with_status(DraftStatus.PENDING):
            if draft.ask_id in asks[bounced:bounced + paused] and approved < paused // 2:
                lifecycle.approve(store, tracker, draft, draft.spec, later)  # ...some approved
                approved += 1
        for ask_id in asks[bounced:bounced + paused]:
            tracker.handle(ask_id, ev.UserMarked(ev.Mark.PAUSE), later)
        waiting_at = NOW - timedelta(days=6)  # nudges due yesterday: drafted, waiting
        waiting = _create(tracker, mentors[n_held:n_held + n_waiting], waiting_at)
        _sent(store, tracker, waiting, waiting_at)
        rest_at = NOW - timedelta(days=1)     # nudges due in four days
        rest = _create(tracker, mentors[n_held + n_waiting:], rest_at)
        _sent(store, tracker, rest, rest_at)
        tracker.run_due(NOW)
        pending = store.read.drafts.with_status(DraftStatus.PENDING)
        for draft in pending[:n_waiting // 5]:
            lifecycle.snooze(store, draft.id, NOW + timedelta(days=7), NOW)
        due = store.read.asks.due_steps(NOW)
        assert not due, f"{len(due)} steps are due: not an idle store"
        return (f"{n_asks:,} asks: {n_held} held ({bounced} bounced, {paused} paused, "
                f"{approved} of them with an approved nudge, {failed} with a failed first "
                f"mail, all with steps past due), {len(pending)} drafts waiting for "
                f"approval ({n_waiting // 5} snoozed), the rest waiting for a reply")


def rows(home: Path) -> dict[str, dict[object, str]]:
    """Every row of every table, by key, as a digest: to count what changed."""
    with closing(sqlite3.connect(home / "maild.db")) as db:
        out: dict[str, dict[object, str]] = {}
        for table in TABLES:
            cursor = db.execute(f"SELECT * FROM {table}")
            out[table] = {tuple(r[:2]): hashlib.sha1(repr(r).encode()).hexdigest()
                          for r in cursor}
        return out


def written(before: dict[str, dict[object, str]], after: dict[str, dict[object, str]]) -> int:
    count = 0
    for table in TABLES:
        old, new = before[table], after[table]
        count += sum(1 for k in old.keys() | new.keys() if old.get(k) != new.get(k))
    return count


def open_page(home: Path) -> None:
    """One request to the daemon's page (refused without a session, but served: the
    daemon loads its web stack on the first connection)."""
    served = find_served(home)
    if served is None:
        raise SystemExit("the daemon does not serve the page")
    # A refusal is an answer too: the page's server is loaded.
    with contextlib.suppress(urllib.error.HTTPError):
        urllib.request.urlopen(served.url, timeout=30).close()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def baseline_rss() -> float:
    proc = subprocess.Popen([sys.executable, "-c", "import maild.cli, maild.runtime.daemon,"
                             " maild.app.outbox, time; time.sleep(8)"])
    time.sleep(5)
    value = rss_mib(proc.pid)
    proc.kill()
    proc.wait()
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--asks", type=int, default=2000)
    parser.add_argument("--held", type=int, default=50)
    parser.add_argument("--outage", type=float, default=60.0, help="seconds Dovecot is down")
    parser.add_argument("--show-log", action="store_true", help="print the daemon's log")
    parser.add_argument("--open-page", action="store_true",
                        help="open the page once before the window (the daemon loads it "
                             "on the first connection)")
    parser.add_argument("--no-ui", action="store_true",
                        help="[ui] serve = false: the daemon without its page server")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the build's notices are not the output
    with tempfile.TemporaryDirectory(prefix="maild-bench-idle-") as tmp, \
            DovecotServer() as dovecot:
        user = "idlebench"
        with SmtpSandbox(username=user, password=dovecot.password) as smtp:
            home = Path(tmp) / "home"
            write_home(home, dovecot, smtp, user, ui_serve=not args.no_ui)
            started = time.perf_counter()
            print(f"store: {build(home, args.asks, args.held)}; built in "
                  f"{time.perf_counter() - started:.0f} s", flush=True)
            notify = Notify(Path(tmp) / "notify.sock")
            log = (Path(tmp) / "daemon.log").open("w")
            env = {**os.environ, PW_ENV: dovecot.password, "NOTIFY_SOCKET": str(notify.path),
                   "MAILD_NOW": NOW.isoformat()}
            launched = time.monotonic()
            proc = subprocess.Popen([sys.executable, "-m", "maild", "--home", str(home),
                                     "run"], env=env, stderr=log)
            try:
                ready = notify.wait_for("READY=1", 300)
                print(f"maild run: READY=1 after {ready - launched:.1f} s", flush=True)
                time.sleep(10)  # the first passes: tell the user, copy drafts, once
                if args.open_page:
                    open_page(home)
                window = args.minutes * 60
                outage_at = 0.4 * window
                before, cpu0, t0 = rows(home), cpu_seconds(proc.pid), time.monotonic()
                rss = [rss_mib(proc.pid)]
                outage: tuple[float, float, float, float] | None = None
                while (now := time.monotonic() - t0) < window:
                    if outage is None and now >= outage_at and args.outage > 0:
                        dovecot.stop()
                        down = (time.monotonic(), cpu_seconds(proc.pid))
                        time.sleep(args.outage)
                        outage = (*down, time.monotonic(), cpu_seconds(proc.pid))
                        dovecot.start()
                    time.sleep(2)
                    rss.append(rss_mib(proc.pid))
                    if proc.poll() is not None:
                        raise SystemExit("maild run ended during the benchmark")
                wall, cpu = time.monotonic() - t0, cpu_seconds(proc.pid) - cpu0
                changed = written(before, rows(home))
            finally:
                if proc.poll() is None:
                    stop(proc)
                log.close()
                notify.close()
            text = (Path(tmp) / "daemon.log").read_text()
            lines = text.count("\n")
            if args.show_log:
                print(text, end="")
    floor = baseline_rss()
    share = 100 * cpu / wall
    page = "off" if args.no_ui else "opened" if args.open_page else "on, never opened"
    print(f"idle {wall / 60:.1f} min (page server {page}): CPU {cpu:.2f} s = "
          f"{share:.3f} % of a core; RSS max {max(rss):.1f} MiB (baseline, the daemon's "
          f"imports alone: {floor:.1f} MiB; {max(rss) / floor:.2f}x); rows written {changed}; "
          f"log lines {lines}")
    if outage is not None:
        down_at, down_cpu, up_at, up_cpu = outage
        print(f"server away {up_at - down_at:.0f} s: CPU {up_cpu - down_cpu:.2f} s = "
              f"{100 * (up_cpu - down_cpu) / (up_at - down_at):.3f} % of a core")
    ok = share < 1.0 and max(rss) < 50 * 1e6 / 2**20 and changed == 0
    print(f"targets (under 1 % of a core, RSS under 50 MB, no row written): "
          f"{'PASS' if ok else 'MISSED'}")


if __name__ == "__main__":
    main()
