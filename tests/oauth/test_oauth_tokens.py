"""Signing in and keeping signed in, in process, against the sandbox provider and the
Dovecot and SMTP servers that check its tokens: PKCE through the loopback redirect, the
device code, renewal before expiry and after a refusal, a revoked sign-in, a sign-in for
the wrong account."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote, urlsplit

import pytest
import requests

from maild.adapters import credentials, oauth, smtp
from maild.adapters.credentials import Secrets, TokenSecret
from maild.adapters.imap import ImapAuthError, ImapConnection
from maild.config import Account
from maild.sandbox.dovecot import DovecotServer
from maild.sandbox.oauth import OAuthSandbox
from maild.sandbox.smtp import SmtpSandbox
from tests.oauth.conftest import Keyring, account_for, browser_login, signed_in
from tests.oauth.oauth_browser import sign_in

START = datetime(2026, 11, 17, 15, 0, tzinfo=UTC)


class HandClock:
    """maild's and the provider's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def seconds(self) -> float:
        return self.now.timestamp()

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def account(imap_user: str, dovecot_oauth: DovecotServer, smtp_oauth: SmtpSandbox,
            provider: OAuthSandbox, file_keyring: Keyring) -> Account:
    return account_for(imap_user, dovecot_oauth, smtp_oauth, provider)


def test_browser_sign_in_uses_pkce_and_the_loopback_redirect(
        account: Account, provider: OAuthSandbox, file_keyring: Keyring) -> None:
    urls: list[str] = []

    def open_browser(url: str) -> bool:
        urls.append(url)
        return sign_in(url, account.username, provider.password).ok

    grant = oauth.login_with_browser(oauth.client_for(account), login_hint=account.username,
                                     open_browser=open_browser, tell=lambda u, o: None,
                                     timeout=20)
    query = urlsplit(urls[0]).query
    assert "code_challenge_method=S256" in query and "code_challenge=" in query
    assert "redirect_uri=http%3A%2F%2Flocalhost%3A" in query  # Microsoft's loopback form
    assert f"login_hint={account.username}" in query and "prompt=select_account" in query
    assert grant.account == account.username
    assert "https://outlook.office.com/SMTP.Send" in grant.scopes
    assert grant.refresh_token and grant.expires_in == 3600
    assert "access_token" not in repr(grant) and grant.access_token not in repr(grant)
    assert provider.issued["authorization_code"] >= 1


def test_the_listener_ignores_strangers_and_reports_a_refusal(account: Account,
                                                              provider: OAuthSandbox) -> None:
    def open_browser(url: str) -> bool:
        redirect = unquote(url.split("redirect_uri=")[1].split("&")[0])
        # Another program on this machine guessing the port gets nowhere...
        stranger = requests.get(redirect + "?code=stolen&state=guess", timeout=5)
        assert stranger.status_code == 404
        # ...and the user saying no is reported, with nothing issued.
        return sign_in(url, account.username, provider.password, decision="deny").ok

    with pytest.raises(oauth.SignInError, match="access_denied"):
        oauth.login_with_browser(oauth.client_for(account), login_hint=account.username,
                                 open_browser=open_browser, tell=lambda u, o: None, timeout=20)


def test_no_browser_times_out_with_advice(account: Account) -> None:
    told: list[tuple[str, bool]] = []
    with pytest.raises(oauth.SignInError, match="--device"):
        oauth.login_with_browser(oauth.client_for(account), login_hint=account.username,
                                 open_browser=lambda url: False,
                                 tell=lambda url, opened: told.append((url, opened)),
                                 timeout=0.5)
    assert told and told[0][1] is False and told[0][0].startswith(oauth.client_for(account)
                                                                  .authorize_url)


def test_device_code_sign_in(account: Account, provider: OAuthSandbox) -> None:
    def approve(code: oauth.DeviceCode) -> None:
        # The user, on their phone, opens the page and enters the code.
        def user() -> None:
            page = requests.post(code.verification_uri, timeout=10, data={
                "user_code": code.user_code, "username": account.username,
                "password": provider.password, "decision": "allow"})
            assert page.ok
        threading.Thread(target=user).start()

    grant = oauth.login_with_device_code(oauth.client_for(account), show=approve, timeout=30)
    assert grant.account == account.username and grant.refresh_token


