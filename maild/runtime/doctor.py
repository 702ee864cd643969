"""``maild doctor``: is this installation able to do its job, and if not, what to fix.

Every check is a small function returning a frozen ``Check``: a name, whether it passed,
one line of detail, and for a problem one line saying how to fix it. The checks cover
the whole path a follow-up takes: config.toml, each account's password source (never
the password) or OAuth2 sign-in (renewed; whose it is, its scopes, until when; never the
token), the keyring backend when an account uses it, IMAP (connection, login,
capabilities, Sent and Drafts), SMTP (connection with TLS, login; nothing is sent), the
files a letter packet attaches, the clock and time zones, the database, the background
service and the daemon lock.

A warning (IMAP without IDLE, a time zone mismatch) is worth knowing but does not make
the doctor fail; a check that depends on one that failed is reported as skipped rather
than as a second, misleading problem.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import ssl
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from maild import paths
from maild.adapters import credentials, oauth
from maild.adapters.credentials import Secret, command_program
from maild.adapters.imap import ImapAuthError, ImapConnection, translated
from maild.adapters.smtp_probe import SmtpProbe, probe
from maild.clock import NOW_ENV, parse_instant
from maild.config import Account, Config, Endpoint, load
from maild.core.timing import range_problem
from maild.errors import ConfigError, CredentialError, MaildError, ProtocolError, StoreError
from maild.providers import PROVIDERS, guess
from maild.runtime import lock, service
from maild.store import SCHEMA_VERSION, Store

DEFAULT_TIMEOUT = 10.0
# A clock before this is a machine whose real-time clock lost power, not a real date.
_EARLIEST_PLAUSIBLE = datetime(2024, 1, 1, tzinfo=UTC)
_REDACTED = "[redacted]"
SENT_FLAG = b"\\Sent"
DRAFTS_FLAG = b"\\Drafts"
# Shorter secrets would blank out ordinary words of the output when redacted.
_MIN_REDACT = 3


class Status(StrEnum):
    OK = "ok"
    WARNING = "warning"
    PROBLEM = "problem"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Check:
    """The outcome of one check; ``ok`` is False only for a problem."""

    name: str
    ok: bool
    detail: str
    fix: str = ""
    warning: bool = False
    skipped: bool = False

    @property
    def status(self) -> Status:
        if not self.ok:
            return Status.PROBLEM
        if self.skipped:
            return Status.SKIPPED
        return Status.WARNING if self.warning else Status.OK

    def line(self) -> str:
        """The check as the one line the CLI prints."""
        text = f"{self.status.value:<8} {self.name}: {self.detail}"
        return f"{text} — {self.fix}" if self.fix else text

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "status": self.status.value, "ok": self.ok,
                "detail": self.detail, "fix": self.fix}


def passed(name: str, detail: str) -> Check:
    return Check(name, True, detail)


def failed(name: str, detail: str, fix: str) -> Check:
    return Check(name, False, detail, fix)


def warned(name: str, detail: str, fix: str = "") -> Check:
    return Check(name, True, detail, fix, warning=True)


def skipped(name: str, why: str) -> Check:
    return Check(name, True, why, skipped=True)


@dataclass(frozen=True)
class Report:
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def count(self, status: Status) -> int:
        return sum(1 for c in self.checks if c.status == status)

    def summary(self) -> str:
        problems, warnings = self.count(Status.PROBLEM), self.count(Status.WARNING)
        if not problems and not warnings:
            return f"all {len(self.checks)} checks passed"
        parts = [f"{problems} problem{'s' * (problems != 1)}"] if problems else []
        if warnings:
            parts.append(f"{warnings} warning{'s' * (warnings != 1)}")
        return ", ".join(parts) + f" in {len(self.checks)} checks"

    def to_json(self) -> dict[str, object]:
        return {"ok": self.ok, "problems": self.count(Status.PROBLEM),
                "warnings": self.count(Status.WARNING),
                "checks": [c.to_json() for c in self.checks]}


@dataclass
class Options:
    """What to examine; ``pin_home`` as for ``maild service`` (the user chose the home)."""

    home: Path
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    account: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    pin_home: bool = False


# -- config and keyring --------------------------------------------------------------


def check_config(opts: Options) -> tuple[Check, Config | None]:
    path = paths.config_path(opts.home)
    try:
        config = load(path)
    except ConfigError as exc:
        fix = ("run `maild init` to create it" if not path.exists()
               else f"edit {path} (`maild config edit`) and run `maild doctor` again")
        return failed("config", exc.message, fix), None
    names = ", ".join(a.name for a in config.accounts)
    plural = "s" if len(config.accounts) != 1 else ""
    return passed("config", f"{path} loads ({len(config.accounts)} account{plural}: "
                            f"{names})"), config


def check_keyring(accounts: Sequence[Account],
                  available: Callable[[], tuple[bool, str]] = credentials.keyring_available
                  ) -> Check:
    users = [a.name for a in accounts if a.password.keyring is not None]
    if not users:
        return passed("keyring", "not needed (no account reads its password from the keyring)")
    usable, reason = available()
    if usable:
        return passed("keyring", f"backend {reason} (used by {', '.join(users)})")
    return failed("keyring", f"no usable keyring backend, but {', '.join(users)} "
                             "read their password from it", credentials.NO_KEYRING_HELP)


# -- one account ---------------------------------------------------------------------


def source_text(account: Account, env: Mapping[str, str]) -> str:
    """Where the account's password comes from, in words that are safe to print."""
    source = account.password
    if source.keyring:
        return f"the keyring ({source.keyring}/{account.username})"
    if source.command:
        return f"the command {command_program(source.command)!r}"
    assert source.env is not None
    if not env.get(source.env) and env.get("CREDENTIALS_DIRECTORY"):
        return f"the systemd credential {source.env}"
    return f"the environment variable {source.env}"


