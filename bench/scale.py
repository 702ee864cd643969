"""Tracker operations per second at 2,000 and at 20,000 asks: does a change cost the
same whatever the history?

Usage: python bench/scale.py [--small 2000] [--large 20000] [--cycles 60] [--keep DIR]

Each store is built through the real Tracker, as bench/status.py builds its own: asks
of every playbook over five months of simulated time, steps woken when due, drafts
rendered and "sent", mentors answering, auto-replies, bounces, letters submitted. The
build's own pace (asks per second) is printed too: a tracker whose writes get slower
as the store grows builds the large store more slowly.

Then, on each store, the same work is timed: ``--cycles`` new mentors, each through
one ask's life in six tracker operations (create a cold ask, wake its first step and
render the draft, approve it, claim it, record it sent, apply the mentor's reply: a
yes, a question, a "no" (which looks for the next candidate to start) or a hesitant
yes (which suggests backups from the hit list), in turn). The two stores take
turns, three rounds each, so that a machine whose load drifts weighs on both alike.
Printed: operations per second on each store (median of the rounds) and the
large/small ratio; the target of issue 14 is at least 0.7.
"""

from __future__ import annotations

import argparse
import logging
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.status import NOW, build
from maild.app import lifecycle
from maild.app.drafting import TemplateDrafts
from maild.app.tracker import Tracker
from maild.config import load
from maild.core import events as ev
from maild.core.entries import MentorInput
from maild.core.model import DraftStatus, Intent
from maild.store import Store
from maild.store.mentors import add_mentors

OPS_PER_CYCLE = 6
REPLIES = (Intent.AGREE, Intent.QUESTION, Intent.DECLINE, Intent.HESITANT)


def cycles(home: Path, count: int, run: int) -> float:
    """Seconds for ``count`` asks through their lives, on mentors of their own, ``run``
    weeks after NOW (a Tuesday morning, in the sending window)."""
    token = secrets.token_hex(4)  # a kept store is measured again: new people each time
    config = load(home / "config.toml")
    with Store.open(home / "maild.db") as store:
        tracker = Tracker(store, config, TemplateDrafts(home, config), notify=None)
        ids = add_mentors(store, [MentorInput(
            name=f"Timed Mentor{token}x{i}", title="Dr.",
            emails=(f"timed{token}x{i}@bench.example.edu",), specialty="cardiology",
            connection_point=f"paper {i}", timezone="America/New_York")
            for i in range(count)], NOW)
        at = NOW + timedelta(weeks=run)
        tracker.run_due(at)  # whatever the store had due by then: not the timed work
        started = time.perf_counter()
        for n, mentor in enumerate(ids):
            now = at + timedelta(seconds=n)
            created = tracker.create_ask(mentor, "cold", now).ask
            ask = created.id or 0
            tracker.run_due(now)
            initial = created.open_step("initial")
            assert initial is not None and initial.id is not None
            [draft] = [d for d in store.read.drafts.of_step(initial.id)
                       if d.status is DraftStatus.PENDING]
            lifecycle.approve(store, tracker, draft, draft.spec, now)
            draft = store.read.drafts.get(draft.id)
            if lifecycle.claim(store, tracker, draft, now) is not None:
                raise SystemExit(f"draft {draft.id} was not claimed")
            lifecycle.sent(store, tracker, store.read.drafts.get(draft.id), now)
            tracker.handle(ask, ev.HumanReply(REPLIES[n % len(REPLIES)], at=now), now)
        return time.perf_counter() - started


def measure(homes: list[Path], cycles_per_run: int, rounds: int = 3) -> list[float]:
    """Tracker operations per second on each store: the median of ``rounds`` runs, the
    stores taking turns."""
    rates: list[list[float]] = [[] for _ in homes]
    for run in range(rounds):
        for n, home in enumerate(homes):
            seconds = cycles(home, cycles_per_run, run)
            rates[n].append(cycles_per_run * OPS_PER_CYCLE / seconds)
    return [statistics.median(r) for r in rates]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=2000)
    parser.add_argument("--large", type=int, default=20000)
    parser.add_argument("--cycles", type=int, default=60, help="asks timed per run")
    parser.add_argument("--days", type=int, default=150, help="simulated history length")
    parser.add_argument("--keep", type=Path, help="build the stores in DIR/N and keep them")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    root = args.keep or Path(tempfile.mkdtemp(prefix="maild-bench-scale-"))
    sizes = (args.small, args.large)
    try:
        for size in sizes:
            home = root / str(size)
            if not (home / "maild.db").exists():
                home.mkdir(parents=True, exist_ok=True)
                started = time.perf_counter()
                counts = build(home, max(100, size // 4), size, args.days, seed=7)
                took = time.perf_counter() - started
                print(f"{size:>6,} asks: built through the Tracker in {took:.0f} s "
                      f"({size / took:.1f} asks/s); rows: "
                      + ", ".join(f"{k} {v}" for k, v in counts.items()
                                  if not k.startswith("applied")), flush=True)
        rates = dict(zip(sizes, measure([root / str(s) for s in sizes], args.cycles),
                         strict=True))
        for size in sizes:
            print(f"{size:>6,} asks: {rates[size]:.1f} tracker operations/s (median of 3 "
                  f"runs of {args.cycles} asks x {OPS_PER_CYCLE} operations, taking turns)")
        ratio = rates[args.large] / rates[args.small]
        print(f"ratio {args.large:,} / {args.small:,}: {ratio:.2f} (target >= 0.7)")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
