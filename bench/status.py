"""How fast `maild status` answers on a big store: 500 mentors and 2,000 asks.

Usage: python bench/status.py [--mentors N] [--asks N] [--days N] [--reps N] [--keep DIR]

The store is built through the real Tracker, the way the daemon fills it: asks of every
playbook created over a few months of simulated time, their steps woken when due,
drafts rendered from the templates, most approved and "sent", mentors answering (agree,
hesitant, decline, question, meeting...), auto-replies, bounces, letters submitted,
meetings held. So the rows, their JSON and the mix of states are what a real user's
store would hold, and `maild status --json` runs on it as on any home.

Then it times, in the same run:
* ``build_status`` in-process, N repetitions (median, p95, min);
* ``maild status --json`` and plain-text ``maild status`` as subprocesses end to end
  (interpreter start included; medians of five runs, since one process start on a busy
  machine is noisy), next to a process that only imports ``maild.cli``, which shows
  how much of it is start-up;
* baselines: a bare ``SELECT count(*)`` pass over the same tables and a raw
  ``SELECT *`` pass over what the dashboard reads, with build_status's ratio to each.
The target of issue 3 is "well under a second". Building the store takes a minute or
two; ``--keep DIR`` keeps it so a second run measures at once.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from maild.app.drafting import TemplateDrafts
from maild.app.status import build_status
from maild.app.tracker import Tracker
from maild.config import load
from maild.core import events as ev
from maild.core.entries import MentorInput
from maild.core.model import DraftStatus, Intent
from maild.errors import MaildError
from maild.store import Store
from maild.store.mentors import add_application, add_mentors

NOW = datetime(2026, 11, 17, 15, 0, tzinfo=UTC)  # a Tuesday, 10:00 in New York
T = TypeVar("T")
TABLES = ("mentors", "mentor_addresses", "applications", "asks", "steps", "drafts",
          "messages", "events")

CONFIG = """
[identity]
name = "Alex Kim"
email = "alex@school.example.edu"
role = "third-year medical student"
institution = "Example School of Medicine"
timezone = "America/New_York"

