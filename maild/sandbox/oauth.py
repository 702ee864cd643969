"""A throwaway OAuth2 authorization server for tests: what stands in for Microsoft 365's
or Google's sign-in, built with authlib's server side on Flask.

Owns the identity provider of the sandbox: the authorization-code flow with PKCE (the
sign-in page is a plain HTML form, so a test drives it with an HTTP client as a browser
would), the device-code flow (a verification page taking the user code), refresh tokens
rotated on every refresh as Microsoft does (the old one stops working, so a client that
forgets to keep the new one fails), OpenID id_tokens naming the account, token
introspection (RFC 7662) for the mail servers that must check a token (Dovecot's oauth2
passdb, the SMTP sandbox), revocation (RFC 7009), and an OpenID discovery document.

Any username signs in with the sandbox password, like the Dovecot sandbox; any client id
is a public client (no secret, PKCE required) unless ``add_client`` registered it with a
secret, as Google's installed-app clients have. Time comes from ``clock`` (seconds since
the epoch), which a test may replace so that tokens expire in simulated time. Listens on
127.0.0.1 only, on a port the operating system picks.
"""

from __future__ import annotations

import hmac
import html
import logging
import re
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlsplit

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc6749.errors import OAuth2Error
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oauth2.rfc8628 import (
    DEVICE_CODE_GRANT_TYPE,
    DeviceAuthorizationEndpoint,
    DeviceCodeGrant,
    DeviceCredentialDict,
)
from flask import Flask, Response, request
from joserfc import jwt
from joserfc.jwk import OctKey
from werkzeug.serving import BaseWSGIServer, make_server

from maild.sandbox.base import LOOPBACK, SandboxError, SandboxServer

logger = logging.getLogger(__name__)

DEFAULT_PASSWORD = "sandbox-password"
# The client the mail servers use to ask whether a token is good (RFC 7662 requires the
# asker to authenticate). Dovecot takes these from the introspection URL's userinfo.
INTROSPECTION_CLIENT = "mail-server"
DEFAULT_ACCESS_LIFETIME = 3600
CODE_LIFETIME = 600
DEVICE_CODE_LIFETIME = 900

Clock = Callable[[], float]
# Public clients (no secret) and confidential ones (a secret, in either place) alike.
_ANY_CLIENT_AUTH = ["client_secret_basic", "client_secret_post", "none"]


