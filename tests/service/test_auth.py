"""`maild auth set|check`: real password commands, env, a real keyring backend plugin.

Every test also checks that the secret never shows up in what the user sees.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SECRET = "hunter2-s3cret-value"

CONFIG = textwrap.dedent(f"""
    [identity]
    name = "Alex Kim"
    email = "alex@school.example.edu"
    timezone = "America/Chicago"

    [[accounts]]
    name = "cmd"
    email = "alex@school.example.edu"
    username = "alex-cmd"
    imap = {{ host = "127.0.0.1" }}
    smtp = {{ host = "127.0.0.1" }}
    password = {{ command = "printf '%s\\\\n' {SECRET}" }}

    [[accounts]]
    name = "envacct"
    email = "alex2@school.example.edu"
    username = "alex-env"
    imap = {{ host = "127.0.0.1" }}
    smtp = {{ host = "127.0.0.1" }}
    password = {{ env = "MAILD_TEST_PASSWORD" }}

    [[accounts]]
    name = "broken"
    email = "alex3@school.example.edu"
    username = "alex-broken"
    imap = {{ host = "127.0.0.1" }}
    smtp = {{ host = "127.0.0.1" }}
    password = {{ command = "echo {SECRET}; echo {SECRET} >&2; exit 3" }}

    [[accounts]]
    name = "kr"
    email = "alex4@school.example.edu"
    username = "alex-kr"
    imap = {{ host = "127.0.0.1" }}
    smtp = {{ host = "127.0.0.1" }}
    password = {{ keyring = "maild" }}
""")

# A real keyring backend, loaded by keyring's own PYTHON_KEYRING_BACKEND mechanism; it
# keeps entries in a file so that separate maild processes share them.
BACKEND = textwrap.dedent("""
    import json, os
    from keyring.backend import KeyringBackend

    class FileKeyring(KeyringBackend):
        priority = 1

        def _load(self):
            try:
                with open(os.environ["TEST_KEYRING_FILE"]) as f:
                    return json.load(f)
            except FileNotFoundError:
                return {}

        def get_password(self, service, username):
            return self._load().get(f"{service}/{username}")

        def set_password(self, service, username, password):
            data = self._load()
            data[f"{service}/{username}"] = password
            with open(os.environ["TEST_KEYRING_FILE"], "w") as f:
                json.dump(data, f)

        def delete_password(self, service, username):
            raise NotImplementedError
