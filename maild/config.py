"""config.toml: reading it into frozen, validated objects.

Every problem is reported as a ``ConfigError`` naming the file, the key (as a dotted
path such as ``accounts[0].imap.port``) and what is wrong, so the CLI can print one line.
Secrets are never part of the file: an account names *where* its password comes from.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from maild.core.playbooks import merge_overrides
from maild.core.rules import Rules
from maild.core.timing import SendingWindow
from maild.errors import ConfigError

Security = Literal["tls", "starttls", "none"]
SaveSentCopy = Literal["auto", "always", "never"]
AuthMethod = Literal["password", "xoauth2", "oauth2"]
SECURITY_CHOICES: tuple[Security, ...] = ("tls", "starttls", "none")
SAVE_SENT_CHOICES: tuple[SaveSentCopy, ...] = ("auto", "always", "never")
AUTH_CHOICES: tuple[AuthMethod, ...] = ("password", "xoauth2", "oauth2")
OAUTH_PROVIDERS = ("microsoft", "google", "custom")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_EMAIL = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")
_WINDOW = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


@dataclass(frozen=True)
class Identity:
    name: str
    email: str
    role: str
    timezone: str
    institution: str = ""


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    security: Security
    # A CA bundle to trust in addition to the system's, for a local bridge or a sandbox.
    ca_file: str | None = None


@dataclass(frozen=True)
class PasswordSource:
    """Where a secret comes from; exactly one of the three is set."""

    keyring: str | None = None
    command: str | None = None
    env: str | None = None

    @property
    def kind(self) -> str:
        return "keyring" if self.keyring else "command" if self.command else "env"


@dataclass(frozen=True)
class OAuthSettings:
    """How an ``auth = "oauth2"`` account signs in; empty values take the preset's.

    ``provider`` names a preset in ``maild.providers`` ("microsoft", "google") or is
    "custom", which needs every URL, the scopes and the client id spelt out. The URLs
    also override a preset's (a school's own identity provider, or a local test one).
    """

    provider: str
    client_id: str = ""
    # Google's "client secret" of an installed app is not a secret (Google says so: it
    # ships inside every copy of the app), which is why it may sit in config.toml.
    client_secret: str = ""
    tenant: str = ""
    authorize_url: str = ""
    token_url: str = ""
    device_url: str = ""
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Folders:
    """Folder names, when SPECIAL-USE discovery is not enough (empty = discover)."""

    inbox: str = "INBOX"
    sent: str = ""
    drafts: str = ""


@dataclass(frozen=True)
class Account:
    name: str
    email: str
    username: str
    imap: Endpoint
    smtp: Endpoint
    password: PasswordSource
    auth: AuthMethod = "password"
    save_sent_copy: SaveSentCopy = "auto"
    folders: Folders = field(default_factory=Folders)
    # Set exactly when auth = "oauth2"; ``password`` then says where the refresh token is.
    oauth: OAuthSettings | None = None


@dataclass(frozen=True)
class Sending:
    days: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri")
    window_start: time = time(8, 0)
    window_end: time = time(17, 0)
    # "always": every draft waits for the user. Step names listed in auto_approve
    # ("cold.nudge", or "*" for all) are sent without asking; invariant 1 allows this
    # only because the user wrote it down here.
    approval: Literal["always", "auto"] = "always"
    auto_approve: tuple[str, ...] = ()
    rate_per_hour: int = 20
    daily_cap: int = 60
    digest: bool = False
    # Copies of waiting, complete drafts in the Drafts folder, to read on a phone;
    # replaced when the draft changes, removed (only maild's own copies) once it is
    # sent or rejected (app/mirror.py). Off for those who would rather not.
    mirror_drafts: bool = True


# The page's port: outside the ranges development servers and other local tools reach
# for first (3000, 5000, 8000, 8080, 8888...) and below the kernel's ephemeral ports.
DEFAULT_UI_PORT = 8731


@dataclass(frozen=True)
class Ui:
    """The local web page (``maild ui``): always on 127.0.0.1, never another address."""

    # 0 lets the system pick a free port (tests; the URL file says which).
    port: int = DEFAULT_UI_PORT
    # Whether the daemon serves the page too (``maild ui`` can always serve it itself).
    serve: bool = True


@dataclass(frozen=True)
class Watch:
    """How the IMAP watchers reconnect after an outage (seconds)."""

    reconnect_min: float = 1.0      # the first back-off, doubled at each failure ...
    reconnect_max: float = 300.0    # ... up to this
    # While the server cannot be reached, a TCP connect this often ends the back-off
    # as soon as it is back (0: off).
    probe_every: float = 2.0


@dataclass(frozen=True)
class Config:
    path: Path
    identity: Identity
    accounts: tuple[Account, ...]
    sending: Sending = field(default_factory=Sending)
    # Raw per-playbook overrides; the core validates them against the playbook schema.
    playbooks: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    attachments: Mapping[str, str] = field(default_factory=dict)
    watch: Watch = field(default_factory=Watch)
    ui: Ui = field(default_factory=Ui)

    def account(self, name: str | None) -> Account:
        if name is None:
            return self.accounts[0]
        for account in self.accounts:
            if account.name == name:
                return account
        known = ", ".join(a.name for a in self.accounts)
        raise ConfigError(str(self.path), f"no account named {name!r} (known: {known})")

    @property
    def own_addresses(self) -> frozenset[str]:
        return frozenset(
            {self.identity.email.lower()} | {a.email.lower() for a in self.accounts}
        )


class _Table:
    """A TOML table being read, remembering its dotted path for error messages."""

    def __init__(self, data: Mapping[str, Any], where: str, file: str) -> None:
        self.data = data
        self.where = where
        self.file = file
        self.used: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.where}.{name}" if self.where else name

    def error(self, name: str | None, problem: str) -> ConfigError:
        return ConfigError(self.file, problem, self.key(name) if name else self.where or None)

    def get(self, name: str, kind: type, default: Any = ..., required: bool = True) -> Any:
        self.used.add(name)
        if name not in self.data:
            if default is not ...:
                return default
            raise self.error(name, "is required")
        value = self.data[name]
        if kind is int and isinstance(value, bool):
            raise self.error(name, "must be an integer")
        if not isinstance(value, kind):
            raise self.error(name, f"must be {_kind_name(kind)}, not {_kind_name(type(value))}")
        if kind is str and required and not cast(str, value).strip():
            raise self.error(name, "must not be empty")
        return value

    def choice(self, name: str, choices: tuple[str, ...], default: str) -> str:
        value = self.get(name, str, default)
        if value not in choices:
            raise self.error(name, f"must be one of {', '.join(choices)}, not {value!r}")
        return cast(str, value)

    def table(self, name: str, default: Mapping[str, Any] | None = None) -> _Table:
        value = self.get(name, dict, default if default is not None else ...)
        return _Table(value, self.key(name), self.file)

    def email(self, name: str, default: Any = ...) -> str:
        value = cast(str, self.get(name, str, default))
        if value and not _EMAIL.match(value):
            raise self.error(name, f"{value!r} is not an email address")
        return value

    def finish(self) -> None:
        """Reject unknown keys: a typo must not silently fall back to a default."""
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise self.error(unknown[0], "unknown key (check the spelling)")


def _kind_name(kind: type) -> str:
    return {str: "a string", int: "an integer", dict: "a table", list: "a list",
            bool: "true or false"}.get(kind, kind.__name__)


def load(path: Path) -> Config:
    """Read and validate ``path``; raise ConfigError with one clear line otherwise."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(str(path), "not found; run `maild init` to create it") from None
    except OSError as exc:
        raise ConfigError(str(path), f"cannot be read ({exc.strerror})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(str(path), "is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), f"is not valid TOML: {exc}") from None
    return parse(data, path)


