"""``maild doctor``: check the installation end to end, one line per check.

A thin layer over ``maild.runtime.doctor``: it prints each check as soon as it is done (the
network checks take a moment), or one JSON object with ``--json``, and exits 1 when any
check found a problem. Warnings and skipped checks do not change the exit code.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from types import MappingProxyType

import click

from maild import paths
from maild.cli.app import App, pass_app
from maild.cli.terminal import for_terminal
from maild.errors import ConfigError
from maild.runtime import doctor

_COLOURS: Mapping[doctor.Status, str] = MappingProxyType({
    doctor.Status.OK: "green", doctor.Status.WARNING: "yellow",
    doctor.Status.PROBLEM: "red", doctor.Status.SKIPPED: "bright_black",
})


def _pinned(app: App) -> bool:
    # As `maild service`: the home counts as chosen when given by --home or MAILD_HOME.
    root = click.get_current_context().find_root()
    return bool(root.params.get("home")) or bool(app.env.get(paths.HOME_ENV))


@click.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--account", "account", metavar="NAME",
              help="Check only this account (the machine-wide checks always run).")
@click.option("--timeout", type=click.FloatRange(min=0.5), default=doctor.DEFAULT_TIMEOUT,
              show_default=True, help="Seconds to wait for each mail server.")
@pass_app
def doctor_command(app: App, as_json: bool, account: str | None, timeout: float) -> None:
    """Check config, passwords, IMAP, SMTP, clock, database and service.

    Each check prints one line: ok, warning, skipped or problem, and for a problem how
    to fix it. Passwords are never printed, and nothing is sent: the SMTP check logs in
    and quits. Exits 1 when any check found a problem.
    """
    if account is not None:
        # An unknown account is a usage error; a config that does not load is a finding.
        try:
            config = app.config()
        except ConfigError:
            pass
        else:
            config.account(account)
    opts = doctor.Options(home=app.home, env=app.env, account=account, timeout=timeout,
                          pin_home=_pinned(app))
    checks: list[doctor.Check] = []
    colour = not as_json and sys.stdout.isatty()
    for check in doctor.iter_checks(opts):
        checks.append(check)
        if not as_json:
            # Server greetings and errors are outside text.
            line = for_terminal(check.line())
            if colour:
                status = check.status.value
                line = click.style(status, fg=_COLOURS[check.status]) + line[len(status):]
            click.echo(line)
    report = doctor.Report(tuple(checks))
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        click.echo(for_terminal(report.summary(), multiline=True))
    if not report.ok:
        raise click.exceptions.Exit(1)
