"""``maild config``: show where the configuration lives and what it says."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import click
import tomli_w

from maild.adapters.credentials import command_program
from maild.cli.app import App, pass_app
from maild.config import Config, PasswordSource


@click.group("config")
def config_group() -> None:
    """Show the configuration file and its location."""


@config_group.command("path")
@pass_app
def config_path(app: App) -> None:
    """Print the path of config.toml (whether or not it exists yet)."""
    click.echo(str(app.config_path))


def _redacted(source: PasswordSource) -> dict[str, str]:
    if source.command:
        # The program is useful to see; its arguments may carry a secret.
        program = command_program(source.command)
        rest = " (arguments redacted)" if program != source.command.strip() else ""
        return {"command": program + rest}
    if source.env:
        return {"env": source.env}
    return {"keyring": source.keyring or ""}


def as_document(config: Config) -> dict[str, Any]:
    """The configuration as plain data, with every secret source redacted."""
    sending = asdict(config.sending)
    start, end = sending.pop("window_start"), sending.pop("window_end")
    sending["window"] = f"{start:%H:%M}-{end:%H:%M}"
    accounts = []
    for account in config.accounts:
        data = asdict(account)
        data["password"] = _redacted(account.password)
        for endpoint in ("imap", "smtp"):
            data[endpoint] = {k: v for k, v in data[endpoint].items() if v is not None}
        oauth = data.pop("oauth")
        if oauth is not None:
            oauth["scopes"] = list(oauth["scopes"])
            if oauth["client_secret"]:
                oauth["client_secret"] = "(set, not shown)"
            data["oauth"] = oauth
        accounts.append(data)
    return {
        "identity": asdict(config.identity),
        "accounts": accounts,
        "sending": {k: list(v) if isinstance(v, tuple) else v for k, v in sending.items()},
        "playbooks": {k: dict(v) for k, v in config.playbooks.items()},
        "attachments": dict(config.attachments),
        "ui": asdict(config.ui),
    }


@config_group.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of TOML.")
@pass_app
def config_show(app: App, as_json: bool) -> None:
    """Print the configuration as maild understood it, with secrets redacted.

    Defaults are filled in, so this is also how to see what a missing key means.
    """
    document = as_document(app.config())
    if as_json:
        click.echo(json.dumps(document, indent=2, default=str))
    else:
        click.echo(f"# {app.config_path}")
        click.echo(tomli_w.dumps(document).rstrip())
