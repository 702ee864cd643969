"""Who may open the page: one-time tokens, signed sessions, CSRF tokens, the URL file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from maild.web.access import (
    SESSION_SECONDS,
    TOKEN_SECONDS,
    Access,
    Served,
    clear_served,
    find_served,
    write_served,
)
from maild.web.guard import host_name


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_token_opens_the_page_once(tmp_path: Path) -> None:
    access = Access(tmp_path)
    token = access.issue_token()
    other = access.issue_token()
    assert token != other and len(token) >= 40
    # Only hashes are kept, in a file only the user can read.
    stored = (tmp_path / "ui-tokens.json").read_text()
    assert token not in stored and other not in stored
    assert mode(tmp_path / "ui-tokens.json") == 0o600
    assert access.redeem(token)
    assert not access.redeem(token)
    # Another process (the daemon) sees the same tokens through the file.
    assert Access(tmp_path).redeem(other)
    assert not access.redeem("") and not access.redeem("x" * 1000)


def test_a_token_expires(tmp_path: Path) -> None:
    clock = Clock()
    access = Access(tmp_path, clock=clock)
    token = access.issue_token()
    clock.now += TOKEN_SECONDS + 1
    assert not access.redeem(token)


def test_sessions_are_signed_and_expire(tmp_path: Path) -> None:
    clock = Clock()
    access = Access(tmp_path, clock=clock)
    cookie = access.new_session()
    assert access.valid_session(cookie)
    assert mode(tmp_path / "ui-secret") == 0o600
    # The daemon and `maild ui` share the key: each accepts the other's sessions.
    assert Access(tmp_path, clock=clock).valid_session(cookie)
    expires, nonce, mac = cookie.split(".")
    assert not access.valid_session(f"{int(expires) + 9999}.{nonce}.{mac}")
    assert not access.valid_session(f"{expires}.{nonce}.{'0' * len(mac)}")
    assert not access.valid_session(None) and not access.valid_session("garbage")
    # Another home's key signs nothing here.
    elsewhere = Access(tmp_path / "other", clock=clock)
    assert not access.valid_session(elsewhere.new_session())
    clock.now += SESSION_SECONDS + 1
    assert not access.valid_session(cookie)


def test_csrf_tokens_belong_to_one_session(tmp_path: Path) -> None:
    access = Access(tmp_path)
    one, two = access.new_session(), access.new_session()
    token = access.csrf_token(one)
    assert access.valid_csrf(one, token)
    assert not access.valid_csrf(two, token)
    assert not access.valid_csrf(one, None) and not access.valid_csrf(None, token)
    assert not access.valid_csrf(one, token[:-1] + ("0" if token[-1] != "0" else "1"))


def test_the_url_file_is_private_and_a_dead_server_s_is_ignored(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
        write_served(tmp_path, Served(url=url, pid=os.getpid(), by="maild ui"))
        assert mode(tmp_path / "ui.json") == 0o600
        assert find_served(tmp_path) == Served(url=url, pid=os.getpid(), by="maild ui")
        # Someone else's file is not removed by us.
        clear_served(tmp_path, os.getpid() + 1)
        assert (tmp_path / "ui.json").exists()
    # Nothing listens any more: a file left behind by a crash means no page.
    assert find_served(tmp_path) is None
    clear_served(tmp_path, os.getpid())
    assert not (tmp_path / "ui.json").exists()


def test_host_names() -> None:
    assert host_name("127.0.0.1:8731") == "127.0.0.1"
    assert host_name("LOCALHOST") == "localhost"
    assert host_name("attacker.example:8731") == "attacker.example"
    assert host_name("[::1]:8731") == "[::1]"
    assert host_name("") is None
