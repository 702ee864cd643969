"""``maild auth set|check``: put an account's password in the keyring, and test its source.

Secrets pass through here only in memory: they are never echoed, logged or included in
an error (credential errors name the source, never the value or a command's output).
"""

from __future__ import annotations

import sys

import click

from maild.adapters import credentials
from maild.cli.app import App, pass_app
from maild.cli.terminal import for_terminal
from maild.config import Account
from maild.errors import CredentialError, UsageError


@click.group("auth")
def auth_group() -> None:
    """Store and check account passwords (without ever printing them)."""


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
    """Check that ACCOUNT's password can be obtained (every account when omitted).

    Prints "ok (from keyring|command|env)" per account, never the password itself;
    exits 1 when any account's password cannot be obtained.
    """
    config = app.config()
    accounts = [config.account(account_name)] if account_name else list(config.accounts)
    failed: list[str] = []
    for account in accounts:
        try:
            credentials.resolve(account.password, account.username, app.env)
        except CredentialError as error:
            if len(accounts) == 1:
                raise
            click.echo(f"{account.name}: problem: {for_terminal(error.message)}", err=True)
            failed.append(account.name)
            continue
        click.echo(f"{account.name}: ok (from {account.password.kind})")
    if failed:
        raise CredentialError(f"no password for {', '.join(failed)}")
