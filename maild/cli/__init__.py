"""The ``maild`` command line: a thin click layer over maild's services.

Every ``MaildError`` raised below a command becomes one line on stderr and the error's
exit code; a traceback only ever reaches the user with ``--debug``.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from typing import Any

import click

from maild import __version__
from maild.cli.app import App
from maild.errors import MaildError


class Failure(click.ClickException):
    """A MaildError dressed for click: one line, the error's own exit code."""

    def __init__(self, error: MaildError) -> None:
        super().__init__(error.message.splitlines()[0] if error.message else type(error).__name__)
        self.exit_code = error.exit_code  # type: ignore[misc]  # per-error, not per-class

    def show(self, file: Any = None) -> None:
        click.echo(f"maild: error: {self.format_message()}", err=True)


class MaildGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MaildError as error:
            if ctx.params.get("debug"):
                raise
            raise Failure(error) from None


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
    level = logging.WARNING - 10 * verbose
    logging.basicConfig(level=max(level, logging.DEBUG), stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    app = App.create(home, os.environ)
    ctx.obj = app
    ctx.call_on_close(app.close)


# Every command, as "module:object". Adding a command is one line here.
COMMANDS: tuple[str, ...] = (
    "maild.cli.init_cmd:init_command",
    "maild.cli.config_cmd:config_group",
    "maild.cli.mentor_cmd:mentor_group",
    "maild.cli.mentor_cmd:application_group",
    "maild.cli.service_cmd:service_group",
    "maild.cli.auth_cmd:auth_group",
    "maild.cli.ask_cmd:ask_group",
    "maild.cli.ask_cmd:status_command",
    "maild.cli.ask_cmd:timeline_command",
    "maild.cli.draft_cmd:drafts_command",
    "maild.cli.draft_cmd:draft_group",
    "maild.cli.draft_cmd:approve_command",
    "maild.cli.draft_cmd:reject_command",
    "maild.cli.draft_cmd:snooze_command",
    "maild.cli.template_cmd:template_group",
    "maild.cli.inspect_cmd:inspect_command",
    "maild.cli.doctor_cmd:doctor_command",
    "maild.cli.run_cmd:run_command",
    "maild.cli.demo_cmd:demo_command",
)


def _register() -> None:
    for spec in COMMANDS:
        module_name, _, attr = spec.partition(":")
        module = importlib.import_module(module_name)
        cli.add_command(getattr(module, attr))


_register()


def main() -> None:
    cli(prog_name="maild")
