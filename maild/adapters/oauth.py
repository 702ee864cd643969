"""OAuth2 for mail accounts: signing in, and turning a refresh token into access tokens.

Owns the conversation with the provider's authorization server: the authorization-code
flow with PKCE and a loopback redirect (a one-shot listener on 127.0.0.1 receives the
code, RFC 8252), the device-code flow (RFC 8628) for machines without a browser, the
refresh grant, and reading which account an id_token names. authlib's requests client
speaks the protocol; this module adds the listener, the polling loop and the account,
and translates authlib's and requests' exceptions into maild's own:

* ``SignInError``: a sign-in did not complete (declined, timed out, wrong account);
* ``SignInExpiredError``: the provider refused the refresh token (revoked, expired,
  password changed): only a new ``maild auth login`` helps;
* ``CredentialError``: the provider could not be reached or answered nonsense; trying
  again later may work.

Tokens are secrets: no message, log line or repr here contains one.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session

from maild.config import Account, OAuthSettings
from maild.errors import ConfigError, CredentialError
from maild.providers import OAUTH_PRESETS, OAuthPreset

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
HTTP_TIMEOUT = 30.0
LOGIN_TIMEOUT = 300.0
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
_SIGNED_IN_PAGE = ("<!doctype html><meta charset=utf-8><title>maild</title>"
                   "<h1>{title}</h1><p>{text}</p>")


class SignInError(CredentialError):
    """A sign-in did not complete; nothing was stored."""


class SignInExpiredError(CredentialError):
    """The provider refused the refresh token: the user must sign in again."""


@dataclass(frozen=True)
class OAuthClient:
    """One account's effective OAuth2 settings: its config over its provider's preset."""

    provider: str
    label: str
    client_id: str
    client_secret: str
    authorize_url: str
    token_url: str
    device_url: str
    revoke_url: str
    scopes: tuple[str, ...]
    imap_scope: str
    smtp_scope: str
    redirect_host: str
    revoke_help: str
    authorize_params: Mapping[str, str] = field(default_factory=dict)

    @property
    def host(self) -> str:
        """The token endpoint's host, to name in messages."""
        return urlsplit(self.token_url).hostname or self.token_url