def test_access_tokens_are_cached_renewed_before_expiry_and_rotations_kept(
        account: Account, provider: OAuthSandbox, file_keyring: Keyring) -> None:
    clock = HandClock()
    provider.clock = clock.seconds
    provider.access_lifetime = 20 * 60
    first_refresh = signed_in(account, provider)
    key = f"maild/{credentials.refresh_token_key(account)}"
    secrets = Secrets({}, now=clock)
    refreshes = provider.issued["refresh_token"]

    with ImapConnection.open(account, secrets.get(account)) as conn:
        assert conn.folders().sent == "Sent"
    token = secrets.cached(account)
    assert token is not None and token.account == account.username
    assert provider.issued["refresh_token"] == refreshes + 1
    # Rotated by the provider, and the new one is what the keyring holds now.
    assert file_keyring.entries()[key] != first_refresh

    clock.advance(minutes=10)  # still good: no new token
    assert secrets.access_token(account) is token
    clock.advance(minutes=6)   # within five minutes of expiry: renewed before use
    assert asyncio.run(smtp.send(account, secrets.get(account), account.email,
                                 ["dana@med.example.edu"], b"Subject: x\r\n\r\nx\r\n")).code == 250
    assert provider.issued["refresh_token"] == refreshes + 2
    assert secrets.cached(account) is not token


def test_a_refused_access_token_is_renewed_once(account: Account, provider: OAuthSandbox,
                                                smtp_oauth: SmtpSandbox) -> None:
    signed_in(account, provider)
    told: list[str] = []
    secrets = Secrets({}, on_reauth=lambda a, text: told.append(text))
    with ImapConnection.open(account, secrets.get(account)):
        pass
    refreshes = provider.issued["refresh_token"]
    # The provider withdraws the access token before it expires (a password change
    # elsewhere does this); maild does not know until the server refuses it.
    provider.revoke_access_tokens(account.username)
    with ImapConnection.open(account, secrets.get(account)) as conn:
        assert conn.has("IDLE")
    assert provider.issued["refresh_token"] == refreshes + 1
    provider.revoke_access_tokens(account.username)
    asyncio.run(smtp.send(account, secrets.get(account), account.email,
                          ["dana@med.example.edu"], b"Subject: x\r\n\r\nx\r\n"))
    assert provider.issued["refresh_token"] == refreshes + 2
    assert smtp_oauth.messages[-1].auth_user == account.username
    assert told == []


def test_a_revoked_sign_in_asks_for_auth_login_once_until_the_user_signs_in_again(
        account: Account, provider: OAuthSandbox, file_keyring: Keyring,
        caplog: pytest.LogCaptureFixture) -> None:
    signed_in(account, provider)
    told: list[str] = []
    secrets = Secrets({}, on_reauth=lambda a, text: told.append(text))
    with ImapConnection.open(account, secrets.get(account)):
        pass
    provider.revoke_user(account.username)  # "sign out everywhere", or an administrator
    for _ in range(3):
        with pytest.raises(oauth.SignInExpiredError, match="maild auth login school"):
            ImapConnection.open(account, secrets.get(account))
    attempts = sum(1 for t in provider.tokens(account.username))
    assert len(told) == 1 and "no longer accepts maild's sign-in" in told[0]
    with pytest.raises(oauth.SignInExpiredError):
        asyncio.run(smtp.send(account, secrets.get(account), account.email,
                              ["dana@med.example.edu"], b"Subject: x\r\n\r\nx\r\n"))
    # The refused refresh token was not sent again: no new token was issued.
    assert sum(1 for t in provider.tokens(account.username)) == attempts
    assert len(told) == 1

    # The user runs `maild auth login` (another process): the same Secrets picks it up.
    signed_in(account, provider)
    with ImapConnection.open(account, secrets.get(account)) as conn:
        assert conn.folders().inbox == "INBOX"
    for record in caplog.records:
        for token in provider.tokens(account.username):
            assert token.access_token not in record.getMessage()
            assert str(token.refresh_token) not in record.getMessage()


def test_a_sign_in_for_another_account_is_refused_and_named(
        imap_user: str, dovecot_oauth: DovecotServer, smtp_oauth: SmtpSandbox,
        provider: OAuthSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    # The refresh token comes from a variable, and belongs to someone else.
    account = account_for(imap_user, dovecot_oauth, smtp_oauth, provider,
                          password='password = { env = "SCHOOL_REFRESH" }')
    other = browser_login(account, f"{imap_user}-other", provider.password)
    told: list[str] = []
    secrets = Secrets({"SCHOOL_REFRESH": str(other.refresh_token)},
                      on_reauth=lambda a, text: told.append(text))
    assert isinstance(secrets.get(account), TokenSecret)
    with pytest.raises(ImapAuthError, match="renewed access token was refused too") as refused:
        ImapConnection.open(account, secrets.get(account))
    assert f"signed in as {imap_user}-other, not {imap_user}" in refused.value.message
    with pytest.raises(smtp.SmtpAuthError, match="maild auth login school"):
        asyncio.run(smtp.send(account, secrets.get(account), account.email,
                              ["dana@med.example.edu"], b"Subject: x\r\n\r\nx\r\n"))
    assert len(told) == 1 and "sign in with this account" in told[0]
    assert smtp_oauth.messages == []