def _password_fix(account: Account) -> str:
    source = account.password
    if account.auth == "oauth2":
        return (f"sign in again: `maild auth login {account.name}`, as {account.username}, "
                "allowing maild to read and send mail (a school may have to allow IMAP/SMTP "
                "access for your account)")
    if account.auth == "xoauth2":
        where = (f"check that `{command_program(source.command)}` prints a fresh access token"
                 if source.command else "check the OAuth2 token (it may have expired)")
    elif source.keyring:
        where = f"check the password: `maild auth set {account.name}`"
    elif source.env:
        where = f"check the password in ${source.env}"
    else:
        where = f"check what `{command_program(source.command or '')}` prints (its first line)"
    provider = _provider(account)
    if provider == "other":
        hint = "Gmail, iCloud and Fastmail need an app password; Microsoft 365 often OAuth2"
    else:
        p = PROVIDERS[provider]
        hint = f"{p.label}: {p.password_hint}"
    return f"{where} ({hint})"


def _provider(account: Account) -> str:
    hosts = {account.imap.host.lower(), account.smtp.host.lower()}
    for key, p in PROVIDERS.items():
        if p.imap_host and (p.imap_host in hosts or p.smtp_host in hosts):
            return key
    return guess(account.email)


def _credential_fix(account: Account, error: CredentialError) -> str:
    source = account.password
    if account.auth == "oauth2" and source.keyring:
        return f"sign in: `maild auth login {account.name}`"
    if source.keyring:
        if "no usable keyring" in error.message:
            return credentials.NO_KEYRING_HELP
        return f"store it: `maild auth set {account.name}`"
    if source.env:
        return (f"set {source.env} in the environment maild runs in (for the systemd "
                f"service: a credential named {source.env} via LoadCredential=)")
    return (f"run the command yourself to see why it fails, or change "
            f"accounts[].password for {account.name} in config.toml")


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


_REASONS = (("connection refused", "connection refused (nothing listens there)"),
            ("timed out", "no answer (timed out)"),
            ("name or service not known", "the host name does not resolve"),
            ("temporary failure in name resolution", "the host name does not resolve"),
            ("nodename nor servname", "the host name does not resolve"))


