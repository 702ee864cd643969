"""``maild demo``: see the whole loop run against a local sandbox mailbox."""

from __future__ import annotations

import asyncio

import click

from maild import logs
from maild.cli.app import App, pass_app
from maild.runtime.demo import Demo


@click.command("demo")
@click.option("--speed", type=float, default=43_200.0, show_default=True,
              help="How much faster than real time maild's clock runs (43,200: a day "
                   "every 2 seconds).")
@pass_app
@click.pass_context
def demo_command(ctx: click.Context, app: App, speed: float) -> None:
    """Run the whole loop against a throwaway local mailbox; no account needed.

    Starts a private Dovecot IMAP server and SMTP server on 127.0.0.1, two mentors on a
    hit list, and the real daemon on a fast clock: cold emails go out, one mentor
    replies and the nudges stop, a meeting summary is prepared and sent, the silent
    mentor gets the day-5 nudge in the same thread. Nothing touches your real mail.
    """
    logs.configure(ctx.find_root().params.get("verbose", 0), app.env)
    click.echo("maild demo: the whole loop in a sandbox (nothing leaves this machine)\n")
    result = asyncio.run(Demo(click.echo, speed=speed).run())
    click.echo(f"\nDone in {result.seconds:.1f} s: {result.sent} emails delivered to the "
               "sandbox SMTP server.")
    click.echo("\nTo use maild with your own mailbox:\n"
               "  maild init                  # who you are, your mail provider\n"
               "  maild doctor                # check the connection\n"
               "  maild mentor import hit.csv # your hit list\n"
               "  maild ask cold \"Dr. Name\"   # start an ask; `maild drafts` to review\n"
               "  maild service install       # keep maild running in the background")
