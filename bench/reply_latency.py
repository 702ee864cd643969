"""How fast maild notices a mentor's reply, against the floor the IMAP server imposes.

Against a local sandbox Dovecot: 20 open cold asks; for each, one reply in its thread
is APPENDed to INBOX. Measured from just before the APPEND:

* maild: until the store shows that ask's nudges cancelled, with the real daemon
  (``maild run`` as a process: its watchers on INBOX and Sent, its main loop and
  timer, production timings), read from here through a connection of our own;
* bare: until a plain imapclient IDLE client on the same folder sees the EXISTS.

Prints p50/p95/max of both and of their per-reply difference (target: p95 of the
difference within 250 ms). Everything talks to 127.0.0.1 only.

    .venv/bin/python bench/reply_latency.py [--replies 20]
"""

from __future__ import annotations

import argparse
import logging
import os
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

from imapclient import IMAPClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import _daemon
from bench._daemon import NOW, PW_ENV, Notify, write_home
from bench._world import asks_waiting_for_reply
from maild.config import load
from maild.sandbox.dovecot import DovecotServer
from maild.sandbox.mail import make_message
from maild.sandbox.smtp import SmtpSandbox

USER = "bench-latency"


class BareIdle(threading.Thread):
    """The floor: a plain imapclient IDLE loop recording when each EXISTS arrives."""

    def __init__(self, dovecot: DovecotServer) -> None:
        super().__init__(name="bare-idle", daemon=True)
        self.client = IMAPClient(dovecot.host, port=dovecot.port, ssl=False, timeout=30)
        self.client.login(USER, dovecot.password)
        self.client.select_folder("INBOX", readonly=True)
        self.seen: list[float] = []
        self.stop = threading.Event()
        self.ready = threading.Event()

    def run(self) -> None:
        self.client.idle()
        self.ready.set()
        while not self.stop.is_set():
            for response in self.client.idle_check(timeout=0.2):
                if isinstance(response, tuple) and len(response) > 1 and \
                        response[1] == b"EXISTS":
                    self.seen.append(time.monotonic())
        self.client.idle_done()
        self.client.logout()


def cancelled(db: sqlite3.Connection, ask_id: int) -> bool:
    row = db.execute("SELECT status FROM steps WHERE ask_id = ? AND name = 'nudge' "
                     "ORDER BY id DESC LIMIT 1", (ask_id,)).fetchone()
    return row is not None and row[0] == "cancelled"


def figures(values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return f"p50 {statistics.median(ms):7.1f} ms   p95 {p95:7.1f} ms   max {ms[-1]:7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replies", type=int, default=20)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    # The bench config has no identity.role, so the initial drafts log that they are
    # incomplete; irrelevant here (only their Message-IDs matter).
    logging.getLogger("maild.app.drafting").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="maild-bench-") as tmp, DovecotServer() as dovecot, \
            SmtpSandbox(username=USER, password=dovecot.password) as smtp:
        home = Path(tmp)
        write_home(home, dovecot, smtp, USER)
        os.environ[PW_ENV] = dovecot.password
        config = load(home / "config.toml")
        sent = asks_waiting_for_reply(home, config, args.replies, NOW)
        account = config.accounts[0]
        appender = IMAPClient(dovecot.host, port=dovecot.port, ssl=False, timeout=30)
        appender.login(USER, dovecot.password)
        appender.append("INBOX", make_message(sender="someone@example.org", to=account.email,
                                              subject="hello", body="first mail", date=NOW))

        notify = Notify(home / "notify.sock")
        proc = _daemon.start(home, dovecot.password, notify)
        notify.wait_for("READY=1", 60)
        bare = BareIdle(dovecot)
        bare.start()
        bare.ready.wait(5)
        time.sleep(1.0)  # the daemon's first passes; both connections settle into IDLE

        # The benchmark's own read connection: what anyone else would see committed.
        check = sqlite3.connect(home / "maild.db")
        maild_times: list[float] = []
        bare_times: list[float] = []
        for n, (ask_id, mentor, message_id) in enumerate(sent):
            reply = make_message(sender=mentor, to=account.email, subject="Re: Question",
                                 body="Happy to talk - how about Thursday?",
                                 in_reply_to=message_id, references=[message_id],
                                 date=NOW + timedelta(minutes=n))
            before = len(bare.seen)
            start = time.monotonic()
            appender.append("INBOX", reply)
            deadline = start + 10
            maild_at: float | None = None
            while time.monotonic() < deadline and (maild_at is None or len(bare.seen) == before):
                if maild_at is None and cancelled(check, ask_id):
                    maild_at = time.monotonic()
                time.sleep(0.001)
            if maild_at is None or len(bare.seen) == before:
                raise SystemExit(f"reply {n + 1}: not seen within 10 s (maild={maild_at})")
            maild_times.append(maild_at - start)
            bare_times.append(bare.seen[before] - start)
            time.sleep(0.2)  # the watcher is back in IDLE before the next one
        bare.stop.set()
        bare.join(5)
        appender.logout()
        check.close()
        _daemon.stop(proc)
        notify.close()

    diffs = [m - b for m, b in zip(maild_times, bare_times, strict=True)]
    print(f"reply latency over {len(diffs)} replies (APPEND -> seen), local Dovecot")
    print(f"  bare IDLE client (EXISTS):    {figures(bare_times)}")
    print(f"  maild (nudges cancelled):     {figures(maild_times)}")
    print(f"  difference (maild - bare):    {figures(diffs)}")
    p95 = sorted(diffs)[min(len(diffs) - 1, round(0.95 * (len(diffs) - 1)))]
    verdict = "within" if p95 <= 0.250 else "OVER"
    print(f"  target: difference p95 <= 250 ms -> {verdict} ({p95 * 1000:.1f} ms)")


if __name__ == "__main__":
    main()