def _reason(error: str) -> str:
    """The useful end of a library's error line ("... failed: X: why" -> a plain why)."""
    lowered = error.lower()
    for needle, plain in _REASONS:
        if needle in lowered:
            return plain
    _, sep, tail = error.partition(" failed: ")
    return tail if sep else error


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _connect_fix(endpoint: Endpoint, key: str, error: str) -> str:
    """How to fix a connection that failed, from the words of the error."""
    lowered = error.lower()
    if "certificate" in lowered:
        return (f"the server's certificate is not trusted for {endpoint.host}: check "
                f"{key}.host; for a local bridge or a private CA set {key}.ca_file")
    if "name or service not known" in lowered or "gaierror" in lowered or \
            "nodename nor servname" in lowered or "temporary failure in name" in lowered:
        return f"the host name {endpoint.host!r} does not resolve: check {key}.host"
    if "timed out" in lowered or "timeout" in lowered:
        return (f"no answer within the time limit: check {key}.host and {key}.port, "
                "your network, or a firewall; a port expecting TLS while security is "
                "\"none\" (or the reverse) also looks like this")
    if "wrong version number" in lowered or "unexpected eof" in lowered or \
            "handshake" in lowered or "starttls" in lowered:
        return (f"the TLS setting does not match the server: try {key}.security = "
                "\"tls\" (usually port 993/465) or \"starttls\" (143/587)")
    if "refused" in lowered:
        return (f"the server is down, or {key}.host / {key}.port in config.toml are wrong "
                f"(now {endpoint.host}:{endpoint.port})")
    return (f"is the server running? check {key}.host, {key}.port and {key}.security "
            f"in config.toml (now {endpoint.host}:{endpoint.port}, {endpoint.security})")


@dataclass
class AccountProbe:
    """What the checks of one account learned so far (shared along the chain)."""

    account: Account
    key: str  # "accounts[0]", for messages that point into config.toml
    env: Mapping[str, str]
    timeout: float
    secret: Secret | None = None
    # The secret as text, to blank out of what is shown (an OAuth2 access token).
    secret_text: str | None = None
    imap: ImapConnection | None = None
    imap_login_error: str | None = None  # the server's words when it refused the login
    imap_seconds: float = 0.0
    smtp: SmtpProbe | None = None

    @property
    def label(self) -> str:
        return self.account.name

    def name(self, what: str) -> str:
        return f"{self.account.name}: {what}"

    def close(self) -> None:
        if self.imap is not None:
            self.imap.close()
            self.imap = None


def check_password(p: AccountProbe) -> Check:
    if p.account.auth == "oauth2":
        return check_sign_in(p)
    name = p.name("password")
    source = source_text(p.account, p.env)
    try:
        p.secret = p.secret_text = credentials.resolve(p.account.password,
                                                       p.account.username, p.env)
    except CredentialError as exc:
        return failed(name, f"cannot be obtained from {source}: {exc.message}",
                      _credential_fix(p.account, exc))
    return passed(name, f"obtained from {source} (not shown)")


def _scope_name(scope: str) -> str:
    # "https://outlook.office.com/IMAP.AccessAsUser.All" reads better as its path alone;
    # "https://mail.google.com/" has none and stays whole.
    return urlsplit(scope).path.strip("/") or scope


def check_sign_in(p: AccountProbe) -> Check:
    """An OAuth2 account: renew the access token and show whose it is, what it allows,
    and until when (never the token)."""
    name = p.name("sign-in")
    account = p.account
    login = f"`maild auth login {account.name}`"
    try:
        client = oauth.client_for(account)
    except ConfigError as exc:
        return failed(name, exc.problem, "see docs/signin.md (registering a client)")
    secrets = credentials.Secrets(p.env)
    source = credentials.refresh_token_source(account, p.env)
    try:
        token = secrets.access_token(account)
    except oauth.SignInExpiredError as exc:
        return failed(name, exc.message.removeprefix(f"{account.name}: "),
                      f"sign in again: {login}")
    except CredentialError as exc:
        if "not signed in yet" in exc.message or "no usable keyring" in exc.message:
            fix = (credentials.NO_KEYRING_HELP if "no usable keyring" in exc.message
                   else f"sign in: {login} (your browser opens {client.label}'s page)")
            return failed(name, exc.message.split("; run ")[0], fix)
        if account.password.keyring is None and "refresh" not in exc.message:
            return failed(name, f"no refresh token from {source}: {exc.message}",
                          _credential_fix(account, exc))
        return failed(name, exc.message, f"check this machine's network access to "
                                         f"{client.host}, then run `maild doctor` again")
    p.secret = credentials.TokenSecret(secrets, account)
    p.secret_text = token.value
    who = token.account or "an account the provider did not name"
    scopes = ", ".join(_scope_name(s) for s in token.scopes) or "none listed"
    left = token.remaining(secrets.now())
    until = (f"access token valid until {token.expires_at.astimezone():%H:%M} "
             f"({max(0, int(left.total_seconds() // 60))} min, renewed by maild)"
             if token.expires_at is not None and left is not None
             else "access token without an expiry")
    detail = (f"{client.label} as {who}; scopes: {scopes}; {until}; refresh token "
              f"from {source} (not shown)")
    if token.account and token.account not in (account.username.lower(),
                                               account.email.lower()):
        return failed(name, f"signed in to {client.label} as {token.account}, but the "
                            f"account logs in as {account.username}",
                      f"{login} and sign in as {account.username}")
    missing = [s for s in dict.fromkeys((client.imap_scope, client.smtp_scope))
               if s and s not in token.scopes]
    if missing:
        return warned(name, detail + f"; not granted: {', '.join(map(_scope_name, missing))}",
                      f"{login} again and allow every permission asked for; if it is "
                      "still missing, your school's administrator has to allow it")
    return passed(name, detail)


