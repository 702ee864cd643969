"""``maild service install|uninstall|status``: maild as a systemd user service or launchd agent.

A thin layer over ``maild.runtime.service``: it decides whether MAILD_HOME is pinned (the user
chose --home or MAILD_HOME), prints plans for ``--dry-run``, and reports results.
"""

from __future__ import annotations

import json
from typing import cast

import click

from maild import paths
from maild.cli.app import App, pass_app
from maild.runtime import lock, service


def _installation(app: App, platform: str | None = None) -> service.Installation:
    ctx = click.get_current_context()
    root = ctx.find_root()
    # Pin the home only when the user chose one: the default must stay "wherever the
    # platform's config directory is", like a plain `maild run` would use.
    pinned = bool(root.params.get("home")) or bool(app.env.get(paths.HOME_ENV))
    return service.Installation.detect(
        app.home, pinned, app.env, platform=cast(service.Platform | None, platform))


def _show_plan(plan: service.Plan, heading: str) -> None:
    if plan.text is not None:
        click.echo(f"# {heading} {plan.path}:")
        click.echo(plan.text, nl=not plan.text.endswith("\n"))
    else:
        click.echo(f"# would remove {plan.path}")
        for leftover in plan.leftovers:
            click.echo(f"# would remove {leftover} (if present)")
    click.echo("# would run:")
    for step in plan.steps:
        suffix = "    # may fail harmlessly when not loaded" if step.may_fail else ""
        click.echo(f"{step.display()}{suffix}")


@click.group("service")
def service_group() -> None:
    """Run maild in the background: a systemd user service (Linux) or launchd agent (macOS).

    The service runs `maild run` with this installation's absolute paths; when you
    passed --home or set MAILD_HOME, that home is written into the service file.
    """


@service_group.command("install")
@click.option("--dry-run", is_flag=True,
              help="Print the file that would be written and the commands that would run; "
                   "change nothing.")
@click.option("--platform", type=click.Choice(service.PLATFORMS),
              help="Render for this platform instead of this machine's (only with --dry-run).")
@pass_app
def install_command(app: App, dry_run: bool, platform: str | None) -> None:
    """Write the service file, then enable and start the service.

    Linux: ~/.config/systemd/user/maild.service, `systemctl --user daemon-reload`,
    `enable`, `restart`. macOS: ~/Library/LaunchAgents/org.maild.maild.plist and
    `launchctl bootstrap gui/UID`. Running it again replaces the file and restarts maild.
    """
    if platform is not None and not dry_run:
        raise click.UsageError("--platform is only for --dry-run; install uses this machine's")
    inst = _installation(app, platform)
    plan = inst.install_plan()
    if dry_run:
        _show_plan(plan, "would write")
        for note in plan.advice:
            click.echo(f"# {note}")
        return
    service.carry_out(plan, log_dir=inst.log_dir if inst.platform == "macos" else None)
    click.echo(f"installed {plan.path} and started maild")
    for note in plan.advice:
        click.echo(note)


@service_group.command("uninstall")
@click.option("--dry-run", is_flag=True,
              help="Print what would be stopped and removed; change nothing.")
@pass_app
def uninstall_command(app: App, dry_run: bool) -> None:
    """Stop the service and remove its file (your config and database stay)."""
    inst = _installation(app)
    plan = inst.uninstall_plan()
    if dry_run:
        _show_plan(plan, "would remove")
        return
    existed = plan.path.exists()
    warnings = service.carry_out(plan)
    for warning in warnings:
        click.echo(f"note: {warning}", err=True)
    click.echo(f"removed {plan.path}" if existed else f"{plan.path} was not installed")


@service_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@pass_app
def status_command(app: App, as_json: bool) -> None:
    """Whether the service is installed and running, and whether a daemon holds this home."""
    inst = _installation(app)
    status = service.query_status(inst)
    pid = lock.running_pid(app.home)
    if as_json:
        click.echo(json.dumps({
            "platform": inst.platform,
            "installed": status.installed,
            "path": str(status.path),
            "state": status.state,
            "detail": status.detail,
            "daemon_pid": pid,
            "home": str(app.home),
        }))
        return
    click.echo(f"service file: {status.path} "
               f"({'installed' if status.installed else 'not installed'})")
    click.echo(f"service: {status.state}" + (f" ({status.detail})" if status.detail else ""))
    if pid is not None:
        click.echo(f"daemon: running for {app.home} (pid {pid})")
    else:
        click.echo(f"daemon: not running for {app.home}")
