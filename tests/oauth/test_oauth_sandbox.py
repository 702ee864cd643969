"""The sandbox stand-ins for a provider: the OAuth2 server, and Dovecot and SMTP checking
its tokens the way Microsoft 365's and Google's servers do (real processes, real
protocols; the tokens come from the provider's real token endpoint)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import aiosmtplib
import imapclient
import pytest
import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from imapclient.exceptions import LoginError

from maild.sandbox.dovecot import DovecotServer
from maild.sandbox.oauth import OAuthSandbox
from maild.sandbox.smtp import SmtpSandbox

SCOPE = "openid email https://outlook.office.com/IMAP.AccessAsUser.All offline_access"


def issue(provider: OAuthSandbox, user: str) -> dict[str, str]:
    """Tokens for ``user`` through the device flow (approved as the user would)."""
    client = OAuth2Session(client_id="sandbox-test", scope=SCOPE)
    started = client.post(provider.device_url, withhold_token=True,
                          data={"client_id": "sandbox-test", "scope": SCOPE}).json()
    provider.approve_device(started["user_code"], user)
    token = client.fetch_token(provider.token_url,
                               grant_type="urn:ietf:params:oauth:grant-type:device_code",
                               device_code=started["device_code"])
    return dict(token)


def imap_login(dovecot: DovecotServer, login: Callable[[imapclient.IMAPClient], object]) -> bool:
    client = imapclient.IMAPClient(dovecot.host, port=dovecot.port, ssl=False, timeout=10)
    try:
        login(client)
    except LoginError:
        client.shutdown()
        return False
    client.list_folders()
    client.logout()
    return True


def test_dovecot_takes_only_live_tokens_of_the_user_logging_in(
        provider: OAuthSandbox, dovecot_oauth: DovecotServer, imap_user: str) -> None:
    token = issue(provider, imap_user)["access_token"]
    assert imap_login(dovecot_oauth, lambda c: c.oauth2_login(imap_user, token))
    assert imap_login(dovecot_oauth, lambda c: c.oauthbearer_login(imap_user, token))
    # The token's owner must be the login name, as with Microsoft 365 and Gmail.
    assert not imap_login(dovecot_oauth, lambda c: c.oauth2_login("someone-else", token))
    # A token is not a password, nor a password a token.
    assert not imap_login(dovecot_oauth, lambda c: c.login(imap_user, token))
    assert not imap_login(dovecot_oauth,
                          lambda c: c.oauth2_login(imap_user, dovecot_oauth.password))
    assert imap_login(dovecot_oauth, lambda c: c.login(imap_user, dovecot_oauth.password))
    # Expiry is the provider's clock: an hour later the same token is refused at once.
    provider.clock = lambda: time.time() + 3601
    assert not imap_login(dovecot_oauth, lambda c: c.oauth2_login(imap_user, token))


def test_dovecot_refuses_a_revoked_token(provider: OAuthSandbox, dovecot_oauth: DovecotServer,
                                         imap_user: str) -> None:
    token = issue(provider, imap_user)["access_token"]
    checks = provider.introspections
    assert imap_login(dovecot_oauth, lambda c: c.oauth2_login(imap_user, token))
    assert provider.revoke_user(imap_user) == 1
    assert not imap_login(dovecot_oauth, lambda c: c.oauth2_login(imap_user, token))
    # Every login asked the provider (Dovecot caches nothing), through introspection.
    assert provider.introspections >= checks + 2


def test_default_dovecot_offers_no_token_login(dovecot: DovecotServer, imap_user: str) -> None:
    client = imapclient.IMAPClient(dovecot.host, port=dovecot.port, ssl=False, timeout=10)
    try:
        caps = {c.decode() for c in client.capabilities()}
        assert "AUTH=PLAIN" in caps and "AUTH=XOAUTH2" not in caps
        assert "AUTH=OAUTHBEARER" not in caps
    finally:
        client.shutdown()
    assert not (dovecot.base_dir / "dovecot-oauth2.conf.ext").exists()
    assert "oauth2" not in dovecot.config_path.read_text()


async def _smtp(server: SmtpSandbox, user: str, token: str) -> str:
    client = aiosmtplib.SMTP(hostname=server.host, port=server.port, start_tls=True,
                             tls_context=server.client_ssl_context())
    await client.connect()
    try:
        await client.auth_xoauth2(user, token)
        await client.sendmail(f"{user}@school.example.edu", ["dana@med.example.edu"],
                              b"Subject: hello\r\n\r\nhello\r\n")
        return "sent"
    except aiosmtplib.SMTPAuthenticationError as exc:
        return f"refused {exc.code}"
    finally:
        await client.quit()


def test_smtp_takes_xoauth2_from_the_token_owner_only(
        provider: OAuthSandbox, smtp_oauth: SmtpSandbox, imap_user: str) -> None:
    token = issue(provider, imap_user)["access_token"]
    assert asyncio.run(_smtp(smtp_oauth, imap_user, token)) == "sent"
    assert asyncio.run(_smtp(smtp_oauth, "someone-else", token)) == "refused 535"
    provider.revoke_access_tokens(imap_user)
    assert asyncio.run(_smtp(smtp_oauth, imap_user, token)) == "refused 535"
    assert [m.auth_user for m in smtp_oauth.messages] == [imap_user]


def test_default_smtp_sandbox_offers_no_xoauth2(smtp_server: SmtpSandbox) -> None:
    async def methods() -> set[str]:
        client = aiosmtplib.SMTP(hostname=smtp_server.host, port=smtp_server.port,
                                 start_tls=True, tls_context=smtp_server.client_ssl_context())
        await client.connect()
        await client.ehlo()
        try:
            return set(client.server_auth_methods)
        finally:
            await client.quit()

    assert asyncio.run(methods()) == {"login", "plain"}


def test_refresh_tokens_rotate_and_the_old_one_stops_working(provider: OAuthSandbox,
                                                             imap_user: str) -> None:
    first = issue(provider, imap_user)
    client = OAuth2Session(client_id="sandbox-test", scope=SCOPE)
    second = client.refresh_token(provider.token_url, refresh_token=first["refresh_token"])
    assert second["refresh_token"] != first["refresh_token"]
    assert provider.id_token_claims(second["id_token"])["email"] == imap_user
    with pytest.raises(OAuthError) as refused:
        client.refresh_token(provider.token_url, refresh_token=first["refresh_token"])
    assert refused.value.error == "invalid_grant"


def test_introspection_requires_the_mail_servers_credentials(provider: OAuthSandbox,
                                                            imap_user: str) -> None:
    token = issue(provider, imap_user)["access_token"]
    anonymous = requests.post(provider.introspection_url, data={"token": token}, timeout=10)
    assert anonymous.status_code == 401
    asked = requests.post(provider.introspection_url, data={"token": token}, timeout=10,
                          auth=("mail-server", provider.introspection_secret))
    assert asked.json()["active"] is True and asked.json()["username"] == imap_user