def parse(data: Mapping[str, Any], path: Path) -> Config:
    top = _Table(data, "", str(path))
    identity = _identity(top.table("identity"))
    raw_accounts = top.get("accounts", list)
    if not raw_accounts:
        raise top.error("accounts", "must list at least one [[accounts]] table")
    accounts = []
    for index, item in enumerate(raw_accounts):
        if not isinstance(item, dict):
            raise top.error(f"accounts[{index}]", "must be a table ([[accounts]])")
        accounts.append(_account(_Table(item, f"accounts[{index}]", str(path))))
    names = [a.name for a in accounts]
    for name in names:
        if names.count(name) > 1:
            raise top.error("accounts", f"account name {name!r} is used twice")
    sending = _sending(top.table("sending", {}))
    playbooks_table = top.table("playbooks", {})
    playbooks = {name: playbooks_table.table(name).data for name in list(playbooks_table.data)}
    # The core owns the playbook schema; validating here makes a typo fail at load time.
    merge_overrides(playbooks, source=str(path))
    attachments_table = top.table("attachments", {})
    attachments = {k: attachments_table.get(k, str) for k in list(attachments_table.data)}
    watch = _watch(top.table("watch", {}))
    ui = _ui(top.table("ui", {}))
    top.finish()
    return Config(
        path=path,
        identity=identity,
        accounts=tuple(accounts),
        sending=sending,
        playbooks=playbooks,
        attachments=attachments,
        watch=watch,
        ui=ui,
    )


