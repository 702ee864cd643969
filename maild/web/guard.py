"""The page's front door: Host check, session cookie, Origin check, security headers.

An ASGI middleware around the whole app, so no route can forget it:

* a request whose Host is not 127.0.0.1 or localhost is refused (a DNS-rebinding page
  reaching the port under its own name gets a 421 and nothing else);
* without a valid session cookie only ``/login`` answers (a 401 that says to run
  ``maild ui``); the cookie comes from exchanging ``maild ui``'s one-time token;
* a POST whose Origin is not the page itself is refused before any form is read (the
  CSRF token of each form is checked by the routes, see ``pages``);
* every answer carries a Content-Security-Policy that allows only the page's own
  resources (no script at all), no framing, no referrer to other sites, no caching.
"""

from __future__ import annotations

import html

from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.responses import HTMLResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from maild.web.access import COOKIE, Access

ALLOWED_HOSTS = frozenset({"127.0.0.1", "localhost"})
OPEN_PATHS = frozenset({"/login"})
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy",
     b"default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'; "
     b"form-action 'self'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    # same-origin, not no-referrer: with no-referrer the browser sends "Origin: null" on
    # the page's own forms, and the Origin check below could not tell them apart.
    (b"referrer-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
)


def host_name(value: str | None) -> str | None:
    """The name part of a Host header ("127.0.0.1:8731" -> "127.0.0.1")."""
    if not value:
        return None
    value = value.strip().lower()
    if value.startswith("["):
        return value.split("]", 1)[0] + "]"
    return value.rsplit(":", 1)[0] if ":" in value else value


def refusal(status: int, title: str, text: str) -> HTMLResponse:
    body = (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>maild: "
            f"{html.escape(title)}</title></head><body><h1>{html.escape(title)}</h1><p>"
            f"{html.escape(text)}</p></body></html>")
    return HTMLResponse(body, status_code=status)


class Guard:
    def __init__(self, app: ASGIApp, access: Access) -> None:
        self.app = app
        self.access = access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        headers = Headers(scope=scope)
        host = host_name(headers.get("host"))
        if host not in ALLOWED_HOSTS:
            await refusal(421, "Wrong address", "This page answers only at 127.0.0.1 or "
                          "localhost.")(scope, receive, secured)
            return
        if scope["method"] == "POST":
            origin = headers.get("origin")
            if origin is not None and host_name(origin.split("//", 1)[-1]) not in ALLOWED_HOSTS:
                await refusal(403, "Refused", "A form from another site cannot act "
                              "here.")(scope, receive, secured)
                return
        if scope["path"] not in OPEN_PATHS:
            cookie = cookie_parser(headers.get("cookie", "")).get(COOKIE)
            if not self.access.valid_session(cookie):
                await refusal(401, "Open maild with `maild ui`",
                              "This page opens only through the link `maild ui` prints or "
                              "opens (it logs you in once). Run `maild ui` in a "
                              "terminal.")(scope, receive, secured)
                return
        await self.app(scope, receive, secured)