@dataclass(frozen=True)
class TokenGrant:
    """What the token endpoint answered. Holds secrets: never printed (no repr)."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_in: int | None
    scopes: tuple[str, ...]
    # The account the id_token names (lower case), when the provider sent one.
    account: str | None


@dataclass(frozen=True)
class DeviceCode:
    """What the user has to do for the device-code flow."""

    user_code: str
    verification_uri: str
    expires_in: int
    interval: int
    message: str  # the provider's own instructions, when it gives any


def client_for(account: Account) -> OAuthClient:
    """The effective sign-in settings of an ``auth = "oauth2"`` account."""
    settings = account.oauth
    if settings is None:
        raise ConfigError("config.toml", f"account {account.name!r} does not use OAuth2 "
                          "(auth = \"oauth2\" with an [accounts.oauth] table)")
    preset = OAUTH_PRESETS.get(settings.provider)
    client = _merge(settings, preset)
    if not client.client_id:
        raise ConfigError(
            "config.toml", f"account {account.name!r} needs oauth.client_id: {client.label} "
            "has no client maild may use for everyone; register one (docs/signin.md) and "
            "set client_id (and client_secret) in its [accounts.oauth] table")
    return client


def _merge(settings: OAuthSettings, preset: OAuthPreset | None) -> OAuthClient:
    tenant = settings.tenant or (preset.default_tenant if preset else "")

    def url(own: str, preset_url: str) -> str:
        return own or preset_url.replace("{tenant}", tenant)

    if preset is None:  # "custom": config validation made sure everything is there
        return OAuthClient(
            provider="custom", label=urlsplit(settings.token_url).hostname or "the provider",
            client_id=settings.client_id, client_secret=settings.client_secret,
            authorize_url=settings.authorize_url, token_url=settings.token_url,
            device_url=settings.device_url, revoke_url="", scopes=settings.scopes,
            imap_scope="", smtp_scope="", redirect_host=LOOPBACK,
            revoke_help="your identity provider's account page")
    # A client of one's own replaces the preset's whole client, secret included.
    own_client = bool(settings.client_id)
    return OAuthClient(
        provider=preset.key, label=preset.label,
        client_id=settings.client_id or preset.client_id,
        client_secret=settings.client_secret if own_client else preset.client_secret,
        authorize_url=url(settings.authorize_url, preset.authorize_url),
        token_url=url(settings.token_url, preset.token_url),
        device_url=url(settings.device_url, preset.device_url),
        revoke_url=preset.revoke_url, scopes=settings.scopes or preset.scopes,
        imap_scope=preset.imap_scope, smtp_scope=preset.smtp_scope,
        redirect_host=preset.redirect_host, revoke_help=preset.revoke_help,
        authorize_params=preset.authorize_params)


def _session(client: OAuthClient, redirect_uri: str | None = None) -> OAuth2Session:
    return OAuth2Session(
        client_id=client.client_id, client_secret=client.client_secret or None,
        # Public clients (no secret) authenticate with PKCE alone; Google's installed
        # apps send their secret in the body, as its documentation shows.
        token_endpoint_auth_method="client_secret_post" if client.client_secret else "none",
        scope=list(client.scopes), redirect_uri=redirect_uri,
        code_challenge_method="S256", default_timeout=HTTP_TIMEOUT)


def _first_line(text: object, limit: int = 200) -> str:
    words = str(text or "").strip().splitlines()
    return words[0][:limit] if words else ""


def _oauth_words(exc: OAuthError) -> str:
    description = _first_line(exc.description)
    return f"{exc.error}: {description}" if description else str(exc.error)


def _grant(token: Mapping[str, Any], requested: tuple[str, ...]) -> TokenGrant:
    access = token.get("access_token")
    if not isinstance(access, str) or not access:
        raise CredentialError("the token endpoint answered without an access token")
    scope = token.get("scope")
    scopes = tuple(str(scope).split()) if scope else requested
    expires = token.get("expires_in")
    try:
        expires_in = int(expires) if expires is not None else None
    except (TypeError, ValueError):
        expires_in = None
    refresh = token.get("refresh_token")
    id_token = token.get("id_token")
    return TokenGrant(access_token=access,
                      refresh_token=refresh if isinstance(refresh, str) and refresh else None,
                      expires_in=expires_in, scopes=scopes,
                      account=account_of(id_token) if isinstance(id_token, str) else None)


def account_of(id_token: str) -> str | None:
    """The account an OpenID id_token names (email, else preferred_username or upn).

    The signature is not checked: the token came straight from the token endpoint over
    TLS, which OpenID Connect Core 3.1.3.7 accepts in place of it, and maild uses the
    name only to tell the user which account they signed in with.
    """
    parts = id_token.split(".")
    if len(parts) != 3:
        return None
    try:
        padded = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(padded))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(claims, dict):
        return None
    for key in ("email", "preferred_username", "upn", "unique_name"):
        value = claims.get(key)
        if isinstance(value, str) and value:
            return value.lower()
    return None


def refresh(client: OAuthClient, refresh_token: str) -> TokenGrant:
    """A new access token (and, with some providers, a new refresh token)."""
    session = _session(client)
    try:
        token = session.refresh_token(client.token_url, refresh_token=refresh_token)
    except OAuthError as exc:
        if exc.error in ("invalid_grant", "interaction_required", "unauthorized_client"):
            raise SignInExpiredError(
                f"{client.label} refused the stored sign-in ({_oauth_words(exc)})") from None
        raise CredentialError(f"{client.label} refused to renew the access token "
                              f"({_oauth_words(exc)})") from None
    except (requests.RequestException, ValueError) as exc:
        raise CredentialError(f"cannot reach {client.host} to renew the access token "
                              f"({type(exc).__name__}: {_first_line(exc)})") from None
    finally:
        session.close()
    return _grant(token, client.scopes)


# -- the authorization code with a loopback redirect ------------------------------------


class _Callback:
    """What the loopback listener received: the code, or the provider's error."""

    def __init__(self, state: str) -> None:
        self.state = state
        self.code: str | None = None
        self.error: str | None = None
        self.done = threading.Event()


