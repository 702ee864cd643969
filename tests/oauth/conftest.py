"""Fixtures of the OAuth2 tests: the sandbox identity provider, a Dovecot and an SMTP
server that check its tokens, a file keyring, and config for an OAuth2 account.

The provider, Dovecot and SMTP servers are started once per session (per xdist worker);
each test gets the provider on the real clock with the default token lifetime, and a
fresh username, hence a fresh mailbox and tokens of its own. The keyring is a file in
the test's temporary directory, never the user's own.
"""

from __future__ import annotations

import sys
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import keyring
import pytest

from maild.adapters import credentials, oauth
from maild.config import Account, parse
from maild.sandbox.base import TokenCheck
from maild.sandbox.dovecot import DovecotServer
from maild.sandbox.oauth import DEFAULT_ACCESS_LIFETIME, INTROSPECTION_CLIENT, OAuthSandbox
from maild.sandbox.smtp import SmtpSandbox
from tests.conftest import _unavailable
from tests.oauth.oauth_browser import PASSWORD_ENV, USER_ENV, sign_in
from tests.oauth.oauth_keyring import FILE_ENV, FileKeyring

# maild subprocesses load the keyring backend as oauth_keyring, from this directory.
HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

IDENTITY = """\
[identity]
name = "Alex Kim"
email = "alex@school.example.edu"
role = "third-year medical student"
institution = "Example School of Medicine"
timezone = "America/New_York"
"""

OAUTH_ACCOUNT = """
[[accounts]]
name = "school"
email = "alex@school.example.edu"
username = "{user}"
auth = "oauth2"
imap = {{ host = "{imap_host}", port = {imap_port}, security = "none" }}
smtp = {{ host = "{smtp_host}", port = {smtp_port}, security = "starttls", ca_file = "{ca}" }}
save_sent_copy = "always"
{password}
[accounts.oauth]
provider = "microsoft"
authorize_url = "{authorize}"
token_url = "{token}"
device_url = "{device}"
"""


@pytest.fixture(scope="session")
def oauth_server() -> Iterator[OAuthSandbox]:
    with OAuthSandbox() as server:
        yield server


@pytest.fixture
def provider(oauth_server: OAuthSandbox) -> Iterator[OAuthSandbox]:
    """The session's provider on the real clock, with hour-long access tokens."""
    oauth_server.clock = time.time
    oauth_server.access_lifetime = DEFAULT_ACCESS_LIFETIME
    yield oauth_server
    oauth_server.clock = time.time
    oauth_server.access_lifetime = DEFAULT_ACCESS_LIFETIME


@pytest.fixture(scope="session")
def token_check(oauth_server: OAuthSandbox) -> TokenCheck:
    return TokenCheck(oauth_server.introspection_url, INTROSPECTION_CLIENT,
                      oauth_server.introspection_secret)


@pytest.fixture(scope="session")
def dovecot_oauth(token_check: TokenCheck) -> Iterator[DovecotServer]:
    """A Dovecot that takes XOAUTH2/OAUTHBEARER tokens of the sandbox provider."""
    from maild.sandbox.dovecot import find_dovecot

    if find_dovecot() is None:
        _unavailable("dovecot is not installed (apt-get install dovecot-imapd)")
    with DovecotServer(oauth=token_check) as server:
        yield server


@pytest.fixture(scope="session")
def smtp_oauth(token_check: TokenCheck) -> Iterator[SmtpSandbox]:
    """An SMTP server (STARTTLS) that takes XOAUTH2 tokens of the sandbox provider."""
    with SmtpSandbox(oauth=token_check) as server:
        yield server


@pytest.fixture(autouse=True)
def _oauth_servers_per_test(request: pytest.FixtureRequest) -> Iterator[None]:
    names = set(request.fixturenames)
    server: DovecotServer | None = None
    if "dovecot_oauth" in names:
        server = request.getfixturevalue("dovecot_oauth")
        server.start()
    if "smtp_oauth" in names:
        request.getfixturevalue("smtp_oauth").reset()
    yield
    if server is not None:
        server.start()  # a test that stopped it must not take the others down


@dataclass
class Keyring:
    """The test's keyring file, its backend, and the environment that selects it."""

    path: Path
    backend: FileKeyring

    @property
    def env(self) -> dict[str, str]:
        return {"PYTHON_KEYRING_BACKEND": "oauth_keyring.FileKeyring", FILE_ENV: str(self.path),
                "PYTHONPATH": f"{HERE}:{ROOT}"}

    def entries(self) -> dict[str, str]:
        return self.backend.entries()


@pytest.fixture
def file_keyring(tmp_path: Path) -> Iterator[Keyring]:
    """A file keyring, also installed in this process for the test's duration."""
    path = tmp_path / "keyring.json"
    backend = FileKeyring(path)
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    try:
        yield Keyring(path, backend)
    finally:
        keyring.set_keyring(previous)


def oauth_config(user: str, dovecot: DovecotServer, smtp: SmtpSandbox, server: OAuthSandbox,
                 password: str = "") -> str:
    return IDENTITY + OAUTH_ACCOUNT.format(
        user=user, imap_host=dovecot.host, imap_port=dovecot.port, smtp_host=smtp.host,
        smtp_port=smtp.port, ca=smtp.ca_path, password=password,
        authorize=server.authorize_url, token=server.token_url, device=server.device_url)


def account_for(user: str, dovecot: DovecotServer, smtp_server: SmtpSandbox,
                server: OAuthSandbox, password: str = "") -> Account:
    text = oauth_config(user, dovecot, smtp_server, server, password)
    return parse(tomllib.loads(text), Path("config.toml")).accounts[0]


def browser_login(account: Account, as_user: str, password: str,
                  decision: str = "allow") -> oauth.TokenGrant:
    shown: list[str] = []

    def open_browser(url: str) -> bool:
        return sign_in(url, as_user, password, decision).ok

    return oauth.login_with_browser(oauth.client_for(account), login_hint=account.username,
                                    open_browser=open_browser,
                                    tell=lambda url, opened: shown.append(url), timeout=20)


def signed_in(account: Account, provider: OAuthSandbox, as_user: str | None = None) -> str:
    """Sign in through the browser flow and keep the refresh token as `auth login` does."""
    grant = browser_login(account, as_user or account.username, provider.password)
    assert grant.refresh_token is not None
    credentials.store_refresh_token(account, grant.refresh_token)
    return grant.refresh_token


def browser_env(user: str, password: str) -> dict[str, str]:
    """$BROWSER for maild: the stand-in browser signing in as ``user``."""
    return {"BROWSER": f"{sys.executable} {HERE / 'oauth_browser.py'} %s", USER_ENV: user,
            PASSWORD_ENV: password}
