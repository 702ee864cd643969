"""Who may open the local page: one-time tokens, session cookies, CSRF tokens, and the
file that says where the page is served.

The page listens on 127.0.0.1, but any program of any local user, and any web page
the browser shows, can send requests there. So:

* ``maild ui`` issues a random one-time token (kept only as its SHA-256, in a file of
  MAILD_HOME readable by the user alone) and opens the URL carrying it; the server
  exchanges it once, within a few minutes, for a session cookie and forgets it;
* the cookie is HttpOnly and SameSite=Strict, and signed with a key in MAILD_HOME
  (mode 0600), so the daemon and a foreground ``maild ui`` accept each other's
  sessions and a restart does not log the user out;
* every form carries a CSRF token derived from the session (HMAC), checked on POST.

Tokens and sessions run on the real clock, never on MAILD_NOW: scripting "what
happens on date X" must not make a token outlive its few minutes.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import hmac
import json
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from maild import paths
from maild.errors import MaildError

log = logging.getLogger(__name__)

TOKEN_SECONDS = 10 * 60.0
SESSION_SECONDS = 12 * 3600.0
COOKIE = "maild_session"
CSRF_FIELD = "csrf"

Clock = Callable[[], float]


class AccessError(MaildError):
    """The page's private files cannot be read or written."""


def _write_private(path: Path, data: bytes) -> None:
    """Replace ``path`` atomically with a file only the user can read."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[int]:
    """An exclusive lock on ``path`` (created 0600), for read-modify-write."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
    finally:
        os.close(fd)


def _mac(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


class Access:
    """The page's gatekeeper for one MAILD_HOME."""

    def __init__(self, home: Path, clock: Clock = time.time) -> None:
        self.home = home
        self.clock = clock
        self._key: bytes | None = None

    # -- the signing key ---------------------------------------------------------------

    @property
    def key(self) -> bytes:
        if self._key is None:
            self._key = self._load_key()
        return self._key

    def _load_key(self) -> bytes:
        path = paths.ui_secret_path(self.home)
        paths.ensure_home(self.home)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        except OSError as exc:
            raise AccessError(f"cannot create {path}: {exc.strerror}") from None
        else:
            try:
                os.write(fd, secrets.token_hex(32).encode("ascii"))
                os.fsync(fd)
            finally:
                os.close(fd)
        try:
            text = path.read_text(encoding="ascii").strip()
        except OSError as exc:
            raise AccessError(f"cannot read {path}: {exc.strerror}") from None
        if len(text) < 32:
            # Being written by another process this very moment: read it once more.
            time.sleep(0.05)
            text = path.read_text(encoding="ascii").strip()
        return text.encode("ascii")

    # -- one-time tokens ---------------------------------------------------------------

    def issue_token(self) -> str:
        """A new one-time token for the URL that ``maild ui`` opens."""
        token = secrets.token_urlsafe(32)
        digest = hashlib.sha256(token.encode("ascii")).hexdigest()
        now = self.clock()
        self._update_tokens(lambda kept: [*kept, [digest, now + TOKEN_SECONDS]])
        return token

    def redeem(self, token: str) -> bool:
        """Whether ``token`` was issued and unused; it cannot be used again either way."""
        if not token or len(token) > 200:
            return False
        digest = hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()
        found = False

        def drop(kept: list[list[Any]]) -> list[list[Any]]:
            nonlocal found
            rest = []
            for entry in kept:
                if hmac.compare_digest(str(entry[0]), digest):
                    found = True
                else:
                    rest.append(entry)
            return rest

        self._update_tokens(drop)
        return found

    def _update_tokens(self, change: Callable[[list[list[Any]]], list[list[Any]]]) -> None:
        path = paths.ui_tokens_path(self.home)
        paths.ensure_home(self.home)
        try:
            with _locked(path.with_name(path.name + ".lock")):
                try:
                    stored = json.loads(path.read_text(encoding="utf-8") or "[]")
                except FileNotFoundError:
                    stored = []
                except ValueError:
                    log.warning("%s is damaged; its tokens are dropped", path)
                    stored = []
                now = self.clock()
                live = [e for e in stored if isinstance(e, list) and len(e) == 2
                        and isinstance(e[1], int | float) and e[1] > now]
                _write_private(path, json.dumps(change(live)).encode("utf-8"))
        except OSError as exc:
            raise AccessError(f"cannot update {path}: {exc.strerror}") from None

    # -- sessions and CSRF ---------------------------------------------------------------

    def new_session(self) -> str:
        expires = int(self.clock() + SESSION_SECONDS)
        nonce = secrets.token_hex(16)
        return f"{expires}.{nonce}.{_mac(self.key, f'session:{expires}.{nonce}')}"

    def valid_session(self, cookie: str | None) -> bool:
        if not cookie or cookie.count(".") != 2 or len(cookie) > 200:
            return False
        expires, nonce, mac = cookie.split(".")
        if not expires.isdigit() or int(expires) < self.clock():
            return False
        return hmac.compare_digest(mac, _mac(self.key, f"session:{expires}.{nonce}"))

    def csrf_token(self, cookie: str) -> str:
        return _mac(self.key, f"csrf:{cookie}")

    def valid_csrf(self, cookie: str | None, token: str | None) -> bool:
        if not cookie or not token:
            return False
        return hmac.compare_digest(token, self.csrf_token(cookie))


# -- where the page is served ------------------------------------------------------------


@dataclass(frozen=True)
class Served:
    """The page being served right now: its base URL, the server's pid, and by whom."""

    url: str
    pid: int
    by: str  # "daemon" or "maild ui"


def write_served(home: Path, served: Served) -> None:
    data = {"url": served.url, "pid": served.pid, "by": served.by}
    _write_private(paths.ui_url_path(home), json.dumps(data).encode("utf-8"))


def clear_served(home: Path, pid: int) -> None:
    """Remove the URL file if it is still this process's."""
    path = paths.ui_url_path(home)
    current = _read(path)
    if current is not None and current.pid == pid:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _read(path: Path) -> Served | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Served(url=str(data["url"]), pid=int(data["pid"]), by=str(data["by"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    return True


def _listening(url: str) -> bool:
    host_port = url.split("//", 1)[-1].split("/", 1)[0]
    host, _, port = host_port.rpartition(":")
    if host not in ("127.0.0.1", "localhost") or not port.isdigit():
        return False
    try:
        with socket.create_connection(("127.0.0.1", int(port)), timeout=1.0):
            return True
    except OSError:
        return False


def find_served(home: Path) -> Served | None:
    """The page served for ``home`` now, or None (a file left by a dead server is old)."""
    served = _read(paths.ui_url_path(home))
    if served is None or not _alive(served.pid) or not _listening(served.url):
        return None
    return served


def login_url(base: str, token: str) -> str:
    return f"{base.rstrip('/')}/login?token={token}"
