"""Secrets for mail accounts: fetched from a command, the environment, or the keyring,
and for OAuth2 accounts the access tokens made from a refresh token kept the same way.

Secrets live only in memory. Error messages name the *source* (the keyring entry, the
variable, the command's program) and never the secret or the command's output.

An ``auth = "oauth2"`` account's ``password`` source holds its refresh token (by
default the keyring entry ``maild/oauth2:USERNAME``, written by ``maild auth login``).
``Secrets`` turns it into access tokens: cached in memory, renewed shortly before they
expire, and renewed once more when a server refuses one (``TokenSecret.renewed``). A
refresh token the provider refused is not sent again until it changes (the user signed
in anew), and the user is told once, through ``on_reauth``, to run ``maild auth login``.
A rotated refresh token goes back to the keyring; a command or variable cannot be
written, so there it is kept in memory for as long as the process lives.
"""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
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


def from_keyring(service: str, username: str, missing: str = "") -> str:
    kr = _keyring()
    try:
        value = kr.get_password(service, username)  # type: ignore[attr-defined]
    except Exception as exc:  # backends raise anything; translate all
        raise CredentialError(
            f"keyring lookup for {service}/{username} failed: {type(exc).__name__}"
        ) from None
    if not value:
        raise CredentialError(
            missing or f"no password in the keyring for {service}/{username}; run `maild auth set`"
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


def delete_from_keyring(service: str, username: str) -> bool:
    """Remove one entry; False when there was none."""
    kr = _keyring()
    try:
        if kr.get_password(service, username) is None:  # type: ignore[attr-defined]
            return False
        kr.delete_password(service, username)  # type: ignore[attr-defined]
    except Exception as exc:
        raise CredentialError(
            f"could not remove {service}/{username} from the keyring ({type(exc).__name__})"
        ) from None
    return True


# -- OAuth2 ------------------------------------------------------------------------------


def refresh_token_key(account: Account) -> str:
    """The keyring username under which an account's refresh token is kept."""
    return f"oauth2:{account.username}"


def refresh_token_source(account: Account, env: Mapping[str, str]) -> str:
    """Where the refresh token of ``account`` is, in words safe to print."""
    source = account.password
    if source.keyring:
        return f"the keyring ({source.keyring}/{refresh_token_key(account)})"
    if source.command:
        return f"the command {command_program(source.command)!r}"
    return f"the environment variable {source.env}"


def stored_refresh_token(account: Account, env: Mapping[str, str]) -> str:
    source = account.password
    if source.keyring:
        return from_keyring(source.keyring, refresh_token_key(account), missing=(
            f"not signed in yet (nothing in the keyring under {source.keyring}/"
            f"{refresh_token_key(account)}); run `maild auth login {account.name}`"))
    return resolve(source, account.username, env)


def store_refresh_token(account: Account, token: str) -> bool:
    """Keep a (new) refresh token where maild reads it; False if that is not writable."""
    source = account.password
    if not source.keyring:
        return False
    store_in_keyring(source.keyring, refresh_token_key(account), token)
    return True


@dataclass(frozen=True)
class AccessToken:
    """An access token and what came with it. ``value`` is a secret: no repr."""

    value: str = field(repr=False)
    obtained_at: datetime
    expires_at: datetime | None
    scopes: tuple[str, ...]
    account: str | None  # the account the provider's id_token named, if any

    def remaining(self, now: datetime) -> timedelta | None:
        return None if self.expires_at is None else self.expires_at - now


# Renew this long before expiry (or a quarter of the lifetime for short-lived tokens),
# so that a login never starts with a token about to run out.
RENEW_MARGIN = timedelta(minutes=5)

ReauthHook = Callable[[Account, str], None]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Secrets:
    """The secrets of a process's accounts: passwords, and OAuth2 access tokens.

    One instance is shared by the threads of the daemon (watchers, sender): refreshing
    is serialised per account, so two threads never spend the same rotated refresh
    token. ``now`` is the clock token lifetimes are measured on.
    """

    def __init__(self, env: Mapping[str, str] | None = None, *,
                 now: Callable[[], datetime] = _utc_now,
                 on_reauth: ReauthHook | None = None) -> None:
        self.env: Mapping[str, str] = os.environ if env is None else env
        self.now = now
        self.on_reauth = on_reauth
        self._lock = threading.Lock()
        self._account_locks: dict[str, threading.Lock] = {}
        self._tokens: dict[str, AccessToken] = {}
        # account -> (the refresh token read from its source, the one to use instead):
        # a rotated token maild could not write back.
        self._rotated: dict[str, tuple[str, str]] = {}
        # account -> the refresh token the provider refused (not to be sent again).
        self._refused: dict[str, str] = {}
        self._told: set[str] = set()
        self.refreshes = 0

    def get(self, account: Account) -> Secret:
        """What to log in with: the password, or for OAuth2 a renewable access token."""
        if account.auth == "oauth2":
            return TokenSecret(self, account)
        return resolve(account.password, account.username, self.env)

    def _account_lock(self, account: Account) -> threading.Lock:
        with self._lock:
            return self._account_locks.setdefault(account.name, threading.Lock())

    def cached(self, account: Account) -> AccessToken | None:
        return self._tokens.get(account.name)

    def access_token(self, account: Account, *, force: bool = False) -> AccessToken:
        """A valid access token: the cached one, or a fresh one when due (or forced)."""
        with self._account_lock(account):
            cached = self._tokens.get(account.name)
            if cached is not None and not force and not self._due(cached):
                return cached
            return self._renew(account)

    def forget(self, account: Account) -> None:
        """Drop the cached access token (after a new sign-in, say)."""
        with self._account_lock(account):
            self._tokens.pop(account.name, None)

    def _due(self, token: AccessToken) -> bool:
        if token.expires_at is None:
            return False
        lifetime = token.expires_at - token.obtained_at
        margin = min(RENEW_MARGIN, lifetime / 4)
        return self.now() >= token.expires_at - margin

    def _renew(self, account: Account) -> AccessToken:
        from maild.adapters import oauth

        client = oauth.client_for(account)
        try:
            stored = stored_refresh_token(account, self.env)
        except CredentialError as exc:
            # Never signed in, or the keyring is gone: the daemon cannot fix that alone.
            self.tell(account, f"{account.name}: {exc.message}")
            raise
        rotated = self._rotated.get(account.name)
        current = rotated[1] if rotated is not None and rotated[0] == stored else stored
        if self._refused.get(account.name) == current:
            # Sending it again would only be refused again (and look like an attack).
            raise oauth.SignInExpiredError(self._expired_text(account, client.label, ""))
        try:
            grant = oauth.refresh(client, current)
        except oauth.SignInExpiredError as exc:
            self._refused[account.name] = current
            self._tokens.pop(account.name, None)
            text = self._expired_text(account, client.label, exc.message)
            self.tell(account, text)
            raise oauth.SignInExpiredError(text) from None
        if grant.refresh_token and grant.refresh_token != current:
            if store_refresh_token(account, grant.refresh_token):
                self._rotated.pop(account.name, None)
            else:
                self._rotated[account.name] = (stored, grant.refresh_token)
        now = self.now()
        token = AccessToken(
            value=grant.access_token, obtained_at=now,
            expires_at=now + timedelta(seconds=grant.expires_in)
            if grant.expires_in is not None else None,
            scopes=grant.scopes, account=grant.account)
        self._tokens[account.name] = token
        self._refused.pop(account.name, None)
        self.refreshes += 1
        log.info("%s: new access token from %s, valid until %s", account.name, client.host,
                 f"{token.expires_at:%Y-%m-%d %H:%M:%S %Z}" if token.expires_at else "revoked")
        return token

    @staticmethod
    def _expired_text(account: Account, label: str, why: str) -> str:
        because = f" ({why})" if why else ""
        return (f"{account.name}: {label} no longer accepts maild's sign-in{because}; "
                f"run `maild auth login {account.name}` to sign in again")

    def accepted(self, account: Account) -> None:
        """A server took the account's token: whatever went wrong before is over."""
        with self._lock:
            self._told.discard(account.name)

    def tell(self, account: Account, text: str) -> None:
        """Tell the user that ``account`` needs a new sign-in: once, until a server has
        accepted a token again (so a retrying daemon does not repeat itself)."""
        with self._lock:
            if account.name in self._told:
                return
            self._told.add(account.name)
        log.warning("%s", text)
        if self.on_reauth is not None:
            try:
                self.on_reauth(account, text)
            except Exception:
                log.exception("could not tell the user that %s needs a new sign-in",
                              account.name)


class TokenSecret:
    """An OAuth2 account's access token, renewable: what the IMAP and SMTP adapters take.

    ``current()`` before logging in; after the server refused it, ``renewed()`` once;
    if the server refuses the renewed token too, ``rejected(words)`` tells the user and
    gives the hint the adapter puts in its error; ``accepted()`` after a login worked.
    """

    def __init__(self, secrets: Secrets, account: Account) -> None:
        self.secrets = secrets
        self.account = account

    def current(self) -> str:
        return self.secrets.access_token(self.account).value

    def renewed(self) -> str:
        log.info("%s: the server refused the access token; renewing it once",
                 self.account.name)
        return self.secrets.access_token(self.account, force=True).value

    def accepted(self) -> None:
        self.secrets.accepted(self.account)

    def rejected(self, words: str) -> str:
        signed_in = self.secrets.cached(self.account)
        who = signed_in.account if signed_in is not None else None
        mismatch = (f" (signed in as {who}, not {self.account.username})"
                    if who and who not in (self.account.username.lower(),
                                           self.account.email.lower()) else "")
        hint = (f"a renewed access token was refused too{mismatch}; run "
                f"`maild auth login {self.account.name}`")
        self.secrets.tell(self.account, f"{self.account.name}: {hint} and sign in with this "
                                        f"account ({words})")
        return hint

    def __repr__(self) -> str:
        return f"TokenSecret({self.account.name!r})"


# What an adapter logs in with: a password (or a token from a command), or a renewable
# OAuth2 access token.
Secret = str | TokenSecret


def secret_for(account: Account, env: Mapping[str, str] | None = None) -> Secret:
    """The account's secret for a one-shot use (a long-lived process shares a Secrets)."""
    return Secrets(env).get(account)
