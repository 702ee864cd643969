"""A JSON array written as its items are produced, for the listing commands.

The output is the same text ``json.dumps(items, indent=2)`` gives, but the first item
is on its way before the last is read: a big store's listing neither waits nor holds
every item in memory.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import click


def echo_array(items: Iterable[Any]) -> None:
    opened = False
    for item in items:
        text = json.dumps(item, indent=2)
        click.echo(("[\n" if not opened else ",\n") + "  " + text.replace("\n", "\n  "),
                   nl=False)
        opened = True
    click.echo("\n]" if opened else "[]")
