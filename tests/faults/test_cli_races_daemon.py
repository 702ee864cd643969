"""CLI commands racing the running daemon while replies land: no "database is locked",
every reply applied once, and no edit undoes what the daemon recorded.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

from click.testing import CliRunner

from bench._world import asks_waiting_for_reply
from maild.cli import cli
from maild.config import load
from maild.sandbox.base import ImapSandbox
from maild.sandbox.mail import append, make_message
from maild.sandbox.smtp import SmtpSandbox
from maild.store import Store
from tests.daemon.test_run import NOW, NotifySocket, start_daemon
from tests.mail.conftest import PW_ENV, write_config
from tests.rawdb import raw

REPLIES = 8


def test_cli_beside_the_daemon_loses_and_repeats_nothing(
        tmp_path: Path, imap_server: ImapSandbox, smtp_for_user: SmtpSandbox,
        imap_user: str) -> None:
    home = tmp_path / "home"
    home.mkdir()
    write_config(home, imap_server, smtp_for_user, imap_user,
                 extra="\n[watch]\nreconnect_min = 0.1\nreconnect_max = 1\nprobe_every = 0.1\n")
    config = load(home / "config.toml")
    asks = asks_waiting_for_reply(home, config, REPLIES, datetime.fromisoformat(NOW))
    notify = NotifySocket(tmp_path / "notify.sock")
    env = {"MAILD_NOW": NOW, PW_ENV: imap_server.password}
    proc = start_daemon(home, imap_server.password, notify)
    outputs: list[str] = []
    try:
        notify.wait_for("READY=1", timeout=20)
        runner = CliRunner()
        for n, (_ask, address, message_id) in enumerate(asks):
            append(imap_server.host, imap_server.port, imap_user, imap_server.password,
                   "INBOX", make_message(sender=address, to=config.accounts[0].email,
                                         subject="Re: your question", body="Yes, gladly.",
                                         in_reply_to=message_id, references=[message_id]))
            for args in (("mentor", "edit", address, "--notes", f"edit {n}"),
                         ("ask", "list"), ("drafts",), ("status", "--json"),
                         ("timeline", address)):
                result = runner.invoke(cli, ["--home", str(home), *args], env=env)
                outputs.append(result.output)
                assert result.exit_code == 0, (args, result.output)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with Store.open(home / "maild.db") as store:
                done = raw(store).execute("SELECT count(*) FROM events WHERE type = "
                                        "'HumanReply'").fetchone()[0]
            if done >= REPLIES:
                break
            time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    assert not any("locked" in out for out in outputs)
    with Store.open(home / "maild.db") as store:
        db = raw(store)
        assert db.execute("SELECT count(*) FROM events WHERE type = 'HumanReply'"
                          ).fetchone()[0] == REPLIES
        assert db.execute("SELECT count(*) FROM messages WHERE direction = 'in'"
                          ).fetchone()[0] == REPLIES
        rows = db.execute("SELECT notes, outreach_status FROM mentors ORDER BY id").fetchall()
    assert [r["notes"] for r in rows] == [f"edit {n}" for n in range(REPLIES)]
    # What the daemon recorded for each mentor survived the edits made around it.
    assert all(r["outreach_status"] != "not contacted" for r in rows), [dict(r) for r in rows]
