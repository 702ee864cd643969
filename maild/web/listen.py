"""The page's listening socket: 127.0.0.1 only, bound before anything serves it.

The socket is bound before uvicorn starts (or, in the daemon, before the web stack is
even loaded), so that a port in use is one clear error at start and port 0, for
tests, is known before the URL is written. Only 127.0.0.1 is ever bound: the page is
for the user of this machine, and the Host check of the app refuses any other name
(DNS rebinding). This module imports nothing of the web stack.
"""

from __future__ import annotations

import errno
import socket

from maild.errors import MaildError

HOST = "127.0.0.1"


class UiPortError(MaildError):
    """The page's port cannot be bound."""


def bind(port: int) -> socket.socket:
    """A listening socket on 127.0.0.1:``port`` (0: any free port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, port))
        sock.listen(64)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise UiPortError(f"port {port} on {HOST} is in use by another program; choose "
                              "another with [ui] port in config.toml") from None
        raise UiPortError(f"cannot listen on {HOST}:{port}: {exc.strerror}") from None
    sock.setblocking(False)
    return sock


def base_url(sock: socket.socket) -> str:
    return f"http://{HOST}:{sock.getsockname()[1]}/"
