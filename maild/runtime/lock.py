"""One daemon per MAILD_HOME: an exclusive flock on ``maild.lock`` holding the owner's pid.

The kernel drops a flock when its process dies, however it dies, so a lock file left
behind by a crash never blocks the next start: only a *live* holder counts. The pid in
the file is just for the message a second daemon prints.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import time
from pathlib import Path
from types import TracebackType

from maild import paths
from maild.errors import MaildError

log = logging.getLogger(__name__)

_ATTEMPTS = 4
_RETRY_SECONDS = 0.05


class AlreadyRunningError(MaildError):
    """Another live process holds the daemon lock of this home."""

    def __init__(self, home: Path, pid: int | None) -> None:
        owner = f"pid {pid}" if pid is not None else "pid unknown"
        super().__init__(f"maild is already running for {home} ({owner})")
        self.home = home
        self.pid = pid


class LockError(MaildError):
    """The lock file cannot be created or locked for a reason other than a live holder."""


def _read_pid(fd: int) -> int | None:
    try:
        raw = os.pread(fd, 64, 0)
    except OSError:
        return None
    try:
        return int(raw.decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        # The holder may not have written its pid yet; the message says "unknown".
        return None


class DaemonLock:
    """The held lock. Release it with ``release()`` or by leaving a ``with`` block."""

    def __init__(self, home: Path, path: Path, fd: int) -> None:
        self.home = home
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, home: Path) -> DaemonLock:
        """Take the lock for ``home`` or raise AlreadyRunningError naming the holder."""
        paths.ensure_home(home)
        path = paths.lock_path(home)
        try:
            # O_CLOEXEC (Python's default) keeps password commands and other children
            # from inheriting the lock and holding it after the daemon is gone.
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise LockError(f"cannot open the lock file {path}: {exc.strerror}") from None
        for attempt in range(_ATTEMPTS):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                busy = exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES)
                if busy and attempt + 1 < _ATTEMPTS:
                    # running_pid() probes with a brief shared lock; a start that
                    # collides with a probe must not be mistaken for a second daemon.
                    time.sleep(_RETRY_SECONDS)
                    continue
                pid = _read_pid(fd)
                os.close(fd)
                if busy:
                    raise AlreadyRunningError(home, pid) from None
                raise LockError(f"cannot lock {path}: {exc.strerror}") from None
        # The file is never unlinked (that would race with a waiting acquirer that has
        # the old inode open), so an old pid is overwritten rather than appended to.
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        log.debug("took the daemon lock %s", path)
        return cls(home, path, fd)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        # A read-only or vanished file must not stop the shutdown.
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)  # closing the last descriptor drops the flock

    def __enter__(self) -> DaemonLock:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def running_pid(home: Path) -> int | None:
    """The pid of the live daemon of ``home``, or None when none holds the lock.

    For status displays (``maild doctor``, ``maild service status``); it briefly takes a
    shared lock to test, so it never blocks a starting daemon for long.
    """
    path = paths.lock_path(home)
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return _read_pid(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
