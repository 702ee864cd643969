"""``maild ui``: open the local web page, serving it here when no daemon does."""

from __future__ import annotations

import logging
import sys
import webbrowser

import click

from maild.cli.app import App, pass_app
from maild.clock import Clock

log = logging.getLogger(__name__)


@click.command("ui")
@click.option("--print-url", is_flag=True,
              help="Print the page's address (with its one-time login token) as one line "
                   "and open no browser; for scripts.")
@pass_app
def ui_command(app: App, print_url: bool) -> None:
    """Open maild's page in your browser: Today, drafts, mentors, applications.

    The page is served on 127.0.0.1 only, on the port of `[ui] port` in config.toml.
    When the daemon runs (`maild run` or the service), it serves the page and this
    command opens it. Otherwise this command serves it itself until Ctrl-C; approved
    drafts are then sent once the daemon runs.

    Each address this command gives logs you in once, within 10 minutes; after that
    the browser stays logged in for 12 hours. Run `maild ui` again for a new one.
    """
    from maild.web.access import Access, find_served, login_url
    from maild.web.pages import Site, create_app
    from maild.web.server import announced, bind, serve_foreground

    home = app.home
    config = app.config()
    app.now()  # a bad MAILD_NOW is one line here, before anything is served
    app.store()  # creates and migrates the database before the first request
    access = Access(home)
    served = find_served(home)
    if served is not None:
        url = login_url(served.url, access.issue_token())
        _show(url, print_url, f"the page is served by the {served.by} (pid {served.pid})")
        return
    sock = bind(config.ui.port)
    # Like the daemon's: MAILD_NOW is the starting instant of a clock that runs on.
    clock = Clock.from_env(app.env, speed=1.0)
    site = Site(home=home, now=clock.now, served_by="maild ui", access=access)
    with announced(home, sock, "maild ui") as here:
        url = login_url(here.url, access.issue_token())
        _show(url, print_url, "no daemon runs, so this command serves the page until "
              "Ctrl-C (approved drafts go out once `maild run` runs)")
        serve_foreground(create_app(site), sock)


def _show(url: str, print_url: bool, how: str) -> None:
    if print_url:
        click.echo(url)
        sys.stdout.flush()
        return
    click.echo(f"maild's page: {url}", err=True)
    click.echo(f"({how})", err=True)
    if not webbrowser.open(url):
        click.echo("No browser could be opened here: open the address above yourself.",
                   err=True)
