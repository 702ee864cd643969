"""``maild run``: the daemon in the foreground (systemd and launchd run it like this)."""

from __future__ import annotations

import asyncio

import click

from maild import logs
from maild.cli.app import App, pass_app
from maild.clock import Clock
from maild.runtime.daemon import Daemon


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
    # A broken config or MAILD_NOW is one clear line before anything starts.
    app.config()
    start = app.now()
    clock = Clock.starting_at(start) if app.clock.is_virtual else Clock()
    daemon = Daemon(app.home, app.env, clock)
    raise SystemExit(asyncio.run(daemon.run()))