def _tls_words(sock: object) -> str:
    if isinstance(sock, ssl.SSLSocket | ssl.SSLObject):
        return f"{sock.version() or 'TLS'}, certificate verified"
    return "plain text"


def check_imap_connection(p: AccountProbe) -> Check:
    name = p.name("IMAP connection")
    endpoint = p.account.imap
    if p.secret is None:
        return skipped(name, "needs the password")
    started = time.perf_counter()
    try:
        p.imap = ImapConnection.open(p.account, p.secret, timeout=p.timeout)
    except ImapAuthError as exc:
        # Reaching the login means the connection itself works; the login check says why.
        words = exc.message.removeprefix("IMAP login refused: ")
        # imapclient hands over the server's text as the repr of bytes: b'[AUTH...] ...'.
        if len(words) > 3 and words[:2] in ("b'", 'b"') and words[-1] == words[1]:
            words = words[2:-1]
        p.imap_login_error = words
        return passed(name, f"{endpoint.host}:{endpoint.port} answers "
                            f"(security = {endpoint.security!r})")
    except ProtocolError as exc:
        reason = _reason(exc.message)
        return failed(name, f"cannot connect to {endpoint.host}:{endpoint.port} "
                            f"(security = {endpoint.security!r}): {reason}",
                      _connect_fix(endpoint, f"{p.key}.imap", exc.message))
    p.imap_seconds = time.perf_counter() - started
    tls = _tls_words(p.imap.client.socket())
    detail = f"{endpoint.host}:{endpoint.port}, {tls}"
    if endpoint.security == "none" and not _is_loopback(endpoint.host):
        return warned(name, detail + ": the password crosses the network unencrypted",
                      f"set {p.key}.imap.security = \"tls\" (port 993) or \"starttls\"")
    return passed(name, detail)


def check_imap_login(p: AccountProbe) -> Check:
    name = p.name("IMAP login")
    user = p.account.username
    if p.imap_login_error is not None:
        return failed(name, f"IMAP login refused by {p.account.imap.host} for {user}: "
                            f"{p.imap_login_error}", _password_fix(p.account))
    if p.imap is None:
        return skipped(name, "needs a working IMAP connection")
    return passed(name, f"logged in as {user} ({_ms(p.imap_seconds)} to connect and "
                        "log in)")


def check_imap_capabilities(p: AccountProbe) -> Check:
    name = p.name("IMAP capabilities")
    if p.imap is None:
        return skipped(name, "needs an IMAP login")
    try:
        caps = p.imap.capabilities
    except ProtocolError as exc:
        return failed(name, exc.message, "run `maild doctor` again; if it persists, the "
                                         "server is misbehaving")
    have = [c for c in ("IDLE", "SPECIAL-USE", "CONDSTORE") if c in caps]
    notes = []
    if "SPECIAL-USE" not in caps:
        notes.append("no SPECIAL-USE: Sent and Drafts are found by their usual names")
    if "CONDSTORE" not in caps:
        notes.append("no CONDSTORE: catch-up relies on UIDs alone, which is enough")
    detail = ", ".join(have) or "none of IDLE, SPECIAL-USE, CONDSTORE"
    if notes:
        detail += " (" + "; ".join(notes) + ")"
    if "IDLE" not in caps:
        return warned(name, detail + "; no IDLE: maild will poll for new mail every minute "
                      "instead of hearing of it at once", "nothing to do; replies are still "
                      "seen, just up to a minute later")
    return passed(name, detail)


