"""``maild --help`` lists the commands from the registry, without importing them: the
registry's summaries must say what the commands' own help says."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys

import click

from maild.cli import COMMANDS


def test_the_registry_summaries_are_the_commands_own() -> None:
    for name, spec in COMMANDS.items():
        module, _, attr = spec.where.partition(":")
        command = getattr(importlib.import_module(module), attr)
        assert isinstance(command, click.Command) and command.name == name
        first = inspect.cleandoc(command.help or "").split("\n\n")[0].replace("\n", " ")
        assert spec.summary == first, name


def test_help_imports_no_command_module() -> None:
    code = ("import sys, runpy\n"
            "sys.argv = ['maild', '--help']\n"
            "try:\n    runpy.run_module('maild', run_name='__main__')\n"
            "except SystemExit:\n    pass\n"
            "print(' '.join(sorted(m for m in sys.modules if m.startswith('maild'))),"
            " file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    loaded = set(done.stderr.split())
    assert "Today: what is overdue or due" in done.stdout
    assert not {m for m in loaded if m.endswith("_cmd")}, loaded
    assert not loaded & {"maild.store", "maild.config", "maild.app", "maild.runtime"}