def _identity(t: _Table) -> Identity:
    tz = t.get("timezone", str)
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise t.error("timezone", f"{tz!r} is not a known time zone (e.g. America/New_York)")\
            from None
    identity = Identity(
        name=t.get("name", str),
        email=t.email("email"),
        role=t.get("role", str, "", required=False),
        timezone=tz,
        institution=t.get("institution", str, "", required=False),
    )
    t.finish()
    return identity


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine (localhost, 127.0.0.0/8, ::1)."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _endpoint(t: _Table, default_port: dict[str, int]) -> Endpoint:
    security = cast(Security, t.choice("security", SECURITY_CHOICES, "tls"))
    port = t.get("port", int, default_port[security])
    if not 0 < port < 65536:
        raise t.error("port", f"must be between 1 and 65535, not {port}")
    ca_file = t.get("ca_file", str, None)
    host = t.get("host", str)
    if security == "none" and not is_loopback(host):
        # The password would cross the network in the clear; only a local bridge (a
        # provider's app on this machine, e.g. Proton Mail Bridge) may listen in plain.
        raise t.error("security", f'"none" (plain text) is allowed only for a loopback '
                      f'address such as 127.0.0.1 (a local bridge), not {host!r}: use '
                      f'"tls" (port 993 / 465) or "starttls" (port 143 / 587)')
    endpoint = Endpoint(host=host, port=port, security=security, ca_file=ca_file)
    t.finish()
    return endpoint


def _password(t: _Table, auth: str) -> PasswordSource:
    if "password" not in t.data and auth == "oauth2":
        # `maild auth login` keeps the refresh token in the keyring unless told otherwise.
        return PasswordSource(keyring="maild")
    if "password" not in t.data:
        raise t.error("password", "is required: {keyring = \"...\"}, {command = \"...\"} or "
                      "{env = \"...\"}")
    if not isinstance(t.data["password"], dict):
        raise t.error("password", "passwords are never stored in config.toml; use "
                      "{keyring = \"...\"}, {command = \"...\"} or {env = \"...\"} "
                      "(`maild auth set` stores one in the keyring)")
    p = t.table("password")
    sources = {k: p.get(k, str) for k in ("keyring", "command", "env") if k in p.data}
    p.finish()
    if len(sources) != 1:
        raise p.error(None, "must have exactly one of keyring, command, env")
    return PasswordSource(**sources)


_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


def _url(t: _Table, name: str) -> str:
    value = cast(str, t.get(name, str, "", required=False))
    if not value:
        return value
    scheme, _, rest = value.partition("://")
    host = rest.split("/", 1)[0].rsplit(":", 1)[0] if rest else ""
    if scheme == "https" and host:
        return value
    if scheme == "http" and host in _LOOPBACK_HOSTS:
        return value  # a local identity provider (a bridge, or the test sandbox)
    raise t.error(name, f"{value!r} must be an https:// URL (http:// only on 127.0.0.1)")


def _oauth(t: _Table) -> OAuthSettings:
    provider = cast(str, t.get("provider", str))
    if provider not in OAUTH_PROVIDERS:
        raise t.error("provider", f"must be one of {', '.join(OAUTH_PROVIDERS)}, "
                                  f"not {provider!r}")
    scopes = t.get("scopes", list, [])
    if not all(isinstance(s, str) and s.strip() for s in scopes):
        raise t.error("scopes", "must be a list of scope strings")
    settings = OAuthSettings(
        provider=provider,
        client_id=t.get("client_id", str, "", required=False),
        client_secret=t.get("client_secret", str, "", required=False),
        tenant=t.get("tenant", str, "", required=False),
        authorize_url=_url(t, "authorize_url"),
        token_url=_url(t, "token_url"),
        device_url=_url(t, "device_url"),
        scopes=tuple(scopes),
    )
    t.finish()
    if provider == "custom":
        missing = [k for k in ("authorize_url", "token_url", "client_id")
                   if not getattr(settings, k)]
        if not settings.scopes:
            missing.append("scopes")
        if missing:
            raise t.error(missing[0], "is required with provider = \"custom\"")
    return settings