def check_folders(p: AccountProbe) -> Check:
    name = p.name("Sent and Drafts")
    if p.imap is None:
        return skipped(name, "needs an IMAP login")
    conf = p.account.folders
    try:
        found = p.imap.folders()
        with translated("LIST"):
            listed = p.imap.client.list_folders()
    except ProtocolError as exc:
        return failed(name, exc.message, "run `maild doctor` again; if it persists, the "
                                         "server is misbehaving")
    existing = {str(n): flags for flags, _delim, n in listed}
    shown = ", ".join(sorted(existing)[:12]) or "none"

    def how(folder: str, configured: str, flag: bytes) -> str:
        if configured:
            return "configured"
        return "SPECIAL-USE" if flag in existing.get(folder, ()) else "found by name"

    # folders() returns a configured name as is; only LIST tells whether it exists.
    for role, configured in (("sent", conf.sent), ("drafts", conf.drafts)):
        if configured and configured not in existing:
            return failed(name, f"the configured {role} folder {configured!r} does not exist "
                                f"on the server (folders: {shown})",
                          f"set {p.key}.folders.{role} in config.toml to one of those")
    if found.sent is None:
        return failed(name, f"no Sent folder found (folders: {shown}); mail you send from "
                            "your own mail program would go unnoticed",
                      f"set {p.key}.folders.sent in config.toml to your Sent folder's name")
    sent = f"Sent = {found.sent!r} ({how(found.sent, conf.sent, SENT_FLAG)})"
    if found.drafts is None:
        return warned(name, f"{sent}; no Drafts folder found (folders: {shown})",
                      f"set {p.key}.folders.drafts in config.toml if yours has another name")
    drafts = f"Drafts = {found.drafts!r} ({how(found.drafts, conf.drafts, DRAFTS_FLAG)})"
    return passed(name, f"{sent}, {drafts}")


def run_smtp_probe(p: AccountProbe) -> None:
    if p.secret is not None:
        p.smtp = asyncio.run(probe(p.account, p.secret, timeout=p.timeout))


def check_smtp_connection(p: AccountProbe) -> Check:
    name = p.name("SMTP connection")
    endpoint = p.account.smtp
    result = p.smtp
    if result is None:
        return skipped(name, "needs the password")
    where = f"{endpoint.host}:{endpoint.port} (security = {endpoint.security!r})"
    if result.failed == "connect":
        return failed(name, f"cannot connect to {where}: {_reason(result.error)}",
                      _connect_fix(endpoint, f"{p.key}.smtp", result.error))
    if result.failed == "tls":
        return failed(name, f"connected to {where}, but TLS failed: {result.error}",
                      _connect_fix(endpoint, f"{p.key}.smtp", "tls " + result.error))
    seconds = _ms(result.connect_seconds or 0.0)
    if result.tls is None:
        detail = f"{where}, plain text, {seconds}"
        if not _is_loopback(endpoint.host):
            return warned(name, detail + ": the password crosses the network unencrypted",
                          f"set {p.key}.smtp.security = \"tls\" (port 465) or \"starttls\" "
                          "(port 587)")
        return passed(name, detail)
    issuer = f" (issuer {result.tls.issuer})" if result.tls.issuer else ""
    return passed(name, f"{where}, {result.tls.version}, certificate verified{issuer}, "
                        f"{seconds}")


def check_smtp_login(p: AccountProbe) -> Check:
    name = p.name("SMTP login")
    result = p.smtp
    if result is None or result.failed in ("connect", "tls"):
        return skipped(name, "needs a working SMTP connection")
    user = p.account.username
    if result.failed == "login":
        if result.auth_refused:
            return failed(name, f"SMTP login refused by {p.account.smtp.host} for {user}: "
                                f"{result.error}", _password_fix(p.account))
        return failed(name, f"cannot log in to {p.account.smtp.host}: {result.error}",
                      f"check {p.key}.smtp.security (servers offer login only over TLS) "
                      "and port (587 or 465 for sending, not 25)")
    return passed(name, f"logged in as {user} in {_ms(result.login_seconds or 0.0)}; "
                        "nothing was sent")


