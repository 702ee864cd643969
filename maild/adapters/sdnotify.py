"""systemd's sd_notify protocol, spoken directly: no library, one unix datagram per call.

This module owns telling the service manager about the daemon's life: READY=1 once
catch-up is done, STATUS= lines, WATCHDOG=1 pings, STOPPING=1 and RELOADING=1. It also
owns reading the watchdog interval systemd asks for (WATCHDOG_USEC).

Outside systemd (no NOTIFY_SOCKET) every call is a no-op, so the daemon calls it
unconditionally. A failing send never raises: losing a status line must not take the
daemon down; the first failure is logged and later ones only at debug level.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Mapping

log = logging.getLogger(__name__)

NOTIFY_SOCKET_ENV = "NOTIFY_SOCKET"
WATCHDOG_USEC_ENV = "WATCHDOG_USEC"
WATCHDOG_PID_ENV = "WATCHDOG_PID"

Address = str | bytes


def parse_address(value: str) -> Address | None:
    """The socket address in NOTIFY_SOCKET, or None when it is not one we can use.

    "@name" is a Linux abstract socket (a leading NUL byte on the wire); an absolute path
    is a socket file. systemd also knows "vsock:" addresses, used only inside VMs; those
    are not supported and yield None.
    """
    if value.startswith("@"):
        return b"\0" + value[1:].encode("utf-8", "surrogateescape")
    if value.startswith("/"):
        return value
    return None


def _one_line(text: str) -> str:
    # A newline would end the field and start a new (bogus) assignment.
    return " ".join(text.split())


class Notifier:
    """Sends sd_notify messages to one socket; does nothing when there is none.

    Safe to use from several threads (the watchdog pinger and the asyncio side): each
    message is a single ``sendto`` on a shared datagram socket, created on first use.
    """

    def __init__(self, address: Address | None) -> None:
        self.address = address
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._warned = False

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Notifier:
        raw = env.get(NOTIFY_SOCKET_ENV, "")
        if not raw:
            return cls(None)
        address = parse_address(raw)
        if address is None:
            log.warning("NOTIFY_SOCKET=%r is not a unix socket address; "
                        "not notifying systemd", raw)
        return cls(address)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def notify(self, *assignments: str) -> bool:
        """Send ``KEY=value`` lines as one datagram; True when it was delivered."""
        if self.address is None:
            return False
        payload = "\n".join(assignments).encode("utf-8")
        try:
            with self._lock:
                if self._sock is None:
                    self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                    self._sock.setblocking(False)
                sock = self._sock
            sock.sendto(payload, self.address)
        except OSError as exc:
            # Logged once: a vanished socket would otherwise flood the log every ping.
            if not self._warned:
                self._warned = True
                log.warning("cannot notify systemd at %r: %s (further failures not logged)",
                            self.address, exc.strerror or exc)
            else:
                log.debug("sd_notify failed again: %s", exc)
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        if status is None:
            return self.notify("READY=1")
        return self.notify("READY=1", f"STATUS={_one_line(status)}")

    def status(self, text: str) -> bool:
        return self.notify(f"STATUS={_one_line(text)}")

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def stopping(self) -> bool:
        return self.notify("STOPPING=1")

    def reloading(self) -> bool:
        # MONOTONIC_USEC lets systemd (Type=notify-reload) match this to the READY=1 that
        # ends the reload; CLOCK_MONOTONIC is what it compares against.
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.notify("RELOADING=1", f"MONOTONIC_USEC={usec}")

    def close(self) -> None:
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None


def watchdog_interval(env: Mapping[str, str], pid: int | None = None) -> float | None:
    """Seconds between WATCHDOG=1 pings: half of WATCHDOG_USEC, or None for no watchdog.

    Half the timeout is what sd_watchdog_enabled(3) recommends, so that one late ping
    does not get the daemon killed. WATCHDOG_PID, when set, must be this process.
    """
    raw = env.get(WATCHDOG_USEC_ENV, "")
    if not raw:
        return None
    watchdog_pid = env.get(WATCHDOG_PID_ENV, "")
    if watchdog_pid:
        try:
            if int(watchdog_pid) != (os.getpid() if pid is None else pid):
                return None
        except ValueError:
            return None
    try:
        usec = int(raw)
    except ValueError:
        log.warning("ignoring WATCHDOG_USEC=%r: not a number", raw)
        return None
    if usec <= 0:
        return None
    return usec / 2 / 1_000_000
