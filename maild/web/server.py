"""Serving the page: uvicorn on a socket bound by ``maild.web.listen``, and the URL
file while it runs.

Inside the daemon the server runs as a task on the daemon's event loop and leaves the
signals to the daemon (``EmbeddedServer``); ``maild ui`` in the foreground lets
uvicorn handle Ctrl-C and SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import uvicorn
from starlette.types import ASGIApp

from maild.web.access import Served, clear_served, write_served
from maild.web.listen import HOST, UiPortError, base_url, bind

__all__ = ["HOST", "UiPortError", "base_url", "bind"]

log = logging.getLogger(__name__)


def _config(app: ASGIApp) -> uvicorn.Config:
    # No access log (URLs may carry a one-time token), uvicorn's own lines only when
    # something is wrong, no lifespan (the app keeps no state of its own to set up).
    return uvicorn.Config(app, log_config=None, log_level="warning", access_log=False,
                          lifespan="off", http="h11", ws="none", server_header=False,
                          proxy_headers=False)


class EmbeddedServer(uvicorn.Server):
    """uvicorn on someone else's event loop: the owner handles signals and says stop.

    uvicorn's own main loop wakes ten times a second to look for a stop request (and to
    refresh its Date header); the daemon must stay idle when nothing happens
    (invariant 11), so this one simply waits for ``stop()``."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._stopped = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def main_loop(self) -> None:
        await self._stopped.wait()

    def stop(self) -> None:
        self.should_exit = True
        self._stopped.set()


@contextlib.contextmanager
def announced(home: Path, sock: socket.socket, by: str) -> Iterator[Served]:
    """The URL file says where the page is while the block runs."""
    served = Served(url=base_url(sock), pid=os.getpid(), by=by)
    write_served(home, served)
    try:
        yield served
    finally:
        clear_served(home, served.pid)


async def serve_embedded(app: ASGIApp, sock: socket.socket, server: EmbeddedServer) -> None:
    """Serve until ``server.stop()``; the socket is closed afterwards."""
    try:
        await server.serve(sockets=[sock])
    finally:
        sock.close()


def embedded(app: ASGIApp) -> EmbeddedServer:
    return EmbeddedServer(_config(app))


class ForegroundServer(uvicorn.Server):
    """uvicorn owning Ctrl-C and SIGTERM, without re-raising them afterwards (uvicorn's
    default), so that the caller's clean-up (the URL file) still runs."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        previous = {sig: signal.signal(sig, self.handle_exit)
                    for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def serve_foreground(app: ASGIApp, sock: socket.socket) -> None:
    """Serve in this process until Ctrl-C or SIGTERM."""
    server = ForegroundServer(_config(app))
    try:
        asyncio.run(server.serve(sockets=[sock]))
    finally:
        sock.close()
