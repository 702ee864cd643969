"""``maild run``: the daemon in the foreground (systemd and launchd run it like this)."""

from __future__ import annotations

import asyncio

import click

from maild import logs
from maild.cli.app import App, pass_app
from maild.clock import Clock
from maild.daemon import Daemon


@click.command("run")
@pass_app
@click.pass_context
def run_command(ctx: click.Context, app: App) -> None:
    """Run the daemon in the foreground until stopped (Ctrl-C or SIGTERM).

    It watches your mailbox, prepares drafts when steps come due, and sends what you
    approved inside each mentor's sending window. SIGHUP reloads config.toml. Only one
    daemon runs per home directory. Logs go to stderr (-v for more).
    """
    verbosity = ctx.find_root().params.get("verbose", 0)
    logs.configure(verbosity, app.env, daemon=True)
    app.config()  # a broken config is one clear line before anything starts
    daemon = Daemon(app.home, app.env, Clock.from_env(app.env, speed=1.0))
    raise SystemExit(asyncio.run(daemon.run()))