ACCOUNT_CHECKS: tuple[Callable[[AccountProbe], Check], ...] = (
    check_password, check_imap_connection, check_imap_login, check_imap_capabilities,
    check_folders, check_smtp_connection, check_smtp_login,
)


def redact(check: Check, secret: str | None) -> Check:
    """``check`` with ``secret`` blanked out wherever it appears.

    Belt and braces: no check puts a secret in its text, but a server that echoes the
    password in an error message must not make maild print it.
    """
    if secret is None or len(secret) < _MIN_REDACT:
        return check
    if secret not in check.detail and secret not in check.fix:
        return check
    return replace(check, detail=check.detail.replace(secret, _REDACTED),
                   fix=check.fix.replace(secret, _REDACTED))


def check_account(account: Account, key: str, env: Mapping[str, str],
                  timeout: float) -> Iterator[Check]:
    """The account's checks in order, each yielded as soon as it is done."""
    p = AccountProbe(account, key, env, timeout)
    try:
        for check in ACCOUNT_CHECKS:
            if check is check_smtp_connection:
                # The IMAP connection is not needed any more; don't hold it during SMTP.
                p.close()
                run_smtp_probe(p)
            yield redact(check(p), p.secret_text)
    finally:
        p.close()


# -- the machine ---------------------------------------------------------------------


def system_zone(env: Mapping[str, str]) -> str:
    """The system's time zone name as well as it can be told (TZ, /etc/localtime)."""
    tz = env.get("TZ", "").lstrip(":")
    if tz:
        return tz
    with suppress(OSError):
        target = os.readlink("/etc/localtime")
        if "zoneinfo/" in target:
            return target.split("zoneinfo/", 1)[1]
    return datetime.now().astimezone().tzname() or "unknown"


