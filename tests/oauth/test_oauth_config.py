"""config.toml for OAuth2 accounts, and the presets they resolve to (no servers)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from maild.adapters import oauth
from maild.config import Account, Config, parse
from maild.errors import ConfigError
from maild.providers import MICROSOFT_DEFAULT_CLIENT_ID, OAUTH_PRESETS, PROVIDERS

BASE = """
[identity]
name = "Alex Kim"
email = "alex@school.example.edu"
timezone = "America/New_York"

[[accounts]]
name = "school"
email = "alex@school.example.edu"
imap = { host = "outlook.office365.com" }
smtp = { host = "smtp.office365.com", security = "starttls" }
"""


def load(extra: str) -> Config:
    return parse(tomllib.loads(BASE + extra), Path("config.toml"))


def account(extra: str) -> Account:
    return load(extra).accounts[0]


def test_microsoft_preset_defaults() -> None:
    school = account('auth = "oauth2"\noauth = { provider = "microsoft" }\n')
    assert school.password.keyring == "maild"  # where `auth login` keeps the refresh token
    client = oauth.client_for(school)
    assert client.client_id == MICROSOFT_DEFAULT_CLIENT_ID and client.client_secret == ""
    assert client.authorize_url == \
        "https://login.microsoftonline.com/common/oauth2/v2.0/authorize"
    assert client.device_url.endswith("/common/oauth2/v2.0/devicecode")
    assert client.scopes == ("https://outlook.office.com/IMAP.AccessAsUser.All",
                             "https://outlook.office.com/SMTP.Send", "offline_access",
                             "openid", "email")
    assert client.redirect_host == "localhost"


def test_a_tenant_and_a_client_of_ones_own() -> None:
    school = account('auth = "oauth2"\n[accounts.oauth]\nprovider = "microsoft"\n'
                     'tenant = "med.example.edu"\nclient_id = "1111-2222"\n')
    client = oauth.client_for(school)
    assert client.token_url == \
        "https://login.microsoftonline.com/med.example.edu/oauth2/v2.0/token"
    assert client.client_id == "1111-2222"


def test_google_has_no_client_for_everyone() -> None:
    gmail = account('auth = "oauth2"\noauth = { provider = "google" }\n')
    with pytest.raises(ConfigError, match=r"needs oauth\.client_id: Google has no client"):
        oauth.client_for(gmail)
    own = account('auth = "oauth2"\n[accounts.oauth]\nprovider = "google"\n'
                  'client_id = "123.apps.googleusercontent.com"\nclient_secret = "GOCSPX-x"\n')
    client = oauth.client_for(own)
    assert client.client_secret == "GOCSPX-x" and client.device_url == ""
    assert client.authorize_params == {"access_type": "offline", "prompt": "consent"}
    assert client.scopes[0] == "https://mail.google.com/"


def test_device_code_is_refused_for_google_before_any_request() -> None:
    own = account('auth = "oauth2"\n[accounts.oauth]\nprovider = "google"\n'
                  'client_id = "123.apps.googleusercontent.com"\n')
    with pytest.raises(oauth.SignInError, match="does not offer the device-code sign-in"):
        oauth.login_with_device_code(oauth.client_for(own), show=lambda code: None)


@pytest.mark.parametrize(("extra", "problem"), [
    ('auth = "oauth2"\n', "accounts[0].oauth: is required with auth = \"oauth2\""),
    ('oauth = { provider = "microsoft" }\npassword = { env = "X" }\n',
     "accounts[0].oauth: is only read with auth = \"oauth2\""),
    ('auth = "oauth2"\noauth = { provider = "yahoo" }\n',
     "accounts[0].oauth.provider: must be one of microsoft, google, custom, not 'yahoo'"),
    ('auth = "oauth2"\noauth = { provider = "custom", client_id = "x" }\n',
     "accounts[0].oauth.authorize_url: is required with provider = \"custom\""),
    ('auth = "oauth2"\noauth = { provider = "microsoft", token_url = "http://idp.example/t" }\n',
     "must be an https:// URL (http:// only on 127.0.0.1)"),
    ('auth = "oauth2"\noauth = { provider = "microsoft", scope = ["x"] }\n',
     "accounts[0].oauth.scope: unknown key"),
])
def test_bad_oauth_config_is_one_clear_line(extra: str, problem: str) -> None:
    with pytest.raises(ConfigError) as error:
        load(extra)
    assert problem in error.value.message


def test_custom_provider_and_loopback_endpoints() -> None:
    custom = account('auth = "oauth2"\npassword = { command = "pass show idp" }\n'
                     '[accounts.oauth]\nprovider = "custom"\nclient_id = "maild"\n'
                     'authorize_url = "http://127.0.0.1:9000/auth"\n'
                     'token_url = "https://idp.example.edu/token"\nscopes = ["mail"]\n')
    client = oauth.client_for(custom)
    assert (client.provider, client.label, client.scopes) == ("custom", "idp.example.edu",
                                                              ("mail",))
    assert custom.password.command == "pass show idp"


def test_presets_are_wired_to_the_init_providers() -> None:
    assert PROVIDERS["outlook"].oauth == "microsoft" and PROVIDERS["outlook"].oauth_by_default
    assert PROVIDERS["gmail"].oauth == "google" and not PROVIDERS["gmail"].oauth_by_default
    for preset in OAUTH_PRESETS.values():
        assert preset.imap_scope in preset.scopes and preset.smtp_scope in preset.scopes
        for url in (preset.authorize_url, preset.token_url):
            assert url.startswith("https://")


def test_account_of_reads_an_id_token_without_trusting_it_for_more() -> None:
    import base64
    import json

    def token(claims: dict[str, str]) -> str:
        body = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
        return f"eyJhbGciOiJub25lIn0.{body}.sig"

    assert oauth.account_of(token({"email": "Alex@School.edu"})) == "alex@school.edu"
    assert oauth.account_of(token({"preferred_username": "alex@x.edu"})) == "alex@x.edu"
    assert oauth.account_of(token({"sub": "123"})) is None
    assert oauth.account_of("not-a-jwt") is None
    assert oauth.account_of("a.!!!.c") is None
