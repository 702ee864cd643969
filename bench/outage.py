"""Time from the IMAP server coming back after an outage to the replies that arrived
meanwhile being applied, with the daemon's default back-off (1 s doubling to 300 s).

Two watchers live through the same outage of the same sandbox Dovecot, each with its
own mailbox and store: one as maild runs it (probing every 2 s while the server is
unreachable), and the baseline without the probe (waiting out the back-off, as before
issue 13). Replies are delivered to both mailboxes while the server is down. Prints
both times and their ratio (goal for the probing watcher: under 5 s).

    .venv/bin/python bench/outage.py [--outage 90] [--replies 5]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
import threading
import time
from contextlib import closing
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._daemon import NOW, PW_ENV, write_home
from bench._world import asks_waiting_for_reply
from maild.adapters.credentials import secret_for
from maild.adapters.imap import ImapConnection, reachable
from maild.app.drafting import TemplateDrafts
from maild.app.inbox import Inbox, SyncResult
from maild.app.tracker import Tracker
from maild.config import Config, load
from maild.runtime.watcher import FolderWatcher, WatchTiming
from maild.sandbox.dovecot import DovecotServer
from maild.sandbox.mail import make_message
from maild.sandbox.smtp import SmtpSandbox
from maild.store import Store


class Side:
    """One mailbox, one store, one watcher (in its own thread, like the daemon's)."""

    def __init__(self, root: Path, dovecot: DovecotServer, user: str, replies: int,
                 probe: bool, env: dict[str, str]) -> None:
        self.user = user
        self.home = root / user
        with SmtpSandbox(username=user, password=dovecot.password) as smtp:
            write_home(self.home, dovecot, smtp, user)
        self.config: Config = load(self.home / "config.toml")
        self.asks = asks_waiting_for_reply(self.home, self.config, replies, NOW)
        self.stop = threading.Event()
        account = self.config.accounts[0]
        local = threading.local()

        def sync(conn: ImapConnection, folder: str) -> SyncResult:
            inbox = getattr(local, "inbox", None)
            if inbox is None:
                store = Store.open(self.home / "maild.db")
                tracker = Tracker(store, self.config, TemplateDrafts(self.home, self.config))
                inbox = local.inbox = Inbox(store, tracker, self.config, account, lambda: NOW)
            result: SyncResult = inbox.sync(conn, folder, "inbox")
            return result

        self.watcher = FolderWatcher(
            account=account.name, role="inbox",
            connect=lambda: ImapConnection.open(account, secret_for(account, env)),
            resolve=lambda conn: "INBOX", sync=sync, stop=self.stop,
            # The daemon's defaults; the baseline only lacks the probe.
            timing=WatchTiming() if probe else WatchTiming(probe_interval=0),
            probe=(lambda: reachable(account.imap)) if probe else None)

    def deliver_replies(self, dovecot: DovecotServer) -> None:
        for _ask, address, message_id in self.asks:
            dovecot.deliver(self.user, "INBOX", make_message(
                sender=address, to=self.config.accounts[0].email, subject="Re: your question",
                body="Happy to talk next week.", in_reply_to=message_id,
                references=[message_id]))

    def applied(self) -> int:
        # Read by the benchmark itself, not through maild: the replies the engine applied.
        with closing(sqlite3.connect(self.home / "maild.db")) as db:
            return int(db.execute(
                "SELECT count(*) FROM events WHERE type = 'HumanReply'").fetchone()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--outage", type=float, default=90.0,
                        help="seconds the server stays down (default 90)")
    parser.add_argument("--replies", type=int, default=5,
                        help="replies that arrive during the outage, per mailbox")
    parser.add_argument("--timeout", type=float, default=400.0,
                        help="give up waiting for the replies after this many seconds")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="maild-bench-") as tmp, DovecotServer() as dovecot:
        env = {**os.environ, PW_ENV: dovecot.password}
        os.environ[PW_ENV] = dovecot.password
        sides = {"probe": Side(Path(tmp), dovecot, "withprobe", args.replies, True, env),
                 "baseline": Side(Path(tmp), dovecot, "noprobe", args.replies, False, env)}
        for side in sides.values():
            side.watcher.start()
        for side in sides.values():
            if not side.watcher.caught_up.wait(30):
                raise SystemExit("a watcher never caught up")
        dovecot.kill()
        print(f"server down for {args.outage:.0f} s; {args.replies} replies arrive per "
              "mailbox meanwhile", file=sys.stderr)
        time.sleep(args.outage / 2)
        for side in sides.values():
            side.deliver_replies(dovecot)
        time.sleep(args.outage / 2)
        dovecot.start()
        back = time.monotonic()
        took: dict[str, float] = {}
        deadline = back + args.timeout
        while len(took) < len(sides) and time.monotonic() < deadline:
            for name, side in sides.items():
                if name not in took and side.applied() >= args.replies:
                    took[name] = time.monotonic() - back
            time.sleep(0.02)
        for side in sides.values():
            side.stop.set()
        for side in sides.values():
            side.watcher.join(10)
        reconnects = {name: side.watcher.reconnects for name, side in sides.items()}
    for name in sides:
        shown = f"{took[name]:.2f} s" if name in took else f"not within {args.timeout:.0f} s"
        print(f"{name:>8}: server back -> {args.replies} replies applied in {shown} "
              f"({reconnects[name]} reconnect attempts)")
    if len(took) == len(sides):
        print(f"ratio baseline / probe: {took['baseline'] / took['probe']:.1f}x; "
              f"goal for probe: under 5 s ({'met' if took['probe'] < 5 else 'MISSED'})")


if __name__ == "__main__":
    main()
