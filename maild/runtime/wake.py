"""Waking a running daemon when another process changed the store.

The daemon sleeps until its next due moment; an approval, a rejection or a new ask
made with the CLI must not wait for that. A named pipe in the home (``maild.wake``)
carries the news: the daemon holds it open for reading, and a process that committed
a change writes one byte to it. A pipe nobody reads (no daemon) refuses the writer at
once, so the CLI never blocks and never needs to know whether a daemon runs. A pipe,
unlike a socket, has no path-length limit, and unlike a signal it cannot reach a
stranger that inherited a stale pid.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
from pathlib import Path

from maild import paths

log = logging.getLogger(__name__)


def wake_daemon(home: Path) -> bool:
    """Tell this home's daemon to look at the store now; True when one was listening."""
    try:
        fd = os.open(paths.wake_path(home), os.O_WRONLY | os.O_NONBLOCK)
    except OSError as exc:
        # ENXIO: nobody reads (no daemon); ENOENT: no daemon ever ran here.
        if exc.errno not in (errno.ENXIO, errno.ENOENT):
            log.debug("cannot wake the daemon: %s", exc)
        return False
    try:
        os.write(fd, b".")
    except BlockingIOError:
        pass  # the pipe is full of wake-ups already: the daemon will look
    except OSError as exc:
        log.debug("cannot wake the daemon: %s", exc)
        return False
    finally:
        os.close(fd)
    return True


class WakeChannel:
    """The daemon's end of the pipe: a file descriptor that becomes readable when a
    process asks it to look (``fileno`` for the event loop, then ``drain``)."""

    def __init__(self, path: Path, read_fd: int, keep_fd: int) -> None:
        self.path = path
        self._read = read_fd
        # Our own writer: without one, the reader sees end-of-file (readable, forever)
        # each time the last CLI writer closes.
        self._keep = keep_fd

    @classmethod
    def open(cls, home: Path) -> WakeChannel:
        path = paths.wake_path(paths.ensure_home(home))
        with contextlib.suppress(FileNotFoundError):
            if not stat.S_ISFIFO(path.lstat().st_mode):
                path.unlink()  # not ours to read from: a pipe takes its place
        with contextlib.suppress(FileExistsError):
            os.mkfifo(path, 0o600)
        read_fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        keep_fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        return cls(path, read_fd, keep_fd)

    def fileno(self) -> int:
        return self._read

    def drain(self) -> int:
        """Read every pending wake-up; how many bytes there were."""
        total = 0
        while True:
            try:
                chunk = os.read(self._read, 4096)
            except BlockingIOError:
                return total
            if not chunk:
                return total
            total += len(chunk)

    def close(self) -> None:
        for fd in (self._read, self._keep):
            with contextlib.suppress(OSError):
                os.close(fd)