""")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(CONFIG)
    return home


def maild(home: Path, *args: str, env: dict[str, str] | None = None, stdin: str = "",
          backend: str = "keyring.backends.fail.Keyring") -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k != "MAILD_TEST_PASSWORD"}
    full.update(PYTHON_KEYRING_BACKEND=backend, **(env or {}))
    done = subprocess.run([sys.executable, "-m", "maild", "--home", str(home), *args],
                          input=stdin, capture_output=True, text=True, env=full,
                          timeout=60, check=False)
    assert SECRET not in done.stdout and SECRET not in done.stderr
    assert "Traceback" not in done.stderr
    return done


def test_check_command_source(home: Path) -> None:
    done = maild(home, "auth", "check", "cmd")
    assert (done.returncode, done.stdout, done.stderr) == (0, "cmd: ok (from command)\n", "")


def test_check_env_source(home: Path) -> None:
    done = maild(home, "auth", "check", "envacct", env={"MAILD_TEST_PASSWORD": SECRET})
    assert (done.returncode, done.stdout) == (0, "envacct: ok (from env)\n")
    missing = maild(home, "auth", "check", "envacct")
    assert missing.returncode == 1
    assert missing.stderr == ("maild: error: environment variable MAILD_TEST_PASSWORD is not "
                              "set (nor a systemd credential of that name)\n")


def test_check_env_from_systemd_credentials_directory(home: Path, tmp_path: Path) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "MAILD_TEST_PASSWORD").write_text(SECRET + "\n")
    done = maild(home, "auth", "check", "envacct", env={"CREDENTIALS_DIRECTORY": str(creds)})
    assert (done.returncode, done.stdout) == (0, "envacct: ok (from env)\n")


def test_failing_command_that_echoes_the_secret_does_not_leak_it(home: Path) -> None:
    done = maild(home, "auth", "check", "broken")
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == "maild: error: password command 'echo' failed with exit code 3\n"


def test_check_all_accounts_reports_each(home: Path) -> None:
    done = maild(home, "auth", "check", env={"MAILD_TEST_PASSWORD": SECRET})
    assert done.returncode == 1
    assert done.stdout == "cmd: ok (from command)\nenvacct: ok (from env)\n"
    errors = done.stderr.splitlines()
    assert errors[0] == "broken: problem: password command 'echo' failed with exit code 3"
    assert errors[1].startswith("kr: problem: no usable keyring backend")
    assert errors[2] == "maild: error: no password for broken, kr"


def test_set_refuses_accounts_that_do_not_use_the_keyring(home: Path) -> None:
    done = maild(home, "auth", "set", "cmd", "--stdin", stdin=SECRET + "\n")
    assert done.returncode == 2
    assert done.stderr.startswith(
        "maild: error: account 'cmd' takes its password from the command 'printf', "
        "not the keyring; to use the keyring, set password = {keyring = \"maild\"}")
    envacct = maild(home, "auth", "set", "envacct", "--stdin", stdin=SECRET + "\n")
    assert "from the environment variable MAILD_TEST_PASSWORD, not the keyring" in envacct.stderr


def test_set_without_a_keyring_backend_explains_the_alternatives(home: Path) -> None:
    done = maild(home, "auth", "set", "kr", "--stdin", stdin=SECRET + "\n")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("maild: error: no usable keyring backend on this machine")
    assert "command" in lines[0] and "env" in lines[0]


def test_set_then_check_with_a_real_backend(home: Path, tmp_path: Path) -> None:
    plugin = tmp_path / "plugin"
    plugin.mkdir()
    (plugin / "testkeyring.py").write_text(BACKEND)
    store = tmp_path / "keyring.json"
    env = {"PYTHONPATH": str(plugin), "TEST_KEYRING_FILE": str(store)}
    backend = "testkeyring.FileKeyring"

    done = maild(home, "auth", "set", "kr", "--stdin", env=env, backend=backend,
                 stdin=SECRET + "\nsecond line is ignored\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "stored the password for kr (alex-kr) in the keyring (FileKeyring)\n"
    assert store.read_text() == f'{{"maild/alex-kr": "{SECRET}"}}'

    checked = maild(home, "auth", "check", "kr", env=env, backend=backend)
    assert (checked.returncode, checked.stdout) == (0, "kr: ok (from keyring)\n")

    empty = maild(home, "auth", "set", "kr", "--stdin", env=env, backend=backend, stdin="\n")
    assert empty.returncode == 2
    assert "empty" in empty.stderr


def test_unknown_account_is_named(home: Path) -> None:
    done = maild(home, "auth", "check", "nope")
    assert done.returncode == 2
    assert "no account named 'nope'" in done.stderr


def test_set_prompts_with_hidden_input(home: Path) -> None:
    import keyring
    from click.testing import CliRunner
    from keyring.backend import KeyringBackend

    from maild.cli import cli

    entries: dict[str, str] = {}

    class MemoryKeyring(KeyringBackend):
        priority = 1  # type: ignore[assignment]

        def get_password(self, service: str, username: str) -> str | None:
            return entries.get(f"{service}/{username}")

        def set_password(self, service: str, username: str, password: str) -> None:
            entries[f"{service}/{username}"] = password

        def delete_password(self, service: str, username: str) -> None:
            raise NotImplementedError

    previous = keyring.get_keyring()
    keyring.set_keyring(MemoryKeyring())
    try:
        result = CliRunner().invoke(cli, ["--home", str(home), "auth", "set", "kr"],
                                    input=f"{SECRET}\n{SECRET}\n")
    finally:
        keyring.set_keyring(previous)
    assert result.exit_code == 0, result.output
    assert "Password for alex-kr:" in result.output
    assert "Repeat for confirmation:" in result.output
    assert SECRET not in result.output
    assert entries == {"maild/alex-kr": SECRET}
