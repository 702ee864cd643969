"""The ``maild`` command line: a thin click layer over maild's services.

Every ``MaildError`` raised below a command becomes one line on stderr and the error's
exit code; any other exception (a bug) becomes one "internal error" line and exit code 1.
A traceback only ever reaches the user with ``--debug``.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

import click

from maild import __version__, logs
from maild.cli.app import App
from maild.cli.terminal import for_terminal
from maild.errors import MaildError


class Failure(click.ClickException):
    """A MaildError dressed for click: one line, the error's own exit code."""

    def __init__(self, error: MaildError) -> None:
        super().__init__(error.message.splitlines()[0] if error.message else type(error).__name__)
        self.exit_code = error.exit_code  # type: ignore[misc]  # per-error, not per-class

    def show(self, file: Any = None) -> None:
        click.echo(f"maild: error: {for_terminal(self.format_message())}", err=True)


class MaildGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        spec = COMMANDS.get(cmd_name)
        if spec is None:
            return None
        module_name, _, attr = spec.partition(":")
        command = getattr(importlib.import_module(module_name), attr)
        assert isinstance(command, click.Command) and command.name == cmd_name, spec
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MaildError as error:
            if ctx.params.get("debug"):
                raise
            raise Failure(error) from None
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise  # click's own: usage errors, --help, exit codes, Ctrl-C at a prompt
        except Exception as error:  # the last resort: a bug, never a traceback by default
            if ctx.params.get("debug"):
                raise
            text = str(error).splitlines()[0][:200] if str(error).strip() else ""
            click.echo(f"maild: internal error: {type(error).__name__}: {for_terminal(text)} "
                       "(rerun with --debug for the traceback)", err=True)
            raise click.exceptions.Exit(1) from None


@click.group(cls=MaildGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="maild")
@click.option("--home", type=click.Path(file_okay=False), envvar=None,
              help="Directory holding config.toml, the database and logs "
                   "(default: $MAILD_HOME, else the platform's user config directory).")
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for debug).")
@click.option("--debug", is_flag=True, hidden=True, help="Show tracebacks instead of one line.")
@click.pass_context
def cli(ctx: click.Context, home: str | None, verbose: int, debug: bool) -> None:
    """maild keeps track of your emails to busy mentors.

    It watches your mailbox, notices replies, and prepares each follow-up as a draft
    that you approve before it is sent. Start with `maild init`, or try `maild demo`.

    Environment: MAILD_HOME (like --home), MAILD_NOW (ISO 8601 time with offset to use
    as "now", for scripting what happens on a given date).
    """
    logs.configure(verbose, os.environ)
    app = App.create(home, os.environ)
    ctx.obj = app
    ctx.call_on_close(app.close)


# Every command: its name and where it lives ("module:object"). Adding a command is one
# line here. Modules are imported only when their command runs, so `maild status` does
# not pay for the daemon's imports (apscheduler, aiosmtplib...).
COMMANDS: dict[str, str] = {
    "init": "maild.cli.init_cmd:init_command",
    "config": "maild.cli.config_cmd:config_group",
    "doctor": "maild.cli.doctor_cmd:doctor_command",
    "mentor": "maild.cli.mentor_cmd:mentor_group",
    "application": "maild.cli.mentor_cmd:application_group",
    "ask": "maild.cli.ask_cmd:ask_group",
    "status": "maild.cli.ask_cmd:status_command",
    "timeline": "maild.cli.ask_cmd:timeline_command",
    "drafts": "maild.cli.draft_cmd:drafts_command",
    "draft": "maild.cli.draft_cmd:draft_group",
    "approve": "maild.cli.draft_cmd:approve_command",
    "reject": "maild.cli.draft_cmd:reject_command",
    "snooze": "maild.cli.draft_cmd:snooze_command",
    "template": "maild.cli.template_cmd:template_group",
    "inspect": "maild.cli.inspect_cmd:inspect_command",
    "run": "maild.cli.run_cmd:run_command",
    "service": "maild.cli.service_cmd:service_group",
    "auth": "maild.cli.auth_cmd:auth_group",
    "demo": "maild.cli.demo_cmd:demo_command",
}


def main() -> None:
    cli(prog_name="maild")