def _offset(delta: timedelta | None) -> str:
    minutes = int((delta or timedelta()).total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def check_clock(env: Mapping[str, str], real_now: datetime | None = None) -> Check:
    now = real_now or datetime.now(UTC)
    if now < _EARLIEST_PLAUSIBLE:
        return failed("clock", f"the system clock says {now:%Y-%m-%d %H:%M} UTC, which "
                               "cannot be right", "set the time (e.g. `timedatectl set-ntp "
                                                  "true`); maild schedules by it")
    text = env.get(NOW_ENV)
    if text:
        try:
            fixed = parse_instant(text)
        except MaildError as exc:
            return failed("clock", exc.message, f"fix or unset {NOW_ENV}")
        if (problem := range_problem(fixed)) is not None:
            return failed("clock", f"{NOW_ENV}: {text} {problem}", f"fix or unset {NOW_ENV}")
        return warned("clock", f"{NOW_ENV}={text} is set: maild acts as if it were "
                               f"{fixed.isoformat()} (for scripts and tests)",
                      f"unset {NOW_ENV} for real use")
    return passed("clock", f"system clock {now:%Y-%m-%d %H:%M} UTC ({NOW_ENV} not set)")


def check_timezone(config: Config | None, env: Mapping[str, str],
                   local_offset: timedelta | None = None) -> Check:
    zone = system_zone(env)
    if local_offset is None:
        local_offset = datetime.now().astimezone().utcoffset()
    if config is None:
        return passed("time zone", f"system {zone} ({_offset(local_offset)})")
    configured = config.identity.timezone
    theirs = datetime.now(ZoneInfo(configured)).utcoffset()
    if theirs == local_offset:
        return passed("time zone", f"system {zone} and identity.timezone {configured} "
                                   f"agree ({_offset(theirs)})")
    return warned("time zone", f"the system is on {zone} ({_offset(local_offset)}) but "
                               f"identity.timezone is {configured} ({_offset(theirs)})",
                  "if you moved, set identity.timezone in config.toml (it is the time zone "
                  "of mentors without their own and of the times maild shows); nothing to "
                  "do while traveling")


def check_attachments(config: Config) -> Check:
    """The files of ``[attachments]`` (the letter packet attaches them) exist and can be
    read; none configured is fine until a letter is asked for."""
    if not config.attachments:
        return passed("attachments", "none configured (a letter packet needs your CV and "
                                     "personal statement under [attachments])")
    problems = []
    for key, raw in config.attachments.items():
        path = Path(raw).expanduser()
        try:
            with path.open("rb") as handle:
                handle.read(1)
        except OSError as exc:
            problems.append(f"{key} = {path}: {exc.strerror or exc}")
    if problems:
        return failed("attachments", "; ".join(problems),
                      "fix the paths under [attachments] in config.toml (a packet that says "
                      "a file is attached is held until it can be read)")
    names = ", ".join(f"{k} ({Path(v).expanduser().name})" for k, v in config.attachments.items())
    return passed("attachments", f"{len(config.attachments)} readable: {names}")


def check_database(home: Path) -> Check:
    path = paths.database_path(home)
    if not path.exists():
        return passed("database", f"{path} not created yet (maild creates it on first use)")
    try:
        # migrate=False: the doctor looks, it never changes the schema.
        with Store.open(path, migrate=False) as store:
            version = store.version
            integrity = store.quick_check()
            asks, open_asks = store.read.asks.counts() if version else (0, 0)
    except StoreError as exc:
        if "upgrade maild" in exc.message:
            fix = "upgrade maild"
        elif any(w in exc.message for w in ("not a database", "malformed", "cannot be read")):
            fix = f"restore {path} from a backup, or move it aside to start afresh"
        else:
            fix = f"check the permissions of {path} and that the disk is not full"
        return failed("database", exc.message, fix)
    if integrity != "ok":
        return failed("database", f"{path} is damaged ({integrity})",
                      f"restore {path} from a backup")
    counts = f"{asks} asks, {open_asks} open"
    if version < SCHEMA_VERSION:
        return warned("database", f"{path}: schema version {version} ({counts}); this maild "
                                  f"uses {SCHEMA_VERSION}",
                      "nothing to do: it is upgraded the next time maild opens it")
    return passed("database", f"{path}: schema version {version} (current), {counts}")


def check_service(opts: Options) -> Check:
    """Informational: whether maild runs as a service; only a failed unit is a warning."""
    try:
        inst = service.Installation.detect(opts.home, opts.pin_home, opts.env)
        status = service.query_status(inst)
    except MaildError as exc:
        return passed("service", f"unknown ({exc.message})")
    if not status.installed:
        return passed("service", "not installed (optional: `maild service install` runs "
                                 "maild in the background)")
    detail = f"installed ({status.path}), {status.state}"
    if status.detail and status.state != "unknown":
        detail += f" ({status.detail})"
    elif status.detail:
        detail += " (the service manager is not reachable from here)"
    if status.state == "failed":
        logs = ("journalctl --user -u maild" if inst.platform == "linux"
                else str(inst.log_dir / "maild.err.log"))
        return warned("service", detail, f"see why in `{logs}`, then "
                                         "`maild service install` to restart it")
    return passed("service", detail)


def check_daemon(home: Path) -> Check:
    pid = lock.running_pid(home)
    if pid is None:
        return passed("daemon", f"not running for {home} (start it with `maild run` or "
                                "`maild service install`)")
    return passed("daemon", f"running for {home} (pid {pid})")


# -- all together --------------------------------------------------------------------


def iter_checks(opts: Options) -> Iterator[Check]:
    """Every check in order, yielded as it completes (network checks take a moment)."""
    config_check, config = check_config(opts)
    yield config_check
    if config is not None:
        accounts = ([config.account(opts.account)] if opts.account is not None
                    else list(config.accounts))
        yield check_keyring(accounts)
        for account in accounts:
            key = f"accounts[{config.accounts.index(account)}]"
            yield from check_account(account, key, opts.env, opts.timeout)
        yield check_attachments(config)
    yield check_clock(opts.env)
    yield check_timezone(config, opts.env)
    yield check_database(opts.home)
    yield check_service(opts)
    yield check_daemon(opts.home)


def run(opts: Options) -> Report:
    return Report(tuple(iter_checks(opts)))
