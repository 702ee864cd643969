"""``maild template``: list, show, edit and check the email templates.

A thin layer over :mod:`maild.adapters.templates`; the user's overrides live in
``<home>/templates``.
"""

from __future__ import annotations

import json
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from maild.adapters.templates import (
    Problem,
    TemplateSet,
    describe_user_field,
    normalize_name,
    sample_context,
)
from maild.cli.app import App, pass_app
from maild.cli.terminal import for_terminal
from maild.errors import MaildError


class _TemplateGroup(click.Group):
    """Turns a MaildError into one line on stderr and its exit code, also when used alone."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MaildError as error:
            click.echo(f"maild: error: {for_terminal(error.message.splitlines()[0])}", err=True)
            ctx.exit(error.exit_code)


def _subject_source(templates: TemplateSet, name: str) -> str:
    for line in templates.source(name).splitlines():
        if line.lower().startswith("subject:"):
            return line.split(":", 1)[1].strip()
    return ""


@click.group("template", cls=_TemplateGroup)
def template_group() -> None:
    """The email templates maild drafts from.

    Every template has a default; put a file of the same name in HOME/templates to
    override it (`maild template edit NAME` does that for you).
    """


@template_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per template.")
@pass_app
def list_command(app: App, as_json: bool) -> None:
    """List the templates: name, where it comes from (default/override) and subject."""
    templates = TemplateSet.for_home(app.home)
    rows = []
    for name in templates.names(partials=True):
        info = templates.info(name)
        subject = "" if name.startswith("_") else _subject_source(templates, name)
        rows.append({"name": name, "source": info.source, "path": info.path, "subject": subject})
    if as_json:
        for row in rows:
            click.echo(json.dumps(row))
        return
    table = Table("name", "source", "subject")
    for row in rows:
        table.add_row(row["name"], row["source"], escape(row["subject"] or "(partial)"))
    app.console.print(table)


@template_group.command("show")
@click.argument("name")
@click.option("--sample", is_flag=True,
              help="Render it with the sample context instead of printing its source.")
@click.option("--json", "as_json", is_flag=True,
              help="Print a JSON object: name, source, path, text, user_fields.")
@pass_app
def show_command(app: App, name: str, sample: bool, as_json: bool) -> None:
    """Show the template NAME (e.g. cold_initial) as maild will use it."""
    templates = TemplateSet.for_home(app.home)
    info = templates.info(name)
    fields = templates.user_fields(info.name)
    text = templates.source(info.name)
    if sample:
        context = sample_context()
        rendered = templates.render(info.name, context.with_user(
            **{f: f"[{f}]" for f in fields if f not in context.user}))
        text = f"Subject: {rendered.subject}\n\n{rendered.body}"
    if as_json:
        click.echo(json.dumps({"name": info.name, "source": info.source, "path": info.path,
                               "text": text, "user_fields": list(fields)}))
        return
    click.echo(f"# {info.name} ({info.source}: {info.path})", err=True)
    for field in fields:
        click.echo(f"# you supply user.{field}: {describe_user_field(field)}", err=True)
    click.echo(text, nl=not text.endswith("\n"))


@template_group.command("edit")
@click.argument("name")
@pass_app
def edit_command(app: App, name: str) -> None:
    """Edit NAME in $EDITOR, copying the default into HOME/templates first if needed.

    The template is checked afterwards; problems are listed and the exit status is 1
    (the file is kept so you can fix it).
    """
    templates = TemplateSet.for_home(app.home)
    path = templates.ensure_override(normalize_name(name))
    click.edit(filename=str(path))
    # A partial can break the emails that include it, so everything is checked.
    problems = TemplateSet.for_home(app.home).check()
    _report(problems, path=str(path))


@template_group.command("check")
@pass_app
def check_command(app: App) -> None:
    """Render every template against a sample; list problems as FILE:LINE: PROBLEM.

    Exit status 0 when every template renders, 1 otherwise.
    """
    _report(TemplateSet.for_home(app.home).check())


def _report(problems: list[Problem], path: str | None = None) -> None:
    if not problems:
        click.echo("all templates render" if path is None else f"{path}: ok")
        return
    for problem in problems:
        click.echo(for_terminal(problem))
    raise click.exceptions.Exit(1)
