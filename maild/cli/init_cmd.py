"""``maild init``: the set-up wizard that writes config.toml.

Interactive by default; every answer can also be given as a flag, and ``--no-input``
turns any missing answer into an error instead of a question, for scripts.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
import tomli_w

from maild import paths
from maild.adapters import credentials, oauth
from maild.adapters.imap import check_ca_file
from maild.cli.app import App, pass_app
from maild.config import parse
from maild.errors import ConfigError, UsageError
from maild.providers import OAUTH_PRESETS, PROVIDERS, Provider, guess


def _ask(value: Any, prompt: str, no_input: bool, flag: str, **kwargs: Any) -> Any:
    if value is not None:
        return value
    if no_input:
        if "default" in kwargs and kwargs["default"] is not None:
            return kwargs["default"]
        raise UsageError(f"{flag} is required with --no-input")
    return click.prompt(prompt, **kwargs)


@click.command("init")
@click.option("--name", help="Your full name, as it appears in your emails.")
@click.option("--email", help="Your email address.")
@click.option("--role", help='Who you are, e.g. "third-year medical student".')
@click.option("--institution", help="Your school or program.")
@click.option("--timezone", "tz", help="Your time zone, e.g. America/New_York.")
@click.option("--provider", type=click.Choice(sorted(PROVIDERS)),
              help="Mail provider preset (guessed from the address when not given).")
@click.option("--account-name", help='A short name for this account (default "main").')
@click.option("--username", help="Login name (default: the email address).")
@click.option("--imap-host", help="IMAP server (provider preset otherwise).")
@click.option("--imap-port", type=int, help="IMAP port.")
@click.option("--imap-security", type=click.Choice(["tls", "starttls", "none"]),
              help="IMAP connection security.")
@click.option("--smtp-host", help="SMTP server (provider preset otherwise).")
@click.option("--smtp-port", type=int, help="SMTP port.")
@click.option("--smtp-security", type=click.Choice(["tls", "starttls", "none"]),
              help="SMTP connection security.")
@click.option("--ca-file", metavar="PEM",
              help="A certificate authority (PEM) to trust besides the system's, for IMAP and "
                   "SMTP: e.g. the certificate a local bridge (ProtonMail Bridge) made.")
@click.option("--password-command", help="A command that prints the password (like "
              "`pass show mail`); nothing is stored.")
@click.option("--password-env", help="Name of an environment variable holding the password.")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from standard input and store it in the keyring.")
@click.option("--cv", "cv", help="Your CV (a file): attached to the materials packet sent "
              "to letter writers.")
@click.option("--personal-statement", "statement",
              help="Your personal statement draft (a file), attached to the packet too.")
@click.option("--auth", "auth", type=click.Choice(["password", "oauth2"]),
              help="How to log in: a password (or app password), or OAuth2 sign-in with "
                   "the provider (default for Microsoft 365; Google needs a client id of "
                   "your own, see docs/signin.md).")
@click.option("--oauth-client-id", help="OAuth2: your own app registration's client id "
              "(Microsoft 365 has a default; Google needs one).")
@click.option("--oauth-client-secret", help="OAuth2: its client secret (Google's desktop "
              "apps have one; it is not a real secret).")
@click.option("--oauth-tenant", help="OAuth2, Microsoft 365: your school's tenant (domain "
              "or id) instead of \"common\".")
@click.option("--oauth-server", metavar="URL", help="OAuth2: sign in with another "
              "identity provider than the preset's, found through its OpenID discovery "
              "document at URL/.well-known/openid-configuration (a school's own server, "
              "or a local test server).")
@click.option("--no-input", is_flag=True, help="Never ask; fail on anything missing.")
@click.option("--force", is_flag=True, help="Overwrite an existing config.toml.")
@pass_app
def init_command(app: App, name: str | None, email: str | None, role: str | None,
                 institution: str | None, tz: str | None, provider: str | None,
                 account_name: str | None, username: str | None, imap_host: str | None,
                 imap_port: int | None, imap_security: str | None, smtp_host: str | None,
                 smtp_port: int | None, smtp_security: str | None, ca_file: str | None,
                 password_command: str | None, password_env: str | None,
                 password_stdin: bool, cv: str | None, statement: str | None,
                 auth: str | None, oauth_client_id: str | None,
                 oauth_client_secret: str | None, oauth_tenant: str | None,
                 oauth_server: str | None, no_input: bool, force: bool) -> None:
    """Create config.toml: who you are and how to reach your mailbox.

    Presets cover Gmail, Outlook/Microsoft 365, iCloud and Fastmail. The password is
    never written to the file: it goes to the system keyring, or the config records a
    command or environment variable that provides it. Microsoft 365 accounts (and
    Google ones with --auth oauth2) sign in through the browser instead:
    `maild auth login ACCOUNT` after this (offered right away when interactive).

    Example for scripts:

        maild init --no-input --name "Alex Kim" --email alex@school.edu
        --timezone America/New_York --provider other --imap-host imap.school.edu
        --smtp-host smtp.school.edu --password-command "pass show school"

    A local bridge (ProtonMail Bridge) serves IMAP and SMTP on 127.0.0.1 with its own
    certificate: give that certificate with --ca-file (verification stays on).
    """
    target = paths.config_path(app.home)
    if target.exists() and not force:
        raise UsageError(f"{target} already exists (use --force to overwrite it)")

    name = _ask(name, "Your full name", no_input, "--name")
    email = _ask(email, "Your email address", no_input, "--email")
    # The default templates introduce you with both, so they are asked for up front.
    role = _ask(role, "Your role (e.g. third-year medical student)", no_input, "--role")
    institution = _ask(institution, "Your school or program", no_input, "--institution")
    tz = _ask(tz, "Your time zone", no_input, "--timezone", default=_local_timezone())
    provider = _ask(provider, "Mail provider", no_input, "--provider",
                    default=guess(email), type=click.Choice(sorted(PROVIDERS)))
    preset = PROVIDERS[provider]
    auth = _auth_method(preset, auth, oauth_client_id, no_input)
    if not no_input and preset.key != "other":
        how = (f"sign-in with {OAUTH_PRESETS[preset.oauth].label} (OAuth2)"
               if auth == "oauth2" else f"password: {preset.password_hint}")
        click.echo(f"Using {preset.label} settings; {how}.")

    imap_host = _ask(imap_host or preset.imap_host or None, "IMAP server", no_input,
                     "--imap-host")
    smtp_host = _ask(smtp_host or preset.smtp_host or None, "SMTP server", no_input,
                     "--smtp-host")
    account: dict[str, Any] = {
        "name": account_name or "main",
        "email": email,
        "username": username or email,
        "imap": {"host": imap_host, "port": imap_port or preset.imap_port,
                 "security": imap_security or preset.imap_security},
        "smtp": {"host": smtp_host, "port": smtp_port or preset.smtp_port,
                 "security": smtp_security or preset.smtp_security},
        "save_sent_copy": "never" if preset.saves_sent_copy else "auto",
    }
    if ca_file:
        # Absolute: the daemon may run from any directory.
        ca_file = str(Path(ca_file).expanduser().resolve())
        try:
            check_ca_file(ca_file)
        except ConfigError as exc:
            raise UsageError(f"--ca-file {ca_file}: {exc.problem}") from None
        account["imap"]["ca_file"] = account["smtp"]["ca_file"] = ca_file
    attachments = {key: path for key, path in (
        ("cv", _document(cv, "Your CV, to attach to letter packets (a file; Enter to skip)",
                         no_input, "--cv")),
        ("personal_statement", _document(
            statement, "Your personal statement draft (a file; Enter to skip)", no_input,
            "--personal-statement")),
    ) if path}
    if auth == "oauth2":
        account["auth"] = "oauth2"
        account["oauth"] = _oauth_table(preset.oauth, oauth_client_id, oauth_client_secret,
                                        oauth_tenant, oauth_server)
        source = _token_source(password_command, password_env, password_stdin)
        if source:
            account["password"] = source
    else:
        if oauth_client_id or oauth_client_secret or oauth_tenant or oauth_server:
            raise UsageError("the --oauth-* options need --auth oauth2")
        account["password"] = _password_source(app, account, password_command, password_env,
                                               password_stdin, no_input)
    document: dict[str, Any] = {
        "identity": {"name": name, "email": email, "role": role,
                     "institution": institution, "timezone": tz},
        "accounts": [account],
        "sending": {"days": ["mon", "tue", "wed", "thu", "fri"], "window": "08:00-17:00",
                    "approval": "always"},
    }
    if attachments:
        document["attachments"] = attachments
    # Validate before writing, so a bad answer never leaves a broken file behind.
    try:
        parse(document, target)
    except ConfigError as exc:
        raise UsageError(f"not written: {exc.key or 'value'}: {exc.problem}") from None
    paths.ensure_home(app.home)
    tmp = target.with_suffix(".toml.tmp")
    tmp.write_text(_HEADER + tomli_w.dumps(document), encoding="utf-8")
    tmp.chmod(0o600)
    tmp.replace(target)
    click.echo(f"Wrote {target}")
    if auth == "oauth2":
        name_of = account["name"]
        label = OAUTH_PRESETS[preset.oauth].label
        if not no_input and "password" not in account and click.confirm(
                f"Sign in to {label} now (your browser opens)?", default=True):
            from maild.cli.auth_cmd import login_command

            click.get_current_context().invoke(login_command, account_name=name_of)
            click.echo("Then: `maild mentor add` starts your hit list.")
            return
        click.echo(f"Next: `maild auth login {name_of}` signs you in to {label} in your "
                   "browser; then `maild doctor` checks the connection.")
        return
    click.echo("Next: `maild doctor` checks the connection; `maild mentor add` starts your "
               "hit list.")


_HEADER = ("# maild configuration, written by `maild init`.\n"
           "# Every key is explained in config/maild.example.toml of the maild sources.\n\n")


def _document(given: str | None, prompt: str, no_input: bool, flag: str) -> str:
    """A file the letter packet attaches: its absolute path, or "" when skipped."""
    if given is None and not no_input:
        given = click.prompt(prompt, default="", show_default=False)
    if not given or not given.strip():
        return ""
    path = Path(given.strip()).expanduser().resolve()
    if not path.is_file():
        raise UsageError(f"{flag}: {path} is not a file (give the path of your document, "
                         "or leave it out and add it later under [attachments])")
    return str(path)


def _auth_method(preset: Provider, auth: str | None, client_id: str | None,
                 no_input: bool) -> str:
    if auth is None:
        wanted = preset.oauth_by_default or bool(preset.oauth and client_id)
        if not wanted and preset.oauth and not no_input:
            wanted = click.confirm(
                f"Sign in with {OAUTH_PRESETS[preset.oauth].label} (OAuth2) instead of an app "
                "password? It needs a client id of your own (docs/signin.md)", default=False)
        auth = "oauth2" if wanted else "password"
    if auth == "oauth2" and not preset.oauth:
        raise UsageError(f"{preset.label}: maild has no OAuth2 preset for it; write the "
                         "[accounts.oauth] table yourself (docs/signin.md)")
    return auth


def _oauth_table(provider: str, client_id: str | None, client_secret: str | None,
                 tenant: str | None, server: str | None) -> dict[str, str]:
    table = {"provider": provider}
    if client_id:
        table["client_id"] = client_id
    if client_secret:
        table["client_secret"] = client_secret
    if tenant:
        if provider != "microsoft":
            raise UsageError("--oauth-tenant is for Microsoft 365 accounts only")
        table["tenant"] = tenant
    if server:
        table.update(oauth.discover(server))
    if not (client_id or OAUTH_PRESETS[provider].client_id):
        raise UsageError(f"{OAUTH_PRESETS[provider].label} needs --oauth-client-id (and "
                         "--oauth-client-secret): register maild with it as docs/signin.md "
                         "shows")
    return table


def _token_source(command: str | None, env: str | None, from_stdin: bool) -> dict[str, str]:
    """Where an OAuth2 account's refresh token comes from; {} = the keyring (default)."""
    if from_stdin:
        raise UsageError("--password-stdin is for passwords; OAuth2 accounts sign in with "
                         "`maild auth login` after `maild init`")
    if command and env:
        raise UsageError("give only one of --password-command, --password-env")
    if command:
        return {"command": command}
    if env:
        return {"env": env}
    return {}


def _password_source(app: App, account: dict[str, Any], command: str | None,
                     env: str | None, from_stdin: bool, no_input: bool) -> dict[str, str]:
    if sum(bool(x) for x in (command, env, from_stdin)) > 1:
        raise UsageError("give only one of --password-command, --password-env, "
                         "--password-stdin")
    if command:
        return {"command": command}
    if env:
        return {"env": env}
    if from_stdin:
        secret = sys.stdin.readline().rstrip("\r\n")
        if not secret:
            raise UsageError("--password-stdin: nothing was read from standard input")
    elif no_input:
        raise UsageError("give --password-command, --password-env or --password-stdin "
                         "with --no-input")
    else:
        secret = click.prompt("Password (stored in the system keyring)", hide_input=True)
    credentials.store_in_keyring(credentials.KEYRING_SERVICE, account["username"], secret)
    return {"keyring": credentials.KEYRING_SERVICE}


def _local_timezone() -> str:
    try:
        link = Path("/etc/localtime").resolve()
        parts = link.parts
        if "zoneinfo" in parts:
            return "/".join(parts[parts.index("zoneinfo") + 1:])
    except OSError:
        pass
    return "UTC"