def _handler(callback: _Callback, label: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            # Anything without our state (a favicon, another program on this machine
            # guessing the port) is turned away and the wait goes on.
            if parts.path != "/" or query.get("state") != callback.state:
                self._answer(404, "Not here", "This address belongs to a maild sign-in.")
                return
            if "code" in query:
                callback.code = query["code"]
                self._answer(200, f"Signed in to {label}",
                             "maild has what it needs. You can close this tab and go back "
                             "to the terminal.")
            else:
                error = query.get("error", "no code")
                detail = _first_line(query.get("error_description", ""))
                callback.error = f"{error}: {detail}" if detail else error
                self._answer(200, "Sign-in not completed",
                             f"{label} said: {callback.error}. Go back to the terminal.")
            callback.done.set()

        def _answer(self, status: int, title: str, text: str) -> None:
            body = _SIGNED_IN_PAGE.format(title=html.escape(title),
                                          text=html.escape(text)).encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            # The request line carries the authorization code: never log it.
            pass

    return Handler


def login_with_browser(client: OAuthClient, *, login_hint: str,
                       open_browser: Callable[[str], bool],
                       tell: Callable[[str, bool], None], port: int = 0,
                       timeout: float = LOGIN_TIMEOUT) -> TokenGrant:
    """Sign in through the user's browser; the code comes back to 127.0.0.1.

    ``open_browser(url)`` opens the page and says whether a browser took it; ``tell(url,
    opened)`` shows the user the address either way, so a browser that did not come up
    does not leave them waiting. Raises SignInError when the user declines, the provider
    refuses, or nothing comes back within ``timeout`` seconds.
    """
    callback = _Callback(generate_token(30))
    try:
        server = HTTPServer((LOOPBACK, port), _handler(callback, client.label))
    except OSError as exc:
        raise SignInError(f"cannot listen on {LOOPBACK}:{port} for the sign-in "
                          f"({exc.strerror or exc}); try another --port") from None
    redirect_uri = f"http://{client.redirect_host}:{server.server_port}/"
    session = _session(client, redirect_uri)
    verifier = generate_token(64)
    url, _state = session.create_authorization_url(
        client.authorize_url, state=callback.state, code_verifier=verifier,
        login_hint=login_hint or None, **client.authorize_params)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              name="oauth-loopback", daemon=True)
    thread.start()
    try:
        tell(url, open_browser(url))
        if not callback.done.wait(timeout):
            raise SignInError(f"no answer from the browser within {timeout:.0f} s; run "
                              "the command again (or use --device on a machine without "
                              "a browser)")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    if callback.error is not None or callback.code is None:
        raise SignInError(f"{client.label} did not sign you in ({callback.error})")
    try:
        token = session.fetch_token(client.token_url, grant_type="authorization_code",
                                    code=callback.code, code_verifier=verifier)
    except OAuthError as exc:
        raise SignInError(f"{client.label} refused the sign-in ({_oauth_words(exc)})") \
            from None
    except (requests.RequestException, ValueError) as exc:
        raise CredentialError(f"cannot reach {client.host} to finish the sign-in "
                              f"({type(exc).__name__}: {_first_line(exc)})") from None
    finally:
        session.close()
    return _grant(token, client.scopes)


# -- the device code ---------------------------------------------------------------------


