"""Secrets for mail accounts: fetched from a command, the environment, or the keyring.

Secrets live only in memory. Error messages name the *source* (the keyring entry, the
variable, the command's program) and never the secret or the command's output.
"""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
from collections.abc import Mapping
from pathlib import Path

from maild.config import Account, PasswordSource
from maild.errors import CredentialError

log = logging.getLogger(__name__)

KEYRING_SERVICE = "maild"
COMMAND_TIMEOUT = 60.0
NO_KEYRING_HELP = (
    "no usable keyring backend on this machine (common on headless servers); use "
    "password = {command = \"pass show mail/school\"} (any program that prints the password) "
    "or password = {env = \"MAILD_PASSWORD\"} (also read from systemd's $CREDENTIALS_DIRECTORY) "
    "in config.toml instead"
)


def command_program(command: str) -> str:
    """The program a password command runs (its first word): the only part safe to print.

    The arguments may carry the secret itself ("echo hunter2"), so messages, ``maild
    config show`` and ``maild doctor`` name the program alone. Never raises, even for a
    command the shell would reject (an unclosed quote).
    """
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    return words[0] if words else "(empty)"


def from_command(command: str, env: Mapping[str, str]) -> str:
    """Run ``command`` through the shell and take the first line of its output."""
    try:
        done = subprocess.run(
            command, shell=True, capture_output=True, timeout=COMMAND_TIMEOUT,
            env=dict(env), stdin=subprocess.DEVNULL, check=False,
        )
    except subprocess.TimeoutExpired:
        raise CredentialError(
            f"password command {command_program(command)!r} did not finish in "
            f"{COMMAND_TIMEOUT:.0f}s"
        ) from None
    if done.returncode != 0:
        # Neither stderr nor stdout is reported: either may echo the secret (a failing
        # `echo`), so the error names the program and its exit code only.
        raise CredentialError(
            f"password command {command_program(command)!r} failed with exit code "
            f"{done.returncode}"
        )
    lines = done.stdout.decode("utf-8", "replace").splitlines()
    if not lines or not lines[0]:
        raise CredentialError(f"password command {command_program(command)!r} printed nothing")
    return lines[0]


def from_env(name: str, env: Mapping[str, str]) -> str:
    """The variable ``name``, or systemd's credential file of that name."""
    value = env.get(name)
    if value:
        return value
    creds_dir = env.get("CREDENTIALS_DIRECTORY")
    if creds_dir:
        path = Path(creds_dir) / name
        try:
            return path.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError:
            pass
    raise CredentialError(
        f"environment variable {name} is not set (nor a systemd credential of that name)"
    )


def _keyring() -> object:
    try:
        import keyring
        from keyring.backends import fail
    except Exception:  # a broken keyring install is "no keyring"
        raise CredentialError(NO_KEYRING_HELP) from None
    backend = keyring.get_keyring()
    if isinstance(backend, fail.Keyring) or getattr(backend, "priority", 1) <= 0:
        raise CredentialError(NO_KEYRING_HELP)
    return keyring


def keyring_available() -> tuple[bool, str]:
    """Whether a keyring backend works here, and its name or the reason it doesn't."""
    try:
        kr = _keyring()
    except CredentialError as exc:
        return False, exc.message
    return True, type(kr.get_keyring()).__name__  # type: ignore[attr-defined]


def from_keyring(service: str, username: str) -> str:
    kr = _keyring()
    try:
        value = kr.get_password(service, username)  # type: ignore[attr-defined]
    except Exception as exc:  # backends raise anything; translate all
        raise CredentialError(
            f"keyring lookup for {service}/{username} failed: {type(exc).__name__}"
        ) from None
    if not value:
        raise CredentialError(
            f"no password in the keyring for {service}/{username}; run `maild auth set`"
        )
    return str(value)


def store_in_keyring(service: str, username: str, secret: str) -> None:
    kr = _keyring()
    try:
        kr.set_password(service, username, secret)  # type: ignore[attr-defined]
    except Exception as exc:
        raise CredentialError(
            f"could not store the password in the keyring ({type(exc).__name__}); "
            + NO_KEYRING_HELP
        ) from None


def resolve(source: PasswordSource, username: str, env: Mapping[str, str]) -> str:
    """The secret for one account, in the order command, env, keyring."""
    if source.command:
        return from_command(source.command, env)
    if source.env:
        return from_env(source.env, env)
    assert source.keyring is not None
    return from_keyring(source.keyring, username)


def secret_for(account: Account, env: Mapping[str, str] | None = None) -> str:
    return resolve(account.password, account.username, os.environ if env is None else env)