@dataclass
class _Client(ClientMixin):  # type: ignore[misc]
    client_id: str
    secret: str | None = None
    # Only allowed to introspect tokens: what a mail server is to the provider.
    resource_server: bool = False

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        return scope or ""

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        # Native apps may only use a loopback redirect (RFC 8252), any port.
        parts = urlsplit(redirect_uri)
        return parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost")

    def check_client_secret(self, client_secret: str) -> bool:
        return self.secret is not None and hmac.compare_digest(self.secret, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.secret is None:
            return method == "none"
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and not self.resource_server

    def check_grant_type(self, grant_type: str) -> bool:
        return not self.resource_server


@dataclass
class _Code:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: str
    code_challenge: str | None
    code_challenge_method: str | None
    expires_at: float

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


@dataclass
class IssuedToken:
    """One grant's tokens as the server keeps them (what introspection looks at)."""

    client_id: str
    user: str
    scope: str
    access_token: str
    refresh_token: str | None
    issued_at: float
    expires_in: int
    grant_type: str
    access_revoked: bool = False
    refresh_revoked: bool = False
    _clock: Clock = field(default=time.time, repr=False)

    # -- authlib's TokenMixin ----------------------------------------------------------

    def check_client(self, client: _Client) -> bool:
        return client.client_id == self.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return self.expires_in

    def is_expired(self) -> bool:
        return self._clock() >= self.issued_at + self.expires_in

    def is_revoked(self) -> bool:
        return self.access_revoked

    def get_user(self) -> str:
        return self.user

    def get_client(self) -> str:
        return self.client_id


class _DeviceCredential(DeviceCredentialDict):  # type: ignore[misc]
    """authlib's device credential, expiring on the sandbox's clock."""

    clock: Clock = time.time

    def is_expired(self) -> bool:
        return bool(self["expires_at"] < self.clock())


class OAuthSandbox(SandboxServer):
    """An OAuth2/OpenID provider on 127.0.0.1; see the module docstring.

    ``access_lifetime`` is how long an access token lives (seconds of ``clock``);
    ``device_interval`` the polling interval the device flow asks for.
    """

    def __init__(self, *, password: str = DEFAULT_PASSWORD,
                 access_lifetime: int = DEFAULT_ACCESS_LIFETIME,
                 device_interval: int = 1, clock: Clock | None = None) -> None:
        if not password:
            raise SandboxError("the sandbox password must not be empty")
        self.password = password
        self.access_lifetime = access_lifetime
        self.device_interval = device_interval
        self.clock: Clock = clock or time.time
        self.host = LOOPBACK
        self.port = 0
        self.introspection_secret = secrets.token_urlsafe(16)
        self._signing_key = OctKey.import_key(secrets.token_bytes(32))
        self._lock = threading.RLock()
        self._clients: dict[str, _Client] = {
            INTROSPECTION_CLIENT: _Client(INTROSPECTION_CLIENT, self.introspection_secret,
                                          resource_server=True),
        }
        self._codes: dict[str, _Code] = {}
        self._tokens: list[IssuedToken] = []
        self._devices: dict[str, _DeviceCredential] = {}
        self._device_grants: dict[str, tuple[str, bool]] = {}
        # How many tokens each grant type issued: what tests count refreshes with.
        self.issued: Counter[str] = Counter()
        self.introspections = 0
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.app = self._make_app()

    # -- lifecycle -----------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> None:
        if self.running:
            return
        # Port 0: the kernel picks a free port at bind time, so there is no race to lose.
        server = make_server(self.host, self.port, self.app, threaded=True)
        self.port = server.server_port
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever,
                                        name=f"oauth-sandbox-{self.port}", daemon=True)
        self._thread.start()
        logger.info("oauth sandbox listening on %s", self.base_url)

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def close(self) -> None:
        self.stop()

    # -- for clients and mail servers ----------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def authorize_url(self) -> str:
        return f"{self.base_url}/authorize"

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/token"

    @property
    def device_url(self) -> str:
        return f"{self.base_url}/devicecode"

    @property
    def verification_url(self) -> str:
        return f"{self.base_url}/device"

    @property
    def introspection_url(self) -> str:
        return f"{self.base_url}/introspect"

    @property
    def revocation_url(self) -> str:
        return f"{self.base_url}/revoke"

    def add_client(self, client_id: str, secret: str) -> None:
        """Register a confidential client (one with a secret, like Google's)."""
        with self._lock:
            self._clients[client_id] = _Client(client_id, secret)

    def introspect(self, token: str) -> dict[str, Any]:
        """What the introspection endpoint answers for ``token`` (for in-process checks)."""
        with self._lock:
            self.introspections += 1
            found = self._by_access(token)
            if found is None or found.is_expired() or found.is_revoked():
                return {"active": False}
            return self._introspection_payload(found)

    # -- what tests do to the provider ---------------------------------------------------

    def tokens(self, user: str | None = None) -> list[IssuedToken]:
        with self._lock:
            return [t for t in self._tokens if user is None or t.user == user.lower()]

    def revoke_user(self, user: str) -> int:
        """Revoke every token of ``user`` (what "sign out everywhere" or an admin does)."""
        with self._lock:
            found = [t for t in self._tokens if t.user == user.lower()]
            for t in found:
                t.access_revoked = t.refresh_revoked = True
            return len(found)

    def revoke_access_tokens(self, user: str) -> int:
        """Revoke ``user``'s access tokens only; their refresh tokens stay good."""
        with self._lock:
            found = [t for t in self._tokens if t.user == user.lower() and not t.access_revoked]
            for t in found:
                t.access_revoked = True
            return len(found)

    def approve_device(self, user_code: str, user: str, *, approve: bool = True) -> None:
        """Do what the user does on the verification page, without the page."""
        with self._lock:
            if not any(d["user_code"] == user_code for d in self._devices.values()):
                raise SandboxError(f"no device sign-in waits for the code {user_code!r}")
            self._device_grants[user_code] = (user.lower(), approve)

    def id_token_claims(self, id_token: str) -> dict[str, Any]:
        """Verify an id_token this server signed and return its claims."""
        return dict(jwt.decode(id_token, self._signing_key).claims)

    # -- internals -------------------------------------------------------------------

    def _by_access(self, token: str) -> IssuedToken | None:
        for t in self._tokens:
            if t.access_token == token:
                return t
        return None

    def _by_refresh(self, token: str) -> IssuedToken | None:
        for t in self._tokens:
            if t.refresh_token == token:
                return t
        return None

    def _introspection_payload(self, t: IssuedToken) -> dict[str, Any]:
        return {"active": True, "client_id": t.client_id, "token_type": "Bearer",
                "username": t.user, "sub": t.user, "scope": t.scope,
                "exp": int(t.issued_at + t.expires_in), "iat": int(t.issued_at),
                "iss": self.base_url}

    def _query_client(self, client_id: str) -> _Client | None:
        with self._lock:
            known = self._clients.get(client_id)
        if known is not None:
            return known
        # Any other id is a public client, as the real providers' defaults are for maild.
        return _Client(client_id) if client_id else None

    def _generate_token(self, grant_type: str, client: _Client, user: str | None = None,
                        scope: str | None = None, expires_in: int | None = None,
                        include_refresh_token: bool = True) -> dict[str, Any]:
        now = self.clock()
        token: dict[str, Any] = {
            "token_type": "Bearer",
            "access_token": secrets.token_urlsafe(32),
            "expires_in": expires_in or self.access_lifetime,
            "scope": scope or "",
        }
        if include_refresh_token:
            token["refresh_token"] = secrets.token_urlsafe(40)
        if user and "openid" in (scope or "").split():
            claims = {"iss": self.base_url, "sub": user, "aud": client.client_id,
                      "iat": int(now), "exp": int(now) + 3600, "email": user,
                      "preferred_username": user}
            token["id_token"] = jwt.encode({"alg": "HS256"}, claims, self._signing_key)
        return token

    def _save_token(self, token: Mapping[str, Any], req: Any) -> None:
        with self._lock:
            issued = IssuedToken(
                client_id=req.client.client_id, user=str(req.user), scope=token["scope"],
                access_token=token["access_token"], refresh_token=token.get("refresh_token"),
                issued_at=self.clock(), expires_in=int(token["expires_in"]),
                # Through self, so that a clock replaced later applies to this token too.
                grant_type=req.payload.grant_type or "", _clock=lambda: self.clock())
            self._tokens.append(issued)
            self.issued[issued.grant_type] += 1

    def _make_app(self) -> Flask:
        app = Flask(f"maild-oauth-sandbox-{id(self)}")
        server = AuthorizationServer(app, query_client=self._query_client,
                                     save_token=self._save_token)
        server.register_token_generator("default", self._generate_token)
        sandbox = self

        class AuthorizationCode(grants.AuthorizationCodeGrant):  # type: ignore[misc]
            TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = _ANY_CLIENT_AUTH

            def save_authorization_code(self, code: str, req: Any) -> None:
                data = req.payload.data
                with sandbox._lock:
                    sandbox._codes[code] = _Code(
                        code=code, client_id=req.client.client_id,
                        redirect_uri=req.payload.redirect_uri or "", scope=req.scope or "",
                        user=str(req.user), code_challenge=data.get("code_challenge"),
                        code_challenge_method=data.get("code_challenge_method"),
                        expires_at=sandbox.clock() + CODE_LIFETIME)

            def query_authorization_code(self, code: str, client: _Client) -> _Code | None:
                with sandbox._lock:
                    found = sandbox._codes.get(code)
                if (found is None or found.client_id != client.client_id
                        or found.expires_at < sandbox.clock()):
                    return None
                return found

            def delete_authorization_code(self, authorization_code: _Code) -> None:
                with sandbox._lock:
                    sandbox._codes.pop(authorization_code.code, None)

            def authenticate_user(self, authorization_code: _Code) -> str:
                return authorization_code.user

        class RefreshToken(grants.RefreshTokenGrant):  # type: ignore[misc]
            TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = _ANY_CLIENT_AUTH
            # Microsoft hands out a new refresh token with every refresh.
            INCLUDE_NEW_REFRESH_TOKEN = True

            def authenticate_refresh_token(self, refresh_token: str) -> IssuedToken | None:
                with sandbox._lock:
                    found = sandbox._by_refresh(refresh_token)
                if found is None or found.refresh_revoked:
                    return None
                return found

            def authenticate_user(self, refresh_token: IssuedToken) -> str:
                return refresh_token.user

            def revoke_old_credential(self, refresh_token: IssuedToken) -> None:
                with sandbox._lock:
                    refresh_token.refresh_revoked = True

        class DeviceCode(DeviceCodeGrant):  # type: ignore[misc]
            def query_device_credential(self, device_code: str) -> _DeviceCredential | None:
                with sandbox._lock:
                    return sandbox._devices.get(device_code)

            def query_user_grant(self, user_code: str) -> tuple[str, bool] | None:
                with sandbox._lock:
                    return sandbox._device_grants.get(user_code)

            def should_slow_down(self, credential: _DeviceCredential) -> bool:
                return False

        class DeviceAuthorization(DeviceAuthorizationEndpoint):  # type: ignore[misc]
            EXPIRES_IN = DEVICE_CODE_LIFETIME
            INTERVAL = sandbox.device_interval

            def get_verification_uri(self) -> str:
                return sandbox.verification_url

            def save_device_credential(self, client_id: str, scope: str,
                                       data: dict[str, Any]) -> None:
                credential = _DeviceCredential(
                    client_id=client_id, scope=scope or "",
                    expires_at=sandbox.clock() + data["expires_in"], **data)
                credential.clock = lambda: sandbox.clock()
                with sandbox._lock:
                    sandbox._devices[data["device_code"]] = credential

        class Introspection(IntrospectionEndpoint):  # type: ignore[misc]
            def query_token(self, token_string: str, token_type_hint: str | None
                            ) -> IssuedToken | None:
                with sandbox._lock:
                    sandbox.introspections += 1
                    return sandbox._by_access(token_string)

            def check_permission(self, token: IssuedToken, client: _Client, req: Any) -> bool:
                return client.resource_server

            def introspect_token(self, token: IssuedToken) -> dict[str, Any]:
                return sandbox._introspection_payload(token)

        class Revocation(RevocationEndpoint):  # type: ignore[misc]
            CLIENT_AUTH_METHODS: ClassVar[list[str]] = _ANY_CLIENT_AUTH

            def query_token(self, token_string: str, token_type_hint: str | None
                            ) -> IssuedToken | None:
                with sandbox._lock:
                    return sandbox._by_access(token_string) or sandbox._by_refresh(token_string)

            def revoke_token(self, token: IssuedToken, req: Any) -> None:
                with sandbox._lock:
                    token.access_revoked = token.refresh_revoked = True

        server.register_grant(AuthorizationCode, [CodeChallenge(required=True)])
        server.register_grant(RefreshToken)
        server.register_grant(DeviceCode)
        server.register_endpoint(DeviceAuthorization)
        server.register_endpoint(Introspection)
        server.register_endpoint(Revocation)

        @app.route("/authorize", methods=["GET", "POST"])
        def authorize() -> Any:
            try:
                grant = server.get_consent_grant(end_user=None)
            except OAuth2Error as error:
                return Response(_page("Sign-in error", f"<p>{html.escape(error.error)}: "
                                      f"{html.escape(error.description or '')}</p>"),
                                status=400, content_type="text/html")
            if request.method == "GET":
                hint = request.args.get("login_hint", "")
                return Response(_sign_in_page(request.full_path, hint, grant.request.scope),
                                content_type="text/html")
            if request.form.get("decision") == "deny":
                return server.create_authorization_response(grant_user=None, grant=grant)
            user = sandbox._check_user(request.form.get("username", ""),
                                       request.form.get("password", ""))
            if user is None:
                return Response(_page("Sign-in failed", "<p>Wrong username or password.</p>"),
                                status=401, content_type="text/html")
            return server.create_authorization_response(grant_user=user, grant=grant)

        @app.route("/token", methods=["POST"])
        def token() -> Any:
            return server.create_token_response()

        @app.route("/devicecode", methods=["POST"])
        def device_code() -> Any:
            return server.create_endpoint_response(DeviceAuthorization.ENDPOINT_NAME)

        @app.route("/device", methods=["GET", "POST"])
        def device() -> Any:
            if request.method == "GET":
                return Response(_device_page(request.args.get("user_code", "")),
                                content_type="text/html")
            user = sandbox._check_user(request.form.get("username", ""),
                                       request.form.get("password", ""))
            if user is None:
                return Response(_page("Sign-in failed", "<p>Wrong username or password.</p>"),
                                status=401, content_type="text/html")
            try:
                sandbox.approve_device(request.form.get("user_code", "").strip().upper(), user,
                                       approve=request.form.get("decision") != "deny")
            except SandboxError:
                return Response(_page("Unknown code", "<p>That code is not valid.</p>"),
                                status=400, content_type="text/html")
            return Response(_page("Done", "<p>You can return to your device.</p>"),
                            content_type="text/html")

        @app.route("/introspect", methods=["POST"])
        def introspect() -> Any:
            return server.create_endpoint_response(Introspection.ENDPOINT_NAME)

        @app.route("/revoke", methods=["POST"])
        def revoke() -> Any:
            return server.create_endpoint_response(Revocation.ENDPOINT_NAME)

        @app.route("/.well-known/openid-configuration")
        def discovery() -> Any:
            return {
                "issuer": sandbox.base_url,
                "authorization_endpoint": sandbox.authorize_url,
                "token_endpoint": sandbox.token_url,
                "device_authorization_endpoint": sandbox.device_url,
                "introspection_endpoint": sandbox.introspection_url,
                "revocation_endpoint": sandbox.revocation_url,
                "grant_types_supported": ["authorization_code", "refresh_token",
                                          DEVICE_CODE_GRANT_TYPE],
                "code_challenge_methods_supported": ["S256"],
                "response_types_supported": ["code"],
            }

        # Werkzeug logs every request line at INFO; query strings carry codes and states.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        return app

    def _check_user(self, username: str, password: str) -> str | None:
        username = username.strip().lower()
        if not username or not hmac.compare_digest(password, self.password):
            return None
        return username


