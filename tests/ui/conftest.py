"""The page under test: a real server process (`maild ui` or `maild run`) and a real
headless Chromium (Debian's package) driven by Playwright.

Playwright's own browser download cannot reach its host here, so the browser is the
system's ``chromium`` (``tests/bootstrap.sh`` installs it). A missing browser skips
these tests on a developer machine and fails them under ``CI=true``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from maild.sandbox.base import ImapSandbox
from maild.sandbox.smtp import SmtpSandbox
from tests.conftest import _unavailable
from tests.mail.conftest import PW_ENV, World

if TYPE_CHECKING:
    from playwright.sync_api import Browser

CHROMIUM_ENV = "MAILD_CHROMIUM"


def chromium_path() -> str | None:
    for candidate in (os.environ.get(CHROMIUM_ENV), "chromium", "chromium-browser"):
        if candidate and (found := shutil.which(candidate)):
            return found
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One browser per module, not per session: Playwright's sync API keeps an event loop
    running in this thread while it is started, and the other modules' tests (which a
    pytest-xdist worker runs in between) call asyncio.run."""
    path = chromium_path()
    if path is None:
        _unavailable("chromium is not installed (apt-get install chromium; or set "
                     f"{CHROMIUM_ENV})")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        _unavailable(f"playwright is not installed: {exc}")
    with sync_playwright() as p:
        # --no-sandbox: the tests may run as root (CI), where Chromium's sandbox refuses.
        browser = p.chromium.launch(executable_path=path, headless=True,
                                    args=["--no-sandbox", "--disable-gpu"])
        yield browser
        browser.close()


@dataclass
class Served:
    """A server process of the page and how to reach it."""

    proc: subprocess.Popen[str]
    home: Path
    env: dict[str, str]

    def base(self) -> str:
        return json.loads((self.home / "ui.json").read_text())["url"].rstrip("/")

    def login_url(self) -> str:
        """A fresh one-time URL, from `maild ui --print-url` as a user's script would."""
        out = subprocess.run([sys.executable, "-m", "maild", "--home", str(self.home), "ui",
                              "--print-url"], env=self.env, capture_output=True, text=True,
                             timeout=60)
        assert out.returncode == 0, out.stderr
        [line] = out.stdout.splitlines()
        return line

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.stderr.read() if self.proc.stderr else ""


def _env(password: str | None, now: str) -> dict[str, str]:
    env = {**os.environ, "MAILD_NOW": now}
    if password is not None:
        env[PW_ENV] = password
    return env


def wait_for_file(path: Path, proc: subprocess.Popen[str], timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if path.exists():
            return
        if proc.poll() is not None:
            err = proc.stderr.read() if proc.stderr else ""
            raise AssertionError(f"the server exited ({proc.returncode}): {err}")
        time.sleep(0.05)
    raise AssertionError(f"{path} did not appear within {timeout}s")


Start = Callable[..., Served]


@pytest.fixture
def start_ui() -> Iterator[Start]:
    """Start `maild ui --print-url` (the foreground server) or `maild run` for a home."""
    started: list[Served] = []

    def start(home: Path, now: str, *, daemon: bool = False,
              password: str | None = None) -> Served:
        env = _env(password, now)
        if daemon:
            argv = [sys.executable, "-m", "maild", "--home", str(home), "run"]
        else:
            argv = [sys.executable, "-m", "maild", "--home", str(home), "ui", "--print-url"]
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        served = Served(proc, home, env)
        started.append(served)
        if not daemon:
            # The first line is the URL: the page is being served once it is printed.
            assert proc.stdout is not None
            line = proc.stdout.readline().strip()
            assert line.startswith("http://127.0.0.1:"), (line, served.stop())
        wait_for_file(home / "ui.json", proc)
        return served

    yield start
    for served in started:
        served.stop()


@pytest.fixture
def season_world(tmp_path: Path, imap_server: ImapSandbox, smtp_for_ui: SmtpSandbox,
                 imap_user: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """A World (real Dovecot and SMTP) with a CV to attach to a materials packet."""
    from tests.mail.worlds import build_world

    monkeypatch.setenv(PW_ENV, imap_server.password)
    cv = tmp_path / "cv.pdf"
    cv.write_bytes(b"%PDF-1.4\n% a one-page CV\n")
    # The sandbox's config lets the page take any free port ([ui] port = 0).
    extra = f'\n[attachments]\ncv = "{cv}"\n'
    world = build_world(tmp_path, imap_server, smtp_for_ui, imap_user, extra=extra)
    yield world
    world.store.close()


@pytest.fixture
def smtp_for_ui(imap_server: ImapSandbox, imap_user: str) -> Iterator[SmtpSandbox]:
    with SmtpSandbox(username=imap_user, password=imap_server.password) as server:
        yield server


def cookie_header(context: Any) -> str:
    return "; ".join(f"{c['name']}={c['value']}" for c in context.cookies())
