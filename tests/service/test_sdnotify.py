"""sd_notify over a real unix datagram socket: paths, abstract names, failures, intervals."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from maild.adapters.sdnotify import Notifier, parse_address, watchdog_interval


@pytest.fixture
def short_dir() -> Iterator[Path]:
    # AF_UNIX paths are limited to ~108 bytes; pytest's tmp_path can be longer.
    with tempfile.TemporaryDirectory(prefix="sdn", dir="/tmp") as name:
        yield Path(name)


@pytest.fixture
def listener(short_dir: Path) -> Iterator[tuple[socket.socket, str]]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = str(short_dir / "notify")
    sock.bind(path)
    sock.settimeout(5)
    yield sock, path
    sock.close()


def receive(sock: socket.socket) -> str:
    return sock.recv(4096).decode("utf-8")


def test_messages_arrive_as_datagrams(listener: tuple[socket.socket, str]) -> None:
    sock, path = listener
    notifier = Notifier.from_env({"NOTIFY_SOCKET": path})
    assert notifier.enabled
    assert notifier.ready()
    assert receive(sock) == "READY=1"
    assert notifier.status("watching 2 folders,\n3 drafts waiting")
    assert receive(sock) == "STATUS=watching 2 folders, 3 drafts waiting"
    assert notifier.watchdog()
    assert receive(sock) == "WATCHDOG=1"
    assert notifier.stopping()
    assert receive(sock) == "STOPPING=1"
    assert notifier.reloading()
    first, second = receive(sock).split("\n")
    assert first == "RELOADING=1"
    assert second.startswith("MONOTONIC_USEC=") and int(second.split("=")[1]) > 0
    assert notifier.ready("caught up")
    assert receive(sock) == "READY=1\nSTATUS=caught up"
    notifier.close()


def test_abstract_socket_name() -> None:
    name = f"maild-test-{os.getpid()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(b"\0" + name.encode())
    sock.settimeout(5)
    try:
        assert Notifier.from_env({"NOTIFY_SOCKET": "@" + name}).ready()
        assert receive(sock) == "READY=1"
    finally:
        sock.close()


def test_child_process_notifies_from_its_environment(listener: tuple[socket.socket, str]) -> None:
    sock, path = listener
    code = ("import os; from maild.adapters.sdnotify import Notifier; "
            "Notifier.from_env(os.environ).ready()")
    subprocess.run([sys.executable, "-c", code], env={**os.environ, "NOTIFY_SOCKET": path},
                   check=True, timeout=30)
    assert receive(sock) == "READY=1"


def test_without_notify_socket_everything_is_a_no_op() -> None:
    notifier = Notifier.from_env({})
    assert not notifier.enabled
    assert not notifier.ready()
    assert not notifier.watchdog()
    assert not notifier.stopping()


def test_unsupported_address_is_ignored() -> None:
    assert parse_address("vsock:2:1234") is None
    assert not Notifier.from_env({"NOTIFY_SOCKET": "vsock:2:1234"}).ready()


def test_send_failure_never_raises_and_is_logged_once(
        short_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    notifier = Notifier.from_env({"NOTIFY_SOCKET": str(short_dir / "gone")})
    with caplog.at_level(logging.DEBUG, logger="maild.adapters.sdnotify"):
        for _ in range(3):
            assert notifier.watchdog() is False
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert "cannot notify systemd" in warnings[0].getMessage()


@pytest.mark.parametrize(("env", "expected"), [
    ({}, None),
    ({"WATCHDOG_USEC": "120000000"}, 60.0),
    ({"WATCHDOG_USEC": "0"}, None),
    ({"WATCHDOG_USEC": "junk"}, None),
    ({"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "4242"}, 1.0),
    ({"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "1"}, None),
])
def test_watchdog_interval_is_half_the_timeout(env: dict[str, str],
                                                expected: float | None) -> None:
    assert watchdog_interval(env, pid=4242) == expected


def test_watchdog_pid_defaults_to_this_process() -> None:
    env = {"WATCHDOG_USEC": "1000000", "WATCHDOG_PID": str(os.getpid())}
    assert watchdog_interval(env) == 0.5
