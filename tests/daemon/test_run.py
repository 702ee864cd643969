"""``maild run`` as a real subprocess: systemd's notify protocol, approvals, signals."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from maild.cli import cli
from maild.sandbox.dovecot import DovecotServer
from maild.sandbox.smtp import SmtpSandbox
from tests.mail.conftest import PW_ENV, write_config

NOW = "2026-11-17T10:00:00-05:00"  # a Tuesday morning: inside the sending window


class NotifySocket:
    """What systemd listens on: a unix datagram socket collecting every message."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.1)
        self.messages: list[tuple[float, str]] = []

    def drain(self) -> None:
        while True:
            try:
                data = self.sock.recv(4096)
            except (TimeoutError, BlockingIOError):
                return
            self.messages.append((time.monotonic(), data.decode()))

    def wait_for(self, text: str, timeout: float, after: float = 0.0) -> float:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.drain()
            for at, message in self.messages:
                if at >= after and text in message.splitlines():
                    return at
        raise AssertionError(f"no {text!r} within {timeout}s; got {self.messages[-5:]}")

    def count(self, text: str, since: float) -> int:
        self.drain()
        return sum(1 for at, m in self.messages if at >= since and text in m.splitlines())


@pytest.fixture
def smtp_for_user(dovecot: DovecotServer, imap_user: str) -> Iterator[SmtpSandbox]:
    with SmtpSandbox(username=imap_user, password=dovecot.password) as server:
        yield server


@pytest.fixture
def home(tmp_path: Path, dovecot: DovecotServer, smtp_for_user: SmtpSandbox,
         imap_user: str) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    write_config(home, dovecot, smtp_for_user, imap_user)
    return home


def cli_run(home: Path, password: str, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--home", str(home), *args],
                                env={"MAILD_NOW": NOW, PW_ENV: password})
    assert result.exit_code == 0, result.output
    return result.output


def start_daemon(home: Path, password: str, notify: NotifySocket | None,
                 watchdog_usec: int = 600_000) -> subprocess.Popen[str]:
    env = {**os.environ, "MAILD_NOW": NOW, PW_ENV: password}
    if notify is not None:
        env["NOTIFY_SOCKET"] = str(notify.path)
        env["WATCHDOG_USEC"] = str(watchdog_usec)
        env["WATCHDOG_PID"] = ""  # the pid is unknown before the start; accept any
    return subprocess.Popen([sys.executable, "-m", "maild", "--home", str(home), "run"],
                            env=env, stderr=subprocess.PIPE, text=True)


def test_notify_protocol_approvals_watchdog_and_sigterm(
        home: Path, tmp_path: Path, dovecot: DovecotServer,
        smtp_for_user: SmtpSandbox) -> None:
    password = dovecot.password
    cli_run(home, password, "mentor", "add", "Dana Rivera", "--title", "Dr.", "--email",
            "drivera@med.example.edu", "--connection-point", "2025 paper on HFpEF",
            "--specialty", "cardiology")
    cli_run(home, password, "ask", "cold", "Rivera")
    notify = NotifySocket(tmp_path / "notify.sock")
    started = time.monotonic()
    proc = start_daemon(home, password, notify)
    try:
        ready_at = notify.wait_for("READY=1", timeout=15)
        print(f"READY=1 after {ready_at - started:.2f}s")
        notify.wait_for("WATCHDOG=1", timeout=5, after=ready_at)
        # An approval made with the CLI while the daemon runs is sent within 2 s.
        approved = time.monotonic()
        cli_run(home, password, "approve", "1", "--field", "paper_question=Why registries?")
        smtp_for_user.wait_for(1, timeout=4)
        assert time.monotonic() - approved < 3.0
        assert any(m.startswith("STATUS=watching 2/2 folders") for _t, m in notify.messages)

        # SIGHUP reloads config.toml; a broken one is refused and the old one kept.
        hup = time.monotonic()
        proc.send_signal(signal.SIGHUP)
        notify.wait_for("RELOADING=1", timeout=5, after=hup)
        notify.wait_for("READY=1", timeout=10, after=hup)
        config = home / "config.toml"
        good = config.read_text()
        config.write_text(good + "\n[sending]\nwindow = \"late\"\n")
        hup = time.monotonic()
        proc.send_signal(signal.SIGHUP)
        notify.wait_for("READY=1", timeout=10, after=hup)
        config.write_text(good)
        assert proc.poll() is None
        notify.wait_for("WATCHDOG=1", timeout=10, after=time.monotonic())

        # Dovecot goes away: the IMAP threads lose their connections, pings stop...
        dovecot.kill()
        time.sleep(1.5)
        notify.drain()  # pings sent before the outage was noticed are not counted
        quiet_from = time.monotonic()
        time.sleep(2.0)
        assert notify.count("WATCHDOG=1", since=quiet_from) == 0
        # ...and resume once the connection is back.
        dovecot.start()
        notify.wait_for("WATCHDOG=1", timeout=20, after=time.monotonic())

        proc.send_signal(signal.SIGTERM)
        stop_sent = time.monotonic()
        assert proc.wait(timeout=10) == 0
        assert time.monotonic() - stop_sent < 10
        notify.wait_for("STOPPING=1", timeout=1, after=stop_sent)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        stderr = proc.stderr.read() if proc.stderr else ""
    assert password not in stderr
    assert "config not reloaded" in stderr and "sending.window" in stderr
    assert len(smtp_for_user.messages) == 1


def test_second_daemon_refuses_with_a_clear_message(home: Path, dovecot: DovecotServer) -> None:
    first = start_daemon(home, dovecot.password, None)
    try:
        time.sleep(1.0)
        second = subprocess.run([sys.executable, "-m", "maild", "--home", str(home), "run"],
                                env={**os.environ, PW_ENV: dovecot.password},
                                capture_output=True, text=True, timeout=20)
        assert second.returncode == 1
        assert "already running" in second.stderr
        assert f"pid {first.pid}" in second.stderr
    finally:
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=10) == 0
