"""A real mail client that no one here wrote: neomutt, driven in tmux, against the sandbox.

The student has two open asks to Dr. Rivera (a letter request, then a cold ask) and
maild's drafts of both in their Drafts folder. In neomutt they recall the letter
request (neomutt's postponed folder is Drafts) and send it: neomutt delivers it to the
sandbox SMTP server and files its Fcc copy in Sent over IMAP. maild's Sent sync must
credit the letter ask, exactly as if maild had sent its request, leave the cold ask
alone, and never send the request itself.

Needs neomutt and tmux (Debian: apt-get install neomutt tmux); like the servers, they
may be missing on a developer machine (skipped) but not in CI (fails).
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import _unavailable
from tests.mail.conftest import World
from tests.mail.test_client_shapes import two_asks_with_drafts
from tests.mail.worlds import draft_status


@dataclass
class Neomutt:
    """A neomutt in a private tmux server; ``screen()`` is what the user would see."""

    tmux: str
    socket: Path
    command: list[str]
    env: dict[str, str]

    def start(self) -> None:
        """Open neomutt (it reads the Drafts folder's count when it starts)."""
        self._tmux("new-session", "-d", "-s", "nm", "-x", "160", "-y", "40", *self.command)

    def _tmux(self, *args: str) -> str:
        done = subprocess.run([self.tmux, "-S", str(self.socket), *args], capture_output=True,
                              text=True, timeout=10, check=True, env=self.env)
        return done.stdout

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", "nm")

    def keys(self, *keys: str) -> None:
        self._tmux("send-keys", "-t", "nm", *keys)

    def wait_for(self, pattern: str, timeout: float = 30.0) -> str:
        """The screen once ``pattern`` (a regex) shows on it."""
        deadline = time.monotonic() + timeout
        while True:
            shown = self.screen()
            if re.search(pattern, shown):
                return shown
            if time.monotonic() > deadline:
                raise AssertionError(f"neomutt never showed {pattern!r}; screen:\n{shown}")
            time.sleep(0.2)


def muttrc(world: World, path: Path) -> Path:
    imap, smtp = world.account.imap, world.account.smtp
    password = world.server.password
    path.write_text(f"""
set folder = "imap://{world.user}@{imap.host}:{imap.port}/"
set imap_pass = "{password}"
set spoolfile = "+INBOX"
set postponed = "+Drafts"
set record = "+Sent"
set smtp_url = "smtp://{world.user}@{smtp.host}:{smtp.port}/"
set smtp_pass = "{password}"
set ssl_starttls = yes
set ssl_force_tls = no
set ssl_ca_certificates_file = "{smtp.ca_file}"
set from = "{world.account.email}"
set real_name = "Alex Kim"
set use_from = yes
set header_cache = ""
set message_cachedir = ""
set imap_check_subscribed = no
set sleep_time = 0
set confirm_append = no
set copy = yes
set recall = ask-yes
set editor = "true"
set timeout = 1
set mail_check = 1
""", encoding="utf-8")
    return path


@pytest.fixture
def neomutt(world: World, tmp_path: Path) -> Iterator[Neomutt]:
    binary, tmux = shutil.which("neomutt"), shutil.which("tmux")
    if binary is None or tmux is None:
        _unavailable("neomutt and tmux are not installed (apt-get install neomutt tmux)")
    assert binary is not None and tmux is not None
    # Its own tmux server (socket) and home: nothing shared with anyone else's session.
    config = muttrc(world, tmp_path / "muttrc")
    client = Neomutt(tmux, tmp_path / "tmux.sock", [binary, "-n", "-F", str(config)],
                     {"HOME": str(tmp_path), "TERM": "xterm-256color", "PATH": "/usr/bin:/bin",
                      "LANG": "C.UTF-8"})
    try:
        yield client
    finally:
        subprocess.run([tmux, "-S", str(client.socket), "kill-server"], capture_output=True,
                       timeout=10, check=False)


def test_neomutt_sends_a_recalled_draft_and_maild_credits_its_own_ask(
        world: World, neomutt: Neomutt) -> None:
    letter, cold = two_asks_with_drafts(world)
    pending = world.store.read.drafts.with_status("pending")
    [request] = [d for d in pending if d.ask_id == letter]
    [initial] = [d for d in pending if d.ask_id == cold]

    neomutt.start()
    neomutt.wait_for(r"Post:2")
    neomutt.keys("R")  # recall-message: the postponed folder is Drafts
    listed = neomutt.wait_for(r"Postponed Messages")
    [number] = [m.group(1) for m in re.finditer(r"^\s*(\d+) .*$", listed, re.M)
                if request.spec.subject[:25] in m.group(0)]
    neomutt.keys(number, "Enter")  # jump to the letter request...
    neomutt.keys("Enter")  # ...and open it in the compose menu
    composed = neomutt.wait_for(r"Compose")
    assert request.spec.subject[:40] in composed
    neomutt.keys("y")  # send
    neomutt.wait_for(r"Mail sent")

    # neomutt sent it over SMTP, with maild's Message-ID, and filed its copy in Sent.
    [received] = world.smtp.wait_for(1)
    assert received.message["Message-ID"] == request.spec.message_id
    deadline = time.monotonic() + 30
    while world.sync("Sent", "sent").seen == 0:  # type: ignore[attr-defined]
        assert time.monotonic() < deadline, "neomutt's Fcc copy never reached Sent"
        time.sleep(0.2)

    # Credited to the letter ask, as if maild had sent its request...
    assert draft_status(world, request.id) == "sent"
    assert world.steps(letter)["request"] == "sent"
    assert world.state(letter) == "waiting_reply"
    # ...the cold ask is untouched, and maild sends nothing of its own.
    assert draft_status(world, initial.id) == "pending"
    assert world.state(cold) == "active"
    assert asyncio.run(world.sender().send_ready()).sent == 0
    assert len(world.smtp.messages) == 1
