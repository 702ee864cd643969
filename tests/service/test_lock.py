"""One daemon per home, checked against a real second process holding the lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from maild import paths
from maild.runtime.lock import AlreadyRunningError, DaemonLock, running_pid

HOLDER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from maild.runtime.lock import DaemonLock
    lock = DaemonLock.acquire(Path(sys.argv[1]))
    print("locked", flush=True)
    sys.stdin.read()  # hold until the test closes our stdin (or kills us)
    lock.release()
""")


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "locked"
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)


def test_second_acquirer_is_told_the_pid(tmp_path: Path,
                                         holder: subprocess.Popen[str]) -> None:
    with pytest.raises(AlreadyRunningError) as caught:
        DaemonLock.acquire(tmp_path)
    assert caught.value.pid == holder.pid
    assert str(caught.value) == f"maild is already running for {tmp_path} (pid {holder.pid})"
    assert caught.value.exit_code == 1
    assert running_pid(tmp_path) == holder.pid


def test_clean_release_lets_the_next_one_in(tmp_path: Path,
                                            holder: subprocess.Popen[str]) -> None:
    assert holder.stdin is not None
    holder.stdin.close()
    assert holder.wait(timeout=10) == 0
    assert running_pid(tmp_path) is None
    with DaemonLock.acquire(tmp_path) as lock:
        assert lock.held
        assert paths.lock_path(tmp_path).read_text().strip() == str(os.getpid())
    assert not lock.held


def test_lock_of_a_killed_process_does_not_block(tmp_path: Path,
                                                 holder: subprocess.Popen[str]) -> None:
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=10)
    # The file still names the dead pid; only a live flock counts.
    assert paths.lock_path(tmp_path).read_text().strip() == str(holder.pid)
    with DaemonLock.acquire(tmp_path):
        assert running_pid(tmp_path) == os.getpid()


def test_a_second_process_gets_one_clear_line(tmp_path: Path) -> None:
    code = ("import sys; from pathlib import Path; from maild.runtime.lock import DaemonLock\n"
            "try:\n    DaemonLock.acquire(Path(sys.argv[1]))\n"
            "except Exception as e:\n    print(type(e).__name__, e); sys.exit(1)")
    with DaemonLock.acquire(tmp_path):
        done = subprocess.run([sys.executable, "-c", code, str(tmp_path)],
                              capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 1
    assert done.stdout.strip() == (
        f"AlreadyRunningError maild is already running for {tmp_path} (pid {os.getpid()})")


def test_creates_the_home_and_survives_garbage_in_the_file(tmp_path: Path) -> None:
    home = tmp_path / "new" / "home"
    with DaemonLock.acquire(home):
        pass
    paths.lock_path(home).write_text("not a pid\n")
    with DaemonLock.acquire(home) as lock:
        assert lock.held
