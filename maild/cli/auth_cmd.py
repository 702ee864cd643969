"""``maild auth set|check|login|logout``: an account's password or OAuth2 sign-in.

``set`` puts a password in the keyring; ``login`` signs an ``auth = "oauth2"`` account
in with Microsoft 365, Google or another provider (browser with a loopback redirect, or
a device code) and keeps the refresh token where the account's config says; ``logout``
forgets it; ``check`` tests that each account's secret can be obtained.

Secrets pass through here only in memory: they are never echoed, logged or included in
an error (credential errors name the source, never the value or a command's output).
The one exception is ``login --print-refresh-token``, which writes the refresh token to
standard output because the user asked for it there.
"""

from __future__ import annotations

import sys
import webbrowser

import click

from maild.adapters import credentials, oauth
from maild.cli.app import App, pass_app
from maild.cli.terminal import for_terminal
from maild.config import Account
from maild.errors import CredentialError, UsageError


@click.group("auth")
def auth_group() -> None:
    """Passwords and sign-ins of your mail accounts (never printed).

    Password accounts: `maild auth set ACCOUNT` stores the password (or app password)
    in the keyring. Microsoft 365 and Google accounts with auth = "oauth2": `maild auth
    login ACCOUNT` signs in through your browser. `maild auth check` tests them all.
    """


def _not_keyring(app: App, account: Account) -> UsageError:
    source = account.password
    where = (f"the command {credentials.command_program(source.command)!r}"
             if source.command
             else f"the environment variable {source.env}")
    return UsageError(
        f"account {account.name!r} takes its password from {where}, not the keyring; "
        f"to use the keyring, set password = {{keyring = \"{credentials.KEYRING_SERVICE}\"}} "
        f"for this account in {app.config_path}, then run `maild auth set {account.name}`"
    )


def _read_secret(from_stdin: bool, account: Account) -> str:
    if from_stdin:
        # Only the first line: `pass show x | maild auth set --stdin` adds metadata lines.
        lines = sys.stdin.read().splitlines()
        secret = lines[0] if lines else ""
    else:
        secret = str(click.prompt(f"Password for {account.username}", hide_input=True,
                              confirmation_prompt=True, default="", show_default=False))
    if not secret:
        raise UsageError("the password is empty; nothing was stored")
    return secret


@auth_group.command("set")
@click.argument("account_name", metavar="ACCOUNT")
@click.option("--stdin", "from_stdin", is_flag=True,
              help="Read the password from standard input (its first line) instead of asking.")
@pass_app
def set_command(app: App, account_name: str, from_stdin: bool) -> None:
    """Store ACCOUNT's password (or app password) in the system keyring.

    Only for accounts whose config.toml entry says password = {keyring = "maild"}; an
    account using a command or an environment variable does not read the keyring.
    """
    account = app.config().account(account_name)
    if account.auth == "oauth2":
        raise UsageError(f"account {account.name!r} signs in with OAuth2 (no password to "
                         f"store); run `maild auth login {account.name}`")
    if account.password.keyring is None:
        raise _not_keyring(app, account)
    # Check before asking: typing a password only to hear there is nowhere to put it is
    # the worst moment to learn about headless servers.
    usable, reason = credentials.keyring_available()
    if not usable:
        raise CredentialError(reason)
    secret = _read_secret(from_stdin, account)
    credentials.store_in_keyring(account.password.keyring, account.username, secret)
    click.echo(f"stored the password for {account.name} ({account.username}) "
               f"in the keyring ({reason})")


