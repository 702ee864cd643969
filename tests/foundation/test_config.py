"""config.toml: the example loads, and every kind of mistake gives one precise line."""

from __future__ import annotations

from pathlib import Path

import pytest

from maild.config import load
from maild.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
GOOD = """
[identity]
name = "Alex Kim"
email = "alex@school.example.edu"
timezone = "America/New_York"

[[accounts]]
name = "school"
email = "alex@school.example.edu"
imap = { host = "127.0.0.1", port = 1143, security = "none" }
smtp = { host = "127.0.0.1", security = "starttls" }
password = { env = "PW" }
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_example_config_loads_and_documents_every_key() -> None:
    config = load(ROOT / "config" / "maild.example.toml")
    assert [a.name for a in config.accounts] == ["school", "personal"]
    assert config.accounts[1].imap.port == 993  # default for tls
    assert config.accounts[0].smtp.security == "starttls"
    assert config.playbooks["cold"]["parallel"] == 3
    assert "cold" in config.playbooks
    text = (ROOT / "config" / "maild.example.toml").read_text()
    for key in ("name", "email", "role", "timezone", "username", "save_sent_copy",
                "window", "approval", "auto_approve", "rate_per_hour", "daily_cap", "ca_file",
                "auth", "keyring", "command", "env", "digest", "folders", "mirror_drafts",
                "reconnect_min", "reconnect_max", "probe_every"):
        assert f"{key} " in text or f"{key} =" in text or f"{{ {key}" in text, key


def test_defaults_fill_in(tmp_path: Path) -> None:
    config = load(write(tmp_path, GOOD))
    account = config.account(None)
    assert account.username == "alex@school.example.edu"
    assert account.smtp.port == 587
    assert account.password.env == "PW"
    assert config.sending.window_start.hour == 8
    assert config.sending.days == ("mon", "tue", "wed", "thu", "fri")


@pytest.mark.parametrize(
    ("change", "key", "problem"),
    [
        (("port = 1143", "port = 99999"), "accounts[0].imap.port", "between 1 and 65535"),
        (("port = 1143", 'port = "x"'), "accounts[0].imap.port", "must be an integer"),
        (('security = "none"', 'security = "ssl"'), "accounts[0].imap.security", "one of"),
        (('password = { env = "PW" }', 'password = "hunter2"'), "accounts[0].password",
         "never stored"),
        (('password = { env = "PW" }', 'password = { env = "A", command = "b" }'),
         "accounts[0].password", "exactly one"),
        (('timezone = "America/New_York"', 'timezone = "Mars/Olympus"'),
         "identity.timezone", "not a known time zone"),
        (('name = "Alex Kim"', 'name = "Alex Kim"\nnmae = "x"'), "identity.nmae",
         "unknown key"),
        (('email = "alex@school.example.edu"\ntimezone', 'email = "not-an-address"\ntimezone'),
         "identity.email", "not an email address"),
    ],
)
def test_bad_values_name_key_and_problem(tmp_path: Path, change: tuple[str, str], key: str,
                                         problem: str) -> None:
    path = write(tmp_path, GOOD.replace(*change, 1))
    with pytest.raises(ConfigError) as info:
        load(path)
    assert info.value.key == key
    assert problem in str(info.value)
    assert "\n" not in str(info.value)
    assert "hunter2" not in str(info.value)


def test_sending_window_checked(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + '\n[sending]\nwindow = "17:00-08:00"\n')
    with pytest.raises(ConfigError, match=r"sending\.window"):
        load(path)


def test_unknown_playbook_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + "\n[playbooks.colld]\nnudge_days = 3\n")
    with pytest.raises(ConfigError, match=r"playbooks\.colld"):
        load(path)


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="maild init"):
        load(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load(write(tmp_path, "[identity\n"))
    (tmp_path / "bin.toml").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match="UTF-8"):
        load(tmp_path / "bin.toml")
