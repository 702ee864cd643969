"""How long `maild run` takes from start to READY=1 (all catch-up done), and whether
that grows with the mailbox: 500 vs 50,000 messages in INBOX, 50 open asks, and 50
replies that arrived while maild was down before each start. Prints, for each size,
the cold first start (maild has never seen the mailbox: it learns where INBOX ends)
and the median of the restarts after downtime, and the ratio of the restarts
(target: <= 1.5).

    .venv/bin/python bench/catchup.py [--big 50000] [--runs 3] [--replies 50]
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._daemon import Notify, fill_asks, start, stop, write_home
from maild.sandbox.dovecot import DovecotServer
from maild.sandbox.mail import make_message
from maild.sandbox.smtp import SmtpSandbox


def filler(i: int) -> bytes:
    return make_message(sender=f"news{i % 97}@lists.example.org", to="alex@school.example.edu",
                        subject=f"Newsletter {i}", body="Nothing to do with mentors.\n" * 20)


def measure(tmp: Path, dovecot: DovecotServer, size: int, runs: int, replies: int
            ) -> tuple[float, list[float], int]:
    user = f"bench{size}"
    with SmtpSandbox(username=user, password=dovecot.password) as smtp:
        home = tmp / f"home{size}"
        write_home(home, dovecot, smtp, user)
        asks = fill_asks(home, replies)
        print(f"  filling INBOX with {size:,} messages...", file=sys.stderr)
        for i in range(size):
            dovecot.deliver(user, "INBOX", filler(i))
        notify = Notify(tmp / f"notify{size}.sock")
        # First start: maild learns where INBOX ends (and Dovecot indexes the folder).
        began = time.monotonic()
        proc = start(home, dovecot.password, notify)
        cold = notify.wait_for("READY=1", 600) - began
        stop(proc)
        times: list[float] = []
        matched = 0
        for _run in range(runs):
            # The replies arrive while maild is down, one to each ask.
            for k in range(replies):
                address, message_id = asks[k % len(asks)]
                reply = make_message(sender=address, to="alex@school.example.edu",
                                     subject="Re: your question", body="Happy to talk.",
                                     in_reply_to=message_id, references=[message_id])
                dovecot.deliver(user, "INBOX", reply)
            began = time.monotonic()
            proc = start(home, dovecot.password, notify)
            ready = notify.wait_for("READY=1", 600)
            times.append(ready - began)
            stop(proc)
            # Read by the benchmark itself, not through maild: what the inbox recorded.
            with closing(sqlite3.connect(home / "maild.db")) as db:
                matched = db.execute(
                    "SELECT count(*) FROM messages WHERE direction = 'in' AND ask_id IS NOT "
                    "NULL").fetchone()[0]
        notify.close()
        return cold, times, matched


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", type=int, default=500)
    parser.add_argument("--big", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--replies", type=int, default=50, help="per downtime (and asks)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="maild-bench-") as tmp, DovecotServer() as dovecot:
        results = {}
        for size in (args.small, args.big):
            cold, times, matched = measure(Path(tmp), dovecot, size, args.runs, args.replies)
            results[size] = statistics.median(times)
            print(f"INBOX {size:>6,} messages: cold first start {cold:.3f} s; after "
                  f"{args.replies} replies arrived in downtime, ready in "
                  f"{statistics.median(times):.3f} s (median of {len(times)}: "
                  f"{', '.join(f'{t:.3f}' for t in times)}); replies matched {matched} of "
                  f"{args.replies * args.runs}")
        ratio = results[args.big] / results[args.small]
        print(f"ratio {args.big:,} / {args.small:,}: {ratio:.2f} (target <= 1.5)")


if __name__ == "__main__":
    main()
