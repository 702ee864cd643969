"""The ``maild`` command line: a thin click layer over maild's services.

Every ``MaildError`` raised below a command becomes one line on stderr and the error's
exit code; any other exception (a bug) becomes one "internal error" line and exit code 1.
A traceback only ever reaches the user with ``--debug``. Output into a closed pipe ends
the command quietly (exit code 1), as click does.
"""

from __future__ import annotations

import importlib
import os
from typing import Any, NamedTuple

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
        module_name, _, attr = spec.where.partition(":")
        command = getattr(importlib.import_module(module_name), attr)
        assert isinstance(command, click.Command) and command.name == cmd_name, spec
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of ``maild --help`` from the registry, without importing
        every command's module (and the daemon's, the demo's... libraries with it)."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(n) for n in names)
        # Shortened as click shortens a command's own help.
        rows = [(n, click.Command(n, help=COMMANDS[n].summary).get_short_help_str(limit))
                for n in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MaildError as error:
            if ctx.params.get("debug"):
                raise
            raise Failure(error) from None
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise  # click's own: usage errors, --help, exit codes, Ctrl-C at a prompt
        except BrokenPipeError:
            # The reader went away (`maild ask list | head -1`): click ends quietly.
            raise
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


class Spec(NamedTuple):
    where: str    # "module:object"
    summary: str  # the first paragraph of its help (tests keep the two in step)


# Every command: its name, where it lives, and what `maild --help` says of it. Adding
# a command is one line here. A module is imported only when its command runs, so
# `maild --help` and `maild status` do not pay for the daemon's or the demo's imports.
COMMANDS: dict[str, Spec] = {
    "init": Spec("maild.cli.init_cmd:init_command",
                 "Create config.toml: who you are and how to reach your mailbox."),
    "config": Spec("maild.cli.config_cmd:config_group",
                   "Show the configuration file and its location."),
    "doctor": Spec("maild.cli.doctor_cmd:doctor_command",
                   "Check config, passwords, IMAP, SMTP, clock, database and service."),
    "mentor": Spec("maild.cli.mentor_cmd:mentor_group",
                   "Your hit list: the mentors you may ask, ranked."),
    "application": Spec("maild.cli.mentor_cmd:application_group",
                        'Applications that need letters (e.g. "ERAS 2027 Internal Medicine").'),
    "ask": Spec("maild.cli.ask_cmd:ask_group",
                "Start asks (cold, warm, letter, meeting, update, thanks) and look at them."),
    "status": Spec("maild.cli.status_cmd:status_command",
                   "Today: what is overdue or due, drafts waiting, replies to read, letters, "
                   "what's next."),
    "timeline": Spec("maild.cli.status_cmd:timeline_command",
                     "One mentor's story: messages both ways with their words, and what "
                     "comes next."),
    "calendar": Spec("maild.cli.status_cmd:calendar_group",
                     "Deadlines, reminder dates, calls to make and meetings, for your "
                     "calendar app."),
    "ui": Spec("maild.cli.ui_cmd:ui_command",
               "Open maild's page in your browser: Today, drafts, mentors, applications."),
    "drafts": Spec("maild.cli.draft_cmd:drafts_command",
                   "List drafts waiting for your approval."),
    "draft": Spec("maild.cli.draft_cmd:draft_group", "Look at one draft."),
    "approve": Spec("maild.cli.draft_cmd:approve_command",
                    "Approve a draft: maild sends it in the mentor's next sending window."),
    "reject": Spec("maild.cli.draft_cmd:reject_command",
                   "Throw a draft away: its step is cancelled, nothing is sent."),
    "snooze": Spec("maild.cli.draft_cmd:snooze_command",
                   "Put a draft aside for a while (30m, 4h, 2d, 1w); it is not sent before "
                   "then."),
    "template": Spec("maild.cli.template_cmd:template_group",
                     "The email templates maild drafts from."),
    "inspect": Spec("maild.cli.inspect_cmd:inspect_command",
                    "Show how maild classifies saved messages (FILE may be '-' for stdin)."),
    "run": Spec("maild.cli.run_cmd:run_command",
                "Run the daemon in the foreground until stopped (Ctrl-C or SIGTERM)."),
    "service": Spec("maild.cli.service_cmd:service_group",
                    "Run maild in the background: a systemd user service (Linux) or launchd "
                    "agent (macOS)."),
    "auth": Spec("maild.cli.auth_cmd:auth_group",
                 "Passwords and sign-ins of your mail accounts (never printed)."),
    "demo": Spec("maild.cli.demo_cmd:demo_command",
                 "Run the whole loop against a throwaway local mailbox; no account needed."),
}


def main() -> None:
    cli(prog_name="maild")