@auth_group.command("check")
@click.argument("account_name", metavar="ACCOUNT", required=False)
@pass_app
def check_command(app: App, account_name: str | None) -> None:
    """Check that ACCOUNT's password or sign-in works (every account when omitted).

    Prints "ok (from keyring|command|env)" per password account, and for an OAuth2
    account renews its access token and prints whose sign-in it is; never a secret.
    Exits 1 when any account's password or sign-in cannot be obtained.
    """
    config = app.config()
    accounts = [config.account(account_name)] if account_name else list(config.accounts)
    failed: list[str] = []
    for account in accounts:
        try:
            if account.auth == "oauth2":
                words = _signed_in_words(account, credentials.Secrets(app.env))
            else:
                credentials.resolve(account.password, account.username, app.env)
                words = f"from {account.password.kind}"
        except CredentialError as error:
            if len(accounts) == 1:
                raise
            click.echo(f"{account.name}: problem: {for_terminal(error.message)}", err=True)
            failed.append(account.name)
            continue
        click.echo(f"{account.name}: ok ({words})")
    if failed:
        raise CredentialError(f"no password for {', '.join(failed)}")


def _signed_in_words(account: Account, secrets: credentials.Secrets) -> str:
    """Renew the access token once and describe the sign-in (no secret)."""
    token = secrets.access_token(account)
    label = oauth.client_for(account).label
    who = f" as {token.account}" if token.account else ""
    left = token.remaining(secrets.now())
    valid = f", access token valid for {int(left.total_seconds() // 60)} min" \
        if left is not None else ""
    return f"signed in to {label}{who}{valid}"


def _oauth_account(app: App, account_name: str) -> Account:
    account = app.config().account(account_name)
    if account.auth != "oauth2":
        raise UsageError(
            f"account {account.name!r} logs in with auth = {account.auth!r}, not OAuth2; for "
            "Microsoft 365 or Google set auth = \"oauth2\" and oauth = { provider = "
            f"\"microsoft\" }} (or \"google\") for it in {app.config_path} "
            "(see docs/signin.md)")
    return account


def _matches(account: Account, who: str | None) -> bool:
    return who is None or who in (account.username.lower(), account.email.lower())


@auth_group.command("login")
@click.argument("account_name", metavar="ACCOUNT")
@click.option("--device", is_flag=True,
              help="Sign in on another device (phone, laptop) with a short code: for a "
                   "machine without a browser. Microsoft 365 only.")
@click.option("--no-browser", is_flag=True,
              help="Do not open a browser; print the sign-in address to open yourself.")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default="any free one",
              help="The port on 127.0.0.1 the browser comes back to; fix it to forward it "
                   "from another machine (ssh -L PORT:127.0.0.1:PORT).")
@click.option("--timeout", type=click.IntRange(10, 3600), default=300, show_default=True,
              help="Seconds to wait for you to finish signing in.")
@click.option("--print-refresh-token", "print_token", is_flag=True,
              help="Write the refresh token to standard output instead of storing it, to "
                   "put it in the command or variable the account's password = names.")