def _page(title: str, body: str) -> str:
    return (f"<!doctype html><html><head><meta charset=utf-8><title>{html.escape(title)}"
            f"</title></head><body><h1>{html.escape(title)}</h1>{body}</body></html>")


def _sign_in_page(action: str, hint: str, scope: str | None) -> str:
    scopes = "".join(f"<li>{html.escape(s)}</li>" for s in (scope or "").split())
    form = (f'<form method="post" action="{html.escape(action)}">'
            f'<label>Username <input name="username" value="{html.escape(hint)}"></label>'
            '<label>Password <input name="password" type="password"></label>'
            f"<p>The application asks for:</p><ul>{scopes}</ul>"
            '<button name="decision" value="allow">Allow</button>'
            '<button name="decision" value="deny">Deny</button></form>')
    return _page("Sign in to the maild sandbox", form)


def _device_page(user_code: str) -> str:
    form = ('<form method="post" action="/device">'
            f'<label>Code <input name="user_code" value="{html.escape(user_code)}"></label>'
            '<label>Username <input name="username"></label>'
            '<label>Password <input name="password" type="password"></label>'
            '<button name="decision" value="allow">Allow</button>'
            '<button name="decision" value="deny">Deny</button></form>')
    return _page("Enter the code shown on your device", form)


def form_action(page: str) -> str:
    """Where a sandbox page's form posts to, for a test acting as the user's browser."""
    found = re.search(r'<form method="post" action="([^"]+)"', page)
    if found is None:
        raise SandboxError("not a sandbox sign-in page")
    return html.unescape(found[1])
