"""The daemon's page is loaded when a browser first connects, not at start.

A real socket, a real uvicorn and a real HTTP client: the app is built only once a
connection waits, the connection made before it is answered, later ones reuse it,
and stopping frees the port whether or not the page was ever loaded.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

from maild.web.listen import bind
from maild.web.ondemand import OnDemandPage


class CountingApp:
    """A minimal ASGI app that counts how often it was built."""

    built = 0

    def __init__(self) -> None:
        CountingApp.built += 1

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain"),
                                (b"content-length", b"4")]})
        await send({"type": "http.response.body", "body": b"page"})


async def get(port: int) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    await writer.drain()
    body = await asyncio.wait_for(reader.read(), timeout=20)
    writer.close()
    return body


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def test_the_app_is_built_at_the_first_connection_and_once() -> None:
    async def scenario() -> None:
        built: list[CountingApp] = []

        def make_app() -> Any:
            built.append(CountingApp())
            return built[-1]

        sock = bind(0)
        port = sock.getsockname()[1]
        page = OnDemandPage(sock, make_app)
        page.start()
        await asyncio.sleep(0.3)
        assert built == [] and not page.loaded
        first = await get(port)
        assert first.startswith(b"HTTP/1.1 200") and first.endswith(b"page")
        assert page.loaded
        assert (await get(port)).endswith(b"page")
        assert len(built) == 1
        await page.stop(timeout=10)
        assert port_is_free(port)

    asyncio.run(scenario())


def test_stopping_a_page_never_loaded_frees_its_port() -> None:
    async def scenario() -> None:
        def make_app() -> Any:
            raise AssertionError("nobody connected: the app must not be built")

        sock = bind(0)
        port = sock.getsockname()[1]
        page = OnDemandPage(sock, make_app)
        page.start()
        await asyncio.sleep(0.1)
        await page.stop(timeout=10)
        assert not page.loaded
        assert port_is_free(port)

    asyncio.run(scenario())


def test_an_app_that_cannot_be_built_closes_the_socket_and_is_logged(
        caplog: Any) -> None:
    async def scenario() -> None:
        def make_app() -> Any:
            raise RuntimeError("templates missing")

        sock = bind(0)
        port = sock.getsockname()[1]
        page = OnDemandPage(sock, make_app)
        page.start()
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            await asyncio.wait_for(get(port), timeout=10)
        await page.stop(timeout=10)
        assert port_is_free(port)

    asyncio.run(scenario())
    assert "the page could not be loaded" in caplog.text
