"""The sending process of the fault-injection test, run as a real subprocess.

``python send_child.py CONFIG DB DRAFT_ID POINT NOW`` builds the same objects as the
daemon (store, tracker, sender against the real servers named in CONFIG) and sends one
draft, killing itself with SIGKILL when the send path reaches checkpoint POINT: no
``finally``, no atexit, no flushed buffers; exactly what a power cut or an OOM kill
leaves behind. It prints the outcome when POINT is never reached.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import datetime
from pathlib import Path

from maild.adapters.credentials import secret_for
from maild.adapters.imap import ImapConnection
from maild.app.drafting import TemplateDrafts
from maild.app.outbox import Sender
from maild.app.tracker import Tracker
from maild.config import Account, load
from maild.store import Store


def main(argv: list[str]) -> int:
    config_path, db_path, draft_id, point, now_text = argv[1:6]
    config = load(Path(config_path))
    store = Store.open(Path(db_path))
    tracker = Tracker(store, config, TemplateDrafts(Path(config_path).parent, config))
    now = datetime.fromisoformat(now_text)

    def checkpoint(name: str) -> None:
        if name == point:
            os.kill(os.getpid(), signal.SIGKILL)

    def imap(account: Account) -> ImapConnection:
        return ImapConnection.open(account, secret_for(account))

    sender = Sender(store, tracker, config, secret=secret_for, imap=imap, now=lambda: now,
                    checkpoint=checkpoint)
    outcome = asyncio.run(sender.send_one(int(draft_id)))
    sys.stdout.write(outcome + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