[[accounts]]
name = "school"
email = "alex@school.example.edu"
imap = { host = "127.0.0.1", port = 1, security = "none" }
smtp = { host = "127.0.0.1", port = 1, security = "none" }
password = { env = "MAILD_BENCH_UNUSED" }
"""

PLAYBOOKS = (("cold", 0.45), ("warm", 0.10), ("letter", 0.30), ("meeting", 0.08),
             ("update", 0.07))
INTENTS = ((Intent.AGREE, 0.35), (Intent.HESITANT, 0.10), (Intent.DECLINE, 0.20),
           (Intent.QUESTION, 0.10), (Intent.MEETING, 0.10), (Intent.UNCLEAR, 0.15))
SPECIALTIES = ("cardiology", "nephrology", "oncology", "neurology", "pediatrics",
               "emergency medicine", "infectious disease", "radiology")
TIMEZONES = ("America/New_York", "America/Chicago", "America/Los_Angeles", "Europe/London")


def pick(rng: random.Random, weighted: tuple[tuple[T, float], ...]) -> T:
    return rng.choices([w[0] for w in weighted], [w[1] for w in weighted])[0]


@dataclass
class Simulation:
    """Drives a Tracker through simulated months; mentor behaviour is random but seeded."""

    tracker: Tracker
    rng: random.Random
    # (when, seq, ask id, event): what mentors and services will do, in time order.
    pending: list[tuple[datetime, int, int, ev.Event]] = field(default_factory=list)
    answered: set[int] = field(default_factory=set)
    counts: dict[str, int] = field(default_factory=dict)
    _seq: int = 0

    def later(self, when: datetime, ask_id: int, event: ev.Event) -> None:
        self._seq += 1
        self.pending.append((when, self._seq, ask_id, event))

    def apply(self, ask_id: int, event: ev.Event, now: datetime) -> None:
        try:
            self.tracker.handle(ask_id, event, now)
            key = type(event).__name__
        except MaildError:
            key = "refused"  # e.g. an event the ask's state no longer accepts
        self.counts[key] = self.counts.get(key, 0) + 1

    def tick(self, now: datetime) -> None:
        """Everything up to ``now``: due steps, the user approving, mentors answering."""
        self.tracker.run_due(now)
        self.send_drafts(now)
        due = sorted(p for p in self.pending if p[0] <= now)
        self.pending = [p for p in self.pending if p[0] > now]
        for when, _seq, ask_id, event in due:
            self.apply(ask_id, event, when)

    def send_drafts(self, now: datetime) -> None:
        store = self.tracker.store
        for draft in store.read.drafts.with_status(DraftStatus.PENDING):
            # The last few days' drafts wait for the user (the dashboard's "drafts waiting").
            if now > NOW - timedelta(days=3):
                continue
            step = store.read.drafts.step_name(draft)
            if step is None:
                continue
            self.apply(draft.ask_id, ev.DraftApproved(step=step), now)
            if store.read.drafts.get(draft.id).status is not DraftStatus.APPROVED:
                continue
            with store.transaction() as tx:
                # As if sent through SMTP (no server here): sent, and the engine told.
                tx.drafts.set_status(draft.id, DraftStatus.SENT, now, sent_at=now,
                                     expect=(DraftStatus.APPROVED,))
                self.tracker.handle_in_transaction(
                    draft.ask_id, ev.MessageSent(step=step, message_id=draft.spec.message_id,
                                                 at=now), now)
            self.counts["sent"] = self.counts.get("sent", 0) + 1
            if draft.ask_id not in self.answered:
                self.answered.add(draft.ask_id)
                self.plan_answer(draft.ask_id, now)

    def plan_answer(self, ask_id: int, sent: datetime) -> None:
        """What the mentor does about the first email of an ask."""
        r = self.rng.random()
        day = timedelta(days=1)
        if r < 0.45:
            intent = pick(self.rng, INTENTS)
            when = sent + self.rng.uniform(0.5, 14) * day
            meeting = when + 5 * day if intent == Intent.MEETING else None
            self.later(when, ask_id, ev.HumanReply(intent=intent, at=when, meeting_at=meeting))
            playbook = self.tracker.store.read.asks.get(ask_id).playbook
            if intent == Intent.AGREE and playbook == "letter" and self.rng.random() < 0.6:
                self.later(when + self.rng.uniform(5, 40) * day, ask_id,
                           ev.LetterServiceNotification(submitted=True, service="ERAS"))
        elif r < 0.55:
            back = (sent + self.rng.uniform(3, 20) * day).date()
            self.later(sent + 0.1 * day, ask_id, ev.AutoReply(return_date=back, at=sent))
        elif r < 0.58:
            self.later(sent + 0.01 * day, ask_id,
                       ev.Bounce(address_invalid=True, status="5.1.1"))


def build(home: Path, n_mentors: int, n_asks: int, days: int, seed: int) -> dict[str, int]:
    (home / "config.toml").write_text(CONFIG, encoding="utf-8")
    config = load(home / "config.toml")
    rng = random.Random(seed)
    start = NOW - timedelta(days=days)
    store = Store.open(home / "maild.db")
    try:
        add_mentors(store, [MentorInput(
            name=f"Dr. Mentor {i:03d}", title="Dr.",
            emails=(f"mentor{i:03d}@med{i % 37}.example.edu",),
            assistant_emails=(f"office{i:03d}@med{i % 37}.example.edu",) if i % 4 == 0 else (),
            institution=f"University {i % 37}", department="Medicine",
            specialty=SPECIALTIES[i % len(SPECIALTIES)], last_publication="2025-06-01",
            grant_status="R01" if i % 3 == 0 else "", connection_point=f"your paper no. {i}",
            rank=i + 1, timezone=TIMEZONES[i % len(TIMEZONES)],
        ) for i in range(n_mentors)], start)
        apps = [add_application(store, f"ERAS 2027 program {k}",
                                (NOW + timedelta(days=-10 + 14 * k)).date(), 3, "ERAS",
                                "", "", start) for k in range(8)]
        tracker = Tracker(store, config, TemplateDrafts(home, config), notify=None)
        sim = Simulation(tracker, rng)
        created_at = sorted(start + timedelta(seconds=rng.uniform(0, days * 86400 * 0.9))
                            for _ in range(n_asks))
        tick_every = timedelta(hours=12)
        next_tick = start
        for i, at in enumerate(created_at):
            while next_tick <= at:
                sim.tick(next_tick)
                next_tick += tick_every
            _create(sim, rng, i, at, n_mentors, apps)
        while next_tick <= NOW:
            sim.tick(next_tick)
            next_tick += tick_every
        with closing(sqlite3.connect(home / "maild.db")) as db:
            counts = {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
        counts.update({f"applied {k}": v for k, v in sorted(sim.counts.items())})
        return counts
    finally:
        store.close()


def _create(sim: Simulation, rng: random.Random, i: int, at: datetime, n_mentors: int,
            apps: list[int]) -> None:
    playbook = pick(rng, PLAYBOOKS)
    mentor = i % n_mentors + 1
    kwargs: dict[str, object] = {"again": True, "force": True}
    if playbook == "letter":
        app = rng.choice(apps)
        found = sim.tracker.store.read.mentors.application(app).deadline
        assert found is not None
        deadline = found
        # Letters are asked for 3-10 weeks ahead; an old deadline gets a later round.
        while deadline < (at + timedelta(weeks=3)).date():
            deadline += timedelta(weeks=rng.randint(4, 10))
        kwargs.update(application_id=app, deadline=deadline)
    if playbook == "meeting":
        meeting = at + timedelta(days=rng.uniform(2, 14))
        kwargs["meeting_at"] = meeting
    try:
        created = sim.tracker.create_ask(mentor, playbook, at, **kwargs)  # type: ignore[arg-type]
    except MaildError:
        sim.counts["create refused"] = sim.counts.get("create refused", 0) + 1
        return
    ask_id = created.ask.id
    assert ask_id is not None
    if playbook == "meeting":
        held = kwargs["meeting_at"]
        assert isinstance(held, datetime)
        sim.later(held + timedelta(hours=1), ask_id, ev.MeetingHeld(at=held))


def timed(func: Callable[[], object], reps: int) -> list[float]:
    out = []
    for _ in range(reps):
        start = time.perf_counter()
        func()
        out.append(time.perf_counter() - start)
    return out


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds >= 0.001 else f"{seconds * 1e6:.0f} µs"


def measure(home: Path, reps: int) -> None:
    config = load(home / "config.toml")
    from maild.config import rules_for

    rules = rules_for(config)
    # The baselines read the same file with a bare connection of their own.
    with Store.open(home / "maild.db") as store, \
            closing(sqlite3.connect(home / "maild.db")) as db:
        report = build_status(store, NOW, rules)  # warm: imports, page cache
        status_times = timed(lambda: build_status(store, NOW, rules), reps)

        def count_pass() -> None:
            for table in TABLES:
                db.execute(f"SELECT count(*) FROM {table}").fetchone()

        def row_pass() -> None:
            # Every row of what the dashboard reads, fetched but not interpreted.
            for table in ("mentors", "applications", "asks", "steps", "drafts"):
                db.execute(f"SELECT * FROM {table}").fetchall()

        count_times = timed(count_pass, reps)
        row_times = timed(row_pass, reps)

    # Installed, maild's modules are compiled once; a PYTHONDONTWRITEBYTECODE=1 shell
    # would make every start compile them again, which no user pays.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["MAILD_NOW"] = NOW.isoformat()

    def process(*argv: str) -> float:
        started = time.perf_counter()
        done = subprocess.run([sys.executable, *argv], capture_output=True, text=True,
                              env=env, check=False)
        took = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed: {done.stderr.strip()}")
        return took

    cli_argv = ("-m", "maild", "--home", str(home), "status")
    process(*cli_argv)  # warm: bytecode, page cache
    runs, texts, imports = [], [], []
    for _ in range(5):  # a busy machine makes one process start noisy: medians
        runs.append(process(*cli_argv, "--json"))
        texts.append(process(*cli_argv))
        imports.append(process("-c", "import maild.cli"))
    cli = json.loads(subprocess.run([sys.executable, *cli_argv, "--json"], capture_output=True,
                                    text=True, env=env, check=True).stdout)
    end_to_end, import_only = statistics.median(runs), statistics.median(imports)
    plain = statistics.median(texts)

    med_status, med_count = statistics.median(status_times), statistics.median(count_times)
    print(f"open asks: {report['open_asks']}; by state: {report['asks_by_state']}")
    print(f"drafts waiting: {report['drafts_waiting']}; risks: {len(report['risks'])} "
          f"({', '.join(sorted({r['kind'] for r in report['risks']}))})")
    print(f"build_status (in-process, {reps} runs): median {ms(med_status)}, "
          f"p95 {ms(p95(status_times))}, min {ms(min(status_times))}")
    print(f"baseline SELECT count(*) over {len(TABLES)} tables: median {ms(med_count)} "
          f"-> build_status is {med_status / med_count:.0f}x the bare count pass")
    med_rows = statistics.median(row_times)
    print(f"baseline SELECT * of mentors, applications, asks, steps, drafts: median "
          f"{ms(med_rows)} -> build_status is {med_status / med_rows:.1f}x a raw row pass")
    print(f"`maild status --json` subprocess end to end: median {ms(end_to_end)} "
          f"(runs: {', '.join(ms(r) for r in runs)}); plain-text `maild status`: median "
          f"{ms(plain)} (runs: {', '.join(ms(r) for r in texts)}); interpreter start + "
          f"`import maild.cli` alone: median {ms(import_only)}")
    same = cli["open_asks"] == report["open_asks"] and cli["risks"] == report["risks"]
    print(f"CLI output agrees with the in-process report: {'yes' if same else 'NO'}")
    verdict = "PASS" if end_to_end < 1.0 and plain < 0.5 and med_status < 0.5 else "SLOW"
    print(f"target (well under a second; plain-text status under 500 ms): {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mentors", type=int, default=500)
    parser.add_argument("--asks", type=int, default=2000)
    parser.add_argument("--days", type=int, default=150, help="simulated history length")
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path,
                        help="build the home in this (new) directory and keep it")
    args = parser.parse_args()
    # The tracker's notices (missed deadlines, questions) are not the benchmark's output.
    logging.basicConfig(level=logging.ERROR)
    home = args.keep or Path(tempfile.mkdtemp(prefix="maild-bench-status-"))
    home.mkdir(parents=True, exist_ok=True)
    if (home / "maild.db").exists():
        print(f"reusing the store in {home}")
    else:
        started = time.perf_counter()
        counts = build(home, args.mentors, args.asks, args.days, args.seed)
        print(f"built {home} through the Tracker in {time.perf_counter() - started:.1f} s")
        print("rows: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    try:
        measure(home, args.reps)
    finally:
        if args.keep is None:
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
