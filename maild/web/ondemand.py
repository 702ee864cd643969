"""The daemon's page, loaded on demand: the socket is bound when the daemon starts, the
web stack (Starlette, Jinja's templates, uvicorn) is loaded when the first browser
connects.

Most days nobody opens the page, and the daemon runs all day: carrying the page costs
about 7 MiB of resident memory for nothing (measured by ``bench/idle.py``, page server
on vs off). Because the listening socket exists from the start, the URL file is right
at once, a port in use is reported at start, and a connection made before the stack
is loaded simply waits in the socket's backlog until uvicorn takes the socket over.
Once loaded, the page stays loaded until the daemon stops.

This module imports nothing of the web stack itself; ``maild.web.server`` is imported
only when a connection arrives.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from maild.web.server import EmbeddedServer

log = logging.getLogger(__name__)


class OnDemandPage:
    """Serves ``make_app()`` on ``sock`` from the first connection until ``stop()``."""

    def __init__(self, sock: socket.socket, make_app: Callable[[], ASGIApp]) -> None:
        self._sock = sock
        self._make_app = make_app
        self._server: EmbeddedServer | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def loaded(self) -> bool:
        """Whether a browser has connected and the web stack was loaded."""
        return self._server is not None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="maild-page")

    async def _run(self) -> None:
        try:
            await self._first_connection()
            from maild.web.server import embedded, serve_embedded

            app = self._make_app()
            self._server = embedded(app)
            log.debug("a browser connected: the page's server is loaded")
        except Exception:
            log.exception("the page could not be loaded; it is not served until restart")
            self._sock.close()
            raise
        except BaseException:
            self._sock.close()
            raise
        await serve_embedded(app, self._sock, self._server)

    async def _first_connection(self) -> None:
        """Wait until the listening socket has a connection in its backlog (without
        accepting it: uvicorn does, once it owns the socket)."""
        loop = asyncio.get_running_loop()
        pending: asyncio.Future[None] = loop.create_future()

        def readable() -> None:
            if not pending.done():
                pending.set_result(None)

        loop.add_reader(self._sock.fileno(), readable)
        try:
            await pending
        finally:
            loop.remove_reader(self._sock.fileno())

    async def stop(self, timeout: float) -> None:
        """Stop serving and close the socket, whether or not the page was ever loaded."""
        task = self._task
        if task is None:
            self._sock.close()
            return
        if self._server is None:
            task.cancel()
        else:
            self._server.stop()
        # asyncio.wait, not wait_for: it neither raises the task's cancellation into
        # this coroutine nor cancels the task again on a timeout.
        done, _ = await asyncio.wait([task], timeout=timeout)
        if not done:
            log.warning("the page's server did not stop in time")
        elif not task.cancelled() and (exc := task.exception()) is not None:
            log.error("the page's server failed while stopping", exc_info=exc)