def login_with_device_code(client: OAuthClient, *, show: Callable[[DeviceCode], None],
                           sleep: Callable[[float], None] = time.sleep,
                           timeout: float = LOGIN_TIMEOUT) -> TokenGrant:
    """Sign in on another device: show a code, poll until the user entered it."""
    if not client.device_url:
        raise SignInError(
            f"{client.label} does not offer the device-code sign-in for mail; sign in "
            "with a browser (--no-browser prints the address; with ssh, forward the "
            "port given with --port)")
    session = _session(client)
    try:
        try:
            answer = session.post(client.device_url, withhold_token=True,
                                  data={"client_id": client.client_id,
                                        "scope": " ".join(client.scopes)})
            data = answer.json()
        except (requests.RequestException, ValueError) as exc:
            raise CredentialError(f"cannot reach {client.host} to start the sign-in "
                                  f"({type(exc).__name__}: {_first_line(exc)})") from None
        if not isinstance(data, dict) or "device_code" not in data:
            what = data.get("error_description") or data.get("error") \
                if isinstance(data, dict) else None
            raise SignInError(f"{client.label} did not start a device sign-in "
                              f"({_first_line(what) or f'HTTP {answer.status_code}'})")
        code = DeviceCode(
            user_code=str(data.get("user_code", "")),
            # Google calls it verification_url.
            verification_uri=str(data.get("verification_uri")
                                 or data.get("verification_url") or ""),
            expires_in=int(data.get("expires_in", 900)), interval=int(data.get("interval", 5)),
            message=_first_line(data.get("message"), 400))
        show(code)
        return _poll(client, session, str(data["device_code"]), code, sleep,
                     min(timeout, float(code.expires_in)))
    finally:
        session.close()


def _poll(client: OAuthClient, session: OAuth2Session, device_code: str, code: DeviceCode,
          sleep: Callable[[float], None], timeout: float) -> TokenGrant:
    interval = max(1, code.interval)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sleep(interval)
        try:
            token = session.fetch_token(client.token_url, grant_type=DEVICE_GRANT,
                                        device_code=device_code)
        except OAuthError as exc:
            if exc.error == "authorization_pending":
                continue
            if exc.error == "slow_down":
                interval += 5  # RFC 8628 3.5
                continue
            if exc.error == "expired_token":
                break
            if exc.error == "access_denied":
                raise SignInError(f"the sign-in was declined at {client.label}") from None
            raise SignInError(f"{client.label} refused the sign-in ({_oauth_words(exc)})") \
                from None
        except (requests.RequestException, ValueError) as exc:
            raise CredentialError(f"cannot reach {client.host} to finish the sign-in "
                                  f"({type(exc).__name__}: {_first_line(exc)})") from None
        return _grant(token, client.scopes)
    raise SignInError(f"the code {code.user_code} was not entered in time; run the command "
                      "again for a new one")


def discover(issuer: str) -> dict[str, str]:
    """The endpoints an OpenID provider publishes (its discovery document), for config.

    Returns the keys of an [accounts.oauth] table: authorize_url, token_url and, when
    the provider has one, device_url.
    """
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        answer = requests.get(url, timeout=HTTP_TIMEOUT)
        answer.raise_for_status()
        document = answer.json()
    except (requests.RequestException, ValueError) as exc:
        raise CredentialError(f"cannot read the provider's settings at {url} "
                              f"({type(exc).__name__}: {_first_line(exc)})") from None
    if not isinstance(document, dict) or not all(
            isinstance(document.get(k), str)
            for k in ("authorization_endpoint", "token_endpoint")):
        raise CredentialError(f"{url} is not an OpenID discovery document")
    found = {"authorize_url": document["authorization_endpoint"],
             "token_url": document["token_endpoint"]}
    if isinstance(document.get("device_authorization_endpoint"), str):
        found["device_url"] = document["device_authorization_endpoint"]
    return found


def revoke(client: OAuthClient, refresh_token: str) -> bool:
    """Ask the provider to revoke ``refresh_token``; False where it offers no way."""
    if not client.revoke_url:
        return False
    session = _session(client)
    try:
        answer = session.revoke_token(client.revoke_url, token=refresh_token,
                                      token_type_hint="refresh_token")
    except requests.RequestException as exc:
        raise CredentialError(f"cannot reach {client.host} to revoke the sign-in "
                              f"({type(exc).__name__}: {_first_line(exc)})") from None
    finally:
        session.close()
    return bool(answer.ok)
