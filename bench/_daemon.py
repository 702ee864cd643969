"""Shared by the daemon benchmarks: a sandbox home, a store full of asks, a daemon
process started with a fake NOTIFY_SOCKET so READY=1 can be timed.

Everything talks to 127.0.0.1 only."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench._world import asks_waiting_for_reply
from maild.config import load
from maild.sandbox.dovecot import DovecotServer
from maild.sandbox.home import write_sandbox_home
from maild.sandbox.smtp import SmtpSandbox

PW_ENV = "MAILD_BENCH_PASSWORD"
NOW = datetime(2026, 11, 17, 15, 0, tzinfo=UTC)


def write_home(home: Path, dovecot: DovecotServer, smtp: SmtpSandbox, user: str,
               ui_serve: bool = True) -> None:
    write_sandbox_home(home, dovecot, smtp, user, password_env=PW_ENV, ui_serve=ui_serve)


def fill_asks(home: Path, count: int) -> list[tuple[str, str]]:
    """``count`` mentors with one open cold ask each whose first email went out before
    NOW; returns (mentor address, Message-ID of that email) for each ask."""
    config = load(home / "config.toml")
    return [(address, message_id) for _ask, address, message_id
            in asks_waiting_for_reply(home, config, count, NOW)]


class Notify:
    def __init__(self, path: Path) -> None:
        self.path = path
        if path.exists():
            path.unlink()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))

    def wait_for(self, text: str, timeout: float) -> float:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.sock.settimeout(max(0.01, end - time.monotonic()))
            try:
                data = self.sock.recv(4096).decode()
            except TimeoutError:
                break
            if text in data.splitlines():
                return time.monotonic()
        raise SystemExit(f"no {text} within {timeout}s")

    def close(self) -> None:
        self.sock.close()


def start(home: Path, password: str, notify: Notify) -> subprocess.Popen[bytes]:
    env = {**os.environ, PW_ENV: password, "NOTIFY_SOCKET": str(notify.path),
           "MAILD_NOW": NOW.isoformat()}
    return subprocess.Popen([sys.executable, "-m", "maild", "--home", str(home), "run"],
                            env=env, stderr=subprocess.DEVNULL)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    proc.wait(timeout=15)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")