@pass_app
def login_command(app: App, account_name: str, device: bool, no_browser: bool, port: int,
                  timeout: int, print_token: bool) -> None:
    """Sign ACCOUNT in with its provider (Microsoft 365, Google) using OAuth2.

    Your browser opens the provider's own sign-in page; after you sign in and allow
    maild to read and send mail, the page hands back to maild (on 127.0.0.1 only), and
    maild keeps the refresh token in the keyring. Your password never passes through
    maild. With --device, you sign in on any other device with a code instead.

    Run it again whenever maild tells you the sign-in expired or was revoked.
    See docs/signin.md for both providers, what each permission is for, and how to
    withdraw maild's access.
    """
    account = _oauth_account(app, account_name)
    client = oauth.client_for(account)
    keyring_source = account.password.keyring
    if keyring_source is None and not print_token:
        where = credentials.refresh_token_source(account, app.env)
        raise UsageError(
            f"account {account.name!r} reads its refresh token from {where}, which maild "
            "cannot write; run `maild auth login "
            f"{account.name} --print-refresh-token` and put its output there, or set "
            f"password = {{keyring = \"{credentials.KEYRING_SERVICE}\"}} for the account")
    if keyring_source is not None and not print_token:
        usable, reason = credentials.keyring_available()
        if not usable:
            raise CredentialError(reason + " (or use --print-refresh-token)")

    def say(text: str) -> None:
        click.echo(text, err=True)

    say(f"Signing in {account.name} ({account.username}) with {client.label}.")
    if device:
        def show(code: oauth.DeviceCode) -> None:
            say(code.message or f"On any device, open {code.verification_uri} and enter the "
                                f"code {code.user_code}.")
            say(f"Waiting up to {min(timeout, code.expires_in) // 60} minutes...")

        grant = oauth.login_with_device_code(client, show=show, timeout=timeout)
    else:
        def open_page(url: str) -> bool:
            return False if no_browser else webbrowser.open(url)

        def tell(url: str, opened: bool) -> None:
            if opened:
                say("Your browser shows the sign-in page; if not, open this address:")
            else:
                say("Open this address in a browser on this machine to sign in:")
            say(url)
            if not opened and not no_browser:
                say("(No browser could be started here; `--device` signs in from another "
                    "device.)")

        grant = oauth.login_with_browser(client, login_hint=account.username,
                                         open_browser=open_page, tell=tell, port=port,
                                         timeout=timeout)
    if not _matches(account, grant.account):
        raise oauth.SignInError(
            f"you signed in as {grant.account}, but account {account.name!r} is "
            f"{account.username}; nothing was stored. Run the command again and pick "
            f"{account.username} (sign out of {grant.account} in the browser first, or use "
            "a private window)")
    if grant.refresh_token is None:
        raise oauth.SignInError(
            f"{client.label} gave no refresh token (was the \"offline_access\" permission "
            "refused?); nothing was stored, and maild could not stay signed in")
    missing = [s for s in (client.imap_scope, client.smtp_scope)
               if s and s not in grant.scopes]
    if print_token:
        click.echo(grant.refresh_token)
    else:
        assert keyring_source is not None
        credentials.store_refresh_token(account, grant.refresh_token)
    where = ("printed on standard output" if print_token
             else f"kept in {credentials.refresh_token_source(account, app.env)}")
    who = grant.account or account.username
    message = f"Signed in to {client.label} as {who}; the refresh token is {where}."
    (say if print_token else click.echo)(message)
    for scope in dict.fromkeys(missing):
        say(f"warning: {client.label} did not grant {scope}: "
            f"{'reading' if scope == client.imap_scope else 'sending'} mail will fail "
            "(your school's administrator may have to allow it)")
    if not print_token:
        click.echo("Next: `maild doctor` checks reading and sending with this sign-in.")


@auth_group.command("logout")
@click.argument("account_name", metavar="ACCOUNT")
@pass_app
def logout_command(app: App, account_name: str) -> None:
    """Forget ACCOUNT's OAuth2 sign-in on this machine.

    Removes the refresh token from the keyring and, where the provider offers it
    (Google), revokes it there too. For Microsoft 365 it also says where to withdraw
    maild's access. maild stops reading and sending for the account until the next
    `maild auth login`.
    """
    account = _oauth_account(app, account_name)
    client = oauth.client_for(account)
    source = account.password.keyring
    if source is None:
        where = credentials.refresh_token_source(account, app.env)
        raise UsageError(f"the refresh token of {account.name!r} comes from {where}: remove "
                         "it there (maild never stored it)")
    key = credentials.refresh_token_key(account)
    try:
        token = credentials.from_keyring(source, key)
    except CredentialError:
        token = None
    revoked = False
    if token is not None:
        try:
            revoked = oauth.revoke(client, token)
        except CredentialError as exc:
            click.echo(f"warning: {exc.message}; the token is removed here all the same",
                       err=True)
    removed = credentials.delete_from_keyring(source, key)
    if not removed:
        click.echo(f"{account.name}: not signed in (nothing in the keyring under "
                   f"{source}/{key})")
    else:
        done = " and revoked at " + client.label if revoked else ""
        click.echo(f"{account.name}: signed out (refresh token removed from the keyring{done})")
    if not revoked:
        click.echo(f"To withdraw maild's access on {client.label}'s side too: "
                   f"{client.revoke_help}")