def _account(t: _Table) -> Account:
    email = t.email("email")
    folders_t = t.table("folders", {})
    folders = Folders(
        inbox=folders_t.get("inbox", str, "INBOX"),
        sent=folders_t.get("sent", str, "", required=False),
        drafts=folders_t.get("drafts", str, "", required=False),
    )
    folders_t.finish()
    auth = cast(AuthMethod, t.choice("auth", AUTH_CHOICES, "password"))
    oauth = None
    if auth == "oauth2":
        if "oauth" not in t.data:
            raise t.error("oauth", "is required with auth = \"oauth2\": "
                          "oauth = { provider = \"microsoft\" } (or \"google\")")
        oauth = _oauth(t.table("oauth"))
    elif "oauth" in t.data:
        raise t.error("oauth", "is only read with auth = \"oauth2\"")
    account = Account(
        name=t.get("name", str),
        email=email,
        username=t.get("username", str, email),
        imap=_endpoint(t.table("imap"), {"tls": 993, "starttls": 143, "none": 143}),
        smtp=_endpoint(t.table("smtp"), {"tls": 465, "starttls": 587, "none": 25}),
        password=_password(t, auth),
        auth=auth,
        save_sent_copy=cast(SaveSentCopy, t.choice("save_sent_copy", SAVE_SENT_CHOICES, "auto")),
        folders=folders,
        oauth=oauth,
    )
    t.finish()
    return account


def _parse_window(t: _Table, text: str) -> tuple[time, time]:
    match = _WINDOW.match(text.strip())
    if not match:
        raise t.error("window", f"{text!r} must look like 08:00-17:00")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    try:
        start, end = time(h1, m1), time(h2, m2)
    except ValueError:
        raise t.error("window", f"{text!r} is not a valid time range") from None
    if start >= end:
        raise t.error("window", f"{text!r}: the start must be before the end")
    return start, end


def _positive(t: _Table, name: str, default: int) -> int:
    value = cast(int, t.get(name, int, default))
    if value < 1:
        raise t.error(name, f"must be at least 1, not {value}")
    return value


def _seconds(t: _Table, name: str, default: float, *, zero_ok: bool = False) -> float:
    value = t.get(name, object, default)
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not (value >= 0 if zero_ok else value > 0) or value > 86_400:
        low = "0" if zero_ok else "more than 0"
        raise t.error(name, f"must be a number of seconds from {low} to 86400")
    return float(value)


def _watch(t: _Table) -> Watch:
    watch = Watch(reconnect_min=_seconds(t, "reconnect_min", 1.0),
                  reconnect_max=_seconds(t, "reconnect_max", 300.0),
                  probe_every=_seconds(t, "probe_every", 2.0, zero_ok=True))
    if watch.reconnect_max < watch.reconnect_min:
        raise t.error("reconnect_max", "must not be less than reconnect_min")
    t.finish()
    return watch


def _sending(t: _Table) -> Sending:
    days = t.get("days", list, ["mon", "tue", "wed", "thu", "fri"])
    for day in days:
        if day not in WEEKDAYS:
            raise t.error("days", f"{day!r} is not one of {', '.join(WEEKDAYS)}")
    if not days:
        raise t.error("days", "must name at least one day")
    start, end = _parse_window(t, t.get("window", str, "08:00-17:00"))
    auto = t.get("auto_approve", list, [])
    if not all(isinstance(item, str) for item in auto):
        raise t.error("auto_approve", "must be a list of step names such as \"cold.nudge\"")
    sending = Sending(
        days=tuple(days),
        window_start=start,
        window_end=end,
        approval=cast(Literal["always", "auto"], t.choice("approval", ("always", "auto"),
                                                           "always")),
        auto_approve=tuple(auto),
        rate_per_hour=_positive(t, "rate_per_hour", 20),
        daily_cap=_positive(t, "daily_cap", 60),
        digest=t.get("digest", bool, False),
        mirror_drafts=t.get("mirror_drafts", bool, True),
    )
    t.finish()
    return sending


def _ui(t: _Table) -> Ui:
    port = cast(int, t.get("port", int, DEFAULT_UI_PORT))
    if not 0 <= port < 65536:
        raise t.error("port", f"must be between 1 and 65535 (or 0: any free port), not {port}")
    ui = Ui(port=port, serve=t.get("serve", bool, True))
    t.finish()
    return ui


def rules_for(config: Config) -> Rules:
    """The engine's rules from config.toml: playbook overrides and the sending window."""
    sending = config.sending
    window = SendingWindow(days=frozenset(WEEKDAYS.index(d) for d in sending.days),
                           start=sending.window_start, end=sending.window_end)
    return Rules(playbooks=merge_overrides(config.playbooks, source=str(config.path)),
                 window=window)
